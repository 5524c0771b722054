"""A def decorated again keeps its object (issue 10 point 3, issue 13
cause 29): when the decorator expression changed (`@times(2)` ->
`@times(3)`), a decorator was added or removed, or the definition of a
decorator the def names changed, and the decoration returns a wrapper, the
new wrapper's state moves onto the old wrapper object, which stays bound:
references taken before (`from m import f`, callback lists) run the new
body through the new decoration, as a fresh import's object does.  Each
scenario holds references the way programs do, reloads, and compares with
a fresh import of v2."""
import functools
import inspect

import hotswap
import pytest
from hs_helpers import fresh_import, one


TIMES = """
    import functools
    def times(k):
        def deco(fn):
            @functools.wraps(fn)
            def wrapper(*args):
                return ("times", k, fn(*args) * k)
            return wrapper
        return deco
    @times({k})
    def f(x):
        "doc {k}"
        return x + {a}
    HOOKS = [f]
"""


def test_factory_argument_changed_moves_the_new_wrapper_onto_the_old(sb):
    m = sb.load(TIMES.format(k=2, a=1))
    user = sb.importer(m, "f")
    held, inner = m.f, m.f.__wrapped__
    hooks = m.HOOKS
    report = sb.reload_clean(m, TIMES.format(k=3, a=10))
    assert one(report, "f").action == "updated"
    fresh = fresh_import(m)
    assert m.f is held and user.f is held and hooks[0] is held
    assert held(1) == user.f(1) == fresh.f(1) == ("times", 3, 33)
    # the new wrapper wraps the kept, patched function
    assert held.__wrapped__ is inner
    assert inner(1) == fresh.f.__wrapped__(1) == 11
    assert held.__doc__ == fresh.f.__doc__ == "doc 3"
    assert held.__name__ == "f"
    # a later body edit reaches the held wrapper and the inner function
    sb.reload(m, TIMES.format(k=3, a=100))
    assert m.f is held and held(1) == fresh_import(m).f(1) == ("times", 3,
                                                               303)
    assert inner(1) == 101


def test_unchanged_body_and_two_decorator_edits_in_a_row(sb):
    m = sb.load(TIMES.format(k=2, a=1))
    held = m.f
    for k in (3, 4):
        sb.reload_clean(m, TIMES.format(k=k, a=1))
        assert m.f is held and held(0) == fresh_import(m).f(0) == (
            "times", k, k)


DEFN = """
    import functools
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args):
            return {ret}
        return wrapper
    @deco
    def g(x):
        return ("g", x)
"""


@pytest.mark.parametrize("ret", [
    '("v2", fn(*args))',
    # a free variable the old wrapper does not have (closure grows)
    '("v2", extra, fn(*args))',
])
def test_decorator_definition_changed_keeps_the_wrapper(sb, ret):
    src = DEFN if "extra" not in ret else DEFN.replace(
        "def deco(fn):", "def deco(fn):\n        extra = 7")
    m = sb.load(DEFN.format(ret='("v1", fn(*args))'))
    held, inner = m.g, m.g.__wrapped__
    callbacks = [m.g]
    sb.reload_clean(m, src.format(ret=ret))
    fresh = fresh_import(m)
    assert m.g is held and callbacks[0] is held
    assert held(1) == fresh.g(1)
    assert held.__wrapped__ is inner


def test_free_variables_renamed_in_the_wrapper(sb):
    v1 = """
        def deco(fn):
            def wrapper(x):
                return ("w", fn(x))
            wrapper.inner = fn
            return wrapper
        @deco
        def h(x):
            return x
    """
    v2 = """
        def deco(func):
            tag = "t"
            def wrapper(x):
                return (tag, func(x))
            wrapper.inner = func
            return wrapper
        @deco
        def h(x):
            return x * 2
    """
    m = sb.load(v1)
    held, inner = m.h, m.h.inner
    sb.reload_clean(m, v2)
    assert m.h is held and held.inner is inner
    assert held(2) == fresh_import(m).h(2) == ("t", 4)
    assert held.__code__.co_freevars == ("func", "tag")


def test_decorator_added_and_removed(sb):
    plain = """
        import functools
        def deco(fn):
            @functools.wraps(fn)
            def wrapper(*a):
                return ("deco", fn(*a))
            return wrapper
        def f(x):
            return x + {a}
    """
    m = sb.load(plain.format(a=1))
    held = m.f
    sb.reload_clean(m, plain.format(a=2).replace(
        "    def f(x)", "    @deco\n        def f(x)"))
    assert m.f is held
    assert held(1) == fresh_import(m).f(1) == ("deco", 3)
    assert inspect.signature(held) == inspect.signature(fresh_import(m).f)
    # removed again: the held object runs the bare body
    sb.reload_clean(m, plain.format(a=3))
    assert m.f is held
    assert held(1) == fresh_import(m).f(1) == 4
    assert not hasattr(held, "__wrapped__")
    assert held.__name__ == "f"
    sb.reload(m, plain.format(a=4))
    assert m.f is held and held(1) == 5


