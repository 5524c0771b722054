"""Module and class annotations follow the source as a fresh import gives
them: `__annotations__` (also when read and cached before the reload),
annotationlib's formats, typing.get_type_hints, dataclass fields, and the
line numbers of 3.14's `__annotate__` code after a pure move (cause 30 of
the swap harnesses).  3.14+ builds annotations lazily (PEP 649/749); the
scenarios that only exist there are skipped before."""
import sys
import typing

import pytest

import hotswap
from hs_helpers import fresh_import

py314 = pytest.mark.skipif(sys.version_info < (3, 14),
                           reason="3.14+: deferred annotations (PEP 649)")


def fresh(m):
    """A fresh import of m's current file (in sys.modules while it runs:
    dataclasses and get_type_hints look the module up)."""
    saved = sys.modules.get(m.__name__)
    try:
        return fresh_import(m)
    finally:
        sys.modules[m.__name__] = saved


def formats(obj):
    import annotationlib
    F = annotationlib.Format
    refs = annotationlib.get_annotations(obj, format=F.FORWARDREF)
    # a ForwardRef compares its owner too (the fresh module is another one)
    refs = {k: (("ref", v.__forward_arg__)
                if isinstance(v, annotationlib.ForwardRef) else v)
            for k, v in refs.items()}
    return annotationlib.get_annotations(obj, format=F.STRING), refs


def same_annotate(live, new):
    """3.14+: the live __annotate__ runs the code a fresh import made, at
    the same lines, and the set of annotations that ran is the same."""
    a, b = live.__annotate__.__code__, new.__annotate__.__code__
    assert a == b, (list(a.co_lines()), list(b.co_lines()))
    assert list(a.co_lines()) == list(b.co_lines())
    if isinstance(live, type(sys)):
        assert (live.__dict__.get("__conditional_annotations__")
                == new.__dict__.get("__conditional_annotations__"))


# -- module level -----------------------------------------------------------

@py314
def test_edited_and_added_after_a_cached_read(sb):
    src = """
        $ann
        def f():
            return $r
    """
    m = sb.load(src, ann="x: int = 1", r="1")
    f = m.f
    assert m.__annotations__ == {"x": int}  # cached in the module dict
    held = m.__annotate__
    sb.update(m, src, ann="x: str = 1\ny: float = 2", r="2")
    hotswap.reload(m)
    new = fresh(m)
    assert f() == 2
    assert m.__annotations__ == new.__annotations__ == {"x": str, "y": float}
    assert formats(m) == formats(new)
    assert typing.get_type_hints(m) == {"x": str, "y": float}
    assert m.__annotate__ is held  # identity kept, new code inside
    assert held(1) == {"x": str, "y": float}
    same_annotate(m, new)


@py314
def test_pure_move_shifts_annotate_lines(sb):
    # a def's own __annotate__ code is a constant of the module's code
    # too, named alike: the module's is the one reading the set
    src = """
        import sys
        $top
        def early(a: int) -> str:
            return ""
        x: int = 1
        if sys.version_info > (3,):
            y: "Later"
        class Later:
            pass
    """
    m = sb.load(src, top="")
    m.__annotations__
    ran = m.__conditional_annotations__
    sb.update(m, src, top="\n\n# three lines above now\n")
    report = hotswap.reload(m)
    assert "moved" in {e.action for e in report.entries}
    new = fresh(m)
    same_annotate(m, new)
    assert m.__annotations__ == new.__annotations__ == {"x": int,
                                                        "y": "Later"}
    assert m.__conditional_annotations__ is ran  # same contents: kept
    assert m.early.__annotations__ == {"a": int, "return": str}
    assert (m.early.__annotate__.__code__.co_firstlineno
            == new.early.__annotate__.__code__.co_firstlineno)


