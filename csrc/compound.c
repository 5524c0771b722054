/* compound.c -- the data policy inside an edited top-level compound
 * statement (`if PY3:` ... `byte2int = operator.itemgetter(0)` ...
 * `def edited(): ...`).  The compound statement is the unit that runs
 * again; this file tells which names it binds only through inner
 * statements the edit left as they were, so APPLY keeps their live values
 * as it keeps the data of an unedited top-level statement (issue 13,
 * cause 28).
 *
 * The old and the new statement are parsed (the compiler's AST, one parse
 * each, only for edited compound statements) into leaves: simple
 * statements and definitions, each keyed by its text and the path of the
 * clause headers above it (`if PY3:` / body, `else:`, `except E:` ...).
 * A leaf whose key is in both is unedited.  A name is kept when the leaves
 * binding it are the same unedited leaves in both versions.  Definitions
 * (def/class) count as binding no data: APPLY asks only about a value
 * that holds no function the statement made, so whatever def binds the
 * name (six's `def byte2int` in the `else:` of `if PY3:`) did not make
 * the live value; functions and classes are patched in place instead.  An
 * edited leaf whose bindings the AST cannot tell (a star import, `:=`,
 * `match`) keeps nothing.
 *
 * Main thread, GIL held.  Owns nothing beyond one call; the answer is
 * cached in job->plan.chunk_binds under the key -1 - chunk index.
 */
#include "compound.h"
#include "errors.h"
#include "plan.h"

#include <string.h>

/* A leaf's names: a frozenset, or None when the AST cannot tell. */
typedef struct {
    const char *text; /* borrowed: the statement's UTF-8 bytes */
    Py_ssize_t len;
    Py_ssize_t *line_at; /* PyMem: offset of line n at [n], 1-based */
    int nlines;
    PyObject *leaves; /* strong dict: key (int) -> frozenset | None */
} Walk;

static inline uint64_t
compound_mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
    h *= 0xBF58476D1CE4E5B9ULL;
    return h ^ (h >> 31);
}

static const char *
compound_node_kind(PyObject *node)
{
    const char *n = Py_TYPE(node)->tp_name;
    const char *dot = strrchr(n, '.');
    return dot ? dot + 1 : n;
}

/* node.<attr> as an int; -1 with an exception, or when it is None. */
static int
compound_int_attr(PyObject *node, const char *attr, Py_ssize_t *out)
{
    PyObject *v = PyObject_GetAttrString(node, attr);
    if (v == NULL) {
        return -1;
    }
    if (v == Py_None) {
        Py_DECREF(v);
        PyErr_SetString(PyExc_ValueError, "AST node without a location");
        return -1;
    }
    *out = PyLong_AsSsize_t(v);
    Py_DECREF(v);
    return *out == -1 && PyErr_Occurred() ? -1 : 0;
}

/* The byte offset of (lineno, col) of `node`'s start (end: its end). */
static int
compound_offset(Walk *w, PyObject *node, int end, Py_ssize_t *out)
{
    Py_ssize_t line, col;
    if (compound_int_attr(node, end ? "end_lineno" : "lineno", &line) < 0
        || compound_int_attr(node, end ? "end_col_offset" : "col_offset", &col)
               < 0)
    {
        return -1;
    }
    if (line < 1 || line > w->nlines) {
        PyErr_SetString(PyExc_ValueError, "AST location out of range");
        return -1;
    }
    Py_ssize_t off = w->line_at[line] + col;
    *out = off < 0 ? 0 : (off > w->len ? w->len : off);
    return 0;
}

static uint64_t
compound_hash_range(Walk *w, Py_ssize_t a, Py_ssize_t b)
{
    return b > a ? hs_hash_bytes(w->text + a, b - a) : 0;
}

