/* compat.h -- every CPython version test of the project lives here.
 *
 * Shims keep the name and contract of the real API they stand in for, and
 * say which version added it.  No other file tests PY_VERSION_HEX.
 */
#ifndef HS_COMPAT_H
#define HS_COMPAT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#if PY_VERSION_HEX >= 0x030D0000
#include "opcode_ids.h"
#else
#include "opcode.h"
#endif

/* Py_NewRef / Py_XNewRef: added in 3.10. */
#if PY_VERSION_HEX < 0x030A0000
static inline PyObject *
hs_compat_newref(PyObject *o)
{
    Py_INCREF(o);
    return o;
}
static inline PyObject *
hs_compat_xnewref(PyObject *o)
{
    Py_XINCREF(o);
    return o;
}
#define Py_NewRef(o) hs_compat_newref((PyObject *)(o))
#define Py_XNewRef(o) hs_compat_xnewref((PyObject *)(o))
#endif

/* PyObject_GC_IsTracked is 3.9+, fine.  PyModule_AddObjectRef: 3.10. */
#if PY_VERSION_HEX < 0x030A0000
static inline int
PyModule_AddObjectRef(PyObject *mod, const char *name, PyObject *value)
{
    Py_INCREF(value);
    if (PyModule_AddObject(mod, name, value) < 0) {
        Py_DECREF(value);
        return -1;
    }
    return 0;
}
#endif

/* The shims' "absent" answer: the one exception that means absent is
 * cleared (0); any other stays set (-1). */
static inline int
hs_compat_absent(PyObject *exc)
{
    if (PyErr_ExceptionMatches(exc)) {
        PyErr_Clear();
        return 0;
    }
    return -1;
}

/* PyObject_GetOptionalAttrString: 3.13.  1 found, 0 absent (no error),
 * -1 error. */
#if PY_VERSION_HEX < 0x030D0000
static inline int
PyObject_GetOptionalAttrString(PyObject *obj, const char *name,
                               PyObject **result)
{
    *result = PyObject_GetAttrString(obj, name);
    if (*result != NULL) {
        return 1;
    }
    return hs_compat_absent(PyExc_AttributeError);
}
static inline int
PyObject_GetOptionalAttr(PyObject *obj, PyObject *name, PyObject **result)
{
    *result = PyObject_GetAttr(obj, name);
    if (*result != NULL) {
        return 1;
    }
    return hs_compat_absent(PyExc_AttributeError);
}
#endif

/* PyDict_GetItemRef: 3.13.  1 found (new ref), 0 absent, -1 error. */
#if PY_VERSION_HEX < 0x030D0000
static inline int
PyDict_GetItemRef(PyObject *d, PyObject *key, PyObject **result)
{
    *result = PyDict_GetItemWithError(d, key);
    if (*result != NULL) {
        Py_INCREF(*result);
        return 1;
    }
    return PyErr_Occurred() ? -1 : 0;
}
#endif

/* PyObject_HasAttrWithError, PyObject_HasAttrStringWithError,
 * PyMapping_HasKeyWithError, PyMapping_HasKeyStringWithError: 3.13.  1
 * present, 0 absent (an AttributeError / KeyError cleared), -1 any other
 * error (kept).  The older PyObject_HasAttr and PyMapping_HasKey swallow
 * every error, a MemoryError included: not used in csrc/. */
#if PY_VERSION_HEX < 0x030D0000
static inline int
PyObject_HasAttrWithError(PyObject *obj, PyObject *name)
{
    PyObject *v = NULL;
    int r = PyObject_GetOptionalAttr(obj, name, &v);
    Py_XDECREF(v);
    return r;
}
static inline int
PyObject_HasAttrStringWithError(PyObject *obj, const char *name)
{
    PyObject *v = NULL;
    int r = PyObject_GetOptionalAttrString(obj, name, &v);
    Py_XDECREF(v);
    return r;
}
static inline int
PyMapping_HasKeyWithError(PyObject *o, PyObject *key)
{
    PyObject *v = PyObject_GetItem(o, key);
    if (v != NULL) {
        Py_DECREF(v);
        return 1;
    }
    return hs_compat_absent(PyExc_KeyError);
}
/* PyMapping_GetOptionalItem, PyMapping_GetOptionalItemString: 3.13.  1
 * found (new reference), 0 absent (KeyError cleared), -1 error. */
