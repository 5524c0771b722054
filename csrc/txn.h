/* txn.h -- the undo log of one batch. */
#ifndef HS_TXN_H
#define HS_TXN_H

#include "compat.h"

typedef struct HsUndo HsUndo;
typedef struct HsFuncRecords HsFuncRecords; /* state.h */

/* An undo log.  Every write the APPLY stage makes goes through it; on
 * failure hs_txn_rollback() replays it backwards.  It also parks objects
 * the batch drops (old values), so that no finaliser runs Python code in
 * the middle of APPLY: they are released by hs_txn_clear() after commit. */
typedef struct {
    HsUndo *items; /* owned, PyMem */
    Py_ssize_t len;
    Py_ssize_t cap;
    PyObject *funcs;        /* strong: set of the functions saved, or NULL */
    HsFuncRecords *records; /* borrowed: the module state's (funcs.c's
                             * records kept across batches, written only
                             * through this log) */
} HsTxn;

/* setattr(obj, name, value) (value NULL: delattr), recording the object's
 * own previous value (for a class: its __dict__ entry, not an inherited
 * one).  0 / -1. */
int hs_txn_setattr(HsTxn *txn, PyObject *obj, PyObject *name, PyObject *value);
/* object.__setattr__(obj, name, value) (value NULL: delete), bypassing the
 * class's own __setattr__ (frozen dataclasses), recording the instance's
 * own previous value from its __dict__.  0 / -1. */
int hs_txn_generic_setattr(HsTxn *txn, PyObject *obj, PyObject *name,
                           PyObject *value);
/* Record that obj.name was `old` (NULL: absent) before a write made by
 * code outside the log (a class decorator run again).  0 / -1. */
int hs_txn_record_setattr(HsTxn *txn, PyObject *obj, PyObject *name,
                          PyObject *old);
/* dict[key] = value (value NULL: delete if present).  0 / -1. */
int hs_txn_dict_set(HsTxn *txn, PyObject *dict, PyObject *key,
                    PyObject *value);
/* Replace the contents of `dict` by those of `contents` (a dict), in its
 * order, keeping the dict object; undone as a whole, order included.
 * 0 / -1. */
int hs_txn_dict_replace(HsTxn *txn, PyObject *dict, PyObject *contents);
/* Record the whole patchable state of a function before changing it. */
int hs_txn_save_function(HsTxn *txn, PyObject *func);
/* Was `func` saved (so written) in this batch?  Its code is then the new
 * one already: a line shift must not be applied to it again.  1 / 0. */
int hs_txn_function_saved(HsTxn *txn, PyObject *func);
/* Keep obj alive until the log is cleared. */
int hs_txn_keep(HsTxn *txn, PyObject *obj);

/* Undo everything, newest first.  Never fails: a write that cannot be
 * undone is reported as unraisable and the rest continues. */
void hs_txn_rollback(HsTxn *txn);
/* Forget the log (commit) and release everything it holds. */
void hs_txn_clear(HsTxn *txn);

/* Restore a function's closure and code together (used by rollback and
 * by the patcher when a swap fails half-way).  0 / -1. */
int hs_func_set_closure_and_code(PyObject *func, PyObject *closure,
                                 PyObject *code);


/* Add to `codes` (a dict id -> code) every code object the logged
 * functions ran before and no longer run.  0 / -1. */
int hs_txn_superseded_codes(HsTxn *txn, PyObject *codes);

#endif
