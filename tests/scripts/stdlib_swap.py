"""Swap real code: copies of pure-Python stdlib modules, reloaded in place
while CPython's own tests for them run before and after, in one process.

Usage: stdlib_swap.py TMPDIR MODULE=TESTMODULE [MODULE=TESTMODULE ...]

Run with -S (no site) and PYTHONPATH pointing at hotswap, so that none of the
chosen modules is imported before the copies shadow the stdlib:

1. copy each module (a .py file, or a package directory) from the stdlib to
   TMPDIR, put TMPDIR first on sys.path; `import hotswap` came first, so
   every copy gets a source snapshot when it is imported;
2. import the copies and their test modules, run the tests (unittest);
3. rewrite every copy so that every function moves and changes while the
   behaviour stays the same: comment lines at the top (every line moves)
   and a no-op assignment at the start of every function body (after its
   docstring), then hotswap.reload() all copies in place as one batch --
   plus the module objects the tests made with import_fresh_module() (e.g.
   the pure-Python heapq/json the tests keep next to the C-accelerated one);
4. run the same tests again in the same process.

Prints one JSON line per module pair and a summary; exits 1 when the
results of step 4 differ from those of step 2 or a reload failed.
"""
# Only what must come first: everything else (ast, json, unittest, ...) is
# imported after the copies shadow the stdlib, since it may import them.
import os
import sys
import sysconfig

import hotswap

ROOT = sys.argv[1]
PAIRS = [a.split("=", 1) for a in sys.argv[2:]]
STDLIB = sysconfig.get_paths()["stdlib"]
NOOP = "_hs_noop_ = 0"


