"""Line numbers after a reload: tracebacks, inspect and linecache agree with
the file on disk."""
import inspect
import linecache
import traceback

import hotswap
import pytest
from hs_helpers import assert_as_fresh, dedent, line_of, one


def _last_frame(excinfo):
    return traceback.extract_tb(excinfo.tb)[-1]


def test_traceback_of_patched_function_points_at_new_line(sb):
    m = sb.load("""
        def f(x):
            if x:
                raise ValueError("v1")
            return x
    """)
    user = sb.importer(m, "f")
    v2 = """
        # three new lines
        # above the function
        # shift everything

        def f(x):
            y = x * 2
            if y:
                raise ValueError("v2")
            return y
    """
    sb.update(m, v2)
    hotswap.reload(m)
    with pytest.raises(ValueError, match="v2") as info:
        user.f(1)
    frame = _last_frame(info)
    assert frame.filename == m.__file__
    assert frame.lineno == line_of(v2, 'raise ValueError("v2")')
    assert frame.line == 'raise ValueError("v2")'


def test_getsource_of_patched_function(sb):
    m = sb.load("""
        def f():
            return 1
    """)
    f = m.f
    v2 = """
        import os

        def f():
            total = 0
            for i in range(3):
                total += i
            return total
    """
    sb.update(m, v2)
    hotswap.reload(m)
    expected = dedent(v2).split("\n\n", 1)[1]
    assert inspect.getsource(f) == expected
    assert f() == 3


def test_getsource_of_patched_method(sb):
    m = sb.load("""
        class C:
            def m(self):
                return 1
    """)
    c = m.C()
    v2 = """
        class C:
            '''Docs.'''

            def m(self):
                return 2
    """
    sb.update(m, v2)
    hotswap.reload(m)
    assert inspect.getsource(c.m) == ("    def m(self):\n"
                                      "        return 2\n")
    assert inspect.getsource(m.C) == dedent(v2)


def test_moved_function_gets_new_first_line_and_is_reported(sb):
    v1 = """
        def f():
            return 1
    """
    m = sb.load(v1)
    code = m.f.__code__
    assert code.co_firstlineno == line_of(v1, "def f")
    v2 = """
        LIMIT = 3


        def f():
            return 1
    """
    sb.update(m, v2)
    report = hotswap.reload(m)
    assert m.f.__code__.co_firstlineno == line_of(v2, "def f")
    assert one(report, "f").action == "moved"
    assert m.f() == 1


def test_moved_function_traceback_lines(sb):
    m = sb.load("""
        def boom():
            raise RuntimeError("boom")
    """)
    user = sb.importer(m, "boom")
    v2 = """
        def helper():
            return None


        def boom():
            raise RuntimeError("boom")
    """
    sb.update(m, v2)
    hotswap.reload(m)
    with pytest.raises(RuntimeError) as info:
        user.boom()
    frame = _last_frame(info)
    assert frame.lineno == line_of(v2, "raise RuntimeError")
    assert frame.line == 'raise RuntimeError("boom")'


def test_linecache_agrees_with_new_file(sb):
    m = sb.load("""
        def f():
            raise KeyError("old")
    """)
    f = m.f
    # Fill linecache with the old text, as a traceback print would.
    linecache.getlines(m.__file__)
    v2 = """
        '''Module docstring added.'''


        def f():
            raise KeyError("new")
    """
    sb.update(m, v2)
    hotswap.reload(m)
    lineno = line_of(v2, "raise KeyError")
    # No checkcache() here: the engine refreshes linecache itself.
    assert linecache.getline(m.__file__, lineno).strip() == \
        'raise KeyError("new")'
    with pytest.raises(KeyError) as info:
        f()
    assert _last_frame(info).lineno == lineno


def test_method_of_moved_class_gets_new_lines(sb):
    m = sb.load("""
        class C:
            def m(self):
                raise ValueError
    """)
    bound = m.C().m
    v2 = """
        X = 1
        Y = 2

        class C:
            def m(self):
                raise ValueError
    """
    sb.update(m, v2)
    report = hotswap.reload(m)
    assert m.C.m.__code__.co_firstlineno == line_of(v2, "def m")
    assert "moved" in {e.action for e in report.find("C")} | {
        e.action for e in report.find("C.m")}
    with pytest.raises(ValueError) as info:
        bound()
    assert _last_frame(info).lineno == line_of(v2, "raise ValueError")


