"""Random differential check of in-place reloads against a fresh import,
for the families of issue 10 (aliases, partials, defaults naming
functions, tables and lambdas, closures made at import, decorator
factories, callable-object decorators, decorators that set attributes or
register, dataclasses with field edits, runtime-mutated data, several
related statements edited in one reload).

A module is rendered from a spec: one *component* per family, each a few
top-level statements with numbered parameters.  v1 is imported, references
are taken the way programs take them (``from m import f`` copies, table
values, partial objects, bound methods, decorated objects, registry
entries, instances, the data containers), then each cycle applies 1-3
random edits (sometimes several related statements of one component at
once), writes the file, reloads with ``hotswap.reload`` and compares every
module attribute the component defines and every held reference with a
fresh ``exec`` of the same source under the data policy:

* an unedited data statement is not run again: its value (with what the
  program did to it at run time) is kept; an edited one is run again with
  the module's live function objects;
* a held reference runs what the fresh namespace defines for the same
  *origin*: a function held through an alias follows the ``def`` it was
  bound to, not the name it was fetched through; a held value made by a
  statement edited since (an old partial, an old dict, an old lambda) is
  either updated in place to the new value (docs/api.md: objects the
  statement made are updated in place) or behaves as its old expression
  evaluated in the fresh namespace; nothing else;
* documented differences: a decorated reference whose decorator expression
  changed runs the new body under its old decoration only when the report
  names it with HS102 (an identity decorator's changed line, ``attr_deco``;
  a decorator returning a wrapper gives no HS102: the held wrapper takes
  the new decoration, ``deco_factory``).

Expectations come from the source text and a fresh exec only, never from
hotswap's output (except the presence of a documented code).

Usage: random_fresh.py [--cycles N] [--seed S] [--family F ...] [--verbose]
Prints a table of divergent cycles per family; exits 1 if any diverged
(0 with --no-fail).  ``run(...)`` is the library entry point used by
tests/test_random_fresh.py.
"""
import argparse
import collections
import dataclasses
import importlib
import os
import random
import sys
import tempfile
import traceback

import hotswap

XS = (0, 3)


# ------------------------------------------------------------ helpers ----
def observe(fn, *args):
    """What calling `fn` shows: its result (or exception) and the `tag`
    attribute a decorator may have set."""
    try:
        out = repr(fn(*args))
    except Exception as exc:  # noqa: BLE001 - the exception is the output
        out = f"raise {type(exc).__name__}: {exc}"
    return (out, repr(getattr(fn, "tag", None)))


_compiled = {}   # effective definitions, compiled once


class Ctx:
    """One cycle's comparison context."""

    def __init__(self, m, ns, report, versions, src):
        self.m = m
        self.ns = ns
        self.report = report
        self.versions = versions
        self.src = src
        self.problems = []

    def codes_for(self, name):
        return {e.code for e in self.report.find(name) if e.code}

    def fresh_eval(self, expr):
        """`expr` evaluated in a copy of the fresh namespace."""
        return eval(expr, dict(self.ns))

    def fresh_exec(self, text, name):
        code = _compiled.get(text)
        if code is None:
            code = _compiled[text] = compile(text, "<effective>", "exec")
        scope = dict(self.ns)
        exec(code, scope)
        return scope[name]

    def unchanged_since(self, key, version):
        return self.versions[key] == version

    def expect(self, label, live, want):
        if live != want:
            self.problems.append(f"{label}: live {live!r} != fresh {want!r}")

    def expect_any(self, label, live, wants):
        if live not in wants:
            self.problems.append(
                f"{label}: live {live!r} not in allowed {wants!r}")

    def expect_same(self, label, live_is, fresh_is):
        if live_is != fresh_is:
            self.problems.append(
                f"{label}: identity live={live_is} fresh={fresh_is}")


class Held:
    def __init__(self, label, obj, **meta):
        self.label = label
        self.obj = obj
        self.meta = meta


# ----------------------------------------------------------- families ----
class Family:
    """A component: `state` holds its parameters, `render` its statements
    as (key, text) pairs, `edits` the parameter changes, `hold` the
    references a program takes, `check` the comparison."""
    name = ""
    edits = ()

    def __init__(self, r):
        self.r = r
        self.state = self.initial()

    def key(self, part):
        return f"{self.name}:{part}"

    def num(self):
        return self.r.randint(1, 9)

    def bump(self, param):
        old = self.state[param]
        while self.state[param] == old:
            self.state[param] = self.num()

    def flip(self, param, choices):
        old = self.state[param]
        self.state[param] = self.r.choice([c for c in choices if c != old])

    def edit(self, r, related):
        """Apply one edit, or several of this component at once."""
        names = list(self.edits)
        n = r.randint(2, min(3, len(names))) if related else 1
        for e in r.sample(names, n):
            getattr(self, "edit_" + e)()

    def before_reload(self, m):
        pass


