"""Reloads racing with calls from other threads, in subprocesses so that a
crash fails the test instead of killing the run (see scripts/)."""
import pytest
from hs_helpers import run_script


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["function", "method", "closure"])
def test_threads_call_while_main_thread_reloads(tmp_path, mode):
    proc = run_script("threads_reload.py", mode, tmp_path, timeout=300)
    assert "calls per thread" in proc.stdout
