/* annotate.c -- 3.14+ (PEP 649/749): a module's deferred annotations follow
 * the source.
 *
 * Main thread, GIL held, at the end of APPLY; every write goes through the
 * batch's undo log.  Owns nothing beyond one call.
 *
 * What the compiler makes of `x: int = 1` at module level since 3.14: one
 * `__annotate__` function for the whole module (its code is a constant of
 * the module's code, first line 1, one entry per annotation at the
 * annotation's line), and a set `__conditional_annotations__` to which each
 * annotated statement adds its index when it runs (at module level every
 * annotation is conditional: `if TYPE_CHECKING: x: T` must not show up
 * when the branch did not run).  Indices count the annotated statements in
 * code generation order (a `finally:` body is generated twice, so it takes
 * two).  `module.__annotations__` calls `__annotate__(VALUE)` and caches
 * the dict in the module dict.
 *
 * A statement staged alone makes its own __annotate__ and set, with indices
 * local to it (stage.c keeps the set in job->staged.ann_sets).  So when a
 * statement holding module annotations was edited, added, removed or moved,
 * the new source is compiled once with every other statement blanked out
 * but the first (the __annotate__ code is then a fresh import's, lines and
 * positions included), its __annotate__ code swapped into the module's
 * function (identity kept), the set rebuilt, and the cached dict dropped,
 * to be computed again on demand, as in a fresh import.
 *
 * The set: the annotation indices of one statement are consecutive and in
 * the same order whether it is compiled alone or in the file, so the r-th
 * index of a statement in the new file ran iff the r-th index of the same
 * statement ran: in its staged run (job->staged.ann_sets), or, for a statement
 * not run again, in the old module (old set, old __annotate__).  Which indices
 * a statement holds is read from __annotate__'s bytecode: each entry is
 * `LOAD_SMALL_INT index; LOAD_GLOBAL __conditional_annotations__` at the
 * annotation's line.
 */
#include "annotate.h"
#include "code.h"
#include "errors.h"
#include "stage.h"

#include <string.h>

#if HS_HAVE_ANNOTATE

#define COND_NAME "__conditional_annotations__"

typedef struct {
    long index;
    int line;
} Entry;

typedef struct {
    Entry *items; /* PyMem, in bytecode order (= index order) */
    Py_ssize_t len;
} Entries;

static void
entries_clear(Entries *e)
{
    PyMem_Free(e->items);
    e->items = NULL;
    e->len = 0;
}

/* The (index, line) entries of a compiler-made __annotate__ code object.
 * 0, or -1 with an exception set. */
static int
entries_read(PyObject *code, Entries *out)
{
    HsOpIter it;
    PyObject *names = NULL, *consts = NULL;
    int result = -1, op;
    unsigned long arg;
    out->items = NULL;
    out->len = 0;
    if (hs_code_op_init(&it, code) < 0) {
        return -1;
    }
    if ((names = PyObject_GetAttrString(code, "co_names")) == NULL
        || (consts = PyObject_GetAttrString(code, "co_consts")) == NULL)
    {
        goto done;
    }
    out->items = PyMem_Malloc(sizeof(Entry) * (size_t)(it.len / 2 + 1));
    if (out->items == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    long last_int = -1;
    Py_ssize_t last_at = 0;
    while (hs_code_op_next(&it, &op, &arg)) {
        if (op == HS_OP_LOAD_GLOBAL && last_int >= 0) {
            Py_ssize_t k = (Py_ssize_t)HS_LOAD_GLOBAL_INDEX(arg);
            if (k < PyTuple_GET_SIZE(names)
                && PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(names, k),
                                                    COND_NAME)
                       == 0)
            {
                out->items[out->len].index = last_int;
                out->items[out->len].line =
                    PyCode_Addr2Line((PyCodeObject *)code, (int)last_at);
                out->len++;
            }
        }
        last_int = -1;
        if (op == HS_OP_LOAD_SMALL_INT) {
            last_int = (long)arg;
            last_at = it.at;
        }
        else if (op == HS_OP_LOAD_CONST
                 && (Py_ssize_t)arg < PyTuple_GET_SIZE(consts)
                 && PyLong_CheckExact(PyTuple_GET_ITEM(consts, arg)))
        {
            int overflow = 0; /* an exact int: no error, only overflow */
            last_int = PyLong_AsLongAndOverflow(PyTuple_GET_ITEM(consts, arg),
                                                &overflow);
            if (overflow || last_int < 0) {
                last_int = -1;
            }
            last_at = it.at;
        }
    }
    result = 0;
done:
    hs_code_op_clear(&it);
    Py_XDECREF(names);
    Py_XDECREF(consts);
    if (result < 0) {
        entries_clear(out);
    }
    return result;
}

