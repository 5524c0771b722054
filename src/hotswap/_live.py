"""Live reloading's policy and glue, over the C core's mechanism.

The core (``hotswap._core``) keeps what needs C: the pipeline, the watcher
thread, the pending call that brings a batch onto the main thread, the
blocked modules and the events it hands to the sink.  This module owns the
rest, as ``functools.py`` does over ``_functools``:

- :func:`excluded_dirs`: the standard library and site-packages, one set of
  rules for the core's tracking, the CLI and the IPython extension;
- the hook lists (:func:`before_reload`, :func:`after_reload`,
  :func:`remove_hook`), running them, and :func:`last_report`;
- :func:`watch`: the core's ``watch()``, then the exit and fork handlers
  (``atexit``: stop the thread before the interpreter goes;
  ``os.register_at_fork``: pause it around a fork, forget it in the child);
- :func:`_on_changes`: what the pending call and ``poll()`` run once the
  watcher has gathered changed paths (docs/architecture.md, "Live
  reloading").

Main thread, GIL held; ``_on_changes`` runs between two bytecodes of
whatever the main thread was doing, with the cyclic collector paused.
"""
import atexit
import functools
import os
import site
import sys
import sysconfig


def excluded_dirs():
    """The real paths of the standard library and site-packages directories.

    A module whose file lies below one of them is never tracked under a
    root unless that root lies there too, and gets no import-time snapshot
    (``track()`` by module name still tracks it).  The rules: sysconfig's
    ``stdlib``, ``platstdlib``, ``purelib`` and ``platlib``;
    ``site.getsitepackages()`` and the user site; and every ``sys.path``
    entry named ``site-packages`` or ``dist-packages`` (a distribution's or
    a virtualenv's that sysconfig does not name).  Sorted tuple of str.
    """
    dirs = set()
    paths = sysconfig.get_paths()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        if paths.get(key):
            dirs.add(paths[key])
    getsitepackages = getattr(site, "getsitepackages", None)
    if getsitepackages is not None:  # an old virtualenv's site has none
        dirs.update(getsitepackages())
    getusersitepackages = getattr(site, "getusersitepackages", None)
    if getusersitepackages is not None:
        dirs.add(getusersitepackages())
    for p in sys.path:
        if isinstance(p, str) and os.path.basename(p) in ("site-packages",
                                                          "dist-packages"):
            dirs.add(p)
    return tuple(sorted({os.path.realpath(d) for d in dirs if d}))


# Computed before the core is imported: its import hook snapshots what is
# imported from outside these directories, and sysconfig.get_paths()
# imports the _sysconfigdata module.
_EXCLUDED = excluded_dirs()

from . import _core  # noqa: E402

_core._set_excluded(_EXCLUDED)


# ---------------------------------------------------------------------------
# hooks and the last report

_before_hooks = []  # fn(module_names) before each automatic/poll() batch
_after_hooks = []   # fn(report) after it
_last_report = None


def before_reload(fn):
    """Register fn(module_names) to run before each automatic or poll()
    reload; returns fn (usable as a decorator)."""
    if not callable(fn):
        raise TypeError("a hook must be callable")
    _before_hooks.append(fn)
    return fn


def after_reload(fn):
    """Register fn(report) to run after each automatic or poll() reload;
    returns fn (usable as a decorator)."""
    if not callable(fn):
        raise TypeError("a hook must be callable")
    _after_hooks.append(fn)
    return fn


def remove_hook(fn):
    """Unregister a hook added with before_reload() or after_reload()."""
    for hooks in (_before_hooks, _after_hooks):
        hooks[:] = [h for h in hooks if not h == fn]


def last_report():
    """The Report of the last automatic or poll() reload, or None."""
    return _last_report


def _run_hooks(hooks, arg):
    # A copy: a hook may add or remove hooks.  A broken hook stops neither
    # the others nor the reload: it becomes a "hook_failed" event.  Any
    # exception, as the core's pending call never lets one escape into the
    # code it interrupted.
    for fn in list(hooks):
        try:
            fn(arg)
        except BaseException as exc:
            _core._emit({"event": "hook_failed", "hook": fn, "error": exc})


def _on_changes(paths):
    """Reload the tracked modules of the changed ``paths`` (the pending
    call, ``poll()``); return the Report, or None when none was concerned.

    The core turns the paths into modules (the blocked ones taken along)
    and runs the batch; a failed batch is an event, not an exception.
    """
    global _last_report
    batch = _core._batch_for(paths)
    if batch is None:
        return None
    modules, fresh = batch
    _run_hooks(_before_hooks, [m.__name__ for m in modules])
    report = _core._apply_batch(modules, fresh)
    _last_report = report
    if report is not None:
        _run_hooks(_after_hooks, report)
    return report


# ---------------------------------------------------------------------------
# the watcher's exit and fork handlers

_handlers_registered = False


@functools.wraps(_core.watch)
def watch(*roots, **options):
    global _handlers_registered
    _core.watch(*roots, **options)
    if not _handlers_registered:
        # The thread is stopped before the interpreter goes.  Around a fork
        # it is paused (a thread alive at fork() makes it warn and would
        # hold the watcher's lock), resumed in the parent and forgotten in
        # the child, which shares the parent's inotify descriptor: the
        # child calls watch() for a watcher of its own (the CLI does).
        atexit.register(_core.unwatch)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(before=_core._pause_for_fork,
                                after_in_parent=_core._resume_after_fork,
                                after_in_child=_core._forget_after_fork)
        _handlers_registered = True
