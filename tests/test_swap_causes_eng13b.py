"""Causes found by the swap harnesses (issue 13, docs/reliability.md 2,
swapcheck.CAUSES numbering), one minimal scenario each: v1 on disk,
import, references held the way programs hold them, v2, reload, the
behaviour asserted and compared with a fresh import of v2."""
import sys

import hotswap
import pytest
from hs_helpers import fresh_import, line_of



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
    params = m.Box.__type_params__
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
        # the same header declares the same TypeVars: the live ones stay
        assert m.Box.__type_params__ is params
        assert [t.__name__ for t in params] \
            == [t.__name__ for t in fresh.Box.__type_params__]


# ------------- 19: a decorated def used by a re-run class statement --
SPECIAL = """
    class Special:
        def __init__(self, fn):
            self._fn = fn
        def __getitem__(self, item):
            return self._fn(self, item)

    @Special
    def Union(self, params):
        {stub}return ("union", params)

    class Base:
        pass

    class Uses(Base):
        def write(self, s: Union[bytes, bytearray]) -> int:
            {mstub}return {value}
"""


def test_class_rerun_sees_the_live_decorated_object(sb):
    """The class statement re-run for an edited method evaluates an
    annotation subscripting a decorator object (`typing.Union`, made by
    `@_SpecialForm def Union`) whose def was edited too: it sees the live
    decorated object, not the bare function staged without its decorators
    (typing's `class BinaryIO(IO[bytes])` failed with HS504)."""
    m = sb.load(SPECIAL.format(stub="", mstub="", value=1))
    union, uses = m.Union, m.Uses
    obj = uses()
    v2 = SPECIAL.format(stub="x = 0\n        ",
                        mstub="x = 0\n            ", value=2)
    sb.update(m, v2)
    assert hotswap.reload(m).ok
    fresh = fresh_import(m)
    assert m.Union is union and m.Uses is uses
    assert union[int] == fresh.Union[int] == ("union", int)
    assert obj.write(b"") == fresh.Uses().write(b"") == 2
    assert uses.write.__annotations__["s"] == ("union", (bytes, bytearray))
    assert union._fn.__code__.co_firstlineno \
        == fresh.Union._fn.__code__.co_firstlineno


# ---------- 14: a metaclass that tells the first class by its bases --
ROOT_META = """
    Root = None

    class Meta(type):
        @classmethod
        def __prepare__(mcls, name, bases, **kwds):
            if not bases:
                # the root class itself (enum's `class Enum(metaclass=
                # EnumType)`, which sees `Enum = None` the first time)
                return {{"_root_seen": Root}}
            if not isinstance(bases[-1], Meta):
                raise TypeError("new classes derive from Root")
            return {{}}

    class Root(metaclass=Meta):
        def f(self):
            {stub}return {value}

    class Child(Root):
        def g(self):
            {stub}return {value} * 10
"""


def test_root_class_of_a_metaclass_rerun_with_empty_bases(sb):
    m = sb.load(ROOT_META.format(stub="", value=1))
    root, child = m.Root, m.Child
    r, c = root(), child()
    v2 = ROOT_META.format(stub="x = 0\n            ", value=2)
    sb.update(m, v2)
    assert hotswap.reload(m).ok
    fresh = fresh_import(m)
    assert m.Root is root and m.Child is child
    assert r.f() == fresh.Root().f() == 2
    assert c.g() == fresh.Child().g() == 20
    assert root.__bases__ == fresh.Root.__bases__ == (object,)


# ----- staged statements see what the module binds (14's enum, after it) --
LATER_BINDER = """
    class _null:
        def __repr__(self):
            {stub}return "null{value}"
    _null = _null()

    class Auto:
        def __init__(self, value=_null):
            {stub}self.value = value
"""


def test_class_rebound_by_a_later_statement_seen_by_staged_defaults(sb):
    """`class _null` then `_null = _null()` (enum's `_auto_null`): a
    re-run class statement binds the class while staging, but a default
    evaluated by a later staged def must be the instance the module
    binds, as in a fresh import."""
    m = sb.load(LATER_BINDER.format(stub="", value=1))
    null, auto = m._null, m.Auto
    v2 = LATER_BINDER.format(stub="x = 0\n            ", value=2)
    sb.update(m, v2)
    assert hotswap.reload(m).ok
    fresh = fresh_import(m)
    assert m._null is null and m.Auto is auto
    assert auto.__init__.__defaults__[0] is null
    assert type(fresh.Auto.__init__.__defaults__[0]) is type(fresh._null)
    assert repr(auto().value) == repr(fresh.Auto().value) == "null2"


