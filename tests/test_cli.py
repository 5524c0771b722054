"""python -m hotswap: `run` behaves like python itself (argv, sys.path[0],
exit status, tracebacks, Ctrl-C) and reloads the program, its own __main__
included; --events writes one JSON object per reload.  Programs run in
subprocesses."""
import json
import os
import signal
import subprocess
import sys
import textwrap

import hotswap
import pytest
from hotswap import cli
from hotswap import events as hs_events

needs_watch = pytest.mark.skipif(not hasattr(hotswap, "watch"),
                                 reason="no watcher in this build")


def _default_sigint():
    # A shell runs a background job with SIGINT ignored, and CPython leaves
    # an ignored SIGINT ignored: give the program what a terminal gives it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run(args, cwd, timeout=60, **kw):
    return subprocess.run([sys.executable, "-X", "dev", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL,
                          preexec_fn=_default_sigint, **kw)


def hs(args, cwd, **kw):
    return run(["-m", "hotswap", *args], cwd, **kw)


def write(path, source):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip("\n"))
    return path


# -- argument handling ------------------------------------------------------

def test_split_stops_at_the_script():
    split = cli._split_run_args
    assert split(["--root", "a", "-q", "s.py", "-v", "--root", "x"]) == (
        ["--root", "a", "-q"], None, ["s.py", "-v", "--root", "x"])
    assert split(["--events=e", "-m", "pkg.mod", "-q"]) == (
        ["--events=e"], "pkg.mod", ["-q"])
    assert split(["-mpkg", "a"]) == ([], "pkg", ["a"])
    assert split(["--poll", "--", "-odd.py"]) == (["--poll"], None,
                                                  ["-odd.py"])


def test_version(tmp_path):
    p = hs(["--version"], tmp_path)
    assert p.returncode == 0
    assert p.stdout.strip().startswith(f"hotswap {hotswap.__version__}")
    assert cli.main(["--version"]) == 0


def test_usage_errors(tmp_path):
    assert hs(["run"], tmp_path).returncode == 2
    p = hs(["run", "missing.py"], tmp_path)
    assert p.returncode == 2
    assert "missing.py" in p.stderr
    p = hs(["run", "-m", "no_such_module_hs"], tmp_path)
    assert p.returncode == 2
    assert "no_such_module_hs" in p.stderr
    assert hs(["frobnicate"], tmp_path).returncode == 2


# -- running like python ----------------------------------------------------

SHOW = """
    import json, sys
    print(json.dumps({"argv": sys.argv, "path0": sys.path[0],
                      "name": __name__, "file": __file__,
                      "spec": getattr(__spec__, "name", None),
                      "main_is_me": sys.modules["__main__"].__dict__
                                    is globals()}))
"""


def test_script_runs_as_main_like_python(tmp_path):
    write(tmp_path / "app" / "show.py", SHOW)
    want = run(["app/show.py", "a", "-v"], tmp_path)
    got = hs(["run", "-q", "app/show.py", "a", "-v"], tmp_path)
    assert got.returncode == want.returncode == 0, got.stderr
    assert json.loads(got.stdout) == json.loads(want.stdout)
    info = json.loads(got.stdout)
    assert info["argv"] == ["app/show.py", "a", "-v"]
    assert info["path0"] == str((tmp_path / "app").resolve())
    assert info["main_is_me"]


def test_module_runs_as_main_like_python(tmp_path):
    write(tmp_path / "pkg" / "__init__.py", "")
    write(tmp_path / "pkg" / "tool.py", SHOW)
    write(tmp_path / "pkg" / "__main__.py", SHOW)
    for target in ("pkg.tool", "pkg"):
        want = run(["-m", target, "x"], tmp_path)
        got = hs(["run", "-q", "-m", target, "x"], tmp_path)
        assert got.returncode == want.returncode == 0, got.stderr
        assert json.loads(got.stdout) == json.loads(want.stdout)


@pytest.mark.parametrize("body, status, err", [
    ("sys.exit(3)", 3, None),
    ("sys.exit()", 0, None),
    ("sys.exit('bye now')", 1, "bye now"),
    ("raise SystemExit(None)", 0, None),
    ("def boom():\n    1 / 0\nboom()", 1, "ZeroDivisionError"),
])
def test_exit_status_and_errors_like_python(tmp_path, body, status, err):
    write(tmp_path / "prog.py", "import sys\n" + body + "\n")
    want = run(["prog.py"], tmp_path)
    got = hs(["run", "-q", "prog.py"], tmp_path)
    assert want.returncode == got.returncode == status
    if err is not None:
        assert err in got.stderr
        # the same traceback as python's: the program's frames only
        assert got.stderr == want.stderr


# A program that interrupts itself as Ctrl-C would.
SIGINT_PROGRAM = """
    import os, signal
    def wait():
        os.kill(os.getpid(), signal.SIGINT)
        while True:
            pass
    wait()
"""


