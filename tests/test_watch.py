"""The watcher thread and the safe points, one scenario per subprocess
(tests/scripts/watch_scenarios.py), so a hang or a crash fails the test
instead of the run."""
import os
import sys

import pytest
from hs_helpers import run_script

SCENARIOS = [
    "write", "rename", "burst", "poll_backend", "queued", "failure_then_fix",
    "deleted_then_back", "new_file", "world_writable", "hooks", "unwatch",
    "exit_while_watching", "blocked_then_provided", "blocked_left_out",
    "hooks_failing_and_last_report",
]


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="inotify backend is Linux-only")
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_watch_scenario(scenario, tmp_path):
    proc = run_script("watch_scenarios.py", scenario, tmp_path, timeout=60)
    assert f"OK {scenario}" in proc.stdout


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_watch_survives_fork(tmp_path):
    proc = run_script("watch_scenarios.py", "fork", tmp_path, timeout=60)
    assert "OK fork" in proc.stdout


def test_watch_keeps_the_core_signature_and_docstring():
    # hotswap.watch is hotswap._live.watch (the core's watch(), then the
    # exit and fork handlers): to a user it is the core's function
    import inspect
    import hotswap
    from hotswap import _core, _live
    assert hotswap.watch is _live.watch
    assert inspect.signature(hotswap.watch) == inspect.signature(_core.watch)
    assert hotswap.watch.__doc__ == _core.watch.__doc__
    assert hotswap.watch.__name__ == "watch"
    for name in ("before_reload", "after_reload", "remove_hook",
                 "last_report"):
        fn = getattr(hotswap, name)
        assert fn is getattr(_live, name) and fn.__doc__, name
