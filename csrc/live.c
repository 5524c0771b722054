/* live.c -- values computed at import see the module's live objects.
 *
 * Main thread, GIL held.  Owns job->live_of and job->young (freed with the
 * job).
 *
 * An edited statement that is run again (`HANDLERS = {"a": h}`, `def
 * use(cb=h)`, `partial(h, 6)`, `handler = h`) runs in the staging copy of
 * the module, where an edited `def h` bound the *staged* function.  APPLY
 * patches the live h in place and keeps it bound, so a fresh import's
 * `HANDLERS["a"] is h` would not hold: the table has the staged copy, and a
 * later edit of h would not reach it.  So APPLY notes every staged object
 * that a live one stands for (hs_live_note), and at the end of the job
 * replaces them in what the job bound.  Objects staging created are
 * changed in place (dicts, lists, cells, partials, functions' defaults,
 * instance dicts); a tuple holding one is copied.  Objects that existed
 * before the reload are never looked into: they are the program's data.
 */
#include "live.h"
#include "errors.h"

#define LIVE_MAX_DEPTH 6

typedef struct {
    HsJob *job;
    HsTxn *txn;
    PyObject *seen; /* strong set of ids */
} Live;

int
hs_live_note(HsJob *job, PyObject *staged, PyObject *live)
{
    if (staged == NULL || live == NULL || staged == live) {
        return 0;
    }
    if (job->live_of == NULL && (job->live_of = PyDict_New()) == NULL) {
        return -1;
    }
    PyObject *key = PyLong_FromVoidPtr(staged);
    PyObject *val = key ? PyTuple_Pack(2, staged, live) : NULL;
    int r = val ? PyDict_SetItem(job->live_of, key, val) : -1;
    Py_XDECREF(key);
    Py_XDECREF(val);
    return r;
}

int
hs_live_young(HsJob *job, PyObject *objs)
{
    Py_CLEAR(job->young);
    job->young = PySet_New(NULL);
    if (job->young == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(objs); i++) {
        PyObject *key = PyLong_FromVoidPtr(PyList_GET_ITEM(objs, i));
        int r = key ? PySet_Add(job->young, key) : -1;
        Py_XDECREF(key);
        if (r < 0) {
            return -1;
        }
    }
    return 0;
}

/* The live object for `o`, a new reference, or NULL (none; no error). */
static PyObject *
live_for(Live *lv, PyObject *o)
{
    PyObject *key = PyLong_FromVoidPtr(o);
    if (key == NULL) {
        return NULL;
    }
    PyObject *pair = PyDict_GetItemWithError(lv->job->live_of, key);
    Py_DECREF(key);
    if (pair == NULL || PyTuple_GET_ITEM(pair, 0) != o) {
        return NULL;
    }
    return Py_NewRef(PyTuple_GET_ITEM(pair, 1));
}

/* 1 when `o` was made by staging and not looked into yet. */
static int
live_enter(Live *lv, PyObject *o)
{
    if (lv->job->young == NULL || !PyObject_IS_GC(o) || PyType_Check(o)
        || PyModule_Check(o) || o == lv->job->staged.scratch)
    {
        return 0;
    }
    PyObject *key = PyLong_FromVoidPtr(o);
    if (key == NULL) {
        return -1;
    }
    int r = PySet_Contains(lv->job->young, key);
    if (r == 1) {
        r = PySet_Contains(lv->seen, key);
        r = r == 0 ? (PySet_Add(lv->seen, key) < 0 ? -1 : 1)
                   : (r < 0 ? -1 : 0);
    }
    Py_DECREF(key);
    return r;
}

static PyObject *live_subst(Live *lv, PyObject *o, int depth);

/* Substitute in a function's defaults and kwdefaults (saved in the undo
 * log first when the function is not one staging made). */