/* Is `code` a module's __annotate__, not a def's (both are named
 * `__annotate__`, qualified name included, and both are constants of the
 * module's code)?  Only the module's reads __conditional_annotations__.
 * 1 / 0 / -1. */
static int
is_module_annotate_code(PyObject *code)
{
    PyObject *n = PyObject_GetAttrString(code, "co_name");
    PyObject *names = n ? PyObject_GetAttrString(code, "co_names") : NULL;
    int r = 0;
    if (names != NULL && PyUnicode_Check(n)
        && PyUnicode_CompareWithASCIIString(n, "__annotate__") == 0)
    {
        PyObject *cond = PyUnicode_FromString(COND_NAME);
        r = cond ? PySequence_Contains(names, cond) : -1;
        Py_XDECREF(cond);
    }
    Py_XDECREF(n);
    Py_XDECREF(names);
    return names == NULL ? -1 : r;
}

/* The module's __annotate__ when the compiler made it for this module's
 * source (a plain function named __annotate__ whose globals are the module
 * dict), a new reference; else NULL, with an exception on an error. */
static PyObject *
module_annotate(HsJob *job)
{
    PyObject *f = NULL;
    if (PyDict_GetItemStringRef(job->dict, "__annotate__", &f) <= 0) {
        return NULL;
    }
    int r = PyFunction_Check(f) && PyFunction_GET_GLOBALS(f) == job->dict
                    && PyFunction_GET_CLOSURE(f) == NULL
                ? is_module_annotate_code(PyFunction_GET_CODE(f))
                : 0;
    if (r != 1) {
        Py_DECREF(f);
        return NULL;
    }
    return f;
}

/* Do entries fall in [first, last]? */
static int
has_entries(const Entries *e, int first, int last)
{
    for (Py_ssize_t i = 0; i < e->len; i++) {
        if (e->items[i].line >= first && e->items[i].line <= last) {
            return 1;
        }
    }
    return 0;
}

/* Must the module's annotations be rebuilt?  `old`: the entries of the
 * live __annotate__ (none when the module has no compiler-made one: only
 * a staged statement with annotations counts then).  1 / 0. */
static int
annotations_touched(HsJob *job, const Entries *old)
{
    if (job->staged.ann_sets != NULL
        && PyDict_GET_SIZE(job->staged.ann_sets) > 0)
    {
        return 1; /* a staged statement holds module annotations */
    }
    HsChunkList *oc = job->src.old_chunks;
    if (oc == NULL) {
        return 0;
    }
    char *kept = PyMem_Calloc((size_t)oc->len + 1, 1);
    if (kept == NULL) {
        return 1;
    }
    for (Py_ssize_t i = 0; i < job->src.chunks.len; i++) {
        Py_ssize_t k = job->plan.match[i];
        if (k >= 0 && k < oc->len && job->plan.state[i] == HS_ST_UNCHANGED) {
            kept[k] = 1;
        }
    }
    int r = 0;
    for (Py_ssize_t k = 0; k < oc->len && !r; k++) {
        const HsChunk *o = &oc->items[k];
        r = !kept[k] && has_entries(old, o->line, o->last_line);
    }
    PyMem_Free(kept);
    return r;
}

/* The constant code object named __annotate__ of a module's code, borrowed,
 * or NULL (with an exception on an error). */
