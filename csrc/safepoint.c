/* safepoint.c -- getting a reload onto the main thread, and what happens
 * around it: hooks, logging, the world-writable check.
 *
 * hs_safepoint_notify_nogil() is called by the watcher thread without the
 * GIL.  It schedules safepoint_pending() with Py_AddPendingCall, which the
 * interpreter runs on the main thread between two bytecodes.  On 3.9-3.12
 * a pending call added by a thread that does not hold the GIL may wait
 * until the main thread blocks (CPython gh-95820): taking the GIL around
 * the call makes the main thread drop it and notice the call within a
 * switch interval.  3.13 wakes the main thread directly.
 *
 * Everything else here runs on the main thread with the GIL: the pending
 * call itself, hotswap.poll(), and the hooks.  A failed automatic reload
 * is logged (with the user's file and line) and never raised into the
 * code the pending call interrupted.
 */
#include "safepoint.h"
#include "reload.h"
#include "state.h"
#include "track.h"
#include "watch.h"

#include <sys/stat.h>

/* ------------------------------------------------------------------ */
/* logging                                                             */

PyObject *
hs_safepoint_logger(void)
{
    PyObject *logging = PyImport_ImportModule("logging");
    if (logging == NULL) {
        return NULL;
    }
    PyObject *logger = PyObject_CallMethod(logging, "getLogger", "s",
                                           "hotswap");
    Py_DECREF(logging);
    return logger;
}

int
hs_safepoint_ensure_log_handler(void)
{
    /* An application that configured logging routes our lines; one that
     * did not still sees them on stderr. */
    PyObject *logger = hs_safepoint_logger();
    if (logger == NULL) {
        return -1;
    }
    PyObject *has = PyObject_CallMethod(logger, "hasHandlers", NULL);
    int r = has ? PyObject_IsTrue(has) : -1;
    Py_XDECREF(has);
    if (r == 0) {
        PyObject *logging = PyImport_ImportModule("logging");
        PyObject *h = logging ? PyObject_CallMethod(logging, "StreamHandler",
                                                    NULL)
                              : NULL;
        PyObject *fmt = h ? PyObject_CallMethod(logging, "Formatter", "s",
                                                "%(message)s")
                          : NULL;
        PyObject *x = fmt ? PyObject_CallMethod(h, "setFormatter", "O", fmt)
                          : NULL;
        Py_XDECREF(x);
        x = x ? PyObject_CallMethod(logger, "addHandler", "O", h) : NULL;
        Py_XDECREF(x);
        x = x ? PyObject_CallMethod(logger, "setLevel", "i", 20) : NULL;
        r = x ? 0 : -1;
        Py_XDECREF(x);
        Py_XDECREF(fmt);
        Py_XDECREF(h);
        Py_XDECREF(logging);
    }
    Py_DECREF(logger);
    return r < 0 ? -1 : 0;
}

static void
log_line(const char *level, PyObject *msg)
{
    PyObject *logger = hs_safepoint_logger();
    PyObject *r = logger ? PyObject_CallMethod(logger, level, "O", msg)
                         : NULL;
    if (r == NULL) {
        PyErr_WriteUnraisable(msg);
    }
    Py_XDECREF(r);
    Py_XDECREF(logger);
}

/* The failed reload's message and the traceback of its cause. */
static void
log_failure(PyObject *err)
{
    PyObject *tb = PyImport_ImportModule("traceback");
    PyObject *cause = PyException_GetCause(err);
    PyObject *lines = NULL, *text = NULL, *msg = NULL;
    if (tb != NULL && cause != NULL) {
        PyObject *ctb = PyException_GetTraceback(cause);
        lines = PyObject_CallMethod(tb, "format_exception", "OOO",
                                    (PyObject *)Py_TYPE(cause), cause,
                                    ctb ? ctb : Py_None);
        Py_XDECREF(ctb);
    }
    if (lines != NULL) {
        PyObject *empty = PyUnicode_FromString("");
        text = empty ? PyUnicode_Join(empty, lines) : NULL;
        Py_XDECREF(empty);
    }
    PyErr_Clear();
    msg = text ? PyUnicode_FromFormat("%S\n%U", err, text)
               : PyObject_Str(err);
    if (msg != NULL) {
        log_line("warning", msg);
    }
    PyErr_Clear();
    Py_XDECREF(tb);
    Py_XDECREF(cause);
    Py_XDECREF(lines);
    Py_XDECREF(text);
    Py_XDECREF(msg);
}

/* ------------------------------------------------------------------ */
/* hooks                                                               */

int
hs_safepoint_run_hooks(PyObject *hooks, PyObject *arg)
{
    if (hooks == NULL || PyList_GET_SIZE(hooks) == 0) {
        return 0;
    }
    PyObject *copy = PyList_GetSlice(hooks, 0, PyList_GET_SIZE(hooks));
    if (copy == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(copy); i++) {
        PyObject *r = PyObject_CallOneArg(PyList_GET_ITEM(copy, i), arg);
        if (r == NULL) {
            /* a broken hook must not stop the others, nor the reload */
            PyObject *exc_type, *exc, *tb;
            PyErr_Fetch(&exc_type, &exc, &tb);
            PyErr_NormalizeException(&exc_type, &exc, &tb);
            PyObject *m = PyUnicode_FromFormat(
                "hotswap: hook %R raised %S", PyList_GET_ITEM(copy, i),
                exc ? exc : Py_None);
            Py_XDECREF(exc_type);
            Py_XDECREF(exc);
            Py_XDECREF(tb);
            if (m != NULL) {
                log_line("warning", m);
                Py_DECREF(m);
            }
            PyErr_Clear();
        }
        Py_XDECREF(r);
    }
    Py_DECREF(copy);
    return 0;
}

