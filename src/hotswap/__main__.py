"""The hotswap command line: ``python -m hotswap``.

::

    python -m hotswap run [options] script.py [args...]
    python -m hotswap run [options] -m package.module [args...]
    python -m hotswap demo
    python -m hotswap --version

``run`` runs a program as ``__main__`` the way ``python script.py`` (or
``python -m package.module``) would -- same ``sys.argv``, ``sys.path[0]``,
exit status, tracebacks, Ctrl-C -- with hotswap imported first and a watcher
that reloads the program's modules in place when their files are saved.
The program's own ``__main__`` module is reloadable too: edit a function of
the script and the running program calls the new code.

Options of ``run`` (they come before the script or ``-m``; everything after
belongs to the program):

  --root DIR       track and watch DIR (repeatable); default: the script's
                   directory, or the top-level package directory for ``-m``
                   -- but when that package is installed (stdlib or
                   site-packages: ``-m uvicorn``, ``-m flask``, ``-m django``,
                   ``-m gunicorn``, ``-m pytest``), the current directory,
                   which is ``sys.path[0]``: the user's project.  The
                   program's ``__main__`` is always tracked.
  --exclude GLOB   do not reload files matching GLOB (repeatable).  Passed to
                   the watcher; needs a core whose ``watch()`` accepts
                   ``exclude`` (a warning says so otherwise).
  --poll           stat the files instead of using inotify.
  --debounce S     coalesce bursts of saves for S seconds (default 0.05).
  --partial        apply what can be applied of a save whose class edits
                   cannot be applied in place (HS201-HS205: ``__slots__``,
                   bases of another layout, metaclass, NamedTuple or
                   slots=True dataclass fields, enum members) and report
                   the rest as rejected.  Default: such a save is refused
                   as a whole, like ``hotswap.reload()``: the module keeps
                   its old code and the error is shown until the file is
                   fixed.
  -q, --quiet      show only failed reloads and warnings.
  -v, --verbose    also list the names each reload changed.
  --events FILE    write one JSON object per reload to FILE (JSON lines):
                   ``{"event": "applied"|"rejected"|"failed", "modules":
                   [...], "changes": [...], "stale": [...], "error": {...}
                   or null, "summary": "..."}``.

Reloads run on the main thread between two bytecodes (the watcher's "auto"
mode), so the program needs no change; an idle main thread (an asyncio loop
with no traffic, a sleep) is woken with SIGURG (see ``hotswap.watch``).  A
process the program forks (gunicorn's workers, a multiprocessing pool with
the "fork" start method) starts a watcher of its own, so each worker
reloads its own copy of the code.

Output: 1 s after start-up one line says what is watched and how many
modules under it are tracked (by then a server has imported its
application), or warns that nothing is yet; later checks (2, 5, 10, 30 and
60 s) print the line when an application imported late appears.  Each reload is one line, with the
local time (``12:03:04.512 hotswap: app reloaded: 1 updated (0.9 ms)``) in
the time zone the CLI started in, whatever the program does to ``TZ``;
a failure shows the error and, when the module's edits failed before too,
since when it kept its old code and which statement fails.  These lines go
to a duplicate of the stderr descriptor taken at start-up, and events to
the file the CLI opened: the program's logging configuration (dictConfig
with ``disable_existing_loggers``, closed handlers) does not affect them,
and they are not sent through the ``hotswap`` logger.

This module only parses arguments and sets things up; the reloading is done
by the C core (``hotswap._core``).
"""
import argparse
import builtins
import gc
import importlib.machinery
import importlib.util
import io
import json
import logging
import os
import signal
import sys
import time
import types

import hotswap

__all__ = ["main"]

PROG = "python -m hotswap"

# ---------------------------------------------------------------------------
# argument parsing

_RUN_VALUE_OPTIONS = ("--root", "--exclude", "--debounce", "--events")
_RUN_FLAG_OPTIONS = ("--poll", "--partial", "-q", "--quiet", "-v",
                     "--verbose", "-h", "--help")


