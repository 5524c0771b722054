/* plan.h -- PLAN: what changed between the snapshot and the new source. */
#ifndef HS_PLAN_H
#define HS_PLAN_H

#include "job.h"

/* The mode of the job (chunk by chunk against the snapshot, no snapshot,
 * or the whole file when the scanner was unsure), then its plan with no
 * snapshot (definitions compared with the live code) or against the
 * snapshot: the state, match and deco arrays; a __future__ import
 * that changed makes the mode HS_MODE_FULL.  PLAN is the only writer of
 * the mode (here, and compile.c when a chunk does not compile alone).
 * 0 / -1. */
int hs_plan_module(HsJob *job);

/* Mark for running again the unchanged statements a changed one needs
 * ("import re" ... "del re").  After hs_compile_job().  0 / -1. */
int hs_plan_reruns(HsJob *job);

/* For hs_plan_bound_again_later() when many names are checked: the last kept
 * def/class/simple assignment binding each name, and the kept statements
 * that bind names the scanner cannot tell (imports, compound statements).
 * Built once per module, in one pass. */
typedef struct {
    PyObject *last_named; /* dict: name -> index of the last kept chunk */
    Py_ssize_t *unnamed;  /* PyMem: indices of other kept chunks, ascending */
    Py_ssize_t nunnamed;
} HsLaterMap;

void hs_later_map_clear(HsLaterMap *lm);
int hs_later_map_build(HsJob *job, HsLaterMap *lm);

/* Is `name`, bound by staged chunk ci, bound again by a later unchanged
 * statement (top-level or inside a compound statement; a star import
 * binds what its module exports now)?  `lm` may be NULL (a scan) or
 * built.  1 / 0 / -1. */
int hs_plan_bound_again_later(HsJob *job, PyObject *name, Py_ssize_t ci,
                              HsLaterMap *lm);

/* The name of a chunk (def/class/assignment), a new str. */
PyObject *hs_plan_chunk_name(const char *text, const HsChunk *c);
/* Does hay[0:n) contain needle[0:m)? */
int hs_plan_contains_bytes(const char *hay, Py_ssize_t n, const char *needle,
                           Py_ssize_t m);
/* What the star imports of `code` bind now: name -> the object of the
 * star import's module, into the dict `into`.  0 / -1. */
int hs_plan_star_bindings(HsJob *job, PyObject *code, PyObject *into);

/* Does unchanged chunk k bind `name` when it runs?  1 / 0 / -1. */
int hs_plan_kept_chunk_binds(HsJob *job, Py_ssize_t k, PyObject *name);

/* Is v a class this module's source defined?  Decided by where the
 * functions of its body were compiled, then by __module__, then (when
 * __module__ was rewritten and `qualname`, the qualified name its class
 * statement would give, is known) by the statements of the source.
 * 1 / 0 / -1. */
int hs_plan_is_own_class(HsJob *job, PyObject *v, PyObject *qualname);

/* PLAN's record of the class statement `name` met while staging chunk
 * `chunk` (depth 0, `parent` NULL; -1 in HS_MODE_FULL) or nested in the
 * class statement `parent`: where its text is, old and new, what its
 * header's text says, and its member statements matched (unchanged,
 * moved, changed, added; old ones unmatched were removed).  `out` is
 * overwritten; clear it with hs_plan_class_clear, also after -1. */
int hs_plan_class(const HsJob *job, Py_ssize_t chunk,
                  const HsClassPlan *parent, PyObject *name, HsClassPlan *out);
/* Free what an HsClassPlan owns (its member plan); leaves it empty. */
void hs_plan_class_clear(HsClassPlan *cp);

/* The header verdict of a class statement from its plan and the
 * comparisons of what its header evaluated to. */
HsHeaderVerdict hs_plan_header_verdict(const HsClassPlan *cp,
                                       const HsHeaderFacts *f);

#endif
