/* funcs.c -- function patching rules.
 *
 * Main thread, GIL held.  Owns nothing between calls.
 *
 * A live function keeps its identity; what changes is its code and the
 * metadata that the `def` statement evaluates (defaults, annotations, doc,
 * type params).  The rules, from ../shared/reference/cpython_internals.md:
 * - __code__ goes through the attribute setter (it resets the function
 *   version; 3.12+ it notifies watchers);
 * - closure cells are matched by free-variable *name*: the setter checks
 *   only the count, and a same-count swap with other names would read the
 *   wrong cells;
 * - closure and code are set back to back when the closure changes;
 * - a change of generator/coroutine kind is never swapped (3.13 warns,
 *   and old frames would be resumed with the wrong protocol);
 * - no-op swaps are skipped (3.13+ a swapped function is never
 *   call-specialised again).
 */
#include "funcs.h"
#include "state.h"
#include "errors.h"
#include "internals.h"

#include <string.h>

/* ------------------------------------------------------------------ */
/* finding the function behind wrappers                                */

static int
code_name_is(PyObject *func, PyObject *name)
{
    if (name == NULL) {
        return 0; /* no name asked for: the fallback (first function) */
    }
    PyObject *co = PyFunction_GET_CODE(func);
    PyObject *n = PyObject_GetAttrString(co, "co_name");
    if (n == NULL) {
        return -1;
    }
    int r = PyUnicode_Compare(n, name) == 0;
    Py_DECREF(n);
    return r;
}

/* 3.14+: is `func` the __annotate__ function the compiler made for a def
 * or a class (code named __annotate__)?  1 / 0 / -1. */
static int
is_annotate_function(PyObject *func)
{
#if HS_HAVE_ANNOTATE
    PyObject *n = PyObject_GetAttrString(PyFunction_GET_CODE(func), "co_name");
    if (n == NULL) {
        return -1;
    }
    int r = PyUnicode_Check(n)
            && PyUnicode_CompareWithASCIIString(n, "__annotate__") == 0;
    Py_DECREF(n);
    return r;
#else
    (void)func;
    return 0;
#endif
}

/* Depth-first through wrappers.  *fallback gets the first function with
 * the right globals whatever its name. */
static PyObject *
find_in(PyObject *obj, PyObject *globals, PyObject *name, int depth,
        PyObject **fallback)
{
    if (obj == NULL || depth > 8) {
        return NULL;
    }
    if (PyFunction_Check(obj)) {
        if (PyFunction_GET_GLOBALS(obj) == globals) {
            int r = code_name_is(obj, name);
            if (r < 0) {
                return NULL;
            }
            if (r) {
                return Py_NewRef(obj);
            }
            if (*fallback == NULL) {
                *fallback = Py_NewRef(obj);
            }
        }
        /* a wrapper made by a decorator: look at what it closes over */
        PyObject *closure = PyFunction_GET_CLOSURE(obj);
        if (closure != NULL) {
            for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(closure); i++) {
                PyObject *cell = PyTuple_GET_ITEM(closure, i);
                if (!PyCell_Check(cell)) {
                    continue;
                }
                PyObject *v = PyCell_GET(cell);
                if (v == NULL || v == obj || PyType_Check(v)) {
                    continue;
                }
                PyObject *f = find_in(v, globals, name, depth + 1, fallback);
                if (f != NULL || PyErr_Occurred()) {
                    return f;
                }
            }
        }
    }
    static const char *const links[] = {
        "__wrapped__", "__func__", "fget", "func", NULL,
    };
    for (int i = 0; links[i] != NULL; i++) {
        if (PyType_Check(obj) || PyModule_Check(obj)) {
            break;
        }
        PyObject *v = NULL;
        if (PyObject_GetOptionalAttrString(obj, links[i], &v) < 0) {
            /* a wrapper whose attribute access fails is not ours */
            if (hs_err_clear_unless_fatal() < 0) {
                return NULL;
            }
            continue;
        }
        if (v == NULL) {
            continue;
        }
        PyObject *f = NULL;
        if (v != obj) {
            f = find_in(v, globals, name, depth + 1, fallback);
        }
        Py_DECREF(v);
        if (f != NULL || PyErr_Occurred()) {
            return f;
        }
    }
    return NULL;
}

PyObject *
hs_func_find(PyObject *obj, PyObject *globals, PyObject *name)
{
    PyObject *fallback = NULL;
    PyObject *f = find_in(obj, globals, name, 0, &fallback);
    if (f == NULL && !PyErr_Occurred()) {
        return fallback;
    }
    Py_XDECREF(fallback);
    return f;
}

/* ------------------------------------------------------------------ */
/* functions held inside an object                                     */

/* Bounds of the search: wrappers nest a few levels (a decorator object ->
 * its __dict__ -> a partial -> the function); anything deeper or wider is
 * application data, not a wrapper. */
#define HELD_MAX_DEPTH 4
#define HELD_MAX_NODES 512  /* objects looked into */
#define HELD_MAX_QUEUE 2048 /* objects looked at */
#define HELD_MAX_ITEMS 64

typedef struct {
    PyObject **v; /* borrowed while the traversal runs */
    Py_ssize_t n;
    Py_ssize_t cap;
    PyObject *globals; /* borrowed: never looked into */
} PtrVec;

static int
held_push(PyObject *o, void *arg)
{
    PtrVec *pv = arg;
    /* objects the collector does not track hold no functions */
    if (o == NULL || o == pv->globals || !PyObject_IS_GC(o)) {
        return 0;
    }
    if (pv->n >= HELD_MAX_QUEUE) {
        return 1; /* a large container: stop here */
    }
    if (pv->n == pv->cap) {
        Py_ssize_t cap = pv->cap ? pv->cap * 2 : 16;
        PyObject **v = PyMem_Realloc(pv->v, cap * sizeof(PyObject *));
        if (v == NULL) {
            return -1;
        }
        pv->v = v;
        pv->cap = cap;
    }
    pv->v[pv->n++] = o;
    return 0;
}

/* Not worth looking into: 1.  (-1 on error.) */
static int
held_skip(PyObject *o, PyObject *builtins, PyObject *builtins_key)
{
    if (PyType_Check(o) || PyModule_Check(o) || PyCode_Check(o)
        || o == builtins)
    {
        return 1;
    }
    if (PyDict_Check(o)) {
        if (PyDict_GET_SIZE(o) > HELD_MAX_ITEMS) {
            return 1;
        }
        /* a module's globals */
        int r = PyDict_Contains(o, builtins_key);
        return r;
    }
    if (PyList_Check(o)) {
        return PyList_GET_SIZE(o) > HELD_MAX_ITEMS;
    }
    if (PyTuple_Check(o)) {
        return PyTuple_GET_SIZE(o) > HELD_MAX_ITEMS;
    }
    if (PyAnySet_Check(o)) {
        return PySet_GET_SIZE(o) > HELD_MAX_ITEMS;
    }
    return 0;
}

/* Whether `co` was compiled inside a function (a closure, made by the
 * outer function's code): CO_NESTED, and a qualified name through
 * `<locals>`.  3.12+ sets CO_NESTED also for what an annotation scope holds
 * (`def f[T]()`, the methods of `class C[T]`), which a statement of the
 * module makes like any def: their qualified names have no `<locals>`.
 * Before 3.11 there is no co_qualname, and no annotation scope either.
 * 1 in a function, 0 not, -1 error. */
