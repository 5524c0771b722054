/* safepoint.c -- getting a reload onto the main thread, and the mechanism
 * around it: changed paths to modules, blocked modules, the events it
 * hands to Python, the world-writable check.
 *
 * hs_safepoint_notify_nogil() is called by the watcher thread without the
 * GIL.  It schedules safepoint_pending() with Py_AddPendingCall, which the
 * interpreter runs on the main thread between two bytecodes.  On 3.9-3.12
 * a pending call added by a thread that does not hold the GIL may wait
 * until the main thread blocks (CPython gh-95820): taking the GIL around
 * the call makes the main thread drop it and notice the call within a
 * switch interval.  3.13 wakes the main thread directly.
 *
 * A pending call runs only when the main thread runs bytecode: one blocked
 * in epoll_wait (an idle asyncio loop), select() or time.sleep() would
 * run it at its next wake-up, seconds later.  So after scheduling it the
 * watcher sends SIGURG to the main thread ("waking" below).
 *
 * Everything else here runs on the main thread with the GIL: the pending
 * call itself and hotswap.poll().  Both take the changed paths from the
 * watcher and hand them to one Python function,
 * hotswap._live._on_changes(paths), which owns the policy around a batch
 * (the hooks, last_report) and calls back here for the mechanism:
 * hs_safepoint_batch_for() (paths to modules, the blocked ones taken
 * along) and hs_safepoint_apply_batch() (the batch, which is hs_reload()
 * (reload.c) on batch.c's lifecycle, like reload()'s).  A failed
 * automatic reload is handed to the sink as an event ("events" below:
 * Python words it) and never raised into the code the pending call
 * interrupted.
 */
#include "safepoint.h"
#include "batch.h"
#include "reload.h"
#include "state.h"
#include "track.h"
#include "watch.h"

#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <pthread.h>

/* ------------------------------------------------------------------ */
/* events                                                              */

/* A general note on events.
 *
 * The core says what happened to an automatic reload as data, never as a
 * line of text: a dict whose "event" names it, with the objects it is
 * about --
 *   {"event": "applied", "report": Report}         every applied batch
 *   {"event": "failed", "error": ReloadError, "report": Report or None}
 *   {"event": "world_writable", "filename": str}   a file not reloaded
 *   {"event": "hook_failed", "hook": fn, "error": exception}
 *   {"event": "still_blocked", "error": ReloadError}
 * -- handed to the sink set with set_log_sink(), or, without one, to
 * hotswap.events.to_logger().  Which events become lines, their words,
 * their levels and where they go are the Python shell's policy
 * (src/hotswap/events.py): the CLI words them for its own channel, a
 * library user gets them through the "hotswap" logger. */

/* Call <module>.<name>(arg) (arg NULL: no argument).  New reference, or
 * NULL with an exception. */
static PyObject *
call_python(const char *module, const char *name, PyObject *arg)
{
    PyObject *mod = PyImport_ImportModule(module);
    PyObject *fn = mod ? PyObject_GetAttrString(mod, name) : NULL;
    PyObject *r = NULL;
    if (fn != NULL) {
        r = arg ? PyObject_CallOneArg(fn, arg) : PyObject_CallNoArgs(fn);
    }
    Py_XDECREF(mod);
    Py_XDECREF(fn);
    return r;
}

PyObject *
hs_safepoint_call_events(const char *name, PyObject *arg)
{
    return call_python("hotswap.events", name, arg);
}

void
hs_safepoint_emit_event(HsState *st, PyObject *event)
{
    PyObject *exc = PyErr_GetRaisedException();
    PyObject *r = NULL;
    if (st->log_sink != NULL) {
        PyObject *sink = Py_NewRef(st->log_sink);
        r = PyObject_CallOneArg(sink, event);
        Py_DECREF(sink);
    }
    else {
        r = hs_safepoint_call_events("to_logger", event);
    }
    if (r == NULL) {
        PyErr_WriteUnraisable(event);
    }
    Py_XDECREF(r);
    PyErr_SetRaisedException(exc);
}

/* Hand the event `name` to the sink: the NULL-terminated (const char *key,
 * PyObject *value) pairs that follow are its fields (a NULL value: None).
 * Never fails: an error is reported as unraisable, and the current
 * exception is kept. */
