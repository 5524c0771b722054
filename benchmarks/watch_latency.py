"""Save -> applied latency of the watcher, and its idle CPU use.

    python benchmarks/watch_latency.py [--edits 100] [--files 10000]

Latency: a child process runs a busy pure-Python main loop under
``hotswap.watch()`` (auto mode: reloads arrive through the pending-call safe
point) and reports, through a pipe, the monotonic time at which it first sees
each new version.  This process plays the editor: it saves the file with an
atomic rename (as most editors do) and notes the monotonic time just before
the save.  CLOCK_MONOTONIC is system-wide, so the two clocks agree.

Idle CPU: a child watches a tree of N modules (all imported and tracked) and
sleeps; the CPU time it uses while idle is measured with getrusage, for the
inotify and the polling backend.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

CHILD_LATENCY = r"""
import os, sys, time
root, fd = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, root)
import hotswap
import target
hotswap.watch(root, debounce=float(sys.argv[3]))
out = os.fdopen(fd, "w", buffering=1)
out.write("ready\n")
seen = target.version()
last = time.monotonic()
pauses = []
worst = 0.0
while True:
    for _ in range(200):     # busy Python code, no blocking call
        pass
    now = time.monotonic()
    worst = max(worst, now - last)   # the reload runs inside this gap
    last = now
    v = target.version()
    if v != seen:
        pauses.append(worst)
        out.write(f"{v} {time.monotonic()} {worst}\n")
        seen = v
        worst = 0.0
        last = time.monotonic()
        if v < 0:
            break
"""

CHILD_IDLE = r"""
import os, resource, sys, time
root, n, backend, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
sys.path.insert(0, root)
import hotswap
import importlib
for i in range(n):
    importlib.import_module(f"pkg.m{i}")
hotswap.watch(root, backend=backend)
info = hotswap.watching()
time.sleep(0.5)
r0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.monotonic()
time.sleep(seconds)
r1 = resource.getrusage(resource.RUSAGE_SELF)
t1 = time.monotonic()
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
print(json.dumps({"backend": info["backend"], "files": info["files"],
                  "dirs": info["watched_dirs"], "cpu_s": cpu,
                  "wall_s": t1 - t0, "cpu_percent": 100 * cpu / (t1 - t0)}))
""".replace("import os,", "import json, os,")


def source(n):
    return textwrap.dedent(f"""
        def version():
            return {n}
        """)


def save(path, text):
    tmp = path + ".~tmp"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def latency(edits, debounce):
    root = tempfile.mkdtemp(prefix="hs_latency_")
    path = os.path.join(root, "target.py")
    save(path, source(0))
    r, w = os.pipe()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_LATENCY, root, str(w), str(debounce)],
        pass_fds=(w,), stderr=subprocess.DEVNULL)
    os.close(w)
    pipe = os.fdopen(r)
    assert pipe.readline().strip() == "ready"
    samples, pauses = [], []
    for i in range(1, edits + 1):
        time.sleep(0.05)                    # a developer does not save at 1 kHz
        t0 = time.monotonic()
        save(path, source(i))
        v, t1, pause = pipe.readline().split()
        assert int(v) == i, (v, i)
        samples.append((float(t1) - t0) * 1000)
        pauses.append(float(pause) * 1000)
    save(path, source(-1))
    pipe.readline()
    child.wait(timeout=30)
    samples.sort()
    pauses.sort()
    return {
        "pause_median_ms": statistics.median(pauses),
        "pause_worst_ms": pauses[-1],
        "edits": edits,
        "debounce_ms": debounce * 1000,
        "median_ms": statistics.median(samples),
        "p90_ms": samples[int(len(samples) * 0.9) - 1],
        "worst_ms": samples[-1],
        "best_ms": samples[0],
    }


def idle(files, backend, seconds):
    root = tempfile.mkdtemp(prefix="hs_idle_")
    per_dir = 100
    os.makedirs(os.path.join(root, "pkg"))
    open(os.path.join(root, "pkg", "__init__.py"), "w").close()
    # modules spread over sub-directories, as in a real tree
    for i in range(files):
        d = os.path.join(root, "pkg")
        with open(os.path.join(d, f"m{i}.py"), "w") as fh:
            fh.write(f"X = {i}\n")
    del per_dir
    out = subprocess.run(
        [sys.executable, "-c", CHILD_IDLE, root, str(files), backend,
         str(seconds)], capture_output=True, text=True, timeout=600)
    if out.returncode:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--edits", type=int, default=100)
    ap.add_argument("--debounce", type=float, default=0.05)
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--idle-seconds", type=float, default=10.0)
    args = ap.parse_args()
    lat = latency(args.edits, args.debounce)
    print(f"save -> applied, {lat['edits']} atomic saves, debounce "
          f"{lat['debounce_ms']:.0f} ms: median {lat['median_ms']:.1f} ms, "
          f"p90 {lat['p90_ms']:.1f} ms, worst {lat['worst_ms']:.1f} ms "
          f"(best {lat['best_ms']:.1f} ms)")
    print(f"main-thread pause of an automatic reload (longest gap between "
          f"two iterations of the busy loop around each reload): median "
          f"{lat['pause_median_ms']:.2f} ms, worst {lat['pause_worst_ms']:.2f} ms")
    results = {"python": sys.version.split()[0], "latency": lat, "idle": []}
    for backend in ("inotify", "poll"):
        r = idle(args.files, backend, args.idle_seconds)
        results["idle"].append(r)
        print(f"idle, {r['files']} tracked files, {r['dirs']} watched dirs, "
              f"backend {r['backend']}: {r['cpu_s'] * 1000:.1f} ms CPU in "
              f"{r['wall_s']:.1f} s ({r['cpu_percent']:.3f} %)")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
