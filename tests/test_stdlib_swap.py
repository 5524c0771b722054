"""Real code: copies of pure-Python stdlib modules reloaded in place while
CPython's own tests for them run before and after, in one subprocess (the
test process's stdlib stays intact).  See scripts/stdlib_swap.py.

HOTSWAP_STDLIB_FULL=1 adds the slow ones (statistics, calendar).
"""
import importlib.util
import json
import os
import subprocess
import sys

import hotswap
import pytest
from hs_helpers import SCRIPTS, dedent

# module -> CPython test module.  Every one is pure Python; heapq, bisect,
# json, csv, statistics and datetime-free others have C accelerators or C
# halves, and their tests also build fresh copies with import_fresh_module
# (reloaded too: see the script).
MODULES = {
    "textwrap": "test.test_textwrap",
    "colorsys": "test.test_colorsys",
    "fractions": "test.test_fractions",
    "shlex": "test.test_shlex",
    "string": "test.test_string",
    "heapq": "test.test_heapq",
    "bisect": "test.test_bisect",
    "csv": "test.test_csv",
    "json": "test.test_json",
    "pprint": "test.test_pprint",
    "glob": "test.test_glob",
    "fnmatch": "test.test_fnmatch",
    "html": "test.test_html",
    "base64": "test.test_base64",
    "quopri": "test.test_quopri",
    "graphlib": "test.test_graphlib",
    "getopt": "test.test_getopt",
    "optparse": "test.test_optparse",
    "configparser": "test.test_configparser",
    "sched": "test.test_sched",
    "ipaddress": "test.test_ipaddress",
    "dataclasses": "test.test_dataclasses",
}
SLOW = {
    "statistics": "test.test_statistics",
    "calendar": "test.test_calendar",
}


def _available(mapping):
    out = {}
    for mod, test in mapping.items():
        try:
            found = importlib.util.find_spec(test) is not None
        except ModuleNotFoundError:
            found = False
        if found and importlib.util.find_spec(mod) is not None:
            out[mod] = test
    return out


def _require_test_package():
    try:
        spec = importlib.util.find_spec("test.support")
    except ModuleNotFoundError:
        spec = None
    if spec is None:
        pytest.skip("this interpreter ships without CPython's test package")


def run_swap(tmp_path, mapping):
    """Run scripts/stdlib_swap.py in a fresh interpreter without site (so no
    chosen module is imported before its copy shadows it); return the
    parsed JSON lines."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(hotswap.__file__))
    env.pop("PYTHONSTARTUP", None)
    root = tmp_path / "stdlib_copies"
    root.mkdir()
    proc = subprocess.run(
        [sys.executable, "-S", "-X", "dev",
         os.path.join(SCRIPTS, "stdlib_swap.py"), str(root)]
        + [f"{m}={t}" for m, t in mapping.items()],
        capture_output=True, text=True, timeout=900, env=env)
    lines = [json.loads(line) for line in proc.stdout.splitlines()
             if line.startswith("{")]
    assert proc.returncode == 0, (
        f"stdlib_swap.py exited with {proc.returncode}\n--- stdout ---\n"
        f"{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}")
    return lines


def test_stdlib_modules_swapped_under_their_own_tests(tmp_path):
    _require_test_package()
    mapping = _available(MODULES)
    if os.environ.get("HOTSWAP_STDLIB_FULL") == "1":
        mapping.update(_available(SLOW))
    assert len(mapping) >= 15, mapping
    lines = run_swap(tmp_path, mapping)
    per_module = [line for line in lines if "module" in line]
    summary = [line["summary"] for line in lines if "summary" in line][0]
    assert {line["module"] for line in per_module} == set(mapping)
    for line in per_module:
        assert line["run"] > 0 and line["run"] == line["run_after"], line
        assert not line["differences"], line
    # The reload really rewrote code: hundreds of functions updated, every
    # probed function runs the new code.
    assert summary["updated"] >= 300, summary
    assert summary["functions_probed"] >= 300, summary
    assert not summary["stale"], summary
    assert not summary["rejected"], summary
    # import_fresh_module copies (pure-Python heapq/json kept by the tests)
    # were reloaded too.
    assert all(": ok True" in s for s in summary["fresh_copies"]), summary


def test_difflib_swapped_under_its_own_tests(tmp_path):
    # difflib does `import re` half-way down, uses `re` in a default
    # (`def IS_LINE_JUNK(line, pat=re.compile(...).match)`) and `del re` at
    # the end.  A fresh import of the rewritten file works; the reload must
    # too.
    _require_test_package()
    mapping = _available({"difflib": "test.test_difflib"})
    if not mapping:
        pytest.skip("no test.test_difflib")
    lines = run_swap(tmp_path, mapping)
    assert not [line for line in lines if line.get("differences")]


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
