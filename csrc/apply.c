/* apply.c -- APPLY: turn one module's staged namespace into writes on the
 * live objects, under the batch's undo log: staged functions moved onto the
 * module dict, classes updated (classes.c), old functions patched in place
 * (funcs.c), data bound per policy, moved definitions given their new line
 * numbers, removed names deleted.
 *
 * Main thread, GIL held.
 */
#include "apply.h"
#include "annotate.h"
#include "compound.h"
#include "classes.h"
#include "funcs.h"
#include "errors.h"
#include "heap.h"
#include "internals.h"
#include "live.h"
#include "plan.h"
#include "redeco.h"
#include "report.h"
#include "stage.h"

#include <string.h>

/* ------------------------------------------------------------------ */
/* APPLY helpers                                                       */

static const char *
chunk_kind_name(HsChunkKind k)
{
    switch (k) {
        case HS_CHUNK_DEF:
            return "function";
        case HS_CHUNK_CLASS:
            return "class";
        case HS_CHUNK_IMPORT:
        case HS_CHUNK_FUTURE:
            return "import";
        case HS_CHUNK_ASSIGN:
            return "data";
        default:
            return "statement";
    }
}

/* Functions created while staging got the scratch dict as globals; move
 * them to the module dict.  They are all young: the collector was off
 * while staging, so they are in generation 0, unless staged code
 * collected explicitly, in which case every tracked object is looked
 * at.  A walk of its own (heap.c), not the batch's: it must run before
 * APPLY, and the young generation is small. */
int
hs_apply_rebase_functions(HsJob *job, int full_walk)
{
    PyObject *objs = hs_heap_objects(!full_walk);
    if (objs == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(objs); i++) {
        PyObject *o = PyList_GET_ITEM(objs, i);
        if (PyFunction_Check(o)
            && PyFunction_GET_GLOBALS(o) == job->staged.scratch)
        {
            hs_function_rebase_globals(o, job->dict);
        }
    }
    /* what staging made, for live.c (not known after a collection) */
    int r = full_walk ? 0 : hs_live_young(job, objs);
    Py_DECREF(objs);
    return r;
}

/* Is `name` listed in the module's __hotswap_keep__?  1 / 0 / -1. */
static int
in_keep_list(HsJob *job, PyObject *name)
{
    PyObject *keep = NULL; /* strong: its __contains__ may rebind it */
    if (PyDict_GetItemStringRef(job->staged.scratch, "__hotswap_keep__", &keep)
            < 0
        || (keep == NULL
            && PyDict_GetItemStringRef(job->dict, "__hotswap_keep__", &keep)
                   < 0))
    {
        return -1;
    }
    if (keep == NULL) {
        return 0;
    }
    int r = PySequence_Contains(keep, name);
    Py_DECREF(keep);
    if (r < 0) {
        /* not a container: treat as not kept */
        return hs_err_clear_unless_fatal();
    }
    return r;
}

/* The policy's verdict for a data name: 1 rebind, 0 keep, -1 error. */
static int
ask_policy(HsJob *job, PyObject *name, PyObject *old, PyObject *new)
{
    /* strong: the policy may rebind the module's __hotswap_policy__ */
    PyObject *policy = NULL;
    if (job->policy != NULL && job->policy != Py_None) {
        policy = Py_NewRef(job->policy);
    }
    else if (PyDict_GetItemStringRef(job->staged.scratch, "__hotswap_policy__",
                                     &policy)
             < 0)
    {
        return -1;
    }
    if (policy == NULL || policy == Py_None || !PyCallable_Check(policy)) {
        Py_XDECREF(policy);
        return 1;
    }
    PyObject *r =
        PyObject_CallFunctionObjArgs(policy, job->name, name, old, new, NULL);
    Py_DECREF(policy);
    if (r == NULL) {
        return -1;
    }
    int v = PyObject_IsTrue(r);
    Py_DECREF(r);
    return v;
}

typedef struct {
    HsJob *job;
    HsTxn *txn;
    PyObject *nested;
    PyObject *chunk_of; /* dict: name -> index of the staged chunk */
} Apply;

static int
set_name(Apply *ap, PyObject *name, PyObject *value)
{
    return hs_txn_dict_set(ap->txn, ap->job->dict, name, value);
}

/* The code objects nested in `code`, depth first, in the order of the
 * source (the compiler keeps them in co_consts in that order).  Appends
 * to `out`.  0 / -1. */
static int
nested_in_order(PyObject *code, PyObject *out)
{
    PyObject *consts = PyObject_GetAttrString(code, "co_consts");
    if (consts == NULL) {
        return -1;
    }
    int r = 0;
    for (Py_ssize_t i = 0; r == 0 && i < PyTuple_GET_SIZE(consts); i++) {
        PyObject *c = PyTuple_GET_ITEM(consts, i);
        if (PyCode_Check(c)) {
            r = PyList_Append(out, c) < 0 ? -1 : nested_in_order(c, out);
        }
    }
    Py_DECREF(consts);
    return r;
}

/* The place of function f's code among `codes` (nested_in_order of the
 * statement), or -1; `used` marks the places taken. */
static Py_ssize_t
place_of(PyObject *f, PyObject *codes, char *used)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(codes); i++) {
        if (used[i]) {
            continue;
        }
        int eq = hs_code_equal(PyFunction_GET_CODE(f),
                               PyList_GET_ITEM(codes, i), 1);
        if (eq < 0) {
            return -2;
        }
        if (eq) {
            used[i] = 1;
            return i;
        }
    }
    return -1;
}

/* A container an edited statement built (`HANDLERS = {"a": lambda: 1,
 * "b": lambda: 2}`, a list or tuple of callbacks): it is data, rebound by
 * the data rules like any value, never kept in place of the new one.  The
 * functions the statement made in it (lambdas, as opposed to functions it
 * only names) are paired with the new ones by their place in the
 * statement's source (the k-th lambda of the old text with the k-th of
 * the new), whatever the container's order: the old ones, which other
 * code may hold, are patched in place and stand for the new ones in the
 * new container (live.c), so a held old lambda runs what the lambda at
 * its place runs now.  One that cannot take the new code (HS101/HS104)
 * keeps its own, and the new container holds the new function.  0 / -1. */
