/* report.c -- what a batch did: Change records, ModuleResult records and
 * the Report object (str() for people, to_dict()/to_json() for tools).
 *
 * Main thread, GIL held.  The types are created per module (multi-phase
 * init) and kept in the module state; a Report owns its tuples.
 */
#include "report.h"
#include "internals.h"

#include <stdarg.h>
#include <string.h>
#include "structmember.h"

static PyStructSequence_Field change_fields[] = {
    {"module", "module name"},
    {"name", "qualified name inside the module"},
    {"kind", "function, class, method, data, import or statement"},
    {"action", "updated, added, removed, kept, unchanged, moved, replaced "
               "or rejected"},
    {"code", "stable diagnostic code (HS...), or None"},
    {"reason", "one-line reason, or None"},
    {"filename", "the source file"},
    {"lineno", "line of the definition in the new source, or None"},
    {NULL, NULL},
};

static PyStructSequence_Desc change_desc = {
    "hotswap.Change",
    "One definition touched by a reload.",
    change_fields,
    8,
};

static PyStructSequence_Field module_fields[] = {
    {"name", "module name"},
    {"filename", "source file"},
    {"status", "reloaded, unchanged or failed"},
    {"seconds", "time spent on this module"},
    {NULL, NULL},
};

static PyStructSequence_Desc module_desc = {
    "hotswap.ModuleResult",
    "One module of a batch.",
    module_fields,
    4,
};

/* ------------------------------------------------------------------ */
/* Report                                                              */

typedef struct {
    PyObject_HEAD
    PyObject *entries; /* strong: tuple of Change */
    PyObject *modules; /* strong: tuple of ModuleResult */
    PyObject *error;   /* strong: the ReloadError of a failed batch, or NULL */
    int ok;
    double seconds;
} ReportObject;

static int
report_traverse(ReportObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->entries);
    Py_VISIT(self->modules);
    Py_VISIT(self->error);
    return 0;
}

static int
report_clear(ReportObject *self)
{
    Py_CLEAR(self->entries);
    Py_CLEAR(self->modules);
    Py_CLEAR(self->error);
    return 0;
}

static void
report_dealloc(ReportObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    report_clear(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static const char *
entry_action(PyObject *e)
{
    return PyUnicode_AsUTF8(PyStructSequence_GET_ITEM(e, 3));
}

static PyObject *
report_get_changed(ReportObject *self, void *closure)
{
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(self->entries); i++) {
        const char *a = entry_action(PyTuple_GET_ITEM(self->entries, i));
        if (a && strcmp(a, "rejected") != 0 && strcmp(a, "kept") != 0
            && strcmp(a, "unchanged") != 0)
        {
            Py_RETURN_TRUE;
        }
    }
    Py_RETURN_FALSE;
}

static PyObject *
report_get_rejected(ReportObject *self, void *closure)
{
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(self->entries); i++) {
        PyObject *e = PyTuple_GET_ITEM(self->entries, i);
        const char *a = entry_action(e);
        if (a && strcmp(a, "rejected") == 0 && PyList_Append(list, e) < 0) {
            Py_DECREF(list);
            return NULL;
        }
    }
    PyObject *t = PyList_AsTuple(list);
    Py_DECREF(list);
    return t;
}

static PyObject *
record_to_dict(PyObject *rec, PyStructSequence_Field *fields)
{
    PyObject *d = PyDict_New();
    if (d == NULL) {
        return NULL;
    }
    for (int i = 0; fields[i].name != NULL; i++) {
        if (PyDict_SetItemString(d, fields[i].name,
                                 PyStructSequence_GET_ITEM(rec, i))
            < 0)
        {
            Py_DECREF(d);
            return NULL;
        }
    }
    return d;
}

static PyObject *
records_to_list(PyObject *tuple, PyStructSequence_Field *fields)
{
    PyObject *list = PyList_New(PyTuple_GET_SIZE(tuple));
    if (list == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(tuple); i++) {
        PyObject *d = record_to_dict(PyTuple_GET_ITEM(tuple, i), fields);
        if (d == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, d);
    }
    return list;
}

