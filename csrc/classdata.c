/* classdata.c -- the parts of a class update that depend on what made the
 * class: @dataclass run again after a field change (with instance
 * migration and the __hotswap_migrate__ hook), enum members, typing
 * constructs, ABC bookkeeping, __init_subclass__, and the layout opt-in.
 *
 * Main thread, GIL held; every write goes through the batch's undo log.
 * Called from classes.c's rules (class_update) with their Ctx.
 *
 * Names: what this file defines for classes.c is hs_cls_* (declared in
 * classes_int.h); what it uses from classes.c is hs_class_*.
 */
#include "classes_int.h"
#include "errors.h"
#include "funcs.h"
#include "heap.h"
#include "internals.h"
#include "report.h"

#include <string.h>

/* ABCMeta's test, `getattr(v, "__isabstractmethod__", False)`: only an
 * AttributeError means "no"; any other error fails class creation in a
 * fresh import, and here.  1 / 0 / -1. */
static int
is_abstract(PyObject *v)
{
    PyObject *flag = NULL;
    if (v == NULL) {
        return 0;
    }
    if (PyObject_GetOptionalAttrString(v, "__isabstractmethod__", &flag) <= 0)
    {
        return flag == NULL && PyErr_Occurred() ? -1 : 0;
    }
    int r = PyObject_IsTrue(flag);
    Py_DECREF(flag);
    return r;
}

int
hs_cls_abc_caches_clear(PyObject *klass)
{
    PyObject *meta = (PyObject *)Py_TYPE(klass), *clear = NULL;
    if (PyObject_GetOptionalAttrString(meta, "_abc_caches_clear", &clear) < 0)
    {
        return -1;
    }
    if (clear == NULL) {
        return 0;
    }
    PyObject *res = PyObject_CallOneArg(clear, klass);
    Py_DECREF(clear);
    if (res == NULL) {
        return -1;
    }
    Py_DECREF(res);
    return 0;
}

/* What ABCMeta computes at class creation (abc.update_abstractmethods,
 * 3.10+, does the same): the class's own abstract members, and the
 * inherited abstract names it does not override with something concrete.
 * Set through the type setter, which keeps Py_TPFLAGS_IS_ABSTRACT right. */
int
hs_cls_recompute_abstract(HsTxn *txn, PyObject *klass)
{
    PyObject *names = PySet_New(NULL), *d = NULL, *items = NULL;
    PyObject *bases = NULL, *fs = NULL, *key = NULL;
    int result = -1;
    if (names == NULL || (d = hs_class_own_dict(klass)) == NULL
        || (items = PyMapping_Items(d)) == NULL
        || (bases = PyObject_GetAttrString(klass, "__bases__")) == NULL)
    {
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *pair = PyList_GET_ITEM(items, i);
        int abstract = is_abstract(PyTuple_GET_ITEM(pair, 1));
        if (abstract < 0
            || (abstract && PySet_Add(names, PyTuple_GET_ITEM(pair, 0)) < 0))
        {
            goto done;
        }
    }
    for (Py_ssize_t b = 0; b < PyTuple_GET_SIZE(bases); b++) {
        PyObject *inherited = NULL;
        if (PyObject_GetOptionalAttrString(PyTuple_GET_ITEM(bases, b),
                                           "__abstractmethods__", &inherited)
            < 0)
        {
            goto done;
        }
        PyObject *it = inherited ? PyObject_GetIter(inherited) : NULL, *n;
        Py_XDECREF(inherited);
        while (it != NULL && (n = PyIter_Next(it)) != NULL) {
            PyObject *v = NULL;
            int r = PyObject_GetOptionalAttr(klass, n, &v) < 0
                        ? -1
                        : is_abstract(v);
            r = r > 0 ? PySet_Add(names, n) : r;
            Py_XDECREF(v);
            Py_DECREF(n);
            if (r < 0) {
                Py_DECREF(it);
                goto done;
            }
        }
        Py_XDECREF(it);
        if (PyErr_Occurred()) {
            goto done;
        }
    }
    fs = PyFrozenSet_New(names);
    key = PyUnicode_FromString("__abstractmethods__");
    if (fs == NULL || key == NULL) {
        goto done;
    }
    PyObject *cur = NULL;
    if (PyObject_GetOptionalAttr(klass, key, &cur) < 0) {
        goto done;
    }
    int same = cur != NULL ? PyObject_RichCompareBool(cur, fs, Py_EQ) : 0;
    Py_XDECREF(cur);
    if (same < 0 && hs_err_clear_unless_fatal() < 0) {
        goto done; /* else: incomparable, so set */
    }
    result = same == 1 ? 0 : hs_txn_setattr(txn, klass, key, fs);
done:
    Py_XDECREF(names);
    Py_XDECREF(d);
    Py_XDECREF(items);
    Py_XDECREF(bases);
    Py_XDECREF(fs);
    Py_XDECREF(key);
    return result;
}

/* ------------------------------------------------------------------ */
/* dataclasses and instance migration                                  */

/* A __dataclass_params__ flag (0 when the version has none).  1/0/-1. */
int
hs_cls_dataclass_param(PyObject *klass, const char *name)
{
    PyObject *params = NULL, *v = NULL;
    if (PyObject_GetOptionalAttrString(klass, "__dataclass_params__", &params)
        < 0)
    {
        return -1;
    }
    int r = 0;
    if (params != NULL) {
        r = PyObject_GetOptionalAttrString(params, name, &v);
        r = r < 0 ? -1 : (v != NULL && PyObject_IsTrue(v) == 1);
    }
    Py_XDECREF(params);
    Py_XDECREF(v);
    return r;
}

