"""Failed reloads: ReloadError, nothing changed, and the next reload retries.

Every scenario checks three things: the error (type, cause, code, location),
that the module and its objects are exactly as before, and that fixing the
file makes the next reload succeed.
"""
import os
import sys
import traceback
import types

import hotswap
import pytest
from hs_helpers import error_codes, line_of

V1 = """
    LIMIT = 10

    def f():
        return "v1"

    class C:
        def m(self):
            return "m1"
"""

FIXED = """
    LIMIT = 20

    def f():
        return "fixed"

    class C:
        def m(self):
            return "m-fixed"
"""


def _state(m):
    return {
        "f": m.f, "f_code": m.f.__code__, "C": m.C,
        "m_code": m.C.m.__code__, "LIMIT": m.LIMIT,
        "names": sorted(vars(m)),
    }


def _assert_unchanged(m, state):
    assert m.f is state["f"] and m.f.__code__ is state["f_code"]
    assert m.C is state["C"] and m.C.m.__code__ is state["m_code"]
    assert m.LIMIT == state["LIMIT"]
    assert sorted(vars(m)) == state["names"]
    assert m.f() == "v1" and m.C().m() == "m1"


def _assert_retry_works(sb, m):
    sb.update(m, FIXED)
    report = hotswap.reload(m)
    assert report.ok
    assert m.f() == "fixed" and m.C().m() == "m-fixed" and m.LIMIT == 20


def test_syntax_error(sb):
    m = sb.load(V1)
    state = _state(m)
    bad = """
        LIMIT = 20

        def f():
            result = = "v2"

        class C:
            def m(self):
                return "m2"
    """
    sb.update(m, bad)
    with pytest.raises(hotswap.ReloadError) as info:
        hotswap.reload(m)
    err = info.value
    assert isinstance(err.__cause__, SyntaxError)
    assert err.__cause__.filename == m.__file__
    # (`x = = y` is reported on its own line by every CPython 3.9-3.13.)
    assert err.__cause__.lineno == line_of(bad, 'result = =')
    assert err.module == m.__name__
    assert (err.filename, err.lineno) == (m.__file__,
                                          line_of(bad, 'result = ='))
    assert err.report.ok is False
    assert "HS503" in error_codes(err)
    _assert_unchanged(m, state)
    _assert_retry_works(sb, m)


def test_indentation_error(sb):
    m = sb.load(V1)
    state = _state(m)
    bad = """
        LIMIT = 20

        def f():
            x = 1
              return "v2"
    """
    sb.update(m, bad)
    with pytest.raises(hotswap.ReloadError) as info:
        hotswap.reload(m)
    assert isinstance(info.value.__cause__, IndentationError)
    assert info.value.__cause__.lineno == line_of(bad, 'return "v2"')
    assert "HS503" in error_codes(info.value)
    _assert_unchanged(m, state)
    _assert_retry_works(sb, m)


def test_exception_in_new_module_statement(sb):
    m = sb.load(V1)
    state = _state(m)
    bad = """
        LIMIT = 20

        def f():
            return "v2"

        RATIO = LIMIT / 0

        class C:
            def m(self):
                return "m2"
    """
    sb.update(m, bad)
    with pytest.raises(hotswap.ReloadError) as info:
        hotswap.reload(m)
    err = info.value
    assert isinstance(err.__cause__, ZeroDivisionError)
    frames = traceback.extract_tb(err.__cause__.__traceback__)
    assert (m.__file__, line_of(bad, "RATIO =")) in [
        (fr.filename, fr.lineno) for fr in frames]
    assert "HS504" in error_codes(err)
    _assert_unchanged(m, state)
    assert not hasattr(m, "RATIO")
    _assert_retry_works(sb, m)


def test_exception_in_class_body(sb):
    m = sb.load(V1)
    state = _state(m)
    bad = """
        LIMIT = 10

        def f():
            return "v1"

        class C:
            table = {}["missing"]

            def m(self):
                return "m2"
    """
    sb.update(m, bad)
    with pytest.raises(hotswap.ReloadError) as info:
        hotswap.reload(m)
    err = info.value
    assert isinstance(err.__cause__, KeyError)
    frames = traceback.extract_tb(err.__cause__.__traceback__)
    assert (m.__file__, line_of(bad, "table =")) in [
        (fr.filename, fr.lineno) for fr in frames]
    _assert_unchanged(m, state)
    assert not hasattr(m.C, "table")
    _assert_retry_works(sb, m)


