"""The watcher thread and the safe points, one scenario per subprocess
(tests/scripts/watch_scenarios.py), so a hang or a crash fails the test
instead of the run."""
import os
import re
import sys

import pytest
from hs_helpers import run_script

SCENARIOS = [
    "write", "rename", "burst", "poll_backend", "queued", "failure_then_fix",
    "deleted_then_back", "new_file", "world_writable", "hooks", "unwatch",
    "exit_while_watching",
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


def test_watcher_thread_uses_no_python_api():
    """STYLE rule 10: the watcher thread calls no Python API (it holds no
    GIL).  The thread's code sits between the THREAD markers of watch.c."""
    src = os.path.join(os.path.dirname(__file__), os.pardir, "csrc",
                       "watch.c")
    with open(src) as fh:
        text = fh.read()
    start = text.index("/* THREAD:")
    end = text.index("/* END THREAD")
    section = text[start:end]
    # drop comments, then look for any CPython identifier
    code = re.sub(r"/\*.*?\*/", "", section, flags=re.S)
    found = re.findall(r"\b_?Py[A-Za-z_]*\b", code)
    assert found == [], found
    assert "notify(arg)" in code  # the one hand-over, to safepoint.c