def _run_parser():
    p = argparse.ArgumentParser(
        prog=f"{PROG} run",
        usage=(f"{PROG} run [options] script.py [args...]\n"
               f"       {PROG} run [options] -m module [args...]"),
        description="Run a Python program with in-place hot reloading of "
                    "its modules (and of its __main__) when files are "
                    "saved.")
    p.add_argument("--root", action="append", default=[], metavar="DIR",
                   help="track and watch DIR (repeatable; default: the "
                        "program's directory)")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                   help="do not reload files matching GLOB (repeatable; "
                        "needs watcher support for exclude)")
    p.add_argument("--poll", action="store_true",
                   help="poll file stats instead of inotify")
    p.add_argument("--debounce", type=float, default=0.05, metavar="SECONDS",
                   help="coalesce bursts of saves (default 0.05)")
    p.add_argument("--partial", action="store_true",
                   help="apply the rest of a save whose class edits cannot "
                        "be applied in place (HS201-HS205) and report them; "
                        "default: refuse the whole save")
    g = p.add_mutually_exclusive_group()
    g.add_argument("-q", "--quiet", action="store_true",
                   help="log only failed reloads")
    g.add_argument("-v", "--verbose", action="store_true",
                   help="log debug messages too")
    p.add_argument("--events", metavar="FILE",
                   help="append one JSON object per reload to FILE")
    return p


def _split_run_args(argv):
    """Split ``run``'s argv into (our options, module or None, program argv).

    argparse cannot stop at the script name by itself (options after the
    script belong to the program), so the split is done here.
    """
    ours = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            return ours, None, argv[i + 1:]
        if a == "-m":
            if i + 1 >= len(argv):
                return ours + ["-m"], None, []
            return ours, argv[i + 1], argv[i + 2:]
        if a.startswith("-m") and not a.startswith("--"):
            return ours, a[2:], argv[i + 1:]
        if a in _RUN_VALUE_OPTIONS:
            ours += argv[i:i + 2]
            i += 2
            continue
        if a.split("=", 1)[0] in _RUN_VALUE_OPTIONS or a in _RUN_FLAG_OPTIONS:
            ours.append(a)
            i += 1
            continue
        if a.startswith("-") and a != "-":
            ours.append(a)  # unknown: let argparse complain
            i += 1
            continue
        return ours, None, argv[i:]
    return ours, None, []


# ---------------------------------------------------------------------------
# output: the CLI's own channel
#
# The program may do anything to the logging tree (logging.config.dictConfig
# closes every handler and, by default, disables every existing logger:
# uvicorn and Django do it at start-up).  So the CLI does not log: it asks
# the core for its messages (``_core.set_log_sink``) and for every reload's
# Report (``after_reload``), and writes them to a duplicate of the stderr
# descriptor taken at start-up, and the events to a file it opened itself.
# Nothing the program does to ``logging`` or ``sys.stderr`` reaches them.


def _change_dict(c):
    return {f: getattr(c, f) for f in ("module", "name", "kind", "action",
                                       "code", "reason", "filename",
                                       "lineno")}


def _error_dict(exc):
    cause = exc.__cause__
    return {
        "code": getattr(exc, "code", None),
        "message": str(exc),
        "type": type(cause).__name__ if cause is not None else None,
        "module": getattr(exc, "module", None),
        "filename": getattr(exc, "filename", None),
        "lineno": getattr(exc, "lineno", None),
    }


