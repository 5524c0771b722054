/* code.h -- code objects: compile a range, compare, move, names (code.c). */
#ifndef HS_CODE_H
#define HS_CODE_H

#include "job.h"

/* One pass over the bytecode of a code object (not of the code objects
 * nested in it), an instruction at a time: EXTENDED_ARG prefixes folded
 * into the argument, the inline CACHE entries (3.11+) skipped.  The
 * bytecode is the de-specialised one (hs_code_get_code), so its opcodes
 * are compat.h's HS_OP_* on every version.  The one walker of bytecode:
 *
 *     HsOpIter it;
 *     int op;
 *     unsigned long arg;
 *     if (hs_code_op_init(&it, code) < 0) { goto error; }
 *     while (hs_code_op_next(&it, &op, &arg)) { ... }
 *     hs_code_op_clear(&it);
 */
typedef struct {
    PyObject *bytes;           /* strong: the bytecode */
    const unsigned char *code; /* borrowed: owned by bytes */
    Py_ssize_t len;            /* bytes in `code` */
    Py_ssize_t next;           /* offset of the next code unit to read */
    Py_ssize_t at;             /* offset of the current instruction's opcode
                                * (after its prefixes) */
    int extended;              /* the current instruction had EXTENDED_ARG
                                * prefixes (an argument above 255) */
} HsOpIter;

/* Start a pass over `code`'s bytecode.  0 / -1 (then nothing to clear). */
int hs_code_op_init(HsOpIter *it, PyObject *code);

/* The next instruction into *op and *arg: 1, or 0 at the end. */
static inline int
hs_code_op_next(HsOpIter *it, int *op, unsigned long *arg)
{
    unsigned long ext = 0;
    it->extended = 0;
    while (it->next + 1 < it->len) {
        Py_ssize_t i = it->next;
        int o = it->code[i];
        unsigned long a = it->code[i + 1] | ext;
        it->next = i + 2;
        if (o == HS_OP_EXTENDED_ARG) {
            ext = a << 8;
            it->extended = 1;
            continue;
        }
        if (HS_OP_IS_CACHE(o)) {
            ext = 0;
            it->extended = 0;
            continue;
        }
        it->at = i;
        *op = o;
        *arg = a;
        return 1;
    }
    return 0;
}

void hs_code_op_clear(HsOpIter *it);

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
