/* redeco.c -- a re-run decoration's state moved onto the old decorated
 * object (issue 10 point 3).
 *
 * Main thread, GIL held.  Owns nothing between calls.
 *
 * When a def is decorated again (its decorator line changed, or the
 * definition of a decorator it names did) and the decoration returns a
 * wrapper, staging made a new object while the program holds the old one
 * (`from m import f`, callback lists).  A fresh import gives one object
 * running the new decoration around the new body, so the new object's
 * state is moved onto the old one, which stays bound:
 * - a function wrapper takes the new wrapper's code and closure (the
 *   closure tuple is replaced, so free variables added or renamed by the
 *   edit are no obstacle), defaults, kwdefaults, annotations, doc, type
 *   params, __name__, __qualname__, __module__ and __dict__ entries
 *   (functools.wraps' __wrapped__ among them);
 * - an instance of a Python class (a click-like Command, a curry object)
 *   takes the instance __dict__ entries and slot values of the new
 *   instance when that is of the same class and keeps no C-level state
 *   (its only non-Python base is object).
 * Wherever the moved state refers to the staged function the def made
 * (`fn`), it refers to the kept, patched function (`fo`) instead; a layer
 * between (`@a @b def f`: the new b-wrapper inside the new a-wrapper) is
 * moved onto the old layer at the same place, so every layer keeps its
 * identity.  Attributes the old object has and the new one lacks stay
 * (the program or an unedited statement may have set them), except
 * `__wrapped__`, which only a decoration sets.
 *
 * The cells moved are the new wrapper's own, made by staging: writing fo
 * into them needs no undo record (after a rollback nothing refers to them).
 * Every write to an object that existed before the batch goes through the
 * undo log.
 */
#include "redeco.h"
#include "internals.h"
#include "errors.h"

#define REDECO_MAX_DEPTH 4

typedef struct {
    HsTxn *txn;
    PyObject *fo;    /* borrowed: kept function, or NULL: no substitution */
    PyObject *fn;    /* borrowed: the staged function the def made */
    PyObject *map;   /* strong: dict id(new) -> (new, old), the layers */
    PyObject *pairs; /* strong: list of (old, new) to move, outer first */
} Redeco;

/* ------------------------------------------------------------------ */
/* which objects can take another's state                              */

/* The slot member descriptors of a Python class and its Python bases: a
 * new list of (name, descriptor), or NULL with an exception set.  Sets
 * *movable to 0 when an instance may hold state outside its __dict__ and
 * slots (a base other than object written in C). */
static PyObject *
redeco_slots(PyTypeObject *tp, int *movable)
{
    PyObject *mro = PyObject_GetAttrString((PyObject *)tp, "__mro__");
    PyObject *slots = mro ? PyList_New(0) : NULL;
    *movable = 1;
    if (slots == NULL) {
        Py_XDECREF(mro);
        return NULL;
    }
    for (Py_ssize_t i = 0;
         *movable && PyTuple_Check(mro) && i < PyTuple_GET_SIZE(mro); i++)
    {
        PyObject *t = PyTuple_GET_ITEM(mro, i);
        if (t == (PyObject *)&PyBaseObject_Type) {
            continue;
        }
        if (!PyType_Check(t)
            || !(PyType_GetFlags((PyTypeObject *)t) & Py_TPFLAGS_HEAPTYPE))
        {
            *movable = 0;
            break;
        }
        PyObject *d = PyObject_GetAttrString(t, "__dict__");
        PyObject *items = d ? PyMapping_Items(d) : NULL;
        Py_XDECREF(d);
        if (items == NULL) {
            Py_CLEAR(slots);
            break;
        }
        for (Py_ssize_t k = 0; k < PyList_GET_SIZE(items); k++) {
            PyObject *kv = PyList_GET_ITEM(items, k);
            if (Py_IS_TYPE(PyTuple_GET_ITEM(kv, 1), &PyMemberDescr_Type)
                && PyList_Append(slots, kv) < 0)
            {
                Py_CLEAR(slots);
                break;
            }
        }
        Py_DECREF(items);
        if (slots == NULL) {
            break;
        }
    }
    if (slots != NULL && !PyTuple_Check(mro)) {
        *movable = 0;
    }
    /* slot values are written through the class's __setattr__ */
    if (slots != NULL && *movable && PyList_GET_SIZE(slots) > 0
        && PyType_GetSlot(tp, Py_tp_setattro)
               != HS_SLOT(PyObject_GenericSetAttr))
    {
        *movable = 0;
    }
    Py_DECREF(mro);
    return slots;
}

