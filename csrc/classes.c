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
 */
#include "classes.h"
#include "classes_int.h"
#include "live.h"
#include "funcs.h"
#include "plan.h"
#include "report.h"

#include <string.h>

int
hs_line_at(const char *text, Py_ssize_t from, int from_line, Py_ssize_t offset)
{
    int line = from_line;
    for (Py_ssize_t i = from; i < offset; i++) {
        if (text[i] == '\n') {
            line++;
        }
    }
    return line;
}

static void
ranges_unknown(HsClassRanges *r)
{
    r->old_start = r->old_head = r->old_body = r->old_end = -1;
    r->new_start = r->new_head = r->new_body = r->new_end = -1;
    r->old_body_line = r->new_body_line = 0;
    r->new_line = 0;
}

/* Scan the members of a class body text[body:end).  The body starts right
 * after the header's ':'; a body on the same line has no members we can
 * tell apart (list->unsure). */
static int
scan_members(const char *text, Py_ssize_t body, Py_ssize_t end, int body_line,
             HsChunkList *list)
{
    Py_ssize_t p = body;
    while (p < end && (text[p] == ' ' || text[p] == '\t')) {
        p++;
    }
    if (p < end && text[p] != '\n' && text[p] != '#' && text[p] != '\r') {
        list->unsure = 1;
        return 0;
    }
    while (p < end && text[p] != '\n') {
        p++;
    }
    if (p >= end) {
        list->unsure = 1;
        return 0;
    }
    return hs_scan(text, p + 1, end, body_line + 1, list);
}

static int
name_eq(const char *text, const HsChunk *c, PyObject *name)
{
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(name, &n);
    if (s == NULL) {
        PyErr_Clear();
        return 0;
    }
    return c->name_len == n && memcmp(text + c->name, s, n) == 0;
}

/* Private names.  The compiler stores a class body's `__x` (not ending in
 * `__`) as `_C__x`, C the class name without its leading underscores; the
 * member statements are scanned by their source name.  `prefix` is "_C"
 * (NULL when the class name is all underscores: nothing is mangled). */
static PyObject *
mangle_prefix(PyObject *klass)
{
    PyObject *n = PyObject_GetAttrString(klass, "__name__");
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

static const HsChunk *
find_member(const char *text, const HsChunkList *list, HsChunkKind kind,
            PyObject *name)
{
    for (Py_ssize_t i = 0; i < list->len; i++) {
        const HsChunk *c = &list->items[i];
        if ((kind == HS_CHUNK_STMT || c->kind == kind)
            && name_eq(text, c, name))
        {
            return c;
        }
    }
    return NULL;
}

int
hs_class_ranges(HsJob *job, Py_ssize_t chunk, const HsClassRanges *parent,
                PyObject *name, HsClassRanges *out)
{
    const char *text = PyBytes_AS_STRING(job->text);
    ranges_unknown(out);
    if (parent == NULL) {
        if (chunk < 0) {
            return 0;
        }
        const HsChunk *c = &job->chunks.items[chunk];
        if (c->kind != HS_CHUNK_CLASS || !name_eq(text, c, name)) {
            return 0;
        }
        out->new_start = c->start;
        out->new_head = c->head;
        out->new_body = c->body;
        out->new_end = c->end;
        out->new_line = c->head_line;
        out->new_body_line = hs_line_at(text, c->head, c->head_line, c->body);
        Py_ssize_t j = job->match ? job->match[chunk] : -1;
        if (j >= 0 && job->old_chunks != NULL) {
            const HsChunk *o = &job->old_chunks->items[j];
            out->old_start = o->start;
            out->old_head = o->head;
            out->old_body = o->body;
            out->old_end = o->end;
            out->old_body_line =
                hs_line_at(job->old_text, o->head, o->head_line, o->body);
        }
        return 0;
    }
    /* a nested class: find it among the parent's members */
    HsChunkList nm = {0}, om = {0};
    int result = -1;
    if (parent->new_body >= 0) {
        if (scan_members(text, parent->new_body, parent->new_end,
                         parent->new_body_line, &nm)
            < 0)
        {
            goto done;
        }
        const HsChunk *c = find_member(text, &nm, HS_CHUNK_CLASS, name);
        if (c != NULL) {
            out->new_start = c->start;
            out->new_head = c->head;
            out->new_body = c->body;
            out->new_end = c->end;
            out->new_line = c->head_line;
            out->new_body_line =
                hs_line_at(text, c->head, c->head_line, c->body);
        }
    }
    if (parent->old_body >= 0 && out->new_body >= 0) {
        if (scan_members(job->old_text, parent->old_body, parent->old_end,
                         parent->old_body_line, &om)
            < 0)
        {
            goto done;
        }
        const HsChunk *c =
            find_member(job->old_text, &om, HS_CHUNK_CLASS, name);
        if (c != NULL) {
            out->old_start = c->start;
            out->old_head = c->head;
            out->old_body = c->body;
            out->old_end = c->end;
            out->old_body_line =
                hs_line_at(job->old_text, c->head, c->head_line, c->body);
        }
    }
    result = 0;
done:
    hs_chunks_clear(&nm);
    hs_chunks_clear(&om);
    return result;
}

int
hs_class_header_changed(HsJob *job, const HsClassRanges *rg)
{
    if (rg->old_head < 0 || rg->new_head < 0 || job->old_text == NULL) {
        return 0;
    }
    const char *nt = PyBytes_AS_STRING(job->text);
    Py_ssize_t on = rg->old_body - rg->old_head;
    Py_ssize_t nn = rg->new_body - rg->new_head;
    return on != nn
           || memcmp(job->old_text + rg->old_head, nt + rg->new_head, on) != 0;
}

int
hs_class_old_header_has_keywords(HsJob *job, const HsClassRanges *rg)
{
    if (rg->old_head < 0 || job->old_text == NULL) {
        return 0;
    }
    for (Py_ssize_t i = rg->old_head; i < rg->old_body; i++) {
        if (job->old_text[i] == '=') {
            return 1;
        }
    }
    return 0;
}

int
hs_class_record(HsJob *job, PyObject *klass, PyObject *ns,
                const HsClassRanges *ranges, int header_ok, PyObject *bases,
                PyObject *shadow, PyObject *prepared)
{
    PyObject *r =
        PyBytes_FromStringAndSize((const char *)ranges, sizeof(*ranges));
    if (r == NULL) {
        return -1;
    }
    PyObject *rec = Py_BuildValue(
        "(OONiOOO)", klass, ns, r, header_ok, bases ? bases : Py_None,
        shadow ? shadow : Py_None, prepared ? prepared : Py_None);
    if (rec == NULL) {
        return -1;
    }
    int res = PyList_Append(job->class_updates, rec);
    Py_DECREF(rec);
    return res;
}

/* ------------------------------------------------------------------ */
/* applying one class                                                  */

typedef enum {
    K_OTHER = 0,
    K_FUNCTION,
    K_CLASSMETHOD,
    K_STATICMETHOD,
    K_PROPERTY,
    K_WRAPPED, /* lru_cache and other wrappers with __wrapped__ */
} MemberKind;

static MemberKind
member_kind(PyObject *v)
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
    if (!PyType_Check(v) && PyObject_HasAttrString(v, "__wrapped__")) {
        return K_WRAPPED;
    }
    return K_OTHER;
}


