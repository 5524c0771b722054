"""Real servers under ``python -m hotswap run``, real HTTP clients, real edits.

For each framework -- FastAPI under uvicorn (``-m uvicorn``), Flask on
werkzeug's server (``-m flask run``), Django's ``runserver --noreload`` --
a client thread sends ~50 requests/s (bounded in count and time) while the
test saves:

1. a handler body change: the new reply is served within LATENCY of the save;
2. a route renamed and one added (the framework adapters): the old path is
   404, the new paths 200, and every probed path answers with the status a
   fresh import of the new source gives (checked in a separate process with
   the framework's own test client);
3. a syntax error: the old code keeps serving, the events file says
   "failed" (HS503);
4. the fix: served within LATENCY, events "applied".

gunicorn (pre-fork, 2 sync workers): every worker reloads on its own.
Also: a module whose reload failed because another module lacked a name
(urls.py saved before views.py) applies when that module is saved; a field
added to a pydantic model reaches the FastAPI routes built from it
(response_model, body, OpenAPI).

Throughout: no request failed (connection error, timeout or 5xx), and a
module-level dict incremented per request kept counting (its values are
1..n with no repeat: a reset would repeat them).  Every server is stopped at
the end of its test, on failure too.
"""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import hotswap
import pytest

# each test takes ~4-6 s: not marked slow
pytestmark = pytest.mark.skipif(not hasattr(hotswap, "watch"),
                                reason="no watcher in this build")

# save -> new behaviour served.  The issue measured 55-90 ms; the bound
# leaves room for a shared 2-core machine under load.
LATENCY = 1.0
RATE = 50            # requests per second from the load thread
LOAD_SECONDS = 12    # the load thread stops by then, whatever happens
LOAD_MAX = RATE * LOAD_SECONDS


def write(path, source):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip("\n"))
    return path


def save(path, source):
    """Save as editors do: write a temporary file, rename it over."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(textwrap.dedent(source).lstrip("\n"))
    os.replace(tmp, path)


def read_events(path):
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """HTTP GETs on 127.0.0.1:port; every request is recorded."""

    def __init__(self, port):
        self.port = port
        self.lock = threading.Lock()
        self.log = []        # (path, status or None, body or error text)
        self.stop = threading.Event()
        self.thread = None

    def post(self, path, payload):
        """POST a JSON body (not recorded)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            c.request("POST", path, json.dumps(payload),
                      {"Content-Type": "application/json"})
            r = c.getresponse()
            return r.status, r.read().decode("utf-8", "replace")
        finally:
            c.close()

    def get(self, path, record=True):
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                c.request("GET", path)
                r = c.getresponse()
                status, body = r.status, r.read().decode("utf-8", "replace")
            finally:
                c.close()
        except (OSError, http.client.HTTPException) as e:
            status, body = None, f"{type(e).__name__}: {e}"
        if record:
            with self.lock:
                self.log.append((path, status, body))
        return status, body

    def failures(self):
        with self.lock:
            return [x for x in self.log if x[1] is None or x[1] >= 500]

    def counts(self):
        with self.lock:
            return [int(json.loads(b)["n"]) for p, s, b in self.log
                    if p == "/count" and s == 200]

    def start_load(self, paths):
        def run():
            end = time.monotonic() + LOAD_SECONDS
            i = 0
            while (not self.stop.is_set() and i < LOAD_MAX
                   and time.monotonic() < end):
                self.get(paths[i % len(paths)])
                i += 1
                self.stop.wait(1 / RATE)
        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def stop_load(self):
        self.stop.set()
        if self.thread is not None:
            self.thread.join(10)

    def wait_for(self, path, pred, timeout, what):
        """Poll PATH until pred(status, body); return the seconds it took."""
        t0 = time.monotonic()
        while True:
            status, body = self.get(path)
            if pred(status, body):
                return time.monotonic() - t0
            assert time.monotonic() - t0 < timeout, (
                f"{what}: {path} still answers {status} {body[:200]!r}")
            time.sleep(0.01)


