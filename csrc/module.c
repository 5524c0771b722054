/* module.c -- hotswap._core: the Python-facing functions and the module
 * state.
 *
 * Main thread, GIL held.  Owns the HsState (types, ReloadError, snapshots,
 * tracked roots and names, the import hook, the routed importlib.reload).
 * Everything here parses arguments and hands over to reload.c / track.c /
 * safepoint.c.  The policy of live reloading (hooks, last_report, the exit
 * and fork handlers, the excluded directories) is hotswap._live's, which
 * calls the private entry points at the end of "live reloading".
 */
#include "compat.h"
#include "errors.h"

#include <string.h>
#include "patch.h"
#include "reload.h"
#include "report.h"
#include "safepoint.h"
#include "state.h"
#include "track.h"
#include "watch.h"

HsState *
hs_state(PyObject *module)
{
    HsState *st = (HsState *)PyModule_GetState(module);
    if (st == NULL && !PyErr_Occurred()) {
        PyErr_SetString(PyExc_SystemError, "hotswap._core has no state");
    }
    return st;
}

/* ------------------------------------------------------------------ */
/* reload / patch                                                      */

PyDoc_STRVAR(
    reload_doc,
    "reload($module, /, *modules, policy=None, rebuild_layout=False,\n"
    "       partial=False)\n--\n\n"
    "Reload modules in place as one all-or-nothing batch; return a Report.\n"
    "\n"
    "With no module: every tracked module whose source changed.  Raises\n"
    "ReloadError, with nothing changed, when the batch cannot be applied --\n"
    "including a class edit that cannot be applied in place (HS201-HS205).\n"
    "partial=True applies the rest of such a batch and reports those edits\n"
    "as rejected instead.");

static PyObject *
core_reload(PyObject *module, PyObject *args, PyObject *kwargs)
{
    HsState *st = hs_state(module);
    PyObject *policy = NULL;
    int flags = 0;
    if (st == NULL) {
        return NULL;
    }
    if (kwargs != NULL) {
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        while (PyDict_Next(kwargs, &pos, &key, &value)) {
            if (PyUnicode_CompareWithASCIIString(key, "policy") == 0) {
                policy = value;
                continue;
            }
            if (PyUnicode_CompareWithASCIIString(key, "rebuild_layout") == 0) {
                int v = PyObject_IsTrue(value);
                if (v < 0) {
                    return NULL;
                }
                flags |= v ? HS_RELOAD_REBUILD_LAYOUT : 0;
                continue;
            }
            if (PyUnicode_CompareWithASCIIString(key, "partial") == 0) {
                int v = PyObject_IsTrue(value);
                if (v < 0) {
                    return NULL;
                }
                flags |= v ? HS_RELOAD_PARTIAL : 0;
                continue;
            }
            PyErr_Format(PyExc_TypeError,
                         "reload() got an unexpected keyword argument %R",
                         key);
            return NULL;
        }
    }
    if (policy == Py_None) {
        policy = NULL;
    }
    if (policy != NULL && !PyCallable_Check(policy)) {
        PyErr_SetString(PyExc_TypeError, "policy must be callable or None");
        return NULL;
    }
    PyObject *r = NULL;
    if (PyTuple_GET_SIZE(args) > 0) {
        r = hs_reload(module, args, policy, flags);
    }
    else {
        PyObject *targets = hs_track_modules(st, 1);
        if (targets != NULL) {
            r = hs_reload(module, targets, policy,
                          flags | HS_RELOAD_ONLY_CHANGED);
            Py_DECREF(targets);
        }
    }
    return r;
}

PyDoc_STRVAR(patch_doc,
             "patch($module, target, replacement, /)\n--\n\n"
             "Patch a live function or class in place from a replacement.");

static PyObject *
core_patch(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "patch() takes 2 arguments (%zd given)",
                     nargs);
        return NULL;
    }
    return hs_patch(module, args[0], args[1]);
}

/* ------------------------------------------------------------------ */
/* tracking                                                            */

/* A directory target as its real path, or NULL (no error) for a module
 * name. */