static int
live_function_defaults(Live *lv, PyObject *f, int depth, int young)
{
    static const char *const names[] = {"__defaults__", "__kwdefaults__",
                                        NULL};
    for (int i = 0; names[i] != NULL; i++) {
        PyObject *v = PyObject_GetAttrString(f, names[i]);
        if (v == NULL) {
            return -1;
        }
        PyObject *w =
            v == Py_None ? Py_NewRef(v) : live_subst(lv, v, depth + 1);
        int r = w ? 0 : -1;
        if (w != NULL && w != v) {
            if (!young && !hs_txn_function_saved(lv->txn, f)) {
                r = hs_txn_save_function(lv->txn, f);
            }
            if (r == 0) {
                r = PyObject_SetAttrString(f, names[i], w);
            }
        }
        Py_DECREF(v);
        Py_XDECREF(w);
        if (r < 0) {
            return -1;
        }
    }
    return 0;
}

static int
live_dict_in_place(Live *lv, PyObject *d, int depth)
{
    PyObject *items = PyDict_Items(d);
    if (items == NULL) {
        return -1;
    }
    int r = 0;
    for (Py_ssize_t i = 0; r == 0 && i < PyList_GET_SIZE(items); i++) {
        PyObject *kv = PyList_GET_ITEM(items, i);
        PyObject *v = PyTuple_GET_ITEM(kv, 1);
        PyObject *w = live_subst(lv, v, depth + 1);
        if (w == NULL) {
            r = -1;
        }
        else if (w != v) {
            r = PyDict_SetItem(d, PyTuple_GET_ITEM(kv, 0), w);
        }
        Py_XDECREF(w);
    }
    Py_DECREF(items);
    return r;
}

/* The items of a young list, in place.  0 / -1. */
static int
live_list_in_place(Live *lv, PyObject *o, int depth)
{
    int r = 0;
    for (Py_ssize_t i = 0; r == 0 && i < PyList_GET_SIZE(o); i++) {
        PyObject *v = PyList_GET_ITEM(o, i);
        Py_INCREF(v);
        PyObject *nv = live_subst(lv, v, depth + 1);
        if (nv == NULL) {
            r = -1;
        }
        else if (nv != v && i < PyList_GET_SIZE(o)) {
            r = PyList_SetItem(o, i, Py_NewRef(nv));
        }
        Py_XDECREF(nv);
        Py_DECREF(v);
    }
    return r;
}

/* A tuple is immutable: a new tuple when an item changes.  New
 * reference: the copy, or `o` itself. */
static PyObject *
live_tuple_copy(Live *lv, PyObject *o, int depth)
{
    Py_ssize_t n = PyTuple_GET_SIZE(o);
    PyObject *copy = NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyTuple_GET_ITEM(o, i);
        PyObject *nv = live_subst(lv, v, depth + 1);
        if (nv == NULL) {
            Py_XDECREF(copy);
            return NULL;
        }
        if (nv != v && copy == NULL) {
            copy = PyTuple_New(n);
            if (copy == NULL) {
                Py_DECREF(nv);
                return NULL;
            }
            for (Py_ssize_t k = 0; k < i; k++) {
                PyTuple_SET_ITEM(copy, k, Py_NewRef(PyTuple_GET_ITEM(o, k)));
            }
        }
        if (copy != NULL) {
            PyTuple_SET_ITEM(copy, i, nv);
        }
        else {
            Py_DECREF(nv);
        }
    }
    return copy ? copy : Py_NewRef(o);
}

/* A young function: its defaults, and what its closure cells hold.
 * 0 / -1. */
static int
live_function_in_place(Live *lv, PyObject *o, int depth)
{
    int r = live_function_defaults(lv, o, depth, 1);
    PyObject *cl = r == 0 ? PyFunction_GET_CLOSURE(o) : NULL;
    for (Py_ssize_t i = 0; cl != NULL && r == 0 && i < PyTuple_GET_SIZE(cl);
         i++)
    {
        PyObject *c = live_subst(lv, PyTuple_GET_ITEM(cl, i), depth + 1);
        r = c ? 0 : -1;
        Py_XDECREF(c);
    }
    return r;
}

