/* classes.h -- class patching rules. */
#ifndef HS_CLASSES_H
#define HS_CLASSES_H

#include "job.h"
#include "txn.h"

/* Where a class statement's text is, in the old and the new source.
 * Offsets are -1 when unknown (a class inside an `if`, no snapshot). */
typedef struct {
    Py_ssize_t old_start, old_head, old_body, old_end;
    Py_ssize_t new_start, new_head, new_body, new_end;
    int old_body_line, new_body_line;
    int new_line; /* line of the class statement, for the report */
} HsClassRanges;

/* The ranges of the class `name` staged by chunk `chunk` (depth 0) or
 * nested in the class whose ranges are `parent`.  0 / -1. */
int hs_class_ranges(HsJob *job, Py_ssize_t chunk, const HsClassRanges *parent,
                    PyObject *name, HsClassRanges *out);

/* 1 when the text of the class header (from "class" to ":") changed. */
int hs_class_header_changed(HsJob *job, const HsClassRanges *rg);

/* 1 when the old class header had a keyword argument ("x=..."). */
int hs_class_old_header_has_keywords(HsJob *job, const HsClassRanges *rg);

/* Record that the existing class `klass` gets the body namespace `ns`.
 * header_ok: 1 same header, 0 bases changed (to `bases`), -1 metaclass
 * changed, 2 class keywords changed.  `shadow` (may be NULL): a class
 * built from the new body by a typing metaclass, for its derived data.
 * `prepared` (may be NULL): a copy of what the metaclass's __prepare__
 * put in the namespace before the body ran. */
int hs_class_record(HsJob *job, PyObject *klass, PyObject *ns,
                    const HsClassRanges *ranges, int header_ok,
                    PyObject *bases, PyObject *shadow, PyObject *prepared);

/* APPLY every recorded class update of the job.  Differing nested code
 * pairs go to `nested`.  0 / -1. */
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

/* The line that text[offset] is on, counting from text[from] at line
 * from_line. */
int hs_line_at(const char *text, Py_ssize_t from, int from_line,
               Py_ssize_t offset);

#endif