static int
pair_made_in_container(Apply *ap, PyObject *name, PyObject *old, PyObject *new,
                       HsChunk *c, HsChunk *o)
{
    HsJob *job = ap->job;
    HsHeldQuery qo = {job->dict, NULL,         job->filename,
                      o->line,   o->last_line, 0};
    HsHeldQuery qn = {job->dict, NULL,         job->filename,
                      c->line,   c->last_line, 0};
    PyObject *fos = NULL, *fns = NULL, *ocodes = NULL, *ncodes = NULL;
    PyObject *ocode = NULL;
    char *oused = NULL, *nused = NULL;
    Py_ssize_t *nplace = NULL;
    int result = -1;
    fos = hs_func_held(old, &qo);
    fns = fos ? hs_func_held(new, &qn) : NULL;
    if (fns == NULL) {
        goto done;
    }
    if (PyList_GET_SIZE(fos) == 0 || PyList_GET_SIZE(fns) == 0) {
        result = 0;
        goto done;
    }
    PyObject *ncode =
        PyList_GET_ITEM(job->plan.codes, c - job->src.chunks.items);
    if (!PyCode_Check(ncode)) {
        result = 0;
        goto done;
    }
    ocode = hs_code_compile_range(job, job->src.old_text, o->start, o->end,
                                  o->line, o->start);
    if (ocode == NULL) {
        /* the old text compiled once; alone it may not: pair nothing */
        result = hs_err_clear_unless_fatal();
        goto done;
    }
    ocodes = PyList_New(0);
    ncodes = PyList_New(0);
    if (ocodes == NULL || ncodes == NULL || nested_in_order(ocode, ocodes) < 0
        || nested_in_order(ncode, ncodes) < 0)
    {
        goto done;
    }
    oused = PyMem_Calloc(PyList_GET_SIZE(ocodes) + 1, 1);
    nused = PyMem_Calloc(PyList_GET_SIZE(ncodes) + 1, 1);
    nplace = PyMem_Calloc(PyList_GET_SIZE(fns) + 1, sizeof(Py_ssize_t));
    if (oused == NULL || nused == NULL || nplace == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t j = 0; j < PyList_GET_SIZE(fns); j++) {
        nplace[j] = place_of(PyList_GET_ITEM(fns, j), ncodes, nused);
        if (nplace[j] == -2) {
            goto done;
        }
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(fos); i++) {
        PyObject *fo = PyList_GET_ITEM(fos, i);
        Py_ssize_t at = place_of(fo, ocodes, oused);
        if (at == -2) {
            goto done;
        }
        PyObject *fn = NULL;
        for (Py_ssize_t j = 0; at >= 0 && j < PyList_GET_SIZE(fns); j++) {
            if (nplace[j] == at) {
                fn = PyList_GET_ITEM(fns, j);
            }
        }
        if (fn == NULL || fn == fo) {
            continue;
        }
        int r = hs_func_patch(ap->txn, fo, PyFunction_GET_CODE(fn), fn,
                              ap->nested);
        if (r < 0) {
            goto done;
        }
        if (r == HS_PATCH_KIND || r == HS_PATCH_FREEVARS) {
            PyObject *q = PyObject_GetAttrString(fo, "__qualname__");
            r = q ? hs_report_diag(
                        job, q, "function",
                        r == HS_PATCH_KIND ? HS101_STATEMENT : HS104_STATEMENT,
                        hs_code_firstlineno(PyFunction_GET_CODE(fn)), name)
                  : -1;
            Py_XDECREF(q);
            if (r < 0) {
                goto done;
            }
            continue;
        }
        if (hs_live_note(job, fn, fo) < 0
            || ((r == HS_PATCH_UPDATED || r == HS_PATCH_MOVED)
                && hs_func_clear_cache(fo) < 0))
        {
            goto done;
        }
    }
    result = 0;
done:
    PyMem_Free(oused);
    PyMem_Free(nused);
    PyMem_Free(nplace);
    Py_XDECREF(fos);
    Py_XDECREF(fns);
    Py_XDECREF(ocodes);
    Py_XDECREF(ncodes);
    Py_XDECREF(ocode);
    return result;
}

/* 1 when the decorator lines of new chunk `ci` are the bytes of its old
 * chunk's: the def is decorated again only because a decorator's own
 * definition changed (plan_redecorate, plan.c). */
static int
apply_same_deco_text(HsJob *job, Py_ssize_t ci)
{
    const HsChunk *c = &job->src.chunks.items[ci];
    const HsChunk *o = &job->src.old_chunks->items[job->plan.match[ci]];
    Py_ssize_t n = c->head - c->start;
    return job->src.old_text != NULL && n == o->head - o->start
           && memcmp(PyBytes_AS_STRING(job->src.text) + c->start,
                     job->src.old_text + o->start, (size_t)n)
                  == 0;
}

/* Copy the attributes the new decoration set on `fn` (its __dict__) onto
 * the kept function `fo`, under the undo log.  Attributes `fo` has and
 * `fn` lacks stay (the program may have set them).  0 / -1. */
static int
apply_copy_func_attrs(HsTxn *txn, PyObject *fo, PyObject *fn)
{
    PyObject *nd = PyObject_GetAttrString(fn, "__dict__");
    PyObject *od = nd ? PyObject_GetAttrString(fo, "__dict__") : NULL;
    int r = -1;
    if (od == NULL) {
        goto done;
    }
    if (!PyDict_Check(nd) || !PyDict_Check(od)) {
        r = 0;
        goto done;
    }
    PyObject *items = PyDict_Items(nd);
    if (items == NULL) {
        goto done;
    }
    r = 0;
    for (Py_ssize_t i = 0; r == 0 && i < PyList_GET_SIZE(items); i++) {
        PyObject *kv = PyList_GET_ITEM(items, i);
        r = hs_txn_dict_set(txn, od, PyTuple_GET_ITEM(kv, 0),
                            PyTuple_GET_ITEM(kv, 1));
    }
    Py_DECREF(items);
done:
    Py_XDECREF(nd);
    Py_XDECREF(od);
    return r;
}

/* The def `name` was decorated again and the decoration made `new`, not
 * the object the module binds (`old`); `fo` (inside old, or old itself)
 * was patched to the code of `fn` (inside new, or new itself).  Move new's
 * state onto old, which stays bound (redeco.c).  A decorator added: old is
 * the bare function and becomes the wrapper, around the new fn (old cannot
 * wrap itself).  A decorator removed: old, the wrapper, becomes the bare
 * function; fo, held by what the old decoration made, keeps following it.
 * 1 moved, 0 cannot be moved (nothing written: HS102), -1 error. */
static int
apply_take_decoration(Apply *ap, PyObject *old, PyObject *new, PyObject *fo,
                      PyObject *fn)
{
    int added = old == fo;
    int removed = new == fn;
    int moved =
        hs_redeco_move(ap->txn, old, new, added || removed ? NULL : fo, fn);
    if (moved <= 0) {
        return moved;
    }
    if (hs_txn_keep(ap->txn, new) < 0 || hs_live_note(ap->job, new, old) < 0
        || (!added && !removed && hs_live_note(ap->job, fn, fo) < 0)
        || (removed && hs_func_follow_replacement(ap->txn, old, fo, fn) < 0)
        || hs_func_clear_cache(old) < 0)
    {
        return -1;
    }
    return 1;
}

PyObject *
hs_apply_signature_of(PyObject *f)
{
    PyObject *code = PyFunction_GET_CODE(f);
    PyObject *names = NULL, *doc = NULL, *result = NULL;
    int flags = hs_code_flags(code);
    PyObject *argc = PyObject_GetAttrString(code, "co_argcount");
    PyObject *kwc =
        argc ? PyObject_GetAttrString(code, "co_kwonlyargcount") : NULL;
    PyObject *poc =
        kwc ? PyObject_GetAttrString(code, "co_posonlyargcount") : NULL;
    PyObject *vn = poc ? PyObject_GetAttrString(code, "co_varnames") : NULL;
    if (vn == NULL || !PyTuple_Check(vn)
        || PyObject_GetOptionalAttrString(f, "__doc__", &doc) < 0)
    {
        goto done;
    }
    Py_ssize_t n = PyLong_AsSsize_t(argc) + PyLong_AsSsize_t(kwc)
                   + ((flags & CO_VARARGS) != 0)
                   + ((flags & CO_VARKEYWORDS) != 0);
    if (PyErr_Occurred()) {
        goto done;
    }
    names = PyTuple_GetSlice(vn, 0, n);
    if (names == NULL) {
        goto done;
    }
    PyObject *d = PyFunction_GET_DEFAULTS(f);
    PyObject *kd = PyFunction_GET_KW_DEFAULTS(f);
    result = Py_BuildValue(
        "(OOiOOO)", names, poc, flags & (CO_VARARGS | CO_VARKEYWORDS),
        d ? d : Py_None, kd ? kd : Py_None, doc ? doc : Py_None);
done:
    Py_XDECREF(argc);
    Py_XDECREF(kwc);
    Py_XDECREF(poc);
    Py_XDECREF(vn);
    Py_XDECREF(names);
    Py_XDECREF(doc);
    return result;
}

