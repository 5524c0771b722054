"""Save -> new response under load: hotswap against the frameworks' reloaders.

    python benchmarks/frameworks.py [--edits 10] [--rate 50]
                                    [--only fastapi,flask,django]
                                    [--out FILE.json]

For each framework the same small app runs twice, on 127.0.0.1 and an
ephemeral port, with the interpreter running this script:

=========  ====================================  ================================
framework  hotswap                               the framework's own reloader
=========  ====================================  ================================
FastAPI    python -m hotswap run -q              python -m uvicorn app:app
           -m uvicorn app:app                    --reload
Flask      python -m hotswap run -q              python -m flask --app app run
           -m flask --app app run                --debug
Django     python -m hotswap run -q              python manage.py runserver
           manage.py runserver --noreload        (autoreload)
=========  ====================================  ================================

A load thread sends GETs at ``--rate`` requests/s, alternating ``/count``
(increments a module-level dict, returns it) and ``/hello``, for the whole
run (bounded in count and time).  This process then saves ``--edits`` new
bodies of the ``/hello`` handler (atomic rename, as editors save); after
each save it polls ``/hello`` every 10 ms until the new text is served: the
latency is from just before the rename to the first new reply.  Between
edits it waits ``--settle`` seconds (a restarted server must be up and its
reloader must have taken its first snapshot, or the next save is missed).

Reported per contender: median and worst latency, edits never served within
``--timeout`` (missed), the load requests that failed (connection error,
5 s timeout or 5xx) out of those sent, the slowest load request (a
reloader that keeps the listening socket across restarts makes requests
wait instead of fail), and whether the in-memory counter
survived (its values are 1..n with no repeat).  Markdown on stdout, JSON in
benchmarks/results/ (or --out).  Not a test: nothing asserts a time.
Servers are stopped (their whole process group) at the end of each run.
"""
from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# -- the apps ------------------------------------------------------------------

FASTAPI = """\
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

app = FastAPI()
HITS = {{"n": 0}}


@app.get("/count")
def count():
    HITS["n"] += 1
    return {{"n": HITS["n"]}}


@app.get("/hello", response_class=PlainTextResponse)
def hello():
    return "{hello}"
"""

FLASK = """\
from flask import Flask

app = Flask(__name__)
HITS = {{"n": 0}}


@app.get("/count")
def count():
    HITS["n"] += 1
    return {{"n": HITS["n"]}}


@app.get("/hello")
def hello():
    return "{hello}"
"""

DJANGO_VIEWS = """\
from django.http import HttpResponse, JsonResponse

HITS = {{"n": 0}}


def count(request):
    HITS["n"] += 1
    return JsonResponse({{"n": HITS["n"]}})


def hello(request):
    return HttpResponse("{hello}")
"""

DJANGO_FILES = {
    "settings.py": """\
SECRET_KEY = "benchmark-only"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "urls"
INSTALLED_APPS = []
MIDDLEWARE = []
DATABASES = {}
""",
    "urls.py": """\
from django.urls import path

import views

urlpatterns = [path("count", views.count), path("hello", views.hello)]
""",
    "manage.py": """\
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
from django.core.management import execute_from_command_line
execute_from_command_line(sys.argv)
""",
}

HS = ["-m", "hotswap", "run", "-q"]

FRAMEWORKS = {
    # name: (import needed, edited file, its template, other files,
    #        hotswap argv, native argv, native reloader's name)
    "fastapi": ("fastapi", "app.py", FASTAPI, {},
                HS + ["-m", "uvicorn", "app:app", "--host", "127.0.0.1",
                      "--port", "PORT", "--log-level", "warning"],
                ["-m", "uvicorn", "app:app", "--host", "127.0.0.1",
                 "--port", "PORT", "--log-level", "warning", "--reload"],
                "uvicorn --reload"),
    "flask": ("flask", "app.py", FLASK, {},
              HS + ["-m", "flask", "--app", "app", "run", "--host",
                    "127.0.0.1", "--port", "PORT"],
              ["-m", "flask", "--app", "app", "run", "--host", "127.0.0.1",
               "--port", "PORT", "--debug"],
              "flask run --debug"),
    "django": ("django", "views.py", DJANGO_VIEWS, DJANGO_FILES,
               HS + ["manage.py", "runserver", "--noreload",
                     "127.0.0.1:PORT"],
               ["manage.py", "runserver", "127.0.0.1:PORT"],
               "runserver (autoreload)"),
}

