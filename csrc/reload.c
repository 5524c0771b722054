/* reload.c -- one batch, start to end.
 *
 *   SOURCE   read each module's bytes through its loader, compare with the
 *            snapshot (content, never mtime), scan the text into chunks
 *   PLAN     match new chunks with old ones: unchanged, moved, changed,
 *            added; old ones left over were removed
 *            and decide the mode (plan.c); compile the changed chunks,
 *            or the whole file when one does not compile alone
 *            (compile.c): PLAN is the only writer of the mode
 *   STAGE    run the compiled chunks in a scratch copy of the module dict
 *            (stage.c)
 *   APPLY    under the undo log (txn.c): patch functions (funcs.c) and
 *            classes (classes.c) in place, bind data per policy, shift the
 *            line numbers of moved definitions, delete removed names
 *   FINISH   new snapshots, linecache, the report; or roll everything back
 *            and raise ReloadError
 *
 * Main thread, GIL held.  The lifecycle around the stages (one batch at
 * a time, the collector paused, the undo log, the closures pass, the
 * all-or-nothing checks, the report, commit or ReloadError) is batch.c's,
 * shared with patch(); hs_reload() runs the stages in between, one named
 * step each.
 *
 * Modules of a batch are staged and applied one after another in
 * dependency order, so a module's new statements can import names the
 * module before it just gained.  Within one module, APPLY runs no Python
 * code in the common case (audit hooks, metaclass __setattr__ and
 * __set_name__ aside), so another thread sees either the old module or the
 * new one.  A failure anywhere rolls back every module of the batch.
 */
#include "reload.h"
#include "errors.h"
#include "adapters.h"
#include "batch.h"
#include "apply.h"
#include "plan.h"
#include "classes.h"
#include "compile.h"
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

/* ------------------------------------------------------------------ */
/* jobs                                                                */

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

