"""Web framework adapters: Starlette/FastAPI routers, Flask apps, Django URL
resolvers.  Each runs only when its framework is already imported and never
imports it itself (the modules are taken from sys.modules)."""
import sys

from .. import _core
from . import Adapter


def _candidate_modules(batch):
    """Modules whose globals may hold an app or a router: the tracked ones
    and the batch's own."""
    seen = {}
    for name in list(_core.tracked()) + sorted(batch.names):
        mod = sys.modules.get(name)
        if mod is not None:
            seen[name] = mod
    return list(seen.values())


def _instances(batch, classes):
    found = {}
    for mod in _candidate_modules(batch):
        for value in list(vars(mod).values()):
            if isinstance(value, classes):
                found[id(value)] = value
    return list(found.values())


# ---------------------------------------------------------------------------
# Starlette / FastAPI

class StarletteAdapter(Adapter):
    """Routers of Starlette and FastAPI apps (``app.router.routes``) and
    APIRouters: a route whose endpoint the new source no longer defines (its
    ``def`` was removed, or its decorator changed so the name holds the newly
    registered function) is removed; routes the new decorators registered
    stay; FastAPI's cached OpenAPI schema is dropped.  A route added to an
    APIRouter that an app already included (``include_router`` copies routes)
    is not served: HS601."""

    name = "starlette"
    requires = ("starlette.routing",)

    def _routers(self, batch):
        routing = sys.modules["starlette.routing"]
        apps_mod = sys.modules.get("starlette.applications")
        routers, apps = {}, []
        for obj in _instances(batch, (object,)):
            if isinstance(obj, routing.Router):
                routers[id(obj)] = obj
            elif apps_mod is not None and isinstance(obj, apps_mod.Starlette):
                router = getattr(obj, "router", None)
                if isinstance(router, routing.Router):
                    routers[id(router)] = router
                    apps.append(obj)
        return list(routers.values()), apps

    def prepare(self, batch):
        routers, apps = self._routers(batch)
        return {
            "routers": [(r, list(r.routes)) for r in routers],
            "apps": [(a, a.__dict__.get("openapi_schema")) for a in apps],
            "refreshed": [],   # (route, its __dict__ before)
        }

    def apply(self, batch, state):
        app_routers = {id(a.router) for a, _ in state["apps"]}
        # endpoints an app serves, by the routers they were copied from
        served = set()
        for a, _ in state["apps"]:
            for route in a.router.routes:
                ep = getattr(route, "endpoint", None)
                if ep is not None:
                    served.add(id(ep))
        for router, before in state["routers"]:
            old_ids = {id(r) for r in before}
            kept = []
            for route in list(router.routes):
                ep = getattr(route, "endpoint", None)
                owner = batch.owns(ep) if ep is not None else None
                if owner is not None and batch.is_stale(ep):
                    if id(route) in old_ids:
                        batch.note(owner.module, _route_name(route),
                                   "route", "removed", None,
                                   "route %s no longer defined"
                                   % _route_path(route))
                    continue
                kept.append(route)
                if id(route) not in old_ids and owner is not None:
                    included_elsewhere = id(router) not in app_routers and any(
                        id(getattr(r, "endpoint", None)) in served
                        for r in before)
                    if included_elsewhere:
                        batch.note(owner.module, _route_name(route), "route",
                                   "rejected", "HS601",
                                   "route %s was added to a router an app "
                                   "already included (include_router copied "
                                   "its routes): not served; restart"
                                   % _route_path(route),
                                   _lineno(ep))
                    else:
                        batch.note(owner.module, _route_name(route), "route",
                                   "added", None,
                                   "route %s" % _route_path(route),
                                   _lineno(ep))
            if len(kept) != len(router.routes):
                router.routes[:] = kept
                _routes_changed(router)
        if batch.rebuilt:
            self._refresh_routes(batch, state)
        for app, _ in state["apps"]:
            if app.__dict__.get("openapi_schema") is not None:
                app.openapi_schema = None

    def _refresh_routes(self, batch, state):
        """FastAPI routes built before this batch whose response model or
        parameters (body, query, dependencies) mention a model an adapter
        rebuilt: their response field, dependant, body field and request
        handler were made from the old model when the route was created.
        Run the route's __init__ again, on the same object, with the
        arguments it keeps as attributes: it builds them as a fresh import
        does.  Routes the batch's decorators created are already new."""
        fr = sys.modules.get("fastapi.routing")
        if fr is None:
            return
        targets = set(batch.rebuilt)
        old_ids = {id(r) for _, before in state["routers"] for r in before}
        done = set()
        for router, _ in state["routers"]:
            for route in list(router.routes):
                if (not isinstance(route, fr.APIRoute) or id(route) in done
                        or id(route) not in old_ids
                        or not _route_mentions(route, targets)):
                    continue
                done.add(id(route))
                state["refreshed"].append((route, dict(route.__dict__)))
                _reinit_route(route)
                _routes_changed(router)
                ep = getattr(route, "endpoint", None)
                batch.note(getattr(ep, "__module__", "?"), _route_name(route),
                           "route", "updated", None,
                           "route %s rebuilt for the new model"
                           % _route_path(route), _lineno(ep))

    def rollback(self, batch, state):
        for route, saved in reversed(state.get("refreshed", ())):
            route.__dict__.clear()
            route.__dict__.update(saved)
        for router, before in state["routers"]:
            if router.routes != before:
                router.routes[:] = before
                _routes_changed(router)
        for app, schema in state["apps"]:
            if "openapi_schema" in app.__dict__:
                app.openapi_schema = schema