def test_batch_all_or_nothing(sb):
    a = sb.load(V1, base="a")
    b = sb.load(V1, base="b")
    state_a, state_b = _state(a), _state(b)
    sb.update(a, FIXED)               # fine on its own
    sb.update(b, """
        LIMIT = 20

        def f():
            return "v2"

        BOOM = [][1]

        class C:
            def m(self):
                return "m2"
    """)
    with pytest.raises(hotswap.ReloadError) as info:
        hotswap.reload(a, b)
    assert info.value.module == b.__name__
    assert isinstance(info.value.__cause__, IndexError)
    _assert_unchanged(a, state_a)
    _assert_unchanged(b, state_b)
    sb.update(b, FIXED)
    report = hotswap.reload(a, b)
    assert report.ok
    assert (a.f(), b.f()) == ("fixed", "fixed")


def test_file_deleted(sb):
    m = sb.load(V1)
    state = _state(m)
    os.remove(m.__file__)
    with pytest.raises(hotswap.ReloadError) as info:
        hotswap.reload(m)
    assert "HS501" in error_codes(info.value)
    _assert_unchanged(m, state)
    _assert_retry_works(sb, m)


def test_file_unreadable(sb):
    m = sb.load(V1)
    state = _state(m)
    if os.geteuid() == 0:
        # root reads through chmod 000; a directory in place of the file is
        # just as unreadable.
        os.remove(m.__file__)
        os.mkdir(m.__file__)
    else:
        os.chmod(m.__file__, 0)
    with pytest.raises(hotswap.ReloadError) as info:
        hotswap.reload(m)
    assert "HS501" in error_codes(info.value)
    _assert_unchanged(m, state)
    if os.path.isdir(m.__file__):
        os.rmdir(m.__file__)
    else:
        os.chmod(m.__file__, 0o644)
    _assert_retry_works(sb, m)


def test_invalid_utf8(sb):
    m = sb.load(V1)
    state = _state(m)
    sb.write_bytes(m.__file__, b'def f():\n    return "\xff\xfe caf\xe9"\n')
    with pytest.raises(hotswap.ReloadError) as info:
        hotswap.reload(m)
    assert "HS502" in error_codes(info.value)
    _assert_unchanged(m, state)
    _assert_retry_works(sb, m)


def test_binary_garbage(sb):
    m = sb.load(V1)
    state = _state(m)
    sb.write_bytes(m.__file__, bytes(range(256)) * 4)
    with pytest.raises(hotswap.ReloadError) as info:
        hotswap.reload(m)
    assert "HS502" in error_codes(info.value)
    _assert_unchanged(m, state)
    _assert_retry_works(sb, m)


def test_nul_bytes(sb):
    m = sb.load(V1)
    state = _state(m)
    sb.write_bytes(m.__file__,
                   b'LIMIT = 20\n\ndef f():\n    return "v2"\x00\n')
    with pytest.raises(hotswap.ReloadError) as info:
        hotswap.reload(m)
    assert "HS502" in error_codes(info.value)
    _assert_unchanged(m, state)
    _assert_retry_works(sb, m)


def test_empty_file_refused(sb):
    m = sb.load(V1)
    state = _state(m)
    sb.write_bytes(m.__file__, b"")
    with pytest.raises(hotswap.ReloadError) as info:
        hotswap.reload(m)
    assert "HS506" in error_codes(info.value)
    _assert_unchanged(m, state)          # nothing deleted
    _assert_retry_works(sb, m)


def _extension_module():
    for name in ("_json", "math", "array", "_csv", "_struct"):
        mod = __import__(name)
        if getattr(mod, "__file__", "").endswith((".so", ".pyd")):
            return mod
    pytest.skip("no shared-library extension module in this build")


def test_c_extension_module_rejected(sb):
    ext = _extension_module()
    before = dict(vars(ext))
    with pytest.raises(hotswap.ReloadError) as info:
        hotswap.reload(ext)
    assert "HS505" in error_codes(info.value)
    assert dict(vars(ext)) == before


def test_builtin_module_rejected(sb):
    assert "sys" in sys.builtin_module_names
    with pytest.raises(hotswap.ReloadError) as info:
        hotswap.reload(sys)
    assert "HS505" in error_codes(info.value)
    with pytest.raises(hotswap.ReloadError):
        hotswap.reload("sys")