class Alias(Family):
    name = "alias"
    edits = ("a", "b", "handler", "f")

    def initial(self):
        return dict(A=1, B=2, H="on_a", F="on_b")

    def edit_a(self):
        self.bump("A")

    def edit_b(self):
        self.bump("B")

    def edit_handler(self):
        self.flip("H", ("on_a", "on_b"))

    def edit_f(self):
        self.flip("F", ("on_a", "on_b"))

    def render(self):
        s = self.state
        return [
            (self.key("on_a"),
             f"def on_a(x):\n    return ('on_a', x + {s['A']})\n"),
            (self.key("on_b"),
             f"def on_b(x):\n    return ('on_b', x * {s['B']})\n"),
            (self.key("handler"), f"handler = {s['H']}\n"),
            (self.key("f"), f"f = {s['F']}\n"),
        ]

    def hold(self, m, versions):
        s = self.state
        return [Held("from m import handler", m.handler, origin=s["H"]),
                Held("from m import f", m.f, origin=s["F"]),
                Held("from m import on_a", m.on_a, origin="on_a"),
                Held("from m import on_b", m.on_b, origin="on_b")]

    def check(self, ctx, held):
        m, ns = ctx.m, ctx.ns
        for name in ("on_a", "on_b", "handler", "f"):
            for x in XS:
                ctx.expect(f"m.{name}({x})", observe(getattr(m, name), x),
                           observe(ns[name], x))
        for name in ("handler", "f"):
            for target in ("on_a", "on_b"):
                ctx.expect_same(f"m.{name} is m.{target}",
                                getattr(m, name) is getattr(m, target),
                                ns[name] is ns[target])
        for h in held:
            for x in XS:
                ctx.expect(f"held {h.label} (bound to {h.meta['origin']})"
                           f"({x})", observe(h.obj, x),
                           observe(ns[h.meta["origin"]], x))


class ClassAlias(Family):
    name = "class_alias"
    edits = ("a", "b", "handler")

    def initial(self):
        return dict(A=1, B=2, H="a")

    def edit_a(self):
        self.bump("A")

    def edit_b(self):
        self.bump("B")

    def edit_handler(self):
        self.flip("H", ("a", "b"))

    def render(self):
        s = self.state
        return [(self.key("Svc"),
                 "class Svc:\n"
                 f"    def a(self, x):\n        return ('a', x + {s['A']})\n"
                 f"\n    def b(self, x):\n        return ('b', x - {s['B']})\n"
                 f"\n    handler = {s['H']}\n")]

    def hold(self, m, versions):
        inst = m.Svc()
        h = self.state["H"]
        return [Held("Svc.handler", m.Svc.handler, origin=h, kind="func"),
                Held("inst.handler bound", inst.handler, origin=h,
                     kind="bound"),
                Held("instance", inst, origin=None, kind="inst")]

    def check(self, ctx, held):
        m, ns = ctx.m, ctx.ns
        live_i, fresh_i = m.Svc(), ns["Svc"]()
        for name in ("a", "b", "handler"):
            for x in XS:
                ctx.expect(f"m.Svc().{name}({x})",
                           observe(getattr(live_i, name), x),
                           observe(getattr(fresh_i, name), x))
        ctx.expect_same("Svc.handler is Svc.a",
                        m.Svc.__dict__["handler"] is m.Svc.__dict__["a"],
                        ns["Svc"].__dict__["handler"]
                        is ns["Svc"].__dict__["a"])
        for h in held:
            for x in XS:
                if h.meta["kind"] == "inst":
                    ctx.expect(f"held instance.handler({x})",
                               observe(h.obj.handler, x),
                               observe(fresh_i.handler, x))
                    continue
                want = getattr(fresh_i, h.meta["origin"])
                live = (h.obj if h.meta["kind"] == "bound"
                        else (lambda v, f=h.obj: f(live_i, v)))
                ctx.expect(f"held {h.label} (bound to {h.meta['origin']})"
                           f"({x})", observe(live, x)[0], observe(want, x)[0])


