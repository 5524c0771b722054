/* track.c -- which modules are reloadable, and the source they came from.
 *
 * Main thread (imports may run on any thread: the finder is called with
 * the GIL held by whichever thread imports).  Owns the Snapshot and the
 * SnapshotFinder types.
 *
 * The finder sits first on sys.meta_path.  It asks the finders after it
 * for the spec, exactly as the import system would, and when the module
 * comes from a .py file outside the standard library and site-packages,
 * reads the file's bytes through the spec's loader: that is the snapshot a
 * later reload compares against, i.e. the code that actually runs rather
 * than what the file holds when the first change arrives.
 */
#include "track.h"
#include "errors.h"

#include <string.h>

/* ------------------------------------------------------------------ */
/* Snapshot                                                            */

static int
snapshot_traverse(HsSnapshot *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static void
snapshot_dealloc(HsSnapshot *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->filename);
    Py_CLEAR(self->raw);
    Py_CLEAR(self->text);
    hs_chunks_clear(&self->chunks);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *
snapshot_repr(HsSnapshot *self)
{
    return PyUnicode_FromFormat("<hotswap snapshot of %R, %zd bytes>",
                                self->filename, PyBytes_GET_SIZE(self->raw));
}

static PyObject *
snapshot_get_source(HsSnapshot *self, void *closure)
{
    return Py_NewRef(self->raw);
}

static PyGetSetDef snapshot_getset[] = {
    {"source", (getter)snapshot_get_source, NULL,
     "The bytes the running code was compiled from.", NULL},
    {NULL},
};

static PyType_Slot snapshot_slots[] = {
    {Py_tp_doc, (void *)"The source a module's running code came from."},
    {Py_tp_dealloc, HS_SLOT(snapshot_dealloc)},
    {Py_tp_traverse, HS_SLOT(snapshot_traverse)},
    {Py_tp_repr, HS_SLOT(snapshot_repr)},
    {Py_tp_getset, snapshot_getset},
    {0, NULL},
};

static PyType_Spec snapshot_spec = {
    .name = "hotswap._core.Snapshot",
    .basicsize = sizeof(HsSnapshot),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = snapshot_slots,
};

PyObject *
hs_snapshot_new(PyTypeObject *type, PyObject *filename, PyObject *raw,
                PyObject *text, HsChunkList *chunks)
{
    HsSnapshot *self = PyObject_GC_New(HsSnapshot, type);
    if (self == NULL) {
        return NULL;
    }
    self->filename = Py_NewRef(filename);
    self->raw = Py_NewRef(raw);
    self->text = Py_XNewRef(text);
    memset(&self->chunks, 0, sizeof(self->chunks));
    self->scanned = 0;
    if (chunks != NULL) {
        self->chunks = *chunks;
        memset(chunks, 0, sizeof(*chunks));
        self->scanned = 1;
    }
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

int
hs_snapshot_prepare(HsSnapshot *snap)
{
    if (snap->text == NULL) {
        PyObject *util = PyImport_ImportModule("importlib.util");
        if (util == NULL) {
            return -1;
        }
        PyObject *s =
            PyObject_CallMethod(util, "decode_source", "O", snap->raw);
        Py_DECREF(util);
        if (s == NULL) {
            return -1;
        }
        snap->text = PyUnicode_AsUTF8String(s);
        Py_DECREF(s);
        if (snap->text == NULL) {
            return -1;
        }
    }
    if (!snap->scanned) {
        if (hs_scan(PyBytes_AS_STRING(snap->text), 0,
                    PyBytes_GET_SIZE(snap->text), 1, &snap->chunks)
            < 0)
        {
            return -1;
        }
        snap->scanned = 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* paths                                                               */

static PyObject *
path_realpath(PyObject *path)
{
    PyObject *os_path = PyImport_ImportModule("os.path");
    if (os_path == NULL) {
        return NULL;
    }
    PyObject *r = PyObject_CallMethod(os_path, "realpath", "O", path);
    Py_DECREF(os_path);
    return r;
}

static int
under(PyObject *path, PyObject *dir)
{
    /* path starts with dir + "/" (both real paths); code point by code
     * point: no UTF-8 copy, so nothing can fail */
    Py_ssize_t n = PyUnicode_GET_LENGTH(path), m = PyUnicode_GET_LENGTH(dir);
    while (m > 1 && PyUnicode_READ_CHAR(dir, m - 1) == '/') {
        m--;
    }
    if (n <= m || PyUnicode_READ_CHAR(path, m) != '/') {
        return 0;
    }
    for (Py_ssize_t i = 0; i < m; i++) {
        if (PyUnicode_READ_CHAR(path, i) != PyUnicode_READ_CHAR(dir, i)) {
            return 0;
        }
    }
    return 1;
}

static int
is_excluded(HsState *st, PyObject *real)
{
    if (st->excluded == NULL) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(st->excluded); i++) {
        if (under(real, PyTuple_GET_ITEM(st->excluded, i))) {
            return 1;
        }
    }
    return 0;
}

static int
name_matches(PyObject *name, PyObject *prefix)
{
    /* code point by code point: no UTF-8 copy, so nothing can fail */
    Py_ssize_t n = PyUnicode_GET_LENGTH(name),
               m = PyUnicode_GET_LENGTH(prefix);
    if (n < m || (n > m && PyUnicode_READ_CHAR(name, m) != '.')) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < m; i++) {
        if (PyUnicode_READ_CHAR(name, i) != PyUnicode_READ_CHAR(prefix, i)) {
            return 0;
        }
    }
    return 1;
}

int
hs_track_is_tracked(HsState *st, PyObject *name, PyObject *module)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(st->names); i++) {
        if (name_matches(name, PyList_GET_ITEM(st->names, i))) {
            return 1;
        }
    }
    if (PyList_GET_SIZE(st->roots) == 0 || module == NULL) {
        return 0;
    }
    PyObject *file = NULL;
    if (PyObject_GetOptionalAttrString(module, "__file__", &file) < 0) {
        /* a module __getattr__ that fails: no file, not tracked */
        return hs_err_clear_unless_fatal();
    }
    if (file == NULL || !PyUnicode_Check(file)) {
        Py_XDECREF(file);
        return 0;
    }
    /* realpath() is a system call per path component: remember the answer
     * per file (the cache is emptied when the roots change) */
    PyObject *cached = PyDict_GetItemWithError(st->tracked_cache, file);
    if (cached != NULL) {
        Py_DECREF(file);
        return cached == Py_True;
    }
    if (PyErr_Occurred()) {
        Py_DECREF(file);
        return -1;
    }
    PyObject *real = path_realpath(file);
    if (real == NULL) {
        Py_DECREF(file);
        return -1;
    }
    int found = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(st->roots) && !found; i++) {
        PyObject *root = PyList_GET_ITEM(st->roots, i);
        /* the standard library and site-packages only when the root
         * itself lies inside them */
        found = under(real, root)
                && (!is_excluded(st, real) || is_excluded(st, root));
    }
    Py_DECREF(real);
    int r =
        PyDict_SetItem(st->tracked_cache, file, found ? Py_True : Py_False);
    Py_DECREF(file);
    return r < 0 ? -1 : found;
}

