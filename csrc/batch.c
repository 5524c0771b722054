/* batch.c -- the lifecycle of one batch: begin (one at a time, the
 * collector paused), the undo log shared by every module, the pass over
 * closures made before the batch (HS104), the all-or-nothing checks, the
 * report, and commit or rollback with ReloadError.
 *
 * reload.c (hs_reload: reload(), importlib.reload routing, the watcher's
 * pending call and poll() through safepoint.c) and patch.c (hs_patch) are
 * its clients; they run the stages in between.  Main thread, GIL held.
 * The HsBatch lives on the client's stack; batch.c writes its fields.
 */
#include "batch.h"
#include "funcs.h"
#include "plan.h"
#include "report.h"

#include <string.h>
#include <time.h>

double
hs_batch_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------ */
/* the collector                                                       */

/* A general note on the collector during a batch.
 *
 * A collection runs in whatever frame allocates when a threshold is
 * crossed, and the finalizers it calls (an unclosed file's or socket's
 * ResourceWarning, a __del__ that warns) attribute their warnings to that
 * frame.  A reload allocates, and runs Python code of its own: adapters,
 * the log sink, after-reload hooks (the CLI's are in hotswap/events.py),
 * the stdlib they call.  So a program's garbage, or the old values a
 * reload just released, would be finalized there and the warnings would
 * name hotswap's files.  The collector is paused for the whole batch and
 * its messages, and resumed after: the debt is paid at the program's next
 * allocation, in the program's frame, as without hotswap. */

int
hs_batch_gc_pause(void)
{
    return PyGC_Disable(); /* 1: it was running */
}

void
hs_batch_gc_resume(int paused)
{
    if (paused) {
        (void)PyGC_Enable();
    }
}

/* ------------------------------------------------------------------ */
/* begin, commit, end                                                  */

int
hs_batch_running(HsState *st)
{
    return st->busy;
}

int
hs_batch_begin(HsBatch *b, HsState *st, const char *api)
{
    b->st = st;
    b->txn.records = &st->records;
    b->t0 = hs_batch_now();
    if (st->busy) {
        PyErr_Format(PyExc_RuntimeError,
                     "hotswap.%s() called while a reload is running", api);
        return -1;
    }
    b->nested = PyDict_New();
    b->rejected = PyList_New(0);
    if (b->nested == NULL || b->rejected == NULL) {
        return -1;
    }
    st->busy = 1;
    b->begun = 1;
    b->gc_paused = hs_batch_gc_pause();
    return 0;
}

