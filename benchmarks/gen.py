"""Deterministic generator of synthetic packages for the hotswap benchmarks.

A package ``<name>`` made by :func:`write_package` has two modules:

``<name>/core.py``
    ``n`` functions in ``n // 10`` groups.  Group ``g`` holds ten functions:

    * three plain functions ``f_g_0(x)``, ``f_g_1(x)`` (reads the module
      constant ``K_g``) and ``f_g_2(x, y=2)``;
    * a decorated function ``d_g`` (``@deco``, a ``functools.wraps`` wrapper);
    * a closure factory ``make_g(n)`` whose inner function is bound at
      import time as ``adder_g = make_g(g)``;
    * a class ``C_g`` with an instance method, a classmethod, a staticmethod
      and a property;

    plus module data (``K_g``, a dict ``DATA_g``).  The shared decorator
    ``deco`` adds two functions to the total.

``<name>/user.py``
    A second module that holds ``from .core import ...`` references to the
    functions, closures and classes of every group, an instance and a bound
    method of the middle class, and call loops used for the call-speed
    measurement.  After ``importlib.reload(core)`` these references are
    stale; an in-place reloader must make them run the new code.

Edits (the keyword arguments of :func:`core_source`) change the *middle*
group ``mid = groups // 2`` unless noted:

* ``target=v``      body of ``f_mid_0`` returns ``x + v`` (one function body)
* ``body=v``        every generated function body uses ``v`` (all functions)
* ``methods=k``     ``C_mid`` gains methods ``added_1 .. added_k``
* ``const=v``       ``K_mid = mid + 1000 * v`` (one constant)
* ``broken=v``      ``f_mid_0`` gets a syntax error (text varies with ``v``)

The output depends only on the arguments (no timestamps, no randomness), so
every contender reloads byte-identical files.
"""
from __future__ import annotations

import os
import shutil
import sys

GROUP = 10  # functions per group


def groups_for(n: int) -> int:
    if n < GROUP or n % GROUP:
        raise ValueError(f"size must be a positive multiple of {GROUP}: {n}")
    return n // GROUP


def mid_group(n: int) -> int:
    return groups_for(n) // 2


def core_source(n: int, *, body: int = 0, target: int | None = None,
                methods: int = 0, const: int | None = None,
                broken: int | None = None) -> str:
    """Source text of ``core.py`` for ``n`` functions with the given edit."""
    groups = groups_for(n)
    mid = groups // 2
    out = [
        f'"""Synthetic module: {n} functions in {groups} groups '
        '(benchmarks/gen.py)."""\n',
        "import functools\n\n\n",
        "def deco(fn):\n",
        "    @functools.wraps(fn)\n",
        "    def wrapper(*args, **kwargs):\n",
        "        return fn(*args, **kwargs)\n",
        "    return wrapper\n\n\n",
    ]
    v = body
    for g in range(groups):
        k = g
        if g == mid and const is not None:
            k = mid + 1000 * const
        t = v
        f0 = f"    return x + {t}\n"
        if g == mid:
            if broken is not None:
                f0 = f"    return x + {1000 + broken} +)\n"
            elif target is not None:
                f0 = f"    return x + {target}\n"
        out.append(
            f"K_{g} = {k}\n"
            f"DATA_{g} = {{'id': {g}, 'tags': ['t{g}', 'u{g}']}}\n\n\n"
            f"def f_{g}_0(x):\n{f0}\n\n"
            f"def f_{g}_1(x):\n    return x + K_{g} + {v}\n\n\n"
            f"def f_{g}_2(x, y=2):\n    return x * y + {v}\n\n\n"
            f"@deco\ndef d_{g}(x):\n    return x - {v}\n\n\n"
            f"def make_{g}(n):\n"
            f"    def inner(x):\n        return x + n + {v}\n"
            f"    return inner\n\n\n"
            f"adder_{g} = make_{g}({g})\n\n\n"
            f"class C_{g}:\n"
            f"    scale = {g}\n\n"
            f"    def method(self, x):\n"
            f"        return x + self.scale + {v}\n\n"
            f"    @classmethod\n"
            f"    def cmethod(cls, x):\n"
            f"        return x + cls.scale + {v}\n\n"
            f"    @staticmethod\n"
            f"    def smethod(x):\n"
            f"        return x + {v}\n\n"
            f"    @property\n"
            f"    def prop(self):\n"
            f"        return self.scale + {v}\n"
        )
        if g == mid:
            for a in range(1, methods + 1):
                out.append(f"\n    def added_{a}(self):\n        return {a}\n")
        out.append("\n\n")
    return "".join(out)


def user_source(n: int) -> str:
    """Source text of ``user.py`` (from-imported references to core)."""
    groups = groups_for(n)
    mid = groups // 2
    names = []
    for g in range(groups):
        names += [f"f_{g}_0", f"f_{g}_1", f"f_{g}_2", f"d_{g}", f"adder_{g}",
                  f"C_{g}"]
    lines = ['"""Holds from-imported references into core '
             '(benchmarks/gen.py)."""\n', "from .core import (\n"]
    lines += [f"    {name},\n" for name in names]
    lines.append(")\n\n")
    lines.append(
        f"MID = {mid}\n"
        f"inst_mid = C_{mid}()\n"
        f"bound_mid = inst_mid.method\n"
        f"CALLBACKS = [f_{mid}_0, bound_mid, d_{mid}, adder_{mid}]\n\n\n"
        f"def call_loop(n):\n"
        f"    total = 0\n"
        f"    for i in range(n):\n"
        f"        total += f_{mid}_0(i)\n"
        f"    return total\n\n\n"
        f"def call_loop_method(n):\n"
        f"    total = 0\n"
        f"    o = inst_mid\n"
        f"    for i in range(n):\n"
        f"        total += o.method(i)\n"
        f"    return total\n"
    )
    return "".join(lines)


def write_core(root: str, name: str, n: int, **edit) -> str:
    """(Re)write ``<root>/<name>/core.py`` with an edit; returns its path."""
    path = os.path.join(root, name, "core.py")
    text = core_source(n, **edit)
    # Write in place (same inode), as an editor saving in place would.
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def write_package(root: str, name: str, n: int, **edit) -> str:
    """Create the package ``<root>/<name>`` afresh; returns its directory."""
    pkg = os.path.join(root, name)
    if os.path.isdir(pkg):
        shutil.rmtree(pkg)
    os.makedirs(pkg)
    with open(os.path.join(pkg, "__init__.py"), "w", encoding="utf-8") as f:
        f.write('"""Synthetic package (benchmarks/gen.py)."""\n')
    write_core(root, name, n, **edit)
    with open(os.path.join(pkg, "user.py"), "w", encoding="utf-8") as f:
        f.write(user_source(n))
    return pkg


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("root", help="directory to create the package in")
    p.add_argument("--name", default="synthpkg")
    p.add_argument("--size", type=int, default=1000,
                   help="number of functions (multiple of 10)")
    args = p.parse_args(argv)
    pkg = write_package(args.root, args.name, args.size)
    print(pkg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
