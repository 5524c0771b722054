"""1,000 reload cycles of every kind -- successful edits, kind changes that
replace objects (HS101/HS102/HS103), failed reloads rolled back (HS503
syntax error, HS504 exception in an edited statement) and hotswap.patch()
-- must not accumulate references, objects or memory.

Usage: refcount_cycles.py MODE TMPDIR [CYCLES]
  MODE objects        gc object count, a sentinel's refcount, tracemalloc
                      (any interpreter)
  MODE totalrefcount  sys.gettotalrefcount() after warm-up (debug builds;
                      exit 3 when the interpreter has no gettotalrefcount)
Prints the figures; exits 1 on growth.
"""
import gc
import importlib
import os
import sys
import tracemalloc

MODE, ROOT = sys.argv[1], sys.argv[2]
CYCLES = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
WARMUP = 100
if MODE == "totalrefcount" and not hasattr(sys, "gettotalrefcount"):
    print("no sys.gettotalrefcount: not a debug interpreter")
    sys.exit(3)
sys.path.insert(0, ROOT)

import hotswap  # noqa: E402


LAST, CHANGED = {}, {}


def write(name, text):
    CHANGED[name] = LAST.get(name) != text
    LAST[name] = text
    with open(os.path.join(ROOT, name + ".py"), "w") as fh:
        fh.write(text)


write("rc_sentinel", "class Sentinel:\n    pass\n\nSENTINEL = Sentinel()\n")

TEMPLATE = '''\
import functools
from rc_sentinel import SENTINEL

DATA = [SENTINEL] * {n}


def tag(fn):
    @functools.wraps(fn)
    def wrapper(*args):
        return ("tag", fn(*args))
    return wrapper


{deco}
def f(x=SENTINEL, n={n}):
    return (x is SENTINEL, n)


@functools.lru_cache(maxsize=None)
def cached(k):
    return k * {n}


{gen}


class C:
    ref = SENTINEL
    size = {n}

    def method(self):
        return [SENTINEL] * self.size

    {kind}
    def other(self_or_cls=None):
        return {n}

    @property
    def prop(self):
        return self.size + {n}


def make_closure():
    k = {n}

    def inner():
        return k, SENTINEL
    return inner
{tail}'''


def version(n, variant=0, tail=""):
    return TEMPLATE.format(
        n=n, tail=tail,
        deco="@tag" if variant % 2 else "",
        gen=("def g():\n    yield " + str(n)) if variant % 3 == 0
        else ("def g():\n    return " + str(n)),
        kind=("@staticmethod", "@classmethod", "")[variant % 3])


BAD_SYNTAX = "\ndef broken(:\n    pass\n"
BAD_RUN = "\nBOOM = [SENTINEL][5]\n"

write("rc_mod", version(1))
importlib.invalidate_caches()
import rc_mod  # noqa: E402
from rc_sentinel import SENTINEL  # noqa: E402

held_f = rc_mod.f
held_cached = rc_mod.cached
instance = rc_mod.C()
bound = instance.method
closure = rc_mod.make_closure()


def hotfix(x=SENTINEL, n=0):
    return ("hotfix", n)


def cycle(i):
    kind = i % 6
    n = 1 + i % 2
    if kind in (0, 1):                 # plain edit
        write("rc_mod", version(n))
        report = hotswap.reload(rc_mod)
        assert report.ok and (report.changed or not CHANGED["rc_mod"]), \
            str(report)
        assert len(bound()) == n and held_cached(2) == 2 * n
        assert closure() == (1, SENTINEL)    # its cell keeps its value
    elif kind == 2:                    # kind changes: replaced objects
        write("rc_mod", version(n, variant=i // 6 % 6 + 1))
        assert hotswap.reload(rc_mod).ok
    elif kind == 3:                    # syntax error, rolled back
        write("rc_mod", version(n) + BAD_SYNTAX)
        try:
            hotswap.reload(rc_mod)
        except hotswap.ReloadError:
            pass
        else:
            raise AssertionError("syntax error accepted")
    elif kind == 4:                    # exception in an edited statement
        write("rc_mod", version(3 - n) + BAD_RUN)
        try:
            hotswap.reload(rc_mod)
        except hotswap.ReloadError:
            pass
        else:
            raise AssertionError("exception accepted")
    else:                              # the hotfix API
        report = hotswap.patch(held_f, hotfix)
        assert report.ok
        write("rc_mod", version(n))     # and back to the module's code
        hotswap.reload(rc_mod)


def settle():
    for _ in range(3):
        gc.collect()


for i in range(WARMUP):
    cycle(i)
settle()

failures = []
if MODE == "totalrefcount":
    # Every cycle type runs CYCLES / 6 times; measure after a multiple of
    # 6 cycles so the module is in the same version at both points.
    before = sys.gettotalrefcount()
    for i in range(WARMUP, WARMUP + CYCLES):
        cycle(i)
    settle()
    after = sys.gettotalrefcount()
    print(f"gettotalrefcount: {before} -> {after} ({after - before:+d}) "
          f"over {CYCLES} cycles")
    # One leaked reference per cycle of one kind would be CYCLES/6 = 166.
    if after - before > 100:
        failures.append(f"total refcount grew by {after - before} over "
                        f"{CYCLES} reload cycles")
else:
    objects_before = len(gc.get_objects())
    refs_before = sys.getrefcount(SENTINEL)
    tracemalloc.start()
    mem_before, _ = tracemalloc.get_traced_memory()
    for i in range(WARMUP, WARMUP + CYCLES):
        cycle(i)
    settle()
    mem_after, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    objects_after = len(gc.get_objects())
    refs_after = sys.getrefcount(SENTINEL)
    print(f"gc objects {objects_before} -> {objects_after}; sentinel refs "
          f"{refs_before} -> {refs_after}; traced memory "
          f"{mem_after - mem_before:+d} bytes over {CYCLES} cycles")
    if objects_after - objects_before > 64:
        failures.append(f"gc objects grew {objects_before} -> "
                        f"{objects_after}")
    if refs_after - refs_before > 4:
        failures.append(f"sentinel refcount grew {refs_before} -> "
                        f"{refs_after}")
    if mem_after - mem_before > 256 * 1024:
        failures.append(f"traced memory grew by {mem_after - mem_before}")

if failures:
    print("\n".join(failures))
    sys.exit(1)
