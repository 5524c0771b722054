"""Real third-party code: the reduced form of the third-party swap suite
(scripts/thirdparty_swap.py, packages pinned in scripts/thirdparty_list.py).

CI runs thirdparty_list.REDUCED (three small packages whose sdists build
their metadata with the venv's setuptools: about 25 s per interpreter) on
every interpreter: each package's own pytest suite runs in-process before
and after three rounds of in-place reloads (shift, touch, revert), and every
function reachable from the package must match a fresh import.  The sdists
are downloaded from PyPI once into .venvs/cache/sdists (HOTSWAP_SDIST_CACHE
to put them elsewhere); HOTSWAP_THIRDPARTY=0 skips this file (no network).
tools/thirdparty_swap.sh (and tools/reliability.sh) run all the packages.

A package with known failures (thirdparty_list.KNOWN) passes as xfail only
while exactly its known causes are seen: a fix makes the test fail until the
list is updated.
"""
import json
import os
import subprocess
import sys

import pytest
from hs_helpers import SCRIPTS

sys.path.insert(0, SCRIPTS)
import swapcheck  # noqa: E402
import thirdparty_list  # noqa: E402

sys.path.remove(SCRIPTS)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("HOTSWAP_SDIST_CACHE",
                       os.path.join(ROOT, ".venvs", "cache"))


@pytest.fixture(scope="module")
def reduced_results(tmp_path_factory):
    if os.environ.get("HOTSWAP_THIRDPARTY") == "0":
        pytest.skip("HOTSWAP_THIRDPARTY=0: third-party swap suite skipped")
    work = tmp_path_factory.mktemp("thirdparty")
    out = work / "results.json"
    env = dict(os.environ)
    env.pop("PYTHONSTARTUP", None)
    proc = subprocess.run(
        [sys.executable, os.path.join(SCRIPTS, "thirdparty_swap.py"), "all",
         "--only", ",".join(thirdparty_list.REDUCED), "--cache", CACHE,
         "--work", str(work), "--json", str(out)],
        capture_output=True, text=True, timeout=900, env=env, cwd=str(work))
    assert out.exists(), (
        f"thirdparty_swap.py exited {proc.returncode}\n{proc.stdout[-4000:]}"
        f"\n{proc.stderr[-4000:]}")
    with open(out) as fh:
        return {r["package"]: r for r in json.load(fh)}, proc.stdout


@pytest.mark.parametrize("package", thirdparty_list.REDUCED)
def test_package_swapped_under_its_own_suite(reduced_results, package):
    results, log = reduced_results
    res = results[package]
    assert "crash" not in res, res["crash"]
    assert res["tests"] > 50 and res["held_functions"] > 20, res
    assert res["rounds"]["touch"]["functions_touched"] > 20, res
    for rnd in swapcheck.ROUNDS:
        assert res["rounds"][rnd]["functions_checked"] > 20, rnd
        assert res["rounds"][rnd]["tests"] >= res["tests"] - len(
            res["deselected"]), (rnd, res["rounds"][rnd])
    status, msgs = swapcheck.judge(res, thirdparty_list.known(package))
    res["status"] = status
    detail = "\n".join([swapcheck.result_line(package, res), *msgs] + [
        f"  {rnd}: {line}" for rnd, r in res["rounds"].items()
        for line in swapcheck.summarize(r["divergences"], 8)])
    assert status != "FAIL", detail
    if status == "known":
        pytest.xfail("known: " + detail)