static inline int
PyMapping_GetOptionalItem(PyObject *o, PyObject *key, PyObject **result)
{
    *result = PyObject_GetItem(o, key);
    if (*result != NULL) {
        return 1;
    }
    return hs_compat_absent(PyExc_KeyError);
}
static inline int
PyMapping_GetOptionalItemString(PyObject *o, const char *key,
                                PyObject **result)
{
    PyObject *k = PyUnicode_FromString(key);
    if (k == NULL) {
        *result = NULL;
        return -1;
    }
    int r = PyMapping_GetOptionalItem(o, k, result);
    Py_DECREF(k);
    return r;
}
static inline int
PyMapping_HasKeyStringWithError(PyObject *o, const char *key)
{
    PyObject *k = PyUnicode_FromString(key);
    if (k == NULL) {
        return -1;
    }
    int r = PyMapping_HasKeyWithError(o, k);
    Py_DECREF(k);
    return r;
}
#endif

/* PyUnicode_EqualToUTF8AndSize: 3.13.  1 when the str equals the UTF-8
 * bytes, else 0; never an error (a lone surrogate is not equal).  The shim
 * compares code point by code point, so no UTF-8 copy is made (and no
 * MemoryError can be turned into "not equal"). */
#if PY_VERSION_HEX < 0x030D0000
#include <string.h>
static inline int
PyUnicode_EqualToUTF8AndSize(PyObject *u, const char *s, Py_ssize_t size)
{
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(u) < 0) {
        PyErr_Clear(); /* swallow: the real API raises nothing */
        return 0;
    }
#endif
    const unsigned char *p = (const unsigned char *)s;
    int kind = PyUnicode_KIND(u);
    const void *data = PyUnicode_DATA(u);
    Py_ssize_t len = PyUnicode_GET_LENGTH(u), j = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        unsigned char b[4];
        int n;
        if (ch < 0x80) {
            b[0] = (unsigned char)ch;
            n = 1;
        }
        else if (ch < 0x800) {
            b[0] = (unsigned char)(0xC0 | (ch >> 6));
            b[1] = (unsigned char)(0x80 | (ch & 0x3F));
            n = 2;
        }
        else if (ch < 0x10000) {
            if (Py_UNICODE_IS_SURROGATE(ch)) {
                return 0;
            }
            b[0] = (unsigned char)(0xE0 | (ch >> 12));
            b[1] = (unsigned char)(0x80 | ((ch >> 6) & 0x3F));
            b[2] = (unsigned char)(0x80 | (ch & 0x3F));
            n = 3;
        }
        else {
            b[0] = (unsigned char)(0xF0 | (ch >> 18));
            b[1] = (unsigned char)(0x80 | ((ch >> 12) & 0x3F));
            b[2] = (unsigned char)(0x80 | ((ch >> 6) & 0x3F));
            b[3] = (unsigned char)(0x80 | (ch & 0x3F));
            n = 4;
        }
        if (j + n > size || memcmp(p + j, b, (size_t)n) != 0) {
            return 0;
        }
        j += n;
    }
    return j == size;
}
static inline int
PyUnicode_EqualToUTF8(PyObject *u, const char *s)
{
    return PyUnicode_EqualToUTF8AndSize(u, s, (Py_ssize_t)strlen(s));
}
#endif

/* PyDict_GetItemStringRef: 3.13.  1 found (new ref), 0 absent, -1 error. */
#if PY_VERSION_HEX < 0x030D0000
static inline int
PyDict_GetItemStringRef(PyObject *d, const char *key, PyObject **result)
{
    PyObject *k = PyUnicode_FromString(key);
    if (k == NULL) {
        *result = NULL;
        return -1;
    }
    int r = PyDict_GetItemRef(d, k, result);
    Py_DECREF(k);
    return r;
}
#endif