class Partial(Family):
    name = "partial"
    edits = ("a", "b", "target", "arg")

    def initial(self):
        return dict(A=1, B=2, T="pf", ARG=6)

    def edit_a(self):
        self.bump("A")

    def edit_b(self):
        self.bump("B")

    def edit_target(self):
        self.flip("T", ("pf", "ph"))

    def edit_arg(self):
        self.bump("ARG")

    def expr(self):
        return f"functools.partial({self.state['T']}, {self.state['ARG']})"

    def render(self):
        s = self.state
        return [
            (self.key("pf"),
             f"def pf(a, x):\n    return ('pf', a * {s['A']} + x)\n"),
            (self.key("ph"),
             f"def ph(a, x):\n    return ('ph', a - x + {s['B']})\n"),
            (self.key("p"), f"p = {self.expr()}\n"),
        ]

    def hold(self, m, versions):
        return [Held("from m import p", m.p, expr=self.expr(),
                     version=versions[self.key("p")])]

    def check(self, ctx, held):
        m, ns = ctx.m, ctx.ns
        for name in ("pf", "ph", "p"):
            for x in XS:
                args = (x,) if name == "p" else (2, x)
                ctx.expect(f"m.{name}{args}", observe(getattr(m, name), *args),
                           observe(ns[name], *args))
        for target in ("pf", "ph"):
            ctx.expect_same(f"m.p.func is m.{target}",
                            m.p.func is getattr(m, target),
                            ns["p"].func is ns[target])
        for h in held:
            new = ns["p"]
            old = ctx.fresh_eval(h.meta["expr"])
            for x in XS:
                label = f"held p={h.meta['expr']} ({x})"
                if ctx.unchanged_since(self.key("p"), h.meta["version"]):
                    ctx.expect(label, observe(h.obj, x), observe(new, x))
                else:
                    ctx.expect_any(label, observe(h.obj, x),
                                   [observe(new, x), observe(old, x)])


class Defaults(Family):
    name = "defaults"
    edits = ("a", "b", "default", "use")

    def initial(self):
        return dict(A=1, B=2, T="dh", U=1)

    def edit_a(self):
        self.bump("A")

    def edit_b(self):
        self.bump("B")

    def edit_default(self):
        self.flip("T", ("dh", "dh2"))

    def edit_use(self):
        self.bump("U")

    def render(self):
        s = self.state
        return [
            (self.key("dh"), f"def dh(x):\n    return ('dh', x + {s['A']})\n"),
            (self.key("dh2"),
             f"def dh2(x):\n    return ('dh2', x * {s['B']})\n"),
            (self.key("use"),
             f"def use(x, cb={s['T']}):\n"
             f"    return ('use', {s['U']}, cb(x))\n"),
        ]

    def hold(self, m, versions):
        return [Held("from m import use", m.use)]

    def check(self, ctx, held):
        m, ns = ctx.m, ctx.ns
        for name in ("dh", "dh2", "use"):
            for x in XS:
                ctx.expect(f"m.{name}({x})", observe(getattr(m, name), x),
                           observe(ns[name], x))
        for target in ("dh", "dh2"):
            ctx.expect_same(f"m.use.__defaults__[0] is m.{target}",
                            m.use.__defaults__[0] is getattr(m, target),
                            ns["use"].__defaults__[0] is ns[target])
        for h in held:
            for x in XS:
                ctx.expect(f"held use({x})", observe(h.obj, x),
                           observe(ns["use"], x))


