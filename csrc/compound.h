/* compound.h -- the data an edited top-level compound statement keeps. */
#ifndef HS_COMPOUND_H
#define HS_COMPOUND_H

#include "job.h"

/* Does edited top-level compound statement ci (a new chunk) bind `name`
 * only through inner simple statements the edit left as they were, the
 * same ones as before?  Then its live value stays, as an unedited
 * top-level statement's does.  Defs and classes inside are not counted:
 * ask only for data, a live value that holds no function or class the
 * statement made (those are patched in place).  Cached per chunk in
 * job->chunk_binds.  1 / 0 / -1. */
int hs_compound_keeps(HsJob *job, Py_ssize_t ci, PyObject *name);

#endif /* HS_COMPOUND_H */
