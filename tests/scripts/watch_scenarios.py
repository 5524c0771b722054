"""Watcher scenarios, each in its own interpreter (threads, signals, fork).

Usage: watch_scenarios.py SCENARIO TMPDIR
Exit status 0 when the scenario behaved; any failure prints why and exits 1.
The main thread spins in a pure-Python busy loop while it waits, so an
automatic reload can only arrive through the pending-call safe point.
"""
import io
import logging
import os
import stat
import sys
import textwrap
import threading
import time

SCENARIO, ROOT = sys.argv[1], sys.argv[2]
sys.path.insert(0, ROOT)

import hotswap  # noqa: E402

LOG = io.StringIO()
handler = logging.StreamHandler(LOG)
logging.getLogger("hotswap").addHandler(handler)
logging.getLogger("hotswap").setLevel(logging.INFO)

MOD = os.path.join(ROOT, "wmod.py")


def write(path, source, atomic=False):
    data = textwrap.dedent(source)
    if atomic:
        tmp = path + ".tmp~"
        with open(tmp, "w") as fh:
            fh.write(data)
        os.replace(tmp, path)
    else:
        with open(path, "w") as fh:
            fh.write(data)


def version(n):
    return f"""
        STATE = []

        def f():
            return {n}
        """


def busy_until(pred, timeout=5.0):
    """Spin in Python (no sleeping, no blocking call) until pred()."""
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        for _ in range(1000):
            pass
        if pred():
            return True
    return False


def later(delay, fn):
    t = threading.Timer(delay, fn)
    t.start()
    return t


def fail(msg):
    print("FAIL:", msg)
    print("log:", LOG.getvalue())
    sys.exit(1)


write(MOD, version(1))
import wmod  # noqa: E402

f = wmod.f
wmod.STATE.append("kept")

if SCENARIO == "write":
    hotswap.watch(ROOT, debounce=0.02)
    later(0.1, lambda: write(MOD, version(2)))
    if not busy_until(lambda: f() == 2):
        fail("edit not applied while the main thread was busy")
    if wmod.STATE != ["kept"]:
        fail("module state lost")
    if "wmod reloaded" not in LOG.getvalue():
        fail("no summary logged")

elif SCENARIO == "rename":
    hotswap.watch(ROOT, debounce=0.02)
    later(0.1, lambda: write(MOD, version(3), atomic=True))
    if not busy_until(lambda: f() == 3):
        fail("atomic rename not seen")

elif SCENARIO == "burst":
    hotswap.watch(ROOT, debounce=0.2)

    def burst():
        for i in range(10):
            write(MOD, version(10 + i))
            time.sleep(0.01)
    later(0.1, burst)
    if not busy_until(lambda: f() == 19):
        fail("burst not applied")
    busy_until(lambda: False, timeout=0.5)
    if hotswap.watching()["reloads"] != 1:
        fail(f"burst gave {hotswap.watching()['reloads']} reloads, not 1")

elif SCENARIO == "poll_backend":
    hotswap.watch(ROOT, debounce=0.02, backend="poll", poll_interval=0.05)
    if hotswap.watching()["backend"] != "poll":
        fail("backend is not poll")
    later(0.2, lambda: write(MOD, version(4) + "        # longer\n"))
    if not busy_until(lambda: f() == 4):
        fail("polling backend missed the edit")

elif SCENARIO == "queued":
    hotswap.watch(ROOT, debounce=0.02, mode="queued")
    write(MOD, version(5))
    busy_until(lambda: hotswap.watching()["pending"] > 0, timeout=3)
    busy_until(lambda: False, timeout=0.3)
    if f() != 1:
        fail("queued mode applied without poll()")
    report = hotswap.poll()
    if report is None or f() != 5:
        fail(f"poll() did not apply: {report}")
    if hotswap.poll() is not None:
        fail("second poll() found something")

