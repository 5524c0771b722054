"""Registries built at import by web frameworks (adapters in
hotswap/adapters/_web.py): after a reload the routes served are those a fresh
import of the new source would serve; a failing adapter rolls the batch
back."""
import os
import subprocess
import sys

import pytest

import hotswap
import hotswap.adapters as adapters


def routes_of(app):
    return sorted((r.path, tuple(sorted(getattr(r, "methods", None) or ())))
                  for r in app.routes if hasattr(r, "endpoint"))


FASTAPI_V1 = """
    from fastapi import FastAPI

    app = FastAPI()
    hits = []

    @app.get("/a")
    def a():
        hits.append("a")
        return {"v": 1}

    @app.get("/gone")
    def gone():
        return {"gone": False}
"""

FASTAPI_V2 = """
    from fastapi import FastAPI

    app = FastAPI()
    hits = []

    @app.get("/b")
    def a():
        hits.append("a")
        return {"v": 2}

    @app.get("/new")
    def new():
        return {"new": True}
"""


def test_fastapi_route_renamed_deleted_added(sb):
    pytest.importorskip("fastapi")
    testclient = pytest.importorskip("fastapi.testclient")
    m = sb.load(FASTAPI_V1)
    app, hits = m.app, m.hits
    client = testclient.TestClient(app)
    assert client.get("/a").json() == {"v": 1}
    assert client.get("/gone").status_code == 200
    assert client.get("/openapi.json").status_code == 200
    sb.update(m, FASTAPI_V2)
    report = hotswap.reload(m)
    assert report.ok, str(report)
    assert client.get("/a").status_code == 404
    assert client.get("/b").json() == {"v": 2}
    assert client.get("/gone").status_code == 404
    assert client.get("/new").json() == {"new": True}
    assert m.app is app and m.hits is hits and hits == ["a", "a"]
    ref = sb.load(FASTAPI_V2, base="ref")
    assert routes_of(app) == routes_of(ref.app)
    assert sorted(client.get("/openapi.json").json()["paths"]) == [
        "/b", "/new"]
    removed = {e.reason for e in report.entries
               if e.kind == "route" and e.action == "removed"}
    assert removed == {"route GET /a no longer defined",
                       "route GET /gone no longer defined"}


def test_fastapi_route_added_to_included_router_is_reported(sb):
    pytest.importorskip("fastapi")
    src = """
        from fastapi import APIRouter, FastAPI

        router = APIRouter()

        @router.get("/x")
        def x():
            return 1
        {extra}
        app = FastAPI()
        app.include_router(router)
    """
    testclient = pytest.importorskip("fastapi.testclient")
    m = sb.load(src.format(extra=""))
    client = testclient.TestClient(m.app)
    assert client.get("/x").json() == 1
    sb.update(m, src.format(extra="""
        @router.get("/y")
        def y():
            return 2
    """))
    report = hotswap.reload(m)
    assert report.ok
    if client.get("/y").status_code == 200:
        # FastAPI >= 0.16x includes routers live: the new route is served
        assert not report.rejected
        assert client.get("/y").json() == 2
    else:
        # older FastAPI copied the routes at include_router(): said so
        assert [e.code for e in report.rejected] == ["HS601"]
        assert "/y" in report.rejected[0].reason
    # a route removed from the included router is no longer served
    sb.update(m, src.format(extra=""))
    assert hotswap.reload(m).ok
    assert client.get("/y").status_code == 404
    assert client.get("/x").json() == 1


FLASK_V1 = """
    from flask import Flask

    app = Flask(__name__)

    @app.route("/a")
    def a():
        return "a1"

    @app.route("/gone")
    def gone():
        return "gone"
"""

FLASK_V2 = """
    from flask import Flask

    app = Flask(__name__)

    @app.route("/b")
    def a():
        return "a2"

    @app.route("/new")
    def new():
        return "new"
"""


def flask_rules(app):
    return sorted((r.rule, r.endpoint) for r in app.url_map.iter_rules())


def test_flask_route_added_after_a_request(sb):
    pytest.importorskip("flask")
    m = sb.load(FLASK_V1)
    client = m.app.test_client()
    assert client.get("/a").data == b"a1"  # the app has served a request
    sb.update(m, FLASK_V2)
    report = hotswap.reload(m)
    assert report.ok, str(report)
    assert client.get("/a").status_code == 404
    assert client.get("/b").data == b"a2"
    assert client.get("/gone").status_code == 404
    assert client.get("/new").data == b"new"
    ref = sb.load(FLASK_V2, base="ref")
    assert flask_rules(m.app) == flask_rules(ref.app)
    assert sorted(m.app.view_functions) == sorted(ref.app.view_functions)
    # the guard is back, and later saves of the file still apply
    assert "_check_setup_finished" not in vars(m.app)
    sb.update(m, FLASK_V2.replace('"new"', '"newer"'))
    assert hotswap.reload(m).ok
    assert client.get("/new").data == b"newer"


DJANGO_URLS_V1 = """
    from django.http import HttpResponse
    from django.urls import path

    def one(request):
        return HttpResponse("one")

    urlpatterns = [path("one/", one)]
"""

DJANGO_URLS_V2 = """
    from django.http import HttpResponse
    from django.urls import path

    def one(request):
        return HttpResponse("one")

    def two(request):
        return HttpResponse("two")

    urlpatterns = [path("two/", two)]
"""


