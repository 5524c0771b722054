/* compile.c -- PLAN's last step: the code STAGE runs.  Each changed
 * statement compiled from its own text at its real lines (code.c), with
 * the module's __future__ flags; or, when one does not compile alone, the
 * whole file, and the mode becomes HS_MODE_FULL.
 *
 * Main thread, GIL held.  Writes the job's codes, full_code, cf_flags and,
 * as PLAN, its mode (plan.c writes the rest of the mode's cases).
 *
 * Why PLAN compiles: whether the statements compile alone decides how the
 * module is reloaded (chunk by chunk or the whole file), and PLAN makes
 * every decision; STAGE only runs what this made.  Each changed statement
 * is compiled once, here.
 */
#include "compile.h"
#include "code.h"
#include "errors.h"
#include "plan.h"

/* __future__ flags of the module, from its future-import chunks. */
static int
future_flags(HsJob *job, int *flags)
{
    const char *text = PyBytes_AS_STRING(job->src.text);
    PyObject *future = NULL;
    *flags = 0;
    for (Py_ssize_t i = 0; i < job->src.chunks.len; i++) {
        HsChunk *c = &job->src.chunks.items[i];
        if (c->kind != HS_CHUNK_FUTURE) {
            continue;
        }
        if (future == NULL) {
            future = PyImport_ImportModule("__future__");
            if (future == NULL) {
                return -1;
            }
        }
        PyObject *code = hs_code_compile_range(job, text, c->start, c->end,
                                               c->line, c->start);
        if (code == NULL) {
            Py_DECREF(future);
            return -1;
        }
        PyObject *names = PyObject_GetAttrString(code, "co_names");
        Py_DECREF(code);
        if (names == NULL) {
            Py_DECREF(future);
            return -1;
        }
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(names); j++) {
            PyObject *feat = NULL, *flag = NULL;
            if (PyObject_GetOptionalAttr(future, PyTuple_GET_ITEM(names, j),
                                         &feat)
                < 0)
            {
                goto error;
            }
            if (feat == NULL) {
                continue;
            }
            if (PyObject_GetOptionalAttrString(feat, "compiler_flag", &flag)
                < 0)
            {
                Py_DECREF(feat);
                goto error;
            }
            if (flag != NULL && PyLong_Check(flag)) {
                *flags |= (int)PyLong_AsLong(flag);
            }
            Py_XDECREF(flag);
            Py_DECREF(feat);
            continue;
error:
            Py_DECREF(names);
            Py_DECREF(future);
            return -1;
        }
        Py_DECREF(names);
    }
    Py_XDECREF(future);
    return 0;
}

/* The code object of the definition `name` among `consts`: the function
 * or class body itself, or (3.12+) the <generic parameters of name> code
 * holding it. */
static int
is_definition_code(PyObject *c, PyObject *name)
{
    if (!PyCode_Check(c)) {
        return 0;
    }
    PyObject *n = PyObject_GetAttrString(c, "co_name");
    if (n == NULL) {
        return -1;
    }
    int r = PyUnicode_Compare(n, name) == 0;
    if (!r && !PyErr_Occurred()) {
        PyObject *generic =
            PyUnicode_FromFormat("<generic parameters of %U>", name);
        r = generic ? PyUnicode_Compare(n, generic) == 0 : -1;
        Py_XDECREF(generic);
    }
    Py_DECREF(n);
    return PyErr_Occurred() ? -1 : r;
}

/* A def or class whose unchanged decorators were left out of the staged
 * text (so they are not run again) would get the line of its `def` as
 * co_firstlineno; a fresh import gives the first decorator's line (3.8+),
 * and inspect.getsource and tracebacks start there.  Compile the statement
 * with its decorators too and put that definition code, the one a fresh
 * import makes, into the decorator-less statement.  *code is replaced.
 * When the text with decorators does not compile alone the staged code
 * stays as it is.  0 / -1. */
