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
#include "adapters.h"
#include "apply.h"
#include "plan.h"
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

double
hs_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------ */
/* jobs                                                                */

void
hs_job_clear(HsJob *job)
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
    Py_CLEAR(job->chunk_binds);
    Py_CLEAR(job->live_of);
    Py_CLEAR(job->young);
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
                 "not %.200s",
                 Py_TYPE(target)->tp_name);
    return NULL;
}

static int
is_namespace_package(PyObject *module)
{
    PyObject *file = NULL, *path = NULL;
    if (PyObject_GetOptionalAttrString(module, "__file__", &file) < 0
        || PyObject_GetOptionalAttrString(module, "__path__", &path) < 0)
    {
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
/* SOURCE + PLAN + compile, for one module                             */

typedef struct {
    const char *code;  /* diagnostic code of the failure */
    PyObject *refusal; /* strong: the report entry of a class edit that
                        * fails the batch (no exception set), or NULL */
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
                       &code)
        < 0)
    {
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
    if (hs_scan(PyBytes_AS_STRING(job->text), 0, PyBytes_GET_SIZE(job->text),
                1, &job->chunks)
        < 0)
    {
        return -1;
    }
    if (job->chunks.len == 0 && !job->chunks.unsure
        && (job->old_chunks ? job->old_chunks->len > 0
                            : PyBytes_GET_SIZE(job->raw) == 0))
    {
        fail->code = "HS506";
        PyErr_Format(PyExc_ValueError,
                     "%U is empty while the loaded module is not (a save "
                     "in progress?); refusing to delete every definition",
                     job->filename);
        return -1;
    }
    job->mode = job->old_chunks == NULL ? HS_MODE_NOSNAP : HS_MODE_NORMAL;
    if (job->chunks.unsure
        || (job->old_chunks != NULL && job->old_chunks->unsure))
    {
        job->mode = HS_MODE_FULL;
    }
    if (hs_plan_alloc(job) < 0) {
        return -1;
    }
    if (job->mode == HS_MODE_NOSNAP && hs_plan_nosnap(job) < 0) {
        return -1;
    }
    if (job->mode == HS_MODE_NORMAL && hs_plan_normal(job) < 0) {
        return -1;
    }
    if (hs_stage_compile(job) < 0) {
        fail->code = "HS503";
        return -1;
    }
    return hs_plan_reruns(job);
}

/* ------------------------------------------------------------------ */
/* the batch                                                           */

/* The classes module `job` defined among those its namespace holds, as a
 * set of ids.  A class by where it was defined, not by __module__: the
 * re-export idiom rewrites it (C.__module__ = "pkg" in pkg._impl), and
 * ordering by it would put pkg._impl after pkg.  New reference. */
static PyObject *
own_class_ids(HsJob *job)
{
    PyObject *ids = PySet_New(NULL);
    PyObject *items = ids ? PyDict_Items(job->dict) : NULL;
    if (items == NULL) {
        Py_XDECREF(ids);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *key = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 0);
        PyObject *value = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 1);
        if (!PyType_Check(value) || !PyUnicode_Check(key)) {
            continue;
        }
        int own = hs_plan_is_own_class(job, value, key);
        PyObject *id = own == 1 ? PyLong_FromVoidPtr(value) : NULL;
        if (own < 0) {
            PyErr_Clear(); /* ordering is best effort */
        }
        if (id != NULL && PySet_Add(ids, id) < 0) {
            Py_CLEAR(ids);
        }
        Py_XDECREF(id);
        if (ids == NULL || (own == 1 && id == NULL)) {
            Py_XDECREF(ids);
            Py_DECREF(items);
            return NULL;
        }
    }
    Py_DECREF(items);
    return ids;
}

/* a uses b: a's namespace holds b, or something b defined (a function by
 * its globals, or by the __module__ functools.wraps copies onto a
 * wrapper; a class b defined and a did not).  1 / 0. */
