/* stage.c -- STAGE: run the changed statements PLAN compiled (compile.c)
 * in a scratch copy of the module dict.  It executes the plan and decides
 * nothing: the mode and the class-header verdicts are PLAN's.
 *
 * Main thread, GIL held.  Writes nothing but the scratch dict, new objects,
 * and (for the duration of hs_stage_run) builtins.__build_class__.
 *
 * Why a copy of the module dict and not "module dict as globals, scratch
 * as locals": class bodies, comprehensions (before 3.12) and functions
 * called while staging look names up in their *globals*, so with scratch
 * locals they would not see the names that earlier staged statements
 * bound.  Running in a copy gives staged code exactly the view a fresh
 * import would, and no other thread sees a half-staged module.  The
 * functions staged code creates get the copy as __globals__; APPLY moves
 * them to the real dict (internals.c) before anything can call them.
 *
 * Class statements: while staging, builtins.__build_class__ is a hook.
 * When the body being built is one of the class bodies of the statement
 * being staged and a class of that name already exists (defined by this
 * module), the hook runs the body into a namespace prepared by the
 * existing class's metaclass, records (class, namespace) for APPLY, and
 * returns the existing class: no second class object, no second
 * __init_subclass__, no __set_name__ on a class that will be thrown away.
 */
#include "stage.h"
#include "code.h"
#include "errors.h"
#include "plan.h"
#include "internals.h"
#include "report.h"

#include <string.h>

/* ------------------------------------------------------------------ */
/* the __build_class__ hook                                            */

typedef struct {
    PyObject *klass;     /* strong: the existing class being updated */
    PyObject *body_code; /* borrowed: owned by the staged code */
    HsClassPlan plan;    /* PLAN's record of the class statement */
} ClassFrame;

#define MAX_CLASS_DEPTH 32

typedef struct {
    HsJob *job;
    PyObject *chunk_code; /* borrowed: the staged code running now */
    Py_ssize_t chunk;     /* its index, or -1 in HS_MODE_FULL */
    ClassFrame stack[MAX_CLASS_DEPTH];
    int depth;
} Stage;

/* The staging in progress: hs_stage_run's frame, or NULL.  Only the main
 * thread stages, and batches do not nest (reload.c); a C pointer, no
 * Python object (the original __build_class__ is the hook's `self`, owned
 * by the hook function: a hook kept past staging calls it). */
static Stage *current_stage = NULL;

/* Is `code` one of the class bodies of `parent` (directly, or under the
 * type-parameter scope of a PEP 695 generic class)? */
static int
is_class_body_of(PyObject *parent, PyObject *code)
{
    PyObject *consts = PyObject_GetAttrString(parent, "co_consts");
    if (consts == NULL) {
        return -1;
    }
    int found = 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(consts) && !found; i++) {
        PyObject *c = PyTuple_GET_ITEM(consts, i);
        if (c == code) {
            found = 1;
        }
#if HS_HAVE_TYPE_PARAMS
        else if (PyCode_Check(c)) {
            PyObject *name = PyObject_GetAttrString(c, "co_name");
            if (name == NULL) {
                Py_DECREF(consts);
                return -1;
            }
            const char *s = PyUnicode_AsUTF8(name);
            if (s != NULL && strncmp(s, "<generic parameters of ", 23) == 0) {
                found = is_class_body_of(c, code);
            }
            Py_DECREF(name);
            if (found < 0) {
                Py_DECREF(consts);
                return -1;
            }
        }
#endif
    }
    Py_DECREF(consts);
    return found;
}

static PyObject *
call_original(PyObject *original, PyObject *args, PyObject *kwargs)
{
    return PyObject_Call(original, args, kwargs);
}

PyObject *
hs_stage_class_aliased(HsJob *job, PyObject *name)
{
    PyObject *values = PyDict_Values(job->dict);
    PyObject *found = NULL;
    for (Py_ssize_t i = 0; values && i < PyList_GET_SIZE(values); i++) {
        PyObject *v = PyList_GET_ITEM(values, i), *qual = NULL;
        if (!PyType_Check(v)) {
            continue;
        }
        if (PyObject_GetOptionalAttr(v, job->dunders->qualname, &qual) < 0) {
            break;
        }
        int same = qual != NULL && PyUnicode_Check(qual)
                   && PyUnicode_Compare(qual, name) == 0;
        Py_XDECREF(qual);
        if (PyErr_Occurred()) {
            break;
        }
        if (same) {
            found = Py_NewRef(v);
            break;
        }
    }
    Py_XDECREF(values);
    return found;
}

/* The existing class that a class statement named `name` updates, or NULL
 * (no error) when it creates a new class. */
