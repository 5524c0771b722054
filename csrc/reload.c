/* reload.c -- one batch, start to end.
 *
 *   SOURCE   read each module's bytes through its loader, compare with the
 *            snapshot (content, never mtime), scan the text into chunks
 *   PLAN     match new chunks with old ones: unchanged, moved, changed,
 *            added; old ones left over were removed
 *   STAGE    compile the changed chunks and run them in a scratch copy of
 *            the module dict (stage.c)
 *   APPLY    under the undo log (txn.c): patch functions (funcs.c) and
 *            classes (classes.c) in place, bind data per policy, shift the
 *            line numbers of moved definitions, delete removed names
 *   FINISH   new snapshots, linecache, the report; or roll everything back
 *            and raise ReloadError
 *
 * Main thread, GIL held, one batch at a time (HsState.busy).  The jobs
 * array and everything in it are owned by hs_reload().
 *
 * Modules of a batch are staged and applied one after another in
 * dependency order, so a module's new statements can import names the
 * module before it just gained.  Within one module, APPLY runs no Python
 * code in the common case (audit hooks, metaclass __setattr__ and
 * __set_name__ aside), so another thread sees either the old module or the
 * new one.  A failure anywhere rolls back every module of the batch.
 */
#include "reload.h"
#include "classes.h"
#include "frames.h"
#include "funcs.h"
#include "internals.h"
#include "job.h"
#include "report.h"
#include "source.h"
#include "stage.h"
#include "state.h"
#include "track.h"
#include "txn.h"

#include <string.h>
#include <time.h>

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------ */
/* jobs                                                                */

static void
job_clear(HsJob *job)
{
    Py_CLEAR(job->module);
    Py_CLEAR(job->name);
    Py_CLEAR(job->filename);
    Py_CLEAR(job->dict);
    Py_CLEAR(job->raw);
    Py_CLEAR(job->text);
    Py_CLEAR(job->snap);
    hs_chunks_clear(&job->chunks);
    PyMem_Free(job->state);
    PyMem_Free(job->match);
    PyMem_Free(job->old_matched);
    PyMem_Free(job->stripped);
    job->state = NULL;
    job->match = NULL;
    job->old_matched = NULL;
    job->stripped = NULL;
    Py_CLEAR(job->codes);
    Py_CLEAR(job->full_code);
    Py_CLEAR(job->scratch);
    Py_CLEAR(job->class_updates);
    Py_CLEAR(job->def_results);
    Py_CLEAR(job->entries);
}

static PyObject *
resolve_module(PyObject *target)
{
    if (PyModule_Check(target)) {
        return Py_NewRef(target);
    }
    if (PyUnicode_Check(target)) {
        PyObject *modules = PyImport_GetModuleDict(); /* borrowed */
        PyObject *m = NULL;
        if (PyDict_GetItemRef(modules, target, &m) < 0) {
            return NULL;
        }
        if (m == NULL || !PyModule_Check(m)) {
            Py_XDECREF(m);
            PyErr_Format(PyExc_ImportError,
                         "hotswap.reload: module %R is not imported", target);
            return NULL;
        }
        return m;
    }
    PyErr_Format(PyExc_TypeError,
                 "hotswap.reload() takes modules or dotted module names, "
                 "not %.200s", Py_TYPE(target)->tp_name);
    return NULL;
}

static int
is_namespace_package(PyObject *module)
{
    PyObject *file = NULL, *path = NULL;
    if (PyObject_GetOptionalAttrString(module, "__file__", &file) < 0
        || PyObject_GetOptionalAttrString(module, "__path__", &path) < 0) {
        Py_XDECREF(file);
        PyErr_Clear();
        return 0;
    }
    int r = (file == NULL || file == Py_None) && path != NULL;
    Py_XDECREF(file);
    Py_XDECREF(path);
    return r;
}

/* ------------------------------------------------------------------ */
/* PLAN                                                                */

static int contains_bytes(const char *hay, Py_ssize_t n, const char *needle,
                          Py_ssize_t m);
static int is_own_class(HsJob *job, PyObject *v);

typedef struct {
    uint64_t *keys;
    Py_ssize_t *vals;
    Py_ssize_t mask;
} KeyMap;

static int
keymap_init(KeyMap *km, const HsChunkList *list)
{
    Py_ssize_t size = 16;
    while (size < list->len * 2 + 2) {
        size *= 2;
    }
    km->keys = PyMem_Calloc(size, sizeof(uint64_t));
    km->vals = PyMem_Malloc(size * sizeof(Py_ssize_t));
    km->mask = size - 1;
    if (km->keys == NULL || km->vals == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < size; i++) {
        km->vals[i] = -1;
    }
    for (Py_ssize_t i = 0; i < list->len; i++) {
        uint64_t k = list->items[i].key;
        Py_ssize_t h = (Py_ssize_t)(k & (uint64_t)km->mask);
        while (km->vals[h] >= 0) {
            h = (h + 1) & km->mask;
        }
        km->keys[h] = k;
        km->vals[h] = i;
    }
    return 0;
}

static Py_ssize_t
keymap_get(const KeyMap *km, uint64_t k)
{
    Py_ssize_t h = (Py_ssize_t)(k & (uint64_t)km->mask);
    while (km->vals[h] >= 0) {
        if (km->keys[h] == k) {
            return km->vals[h];
        }
        h = (h + 1) & km->mask;
    }
    return -1;
}

static void
keymap_free(KeyMap *km)
{
    PyMem_Free(km->keys);
    PyMem_Free(km->vals);
}

static int
same_bytes(const char *a, Py_ssize_t as, Py_ssize_t ae, const char *b,
           Py_ssize_t bs, Py_ssize_t be)
{
    return ae - as == be - bs && memcmp(a + as, b + bs, ae - as) == 0;
}

static int
plan_alloc(HsJob *job)
{
    Py_ssize_t n = job->chunks.len ? job->chunks.len : 1;
    Py_ssize_t m = job->old_chunks && job->old_chunks->len
                       ? job->old_chunks->len : 1;
    job->state = PyMem_Calloc(n, 1);
    job->match = PyMem_Malloc(n * sizeof(Py_ssize_t));
    job->stripped = PyMem_Calloc(n, 1);
    job->old_matched = PyMem_Calloc(m, 1);
    if (!job->state || !job->match || !job->stripped || !job->old_matched) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < job->chunks.len; i++) {
        job->match[i] = -1;
    }
    return 0;
}

static PyObject *
chunk_name(const char *text, const HsChunk *c)
{
    return PyUnicode_DecodeUTF8(text + c->name, c->name_len, "strict");
}

static int
plan_nosnap(HsJob *job)
{
    const char *text = PyBytes_AS_STRING(job->text);
    for (Py_ssize_t i = 0; i < job->chunks.len; i++) {
        HsChunk *c = &job->chunks.items[i];
        job->state[i] = HS_ST_UNCHANGED;
        if (c->name_len == 0) {
            continue;
        }
        PyObject *name = chunk_name(text, c);
        if (name == NULL) {
            return -1;
        }
        int has = PyDict_Contains(job->dict, name);
        Py_DECREF(name);
        if (has < 0) {
            return -1;
        }
        if (!has) {
            job->state[i] = HS_ST_ADDED;
        }
        else if (c->kind == HS_CHUNK_DEF || c->kind == HS_CHUNK_CLASS) {
            job->state[i] = HS_ST_CHANGED;
            job->stripped[i] = 1;
        }
    }
    return 0;
}

