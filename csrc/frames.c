/* frames.c -- which frames still run superseded code (FINISH stage).
 *
 * Main thread, GIL held.  A running frame or a suspended generator keeps
 * the code object it started with until it returns: nothing can switch
 * it.  What can be done is to say so, so that "it said updated but
 * nothing changed" always comes with a reason.
 *
 * Thread stacks are cheap to look at (sys._current_frames()).  Suspended
 * generators are asked of the batch's walk (heap.c), only when a
 * superseded code object is a generator, coroutine or async generator.
 */
#include "frames.h"
#include "errors.h"
#include "internals.h"

static int
lookup(PyObject *codes, PyObject *code)
{
    PyObject *key = PyLong_FromVoidPtr(code);
    if (key == NULL) {
        return -1;
    }
    int r = PyDict_Contains(codes, key);
    Py_DECREF(key);
    return r;
}

static int
add(PyObject *out, PyObject *code, PyObject *where)
{
    if (where == NULL) {
        return -1;
    }
    PyObject *t = PyTuple_Pack(2, code, where);
    Py_DECREF(where);
    if (t == NULL) {
        return -1;
    }
    int r = PyList_Append(out, t);
    Py_DECREF(t);
    return r;
}

static PyObject *
thread_names(void)
{
    PyObject *names = PyDict_New();
    PyObject *threading = PyImport_ImportModule("threading");
    PyObject *threads =
        threading ? PyObject_CallMethod(threading, "enumerate", NULL) : NULL;
    Py_XDECREF(threading);
    if (names == NULL || threads == NULL) {
        Py_XDECREF(names);
        Py_XDECREF(threads);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(threads); i++) {
        PyObject *t = PyList_GET_ITEM(threads, i);
        PyObject *ident = PyObject_GetAttrString(t, "ident");
        PyObject *name = PyObject_GetAttrString(t, "name");
        int r = 0;
        if (ident != NULL && name != NULL && ident != Py_None) {
            r = PyDict_SetItem(names, ident, name);
        }
        Py_XDECREF(ident);
        Py_XDECREF(name);
        /* a thread whose ident or name cannot be read (a subclass's
         * property): the report names it by its id */
        if ((r < 0 || PyErr_Occurred()) && hs_err_clear_unless_fatal() < 0) {
            Py_DECREF(threads);
            Py_DECREF(names);
            return NULL;
        }
    }
    Py_DECREF(threads);
    return names;
}

static int
scan_threads(PyObject *codes, PyObject *out)
{
    PyObject *sys = PyImport_ImportModule("sys");
    PyObject *frames =
        sys ? PyObject_CallMethod(sys, "_current_frames", NULL) : NULL;
    PyObject *names = frames ? thread_names() : NULL;
    Py_XDECREF(sys);
    if (names == NULL) {
        Py_XDECREF(frames);
        return -1;
    }
    Py_ssize_t pos = 0;
    PyObject *ident, *frame;
    int result = 0;
    while (result == 0 && PyDict_Next(frames, &pos, &ident, &frame)) {
        PyObject *f = Py_NewRef(frame);
        while (f != NULL && f != Py_None && result == 0) {
            PyObject *code = PyObject_GetAttrString(f, "f_code");
            int hit = code ? lookup(codes, code) : -1;
            if (hit == 1) {
                PyObject *name = PyDict_GetItem(names, ident);
                PyObject *line = PyObject_GetAttrString(f, "f_lineno");
                result = add(out, code,
                             PyUnicode_FromFormat(
                                 "thread %R is still running the old code "
                                 "(at line %S); it keeps it until that call "
                                 "returns",
                                 name ? name : ident, line ? line : Py_None));
                Py_XDECREF(line);
            }
            else if (hit < 0) {
                result = -1;
            }
            Py_XDECREF(code);
            PyObject *back = PyObject_GetAttrString(f, "f_back");
            Py_DECREF(f);
            f = back;
        }
        Py_XDECREF(f);
    }
    Py_DECREF(frames);
    Py_DECREF(names);
    return result;
}

