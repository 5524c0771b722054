"""hotswap benchmarks: one command, every contender, Markdown + JSON.

    python benchmarks/run.py [--quick] [--only hotswap,importlib,...]
                             [--call-python PATH ...] [--out FILE.json]

Each contender x scenario runs in its own subprocess (``--worker``), on a
package made afresh by benchmarks/gen.py in a temporary directory, with
bytecode writing off (so no reload can pick up a stale .pyc).  A worker
imports the package, optionally allocates extra live heap objects, then for
each repetition rewrites core.py with the next edit (untimed), times the
reload call alone, and checks the result through the stale references held
by ``user.py`` (``from .core import ...``).  One untimed warm-up repetition
comes first; the median of the timed repetitions is reported.

Contenders: hotswap, importlib.reload (the floor of a full recompile),
IPython's autoreload ``superreload`` and ``DeduperReloader`` (falling back to
superreload as ``%autoreload`` does), jurigged.  A contender that cannot be
imported, crashes or times out is recorded as such; the run goes on.

Besides the reload scenarios: import-time overhead of ``import hotswap``'s
source-snapshot hook, steady-state call speed of a patched function against
a freshly imported one (on every interpreter given with --call-python, or
found in .venvs/3.1x), and RSS growth over many reload cycles.

Results: benchmarks/results/<date>-<python>.json and a Markdown table on
stdout (see docs/performance.md).  Not a test: nothing here asserts a time.
"""
from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import gen  # noqa: E402

PKG = "synthpkg"
CONTENDERS = ["hotswap", "importlib", "superreload", "deduperreload",
              "jurigged"]
EDITS = ["one", "all", "method", "const", "broken"]
EDIT_LABEL = {
    "one": "one function body",
    "all": "every function body",
    "method": "method added to one class",
    "const": "one constant",
    "broken": "syntax error (must fail, old code intact)",
}


# --------------------------------------------------------------------------
# worker side
# --------------------------------------------------------------------------

class _Payload:
    """An extra live heap object (GC-tracked)."""
    __slots__ = ("v", "w")

    def __init__(self, v):
        self.v = v
        self.w = None


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def _edit_kwargs(edit: str, r: int) -> dict:
    """The core.py edit of repetition r (r >= 1; r = 0 is the original)."""
    if edit == "one":
        return {"target": 1000 + r}
    if edit == "all":
        return {"body": r}
    if edit == "method":
        return {"methods": r}
    if edit == "const":
        return {"const": r}
    if edit == "broken":
        return {"broken": r}
    raise ValueError(edit)


def _checks(edit: str, r: int, n: int, core, user):
    """(stale-reference checks, module check) for repetition r.

    Each check is a (label, bool).  The stale references are the ones
    user.py took with ``from .core import ...`` before any reload."""
    mid = gen.mid_group(n)

    def ok(fn):
        try:
            return bool(fn())
        except Exception:
            return False

    if edit == "one":
        v = 1000 + r
        stale = [("from-imported function",
                  ok(lambda: getattr(user, f"f_{mid}_0")(1) == 1 + v)),
                 ("callback list entry",
                  ok(lambda: user.CALLBACKS[0](1) == 1 + v))]
        module = ok(lambda: getattr(core, f"f_{mid}_0")(1) == 1 + v)
    elif edit == "all":
        C = getattr(user, f"C_{mid}")
        stale = [
            ("function", ok(lambda: getattr(user, f"f_{mid}_0")(1) == 1 + r)),
            ("function reading a global",
             ok(lambda: getattr(user, f"f_{mid}_1")(1) == 1 + mid + r)),
            ("function with defaults",
             ok(lambda: getattr(user, f"f_{mid}_2")(1) == 2 + r)),
            ("decorated function",
             ok(lambda: getattr(user, f"d_{mid}")(1) == 1 - r)),
            ("closure", ok(lambda: getattr(user, f"adder_{mid}")(1)
                           == 1 + mid + r)),
            ("method (old instance)",
             ok(lambda: user.inst_mid.method(1) == 1 + mid + r)),
            ("bound method", ok(lambda: user.bound_mid(1) == 1 + mid + r)),
            ("classmethod", ok(lambda: C.cmethod(1) == 1 + mid + r)),
            ("staticmethod", ok(lambda: C.smethod(1) == 1 + r)),
            ("property", ok(lambda: user.inst_mid.prop == mid + r)),
        ]
        module = ok(lambda: getattr(core, f"f_{mid}_0")(1) == 1 + r)
    elif edit == "method":
        name = f"added_{r}"
        stale = [("method on stale class, old instance",
                  ok(lambda: getattr(user.inst_mid, name)() == r))]
        module = ok(lambda: getattr(getattr(core, f"C_{mid}")(), name)() == r)
    elif edit == "const":
        k = mid + 1000 * r
        stale = [("from-imported function reading the constant",
                  ok(lambda: getattr(user, f"f_{mid}_1")(1) == 1 + k))]
        module = ok(lambda: getattr(core, f"K_{mid}") == k)
    elif edit == "broken":
        # must have failed: the old code keeps running, module intact
        stale = [("old code intact",
                  ok(lambda: getattr(user, f"f_{mid}_0")(1) == 1
                     and getattr(core, f"f_{mid}_0")(1) == 1
                     and getattr(core, f"K_{mid}") == mid))]
        module = stale[0][1]
    else:
        raise ValueError(edit)
    return stale, module