static PyObject *
as_directory(PyObject *target)
{
    PyObject *os = PyImport_ImportModule("os");
    if (os == NULL) {
        return NULL;
    }
    PyObject *path = NULL, *result = NULL;
    if (!PyUnicode_Check(target)) {
        path = PyObject_CallMethod(os, "fspath", "O", target);
        if (path == NULL) {
            goto done;
        }
    }
    else {
        path = Py_NewRef(target);
    }
    PyObject *os_path = PyObject_GetAttrString(os, "path");
    if (os_path == NULL) {
        goto done;
    }
    PyObject *r = PyObject_CallMethod(os_path, "isdir", "O", path);
    int is_dir = r ? PyObject_IsTrue(r) : -1;
    Py_XDECREF(r);
    if (is_dir < 0) {
        Py_DECREF(os_path);
        goto done;
    }
    if (!is_dir && PyUnicode_Check(target)
        && PyUnicode_FindChar(target, '/', 0, PyUnicode_GET_LENGTH(target), 1)
               < 0)
    {
        Py_DECREF(os_path);
        goto done; /* a module name */
    }
    if (!is_dir) {
        PyErr_Format(PyExc_NotADirectoryError,
                     "hotswap.track: %R is not a directory", path);
        Py_DECREF(os_path);
        goto done;
    }
    result = PyObject_CallMethod(os_path, "realpath", "O", path);
    Py_DECREF(os_path);
done:
    Py_XDECREF(path);
    Py_DECREF(os);
    return result;
}

static int
list_remove_equal(PyObject *list, PyObject *item)
{
    for (Py_ssize_t i = PyList_GET_SIZE(list) - 1; i >= 0; i--) {
        int r =
            PyObject_RichCompareBool(PyList_GET_ITEM(list, i), item, Py_EQ);
        if (r < 0) {
            return -1;
        }
        if (r && PySequence_DelItem(list, i) < 0) {
            return -1;
        }
    }
    return 0;
}

static int
list_add_unique(PyObject *list, PyObject *item)
{
    int r = PySequence_Contains(list, item);
    if (r != 0) {
        return r < 0 ? -1 : 0;
    }
    return PyList_Append(list, item);
}

PyDoc_STRVAR(
    track_doc,
    "track($module, /, *targets)\n--\n\n"
    "Track directories or dotted package names for reload() and the watcher.");

