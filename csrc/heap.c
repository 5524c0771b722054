/* heap.c -- every walk of the GC-tracked objects: the batch's one walk,
 * kept in typed lists that the consumers query (the closures pass,
 * suspended generators, instances to migrate or move to a rebuilt class,
 * the functions of several defs of one name), and the young objects
 * staging made.
 *
 * Main thread, GIL held.  3.12+ walks with PyUnstable_GC_VisitObjects (no
 * list of every object; the permanent generation of gc.freeze() too),
 * before with gc.get_objects().  The young generation is always read with
 * gc.get_objects(0): there is no C API for one generation.
 *
 * A general note on the moment of the walk.  The consumers run at
 * different moments of a batch: instance migration and the defs of one
 * name during APPLY of one module, the closures pass and the suspended
 * generators after APPLY of every module.  Each must see the heap as of
 * its own moment, as the walk it made of its own did: objects staged or
 * made by user code APPLY ran (a __hotswap_migrate__ hook, a policy, a
 * re-run dataclass) since the walk included.  So the walk is taken at the
 * first query, and each later query adds what the young generation holds
 * now and did not at the walk: the collector is paused for the whole
 * batch, so every object tracked since is young.  A collection since the
 * walk (staged code may collect explicitly) moves objects out of the young
 * generation: the next query walks again.  Objects kept are held until
 * the batch ends; a query filters by what they are now (their code,
 * globals, type), never by what they were at the walk.
 */
#include "heap.h"

typedef enum {
    HEAP_NONE = 0,
    HEAP_FUNCTION,
    HEAP_GENERATOR,
    HEAP_TYPE,
    HEAP_INSTANCE,
} HeapKind;

/* What list of `h` keeps `o`; reads the type only (no allocation: safe in
 * a PyUnstable_GC_VisitObjects callback). */
static HeapKind
heap_kind(const HsHeap *h, PyObject *o)
{
    if (PyFunction_Check(o)) {
        return HEAP_FUNCTION;
    }
    if (PyGen_Check(o) || PyCoro_CheckExact(o) || PyAsyncGen_CheckExact(o)) {
        return HEAP_GENERATOR;
    }
    if (PyType_Check(o)) {
        return PyType_HasFeature((PyTypeObject *)o, Py_TPFLAGS_HEAPTYPE)
                   ? HEAP_TYPE
                   : HEAP_NONE;
    }
    if (h->with_instances
        && PyType_HasFeature(Py_TYPE(o), Py_TPFLAGS_HEAPTYPE))
    {
        return HEAP_INSTANCE;
    }
    return HEAP_NONE;
}

/* Keep `o` in its list.  Appending grows a list's item array with
 * PyMem_Realloc: no GC object is made or freed.  1 kept, 0 not, -1
 * error. */
static int
heap_keep(HsHeap *h, PyObject *o)
{
    PyObject *list = NULL;
    switch (heap_kind(h, o)) {
        case HEAP_FUNCTION:
            list = h->functions;
            break;
        case HEAP_GENERATOR:
            list = h->generators;
            break;
        case HEAP_TYPE:
            list = h->types;
            break;
        case HEAP_INSTANCE:
            list = h->instances;
            break;
        case HEAP_NONE:
            return 0;
    }
    return PyList_Append(list, o) < 0 ? -1 : 1;
}

int
hs_heap_collections(Py_ssize_t *out)
{
    PyObject *gc = PyImport_ImportModule("gc");
    PyObject *stats = gc ? PyObject_CallMethod(gc, "get_stats", NULL) : NULL;
    PyObject *key = stats ? PyUnicode_FromString("collections") : NULL;
    int result = -1;
    *out = 0;
    if (key == NULL || !PyList_Check(stats)) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(stats); i++) {
        PyObject *c = NULL;
        int r = PyDict_GetItemRef(PyList_GET_ITEM(stats, i), key, &c);
        Py_ssize_t n = r == 1 ? PyLong_AsSsize_t(c) : 0;
        Py_XDECREF(c);
        if (r < 0 || (n == -1 && PyErr_Occurred())) {
            goto done;
        }
        *out += n;
    }
    result = 0;
done:
    Py_XDECREF(key);
    Py_XDECREF(stats);
    Py_XDECREF(gc);
    return result;
}