/* ------------------------------------------------------------------ */
/* taking snapshots                                                    */

static int ends_with_py(PyObject *s);

static PyObject *
read_with_loader(PyObject *loader, PyObject *origin)
{
    int has = loader == NULL || loader == Py_None
                  ? 0
                  : PyObject_HasAttrStringWithError(loader, "get_data");
    PyObject *raw =
        has > 0 ? PyObject_CallMethod(loader, "get_data", "O", origin) : NULL;
    if (raw == NULL || !PyBytes_Check(raw)) {
        Py_XDECREF(raw);
        /* a loader that cannot give the bytes: no snapshot from it (a
         * fatal error stays set: the caller fails) */
        hs_err_clear_unless_fatal();
        return NULL;
    }
    return raw;
}

static PyObject *
read_with_open_code(PyObject *path)
{
    PyObject *io = PyImport_ImportModule("io");
    PyObject *f = io ? PyObject_CallMethod(io, "open_code", "O", path) : NULL;
    PyObject *raw = f ? PyObject_CallMethod(f, "read", NULL) : NULL;
    if (f != NULL) {
        PyObject *r = PyObject_CallMethod(f, "close", NULL);
        Py_XDECREF(r);
    }
    Py_XDECREF(io);
    Py_XDECREF(f);
    if (raw == NULL || !PyBytes_Check(raw)) {
        Py_XDECREF(raw);
        /* a file that cannot be read: no snapshot (a fatal error stays
         * set: the caller fails) */
        hs_err_clear_unless_fatal();
        return NULL;
    }
    return raw;
}