def _route_types(route):
    """The annotations a FastAPI route was built from: its response model,
    the models of its extra responses, and every parameter of its dependant
    tree (body, query, path, header, cookie; dependencies' too)."""
    yield getattr(route, "response_model", None)
    for extra in (getattr(route, "responses", None) or {}).values():
        if isinstance(extra, dict):
            yield extra.get("model")
    todo, seen = [getattr(route, "dependant", None)], set()
    while todo:
        d = todo.pop()
        if d is None or id(d) in seen:
            continue
        seen.add(id(d))
        for kind in ("path_params", "query_params", "header_params",
                     "cookie_params", "body_params"):
            for f in getattr(d, kind, None) or ():
                info = getattr(f, "field_info", None)
                yield getattr(info, "annotation", None)
                yield getattr(f, "type_", None)
        todo.extend(getattr(d, "dependencies", None) or ())


def _route_mentions(route, targets):
    from ._models import mentions

    seen = set()
    return any(mentions(tp, targets, seen) for tp in _route_types(route))


def _reinit_route(route):
    """Run ``type(route).__init__`` again on ``route`` with the arguments it
    keeps as attributes of the same names (FastAPI's APIRoute stores every
    argument it was given: path, endpoint, response_model, status_code,
    tags, responses, ...); an argument it does not keep takes its
    default."""
    import inspect

    cls = type(route)
    kwargs = {}
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if name in route.__dict__:
            kwargs[name] = route.__dict__[name]
    cls.__init__(route, **kwargs)


def _routes_changed(router):
    # FastAPI >= 0.16x serves included routers live and caches their
    # effective routes by a version counter
    mark = getattr(router, "_mark_routes_changed", None)
    if callable(mark):
        mark()


def _route_path(route):
    methods = getattr(route, "methods", None)
    path = getattr(route, "path", None) or getattr(route, "rule", "?")
    if methods:
        return "%s %s" % (",".join(sorted(m for m in methods
                                          if m != "HEAD")), path)
    return str(path)


def _route_name(route):
    ep = getattr(route, "endpoint", None)
    return getattr(ep, "__qualname__", None) or str(getattr(route, "name",
                                                            "?"))