static PyObject *
existing_class(Stage *st, PyObject *name)
{
    HsJob *job = st->job;
    PyObject *old = NULL;
    if (st->depth == 0) {
        if (PyDict_GetItemRef(job->dict, name, &old) < 0) {
            return NULL;
        }
        if (old == NULL) {
            /* the name was deleted after aliasing the class (`_X = X`,
             * `del X`): the class of that name bound elsewhere in the
             * module (checked to be this module's below) */
            old = hs_stage_class_aliased(job, name);
            if (old == NULL && PyErr_Occurred()) {
                return NULL;
            }
        }
    }
    else {
        PyObject *parent = st->stack[st->depth - 1].klass;
        PyObject *dict = PyObject_GenericGetDict(parent, NULL);
        if (dict == NULL) {
            return NULL;
        }
        old = PyObject_GetItem(dict, name);
        Py_DECREF(dict);
        if (old == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_KeyError)) {
                return NULL;
            }
            PyErr_Clear();
        }
    }
    if (old != NULL && !PyType_Check(old)) {
        /* the name was rebound to an instance of the class (a sentinel:
         * `class _Marker: ...` then `_Marker = _Marker()`): the unedited
         * rebinding keeps that instance, so its class is the one to
         * update, if it is the class this statement made */
        PyObject *t = Py_NewRef((PyObject *)Py_TYPE(old));
        PyObject *qual = NULL;
        int same = PyObject_GetOptionalAttr(t, job->dunders->qualname, &qual);
        if (same >= 0) {
            same = qual != NULL && PyUnicode_Check(qual)
                   && PyUnicode_Compare(qual, name) == 0 && st->depth == 0;
        }
        Py_XDECREF(qual);
        Py_SETREF(old, same > 0 ? t : NULL);
        if (same <= 0) {
            Py_DECREF(t);
            if (same < 0) {
                return NULL;
            }
        }
    }
    if (old == NULL || !PyType_Check(old)) {
        Py_XDECREF(old);
        return NULL;
    }
    /* only classes this module defined (not one it imported under the
     * same name; __module__ may have been rewritten for a re-export) */
    PyObject *qualname = NULL;
    if (st->depth == 0) {
        qualname = Py_NewRef(name);
    }
    else {
        PyObject *pq = PyObject_GetAttr(st->stack[st->depth - 1].klass,
                                        job->dunders->qualname);
        qualname = pq ? PyUnicode_FromFormat("%S.%U", pq, name) : NULL;
        Py_XDECREF(pq);
    }
    int ours = qualname ? hs_plan_is_own_class(job, old, qualname) : -1;
    Py_XDECREF(qualname);
    if (ours != 1) {
        Py_DECREF(old);
        return NULL;
    }
    return old;
}

/* __mro_entries__ resolution, as __build_class__ does it. */
static PyObject *
resolve_bases(PyObject *bases)
{
    PyObject *types = PyImport_ImportModule("types");
    if (types == NULL) {
        return NULL;
    }
    PyObject *r = PyObject_CallMethod(types, "resolve_bases", "(O)", bases);
    Py_DECREF(types);
    return r;
}

/* Classes made by typing's metaclasses (TypedDict, Protocol, NamedTuple)
 * keep derived data (required keys, protocol members, fields) that their
 * metaclass computes from the body.  Build a throw-away class from a copy
 * of the new body so APPLY can take that data from it.  New reference,
 * NULL (no error) for other classes or when the build fails. */
static PyObject *
typing_shadow(const HsDunders *D, PyObject *old, PyObject *name,
              PyObject *bases, PyObject *ns, PyObject *kw)
{
    /* the statement's metaclass: the most derived one of the bases' (a
     * NamedTuple's is typing's, though the class it makes is a plain type) */
    PyObject *meta = (PyObject *)Py_TYPE(old);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(bases); i++) {
        PyTypeObject *t = Py_TYPE(PyTuple_GET_ITEM(bases, i));
        if (PyType_IsSubtype(t, (PyTypeObject *)meta)) {
            meta = (PyObject *)t;
        }
    }
    PyObject *mod = NULL;
    if (PyObject_GetOptionalAttr(meta, D->module, &mod) < 0) {
        return NULL;
    }
    int typing = mod != NULL && PyUnicode_Check(mod)
                 && PyUnicode_CompareWithASCIIString(mod, "typing") == 0;
    Py_XDECREF(mod);
    int proto = 0;
    if (!typing) {
        PyObject *flag = NULL;
        if (PyObject_GetOptionalAttrString(old, "_is_protocol", &flag) < 0) {
            return NULL;
        }
        proto = flag != NULL && PyObject_IsTrue(flag) == 1;
        Py_XDECREF(flag);
    }
    if (!typing && !proto) {
        return NULL;
    }
    PyObject *copy = PyDict_New();
    PyObject *r = NULL;
    if (copy != NULL && PyDict_Merge(copy, ns, 1) == 0) {
        PyObject *args = PyTuple_Pack(3, name, bases, copy);
        r = args ? PyObject_Call(meta, args, kw) : NULL;
        Py_XDECREF(args);
    }
    Py_XDECREF(copy);
    if (r == NULL) {
        /* best effort: the derived data stays as it was (a fatal error
         * stays set, and the caller fails) */
        hs_err_clear_unless_fatal();
    }
    return r;
}

/* The constant a class body stores as __firstlineno__ is the line within
 * the statement's own text: staged code is compiled alone and shifted
 * (hs_code_shift moves code objects, not constants).  The body code's
 * co_firstlineno is the real line, as a fresh import stores it.  In the
 * namespace of a body run for an existing class (`ns`), or on a class the
 * staged statement made anew (`klass`).  0 / -1. */