int
hs_track_snapshot_module(HsState *st, PyObject *module)
{
    PyObject *name = PyModule_GetNameObject(module);
    if (name == NULL) {
        return -1;
    }
    PyObject *file = NULL, *spec = NULL, *loader = NULL, *raw = NULL;
    int result = -1;
    if (PyObject_GetOptionalAttrString(module, "__file__", &file) < 0
        || PyObject_GetOptionalAttrString(module, "__spec__", &spec) < 0)
    {
        goto done;
    }
    if (file == NULL || !PyUnicode_Check(file)) {
        result = 0; /* nothing to snapshot */
        goto done;
    }
    if (!ends_with_py(file)) {
        result = 0; /* a C extension or compiled file: nothing to compare */
        goto done;
    }
    if (spec != NULL && spec != Py_None
        && PyObject_GetOptionalAttrString(spec, "loader", &loader) < 0)
    {
        goto done;
    }
    if ((loader == NULL || loader == Py_None)
        && PyObject_GetOptionalAttrString(module, "__loader__", &loader) < 0)
    {
        goto done;
    }
    raw = read_with_loader(loader, file);
    if (raw == NULL && !PyErr_Occurred()) {
        raw = read_with_open_code(file);
    }
    if (raw == NULL) {
        result = PyErr_Occurred() ? -1 : 0;
        goto done;
    }
    PyObject *snap = hs_snapshot_new(st->snapshot_type, file, raw, NULL, NULL);
    if (snap == NULL) {
        goto done;
    }
    result = PyDict_SetItem(st->snapshots, name, snap);
    Py_DECREF(snap);
done:
    Py_DECREF(name);
    Py_XDECREF(file);
    Py_XDECREF(spec);
    Py_XDECREF(loader);
    Py_XDECREF(raw);
    return result;
}

/* Tracked modules that have a snapshot; tracked ones without get one now
 * (they have nothing to compare against yet).  New list. */
PyObject *
hs_track_modules(HsState *st, int snapshot_missing)
{
    PyObject *modules = PyImport_GetModuleDict();
    PyObject *items = PyDict_Items(modules);
    PyObject *result = PyList_New(0);
    if (items == NULL || result == NULL) {
        goto error;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *name = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 0);
        PyObject *mod = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 1);
        if (!PyUnicode_Check(name) || !PyModule_Check(mod)) {
            continue;
        }
        int r = hs_track_is_tracked(st, name, mod);
        if (r < 0) {
            goto error;
        }
        if (!r) {
            continue;
        }
        r = PyDict_Contains(st->snapshots, name);
        if (r < 0) {
            goto error;
        }
        if (!r && snapshot_missing) {
            if (hs_track_snapshot_module(st, mod) < 0) {
                goto error;
            }
            continue;
        }
        if (PyList_Append(result, r || !snapshot_missing ? mod : name) < 0) {
            goto error;
        }
    }
    Py_DECREF(items);
    return result;
error:
    Py_XDECREF(items);
    Py_XDECREF(result);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* the import hook                                                     */

typedef struct {
    PyObject_HEAD
    PyObject *module; /* strong: hotswap._core, for its state */
} FinderObject;

static int
finder_traverse(FinderObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->module);
    return 0;
}

static int
finder_clear(FinderObject *self)
{
    Py_CLEAR(self->module);
    return 0;
}

