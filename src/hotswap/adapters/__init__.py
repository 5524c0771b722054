"""Framework adapters: registries built at import, kept equal to a fresh import.

A module's import can fill registries that live outside it: a web framework's
route table, a model class's validator built by its metaclass.  Patching the
module's functions and classes in place does not touch those, so a reload
would leave them as the old source built them.  An *adapter* brings such a
registry up to date, inside the reload's batch:

``prepare(batch)``
    before the changed statements run (they may run decorators that register
    into the registry): snapshot what ``rollback`` needs; return any state.
``apply(batch, state)``
    after the batch was applied, its undo log still open: make the registry
    what a fresh import of the new source would build, note what was done
    (``batch.note``), or raise :class:`Refused` (the whole batch is then
    rolled back and :class:`hotswap.ReloadError` carries the code).
``rollback(batch, state)``
    the batch failed after ``prepare``: restore what ``prepare``/``apply``
    changed.
``commit(batch, state)``
    the batch was applied.

An adapter runs only when one of the modules in its ``requires`` is already
imported (``sys.modules`` is checked at reload time; hotswap never imports a
framework).  Register one with :func:`register`; the built-in ones (Starlette/
FastAPI, Flask, Django, pydantic, attrs, SQLAlchemy) are registered when
hotswap is imported.  See docs/api.md, "Framework adapters".
"""
import sys

from .. import _core

__all__ = [
    "Adapter",
    "Batch",
    "ModuleChange",
    "Refused",
    "register",
    "registered",
    "unregister",
]


class Refused(Exception):
    """Raised by an adapter's ``prepare``/``apply``: the batch cannot be made
    equal to a fresh import.  The batch is rolled back; the ReloadError names
    ``code`` (an ``HSnnn`` string), the module and the line."""

    def __init__(self, code, reason, module=None, lineno=None):
        super().__init__(reason)
        self.hotswap_code = code
        self.hotswap_module = getattr(module, "__name__", module)
        self.hotswap_lineno = lineno
        self.reason = reason

    def __str__(self):
        return "%s: %s" % (self.hotswap_code, self.reason)


class ModuleChange:
    """One module of the batch: ``module``, its new ``source`` text, and
    ``entries``, the report's Change records for it so far (a list)."""

    __slots__ = ("module", "source", "entries")

    def __init__(self, module, source, entries):
        self.module = module
        self.source = source
        self.entries = entries

    @property
    def name(self):
        return self.module.__name__

    def __repr__(self):
        return "<ModuleChange %s>" % self.name


class Batch:
    """What an adapter sees of one reload: ``modules`` (ModuleChange, in
    apply order), ``names`` (their names, a frozenset), ``note()``, and
    ``rebuilt``: the classes whose derived state an adapter rebuilt in this
    batch (the pydantic adapter adds its models), so an adapter that runs
    later can refresh what was built from them (FastAPI routes)."""

    def __init__(self, items):
        self.modules = tuple(ModuleChange(*item) for item in items)
        self.names = frozenset(m.name for m in self.modules)
        self.rebuilt = []
        self._notes = []

    def note(self, module, name, kind, action, code=None, reason=None,
             lineno=0):
        """Add a Change record to the report (``module``: a module or its
        name; ``kind`` e.g. "route", "class"; ``action`` one of the report's
        actions; ``code`` an HS code or None)."""
        module = getattr(module, "__name__", module)
        self._notes.append((module, name, kind, action, code,
                            None if reason is None else str(reason),
                            int(lineno or 0)))

    def owns(self, obj):
        """The ModuleChange of the batch whose module defined ``obj`` at its
        top level (a function or class), else None."""
        mod = getattr(obj, "__module__", None)
        if mod not in self.names:
            return None
        qualname = getattr(obj, "__qualname__", "")
        if "." in qualname or "<" in qualname:
            return None
        for m in self.modules:
            if m.name == mod:
                return m
        return None

    def is_stale(self, obj):
        """True when ``obj`` (a function or class a module of the batch
        defined at its top level) is no longer bound by that module: its
        statement was removed, or its decorators changed and the name now
        holds a new object.  A fresh import would not have made it."""
        m = self.owns(obj)
        if m is None:
            return False
        return not _bound_in(obj, vars(m.module))


def _bound_in(obj, namespace):
    for value in list(namespace.values()):
        seen = 0
        while value is not None and seen < 16:
            if value is obj:
                return True
            value = getattr(value, "__wrapped__", None) if not isinstance(
                value, type) else None
            seen += 1
    return False


class Adapter:
    """Base class of adapters (see the module docstring).  ``name`` names the
    adapter in messages; ``requires`` lists modules of which one must be
    imported for the adapter to run (empty: always)."""

    name = "adapter"
    requires = ()

    def active(self):
        return not self.requires or any(r in sys.modules
                                        for r in self.requires)

    def prepare(self, batch):
        return None

    def apply(self, batch, state):
        pass

    def rollback(self, batch, state):
        pass

    def commit(self, batch, state):
        pass


