/* patch.c -- hotswap.patch(target, replacement): the hotfix API, on the
 * same function and class patching rules and undo log as a reload.
 *
 * Main thread, GIL held; one batch (batch.c) per call, of one job.
 */
#include "patch.h"
#include "errors.h"
#include "batch.h"
#include "funcs.h"
#include "internals.h"
#include "job.h"
#include "report.h"
#include "state.h"
#include "txn.h"

#include <string.h>

/* ------------------------------------------------------------------ */
/* hotswap.patch                                                       */

/* The function v is or holds (a classmethod's, a staticmethod's), a new
 * reference; NULL when none (with an exception on an error). */
static PyObject *
inner_function(PyObject *v)
{
    if (PyFunction_Check(v)) {
        return Py_NewRef(v);
    }
    if (PyObject_TypeCheck(v, &PyClassMethod_Type)
        || PyObject_TypeCheck(v, &PyStaticMethod_Type))
    {
        PyObject *f = PyObject_GetAttrString(v, "__func__");
        if (f == NULL || PyFunction_Check(f)) {
            return f;
        }
        Py_DECREF(f);
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
    PyObject *g =
        PyFunction_NewWithQualName(PyFunction_GET_CODE(f), globals, qual);
    Py_DECREF(qual);
    if (g == NULL) {
        return NULL;
    }
    /* 3.14+: __annotate__, not __annotations__ (which would evaluate
     * them); eager annotations are copied below */
    static const char *const attrs[] = {
        "__defaults__", "__kwdefaults__",
#if HS_HAVE_ANNOTATE
        "__annotate__",
#else
        "__annotations__",
#endif
        "__doc__",      "__dict__",       NULL};
    if (PyFunction_GET_CLOSURE(f) != NULL
        && PyFunction_SetClosure(g, PyFunction_GET_CLOSURE(f)) < 0)
    {
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
#if HS_HAVE_ANNOTATE
    PyObject *raw = hs_function_annotations_raw(f);
    if (raw != NULL && PyFunction_SetAnnotations(g, raw) < 0) {
        Py_DECREF(g);
        return NULL;
    }
    /* that cleared __annotate__: give it back (computed ones are dropped) */
    PyObject *ann = PyObject_GetAttrString(f, "__annotate__");
    if (ann == NULL || PyObject_SetAttrString(g, "__annotate__", ann) < 0) {
        Py_XDECREF(ann);
        Py_DECREF(g);
        return NULL;
    }
    Py_DECREF(ann);
#endif
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
        "__module__",
        "__qualname__",
        "__dict__",
        "__weakref__",
        "__slots__",
        "_abc_impl",
        "__orig_bases__",
        "__parameters__",
        "__firstlineno__",
        "__static_attributes__",
        NULL,
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
        if (fn == NULL && PyErr_Occurred()) {
            goto done;
        }
        if (fn != NULL) {
            /* super() in the replacement's methods means the target */
            PyObject *fv =
                PyObject_GetAttrString(PyFunction_GET_CODE(fn), "co_freevars");
            PyObject *cl = PyFunction_GET_CLOSURE(fn);
            for (Py_ssize_t k = 0; fv && cl && k < PyTuple_GET_SIZE(fv); k++) {
                if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(fv, k),
                                                     "__class__")
                        == 0
                    && PyCell_GET(PyTuple_GET_ITEM(cl, k)) == repl)
                {
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
        int found = PyMapping_GetOptionalItem(td, name, &old);
        Py_DECREF(td);
        PyObject *fo = old ? inner_function(old) : NULL;
        PyObject *qn = NULL;
        int r = 0;
        if (found < 0 || (fo == NULL && PyErr_Occurred())
            || (qn = PyUnicode_FromFormat("%U.%U", tq, name)) == NULL)
        {
            r = -1;
        }
        else if (fo != NULL && fn != NULL && Py_TYPE(old) == Py_TYPE(v)) {
            r = hs_func_patch(txn, fo, PyFunction_GET_CODE(fn), fn, nested);
            if (r == HS_PATCH_KIND || r == HS_PATCH_FREEVARS) {
                r = hs_txn_setattr(txn, target, name, v);
                if (r == 0) {
                    r = hs_report_diag(
                        job, qn, "method",
                        r == HS_PATCH_KIND ? HS101_KIND : HS104_REPLACED, 0);
                }
            }
            else if (r > 0) {
                r = hs_report_add(job, qn, "method", "updated", NULL, 0, NULL);
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
            /* a module global whose attribute access fails: no wrapper */
            if (hs_err_clear_unless_fatal() < 0) {
                Py_DECREF(values);
                return -1;
            }
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

/* patch() of a function: the code of `replacement` into `target`, in
 * place.  0 / -1. */
static int
patch_function(HsJob *job, HsTxn *txn, PyObject *target, PyObject *replacement,
               PyObject *nested)
{
    job->dict = Py_NewRef(PyFunction_GET_GLOBALS(target));
    job->filename =
        PyObject_GetAttrString(PyFunction_GET_CODE(target), "co_filename");
    if (job->filename == NULL) {
        return -1;
    }
    int r = hs_func_patch(txn, target, PyFunction_GET_CODE(replacement),
                          replacement, nested);
    if (r == HS_PATCH_KIND || r == HS_PATCH_FREEVARS) {
        PyErr_Format(PyExc_TypeError,
                     r == HS_PATCH_KIND
                         ? "%R cannot take the code of %R: one is a "
                           "generator or coroutine and the other not"
                         : "%R cannot take the code of %R: its free "
                           "variables differ",
                     target, replacement);
        return -1;
    }
    if (r > 0 && clear_caches_of(target) < 0) {
        return -1;
    }
    if (r < 0) {
        return -1;
    }
    PyObject *q = PyObject_GetAttrString(target, "__qualname__");
    r = q ? hs_report_add(job, q, "function",
                          r == HS_PATCH_NOOP ? "unchanged" : "updated", NULL,
                          0, NULL)
          : -1;
    Py_XDECREF(q);
    return r < 0 ? -1 : 0;
}

/* The dict and file of the module that defines class `target` into
 * `job`.  0 / -1 (a usage error: nothing was written). */
static int
class_module(HsJob *job, PyObject *target)
{
    PyObject *mods = PyImport_GetModuleDict();
    PyObject *m = PyDict_GetItemWithError(mods, job->name);
    if (m == NULL || !PyModule_Check(m)) {
        if (!PyErr_Occurred()) {
            PyErr_Format(PyExc_TypeError,
                         "hotswap.patch(): the module of %R (%R) is not "
                         "imported",
                         target, job->name);
        }
        return -1;
    }
    job->dict = Py_NewRef(PyModule_GetDict(m));
    PyObject *f = NULL;
    if (PyObject_GetOptionalAttrString(m, "__file__", &f) < 0) {
        return -1;
    }
    job->filename = f ? f : Py_NewRef(Py_None);
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
    HsBatch b = {0};
    PyObject *report = NULL;
    HsJob *job = NULL;
    if (hs_batch_begin(&b, st, "patch") < 0
        || (job = hs_batch_jobs(&b, 1)) == NULL)
    {
        goto done;
    }
    job->change_type = st->change_type;
    job->dunders = &st->dunders;
    job->entries = PyList_New(0);
    job->name =
        job->entries ? PyObject_GetAttrString(target, "__module__") : NULL;
    if (job->name == NULL) {
        goto done;
    }
    if (is_func) {
        if (patch_function(job, &b.txn, target, replacement, b.nested) < 0) {
            goto fail;
        }
    }
    else {
        if (class_module(job, target) < 0) {
            goto done;
        }
        if (patch_class(job, &b.txn, target, replacement, b.nested) < 0) {
            goto fail;
        }
    }
    /* closures made earlier from a patched function's inner functions:
     * the same pass and the same HS104 report as a reload */
    job->src.changed = 1;
    if (hs_batch_live_closures(&b, job, 1) < 0) {
        goto fail;
    }
    hs_batch_commit(&b);
    job->seconds = hs_batch_now() - b.t0;
    report = hs_batch_report(&b, job, NULL, 1, 1, -1, 0);
    goto done;
fail:
    hs_batch_fail(&b, job, hs_diag_code(HS507), NULL);
done:
    hs_batch_end(&b);
    return report;
}
