/* batch.h -- the lifecycle of one batch, shared by reload(), patch() and
 * the watcher's pending call. */
#ifndef HS_BATCH_H
#define HS_BATCH_H

#include "compat.h"
#include "heap.h"
#include "job.h"
#include "state.h"
#include "txn.h"

/* One batch, from begin to end.  Lives on the caller's stack; every field
 * is written by batch.c alone, except that the caller's stages write
 * through `txn` and fill `nested`. */
typedef struct {
    HsState *st;        /* borrowed: the module state */
    HsTxn txn;          /* the undo log of every module of the batch */
    PyObject *nested;   /* strong dict: nested code objects the batch
                         * replaced (funcs.c), for the closures pass */
    PyObject *rejected; /* strong list: closures left on old code (HS104) */
    HsHeap heap;        /* the batch's walk of the heap (heap.c); every
                         * job points at it */
    HsJob *jobs;        /* owned, PyMem: one per module (hs_batch_jobs) */
    Py_ssize_t njobs;
    double t0;     /* hs_batch_now() at begin */
    int gc_paused; /* the collector ran at begin: resume at end */
    int begun;     /* begin succeeded: end releases busy */
    int committed; /* hs_batch_commit() ran */
} HsBatch;

/* A monotonic clock, in seconds. */
double hs_batch_now(void);

/* Start a batch: refuse one inside another (RuntimeError naming `api`,
 * "reload" or "patch"), pause the cyclic collector, mark the state busy.
 * `b` must be zeroed.  0 / -1; hs_batch_end() is due either way. */
int hs_batch_begin(HsBatch *b, HsState *st, const char *api);

/* Allocate `n` zeroed jobs (at least one) in b->jobs, released by
 * hs_batch_end().  Returns b->jobs, or NULL with MemoryError. */
HsJob *hs_batch_jobs(HsBatch *b, Py_ssize_t n);

/* Closures made before the batch from the inner functions it replaced get
 * the new code (funcs.c); those that cannot (a free variable added) keep
 * the old code and are reported with HS104 in the job of their file.
 * 0 / -1 (then fail the batch). */
int hs_batch_live_closures(HsBatch *b, HsJob *jobs, Py_ssize_t count);

/* Commit: forget the undo log and release what it parked. */
void hs_batch_commit(HsBatch *b);

/* Fail: replay the undo log and raise ReloadError with `code` (NULL:
 * HS507) from the current exception, located in `job`'s file (job may be
 * NULL) and attached to `report` (may be NULL). */
void hs_batch_fail(HsBatch *b, HsJob *job, const char *code, PyObject *report);

/* Fail on a class edit that cannot be applied in place: `entry` is its
 * report entry (hs_batch_class_refusal); no exception is set on entry. */
void hs_batch_fail_refusal(HsBatch *b, HsJob *job, PyObject *entry,
                           PyObject *report);

/* All or nothing: the first entry of `job` that fails the batch unless it
 * is partial (HS201-HS205 rejected), or NULL.  Borrowed. */
PyObject *hs_batch_class_refusal(HsJob *job);

/* The Report of the batch: a ModuleResult per job (in `order`, or as
 * given when order is NULL), "failed" for index `failed`; the entries of
 * every job when `ok`.  only_changed: leave unchanged modules out.  New
 * reference. */
PyObject *hs_batch_report(HsBatch *b, HsJob *jobs, const Py_ssize_t *order,
                          Py_ssize_t n, int ok, Py_ssize_t failed,
                          int only_changed);

/* End the batch: an undo log neither committed nor replayed is replayed,
 * the jobs and everything else are released, the state is no longer busy
 * and the collector runs again (in that order).  Keeps the current
 * exception.  Safe after a failed begin. */
void hs_batch_end(HsBatch *b);

/* 1 while a batch runs (a pending call arriving then must wait). */
int hs_batch_running(HsState *st);

/* Release what a job holds (it can be cleared again). */
void hs_batch_job_clear(HsJob *job);

/* Pause the cyclic collector (see "the collector during a batch" in
 * batch.c): 1 when it was running and is now paused, else 0; resume with
 * what pause returned.  Neither fails nor touches the current exception. */
int hs_batch_gc_pause(void);
void hs_batch_gc_resume(int paused);

#endif