class Server:
    """``python -m hotswap run --events F ARGS`` in its own session."""

    def __init__(self, tmp_path, args):
        self.tmp = tmp_path
        self.events = tmp_path / "events.jsonl"
        self.out = open(tmp_path / "stdout.txt", "w")
        self.err = open(tmp_path / "stderr.txt", "w")
        env = dict(os.environ, PYTHONUNBUFFERED="1",
                   PYTHONDONTWRITEBYTECODE="1")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-X", "dev", "-m", "hotswap", "run",
             "--events", str(self.events), *args],
            cwd=tmp_path / "proj", stdout=self.out, stderr=self.err,
            stdin=subprocess.DEVNULL, env=env, start_new_session=True)

    def stderr(self):
        return (self.tmp / "stderr.txt").read_text()

    def output(self):
        return ((self.tmp / "stdout.txt").read_text() + self.stderr())

    def wait_ready(self, client, path="/hello", timeout=40):
        end = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, (
                f"server exited {self.proc.returncode}:\n{self.output()}")
            assert time.monotonic() < end, (
                f"server not answering:\n{self.output()}")
            status, _ = client.get(path, record=False)
            if status is not None:
                return
            time.sleep(0.1)

    def wait_events(self, n, timeout=10):
        end = time.monotonic() + timeout
        while len(read_events(self.events)) < n:
            assert time.monotonic() < end, (
                f"{n} events expected, got {read_events(self.events)}\n"
                f"{self.stderr()}")
            time.sleep(0.02)
        return read_events(self.events)

    def close(self):
        # SIGTERM, not SIGINT: under a background shell job the server
        # inherits SIGINT ignored
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(5)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)
        self.out.close()
        self.err.close()


def fresh_statuses(tmp_path, script, paths):
    """Status of each path in a fresh process that imports the current
    source (the framework's own test client, no server)."""
    p = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *paths],
        cwd=tmp_path / "proj", capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL,
        env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    assert p.returncode == 0, p.stdout + p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


PROBED = ["/hello", "/count", "/old", "/renamed", "/added"]


def scenario(tmp_path, server, client, target, sources, fresh_script,
             modules):
    """The edits every framework goes through; sources = (hello_v2,
    renamed, broken, fixed) texts of TARGET (the file holding the routes
    and the handlers, or a callable saving them)."""
    assert client.get("/hello") == (200, "v1")
    assert client.get("/old")[0] == 200
    assert client.get("/renamed")[0] == 404
    client.start_load(["/count", "/hello"])
    time.sleep(0.5)
    latencies = {}

    # 1. handler body
    target(sources["body"])
    latencies["body"] = client.wait_for(
        "/hello", lambda s, b: (s, b) == (200, "v2"), 5, "body edit")
    server.wait_events(1)

    # 2. route renamed, one added
    target(sources["routes"])
    latencies["routes"] = client.wait_for(
        "/renamed", lambda s, b: s == 200, 5, "route rename")
    assert client.get("/old")[0] == 404
    assert client.get("/added") == (200, "added")
    assert client.get("/hello") == (200, "v2")
    server.wait_events(2)
    live = {p: client.get(p)[0] for p in PROBED}
    assert live == fresh_statuses(tmp_path, fresh_script, PROBED)
    assert live == {"/hello": 200, "/count": 200, "/old": 404,
                    "/renamed": 200, "/added": 200}

    # 3. syntax error: old code kept, "failed" recorded
    target(sources["broken"])
    evs = server.wait_events(3)
    assert evs[2]["event"] == "failed", evs
    time.sleep(0.3)
    assert client.get("/hello") == (200, "v2")
    assert client.get("/renamed")[0] == 200

    # 4. the fix
    target(sources["fixed"])
    latencies["fix"] = client.wait_for(
        "/hello", lambda s, b: (s, b) == (200, "v3"), 5, "fix")
    evs = server.wait_events(4)
    time.sleep(0.5)          # a little more load on the fixed code
    client.stop_load()

    assert [e["event"] for e in evs] == ["applied", "applied", "failed",
                                         "applied"], evs
    assert evs[2]["error"]["code"] == "HS503", evs[2]
    # one event per save, naming the module saved
    assert [e["modules"] for e in evs] == modules, evs
    assert client.failures() == [], client.failures()[:5]
    counts = client.counts()
    assert len(counts) > 20, counts
    # kept counting through four saves: 1..n, none repeated
    assert sorted(counts) == list(range(1, len(counts) + 1)), counts
    for what, seconds in latencies.items():
        assert seconds < LATENCY, (what, latencies)
    err = server.stderr()
    # the start-up line names the project (for -m uvicorn / -m flask too)
    assert f"hotswap: watching {(tmp_path / 'proj').resolve()}:" in err, err
    assert "reloaded" in err, err
    return latencies