# -- HTTP ----------------------------------------------------------------------


def get(port, path, timeout=5.0):
    """(status or None, body or error text)."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.read().decode("utf-8", "replace")
        finally:
            c.close()
    except (OSError, http.client.HTTPException) as e:
        return None, f"{type(e).__name__}: {e}"


class Load:
    """GETs at a fixed rate on a background thread, bounded in count and
    time; records every reply."""

    def __init__(self, port, rate, max_seconds):
        self.port, self.rate, self.max_seconds = port, rate, max_seconds
        self.stop = threading.Event()
        self.log = []
        self.slowest = 0.0
        self.crash = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            self._loop()
        except Exception as e:  # reported, never silent
            self.crash = f"{type(e).__name__}: {e}"

    def _loop(self):
        paths = ("/count", "/hello")
        end = time.monotonic() + self.max_seconds
        limit = int(self.rate * self.max_seconds)
        step = 1.0 / self.rate
        nxt = time.monotonic()
        for i in range(limit):
            if self.stop.is_set() or time.monotonic() > end:
                break
            path = paths[i % 2]
            t0 = time.monotonic()
            status, body = get(self.port, path, timeout=5.0)
            self.log.append((path, status, body))
            self.slowest = max(self.slowest, time.monotonic() - t0)
            nxt += step
            self.stop.wait(max(0.0, nxt - time.monotonic()))

    def start(self):
        self.thread.start()

    def finish(self):
        self.stop.set()
        self.thread.join(15)

    def summary(self):
        failed = [x for x in self.log if x[1] is None or x[1] >= 500]
        counts = []
        for path, status, body in self.log:
            if path == "/count" and status == 200:
                try:
                    counts.append(int(json.loads(body)["n"]))
                except (ValueError, KeyError, TypeError):
                    pass
        kept = bool(counts) and sorted(counts) == list(
            range(1, len(counts) + 1))
        return {"requests": len(self.log), "failed": len(failed),
                "failed_examples": sorted({x[2][:80] if x[1] is None
                                           else f"HTTP {x[1]}"
                                           for x in failed})[:5],
                "slowest_request_ms": self.slowest * 1000,
                "load_thread_crash": self.crash,
                "count_replies": len(counts), "state_kept": kept,
                "count_resets": sum(1 for a, b in zip(counts, counts[1:])
                                    if b < a)}

# -- one contender ----------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def save(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def stop(proc):
    """SIGTERM to the server's process group (the reloaders' children
    too), SIGKILL if it lingers.  Not SIGINT: a program started from a
    background shell job inherits SIGINT ignored."""
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 10)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            pass
    # a reloader's child may outlive its parent: the group goes too
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_one(framework, contender, args):
    _, edited, template, others, hs_argv, native_argv, _ = \
        FRAMEWORKS[framework]
    argv = hs_argv if contender == "hotswap" else native_argv
    port = free_port()
    result = {"framework": framework, "contender": contender,
              "command": "python " + " ".join(argv).replace(
                  "PORT", str(port)),
              "latencies": [], "missed": 0, "error": None}
    with tempfile.TemporaryDirectory(prefix="hs-fw-") as proj:
        for name, text in others.items():
            with open(os.path.join(proj, name), "w") as f:
                f.write(text)
        target = os.path.join(proj, edited)
        save(target, template.format(hello="v0"))
        log = open(os.path.join(proj, "server.log"), "w")
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1",
                   PYTHONUNBUFFERED="1")
        proc = subprocess.Popen(
            [sys.executable, *[a.replace("PORT", str(port)) for a in argv]],
            cwd=proj, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        load = Load(port, args.rate,
                    max_seconds=args.edits * (args.settle + args.timeout)
                    + 30)
        try:
            end = time.monotonic() + 60
            while get(port, "/hello", timeout=1)[0] != 200:
                if proc.poll() is not None or time.monotonic() > end:
                    raise RuntimeError("server did not start")
                time.sleep(0.1)
            load.start()
            time.sleep(args.settle)
            for i in range(1, args.edits + 1):
                want = f"v{i}"
                text = template.format(hello=want)
                t0 = time.monotonic()
                save(target, text)
                deadline = t0 + args.timeout
                while True:
                    status, body = get(port, "/hello", timeout=1)
                    now = time.monotonic()
                    if status == 200 and body == want:
                        result["latencies"].append(now - t0)
                        break
                    if now > deadline:
                        result["missed"] += 1
                        break
                    time.sleep(0.01)
                print(f"  {framework:8} {contender:8} edit {i}: "
                      + (f"{(now - t0) * 1000:.0f} ms"
                         if status == 200 and body == want else "missed"),
                      file=sys.stderr, flush=True)
                time.sleep(args.settle)
        except Exception as e:  # recorded, the run goes on
            result["error"] = f"{type(e).__name__}: {e}"
        finally:
            load.finish()
            stop(proc)
            log.close()
            with open(os.path.join(proj, "server.log")) as f:
                result["log_tail"] = f.read()[-2000:]
    result.update(load.summary())
    lat = result["latencies"]
    result["median_ms"] = statistics.median(lat) * 1000 if lat else None
    result["worst_ms"] = max(lat) * 1000 if lat else None
    return result

# -- report -------------------------------------------------------------------


def markdown(results, args):
    rows = ["| framework | contender | median save→new response | worst "
            "| missed edits | failed requests (of sent) | slowest request "
            "| in-memory state |",
            "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in results:
        name = ("hotswap" if r["contender"] == "hotswap"
                else FRAMEWORKS[r["framework"]][6])
        fmt = (lambda v: "—" if v is None else
               (f"{v:.0f} ms" if v < 1000 else f"{v / 1000:.2f} s"))
        state = ("kept" if r["state_kept"]
                 else f"lost ({r['count_resets']} resets)")
        err = f" ({r['error']})" if r["error"] else ""
        if r["load_thread_crash"]:
            err += f" (load stopped: {r['load_thread_crash']})"
        rows.append(
            f"| {r['framework']} | {name}{err} | {fmt(r['median_ms'])} | "
            f"{fmt(r['worst_ms'])} | {r['missed']}/{args.edits} | "
            f"{r['failed']} ({r['requests']}) | "
            f"{fmt(r['slowest_request_ms'])} | {state} |")
    return "\n".join(rows)


def versions():
    out = {}
    for mod in ("fastapi", "uvicorn", "starlette", "flask", "werkzeug",
                "django", "hotswap"):
        try:
            from importlib import metadata
            out[mod] = metadata.version(mod)
        except Exception:
            out[mod] = None
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--edits", type=int, default=10)
    p.add_argument("--rate", type=float, default=50.0,
                   help="load requests per second (default 50)")
    p.add_argument("--settle", type=float, default=2.0,
                   help="seconds between an edit served and the next save "
                        "(default 2)")
    p.add_argument("--timeout", type=float, default=15.0,
                   help="an edit not served after this is missed "
                        "(default 15 s)")
    p.add_argument("--only", default="fastapi,flask,django")
    p.add_argument("--contenders", default="hotswap,native")
    p.add_argument("--out")
    args = p.parse_args()

    results = []
    for fw in args.only.split(","):
        module = FRAMEWORKS[fw][0]
        try:
            __import__(module)
        except ImportError:
            print(f"skipping {fw}: {module} is not installed",
                  file=sys.stderr)
            continue
        for contender in args.contenders.split(","):
            print(f"{fw} / {contender}", file=sys.stderr, flush=True)
            results.append(run_one(fw, contender, args))

    py = platform.python_version()
    info = {"python": py, "platform": platform.platform(),
            "cpus": os.cpu_count(), "versions": versions(),
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "args": vars(args), "results": results}
    out = args.out or os.path.join(
        HERE, "results",
        f"frameworks-{datetime.date.today()}-py{py}.json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(info, f, indent=1)
    print(f"## Save → new response under load (CPython {py}, "
          f"{args.edits} edits, {args.rate:g} req/s)\n")
    print(markdown(results, args))
    print(f"\nJSON: {out}")


if __name__ == "__main__":
    main()