/* PyWeakref_GetRef: 3.13 (PyWeakref_GetObject is deprecated there).
 * 1 alive (new reference), 0 dead, -1 error. */
#if PY_VERSION_HEX < 0x030D0000
static inline int
PyWeakref_GetRef(PyObject *ref, PyObject **pobj)
{
    PyObject *obj = PyWeakref_GetObject(ref);
    if (obj == NULL) {
        *pobj = NULL;
        return -1;
    }
    if (obj == Py_None) {
        *pobj = NULL;
        return 0;
    }
    *pobj = Py_NewRef(obj);
    return 1;
}
#endif

/* PyCode_GetCode (3.11) returns the de-specialised bytecode; before 3.11 the
 * co_code attribute is the bytecode itself. */
static inline PyObject *
hs_code_get_code(PyCodeObject *co)
{
#if PY_VERSION_HEX >= 0x030B0000
    return PyCode_GetCode(co);
#else
    return Py_NewRef(co->co_code);
#endif
}

/* Opcodes that bind a module-level name.  3.12 replaced IMPORT_STAR by
 * CALL_INTRINSIC_1 with INTRINSIC_IMPORT_STAR (= 2, pycore_intrinsics.h,
 * an internal header). */
#define HS_OP_LOAD_NAME LOAD_NAME
#define HS_OP_LOAD_GLOBAL LOAD_GLOBAL
/* 3.11 put a "push NULL" flag in the low bit of LOAD_GLOBAL's argument. */
#if PY_VERSION_HEX >= 0x030B0000
#define HS_LOAD_GLOBAL_INDEX(arg) ((arg) >> 1)
#else
#define HS_LOAD_GLOBAL_INDEX(arg) (arg)
#endif
#define HS_OP_STORE_NAME STORE_NAME
#define HS_OP_DELETE_NAME DELETE_NAME
#define HS_OP_EXTENDED_ARG EXTENDED_ARG
#if PY_VERSION_HEX >= 0x030C0000
#define HS_OP_CALL_INTRINSIC_1 CALL_INTRINSIC_1
#define HS_INTRINSIC_IMPORT_STAR 2
#else
#define HS_OP_IMPORT_STAR IMPORT_STAR
#endif

/* 3.11+: inline CACHE entries (opcode 0) follow some instructions. */
#if PY_VERSION_HEX >= 0x030B0000
#define HS_OP_IS_CACHE(op) ((op) == 0)
#else
#define HS_OP_IS_CACHE(op) 0
#endif

/* Is (op, arg) the instruction that does `from m import *`? */
static inline int
hs_op_is_import_star(int op, unsigned long arg)
{
#if PY_VERSION_HEX >= 0x030C0000
    return op == HS_OP_CALL_INTRINSIC_1 && arg == HS_INTRINSIC_IMPORT_STAR;
#else
    (void)arg;
    return op == HS_OP_IMPORT_STAR;
#endif
}

/* RETURN_CONST: 3.12 and 3.13 (3.14 loads the constant, then
 * RETURN_VALUE). */
#if PY_VERSION_HEX >= 0x030C0000 && PY_VERSION_HEX < 0x030E0000
#define HS_HAVE_RETURN_CONST 1
#define HS_OP_RETURN_CONST RETURN_CONST
#else
#define HS_HAVE_RETURN_CONST 0
#endif

/* What an import statement imports: `LOAD_CONST level; LOAD_CONST
 * fromlist; IMPORT_NAME name`.  3.14 loads a small level with
 * LOAD_SMALL_INT (its argument is the value); 3.15 keeps lazy-import flags
 * in the two low bits of IMPORT_NAME's argument (PEP 810). */