def test_existing_closure_moved_with_its_function(sb):
    m = sb.load("""
        def make():
            def inner():
                raise LookupError
            return inner
    """)
    closure = m.make()
    v2 = """
        def other():
            pass


        def make():
            def inner():
                raise LookupError
            return inner
    """
    sb.update(m, v2)
    hotswap.reload(m)
    assert closure.__code__.co_firstlineno == line_of(v2, "def inner")
    with pytest.raises(LookupError) as info:
        closure()
    assert _last_frame(info).lineno == line_of(v2, "raise LookupError")


def test_function_below_a_grown_function_is_moved(sb):
    m = sb.load("""
        def grows():
            return 1

        def below():
            raise ArithmeticError
    """)
    below = m.below
    v2 = """
        def grows():
            a = 1
            b = 2
            return a + b

        def below():
            raise ArithmeticError
    """
    sb.update(m, v2)
    report = hotswap.reload(m)
    assert one(report, "grows").action == "updated"
    assert one(report, "below").action == "moved"
    with pytest.raises(ArithmeticError) as info:
        below()
    assert _last_frame(info).lineno == line_of(v2, "raise ArithmeticError")


def test_warning_from_patched_function_has_new_line(sb):
    import warnings
    m = sb.load("""
        import warnings

        def old_api():
            warnings.warn("deprecated v1", UserWarning)
    """)
    user = sb.importer(m, "old_api")
    v2 = """
        import warnings

        # moved down by a comment


        def old_api():
            x = 1
            warnings.warn("deprecated v2", UserWarning)
    """
    sb.update(m, v2)
    hotswap.reload(m)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        user.old_api()
    (w,) = caught
    assert str(w.message) == "deprecated v2"
    assert (w.filename, w.lineno) == (m.__file__, line_of(v2, "warnings.warn"))


def test_unchanged_method_below_grown_method_gets_new_lines(sb):
    m = sb.load("""
        class C:
            def first(self):
                return 1

            def second(self):
                raise TypeError("second")
    """)
    second = m.C().second
    v2 = """
        class C:
            def first(self):
                a = 1
                b = 2
                return a + b

            def second(self):
                raise TypeError("second")
    """
    sb.update(m, v2)
    hotswap.reload(m)
    assert m.C().first() == 3
    with pytest.raises(TypeError) as info:
        second()
    assert _last_frame(info).lineno == line_of(v2, "raise TypeError")
    assert inspect.getsource(second) == (
        "    def second(self):\n"
        "        raise TypeError(\"second\")\n")


def test_moved_decorated_function_first_line_is_decorator(sb):
    m = sb.load("""
        import functools

        @functools.lru_cache(maxsize=None)
        def f(x):
            return x
    """)
    inner = m.f.__wrapped__
    v2 = """
        import functools

        # pushed down


        @functools.lru_cache(maxsize=None)
        def f(x):
            return x
    """
    sb.update(m, v2)
    hotswap.reload(m)
    # CPython puts co_firstlineno of a decorated def on its first decorator.
    assert inner.__code__.co_firstlineno == line_of(v2, "@functools")
    assert inspect.getsource(m.f).startswith("@functools.lru_cache")


def test_function_under_several_names_moves_once(sb):
    # `next = __next__`, `__rmul__ = __mul__`, property(_get, _set) and one
    # function set on two classes: each function object moves once, by
    # its own statement's shift, whatever the number of names reaching it.
    v1 = """
        def _ne(self, other):
            return not self == other

        class A:
            def __next__(self):
                return 1
            next = __next__

            def __mul__(self, other):
                return 2
            __rmul__ = __mul__

            def _get(self):
                return self._x

            def _set(self, value):
                self._x = value
            x = property(_get, _set)

        class B:
            pass

        A.__ne__ = B.__ne__ = _ne
    """
    m = sb.load(v1)
    held = {"next": m.A.next, "rmul": m.A.__rmul__, "get": m.A.x.fget,
            "set": m.A.x.fset, "ne": m.B.__ne__}
    v2 = "# seven lines on top\n" * 7 + dedent(v1)
    sb.update(m, v2)
    report = hotswap.reload(m)
    assert report.ok, str(report)
    fresh = sb.load(v2, base="fresh")
    assert_as_fresh(held["next"], fresh.A.__next__)
    assert_as_fresh(held["rmul"], fresh.A.__mul__)
    assert_as_fresh(held["get"], fresh.A._get)
    assert_as_fresh(held["set"], fresh.A._set)
    assert_as_fresh(held["ne"], fresh._ne)
    assert m.A.next is m.A.__next__ and m.A.__ne__ is m._ne
    a = m.A()
    a.x = 5
    assert (next(a), 3 * a, a.x, a != a) == (1, 2, 5, False)