static int
code_in_function(PyObject *co)
{
    if (!(hs_code_flags(co) & CO_NESTED)) {
        return 0;
    }
    PyObject *qual = NULL;
    if (PyObject_GetOptionalAttrString(co, "co_qualname", &qual) < 0) {
        return -1;
    }
    if (qual == NULL || !PyUnicode_Check(qual)) {
        Py_XDECREF(qual);
        return 1;
    }
    const char *s = PyUnicode_AsUTF8(qual);
    int r = s == NULL ? -1 : strstr(s, "<locals>") != NULL;
    Py_DECREF(qual);
    return r;
}

static int
held_match(PyObject *f, const HsHeldQuery *q)
{
    if (!PyFunction_Check(f) || PyFunction_GET_GLOBALS(f) != q->globals) {
        return 0;
    }
    PyObject *co = PyFunction_GET_CODE(f);
    int nested = code_in_function(co);
    if (nested != 0) {
        return nested < 0 ? -1 : 0;
    }
    int line = hs_code_firstlineno(co);
    if (q->first > 0 && (line < q->first || line > q->last)) {
        return 0;
    }
    static const char *const attrs[] = {"co_name", "co_filename"};
    PyObject *want[] = {q->name, q->filename};
    for (int i = 0; i < 2; i++) {
        if (want[i] == NULL) {
            continue;
        }
        PyObject *v = PyObject_GetAttrString(co, attrs[i]);
        if (v == NULL) {
            return -1;
        }
        int eq = PyUnicode_Check(v) && PyUnicode_Compare(v, want[i]) == 0;
        Py_DECREF(v);
        if (PyErr_Occurred()) {
            return -1;
        }
        if (!eq) {
            return 0;
        }
    }
    return 1;
}

/* The search's queue, which is also the set of objects seen (they are
 * few: a linear scan is cheaper than hashing them). */
typedef struct {
    PyObject *obj; /* strong */
    int depth;
} HeldNode;

static int
held_seen(const HeldNode *nodes, Py_ssize_t n, PyObject *o)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        if (nodes[i].obj == o) {
            return 1;
        }
    }
    return 0;
}

PyObject *
hs_func_held(PyObject *obj, const HsHeldQuery *q)
{
    static PyObject *builtins_key = NULL;      /* interned, kept for good */
    PyObject *builtins = PyEval_GetBuiltins(); /* borrowed */
    PyObject *found = NULL;
    HeldNode *nodes = NULL;
    Py_ssize_t n = 0, cap = 0;
    PtrVec pv = {NULL, 0, 0, q->globals};

    if (builtins_key == NULL
        && (builtins_key = PyUnicode_InternFromString("__builtins__")) == NULL)
    {
        return NULL;
    }
    found = PyList_New(0);
    if (found == NULL || PyType_Check(obj) || PyModule_Check(obj)) {
        return found;
    }
    cap = 16;
    nodes = PyMem_Malloc(cap * sizeof(HeldNode));
    if (nodes == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    nodes[n++] = (HeldNode){Py_NewRef(obj), 0};
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = nodes[i].obj;
        int m = held_match(o, q);
        if (m < 0 || (m && PyList_Append(found, o) < 0)) {
            goto error;
        }
        if (q->max_found > 0 && PyList_GET_SIZE(found) >= q->max_found) {
            break;
        }
        if (nodes[i].depth >= HELD_MAX_DEPTH || i >= HELD_MAX_NODES) {
            continue;
        }
        pv.n = 0;
        if (hs_object_traverse(o, held_push, &pv) < 0) {
            PyErr_NoMemory();
            goto error;
        }
        /* own every referent before anything can run Python code */
        for (Py_ssize_t k = 0; k < pv.n; k++) {
            Py_INCREF(pv.v[k]);
        }
        int err = 0;
        for (Py_ssize_t k = 0; k < pv.n; k++) {
            PyObject *r = pv.v[k];
            int skip = err || n >= HELD_MAX_QUEUE
                           ? 1
                           : held_skip(r, builtins, builtins_key);
            if (skip < 0) {
                err = 1;
            }
            else if (!skip && !held_seen(nodes, n, r)) {
                if (n == cap) {
                    HeldNode *nn =
                        PyMem_Realloc(nodes, 2 * cap * sizeof(HeldNode));
                    if (nn == NULL) {
                        PyErr_NoMemory();
                        err = 1;
                        Py_DECREF(r);
                        continue;
                    }
                    nodes = nn;
                    cap *= 2;
                }
                nodes[n++] = (HeldNode){r, nodes[i].depth + 1};
                continue; /* the queue owns r now */
            }
            Py_DECREF(r);
        }
        if (err) {
            goto error;
        }
    }
done:
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_DECREF(nodes[i].obj);
    }
    PyMem_Free(nodes);
    PyMem_Free(pv.v);
    return found;
error:
    Py_CLEAR(found);
    goto done;
}

static int follow_aliases(HsTxn *txn, PyObject *old_code, PyObject *new_code,
                          PyObject *new_func);

/* hs_func_patch leaves a function's code alone when it equals the new one
 * (HS_PATCH_NOOP: on 3.13+ a swap costs the call specialisation).  The
 * alias registry follows code *identity* (a later edit patches the
 * functions whose code is the one replaced), so a function that must keep
 * following `fn` (held under the old decorators after HS102) takes `nc`,
 * fn's very code object, when its own is equal but another object; and
 * whatever followed its old code follows along.  So the chain stays whole
 * however many decorator edits with an unchanged body come in a row.
 * Return 0, or -1 with an exception set. */
static int
adopt_equal_code(HsTxn *txn, PyObject *f, PyObject *nc, PyObject *fn)
{
    PyObject *oc = PyFunction_GET_CODE(f); /* borrowed */
    if (oc == nc) {
        return 0;
    }
    int same = hs_code_equal(oc, nc, 1);
    if (same <= 0) {
        return same;
    }
    Py_INCREF(oc);
    int r = -1;
    if (hs_txn_save_function(txn, f) == 0
        && PyObject_SetAttrString(f, "__code__", nc) == 0
        && follow_aliases(txn, oc, nc, fn) == 0)
    {
        r = 0;
    }
    Py_DECREF(oc);
    return r;
}

int
hs_func_follow_replacement(HsTxn *txn, PyObject *old, PyObject *fo,
                           PyObject *fn)
{
    if (fo == fn) {
        return hs_func_clear_cache(old);
    }
    PyObject *nc = PyFunction_GET_CODE(fn); /* borrowed */
    if (adopt_equal_code(txn, fo, nc, fn) < 0) {
        return -1;
    }
    if (hs_func_alias(txn, fo, nc, old) < 0) {
        return -1;
    }
    return hs_func_clear_cache(old);
}

static int clear_one_cache(PyObject *obj);