elif SCENARIO == "failure_then_fix":
    hotswap.watch(ROOT, debounce=0.02)
    # atomic saves: a plain rewrite may be seen half-written (truncated),
    # which is refused with HS506 and retried on the next event
    later(0.1, lambda: write(MOD, "def f(:\n    return 6\n", atomic=True))
    if not busy_until(lambda: "HS503" in LOG.getvalue()):
        fail("broken edit not reported")
    if f() != 1:
        fail("broken edit changed the code")
    log = LOG.getvalue()
    if "HS503" not in log or "wmod.py" not in log:
        fail("failure log lacks code or file")
    later(0.05, lambda: write(MOD, version(7), atomic=True))
    if not busy_until(lambda: f() == 7):
        fail("fixed edit not applied")

elif SCENARIO == "deleted_then_back":
    hotswap.watch(ROOT, debounce=0.02)
    later(0.1, lambda: os.remove(MOD))
    if not busy_until(lambda: hotswap.watching()["failures"] == 1):
        fail("deletion not reported")
    if f() != 1:
        fail("deletion changed the code")
    later(0.05, lambda: write(MOD, version(8)))
    if not busy_until(lambda: f() == 8):
        fail("recreated file not applied")

elif SCENARIO == "new_file":
    hotswap.watch(ROOT, debounce=0.02)
    os.makedirs(os.path.join(ROOT, "newpkg"))
    later(0.1, lambda: write(os.path.join(ROOT, "newpkg", "x.py"), "X = 1\n"))
    busy_until(lambda: False, timeout=0.5)
    if hotswap.watching()["failures"]:
        fail("an unimported new file caused a failure")
    later(0.05, lambda: write(MOD, version(9)))
    if not busy_until(lambda: f() == 9):
        fail("edit after a new directory not applied")

elif SCENARIO == "world_writable":
    hotswap.watch(ROOT, debounce=0.02)

    def edit():
        write(MOD, version(11))
        os.chmod(MOD, os.stat(MOD).st_mode | stat.S_IWOTH)
    later(0.1, edit)
    busy_until(lambda: "world-writable" in LOG.getvalue(), timeout=3)
    if f() != 1 or "world-writable" not in LOG.getvalue():
        fail("a world-writable file was reloaded")
    hotswap.watch(ROOT, debounce=0.02, allow_world_writable=True)
    later(0.05, lambda: write(MOD, version(12)))
    if not busy_until(lambda: f() == 12):
        fail("allow_world_writable=True did not allow it")

elif SCENARIO == "hooks":
    seen = []
    hotswap.before_reload(lambda names: seen.append(("before", names)))

    @hotswap.after_reload
    def after(report):
        seen.append(("after", report.ok, f()))
    hotswap.watch(ROOT, debounce=0.02)
    later(0.1, lambda: write(MOD, version(13)))
    if not busy_until(lambda: len(seen) == 2):
        fail(f"hooks not called: {seen}")
    if seen != [("before", ["wmod"]), ("after", True, 13)]:
        fail(f"hooks saw {seen}")
    hotswap.remove_hook(after)

elif SCENARIO == "hooks_failing_and_last_report":
    # hotswap._live: a hook that raises is an event, the other hooks and
    # the reload go on; last_report() is the last batch's Report, the failed
    # one's too; remove_hook() takes a hook out of both lists
    events, seen = [], []

    def broken(names):
        raise ValueError("broken hook")
    hotswap.before_reload(broken)
    hotswap.after_reload(broken)
    hotswap.after_reload(lambda report: seen.append(report))
    hotswap._core.set_log_sink(events.append)
    if hotswap.last_report() is not None:
        fail("a last report before any batch")
    hotswap.watch(ROOT, debounce=0.02, mode="queued")

    def poll_after(text):
        write(MOD, text)
        busy_until(lambda: hotswap.watching()["pending"] > 0, timeout=3)
        return hotswap.poll()
    report = poll_after(version(21))
    if f() != 21 or report is None or not report.ok:
        fail(f"the reload did not apply past a broken hook: {report}")
    failed = [e for e in events if e["event"] == "hook_failed"]
    if ([e["hook"] for e in failed] != [broken, broken]
            or not all(isinstance(e["error"], ValueError) for e in failed)):
        fail(f"hook_failed events: {events}")
    if seen != [report] or hotswap.last_report() is not report:
        fail(f"after hooks / last_report: {seen} {hotswap.last_report()}")
    hotswap.remove_hook(broken)
    events.clear()
    report = poll_after(version(22) + "def broken(:\n")
    if f() != 21 or report is None or report.ok:
        fail(f"a broken save applied: {report}")
    if [e["event"] for e in events] != ["failed"]:
        fail(f"events after remove_hook: {events}")
    if hotswap.last_report() is not report or seen[-1] is not report:
        fail("the failed batch's report is not the last one")
    hotswap._core.set_log_sink(None)

