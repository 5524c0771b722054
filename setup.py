"""Build the C core. Everything else is in pyproject.toml."""
import glob
import os
import sysconfig

from setuptools import Extension, setup

# What the C core is written and tested for (README, "Supported versions").
# An install anywhere else stops here with the reason, unless forced.
SUPPORTED = ((3, 9), (3, 15))


def unsupported_reason():
    import platform
    import sys

    impl = platform.python_implementation()
    if impl != "CPython":
        return f"hotswap's core is a CPython C extension; this is {impl}"
    here = sys.version_info[:2]
    if not SUPPORTED[0] <= here <= SUPPORTED[1]:
        return ("hotswap supports CPython %d.%d-%d.%d; this is %d.%d"
                % (*SUPPORTED[0], *SUPPORTED[1], *here))
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        return ("hotswap does not support free-threaded CPython builds "
                "(Py_GIL_DISABLED); use the default build")
    return None


if os.environ.get("HOTSWAP_ALLOW_UNSUPPORTED") != "1":
    reason = unsupported_reason()
    if reason:
        raise SystemExit(f"error: {reason} (set HOTSWAP_ALLOW_UNSUPPORTED=1 "
                         "to build anyway)")

WARNINGS = [
    "-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Wshadow",
    "-Wstrict-prototypes", "-Wmissing-prototypes", "-Wundef",
    "-Wformat=2", "-Wvla", "-Werror",
    # CPython's own headers use these constructs; they are not ours.
    "-Wno-unused-parameter", "-Wno-missing-field-initializers",
    "-Wno-cast-function-type",
]

flags = list(WARNINGS)
# CPython's headers are system headers to us: their warnings are not ours
# (3.15's pyport.h tests _Py_STDC_VERSION before pymacro.h defines it, which
# -Wundef rejects).  GCC and clang drop a -I directory that is also given
# with -isystem, so this demotes setuptools' -I for the Python include dir.
flags += ["-isystem", sysconfig.get_paths()["include"]]
link = []
mode = os.environ.get("HOTSWAP_BUILD", "")
if mode in ("debug", "asan"):
    flags += ["-O0", "-g", "-UNDEBUG"]
if mode == "asan":
    san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer",
           "-fno-sanitize-recover=undefined"]
    # CPython's CFLAGS carry -fwrapv (3.9-3.11) or -fno-strict-overflow
    # (3.12+; implies -fwrapv -fwrapv-pointer).  Signed overflow is then
    # defined, and UBSan silently drops its signed-overflow, shift and
    # pointer-overflow checks.  Turn them back on for our code (these come
    # after CPython's CFLAGS on the command line, so they win).
    flags += san + ["-fno-wrapv", "-fno-wrapv-pointer"]
    link += san

setup(
    ext_modules=[
        Extension(
            "hotswap._core",
            sources=sorted(glob.glob("csrc/*.c")),
            depends=sorted(glob.glob("csrc/*.h")),
            include_dirs=["csrc"],
            extra_compile_args=flags,
            extra_link_args=link,
        )
    ],
)
