"""The live demo (python -m hotswap demo) runs by itself, finishes, checks
itself, and fails when an expected effect does not happen."""
import os
import pathlib
import shutil
import subprocess
import sys

import hotswap
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
GAME = ROOT / "examples" / "gameserver"

pytestmark = pytest.mark.skipif(not hasattr(hotswap, "watch"),
                                reason="no watcher in this build")


def demo(*args, cwd=ROOT, timeout=90):
    return subprocess.run(
        [sys.executable, "-X", "dev", "-m", "hotswap", "demo", *args],
        cwd=cwd, capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL)


def test_demo_runs_and_checks_itself():
    p = demo("--fast")
    out = p.stdout
    assert p.returncode == 0, out + p.stderr
    for line in (
        "edit 1: damage.py",
        "hotswap: damage reloaded: 1 updated",
        "ok: hits now deal 25",
        "run the fixed move()",
        "hotswap: player reloaded",
        "hotswap: __main__ reloaded",
        "the running game loop calls the new method",
        "HS503",
        "the game kept running the old code",
        "ok: hits now deal 40",
        "--events recorded 6 reloads",
        "game server down after",
        "hotswap demo: OK",
    ):
        assert line in out, f"missing {line!r} in:\n{out}"
    assert "FAILED" not in out
    assert "Traceback" not in out.replace("SyntaxError", "")


def test_demo_finds_its_sources_from_a_checkout(tmp_path):
    # the README's command runs from the checkout's root
    p = demo("--fast", cwd=ROOT)
    assert p.returncode == 0, p.stdout + p.stderr
    # elsewhere, --source says where the game is
    p = demo("--fast", "--source", str(GAME), cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr


def test_demo_fails_when_an_effect_is_missing(tmp_path):
    # A game whose damage table is protected from rebinding: edit 1 is
    # applied as "kept" and hits keep dealing 10, so the demo must fail.
    src = tmp_path / "game"
    shutil.copytree(GAME, src)
    dmg = src / "damage.py"
    dmg.write_text('__hotswap_keep__ = ["DAMAGE"]\n' + dmg.read_text())
    p = demo("--fast", "--timeout", "6", "--source", str(src), cwd=tmp_path)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "hotswap demo: FAILED" in p.stdout
    assert "edit 1: damage.py" in p.stdout
    assert "ok: hits now deal 25" not in p.stdout
    assert "Warning" not in p.stderr
    assert "hotswap demo: OK" not in p.stdout
