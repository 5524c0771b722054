/* code.c -- code objects: compile a range of the module's text at its real
 * lines, compare, move to other lines, and read the names a statement
 * binds, loads or deletes.
 *
 * Main thread, GIL held.  Owns nothing between calls.  Shared by PLAN
 * (which compiles statements to read their names), STAGE (which compiles
 * and runs them) and APPLY (which compares and moves code objects): a
 * layer-0 module, so no stage calls one upstream of it for these.
 */
#include "code.h"
#include "internals.h"

#include <string.h>

/* ------------------------------------------------------------------ */
/* the bytecode, an instruction at a time (code.h)                     */

int
hs_code_op_init(HsOpIter *it, PyObject *code)
{
    it->bytes = hs_code_get_code((PyCodeObject *)code);
    if (it->bytes == NULL) {
        return -1;
    }
    it->code = (const unsigned char *)PyBytes_AS_STRING(it->bytes);
    it->len = PyBytes_GET_SIZE(it->bytes);
    it->next = 0;
    it->at = 0;
    it->extended = 0;
    return 0;
}

void
hs_code_op_clear(HsOpIter *it)
{
    Py_CLEAR(it->bytes);
    it->code = NULL;
    it->len = 0;
}

/* ------------------------------------------------------------------ */
/* comparing code objects                                              */

static int
attr_equal(PyObject *a, PyObject *b, const char *name)
{
    PyObject *x = PyObject_GetAttrString(a, name);
    if (x == NULL) {
        return -1;
    }
    PyObject *y = PyObject_GetAttrString(b, name);
    if (y == NULL) {
        Py_DECREF(x);
        return -1;
    }
    int r = PyObject_RichCompareBool(x, y, Py_EQ);
    Py_DECREF(x);
    Py_DECREF(y);
    return r;
}

static int
consts_equal(PyObject *a, PyObject *b, int with_lines)
{
    if (Py_TYPE(a) != Py_TYPE(b)) {
        return 0;
    }
    if (PyCode_Check(a)) {
        return hs_code_equal(a, b, with_lines);
    }
    if (PyTuple_Check(a)) {
        Py_ssize_t n = PyTuple_GET_SIZE(a);
        if (n != PyTuple_GET_SIZE(b)) {
            return 0;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            int r = consts_equal(PyTuple_GET_ITEM(a, i),
                                 PyTuple_GET_ITEM(b, i), with_lines);
            if (r <= 0) {
                return r;
            }
        }
        return 1;
    }
    if (PyFloat_Check(a)) {
        /* 0.0 and -0.0 are equal but compile to different code */
        double x = PyFloat_AS_DOUBLE(a), y = PyFloat_AS_DOUBLE(b);
        return memcmp(&x, &y, sizeof(double)) == 0;
    }
    if (PyComplex_Check(a)) {
        Py_complex x = PyComplex_AsCComplex(a), y = PyComplex_AsCComplex(b);
        return memcmp(&x, &y, sizeof(Py_complex)) == 0;
    }
    return PyObject_RichCompareBool(a, b, Py_EQ);
}

