"""Causes found by the swap harnesses (issue 13, docs/reliability.md 2,
swapcheck.CAUSES numbering), one minimal scenario each: v1 on disk,
import, references held the way programs hold them, v2, reload, the
behaviour asserted and compared with a fresh import of v2."""
import importlib.util
import sys

import hotswap
import pytest
from hs_helpers import line_of


def fresh_import(module):
    """A fresh import of the module's current file: a new module object of
    the same name and package, not put in sys.modules."""
    spec = importlib.util.spec_from_file_location(module.__name__,
                                                  module.__file__)
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    return fresh


# ------------------------------------- 21: several defs of one name --
OVERLOADS = """
    {pad}import typing as t

    @t.overload
    def get(silent: t.Literal[False] = False) -> int:
        {stub}...

    @t.overload
    def get(silent: bool = ...) -> t.Optional[int]:
        {stub}...

    def get(silent=False):
        {stub}return {value}
"""


def overloads(pad="", stub="", value=1):
    return OVERLOADS.format(pad=pad, stub=stub, value=value)


def test_overload_stubs_and_implementation_edited_together(sb):
    m = sb.load(overloads())
    get = m.get
    from_import = sb.importer(m, "get")
    v2 = overloads(stub="x = 0\n        ", value=2)
    sb.update(m, v2)
    assert hotswap.reload(m).ok
    fresh = fresh_import(m)
    assert m.get is get and from_import.get is get
    assert get() == fresh.get() == 2
    assert get.__code__.co_firstlineno == fresh.get.__code__.co_firstlineno \
        == line_of(v2, "def get(silent=False)")


def test_overload_implementation_moved_once(sb):
    """A pure shift moves the implementation once (cause 3 through
    cause 21: the stubs' statements matched the implementation's), and
    the revert brings it back."""
    m = sb.load(overloads())
    get = m.get
    first = get.__code__.co_firstlineno
    sb.update(m, overloads(pad="# pad\n    # pad\n\n    "))
    assert hotswap.reload(m).ok
    assert get.__code__.co_firstlineno == first + 3 \
        == fresh_import(m).get.__code__.co_firstlineno
    sb.update(m, overloads())
    assert hotswap.reload(m).ok
    assert get.__code__.co_firstlineno == first
    assert get() == 1
