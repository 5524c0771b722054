"""Causes found by the swap harnesses (issue 13, swapcheck.CAUSES
numbering) taken by data13, one minimal scenario each: v1 on disk, import,
references held the way programs hold them, v2, reload, the behaviour
asserted and compared with a fresh import of v2."""
import json
import sys

import hotswap
import pytest
from hs_helpers import assert_as_fresh, fresh_import, line_of


# ------------------- 28: data inside an edited compound statement --
# six: `if PY3:` ... `byte2int = operator.itemgetter(0)` ... `def b(s):`;
# editing the def runs the `if` again; the unedited data stays.

IF_ELSE = """
    import operator
    PY3 = True
    if PY3:
        byte2int = operator.itemgetter(0)
        REGISTRY = []
        LIMIT = {limit}

        def edited():
            return {value}
    else:
        byte2int = ord
        REGISTRY = ()

        def edited():
            return -1
"""


def if_else(value=1, limit=10):
    return IF_ELSE.format(value=value, limit=limit)


def test_if_def_edited_next_to_data_keeps_the_data(sb):
    m = sb.load(if_else())
    b2i, reg, edited = m.byte2int, m.REGISTRY, m.edited
    reg.append("live")
    sb.update(m, if_else(value=2))
    report = hotswap.reload(m)
    assert report.ok
    fresh = fresh_import(m)
    assert m.byte2int is b2i and m.REGISTRY is reg
    assert reg == ["live"]
    assert m.edited is edited and edited() == fresh.edited() == 2
    assert_as_fresh(edited, fresh.edited)
    assert not report.find("byte2int") and not report.find("REGISTRY")


def test_if_data_edited_next_to_def_updates(sb):
    m = sb.load(if_else())
    reg, edited = m.REGISTRY, m.edited
    sb.update(m, if_else(limit=20))
    assert hotswap.reload(m).ok
    fresh = fresh_import(m)
    assert m.LIMIT == fresh.LIMIT == 20
    assert m.REGISTRY is reg and m.edited is edited
    assert_as_fresh(edited, fresh.edited)


def test_if_condition_edited_runs_the_other_branch(sb):
    """The header is part of every inner statement's identity: a changed
    condition is a fresh start for the names its branches bind."""
    m = sb.load(if_else())
    reg = m.REGISTRY
    sb.update(m, if_else().replace("if PY3:", "if not PY3:"))
    assert hotswap.reload(m).ok
    fresh = fresh_import(m)
    assert m.byte2int is ord and m.REGISTRY == () == fresh.REGISTRY
    assert m.REGISTRY is not reg
    assert m.edited() == fresh.edited() == -1


def test_def_edited_in_the_branch_not_taken_keeps_the_data(sb):
    """six: `byte2int = operator.itemgetter(0)` under `if PY3:`, `def
    byte2int` under `else:`; the def is edited, the data stays."""
    v1 = """
        import operator
        if True:
            byte2int = operator.itemgetter(0)
        else:
            def byte2int(bs):
                return ord(bs[0])
    """
    m = sb.load(v1)
    b2i = m.byte2int
    sb.update(m, v1.replace("ord(bs[0])", "ord(bs[0]) + 0"))
    assert hotswap.reload(m).ok
    assert m.byte2int is b2i
    assert m.byte2int(b"a") == fresh_import(m).byte2int(b"a") == 97


TRY = """
    try:
        import json as codec
        CACHE = {{}}
        ORDER = []
        def load(s):
            return codec.loads(s) + {value}
    except ImportError:
        codec = None
        CACHE = None
    finally:
        DONE = []
    {extra}
"""


def test_try_def_edited_keeps_data_in_every_clause(sb):
    m = sb.load(TRY.format(value=1, extra=""))
    cache, done, load = m.CACHE, m.DONE, m.load
    cache["k"] = 1
    done.append(1)
    sb.update(m, TRY.format(value=2, extra=""))
    assert hotswap.reload(m).ok
    fresh = fresh_import(m)
    assert m.CACHE is cache and m.DONE is done and cache == {"k": 1}
    assert m.load is load and load("1") == fresh.load("1") == 3
    assert_as_fresh(load, fresh.load)


def test_try_data_edited_updates_and_the_rest_stays(sb):
    m = sb.load(TRY.format(value=1, extra=""))
    cache, order = m.CACHE, m.ORDER
    v2 = TRY.format(value=1, extra="").replace("ORDER = []", "ORDER = [0]")
    sb.update(m, v2)
    assert hotswap.reload(m).ok
    assert m.ORDER == fresh_import(m).ORDER == [0]
    assert m.ORDER is not order and m.CACHE is cache


WITH = """
    import contextlib
    with contextlib.suppress(ImportError):
        from collections import OrderedDict as OD
        SEEN = set()
        def show():
            return {value}
"""