ENUM_DESCRIPTOR = """
    import enum
    import types

    class Color(enum.Enum):
        RED = 1
        GREEN = 2

        @types.DynamicClassAttribute
        def label(self):
            {stub}return "{value}" + self.name
"""


def test_enum_descriptor_over_a_def_updated(sb):
    """A descriptor made from a def in an enum body (enum.property over
    `def name`/`def value` in enum itself, DynamicClassAttribute) is not
    a would-be member: its function takes the edit."""
    m = sb.load(ENUM_DESCRIPTOR.format(stub="", value="a"))
    color, red = m.Color, m.Color.RED
    prop = vars(color)["label"]
    v2 = ENUM_DESCRIPTOR.format(stub="x = 0\n            ", value="b")
    sb.update(m, v2)
    assert hotswap.reload(m).ok
    fresh = fresh_import(m)
    assert m.Color is color and m.Color.RED is red
    assert vars(color)["label"] is prop
    assert red.label == fresh.Color.RED.label == "bRED"
    assert prop.fget.__code__.co_firstlineno \
        == vars(fresh.Color)["label"].fget.__code__.co_firstlineno


# -------- 24: a class body's __firstlineno__ constant (3.13+) moves --
NESTED_CLASS = """
    {pad}import typing

    def sniff():
        class dialect:
            delimiter = ","
        return dialect

    class Output(typing.NamedTuple):
        data: int
        flags: int
"""


@pytest.mark.skipif(sys.version_info < (3, 13),
                    reason="__firstlineno__ is 3.13+")
@pytest.mark.parametrize("pad", [3, 300])
def test_nested_class_firstlineno_moves(sb, pad):
    """A class made by a moved function (csv's Sniffer.sniff) stores the
    new first line, as a fresh import's does; below and above line 256
    (3.14's LOAD_SMALL_INT)."""
    m = sb.load(NESTED_CLASS.format(pad="# pad\n    " * pad))
    sniff = m.sniff
    v2 = NESTED_CLASS.format(pad="# pad\n    " * (pad + 7))
    sb.update(m, v2)
    assert hotswap.reload(m).ok
    fresh = fresh_import(m)
    assert m.sniff is sniff
    assert sniff().__firstlineno__ == fresh.sniff().__firstlineno__ \
        == line_of(v2, "class dialect")
    assert m.Output.__firstlineno__ == fresh.Output.__firstlineno__


@pytest.mark.skipif(sys.version_info < (3, 13),
                    reason="__firstlineno__ is 3.13+")
def test_class_with_rewritten_module_gets_no_firstlineno(sb):
    """`C.__module__ = ...` drops the class's __firstlineno__ (3.13+,
    tomllib's TOMLDecodeError): an edited method does not bring it back."""
    src = """
        class Error(ValueError):
            def __init__(self, msg):
                {stub}super().__init__(msg * {value})

        Error.__module__ = "elsewhere"
    """
    m = sb.load(src.format(stub="", value=1))
    err = m.Error
    sb.update(m, src.format(stub="x = 0\n                ", value=2))
    assert hotswap.reload(m).ok
    fresh = fresh_import(m)
    assert m.Error is err and str(err("a")) == str(fresh.Error("a")) == "aa"
    assert "__firstlineno__" not in vars(fresh.Error)
    assert "__firstlineno__" not in vars(err)


# ---------------- 17: a module that rewrites its __file__ at import --
MIRROR_INIT = '''
    {pad}"""mirror: the names of $orig under another package name."""

    from . import _build
'''

MIRROR_BUILD = """
    import sys
    import $orig as orig
    mod = sys.modules[__name__.rpartition(".")[0]]
    mod.__dict__.update({k: v for k, v in vars(orig).items()
                         if not k.startswith("__")})
    mod.__file__ = orig.__file__      # "show it during introspection"
"""

ORIG = """
    {pad}def f():
        return 1
"""


