"""Registries that hold functions by registration, not by module name."""
import functools

import hotswap


def test_singledispatch_registrations_patched_each(sb):
    # Several `def _` registered with @show.register: the module name `_`
    # only holds the last one; each def must patch its own function.
    src = """
        from functools import singledispatch

        @singledispatch
        def show(x):
            return "obj-{v}"

        @show.register
        def _(x: int):
            return "int-{v}"

        @show.register
        def _(x: str):
            return "str-{v}"
    """
    m = sb.load(src.format(v=1))
    show = m.show
    assert (show(1), show("a"), show(1.0)) == ("int-1", "str-1", "obj-1")
    sb.update(m, src.format(v=2))
    report = hotswap.reload(m)
    assert report.ok
    assert (show(1), show("a"), show(1.0)) == ("int-2", "str-2", "obj-2")
    # nothing was registered twice
    assert len(show.registry) == 3


def test_singledispatch_one_registration_edited(sb):
    src = """
        from functools import singledispatch

        @singledispatch
        def show(x):
            return "obj"

        @show.register
        def _(x: int):
            return "int-{a}"

        @show.register
        def _(x: str):
            return "str-{b}"
    """
    m = sb.load(src.format(a=1, b=1))
    show = m.show
    int_impl = show.registry[int]
    sb.update(m, src.format(a=1, b=2))
    hotswap.reload(m)
    assert show(1) == "int-1" and show("x") == "str-2"
    assert show.registry[int] is int_impl


def test_singledispatchmethod_registration(sb):
    src = """
        from functools import singledispatchmethod

        class Fmt:
            @singledispatchmethod
            def fmt(self, x):
                return "obj-{v}"

            @fmt.register
            def _(self, x: int):
                return "int-{v}"
    """
    m = sb.load(src.format(v=1))
    f = m.Fmt()
    assert f.fmt(1) == "int-1"
    sb.update(m, src.format(v=2))
    report = hotswap.reload(m)
    assert report.ok
    assert (f.fmt(1), f.fmt(None)) == ("int-2", "obj-2")
    assert functools  # imported for the decorators the sources use