int
hs_func_clear_cache(PyObject *obj)
{
    /* the wrapper itself, and those it wraps (classmethod(lru_cache(f))) */
    PyObject *cur = Py_NewRef(obj);
    for (int depth = 0; cur != NULL && depth < 8; depth++) {
        if (PyFunction_Check(cur) || PyType_Check(cur)) {
            break;
        }
        if (clear_one_cache(cur) < 0) {
            Py_DECREF(cur);
            return -1;
        }
        PyObject *next = NULL;
        if (PyObject_GetOptionalAttrString(cur, "__func__", &next) < 0
            || (next == NULL
                && PyObject_GetOptionalAttrString(cur, "__wrapped__", &next)
                       < 0))
        {
            /* a wrapper whose attribute access fails: the chain ends */
            Py_DECREF(cur);
            return hs_err_clear_unless_fatal();
        }
        Py_DECREF(cur);
        cur = next;
    }
    Py_XDECREF(cur);
    return 0;
}

static int
clear_one_cache(PyObject *obj)
{
    PyObject *clear = NULL;
    if (PyObject_GetOptionalAttrString(obj, "cache_clear", &clear) < 0) {
        /* a wrapper whose attribute access fails: no cache of ours */
        return hs_err_clear_unless_fatal();
    }
    if (clear == NULL) {
        return 0;
    }
    PyObject *r = PyCallable_Check(clear) ? PyObject_CallNoArgs(clear)
                                          : Py_NewRef(Py_None);
    Py_DECREF(clear);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

PyObject *
hs_func_find_def(PyObject *obj, PyObject *globals, PyObject *filename,
                 PyObject *name, int line)
{
    HsHeldQuery q = {globals, name, filename, line, line, 1};
    PyObject *found = hs_func_held(obj, &q);
    if (found == NULL) {
        return NULL;
    }
    PyObject *f = PyList_GET_SIZE(found) > 0
                      ? Py_NewRef(PyList_GET_ITEM(found, 0))
                      : hs_func_find(obj, globals, name);
    Py_DECREF(found);
    return f;
}

/* A function the statement at [first, last] made, inside `obj`: one whose
 * code starts in those lines (a lambda, a def inside a compound
 * statement), or else one named `name` (a def run by a statement whose
 * lines are unknown).  A function defined elsewhere that the statement
 * only names (`f = foo`, `partial(foo, 1)`, a class-level `handler = a`)
 * is not the statement's: the name is rebound, the function keeps its
 * code.  New reference, or NULL (with an exception on error). */
PyObject *
hs_func_find_made(PyObject *obj, PyObject *globals, PyObject *filename,
                  PyObject *name, int first, int last)
{
    if (first > 0) {
        /* 3.14+: a def's __annotate__ function starts on the def's line
         * too, and functools.wraps copies it onto the wrapper
         * (contextmanager's helper): it is the def's, not a definition of
         * the statement, so it is passed over */
        HsHeldQuery q = {globals, NULL, filename,
                         first,   last, HS_HAVE_ANNOTATE ? 0 : 1};
        PyObject *found = hs_func_held(obj, &q);
        if (found == NULL) {
            return NULL;
        }
        PyObject *f = NULL;
        for (Py_ssize_t i = 0; f == NULL && i < PyList_GET_SIZE(found); i++) {
            PyObject *g = PyList_GET_ITEM(found, i);
            int ann = is_annotate_function(g);
            if (ann < 0) {
                Py_DECREF(found);
                return NULL;
            }
            if (!ann) {
                f = Py_NewRef(g);
            }
        }
        Py_DECREF(found);
        if (f != NULL) {
            return f;
        }
    }
    if (name == NULL) {
        return NULL;
    }
    PyObject *f = hs_func_find(obj, globals, name);
    if (f == NULL) {
        return NULL;
    }
    int r = code_name_is(f, name);
    if (r <= 0) {
        Py_CLEAR(f);
    }
    return f;
}

/* ------------------------------------------------------------------ */
/* patching                                                            */

static PyObject *
freevars_of(PyObject *code)
{
    return PyObject_GetAttrString(code, "co_freevars");
}

static Py_ssize_t
index_of(PyObject *names, PyObject *name)
{
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(names); i++) {
        if (PyUnicode_Compare(PyTuple_GET_ITEM(names, i), name) == 0) {
            return i;
        }
    }
    return -1;
}

/* Cells a closure lost when it took code that no longer used them: a dict
 * id(function) -> (weakref to the function, {free-variable name: cell}).
 * A closure made by `make()` while its inner function used `extra` owns
 * an `extra` cell; an edit that stops using it swaps in a shorter closure,
 * and a later edit that uses it again must find the closure's own cell
 * (as the closure a fresh `make()` returns has one), not report HS104.
 * Kept across batches like the closures; every write goes through the batch's
 * undo log; an entry whose function died is ignored (its id may be
 * reused: the weak reference tells) and pruned at the next write.  Owned
 * by the module state (HsState.records.spare_cells, state.h), reached
 * through the undo log (txn->records). */

/* The cell `name` that `func` lost earlier, borrowed, or NULL (with an
 * exception on an error). */
static PyObject *
spare_cell(HsTxn *txn, PyObject *func, PyObject *name)
{
    if (txn->records->spare_cells == NULL) {
        return NULL;
    }
    PyObject *key = PyLong_FromVoidPtr(func);
    if (key == NULL) {
        return NULL;
    }
    PyObject *entry = PyDict_GetItemWithError(txn->records->spare_cells, key);
    Py_DECREF(key);
    if (entry == NULL) {
        return NULL;
    }
    PyObject *f = NULL;
    if (PyWeakref_GetRef(PyTuple_GET_ITEM(entry, 0), &f) <= 0) {
        return NULL; /* dead: no error */
    }
    Py_DECREF(f); /* only compared */
    if (f != func) {
        return NULL;
    }
    return PyDict_GetItemWithError(PyTuple_GET_ITEM(entry, 1), name);
}

/* Remember the cells of `func`'s closure that `new_code` does not use.
 * 0 / -1. */