@py314
def test_branch_not_taken_stays_out(sb):
    # TYPE_CHECKING-style: an annotation whose branch did not run is not in
    # __annotations__; the reload must not add it, whichever statement runs
    src = """
        from typing import TYPE_CHECKING
        a: int = 1
        if TYPE_CHECKING:
            hidden: int
        $edit
        try:
            b: str = "x"
        finally:
            c: bytes = b""
        if $flag:
            d: float = 0.0
    """
    m = sb.load(src, edit="", flag="False")
    assert set(m.__annotations__) == {"a", "b", "c"}
    sb.update(m, src, edit="e: complex = 1j", flag="False")
    hotswap.reload(m)
    new = fresh(m)
    assert m.__annotations__ == new.__annotations__
    assert set(m.__annotations__) == {"a", "b", "c", "e"}
    same_annotate(m, new)
    # the `if` edited: it runs again, its branch now taken
    sb.update(m, src, edit="e: complex = 1j", flag="True")
    hotswap.reload(m)
    new = fresh(m)
    assert set(m.__annotations__) == {"a", "b", "c", "e", "d"}
    assert m.__annotations__ == new.__annotations__
    same_annotate(m, new)


@py314
def test_removed_annotations(sb):
    src = """
        x: int = 1
        $y
        def f():
            return 1
    """
    m = sb.load(src, y="y: float")
    assert m.__annotations__ == {"x": int, "y": float}
    sb.update(m, src, y="")
    hotswap.reload(m)
    assert m.__annotations__ == fresh(m).__annotations__ == {"x": int}
    # no annotation left: a fresh import has no __annotate__ at all
    sb.update(m, "x = 1\ndef f():\n    return 1\n")
    hotswap.reload(m)
    new = fresh(m)
    assert m.x == 1
    assert "__annotate__" not in vars(new)
    assert "__annotate__" not in vars(m)
    assert "__conditional_annotations__" not in vars(m)
    assert m.__annotations__ == {}


@py314
def test_first_annotation_in_a_module(sb):
    src = """
        def f():
            return 1
        $ann
    """
    m = sb.load(src, ann="")
    assert m.__annotations__ == {}
    sb.update(m, src, ann="limit: int = 3")
    hotswap.reload(m)
    new = fresh(m)
    assert m.limit == 3
    assert m.__annotations__ == new.__annotations__ == {"limit": int}
    same_annotate(m, new)


@py314
def test_forward_reference_not_evaluated_by_the_reload(sb):
    src = """
        x: $a = None
    """
    m = sb.load(src, a="int")
    m.__annotations__
    sb.update(m, src, a="Undefined")
    hotswap.reload(m)  # evaluates nothing: no NameError here
    assert formats(m) == formats(fresh(m))
    with pytest.raises(NameError):
        m.__annotations__
    m.Undefined = str
    assert m.__annotations__ == {"x": str}


@py314
def test_annotations_rolled_back_with_a_failed_batch(sb):
    src = """
        x: $a = 1
        $tail
    """
    m = sb.load(src, a="int", tail="")
    held = m.__annotations__
    code = m.__annotate__.__code__
    sb.update(m, src, a="str", tail="raise RuntimeError('no')")
    with pytest.raises(hotswap.ReloadError):
        hotswap.reload(m)
    assert m.__annotations__ is held
    assert m.__annotate__.__code__ is code
    assert m.__annotations__ == {"x": int}


@py314
def test_unrelated_edit_keeps_the_cache(sb):
    # a batch that touches no annotated statement leaves the annotations,
    # cached dict included, alone (no whole-file compile)
    src = """
        x: int = 1
        def f():
            return $r
    """
    m = sb.load(src, r="1")
    held = m.__annotations__
    sb.update(m, src, r="2")
    hotswap.reload(m)
    assert m.f() == 2
    assert m.__annotations__ is held


