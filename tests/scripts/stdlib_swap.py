"""Swap real code: copies of pure-Python stdlib modules, reloaded in place
in three rounds while CPython's own tests for them run before and after each
round, in one process; after each round every function must be what a fresh
import of the rewritten files gives.

Usage: stdlib_swap.py TMPDIR MODULE=TESTMODULE [MODULE=TESTMODULE ...]
       stdlib_swap.py all [--only a,b] [--ci] [--json FILE]

`all` runs the first form for each module of stdlib_list.MODULES available
on this interpreter (--ci: the CI subset), one new interpreter per module,
judges each against stdlib_list.known() (swapcheck.judge) and prints one
line per module and a table; exit status 1 when a module fails.

Run with -S (no site) and PYTHONPATH pointing at hotswap, so that the chosen
modules are imported from the copies:

1. copy each module (a .py file, or a package directory with its
   subpackages) from the stdlib to TMPDIR, put TMPDIR first on sys.path;
   `import hotswap` came first, so every copy gets a source snapshot when it
   is imported.  A chosen module the interpreter imported before (collections
   is imported by functools at start-up) is evicted from sys.modules first,
   with its submodules: the copy is a new module object, and the tests, run
   afterwards, import the copy;
2. import the copies and their test modules, run the tests (unittest) twice:
   a test whose outcome differs between these two plain runs is unstable and
   left out of the comparison (listed);
3. take references the way programs hold them (swapcheck.Held: functions,
   classes, bound methods of module-level instances, the instances);
4. three rounds, each one batch `hotswap.reload()` of every copy (package
   submodules included) plus, separately, the module objects the tests made
   with import_fresh_module():
     shift   7 lines on top: every code object moves;
     touch   the shifted text plus `_hs_noop_ = 0` first in every function
             body (after its docstring): every function changes;
     revert  the original text;
   after each: swapcheck.compare() against a fresh import of the same files
   in a new interpreter (code, co_firstlineno, line numbers, function
   attributes, bindings; the held references; module and class data kept),
   then the tests again; an outcome that differs from the first plain run
   is a new failure.

Prints one JSON line per module and a summary line; exit status 0 when the
harness ran (the caller judges the results), 2 when it could not run.
"""
# Only what must come first: everything else (ast, json, unittest, ...) is
# imported after the copies shadow the stdlib, since it may import them.
import os
import sys
import sysconfig

import hotswap

import swapcheck  # our directory (sys.path[0]): imports sys, os, types

STDLIB = sysconfig.get_paths()["stdlib"]
ROOT = PAIRS = None                # set by the command line (first form)
# module -> only the tests whose id holds this (test_datetime runs every
# test on the pure and on the C implementation: the pure half is ours).
FILTERS = {"_pydatetime": "_Pure"}


# -------------------------------------------------------------- copying ----
def copy_module(name):
    """Copy stdlib module `name` into ROOT; return the copied .py paths."""
    def copy(src, dst):
        with open(src, "rb") as fin, open(dst, "wb") as fout:
            fout.write(fin.read())
        return dst

    def copy_tree(src_dir, dst_dir):
        out = []
        os.mkdir(dst_dir)
        for f in sorted(os.listdir(src_dir)):
            s = os.path.join(src_dir, f)
            if f.endswith(".py"):
                out.append(copy(s, os.path.join(dst_dir, f)))
            elif os.path.isfile(os.path.join(s, "__init__.py")):
                out.extend(copy_tree(s, os.path.join(dst_dir, f)))
        return out

    src_file = os.path.join(STDLIB, name + ".py")
    src_pkg = os.path.join(STDLIB, name)
    if os.path.isfile(src_file):
        return [copy(src_file, os.path.join(ROOT, name + ".py"))]
    if os.path.isfile(os.path.join(src_pkg, "__init__.py")):
        return copy_tree(src_pkg, os.path.join(ROOT, name))
    raise SystemExit(f"stdlib_swap: {name} is not a pure-Python module")