def test_with_def_edited_keeps_data(sb):
    m = sb.load(WITH.format(value=1))
    seen, show = m.SEEN, m.show
    seen.add("x")
    sb.update(m, WITH.format(value=2))
    assert hotswap.reload(m).ok
    fresh = fresh_import(m)
    assert m.SEEN is seen and seen == {"x"}
    assert m.show is show and show() == fresh.show() == 2
    assert_as_fresh(show, fresh.show)


def test_binding_removed_from_the_compound_updates(sb):
    """A name bound twice before and once now is not "unedited": it
    takes the value a fresh import gives."""
    v1 = """
        if True:
            X = []
            X = {}
            def f():
                return 1
    """
    m = sb.load(v1)
    v2 = """
        if True:
            X = []
            def f():
                return 2
    """
    sb.update(m, v2)
    assert hotswap.reload(m).ok
    assert m.X == [] == fresh_import(m).X and m.f() == 2


def test_compound_keep_rolls_back_with_the_batch(sb):
    m = sb.load(if_else())
    reg = m.REGISTRY
    sb.update(m, if_else(value="1 +") )
    with pytest.raises(hotswap.ReloadError):
        hotswap.reload(m)
    assert m.REGISTRY is reg and m.edited() == 1


# ------------------------------ 2: classes with rewritten __module__ --
REEXPORT = """
    class C:
        def f(self):
            return {value}

    C.__module__ = "elsewhere"
"""


def test_rewritten_module_class_is_updated_in_place(sb):
    m = sb.load(REEXPORT.format(value=1))
    C = m.C
    obj = C()
    sb.update(m, REEXPORT.format(value=2))
    assert hotswap.reload(m).ok
    fresh = fresh_import(m)
    assert m.C is C and C.__module__ == "elsewhere"
    assert obj.f() == fresh.C().f() == 2
    assert_as_fresh(C.f, fresh.C.f)


# wrapt: the proxy base's __module__/__dict__/__weakref__ are properties of
# the class body, copied into every proxy class by the metaclass.
PROXY = """
    class _Methods(object):
        @property
        def __module__(self):
            return {tag!r} + self.__wrapped__.__module__

        @property
        def __dict__(self):
            return ({tag!r}, self.__wrapped__.__dict__)

        @property
        def __weakref__(self):
            return {tag!r}

    class _Meta(type):
        def __new__(cls, name, bases, dictionary):
            dictionary.update(vars(_Methods))
            return type.__new__(cls, name, bases, dictionary)

    class Proxy(metaclass=_Meta):
        __slots__ = "__wrapped__"

        def __init__(self, wrapped):
            object.__setattr__(self, "__wrapped__", wrapped)
"""


def test_special_name_properties_follow_edits(sb):
    m = sb.load(PROXY.format(tag="v1:"))
    Proxy, Methods = m.Proxy, m._Methods
    p = Proxy(json.dumps)
    fgets = {n: Proxy.__dict__[n].fget
             for n in ("__module__", "__dict__", "__weakref__")}
    assert p.__module__ == "v1:json"
    sb.update(m, PROXY.format(tag="v2:"))
    assert hotswap.reload(m).ok
    fresh = fresh_import(m)
    assert m.Proxy is Proxy and m._Methods is Methods
    assert p.__module__ == fresh.Proxy(json.dumps).__module__ == "v2:json"
    assert p.__dict__[0] == "v2:" and p.__weakref__ == "v2:"
    for n, fget in fgets.items():
        assert Proxy.__dict__[n].fget is fget
        assert Methods.__dict__[n].fget is fget
        assert_as_fresh(fget, fresh._Methods.__dict__[n].fget)


# ------------------------- 20: closures made by a factory, renamed --
# attrs: `cd["__ne__"] = _make_ne()`, renamed to the class's qualname, put
# in a class the decorator builds anew (slots=True).
FACTORY = """
    def _make_ne():
        def __ne__(self, other):
            result = self.__eq__(other)
            if result is NotImplemented:
                return NotImplemented
            return {ne}

        return __ne__

    def define(cls):
        body = dict(cls.__dict__)
        body.pop("__dict__", None)
        body.pop("__weakref__", None)
        body["__slots__"] = ("x",)
        ne = _make_ne()
        ne.__qualname__ = cls.__qualname__ + ".__ne__"
        body["__ne__"] = ne
        return type(cls)(cls.__name__, cls.__bases__, body)

    @define
    class C:
        def __init__(self, x):
            self.x = x

        def __eq__(self, other):
            return self.x == other.x
"""


def test_factory_closure_renamed_into_a_rebuilt_class(sb):
    m = sb.load(FACTORY.format(ne="not result"))
    C = m.C
    ne = C.__ne__
    a, b = C(1), C(1)
    assert not (a != b)
    sb.update(m, FACTORY.format(ne="result"))
    assert hotswap.reload(m).ok
    fresh = fresh_import(m)
    assert m.C is C and C.__ne__ is ne
    assert (a != b) is (fresh.C(1) != fresh.C(1)) is True
    assert ne.__code__.co_code == fresh.C.__ne__.__code__.co_code
    assert ne.__code__.co_firstlineno == fresh.C.__ne__.__code__.co_firstlineno
