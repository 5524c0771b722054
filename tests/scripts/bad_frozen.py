"""Reloading a frozen module must fail with HS505 and change nothing.  In a
subprocess: if the engine accepted it, it would patch the running import
system (importlib._bootstrap) with code compiled from the .py file.

Usage: bad_frozen.py MODULE_NAME     (exit 0: ok, 3: module not frozen)
"""
import importlib
import sys

import hotswap

name = sys.argv[1]
mod = sys.modules.get(name) or importlib.import_module(name)
if getattr(mod.__spec__, "origin", None) != "frozen":
    print(f"{name} is not frozen on this build")
    sys.exit(3)
before = dict(vars(mod))
codes = {k: getattr(v, "__code__", None) for k, v in before.items()}
failures = []
for target in (mod, name):
    try:
        report = hotswap.reload(target)
    except hotswap.ReloadError as err:
        got = {e.code for e in err.report.entries if e.code}
        got.add(getattr(err, "code", None))
        if "HS505" not in got:
            failures.append(f"reload({target!r}): wrong codes {got}: {err}")
    else:
        failures.append(f"reload({target!r}) was accepted: changed="
                        f"{report.changed}: {report}")
        break
after = dict(vars(mod))
if after.keys() != before.keys() or any(after[k] is not before[k]
                                        for k in before):
    failures.append("module dict changed")
if any(getattr(after.get(k), "__code__", None) is not c
       for k, c in codes.items()):
    failures.append("function code swapped")
if failures:
    sys.exit("\n".join(failures))
print("ok")