/* Names a field list holds (iterable of names) minus those of `other`. */
static PyObject *
names_minus(PyObject *a, PyObject *b)
{
    PyObject *out = PyList_New(0);
    PyObject *it = (out && a) ? PyObject_GetIter(a) : NULL, *n;
    while (it != NULL && (n = PyIter_Next(it)) != NULL) {
        int in = b ? PySequence_Contains(b, n) : 0;
        if (in < 0 || (!in && PyList_Append(out, n) < 0)) {
            Py_DECREF(n);
            Py_CLEAR(out);
            break;
        }
        Py_DECREF(n);
    }
    Py_XDECREF(it);
    if (PyErr_Occurred()) {
        Py_CLEAR(out);
    }
    return out;
}

/* The value a new field starts with on an old instance: its default, or
 * what its default_factory makes; NULL without an error when it has
 * neither (the instance is left without it, for the hook to fill). */
static PyObject *
field_start_value(PyObject *field)
{
    PyObject *dc = NULL, *missing = NULL, *dflt = NULL, *factory = NULL;
    PyObject *v = NULL;
    if ((dc = PyImport_ImportModule("dataclasses")) == NULL
        || (missing = PyObject_GetAttrString(dc, "MISSING")) == NULL
        || (dflt = PyObject_GetAttrString(field, "default")) == NULL
        || (factory = PyObject_GetAttrString(field, "default_factory"))
               == NULL)
    {
        goto done;
    }
    if (dflt != missing) {
        v = Py_NewRef(dflt);
    }
    else if (factory != missing) {
        v = PyObject_CallNoArgs(factory);
    }
done:
    Py_XDECREF(dc);
    Py_XDECREF(missing);
    Py_XDECREF(dflt);
    Py_XDECREF(factory);
    return v;
}

/* Every live instance of the class (and of its subclasses): fields added
 * get their default or factory value, removed ones are dropped, then the
 * class's __hotswap_migrate__(self, added, removed) runs (removed: a dict
 * of the dropped values).  Asked of the batch's walk (heap.c).  `fields`:
 * the new dataclass fields (a dict name -> Field) or NULL.  Return the
 * number of instances migrated, or -1. */
Py_ssize_t
hs_cls_migrate_instances(Ctx *cx, PyObject *old_names, PyObject *new_names,
                         PyObject *fields)
{
    PyObject *added = names_minus(new_names, old_names);
    PyObject *removed = added ? names_minus(old_names, new_names) : NULL;
    PyObject *hook = NULL, *objs = NULL, *added_t = NULL;
    Py_ssize_t result = -1, migrated = 0;
    if (removed == NULL) {
        goto done;
    }
    if (PyObject_GetOptionalAttr(cx->klass, cx->job->dunders->hotswap_migrate,
                                 &hook)
        < 0)
    {
        goto done;
    }
    if (PyList_GET_SIZE(added) == 0 && PyList_GET_SIZE(removed) == 0) {
        result = 0;
        goto done;
    }
    added_t = PyList_AsTuple(added);
    objs = added_t ? hs_heap_instances(cx->job->heap, cx->klass, 0) : NULL;
    if (objs == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(objs); i++) {
        PyObject *o = PyList_GET_ITEM(objs, i);
        PyObject *dict = PyObject_GenericGetDict(o, NULL);
        if (dict == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
                goto done;
            }
            PyErr_Clear(); /* no __dict__: nothing of ours to migrate */
            continue;
        }
        PyObject *gone = PyDict_New();
        int r = gone ? 0 : -1;
        for (Py_ssize_t k = 0; r == 0 && k < PyList_GET_SIZE(removed); k++) {
            PyObject *n = PyList_GET_ITEM(removed, k);
            PyObject *v = NULL;
            r = PyDict_GetItemRef(dict, n, &v);
            if (r == 1) {
                r = PyDict_SetItem(gone, n, v);
                if (r == 0) {
                    r = hs_txn_generic_setattr(cx->txn, o, n, NULL);
                }
            }
            Py_XDECREF(v);
        }
        for (Py_ssize_t k = 0;
             r == 0 && fields != NULL && k < PyList_GET_SIZE(added); k++)
        {
            PyObject *n = PyList_GET_ITEM(added, k);
            PyObject *f = PyDict_GetItemWithError(fields, n);
            int has = PyDict_Contains(dict, n);
            if (f == NULL || has != 0) {
                r = PyErr_Occurred() ? -1 : 0;
                continue;
            }
            PyObject *v = field_start_value(f);
            if (v != NULL) {
                r = hs_txn_generic_setattr(cx->txn, o, n, v);
                Py_DECREF(v);
            }
            else if (PyErr_Occurred()) {
                r = -1;
            }
        }
        if (r == 0 && hook != NULL) {
            PyObject *res =
                PyObject_CallFunctionObjArgs(hook, o, added_t, gone, NULL);
            r = res ? 0 : -1;
            Py_XDECREF(res);
        }
        Py_DECREF(dict);
        Py_XDECREF(gone);
        if (r < 0) {
            goto done;
        }
        migrated++;
    }
    result = migrated;
done:
    Py_XDECREF(added);
    Py_XDECREF(removed);
    Py_XDECREF(hook);
    Py_XDECREF(objs);
    Py_XDECREF(added_t);
    return result;
}

/* match_args=False leaves no __match_args__; kw_only=True makes every
 * field keyword-only.  New reference to True/False, or NULL (no error)
 * for any other flag. */