static PyObject *
core_track(PyObject *module, PyObject *args)
{
    HsState *st = hs_state(module);
    if (st == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(args); i++) {
        PyObject *t = PyTuple_GET_ITEM(args, i);
        PyObject *dir = as_directory(t);
        if (dir == NULL && PyErr_Occurred()) {
            return NULL;
        }
        PyDict_Clear(st->tracked_cache);
        int r = dir ? list_add_unique(st->roots, dir)
                    : list_add_unique(st->names, t);
        Py_XDECREF(dir);
        if (r < 0) {
            return NULL;
        }
    }
    /* snapshot what is tracked and loaded but was never snapshotted */
    PyObject *missing = hs_track_modules(st, 1);
    if (missing == NULL) {
        return NULL;
    }
    Py_DECREF(missing);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(untrack_doc, "untrack($module, /, *targets)\n--\n\n"
                          "Stop tracking directories or package names.");

static PyObject *
core_untrack(PyObject *module, PyObject *args)
{
    HsState *st = hs_state(module);
    if (st == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(args); i++) {
        PyObject *t = PyTuple_GET_ITEM(args, i);
        PyObject *dir = as_directory(t);
        if (dir == NULL && PyErr_Occurred() && hs_err_clear_unless_fatal() < 0)
        {
            return NULL; /* else a directory that is gone: match the text */
        }
        PyDict_Clear(st->tracked_cache);
        int r = list_remove_equal(dir ? st->roots : st->names, dir ? dir : t);
        if (r == 0 && dir == NULL) {
            r = list_remove_equal(st->roots, t);
        }
        Py_XDECREF(dir);
        if (r < 0) {
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(tracked_doc,
             "tracked($module, /)\n--\n\n"
             "Sorted names of the loaded modules that are tracked.");

static PyObject *
core_tracked(PyObject *module, PyObject *unused)
{
    HsState *st = hs_state(module);
    if (st == NULL) {
        return NULL;
    }
    PyObject *mods = hs_track_modules(st, 0);
    if (mods == NULL) {
        return NULL;
    }
    PyObject *names = PyList_New(0);
    for (Py_ssize_t i = 0; names && i < PyList_GET_SIZE(mods); i++) {
        PyObject *m = PyList_GET_ITEM(mods, i);
        PyObject *n =
            PyModule_Check(m) ? PyModule_GetNameObject(m) : Py_NewRef(m);
        if (n == NULL || PyList_Append(names, n) < 0) {
            Py_XDECREF(n);
            Py_CLEAR(names);
            break;
        }
        Py_DECREF(n);
    }
    Py_DECREF(mods);
    if (names != NULL && PyList_Sort(names) < 0) {
        Py_CLEAR(names);
    }
    return names;
}

PyDoc_STRVAR(
    snapshot_doc,
    "snapshot($module, module, /)\n--\n\n"
    "(Re)take the source snapshot of a module from its current file.");

static PyObject *
core_snapshot(PyObject *module, PyObject *target)
{
    HsState *st = hs_state(module);
    if (st == NULL) {
        return NULL;
    }
    if (PyUnicode_Check(target)) {
        PyObject *m =
            PyDict_GetItemWithError(PyImport_GetModuleDict(), target);
        if (m == NULL) {
            if (!PyErr_Occurred()) {
                PyErr_Format(PyExc_ImportError, "module %R is not imported",
                             target);
            }
            return NULL;
        }
        target = m;
    }
    if (!PyModule_Check(target)) {
        PyErr_SetString(PyExc_TypeError, "snapshot() takes a module");
        return NULL;
    }
    if (hs_track_snapshot_module(st, target) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ */
/* importlib.reload routing                                            */

static PyObject *
routed_reload(PyObject *module, PyObject *target)
{
    HsState *st = hs_state(module);
    if (st == NULL) {
        return NULL;
    }
    if (PyModule_Check(target) && st->orig_reload != NULL) {
        PyObject *name = PyModule_GetNameObject(target);
        if (name == NULL) {
            return NULL;
        }
        int tracked = hs_track_is_tracked(st, name, target);
        Py_DECREF(name);
        if (tracked < 0) {
            return NULL;
        }
        if (tracked) {
            PyObject *args = PyTuple_Pack(1, target);
            if (args == NULL) {
                return NULL;
            }
            PyObject *report = hs_reload(module, args, NULL, 0);
            Py_DECREF(args);
            if (report == NULL) {
                return NULL;
            }
            Py_DECREF(report);
            return Py_NewRef(target);
        }
    }
    if (st->orig_reload == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "importlib routing is off");
        return NULL;
    }
    return PyObject_CallOneArg(st->orig_reload, target);
}

static PyMethodDef routed_def = {
    "reload",
    (PyCFunction)routed_reload,
    METH_O,
    "reload(module)\n--\n\n"
    "importlib.reload, routed through hotswap for tracked modules.",
};

PyDoc_STRVAR(
    route_doc,
    "route_importlib($module, enable, /)\n--\n\n"
    "Route importlib.reload() of tracked modules through hotswap.reload().");

static PyObject *
core_route_importlib(PyObject *module, PyObject *arg)
{
    HsState *st = hs_state(module);
    int enable = PyObject_IsTrue(arg);
    if (st == NULL || enable < 0) {
        return NULL;
    }
    PyObject *importlib = PyImport_ImportModule("importlib");
    if (importlib == NULL) {
        return NULL;
    }
    int r = 0;
    if (enable && st->orig_reload == NULL) {
        st->orig_reload = PyObject_GetAttrString(importlib, "reload");
        PyObject *f =
            st->orig_reload ? PyCFunction_New(&routed_def, module) : NULL;
        r = f ? PyObject_SetAttrString(importlib, "reload", f) : -1;
        Py_XDECREF(f);
        if (r < 0) {
            Py_CLEAR(st->orig_reload);
        }
    }
    else if (!enable && st->orig_reload != NULL) {
        r = PyObject_SetAttrString(importlib, "reload", st->orig_reload);
        if (r == 0) {
            Py_CLEAR(st->orig_reload);
        }
    }
    Py_DECREF(importlib);
    if (r < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}


/* ------------------------------------------------------------------ */
/* live reloading                                                      */

/* Directories to watch: the tracked roots, and the directories of
 * modules tracked by name.  New list. */
static PyObject *
watch_roots(HsState *st)
{
    PyObject *roots =
        PyList_GetSlice(st->roots, 0, PyList_GET_SIZE(st->roots));
    PyObject *files = roots ? hs_safepoint_tracked_files(st) : NULL;
    PyObject *os_path = files ? PyImport_ImportModule("os.path") : NULL;
    if (os_path == NULL) {
        Py_XDECREF(roots);
        Py_XDECREF(files);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(files); i++) {
        PyObject *real = PyObject_CallMethod(os_path, "realpath", "O",
                                             PyList_GET_ITEM(files, i));
        PyObject *dir =
            real ? PyObject_CallMethod(os_path, "dirname", "O", real) : NULL;
        Py_XDECREF(real);
        int covered = 0;
        for (Py_ssize_t j = 0; dir && !covered && j < PyList_GET_SIZE(roots);
             j++)
        {
            PyObject *root = PyList_GET_ITEM(roots, j);
            PyObject *prefix = PyUnicode_FromFormat("%U/", root);
            covered =
                PyUnicode_Compare(dir, root) == 0
                || (prefix
                    && PyUnicode_Tailmatch(dir, prefix, 0, PY_SSIZE_T_MAX, -1)
                           == 1);
            Py_XDECREF(prefix);
        }
        if (dir == NULL || (!covered && PyList_Append(roots, dir) < 0)) {
            Py_XDECREF(dir);
            Py_DECREF(roots);
            Py_DECREF(files);
            Py_DECREF(os_path);
            return NULL;
        }
        Py_DECREF(dir);
    }
    Py_DECREF(files);
    Py_DECREF(os_path);
    return roots;
}

PyDoc_STRVAR(
    watch_doc,
    "watch($module, /, *roots, debounce=0.05, mode='auto', backend='auto',\n"
    "      poll_interval=0.5, exclude=(), allow_world_writable=False,\n"
    "      wake=True, partial=False)\n--\n\n"
    "Track roots and start (or reconfigure) the watcher thread.\n"
    "\n"
    "Each batch is all or nothing, like reload(): a module whose edit cannot\n"
    "be applied keeps its old code and the error is logged until the file is\n"
    "fixed.  partial=True: like reload(..., partial=True).\n"
    "\n"
    "mode 'auto' reloads on the main thread at the next bytecode boundary;\n"
    "'queued' waits for hotswap.poll().  backend 'auto' uses inotify when\n"
    "available, else polling; 'poll' forces polling.\n"
    "\n"
    "wake (mode 'auto', watch() called on the main thread, SIGURG without a\n"
    "handler): after scheduling a reload, send SIGURG to the main thread so\n"
    "one blocked in select/epoll/sleep runs it at once; a no-op Python\n"
    "handler is installed for SIGURG while watching.");

/* Without a sink, the events go to the "hotswap" logger: give it a
 * stderr handler when the application configured none
 * (hotswap.events.ensure_handler).  0 / -1. */
static int
ensure_log_handler(void)
{
    PyObject *r = hs_safepoint_call_events("ensure_handler", NULL);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

static PyObject *
core_watch(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {
        "debounce",      "mode",    "backend",
        "poll_interval", "exclude", "allow_world_writable",
        "wake",          "partial", NULL};
    HsState *st = hs_state(module);
    double debounce = 0.05, poll_interval = 0.5;
    const char *mode = "auto", *backend = "auto";
    PyObject *exclude = NULL;
    int allow_ww = 0, wake = 1, partial = 0;
    if (st == NULL) {
        return NULL;
    }
    PyObject *empty = PyTuple_New(0);
    if (empty == NULL) {
        return NULL;
    }
    int ok = PyArg_ParseTupleAndKeywords(
        empty, kwargs, "|$dssdOppp:watch", kwlist, &debounce, &mode, &backend,
        &poll_interval, &exclude, &allow_ww, &wake, &partial);
    Py_DECREF(empty);
    if (!ok) {
        return NULL;
    }
    HsWatchConfig cfg = {HS_WATCH_AUTO, 0, debounce, poll_interval};
    if (strcmp(mode, "queued") == 0) {
        cfg.mode = HS_WATCH_QUEUED;
    }
    else if (strcmp(mode, "auto") != 0) {
        PyErr_Format(PyExc_ValueError,
                     "watch(): mode must be 'auto' or 'queued', not '%s'",
                     mode);
        return NULL;
    }
    if (strcmp(backend, "poll") == 0) {
        cfg.force_poll = 1;
    }
    else if (strcmp(backend, "auto") != 0 && strcmp(backend, "inotify") != 0) {
        PyErr_SetString(PyExc_ValueError,
                        "watch(): backend must be 'auto', 'inotify' or "
                        "'poll'");
        return NULL;
    }
    if (debounce < 0 || poll_interval <= 0) {
        PyErr_SetString(PyExc_ValueError, "watch(): debounce must be >= 0 "
                                          "and poll_interval > 0");
        return NULL;
    }
    PyObject *ex = exclude && exclude != Py_None ? PySequence_List(exclude)
                                                 : PyList_New(0);
    if (ex == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(ex); i++) {
        if (!PyUnicode_Check(PyList_GET_ITEM(ex, i))) {
            Py_DECREF(ex);
            PyErr_SetString(PyExc_TypeError, "watch(): exclude takes str "
                                             "patterns");
            return NULL;
        }
    }
    if (PyTuple_GET_SIZE(args) > 0) {
        PyObject *r = core_track(module, args);
        if (r == NULL) {
            Py_DECREF(ex);
            return NULL;
        }
        Py_DECREF(r);
    }
    st->allow_world_writable = allow_ww;
    st->watch_partial = partial;
    PyObject *roots = watch_roots(st);
    PyObject *files = roots ? hs_safepoint_tracked_files(st) : NULL;
    int r = -1;
    if (files != NULL && (st->log_sink != NULL || ensure_log_handler() == 0)) {
        r = hs_watch_start(&cfg, roots, files, ex, hs_safepoint_notify_nogil,
                           module);
    }
    Py_XDECREF(roots);
    Py_XDECREF(files);
    Py_DECREF(ex);
    if (r < 0) {
        return NULL;
    }
    hs_safepoint_wake_start(st, wake && cfg.mode == HS_WATCH_AUTO);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(unwatch_doc, "unwatch($module, /)\n--\n\n"
                          "Stop the watcher thread (a no-op when none runs).");

static PyObject *
core_unwatch(PyObject *module, PyObject *unused)
{
    HsState *st = hs_state(module);
    if (st == NULL) {
        return NULL;
    }
    hs_safepoint_wake_stop(st);
    hs_watch_stop();
    Py_RETURN_NONE;
}

static PyObject *
core_forget_after_fork(PyObject *module, PyObject *unused)
{
    hs_watch_forget_after_fork();
    Py_RETURN_NONE;
}

static PyObject *
core_pause_for_fork(PyObject *module, PyObject *unused)
{
    hs_watch_pause_for_fork();
    Py_RETURN_NONE;
}

static PyObject *
core_resume_after_fork(PyObject *module, PyObject *unused)
{
    if (hs_watch_resume_after_fork() < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(
    poll_doc,
    "poll($module, /)\n--\n\n"
    "Apply pending changes now; return the Report, or None if none were\n"
    "pending.  A failed reload is logged and its report returned.");

static PyObject *
core_poll(PyObject *module, PyObject *unused)
{
    return hs_safepoint_apply(module);
}

PyDoc_STRVAR(
    watching_doc,
    "watching($module, /)\n--\n\n"
    "The watcher's settings and counters, or None when it is not running.");

static PyObject *
core_watching(PyObject *module, PyObject *unused)
{
    HsState *st = hs_state(module);
    if (st == NULL) {
        return NULL;
    }
    PyObject *d = hs_watch_info();
    if (d == NULL || d == Py_None) {
        return d;
    }
    PyObject *w = PyBool_FromLong(hs_safepoint_waking());
    PyObject *b = hs_safepoint_blocked(st);
    if (b == NULL || PyDict_SetItemString(d, "wake", w) < 0
        || PyDict_SetItemString(d, "blocked", b) < 0)
    {
        Py_CLEAR(d);
    }
    Py_DECREF(w);
    Py_XDECREF(b);
    return d;
}

PyDoc_STRVAR(
    set_log_sink_doc,
    "set_log_sink($module, sink, /)\n--\n\n"
    "Send the events of automatic reloads to sink(event) instead of the\n"
    "'hotswap' logger; None goes back to the logger.  event is a dict:\n"
    "{'event': 'applied', 'report': Report}, {'event': 'failed', 'error':\n"
    "ReloadError, 'report': Report or None}, or a warning ('world_writable',\n"
    "'hook_failed', 'still_blocked'); see hotswap.events.  For a program\n"
    "that owns its output (the CLI): the logging tree then cannot lose\n"
    "them.");

/* Store a callable (or None: NULL) in a module-state slot.  `what` names
 * the argument in the TypeError. */
static PyObject *
set_callable_slot(PyObject **slot, PyObject *fn, const char *what)
{
    if (fn != Py_None && !PyCallable_Check(fn)) {
        PyErr_Format(PyExc_TypeError, "%s takes a callable or None", what);
        return NULL;
    }
    Py_XSETREF(*slot, fn == Py_None ? NULL : Py_NewRef(fn));
    Py_RETURN_NONE;
}

static PyObject *
core_set_log_sink(PyObject *module, PyObject *sink)
{
    HsState *st = hs_state(module);
    return st ? set_callable_slot(&st->log_sink, sink, "set_log_sink()")
              : NULL;
}

PyDoc_STRVAR(
    set_adapter_hook_doc,
    "_set_adapter_hook($module, fn, /)\n--\n\n"
    "Install fn(phase, batch) as the adapter dispatcher (None removes it).\n"
    "hotswap.adapters installs it; see docs/api.md, Framework adapters.");

static PyObject *
core_set_adapter_hook(PyObject *module, PyObject *fn)
{
    HsState *st = hs_state(module);
    return st ? set_callable_slot(&st->adapter_hook, fn, "_set_adapter_hook()")
              : NULL;
}

/* The entry points of hotswap._live (the Python shell's side of live
 * reloading: the hooks, last_report, the exit and fork handlers, the
 * excluded directories).  Private: no docstrings. */

static PyObject *
core_batch_for(PyObject *module, PyObject *paths)
{
    HsState *st = hs_state(module);
    if (st == NULL) {
        return NULL;
    }
    /* a copy: the sink that hears of a world-writable file runs Python */
    PyObject *copy = PySequence_List(paths), *result = NULL;
    if (copy == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(copy); i++) {
        if (!PyUnicode_Check(PyList_GET_ITEM(copy, i))) {
            PyErr_SetString(PyExc_TypeError, "_batch_for() takes str paths");
            goto done;
        }
    }
    result = hs_safepoint_batch_for(st, copy);
done:
    Py_DECREF(copy);
    return result;
}

static PyObject *
core_apply_batch(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *mods = NULL, *result = NULL;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError,
                        "_apply_batch() takes (modules, fresh)");
        return NULL;
    }
    Py_ssize_t fresh = PyLong_AsSsize_t(args[1]);
    if (fresh == -1 && PyErr_Occurred()) {
        return NULL;
    }
    mods = PySequence_List(args[0]); /* a copy: blocked_reload edits it */
    if (mods == NULL) {
        return NULL;
    }
    if (fresh < 0 || fresh > PyList_GET_SIZE(mods)) {
        PyErr_SetString(PyExc_ValueError, "_apply_batch(): bad fresh count");
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(mods); i++) {
        if (!PyModule_Check(PyList_GET_ITEM(mods, i))) {
            PyErr_SetString(PyExc_TypeError,
                            "_apply_batch() takes a list of modules");
            goto done;
        }
    }
    result = hs_safepoint_apply_batch(module, mods, fresh);
done:
    Py_DECREF(mods);
    return result;
}

static PyObject *
core_emit(PyObject *module, PyObject *event)
{
    HsState *st = hs_state(module);
    if (st == NULL) {
        return NULL;
    }
    if (!PyDict_Check(event)) {
        PyErr_SetString(PyExc_TypeError, "_emit() takes a dict");
        return NULL;
    }
    hs_safepoint_emit_event(st, event);
    Py_RETURN_NONE;
}

static PyObject *
core_set_excluded(PyObject *module, PyObject *dirs)
{
    HsState *st = hs_state(module);
    if (st == NULL) {
        return NULL;
    }
    if (!PyTuple_Check(dirs)) {
        PyErr_SetString(PyExc_TypeError, "_set_excluded() takes a tuple");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(dirs); i++) {
        if (!PyUnicode_Check(PyTuple_GET_ITEM(dirs, i))) {
            PyErr_SetString(PyExc_TypeError,
                            "_set_excluded() takes a tuple of str");
            return NULL;
        }
    }
    Py_XSETREF(st->excluded, Py_NewRef(dirs));
    PyDict_Clear(st->tracked_cache);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ */
/* module definition                                                   */

static PyMethodDef core_methods[] = {
    {"reload", (PyCFunction)(void (*)(void))core_reload,
     METH_VARARGS | METH_KEYWORDS, reload_doc},
    {"patch", (PyCFunction)(void (*)(void))core_patch, METH_FASTCALL,
     patch_doc},
    {"track", (PyCFunction)core_track, METH_VARARGS, track_doc},
    {"untrack", (PyCFunction)core_untrack, METH_VARARGS, untrack_doc},
    {"tracked", (PyCFunction)core_tracked, METH_NOARGS, tracked_doc},
    {"snapshot", (PyCFunction)core_snapshot, METH_O, snapshot_doc},
    {"route_importlib", (PyCFunction)core_route_importlib, METH_O, route_doc},
    {"watch", (PyCFunction)(void (*)(void))core_watch,
     METH_VARARGS | METH_KEYWORDS, watch_doc},
    {"unwatch", (PyCFunction)core_unwatch, METH_NOARGS, unwatch_doc},
    {"poll", (PyCFunction)core_poll, METH_NOARGS, poll_doc},
    {"watching", (PyCFunction)core_watching, METH_NOARGS, watching_doc},
    {"set_log_sink", (PyCFunction)core_set_log_sink, METH_O, set_log_sink_doc},
    {"_set_adapter_hook", (PyCFunction)core_set_adapter_hook, METH_O,
     set_adapter_hook_doc},
    {"_forget_after_fork", (PyCFunction)core_forget_after_fork, METH_NOARGS,
     NULL},
    {"_pause_for_fork", (PyCFunction)core_pause_for_fork, METH_NOARGS, NULL},
    {"_resume_after_fork", (PyCFunction)core_resume_after_fork, METH_NOARGS,
     NULL},
    {"_batch_for", (PyCFunction)core_batch_for, METH_O, NULL},
    {"_apply_batch", (PyCFunction)(void (*)(void))core_apply_batch,
     METH_FASTCALL, NULL},
    {"_emit", (PyCFunction)core_emit, METH_O, NULL},
    {"_set_excluded", (PyCFunction)core_set_excluded, METH_O, NULL},
    {NULL},
};

PyDoc_STRVAR(
    reload_error_doc,
    "A batch could not be applied; every module is exactly as before.\n"
    "\n"
    "Attributes: report, module, filename, lineno, code; __cause__ is the\n"
    "underlying exception.");

static int
core_exec(PyObject *module)
{
#ifdef Py_GIL_DISABLED
    /* A free-threaded build (3.13t+): patching a function or a class while
     * other threads run it needs the GIL's guarantees (see
     * ../shared/reference/cpython_internals.md, 6.4).  Refuse clearly. */
    PyErr_SetString(PyExc_ImportError,
                    "hotswap does not support free-threaded CPython builds "
                    "(Py_GIL_DISABLED); use a default (GIL) build of CPython "
                    "3.9-3.15");
    return -1;
#endif
    HsState *st = hs_state(module);
    if (st == NULL || hs_dunders_init(&st->dunders) < 0) {
        return -1;
    }
    if (hs_report_init_types(module, &st->change_type, &st->module_result_type,
                             &st->report_type)
            < 0
        || hs_track_init_types(module, &st->snapshot_type, &st->finder_type)
               < 0)
    {
        return -1;
    }
    PyObject *attrs = Py_BuildValue("{s:O,s:O,s:O,s:O,s:O}", "report", Py_None,
                                    "module", Py_None, "filename", Py_None,
                                    "lineno", Py_None, "code", Py_None);
    if (attrs == NULL) {
        return -1;
    }
    st->reload_error = PyErr_NewExceptionWithDoc(
        "hotswap.ReloadError", reload_error_doc, PyExc_Exception, attrs);
    Py_DECREF(attrs);
    st->snapshots = PyDict_New();
    st->roots = PyList_New(0);
    st->names = PyList_New(0);
    st->tracked_cache = PyDict_New();
    if (st->tracked_cache == NULL) {
        return -1;
    }
    if (st->reload_error == NULL || st->snapshots == NULL || st->roots == NULL
        || st->names == NULL)
    {
        return -1;
    }
    if (PyModule_AddObjectRef(module, "ReloadError", st->reload_error) < 0
        || PyModule_AddObjectRef(module, "Report", (PyObject *)st->report_type)
               < 0
        || PyModule_AddObjectRef(module, "Change", (PyObject *)st->change_type)
               < 0
        || PyModule_AddObjectRef(module, "ModuleResult",
                                 (PyObject *)st->module_result_type)
               < 0
        || PyModule_AddObjectRef(module, "Snapshot",
                                 (PyObject *)st->snapshot_type)
               < 0
        || PyModule_AddObjectRef(module, "snapshots", st->snapshots) < 0)
    {
        return -1;
    }
    return hs_track_install_finder(st, module);
}

static int
core_traverse(PyObject *module, visitproc visit, void *arg)
{
    HsState *st = (HsState *)PyModule_GetState(module);
    if (st == NULL) {
        return 0;
    }
    Py_VISIT(st->snapshot_type);
    Py_VISIT(st->finder_type);
    Py_VISIT(st->change_type);
    Py_VISIT(st->module_result_type);
    Py_VISIT(st->report_type);
    Py_VISIT(st->reload_error);
    Py_VISIT(st->snapshots);
    Py_VISIT(st->roots);
    Py_VISIT(st->names);
    Py_VISIT(st->excluded);
    Py_VISIT(st->tracked_cache);
    Py_VISIT(st->orig_reload);
    Py_VISIT(st->finder);
    Py_VISIT(st->log_sink);
    Py_VISIT(st->wake_handler);
    Py_VISIT(st->adapter_hook);
    Py_VISIT(st->blocked);
    Py_VISIT(st->records.spare_cells);
    Py_VISIT(st->records.aliases);
    Py_VISIT(st->records.left_behind);
    return hs_dunders_traverse(&st->dunders, visit, arg);
}

static int
core_clear(PyObject *module)
{
    HsState *st = (HsState *)PyModule_GetState(module);
    if (st == NULL) {
        return 0;
    }
    Py_CLEAR(st->snapshot_type);
    Py_CLEAR(st->finder_type);
    Py_CLEAR(st->change_type);
    Py_CLEAR(st->module_result_type);
    Py_CLEAR(st->report_type);
    Py_CLEAR(st->reload_error);
    Py_CLEAR(st->snapshots);
    Py_CLEAR(st->roots);
    Py_CLEAR(st->names);
    Py_CLEAR(st->excluded);
    Py_CLEAR(st->tracked_cache);
    Py_CLEAR(st->orig_reload);
    Py_CLEAR(st->finder);
    Py_CLEAR(st->log_sink);
    Py_CLEAR(st->wake_handler);
    Py_CLEAR(st->adapter_hook);
    Py_CLEAR(st->blocked);
    Py_CLEAR(st->records.spare_cells);
    Py_CLEAR(st->records.aliases);
    Py_CLEAR(st->records.left_behind);
    hs_dunders_clear(&st->dunders);
    return 0;
}

static void
core_free(void *module)
{
    core_clear((PyObject *)module);
}

static struct PyModuleDef_Slot core_slots[] = {
    {Py_mod_exec, HS_SLOT(core_exec)},
    HS_SLOT_ONE_INTERPRETER HS_SLOT_GIL_USED{0, NULL},
};

PyDoc_STRVAR(core_doc, "The C core of hotswap (see the hotswap package).");

static struct PyModuleDef core_module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "hotswap._core",
    .m_doc = core_doc,
    .m_size = sizeof(HsState),
    .m_methods = core_methods,
    .m_slots = core_slots,
    .m_traverse = core_traverse,
    .m_clear = core_clear,
    .m_free = core_free,
};

PyMODINIT_FUNC PyInit__core(void);

PyMODINIT_FUNC
PyInit__core(void)
{
    return PyModuleDef_Init(&core_module);
}