class _Contender:
    """Set up before import, reload after each edit."""

    name = "?"

    def before_import(self, root):
        pass

    def after_import(self, core):
        pass

    def reload(self, core):
        raise NotImplementedError

    def info(self):
        return {}


class _Hotswap(_Contender):
    name = "hotswap"

    def before_import(self, root):
        import hotswap  # installs the source-snapshot import hook
        self.hs = hotswap
        self.version = getattr(hotswap, "__version__", "?")

    def reload(self, core):
        self.hs.reload(core)


class _Importlib(_Contender):
    name = "importlib"

    def before_import(self, root):
        import importlib
        self.il = importlib
        self.version = platform.python_version()

    def reload(self, core):
        self.il.reload(core)


class _Superreload(_Contender):
    name = "superreload"

    def before_import(self, root):
        import IPython
        from importlib import reload
        from IPython.extensions.autoreload import superreload
        self.version = IPython.__version__
        self.superreload = superreload
        self.il_reload = reload
        self.old_objects = {}

    def reload(self, core):
        self.superreload(core, self.il_reload, self.old_objects)


class _Deduper(_Superreload):
    """What %autoreload 2 does per changed module (IPython >= 8.3x):
    DeduperReloader.maybe_reload_module, superreload when it declines."""

    name = "deduperreload"

    def before_import(self, root):
        super().before_import(root)
        from IPython.extensions.autoreload import DeduperReloader
        self.dr = DeduperReloader()
        self.paths = {"deduper": 0, "superreload fallback": 0}

    def after_import(self, core):
        self.dr.update_sources()

    def reload(self, core):
        if self.dr.maybe_reload_module(core):
            self.paths["deduper"] += 1
        else:
            self.paths["superreload fallback"] += 1
            self.superreload(core, self.il_reload, self.old_objects)
        self.dr.update_sources()

    def info(self):
        return {"paths": self.paths}


class _Jurigged(_Contender):
    name = "jurigged"

    def before_import(self, root):
        import jurigged
        self.version = jurigged.__version__
        self.registry = jurigged.registry
        self.errors = []
        # precache sources of modules imported from now on (the sniffer)
        self.registry.auto_register(
            filter=lambda fn: os.path.abspath(fn).startswith(root))
        self.registry.set_logger(self._log)

    def _log(self, event):
        if isinstance(event, BaseException):
            self.errors.append(event)

    def after_import(self, core):
        self.cf = self.registry.get(core.__file__)  # built lazily: warm it

    def reload(self, core):
        n = len(self.errors)
        self.cf.refresh()
        if len(self.errors) > n:  # jurigged logs errors instead of raising
            raise self.errors[-1]


