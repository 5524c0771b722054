"""What CPython 3.14 and 3.15 changed that touches a reloader: deferred
annotations (PEP 649/749), template strings (PEP 750), explicit lazy
imports (PEP 810, 3.15), sys.remote_exec (PEP 768), the JIT; and, on every
version, the heap walk after the collector has moved objects on (3.14's
incremental collector)."""
import gc
import importlib.util
import os
import subprocess
import sys
import textwrap
import time

import pytest

import hotswap
from hs_helpers import one

py314 = pytest.mark.skipif(sys.version_info < (3, 14),
                           reason="3.14+: deferred annotations, t-strings")
py315 = pytest.mark.skipif(sys.version_info < (3, 15),
                           reason="3.15+: lazy imports")


def fresh(module):
    """A fresh import of the module's current source under another name."""
    name = module.__name__ + "_fresh"
    spec = importlib.util.spec_from_file_location(name, module.__file__)
    m = importlib.util.module_from_spec(spec)
    sys.modules[name] = m  # dataclasses looks its module up
    try:
        spec.loader.exec_module(m)
    finally:
        del sys.modules[name]
    return m


def strings(obj):
    """Annotations as source text, evaluating nothing (get_annotations in
    STRING format calls a class's __annotate__ for real values first)."""
    import annotationlib
    return annotationlib.call_annotate_function(
        obj.__annotate__, annotationlib.Format.STRING)


# -- deferred annotations -------------------------------------------------

@py314
def test_function_annotations_follow_source_without_evaluation(sb):
    src = """
        def f(x: $a) -> int:
            return $r
    """
    m = sb.load(src, a="Later", r="1")
    f = m.f
    # a forward reference that nothing has defined: a fresh import does not
    # evaluate it, and neither may the reload
    sb.update(m, src, a="Later2", r="2")
    hotswap.reload(m)
    assert f(0) == 2
    assert strings(f) == strings(fresh(m).f) == {"x": "Later2",
                                                 "return": "int"}
    with pytest.raises(NameError):
        f.__annotations__
    m.Later2 = str
    assert f.__annotations__ == {"x": str, "return": int}


@py314
def test_class_annotations_not_evaluated_by_reload(sb):
    src = """
        CALLS = []

        def note(tag):
            CALLS.append(tag)
            return int

        class C:
            a: note("a")
            $extra
            def m(self):
                return $r
    """
    m = sb.load(src, extra="", r="1")
    c = m.C()
    assert m.CALLS == []
    assert m.C.__annotations__ == {"a": int}  # cached now
    assert m.CALLS == ["a"]
    sb.update(m, src, extra='b: note("b")', r="2")
    hotswap.reload(m)
    assert m.CALLS == ["a"], "the reload evaluated annotations"
    assert c.m() == 2
    assert m.C.__annotations__ == {"a": int, "b": int}
    assert m.CALLS == ["a", "a", "b"]
    assert fresh(m).C.__annotations__ == m.C.__annotations__


@py314
def test_class_annotations_removed(sb):
    src = """
        class C:
            $body
            def m(self):
                return 1
    """
    m = sb.load(src, body="a: int")
    assert m.C.__annotations__ == {"a": int}
    sb.update(m, src, body="")
    hotswap.reload(m)
    assert m.C.__annotations__ == fresh(m).C.__annotations__ == {}


@py314
def test_module_annotations_follow_source(sb):
    src = """
        $ann
        def f():
            return 1
    """
    m = sb.load(src, ann="x: int = 1")
    assert m.__annotations__ == {"x": int}
    sb.update(m, src, ann="x: str = 1\ny: float = 2")
    hotswap.reload(m)
    assert m.__annotations__ == fresh(m).__annotations__ == {
        "x": str, "y": float}


@py314
def test_class_annotation_reads_class_level_name(sb):
    # __annotate__ reads class-level names through the __classdict__ cell
    src = """
        class C:
            Alias = int
            x: Alias
            $more
    """
    m = sb.load(src, more="")
    sb.update(m, src, more="y: Alias")
    hotswap.reload(m)
    assert m.C.__annotations__ == {"x": int, "y": int}


