/* code.h -- code objects: compile a range, compare, move, names (code.c). */
#ifndef HS_CODE_H
#define HS_CODE_H

#include "job.h"

/* Compare two code objects recursively.  with_lines: also line numbers.
 * 1 equal, 0 different, -1 error. */
int hs_code_equal(PyObject *a, PyObject *b, int with_lines);

/* A copy of `code` (and of the code objects nested in it) whose line
 * numbers are shifted by `delta`.  New reference. */
PyObject *hs_code_shift(PyObject *code, int delta);

/* hs_code_shift, telling whether a class body's __firstlineno__ constant
 * (3.13+) could not be moved in place (*inexact = 1: compile the code at
 * its real lines instead). */
PyObject *hs_code_shift_ex(PyObject *code, int delta, int *inexact);

/* The code objects that bind module-level names in `code` (STORE_NAME /
 * DELETE_NAME at its top level) into the set `names`.  Returns 1 when the
 * code does a star import (names unknown), else 0; -1 on error. */
int hs_code_stored_names(PyObject *code, PyObject *names);

/* The star imports `code` does at its top level (`from m import *`, also
 * inside try/if): (module name, level) tuples appended to `list`.
 * 0 / -1. */
int hs_code_star_imports(PyObject *code, PyObject *list);

/* Names that `code` looks up while it runs (its own LOAD_NAME /
 * LOAD_GLOBAL, and those of class bodies and comprehensions in it), and
 * the names it deletes.  Into the set `names`.  0 / -1. */
int hs_code_loaded_names(PyObject *code, PyObject *names);
int hs_code_deleted_names(PyObject *code, PyObject *names);

/* Compile text[start:end) of a module as a standalone chunk, at its real
 * line numbers.  New reference. */
PyObject *hs_code_compile_range(HsJob *job, const char *text, Py_ssize_t start,
                                Py_ssize_t end, int line, Py_ssize_t blank_to);

/* 3.14+: is `name` one the compiler binds for a module's deferred
 * annotations (__annotate__, __conditional_annotations__)?  A statement
 * compiled alone binds its own; they are not names it binds for APPLY
 * (annotate.c writes them for the whole module).  Always 0 before 3.14. */
int hs_code_is_annotate_name(PyObject *name);

#endif
