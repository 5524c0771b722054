/* state.h -- the module state, shared by module.c, track.c and reload.c. */
#ifndef HS_STATE_H
#define HS_STATE_H

#include "compat.h"
#include "dunders.h"

/* What funcs.c keeps across batches (each a strong dict, or NULL until
 * first needed; every write through a batch's undo log, which reaches
 * them as txn->records).  In the module state, not in statics: a second
 * module object (multi-phase init, `del sys.modules[...]` and import)
 * has its own, and they are visited and released with the state. */
struct HsFuncRecords {
    PyObject *spare_cells; /* strong: cells a closure lost (funcs.c) */
    PyObject *aliases;     /* strong: functions following a code (HS102) */
    PyObject *left_behind; /* strong: codes closures kept (HS104) */
};

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
    struct HsFuncRecords records; /* strong: funcs.c's (above) */
    int allow_world_writable;
    int watch_partial; /* watch(partial=True): the watcher's batches
                          apply what they can (HS_RELOAD_PARTIAL) */
    int busy;          /* a batch is running */
    HsDunders dunders; /* strong: interned names (dunders.h) */
};

typedef struct HsState HsState;

HsState *hs_state(PyObject *module);

#endif