def run_scenario(tmp_path, args, target, sources, fresh_script,
                 modules=(["app"],) * 4):
    port = free_port()
    server = Server(tmp_path, [a.replace("PORT", str(port)) for a in args])
    client = Client(port)
    try:
        server.wait_ready(client)
        lat = scenario(tmp_path, server, client, target, sources,
                       fresh_script, list(modules))
        print(f"save -> served: " + ", ".join(
            f"{k} {v * 1000:.0f} ms" for k, v in lat.items()))
    finally:
        client.stop_load()
        server.close()
    return server


def variants(template):
    """The four texts of a handler module from one template."""
    return {
        "body": template(hello="v2", old="old", added=False),
        "routes": template(hello="v2", old="renamed", added=True),
        "broken": template(hello="v2", old="renamed", added=True)
        + "\ndef broken(:\n",
        "fixed": template(hello="v3", old="renamed", added=True),
    }


# -- FastAPI under uvicorn ---------------------------------------------------

def fastapi_app(hello="v1", old="old", added=False):
    src = f"""\
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


@app.get("/{old}", response_class=PlainTextResponse)
def old():
    return "{old}"
"""
    if added:
        src += """

@app.get("/added", response_class=PlainTextResponse)
def added():
    return "added"
"""
    return src


FASTAPI_FRESH = """
    import json, sys
    from fastapi.testclient import TestClient
    import app
    c = TestClient(app.app)
    print(json.dumps({p: c.get(p).status_code for p in sys.argv[1:]}))
"""


def test_fastapi_under_uvicorn(tmp_path):
    pytest.importorskip("fastapi", reason="fastapi (pydantic-core) is not "
                        "installable on this interpreter")
    pytest.importorskip("uvicorn")
    app = write(tmp_path / "proj" / "app.py", fastapi_app())
    run_scenario(
        tmp_path,
        ["-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", "PORT",
         "--log-level", "warning"],
        lambda text: save(app, text), variants(fastapi_app), FASTAPI_FRESH)


# -- Flask on werkzeug's server ----------------------------------------------

def flask_app(hello="v1", old="old", added=False):
    src = f"""\
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


@app.get("/{old}")
def old():
    return "{old}"
"""
    if added:
        src += """

@app.get("/added")
def added():
    return "added"
"""
    return src


FLASK_FRESH = """
    import json, sys
    import app
    c = app.app.test_client()
    print(json.dumps({p: c.get(p).status_code for p in sys.argv[1:]}))
"""


def test_flask_on_werkzeug(tmp_path):
    pytest.importorskip("flask")
    app = write(tmp_path / "proj" / "app.py", flask_app())
    run_scenario(
        tmp_path,
        ["-m", "flask", "--app", "app", "run", "--host", "127.0.0.1",
         "--port", "PORT"],
        lambda text: save(app, text), variants(flask_app), FLASK_FRESH)


# -- Django runserver --noreload ---------------------------------------------