_CONTENDER_CLASSES = {c.name: c for c in
                      (_Hotswap, _Importlib, _Superreload, _Deduper,
                       _Jurigged)}


def worker_reload(spec: dict) -> dict:
    contender = _CONTENDER_CLASSES[spec["contender"]]()
    n, edit, heap = spec["size"], spec["edit"], spec["heap"]
    reps, budget = spec["reps"], spec["budget"]
    sys.dont_write_bytecode = True
    root = tempfile.mkdtemp(prefix="hsbench-")
    gen.write_package(root, PKG, n)
    sys.path.insert(0, root)
    contender.before_import(root)
    t0 = time.perf_counter()
    import importlib
    core = importlib.import_module(f"{PKG}.core")
    user = importlib.import_module(f"{PKG}.user")
    import_s = time.perf_counter() - t0
    contender.after_import(core)
    extra = [_Payload(i) for i in range(heap)]  # noqa: F841 (kept alive)
    gc.collect()
    times, effects, modules, errors = [], [], [], []
    first = None
    single = False
    started = time.perf_counter()
    r = 0
    while True:
        r += 1
        gen.write_core(root, PKG, n, **_edit_kwargs(edit, r))
        gc.collect()
        raised = None
        t0 = time.perf_counter()
        try:
            contender.reload(core)
        except BaseException as e:  # noqa: B902 - recorded, judged below
            raised = e
        dt = time.perf_counter() - t0
        stale, module = _checks(edit, r, n, core, user)
        if edit == "broken":
            if raised is None:
                stale = [(label, False) for label, _ in stale]
                module = False
                errors.append("no error raised for a syntax error")
            # restore nothing: the next repetition is another broken text
        elif raised is not None:
            errors.append(f"{type(raised).__name__}: {raised}"[:300])
        if r == 1:
            first = dt
        else:
            times.append(dt)
        effects.append(stale)
        modules.append(module)
        done = r - 1
        if r == 1 and first > budget:
            # slower than the whole budget: the warm-up is the measurement
            times.append(first)
            single = True
            break
        # a contender slower than half the budget per reload gets one timed
        # repetition (its warm-up already showed the order of magnitude)
        min_reps = 1 if first > budget / 2 else spec["min_reps"]
        if done >= reps or (done >= min_reps
                            and time.perf_counter() - started > budget):
            break
    labels = [label for label, _ in effects[0]]
    passed = {label: all(dict(e)[label] for e in effects) for label in labels}
    return {
        "version": getattr(contender, "version", "?"),
        "import_s": import_s,
        "first_s": first,
        "times_s": times,
        "median_s": statistics.median(times),
        "min_s": min(times),
        "single_run": single,
        "stale_checks": passed,
        "stale_ok": sum(passed.values()),
        "stale_total": len(passed),
        "module_ok": all(modules),
        "errors": sorted(set(errors))[:5],
        "info": contender.info(),
    }


def worker_import(spec: dict) -> dict:
    """Time `import core, user`, with or without `import hotswap` first."""
    root = spec["root"]
    sys.path.insert(0, root)
    if spec["hotswap"]:
        import hotswap  # noqa: F401
    import importlib
    t0 = time.perf_counter()
    importlib.import_module(f"{PKG}.core")
    importlib.import_module(f"{PKG}.user")
    return {"import_s": time.perf_counter() - t0}


def _best_loop(fn, arg, rounds):
    ts = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn(arg)
        ts.append(time.perf_counter() - t0)
    return ts


