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

typedef struct HsJob {
    PyObject *module;        /* strong */
    PyObject *name;          /* strong: module name */
    PyObject *filename;      /* strong */
    PyObject *dict;          /* strong: the module dict */
    PyObject *raw;           /* strong: new file bytes */
    PyObject *text;          /* strong: new text, UTF-8 bytes */
    PyObject *snap;          /* strong: the snapshot, or NULL */
    const char *old_text;    /* borrowed from snap */
    HsChunkList *old_chunks; /* borrowed from snap, or NULL */
    HsChunkList chunks;      /* new chunks (owned) */
    signed char *state;      /* per new chunk (PyMem) */
    Py_ssize_t *match;       /* per new chunk: old index or -1 (PyMem) */
    char *old_matched;       /* per old chunk (PyMem) */
    char *stripped;          /* per new chunk: decorators left out */
    PyObject *codes;         /* strong list: code per new chunk or None */
    PyObject *full_code;     /* strong: HS_MODE_FULL's code */
    PyObject *scratch;       /* strong: the staging dict */
    PyObject *class_updates; /* strong list of tuples, see classes.h */
    PyObject *def_results;   /* strong list of (chunk index, value bound
                              * by that def right after it ran) */
    PyObject *entries;       /* strong list of Change records */
    PyObject *chunk_binds;   /* strong dict, filled lazily by plan.c:
                              * kept chunk index -> set of the names it
                              * binds (star imports resolved); and
                              * compound.c: -1 - edited chunk index ->
                              * set of the names it keeps */
    PyObject *live_of;       /* strong dict, live.c: id(staged) ->
                              * (staged, the live object it stands for) */
    PyObject *young;         /* strong set of the ids of the objects
                              * staging made, or NULL */
    PyObject *ann_sets;      /* strong dict or NULL, 3.14+: staged chunk
                              * index -> the __conditional_annotations__
                              * set it made (stage.c, for annotate.c) */
    PyObject *ann_eager;     /* strong dict or NULL, eager module
                              * annotations: staged chunk index (-1:
                              * the whole file) -> the __annotations__
                              * entries it stored (stage.c, for
                              * annotate.c) */
    PyObject *policy;        /* borrowed: the batch's policy or NULL */
    struct HsJob *peers;     /* borrowed: every job of the batch (this
                              * one included), owned by the batch; NULL
                              * for patch() */
    Py_ssize_t npeers;
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