def report_event(report, error=None):
    """The event-stream object for one reload.

    ``report`` is a Report (or None); ``error`` a ReloadError, or a dict of
    error fields, or None.
    """
    if isinstance(error, BaseException):
        if report is None:
            report = getattr(error, "report", None)
        summary = str(error)
        error = _error_dict(error)
    else:
        summary = error["message"] if error else str(report)
    entries = tuple(report.entries) if report is not None else ()
    if error is not None or (report is not None and not report.ok):
        kind = "failed"
    elif any(c.action == "rejected" for c in entries):
        kind = "rejected"
    else:
        kind = "applied"
    if kind == "failed" and report is not None:
        mods = [m.name for m in report.modules if m.status == "failed"]
    else:
        mods = [m.name for m in report.modules
                if m.status != "unchanged"] if report is not None else []
    if not mods and error and error.get("module"):
        mods = [error["module"]]
    return {
        "event": kind,
        "time": time.time(),
        "modules": mods,
        "changes": [_change_dict(c) for c in entries if c.code != "HS301"],
        "stale": [_change_dict(c) for c in entries if c.code == "HS301"],
        "error": error,
        "summary": summary,
        "seconds": report.seconds if report is not None else None,
    }


_CHANGE_ACTIONS = ("updated", "added", "removed", "moved", "replaced")


# The UTC offset of the local time when the CLI started.  Reload lines are
# stamped with it, not with time.localtime(): a program may change the
# process's time zone (Django sets os.environ["TZ"] to its TIME_ZONE setting
# and calls time.tzset()), and the lines must keep the clock of the terminal
# they are read on.  (A daylight-saving change during the run is not
# followed: the offset stays the start-up one.)
_START_OFFSET = None


def _capture_clock():
    global _START_OFFSET
    if _START_OFFSET is None:
        _START_OFFSET = time.localtime().tm_gmtoff


def _clock(t=None):
    """``12:03:04.512``: the time of a reload line, in the time zone the
    CLI started in (see _START_OFFSET)."""
    t = time.time() if t is None else t
    if _START_OFFSET is None:
        local = time.localtime(t)
    else:
        local = time.gmtime(t + _START_OFFSET)
    return time.strftime("%H:%M:%S", local) + \
        ".%03d" % (int(t * 1000) % 1000)


def _statement(filename, lineno):
    """``file:line: source`` of the statement an error points at."""
    if not filename:
        return None
    where = f"{filename}:{lineno}" if lineno else filename
    if lineno:
        import linecache
        linecache.checkcache(filename)  # the file was just saved
        text = linecache.getline(filename, lineno).strip()
        if text:
            where += f": {text}"
    return where