def test_module_without_file_rejected(sb):
    name = sb.name("synthetic")
    mod = types.ModuleType(name)
    exec("def f():\n    return 1\n", vars(mod))
    sys.modules[name] = mod
    f = mod.f
    with pytest.raises(hotswap.ReloadError) as info:
        hotswap.reload(mod)
    assert "HS505" in error_codes(info.value)
    assert mod.f is f and f() == 1
    assert sys.modules[name] is mod


def test_failure_inside_a_patched_import_leaves_sys_modules_clean(sb):
    # v2 imports a module that does not exist; the failed batch must not
    # leave a half-imported entry in sys.modules or a changed sys.path.
    m = sb.load(V1)
    state = _state(m)
    missing = sb.name("does_not_exist")
    ours_before = {n for n in sys.modules if n.startswith(sb.prefix)}
    path_before = list(sys.path)
    meta_before = list(sys.meta_path)
    sb.update(m, f"""
        import {missing}
        LIMIT = 20
    """)
    with pytest.raises(hotswap.ReloadError) as info:
        hotswap.reload(m)
    assert isinstance(info.value.__cause__, ImportError)
    # (Only our names: the engine may lazily import stdlib helpers.)
    assert {n for n in sys.modules if n.startswith(sb.prefix)} == ours_before
    assert missing not in sys.modules
    assert sys.path == path_before and sys.meta_path == meta_before
    _assert_unchanged(m, state)
    _assert_retry_works(sb, m)


def test_decorator_raising_during_stage(sb):
    m = sb.load(V1)
    state = _state(m)
    bad = """
        LIMIT = 20

        def broken(fn):
            raise LookupError("decorator failed")

        @broken
        def f():
            return "v2"

        class C:
            def m(self):
                return "m2"
    """
    sb.update(m, bad)
    with pytest.raises(hotswap.ReloadError) as info:
        hotswap.reload(m)
    assert isinstance(info.value.__cause__, LookupError)
    _assert_unchanged(m, state)
    assert not hasattr(m, "broken")
    _assert_retry_works(sb, m)


def test_system_exit_in_module_body_does_not_exit(sb):
    # ASSUMPTION: a new statement raising SystemExit fails the reload like
    # any other exception (a reloader must not terminate the process).
    m = sb.load(V1)
    state = _state(m)
    sb.update(m, """
        import sys
        sys.exit(3)
    """)
    with pytest.raises(hotswap.ReloadError) as info:
        hotswap.reload(m)
    assert isinstance(info.value.__cause__, SystemExit)
    _assert_unchanged(m, state)
    _assert_retry_works(sb, m)


def test_syntax_error_inside_method_reports_its_line(sb):
    m = sb.load(V1)
    state = _state(m)
    bad = """
        LIMIT = 10

        def f():
            return "v1"

        class C:
            def m(self):
                value = = [1, 2]
                return value

            def other(self):
                pass
    """
    sb.update(m, bad)
    with pytest.raises(hotswap.ReloadError) as info:
        hotswap.reload(m)
    cause = info.value.__cause__
    assert isinstance(cause, SyntaxError)
    assert cause.filename == m.__file__
    assert cause.lineno == line_of(bad, "value = =")
    _assert_unchanged(m, state)


def test_apply_failure_rolls_back_everything(sb):
    # The new source stages fine, but applying it fails part-way: the class's
    # metaclass refuses the new member.  Earlier patches of the same batch
    # (function f, the other module, data) must be rolled back (HS507).
    other = sb.load(V1, base="other")
    other_state = _state(other)
    m = sb.load("""
        LIMIT = 10

        def f():
            return "v1"

        class Guarded(type):
            def __setattr__(cls, name, value):
                if name == "forbidden":
                    raise PermissionError("no new members")
                super().__setattr__(name, value)

        class C(metaclass=Guarded):
            def m(self):
                return "m1"
    """)
    state = _state(m)
    sb.update(other, FIXED)
    sb.update(m, """
        LIMIT = 20

        def f():
            return "v2"

        class Guarded(type):
            def __setattr__(cls, name, value):
                if name == "forbidden":
                    raise PermissionError("no new members")
                super().__setattr__(name, value)

        class C(metaclass=Guarded):
            def m(self):
                return "m2"

            def forbidden(self):
                return "never"
    """)
    with pytest.raises(hotswap.ReloadError) as info:
        hotswap.reload(other, m)
    assert info.value.report.ok is False
    _assert_unchanged(m, state)
    _assert_unchanged(other, other_state)
    assert not hasattr(m.C, "forbidden")
