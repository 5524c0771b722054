/* track.h -- which modules are reloadable, and their source snapshots. */
#ifndef HS_TRACK_H
#define HS_TRACK_H

#include "compat.h"
#include "source.h"
#include "state.h"

/* The source a module's running code came from. */
typedef struct {
    PyObject_HEAD
    PyObject *filename; /* strong */
    PyObject *raw;      /* strong: the file's bytes */
    PyObject *text;     /* strong: decoded UTF-8, or NULL until needed */
    HsChunkList chunks; /* valid when scanned */
    int scanned;
} HsSnapshot;

/* Create the Snapshot and finder types.  0 / -1. */
int hs_track_init_types(PyObject *module, PyTypeObject **snapshot,
                        PyTypeObject **finder);

/* A new snapshot.  `text` may be NULL; `chunks` (may be NULL) is moved
 * into the snapshot.  New reference. */
PyObject *hs_snapshot_new(PyTypeObject *type, PyObject *filename,
                          PyObject *raw, PyObject *text, HsChunkList *chunks);

/* Decode and scan a snapshot if not done yet.  0 / -1. */
int hs_snapshot_prepare(HsSnapshot *snap);

/* Take a snapshot of `module` from its file now (replacing any).
 * 0 / -1. */
int hs_track_snapshot_module(HsState *st, PyObject *module);

/* Is this loaded module tracked?  1 / 0 / -1. */
int hs_track_is_tracked(HsState *st, PyObject *name, PyObject *module);

/* The loaded modules that are tracked (a new list).  With
 * snapshot_missing, tracked modules without a snapshot get one now and are
 * left out (they have nothing to compare against yet). */
PyObject *hs_track_modules(HsState *st, int snapshot_missing);

/* Install the import hook that snapshots modules as they are imported.
 * 0 / -1. */
int hs_track_install_finder(HsState *st, PyObject *module);

#endif
