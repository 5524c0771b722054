/* safepoint.h -- running a batch on the main thread: pending calls,
 * poll(), hooks and the events of automatic reloads. */
#ifndef HS_SAFEPOINT_H
#define HS_SAFEPOINT_H

#include "compat.h"
#include "state.h"

/* The watcher's notify function (no GIL): schedule the pending call.
 * `arg` is the hotswap._core module.  0, or -1 to be retried. */
int hs_safepoint_notify_nogil(void *arg);

/* Apply the changes the watcher gathered (main thread, GIL).  Returns the
 * Report (ok or not), None when nothing was pending, or NULL on an
 * internal error.  A failed reload is logged, not raised. */
PyObject *hs_safepoint_apply(PyObject *core);

/* Call every hook of `hooks` with `arg`; a failing hook is logged (through
 * st's log sink, when set). */
int hs_safepoint_run_hooks(HsState *st, PyObject *hooks, PyObject *arg);

/* The files of the tracked modules (a new list of str). */
PyObject *hs_safepoint_tracked_files(HsState *st);

/* The names of the modules whose last automatic reload failed and that
 * later batches take along (safepoint.c, "blocked modules").  New list. */
PyObject *hs_safepoint_blocked(HsState *st);

/* Call hotswap.events.<name>(arg) (arg NULL: no argument): the Python
 * shell's wording of events ("events" in safepoint.c).  New reference,
 * or NULL with an exception. */
PyObject *hs_safepoint_call_events(const char *name, PyObject *arg);

/* Waking the main thread with SIGURG after scheduling a reload (see
 * "waking" in safepoint.c).  start: install the no-op handler if SIGURG
 * has none and this is the main thread (wanted=0: stop); never fails.
 * stop: no more signals, SIG_DFL back if our handler is still there.
 * waking: 1 while signals are sent.  GIL held. */
int hs_safepoint_wake_start(HsState *st, int wanted);
void hs_safepoint_wake_stop(HsState *st);
int hs_safepoint_waking(void);

#endif
