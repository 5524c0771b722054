/* heap.h -- the walks of the GC-tracked objects: one per batch, kept in
 * typed lists, and the young objects staging made. */
#ifndef HS_HEAP_H
#define HS_HEAP_H

#include "compat.h"

/* The batch's walk.  Lives in the HsBatch (zeroed at begin, cleared at
 * end); every field is written by heap.c alone.  The walk is taken at the
 * first query and kept; each later query first adds the objects made
 * since (a walk of the young generation: the collector is paused for the
 * whole batch), and a collection in between (staged code calling
 * gc.collect()) makes the next query walk again.  Every object found is
 * held until the batch ends, so none is freed while a consumer uses it,
 * nor its address given to another. */
typedef struct {
    int walked;             /* the lists hold a walk */
    int with_instances;     /* the walk kept `instances` */
    Py_ssize_t collections; /* the collector's count at the walk */
    PyObject *functions;    /* strong list: every function */
    PyObject *generators;   /* strong list: every generator, coroutine and
                             * async generator */
    PyObject *types;        /* strong list: every heap type */
    PyObject *instances;    /* strong list or NULL: every object of a heap
                             * type other than the above (kept only once a
                             * query asked for instances) */
    PyObject *young;        /* strong set: the ids of the kept objects that
                             * were young at the walk, or kept since */
} HsHeap;

/* Release what the walk holds (it can be walked again). */
void hs_heap_clear(HsHeap *h);

/* The functions whose code is one of `codes` (a dict keyed by
 * PyLong_FromVoidPtr(code)), in the order of the walk.  New list, or NULL
 * with an exception set. */
PyObject *hs_heap_functions_running(HsHeap *h, PyObject *codes);

/* The functions whose __globals__ is `globals`.  New list / NULL. */
PyObject *hs_heap_functions_of(HsHeap *h, PyObject *globals);

/* The generators, coroutines and async generators whose code is one of
 * `codes` (keyed as above).  New list / NULL. */
PyObject *hs_heap_generators_running(HsHeap *h, PyObject *codes);

/* Every heap type.  New list / NULL. */
PyObject *hs_heap_types(HsHeap *h);

/* The objects whose type is `klass` (exact) or, unless `exact`, one of its
 * subclasses; never a type.  New list / NULL. */
PyObject *hs_heap_instances(HsHeap *h, PyObject *klass, int exact);

/* A walk of its own, not kept: the young generation (`young`), or every
 * tracked object.  For STAGE's functions, which must be found before
 * APPLY.  New list / NULL. */
PyObject *hs_heap_objects(int young);

/* The number of collections the collector has run (all generations), to
 * tell whether objects left the young generation.  0 / -1. */
int hs_heap_collections(Py_ssize_t *out);

#endif