class Table(Family):
    name = "table"
    edits = ("a", "b", "entry", "lam", "callbacks")

    def initial(self):
        return dict(A=1, B=2, T="ta", L=100, C=("ta", "tb"))

    def edit_a(self):
        self.bump("A")

    def edit_b(self):
        self.bump("B")

    def edit_entry(self):
        self.flip("T", ("ta", "tb"))

    def edit_lam(self):
        self.state["L"] += self.r.randint(1, 9)

    def edit_callbacks(self):
        self.state["C"] = tuple(self.r.choice(("ta", "tb"))
                                for _ in range(self.r.randint(1, 3)))

    def handlers_expr(self):
        s = self.state
        return (f"{{'a': {s['T']}, 'b': lambda x: ('lam', x + {s['L']})}}")

    def callbacks_expr(self):
        return "[" + ", ".join(self.state["C"]) + "]"

    def render(self):
        s = self.state
        return [
            (self.key("ta"), f"def ta(x):\n    return ('ta', x + {s['A']})\n"),
            (self.key("tb"), f"def tb(x):\n    return ('tb', x * {s['B']})\n"),
            (self.key("HANDLERS"), f"HANDLERS = {self.handlers_expr()}\n"),
            (self.key("CALLBACKS"), f"CALLBACKS = {self.callbacks_expr()}\n"),
        ]

    def hold(self, m, versions):
        s = self.state
        hv = versions[self.key("HANDLERS")]
        cv = versions[self.key("CALLBACKS")]
        return [
            Held("from m import HANDLERS", m.HANDLERS, kind="HANDLERS",
                 expr=self.handlers_expr(), version=hv),
            Held("HANDLERS['a'] value", m.HANDLERS["a"], kind="func",
                 origin=s["T"]),
            Held("HANDLERS['b'] lambda", m.HANDLERS["b"], kind="lambda",
                 expr=self.handlers_expr(), version=hv),
            Held("from m import CALLBACKS", m.CALLBACKS, kind="CALLBACKS",
                 expr=self.callbacks_expr(), version=cv),
            Held("CALLBACKS[0] value", m.CALLBACKS[0], kind="func",
                 origin=s["C"][0]),
        ]

    def obs_container(self, c, x):
        items = c.items() if isinstance(c, dict) else enumerate(c)
        return tuple((k, observe(v, x)) for k, v in items)

    def check(self, ctx, held):
        m, ns = ctx.m, ctx.ns
        for name in ("ta", "tb"):
            for x in XS:
                ctx.expect(f"m.{name}({x})", observe(getattr(m, name), x),
                           observe(ns[name], x))
        for name in ("HANDLERS", "CALLBACKS"):
            for x in XS:
                ctx.expect(f"m.{name} entries ({x})",
                           self.obs_container(getattr(m, name), x),
                           self.obs_container(ns[name], x))
        for target in ("ta", "tb"):
            ctx.expect_same(f"m.HANDLERS['a'] is m.{target}",
                            m.HANDLERS["a"] is getattr(m, target),
                            ns["HANDLERS"]["a"] is ns[target])
            for i in range(min(len(m.CALLBACKS), len(ns["CALLBACKS"]))):
                ctx.expect_same(f"m.CALLBACKS[{i}] is m.{target}",
                                m.CALLBACKS[i] is getattr(m, target),
                                ns["CALLBACKS"][i] is ns[target])
        for h in held:
            kind = h.meta["kind"]
            for x in XS:
                label = f"held {h.label} ({x})"
                if kind == "func":
                    ctx.expect(label + f" bound to {h.meta['origin']}",
                               observe(h.obj, x),
                               observe(ns[h.meta["origin"]], x))
                    continue
                # docs/api.md "Lambdas in an edited table": an edited
                # table is data, rebound to the new container; a container
                # held from before is no longer the module's and keeps its
                # values (the kept functions it named), while the lambdas
                # the statement made are paired by place with the new ones
                # (the old lambda objects take the new code and are the
                # ones the new container holds).  So a held lambda always
                # runs the lambda at its place now, and a held old dict is
                # its old expression with the new lambda at "b".
                if kind == "lambda":
                    ctx.expect(label, observe(h.obj, x),
                               observe(ns["HANDLERS"]["b"], x))
                    continue
                if ctx.unchanged_since(self.key(kind), h.meta["version"]):
                    want = ns[kind]
                else:
                    want = ctx.fresh_eval(h.meta["expr"])
                    if kind == "HANDLERS":
                        want["b"] = ns["HANDLERS"]["b"]
                ctx.expect(label, self.obs_container(h.obj, x),
                           self.obs_container(want, x))


MAKE = """\
def make(n):
    count = 0
    extra = {E}

    def step(x):
        nonlocal count
        count += 1
        return ('step', count, n * {A} + x{PLUS})
    return step
"""


class Closure(Family):
    """A closure made at import, with ``nonlocal`` state.  The factory's
    inner function is edited, sometimes to use a free variable that older
    closures lack (documented: HS104, such a closure keeps its code)."""
    name = "closure"
    edits = ("body", "arg", "extra", "extra_value")

    class Model:
        """A closure the program holds: its cells and the code it runs."""

        def __init__(self, n, extra, a, use):
            self.n = n
            self.calls = 0
            self.extra = extra if use else None  # the cell, if it has one
            self.a, self.use = a, use

    def initial(self):
        return dict(A=1, N=5, E=10, USE=False)

    def __init__(self, r):
        super().__init__(r)
        self.current = self.new_model()

    def new_model(self):
        s = self.state
        return self.Model(s["N"], s["E"], s["A"], s["USE"])

    def edit_body(self):
        self.bump("A")

    def edit_arg(self):
        self.bump("N")

    def edit_extra(self):
        self.state["USE"] = not self.state["USE"]

    def edit_extra_value(self):
        self.state["E"] += 1

    def make_text(self, a, use, e):
        return MAKE.format(A=a, E=e, PLUS=" + extra" if use else "")

    def render(self):
        s = self.state
        return [
            (self.key("make"), self.make_text(s["A"], s["USE"], s["E"])),
            (self.key("clo"), f"clo = make({s['N']})\n"),
        ]

    def after_write(self, changed_keys):
        if self.key("clo") in changed_keys:
            self.current = self.new_model()

    def hold(self, m, versions):
        return [Held("from m import clo", m.clo, model=self.current)]

    def expected_closure(self, ctx, model):
        make = ctx.fresh_exec(
            self.make_text(model.a, model.use, model.extra or 0), "make")
        fresh = make(model.n)
        # the state the held closure reached: its calls so far
        names = fresh.__code__.co_freevars
        fresh.__closure__[names.index("count")].cell_contents = model.calls
        return fresh

    def check(self, ctx, held):
        m, s = ctx.m, self.state
        targets = [("m.clo", m.clo, self.current)] + [
            (f"held clo (make({h.meta['model'].n}))", h.obj, h.meta["model"])
            for h in held]
        frozen = False
        for model in {id(t[2]): t[2] for t in targets}.values():
            if s["USE"] and model.extra is None:
                frozen = True      # HS104: keeps the code it runs
            else:
                model.a, model.use = s["A"], s["USE"]
        # docs/api.md "Closures": a closure left on its code is tried again
        # (and reported again) at every reload that changes the factory's
        # inner function; an edit of the factory that leaves the inner
        # code as it was (`extra = 11`), like a line shift, changes
        # nothing for it and reports nothing.
        inner = (s["A"], s["USE"])
        if frozen and inner != getattr(self, "_seen_inner", None) and (
                "HS104" not in {e.code for e in ctx.report.entries}):
            ctx.problems.append("a closure cannot take the new code "
                                "(a free variable it lacks) but the report "
                                "has no HS104")
        self._seen_inner = inner
        for label, obj, model in targets:
            # Each observation advances the closure's state: the fresh
            # copy starts from the same count.
            for x in XS:
                want = observe(self.expected_closure(ctx, model), x)
                live = observe(obj, x)
                model.calls += 1
                ctx.expect(f"{label}({x})", live, want)