static int
keep_spare_cells(HsTxn *txn, PyObject *func, PyObject *new_code)
{
    PyObject *cells = PyFunction_GET_CLOSURE(func); /* borrowed */
    PyObject *old_names = NULL, *new_names = NULL, *spare = NULL;
    PyObject *key = NULL, *ref = NULL, *entry = NULL, *items = NULL;
    int r = -1;
    if (cells == NULL || PyTuple_GET_SIZE(cells) == 0) {
        return 0;
    }
    old_names = freevars_of(PyFunction_GET_CODE(func));
    new_names = old_names ? freevars_of(new_code) : NULL;
    if (new_names == NULL) {
        goto done;
    }
    spare = PyDict_New();
    if (spare == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0;
         i < PyTuple_GET_SIZE(old_names) && i < PyTuple_GET_SIZE(cells); i++)
    {
        PyObject *name = PyTuple_GET_ITEM(old_names, i);
        if (index_of(new_names, name) < 0
            && PyDict_SetItem(spare, name, PyTuple_GET_ITEM(cells, i)) < 0)
        {
            goto done;
        }
    }
    if (PyDict_GET_SIZE(spare) == 0) {
        r = 0;
        goto done;
    }
    if (txn->records->spare_cells == NULL
        && (txn->records->spare_cells = PyDict_New()) == NULL)
    {
        goto done;
    }
    /* prune the entries of dead functions */
    items = PyDict_Items(txn->records->spare_cells);
    if (items == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *it = PyList_GET_ITEM(items, i);
        PyObject *f = NULL;
        int alive =
            PyWeakref_GetRef(PyTuple_GET_ITEM(PyTuple_GET_ITEM(it, 1), 0), &f);
        if (alive < 0) {
            goto done;
        }
        Py_XDECREF(f);
        if (!alive
            && hs_txn_dict_set(txn, txn->records->spare_cells,
                               PyTuple_GET_ITEM(it, 0), NULL)
                   < 0)
        {
            goto done;
        }
    }
    key = PyLong_FromVoidPtr(func);
    if (key == NULL) {
        goto done;
    }
    /* cells lost before and not used now stay spare */
    PyObject *cur =
        PyDict_GetItemWithError(txn->records->spare_cells, key); /* borrowed */
    if (cur == NULL && PyErr_Occurred()) {
        goto done;
    }
    if (cur != NULL) {
        PyObject *f = NULL;
        int alive = PyWeakref_GetRef(PyTuple_GET_ITEM(cur, 0), &f);
        if (alive < 0) {
            goto done;
        }
        Py_XDECREF(f);
        if (alive && f == func) {
            PyObject *k, *v;
            Py_ssize_t pos = 0;
            while (PyDict_Next(PyTuple_GET_ITEM(cur, 1), &pos, &k, &v)) {
                if (index_of(new_names, k) < 0
                    && PyDict_SetDefault(spare, k, v) == NULL)
                {
                    goto done;
                }
            }
        }
    }
    ref = PyWeakref_NewRef(func, NULL);
    entry = ref ? PyTuple_Pack(2, ref, spare) : NULL;
    if (entry == NULL) {
        goto done;
    }
    r = hs_txn_dict_set(txn, txn->records->spare_cells, key, entry);
done:
    Py_XDECREF(old_names);
    Py_XDECREF(new_names);
    Py_XDECREF(spare);
    Py_XDECREF(key);
    Py_XDECREF(ref);
    Py_XDECREF(entry);
    Py_XDECREF(items);
    return r;
}

/* The closure `old` needs to run new_code: its own cells by name, then
 * the cells it lost earlier (spare_cells), then new_func's.  *missing is set
 * when a name is found in neither.  New reference (Py_None for no free
 * variables) or NULL on error. */
static PyObject *
closure_for(HsTxn *txn, PyObject *old, PyObject *new_code, PyObject *new_func,
            int *missing)
{
    PyObject *new_names = NULL, *old_names = NULL, *fn_names = NULL;
    PyObject *result = NULL;
    *missing = 0;
    new_names = freevars_of(new_code);
    old_names = freevars_of(PyFunction_GET_CODE(old));
    if (new_names == NULL || old_names == NULL) {
        goto done;
    }
    if (new_func != NULL) {
        fn_names = freevars_of(PyFunction_GET_CODE(new_func));
        if (fn_names == NULL) {
            goto done;
        }
    }
    Py_ssize_t n = PyTuple_GET_SIZE(new_names);
    if (n == 0) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    result = PyTuple_New(n);
    if (result == NULL) {
        goto done;
    }
    PyObject *old_cells = PyFunction_GET_CLOSURE(old);
    PyObject *new_cells = new_func ? PyFunction_GET_CLOSURE(new_func) : NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *name = PyTuple_GET_ITEM(new_names, i);
        PyObject *cell = NULL;
        Py_ssize_t j = index_of(old_names, name);
        if (j >= 0 && old_cells != NULL) {
            cell = PyTuple_GET_ITEM(old_cells, j);
        }
        else if ((cell = spare_cell(txn, old, name)) != NULL) {
            /* its own cell, from before an edit stopped using it */
        }
        else if (PyErr_Occurred()) {
            Py_CLEAR(result);
            goto done;
        }
        else if (fn_names != NULL && new_cells != NULL) {
            j = index_of(fn_names, name);
            if (j >= 0) {
                cell = PyTuple_GET_ITEM(new_cells, j);
            }
        }
        if (cell == NULL) {
            *missing = 1;
            Py_CLEAR(result);
            goto done;
        }
        PyTuple_SET_ITEM(result, i, Py_NewRef(cell));
    }
done:
    Py_XDECREF(new_names);
    Py_XDECREF(old_names);
    Py_XDECREF(fn_names);
    return result;
}

static int
same_closure(PyObject *func, PyObject *closure)
{
    PyObject *cur = PyFunction_GET_CLOSURE(func);
    if (closure == Py_None) {
        return cur == NULL;
    }
    if (cur == NULL || PyTuple_GET_SIZE(cur) != PyTuple_GET_SIZE(closure)) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(cur); i++) {
        if (PyTuple_GET_ITEM(cur, i) != PyTuple_GET_ITEM(closure, i)) {
            return 0;
        }
    }
    return 1;
}

/* 1 when the attribute differs between the two functions. */
static int
attr_differs(PyObject *a, PyObject *b, const char *name, PyObject **bval)
{
    PyObject *x = NULL;
    *bval = NULL;
    if (PyObject_GetOptionalAttrString(a, name, &x) < 0
        || PyObject_GetOptionalAttrString(b, name, bval) < 0)
    {
        Py_XDECREF(x);
        return -1;
    }
    int r;
    if (x == NULL || *bval == NULL) {
        r = x != *bval;
    }
    else if (x == *bval) {
        r = 0;
    }
    else {
        r = PyObject_RichCompareBool(x, *bval, Py_EQ);
        if (r >= 0) {
            r = !r;
        }
        else {
            /* incomparable values (e.g. arrays): treat as changed */
            r = hs_err_clear_unless_fatal() < 0 ? -1 : 1;
        }
    }
    Py_XDECREF(x);
    if (r <= 0) {
        Py_CLEAR(*bval);
    }
    return r;
}

#if HS_HAVE_ANNOTATE
/* 3.14+ (PEP 649): take `nf`'s __annotate__ function, so that annotations
 * follow the source without being evaluated (reading __annotations__ would
 * call __annotate__ and could raise NameError on a forward reference that
 * a fresh import never evaluates).  The old function's computed
 * annotations are dropped by the setter and computed again on demand.
 * A new function without __annotate__ has eager annotations (from
 * __future__ import annotations) or none: they are copied as they are.
 * *changed is set when the annotations' code changed, not when only its
 * line numbers did. */