def worker_callspeed(spec: dict) -> dict:
    """Calls of a patched function vs the same code freshly imported.

    Package a: imported at version 0, call loops run (call sites
    specialised), then core.py rewritten and hotswap.reload'ed.  Package b:
    the edited source, imported fresh.  user.call_loop calls the stale
    from-imported function (a) or the fresh one (b); timings interleave."""
    import hotswap
    import importlib
    sys.dont_write_bytecode = True
    n, loops, rounds = spec["size"], spec["loops"], spec["rounds"]
    root = tempfile.mkdtemp(prefix="hsbench-call-")
    sys.path.insert(0, root)
    gen.write_package(root, "pkg_a", n)
    ua = importlib.import_module("pkg_a.user")
    ca = importlib.import_module("pkg_a.core")
    ua.call_loop(loops)
    ua.call_loop_method(loops)
    gen.write_core(root, "pkg_a", n, target=7, body=1)
    hotswap.reload(ca)
    gen.write_package(root, "pkg_b", n, target=7, body=1)
    ub = importlib.import_module("pkg_b.user")
    assert ua.call_loop(1000) == ub.call_loop(1000), "patch not applied"
    assert ua.call_loop_method(1000) == ub.call_loop_method(1000)
    res = {"python": platform.python_version()}
    for label, fa, fb in (("function", ua.call_loop, ub.call_loop),
                          ("method", ua.call_loop_method,
                           ub.call_loop_method)):
        fa(loops)
        fb(loops)  # warm: specialise both call sites
        ta, tb = [], []
        for _ in range(rounds):
            ta += _best_loop(fa, loops, 1)
            tb += _best_loop(fb, loops, 1)
        # min: the least disturbed round (other load only adds time)
        pa, pb = min(ta), min(tb)
        res[label] = {"patched_ns_per_call": pa / loops * 1e9,
                      "fresh_ns_per_call": pb / loops * 1e9,
                      "speed_vs_fresh": pb / pa}
    return res


def worker_rss(spec: dict) -> dict:
    """RSS growth over many reload cycles of a one-function edit."""
    contender = _CONTENDER_CLASSES[spec["contender"]]()
    n, cycles, warm = spec["size"], spec["cycles"], spec["warmup"]
    sys.dont_write_bytecode = True
    root = tempfile.mkdtemp(prefix="hsbench-rss-")
    gen.write_package(root, PKG, n)
    sys.path.insert(0, root)
    contender.before_import(root)
    import importlib
    core = importlib.import_module(f"{PKG}.core")
    user = importlib.import_module(f"{PKG}.user")
    contender.after_import(core)
    mid = gen.mid_group(n)
    r = 0

    def cycle():
        nonlocal r
        r += 1
        gen.write_core(root, PKG, n, target=1000 + r)
        contender.reload(core)

    for _ in range(warm):
        cycle()
    gc.collect()
    rss0, objs0 = _rss_bytes(), len(gc.get_objects())
    t0 = time.perf_counter()
    for _ in range(cycles):
        cycle()
    elapsed = time.perf_counter() - t0
    gc.collect()
    rss1, objs1 = _rss_bytes(), len(gc.get_objects())
    took = getattr(core, f"f_{mid}_0")(1) == 1 + 1000 + r
    stale = getattr(user, f"f_{mid}_0")(1) == 1 + 1000 + r
    return {"cycles": cycles, "warmup": warm, "rss_before": rss0,
            "rss_after": rss1, "rss_growth": rss1 - rss0,
            "gc_objects_growth": objs1 - objs0,
            "per_cycle_s": elapsed / cycles, "module_ok": took,
            "stale_ok": stale}


WORKERS = {"reload": worker_reload, "import": worker_import,
           "callspeed": worker_callspeed, "rss": worker_rss}


def worker_main(spec_json: str) -> int:
    spec = json.loads(spec_json)
    try:
        out = {"ok": True, **WORKERS[spec["kind"]](spec)}
    except ImportError as e:
        out = {"ok": False, "status": "not installed", "error": str(e)}
    except BaseException as e:  # noqa: B902
        out = {"ok": False, "status": "crashed",
               "error": f"{type(e).__name__}: {e}"[:500]}
    sys.stdout.flush()
    print("\n@@RESULT@@" + json.dumps(out))
    sys.stdout.flush()
    os._exit(0)  # skip teardown of large heaps / watcher threads


# --------------------------------------------------------------------------
# driver side
# --------------------------------------------------------------------------