DJANGO_SETTINGS = """
    SECRET_KEY = "test-only"
    DEBUG = True
    ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
    ROOT_URLCONF = "urls"
    INSTALLED_APPS = []
    MIDDLEWARE = []
    DATABASES = {}
    USE_TZ = True
"""

DJANGO_MANAGE = """
    import os, sys
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
"""


def django_views(hello="v1", old="old", added=False):
    return f"""\
from django.http import HttpResponse, JsonResponse

HITS = {{"n": 0}}


def count(request):
    HITS["n"] += 1
    return JsonResponse({{"n": HITS["n"]}})


def hello(request):
    return HttpResponse("{hello}")


def old(request):
    return HttpResponse("{old}")


def added(request):
    return HttpResponse("added")
"""


def django_urls(old="old", added=False):
    src = f"""\
from django.urls import path

import views

urlpatterns = [
    path("count", views.count),
    path("hello", views.hello),
    path("{old}", views.old),
"""
    if added:
        src += '    path("added", views.added),\n'
    return src + "]\n"


DJANGO_FRESH = """
    import json, os, sys
    os.environ["DJANGO_SETTINGS_MODULE"] = "settings"
    import django
    django.setup()
    from django.test import Client
    c = Client()
    print(json.dumps({p: c.get(p).status_code for p in sys.argv[1:]}))
"""


def test_django_runserver(tmp_path):
    pytest.importorskip("django")
    proj = tmp_path / "proj"
    write(proj / "settings.py", DJANGO_SETTINGS)
    write(proj / "manage.py", DJANGO_MANAGE)
    views = write(proj / "views.py", django_views())
    urls = write(proj / "urls.py", django_urls())

    # the body, the syntax error and the fix edit views.py (a view), the
    # rename urls.py (the URLconf)
    def target(step):
        kind, text = step
        save(views if kind == "views" else urls, text)

    sources = {
        "body": ("views", django_views(hello="v2")),
        "routes": ("urls", django_urls(old="renamed", added=True)),
        "broken": ("views", django_views(hello="v2") + "\ndef broken(:\n"),
        "fixed": ("views", django_views(hello="v3")),
    }
    run_scenario(
        tmp_path,
        ["manage.py", "runserver", "--noreload", "127.0.0.1:PORT"],
        target, sources, DJANGO_FRESH,
        modules=[["views"], ["urls"], ["views"], ["views"]])


def test_django_urls_saved_before_the_view_they_name(tmp_path):
    """urls.py saved first fails (HS504: views.later does not exist yet) and
    stays blocked; saving views.py brings both in, as one batch."""
    pytest.importorskip("django")
    proj = tmp_path / "proj"
    write(proj / "settings.py", DJANGO_SETTINGS)
    write(proj / "manage.py", DJANGO_MANAGE)
    views = write(proj / "views.py", django_views())
    urls = write(proj / "urls.py", django_urls())
    port = free_port()
    server = Server(tmp_path, ["manage.py", "runserver", "--noreload",
                               f"127.0.0.1:{port}"])
    client = Client(port)
    try:
        server.wait_ready(client)
        # as an editor's "save all" may do: the URLconf first, naming a
        # view that views.py defines only once it is saved too
        save(urls, django_urls().replace(
            "]\n", '    path("later", views.later),\n]\n'))
        assert server.wait_events(1)[0]["error"]["code"] == "HS504"
        save(views, django_views() + "\n\ndef later(request):\n"
             "    return HttpResponse('later')\n")
        evs = server.wait_events(2)
        assert evs[1]["event"] == "applied" and sorted(
            evs[1]["modules"]) == ["urls", "views"], evs
        client.wait_for("/later", lambda s, b: (s, b) == (200, "later"), 3,
                        "the route of the earlier save")
        assert "urls had kept its old code since" in server.output(), \
            server.output()
    finally:
        server.close()