static int
patch_annotate(HsTxn *txn, PyObject *of, PyObject *nf, int *changed,
               int *saved)
{
    PyObject *oa = NULL, *na = NULL;
    int result = -1, differs = 0, moved = 0;
    if (PyObject_GetOptionalAttrString(of, "__annotate__", &oa) < 0
        || PyObject_GetOptionalAttrString(nf, "__annotate__", &na) < 0)
    {
        goto done;
    }
    int o_fn = oa != NULL && PyFunction_Check(oa);
    int n_fn = na != NULL && PyFunction_Check(na);
    if (o_fn && n_fn) {
        int same =
            hs_code_equal(PyFunction_GET_CODE(oa), PyFunction_GET_CODE(na), 1);
        if (same < 0) {
            goto done;
        }
        if (!same) {
            moved = hs_code_equal(PyFunction_GET_CODE(oa),
                                  PyFunction_GET_CODE(na), 0);
            if (moved < 0) {
                goto done;
            }
            differs = 1;
        }
    }
    else if (n_fn || o_fn) {
        differs = 1;
    }
    else {
        PyObject *a = hs_function_annotations_raw(of);
        PyObject *b = hs_function_annotations_raw(nf);
        if (a != b) {
            int eq = (a == NULL || b == NULL)
                         ? 0
                         : PyObject_RichCompareBool(a, b, Py_EQ);
            if (eq < 0 && hs_err_clear_unless_fatal() < 0) {
                goto done; /* else incomparable values: changed */
            }
            differs = eq != 1;
        }
    }
    if (!differs) {
        result = 0;
        goto done;
    }
    if (!*saved) {
        if (hs_txn_save_function(txn, of) < 0) {
            goto done;
        }
        *saved = 1;
    }
    if (n_fn) {
        result = PyObject_SetAttrString(of, "__annotate__", na);
    }
    else {
        PyObject *b = hs_function_annotations_raw(nf);
        result = PyFunction_SetAnnotations(of, b ? b : Py_None);
    }
    if (result == 0 && !moved) {
        *changed = 1;
    }
done:
    Py_XDECREF(oa);
    Py_XDECREF(na);
    return result;
}
#endif

/* Is `doc` the docstring that the code `old_code` gives a function made
 * from it (its own docstring, by the interpreter's own rule)?  A live
 * __doc__ other than that was set after the def ran (`f.__doc__ = ...`, a
 * class decorator rewriting docstrings): a fresh import runs that
 * statement again, so when the def's own docstring did not change the
 * live value is what a fresh import gives.  1 / 0 / -1. */
static int
own_doc_unchanged(PyObject *old_code, PyObject *globals, PyObject *doc)
{
    PyObject *tmp = PyFunction_New(old_code, globals);
    PyObject *od = NULL;
    if (tmp == NULL || PyObject_GetOptionalAttrString(tmp, "__doc__", &od) < 0)
    {
        Py_XDECREF(tmp);
        return -1;
    }
    Py_DECREF(tmp);
    if (od == NULL) {
        od = Py_NewRef(Py_None);
    }
    PyObject *nd = doc ? doc : Py_None;
    int r = od == nd ? 1 : PyObject_RichCompareBool(od, nd, Py_EQ);
    Py_DECREF(od);
    if (r < 0) {
        /* a doc whose __eq__ raises: changed */
        return hs_err_clear_unless_fatal();
    }
    return r;
}

/* Take defaults, kwdefaults, annotations, doc and type params from `nf`
 * where they differ (`old_code`: the code `of` ran before this patch).
 * *changed is set when something was written. */
static int
patch_metadata(HsTxn *txn, PyObject *of, PyObject *old_code, PyObject *nf,
               int *changed, int *saved)
{
    static const char *const names[] = {
        "__defaults__",
        "__kwdefaults__",
#if !HS_HAVE_ANNOTATE
        "__annotations__",
#endif
        "__doc__",
#if HS_HAVE_TYPE_PARAMS
        "__type_params__",
#endif
        NULL,
    };
#if HS_HAVE_ANNOTATE
    if (patch_annotate(txn, of, nf, changed, saved) < 0) {
        return -1;
    }
#endif
    for (int i = 0; names[i] != NULL; i++) {
        PyObject *v = NULL;
        int r = attr_differs(of, nf, names[i], &v);
        if (r < 0) {
            return -1;
        }
        if (r == 1 && strcmp(names[i], "__doc__") == 0) {
            r = own_doc_unchanged(old_code, PyFunction_GET_GLOBALS(of), v);
            if (r < 0) {
                Py_XDECREF(v);
                return -1;
            }
            r = !r;
            if (r == 0) {
                Py_XDECREF(v);
            }
        }
        if (r == 0) {
            continue;
        }
        if (!*saved) {
            if (hs_txn_save_function(txn, of) < 0) {
                Py_XDECREF(v);
                return -1;
            }
            *saved = 1;
        }
        r = PyObject_SetAttrString(of, names[i], v ? v : Py_None);
        Py_XDECREF(v);
        if (r < 0) {
            return -1;
        }
        *changed = 1;
    }
    return 0;
}

/* Functions that follow a code object (hs_func_alias): a dict
 * id(code) -> (code, [(weakref to function, weakref to wrapper), ...]).
 * Kept across batches, like the functions; it only holds entries made
 * by HS102 replacements.  Every write goes through the batch's undo log
 * (an entry is replaced, never mutated), so a failed batch leaves it as it
 * was: the functions it rolls back to their old code keep following.
 * Owned by the module state (HsState.records.aliases). */

int
hs_func_alias(HsTxn *txn, PyObject *func, PyObject *code, PyObject *wrapper)
{
    if (txn->records->aliases == NULL
        && (txn->records->aliases = PyDict_New()) == NULL)
    {
        return -1;
    }
    PyObject *key = PyLong_FromVoidPtr(code);
    if (key == NULL) {
        return -1;
    }
    PyObject *list = NULL, *ref = NULL, *wref = NULL, *item = NULL;
    PyObject *entry = NULL;
    int r = -1;
    PyObject *cur =
        PyDict_GetItemWithError(txn->records->aliases, key); /* borrowed */
    if (cur == NULL && PyErr_Occurred()) {
        goto done;
    }
    list = cur != NULL ? PySequence_List(PyTuple_GET_ITEM(cur, 1))
                       : PyList_New(0);
    ref = list ? PyWeakref_NewRef(func, NULL) : NULL;
    if (ref == NULL) {
        goto done;
    }
    if (wrapper != NULL && wrapper != func) {
        wref = PyWeakref_NewRef(wrapper, NULL);
        if (wref == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_TypeError)) {
                goto done;
            }
            PyErr_Clear(); /* not weakly referenceable: no cache to clear */
        }
    }
    item = PyTuple_Pack(2, ref, wref ? wref : Py_None);
    if (item == NULL || PyList_Append(list, item) < 0) {
        goto done;
    }
    entry = PyTuple_Pack(2, code, list);
    if (entry == NULL) {
        goto done;
    }
    r = hs_txn_dict_set(txn, txn->records->aliases, key, entry);
done:
    Py_DECREF(key);
    Py_XDECREF(list);
    Py_XDECREF(ref);
    Py_XDECREF(wref);
    Py_XDECREF(item);
    Py_XDECREF(entry);
    return r;
}

/* After `old_code` was replaced by `new_code` in one function, do the same
 * in the functions that follow it, and make them follow `new_code`. */