def test_module_annotations_every_version(sb):
    # what holds on every interpreter: an edited annotation of a module
    # whose annotations were not read before the reload
    src = """
        x: $a = 1
        def f():
            return 1
    """
    m = sb.load(src, a="int")
    sb.update(m, src, a="str")
    hotswap.reload(m)
    assert m.__annotations__ == fresh(m).__annotations__ == {"x": str}
    assert typing.get_type_hints(m) == {"x": str}


# -- classes ---------------------------------------------------------------

def test_class_annotations_pure_move_and_edit(sb):
    src = """
        $top
        from dataclasses import dataclass, fields

        class C:
            a: int
            def m(self):
                return 1

        @dataclass
        class D:
            x: int
            y: "C" = None

        class E:
            q: $q
    """
    m = sb.load(src, top="", q="int")
    d = m.D(1)
    m.E.__annotations__
    sb.update(m, src, top="\n\n\n", q="str")
    hotswap.reload(m)
    new = fresh(m)
    for name in "CDE":
        live, made = getattr(m, name), getattr(new, name)
        assert live.__annotations__ == made.__annotations__, name
        assert typing.get_type_hints(live) == {
            k: (getattr(m, v.__name__) if v.__module__ == m.__name__ else v)
            for k, v in typing.get_type_hints(made).items()}, name
        if sys.version_info >= (3, 14):
            same_annotate(live, made)
            assert formats(live) == formats(made), name
    assert [f.name for f in m.fields(m.D)] == ["x", "y"]
    assert d.y is None
    assert m.E.__annotations__ == {"q": str}


def test_dataclass_field_annotation_edited(sb):
    src = """
        from dataclasses import dataclass, fields

        @dataclass
        class P:
            x: $t
            y: int = 0
    """
    m = sb.load(src, t="int")
    p = m.P(1)
    sb.update(m, src, t="float")
    hotswap.reload(m)
    new = fresh(m)
    assert {f.name: f.type for f in m.fields(m.P)} == {
        f.name: f.type for f in new.fields(new.P)} == {"x": float, "y": int}
    assert m.P.__annotations__ == new.P.__annotations__
    assert p.x == 1


# -- functions -------------------------------------------------------------

def test_wrapped_def_inside_if_edited(sb):
    # click's raw_terminal: a @contextmanager def in each branch of an `if`.
    # 3.14's functools.wraps copies the def's __annotate__ onto the wrapper;
    # that function starts on the def's line too, but it is not what the
    # statement made: the def is patched in place, no HS101
    src = """
        import contextlib
        import typing as t
        WIN = False
        $top
        if WIN:
            @contextlib.contextmanager
            def raw_terminal() -> t.Iterator[int]:
                yield -1

        else:
            import os

            @contextlib.contextmanager
            def raw_terminal() -> t.Iterator[int]:
                $noop
                yield $v
    """
    m = sb.load(src, top="", noop="", v="1")
    held = m.raw_terminal
    inner = held.__wrapped__
    for top, noop, v in (("\n\n", "", "1"), ("\n\n", "_hs_noop_ = 0", "2"),
                         ("", "", "3")):
        sb.update(m, src, top=top, noop=noop, v=v)
        report = hotswap.reload(m)
        assert not {e.code for e in report.entries if e.code}, str(report)
        new = fresh(m)
        assert m.raw_terminal is held and held.__wrapped__ is inner
        with held() as got:
            assert got == int(v)
        a, b = inner.__code__, new.raw_terminal.__wrapped__.__code__
        assert a == b and a.co_firstlineno == b.co_firstlineno
        if sys.version_info >= (3, 14):
            assert held.__annotations__ == {"return": typing.Iterator[int]}
            assert (inner.__annotate__.__code__.co_firstlineno
                    == new.raw_terminal.__annotate__.__code__.co_firstlineno)