/* Add the names a store target binds (Name, Tuple/List, Starred). */
static int
compound_target_names(PyObject *t, PyObject *names)
{
    const char *k = compound_node_kind(t);
    if (strcmp(k, "Name") == 0) {
        PyObject *id = PyObject_GetAttrString(t, "id");
        int r = id ? PySet_Add(names, id) : -1;
        Py_XDECREF(id);
        return r;
    }
    if (strcmp(k, "Starred") == 0) {
        PyObject *v = PyObject_GetAttrString(t, "value");
        int r = v ? compound_target_names(v, names) : -1;
        Py_XDECREF(v);
        return r;
    }
    if (strcmp(k, "Tuple") == 0 || strcmp(k, "List") == 0) {
        PyObject *elts = PyObject_GetAttrString(t, "elts");
        int r = elts && PyList_Check(elts) ? 0 : -1;
        if (r < 0 && !PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "unexpected AST");
        }
        for (Py_ssize_t i = 0; r == 0 && i < PyList_GET_SIZE(elts); i++) {
            r = compound_target_names(PyList_GET_ITEM(elts, i), names);
        }
        Py_XDECREF(elts);
        return r;
    }
    return 0; /* an attribute or a subscript binds no name */
}

/* The same for node.<attr> (a target, a list of them, or None). */
static int
compound_attr_names(PyObject *node, const char *attr, PyObject *names)
{
    PyObject *v = PyObject_GetAttrString(node, attr);
    int r = v ? 0 : -1;
    if (v != NULL && PyList_Check(v)) {
        for (Py_ssize_t i = 0; r == 0 && i < PyList_GET_SIZE(v); i++) {
            r = compound_target_names(PyList_GET_ITEM(v, i), names);
        }
    }
    else if (v != NULL && v != Py_None) {
        r = compound_target_names(v, names);
    }
    Py_XDECREF(v);
    return r;
}

/* Import aliases: `import a.b` binds a, `as x` binds x; `*`: 1 (the
 * names cannot be told).  0 / 1 / -1. */
static int
compound_import_names(PyObject *node, PyObject *names)
{
    PyObject *aliases = PyObject_GetAttrString(node, "names");
    int r = aliases && PyList_Check(aliases) ? 0 : -1;
    if (r < 0 && !PyErr_Occurred()) {
        PyErr_SetString(PyExc_TypeError, "unexpected AST");
    }
    for (Py_ssize_t i = 0; r == 0 && i < PyList_GET_SIZE(aliases); i++) {
        PyObject *a = PyList_GET_ITEM(aliases, i);
        PyObject *as = PyObject_GetAttrString(a, "asname");
        PyObject *nm = as ? PyObject_GetAttrString(a, "name") : NULL;
        PyObject *bound = NULL;
        if (nm == NULL) {
            r = -1;
        }
        else if (as != Py_None) {
            bound = Py_NewRef(as);
        }
        else if (PyUnicode_CompareWithASCIIString(nm, "*") == 0) {
            r = 1;
        }
        else {
            Py_ssize_t dot =
                PyUnicode_FindChar(nm, '.', 0, PyUnicode_GET_LENGTH(nm), 1);
            bound = dot >= 0 ? PyUnicode_Substring(nm, 0, dot) : Py_NewRef(nm);
            if (dot < -1 || bound == NULL) {
                r = -1;
            }
        }
        if (bound != NULL && PySet_Add(names, bound) < 0) {
            r = -1;
        }
        Py_XDECREF(bound);
        Py_XDECREF(nm);
        Py_XDECREF(as);
    }
    Py_XDECREF(aliases);
    return r;
}

/* Record leaf `key` binding `names` (NULL: cannot be told). */
static int
compound_add_leaf(Walk *w, uint64_t key, PyObject *names)
{
    PyObject *k = PyLong_FromUnsignedLongLong((unsigned long long)key);
    PyObject *v = names ? PyFrozenSet_New(names) : Py_NewRef(Py_None);
    int r = k && v ? PyDict_SetItem(w->leaves, k, v) : -1;
    Py_XDECREF(k);
    Py_XDECREF(v);
    return r;
}

static int compound_walk_body(Walk *w, PyObject *body, uint64_t path);

/* The header of a clause: from `node`'s start to its first body
 * statement.  Its hash into *out. */