static int
fix_class_firstlineno(const HsDunders *D, PyObject *body, PyObject *ns,
                      PyObject *klass)
{
#if HS_HAVE_CLASS_FIRSTLINENO
    PyObject *key = D->firstlineno, *cur = NULL, *want = NULL;
    int r = -1;
    PyObject *d = ns ? Py_NewRef(ns) : PyObject_GenericGetDict(klass, NULL);
    int found = d ? PyMapping_GetOptionalItem(d, key, &cur) : -1;
    Py_XDECREF(d);
    if (found <= 0) {
        r = found; /* 0: not there, nothing to fix */
        goto done;
    }
    want = PyLong_FromLong(hs_code_firstlineno(body));
    if (want == NULL) {
        goto done;
    }
    if (!PyLong_Check(cur) || PyObject_RichCompareBool(cur, want, Py_EQ)) {
        r = 0;
        goto done;
    }
    r = ns != NULL ? PyObject_SetItem(ns, key, want)
                   : PyObject_SetAttr(klass, key, want);
done:
    Py_XDECREF(cur);
    Py_XDECREF(want);
    return r;
#else
    (void)D;
    (void)body;
    (void)ns;
    (void)klass;
    return 0;
#endif
}

/* What the hook works out for a class statement whose class exists.
 * It decides nothing: the header verdict is made at APPLY from what is
 * recorded here and PLAN's record of the statement. */
typedef struct {
    const HsDunders *d;  /* borrowed: the job's interned names */
    PyObject *old;       /* strong: the existing class */
    PyObject *resolved;  /* strong: the bases after __mro_entries__ */
    PyObject *given;     /* strong: resolved, or (object,) for "class C:" */
    PyObject *old_bases; /* strong: old.__bases__ */
    PyObject *meta;      /* strong: the metaclass= keyword, or NULL */
    PyObject *kw;        /* strong: the class keywords without metaclass */
    PyObject *ns;        /* strong: the namespace the body runs in */
    PyObject *prepared;  /* strong: a copy of what __prepare__ put in ns, or
                            NULL */
} HookClass;

static void
hook_class_clear(HookClass *hk)
{
    Py_CLEAR(hk->old);
    Py_CLEAR(hk->resolved);
    Py_CLEAR(hk->given);
    Py_CLEAR(hk->old_bases);
    Py_CLEAR(hk->meta);
    Py_CLEAR(hk->kw);
    Py_CLEAR(hk->ns);
    Py_CLEAR(hk->prepared);
}

/* A class statement whose class does not exist: the original
 * __build_class__, with the real __firstlineno__. */
static PyObject *
hook_build_new(const HsDunders *D, PyObject *original, PyObject *body,
               PyObject *args, PyObject *kwargs)
{
    PyObject *result = call_original(original, args, kwargs);
    if (result != NULL && PyType_Check(result)
        && fix_class_firstlineno(D, body, NULL, result) < 0)
    {
        Py_CLEAR(result);
    }
    return result;
}

/* The header, evaluated: sets resolved, given, old_bases, meta and kw.
 * 0 / -1. */
static int
hook_header(HookClass *hk, PyObject *args, PyObject *kwargs)
{
    PyObject *bases = NULL;
    int result = -1;
    bases = PyTuple_GetSlice(args, 2, PyTuple_GET_SIZE(args));
    hk->resolved = bases ? resolve_bases(bases) : NULL;
    hk->old_bases =
        hk->resolved ? PyObject_GetAttr(hk->old, hk->d->bases) : NULL;
    if (hk->old_bases == NULL) {
        goto done;
    }
    /* "class C:" means (object,); its metaclass's __prepare__ still gets
     * the empty bases, as at the first run (enum's EnumType tells `class
     * Enum(metaclass=EnumType)` from a subclass that way) */
    hk->given = PyTuple_GET_SIZE(hk->resolved) == 0
                    ? PyTuple_Pack(1, (PyObject *)&PyBaseObject_Type)
                    : Py_NewRef(hk->resolved);
    if (hk->given == NULL) {
        goto done;
    }
    hk->kw = kwargs ? PyDict_Copy(kwargs) : PyDict_New();
    if (hk->kw == NULL) {
        goto done;
    }
    hk->meta = Py_XNewRef(PyDict_GetItemString(hk->kw, "metaclass"));
    if (hk->meta != NULL && PyDict_DelItemString(hk->kw, "metaclass") < 0) {
        goto done;
    }
    result = 0;
done:
    Py_XDECREF(bases);
    return result;
}

/* The namespace the class's own metaclass prepares for the body, and a
 * copy of what __prepare__ put in it (an enum's inherited
 * _generate_next_value_ is not the body's).  0 / -1. */
static int
hook_prepare(HookClass *hk, PyObject *name)
{
    PyObject *prepare =
        PyObject_GetAttr((PyObject *)Py_TYPE(hk->old), hk->d->prepare);
    PyObject *pargs = prepare ? PyTuple_Pack(2, name, hk->resolved) : NULL;
    hk->ns = pargs ? PyObject_Call(prepare, pargs, hk->kw) : NULL;
    Py_XDECREF(prepare);
    Py_XDECREF(pargs);
    if (hk->ns == NULL) {
        return -1;
    }
    if (PyObject_Size(hk->ns) > 0) {
        hk->prepared = PyDict_New();
        if (hk->prepared == NULL || PyDict_Merge(hk->prepared, hk->ns, 1) < 0)
        {
            return -1;
        }
    }
    else if (PyErr_Occurred()) {
        /* a namespace without a size: nothing known */
        return hs_err_clear_unless_fatal();
    }
    return 0;
}

