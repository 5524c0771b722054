"""Issue 13's swap-harness causes 13, 15, 16, 18, 22, 23, 26 (branch
eng13a), each reduced to a scenario: module v1 on disk, import it, hold
references the way programs do, write v2, reload, assert behaviour and
compare with a fresh import of v2."""

import hotswap
from hs_helpers import assert_as_fresh, fresh_import



def shifted(source, n=2):
    """`source` with n comment lines inserted on top (a pure line shift)."""
    return "".join(f"# shift {i}\n" for i in range(n)) + source


# ---------------------------------- 18: def inside a compound statement --
V18 = """\
import sys
if sys.version_info >= (3,):
    def f():
        return 1
else:
    def f():
        return 0
try:
    from _no_such_module import g
except ImportError:
    def g(x):
        return x + 1

    class K:
        def m(self):
            return "m"
"""


def test_def_in_if_and_try_moves_on_shift(sb):
    m = sb.load(V18)
    f, g, K, k = m.f, m.g, m.K, m.K()
    sb.update(m, shifted(V18, 3))
    hotswap.reload(m)
    fresh = fresh_import(m)
    assert m.f is f and m.g is g and m.K is K
    for live, new in ((f, fresh.f), (g, fresh.g), (K.m, fresh.K.m)):
        assert_as_fresh(live, new)
    assert f() == 1 and g(1) == 2 and k.m() == "m"


def test_def_in_if_moves_then_edit_still_patches(sb):
    m = sb.load(V18)
    f = m.f
    sb.update(m, shifted(V18, 2))
    hotswap.reload(m)
    v2 = shifted(V18, 2).replace("return 1", "return 11")
    sb.update(m, v2)
    hotswap.reload(m)
    fresh = fresh_import(m)
    assert m.f is f and f() == 11
    assert_as_fresh(f, fresh.f)


# ------------------------------- 22: lambda in an unedited data statement --
V22 = """\
g = lambda: 1
h = (lambda x:
     x * 2)

class C:
    s = staticmethod(lambda: "s")
    def m(self):
        return 0
"""


def test_lambda_in_data_moves_on_shift(sb):
    m = sb.load(V22)
    g, h, s = m.g, m.h, m.C.s
    sb.update(m, shifted(V22, 2))
    hotswap.reload(m)
    fresh = fresh_import(m)
    assert m.g is g and m.h is h
    for live, new in ((g, fresh.g), (h, fresh.h), (s, fresh.C.s)):
        assert live.__code__.co_firstlineno == new.__code__.co_firstlineno
        assert live.__code__.co_code == new.__code__.co_code
    assert g() == 1 and h(2) == 4 and s() == "s"


# ------------------------------- 16: private (name-mangled) class members --
V16 = """\
class Cache:
    __marker = object()
    __size = [0]

    def __update(self, x):
        return ("v1", x)

    def get(self, x):
        return self.__update(x)

    def pop(self, key, default=__marker):
        return "missing" if default is self.__marker else default

    alias = __update


class __Under:
    def __p(self):
        return "p1"

    def call(self):
        return self.__p()
"""


def test_private_members_keep_data_and_patch_methods(sb):
    m = sb.load(V16)
    C = m.Cache
    marker, size, upd, alias = (C._Cache__marker, C._Cache__size,
                                C._Cache__update, C.alias)
    bound = [C().get, C()._Cache__update]
    p = getattr(m, "__Under")
    p_meth = p._Under__p
    v2 = (V16.replace('("v1", x)', '("v2", x)').replace('"p1"', '"p2"')
          .replace('"missing" if', '"missing"  if'))
    sb.update(m, v2)
    report = hotswap.reload(m)
    fresh = fresh_import(m)
    # unedited private data keeps its live object
    assert C._Cache__marker is marker and C._Cache__size is size
    # the edited private method is patched in place, identity kept
    assert C._Cache__update is upd and C.alias is alias is upd
    assert upd(None, 1) == alias(None, 1) == ("v2", 1)
    assert [b(1) for b in bound] == [("v2", 1)] * 2
    assert_as_fresh(upd, fresh.Cache._Cache__update)
    assert p._Under__p is p_meth and p().call() == "p2"
    # a default computed from the unedited private data is the live object
    assert C.pop.__defaults__ == (marker,) and C().pop(1) == "missing"
    assert not any(e.action == "added" for e in report.entries)


