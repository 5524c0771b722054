"""Source lint: the mechanical rules of docs/architecture.md and STYLE.md,
checked on the C sources so that they stay true.

- every CPython version test is in compat.h;
- CPython structs are written only in internals.c;
- the watcher thread's code uses no Python API (it holds no GIL);
- every walk of the heap is heap.c's; the collector is switched through
  PyGC_Disable/PyGC_Enable;
- every file starts with a comment naming it and saying what it owns;
- a stage includes only its own and upstream headers (the pipeline order
  is LAYERS below; KNOWN_UPSTREAM lists today's exceptions, strictly: a
  new one fails, and so does one that went away until it is removed);
- every diagnostic code used in the sources is documented in
  docs/diagnostics.md, and every documented one is used;
- the core words no messages: no logging, no traceback formatting.
"""
import glob
import os
import re

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)
CSRC = os.path.join(ROOT, "csrc")


def sources(pattern="*.[ch]"):
    return sorted(glob.glob(os.path.join(CSRC, pattern)))


def read(path):
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def code_only(text):
    """The text without comments and string literals (so that prose and
    messages do not trip the rules)."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    return re.sub(r'"(?:\\.|[^"\\\n])*"', '""', text)


def hits(pattern, exempt=()):
    found = []
    for path in sources():
        name = os.path.basename(path)
        if name in exempt:
            continue
        for n, line in enumerate(code_only(read(path)).splitlines(), 1):
            if re.search(pattern, line):
                found.append(f"{name}:{n}: {line.strip()}")
    return found


def test_version_tests_only_in_compat_h():
    assert hits(r"\bPY_(VERSION_HEX|MINOR_VERSION|MAJOR_VERSION|"
                r"MICRO_VERSION)\b", exempt={"compat.h"}) == []


def test_cpython_structs_written_only_in_internals_c():
    # a field of a CPython object struct assigned through a pointer, or an
    # object header changed
    field = (r"->\s*(func_|co_|tp_|ob_|gi_|cr_|ag_|ma_|ht_|im_|f_)\w*"
             r"\s*(\[[^]]*\])?\s*(=[^=]|\+=|-=|\|=|&=)")
    header = r"\bPy_SET_(TYPE|REFCNT|SIZE)\s*\("
    assert hits(field, exempt={"internals.c"}) == []
    assert hits(header, exempt={"internals.c"}) == []


def test_heap_walks_only_in_heap_c():
    """Every walk of the GC-tracked objects is heap.c's (one per batch,
    typed lists the consumers query); the collector is switched with
    PyGC_Disable/PyGC_Enable, the gc module imported only by heap.c and
    compat.h's 3.9 shim."""
    found = []
    for path in sources():
        name = os.path.basename(path)
        text = re.sub(r"/\*.*?\*/", " ", read(path), flags=re.S)
        for n, line in enumerate(text.splitlines(), 1):
            walk = re.search(r"\bget_objects\b|PyUnstable_GC_VisitObjects",
                             line)
            gc = re.search(r'PyImport_ImportModule\("gc"\)', line)
            if (walk and name != "heap.c") or (
                    gc and name not in ("heap.c", "compat.h")):
                found.append(f"{name}:{n}: {line.strip()}")
    assert found == []


def test_watcher_thread_uses_no_python_api():
    """The watcher thread holds no GIL: its code, between the THREAD
    markers of watch.c, names no CPython identifier; it hands over to
    safepoint.c through the notify function alone."""
    text = read(os.path.join(CSRC, "watch.c"))
    section = text[text.index("/* THREAD:"):text.index("/* END THREAD")]
    code = code_only(section)
    assert re.findall(r"\b_?Py[A-Za-z_]*\b", code) == []
    assert "notify(arg)" in code


def test_every_file_says_what_it_owns():
    for path in sources():
        name = os.path.basename(path)
        head = read(path).lstrip()
        assert head.startswith(f"/* {name} -- "), (
            f"{name} must open with '/* {name} -- what it owns ...'")