static int
compound_header(Walk *w, PyObject *node, PyObject *body, uint64_t path,
                uint64_t *out)
{
    Py_ssize_t a, b;
    if (compound_offset(w, node, 0, &a) < 0) {
        return -1;
    }
    if (!PyList_Check(body) || PyList_GET_SIZE(body) == 0) {
        PyErr_SetString(PyExc_TypeError, "unexpected AST");
        return -1;
    }
    if (compound_offset(w, PyList_GET_ITEM(body, 0), 0, &b) < 0) {
        return -1;
    }
    *out = compound_mix(path, compound_hash_range(w, a, b));
    return 0;
}

/* node.<attr> (a list of statements) under path `tag` of header h. */
static int
compound_walk_field(Walk *w, PyObject *node, const char *attr, uint64_t h,
                    uint64_t tag)
{
    PyObject *body = PyObject_GetAttrString(node, attr);
    if (body == NULL) {
        return -1;
    }
    int r = compound_walk_body(w, body, compound_mix(h, tag));
    Py_DECREF(body);
    return r;
}

static int
compound_walk_compound(Walk *w, PyObject *node, const char *k, uint64_t path)
{
    PyObject *body = PyObject_GetAttrString(node, "body");
    PyObject *names = NULL;
    uint64_t h = 0;
    int r = -1;
    if (body == NULL || compound_header(w, node, body, path, &h) < 0) {
        goto done;
    }
    /* what the header binds (`for x in`, `with ... as f`) is a leaf */
    names = PySet_New(NULL);
    if (names == NULL) {
        goto done;
    }
    if (strcmp(k, "For") == 0 || strcmp(k, "AsyncFor") == 0) {
        if (compound_attr_names(node, "target", names) < 0) {
            goto done;
        }
    }
    else if (strcmp(k, "With") == 0 || strcmp(k, "AsyncWith") == 0) {
        PyObject *items = PyObject_GetAttrString(node, "items");
        int ok = items && PyList_Check(items);
        for (Py_ssize_t i = 0; ok && i < PyList_GET_SIZE(items); i++) {
            ok = compound_attr_names(PyList_GET_ITEM(items, i),
                                     "optional_vars", names)
                 == 0;
        }
        Py_XDECREF(items);
        if (!ok) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_TypeError, "unexpected AST");
            }
            goto done;
        }
    }
    if (compound_add_leaf(w, compound_mix(h, 1), names) < 0
        || compound_walk_body(w, body, compound_mix(h, 2)) < 0)
    {
        goto done;
    }
    if (strcmp(k, "With") != 0 && strcmp(k, "AsyncWith") != 0
        && compound_walk_field(w, node, "orelse", h, 3) < 0)
    {
        goto done;
    }
    if (strcmp(k, "Try") == 0 || strcmp(k, "TryStar") == 0) {
        if (compound_walk_field(w, node, "finalbody", h, 4) < 0) {
            goto done;
        }
        PyObject *hs = PyObject_GetAttrString(node, "handlers");
        int ok = hs && PyList_Check(hs);
        for (Py_ssize_t i = 0; ok && i < PyList_GET_SIZE(hs); i++) {
            PyObject *eh = PyList_GET_ITEM(hs, i);
            PyObject *hb = PyObject_GetAttrString(eh, "body");
            PyObject *hn = PySet_New(NULL);
            uint64_t hh = 0;
            ok = hb && hn && compound_header(w, eh, hb, h, &hh) == 0;
            if (ok) {
                PyObject *nm = PyObject_GetAttrString(eh, "name");
                ok = nm != NULL && (nm == Py_None || PySet_Add(hn, nm) == 0);
                Py_XDECREF(nm);
            }
            ok = ok && compound_add_leaf(w, compound_mix(hh, 1), hn) == 0
                 && compound_walk_body(w, hb, compound_mix(hh, 2)) == 0;
            Py_XDECREF(hb);
            Py_XDECREF(hn);
        }
        Py_XDECREF(hs);
        if (!ok) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_TypeError, "unexpected AST");
            }
            goto done;
        }
    }
    r = 0;
done:
    Py_XDECREF(names);
    Py_XDECREF(body);
    return r;
}