static PyObject *
annotate_const(PyObject *module_code)
{
    PyObject *consts = PyObject_GetAttrString(module_code, "co_consts");
    PyObject *found = NULL;
    if (consts == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(consts); i++) {
        PyObject *c = PyTuple_GET_ITEM(consts, i);
        /* the module's, not a def's (`f.__annotate__`: those are
         * constants of the module's code too) */
        int r = PyCode_Check(c) ? is_module_annotate_code(c) : 0;
        if (r != 0) {
            found = r > 0 ? c : NULL;
            break;
        }
    }
    Py_DECREF(consts);
    return found; /* the module code keeps it alive */
}

/* Does new chunk i hold module-level annotations?  A staged one made its
 * own set; a kept one had entries in its old lines. */
static int
chunk_annotated(HsJob *job, Py_ssize_t i, const Entries *old)
{
    if (PyList_GET_ITEM(job->plan.codes, i) != Py_None) {
        PyObject *idx = PyLong_FromSsize_t(i);
        int r = idx && job->staged.ann_sets
                    ? PyDict_Contains(job->staged.ann_sets, idx)
                    : (idx ? 0 : -1);
        Py_XDECREF(idx);
        return r;
    }
    if (job->plan.match[i] < 0 || job->src.old_chunks == NULL) {
        return 0;
    }
    const HsChunk *o = &job->src.old_chunks->items[job->plan.match[i]];
    return has_entries(old, o->line, o->last_line);
}

/* The module code whose __annotate__ constant is a fresh import's, without
 * compiling the whole file: the new text with every top-level statement
 * blanked out (lines kept) but the first one (the module's __annotate__
 * starts at it, its positions span it) and those holding module-level
 * annotations (their indices count in order: a statement without one
 * takes none).  Should that not compile, the whole text is compiled.
 * New reference. */
static PyObject *
compile_annotations(HsJob *job, const Entries *old)
{
    const char *text = PyBytes_AS_STRING(job->src.text);
    Py_ssize_t n = PyBytes_GET_SIZE(job->src.text);
    PyCompilerFlags flags = HS_COMPILER_FLAGS_INIT(
        job->plan.cf_flags | PyCF_IGNORE_COOKIE | PyCF_SOURCE_IS_UTF8);
    PyObject *buf = PyBytes_FromStringAndSize(NULL, n);
    if (buf == NULL) {
        return NULL;
    }
    char *p = PyBytes_AS_STRING(buf);
    for (Py_ssize_t i = 0; i < n; i++) {
        p[i] = text[i] == '\n' ? '\n' : ' ';
    }
    for (Py_ssize_t i = 0; i < job->src.chunks.len; i++) {
        const HsChunk *c = &job->src.chunks.items[i];
        int keep = i == 0 ? 1 : chunk_annotated(job, i, old);
        if (keep < 0) {
            Py_DECREF(buf);
            return NULL;
        }
        if (keep) {
            memcpy(p + c->start, text + c->start, (size_t)(c->end - c->start));
        }
    }
    PyObject *code =
        Py_CompileStringObject(p, job->filename, Py_file_input, &flags, -1);
    Py_DECREF(buf);
    if (code == NULL) {
        /* the blanked text may not compile where the whole file does (a
         * statement split wrongly): compile the whole file then */
        if (hs_err_clear_unless_fatal() < 0) {
            return NULL;
        }
        code = Py_CompileStringObject(text, job->filename, Py_file_input,
                                      &flags, -1);
    }
    return code;
}

/* Add to `set` the indices of `mine` (entries in [first, last] of the new
 * __annotate__) that ran: rank r ran iff `ran(r)`.  0 / -1. */
typedef struct {
    PyObject *local; /* staged statement: its own set, or NULL */
    const Entries *old;
    PyObject *old_set; /* the module's set before, or NULL */
    int old_first, old_last;
} Ran;

static int
rank_ran(const Ran *how, Py_ssize_t rank)
{
    if (how->local != NULL) {
        PyObject *r = PyLong_FromSsize_t(rank);
        int in = r ? PySet_Contains(how->local, r) : -1;
        Py_XDECREF(r);
        return in;
    }
    if (how->old == NULL || how->old_set == NULL) {
        return 1; /* unknown: as if it ran */
    }
    Py_ssize_t seen = 0;
    for (Py_ssize_t i = 0; i < how->old->len; i++) {
        const Entry *e = &how->old->items[i];
        if (e->line < how->old_first || e->line > how->old_last) {
            continue;
        }
        if (seen++ == rank) {
            PyObject *r = PyLong_FromLong(e->index);
            int in = r ? PySet_Contains(how->old_set, r) : -1;
            Py_XDECREF(r);
            return in;
        }
    }
    return 1;
}