/* The cell named `key` in the namespace, if any, is set to `value` and
 * taken out of the namespace (type.__new__ would point it at the new
 * class).  0 / -1. */
static int
hook_point_cell(PyObject *ns, PyObject *key, PyObject *value)
{
    if (!PyMapping_Check(ns)) {
        return 0;
    }
    PyObject *cell = NULL;
    int found = PyMapping_GetOptionalItem(ns, key, &cell);
    if (found <= 0) {
        return found;
    }
    int r = PyCell_Check(cell) ? PyCell_Set(cell, value) : 0;
    Py_DECREF(cell);
    if (r < 0 || PyObject_DelItem(ns, key) < 0) {
        return -1;
    }
    return 0;
}

/* After the body ran: its cells see the existing class.  0 / -1. */
static int
hook_point_cells(HookClass *hk)
{
    /* zero-argument super() in the new methods must see the old class */
    if (hook_point_cell(hk->ns, hk->d->classcell, hk->old) < 0) {
        return -1;
    }
#if HS_HAVE_ANNOTATE
    /* 3.14+: the body's __annotate__ reads class-level names through the
     * __classdict__ cell; type.__new__ would point it at the new class's
     * dict and drop it from the namespace.  Point it at the live class's
     * dict, the one the annotations of a fresh import would read. */
    PyObject *tdict = PyType_GetDict((PyTypeObject *)hk->old);
    if (tdict == NULL) {
        return -1;
    }
    int r = hook_point_cell(hk->ns, hk->d->classdictcell, tdict);
    Py_DECREF(tdict);
    return r;
#else
    return 0;
#endif
}

/* Record the class update for APPLY (job->staged.class_updates), with the
 * class a typing metaclass builds from the namespace (whose bases are the ones
 * it really gives: TypedDict's dict).  0 / -1. */
static int
hook_record(Stage *st, HookClass *hk, PyObject *name, HsClassPlan *cp)
{
    HsJob *job = st->job;
    PyObject *shadow =
        typing_shadow(hk->d, hk->old, name, hk->resolved, hk->ns, hk->kw);
    if (shadow == NULL && PyErr_Occurred()) {
        return -1;
    }
    if (job->staged.n_class_updates == job->staged.cap_class_updates) {
        Py_ssize_t cap = job->staged.cap_class_updates
                             ? 2 * job->staged.cap_class_updates
                             : 8;
        HsClassUpdate *items = PyMem_Realloc(
            job->staged.class_updates, (size_t)cap * sizeof(HsClassUpdate));
        if (items == NULL) {
            Py_XDECREF(shadow);
            PyErr_NoMemory();
            return -1;
        }
        job->staged.class_updates = items;
        job->staged.cap_class_updates = cap;
    }
    job->staged.class_updates[job->staged.n_class_updates++] = (HsClassUpdate){
        .klass = Py_NewRef(hk->old),
        .ns = Py_NewRef(hk->ns),
        .bases = Py_NewRef(hk->given),
        .old_bases = Py_NewRef(hk->old_bases),
        .metaclass = Py_XNewRef(hk->meta),
        .keywords = Py_NewRef(hk->kw),
        .shadow = shadow,
        .prepared = Py_XNewRef(hk->prepared),
        .plan = *cp,
    };
    /* the update owns the plan now */
    memset(&cp->members, 0, sizeof(cp->members));
    return 0;
}

/* builtins.__build_class__ while staging: a class body of the staged
 * statement whose class exists runs into a namespace for that class,
 * recorded for APPLY; the existing class is the statement's result.
 * Anything else goes to the original. */