def _lineno(func):
    code = getattr(func, "__code__", None)
    return getattr(code, "co_firstlineno", 0) or 0


# ---------------------------------------------------------------------------
# Flask

class _StagingViews(dict):
    """``app.view_functions`` while the batch stages: requests still find
    every view; ``add_url_rule``'s "overwriting an existing endpoint" check
    does not see the endpoints of the batch's modules (their decorators run
    again and register the new function)."""

    hidden = frozenset()

    def get(self, key, default=None):
        if key in self.hidden:
            return default
        return dict.get(self, key, default)


class FlaskAdapter(Adapter):
    """Flask apps and blueprints: while the batch stages, Flask's
    "setup method called after the first request" guard is lifted for the
    batch (routes may be added to an app that has served requests); after
    it, the url_map and view_functions are what a fresh import builds: rules
    of views the new source no longer defines are removed, rules of a view
    whose decorator changed are replaced by the new ones.  A route added to
    a blueprint that is already registered on an app is not served
    (blueprints copy their routes when registered): HS601."""

    name = "flask"
    requires = ("flask",)

    def prepare(self, batch):
        flask = sys.modules["flask"]
        apps = [o for o in _instances(batch, (flask.Flask,))]
        bps = [o for o in _instances(batch, (flask.Blueprint,))
               if not isinstance(o, flask.Flask)]
        state = {"apps": [], "bps": []}
        for app in apps:
            views = app.view_functions
            hidden = frozenset(
                ep for ep, f in views.items()
                if batch.owns(f) is not None)
            staging = _StagingViews(views)
            staging.hidden = hidden
            state["apps"].append({
                "app": app, "views": views, "url_map": app.url_map,
                "rules": list(app.url_map.iter_rules()), "hidden": hidden,
                "guard": app.__dict__.get("_check_setup_finished"),
            })
            app.view_functions = staging
            app._check_setup_finished = _no_guard
        for bp in bps:
            state["bps"].append({
                "bp": bp, "deferred": list(bp.deferred_functions),
                "guard": bp.__dict__.get("_check_setup_finished"),
                "registered": bool(getattr(bp, "_got_registered_once",
                                           False)),
            })
            bp._check_setup_finished = _no_guard
        return state

    def _restore_guards(self, state):
        for s in state["apps"] + state["bps"]:
            obj = s.get("app") or s.get("bp")
            if s["guard"] is None:
                obj.__dict__.pop("_check_setup_finished", None)
            else:
                obj._check_setup_finished = s["guard"]

    def apply(self, batch, state):
        self._restore_guards(state)
        for s in state["apps"]:
            app = s["app"]
            staged = app.view_functions
            old_rule_ids = {id(r) for r in s["rules"]}
            views = dict(staged)
            # endpoints whose view a re-run decorator registered anew
            reregistered = {ep for ep, f in views.items()
                            if ep in s["views"] and f is not s["views"][ep]}
            drop = set()
            for ep, f in list(views.items()):
                owner = batch.owns(f)
                if owner is not None and batch.is_stale(f):
                    drop.add(ep)
                    del views[ep]
            rules = []
            changed = False
            for rule in app.url_map.iter_rules():
                old = id(rule) in old_rule_ids
                ep = rule.endpoint
                if old and (ep in drop or ep in reregistered):
                    changed = True
                    f = s["views"].get(ep)
                    batch.note(getattr(f, "__module__", "?"),
                               getattr(f, "__qualname__", ep), "route",
                               "removed", None, "rule %s" % rule.rule)
                    continue
                if not old:
                    f = views.get(ep)
                    owner = batch.owns(f)
                    if owner is not None:
                        batch.note(owner.module, f.__qualname__, "route",
                                   "added", None, "rule %s" % rule.rule,
                                   _lineno(f))
                rules.append(rule)
            app.view_functions = views
            if changed:
                app.url_map = _rebuilt_map(app.url_map, rules)
        for s in state["bps"]:
            bp = s["bp"]
            if s["registered"] and len(bp.deferred_functions) > len(
                    s["deferred"]):
                owner = None
                for f in bp.deferred_functions[len(s["deferred"]):]:
                    owner = owner or _deferred_owner(batch, f)
                batch.note(owner.module if owner else bp.import_name,
                           bp.name, "route", "rejected", "HS601",
                           "a route was added to blueprint %r after it was "
                           "registered on an app (register_blueprint copied "
                           "its routes): not served; restart" % bp.name)

    def rollback(self, batch, state):
        self._restore_guards(state)
        for s in state["apps"]:
            s["app"].view_functions = s["views"]
            s["app"].url_map = _rebuilt_map(s["url_map"], s["rules"]) if len(
                list(s["url_map"].iter_rules())) != len(s["rules"]) \
                else s["url_map"]
        for s in state["bps"]:
            s["bp"].deferred_functions[:] = s["deferred"]


