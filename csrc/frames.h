/* frames.h -- frames that still run superseded code. */
#ifndef HS_FRAMES_H
#define HS_FRAMES_H

#include "compat.h"
#include "heap.h"

/* Thread stacks and suspended generators/coroutines running one of the
 * code objects in `codes` (a dict id -> code); the generators are asked of
 * the batch's walk, `heap`.  Appends (code, where) to `out`, `where` a str
 * saying which thread or generator, and the line.  0 / -1. */
int hs_frames_stale(HsHeap *heap, PyObject *codes, PyObject *out);

#endif
