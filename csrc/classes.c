/* classes.c -- class patching rules.
 *
 * Main thread, GIL held.  The STAGE hook (stage.c) records, for every
 * existing class whose statement was staged, the namespace its new body
 * produced; hs_class_apply() turns that into setattr/delattr calls on the
 * existing class, under the undo log.
 *
 * Classes are only ever changed through PyObject_SetAttr/DelAttr: the
 * attribute cache and the specialising interpreter hold borrowed pointers
 * into the type dict, and dunder slots must be re-derived (type_setattro
 * does both).  Member-level data policy mirrors the module's: a class
 * attribute whose statement was not edited keeps its live value.
 *
 * The update of one class is class_update(): a driver over the table
 * class_rules[], each rule one decision on a shared HsClassCtx (see
 * docs/architecture.md, "Classes: one class object, forever").
 *
 * Names: what this file defines for others is hs_class_* (classes.h for
 * APPLY, classes_int.h for classdata.c, whose own functions are
 * hs_cls_*); statics are rule_* (a rule of the table), member_* (one name
 * of the new body), class_* and plain helpers.
 */
#include "apply.h"
#include "classes.h"
#include "classes_int.h"
#include "errors.h"
#include "live.h"
#include "funcs.h"
#include "plan.h"
#include "redeco.h"
#include "report.h"

#include <stdarg.h>
#include <string.h>

/* Private names.  The compiler stores a class body's `__x` (not ending in
 * `__`) as `_C__x`, C the class name without its leading underscores; the
 * member statements are scanned by their source name.  `prefix` is "_C"
 * (NULL when the class name is all underscores: nothing is mangled). */
static PyObject *
mangle_prefix(const HsDunders *D, PyObject *klass)
{
    PyObject *n = PyObject_GetAttr(klass, D->name);
    if (n == NULL) {
        return NULL;
    }
    const char *s = PyUnicode_Check(n) ? PyUnicode_AsUTF8(n) : NULL;
    PyObject *r = NULL;
    if (s != NULL) {
        while (*s == '_') {
            s++;
        }
        r = *s ? PyUnicode_FromFormat("_%s", s) : NULL;
    }
    Py_DECREF(n);
    if (r == NULL && !PyErr_Occurred()) {
        r = Py_NewRef(Py_None);
    }
    return r;
}

static int
is_private_name(const char *s, Py_ssize_t n)
{
    return n > 2 && s[0] == '_' && s[1] == '_' && memchr(s, '.', n) == NULL
           && !(s[n - 1] == '_' && s[n - 2] == '_');
}

/* The source name of namespace key `key`: "__x" for "_C__x", else `key`.
 * New reference. */
static PyObject *
member_source_name(PyObject *prefix, PyObject *key)
{
    Py_ssize_t n, pn;
    const char *s = PyUnicode_AsUTF8AndSize(key, &n);
    const char *p =
        prefix != Py_None ? PyUnicode_AsUTF8AndSize(prefix, &pn) : NULL;
    if (s == NULL || (prefix != Py_None && p == NULL)) {
        return NULL;
    }
    if (p != NULL && n > pn && memcmp(s, p, pn) == 0
        && is_private_name(s + pn, n - pn))
    {
        return PyUnicode_FromStringAndSize(s + pn, n - pn);
    }
    return Py_NewRef(key);
}

/* The namespace key of source name `src`: "_C__x" for "__x".  New
 * reference. */
static PyObject *
member_mangled_name(PyObject *prefix, PyObject *src)
{
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(src, &n);
    if (s == NULL) {
        return NULL;
    }
    if (prefix != Py_None && is_private_name(s, n)) {
        return PyUnicode_Concat(prefix, src);
    }
    return Py_NewRef(src);
}

static int
is_ident_char(char ch)
{
    return ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
           || (ch >= '0' && ch <= '9') || (unsigned char)ch >= 0x80;
}

/* Is `name` (s, n) one of the targets of assignment statement c, as in
 * `a = b = f()` or `x, y = pair()`, where the scanner names only the first
 * target or none?  Read from the text before the last `=` of the first
 * logical line (outside brackets and strings, before any `lambda`). */
