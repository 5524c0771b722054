"""IPython/Jupyter extension: reload edited modules in place before each cell.

::

    %load_ext hotswap          # (or %load_ext hotswap.ipython)

Before every cell, the tracked modules whose source changed are reloaded in
place with ``hotswap.reload()``: objects created in earlier cells (instances,
bound methods, ``from m import f`` copies) run the new code, and module state
is kept.  A failed reload is shown in one or two lines (the cell still runs,
on the old code); the next cell retries.

What is tracked:

- the current working directory when the extension is loaded (the usual
  place of a notebook's own modules), and
- every module a cell imports from outside the standard library and
  site-packages (e.g. a project on ``sys.path`` next to the notebook, or an
  editable install): its top-level package, by name, after the cell that
  imported it.

The standard library and installed packages are never tracked unless named
with ``%hotswap track``.  Modules imported before ``import hotswap`` (or
before the extension was loaded) have no snapshot of their source at import
time; hotswap compares their functions with the live code instead and says
so (HS002).  Load the extension first for the best results.

The ``%hotswap`` magic:

- ``%hotswap`` -- the report of the last reload (and its error if it failed);
- ``%hotswap track PATH_OR_MODULE`` / ``%hotswap untrack PATH_OR_MODULE``;
- ``%hotswap tracked`` -- the tracked modules;
- ``%hotswap off`` / ``%hotswap on`` -- stop / resume reloading before cells;
- ``%hotswap quiet`` / ``%hotswap verbose`` -- hide / show the one-line
  summary printed after each reload (shown by default).
"""
import os
import sys

import hotswap
from hotswap._live import excluded_dirs

__all__ = ["load_ipython_extension", "unload_ipython_extension"]


def _under(path, dirs):
    return any(path == d or path.startswith(d + os.sep) for d in dirs)


class Reloader:
    """The state of the extension in one shell."""

    def __init__(self, shell):
        self.shell = shell
        self.enabled = True
        self.verbose = True
        self.last_report = None
        self.last_error = None
        self.known = set(sys.modules)
        self.excluded = excluded_dirs()
        self.cwd = os.getcwd()
        hotswap.track(self.cwd)

    # -- events --------------------------------------------------------------
    def pre_run_cell(self, info=None):
        if not self.enabled:
            return
        try:
            report = hotswap.reload()
        except hotswap.ReloadError as exc:
            self.last_error = exc
            self.last_report = exc.report
            print(f"hotswap: {exc}", file=sys.stderr)
            print("hotswap: the cell runs on the old code; fix the file and "
                  "run a cell again (%hotswap for the report)",
                  file=sys.stderr)
            return
        except Exception as exc:  # never break the user's cell
            print(f"hotswap: reload failed: {type(exc).__name__}: {exc}",
                  file=sys.stderr)
            return
        if report.changed or report.entries:
            self.last_report = report
            self.last_error = None
            if self.verbose:
                lines = str(report).splitlines()
                print("\n".join(lines[:6]), file=sys.stderr)

    def post_run_cell(self, result=None):
        """Track the packages the cell imported from outside site-packages."""
        new = set(sys.modules) - self.known
        self.known.update(new)
        if not self.enabled:
            return
        names = set()
        for name in new:
            mod = sys.modules.get(name)
            file = getattr(mod, "__file__", None)
            if not isinstance(file, str) or not file.endswith(".py"):
                continue
            real = os.path.realpath(file)
            if _under(real, self.excluded) or _under(real, (self.cwd,)):
                continue
            names.add(name.partition(".")[0])
        if names:
            try:
                hotswap.track(*sorted(names))
            except Exception as exc:
                print(f"hotswap: cannot track {sorted(names)}: {exc}",
                      file=sys.stderr)

    # -- the magic -----------------------------------------------------------
    def magic(self, line=""):
        words = line.split()
        cmd, args = (words[0], words[1:]) if words else ("", [])
        if cmd == "":
            return self.show()
        if cmd in ("on", "off"):
            self.enabled = cmd == "on"
            print(f"hotswap: reloading before each cell is {cmd}")
        elif cmd in ("quiet", "verbose"):
            self.verbose = cmd == "verbose"
        elif cmd in ("track", "untrack"):
            if not args:
                print(f"usage: %hotswap {cmd} PATH_OR_MODULE...")
                return None
            targets = [os.path.abspath(os.path.expanduser(a))
                       if os.path.isdir(os.path.expanduser(a)) else a
                       for a in args]
            getattr(hotswap, cmd)(*targets)
            print(f"hotswap: {cmd}ed {', '.join(targets)}")
        elif cmd == "tracked":
            print("\n".join(hotswap.tracked()) or "hotswap: nothing tracked")
        else:
            print("usage: %hotswap [on|off|quiet|verbose|tracked|"
                  "track PATH_OR_MODULE|untrack PATH_OR_MODULE]")
        return None

    def show(self):
        if self.last_error is not None:
            print(f"last reload failed: {self.last_error}")
            cause = self.last_error.__cause__
            if cause is not None:
                print(f"  {type(cause).__name__}: {cause}")
        elif self.last_report is None:
            print("hotswap: no reload yet")
        else:
            print(self.last_report)
            for c in self.last_report.entries:
                if c.action not in ("unchanged", "moved"):
                    where = (f" ({c.filename}:{c.lineno})"
                             if c.filename else "")
                    code = f" {c.code}" if c.code else ""
                    print(f"  {c.action:9} {c.kind:9} {c.module}.{c.name}"
                          f"{code}{where}")
        return None


_reloaders = {}


def load_ipython_extension(ip):
    """Called by ``%load_ext hotswap``."""
    if id(ip) in _reloaders:
        return
    r = Reloader(ip)
    _reloaders[id(ip)] = r
    ip.events.register("pre_run_cell", r.pre_run_cell)
    ip.events.register("post_run_cell", r.post_run_cell)
    ip.register_magic_function(r.magic, magic_kind="line",
                               magic_name="hotswap")


def unload_ipython_extension(ip):
    """Called by ``%unload_ext hotswap``: stop reloading before cells."""
    r = _reloaders.pop(id(ip), None)
    if r is None:
        return
    r.enabled = False
    for name, cb in (("pre_run_cell", r.pre_run_cell),
                     ("post_run_cell", r.post_run_cell)):
        try:
            ip.events.unregister(name, cb)
        except ValueError:
            pass