class _Output:
    """The CLI's output: reload lines, messages and the event stream.

    ``sink`` is given to the core (``set_log_sink``), ``after_reload`` is
    an after-reload hook.  Lines go to ``stream`` (a private duplicate of
    stderr), at ``level`` and above; events to ``events_path``.
    """

    def __init__(self, level, verbose=False, events_path=None,
                 stream=None):
        self.level = level
        self.verbose = verbose
        _capture_clock()
        self._own = stream is None
        if stream is None:
            try:
                stream = open(os.dup(sys.stderr.fileno()), "w",
                              encoding=getattr(sys.stderr, "encoding", None),
                              errors="backslashreplace", buffering=1)
            except (AttributeError, OSError, ValueError):
                # no descriptor behind sys.stderr (an embedding, a test
                # capture): write to the object itself
                stream, self._own = sys.stderr, False
        self.stream = stream
        self.events = (open(events_path, "a", encoding="utf-8", buffering=1)
                       if events_path else None)
        self.tag = ""          # "[pid]" in a forked child
        self._failure = None   # (ReloadError, its message) just logged
        self.failing = {}      # module -> [since, saves, statement]

    # -- writing -----------------------------------------------------------
    def line(self, text, level=logging.INFO, stamp=False):
        if level < self.level or self.stream is None:
            return
        text = text.rstrip()
        if text.startswith("hotswap: "):
            text = text[len("hotswap: "):]
        text = f"hotswap{self.tag}: {text}"
        if stamp:
            text = f"{_clock()} {text}"
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass  # the terminal went away: never break the program

    def write_event(self, event):
        if self.events is None:
            return
        self.events.write(json.dumps(event, default=str) + "\n")
        self.events.flush()

    # -- the core's side ---------------------------------------------------
    def sink(self, levelno, message, detail):
        """The core's messages.  A reload line (detail: its Report) and a
        failure (detail: the ReloadError) are written by after_reload,
        from the Report; the rest (warnings) as they come."""
        if isinstance(detail, hotswap.ReloadError):
            self._failure = (detail, message)
            if getattr(detail, "report", None) is None:
                self._failed(None, detail, message)
            return
        if isinstance(detail, hotswap.Report):
            return
        self.line(message, levelno)

    def after_reload(self, report):
        if report.ok:
            self._applied(report)
            return
        error, message = self._failure or (None, None)
        self._failure = None
        error = getattr(report, "error", None) or error
        self._failed(report, error, message)

    def _applied(self, report):
        entries = tuple(report.entries)
        if not (report.changed or entries):
            return
        text = str(report)
        for m in report.modules:
            if m.status != "unchanged" and m.name in self.failing:
                since, saves, _ = self.failing.pop(m.name)
                text += (f"\n  {m.name} had kept its old code since "
                         f"{_clock(since)} ({saves} failed "
                         f"save{'s' if saves != 1 else ''})")
        if self.verbose:
            for action in _CHANGE_ACTIONS:
                names = [f"{c.module}.{c.name}" for c in entries
                         if c.action == action and c.code is None]
                if names:
                    text += f"\n  {action}: {', '.join(names)}"
        self.line(text, logging.INFO, stamp=True)
        self.write_event(report_event(report))

    def _failed(self, report, error, message):
        if message is None:
            message = str(error) if error is not None else "reload failed"
        module = getattr(error, "module", None)
        if module is None and report is not None:
            module = next((m.name for m in report.modules
                           if m.status == "failed"), None)
        statement = _statement(getattr(error, "filename", None),
                               getattr(error, "lineno", None))
        if module is not None:
            now = time.time()
            state = self.failing.setdefault(module, [now, 0, None])
            state[1] += 1
            state[2] = statement
            if state[1] > 1:
                message += (f"\n  {module} has kept its old code since "
                            f"{_clock(state[0])} ({state[1]} failed saves "
                            f"in a row)")
                if statement:
                    message += f"; failing statement: {statement}"
        self.line(message, logging.WARNING, stamp=True)
        self.write_event(report_event(report, error))

    def close(self):
        for f in (self.events, self.stream if self._own else None):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass
        self.events = self.stream = None


# ---------------------------------------------------------------------------
# the program's __main__


def _new_main(filename, spec=None):
    mod = types.ModuleType("__main__")
    mod.__file__ = filename
    mod.__builtins__ = builtins
    mod.__cached__ = spec.cached if spec is not None else None
    mod.__package__ = spec.parent if spec is not None else None
    mod.__loader__ = (spec.loader if spec is not None else
                      importlib.machinery.SourceFileLoader("__main__",
                                                           filename))
    mod.__spec__ = spec
    return mod


def _snapshot_source(mod, filename):
    """Snapshot ``mod`` and return the source bytes the snapshot holds.

    The code that runs is compiled from the snapshot, so what a reload
    compares against is exactly what runs.  A script's ``__spec__`` is None
    (as python sets it); the core reads a module through its spec's loader,
    so a spec is lent for the snapshot and taken back afterwards.
    """
    spec = mod.__spec__
    if spec is None:
        mod.__spec__ = importlib.util.spec_from_file_location(
            "__main__", filename, loader=mod.__loader__)
    try:
        hotswap.snapshot(mod)
    finally:
        mod.__spec__ = spec
    snap = getattr(hotswap._core, "snapshots", {}).get("__main__")
    if snap is not None:
        return snap.source
    with io.open_code(filename) as f:
        return f.read()