static PyObject *
member_qualname(Ctx *cx, PyObject *name)
{
    return PyUnicode_FromFormat("%U.%U", cx->qualname, name);
}

int
hs_cls_report(Ctx *cx, PyObject *name, const char *kind, const char *action,
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

static int
call_set_name(PyObject *klass, PyObject *name, PyObject *value)
{
    PyObject *set_name = NULL;
    if (PyObject_GetOptionalAttrString((PyObject *)Py_TYPE(value),
                                       "__set_name__", &set_name)
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
    return call_set_name(cx->klass, name, value);
}

static int
patch_result_report(Ctx *cx, PyObject *name, int r, int line)
{
    switch (r) {
        case HS_PATCH_UPDATED:
            return hs_cls_report(cx, name, "method", "updated", NULL, line,
                                 NULL);
        case HS_PATCH_MOVED:
            return hs_cls_report(cx, name, "method", "moved", NULL, line,
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
    PyObject *a = PyObject_GetAttrString(old, "__qualname__");
    PyObject *b = a ? PyObject_GetAttrString(value, "__qualname__") : NULL;
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
        PyObject *d = hs_cls_own_dict(cx->klass);
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
        && hs_func_clear_cache(old) < 0)
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
            return hs_cls_report(cx, name, "method", "updated", NULL, line,
                                 NULL);
        }
        if (r == HS_PATCH_UPDATED
            || (r == HS_PATCH_MOVED && best == HS_PATCH_NOOP))
        {
            best = r;
        }
    }
    /* the docstring of a property comes from its getter */
    return patch_result_report(cx, name, best, line);
}

/* Two __type_params__ tuples declaring the same parameters: as many, each
 * of the same kind (TypeVar, ParamSpec, TypeVarTuple) and name.  1 alike,
 * 0 not, -1 error. */
static int
type_params_alike(PyObject *a, PyObject *b)
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
        PyObject *nx = PyObject_GetAttrString(x, "__name__");
        PyObject *ny = nx ? PyObject_GetAttrString(y, "__name__") : NULL;
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
    const char *s = PyUnicode_AsUTF8(name);
    if (s == NULL) {
        PyErr_Clear();
        return 1;
    }
    for (int i = 0; skip[i] != NULL; i++) {
        if (strcmp(s, skip[i]) == 0) {
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
 * stays skipped, as before.  1 / 0. */
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
    if (hs_cls_own_member(klass, name, &cur) <= 0) {
        PyErr_Clear();
        return 0;
    }
    int r = is_property_or_function(cur);
    Py_DECREF(cur);
    return r;
}

PyObject *
hs_cls_own_dict(PyObject *klass)
{
    return PyObject_GenericGetDict(klass, NULL);
}

/* The member's own value in the class, borrowed-by-new-ref or NULL. */
int
hs_cls_own_member(PyObject *klass, PyObject *name, PyObject **out)
{
    PyObject *d = hs_cls_own_dict(klass);
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
hs_cls_values_equal(PyObject *a, PyObject *b)
{
    if (a == b) {
        return 1;
    }
    if (a == NULL || b == NULL) {
        return 0;
    }
    int r = PyObject_RichCompareBool(a, b, Py_EQ);
    if (r < 0) {
        PyErr_Clear();
        return 0;
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
    PyObject *key = PyUnicode_FromString("__bases__");
    if (key == NULL) {
        return -1;
    }
    int r =
        bases == Py_None ? -1 : hs_txn_setattr(cx->txn, cx->klass, key, bases);
    Py_DECREF(key);
    if (r == 0) {
        return hs_cls_report(cx, NULL, "class", "updated", NULL, 0, NULL);
    }
    if (bases != Py_None && !PyErr_ExceptionMatches(PyExc_TypeError)) {
        return -1;
    }
    PyObject *exc = PyErr_GetRaisedException();
    r = hs_report_add(cx->job, cx->qualname, "class", "rejected", "HS201",
                      cx->line,
                      "the bases changed and cannot be assigned in place "
                      "(%S); the body was applied, the bases were not",
                      exc ? exc : Py_None);
    Py_XDECREF(exc);
    return r;
}

static int
apply_one(HsJob *job, HsTxn *txn, PyObject *klass, PyObject *ns,
          const HsClassRanges *rg, int header_ok, PyObject *new_bases,
          PyObject *shadow, PyObject *prepared, PyObject *nested)
{
    const char *ntext = PyBytes_AS_STRING(job->text);
    const char *otext = job->old_text;
    HsChunkList nm = {0}, om = {0};
    char *old_used = NULL;
    signed char *mstate = NULL;
    Py_ssize_t *mmatch = NULL;
    PyObject *items = NULL, *members = NULL, *annotations = NULL;
    PyObject *old_ann = NULL, *old_fields = NULL, *prefix = NULL;
    PyObject *sname = NULL;
    int result = -1;
    int plans = 0;
    int rebuild = 0;
    Ctx cx = {job, txn, klass, NULL, nested, rg->new_line};

    cx.qualname = PyObject_GetAttrString(klass, "__qualname__");
    prefix = cx.qualname ? mangle_prefix(klass) : NULL;
    if (prefix == NULL) {
        goto done;
    }
    if (header_ok == 0 && set_bases(&cx, new_bases) < 0) {
        goto done;
    }
    if ((header_ok < 0 || (header_ok == 2 && shadow == Py_None))
        && hs_cls_report(
               &cx, NULL, "class", "rejected", "HS202", 0,
               "the metaclass or the class keywords changed; the body "
               "was applied, the header was not")
               < 0)
    {
        goto done;
    }

    /* member plans: which member statements were edited */
    if (rg->new_body >= 0
        && scan_members(ntext, rg->new_body, rg->new_end, rg->new_body_line,
                        &nm)
               < 0)
    {
        goto done;
    }
    if (rg->new_body >= 0 && rg->old_body >= 0 && otext != NULL) {
        if (scan_members(otext, rg->old_body, rg->old_end, rg->old_body_line,
                         &om)
            < 0)
        {
            goto done;
        }
        plans = !nm.unsure && !om.unsure;
    }
    if (plans) {
        old_used = PyMem_Calloc(om.len ? om.len : 1, 1);
        mstate = PyMem_Calloc(nm.len ? nm.len : 1, 1);
        mmatch = PyMem_Calloc(nm.len ? nm.len : 1, sizeof(Py_ssize_t));
        if (old_used == NULL || mstate == NULL || mmatch == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        for (Py_ssize_t i = 0; i < nm.len; i++) {
            HsChunk *c = &nm.items[i];
            mstate[i] = HS_ST_ADDED;
            mmatch[i] = -1;
            for (Py_ssize_t j = 0; j < om.len; j++) {
                HsChunk *o = &om.items[j];
                if (old_used[j] || o->key != c->key) {
                    continue;
                }
                old_used[j] = 1;
                mmatch[i] = j;
                int same = o->hash == c->hash
                           && o->end - o->start == c->end - c->start
                           && memcmp(otext + o->start, ntext + c->start,
                                     c->end - c->start)
                                  == 0;
                mstate[i] = !same ? HS_ST_CHANGED
                                  : (o->line == c->line ? HS_ST_UNCHANGED
                                                        : HS_ST_MOVED);
                break;
            }
        }
    }

    /* layout: __slots__ cannot change on a live class */
    {
        /* a typing metaclass (NamedTuple) writes __slots__ itself: take
         * them from the class it built from the new body */
        PyObject *ns_slots = NULL;
        if (shadow != Py_None) {
            PyObject *sk = PyUnicode_FromString("__slots__");
            if (sk == NULL || hs_cls_own_member(shadow, sk, &ns_slots) < 0) {
                Py_XDECREF(sk);
                goto done;
            }
            Py_DECREF(sk);
        }
        else {
            ns_slots = PyMapping_GetItemString(ns, "__slots__");
        }
        if (ns_slots == NULL) {
            PyErr_Clear();
        }
        PyObject *old_slots = NULL;
        PyObject *key = PyUnicode_FromString("__slots__");
        if (key == NULL) {
            Py_XDECREF(ns_slots);
            goto done;
        }
        int r = hs_cls_own_member(klass, key, &old_slots);
        Py_DECREF(key);
        if (r < 0) {
            Py_XDECREF(ns_slots);
            goto done;
        }
        int differ = !hs_cls_values_equal(ns_slots, old_slots)
                     && !hs_cls_same_slot_names(ns_slots, old_slots);
        if (differ && ns_slots == NULL && shadow == Py_None) {
            /* no __slots__ in the body: the class machinery made them
             * (@dataclass(slots=True), attrs' slotted classes), unless
             * the old body had the statement */
            PyObject *sk = PyUnicode_FromString("__slots__");
            if (sk == NULL) {
                Py_XDECREF(old_slots);
                goto done;
            }
            differ =
                plans ? find_member(otext, &om, HS_CHUNK_STMT, sk) != NULL
                      : !PyObject_HasAttrString(klass, "__dataclass_fields__");
            Py_DECREF(sk);
        }
        Py_XDECREF(ns_slots);
        Py_XDECREF(old_slots);
        int line = 0;
        for (Py_ssize_t i = 0; i < nm.len; i++) {
            if (nm.items[i].name_len == 9
                && memcmp(ntext + nm.items[i].name, "__slots__", 9) == 0)
            {
                line = nm.items[i].head_line;
            }
        }
        if (differ && job->rebuild_layout) {
            rebuild = 1; /* opt-in: a new class object, at the end */
        }
        else if (differ
                 && hs_cls_report(
                        &cx, NULL, "class", "rejected", "HS203", line,
                        "__slots__ changed: the instance layout of a "
                        "live class cannot change (reload(...,"
                        " rebuild_layout=True) makes a new class)")
                        < 0)
        {
            goto done;
        }
    }

    /* dataclass fields and enum members are not re-derived here */
    int dataclass = 0, fields_changed = 0, regen = 0, enum_edited = 0;
    {
        PyObject *key = PyUnicode_FromString("__dataclass_fields__");
        PyObject *v = NULL;
        int r = key ? hs_cls_own_member(klass, key, &v) : -1;
        Py_XDECREF(key);
        if (r < 0) {
            goto done;
        }
        dataclass = r == 1;
        Py_XDECREF(v);
    }
    /* 3.14+ computes them (without evaluating) only where they are
     * compared: fields of a dataclass or a typing construct, or a class
     * with a migration hook */
    if ((!HS_HAVE_ANNOTATE || dataclass || shadow != Py_None
         || PyObject_HasAttrString(klass, "__hotswap_migrate__"))
        && (hs_cls_annotations(ns, NULL, &annotations) < 0
            || hs_cls_annotations(NULL, klass, &old_ann) < 0))
    {
        goto done;
    }
    if (dataclass) {
        fields_changed = !hs_cls_values_equal(annotations, old_ann);
        if (!fields_changed && plans) {
            /* a changed default of an unchanged field */
            for (Py_ssize_t i = 0; i < nm.len && !fields_changed; i++) {
                if (nm.items[i].kind == HS_CHUNK_ASSIGN
                    && mstate[i] != HS_ST_UNCHANGED
                    && mstate[i] != HS_ST_MOVED)
                {
                    PyObject *n = PyUnicode_FromStringAndSize(
                        ntext + nm.items[i].name, nm.items[i].name_len);
                    if (n == NULL) {
                        goto done;
                    }
                    int in =
                        annotations ? PySequence_Contains(annotations, n) : 0;
                    Py_DECREF(n);
                    if (in < 0) {
                        PyErr_Clear();
                    }
                    fields_changed = in == 1;
                }
            }
            for (Py_ssize_t j = 0; j < om.len && !fields_changed; j++) {
                fields_changed =
                    !old_used[j] && om.items[j].kind == HS_CHUNK_ASSIGN;
            }
        }
        if (fields_changed) {
            /* slots=True (3.10+): __dataclass_params__ says so from 3.12;
             * before, the class's own __slots__ does */
            int slots = hs_cls_dataclass_param(klass, "slots");
            if (slots < 0) {
                goto done;
            }
            if (!slots) {
                PyObject *key = PyUnicode_FromString("__slots__"), *v = NULL;
                slots = key ? hs_cls_own_member(klass, key, &v) : -1;
                Py_XDECREF(v);
                Py_XDECREF(key);
                if (slots < 0) {
                    goto done;
                }
            }
            if (!slots) {
                regen = 1; /* the decorator runs again on this class */
                old_fields =
                    PyObject_GetAttrString(klass, "__dataclass_fields__");
                if (old_fields == NULL) {
                    goto done;
                }
            }
            else if (hs_cls_report(
                         &cx, NULL, "class", "rejected", "HS204", 0,
                         "fields of a slots=True dataclass changed: its "
                         "instance layout cannot change; methods were "
                         "applied, fields were not")
                     < 0)
            {
                goto done;
            }
        }
    }
    int nt_changed = hs_cls_namedtuple_fields_changed(klass, shadow);
    if (nt_changed < 0
        || (nt_changed
            && hs_cls_report(
                   &cx, NULL, "class", "rejected", "HS204", 0,
                   "NamedTuple fields changed: existing instances are "
                   "tuples of the old shape; methods were applied, "
                   "fields were not")
                   < 0))
    {
        goto done;
    }
    members = enum_members(klass);
    if (members == NULL && PyErr_Occurred()) {
        goto done;
    }
    if (members != NULL && plans) {
        int changed = 0;
        for (Py_ssize_t i = 0; i < nm.len && !changed; i++) {
            HsChunk *c = &nm.items[i];
            if (c->kind != HS_CHUNK_ASSIGN || mstate[i] == HS_ST_UNCHANGED
                || mstate[i] == HS_ST_MOVED)
            {
                continue;
            }
            PyObject *n =
                PyUnicode_FromStringAndSize(ntext + c->name, c->name_len);
            if (n == NULL) {
                goto done;
            }
            const char *s = PyUnicode_AsUTF8(n);
            /* a new or edited plain assignment in an enum body is a member
             * unless it is private or a dunder */
            changed = s != NULL && s[0] != '_';
            Py_DECREF(n);
        }
        for (Py_ssize_t j = 0; j < om.len && !changed; j++) {
            HsChunk *o = &om.items[j];
            changed = !old_used[j] && o->kind == HS_CHUNK_ASSIGN
                      && otext[o->name] != '_';
        }
        enum_edited = changed;
    }

    /* __init_subclass__ is not run again for existing subclasses */
    PyObject *init_sub_before = NULL;
    {
        PyObject *key = PyUnicode_FromString("__init_subclass__");
        PyObject *v = NULL;
        int r = key ? hs_cls_own_member(klass, key, &v) : -1;
        Py_XDECREF(key);
        if (r < 0) {
            goto done;
        }
        if (v != NULL) {
            PyObject *f = hs_func_find(v, job->dict, NULL);
            init_sub_before = f ? Py_NewRef(PyFunction_GET_CODE(f)) : NULL;
            Py_XDECREF(f);
            Py_DECREF(v);
            PyErr_Clear();
        }
    }

    /* the members */
    items = PyMapping_Items(ns);
    if (items == NULL || implicit_wrappers(items) < 0) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *pair = PyList_GET_ITEM(items, i);
        PyObject *name = PyTuple_GET_ITEM(pair, 0);
        PyObject *value = PyTuple_GET_ITEM(pair, 1);
        if (!PyUnicode_Check(name)
            || (is_skipped_name(name)
                && !is_own_special_member(klass, name, value)))
        {
            continue;
        }
        if (members != NULL && PyDict_GetItemWithError(members, name)) {
            continue; /* enum members keep their identity */
        }
        if (prepared != Py_None && !PyErr_Occurred()
            && PyDict_GetItemWithError(prepared, name) == value)
        {
            continue; /* put there by __prepare__, not by the body */
        }
        if (PyErr_Occurred()) {
            goto done;
        }
        if (members != NULL) {
            const char *s = PyUnicode_AsUTF8(name);
            if (s != NULL && s[0] != '_' && !PyFunction_Check(value)
                && member_kind(value) == K_OTHER && !PyType_Check(value)
                && !is_descriptor(value))
            {
                continue; /* a would-be new member: HS205 said so */
            }
        }
        int is_ann =
            PyUnicode_CompareWithASCIIString(name, "__annotations__") == 0;
        if (is_ann && ((dataclass && fields_changed && !regen) || nt_changed))
        {
            continue;
        }
        if (((dataclass && fields_changed && !regen) || nt_changed)
            && annotations != NULL)
        {
            int in = PySequence_Contains(annotations, name);
            if (in < 0) {
                PyErr_Clear();
            }
            if (in == 1) {
                continue;
            }
        }
        int st = -1, line = 0;
        Py_ssize_t mi = -1;
        /* a private member's statement has its source name */
        Py_XSETREF(sname, member_source_name(prefix, name));
        if (sname == NULL) {
            goto done;
        }
        if (plans) {
            for (Py_ssize_t j = 0; j < nm.len; j++) {
                if (nm.items[j].name_len > 0
                    && name_eq(ntext, &nm.items[j], sname))
                {
                    st = mstate[j];
                    line = nm.items[j].head_line;
                    mi = j;
                }
            }
            /* another target of an assignment (`a = b = f`, `x, y = ...`):
             * that statement's state */
            Py_ssize_t sn;
            const char *ss =
                mi < 0 ? PyUnicode_AsUTF8AndSize(sname, &sn) : NULL;
            for (Py_ssize_t j = 0; ss != NULL && j < nm.len; j++) {
                HsChunk *c = &nm.items[j];
                if ((c->kind == HS_CHUNK_STMT || c->kind == HS_CHUNK_ASSIGN)
                    && chunk_assigns_name(ntext, c, ss, sn))
                {
                    st = mstate[j];
                    line = c->head_line;
                    mi = j;
                }
            }
            if (PyErr_Occurred()) {
                goto done;
            }
        }
        int deco_changed =
            plans
            && member_decorators_changed(ntext, otext, &nm, &om, mmatch, mi);
        PyObject *old = NULL;
        int found = hs_cls_own_member(klass, name, &old);
        if (found < 0) {
            goto done;
        }
        int edited = st != HS_ST_UNCHANGED && st != HS_ST_MOVED;
        if (!found && !edited) {
            /* the class machinery took it out of the class (a dataclass
             * field with a default_factory, attrs' attr.ib()): a fresh
             * import does the same */
            continue;
        }
        if (!found
            && PyUnicode_CompareWithASCIIString(name, "__firstlineno__") == 0)
        {
            /* 3.13+: setting __module__ drops it (`C.__module__ = "pkg"`,
             * tomllib's TOMLDecodeError): a fresh import's class has none
             * either */
            continue;
        }
        if (!found && mi >= 0 && nm.items[mi].kind == HS_CHUNK_DEF
            && mmatch[mi] >= 0 && om.items[mmatch[mi]].kind == HS_CHUNK_DEF
            && !deco_changed)
        {
            /* a def the program took out of the class after the class
             * statement, once another member held its function (boltons'
             * `iqr = _StatsProperty('iqr', _calc_iqr)`, then
             * `delattr(Stats, '_calc_iqr')`): the function is patched
             * where it lives, and the name stays out of the class, as the
             * program's later statement leaves it in a fresh import */
            int pr = patch_def_held(&cx, name, Py_None, value,
                                    &om.items[mmatch[mi]], &nm.items[mi]);
            if (pr < 0) {
                goto done;
            }
            if (pr != PATCH_NOT_A_FUNCTION && pr != HS_PATCH_KIND
                && pr != HS_PATCH_FREEVARS)
            {
                if (patch_result_report(&cx, name, pr, line) < 0) {
                    goto done;
                }
                continue;
            }
        }
        if (!found) {
            MemberKind k = member_kind(value);
            if (set_member(&cx, name, value) < 0
                || hs_cls_report(&cx, name, k == K_OTHER ? "data" : "method",
                                 "added", NULL, line, NULL)
                       < 0)
            {
                goto done;
            }
            continue;
        }
        if (old == value) {
            Py_DECREF(old);
            continue;
        }
        if (Py_IS_TYPE(old, &PyMemberDescr_Type)
            && !Py_IS_TYPE(value, &PyMemberDescr_Type))
        {
            /* a slot the class machinery made from a class-body member
             * (slots=True dataclass field, attrs attribute): instances
             * store their values through it; the body's value is a
             * default the machinery keeps elsewhere */
            Py_DECREF(old);
            if (edited && plans
                && hs_cls_report(&cx, name, "data", "rejected", "HS204", line,
                                 "this member is a slot of the class: its "
                                 "default cannot change in place; the slot "
                                 "was kept")
                       < 0)
            {
                goto done;
            }
            continue;
        }
        int data_stmt = mi >= 0 && nm.items[mi].kind != HS_CHUNK_DEF
                        && nm.items[mi].kind != HS_CHUNK_CLASS;
        if (st == HS_ST_UNCHANGED || (st == HS_ST_MOVED && data_stmt)) {
            /* statement not edited: the live value stays, and what the
             * body computed from a method gets the live one */
            int a = !data_stmt && member_kind(old) != K_OTHER
                        ? hs_live_note(job, value, old)
                        : 0;
            if (a == 0 && data_stmt) {
                a = patch_alias(&cx, name, old, value, line);
            }
            if (a == 0 && data_stmt && old != value
                && member_kind(old) == K_OTHER && is_made_object(value))
            {
                /* the object the unedited statement made again
                 * (`__marker = object()`): what the body computed from it
                 * (`def pop(self, default=__marker)`) gets the live one */
                a = hs_live_note(job, value, old);
            }
            if (a == 0 && st == HS_ST_MOVED && mmatch[mi] >= 0) {
                /* `f = staticmethod(lambda ...)`: the lambdas it made
                 * move with it */
                const HsChunk *c = &nm.items[mi], *o = &om.items[mmatch[mi]];
                if (hs_plan_contains_bytes(ntext + c->start, c->end - c->start,
                                           "lambda", 6))
                {
                    HsHeldQuery q = {job->dict, NULL,         job->filename,
                                     o->line,   o->last_line, 0};
                    a = hs_func_shift_held(txn, old, &q, c->line - o->line,
                                           nested);
                }
            }
            Py_DECREF(old);
            if (a < 0) {
                goto done;
            }
            continue;
        }
        MemberKind ko = member_kind(old), kn = member_kind(value);
        /* the member's def statements, old and new, when it is a def */
        const HsChunk *ndef = mi >= 0 && nm.items[mi].kind == HS_CHUNK_DEF
                                  ? &nm.items[mi]
                                  : NULL;
        const HsChunk *odef =
            ndef != NULL && mmatch[mi] >= 0
                    && om.items[mmatch[mi]].kind == HS_CHUNK_DEF
                ? &om.items[mmatch[mi]]
                : NULL;
        int r;
        if (odef != NULL && !deco_changed && (ko != kn || ko == K_OTHER)) {
            r = patch_def_held(&cx, sname, old, value, odef, ndef);
            if (r < 0) {
                Py_DECREF(old);
                goto done;
            }
            if (r != PATCH_NOT_A_FUNCTION && r != HS_PATCH_KIND
                && r != HS_PATCH_FREEVARS)
            {
                int a = hs_live_note(job, value, old);
                Py_DECREF(old);
                if (a < 0) {
                    goto done;
                }
                if (patch_result_report(&cx, name, r, line) < 0) {
                    goto done;
                }
                continue;
            }
        }
        if (ko != K_OTHER && ko == kn) {
            if (ko == K_PROPERTY) {
                r = patch_property(&cx, name, old, value, line, ndef != NULL);
                Py_DECREF(old);
                if (r < 0) {
                    goto done;
                }
                continue;
            }
            PyObject *fpair[2] = {NULL, NULL};
            /* a member bound by an assignment: its statements' lines tell
             * the functions it made from those it names */
            const HsChunk *nst = ndef != NULL || mi < 0 ? ndef : &nm.items[mi];
            const HsChunk *ost = ndef != NULL || mi < 0 || mmatch[mi] < 0
                                     ? odef
                                     : &om.items[mmatch[mi]];
            r = patch_wrapped(&cx, sname, old, value, ost, nst, fpair);
            if (r < 0) {
                Py_DECREF(old);
                goto done;
            }
            int a = 0;
            if (deco_changed && fpair[0] != NULL && r != HS_PATCH_KIND
                && r != HS_PATCH_FREEVARS)
            {
                a = hs_func_follow_replacement(cx.txn, old, fpair[0],
                                               fpair[1]);
            }
            else if (fpair[0] != NULL && r != HS_PATCH_KIND
                     && r != HS_PATCH_FREEVARS)
            {
                /* patched in place: the member stays; what the body
                 * computed from the staged one gets the live one */
                a = hs_live_note(job, fpair[1], fpair[0]);
                if (a == 0) {
                    a = hs_live_note(job, value, old);
                }
            }
            Py_XDECREF(fpair[0]);
            Py_XDECREF(fpair[1]);
            if (a < 0) {
                Py_DECREF(old);
                goto done;
            }
            if (r == PATCH_NOT_A_FUNCTION) {
                Py_DECREF(old);
                if (set_member(&cx, name, value) < 0
                    || hs_cls_report(&cx, name, "data", "updated", NULL, line,
                                     NULL)
                           < 0)
                {
                    goto done;
                }
                continue;
            }
            if (r == HS_PATCH_KIND || r == HS_PATCH_FREEVARS) {
                Py_DECREF(old);
                if (set_member(&cx, name, value) < 0
                    || hs_cls_report(&cx, name, "method", "replaced", "HS101",
                                     line,
                                     "became or stopped being a generator or "
                                     "coroutine; references taken before the "
                                     "reload keep the old function")
                           < 0)
                {
                    goto done;
                }
                continue;
            }
            if (deco_changed) {
                Py_DECREF(old);
                if (set_member(&cx, name, value) < 0
                    || hs_cls_report(
                           &cx, name, "method", "replaced", "HS102", line,
                           "decorators changed: the class attribute is "
                           "the newly decorated object; references taken "
                           "before the reload run the new body under the "
                           "old decorators")
                           < 0)
                {
                    goto done;
                }
                continue;
            }
            Py_DECREF(old);
            if (patch_result_report(&cx, name, r, line) < 0) {
                goto done;
            }
            continue;
        }
        if (ko != kn && (ko != K_OTHER || kn != K_OTHER)) {
            Py_DECREF(old);
            if (set_member(&cx, name, value) < 0
                || hs_cls_report(&cx, name, "method", "replaced", "HS103",
                                 line,
                                 "the kind of this member changed; references "
                                 "taken before the reload keep the old object")
                       < 0)
            {
                goto done;
            }
            continue;
        }
        /* data */
        Py_DECREF(old);
        if (st == HS_ST_MOVED || (!plans && job->mode == HS_MODE_NOSNAP)) {
            continue;
        }
        if (PyType_Check(value)) {
            /* a nested class of the same name created anew (its own
             * statement was not routed to the old one) */
        }
        if (PyUnicode_CompareWithASCIIString(name, "__type_params__") == 0) {
            /* 3.12+ `class C[T]`: the re-run header made new TypeVars.
             * The live ones stay while the header declares the same
             * parameters: the class's __parameters__, its generic aliases
             * and its instances' annotations refer to them. */
            PyObject *cur = NULL;
            if (hs_cls_own_member(klass, name, &cur) < 0) {
                goto done;
            }
            int same = type_params_alike(cur, value);
            Py_XDECREF(cur);
            if (same < 0
                || (!same && hs_txn_setattr(txn, klass, name, value) < 0))
            {
                goto done;
            }
            continue;
        }
        if (is_ann || PyUnicode_CompareWithASCIIString(name, "__doc__") == 0
            || PyUnicode_CompareWithASCIIString(name, "__firstlineno__") == 0
            || PyUnicode_CompareWithASCIIString(name, "__static_attributes__")
                   == 0)
        {
            /* bookkeeping the compiler writes (3.13: inspect uses
             * __firstlineno__): kept exact, not reported */
            PyObject *cur = NULL;
            if (hs_cls_own_member(klass, name, &cur) < 0) {
                goto done;
            }
            int same = hs_cls_values_equal(cur, value);
            Py_XDECREF(cur);
            if (same) {
                continue;
            }
            if (hs_txn_setattr(txn, klass, name, value) < 0) {
                goto done;
            }
            continue;
        }
        if (set_member(&cx, name, value) < 0
            || hs_cls_report(&cx, name, "data", "updated", NULL, line, NULL)
                   < 0)
        {
            goto done;
        }
    }

    if (hs_cls_sync_annotations(&cx, ns) < 0) {
        goto done;
    }

    /* members whose statement was removed */
    if (plans) {
        for (Py_ssize_t j = 0; j < om.len; j++) {
            HsChunk *o = &om.items[j];
            if (old_used[j] || o->name_len == 0) {
                continue;
            }
            PyObject *src =
                PyUnicode_FromStringAndSize(otext + o->name, o->name_len);
            PyObject *name = src ? member_mangled_name(prefix, src) : NULL;
            Py_XDECREF(src);
            if (name == NULL) {
                goto done;
            }
            int in_ns = PyMapping_HasKey(ns, name);
            PyObject *cur = NULL;
            int found = in_ns ? 0 : hs_cls_own_member(klass, name, &cur);
            int r = 0;
            if (found == 1
                && !(members != NULL
                     && PyDict_GetItemWithError(members, name)))
            {
                r = hs_txn_setattr(txn, klass, name, NULL);
                if (r == 0) {
                    r = hs_cls_report(&cx, name,
                                      member_kind(cur) == K_OTHER ? "data"
                                                                  : "method",
                                      "removed", NULL, o->head_line, NULL);
                }
            }
            Py_XDECREF(cur);
            Py_DECREF(name);
            if (found < 0 || r < 0 || PyErr_Occurred()) {
                goto done;
            }
        }
    }

    /* type.__new__'s rule: a body that defines __eq__ but not __hash__
     * makes instances unhashable */
    {
        int has_eq = PyMapping_HasKeyString(ns, "__eq__");
        int has_hash = PyMapping_HasKeyString(ns, "__hash__");
        PyObject *key = PyUnicode_FromString("__hash__");
        PyObject *cur = NULL;
        int r = key ? hs_cls_own_member(klass, key, &cur) : -1;
        if (r >= 0 && has_eq && !has_hash && cur != Py_None) {
            r = hs_txn_setattr(txn, klass, key, Py_None);
        }
        else if (r == 1 && !has_eq && !has_hash && cur == Py_None && plans) {
            /* __eq__ removed: the implicit __hash__ = None goes too */
            PyObject *eq = PyUnicode_FromString("__eq__");
            int had_eq = eq != NULL
                         && find_member(otext, &om, HS_CHUNK_DEF, eq) != NULL;
            Py_XDECREF(eq);
            if (had_eq) {
                r = hs_txn_setattr(txn, klass, key, NULL);
            }
        }
        Py_XDECREF(cur);
        Py_XDECREF(key);
        if (r < 0) {
            goto done;
        }
    }

    /* derived state */
    {
        PyObject *key = PyUnicode_FromString("__slotnames__");
        PyObject *v = NULL;
        int r = key ? hs_cls_own_member(klass, key, &v) : -1;
        if (r == 1) {
            r = hs_txn_setattr(txn, klass, key, NULL);
        }
        Py_XDECREF(v);
        Py_XDECREF(key);
        if (r < 0) {
            goto done;
        }
    }
    if (regen && hs_cls_regenerate_dataclass(&cx, ns, old_fields) < 0) {
        goto done;
    }
    if (shadow != Py_None && !nt_changed
        && hs_cls_sync_typing_data(&cx, shadow) < 0)
    {
        goto done;
    }
    if (rebuild && hs_cls_rebuild_class(&cx, ns) < 0) {
        goto done;
    }
    /* last: building the enum of the new body consumes the namespace */
    if (enum_edited && hs_cls_enum_sync_members(&cx, ns, members) < 0) {
        goto done;
    }
    if (!dataclass && annotations != NULL
        && !hs_cls_values_equal(annotations, old_ann)
        && PyObject_HasAttrString(klass, "__hotswap_migrate__")
        && hs_cls_migrate_instances(&cx, old_ann, annotations, NULL) < 0)
    {
        goto done;
    }
    if (PyObject_HasAttrString(klass, "__abstractmethods__")
        && hs_cls_recompute_abstract(txn, klass) < 0)
    {
        goto done;
    }
    if (hs_cls_init_subclass_changed(&cx, init_sub_before) < 0) {
        Py_XDECREF(init_sub_before);
        goto done;
    }
    Py_CLEAR(init_sub_before);
    /* isinstance()/issubclass() answers an ABC cached (protocols too) may
     * depend on members that just changed; registrations stay.  The
     * method is the metaclass's (ABCMeta or a subclass): looked up on the
     * class itself it would also be found on a metaclass derived from
     * ABCMeta, as an unbound function. */
    if (hs_cls_abc_caches_clear(klass) < 0) {
        goto done;
    }
    result = 0;
done:
    hs_chunks_clear(&nm);
    hs_chunks_clear(&om);
    PyMem_Free(old_used);
    PyMem_Free(mstate);
    PyMem_Free(mmatch);
    Py_XDECREF(items);
    Py_XDECREF(members);
    Py_XDECREF(annotations);
    Py_XDECREF(old_ann);
    Py_XDECREF(old_fields);
    Py_XDECREF(prefix);
    Py_XDECREF(sname);
    Py_XDECREF(cx.qualname);
    return result;
}

int
hs_class_apply(HsJob *job, HsTxn *txn, PyObject *nested)
{
    if (job->class_updates == NULL) {
        return 0;
    }
    /* innermost classes were recorded first; apply outer ones first so a
     * replaced nested class is set before its parent is looked at */
    for (Py_ssize_t i = PyList_GET_SIZE(job->class_updates) - 1; i >= 0; i--) {
        PyObject *rec = PyList_GET_ITEM(job->class_updates, i);
        HsClassRanges rg;
        memcpy(&rg, PyBytes_AS_STRING(PyTuple_GET_ITEM(rec, 2)), sizeof(rg));
        int header_ok = (int)PyLong_AsLong(PyTuple_GET_ITEM(rec, 3));
        if (apply_one(job, txn, PyTuple_GET_ITEM(rec, 0),
                      PyTuple_GET_ITEM(rec, 1), &rg, header_ok,
                      PyTuple_GET_ITEM(rec, 4), PyTuple_GET_ITEM(rec, 5),
                      PyTuple_GET_ITEM(rec, 6), nested)
            < 0)
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
    PyObject *d = hs_cls_own_dict(klass), *items = NULL, *qual = NULL;
    int result = -1;
    if (d == NULL) {
        return -1;
    }
    items = PyMapping_Items(d);
    qual = PyObject_GetAttrString(klass, "__qualname__");
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
            if (PyObject_GetOptionalAttrString(v, "__qualname__", &vq) < 0) {
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
    if (hs_class_shift_firstlineno(txn, klass, old, delta) < 0) {
        goto done;
    }
    result = 0;
done:
    Py_DECREF(d);
    Py_XDECREF(items);
    Py_XDECREF(qual);
    return result;
}

int
hs_class_shift_firstlineno(HsTxn *txn, PyObject *klass, const HsChunk *old,
                           int delta)
{
    PyObject *key = PyUnicode_FromString("__firstlineno__");
    PyObject *v = NULL;
    int r = key ? hs_cls_own_member(klass, key, &v) : -1;
    if (r == 1 && PyLong_Check(v)) {
        long line = PyLong_AsLong(v);
        r = 0;
        if (line >= old->line && line <= old->last_line) {
            PyObject *nv = PyLong_FromLong(line + delta);
            r = nv ? hs_txn_setattr(txn, klass, key, nv) : -1;
            Py_XDECREF(nv);
        }
    }
    Py_XDECREF(v);
    Py_XDECREF(key);
    return r < 0 ? -1 : 0;
}