static int
follow_aliases(HsTxn *txn, PyObject *old_code, PyObject *new_code,
               PyObject *new_func)
{
    if (txn->records->aliases == NULL
        || PyDict_GET_SIZE(txn->records->aliases) == 0)
    {
        return 0;
    }
    PyObject *key = PyLong_FromVoidPtr(old_code);
    if (key == NULL) {
        return -1;
    }
    PyObject *entry = PyDict_GetItemWithError(txn->records->aliases, key);
    if (entry == NULL) {
        Py_DECREF(key);
        return PyErr_Occurred() ? -1 : 0;
    }
    Py_INCREF(entry);
    int r = hs_txn_dict_set(txn, txn->records->aliases, key, NULL);
    Py_DECREF(key);
    PyObject *list = PyTuple_GET_ITEM(entry, 1);
    for (Py_ssize_t i = 0; r == 0 && i < PyList_GET_SIZE(list); i++) {
        PyObject *f = NULL, *w = NULL;
        PyObject *item = PyList_GET_ITEM(list, i);
        int alive = PyWeakref_GetRef(PyTuple_GET_ITEM(item, 0), &f);
        if (alive < 0) {
            r = -1;
            break;
        }
        if (!alive || !PyFunction_Check(f)
            || PyFunction_GET_CODE(f) != old_code)
        {
            Py_XDECREF(f);
            continue;
        }
        if (PyTuple_GET_ITEM(item, 1) != Py_None
            && PyWeakref_GetRef(PyTuple_GET_ITEM(item, 1), &w) < 0)
        {
            Py_DECREF(f);
            r = -1;
            break;
        }
        int p = hs_func_patch(txn, f, new_code, new_func, NULL);
        if (p == HS_PATCH_NOOP) {
            p = adopt_equal_code(txn, f, new_code, new_func);
        }
        if (p >= 0 && p != HS_PATCH_KIND && p != HS_PATCH_FREEVARS) {
            p = hs_func_alias(txn, f, new_code, w);
            if (p == 0 && w != NULL) {
                p = hs_func_clear_cache(w);
            }
        }
        Py_DECREF(f);
        Py_XDECREF(w);
        if (p < 0) {
            r = -1;
        }
    }
    Py_DECREF(entry);
    return r;
}

int
hs_func_patch(HsTxn *txn, PyObject *old, PyObject *new_code,
              PyObject *new_func, PyObject *nested)
{
    PyObject *old_code = PyFunction_GET_CODE(old);
    if ((hs_code_flags(old_code) ^ hs_code_flags(new_code)) & HS_CO_GENLIKE) {
        return HS_PATCH_KIND;
    }
    int same = hs_code_equal(old_code, new_code, 1);
    if (same < 0) {
        return -1;
    }
    int moved = 0;
    if (!same) {
        moved = hs_code_equal(old_code, new_code, 0);
        if (moved < 0) {
            return -1;
        }
    }
    int saved = 0, changed = 0;
    if (!same) {
        int missing;
        PyObject *closure =
            closure_for(txn, old, new_code, new_func, &missing);
        if (closure == NULL) {
            return missing ? HS_PATCH_FREEVARS : -1;
        }
        if (nested != NULL
            && hs_code_pair_nested(old_code, new_code, nested) < 0)
        {
            Py_DECREF(closure);
            return -1;
        }
        if (hs_txn_save_function(txn, old) < 0) {
            Py_DECREF(closure);
            return -1;
        }
        saved = 1;
        if (keep_spare_cells(txn, old, new_code) < 0) {
            Py_DECREF(closure);
            return -1;
        }
        int r;
        if (same_closure(old, closure)) {
            r = PyObject_SetAttrString(old, "__code__", new_code);
        }
        else {
            r = hs_func_set_closure_and_code(old, closure, new_code);
        }
        Py_DECREF(closure);
        if (r < 0 || follow_aliases(txn, old_code, new_code, new_func) < 0) {
            return -1;
        }
        changed = 1;
    }
    int meta = 0;
    if (new_func != NULL
        && patch_metadata(txn, old, old_code, new_func, &meta, &saved) < 0)
    {
        return -1;
    }
    if (!changed && !meta) {
        return HS_PATCH_NOOP;
    }
    hs_function_reversion(old);
    return (moved && !meta) ? HS_PATCH_MOVED : HS_PATCH_UPDATED;
}

/* ------------------------------------------------------------------ */
/* nested code objects and the closures made from them                 */

static int has_live_instances(PyObject *code);
static int add_pair(PyObject *nested, PyObject *a, PyObject *b);
static int follow_aliases(HsTxn *txn, PyObject *old_code, PyObject *new_code,
                          PyObject *new_func);

/* `shifted` is `old`'s code with other line numbers (hs_code_shift):
 * same structure, so the nested code objects pair up by position. */
static int
pair_shifted(PyObject *old, PyObject *shifted, PyObject *nested)
{
    PyObject *oc = PyObject_GetAttrString(old, "co_consts");
    PyObject *nc = oc ? PyObject_GetAttrString(shifted, "co_consts") : NULL;
    int r = nc ? 0 : -1;
    for (Py_ssize_t i = 0; r == 0 && i < PyTuple_GET_SIZE(oc); i++) {
        PyObject *a = PyTuple_GET_ITEM(oc, i);
        if (!PyCode_Check(a)) {
            continue;
        }
        PyObject *b = PyTuple_GET_ITEM(nc, i);
        int live = has_live_instances(a);
        if (live != 0) {
            r = live < 0 ? -1 : add_pair(nested, a, b);
        }
        if (r == 0) {
            r = pair_shifted(a, b, nested);
        }
    }
    Py_XDECREF(oc);
    Py_XDECREF(nc);
    return r;
}

int
hs_func_move(HsTxn *txn, PyObject *func, PyObject *shifted, PyObject *nested)
{
    PyObject *old = PyFunction_GET_CODE(func);
    if (nested != NULL && pair_shifted(old, shifted, nested) < 0) {
        return -1;
    }
    if (hs_txn_save_function(txn, func) < 0
        || PyObject_SetAttrString(func, "__code__", shifted) < 0)
    {
        return -1;
    }
    hs_function_reversion(func);
    return follow_aliases(txn, old, shifted, NULL);
}

int
hs_func_shift_held(HsTxn *txn, PyObject *obj, const HsHeldQuery *q, int delta,
                   PyObject *nested)
{
    PyObject *funcs = hs_func_held(obj, q);
    if (funcs == NULL) {
        return -1;
    }
    int r = 0;
    for (Py_ssize_t i = 0; r == 0 && i < PyList_GET_SIZE(funcs); i++) {
        PyObject *f = PyList_GET_ITEM(funcs, i);
        if (hs_txn_function_saved(txn, f)) {
            continue; /* moved or patched already: its lines are new */
        }
        PyObject *code = hs_code_shift(PyFunction_GET_CODE(f), delta);
        r = code ? hs_func_move(txn, f, code, nested) : -1;
        Py_XDECREF(code);
    }
    Py_DECREF(funcs);
    return r;
}

/* A class body compiled inside a function (no CO_NESTED flag: its
 * qualified name goes through `<locals>`).  1 / 0 / -1. */
static int
class_body_in_function(PyObject *code)
{
    PyObject *qual = PyObject_GetAttrString(code, "co_qualname");
    const char *s =
        qual && PyUnicode_Check(qual) ? PyUnicode_AsUTF8(qual) : NULL;
    int r = s != NULL ? strstr(s, "<locals>") != NULL : -1;
    Py_XDECREF(qual);
    return r; /* a code object's name: an error is a MemoryError */
}

