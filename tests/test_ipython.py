"""The IPython extension: edited modules are reloaded in place before each
cell.  A real InteractiveShell runs in a subprocess (its singleton and
history must not leak into the suite)."""
import json
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("IPython")

SESSION = r'''
import json, os, pathlib, sys, time
import hotswap
from IPython.core.interactiveshell import InteractiveShell

work = pathlib.Path(sys.argv[1])
os.chdir(work)
sys.path.insert(0, str(work))
(work / "game.py").write_text(
    "SPEED = 1\n"
    "class Player:\n"
    "    def __init__(self):\n"
    "        self.hp = 10\n"
    "    def hit(self):\n"
    "        self.hp -= 1\n"
    "        return 'v1'\n")

shell = InteractiveShell.instance()
out = {}

def cell(src):
    r = shell.run_cell(src, store_history=True)
    if r.error_before_exec or r.error_in_exec:
        raise SystemExit(f"cell failed: {src!r}: {r.error_before_exec!r} "
                         f"{r.error_in_exec!r}")
    return r.result

def save(name, text):
    tmp = work / (name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, work / name)

cell(sys.argv[2])
cell("import game\np = game.Player()\ncb = p.hit\nfrom game import Player")
out["v1"] = cell("cb()")
src = (work / "game.py").read_text()
save("game.py", src.replace("'v1'", "'v2'").replace("SPEED = 1", "SPEED = 2"))
out["v2"] = cell("cb()")
out["hp"] = cell("p.hp")
out["speed"] = cell("game.SPEED")
out["same_class"] = cell("type(p) is Player is game.Player")

# a broken edit: the cell still runs, on the old code
save("game.py", src.replace("'v1'", "'v3'") + "def broken(:\n")
out["broken"] = cell("cb()")
cell("%hotswap")
# fixed
save("game.py", src.replace("'v1'", "'v4'"))
out["fixed"] = cell("cb()")

# a package outside the working directory, imported by a cell
lib = work.parent / (work.name + "_lib")
(lib / "extlib").mkdir(parents=True)
(lib / "extlib" / "__init__.py").write_text("def f():\n    return 'e1'\n")
sys.path.insert(0, str(lib))
cell("import extlib\nf = extlib.f")
out["tracked_ext"] = "extlib" in hotswap.tracked()
save_dir = lib / "extlib"
(save_dir / "__init__.py").write_text("def f():\n    return 'e2'\n")
out["ext"] = cell("f()")

cell("%hotswap off")
save("game.py", src.replace("'v1'", "'v5'"))
out["off"] = cell("cb()")
cell("%hotswap on")
out["on"] = cell("cb()")
cell("%unload_ext " + sys.argv[2].split()[-1])
save("game.py", src.replace("'v1'", "'v6'"))
out["unloaded"] = cell("cb()")
print("RESULT " + json.dumps(out))
'''


def run_session(tmp_path, load="%load_ext hotswap.ipython"):
    work = tmp_path / "nb"
    work.mkdir()
    script = tmp_path / "session.py"
    script.write_text(SESSION)
    proc = subprocess.run(
        [sys.executable, str(script), str(work), load],
        capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = next(l for l in proc.stdout.splitlines()
                if l.startswith("RESULT "))
    return json.loads(line[len("RESULT "):]), proc


def test_cells_see_edits_through_objects_from_earlier_cells(tmp_path):
    out, proc = run_session(tmp_path)
    assert out["v1"] == "v1"
    assert out["v2"] == "v2"          # bound method from an earlier cell
    assert out["hp"] == 8             # instance state kept
    assert out["speed"] == 2          # edited data rebound
    assert out["same_class"] is True  # the class object was kept
    assert out["broken"] == "v2"      # broken edit: old code still runs
    assert out["fixed"] == "v4"
    assert out["tracked_ext"] is True
    assert out["ext"] == "e2"
    assert out["off"] == "v4" and out["on"] == "v5"
    assert out["unloaded"] == "v5"
    # the error is brief: its message, not a traceback
    err = proc.stderr
    assert "HS503" in err and "game.py:8" in err
    assert "Traceback" not in err
    assert "hotswap: game reloaded" in err
    # %hotswap shows the last (failed) reload
    assert "last reload failed" in proc.stdout


def test_load_ext_hotswap(tmp_path):
    import hotswap
    if not hasattr(hotswap, "load_ipython_extension"):
        pytest.skip("hotswap/__init__.py does not export "
                    "load_ipython_extension yet")
    out, _ = run_session(tmp_path, load="%load_ext hotswap")
    assert out["v2"] == "v2" and out["unloaded"] == "v5"