def test_decorator_removed_from_a_wrapped_function(sb):
    v1 = """
        import functools
        def deco(fn):
            @functools.wraps(fn)
            def wrapper(*a):
                return ("deco", fn(*a))
            return wrapper
        @deco
        def f(x):
            return x
    """
    m = sb.load(v1)
    held, inner = m.f, m.f.__wrapped__
    sb.reload_clean(m, v1.replace("        @deco\n", "")
                         .replace("return x", "return -x"))
    assert m.f is held
    assert held(1) == fresh_import(m).f(1) == -1
    assert inner(1) == -1
    assert not hasattr(held, "__wrapped__")
    # later edits reach both
    sb.reload(m, v1.replace("        @deco\n", "")
                   .replace("return x", "return 9"))
    assert held(1) == inner(1) == 9


COMMAND = """
    class Command:
        {slots}
        def __init__(self, callback, name):
            self.callback = callback
            self.name = name
        def __call__(self, *a):
            return (self.name, self.callback(*a))
    def command(name):
        def deco(fn):
            return Command(fn, name)
        return deco
    @command("{name}")
    def cli(x):
        return x + {a}
"""


@pytest.mark.parametrize("slots", ["", '__slots__ = ("callback", "name")'])
def test_callable_object_decorator_state_moves(sb, slots):
    m = sb.load(COMMAND.format(slots=slots, name="a", a=1))
    user = sb.importer(m, "cli")
    held, inner = m.cli, m.cli.callback
    sb.reload_clean(m, COMMAND.format(slots=slots, name="b", a=2))
    fresh = fresh_import(m)
    assert m.cli is held and user.cli is held
    assert held(1) == fresh.cli(1) == ("b", 3)
    assert held.name == "b"
    assert held.callback is inner


def test_layers_keep_their_identity(sb):
    v = """
        import functools
        def outer(fn):
            @functools.wraps(fn)
            def o(*a):
                return ("outer", fn(*a))
            return o
        def mid(k):
            def deco(fn):
                @functools.wraps(fn)
                def m(*a):
                    return ("mid", k, fn(*a))
                return m
            return deco
        @outer
        @mid({k})
        def f(x):
            return x
    """
    m = sb.load(v.format(k=1))
    held = m.f
    middle = held.__wrapped__
    inner = middle.__wrapped__
    sb.reload_clean(m, v.format(k=2))
    assert m.f is held and held.__wrapped__ is middle
    assert middle.__wrapped__ is inner
    assert held(1) == fresh_import(m).f(1) == ("outer", ("mid", 2, 1))
    assert middle(1) == ("mid", 2, 1)


def test_decorator_that_raises_fails_the_batch_rolled_back(sb):
    m = sb.load(TIMES.format(k=2, a=1))
    held, inner = m.f, m.f.__wrapped__
    sb.update(m, TIMES.format(k="'x' + 1", a=5))
    with pytest.raises(hotswap.ReloadError):
        hotswap.reload(m)
    assert m.f is held and held.__wrapped__ is inner
    assert held(1) == ("times", 2, 4)


def test_failed_batch_rolls_the_moved_state_back(sb):
    m = sb.load(TIMES.format(k=2, a=1))
    held, inner = m.f, m.f.__wrapped__
    code, closure, doc = held.__code__, held.__closure__, held.__doc__
    sb.update(m, TIMES.format(k=3, a=1) + "\nBOOM = 1 / 0\n")
    with pytest.raises(hotswap.ReloadError):
        hotswap.reload(m)
    assert m.f is held and held.__code__ is code
    assert held.__closure__ == closure and held.__doc__ == doc == "doc 2"
    assert held.__wrapped__ is inner
    assert held(1) == ("times", 2, 4)
    # and the next valid batch applies
    sb.reload(m, TIMES.format(k=3, a=1))
    assert m.f is held and held(1) == ("times", 3, 6)


def test_another_kind_of_wrapper_is_still_hs102(sb):
    v1 = """
        import functools
        def deco(fn):
            @functools.wraps(fn)
            def wrapper(*a):
                return ("deco", fn(*a))
            return wrapper
        @deco
        def f(x):
            return x
    """
    m = sb.load(v1)
    held = m.f
    report = sb.reload(
        m, v1.replace("@deco", "@functools.lru_cache(maxsize=4)"))
    assert one(report, "f").code == "HS102"
    fresh = fresh_import(m)
    assert m.f is not held and m.f(1) == fresh.f(1) == 1
    assert held(1) == ("deco", 1)   # documented: the old decoration


