/* reload.h -- one batch of module reloads: SOURCE -> PLAN -> STAGE ->
 * APPLY -> FINISH, on the lifecycle of batch.h. */
#ifndef HS_RELOAD_H
#define HS_RELOAD_H

#include "compat.h"

/* Flags of hs_reload(). */
#define HS_RELOAD_ONLY_CHANGED                                                \
    1 /* leave unchanged modules out of the                                   \
       * report (the no-argument reload) */
#define HS_RELOAD_REBUILD_LAYOUT                                              \
    2 /* opt-in: a class whose instance layout                                \
       * changed gets a new class object */
#define HS_RELOAD_PARTIAL                                                     \
    4 /* opt-in: a class edit that cannot be                                  \
       * applied in place (HS201-HS205) is                                    \
       * reported and the rest applied, instead                               \
       * of failing the batch */

/* Reload `targets` (a sequence of modules or dotted names) as one batch.
 * `policy` may be NULL.  `flags`: HS_RELOAD_*.  Returns a Report, or NULL with
 * hotswap.ReloadError (or a usage error) set; on ReloadError nothing
 * changed. */
PyObject *hs_reload(PyObject *core, PyObject *targets, PyObject *policy,
                    int flags);

#endif