static PyObject *
dataclass_flag_from_class(PyObject *klass, const char *flag,
                          PyObject *old_fields)
{
    if (!HS_HAVE_DATACLASS_KW_ONLY) {
        return NULL; /* 3.9: dataclass() has neither flag */
    }
    if (strcmp(flag, "match_args") == 0) {
        PyObject *key = PyUnicode_FromString("__match_args__"), *v = NULL;
        int r = key ? hs_class_own_member(klass, key, &v) : -1;
        Py_XDECREF(key);
        Py_XDECREF(v);
        return r < 0 ? NULL : Py_NewRef(r ? Py_True : Py_False);
    }
    if (strcmp(flag, "kw_only") == 0 && old_fields != NULL) {
        Py_ssize_t pos = 0, n = 0, kw = 0;
        PyObject *key, *f;
        while (PyDict_Next(old_fields, &pos, &key, &f)) {
            PyObject *v = NULL;
            if (PyObject_GetOptionalAttrString(f, "kw_only", &v) < 0) {
                return NULL;
            }
            if (v == NULL) {
                return NULL; /* 3.9: no keyword-only fields */
            }
            n++;
            kw += PyObject_IsTrue(v) == 1;
            Py_DECREF(v);
        }
        return Py_NewRef(n > 0 && kw == n ? Py_True : Py_False);
    }
    return NULL;
}

/* Record in the undo log what a decorator wrote into the class dict `d`
 * (its copy `before` was taken before the call).  0 / -1. */
static int
record_class_writes(HsTxn *txn, PyObject *klass, PyObject *d, PyObject *before)
{
    PyObject *after = PyDict_Copy(d);
    if (after == NULL) {
        return -1;
    }
    int result = -1;
    Py_ssize_t pos = 0;
    PyObject *key, *val;
    while (PyDict_Next(after, &pos, &key, &val)) {
        PyObject *was = PyDict_GetItemWithError(before, key);
        if (was == NULL && PyErr_Occurred()) {
            goto done;
        }
        if (was != val && hs_txn_record_setattr(txn, klass, key, was) < 0) {
            goto done;
        }
    }
    pos = 0;
    while (PyDict_Next(before, &pos, &key, &val)) {
        int in = PyDict_Contains(after, key);
        if (in < 0 || (!in && hs_txn_record_setattr(txn, klass, key, val) < 0))
        {
            goto done;
        }
    }
    result = 0;
done:
    Py_DECREF(after);
    return result;
}

/* The keyword arguments @dataclass was given for the class, from its
 * __dataclass_params__ (and, for flags it does not keep before 3.12, the
 * class as @dataclass left it).  New reference, or NULL. */
static PyObject *
dataclass_params_kw(const HsDunders *D, PyObject *klass, PyObject *old_fields)
{
    static const char *const params[] = {
        "init",   "repr",       "eq",      "order",        "unsafe_hash",
        "frozen", "match_args", "kw_only", "weakref_slot", NULL,
    };
    PyObject *p = PyObject_GetAttr(klass, D->dataclass_params);
    PyObject *kw = p ? PyDict_New() : NULL;
    if (kw == NULL) {
        goto error;
    }
    for (int i = 0; params[i] != NULL; i++) {
        PyObject *v = NULL;
        if (PyObject_GetOptionalAttrString(p, params[i], &v) < 0) {
            goto error;
        }
        if (v == NULL) {
            /* a flag __dataclass_params__ does not keep before 3.12: read
             * it off the class as @dataclass left it */
            v = dataclass_flag_from_class(klass, params[i], old_fields);
            if (v == NULL) {
                if (PyErr_Occurred()) {
                    goto error;
                }
                continue;
            }
        }
        int r = PyDict_SetItemString(kw, params[i], v);
        Py_DECREF(v);
        if (r < 0) {
            goto error;
        }
    }
    Py_DECREF(p);
    return kw;
error:
    Py_XDECREF(p);
    Py_XDECREF(kw);
    return NULL;
}

/* Take out of the class the methods @dataclass generated last time (not
 * those the body defines): it only adds a method when the class has
 * none.  0 / -1. */
static int
dataclass_drop_generated(Ctx *cx, PyObject *ns)
{
    static const char *const generated[] = {
        "__init__",     "__repr__",       "__eq__",
        "__lt__",       "__le__",         "__gt__",
        "__ge__",       "__hash__",       "__setattr__",
        "__delattr__",  "__match_args__", "__getstate__",
        "__setstate__", "__replace__",    NULL,
    };
    for (int i = 0; generated[i] != NULL; i++) {
        int in_ns = PyMapping_HasKeyStringWithError(ns, generated[i]);
        if (in_ns != 0) {
            if (in_ns < 0) {
                return -1;
            }
            continue;
        }
        PyObject *key = PyUnicode_FromString(generated[i]), *cur = NULL;
        int r = key ? hs_class_own_member(cx->klass, key, &cur) : -1;
        if (r == 1) {
            r = hs_txn_setattr(cx->txn, cx->klass, key, NULL);
        }
        Py_XDECREF(cur);
        Py_XDECREF(key);
        if (r < 0) {
            return -1;
        }
    }
    return 0;
}

/* Call `deco` (dataclasses.dataclass(**kw)) on the live class and record
 * in the undo log what it wrote, also when it raised: the user's fields
 * are wrong (a field without a default after one with a default, a
 * mutable default...), and the batch fails as the user's error (HS504)
 * at the class's line.  0 / -1. */