# ----------------------------------------------------------- transform ----
def transform(source):
    """Same behaviour, every function moved and changed; returns (new
    source, qualified names of the module- and class-level functions
    changed; None for nested ones)."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    inserts = {}           # 0-based line index -> text to insert before
    changed = []
    qualnames = {}
    todo = [(tree, "")]
    while todo:            # qualified names of module- and class-level defs
        parent, prefix = todo.pop()
        for child in getattr(parent, "body", ()):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                  ast.ClassDef)):
                qualnames[child] = prefix + child.name
                if isinstance(child, ast.ClassDef):
                    todo.append((child, prefix + child.name + "."))
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        # Functions that look at their own locals must keep them as is.
        if any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
               and n.func.id in ("locals", "vars", "exec", "eval")
               for n in ast.walk(node)):
            continue
        body = node.body
        k = 0
        if (isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            k = 1                      # keep the docstring first
        if k >= len(body):
            target_line = body[0].end_lineno      # after a lone docstring
            col = body[0].col_offset
            if body[0].lineno == node.lineno:
                continue
            inserts.setdefault(target_line, []).append(" " * col + NOOP
                                                        + "\n")
            changed.append(qualnames.get(node))
            continue
        stmt = body[k]
        if stmt.lineno == node.lineno:
            continue                   # `def f(): return x` on one line
        line = lines[stmt.lineno - 1]
        if len(line) - len(line.lstrip()) != stmt.col_offset:
            continue                   # not first on its line
        if k and body[0].end_lineno == stmt.lineno:
            continue
        inserts.setdefault(stmt.lineno - 1, []).append(
            " " * stmt.col_offset + NOOP + "\n")
        changed.append(qualnames.get(node))
    out = ["# hotswap stdlib_swap: moved\n"] * 3
    for i, line in enumerate(lines):
        out.extend(inserts.get(i, ()))
        out.append(line)
    out.extend(inserts.get(len(lines), ()))
    new = "".join(out)
    ast.parse(new)                     # still valid
    return new, changed


# -------------------------------------------------------------- copying ----
def copy_module(name):
    """Copy stdlib module `name` into ROOT; return the copied .py paths."""
    def copy(src, dst):
        with open(src, "rb") as fin, open(dst, "wb") as fout:
            fout.write(fin.read())
        return dst

    src_file = os.path.join(STDLIB, name + ".py")
    src_pkg = os.path.join(STDLIB, name)
    if os.path.isfile(src_file):
        return [copy(src_file, os.path.join(ROOT, name + ".py"))]
    if os.path.isfile(os.path.join(src_pkg, "__init__.py")):
        out = []                       # the package's own .py files only
        os.mkdir(os.path.join(ROOT, name))
        for f in sorted(os.listdir(src_pkg)):
            if f.endswith(".py"):
                out.append(copy(os.path.join(src_pkg, f),
                                os.path.join(ROOT, name, f)))
        return out
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

        def addSuccess(self, test):
            super().addSuccess(test)
            self._put(test, "ok")

        def addFailure(self, test, err):
            super().addFailure(test, err)
            self._put(test, "FAIL " + self._exc_info_to_string(err, test)
                      .strip().splitlines()[-1][:300])

        def addError(self, test, err):
            super().addError(test, err)
            self._put(test, "ERROR " + self._exc_info_to_string(err, test)
                      .strip().splitlines()[-1][:300])

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
                self.outcomes[subtest.id()] = "SUBFAIL " + self._exc_info_to_string(
                    err, test).strip().splitlines()[-1][:300]
    return Recorder


def run_tests(testmod):
    suite = unittest.defaultTestLoader.loadTestsFromModule(testmod)
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


def main():
    global ast, importlib, io, json, time, unittest
    preloaded = [n for n, _ in PAIRS if n in sys.modules]
    if preloaded:
        raise SystemExit(f"stdlib_swap: already imported before the copies "
                         f"could shadow them: {preloaded}")
    files = {}
    for name, _ in PAIRS:
        files[name] = copy_module(name)
    sys.path.insert(0, ROOT)
    import importlib
    importlib.invalidate_caches()
    import ast
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

    before = {}
    for name, test in PAIRS:
        before[name] = run_tests(testmods[name])

    # Every copy that got imported (submodules of packages included).
    ours = [m for n, m in sorted(sys.modules.items())
            if (getattr(m, "__file__", None) or "").startswith(ROOT + os.sep)]
    extra = detached_copies(list(testmods.values()), ours)
    changed_funcs = 0
    rewritten = {}                     # module name -> qualnames changed
    by_file = {m.__file__: m.__name__ for m in ours}
    for paths in files.values():
        for path in paths:
            with open(path, encoding="utf-8") as fh:
                src = fh.read()
            new, names = transform(src)
            changed_funcs += len(names)
            if path in by_file:
                rewritten[by_file[path]] = {n for n in names if n}
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(new)

    failures = []
    t0 = time.perf_counter()
    report = hotswap.reload(*ours)
    seconds = time.perf_counter() - t0
    if not report.ok:
        failures.append(f"batch reload failed: {report}")
    updated = sum(1 for e in report.entries if e.action == "updated")
    moved = sum(1 for e in report.entries if e.action == "moved")
    rejected = [f"{e.module}.{e.name}: {e.code} {e.reason}"
                for e in report.rejected]
    replaced = [f"{e.module}.{e.name}: {e.code} {e.reason}"
                for e in report.entries if e.action == "replaced"]
    extra_ok = []
    for m in extra:
        try:
            r = hotswap.reload(m)
            extra_ok.append(f"{m.__name__}@{id(m):x}: ok {r.ok}")
        except Exception as exc:  # noqa: BLE001 - reported
            extra_ok.append(f"{m.__name__}@{id(m):x}: "
                            f"{type(exc).__name__}: {exc}")

    # Probe: every rewritten module- or class-level function that the
    # module still holds as a Python function runs the rewritten code.
    stale, probed = [], 0
    for m in ours:
        for qual in sorted(rewritten.get(m.__name__, ())):
            obj = m
            for part in qual.split("."):
                obj = (vars(obj).get(part) if isinstance(obj, type)
                       else getattr(obj, part, None))
            obj = getattr(obj, "__func__", obj)
            code = getattr(obj, "__code__", None)
            if code is None or code.co_filename != m.__file__:
                continue               # replaced by a C function, a wrapper..
            probed += 1
            if "_hs_noop_" not in code.co_varnames:
                stale.append(f"{m.__name__}.{qual}")
    if stale:
        failures.append(f"{len(stale)} functions still run the old code: "
                        f"{stale[:20]}")
    total = {"modules": [], "reload_seconds": round(seconds, 3),
             "updated": updated, "moved": moved,
             "functions_rewritten": changed_funcs,
             "rejected": rejected, "replaced": replaced,
             "fresh_copies": extra_ok, "functions_probed": probed,
             "stale": stale[:40]}
    for name, test in PAIRS:
        r0, t_before = before[name]
        r1, t_after = run_tests(testmods[name])
        diff = sorted(k for k in set(r0.outcomes) | set(r1.outcomes)
                      if r0.outcomes.get(k) != r1.outcomes.get(k))
        line = {"module": name, "tests": test, "run": r0.testsRun,
                "run_after": r1.testsRun,
                "failures": len(r0.failures), "errors": len(r0.errors),
                "skipped": len(r0.skipped),
                "failures_after": len(r1.failures),
                "errors_after": len(r1.errors),
                "seconds": round(t_before, 2),
                "differences": [(k, r0.outcomes.get(k), r1.outcomes.get(k))
                                for k in diff[:20]]}
        print(json.dumps(line), flush=True)
        total["modules"].append(name)
        if r0.testsRun != r1.testsRun or diff:
            failures.append(f"{name}: results differ after the reload: "
                            f"{line['differences']}")
    print(json.dumps({"summary": total}), flush=True)
    if failures:
        print("\n".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
