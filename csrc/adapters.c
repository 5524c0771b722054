/* adapters.c -- the fixed points where a batch calls framework adapters.
 *
 * Framework policy (which registries a module's import filled, how to make
 * them equal to a fresh import of the new source) lives in Python, in
 * hotswap.adapters, which installs one dispatcher with
 * _core._set_adapter_hook().  A batch calls it, on the main thread with
 * the GIL held, as dispatcher(phase, batch):
 *
 *   "prepare"   after PLAN, before STAGE (staging may run decorators that
 *               register into the registries: the adapters snapshot first)
 *   "apply"     after APPLY and the closure patching, the undo log still
 *               open: the adapters bring their registries up to date; an
 *               exception fails the batch (rolled back, ReloadError)
 *   "rollback"  the batch failed after "prepare": before the undo log is
 *               replayed, the adapters restore what they wrote
 *   "commit"    the batch was applied
 *
 * batch is a tuple of (module, new source text, entries) per changed
 * module.  This file owns no state; the dispatcher is HsState.adapter_hook.
 */
#include "adapters.h"
#include "report.h"

#include <string.h>

PyObject *
hs_adapters_batch(HsState *st, HsJob *jobs, const Py_ssize_t *order,
                  Py_ssize_t count)
{
    if (st->adapter_hook == NULL) {
        Py_RETURN_NONE;
    }
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    for (Py_ssize_t k = 0; k < count; k++) {
        HsJob *job = &jobs[order[k]];
        if (!job->src.changed) {
            continue;
        }
        PyObject *text = PyUnicode_FromStringAndSize(
            PyBytes_AS_STRING(job->src.text), PyBytes_GET_SIZE(job->src.text));
        PyObject *item =
            text ? PyTuple_Pack(3, job->module, text, job->entries) : NULL;
        Py_XDECREF(text);
        if (item == NULL || PyList_Append(list, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(item);
    }
    if (PyList_GET_SIZE(list) == 0) {
        Py_DECREF(list);
        Py_RETURN_NONE;
    }
    PyObject *t = PyList_AsTuple(list);
    Py_DECREF(list);
    return t;
}

static Py_ssize_t
job_named(HsJob *jobs, Py_ssize_t count, PyObject *name)
{
    for (Py_ssize_t i = 0; name != NULL && PyUnicode_Check(name) && i < count;
         i++)
    {
        if (jobs[i].name != NULL && PyUnicode_Compare(jobs[i].name, name) == 0)
        {
            return i;
        }
    }
    return -1; /* (two str compare without error) */
}

/* The code a refusal names (exc.hotswap_code, "HSnnn"), else HS508. */
static const char *
failure_code(void)
{
    static char buf[8];
    PyObject *exc = PyErr_GetRaisedException();
    const char *code = hs_diag_code(HS508);
    PyObject *c = exc ? PyObject_GetAttrString(exc, "hotswap_code") : NULL;
    const char *s = c && PyUnicode_Check(c) ? PyUnicode_AsUTF8(c) : NULL;
    if (s != NULL && strlen(s) == 5 && strncmp(s, "HS", 2) == 0) {
        memcpy(buf, s, 6);
        code = buf;
    }
    Py_XDECREF(c);
    /* swallow: reading the refusal's code while it is being raised; exc
     * is raised again as it was */
    PyErr_Clear();
    PyErr_SetRaisedException(exc);
    return code;
}

static int
add_entries(PyObject *result, HsJob *jobs, Py_ssize_t count)
{
    if (result == Py_None) {
        return 0;
    }
    PyObject *seq = PySequence_Fast(result, "adapter entries must be a "
                                            "sequence of tuples");
    if (seq == NULL) {
        return -1;
    }
    int r = 0;
    for (Py_ssize_t i = 0; r == 0 && i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *e = PySequence_Fast_GET_ITEM(seq, i);
        PyObject *mod, *name, *reason = Py_None;
        const char *kind, *action, *code;
        int lineno = 0;
        if (!PyTuple_Check(e)
            || !PyArg_ParseTuple(e, "UUssz|Oi", &mod, &name, &kind, &action,
                                 &code, &reason, &lineno))
        {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_TypeError,
                                "an adapter entry is a tuple (module, name, "
                                "kind, action, code, reason, lineno)");
            }
            r = -1;
            break;
        }
        Py_ssize_t j = job_named(jobs, count, mod);
        if (j < 0) {
            continue; /* not a module of this batch */
        }
        r = reason != Py_None ? hs_report_add(&jobs[j], name, kind, action,
                                              code, lineno, "%S", reason)
                              : hs_report_add(&jobs[j], name, kind, action,
                                              code, lineno, NULL);
    }
    Py_DECREF(seq);
    return r;
}

int
hs_adapters_call(HsState *st, const char *phase, PyObject *batch, HsJob *jobs,
                 Py_ssize_t count, Py_ssize_t *failed, const char **code)
{
    if (st->adapter_hook == NULL || batch == Py_None) {
        return 0;
    }
    PyObject *hook = Py_NewRef(st->adapter_hook);
    PyObject *res = PyObject_CallFunction(hook, "sO", phase, batch);
    Py_DECREF(hook);
    if (res != NULL && strcmp(phase, "apply") == 0
        && add_entries(res, jobs, count) < 0)
    {
        Py_CLEAR(res);
    }
    if (res == NULL) {
        PyObject *exc = PyErr_GetRaisedException();
        PyObject *mod =
            exc ? PyObject_GetAttrString(exc, "hotswap_module") : NULL;
        /* swallow: an optional attribute of the adapter's exception, read
         * while it is being raised (exc is raised again below) */
        PyErr_Clear();
        *failed = job_named(jobs, count, mod);
        for (Py_ssize_t i = 0; *failed < 0 && i < count; i++) {
            if (jobs[i].src.changed) {
                *failed = i; /* else the first module that changed */
            }
        }
        Py_XDECREF(mod);
        PyErr_SetRaisedException(exc);
        *code = failure_code();
        return -1;
    }
    Py_DECREF(res);
    return 0;
}

void
hs_adapters_notify(HsState *st, const char *phase, PyObject *batch)
{
    if (st->adapter_hook == NULL || batch == NULL || batch == Py_None) {
        return;
    }
    PyObject *exc = PyErr_GetRaisedException();
    PyObject *hook = Py_NewRef(st->adapter_hook);
    PyObject *res = PyObject_CallFunction(hook, "sO", phase, batch);
    if (res == NULL) {
        PyErr_WriteUnraisable(hook);
    }
    Py_DECREF(hook);
    Py_XDECREF(res);
    PyErr_SetRaisedException(exc);
}