static int
has_live_instances(PyObject *code)
{
    /* comprehensions and generator expressions never outlive the call
     * that made them; class bodies are not functions, but 3.13+ the
     * classes a function made keep the body's first line
     * (__firstlineno__): hs_func_patch_live moves it */
    if (!(hs_code_flags(code) & CO_OPTIMIZED)) {
        return HS_HAVE_CLASS_FIRSTLINENO ? class_body_in_function(code) : 0;
    }
    PyObject *name = PyObject_GetAttrString(code, "co_name");
    const char *s = name ? PyUnicode_AsUTF8(name) : NULL;
    int r = s == NULL
                ? -1 /* a code object's name: a MemoryError */
                : !(strcmp(s, "<listcomp>") == 0 || strcmp(s, "<setcomp>") == 0
                    || strcmp(s, "<dictcomp>") == 0
                    || strcmp(s, "<genexpr>") == 0);
    Py_XDECREF(name);
    return r;
}

static int
add_pair(PyObject *nested, PyObject *a, PyObject *b)
{
    PyObject *key = PyLong_FromVoidPtr(a);
    PyObject *val = PyTuple_Pack(2, a, b);
    int r = -1;
    if (key != NULL && val != NULL) {
        r = PyDict_SetItem(nested, key, val);
    }
    Py_XDECREF(key);
    Py_XDECREF(val);
    return r;
}

int
hs_code_pair_nested(PyObject *old_code, PyObject *new_code, PyObject *nested)
{
    PyObject *oc = PyObject_GetAttrString(old_code, "co_consts");
    PyObject *nc = oc ? PyObject_GetAttrString(new_code, "co_consts") : NULL;
    int result = -1;
    if (nc == NULL) {
        goto done;
    }
    Py_ssize_t no = PyTuple_GET_SIZE(oc), nn = PyTuple_GET_SIZE(nc);
    char *used = PyMem_Calloc(nn ? nn : 1, 1);
    if (used == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    /* match by name, in order: the k-th nested "<lambda>" of the old code
     * pairs with the k-th of the new one */
    for (Py_ssize_t i = 0; i < no; i++) {
        PyObject *a = PyTuple_GET_ITEM(oc, i);
        if (!PyCode_Check(a)) {
            continue;
        }
        PyObject *an = PyObject_GetAttrString(a, "co_name");
        if (an == NULL) {
            PyMem_Free(used);
            goto done;
        }
        for (Py_ssize_t j = 0; j < nn; j++) {
            PyObject *b = PyTuple_GET_ITEM(nc, j);
            if (used[j] || !PyCode_Check(b)) {
                continue;
            }
            PyObject *bn = PyObject_GetAttrString(b, "co_name");
            if (bn == NULL) {
                Py_DECREF(an);
                PyMem_Free(used);
                goto done;
            }
            int match = PyUnicode_Compare(an, bn) == 0;
            Py_DECREF(bn);
            if (!match) {
                continue;
            }
            used[j] = 1;
            /* paired even when equal: the factory takes new code whose
             * inner code is another (equal) object, and the closures made
             * before must take that very object (hs_func_patch_live), or
             * the next edit, which pairs the new object, misses them */
            int same = hs_code_equal(a, b, 1);
            int live = same < 0 ? -1 : has_live_instances(a);
            if (live < 0 || (live && add_pair(nested, a, b) < 0)
                || hs_code_pair_nested(a, b, nested) < 0)
            {
                Py_DECREF(an);
                PyMem_Free(used);
                goto done;
            }
            break;
        }
        Py_DECREF(an);
    }
    PyMem_Free(used);
    result = 0;
done:
    Py_XDECREF(oc);
    Py_XDECREF(nc);
    return result;
}

/* Closures left on superseded code (HS104): a dict id(code X) ->
 * (X, Y), where X is the code some live closures kept because the new code
 * needed a free variable they lack, and Y the code that superseded it (the
 * factory's current inner code).  Kept across batches, like the closures;
 * every write goes through the batch's undo log.  When a later batch replaces
 * Y by Z, X is paired with Z too: its closures take Z if their cells fit (the
 * free variable went away again), else they are reported again (HS104) and
 * X now waits for Z.  Without it, the second edit of a factory whose inner
 * function once gained a free variable left the older closures on old code
 * and said nothing.  An entry keeps X and Y alive (code objects only, one
 * per HS104 event); it goes away once X's closures took newer code.
 * Owned by the module state (HsState.records.left_behind). */

/* The pair of `nested` whose old code is `y`, or one equal to it but for
 * the lines (the factory was re-created since, unchanged or moved: its
 * inner code is another object with the same content).  Borrowed, or NULL
 * (-1 in *err on error). */
static PyObject *
successor_pair(PyObject *nested, PyObject *y, int *err)
{
    PyObject *ykey = PyLong_FromVoidPtr(y);
    if (ykey == NULL) {
        *err = -1;
        return NULL;
    }
    PyObject *pair = PyDict_GetItemWithError(nested, ykey);
    Py_DECREF(ykey);
    if (pair != NULL || PyErr_Occurred()) {
        *err = pair ? 0 : -1;
        return pair;
    }
    Py_ssize_t pos = 0;
    PyObject *key, *val;
    while (PyDict_Next(nested, &pos, &key, &val)) {
        int eq = hs_code_equal(PyTuple_GET_ITEM(val, 0), y, 0);
        if (eq != 0) {
            *err = eq < 0 ? -1 : 0;
            return eq < 0 ? NULL : val;
        }
    }
    *err = 0;
    return NULL;
}

/* Pair the codes left behind whose successor this batch replaces with
 * that replacement.  A successor only moved (same code, other lines)
 * becomes the new successor without pairing: the closures are not
 * reported again for a shift.  `renewed` receives the keys it paired.
 * 0 / -1. */
static int
pair_left_behind(HsTxn *txn, PyObject *nested, PyObject *renewed)
{
    if (txn->records->left_behind == NULL
        || PyDict_GET_SIZE(txn->records->left_behind) == 0)
    {
        return 0;
    }
    PyObject *items = PyDict_Items(txn->records->left_behind);
    if (items == NULL) {
        return -1;
    }
    int result = -1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *key = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 0);
        PyObject *entry = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 1);
        PyObject *x = PyTuple_GET_ITEM(entry, 0);
        int err = 0;
        PyObject *pair =
            successor_pair(nested, PyTuple_GET_ITEM(entry, 1), &err);
        if (err < 0) {
            goto done;
        }
        if (pair == NULL) {
            continue;
        }
        PyObject *z = PyTuple_GET_ITEM(pair, 1);
        int moved = hs_code_equal(PyTuple_GET_ITEM(pair, 0), z, 0);
        if (moved < 0) {
            goto done;
        }
        if (moved) {
            PyObject *e = PyTuple_Pack(2, x, z);
            int r = e ? hs_txn_dict_set(txn, txn->records->left_behind, key, e)
                      : -1;
            Py_XDECREF(e);
            if (r < 0) {
                goto done;
            }
            continue;
        }
        int in = PyDict_Contains(nested, key);
        if (in < 0
            || (in == 0
                && (add_pair(nested, x, z) < 0
                    || PyList_Append(renewed, key) < 0)))
        {
            goto done;
        }
    }
    result = 0;
done:
    Py_DECREF(items);
    return result;
}