def test_private_method_removed_and_shift_moves_back(sb):
    m = sb.load(V16)
    C = m.Cache
    upd = C._Cache__update
    sb.update(m, shifted(V16.replace('("v1", x)', '("v2", x)'), 2))
    hotswap.reload(m)
    sb.update(m, V16)
    hotswap.reload(m)
    fresh = fresh_import(m)
    assert C._Cache__update is upd and upd(None, 0) == ("v1", 0)
    assert_as_fresh(upd, fresh.Cache._Cache__update)
    # a private method whose statement is removed is deleted, as a fresh
    # import would not have it
    sb.update(m, V16.replace("    alias = __update\n", "").replace(
        "    def __update(self, x):\n        return (\"v1\", x)\n\n", ""))
    hotswap.reload(m)
    assert not hasattr(C, "_Cache__update")


# ----------------------------- 13: function attribute set after the def --
V13 = """\
def _extend(cls):
    for name, f in vars(cls).items():
        if callable(f) and f.__doc__ and f.__doc__.startswith("+"):
            f.__doc__ = "base doc\\n" + f.__doc__[1:]
    return cls


def f():
    return 1
f.__doc__ = "set later"


def g():
    "own"
    return 1


@_extend
class C:
    def m(self):
        "+extra"
        return 1
"""


def test_doc_set_after_def_kept_on_body_edit(sb):
    m = sb.load(V13)
    f, g, meth = m.f, m.g, m.C.m
    assert f.__doc__ == "set later" and meth.__doc__ == "base doc\nextra"
    sb.update(m, V13.replace("return 1", "return 2"))
    hotswap.reload(m)
    fresh = fresh_import(m)
    assert m.f is f and f() == 2
    assert f.__doc__ == fresh.f.__doc__ == "set later"
    assert g.__doc__ == fresh.g.__doc__ == "own"
    assert meth.__doc__ == fresh.C.m.__doc__ == "base doc\nextra"
    assert m.C().m() == 2


def test_own_docstring_edit_still_applies(sb):
    m = sb.load(V13)
    g = m.g
    sb.update(m, V13.replace('"own"', '"own, edited"'))
    hotswap.reload(m)
    fresh = fresh_import(m)
    assert g.__doc__ == fresh.g.__doc__ == "own, edited"
    # and back: the docstring is the source's again
    sb.update(m, V13)
    hotswap.reload(m)
    assert g.__doc__ == "own"


# ------------- 26: names bound to functions by an unedited statement --
V26 = """\
def _raise(*a):
    raise TypeError("frozen 1")


def _fallbacks(mono):
    def forward(a, b):
        return mono(a, b)

    def reverse(b, a):
        return mono(a, b)
    return forward, reverse


def _add(a, b):
    return a + b


class FrozenDict(dict):
    __delitem__ = __setitem__ = _raise

    def meth(self):
        return 1


class Num:
    __add__, __radd__ = _fallbacks(_add)

    def meth(self):
        return 1
"""


def test_unedited_binding_statements_keep_identity(sb):
    m = sb.load(V26)
    FD, Num = m.FrozenDict, m.Num
    held = {k: FD.__dict__[k] for k in ("__delitem__", "__setitem__")}
    add, radd = Num.__add__, Num.__radd__
    v2 = (V26.replace("frozen 1", "frozen 2").replace("return 1", "return 2")
          .replace("return a + b", "return a + b + 100")
          .replace("return mono(a, b)", "x = 1\n        return mono(a, b)"))
    sb.update(m, v2)
    hotswap.reload(m)
    fresh = fresh_import(m)
    for k, f in held.items():
        assert FD.__dict__[k] is f is m._raise
    try:
        held["__setitem__"]({}, 1, 2)
    except TypeError as e:
        assert str(e) == "frozen 2"
    assert Num.__add__ is add and Num.__radd__ is radd
    assert add(1, 2) == radd(2, 1) == fresh.Num.__add__(1, 2) == 103
    assert add.__code__.co_code == fresh.Num.__add__.__code__.co_code
    assert FD().meth() == Num().meth() == 2


# ------------------- 23: class whose own name is deleted after aliasing --
V23 = """\
class IsoCalendarDate(tuple):
    def week(self):
        return 1
_IsoCalendarDate = IsoCalendarDate
del IsoCalendarDate
"""