static PyObject *
report_to_dict(ReportObject *self, PyObject *unused)
{
    PyObject *entries = records_to_list(self->entries, change_fields);
    PyObject *modules =
        entries ? records_to_list(self->modules, module_fields) : NULL;
    PyObject *changed = modules ? report_get_changed(self, NULL) : NULL;
    PyObject *d = NULL;
    if (changed != NULL) {
        d = Py_BuildValue("{s:O,s:O,s:d,s:O,s:O}", "ok",
                          self->ok ? Py_True : Py_False, "changed", changed,
                          "seconds", self->seconds, "modules", modules,
                          "entries", entries);
    }
    Py_XDECREF(entries);
    Py_XDECREF(modules);
    Py_XDECREF(changed);
    return d;
}

static PyObject *
report_to_json(ReportObject *self, PyObject *unused)
{
    PyObject *d = report_to_dict(self, NULL);
    if (d == NULL) {
        return NULL;
    }
    PyObject *json = PyImport_ImportModule("json");
    if (json == NULL) {
        Py_DECREF(d);
        return NULL;
    }
    PyObject *s = PyObject_CallMethod(json, "dumps", "O", d);
    Py_DECREF(json);
    Py_DECREF(d);
    return s;
}

static PyObject *
report_find(ReportObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"name", "module", NULL};
    PyObject *name, *module = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "U|O:find", kwlist, &name,
                                     &module))
    {
        return NULL;
    }
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(self->entries); i++) {
        PyObject *e = PyTuple_GET_ITEM(self->entries, i);
        int r = PyObject_RichCompareBool(PyStructSequence_GET_ITEM(e, 1), name,
                                         Py_EQ);
        if (r == 1 && module != Py_None) {
            r = PyObject_RichCompareBool(PyStructSequence_GET_ITEM(e, 0),
                                         module, Py_EQ);
        }
        if (r < 0 || (r == 1 && PyList_Append(list, e) < 0)) {
            Py_DECREF(list);
            return NULL;
        }
    }
    PyObject *t = PyList_AsTuple(list);
    Py_DECREF(list);
    return t;
}

/* One line per module ("m: 3 updated, 1 added (1.2 ms)"), then one per
 * rejected edit and per replacement with its code. */