DECO_FACTORY = """\
def times(k):
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args):
            return ('times', k, fn(*args) * k + {W})
        return wrapper
    return deco
"""


class DecoFactory(Family):
    name = "deco_factory"
    edits = ("k", "body", "factory")

    def initial(self):
        return dict(K=2, A=1, W=0)

    def edit_k(self):
        self.bump("K")

    def edit_body(self):
        self.bump("A")

    def edit_factory(self):
        self.bump("W")

    def tf_text(self, k):
        return f"@times({k})\ndef tf(x):\n    return x + {self.state['A']}\n"

    def render(self):
        return [(self.key("times"), DECO_FACTORY.format(W=self.state["W"])),
                (self.key("tf"), self.tf_text(self.state["K"]))]

    def hold(self, m, versions):
        return [Held("from m import tf", m.tf, k=self.state["K"])]

    def check(self, ctx, held):
        m, ns = ctx.m, ctx.ns
        for x in XS:
            ctx.expect(f"m.tf({x})", observe(m.tf, x), observe(ns["tf"], x))
        for h in held:
            # the held wrapper takes every new decoration (@times(k) edited:
            # the new wrapper's state moves onto it, issue 10 point 3)
            wants = [observe(ns["tf"], x) for x in XS]
            ctx.expect_same("held tf is m.tf", h.obj is m.tf, True)
            ctx.expect("HS102 for tf", "HS102" in ctx.codes_for("tf"), False)
            for x, want in zip(XS, wants):
                ctx.expect(f"held tf (@times({h.meta['k']}))({x})",
                           observe(h.obj, x), want)


COMMAND = """\
class Command:
    def __init__(self, fn):
        self.fn = fn
        self.name = fn.__name__

    def __call__(self, *args):
        return ('cmd{V}', self.name, self.fn(*args))
"""


class CallObj(Family):
    """A callable-object decorator (click-like ``Command``)."""
    name = "callable_deco"
    edits = ("body", "command")

    def initial(self):
        return dict(A=1, V=1)

    def edit_body(self):
        self.bump("A")

    def edit_command(self):
        self.bump("V")

    def render(self):
        return [(self.key("Command"), COMMAND.format(V=self.state["V"])),
                (self.key("cli"),
                 "@Command\ndef cli(x):\n"
                 f"    return ('cli', x + {self.state['A']})\n")]

    def hold(self, m, versions):
        return [Held("from m import cli", m.cli)]

    def check(self, ctx, held):
        m, ns = ctx.m, ctx.ns
        for x in XS:
            ctx.expect(f"m.cli({x})", observe(m.cli, x), observe(ns["cli"], x))
            for h in held:
                ctx.expect(f"held cli({x})", observe(h.obj, x),
                           observe(ns["cli"], x))


TAG = """\
def tag(v):
    def deco(fn):
        fn.tag = v{S}
        return fn
    return deco
"""


