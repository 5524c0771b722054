"""hotswap: in-place hot reload for CPython.

Edit a module's source while the program runs, then::

    import hotswap
    report = hotswap.reload(mymodule)
    print(report)

Old function objects run the new code, classes keep their identity and gain
the new methods, module objects stay the same objects, instances keep their
data, and every reference held anywhere (``from m import f`` copies, bound
methods in callback lists, decorator wrappers, registries) sees the new
behaviour.  Statements you did not edit are not run again, so module state
survives.  A batch is all or nothing: on error :class:`ReloadError` is raised
and nothing changed.

Import hotswap early: its import hook records the exact source of every
module imported afterwards, which is what a reload compares against.

The logic lives in the C extension ``hotswap._core``; this package
re-exports it, with the policy of live reloading (hooks, ``last_report``,
the exit and fork handlers of ``watch()``) from ``hotswap._live``.  See
docs/api.md for the full contract.
"""
# _live first: it computes the excluded directories before the core's
# import hook is installed.
from ._live import (
    after_reload,
    before_reload,
    last_report,
    remove_hook,
    watch,
)
from ._core import (
    Change,
    ModuleResult,
    ReloadError,
    Report,
    patch,
    poll,
    reload,
    route_importlib,
    snapshot,
    track,
    tracked,
    untrack,
    unwatch,
    watching,
)


from . import adapters  # noqa: E402  (framework adapters; imports no framework)

adapters._install()


def load_ipython_extension(ipython):
    """``%load_ext hotswap``: reload edited modules before each cell."""
    from .ipython import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython):
    """``%unload_ext hotswap``."""
    from .ipython import unload_ipython_extension as unload

    unload(ipython)


__all__ = [
    "Change",
    "ModuleResult",
    "ReloadError",
    "Report",
    "adapters",
    "after_reload",
    "before_reload",
    "last_report",
    "patch",
    "poll",
    "reload",
    "remove_hook",
    "route_importlib",
    "snapshot",
    "track",
    "tracked",
    "untrack",
    "unwatch",
    "watch",
    "watching",
    "load_ipython_extension",
    "unload_ipython_extension",
]

__version__ = "0.1.0"
