/* adapters.h -- the fixed points where a batch calls framework adapters. */
#ifndef HS_ADAPTERS_H
#define HS_ADAPTERS_H

#include "compat.h"
#include "job.h"
#include "state.h"

/* The batch as the dispatcher sees it: a tuple of (module, new source
 * text, entries list) for every changed job, in apply order.  New
 * reference; Py_None (new reference) when no dispatcher is installed or
 * nothing changed; NULL with an exception on error. */
PyObject *hs_adapters_batch(HsState *st, HsJob *jobs, const Py_ssize_t *order,
                            Py_ssize_t count);

/* Call the dispatcher for `phase` ("prepare" before STAGE, "apply" after
 * APPLY with the undo log still open).  A refusal or failure sets an
 * exception, stores the diagnostic code in *code and the index of the job
 * it names (or -1) in *failed, and returns -1.  "apply" appends the
 * (module, name, kind, action, code, reason, lineno) tuples the
 * dispatcher returns to the jobs' entries.  0 / -1. */
int hs_adapters_call(HsState *st, const char *phase, PyObject *batch,
                     HsJob *jobs, Py_ssize_t count, Py_ssize_t *failed,
                     const char **code);

/* "rollback" (before the undo log is replayed) and "commit" (after the
 * new snapshots are recorded): must not fail the batch; an exception is
 * reported as unraisable.  The current exception, if any, is kept. */
void hs_adapters_notify(HsState *st, const char *phase, PyObject *batch);

#endif