/* 1 when `o` is a functools.partial (it has __setstate__ and keywords,
 * and its type is functools'); 0; -1. */
static int
live_is_partial(const HsDunders *D, PyObject *o)
{
    PyObject *func = NULL, *mod = NULL;
    if (PyObject_GetOptionalAttr(o, D->setstate, &func) < 0) {
        /* an object whose attribute access fails is no partial */
        return hs_err_clear_unless_fatal();
    }
    if (func == NULL) {
        return 0;
    }
    Py_DECREF(func);
    if (PyObject_GetOptionalAttr((PyObject *)Py_TYPE(o), D->module, &mod) < 0)
    {
        return hs_err_clear_unless_fatal(); /* as above */
    }
    int is_partial =
        mod != NULL && PyUnicode_Check(mod)
        && PyUnicode_CompareWithASCIIString(mod, "functools") == 0;
    Py_XDECREF(mod);
    if (is_partial) {
        is_partial = PyObject_HasAttrStringWithError(o, "keywords");
    }
    return is_partial < 0 ? hs_err_clear_unless_fatal() : is_partial;
}

/* A young functools.partial: func, args and keywords, through
 * __setstate__.  0 / -1. */
static int
live_partial_in_place(Live *lv, PyObject *o, int depth)
{
    PyObject *func = NULL, *args = NULL, *kw = NULL;
    PyObject *f = PyObject_GetAttrString(o, "func");
    PyObject *a = f ? PyObject_GetAttrString(o, "args") : NULL;
    PyObject *k = a ? PyObject_GetAttrString(o, "keywords") : NULL;
    PyObject *d = k ? PyObject_GetAttr(o, lv->job->dunders->dict) : NULL;
    int r = 0;
    func = d ? live_subst(lv, f, depth + 1) : NULL;
    args = func ? live_subst(lv, a, depth + 1) : NULL;
    kw = args ? live_subst(lv, k, depth + 1) : NULL;
    if (kw == NULL) {
        r = -1;
    }
    else if (func != f || args != a || kw != k) {
        PyObject *state = Py_BuildValue("(OOOO)", func, args, kw, d);
        PyObject *res = state ? PyObject_CallMethodOneArg(
                                    o, lv->job->dunders->setstate, state)
                              : NULL;
        r = res ? 0 : -1;
        Py_XDECREF(res);
        Py_XDECREF(state);
    }
    Py_XDECREF(f);
    Py_XDECREF(a);
    Py_XDECREF(k);
    Py_XDECREF(d);
    Py_XDECREF(func);
    Py_XDECREF(args);
    Py_XDECREF(kw);
    return r;
}

/* Any other young object: functools.partial's state, or its instance
 * dict.  0 / -1. */
static int
live_object_in_place(Live *lv, PyObject *o, int depth)
{
    int is_partial = live_is_partial(lv->job->dunders, o);
    if (is_partial < 0) {
        return -1;
    }
    if (is_partial) {
        return live_partial_in_place(lv, o, depth);
    }
    PyObject *d = NULL;
    int r = 0;
    if (PyObject_GetOptionalAttr(o, lv->job->dunders->dict, &d) < 0
        && hs_err_clear_unless_fatal() < 0)
    {
        return -1; /* else: not ours to judge */
    }
    if (d != NULL && PyDict_Check(d)) {
        r = live_dict_in_place(lv, d, depth);
    }
    Py_XDECREF(d);
    return r;
}

