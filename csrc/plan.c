/* plan.c -- PLAN: match the statements of the new source with the old
 * ones (unchanged, moved, changed, added; the rest were removed), with one
 * matcher (plan_match) for module statements and class members, and the
 * two data-policy refinements: unchanged statements that a changed one
 * needs run again (hs_plan_reruns), and a name bound again by a later
 * unchanged statement keeps its live value (hs_plan_bound_again_later).
 * Both rest on what a statement binds: the names its bytecode stores, a
 * star import's resolved to what its module exports at reload time.
 * Also which classes the module defined (hs_plan_is_own_class), which the
 * staging hook, APPLY and the batch order ask.
 *
 * Main thread, GIL held.  Writes only the job's plan arrays, codes, its
 * cache of bound names (job->plan.chunk_binds), and the HsClassPlan
 * records hs_plan_class fills for STAGE.
 */
#include "plan.h"
#include "errors.h"
#include "code.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* PLAN                                                                */


typedef struct {
    uint64_t *keys;
    Py_ssize_t *vals;
    Py_ssize_t mask;
} KeyMap;

static int
keymap_init(KeyMap *km, const HsChunkList *list)
{
    Py_ssize_t size = 16;
    while (size < list->len * 2 + 2) {
        size *= 2;
    }
    km->keys = PyMem_Calloc(size, sizeof(uint64_t));
    km->vals = PyMem_Malloc(size * sizeof(Py_ssize_t));
    km->mask = size - 1;
    if (km->keys == NULL || km->vals == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < size; i++) {
        km->vals[i] = -1;
    }
    for (Py_ssize_t i = 0; i < list->len; i++) {
        uint64_t k = list->items[i].key;
        Py_ssize_t h = (Py_ssize_t)(k & (uint64_t)km->mask);
        while (km->vals[h] >= 0) {
            h = (h + 1) & km->mask;
        }
        km->keys[h] = k;
        km->vals[h] = i;
    }
    return 0;
}

/* The first chunk with key k not matched yet (equal keys are probed in
 * the order they were inserted: the order of the source). */
static Py_ssize_t
keymap_get(const KeyMap *km, uint64_t k, const char *matched)
{
    Py_ssize_t h = (Py_ssize_t)(k & (uint64_t)km->mask);
    while (km->vals[h] >= 0) {
        if (km->keys[h] == k && !matched[km->vals[h]]) {
            return km->vals[h];
        }
        h = (h + 1) & km->mask;
    }
    return -1;
}

static void
keymap_free(KeyMap *km)
{
    PyMem_Free(km->keys);
    PyMem_Free(km->vals);
}

static int
same_bytes(const char *a, Py_ssize_t as, Py_ssize_t ae, const char *b,
           Py_ssize_t bs, Py_ssize_t be)
{
    return ae - as == be - bs && memcmp(a + as, b + bs, ae - as) == 0;
}

static int
plan_alloc(HsJob *job)
{
    Py_ssize_t n = job->src.chunks.len ? job->src.chunks.len : 1;
    Py_ssize_t m = job->src.old_chunks && job->src.old_chunks->len
                       ? job->src.old_chunks->len
                       : 1;
    job->plan.state = PyMem_Calloc(n, 1);
    job->plan.match = PyMem_Malloc(n * sizeof(Py_ssize_t));
    job->plan.deco = PyMem_Calloc(n, sizeof(HsDecorators));
    job->plan.old_matched = PyMem_Calloc(m, 1);
    if (!job->plan.state || !job->plan.match || !job->plan.deco
        || !job->plan.old_matched)
    {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < job->src.chunks.len; i++) {
        job->plan.match[i] = -1;
    }
    return 0;
}

PyObject *
hs_plan_chunk_name(const char *text, const HsChunk *c)
{
    return PyUnicode_DecodeUTF8(text + c->name, c->name_len, "strict");
}

static int
plan_nosnap(HsJob *job)
{
    const char *text = PyBytes_AS_STRING(job->src.text);
    for (Py_ssize_t i = 0; i < job->src.chunks.len; i++) {
        HsChunk *c = &job->src.chunks.items[i];
        job->plan.state[i] = HS_ST_UNCHANGED;
        if (c->name_len == 0) {
            continue;
        }
        PyObject *name = hs_plan_chunk_name(text, c);
        if (name == NULL) {
            return -1;
        }
        int has = PyDict_Contains(job->dict, name);
        Py_DECREF(name);
        if (has < 0) {
            return -1;
        }
        if (!has) {
            job->plan.state[i] = HS_ST_ADDED;
        }
        else if (c->kind == HS_CHUNK_DEF || c->kind == HS_CHUNK_CLASS) {
            job->plan.state[i] = HS_ST_CHANGED;
            job->plan.deco[i] = HS_DECO_KEPT;
        }
    }
    return 0;
}

/* The plain defs (no decorators of their own) whose statement changed, by
 * the hash of their name, ascending: plan_deco_names_changed looks a
 * decorator's name up there instead of scanning every chunk per decorator
 * line (quadratic: 10,000 functions of which 1,000 decorated, half of a
 * one-function reload). */
typedef struct {
    uint64_t hash;
    Py_ssize_t k;
} NameAt;

typedef struct {
    NameAt *at; /* PyMem, or NULL (out of memory): scan every chunk */
    Py_ssize_t len;
} ChangedDefs;

static int
is_changed_plain_def(HsJob *job, Py_ssize_t k)
{
    const HsChunk *d = &job->src.chunks.items[k];
    return d->kind == HS_CHUNK_DEF && d->head == d->start
           && job->plan.state[k] == HS_ST_CHANGED;
}

static int
name_at_cmp(const void *a, const void *b)
{
    uint64_t x = ((const NameAt *)a)->hash, y = ((const NameAt *)b)->hash;
    return x < y ? -1 : x > y;
}

static void
changed_defs_build(HsJob *job, const char *t, ChangedDefs *cd)
{
    cd->len = 0;
    cd->at = PyMem_New(NameAt, job->src.chunks.len ? job->src.chunks.len : 1);
    if (cd->at == NULL) {
        return;
    }
    for (Py_ssize_t k = 0; k < job->src.chunks.len; k++) {
        const HsChunk *d = &job->src.chunks.items[k];
        if (is_changed_plain_def(job, k)) {
            cd->at[cd->len].hash = hs_hash_bytes(t + d->name, d->name_len);
            cd->at[cd->len].k = k;
            cd->len++;
        }
    }
    qsort(cd->at, (size_t)cd->len, sizeof(NameAt), name_at_cmp);
}

