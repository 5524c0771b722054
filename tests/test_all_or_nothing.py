"""Issue 10 point 7: a class edit that cannot be applied in place (HS201-HS205)
fails the whole batch with ReloadError and changes nothing; partial=True (and
``python -m hotswap run --partial``, ``watch(partial=True)``) applies the rest
and reports it."""
import enum
import os
import subprocess
import sys
import textwrap
import types

import hotswap
import pytest
from hs_helpers import dedent, line_of, rejected_codes

# v1/v2 of the class that cannot change in place, with the line marker the
# error must name (None: the class line).  {v} is the edited method's value.
CASES = {
    "HS203-slots": ("""
        class C:
            __slots__ = BASE

            def __init__(self):
                self.x = 1

            def m(self):
                return {v}
    """, '("x",)', '("x", "y")', "__slots__"),
    "HS201-bases": ("""
        class A:
            __slots__ = ("a",)

        class B:
            __slots__ = ("b", "c")

        class C(BASE):
            __slots__ = ()

            def m(self):
                return {v}
    """, "A", "B", None),
    "HS202-metaclass": ("""
        class Meta(type):
            pass

        class C(BASE):
            def m(self):
                return {v}
    """, "object", "metaclass=Meta", None),
    "HS202-keyword": ("""
        class Base:
            def __init_subclass__(cls, flag=0, **kw):
                super().__init_subclass__(**kw)
                cls.flag = flag

        class C(Base, BASE):
            def m(self):
                return {v}
    """, "flag=1", "flag=2", None),
    "HS204-namedtuple": ("""
        from typing import NamedTuple

        class C(NamedTuple):
            x: int = 1
            BASE

            def m(self):
                return {v}
    """, "", "y: int = 0", None),
    "HS205-revalued": ("""
        import enum

        class C(enum.Enum):
            LOW = 1
            HIGH = BASE

            def m(self):
                return {v}
    """, "2", "3", None),
    "HS205-removed": ("""
        import enum

        class C(enum.Enum):
            LOW = 1
            BASE

            def m(self):
                return {v}
    """, "HIGH = 2", "", None),
}
if sys.version_info >= (3, 10):
    CASES["HS204-slots-dataclass"] = ("""
        from dataclasses import dataclass

        @dataclass(slots=True)
        class C:
            x: int = 1
            BASE

            def m(self):
                return {v}
    """, "", "y: int = 0", None)

# the rest of the module: a function, data, a class with a method, all
# edited in the same save
REST = """
LIMIT = {v}
TABLE = {{"k": {v}}}


def f(a=LIMIT):
    return ("f", {v}, a)


class D:
    kind = {v}

    def g(self):
        return ("g", {v})
"""


def source(case, header, v):
    body, _, _, _ = CASES[case]
    return dedent(body).replace("BASE", header).format(v=v) \
        + dedent(REST).format(v=v)


def _fn_state(fn):
    return (fn.__code__, fn.__defaults__, fn.__kwdefaults__,
            fn.__closure__, dict(vars(fn)))


def _value_state(v):
    if isinstance(v, types.FunctionType):
        return ("function", id(v), _fn_state(v))
    if isinstance(v, (classmethod, staticmethod)):
        return ("wrapped", id(v), _fn_state(v.__func__))
    return ("value", id(v))


def state(m, *held):
    """Everything a reload could change, by identity and code."""
    mod = {k: _value_state(v) for k, v in vars(m).items()}
    classes = {}
    for k, v in vars(m).items():
        if isinstance(v, type) and v.__module__ == m.__name__:
            classes[k] = (
                type(v), v.__bases__, v.__mro__,
                {a: _value_state(x) for a, x in vars(v).items()},
                list(v) if isinstance(v, enum.EnumMeta) else None,
                getattr(v, "__dataclass_fields__", None) and
                dict(v.__dataclass_fields__),
            )
    objs = []
    for h in held:
        if isinstance(h, types.FunctionType):
            objs.append(_fn_state(h))
        elif isinstance(h, types.MethodType):
            objs.append((id(h.__self__), _fn_state(h.__func__)))
        elif isinstance(h, tuple):
            objs.append((type(h), tuple(h)))
        elif hasattr(h, "__dict__") and not isinstance(h, enum.Enum):
            objs.append((type(h), dict(vars(h))))
        else:
            objs.append((type(h), id(h)))
    return mod, classes, objs, dict(m.TABLE), m.LIMIT