static PyObject *
new_conditional_set(HsJob *job, const Entries *now, const Entries *old)
{
    PyObject *set = PySet_New(NULL), *old_set = NULL;
    if (set == NULL
        || PyDict_GetItemStringRef(job->dict, COND_NAME, &old_set) < 0)
    {
        Py_XDECREF(set);
        return NULL;
    }
    if (old_set != NULL && !PyAnySet_Check(old_set)) {
        Py_CLEAR(old_set);
    }
    for (Py_ssize_t ci = 0; ci < job->src.chunks.len; ci++) {
        const HsChunk *c = &job->src.chunks.items[ci];
        Ran how = {NULL, old, old_set, 0, -1};
        PyObject *idx = PyLong_FromSsize_t(ci);
        if (idx == NULL) {
            goto error;
        }
        if (PyList_GET_ITEM(job->plan.codes, ci) != Py_None) {
            how.local =
                job->staged.ann_sets
                    ? PyDict_GetItemWithError(job->staged.ann_sets, idx)
                    : NULL;
            if (how.local == NULL && PyErr_Occurred()) {
                Py_DECREF(idx);
                goto error;
            }
            if (how.local == NULL) {
                how.local = Py_None; /* staged, made no set: none ran */
            }
        }
        else if (job->plan.match[ci] >= 0 && job->src.old_chunks != NULL) {
            const HsChunk *o =
                &job->src.old_chunks->items[job->plan.match[ci]];
            how.old_first = o->line;
            how.old_last = o->last_line;
        }
        Py_DECREF(idx);
        Py_ssize_t rank = 0;
        for (Py_ssize_t i = 0; i < now->len; i++) {
            const Entry *e = &now->items[i];
            if (e->line < c->line || e->line > c->last_line) {
                continue;
            }
            int ran = how.local == Py_None ? 0 : rank_ran(&how, rank);
            rank++;
            PyObject *v = ran > 0 ? PyLong_FromLong(e->index) : NULL;
            if (ran < 0 || (ran > 0 && (v == NULL || PySet_Add(set, v) < 0))) {
                Py_XDECREF(v);
                goto error;
            }
            Py_XDECREF(v);
        }
    }
    Py_XDECREF(old_set);
    return set;
error:
    Py_XDECREF(old_set);
    Py_DECREF(set);
    return NULL;
}

/* Bind the module's __annotate__ to `code` (NULL: no annotations): swap
 * it into the compiler-made function the module has, else a new one. */
static int
set_annotate(HsJob *job, HsTxn *txn, PyObject *live, PyObject *code)
{
    PyObject *key = PyUnicode_FromString("__annotate__");
    int r = -1;
    if (key == NULL) {
        return -1;
    }
    if (code == NULL) {
        r = hs_txn_dict_set(txn, job->dict, key, NULL);
    }
    else if (live != NULL) {
        r = 0;
        if (PyFunction_GET_CODE(live) != code) {
            r = hs_txn_save_function(txn, live) < 0
                        || PyObject_SetAttrString(live, "__code__", code) < 0
                    ? -1
                    : 0;
        }
    }
    else {
        PyObject *f = PyFunction_New(code, job->dict);
        r = f ? hs_txn_dict_set(txn, job->dict, key, f) : -1;
        Py_XDECREF(f);
    }
    Py_DECREF(key);
    return r;
}

static int
set_entry(HsJob *job, HsTxn *txn, const char *name, PyObject *value)
{
    PyObject *key = PyUnicode_FromString(name);
    int r = key ? hs_txn_dict_set(txn, job->dict, key, value) : -1;
    Py_XDECREF(key);
    return r;
}