def test_unchanged_decorator_is_not_run_again(sb):
    v = """
        CALLS = []
        def deco(fn):
            CALLS.append(fn.__name__)
            def wrapper(*a):
                return ("deco", fn(*a))
            return wrapper
        @deco
        def f(x):
            return x + {a}
    """
    m = sb.load(v.format(a=1))
    held, calls = m.f, m.CALLS
    sb.reload(m, v.format(a=2))
    assert m.f is held and held(1) == ("deco", 3)
    assert calls == ["f"]


def test_slotted_decorator_object_keeps_its_inner_layers(sb):
    # typing's `@_SpecialForm @_tp_cache(typed=True) def Literal`: a
    # slotted object holding a functools.wraps wrapper of the function
    v = """
        import functools
        def cache(fn):
            @functools.wraps(fn)
            def inner(*a):
                return ("cache{w}", fn(*a))
            return inner
        class Form:
            __slots__ = ("_name", "_getitem")
            def __init__(self, getitem):
                self._getitem = getitem
                self._name = getitem.__name__
            def __getitem__(self, p):
                return self._getitem(self, p)
        @Form
        @cache
        def Lit(self, p):
            return ("lit", p)
    """
    m = sb.load(v.format(w=1))
    held, mid = m.Lit, m.Lit._getitem
    inner = mid.__wrapped__
    sb.reload_clean(m, v.format(w=2))
    assert m.Lit is held and held._getitem is mid
    assert mid.__wrapped__ is inner
    assert held[3] == fresh_import(m).Lit[3] == ("cache2", ("lit", 3))


def test_unchanged_decorator_signature_or_doc_edit_is_hs105(sb):
    v = """
        import functools
        def deco(fn):
            @functools.wraps(fn)
            def w(*a):
                return fn(*a)
            w.argcount = fn.__code__.co_argcount
            return w
        @deco
        def f({params}):
            "{doc}"
            return {ret}
    """
    m = sb.load(v.format(params="x", doc="old", ret="x"))
    held = m.f
    # a body edit: nothing the decorator read changed, no code
    sb.reload_clean(m, v.format(params="x", doc="old", ret="x + 1"))
    # the docstring and the parameters changed: reported
    report = sb.reload(m, v.format(params="x, y=0", doc="new", ret="x + y"))
    entry = one(report, "f")
    assert (entry.action, entry.code) == ("updated", "HS105")
    assert m.f is held and held(1, 2) == fresh_import(m).f(1, 2) == 3
    # the documented difference: what the decorator copied at import
    assert held.__doc__ == "old" and held.argcount == 1
    assert fresh_import(m).f.__doc__ == "new"


def test_method_decorator_expression_changed_keeps_the_member(sb):
    v = """
        import functools
        def times(k):
            def deco(fn):
                @functools.wraps(fn)
                def wrapper(self, *a):
                    return ("times", k, fn(self, *a) * k)
                return wrapper
            return deco
        class C:
            @times({k})
            def m(self, x):
                return x + {a}
    """
    m = sb.load(v.format(k=2, a=1))
    member, inner = m.C.__dict__["m"], m.C.__dict__["m"].__wrapped__
    bound = m.C().m
    sb.reload_clean(m, v.format(k=3, a=2))
    assert m.C.__dict__["m"] is member and member.__wrapped__ is inner
    assert bound(1) == m.C().m(1) == fresh_import(m).C().m(1) == (
        "times", 3, 9)


METHOD_WRAPS = """
    import functools
    def deco(fn):
        @functools.wraps(fn)
        def w(self, *a):
            return fn(self, *a)
        w.argcount = fn.__code__.co_argcount
        return w
    class C:
        @deco
        def m(self, {params}):
            "{doc}"
            return {ret}
"""