@pytest.mark.parametrize("case", sorted(CASES))
def test_class_edit_fails_the_batch_and_changes_nothing(sb, case):
    _, old_h, new_h, marker = CASES[case]
    v1 = source(case, old_h, 1)
    m = sb.load(v1)
    f = m.f
    d = m.D()
    g = d.g
    C = m.C
    c = next(iter(C)) if isinstance(C, enum.EnumMeta) else C()
    before = state(m, f, d, g, c)
    v2 = source(case, new_h, 2)
    sb.update(m, v2)
    code = case.split("-")[0]
    with pytest.raises(hotswap.ReloadError) as err:
        hotswap.reload(m)
    e = err.value
    assert e.code == code, str(e)
    assert e.module == m.__name__ and e.filename == m.__file__
    line = line_of(v2, marker) if marker else line_of(v2, "class C")
    assert e.lineno == line, str(e)
    assert f"{m.__file__}:{line}" in str(e) and code in str(e)
    assert e.report is not None and not e.report.ok
    # nothing changed: module dict, class dicts, instances, held functions
    assert state(m, f, d, g, c) == before
    assert f() == ("f", 1, 1) and g() == ("g", 1) and c.m() == 1
    assert m.C is C and m.LIMIT == 1 and m.TABLE == {"k": 1}

    # the same save again: still refused (the snapshot was not advanced)
    with pytest.raises(hotswap.ReloadError):
        hotswap.reload(m)
    assert state(m, f, d, g, c) == before

    # partial=True: the rest applies, the class edit is reported
    report = hotswap.reload(m, partial=True)
    assert report.ok
    assert code in rejected_codes(report), str(report)
    assert f() == ("f", 2, 2) and g() == ("g", 2) and c.m() == 2
    assert m.LIMIT == 2 and m.TABLE == {"k": 2} and m.C is C


def test_a_refused_module_refuses_the_whole_batch(sb):
    good = sb.load("""
        def h():
            return 1
    """, base="good")
    bad = sb.load("""
        class P:
            __slots__ = ("x",)

            def m(self):
                return 1
    """, base="bad")
    h = good.h
    p = bad.P()
    sb.update(good, """
        def h():
            return 2
    """)
    sb.update(bad, """
        class P:
            __slots__ = ("x", "y")

            def m(self):
                return 2
    """)
    with pytest.raises(hotswap.ReloadError) as err:
        hotswap.reload(good, bad)
    assert err.value.code == "HS203" and err.value.module == bad.__name__
    assert h() == 1 and p.m() == 1            # neither module changed
    report = hotswap.reload(good, bad, partial=True)
    assert h() == 2 and p.m() == 2
    assert rejected_codes(report) == {"HS203"}


def test_rebuild_layout_keeps_its_meaning(sb):
    src = """
        class P:
            __slots__ = {slots}

            def m(self):
                return {v}
    """
    m = sb.load(src.format(slots='("x",)', v=1))
    Old = m.P
    sb.update(m, src.format(slots='("x", "y")', v=2))
    # the opt-in rebuild applies: no refusal, a new class
    report = hotswap.reload(m, rebuild_layout=True)
    assert [e.action for e in report.entries if e.code == "HS203"] \
        == ["replaced"]
    assert m.P is not Old and m.P().m() == 2


def test_added_enum_member_still_applies(sb):
    src = """
        import enum

        class Level(enum.Enum):
            LOW = 1
            {extra}
    """
    m = sb.load(src.format(extra=""))
    sb.update(m, src.format(extra="HIGH = 2"))
    report = hotswap.reload(m)             # an added member is applicable
    assert report.ok and not report.rejected
    assert m.Level.HIGH.value == 2


def test_cli_partial_flag_is_parsed():
    import hotswap.cli as cli
    ours, mod, prog = cli._split_run_args(["--partial", "app.py", "-x"])
    assert ours == ["--partial"] and mod is None and prog == ["app.py", "-x"]
    opts = cli._run_parser().parse_args(ours)
    assert opts.partial is True
    assert cli._run_parser().parse_args([]).partial is False


WATCHED = r"""
import os, sys, time
sys.path.insert(0, sys.argv[1])
import hotswap
import wmod
p = wmod.P()
hotswap.watch(sys.argv[1], mode="queued", backend="poll", poll_interval=0.05,
              debounce=0, partial=sys.argv[2] == "1")
time.sleep(0.2)
with open(wmod.__file__, "w") as fh:
    fh.write('class P:\n    __slots__ = ("x", "y")\n\n'
             '    def m(self):\n        return 2\n')
st = os.stat(wmod.__file__)
os.utime(wmod.__file__, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
report = None
deadline = time.time() + 20
while report is None and time.time() < deadline:
    time.sleep(0.05)
    report = hotswap.poll()
print("ok" if report.ok else "failed", p.m(),
      sorted({e.code for e in report.rejected}) if report.ok
      else report.error.code)
hotswap.unwatch()
"""


@pytest.mark.parametrize("partial", [False, True])
def test_watcher_is_all_or_nothing_unless_partial(tmp_path, partial):
    (tmp_path / "wmod.py").write_text(
        'class P:\n    __slots__ = ("x",)\n\n'
        '    def m(self):\n        return 1\n')
    r = subprocess.run(
        [sys.executable, "-c", WATCHED, str(tmp_path), str(int(partial))],
        capture_output=True, text=True, timeout=120,
        env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    assert r.returncode == 0, r.stderr
    last = r.stdout.strip().splitlines()[-1]
    if partial:
        assert last == "ok 2 ['HS203']", r.stdout + r.stderr
    else:
        assert last == "failed 1 HS203", r.stdout + r.stderr
        assert "HS203" in r.stderr           # the error is shown