int
hs_annotate_module(HsJob *job, HsTxn *txn)
{
    PyObject *live = NULL, *whole = NULL, *set = NULL;
    Entries old = {NULL, 0}, now = {NULL, 0};
    int result = -1;
    if (job->plan.cf_flags & CO_FUTURE_ANNOTATIONS) {
        return 0; /* eager: the statements fill __annotations__ */
    }
    live = module_annotate(job);
    if (live == NULL && PyErr_Occurred()) {
        goto done;
    }
    if (job->plan.mode == HS_MODE_FULL) {
        /* the whole file ran: its __annotate__ and set are the fresh ones */
        PyObject *fn = NULL, *cond = NULL;
        if (PyDict_GetItemStringRef(job->staged.scratch, "__annotate__", &fn)
                < 0
            || PyDict_GetItemStringRef(job->staged.scratch, COND_NAME, &cond)
                   < 0)
        {
            Py_XDECREF(fn);
            goto done;
        }
        int r = set_annotate(
            job, txn, live,
            fn && PyFunction_Check(fn) ? PyFunction_GET_CODE(fn) : NULL);
        if (r == 0 && fn != NULL && !PyFunction_Check(fn)) {
            r = set_entry(job, txn, "__annotate__", fn);
        }
        if (r == 0) {
            r = set_entry(job, txn, COND_NAME, cond);
        }
        Py_XDECREF(fn);
        Py_XDECREF(cond);
        if (r < 0 || set_entry(job, txn, "__annotations__", NULL) < 0) {
            goto done;
        }
        result = 0;
        goto done;
    }
    if (job->plan.mode != HS_MODE_NORMAL) {
        result = 0;
        goto done;
    }
    if (live != NULL && entries_read(PyFunction_GET_CODE(live), &old) < 0) {
        goto done;
    }
    if (!annotations_touched(job, &old)) {
        result = 0;
        goto done;
    }
    whole = compile_annotations(job, &old);
    if (whole == NULL) {
        goto done;
    }
    PyObject *code = annotate_const(whole); /* borrowed from whole */
    if (code == NULL && PyErr_Occurred()) {
        goto done;
    }
    if (code != NULL) {
        if (entries_read(code, &now) < 0) {
            goto done;
        }
        set = new_conditional_set(job, &now, live ? &old : NULL);
        if (set == NULL) {
            goto done;
        }
    }
    if (set != NULL) {
        /* unchanged contents: the module keeps its set (data nobody
         * edited keeps its identity) */
        PyObject *was = NULL;
        if (PyDict_GetItemStringRef(job->dict, COND_NAME, &was) < 0) {
            goto done;
        }
        int same = was != NULL && PyAnySet_Check(was)
                       ? PyObject_RichCompareBool(was, set, Py_EQ)
                       : 0;
        if (same > 0) {
            Py_SETREF(set, was);
            was = NULL;
        }
        Py_XDECREF(was);
        if (same < 0) {
            goto done;
        }
    }
    if (set_annotate(job, txn, live, code) < 0
        || set_entry(job, txn, COND_NAME, set) < 0
        || set_entry(job, txn, "__annotations__", NULL) < 0)
    {
        goto done;
    }
    result = 0;
done:
    entries_clear(&old);
    entries_clear(&now);
    Py_XDECREF(live);
    Py_XDECREF(whole);
    Py_XDECREF(set);
    return result;
}

#else /* !HS_HAVE_ANNOTATE */

int
hs_annotate_module(HsJob *job, HsTxn *txn)
{
    (void)job;
    (void)txn;
    return 0;
}

#endif

/* ------------------------------------------------------------------ */
/* eager module annotations (3.9-3.13, `from __future__ import          */
/* annotations` on every version)                                      */

/* Add to the list `keys` the names the top level of `code` annotates:
 * `LOAD_NAME __annotations__; LOAD_CONST 'x'` (then STORE_SUBSCR) on
 * every version that stores module annotations eagerly.  0 / -1. */