/* reconcile(): one module-level name the staged code bound, in named
 * steps.  Each step returns 1 (the name is done), 0 (not its case: the next
 * step looks) or -1 (error). */
typedef struct {
    Apply *ap;
    HsJob *job;
    PyObject *name;   /* borrowed */
    PyObject *old;    /* borrowed: the live binding, or NULL */
    PyObject *new;    /* borrowed: the staged binding, or NULL (deleted) */
    Py_ssize_t ci;    /* the staged chunk that bound it, or -1 */
    HsChunk *c;       /* borrowed: job->src.chunks.items[ci], or NULL */
    int line;         /* its head line, 0: unknown */
    const char *kind; /* the report's kind for it */
} Rec;

/* Turn hs_report_add's 0 / -1 into a step's 1 / -1. */
static int
rec_done(int r)
{
    return r < 0 ? -1 : 1;
}

/* Kept by __hotswap_keep__, deleted, or added. */
static int
rec_kept_removed_added(Rec *rc)
{
    HsJob *job = rc->job;
    int kept = rc->old != NULL ? in_keep_list(job, rc->name) : 0;
    if (kept < 0) {
        return -1;
    }
    if (kept) {
        return rec_done(
            hs_report_diag(job, rc->name, rc->kind, HS401, rc->line));
    }
    if (rc->new == NULL) {
        if (rc->old == NULL) {
            return 1;
        }
        if (set_name(rc->ap, rc->name, NULL) < 0) {
            return -1;
        }
        return rec_done(hs_report_add(job, rc->name, rc->kind, "removed", NULL,
                                      rc->line, NULL));
    }
    if (rc->old != NULL) {
        return 0;
    }
    if (set_name(rc->ap, rc->name, rc->new) < 0) {
        return -1;
    }
    const char *kind = rc->kind;
    if (rc->c != NULL
        && (rc->c->kind == HS_CHUNK_IMPORT || rc->c->kind == HS_CHUNK_FUTURE))
    {
        kind = "import";
    }
    else if (PyModule_Check(rc->new)) {
        kind = "import";
    }
    else if (PyType_Check(rc->new)) {
        kind = "class";
    }
    else if (PyFunction_Check(rc->new)) {
        kind = "function";
    }
    return rec_done(
        hs_report_add(job, rc->name, kind, "added", NULL, rc->line, NULL));
}

/* The old and the new function of the statement (*fo, *fn: new
 * references, or NULL): for a def, the function its statement made,
 * wherever the decorators keep it (an attribute of a decorator object, not
 * a same-named wrapper closure).  A container an edited data statement
 * built has its lambdas paired by place instead.  0 / -1. */
