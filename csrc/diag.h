/* diag.h -- the diagnostic codes (docs/diagnostics.md), defined once.
 *
 * Every Change or ReloadError that carries a code names a row of
 * HS_DIAGNOSTICS: the row gives the code, the Change's action, whether the
 * code fails the batch (unless partial) and the reason text.  A code has one
 * row per situation that words it differently (HS101 for a def, for a
 * function a later statement rebinds, ...); the reason is a
 * PyUnicode_FromFormat format whose arguments, where it has any, the site
 * passes (hs_report_diag, report.h).  tests/test_csource.py ties this list
 * to docs/diagnostics.md: every code here is documented with this action,
 * every documented code is here, and no other C file spells a code.
 *
 * Errors (HS5xx) are raised, not reported: their text here is what the code
 * means; the ReloadError's message is the exception's.  The adapter codes
 * (HS208-HS210, HS601) are raised or reported by src/hotswap/adapters/ with
 * the adapter's own wording; their text here is the default meaning.
 */
#ifndef HS_DIAG_H
#define HS_DIAG_H

/* texts two codes share: the situation is one, the code says why the
 * function could not take the new code (HS101 its kind, HS104 its free
 * variables) */
#define HS_DIAG_TEXT_STATEMENT                                                \
    "a function made by the statement binding %U cannot take the new code "   \
    "in place; references taken before the reload keep the old one"
#define HS_DIAG_TEXT_REBOUND                                                  \
    "the function a later statement rebinds cannot take the new code in "     \
    "place"
#define HS_DIAG_TEXT_DUPLICATE                                                \
    "one of several definitions of this name cannot take the new code in "    \
    "place"

/* X(id, code, action, refuses, reason): `refuses` is 1 for a code that
 * fails the whole batch with ReloadError unless it is partial. */
