"""Swap real third-party code: popular pure-Python packages from PyPI
(sdists with their own tests, pinned in thirdparty_list.py), reloaded in
place in three rounds while their own pytest suite runs in the same process
before and after each round.

    thirdparty_swap.py all [--only a,b] [--cache DIR] [--work DIR]
                           [--json FILE]
        download the sdists into DIR/sdists (once; pip download
        --no-binary :all: --no-deps), and for each package: extract a fresh
        copy into the work dir and run `one` in a new interpreter there;
        print one line per package and round, and a table; exit 1 when a
        package diverges other than as KNOWN says (thirdparty_list.py),
        or a known divergence is gone (the list must shrink with the fixes)
    thirdparty_swap.py one NAME COPY OUT.json
        the harness for one package, run with the copied sdist COPY as the
        current directory:
        1. import hotswap, put COPY/<root> first on sys.path, import the
           package (hotswap's import hook snapshots every module);
        2. run its suite in-process (pytest.main) twice: a test whose outcome
           differs between the two plain runs is deselected afterwards and
           listed with both outcomes;
        3. take references the way programs hold them (swapcheck.Held);
        4. three rounds (shift, touch, revert: see swapcheck.py), one
           hotswap.reload() batch of every module of the package each; after
           each, swapcheck.compare() against a fresh import of the files in
           a new interpreter (code, co_firstlineno, lines, attributes,
           bindings, the held references, identities, module and class
           data kept), then the suite again: an outcome that differs from
           the first plain run is a new failure.

Hypothesis runs derandomized, without database or deadline, so that a
property test draws the same examples in every run.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


# ------------------------------------------------------------------ one ----
def run_one(name, copy, out_path):
    import json
    import time

    import hotswap  # first: its import hook snapshots what follows

    sys.path.insert(0, HERE)
    import swapcheck
    from thirdparty_list import PACKAGES
    spec = PACKAGES[name]
    root = os.path.realpath(os.path.join(copy, spec["root"]))
    sys.path.insert(0, root)
    import importlib
    for top in spec["packages"]:
        importlib.import_module(top)

    import pytest
    try:
        import hypothesis
        hypothesis.settings.register_profile(
            "hotswap", derandomize=True, database=None, deadline=None,
            print_blob=False,
            suppress_health_check=list(hypothesis.HealthCheck))
        hyp = ["--hypothesis-profile=hotswap"]
    except ImportError:
        hyp = []

    class Recorder:
        def __init__(self):
            self.outcomes = {}

        def pytest_runtest_logreport(self, report):
            nid = report.nodeid
            if hasattr(report, "wasxfail"):
                what = "xfailed" if report.skipped else "xpassed"
            elif report.when == "call":
                what = report.outcome
            elif report.outcome == "passed":
                return
            elif report.outcome == "skipped":
                what = "skipped"
            else:
                what = f"error in {report.when}"
            if report.failed and report.longrepr is not None:
                last = str(report.longrepr).strip().splitlines()
                what += ": " + (last[-1][:200] if last else "")
            if report.when == "teardown" and nid in self.outcomes \
                    and report.outcome == "passed":
                return
            self.outcomes[nid] = what

        def pytest_collectreport(self, report):
            if report.failed:
                self.outcomes["collect " + report.nodeid] = "collect error"

    def run_suite(deselect=()):
        rec = Recorder()
        args = [*spec["tests"], "-q", "-p", "no:cacheprovider",
                "-o", "addopts=", "--continue-on-collection-errors",
                "-W", "ignore::pytest.PytestUnraisableExceptionWarning",
                # hypothesis is imported first (its profile, below)
                "-W", "ignore::pytest.PytestAssertRewriteWarning",
                *hyp, *spec["args"]]
        for nid in deselect:
            args += ["--deselect", nid]
        t0 = time.perf_counter()
        devnull = open(os.devnull, "w")
        saved = sys.stdout
        sys.stdout = devnull       # pytest's progress: not ours to print
        try:
            code = pytest.main(args, plugins=[rec])
        finally:
            sys.stdout = saved
            devnull.close()
        return rec.outcomes, int(code), time.perf_counter() - t0

    def failing(outcome):
        return not outcome.startswith(("passed", "skipped", "xfailed"))

    plain, code0, t_plain = run_suite()
    rerun, _, _ = run_suite()
    unstable = {k: (plain.get(k), rerun.get(k))
                for k in set(plain) | set(rerun)
                if plain.get(k) != rerun.get(k)}
    deselect = sorted(k for k in unstable if not k.startswith("collect "))

    pkgdirs = [os.path.join(root, p) for p in spec["packages"]]

    def ours_file(f):
        f = os.path.realpath(f or "")
        if not f.endswith(".py"):
            return False
        rel = os.path.relpath(f, root).split(os.sep)
        if rel[0] == ".." or rel[0].removesuffix(".py") not in \
                spec["packages"]:
            return False
        return not any(p in ("tests", "test", "testing") or
                       p.startswith("test_") for p in rel[1:])

    # In import order (sys.modules keeps it): the fresh import repeats it.
    # Only modules loaded from their file by the source loader: tlz's
    # synthetic modules (a meta path loader copying toolz's dicts, with
    # toolz's __file__) are not reloadable source modules.
    from importlib.machinery import SourceFileLoader
    ours = [m for n, m in list(sys.modules.items())
            if isinstance(n, str)
            and ours_file(getattr(m, "__file__", None))
            and isinstance(getattr(m, "__loader__", None), SourceFileLoader)]
    ournames = [m.__name__ for m in ours]
    originals = {}
    for d in pkgdirs:
        paths = [d + ".py"] if os.path.isfile(d + ".py") else [
            os.path.join(dp, f) for dp, _, fs in os.walk(d) for f in fs]
        for path in sorted(paths):
            if ours_file(path):
                with open(path, "rb") as fh:
                    originals[path] = fh.read().decode("utf-8")
    held = swapcheck.Held(swapcheck.Walk(ours, root))
    result = {
        "package": name, "version": spec["version"],
        "modules": len(ours), "files": len(originals),
        "tests": len(plain), "failing_plain": sum(
            1 for v in plain.values() if failing(v)),
        "plain_seconds": round(t_plain, 1), "pytest_exit": code0,
        "deselected": {k: list(v) for k, v in sorted(unstable.items())},
        "held_functions": len(held.funcs),
        "held_classes": len(held.classes),
        "held_bound_methods": sum(map(len, held.bound.values())),
        "rounds": {}}
    for rnd in swapcheck.ROUNDS:
        sources, touched = {}, 0
        for path, src in originals.items():
            sources[path] = swapcheck.round_source(src, rnd)
            if rnd == "touch":
                touched += swapcheck.touch(swapcheck.shift(src))[1]
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(sources[path])
        before = swapcheck.Walk(ours, root).data
        error, report = None, None
        t0 = time.perf_counter()
        try:
            report = hotswap.reload(*ours)
        except hotswap.ReloadError as exc:
            report = exc.report
            error = f"{type(exc).__name__}: {exc}"
            cause = exc.__cause__
            if cause is not None:
                error += f" (cause: {type(cause).__name__}: {cause})"
        seconds = time.perf_counter() - t0
        live = swapcheck.Walk(ours, root)
        fresh = swapcheck.fresh_walk(sys.executable, root, ournames, [root])
        divs = swapcheck.compare(fresh, live, held, before, live.data)
        divs, side = swapcheck.side_effects(divs, report)
        if error is None:
            divs += swapcheck.rejected_divergences(report)
        for d in divs:
            d["cause"] = swapcheck.classify(d, live, sources)
        outcomes, _, t_run = run_suite(deselect)
        changed = sorted(k for k in set(plain) | set(outcomes)
                         if k not in unstable
                         and _lineless(plain.get(k))
                         != _lineless(outcomes.get(k)))
        entries = report.entries if report is not None else ()
        result["rounds"][rnd] = {
            "error": error, "error_cause": swapcheck.classify_error(error),
            "reload_seconds": round(seconds, 3),
            "functions_touched": touched,
            "functions_checked": sum(1 for e in fresh.values()
                                     if e["kind"] == "func"),
            "updated": sum(1 for e in entries if e.action == "updated"),
            "moved": sum(1 for e in entries if e.action == "moved"),
            "rejected": [f"{e.module}.{e.name}: {e.code} {e.reason}"
                         for e in (report.rejected if report else ())][:20],
            "replaced": [f"{e.module}.{e.name}: {e.code} {e.reason}"
                         for e in entries if e.action == "replaced"][:20],
            "tests": len(outcomes), "seconds": round(t_run, 1),
            "tests_changed_count": len(changed),
            "new_failures": sum(1 for k in changed
                                if failing(outcomes.get(k) or "missing")),
            "tests_changed": [(k, plain.get(k), outcomes.get(k))
                              for k in changed[:15]],
            "divergence_count": len(divs),
            "divergences": divs[:80],
            "side_effects": side[:20],
        }
    with open(out_path, "w") as fh:
        json.dump(result, fh)
    return 0


# ------------------------------------------------------------------ all ----
def sdist_path(cache, name, version):
    d = os.path.join(cache, "sdists")
    if os.path.isdir(d):
        for f in os.listdir(d):
            low = f.lower().replace("_", "-")
            if low.startswith(f"{name.lower()}-{version}.") and \
                    f.endswith((".tar.gz", ".zip")):
                return os.path.join(d, f)
    return None


def _lineless(outcome):
    """A test outcome without the line numbers of its message (`failed:
    six.py:87: ModuleNotFoundError`): a failure in a moved file is reported
    at the moved line, as a fresh import of the moved file reports it."""
    import re
    return outcome if outcome is None else re.sub(r"\.py:\d+", ".py:N",
                                                  outcome)


def download(cache, names):
    """pip download the sdists that are not in the cache yet."""
    import subprocess
    from thirdparty_list import PACKAGES
    want = [n for n in names
            if not sdist_path(cache, n, PACKAGES[n]["version"])]
    os.makedirs(os.path.join(cache, "sdists"), exist_ok=True)
    for group in ("setuptools", "isolated"):
        reqs = [f"{n}=={PACKAGES[n]['version']}" for n in want
                if PACKAGES[n]["build"] == group]
        if not reqs:
            continue
        cmd = [sys.executable, "-m", "pip", "download", "-q",
               "--no-binary", ":all:", "--no-deps",
               "-d", os.path.join(cache, "sdists"), *reqs]
        if group == "setuptools":
            cmd.insert(4, "--no-build-isolation")
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(f"thirdparty_swap: pip download failed:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    missing = [n for n in names
               if not sdist_path(cache, n, PACKAGES[n]["version"])]
    if missing:
        raise SystemExit(f"thirdparty_swap: no sdist for {missing}")


def extract(sdist, dest):
    """Unpack an sdist into dest; return the sdist's top directory."""
    import tarfile
    import zipfile
    os.makedirs(dest, exist_ok=True)
    if sdist.endswith(".zip"):
        with zipfile.ZipFile(sdist) as z:
            z.extractall(dest)
    else:
        with tarfile.open(sdist) as t:
            if hasattr(tarfile, "data_filter"):
                t.extractall(dest, filter="data")
            else:
                t.extractall(dest)
    tops = [d for d in os.listdir(dest)
            if os.path.isdir(os.path.join(dest, d))]
    assert len(tops) == 1, tops
    return os.path.join(dest, tops[0])