PYDANTIC_APP = """
    from typing import List, Optional

    from fastapi import FastAPI
    from pydantic import BaseModel

    app = FastAPI()
    ORDERS = []


    class Item(BaseModel):
        name: str = "a"


    class Order(BaseModel):
        item: Item
        note: Optional[str] = None


    @app.get("/item", response_model=Item)
    def item():
        return Item()


    @app.get("/items", response_model=List[Item])
    def items():
        return [Item(), Item(name="z")]


    @app.get("/dump")
    def dump():
        return Item().model_dump()


    @app.post("/order")
    def order(o: Order):
        ORDERS.append(o.model_dump())  # no instance kept (HS208)
        return {"n": len(ORDERS), "order": o.model_dump()}
"""

# the edit: Item gains a field with a default, then Order a required one
PYDANTIC_V2 = textwrap.dedent(PYDANTIC_APP).replace(
    'name: str = "a"', 'name: str = "b"\n    qty: int = 7')
PYDANTIC_V3 = PYDANTIC_V2.replace(
    "note: Optional[str] = None", "note: Optional[str] = None\n"
    "    priority: int")

PYDANTIC_FRESH = """
    import json, sys
    from fastapi.testclient import TestClient
    import app
    c = TestClient(app.app)
    out = {p: [c.get(p).status_code, c.get(p).json()] for p in sys.argv[1:]}
    for body in ({"item": {"name": "x"}},
                 {"item": {"name": "x"}, "priority": 2}):
        r = c.post("/order", json=body)
        out[json.dumps(body)] = [r.status_code, r.json().get("order")]
    schema = app.app.openapi()["components"]["schemas"]
    out["schema"] = {k: sorted(v["properties"]) for k, v in schema.items()
                     if k in ("Item", "Order")}
    print(json.dumps(out))
"""


def test_fastapi_pydantic_field_added_is_served(tmp_path):
    """A field added to a pydantic model reaches the FastAPI routes built
    from it before the edit: response_model (plain and List[...]), a body
    model nesting it, a required body field (422 without it), and the
    OpenAPI schema -- as a fresh import of the new source serves them."""
    pytest.importorskip("fastapi", reason="fastapi (pydantic-core) is not "
                        "installable on this interpreter")
    pytest.importorskip("uvicorn")
    pytest.importorskip("httpx")  # the fresh process's TestClient
    app = write(tmp_path / "proj" / "app.py", PYDANTIC_APP)
    port = free_port()
    server = Server(tmp_path, ["-m", "uvicorn", "app:app", "--host",
                               "127.0.0.1", "--port", str(port),
                               "--log-level", "warning"])
    client = Client(port)
    probed = ["/item", "/items", "/dump"]
    try:
        server.wait_ready(client, path="/item")
        assert client.get("/item") == (200, '{"name":"a"}')
        assert client.post("/order", {"item": {"name": "x"}})[0] == 200
        before = json.loads(client.get("/openapi.json")[1])
        assert sorted(before["components"]["schemas"]["Item"][
            "properties"]) == ["name"]
        save(app, PYDANTIC_V2)
        assert server.wait_events(1)[0]["event"] == "applied"
        # the live class has the new field...
        assert client.get("/dump") == (200, '{"name":"b","qty":7}')
        # ...and the routes whose response model it is serve it
        assert client.get("/item") == (200, '{"name":"b","qty":7}')
        assert client.get("/items") == (
            200, '[{"name":"b","qty":7},{"name":"z","qty":7}]')
        # a body model nesting it validates and dumps the new field
        status, body = client.post("/order", {"item": {"name": "x",
                                                       "qty": "3"}})
        assert status == 200, body
        assert json.loads(body) == {"n": 2, "order": {
            "item": {"name": "x", "qty": 3}, "note": None}}
        schema = json.loads(client.get("/openapi.json")[1])
        assert sorted(schema["components"]["schemas"]["Item"][
            "properties"]) == ["name", "qty"]

        # a required field added to the body model: 422 without it
        save(app, PYDANTIC_V3)
        evs = server.wait_events(2)
        assert evs[1]["event"] == "applied", evs[1]
        status, body = client.post("/order", {"item": {"name": "x"}})
        assert status == 422 and "priority" in body, body
        status, body = client.post("/order", {"item": {"name": "x"},
                                              "priority": 2})
        assert status == 200 and json.loads(body)["n"] == 3, body

        live = {p: list(client.get(p)) for p in probed}
        live = {p: [s, json.loads(b)] for p, (s, b) in live.items()}
        for payload in ({"item": {"name": "x"}},
                        {"item": {"name": "x"}, "priority": 2}):
            s, b = client.post("/order", payload)
            live[json.dumps(payload)] = [s, json.loads(b).get("order")]
        schema = json.loads(client.get("/openapi.json")[1])
        live["schema"] = {k: sorted(v["properties"]) for k, v in
                          schema["components"]["schemas"].items()
                          if k in ("Item", "Order")}
        assert live == fresh_statuses(tmp_path, PYDANTIC_FRESH, probed)
        # state kept: ORDERS counted on (3 before, now 4)
        assert client.post("/order", {"item": {"name": "x"},
                                      "priority": 1})[1].startswith('{"n":5')
    finally:
        server.close()