#define HS_DIAGNOSTICS(X)                                                     \
    X(HS001_DATA, HS001, "kept", 0,                                           \
      "the file was run as a whole; existing data keeps its value")           \
    X(HS001_MODULE, HS001, "kept", 0,                                         \
      "the file could not be split into statements; it was run as a whole")   \
    X(HS002, HS002, "kept", 0,                                                \
      "no snapshot of the source that was imported: functions and classes "   \
      "were compared with the live code, other statements were not run "      \
      "again")                                                                \
    X(HS101_KIND, HS101, "replaced", 0,                                       \
      "became or stopped being a generator or coroutine; references taken "   \
      "before the reload keep the old function")                              \
    X(HS101_STATEMENT, HS101, "rejected", 0, HS_DIAG_TEXT_STATEMENT)          \
    X(HS101_REBOUND, HS101, "rejected", 0, HS_DIAG_TEXT_REBOUND)              \
    X(HS101_DUPLICATE, HS101, "rejected", 0, HS_DIAG_TEXT_DUPLICATE)          \
    X(HS102_NAME, HS102, "replaced", 0,                                       \
      "decorators changed: the name refers to the newly decorated object; "   \
      "references taken before the reload run the new body under the old "    \
      "decorators")                                                           \
    X(HS102_MEMBER, HS102, "replaced", 0,                                     \
      "decorators changed: the class attribute is the newly decorated "       \
      "object; references taken before the reload run the new body under "    \
      "the old decorators")                                                   \
    X(HS103_WRAPPER, HS103, "replaced", 0,                                    \
      "the object wrapping this function changed kind")                       \
    X(HS103_CLASS, HS103, "replaced", 0,                                      \
      "the name now refers to another object; references taken before the "   \
      "reload keep the old class")                                            \
    X(HS103_DEFINITION, HS103, "replaced", 0,                                 \
      "the kind of this definition changed; references taken before the "     \
      "reload keep the old object")                                           \
    X(HS103_MEMBER, HS103, "replaced", 0,                                     \
      "the kind of this member changed; references taken before the reload "  \
      "keep the old object")                                                  \
    X(HS104_REPLACED, HS104, "replaced", 0,                                   \
      "the new code needs a free variable the old function does not have; "   \
      "references taken before the reload keep the old function")             \
    X(HS104_STATEMENT, HS104, "rejected", 0, HS_DIAG_TEXT_STATEMENT)          \
    X(HS104_REBOUND, HS104, "rejected", 0, HS_DIAG_TEXT_REBOUND)              \
    X(HS104_DUPLICATE, HS104, "rejected", 0, HS_DIAG_TEXT_DUPLICATE)          \
    X(HS104_CLOSURE, HS104, "rejected", 0,                                    \
      "closures made before the reload need a free variable the new code "    \
      "adds; they keep the old code")                                         \
    X(HS105_FUNCTION, HS105, "updated", 0,                                    \
      "the unchanged decorators were not run again: what they took from "     \
      "the function at import (a copied docstring, the parameters) keeps "    \
      "the old values")                                                       \
    X(HS105_MEMBER, HS105, "updated", 0,                                      \
      "the unchanged decorators were not run again on the live member: "      \
      "what they took from the function at import (a copied docstring, the "  \
      "parameters) keeps the old values")                                     \
    /* %S: the exception __bases__ raised */                                  \
    X(HS201, HS201, "rejected", 1,                                            \
      "the bases changed and cannot be assigned in place (%S); the body was " \
      "applied, the bases were not")                                          \
    X(HS202, HS202, "rejected", 1,                                            \
      "the metaclass or the class keywords changed; the body was applied, "   \
      "the header was not")                                                   \
    X(HS203_SLOTS, HS203, "rejected", 1,                                      \
      "__slots__ changed: the instance layout of a live class cannot "        \
      "change (reload(..., rebuild_layout=True) makes a new class)")          \
    X(HS203_NESTED, HS203, "rejected", 1,                                     \
      "__slots__ changed in a nested or rebound class: not rebuilt "          \
      "(rebuild_layout applies to module-level classes)")                     \
    /* %zd, %zd: instances moved to the new class, instances kept */          \
    X(HS203_REBUILT, HS203, "replaced", 0,                                    \
      "__slots__ changed: the name now refers to a new class with the new "   \
      "layout (rebuild_layout=True); %zd live instances moved to it, %zd "    \
      "keep the old class (its methods were updated; CPython refuses "        \
      "__class__ assignment between different layouts)")                      \
    X(HS204_DATACLASS, HS204, "rejected", 1,                                  \
      "fields of a slots=True dataclass changed: its instance layout "        \
      "cannot change; methods were applied, fields were not")                 \
    X(HS204_NAMEDTUPLE, HS204, "rejected", 1,                                 \
      "NamedTuple fields changed: existing instances are tuples of the old "  \
      "shape; methods were applied, fields were not")                         \
    X(HS204_SLOT, HS204, "rejected", 1,                                       \
      "this member is a slot of the class: its default cannot change in "     \
      "place; the slot was kept")                                             \
    X(HS205_REMOVED, HS205, "rejected", 1, "an enum member was removed")      \
    X(HS205_VALUE, HS205, "rejected", 1, "an enum member's value changed")    \
    X(HS206, HS206, "rejected", 0,                                            \
      "class decorators changed; the body was applied, the decorators were "  \
      "not re-run")                                                           \
    X(HS207, HS207, "kept", 0,                                                \
      "__init_subclass__ changed: the existing subclasses were set up by "    \
      "the old one, which is not run again; new subclasses get the new one")  \
    X(HS208, HS208, "rejected", 1,                                            \
      "a pydantic model cannot be rebuilt soundly")                           \
    X(HS209, HS209, "rejected", 1, "the fields of an attrs class changed")    \
    X(HS210, HS210, "rejected", 1,                                            \
      "the class-level statements of a SQLAlchemy mapped class changed")      \
    /* %U: frames.c's count and place ("2 suspended generators keep ...") */  \
    X(HS301, HS301, "kept", 0, "%U")                                          \
    X(HS401, HS401, "kept", 0, "listed in __hotswap_keep__")                  \
    X(HS402, HS402, "kept", 0, "the policy kept the old value")               \
    X(HS403, HS403, "updated", 0,                                             \
      "ran again on the live module: its effects add to what the module "     \
      "did at import")                                                        \
    X(HS501, HS501, "error", 1, "the file could not be read")                 \
    X(HS502, HS502, "error", 1, "the file could not be decoded")              \
    X(HS503, HS503, "error", 1, "the new source does not compile")            \
    X(HS504, HS504, "error", 1, "an edited statement raised")                 \
    X(HS505, HS505, "error", 1, "the module is not reloadable from source")   \
    X(HS506, HS506, "error", 1,                                               \
      "the file is empty while the loaded module was not")                    \
    X(HS507, HS507, "error", 1,                                               \
      "applying the batch failed part-way; every change was rolled back")     \
    X(HS508, HS508, "error", 1, "a framework adapter raised")                 \
    X(HS601, HS601, "rejected", 0,                                            \
      "a route was added to a router an app copied: the app does not serve "  \
      "it")

typedef enum {
    HS_DIAG_NONE = -1, /* no code: an ordinary Change */
#define HS_DIAG_ENUM(id, code, action, refuses, reason) id,
    HS_DIAGNOSTICS(HS_DIAG_ENUM)
#undef HS_DIAG_ENUM
    HS_DIAG_COUNT
} HsDiag;

typedef struct {
    const char *code;   /* "HS101" */
    const char *action; /* the Change's action */
    int refuses;        /* 1: the batch fails unless partial */
    const char *reason; /* a PyUnicode_FromFormat format */
} HsDiagInfo;

/* The row of `d` (not HS_DIAG_NONE). */
const HsDiagInfo *hs_diag(HsDiag d);

/* The code of `d`, e.g. "HS507": a static string. */
static inline const char *
hs_diag_code(HsDiag d)
{
    return hs_diag(d)->code;
}

#endif