static int
chunk_assigns_name(const char *text, const HsChunk *c, const char *s,
                   Py_ssize_t n)
{
    Py_ssize_t last_eq = -1;
    int depth = 0;
    for (Py_ssize_t p = c->start; p < c->end; p++) {
        char ch = text[p];
        if (ch == '#' || ch == '"' || ch == '\'' || (ch == '\n' && !depth)) {
            break;
        }
        if (ch == '(' || ch == '[' || ch == '{') {
            depth++;
        }
        else if ((ch == ')' || ch == ']' || ch == '}') && depth > 0) {
            depth--;
        }
        else if (ch == '=' && !depth) {
            char prev = p > c->start ? text[p - 1] : ' ';
            char next = p + 1 < c->end ? text[p + 1] : ' ';
            if (next == '=' || strchr("=!<>:+-*/%&|^@", prev) != NULL) {
                if (next == '=') {
                    p++;
                }
                continue;
            }
            last_eq = p;
        }
        else if (is_ident_char(ch)
                 && (p == c->start || !is_ident_char(text[p - 1])))
        {
            if (c->end - p > 6 && memcmp(text + p, "lambda", 6) == 0
                && !is_ident_char(text[p + 6]))
            {
                break;
            }
        }
    }
    for (Py_ssize_t p = c->start; p < last_eq; p++) {
        if (is_ident_char(text[p])
            && (p == c->start || !is_ident_char(text[p - 1]))
            && p + n <= last_eq && memcmp(text + p, s, n) == 0
            && !is_ident_char(text[p + n]))
        {
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* applying one class                                                  */

typedef enum {
    K_ERROR = -1, /* an exception is set */
    K_OTHER = 0,
    K_FUNCTION,
    K_CLASSMETHOD,
    K_STATICMETHOD,
    K_PROPERTY,
    K_WRAPPED, /* lru_cache and other wrappers with __wrapped__ */
} MemberKind;

static MemberKind
member_kind(const HsDunders *D, PyObject *v)
{
    if (PyFunction_Check(v)) {
        return K_FUNCTION;
    }
    if (PyObject_TypeCheck(v, &PyClassMethod_Type)) {
        return K_CLASSMETHOD;
    }
    if (PyObject_TypeCheck(v, &PyStaticMethod_Type)) {
        return K_STATICMETHOD;
    }
    if (PyObject_TypeCheck(v, &PyProperty_Type)) {
        return K_PROPERTY;
    }
    if (PyType_Check(v)) {
        return K_OTHER;
    }
    int r = PyObject_HasAttrWithError(v, D->wrapped);
    if (r < 0) {
        /* a user's __getattr__ that fails: not a wrapper; a MemoryError
         * or KeyboardInterrupt is no answer (K_ERROR) */
        r = hs_err_clear_unless_fatal();
    }
    return r < 0 ? K_ERROR : r ? K_WRAPPED : K_OTHER;
}


static PyObject *
member_qualname(Ctx *cx, PyObject *name)
{
    return PyUnicode_FromFormat("%U.%U", cx->qualname, name);
}

int
hs_class_report(Ctx *cx, PyObject *name, const char *kind, const char *action,
                const char *code, int line, const char *reason)
{
    PyObject *q = name ? member_qualname(cx, name) : Py_NewRef(cx->qualname);
    if (q == NULL) {
        return -1;
    }
    int r = hs_report_add(cx->job, q, kind, action, code,
                          line > 0 ? line : cx->line, reason);
    Py_DECREF(q);
    return r;
}

int
hs_class_diag(Ctx *cx, PyObject *name, const char *kind, HsDiag d, int line,
              ...)
{
    PyObject *q = name ? member_qualname(cx, name) : Py_NewRef(cx->qualname);
    if (q == NULL) {
        return -1;
    }
    va_list va;
    va_start(va, line);
    int r =
        hs_report_diagv(cx->job, q, kind, d, line > 0 ? line : cx->line, va);
    va_end(va);
    Py_DECREF(q);
    return r;
}

static int
call_set_name(const HsDunders *D, PyObject *klass, PyObject *name,
              PyObject *value)
{
    PyObject *set_name = NULL;
    if (PyObject_GetOptionalAttr((PyObject *)Py_TYPE(value), D->set_name,
                                 &set_name)
        < 0)
    {
        return -1;
    }
    if (set_name == NULL) {
        return 0;
    }
    PyObject *r =
        PyObject_CallFunctionObjArgs(set_name, value, klass, name, NULL);
    Py_DECREF(set_name);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

static int
set_member(Ctx *cx, PyObject *name, PyObject *value)
{
    if (hs_txn_setattr(cx->txn, cx->klass, name, value) < 0) {
        return -1;
    }
    return call_set_name(cx->job->dunders, cx->klass, name, value);
}

/* A method decorated again whose decoration made another object (`value`)
 * than the class's member (`old`): move its state onto old, which stays
 * (redeco.c; as apply.c does for a module-level def).  fo/fn: the function
 * inside old/value (or old/value itself).  1 moved, 0 not (HS102), -1. */
static int
cls_take_decoration(Ctx *cx, PyObject *old, PyObject *value, PyObject *fo,
                    PyObject *fn)
{
    int added = old == fo;
    int removed = value == fn;
    if (added && removed) {
        return 0; /* the function itself, both times */
    }
    int moved =
        hs_redeco_move(cx->txn, old, value, added || removed ? NULL : fo, fn);
    if (moved <= 0) {
        return moved;
    }
    if (hs_txn_keep(cx->txn, value) < 0
        || hs_live_note(cx->job, value, old) < 0
        || (!added && !removed && hs_live_note(cx->job, fn, fo) < 0)
        || (removed && hs_func_follow_replacement(cx->txn, old, fo, fn) < 0)
        || hs_func_clear_cache(old) < 0)
    {
        return -1;
    }
    return 1;
}

static int
patch_result_report(Ctx *cx, PyObject *name, int r, int line)
{
    switch (r) {
        case HS_PATCH_UPDATED:
            return hs_class_report(cx, name, "method", "updated", NULL, line,
                                   NULL);
        case HS_PATCH_MOVED:
            return hs_class_report(cx, name, "method", "moved", NULL, line,
                                   NULL);
        default:
            return 0;
    }
}

/* patch_wrapped(): no function of this module inside the wrappers (e.g.
 * classmethod(GenericAlias)): the member is data. */
#define PATCH_NOT_A_FUNCTION 100

/* The function the member statement made, inside `obj`: for a def (`c`
 * is its statement) the one at its lines, else whatever the wrappers lead
 * to.  New reference or NULL (exception set on error). */
static PyObject *
member_function(Ctx *cx, PyObject *name, PyObject *obj, const HsChunk *c)
{
    HsJob *job = cx->job;
    if (c != NULL && c->kind == HS_CHUNK_DEF) {
        return hs_func_find_def(obj, job->dict, job->filename, name, c->line);
    }
    /* a binding is not a definition: `handler = on_a` -> `on_b` rebinds
     * the member and leaves on_a's code alone */
    return hs_func_find_made(obj, job->dict, job->filename, name,
                             c ? c->line : 0, c ? c->last_line : 0);
}

/* Patch the function inside old (a wrapper of kind k) from the one inside
 * new.  `oc`/`nc`: the member's old and new statements (a def, or an
 * assignment whose lines tell the functions it made), or NULL when
 * unknown.  pair (may be
 * NULL) gets the two functions (new references) when they were patched.
 * Returns an HsPatchResult or -1; HS_PATCH_KIND/FREEVARS mean the caller
 * must replace the member. */
static int
patch_wrapped(Ctx *cx, PyObject *name, PyObject *old, PyObject *new,
              const HsChunk *oc, const HsChunk *nc, PyObject **pair)
{
    PyObject *fo = member_function(cx, name, old, nc != NULL ? oc : NULL);
    if (fo == NULL) {
        return PyErr_Occurred() ? -1 : PATCH_NOT_A_FUNCTION;
    }
    /* staged functions were moved onto the module dict already */
    PyObject *fn = member_function(cx, name, new, nc);
    if (fn == NULL) {
        Py_DECREF(fo);
        return PyErr_Occurred() ? -1 : PATCH_NOT_A_FUNCTION;
    }
    int r =
        hs_func_patch(cx->txn, fo, PyFunction_GET_CODE(fn), fn, cx->nested);
    if (r == HS_PATCH_UPDATED || r == HS_PATCH_MOVED) {
        if (hs_func_clear_cache(old) < 0) {
            r = -1;
        }
    }
    if (r >= 0 && pair != NULL) {
        pair[0] = Py_NewRef(fo);
        pair[1] = Py_NewRef(fn);
    }
    Py_DECREF(fo);
    Py_DECREF(fn);
    return r;
}

/* Could `v` be an object a statement made anew when it ran again (not a
 * shared atom, type, module or function)? */
static int
is_made_object(PyObject *v)
{
    return !(v == Py_None || v == Py_Ellipsis || PyBool_Check(v)
             || PyLong_Check(v) || PyFloat_Check(v) || PyUnicode_Check(v)
             || PyBytes_Check(v) || PyType_Check(v) || PyModule_Check(v)
             || PyFunction_Check(v) || PyCFunction_Check(v));
}

/* An unedited `alias = method` (`__ior__ = update = _raise`) whose live
 * value is the function an edited def of this body made, the def's own
 * name gone (`del _raise` after the aliases) so no member leads to it:
 * the live function gets the new code, and keeps its identity.  Only the
 * same function (same qualified name) as the new value; one the program
 * rebound is left alone.  0 / -1. */
static int
patch_alias(Ctx *cx, PyObject *name, PyObject *old, PyObject *value, int line)
{
    if (old == value || !PyFunction_Check(old) || !PyFunction_Check(value)
        || PyFunction_GET_GLOBALS(old) != cx->job->dict
        || PyFunction_GET_GLOBALS(value) != cx->job->dict
        || hs_txn_function_saved(cx->txn, old))
    {
        return 0;
    }
    PyObject *qualname = cx->job->dunders->qualname;
    PyObject *a = PyObject_GetAttr(old, qualname);
    PyObject *b = a ? PyObject_GetAttr(value, qualname) : NULL;
    int same = b != NULL && PyUnicode_Check(a) && PyUnicode_Check(b)
               && PyUnicode_Compare(a, b) == 0;
    Py_XDECREF(a);
    Py_XDECREF(b);
    if (PyErr_Occurred()) {
        return -1;
    }
    if (!same) {
        return 0;
    }
    int r = hs_func_patch(cx->txn, old, PyFunction_GET_CODE(value), value,
                          cx->nested);
    if (r < 0 || r == HS_PATCH_KIND || r == HS_PATCH_FREEVARS) {
        return r < 0 ? -1 : 0;
    }
    if (hs_live_note(cx->job, value, old) < 0) {
        return -1;
    }
    return patch_result_report(cx, name, r, line);
}

/* A def member whose decorators did not change but whose live object is
 * not what the new body made of it: a decorator object keeping the
 * function in an attribute of its own (functools.cached_property, a
 * memoize class), or a class machinery that moved it (an enum's __new__
 * lives on as __new_member__; the class's __new__ is Enum.__new__).  The
 * function the old statement made is found by its name and lines, in the
 * old member or else in another member of the class, and patched in
 * place; the member stays.  Returns an HsPatchResult, PATCH_NOT_A_FUNCTION
 * when there is no such function, or -1. */
static int refresh_held_doc(Ctx *cx, PyObject *old, PyObject *new);

static int
patch_def_held(Ctx *cx, PyObject *name, PyObject *old, PyObject *new,
               const HsChunk *oc, const HsChunk *nc)
{
    HsJob *job = cx->job;
    PyObject *fo = NULL, *fn = NULL, *found = NULL, *items = NULL;
    int result = -1;
    HsHeldQuery q = {job->dict, name, job->filename, oc->line, oc->line, 1};
    found = hs_func_held(old, &q);
    if (found == NULL) {
        goto done;
    }
    if (PyList_GET_SIZE(found) == 0) {
        PyObject *d = hs_class_own_dict(cx->klass);
        items = d ? PyMapping_Values(d) : NULL;
        Py_XDECREF(d);
        for (Py_ssize_t i = 0; items && i < PyList_GET_SIZE(items); i++) {
            PyObject *v = PyList_GET_ITEM(items, i);
            if (v == old) {
                continue;
            }
            Py_SETREF(found, hs_func_held(v, &q));
            if (found == NULL || PyList_GET_SIZE(found) > 0) {
                break;
            }
        }
        if (found == NULL || items == NULL) {
            goto done;
        }
    }
    if (PyList_GET_SIZE(found) == 0) {
        result = PATCH_NOT_A_FUNCTION;
        goto done;
    }
    fo = Py_NewRef(PyList_GET_ITEM(found, 0));
    q.first = q.last = nc->line;
    Py_SETREF(found, hs_func_held(new, &q));
    if (found == NULL) {
        goto done;
    }
    if (PyList_GET_SIZE(found) == 0) {
        result = PATCH_NOT_A_FUNCTION;
        goto done;
    }
    fn = Py_NewRef(PyList_GET_ITEM(found, 0));
    result =
        hs_func_patch(cx->txn, fo, PyFunction_GET_CODE(fn), fn, cx->nested);
    if ((result == HS_PATCH_UPDATED || result == HS_PATCH_MOVED)
        && (hs_func_clear_cache(old) < 0
            || refresh_held_doc(cx, old, new) < 0))
    {
        result = -1;
    }
done:
    Py_XDECREF(fo);
    Py_XDECREF(fn);
    Py_XDECREF(found);
    Py_XDECREF(items);
    return result;
}

/* Do two functions' code objects have the same co_name?  1 / 0 / -1. */
static int
same_code_name(PyObject *a, PyObject *b)
{
    PyObject *x = PyObject_GetAttrString(PyFunction_GET_CODE(a), "co_name");
    PyObject *y =
        x ? PyObject_GetAttrString(PyFunction_GET_CODE(b), "co_name") : NULL;
    int r = y ? PyObject_RichCompareBool(x, y, Py_EQ) : -1;
    Py_XDECREF(x);
    Py_XDECREF(y);
    return r;
}

/* A property, staticmethod or classmethod (3.10+) copied its function's
 * docstring when it was made, and a staticmethod or classmethod (3.10+)
 * its `__annotations__` into its own __dict__: the kept one gets the new
 * body's (a fresh import's).  0 / -1. */
static int
refresh_copied(Ctx *cx, PyObject *old, PyObject *new, const char *attr)
{
    PyObject *key = PyUnicode_FromString(attr);
    PyObject *a = key ? PyObject_GetAttr(old, key) : NULL;
    PyObject *b = a ? PyObject_GetAttr(new, key) : NULL;
    int same = b ? PyObject_RichCompareBool(a, b, Py_EQ) : -1;
    int r = same < 0 ? -1 : same ? 0 : hs_txn_setattr(cx->txn, old, key, b);
    Py_XDECREF(key);
    Py_XDECREF(a);
    Py_XDECREF(b);
    return r;
}

/* A decorator object that copied its function's docstring into its own
 * __dict__ when it was made (functools.cached_property,
 * functools.update_wrapper(self, fn)): the kept one gets the copy the new
 * decoration made, as a fresh import's has.  0 / -1. */
static int
refresh_held_doc(Ctx *cx, PyObject *old, PyObject *new)
{
    PyObject *d = NULL;
    if (PyObject_GetOptionalAttr(old, cx->job->dunders->dict, &d) < 0) {
        return -1;
    }
    int has = d != NULL && PyDict_Check(d)
                  ? PyDict_Contains(d, cx->job->dunders->doc)
                  : 0;
    Py_XDECREF(d);
    if (has <= 0) {
        return has;
    }
    return refresh_copied(cx, old, new, "__doc__");
}

static int
refresh_doc(Ctx *cx, PyObject *old, PyObject *new)
{
    if (refresh_copied(cx, old, new, "__doc__") < 0) {
        return -1;
    }
    if (PyObject_TypeCheck(old, &PyProperty_Type)) {
        return 0;
    }
    /* only where the wrapper holds a copy of its own */
    PyObject *d = NULL;
    if (PyObject_GetOptionalAttrString(old, "__dict__", &d) < 0) {
        return -1;
    }
    int has = d != NULL && PyDict_Check(d)
                  ? PyDict_Contains(d, cx->job->dunders->annotations)
                  : 0;
    Py_XDECREF(d);
    if (has <= 0) {
        return has;
    }
    return refresh_copied(cx, old, new, "__annotations__");
}

static int
patch_property(Ctx *cx, PyObject *name, PyObject *old, PyObject *new, int line,
               int is_def)
{
    static const char *const acc[] = {"fget", "fset", "fdel", NULL};
    int best = HS_PATCH_NOOP;
    for (int i = 0; acc[i] != NULL; i++) {
        PyObject *a = PyObject_GetAttrString(old, acc[i]);
        PyObject *b = a ? PyObject_GetAttrString(new, acc[i]) : NULL;
        if (b == NULL) {
            Py_XDECREF(a);
            return -1;
        }
        int r = HS_PATCH_NOOP;
        if ((a == Py_None) != (b == Py_None)) {
            r = HS_PATCH_KIND; /* an accessor added or removed */
        }
        else if (a != Py_None && PyFunction_Check(a) && PyFunction_Check(b)) {
            /* `x = property(get_a)` -> `property(get_b)` names another
             * function: a new property, get_a keeps its code */
            int same = is_def ? 1 : same_code_name(a, b);
            r = same < 0 ? -1
                : same   ? hs_func_patch(cx->txn, a, PyFunction_GET_CODE(b), b,
                                         cx->nested)
                         : HS_PATCH_KIND;
        }
        else if (a != Py_None) {
            r = patch_wrapped(cx, name, a, b, NULL, NULL, NULL);
        }
        Py_DECREF(a);
        Py_DECREF(b);
        if (r < 0) {
            return -1;
        }
        if (r == HS_PATCH_KIND || r == HS_PATCH_FREEVARS) {
            /* a new property object: the class attribute is what every
             * access goes through, so replacing it loses nothing */
            if (set_member(cx, name, new) < 0) {
                return -1;
            }
            return hs_class_report(cx, name, "method", "updated", NULL, line,
                                   NULL);
        }
        if (r == HS_PATCH_UPDATED
            || (r == HS_PATCH_MOVED && best == HS_PATCH_NOOP))
        {
            best = r;
        }
    }
    /* the docstring of a property was copied from its getter when it was
     * made: a fresh import's property has the new getter's */
    if (is_def && best != HS_PATCH_NOOP && refresh_doc(cx, old, new) < 0) {
        return -1;
    }
    return patch_result_report(cx, name, best, line);
}

/* Two __type_params__ tuples declaring the same parameters: as many, each
 * of the same kind (TypeVar, ParamSpec, TypeVarTuple) and name.  1 alike,
 * 0 not, -1 error. */
static int
type_params_alike(const HsDunders *D, PyObject *a, PyObject *b)
{
    if (a == NULL || b == NULL || !PyTuple_Check(a) || !PyTuple_Check(b)
        || PyTuple_GET_SIZE(a) != PyTuple_GET_SIZE(b))
    {
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(a); i++) {
        PyObject *x = PyTuple_GET_ITEM(a, i), *y = PyTuple_GET_ITEM(b, i);
        if (Py_TYPE(x) != Py_TYPE(y)) {
            return 0;
        }
        PyObject *nx = PyObject_GetAttr(x, D->name);
        PyObject *ny = nx ? PyObject_GetAttr(y, D->name) : NULL;
        int eq = ny ? PyObject_RichCompareBool(nx, ny, Py_EQ) : -1;
        Py_XDECREF(nx);
        Py_XDECREF(ny);
        if (eq <= 0) {
            return eq;
        }
    }
    return 1;
}

/* enum's own test for what is not a member: a descriptor (enum.property
 * over `def name`, a DynamicClassAttribute). */
static int
is_descriptor(PyObject *value)
{
    PyTypeObject *t = Py_TYPE(value);
    return t->tp_descr_get != NULL || t->tp_descr_set != NULL;
}

static int
is_skipped_name(PyObject *name)
{
    static const char *const skip[] = {
        "__module__",        "__qualname__",          "__dict__",
        "__weakref__",       "__classcell__",         "_abc_impl",
        "__slots__",         "__orig_bases__",        "__parameters__",
        "__classdictcell__", "__annotations_cache__", NULL,
    };
    for (int i = 0; skip[i] != NULL; i++) {
        if (PyUnicode_EqualToUTF8(name, skip[i])) {
            return 1;
        }
    }
    return 0;
}

static inline int
is_property_or_function(PyObject *v)
{
    return PyObject_TypeCheck(v, &PyProperty_Type) || PyFunction_Check(v);
}

/* A skipped name the class body defined as a member of its own: a
 * property or function named __module__/__dict__/__weakref__ (wrapt's
 * proxies, whose metaclass copies such properties in) that the live class
 * holds as such too is a member like any other; its accessors follow
 * edits (issue 13, cause 2).  Only in place: `type` does not let
 * __dict__/__weakref__ be assigned, so one the class did not hold before
 * stays skipped, as before.  1 / 0 / -1. */
static int
is_own_special_member(PyObject *klass, PyObject *name, PyObject *value)
{
    if (!is_property_or_function(value)
        || (PyUnicode_CompareWithASCIIString(name, "__module__") != 0
            && PyUnicode_CompareWithASCIIString(name, "__dict__") != 0
            && PyUnicode_CompareWithASCIIString(name, "__weakref__") != 0))
    {
        return 0;
    }
    PyObject *cur = NULL;
    int found = hs_class_own_member(klass, name, &cur);
    if (found <= 0) {
        return found;
    }
    int r = is_property_or_function(cur);
    Py_DECREF(cur);
    return r;
}

PyObject *
hs_class_own_dict(PyObject *klass)
{
    return PyObject_GenericGetDict(klass, NULL);
}

/* The member's own value in the class, borrowed-by-new-ref or NULL. */
int
hs_class_own_member(PyObject *klass, PyObject *name, PyObject **out)
{
    PyObject *d = hs_class_own_dict(klass);
    if (d == NULL) {
        return -1;
    }
    *out = PyObject_GetItem(d, name);
    Py_DECREF(d);
    if (*out == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_KeyError)) {
            return -1;
        }
        PyErr_Clear();
        return 0;
    }
    return 1;
}

int
hs_class_values_equal(PyObject *a, PyObject *b)
{
    if (a == b) {
        return 1;
    }
    if (a == NULL || b == NULL) {
        return 0;
    }
    int r = PyObject_RichCompareBool(a, b, Py_EQ);
    if (r < 0) {
        /* a user's __eq__ that raises: the values differ (the new one is
         * applied); a MemoryError or KeyboardInterrupt propagates */
        return hs_err_clear_unless_fatal();
    }
    return r;
}

/* Names of the enum members, or NULL (no error) when not an enum. */
static PyObject *
enum_members(PyObject *klass)
{
    PyObject *map = NULL;
    if (PyObject_GetOptionalAttrString(klass, "_member_map_", &map) < 0) {
        return NULL;
    }
    if (map == NULL || !PyDict_Check(map)) {
        Py_XDECREF(map);
        return NULL;
    }
    return map;
}

/* What type.__new__ does to a class body: __init_subclass__ and
 * __class_getitem__ become classmethods, __new__ a staticmethod. */
static int
implicit_wrappers(PyObject *items)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *pair = PyList_GET_ITEM(items, i);
        PyObject *name = PyTuple_GET_ITEM(pair, 0);
        PyObject *value = PyTuple_GET_ITEM(pair, 1);
        if (!PyUnicode_Check(name) || !PyFunction_Check(value)) {
            continue;
        }
        PyObject *w = NULL;
        if (PyUnicode_CompareWithASCIIString(name, "__init_subclass__") == 0
            || PyUnicode_CompareWithASCIIString(name, "__class_getitem__")
                   == 0)
        {
            w = PyClassMethod_New(value);
        }
        else if (PyUnicode_CompareWithASCIIString(name, "__new__") == 0) {
            w = PyStaticMethod_New(value);
        }
        else {
            continue;
        }
        PyObject *np = w ? PyTuple_Pack(2, name, w) : NULL;
        Py_XDECREF(w);
        if (np == NULL || PyList_SetItem(items, i, np) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Did the decorators of new member i change? */
static int
member_decorators_changed(const char *ntext, const char *otext,
                          const HsChunkList *nm, const HsChunkList *om,
                          const Py_ssize_t *mmatch, Py_ssize_t i)
{
    if (mmatch == NULL || i < 0 || mmatch[i] < 0) {
        return 0;
    }
    const HsChunk *c = &nm->items[i];
    const HsChunk *o = &om->items[mmatch[i]];
    if (c->kind != HS_CHUNK_DEF || o->kind != HS_CHUNK_DEF) {
        return 0;
    }
    Py_ssize_t cn = c->head - c->start, on = o->head - o->start;
    return cn != on || memcmp(ntext + c->start, otext + o->start, cn) != 0;
}

/* New bases go through the __bases__ setter, which recomputes the MRO of
 * the class and its subclasses and refuses a different instance layout;
 * a refusal is reported, not raised. */
static int
set_bases(Ctx *cx, PyObject *bases)
{
    PyObject *key = cx->job->dunders->bases;
    int r =
        bases == Py_None ? -1 : hs_txn_setattr(cx->txn, cx->klass, key, bases);
    if (r == 0) {
        return hs_class_report(cx, NULL, "class", "updated", NULL, 0, NULL);
    }
    if (bases != Py_None && !PyErr_ExceptionMatches(PyExc_TypeError)) {
        return -1;
    }
    PyObject *exc = PyErr_GetRaisedException();
    r = hs_report_diag(cx->job, cx->qualname, "class", HS201, cx->line,
                       exc ? exc : Py_None);
    Py_XDECREF(exc);
    return r;
}

/* ------------------------------------------------------------------ */
/* the class update: a driver over a table of rules                    */

/* What the rules of one class update share.  class_update() fills the
 * inputs; the rules run in the order of class_rules[], and the deciding
 * rules (layout, dataclass, namedtuple, enum, init_subclass) write
 * the decisions that the acting rules after them read. */
typedef struct {
    Ctx cx; /* the class, its qualname (strong), the job, the undo log */
    const HsDunders *d; /* borrowed: the job's interned names */
    /* inputs: one HsClassUpdate of STAGE */
    const HsClassUpdate *up; /* borrowed: owned by the job */
    PyObject *ns;            /* borrowed: the namespace of the new body */
    const HsClassRanges *rg; /* borrowed: up->plan.ranges */
    PyObject *shadow;        /* borrowed: a typing class, or Py_None */
    PyObject *prepared;      /* borrowed: __prepare__'s copy, or Py_None */
    const char *ntext;       /* borrowed: the new source */
    const char *otext;       /* borrowed: the old source, or NULL */
    PyObject *prefix;        /* strong: the name-mangling prefix */
    /* PLAN's member plan (borrowed: up->plan.members): the member
     * statements, old and new, matched by key */
    int plans;                 /* both bodies scanned, neither unsure */
    const HsChunkList *nm;     /* new member statements */
    const HsChunkList *om;     /* old member statements */
    const char *old_used;      /* per old member, matched */
    const signed char *mstate; /* per new member, an HsChunkState */
    const Py_ssize_t *mmatch;  /* per new member, old index or -1 */
    /* decisions */
    int rebuild;             /* layout: a new class object, at the end */
    int dataclass;           /* the class has its own dataclass fields */
    int fields_changed;      /* ... and they changed */
    int regen;               /* ... and the decorator runs again */
    int nt_changed;          /* NamedTuple fields changed (HS204) */
    int enum_edited;         /* an enum member statement changed */
    PyObject *members;       /* strong: the enum's members, or NULL */
    PyObject *annotations;   /* strong: the new body's, or NULL */
    PyObject *old_ann;       /* strong: the class's, or NULL */
    PyObject *old_fields;    /* strong: __dataclass_fields__ when regen */
    PyObject *init_sub_code; /* strong: __init_subclass__'s code before */
} HsClassCtx;

/* 1 when the class has `name` in its own dict; 0 when not, -1. */
static int
class_has_own(PyObject *klass, PyObject *name)
{
    PyObject *v = NULL;
    int r = hs_class_own_member(klass, name, &v);
    Py_XDECREF(v);
    return r;
}

/* The comparisons of what the header evaluated to (STAGE recorded it)
 * that PLAN's header verdict needs.  A comparison that raises an ordinary
 * exception counts as "differs"; a fatal one fails (-1).  0 / -1. */
static int
class_header_facts(const HsDunders *D, const HsClassUpdate *up,
                   HsHeaderFacts *f)
{
    int same = PyObject_RichCompareBool(up->bases, up->old_bases, Py_EQ);
    if (same < 0 && hs_err_clear_unless_fatal() < 0) {
        return -1; /* else bases whose __eq__ raises: not the same */
    }
    f->bases_equal = same == 1;
    f->metaclass_changed = up->metaclass != NULL
                           && up->metaclass != (PyObject *)Py_TYPE(up->klass);
    f->has_keywords = PyDict_GET_SIZE(up->keywords) > 0;
    f->shadow_bases_equal = 0;
    if (up->shadow != NULL) {
        PyObject *sb = PyObject_GetAttr(up->shadow, D->bases);
        same = sb != NULL ? PyObject_RichCompareBool(sb, up->old_bases, Py_EQ)
                          : -1;
        Py_XDECREF(sb);
        /* bases that cannot be read or compared: the header changed */
        if (same < 0 && hs_err_clear_unless_fatal() < 0) {
            return -1;
        }
        f->shadow_bases_equal = same == 1;
    }
    return 0;
}

/* header: new bases through the __bases__ setter; a new metaclass or new
 * class keywords are reported (HS202), the body is applied anyway */
static int
rule_header(HsClassCtx *hc)
{
    HsHeaderFacts facts;
    if (class_header_facts(hc->d, hc->up, &facts) < 0) {
        return -1;
    }
    HsHeaderVerdict v = hs_plan_header_verdict(&hc->up->plan, &facts);
    if (v == HS_HEADER_BASES && set_bases(&hc->cx, hc->up->bases) < 0) {
        return -1;
    }
    if ((v == HS_HEADER_METACLASS
         || (v == HS_HEADER_KEYWORDS && hc->shadow == Py_None))
        && hs_class_diag(&hc->cx, NULL, "class", HS202, 0) < 0)
    {
        return -1;
    }
    return 0;
}

/* 1 when the class's __slots__ and the new body's differ; 0, -1. */
static int
layout_slots_differ(HsClassCtx *hc)
{
    PyObject *klass = hc->cx.klass;
    PyObject *ns_slots = NULL, *old_slots = NULL, *key = hc->d->slots;
    int differ = -1;
    /* a typing metaclass (NamedTuple) writes __slots__ itself: take them
     * from the class it built from the new body */
    if (hc->shadow != Py_None) {
        if (hs_class_own_member(hc->shadow, key, &ns_slots) < 0) {
            goto done;
        }
    }
    else if (PyMapping_GetOptionalItem(hc->ns, key, &ns_slots) < 0) {
        goto done;
    }
    if (hs_class_own_member(klass, key, &old_slots) < 0) {
        goto done;
    }
    int same = hs_class_values_equal(ns_slots, old_slots);
    if (same < 0) {
        goto done;
    }
    int alike = same ? 1 : hs_cls_same_slot_names(ns_slots, old_slots);
    if (alike < 0) {
        goto done;
    }
    differ = !alike;
    if (differ && ns_slots == NULL && hc->shadow == Py_None) {
        /* no __slots__ in the body: the class machinery made them
         * (@dataclass(slots=True), attrs' slotted classes), unless the
         * old body had the statement */
        if (hc->plans) {
            differ =
                hs_chunks_find(hc->otext, hc->om, HS_CHUNK_STMT, key) != NULL;
        }
        else {
            int has =
                PyObject_HasAttrWithError(klass, hc->d->dataclass_fields);
            differ = has < 0 ? -1 : !has;
        }
    }
done:
    Py_XDECREF(ns_slots);
    Py_XDECREF(old_slots);
    return differ;
}

/* layout: __slots__ cannot change on a live class (HS203), unless the
 * caller opted into a new class object */
static int
rule_layout(HsClassCtx *hc)
{
    int differ = layout_slots_differ(hc);
    if (differ < 0) {
        return -1;
    }
    int line = 0;
    for (Py_ssize_t i = 0; i < hc->nm->len; i++) {
        if (hc->nm->items[i].name_len == 9
            && memcmp(hc->ntext + hc->nm->items[i].name, "__slots__", 9) == 0)
        {
            line = hc->nm->items[i].head_line;
        }
    }
    if (differ && hc->cx.job->rebuild_layout) {
        hc->rebuild = 1; /* opt-in: a new class object, at the end */
    }
    else if (differ
             && hs_class_diag(&hc->cx, NULL, "class", HS203_SLOTS, line) < 0)
    {
        return -1;
    }
    return 0;
}

/* 1 when an edited, added or removed assignment of the body is a field
 * (a changed default of an unchanged field); 0. */
static int
dataclass_default_edited(HsClassCtx *hc)
{
    const HsChunkList *nm = hc->nm, *om = hc->om;
    for (Py_ssize_t i = 0; i < nm->len; i++) {
        if (nm->items[i].kind != HS_CHUNK_ASSIGN
            || hc->mstate[i] == HS_ST_UNCHANGED
            || hc->mstate[i] == HS_ST_MOVED)
        {
            continue;
        }
        PyObject *n = PyUnicode_FromStringAndSize(
            hc->ntext + nm->items[i].name, nm->items[i].name_len);
        if (n == NULL) {
            return -1;
        }
        int in = hc->annotations ? PySequence_Contains(hc->annotations, n) : 0;
        Py_DECREF(n);
        if (in < 0 && hs_err_clear_unless_fatal() < 0) {
            return -1; /* else: annotations that are no container */
        }
        if (in == 1) {
            return 1;
        }
    }
    for (Py_ssize_t j = 0; j < om->len; j++) {
        if (!hc->old_used[j] && om->items[j].kind == HS_CHUNK_ASSIGN) {
            return 1;
        }
    }
    return 0;
}

/* dataclass: changed fields make the decorator run again on this class
 * (regen, done by rule_dataclass_regen), unless its instances have a
 * fixed layout (slots=True: HS204) */
static int
rule_dataclass(HsClassCtx *hc)
{
    PyObject *klass = hc->cx.klass;
    int r = class_has_own(klass, hc->d->dataclass_fields);
    if (r < 0) {
        return -1;
    }
    hc->dataclass = r == 1;
    /* 3.14+ computes annotations (without evaluating) only where they are
     * compared: fields of a dataclass or a typing construct, or a class
     * with a migration hook */
    int hook = PyObject_HasAttrWithError(klass, hc->d->hotswap_migrate);
    if (hook < 0) {
        return -1;
    }
    if ((!HS_HAVE_ANNOTATE || hc->dataclass || hc->shadow != Py_None || hook)
        && (hs_cls_annotations(hc->ns, NULL, &hc->annotations) < 0
            || hs_cls_annotations(NULL, klass, &hc->old_ann) < 0))
    {
        return -1;
    }
    if (!hc->dataclass) {
        return 0;
    }
    int same = hs_class_values_equal(hc->annotations, hc->old_ann);
    if (same < 0) {
        return -1;
    }
    hc->fields_changed = !same;
    if (!hc->fields_changed && hc->plans) {
        r = dataclass_default_edited(hc);
        if (r < 0) {
            return -1;
        }
        hc->fields_changed = r;
    }
    if (!hc->fields_changed) {
        return 0;
    }
    /* slots=True (3.10+): __dataclass_params__ says so from 3.12; before,
     * the class's own __slots__ does */
    int slots = hs_cls_dataclass_param(klass, "slots");
    if (slots == 0) {
        slots = class_has_own(klass, hc->d->slots);
    }
    if (slots < 0) {
        return -1;
    }
    if (!slots) {
        hc->regen = 1; /* the decorator runs again on this class */
        hc->old_fields = PyObject_GetAttr(klass, hc->d->dataclass_fields);
        return hc->old_fields == NULL ? -1 : 0;
    }
    return hs_class_diag(&hc->cx, NULL, "class", HS204_DATACLASS, 0);
}

/* namedtuple: instances are tuples of the old shape (HS204) */
static int
rule_namedtuple(HsClassCtx *hc)
{
    hc->nt_changed =
        hs_cls_namedtuple_fields_changed(hc->cx.klass, hc->shadow);
    if (hc->nt_changed < 0) {
        return -1;
    }
    if (hc->nt_changed
        && hs_class_diag(&hc->cx, NULL, "class", HS204_NAMEDTUPLE, 0) < 0)
    {
        return -1;
    }
    return 0;
}

/* enum: members keep their identity; an edited member statement makes
 * rule_enum_sync compare the members with the new body's */
static int
rule_enum(HsClassCtx *hc)
{
    hc->members = enum_members(hc->cx.klass);
    if (hc->members == NULL && PyErr_Occurred()) {
        return -1;
    }
    if (hc->members == NULL || !hc->plans) {
        return 0;
    }
    const HsChunkList *nm = hc->nm, *om = hc->om;
    int changed = 0;
    for (Py_ssize_t i = 0; i < nm->len && !changed; i++) {
        HsChunk *c = &nm->items[i];
        if (c->kind != HS_CHUNK_ASSIGN || hc->mstate[i] == HS_ST_UNCHANGED
            || hc->mstate[i] == HS_ST_MOVED)
        {
            continue;
        }
        PyObject *n =
            PyUnicode_FromStringAndSize(hc->ntext + c->name, c->name_len);
        if (n == NULL) {
            return -1;
        }
        const char *s = PyUnicode_AsUTF8(n);
        /* a new or edited plain assignment in an enum body is a member
         * unless it is private or a dunder */
        changed = s != NULL && s[0] != '_';
        Py_DECREF(n);
    }
    for (Py_ssize_t j = 0; j < om->len && !changed; j++) {
        HsChunk *o = &om->items[j];
        changed = !hc->old_used[j] && o->kind == HS_CHUNK_ASSIGN
                  && hc->otext[o->name] != '_';
    }
    hc->enum_edited = changed;
    return 0;
}

/* init_subclass: remember the code of __init_subclass__ before the
 * members change (rule_init_subclass compares) */
static int
rule_init_subclass_before(HsClassCtx *hc)
{
    PyObject *v = NULL;
    if (hs_class_own_member(hc->cx.klass, hc->d->init_subclass, &v) < 0) {
        return -1;
    }
    if (v != NULL) {
        PyObject *f = hs_func_find(v, hc->cx.job->dict, NULL);
        hc->init_sub_code = f ? Py_NewRef(PyFunction_GET_CODE(f)) : NULL;
        Py_XDECREF(f);
        Py_DECREF(v);
        if (hc->init_sub_code == NULL && PyErr_Occurred()) {
            return -1; /* else no function found in it: nothing to compare */
        }
    }
    return 0;
}

/* One name of the new body's namespace, on its way into the class. */
typedef struct {
    PyObject *name;  /* borrowed: from the namespace's items */
    PyObject *value; /* borrowed: from the namespace's items */
    PyObject *sname; /* strong: the name in the source (unmangled) */
    PyObject *old;   /* strong: the class's own value, or NULL */
    int is_ann;      /* the name is __annotations__ */
    int st;          /* its statement's HsChunkState, or -1 (unknown) */
    int line;        /* its statement's line, or 0 */
    Py_ssize_t mi;   /* its statement's index in nm, or -1 */
    int deco_changed;
    int edited; /* st is neither unchanged nor moved */
} HsMember;

/* 1 when the member is not the body's to set (enum members, what
 * __prepare__ put there, fields a rejection keeps); 0; -1. */
static int
member_skipped(HsClassCtx *hc, HsMember *m)
{
    PyObject *name = m->name, *value = m->value;
    int own = 0;
    if (!PyUnicode_Check(name)
        || (is_skipped_name(name)
            && (own = is_own_special_member(hc->cx.klass, name, value)) <= 0))
    {
        return own < 0 ? -1 : 1;
    }
    if (hc->members != NULL && PyDict_GetItemWithError(hc->members, name)) {
        return 1; /* enum members keep their identity */
    }
    if (hc->prepared != Py_None && !PyErr_Occurred()
        && PyDict_GetItemWithError(hc->prepared, name) == value)
    {
        return 1; /* put there by __prepare__, not by the body */
    }
    if (PyErr_Occurred()) {
        return -1;
    }
    if (hc->members != NULL) {
        const char *s = PyUnicode_AsUTF8(name);
        MemberKind k = s != NULL && s[0] != '_' && !PyFunction_Check(value)
                           ? member_kind(hc->d, value)
                           : K_FUNCTION;
        if (s == NULL || k == K_ERROR) {
            return -1;
        }
        if (k == K_OTHER && !PyType_Check(value) && !is_descriptor(value)) {
            return 1; /* a would-be new member: HS205 said so */
        }
    }
    m->is_ann = PyUnicode_CompareWithASCIIString(name, "__annotations__") == 0;
    int fields_kept =
        (hc->dataclass && hc->fields_changed && !hc->regen) || hc->nt_changed;
    if (m->is_ann && fields_kept) {
        return 1;
    }
    if (fields_kept && hc->annotations != NULL) {
        int in = PySequence_Contains(hc->annotations, name);
        if (in < 0 && hs_err_clear_unless_fatal() < 0) {
            return -1; /* else: annotations that are no container */
        }
        if (in == 1) {
            return 1;
        }
    }
    return 0;
}

/* The member's statement in the new body (st, line, mi) and whether its
 * decorators changed.  0 / -1. */
static int
member_find_statement(HsClassCtx *hc, HsMember *m)
{
    const HsChunkList *nm = hc->nm;
    m->st = -1;
    m->line = 0;
    m->mi = -1;
    /* a private member's statement has its source name */
    m->sname = member_source_name(hc->prefix, m->name);
    if (m->sname == NULL) {
        return -1;
    }
    if (!hc->plans) {
        return 0;
    }
    for (Py_ssize_t j = 0; j < nm->len; j++) {
        if (nm->items[j].name_len > 0
            && hs_chunk_name_eq(hc->ntext, &nm->items[j], m->sname))
        {
            m->st = hc->mstate[j];
            m->line = nm->items[j].head_line;
            m->mi = j;
        }
    }
    /* another target of an assignment (`a = b = f`, `x, y = ...`): that
     * statement's state */
    Py_ssize_t sn;
    const char *ss = m->mi < 0 ? PyUnicode_AsUTF8AndSize(m->sname, &sn) : NULL;
    for (Py_ssize_t j = 0; ss != NULL && j < nm->len; j++) {
        const HsChunk *c = &nm->items[j];
        if ((c->kind == HS_CHUNK_STMT || c->kind == HS_CHUNK_ASSIGN)
            && chunk_assigns_name(hc->ntext, c, ss, sn))
        {
            m->st = hc->mstate[j];
            m->line = c->head_line;
            m->mi = j;
        }
    }
    if (PyErr_Occurred()) {
        return -1;
    }
    m->deco_changed = member_decorators_changed(hc->ntext, hc->otext, nm,
                                                hc->om, hc->mmatch, m->mi);
    return 0;
}

/* A member the class does not have: left out, patched where it lives, or
 * added.  0 / -1. */
static int
member_absent(HsClassCtx *hc, HsMember *m)
{
    PyObject *name = m->name;
    if (!m->edited) {
        /* the class machinery took it out of the class (a dataclass field
         * with a default_factory, attrs' attr.ib()): a fresh import does
         * the same */
        return 0;
    }
    if (PyUnicode_CompareWithASCIIString(name, "__firstlineno__") == 0) {
        /* 3.13+: setting __module__ drops it (`C.__module__ = "pkg"`,
         * tomllib's TOMLDecodeError): a fresh import's class has none
         * either */
        return 0;
    }
    Py_ssize_t mi = m->mi;
    if (mi >= 0 && hc->nm->items[mi].kind == HS_CHUNK_DEF
        && hc->mmatch[mi] >= 0
        && hc->om->items[hc->mmatch[mi]].kind == HS_CHUNK_DEF
        && !m->deco_changed)
    {
        /* a def the program took out of the class after the class
         * statement, once another member held its function (boltons'
         * `iqr = _StatsProperty('iqr', _calc_iqr)`, then
         * `delattr(Stats, '_calc_iqr')`): the function is patched where it
         * lives, and the name stays out of the class, as the program's
         * later statement leaves it in a fresh import */
        int pr =
            patch_def_held(&hc->cx, name, Py_None, m->value,
                           &hc->om->items[hc->mmatch[mi]], &hc->nm->items[mi]);
        if (pr < 0) {
            return -1;
        }
        if (pr != PATCH_NOT_A_FUNCTION && pr != HS_PATCH_KIND
            && pr != HS_PATCH_FREEVARS)
        {
            return patch_result_report(&hc->cx, name, pr, m->line);
        }
    }
    MemberKind k = member_kind(hc->d, m->value);
    if (k == K_ERROR || set_member(&hc->cx, name, m->value) < 0
        || hs_class_report(&hc->cx, name, k == K_OTHER ? "data" : "method",
                           "added", NULL, m->line, NULL)
               < 0)
    {
        return -1;
    }
    return 0;
}

/* A slot the class machinery made from a class-body member (slots=True
 * dataclass field, attrs attribute): instances store their values through
 * it; the body's value is a default the machinery keeps elsewhere.  The
 * slot stays.  0 / -1. */
static int
member_slot(HsClassCtx *hc, HsMember *m)
{
    if (m->edited && hc->plans
        && hs_class_diag(&hc->cx, m->name, "data", HS204_SLOT, m->line) < 0)
    {
        return -1;
    }
    return 0;
}

/* Does the unedited data statement of member m make the object it binds
 * (a call, a literal, an operator, a lambda: `__marker = object()`), or
 * only read one that existed before the body ran (`pattern =
 * _TemplatePattern`, `x = mod.attr`, `a = b if c else d`)?  Only a made
 * object has a live twin to pair with (live.c): the object a name holds is
 * itself, and pairing it with the member's live value -- which the program
 * may have replaced at run time (string.Template caches its compiled
 * pattern over the sentinel) -- would rebind every name holding it.  Read
 * from the statement's text: names, dots, `=`, `:` annotations of names,
 * `if`/`else`/`and`/`or` between names, comments and continuations only
 * read.  1 made (also when the statement is not known), 0 read only. */
static int
member_makes_value(HsClassCtx *hc, HsMember *m)
{
    if (m->mi < 0 || hc->ntext == NULL) {
        return 1;
    }
    const HsChunk *c = &hc->nm->items[m->mi];
    const char *t = hc->ntext + c->start;
    Py_ssize_t n = c->end - c->start;
    if (hs_plan_contains_bytes(t, n, "lambda", 6)) {
        return 1;
    }
    int targets = 0; /* an `=` seen: a value follows */
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)t[i];
        if (ch == '#') {
            while (i < n && t[i] != '\n') {
                i++;
            }
        }
        else if (ch == '=') {
            if (i + 1 < n && t[i + 1] == '=') {
                return 1;
            }
            targets = 1;
        }
        else if (!(Py_ISALNUM(ch) || ch == '_' || ch == '.' || ch == ':'
                   || ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'
                   || ch == '\\' || ch == '\f' || ch >= 0x80))
        {
            return 1;
        }
    }
    return !targets;
}

/* A member whose statement was not edited: the live value stays, and what
 * the body computed from it gets the live one.  0 / -1. */
static int
member_unedited(HsClassCtx *hc, HsMember *m, int data_stmt)
{
    HsJob *job = hc->cx.job;
    PyObject *old = m->old, *value = m->value;
    Py_ssize_t mi = m->mi;
    int a = 0;
    if (!data_stmt) {
        MemberKind ko = member_kind(hc->d, old);
        a = ko == K_ERROR   ? -1
            : ko != K_OTHER ? hs_live_note(job, value, old)
                            : 0;
    }
    if (a == 0 && data_stmt) {
        a = patch_alias(&hc->cx, m->name, old, value, m->line);
    }
    MemberKind kd = a == 0 && data_stmt && old != value
                        ? member_kind(hc->d, old)
                        : K_FUNCTION;
    if (kd == K_ERROR) {
        return -1;
    }
    if (kd == K_OTHER && is_made_object(value)
        && Py_TYPE(old) == Py_TYPE(value) && member_makes_value(hc, m))
    {
        /* the object the unedited statement made again
         * (`__marker = object()`): what the body computed from it
         * (`def pop(self, default=__marker)`) gets the live one */
        a = hs_live_note(job, value, old);
    }
    if (a == 0 && m->st == HS_ST_MOVED && hc->mmatch[mi] >= 0) {
        /* `f = staticmethod(lambda ...)`: the lambdas it made move with
         * it */
        const HsChunk *c = &hc->nm->items[mi];
        const HsChunk *o = &hc->om->items[hc->mmatch[mi]];
        if (hs_plan_contains_bytes(hc->ntext + c->start, c->end - c->start,
                                   "lambda", 6))
        {
            HsHeldQuery q = {job->dict, NULL,         job->filename,
                             o->line,   o->last_line, 0};
            a = hs_func_shift_held(hc->cx.txn, old, &q, c->line - o->line,
                                   hc->cx.nested);
        }
    }
    return a < 0 ? -1 : 0;
}

/* The member's def statement in the new body, or NULL. */
static const HsChunk *
member_new_def(HsClassCtx *hc, HsMember *m)
{
    return m->mi >= 0 && hc->nm->items[m->mi].kind == HS_CHUNK_DEF
               ? &hc->nm->items[m->mi]
               : NULL;
}

/* The member's def statement in the old body when it is a def in both,
 * or NULL. */
static const HsChunk *
member_old_def(HsClassCtx *hc, HsMember *m)
{
    return member_new_def(hc, m) != NULL && hc->mmatch[m->mi] >= 0
                   && hc->om->items[hc->mmatch[m->mi]].kind == HS_CHUNK_DEF
               ? &hc->om->items[hc->mmatch[m->mi]]
               : NULL;
}

/* A def whose live object is not what the new body made of it (see
 * patch_def_held).  1 when patched and reported, 0 when not such a
 * member, -1. */
static int
member_def_held(HsClassCtx *hc, HsMember *m)
{
    const HsChunk *ndef = member_new_def(hc, m), *odef = member_old_def(hc, m);
    int r = patch_def_held(&hc->cx, m->sname, m->old, m->value, odef, ndef);
    if (r < 0) {
        return -1;
    }
    if (r == PATCH_NOT_A_FUNCTION || r == HS_PATCH_KIND
        || r == HS_PATCH_FREEVARS)
    {
        return 0;
    }
    if (hs_live_note(hc->cx.job, m->value, m->old) < 0
        || patch_result_report(&hc->cx, m->name, r, m->line) < 0)
    {
        return -1;
    }
    return 1;
}

/* Set the member to the body's value and report it: diagnostic `d`, or
 * with HS_DIAG_NONE "updated".  0 / -1. */
static int
member_set(HsClassCtx *hc, HsMember *m, const char *kind, HsDiag d)
{
    if (set_member(&hc->cx, m->name, m->value) < 0
        || (d == HS_DIAG_NONE
                ? hs_class_report(&hc->cx, m->name, kind, "updated", NULL,
                                  m->line, NULL)
                : hs_class_diag(&hc->cx, m->name, kind, d, m->line))
               < 0)
    {
        return -1;
    }
    return 0;
}

/* Is member m (a def in both bodies, decorators unchanged) a wrapper
 * around the function its old def statement made, other than a bare
 * staticmethod/classmethod (which copy nothing a reload leaves stale)?
 * If so *sig gets that function's signature before the patch
 * (hs_apply_signature_of).  0 / -1. */
static int
method_kept_wrapper(Ctx *cx, HsMember *m, const HsChunk *odef, PyObject **sig)
{
    PyObject *fo = member_function(cx, m->sname, m->old, odef);
    if (fo == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    PyObject *inner = NULL;
    if (PyObject_TypeCheck(m->old, &PyClassMethod_Type)
        || PyObject_TypeCheck(m->old, &PyStaticMethod_Type))
    {
        inner = PyObject_GetAttrString(m->old, "__func__");
        if (inner == NULL) {
            Py_DECREF(fo);
            return -1;
        }
    }
    if (m->old != fo && inner != fo) {
        *sig = hs_apply_signature_of(fo);
    }
    Py_XDECREF(inner);
    Py_DECREF(fo);
    return *sig == NULL && PyErr_Occurred() ? -1 : 0;
}

/* Has f's signature (hs_apply_signature_of) changed from `before`?
 * 1 / 0 / -1. */
static int
signature_changed(PyObject *before, PyObject *f)
{
    PyObject *now = hs_apply_signature_of(f);
    if (now == NULL) {
        return -1;
    }
    int same = PyObject_RichCompareBool(before, now, Py_EQ);
    Py_DECREF(now);
    if (same < 0) {
        /* incomparable defaults: changed (not a fatal error) */
        return hs_err_clear_unless_fatal() < 0 ? -1 : 1;
    }
    return !same;
}

/* A member of the same function-like kind, old and new (method,
 * classmethod, staticmethod, property, a wrapper): patched in place.
 * 0 / -1. */
static int
member_same_kind(HsClassCtx *hc, HsMember *m, MemberKind kind)
{
    const HsChunk *ndef = member_new_def(hc, m), *odef = member_old_def(hc, m);
    PyObject *fpair[2] = {NULL, NULL};
    Py_ssize_t mi = m->mi;
    if (kind == K_PROPERTY) {
        return patch_property(&hc->cx, m->name, m->old, m->value, m->line,
                              ndef != NULL);
    }
    /* a member bound by an assignment: its statements' lines tell the
     * functions it made from those it names */
    const HsChunk *nst = ndef != NULL || mi < 0 ? ndef : &hc->nm->items[mi];
    const HsChunk *ost = ndef != NULL || mi < 0 || hc->mmatch[mi] < 0
                             ? odef
                             : &hc->om->items[hc->mmatch[mi]];
    /* a def under unchanged decorators: they ran again on the staged
     * body, but the old wrapper stays the member, so what it took from the
     * function at import stays (HS105 when that changed) */
    PyObject *sig = NULL;
    if (ndef != NULL && odef != NULL && !m->deco_changed
        && method_kept_wrapper(&hc->cx, m, odef, &sig) < 0)
    {
        return -1;
    }
    int r =
        patch_wrapped(&hc->cx, m->sname, m->old, m->value, ost, nst, fpair);
    int kept_deco = 0;
    if (r == HS_PATCH_UPDATED && sig != NULL && fpair[0] != NULL) {
        kept_deco = signature_changed(sig, fpair[0]);
        r = kept_deco < 0 ? -1 : r;
    }
    Py_XDECREF(sig);
    if (r < 0) {
        Py_XDECREF(fpair[0]);
        Py_XDECREF(fpair[1]);
        return -1;
    }
    int a = 0, moved = 0;
    if (m->deco_changed && fpair[0] != NULL && r != HS_PATCH_KIND
        && r != HS_PATCH_FREEVARS && r != PATCH_NOT_A_FUNCTION)
    {
        moved =
            cls_take_decoration(&hc->cx, m->old, m->value, fpair[0], fpair[1]);
        a = moved < 0 ? -1 : 0;
    }
    if (moved != 0) {
        /* taken by the old member, or an error */
    }
    else if (m->deco_changed && fpair[0] != NULL && r != HS_PATCH_KIND
             && r != HS_PATCH_FREEVARS)
    {
        a = hs_func_follow_replacement(hc->cx.txn, m->old, fpair[0], fpair[1]);
    }
    else if (fpair[0] != NULL && r != HS_PATCH_KIND && r != HS_PATCH_FREEVARS)
    {
        /* patched in place: the member stays; what the body computed from
         * the staged one gets the live one */
        a = hs_live_note(hc->cx.job, fpair[1], fpair[0]);
        if (a == 0) {
            a = hs_live_note(hc->cx.job, m->value, m->old);
        }
    }
    Py_XDECREF(fpair[0]);
    Py_XDECREF(fpair[1]);
    if (a < 0) {
        return -1;
    }
    if (r == PATCH_NOT_A_FUNCTION) {
        return member_set(hc, m, "data", HS_DIAG_NONE);
    }
    if (r == HS_PATCH_KIND || r == HS_PATCH_FREEVARS) {
        return member_set(hc, m, "method",
                          r == HS_PATCH_KIND ? HS101_KIND : HS104_REPLACED);
    }
    if (moved) {
        return hs_class_report(&hc->cx, m->name, "method", "updated", NULL,
                               m->line,
                               "decorated again: the existing object took "
                               "the new decoration");
    }
    if (m->deco_changed) {
        return member_set(hc, m, "method", HS102_MEMBER);
    }
    if (r == HS_PATCH_UPDATED && ndef != NULL && !m->deco_changed
        && (kind == K_STATICMETHOD || kind == K_CLASSMETHOD)
        && refresh_doc(&hc->cx, m->old, m->value) < 0)
    {
        return -1;
    }
    if (kept_deco) {
        return hs_class_diag(&hc->cx, m->name, "method", HS105_MEMBER,
                             m->line);
    }
    return patch_result_report(&hc->cx, m->name, r, m->line);
}

/* Bookkeeping set exactly, not reported: `name` on the class to `value`
 * unless it holds an equal value already (`type_params`: declaring the
 * same type parameters).  0 / -1. */
static int
member_keep_exact(HsClassCtx *hc, HsMember *m, int type_params)
{
    PyObject *cur = NULL;
    if (hs_class_own_member(hc->cx.klass, m->name, &cur) < 0) {
        return -1;
    }
    int same = type_params ? type_params_alike(hc->d, cur, m->value)
                           : hs_class_values_equal(cur, m->value);
    Py_XDECREF(cur);
    if (same < 0) {
        return -1;
    }
    if (same) {
        return 0;
    }
    return hs_txn_setattr(hc->cx.txn, hc->cx.klass, m->name, m->value);
}

static int map_class_line(HsJob *job, long line, long *out);
static int map_copied_line(HsJob *job, PyObject *klass, long line, long *out);
static int shift_firstlineno(HsJob *job, HsTxn *txn, PyObject *klass,
                             const HsChunk *old, int delta);

/* 3.13+: __firstlineno__ from the body run again: the body's own line,
 * unless the class holds another class statement's first line (copied in
 * by its metaclass when the class was made, which the re-run body does
 * not repeat): that one follows its statement.  0 / -1. */
static int
member_firstlineno(HsClassCtx *hc, HsMember *m)
{
    PyObject *cur = NULL;
    if (hs_class_own_member(hc->cx.klass, m->name, &cur) < 0) {
        return -1;
    }
    long to = 0;
    int mapped = cur != NULL && PyLong_Check(cur)
                     ? map_copied_line(hc->cx.job, hc->cx.klass,
                                       PyLong_AsLong(cur), &to)
                     : 0;
    if (mapped == 0 && cur != NULL && PyLong_Check(cur)) {
        mapped = map_class_line(hc->cx.job, PyLong_AsLong(cur), &to);
    }
    Py_XDECREF(cur);
    if (mapped < 0 || PyErr_Occurred()) {
        return -1;
    }
    if (!mapped) {
        return member_keep_exact(hc, m, 0);
    }
    PyObject *nv = PyLong_FromLong(to);
    if (nv == NULL) {
        return -1;
    }
    PyObject *was = m->value;
    m->value = nv;
    int r = member_keep_exact(hc, m, 0);
    m->value = was;
    Py_DECREF(nv);
    return r;
}

/* A data member (neither old nor new is function-like).  0 / -1. */
static int
member_data(HsClassCtx *hc, HsMember *m)
{
    PyObject *name = m->name;
    if (m->st == HS_ST_MOVED
        || (!hc->plans && hc->cx.job->plan.mode == HS_MODE_NOSNAP))
    {
        return 0;
    }
    /* PyType_Check(value): a nested class of the same name created anew
     * (its own statement was not routed to the old one) is data too */
    if (PyUnicode_CompareWithASCIIString(name, "__type_params__") == 0) {
        /* 3.12+ `class C[T]`: the re-run header made new TypeVars.  The
         * live ones stay while the header declares the same parameters:
         * the class's __parameters__, its generic aliases and its
         * instances' annotations refer to them. */
        return member_keep_exact(hc, m, 1);
    }
    if (PyUnicode_CompareWithASCIIString(name, "__firstlineno__") == 0) {
        return member_firstlineno(hc, m);
    }
    if (m->is_ann || PyUnicode_CompareWithASCIIString(name, "__doc__") == 0
        || PyUnicode_CompareWithASCIIString(name, "__static_attributes__")
               == 0)
    {
        /* bookkeeping the compiler writes (3.13: inspect uses
         * __firstlineno__): kept exact, not reported */
        return member_keep_exact(hc, m, 0);
    }
    return member_set(hc, m, "data", HS_DIAG_NONE);
}

/* 3.14+: the body's __annotate__ function, made again: the old one runs
 * it (held references too), also where the class machinery keeps it inside
 * its own (NamedTuple's `annotate` closure over the body's): that one stays
 * the member.  1 done, 0 not this case, -1. */
static int
member_annotate_func(HsClassCtx *hc, HsMember *m)
{
    if (!HS_HAVE_ANNOTATE || !PyFunction_Check(m->value)
        || PyUnicode_CompareWithASCIIString(m->name, "__annotate_func__") != 0)
    {
        return 0;
    }
    PyObject *ann = PyUnicode_FromString("__annotate__");
    HsHeldQuery q = {hc->cx.job->dict, ann, hc->cx.job->filename, 0, 0, 1};
    PyObject *in = ann ? hs_func_held(m->old, &q) : NULL;
    Py_XDECREF(ann);
    if (in == NULL) {
        return -1;
    }
    int r = 0;
    if (PyList_GET_SIZE(in) > 0) {
        r = hs_cls_keep_annotate(&hc->cx, PyList_GET_ITEM(in, 0), m->value);
        r = r < 0 ? -1 : 1;
    }
    Py_DECREF(in);
    return r;
}

/* One name of the body, once its statement is known and the class's own
 * value `m->old` looked up: which case it is.  0 / -1. */
static int
member_apply(HsClassCtx *hc, HsMember *m)
{
    if (m->old == NULL) {
        return member_absent(hc, m);
    }
    if (m->old == m->value) {
        return 0;
    }
    int ar = member_annotate_func(hc, m);
    if (ar != 0) {
        return ar < 0 ? -1 : 0;
    }
    if (Py_IS_TYPE(m->old, &PyMemberDescr_Type)
        && !Py_IS_TYPE(m->value, &PyMemberDescr_Type))
    {
        return member_slot(hc, m);
    }
    int data_stmt = m->mi >= 0 && hc->nm->items[m->mi].kind != HS_CHUNK_DEF
                    && hc->nm->items[m->mi].kind != HS_CHUNK_CLASS;
    if (m->st == HS_ST_UNCHANGED || (m->st == HS_ST_MOVED && data_stmt)) {
        return member_unedited(hc, m, data_stmt);
    }
    MemberKind ko = member_kind(hc->d, m->old);
    MemberKind kn = ko == K_ERROR ? K_ERROR : member_kind(hc->d, m->value);
    if (kn == K_ERROR) {
        return -1;
    }
    if (member_old_def(hc, m) != NULL && !m->deco_changed
        && (ko != kn || ko == K_OTHER))
    {
        int r = member_def_held(hc, m);
        if (r != 0) {
            return r < 0 ? -1 : 0;
        }
    }
    if (ko != K_OTHER && ko == kn) {
        return member_same_kind(hc, m, ko);
    }
    if (ko != kn && (ko != K_OTHER || kn != K_OTHER)) {
        return member_set(hc, m, "method", HS103_MEMBER);
    }
    return member_data(hc, m);
}

/* members: every name of the new body's namespace, into the class */
static int
rule_members(HsClassCtx *hc)
{
    PyObject *items = PyMapping_Items(hc->ns);
    int result = -1;
    if (items == NULL || implicit_wrappers(items) < 0) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *pair = PyList_GET_ITEM(items, i);
        HsMember m = {PyTuple_GET_ITEM(pair, 0), PyTuple_GET_ITEM(pair, 1)};
        int r = member_skipped(hc, &m);
        if (r == 0 && member_find_statement(hc, &m) < 0) {
            r = -1;
        }
        if (r == 0) {
            r = hs_class_own_member(hc->cx.klass, m.name, &m.old);
        }
        if (r >= 0 && m.sname != NULL) {
            m.edited = m.st != HS_ST_UNCHANGED && m.st != HS_ST_MOVED;
            r = member_apply(hc, &m);
        }
        Py_XDECREF(m.sname);
        Py_XDECREF(m.old);
        if (r < 0) {
            goto done;
        }
    }
    result = 0;
done:
    Py_XDECREF(items);
    return result;
}

/* annotations: __annotations__ / __annotate__ follow the new body */
static int
rule_annotations(HsClassCtx *hc)
{
    return hs_cls_sync_annotations(&hc->cx, hc->ns);
}

/* removed: members whose statement went away leave the class */
static int
rule_removed(HsClassCtx *hc)
{
    PyObject *klass = hc->cx.klass;
    for (Py_ssize_t j = 0; hc->plans && j < hc->om->len; j++) {
        const HsChunk *o = &hc->om->items[j];
        if (hc->old_used[j] || o->name_len == 0) {
            continue;
        }
        PyObject *src =
            PyUnicode_FromStringAndSize(hc->otext + o->name, o->name_len);
        PyObject *name = src ? member_mangled_name(hc->prefix, src) : NULL;
        Py_XDECREF(src);
        if (name == NULL) {
            return -1;
        }
        int in_ns = PyMapping_HasKeyWithError(hc->ns, name);
        PyObject *cur = NULL;
        int found = in_ns ? in_ns < 0 ? -1 : 0
                          : hs_class_own_member(klass, name, &cur);
        int r = 0;
        if (found == 1
            && !(hc->members != NULL
                 && PyDict_GetItemWithError(hc->members, name)))
        {
            MemberKind k = member_kind(hc->d, cur);
            r = k == K_ERROR ? -1
                             : hs_txn_setattr(hc->cx.txn, klass, name, NULL);
            if (r == 0) {
                r = hs_class_report(&hc->cx, name,
                                    k == K_OTHER ? "data" : "method",
                                    "removed", NULL, o->head_line, NULL);
            }
        }
        Py_XDECREF(cur);
        Py_DECREF(name);
        if (found < 0 || r < 0 || PyErr_Occurred()) {
            return -1;
        }
    }
    return 0;
}

/* hash: type.__new__'s rule, a body that defines __eq__ but not __hash__
 * makes instances unhashable */
static int
rule_hash(HsClassCtx *hc)
{
    PyObject *klass = hc->cx.klass, *key = hc->d->hash, *cur = NULL;
    int has_eq = PyMapping_HasKeyWithError(hc->ns, hc->d->eq);
    int has_hash = has_eq < 0 ? -1 : PyMapping_HasKeyWithError(hc->ns, key);
    if (has_hash < 0) {
        return -1;
    }
    int r = hs_class_own_member(klass, key, &cur);
    if (r >= 0 && has_eq && !has_hash && cur != Py_None) {
        r = hs_txn_setattr(hc->cx.txn, klass, key, Py_None);
    }
    else if (r == 1 && !has_eq && !has_hash && cur == Py_None && hc->plans
             && hs_chunks_find(hc->otext, hc->om, HS_CHUNK_DEF, hc->d->eq)
                    != NULL)
    {
        /* __eq__ removed: the implicit __hash__ = None goes too */
        r = hs_txn_setattr(hc->cx.txn, klass, key, NULL);
    }
    Py_XDECREF(cur);
    return r < 0 ? -1 : 0;
}

/* derived: copyreg's cache of slot names is computed again on use */
static int
rule_slotnames(HsClassCtx *hc)
{
    PyObject *key = hc->d->slotnames, *v = NULL;
    int r = hs_class_own_member(hc->cx.klass, key, &v);
    if (r == 1) {
        r = hs_txn_setattr(hc->cx.txn, hc->cx.klass, key, NULL);
    }
    Py_XDECREF(v);
    return r < 0 ? -1 : 0;
}

/* dataclass (acting): the decorator runs again on the class */
static int
rule_dataclass_regen(HsClassCtx *hc)
{
    if (!hc->regen) {
        return 0;
    }
    return hs_cls_regenerate_dataclass(&hc->cx, hc->ns, hc->old_fields);
}

/* derived: the data a typing metaclass derives from the body, taken from
 * the class it built from the new body (stage.c, typing_shadow) */
static int
rule_typing_data(HsClassCtx *hc)
{
    if (hc->shadow == Py_None || hc->nt_changed) {
        return 0;
    }
    return hs_cls_sync_typing_data(&hc->cx, hc->shadow);
}

/* layout (acting, opt-in): a new class object */
static int
rule_rebuild(HsClassCtx *hc)
{
    return hc->rebuild ? hs_cls_rebuild_class(&hc->cx, hc->ns) : 0;
}

/* enum (acting): last of the body's rules, since building the enum of the
 * new body consumes the namespace */
static int
rule_enum_sync(HsClassCtx *hc)
{
    if (!hc->enum_edited) {
        return 0;
    }
    return hs_cls_enum_sync_members(&hc->cx, hc->ns, hc->members);
}

/* migrate: a class (not a dataclass) with a __hotswap_migrate__ hook
 * whose annotations changed migrates its instances */
static int
rule_migrate(HsClassCtx *hc)
{
    PyObject *klass = hc->cx.klass;
    if (hc->dataclass || hc->annotations == NULL) {
        return 0;
    }
    int same = hs_class_values_equal(hc->annotations, hc->old_ann);
    int hook = same == 0
                   ? PyObject_HasAttrWithError(klass, hc->d->hotswap_migrate)
                   : 0;
    if (same < 0 || hook < 0) {
        return -1;
    }
    if (hook
        && hs_cls_migrate_instances(&hc->cx, hc->old_ann, hc->annotations,
                                    NULL)
               < 0)
    {
        return -1;
    }
    return 0;
}

/* abc: __abstractmethods__ follows the members */
static int
rule_abstract(HsClassCtx *hc)
{
    int has = PyObject_HasAttrWithError(hc->cx.klass, hc->d->abstractmethods);
    if (has < 0
        || (has && hs_cls_recompute_abstract(hc->cx.txn, hc->cx.klass) < 0))
    {
        return -1;
    }
    return 0;
}

/* init_subclass: it is not run again for existing subclasses; a changed
 * one is reported */
static int
rule_init_subclass(HsClassCtx *hc)
{
    return hs_cls_init_subclass_changed(&hc->cx, hc->init_sub_code);
}

/* abc: isinstance()/issubclass() answers an ABC cached (protocols too)
 * may depend on members that just changed; registrations stay.  The
 * method is the metaclass's (ABCMeta or a subclass): looked up on the
 * class itself it would also be found on a metaclass derived from
 * ABCMeta, as an unbound function. */
static int
rule_abc_caches(HsClassCtx *hc)
{
    return hs_cls_abc_caches_clear(hc->cx.klass);
}

/* The rules of a class update, in the order they run.  Each makes one
 * decision; a rule that decides early (layout, dataclass, enum) and acts
 * late has two entries.  A rule returns 0, or -1 with an exception set:
 * the update stops and the batch's undo log rolls it back. */
typedef struct {
    const char *name;
    int (*run)(HsClassCtx *hc);
} HsClassRule;

static const HsClassRule class_rules[] = {
    {"header", rule_header},
    {"layout", rule_layout},
    {"dataclass", rule_dataclass},
    {"namedtuple", rule_namedtuple},
    {"enum", rule_enum},
    {"init_subclass (before)", rule_init_subclass_before},
    {"members", rule_members},
    {"annotations", rule_annotations},
    {"removed", rule_removed},
    {"hash", rule_hash},
    {"slotnames", rule_slotnames},
    {"dataclass (regenerate)", rule_dataclass_regen},
    {"typing data", rule_typing_data},
    {"layout (rebuild)", rule_rebuild},
    {"enum (sync members)", rule_enum_sync},
    {"migrate", rule_migrate},
    {"abstract", rule_abstract},
    {"init_subclass", rule_init_subclass},
    {"abc caches", rule_abc_caches},
};

/* Update the existing class up->klass from STAGE's record.  0 / -1. */
static int
class_update(HsJob *job, HsTxn *txn, const HsClassUpdate *up, PyObject *nested)
{
    PyObject *klass = up->klass;
    HsClassCtx hc = {
        .cx = {job, txn, klass, NULL, nested, up->plan.ranges.new_line},
        .up = up,
        .ns = up->ns,
        .rg = &up->plan.ranges,
        .shadow = up->shadow ? up->shadow : Py_None,
        .prepared = up->prepared ? up->prepared : Py_None,
        .ntext = PyBytes_AS_STRING(job->src.text),
        .otext = job->src.old_text,
        .d = job->dunders,
        .plans = up->plan.members.matched,
        .nm = &up->plan.members.nm,
        .om = &up->plan.members.om,
        .old_used = up->plan.members.old_matched,
        .mstate = up->plan.members.state,
        .mmatch = up->plan.members.match,
    };
    const HsDunders *D = job->dunders;
    int result = -1;
    hc.cx.qualname = PyObject_GetAttr(klass, D->qualname);
    hc.prefix = hc.cx.qualname ? mangle_prefix(D, klass) : NULL;
    if (hc.prefix == NULL) {
        goto done;
    }
    for (size_t i = 0; i < Py_ARRAY_LENGTH(class_rules); i++) {
        if (class_rules[i].run(&hc) < 0) {
            goto done;
        }
    }
    result = 0;
done:
    Py_XDECREF(hc.members);
    Py_XDECREF(hc.annotations);
    Py_XDECREF(hc.old_ann);
    Py_XDECREF(hc.old_fields);
    Py_XDECREF(hc.init_sub_code);
    Py_XDECREF(hc.prefix);
    Py_XDECREF(hc.cx.qualname);
    return result;
}

int
hs_class_apply(HsJob *job, HsTxn *txn, PyObject *nested)
{
    /* innermost classes were recorded first; apply outer ones first so a
     * replaced nested class is set before its parent is looked at */
    for (Py_ssize_t i = job->staged.n_class_updates - 1; i >= 0; i--) {
        if (class_update(job, txn, &job->staged.class_updates[i], nested) < 0)
        {
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* a class statement that only moved                                   */

int
hs_class_shift(HsJob *job, HsTxn *txn, PyObject *klass, const HsChunk *old,
               int delta, PyObject *nested)
{
    PyObject *d = hs_class_own_dict(klass), *items = NULL, *qual = NULL;
    int result = -1;
    if (d == NULL) {
        return -1;
    }
    items = PyMapping_Items(d);
    qual = PyObject_GetAttr(klass, job->dunders->qualname);
    if (items == NULL || qual == NULL) {
        goto done;
    }
    /* the functions the class statement made are those in its old lines,
     * wherever the members keep them (descriptors, decorator objects,
     * wrappers); one reached under several names moves once */
    HsHeldQuery q = {job->dict, NULL,           job->filename,
                     old->line, old->last_line, 0};
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *name = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 0);
        PyObject *v = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 1);
        if (!PyUnicode_Check(name)) {
            continue;
        }
        if (PyType_Check(v)) {
            /* a class statement nested in this one (not a class bound to
             * a class attribute) */
            PyObject *vq = NULL;
            if (PyObject_GetOptionalAttr(v, job->dunders->qualname, &vq) < 0) {
                goto done;
            }
            PyObject *want = PyUnicode_FromFormat("%S.%U", qual, name);
            int nested_cls = want && vq && PyUnicode_Check(vq)
                             && PyUnicode_Compare(vq, want) == 0;
            if (nested_cls) {
                nested_cls = hs_plan_is_own_class(job, v, want);
            }
            Py_XDECREF(want);
            Py_XDECREF(vq);
            if (nested_cls < 0 || PyErr_Occurred()) {
                goto done;
            }
            if (nested_cls
                && hs_class_shift(job, txn, v, old, delta, nested) < 0)
            {
                goto done;
            }
            continue;
        }
        if (hs_func_shift_held(txn, v, &q, delta, nested) < 0) {
            goto done;
        }
    }
    if (shift_firstlineno(job, txn, klass, old, delta) < 0) {
        goto done;
    }
    result = 0;
done:
    Py_DECREF(d);
    Py_XDECREF(items);
    Py_XDECREF(qual);
    return result;
}

/* 3.13+: is `line` the first line of one of the module's old top-level
 * class statements (named `name` unless NULL), kept in the new source?
 * Then *out is its new first line.  A metaclass may copy __firstlineno__
 * from another class into the classes it makes (wrapt's
 * _ObjectProxyMetaType copies _ObjectProxyMethods'): the value follows
 * the statement it names, whichever class holds it.  1 mapped, 0 not. */
static int
map_class_line_named(HsJob *job, long line, const char *name, long *out)
{
    if (job == NULL || job->src.old_chunks == NULL || job->plan.match == NULL
        || job->plan.mode != HS_MODE_NORMAL || job->src.text == NULL)
    {
        return 0;
    }
    const char *text = PyBytes_AS_STRING(job->src.text);
    for (Py_ssize_t i = 0; i < job->src.chunks.len; i++) {
        Py_ssize_t j = job->plan.match[i];
        const HsChunk *c = &job->src.chunks.items[i];
        if (j < 0 || c->kind != HS_CHUNK_CLASS) {
            continue;
        }
        if (name != NULL
            && ((Py_ssize_t)strlen(name) != c->name_len
                || memcmp(text + c->name, name, (size_t)c->name_len) != 0))
        {
            continue;
        }
        const HsChunk *o = &job->src.old_chunks->items[j];
        if (o->kind != HS_CHUNK_CLASS) {
            continue;
        }
        if (o->line == line) {
            *out = c->line;
            return 1;
        }
        if (o->head_line == line) {
            *out = c->head_line;
            return 1;
        }
    }
    return 0;
}

static int
map_class_line(HsJob *job, long line, long *out)
{
    return map_class_line_named(job, line, NULL, out);
}

/* The function behind a class member: itself, a property's getter, a
 * classmethod's or staticmethod's function.  1 (*out a new reference),
 * 0 none, -1. */
static int
function_behind(PyObject *v, PyObject **out)
{
    *out = NULL;
    if (PyFunction_Check(v)) {
        *out = Py_NewRef(v);
        return 1;
    }
    const char *attr = NULL;
    if (PyObject_TypeCheck(v, &PyProperty_Type)) {
        attr = "fget";
    }
    else if (PyObject_TypeCheck(v, &PyClassMethod_Type)
             || PyObject_TypeCheck(v, &PyStaticMethod_Type))
    {
        attr = "__func__";
    }
    if (attr == NULL) {
        return 0;
    }
    PyObject *f = PyObject_GetAttrString(v, attr);
    if (f == NULL) {
        return -1;
    }
    if (!PyFunction_Check(f)) {
        Py_DECREF(f);
        return 0;
    }
    *out = f;
    return 1;
}

/* The class `qualname` (dotted, not local to a function) of the module
 * of `job`: a new reference, or NULL (none, or an error:
 * PyErr_Occurred() tells). */
static PyObject *
job_class_named(HsJob *job, PyObject *qualname)
{
    PyObject *sep = PyUnicode_FromString(".");
    PyObject *parts = sep ? PyUnicode_Split(qualname, sep, -1) : NULL;
    Py_XDECREF(sep);
    if (parts == NULL) {
        return NULL;
    }
    PyObject *o = NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(parts); i++) {
        PyObject *part = PyList_GET_ITEM(parts, i), *next = NULL;
        int r = i == 0 ? PyDict_GetItemRef(job->dict, part, &next)
                       : PyObject_GetOptionalAttr(o, part, &next);
        Py_XSETREF(o, next);
        if (r <= 0 || !PyType_Check(o)) {
            Py_CLEAR(o);
            break;
        }
    }
    Py_DECREF(parts);
    return o;
}