static int
dataclass_call(Ctx *cx, PyObject *deco)
{
    PyObject *klass = cx->klass;
    PyObject *d = hs_class_own_dict(klass);
    PyObject *before = d ? PyDict_Copy(d) : NULL, *res = NULL;
    int result = -1;
    if (before == NULL) {
        goto done;
    }
    res = PyObject_CallOneArg(deco, klass);
    if (res == NULL) {
        /* what the decorator wrote before it raised (__dataclass_fields__
         * first) goes into the undo log too */
        PyObject *exc = PyErr_GetRaisedException();
        if (record_class_writes(cx->txn, klass, d, before) < 0) {
            Py_XDECREF(exc);
            goto done;
        }
        PyObject *ln = exc ? PyLong_FromLong(cx->line) : NULL;
        if (ln == NULL
            || PyObject_SetAttrString(exc, "hotswap_lineno", ln) < 0)
        {
            /* swallow: the user's error (exc) is raised in any case; it
             * then names the file only */
            PyErr_Clear();
        }
        Py_XDECREF(ln);
        PyErr_SetRaisedException(exc);
        cx->job->user_error = 1;
        goto done;
    }
    /* what the decorator wrote, for the undo log */
    if (record_class_writes(cx->txn, klass, d, before) < 0) {
        goto done;
    }
    if (res != klass) {
        PyErr_SetString(PyExc_TypeError, "dataclass() returned another class");
        goto done;
    }
    result = 0;
done:
    Py_XDECREF(d);
    Py_XDECREF(before);
    Py_XDECREF(res);
    return result;
}

/* After @dataclass ran again: migrate the instances from the old fields
 * to the new ones and report.  0 / -1. */
static int
dataclass_migrate_report(Ctx *cx, PyObject *old_fields)
{
    PyObject *fields = NULL, *new_names = NULL, *old_names = NULL;
    PyObject *plus = NULL, *minus = NULL;
    int result = -1;
    Py_ssize_t migrated = -1;
    fields = PyObject_GetAttr(cx->klass, cx->job->dunders->dataclass_fields);
    if (fields == NULL || (new_names = PyDict_Keys(fields)) == NULL
        || (old_names = PyDict_Keys(old_fields)) == NULL)
    {
        goto done;
    }
    migrated = hs_cls_migrate_instances(cx, old_names, new_names, fields);
    if (migrated < 0) {
        goto done;
    }
    plus = names_minus(new_names, old_names);
    minus = plus ? names_minus(old_names, new_names) : NULL;
    if (minus == NULL) {
        goto done;
    }
    result = hs_report_add(cx->job, cx->qualname, "class", "updated", NULL,
                           cx->line,
                           "dataclass fields changed (added %S, removed %S); "
                           "@dataclass ran again on the live class; %zd "
                           "instances migrated",
                           plus, minus, migrated);
done:
    Py_XDECREF(fields);
    Py_XDECREF(new_names);
    Py_XDECREF(old_names);
    Py_XDECREF(plus);
    Py_XDECREF(minus);
    return result;
}

/* Run @dataclass again on the live class, with its own parameters, after
 * its fields changed; record in the undo log what the decorator wrote;
 * migrate the existing instances. */
int
hs_cls_regenerate_dataclass(Ctx *cx, PyObject *ns, PyObject *old_fields)
{
    PyObject *dc = NULL, *kw = NULL, *fn = NULL, *args = NULL, *deco = NULL;
    int result = -1;
    dc = PyImport_ImportModule("dataclasses");
    kw = dc ? dataclass_params_kw(cx->job->dunders, cx->klass, old_fields)
            : NULL;
    if (kw == NULL || dataclass_drop_generated(cx, ns) < 0) {
        goto done;
    }
    fn = PyObject_GetAttrString(dc, "dataclass");
    args = fn ? PyTuple_New(0) : NULL;
    deco = args ? PyObject_Call(fn, args, kw) : NULL;
    if (deco == NULL || dataclass_call(cx, deco) < 0) {
        goto done;
    }
    result = dataclass_migrate_report(cx, old_fields);
done:
    Py_XDECREF(dc);
    Py_XDECREF(kw);
    Py_XDECREF(fn);
    Py_XDECREF(args);
    Py_XDECREF(deco);
    return result;
}

/* CPython sorts the slot names into the layout (type_new), so __slots__
 * written in another order, or as a list instead of a tuple, is the same
 * instance layout: not a layout change.  1 / 0 (also: not comparable
 * names) / -1 (a fatal error, errors.h). */
int
hs_cls_same_slot_names(PyObject *a, PyObject *b)
{
    if (a == NULL || b == NULL) {
        return 0;
    }
    PyObject *la = PyUnicode_Check(a) ? PyList_New(1) : PySequence_List(a);
    PyObject *lb = PyUnicode_Check(b) ? PyList_New(1) : PySequence_List(b);
    int r = 0;
    if (la != NULL && lb != NULL) {
        if (PyUnicode_Check(a)) {
            PyList_SET_ITEM(la, 0, Py_NewRef(a));
        }
        if (PyUnicode_Check(b)) {
            PyList_SET_ITEM(lb, 0, Py_NewRef(b));
        }
        if (PyList_Sort(la) == 0 && PyList_Sort(lb) == 0) {
            r = PyObject_RichCompareBool(la, lb, Py_EQ) == 1;
        }
    }
    if (PyErr_Occurred()) {
        /* slots that are no sequence of sortable names: not the same */
        r = hs_err_clear_unless_fatal() < 0 ? -1 : 0;
    }
    Py_XDECREF(la);
    Py_XDECREF(lb);
    return r;
}