int
hs_code_equal(PyObject *a, PyObject *b, int with_lines)
{
    static const char *const fields[] = {
        "co_name",
        "co_argcount",
        "co_posonlyargcount",
        "co_kwonlyargcount",
        "co_names",
        "co_varnames",
        "co_freevars",
        "co_cellvars",
        "co_stacksize",
#if HS_HAVE_CO_QUALNAME
        "co_qualname",
        "co_exceptiontable",
#endif
        NULL,
    };
    if (a == b) {
        return 1;
    }
    if (hs_code_flags(a) != hs_code_flags(b)) {
        return 0;
    }
#if HS_CODE_EQ_HAS_LINES
    if (with_lines) {
        /* 3.11+: code objects compare their line tables and, through
         * their constants, those of nested code objects: the built-in
         * comparison is the answer, and cheap */
        return PyObject_RichCompareBool(a, b, Py_EQ);
    }
#endif
    if (with_lines && hs_code_firstlineno(a) != hs_code_firstlineno(b)) {
        return 0;
    }
    PyObject *ca = hs_code_get_code((PyCodeObject *)a);
    if (ca == NULL) {
        return -1;
    }
    PyObject *cb = hs_code_get_code((PyCodeObject *)b);
    if (cb == NULL) {
        Py_DECREF(ca);
        return -1;
    }
    int r = PyObject_RichCompareBool(ca, cb, Py_EQ);
    Py_DECREF(ca);
    Py_DECREF(cb);
    PyObject *ka = NULL, *kb = NULL;
    if (r == 1) {
        ka = PyObject_GetAttrString(a, "co_consts");
        kb = ka ? PyObject_GetAttrString(b, "co_consts") : NULL;
        r = kb ? 1 : -1;
    }
    /* the constants other than code objects first: a statement whose
     * text changed mostly differs there (an edited literal) or in the
     * bytecode, and the fields below are fetched as new objects */
    if (r == 1 && PyTuple_GET_SIZE(ka) != PyTuple_GET_SIZE(kb)) {
        r = 0;
    }
    for (Py_ssize_t i = 0; r == 1 && i < PyTuple_GET_SIZE(ka); i++) {
        PyObject *x = PyTuple_GET_ITEM(ka, i), *y = PyTuple_GET_ITEM(kb, i);
        if (!PyCode_Check(x) || !PyCode_Check(y)) {
            r = consts_equal(x, y, with_lines);
        }
    }
    for (int i = 0; r == 1 && fields[i] != NULL; i++) {
        r = attr_equal(a, b, fields[i]);
    }
    if (r == 1 && with_lines) {
        r = attr_equal(a, b, HS_CODE_LINETABLE_ATTR);
    }
    if (r == 1) {
        r = consts_equal(ka, kb, with_lines);
    }
    Py_XDECREF(ka);
    Py_XDECREF(kb);
    return r;
}

#if HS_HAVE_CLASS_FIRSTLINENO
/* Is `op` an instruction that loads an int constant for __firstlineno__?
 * *small: it is 3.14's LOAD_SMALL_INT (the argument is the value). */
static int
loads_line_constant(int op, int *small)
{
    *small = 0;
#if HS_HAVE_LOAD_SMALL_INT
    if (op == HS_OP_LOAD_SMALL_INT) {
        *small = 1;
        return 1;
    }
#endif
    return op == HS_OP_LOAD_CONST;
}

/* Does `op` read the constant its argument names? */
static int
reads_constant(int op)
{
#if HS_HAVE_RETURN_CONST
    if (op == HS_OP_RETURN_CONST) {
        return 1;
    }
#endif
    return op == HS_OP_LOAD_CONST;
}

/* The index of "__firstlineno__" in the tuple `names`, or -1. */
static Py_ssize_t
firstlineno_index(PyObject *names)
{
    Py_ssize_t ni = -1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(names); i++) {
        PyObject *n = PyTuple_GET_ITEM(names, i);
        if (PyUnicode_Check(n)
            && PyUnicode_CompareWithASCIIString(n, "__firstlineno__") == 0)
        {
            ni = i;
        }
    }
    return ni;
}
#endif

/* 3.13+: a class body stores its first line as __firstlineno__ (what
 * inspect.getsource reads) from a constant, `LOAD_CONST k` (3.14+:
 * `LOAD_SMALL_INT line` below 256) right before `STORE_NAME
 * __firstlineno__`.  Moving the code must move that line too, as a fresh
 * compile at the new lines would have it.  `consts` (a new tuple, owned by
 * the caller) gets the new constant in place; `*co_code` a new bytecode
 * string when the instruction's argument changes.  Left alone, in rare
 * cases that would need the constants renumbered (the constant shared
 * with another instruction, an EXTENDED_ARG, a line crossing 256 on
 * 3.14+).  0 / -1. */