class AttrDeco(Family):
    """A decorator factory that sets an attribute and returns its
    argument."""
    name = "attr_deco"
    edits = ("tag", "body", "factory")

    def initial(self):
        return dict(T="v1", A=1, S="")

    def edit_tag(self):
        self.state["T"] = "v" + str(int(self.state["T"][1:]) + 1)

    def edit_body(self):
        self.bump("A")

    def edit_factory(self):
        self.state["S"] = " + '!'" if not self.state["S"] else ""

    def tg_text(self, t):
        return (f"@tag('{t}')\ndef tg(x):\n"
                f"    return ('tg', x + {self.state['A']})\n")

    def render(self):
        return [(self.key("tag"), TAG.format(S=self.state["S"])),
                (self.key("tg"), self.tg_text(self.state["T"]))]

    def hold(self, m, versions):
        return [Held("from m import tg", m.tg, t=self.state["T"])]

    def check(self, ctx, held):
        m, ns = ctx.m, ctx.ns
        for x in XS:
            ctx.expect(f"m.tg({x})", observe(m.tg, x), observe(ns["tg"], x))
        for h in held:
            want = ns["tg"]
            if h.meta["t"] != self.state["T"] and "HS102" in ctx.codes_for(
                    "tg"):
                h.meta["hs102"] = True
            # HS102 (documented): the held object runs the new body under
            # its old decoration, so the attribute the old decoration set
            # stays; only the body is compared.
            part = slice(0, 1) if h.meta.get("hs102") else slice(0, 2)
            for x in XS:
                ctx.expect(f"held tg(@tag('{h.meta['t']}'))({x})",
                           observe(h.obj, x)[part], observe(want, x)[part])


class Registry(Family):
    name = "registry"
    edits = ("r1", "r2", "add")

    def initial(self):
        return dict(A=1, B=2, R2=False)

    def edit_r1(self):
        self.bump("A")

    def edit_r2(self):
        self.bump("B")

    def edit_add(self):
        self.state["R2"] = True

    def render(self):
        s = self.state
        out = [(self.key("REGISTRY"), "REGISTRY = {}\n"),
               (self.key("register"),
                "def register(fn):\n    REGISTRY[fn.__name__] = fn\n"
                "    return fn\n"),
               (self.key("r1"),
                f"@register\ndef r1(x):\n    return ('r1', x + {s['A']})\n")]
        if s["R2"]:
            out.append((self.key("r2"),
                        "@register\ndef r2(x):\n"
                        f"    return ('r2', x * {s['B']})\n"))
        return out

    def hold(self, m, versions):
        return [Held("from m import r1", m.r1),
                Held("REGISTRY['r1'] entry", m.REGISTRY["r1"])]

    def check(self, ctx, held):
        m, ns = ctx.m, ctx.ns
        ctx.expect("sorted(m.REGISTRY)", sorted(m.REGISTRY),
                   sorted(ns["REGISTRY"]))
        for k in sorted(set(m.REGISTRY) & set(ns["REGISTRY"])):
            ctx.expect_same(f"m.REGISTRY[{k!r}] is m.{k}",
                            m.REGISTRY[k] is getattr(m, k, None),
                            ns["REGISTRY"][k] is ns[k])
            for x in XS:
                ctx.expect(f"m.REGISTRY[{k!r}]({x})",
                           observe(m.REGISTRY[k], x),
                           observe(ns["REGISTRY"][k], x))
        for h in held:
            for x in XS:
                ctx.expect(f"held {h.label}({x})", observe(h.obj, x),
                           observe(ns["r1"], x))


class Dataclass(Family):
    name = "dataclass"
    edits = ("a", "b", "c", "method", "pad")

    def initial(self):
        return dict(DA=1, DB=2, C=None, M=1, PAD=2)

    def edit_a(self):
        self.bump("DA")

    def edit_b(self):
        self.bump("DB")

    def edit_c(self):
        self.state["C"] = None if self.state["C"] is not None else self.num()

    def edit_method(self):
        self.bump("M")

    def edit_pad(self):
        old = self.state["PAD"]
        while self.state["PAD"] == old:
            self.state["PAD"] = self.r.randint(0, 3)

    def fields(self):
        s = self.state
        out = {"a": s["DA"], "b": s["DB"]}
        if s["C"] is not None:
            out["c"] = s["C"]
        return out

    def render(self):
        s = self.state
        body = "".join(f"    {k}: int = {v}\n"
                       for k, v in self.fields().items())
        return [
            (self.key("pad"),
             "".join(f"PAD_{i} = {i}\n" for i in range(s["PAD"]))
             or "PAD = 0\n"),
            (self.key("DC"),
             "@dataclasses.dataclass\nclass DC:\n" + body +
             "\n    def total(self):\n"
             f"        return self.a + self.b * {s['M']}\n"),
        ]

    def hold(self, m, versions):
        inst = m.DC()
        return [Held("instance", inst, values=dict(self.fields()))]

    def check(self, ctx, held):
        m, ns = ctx.m, ctx.ns
        F = ns["DC"]
        ctx.expect("fields(m.DC)",
                   [f.name for f in dataclasses.fields(m.DC)],
                   [f.name for f in dataclasses.fields(F)])
        ctx.expect("repr(m.DC())", repr(m.DC()), repr(F()))
        ctx.expect("m.DC().total()", m.DC().total(), F().total())
        new_fields = self.fields()
        for h in held:
            # Existing instances keep their values, get new fields'
            # defaults, lose removed fields (docs/diagnostics.md HS204 row).
            vals = h.meta["values"]
            vals = {k: vals.get(k, d) for k, d in new_fields.items()}
            h.meta["values"] = vals
            try:
                live = dataclasses.asdict(h.obj)
            except Exception as exc:  # noqa: BLE001
                live = f"raise {type(exc).__name__}"
            ctx.expect("held instance fields", live, vals)
            ctx.expect("held instance.total()", observe(h.obj.total),
                       observe(F(**vals).total))