def spawn(spec: dict, timeout: float, python: str = sys.executable,
          extra_args=()) -> dict:
    cmd = [python, *extra_args, os.path.abspath(__file__), "--worker",
           json.dumps(spec)]
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"ok": False, "status": "timeout",
                "error": f"no result in {timeout:.0f} s"}
    marker = p.stdout.rfind("@@RESULT@@")
    if marker < 0:
        tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
        return {"ok": False, "status": "crashed",
                "error": f"exit {p.returncode}: " + " | ".join(tail)}
    return json.loads(p.stdout[marker + len("@@RESULT@@"):].strip())


def reload_scenarios(quick: bool, all_peers: bool = False):
    sizes = [100, 1000] if quick else [100, 1000, 10000]
    big = sizes[-1]
    heaps = [100_000] if quick else [100_000, 1_000_000]
    out = []
    # At 10,000 functions superreload and jurigged take from a minute to
    # many minutes per reload (they grow faster than linearly): they run the
    # two target edits only, unless --all-peers.
    slow = None if all_peers else ["hotswap", "importlib", "deduperreload"]
    for size in sizes:
        for edit in EDITS:
            sc = {"edit": edit, "size": size, "heap": 0}
            if quick and size == big and edit == "all" and not all_peers:
                # jurigged: ~30 s for this one reload, a quarter of --quick
                sc["contenders"] = [c for c in CONTENDERS if c != "jurigged"]
            if size >= 10000 and slow is not None:
                if edit == "one":
                    pass
                elif edit == "all":
                    sc["contenders"] = slow + ["superreload"]
                else:
                    sc["contenders"] = slow
            out.append(sc)
    for heap in heaps:
        sc = {"edit": "one", "size": big, "heap": heap}
        if big >= 10000 and slow is not None:
            sc["contenders"] = slow
        out.append(sc)
    if not quick:
        # superreload/jurigged would take many minutes per reload here
        out.append({"edit": "all", "size": big, "heap": heaps[-1],
                    "contenders": ["hotswap", "importlib"]})
    return out


def fmt_s(s):
    if s is None:
        return "-"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 0.01:
        return f"{s * 1e3:.0f} ms"
    if s >= 0.001:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e3:.2f} ms"


def cell(res, base):
    if not res.get("ok"):
        return res.get("status", "failed")
    t = res["median_s"]
    ratio = f" ({t / base:.3g}×)" if base else ""
    eff = "✓" if res["stale_ok"] == res["stale_total"] else (
        "✗" if res["stale_ok"] == 0 else
        f"{res['stale_ok']}/{res['stale_total']}")
    if res.get("single_run"):
        eff += " ¹"
    if not res["module_ok"]:
        eff += " (module not updated)"
    if res.get("errors") and not res["module_ok"]:
        eff += " err"
    return f"{fmt_s(t)}{ratio} {eff}"