/* Can `old` take `new`'s state?  1 / 0 / -1. */
static int
redeco_movable(PyObject *old, PyObject *new)
{
    if (old == new) {
        return 0;
    }
    if (PyFunction_Check(old) && PyFunction_Check(new)) {
        int oflags = hs_code_flags(PyFunction_GET_CODE(old));
        int nflags = hs_code_flags(PyFunction_GET_CODE(new));
        /* a generator-kind change is never swapped (funcs.c); globals
         * cannot be changed on a function that may be running */
        return ((oflags ^ nflags) & HS_CO_GENLIKE) == 0
               && PyFunction_GET_GLOBALS(old) == PyFunction_GET_GLOBALS(new);
    }
    if (Py_TYPE(old) != Py_TYPE(new) || PyFunction_Check(old)
        || PyType_Check(old) || PyModule_Check(old))
    {
        return 0;
    }
    int movable;
    PyObject *slots = redeco_slots(Py_TYPE(old), &movable);
    if (slots == NULL) {
        return -1;
    }
    Py_DECREF(slots);
    return movable;
}

/* The instance dict of `o`, a new reference, or NULL (none: no error; or
 * an exception set). */
static PyObject *
redeco_dict_of(PyObject *o)
{
    PyObject *d = NULL;
    if (PyFunction_Check(o)) {
        d = PyObject_GetAttrString(o, "__dict__");
    }
    else if (!PyType_Check(o) && !PyModule_Check(o)
             && (PyType_GetFlags(Py_TYPE(o)) & Py_TPFLAGS_HEAPTYPE))
    {
        /* the generic getter: no __getattribute__ of the class runs */
        d = PyObject_GenericGetDict(o, NULL);
        if (d == NULL && PyErr_ExceptionMatches(PyExc_AttributeError)) {
            PyErr_Clear(); /* no instance dict (__slots__) */
        }
    }
    if (d != NULL && !PyDict_Check(d)) {
        Py_CLEAR(d);
    }
    return d;
}

/* Does `x` lead to `target` through closure cells and instance dicts?
 * 1 / 0 / -1. */
static int
redeco_leads_to(PyObject *x, PyObject *target, int depth)
{
    if (x == target) {
        return 1;
    }
    if (depth >= REDECO_MAX_DEPTH) {
        return 0;
    }
    if (PyFunction_Check(x) && PyFunction_GET_CLOSURE(x) != NULL) {
        PyObject *cl = PyFunction_GET_CLOSURE(x);
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(cl); i++) {
            PyObject *v = PyCell_GET(PyTuple_GET_ITEM(cl, i));
            int r = v != NULL ? redeco_leads_to(v, target, depth + 1) : 0;
            if (r != 0) {
                return r;
            }
        }
    }
    PyObject *d = redeco_dict_of(x);
    PyObject *vals = d ? PyDict_Values(d) : NULL;
    Py_XDECREF(d);
    if (vals == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    int r = 0;
    for (Py_ssize_t i = 0; !r && i < PyList_GET_SIZE(vals); i++) {
        r = redeco_leads_to(PyList_GET_ITEM(vals, i), target, depth + 1);
    }
    Py_DECREF(vals);
    return r;
}

/* A slot's value in `o` through its member descriptor: a new reference,
 * or NULL (unset: no error; or an error set). */