/* ------------------------------------------------------------------ */
/* enum members                                                        */

/* Compare the live members with those of the enum built from the new
 * body (`new_map`): names new there go to `added`; `*problem` says why
 * they cannot be applied (a member removed or re-valued).  0 / -1. */
static int
enum_compare_members(PyObject *members, PyObject *new_map, PyObject *added,
                     HsDiag *problem)
{
    Py_ssize_t pos = 0;
    PyObject *key, *member;
    while (PyDict_Next(members, &pos, &key, &member)) {
        PyObject *nm = PyDict_GetItemWithError(new_map, key);
        if (nm == NULL) {
            if (PyErr_Occurred()) {
                return -1;
            }
            *problem = HS205_REMOVED;
            return 0;
        }
        PyObject *a = PyObject_GetAttrString(member, "_value_");
        PyObject *b = a ? PyObject_GetAttrString(nm, "_value_") : NULL;
        int same = b ? PyObject_RichCompareBool(a, b, Py_EQ) : -1;
        Py_XDECREF(a);
        Py_XDECREF(b);
        if (same < 0) {
            /* a value without _value_, or one whose __eq__ raises: changed */
            if (hs_err_clear_unless_fatal() < 0) {
                return -1;
            }
            same = 0;
        }
        if (!same) {
            *problem = HS205_VALUE;
            return 0;
        }
    }
    pos = 0;
    while (PyDict_Next(new_map, &pos, &key, &member)) {
        int has = PyDict_Contains(members, key);
        if (has < 0 || (!has && PyList_Append(added, key) < 0)) {
            return -1;
        }
    }
    return 0;
}

/* The enum's member maps, as the live class will hold them. */
typedef struct {
    PyObject *map;   /* strong: _member_map_ */
    PyObject *names; /* strong: _member_names_ */
    PyObject *v2m;   /* strong: _value2member_map_ */
} EnumMaps;

/* Move the new member `n` (made by the enum of the new body, in
 * `new_map`) onto the live class, into `maps` and the class's
 * attributes.  An alias points at the live member.  0 / -1. */
static int
enum_add_member(Ctx *cx, PyObject *members, PyObject *new_map, PyObject *n,
                EnumMaps *maps)
{
    PyObject *klass = cx->klass;
    PyObject *m = PyDict_GetItemWithError(new_map, n);
    if (m == NULL) {
        return -1;
    }
    PyObject *mname = NULL;
    if (PyObject_GetOptionalAttrString(m, "_name_", &mname) < 0) {
        return -1;
    }
    int is_alias = mname != NULL && PyUnicode_Check(mname)
                   && PyUnicode_Compare(mname, n) != 0;
    Py_XDECREF(mname);
    if (!is_alias) {
        if (PyObject_GenericSetAttr(m, cx->job->dunders->class_, klass) < 0
            || PyList_Append(maps->names, n) < 0)
        {
            return -1;
        }
        PyObject *val = PyObject_GetAttrString(m, "_value_");
        if (val == NULL) {
            return -1;
        }
        int r = PyDict_SetItem(maps->v2m, val, m);
        Py_DECREF(val);
        if (r < 0) {
            if (!PyErr_ExceptionMatches(PyExc_TypeError)) {
                return -1;
            }
            PyErr_Clear(); /* an unhashable value: found by scanning */
        }
    }
    else {
        /* an alias of an existing member: point at the live one */
        PyObject *target = NULL;
        PyObject *tn = PyObject_GetAttrString(m, "_name_");
        if (tn != NULL) {
            target = PyDict_GetItemWithError(members, tn);
            Py_DECREF(tn);
        }
        if (target == NULL) {
            return -1;
        }
        m = target;
    }
    if (PyDict_SetItem(maps->map, n, m) < 0) {
        return -1;
    }
    /* the class attribute, past EnumType.__setattr__'s member check */
    if (hs_txn_record_setattr(cx->txn, klass, n, NULL) < 0
        || PyType_Type.tp_setattro(klass, n, m) < 0)
    {
        return -1;
    }
    return hs_class_report(cx, n, "data", "added", NULL, 0, NULL);
}

/* The new maps replace the old ones (so the undo log restores them
 * whole); the flag masks follow the enum built from the new body
 * (`tmp`).  0 / -1. */
static int
enum_set_maps(Ctx *cx, PyObject *tmp, const EnumMaps *maps)
{
    static const char *const masks[] = {
        "_flag_mask_", "_singles_mask_", "_all_bits_", "_inverted_", NULL,
    };
    PyObject *klass = cx->klass;
    PyObject *k1 = PyUnicode_FromString("_member_map_");
    PyObject *k2 = PyUnicode_FromString("_member_names_");
    PyObject *k3 = PyUnicode_FromString("_value2member_map_");
    int r = (k1 && k2 && k3) ? 0 : -1;
    if (r == 0) {
        r = hs_txn_setattr(cx->txn, klass, k1, maps->map);
    }
    if (r == 0) {
        r = hs_txn_setattr(cx->txn, klass, k2, maps->names);
    }
    if (r == 0) {
        r = hs_txn_setattr(cx->txn, klass, k3, maps->v2m);
    }
    Py_XDECREF(k1);
    Py_XDECREF(k2);
    Py_XDECREF(k3);
    for (int i = 0; r == 0 && masks[i] != NULL; i++) {
        PyObject *mv = NULL;
        if (PyObject_GetOptionalAttrString(tmp, masks[i], &mv) < 0) {
            return -1;
        }
        if (mv != NULL) {
            PyObject *mk = PyUnicode_FromString(masks[i]);
            r = mk ? hs_txn_setattr(cx->txn, klass, mk, mv) : -1;
            Py_XDECREF(mk);
            Py_DECREF(mv);
        }
    }
    return r;
}

