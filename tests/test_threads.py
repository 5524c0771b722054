"""Reloads racing with calls from other threads, in subprocesses so that a
crash fails the test instead of killing the run (see scripts/)."""
import pytest
from hs_helpers import run_script


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["function", "method", "closure"])
def test_threads_call_while_main_thread_reloads(tmp_path, mode):
    proc = run_script("threads_reload.py", mode, tmp_path, timeout=300)
    assert "calls per thread" in proc.stdout


def test_reload_called_from_a_worker_thread(sb):
    # Not crash-prone (the main thread only waits), so it runs in-process.
    import threading

    import hotswap
    m = sb.load("""
        def f():
            return "v1"
    """)
    f = m.f
    sb.update(m, """
        def f():
            return "v2"
    """)
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(hotswap.reload(m)))
    worker.start()
    worker.join(30)
    assert not worker.is_alive()
    assert len(outcome) == 1 and outcome[0].ok
    assert f() == "v2"