@py314
def test_class_annotate_held_follows_a_body_edit(sb):
    # click.types: a method of a class with field annotations edited and
    # lines added above; the class's __annotate__ function held before the
    # reload (typing, dataclasses and inspect hold it) runs the new one
    src = """
        $top
        class Opt:
            name: str
            if $cond:
                extra: int
            def show(self):
                return $r
    """
    m = sb.load(src, top="", cond="True", r="1")
    held = m.Opt.__annotate__
    for top, cond, r in (("\n\n", "True", "2"), ("", "False", "3")):
        sb.update(m, src, top=top, cond=cond, r=r)
        hotswap.reload(m)
        new = fresh(m)
        assert m.Opt.__annotate__ is held
        assert m.Opt().show() == int(r)
        same_annotate(m.Opt, new.Opt)
        assert m.Opt.__annotations__ == new.Opt.__annotations__
        assert held(1) == new.Opt.__annotations__


@py314
def test_namedtuple_annotate_stays_typings(sb):
    # pyparsing's DebugActions: NamedTupleMeta makes the class's
    # __annotate__ a closure of its own over the body's; a method edit
    # keeps typing's function, which now calls the body's new code
    src = """
        from typing import NamedTuple
        $top
        class Actions(NamedTuple):
            start: $t
            done: str = ""
            def first(self):
                return $r
    """
    m = sb.load(src, top="", t="int", r="1")
    held = m.Actions.__annotate__
    a = m.Actions(1)
    sb.update(m, src, top="\n\n", t="int", r="2")
    hotswap.reload(m)
    new = fresh(m)
    assert m.Actions.__annotate__ is held
    def body_annotate(cls):
        f = cls.__annotate__
        cells = dict(zip(f.__code__.co_freevars, f.__closure__ or ()))
        return cells["original_annotate"].cell_contents.__code__
    a_code, b_code = body_annotate(m.Actions), body_annotate(new.Actions)
    assert a_code == b_code
    assert list(a_code.co_lines()) == list(b_code.co_lines())
    assert a.first() == 2
    assert m.Actions.__annotations__ == new.Actions.__annotations__ == {
        "start": int, "done": str}
    assert typing.get_type_hints(m.Actions) == {"start": int, "done": str}


# -- classes made by a function (not annotations, found beside them) -------

def test_class_made_by_a_moved_function_keeps_its_line(sb):
    # dateutil.parser: `_timelex = __deprecate_private_class(_timelex)`;
    # the class statement runs inside the function, so the live classes
    # it made carry the body's first line (3.13+ __firstlineno__, what
    # inspect.getsource reads): it moves with the function
    src = """
        $top
        class _timelex:
            def split(self):
                return 1

        def __deprecate_private_class(c):
            class private_class(c):
                __doc__ = c.__doc__
                def __init__(self, *args, **kwargs):
                    $noop
                    super(private_class, self).__init__(*args, **kwargs)
            private_class.__name__ = c.__name__
            return private_class

        _timelex = __deprecate_private_class(_timelex)
    """
    m = sb.load(src, top="", noop="")
    held = m._timelex
    for top, noop in (("\n" * 7, ""), ("\n" * 7, "_hs_noop_ = 0"),
                      ("", "")):
        sb.update(m, src, top=top, noop=noop)
        hotswap.reload(m)
        new = fresh(m)
        assert m._timelex is held
        assert held().split() == 1
        assert (vars(held).get("__firstlineno__")
                == vars(new._timelex).get("__firstlineno__"))
        a, b = held.__init__.__code__, new._timelex.__init__.__code__
        assert a == b and a.co_firstlineno == b.co_firstlineno


