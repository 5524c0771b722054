"""Assertion helpers shared by the scenario files (plain functions, no
fixtures).  Imported as a top-level module: pytest puts tests/ on sys.path."""
import importlib.util
import inspect
import os
import subprocess
import sys
import textwrap


def dedent(source):
    """Dedent a triple-quoted module source; drop one leading newline."""
    source = textwrap.dedent(source)
    if source.startswith("\n"):
        source = source[1:]
    return source


def line_of(source, marker, nth=1):
    """1-based line number of the nth line of dedented `source` holding
    `marker`.  Tests compute expected line numbers from the text they wrote
    instead of hard-coding them."""
    seen = 0
    for number, text in enumerate(dedent(source).splitlines(), 1):
        if marker in text:
            seen += 1
            if seen == nth:
                return number
    raise AssertionError(f"marker {marker!r} not found in source")


def assert_as_fresh(live, fresh):
    """`live` (a function held across the reload) runs what a fresh import
    of the new source made as `fresh`: the same bytecode and constants at
    the same first line, and inspect shows the same source text."""
    a, b = live.__code__, fresh.__code__
    assert (a.co_name, a.co_firstlineno) == (b.co_name, b.co_firstlineno), (
        live, a.co_firstlineno, b.co_firstlineno)
    assert a.co_code == b.co_code, live
    assert a.co_consts == b.co_consts, live
    assert inspect.getsource(live) == inspect.getsource(fresh), live


SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts")


def entries(report, name, module=None):
    return tuple(report.find(name, module) if module is not None
                 else report.find(name))


def one(report, name, module=None):
    """The single report entry for qualified `name`."""
    found = entries(report, name, module)
    assert len(found) == 1, (name, found, str(report))
    return found[0]


def actions(report, name):
    return {e.action for e in report.find(name)}


def codes(report):
    return {e.code for e in report.entries if e.code}


def rejected_codes(report):
    return {e.code for e in report.rejected}


def error_codes(err):
    """Diagnostic codes attached to a ReloadError.

    ASSUMPTION: the spec says every failure is "reported in the Report with
    one of these codes" but does not say where an HS5xx error code lives; we
    accept it on an entry of err.report or on an attribute `code` of the
    error, and require it to be somewhere."""
    found = set()
    report = getattr(err, "report", None)
    if report is not None:
        found |= {e.code for e in report.entries if e.code}
    if getattr(err, "code", None):
        found.add(err.code)
    return found


def run_script(name, *args, timeout=600):
    """Run tests/scripts/<name> in a fresh interpreter (-X dev), so a crash
    fails the test instead of killing the run."""
    proc = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error",
         os.path.join(SCRIPTS, name), *map(str, args)],
        capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (
        f"{name} exited with {proc.returncode}\n"
        f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}")
    return proc


def fresh_import(module):
    """A fresh import of the module's current file: a new module object of
    the same name and package, not put in sys.modules."""
    spec = importlib.util.spec_from_file_location(module.__name__,
                                                  module.__file__)
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    return fresh