/* ------------------------------------------------------------------ */
/* changed paths -> modules                                            */

static int
world_writable(PyObject *path)
{
    PyObject *b = PyUnicode_EncodeFSDefault(path);
    if (b == NULL) {
        PyErr_Clear();
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
    PyObject *r = os_path ? PyObject_CallMethod(os_path, "realpath", "O",
                                                path)
                          : NULL;
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
            || PySet_Add(wanted, real) < 0) {
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
            for (Py_ssize_t j = 0; hit == 0 && j < PyList_GET_SIZE(paths);
                 j++) {
                hit = real ? is_dir_prefix(PyList_GET_ITEM(paths, j), real)
                           : -1;
            }
            Py_XDECREF(real);
        }
        if (hit == 1 && !st->allow_world_writable && world_writable(file)) {
            PyObject *msg = PyUnicode_FromFormat(
                "hotswap: not reloading %U: the file is world-writable "
                "(anyone could inject code into this process); pass "
                "allow_world_writable=True to watch() to allow it", file);
            if (msg != NULL) {
                log_line("warning", msg);
                Py_DECREF(msg);
            }
            hit = 0;
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
/* applying pending changes                                            */

PyObject *
hs_safepoint_apply(PyObject *core)
{
    HsState *st = hs_state(core);
    if (st == NULL) {
        return NULL;
    }
    if (st->busy) {
        /* a pending call inside a reload (staged code runs bytecodes):
         * try again once it is over */
        hs_watch_retry_later();
        Py_RETURN_NONE;
    }
    PyObject *paths = hs_watch_take_changes();
    if (paths == NULL) {
        return NULL;
    }
    if (PyList_GET_SIZE(paths) == 0) {
        Py_DECREF(paths);
        Py_RETURN_NONE;
    }
    PyObject *mods = modules_for_paths(st, paths);
    Py_DECREF(paths);
    if (mods == NULL) {
        return NULL;
    }
    if (PyList_GET_SIZE(mods) == 0) {
        Py_DECREF(mods);
        Py_RETURN_NONE;
    }
    PyObject *names = PyList_New(0);
    for (Py_ssize_t i = 0; names && i < PyList_GET_SIZE(mods); i++) {
        PyObject *n = PyModule_GetNameObject(PyList_GET_ITEM(mods, i));
        if (n == NULL || PyList_Append(names, n) < 0) {
            Py_CLEAR(names);
        }
        Py_XDECREF(n);
    }
    if (names == NULL) {
        Py_DECREF(mods);
        return NULL;
    }
    hs_safepoint_run_hooks(st->before_hooks, names);
    Py_DECREF(names);
    PyObject *report = hs_reload(core, mods, NULL, HS_RELOAD_ONLY_CHANGED);
    Py_DECREF(mods);
    if (report == NULL) {
        if (!PyErr_ExceptionMatches(st->reload_error)) {
            return NULL;
        }
        PyObject *exc_type, *exc, *tb;
        PyErr_Fetch(&exc_type, &exc, &tb);
        PyErr_NormalizeException(&exc_type, &exc, &tb);
        if (exc != NULL && tb != NULL) {
            PyException_SetTraceback(exc, tb);
        }
        log_failure(exc);
        hs_watch_count(1);
        report = exc ? PyObject_GetAttrString(exc, "report") : NULL;
        PyErr_Clear();
        Py_XDECREF(exc_type);
        Py_XDECREF(exc);
        Py_XDECREF(tb);
        if (report == NULL) {
            report = Py_NewRef(Py_None);
        }
    }
    else {
        hs_watch_count(0);
        /* say what changed, and also what was kept or rejected */
        PyObject *changed = PyObject_GetAttrString(report, "changed");
        PyObject *entries = PyObject_GetAttrString(report, "entries");
        int coded = 0;
        for (Py_ssize_t i = 0; entries && i < PyTuple_GET_SIZE(entries);
             i++) {
            coded |= PyStructSequence_GET_ITEM(PyTuple_GET_ITEM(entries, i),
                                               4) != Py_None;
        }
        Py_XDECREF(entries);
        if (changed != NULL && (coded || PyObject_IsTrue(changed) == 1)) {
            PyObject *s = PyObject_Str(report);
            if (s != NULL) {
                log_line("info", s);
                Py_DECREF(s);
            }
        }
        Py_XDECREF(changed);
        PyErr_Clear();
    }
    Py_XSETREF(st->last_report, Py_NewRef(report));
    if (report != Py_None) {
        hs_safepoint_run_hooks(st->after_hooks, report);
    }
    /* (modules imported by the new code: inotify watches whole
     * directories, and the polling backend looks for new files itself) */
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
                                           "__file__", &f) < 0) {
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
    PyObject *exc_type, *exc, *tb;
    PyErr_Fetch(&exc_type, &exc, &tb);
    PyObject *r = hs_safepoint_apply((PyObject *)arg);
    if (r == NULL) {
        PyErr_WriteUnraisable((PyObject *)arg);
    }
    Py_XDECREF(r);
    PyErr_Restore(exc_type, exc, tb);
    return 0;
}

int
hs_safepoint_notify_nogil(void *arg)
{
    /* Called by the watcher thread, which holds no GIL. */
#if PY_VERSION_HEX < 0x030D0000
    if (!Py_IsInitialized()) {
        return 0;
    }
    PyGILState_STATE g = PyGILState_Ensure();
    int r = Py_AddPendingCall(safepoint_pending, arg);
    PyGILState_Release(g);
#else
    int r = Py_AddPendingCall(safepoint_pending, arg);
#endif
    return r < 0 ? -1 : 0;
}
