"""Tracking: which modules reload() without arguments considers."""
import importlib
import json
import os

import hotswap


def _make_pkg(sb, base="pkg"):
    name = sb.name(base)
    sb.write(name, "", package=True)
    sb.write(f"{name}.one", """
        def f():
            return "one-v1"
    """)
    sb.write(f"{name}.two", """
        def f():
            return "two-v1"
    """)
    pkg = importlib.import_module(name)
    one = importlib.import_module(f"{name}.one")
    two = importlib.import_module(f"{name}.two")
    return name, pkg, one, two


def test_track_directory(sb):
    name, pkg, one, two = _make_pkg(sb)
    loose = sb.load("X = 1", base="loose")
    hotswap.track(str(sb.root))
    tracked = hotswap.tracked()
    assert tracked == sorted(tracked)
    for mod in (pkg, one, two, loose):
        assert mod.__name__ in tracked


def test_track_package_name(sb):
    name, pkg, one, two = _make_pkg(sb)
    loose = sb.load("X = 1", base="loose")
    hotswap.track(name)
    tracked = hotswap.tracked()
    assert {name, f"{name}.one", f"{name}.two"} <= set(tracked)
    assert loose.__name__ not in tracked


def test_reload_without_arguments_reloads_only_changed_tracked(sb):
    name, pkg, one, two = _make_pkg(sb)
    loose = sb.load("""
        def f():
            return "loose-v1"
    """, base="loose")
    hotswap.track(name)
    two_code = two.f.__code__
    sb.update(one, """
        def f():
            return "one-v2"
    """)
    sb.update(loose, """
        def f():
            return "loose-v2"
    """)
    report = hotswap.reload()
    assert one.f() == "one-v2"
    assert loose.f() == "loose-v1"               # changed but not tracked
    assert two.f.__code__ is two_code
    reloaded = [r.name for r in report.modules if r.status == "reloaded"]
    assert reloaded == [f"{name}.one"]


def test_stdlib_never_tracked_by_directory(sb):
    sb.load("X = 1", base="mine")
    stdlib_dir = os.path.dirname(os.__file__)
    hotswap.track(str(sb.root), stdlib_dir)
    try:
        tracked = hotswap.tracked()
        for std in ("os", "json", "importlib", "textwrap"):
            assert std not in tracked, std
        assert json.__name__ not in tracked
        assert sb.name("mine") in tracked
    finally:
        hotswap.untrack(stdlib_dir)


def test_untrack(sb):
    name, pkg, one, two = _make_pkg(sb)
    hotswap.track(str(sb.root))
    assert one.__name__ in hotswap.tracked()
    hotswap.untrack(str(sb.root))
    assert not any(t.startswith(sb.prefix) for t in hotswap.tracked())
    sb.update(one, """
        def f():
            return "one-v2"
    """)
    report = hotswap.reload()
    assert one.f() == "one-v1"
    assert one.__name__ not in [r.name for r in report.modules]


def test_module_imported_after_track_dir_is_tracked(sb):
    # ASSUMPTION: a directory target covers modules imported later from it
    # ("every module whose file lies below it"), not only those loaded now.
    hotswap.track(str(sb.root))
    late = sb.load("""
        def f():
            return "late-v1"
    """, base="late")
    assert late.__name__ in hotswap.tracked()
    sb.update(late, """
        def f():
            return "late-v2"
    """)
    hotswap.reload()
    assert late.f() == "late-v2"


def test_snapshot_retakes_baseline_from_current_file(sb):
    m = sb.load("""
        def f():
            return "v1"
    """)
    f = m.f
    sb.update(m, """
        def f():
            return "v2"
    """)
    # The user declares the current file to be what runs: nothing to do.
    hotswap.snapshot(m)
    report = hotswap.reload(m)
    assert report.changed is False
    assert f() == "v1"
    sb.update(m, """
        def f():
            return "v3"
    """)
    assert hotswap.reload(m).changed and f() == "v3"


def test_reload_without_arguments_uses_dependency_order(sb):
    # Tracked a and b both changed; b (imports a) has a new statement that
    # needs a's new name.  Module names sort b-first to catch a sort by name.
    a = sb.load("VALUE = 1\n", base="zz_a")
    b = sb.load("""
        import $a

        def use():
            return $a.VALUE
    """, base="aa_b", a=a.__name__)
    hotswap.track(str(sb.root))
    sb.update(a, "VALUE = 1\nEXTRA = 41\n")
    sb.update(b, """
        import $a

        BONUS = $a.EXTRA

        def use():
            return $a.VALUE + BONUS
    """, a=a.__name__)
    report = hotswap.reload()
    assert b.use() == 42
    names = [r.name for r in report.modules if r.status == "reloaded"]
    assert names == [a.__name__, b.__name__]