static PyObject *
build_class_hook(PyObject *self, PyObject *args, PyObject *kwargs)
{
    Stage *st = current_stage;
    HookClass hk = {0};
    PyObject *cell = NULL, *result = NULL;
    if (st == NULL || PyTuple_GET_SIZE(args) < 2
        || st->depth >= MAX_CLASS_DEPTH)
    {
        return call_original(self, args, kwargs);
    }
    PyObject *func = PyTuple_GET_ITEM(args, 0);
    PyObject *name = PyTuple_GET_ITEM(args, 1);
    if (!PyFunction_Check(func) || !PyUnicode_Check(name)) {
        return call_original(self, args, kwargs);
    }
    PyObject *body = PyFunction_GET_CODE(func);
    const HsDunders *D = st->job->dunders;
    hk.d = D;
    PyObject *parent =
        st->depth == 0 ? st->chunk_code : st->stack[st->depth - 1].body_code;
    int mine = is_class_body_of(parent, body);
    if (mine <= 0) {
        return mine < 0 ? NULL : call_original(self, args, kwargs);
    }
    hk.old = existing_class(st, name);
    if (hk.old == NULL) {
        return PyErr_Occurred() ? NULL
                                : hook_build_new(D, self, body, args, kwargs);
    }
    if (hook_header(&hk, args, kwargs) < 0 || hook_prepare(&hk, name) < 0) {
        goto done;
    }
    ClassFrame *fr = &st->stack[st->depth];
    fr->klass = Py_NewRef(hk.old);
    fr->body_code = body;
    if (hs_plan_class(st->job, st->chunk,
                      st->depth ? &st->stack[st->depth - 1].plan : NULL, name,
                      &fr->plan)
        < 0)
    {
        Py_CLEAR(fr->klass);
        hs_plan_class_clear(&fr->plan);
        goto done;
    }
    st->depth++;
    cell = PyEval_EvalCodeEx(
        body, PyFunction_GET_GLOBALS(func), hk.ns, NULL, 0, NULL, 0, NULL, 0,
        PyFunction_GET_KW_DEFAULTS(func), PyFunction_GET_CLOSURE(func));
    st->depth--;
    Py_CLEAR(fr->klass);
    if (cell == NULL || fix_class_firstlineno(D, body, hk.ns, NULL) < 0
        || hook_point_cells(&hk) < 0
        || hook_record(st, &hk, name, &fr->plan) < 0)
    {
        hs_plan_class_clear(&fr->plan);
        goto done;
    }
    result = Py_NewRef(hk.old);
done:
    hook_class_clear(&hk);
    Py_XDECREF(cell);
    return result;
}

static PyMethodDef hook_def = {
    "__build_class__",
    (PyCFunction)(void (*)(void))build_class_hook,
    METH_VARARGS | METH_KEYWORDS,
    "hotswap's staging __build_class__ (routes class statements to the "
    "existing classes)",
};

/* ------------------------------------------------------------------ */
/* running                                                             */

static int
run_code(Stage *st, PyObject *code, Py_ssize_t chunk)
{
    st->chunk_code = code;
    st->chunk = chunk;
    st->depth = 0;
    PyObject *r = PyEval_EvalCode(code, st->job->staged.scratch,
                                  st->job->staged.scratch);
    st->chunk_code = NULL;
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

/* Are the module's annotations stored by its statements into a dict? */
int
hs_stage_eager_annotations(HsJob *job)
{
#if HS_HAVE_ANNOTATE
    return (job->plan.cf_flags & CO_FUTURE_ANNOTATIONS) != 0;
#else
    (void)job;
    return 1;
#endif
}

/* Does the top level of `code` name __annotations__?  1 / 0 / -1. */
int
hs_stage_code_names_annotations(PyObject *code)
{
    PyObject *names = PyObject_GetAttrString(code, "co_names");
    if (names == NULL) {
        return -1;
    }
    int r = 0;
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(names); k++) {
        PyObject *n = PyTuple_GET_ITEM(names, k);
        if (PyUnicode_Check(n)
            && PyUnicode_CompareWithASCIIString(n, "__annotations__") == 0)
        {
            r = 1;
            break;
        }
    }
    Py_DECREF(names);
    return r;
}

/* Eager module annotations: the statement stores them into a dict of its
 * own (kept in job->staged.ann_eager for annotate.c), not into the live
 * module's
 * __annotations__ dict, which the scratch copy shares: a failed batch must
 * leave it untouched, and a removed statement's entries must go.  The
 * statements staged after it see the module's dict again. */
static int
run_chunk(Stage *st, PyObject *code, Py_ssize_t chunk)
{
    HsJob *job = st->job;
    int names = hs_stage_eager_annotations(job)
                    ? hs_stage_code_names_annotations(code)
                    : 0;
    if (names <= 0) {
        return names < 0 ? -1 : run_code(st, code, chunk);
    }
    PyObject *live = NULL, *mine = PyDict_New();
    PyObject *name = PyUnicode_FromString("__annotations__");
    int got = name ? PyDict_GetItemRef(job->staged.scratch, name, &live) : -1;
    Py_XDECREF(name);
    if (mine == NULL || got < 0
        || PyDict_SetItemString(job->staged.scratch, "__annotations__", mine)
               < 0)
    {
        Py_XDECREF(mine);
        Py_XDECREF(live);
        return -1;
    }
    int r = run_code(st, code, chunk);
    PyObject *exc = r < 0 ? PyErr_GetRaisedException() : NULL;
    int w = live
                ? PyDict_SetItemString(job->staged.scratch, "__annotations__",
                                       live)
                : PyDict_DelItemString(job->staged.scratch, "__annotations__");
    if (w == 0 && r == 0) {
        PyObject *idx = PyLong_FromSsize_t(chunk);
        if (job->staged.ann_eager == NULL) {
            job->staged.ann_eager = PyDict_New();
        }
        w = idx && job->staged.ann_eager
                ? PyDict_SetItem(job->staged.ann_eager, idx, mine)
                : -1;
        Py_XDECREF(idx);
    }
    Py_DECREF(mine);
    Py_XDECREF(live);
    if (exc != NULL) {
        if (w < 0) {
            PyErr_WriteUnraisable(NULL);
        }
        PyErr_SetRaisedException(exc);
        return -1;
    }
    return w < 0 ? -1 : 0;
}