static PyObject *
redeco_slot_get(PyObject *desc, PyObject *o)
{
    PyObject *v =
        PyObject_CallMethod(desc, "__get__", "OO", o, (PyObject *)Py_TYPE(o));
    if (v == NULL && PyErr_ExceptionMatches(PyExc_AttributeError)) {
        PyErr_Clear();
    }
    return v;
}

/* Append (old value or None, new value) for each slot set in `new`.
 * 0 / -1. */
static int
redeco_slot_parts(PyObject *old, PyObject *new, PyObject *list)
{
    int movable;
    PyObject *slots = redeco_slots(Py_TYPE(new), &movable);
    if (slots == NULL) {
        return -1;
    }
    int r = 0;
    for (Py_ssize_t i = 0; r == 0 && movable && i < PyList_GET_SIZE(slots);
         i++)
    {
        PyObject *desc = PyTuple_GET_ITEM(PyList_GET_ITEM(slots, i), 1);
        PyObject *nv = redeco_slot_get(desc, new);
        PyObject *ov = nv ? redeco_slot_get(desc, old) : NULL;
        if (PyErr_Occurred()) {
            r = -1;
        }
        else if (nv != NULL) {
            PyObject *pair = PyTuple_Pack(2, ov ? ov : Py_None, nv);
            r = pair ? PyList_Append(list, pair) : -1;
            Py_XDECREF(pair);
        }
        Py_XDECREF(nv);
        Py_XDECREF(ov);
    }
    Py_DECREF(slots);
    return r;
}

/* The pairs (old part or None, new part) at the same place in `old` and
 * `new`: closure cells by free-variable name, dict entries by key.  New
 * list, or NULL with an exception set. */
static PyObject *
redeco_parts(PyObject *old, PyObject *new)
{
    PyObject *list = PyList_New(0);
    PyObject *onames = NULL, *nnames = NULL, *od = NULL, *nd = NULL;
    if (list == NULL) {
        return NULL;
    }
    if (PyFunction_Check(old) && PyFunction_Check(new)
        && PyFunction_GET_CLOSURE(new) != NULL)
    {
        onames =
            PyObject_GetAttrString(PyFunction_GET_CODE(old), "co_freevars");
        nnames = onames ? PyObject_GetAttrString(PyFunction_GET_CODE(new),
                                                 "co_freevars")
                        : NULL;
        if (nnames == NULL) {
            goto error;
        }
        PyObject *ocl = PyFunction_GET_CLOSURE(old);
        PyObject *ncl = PyFunction_GET_CLOSURE(new);
        for (Py_ssize_t i = 0;
             i < PyTuple_GET_SIZE(nnames) && i < PyTuple_GET_SIZE(ncl); i++)
        {
            PyObject *nv = PyCell_GET(PyTuple_GET_ITEM(ncl, i));
            PyObject *ov = NULL;
            for (Py_ssize_t j = 0; ocl != NULL && j < PyTuple_GET_SIZE(onames)
                                   && j < PyTuple_GET_SIZE(ocl);
                 j++)
            {
                if (PyUnicode_Compare(PyTuple_GET_ITEM(onames, j),
                                      PyTuple_GET_ITEM(nnames, i))
                    == 0)
                {
                    ov = PyCell_GET(PyTuple_GET_ITEM(ocl, j));
                    break;
                }
            }
            if (nv == NULL) {
                continue;
            }
            PyObject *pair = PyTuple_Pack(2, ov ? ov : Py_None, nv);
            if (pair == NULL || PyList_Append(list, pair) < 0) {
                Py_XDECREF(pair);
                goto error;
            }
            Py_DECREF(pair);
        }
    }
    if (!PyFunction_Check(new) && Py_TYPE(old) == Py_TYPE(new)
        && redeco_slot_parts(old, new, list) < 0)
    {
        goto error;
    }
    od = redeco_dict_of(old);
    nd = od ? redeco_dict_of(new) : NULL;
    if (nd == NULL && PyErr_Occurred()) {
        goto error;
    }
    if (nd != NULL) {
        PyObject *k, *nv;
        Py_ssize_t pos = 0;
        while (PyDict_Next(nd, &pos, &k, &nv)) {
            PyObject *ov = PyDict_GetItemWithError(od, k);
            if (ov == NULL && PyErr_Occurred()) {
                goto error;
            }
            PyObject *pair = PyTuple_Pack(2, ov ? ov : Py_None, nv);
            if (pair == NULL || PyList_Append(list, pair) < 0) {
                Py_XDECREF(pair);
                goto error;
            }
            Py_DECREF(pair);
        }
    }
    Py_XDECREF(onames);
    Py_XDECREF(nnames);
    Py_XDECREF(od);
    Py_XDECREF(nd);
    return list;
error:
    Py_XDECREF(onames);
    Py_XDECREF(nnames);
    Py_XDECREF(od);
    Py_XDECREF(nd);
    Py_DECREF(list);
    return NULL;
}