HsJob *
hs_batch_jobs(HsBatch *b, Py_ssize_t n)
{
    b->jobs = PyMem_Calloc(n > 0 ? n : 1, sizeof(HsJob));
    if (b->jobs == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    b->njobs = n > 0 ? n : 1;
    for (Py_ssize_t i = 0; i < b->njobs; i++) {
        b->jobs[i].heap = &b->heap;
    }
    return b->jobs;
}

int
hs_batch_live_closures(HsBatch *b, HsJob *jobs, Py_ssize_t count)
{
    if (hs_func_patch_live(&b->txn, &b->heap, b->nested, b->rejected) < 0) {
        return -1;
    }
    return hs_report_codes(jobs, count, b->rejected, HS104_CLOSURE, 1);
}

void
hs_batch_commit(HsBatch *b)
{
    hs_txn_clear(&b->txn);
    b->committed = 1;
}

void
hs_batch_end(HsBatch *b)
{
    if (!b->committed && b->txn.len > 0) {
        hs_txn_rollback(&b->txn);
    }
    hs_txn_clear(&b->txn);
    for (Py_ssize_t i = 0; i < b->njobs; i++) {
        hs_batch_job_clear(&b->jobs[i]);
    }
    PyMem_Free(b->jobs);
    b->jobs = NULL;
    b->njobs = 0;
    Py_CLEAR(b->nested);
    Py_CLEAR(b->rejected);
    hs_heap_clear(&b->heap);
    if (b->begun) {
        b->st->busy = 0;
        b->begun = 0;
        hs_batch_gc_resume(b->gc_paused);
        b->gc_paused = 0;
    }
}

/* ------------------------------------------------------------------ */
/* jobs                                                                */

void
hs_batch_job_clear(HsJob *job)
{
    Py_CLEAR(job->module);
    Py_CLEAR(job->name);
    Py_CLEAR(job->filename);
    Py_CLEAR(job->dict);
    Py_CLEAR(job->src.raw);
    Py_CLEAR(job->src.text);
    Py_CLEAR(job->src.snap);
    hs_chunks_clear(&job->src.chunks);
    PyMem_Free(job->plan.state);
    PyMem_Free(job->plan.match);
    PyMem_Free(job->plan.old_matched);
    PyMem_Free(job->plan.deco);
    job->plan.state = NULL;
    job->plan.match = NULL;
    job->plan.old_matched = NULL;
    job->plan.deco = NULL;
    Py_CLEAR(job->plan.codes);
    Py_CLEAR(job->plan.full_code);
    Py_CLEAR(job->staged.scratch);
    for (Py_ssize_t i = 0; i < job->staged.n_class_updates; i++) {
        HsClassUpdate *up = &job->staged.class_updates[i];
        Py_CLEAR(up->klass);
        Py_CLEAR(up->ns);
        Py_CLEAR(up->bases);
        Py_CLEAR(up->old_bases);
        Py_CLEAR(up->metaclass);
        Py_CLEAR(up->keywords);
        Py_CLEAR(up->shadow);
        Py_CLEAR(up->prepared);
        hs_plan_class_clear(&up->plan);
    }
    PyMem_Free(job->staged.class_updates);
    job->staged.class_updates = NULL;
    job->staged.n_class_updates = job->staged.cap_class_updates = 0;
    Py_CLEAR(job->staged.def_results);
    Py_CLEAR(job->entries);
    Py_CLEAR(job->plan.chunk_binds);
    Py_CLEAR(job->live_of);
    Py_CLEAR(job->young);
    Py_CLEAR(job->staged.ann_sets);
    Py_CLEAR(job->staged.ann_eager);
}

/* ------------------------------------------------------------------ */
/* the report                                                          */

PyObject *
hs_batch_report(HsBatch *b, HsJob *jobs, const Py_ssize_t *order, Py_ssize_t n,
                int ok, Py_ssize_t failed, int only_changed)
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
        const char *status = i == failed              ? "failed"
                             : job->src.changed && ok ? "reloaded"
                                                      : "unchanged";
        if (only_changed && i != failed && !(job->src.changed && ok)) {
            continue;
        }
        PyObject *mr =
            hs_report_module_result_new(b->st->module_result_type, job->name,
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
    report = hs_report_new(b->st->report_type, entries, modules, ok,
                           hs_batch_now() - b->t0);
done:
    Py_XDECREF(entries);
    Py_XDECREF(modules);
    return report;
}

/* ------------------------------------------------------------------ */
/* failing: roll back, raise ReloadError                               */

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
        PyErr_Clear(); /* swallow: (the error's location is best effort) */
        return;
    }
    Py_XDECREF(hl);
    /* swallow: the location of an error being raised (exc, stashed by
     * the caller) is best effort: an attribute that cannot be read leaves
     * the location unknown; so below */
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
        PyErr_Clear(); /* swallow: (the error's location is best effort) */
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
    PyErr_Clear(); /* swallow: (the error's location is best effort) */
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
        PyObject *cd = PyUnicode_FromString(code ? code : hs_diag_code(HS507));
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

static void
batch_raise(HsState *st, HsJob *job, const char *code, PyObject *report)
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
    /* swallow: the message's location is best effort (exc is raised as
     * the ReloadError's cause in any case) */
    PyErr_Clear();
    if (where != NULL) {
        msg = PyUnicode_FromFormat(
            "cannot reload %S: %s: %s: %S%U", job ? job->name : Py_None,
            code ? code : hs_diag_code(HS507),
            exc ? Py_TYPE(exc)->tp_name : "error", exc ? exc : Py_None, where);
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
 * removed or re-valued enum members (HS205): the rows of diag.h marked
 * `refuses`.  HS203 "replaced" (the rebuild_layout opt-in) applied and
 * does not count. */
PyObject *
hs_batch_class_refusal(HsJob *job)
{
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
        for (int d = 0; d < HS_DIAG_COUNT; d++) {
            const HsDiagInfo *info = hs_diag((HsDiag)d);
            if (info->refuses
                && PyUnicode_CompareWithASCIIString(code, info->code) == 0)
            {
                return e;
            }
        }
    }
    return NULL;
}

/* ReloadError for a refused class edit: `entry` is its report entry. */
static void
batch_raise_refusal(HsState *st, HsJob *job, PyObject *entry, PyObject *report)
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

void
hs_batch_fail(HsBatch *b, HsJob *job, const char *code, PyObject *report)
{
    hs_txn_rollback(&b->txn);
    batch_raise(b->st, job, code, report);
}

void
hs_batch_fail_refusal(HsBatch *b, HsJob *job, PyObject *entry,
                      PyObject *report)
{
    hs_txn_rollback(&b->txn);
    batch_raise_refusal(b->st, job, entry, report);
}