/* One statement under `path`. */
static int
compound_walk_stmt(Walk *w, PyObject *node, uint64_t path)
{
    const char *k = compound_node_kind(node);
    if (strcmp(k, "If") == 0 || strcmp(k, "For") == 0
        || strcmp(k, "AsyncFor") == 0 || strcmp(k, "While") == 0
        || strcmp(k, "With") == 0 || strcmp(k, "AsyncWith") == 0
        || strcmp(k, "Try") == 0 || strcmp(k, "TryStar") == 0)
    {
        return compound_walk_compound(w, node, k, path);
    }
    Py_ssize_t a, b;
    int def = strcmp(k, "FunctionDef") == 0
              || strcmp(k, "AsyncFunctionDef") == 0
              || strcmp(k, "ClassDef") == 0;
    if (compound_offset(w, node, 0, &a) < 0
        || compound_offset(w, node, 1, &b) < 0)
    {
        return -1;
    }
    if (def) {
        /* its decorators are part of it */
        PyObject *decos = PyObject_GetAttrString(node, "decorator_list");
        if (decos == NULL) {
            return -1;
        }
        if (PyList_Check(decos) && PyList_GET_SIZE(decos) > 0) {
            Py_ssize_t d;
            if (compound_offset(w, PyList_GET_ITEM(decos, 0), 0, &d) < 0) {
                Py_DECREF(decos);
                return -1;
            }
            a = d < a ? d : a;
        }
        Py_DECREF(decos);
    }
    uint64_t key = compound_mix(path, compound_hash_range(w, a, b));
    PyObject *names = PySet_New(NULL);
    int r = names ? 0 : -1, opaque = 0;
    if (r == 0 && def) {
        /* binds no data: see hs_compound_keeps() */
    }
    else if (r == 0 && strcmp(k, "Assign") == 0) {
        r = compound_attr_names(node, "targets", names);
    }
    else if (r == 0
             && (strcmp(k, "AnnAssign") == 0 || strcmp(k, "AugAssign") == 0))
    {
        r = compound_attr_names(node, "target", names);
    }
    else if (r == 0 && strcmp(k, "Delete") == 0) {
        r = compound_attr_names(node, "targets", names);
    }
    else if (r == 0
             && (strcmp(k, "Import") == 0 || strcmp(k, "ImportFrom") == 0))
    {
        r = compound_import_names(node, names);
        if (r == 1) {
            opaque = 1;
            r = 0;
        }
    }
    else if (r == 0 && strcmp(k, "Match") == 0) {
        opaque = 1; /* its cases bind their capture names */
    }
    /* an assignment expression binds in any statement */
    if (!def && hs_plan_contains_bytes(w->text + a, b - a, ":=", 2)) {
        opaque = 1;
    }
    if (r == 0) {
        r = compound_add_leaf(w, key, opaque ? NULL : names);
    }
    Py_XDECREF(names);
    return r;
}

static int
compound_walk_body(Walk *w, PyObject *body, uint64_t path)
{
    if (!PyList_Check(body)) {
        PyErr_SetString(PyExc_TypeError, "unexpected AST");
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(body); i++) {
        /* hold it: attribute lookups can run Python code */
        PyObject *node = Py_NewRef(PyList_GET_ITEM(body, i));
        int r = compound_walk_stmt(w, node, path);
        Py_DECREF(node);
        if (r < 0) {
            return -1;
        }
    }
    return 0;
}

