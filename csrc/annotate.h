/* annotate.h -- 3.14+ (PEP 649/749): a module's deferred annotations. */
#ifndef HS_ANNOTATE_H
#define HS_ANNOTATE_H

#include "job.h"
#include "txn.h"

/* After the job's statements were applied: the module's __annotate__,
 * __conditional_annotations__ and cached __annotations__ become what a
 * fresh import of the new source gives, when a statement holding a
 * module-level annotation was edited, added, removed or moved.  Nothing
 * is evaluated.  A no-op before 3.14 and under `from __future__ import
 * annotations`.  0 / -1. */
int hs_annotate_module(HsJob *job, HsTxn *txn);

/* Eager module annotations (before 3.14, and `from __future__ import
 * annotations`): the statements store into the module's __annotations__
 * dict.  Staging gives each staged statement a dict of its own
 * (job->ann_eager); here the live dict (identity kept) gets the entries a
 * fresh import gives, in its order: the staged statements' own, the kept
 * statements' live ones, none of the removed or replaced statements';
 * through the undo log.  0 / -1. */
int hs_annotate_eager(HsJob *job, HsTxn *txn);

#endif
