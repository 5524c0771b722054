/* patch.h -- hotswap.patch(): the hotfix API, on the lifecycle of
 * batch.h. */
#ifndef HS_PATCH_H
#define HS_PATCH_H

#include "compat.h"

/* hotswap.patch(target, replacement).  A Report, or NULL with an
 * exception (ReloadError when the patch failed and was rolled back). */
PyObject *hs_patch(PyObject *core, PyObject *target, PyObject *replacement);

#endif