def test_module_with_rewritten_file_reloaded_from_its_own_source(sb):
    """toolz's `tlz` sets its __file__ to toolz's __init__.py at import:
    reloading it reads the file its loader ran (spec.origin) and compares
    it with that file's snapshot; its own names stay, the mirrored ones are
    the original module's."""
    orig = sb.load(ORIG.format(pad=""), "orig")
    names = {"orig": orig.__name__}
    mirror_name = sb.name("mirror")
    sb.write(mirror_name + "._build", MIRROR_BUILD, **names)
    mirror = sb.load(MIRROR_INIT.format(pad=""), "mirror", package=True,
                     **names)
    f = orig.f
    assert mirror.__file__ == orig.__file__ and mirror.f is f
    sb.update(orig, ORIG.format(pad="# pad\n    # pad\n    "))
    sb.write(mirror_name, MIRROR_INIT.format(pad="# pad\n    # pad\n    "),
             package=True, **names)
    assert hotswap.reload(orig, mirror).ok
    assert mirror.__doc__.startswith("mirror:")
    assert mirror._build is sys.modules[mirror_name + "._build"]
    assert mirror.f is f and orig.f is f
    assert f.__code__.co_firstlineno == 3 \
        == fresh_import(orig).f.__code__.co_firstlineno


# ------- 4: a def taken out of its class, its function held by another --
STATS = """
    class _StatsProperty:
        def __init__(self, name, func):
            self.name = name
            self.func = func

        def __get__(self, obj, objtype=None):
            if obj is None:
                return self
            return self.func(obj)

    class Stats:
        def _calc_iqr(self):
            {stub}return {value}
        iqr = _StatsProperty("iqr", _calc_iqr)

    delattr(Stats, "_calc_iqr")
"""


def test_def_taken_out_of_its_class_patched_where_it_lives(sb):
    """boltons' Stats: `iqr = _StatsProperty('iqr', _calc_iqr)`, then
    `delattr(Stats, '_calc_iqr')` after the class: the edited def patches
    the function the property holds, and stays out of the class."""
    m = sb.load(STATS.format(stub="", value=1))
    prop = vars(m.Stats)["iqr"]
    func = prop.func
    v2 = STATS.format(stub="x = 0\n            ", value=2)
    sb.update(m, v2)
    assert hotswap.reload(m).ok
    fresh = fresh_import(m)
    assert vars(m.Stats)["iqr"] is prop and prop.func is func
    assert m.Stats().iqr == fresh.Stats().iqr == 2
    assert "_calc_iqr" not in vars(m.Stats)
    assert "_calc_iqr" not in vars(fresh.Stats)
    assert func.__code__.co_firstlineno \
        == vars(fresh.Stats)["iqr"].func.__code__.co_firstlineno


# wrapt on 3.13+ (issue 13, cause 24): a metaclass copies another class's
# __firstlineno__ into every class it makes (wrapt's _ObjectProxyMetaType
# copies _ObjectProxyMethods'); a fresh import gives the copied class's
# line, moved or not, edited or not.
@pytest.mark.skipif(sys.version_info < (3, 13),
                    reason="3.13+: classes store __firstlineno__")
def test_copied_class_firstlineno_follows_its_class(sb):
    src = """
        $top
        class _Methods(object):
            @property
            def describe(self):
                return $desc

        class _Meta(type):
            def __new__(cls, name, bases, dictionary):
                for k in ("__firstlineno__", "describe"):
                    dictionary[k] = vars(_Methods)[k]
                return type.__new__(cls, name, bases, dictionary)

        class Proxy(metaclass=_Meta):
            def get(self):
                return $ret

        class Sub(Proxy):
            pass
    """
    m = sb.load(src, top="", desc="'d1'", ret="1")
    held, sub, inst = m.Proxy, m.Sub, m.Sub()
    assert held.__firstlineno__ == m._Methods.__firstlineno__
    # a shift; a body edit of the proxy class (run again) with a shift;
    # the copied-from class edited; back
    for top, desc, ret in (("\n\n\n", "'d1'", "1"), ("", "'d1'", "2"),
                           ("\n", "'d2'", "2"), ("", "'d1'", "1")):
        sb.update(m, src, top=top, desc=desc, ret=ret)
        hotswap.reload(m)
        new = fresh_import(m)
        assert m.Proxy is held and m.Sub is sub
        for name in ("_Methods", "_Meta", "Proxy", "Sub"):
            assert (getattr(m, name).__firstlineno__
                    == getattr(new, name).__firstlineno__), (top, ret, name)
        assert held.__firstlineno__ == new._Methods.__firstlineno__
        assert inst.get() == new.Sub().get()
        assert inst.describe == new.Sub().describe