def markdown(results: dict) -> str:
    lines = []
    cs = results["contenders"]
    lines.append("### Reload time (median) — ratio vs importlib.reload — "
                 "effect through stale `from` references")
    lines.append("")
    lines.append("| edit | functions | extra heap | " + " | ".join(cs) + " |")
    lines.append("|---|---:|---:|" + "---|" * len(cs))
    for sc in results["reload"]:
        base = sc["results"].get("importlib", {})
        b = base.get("median_s") if base.get("ok") else None
        row = [EDIT_LABEL[sc["edit"]], f"{sc['size']:,}", f"{sc['heap']:,}"]
        row += [cell(sc["results"].get(c, {"status": "-"}), b) for c in cs]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("✓: every check through the stale references passed in "
                 "every repetition; ✗: none did; k/n: k of n kinds of "
                 "reference saw the edit (see JSON `stale_checks`); ¹: slower than "
                 "the time budget, a single reload measured.")
    notes = []
    for sc in results["reload"]:
        for c, res in sc["results"].items():
            tag = f"{c}, {sc['edit']}, {sc['size']:,} fn, heap {sc['heap']:,}"
            if not res.get("ok"):
                notes.append(f"- {tag}: {res.get('status')}: "
                             f"{res.get('error', '')[:200]}")
            elif res.get("errors"):
                notes.append(f"- {tag}: raised {res['errors'][0][:160]}")
            if res.get("info", {}).get("paths"):
                p = res["info"]["paths"]
                if p.get("superreload fallback"):
                    notes.append(f"- {tag}: deduperreload declined "
                                 f"{p['superreload fallback']} of "
                                 f"{sum(p.values())} reloads (superreload "
                                 "fallback)")
    if notes:
        lines.append("")
        lines.append("Notes:")
        lines += notes
    if results.get("import"):
        lines.append("")
        lines.append("### Import time with hotswap's snapshot hook")
        lines.append("")
        lines.append("| functions | .pyc | without hotswap | with "
                     "`import hotswap` first | ratio |")
        lines.append("|---:|---|---:|---:|---:|")
        for row in results["import"]:
            lines.append(f"| {row['size']:,} | {row['pyc']} | "
                         f"{fmt_s(row['without_s'])} | "
                         f"{fmt_s(row['with_s'])} | "
                         f"{row['ratio']:.3f}× |")
    if results.get("callspeed"):
        lines.append("")
        lines.append("### Calls of a patched function vs a fresh import")
        lines.append("")
        lines.append("| python | call | patched ns/call | fresh ns/call | "
                     "speed vs fresh |")
        lines.append("|---|---|---:|---:|---:|")
        for row in results["callspeed"]:
            if not row.get("ok"):
                lines.append(f"| {row.get('label')} | - | "
                             f"{row.get('status')} | | |")
                continue
            for k in ("function", "method"):
                d = row[k]
                lines.append(f"| {row['python']} | {k} | "
                             f"{d['patched_ns_per_call']:.1f} | "
                             f"{d['fresh_ns_per_call']:.1f} | "
                             f"{d['speed_vs_fresh']:.3f}× |")
    if results.get("rss"):
        lines.append("")
        lines.append("### Memory over many reload cycles (one-function edit)")
        lines.append("")
        lines.append("| contender | functions | cycles | RSS before | "
                     "RSS growth | GC objects growth | per cycle |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|")
        for row in results["rss"]:
            if not row.get("ok"):
                lines.append(f"| {row['contender']} | | | "
                             f"{row.get('status')} | | | |")
                continue
            lines.append(
                f"| {row['contender']} | {row['size']:,} | "
                f"{row['cycles']:,} | {row['rss_before'] / 2**20:.1f} MiB | "
                f"{row['rss_growth'] / 2**20:+.2f} MiB | "
                f"{row['gc_objects_growth']:+,} | "
                f"{fmt_s(row['per_cycle_s'])} |")
    lines.append("")
    lines.append("Watcher latency, main-thread pause and idle CPU: "
                 "`python benchmarks/watch_latency.py`.")
    if results.get("targets"):
        lines.append("")
        lines.append("### Targets")
        lines.append("")
        lines.append("| target | measured | met |")
        lines.append("|---|---|---|")
        for t in results["targets"]:
            met = {True: "yes", False: "**no**", None: "n/a"}[t["met"]]
            lines.append(f"| {t['target']} | {t['measured']} | {met} |")
    return "\n".join(lines)


