/* watch.h -- the watcher thread (inotify, polling fallback). */
#ifndef HS_WATCH_H
#define HS_WATCH_H

#include "compat.h"

typedef enum {
    HS_WATCH_AUTO = 0,
    HS_WATCH_QUEUED
} HsWatchMode;

typedef struct {
    HsWatchMode mode;
    int force_poll;
    double debounce;      /* seconds */
    double poll_interval; /* seconds */
} HsWatchConfig;

/* Called (no GIL) when a burst of changes settled, in AUTO mode.  Must be
 * callable from the watcher thread; returns 0 when the work was handed
 * over, -1 to be called again later (e.g. full pending-call queue). */
typedef int (*HsWatchNotify)(void *arg);

/* Start the thread, or reconfigure it.  `roots` and `files` are lists of
 * str (real paths): directories watched recursively, and the files the
 * polling backend stats.  `excludes`: a list of fnmatch(3) patterns
 * matched against a path and its last component.  GIL held.  0 / -1 (exception
 * set). */
int hs_watch_start(const HsWatchConfig *cfg, PyObject *roots, PyObject *files,
                   PyObject *excludes, HsWatchNotify notify, void *arg);

/* Replace the polling backend's file list (after new modules were
 * tracked).  GIL held.  0 / -1. */
int hs_watch_set_files(PyObject *files);

/* Stop the thread and wait for it (GIL held; the GIL is released while
 * waiting).  Safe to call when not running. */
void hs_watch_stop(void);

/* os.register_at_fork: before, join the thread (state kept); in the
 * parent, start it again (0 / -1 with an exception set, watching stopped);
 * in the child, forget it (it does not exist there).  GIL held. */
void hs_watch_pause_for_fork(void);
int hs_watch_resume_after_fork(void);
void hs_watch_forget_after_fork(void);

/* Take the changed paths gathered so far (a new list of str, possibly
 * empty) and clear them.  GIL held. */
PyObject *hs_watch_take_changes(void);

/* Put paths back (a reload could not run now); notify again later. */
void hs_watch_retry_later(void);

/* Settings and counters as a dict, or None when not running.  GIL held. */
PyObject *hs_watch_info(void);

/* Count a finished automatic reload (ok or failed). */
void hs_watch_count(int failed);


#endif