#define HS_OP_LOAD_CONST LOAD_CONST
#define HS_OP_IMPORT_NAME IMPORT_NAME
#if PY_VERSION_HEX >= 0x030E0000
#define HS_HAVE_LOAD_SMALL_INT 1
#define HS_OP_LOAD_SMALL_INT LOAD_SMALL_INT
#else
#define HS_HAVE_LOAD_SMALL_INT 0
#endif
#if PY_VERSION_HEX >= 0x030F0000
#define HS_IMPORT_NAME_INDEX(arg) ((arg) >> 2)
#else
#define HS_IMPORT_NAME_INDEX(arg) (arg)
#endif

/* Py_TPFLAGS_IMMUTABLETYPE: 3.10 (static types had it implicitly). */
#ifdef Py_TPFLAGS_IMMUTABLETYPE
#define HS_TPFLAGS_IMMUTABLETYPE Py_TPFLAGS_IMMUTABLETYPE
#else
#define HS_TPFLAGS_IMMUTABLETYPE 0
#endif

/* A function pointer in a PyType_Slot / PyModuleDef_Slot table: ISO C
 * (-Wpedantic) forbids converting it to void * directly. */
#define HS_SLOT(fn) ((void *)(uintptr_t)(fn))

/* Generator-like code flags: a swap between kinds is refused (3.13 warns). */
#define HS_CO_GENLIKE                                                         \
    (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR | CO_ITERABLE_COROUTINE)

/* co_qualname: 3.11. */
#if PY_VERSION_HEX >= 0x030B0000
#define HS_HAVE_CO_QUALNAME 1
#else
#define HS_HAVE_CO_QUALNAME 0
#endif

/* __type_params__ on functions and classes: 3.12 (PEP 695). */
#if PY_VERSION_HEX >= 0x030C0000
#define HS_HAVE_TYPE_PARAMS 1
#else
#define HS_HAVE_TYPE_PARAMS 0
#endif

/* dataclass(match_args=, kw_only=): 3.10. */
#if PY_VERSION_HEX >= 0x030A0000
#define HS_HAVE_DATACLASS_KW_ONLY 1
#else
#define HS_HAVE_DATACLASS_KW_ONLY 0
#endif

/* A class body stores __firstlineno__ (3.13, for inspect.getsource): the
 * line of the class statement, decorators included, as a constant. */
#if PY_VERSION_HEX >= 0x030D0000
#define HS_HAVE_CLASS_FIRSTLINENO 1
#else
#define HS_HAVE_CLASS_FIRSTLINENO 0
#endif

/* PyUnstable_GC_VisitObjects: 3.12. */
#if PY_VERSION_HEX >= 0x030C0000
#define HS_HAVE_GC_VISIT 1
#else
#define HS_HAVE_GC_VISIT 0
#endif

/* Deferred annotations: 3.14 (PEP 649/749).  Functions and classes carry
 * an __annotate__ function; reading __annotations__ evaluates it (and so
 * may raise NameError for a forward reference), which a reloader must not
 * do where a fresh import would not. */
#if PY_VERSION_HEX >= 0x030E0000
#define HS_HAVE_ANNOTATE 1
#else
#define HS_HAVE_ANNOTATE 0
#endif

/* A function version that a setter reset is never re-assigned by the
 * interpreter: 3.13 (reset to 0) and 3.14+ (FUNC_VERSION_CLEARED, 1; 0 is
 * "unset"; valid versions start at 2).  _PyFunction_SetVersion is exported
 * (PyAPI_FUNC, behind Py_BUILD_CORE) on all of them. */
#if PY_VERSION_HEX >= 0x030E0000
#define HS_REVERSION_FUNCTIONS 1
#define HS_FUNC_VERSION_FIRST_VALID 2
#elif PY_VERSION_HEX >= 0x030D0000
#define HS_REVERSION_FUNCTIONS 1
#define HS_FUNC_VERSION_FIRST_VALID 1
#else
#define HS_REVERSION_FUNCTIONS 0
#endif

/* PyErr_GetRaisedException / PyErr_SetRaisedException: 3.12, which
 * deprecated PyErr_Fetch/PyErr_Restore.  One exception object, normalized,
 * its traceback attached; NULL when no error is set. */
