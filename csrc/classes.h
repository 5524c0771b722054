/* classes.h -- class patching rules. */
#ifndef HS_CLASSES_H
#define HS_CLASSES_H

#include "job.h"
#include "txn.h"

/* APPLY every class update STAGE recorded (job->class_updates).  Differing
 * nested code pairs go to `nested`.  0 / -1. */
int hs_class_apply(HsJob *job, HsTxn *txn, PyObject *nested);

/* Shift the line numbers of a class's functions (the class statement
 * `old`, a chunk of the snapshot, only moved by `delta`).  0 / -1. */
int hs_class_shift(HsJob *job, HsTxn *txn, PyObject *klass, const HsChunk *old,
                   int delta, PyObject *nested);

/* 3.13+: the __firstlineno__ of a class whose statement only moved, when
 * it lies in the statement's old lines (a class the statement made but
 * whose members another module compiled: a NamedTuple).  0 / -1. */
int hs_class_shift_firstlineno(HsTxn *txn, PyObject *klass, const HsChunk *old,
                               int delta);

#endif