/* The class of another module of the batch whose dict `klass` copied
 * (wrapt's _ObjectProxyMetaType copies wrappers._ObjectProxyMethods' into
 * every proxy class it makes, in wrapt.decorators, wrapt.weakrefs, ...):
 * the owner -- by __module__ and __qualname__ -- of a function behind one
 * of klass's own members, when the owner holds that same object under the
 * same name (a copy, not a look-alike).  *peer gets its module's job.
 * 1 found (*out a new reference), 0 none, -1. */
static int
copied_from(HsJob *job, PyObject *klass, PyObject **out, HsJob **peer)
{
    *out = NULL;
    PyObject *d = hs_class_own_dict(klass);
    PyObject *items = d ? PyMapping_Items(d) : NULL;
    Py_XDECREF(d);
    if (items == NULL) {
        return -1;
    }
    int found = 0;
    for (Py_ssize_t i = 0; found == 0 && i < PyList_GET_SIZE(items); i++) {
        PyObject *name = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 0);
        PyObject *v = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 1);
        PyObject *f = NULL, *mod = NULL, *qual = NULL, *owner = NULL;
        PyObject *src = NULL, *there = NULL;
        found = function_behind(v, &f);
        if (found == 1) {
            found = 0;
            mod = PyObject_GetAttr(f, job->dunders->module);
            qual = mod ? PyObject_GetAttr(f, job->dunders->qualname) : NULL;
            found = qual ? 0 : -1;
        }
        Py_ssize_t dot =
            qual != NULL && PyUnicode_Check(qual)
                ? PyUnicode_FindChar(qual, '.', 0, PyUnicode_GET_LENGTH(qual),
                                     -1)
                : -1;
        for (Py_ssize_t k = 0;
             found == 0 && dot > 0 && PyUnicode_Check(mod) && k < job->npeers;
             k++)
        {
            HsJob *pj = &job->peers[k];
            if (pj == job || pj->name == NULL || pj->dict == NULL
                || PyUnicode_Compare(pj->name, mod) != 0)
            {
                continue;
            }
            owner = PyUnicode_Substring(qual, 0, dot);
            src = owner ? job_class_named(pj, owner) : NULL;
            found = src == NULL && PyErr_Occurred() ? -1 : 0;
            if (src != NULL && src != klass) {
                found = hs_class_own_member(src, name, &there);
                found = found == 1 ? there == v : found;
            }
            if (found == 1) {
                *out = Py_NewRef(src);
                *peer = pj;
            }
            break;
        }
        Py_XDECREF(f);
        Py_XDECREF(mod);
        Py_XDECREF(qual);
        Py_XDECREF(owner);
        Py_XDECREF(src);
        Py_XDECREF(there);
    }
    Py_DECREF(items);
    return found;
}

