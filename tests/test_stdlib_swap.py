"""Real code: copies of pure-Python stdlib modules reloaded in place in three
rounds (shift every line, touch every function, revert), each checked
against a fresh import of the same files and under CPython's own tests for
the module.  See scripts/stdlib_swap.py (the harness), scripts/swapcheck.py
(the checks) and scripts/stdlib_list.py (the modules and their known
failures).

CI runs the fixed subset stdlib_list.CI, one module per subprocess, on every
interpreter (a few seconds); HOTSWAP_STDLIB_FULL=1 runs all of
stdlib_list.MODULES here (tools/reliability.sh runs them through
`stdlib_swap.py all`, which prints the table of docs/reliability.md).

A module with known failures passes as xfail only while exactly its known
causes are seen (strict): a fix that removes one makes the test fail until
stdlib_list.KNOWN is updated.
"""
import os
import sys

import hotswap  # noqa: F401  (the harness imports it in the subprocess)
import pytest
from hs_helpers import SCRIPTS, dedent

sys.path.insert(0, SCRIPTS)
import stdlib_list  # noqa: E402
import stdlib_swap  # noqa: E402  (only its `all` helpers: no side effect)
import swapcheck  # noqa: E402

sys.path.remove(SCRIPTS)

FULL = os.environ.get("HOTSWAP_STDLIB_FULL") == "1"
SELECTED = list(stdlib_list.MODULES) if FULL else stdlib_list.CI


def _require_test_package():
    import importlib.util
    try:
        spec = importlib.util.find_spec("test.support")
    except ModuleNotFoundError:
        spec = None
    if spec is None:
        pytest.skip("this interpreter ships without CPython's test package")


@pytest.mark.parametrize("module", SELECTED)
def test_stdlib_module_swapped_like_a_fresh_import(module):
    _require_test_package()
    mapping = stdlib_swap.available({module: stdlib_list.MODULES[module]})
    if not mapping:
        pytest.skip(f"{module} or its test is not on this interpreter")
    res = stdlib_swap.run_one_module(module, mapping[module], timeout=900)
    assert "crash" not in res, res["crash"]
    # The harness did its work: tests ran in every round, functions were
    # touched and checked against the fresh import, references were held.
    assert res["run"] > 0 and res["held_functions"] > 0, res
    for rnd in swapcheck.ROUNDS:
        assert res["rounds"][rnd]["run"] == res["run"], (rnd, res)
        assert res["rounds"][rnd]["functions_checked"] > 0, (rnd, res)
    assert res["rounds"]["touch"]["functions_touched"] > 0, res
    status, msgs = swapcheck.judge(res, stdlib_list.known(module))
    res["status"] = status
    detail = "\n".join([swapcheck.result_line(module, res), *msgs] + [
        f"  {rnd}: {line}" for rnd, r in res["rounds"].items()
        for line in swapcheck.summarize(r["divergences"], 8)])
    assert status != "FAIL", detail
    if status == "known":
        pytest.xfail("known: " + detail)


# --------------------------------------------- found by the stdlib swap ----
def test_def_rebound_by_a_later_unedited_import_keeps_that_binding(sb):
    # The accelerator pattern (heapq, bisect, statistics): a Python def, then
    # `from _accel import *` rebinds the name.  Editing the def must leave
    # the name bound as a fresh import binds it (to the accelerator).
    src = """
        def f():
            return "{}"

        try:
            from operator import not_ as f
        except ImportError:
            pass
    """
    m = sb.load(src.format("v1"))
    accel = m.f
    assert accel is __import__("operator").not_
    sb.update(m, src.format("v2"))
    report = hotswap.reload(m)
    assert report.ok
    fresh = {}
    exec(dedent(src.format("v2")), fresh)
    assert fresh["f"] is accel
    assert m.f is accel, (m.f, str(report))


def test_unedited_classmethod_data_next_to_edited_generator_not_replaced(sb):
    # graphlib.TopologicalSorter: `__class_getitem__ = classmethod(
    # GenericAlias)` after a generator method.  Editing the generator must
    # not touch (nor report as HS101) the unedited class attribute.
    src = """
        from types import GenericAlias

        class C:
            def gen(self):
                {}yield 1

            __class_getitem__ = classmethod(GenericAlias)
    """
    m = sb.load(src.format(""))
    cg = vars(m.C)["__class_getitem__"]
    sb.update(m, src.format("x = 0\n                "))
    report = hotswap.reload(m)
    assert report.ok
    assert list(m.C().gen()) == [1]
    assert not report.find("C.__class_getitem__"), str(report)
    assert vars(m.C)["__class_getitem__"] is cg
