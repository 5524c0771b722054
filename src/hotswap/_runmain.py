"""Running a program as ``__main__`` under hotswap: ``python -m hotswap run``.

:func:`run` does what ``python script.py`` (or ``python -m package.module``)
does -- same ``sys.argv``, ``sys.path[0]``, exit status, tracebacks,
Ctrl-C -- after snapshotting the program's source (so its ``__main__`` is
reloadable too), tracking its directory and starting the watcher, which
hands its events to the run's ``events.Output``.  A process the program
forks starts a watcher of its own; a start-up line says what is watched.
"""
import builtins
import gc
import importlib.machinery
import importlib.util
import io
import logging
import os
import sys
import time
import types

import hotswap
from hotswap._live import excluded_dirs

__all__ = ["UsageError", "exit_code", "run", "strip_frames"]

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
    snap = hotswap._core.snapshots.get("__main__")
    if snap is not None:
        return snap.source
    # a script whose name does not end in .py: the core snapshots source
    # files only, and the program runs what is on disk
    with io.open_code(filename) as f:
        return f.read()


def _prepare_script(path):
    if not os.path.exists(path):
        raise UsageError(f"can't open file {os.path.abspath(path)!r}: "
                          f"[Errno 2] No such file or directory")
    if os.path.isdir(path):
        # python dir/ runs dir/__main__.py with dir in sys.path[0]
        main_py = os.path.join(path, "__main__.py")
        if not os.path.exists(main_py):
            raise UsageError(f"can't find '__main__' module in "
                              f"{os.path.abspath(path)!r}")
        return (os.path.abspath(main_py), os.path.realpath(path), None)
    # python >= 3.9 makes the script's __file__ absolute (argv[0] is kept)
    return (os.path.abspath(path), os.path.dirname(os.path.realpath(path)),
            None)


def _prepare_module(name):
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError) as exc:
        raise UsageError(f"Error while finding module specification for "
                          f"{name!r} ({type(exc).__name__}: {exc})")
    if spec is None:
        raise UsageError(f"No module named {name}")
    if spec.submodule_search_locations is not None:
        name = name + ".__main__"
        spec = importlib.util.find_spec(name)
        if spec is None:
            raise UsageError(f"No module named {name}; '{name[:-9]}' is a "
                              f"package and cannot be directly executed")
    if spec.origin is None or not spec.origin.endswith((".py", ".pyw")):
        raise UsageError(f"{name} is not a Python source module "
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


def _installed(path):
    """True when ``path`` lies in the stdlib or a site-packages dir."""
    path = os.path.realpath(path)
    for d in excluded_dirs():
        if path == d or path.startswith(d.rstrip(os.sep) + os.sep):
            return True
    return False


class UsageError(Exception):
    """A usage error of ``run`` (no such script or module)."""


# ---------------------------------------------------------------------------
# the watcher


def _start_watch(roots, opts):
    """Start the core's watcher for ``roots`` with the options of ``run``."""
    kwargs = {"debounce": opts.debounce, "mode": "auto"}
    if opts.poll:
        kwargs["backend"] = "poll"
    if opts.partial:
        kwargs["partial"] = True
    if opts.exclude:
        kwargs["exclude"] = tuple(opts.exclude)
    hotswap.watch(*roots, **kwargs)


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


# ---------------------------------------------------------------------------
# running


# The files of the CLI: python would not show their frames in a traceback.
_HERE = os.path.dirname(os.path.abspath(__file__))
_OWN_FILES = frozenset(os.path.join(_HERE, f) for f in (
    "__main__.py", "cli.py", "_runmain.py", "events.py"))


def strip_frames(tb):
    """Drop the leading traceback entries of the CLI's files."""
    while (tb is not None
           and os.path.abspath(tb.tb_frame.f_code.co_filename)
           in _OWN_FILES):
        tb = tb.tb_next
    return tb


def exit_code(exc):
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


def run(opts, module_name, prog_argv, out):
    """Run the program (``prog_argv[0]``, or ``-m module_name``) as
    ``__main__`` with a watcher; ``out`` is the events.Output of the run.
    Returns the exit status."""
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

    watching = False
    check = None
    forks = {}  # what the at-fork hooks see, emptied when the run ends
    try:
        source = _snapshot_source(mod, filename)
        code = compile(source, filename, "exec", dont_inherit=True)
        roots = [os.path.realpath(r) for r in opts.root] or [default_root]
        hotswap.track(*roots)
        hotswap.track("__main__")
        hotswap._core.set_log_sink(out.sink)
        hotswap.after_reload(out.after_reload)
        _start_watch(roots, opts)
        watching = True
        main_name = module_name or os.path.basename(filename)
        check = _StartupCheck(roots, out, main_name)
        forks.update(check=check, out=out,
                     restart=lambda: _start_watch(roots, opts))
        if hasattr(os, "register_at_fork"):
            _at_fork(forks)
        check.start()
        try:
            exec(code, mod.__dict__)
        except SystemExit as exc:
            return exit_code(exc)
        except KeyboardInterrupt as exc:
            raise exc.with_traceback(strip_frames(exc.__traceback__))
        except BaseException as exc:
            exc.__traceback__ = strip_frames(exc.__traceback__)
            sys.excepthook(type(exc), exc, exc.__traceback__)
            return 1
        return 0
    finally:
        forks.clear()
        if check is not None:
            check.stop()
        if watching:
            hotswap.unwatch()
        hotswap.remove_hook(out.after_reload)
        hotswap._core.set_log_sink(None)
        sys.argv = saved_argv
        if sys.path and saved_path and sys.path[0] == path0:
            sys.path[0] = saved_path[0]
        if sys.modules.get("__main__") is mod and saved_main is not None:
            sys.modules["__main__"] = saved_main
