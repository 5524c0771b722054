"""Issue 13's swap-harness causes 13, 15, 16, 18, 22, 23, 26 (branch
eng13a), each reduced to a scenario: module v1 on disk, import it, hold
references the way programs do, write v2, reload, assert behaviour and
compare with a fresh import of v2."""
import importlib.util

import hotswap
from hs_helpers import assert_as_fresh


def fresh_import(module):
    spec = importlib.util.spec_from_file_location(module.__name__,
                                                  module.__file__)
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    return fresh


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
