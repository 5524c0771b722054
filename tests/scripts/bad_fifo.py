"""A named pipe in place of a module's source file: reload must not block
(nothing will ever be written to the pipe); it must fail with HS501 and
change nothing.  Run by test_bad_input.py with a timeout.

Usage: bad_fifo.py TMPDIR
"""
import importlib
import os
import sys

root = sys.argv[1]
sys.path.insert(0, root)
import hotswap  # noqa: E402

path = os.path.join(root, "hs_fifo_mod.py")
with open(path, "w") as fh:
    fh.write("def f():\n    return 'v1'\n")
importlib.invalidate_caches()
import hs_fifo_mod  # noqa: E402

f, code = hs_fifo_mod.f, hs_fifo_mod.f.__code__
os.remove(path)
os.mkfifo(path)
try:
    hotswap.reload(hs_fifo_mod)
except hotswap.ReloadError as err:
    codes = {e.code for e in err.report.entries if e.code}
    codes.add(getattr(err, "code", None))
    if "HS501" not in codes:
        sys.exit(f"wrong code: {codes}: {err}")
else:
    sys.exit("reload of a FIFO succeeded")
if hs_fifo_mod.f is not f or f.__code__ is not code or f() != "v1":
    sys.exit("module changed by a failed reload")
print("ok")
