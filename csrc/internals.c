/* internals.c -- the only file that writes CPython struct fields.
 *
 * Main thread, GIL held.  Every write here has no public setter; each one
 * states the invariant it keeps and the versions it was checked against
 * (../shared/reference/cpython_internals.md, section 1.6).
 */
#include "internals.h"

void
hs_function_rebase_globals(PyObject *func, PyObject *globals)
{
    /* func_globals has no setter (READONLY member in 3.9-3.13).  The
     * staging stage runs new code in a copy of the module dict so that no
     * other thread sees a half-staged module; the functions it creates are
     * moved onto the real dict here, before anything can call them.
     *
     * Invariants kept:
     * - no frame borrows the old globals: the function was created by
     *   staged code that has finished, and has not been called since
     *   (3.11+ frames borrow f_globals from the function);
     * - func_builtins (3.10+) is derived from globals["__builtins__"]: the
     *   staging dict is a copy of the module dict, so both hold the same
     *   __builtins__ object and func_builtins stays right;
     * - func_module was taken from globals["__name__"], equal in both.
     * Specialised call sites key on the function version, not on globals,
     * and LOAD_GLOBAL caches check the dict keys version of the frame's
     * globals, so nothing cached goes stale. */
    PyFunctionObject *f = (PyFunctionObject *)func;
    if (f->func_globals == globals) {
        return;
    }
    Py_SETREF(f->func_globals, Py_NewRef(globals));
}

int
hs_code_flags(PyObject *code)
{
    return ((PyCodeObject *)code)->co_flags;
}

int
hs_code_firstlineno(PyObject *code)
{
    return ((PyCodeObject *)code)->co_firstlineno;
}

int
hs_object_traverse(PyObject *obj, visitproc visit, void *arg)
{
    /* What gc.get_referents() does, without building a list per object. */
    traverseproc traverse = Py_TYPE(obj)->tp_traverse;
    if (!PyObject_IS_GC(obj) || traverse == NULL) {
        return 0;
    }
    return traverse(obj, visit, arg);
}

#if HS_REVERSION_FUNCTIONS
/* Declared in Include/internal/pycore_function.h (3.13+) as PyAPI_FUNC, so
 * exported, but behind Py_BUILD_CORE. */
PyAPI_FUNC(void)
    _PyFunction_SetVersion(PyFunctionObject *func, uint32_t version);
#endif

void
hs_function_reversion(PyObject *func)
{
#if HS_REVERSION_FUNCTIONS
    /* 3.13+: MAKE_FUNCTION gives a function the version of its code object
     * (co_version), and every function setter resets it (3.13: to 0;
     * 3.14+: to FUNC_VERSION_CLEARED), which is permanent: such a function
     * is never call-specialised again (SPEC_FAIL_OUT_OF_VERSIONS; measured
     * in the reference notes, 2.2).
     * After a swap, the function runs exactly what a function freshly made
     * from the new code object runs: its code's version describes it, so
     * give it that version, as MAKE_FUNCTION would.  Specialisations key on
     * the version and re-check the code's argument counts; the version
     * cache slot (version -> function, code) is rewritten by
     * _PyFunction_SetVersion to point at this function and its code.
     * Free-threaded builds disable the cache and are not supported here. */
    PyFunctionObject *f = (PyFunctionObject *)func;
    PyCodeObject *co = (PyCodeObject *)f->func_code;
    if (f->func_version < HS_FUNC_VERSION_FIRST_VALID
        && co->co_version >= HS_FUNC_VERSION_FIRST_VALID)
    {
        _PyFunction_SetVersion(f, co->co_version);
    }
#else
    (void)func;
#endif
}

PyObject *
hs_function_annotations_raw(PyObject *func)
{
#if HS_HAVE_ANNOTATE
    /* 3.14+: func_annotations is the cache __annotate__ filled, or the
     * dict the compiler built eagerly (from __future__ import annotations);
     * PyFunction_GetAnnotations would call __annotate__ to fill it. */
    return ((PyFunctionObject *)func)->func_annotations;
#else
    /* 3.10-3.13: normalises the compiler's flat tuple form to the dict the
     * getter returns; never evaluates anything. */
    return PyFunction_GetAnnotations(func);
#endif
}