def _prepare_script(path):
    if not os.path.exists(path):
        raise _UsageError(f"can't open file {os.path.abspath(path)!r}: "
                          f"[Errno 2] No such file or directory")
    if os.path.isdir(path):
        # python dir/ runs dir/__main__.py with dir in sys.path[0]
        main_py = os.path.join(path, "__main__.py")
        if not os.path.exists(main_py):
            raise _UsageError(f"can't find '__main__' module in "
                              f"{os.path.abspath(path)!r}")
        return (os.path.abspath(main_py), os.path.realpath(path), None)
    # python >= 3.9 makes the script's __file__ absolute (argv[0] is kept)
    return (os.path.abspath(path), os.path.dirname(os.path.realpath(path)),
            None)


def _prepare_module(name):
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError) as exc:
        raise _UsageError(f"Error while finding module specification for "
                          f"{name!r} ({type(exc).__name__}: {exc})")
    if spec is None:
        raise _UsageError(f"No module named {name}")
    if spec.submodule_search_locations is not None:
        name = name + ".__main__"
        spec = importlib.util.find_spec(name)
        if spec is None:
            raise _UsageError(f"No module named {name}; '{name[:-9]}' is a "
                              f"package and cannot be directly executed")
    if spec.origin is None or not spec.origin.endswith((".py", ".pyw")):
        raise _UsageError(f"{name} is not a Python source module "
                          f"({spec.origin}): hotswap runs source modules")
    top = importlib.util.find_spec(name.split(".")[0])
    if top.submodule_search_locations:
        root = list(top.submodule_search_locations)[0]
    else:
        root = os.path.dirname(top.origin)
    root = os.path.realpath(root)
    if _installed(root):
        # uvicorn, flask, django, gunicorn, pytest, http.server...: the
        # user means their project, which python -m puts in sys.path[0]
        return spec, os.path.realpath(os.getcwd())
    return spec, root


def _installed_dirs():
    """The stdlib and site-packages directories (real paths)."""
    import site
    import sysconfig
    dirs = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        p = sysconfig.get_paths().get(key)
        if p:
            dirs.add(p)
    try:
        dirs.update(site.getsitepackages())
    except AttributeError:  # an old virtualenv's site module
        pass
    user = getattr(site, "getusersitepackages", lambda: None)()
    if user:
        dirs.add(user)
    return {os.path.realpath(d) for d in dirs if d}


def _installed(path):
    """True when ``path`` lies in the stdlib or a site-packages dir."""
    path = os.path.realpath(path)
    for d in _installed_dirs():
        if path == d or path.startswith(d.rstrip(os.sep) + os.sep):
            return True
    return False


class _UsageError(Exception):
    pass


# ---------------------------------------------------------------------------
# the watcher


def _start_watch(roots, opts, out):
    """Start the core's watcher; return it, or None without one."""
    watch = getattr(hotswap, "watch", None) or getattr(hotswap._core,
                                                       "watch", None)
    if watch is None:
        out.line("this build of hotswap has no watcher (hotswap.watch); "
                 "the program runs without live reloading", logging.WARNING)
        return None
    kwargs = {"debounce": opts.debounce, "mode": "auto"}
    if opts.partial:
        kwargs["partial"] = True
    attempts = []
    if opts.poll:
        attempts = [dict(kwargs, backend="poll"), dict(kwargs, mode="poll")]
    else:
        attempts = [kwargs]
    if opts.exclude:
        attempts = [dict(a, exclude=tuple(opts.exclude)) for a in attempts] \
            + attempts
    last = None
    for kw in attempts:
        try:
            watch(*roots, **kw)
        except TypeError as exc:
            last = exc
            continue
        if opts.exclude and "exclude" not in kw:
            out.line("--exclude ignored: this watcher has no 'exclude' "
                     "argument", logging.WARNING)
        return watch
    raise last


# When the CLI counts the tracked modules, in seconds after start-up.  By 1 s
# a server has usually imported its application (uvicorn imports "app:app"
# after parsing its options, Django its settings and URLconf): the line is
# printed then, or a warning that nothing is tracked yet.  An application
# imported later (at its first request, or after a slow start) is tracked
# all the same; the later checks print the line when it appears.
STARTUP_CHECKS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
STARTUP_CHECK_DELAY = STARTUP_CHECKS[0]