class MutData(Family):
    """Data the program mutates between reloads."""
    name = "mutated_data"
    edits = ("items", "config", "body")

    def initial(self):
        return dict(I=(1, 2), CK=1, A=0)

    def __init__(self, r):
        super().__init__(r)
        self.items = list(self.state["I"])
        self.config = {"k": self.state["CK"]}
        self.tick = 0

    def edit_items(self):
        self.state["I"] = tuple(self.r.randint(0, 9)
                                for _ in range(self.r.randint(0, 3)))

    def edit_config(self):
        self.bump("CK")

    def edit_body(self):
        self.bump("A")

    def render(self):
        s = self.state
        return [
            (self.key("ITEMS"), f"ITEMS = {list(s['I'])!r}\n"),
            (self.key("CONFIG"), f"CONFIG = {{'k': {s['CK']}}}\n"),
            (self.key("count"),
             "def count_items():\n"
             f"    return ('count', len(ITEMS) + {s['A']}, sum(ITEMS), "
             "sorted(CONFIG.items()))\n"),
        ]

    def after_write(self, changed_keys):
        if self.key("ITEMS") in changed_keys:
            self.items = list(self.state["I"])
        if self.key("CONFIG") in changed_keys:
            self.config = {"k": self.state["CK"]}

    def before_reload(self, m):
        # The program mutates its data between reloads.
        self.tick += 1
        m.ITEMS.append(self.tick)
        self.items.append(self.tick)
        m.CONFIG["n"] = self.tick
        self.config["n"] = self.tick

    def prepare_fresh(self, ns):
        ns["ITEMS"] = list(self.items)
        ns["CONFIG"] = dict(self.config)

    def hold(self, m, versions):
        return [Held("from m import ITEMS", m.ITEMS),
                Held("from m import count_items", m.count_items)]

    def check(self, ctx, held):
        m, ns = ctx.m, ctx.ns
        ctx.expect("m.ITEMS", m.ITEMS, ns["ITEMS"])
        ctx.expect("m.CONFIG", m.CONFIG, ns["CONFIG"])
        ctx.expect("m.count_items()", observe(m.count_items),
                   observe(ns["count_items"]))
        for h in held:
            if callable(h.obj):
                ctx.expect("held count_items()", observe(h.obj),
                           observe(ns["count_items"]))
            elif h.obj is m.ITEMS:
                ctx.expect("held ITEMS (same object)", h.obj, ns["ITEMS"])


FAMILIES = [Alias, ClassAlias, Partial, Defaults, Table, Closure,
            DecoFactory, CallObj, AttrDeco, Registry, Dataclass, MutData]
FAMILY_NAMES = [f.name for f in FAMILIES]

PROLOGUE = "import dataclasses\nimport functools\n"


# -------------------------------------------------------------- driver ----
_serial = [0]


class Run:
    def __init__(self, seed, families, directory):
        self.r = random.Random(seed)
        self.families = [F(random.Random(self.r.random())) for F in FAMILIES]
        self.edit_families = [f for f in self.families
                              if f.name in families]
        _serial[0] += 1
        self.modname = f"hs_rf_{os.getpid()}_{_serial[0]}"
        self.path = os.path.join(directory, self.modname + ".py")
        self.texts = {}
        self.versions = collections.Counter()
        self.held = {f.name: [] for f in self.families}

    def render(self):
        chunks, texts = [PROLOGUE], {}
        for fam in self.families:
            for key, text in fam.render():
                texts[key] = text
                chunks.append(text)
        return "\n\n".join(chunks), texts

    def write(self):
        src, texts = self.render()
        changed = {k for k in set(texts) | set(self.texts)
                   if texts.get(k) != self.texts.get(k)}
        for k in changed:
            self.versions[k] += 1
        self.texts = texts
        with open(self.path, "w") as fh:
            fh.write(src)
        for fam in self.families:
            if hasattr(fam, "after_write"):
                fam.after_write(changed)
        return src, changed

    def take(self, m):
        for fam in self.families:
            if len(self.held[fam.name]) < 12:
                self.held[fam.name].extend(fam.hold(m, self.versions))

    def fresh(self, src):
        ns = {"__name__": self.modname, "__file__": self.path}
        exec(compile(src, self.path, "exec"), ns)
        for fam in self.families:
            if hasattr(fam, "prepare_fresh"):
                fam.prepare_fresh(ns)
        return ns