/* New reference: `o` itself, its live object, or a copy (a tuple). */
static PyObject *
live_subst(Live *lv, PyObject *o, int depth)
{
    PyObject *w = live_for(lv, o);
    if (w != NULL || PyErr_Occurred()) {
        return w;
    }
    if (depth > LIVE_MAX_DEPTH) {
        return Py_NewRef(o);
    }
    int young = live_enter(lv, o);
    if (young < 0) {
        return NULL;
    }
    if (!young && PyTuple_Check(o) && !PyObject_GC_IsTracked(o)) {
        /* a tuple of untracked items is not tracked (3.14 untracks it at
         * once, so it is never among the young): looked into all the
         * same, it is copied, never changed */
        young = 1;
    }
    if (!young) {
        return Py_NewRef(o);
    }
    int r = 0;
    if (PyDict_Check(o)) {
        r = live_dict_in_place(lv, o, depth);
    }
    else if (PyList_Check(o)) {
        r = live_list_in_place(lv, o, depth);
    }
    else if (PyTuple_Check(o)) {
        return live_tuple_copy(lv, o, depth);
    }
    else if (PyCell_Check(o)) {
        PyObject *v = PyCell_GET(o);
        if (v != NULL) {
            Py_INCREF(v);
            PyObject *nv = live_subst(lv, v, depth + 1);
            r = nv == NULL ? -1 : nv != v ? PyCell_Set(o, nv) : 0;
            Py_XDECREF(nv);
            Py_DECREF(v);
        }
    }
    else if (PyFunction_Check(o)) {
        r = live_function_in_place(lv, o, depth);
    }
    else {
        r = live_object_in_place(lv, o, depth);
    }
    return r < 0 ? NULL : Py_NewRef(o);
}

/* Substitute in one live function of this module (its defaults came from
 * the staged def). */
static int
live_module_function(Live *lv, PyObject *v)
{
    if (PyFunction_Check(v) && PyFunction_GET_GLOBALS(v) == lv->job->dict) {
        return live_function_defaults(lv, v, 0, 0);
    }
    return 0;
}

int
hs_live_rebind(HsJob *job, HsTxn *txn)
{
    if (job->live_of == NULL || PyDict_GET_SIZE(job->live_of) == 0
        || job->staged.scratch == NULL)
    {
        return 0;
    }
    Live lv = {job, txn, PySet_New(NULL)};
    PyObject *names = lv.seen ? PyDict_Keys(job->staged.scratch) : NULL;
    int r = names ? 0 : -1;
    for (Py_ssize_t i = 0; r == 0 && i < PyList_GET_SIZE(names); i++) {
        PyObject *name = PyList_GET_ITEM(names, i);
        PyObject *cur = NULL;
        r = PyDict_GetItemRef(job->dict, name, &cur);
        if (r <= 0) {
            continue;
        }
        PyObject *w = live_subst(&lv, cur, 0);
        r = w == NULL  ? -1
            : w != cur ? hs_txn_dict_set(txn, job->dict, name, w)
                       : live_module_function(&lv, cur);
        Py_XDECREF(w);
        Py_DECREF(cur);
    }
    /* the members of the classes this job updated */
    for (Py_ssize_t i = 0; r == 0 && i < job->staged.n_class_updates; i++) {
        PyObject *klass = job->staged.class_updates[i].klass;
        PyObject *d = PyObject_GetAttr(klass, job->dunders->dict);
        PyObject *items = d ? PyMapping_Items(d) : NULL;
        Py_XDECREF(d);
        r = items ? 0 : -1;
        for (Py_ssize_t k = 0; r == 0 && k < PyList_GET_SIZE(items); k++) {
            PyObject *kv = PyList_GET_ITEM(items, k);
            PyObject *v = PyTuple_GET_ITEM(kv, 1);
            PyObject *w = live_subst(&lv, v, 0);
            r = w == NULL ? -1
                : w != v
                    ? hs_txn_setattr(txn, klass, PyTuple_GET_ITEM(kv, 0), w)
                    : live_module_function(&lv, v);
            Py_XDECREF(w);
        }
        Py_XDECREF(items);
    }
    Py_XDECREF(names);
    Py_XDECREF(lv.seen);
    return r;
}