/* Closures on `old_code` could not take `new_code`: remember it. */
static int
leave_behind(HsTxn *txn, PyObject *old_code, PyObject *new_code)
{
    if (txn->records->left_behind == NULL
        && (txn->records->left_behind = PyDict_New()) == NULL)
    {
        return -1;
    }
    PyObject *key = PyLong_FromVoidPtr(old_code);
    PyObject *entry = key ? PyTuple_Pack(2, old_code, new_code) : NULL;
    int r = entry ? hs_txn_dict_set(txn, txn->records->left_behind, key, entry)
                  : -1;
    Py_XDECREF(key);
    Py_XDECREF(entry);
    return r;
}

/* 3.13+: the class bodies among the pairs, nested in a function (classes
 * made by calling it: dateutil's `__deprecate_private_class`), as a dict
 * (qualified name, old first line) -> new first line.  New reference. */
static PyObject *
class_bodies_of(PyObject *nested)
{
    PyObject *out = PyDict_New();
    Py_ssize_t pos = 0;
    PyObject *k, *pair;
    while (HS_HAVE_CLASS_FIRSTLINENO && out != NULL
           && PyDict_Next(nested, &pos, &k, &pair))
    {
        PyObject *a = PyTuple_GET_ITEM(pair, 0),
                 *b = PyTuple_GET_ITEM(pair, 1);
        int la = hs_code_firstlineno(a), lb = hs_code_firstlineno(b);
        if ((hs_code_flags(a) & CO_OPTIMIZED) || la == lb) {
            continue;
        }
        PyObject *q = PyObject_GetAttrString(a, "co_qualname");
        PyObject *key = q ? Py_BuildValue("(Oi)", q, la) : NULL;
        PyObject *v = key ? PyLong_FromLong(lb) : NULL;
        if (v == NULL || PyDict_SetItem(out, key, v) < 0) {
            Py_CLEAR(out);
        }
        Py_XDECREF(q);
        Py_XDECREF(key);
        Py_XDECREF(v);
    }
    return out;
}

/* A class that one of `bodies` made (its __qualname__ and own
 * __firstlineno__ say so) takes the body's new first line, as the class a
 * fresh import makes has it.  0 / -1. */
static int
move_class_made_in_function(HsTxn *txn, PyObject *klass, PyObject *bodies)
{
    if (!PyType_HasFeature((PyTypeObject *)klass, Py_TPFLAGS_HEAPTYPE)) {
        return 0;
    }
    PyObject *d = PyObject_GenericGetDict(klass, NULL);
    PyObject *line =
        NULL; /* strong: __qualname__ may run a metaclass's code */
    if (d == NULL || PyDict_GetItemStringRef(d, "__firstlineno__", &line) < 0)
    {
        Py_XDECREF(d);
        return -1;
    }
    int r = 0;
    if (line != NULL && PyLong_CheckExact(line)) {
        PyObject *q = PyObject_GetAttrString(klass, "__qualname__");
        PyObject *key = q ? PyTuple_Pack(2, q, line) : NULL;
        PyObject *nv = key ? PyDict_GetItemWithError(bodies, key) : NULL;
        if (nv != NULL) {
            PyObject *name = PyUnicode_FromString("__firstlineno__");
            r = name ? hs_txn_setattr(txn, klass, name, nv) : -1;
            Py_XDECREF(name);
        }
        else if (PyErr_Occurred()) {
            r = -1; /* else: not made by one of `bodies` */
        }
        Py_XDECREF(q);
        Py_XDECREF(key);
    }
    Py_XDECREF(line);
    Py_DECREF(d);
    return r;
}

Py_ssize_t
hs_func_patch_live(HsTxn *txn, HsHeap *heap, PyObject *nested,
                   PyObject *rejected)
{
    if (PyDict_GET_SIZE(nested) == 0) {
        return 0;
    }
    PyObject *renewed = PyList_New(0);
    if (renewed == NULL || pair_left_behind(txn, nested, renewed) < 0) {
        Py_XDECREF(renewed);
        return -1;
    }
    /* the codes left behind that this batch pairs again are forgotten;
     * those whose closures still cannot follow are remembered again below
     * with their new successor */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(renewed); i++) {
        if (hs_txn_dict_set(txn, txn->records->left_behind,
                            PyList_GET_ITEM(renewed, i), NULL)
            < 0)
        {
            Py_DECREF(renewed);
            return -1;
        }
    }
    Py_CLEAR(renewed);
    /* collect first, patch second: patching allocates */
    PyObject *objects = NULL;
    PyObject *hits = hs_heap_functions_running(heap, nested);
    PyObject *bodies = hits ? class_bodies_of(nested) : NULL;
    if (bodies == NULL) {
        Py_XDECREF(hits);
        return -1;
    }
    if (PyDict_GET_SIZE(bodies) > 0 && (objects = hs_heap_types(heap)) == NULL)
    {
        Py_DECREF(bodies);
        goto error;
    }
    for (Py_ssize_t i = 0; objects && i < PyList_GET_SIZE(objects); i++) {
        if (move_class_made_in_function(txn, PyList_GET_ITEM(objects, i),
                                        bodies)
            < 0)
        {
            Py_DECREF(bodies);
            goto error;
        }
    }
    Py_CLEAR(objects);
    Py_DECREF(bodies);
    Py_ssize_t patched = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(hits); i++) {
        PyObject *f = PyList_GET_ITEM(hits, i);
        PyObject *key = PyLong_FromVoidPtr(PyFunction_GET_CODE(f));
        if (key == NULL) {
            goto error;
        }
        PyObject *pair = PyDict_GetItemWithError(nested, key);
        Py_DECREF(key);
        if (pair == NULL) {
            if (PyErr_Occurred()) {
                goto error;
            }
            continue; /* patched already through another path */
        }
        PyObject *old_code = PyTuple_GET_ITEM(pair, 0);
        if (PyFunction_GET_CODE(f) != old_code) {
            continue;
        }
        int r = hs_func_patch(txn, f, PyTuple_GET_ITEM(pair, 1), NULL, NULL);
        if (r == HS_PATCH_NOOP
            && adopt_equal_code(txn, f, PyTuple_GET_ITEM(pair, 1), NULL) < 0)
        {
            goto error;
        }
        if (r < 0) {
            goto error;
        }
        if (r == HS_PATCH_FREEVARS || r == HS_PATCH_KIND) {
            /* (code, qualname of a closure that keeps it), once per code */
            int seen = 0;
            for (Py_ssize_t k = 0; k < PyList_GET_SIZE(rejected); k++) {
                seen |= PyTuple_GET_ITEM(PyList_GET_ITEM(rejected, k), 0)
                        == old_code;
            }
            if (!seen && r == HS_PATCH_FREEVARS
                && leave_behind(txn, old_code, PyTuple_GET_ITEM(pair, 1)) < 0)
            {
                goto error;
            }
            if (!seen) {
                PyObject *q = PyObject_GetAttrString(f, "__qualname__");
                PyObject *t = q ? PyTuple_Pack(2, old_code, q) : NULL;
                Py_XDECREF(q);
                if (t == NULL || PyList_Append(rejected, t) < 0) {
                    Py_XDECREF(t);
                    goto error;
                }
                Py_DECREF(t);
            }
            continue;
        }
        if (r != HS_PATCH_NOOP) {
            patched++;
        }
    }
    Py_DECREF(hits);
    return patched;
error:
    Py_XDECREF(objects);
    Py_DECREF(hits);
    return -1;
}
