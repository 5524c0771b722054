"""1,000 reload cycles must not accumulate objects, references or memory.
Run in subprocesses (scripts/leak_cycles.py): a fresh interpreter measures
only what the reloads do."""
import pytest
from hs_helpers import run_script


@pytest.mark.slow
def test_objects_and_sentinel_refcount_flat(tmp_path):
    run_script("leak_cycles.py", "objects", tmp_path, timeout=600)


@pytest.mark.slow
def test_tracemalloc_growth_bounded(tmp_path):
    run_script("leak_cycles.py", "tracemalloc", tmp_path, timeout=600)