/* 3.13+: a class's own __firstlineno__ `line` that neither lies in its
 * statement nor names one of its module's class statements: the line of
 * the class of another module of the batch whose dict its metaclass
 * copied (copied_from) follows that class's statement, as a fresh import
 * would copy the new one.  1 mapped (*out), 0 not, -1. */
static int
map_copied_line(HsJob *job, PyObject *klass, long line, long *out)
{
    if (job == NULL || job->peers == NULL || job->npeers < 2) {
        return 0;
    }
    PyObject *src = NULL;
    HsJob *peer = NULL;
    int r = copied_from(job, klass, &src, &peer);
    if (r == 1) {
        /* that class's own statement, not another one on the line */
        const char *name = ((PyTypeObject *)src)->tp_name;
        const char *dot = strrchr(name, '.');
        r = map_class_line_named(peer, line, dot ? dot + 1 : name, out);
    }
    Py_XDECREF(src);
    return r;
}

/* The class's own __firstlineno__ after a shift by `delta` of its
 * statement `old`: a line inside the statement moves with it; another
 * class statement's first line (copied in by a metaclass) follows that
 * statement (job non-NULL).  0 / -1. */
static int
shift_firstlineno(HsJob *job, HsTxn *txn, PyObject *klass, const HsChunk *old,
                  int delta)
{
    PyObject *key = PyUnicode_FromString("__firstlineno__");
    PyObject *v = NULL;
    int r = key ? hs_class_own_member(klass, key, &v) : -1;
    if (r == 1 && PyLong_Check(v)) {
        long line = PyLong_AsLong(v), to = line;
        r = 0;
        int copied = 0;
        if (line != old->line && line != old->head_line) {
            copied = map_copied_line(job, klass, line, &to);
        }
        if (copied < 0) {
            r = -1;
        }
        else if (copied) {
            /* to: the copied class's new line */
        }
        else if (line >= old->line && line <= old->last_line) {
            to = line + delta;
        }
        else if (!map_class_line(job, line, &to)) {
            to = line;
        }
        if (to != line) {
            PyObject *nv = PyLong_FromLong(to);
            r = nv ? hs_txn_setattr(txn, klass, key, nv) : -1;
            Py_XDECREF(nv);
        }
    }
    Py_XDECREF(v);
    Py_XDECREF(key);
    return r < 0 ? -1 : 0;
}

int
hs_class_shift_firstlineno(HsTxn *txn, PyObject *klass, const HsChunk *old,
                           int delta)
{
    return shift_firstlineno(NULL, txn, klass, old, delta);
}