static int
code_ann_keys(PyObject *code, PyObject *keys)
{
    int r = hs_stage_code_names_annotations(code);
    if (r <= 0) {
        return r;
    }
    HsOpIter it;
    if (hs_code_op_init(&it, code) < 0) {
        return -1;
    }
    PyObject *names = PyObject_GetAttrString(code, "co_names");
    PyObject *consts =
        names ? PyObject_GetAttrString(code, "co_consts") : NULL;
    int result = -1, after = 0, op;
    unsigned long arg;
    if (consts == NULL) {
        goto done;
    }
    while (hs_code_op_next(&it, &op, &arg)) {
        if (after && op == HS_OP_LOAD_CONST
            && (Py_ssize_t)arg < PyTuple_GET_SIZE(consts)
            && PyUnicode_Check(PyTuple_GET_ITEM(consts, arg))
            && PyList_Append(keys, PyTuple_GET_ITEM(consts, arg)) < 0)
        {
            goto done;
        }
        after =
            op == HS_OP_LOAD_NAME && (Py_ssize_t)arg < PyTuple_GET_SIZE(names)
            && PyUnicode_Check(PyTuple_GET_ITEM(names, arg))
            && PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(names, arg),
                                                "__annotations__")
                   == 0;
    }
    result = 0;
done:
    hs_code_op_clear(&it);
    Py_XDECREF(names);
    Py_XDECREF(consts);
    return result;
}

/* The names chunk `c` of `text` annotates at module level, added to the
 * list `keys`.  Only plain statements can (a def or class body stores
 * into its own namespace).  0 / -1. */
static int
chunk_ann_keys(HsJob *job, const char *text, const HsChunk *c, PyObject *keys)
{
    if (c->kind != HS_CHUNK_STMT && c->kind != HS_CHUNK_ASSIGN) {
        return 0;
    }
    if (memchr(text + c->start, ':', (size_t)(c->end - c->start)) == NULL) {
        return 0;
    }
    PyObject *code =
        hs_code_compile_range(job, text, c->start, c->end, c->line, c->start);
    if (code == NULL) {
        return -1;
    }
    int r = code_ann_keys(code, keys);
    Py_DECREF(code);
    return r;
}

/* Same entries in the same order, the values identical?  1 / 0. */
static int
same_dict(PyObject *a, PyObject *b)
{
    if (PyDict_GET_SIZE(a) != PyDict_GET_SIZE(b)) {
        return 0;
    }
    Py_ssize_t pa = 0, pb = 0;
    PyObject *ka, *va, *kb, *vb;
    while (PyDict_Next(a, &pa, &ka, &va) && PyDict_Next(b, &pb, &kb, &vb)) {
        if (ka != kb || va != vb) {
            return 0;
        }
    }
    return 1;
}

/* Into the set `dropped`, the names the replaced and the removed old
 * statements annotated.  The old statements a staged one replaced are
 * marked in one pass over the new ones (not a walk of the new statements
 * per old one: quadratic in the file's size on every reload).  `keys`: a
 * scratch list.  0 / -1. */
static int
dropped_keys(HsJob *job, PyObject *dropped, PyObject *keys)
{
    Py_ssize_t nold = job->src.old_chunks->len;
    char *replaced = PyMem_Calloc(nold > 0 ? (size_t)nold : 1, 1);
    if (replaced == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < job->src.chunks.len; i++) {
        Py_ssize_t j = job->plan.match[i];
        if (j >= 0 && j < nold
            && PyList_GET_ITEM(job->plan.codes, i) != Py_None)
        {
            replaced[j] = 1;
        }
    }
    int result = -1;
    for (Py_ssize_t j = 0; j < nold; j++) {
        if (job->plan.old_matched[j] && !replaced[j]) {
            continue;
        }
        if (PyList_SetSlice(keys, 0, PyList_GET_SIZE(keys), NULL) < 0
            || chunk_ann_keys(job, job->src.old_text,
                              &job->src.old_chunks->items[j], keys)
                   < 0)
        {
            goto done;
        }
        for (Py_ssize_t k = 0; k < PyList_GET_SIZE(keys); k++) {
            if (PySet_Add(dropped, PyList_GET_ITEM(keys, k)) < 0) {
                goto done;
            }
        }
    }
    result = 0;
done:
    PyMem_Free(replaced);
    return result;
}