@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="POSIX signals")
def test_keyboard_interrupt_like_python(tmp_path):
    write(tmp_path / "prog.py", SIGINT_PROGRAM)
    want = run(["prog.py"], tmp_path)
    got = hs(["run", "-q", "prog.py"], tmp_path)
    assert want.returncode == -signal.SIGINT
    assert got.returncode == want.returncode
    assert got.stderr.splitlines()[-1] == "KeyboardInterrupt"
    assert "hotswap" not in got.stderr


@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="POSIX signals")
def test_console_script_handles_ctrl_c_like_python_m(tmp_path):
    # The console script `hotswap` runs the entry `python -m hotswap` runs:
    # the same exit by SIGINT and the same traceback, the program's frames
    # only (it used to run main(), whose frames showed).
    from importlib.metadata import entry_points
    eps = entry_points()
    if hasattr(eps, "select"):
        eps = list(eps.select(group="console_scripts", name="hotswap"))
    else:  # 3.9: a dict of groups
        eps = [ep for ep in eps.get("console_scripts", ())
               if ep.name == "hotswap"]
    if not eps:
        pytest.skip("hotswap is not installed with its console script")
    assert eps[0].value == "hotswap.cli:_entry"
    write(tmp_path / "prog.py", SIGINT_PROGRAM)
    launch = ("import sys; from hotswap.cli import _entry; "
              "sys.argv = ['hotswap', *sys.argv[1:]]; sys.exit(_entry())")
    script = run(["-c", launch, "run", "-q", "prog.py"], tmp_path)
    module = hs(["run", "-q", "prog.py"], tmp_path)
    assert script.returncode == module.returncode == -signal.SIGINT
    assert script.stderr == module.stderr
    assert "hotswap" not in script.stderr


def test_main_is_reloadable_explicitly(tmp_path):
    prog = write(tmp_path / "prog.py", """
        import sys, hotswap
        STATE = {"calls": 0}
        class Greeter:
            def hello(self):
                return "v1"
        g = Greeter()
        saved = [g.hello]
        def version():
            STATE["calls"] += 1
            return 1
        assert version() == 1 and saved[0]() == "v1"
        src = open(__file__).read()
        with open(__file__, "w") as f:
            f.write(src.replace("return 1", "return 2")
                       .replace('"v1"', '"v2"', 1))
        report = hotswap.reload(sys.modules["__main__"])
        print(report)
        assert report.ok and report.changed
        assert version() == 2, "__main__.version not updated"
        assert saved[0]() == "v2", "bound method of __main__ not updated"
        assert STATE["calls"] == 2, "module state was reset"
        print("OK")
    """)
    p = hs(["run", "-q", str(prog)], tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "OK" in p.stdout
    assert "__main__ reloaded" in p.stdout


# -- the watcher --------------------------------------------------------------

LIVE = """
    import os, sys, time
    import helper

    def value():
        return 1

    def main():
        ready = sys.argv[1]
        open(ready, "w").close()
        want = sys.argv[2]
        end = time.monotonic() + 20
        while time.monotonic() < end:
            got = f"{value()}{helper.letter()}"
            if got == want:
                print("saw", got, flush=True)
                return 0
            time.sleep(0.01)
        print("timeout, last", got, flush=True)
        return 1

    if __name__ == "__main__":
        sys.exit(main())
"""


def start_live(tmp_path, want, *options):
    app = tmp_path / "app"
    write(app / "helper.py", "def letter():\n    return 'a'\n")
    prog = write(app / "live.py", LIVE)
    ready = tmp_path / "ready"
    events = tmp_path / "events.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-X", "dev", "-m", "hotswap", "run", "--events",
         str(events), *options, str(prog), str(ready), want],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL, text=True)
    import time
    end = time.monotonic() + 30
    while not ready.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, "program did not start"
        time.sleep(0.01)
    return proc, app, events