/* Is text[a, q) the name of a changed plain def other than c? */
static int
changed_def_named(HsJob *job, const char *t, const HsChunk *c,
                  const ChangedDefs *cd, Py_ssize_t a, Py_ssize_t q)
{
    Py_ssize_t from = 0, to = job->src.chunks.len;
    uint64_t h = 0;
    if (cd->at != NULL) {
        h = hs_hash_bytes(t + a, q - a);
        Py_ssize_t lo = 0, hi = cd->len;
        while (lo < hi) {
            Py_ssize_t mid = lo + (hi - lo) / 2;
            if (cd->at[mid].hash < h) {
                lo = mid + 1;
            }
            else {
                hi = mid;
            }
        }
        from = lo;
        to = cd->len;
    }
    for (Py_ssize_t w = from; w < to; w++) {
        Py_ssize_t k = w;
        if (cd->at != NULL) {
            if (cd->at[w].hash != h) {
                break;
            }
            k = cd->at[w].k;
        }
        const HsChunk *d = &job->src.chunks.items[k];
        if (is_changed_plain_def(job, k) && d != c && d->name_len == q - a
            && memcmp(t + d->name, t + a, (size_t)(q - a)) == 0)
        {
            return 1;
        }
    }
    return 0;
}

/* 1 when a decorator line of `c` (text[start, head)) starts with the name
 * of a plain def of this module (no decorators of its own) whose statement
 * changed in this batch, called or not: `@tag("v1")`, `@deco`.  Only the
 * name right after the `@` counts: `@app.route(...)` or
 * `@process.register(int)` name an object's method, which the data rules
 * and the framework adapters handle; a name inside the arguments does not
 * make the decoration depend on it. */
static int
plan_deco_names_changed(HsJob *job, const char *t, const HsChunk *c,
                        const ChangedDefs *cd)
{
    for (Py_ssize_t p = c->start; p < c->head; p++) {
        if (t[p] != '@'
            || (p > c->start && t[p - 1] != '\n' && t[p - 1] != ' '
                && t[p - 1] != '\t'))
        {
            continue;
        }
        Py_ssize_t a = p + 1;
        while (a < c->head && (t[a] == ' ' || t[a] == '\t')) {
            a++;
        }
        Py_ssize_t q = a;
        while (q < c->head
               && (t[q] == '_' || (t[q] >= 'a' && t[q] <= 'z')
                   || (t[q] >= 'A' && t[q] <= 'Z')
                   || (q > a && t[q] >= '0' && t[q] <= '9')))
        {
            q++;
        }
        Py_ssize_t e = q;
        while (e < c->head && (t[e] == ' ' || t[e] == '\t')) {
            e++;
        }
        if (q == a
            || (e < c->head && t[e] != '(' && t[e] != '\n' && t[e] != '\r'
                && t[e] != '#'))
        {
            continue;
        }
        if (changed_def_named(job, t, c, cd, a, q)) {
            return 1;
        }
    }
    return 0;
}

/* Issue 10 point 3: a def whose decorator expression names a function or
 * class of this module whose definition changed in this batch is decorated
 * again (its decorators are not stripped), even when neither its own text
 * nor its decorator lines changed: the decoration follows the decorator's
 * source.  Run to a fixed point (a re-decorated def may itself be a
 * decorator). */
static void
plan_redecorate(HsJob *job, const char *t)
{
    /* the defs looked for have no decorators: what this marks changed
     * (decorated defs) never joins them */
    ChangedDefs cd;
    changed_defs_build(job, t, &cd);
    int again = 1;
    while (again) {
        again = 0;
        for (Py_ssize_t i = 0; i < job->src.chunks.len; i++) {
            HsChunk *c = &job->src.chunks.items[i];
            if (c->kind != HS_CHUNK_DEF || c->head <= c->start
                || job->plan.match[i] < 0
                || (job->plan.state[i] == HS_ST_CHANGED
                    && job->plan.deco[i] == HS_DECO_RUN)
                || job->plan.state[i] == HS_ST_ADDED)
            {
                continue;
            }
            if (plan_deco_names_changed(job, t, c, &cd)) {
                job->plan.state[i] = HS_ST_CHANGED;
                job->plan.deco[i] = HS_DECO_RUN;
                again = 1;
            }
        }
    }
    PyMem_Free(cd.at);
}

/* The one matcher, for module statements and class members: each new
 * chunk is paired with the first old one of the same key (kind and name,
 * or the hash of a statement with no name) not paired yet, in the order
 * of the source; a pair with the same text is unchanged (same line) or
 * moved, else changed; a new chunk with no pair was added, an old one
 * (old_matched 0) removed.  Through a keymap: linear in the chunks.
 * state, match (len new) and old_matched (len old, zeroed) are the
 * caller's.  0 / -1. */
static int
plan_match(const char *ot, const HsChunkList *old, const char *nt,
           const HsChunkList *new, signed char *state, Py_ssize_t *match,
           char *old_matched)
{
    KeyMap km = {0};
    if (keymap_init(&km, old) < 0) {
        keymap_free(&km);
        return -1;
    }
    for (Py_ssize_t i = 0; i < new->len; i++) {
        const HsChunk *c = &new->items[i];
        Py_ssize_t j = keymap_get(&km, c->key, old_matched);
        match[i] = j;
        if (j < 0) {
            state[i] = HS_ST_ADDED;
            continue;
        }
        const HsChunk *o = &old->items[j];
        old_matched[j] = 1;
        if (o->hash == c->hash
            && same_bytes(ot, o->start, o->end, nt, c->start, c->end))
        {
            state[i] = o->line == c->line ? HS_ST_UNCHANGED : HS_ST_MOVED;
        }
        else {
            state[i] = HS_ST_CHANGED;
        }
    }
    keymap_free(&km);
    return 0;
}

