/* job.h -- one module's reload inside a batch, shared by the stages. */
#ifndef HS_JOB_H
#define HS_JOB_H

#include "compat.h"
#include "dunders.h"
#include "heap.h"
#include "source.h"
#include "txn.h"

typedef enum {
    HS_MODE_NORMAL = 0, /* chunk by chunk against a snapshot */
    HS_MODE_FULL,       /* whole file compiled and run (HS001) */
    HS_MODE_NOSNAP,     /* no snapshot: compare with live code (HS002) */
} HsMode;

typedef enum {
    HS_ST_UNCHANGED = 0,
    HS_ST_MOVED,
    HS_ST_CHANGED,
    HS_ST_ADDED,
    HS_ST_RERUN, /* unchanged, run again: a changed statement needs a name
                  * it binds that the live module no longer has */
} HsChunkState;

/* What PLAN decided about the decorators of a changed def or class
 * statement (HsJob.deco, per new chunk). */
typedef enum {
    HS_DECO_RUN = 0,      /* staged with the statement: none, or a def's that
                           * changed, or a def decorated again because its
                           * decorator's definition changed */
    HS_DECO_KEPT,         /* unchanged: left out of the staged text, the live
                           * object keeps what they did */
    HS_DECO_KEPT_CHANGED, /* a class's that changed: left out all the same
                           * (class decorators never run again on the
                           * live class); reported (HS206) */
} HsDecorators;

/* ------------------------------------------------------------------ */
/* class statements: PLAN's record, STAGE's result, the header verdict   */

/* Where a class statement's text is, in the old and the new source.
 * Offsets are -1 when unknown (a class inside an `if`, no snapshot). */
typedef struct {
    Py_ssize_t old_start, old_head, old_body, old_end;
    Py_ssize_t new_start, new_head, new_body, new_end;
    int old_body_line, new_body_line;
    int new_line; /* line of the class statement, for the report */
} HsClassRanges;

/* What the text of a class header ("class C(...):") says. */
typedef enum {
    HS_HEADER_TEXT_UNKNOWN = 0, /* no old header to compare with */
    HS_HEADER_TEXT_SAME,        /* the same text as in the snapshot */
    HS_HEADER_TEXT_CHANGED,
} HsHeaderText;

/* PLAN's plan of a class body's member statements (hs_plan_class): the
 * old and the new body scanned, and matched by the matcher of the
 * module's statements (plan.c's plan_match). */
typedef struct {
    int matched;        /* both bodies scanned, neither unsure: state,
                         * match and old_matched are set */
    HsChunkList nm, om; /* owned: new and old member statements (nm also
                         * when there is no old body) */
    signed char *state; /* PyMem: per new member, an HsChunkState */
    Py_ssize_t *match;  /* PyMem: per new member, old index or -1 */
    char *old_matched;  /* PyMem: per old member */
} HsMemberPlan;

/* PLAN's record of one class statement whose class exists, top-level or
 * nested (hs_plan_class, plan.c): a pure function of the two texts and
 * the statement match.  Owns its member plan: freed by
 * hs_plan_class_clear (STAGE's frame on failure, batch.c's job clear). */
typedef struct {
    HsClassRanges ranges;
    HsHeaderText header;
    int old_header_keywords; /* the old header had a keyword ("x=...") */
    HsMemberPlan members;    /* owned */
} HsClassPlan;

/* The verdict on a class header.  Decided by hs_plan_header_verdict
 * (plan.c) from the HsClassPlan and the comparisons APPLY makes of what
 * the header evaluated to (HsHeaderFacts). */
typedef enum {
    HS_HEADER_SAME = 0,  /* the bases, metaclass and keywords it has */
    HS_HEADER_BASES,     /* other bases: set through __bases__ */
    HS_HEADER_METACLASS, /* another metaclass: reported (HS202) */
    HS_HEADER_KEYWORDS,  /* same bases and metaclass, other class
                          * keywords: reported (HS202) unless a typing
                          * metaclass built a shadow class */
} HsHeaderVerdict;

/* The comparisons of evaluated objects a header verdict needs (APPLY,
 * classes.c, from an HsClassUpdate). */
typedef struct {
    int bases_equal;        /* the evaluated bases are klass.__bases__ */
    int metaclass_changed;  /* metaclass= names another than type(klass) */
    int has_keywords;       /* class keywords other than metaclass= */
    int shadow_bases_equal; /* the shadow's __bases__ are klass.__bases__ */
} HsHeaderFacts;

/* One existing class whose statement STAGE ran: what its header and body
 * evaluated to.  Written by STAGE's __build_class__ hook (stage.c) alone;
 * APPLY (classes.c, live.c) reads it. */
