/* diag.c -- the table of diagnostic codes (diag.h), and its look-ups.
 *
 * Any thread; no Python API: static data only.
 */
#include "diag.h"

static const HsDiagInfo diag_table[HS_DIAG_COUNT] = {
#define HS_DIAG_ROW(id, code, action, refuses, reason)                        \
    {#code, action, refuses, reason},
    HS_DIAGNOSTICS(HS_DIAG_ROW)
#undef HS_DIAG_ROW
};

const HsDiagInfo *
hs_diag(HsDiag d)
{
    return &diag_table[d];
}