static int
rec_find_functions(Rec *rc, PyObject **fo, PyObject **fn)
{
    HsJob *job = rc->job;
    HsChunk *c = rc->c;
    PyObject *old = rc->old, *new = rc->new, *name = rc->name;
    *fo = *fn = NULL;
    int container = (PyDict_CheckExact(new) || PyList_CheckExact(new)
                     || PyTuple_CheckExact(new) || PyAnySet_CheckExact(new))
                    && c != NULL && c->kind != HS_CHUNK_DEF
                    && job->plan.mode == HS_MODE_NORMAL
                    && job->plan.match[rc->ci] >= 0
                    && job->src.old_text != NULL && job->plan.codes != NULL;
    if (container) {
        /* data: its lambdas paired by place, then the data rules */
        return pair_made_in_container(
            rc->ap, name, old, new, c,
            &job->src.old_chunks->items[job->plan.match[rc->ci]]);
    }
    if (PyType_Check(old) || PyModule_Check(old) || PyType_Check(new)
        || PyModule_Check(new))
    {
        return 0;
    }
    HsChunk *o = c != NULL && job->plan.match[rc->ci] >= 0
                     ? &job->src.old_chunks->items[job->plan.match[rc->ci]]
                     : NULL;
    if (c != NULL && c->kind == HS_CHUNK_DEF) {
        *fo = hs_func_find_def(old, job->dict, job->filename, name,
                               o ? o->line : 0);
    }
    else {
        /* a binding is not a definition: only a function this statement
         * made (a lambda, a def inside an `if`) is patched; `f = foo` ->
         * `f = bar` rebinds f and leaves foo alone */
        *fo = hs_func_find_made(old, job->dict, job->filename, name,
                                o ? o->line : 0, o ? o->last_line : 0);
    }
    if (*fo == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    *fn = c != NULL && c->kind == HS_CHUNK_DEF
              ? hs_func_find_def(new, job->dict, job->filename, name, c->line)
              : hs_func_find_made(new, job->dict, job->filename, name,
                                  c ? c->line : 0, c ? c->last_line : 0);
    if (*fn == NULL && PyErr_Occurred()) {
        Py_CLEAR(*fo);
        return -1;
    }
    return 0;
}

/* The def was decorated again (`fo` patched to fn's code, with result
 * *r): the old object takes the new decoration, or (HS102) the name gets
 * the new object.  1 / 0 / -1; may set *r. */
static int
rec_redecorated(Rec *rc, PyObject *fo, PyObject *fn, int *r)
{
    HsJob *job = rc->job;
    PyObject *old = rc->old, *new = rc->new;
    if (rc->c == NULL || rc->c->kind != HS_CHUNK_DEF
        || job->plan.deco[rc->ci] != HS_DECO_RUN
        || job->plan.match[rc->ci] < 0)
    {
        return 0;
    }
    /* the decoration ran again and returned the function itself */
    int same_fn = (new == fn) && (old == fo);
    int kept_kind = *r != HS_PATCH_KIND && *r != HS_PATCH_FREEVARS;
    if (!kept_kind) {
        return 0;
    }
    if (same_fn && apply_same_deco_text(job, rc->ci)) {
        /* as before, it returned the function itself (@tag(...) setting
         * fn.tag): the old object stays, patched, with the attributes the
         * new decoration set (issue 10 point 3) */
        if (apply_copy_func_attrs(rc->ap->txn, fo, fn) < 0) {
            return -1;
        }
        if (*r == HS_PATCH_NOOP) {
            *r = HS_PATCH_UPDATED;
        }
        return 0;
    }
    if (!same_fn) {
        /* it made another object: its state goes onto the object the
         * program holds (issue 10 point 3) */
        int moved = apply_take_decoration(rc->ap, old, new, fo, fn);
        if (moved != 0) {
            return moved < 0 ? -1
                             : rec_done(hs_report_add(
                                   job, rc->name, "function", "updated", NULL,
                                   rc->line,
                                   "decorated again: the existing object "
                                   "took the new decoration"));
        }
    }
    /* the old decorators keep the old function: it follows the new one's
     * code from now on, and its caches are stale */
    if (set_name(rc->ap, rc->name, new) < 0
        || hs_func_follow_replacement(rc->ap->txn, old, fo, fn) < 0)
    {
        return -1;
    }
    return rec_done(
        hs_report_diag(job, rc->name, "function", HS102_NAME, rc->line));
}

/* A function: the old one (`fo`) patched in place to run fn's code.
 * 1 / -1. */
static int
rec_patch_function(Rec *rc, PyObject *fo, PyObject *fn)
{
    HsJob *job = rc->job;
    PyObject *old = rc->old, *new = rc->new;
    /* unchanged decorators around this def are not run again: what they
     * read from it at import stays (HS105 when that changed) */
    int kept_deco = rc->c != NULL && rc->c->kind == HS_CHUNK_DEF
                    && job->plan.deco[rc->ci] != HS_DECO_RUN && old != fo;
    PyObject *sig = kept_deco ? hs_apply_signature_of(fo) : NULL;
    if (kept_deco && sig == NULL) {
        return -1;
    }
    int r = hs_func_patch(rc->ap->txn, fo, PyFunction_GET_CODE(fn), fn,
                          rc->ap->nested);
    int done = r < 0 ? -1 : rec_redecorated(rc, fo, fn, &r);
    if (done == 0 && sig != NULL && r == HS_PATCH_UPDATED) {
        PyObject *now = hs_apply_signature_of(fo);
        int same = now ? PyObject_RichCompareBool(sig, now, Py_EQ) : -1;
        Py_XDECREF(now);
        if (same < 0 && now != NULL) {
            /* incomparable defaults: changed */
            same = hs_err_clear_unless_fatal();
        }
        done = same < 0 ? -1 : 0;
        kept_deco = same == 0;
    }
    else {
        kept_deco = 0;
    }
    Py_XDECREF(sig);
    if (done != 0) {
        return done;
    }
    if (r == HS_PATCH_KIND || r == HS_PATCH_FREEVARS) {
        if (set_name(rc->ap, rc->name, new) < 0) {
            return -1;
        }
        return rec_done(hs_report_diag(
            job, rc->name, "function",
            r == HS_PATCH_KIND ? HS101_KIND : HS104_REPLACED, rc->line));
    }
    int stripped = rc->c != NULL && job->plan.deco[rc->ci] != HS_DECO_RUN;
    if (!stripped && Py_TYPE(old) != Py_TYPE(new)) {
        /* a wrapper of another kind: the new binding is the truth */
        if (set_name(rc->ap, rc->name, new) < 0) {
            return -1;
        }
        return rec_done(hs_report_diag(job, rc->name, "function",
                                       HS103_WRAPPER, rc->line));
    }
    if (hs_txn_keep(rc->ap->txn, new) < 0
        || hs_live_note(job, fn, fo) < 0
        /* last: with its decorators left out, the staged def bound the
         * bare function, and the module binds the decorated one */
        || hs_live_note(job, new, old) < 0)
    {
        return -1;
    }
    if ((r == HS_PATCH_UPDATED || r == HS_PATCH_MOVED)
        && hs_func_clear_cache(old) < 0)
    {
        return -1;
    }
    if (r == HS_PATCH_NOOP) {
        return 1;
    }
    if (kept_deco) {
        return rec_done(hs_report_diag(job, rc->name, "function",
                                       HS105_FUNCTION, rc->line));
    }
    return rec_done(hs_report_add(job, rc->name, "function",
                                  r == HS_PATCH_MOVED ? "moved" : "updated",
                                  NULL, rc->line, NULL));
}

/* Classes (updated in place by the staging hook) and kind changes. */
static int
rec_class_or_kind(Rec *rc)
{
    HsJob *job = rc->job;
    PyObject *old = rc->old, *new = rc->new;
    int old_own = hs_plan_is_own_class(job, old, rc->name);
    int new_own = old_own < 0 ? -1 : hs_plan_is_own_class(job, new, rc->name);
    if (new_own < 0) {
        return -1;
    }
    if (old_own) {
        if (old == new) {
            return 1;
        }
        if (set_name(rc->ap, rc->name, new) < 0) {
            return -1;
        }
        return rec_done(
            hs_report_diag(job, rc->name, "class", HS103_CLASS, rc->line));
    }
    int old_def = PyFunction_Check(old) || old_own;
    int new_def = PyFunction_Check(new) || new_own;
    if ((old_def || new_def) && Py_TYPE(old) != Py_TYPE(new)) {
        if (set_name(rc->ap, rc->name, new) < 0) {
            return -1;
        }
        return rec_done(hs_report_diag(job, rc->name, rc->kind,
                                       HS103_DEFINITION, rc->line));
    }
    return 0;
}

/* Data: per mode and policy.  1 / -1. */
static int
rec_data(Rec *rc)
{
    HsJob *job = rc->job;
    PyObject *old = rc->old, *new = rc->new;
    if (job->plan.mode == HS_MODE_FULL) {
        int eq = PyObject_RichCompareBool(old, new, Py_EQ);
        if (eq < 0 && hs_err_clear_unless_fatal() < 0) {
            return -1; /* else a user's __eq__ that raises: not equal */
        }
        if (eq == 1) {
            return 1;
        }
        return rec_done(
            hs_report_diag(job, rc->name, rc->kind, HS001_DATA, rc->line));
    }
    if (rc->c != NULL) {
        /* bound inside an edited compound statement by an inner statement
         * the edit did not touch: kept, as an unedited statement's data */
        int kept = hs_compound_keeps(job, rc->ci, rc->name);
        if (kept != 0) {
            return kept < 0 ? -1 : 1;
        }
    }
    int verdict = ask_policy(job, rc->name, old, new);
    if (verdict < 0) {
        return -1;
    }
    if (!verdict) {
        return rec_done(
            hs_report_diag(job, rc->name, rc->kind, HS402, rc->line));
    }
    if (set_name(rc->ap, rc->name, new) < 0) {
        return -1;
    }
    return rec_done(hs_report_add(job, rc->name,
                                  PyModule_Check(new) ? "import" : rc->kind,
                                  "updated", NULL, rc->line, NULL));
}

/* One module-level name the staged code bound (new may be NULL: deleted).
 * 0 / -1. */
static int
reconcile(Apply *ap, PyObject *name, PyObject *old, PyObject *new)
{
    HsJob *job = ap->job;
    Rec rc = {ap, job, name, old, new, -1, NULL, 0, "data"};
    PyObject *idx = PyDict_GetItemWithError(ap->chunk_of, name);
    if (idx == NULL && PyErr_Occurred()) {
        return -1;
    }
    if (idx != NULL) {
        rc.ci = PyLong_AsSsize_t(idx);
    }
    if (rc.ci >= 0) {
        rc.c = &job->src.chunks.items[rc.ci];
        rc.line = rc.c->head_line;
        rc.kind = chunk_kind_name(rc.c->kind);
    }
    int done = rec_kept_removed_added(&rc);
    if (done != 0) {
        return done < 0 ? -1 : 0;
    }
    PyObject *fo = NULL, *fn = NULL;
    if (rec_find_functions(&rc, &fo, &fn) < 0) {
        return -1;
    }
    if (fo != NULL && fn != NULL && fo != fn) {
        done = rec_patch_function(&rc, fo, fn);
    }
    Py_XDECREF(fo);
    Py_XDECREF(fn);
    if (done == 0) {
        done = rec_class_or_kind(&rc);
    }
    if (done == 0) {
        done = rec_data(&rc);
    }
    return done < 0 ? -1 : 0;
}

/* A def whose name a later, unchanged statement binds again keeps the live
 * binding (`f = lru_cache()(f)` in an `if`, 3.9's pathlib).  The function
 * the def made may still be held by that binding: it runs the new code,
 * as in a fresh import.  0 / -1. */
static int
patch_rebound_def(Apply *ap, PyObject *name, Py_ssize_t ci, PyObject *old,
                  PyObject *new)
{
    HsJob *job = ap->job;
    if (ci < 0 || old == NULL || new == NULL
        || job->src.chunks.items[ci].kind != HS_CHUNK_DEF
        || job->plan.match[ci] < 0)
    {
        return 0;
    }
    HsChunk *c = &job->src.chunks.items[ci];
    HsChunk *o = &job->src.old_chunks->items[job->plan.match[ci]];
    HsHeldQuery q = {job->dict, name, job->filename, o->line, o->line, 1};
    PyObject *found = hs_func_held(old, &q);
    if (found == NULL) {
        return -1;
    }
    PyObject *fo = PyList_GET_SIZE(found) ? PyList_GET_ITEM(found, 0) : NULL;
    PyObject *fn =
        fo ? hs_func_find_def(new, job->dict, job->filename, name, c->line)
           : NULL;
    int r = PyErr_Occurred() ? -1 : 0;
    if (r == 0 && fn != NULL && fn != fo) {
        int p = hs_func_patch(ap->txn, fo, PyFunction_GET_CODE(fn), fn,
                              ap->nested);
        if (p == HS_PATCH_UPDATED || p == HS_PATCH_MOVED) {
            r = hs_func_clear_cache(old);
            if (r == 0) {
                r = hs_report_add(job, name, "function",
                                  p == HS_PATCH_MOVED ? "moved" : "updated",
                                  NULL, c->head_line, NULL);
            }
        }
        else if (p == HS_PATCH_KIND || p == HS_PATCH_FREEVARS) {
            r = hs_report_diag(job, name, "function",
                               p == HS_PATCH_KIND ? HS101_REBOUND
                                                  : HS104_REBOUND,
                               c->head_line);
        }
        else {
            r = p < 0 ? -1 : 0;
        }
    }
    Py_XDECREF(fn);
    Py_DECREF(found);
    return r;
}

/* An edited (or added, or re-run) statement that binds no name ran again
 * on the live module: its effects add to what the module did at import
 * (`LOG.append("b")` after `LOG.append("a")`), where a fresh import runs
 * it once on fresh data.  Nothing else names it in the report: HS403.
 * 0 / -1. */
static int
report_rerun_statements(HsJob *job)
{
    for (Py_ssize_t i = 0;
         job->plan.mode == HS_MODE_NORMAL && i < job->src.chunks.len; i++)
    {
        HsChunk *c = &job->src.chunks.items[i];
        PyObject *code = PyList_GET_ITEM(job->plan.codes, i);
        if (code == Py_None || c->kind != HS_CHUNK_STMT
            || job->plan.state[i] == HS_ST_UNCHANGED
            || job->plan.state[i] == HS_ST_MOVED)
        {
            continue;
        }
        PyObject *names = PySet_New(NULL);
        int r = names ? hs_code_stored_names(code, names) : -1;
        if (r == 0 && PySet_GET_SIZE(names) == 0) {
            r = hs_report_diag_str(job, "<statement>", "statement", HS403,
                                   c->line);
        }
        Py_XDECREF(names);
        if (r < 0) {
            return -1;
        }
    }
    return 0;
}

/* Names bound by the staged code, in a deterministic order. */
static PyObject *
staged_names(HsJob *job, int *star, PyObject *chunk_of)
{
    PyObject *names = PySet_New(NULL);
    if (names == NULL) {
        return NULL;
    }
    *star = 0;
    if (job->plan.mode == HS_MODE_FULL) {
        int r = hs_code_stored_names(job->plan.full_code, names);
        if (r < 0) {
            Py_DECREF(names);
            return NULL;
        }
        *star |= r;
        return names;
    }
    for (Py_ssize_t i = 0; i < job->src.chunks.len; i++) {
        PyObject *code = PyList_GET_ITEM(job->plan.codes, i);
        if (code == Py_None) {
            continue;
        }
        PyObject *mine = PySet_New(NULL);
        int r = mine ? hs_code_stored_names(code, mine) : -1;
        PyObject *idx = r >= 0 ? PyLong_FromSsize_t(i) : NULL;
        PyObject *it = idx ? PyObject_GetIter(mine) : NULL, *n;
        while (it != NULL && (n = PyIter_Next(it)) != NULL) {
            if (PySet_Add(names, n) < 0
                || PyDict_SetItem(chunk_of, n, idx) < 0)
            {
                r = -1;
            }
            Py_DECREF(n);
        }
        if (it == NULL || PyErr_Occurred()) {
            r = -1;
        }
        Py_XDECREF(it);
        Py_XDECREF(idx);
        Py_XDECREF(mine);
        if (r < 0) {
            Py_DECREF(names);
            return NULL;
        }
        *star |= r;
    }
    return names;
}

/* Does an unchanged statement of the new source bind `name`? */
static int
bound_by_kept_chunk(HsJob *job, PyObject *name)
{
    for (Py_ssize_t i = 0; i < job->src.chunks.len; i++) {
        if (job->plan.state[i] != HS_ST_UNCHANGED
            && job->plan.state[i] != HS_ST_MOVED)
        {
            continue;
        }
        int r = hs_plan_kept_chunk_binds(job, i, name);
        if (r != 0) {
            return r; /* found, or error */
        }
    }
    return 0;
}

static int
remove_deleted(Apply *ap, PyObject *staged)
{
    HsJob *job = ap->job;
    HsChunkList *old = job->src.old_chunks;
    if (job->plan.mode != HS_MODE_NORMAL || old == NULL) {
        return 0;
    }
    for (Py_ssize_t j = 0; j < old->len; j++) {
        if (job->plan.old_matched[j]) {
            continue;
        }
        HsChunk *o = &old->items[j];
        PyObject *names = PySet_New(NULL), *from_star = NULL;
        if (names == NULL) {
            return -1;
        }
        int star = 0;
        if (o->name_len > 0 && o->kind != HS_CHUNK_ASSIGN) {
            PyObject *n = hs_plan_chunk_name(job->src.old_text, o);
            if (n == NULL || PySet_Add(names, n) < 0) {
                Py_XDECREF(n);
                Py_DECREF(names);
                return -1;
            }
            Py_DECREF(n);
        }
        else {
            PyObject *code = hs_code_compile_range(
                job, job->src.old_text, o->start, o->end, o->line, o->start);
            if (code == NULL) {
                /* the old text compiled once; if it does not alone, its
                 * names are unknown: delete nothing */
                Py_DECREF(names);
                if (hs_err_clear_unless_fatal() < 0) {
                    return -1;
                }
                continue;
            }
            star = hs_code_stored_names(code, names);
            if (star == 1) {
                /* a removed star import: the names it bound are those
                 * its module exports that still hold its objects */
                from_star = PyDict_New();
                if (from_star == NULL
                    || hs_plan_star_bindings(job, code, from_star) < 0)
                {
                    star = -1;
                }
                Py_ssize_t pos = 0;
                PyObject *k, *v;
                while (star == 1 && PyDict_Next(from_star, &pos, &k, &v)) {
                    if (PySet_Add(names, k) < 0) {
                        star = -1;
                    }
                }
            }
            Py_DECREF(code);
            if (star < 0) {
                Py_XDECREF(from_star);
                Py_DECREF(names);
                return -1;
            }
        }
        PyObject *it = PyObject_GetIter(names);
        PyObject *name;
        while (it != NULL && (name = PyIter_Next(it)) != NULL) {
            int skip = PySet_Contains(staged, name);
            if (skip == 0 && from_star != NULL) {
                /* bound by the star import only when the module still
                 * holds what the star import's module exports */
                PyObject *src = PyDict_GetItemWithError(from_star, name);
                PyObject *cur = NULL;
                if (src != NULL
                    && PyDict_GetItemRef(job->dict, name, &cur) >= 0)
                {
                    skip = cur != src;
                }
                else if (PyErr_Occurred()) {
                    skip = -1;
                }
                Py_XDECREF(cur);
            }
            if (skip == 0) {
                skip = bound_by_kept_chunk(job, name);
            }
            if (skip == 0) {
                skip = in_keep_list(job, name);
            }
            int r = 0;
            if (skip == 0) {
                PyObject *cur = NULL;
                r = PyDict_GetItemRef(job->dict, name, &cur);
                if (r == 1) {
                    const char *kind = chunk_kind_name(o->kind);
                    r = set_name(ap, name, NULL);
                    if (r == 0) {
                        r = hs_report_add(job, name, kind, "removed", NULL,
                                          o->head_line, NULL);
                    }
                }
                Py_XDECREF(cur);
            }
            Py_DECREF(name);
            if (skip < 0 || r < 0) {
                Py_DECREF(it);
                Py_DECREF(names);
                return -1;
            }
        }
        Py_XDECREF(it);
        Py_DECREF(names);
        Py_CLEAR(from_star);
        if (PyErr_Occurred()) {
            return -1;
        }
    }
    return 0;
}

/* Is `v`, the live value of `name` that moved statement c (not a class
 * statement) binds, a class made by a class statement inside c (`if`,
 * `try`)?  Its qualified name is `name`, c's text has `class name`, and
 * the module's source defined it.  1 / 0 / -1. */
static int
class_made_in(HsJob *job, PyObject *v, PyObject *name, const HsChunk *c)
{
    PyObject *qual = NULL, *head = NULL;
    if (PyObject_GetOptionalAttrString(v, "__qualname__", &qual) < 0) {
        return -1;
    }
    int r = qual != NULL && PyUnicode_Check(qual)
            && PyUnicode_Compare(qual, name) == 0;
    Py_XDECREF(qual);
    if (PyErr_Occurred()) {
        return -1;
    }
    if (r) {
        head = PyUnicode_FromFormat("class %U", name);
        Py_ssize_t n;
        const char *h = head ? PyUnicode_AsUTF8AndSize(head, &n) : NULL;
        if (h == NULL) {
            Py_XDECREF(head);
            return -1;
        }
        r = hs_plan_contains_bytes(PyBytes_AS_STRING(job->src.text) + c->start,
                                   c->end - c->start, h, n);
        Py_DECREF(head);
    }
    return r ? hs_plan_is_own_class(job, v, name) : 0;
}

/* A statement other than a def or class that only moved (`if ...: def f`,
 * `try: ... except: class K`, `g = lambda: 0`): the functions and classes
 * it made, found from the names it binds, get new line numbers.  Only
 * statements whose text can make one are compiled.  0 / -1. */
static int
shift_moved_statement(Apply *ap, const HsChunk *c, const HsChunk *o)
{
    HsJob *job = ap->job;
    const char *text = PyBytes_AS_STRING(job->src.text) + c->start;
    Py_ssize_t len = c->end - c->start;
    if (c->kind != HS_CHUNK_STMT && c->kind != HS_CHUNK_ASSIGN) {
        return 0;
    }
    if (!hs_plan_contains_bytes(text, len, "lambda", 6)
        && (c->kind == HS_CHUNK_ASSIGN
            || (!hs_plan_contains_bytes(text, len, "def", 3)
                && !hs_plan_contains_bytes(text, len, "class", 5))))
    {
        return 0;
    }
    PyObject *code =
        hs_code_compile_range(job, PyBytes_AS_STRING(job->src.text), c->start,
                              c->end, c->line, c->start);
    PyObject *names = code ? PySet_New(NULL) : NULL;
    PyObject *it = NULL, *name;
    int r = -1;
    if (names == NULL || hs_code_stored_names(code, names) < 0
        || (it = PyObject_GetIter(names)) == NULL)
    {
        goto done;
    }
    int delta = c->line - o->line;
    HsHeldQuery q = {job->dict, NULL, job->filename, o->line, o->last_line, 0};
    r = 0;
    while (r == 0 && (name = PyIter_Next(it)) != NULL) {
        PyObject *v = NULL;
        r = PyDict_GetItemRef(job->dict, name, &v);
        if (r == 1 && PyType_Check(v)) {
            r = class_made_in(job, v, name, c);
            if (r == 1) {
                r = hs_class_shift(job, ap->txn, v, o, delta, ap->nested);
            }
        }
        else if (r == 1) {
            r = hs_func_shift_held(ap->txn, v, &q, delta, ap->nested);
        }
        r = r < 0 ? -1 : 0;
        Py_XDECREF(v);
        Py_DECREF(name);
    }
    if (r == 0 && PyErr_Occurred()) {
        r = -1;
    }
done:
    Py_XDECREF(it);
    Py_XDECREF(names);
    Py_XDECREF(code);
    return r;
}

/* The live functions of this module, by (name, first line of their code,
 * decorators included as co_firstlineno counts them), each key to a list:
 * the functions the staged defs just made have the keys of the old ones
 * when their lines did not change.  Asked of the batch's walk (heap.c)
 * only when several defs bind one name.  New dict, or NULL with an
 * exception set. */
static PyObject *
functions_by_line(HsJob *job)
{
    PyObject *objs = hs_heap_functions_of(job->heap, job->dict);
    PyObject *index = objs ? PyDict_New() : NULL;
    for (Py_ssize_t i = 0; index && i < PyList_GET_SIZE(objs); i++) {
        PyObject *o = PyList_GET_ITEM(objs, i);
        PyObject *n =
            PyObject_GetAttrString(PyFunction_GET_CODE(o), "co_name");
        PyObject *key =
            n ? Py_BuildValue("(Oi)", n,
                              hs_code_firstlineno(PyFunction_GET_CODE(o)))
              : NULL;
        PyObject *list = key ? PyDict_GetItemWithError(index, key) : NULL;
        if (list == NULL && key != NULL && !PyErr_Occurred()) {
            list = PyList_New(0);
            if (list != NULL && PyDict_SetItem(index, key, list) < 0) {
                Py_CLEAR(list);
            }
            Py_XDECREF(list); /* the index holds it */
        }
        if (list == NULL || PyList_Append(list, o) < 0) {
            Py_CLEAR(index);
        }
        Py_XDECREF(n);
        Py_XDECREF(key);
    }
    Py_XDECREF(objs);
    return index;
}

/* The names of several def statements (`@overload` stubs, then the
 * implementation): new set, or NULL with an exception set. */
static PyObject *
duplicate_def_names(HsJob *job)
{
    const char *text = PyBytes_AS_STRING(job->src.text);
    PyObject *seen = PySet_New(NULL), *dups = PySet_New(NULL);
    for (Py_ssize_t i = 0; dups != NULL && i < job->src.chunks.len; i++) {
        HsChunk *c = &job->src.chunks.items[i];
        if (c->kind != HS_CHUNK_DEF || c->name_len == 0) {
            continue;
        }
        PyObject *name = hs_plan_chunk_name(text, c);
        int known = name && seen ? PySet_Contains(seen, name) : -1;
        int r = known < 0 ? -1
                : known   ? PySet_Add(dups, name)
                          : PySet_Add(seen, name);
        Py_XDECREF(name);
        if (r < 0) {
            Py_CLEAR(dups);
        }
    }
    Py_XDECREF(seen);
    return dups;
}

/* The functions a def of a name several defs bind made, that its binding
 * does not lead to (an `@overload` stub, kept only by typing's registry):
 * found by name and old first line, moved by `delta`. */
static int
shift_duplicate_def(Apply *ap, PyObject **by_line, PyObject *name,
                    const HsChunk *o, int delta)
{
    if (*by_line == NULL && (*by_line = functions_by_line(ap->job)) == NULL) {
        return -1;
    }
    PyObject *key = Py_BuildValue("(Oi)", name, o->line);
    PyObject *olds = key ? PyDict_GetItemWithError(*by_line, key) : NULL;
    Py_XDECREF(key);
    if (olds == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(olds); k++) {
        PyObject *f = PyList_GET_ITEM(olds, k);
        if (hs_txn_function_saved(ap->txn, f)) {
            continue; /* moved or patched already: its lines are new */
        }
        PyObject *code = hs_code_shift(PyFunction_GET_CODE(f), delta);
        int r = code ? hs_func_move(ap->txn, f, code, ap->nested) : -1;
        Py_XDECREF(code);
        if (r < 0) {
            return -1;
        }
    }
    return 0;
}

/* Definitions whose statement only moved: new line numbers. */
static int
shift_moved(Apply *ap)
{
    HsJob *job = ap->job;
    if (job->plan.mode != HS_MODE_NORMAL) {
        return 0;
    }
    PyObject *dups = NULL, *by_line = NULL;
    int result = -1;
    const char *text = PyBytes_AS_STRING(job->src.text);
    for (Py_ssize_t i = 0; i < job->src.chunks.len; i++) {
        HsChunk *c = &job->src.chunks.items[i];
        if (job->plan.state[i] != HS_ST_MOVED) {
            continue;
        }
        if (c->kind != HS_CHUNK_DEF && c->kind != HS_CHUNK_CLASS) {
            if (shift_moved_statement(
                    ap, c, &job->src.old_chunks->items[job->plan.match[i]])
                < 0)
            {
                goto done;
            }
            continue;
        }
        HsChunk *o = &job->src.old_chunks->items[job->plan.match[i]];
        int delta = c->line - o->line;
        PyObject *name = hs_plan_chunk_name(text, c);
        if (name == NULL) {
            goto done;
        }
        PyObject *v = NULL;
        int r = PyDict_GetItemRef(job->dict, name, &v);
        if (r == 0 && c->kind == HS_CHUNK_CLASS) {
            /* `_X = X; del X`: the class lives on under another name */
            v = hs_stage_class_aliased(job, name);
            r = v != NULL ? 1 : (PyErr_Occurred() ? -1 : 0);
        }
        if (r == 1 && c->kind == HS_CHUNK_CLASS) {
            r = hs_plan_is_own_class(job, v, name);
            if (r == 1) {
                r = hs_class_shift(job, ap->txn, v, o, delta, ap->nested);
            }
            else if (r == 0 && PyType_Check(v)) {
                r = hs_class_shift_firstlineno(ap->txn, v, o, delta);
            }
        }
        else if (r == 1 && c->kind == HS_CHUNK_DEF) {
            /* the functions this def made: in the statement's old lines,
             * wherever the decorators keep them (a wrapper defined
             * elsewhere moves with its own statement) */
            HsHeldQuery q = {job->dict, NULL,         job->filename,
                             o->line,   o->last_line, 0};
            r = hs_func_shift_held(ap->txn, v, &q, delta, ap->nested);
        }
        Py_XDECREF(v);
        if (r >= 0 && c->kind == HS_CHUNK_DEF && dups == NULL) {
            dups = duplicate_def_names(job);
            r = dups ? 0 : -1;
        }
        if (r >= 0 && c->kind == HS_CHUNK_DEF) {
            r = PySet_Contains(dups, name);
            if (r == 1) {
                r = shift_duplicate_def(ap, &by_line, name, o, delta);
            }
        }
        if (r >= 0
            && hs_report_add(job, name, chunk_kind_name(c->kind), "moved",
                             NULL, c->head_line, NULL)
                   < 0)
        {
            r = -1;
        }
        Py_DECREF(name);
        if (r < 0) {
            goto done;
        }
    }
    result = 0;
done:
    Py_XDECREF(dups);
    Py_XDECREF(by_line);
    return result;
}

static int
patch_duplicate_defs(Apply *ap, PyObject *handled)
{
    HsJob *job = ap->job;
    if (job->staged.def_results == NULL || job->plan.mode != HS_MODE_NORMAL) {
        return 0;
    }
    const char *text = PyBytes_AS_STRING(job->src.text);
    Py_ssize_t n = PyList_GET_SIZE(job->staged.def_results);
    PyObject *seen = PySet_New(NULL), *dups = PySet_New(NULL);
    if (seen == NULL || dups == NULL) {
        Py_XDECREF(seen);
        Py_XDECREF(dups);
        return -1;
    }
    for (Py_ssize_t a = 0; a < n; a++) {
        PyObject *ra = PyList_GET_ITEM(job->staged.def_results, a);
        HsChunk *ca =
            &job->src.chunks.items[PyLong_AsSsize_t(PyTuple_GET_ITEM(ra, 0))];
        PyObject *name = hs_plan_chunk_name(text, ca);
        int known = name ? PySet_Contains(seen, name) : -1;
        int r = known < 0 ? -1
                : known   ? PySet_Add(dups, name)
                          : PySet_Add(seen, name);
        Py_XDECREF(name);
        if (r < 0) {
            Py_DECREF(seen);
            Py_DECREF(dups);
            return -1;
        }
    }
    Py_DECREF(seen);
    /* what the staged defs just made: never an old function, even where a
     * new def's first line is an old one's (a stub moved onto the line
     * the implementation had) */
    PyObject *made = PySet_New(NULL);
    for (Py_ssize_t a = 0; made != NULL && a < n; a++) {
        PyObject *v =
            PyTuple_GET_ITEM(PyList_GET_ITEM(job->staged.def_results, a), 1);
        if (PyFunction_Check(v) && PySet_Add(made, v) < 0) {
            Py_CLEAR(made);
        }
    }
    if (made == NULL) {
        Py_DECREF(dups);
        return -1;
    }
    PyObject *by_line = NULL;
    for (Py_ssize_t a = 0; a < n && PySet_GET_SIZE(dups) > 0; a++) {
        PyObject *ra = PyList_GET_ITEM(job->staged.def_results, a);
        Py_ssize_t ia = PyLong_AsSsize_t(PyTuple_GET_ITEM(ra, 0));
        HsChunk *ca = &job->src.chunks.items[ia];
        PyObject *name = hs_plan_chunk_name(text, ca);
        if (name == NULL) {
            Py_DECREF(dups);
            Py_DECREF(made);
            return -1;
        }
        int dup = PySet_Contains(dups, name);
        if (dup <= 0 || job->plan.deco[ia] == HS_DECO_RUN
            || job->plan.match[ia] < 0)
        {
            Py_DECREF(name);
            if (dup < 0) {
                Py_DECREF(dups);
                Py_DECREF(made);
                Py_XDECREF(by_line);
                return -1;
            }
            continue;
        }
        HsChunk *o = &job->src.old_chunks->items[job->plan.match[ia]];
        if (by_line == NULL && (by_line = functions_by_line(job)) == NULL) {
            Py_DECREF(name);
            Py_DECREF(dups);
            Py_DECREF(made);
            return -1;
        }
        PyObject *fn = hs_func_find_def(PyTuple_GET_ITEM(ra, 1), job->dict,
                                        job->filename, name, ca->line);
        PyObject *key = fn ? Py_BuildValue("(Oi)", name, o->line) : NULL;
        PyObject *olds = key ? PyDict_GetItemWithError(by_line, key) : NULL;
        PyObject *fo = NULL;
        for (Py_ssize_t k = 0; olds != NULL && k < PyList_GET_SIZE(olds); k++)
        {
            PyObject *f = PyList_GET_ITEM(olds, k);
            int fresh = PySet_Contains(made, f);
            if (fresh < 0) {
                break;
            }
            if (!fresh && f != fn
                && PyFunction_GET_CODE(f) != PyFunction_GET_CODE(fn))
            {
                fo = Py_NewRef(f);
                break;
            }
        }
        Py_XDECREF(key);
        int r = PyErr_Occurred() ? -1 : 0;
        if (r == 0 && fo != NULL && fn != NULL && fo != fn) {
            r = hs_func_patch(ap->txn, fo, PyFunction_GET_CODE(fn), fn,
                              ap->nested);
            if (r == HS_PATCH_UPDATED || r == HS_PATCH_MOVED) {
                r = hs_report_add(job, name, "function",
                                  r == HS_PATCH_MOVED ? "moved" : "updated",
                                  NULL, ca->head_line, NULL);
            }
            else if (r == HS_PATCH_KIND || r == HS_PATCH_FREEVARS) {
                r = hs_report_diag(job, name, "function",
                                   r == HS_PATCH_KIND ? HS101_DUPLICATE
                                                      : HS104_DUPLICATE,
                                   ca->head_line);
            }
            else {
                r = r < 0 ? -1 : 0;
            }
        }
        if (r == 0) {
            r = PySet_Add(handled, name);
        }
        Py_XDECREF(fo);
        Py_XDECREF(fn);
        Py_DECREF(name);
        if (r < 0) {
            Py_DECREF(dups);
            Py_DECREF(made);
            Py_XDECREF(by_line);
            return -1;
        }
    }
    Py_DECREF(dups);
    Py_DECREF(made);
    Py_XDECREF(by_line);
    return 0;
}

int
hs_apply_job(HsJob *job, HsTxn *txn, PyObject *nested)
{
    Apply ap = {job, txn, nested, NULL};
    PyObject *staged = NULL, *handled = NULL;
    HsLaterMap later = {NULL, NULL, 0};
    int star = 0, result = -1;
    const char *text = PyBytes_AS_STRING(job->src.text);

    ap.chunk_of = PyDict_New();
    if (ap.chunk_of == NULL) {
        return -1;
    }
    staged = staged_names(job, &star, ap.chunk_of);
    if (staged == NULL || hs_class_apply(job, txn, nested) < 0) {
        goto done;
    }
    for (Py_ssize_t i = 0;
         job->plan.mode != HS_MODE_FULL && i < job->src.chunks.len; i++)
    {
        HsChunk *c = &job->src.chunks.items[i];
        if (job->plan.deco[i] != HS_DECO_KEPT_CHANGED) {
            continue;
        }
        PyObject *n = hs_plan_chunk_name(text, c);
        int r = n ? hs_report_diag(job, n, "class", HS206, c->line) : -1;
        Py_XDECREF(n);
        if (r < 0) {
            goto done;
        }
    }
    /* names several staged defs bind: each def patches its own function */
    handled = PySet_New(NULL);
    if (handled == NULL || patch_duplicate_defs(&ap, handled) < 0) {
        goto done;
    }
    /* the scratch dict's order is the order statements bound names; the
     * staged names are few next to the module's, and reconcile() does not
     * touch the scratch dict, so walk it in place */
    Py_ssize_t pos = 0;
    PyObject *name, *new;
    while (PyDict_Next(job->staged.scratch, &pos, &name, &new)) {
        if (!star) {
            int r = PySet_Contains(staged, name);
            if (r < 0) {
                goto done;
            }
            if (!r) {
                continue;
            }
        }
        int dup =
            hs_code_is_annotate_name(name) ? 1 : PySet_Contains(handled, name);
        if (dup < 0) {
            goto done;
        }
        if (dup) {
            continue; /* handled, or annotate.c's */
        }
        PyObject *old = NULL;
        if (PyDict_GetItemRef(job->dict, name, &old) < 0) {
            goto done;
        }
        int r = 0;
        if (old != new) {
            PyObject *idx = PyDict_GetItemWithError(ap.chunk_of, name);
            Py_ssize_t ci = idx ? PyLong_AsSsize_t(idx) : -1;
            if (!later.last_named && PySet_GET_SIZE(staged) > 32
                && hs_later_map_build(job, &later) < 0)
            {
                goto done;
            }
            r = PyErr_Occurred()
                    ? -1
                    : hs_plan_bound_again_later(job, name, ci, &later);
            if (r == 0) {
                r = reconcile(&ap, name, old, new);
            }
            else if (r == 1) {
                r = patch_rebound_def(&ap, name, ci, old, new);
            }
        }
        Py_XDECREF(old);
        if (r < 0) {
            goto done;
        }
    }
    /* names the staged code deleted */
    {
        PyObject *it = PyObject_GetIter(staged), *gone;
        while (it != NULL && (gone = PyIter_Next(it)) != NULL) {
            int in_scratch = PyDict_Contains(job->staged.scratch, gone);
            PyObject *old = NULL;
            int r = in_scratch ? 0 : PyDict_GetItemRef(job->dict, gone, &old);
            if (r == 1) {
                r = reconcile(&ap, gone, old, NULL);
            }
            Py_XDECREF(old);
            Py_DECREF(gone);
            if (r < 0 || in_scratch < 0) {
                Py_DECREF(it);
                goto done;
            }
        }
        Py_XDECREF(it);
        if (PyErr_Occurred()) {
            goto done;
        }
    }
    if (shift_moved(&ap) < 0 || remove_deleted(&ap, staged) < 0
        || hs_live_rebind(job, txn) < 0 || hs_annotate_module(job, txn) < 0
        || hs_annotate_eager(job, txn) < 0 || report_rerun_statements(job) < 0)
    {
        goto done;
    }
    if (job->plan.mode == HS_MODE_NOSNAP
        && hs_report_diag_str(job, "<module>", "statement", HS002, 0) < 0)
    {
        goto done;
    }
    if (job->plan.mode == HS_MODE_FULL
        && hs_report_diag_str(job, "<module>", "statement", HS001_MODULE, 0)
               < 0)
    {
        goto done;
    }
    result = 0;
done:
    Py_XDECREF(ap.chunk_of);
    Py_XDECREF(staged);
    Py_XDECREF(handled);
    hs_later_map_clear(&later);
    return result;
}