def evaluate_targets(results: dict) -> list:
    out = []

    def find(edit, size, heap, c):
        for sc in results["reload"]:
            if (sc["edit"], sc["size"], sc["heap"]) == (edit, size, heap):
                res = sc["results"].get(c, {})
                return res.get("median_s") if res.get("ok") else None
        return None

    big = max(sc["size"] for sc in results["reload"])
    hs1, il1 = find("one", big, 0, "hotswap"), find("one", big, 0, "importlib")
    if hs1 and il1:
        out.append({"target": f"one-function edit, {big:,} fn: hotswap ≤ 1/50"
                              " of importlib.reload",
                    "measured": f"1/{il1 / hs1:.0f} ({fmt_s(hs1)} vs "
                                f"{fmt_s(il1)})",
                    "met": il1 / hs1 >= 50})
    heaps = sorted({sc["heap"] for sc in results["reload"]
                    if sc["size"] == big and sc["edit"] == "one"})
    hsbig = find("one", big, heaps[-1], "hotswap") if heaps else None
    if hs1 and hsbig and heaps[-1]:
        out.append({"target": f"same edit with {heaps[-1]:,} extra live "
                              "objects ≤ 1.2× of none",
                    "measured": f"{hsbig / hs1:.2f}× ({fmt_s(hsbig)} vs "
                                f"{fmt_s(hs1)})",
                    "met": hsbig / hs1 <= 1.2})
    hsa, ila = find("all", big, 0, "hotswap"), find("all", big, 0, "importlib")
    if hsa and ila:
        out.append({"target": f"every function changed, {big:,} fn: ≤ 1.5× "
                              "importlib.reload",
                    "measured": f"{hsa / ila:.2f}× ({fmt_s(hsa)} vs "
                                f"{fmt_s(ila)})",
                    "met": hsa / ila <= 1.5})
    for row in results.get("import", []):
        out.append({"target": f"import with tracking ≤ 1.05× without "
                              f"({row['size']:,} fn, .pyc {row['pyc']})",
                    "measured": f"{row['ratio']:.3f}×",
                    "met": row["ratio"] <= 1.05})
    for row in results.get("rss", []):
        if row.get("ok") and row["contender"] == "hotswap":
            out.append({"target": f"{row['cycles']:,} reload cycles: RSS "
                                  "growth < 1 MB",
                        "measured": f"{row['rss_growth'] / 1e6:+.2f} MB",
                        "met": row["rss_growth"] < 1e6})
    for row in results.get("callspeed", []):
        if not row.get("ok"):
            continue
        minor = ".".join(row["python"].split(".")[:2])
        worst = min(row["function"]["speed_vs_fresh"],
                    row["method"]["speed_vs_fresh"])
        out.append({"target": f"patched call speed ≥ 0.95× fresh "
                              f"(Python {row['python']})",
                    "measured": f"{worst:.3f}× (worst of function/method)",
                    "met": (worst >= 0.95) if minor in ("3.11", "3.12")
                    else None})
    return out


