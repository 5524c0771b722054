"""Issue 13's swap-harness leads of branch str13, each reduced to a
scenario: module v1 on disk, import it, hold references the way programs
do, write v2, reload, assert behaviour and compare every name with a
fresh import of v2."""
import sys
import types

import hotswap
import pytest
from hs_helpers import assert_as_fresh, fresh_import


def shifted(source, n=2):
    """`source` with n comment lines inserted on top (a pure line shift)."""
    return "".join(f"# shift {i}\n" for i in range(n)) + source


def touched(source):
    """`source` with a harmless store added to every function body (the
    swap harness's touch round)."""
    return source.replace("        #touch\n", "        _t = 0\n")


def assert_names_as_fresh(m, fresh, kept=()):
    """Every name of a fresh import of the module's source names the same
    kind of thing in the live module: functions with the fresh code at the
    fresh line, classes with the same members, data of the same type
    (`kept`: names of unedited data the program changed, kept by
    policy)."""
    for name, new in vars(fresh).items():
        if name.startswith("__") or name in kept:
            continue
        live = getattr(m, name)
        assert type(live).__qualname__ == type(new).__qualname__, (
            name, live, new)
        if isinstance(new, types.FunctionType):
            assert_as_fresh(live, new)
        elif isinstance(new, type):
            for k, v in vars(new).items():
                if isinstance(v, (types.FunctionType, classmethod)):
                    f = getattr(v, "__func__", v)
                    assert_as_fresh(getattr(vars(live)[k], "__func__",
                                            vars(live)[k]), f)


# ------- the module's sentinel is the program's value (3.14's `string`) --
SENTINEL = """\
class _Pattern:
    def __get__(self, instance, cls=None):
        #touch
        if cls is None:
            return self
        return cls._compile_pattern()
_Pattern = _Pattern()


class Template:
    delimiter = '$'
    pattern = _Pattern  # a descriptor: compiled on first use

    def __init_subclass__(cls):
        #touch
        cls._compile_pattern()

    @classmethod
    def _compile_pattern(cls):
        #touch
        pattern = cls.__dict__.get('pattern', _Pattern)
        if pattern is _Pattern:
            pattern = ('compiled', cls.delimiter)
        pat = cls.pattern = pattern
        return pat


class Sub(Template):
    delimiter = '%'
"""


@pytest.mark.parametrize("edit", ["touch", "shift", "touch+revert"])
def test_program_replaced_class_member_is_not_the_module_sentinel(sb, edit):
    """`Template.pattern = <compiled>` at run time replaced the value the
    class statement bound (`pattern = _Pattern`).  Re-running the class
    body (every method touched) must not take that value for the object
    `_Pattern = _Pattern()` made: the module's `_Pattern` stays the
    sentinel, as in a fresh import."""
    m = sb.load(SENTINEL)
    sentinel, T = m._Pattern, m.Template
    assert T.pattern == ('compiled', '$')  # the program replaces it
    assert T.__dict__['pattern'] == ('compiled', '$')
    v2 = {"touch": touched(SENTINEL), "shift": shifted(SENTINEL, 3),
          "touch+revert": touched(SENTINEL)}[edit]
    sb.update(m, v2)
    assert hotswap.reload(m).ok
    if edit == "touch+revert":
        sb.update(m, SENTINEL)
        assert hotswap.reload(m).ok
    fresh = fresh_import(m)
    assert m._Pattern is sentinel and type(sentinel).__name__ == "_Pattern"
    assert m.Template is T
    # kept data: the value the program put on the class stays
    assert T.__dict__['pattern'] == ('compiled', '$')
    assert_names_as_fresh(m, fresh)
    # a new subclass compiles its own pattern through the sentinel
    class Late(T):
        delimiter = '#'
    assert Late.pattern == ('compiled', '#')
    assert m.Sub.pattern == fresh.Sub.pattern == ('compiled', '%')


MARKER = """\
class Box:
    __marker = object()
    shared = []

    def pop(self, default=__marker):
        #touch
        return 'none' if default is self.__marker else default

    def add(self, x, into=shared):
        #touch
        into.append(x)
        return into
"""


def test_marker_made_again_by_the_class_body_is_the_live_one(sb):
    """What the unedited statement made again (`__marker = object()`),
    read by an edited def's default, is the live object -- unless the
    program replaced the member with an object of another kind, which the
    statement did not make."""
    m = sb.load(MARKER)
    B = m.Box
    marker, shared = B._Box__marker, B.shared
    B.shared = ("the program's",)  # replaced: not what `shared = []` made
    sb.update(m, touched(MARKER))
    assert hotswap.reload(m).ok
    assert B._Box__marker is marker and B().pop() == 'none'
    assert B.pop.__defaults__[0] is marker
    assert B.shared == ("the program's",)
    into = B.add.__defaults__[0]
    assert type(into) is list and into is not B.shared
    assert_names_as_fresh(m, fresh_import(m))