PyObject *
hs_heap_objects(int young)
{
    PyObject *gc = PyImport_ImportModule("gc");
    if (gc == NULL) {
        return NULL;
    }
    PyObject *objs = young ? PyObject_CallMethod(gc, "get_objects", "i", 0)
                           : PyObject_CallMethod(gc, "get_objects", NULL);
    Py_DECREF(gc);
    if (objs != NULL && !PyList_Check(objs)) {
        PyErr_SetString(PyExc_TypeError, "gc.get_objects() gave no list");
        Py_CLEAR(objs);
    }
    return objs;
}

void
hs_heap_clear(HsHeap *h)
{
    Py_CLEAR(h->functions);
    Py_CLEAR(h->generators);
    Py_CLEAR(h->types);
    Py_CLEAR(h->instances);
    Py_CLEAR(h->young);
    h->walked = 0;
    h->with_instances = 0;
    h->collections = 0;
}

/* ------------------------------------------------------------------ */
/* the walk                                                            */

#if HS_HAVE_GC_VISIT
typedef struct {
    HsHeap *h;
    int failed; /* an append failed: MemoryError is set */
} HeapVisit;

/* PyUnstable_GC_VisitObjects' callback: 1 goes on, 0 stops.  It runs no
 * Python code and makes no GC object (see heap_keep). */
static int
heap_visit(PyObject *o, void *arg)
{
    HeapVisit *v = (HeapVisit *)arg;
    if (heap_keep(v->h, o) < 0) {
        v->failed = 1;
        return 0;
    }
    return 1;
}
#endif

/* Every tracked object into the lists.  0 / -1. */
static int
heap_walk_all(HsHeap *h)
{
#if HS_HAVE_GC_VISIT
    HeapVisit v = {h, 0};
    PyUnstable_GC_VisitObjects(heap_visit, &v);
    return v.failed ? -1 : 0;
#else
    PyObject *objs = hs_heap_objects(0);
    int r = objs ? 0 : -1;
    for (Py_ssize_t i = 0; r == 0 && i < PyList_GET_SIZE(objs); i++) {
        r = heap_keep(h, PyList_GET_ITEM(objs, i)) < 0 ? -1 : 0;
    }
    Py_XDECREF(objs);
    return r;
#endif
}

/* The young objects: those kept already are skipped (h->young), the
 * others kept and noted.  At the walk (`at_walk`), every kept young object
 * is only noted.  0 / -1. */
static int
heap_add_young(HsHeap *h, int at_walk)
{
    PyObject *objs = hs_heap_objects(1);
    int r = objs ? 0 : -1;
    for (Py_ssize_t i = 0; r == 0 && i < PyList_GET_SIZE(objs); i++) {
        PyObject *o = PyList_GET_ITEM(objs, i);
        if (heap_kind(h, o) == HEAP_NONE) {
            continue;
        }
        PyObject *key = PyLong_FromVoidPtr(o);
        int seen = key ? PySet_Contains(h->young, key) : -1;
        if (seen == 0) {
            r = PySet_Add(h->young, key);
            if (r == 0 && !at_walk) {
                r = heap_keep(h, o) < 0 ? -1 : 0;
            }
        }
        else if (seen < 0) {
            r = -1;
        }
        Py_XDECREF(key);
    }
    Py_XDECREF(objs);
    return r;
}

/* The lists, as of now (see the note at the top).  `instances`: the query
 * needs h->instances.  0 / -1. */