#if PY_VERSION_HEX < 0x030C0000
static inline PyObject *
PyErr_GetRaisedException(void)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (type == NULL) {
        return NULL;
    }
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL) {
        PyException_SetTraceback(value, tb);
    }
    Py_DECREF(type);
    Py_XDECREF(tb);
    return value;
}
static inline void
PyErr_SetRaisedException(PyObject *exc)
{
    if (exc == NULL) {
        PyErr_Clear(); /* swallow: the real API's contract (NULL clears) */
        return;
    }
    PyErr_Restore(Py_NewRef(Py_TYPE(exc)), exc, PyException_GetTraceback(exc));
}
#endif

/* PyGC_Enable / PyGC_Disable / PyGC_IsEnabled: 3.10.  Before, the gc
 * module's functions.  They cannot fail and keep the current exception; a
 * failure of the shim's own calls (gc is built in: none is expected) is
 * reported as unraisable, never swallowed. */
#if PY_VERSION_HEX < 0x030A0000
static inline int
hs_compat_gc_call(const char *method)
{
    PyObject *exc = PyErr_GetRaisedException();
    PyObject *gc = PyImport_ImportModule("gc");
    PyObject *r = gc ? PyObject_CallMethod(gc, method, NULL) : NULL;
    int v = r != NULL ? PyObject_IsTrue(r) : -1;
    if (v < 0) {
        PyErr_WriteUnraisable(NULL);
        v = 0;
    }
    Py_XDECREF(r);
    Py_XDECREF(gc);
    PyErr_SetRaisedException(exc);
    return v;
}
static inline int
PyGC_IsEnabled(void)
{
    return hs_compat_gc_call("isenabled");
}
static inline int
PyGC_Enable(void)
{
    int was = PyGC_IsEnabled();
    (void)hs_compat_gc_call("enable");
    return was;
}
static inline int
PyGC_Disable(void)
{
    int was = PyGC_IsEnabled();
    (void)hs_compat_gc_call("disable");
    return was;
}
#endif

/* Module slots declaring what the module supports: Py_mod_multiple_
 * interpreters (3.12) and Py_mod_gil (3.13).  hotswap keeps process-wide
 * state (one watcher thread, the pending-call hand-over, builtins hooks),
 * so it supports the main interpreter only, and needs the GIL. */
#if PY_VERSION_HEX >= 0x030C0000
#define HS_SLOT_ONE_INTERPRETER                                               \
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED},
#else
#define HS_SLOT_ONE_INTERPRETER
#endif
#if PY_VERSION_HEX >= 0x030D0000
#define HS_SLOT_GIL_USED {Py_mod_gil, Py_MOD_GIL_USED},
#else
#define HS_SLOT_GIL_USED
#endif

/* Code objects compare their line tables (and, through their constants,
 * those of nested code objects) with ==: 3.11.  Before, the line table is
 * compared by hand: co_linetable from 3.10, co_lnotab on 3.9. */
#if PY_VERSION_HEX >= 0x030B0000
#define HS_CODE_EQ_HAS_LINES 1
#else
#define HS_CODE_EQ_HAS_LINES 0
#endif
#if PY_VERSION_HEX >= 0x030A0000
#define HS_CODE_LINETABLE_ATTR "co_linetable"
#else
#define HS_CODE_LINETABLE_ATTR "co_lnotab"
#endif

/* Py_AddPendingCall may be called without the GIL (and without a thread
 * state) only from 3.13; before, the caller takes the GIL first. */
#if PY_VERSION_HEX < 0x030D0000
#define HS_PENDING_CALL_NEEDS_GIL 1
#else
#define HS_PENDING_CALL_NEEDS_GIL 0
#endif

/* PyCompilerFlags gained cf_feature_version in 3.8: initialise both. */
#define HS_COMPILER_FLAGS_INIT(flags_value)                                   \
    {.cf_flags = (flags_value), .cf_feature_version = PY_MINOR_VERSION}

#endif /* HS_COMPAT_H */