static int
shift_class_firstlineno(PyObject *code, PyObject *consts, int delta,
                        PyObject **co_code, int *inexact)
{
    *co_code = NULL;
#if HS_HAVE_CLASS_FIRSTLINENO
    if (delta == 0 || (hs_code_flags(code) & CO_OPTIMIZED)) {
        return 0;
    }
    /* cheap first: a module's code (every statement staged) has no such
     * name */
    PyObject *names = PyObject_GetAttrString(code, "co_names");
    HsOpIter it = {NULL, NULL, 0, 0, 0, 0};
    int r = -1, stuck = 0;
    if (names == NULL) {
        goto done;
    }
    if (!PyTuple_Check(names)) {
        r = 0;
        stuck = 1; /* not what this code knows: compile at the real lines */
        goto done;
    }
    Py_ssize_t ni = firstlineno_index(names);
    if (ni < 0 || ni > 255) {
        r = 0;
        goto done;
    }
    if (hs_code_op_init(&it, code) < 0) {
        goto done;
    }
    r = 0;
    /* the LOAD_CONST / LOAD_SMALL_INT before `STORE_NAME __firstlineno__`
     * (its offset, opcode, argument), and how many instructions read each
     * constant */
    Py_ssize_t at = -1, prev_at = -1;
    int op, prev_op = -1, small = 0;
    unsigned long arg, prev_arg = 0, k = 0;
    unsigned int readers[256] = {0};
    while (hs_code_op_next(&it, &op, &arg)) {
        if (it.extended) {
            goto done; /* arguments above 255: leave it */
        }
        if (at < 0 && op == HS_OP_STORE_NAME && arg == (unsigned long)ni
            && loads_line_constant(prev_op, &small))
        {
            at = prev_at;
            k = prev_arg;
        }
        if (reads_constant(op)) {
            readers[arg]++;
        }
        prev_at = it.at;
        prev_op = op;
        prev_arg = arg;
    }
    if (at < 0) {
        goto done;
    }
    int old = hs_code_firstlineno(code), want = old + delta;
    stuck = 1; /* until the line is moved */
    if (small) {
        if (k != (unsigned long)old || want < 0 || want > 255) {
            goto done;
        }
        *co_code = PyBytes_FromStringAndSize((const char *)it.code, it.len);
        if (*co_code == NULL) {
            r = -1;
            goto done;
        }
        PyBytes_AS_STRING(*co_code)[at + 1] = (char)want;
        stuck = 0;
        goto done;
    }
    if (HS_HAVE_LOAD_SMALL_INT && want <= 255) {
        goto done; /* a fresh compile would use LOAD_SMALL_INT */
    }
    if ((Py_ssize_t)k >= PyTuple_GET_SIZE(consts)) {
        goto done;
    }
    PyObject *cur = PyTuple_GET_ITEM(consts, k);
    int overflow = 0; /* an exact int: no error, only overflow */
    if (!PyLong_CheckExact(cur)
        || PyLong_AsLongAndOverflow(cur, &overflow) != old || overflow)
    {
        goto done;
    }
    if (readers[k] > 1) {
        goto done; /* shared with another instruction */
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(consts); i++) {
        PyObject *o = PyTuple_GET_ITEM(consts, i);
        int ovf = 0;
        if (i != (Py_ssize_t)k && PyLong_CheckExact(o)
            && PyLong_AsLongAndOverflow(o, &ovf) == want && !ovf)
        {
            goto done; /* a fresh compile would share that constant */
        }
    }
    PyObject *v = PyLong_FromLong(want);
    if (v == NULL) {
        r = -1;
        goto done;
    }
    /* consts is the caller's new tuple, not shared yet */
    PyTuple_SET_ITEM(consts, k, v);
    Py_DECREF(cur);
    stuck = 0;
done:
    if (stuck) {
        *inexact = 1;
    }
    Py_XDECREF(names);
    hs_code_op_clear(&it);
    return r;
#else
    (void)code;
    (void)consts;
    (void)delta;
    (void)inexact;
    return 0;
#endif
}

PyObject *
hs_code_shift(PyObject *code, int delta)
{
    int inexact = 0;
    return hs_code_shift_ex(code, delta, &inexact);
}

