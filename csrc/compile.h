/* compile.h -- PLAN's compile: the code of the changed statements, or of
 * the whole file (the mode). */
#ifndef HS_COMPILE_H
#define HS_COMPILE_H

#include "job.h"

/* Compile the job's changed chunks (or the whole file in HS_MODE_FULL).
 * When a chunk does not compile alone the whole file is compiled and the
 * mode becomes HS_MODE_FULL; a compile error is reported from that whole
 * file, so its line and text are the user's.  0 / -1 (exception set). */
int hs_compile_job(HsJob *job);

#endif
