/* dunders.h -- the dunder names the class update looks up, interned once.
 *
 * Main thread, GIL held.  The strings live in the module state (HsState's
 * `dunders`: made by core_exec, visited and released with the state);
 * every job borrows them (HsJob's `dunders`).  Why the module state and
 * not static strings: with multi-phase init a second import of
 * hotswap._core (after `del sys.modules[...]`) makes a second module
 * object while the first may still be alive, and freeing either must not
 * leave the other's pointers dangling; and the module already declares
 * its interpreter slot (compat.h, HS_SLOT_ONE_INTERPRETER), so no table
 * is shared between interpreters.  One X-macro list makes the struct,
 * the creation, the traversal and the release, so they cannot drift.
 */
#ifndef HS_DUNDERS_H
#define HS_DUNDERS_H

#include "compat.h"

/* X(field, "text"), in the order of the text */
#define HS_DUNDERS(X)                                                         \
    X(abstractmethods, "__abstractmethods__")                                 \
    X(annotations, "__annotations__")                                         \
    X(bases, "__bases__")                                                     \
    X(class_, "__class__")                                                    \
    X(classcell, "__classcell__")                                             \
    X(classdictcell, "__classdictcell__")                                     \
    X(dataclass_fields, "__dataclass_fields__")                               \
    X(dataclass_params, "__dataclass_params__")                               \
    X(dict, "__dict__")                                                       \
    X(doc, "__doc__")                                                         \
    X(eq, "__eq__")                                                           \
    X(firstlineno, "__firstlineno__")                                         \
    X(hash, "__hash__")                                                       \
    X(hotswap_migrate, "__hotswap_migrate__")                                 \
    X(init_subclass, "__init_subclass__")                                     \
    X(module, "__module__")                                                   \
    X(name, "__name__")                                                       \
    X(prepare, "__prepare__")                                                 \
    X(qualname, "__qualname__")                                               \
    X(set_name, "__set_name__")                                               \
    X(setstate, "__setstate__")                                               \
    X(slotnames, "__slotnames__")                                             \
    X(slots, "__slots__")                                                     \
    X(wrapped, "__wrapped__")

typedef struct {
#define HS_DUNDER_FIELD(field, text) PyObject *field; /* strong, interned */
    HS_DUNDERS(HS_DUNDER_FIELD)
#undef HS_DUNDER_FIELD
} HsDunders;

/* Make every name.  0 / -1 (the state's clear releases those made). */
static inline int
hs_dunders_init(HsDunders *d)
{
#define HS_DUNDER_INIT(field, text)                                           \
    if ((d->field = PyUnicode_InternFromString(text)) == NULL) {              \
        return -1;                                                            \
    }
    HS_DUNDERS(HS_DUNDER_INIT)
#undef HS_DUNDER_INIT
    return 0;
}

static inline int
hs_dunders_traverse(HsDunders *d, visitproc visit, void *arg)
{
#define HS_DUNDER_VISIT(field, text) Py_VISIT(d->field);
    HS_DUNDERS(HS_DUNDER_VISIT)
#undef HS_DUNDER_VISIT
    return 0;
}

static inline void
hs_dunders_clear(HsDunders *d)
{
#define HS_DUNDER_CLEAR(field, text) Py_CLEAR(d->field);
    HS_DUNDERS(HS_DUNDER_CLEAR)
#undef HS_DUNDER_CLEAR
}

#endif
