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
  --exclude GLOB   do not reload files matching GLOB (repeatable; the
                   watcher's ``exclude``).
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

This module parses the arguments and dispatches; ``hotswap._runmain`` runs
the program, ``hotswap.events`` words what the core reports (reload lines,
the ``--events`` stream); the reloading is done by the C core
(``hotswap._core``).
"""
import argparse
import logging
import os
import signal
import sys

import hotswap
from hotswap._runmain import UsageError, exit_code, run, strip_frames
from hotswap.events import Output

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
                   help="do not reload files matching GLOB (repeatable)")
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
    out = Output(level, opts.verbose, opts.events)
    try:
        return run(opts, module_name, prog_argv, out)
    except UsageError as exc:
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
        return exit_code(exc)


def _entry():
    """Console entry point: main() with python's own KeyboardInterrupt exit."""
    try:
        code = main()
    except KeyboardInterrupt as exc:
        exc.__traceback__ = strip_frames(exc.__traceback__)
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
