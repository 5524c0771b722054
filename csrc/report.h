/* report.h -- the report of a batch: Change records, ModuleResult, Report. */
#ifndef HS_REPORT_H
#define HS_REPORT_H

#include "compat.h"
#include "diag.h"
#include "job.h"

#include <stdarg.h>

/* Types live in the module state; these create them.  0 / -1. */
int hs_report_init_types(PyObject *module, PyTypeObject **change,
                         PyTypeObject **module_result, PyTypeObject **report);

/* Append a Change to job->entries.  `name` is the qualified name in the
 * module; `code` may be NULL; `reason` is a printf-style format
 * (PyUnicode_FromFormat) or NULL.  lineno <= 0: unknown.  0 / -1. */
int hs_report_add(HsJob *job, PyObject *name, const char *kind,
                  const char *action, const char *code, int lineno,
                  const char *reason, ...);

/* Append the Change of diagnostic `d` (diag.h): the code, action and
 * reason of its row; the arguments after `lineno` are those of the row's
 * reason format (most rows take none).  0 / -1. */
int hs_report_diag(HsJob *job, PyObject *name, const char *kind, HsDiag d,
                   int lineno, ...);
int hs_report_diag_str(HsJob *job, const char *name, const char *kind,
                       HsDiag d, int lineno, ...);
/* hs_report_diag with the format's arguments in `va` (for a wrapper that
 * takes them itself, as hs_class_diag does). */
int hs_report_diagv(HsJob *job, PyObject *name, const char *kind, HsDiag d,
                    int lineno, va_list va);

/* Build the Report object.  `modules` is a list of ModuleResult;
 * `entries` a list of Change.  New reference. */
PyObject *hs_report_new(PyTypeObject *report_type, PyObject *entries,
                        PyObject *modules, int ok, double seconds);
/* Attach the ReloadError of a failed batch to its report. */
void hs_report_set_error(PyObject *report, PyObject *error);

/* Report each code object of `items` with diagnostic `d` in the changed
 * job of `jobs` whose file it comes from.  Items are (code, reason) pairs
 * (the reason is the row's %U), or with second_is_name (code, qualified
 * name) pairs reported with the row's own reason (HS104: closures made
 * before the batch keep the old code).  Shared by reload() and patch(), so
 * both report the same edit the same way.  0 / -1. */
int hs_report_codes(HsJob *jobs, Py_ssize_t count, PyObject *items, HsDiag d,
                    int second_is_name);

PyObject *hs_report_module_result_new(PyTypeObject *type, PyObject *name,
                                      PyObject *filename, const char *status,
                                      double seconds);

#endif
