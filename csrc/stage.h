/* stage.h -- STAGE: compile changed chunks, run them in a scratch copy of
 * the module dict, with class statements routed to the existing classes. */
#ifndef HS_STAGE_H
#define HS_STAGE_H

#include "job.h"

/* Compile the job's changed chunks (or the whole file in HS_MODE_FULL).
 * A compile error is reported from a compile of the whole file, so its
 * line and text are the user's.  0 / -1 (exception set). */
int hs_stage_compile(HsJob *job);

/* Run the compiled chunks in job->scratch (a fresh copy of the module
 * dict).  Class statements for classes that already exist run their body
 * into a namespace recorded in job->class_updates instead of creating a
 * class.  0 / -1 (exception set; nothing outside the scratch dict was
 * written by hotswap). */
int hs_stage_run(HsJob *job);

/* The code objects that bind module-level names in `code` (STORE_NAME /
 * DELETE_NAME at its top level) into the set `names`.  Returns 1 when the
 * code does a star import (names unknown), else 0; -1 on error. */
int hs_stage_stored_names(PyObject *code, PyObject *names);

/* The star imports `code` does at its top level (`from m import *`, also
 * inside try/if): (module name, level) tuples appended to `list`.
 * 0 / -1. */
int hs_stage_star_imports(PyObject *code, PyObject *list);

/* Names that `code` looks up while it runs (its own LOAD_NAME /
 * LOAD_GLOBAL, and those of class bodies and comprehensions in it), and
 * the names it deletes.  Into the set `names`.  0 / -1. */
int hs_stage_loaded_names(PyObject *code, PyObject *names);
int hs_stage_deleted_names(PyObject *code, PyObject *names);

/* A class whose __qualname__ is `name`, bound in the module under another
 * name (`_X = X; del X`).  New reference, or NULL (exception set on error,
 * or none found). */
PyObject *hs_stage_class_aliased(HsJob *job, PyObject *name);

/* Compile text[start:end) of a module as a standalone chunk, at its real
 * line numbers.  New reference. */
PyObject *hs_stage_compile_range(HsJob *job, const char *text,
                                 Py_ssize_t start, Py_ssize_t end, int line,
                                 Py_ssize_t blank_to);

/* 3.14+: is `name` one the compiler binds for a module's deferred
 * annotations (__annotate__, __conditional_annotations__)?  A statement
 * compiled alone binds its own; they are not names it binds for APPLY
 * (annotate.c writes them for the whole module).  Always 0 before 3.14. */
int hs_stage_is_annotate_name(PyObject *name);

/* Are the job's module annotations eager (stored by the statements into
 * the module's __annotations__ dict: before 3.14, and under `from
 * __future__ import annotations`)?  1 / 0. */
int hs_stage_eager_annotations(HsJob *job);
/* Does the top level of `code` name __annotations__?  1 / 0 / -1. */
int hs_stage_code_names_annotations(PyObject *code);

#endif