static void
emit(HsState *st, const char *name, ...)
{
    PyObject *exc = PyErr_GetRaisedException();
    PyObject *event = PyDict_New();
    PyObject *kind = event ? PyUnicode_FromString(name) : NULL;
    int ok = kind != NULL && PyDict_SetItemString(event, "event", kind) == 0;
    va_list va;
    va_start(va, name);
    for (const char *key; ok && (key = va_arg(va, const char *)) != NULL;) {
        PyObject *value = va_arg(va, PyObject *);
        ok = PyDict_SetItemString(event, key, value ? value : Py_None) == 0;
    }
    va_end(va);
    if (ok) {
        hs_safepoint_emit_event(st, event);
    }
    else {
        PyErr_WriteUnraisable(event ? event : Py_None);
    }
    Py_XDECREF(kind);
    Py_XDECREF(event);
    PyErr_SetRaisedException(exc);
}

/* ------------------------------------------------------------------ */
/* changed paths -> modules                                            */

/* 1 / 0 / -1. */
static int
world_writable(PyObject *path)
{
    PyObject *b = PyUnicode_EncodeFSDefault(path);
    if (b == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
            return -1;
        }
        PyErr_Clear(); /* a name no file system call can take */
        return 0;
    }
    struct stat st;
    int r = stat(PyBytes_AS_STRING(b), &st) == 0 && (st.st_mode & S_IWOTH);
    Py_DECREF(b);
    return r;
}

static PyObject *
realpath_of(PyObject *path)
{
    PyObject *os_path = PyImport_ImportModule("os.path");
    PyObject *r =
        os_path ? PyObject_CallMethod(os_path, "realpath", "O", path) : NULL;
    Py_XDECREF(os_path);
    return r;
}

static int
is_dir_prefix(PyObject *dir, PyObject *file)
{
    PyObject *prefix = PyUnicode_FromFormat("%U/", dir);
    if (prefix == NULL) {
        return -1;
    }
    Py_ssize_t r = PyUnicode_Tailmatch(file, prefix, 0, PY_SSIZE_T_MAX, -1);
    Py_DECREF(prefix);
    return r < 0 ? -1 : (int)r;
}

/* The tracked modules whose file is one of `paths` (or lies below one
 * of them, after an inotify queue overflow).  New list. */