@py314
def test_dataclass_forward_ref_field_added(sb):
    src = """
        from dataclasses import dataclass, fields

        @dataclass
        class P:
            x: int
            $more

        class Later:
            pass
    """
    m = sb.load(src, more="")
    p = m.P(1)
    sb.update(m, src, more='y: "Later" = None\n    z: Later = None')
    hotswap.reload(m)
    assert [f.name for f in m.fields(m.P)] == ["x", "y", "z"]
    assert m.P(1, 2, 3).z == 3
    assert p.y is None and p.z is None
    assert repr(m.P(1)) == repr(fresh(m).P(1)).replace("_fresh", "")


@py314
def test_annotations_rolled_back_with_the_batch(sb):
    src = """
        def f(x: $a):
            return 1
        $tail
    """
    m = sb.load(src, a="int", tail="")
    f = m.f
    before = f.__annotate__
    sb.update(m, src, a="str", tail="raise RuntimeError('broken')")
    with pytest.raises(hotswap.ReloadError):
        hotswap.reload(m)
    assert f.__annotate__ is before
    assert f.__annotations__ == {"x": int}


# -- template strings -----------------------------------------------------

@py314
def test_template_strings(sb):
    src = '''
        GREETING = t"""hello {"$word"} # not a comment
        def not_a_def(): pass"""

        def render(name):
            tpl = t"<{name}>$tail"
            return [s for s in tpl.strings], [i.value for i in tpl.interpolations]
    '''
    m = sb.load(src, word="a", tail="")
    greeting = m.GREETING
    render = m.render
    sb.update(m, src, word="a", tail="!")
    report = hotswap.reload(m)
    assert render("x") == (["<", ">!"], ["x"]) == fresh(m).render("x")
    assert m.GREETING is greeting  # not edited: kept
    assert one(report, "render").action == "updated"
    sb.update(m, src, word="b", tail="!")
    hotswap.reload(m)
    assert m.GREETING.interpolations[0].value == "b"


# -- explicit lazy imports (PEP 810) --------------------------------------

@py315
def test_lazy_import_not_edited_stays_lazy(sb):
    src = """
        lazy import $mod as codec

        def dump(v):
            return $r
    """
    assert "plistlib" not in sys.modules
    m = sb.load(src, mod="plistlib", r="1")
    assert type(m.__dict__["codec"]).__name__ == "lazy_import"
    sb.update(m, src, mod="plistlib", r="2")
    hotswap.reload(m)
    assert m.dump(0) == 2
    assert "plistlib" not in sys.modules, "the reload forced the import"
    assert type(m.__dict__["codec"]).__name__ == "lazy_import"


@py315
def test_lazy_import_edited_rerun_and_stays_lazy(sb):
    src = """
        lazy import $mod as codec

        def name():
            return codec.__name__
    """
    for mod in ("tomllib", "netrc"):
        sys.modules.pop(mod, None)
    m = sb.load(src, mod="tomllib")
    sb.update(m, src, mod="netrc")
    hotswap.reload(m)
    assert type(m.__dict__["codec"]).__name__ == "lazy_import"
    assert "netrc" not in sys.modules
    assert m.name() == "netrc" == fresh(m).name()


# -- the heap walk after the collector moved objects on --------------------

def test_closures_found_after_full_collections(sb):
    src = """
        def make(n):
            def inner():
                return n * $k
            return inner
    """
    m = sb.load(src, k="1")
    made = [m.make(i) for i in range(50)]
    for _ in range(3):
        gc.collect()  # every closure is in the oldest generation now
    junk = [[object() for _ in range(100)] for _ in range(200)]
    sb.update(m, src, k="10")
    hotswap.reload(m)
    assert [c() for c in made[:5]] == [0, 10, 20, 30, 40]
    del junk


