"""CPU time of one reload against importlib.reload, in one process.

    python benchmarks/cpu_ratio.py [N] [REPS]      (default 10000 3)

The package of benchmarks/gen.py with N functions; edits: every function
body, then one function body (hotswap.reload), then every function body
(importlib.reload, last: it replaces the module's objects).  Each edit is
reloaded REPS + 1 times (the first untimed); the minimum of
time.process_time() around the reload call is printed.  CPU time, not wall
time: on a shared machine the wall time of benchmarks/run.py varies by 2x
from run to run, and the ratio to importlib.reload is the number to compare
(both taken here in the same process, minutes apart at most).
"""
import gc
import importlib
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402


def main(argv):
    n = int(argv[0]) if argv else 10000
    reps = int(argv[1]) if len(argv) > 1 else 3
    sys.dont_write_bytecode = True
    root = tempfile.mkdtemp(prefix="hs-cpu-")
    gen.write_package(root, "synthpkg", n)
    sys.path.insert(0, root)
    import hotswap
    core = importlib.import_module("synthpkg.core")
    importlib.import_module("synthpkg.user")

    def run(edit, reload, start):
        times = []
        for r in range(start, start + reps + 1):
            gen.write_core(root, "synthpkg", n, **{edit: r})
            gc.collect()
            t = time.process_time()
            reload(core)
            d = time.process_time() - t
            if r > start:
                times.append(d)
        return min(times)

    every = run("body", hotswap.reload, 1)
    one = run("target", hotswap.reload, 100)
    base = run("body", importlib.reload, 1000)
    print(f"{sys.version.split()[0]} n={n}: every function body "
          f"{every * 1e3:.0f} ms ({every / base:.2f}x importlib.reload), "
          f"one function body {one * 1e3:.2f} ms (1/{base / one:.0f}), "
          f"importlib.reload {base * 1e3:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