PyObject *
hs_code_shift_ex(PyObject *code, int delta, int *inexact)
{
    PyObject *consts = NULL, *shifted = NULL, *kwargs = NULL, *meth = NULL;
    PyObject *args = NULL, *result = NULL;
    consts = PyObject_GetAttrString(code, "co_consts");
    if (consts == NULL) {
        goto done;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(consts);
    shifted = PyTuple_New(n);
    if (shifted == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *c = PyTuple_GET_ITEM(consts, i);
        PyObject *s = PyCode_Check(c) ? hs_code_shift_ex(c, delta, inexact)
                                      : Py_NewRef(c);
        if (s == NULL) {
            goto done;
        }
        PyTuple_SET_ITEM(shifted, i, s);
    }
    PyObject *co_code = NULL;
    if (shift_class_firstlineno(code, shifted, delta, &co_code, inexact) < 0) {
        goto done;
    }
    kwargs =
        Py_BuildValue("{s:i,s:O}", "co_firstlineno",
                      hs_code_firstlineno(code) + delta, "co_consts", shifted);
    if (kwargs != NULL && co_code != NULL
        && PyDict_SetItemString(kwargs, "co_code", co_code) < 0)
    {
        Py_CLEAR(kwargs);
    }
    Py_XDECREF(co_code);
    meth = PyObject_GetAttrString(code, "replace");
    args = PyTuple_New(0);
    if (kwargs == NULL || meth == NULL || args == NULL) {
        goto done;
    }
    result = PyObject_Call(meth, args, kwargs);
done:
    Py_XDECREF(consts);
    Py_XDECREF(shifted);
    Py_XDECREF(kwargs);
    Py_XDECREF(meth);
    Py_XDECREF(args);
    return result;
}

/* ------------------------------------------------------------------ */
/* compiling                                                           */

/* Empty lines put before a class statement whose __firstlineno__ moving
 * from line 1 cannot give (hs_code_compile_range): more than 255, so the
 * line is a LOAD_CONST constant on 3.14+ as at any real line past 256. */
#define CODE_PAD_LINES 300

/* text[0:len) compiled after `pad` empty lines.  New reference. */
static PyObject *
compile_padded(HsJob *job, const char *text, Py_ssize_t len, int pad)
{
    PyCompilerFlags flags = HS_COMPILER_FLAGS_INIT(
        job->plan.cf_flags | PyCF_IGNORE_COOKIE | PyCF_SOURCE_IS_UTF8);
    PyObject *padded = PyBytes_FromStringAndSize(NULL, pad + len);
    if (padded == NULL) {
        return NULL;
    }
    char *q = PyBytes_AS_STRING(padded);
    memset(q, '\n', (size_t)pad);
    memcpy(q + pad, text, len);
    PyObject *code =
        Py_CompileStringObject(q, job->filename, Py_file_input, &flags, -1);
    Py_DECREF(padded);
    return code;
}

PyObject *
hs_code_compile_range(HsJob *job, const char *text, Py_ssize_t start,
                      Py_ssize_t end, int line, Py_ssize_t blank_to)
{
    Py_ssize_t len = end - start;
    PyObject *buf = PyBytes_FromStringAndSize(NULL, len);
    if (buf == NULL) {
        return NULL;
    }
    char *p = PyBytes_AS_STRING(buf);
    memcpy(p, text + start, len);
    /* Leave decorators out (they stay as they are on the live object)
     * while keeping every line where it is. */
    for (Py_ssize_t i = 0; i < blank_to - start && i < len; i++) {
        if (p[i] != '\n') {
            p[i] = ' ';
        }
    }
    PyCompilerFlags flags = HS_COMPILER_FLAGS_INIT(
        job->plan.cf_flags | PyCF_IGNORE_COOKIE | PyCF_SOURCE_IS_UTF8);
    PyObject *code =
        Py_CompileStringObject(p, job->filename, Py_file_input, &flags, -1);
    if (code == NULL || line <= 1) {
        Py_DECREF(buf);
        return code;
    }
    int inexact = 0;
    PyObject *shifted = hs_code_shift_ex(code, line - 1, &inexact);
    Py_DECREF(code);
    if (shifted != NULL && inexact && line - 1 > CODE_PAD_LINES) {
        /* 3.13+: a class body's __firstlineno__ that moving from line 1
         * cannot give exactly (3.14's small-int form across line 256, or
         * the constant 1 shared with the body): compile after a few
         * hundred empty lines, where the line is a constant of its own,
         * and move that.  Padding with all line - 1 empty lines costs a
         * tokenizer pass over them per class statement: quadratic in the
         * file (386 ms for the 1,000 classes of a 10,000-function module
         * on 3.14, more than compiling the whole file) */
        inexact = 0;
        int delta = line - 1 - CODE_PAD_LINES;
        code = compile_padded(job, p, len, CODE_PAD_LINES);
        Py_SETREF(shifted,
                  code ? hs_code_shift_ex(code, delta, &inexact) : NULL);
        Py_XDECREF(code);
    }
    if (shifted != NULL && inexact) {
        /* still not exact (the constant collides with one of the body's):
         * compile the text at its real lines, after as many empty ones */
        Py_SETREF(shifted, compile_padded(job, p, len, line - 1));
    }
    Py_DECREF(buf);
    return shifted;
}

/* ------------------------------------------------------------------ */
/* names a statement binds                                             */

typedef enum {
    NAMES_STORED,
    NAMES_LOADED,
    NAMES_DELETED
} NamesWhich;

int
hs_code_is_annotate_name(PyObject *name)
{
#if HS_HAVE_ANNOTATE
    return PyUnicode_Check(name)
           && (PyUnicode_CompareWithASCIIString(name, "__annotate__") == 0
               || PyUnicode_CompareWithASCIIString(
                      name, "__conditional_annotations__")
                      == 0);
#else
    (void)name;
    return 0;
#endif
}

static int
add_name(PyObject *co_names, unsigned long arg, PyObject *names)
{
    if ((Py_ssize_t)arg >= PyTuple_GET_SIZE(co_names)) {
        return 0;
    }
    return PySet_Add(names, PyTuple_GET_ITEM(co_names, arg));
}

/* Walk the bytecode of `code` (not of the code objects nested in it).
 * Returns 1 when a star import was seen, 0, or -1 on error. */
static int
walk_names(PyObject *code, NamesWhich which, PyObject *names)
{
    HsOpIter it;
    if (hs_code_op_init(&it, code) < 0) {
        return -1;
    }
    PyObject *co_names = PyObject_GetAttrString(code, "co_names");
    int star = 0, result = -1, op;
    unsigned long arg;
    if (co_names == NULL) {
        goto done;
    }
    while (hs_code_op_next(&it, &op, &arg)) {
        int r = 0;
        switch (which) {
            case NAMES_STORED:
                if ((op == HS_OP_STORE_NAME || op == HS_OP_DELETE_NAME)
                    && !((Py_ssize_t)arg < PyTuple_GET_SIZE(co_names)
                         && hs_code_is_annotate_name(
                             PyTuple_GET_ITEM(co_names, arg))))
                {
                    r = add_name(co_names, arg, names);
                }
                else if (hs_op_is_import_star(op, arg)) {
                    star = 1;
                }
                break;
            case NAMES_LOADED:
                if (op == HS_OP_LOAD_NAME) {
                    r = add_name(co_names, arg, names);
                }
                else if (op == HS_OP_LOAD_GLOBAL) {
                    r = add_name(co_names, HS_LOAD_GLOBAL_INDEX(arg), names);
                }
                break;
            case NAMES_DELETED:
                if (op == HS_OP_DELETE_NAME) {
                    r = add_name(co_names, arg, names);
                }
                break;
        }
        if (r < 0) {
            goto done;
        }
    }
    result = star;
done:
    hs_code_op_clear(&it);
    Py_XDECREF(co_names);
    return result;
}

int
hs_code_stored_names(PyObject *code, PyObject *names)
{
    return walk_names(code, NAMES_STORED, names);
}

int
hs_code_deleted_names(PyObject *code, PyObject *names)
{
    return walk_names(code, NAMES_DELETED, names) < 0 ? -1 : 0;
}

int
hs_code_star_imports(PyObject *code, PyObject *list)
{
    HsOpIter it;
    if (hs_code_op_init(&it, code) < 0) {
        return -1;
    }
    PyObject *co_names = NULL, *co_consts = NULL, *pending = NULL;
    int result = -1, op;
    unsigned long arg;
    if ((co_names = PyObject_GetAttrString(code, "co_names")) == NULL
        || (co_consts = PyObject_GetAttrString(code, "co_consts")) == NULL)
    {
        goto done;
    }
    /* the integer values of the last two constants loaded (-1: not an
     * int): an import's level is loaded just before its fromlist */
    long recent[2] = {-1, -1};
    while (hs_code_op_next(&it, &op, &arg)) {
        long value = -2;
        if (op == HS_OP_LOAD_CONST
            && (Py_ssize_t)arg < PyTuple_GET_SIZE(co_consts))
        {
            PyObject *c = PyTuple_GET_ITEM(co_consts, arg);
            int overflow = 0; /* an exact int: no error, only overflow */
            value = PyLong_CheckExact(c)
                        ? PyLong_AsLongAndOverflow(c, &overflow)
                        : -1;
            if (overflow) {
                value = -1;
            }
        }
#if HS_HAVE_LOAD_SMALL_INT
        else if (op == HS_OP_LOAD_SMALL_INT) {
            value = (long)arg;
        }
#endif
        if (value != -2) {
            recent[0] = recent[1];
            recent[1] = value;
            continue;
        }
        int star = 0;
        if (op == HS_OP_IMPORT_NAME) {
            Py_ssize_t k = (Py_ssize_t)HS_IMPORT_NAME_INDEX(arg);
            Py_CLEAR(pending);
            if (k < PyTuple_GET_SIZE(co_names) && recent[0] >= 0) {
                pending = Py_BuildValue("(Ol)", PyTuple_GET_ITEM(co_names, k),
                                        recent[0]);
                if (pending == NULL) {
                    goto done;
                }
            }
        }
        else if (hs_op_is_import_star(op, arg)) {
            star = 1;
        }
        if (star && pending != NULL) {
            if (PyList_Append(list, pending) < 0) {
                goto done;
            }
            Py_CLEAR(pending);
        }
    }
    result = 0;
done:
    hs_code_op_clear(&it);
    Py_XDECREF(co_names);
    Py_XDECREF(co_consts);
    Py_XDECREF(pending);
    return result;
}

int
hs_code_loaded_names(PyObject *code, PyObject *names)
{
    /* the statement itself, and what runs while it runs: class bodies
     * and comprehensions (functions only run later, when called) */
    if (walk_names(code, NAMES_LOADED, names) < 0) {
        return -1;
    }
    PyObject *consts = PyObject_GetAttrString(code, "co_consts");
    if (consts == NULL) {
        return -1;
    }
    int r = 0;
    for (Py_ssize_t i = 0; r == 0 && i < PyTuple_GET_SIZE(consts); i++) {
        PyObject *c = PyTuple_GET_ITEM(consts, i);
        if (!PyCode_Check(c)) {
            continue;
        }
        int run_now = !(hs_code_flags(c) & CO_OPTIMIZED);
        if (!run_now) {
            PyObject *name = PyObject_GetAttrString(c, "co_name");
            const char *s = name ? PyUnicode_AsUTF8(name) : NULL;
            run_now = s != NULL && s[0] == '<' && strcmp(s, "<lambda>") != 0;
            Py_XDECREF(name);
            if (s == NULL) {
                r = -1; /* a code object's name: only a MemoryError */
                break;
            }
        }
        if (run_now) {
            r = hs_code_loaded_names(c, names);
        }
    }
    Py_DECREF(consts);
    return r;
}