# -- the excluded directories: one function for the core, the CLI and IPython

EXCLUDED_SCRIPT = r'''
import json, os, sys, sysconfig
root = os.path.realpath(sys.argv[1])
site_dir = os.path.join(root, "site-packages")
sys.path[:0] = [root, site_dir]
import hotswap
from hotswap import _live, _runmain
import inpkg, mine
hotswap.track(root)
excluded = _live.excluded_dirs()
print("RESULT " + json.dumps({
    "excluded": list(excluded),
    "core_same": list(_live._EXCLUDED) == list(excluded),
    "stdlib": os.path.realpath(sysconfig.get_paths()["stdlib"]),
    "site_dir": site_dir,
    "tracked": hotswap.tracked(),
    "snapshotted": sorted(n for n in ("inpkg", "mine")
                          if n in hotswap._core.snapshots),
    "cli_installed": [_runmain._installed(inpkg.__file__),
                      _runmain._installed(mine.__file__)],
}))
'''


def _run_result(tmp_path, name, source, root):
    """Run `source` as a script in a fresh interpreter with `root` as its
    argument; return the JSON it prints on its `RESULT ` line."""
    import subprocess
    import sys
    script = tmp_path / name
    script.write_text(source)
    proc = subprocess.run([sys.executable, "-X", "dev", str(script),
                           str(root)], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = next(l for l in proc.stdout.splitlines()
                if l.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def _run_excluded(tmp_path):
    root = tmp_path / "proj"
    (root / "site-packages").mkdir(parents=True)
    (root / "site-packages" / "inpkg.py").write_text("X = 1\n")
    (root / "mine.py").write_text("Y = 1\n")
    return _run_result(tmp_path, "excluded.py", EXCLUDED_SCRIPT, root)


def test_excluded_dirs_one_set_of_rules(tmp_path):
    # hotswap._live.excluded_dirs() is what the core's tracking and import
    # hook, the CLI's "installed" test and the IPython extension use (the
    # core once ran its own rules from an embedded source string, and
    # IPython another set): the standard library, site.getsitepackages()
    # and any sys.path entry named site-packages.
    got = _run_excluded(tmp_path)
    assert got["core_same"]
    assert got["stdlib"] in got["excluded"]
    assert got["site_dir"] in got["excluded"]
    assert got["excluded"] == sorted(got["excluded"])
    # a module in a site-packages directory under a tracked root is neither
    # tracked nor snapshotted; the project's own module is
    assert "inpkg" not in got["tracked"] and "mine" in got["tracked"]
    assert got["snapshotted"] == ["mine"]
    assert got["cli_installed"] == [True, False]


EXTENSION_SCRIPT = r'''
import importlib.machinery, importlib.util, json, os, shutil, sys
root = os.path.realpath(sys.argv[1])
# a C extension module copied into the tracked directory, imported from it
name = None
for cand in ("_lsprof", "_statistics", "_bisect", "_crypt", "_heapq"):
    spec = None if cand in sys.modules else importlib.util.find_spec(cand)
    origin = getattr(spec, "origin", None) or ""
    if origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
        shutil.copy(origin, root)
        name = cand
        break
sys.path.insert(0, root)
if name is None:
    print("RESULT " + json.dumps({"skip": "no stdlib extension to copy"}))
    raise SystemExit(0)
import hotswap
ext = __import__(name)
import mine
hotswap.track(root)
with open(mine.__file__, "w") as f:
    f.write("def f():\n    return 2\n")
f = mine.f
report = hotswap.reload()
print("RESULT " + json.dumps({
    "ext_file": ext.__file__, "f": f(), "ok": report.ok,
    "tracked": hotswap.tracked(), "name": name}))
'''


def test_reload_skips_c_extension_in_tracked_directory(tmp_path):
    # reload() without arguments reloads the tracked modules that have a
    # snapshot; a C extension has none, so it never fails the batch with
    # HS505 (the IPython extension worked around that and no longer does).
    root = tmp_path / "proj"
    root.mkdir()
    (root / "mine.py").write_text("def f():\n    return 1\n")
    got = _run_result(tmp_path, "ext.py", EXTENSION_SCRIPT, root)
    if "skip" in got:
        import pytest
        pytest.skip(got["skip"])
    assert os.path.dirname(os.path.realpath(got["ext_file"])) == \
        os.path.realpath(root)
    assert got["ok"] and got["f"] == 2
