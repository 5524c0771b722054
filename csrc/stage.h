/* stage.h -- STAGE: run the chunks PLAN compiled in a scratch copy of the
 * module dict, with class statements routed to the existing classes. */
#ifndef HS_STAGE_H
#define HS_STAGE_H

#include "job.h"

/* Run the chunks PLAN compiled (compile.c) in job->scratch (a fresh copy of
 * the module dict).  Class statements for classes that already exist run their
 * body into a namespace recorded in job->class_updates instead of creating a
 * class.  0 / -1 (exception set; nothing outside the scratch dict was
 * written by hotswap). */
int hs_stage_run(HsJob *job);

/* A class whose __qualname__ is `name`, bound in the module under another
 * name (`_X = X; del X`).  New reference, or NULL (exception set on error,
 * or none found). */
PyObject *hs_stage_class_aliased(HsJob *job, PyObject *name);

/* Are the job's module annotations eager (stored by the statements into
 * the module's __annotations__ dict: before 3.14, and under `from
 * __future__ import annotations`)?  1 / 0. */
int hs_stage_eager_annotations(HsJob *job);
/* Does the top level of `code` name __annotations__?  1 / 0 / -1. */
int hs_stage_code_names_annotations(PyObject *code);

#endif