def _tracked_under(roots):
    """Names of the tracked modules whose file lies under one of roots."""
    found = []
    prefixes = [r.rstrip(os.sep) + os.sep for r in roots]
    for name in hotswap.tracked():
        mod = sys.modules.get(name)
        f = getattr(mod, "__file__", None)
        if not isinstance(f, str):
            continue
        real = os.path.realpath(f)
        if any(real.startswith(p) for p in prefixes):
            found.append(name)
    return found


def _startup_report(roots, out, main_name, warn=True, forked=0):
    """The start-up line: what is watched and how many modules are
    tracked; a warning (if ``warn``) when nothing under the roots is.
    True when the line was printed.  ``forked``: how many processes this
    one forked so far (a pre-fork server's master imports no application:
    its workers do, and watch on their own)."""
    names = _tracked_under(roots)  # __main__ too, when it lies there
    where = ", ".join(roots)
    if names:
        out.line(f"watching {where}: {len(names)} module"
                 f"{'s' if len(names) != 1 else ''} tracked "
                 f"(and __main__ = {main_name})")
        return True
    if warn and forked:
        out.line(f"watching {where}: nothing tracked in this process "
                 f"(__main__ = {main_name}); the {forked} process"
                 f"{'es' if forked != 1 else ''} it forked watch and "
                 f"reload on their own")
        return True
    if warn:
        out.line(f"warning: nothing under {where} is tracked "
                 f"{STARTUP_CHECK_DELAY:g} s after start-up (__main__ = "
                 f"{main_name}); edits of other files are not reloaded: "
                 f"pass --root DIR for the code you edit",
                 logging.WARNING)
    return False


class _StartupCheck:
    """The start-up line, from a daemon thread, at STARTUP_CHECKS: printed
    once modules under the roots are tracked (a warning at the first check
    when none is yet).  Stopped around a fork (a thread that exists when a
    pre-fork server forks its workers would make fork() warn), and resumed
    in the parent."""

    def __init__(self, roots, out, main_name):
        import threading
        self._args = (roots, out, main_name)
        self._threading = threading
        self._stop = threading.Event()
        self._thread = None
        self._t0 = time.monotonic()
        self._next = 0        # index in STARTUP_CHECKS
        self._done = False
        self.forked = 0       # processes forked so far

    def start(self):
        if self._done or self._next >= len(STARTUP_CHECKS):
            return
        self._stop.clear()
        self._thread = self._threading.Thread(
            target=self._run, name="hotswap-startup-check", daemon=True)
        self._thread.start()

    def _run(self):
        while self._next < len(STARTUP_CHECKS):
            wait = self._t0 + STARTUP_CHECKS[self._next] - time.monotonic()
            if self._stop.wait(max(wait, 0)):
                return
            # The collector is paused while the check runs beside the
            # program, first thing (nothing gc-tracked is allocated before
            # it): a collection triggered here would run the program's
            # finalizers in this thread, and their warnings (an unclosed
            # file's ResourceWarning) would name this file.  The core does
            # the same around a reload.  (A program calling gc.disable()
            # during these few milliseconds finds it enabled again.)
            paused = gc.isenabled()
            if paused:
                gc.disable()
            try:
                first = self._next == 0
                self._next += 1
                shown = _startup_report(*self._args, first, self.forked)
            finally:
                if paused:
                    gc.enable()
            if shown:
                break
        self._done = True

    def stop(self):
        self._stop.set()
        t = self._thread
        if t is not None and t is not self._threading.current_thread():
            t.join(5)
        self._thread = None


