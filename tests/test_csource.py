"""Source lint: the mechanical rules of docs/architecture.md and STYLE.md,
checked on the C sources so that they stay true.

- every CPython version test is in compat.h;
- CPython structs are written only in internals.c;
- the watcher thread's code uses no Python API (it holds no GIL);
- every walk of the heap is heap.c's; the collector is switched through
  PyGC_Disable/PyGC_Enable;
- every file starts with a comment naming it and saying what it owns;
- PLAN (plan.c, compile.c) is the only writer of a job's mode;
- class bodies are split into member statements only by PLAN (plan.c):
  the class rules read its HsMemberPlan;
- each group of HsJob (src, plan, staged) is written by its stage's files
  only (and released by batch.c);
- a stage includes only its own and upstream headers (the pipeline order
  is LAYERS below), with no exception;
- the diagnostic codes are defined once, in csrc/diag.h's table: it lists
  the codes of docs/diagnostics.md with their documented actions, no other
  C file spells a code, every row is used and every code the Python shell
  names is in it;
- bytecode is walked by code.h's one iterator (HsOpIter);
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
    {"compat.h", "dunders.h", "errors.h", "state.h", "internals.h", "txn.h",
     "job.h", "report.h", "code.h", "diag.h", "heap.h",
     "source.h", "track.h"},                        # shared records
    {"plan.h", "compound.h", "compile.h"},          # PLAN
    {"stage.h"},                                    # STAGE
    {"apply.h", "annotate.h", "classes.h", "classes_int.h", "funcs.h", "live.h",
     "frames.h", "adapters.h", "redeco.h"},         # APPLY
    {"batch.h", "reload.h", "patch.h"},             # the batch
    {"watch.h", "safepoint.h"},                     # triggers
]
LAYER_OF_FILE = {
    "source.c": 0, "internals.c": 0, "txn.c": 0, "report.c": 0, "code.c": 0,
    "track.c": 0, "diag.c": 0, "heap.c": 0,
    "plan.c": 1, "compound.c": 1, "compile.c": 1, "stage.c": 2,
    "annotate.c": 3, "apply.c": 3, "classes.c": 3, "classdata.c": 3, "funcs.c": 3,
    "live.c": 3, "frames.c": 3, "adapters.c": 3, "redeco.c": 3,
    "batch.c": 4, "reload.c": 4, "patch.c": 4,
    "watch.c": 5, "safepoint.c": 5, "module.c": 5,
}
# No file includes a header of a later stage: code.c took the code-object
# helpers PLAN and STAGE called upstream, and PLAN makes the class-header
# verdict STAGE used to make through classes.c (issue 9).


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
    assert not upstream, f"includes of a later stage: {sorted(upstream)}"


def test_only_plan_writes_the_mode():
    # PLAN decides how a module is reloaded (job.h HsMode): plan.c from the
    # scanner and the match, compile.c when a chunk does not compile alone.
    writers = set()
    for path in sources("*.c"):
        for line in read(path).splitlines():
            if re.search(r"(->|\.)plan\.mode\s*=[^=]", line):
                writers.add(os.path.basename(path))
    assert writers == {"plan.c", "compile.c"}, writers


def test_only_plan_scans_class_members():
    # One matcher for module statements and class members (plan.c's
    # plan_match): the member statements of a class body are scanned and
    # matched by hs_plan_class, and APPLY's class rules read that plan.
    callers = {
        line.split(":", 1)[0]
        for line in hits(r"\bhs_source_scan_members\s*\(",
                         exempt=("source.c", "source.h"))
    }
    assert callers == {"plan.c"}, callers


# HsJob's stage outputs (job.h) and the one stage that writes each; batch.c
# releases them all when the batch ends.
JOB_GROUP_WRITERS = {
    "src": {"reload.c", "patch.c"},                 # SOURCE
    "plan": {"plan.c", "compile.c", "compound.c"},  # PLAN
    "staged": {"stage.c"},                          # STAGE
}


def test_each_job_group_has_its_one_writer():
    for group, allowed in JOB_GROUP_WRITERS.items():
        write = re.compile(
            r"(->|\.)%s\.\w+(\[[^\]]*\])?\s*=[^=]"
            r"|Py_X?(CLEAR|SETREF)\(\s*[\w>.-]*\b%s\.\w+" % (group, group))
        writers = set()
        for path in sources("*.c"):
            if write.search(code_only(read(path))):
                writers.add(os.path.basename(path))
        assert writers, group  # the pattern still finds the writers
        assert writers <= allowed | {"batch.c"}, (group, writers - allowed)


# A row of csrc/diag.h's HS_DIAGNOSTICS: X(id, code, "action", refuses, ...
DIAG_ROW = re.compile(r'^\s*X\((\w+), (HS\d{3}), "(\w+)", ([01]),', re.M)


def diag_rows():
    """(id, code, action, refuses) of every row of the table."""
    rows = [(i, c, a, int(r))
            for i, c, a, r in DIAG_ROW.findall(read(os.path.join(
                CSRC, "diag.h")))]
    assert len(rows) > 40, "the HS_DIAGNOSTICS rows were not found"
    return rows


def documented_codes():
    """code -> the action column of docs/diagnostics.md."""
    text = read(os.path.join(ROOT, "docs", "diagnostics.md"))
    return dict(re.findall(r"^\| (HS\d{3}) \| ([^|]*?) *\|", text, re.M))


def test_diagnostics_table_is_the_documented_one():
    """csrc/diag.h and docs/diagnostics.md list the same codes, with the
    same meaning: the action a row reports is in the documented action
    column, and a row fails the batch exactly when the docs say so."""
    docs = documented_codes()
    rows = diag_rows()
    assert {code for _, code, _, _ in rows} == set(docs)
    for ident, code, action, refuses in rows:
        column = docs[code]
        assert re.search(rf"\b{action}\b", column), (ident, action, column)
        says_refused = action == "error" or (
            action == "rejected" and "rejected (batch refused)" in column)
        assert refuses == says_refused, (ident, column)


def test_codes_are_spelled_only_in_diag_h():
    """No C file but diag.h spells a code: every site names a row
    (HS101_KIND, HS507), so a code and its text are defined once."""
    found = []
    for path in sources():
        name = os.path.basename(path)
        if name == "diag.h":
            continue
        text = re.sub(r"/\*.*?\*/", " ", read(path), flags=re.S)
        found += [f"{name}: {m}" for m in re.findall(r'"HS\d{3}', text)]
    assert found == []


def test_every_diagnostic_row_is_used():
    """Every row is named by a C site, or its code is reported by the
    Python shell (the adapters' codes); every code the Python shell names
    is in the table."""
    c_text = "".join(code_only(read(p)) for p in sources()
                     if os.path.basename(p) not in ("diag.h", "diag.c"))
    py_codes = set()
    for path in glob.glob(os.path.join(ROOT, "src", "hotswap", "**", "*.py"),
                          recursive=True):
        py_codes |= set(re.findall(r"\bHS\d{3}\b", read(path)))
    rows = diag_rows()
    unused = [ident for ident, code, _, _ in rows
              if not re.search(rf"\b{ident}\b", c_text)
              and code not in py_codes]
    assert unused == []
    assert py_codes - {code for _, code, _, _ in rows} == set()


def test_bytecode_is_walked_only_by_the_op_iterator():
    # one walker (code.h's HsOpIter): EXTENDED_ARG and the inline CACHE
    # entries are handled there, opcode numbers per version in compat.h
    assert hits(r"\b(HS_OP_EXTENDED_ARG|HS_OP_IS_CACHE|EXTENDED_ARG|CACHE)\b",
                exempt={"compat.h", "code.h"}) == []


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


# A bare PyErr_Clear() clears whatever was raised, a MemoryError or a
# KeyboardInterrupt included (docs/architecture.md, "Errors").  Each one
# must follow a test of the exception it means (PyErr_ExceptionMatches
# within CLEAR_WINDOW lines before it) or say why it swallows any
# exception, with a `/* swallow: reason */` comment on it or just before
# it.  Best-effort steps that may meet a user's exception call
# errors.h's hs_err_clear_unless_fatal() instead, which keeps the fatal
# ones.  BARE_CLEARS lists the exceptions left, strictly ("file:function").
CLEAR_WINDOW = 4
BARE_CLEARS = set()


def enclosing_function(lines, n):
    """The name of the function whose body holds line index n."""
    for j in range(n, -1, -1):
        m = re.match(r"([A-Za-z_]\w*)\(", lines[j])
        if m and j + 1 < len(lines) and lines[j + 1].startswith("{"):
            return m.group(1)
        if re.match(r"([A-Za-z_]\w*)\(", lines[j]) and j > 0:
            # a definition whose parameters span lines
            k = j
            while k < len(lines) and not lines[k].startswith("{"):
                if lines[k].rstrip().endswith(";"):
                    break
                k += 1
            if k < len(lines) and lines[k].startswith("{"):
                return m.group(1)
    return "?"


def code_only_lines(text):
    """code_only(), keeping the line count (a comment becomes the newlines
    it spanned)."""
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"),
                  text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    return re.sub(r'"(?:\\.|[^"\\\n])*"', '""', text)


def test_no_bare_pyerr_clear():
    bare = set()
    for path in sources():
        name = os.path.basename(path)
        raw = read(path).split("\n")
        code = code_only_lines(read(path)).split("\n")
        for n, line in enumerate(code):
            if not re.search(r"\bPyErr_Clear\s*\(", line):
                continue
            window = "\n".join(raw[max(0, n - CLEAR_WINDOW):n + 1])
            if ("PyErr_ExceptionMatches" in window
                    or "/* swallow:" in window):
                continue
            bare.add(f"{name}:{enclosing_function(raw, n)}")
    assert bare == BARE_CLEARS


def test_no_error_swallowing_has_attr():
    # PyObject_HasAttr(String) and PyMapping_HasKey(String) swallow every
    # error; their 3.13 ...WithError forms (shimmed in compat.h) do not
    assert hits(r"\b(PyObject_HasAttr|PyObject_HasAttrString|"
                r"PyMapping_HasKey|PyMapping_HasKeyString)\s*\(",
                exempt={"compat.h"}) == []