def test_method_under_unchanged_decorator_doc_or_signature_edit_is_hs105(sb):
    m = sb.load(METHOD_WRAPS.format(params="x", doc="old", ret="x"))
    member = m.C.__dict__["m"]
    bound = m.C().m
    # a body edit: nothing the decorator read changed, no code
    sb.reload_clean(
        m, METHOD_WRAPS.format(params="x", doc="old", ret="x + 1"))
    assert bound(1) == fresh_import(m).C().m(1) == 2
    # the docstring alone changed: reported, naming the method
    report = sb.reload(
        m, METHOD_WRAPS.format(params="x", doc="new", ret="x + 1"))
    entry = one(report, "C.m")
    assert (entry.action, entry.code) == ("updated", "HS105"), str(report)
    assert m.C.__dict__["m"] is member and member.__doc__ == "old"
    assert fresh_import(m).C.m.__doc__ == "new"
    # the parameters changed: reported
    report = sb.reload(
        m, METHOD_WRAPS.format(params="x, y=0", doc="new", ret="x + y"))
    entry = one(report, "C.m")
    assert (entry.action, entry.code) == ("updated", "HS105"), str(report)
    assert m.C.__dict__["m"] is member
    assert bound(1, 2) == fresh_import(m).C().m(1, 2) == 3
    # the documented difference: what the decorator took at import
    assert member.argcount == 2 and fresh_import(m).C.m.argcount == 3
    # a body edit again: no code
    sb.reload_clean(
        m, METHOD_WRAPS.format(params="x, y=0", doc="new", ret="x + y + 1"))
    assert bound(1, 2) == fresh_import(m).C().m(1, 2) == 4


BUILTIN_WRAPPERS = """
    class C:
        @staticmethod
        def s({params}):
            "{doc}"
            return 1
        @classmethod
        def c(cls, {params}):
            "{doc}"
            return 2
        @property
        def p(self):
            "{doc}"
            return 3
        def plain(self, {params}):
            "{doc}"
            return 4
"""


@pytest.mark.parametrize("doc,params", [("new", "x"), ("old", "x, y=0"),
                                        ("new", "x, y=0")])
def test_builtin_method_wrappers_are_not_hs105(sb, doc, params):
    m = sb.load(BUILTIN_WRAPPERS.format(params="x", doc="old"))
    held = dict(m.C.__dict__)
    sb.reload_clean(m, BUILTIN_WRAPPERS.format(params=params, doc=doc))
    fresh = fresh_import(m)
    for name in ("s", "c", "p", "plain"):
        assert m.C.__dict__[name] is held[name]
        assert (getattr(m.C, name).__doc__ == getattr(fresh.C, name).__doc__
                == doc), name
        assert m.C.__dict__[name].__doc__ == fresh.C.__dict__[name].__doc__
    for name in ("s", "c", "plain"):
        assert (inspect.signature(getattr(m.C, name))
                == inspect.signature(getattr(fresh.C, name))), name


STACKED = """
    import functools
    def deco(fn):
        @functools.wraps(fn)
        def w(*a):
            return fn(*a)
        return w
    class C:
        @classmethod
        @deco
        def c(cls, x):
            "{doc}"
            return x + {a}
        @functools.lru_cache(maxsize=None)
        def cached(self, x):
            "{doc}"
            return x * {a}
"""


def test_wrapped_classmethod_and_lru_cache_method_doc_edit_is_hs105(sb):
    m = sb.load(STACKED.format(doc="old", a=1))
    held = dict(m.C.__dict__)
    sb.reload_clean(m, STACKED.format(doc="old", a=2))
    assert m.C.c(1) == fresh_import(m).C.c(1) == 3
    report = sb.reload(m, STACKED.format(doc="new", a=3))
    for name in ("C.c", "C.cached"):
        entry = one(report, name)
        assert (entry.action, entry.code) == ("updated", "HS105"), name
    for name in ("c", "cached"):
        assert m.C.__dict__[name] is held[name]
    fresh = fresh_import(m)
    assert m.C.c(1) == fresh.C.c(1) == 4
    assert m.C().cached(2) == fresh.C().cached(2) == 6
    # the wrappers' copies at import: the documented difference
    assert m.C.cached.__doc__ == "old" and fresh.C.cached.__doc__ == "new"


def test_staticmethod_classmethod_copied_annotations_follow(sb):
    # 3.10+: staticmethod and classmethod copy their function's
    # __annotations__ into their own __dict__ when made; the kept member
    # gets the new ones, as a fresh import's has them
    src = """
        class C:
            @staticmethod
            def s(x: $t) -> $t:
                return $v

            @classmethod
            def c(cls, x: $t) -> $t:
                return $v
    """
    m = sb.load(src, t="int", v="1")
    held_s, held_c = m.C.__dict__["s"], m.C.__dict__["c"]
    sb.reload(m, src, t="str", v="2")
    fresh = fresh_import(m)
    assert m.C.__dict__["s"] is held_s and m.C.__dict__["c"] is held_c
    for name in ("s", "c"):
        got = m.C.__dict__[name]
        want = fresh.C.__dict__[name]
        assert getattr(got, "__annotations__", None) == getattr(
            want, "__annotations__", None)
        assert getattr(m.C, name).__annotations__ == getattr(
            fresh.C, name).__annotations__
    assert m.C.s(0) == 2 and m.C.c(0) == 2