static PyObject *
report_str(ReportObject *self)
{
    static const char *const actions[] = {
        "updated",  "added", "removed",  "moved",
        "replaced", "kept",  "rejected", NULL,
    };
    PyObject *lines = PyList_New(0);
    if (lines == NULL) {
        return NULL;
    }
    if (PyTuple_GET_SIZE(self->modules) == 0) {
        PyObject *s = PyUnicode_FromString("hotswap: nothing to reload");
        if (s == NULL || PyList_Append(lines, s) < 0) {
            Py_XDECREF(s);
            goto error;
        }
        Py_DECREF(s);
    }
    for (Py_ssize_t m = 0; m < PyTuple_GET_SIZE(self->modules); m++) {
        PyObject *mr = PyTuple_GET_ITEM(self->modules, m);
        PyObject *mname = PyStructSequence_GET_ITEM(mr, 0);
        PyObject *parts = PyList_New(0);
        if (parts == NULL) {
            goto error;
        }
        for (int a = 0; actions[a] != NULL; a++) {
            long count = 0;
            for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(self->entries); i++) {
                PyObject *e = PyTuple_GET_ITEM(self->entries, i);
                const char *ea = entry_action(e);
                if (ea && strcmp(ea, actions[a]) == 0
                    && PyObject_RichCompareBool(
                           PyStructSequence_GET_ITEM(e, 0), mname, Py_EQ)
                           == 1)
                {
                    count++;
                }
            }
            if (count) {
                PyObject *p =
                    PyUnicode_FromFormat("%ld %s", count, actions[a]);
                if (p == NULL || PyList_Append(parts, p) < 0) {
                    Py_XDECREF(p);
                    Py_DECREF(parts);
                    goto error;
                }
                Py_DECREF(p);
            }
        }
        PyObject *sep = PyUnicode_FromString(", ");
        PyObject *joined = sep ? PyUnicode_Join(sep, parts) : NULL;
        Py_XDECREF(sep);
        Py_DECREF(parts);
        if (joined == NULL) {
            goto error;
        }
        double secs = PyFloat_AsDouble(PyStructSequence_GET_ITEM(mr, 3));
        char ms[32];
        PyOS_snprintf(ms, sizeof(ms), "%.1f", secs * 1000.0);
        PyObject *line = PyUnicode_FromFormat(
            "hotswap: %U %U%s%U (%s ms)", mname,
            PyStructSequence_GET_ITEM(mr, 2),
            PyUnicode_GET_LENGTH(joined) ? ": " : "", joined, ms);
        Py_DECREF(joined);
        if (line == NULL || PyList_Append(lines, line) < 0) {
            Py_XDECREF(line);
            goto error;
        }
        Py_DECREF(line);
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(self->entries); i++) {
        PyObject *e = PyTuple_GET_ITEM(self->entries, i);
        PyObject *code = PyStructSequence_GET_ITEM(e, 4);
        if (code == Py_None) {
            continue;
        }
        PyObject *lineno = PyStructSequence_GET_ITEM(e, 7);
        PyObject *where =
            lineno == Py_None
                ? PyUnicode_FromFormat("%S", PyStructSequence_GET_ITEM(e, 6))
                : PyUnicode_FromFormat(
                      "%S:%S", PyStructSequence_GET_ITEM(e, 6), lineno);
        if (where == NULL) {
            goto error;
        }
        PyObject *line = PyUnicode_FromFormat(
            "  %U %S.%U: %U: %S (%U)", PyStructSequence_GET_ITEM(e, 3),
            PyStructSequence_GET_ITEM(e, 0), PyStructSequence_GET_ITEM(e, 1),
            code, PyStructSequence_GET_ITEM(e, 5), where);
        Py_DECREF(where);
        if (line == NULL || PyList_Append(lines, line) < 0) {
            Py_XDECREF(line);
            goto error;
        }
        Py_DECREF(line);
    }
    PyObject *nl = PyUnicode_FromString("\n");
    PyObject *s = nl ? PyUnicode_Join(nl, lines) : NULL;
    Py_XDECREF(nl);
    Py_DECREF(lines);
    return s;
error:
    Py_DECREF(lines);
    return NULL;
}

static PyObject *
report_repr(ReportObject *self)
{
    PyObject *changed = report_get_changed(self, NULL);
    if (changed == NULL) {
        return NULL;
    }
    PyObject *r = PyUnicode_FromFormat(
        "<hotswap.Report ok=%s changed=%S modules=%zd entries=%zd>",
        self->ok ? "True" : "False", changed, PyTuple_GET_SIZE(self->modules),
        PyTuple_GET_SIZE(self->entries));
    Py_DECREF(changed);
    return r;
}

static PyObject *
report_get_ok(ReportObject *self, void *closure)
{
    return PyBool_FromLong(self->ok);
}

static PyObject *
report_get_error(ReportObject *self, void *closure)
{
    return Py_NewRef(self->error ? self->error : Py_None);
}

void
hs_report_set_error(PyObject *report, PyObject *error)
{
    ReportObject *self = (ReportObject *)report;
    Py_XSETREF(self->error, Py_XNewRef(error));
}

static PyObject *
report_get_seconds(ReportObject *self, void *closure)
{
    return PyFloat_FromDouble(self->seconds);
}

static PyMemberDef report_members[] = {
    {"entries", T_OBJECT, offsetof(ReportObject, entries), READONLY,
     "Every Change of the batch, in order."},
    {"modules", T_OBJECT, offsetof(ReportObject, modules), READONLY,
     "One ModuleResult per module of the batch."},
    {NULL},
};

static PyGetSetDef report_getset[] = {
    {"ok", (getter)report_get_ok, NULL, "True when the batch applied.", NULL},
    {"changed", (getter)report_get_changed, NULL,
     "True when anything changed.", NULL},
    {"rejected", (getter)report_get_rejected, NULL,
     "The entries whose edit could not be applied in place.", NULL},
    {"seconds", (getter)report_get_seconds, NULL, "Wall time of the batch.",
     NULL},
    {"error", (getter)report_get_error, NULL,
     "The ReloadError of a failed batch, or None.", NULL},
    {NULL},
};

