"""The pinned third-party packages of the swap suite (thirdparty_swap.py).

Each is a pure-Python package whose sdist ships its own tests, chosen for the
metaprogramming it exercises.  Fields:

    version    exact sdist version (pip download --no-binary :all:)
    root       the import root inside the sdist ("." or "src")
    packages   top-level modules/packages of the distribution (what is
               rewritten and reloaded; test directories are left alone)
    tests      pytest arguments selecting its suite, relative to the sdist
    args       extra pytest arguments (deselections for tests that need
               what this machine lacks, with the reason in a comment)
    build      "setuptools" when the sdist builds its metadata with the
               setuptools of the venv (pip download --no-build-isolation
               works offline from the build backend's point of view)
    what       the variety it brings

TEST_DEPS are the test-only dependencies of these suites (wheels, pinned),
installed into the interpreter's venv by tools/thirdparty_swap.sh.
REDUCED is the fixed subset CI runs (tests/test_thirdparty_swap.py).
"""

PACKAGES = {
    "attrs": {
        "version": "24.2.0", "root": "src", "packages": ["attr", "attrs"],
        "tests": ["tests"], "args": [], "build": "isolated",
        "what": "class decorators generating methods, slotted classes, "
                "validators/converters as callable objects, star imports",
    },
    "toolz": {
        "version": "0.12.1", "root": ".", "packages": ["toolz", "tlz"],
        "tests": ["toolz/tests"], "args": [], "build": "setuptools",
        "what": "curry decorator objects keeping the function, memoize, "
                "star-import re-export (toolz.curried), tlz import hook",
    },
    "more-itertools": {
        "version": "10.5.0", "root": ".", "packages": ["more_itertools"],
        "tests": ["tests"], "args": [], "build": "isolated",
        "what": "star imports re-exporting two modules, generator-heavy "
                "functions, small classes with __next__ aliases",
    },
    "six": {
        "version": "1.16.0", "root": ".", "packages": ["six"],
        "tests": ["test_six.py"], "args": [], "build": "setuptools",
        "what": "lazy descriptors (MovedAttribute), a meta path importer, "
                "with_metaclass/add_metaclass, functions bound by aliases",
    },
    "python-dateutil": {
        "version": "2.9.0.post0", "root": "src", "packages": ["dateutil"],
        "tests": ["tests"],
        # its config turns warnings into errors: pytest 9's deprecation of
        # generator parametrize and the no_cover mark (pytest-cov's) would
        # stop the run at collection
        "args": ["-W", "ignore::pytest.PytestDeprecationWarning",
                 "-W", "ignore::pytest.PytestUnknownMarkWarning"],
        "build": "isolated",
        "what": "tzinfo classes with decorated methods "
                "(_validate_fromutc_inputs), singletons, cached classes",
    },
    "click": {
        "version": "8.1.7", "root": "src", "packages": ["click"],
        "tests": ["tests"], "args": [], "build": "isolated",
        "what": "decorators building Command objects that keep the "
                "callback, functools.update_wrapper, contextvars",
    },
    "marshmallow": {
        "version": "3.22.0", "root": "src", "packages": ["marshmallow"],
        "tests": ["tests"], "args": [], "build": "isolated",
        "what": "SchemaMeta(ABCMeta) metaclass, declared fields, "
                "decorator-registered hooks, class registry",
    },
    "pyparsing": {
        "version": "3.1.4", "root": ".", "packages": ["pyparsing"],
        "tests": ["tests"],
        # the railroad-diagram tests need jinja2 and railroad-diagrams;
        # test_examples runs the example scripts, and on a plain in-process
        # rerun (no reload) test_rosettacode's parse goes exponential (the
        # packrat state the unit tests leave): > 10 minutes.  Test04-Test10
        # re-run all of Test02's tests under the other caches (5x the time,
        # the same library code): Test02 stands for them.
        "args": ["--ignore=tests/test_diagram.py",
                 "--ignore=tests/test_examples.py",
                 "-k", "not (Test04 or Test06 or Test08 or Test09 or Test10)"],
        "build": "isolated",
        "what": "camelCase aliases of every method (replaced_by_pep8), "
                "__config_flags base deleted after use, operator aliases",
    },
    "idna": {
        "version": "3.10", "root": ".", "packages": ["idna"],
        "tests": ["tests"], "args": [], "build": "isolated",
        "what": "large data modules next to code, a codec registered at "
                "import, star imports",
    },
    "cachetools": {
        "version": "5.5.0", "root": "src", "packages": ["cachetools"],
        "tests": ["tests"], "args": [], "build": "setuptools",
        "what": "caching decorators keeping the function, "
                "MutableMapping subclasses with __missing__, keys module",
    },
    "boltons": {
        "version": "24.0.0", "root": ".", "packages": ["boltons"],
        "tests": ["tests"],
        # its conftest's pytest_ignore_collect(path) is refused by pytest 9;
        # all it does is skip the _pyX files of other Python versions
        "args": ["--noconftest"], "build": "isolated",
        "what": "cachedproperty, funcutils (FunctionBuilder, wraps), "
                "typeutils sentinels, dict subclasses with aliases",
    },
    "wrapt": {
        "version": "1.16.0", "root": "src", "packages": ["wrapt"],
        "tests": ["tests"],
        # its conftest's pytest_pycollect_makemodule(path) is refused by
        # pytest 9; it only skips the _pyXY files of older Pythons
        "args": ["--noconftest"], "build": "setuptools",
        "what": "the pure-Python ObjectProxy/FunctionWrapper (the C "
                "extension is not built), decorators with descriptors",
    },
}

