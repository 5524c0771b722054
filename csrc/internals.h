/* internals.h -- the only place that writes CPython struct fields. */
#ifndef HS_INTERNALS_H
#define HS_INTERNALS_H

#include "compat.h"

/* Point a function that has never run outside the staging namespace at
 * its real module dict.  Precondition: `func` is not executing (no frame
 * borrows its globals) and `globals` has the same __builtins__ as the
 * function's current globals.  Never fails. */
void hs_function_rebase_globals(PyObject *func, PyObject *globals);


/* After `func` was given a new code object: let the specialising
 * interpreter use it again.  3.13+ (a reset function version is never
 * re-assigned there, so a patched function would run unspecialised for
 * ever); elsewhere a no-op.  Never fails. */
void hs_function_reversion(PyObject *func);

/* The annotations dict a function holds now, without computing it: 3.14+
 * never calls __annotate__ here.  Borrowed reference, or NULL (no error
 * set) when there is none yet. */
PyObject *hs_function_annotations_raw(PyObject *func);

/* co_flags / co_firstlineno of a code object (fields present and stable
 * in 3.9-3.15; reading them avoids an attribute lookup per code object). */
int hs_code_flags(PyObject *code);
int hs_code_firstlineno(PyObject *code);

/* Call `visit` on each object `obj` refers to, as the collector sees them
 * (its type's tp_traverse; nothing for objects the collector does not
 * track).  Runs no Python code.  Returns what tp_traverse returns. */
int hs_object_traverse(PyObject *obj, visitproc visit, void *arg);
#endif