def test_class_deleted_after_aliasing_updated_and_moved(sb):
    m = sb.load(V23)
    C = m._IsoCalendarDate
    obj, week = C(), C.week
    sb.update(m, V23.replace("return 1", "return 2"))
    hotswap.reload(m)
    fresh = fresh_import(m)
    assert m._IsoCalendarDate is C and not hasattr(m, "IsoCalendarDate")
    assert obj.week() == week(obj) == 2
    assert_as_fresh(week, fresh._IsoCalendarDate.week)
    sb.update(m, shifted(V23, 3))
    hotswap.reload(m)
    fresh = fresh_import(m)
    assert obj.week() == 1 and not hasattr(m, "IsoCalendarDate")
    assert_as_fresh(week, fresh._IsoCalendarDate.week)


def test_class_deleted_after_aliasing_pure_shift(sb):
    m = sb.load(V23)
    C = m._IsoCalendarDate
    week = C.week
    sb.update(m, shifted(V23, 4))
    hotswap.reload(m)
    fresh = fresh_import(m)
    assert m._IsoCalendarDate is C and not hasattr(m, "IsoCalendarDate")
    assert_as_fresh(week, fresh._IsoCalendarDate.week)


# --------------------- 15: identical `del NAME` statements on a shift --
V15 = """\
class A:
    pass
for attr in ["a1", "a2"]:
    setattr(A, attr, attr)
del attr

class B:
    pass
for attr in ["b1"]:
    setattr(B, attr, attr)
del attr

class C:
    pass
for attr in ["c1"]:
    setattr(C, attr, attr)
del attr

def f():
    return A.a1 + B.b1 + C.c1
"""


def test_identical_del_statements_on_shift(sb):
    m = sb.load(V15)
    f = m.f
    for n in (2, 5):
        sb.update(m, shifted(V15, n))
        report = hotswap.reload(m)
        assert not any(e.action == "added" for e in report.entries)
        fresh = fresh_import(m)
        assert not hasattr(m, "attr") and not hasattr(fresh, "attr")
        assert f() == fresh.f() == "a1b1c1"
        assert_as_fresh(f, fresh.f)
    # an edit between them still runs what changed, once
    sb.update(m, V15.replace('["b1"]', '["b1", "b2"]'))
    hotswap.reload(m)
    assert m.B.b2 == "b2" and not hasattr(m, "attr")


V26B = """\
class FrozenDict(dict):
    def _raise_frozen(self, *a, **kw):
        "raises a TypeError"
        raise TypeError("immutable 1")

    __ior__ = __setitem__ = __delitem__ = update = _raise_frozen
    setdefault = pop = clear = _raise_frozen

    del _raise_frozen
"""


def test_aliases_of_deleted_method_patched_in_place(sb):
    m = sb.load(V26B)
    FD = m.FrozenDict
    f = FD.__dict__["update"]
    bound = FD().pop
    sb.update(m, V26B.replace("immutable 1", "immutable 2"))
    hotswap.reload(m)
    fresh = fresh_import(m)
    for k in ("__ior__", "__setitem__", "__delitem__", "update",
              "setdefault", "pop", "clear"):
        assert FD.__dict__[k] is f, k
    assert not hasattr(FD, "_raise_frozen")
    for call in (bound, FD().update, FD().clear):
        try:
            call()
        except TypeError as e:
            assert str(e) == "immutable 2"
        else:
            raise AssertionError("no TypeError")
    assert_as_fresh(f, fresh.FrozenDict.update)
    sb.update(m, shifted(V26B, 3))
    hotswap.reload(m)
    fresh = fresh_import(m)
    assert FD.__dict__["pop"] is f
    assert_as_fresh(f, fresh.FrozenDict.update)


V22B = """\
class C:
    def m(self):
        return 1

    s = staticmethod(lambda: "s")
    key = (lambda x:
           -x)
"""


def test_lambda_in_class_data_moves_when_method_above_edited(sb):
    m = sb.load(V22B)
    C = m.C
    s, key = C.s, C.key
    sb.update(m, V22B.replace("return 1", "x = 2\n        return x"))
    hotswap.reload(m)
    fresh = fresh_import(m)
    assert C.s is s and C.key is key and C().m() == 2
    for live, new in ((s, fresh.C.s), (key, fresh.C.key)):
        assert live.__code__.co_firstlineno == new.__code__.co_firstlineno
        assert live.__code__.co_code == new.__code__.co_code
    assert s() == "s" and key(3) == -3