static PyObject *
modules_for_paths(HsState *st, PyObject *paths)
{
    PyObject *mods = hs_track_modules(st, 0);
    PyObject *result = PyList_New(0);
    PyObject *wanted = PySet_New(NULL);
    if (mods == NULL || result == NULL || wanted == NULL) {
        goto error;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(paths); i++) {
        PyObject *p = PyList_GET_ITEM(paths, i);
        PyObject *real = realpath_of(p);
        if (real == NULL || PySet_Add(wanted, p) < 0
            || PySet_Add(wanted, real) < 0)
        {
            Py_XDECREF(real);
            goto error;
        }
        Py_DECREF(real);
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(mods); i++) {
        PyObject *m = PyList_GET_ITEM(mods, i);
        PyObject *file = NULL;
        if (PyObject_GetOptionalAttrString(m, "__file__", &file) < 0) {
            goto error;
        }
        if (file == NULL || !PyUnicode_Check(file)) {
            Py_XDECREF(file);
            continue;
        }
        int hit = PySet_Contains(wanted, file);
        if (hit == 0) {
            PyObject *real = realpath_of(file);
            hit = real ? PySet_Contains(wanted, real) : -1;
            for (Py_ssize_t j = 0; hit == 0 && j < PyList_GET_SIZE(paths); j++)
            {
                hit =
                    real ? is_dir_prefix(PyList_GET_ITEM(paths, j), real) : -1;
            }
            Py_XDECREF(real);
        }
        int ww =
            hit == 1 && !st->allow_world_writable ? world_writable(file) : 0;
        if (ww != 0) {
            if (ww > 0) {
                emit(st, "world_writable", "filename", file, NULL);
            }
            hit = ww < 0 ? -1 : 0;
        }
        Py_DECREF(file);
        if (hit < 0 || (hit == 1 && PyList_Append(result, m) < 0)) {
            goto error;
        }
    }
    Py_DECREF(mods);
    Py_DECREF(wanted);
    return result;
error:
    Py_XDECREF(mods);
    Py_XDECREF(result);
    Py_XDECREF(wanted);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* blocked modules                                                     */

/* A general note on blocked modules.
 *
 * An automatic batch that fails leaves its modules running their old
 * code while their files hold the new source: "blocked".  The cause may
 * lie in another file (urls.py saved before the views.py it names: HS504
 * for want of a name), so fixing that file must also bring in the blocked
 * edit.  The rule: every later automatic batch takes the blocked modules
 * along (the reload compares each with its snapshot, so one whose file
 * went back to what runs is simply unchanged), and they apply together,
 * all or nothing, in dependency order.  When the combined batch fails in
 * a module that is only there because it was blocked, that module is left
 * out and the rest is tried again (at most once per blocked module): an
 * old failure never holds back a new edit that applies on its own.  The
 * module stays blocked, and one line says so.  A batch that applies
 * unblocks all its modules; one that fails in a module saved for it
 * blocks every module of the batch.  st->blocked holds the names in the
 * order they were blocked. */

static int
blocked_add(HsState *st, PyObject *mods)
{
    if (st->blocked == NULL && (st->blocked = PyDict_New()) == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(mods); i++) {
        PyObject *n = PyModule_GetNameObject(PyList_GET_ITEM(mods, i));
        int r = n ? PyDict_SetItem(st->blocked, n, Py_None) : -1;
        Py_XDECREF(n);
        if (r < 0) {
            return -1;
        }
    }
    return 0;
}

static int
blocked_remove(HsState *st, PyObject *mods)
{
    for (Py_ssize_t i = 0; st->blocked && i < PyList_GET_SIZE(mods); i++) {
        PyObject *n = PyModule_GetNameObject(PyList_GET_ITEM(mods, i));
        if (n == NULL) {
            return -1;
        }
        if (PyDict_DelItem(st->blocked, n) < 0) {
            if (!PyErr_ExceptionMatches(PyExc_KeyError)) {
                Py_DECREF(n);
                return -1;
            }
            PyErr_Clear();
        }
        Py_DECREF(n);
    }
    return 0;
}

/* Append to `mods` the blocked modules it does not hold yet; forget the
 * blocked names that are no longer in sys.modules. */
static int
blocked_join(HsState *st, PyObject *mods)
{
    if (st->blocked == NULL || PyDict_GET_SIZE(st->blocked) == 0) {
        return 0;
    }
    PyObject *names = PyDict_Keys(st->blocked);
    if (names == NULL) {
        return -1;
    }
    PyObject *modules = PyImport_GetModuleDict(); /* borrowed */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(names); i++) {
        PyObject *n = PyList_GET_ITEM(names, i);
        PyObject *m = PyDict_GetItemWithError(modules, n); /* borrowed */
        if (m == NULL && PyErr_Occurred()) {
            goto error;
        }
        if (m == NULL || !PyModule_Check(m)) {
            if (PyDict_DelItem(st->blocked, n) < 0) {
                goto error;
            }
            continue;
        }
        int have = 0;
        for (Py_ssize_t j = 0; j < PyList_GET_SIZE(mods); j++) {
            have |= PyList_GET_ITEM(mods, j) == m;
        }
        if (!have && PyList_Append(mods, m) < 0) {
            goto error;
        }
    }
    Py_DECREF(names);
    return 0;
error:
    Py_DECREF(names);
    return -1;
}

/* The index in mods[fresh:] of the module the pending ReloadError names,
 * or -1 (the error is left set either way). */
static Py_ssize_t
blocked_failed_index(PyObject *mods, Py_ssize_t fresh)
{
    PyObject *name = NULL;
    Py_ssize_t found = -1;
    PyObject *exc = PyErr_GetRaisedException();
    if (exc != NULL) {
        name = PyObject_GetAttrString(exc, "module");
    }
    for (Py_ssize_t i = fresh;
         name != NULL && found < 0 && i < PyList_GET_SIZE(mods); i++)
    {
        PyObject *n = PyModule_GetNameObject(PyList_GET_ITEM(mods, i));
        found = n && PyObject_RichCompareBool(n, name, Py_EQ) == 1 ? i : -1;
        Py_XDECREF(n);
    }
    Py_XDECREF(name);
    /* swallow: reading the pending error's module name; exc is raised
     * again as it was */
    PyErr_Clear();
    PyErr_SetRaisedException(exc);
    return found;
}

/* Reload `mods` (its first `fresh` modules saved for this batch, the
 * rest blocked), leaving out blocked modules that fail; see the note
 * above.  Returns the Report, or NULL with the final error set. */