def test_django_urlpatterns_added_and_removed(sb):
    django = pytest.importorskip("django")
    from django.conf import settings

    m = sb.load(DJANGO_URLS_V1, base="urls")
    if not settings.configured:
        settings.configure(DEBUG=True, ALLOWED_HOSTS=["*"],
                           ROOT_URLCONF=m.__name__, SECRET_KEY="x",
                           MIDDLEWARE=[], INSTALLED_APPS=[])
        django.setup()
    from django.test import Client
    from django.urls import clear_url_caches

    settings.ROOT_URLCONF = m.__name__
    clear_url_caches()
    client = Client()
    assert client.get("/one/").content == b"one"
    assert client.get("/two/").status_code == 404
    sb.update(m, DJANGO_URLS_V2)
    report = hotswap.reload(m)
    assert report.ok, str(report)
    assert client.get("/two/").content == b"two"
    assert client.get("/one/").status_code == 404


class Boom(adapters.Adapter):
    name = "boom"

    def __init__(self):
        self.calls = []

    def prepare(self, batch):
        self.calls.append(("prepare", sorted(batch.names)))
        return "state"

    def apply(self, batch, state):
        self.calls.append(("apply", state))
        raise adapters.Refused("HS699", "not today", batch.modules[0].module,
                               2)

    def rollback(self, batch, state):
        self.calls.append(("rollback", state))


def test_failing_adapter_rolls_the_batch_back(sb):
    pytest.importorskip("flask")
    m = sb.load(FLASK_V1)
    client = m.app.test_client()
    assert client.get("/a").data == b"a1"
    rules = flask_rules(m.app)
    boom = adapters.register(Boom())
    try:
        sb.update(m, FLASK_V2)
        with pytest.raises(hotswap.ReloadError) as ei:
            hotswap.reload(m)
    finally:
        adapters.unregister(boom)
    assert ei.value.code == "HS699" and ei.value.lineno == 2
    assert [c[0] for c in boom.calls] == ["prepare", "apply", "rollback"]
    # everything as before: the module, the routes, the guard
    assert flask_rules(m.app) == rules
    assert client.get("/a").data == b"a1"
    assert client.get("/b").status_code == 404
    assert "_check_setup_finished" not in vars(m.app)
    # an adapter that raises something else: HS508, rolled back too
    class Crash(adapters.Adapter):
        def apply(self, batch, state):
            raise KeyError("x")

    crash = adapters.register(Crash)
    try:
        with pytest.raises(hotswap.ReloadError) as ei:
            hotswap.reload(m)
    finally:
        adapters.unregister(crash)
    assert ei.value.code == "HS508"
    assert client.get("/a").data == b"a1"
    # and without it the same edit applies
    assert hotswap.reload(m).ok
    assert client.get("/b").data == b"a2"


def test_adapters_never_import_a_framework():
    import subprocess

    code = ("import sys, hotswap; "
            "bad = [m for m in ('fastapi', 'starlette', 'flask', 'django', "
            "'pydantic', 'attr', 'sqlalchemy') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_import_hotswap_loads_no_adapter_code():
    # The built-in adapters load with their framework, not with hotswap: a
    # program without frameworks pays nothing, and the standard library
    # modules they use stay unimported (the stdlib swap relies on it).
    code = ("import sys, hotswap; "
            "print(sorted(m for m in sys.modules "
            "if m.startswith('hotswap.adapters.')))")
    out = subprocess.run([sys.executable, "-S", "-c", code],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": os.path.dirname(
                             os.path.dirname(hotswap.__file__))})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


FASTAPI_MODEL_V1 = """
    from fastapi import FastAPI
    from pydantic import BaseModel

    app = FastAPI()


    class Item(BaseModel):
        name: str = "a"


    class Box(BaseModel):
        item: Item


    @app.get("/item", response_model=Item)
    def item():
        return {"name": "x", "qty": 3}


    @app.post("/box")
    def box(b: Box):
        return b
"""


def test_fastapi_routes_follow_a_rebuilt_model_or_roll_back(sb):
    """A field added to a pydantic model reaches the routes built from it
    (response_model, a body model nesting it, the OpenAPI schema), as a
    fresh import serves them; a batch failing after that leaves every route
    as it was."""
    pytest.importorskip("fastapi")
    testclient = pytest.importorskip("fastapi.testclient")
    m = sb.load(FASTAPI_MODEL_V1)
    client = testclient.TestClient(m.app)
    route = next(r for r in m.app.routes if getattr(r, "path", "") == "/box")
    handler = route.app
    assert client.get("/item").json() == {"name": "x"}
    v2 = FASTAPI_MODEL_V1.replace('name: str = "a"',
                                  'name: str = "a"\n        qty: int = 0')
    sb.update(m, v2)
    boom = adapters.register(Boom())
    try:
        with pytest.raises(hotswap.ReloadError):
            hotswap.reload(m)
    finally:
        adapters.unregister(boom)
    assert route.app is handler
    assert client.get("/item").json() == {"name": "x"}
    assert client.post("/box", json={"item": {"qty": 5}}).json() == {
        "item": {"name": "a"}}
    report = hotswap.reload(m)
    assert report.ok, str(report)
    assert {e.name for e in report.entries if e.kind == "route"} == {
        "item", "box"}, str(report)
    ref = sb.load(v2, base="ref")
    fresh = testclient.TestClient(ref.app)
    for c in (client, fresh):
        assert c.get("/item").json() == {"name": "x", "qty": 3}
        assert c.post("/box", json={"item": {"qty": "5"}}).json() == {
            "item": {"name": "a", "qty": 5}}
        assert c.post("/box", json={"item": {"qty": "z"}}).status_code == 422
    assert client.get("/openapi.json").json()["components"] == \
        fresh.get("/openapi.json").json()["components"]
