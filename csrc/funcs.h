/* funcs.h -- function patching rules. */
#ifndef HS_FUNCS_H
#define HS_FUNCS_H

#include "compat.h"
#include "code.h"
#include "heap.h"
#include "txn.h"

typedef enum {
    HS_PATCH_NOOP = 0, /* nothing differed; nothing written */
    HS_PATCH_UPDATED,  /* new code and/or metadata swapped in */
    HS_PATCH_MOVED,    /* same code, new line numbers */
    HS_PATCH_KIND,     /* generator/coroutine kind differs: replace */
    HS_PATCH_FREEVARS, /* new code needs a free variable old lacks */
} HsPatchResult;

/* Which functions hs_func_held() collects: those a `def` of this module
 * made (globals `globals`, not nested in another function: closures made
 * by an outer function follow that function's code instead) whose code
 * has the given name, file and first line.  All borrowed. */
typedef struct {
    PyObject *globals;  /* the module dict they run in */
    PyObject *name;     /* co_name, or NULL for any */
    PyObject *filename; /* co_filename, or NULL for any */
    int first, last;    /* co_firstlineno in [first, last]; 0: any */
    int max_found;      /* stop after so many (0: all) */
} HsHeldQuery;

/* Follow wrappers (functools.wraps' __wrapped__, closure cells,
 * classmethod/staticmethod __func__, property fget, partial.func) from
 * `obj` to the function named `name` whose globals are `globals`.
 * New reference, or NULL: with an exception set on error, without one when
 * there is none. */
PyObject *hs_func_find(PyObject *obj, PyObject *globals, PyObject *name);

/* The functions `q` asks for that `obj` holds: reached from it through
 * the references the collector sees (attributes, private ones included,
 * closure cells, partial and bound-method targets, descriptors' functions,
 * __wrapped__), at most a few levels deep, never through classes, modules,
 * code objects, module dicts or large containers.  This is how a function
 * is found inside a decorator object that keeps it in an attribute of its
 * own (`self._fn = fn`).  New list, or NULL with an exception set. */
PyObject *hs_func_held(PyObject *obj, const HsHeldQuery *q);

/* The function that the `def name` statement starting (first decorator
 * included) at `line` made, held by `obj` (hs_func_held; line 0: any
 * line).  A decorator's wrapper closure of the same name is not it.  When
 * none is held so, whatever hs_func_find() finds.  New reference, or NULL:
 * with an exception set on error, without one when there is none. */
PyObject *hs_func_find_def(PyObject *obj, PyObject *globals,
                           PyObject *filename, PyObject *name, int line);

/* Patch the live function `old` to run `new_code`, taking defaults,
 * annotations, doc and type params from `new_func` when it is given and
 * they differ.  Closure cells are matched by free-variable name (cells of
 * `old` first, then of `new_func`).  Pairs of nested code objects that
 * differ are added to `nested` (a dict id(old) -> (old, new)) when it is
 * not NULL.  Returns an HsPatchResult, or -1 with an exception set. */
/* The function a non-def statement at lines [first, last] made, held by
 * `obj`: its code starts in those lines, or (lines unknown, first 0) it is
 * named `name`.  A function the statement only names is not one.  New
 * reference, or NULL (exception set on error). */
PyObject *hs_func_find_made(PyObject *obj, PyObject *globals,
                            PyObject *filename, PyObject *name, int first,
                            int last);

int hs_func_patch(HsTxn *txn, PyObject *old, PyObject *new_code,
                  PyObject *new_func, PyObject *nested);

/* `shifted` is the function's code with new line numbers only
 * (hs_code_shift): swap it in without comparing, and pair the nested
 * code objects by position into `nested`.  0 / -1. */
int hs_func_move(HsTxn *txn, PyObject *func, PyObject *shifted,
                 PyObject *nested);

/* A statement only moved by `delta` lines: move every function `q` finds
 * held by `obj` (hs_func_held: q's lines are the statement's old ones)
 * that this batch has not written yet.  A function reachable under
 * several names (`next = __next__`, `property(_get)`, `A.f = B.f = f`)
 * moves once.  0 / -1. */
int hs_func_shift_held(HsTxn *txn, PyObject *obj, const HsHeldQuery *q,
                       int delta, PyObject *nested);

/* Add the pairs of nested code objects of old_code/new_code that differ
 * (matched by name and order) to `nested`, recursively.  0 / -1. */
int hs_code_pair_nested(PyObject *old_code, PyObject *new_code,
                        PyObject *nested);

/* Swap the new code into every live function (found in the batch's walk,
 * `heap`) whose code is an old code of `nested`.  `rejected` (a list)
 * receives (old code, qualname) for the old code objects whose live
 * closures could not take the new code (HS104).  Returns the number of
 * functions patched, or -1 with an exception set. */
Py_ssize_t hs_func_patch_live(HsTxn *txn, HsHeap *heap, PyObject *nested,
                              PyObject *rejected);

/* Remember that `func` runs `code` and must follow whatever that code is
 * replaced by later, even when nothing else leads to it (the function
 * inside an old decorator after the decorators changed: HS102).
 * `wrapper` (may be NULL): the old decorated object, whose caches are
 * cleared whenever `func` changes.  0 / -1. */
int hs_func_alias(HsTxn *txn, PyObject *func, PyObject *code,
                  PyObject *wrapper);

/* After the decorators of a definition changed (HS102): `fo`, the
 * function inside the old decorated object `old`, was patched to the code
 * of `fn`, the one inside the new object.  It follows that code in later
 * reloads, and `old`'s caches are cleared.  0 / -1. */
int hs_func_follow_replacement(HsTxn *txn, PyObject *old, PyObject *fo,
                               PyObject *fn);

/* If `obj` is a caching wrapper (functools.lru_cache / cache), clear it.
 * 0 / -1. */
int hs_func_clear_cache(PyObject *obj);

#endif