def _at_fork(state):
    """os.register_at_fork hooks of the run (state: a dict the run fills
    and empties): the start-up check's thread is stopped before a fork and
    resumed in the parent; the child starts a watcher of its own.  A
    pre-fork server (gunicorn, a multiprocessing pool with "fork") thus
    reloads in each worker: the watcher thread does not survive fork(),
    and the parent's inotify descriptor would be shared with the child."""
    def before():
        check = state.get("check")
        if check is not None:
            check.stop()

    def after_in_parent():
        check = state.get("check")
        if check is not None:
            check.forked += 1
            check.start()

    def after_in_child():
        state.pop("check", None)
        out = state.get("out")
        if out is not None:
            # two processes now write reload lines: say whose
            out.tag = f"[{os.getpid()}]"
        start = state.get("restart")
        if start is not None:
            try:
                start()
            except Exception as exc:  # never break the child
                out = state.get("out")
                if out is not None:
                    out.line(f"no watcher in forked process {os.getpid()}: "
                             f"{type(exc).__name__}: {exc}", logging.WARNING)

    os.register_at_fork(before=before, after_in_parent=after_in_parent,
                        after_in_child=after_in_child)


def _hook(name):
    return getattr(hotswap, name, None) or getattr(hotswap._core, name, None)


# ---------------------------------------------------------------------------
# running


def _strip_frames(tb):
    """Drop the traceback entries of this file (python would not show them)."""
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return tb


