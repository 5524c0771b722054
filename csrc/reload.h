/* reload.h -- one batch: SOURCE -> PLAN -> STAGE -> APPLY -> FINISH. */
#ifndef HS_RELOAD_H
#define HS_RELOAD_H

#include "compat.h"

/* Reload `targets` (a sequence of modules or dotted names) as one batch.
 * `policy` may be NULL.  `only_changed`: leave unchanged modules out of
 * the report (the no-argument reload).  Returns a Report, or NULL with
 * hotswap.ReloadError (or a usage error) set; on ReloadError nothing
 * changed. */
PyObject *hs_reload(PyObject *core, PyObject *targets, PyObject *policy,
                    int only_changed);

/* hotswap.patch(target, replacement).  A Report, or NULL. */
PyObject *hs_patch(PyObject *core, PyObject *target, PyObject *replacement);

#endif