static int
plan_normal(HsJob *job)
{
    const char *nt = PyBytes_AS_STRING(job->src.text);
    const char *ot = job->src.old_text;
    HsChunkList *old = job->src.old_chunks;
    if (plan_match(ot, old, nt, &job->src.chunks, job->plan.state,
                   job->plan.match, job->plan.old_matched)
        < 0)
    {
        return -1;
    }
    for (Py_ssize_t i = 0; i < job->src.chunks.len; i++) {
        if (job->plan.state[i] != HS_ST_CHANGED) {
            continue;
        }
        HsChunk *c = &job->src.chunks.items[i];
        HsChunk *o = &old->items[job->plan.match[i]];
        int same_deco =
            same_bytes(ot, o->start, o->head, nt, c->start, c->head);
        if (c->kind == HS_CHUNK_DEF && o->kind == c->kind && same_deco) {
            /* decorators unchanged: they stay as they are on the live
             * object and are not run again */
            job->plan.deco[i] = HS_DECO_KEPT;
        }
        else if (c->kind == HS_CHUNK_CLASS && o->kind == c->kind) {
            /* class decorators are never re-run on the live class (the
             * report says when they changed: HS206) */
            job->plan.deco[i] =
                same_deco ? HS_DECO_KEPT : HS_DECO_KEPT_CHANGED;
        }
    }
    plan_redecorate(job, nt);
    /* a __future__ import that changed changes how every chunk compiles */
    for (Py_ssize_t i = 0; i < job->src.chunks.len; i++) {
        if (job->src.chunks.items[i].kind == HS_CHUNK_FUTURE
            && job->plan.state[i] != HS_ST_UNCHANGED
            && job->plan.state[i] != HS_ST_MOVED)
        {
            job->plan.mode = HS_MODE_FULL;
        }
    }
    for (Py_ssize_t j = 0; j < old->len; j++) {
        if (!job->plan.old_matched[j] && old->items[j].kind == HS_CHUNK_FUTURE)
        {
            job->plan.mode = HS_MODE_FULL;
        }
    }
    return 0;
}