# ---------------------------------------------------------------- tests ----
def make_recorder():
    """The result class (unittest is imported late, see main)."""
    class Recorder(unittest.TextTestResult):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            self.outcomes = {}

        def _put(self, test, what):
            self.outcomes[test.id()] = what

        def _last(self, err, test):
            return self._exc_info_to_string(err, test).strip() \
                .splitlines()[-1][:300]

        def addSuccess(self, test):
            super().addSuccess(test)
            self._put(test, "ok")

        def addFailure(self, test, err):
            super().addFailure(test, err)
            self._put(test, "FAIL " + self._last(err, test))

        def addError(self, test, err):
            super().addError(test, err)
            self._put(test, "ERROR " + self._last(err, test))

        def addSkip(self, test, reason):
            super().addSkip(test, reason)
            self._put(test, "skip")

        def addExpectedFailure(self, test, err):
            super().addExpectedFailure(test, err)
            self._put(test, "xfail")

        def addUnexpectedSuccess(self, test):
            super().addUnexpectedSuccess(test)
            self._put(test, "xpass")

        def addSubTest(self, test, subtest, err):
            super().addSubTest(test, subtest, err)
            if err is not None:
                self.outcomes[subtest.id()] = "SUBFAIL " + self._last(
                    err, test)
    return Recorder


def _filtered(suite, needle):
    out = unittest.TestSuite()
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            out.addTest(_filtered(item, needle))
        elif needle in item.id():
            out.addTest(item)
    return out


def run_tests(testmod, needle=None):
    suite = unittest.defaultTestLoader.loadTestsFromModule(testmod)
    if needle:
        suite = _filtered(suite, needle)
    stream = io.StringIO()
    runner = unittest.TextTestRunner(stream=stream, verbosity=0,
                                     resultclass=make_recorder())
    t0 = time.perf_counter()
    result = runner.run(suite)
    return result, time.perf_counter() - t0


def detached_copies(testmods, ours):
    """Module objects built from our copies that sys.modules does not hold
    (import_fresh_module results kept by the tests)."""
    seen, found = set(), []
    stack = list(testmods)
    while stack:
        mod = stack.pop()
        if id(mod) in seen:
            continue
        seen.add(id(mod))
        for value in list(vars(mod).values()):
            if not isinstance(value, type(sys)):
                continue
            f = getattr(value, "__file__", None) or ""
            if f.startswith(ROOT + os.sep):
                if sys.modules.get(value.__name__) is not value \
                        and id(value) not in {id(m) for m in found}:
                    found.append(value)
                stack.append(value)
            elif value.__name__.startswith("test.") or value in testmods:
                stack.append(value)
    return [m for m in found if m not in ours]


def group_of(modname):
    """The chosen module a (sub)module belongs to."""
    for name, _ in PAIRS:
        if modname == name or modname.startswith(name + "."):
            return name
    return modname


