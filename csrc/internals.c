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