/* The members of the new body, compared with the live ones.  Members
 * keep their identity, so only additions can be applied: the new members
 * are made by building the enum of the new body (a throw-away class; the
 * machinery that computes values, auto(), aliases and flags is the enum
 * module's own), moved onto the live class with __class__ assignment
 * (same bases, same layout), and registered in its member maps.  Removed
 * or re-valued members: HS205, nothing applied. */
int
hs_cls_enum_sync_members(Ctx *cx, PyObject *ns, PyObject *members)
{
    PyObject *klass = cx->klass;
    PyObject *name = NULL, *bases = NULL, *tmp = NULL, *new_map = NULL;
    PyObject *added = NULL;
    EnumMaps maps = {NULL, NULL, NULL};
    HsDiag problem = HS_DIAG_NONE;
    int result = -1;

    /* the enum the new body makes, thrown away once its members moved */
    if ((name = PyObject_GetAttr(klass, cx->job->dunders->name)) == NULL
        || (bases = PyObject_GetAttr(klass, cx->job->dunders->bases)) == NULL
        || (tmp = PyObject_CallFunctionObjArgs((PyObject *)Py_TYPE(klass),
                                               name, bases, ns, NULL))
               == NULL
        || (new_map = PyObject_GetAttrString(tmp, "_member_map_")) == NULL
        || (added = PyList_New(0)) == NULL
        || enum_compare_members(members, new_map, added, &problem) < 0)
    {
        goto done;
    }
    if (problem != HS_DIAG_NONE) {
        result = hs_class_diag(cx, NULL, "class", problem, 0);
        goto done;
    }
    if (PyList_GET_SIZE(added) == 0) {
        result = 0;
        goto done;
    }
    maps.map = PyDict_Copy(members);
    PyObject *old_names = PyObject_GetAttrString(klass, "_member_names_");
    maps.names = old_names ? PySequence_List(old_names) : NULL;
    Py_XDECREF(old_names);
    PyObject *old_v2m =
        maps.names ? PyObject_GetAttrString(klass, "_value2member_map_")
                   : NULL;
    maps.v2m = old_v2m ? PyDict_Copy(old_v2m) : NULL;
    Py_XDECREF(old_v2m);
    if (maps.map == NULL || maps.v2m == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(added); i++) {
        if (enum_add_member(cx, members, new_map, PyList_GET_ITEM(added, i),
                            &maps)
            < 0)
        {
            goto done;
        }
    }
    result = enum_set_maps(cx, tmp, &maps);
done:
    Py_XDECREF(name);
    Py_XDECREF(bases);
    Py_XDECREF(tmp);
    Py_XDECREF(new_map);
    Py_XDECREF(added);
    Py_XDECREF(maps.map);
    Py_XDECREF(maps.names);
    Py_XDECREF(maps.v2m);
    return result;
}

/* 1 when a NamedTuple's fields changed (its instances are tuples of the
 * old shape: reported, not applied). */
int
hs_cls_namedtuple_fields_changed(PyObject *klass, PyObject *shadow)
{
    PyObject *of = NULL, *nf = NULL;
    if (shadow == Py_None) {
        return 0;
    }
    if (PyObject_GetOptionalAttrString(klass, "_fields", &of) < 0
        || PyObject_GetOptionalAttrString(shadow, "_fields", &nf) < 0)
    {
        Py_XDECREF(of);
        return -1;
    }
    int same = of != NULL && nf != NULL ? hs_class_values_equal(of, nf) : 1;
    Py_XDECREF(of);
    Py_XDECREF(nf);
    return same < 0 ? -1 : !same;
}

/* Data typing's metaclasses derive from a class body, taken from the
 * throw-away class built from the new body (stage.c, typing_shadow). */
int
hs_cls_sync_typing_data(Ctx *cx, PyObject *shadow)
{
    static const char *const derived[] = {
        "__required_keys__",
        "__optional_keys__",
        "__total__",
        "__readonly_keys__",
        "__mutable_keys__",
        "__protocol_attrs__",
        "__non_callable_proto_members__",
        "_is_runtime_protocol",
        "_field_defaults",
        NULL,
    };
    for (int i = 0; derived[i] != NULL; i++) {
        PyObject *nv = NULL, *ov = NULL;
        PyObject *key = PyUnicode_FromString(derived[i]);
        if (key == NULL) {
            return -1;
        }
        int r = hs_class_own_member(shadow, key, &nv);
        if (r == 1) {
            r = hs_class_own_member(cx->klass, key, &ov);
            int same = r >= 0 ? hs_class_values_equal(ov, nv) : -1;
            r = same ? same : hs_txn_setattr(cx->txn, cx->klass, key, nv);
        }
        Py_XDECREF(nv);
        Py_XDECREF(ov);
        Py_DECREF(key);
        if (r < 0) {
            return -1;
        }
    }
    return 0;
}

/* HS207: the class's __init_subclass__ changed while subclasses exist:
 * they were set up by the old one, which is not run again. */