def find_call_pythons():
    """Interpreters for the call-speed measurement: this one, plus the
    tools/matrix.sh venvs that have hotswap installed."""
    found = [sys.executable]
    mine = platform.python_version_tuple()[:2]
    for minor in ("3.11", "3.12", "3.13", "3.14", "3.15"):
        if minor == ".".join(mine):
            continue
        py = os.path.join(ROOT, ".venvs", minor, "bin", "python")
        if os.path.exists(py):
            found.append(py)
    return found


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description="hotswap benchmarks (see docs/performance.md)")
    p.add_argument("--quick", action="store_true",
                   help="sizes 100/1,000 only, fewer repetitions (< 2 min)")
    p.add_argument("--only", default=",".join(CONTENDERS),
                   help="comma-separated contenders")
    p.add_argument("--skip", default="",
                   help="comma-separated sections to skip: "
                        "reload,import,callspeed,rss")
    p.add_argument("--call-python", action="append", default=None,
                   help="interpreter (with hotswap installed) for the "
                        "call-speed section; repeatable; default: this one "
                        "plus .venvs/3.1x/bin/python")
    p.add_argument("--all-peers", action="store_true",
                   help="run superreload and jurigged on every 10,000-"
                        "function scenario too (hours)")
    p.add_argument("--out", default=None, help="JSON output path")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker_main(args.worker)

    quick = args.quick
    contenders = [c for c in args.only.split(",") if c]
    skip = set(filter(None, args.skip.split(",")))
    reps = 3 if quick else 7
    timeout = 60 if quick else 300
    t_start = time.perf_counter()
    results = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "quick": quick,
        "contenders": contenders,
        "reload": [],
    }
    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731

    if "reload" not in skip:
        for sc in reload_scenarios(quick, args.all_peers):
            sc = dict(sc, results={})
            only = sc.pop("contenders", None)
            for c in contenders:
                if only is not None and c not in only:
                    sc["results"][c] = {"ok": False,
                                        "status": "not run (slow)",
                                        "error": "skipped at this size "
                                                 "(--all-peers runs it)"}
                    continue
                spec = {"kind": "reload", "contender": c, "size": sc["size"],
                        "edit": sc["edit"], "heap": sc["heap"],
                        "reps": reps, "min_reps": 2 if quick else 3,
                        "budget": 2 if quick else 30}
                t0 = time.perf_counter()
                res = spawn(spec, timeout)
                sc["results"][c] = res
                log(f"[{time.perf_counter() - t_start:6.0f}s] "
                    f"{sc['edit']:6} {sc['size']:>6} heap {sc['heap']:>9} "
                    f"{c:13} {cell(res, None):40} "
                    f"({time.perf_counter() - t0:.1f}s)")
            results["reload"].append(sc)

    if "import" not in skip:
        results["import"] = []
        sizes = [1000] if quick else [1000, 10000]
        runs = 5 if quick else 15
        for size in sizes:
            root = tempfile.mkdtemp(prefix="hsbench-import-")
            gen.write_package(root, PKG, size)
            for pyc in ("warm", "none"):
                flags = ["-B"] if pyc == "none" else []
                if pyc == "warm":  # write the .pyc files once
                    spawn({"kind": "import", "root": root, "hotswap": False},
                          timeout)
                w, wo = [], []
                for i in range(runs):  # interleaved: drift hits both
                    for hs in (False, True):
                        res = spawn({"kind": "import", "root": root,
                                     "hotswap": hs}, timeout,
                                    extra_args=flags)
                        if res.get("ok"):
                            (w if hs else wo).append(res["import_s"])
                row = {"size": size, "pyc": pyc,
                       "without_s": statistics.median(wo),
                       "with_s": statistics.median(w),
                       "runs": runs}
                row["ratio"] = row["with_s"] / row["without_s"]
                results["import"].append(row)
                log(f"import {size} pyc={pyc}: {fmt_s(row['without_s'])} -> "
                    f"{fmt_s(row['with_s'])} ({row['ratio']:.3f}x)")

    if "callspeed" not in skip:
        results["callspeed"] = []
        pythons = args.call_python or find_call_pythons()
        for py in pythons:
            spec = {"kind": "callspeed", "size": 1000,
                    "loops": 100_000 if quick else 300_000,
                    "rounds": 7 if quick else 31}
            res = spawn(spec, timeout, python=py)
            res["label"] = py
            results["callspeed"].append(res)
            if res.get("ok"):
                log(f"callspeed {res['python']}: function "
                    f"{res['function']['speed_vs_fresh']:.3f}x, method "
                    f"{res['method']['speed_vs_fresh']:.3f}x")
            else:
                log(f"callspeed {py}: {res.get('status')} {res.get('error')}")

    if "rss" not in skip:
        results["rss"] = []
        rss_runs = [("hotswap", 500 if quick else 10_000)]
        if not quick and "importlib" in contenders:
            rss_runs.append(("importlib", 2_000))
        for c, cycles in rss_runs:
            if c not in contenders:
                continue
            spec = {"kind": "rss", "contender": c, "size": 100,
                    "cycles": cycles, "warmup": 200}
            res = spawn(spec, timeout)
            res.update(contender=c, size=100)
            results["rss"].append(res)
            log(f"rss {c}: {res.get('rss_growth', res.get('status'))}")

    if results["reload"] or results.get("import") or results.get("rss"):
        results["targets"] = evaluate_targets(results) if results[
            "reload"] else []
    results["wall_s"] = time.perf_counter() - t_start
    out = args.out
    if out is None:
        d = os.path.join(HERE, "results")
        os.makedirs(d, exist_ok=True)
        tag = "quick-" if quick else ""
        out = os.path.join(d, f"{datetime.date.today().isoformat()}-{tag}"
                              f"py{platform.python_version()}.json")
    with open(out, "w") as f:
        json.dump(results, f, indent=1)
    print(markdown(results))
    print(f"\n(JSON: {os.path.relpath(out, ROOT)}; "
          f"{results['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