static void
finder_dealloc(FinderObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    finder_clear(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static int
ends_with_py(PyObject *s)
{
    /* code point by code point: no UTF-8 copy, so nothing can fail */
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    return (n > 3 && PyUnicode_READ_CHAR(s, n - 3) == '.'
            && PyUnicode_READ_CHAR(s, n - 2) == 'p'
            && PyUnicode_READ_CHAR(s, n - 1) == 'y')
           || (n > 4 && PyUnicode_READ_CHAR(s, n - 4) == '.'
               && PyUnicode_READ_CHAR(s, n - 3) == 'p'
               && PyUnicode_READ_CHAR(s, n - 2) == 'y'
               && PyUnicode_READ_CHAR(s, n - 1) == 'w');
}

/* Snapshot the source a spec found will run.  0, or -1 for a fatal error
 * only (errors.h): the hook never makes an import fail otherwise. */
static int
snapshot_spec_source(FinderObject *self, PyObject *name, PyObject *spec)
{
    HsState *st = hs_state(self->module);
    PyObject *origin = NULL, *loader = NULL, *real = NULL, *raw = NULL;
    if (st == NULL
        || PyObject_GetOptionalAttrString(spec, "origin", &origin) <= 0
        || !PyUnicode_Check(origin) || !ends_with_py(origin))
    {
        goto done;
    }
    real = path_realpath(origin);
    if (real == NULL || is_excluded(st, real)) {
        goto done;
    }
    if (PyObject_GetOptionalAttrString(spec, "loader", &loader) <= 0) {
        goto done;
    }
    raw = read_with_loader(loader, origin);
    if (raw != NULL) {
        PyObject *snap =
            hs_snapshot_new(st->snapshot_type, origin, raw, NULL, NULL);
        if (snap != NULL) {
            PyDict_SetItem(st->snapshots, name, snap); /* (error: below) */
        }
        Py_XDECREF(snap);
    }
done:;
    /* the hook never makes an import fail, but for a MemoryError or a
     * KeyboardInterrupt (the import would meet them anyway) */
    int result = hs_err_clear_unless_fatal();
    Py_XDECREF(origin);
    Py_XDECREF(loader);
    Py_XDECREF(real);
    Py_XDECREF(raw);
    return result;
}

static PyObject *
finder_find_spec(FinderObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"fullname", "path", "target", NULL};
    PyObject *name, *path = Py_None, *target = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "U|OO:find_spec", kwlist,
                                     &name, &path, &target))
    {
        return NULL;
    }
    PyObject *meta_path = PySys_GetObject("meta_path"); /* borrowed */
    if (meta_path == NULL || !PyList_Check(meta_path)) {
        Py_RETURN_NONE;
    }
    PyObject *finders =
        PyList_GetSlice(meta_path, 0, PyList_GET_SIZE(meta_path));
    if (finders == NULL) {
        return NULL;
    }
    PyObject *spec = NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(finders); i++) {
        PyObject *f = PyList_GET_ITEM(finders, i);
        if (f == (PyObject *)self) {
            continue;
        }
        PyObject *fs = NULL;
        if (PyObject_GetOptionalAttrString(f, "find_spec", &fs) < 0) {
            Py_DECREF(finders);
            return NULL;
        }
        if (fs == NULL) {
            continue;
        }
        spec = PyObject_CallFunctionObjArgs(fs, name, path, target, NULL);
        Py_DECREF(fs);
        if (spec == NULL) {
            Py_DECREF(finders);
            return NULL;
        }
        if (spec != Py_None) {
            break;
        }
        Py_CLEAR(spec);
    }
    Py_DECREF(finders);
    if (spec == NULL) {
        Py_RETURN_NONE;
    }
    if (snapshot_spec_source(self, name, spec) < 0) {
        Py_DECREF(spec);
        return NULL;
    }
    return spec;
}

static PyObject *
finder_invalidate_caches(PyObject *self, PyObject *unused)
{
    Py_RETURN_NONE;
}

static PyMethodDef finder_methods[] = {
    {"find_spec", (PyCFunction)(void (*)(void))finder_find_spec,
     METH_VARARGS | METH_KEYWORDS,
     "find_spec($self, fullname, path=None, target=None, /)\n--\n\n"
     "Find the spec as the other finders would, and snapshot its source."},
    {"invalidate_caches", (PyCFunction)finder_invalidate_caches, METH_NOARGS,
     "invalidate_caches($self, /)\n--\n\nNothing to do."},
    {NULL},
};

static PyType_Slot finder_slots[] = {
    {Py_tp_doc, (void *)"hotswap's import hook: records the source bytes "
                        "of every module imported from a .py file."},
    {Py_tp_dealloc, HS_SLOT(finder_dealloc)},
    {Py_tp_traverse, HS_SLOT(finder_traverse)},
    {Py_tp_clear, HS_SLOT(finder_clear)},
    {Py_tp_methods, finder_methods},
    {0, NULL},
};

static PyType_Spec finder_spec = {
    .name = "hotswap._core.SnapshotFinder",
    .basicsize = sizeof(FinderObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = finder_slots,
};

int
hs_track_init_types(PyObject *module, PyTypeObject **snapshot,
                    PyTypeObject **finder)
{
    *snapshot =
        (PyTypeObject *)PyType_FromModuleAndSpec(module, &snapshot_spec, NULL);
    *finder =
        (PyTypeObject *)PyType_FromModuleAndSpec(module, &finder_spec, NULL);
    return (*snapshot && *finder) ? 0 : -1;
}

int
hs_track_install_finder(HsState *st, PyObject *module)
{
    if (st->finder != NULL) {
        return 0;
    }
    FinderObject *f = PyObject_GC_New(FinderObject, st->finder_type);
    if (f == NULL) {
        return -1;
    }
    f->module = Py_NewRef(module);
    PyObject_GC_Track(f);
    PyObject *meta_path = PySys_GetObject("meta_path");
    if (meta_path == NULL || !PyList_Check(meta_path)
        || PyList_Insert(meta_path, 0, (PyObject *)f) < 0)
    {
        Py_DECREF(f);
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_RuntimeError, "sys.meta_path is missing");
        }
        return -1;
    }
    st->finder = (PyObject *)f;
    return 0;
}
