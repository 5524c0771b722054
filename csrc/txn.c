/* txn.c -- the undo log.
 *
 * Main thread, GIL held.  Owns strong references to every object it
 * records.  Rollback uses the same public setters as the forward path
 * (PyObject_SetAttr, PyFunction_Set*), so caches and watchers are told.
 */
#include "txn.h"
#include "internals.h"

#include <string.h>

typedef enum {
    UNDO_SETATTR,
    UNDO_GENERIC_SETATTR,
    UNDO_DICT,
    UNDO_FUNC,
    UNDO_KEEP,
    UNDO_DICT_CONTENTS,
} UndoKind;

struct HsUndo {
    UndoKind kind;
    PyObject *obj;  /* strong */
    PyObject *name; /* strong, or NULL */
    PyObject *old;  /* strong; NULL: was absent.  UNDO_FUNC: a tuple */
};

static HsUndo *
txn_push(HsTxn *txn)
{
    if (txn->len == txn->cap) {
        Py_ssize_t cap = txn->cap ? txn->cap * 2 : 32;
        HsUndo *items = PyMem_Realloc(txn->items, cap * sizeof(HsUndo));
        if (items == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        txn->items = items;
        txn->cap = cap;
    }
    HsUndo *u = &txn->items[txn->len++];
    memset(u, 0, sizeof(*u));
    return u;
}

/* The object's own value for `name`: a class's own __dict__ entry, else
 * the instance attribute.  1 found, 0 absent, -1 error. */
static int
own_value(PyObject *obj, PyObject *name, PyObject **out)
{
    if (PyType_Check(obj)) {
        PyObject *dict = PyObject_GenericGetDict(obj, NULL);
        if (dict == NULL) {
            return -1;
        }
        int r = PyMapping_Check(dict) ? 1 : 0;
        if (r) {
            *out = PyObject_GetItem(dict, name);
            if (*out == NULL) {
                if (PyErr_ExceptionMatches(PyExc_KeyError)) {
                    PyErr_Clear();
                    r = 0;
                }
                else {
                    r = -1;
                }
            }
        }
        Py_DECREF(dict);
        return r;
    }
    return PyObject_GetOptionalAttr(obj, name, out);
}

int
hs_txn_setattr(HsTxn *txn, PyObject *obj, PyObject *name, PyObject *value)
{
    PyObject *old = NULL;
    if (own_value(obj, name, &old) < 0) {
        return -1;
    }
    HsUndo *u = txn_push(txn);
    if (u == NULL) {
        Py_XDECREF(old);
        return -1;
    }
    u->kind = UNDO_SETATTR;
    u->obj = Py_NewRef(obj);
    u->name = Py_NewRef(name);
    u->old = old;
    if (value == NULL && old == NULL) {
        return 0;
    }
    return PyObject_SetAttr(obj, name, value);
}

int
hs_txn_record_setattr(HsTxn *txn, PyObject *obj, PyObject *name, PyObject *old)
{
    HsUndo *u = txn_push(txn);
    if (u == NULL) {
        return -1;
    }
    u->kind = UNDO_SETATTR;
    u->obj = Py_NewRef(obj);
    u->name = Py_NewRef(name);
    u->old = Py_XNewRef(old);
    return 0;
}

int
hs_txn_generic_setattr(HsTxn *txn, PyObject *obj, PyObject *name,
                       PyObject *value)
{
    PyObject *dict = PyObject_GenericGetDict(obj, NULL);
    if (dict == NULL) {
        return -1;
    }
    PyObject *old = NULL;
    int r = PyDict_GetItemRef(dict, name, &old);
    Py_DECREF(dict);
    if (r < 0) {
        return -1;
    }
    HsUndo *u = txn_push(txn);
    if (u == NULL) {
        Py_XDECREF(old);
        return -1;
    }
    u->kind = UNDO_GENERIC_SETATTR;
    u->obj = Py_NewRef(obj);
    u->name = Py_NewRef(name);
    u->old = old;
    if (value == NULL && old == NULL) {
        return 0;
    }
    return PyObject_GenericSetAttr(obj, name, value);
}

int
hs_txn_dict_set(HsTxn *txn, PyObject *dict, PyObject *key, PyObject *value)
{
    PyObject *old = NULL;
    if (PyDict_GetItemRef(dict, key, &old) < 0) {
        return -1;
    }
    HsUndo *u = txn_push(txn);
    if (u == NULL) {
        Py_XDECREF(old);
        return -1;
    }
    u->kind = UNDO_DICT;
    u->obj = Py_NewRef(dict);
    u->name = Py_NewRef(key);
    u->old = old;
    if (value == NULL) {
        return old == NULL ? 0 : PyDict_DelItem(dict, key);
    }
    return PyDict_SetItem(dict, key, value);
}

int
hs_txn_dict_replace(HsTxn *txn, PyObject *dict, PyObject *contents)
{
    PyObject *old = PyDict_Copy(dict);
    if (old == NULL) {
        return -1;
    }
    HsUndo *u = txn_push(txn);
    if (u == NULL) {
        Py_DECREF(old);
        return -1;
    }
    u->kind = UNDO_DICT_CONTENTS;
    u->obj = Py_NewRef(dict);
    u->old = old;
    PyDict_Clear(dict);
    return PyDict_Update(dict, contents);
}

/* Field order of the saved function state. */
enum {
    F_CODE,
    F_CLOSURE,
    F_DEFAULTS,
    F_KWDEFAULTS,
    F_ANNOTATIONS,
    F_DOC,
    F_TYPE_PARAMS,
    F_ANNOTATE,
    F_COUNT
};

int
hs_txn_save_function(HsTxn *txn, PyObject *func)
{
    PyObject *state = PyTuple_New(F_COUNT);
    if (state == NULL) {
        return -1;
    }
    /* Read through the C accessors: the attribute getters fire audit
     * hooks.  Annotations are read as they are, never computed (3.14+:
     * __annotate__ is saved beside them). */
    PyObject *doc = NULL, *tp = NULL, *annotate = NULL;
    if (PyObject_GetOptionalAttrString(func, "__doc__", &doc) < 0) {
        Py_DECREF(state);
        return -1;
    }
#if HS_HAVE_TYPE_PARAMS
    if (PyObject_GetOptionalAttrString(func, "__type_params__", &tp) < 0) {
        Py_XDECREF(doc);
        Py_DECREF(state);
        return -1;
    }
#endif
#if HS_HAVE_ANNOTATE
    if (PyObject_GetOptionalAttrString(func, "__annotate__", &annotate) < 0) {
        Py_XDECREF(doc);
        Py_XDECREF(tp);
        Py_DECREF(state);
        return -1;
    }
#endif
#define PUT(i, v) PyTuple_SET_ITEM(state, i, Py_NewRef((v) ? (v) : Py_None))
    PUT(F_CODE, PyFunction_GET_CODE(func));
    PUT(F_CLOSURE, PyFunction_GET_CLOSURE(func));
    PUT(F_DEFAULTS, PyFunction_GET_DEFAULTS(func));
    PUT(F_KWDEFAULTS, PyFunction_GET_KW_DEFAULTS(func));
    PUT(F_ANNOTATIONS, hs_function_annotations_raw(func));
    PUT(F_DOC, doc);
    PUT(F_TYPE_PARAMS, tp);
    PUT(F_ANNOTATE, annotate);
#undef PUT
    Py_XDECREF(doc);
    Py_XDECREF(tp);
    Py_XDECREF(annotate);
    HsUndo *u = txn_push(txn);
    if (u == NULL) {
        Py_DECREF(state);
        return -1;
    }
    u->kind = UNDO_FUNC;
    u->obj = Py_NewRef(func);
    u->old = state;
    if (txn->funcs == NULL && (txn->funcs = PySet_New(NULL)) == NULL) {
        return -1;
    }
    return PySet_Add(txn->funcs, func);
}

int
hs_txn_function_saved(HsTxn *txn, PyObject *func)
{
    if (txn->funcs == NULL) {
        return 0;
    }
    /* functions hash by identity: no Python code runs, no error */
    return PySet_Contains(txn->funcs, func) == 1;
}

int
hs_txn_keep(HsTxn *txn, PyObject *obj)
{
    HsUndo *u = txn_push(txn);
    if (u == NULL) {
        return -1;
    }
    u->kind = UNDO_KEEP;
    u->obj = Py_NewRef(obj);
    return 0;
}

int
hs_func_set_closure_and_code(PyObject *func, PyObject *closure, PyObject *code)
{
    /* The interpreter copies co_nfreevars cells out of func_closure with no
     * bounds check (COPY_FREE_VARS, 3.11+), so the closure and the code
     * must agree whenever Python code can run.  PyFunction_SetClosure runs
     * none; the __code__ setter runs only audit hooks, before storing. */
    PyObject *old_closure = Py_XNewRef(PyFunction_GET_CLOSURE(func));
    if (PyFunction_SetClosure(func, closure) < 0) {
        Py_XDECREF(old_closure);
        return -1;
    }
    if (PyObject_SetAttrString(func, "__code__", code) < 0) {
        PyObject *exc = PyErr_GetRaisedException();
        (void)PyFunction_SetClosure(func, old_closure ? old_closure : Py_None);
        PyErr_SetRaisedException(exc);
        Py_XDECREF(old_closure);
        return -1;
    }
    Py_XDECREF(old_closure);
    return 0;
}

static int
restore_function(PyObject *func, PyObject *state)
{
    PyObject *code = PyTuple_GET_ITEM(state, F_CODE);
    PyObject *closure = PyTuple_GET_ITEM(state, F_CLOSURE);
    if (PyFunction_GET_CODE(func) != code
        || PyFunction_GET_CLOSURE(func)
               != (closure == Py_None ? NULL : closure))
    {
        if (hs_func_set_closure_and_code(func, closure, code) < 0) {
            return -1;
        }
    }
    if (PyFunction_SetDefaults(func, PyTuple_GET_ITEM(state, F_DEFAULTS)) < 0
        || PyFunction_SetKwDefaults(func,
                                    PyTuple_GET_ITEM(state, F_KWDEFAULTS))
               < 0
        || PyFunction_SetAnnotations(func,
                                     PyTuple_GET_ITEM(state, F_ANNOTATIONS))
               < 0
        || PyObject_SetAttrString(func, "__doc__",
                                  PyTuple_GET_ITEM(state, F_DOC))
               < 0)
    {
        return -1;
    }
#if HS_HAVE_ANNOTATE
    /* PyFunction_SetAnnotations cleared __annotate__; setting __annotate__
     * clears the annotations it had computed (they are computed again on
     * the next read, from the restored function). */
    PyObject *annotate = PyTuple_GET_ITEM(state, F_ANNOTATE);
    if (annotate != Py_None
        && PyObject_SetAttrString(func, "__annotate__", annotate) < 0)
    {
        return -1;
    }
#endif
#if HS_HAVE_TYPE_PARAMS
    PyObject *tp = PyTuple_GET_ITEM(state, F_TYPE_PARAMS);
    if (tp != Py_None
        && PyObject_SetAttrString(func, "__type_params__", tp) < 0)
    {
        return -1;
    }
#endif
    hs_function_reversion(func);
    return 0;
}

void
hs_txn_rollback(HsTxn *txn)
{
    PyObject *exc = PyErr_GetRaisedException();
    for (Py_ssize_t i = txn->len - 1; i >= 0; i--) {
        HsUndo *u = &txn->items[i];
        int r = 0;
        switch (u->kind) {
            case UNDO_SETATTR:
                if (u->old == NULL) {
                    PyObject *cur = NULL;
                    r = own_value(u->obj, u->name, &cur);
                    if (r == 1) {
                        Py_DECREF(cur);
                        r = PyObject_DelAttr(u->obj, u->name);
                    }
                }
                else {
                    r = PyObject_SetAttr(u->obj, u->name, u->old);
                }
                break;
            case UNDO_GENERIC_SETATTR:
                if (u->old == NULL) {
                    r = PyObject_GenericSetAttr(u->obj, u->name, NULL);
                    if (r < 0 && PyErr_ExceptionMatches(PyExc_AttributeError))
                    {
                        PyErr_Clear();
                        r = 0;
                    }
                }
                else {
                    r = PyObject_GenericSetAttr(u->obj, u->name, u->old);
                }
                break;
            case UNDO_DICT:
                if (u->old == NULL) {
                    r = PyDict_Contains(u->obj, u->name);
                    if (r == 1) {
                        r = PyDict_DelItem(u->obj, u->name);
                    }
                }
                else {
                    r = PyDict_SetItem(u->obj, u->name, u->old);
                }
                break;
            case UNDO_FUNC:
                r = restore_function(u->obj, u->old);
                break;
            case UNDO_KEEP:
                break;
            case UNDO_DICT_CONTENTS:
                PyDict_Clear(u->obj);
                r = PyDict_Update(u->obj, u->old);
                break;
        }
        if (r < 0) {
            PyErr_WriteUnraisable(u->obj);
        }
    }
    PyErr_SetRaisedException(exc);
    hs_txn_clear(txn);
}

void
hs_txn_clear(HsTxn *txn)
{
    /* Release newest first: the order objects were dropped in. */
    HsUndo *items = txn->items;
    Py_ssize_t n = txn->len;
    PyObject *funcs = txn->funcs;
    txn->items = NULL;
    txn->len = 0;
    txn->cap = 0;
    txn->funcs = NULL;
    Py_XDECREF(funcs);
    for (Py_ssize_t i = n - 1; i >= 0; i--) {
        Py_XDECREF(items[i].obj);
        Py_XDECREF(items[i].name);
        Py_XDECREF(items[i].old);
    }
    PyMem_Free(items);
}

int
hs_txn_superseded_codes(HsTxn *txn, PyObject *codes)
{
    for (Py_ssize_t i = 0; i < txn->len; i++) {
        HsUndo *u = &txn->items[i];
        if (u->kind != UNDO_FUNC) {
            continue;
        }
        PyObject *old = PyTuple_GET_ITEM(u->old, F_CODE);
        if (old == PyFunction_GET_CODE(u->obj)) {
            continue;
        }
        PyObject *key = PyLong_FromVoidPtr(old);
        if (key == NULL || PyDict_SetItem(codes, key, old) < 0) {
            Py_XDECREF(key);
            return -1;
        }
        Py_DECREF(key);
    }
    return 0;
}