int
hs_annotate_eager(HsJob *job, HsTxn *txn)
{
    PyObject *live = NULL, *now = NULL, *dropped = NULL, *keys = NULL;
    int result = -1;
    if (!hs_stage_eager_annotations(job)
        || (job->plan.mode != HS_MODE_NORMAL
            && job->plan.mode != HS_MODE_FULL))
    {
        return 0;
    }
    PyObject *name = PyUnicode_FromString("__annotations__");
    int got = name ? PyDict_GetItemRef(job->dict, name, &live) : -1;
    Py_XDECREF(name);
    if (got < 0) {
        return -1;
    }
    if (live != NULL && !PyDict_Check(live)) {
        result = 0; /* the program put something else there: its data */
        goto done;
    }
    now = PyDict_New();
    if (now == NULL) {
        goto done;
    }
    if (job->plan.mode == HS_MODE_FULL) {
        /* the whole file ran: its dict is a fresh import's */
        PyObject *idx = PyLong_FromLong(-1);
        PyObject *d = idx && job->staged.ann_eager
                          ? PyDict_GetItemWithError(job->staged.ann_eager, idx)
                          : NULL;
        Py_XDECREF(idx);
        if ((d == NULL && PyErr_Occurred())
            || (d && PyDict_Update(now, d) < 0))
        {
            goto done;
        }
    }
    else {
        const char *text = PyBytes_AS_STRING(job->src.text);
        dropped = PySet_New(NULL);
        keys = PyList_New(0);
        if (dropped == NULL || keys == NULL || job->src.old_chunks == NULL) {
            result = dropped && keys ? 0 : -1;
            goto done;
        }
        if (dropped_keys(job, dropped, keys) < 0) {
            goto done;
        }
        if (PySet_GET_SIZE(dropped) == 0
            && (job->staged.ann_eager == NULL
                || PyDict_GET_SIZE(job->staged.ann_eager) == 0))
        {
            result = 0; /* no statement with module annotations ran */
            goto done;
        }
        /* statement by statement, as a fresh import stores them: a staged
         * statement's own entries, a kept one's from the live dict */
        for (Py_ssize_t i = 0; i < job->src.chunks.len; i++) {
            if (PyList_GET_ITEM(job->plan.codes, i) != Py_None) {
                PyObject *idx = PyLong_FromSsize_t(i);
                PyObject *d =
                    idx && job->staged.ann_eager
                        ? PyDict_GetItemWithError(job->staged.ann_eager, idx)
                        : NULL;
                Py_XDECREF(idx);
                if ((d == NULL && PyErr_Occurred())
                    || (d && PyDict_Update(now, d) < 0))
                {
                    goto done;
                }
                continue;
            }
            if (live == NULL) {
                continue;
            }
            if (PyList_SetSlice(keys, 0, PyList_GET_SIZE(keys), NULL) < 0
                || chunk_ann_keys(job, text, &job->src.chunks.items[i], keys)
                       < 0)
            {
                goto done;
            }
            for (Py_ssize_t k = 0; k < PyList_GET_SIZE(keys); k++) {
                PyObject *key = PyList_GET_ITEM(keys, k);
                PyObject *v = PyDict_GetItemWithError(live, key);
                if ((v == NULL && PyErr_Occurred())
                    || (v && PyDict_SetItem(now, key, v) < 0))
                {
                    goto done;
                }
            }
        }
        /* entries no statement accounts for (the program's own) stay */
        Py_ssize_t pos = 0;
        PyObject *key, *v;
        while (live != NULL && PyDict_Next(live, &pos, &key, &v)) {
            int r = PyDict_Contains(now, key);
            if (r == 0) {
                r = PySet_Contains(dropped, key);
                if (r == 0) {
                    r = PyDict_SetItem(now, key, v);
                }
                else if (r == 1) {
                    r = 0;
                }
            }
            if (r < 0) {
                goto done;
            }
        }
    }
    if (live == NULL) {
        if (PyDict_GET_SIZE(now) > 0) {
            PyObject *k = PyUnicode_FromString("__annotations__");
            int r = k ? hs_txn_dict_set(txn, job->dict, k, now) : -1;
            Py_XDECREF(k);
            if (r < 0) {
                goto done;
            }
        }
    }
    else if (!same_dict(live, now) && hs_txn_dict_replace(txn, live, now) < 0)
    {
        goto done;
    }
    result = 0;
done:
    Py_XDECREF(live);
    Py_XDECREF(now);
    Py_XDECREF(dropped);
    Py_XDECREF(keys);
    return result;
}
