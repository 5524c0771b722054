/* state.h -- the module state, shared by module.c, track.c and reload.c. */
#ifndef HS_STATE_H
#define HS_STATE_H

#include "compat.h"
#include "dunders.h"

struct HsState {
    PyTypeObject *snapshot_type;      /* strong */
    PyTypeObject *finder_type;        /* strong */
    PyTypeObject *change_type;        /* strong */
    PyTypeObject *module_result_type; /* strong */
    PyTypeObject *report_type;        /* strong */
    PyObject *reload_error;           /* strong: hotswap.ReloadError */
    PyObject *snapshots;     /* strong dict: module name -> Snapshot */
    PyObject *roots;         /* strong list of str: tracked directories */
    PyObject *names;         /* strong list of str: tracked module names */
    PyObject *excluded;      /* strong tuple of str: stdlib, site-packages
                                (hotswap._live.excluded_dirs()), or NULL */
    PyObject *tracked_cache; /* strong dict: __file__ -> under a root? */
    PyObject *orig_reload;  /* strong: importlib.reload when routed, or NULL */
    PyObject *finder;       /* strong: the installed import hook, or NULL */
    PyObject *log_sink;     /* strong: set_log_sink()'s callable, or NULL
                               (then the "hotswap" logger) */
    PyObject *wake_handler; /* strong: the SIGURG handler watch() installed,
                               or NULL (safepoint.c, "waking") */
    PyObject *adapter_hook; /* strong: hotswap.adapters' dispatcher, or
                             * NULL (reload.c calls it, see adapters.c) */
    PyObject *blocked;      /* strong dict: name -> None of modules whose
                             * last automatic reload failed, or NULL
                             * (safepoint.c, "blocked modules") */
    int allow_world_writable;
    int watch_partial; /* watch(partial=True): the watcher's batches
                          apply what they can (HS_RELOAD_PARTIAL) */
    int busy;          /* a batch is running */
    HsDunders dunders; /* strong: interned names (dunders.h) */
};

typedef struct HsState HsState;

HsState *hs_state(PyObject *module);

#endif