PyDoc_STRVAR(report_to_dict_doc,
             "to_dict($self, /)\n--\n\n"
             "The report as plain data (dicts, lists, str, numbers).");
PyDoc_STRVAR(report_to_json_doc, "to_json($self, /)\n--\n\n"
                                 "The report as a JSON string.");
PyDoc_STRVAR(report_find_doc,
             "find($self, /, name, module=None)\n--\n\n"
             "The entries for one qualified name, as a tuple.");

static PyMethodDef report_methods[] = {
    {"to_dict", (PyCFunction)report_to_dict, METH_NOARGS, report_to_dict_doc},
    {"to_json", (PyCFunction)report_to_json, METH_NOARGS, report_to_json_doc},
    {"find", (PyCFunction)(void (*)(void))report_find,
     METH_VARARGS | METH_KEYWORDS, report_find_doc},
    {NULL},
};

PyDoc_STRVAR(report_doc, "What a reload or patch did.");

static PyType_Slot report_slots[] = {
    {Py_tp_doc, (void *)report_doc},
    {Py_tp_dealloc, HS_SLOT(report_dealloc)},
    {Py_tp_traverse, HS_SLOT(report_traverse)},
    {Py_tp_clear, HS_SLOT(report_clear)},
    {Py_tp_str, HS_SLOT(report_str)},
    {Py_tp_repr, HS_SLOT(report_repr)},
    {Py_tp_members, report_members},
    {Py_tp_getset, report_getset},
    {Py_tp_methods, report_methods},
    {0, NULL},
};