int
hs_cls_init_subclass_changed(Ctx *cx, PyObject *code_before)
{
    PyObject *key = cx->job->dunders->init_subclass, *v = NULL;
    int r = hs_class_own_member(cx->klass, key, &v);
    if (r <= 0) {
        return r;
    }
    PyObject *f = hs_func_find(v, cx->job->dict, NULL);
    Py_DECREF(v);
    if (f == NULL) {
        return PyErr_Occurred() ? -1 : 0; /* no function in it */
    }
    int changed = PyFunction_GET_CODE(f) != code_before;
    Py_DECREF(f);
    if (!changed || code_before == NULL) {
        return 0;
    }
    PyObject *subs = PyObject_CallMethod(cx->klass, "__subclasses__", NULL);
    if (subs == NULL) {
        return -1;
    }
    Py_ssize_t n = PyList_GET_SIZE(subs);
    Py_DECREF(subs);
    if (n == 0) {
        return 0;
    }
    return hs_class_diag(cx, key, "method", HS207, 0);
}

/* ------------------------------------------------------------------ */
/* the layout opt-in                                                   */

/* A copy of function f whose `__class__` cell is `cell` (for the methods
 * of a rebuilt class: their zero-argument super() means the new class). */
static PyObject *
with_class_cell(PyObject *f, PyObject *cell)
{
    PyObject *code = PyFunction_GET_CODE(f);
    PyObject *names = PyObject_GetAttrString(code, "co_freevars");
    PyObject *closure = PyFunction_GET_CLOSURE(f);
    if (names == NULL) {
        return NULL;
    }
    Py_ssize_t at = -1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(names); i++) {
        if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(names, i),
                                             "__class__")
            == 0)
        {
            at = i;
        }
    }
    Py_DECREF(names);
    if (at < 0 || closure == NULL) {
        return Py_NewRef(f);
    }
    PyObject *nc = PyTuple_New(PyTuple_GET_SIZE(closure));
    if (nc == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(closure); i++) {
        PyTuple_SET_ITEM(
            nc, i, Py_NewRef(i == at ? cell : PyTuple_GET_ITEM(closure, i)));
    }
    PyObject *qual = PyObject_GetAttrString(f, "__qualname__");
    PyObject *g =
        qual
            ? PyFunction_NewWithQualName(code, PyFunction_GET_GLOBALS(f), qual)
            : NULL;
    Py_XDECREF(qual);
    int r = g ? PyFunction_SetClosure(g, nc) : -1;
    Py_DECREF(nc);
    static const char *const attrs[] = {"__defaults__", "__kwdefaults__",
                                        "__annotations__", "__doc__", NULL};
    for (int i = 0; r == 0 && attrs[i] != NULL; i++) {
        PyObject *v = PyObject_GetAttrString(f, attrs[i]);
        r = v ? PyObject_SetAttrString(g, attrs[i], v) : -1;
        Py_XDECREF(v);
    }
    if (r < 0) {
        Py_XDECREF(g);
        return NULL;
    }
    return g;
}

/* reload(..., rebuild_layout=True) for a class whose instance layout
 * changed: the module name gets a new class object built from the new
 * body; each live instance moves to it when CPython's __class__
 * assignment allows (same layout: in practice never for a changed set of
 * slots), else keeps the old class, whose methods were updated anyway. */
int
hs_cls_rebuild_class(Ctx *cx, PyObject *ns)
{
    HsJob *job = cx->job;
    PyObject *klass = cx->klass;
    PyObject *name = NULL, *bases = NULL, *body = NULL, *cell = NULL;
    PyObject *newcls = NULL, *cur = NULL, *objs = NULL;
    int result = -1;
    Py_ssize_t moved = 0, kept = 0;

    name = PyObject_GetAttrString(klass, "__name__");
    if (name == NULL || PyDict_GetItemRef(job->dict, name, &cur) < 0) {
        goto done;
    }
    if (cur != klass || PyUnicode_Compare(name, cx->qualname) != 0) {
        result = hs_class_diag(cx, NULL, "class", HS203_NESTED, 0);
        goto done;
    }
    bases = PyObject_GetAttrString(klass, "__bases__");
    body = bases ? PyDict_New() : NULL;
    cell = body ? PyCell_New(NULL) : NULL;
    if (cell == NULL || PyDict_Merge(body, ns, 1) < 0) {
        goto done;
    }
    /* methods with zero-argument super() get a cell for the new class */
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    int uses_cell = 0;
    PyObject *items = PyDict_Items(body);
    if (items == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        key = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 0);
        value = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 1);
        if (!PyFunction_Check(value)) {
            continue;
        }
        PyObject *g = with_class_cell(value, cell);
        if (g == NULL || PyDict_SetItem(body, key, g) < 0) {
            Py_XDECREF(g);
            Py_DECREF(items);
            goto done;
        }
        uses_cell |= g != value;
        Py_DECREF(g);
    }
    Py_DECREF(items);
    (void)pos;
    if (uses_cell && PyDict_SetItemString(body, "__classcell__", cell) < 0) {
        goto done;
    }
    newcls = PyObject_CallFunctionObjArgs((PyObject *)Py_TYPE(klass), name,
                                          bases, body, NULL);
    if (newcls == NULL
        || PyObject_SetAttrString(newcls, "__qualname__", cx->qualname) < 0
        || hs_txn_dict_set(cx->txn, job->dict, name, newcls) < 0
        /* the staged namespace agrees, so binding the names leaves it */
        || PyDict_SetItem(job->staged.scratch, name, newcls) < 0)
    {
        goto done;
    }
    /* the live instances: moved when the layouts allow it */
    objs = hs_heap_instances(job->heap, klass, 1);
    if (objs == NULL) {
        goto done;
    }
    PyObject *class_key = PyUnicode_FromString("__class__");
    if (class_key == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(objs); i++) {
        PyObject *o = PyList_GET_ITEM(objs, i);
        if (hs_txn_setattr(cx->txn, o, class_key, newcls) == 0) {
            moved++;
        }
        else if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            kept++;
        }
        else {
            Py_DECREF(class_key);
            goto done;
        }
    }
    Py_DECREF(class_key);
    result = hs_report_diag(job, cx->qualname, "class", HS203_REBUILT,
                            cx->line, moved, kept);