# ----------------------------------------------------------------- main ----
def main():
    global importlib, io, json, time, unittest
    evicted = []
    for name, _ in PAIRS:
        for loaded in [n for n in sys.modules
                       if n == name or n.startswith(name + ".")]:
            del sys.modules[loaded]
            evicted.append(loaded)
    files = {}
    for name, _ in PAIRS:
        files[name] = copy_module(name)
    sys.path.insert(0, ROOT)
    import importlib
    importlib.invalidate_caches()
    import io
    import json
    import time
    import unittest
    mods = {}
    for name, _ in PAIRS:
        mods[name] = importlib.import_module(name)
        assert mods[name].__file__.startswith(ROOT), mods[name].__file__
    testmods = {}
    for name, test in PAIRS:
        testmods[name] = importlib.import_module(test)
    needles = {name: FILTERS.get(name) for name, _ in PAIRS}

    plain, rerun = {}, {}
    for name, test in PAIRS:
        plain[name] = run_tests(testmods[name], needles[name])
    for name, test in PAIRS:
        rerun[name] = run_tests(testmods[name], needles[name])
    unstable = {}
    for name, _ in PAIRS:
        a, b = plain[name][0].outcomes, rerun[name][0].outcomes
        unstable[name] = sorted(k for k in set(a) | set(b)
                                if a.get(k) != b.get(k))

    # Every copy that got imported (submodules of packages included).
    # In import order (sys.modules keeps it): the fresh import repeats it.
    ours = [m for n, m in list(sys.modules.items())
            if (getattr(m, "__file__", None) or "").startswith(ROOT + os.sep)]
    ournames = [m.__name__ for m in ours]
    extra = detached_copies(list(testmods.values()), ours)
    held = swapcheck.Held(swapcheck.Walk(ours, ROOT))
    originals = {}
    for paths in files.values():
        for path in paths:
            with open(path, encoding="utf-8") as fh:
                originals[path] = fh.read()

    results = {name: {"module": name, "tests": test,
                      "run": plain[name][0].testsRun,
                      "failures": len(plain[name][0].failures),
                      "errors": len(plain[name][0].errors),
                      "seconds": round(plain[name][1], 2),
                      "unstable": unstable[name][:20],
                      "held_functions": sum(
                          1 for k in held.funcs
                          if group_of(k.split(":", 1)[0]) == name),
                      "rounds": {}}
               for name, test in PAIRS}
    summary = {"modules": [n for n, _ in PAIRS], "evicted": evicted,
               "submodules": ournames, "held_functions": len(held.funcs),
               "held_classes": len(held.classes),
               "held_bound_methods": sum(map(len, held.bound.values())),
               "rounds": {}}
    for rnd in swapcheck.ROUNDS:
        new_sources = {}
        touched = 0
        for path, src in originals.items():
            new = swapcheck.round_source(src, rnd)
            if rnd == "touch":
                touched += swapcheck.touch(swapcheck.shift(src))[1]
            new_sources[path] = new
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(new)
        before = swapcheck.Walk(ours, ROOT).data
        error = None
        t0 = time.perf_counter()
        try:
            report = hotswap.reload(*ours)
        except hotswap.ReloadError as exc:
            report = exc.report
            error = f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - t0
        extra_ok = []
        for m in extra:
            try:
                r = hotswap.reload(m)
                extra_ok.append(f"{m.__name__}@{id(m):x}: ok {r.ok}")
            except Exception as exc:  # noqa: BLE001 - reported
                extra_ok.append(f"{m.__name__}@{id(m):x}: "
                                f"{type(exc).__name__}: {exc}")
        live = swapcheck.Walk(ours, ROOT)
        fresh = swapcheck.fresh_walk(sys.executable, ROOT, ournames, [ROOT],
                                     flags=["-S"])
        divs = swapcheck.compare(fresh, live, held, before, live.data)
        divs, side = swapcheck.side_effects(divs, report)
        if error is None:
            divs += swapcheck.rejected_divergences(report)
        for d in divs:
            d["cause"] = swapcheck.classify(d, live, new_sources)
        entries = report.entries if report is not None else ()
        summary["rounds"][rnd] = {
            "reload_seconds": round(seconds, 3), "error": error,
            "updated": sum(1 for e in entries if e.action == "updated"),
            "moved": sum(1 for e in entries if e.action == "moved"),
            "rejected": [f"{e.module}.{e.name}: {e.code} {e.reason}"
                         for e in (report.rejected if report else ())],
            "replaced": [f"{e.module}.{e.name}: {e.code} {e.reason}"
                         for e in entries if e.action == "replaced"],
            "functions_touched": touched,
            "functions_checked": sum(1 for e in fresh.values()
                                     if e["kind"] == "func"),
            "fresh_copies": extra_ok, "side_effects": side[:20]}
        for name, test in PAIRS:
            r0 = plain[name][0]
            r1, _ = run_tests(testmods[name], needles[name])
            skip = set(unstable[name])
            changed = sorted(k for k in set(r0.outcomes) | set(r1.outcomes)
                             if k not in skip
                             and r0.outcomes.get(k) != r1.outcomes.get(k))
            mine = [d for d in divs
                    if group_of(d["key"].split(":", 1)[0]) == name]
            results[name]["rounds"][rnd] = {
                "error": error,
                "error_cause": swapcheck.classify_error(error),
                "run": r1.testsRun,
                "tests_changed": [(k, r0.outcomes.get(k),
                                   r1.outcomes.get(k))
                                  for k in changed[:15]],
                "tests_changed_count": len(changed),
                "divergences": mine[:60],
                "divergence_count": len(mine),
                "functions_touched": touched,
                "functions_checked": sum(
                    1 for k, e in fresh.items() if e["kind"] == "func"
                    and group_of(k.split(":", 1)[0]) == name),
            }
    for name, _ in PAIRS:
        print(json.dumps(results[name]), flush=True)
    print(json.dumps({"summary": summary}), flush=True)
    return 0