static PyType_Spec report_spec = {
    .name = "hotswap.Report",
    .basicsize = sizeof(ReportObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = report_slots,
};

int
hs_report_init_types(PyObject *module, PyTypeObject **change,
                     PyTypeObject **module_result, PyTypeObject **report)
{
    *change = PyStructSequence_NewType(&change_desc);
    *module_result = PyStructSequence_NewType(&module_desc);
    *report =
        (PyTypeObject *)PyType_FromModuleAndSpec(module, &report_spec, NULL);
    if (*change == NULL || *module_result == NULL || *report == NULL) {
        return -1;
    }
    return 0;
}

PyObject *
hs_report_new(PyTypeObject *type, PyObject *entries, PyObject *modules, int ok,
              double seconds)
{
    ReportObject *self = PyObject_GC_New(ReportObject, type);
    if (self == NULL) {
        return NULL;
    }
    self->entries = PyList_AsTuple(entries);
    self->modules = PyList_AsTuple(modules);
    self->error = NULL;
    self->ok = ok;
    self->seconds = seconds;
    PyObject_GC_Track(self);
    if (self->entries == NULL || self->modules == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

PyObject *
hs_report_module_result_new(PyTypeObject *type, PyObject *name,
                            PyObject *filename, const char *status,
                            double seconds)
{
    PyObject *r = PyStructSequence_New(type);
    if (r == NULL) {
        return NULL;
    }
    PyStructSequence_SET_ITEM(r, 0, Py_NewRef(name));
    PyStructSequence_SET_ITEM(r, 1, Py_NewRef(filename ? filename : Py_None));
    PyObject *s = PyUnicode_FromString(status);
    PyObject *t = PyFloat_FromDouble(seconds);
    if (s == NULL || t == NULL) {
        Py_XDECREF(s);
        Py_XDECREF(t);
        PyStructSequence_SET_ITEM(r, 2, Py_NewRef(Py_None));
        PyStructSequence_SET_ITEM(r, 3, Py_NewRef(Py_None));
        Py_DECREF(r);
        return NULL;
    }
    PyStructSequence_SET_ITEM(r, 2, s);
    PyStructSequence_SET_ITEM(r, 3, t);
    return r;
}

static int
add_entry(HsJob *job, PyObject *name, const char *kind, const char *action,
          const char *code, int lineno, PyObject *reason)
{
    PyObject *e = PyStructSequence_New(job->change_type);
    if (e == NULL) {
        Py_XDECREF(reason);
        return -1;
    }
    PyObject *vals[8];
    vals[0] = Py_NewRef(job->name);
    vals[1] = Py_NewRef(name);
    vals[2] = PyUnicode_FromString(kind);
    vals[3] = PyUnicode_FromString(action);
    vals[4] = code ? PyUnicode_FromString(code) : Py_NewRef(Py_None);
    vals[5] = reason ? reason : Py_NewRef(Py_None);
    vals[6] = Py_NewRef(job->filename ? job->filename : Py_None);
    vals[7] = lineno > 0 ? PyLong_FromLong(lineno) : Py_NewRef(Py_None);
    int bad = 0;
    for (int i = 0; i < 8; i++) {
        if (vals[i] == NULL) {
            bad = 1;
            vals[i] = Py_NewRef(Py_None);
        }
        PyStructSequence_SET_ITEM(e, i, vals[i]);
    }
    if (bad) {
        Py_DECREF(e);
        return -1;
    }
    int r = PyList_Append(job->entries, e);
    Py_DECREF(e);
    return r;
}

int
hs_report_add(HsJob *job, PyObject *name, const char *kind, const char *action,
              const char *code, int lineno, const char *reason, ...)
{
    PyObject *r = NULL;
    if (reason != NULL) {
        va_list va;
        va_start(va, reason);
        r = PyUnicode_FromFormatV(reason, va);
        va_end(va);
        if (r == NULL) {
            return -1;
        }
    }
    return add_entry(job, name, kind, action, code, lineno, r);
}

int
hs_report_diagv(HsJob *job, PyObject *name, const char *kind, HsDiag d,
                int lineno, va_list va)
{
    const HsDiagInfo *info = hs_diag(d);
    PyObject *r = PyUnicode_FromFormatV(info->reason, va);
    if (r == NULL) {
        return -1;
    }
    return add_entry(job, name, kind, info->action, info->code, lineno, r);
}

int
hs_report_diag(HsJob *job, PyObject *name, const char *kind, HsDiag d,
               int lineno, ...)
{
    va_list va;
    va_start(va, lineno);
    int r = hs_report_diagv(job, name, kind, d, lineno, va);
    va_end(va);
    return r;
}

int
hs_report_diag_str(HsJob *job, const char *name, const char *kind, HsDiag d,
                   int lineno, ...)
{
    PyObject *n = PyUnicode_FromString(name);
    if (n == NULL) {
        return -1;
    }
    va_list va;
    va_start(va, lineno);
    int r = hs_report_diagv(job, n, kind, d, lineno, va);
    va_end(va);
    Py_DECREF(n);
    return r;
}

/* (see report.h) */
int
hs_report_codes(HsJob *jobs, Py_ssize_t count, PyObject *items, HsDiag d,
                int second_is_name)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *item = PyList_GET_ITEM(items, i);
        PyObject *code = PyTuple_GET_ITEM(item, 0);
        PyObject *why = second_is_name ? NULL : PyTuple_GET_ITEM(item, 1);
        PyObject *fn = PyObject_GetAttrString(code, "co_filename");
        PyObject *qn = second_is_name
                           ? Py_NewRef(PyTuple_GET_ITEM(item, 1))
                           : PyObject_GetAttrString(code, HS_HAVE_CO_QUALNAME
                                                              ? "co_qualname"
                                                              : "co_name");
        int r = fn && qn ? 0 : -1;
        for (Py_ssize_t j = 0; r == 0 && j < count; j++) {
            if (jobs[j].filename == NULL || !jobs[j].src.changed
                || PyUnicode_Compare(jobs[j].filename, fn) != 0)
            {
                continue;
            }
            r = hs_report_diag(&jobs[j], qn, "function", d,
                               hs_code_firstlineno(code), why);
            break;
        }
        Py_XDECREF(fn);
        Py_XDECREF(qn);
        if (r < 0) {
            return -1;
        }
    }
    return 0;
}
