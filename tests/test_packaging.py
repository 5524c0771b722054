"""Packaging: what a user gets from pip.  The sdist is built from the work
tree, the wheel from the unpacked sdist (as `python -m build` does), and the
installed wheel, outside the work tree, reloads a module in place."""
import glob
import os
import subprocess
import sys
import tarfile
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytest.importorskip("build")


@pytest.mark.slow
def test_sdist_then_wheel_installs_and_reloads(tmp_path):
    dist = tmp_path / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir",
         str(dist), ROOT],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "PIP_NO_INPUT": "1"})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    sdists = glob.glob(str(dist / "hotswap-*.tar.gz"))
    wheels = glob.glob(str(dist / "hotswap-*.whl"))
    assert len(sdists) == 1 and len(wheels) == 1, os.listdir(dist)

    with tarfile.open(sdists[0]) as tar:
        names = tar.getnames()
    top = names[0].split("/")[0]
    for need in ("LICENSE", "csrc/compat.h", "csrc/module.c", "setup.py",
                 "src/hotswap/_core.pyi", "src/hotswap/py.typed"):
        assert f"{top}/{need}" in names, need

    site = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index",
         "--target", str(site), wheels[0]],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]

    meta = glob.glob(str(site / "hotswap-*.dist-info" / "METADATA"))[0]
    with open(meta, encoding="utf-8") as fh:
        text = fh.read()
    minor = f"Programming Language :: Python :: 3.{sys.version_info[1]}"
    assert minor in text and "License :: OSI Approved :: MIT" in text
    assert glob.glob(str(site / "hotswap-*.dist-info" / "**" / "LICENSE*"),
                     recursive=True)

    work = tmp_path / "work"
    work.mkdir()
    (work / "m.py").write_text("def f():\n    return 1\n")
    script = textwrap.dedent("""
        import os, sys, time
        import hotswap
        assert hotswap.__file__.startswith(sys.argv[1]), hotswap.__file__
        import m
        f = m.f
        time.sleep(0.01)
        with open("m.py", "w") as fh:
            fh.write("def f():\\n    return 2\\n")
        hotswap.reload(m)
        assert f() == 2
        print("ok")
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), "."])}
    proc = subprocess.run([sys.executable, "-c", script, str(site)],
                          cwd=work, capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", (
        proc.stdout + proc.stderr)