/* Parse text[start:end) (one top-level statement) into w.  0 / -1. */
static int
compound_parse(HsJob *job, const char *text, const HsChunk *c, Walk *w)
{
    PyObject *buf = NULL, *tree = NULL, *body = NULL;
    int r = -1;
    w->text = text + c->start;
    w->len = c->end - c->start;
    w->nlines = 1;
    for (Py_ssize_t i = 0; i < w->len; i++) {
        w->nlines += w->text[i] == '\n';
    }
    w->line_at = PyMem_Calloc((size_t)w->nlines + 2, sizeof(Py_ssize_t));
    w->leaves = PyDict_New();
    if (w->line_at == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (w->leaves == NULL) {
        goto done;
    }
    int n = 1;
    w->line_at[1] = 0;
    for (Py_ssize_t i = 0; i < w->len; i++) {
        if (w->text[i] == '\n' && n <= w->nlines) {
            w->line_at[++n] = i + 1;
        }
    }
    buf = PyBytes_FromStringAndSize(w->text, w->len);
    if (buf == NULL) {
        goto done;
    }
    PyCompilerFlags flags =
        HS_COMPILER_FLAGS_INIT(job->plan.cf_flags | PyCF_ONLY_AST
                               | PyCF_IGNORE_COOKIE | PyCF_SOURCE_IS_UTF8);
    tree = Py_CompileStringObject(PyBytes_AS_STRING(buf), job->filename,
                                  Py_file_input, &flags, -1);
    body = tree ? PyObject_GetAttrString(tree, "body") : NULL;
    if (body != NULL) {
        r = compound_walk_body(w, body, 0);
    }
done:
    Py_XDECREF(body);
    Py_XDECREF(tree);
    Py_XDECREF(buf);
    return r;
}

static void
compound_walk_clear(Walk *w)
{
    PyMem_Free(w->line_at);
    w->line_at = NULL;
    Py_CLEAR(w->leaves);
}

/* The first line of a chunk (its first clause header, mostly). */
static int
compound_same_first_line(const char *a, const HsChunk *ca, const char *b,
                         const HsChunk *cb)
{
    const char *ea = memchr(a + ca->start, '\n', ca->end - ca->start);
    const char *eb = memchr(b + cb->start, '\n', cb->end - cb->start);
    Py_ssize_t na = ea ? ea - (a + ca->start) : ca->end - ca->start;
    Py_ssize_t nb = eb ? eb - (b + cb->start) : cb->end - cb->start;
    return na == nb && memcmp(a + ca->start, b + cb->start, na) == 0;
}

/* The old statement an edited (so unmatched) compound statement ci
 * replaces: the k-th unmatched old statement with the same first line,
 * when ci is the k-th such added statement and the counts agree; else
 * -1. */
static Py_ssize_t
compound_old_of(HsJob *job, Py_ssize_t ci)
{
    const char *nt = PyBytes_AS_STRING(job->src.text);
    const HsChunk *c = &job->src.chunks.items[ci];
    Py_ssize_t rank = -1, nnew = 0, nold = 0, found = -1;
    for (Py_ssize_t i = 0; i < job->src.chunks.len; i++) {
        const HsChunk *o = &job->src.chunks.items[i];
        if (job->plan.state[i] == HS_ST_ADDED && o->kind == HS_CHUNK_STMT
            && compound_same_first_line(nt, o, nt, c))
        {
            if (i == ci) {
                rank = nnew;
            }
            nnew++;
        }
    }
    for (Py_ssize_t j = 0; j < job->src.old_chunks->len; j++) {
        const HsChunk *o = &job->src.old_chunks->items[j];
        if (!job->plan.old_matched[j] && o->kind == HS_CHUNK_STMT
            && compound_same_first_line(job->src.old_text, o, nt, c))
        {
            if (nold == rank) {
                found = j;
            }
            nold++;
        }
    }
    return nold == nnew ? found : -1;
}

/* name -> frozenset of the keys of the leaves binding it. */
static PyObject *
compound_binders(Walk *w, int *opaque_out, PyObject *opaque_keys)
{
    PyObject *by = PyDict_New();
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    if (by == NULL) {
        return NULL;
    }
    *opaque_out = 0;
    while (PyDict_Next(w->leaves, &pos, &k, &v)) {
        if (v == Py_None) {
            if (PySet_Add(opaque_keys, k) < 0) {
                goto error;
            }
            continue;
        }
        PyObject *it = PyObject_GetIter(v), *nm;
        if (it == NULL) {
            goto error;
        }
        while ((nm = PyIter_Next(it)) != NULL) {
            PyObject *keys = PyDict_GetItemWithError(by, nm);
            int r = 0;
            if (keys == NULL && !PyErr_Occurred()) {
                PyObject *s = PySet_New(NULL);
                r = s ? PyDict_SetItem(by, nm, s) : -1;
                keys = s;
                Py_XDECREF(s);
            }
            r = r == 0 && keys != NULL ? PySet_Add(keys, k) : -1;
            Py_DECREF(nm);
            if (r < 0) {
                Py_DECREF(it);
                goto error;
            }
        }
        Py_DECREF(it);
        if (PyErr_Occurred()) {
            goto error;
        }
    }
    *opaque_out = PySet_GET_SIZE(opaque_keys) > 0;
    return by;
error:
    Py_DECREF(by);
    return NULL;
}

/* The set of the names compound statement ci keeps.  A new reference. */
static PyObject *
compound_kept_names(HsJob *job, Py_ssize_t ci)
{
    Walk nw = {0}, ow = {0};
    PyObject *kept = PySet_New(NULL);
    PyObject *nby = NULL, *oby = NULL, *nop = NULL, *oop = NULL;
    if (kept == NULL) {
        return NULL;
    }
    Py_ssize_t oi = compound_old_of(job, ci);
    if (oi < 0) {
        return kept;
    }
    if (compound_parse(job, PyBytes_AS_STRING(job->src.text),
                       &job->src.chunks.items[ci], &nw)
            < 0
        || compound_parse(job, job->src.old_text,
                          &job->src.old_chunks->items[oi], &ow)
               < 0)
    {
        /* not parseable on its own (a stray `await`, say): keep nothing,
         * the statement runs as before */
        if (hs_err_clear_unless_fatal() < 0) {
            goto error;
        }
        goto done;
    }
    int nopaque, oopaque;
    nop = PySet_New(NULL);
    oop = PySet_New(NULL);
    if (nop == NULL || oop == NULL
        || (nby = compound_binders(&nw, &nopaque, nop)) == NULL
        || (oby = compound_binders(&ow, &oopaque, oop)) == NULL)
    {
        goto error;
    }
    if (nopaque || oopaque) {
        /* leaves whose bindings cannot be told must be unedited */
        int same = PyObject_RichCompareBool(nop, oop, Py_EQ);
        if (same < 0) {
            goto error;
        }
        if (!same) {
            goto done;
        }
    }
    PyObject *nm, *keys;
    Py_ssize_t pos = 0;
    while (PyDict_Next(nby, &pos, &nm, &keys)) {
        PyObject *okeys = PyDict_GetItemWithError(oby, nm);
        if (okeys == NULL) {
            if (PyErr_Occurred()) {
                goto error;
            }
            continue;
        }
        int same = PyObject_RichCompareBool(keys, okeys, Py_EQ);
        if (same < 0 || (same && PySet_Add(kept, nm) < 0)) {
            goto error;
        }
    }
done:
    compound_walk_clear(&nw);
    compound_walk_clear(&ow);
    Py_XDECREF(nby);
    Py_XDECREF(oby);
    Py_XDECREF(nop);
    Py_XDECREF(oop);
    return kept;
error:
    Py_CLEAR(kept);
    goto done;
}

int
hs_compound_keeps(HsJob *job, Py_ssize_t ci, PyObject *name)
{
    if (job->plan.mode != HS_MODE_NORMAL || job->src.old_text == NULL
        || job->src.old_chunks == NULL || ci < 0 || ci >= job->src.chunks.len
        || job->plan.state[ci] != HS_ST_ADDED
        || job->src.chunks.items[ci].kind != HS_CHUNK_STMT)
    {
        return 0;
    }
    PyObject *key = PyLong_FromSsize_t(-1 - ci), *kept = NULL;
    if (key == NULL) {
        return -1;
    }
    if (job->plan.chunk_binds == NULL
        && (job->plan.chunk_binds = PyDict_New()) == NULL)
    {
        Py_DECREF(key);
        return -1;
    }
    int r = PyDict_GetItemRef(job->plan.chunk_binds, key, &kept);
    if (r == 0) {
        kept = compound_kept_names(job, ci);
        r = kept && PyDict_SetItem(job->plan.chunk_binds, key, kept) == 0 ? 1
                                                                          : -1;
    }
    Py_DECREF(key);
    if (r < 0) {
        Py_XDECREF(kept);
        return -1;
    }
    r = PySet_Contains(kept, name);
    Py_DECREF(kept);
    return r;
}