# The pipeline, upstream first (docs/architecture.md, "One reload, as data
# flowing through").  Layer 0 is shared infrastructure every stage may use.
LAYERS = [
    {"compat.h", "dunders.h", "state.h", "internals.h", "txn.h", "job.h",
     "report.h", "code.h", "heap.h",
     "source.h", "track.h"},                        # shared records
    {"plan.h", "compound.h"},                       # PLAN
    {"stage.h"},                                    # STAGE
    {"apply.h", "annotate.h", "classes.h", "classes_int.h", "funcs.h", "live.h",
     "frames.h", "adapters.h", "redeco.h"},         # APPLY
    {"batch.h", "reload.h", "patch.h"},             # the batch
    {"watch.h", "safepoint.h"},                     # triggers
]
LAYER_OF_FILE = {
    "source.c": 0, "internals.c": 0, "txn.c": 0, "report.c": 0, "code.c": 0,
    "track.c": 0, "heap.c": 0,
    "plan.c": 1, "compound.c": 1, "stage.c": 2,
    "annotate.c": 3, "apply.c": 3, "classes.c": 3, "classdata.c": 3, "funcs.c": 3,
    "live.c": 3, "frames.c": 3, "adapters.c": 3, "redeco.c": 3,
    "batch.c": 4, "reload.c": 4, "patch.c": 4,
    "watch.c": 5, "safepoint.c": 5, "module.c": 5,
}
# Today's upstream call (issue 9 removes it: class-header verdicts made in
# PLAN).  code.c took the code-object helpers PLAN and STAGE called upstream.
KNOWN_UPSTREAM = {
    ("stage.c", "classes.h"),  # STAGE decides class-header verdicts
}


def layer_of_header(h):
    for n, names in enumerate(LAYERS):
        if h in names:
            return n
    raise AssertionError(f"{h} is in no layer of test_csource.LAYERS")


def test_stages_include_only_upstream_headers():
    upstream = set()
    for path in sources("*.c"):
        name = os.path.basename(path)
        assert name in LAYER_OF_FILE, (
            f"{name} is in no layer of test_csource.LAYER_OF_FILE")
        mine = LAYER_OF_FILE[name]
        for h in re.findall(r'#include "([a-z_]+\.h)"', read(path)):
            if (os.path.exists(os.path.join(CSRC, h))
                    and layer_of_header(h) > mine):
                upstream.add((name, h))
    assert upstream == KNOWN_UPSTREAM


def test_every_diagnostic_code_is_documented():
    used = set()
    for path in (sources("*.c") + glob.glob(
            os.path.join(ROOT, "src", "hotswap", "**", "*.py"),
            recursive=True)):
        used |= set(re.findall(r"\bHS\d{3}\b", read(path)))
    documented = set(re.findall(r"^\| (HS\d{3}) \|", read(
        os.path.join(ROOT, "docs", "diagnostics.md")), flags=re.M))
    assert used - documented == set(), "used, not documented"
    assert documented - used == set(), "documented, never reported"


def test_no_deprecated_error_api_outside_compat_h():
    # 3.12 deprecated the (type, value, traceback) triple: one exception
    # object, through PyErr_GetRaisedException/PyErr_SetRaisedException
    # (shimmed in compat.h before 3.12)
    assert hits(r"\bPyErr_(Fetch|Restore|NormalizeException)\s*\(",
                exempt={"compat.h"}) == []


# Functions allowed over MAX_FUNCTION_LINES, each with its reason.
MAX_FUNCTION_LINES = 150
LONG_FUNCTIONS = {
    # the scanner's state machine: one switch over the characters of the
    # source, clearer whole than cut into pieces
    ("source.c", "hs_scan"),
}


def function_lengths(text):
    """(name, first line, number of lines) of every function definition:
    clang-format (PEP 7) puts the name at the start of a line and the
    body's braces alone in column 0."""
    lines = text.split("\n")
    found = []
    i = 0
    while i < len(lines):
        if lines[i] == "{":
            j = i - 1
            while j >= 0 and not re.match(r"[A-Za-z_]\w*\(", lines[j]):
                j -= 1
            k = lines.index("}", i + 1)
            name = re.match(r"[A-Za-z_]\w*", lines[j]).group(0)
            found.append((name, j + 1, k - j + 1))
            i = k
        i += 1
    return found


def test_no_function_over_150_lines():
    too_long = set()
    for path in sources("*.c"):
        name = os.path.basename(path)
        for func, line, length in function_lengths(read(path)):
            if (length > MAX_FUNCTION_LINES
                    and (name, func) not in LONG_FUNCTIONS):
                too_long.add(f"{name}:{line}: {func} ({length} lines)")
    assert too_long == set()


def test_the_core_words_no_messages():
    # the core hands what happens to Python as data (a Report, a
    # ReloadError, an event dict: docs/architecture.md, "Live reloading");
    # wording, logging and tracebacks are hotswap.events'
    for path in sources("*.c"):
        text = read(path)
        assert not re.search(
            r'PyImport_ImportModule\(\s*"(logging|traceback)"', text), path
        assert not re.search(r'"getLogger"', text), path
