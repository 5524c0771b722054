/* live.h -- values re-run at reload get the module's live functions. */
#ifndef HS_LIVE_H
#define HS_LIVE_H

#include "job.h"
#include "txn.h"

/* The staged object `staged` stands for the live object `live` from now
 * on (a def patched in place: the staged binding and the kept one, the
 * staged function and the kept one).  0 / -1. */
int hs_live_note(HsJob *job, PyObject *staged, PyObject *live);

/* Remember the objects staging created (generation 0 of the collector,
 * right after staging, `objs` a list of them): only those are changed in
 * place by hs_live_rebind().  0 / -1. */
int hs_live_young(HsJob *job, PyObject *objs);

/* After APPLY of `job`: in the values its staged statements bound (module
 * names, members of the classes it updated, defaults of the functions it
 * patched), replace each staged object noted with hs_live_note() by its
 * live one.  Under `txn`.  0 / -1. */
int hs_live_rebind(HsJob *job, HsTxn *txn);

#endif