SETTINGS = """\
class Settings:
    def __init__(self, debug=False):
        #touch
        self.debug = debug
DEFAULT = Settings()


class Service:
    settings = DEFAULT

    def run(self):
        #touch
        return self.settings.debug
"""


def test_program_set_member_of_the_same_type_is_not_the_module_value(sb):
    """`Service.settings = Settings(debug=True)` at run time, an object of
    the type `settings = DEFAULT` reads: the class body run again reads
    the module's DEFAULT, it does not make it, so nothing is paired --
    DEFAULT stays the module's own object."""
    m = sb.load(SETTINGS)
    default, S = m.DEFAULT, m.Service
    S.settings = m.Settings(debug=True)
    sb.update(m, touched(SETTINGS))
    assert hotswap.reload(m).ok
    assert m.DEFAULT is default and default.debug is False
    assert S().run() is True  # kept data: the program's settings
    assert_names_as_fresh(m, fresh_import(m))


# ---- 24 across modules: a metaclass copies another module's class line --
WRAPPERS = """\
$top
class _ProxyMethods(object):
    @property
    def __module__(self):
        return self.__wrapped__.__module__

    @property
    def describe(self):
        #touch
        return $desc

class _ProxyMeta(type):
    def __new__(cls, name, bases, dictionary):
        #touch
        dictionary.update(vars(_ProxyMethods))
        return type.__new__(cls, name, bases, dictionary)

class ObjectProxy(metaclass=_ProxyMeta):
    def __init__(self, wrapped):
        #touch
        object.__setattr__(self, '__wrapped__', wrapped)
"""

WEAKREFS = """\
$top
from $wrappers import ObjectProxy


class WeakFunctionProxy(ObjectProxy):
    def __call__(self):
        #touch
        return $ret
"""


@pytest.mark.skipif(sys.version_info < (3, 13),
                    reason="3.13+: classes store __firstlineno__")
@pytest.mark.parametrize("edit", ["shift", "touch"])
def test_copied_class_firstlineno_follows_across_modules(sb, edit):
    """wrapt: `dictionary.update(vars(_ObjectProxyMethods))` in the
    metaclass copies _ObjectProxyMethods' __firstlineno__ (3.13+) into
    every proxy class, in wrapt.weakrefs, wrapt.decorators, ...: reloaded
    in one batch, the copy in the other module follows the copied class's
    statement, moved or run again, as a fresh import would copy it."""
    wname = sb.name("wrappers")
    w = sb.load(WRAPPERS, "wrappers", top="", desc="'d1'")
    m = sb.load(WEAKREFS, "weakrefs", top="", ret="1", wrappers=wname)
    held, inst = m.WeakFunctionProxy, m.WeakFunctionProxy(len)
    line = w._ProxyMethods.__firstlineno__
    assert held.__firstlineno__ == line

    def write(wtop, mtop, desc, ret, fix=(lambda s: s)):
        sb.update(w, fix(WRAPPERS), top=wtop, desc=desc)
        sb.update(m, fix(WEAKREFS), top=mtop, ret=ret, wrappers=wname)

    if edit == "shift":
        rounds = [("\n" * 7, "\n", "'d1'", "1"), ("", "\n\n", "'d1'", "1")]
    else:
        rounds = [("\n" * 7, "", "'d1'", "2"), ("\n", "", "'d2'", "3")]
    for wtop, mtop, desc, ret in rounds:
        write(wtop, mtop, desc, ret, touched if edit == "touch" else
              (lambda s: s))
        assert hotswap.reload(w, m).ok
        new_w = fresh_import(w)
        new_m = fresh_import(m)  # copies the live (reloaded) class's line
        assert m.WeakFunctionProxy is held
        assert new_w._ProxyMethods.__firstlineno__ \
            == w._ProxyMethods.__firstlineno__
        assert held.__firstlineno__ \
            == new_m.WeakFunctionProxy.__firstlineno__ \
            == w._ProxyMethods.__firstlineno__ \
            == line + wtop.count("\n"), (wtop, mtop)
        assert inst() == new_m.WeakFunctionProxy(len)()
        assert w.ObjectProxy.__firstlineno__ \
            == new_w.ObjectProxy.__firstlineno__
    # back to v1, both modules
    write("", "", "'d1'", "1")
    assert hotswap.reload(w, m).ok
    assert held.__firstlineno__ == line == w._ProxyMethods.__firstlineno__
