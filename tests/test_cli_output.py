"""python -m hotswap run: what it watches and what it says.

- ``-m`` of an installed module (pytest, http.server, uvicorn...) tracks
  the user's project, with a start-up line saying what is watched and how
  many modules are tracked, or a warning when nothing is;
- the output (reload lines, the --events stream) survives the program's
  own logging set-up (dictConfig with disable_existing_loggers=True);
- reload lines carry a time, -v the names that changed; a module whose
  edits keep failing says since when and at which statement; HS301 is one
  line per code location with a count.
Programs run in subprocesses, with the real CLI."""
import json
import os
import re
import subprocess
import sys
import textwrap
import time

import hotswap
import pytest
from hotswap import _runmain

pytestmark = pytest.mark.skipif(not hasattr(hotswap, "watch"),
                                reason="no watcher in this build")


def write(path, source):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip("\n"))
    return path


def save(path, text):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(textwrap.dedent(text).lstrip("\n"))
    os.replace(tmp, path)


def read_events(path):
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines()]


def wait_for(pred, timeout=20, what="condition"):
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.02)


def hs_popen(args, cwd):
    return subprocess.Popen(
        [sys.executable, "-X", "dev", "-m", "hotswap", "run", *args],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL, text=True)


# -- -m targets: the default root ---------------------------------------------