def _exit_code(exc):
    """Exit status for a SystemExit, printing its message as python does."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    try:
        sys.stdout.flush()
    except Exception:
        pass
    print(code, file=sys.stderr)
    return 1


def _run(opts, module_name, prog_argv, out):
    saved_argv, saved_path = sys.argv, list(sys.path)
    saved_main = sys.modules.get("__main__")
    if module_name is not None:
        # python -m: sys.path[0] is the current directory (set before the
        # module is looked for, as python does)
        path0 = os.getcwd()
    else:
        filename, path0, _ = _prepare_script(prog_argv[0])
    if sys.path:
        sys.path[0] = path0
    else:
        sys.path.insert(0, path0)
    try:
        if module_name is not None:
            spec, default_root = _prepare_module(module_name)
            filename = spec.origin
            mod = _new_main(filename, spec)
            argv0 = filename
        else:
            mod = _new_main(filename)
            default_root = path0
            argv0, prog_argv = prog_argv[0], prog_argv[1:]
    except BaseException:
        sys.path[:] = saved_path
        raise
    sys.argv = [argv0, *prog_argv]
    sys.modules["__main__"] = mod

    watch = check = None
    forks = {}  # what the at-fork hooks see, emptied when the run ends
    hooks = _hook("after_reload") is not None
    set_sink = getattr(hotswap._core, "set_log_sink", None)
    try:
        source = _snapshot_source(mod, filename)
        code = compile(source, filename, "exec", dont_inherit=True)
        roots = [os.path.realpath(r) for r in opts.root] or [default_root]
        hotswap.track(*roots)
        hotswap.track("__main__")
        if set_sink is not None:
            set_sink(out.sink)
        if hooks:
            _hook("after_reload")(out.after_reload)
        watch = _start_watch(roots, opts, out)
        if watch is not None:
            main_name = module_name or os.path.basename(filename)
            check = _StartupCheck(roots, out, main_name)
            forks.update(check=check, out=out,
                         restart=lambda: _start_watch(roots, opts, out))
            if hasattr(os, "register_at_fork"):
                _at_fork(forks)
            check.start()
        try:
            exec(code, mod.__dict__)
        except SystemExit as exc:
            return _exit_code(exc)
        except KeyboardInterrupt as exc:
            raise exc.with_traceback(_strip_frames(exc.__traceback__))
        except BaseException as exc:
            exc.__traceback__ = _strip_frames(exc.__traceback__)
            sys.excepthook(type(exc), exc, exc.__traceback__)
            return 1
        return 0
    finally:
        forks.clear()
        if check is not None:
            check.stop()
        if watch is not None:
            unwatch = _hook("unwatch")
            if unwatch is not None:
                unwatch()
        if hooks:
            _hook("remove_hook")(out.after_reload)
        if set_sink is not None:
            set_sink(None)
        sys.argv = saved_argv
        if sys.path and saved_path and sys.path[0] == path0:
            sys.path[0] = saved_path[0]
        if sys.modules.get("__main__") is mod and saved_main is not None:
            sys.modules["__main__"] = saved_main


def _cmd_run(argv):
    ours, module_name, prog_argv = _split_run_args(argv)
    parser = _run_parser()
    opts = parser.parse_args(ours)
    if module_name is None and not prog_argv:
        parser.error("a script or -m module is required")
    if module_name == "":
        parser.error("argument -m: expected a module name")
    level = (logging.WARNING if opts.quiet
             else logging.DEBUG if opts.verbose else logging.INFO)
    out = _Output(level, opts.verbose, opts.events)
    try:
        return _run(opts, module_name, prog_argv, out)
    except _UsageError as exc:
        print(f"{PROG} run: {exc}", file=sys.stderr)
        return 2
    finally:
        out.close()


def _cmd_demo(argv):
    p = argparse.ArgumentParser(
        prog=f"{PROG} demo",
        description="A live, self-checking demo: a game server is edited "
                    "while it runs and keeps its state.")
    p.add_argument("--source", metavar="DIR",
                   help="the game server's sources (default: "
                        "examples/gameserver of the checkout)")
    p.add_argument("--manual", action="store_true",
                   help="no watcher: the game loop calls hotswap.reload() "
                        "each tick")
    p.add_argument("--fast", action="store_true",
                   help="shorter pauses between edits")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="give up after this many seconds (default 60)")
    opts = p.parse_args(argv)
    source = opts.source or _find_demo()
    if source is None:
        print(f"{PROG} demo: cannot find examples/gameserver (run from a "
              "checkout of hotswap, or pass --source DIR)", file=sys.stderr)
        return 2
    import runpy
    driver = runpy.run_path(os.path.join(source, "demo.py"),
                            run_name="hotswap_demo")
    return driver["main"](source, opts)


def _find_demo():
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [
        os.environ.get("HOTSWAP_DEMO_DIR", ""),
        # an editable install or the source tree: src/hotswap/../../examples
        os.path.join(here, "..", "..", "examples", "gameserver"),
        os.path.join(os.getcwd(), "examples", "gameserver"),
    ]
    for c in candidates:
        if c and os.path.isfile(os.path.join(c, "demo.py")):
            return os.path.realpath(c)
    return None


def main(argv=None):
    """Run the command line with ``argv`` (default ``sys.argv[1:]``)."""
    if argv is None:
        argv = sys.argv[1:]
    argv = list(argv)
    top = argparse.ArgumentParser(
        prog=PROG,
        description="hotswap: in-place hot reloading for CPython.",
        epilog=f"'{PROG} run -h' and '{PROG} demo -h' for the commands' "
               "options.")
    top.add_argument("--version", action="version",
                     version=f"hotswap {hotswap.__version__} "
                             f"(Python {sys.version.split()[0]})")
    top.add_argument("command", choices=("run", "demo"),
                     help="run: run a program with live reloading; demo: "
                          "the live demo")
    try:
        if not argv or argv[0].startswith("-"):
            top.parse_args(argv or ["-h"])
            return 2
        if argv[0] == "run":
            return _cmd_run(argv[1:])
        if argv[0] == "demo":
            return _cmd_demo(argv[1:])
        top.parse_args(argv)  # prints the error
        return 2
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        return _exit_code(exc)


def _entry():
    """Console entry point: main() with python's own KeyboardInterrupt exit."""
    try:
        code = main()
    except KeyboardInterrupt as exc:
        exc.__traceback__ = _strip_frames(exc.__traceback__)
        sys.excepthook(type(exc), exc, exc.__traceback__)
        try:
            sys.stdout.flush()
        except Exception:
            pass
        # As python does for an uncaught KeyboardInterrupt: die of SIGINT so
        # the parent shell sees "interrupted" (exit status 130).
        if hasattr(signal, "SIGINT") and hasattr(os, "kill"):
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    _entry()