/* 3.14+: a statement compiled alone that holds module-level annotations
 * bound its own __annotate__ and __conditional_annotations__ (the indices,
 * local to the statement, of the annotations that ran).  Keep the set for
 * annotate.c, which builds the module's from the whole new source, and
 * put the module's own values back for the statements after it. */
static int
take_annotation_set(HsJob *job, Py_ssize_t i)
{
#if HS_HAVE_ANNOTATE
    static const char *const names[] = {"__conditional_annotations__",
                                        "__annotate__"};
    for (int k = 0; k < 2; k++) {
        PyObject *mine = NULL, *live = NULL;
        if (PyDict_GetItemStringRef(job->staged.scratch, names[k], &mine) < 0
            || PyDict_GetItemStringRef(job->dict, names[k], &live) < 0)
        {
            Py_XDECREF(mine);
            return -1;
        }
        int r = 0;
        if (mine != live) {
            if (k == 0 && mine != NULL) {
                PyObject *idx = PyLong_FromSsize_t(i);
                if (job->staged.ann_sets == NULL) {
                    job->staged.ann_sets = PyDict_New();
                }
                r = idx && job->staged.ann_sets
                        ? PyDict_SetItem(job->staged.ann_sets, idx, mine)
                        : -1;
                Py_XDECREF(idx);
            }
            if (r == 0) {
                r = live ? PyDict_SetItemString(job->staged.scratch, names[k],
                                                live)
                         : PyDict_DelItemString(job->staged.scratch, names[k]);
            }
        }
        Py_XDECREF(mine);
        Py_XDECREF(live);
        if (r < 0) {
            return -1;
        }
    }
#else
    (void)job;
    (void)i;
#endif
    return 0;
}

/* What a staged `def` bound, right after it ran: a later statement may
 * bind the same name again (@f.register def _(...) several times). */