static int
heap_ready(HsHeap *h, int instances)
{
    Py_ssize_t n = 0;
    if (hs_heap_collections(&n) < 0) {
        return -1;
    }
    if (h->walked
        && (n != h->collections || (instances && !h->with_instances)))
    {
        hs_heap_clear(h);
    }
    if (h->walked) {
        return heap_add_young(h, 0);
    }
    h->with_instances = instances;
    h->functions = PyList_New(0);
    h->generators = PyList_New(0);
    h->types = PyList_New(0);
    h->instances = instances ? PyList_New(0) : NULL;
    h->young = PySet_New(NULL);
    if (h->functions == NULL || h->generators == NULL || h->types == NULL
        || (instances && h->instances == NULL) || h->young == NULL
        || heap_walk_all(h) < 0 || heap_add_young(h, 1) < 0)
    {
        hs_heap_clear(h);
        return -1;
    }
    h->collections = n;
    h->walked = 1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* queries                                                             */

/* 1 when the walk's own list is all that holds `o`: the program dropped
 * it after the walk (APPLY replaced what held it).  A query made at that
 * moment without a kept walk would not have found it (a refcount freed
 * it), so none does: a closure nobody can reach is not patched or
 * reported (HS104).  Cyclic garbage is another matter: the collector is
 * paused for the batch, and a walk finds it either way. */
static int
dropped_since_walk(PyObject *o)
{
    return Py_REFCNT(o) == 1;
}

/* 1 when `code`'s id is a key of `codes`, 0 not, -1 error. */
static int
code_in(PyObject *codes, PyObject *code)
{
    PyObject *key = PyLong_FromVoidPtr(code);
    int r = key ? PyDict_Contains(codes, key) : -1;
    Py_XDECREF(key);
    return r;
}

PyObject *
hs_heap_functions_running(HsHeap *h, PyObject *codes)
{
    if (heap_ready(h, 0) < 0) {
        return NULL;
    }
    PyObject *out = PyList_New(0);
    for (Py_ssize_t i = 0; out && i < PyList_GET_SIZE(h->functions); i++) {
        PyObject *f = PyList_GET_ITEM(h->functions, i);
        if (dropped_since_walk(f)) {
            continue;
        }
        int r = code_in(codes, PyFunction_GET_CODE(f));
        if (r < 0 || (r == 1 && PyList_Append(out, f) < 0)) {
            Py_CLEAR(out);
        }
    }
    return out;
}

PyObject *
hs_heap_functions_of(HsHeap *h, PyObject *globals)
{
    if (heap_ready(h, 0) < 0) {
        return NULL;
    }
    PyObject *out = PyList_New(0);
    for (Py_ssize_t i = 0; out && i < PyList_GET_SIZE(h->functions); i++) {
        PyObject *f = PyList_GET_ITEM(h->functions, i);
        if (dropped_since_walk(f)) {
            continue;
        }
        if (PyFunction_GET_GLOBALS(f) == globals && PyList_Append(out, f) < 0)
        {
            Py_CLEAR(out);
        }
    }
    return out;
}

/* A generator-like object's code: new reference, or NULL with an
 * exception set. */
static PyObject *
generator_code(PyObject *o)
{
    const char *attr = PyGen_Check(o)         ? "gi_code"
                       : PyCoro_CheckExact(o) ? "cr_code"
                                              : "ag_code";
    return PyObject_GetAttrString(o, attr);
}

PyObject *
hs_heap_generators_running(HsHeap *h, PyObject *codes)
{
    if (heap_ready(h, 0) < 0) {
        return NULL;
    }
    PyObject *out = PyList_New(0);
    for (Py_ssize_t i = 0; out && i < PyList_GET_SIZE(h->generators); i++) {
        PyObject *g = PyList_GET_ITEM(h->generators, i);
        if (dropped_since_walk(g)) {
            continue;
        }
        PyObject *code = generator_code(g);
        int r = code ? code_in(codes, code) : -1;
        Py_XDECREF(code);
        if (r < 0 || (r == 1 && PyList_Append(out, g) < 0)) {
            Py_CLEAR(out);
        }
    }
    return out;
}

PyObject *
hs_heap_types(HsHeap *h)
{
    if (heap_ready(h, 0) < 0) {
        return NULL;
    }
    return PyList_GetSlice(h->types, 0, PyList_GET_SIZE(h->types));
}

PyObject *
hs_heap_instances(HsHeap *h, PyObject *klass, int exact)
{
    if (heap_ready(h, 1) < 0) {
        return NULL;
    }
    PyTypeObject *t = (PyTypeObject *)klass;
    PyObject *out = PyList_New(0);
    for (Py_ssize_t i = 0; out && i < PyList_GET_SIZE(h->instances); i++) {
        PyObject *o = PyList_GET_ITEM(h->instances, i);
        if (dropped_since_walk(o)) {
            continue;
        }
        int hit = exact ? Py_TYPE(o) == t : PyObject_TypeCheck(o, t);
        if (hit && PyList_Append(out, o) < 0) {
            Py_CLEAR(out);
        }
    }
    /* a metaclass's own instances are classes */
    for (Py_ssize_t i = 0; exact && out && PyType_IsSubtype(t, &PyType_Type)
                           && i < PyList_GET_SIZE(h->types);
         i++)
    {
        PyObject *o = PyList_GET_ITEM(h->types, i);
        if (Py_TYPE(o) == t && PyList_Append(out, o) < 0) {
            Py_CLEAR(out);
        }
    }
    return out;
}