static int
any_generator(PyObject *codes)
{
    Py_ssize_t pos = 0;
    PyObject *key, *code;
    while (PyDict_Next(codes, &pos, &key, &code)) {
        if (hs_code_flags(code) & HS_CO_GENLIKE) {
            return 1;
        }
    }
    return 0;
}

/* Suspended generators, coroutines and async generators whose frame runs
 * one of `codes`, one entry per code location (code, kind, line) with a
 * count: 200 tasks parked at the same await are one line, not 200. */
static int
scan_generators(HsHeap *heap, PyObject *codes, PyObject *out)
{
    static const char *const attrs[][2] = {
        {"gi_code", "gi_frame"},
        {"cr_code", "cr_frame"},
        {"ag_code", "ag_frame"},
    };
    static const char *const kinds[][2] = {
        {"generator", "generators"},
        {"coroutine", "coroutines"},
        {"async generator", "async generators"},
    };
    PyObject *objs = hs_heap_generators_running(heap, codes);
    PyObject *counts = PyDict_New(); /* (code, kind, line) -> count */
    PyObject *order = PyList_New(0); /* the keys, first seen first */
    int result = -1;
    if (objs == NULL || counts == NULL || order == NULL) {
        goto done;
    }
    result = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(objs) && result == 0; i++) {
        PyObject *o = PyList_GET_ITEM(objs, i);
        int k = PyGen_Check(o)             ? 0
                : PyCoro_CheckExact(o)     ? 1
                : PyAsyncGen_CheckExact(o) ? 2
                                           : -1;
        if (k < 0) {
            continue;
        }
        PyObject *code = PyObject_GetAttrString(o, attrs[k][0]);
        PyObject *frame = code ? PyObject_GetAttrString(o, attrs[k][1]) : NULL;
        if (frame == NULL) {
            Py_XDECREF(code);
            result = -1;
            break;
        }
        if (frame != Py_None && lookup(codes, code) == 1) {
            PyObject *line = PyObject_GetAttrString(frame, "f_lineno");
            PyObject *key =
                line ? Py_BuildValue("(OiO)", code, k, line) : NULL;
            PyObject *n = key ? PyDict_GetItemWithError(counts, key) : NULL;
            long c = n ? PyLong_AsLong(n) : 0;
            PyObject *nn =
                key && !PyErr_Occurred() ? PyLong_FromLong(c + 1) : NULL;
            if (nn == NULL || PyDict_SetItem(counts, key, nn) < 0
                || (c == 0 && PyList_Append(order, key) < 0))
            {
                result = -1;
            }
            Py_XDECREF(nn);
            Py_XDECREF(key);
            Py_XDECREF(line);
        }
        Py_DECREF(code);
        Py_DECREF(frame);
    }
    for (Py_ssize_t i = 0; result == 0 && i < PyList_GET_SIZE(order); i++) {
        PyObject *key = PyList_GET_ITEM(order, i);
        long c = PyLong_AsLong(PyDict_GetItem(counts, key));
        int k = (int)PyLong_AsLong(PyTuple_GET_ITEM(key, 1));
        PyObject *line = PyTuple_GET_ITEM(key, 2);
        result = add(out, PyTuple_GET_ITEM(key, 0),
                     c == 1 ? PyUnicode_FromFormat(
                                  "a suspended %s keeps the old code (at "
                                  "line %S) until it finishes",
                                  kinds[k][0], line)
                            : PyUnicode_FromFormat(
                                  "%ld suspended %s keep the old code (at "
                                  "line %S) until they finish",
                                  c, kinds[k][1], line));
    }
done:
    Py_XDECREF(objs);
    Py_XDECREF(counts);
    Py_XDECREF(order);
    return result;
}

int
hs_frames_stale(HsHeap *heap, PyObject *codes, PyObject *out)
{
    if (PyDict_GET_SIZE(codes) == 0) {
        return 0;
    }
    if (scan_threads(codes, out) < 0) {
        return -1;
    }
    if (any_generator(codes) && scan_generators(heap, codes, out) < 0) {
        return -1;
    }
    return 0;
}