static int
record_def_result(HsJob *job, Py_ssize_t i)
{
    HsChunk *c = &job->src.chunks.items[i];
    if (c->kind != HS_CHUNK_DEF || c->name_len == 0) {
        return 0;
    }
    const char *text = PyBytes_AS_STRING(job->src.text);
    PyObject *name =
        PyUnicode_DecodeUTF8(text + c->name, c->name_len, "strict");
    if (name == NULL) {
        return -1;
    }
    PyObject *v = PyDict_GetItemWithError(job->staged.scratch, name);
    Py_DECREF(name);
    if (v == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    PyObject *rec = Py_BuildValue("(nO)", i, v);
    if (rec == NULL) {
        return -1;
    }
    int r = PyList_Append(job->staged.def_results, rec);
    Py_DECREF(rec);
    return r;
}

/* What a later staged statement sees under a name a staged def or class
 * bound.  The staged def of a function whose decorators did not change
 * binds the bare function (the decorators are not run again), and a class
 * statement binds the live class; but the module keeps binding what it
 * binds now: the decorated object, or what a later unchanged statement
 * made of the name (`_auto_null = _auto_null()` after `class _auto_null`
 * in enum).  A fresh import's later statements see that object: a class
 * body subscripting `@_SpecialForm def Union` (typing's BinaryIO), a
 * default `value=_auto_null`.  So once the statement that makes the live
 * binding has run (the def itself when its decorators make it, else the
 * later unchanged one), the live binding takes the scratch name, and the
 * staged value is put back when staging ends (APPLY patches the live
 * objects from it), unless a later statement bound the name again.
 *
 * A record per such name: (name, staged value, live value, index of the
 * chunk after which the live value holds, exposed?). */
typedef struct {
    PyObject *list;     /* strong: list of [name, staged, live, k, exposed] */
    Py_ssize_t pending; /* records of list not exposed yet */
    /* the kept chunks (staged ones bind what they bind when they run),
     * indexed once for stage_later_binder: a scan of every later chunk per
     * decorated def is quadratic when every statement changed */
    PyObject *named;   /* strong dict, or NULL until needed: name -> list of
                        * the indices of the kept def, class and assignment
                        * chunks of that name, ascending */
    Py_ssize_t *other; /* PyMem: the other kept chunks, ascending */
    Py_ssize_t nother;
} Exposure;

static int
exposure_index(HsJob *job, Exposure *ex)
{
    const char *text = PyBytes_AS_STRING(job->src.text);
    ex->named = PyDict_New();
    ex->other =
        PyMem_New(Py_ssize_t, job->src.chunks.len ? job->src.chunks.len : 1);
    if (ex->named == NULL || ex->other == NULL) {
        if (ex->other == NULL) {
            PyErr_NoMemory();
        }
        return -1;
    }
    for (Py_ssize_t k = 0; k < job->src.chunks.len; k++) {
        HsChunk *c = &job->src.chunks.items[k];
        if (PyList_GET_ITEM(job->plan.codes, k) != Py_None) {
            continue;
        }
        if (c->kind != HS_CHUNK_DEF && c->kind != HS_CHUNK_CLASS
            && c->kind != HS_CHUNK_ASSIGN)
        {
            ex->other[ex->nother++] = k;
            continue;
        }
        if (c->name_len == 0) {
            continue; /* binds no name hs_plan_kept_chunk_binds knows */
        }
        PyObject *n = hs_plan_chunk_name(text, c), *at = NULL, *list = NULL;
        int r = -1;
        if (n != NULL && (at = PyLong_FromSsize_t(k)) != NULL
            && PyDict_GetItemRef(ex->named, n, &list) >= 0)
        {
            if (list == NULL) {
                list = PyList_New(0);
                r = list ? PyDict_SetItem(ex->named, n, list) : -1;
            }
            else {
                r = 0;
            }
            if (r == 0) {
                r = PyList_Append(list, at);
            }
        }
        Py_XDECREF(n);
        Py_XDECREF(at);
        Py_XDECREF(list);
        if (r < 0) {
            return -1;
        }
    }
    return 0;
}

/* The kept chunk after ci that binds `name` again, or -1.  -2 error.
 * What hs_plan_kept_chunk_binds on every later kept chunk would find. */
static Py_ssize_t
stage_later_binder(HsJob *job, Exposure *ex, Py_ssize_t ci, PyObject *name)
{
    if (ex->named == NULL && exposure_index(job, ex) < 0) {
        return -2;
    }
    Py_ssize_t first = -1;
    PyObject *list = PyDict_GetItemWithError(ex->named, name); /* borrowed */
    if (list == NULL && PyErr_Occurred()) {
        return -2;
    }
    for (Py_ssize_t w = 0; list != NULL && w < PyList_GET_SIZE(list); w++) {
        Py_ssize_t k = PyLong_AsSsize_t(PyList_GET_ITEM(list, w));
        if (k > ci) {
            first = k;
            break;
        }
    }
    for (Py_ssize_t w = 0; w < ex->nother; w++) {
        Py_ssize_t k = ex->other[w];
        if (k <= ci) {
            continue;
        }
        if (first >= 0 && k > first) {
            break;
        }
        int r = hs_plan_kept_chunk_binds(job, k, name);
        if (r != 0) {
            return r < 0 ? -2 : k;
        }
    }
    return first;
}

/* Does `live` look like what the statement itself makes (a function of
 * this module named `name`, a class named `name`)?  Then no later
 * statement made something else of it.  Cheap, no search. */
static int
looks_made_by_statement(HsJob *job, PyObject *live, PyObject *name)
{
    PyObject *n = NULL;
    if (PyFunction_Check(live)) {
        if (PyFunction_GET_GLOBALS(live) != job->dict) {
            return 0;
        }
        n = PyObject_GetAttrString(PyFunction_GET_CODE(live), "co_name");
    }
    else if (PyType_Check(live)) {
        n = PyObject_GetAttr(live, job->dunders->name);
    }
    else {
        return 0;
    }
    int r = n != NULL && PyUnicode_Check(n) && PyUnicode_Compare(n, name) == 0;
    Py_XDECREF(n);
    if (n == NULL) {
        /* a metaclass's __name__ that fails: not made so */
        r = hs_err_clear_unless_fatal();
    }
    return r;
}

static int
stage_expose_one(HsJob *job, PyObject *rec)
{
    PyObject *name = PyList_GET_ITEM(rec, 0);
    PyObject *now = PyDict_GetItemWithError(job->staged.scratch, name);
    if (now == NULL && PyErr_Occurred()) {
        return -1;
    }
    if (PyList_SetItem(rec, 4, Py_NewRef(Py_True)) < 0) {
        return -1;
    }
    if (now != PyList_GET_ITEM(rec, 1)) {
        return 0; /* bound again by a staged statement since */
    }
    return PyDict_SetItem(job->staged.scratch, name, PyList_GET_ITEM(rec, 2));
}

/* Chunk ci just ran: note the name it bound, exposed now or later. */
static int
stage_note_binding(HsJob *job, Exposure *ex, Py_ssize_t ci)
{
    HsChunk *c = &job->src.chunks.items[ci];
    if ((c->kind != HS_CHUNK_DEF && c->kind != HS_CHUNK_CLASS)
        || c->name_len == 0 || job->plan.match[ci] < 0)
    {
        return 0;
    }
    const char *text = PyBytes_AS_STRING(job->src.text);
    PyObject *name =
        PyUnicode_DecodeUTF8(text + c->name, c->name_len, "strict");
    PyObject *live = NULL, *staged = NULL, *rec = NULL, *at = NULL;
    int r = -1;
    if (name == NULL || PyDict_GetItemRef(job->dict, name, &live) < 0
        || PyDict_GetItemRef(job->staged.scratch, name, &staged) < 0)
    {
        goto done;
    }
    r = 0;
    if (live == NULL || staged == NULL || live == staged) {
        goto done;
    }
    int made = looks_made_by_statement(job, live, name);
    if (made != 0) {
        r = made < 0 ? -1 : 0;
        goto done;
    }
    r = -1;
    Py_ssize_t k = stage_later_binder(job, ex, ci, name);
    if (k == -2) {
        goto done;
    }
    if (k < 0) {
        /* none: the def's own decorators made the live binding, if they
         * were left out; else the program rebound the name itself */
        int decorated = c->kind == HS_CHUNK_DEF
                        && job->plan.deco[ci] == HS_DECO_KEPT
                        && c->head > c->start;
        if (!decorated) {
            r = 0;
            goto done;
        }
        k = ci;
    }
    at = PyLong_FromSsize_t(k);
    rec = at ? PyList_New(5) : NULL;
    if (rec == NULL) {
        goto done;
    }
    PyList_SET_ITEM(rec, 0, Py_NewRef(name));
    PyList_SET_ITEM(rec, 1, Py_NewRef(staged));
    PyList_SET_ITEM(rec, 2, Py_NewRef(live));
    PyList_SET_ITEM(rec, 3, Py_NewRef(at));
    PyList_SET_ITEM(rec, 4, Py_NewRef(Py_False));
    if (PyList_Append(ex->list, rec) < 0) {
        goto done;
    }
    if (k != ci) {
        ex->pending++;
    }
    r = k == ci ? stage_expose_one(job, rec) : 0;
done:
    Py_XDECREF(name);
    Py_XDECREF(live);
    Py_XDECREF(staged);
    Py_XDECREF(rec);
    Py_XDECREF(at);
    return r;
}

/* Chunk j is about to run: the live bindings made by kept statements
 * before it take their names. */
static int
stage_expose_due(HsJob *job, Exposure *ex, Py_ssize_t j)
{
    for (Py_ssize_t i = 0; ex->pending > 0 && i < PyList_GET_SIZE(ex->list);
         i++)
    {
        PyObject *rec = PyList_GET_ITEM(ex->list, i);
        if (PyList_GET_ITEM(rec, 4) == Py_False
            && PyLong_AsSsize_t(PyList_GET_ITEM(rec, 3)) < j)
        {
            if (stage_expose_one(job, rec) < 0) {
                return -1;
            }
            ex->pending--;
        }
    }
    return 0;
}

/* Staging ended: the staged values back where the live ones stand in. */
static int
stage_restore_staged(HsJob *job, Exposure *ex)
{
    for (Py_ssize_t i = PyList_GET_SIZE(ex->list) - 1; i >= 0; i--) {
        PyObject *rec = PyList_GET_ITEM(ex->list, i);
        PyObject *name = PyList_GET_ITEM(rec, 0);
        PyObject *now = PyDict_GetItemWithError(job->staged.scratch, name);
        if (now == NULL && PyErr_Occurred()) {
            return -1;
        }
        if (now == PyList_GET_ITEM(rec, 2)
            && PyDict_SetItem(job->staged.scratch, name,
                              PyList_GET_ITEM(rec, 1))
                   < 0)
        {
            return -1;
        }
    }
    return 0;
}

int
hs_stage_run(HsJob *job)
{
    PyObject *builtins = PyEval_GetBuiltins(); /* borrowed */
    PyObject *hook = NULL;
    Exposure ex = {NULL, 0, NULL, NULL, 0};
    int result = -1;
    if (current_stage != NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "hotswap: staged code started another reload");
        return -1;
    }
    job->staged.scratch = PyDict_Copy(job->dict);
    job->staged.def_results = PyList_New(0);
    if (job->staged.scratch == NULL || job->staged.def_results == NULL) {
        return -1;
    }
    PyObject *original = NULL; /* strong: __build_class__ before */
    if (PyDict_GetItemStringRef(builtins, "__build_class__", &original) <= 0) {
        if (original == NULL && !PyErr_Occurred()) {
            PyErr_SetString(PyExc_RuntimeError, "builtins.__build_class__ "
                                                "is missing");
        }
        return -1;
    }
    hook = PyCFunction_New(&hook_def, original); /* self: the original */
    if (hook == NULL
        || PyDict_SetItemString(builtins, "__build_class__", hook) < 0)
    {
        Py_DECREF(original);
        Py_XDECREF(hook);
        return -1;
    }
    Stage st;
    memset(&st, 0, sizeof(st));
    st.job = job;
    current_stage = &st;

    if (job->plan.mode == HS_MODE_FULL) {
        if (run_chunk(&st, job->plan.full_code, -1) < 0) {
            goto done;
        }
    }
    else {
        ex.list = PyList_New(0);
        if (ex.list == NULL) {
            goto done;
        }
        for (Py_ssize_t i = 0; i < job->src.chunks.len; i++) {
            PyObject *code = PyList_GET_ITEM(job->plan.codes, i);
            if (code == Py_None) {
                continue;
            }
            if (stage_expose_due(job, &ex, i) < 0
                || run_chunk(&st, code, i) < 0
                || take_annotation_set(job, i) < 0
                || record_def_result(job, i) < 0
                || stage_note_binding(job, &ex, i) < 0)
            {
                goto done;
            }
        }
        if (stage_restore_staged(job, &ex) < 0) {
            goto done;
        }
    }
    result = 0;
done:
    Py_XDECREF(ex.list);
    Py_XDECREF(ex.named);
    PyMem_Free(ex.other);
    current_stage = NULL;
    {
        PyObject *exc = PyErr_GetRaisedException();
        if (PyDict_SetItemString(builtins, "__build_class__", original) < 0) {
            PyErr_WriteUnraisable(NULL);
        }
        PyErr_SetRaisedException(exc);
    }
    Py_DECREF(original);
    Py_XDECREF(hook);
    return result;
}