static PyObject *
blocked_reload(HsState *st, PyObject *core, PyObject *mods, Py_ssize_t fresh)
{
    PyObject *report = NULL, *still = NULL; /* a left-out module's error */
    Py_ssize_t tries = PyList_GET_SIZE(mods) - fresh;
    for (;;) {
        report = hs_reload(core, mods, NULL,
                           HS_RELOAD_ONLY_CHANGED
                               | (st->watch_partial ? HS_RELOAD_PARTIAL : 0));
        if (report != NULL || tries-- <= 0
            || !PyErr_ExceptionMatches(st->reload_error))
        {
            break;
        }
        Py_ssize_t k = blocked_failed_index(mods, fresh);
        if (k < 0) {
            break;
        }
        Py_XSETREF(still, PyErr_GetRaisedException());
        if (PySequence_DelItem(mods, k) < 0) {
            goto done;
        }
    }
    if (report != NULL) {
        if (blocked_remove(st, mods) < 0) {
            Py_CLEAR(report);
            goto done;
        }
        if (still != NULL) {
            emit(st, "still_blocked", "error", still, NULL);
        }
    }
    else if (PyErr_ExceptionMatches(st->reload_error)) {
        PyObject *exc = PyErr_GetRaisedException();
        if (blocked_add(st, mods) < 0) {
            PyErr_WriteUnraisable(NULL);
        }
        PyErr_SetRaisedException(exc);
    }
done:
    Py_XDECREF(still);
    return report;
}

PyObject *
hs_safepoint_blocked(HsState *st)
{
    return st->blocked ? PyDict_Keys(st->blocked) : PyList_New(0);
}

/* ------------------------------------------------------------------ */
/* applying pending changes                                            */

static int wake_check(HsState *st);

/* The collector is paused for the whole batch and its messages (batch.c,
 * "the collector during a batch"): the hooks (hotswap._live) and the log
 * sink run Python code too. */

static PyObject *safepoint_apply(PyObject *core);

PyObject *
hs_safepoint_apply(PyObject *core)
{
    int paused = hs_batch_gc_pause();
    PyObject *r = safepoint_apply(core);
    hs_batch_gc_resume(paused);
    return r;
}

static PyObject *
safepoint_apply(PyObject *core)
{
    HsState *st = hs_state(core);
    if (st == NULL) {
        return NULL;
    }
    if (hs_batch_running(st)) {
        /* a pending call inside a reload (staged code runs bytecodes):
         * try again once it is over */
        hs_watch_retry_later();
        Py_RETURN_NONE;
    }
    wake_check(st);
    PyObject *paths = hs_watch_take_changes();
    if (paths == NULL) {
        return NULL;
    }
    PyObject *r = NULL;
    if (PyList_GET_SIZE(paths) == 0) {
        r = Py_NewRef(Py_None);
    }
    else {
        /* the hooks, last_report: the Python shell's (hotswap._live) */
        r = call_python("hotswap._live", "_on_changes", paths);
    }
    Py_DECREF(paths);
    /* (modules imported by the new code: inotify watches whole
     * directories, and the polling backend looks for new files itself) */
    return r;
}

PyObject *
hs_safepoint_batch_for(HsState *st, PyObject *paths)
{
    PyObject *mods = modules_for_paths(st, paths);
    if (mods == NULL) {
        return NULL;
    }
    if (PyList_GET_SIZE(mods) == 0) {
        Py_DECREF(mods);
        Py_RETURN_NONE;
    }
    Py_ssize_t fresh = PyList_GET_SIZE(mods);
    if (blocked_join(st, mods) < 0) {
        Py_DECREF(mods);
        return NULL;
    }
    return Py_BuildValue("(Nn)", mods, fresh);
}

PyObject *
hs_safepoint_apply_batch(PyObject *core, PyObject *mods, Py_ssize_t fresh)
{
    HsState *st = hs_state(core);
    if (st == NULL) {
        return NULL;
    }
    PyObject *report = blocked_reload(st, core, mods, fresh);
    if (report == NULL) {
        if (!PyErr_ExceptionMatches(st->reload_error)) {
            return NULL;
        }
        PyObject *exc = PyErr_GetRaisedException();
        report = exc ? PyObject_GetAttrString(exc, "report") : NULL;
        /* swallow: a ReloadError without its report is told without it */
        PyErr_Clear();
        if (report == NULL) {
            report = Py_NewRef(Py_None);
        }
        emit(st, "failed", "error", exc, "report", report, NULL);
        hs_watch_count(1);
        Py_XDECREF(exc);
    }
    else {
        emit(st, "applied", "report", report, NULL);
        hs_watch_count(0);
    }
    return report;
}