done:
    Py_XDECREF(name);
    Py_XDECREF(bases);
    Py_XDECREF(body);
    Py_XDECREF(cell);
    Py_XDECREF(newcls);
    Py_XDECREF(cur);
    Py_XDECREF(objs);
    return result;
}

/* ------------------------------------------------------------------ */
/* annotations                                                         */

/* The annotations a class body declared, to compare two versions: from the
 * namespace the body ran in (`ns`), or from the live class's own dict
 * (`ns` NULL).  Before 3.14, and under `from __future__ import
 * annotations`, the body built an __annotations__ dict.  3.14+ (PEP
 * 649/749) it built an __annotate__ function: it is called in
 * annotationlib's STRING format, which runs it against stand-in names and
 * so evaluates nothing (a fresh import evaluates class annotations only
 * when something such as @dataclass asks for them).  Sets *out to a new
 * reference, or NULL when the body declared none.  0, or -1 on error. */
int
hs_cls_annotations(PyObject *ns, PyObject *klass, PyObject **out)
{
    PyObject *key = NULL, *fn = NULL, *lib = NULL, *fmt = NULL;
    int result = -1;
    *out = NULL;
    if (ns != NULL) {
        *out = PyMapping_GetItemString(ns, "__annotations__");
        if (*out == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_KeyError)) {
                return -1;
            }
            PyErr_Clear();
        }
    }
    else {
        key = PyUnicode_FromString("__annotations__");
        if (key == NULL || hs_class_own_member(klass, key, out) < 0) {
            goto done;
        }
    }
    if (*out != NULL || !HS_HAVE_ANNOTATE) {
        result = 0;
        goto done;
    }
    if (ns != NULL) {
        fn = PyMapping_GetItemString(ns, "__annotate_func__");
        if (fn == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_KeyError)) {
                goto done;
            }
            PyErr_Clear();
        }
    }
    else {
        Py_SETREF(key, PyUnicode_FromString("__annotate_func__"));
        if (key == NULL || hs_class_own_member(klass, key, &fn) < 0) {
            goto done;
        }
    }
    if (fn == NULL || !PyFunction_Check(fn)) {
        result = 0;
        goto done;
    }
    lib = PyImport_ImportModule("annotationlib");
    PyObject *format = lib ? PyObject_GetAttrString(lib, "Format") : NULL;
    fmt = format ? PyObject_GetAttrString(format, "STRING") : NULL;
    Py_XDECREF(format);
    if (fmt == NULL) {
        goto done;
    }
    *out = PyObject_CallMethod(lib, "call_annotate_function", "OO", fn, fmt);
    result = *out == NULL ? -1 : 0;
done:
    Py_XDECREF(key);
    Py_XDECREF(fn);
    Py_XDECREF(lib);
    Py_XDECREF(fmt);
    return result;
}

int
hs_cls_keep_annotate(Ctx *cx, PyObject *old, PyObject *new)
{
    PyObject *code = PyFunction_GET_CODE(new); /* borrowed */
    PyObject *cells = PyFunction_GET_CLOSURE(new);
    if (PyFunction_GET_CODE(old) == code
        && PyFunction_GET_CLOSURE(old) == cells)
    {
        return 0;
    }
    if (hs_txn_save_function(cx->txn, old) < 0
        || hs_func_set_closure_and_code(old, cells ? cells : Py_None, code)
               < 0)
    {
        return -1;
    }
    hs_function_reversion(old);
    return 0;
}

/* After a class body ran again: annotations follow it.  3.14+: the class's
 * computed annotations (__annotations_cache__) described the old
 * __annotate__ and are dropped, to be computed again on demand; a body that
 * no longer declares annotations leaves no compiler-made __annotate__
 * behind.  Through the undo log. */
int
hs_cls_sync_annotations(Ctx *cx, PyObject *ns)
{
#if HS_HAVE_ANNOTATE
    PyObject *key = NULL, *v = NULL;
    int result = -1;
    key = PyUnicode_FromString("__annotations_cache__");
    int r = key ? hs_class_own_member(cx->klass, key, &v) : -1;
    if (r < 0 || (r == 1 && hs_txn_setattr(cx->txn, cx->klass, key, NULL) < 0))
    {
        goto done;
    }
    Py_CLEAR(v);
    static const char *const declared[] = {
        "__annotations__", "__annotate_func__", "__annotate__", NULL};
    int declares = 0;
    for (int i = 0; declares == 0 && declared[i] != NULL; i++) {
        declares = PyMapping_HasKeyStringWithError(ns, declared[i]);
    }
    if (declares < 0) {
        goto done;
    }
    if (!declares) {
        Py_SETREF(key, PyUnicode_FromString("__annotate_func__"));
        r = key ? hs_class_own_member(cx->klass, key, &v) : -1;
        if (r < 0) {
            goto done;
        }
        if (r == 1 && PyFunction_Check(v)
            && hs_txn_setattr(cx->txn, cx->klass, key, Py_None) < 0)
        {
            goto done;
        }
    }
    result = 0;
done:
    Py_XDECREF(key);
    Py_XDECREF(v);
    return result;
#else
    (void)cx;
    (void)ns;
    return 0;
#endif
}
