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

KNOWN = {
    # measured on 3.12.1 (docs/reliability.md has the table)
    "fractions": {6: "touch: _hash_algorithm (@functools.lru_cache) gets "
                     "the def line"},
    "fnmatch": {6: "touch: _compile_pattern (@functools.lru_cache) gets "
                   "the def line"},
    "base64": {13: "touch: b32encode/b32decode/b32hexencode/b32hexdecode "
                   "lose the __doc__ assigned after their def"},
    "optparse": {3: "shift: _repr, bound as Option.__repr__ and "
                    "Values.__repr__, moved 14 instead of 7"},
    "configparser": {3: "shift: Error.__repr__ = __str__ moved twice"},
    "ipaddress": {3: "shift: __reduce__ aliases moved twice",
                  7: "touch: cached_property hostmask/broadcast_address "
                     "replaced, held ones keep the old body; not moved "
                     "on a shift",
                  10: "shift: is_private/is_global (property over "
                      "lru_cache) not moved"},
    "statistics": {3: "shift: NormalDist.__radd__ = __add__, __rmul__ = "
                      "__mul__ moved twice"},
    "calendar": {3: "shift: firstweekday property accessors moved twice"},
    "collections": {3: "shift: ChainMap.copy = __copy__, UserList.__rmul__ "
                       "= __mul__ moved twice"},
    "enum": {3: "shift: Enum methods aliased by the enum machinery moved "
                "several times",
             4: "shift: enum.property objects (Enum.name, Enum.value) "
                "keeping their fget not moved",
             14: "touch: HS504 from EnumType._get_mixins_ re-running "
                 "`class Enum(metaclass=EnumType)`"},
    "typing": {3: "shift: aliased methods moved several times",
               4: "shift: _SpecialForm._getitem (the decorated function "
                  "kept by the special form) not moved",
               10: "shift: functions behind functools.wraps wrappers "
                   "(_tp_cache) not moved",
               19: "touch: HS504 'function' object is not subscriptable "
                   "re-running `class BinaryIO(IO[bytes])`"},
    "inspect": {3: "shift: aliased functions moved twice",
                6: "touch: decorated functions get the def line",
                12: "touch: _ParameterKind (enum with its own __new__): "
                    "the body's __new__ installed as the class's __new__ "
                    "(EnumType had moved it to _new_member_), "
                    "_generate_next_value_ swapped; Signature.bind fails",
                18: "shift: ismemberdescriptor/isgetsetdescriptor (defs "
                    "inside `if hasattr(types, ...)`) not moved",
                "tests": 12},
    "email": {3: "shift: _header_value_parser property aliases moved "
                 "several times",
              6: "touch: decorated functions (_policybase, headerregistry) "
                 "get the def line",
              13: "touch: docstrings rewritten by @_extend_docstrings "
                  "(_policybase.Compat32) reset"},
    "pathlib": {6: "touch: _compile_pattern, _is_case_sensitive "
                   "(@functools.cache/lru_cache) get the def line"},
    "random": {3: "shift: _randbelow = _randbelow_with_getrandbits, "
                  "SystemRandom._notimplemented aliases moved twice"},
    "tomllib": {6: "touch: _re.cached_tz (@lru_cache) gets the def line"},
    "_pydatetime": {3: "shift: __radd__ = __add__ aliases moved twice",
                    23: "IsoCalendarDate, bound as _IsoCalendarDate and "
                        "`del IsoCalendarDate`: __new__ neither moved nor "
                        "updated",
                    "keys": {"_pydatetime:_IsoCalendarDate*": 23}},
}

KNOWN_BY_VERSION = {
    (3, 9): {
        # measured on 3.9.18: fractions and base64 have no lru_cache /
        # late __doc__ there, inspect has no enum with its own __new__
        "fractions": {},
        "base64": {},
        "enum": {3: KNOWN["enum"][3], 14: KNOWN["enum"][14]},
        "inspect": {3: KNOWN["inspect"][3], 18: KNOWN["inspect"][18]},
        "email": {3: KNOWN["email"][3], 13: KNOWN["email"][13]},
        "pathlib": {11: "touch, revert: `_make_selector = functools."
                        "lru_cache()(_make_selector)` inside `if hasattr("
                        "functools, 'lru_cache')`: the wrapped function "
                        "keeps the old code and lines",
                    "keys": {"pathlib:_make_selector.__wrapped__": 11}},
    },
    (3, 10): {},
    (3, 11): {
        # measured on 3.11.7
        "fractions": {},
        "inspect": {c: KNOWN["inspect"][c] for c in (3, 12, 18, "tests")},
    },
    (3, 13): {
        # measured on 3.13.0 (plus cause 24 anywhere: TOLERATED_BY_VERSION)
        "glob": {6: "touch: _compile_pattern (@functools.lru_cache) gets "
                    "the def line"},
        "configparser": {3: KNOWN["configparser"][3],
                         7: "_Line.clean (cached_property): not moved on a "
                            "shift, replaced on a touch"},
        "email": {3: KNOWN["email"][3], 13: KNOWN["email"][13]},
        "pathlib": {3: "shift: pathlib._local.Path aliases (as_uri, ...) "
                       "moved twice",
                    6: "touch: pathlib._abc._is_case_sensitive "
                       "(@functools.cache) gets the def line"},
    },
}


# Causes that may show in any module on an interpreter (tolerated, not
# required per module: they touch nearly every class).  `stdlib_swap.py all`
# fails when one of them is seen in no module at all (fixed: remove it).
TOLERATED_BY_VERSION = {
    v: {24: "class __firstlineno__ set to 1 by a class update (3.13+)"}
    for v in ((3, 13), (3, 14), (3, 15))
}


KNOWN_BY_VERSION[(3, 11)]["pathlib"] = KNOWN_BY_VERSION[(3, 9)]["pathlib"]
# measured on 3.10.13: as on 3.9, but base64 has its late __doc__ (13)
KNOWN_BY_VERSION[(3, 10)] = {k: v for k, v in KNOWN_BY_VERSION[(3, 9)].items()
                             if k != "base64"}


def known(module, version=None):
    """The known failures of `module` on this interpreter (or on
    `version`, a (3, X) tuple)."""
    version = version or sys.version_info[:2]
    by = KNOWN_BY_VERSION.get(version, {})
    entry = dict(by[module] if module in by else KNOWN.get(module, {}))
    tolerated = TOLERATED_BY_VERSION.get(version)
    if tolerated:
        entry["tolerated"] = tolerated
    return entry