_adapters = []


def register(adapter):
    """Register an adapter (an :class:`Adapter` instance or class); returns
    it.  Adapters run in registration order (rollback in reverse)."""
    if isinstance(adapter, type):
        adapter = adapter()
    for attr in ("prepare", "apply", "rollback", "commit", "active"):
        if not callable(getattr(adapter, attr, None)):
            raise TypeError("an adapter needs a callable %r" % attr)
    if adapter not in _adapters:
        _adapters.append(adapter)
    return adapter


def unregister(adapter):
    """Unregister an adapter registered with :func:`register`."""
    for i, a in enumerate(_adapters):
        if a is adapter or type(a) is adapter:
            del _adapters[i]
            return


def registered():
    """The registered adapters, in order (a tuple)."""
    return tuple(_adapters)


class AdapterFailed(Exception):
    """An adapter raised something other than Refused (HS508)."""

    hotswap_code = "HS508"

    def __init__(self, adapter, phase, exc):
        super().__init__("adapter %r failed in %s: %s: %s"
                         % (getattr(adapter, "name", adapter), phase,
                            type(exc).__name__, exc))
        self.hotswap_module = getattr(exc, "hotswap_module", None)
        self.hotswap_lineno = getattr(exc, "hotswap_lineno", None)


# The running batch: its Batch and [(adapter, state)] of the prepared ones.
_running = None


def _dispatch(phase, items):
    """The hook the C core calls (see csrc/adapters.c)."""
    global _running
    if phase == "prepare":
        batch = Batch(items)
        prepared = []
        _running = (batch, prepared)
        for adapter in list(_adapters):
            if not adapter.active():
                continue
            try:
                state = adapter.prepare(batch)
            except Refused:
                _rollback(batch, prepared)
                _running = None
                raise
            except Exception as exc:
                _rollback(batch, prepared)
                _running = None
                raise AdapterFailed(adapter, phase, exc) from exc
            prepared.append((adapter, state))
        return None
    if _running is None:
        return None
    batch, prepared = _running
    if phase == "apply":
        del batch._notes[:]
        del batch.rebuilt[:]
        for adapter, state in prepared:
            try:
                adapter.apply(batch, state)
            except Refused:
                raise
            except Exception as exc:
                raise AdapterFailed(adapter, phase, exc) from exc
        return list(batch._notes)
    _running = None
    if phase == "rollback":
        _rollback(batch, prepared)
    elif phase == "commit":
        for adapter, state in prepared:
            try:
                adapter.commit(batch, state)
            except Exception:
                sys.unraisablehook(_unraisable(adapter, "commit"))
    return None


def _rollback(batch, prepared):
    for adapter, state in reversed(prepared):
        try:
            adapter.rollback(batch, state)
        except Exception:
            sys.unraisablehook(_unraisable(adapter, "rollback"))


def _unraisable(adapter, phase):
    exc_type, exc, tb = sys.exc_info()

    class _Args:
        pass

    args = _Args()
    args.exc_type, args.exc_value, args.exc_traceback = exc_type, exc, tb
    args.err_msg = "hotswap adapter %r failed in %s" % (
        getattr(adapter, "name", adapter), phase)
    args.object = adapter
    return args


class _Builtin(Adapter):
    """A built-in adapter, loaded the first time its framework is imported
    when a batch runs: ``import hotswap`` loads none of their code (nor the
    modules it imports: ast, re, copy ...), so it costs a program without
    frameworks nothing and leaves the standard library unimported."""

    def __init__(self, name, requires, module, cls):
        self.name, self.requires = name, requires
        self._where = (module, cls)
        self._real = None

    def _load(self):
        if self._real is None:
            import importlib
            module, cls = self._where
            mod = importlib.import_module("." + module, __name__)
            self._real = getattr(mod, cls)()
        return self._real

    def prepare(self, batch):
        return self._load().prepare(batch)

    def apply(self, batch, state):
        return self._load().apply(batch, state)

    def rollback(self, batch, state):
        return self._load().rollback(batch, state)

    def commit(self, batch, state):
        return self._load().commit(batch, state)

    def __repr__(self):
        return "<hotswap adapter %s (%s.%s)>" % ((self.name,) + self._where)


_BUILTINS = (
    ("pydantic", ("pydantic",), "_models", "PydanticAdapter"),
    ("attrs", ("attr",), "_models", "AttrsAdapter"),
    ("sqlalchemy", ("sqlalchemy.orm",), "_models", "SQLAlchemyAdapter"),
    ("starlette", ("starlette.routing",), "_web", "StarletteAdapter"),
    ("flask", ("flask",), "_web", "FlaskAdapter"),
    ("django", ("django.urls",), "_web", "DjangoAdapter"),
)


def _install():
    for name, requires, module, cls in _BUILTINS:
        register(_Builtin(name, requires, module, cls))
    _core._set_adapter_hook(_dispatch)
