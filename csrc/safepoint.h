/* safepoint.h -- running a batch on the main thread: pending calls,
 * poll(), blocked modules and the events of automatic reloads. */
#ifndef HS_SAFEPOINT_H
#define HS_SAFEPOINT_H

#include "compat.h"
#include "state.h"

/* The watcher's notify function (no GIL): schedule the pending call.
 * `arg` is the hotswap._core module.  0, or -1 to be retried. */
int hs_safepoint_notify_nogil(void *arg);

/* Apply the changes the watcher gathered (main thread, GIL).  Returns the
 * Report (ok or not), None when nothing was pending, or NULL on an
 * internal error (through hotswap._live._on_changes, which runs the
 * hooks).  A failed reload is an event, not raised. */
PyObject *hs_safepoint_apply(PyObject *core);

/* The batch for the changed `paths`: (modules, fresh), the tracked
 * modules whose file changed first (`fresh` of them), then the blocked
 * ones not among them; None when no tracked module is concerned.  New
 * reference, or NULL with an exception. */
PyObject *hs_safepoint_batch_for(HsState *st, PyObject *paths);

/* Reload the list `mods` of hs_safepoint_batch_for() (mutated: blocked
 * modules that still fail are left out) as the watcher does, and hand the
 * "applied" or "failed" event to the sink.  Returns the Report (ok or
 * not), None for a failure without one, or NULL on an internal error. */
PyObject *hs_safepoint_apply_batch(PyObject *core, PyObject *mods,
                                   Py_ssize_t fresh);

/* Hand an event dict to the sink (set_log_sink()), or without one to
 * hotswap.events.to_logger().  Never fails: an error is reported as
 * unraisable, and the current exception is kept. */
void hs_safepoint_emit_event(HsState *st, PyObject *event);

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