static int
with_decorator_lines(HsJob *job, const char *text, HsChunk *c, PyObject **code)
{
    PyObject *full = NULL, *name = NULL, *consts = NULL, *fconsts = NULL;
    PyObject *nconsts = NULL, *replace = NULL, *args = NULL, *kw = NULL;
    int result = -1;
    full =
        hs_code_compile_range(job, text, c->start, c->end, c->line, c->start);
    if (full == NULL) {
        return hs_err_clear_unless_fatal(); /* (does not compile alone) */
    }
    name = hs_plan_chunk_name(text, c);
    consts = name ? PyObject_GetAttrString(*code, "co_consts") : NULL;
    fconsts = consts ? PyObject_GetAttrString(full, "co_consts") : NULL;
    if (fconsts == NULL) {
        goto done;
    }
    nconsts = PyList_New(0);
    if (nconsts == NULL) {
        goto done;
    }
    int swapped = 0;
    Py_ssize_t from = 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(consts); i++) {
        PyObject *k = PyTuple_GET_ITEM(consts, i);
        int def = is_definition_code(k, name);
        if (def < 0) {
            goto done;
        }
        for (; def && from < PyTuple_GET_SIZE(fconsts); from++) {
            PyObject *fk = PyTuple_GET_ITEM(fconsts, from);
            int fdef = is_definition_code(fk, name);
            if (fdef < 0) {
                goto done;
            }
            if (fdef) {
                k = fk;
                swapped = 1;
                from++;
                break;
            }
        }
        if (PyList_Append(nconsts, k) < 0) {
            goto done;
        }
    }
    if (!swapped) {
        result = 0;
        goto done;
    }
    replace = PyObject_GetAttrString(*code, "replace");
    args = PyTuple_New(0);
    PyObject *t = PyList_AsTuple(nconsts);
    kw = t ? Py_BuildValue("{s:N}", "co_consts", t) : NULL;
    if (replace == NULL || args == NULL || kw == NULL) {
        goto done;
    }
    PyObject *r = PyObject_Call(replace, args, kw);
    if (r == NULL) {
        goto done;
    }
    Py_SETREF(*code, r);
    result = 0;
done:
    Py_DECREF(full);
    Py_XDECREF(name);
    Py_XDECREF(consts);
    Py_XDECREF(fconsts);
    Py_XDECREF(nconsts);
    Py_XDECREF(replace);
    Py_XDECREF(args);
    Py_XDECREF(kw);
    return result;
}

static PyObject *
compile_whole(HsJob *job)
{
    PyCompilerFlags flags =
        HS_COMPILER_FLAGS_INIT(PyCF_IGNORE_COOKIE | PyCF_SOURCE_IS_UTF8);
    return Py_CompileStringObject(PyBytes_AS_STRING(job->src.text),
                                  job->filename, Py_file_input, &flags, -1);
}

int
hs_compile_job(HsJob *job)
{
    if (job->plan.mode == HS_MODE_FULL) {
        job->plan.full_code = compile_whole(job);
        return job->plan.full_code ? 0 : -1;
    }
    if (future_flags(job, &job->plan.cf_flags) < 0) {
        goto whole;
    }
    const char *text = PyBytes_AS_STRING(job->src.text);
    job->plan.codes = PyList_New(job->src.chunks.len);
    if (job->plan.codes == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < job->src.chunks.len; i++) {
        HsChunk *c = &job->src.chunks.items[i];
        PyObject *code = Py_None;
        if (job->plan.state[i] == HS_ST_CHANGED
            || job->plan.state[i] == HS_ST_ADDED)
        {
            Py_ssize_t blank_to =
                job->plan.deco[i] != HS_DECO_RUN ? c->head : c->start;
            code = hs_code_compile_range(job, text, c->start, c->end, c->line,
                                         blank_to);
            if (code == NULL) {
                goto whole;
            }
            if (blank_to > c->start
                && with_decorator_lines(job, text, c, &code) < 0)
            {
                Py_DECREF(code);
                Py_CLEAR(job->plan.codes);
                return -1;
            }
        }
        else {
            Py_INCREF(code);
        }
        PyList_SET_ITEM(job->plan.codes, i, code);
    }
    return 0;

whole:
    /* A chunk did not compile alone.  The whole file is the judge: its
     * error carries the user's line and text.  If it compiles, the
     * scanner split something wrongly: run the whole file instead. */
    {
        PyObject *exc = PyErr_GetRaisedException();
        PyObject *code = compile_whole(job);
        if (code == NULL) {
            Py_XDECREF(exc);
            return -1;
        }
        Py_XDECREF(exc);
        Py_CLEAR(job->plan.codes);
        job->plan.full_code = code;
        job->plan.mode = HS_MODE_FULL;
        return 0;
    }
}