elif SCENARIO == "unwatch":
    hotswap.watch(ROOT, debounce=0.02)
    hotswap.unwatch()
    if hotswap.watching() is not None:
        fail("still watching")
    write(MOD, version(14))
    busy_until(lambda: False, timeout=0.5)
    if f() != 1:
        fail("edit applied after unwatch()")
    hotswap.unwatch()  # idempotent

elif SCENARIO == "fork":
    hotswap.watch(ROOT, debounce=0.02)
    pid = os.fork()
    if pid == 0:
        code = 0 if hotswap.watching() is None else 3
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        fail("the forked child believes it has a watcher")
    later(0.05, lambda: write(MOD, version(15)))
    if not busy_until(lambda: f() == 15):
        fail("parent's watcher stopped working after fork")

elif SCENARIO in ("blocked_then_provided", "blocked_left_out"):
    # a module saved naming what another module defines only once that
    # one is saved too (Django's urls.py before views.py): the first save
    # fails, and the second brings both in, as one batch
    WA, WB = os.path.join(ROOT, "wa.py"), os.path.join(ROOT, "wb.py")
    write(WB, "X = 1\n")
    write(WA, "import wb\n\ndef g():\n    return wb.X\n")
    import wa  # noqa: E402
    g = wa.g
    reports = []
    hotswap.after_reload(reports.append)
    hotswap.watch(ROOT, debounce=0.02)
    later(0.05, lambda: write(
        WA, "from wb import NAME\n\ndef g():\n    return NAME\n",
        atomic=True))
    if not busy_until(lambda: hotswap.watching()["failures"] == 1):
        fail("the save naming a missing name did not fail")
    if g() != 1 or hotswap.watching()["blocked"] != ["wa"]:
        fail(f"wa not blocked: {hotswap.watching()}")
    if SCENARIO == "blocked_left_out":
        # an unrelated save applies on its own; wa stays blocked, and
        # one line says so
        later(0.05, lambda: write(MOD, version(16), atomic=True))
        if not busy_until(lambda: f() == 16):
            fail("an unrelated edit was held back by the blocked module")
        if g() != 1 or hotswap.watching()["blocked"] != ["wa"]:
            fail(f"wa applied or unblocked: {hotswap.watching()}")
        if "still kept its old code" not in LOG.getvalue():
            fail("no line says wa is still blocked")
        if [m.name for m in reports[-1].modules] != ["wmod"]:
            fail(f"unexpected batch {reports[-1]}")
    later(0.05, lambda: write(WB, "X = 1\nNAME = 'new'\n", atomic=True))
    if not busy_until(lambda: g() == "new"):
        fail("the blocked module was not retried with the one it needed")
    if hotswap.watching()["blocked"] != []:
        fail(f"still blocked: {hotswap.watching()}")
    last = reports[-1]
    if not last.ok or sorted(m.name for m in last.modules
                             if m.status != "unchanged") != ["wa", "wb"]:
        fail(f"not one batch: {last}")
    import importlib.util  # noqa: E402
    spec = importlib.util.spec_from_file_location("wa_fresh", WA)
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    public = lambda m: sorted(n for n in vars(m) if not n.startswith("__"))
    if fresh.g() != g() or public(fresh) != public(wa):
        fail(f"not what a fresh import gives: {public(wa)}")

elif SCENARIO == "exit_while_watching":
    hotswap.watch(ROOT, debounce=0.02)
    # leave without unwatch(): atexit must stop the thread cleanly

else:
    fail(f"unknown scenario {SCENARIO}")

print("OK", SCENARIO)
