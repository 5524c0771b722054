/* apply.h -- APPLY: one module's staged namespace onto the live objects. */
#ifndef HS_APPLY_H
#define HS_APPLY_H

#include "job.h"
#include "txn.h"

/* Move the functions staging created onto the module dict (full_walk: look
 * at every GC-tracked object, not only generation 0).  0 / -1. */
int hs_apply_rebase_functions(HsJob *job, int full_walk);

/* APPLY one staged job under `txn`; differing nested code pairs go to
 * `nested`.  0 / -1. */
int hs_apply_job(HsJob *job, HsTxn *txn, PyObject *nested);

/* What decorators commonly read from a function when they run: its
 * parameter names and kinds, defaults and docstring (compared before and
 * after a patch: HS105).  New reference, or NULL with an exception set. */
PyObject *hs_apply_signature_of(PyObject *f);

#endif