def judge(result, known):
    """(status, messages) of one package or module: "pass", "known" (every
    divergence is of a known cause and every known cause was seen), or
    "FAIL"."""
    import swapcheck
    return swapcheck.judge(result, known)


def run_all(argv):
    import argparse
    import json
    import shutil
    import subprocess
    import tempfile
    import time
    from thirdparty_list import PACKAGES, known
    import swapcheck
    ap = argparse.ArgumentParser(prog="thirdparty_swap.py all")
    ap.add_argument("--only", default="")
    ap.add_argument("--cache", default=os.path.join(
        os.path.dirname(os.path.dirname(HERE)), ".venvs", "cache"))
    ap.add_argument("--work", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--timeout", type=float, default=1800)
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(PACKAGES)
    for n in names:
        if n not in PACKAGES:
            raise SystemExit(f"thirdparty_swap: unknown package {n}")
    download(args.cache, names)
    work = args.work or tempfile.mkdtemp(prefix="hs-thirdparty-")
    env = dict(os.environ)
    env.pop("PYTHONSTARTUP", None)
    env["WRAPT_DISABLE_EXTENSIONS"] = "1"
    results, bad = [], 0
    t_all = time.perf_counter()
    py = sys.version.split()[0]
    print(f"== thirdparty swap: CPython {py}, {len(names)} package(s), "
          f"work dir {work}", flush=True)
    for n in names:
        spec = PACKAGES[n]
        dest = os.path.join(work, n)
        shutil.rmtree(dest, ignore_errors=True)
        copy = extract(sdist_path(args.cache, n, spec["version"]), dest)
        out = os.path.join(work, n + ".json")
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "one", n, copy, out],
            cwd=copy, env=env, capture_output=True, text=True,
            timeout=args.timeout)
        secs = time.perf_counter() - t0
        if proc.returncode or not os.path.exists(out):
            res = {"package": n, "version": spec["version"],
                   "crash": f"exit {proc.returncode}: "
                            f"{(proc.stdout + proc.stderr)[-3000:]}"}
        else:
            with open(out) as fh:
                res = json.load(fh)
        res["seconds"] = round(secs, 1)
        status, msgs = swapcheck.judge(res, known(n))
        res["status"], res["messages"] = status, msgs
        results.append(res)
        bad += status == "FAIL"
        print(swapcheck.result_line(n + "==" + spec["version"], res),
              flush=True)
        for m in msgs:
            print("    " + m, flush=True)
    print(swapcheck.table(results, "package"), flush=True)
    print(f"== thirdparty swap: {len(names) - bad} of {len(names)} as "
          f"expected in {time.perf_counter() - t_all:.0f}s", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    if len(sys.argv) >= 2 and sys.argv[1] == "one":
        sys.exit(run_one(*sys.argv[2:5]))
    if len(sys.argv) >= 2 and sys.argv[1] == "all":
        sys.exit(run_all(sys.argv[2:]))
    sys.exit(__doc__)