# ------------------------------------------------------------------ all ----
def available(mapping):
    """The modules of `mapping` (module -> test module) this interpreter
    has, with their tests, as pure-Python sources."""
    import importlib.util
    out = {}
    for mod, test in mapping.items():
        if not (os.path.isfile(os.path.join(STDLIB, mod + ".py"))
                or os.path.isfile(os.path.join(STDLIB, mod, "__init__.py"))):
            continue
        tpath = os.path.join(STDLIB, *test.split("."))
        if os.path.isfile(tpath + ".py") or os.path.isdir(tpath):
            out[mod] = test
    return out


def run_one_module(module, test, timeout=1800):
    """Run the harness for one module in a new interpreter; return its
    result dict (or {"module", "crash"})."""
    import json
    import subprocess
    import tempfile
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(hotswap.__file__))
    env.pop("PYTHONSTARTUP", None)
    with tempfile.TemporaryDirectory(prefix="hs-stdlib-") as tmp:
        root = os.path.join(tmp, "copies")
        os.mkdir(root)
        try:
            proc = subprocess.run(
                [sys.executable, "-S", "-X", "dev", os.path.abspath(__file__),
                 root, f"{module}={test}"],
                capture_output=True, text=True, timeout=timeout, env=env,
                cwd=tmp)
        except subprocess.TimeoutExpired:
            return {"module": module, "crash": f"timeout ({timeout}s)"}
    for line in proc.stdout.splitlines():
        if line.startswith('{"module"'):
            res = json.loads(line)
            if proc.returncode == 0:
                return res
    return {"module": module,
            "crash": f"exit {proc.returncode}: {proc.stdout[-1500:]}\n"
                     f"{proc.stderr[-2500:]}"}


def run_all(argv):
    import argparse
    import json
    import time
    import stdlib_list
    ap = argparse.ArgumentParser(prog="stdlib_swap.py all")
    ap.add_argument("--only", default="")
    ap.add_argument("--ci", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or (
        stdlib_list.CI if args.ci else list(stdlib_list.MODULES))
    mapping = available({n: stdlib_list.MODULES[n] for n in names})
    print(f"== stdlib swap: CPython {sys.version.split()[0]}, "
          f"{len(mapping)} module(s)"
          + (f" (not on this interpreter: "
             f"{sorted(set(names) - set(mapping))})"
             if set(names) - set(mapping) else ""), flush=True)
    results, bad = [], 0
    t_all = time.perf_counter()
    for module, test in mapping.items():
        t0 = time.perf_counter()
        res = run_one_module(module, test)
        res["seconds"] = round(time.perf_counter() - t0, 1)
        status, msgs = swapcheck.judge(res, stdlib_list.known(module))
        res["status"], res["messages"] = status, msgs
        results.append(res)
        bad += status == "FAIL"
        print(swapcheck.result_line(module, res), flush=True)
        for m in msgs:
            print("    " + m, flush=True)
    tolerated = set(stdlib_list.known("").get("tolerated", ()))
    for cause in sorted(tolerated):
        if not any(d.get("cause") == cause
                   for r in results for rnd in r.get("rounds", {}).values()
                   for d in rnd.get("divergences", ())):
            print(f"tolerated cause {cause} seen in no module: fixed? take "
                  f"it off TOLERATED_BY_VERSION", flush=True)
            bad += 1
    print(swapcheck.table(results, "module"), flush=True)
    tests = sum(r.get("run", 0) for r in results)
    print(f"== stdlib swap: {len(results) - bad} of {len(results)} modules "
          f"as expected ({sum(r['status'] == 'pass' for r in results)} "
          f"pass, {sum(r['status'] == 'known' for r in results)} known "
          f"failures), {tests} tests x 5 runs, "
          f"{time.perf_counter() - t_all:.0f}s", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "all":
        sys.exit(run_all(sys.argv[2:]))
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    ROOT = os.path.realpath(sys.argv[1])
    PAIRS = [a.split("=", 1) for a in sys.argv[2:]]
    sys.exit(main())
