"""The standard-library modules of the stdlib swap (stdlib_swap.py) and their
known failures.

MODULES: module -> CPython test module, in run order.  Every module is pure
Python (heapq, bisect, json, csv, statistics, datetime have C accelerators or
C halves; their tests also build fresh copies with import_fresh_module, which
are reloaded too).  A module or test missing on an interpreter is skipped
there (tomllib is 3.11+; _pydatetime, the pure half of datetime, 3.12+:
before, datetime.py holds both and is not included).

CI: the fixed reduced subset tests/test_stdlib_swap.py runs on every
interpreter (a few seconds); tools/reliability.sh runs all of MODULES.

KNOWN: module -> {cause number (issue 13's numbering, 13+ found by these
harnesses, see swapcheck.CAUSES): what is seen, "tests": the cause that
explains changed test outcomes, "keys": {key pattern: cause} for divergences
the heuristics of swapcheck.classify cannot place}.  swapcheck.judge passes a
module as "known" only while exactly these causes are seen: when a fix lands,
the module fails until its entry shrinks (strict, like xfail_strict).
KNOWN_BY_VERSION[(3, X)] replaces the entries of the modules it names on that
interpreter.
"""
import sys

MODULES = {
    "textwrap": "test.test_textwrap",
    "colorsys": "test.test_colorsys",
    "fractions": "test.test_fractions",
    "shlex": "test.test_shlex",
    "string": "test.test_string",
    "heapq": "test.test_heapq",
    "bisect": "test.test_bisect",
    "csv": "test.test_csv",
    "json": "test.test_json",
    "pprint": "test.test_pprint",
    "glob": "test.test_glob",
    "fnmatch": "test.test_fnmatch",
    "html": "test.test_html",
    "base64": "test.test_base64",
    "quopri": "test.test_quopri",
    "graphlib": "test.test_graphlib",
    "getopt": "test.test_getopt",
    "optparse": "test.test_optparse",
    "configparser": "test.test_configparser",
    "sched": "test.test_sched",
    "ipaddress": "test.test_ipaddress",
    "dataclasses": "test.test_dataclasses",
    "difflib": "test.test_difflib",
    "statistics": "test.test_statistics",
    "calendar": "test.test_calendar",
    "collections": "test.test_collections",
    "enum": "test.test_enum",
    "typing": "test.test_typing",
    "inspect": "test.test_inspect",
    "email": "test.test_email",
    "pathlib": "test.test_pathlib",
    "random": "test.test_random",
    "tomllib": "test.test_tomllib",
    "contextlib": "test.test_contextlib",
    "argparse": "test.test_argparse",
    "numbers": "test.test_abstract_numbers",
    "copy": "test.test_copy",
    "_pydatetime": "test.test_datetime",
}

CI = ["textwrap", "graphlib", "fnmatch", "optparse", "fractions", "difflib"]

# Measured with the engine of main at 7209a84 (after the funcs13 merge:
# causes 3, 4, 6, 7, 10, 12 fixed there) on 3.12.1; docs/reliability.md has
# the tables, and those of the branch point before it.
# eng13a fixed 13 (base64, email), 16 (difflib, collections), 18
# (inspect), 26 (fractions), 16 and 23 (_pydatetime): they pass on 3.12.1.
KNOWN = {
    # after eng13a + eng13b + deco10, 3.12.1; typing's cause 29 (a
    # re-decorated def lost its identity: HS102) fixed by wrap10 (redeco.c)
}

# Interpreter differences (measured with the same engine; the CI subset on
# all seven, the full set where docs/reliability.md says so).
KNOWN_BY_VERSION = {
}


def known(module, version=None):
    """The known failures of `module` on this interpreter (or on
    `version`, a (3, X) tuple)."""
    version = version or sys.version_info[:2]
    by = KNOWN_BY_VERSION.get(version, {})
    return dict(by[module] if module in by else KNOWN.get(module, {}))