int
hs_plan_module(HsJob *job)
{
    job->plan.mode =
        job->src.old_chunks == NULL ? HS_MODE_NOSNAP : HS_MODE_NORMAL;
    if (job->src.chunks.unsure
        || (job->src.old_chunks != NULL && job->src.old_chunks->unsure))
    {
        job->plan.mode = HS_MODE_FULL;
    }
    if (plan_alloc(job) < 0) {
        return -1;
    }
    if (job->plan.mode == HS_MODE_NOSNAP) {
        return plan_nosnap(job);
    }
    if (job->plan.mode == HS_MODE_NORMAL) {
        return plan_normal(job);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* what a kept statement binds                                         */

static int
chunk_is_kept(HsJob *job, Py_ssize_t k)
{
    return job->plan.state[k] == HS_ST_UNCHANGED
           || job->plan.state[k] == HS_ST_MOVED;
}

/* The package relative imports of this module are resolved against, as
 * the import system computes it: __package__, else __spec__.parent, else
 * from __name__ (and __path__).  New reference, or NULL (no error) when
 * there is none. */
static PyObject *
module_package(HsJob *job)
{
    /* borrowed: nothing runs while they are used */
    PyObject *pkg = PyDict_GetItemString(job->dict, "__package__");
    PyObject *spec = PyDict_GetItemString(job->dict, "__spec__");
    if (pkg != NULL && PyUnicode_Check(pkg)) {
        return Py_NewRef(pkg);
    }
    pkg = NULL;
    if (spec != NULL && spec != Py_None
        && PyObject_GetOptionalAttrString(spec, "parent", &pkg) < 0)
    {
        return NULL;
    }
    if (pkg != NULL && PyUnicode_Check(pkg)) {
        return pkg;
    }
    Py_CLEAR(pkg);
    if (PyDict_GetItemString(job->dict, "__path__") != NULL) {
        return Py_NewRef(job->name);
    }
    PyObject *parts = PyObject_CallMethod(job->name, "rpartition", "s", ".");
    if (parts == NULL) {
        return NULL;
    }
    pkg = Py_NewRef(PyTuple_GET_ITEM(parts, 0));
    Py_DECREF(parts);
    return pkg;
}

/* The module `from <modname> import *` at `level` imports, as it is in
 * sys.modules now.  New reference, or NULL (no error) when it is not
 * imported or the name does not resolve (the import failed: an optional
 * accelerator inside try/except ImportError). */
static PyObject *
star_source(HsJob *job, PyObject *modname, long level)
{
    PyObject *full = NULL, *mod = NULL;
    if (level <= 0) {
        full = Py_NewRef(modname);
    }
    else {
        /* importlib._bootstrap._resolve_name */
        PyObject *pkg = module_package(job), *bits = NULL;
        if (pkg == NULL) {
            return NULL;
        }
        bits = PyObject_CallMethod(pkg, "rsplit", "sl", ".", level - 1);
        Py_DECREF(pkg);
        if (bits == NULL) {
            return NULL;
        }
        PyObject *base =
            PyList_GET_SIZE(bits) >= level ? PyList_GET_ITEM(bits, 0) : NULL;
        if (base != NULL && PyUnicode_GET_LENGTH(base) > 0) {
            full = PyUnicode_GET_LENGTH(modname) > 0
                       ? PyUnicode_FromFormat("%U.%U", base, modname)
                       : Py_NewRef(base);
        }
        Py_DECREF(bits);
        if (full == NULL) {
            return NULL; /* beyond the top-level package, or an error */
        }
    }
    mod = PyImport_GetModule(full);
    Py_DECREF(full);
    return mod;
}

/* Add to `names` what a star import of `mod` binds: its __all__, else its
 * names that do not start with an underscore.  0 / -1. */
static int
star_exports(PyObject *mod, PyObject *names)
{
    PyObject *all = NULL, *it = NULL, *item;
    if (PyObject_GetOptionalAttrString(mod, "__all__", &all) < 0) {
        return -1;
    }
    int public_only = all == NULL;
    if (all == NULL && (all = PyObject_GetAttrString(mod, "__dict__")) == NULL)
    {
        return -1;
    }
    it = PyObject_GetIter(all);
    Py_DECREF(all);
    if (it == NULL) {
        return -1;
    }
    while ((item = PyIter_Next(it)) != NULL) {
        int r = 0;
        if (PyUnicode_Check(item)
            && !(public_only && PyUnicode_GET_LENGTH(item) > 0
                 && PyUnicode_READ_CHAR(item, 0) == '_'))
        {
            r = PySet_Add(names, item);
        }
        Py_DECREF(item);
        if (r < 0) {
            Py_DECREF(it);
            return -1;
        }
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

int
hs_plan_star_bindings(HsJob *job, PyObject *code, PyObject *into)
{
    PyObject *stars = PyList_New(0), *names = NULL;
    int r = stars ? hs_code_star_imports(code, stars) : -1;
    for (Py_ssize_t i = 0; r == 0 && i < PyList_GET_SIZE(stars); i++) {
        PyObject *src = PyList_GET_ITEM(stars, i);
        PyObject *mod = star_source(job, PyTuple_GET_ITEM(src, 0),
                                    PyLong_AsLong(PyTuple_GET_ITEM(src, 1)));
        if (mod == NULL) {
            r = PyErr_Occurred() ? -1 : 0;
            continue;
        }
        Py_XSETREF(names, PySet_New(NULL));
        r = names ? star_exports(mod, names) : -1;
        PyObject *it = r == 0 ? PyObject_GetIter(names) : NULL, *name;
        while (it != NULL && (name = PyIter_Next(it)) != NULL) {
            PyObject *v = NULL;
            if (PyObject_GetOptionalAttr(mod, name, &v) < 0
                || (v != NULL && PyDict_SetItem(into, name, v) < 0))
            {
                r = -1;
            }
            Py_XDECREF(v);
            Py_DECREF(name);
        }
        Py_XDECREF(it);
        if (r == 0 && PyErr_Occurred()) {
            r = -1;
        }
        Py_DECREF(mod);
    }
    Py_XDECREF(stars);
    Py_XDECREF(names);
    return r;
}

/* The names text[c] binds when it runs (STORE_NAME and DELETE_NAME
 * targets), its star imports resolved to what their module exports now:
 * a star import rebinds only those names.  A new set. */
static PyObject *
binds_of_range(HsJob *job, const char *text, const HsChunk *c)
{
    PyObject *code =
        hs_code_compile_range(job, text, c->start, c->end, c->line, c->start);
    PyObject *names = NULL, *stars = NULL;
    if (code == NULL) {
        return NULL;
    }
    names = PySet_New(NULL);
    int star = names ? hs_code_stored_names(code, names) : -1;
    if (star == 1) {
        stars = PyList_New(0);
        star = stars ? hs_code_star_imports(code, stars) : -1;
        for (Py_ssize_t i = 0; star == 0 && i < PyList_GET_SIZE(stars); i++) {
            PyObject *src = PyList_GET_ITEM(stars, i);
            PyObject *mod =
                star_source(job, PyTuple_GET_ITEM(src, 0),
                            PyLong_AsLong(PyTuple_GET_ITEM(src, 1)));
            if (mod == NULL && PyErr_Occurred()) {
                star = -1;
            }
            else if (mod != NULL) {
                star = star_exports(mod, names);
                Py_DECREF(mod);
            }
        }
    }
    Py_DECREF(code);
    Py_XDECREF(stars);
    if (star < 0) {
        Py_CLEAR(names);
    }
    return names;
}

/* binds_of_range() of kept chunk k, cached in job->plan.chunk_binds.  A new
 * reference. */
static PyObject *
chunk_binds(HsJob *job, Py_ssize_t k)
{
    PyObject *key = PyLong_FromSsize_t(k), *names = NULL;
    if (key == NULL) {
        return NULL;
    }
    if (job->plan.chunk_binds == NULL
        && (job->plan.chunk_binds = PyDict_New()) == NULL)
    {
        Py_DECREF(key);
        return NULL;
    }
    if (PyDict_GetItemRef(job->plan.chunk_binds, key, &names) == 0) {
        names = binds_of_range(job, PyBytes_AS_STRING(job->src.text),
                               &job->src.chunks.items[k]);
        if (names != NULL
            && PyDict_SetItem(job->plan.chunk_binds, key, names) < 0)
        {
            Py_CLEAR(names);
        }
    }
    Py_DECREF(key);
    return names;
}

/* Does chunk c of `text` bind `name` (s, n: its UTF-8)?  A def, class or
 * simple assignment binds its one name (chained "a = b = 1" is read as
 * binding "a" only); other statements bind what their code stores.
 * k >= 0: c is kept chunk k of the new source (cached); -1: c is from the
 * old source.  1 / 0 / -1. */
static int
range_binds(HsJob *job, const char *text, const HsChunk *c, Py_ssize_t k,
            PyObject *name, const char *s, Py_ssize_t n)
{
    if (c->name_len == n && memcmp(text + c->name, s, n) == 0) {
        return 1;
    }
    if (c->kind == HS_CHUNK_DEF || c->kind == HS_CHUNK_CLASS
        || c->kind == HS_CHUNK_ASSIGN)
    {
        return 0;
    }
    /* a name stored by a statement is in its text, unless a star import
     * binds it */
    if (!hs_plan_contains_bytes(text + c->start, c->end - c->start, s, n)
        && !hs_plan_contains_bytes(text + c->start, c->end - c->start, "*", 1))
    {
        return 0;
    }
    PyObject *names =
        k >= 0 ? chunk_binds(job, k) : binds_of_range(job, text, c);
    if (names == NULL) {
        return -1;
    }
    int r = PySet_Contains(names, name);
    Py_DECREF(names);
    return r;
}

int
hs_plan_kept_chunk_binds(HsJob *job, Py_ssize_t k, PyObject *name)
{
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(name, &n);
    if (s == NULL) {
        return -1;
    }
    return range_binds(job, PyBytes_AS_STRING(job->src.text),
                       &job->src.chunks.items[k], k, name, s, n);
}

/* ------------------------------------------------------------------ */
/* statements run again for the sake of changed ones                   */

/* Does kept chunk k delete `name`?  1 / 0 / -1. */
static int
chunk_deletes(HsJob *job, Py_ssize_t k, PyObject *name, const char *s,
              Py_ssize_t n)
{
    const char *text = PyBytes_AS_STRING(job->src.text);
    HsChunk *c = &job->src.chunks.items[k];
    if (c->kind == HS_CHUNK_DEF || c->kind == HS_CHUNK_CLASS
        || c->kind == HS_CHUNK_ASSIGN
        || !hs_plan_contains_bytes(text + c->start, c->end - c->start, s, n))
    {
        return 0;
    }
    PyObject *code =
        hs_code_compile_range(job, text, c->start, c->end, c->line, c->start);
    if (code == NULL) {
        return -1;
    }
    PyObject *names = PySet_New(NULL);
    int r = names ? hs_code_deleted_names(code, names) : -1;
    if (r == 0) {
        r = PySet_Contains(names, name);
    }
    Py_XDECREF(names);
    Py_DECREF(code);
    return r;
}

static int
mark_rerun(HsJob *job, Py_ssize_t k, PyObject *bound)
{
    const char *text = PyBytes_AS_STRING(job->src.text);
    HsChunk *c = &job->src.chunks.items[k];
    PyObject *code =
        hs_code_compile_range(job, text, c->start, c->end, c->line, c->start);
    if (code == NULL) {
        return -1;
    }
    job->plan.state[k] = HS_ST_RERUN;
    if (bound != NULL && hs_code_stored_names(code, bound) < 0) {
        Py_DECREF(code);
        return -1;
    }
    return PyList_SetItem(job->plan.codes, k, code); /* steals */
}

/* Does chunk d bind `name`: a kept one by its text and code, a staged one
 * by its code?  1 / 0 / -1. */
static int
chunk_rebinds(HsJob *job, Py_ssize_t d, PyObject *name, const char *s,
              Py_ssize_t n)
{
    if (chunk_is_kept(job, d)) {
        return range_binds(job, PyBytes_AS_STRING(job->src.text),
                           &job->src.chunks.items[d], d, name, s, n);
    }
    PyObject *code = PyList_GET_ITEM(job->plan.codes, d);
    if (code == Py_None) {
        return 0;
    }
    PyObject *names = PySet_New(NULL);
    int r = names ? hs_code_stored_names(code, names) : -1;
    if (r >= 0) {
        r = PySet_Contains(names, name);
    }
    Py_XDECREF(names);
    return r;
}

/* Is chunk d a `del` statement?  By its first word. */
static int
is_del(HsJob *job, Py_ssize_t d)
{
    const char *text = PyBytes_AS_STRING(job->src.text);
    HsChunk *c = &job->src.chunks.items[d];
    return c->kind == HS_CHUNK_STMT && c->end - c->start > 4
           && memcmp(text + c->start, "del", 3) == 0
           && (text[c->start + 3] == ' ' || text[c->start + 3] == '\t');
}

/* Is kept chunk d a `del` statement whose text has `s`?  Cheap. */
static int
is_del_of(HsJob *job, Py_ssize_t d, const char *s, Py_ssize_t n)
{
    const char *text = PyBytes_AS_STRING(job->src.text);
    HsChunk *c = &job->src.chunks.items[d];
    return chunk_is_kept(job, d) && is_del(job, d)
           && hs_plan_contains_bytes(text + c->start, c->end - c->start, s, n);
}

/* The indices of the `del` statements of the new source, ascending: with
 * every statement changed, looking at each later chunk for each name a
 * staged statement binds would be quadratic in the chunks. */
typedef struct {
    Py_ssize_t *at; /* PyMem */
    Py_ssize_t len;
} DelIndex;

static int
del_index_build(HsJob *job, DelIndex *dels)
{
    dels->len = 0;
    dels->at =
        PyMem_New(Py_ssize_t, job->src.chunks.len ? job->src.chunks.len : 1);
    if (dels->at == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t d = 0; d < job->src.chunks.len; d++) {
        if (is_del(job, d)) {
            dels->at[dels->len++] = d;
        }
    }
    return 0;
}

/* Chunk k (run again or staged) binds `name`: the first kept statement
 * after it that deletes the name, unless another statement binds the name
 * in between (that `del` is the other one's), runs again.  Only `del`
 * statements are looked for first, so the common case costs a prefix test
 * per chunk.  0 / -1. */
static int
rerun_deletes_after(HsJob *job, const DelIndex *dels, Py_ssize_t k,
                    PyObject *name, const char *s, Py_ssize_t n)
{
    for (Py_ssize_t w = 0; w < dels->len; w++) {
        Py_ssize_t d = dels->at[w];
        if (d <= k || !is_del_of(job, d, s, n)) {
            continue;
        }
        int del = chunk_deletes(job, d, name, s, n);
        if (del <= 0) {
            if (del < 0) {
                return -1;
            }
            continue;
        }
        for (Py_ssize_t e = k + 1; e < d; e++) {
            int b = chunk_rebinds(job, e, name, s, n);
            if (b != 0) {
                return b < 0 ? -1 : 0;
            }
        }
        return mark_rerun(job, d, NULL);
    }
    return 0;
}

/* deletes_of_stored: rerun_deletes_after() for every name in `stored`,
 * the names staged chunk i binds.  0 / -1. */
static int
deletes_of_stored(HsJob *job, const DelIndex *dels, Py_ssize_t i,
                  PyObject *stored)
{
    PyObject *it = PyObject_GetIter(stored), *name;
    int r = it ? 0 : -1;
    while (r == 0 && (name = PyIter_Next(it)) != NULL) {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(name, &n);
        r = s ? rerun_deletes_after(job, dels, i, name, s, n) : -1;
        Py_DECREF(name);
    }
    Py_XDECREF(it);
    return r < 0 || PyErr_Occurred() ? -1 : 0;
}

/* The data policy does not run unchanged statements again, but a changed
 * statement may need a name that only an unchanged one binds and a later
 * one deletes ("import re" ... "del re"): run those again too, so the
 * changed statement sees what a fresh import would.  The binding statement
 * is the nearest one before that really binds the name: a star import in
 * between binds only what its module exports. */
int
hs_plan_reruns(HsJob *job)
{
    if (job->plan.mode == HS_MODE_FULL) {
        return 0;
    }
    PyObject *builtins = PyEval_GetBuiltins(); /* borrowed */
    PyObject *bound = PySet_New(NULL), *loaded = NULL;
    DelIndex dels = {NULL, 0};
    int result = -1;
    if (bound == NULL) {
        return -1;
    }
    if (del_index_build(job, &dels) < 0) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < job->src.chunks.len; i++) {
        PyObject *code = PyList_GET_ITEM(job->plan.codes, i);
        if (code == Py_None || job->plan.state[i] == HS_ST_RERUN) {
            continue;
        }
        Py_XSETREF(loaded, PySet_New(NULL));
        if (loaded == NULL || hs_code_loaded_names(code, loaded) < 0) {
            goto done;
        }
        PyObject *it = PyObject_GetIter(loaded), *name;
        while (it != NULL && (name = PyIter_Next(it)) != NULL) {
            int known = PySet_Contains(bound, name);
            if (known == 0) {
                known = PyDict_Contains(job->dict, name);
            }
            if (known == 0) {
                known = PyDict_Contains(builtins, name);
            }
            Py_ssize_t n;
            const char *s =
                known == 0 ? PyUnicode_AsUTF8AndSize(name, &n) : NULL;
            for (Py_ssize_t k = i - 1; s != NULL && k >= 0; k--) {
                if (!chunk_is_kept(job, k)) {
                    continue;
                }
                int t = range_binds(job, PyBytes_AS_STRING(job->src.text),
                                    &job->src.chunks.items[k], k, name, s, n);
                if (t == 1) {
                    /* the nearest statement deletes it (`del attr` after a
                     * loop): a fresh import has no such name here either;
                     * the changed statement binds it itself or fails as a
                     * fresh import would */
                    int del = chunk_deletes(job, k, name, s, n);
                    if (del != 0) {
                        known = del < 0 ? -1 : known;
                        break;
                    }
                }
                if (t < 0 || (t == 1 && mark_rerun(job, k, bound) < 0)) {
                    known = -1;
                    break;
                }
                if (t == 0) {
                    continue;
                }
                /* and the statement after it that deletes the name */
                if (rerun_deletes_after(job, &dels, k, name, s, n) < 0) {
                    known = -1;
                }
                break;
            }
            Py_DECREF(name);
            if (known < 0 || (s == NULL && PyErr_Occurred())) {
                Py_DECREF(it);
                goto done;
            }
        }
        Py_XDECREF(it);
        if (PyErr_Occurred()) {
            goto done;
        }
        /* a name this statement binds that an unchanged `del` after it
         * deletes (the `del` of a loop variable): that `del` runs again */
        Py_XSETREF(loaded, PySet_New(NULL));
        if (loaded == NULL || hs_code_stored_names(code, loaded) < 0
            || deletes_of_stored(job, &dels, i, loaded) < 0
            || hs_code_stored_names(code, bound) < 0)
        {
            goto done;
        }
    }
    result = 0;
done:
    Py_DECREF(bound);
    Py_XDECREF(loaded);
    PyMem_Free(dels.at);
    return result;
}

/* Is `name`, bound by staged chunk ci, bound again by a later statement
 * that did not change?  Then the live value is already the one a fresh
 * import ends with.  1 / 0 / -1. */

void
hs_later_map_clear(HsLaterMap *lm)
{
    Py_CLEAR(lm->last_named);
    PyMem_Free(lm->unnamed);
    lm->unnamed = NULL;
    lm->nunnamed = 0;
}

int
hs_later_map_build(HsJob *job, HsLaterMap *lm)
{
    const char *text = PyBytes_AS_STRING(job->src.text);
    lm->last_named = PyDict_New();
    lm->unnamed = PyMem_Calloc(job->src.chunks.len ? job->src.chunks.len : 1,
                               sizeof(Py_ssize_t));
    if (lm->last_named == NULL || lm->unnamed == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t k = 0; k < job->src.chunks.len; k++) {
        if (!chunk_is_kept(job, k)) {
            continue;
        }
        HsChunk *c = &job->src.chunks.items[k];
        if (c->name_len == 0) {
            lm->unnamed[lm->nunnamed++] = k;
            continue;
        }
        PyObject *n = hs_plan_chunk_name(text, c);
        PyObject *v = n ? PyLong_FromSsize_t(k) : NULL;
        int r = v ? PyDict_SetItem(lm->last_named, n, v) : -1;
        Py_XDECREF(n);
        Py_XDECREF(v);
        if (r < 0) {
            return -1;
        }
    }
    return 0;
}

int
hs_plan_bound_again_later(HsJob *job, PyObject *name, Py_ssize_t ci,
                          HsLaterMap *lm)
{
    if (job->plan.mode == HS_MODE_FULL || ci < 0) {
        return 0;
    }
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(name, &n);
    if (s == NULL) {
        return -1;
    }
    const char *text = PyBytes_AS_STRING(job->src.text);
    Py_ssize_t count = job->src.chunks.len, *which = NULL;
    if (lm != NULL && lm->last_named != NULL) {
        PyObject *last = PyDict_GetItemWithError(lm->last_named, name);
        if (last == NULL && PyErr_Occurred()) {
            return -1;
        }
        if (last != NULL && PyLong_AsSsize_t(last) > ci) {
            return 1;
        }
        which = lm->unnamed;
        count = lm->nunnamed;
    }
    for (Py_ssize_t w = 0; w < count; w++) {
        Py_ssize_t k = which ? which[w] : w;
        if (k <= ci || !chunk_is_kept(job, k)) {
            continue;
        }
        int t =
            range_binds(job, text, &job->src.chunks.items[k], k, name, s, n);
        if (t != 0) {
            return t;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* which classes this module defined                                    */

/* Is there a function defined in the body of class `v` among its own
 * members (methods, the functions in staticmethod, classmethod and
 * property objects)?  1 one of them has this module's globals, 0 none
 * tells, -1 one was compiled from another source file (the class was
 * defined there), -2 error. */
static int
class_functions_tell(HsJob *job, PyObject *v)
{
    PyObject *d = PyObject_GenericGetDict(v, NULL), *qual = NULL;
    PyObject *items = NULL;
    int verdict = 0;
    if (d == NULL || (items = PyMapping_Values(d)) == NULL
        || (qual = PyObject_GetAttrString(v, "__qualname__")) == NULL)
    {
        verdict = -2;
        goto done;
    }
    if (!PyUnicode_Check(qual)) {
        goto done; /* a metaclass's own idea of a qualname: cannot tell */
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *m = PyList_GET_ITEM(items, i);
        PyObject *fs[3] = {NULL, NULL, NULL};
        if (PyFunction_Check(m)) {
            fs[0] = Py_NewRef(m);
        }
        else if (PyObject_TypeCheck(m, &PyClassMethod_Type)
                 || PyObject_TypeCheck(m, &PyStaticMethod_Type))
        {
            fs[0] = PyObject_GetAttrString(m, "__func__");
        }
        else if (PyObject_TypeCheck(m, &PyProperty_Type)) {
            fs[0] = PyObject_GetAttrString(m, "fget");
            fs[1] = fs[0] ? PyObject_GetAttrString(m, "fset") : NULL;
            fs[2] = fs[1] ? PyObject_GetAttrString(m, "fdel") : NULL;
        }
        /* a subclass's accessor that fails tells nothing */
        if (PyErr_Occurred() && hs_err_clear_unless_fatal() < 0) {
            verdict = -2;
        }
        for (int j = 0; verdict != -2 && j < 3; j++) {
            PyObject *f = fs[j];
            if (f == NULL || !PyFunction_Check(f) || verdict == 1) {
                continue;
            }
            PyObject *g = PyFunction_GET_GLOBALS(f);
            if (g == job->dict
                || (job->staged.scratch && g == job->staged.scratch))
            {
                verdict = 1;
                continue;
            }
            /* defined in this class body (its qualname says so), in a
             * real file that is not this module's: code generated from a
             * string (dataclass, namedtuple, attrs methods) does not tell */
            PyObject *fq = PyObject_GetAttrString(f, "__qualname__");
            PyObject *file =
                PyObject_GetAttrString(PyFunction_GET_CODE(f), "co_filename");
            if (fq != NULL && file != NULL && PyUnicode_Check(fq)
                && PyUnicode_Check(file)
                && PyUnicode_Tailmatch(fq, qual, 0, PyUnicode_GET_LENGTH(qual),
                                       -1)
                       == 1
                && PyUnicode_GET_LENGTH(fq) > PyUnicode_GET_LENGTH(qual)
                && PyUnicode_READ_CHAR(fq, PyUnicode_GET_LENGTH(qual)) == '.'
                && PyUnicode_GET_LENGTH(file) > 0
                && PyUnicode_READ_CHAR(file, 0) != '<' && job->filename != NULL
                && PyUnicode_Check(job->filename)
                && PyUnicode_Compare(file, job->filename) != 0)
            {
                verdict = -1;
            }
            if (PyErr_Occurred() && hs_err_clear_unless_fatal() < 0) {
                verdict = -2; /* else a function's names that fail: no tell */
            }
            Py_XDECREF(fq);
            Py_XDECREF(file);
        }
        for (int j = 0; j < 3; j++) {
            Py_XDECREF(fs[j]);
        }
        if (verdict == 1 || verdict == -2) {
            break;
        }
    }
done:
    Py_XDECREF(d);
    Py_XDECREF(items);
    Py_XDECREF(qual);
    return verdict;
}

/* Does a statement after the last top-level `class <name>` of the source
 * the live module ran (the snapshot, else the new text) bind `name` again?
 * 1 also when there is no such class statement.  1 / 0 / -1. */
static int
rebound_after_class_statement(HsJob *job, PyObject *name)
{
    const char *text = job->src.old_chunks ? job->src.old_text
                                           : PyBytes_AS_STRING(job->src.text);
    const HsChunkList *list =
        job->src.old_chunks ? job->src.old_chunks : &job->src.chunks;
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(name, &n);
    if (s == NULL) {
        return -1;
    }
    Py_ssize_t at = -1;
    for (Py_ssize_t j = 0; j < list->len; j++) {
        const HsChunk *c = &list->items[j];
        if (c->kind == HS_CHUNK_CLASS && c->name_len == n
            && memcmp(text + c->name, s, n) == 0)
        {
            at = j;
        }
    }
    if (at < 0) {
        return 1;
    }
    for (Py_ssize_t j = at + 1; j < list->len; j++) {
        int r = range_binds(job, text, &list->items[j], -1, name, s, n);
        if (r != 0) {
            if (r < 0) {
                /* an old statement that does not compile alone binds
                 * nothing we can tell */
                if (hs_err_clear_unless_fatal() < 0) {
                    return -1;
                }
                continue;
            }
            return r;
        }
    }
    return 0;
}

int
hs_plan_is_own_class(HsJob *job, PyObject *v, PyObject *qualname)
{
    if (!PyType_Check(v)) {
        return 0;
    }
    /* a class statement makes a mutable heap type: static types and
     * immutable ones come from C, whatever __module__ they claim
     * (collections.OrderedDict) */
    unsigned long flags = PyType_GetFlags((PyTypeObject *)v);
    if (!(flags & Py_TPFLAGS_HEAPTYPE) || (flags & HS_TPFLAGS_IMMUTABLETYPE)) {
        return 0;
    }
    int tell = class_functions_tell(job, v);
    if (tell == -2) {
        return -1;
    }
    if (tell != 0) {
        return tell == 1;
    }
    PyObject *mod = NULL, *q = NULL;
    if (PyObject_GetOptionalAttrString(v, "__module__", &mod) < 0) {
        return -1;
    }
    int r =
        mod && PyUnicode_Check(mod) && PyUnicode_Compare(mod, job->name) == 0;
    Py_XDECREF(mod);
    if (r || qualname == NULL) {
        return r;
    }
    /* __module__ rewritten (the re-export idiom, C.__module__ = "pkg") and
     * no function to tell: the class this module's class statement made
     * has the qualified name that statement gives, and no later statement
     * bound another object to the name */
    if (PyObject_GetOptionalAttrString(v, "__qualname__", &q) < 0) {
        return -1;
    }
    r = q != NULL && PyUnicode_Check(q) && PyUnicode_Compare(q, qualname) == 0;
    Py_XDECREF(q);
    if (r
        && PyUnicode_FindChar(qualname, '.', 0, PyUnicode_GET_LENGTH(qualname),
                              1)
               < 0)
    {
        int again = rebound_after_class_statement(job, qualname);
        r = again < 0 ? -1 : !again;
    }
    return r;
}

int
hs_plan_contains_bytes(const char *hay, Py_ssize_t n, const char *needle,
                       Py_ssize_t m)
{
    if (m == 0 || m > n) {
        return 0;
    }
    for (Py_ssize_t i = 0; i + m <= n; i++) {
        if (hay[i] == needle[0] && memcmp(hay + i, needle, m) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* class statements: where their text is, and their header verdict     */

static void
class_ranges_unknown(HsClassRanges *r)
{
    r->old_start = r->old_head = r->old_body = r->old_end = -1;
    r->new_start = r->new_head = r->new_body = r->new_end = -1;
    r->old_body_line = r->new_body_line = 0;
    r->new_line = 0;
}

static void
class_ranges_new(const char *text, const HsChunk *c, HsClassRanges *out)
{
    out->new_start = c->start;
    out->new_head = c->head;
    out->new_body = c->body;
    out->new_end = c->end;
    out->new_line = c->head_line;
    out->new_body_line =
        hs_source_line_at(text, c->head, c->head_line, c->body);
}

static void
class_ranges_old(const char *text, const HsChunk *o, HsClassRanges *out)
{
    out->old_start = o->start;
    out->old_head = o->head;
    out->old_body = o->body;
    out->old_end = o->end;
    out->old_body_line =
        hs_source_line_at(text, o->head, o->head_line, o->body);
}

/* The ranges of the class `name` of chunk `chunk` (depth 0) or nested in
 * the class `parent`: found among the parent's member statements. */
static void
class_ranges(const HsJob *job, Py_ssize_t chunk, const HsClassPlan *parent,
             PyObject *name, HsClassRanges *out)
{
    const char *text = PyBytes_AS_STRING(job->src.text);
    class_ranges_unknown(out);
    if (parent == NULL) {
        if (chunk < 0) {
            return;
        }
        const HsChunk *c = &job->src.chunks.items[chunk];
        if (c->kind != HS_CHUNK_CLASS || !hs_chunk_name_eq(text, c, name)) {
            return;
        }
        class_ranges_new(text, c, out);
        Py_ssize_t j = job->plan.match ? job->plan.match[chunk] : -1;
        if (j >= 0 && job->src.old_chunks != NULL) {
            class_ranges_old(job->src.old_text, &job->src.old_chunks->items[j],
                             out);
        }
        return;
    }
    /* a nested class: the parent's members were scanned in the new body
     * when it has one, and in the old body too when it has one */
    const HsMemberPlan *pm = &parent->members;
    const HsChunk *c = hs_chunks_find(text, &pm->nm, HS_CHUNK_CLASS, name);
    if (c == NULL) {
        return;
    }
    class_ranges_new(text, c, out);
    if (parent->ranges.old_body >= 0) {
        const HsChunk *o =
            hs_chunks_find(job->src.old_text, &pm->om, HS_CHUNK_CLASS, name);
        if (o != NULL) {
            class_ranges_old(job->src.old_text, o, out);
        }
    }
}

/* The member statements of the class body whose ranges are `rg`, scanned
 * in the new body and, when there is one, the old; matched when neither
 * scan was unsure.  0 / -1. */
static int
plan_members(const HsJob *job, const HsClassRanges *rg, HsMemberPlan *mp)
{
    const char *nt = PyBytes_AS_STRING(job->src.text);
    const char *ot = job->src.old_text;
    HsChunkList *nm = &mp->nm, *om = &mp->om;
    if (rg->new_body < 0) {
        return 0;
    }
    if (hs_source_scan_members(nt, rg->new_body, rg->new_end,
                               rg->new_body_line, nm)
        < 0)
    {
        return -1;
    }
    if (rg->old_body < 0 || ot == NULL) {
        return 0;
    }
    if (hs_source_scan_members(ot, rg->old_body, rg->old_end,
                               rg->old_body_line, om)
        < 0)
    {
        return -1;
    }
    if (nm->unsure || om->unsure) {
        return 0;
    }
    mp->old_matched = PyMem_Calloc(om->len ? om->len : 1, 1);
    mp->state = PyMem_Calloc(nm->len ? nm->len : 1, 1);
    mp->match = PyMem_Calloc(nm->len ? nm->len : 1, sizeof(Py_ssize_t));
    if (mp->old_matched == NULL || mp->state == NULL || mp->match == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (plan_match(ot, om, nt, nm, mp->state, mp->match, mp->old_matched) < 0)
    {
        return -1;
    }
    mp->matched = 1;
    return 0;
}

void
hs_plan_class_clear(HsClassPlan *cp)
{
    HsMemberPlan *mp = &cp->members;
    hs_chunks_clear(&mp->nm);
    hs_chunks_clear(&mp->om);
    PyMem_Free(mp->state);
    PyMem_Free(mp->match);
    PyMem_Free(mp->old_matched);
    memset(mp, 0, sizeof(*mp));
}

int
hs_plan_class(const HsJob *job, Py_ssize_t chunk, const HsClassPlan *parent,
              PyObject *name, HsClassPlan *out)
{
    HsClassRanges *rg = &out->ranges;
    memset(out, 0, sizeof(*out));
    out->header = HS_HEADER_TEXT_UNKNOWN;
    out->old_header_keywords = 0;
    class_ranges(job, chunk, parent, name, rg);
    if (plan_members(job, rg, &out->members) < 0) {
        return -1;
    }
    if (rg->old_head < 0 || job->src.old_text == NULL) {
        return 0;
    }
    /* the old head is found only where the new one was */
    const char *nt = PyBytes_AS_STRING(job->src.text);
    Py_ssize_t on = rg->old_body - rg->old_head;
    Py_ssize_t nn = rg->new_body - rg->new_head;
    out->header = on != nn
                          || memcmp(job->src.old_text + rg->old_head,
                                    nt + rg->new_head, on)
                      ? HS_HEADER_TEXT_CHANGED
                      : HS_HEADER_TEXT_SAME;
    out->old_header_keywords =
        memchr(job->src.old_text + rg->old_head, '=', (size_t)on) != NULL;
    return 0;
}

/* The same header text makes bases that only look different (a typing
 * construct's __mro_entries__, TypedDict's dict base) the same; a changed
 * header with the same bases and metaclass changed the class keywords; a
 * typing metaclass's shadow class whose bases are the class's makes new
 * bases the same. */
HsHeaderVerdict
hs_plan_header_verdict(const HsClassPlan *cp, const HsHeaderFacts *f)
{
    if (cp->header == HS_HEADER_TEXT_SAME) {
        return HS_HEADER_SAME;
    }
    int changed = cp->header == HS_HEADER_TEXT_CHANGED;
    HsHeaderVerdict v = HS_HEADER_SAME;
    if (!f->bases_equal) {
        v = HS_HEADER_BASES;
    }
    if (f->metaclass_changed) {
        v = HS_HEADER_METACLASS;
    }
    if (v == HS_HEADER_SAME && changed
        && (f->has_keywords || cp->old_header_keywords))
    {
        v = HS_HEADER_KEYWORDS;
    }
    if (v == HS_HEADER_BASES && f->shadow_bases_equal) {
        v = changed ? HS_HEADER_KEYWORDS : HS_HEADER_SAME;
    }
    return v;
}