def test_staged_code_that_collects_still_rebased(sb):
    src = """
        import gc

        def f():
            return $r
        _ = gc.collect()
    """
    m = sb.load(src, r="1")
    sb.update(m, src, r="2")
    hotswap.reload(m)
    assert m.f() == 2 and m.f.__globals__ is m.__dict__


# -- sys.remote_exec (PEP 768) ----------------------------------------------

@pytest.mark.skipif(not hasattr(sys, "remote_exec"),
                    reason="3.14+: sys.remote_exec")
def test_remote_exec_reloads_a_running_process(tmp_path):
    mod = tmp_path / "rmod.py"
    mod.write_text("def f():\n    return 1\n")
    ready = tmp_path / "ready"
    child_src = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(tmp_path)!r})
        import hotswap
        hotswap.track({str(tmp_path)!r})
        import rmod
        f = rmod.f
        open({str(ready)!r}, "w").close()
        deadline = time.monotonic() + 30
        while f() == 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        print("saw", f())
    """)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(hotswap.__file__))
    child = subprocess.Popen([sys.executable, "-c", child_src], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ready.exists(), child.stderr.read()
        time.sleep(0.02)
        mod.write_text("def f():\n    return 2\n")
        script = tmp_path / "do_reload.py"
        script.write_text("import hotswap\nprint(hotswap.reload())\n")
        try:
            sys.remote_exec(child.pid, str(script))
        except (PermissionError, RuntimeError, OSError) as e:
            pytest.skip(f"this machine does not allow attaching: {e}")
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert out.strip().splitlines()[-1] == "saw 2", out + err


# -- the JIT -----------------------------------------------------------------

@pytest.mark.skipif(not (hasattr(sys, "_jit") and sys._jit.is_available()),
                    reason="no JIT in this build")
def test_reload_under_the_jit(tmp_path):
    (tmp_path / "jm.py").write_text(
        "def hot(n):\n    t = 0\n    for i in range(n):\n"
        "        t += i\n    return t\n")
    src = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(tmp_path)!r})
        import hotswap, jm
        hot = jm.hot
        for _ in range(2000):
            hot(100)
        assert sys._jit.is_enabled()
        time.sleep(0.01)
        with open(jm.__file__, "w") as fh:
            fh.write("def hot(n):\\n    t = 0\\n    for i in range(n):\\n"
                     "        t += 2 * i\\n    return t\\n")
        hotswap.reload(jm)
        for _ in range(2000):
            assert hot(100) == 9900
        print("ok")
    """)
    env = dict(os.environ, PYTHON_JIT="1")
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(hotswap.__file__))
    proc = subprocess.run([sys.executable, "-c", src], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", (
        proc.stdout + proc.stderr)


@pytest.mark.skipif(sys.version_info < (3, 12),
                    reason="isolated subinterpreters are 3.12+")
def test_subinterpreter_import_refused(tmp_path):
    """hotswap keeps process-wide state (one watcher thread, the pending
    call to the main thread): the core declares Py_mod_multiple_interpreters
    NOT_SUPPORTED (and Py_mod_gil USED on 3.13+), so a subinterpreter gets a
    clear ImportError instead of a second, broken copy.  Run in a child:
    the main interpreter here has the core loaded already."""
    script = textwrap.dedent("""
        import os
        try:
            import _interpreters as interpreters
        except ImportError:
            import _xxsubinterpreters as interpreters
        r, w = os.pipe()
        interp = interpreters.create()
        interpreters.run_string(interp, f'''
        import os
        try:
            import hotswap._core
            msg = "imported"
        except ImportError as exc:
            msg = "ImportError: " + str(exc)
        os.write({w}, msg.encode())
        ''')
        interpreters.destroy(interp)
        print(os.read(r, 1000).decode())
        import hotswap._core  # the main interpreter still may
        print("main ok")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "ImportError: module hotswap._core does not support loading in "
        "subinterpreters", "main ok"], proc.stdout
