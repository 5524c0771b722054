"""A module imported before `import hotswap` has no snapshot.

Per the API: functions and classes are compared with the live code, data
statements are treated as unedited, and the report carries HS002.
Usage: no_snapshot.py TMPDIR
"""
import os
import sys

root = sys.argv[1]
sys.path.insert(0, root)
path = os.path.join(root, "nosnap_mod.py")
with open(path, "w") as fh:
    fh.write("LIMIT = 1\n\ndef f():\n    return 'v1'\n\n"
             "class C:\n    def m(self):\n        return 'm1'\n")

import nosnap_mod  # noqa: E402  (deliberately before hotswap)

f = nosnap_mod.f
c = nosnap_mod.C()
with open(path, "w") as fh:
    fh.write("LIMIT = 2\n\ndef f():\n    return 'v2'\n\n"
             "class C:\n    def m(self):\n        return 'm2'\n")

import hotswap  # noqa: E402

report = hotswap.reload(nosnap_mod)
failures = []
if f() != "v2":
    failures.append(f"function not updated: {f()!r}")
if c.m() != "m2":
    failures.append(f"method not updated: {c.m()!r}")
if nosnap_mod.LIMIT != 1:
    failures.append(f"data statement re-run: LIMIT={nosnap_mod.LIMIT!r}")
if "HS002" not in {e.code for e in report.entries}:
    failures.append("no HS002 entry in report:\n" + str(report))
if failures:
    print("\n".join(failures))
    sys.exit(1)