@py314
@pytest.mark.parametrize("head", [
    '"""A module docstring\nover two lines."""\n',
    "#!/usr/bin/env python\n# comment\n\n@staticmethod\ndef deco(f): return f\n",
    "import os, \\\n    sys\n",
    "class First:\n    inner: int\n",
])
def test_annotate_code_as_fresh_whatever_the_first_statement(sb, head):
    # the module's __annotate__ starts at the first statement and its
    # positions span it: the statements between are left out of the
    # compile that makes it, that one is not
    src = head + """
def helper(a: int) -> int:
    return a
$top
total: int = 0
if total:
    skipped: str
$more
for _ in range(1):
    looped: float
"""
    m = sb.load(src, top="", more="")
    m.__annotations__
    for top, more in (("\n\n", ""), ("\n\n", "added: bytes = b''"),
                      ("", "")):
        sb.update(m, src, top=top, more=more)
        hotswap.reload(m)
        new = fresh(m)
        same_annotate(m, new)
        assert m.__annotations__ == new.__annotations__


def test_eager_module_annotations_removed_and_rolled_back(sb):
    src = """
        from __future__ import annotations
        x: $t = 1
        $more
    """
    m = sb.load(src, t="int", more="y: str = 'a'")
    sb.update(m, src, t="float", more="raise RuntimeError('no')")
    with pytest.raises(hotswap.ReloadError):
        hotswap.reload(m)
    assert m.__annotations__ == {"x": "int", "y": "str"}
    sb.update(m, src, t="int", more="")
    hotswap.reload(m)
    assert m.__annotations__ == fresh(m).__annotations__ == {"x": "int"}


# Eager module annotations (3.9-3.13; `from __future__ import annotations`
# on every version): the statements store into the module's dict, which is
# kept (a reference taken before sees the change), rolled back as a whole on
# a failed batch, and holds what a fresh import gives, in its order.
eager_future = pytest.mark.parametrize("future", [
    "from __future__ import annotations",
    pytest.param("", marks=pytest.mark.skipif(
        sys.version_info >= (3, 14), reason="3.14+: deferred (PEP 649)"))])


@eager_future
def test_eager_module_annotations_failed_apply_rolls_back(sb, future):
    """The batch fails in APPLY after this module's annotations were
    written (another module's metaclass refuses a new member): the dict is
    the old one again, same object, same entries, same order."""
    src = """
        $future
        a: int = 1
        $mid
        c: $t = 2
    """
    m = sb.load(src, future=future, mid="b: str = ''", t="int")
    held = m.__annotations__
    before = list(held.items())
    guard = """
        class Guarded(type):
            def __setattr__(cls, name, value):
                if name == "forbidden":
                    raise PermissionError("no new members")
                super().__setattr__(name, value)

        class C(metaclass=Guarded):
            $member
    """
    g = sb.load(guard, base="guard", member="pass")
    sb.update(m, src, future=future, mid="z: list = []", t="float")
    sb.update(g, guard, member="def forbidden(self): pass")
    with pytest.raises(hotswap.ReloadError):
        hotswap.reload(m, g)
    assert m.__annotations__ is held
    assert list(held.items()) == before
    assert not hasattr(m, "z")
    sb.update(g, guard, member="pass")
    hotswap.reload(m, g)
    assert m.__annotations__ is held
    assert list(held.items()) == list(fresh(m).__annotations__.items())
    assert list(held) == ["a", "z", "c"]


@eager_future
def test_eager_module_annotations_removed_added_and_ordered(sb, future):
    """A removed annotated statement's entry goes; an added one takes its
    place in statement order; an unannotated binding drops its entry; the
    program's own entry stays."""
    src = """
        $future
        a: int = 1
        $mid
        c: float = 3.0
        $tail
    """
    m = sb.load(src, future=future, mid="b: str = 'b'", tail="d: bytes")
    held = m.__annotations__
    held["extra"] = "mine"
    for mid, tail in (("", "d: bytes"), ("z: list = []", "d = b''"),
                      ("b: str = 'b'", "d: bytes")):
        sb.update(m, src, future=future, mid=mid, tail=tail)
        hotswap.reload(m)
        want = fresh(m).__annotations__
        assert m.__annotations__ is held
        assert list(held) == list(want) + ["extra"]
        assert {k: held[k] for k in want} == want
