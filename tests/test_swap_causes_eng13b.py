"""Causes found by the swap harnesses (issue 13, docs/reliability.md 2,
swapcheck.CAUSES numbering), one minimal scenario each: v1 on disk,
import, references held the way programs hold them, v2, reload, the
behaviour asserted and compared with a fresh import of v2."""
import importlib.util
import sys

import hotswap
import pytest
from hs_helpers import line_of


def fresh_import(module):
    """A fresh import of the module's current file: a new module object of
    the same name and package, not put in sys.modules."""
    spec = importlib.util.spec_from_file_location(module.__name__,
                                                  module.__file__)
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    return fresh


# ------------------------------------- 21: several defs of one name --
OVERLOADS = """
    {pad}import typing as t

    @t.overload
    def get(silent: t.Literal[False] = False) -> int:
        {stub}...

    @t.overload
    def get(silent: bool = ...) -> t.Optional[int]:
        {stub}...

    def get(silent=False):
        {stub}return {value}
"""


def overloads(pad="", stub="", value=1):
    return OVERLOADS.format(pad=pad, stub=stub, value=value)


def test_overload_stubs_and_implementation_edited_together(sb):
    m = sb.load(overloads())
    get = m.get
    from_import = sb.importer(m, "get")
    v2 = overloads(stub="x = 0\n        ", value=2)
    sb.update(m, v2)
    assert hotswap.reload(m).ok
    fresh = fresh_import(m)
    assert m.get is get and from_import.get is get
    assert get() == fresh.get() == 2
    assert get.__code__.co_firstlineno == fresh.get.__code__.co_firstlineno \
        == line_of(v2, "def get(silent=False)")


def test_overload_implementation_moved_once(sb):
    """A pure shift moves the implementation once (cause 3 through
    cause 21: the stubs' statements matched the implementation's), and
    the revert brings it back."""
    m = sb.load(overloads())
    get = m.get
    first = get.__code__.co_firstlineno
    sb.update(m, overloads(pad="# pad\n    # pad\n\n    "))
    assert hotswap.reload(m).ok
    assert get.__code__.co_firstlineno == first + 3 \
        == fresh_import(m).get.__code__.co_firstlineno
    sb.update(m, overloads())
    assert hotswap.reload(m).ok
    assert get.__code__.co_firstlineno == first
    assert get() == 1


HELD_STUBS = """
    {pad}@reg
    def get(a):
        {stub}...
    @reg
    def get(a, b):
        {stub}...
    def get(*a):
        {stub}return {value}
"""


def test_held_stubs_moved_and_updated_with_the_implementation(sb):
    """The stubs kept by a registry (typing's overload registry) move with
    their statements and take their own new code; a stub whose new first
    line is the implementation's old one does not take the
    implementation's place (click's `group`)."""
    regname = sb.name("reg")
    sb.write(regname, "stubs = []\ndef reg(f):\n    stubs.append(f)\n")
    head = f"from {regname} import reg\n    "

    def src(pad="", stub="", value=1):
        return HELD_STUBS.format(pad=head + pad, stub=stub, value=value)

    m = sb.load(src())
    reg_e13b = sys.modules[regname]
    get, stubs = m.get, list(reg_e13b.stubs)
    assert len(stubs) == 2

    def check(v):
        fresh_stubs = len(reg_e13b.stubs)
        fresh = fresh_import(m)
        new = reg_e13b.stubs[fresh_stubs:]
        del reg_e13b.stubs[fresh_stubs:]
        assert m.get is get and get() == fresh.get()
        assert get.__code__.co_firstlineno == fresh.get.__code__.co_firstlineno
        for live, made in zip(stubs, new):
            assert live.__code__.co_firstlineno \
                == made.__code__.co_firstlineno
            assert live.__code__.co_code == made.__code__.co_code
        assert line_of(v, "def get(*a)") == get.__code__.co_firstlineno

    v2 = src(pad="# pad\n    # pad\n    ")
    sb.update(m, v2)
    assert hotswap.reload(m).ok
    check(v2)
    # the second stub's new first line is the implementation's old one
    v3 = src(pad="# pad\n    # pad\n    # pad\n    # pad\n    ",
             stub="x = 0\n        ", value=2)
    sb.update(m, v3)
    assert hotswap.reload(m).ok
    check(v3)
    assert get() == 2
    sb.update(m, src())
    assert hotswap.reload(m).ok
    check(src())
    assert get() == 1


# ------------------------------------------- 27: PEP 695 type params --
GENERIC = """
    {pad}def reveal[T](obj: T, /) -> T:
        {stub}return obj

    class Box[T]:
        def get(self) -> T:
            {mstub}return {value}

        def put[S](self, x: S) -> S:
            return x
"""


@pytest.mark.skipif(sys.version_info < (3, 12), reason="PEP 695: 3.12+")
def test_generic_functions_and_methods_moved_and_updated(sb):
    def src(pad="", stub="", value=1):
        return GENERIC.format(pad=pad, stub=stub, value=value,
                              mstub=stub and stub + "    ")

    m = sb.load(src())
    held = [m.reveal, m.Box.get, m.Box.put]
    box = m.Box()
    for v2 in (src(pad="# pad\n    # pad\n\n    "),
               src(pad="# pad\n    ", stub="x = 0\n        ", value=2),
               src()):
        sb.update(m, v2)
        assert hotswap.reload(m).ok
        fresh = fresh_import(m)
        for live, new in zip(held, [fresh.reveal, fresh.Box.get,
                                    fresh.Box.put]):
            assert live.__code__.co_firstlineno \
                == new.__code__.co_firstlineno, live
            assert live.__code__.co_code == new.__code__.co_code, live
            assert [t.__name__ for t in live.__type_params__] \
                == [t.__name__ for t in new.__type_params__]
        assert box.get() == fresh.Box().get()
        assert m.reveal is held[0] and m.Box.get is held[1]