def _no_guard(f_name):
    return None


def _deferred_owner(batch, deferred):
    for cell in getattr(deferred, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        owner = batch.owns(value)
        if owner is not None:
            return owner
    return None


def _rebuilt_map(old, rules):
    """A werkzeug Map with old's settings and unbound copies of rules (a Map
    cannot remove a rule)."""
    import inspect

    params = inspect.signature(type(old).__init__).parameters
    kwargs = {p: getattr(old, p) for p in params
              if p not in ("self", "rules") and hasattr(old, p)}
    new = type(old)(**kwargs)
    for rule in rules:
        new.add(rule.empty())
    return new


# ---------------------------------------------------------------------------
# Django

class DjangoAdapter(Adapter):
    """Django URL resolvers: when a module of the batch defines
    ``urlpatterns``, the resolver caches are cleared (``clear_url_caches``)
    and every resolver reachable from the live URLconfs forgets the patterns
    it read, so the next request resolves against the new urlpatterns."""

    name = "django"
    requires = ("django.urls",)

    def _resolvers(self):
        urls = sys.modules["django.urls"]
        found, todo, seen = [], [], set()
        for mod in list(sys.modules.values()):
            pats = getattr(mod, "__dict__", {}).get("urlpatterns")
            if isinstance(pats, (list, tuple)):
                todo.append(pats)
        while todo:
            pats = todo.pop()
            if id(pats) in seen:
                continue
            seen.add(id(pats))
            for p in list(pats):
                if isinstance(p, urls.URLResolver) and id(p) not in seen:
                    seen.add(id(p))
                    found.append(p)
                    conf = p.urlconf_name
                    if isinstance(conf, (list, tuple)):
                        todo.append(conf)
                    else:
                        sub = getattr(conf, "urlpatterns", None)
                        if isinstance(sub, (list, tuple)):
                            todo.append(sub)
        return found

    def prepare(self, batch):
        mods = [m for m in batch.modules
                if "urlpatterns" in vars(m.module)
                or "urlpatterns" in m.source]
        if not mods:
            return None
        return [(r, dict(r.__dict__)) for r in self._resolvers()]

    def apply(self, batch, state):
        if state is None:
            return
        urls = sys.modules["django.urls"]
        resolvers = {id(r): r for r, _ in state}
        for r in self._resolvers():
            resolvers.setdefault(id(r), r)
        for r in resolvers.values():
            _reset_resolver(r)
        urls.clear_url_caches()

    def rollback(self, batch, state):
        if state is None:
            return
        for r, saved in state:
            r.__dict__.clear()
            r.__dict__.update(saved)
        sys.modules["django.urls"].clear_url_caches()


def _reset_resolver(r):
    for cached in ("url_patterns", "urlconf_module"):
        r.__dict__.pop(cached, None)
    r._populated = False
    r._reverse_dict = {}
    r._namespace_dict = {}
    r._app_dict = {}
    r._callback_strs = set()