GUNICORN_APP = """
    import os

    COUNT = {"n": 0}


    def reply():
        return "v1"


    def app(environ, start_response):
        COUNT["n"] += 1
        body = f"{reply()} {os.getpid()} {COUNT['n']}".encode()
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(body)))])
        return [body]
"""


def test_gunicorn_forked_workers_each_reload(tmp_path):
    """gunicorn (pre-fork, 2 sync workers) under ``python -m hotswap run``:
    each worker is a forked child that starts a watcher of its own, so
    after one save both serve the new code, each keeping its own state
    (its request counter goes on)."""
    pytest.importorskip("gunicorn")
    app = write(tmp_path / "proj" / "app.py", GUNICORN_APP)
    port = free_port()
    server = Server(tmp_path, ["-m", "gunicorn", "--workers", "2",
                               "--worker-class", "sync", "--bind",
                               f"127.0.0.1:{port}", "--log-level",
                               "warning", "app:app"])
    client = Client(port)

    def ask():
        status, body = client.get("/")
        assert status == 200, (status, body)
        version, pid, n = body.split()
        return version, int(pid), int(n)

    try:
        server.wait_ready(client, path="/")
        last = {}            # pid -> its last count
        end = time.monotonic() + 20
        while len(last) < 2:
            assert time.monotonic() < end, f"one worker answers: {last}"
            version, pid, n = ask()
            assert version == "v1"
            last[pid] = n
            time.sleep(0.01)
        save(app, textwrap.dedent(GUNICORN_APP).replace('"v1"', '"v2"'))
        new = set()
        end = time.monotonic() + 20
        while new != set(last):
            assert time.monotonic() < end, (
                f"workers serving v2: {new} of {set(last)}\n"
                f"{server.output()}")
            version, pid, n = ask()
            assert pid in last, (pid, last)   # no worker was restarted
            assert n > last[pid], (pid, n, last)  # its state was kept
            last[pid] = n
            if version == "v2":
                new.add(pid)
            time.sleep(0.01)
        evs = server.wait_events(2)
        assert [e["event"] for e in evs] == ["applied", "applied"], evs
        assert client.failures() == []
        # each worker's line names it; the master, which imports no
        # application, says so instead of warning
        tagged = re.findall(r"^\S+ hotswap\[(\d+)\]: app reloaded",
                            server.stderr(), re.M)
        assert sorted(map(int, tagged)) == sorted(last), server.stderr()
        time.sleep(max(0.0, 1.5 - (time.monotonic() - server.started)))
        assert "warning: nothing under" not in server.stderr()
        assert "nothing tracked in this process" in server.stderr(), \
            server.stderr()
    finally:
        server.close()