static int
depends_on(HsJob *a, HsJob *b, PyObject *a_classes, PyObject *b_classes)
{
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(a->dict, &pos, &key, &value)) {
        if (value == b->module) {
            return 1;
        }
        if (PyFunction_Check(value)) {
            PyObject *g = PyFunction_GET_GLOBALS(value);
            if (g == a->dict || g == b->dict) {
                if (g == b->dict) {
                    return 1;
                }
                continue;
            }
            PyObject *mod = NULL;
            if (PyObject_GetOptionalAttrString(value, "__module__", &mod) < 0)
            {
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
        else if (PyType_Check(value)) {
            PyObject *id = PyLong_FromVoidPtr(value);
            int r = id ? PySet_Contains(b_classes, id) : -1;
            if (r == 1) {
                r = !PySet_Contains(a_classes, id);
            }
            Py_XDECREF(id);
            if (r < 0) {
                PyErr_Clear();
            }
            if (r == 1) {
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
    char *deps = PyMem_Calloc(n ? n * n : 1, 1); /* deps[i*n+j]: i uses j */
    PyObject *classes = NULL;
    int result = -1;
    if (done == NULL || deps == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (n <= 1) {
        order[0] = 0;
        result = 0;
        goto done;
    }
    if ((classes = PyList_New(n)) == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *ids = own_class_ids(&jobs[i]);
        if (ids == NULL) {
            goto done;
        }
        PyList_SET_ITEM(classes, i, ids);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        for (Py_ssize_t j = 0; j < n; j++) {
            deps[i * n + j] =
                i != j
                && depends_on(&jobs[i], &jobs[j], PyList_GET_ITEM(classes, i),
                              PyList_GET_ITEM(classes, j));
        }
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
                if (!done[j] && jobs[j].changed && deps[i * n + j]
                    && !deps[j * n + i])
                {
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
    result = 0;
done:
    PyMem_Free(done);
    PyMem_Free(deps);
    Py_XDECREF(classes);
    return result;
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
        PyObject *c =
            PyDict_GetItemString(PyList_GET_ITEM(stats, i), "collections");
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
        && PyDict_Contains(cache, filename) == 1)
    {
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
    /* an adapter's refusal names the line it refuses */
    PyObject *hl = PyObject_GetAttrString(exc, "hotswap_lineno");
    if (hl != NULL && PyLong_Check(hl) && PyLong_AsLong(hl) > 0) {
        *lineno = (int)PyLong_AsLong(hl);
        Py_DECREF(hl);
        PyErr_Clear();
        return;
    }
    Py_XDECREF(hl);
    PyErr_Clear();
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
        PyObject *code =
            frame ? PyObject_GetAttrString(frame, "f_code") : NULL;
        PyObject *fn =
            code ? PyObject_GetAttrString(code, "co_filename") : NULL;
        if (fn != NULL && job != NULL && job->filename != NULL
            && PyUnicode_Compare(fn, job->filename) == 0)
        {
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

/* Raise ReloadError(msg) with its attributes and `cause` (stolen, may be
 * NULL); attach it to `report`.  Returns 0, or -1 when the error could not
 * be built (then the caller raises what it has). */
static int
raise_reload_error(HsState *st, HsJob *job, const char *code, PyObject *msg,
                   PyObject *filename, int lineno, PyObject *report,
                   PyObject *cause)
{
    PyObject *err = PyObject_CallFunctionObjArgs(st->reload_error, msg, NULL);
    if (err != NULL) {
        PyObject *ln =
            lineno > 0 ? PyLong_FromLong(lineno) : Py_NewRef(Py_None);
        PyObject *cd = PyUnicode_FromString(code ? code : "HS507");
        if (ln == NULL || cd == NULL
            || PyObject_SetAttrString(err, "report", report ? report : Py_None)
                   < 0
            || PyObject_SetAttrString(err, "module", job ? job->name : Py_None)
                   < 0
            || PyObject_SetAttrString(err, "filename",
                                      filename ? filename : Py_None)
                   < 0
            || PyObject_SetAttrString(err, "lineno", ln) < 0
            || PyObject_SetAttrString(err, "code", cd) < 0)
        {
            Py_CLEAR(err);
        }
        Py_XDECREF(ln);
        Py_XDECREF(cd);
    }
    if (err == NULL) {
        Py_XDECREF(cause);
        return -1;
    }
    if (report != NULL && report != Py_None) {
        hs_report_set_error(report, err);
    }
    if (cause != NULL) {
        PyException_SetContext(err, Py_NewRef(cause));
        PyException_SetCause(err, cause); /* steals */
    }
    PyErr_SetObject(st->reload_error, err);
    Py_DECREF(err);
    return 0;
}

void
hs_reload_raise_error(HsState *st, HsJob *job, const char *code,
                      PyObject *report)
{
    PyObject *exc = PyErr_GetRaisedException();
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
            code ? code : "HS507", exc ? Py_TYPE(exc)->tp_name : "error",
            exc ? exc : Py_None, where);
    }
    Py_XDECREF(where);
    if (msg == NULL
        || raise_reload_error(st, job, code, msg, filename, lineno, report,
                              Py_XNewRef(exc))
               < 0)
    {
        /* could not build the ReloadError: raise the original */
        PyErr_SetRaisedException(exc);
        exc = NULL;
    }
    Py_XDECREF(msg);
    Py_XDECREF(exc);
    Py_XDECREF(filename);
}

/* The class edits that cannot be applied in place and fail the batch
 * unless it is partial (docs/diagnostics.md): another layout for the bases
 * (HS201), the metaclass or class keywords (HS202), the __slots__ names
 * (HS203), the fields of a slots=True dataclass or a NamedTuple (HS204),
 * removed or re-valued enum members (HS205).  HS203 "replaced" (the
 * rebuild_layout opt-in) applied and does not count. */
static PyObject *
first_class_refusal(HsJob *job)
{
    static const char *const codes[] = {"HS201", "HS202", "HS203",
                                        "HS204", "HS205", NULL};
    if (job->entries == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(job->entries); i++) {
        PyObject *e = PyList_GET_ITEM(job->entries, i);
        PyObject *action = PyStructSequence_GET_ITEM(e, 3);
        PyObject *code = PyStructSequence_GET_ITEM(e, 4);
        if (!PyUnicode_Check(code)
            || PyUnicode_CompareWithASCIIString(action, "rejected") != 0)
        {
            continue;
        }
        for (int k = 0; codes[k] != NULL; k++) {
            if (PyUnicode_CompareWithASCIIString(code, codes[k]) == 0) {
                return e;
            }
        }
    }
    return NULL;
}

/* ReloadError for a refused class edit: `entry` is its report entry. */
static void
raise_class_refusal(HsState *st, HsJob *job, PyObject *entry, PyObject *report)
{
    PyObject *name = PyStructSequence_GET_ITEM(entry, 1);
    PyObject *code = PyStructSequence_GET_ITEM(entry, 4);
    PyObject *reason = PyStructSequence_GET_ITEM(entry, 5);
    PyObject *ln = PyStructSequence_GET_ITEM(entry, 7);
    int lineno = PyLong_Check(ln) ? (int)PyLong_AsLong(ln) : 0;
    PyObject *why = NULL;
    /* the reasons are written for a partial batch ("...; the body was
     * applied"): only the part before that is true here */
    if (PyUnicode_Check(reason)) {
        PyObject *sep = PyUnicode_FromString("; ");
        Py_ssize_t at = sep ? PyUnicode_Find(reason, sep, 0,
                                             PyUnicode_GET_LENGTH(reason), 1)
                            : -2;
        Py_XDECREF(sep);
        why = at >= 0    ? PyUnicode_Substring(reason, 0, at)
              : at == -1 ? Py_NewRef(reason)
                         : NULL;
    }
    else {
        why = Py_NewRef(reason);
    }
    PyObject *msg =
        why == NULL
            ? NULL
            : PyUnicode_FromFormat("cannot reload %S: %U: class %U cannot be "
                                   "changed in place: %S "
                                   "(%S:%d); nothing was changed (reload(..., "
                                   "partial=True) applies "
                                   "the rest)",
                                   job->name, code, name, why, job->filename,
                                   lineno);
    Py_XDECREF(why);
    const char *c = PyUnicode_AsUTF8(code);
    if (msg == NULL || c == NULL
        || raise_reload_error(st, job, c, msg, job->filename, lineno, report,
                              NULL)
               < 0)
    {
        if (!PyErr_Occurred()) {
            PyErr_SetString(st->reload_error, "cannot reload: a class edit "
                                              "cannot be applied in place");
        }
    }
    Py_XDECREF(msg);
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
        const char *status = i == failed          ? "failed"
                             : job->changed && ok ? "reloaded"
                                                  : "unchanged";
        if (only_changed && i != failed && !(job->changed && ok)) {
            continue;
        }
        PyObject *mr =
            hs_module_result_new(st->module_result_type, job->name,
                                 job->filename, status, job->seconds);
        if (mr == NULL || PyList_Append(modules, mr) < 0) {
            Py_XDECREF(mr);
            goto done;
        }
        Py_DECREF(mr);
        if (ok && job->entries != NULL) {
            for (Py_ssize_t e = 0; e < PyList_GET_SIZE(job->entries); e++) {
                if (PyList_Append(entries, PyList_GET_ITEM(job->entries, e))
                    < 0)
                {
                    goto done;
                }
            }
        }
    }
    report =
        hs_report_new(st->report_type, entries, modules, ok, hs_now() - t0);
done:
    Py_XDECREF(entries);
    Py_XDECREF(modules);
    return report;
}

PyObject *
hs_reload(PyObject *core, PyObject *targets, PyObject *policy, int flags)
{
    int only_changed = flags & HS_RELOAD_ONLY_CHANGED;
    int partial = (flags & HS_RELOAD_PARTIAL) != 0;
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
    PyObject *batch = NULL;   /* what the adapters see */
    int adapters_pending = 0; /* "prepare" done, no "commit"/"rollback" */
    HsTxn txn = {0};
    int gc_was_enabled = 0, gc_off = 0;
    Py_ssize_t failed = -1, count = 0;
    Failure fail = {NULL, NULL};
    double t0 = hs_now();
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
        job->dunders = &st->dunders;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        double t = hs_now();
        if (prepare_job(st, &jobs[i], &fail) < 0) {
            jobs[i].seconds = hs_now() - t;
            failed = i;
            goto fail;
        }
        jobs[i].seconds = hs_now() - t;
    }
    if (order_jobs(jobs, count, order) < 0) {
        goto out;
    }
    /* adapters snapshot their registries before staging runs decorators */
    batch = hs_adapters_batch(st, jobs, order, count);
    if (batch == NULL) {
        goto out;
    }
    if (hs_adapters_call(st, "prepare", batch, jobs, count, &failed,
                         &fail.code)
        < 0)
    {
        goto fail;
    }
    adapters_pending = 1;

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
        double t = hs_now();
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
        if (staged == 0 && hs_apply_rebase_functions(job, after != before) < 0)
        {
            staged = -1;
        }
        if (gc_was_enabled) {
            PyObject *exc = PyErr_GetRaisedException();
            r = PyObject_CallMethod(gc, "enable", NULL);
            Py_XDECREF(r);
            PyErr_SetRaisedException(exc);
        }
        gc_off = 0;
        if (staged < 0) {
            failed = order[k];
            fail.code = "HS504";
            goto fail;
        }
        if (hs_apply_job(job, &txn, nested) < 0) {
            failed = order[k];
            fail.code = job->user_error ? "HS504" : "HS507";
            goto fail;
        }
        /* all or nothing: a class edit that cannot be applied in place
         * fails the batch unless it is partial */
        if (!partial && (fail.refusal = first_class_refusal(job)) != NULL) {
            Py_INCREF(fail.refusal);
            failed = order[k];
            goto fail;
        }
        job->seconds += hs_now() - t;
    }
    /* closures made before the reload from changed inner functions */
    if (hs_func_patch_live(&txn, nested, rejected) < 0) {
        fail.code = "HS507";
        failed = count ? order[0] : -1;
        goto fail;
    }
    if (hs_report_codes(jobs, count, rejected, "rejected", "HS104", 1) < 0) {
        goto out;
    }
    /* frames that keep running superseded code: said, not fatal */
    {
        PyObject *superseded = PyDict_New(), *stale = PyList_New(0);
        if (superseded == NULL || stale == NULL
            || hs_txn_superseded_codes(&txn, superseded) < 0
            || hs_frames_stale(superseded, stale) < 0
            || hs_report_codes(jobs, count, stale, "kept", "HS301", 0) < 0)
        {
            PyErr_Clear();
        }
        Py_XDECREF(superseded);
        Py_XDECREF(stale);
    }

    /* adapters bring registries built at import up to date; the undo log
     * is still open, so a refusal rolls everything back */
    if (hs_adapters_call(st, "apply", batch, jobs, count, &failed, &fail.code)
        < 0)
    {
        goto fail;
    }

    /* FINISH: the new snapshots, then forget the undo log */
    for (Py_ssize_t i = 0; i < count; i++) {
        HsJob *job = &jobs[i];
        if (!job->changed) {
            continue;
        }
        PyObject *snap = hs_snapshot_new(st->snapshot_type, job->filename,
                                         job->raw, job->text, &job->chunks);
        if (snap == NULL || PyDict_SetItem(st->snapshots, job->name, snap) < 0)
        {
            Py_XDECREF(snap);
            PyErr_WriteUnraisable(job->name);
            continue;
        }
        Py_DECREF(snap);
        refresh_linecache(job->filename);
    }
    hs_txn_clear(&txn);
    adapters_pending = 0;
    hs_adapters_notify(st, "commit", batch);
    report = build_report(st, jobs, order, count, 1, -1, only_changed, t0);
    goto out;

fail:
    if (adapters_pending) {
        adapters_pending = 0;
        hs_adapters_notify(st, "rollback", batch);
    }
    hs_txn_rollback(&txn);
    if (gc_off && gc_was_enabled) {
        PyObject *r = PyObject_CallMethod(gc, "enable", NULL);
        Py_XDECREF(r);
        gc_off = 0;
    }
    {
        PyObject *exc = PyErr_GetRaisedException();
        PyObject *fr =
            build_report(st, jobs, NULL, count, 0, (int)failed, 0, t0);
        PyErr_Clear();
        PyErr_SetRaisedException(exc);
        if (fail.refusal != NULL) {
            PyErr_Clear();
            raise_class_refusal(st, &jobs[failed], fail.refusal, fr);
        }
        else {
            hs_reload_raise_error(st, failed >= 0 ? &jobs[failed] : NULL,
                                  fail.code, fr);
        }
        Py_XDECREF(fr);
    }
out:
    if (adapters_pending) {
        hs_adapters_notify(st, "rollback", batch);
    }
    if (report == NULL && txn.len > 0) {
        hs_txn_rollback(&txn);
    }
    if (gc_off && gc_was_enabled && gc != NULL) {
        PyObject *exc = PyErr_GetRaisedException();
        PyObject *r = PyObject_CallMethod(gc, "enable", NULL);
        Py_XDECREF(r);
        PyErr_SetRaisedException(exc);
    }
    if (jobs != NULL) {
        for (Py_ssize_t i = 0; i < n; i++) {
            hs_job_clear(&jobs[i]);
        }
    }
    PyMem_Free(jobs);
    PyMem_Free(order);
    Py_XDECREF(gc);
    Py_XDECREF(nested);
    Py_XDECREF(rejected);
    Py_XDECREF(batch);
    Py_XDECREF(fail.refusal);
    Py_DECREF(seq);
    st->busy = 0;
    return report;
}
