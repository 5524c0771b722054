/* job.h -- one module's reload inside a batch, shared by the stages. */
#ifndef HS_JOB_H
#define HS_JOB_H

#include "compat.h"
#include "dunders.h"
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

/* PLAN's record of one class statement whose class exists, top-level or
 * nested (hs_plan_class, plan.c): a pure function of the two texts and
 * the statement match. */
typedef struct {
    HsClassRanges ranges;
    HsHeaderText header;
    int old_header_keywords; /* the old header had a keyword ("x=...") */
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
    HsClassPlan plan;    /* PLAN's record of the statement (a copy) */
} HsClassUpdate;

typedef struct {
    PyObject *module;             /* strong */
    PyObject *name;               /* strong: module name */
    PyObject *filename;           /* strong */
    PyObject *dict;               /* strong: the module dict */
    PyObject *raw;                /* strong: new file bytes */
    PyObject *text;               /* strong: new text, UTF-8 bytes */
    PyObject *snap;               /* strong: the snapshot, or NULL */
    const char *old_text;         /* borrowed from snap */
    HsChunkList *old_chunks;      /* borrowed from snap, or NULL */
    HsChunkList chunks;           /* new chunks (owned) */
    signed char *state;           /* per new chunk (PyMem) */
    Py_ssize_t *match;            /* per new chunk: old index or -1 (PyMem) */
    char *old_matched;            /* per old chunk (PyMem) */
    char *stripped;               /* per new chunk: decorators left out */
    PyObject *codes;              /* strong list: code per new chunk or None */
    PyObject *full_code;          /* strong: HS_MODE_FULL's code */
    PyObject *scratch;            /* strong: the staging dict */
    HsClassUpdate *class_updates; /* PyMem array, innermost class first:
                                   * STAGE appends (stage.c) */
    Py_ssize_t n_class_updates;
    Py_ssize_t cap_class_updates;
    PyObject *def_results;     /* strong list of (chunk index, value bound
                                * by that def right after it ran) */
    PyObject *entries;         /* strong list of Change records */
    PyObject *chunk_binds;     /* strong dict, filled lazily by plan.c:
                                * kept chunk index -> set of the names it
                                * binds (star imports resolved); and
                                * compound.c: -1 - edited chunk index ->
                                * set of the names it keeps */
    PyObject *live_of;         /* strong dict, live.c: id(staged) ->
                                * (staged, the live object it stands for) */
    PyObject *young;           /* strong set of the ids of the objects
                                * staging made, or NULL */
    PyObject *ann_sets;        /* strong dict or NULL, 3.14+: staged chunk
                                * index -> the __conditional_annotations__
                                * set it made (stage.c, for annotate.c) */
    PyObject *ann_eager;       /* strong dict or NULL, eager module
                                * annotations: staged chunk index (-1:
                                * the whole file) -> the __annotations__
                                * entries it stored (stage.c, for
                                * annotate.c) */
    PyObject *policy;          /* borrowed: the batch's policy or NULL */
    PyTypeObject *change_type; /* borrowed: the Change record type */
    const HsDunders *dunders;  /* borrowed: the module state's */
    HsMode mode;
    int cf_flags;
    int changed;        /* the source differs from the snapshot */
    int rebuild_layout; /* opt-in: new class object on HS203 */
    int user_error;     /* APPLY failed in the user's code (a
                         * decorator run again raised): HS504 */
    double seconds;
} HsJob;

#endif