PyObject *
hs_safepoint_tracked_files(HsState *st)
{
    PyObject *mods = hs_track_modules(st, 0);
    if (mods == NULL) {
        return NULL;
    }
    PyObject *files = PyList_New(0);
    for (Py_ssize_t i = 0; files && i < PyList_GET_SIZE(mods); i++) {
        PyObject *f = NULL;
        if (PyObject_GetOptionalAttrString(PyList_GET_ITEM(mods, i),
                                           "__file__", &f)
            < 0)
        {
            Py_CLEAR(files);
            break;
        }
        if (f != NULL && PyUnicode_Check(f) && PyList_Append(files, f) < 0) {
            Py_CLEAR(files);
        }
        Py_XDECREF(f);
    }
    Py_DECREF(mods);
    return files;
}

static int
safepoint_pending(void *arg)
{
    /* Runs between two bytecodes of whatever the main thread was doing:
     * never let an error escape into that code. */
    PyObject *exc = PyErr_GetRaisedException();
    PyObject *r = hs_safepoint_apply((PyObject *)arg);
    if (r == NULL) {
        PyErr_WriteUnraisable((PyObject *)arg);
    }
    Py_XDECREF(r);
    PyErr_SetRaisedException(exc);
    return 0;
}

/* ------------------------------------------------------------------ */
/* waking                                                              */

/* A general note on waking an idle main thread.
 *
 * CPython runs pending calls between two bytecodes, so a main thread
 * blocked in a system call (epoll_wait in an idle asyncio loop, select,
 * clock_nanosleep in time.sleep, a lock) runs ours only when that call
 * returns.  A signal with a handler makes those calls fail with EINTR;
 * CPython then calls PyErr_CheckSignals() before retrying them (PEP 475),
 * which calls the Python-level handler of the signal.  That handler is a
 * Python function: executing it goes through the eval loop, which sees
 * the eval breaker our Py_AddPendingCall set and runs the pending call
 * there (measured on 3.9-3.15: tests/test_wake.py).  A C handler would
 * not do: it runs no bytecode, and the call would be retried at once.
 *
 * SIGURG, because its default action is to ignore it: a signal that
 * reaches a process where our handler is gone does nothing.  watch()
 * installs the handler only when SIGURG has none (SIG_DFL) and watch()
 * runs on the main thread; a program that installs its own SIGURG handler
 * later keeps it, and the next reload sees that and stops waking (at
 * most one extra call of the program's handler).  unwatch() restores
 * SIG_DFL if our handler is still there.
 *
 * The watcher thread reads two variables and calls pthread_kill(): no
 * Python API.  wake_on is written with the GIL held, after wake_thread.
 */
static pthread_t wake_thread;
static atomic_int wake_on = 0;

static PyObject *
wake_handler_new(void)
{
    /* Return a new reference to a no-op Python function (signum, frame). */
    PyObject *globals = PyDict_New();
    PyObject *name = PyUnicode_FromString("hotswap");
    PyObject *r = NULL;
    if (globals == NULL || name == NULL
        || PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins())
               < 0
        || PyDict_SetItemString(globals, "__name__", name) < 0)
    {
        goto done;
    }
    r = PyRun_String("def _hotswap_wake(signum, frame):\n"
                     "    \"hotswap: wake the main thread for a reload\"\n",
                     Py_file_input, globals, globals);
    Py_CLEAR(r);
    r = PyDict_GetItemString(globals, "_hotswap_wake");
    Py_XINCREF(r);
done:
    Py_XDECREF(globals);
    Py_XDECREF(name);
    return r;
}

/* 1 when the calling thread is the main thread, else 0 (GIL held). */
static int
on_main_thread(void)
{
    PyObject *threading = PyImport_ImportModule("threading");
    PyObject *main =
        threading ? PyObject_CallMethod(threading, "main_thread", NULL) : NULL;
    PyObject *ident = main ? PyObject_GetAttrString(main, "ident") : NULL;
    unsigned long id = ident ? PyLong_AsUnsignedLong(ident) : 0;
    int r = ident != NULL && !PyErr_Occurred()
            && id == PyThread_get_thread_ident();
    /* swallow: waking is an optimisation; unknown is "not the main" */
    PyErr_Clear();
    Py_XDECREF(threading);
    Py_XDECREF(main);
    Py_XDECREF(ident);
    return r;
}