/* Is `new` already paired?  1 / 0 / -1. */
static int
redeco_paired(Redeco *rd, PyObject *new)
{
    PyObject *key = PyLong_FromVoidPtr(new);
    if (key == NULL) {
        return -1;
    }
    PyObject *pair = PyDict_GetItemWithError(rd->map, key);
    Py_DECREF(key);
    if (pair == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    return PyTuple_GET_ITEM(pair, 0) == new;
}

/* Pair `new` with `old` and, below it, the layers that lead to fn/fo.
 * 1 paired / 0 not movable / -1. */
static int
redeco_collect(Redeco *rd, PyObject *old, PyObject *new, int depth)
{
    int m = redeco_movable(old, new);
    if (m <= 0) {
        return m;
    }
    PyObject *key = PyLong_FromVoidPtr(new);
    PyObject *val = key ? PyTuple_Pack(2, new, old) : NULL;
    PyObject *pair = val ? PyTuple_Pack(2, old, new) : NULL;
    int r = pair != NULL && PyDict_SetItem(rd->map, key, val) == 0
                    && PyList_Append(rd->pairs, pair) == 0
                ? 1
                : -1;
    Py_XDECREF(key);
    Py_XDECREF(val);
    Py_XDECREF(pair);
    if (r < 0 || rd->fo == NULL || depth >= REDECO_MAX_DEPTH) {
        return r;
    }
    PyObject *parts = redeco_parts(old, new);
    if (parts == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; r >= 0 && i < PyList_GET_SIZE(parts); i++) {
        PyObject *ov = PyTuple_GET_ITEM(PyList_GET_ITEM(parts, i), 0);
        PyObject *nv = PyTuple_GET_ITEM(PyList_GET_ITEM(parts, i), 1);
        if (ov == Py_None || ov == nv || nv == rd->fn || ov == rd->fo) {
            continue;
        }
        int seen = redeco_paired(rd, nv);
        if (seen < 0) {
            r = -1;
        }
        else if (!seen) {
            int a = redeco_leads_to(nv, rd->fn, 0);
            int b = a > 0 ? redeco_leads_to(ov, rd->fo, 0) : a;
            if (b < 0 || (b && redeco_collect(rd, ov, nv, depth + 1) < 0)) {
                r = -1;
            }
        }
    }
    Py_DECREF(parts);
    return r < 0 ? -1 : 1;
}

/* ------------------------------------------------------------------ */
/* moving                                                              */

/* What the moved state holds instead of `v`: fo for fn, the old layer for
 * a new one, else v.  New reference. */
static PyObject *
redeco_subst(Redeco *rd, PyObject *v)
{
    if (rd->fo != NULL && v == rd->fn) {
        return Py_NewRef(rd->fo);
    }
    PyObject *key = PyLong_FromVoidPtr(v);
    PyObject *pair = key ? PyDict_GetItemWithError(rd->map, key) : NULL;
    Py_XDECREF(key);
    if (pair != NULL && PyTuple_GET_ITEM(pair, 0) == v) {
        return Py_NewRef(PyTuple_GET_ITEM(pair, 1));
    }
    if (PyErr_Occurred()) {
        return NULL;
    }
    return Py_NewRef(v);
}

/* old.__dict__ takes new.__dict__'s entries.  0 / -1. */
static int
redeco_move_dict(Redeco *rd, PyObject *old, PyObject *new)
{
    PyObject *od = redeco_dict_of(old);
    PyObject *nd = od ? redeco_dict_of(new) : NULL;
    PyObject *items = nd ? PyDict_Items(nd) : NULL;
    int r = nd == NULL ? (PyErr_Occurred() ? -1 : 0) : items ? 0 : -1;
    for (Py_ssize_t i = 0; items && r == 0 && i < PyList_GET_SIZE(items); i++)
    {
        PyObject *kv = PyList_GET_ITEM(items, i);
        PyObject *s = redeco_subst(rd, PyTuple_GET_ITEM(kv, 1));
        r = s ? hs_txn_dict_set(rd->txn, od, PyTuple_GET_ITEM(kv, 0), s) : -1;
        Py_XDECREF(s);
    }
    if (r == 0 && nd != NULL) {
        /* only a decoration sets __wrapped__: one the new decoration does
         * not set is gone (inspect.signature follows it) */
        PyObject *w = PyUnicode_InternFromString("__wrapped__");
        int has = w ? PyDict_Contains(nd, w) : -1;
        r = has < 0 ? -1 : has ? 0 : hs_txn_dict_set(rd->txn, od, w, NULL);
        Py_XDECREF(w);
    }
    Py_XDECREF(od);
    Py_XDECREF(nd);
    Py_XDECREF(items);
    return r;
}

/* old.<name> = new.<name> (absent: None) for one function attribute that
 * the undo log's function record saves.  0 / -1. */
static int
redeco_copy_attr(PyObject *old, PyObject *new, const char *name)
{
    PyObject *v = NULL;
    if (PyObject_GetOptionalAttrString(new, name, &v) < 0) {
        return -1;
    }
    int r = PyObject_SetAttrString(old, name, v ? v : Py_None);
    Py_XDECREF(v);
    return r;
}

/* The names a function carries outside its saved record: through the
 * undo log's attribute records, when they differ.  0 / -1. */
static int
redeco_copy_names(Redeco *rd, PyObject *old, PyObject *new)
{
    static const char *const names[] = {"__name__", "__qualname__",
                                        "__module__", NULL};
    int r = 0;
    for (int i = 0; r == 0 && names[i] != NULL; i++) {
        PyObject *ov = PyObject_GetAttrString(old, names[i]);
        PyObject *nv = ov ? PyObject_GetAttrString(new, names[i]) : NULL;
        int eq = nv == NULL ? -1
                 : ov == nv ? 1
                            : PyObject_RichCompareBool(ov, nv, Py_EQ);
        if (eq == 0) {
            PyObject *key = PyUnicode_FromString(names[i]);
            r = key ? hs_txn_setattr(rd->txn, old, key, nv) : -1;
            Py_XDECREF(key);
        }
        else if (eq < 0) {
            r = -1;
        }
        Py_XDECREF(ov);
        Py_XDECREF(nv);
    }
    return r;
}

static int
redeco_move_function(Redeco *rd, PyObject *old, PyObject *new)
{
    PyObject *cl = PyFunction_GET_CLOSURE(new); /* borrowed */
    for (Py_ssize_t i = 0; cl != NULL && i < PyTuple_GET_SIZE(cl); i++) {
        PyObject *cell = PyTuple_GET_ITEM(cl, i);
        PyObject *v = PyCell_GET(cell);
        if (v == NULL) {
            continue;
        }
        Py_INCREF(v);
        PyObject *s = redeco_subst(rd, v);
        int r = s == NULL ? -1 : s != v ? PyCell_Set(cell, s) : 0;
        Py_XDECREF(s);
        Py_DECREF(v);
        if (r < 0) {
            return -1;
        }
    }
    if (hs_txn_save_function(rd->txn, old) < 0
        || hs_func_set_closure_and_code(old, cl ? cl : Py_None,
                                        PyFunction_GET_CODE(new))
               < 0)
    {
        return -1;
    }
    PyObject *d = PyFunction_GET_DEFAULTS(new);
    PyObject *kw = PyFunction_GET_KW_DEFAULTS(new);
    if (PyFunction_SetDefaults(old, d ? d : Py_None) < 0
        || PyFunction_SetKwDefaults(old, kw ? kw : Py_None) < 0
        || redeco_copy_attr(old, new, "__doc__") < 0)
    {
        return -1;
    }
    PyObject *ann = hs_function_annotations_raw(new);
    if (PyFunction_SetAnnotations(old, ann ? ann : Py_None) < 0) {
        return -1;
    }
#if HS_HAVE_ANNOTATE
    PyObject *annotate = NULL;
    if (PyObject_GetOptionalAttrString(new, "__annotate__", &annotate) < 0) {
        return -1;
    }
    int ar = annotate != NULL && annotate != Py_None
                 ? PyObject_SetAttrString(old, "__annotate__", annotate)
                 : 0;
    Py_XDECREF(annotate);
    if (ar < 0) {
        return -1;
    }
#endif
#if HS_HAVE_TYPE_PARAMS
    if (redeco_copy_attr(old, new, "__type_params__") < 0) {
        return -1;
    }
#endif
    if (redeco_copy_names(rd, old, new) < 0
        || redeco_move_dict(rd, old, new) < 0)
    {
        return -1;
    }
    hs_function_reversion(old);
    return 0;
}

/* An instance of a Python class: dict entries and slot values.  0 / -1. */
static int
redeco_move_object(Redeco *rd, PyObject *old, PyObject *new)
{
    if (redeco_move_dict(rd, old, new) < 0) {
        return -1;
    }
    int movable;
    PyObject *slots = redeco_slots(Py_TYPE(new), &movable);
    if (slots == NULL) {
        return -1;
    }
    int r = 0;
    for (Py_ssize_t i = 0; r == 0 && i < PyList_GET_SIZE(slots); i++) {
        PyObject *name = PyTuple_GET_ITEM(PyList_GET_ITEM(slots, i), 0);
        PyObject *desc = PyTuple_GET_ITEM(PyList_GET_ITEM(slots, i), 1);
        PyObject *v = redeco_slot_get(desc, new);
        if (v == NULL && PyErr_Occurred()) {
            r = -1;
            break;
        }
        /* unset in the new object: unset in the old */
        PyObject *s = v ? redeco_subst(rd, v) : NULL;
        if (v != NULL && s == NULL) {
            r = -1;
        }
        else if (s != NULL || (r = PyObject_HasAttrWithError(old, name)) > 0) {
            r = hs_txn_setattr(rd->txn, old, name, s);
        }
        Py_XDECREF(v);
        Py_XDECREF(s);
    }
    Py_DECREF(slots);
    return r;
}

int
hs_redeco_move(HsTxn *txn, PyObject *old, PyObject *new, PyObject *fo,
               PyObject *fn)
{
    Redeco rd = {txn, fo, fn, PyDict_New(), PyList_New(0)};
    int r = -1;
    if (rd.map == NULL || rd.pairs == NULL) {
        goto done;
    }
    r = redeco_collect(&rd, old, new, 0);
    for (Py_ssize_t i = 0; r == 1 && i < PyList_GET_SIZE(rd.pairs); i++) {
        PyObject *o = PyTuple_GET_ITEM(PyList_GET_ITEM(rd.pairs, i), 0);
        PyObject *n = PyTuple_GET_ITEM(PyList_GET_ITEM(rd.pairs, i), 1);
        /* the new layer is dropped at commit, not in the middle of APPLY */
        if (hs_txn_keep(txn, n) < 0
            || (PyFunction_Check(o) ? redeco_move_function(&rd, o, n)
                                    : redeco_move_object(&rd, o, n))
                   < 0)
        {
            r = -1;
        }
    }
done:
    Py_XDECREF(rd.map);
    Py_XDECREF(rd.pairs);
    return r;
}
