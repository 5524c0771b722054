"""Four threads call into a module while the main thread reloads it 50 times,
alternating two versions.  No exception may escape and every result must be
one of the two versions' results.

Usage: threads_reload.py MODE TMPDIR     (MODE: function | method | closure)
Exit status 0 on success; a crash (signal) or any failure is non-zero.
"""
import importlib
import os
import sys
import textwrap
import threading
import time

MODE, ROOT = sys.argv[1], sys.argv[2]
sys.path.insert(0, ROOT)

import hotswap  # noqa: E402  (before the scenario modules: snapshots)

# Results depend only on the code of the called function, never on module or
# class data that the reload rebinds: a call already in flight when the main
# thread reloads keeps its old code but would read the new data, a mix no
# reloader can prevent (the class data `bonus` still changes every reload).
SOURCES = {
    "function": (
        """
        def f(x):
            return ("v1", x + 1)
        """,
        """
        def f(x):
            y = x * 2
            return ("v2", y)
        """,
    ),
    "method": (
        """
        class C:
            bonus = 1

            def __init__(self, n):
                self.n = n

            def value(self):
                return ("v1", self.n + 1)
        """,
        """
        class C:
            bonus = 100

            def __init__(self, n):
                self.n = n

            def value(self):
                return ("v2", self.n * 100)
        """,
    ),
    # The closure's free-variable set changes every reload (a, b) <-> (b,):
    # the swap must set code and closure together, matched by name.
    "closure": (
        """
        def make(a, b):
            def inner():
                return ("v1", a * 10 + b)
            return inner
        """,
        """
        def make(a, b):
            def inner():
                return ("v2", b * 100)
            return inner
        """,
    ),
}

V1, V2 = (textwrap.dedent(s) for s in SOURCES[MODE])


def fresh(source):
    """Results of a version computed by a fresh exec, not hard-coded."""
    ns = {}
    exec(compile(source, "<fresh>", "exec"), ns)
    if MODE == "function":
        return ns["f"](3)
    if MODE == "method":
        return ns["C"](3).value()
    return ns["make"](1, 2)()


EXPECTED = {fresh(V1), fresh(V2)}
assert len(EXPECTED) == 2

name = f"thr_{MODE}_{os.getpid()}"
path = os.path.join(ROOT, name + ".py")


def write(source):
    with open(path, "w") as fh:
        fh.write(source)


write(V1)
importlib.invalidate_caches()
mod = importlib.import_module(name)

# References held the way programs hold them.
if MODE == "function":
    ns = {}
    exec(f"from {name} import f", ns)
    call = lambda: ns["f"](3)                      # noqa: E731
elif MODE == "method":
    bound = [mod.C(3).value for _ in range(4)]
    call = lambda: bound[threading.get_ident() % 4]()  # noqa: E731
else:
    closures = [mod.make(1, 2) for _ in range(4)]
    call = lambda: closures[threading.get_ident() % 4]()  # noqa: E731

stop = threading.Event()
errors = []
counts = [0] * 4
seen = set()


def worker(i):
    try:
        while not stop.is_set():
            result = call()
            if result not in EXPECTED:
                errors.append(f"thread {i}: unexpected {result!r}")
                return
            counts[i] += 1
            seen.add(result)
    except BaseException as exc:  # noqa: BLE001  report everything
        errors.append(f"thread {i}: {type(exc).__name__}: {exc}")


sys.setswitchinterval(1e-5)
threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
for t in threads:
    t.start()
try:
    for i in range(50):
        write(V2 if i % 2 == 0 else V1)
        report = hotswap.reload(mod)
        if not report.ok or not report.changed:
            errors.append(f"reload {i}: {report}")
        # The reload took effect for the references held (checked on the
        # main thread right after it).
        now = call()
        if i % 2 == 0 and now != fresh(V2):
            errors.append(f"reload {i} to v2: got {now!r}")
        elif i % 2 == 1 and MODE != "closure" and now != fresh(V1):
            errors.append(f"reload {i} to v1: got {now!r}")
        time.sleep(0.002)
finally:
    stop.set()
    for t in threads:
        t.join()

# After an even number of reloads the module is back at V1.  (Closures made
# under V1 may have lost cell `a` when V2 dropped it, so they can only run
# V2's code from then on: for them any of the two results is right.)
if MODE != "closure" and call() != fresh(V1):
    errors.append(f"final result {call()!r} != {fresh(V1)!r}")
if seen != EXPECTED:
    errors.append(f"threads saw {seen!r}, expected both of {EXPECTED!r}")
if not all(counts):
    errors.append(f"some thread never ran: {counts}")
if errors:
    print("\n".join(errors[:20]))
    sys.exit(1)
print("calls per thread:", counts)
