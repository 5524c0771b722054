/* errors.h -- which exceptions a best-effort step may swallow.
 *
 * Main thread, GIL held.  The core's error idiom is in docs/architecture.md
 * ("Errors"): a check that expects one exception clears that one only
 * (PyErr_ExceptionMatches, or the shims of compat.h that do not raise:
 * PyObject_GetOptionalAttr, PyDict_GetItemRef, PyObject_HasAttrWithError,
 * PyMapping_HasKeyWithError).  Where any error of a user's code is
 * swallowed on purpose (a user's __eq__ that raises means "changed", a
 * report that must not fail), hs_err_clear_unless_fatal() does it, and
 * never swallows a MemoryError nor a KeyboardInterrupt/SystemExit: those
 * are not an answer about the user's object, and turning them into
 * "not equal" or "absent" would make a silent wrong decision.  Its caller
 * propagates the -1; the batch then fails and is rolled back.
 */
#ifndef HS_ERRORS_H
#define HS_ERRORS_H

#include "compat.h"

/* Is the raised exception one no best-effort step may swallow: a
 * MemoryError, or a BaseException that is not an Exception
 * (KeyboardInterrupt, SystemExit, GeneratorExit)?  An error must be set. */
static inline int
hs_err_is_fatal(void)
{
    return PyErr_ExceptionMatches(PyExc_MemoryError)
           || !PyErr_ExceptionMatches(PyExc_Exception);
}

/* A best-effort step failed: clear its exception and return 0, unless it
 * is fatal (above): then keep it set and return -1 for the caller to
 * propagate.  0 when no error is set. */
static inline int
hs_err_clear_unless_fatal(void)
{
    if (PyErr_Occurred() == NULL) {
        return 0;
    }
    if (hs_err_is_fatal()) {
        return -1;
    }
    PyErr_Clear(); /* swallow: the caller's best-effort step, said there */
    return 0;
}

#endif /* HS_ERRORS_H */
