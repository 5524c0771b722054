"""Waking an idle main thread (safepoint.c, "waking"), one scenario per
interpreter.

Usage: wake_scenarios.py SCENARIO TMPDIR
The main thread blocks (an idle asyncio loop, time.sleep, a selector, an
Event) while a thread saves an edit; the scenario prints
``LATENCY {...}`` (save -> the reload applied) and ``OK <scenario>``,
or FAIL and exits 1.  The blocking calls last 2 s and the edit comes 0.3 s
in: without the wake-up signal the reload would wait about 1.7 s.
"""
import json
import os
import signal
import sys
import threading
import time

SCENARIO, ROOT = sys.argv[1], sys.argv[2]
sys.path.insert(0, ROOT)

import hotswap  # noqa: E402

MOD = os.path.join(ROOT, "wkmod.py")
BLOCK = 2.0


def write(n):
    tmp = MOD + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(f"def f():\n    return {n}\n")
    os.replace(tmp, MOD)


def fail(msg):
    print("FAIL:", msg, flush=True)
    sys.exit(1)


write(1)
import wkmod  # noqa: E402

times = {}


def after(report):
    times.setdefault("applied", time.monotonic())


def edit_soon(then=None):
    def run():
        time.sleep(0.3)
        times["saved"] = time.monotonic()
        write(2)
        if then is not None:
            then()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def block(kind):
    """Block the main thread for up to BLOCK seconds in `kind`."""
    if kind == "asyncio":
        import asyncio

        async def idle():
            # no traffic, no timers: the loop sits in epoll_wait
            await asyncio.sleep(BLOCK)
        asyncio.run(idle())
    elif kind == "sleep":
        time.sleep(BLOCK)
    elif kind == "selector":
        import selectors
        import socket
        a, b = socket.socketpair()
        with selectors.DefaultSelector() as sel:
            sel.register(a, selectors.EVENT_READ)
            sel.select(BLOCK)
        a.close()
        b.close()
    elif kind == "event":
        threading.Event().wait(BLOCK)
    else:
        fail(f"unknown kind {kind}")


def measure(kind):
    """Block for BLOCK seconds; the edit is saved 0.3 s in.  The latency
    is taken in the after_reload hook: without waking it would be about
    BLOCK - 0.3 s."""
    hotswap.after_reload(after)
    hotswap.watch(ROOT, debounce=0.02)
    if not hotswap.watching().get("wake"):
        fail("watch() on the main thread did not turn waking on")
    edit_soon()
    block(kind)
    if "applied" not in times:
        fail("the reload was not applied")
    if wkmod.f() != 2:
        fail(f"wkmod.f() is {wkmod.f()}")
    print("LATENCY", json.dumps({"kind": kind, "seconds":
                                 times["applied"] - times["saved"]}))


if SCENARIO.startswith("latency_"):
    measure(SCENARIO[len("latency_"):])

elif SCENARIO == "user_sigurg_kept":
    # A program's own SIGURG handler is left alone, and no signal is sent.
    got = []
    signal.signal(signal.SIGURG, lambda s, f: got.append(s))
    hotswap.watch(ROOT, debounce=0.02)
    if hotswap.watching()["wake"]:
        fail("waking turned on over the program's SIGURG handler")
    edit_soon()
    end = time.monotonic() + 5
    while wkmod.f() != 2 and time.monotonic() < end:
        time.sleep(0.01)  # wakes every 10 ms: the reload still comes
    if wkmod.f() != 2 or got:
        fail(f"f()={wkmod.f()} handler calls={got}")

elif SCENARIO == "handler_replaced_later":
    # A SIGURG handler installed after watch() wins: the next reload sees
    # it and waking stops (the handler may be called once, no more).
    hotswap.watch(ROOT, debounce=0.02)
    got = []
    signal.signal(signal.SIGURG, lambda s, f: got.append(s))
    for n in (2, 3, 4):
        saved = time.monotonic()
        tmp = MOD + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(f"def f():\n    return {n}\n")
        os.replace(tmp, MOD)
        while wkmod.f() != n and time.monotonic() - saved < 5:
            time.sleep(0.01)
        if wkmod.f() != n:
            fail(f"edit {n} not applied")
    if hotswap.watching()["wake"] or len(got) > 1:
        fail(f"wake={hotswap.watching()['wake']} handler calls={got}")
    if signal.getsignal(signal.SIGURG) is None:
        fail("the program's handler was removed")

elif SCENARIO == "unwatch_restores":
    before = signal.getsignal(signal.SIGURG)
    hotswap.watch(ROOT, debounce=0.02)
    if signal.getsignal(signal.SIGURG) is before:
        fail("no handler installed")
    hotswap.unwatch()
    if signal.getsignal(signal.SIGURG) != signal.SIG_DFL:
        fail(f"SIGURG handler left: {signal.getsignal(signal.SIGURG)}")
    hotswap.watch(ROOT, debounce=0.02, wake=False)
    if hotswap.watching()["wake"] or \
            signal.getsignal(signal.SIGURG) != signal.SIG_DFL:
        fail("wake=False still installed a handler")
    hotswap.unwatch()

elif SCENARIO == "not_main_thread":
    # watch() from another thread: no signal handler (signal.signal works
    # on the main thread only), no waking, watching still works.
    errors = []

    def start():
        try:
            hotswap.watch(ROOT, debounce=0.02)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
    t = threading.Thread(target=start)
    t.start()
    t.join()
    if errors or hotswap.watching()["wake"]:
        fail(f"errors={errors} wake={hotswap.watching()['wake']}")
    if signal.getsignal(signal.SIGURG) != signal.SIG_DFL:
        fail("a handler was installed off the main thread")

elif SCENARIO == "sigint_and_user_signals":
    # Ctrl-C and a program's own handlers behave as without hotswap, while
    # reloads wake the main thread.
    got = []
    # Ctrl-C as in a terminal, even when the test runner was started with
    # SIGINT ignored (a background job of a shell)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGUSR1, lambda s, f: got.append("usr1"))
    hotswap.after_reload(after)
    hotswap.watch(ROOT, debounce=0.02)

    def then():
        end = time.monotonic() + 5
        while "applied" not in times and time.monotonic() < end:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGUSR1)
        time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)
    edit_soon(then)
    try:
        time.sleep(BLOCK)
        fail("SIGINT did not interrupt the sleep")
    except KeyboardInterrupt:
        pass
    if "applied" not in times or wkmod.f() != 2 or got != ["usr1"]:
        fail(f"times={times} f={wkmod.f()} usr1={got}")

else:
    fail(f"unknown scenario {SCENARIO}")

print("OK", SCENARIO, flush=True)
