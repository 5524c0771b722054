"""Shared fixtures for the hotswap scenario suite.

Every scenario gets a `sb` (sandbox): a fresh temporary directory put at the
front of ``sys.path`` and a unique module-name prefix, so no two tests ever
share an entry in ``sys.modules``.  A scenario writes module v1, imports it,
holds references the way real programs do, writes v2 and reloads
(``sb.reload(m, v2)``; ``sb.reload_clean`` also asserts that the report
carries no diagnostic code).

Rewriting a file never relies on its mtime: the engine compares source bytes.
When a *new* file is created, ``importlib.invalidate_caches()`` is called so
the path finders see it even inside the same second as their last listing.
"""
import importlib
import itertools
import os
import pathlib
import string
import sys

# Import hotswap before any scenario module: its import hook records the
# exact source bytes of every module imported afterwards (the snapshot the
# next reload compares against).
import hotswap  # noqa: F401  (imported for its import hook)
import pytest
from hs_helpers import codes, dedent

_counter = itertools.count()


class Sandbox:
    """A temporary import root with unique module names.

    `name(base)` gives the unique dotted name for a short base name; sources
    may refer to other sandbox modules as ``$base`` (string.Template syntax,
    substituted only for the keyword names passed to write/load/update).
    """

    def __init__(self, root):
        self.root = pathlib.Path(root)
        self.prefix = f"hst{os.getpid()}_{next(_counter)}"

    # -- names and paths -------------------------------------------------
    def name(self, base="m"):
        return f"{self.prefix}_{base}"

    def path(self, dotted, package=False):
        parts = dotted.split(".")
        if package:
            return self.root.joinpath(*parts, "__init__.py")
        return self.root.joinpath(*parts[:-1], parts[-1] + ".py")

    @staticmethod
    def _subst(source, subst):
        source = dedent(source)
        if subst:
            source = string.Template(source).safe_substitute(subst)
        return source

    # -- writing ---------------------------------------------------------
    def write_bytes(self, path, data):
        path = pathlib.Path(path)
        is_new = not path.exists()
        path.parent.mkdir(parents=True, exist_ok=True)
        # Plain rewrite in place (not write-then-rename): the engine must
        # notice content changes even when size and mtime look the same.
        with open(path, "wb") as fh:
            fh.write(data)
        if is_new:
            importlib.invalidate_caches()
        return path

    def write(self, dotted, source, *, package=False, encoding="utf-8",
              **subst):
        """Write the source of module `dotted` (a full dotted name)."""
        text = self._subst(source, subst)
        return self.write_bytes(self.path(dotted, package),
                                text.encode(encoding))

    def load(self, source, base="m", *, package=False, encoding="utf-8",
             **subst):
        """Write `source` as module `name(base)` and import it."""
        dotted = self.name(base)
        self.write(dotted, source, package=package, encoding=encoding,
                   **subst)
        return importlib.import_module(dotted)

    def update(self, module, source, *, encoding="utf-8", **subst):
        """Rewrite the file a loaded module came from (v2); do not reload."""
        if isinstance(module, str):
            module = sys.modules[module]
        text = self._subst(source, subst)
        return self.write_bytes(module.__file__, text.encode(encoding))

    def reload(self, module, source, **subst):
        """Write v2 of a loaded module and reload it: the Report."""
        self.update(module, source, **subst)
        return hotswap.reload(module)

    def reload_clean(self, module, source, **subst):
        """`reload`, asserting the Report carries no diagnostic code."""
        report = self.reload(module, source, **subst)
        assert not codes(report), str(report)
        return report

    def importer(self, module, *names, base="user"):
        """A second module doing ``from <module> import <names>``: the copies a
        real program holds."""
        src = f"from {module.__name__} import {', '.join(names)}\n"
        dotted = self.name(base)
        self.write_bytes(self.path(dotted), src.encode())
        return importlib.import_module(dotted)

    # -- cleanup ---------------------------------------------------------
    def cleanup(self):
        for name in list(sys.modules):
            if name.startswith(self.prefix + "_"):
                del sys.modules[name]
        while str(self.root) in sys.path:
            sys.path.remove(str(self.root))
        importlib.invalidate_caches()


@pytest.fixture
def sb(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    box = Sandbox(root)
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        yield box
    finally:
        # Leave no global engine state behind for the next test.
        # (Best effort: the API may be incomplete while the engine is
        # written; a missing function must not turn into teardown errors.)
        def untrack_ours():
            ours = [n for n in hotswap.tracked()
                    if n.startswith(box.prefix + "_")]
            if ours:
                hotswap.untrack(*ours)

        for undo in (lambda: hotswap.route_importlib(False),
                     lambda: hotswap.untrack(str(root)),
                     untrack_ours):
            try:
                undo()
            except Exception:
                pass
        box.cleanup()