/* 1 / 0 / -1. */
static int
is_namespace_package(PyObject *module)
{
    PyObject *file = NULL, *path = NULL;
    if (PyObject_GetOptionalAttrString(module, "__file__", &file) < 0
        || PyObject_GetOptionalAttrString(module, "__path__", &path) < 0)
    {
        Py_XDECREF(file);
        /* a module __getattr__ that fails: not a namespace package */
        return hs_err_clear_unless_fatal();
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
        fail->code = hs_diag_code(HS505);
        return -1;
    }
    job->dict = Py_NewRef(PyModule_GetDict(job->module));
    job->entries = PyList_New(0);
    if (job->entries == NULL) {
        return -1;
    }
    int ns = is_namespace_package(job->module);
    if (ns != 0) {
        job->src.changed = 0;
        return ns;
    }
    job->filename = hs_source_filename(job->module);
    if (job->filename == NULL) {
        fail->code = hs_diag_code(HS505);
        return -1;
    }
    if (hs_source_read(job->module, job->filename, &job->src.raw,
                       &job->src.text, &code)
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
        int same = PyObject_RichCompareBool(s->raw, job->src.raw, Py_EQ);
        if (same < 0) {
            return -1;
        }
        if (same) {
            job->src.changed = 0;
            return 0;
        }
        if (hs_snapshot_prepare(s) < 0) {
            /* the old source no longer decodes: compare with live code */
            if (hs_err_clear_unless_fatal() < 0) {
                return -1;
            }
        }
        else {
            job->src.snap = Py_NewRef(snap);
            job->src.old_text = PyBytes_AS_STRING(s->text);
            job->src.old_chunks = &s->chunks;
        }
    }
    job->src.changed = 1;
    if (hs_scan(PyBytes_AS_STRING(job->src.text), 0,
                PyBytes_GET_SIZE(job->src.text), 1, &job->src.chunks)
        < 0)
    {
        return -1;
    }
    if (job->src.chunks.len == 0 && !job->src.chunks.unsure
        && (job->src.old_chunks ? job->src.old_chunks->len > 0
                                : PyBytes_GET_SIZE(job->src.raw) == 0))
    {
        fail->code = hs_diag_code(HS506);
        PyErr_Format(PyExc_ValueError,
                     "%U is empty while the loaded module is not (a save "
                     "in progress?); refusing to delete every definition",
                     job->filename);
        return -1;
    }
    if (hs_plan_module(job) < 0) {
        return -1;
    }
    if (hs_compile_job(job) < 0) {
        fail->code = hs_diag_code(HS503);
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
        if (own < 0 && hs_err_clear_unless_fatal() < 0) {
            Py_DECREF(ids);
            Py_DECREF(items);
            return NULL; /* else: ordering is best effort */
        }
        PyObject *id = own == 1 ? PyLong_FromVoidPtr(value) : NULL;
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
 * wrapper; a class b defined and a did not).  1 / 0 / -1. */
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
                return -1; /* a function's own attribute: a MemoryError */
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
            if (r != 0) {
                return r; /* 1, or -1 (a set of ints: a MemoryError) */
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
            int r = i == j ? 0
                           : depends_on(&jobs[i], &jobs[j],
                                        PyList_GET_ITEM(classes, i),
                                        PyList_GET_ITEM(classes, j));
            if (r < 0) {
                goto done;
            }
            deps[i * n + j] = (char)r;
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
                if (!done[j] && jobs[j].src.changed && deps[i * n + j]
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
    /* swallow: linecache is a cache, refreshed after the batch applied
     * (an entry left is a stale source line in a traceback, no more) */
    PyErr_Clear();
    return 0;
}

/* ------------------------------------------------------------------ */
/* the batch, step by step                                             */

/* A job for each module of `seq` (modules or dotted names), duplicates
 * left out; *count of them.  0 / -1. */
static int
batch_add_jobs(HsState *st, PyObject *seq, PyObject *policy, int flags,
               HsJob *jobs, Py_ssize_t *count)
{
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *m = resolve_module(PySequence_Fast_GET_ITEM(seq, i));
        if (m == NULL) {
            return -1;
        }
        int dup = 0;
        for (Py_ssize_t j = 0; j < *count; j++) {
            dup |= jobs[j].module == m;
        }
        if (dup) {
            Py_DECREF(m);
            continue;
        }
        HsJob *job = &jobs[(*count)++];
        job->module = m;
        job->policy = policy;
        job->rebuild_layout = (flags & HS_RELOAD_REBUILD_LAYOUT) != 0;
        job->change_type = st->change_type;
        job->dunders = &st->dunders;
    }
    for (Py_ssize_t j = 0; j < *count; j++) {
        jobs[j].peers = jobs;
        jobs[j].npeers = *count;
    }
    return 0;
}

/* STAGE and APPLY one changed module under the batch's undo log.  0, or
 * -1 with an exception and fail->code set (NULL: HS507), or with
 * fail->refusal set (a class edit that fails the batch, no exception). */
static int
stage_and_apply(HsBatch *b, HsJob *job, int partial, Failure *fail)
{
    double t = hs_batch_now();
    Py_ssize_t before = 0, after = 0;
    /* the functions staging makes are found among the young objects:
     * no collection while staging (staged code may turn it back on) */
    int paused = hs_batch_gc_pause();
    if (hs_heap_collections(&before) < 0) {
        hs_batch_gc_resume(paused);
        return -1;
    }
    int staged = hs_stage_run(job);
    if (staged == 0 && hs_heap_collections(&after) < 0) {
        staged = -1;
    }
    if (staged == 0 && hs_apply_rebase_functions(job, after != before) < 0) {
        staged = -1;
    }
    hs_batch_gc_resume(paused);
    if (staged < 0) {
        fail->code = hs_diag_code(HS504);
        return -1;
    }
    if (hs_apply_job(job, &b->txn, b->nested) < 0) {
        fail->code = hs_diag_code(job->user_error ? HS504 : HS507);
        return -1;
    }
    /* all or nothing: a class edit that cannot be applied in place fails
     * the batch unless it is partial */
    if (!partial && (fail->refusal = hs_batch_class_refusal(job)) != NULL) {
        Py_INCREF(fail->refusal);
        return -1;
    }
    job->seconds += hs_batch_now() - t;
    return 0;
}

/* Frames that keep running superseded code: said (HS301), never fatal. */
static void
report_stale_frames(HsBatch *b, HsJob *jobs, Py_ssize_t count)
{
    PyObject *superseded = PyDict_New(), *stale = PyList_New(0);
    if (superseded == NULL || stale == NULL
        || hs_txn_superseded_codes(&b->txn, superseded) < 0
        || hs_frames_stale(&b->heap, superseded, stale) < 0
        || hs_report_codes(jobs, count, stale, HS301, 0) < 0)
    {
        /* swallow: HS301 is a note on an applied batch (never fatal) */
        PyErr_Clear();
    }
    Py_XDECREF(superseded);
    Py_XDECREF(stale);
}

/* FINISH: the new snapshot of every changed module, and linecache.  A
 * snapshot that cannot be recorded is reported as unraisable (the batch
 * is applied: the next reload compares with the live code). */
static void
finish_jobs(HsState *st, HsJob *jobs, Py_ssize_t count)
{
    for (Py_ssize_t i = 0; i < count; i++) {
        HsJob *job = &jobs[i];
        if (!job->src.changed) {
            continue;
        }
        PyObject *snap =
            hs_snapshot_new(st->snapshot_type, job->filename, job->src.raw,
                            job->src.text, &job->src.chunks);
        if (snap == NULL || PyDict_SetItem(st->snapshots, job->name, snap) < 0)
        {
            Py_XDECREF(snap);
            PyErr_WriteUnraisable(job->name);
            continue;
        }
        Py_DECREF(snap);
        refresh_linecache(job->filename);
    }
}

/* Roll the batch back and raise its ReloadError, with the report of the
 * failed batch attached (job `failed` failed, -1: none named). */
static void
fail_batch(HsBatch *b, HsJob *jobs, Py_ssize_t count, Py_ssize_t failed,
           Failure *fail)
{
    PyObject *exc = PyErr_GetRaisedException();
    PyObject *report = hs_batch_report(b, jobs, NULL, count, 0, failed, 0);
    /* swallow: the failed batch's report is best effort; exc, the reason
     * it failed, is what is raised */
    PyErr_Clear();
    PyErr_SetRaisedException(exc);
    HsJob *job = failed >= 0 ? &jobs[failed] : NULL;
    if (fail->refusal != NULL) {
        /* swallow: a refusal fails the batch with no exception of its
         * own (none is expected here) */
        PyErr_Clear();
        hs_batch_fail_refusal(b, job, fail->refusal, report);
    }
    else {
        hs_batch_fail(b, job, fail->code, report);
    }
    Py_XDECREF(report);
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
    HsBatch b = {0};
    PyObject *seq = NULL, *report = NULL;
    PyObject *adapters = NULL; /* the batch as the adapters see it */
    int adapters_pending = 0;  /* "prepare" done, no "commit"/"rollback" */
    HsJob *jobs = NULL;
    Py_ssize_t *order = NULL;
    Py_ssize_t n = 0, failed = -1, count = 0;
    Failure fail = {NULL, NULL};
    if (hs_batch_begin(&b, st, "reload") < 0) {
        goto done;
    }
    seq = PySequence_Fast(targets, "targets must be a sequence");
    if (seq == NULL) {
        goto done;
    }
    n = PySequence_Fast_GET_SIZE(seq);
    jobs = hs_batch_jobs(&b, n);
    order = PyMem_Calloc(n ? n : 1, sizeof(Py_ssize_t));
    if (jobs == NULL || order == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (batch_add_jobs(st, seq, policy, flags, jobs, &count) < 0) {
        goto done;
    }
    /* SOURCE, PLAN, compile: nothing is written yet */
    for (Py_ssize_t i = 0; i < count; i++) {
        double t = hs_batch_now();
        int r = prepare_job(st, &jobs[i], &fail);
        jobs[i].seconds = hs_batch_now() - t;
        if (r < 0) {
            failed = i;
            goto fail;
        }
    }
    if (order_jobs(jobs, count, order) < 0) {
        goto done;
    }
    /* adapters snapshot their registries before staging runs decorators */
    adapters = hs_adapters_batch(st, jobs, order, count);
    if (adapters == NULL) {
        goto done;
    }
    if (hs_adapters_call(st, "prepare", adapters, jobs, count, &failed,
                         &fail.code)
        < 0)
    {
        goto fail;
    }
    adapters_pending = 1;
    /* STAGE and APPLY, module by module, one undo log for the batch */
    for (Py_ssize_t k = 0; k < count; k++) {
        if (jobs[order[k]].src.changed
            && stage_and_apply(&b, &jobs[order[k]], partial, &fail) < 0)
        {
            failed = order[k];
            goto fail;
        }
    }
    if (hs_batch_live_closures(&b, jobs, count) < 0) {
        fail.code = hs_diag_code(HS507);
        failed = count ? order[0] : -1;
        goto fail;
    }
    report_stale_frames(&b, jobs, count);
    /* adapters bring registries built at import up to date; the undo log
     * is still open, so a refusal rolls everything back */
    if (hs_adapters_call(st, "apply", adapters, jobs, count, &failed,
                         &fail.code)
        < 0)
    {
        goto fail;
    }
    finish_jobs(st, jobs, count);
    hs_batch_commit(&b);
    adapters_pending = 0;
    hs_adapters_notify(st, "commit", adapters);
    report = hs_batch_report(&b, jobs, order, count, 1, -1, only_changed);
    goto done;

fail:
    if (adapters_pending) {
        adapters_pending = 0;
        hs_adapters_notify(st, "rollback", adapters);
    }
    fail_batch(&b, jobs, count, failed, &fail);
done:
    if (adapters_pending) {
        hs_adapters_notify(st, "rollback", adapters);
    }
    PyMem_Free(order);
    Py_XDECREF(adapters);
    Py_XDECREF(fail.refusal);
    Py_XDECREF(seq);
    hs_batch_end(&b);
    return report;
}
