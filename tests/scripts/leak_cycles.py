"""1,000 reload cycles alternating two versions of a module (a function with
defaults, a class with methods and class data, module data), all of which
reference a sentinel object.  Checks that nothing accumulates.

Usage: leak_cycles.py MODE TMPDIR   (MODE: objects | tracemalloc)
"""
import gc
import importlib
import os
import sys
import tracemalloc

MODE, ROOT = sys.argv[1], sys.argv[2]
sys.path.insert(0, ROOT)

import hotswap  # noqa: E402

WARMUP, CYCLES = 100, 1000


def write(name, text):
    with open(os.path.join(ROOT, name + ".py"), "w") as fh:
        fh.write(text)


write("leak_sentinel", "class Sentinel:\n    pass\n\nSENTINEL = Sentinel()\n")

TEMPLATE = '''\
from leak_sentinel import SENTINEL

DATA = [SENTINEL] * {n}
TABLE = {{"key": SENTINEL, "n": {n}}}


def f(x=SENTINEL, n={n}):
    return (x is SENTINEL, n * {n})


class C:
    ref = SENTINEL
    size = {n}

    def method(self):
        return [SENTINEL] * self.size

    @property
    def prop(self):
        return self.size + {n}

    @classmethod
    def make(cls):
        return cls()


def make_closure():
    k = {n}

    def inner():
        return k, SENTINEL
    return inner
'''
V1, V2 = TEMPLATE.format(n=1), TEMPLATE.format(n=2)

write("leak_mod", V1)
importlib.invalidate_caches()
import leak_mod  # noqa: E402
from leak_sentinel import SENTINEL  # noqa: E402

# Long-lived references, as a program would hold them.
held_f = leak_mod.f
instance = leak_mod.C()
closure = leak_mod.make_closure()


def cycle(i):
    version, n = (V2, 2) if i % 2 == 0 else (V1, 1)
    write("leak_mod", version)
    report = hotswap.reload(leak_mod)
    assert report.ok and report.changed, str(report)
    # The reload really happened (otherwise the leak check proves nothing).
    assert held_f() == (True, n * n), held_f()
    assert len(instance.method()) == n and instance.prop == 2 * n
    assert len(leak_mod.DATA) == n


def settle():
    # The interpreter's method cache holds strong references to attribute
    # names looked up on types (up to 4096 of them); names created by each
    # reload fill it and look like a slow leak until it is full.  Clear it.
    # 3.14 deprecates _clear_type_cache for _clear_internal_caches (which
    # also clears the JIT's executors; 3.13 has it too).
    (getattr(sys, "_clear_internal_caches", None) or sys._clear_type_cache)()
    for _ in range(3):
        gc.collect()


for i in range(WARMUP):
    cycle(i)
settle()

failures = []
if MODE == "objects":
    objects_before = len(gc.get_objects())
    refs_before = sys.getrefcount(SENTINEL)
    for i in range(WARMUP, CYCLES):
        cycle(i)
    settle()
    objects_after = len(gc.get_objects())
    refs_after = sys.getrefcount(SENTINEL)
    # Slack: gc.get_objects() counts GC-tracked containers, and a few of
    # them legitimately come and go between two measurements (linecache's
    # entry for the file is replaced, a frame or warning registry may be
    # created lazily); 900 cycles leaking one container each would show as
    # 900+, so a 64-object allowance still catches any per-cycle leak.
    if objects_after - objects_before > 64:
        failures.append(f"gc objects grew {objects_before} -> "
                        f"{objects_after} over {CYCLES - WARMUP} reloads")
    # The sentinel is referenced by fresh objects every cycle (DATA, TABLE,
    # defaults, class attribute); after an even number of cycles the same
    # set of holders exists, so the count must be exactly as before (+2 for
    # noise such as a last report or a frame still referencing it).
    if refs_after - refs_before > 2:
        failures.append(f"sentinel refcount grew {refs_before} -> "
                        f"{refs_after}")
    print(f"gc objects {objects_before} -> {objects_after}, "
          f"sentinel refs {refs_before} -> {refs_after}")
    if hasattr(sys, "gettotalrefcount"):
        # Debug interpreter: the total reference count must be flat too.
        # (Measured over a second run of cycles, after the first settled.)
        total_before = sys.gettotalrefcount()
        for i in range(CYCLES, CYCLES + 200):
            cycle(i)
        settle()
        total_after = sys.gettotalrefcount()
        print(f"total refcount {total_before} -> {total_after}")
        if total_after - total_before > 200:
            failures.append(f"sys.gettotalrefcount grew {total_before} -> "
                            f"{total_after} over 200 reloads")
else:
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    for i in range(WARMUP, CYCLES):
        cycle(i)
    settle()
    after, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"traced memory {before} -> {after}")
    # Bound: 64 KiB over 900 reloads, i.e. < 75 bytes per reload: one leaked
    # code object, dict, report or even one small str per cycle is above it.
    # What may legitimately remain is a constant, not per-cycle: linecache's
    # copy of the ~1 KiB file, the last snapshot bytes, freelists, interned
    # names.  (Objects not tracked by the GC, such as str, are invisible to
    # the gc.get_objects() check; this is the check that sees them.)
    if after - before > 64 * 1024:
        failures.append(f"traced memory grew by {after - before} bytes "
                        f"over {CYCLES - WARMUP} reloads")

if failures:
    print("\n".join(failures))
    sys.exit(1)