# six: python-dateutil 2.9 needs it at run time (a dependency, not a test
# dependency, but its copy is what the suite imports).
TEST_DEPS = ["freezegun==1.5.1", "pytz==2024.2", "simplejson==3.19.3",
             "six==1.16.0"]

REDUCED = ["six", "toolz", "cachetools"]

# Known failures (issue 13's cause numbers, 13+ found by these harnesses:
# swapcheck.CAUSES; see swapcheck.judge): a package listed here passes as
# "known" only while exactly these causes are seen.  "tests": the cause(s)
# explaining changed test outcomes; "keys": {key pattern: cause} for
# divergences swapcheck.classify cannot place.  KNOWN_BY_VERSION[(3, X)]
# replaces the entries of the packages it names on that interpreter.
KNOWN = {
    # six (28) and wrapt (2) pass since data13.  attrs' 5 is gone too:
    # `_CountingAttr.cls_counter` is advanced by attrs' own code (attrib()
    # calls of the class bodies the reload runs again), which hotswap does
    # not write and does not report; swapcheck.side_effects() lists such
    # values apart (docs/api.md, side effects of re-run class bodies)
    "pyparsing": {25: "shift: 51 tests fail: _trim_arity_call_line, a line "
                      "number of core.py cached at first use, is stale "
                      "after the move (fine again after the revert)",
                  "tests": 25},
}

# Interpreter differences: none listed.  3.13+: wrapt's proxy metaclass
# copies `vars(_ObjectProxyMethods)` into every proxy class,
# `__firstlineno__` included, so classes of wrapt.decorators,
# wrapt.weakrefs and wrapt.importer carry the line of a class statement in
# wrappers.py; eager13 maps a copied line through the class statements of
# the class's own module, str13 through those of the module of the class
# it was copied from, in the same batch (docs/reliability.md 2c).
KNOWN_BY_VERSION = {}


def known(package, version=None):
    """The known failures of `package` on this interpreter (or on
    `version`, a (3, X) tuple)."""
    import sys
    version = version or sys.version_info[:2]
    by = KNOWN_BY_VERSION.get(version, {})
    return dict(by[package] if package in by else KNOWN.get(package, {}))