def test_cached_property_moves_with_its_class(sb):
    v1 = """
        import functools

        class C:
            @functools.cached_property
            def p(self):
                raise LookupError("p")
    """
    m = sb.load(v1)
    prop = m.C.__dict__["p"]
    v2 = "# pushed down\n" * 3 + dedent(v1)
    sb.update(m, v2)
    hotswap.reload(m)
    assert m.C.__dict__["p"] is prop
    assert_as_fresh(prop.func, sb.load(v2, base="fresh").C.__dict__["p"].func)
    with pytest.raises(LookupError) as info:
        m.C().p
    assert _last_frame(info).lineno == line_of(v2, "raise LookupError")


def test_method_under_validating_wrapper_moves(sb):
    # datetime's @_validate_fromutc_inputs: a module-level decorator whose
    # wrapper closure (same name as the method) calls the method.  The
    # method moves with its class, the wrapper with the decorator's def.
    v1 = """
        import functools

        def _validate(f):
            @functools.wraps(f)
            def fromutc(self, dt):
                if dt is None:
                    raise TypeError("dt")
                return f(self, dt)
            return fromutc

        class tz:
            @_validate
            def fromutc(self, dt):
                raise ValueError(dt)
    """
    m = sb.load(v1)
    wrapper = m.tz.fromutc
    v2 = "# pushed down\n" * 4 + dedent(v1)
    sb.update(m, v2)
    hotswap.reload(m)
    fresh = sb.load(v2, base="fresh")
    assert m.tz.fromutc is wrapper
    assert_as_fresh(wrapper.__wrapped__, fresh.tz.fromutc.__wrapped__)
    assert wrapper.__code__.co_firstlineno == \
        fresh.tz.fromutc.__code__.co_firstlineno
    with pytest.raises(ValueError) as info:
        m.tz().fromutc(1)
    assert _last_frame(info).lineno == line_of(v2, "raise ValueError")
    with pytest.raises(TypeError) as info:
        m.tz().fromutc(None)
    assert _last_frame(info).lineno == line_of(v2, 'raise TypeError("dt")')


def test_edited_decorated_definitions_start_at_first_decorator(sb):
    # Unchanged decorators are not run again; the edited definition still
    # gets the first line a fresh import gives it: its first decorator's.
    v1 = """
        import contextlib
        import functools

        def deco(f):
            @functools.wraps(f)
            def wrapper(*args):
                return f(*args)
            return wrapper

        @functools.lru_cache(maxsize=None)
        def cached(x):
            return x + 1

        @contextlib.contextmanager
        def managed():
            yield 1

        @deco
        @functools.lru_cache(maxsize=None)  # two of them
        def stacked(x):
            return x * 1

        def register(cls):
            return cls

        @register
        class K:
            def m(self):
                return 1
    """
    m = sb.load(v1)
    cached, managed, stacked, K = m.cached, m.managed, m.stacked, m.K
    assert cached(1) == 2
    v2 = (dedent(v1).replace("x + 1", "x + 2").replace("yield 1", "yield 2")
          .replace("x * 1", "x * 2").replace("return 1", "return 2"))
    sb.update(m, v2)
    report = hotswap.reload(m)
    assert report.ok and not report.rejected, str(report)
    assert (m.cached, m.managed, m.stacked, m.K) == (cached, managed,
                                                      stacked, K)
    fresh = sb.load(v2, base="fresh")
    assert_as_fresh(cached.__wrapped__, fresh.cached.__wrapped__)
    assert_as_fresh(managed.__wrapped__, fresh.managed.__wrapped__)
    assert_as_fresh(stacked.__wrapped__.__wrapped__,
                    fresh.stacked.__wrapped__.__wrapped__)
    assert inspect.getsource(cached).startswith("@functools.lru_cache")
    assert inspect.getsource(K) == inspect.getsource(fresh.K)
    assert vars(K).get("__firstlineno__") == \
        vars(fresh.K).get("__firstlineno__")
    with managed() as v:
        assert v == 2
    assert (cached(1), stacked(3), K().m()) == (3, 6, 2)