def save(path, text):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def read_events(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@needs_watch
def test_watcher_reloads_main_and_modules(tmp_path):
    proc, app, events = start_live(tmp_path, "2b")
    save(app / "helper.py", "def letter():\n    return 'b'\n")
    live = (app / "live.py").read_text()
    save(app / "live.py", live.replace("return 1", "return 2"))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    assert "saw 2b" in out
    assert "helper reloaded" in err and "__main__ reloaded" in err
    evs = read_events(events)
    assert {e["event"] for e in evs} == {"applied"}
    mods = {m for e in evs for m in e["modules"]}
    assert mods == {"helper", "__main__"}
    change = next(c for e in evs for c in e["changes"]
                  if c["module"] == "__main__" and c["action"] == "updated")
    assert change["name"] == "value"
    # main() is running its loop: reported as stale (HS301), not a change
    stale = [c for e in evs for c in e["stale"]]
    assert [c["name"] for c in stale] == ["main"]


@needs_watch
def test_watcher_polling(tmp_path):
    # Only __main__ is edited: the polling backend stats the files known
    # when watch() started (modules imported later are not polled yet).
    proc, app, events = start_live(tmp_path, "2a", "--poll", "--debounce",
                                   "0.02")
    live = (app / "live.py").read_text()
    save(app / "live.py", live.replace("return 1", "return 2"))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    assert "saw 2a" in out and "__main__ reloaded" in err


@needs_watch
def test_failed_reload_event_then_fix(tmp_path):
    proc, app, events = start_live(tmp_path, "1c")
    import time
    save(app / "helper.py",
         "X = 1\n\ndef letter():\n    return 'c'\n  oops\n")
    end = time.monotonic() + 20
    while not (events.exists() and events.read_text().strip()):
        assert time.monotonic() < end, "no event for the broken save"
        time.sleep(0.02)
    save(app / "helper.py", "X = 1\n\ndef letter():\n    return 'c'\n")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    assert "HS503" in err and "helper.py:5" in err
    evs = read_events(events)
    assert [e["event"] for e in evs] == ["failed", "applied"]
    failed = evs[0]
    assert failed["modules"] == ["helper"]
    assert failed["error"]["code"] == "HS503"
    assert failed["error"]["filename"] == str(app / "helper.py")
    assert failed["error"]["lineno"] == 5
    assert failed["changes"] == [] and failed["stale"] == []


def test_report_event_kinds(sb):
    m = sb.load("""
        class C:
            __slots__ = ("a",)
            def f(self):
                return 1
    """)
    sb.update(m, """
        class C:
            __slots__ = ("a", "b")
            def f(self):
                return 2
    """)
    ev = hs_events.report_event(hotswap.reload(m, partial=True))
    assert ev["event"] == "rejected"
    assert ev["modules"] == [m.__name__]
    assert {c["code"] for c in ev["changes"]} >= {"HS203"}
    json.dumps(ev)
    sb.update(m, "class C:\n    x = = 1\n")
    with pytest.raises(hotswap.ReloadError) as info:
        hotswap.reload(m)
    ev = hs_events.report_event(None, info.value)
    assert ev["event"] == "failed" and ev["modules"] == [m.__name__]
    assert ev["error"]["code"] == "HS503"
    assert ev["error"]["lineno"] == 2
    json.dumps(ev)


EVENTS = r"""
import json, logging, os, sys, time
sys.path.insert(0, sys.argv[1])
import hotswap
from hotswap import events
import emod

got = []
records = []


class Keep(logging.Handler):
    def emit(self, record):
        records.append(record.getMessage())


logging.getLogger("hotswap").addHandler(Keep())
logging.getLogger("hotswap").setLevel(logging.INFO)
hotswap.watch(sys.argv[1], mode="queued", backend="poll", poll_interval=0.05,
              debounce=0)


def save(text, mode=0o644):
    with open(emod.__file__, "w") as fh:
        fh.write(text)
    os.chmod(emod.__file__, mode)
    st = os.stat(emod.__file__)
    os.utime(emod.__file__, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    seen = len(got) + len(records)
    deadline = time.time() + 20
    while time.time() < deadline and len(got) + len(records) == seen:
        time.sleep(0.05)
        hotswap.poll()


def kinds(evs):
    return [(e["event"], sorted((k, type(v).__name__) for k, v in e.items()
                                if k != "event")) for e in evs]


# with a sink: the core hands data, never text
hotswap._core.set_log_sink(got.append)
save("def f():\n    return 2\n")
save("def f():\n    return 3\nX = nope\n")
save("def f():\n    return 4\n", 0o666)
hotswap._core.set_log_sink(None)
# without one: hotswap.events.to_logger words the same events
save("def f():\n    return 5\n")
save("def f():\n    return 6\nX = nope\n")
hotswap.unwatch()
print(json.dumps({
    "kinds": kinds(got),
    "failed_text": events.message(got[1]),
    "error": str(got[1]["error"]),
    "ww": events.message(got[2]),
    "records": records,
}))
"""


def test_core_hands_structured_events_to_python(tmp_path):
    # issue 9: the core says what happened as a dict holding the Report and
    # the ReloadError; the words (the CLI's lines, the "hotswap" logger's)
    # are hotswap.events'
    (tmp_path / "emod.py").write_text("def f():\n    return 1\n")
    r = subprocess.run([sys.executable, "-c", EVENTS, str(tmp_path)],
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["kinds"] == [
        ["applied", [["report", "Report"]]],
        ["failed", [["error", "ReloadError"], ["report", "Report"]]],
        ["world_writable", [["filename", "str"]]],
    ], out
    # a failure: the ReloadError's message, then the user's traceback
    assert out["failed_text"].startswith(out["error"] + "\nTraceback")
    assert "X = nope" in out["failed_text"]
    assert out["ww"].startswith("not reloading ") and \
        "world-writable" in out["ww"]
    logged = out["records"]
    assert logged[0].startswith("hotswap: emod reloaded: 1 updated"), logged
    assert logged[1].startswith("cannot reload emod: HS504: NameError"), \
        logged
    assert len(logged) == 2, logged