static int
plan_normal(HsJob *job)
{
    const char *nt = PyBytes_AS_STRING(job->text);
    const char *ot = job->old_text;
    HsChunkList *old = job->old_chunks;
    KeyMap km = {0};
    if (keymap_init(&km, old) < 0) {
        keymap_free(&km);
        return -1;
    }
    for (Py_ssize_t i = 0; i < job->chunks.len; i++) {
        HsChunk *c = &job->chunks.items[i];
        Py_ssize_t j = keymap_get(&km, c->key);
        if (j < 0 || job->old_matched[j]) {
            job->state[i] = HS_ST_ADDED;
            continue;
        }
        HsChunk *o = &old->items[j];
        job->old_matched[j] = 1;
        job->match[i] = j;
        if (o->hash == c->hash
            && same_bytes(ot, o->start, o->end, nt, c->start, c->end)) {
            job->state[i] = o->line == c->line ? HS_ST_UNCHANGED
                                               : HS_ST_MOVED;
            continue;
        }
        job->state[i] = HS_ST_CHANGED;
        int same_deco = same_bytes(ot, o->start, o->head, nt, c->start,
                                   c->head);
        if (c->kind == HS_CHUNK_DEF && o->kind == c->kind && same_deco) {
            /* decorators unchanged: they stay as they are on the live
             * object and are not run again */
            job->stripped[i] = 1;
        }
        else if (c->kind == HS_CHUNK_CLASS && o->kind == c->kind) {
            /* class decorators are never re-run on the live class (2:
             * they changed, which the report says: HS206) */
            job->stripped[i] = same_deco ? 1 : 2;
        }
    }
    keymap_free(&km);
    /* a __future__ import that changed changes how every chunk compiles */
    for (Py_ssize_t i = 0; i < job->chunks.len; i++) {
        if (job->chunks.items[i].kind == HS_CHUNK_FUTURE
            && job->state[i] != HS_ST_UNCHANGED
            && job->state[i] != HS_ST_MOVED) {
            job->mode = HS_MODE_FULL;
        }
    }
    for (Py_ssize_t j = 0; j < old->len; j++) {
        if (!job->old_matched[j] && old->items[j].kind == HS_CHUNK_FUTURE) {
            job->mode = HS_MODE_FULL;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* statements run again for the sake of changed ones                   */

static int
chunk_is_kept(HsJob *job, Py_ssize_t k)
{
    return job->state[k] == HS_ST_UNCHANGED || job->state[k] == HS_ST_MOVED;
}

/* Does kept chunk k bind (which=0) or delete (which=1) `name`?
 * 1 / 0 / -1. */
static int
chunk_touches(HsJob *job, Py_ssize_t k, PyObject *name, const char *s,
              Py_ssize_t n, int which)
{
    const char *text = PyBytes_AS_STRING(job->text);
    HsChunk *c = &job->chunks.items[k];
    if (which == 0 && c->name_len == n && memcmp(text + c->name, s, n) == 0) {
        return 1;
    }
    if (c->kind == HS_CHUNK_DEF || c->kind == HS_CHUNK_CLASS
        || (which == 0 && c->kind == HS_CHUNK_ASSIGN)) {
        /* a simple assignment binds its one target (chained "a = b = 1"
         * is read as binding "a" only) */
        return 0;
    }
    if (!contains_bytes(text + c->start, c->end - c->start, s, n)
        && (which == 1
            || !contains_bytes(text + c->start, c->end - c->start, "*", 1))) {
        return 0;
    }
    PyObject *code = hs_stage_compile_range(job, text, c->start, c->end,
                                            c->line, c->start);
    if (code == NULL) {
        return -1;
    }
    PyObject *names = PySet_New(NULL);
    int r = -1;
    if (names != NULL) {
        r = which == 0 ? hs_stage_stored_names(code, names)
                       : hs_stage_deleted_names(code, names);
        if (r == 0) {
            r = PySet_Contains(names, name);
        }
        else if (r == 1) {
            r = 2; /* a star import: it may bind anything */
        }
    }
    Py_XDECREF(names);
    Py_DECREF(code);
    return r;
}

static int
mark_rerun(HsJob *job, Py_ssize_t k, PyObject *bound)
{
    const char *text = PyBytes_AS_STRING(job->text);
    HsChunk *c = &job->chunks.items[k];
    PyObject *code = hs_stage_compile_range(job, text, c->start, c->end,
                                            c->line, c->start);
    if (code == NULL) {
        return -1;
    }
    job->state[k] = HS_ST_RERUN;
    if (bound != NULL && hs_stage_stored_names(code, bound) < 0) {
        Py_DECREF(code);
        return -1;
    }
    return PyList_SetItem(job->codes, k, code); /* steals */
}

/* The data policy does not run unchanged statements again, but a changed
 * statement may need a name that only an unchanged one binds and a later
 * one deletes ("import re" ... "del re"): run those again too, so the
 * changed statement sees what a fresh import would. */
static int
plan_reruns(HsJob *job)
{
    if (job->mode != HS_MODE_NORMAL) {
        return 0;
    }
    PyObject *builtins = PyEval_GetBuiltins(); /* borrowed */
    PyObject *bound = PySet_New(NULL), *loaded = NULL;
    int result = -1;
    if (bound == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < job->chunks.len; i++) {
        PyObject *code = PyList_GET_ITEM(job->codes, i);
        if (code == Py_None || job->state[i] == HS_ST_RERUN) {
            continue;
        }
        Py_XSETREF(loaded, PySet_New(NULL));
        if (loaded == NULL || hs_stage_loaded_names(code, loaded) < 0) {
            goto done;
        }
        PyObject *it = PyObject_GetIter(loaded), *name;
        while (it != NULL && (name = PyIter_Next(it)) != NULL) {
            int known = PySet_Contains(bound, name);
            if (known == 0) {
                known = PyDict_Contains(job->dict, name);
            }
            if (known == 0) {
                known = PyDict_Contains(builtins, name);
            }
            Py_ssize_t n;
            const char *s = known == 0 ? PyUnicode_AsUTF8AndSize(name, &n)
                                       : NULL;
            for (Py_ssize_t k = i - 1; s != NULL && k >= 0; k--) {
                if (!chunk_is_kept(job, k)) {
                    continue;
                }
                int t = chunk_touches(job, k, name, s, n, 0);
                if (t < 0 || (t >= 1 && mark_rerun(job, k, bound) < 0)) {
                    known = -1;
                    break;
                }
                if (t == 0) {
                    continue;
                }
                /* and the statements after it that delete the name */
                for (Py_ssize_t d = k + 1; d < job->chunks.len; d++) {
                    if (!chunk_is_kept(job, d)) {
                        continue;
                    }
                    int del = chunk_touches(job, d, name, s, n, 1);
                    if (del < 0 || (del == 1 && mark_rerun(job, d, NULL) < 0)) {
                        known = -1;
                        break;
                    }
                }
                break;
            }
            Py_DECREF(name);
            if (known < 0 || (s == NULL && PyErr_Occurred())) {
                Py_DECREF(it);
                goto done;
            }
        }
        Py_XDECREF(it);
        if (PyErr_Occurred() || hs_stage_stored_names(code, bound) < 0) {
            goto done;
        }
    }
    result = 0;
done:
    Py_DECREF(bound);
    Py_XDECREF(loaded);
    return result;
}

/* Is `name`, bound by staged chunk ci, bound again by a later statement
 * that did not change?  Then the live value is already the one a fresh
 * import ends with.  1 / 0 / -1. */
/* For bound_again_later() when many names are checked: the last kept
 * def/class/simple assignment binding each name, and the kept statements
 * that bind names the scanner cannot tell (imports, compound statements).
 * Built once per module, in one pass. */
typedef struct {
    PyObject *last_named; /* dict: name -> index of the last kept chunk */
    Py_ssize_t *unnamed;  /* PyMem: indices of other kept chunks, ascending */
    Py_ssize_t nunnamed;
} LaterMap;

static void
later_map_clear(LaterMap *lm)
{
    Py_CLEAR(lm->last_named);
    PyMem_Free(lm->unnamed);
    lm->unnamed = NULL;
    lm->nunnamed = 0;
}

static int
later_map_build(HsJob *job, LaterMap *lm)
{
    const char *text = PyBytes_AS_STRING(job->text);
    lm->last_named = PyDict_New();
    lm->unnamed = PyMem_Calloc(job->chunks.len ? job->chunks.len : 1,
                               sizeof(Py_ssize_t));
    if (lm->last_named == NULL || lm->unnamed == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t k = 0; k < job->chunks.len; k++) {
        if (!chunk_is_kept(job, k)) {
            continue;
        }
        HsChunk *c = &job->chunks.items[k];
        if (c->name_len == 0) {
            lm->unnamed[lm->nunnamed++] = k;
            continue;
        }
        PyObject *n = chunk_name(text, c);
        PyObject *v = n ? PyLong_FromSsize_t(k) : NULL;
        int r = v ? PyDict_SetItem(lm->last_named, n, v) : -1;
        Py_XDECREF(n);
        Py_XDECREF(v);
        if (r < 0) {
            return -1;
        }
    }
    return 0;
}

static int
bound_again_later(HsJob *job, PyObject *name, Py_ssize_t ci, LaterMap *lm)
{
    if (job->mode != HS_MODE_NORMAL || ci < 0) {
        return 0;
    }
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(name, &n);
    if (s == NULL) {
        return -1;
    }
    Py_ssize_t count = job->chunks.len, *which = NULL;
    if (lm != NULL && lm->last_named != NULL) {
        PyObject *last = PyDict_GetItemWithError(lm->last_named, name);
        if (last == NULL && PyErr_Occurred()) {
            return -1;
        }
        if (last != NULL && PyLong_AsSsize_t(last) > ci) {
            return 1;
        }
        which = lm->unnamed;
        count = lm->nunnamed;
    }
    for (Py_ssize_t w = 0; w < count; w++) {
        Py_ssize_t k = which ? which[w] : w;
        if (k <= ci || !chunk_is_kept(job, k)) {
            continue;
        }
        int t = chunk_touches(job, k, name, s, n, 0);
        if (t < 0) {
            return -1;
        }
        if (t == 2) {
            /* a star import binds what its module exports: look at the
             * live value, which is still this module's own definition
             * unless the import replaced it */
            PyObject *v = NULL;
            if (PyDict_GetItemRef(job->dict, name, &v) < 0) {
                return -1;
            }
            int own = v != NULL
                      && ((PyFunction_Check(v)
                           && PyFunction_GET_GLOBALS(v) == job->dict)
                          || is_own_class(job, v));
            Py_XDECREF(v);
            t = !own;
        }
        if (t) {
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* SOURCE + PLAN + compile, for one module                             */

typedef struct {
    const char *code;   /* diagnostic code of the failure */
} Failure;

static int
prepare_job(HsState *st, HsJob *job, Failure *fail)
{
    const char *code = NULL;
    job->name = PyModule_GetNameObject(job->module);
    if (job->name == NULL) {
        fail->code = "HS505";
        return -1;
    }
    job->dict = Py_NewRef(PyModule_GetDict(job->module));
    job->entries = PyList_New(0);
    if (job->entries == NULL) {
        return -1;
    }
    if (is_namespace_package(job->module)) {
        job->changed = 0;
        return 0;
    }
    job->filename = hs_source_filename(job->module);
    if (job->filename == NULL) {
        fail->code = "HS505";
        return -1;
    }
    if (hs_source_read(job->module, job->filename, &job->raw, &job->text,
                       &code) < 0) {
        fail->code = code;
        return -1;
    }
    PyObject *snap = PyDict_GetItemWithError(st->snapshots, job->name);
    if (snap == NULL && PyErr_Occurred()) {
        return -1;
    }
    if (snap != NULL) {
        HsSnapshot *s = (HsSnapshot *)snap;
        int same = PyObject_RichCompareBool(s->raw, job->raw, Py_EQ);
        if (same < 0) {
            return -1;
        }
        if (same) {
            job->changed = 0;
            return 0;
        }
        if (hs_snapshot_prepare(s) < 0) {
            /* the old source no longer decodes: compare with live code */
            PyErr_Clear();
        }
        else {
            job->snap = Py_NewRef(snap);
            job->old_text = PyBytes_AS_STRING(s->text);
            job->old_chunks = &s->chunks;
        }
    }
    job->changed = 1;
    if (hs_scan(PyBytes_AS_STRING(job->text), 0,
                PyBytes_GET_SIZE(job->text), 1, &job->chunks) < 0) {
        return -1;
    }
    if (job->chunks.len == 0 && !job->chunks.unsure
        && (job->old_chunks ? job->old_chunks->len > 0
                            : PyBytes_GET_SIZE(job->raw) == 0)) {
        fail->code = "HS506";
        PyErr_Format(PyExc_ValueError,
                     "%U is empty while the loaded module is not (a save "
                     "in progress?); refusing to delete every definition",
                     job->filename);
        return -1;
    }
    job->mode = job->old_chunks == NULL ? HS_MODE_NOSNAP : HS_MODE_NORMAL;
    if (job->chunks.unsure
        || (job->old_chunks != NULL && job->old_chunks->unsure)) {
        job->mode = HS_MODE_FULL;
    }
    if (plan_alloc(job) < 0) {
        return -1;
    }
    if (job->mode == HS_MODE_NOSNAP && plan_nosnap(job) < 0) {
        return -1;
    }
    if (job->mode == HS_MODE_NORMAL && plan_normal(job) < 0) {
        return -1;
    }
    if (hs_stage_compile(job) < 0) {
        fail->code = "HS503";
        return -1;
    }
    return plan_reruns(job);
}

/* ------------------------------------------------------------------ */
/* APPLY helpers                                                       */

static const char *
chunk_kind_name(HsChunkKind k)
{
    switch (k) {
        case HS_CHUNK_DEF:
            return "function";
        case HS_CHUNK_CLASS:
            return "class";
        case HS_CHUNK_IMPORT:
        case HS_CHUNK_FUTURE:
            return "import";
        case HS_CHUNK_ASSIGN:
            return "data";
        default:
            return "statement";
    }
}

/* Functions created while staging got the scratch dict as globals; move
 * them to the module dict.  They are all young: the collector was off
 * while staging, so they are in generation 0, unless staged code
 * collected explicitly, in which case every tracked object is looked
 * at. */
static int
rebase_functions(HsJob *job, int full_walk)
{
    PyObject *gc = PyImport_ImportModule("gc");
    if (gc == NULL) {
        return -1;
    }
    PyObject *objs = full_walk
                         ? PyObject_CallMethod(gc, "get_objects", NULL)
                         : PyObject_CallMethod(gc, "get_objects", "i", 0);
    Py_DECREF(gc);
    if (objs == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(objs); i++) {
        PyObject *o = PyList_GET_ITEM(objs, i);
        if (PyFunction_Check(o) && PyFunction_GET_GLOBALS(o) == job->scratch) {
            hs_function_rebase_globals(o, job->dict);
        }
    }
    Py_DECREF(objs);
    return 0;
}

static int
in_keep_list(HsJob *job, PyObject *name)
{
    PyObject *keep = PyDict_GetItemString(job->scratch, "__hotswap_keep__");
    if (keep == NULL) {
        keep = PyDict_GetItemString(job->dict, "__hotswap_keep__");
    }
    if (keep == NULL) {
        return 0;
    }
    int r = PySequence_Contains(keep, name);
    if (r < 0) {
        /* not a container: treat as not kept, but say why */
        PyErr_Clear();
        return 0;
    }
    return r;
}

/* The policy's verdict for a data name: 1 rebind, 0 keep, -1 error. */
static int
ask_policy(HsJob *job, PyObject *name, PyObject *old, PyObject *new)
{
    PyObject *policy = job->policy;
    if (policy == NULL || policy == Py_None) {
        policy = PyDict_GetItemString(job->scratch, "__hotswap_policy__");
    }
    if (policy == NULL || policy == Py_None || !PyCallable_Check(policy)) {
        return 1;
    }
    PyObject *r = PyObject_CallFunctionObjArgs(policy, job->name, name, old,
                                               new, NULL);
    if (r == NULL) {
        return -1;
    }
    int v = PyObject_IsTrue(r);
    Py_DECREF(r);
    return v;
}

static int
is_own_class(HsJob *job, PyObject *v)
{
    if (!PyType_Check(v)) {
        return 0;
    }
    PyObject *mod = NULL;
    if (PyObject_GetOptionalAttrString(v, "__module__", &mod) < 0) {
        PyErr_Clear();
        return 0;
    }
    int r = mod && PyUnicode_Check(mod)
            && PyUnicode_Compare(mod, job->name) == 0;
    Py_XDECREF(mod);
    return r;
}

typedef struct {
    HsJob *job;
    HsTxn *txn;
    PyObject *nested;
    PyObject *chunk_of; /* dict: name -> index of the staged chunk */
} Apply;

static int
set_name(Apply *ap, PyObject *name, PyObject *value)
{
    return hs_txn_dict_set(ap->txn, ap->job->dict, name, value);
}

/* One module-level name the staged code bound (new may be NULL: deleted). */
static int
reconcile(Apply *ap, PyObject *name, PyObject *old, PyObject *new)
{
    HsJob *job = ap->job;
    Py_ssize_t ci = -1;
    PyObject *idx = PyDict_GetItemWithError(ap->chunk_of, name);
    if (idx == NULL && PyErr_Occurred()) {
        return -1;
    }
    if (idx != NULL) {
        ci = PyLong_AsSsize_t(idx);
    }
    HsChunk *c = ci >= 0 ? &job->chunks.items[ci] : NULL;
    int line = c ? c->head_line : 0;
    const char *kind = c ? chunk_kind_name(c->kind) : "data";

    if (old != NULL && in_keep_list(job, name)) {
        return hs_report_add(job, name, kind, "kept", "HS401", line,
                             "listed in __hotswap_keep__");
    }
    if (new == NULL) {
        if (old == NULL) {
            return 0;
        }
        if (set_name(ap, name, NULL) < 0) {
            return -1;
        }
        return hs_report_add(job, name, kind, "removed", NULL, line, NULL);
    }
    if (old == NULL) {
        if (set_name(ap, name, new) < 0) {
            return -1;
        }
        if (c != NULL && (c->kind == HS_CHUNK_IMPORT
                          || c->kind == HS_CHUNK_FUTURE)) {
            kind = "import";
        }
        else if (PyModule_Check(new)) {
            kind = "import";
        }
        else if (PyType_Check(new)) {
            kind = "class";
        }
        else if (PyFunction_Check(new)) {
            kind = "function";
        }
        return hs_report_add(job, name, kind, "added", NULL, line, NULL);
    }

    /* functions: patch the old one in place */
    PyObject *fo = NULL, *fn = NULL;
    if (!PyType_Check(old) && !PyModule_Check(old) && !PyType_Check(new)
        && !PyModule_Check(new)) {
        fo = hs_func_find(old, job->dict, name);
        if (fo == NULL && PyErr_Occurred()) {
            return -1;
        }
        if (fo != NULL) {
            fn = hs_func_find(new, job->dict, name);
            if (fn == NULL && PyErr_Occurred()) {
                Py_DECREF(fo);
                return -1;
            }
        }
    }
    if (fo != NULL && fn != NULL && fo != fn) {
        int r = hs_func_patch(ap->txn, fo, PyFunction_GET_CODE(fn), fn,
                              ap->nested);
        Py_DECREF(fo);
        Py_DECREF(fn);
        if (r < 0) {
            return -1;
        }
        if (r == HS_PATCH_KIND || r == HS_PATCH_FREEVARS) {
            if (set_name(ap, name, new) < 0) {
                return -1;
            }
            return hs_report_add(
                job, name, "function", "replaced",
                r == HS_PATCH_KIND ? "HS101" : "HS104", line,
                r == HS_PATCH_KIND
                    ? "became or stopped being a generator or coroutine; "
                      "references taken before the reload keep the old "
                      "function"
                    : "the new code needs a free variable the old function "
                      "does not have; references taken before the reload "
                      "keep the old function");
        }
        int deco_changed = c != NULL && c->kind == HS_CHUNK_DEF
                           && !job->stripped[ci] && job->match[ci] >= 0;
        if (deco_changed) {
            /* the old decorators keep the old function: it follows the new
             * one's code from now on, and its caches are stale */
            if (set_name(ap, name, new) < 0
                || hs_func_follow_replacement(old, new, job->dict, name) < 0) {
                return -1;
            }
            return hs_report_add(job, name, "function", "replaced", "HS102",
                                 line,
                                 "decorators changed: the name refers to the "
                                 "newly decorated object; references taken "
                                 "before the reload run the new body under "
                                 "the old decorators");
        }
        int stripped = c != NULL && job->stripped[ci];
        if (!stripped && Py_TYPE(old) != Py_TYPE(new)) {
            /* a wrapper of another kind: the new binding is the truth */
            if (set_name(ap, name, new) < 0) {
                return -1;
            }
            return hs_report_add(job, name, "function", "replaced", "HS103",
                                 line,
                                 "the object wrapping this function changed "
                                 "kind");
        }
        if (hs_txn_keep(ap->txn, new) < 0) {
            return -1;
        }
        if ((r == HS_PATCH_UPDATED || r == HS_PATCH_MOVED)
            && hs_func_clear_cache(old) < 0) {
            return -1;
        }
        if (r == HS_PATCH_NOOP) {
            return 0;
        }
        return hs_report_add(job, name, "function",
                             r == HS_PATCH_MOVED ? "moved" : "updated", NULL,
                             line, NULL);
    }
    Py_XDECREF(fo);
    Py_XDECREF(fn);

    /* classes: updated in place by the staging hook */
    if (is_own_class(job, old)) {
        if (old == new) {
            return 0;
        }
        if (set_name(ap, name, new) < 0) {
            return -1;
        }
        return hs_report_add(job, name, "class", "replaced", "HS103", line,
                             "the name now refers to another object; "
                             "references taken before the reload keep the "
                             "old class");
    }
    int old_def = PyFunction_Check(old) || is_own_class(job, old);
    int new_def = PyFunction_Check(new) || is_own_class(job, new);
    if ((old_def || new_def) && Py_TYPE(old) != Py_TYPE(new)) {
        if (set_name(ap, name, new) < 0) {
            return -1;
        }
        return hs_report_add(job, name, kind, "replaced", "HS103", line,
                             "the kind of this definition changed; "
                             "references taken before the reload keep the "
                             "old object");
    }

    /* data */
    if (job->mode == HS_MODE_FULL) {
        int eq = PyObject_RichCompareBool(old, new, Py_EQ);
        if (eq < 0) {
            PyErr_Clear();
            eq = 0;
        }
        if (eq) {
            return 0;
        }
        return hs_report_add(job, name, kind, "kept", "HS001", line,
                             "the file was run as a whole; existing data "
                             "keeps its value");
    }
    int verdict = ask_policy(job, name, old, new);
    if (verdict < 0) {
        return -1;
    }
    if (!verdict) {
        return hs_report_add(job, name, kind, "kept", "HS402", line,
                             "the policy kept the old value");
    }
    if (set_name(ap, name, new) < 0) {
        return -1;
    }
    if (PyModule_Check(new)) {
        kind = "import";
    }
    return hs_report_add(job, name, kind, "updated", NULL, line, NULL);
}

/* Names bound by the staged code, in a deterministic order. */
static PyObject *
staged_names(HsJob *job, int *star, PyObject *chunk_of)
{
    PyObject *names = PySet_New(NULL);
    if (names == NULL) {
        return NULL;
    }
    *star = 0;
    if (job->mode == HS_MODE_FULL) {
        int r = hs_stage_stored_names(job->full_code, names);
        if (r < 0) {
            Py_DECREF(names);
            return NULL;
        }
        *star |= r;
        return names;
    }
    for (Py_ssize_t i = 0; i < job->chunks.len; i++) {
        PyObject *code = PyList_GET_ITEM(job->codes, i);
        if (code == Py_None) {
            continue;
        }
        PyObject *mine = PySet_New(NULL);
        int r = mine ? hs_stage_stored_names(code, mine) : -1;
        PyObject *idx = r >= 0 ? PyLong_FromSsize_t(i) : NULL;
        PyObject *it = idx ? PyObject_GetIter(mine) : NULL, *n;
        while (it != NULL && (n = PyIter_Next(it)) != NULL) {
            if (PySet_Add(names, n) < 0
                || PyDict_SetItem(chunk_of, n, idx) < 0) {
                r = -1;
            }
            Py_DECREF(n);
        }
        if (it == NULL || PyErr_Occurred()) {
            r = -1;
        }
        Py_XDECREF(it);
        Py_XDECREF(idx);
        Py_XDECREF(mine);
        if (r < 0) {
            Py_DECREF(names);
            return NULL;
        }
        *star |= r;
    }
    return names;
}

static int
contains_bytes(const char *hay, Py_ssize_t n, const char *needle,
               Py_ssize_t m)
{
    if (m == 0 || m > n) {
        return 0;
    }
    for (Py_ssize_t i = 0; i + m <= n; i++) {
        if (hay[i] == needle[0] && memcmp(hay + i, needle, m) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Does an unchanged statement of the new source bind `name`? */
static int
bound_by_kept_chunk(HsJob *job, PyObject *name)
{
    const char *text = PyBytes_AS_STRING(job->text);
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(name, &n);
    if (s == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < job->chunks.len; i++) {
        HsChunk *c = &job->chunks.items[i];
        if (job->state[i] != HS_ST_UNCHANGED && job->state[i] != HS_ST_MOVED) {
            continue;
        }
        if (c->name_len == n && memcmp(text + c->name, s, n) == 0) {
            return 1;
        }
        if (c->kind == HS_CHUNK_DEF || c->kind == HS_CHUNK_CLASS) {
            continue;
        }
        if (!contains_bytes(text + c->start, c->end - c->start, s, n)
            && !contains_bytes(text + c->start, c->end - c->start, "*", 1)) {
            continue;
        }
        PyObject *code = hs_stage_compile_range(job, text, c->start, c->end,
                                                c->line, c->start);
        if (code == NULL) {
            return -1;
        }
        PyObject *names = PySet_New(NULL);
        int r = names ? hs_stage_stored_names(code, names) : -1;
        Py_DECREF(code);
        if (r == 0) {
            r = PySet_Contains(names, name);
        }
        Py_XDECREF(names);
        if (r != 0) {
            return r; /* found, star import, or error */
        }
    }
    return 0;
}

static int
remove_deleted(Apply *ap, PyObject *staged)
{
    HsJob *job = ap->job;
    HsChunkList *old = job->old_chunks;
    if (job->mode != HS_MODE_NORMAL || old == NULL) {
        return 0;
    }
    for (Py_ssize_t j = 0; j < old->len; j++) {
        if (job->old_matched[j]) {
            continue;
        }
        HsChunk *o = &old->items[j];
        PyObject *names = PySet_New(NULL);
        if (names == NULL) {
            return -1;
        }
        int star = 0;
        if (o->name_len > 0 && o->kind != HS_CHUNK_ASSIGN) {
            PyObject *n = chunk_name(job->old_text, o);
            if (n == NULL || PySet_Add(names, n) < 0) {
                Py_XDECREF(n);
                Py_DECREF(names);
                return -1;
            }
            Py_DECREF(n);
        }
        else {
            PyObject *code = hs_stage_compile_range(job, job->old_text,
                                                    o->start, o->end, o->line,
                                                    o->start);
            if (code == NULL) {
                /* the old text compiled once; if it does not alone, its
                 * names are unknown: delete nothing */
                PyErr_Clear();
                Py_DECREF(names);
                continue;
            }
            star = hs_stage_stored_names(code, names);
            Py_DECREF(code);
            if (star < 0) {
                Py_DECREF(names);
                return -1;
            }
        }
        if (star) {
            Py_DECREF(names);
            continue;
        }
        PyObject *it = PyObject_GetIter(names);
        PyObject *name;
        while (it != NULL && (name = PyIter_Next(it)) != NULL) {
            int skip = PySet_Contains(staged, name);
            if (skip == 0) {
                skip = bound_by_kept_chunk(job, name);
            }
            if (skip == 0) {
                skip = in_keep_list(job, name);
            }
            int r = 0;
            if (skip == 0) {
                PyObject *cur = NULL;
                r = PyDict_GetItemRef(job->dict, name, &cur);
                if (r == 1) {
                    const char *kind = chunk_kind_name(o->kind);
                    r = set_name(ap, name, NULL);
                    if (r == 0) {
                        r = hs_report_add(job, name, kind, "removed", NULL,
                                          o->head_line, NULL);
                    }
                }
                Py_XDECREF(cur);
            }
            Py_DECREF(name);
            if (skip < 0 || r < 0) {
                Py_DECREF(it);
                Py_DECREF(names);
                return -1;
            }
        }
        Py_XDECREF(it);
        Py_DECREF(names);
        if (PyErr_Occurred()) {
            return -1;
        }
    }
    return 0;
}

/* Definitions whose statement only moved: new line numbers. */
static int
shift_moved(Apply *ap)
{
    HsJob *job = ap->job;
    if (job->mode != HS_MODE_NORMAL) {
        return 0;
    }
    const char *text = PyBytes_AS_STRING(job->text);
    for (Py_ssize_t i = 0; i < job->chunks.len; i++) {
        HsChunk *c = &job->chunks.items[i];
        if (job->state[i] != HS_ST_MOVED
            || (c->kind != HS_CHUNK_DEF && c->kind != HS_CHUNK_CLASS)) {
            continue;
        }
        HsChunk *o = &job->old_chunks->items[job->match[i]];
        int delta = c->line - o->line;
        PyObject *name = chunk_name(text, c);
        if (name == NULL) {
            return -1;
        }
        PyObject *v = NULL;
        int r = PyDict_GetItemRef(job->dict, name, &v);
        if (r == 1 && c->kind == HS_CHUNK_CLASS && is_own_class(job, v)) {
            r = hs_class_shift(job, ap->txn, v, delta, ap->nested);
        }
        else if (r == 1 && c->kind == HS_CHUNK_DEF) {
            PyObject *f = hs_func_find(v, job->dict, name);
            if (f != NULL) {
                PyObject *code = hs_code_shift(PyFunction_GET_CODE(f), delta);
                r = code ? hs_func_move(ap->txn, f, code, ap->nested) : -1;
                Py_XDECREF(code);
                Py_DECREF(f);
            }
            else if (PyErr_Occurred()) {
                r = -1;
            }
        }
        Py_XDECREF(v);
        if (r >= 0 && hs_report_add(job, name, chunk_kind_name(c->kind),
                                    "moved", NULL, c->head_line, NULL) < 0) {
            r = -1;
        }
        Py_DECREF(name);
        if (r < 0) {
            return -1;
        }
    }
    return 0;
}

/* The live functions of this module, by (name, first line of their code,
 * decorators included as co_firstlineno counts them): one walk of the
 * GC-tracked objects, made only when several defs bind one name.  New
 * dict, or NULL with an exception set. */
static PyObject *
functions_by_line(HsJob *job)
{
    PyObject *gc = PyImport_ImportModule("gc");
    PyObject *objs = gc ? PyObject_CallMethod(gc, "get_objects", NULL) : NULL;
    PyObject *index = objs ? PyDict_New() : NULL;
    Py_XDECREF(gc);
    for (Py_ssize_t i = 0; index && i < PyList_GET_SIZE(objs); i++) {
        PyObject *o = PyList_GET_ITEM(objs, i);
        if (!PyFunction_Check(o) || PyFunction_GET_GLOBALS(o) != job->dict) {
            continue;
        }
        PyObject *n = PyObject_GetAttrString(PyFunction_GET_CODE(o),
                                             "co_name");
        PyObject *key = n ? Py_BuildValue(
                                "(Oi)", n,
                                hs_code_firstlineno(PyFunction_GET_CODE(o)))
                          : NULL;
        if (key == NULL || PyDict_SetItem(index, key, o) < 0) {
            Py_CLEAR(index);
        }
        Py_XDECREF(n);
        Py_XDECREF(key);
    }
    Py_XDECREF(objs);
    return index;
}

static int
patch_duplicate_defs(Apply *ap, PyObject *handled)
{
    HsJob *job = ap->job;
    if (job->def_results == NULL || job->mode != HS_MODE_NORMAL) {
        return 0;
    }
    const char *text = PyBytes_AS_STRING(job->text);
    Py_ssize_t n = PyList_GET_SIZE(job->def_results);
    PyObject *seen = PySet_New(NULL), *dups = PySet_New(NULL);
    if (seen == NULL || dups == NULL) {
        Py_XDECREF(seen);
        Py_XDECREF(dups);
        return -1;
    }
    for (Py_ssize_t a = 0; a < n; a++) {
        PyObject *ra = PyList_GET_ITEM(job->def_results, a);
        HsChunk *ca = &job->chunks.items[PyLong_AsSsize_t(
            PyTuple_GET_ITEM(ra, 0))];
        PyObject *name = chunk_name(text, ca);
        int known = name ? PySet_Contains(seen, name) : -1;
        int r = known < 0 ? -1
                : known   ? PySet_Add(dups, name)
                          : PySet_Add(seen, name);
        Py_XDECREF(name);
        if (r < 0) {
            Py_DECREF(seen);
            Py_DECREF(dups);
            return -1;
        }
    }
    Py_DECREF(seen);
    PyObject *by_line = NULL;
    for (Py_ssize_t a = 0; a < n && PySet_GET_SIZE(dups) > 0; a++) {
        PyObject *ra = PyList_GET_ITEM(job->def_results, a);
        Py_ssize_t ia = PyLong_AsSsize_t(PyTuple_GET_ITEM(ra, 0));
        HsChunk *ca = &job->chunks.items[ia];
        PyObject *name = chunk_name(text, ca);
        if (name == NULL) {
            Py_DECREF(dups);
            return -1;
        }
        int dup = PySet_Contains(dups, name);
        if (dup <= 0 || !job->stripped[ia] || job->match[ia] < 0) {
            Py_DECREF(name);
            if (dup < 0) {
                Py_DECREF(dups);
                Py_XDECREF(by_line);
                return -1;
            }
            continue;
        }
        HsChunk *o = &job->old_chunks->items[job->match[ia]];
        if (by_line == NULL && (by_line = functions_by_line(job)) == NULL) {
            Py_DECREF(name);
            Py_DECREF(dups);
            return -1;
        }
        PyObject *key = Py_BuildValue("(Oi)", name, o->line);
        PyObject *fo = key ? Py_XNewRef(PyDict_GetItemWithError(by_line, key))
                           : NULL;
        Py_XDECREF(key);
        PyObject *fn = fo ? hs_func_find(PyTuple_GET_ITEM(ra, 1), job->dict,
                                         name)
                          : NULL;
        int r = PyErr_Occurred() ? -1 : 0;
        if (r == 0 && fo != NULL && fn != NULL && fo != fn) {
            r = hs_func_patch(ap->txn, fo, PyFunction_GET_CODE(fn), fn,
                              ap->nested);
            if (r == HS_PATCH_UPDATED || r == HS_PATCH_MOVED) {
                r = hs_report_add(job, name, "function",
                                  r == HS_PATCH_MOVED ? "moved" : "updated",
                                  NULL, ca->head_line, NULL);
            }
            else if (r == HS_PATCH_KIND || r == HS_PATCH_FREEVARS) {
                r = hs_report_add(job, name, "function", "rejected",
                                  r == HS_PATCH_KIND ? "HS101" : "HS104",
                                  ca->head_line,
                                  "one of several definitions of this name "
                                  "cannot take the new code in place");
            }
            else {
                r = r < 0 ? -1 : 0;
            }
        }
        if (r == 0) {
            r = PySet_Add(handled, name);
        }
        Py_XDECREF(fo);
        Py_XDECREF(fn);
        Py_DECREF(name);
        if (r < 0) {
            Py_DECREF(dups);
            Py_XDECREF(by_line);
            return -1;
        }
    }
    Py_DECREF(dups);
    Py_XDECREF(by_line);
    return 0;
}

static int
apply_job(HsJob *job, HsTxn *txn, PyObject *nested)
{
    Apply ap = {job, txn, nested, NULL};
    PyObject *staged = NULL, *handled = NULL;
    LaterMap later = {NULL, NULL, 0};
    int star = 0, result = -1;
    const char *text = PyBytes_AS_STRING(job->text);

    ap.chunk_of = PyDict_New();
    if (ap.chunk_of == NULL) {
        return -1;
    }
    staged = staged_names(job, &star, ap.chunk_of);
    if (staged == NULL || hs_class_apply(job, txn, nested) < 0) {
        goto done;
    }
    for (Py_ssize_t i = 0; job->mode != HS_MODE_FULL && i < job->chunks.len;
         i++) {
        HsChunk *c = &job->chunks.items[i];
        if (job->stripped[i] != 2) {
            continue;
        }
        PyObject *n = chunk_name(text, c);
        int r = n ? hs_report_add(job, n, "class", "rejected", "HS206",
                                  c->line,
                                  "class decorators changed; the body was "
                                  "applied, the decorators were not re-run")
                  : -1;
        Py_XDECREF(n);
        if (r < 0) {
            goto done;
        }
    }
    /* names several staged defs bind: each def patches its own function */
    handled = PySet_New(NULL);
    if (handled == NULL || patch_duplicate_defs(&ap, handled) < 0) {
        goto done;
    }
    /* the scratch dict's order is the order statements bound names; the
     * staged names are few next to the module's, and reconcile() does not
     * touch the scratch dict, so walk it in place */
    Py_ssize_t pos = 0;
    PyObject *name, *new;
    while (PyDict_Next(job->scratch, &pos, &name, &new)) {
        if (!star) {
            int r = PySet_Contains(staged, name);
            if (r < 0) {
                goto done;
            }
            if (!r) {
                continue;
            }
        }
        int dup = PySet_Contains(handled, name);
        if (dup < 0) {
            goto done;
        }
        if (dup) {
            continue;
        }
        PyObject *old = NULL;
        if (PyDict_GetItemRef(job->dict, name, &old) < 0) {
            goto done;
        }
        int r = 0;
        if (old != new) {
            PyObject *idx = PyDict_GetItemWithError(ap.chunk_of, name);
            Py_ssize_t ci = idx ? PyLong_AsSsize_t(idx) : -1;
            if (!later.last_named && PySet_GET_SIZE(staged) > 32
                && later_map_build(job, &later) < 0) {
                goto done;
            }
            r = PyErr_Occurred() ? -1
                                 : bound_again_later(job, name, ci, &later);
            if (r == 0) {
                r = reconcile(&ap, name, old, new);
            }
            else if (r == 1) {
                r = 0;
            }
        }
        Py_XDECREF(old);
        if (r < 0) {
            goto done;
        }
    }
    /* names the staged code deleted */
    {
        PyObject *it = PyObject_GetIter(staged), *gone;
        while (it != NULL && (gone = PyIter_Next(it)) != NULL) {
            int in_scratch = PyDict_Contains(job->scratch, gone);
            PyObject *old = NULL;
            int r = in_scratch ? 0 : PyDict_GetItemRef(job->dict, gone, &old);
            if (r == 1) {
                r = reconcile(&ap, gone, old, NULL);
            }
            Py_XDECREF(old);
            Py_DECREF(gone);
            if (r < 0 || in_scratch < 0) {
                Py_DECREF(it);
                goto done;
            }
        }
        Py_XDECREF(it);
        if (PyErr_Occurred()) {
            goto done;
        }
    }
    if (shift_moved(&ap) < 0 || remove_deleted(&ap, staged) < 0) {
        goto done;
    }
    if (job->mode == HS_MODE_NOSNAP
        && hs_report_add_str(job, "<module>", "statement", "kept", "HS002",
                             0, "no snapshot of the source that was "
                             "imported: functions and classes were compared "
                             "with the live code, other statements were not "
                             "run again") < 0) {
        goto done;
    }
    if (job->mode == HS_MODE_FULL
        && hs_report_add_str(job, "<module>", "statement", "kept", "HS001",
                             0, "the file could not be split into "
                             "statements; it was run as a whole") < 0) {
        goto done;
    }
    result = 0;
done:
    Py_XDECREF(ap.chunk_of);
    Py_XDECREF(staged);
    Py_XDECREF(handled);
    later_map_clear(&later);
    return result;
}

/* ------------------------------------------------------------------ */
/* the batch                                                           */

static int
depends_on(HsJob *a, HsJob *b)
{
    /* a uses b: a's namespace holds b, or something b defined */
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(a->dict, &pos, &key, &value)) {
        if (value == b->module) {
            return 1;
        }
        if (PyFunction_Check(value) || PyType_Check(value)) {
            PyObject *mod = NULL;
            if (PyObject_GetOptionalAttrString(value, "__module__", &mod)
                < 0) {
                PyErr_Clear();
                continue;
            }
            int r = mod != NULL && PyUnicode_Check(mod)
                    && PyUnicode_Compare(mod, b->name) == 0;
            Py_XDECREF(mod);
            if (r) {
                return 1;
            }
        }
    }
    return 0;
}

/* Order: a module after the modules it uses (stable; cycles keep the
 * given order). */
static int
order_jobs(HsJob *jobs, Py_ssize_t n, Py_ssize_t *order)
{
    char *done = PyMem_Calloc(n ? n : 1, 1);
    if (done == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t k = 0;
    while (k < n) {
        Py_ssize_t pick = -1;
        for (Py_ssize_t i = 0; i < n && pick < 0; i++) {
            if (done[i]) {
                continue;
            }
            int ready = 1;
            for (Py_ssize_t j = 0; j < n && ready; j++) {
                if (j != i && !done[j] && jobs[j].changed
                    && depends_on(&jobs[i], &jobs[j])
                    && !depends_on(&jobs[j], &jobs[i])) {
                    ready = 0;
                }
            }
            if (ready) {
                pick = i;
            }
        }
        if (pick < 0) {
            for (Py_ssize_t i = 0; i < n; i++) {
                if (!done[i]) {
                    pick = i;
                    break;
                }
            }
        }
        done[pick] = 1;
        order[k++] = pick;
    }
    PyMem_Free(done);
    return 0;
}

static int
gc_collections(PyObject *gc, long *count)
{
    PyObject *stats = PyObject_CallMethod(gc, "get_stats", NULL);
    if (stats == NULL) {
        return -1;
    }
    *count = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(stats); i++) {
        PyObject *c = PyDict_GetItemString(PyList_GET_ITEM(stats, i),
                                           "collections");
        if (c != NULL) {
            *count += PyLong_AsLong(c);
        }
    }
    Py_DECREF(stats);
    return 0;
}

static int
refresh_linecache(PyObject *filename)
{
    PyObject *lc = PyImport_ImportModule("linecache");
    if (lc == NULL) {
        return -1;
    }
    PyObject *cache = PyObject_GetAttrString(lc, "cache");
    if (cache != NULL && PyDict_Check(cache)
        && PyDict_Contains(cache, filename) == 1) {
        PyDict_DelItem(cache, filename);
    }
    Py_XDECREF(cache);
    Py_DECREF(lc);
    PyErr_Clear();
    return 0;
}

/* Where the error is in the user's file: (filename, lineno). */
static void
error_location(HsJob *job, PyObject *exc, PyObject **filename, int *lineno)
{
    *filename = Py_XNewRef(job ? job->filename : NULL);
    *lineno = 0;
    if (exc == NULL) {
        return;
    }
    if (PyObject_IsInstance(exc, PyExc_SyntaxError) == 1) {
        PyObject *ln = PyObject_GetAttrString(exc, "lineno");
        PyObject *fn = PyObject_GetAttrString(exc, "filename");
        if (ln != NULL && PyLong_Check(ln)) {
            *lineno = (int)PyLong_AsLong(ln);
        }
        if (fn != NULL && PyUnicode_Check(fn)) {
            Py_XSETREF(*filename, Py_NewRef(fn));
        }
        Py_XDECREF(ln);
        Py_XDECREF(fn);
        PyErr_Clear();
        return;
    }
    PyObject *tb = PyException_GetTraceback(exc);
    while (tb != NULL && tb != Py_None) {
        PyObject *frame = PyObject_GetAttrString(tb, "tb_frame");
        PyObject *code = frame ? PyObject_GetAttrString(frame, "f_code")
                               : NULL;
        PyObject *fn = code ? PyObject_GetAttrString(code, "co_filename")
                            : NULL;
        if (fn != NULL && job != NULL && job->filename != NULL
            && PyUnicode_Compare(fn, job->filename) == 0) {
            PyObject *ln = PyObject_GetAttrString(tb, "tb_lineno");
            if (ln != NULL) {
                *lineno = (int)PyLong_AsLong(ln);
            }
            Py_XDECREF(ln);
        }
        Py_XDECREF(frame);
        Py_XDECREF(code);
        Py_XDECREF(fn);
        PyObject *next = PyObject_GetAttrString(tb, "tb_next");
        Py_DECREF(tb);
        tb = next;
    }
    Py_XDECREF(tb);
    PyErr_Clear();
}

static void
raise_reload_error(HsState *st, HsJob *job, const char *code,
                   PyObject *report)
{
    PyObject *exc_type, *exc, *tb;
    PyErr_Fetch(&exc_type, &exc, &tb);
    PyErr_NormalizeException(&exc_type, &exc, &tb);
    if (exc != NULL && tb != NULL) {
        PyException_SetTraceback(exc, tb);
    }
    PyObject *filename = NULL;
    int lineno = 0;
    error_location(job, exc, &filename, &lineno);
    PyObject *msg = NULL;
    PyObject *where = NULL;
    if (filename != NULL && lineno > 0) {
        where = PyUnicode_FromFormat(" (%U:%d)", filename, lineno);
    }
    else if (filename != NULL) {
        where = PyUnicode_FromFormat(" (%U)", filename);
    }
    else {
        where = PyUnicode_FromString("");
    }
    PyErr_Clear();
    if (where != NULL) {
        msg = PyUnicode_FromFormat(
            "cannot reload %S: %s: %s: %S%U", job ? job->name : Py_None,
            code ? code : "HS507",
            exc ? Py_TYPE(exc)->tp_name : "error", exc ? exc : Py_None,
            where);
    }
    Py_XDECREF(where);
    PyObject *err = msg ? PyObject_CallFunctionObjArgs(st->reload_error, msg,
                                                       NULL)
                        : NULL;
    Py_XDECREF(msg);
    if (err != NULL) {
        PyObject *ln = lineno > 0 ? PyLong_FromLong(lineno)
                                  : Py_NewRef(Py_None);
        PyObject *cd = PyUnicode_FromString(code ? code : "HS507");
        if (ln == NULL || cd == NULL
            || PyObject_SetAttrString(err, "report",
                                      report ? report : Py_None) < 0
            || PyObject_SetAttrString(err, "module",
                                      job ? job->name : Py_None) < 0
            || PyObject_SetAttrString(err, "filename",
                                      filename ? filename : Py_None) < 0
            || PyObject_SetAttrString(err, "lineno", ln) < 0
            || PyObject_SetAttrString(err, "code", cd) < 0) {
            Py_CLEAR(err);
        }
        Py_XDECREF(ln);
        Py_XDECREF(cd);
    }
    if (err == NULL) {
        /* could not build the ReloadError: raise the original */
        PyErr_Restore(exc_type, exc, tb);
        Py_XDECREF(filename);
        return;
    }
    if (report != NULL && report != Py_None) {
        hs_report_set_error(report, err);
    }
    if (exc != NULL) {
        PyException_SetCause(err, exc); /* steals */
        PyException_SetContext(err, Py_NewRef(exc));
        exc = NULL;
    }
    PyErr_SetObject(st->reload_error, err);
    Py_DECREF(err);
    Py_XDECREF(exc_type);
    Py_XDECREF(exc);
    Py_XDECREF(tb);
    Py_XDECREF(filename);
}

static PyObject *
build_report(HsState *st, HsJob *jobs, const Py_ssize_t *order, Py_ssize_t n,
             int ok, int failed, int only_changed, double t0)
{
    PyObject *entries = PyList_New(0);
    PyObject *modules = PyList_New(0);
    PyObject *report = NULL;
    if (entries == NULL || modules == NULL) {
        goto done;
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        Py_ssize_t i = order ? order[k] : k;
        HsJob *job = &jobs[i];
        if (job->name == NULL) {
            continue;
        }
        const char *status = i == failed ? "failed"
                             : job->changed && ok ? "reloaded"
                                                  : "unchanged";
        if (only_changed && i != failed && !(job->changed && ok)) {
            continue;
        }
        PyObject *mr = hs_module_result_new(st->module_result_type,
                                            job->name, job->filename, status,
                                            job->seconds);
        if (mr == NULL || PyList_Append(modules, mr) < 0) {
            Py_XDECREF(mr);
            goto done;
        }
        Py_DECREF(mr);
        if (ok && job->entries != NULL) {
            for (Py_ssize_t e = 0; e < PyList_GET_SIZE(job->entries); e++) {
                if (PyList_Append(entries,
                                  PyList_GET_ITEM(job->entries, e)) < 0) {
                    goto done;
                }
            }
        }
    }
    report = hs_report_new(st->report_type, entries, modules, ok,
                           now() - t0);
done:
    Py_XDECREF(entries);
    Py_XDECREF(modules);
    return report;
}

/* Report each code object of `items` in the job whose file it comes
 * from.  Items are (code, reason) pairs, or with second_is_name (code,
 * qualified name) pairs reported with the HS104 reason. */
static int
report_codes(HsJob *jobs, Py_ssize_t count, PyObject *items,
             const char *action, const char *code_name, int second_is_name)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *item = PyList_GET_ITEM(items, i);
        PyObject *code = PyTuple_GET_ITEM(item, 0);
        PyObject *why = second_is_name ? NULL : PyTuple_GET_ITEM(item, 1);
        PyObject *fn = PyObject_GetAttrString(code, "co_filename");
        PyObject *qn = second_is_name
                           ? Py_NewRef(PyTuple_GET_ITEM(item, 1))
                           : PyObject_GetAttrString(
                                 code, HS_HAVE_CO_QUALNAME ? "co_qualname"
                                                           : "co_name");
        int r = fn && qn ? 0 : -1;
        for (Py_ssize_t j = 0; r == 0 && j < count; j++) {
            if (jobs[j].filename == NULL || !jobs[j].changed
                || PyUnicode_Compare(jobs[j].filename, fn) != 0) {
                continue;
            }
            if (why != NULL) {
                r = hs_report_add(&jobs[j], qn, "function", action,
                                  code_name, hs_code_firstlineno(code), "%U",
                                  why);
            }
            else {
                r = hs_report_add(&jobs[j], qn, "function", action,
                                  code_name, hs_code_firstlineno(code),
                                  "closures made before the reload need a "
                                  "free variable the new code adds; they "
                                  "keep the old code");
            }
            break;
        }
        Py_XDECREF(fn);
        Py_XDECREF(qn);
        if (r < 0) {
            return -1;
        }
    }
    return 0;
}

PyObject *
hs_reload(PyObject *core, PyObject *targets, PyObject *policy, int flags)
{
    int only_changed = flags & HS_RELOAD_ONLY_CHANGED;
    HsState *st = hs_state(core);
    if (st == NULL) {
        return NULL;
    }
    if (st->busy) {
        PyErr_SetString(PyExc_RuntimeError,
                        "hotswap.reload() called while a reload is running");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(targets, "targets must be a sequence");
    if (seq == NULL) {
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    HsJob *jobs = PyMem_Calloc(n ? n : 1, sizeof(HsJob));
    Py_ssize_t *order = PyMem_Calloc(n ? n : 1, sizeof(Py_ssize_t));
    PyObject *gc = NULL, *nested = NULL, *rejected = NULL, *report = NULL;
    HsTxn txn = {0};
    int gc_was_enabled = 0, gc_off = 0;
    Py_ssize_t failed = -1, count = 0;
    Failure fail = {NULL};
    double t0 = now();
    if (jobs == NULL || order == NULL) {
        PyErr_NoMemory();
        goto out;
    }
    st->busy = 1;

    /* SOURCE, PLAN, compile: nothing is written yet */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *m = resolve_module(PySequence_Fast_GET_ITEM(seq, i));
        if (m == NULL) {
            goto out;
        }
        int dup = 0;
        for (Py_ssize_t j = 0; j < count; j++) {
            dup |= jobs[j].module == m;
        }
        if (dup) {
            Py_DECREF(m);
            continue;
        }
        HsJob *job = &jobs[count++];
        job->module = m;
        job->policy = policy;
        job->rebuild_layout = (flags & HS_RELOAD_REBUILD_LAYOUT) != 0;
        job->change_type = st->change_type;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        double t = now();
        if (prepare_job(st, &jobs[i], &fail) < 0) {
            jobs[i].seconds = now() - t;
            failed = i;
            goto fail;
        }
        jobs[i].seconds = now() - t;
    }
    if (order_jobs(jobs, count, order) < 0) {
        goto out;
    }

    /* STAGE and APPLY, module by module, one undo log for the batch */
    gc = PyImport_ImportModule("gc");
    nested = PyDict_New();
    rejected = PyList_New(0);
    if (gc == NULL || nested == NULL || rejected == NULL) {
        goto out;
    }
    for (Py_ssize_t k = 0; k < count; k++) {
        HsJob *job = &jobs[order[k]];
        if (!job->changed) {
            continue;
        }
        double t = now();
        PyObject *r = PyObject_CallMethod(gc, "isenabled", NULL);
        if (r == NULL) {
            goto out;
        }
        gc_was_enabled = PyObject_IsTrue(r);
        Py_DECREF(r);
        r = PyObject_CallMethod(gc, "disable", NULL);
        Py_XDECREF(r);
        gc_off = 1;
        long before = 0, after = 0;
        if (gc_collections(gc, &before) < 0) {
            goto out;
        }
        int staged = hs_stage_run(job);
        if (staged == 0 && gc_collections(gc, &after) < 0) {
            staged = -1;
        }
        if (staged == 0 && rebase_functions(job, after != before) < 0) {
            staged = -1;
        }
        if (gc_was_enabled) {
            PyObject *exc_type, *exc, *tb;
            PyErr_Fetch(&exc_type, &exc, &tb);
            r = PyObject_CallMethod(gc, "enable", NULL);
            Py_XDECREF(r);
            PyErr_Restore(exc_type, exc, tb);
        }
        gc_off = 0;
        if (staged < 0) {
            failed = order[k];
            fail.code = "HS504";
            goto fail;
        }
        if (apply_job(job, &txn, nested) < 0) {
            failed = order[k];
            fail.code = "HS507";
            goto fail;
        }
        job->seconds += now() - t;
    }
    /* closures made before the reload from changed inner functions */
    if (hs_func_patch_live(&txn, nested, rejected) < 0) {
        fail.code = "HS507";
        failed = count ? order[0] : -1;
        goto fail;
    }
    if (report_codes(jobs, count, rejected, "rejected", "HS104", 1) < 0) {
        goto out;
    }
    /* frames that keep running superseded code: said, not fatal */
    {
        PyObject *superseded = PyDict_New(), *stale = PyList_New(0);
        if (superseded == NULL || stale == NULL
            || hs_txn_superseded_codes(&txn, superseded) < 0
            || hs_frames_stale(superseded, stale) < 0
            || report_codes(jobs, count, stale, "kept", "HS301", 0) < 0) {
            PyErr_Clear();
        }
        Py_XDECREF(superseded);
        Py_XDECREF(stale);
    }

    /* FINISH: the new snapshots, then forget the undo log */
    for (Py_ssize_t i = 0; i < count; i++) {
        HsJob *job = &jobs[i];
        if (!job->changed) {
            continue;
        }
        PyObject *snap = hs_snapshot_new(st->snapshot_type, job->filename,
                                         job->raw, job->text, &job->chunks);
        if (snap == NULL
            || PyDict_SetItem(st->snapshots, job->name, snap) < 0) {
            Py_XDECREF(snap);
            PyErr_WriteUnraisable(job->name);
            continue;
        }
        Py_DECREF(snap);
        refresh_linecache(job->filename);
    }
    hs_txn_clear(&txn);
    report = build_report(st, jobs, order, count, 1, -1, only_changed,
                          t0);
    goto out;

fail:
    hs_txn_rollback(&txn);
    if (gc_off && gc_was_enabled) {
        PyObject *r = PyObject_CallMethod(gc, "enable", NULL);
        Py_XDECREF(r);
        gc_off = 0;
    }
    {
        PyObject *exc_type, *exc, *tb;
        PyErr_Fetch(&exc_type, &exc, &tb);
        PyObject *fr = build_report(st, jobs, NULL, count, 0, (int)failed, 0,
                                    t0);
        PyErr_Clear();
        PyErr_Restore(exc_type, exc, tb);
        raise_reload_error(st, failed >= 0 ? &jobs[failed] : NULL, fail.code,
                           fr);
        Py_XDECREF(fr);
    }
out:
    if (report == NULL && txn.len > 0) {
        hs_txn_rollback(&txn);
    }
    if (gc_off && gc_was_enabled && gc != NULL) {
        PyObject *exc_type, *exc, *tb;
        PyErr_Fetch(&exc_type, &exc, &tb);
        PyObject *r = PyObject_CallMethod(gc, "enable", NULL);
        Py_XDECREF(r);
        PyErr_Restore(exc_type, exc, tb);
    }
    if (jobs != NULL) {
        for (Py_ssize_t i = 0; i < n; i++) {
            job_clear(&jobs[i]);
        }
    }
    PyMem_Free(jobs);
    PyMem_Free(order);
    Py_XDECREF(gc);
    Py_XDECREF(nested);
    Py_XDECREF(rejected);
    Py_DECREF(seq);
    st->busy = 0;
    return report;
}

/* ------------------------------------------------------------------ */
/* hotswap.patch                                                       */

static PyObject *
inner_function(PyObject *v)
{
    if (PyFunction_Check(v)) {
        return Py_NewRef(v);
    }
    if (PyObject_TypeCheck(v, &PyClassMethod_Type)
        || PyObject_TypeCheck(v, &PyStaticMethod_Type)) {
        PyObject *f = PyObject_GetAttrString(v, "__func__");
        if (f != NULL && PyFunction_Check(f)) {
            return f;
        }
        Py_XDECREF(f);
        PyErr_Clear();
    }
    return NULL;
}

/* A copy of function f that runs with `globals`.  New reference. */
static PyObject *
rehome_function(PyObject *f, PyObject *globals)
{
    PyObject *qual = PyObject_GetAttrString(f, "__qualname__");
    if (qual == NULL) {
        return NULL;
    }
    PyObject *g = PyFunction_NewWithQualName(PyFunction_GET_CODE(f), globals,
                                             qual);
    Py_DECREF(qual);
    if (g == NULL) {
        return NULL;
    }
    static const char *const attrs[] = {"__defaults__", "__kwdefaults__",
                                        "__annotations__", "__doc__",
                                        "__dict__", NULL};
    if (PyFunction_GET_CLOSURE(f) != NULL
        && PyFunction_SetClosure(g, PyFunction_GET_CLOSURE(f)) < 0) {
        Py_DECREF(g);
        return NULL;
    }
    for (int i = 0; attrs[i] != NULL; i++) {
        PyObject *v = PyObject_GetAttrString(f, attrs[i]);
        if (v == NULL || PyObject_SetAttrString(g, attrs[i], v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(g);
            return NULL;
        }
        Py_DECREF(v);
    }
    return g;
}

static int
patch_class(HsJob *job, HsTxn *txn, PyObject *target, PyObject *repl,
            PyObject *nested)
{
    PyObject *globals = job->dict;
    PyObject *d = PyObject_GenericGetDict(repl, NULL);
    PyObject *items = d ? PyMapping_Items(d) : NULL;
    PyObject *tq = PyObject_GetAttrString(target, "__qualname__");
    int result = -1;
    Py_XDECREF(d);
    if (items == NULL || tq == NULL) {
        goto done;
    }
    static const char *const skip[] = {
        "__module__", "__qualname__", "__dict__", "__weakref__", "__slots__",
        "_abc_impl", "__orig_bases__", "__parameters__", "__firstlineno__",
        "__static_attributes__", NULL,
    };
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *name = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 0);
        PyObject *v = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 1);
        const char *s = PyUnicode_AsUTF8(name);
        if (s == NULL) {
            goto done;
        }
        int skipped = 0;
        for (int k = 0; skip[k] != NULL; k++) {
            skipped |= strcmp(s, skip[k]) == 0;
        }
        if (skipped || (strcmp(s, "__doc__") == 0 && v == Py_None)) {
            continue;
        }
        PyObject *fn = inner_function(v);
        if (fn != NULL) {
            /* super() in the replacement's methods means the target */
            PyObject *fv = PyObject_GetAttrString(PyFunction_GET_CODE(fn),
                                                  "co_freevars");
            PyObject *cl = PyFunction_GET_CLOSURE(fn);
            for (Py_ssize_t k = 0; fv && cl && k < PyTuple_GET_SIZE(fv);
                 k++) {
                if (PyUnicode_CompareWithASCIIString(
                        PyTuple_GET_ITEM(fv, k), "__class__") == 0
                    && PyCell_GET(PyTuple_GET_ITEM(cl, k)) == repl) {
                    PyCell_Set(PyTuple_GET_ITEM(cl, k), target);
                }
            }
            Py_XDECREF(fv);
        }
        PyObject *old = NULL;
        PyObject *td = PyObject_GenericGetDict(target, NULL);
        if (td == NULL) {
            Py_XDECREF(fn);
            goto done;
        }
        old = PyObject_GetItem(td, name);
        Py_DECREF(td);
        if (old == NULL) {
            PyErr_Clear();
        }
        PyObject *fo = old ? inner_function(old) : NULL;
        PyObject *qn = PyUnicode_FromFormat("%U.%U", tq, name);
        int r = 0;
        if (qn == NULL) {
            r = -1;
        }
        else if (fo != NULL && fn != NULL
                 && Py_TYPE(old) == Py_TYPE(v)) {
            r = hs_func_patch(txn, fo, PyFunction_GET_CODE(fn), fn, nested);
            if (r == HS_PATCH_KIND || r == HS_PATCH_FREEVARS) {
                r = hs_txn_setattr(txn, target, name, v);
                if (r == 0) {
                    r = hs_report_add(job, qn, "method", "replaced", "HS101",
                                      0, "generator or coroutine kind "
                                      "changed");
                }
            }
            else if (r > 0) {
                r = hs_report_add(job, qn, "method", "updated", NULL, 0,
                                  NULL);
            }
        }
        else {
            PyObject *value = Py_NewRef(v);
            if (PyFunction_Check(v) && PyFunction_GET_GLOBALS(v) != globals) {
                Py_SETREF(value, rehome_function(v, globals));
            }
            r = value ? hs_txn_setattr(txn, target, name, value) : -1;
            Py_XDECREF(value);
            if (r == 0) {
                r = hs_report_add(job, qn, fn ? "method" : "data",
                                  old ? "updated" : "added", NULL, 0, NULL);
            }
        }
        Py_XDECREF(qn);
        Py_XDECREF(old);
        Py_XDECREF(fo);
        Py_XDECREF(fn);
        if (r < 0) {
            goto done;
        }
    }
    result = 0;
done:
    Py_XDECREF(items);
    Py_XDECREF(tq);
    return result;
}

/* Caching wrappers (lru_cache, cache) of `func` found in its module. */
static int
clear_caches_of(PyObject *func)
{
    PyObject *globals = PyFunction_GET_GLOBALS(func);
    PyObject *values = PyDict_Values(globals);
    if (values == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(values); i++) {
        PyObject *v = PyList_GET_ITEM(values, i);
        if (PyFunction_Check(v) || PyType_Check(v) || PyModule_Check(v)) {
            continue;
        }
        PyObject *w = NULL;
        if (PyObject_GetOptionalAttrString(v, "__wrapped__", &w) < 0) {
            PyErr_Clear();
            continue;
        }
        int hit = w == func;
        Py_XDECREF(w);
        if (hit && hs_func_clear_cache(v) < 0) {
            Py_DECREF(values);
            return -1;
        }
    }
    Py_DECREF(values);
    return 0;
}

PyObject *
hs_patch(PyObject *core, PyObject *target, PyObject *replacement)
{
    HsState *st = hs_state(core);
    if (st == NULL) {
        return NULL;
    }
    int is_func = PyFunction_Check(target) && PyFunction_Check(replacement);
    int is_class = PyType_Check(target) && PyType_Check(replacement);
    if (!is_func && !is_class) {
        PyErr_Format(PyExc_TypeError,
                     "hotswap.patch() patches a function from a function or "
                     "a class from a class, not %.100s from %.100s",
                     Py_TYPE(target)->tp_name, Py_TYPE(replacement)->tp_name);
        return NULL;
    }
    if (st->busy) {
        PyErr_SetString(PyExc_RuntimeError,
                        "hotswap.patch() called while a reload is running");
        return NULL;
    }
    HsJob job;
    memset(&job, 0, sizeof(job));
    HsTxn txn = {0};
    PyObject *nested = PyDict_New(), *rejected = PyList_New(0);
    PyObject *report = NULL, *modules = PyList_New(0);
    double t0 = now();
    job.change_type = st->change_type;
    job.entries = PyList_New(0);
    if (nested == NULL || rejected == NULL || modules == NULL
        || job.entries == NULL) {
        goto out;
    }
    job.name = PyObject_GetAttrString(target, "__module__");
    if (job.name == NULL) {
        goto out;
    }
    if (is_func) {
        job.dict = Py_NewRef(PyFunction_GET_GLOBALS(target));
        job.filename = PyObject_GetAttrString(PyFunction_GET_CODE(target),
                                              "co_filename");
        if (job.filename == NULL) {
            goto out;
        }
        st->busy = 1;
        int r = hs_func_patch(&txn, target, PyFunction_GET_CODE(replacement),
                              replacement, nested);
        if (r == HS_PATCH_KIND || r == HS_PATCH_FREEVARS) {
            PyErr_Format(PyExc_TypeError,
                         r == HS_PATCH_KIND
                             ? "%R cannot take the code of %R: one is a "
                               "generator or coroutine and the other not"
                             : "%R cannot take the code of %R: its free "
                               "variables differ",
                         target, replacement);
            r = -1;
        }
        if (r > 0 && clear_caches_of(target) < 0) {
            r = -1;
        }
        if (r >= 0) {
            PyObject *q = PyObject_GetAttrString(target, "__qualname__");
            r = q ? hs_report_add(&job, q, "function",
                                  r == HS_PATCH_NOOP ? "unchanged"
                                                     : "updated",
                                  NULL, 0, NULL)
                  : -1;
            Py_XDECREF(q);
        }
        if (r < 0) {
            goto fail;
        }
    }
    else {
        PyObject *mods = PyImport_GetModuleDict();
        PyObject *m = PyDict_GetItemWithError(mods, job.name);
        if (m == NULL || !PyModule_Check(m)) {
            if (!PyErr_Occurred()) {
                PyErr_Format(PyExc_TypeError,
                             "hotswap.patch(): the module of %R (%R) is not "
                             "imported", target, job.name);
            }
            goto out;
        }
        job.dict = Py_NewRef(PyModule_GetDict(m));
        PyObject *f = NULL;
        if (PyObject_GetOptionalAttrString(m, "__file__", &f) < 0) {
            goto out;
        }
        job.filename = f ? f : Py_NewRef(Py_None);
        st->busy = 1;
        if (patch_class(&job, &txn, target, replacement, nested) < 0) {
            goto fail;
        }
    }
    if (hs_func_patch_live(&txn, nested, rejected) < 0) {
        goto fail;
    }
    hs_txn_clear(&txn);
    PyObject *mr = hs_module_result_new(st->module_result_type, job.name,
                                        job.filename, "reloaded",
                                        now() - t0);
    if (mr == NULL || PyList_Append(modules, mr) < 0) {
        Py_XDECREF(mr);
        goto out;
    }
    Py_DECREF(mr);
    report = hs_report_new(st->report_type, job.entries, modules, 1,
                           now() - t0);
    goto out;
fail:
    hs_txn_rollback(&txn);
    raise_reload_error(st, &job, "HS507", NULL);
out:
    if (report == NULL && txn.len) {
        hs_txn_rollback(&txn);
    }
    st->busy = 0;
    job_clear(&job);
    Py_XDECREF(nested);
    Py_XDECREF(rejected);
    Py_XDECREF(modules);
    return report;
}