@pytest.mark.parametrize("target", ["http.server", "pytest", "json.tool"])
def test_installed_m_target_roots_at_the_project(target, tmp_path,
                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec, root = _runmain._prepare_module(target)
    assert root == str(tmp_path.resolve())
    assert _runmain._installed(spec.origin)


def test_project_m_target_roots_at_its_package(tmp_path, monkeypatch):
    write(tmp_path / "proj" / "pkg" / "__init__.py", "")
    write(tmp_path / "proj" / "pkg" / "tool.py", "")
    monkeypatch.chdir(tmp_path / "proj")
    monkeypatch.syspath_prepend(str(tmp_path / "proj"))
    spec, root = _runmain._prepare_module("pkg.tool")
    assert root == str((tmp_path / "proj" / "pkg").resolve())


TEST_EDITS_APP = """
    import os, time
    import app

    def test_app_is_tracked_and_reloaded():
        assert app.answer() == 1
        time.sleep(1.5)   # past the CLI's start-up check
        path = app.__file__
        with open(path + ".tmp", "w") as f:
            f.write("def answer():\\n    return 2\\n")
        os.replace(path + ".tmp", path)
        end = time.monotonic() + 15
        while app.answer() != 2 and time.monotonic() < end:
            time.sleep(0.01)
        assert app.answer() == 2
"""


def test_m_pytest_tracks_the_project(tmp_path):
    write(tmp_path / "app.py", "def answer():\n    return 1\n")
    write(tmp_path / "test_edit.py", TEST_EDITS_APP)
    p = subprocess.run(
        [sys.executable, "-X", "dev", "-m", "hotswap", "run", "-m", "pytest",
         "-q", "-p", "no:cacheprovider", "test_edit.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "1 passed" in p.stdout
    root = str(tmp_path.resolve())
    assert re.search(rf"hotswap: watching {re.escape(root)}: \d+ modules? "
                     r"tracked \(and __main__ = pytest\)", p.stderr), p.stderr
    assert "app reloaded" in p.stderr


def test_start_up_line_and_quiet(tmp_path):
    write(tmp_path / "helper.py", "X = 1\n")
    write(tmp_path / "prog.py", "import time, helper\ntime.sleep(1.6)\n")
    p = subprocess.run(
        [sys.executable, "-X", "dev", "-m", "hotswap", "run", "prog.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    lines = [x for x in p.stderr.splitlines() if x.startswith("hotswap")]
    assert lines == [f"hotswap: watching {tmp_path.resolve()}: 2 modules "
                     f"tracked (and __main__ = prog.py)"], p.stderr
    p = subprocess.run(
        [sys.executable, "-X", "dev", "-m", "hotswap", "run", "-q",
         "prog.py"], cwd=tmp_path, capture_output=True, text=True,
        timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 0 and "hotswap" not in p.stderr, p.stderr


def test_warns_when_nothing_under_the_roots_is_tracked(tmp_path):
    write(tmp_path / "proj" / "prog.py", "import time\ntime.sleep(1.6)\n")
    write(tmp_path / "elsewhere" / "README", "")
    p = subprocess.run(
        [sys.executable, "-X", "dev", "-m", "hotswap", "run", "-q", "--root",
         str(tmp_path / "elsewhere"), "proj/prog.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    assert "hotswap: warning: nothing under" in p.stderr
    assert "--root DIR" in p.stderr


def test_start_up_line_for_an_application_imported_late(tmp_path):
    """Nothing tracked at 1 s (the application is imported at its first
    request, or after a slow start): the warning, then the line once it
    is (the 2 s check); -q keeps only the warning."""
    lib = tmp_path / "lib"
    write(lib / "helper.py", "X = 1\n")
    write(tmp_path / "prog.py", "import sys, time\ntime.sleep(1.4)\n"
          f"sys.path.insert(0, {str(lib)!r})\n"
          "import helper\ntime.sleep(1.2)\n")
    args = [sys.executable, "-X", "dev", "-m", "hotswap", "run", "--root",
            str(lib)]
    p = subprocess.run(
        args + ["prog.py"], cwd=tmp_path, capture_output=True, text=True,
        timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    lines = [x for x in p.stderr.splitlines() if x.startswith("hotswap")]
    assert len(lines) == 2, p.stderr
    assert lines[0].startswith("hotswap: warning: nothing under"), p.stderr
    assert lines[1] == (f"hotswap: watching {lib.resolve()}: 1 module "
                        f"tracked (and __main__ = prog.py)"), p.stderr
    p = subprocess.run(
        args + ["-q", "prog.py"], cwd=tmp_path, capture_output=True,
        text=True, timeout=60, stdin=subprocess.DEVNULL)
    lines = [x for x in p.stderr.splitlines() if x.startswith("hotswap")]
    assert p.returncode == 0 and len(lines) == 1, p.stderr
    assert lines[0].startswith("hotswap: warning: nothing under"), p.stderr


# -- the program's logging set-up -------------------------------------------

LIVE = """
    import logging, logging.config, os, sys, time
    import helper

    logging.config.dictConfig({
        "version": 1,
        "disable_existing_loggers": True,
        "handlers": {"h": {"class": "logging.StreamHandler",
                           "stream": "ext://sys.stdout"}},
        "root": {"handlers": ["h"], "level": "DEBUG"},
    })
    # and a program that closes every handler it can find
    logging.shutdown()
    logging.getLogger("app").info("configured")

    open(sys.argv[1], "w").close()
    end = time.monotonic() + 30
    while not os.path.exists(sys.argv[2]) and time.monotonic() < end:
        time.sleep(0.01)
    print("letter", helper.letter(), flush=True)
"""


def start(tmp_path, *options):
    app = tmp_path / "app"
    write(app / "helper.py", "X = 1\n\ndef letter():\n    return 'a'\n")
    prog = write(app / "live.py", LIVE)
    ready, done = tmp_path / "ready", tmp_path / "done"
    events = tmp_path / "events.jsonl"
    proc = hs_popen(["--events", str(events), *options, str(prog),
                     str(ready), str(done)], tmp_path)
    end = time.monotonic() + 30
    while not ready.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, "program did not start"
        time.sleep(0.01)
    return proc, app, events, done


BROKEN = "X = 1\n\ndef letter():\n    return 'x'\n  oops\n"


def test_output_survives_dictconfig(tmp_path):
    proc, app, events, done = start(tmp_path)
    try:
        save(app / "helper.py", BROKEN)
        wait_for(lambda: len(read_events(events)) >= 1, what="failed event")
        save(app / "helper.py", "X = 1\n\ndef letter():\n    return 'b'\n")
        wait_for(lambda: len(read_events(events)) >= 2, what="fix event")
    finally:
        done.touch()
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    assert "letter b" in out
    evs = read_events(events)
    assert [e["event"] for e in evs] == ["failed", "applied"]
    assert evs[0]["error"]["code"] == "HS503"
    assert evs[0]["error"]["lineno"] == 5
    # the failure and the reload are shown although the program disabled
    # every existing logger and closed every handler
    assert "cannot reload helper: HS503" in err
    assert "helper reloaded" in err
    assert "I/O operation on closed file" not in err + out
    # and not through the program's root logger (stdout) as well
    assert "helper reloaded" not in out


def test_timestamps_names_and_failing_since(tmp_path):
    proc, app, events, done = start(tmp_path, "-v")
    try:
        for n in (1, 2):
            save(app / "helper.py", BROKEN.replace("oops", f"oops{n}"))
            wait_for(lambda: len(read_events(events)) >= n,
                     what=f"failure {n}")
        save(app / "helper.py",
             "X = 1\n\ndef letter():\n    return 'b'\n\ndef extra():\n"
             "    pass\n")
        wait_for(lambda: len(read_events(events)) >= 3, what="fix")
    finally:
        done.touch()
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    stamp = r"\d\d:\d\d:\d\d\.\d\d\d"
    fails = re.findall(rf"^({stamp}) hotswap: cannot reload helper: HS503",
                       err, re.M)
    assert len(fails) == 2, err
    # the second failure says since when, and which statement fails
    assert re.search(rf"helper has kept its old code since {fails[0]} "
                     r"\(2 failed saves in a row\); failing statement: "
                     r".*helper\.py:5: oops2", err), err
    assert re.search(rf"^{stamp} hotswap: helper reloaded: ", err, re.M), err
    assert re.search(rf"helper had kept its old code since {fails[0]} "
                     r"\(2 failed saves\)", err), err
    assert re.search(r"^  updated: helper\.letter$", err, re.M), err
    assert re.search(r"^  added: helper\.extra$", err, re.M), err


TZ_PROG = """
    import os, sys, time
    import helper

    # as Django does with its TIME_ZONE setting
    os.environ["TZ"] = "KTM-5:45"
    time.tzset()
    open(sys.argv[1], "w").close()
    end = time.monotonic() + 30
    while not os.path.exists(sys.argv[2]) and time.monotonic() < end:
        time.sleep(0.01)
"""


def test_timestamps_ignore_the_programs_time_zone(tmp_path):
    """Reload lines keep the time zone the CLI started in (UTC here), not
    the one the program switched to (UTC+05:45)."""
    app = tmp_path / "app"
    write(app / "helper.py", "X = 1\n")
    prog = write(app / "prog.py", TZ_PROG)
    ready, done = tmp_path / "ready", tmp_path / "done"
    events = tmp_path / "events.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-X", "dev", "-m", "hotswap", "run", "--events",
         str(events), str(prog), str(ready), str(done)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL, text=True, env=dict(os.environ, TZ="UTC0"))
    try:
        wait_for(ready.exists, what="program start")
        save(app / "helper.py", "X = 2\n")
        wait_for(lambda: len(read_events(events)) >= 1, what="reload")
    finally:
        done.touch()
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    when = read_events(events)[0]["time"]
    stamp = re.search(r"^(\d\d:\d\d):\d\d\.\d\d\d hotswap: helper reloaded",
                      err, re.M)
    assert stamp, err
    utc = {time.strftime("%H:%M", time.gmtime(when + d)) for d in (-1, 0, 1)}
    assert stamp.group(1) in utc, (stamp.group(1), utc)


# -- warnings during a reload ----------------------------------------------------

WARN_HELPER = """
    class Holder:
        pass


    def make():
        h = Holder()
        h.me = h            # a cycle: freed by the collector
        h.f = open(__file__)
        return h


    H = make()


    def v():
        return 1
"""

WARN_PROG = """
    import gc, json, os, sys, time, warnings
    import helper

    warnings.simplefilter("always", ResourceWarning)
    seen, frames = [], set()


    def show(message, category, filename, lineno, file=None, line=None):
        seen.append([category.__name__, filename])


    def on_gc(phase, info):
        if phase == "start":
            frames.add(sys._getframe(1).f_code.co_filename)


    warnings.showwarning = show
    gc.set_threshold(1, 1, 1)   # a collection at nearly every allocation
    gc.callbacks.append(on_gc)
    open(sys.argv[1], "w").close()
    end = time.monotonic() + 20
    junk = []
    while time.monotonic() < end and not seen:
        junk = [junk]
    gc.callbacks.remove(on_gc)
    print(json.dumps({"warnings": seen, "frames": sorted(frames)}))
"""


def test_warnings_during_a_reload_do_not_name_hotswap(tmp_path):
    """The old value a reload releases (a cycle holding an unclosed file)
    is finalized by the collector in the program's own frame, so its
    ResourceWarning names the program, not hotswap's files: no collection
    starts in a frame of hotswap (the CLI's hooks, adapters, the start-up
    check), which pause the collector while they run."""
    app = tmp_path / "app"
    write(app / "helper.py", WARN_HELPER)
    prog = write(app / "prog.py", WARN_PROG)
    ready = tmp_path / "ready"
    proc = hs_popen([str(prog), str(ready)], tmp_path)
    try:
        wait_for(ready.exists, what="program start")
        time.sleep(1.2)  # past the start-up check
        save(app / "helper.py", textwrap.dedent(WARN_HELPER).replace(
            "H = make()", "H = make()  # again").replace("return 1",
                                                          "return 2"))
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out + err
    assert "helper reloaded" in err, err
    result = json.loads(out.strip().splitlines()[-1])
    package = os.path.dirname(os.path.abspath(hotswap.__file__))
    assert [f for f in result["frames"] if f.startswith(package)] == [], \
        result
    assert result["warnings"] == [["ResourceWarning", str(prog)]], result


# -- forked workers --------------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_reloads_on_its_own(tmp_path):
    """A program that forks after start (a pre-fork server): the child
    starts a watcher of its own, so parent and child both run the new code
    after one save, each reloading its own copy."""
    import shutil
    app = tmp_path / "app"
    write(app / "helper.py", "def v():\n    return 1\n")
    shutil.copy(os.path.join(os.path.dirname(__file__), "scripts",
                             "fork_child.py"), app / "prog.py")
    events = tmp_path / "events.jsonl"
    proc = hs_popen(["--events", str(events), str(app / "prog.py"),
                     str(app)], tmp_path)
    try:
        wait_for(lambda: (app / "ready-child").exists()
                 and (app / "ready-parent").exists(), what="both waiting")
        save(app / "helper.py", "def v():\n    return 2\n")
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out + err
    seen = {line.split()[0]: line.split()[1:] for line in out.splitlines()
            if line.startswith(("parent", "child"))}
    assert seen.get("parent", [0, 0])[1] == "2", out + err
    assert seen.get("child", [0, 0])[1] == "2", out + err
    evs = read_events(events)
    assert [e["event"] for e in evs] == ["applied", "applied"], evs
    assert err.count("helper reloaded") == 2, err
    assert "Traceback" not in err, err


# -- HS301: one line per code location -----------------------------------------

def test_hs301_is_aggregated_by_location(sb):
    m = sb.load("""
        def ticks():
            yield "a1"
            yield "b1"

        def other():
            yield 1
    """)
    parked = [m.ticks() for _ in range(200)]
    for g in parked:
        next(g)
    one = m.other()
    next(one)
    sb.update(m, """
        def ticks():
            yield "a2"
            yield "b2"

        def other():
            yield 2
    """)
    report = hotswap.reload(m)
    stale = [e for e in report.entries if e.code == "HS301"]
    assert len(stale) == 2, stale
    by_name = {e.name: e for e in stale}
    assert by_name["ticks"].reason == ("200 suspended generators keep the old "
                                       "code (at line 2) until they finish")
    assert by_name["other"].reason == ("a suspended generator keeps the old "
                                       "code (at line 6) until it finishes")
    assert str(report).count("HS301") == 2
    assert next(parked[0]) == "b1"


# -- an idle asyncio server: save -> applied ---------------------------------

SERVER = """
    import asyncio, signal, sys
    import handler

    # Ctrl-C as in a terminal, even when the test runner was started with
    # SIGINT ignored (a background job of a shell)
    signal.signal(signal.SIGINT, signal.default_int_handler)

    async def serve(reader, writer):
        await reader.readline()
        writer.write(handler.reply() + b"\\n")
        await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        with open(sys.argv[1] + ".tmp", "w") as f:
            f.write(str(port))
        import os
        os.replace(sys.argv[1] + ".tmp", sys.argv[1])
        async with server:
            await server.serve_forever()

    asyncio.run(main())
"""


def ask(port):
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"hi\n")
        return s.makefile("rb").readline().strip()


def test_idle_asyncio_server_applies_promptly(tmp_path, record_property):
    import signal
    write(tmp_path / "handler.py", "def reply():\n    return b'v1'\n")
    write(tmp_path / "server.py", SERVER)
    portfile, events = tmp_path / "port", tmp_path / "events.jsonl"
    proc = hs_popen(["--events", str(events), "server.py", str(portfile)],
                    tmp_path)
    try:
        wait_for(portfile.exists, what="the server")
        port = int(portfile.read_text())
        assert ask(port) == b"v1"
        time.sleep(1.0)  # no traffic: the loop sits in epoll_wait
        save(tmp_path / "handler.py", "def reply():\n    return b'v2'\n")
        saved = time.time()
        wait_for(lambda: read_events(events), timeout=10, what="the reload")
        latency = read_events(events)[0]["time"] - saved
        record_property("save_to_applied_seconds", latency)
        print(f"idle asyncio server: save -> applied {latency * 1000:.0f} ms")
        assert read_events(events)[0]["event"] == "applied"
        assert latency < 0.5, latency
        assert ask(port) == b"v2"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    assert "KeyboardInterrupt" in err, err
    assert "handler reloaded" in err
