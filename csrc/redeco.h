/* redeco.h -- a re-run decoration's state moved onto the old object. */
#ifndef HS_REDECO_H
#define HS_REDECO_H

#include "compat.h"
#include "txn.h"

/* A def was decorated again and the decoration made `new` where the
 * program holds `old` (issue 10 point 3).  Move new's state onto old, so
 * that old behaves as new does: a function takes the other function's
 * code, closure, defaults, annotations, doc, names and __dict__ entries; an
 * instance of a Python class takes the instance state of another instance
 * of the same class.  Wherever the moved state refers to `fn` (the staged
 * function the def made) it refers to `fo` (the kept, patched one) instead;
 * fo NULL: no substitution.  Layers between (`@a @b def f`) are moved onto
 * the old layers the same way.  Nothing is written unless the outer pair
 * can be moved; every write goes through the undo log.
 * 1 moved, 0 cannot be moved (nothing written), -1 error. */
int hs_redeco_move(HsTxn *txn, PyObject *old, PyObject *new, PyObject *fo,
                   PyObject *fn);

#endif
