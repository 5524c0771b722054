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