typedef struct {
    PyObject *klass;     /* strong: the existing class */
    PyObject *ns;        /* strong: the namespace the new body ran into */
    PyObject *bases;     /* strong: the evaluated bases after
                          * __mro_entries__, (object,) for "class C:" */
    PyObject *old_bases; /* strong: klass.__bases__ when it ran */
    PyObject *metaclass; /* strong: the metaclass= keyword, or NULL */
    PyObject *keywords;  /* strong dict: the other class keywords */
    PyObject *shadow;    /* strong or NULL: a class built from the new
                          * body by a typing metaclass, for its derived
                          * data */
    PyObject *prepared;  /* strong or NULL: a copy of what the
                          * metaclass's __prepare__ put in ns */
    HsClassPlan plan;    /* owned: PLAN's record of the statement
                          * (moved here from STAGE's class frame) */
} HsClassUpdate;

/* HsJob's fields are grouped by the one stage that writes them; a later
 * stage only reads them.  C cannot make a member const for some readers
 * only, so this is a rule of the source, written on each group. */

/* SOURCE's output: the new text, split, and the snapshot it is compared
 * with.  Written by reload.c (prepare_job: read, compare, scan) and
 * patch.c (hotswap.patch(): `changed` only). */
typedef struct {
    PyObject *raw;           /* strong: new file bytes */
    PyObject *text;          /* strong: new text, UTF-8 bytes */
    PyObject *snap;          /* strong: the snapshot, or NULL */
    const char *old_text;    /* borrowed from snap */
    HsChunkList *old_chunks; /* borrowed from snap, or NULL */
    HsChunkList chunks;      /* new chunks (owned) */
    int changed;             /* the source differs from the snapshot */
} HsSource;

/* PLAN's output: the mode, one verdict per statement, the code STAGE
 * runs.  Written by plan.c, compile.c and compound.c (PLAN) alone;
 * chunk_binds is a cache PLAN's queries fill lazily, also when a later
 * stage asks them. */
typedef struct {
    HsMode mode;           /* the only writers: plan.c, compile.c */
    signed char *state;    /* per new chunk: an HsChunkState (PyMem) */
    Py_ssize_t *match;     /* per new chunk: old index or -1 (PyMem) */
    char *old_matched;     /* per old chunk (PyMem) */
    HsDecorators *deco;    /* per new chunk (PyMem) */
    PyObject *codes;       /* strong list: code per new chunk or None
                            * (compile.c) */
    PyObject *full_code;   /* strong: HS_MODE_FULL's code (compile.c) */
    int cf_flags;          /* the module's __future__ flags (compile.c) */
    PyObject *chunk_binds; /* strong dict, filled lazily by plan.c:
                            * kept chunk index -> set of the names it
                            * binds (star imports resolved); and
                            * compound.c: -1 - edited chunk index ->
                            * set of the names it keeps */
} HsPlan;

/* STAGE's output: what running the compiled statements made.  Written by
 * stage.c alone. */
typedef struct {
    PyObject *scratch;            /* strong: the staging dict */
    HsClassUpdate *class_updates; /* PyMem array, innermost class first */
    Py_ssize_t n_class_updates;
    Py_ssize_t cap_class_updates;
    PyObject *def_results; /* strong list of (chunk index, value bound
                            * by that def right after it ran) */
    PyObject *ann_sets;    /* strong dict or NULL, 3.14+: staged chunk
                            * index -> the __conditional_annotations__
                            * set it made (for annotate.c) */
    PyObject *ann_eager;   /* strong dict or NULL, eager module
                            * annotations: staged chunk index (-1: the
                            * whole file) -> the __annotations__ entries
                            * it stored (for annotate.c) */
} HsStaged;

typedef struct HsJob {
    /* the module, set where the job is built (reload.c, patch.c) */
    PyObject *module;    /* strong */
    PyObject *name;      /* strong: module name */
    PyObject *filename;  /* strong */
    PyObject *dict;      /* strong: the module dict */
    PyObject *policy;    /* borrowed: the batch's policy or NULL */
    struct HsJob *peers; /* borrowed: every job of the batch (this
                          * one included), owned by the batch; NULL
                          * for patch() */
    Py_ssize_t npeers;
    PyTypeObject *change_type; /* borrowed: the Change record type */
    const HsDunders *dunders;  /* borrowed: the module state's */
    int rebuild_layout;        /* opt-in: new class object on HS203 */
    HsHeap *heap;              /* borrowed: the batch's walk (heap.c) */
    /* the stages' outputs */
    HsSource src;
    HsPlan plan;
    HsStaged staged;
    /* APPLY and FINISH */
    PyObject *entries; /* strong list of Change records (report.c) */
    PyObject *live_of; /* strong dict, live.c: id(staged) ->
                        * (staged, the live object it stands for) */
    PyObject *young;   /* strong set of the ids of the objects
                        * staging made, or NULL (live.c) */
    int user_error;    /* APPLY failed in the user's code (a
                        * decorator run again raised): HS504 */
    double seconds;
} HsJob;

#endif