int
hs_safepoint_wake_start(HsState *st, int wanted)
{
    PyObject *signal = NULL, *cur = NULL, *dfl = NULL, *r = NULL;
    int result = -1;
    if (!wanted) {
        hs_safepoint_wake_stop(st);
        return 0;
    }
    if (!on_main_thread()) {
        return 0; /* signal.signal() works on the main thread only */
    }
    signal = PyImport_ImportModule("signal");
    if (signal == NULL) {
        goto done;
    }
    cur = PyObject_CallMethod(signal, "getsignal", "i", SIGURG);
    dfl = cur ? PyObject_GetAttrString(signal, "SIG_DFL") : NULL;
    if (dfl == NULL) {
        goto done;
    }
    if (st->wake_handler != NULL && cur == st->wake_handler) {
        /* already ours */
    }
    else if (PyObject_RichCompareBool(cur, dfl, Py_EQ) == 1) {
        if (st->wake_handler == NULL) {
            st->wake_handler = wake_handler_new();
            if (st->wake_handler == NULL) {
                goto done;
            }
        }
        r = PyObject_CallMethod(signal, "signal", "iO", SIGURG,
                                st->wake_handler);
        if (r == NULL) {
            goto done;
        }
    }
    else {
        /* the program handles SIGURG itself: do not wake */
        atomic_store(&wake_on, 0);
        result = 0;
        goto done;
    }
    wake_thread = pthread_self();
    atomic_store(&wake_on, 1);
    result = 0;
done:
    PyErr_Clear(); /* swallow: waking is an optimisation: never fail watch() */
    Py_XDECREF(signal);
    Py_XDECREF(cur);
    Py_XDECREF(dfl);
    Py_XDECREF(r);
    return result < 0 ? 0 : result;
}

/* Return 1 when our handler is still SIGURG's, else 0 (and stop waking). */
static int
wake_check(HsState *st)
{
    if (!atomic_load(&wake_on)) {
        return 0;
    }
    PyObject *signal = PyImport_ImportModule("signal");
    PyObject *cur =
        signal ? PyObject_CallMethod(signal, "getsignal", "i", SIGURG) : NULL;
    int ours = cur != NULL && cur == st->wake_handler;
    PyErr_Clear(); /* swallow: in the pending call; unknown: stop waking */
    Py_XDECREF(signal);
    Py_XDECREF(cur);
    if (!ours) {
        atomic_store(&wake_on, 0);
    }
    return ours;
}

void
hs_safepoint_wake_stop(HsState *st)
{
    atomic_store(&wake_on, 0);
    if (st->wake_handler == NULL || !on_main_thread()) {
        return;
    }
    PyObject *signal = PyImport_ImportModule("signal");
    PyObject *cur =
        signal ? PyObject_CallMethod(signal, "getsignal", "i", SIGURG) : NULL;
    PyObject *dfl = cur ? PyObject_GetAttrString(signal, "SIG_DFL") : NULL;
    if (dfl != NULL && cur == st->wake_handler) {
        PyObject *r = PyObject_CallMethod(signal, "signal", "iO", SIGURG, dfl);
        Py_XDECREF(r);
    }
    Py_XDECREF(dfl);
    PyErr_Clear(); /* swallow: unwatch() and exit never fail on waking */
    Py_XDECREF(signal);
    Py_XDECREF(cur);
}

int
hs_safepoint_waking(void)
{
    return atomic_load(&wake_on);
}

int
hs_safepoint_notify_nogil(void *arg)
{
    /* Called by the watcher thread, which holds no GIL. */
#if HS_PENDING_CALL_NEEDS_GIL
    if (!Py_IsInitialized()) {
        return 0;
    }
    PyGILState_STATE g = PyGILState_Ensure();
    int r = Py_AddPendingCall(safepoint_pending, arg);
    PyGILState_Release(g);
#else
    int r = Py_AddPendingCall(safepoint_pending, arg);
#endif
    if (r == 0 && atomic_load(&wake_on)) {
        pthread_kill(wake_thread, SIGURG);
    }
    return r < 0 ? -1 : 0;
}