def run(cycles=100, seed=0, families=None):
    """Run `cycles` reload cycles on generated modules; return
    {family: [cycles_edited, divergences, examples, related_cycles,
    divergences_in_related_cycles]}.

    A divergence is counted once: the cycle that shows it ends the module
    (its state no longer follows the model) and a new module, with the
    next seed, takes over for the remaining cycles.
    """
    families = set(families or FAMILY_NAMES)
    stats = {f: [0, 0, [], 0, 0] for f in FAMILY_NAMES}
    done, sub = 0, 0
    while done < cycles:
        done += run_module(cycles - done, seed * 100003 + sub, families,
                           stats)
        sub += 1
    return stats


def run_module(cycles, seed, families, stats):
    """Cycles on one generated module until `cycles` ran or a divergence
    was found; return the number of cycles run."""
    sys.dont_write_bytecode = True
    with tempfile.TemporaryDirectory() as d:
        sys.path.insert(0, d)
        runner = Run(seed, families, d)
        try:
            src, _ = runner.write()
            importlib.invalidate_caches()
            m = importlib.import_module(runner.modname)
            runner.take(m)
            for cycle in range(cycles):
                if run_cycle(runner, m, cycle, stats):
                    return cycle + 1
            return cycles
        finally:
            sys.path.remove(d)
            sys.modules.pop(runner.modname, None)
            try:
                hotswap.untrack(runner.modname)
            except Exception:  # noqa: BLE001 - not tracked: nothing to do
                pass


def run_cycle(runner, m, cycle, stats):
    """One cycle: edit, write, reload, compare.  Return True when a
    divergence was found."""
    r = runner.r
    edited = collections.Counter()
    related = set()
    for _ in range(r.randint(1, 3)):
        fam = r.choice(runner.edit_families)
        rel = r.random() < 0.3
        fam.edit(r, rel)
        edited[fam.name] += 1
        if rel:
            related.add(fam.name)
    for fam in runner.families:
        fam.before_reload(m)
    src, changed = runner.write()
    for name in edited:
        stats[name][0] += 1
        stats[name][3] += name in related
    try:
        report = hotswap.reload(m)
    except hotswap.ReloadError as exc:
        # Every generated edit is valid: a refusal is a divergence of the
        # families edited in this cycle.
        for name in edited:
            stats[name][1] += 1
            stats[name][4] += name in related
            stats[name][2].append(f"seed-cycle {cycle}: ReloadError "
                                  f"{exc.code}: {exc}")
        return True
    ns = runner.fresh(src)
    diverged = False
    for fam in runner.families:
        ctx = Ctx(m, ns, report, runner.versions, src)
        try:
            fam.check(ctx, runner.held[fam.name])
        except Exception:  # noqa: BLE001 - a divergence too
            ctx.problems.append(traceback.format_exc(limit=3))
        if ctx.problems:
            diverged = True
            stats[fam.name][1] += 1
            stats[fam.name][4] += fam.name in related
            ex = stats[fam.name][2]
            if len(ex) < 8:
                codes = sorted({e.code for e in report.entries if e.code})
                ex.append(f"cycle {cycle} (edits {dict(edited)}, codes "
                          f"{codes}): " + "; ".join(ctx.problems[:2]))
    if not diverged and r.random() < 0.15:
        runner.take(m)
    return diverged


def table(results):
    """Per family: cycles that edited it, of which with several related
    statements edited at once; divergences found in its objects, of which
    in such a related-edit cycle."""
    lines = [f"{'family':<16}{'edited':>8}{'related':>9}{'divergences':>13}"
             f"{'in related':>12}"]
    for name in FAMILY_NAMES:
        if name not in results:
            continue
        edited, div, _, rel, div_rel = results[name]
        lines.append(f"{name:<16}{edited:>8}{rel:>9}{div:>13}{div_rel:>12}")
    lines.append(f"{'total':<16}{'':>8}{'':>9}"
                 f"{sum(v[1] for v in results.values()):>13}")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cycles", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--family", action="append", choices=FAMILY_NAMES)
    ap.add_argument("--verbose", "-v", action="store_true")
    ap.add_argument("--no-fail", action="store_true")
    args = ap.parse_args(argv)
    total = run(args.cycles, args.seed, args.family)
    print(f"random_fresh: {args.cycles} cycles, seed {args.seed}, "
          f"families {args.family or 'all'}")
    print(table(total))
    if args.verbose:
        for k, v in total.items():
            for ex in v[2][:4]:
                print(f"--- {k}: {ex}")
    bad = sum(v[1] for v in total.values())
    return 0 if (bad == 0 or args.no_fail) else 1


if __name__ == "__main__":
    sys.exit(main())
