/* report.h -- the report of a batch: Change records, ModuleResult, Report. */
#ifndef HS_REPORT_H
#define HS_REPORT_H

#include "compat.h"
#include "job.h"

/* Types live in the module state; these create them.  0 / -1. */
int hs_report_init_types(PyObject *module, PyTypeObject **change,
                         PyTypeObject **module_result,
                         PyTypeObject **report);

/* Append a Change to job->entries.  `name` is the qualified name in the
 * module; `code` may be NULL; `reason` is a printf-style format
 * (PyUnicode_FromFormat) or NULL.  lineno <= 0: unknown.  0 / -1. */
int hs_report_add(HsJob *job, PyObject *name, const char *kind,
                  const char *action, const char *code, int lineno,
                  const char *reason, ...);
int hs_report_add_str(HsJob *job, const char *name, const char *kind,
                      const char *action, const char *code, int lineno,
                      const char *reason, ...);

/* Build the Report object.  `modules` is a list of ModuleResult;
 * `entries` a list of Change.  New reference. */
PyObject *hs_report_new(PyTypeObject *report_type, PyObject *entries,
                        PyObject *modules, int ok, double seconds);
/* Attach the ReloadError of a failed batch to its report. */
void hs_report_set_error(PyObject *report, PyObject *error);

PyObject *hs_module_result_new(PyTypeObject *type, PyObject *name,
                               PyObject *filename, const char *status,
                               double seconds);

#endif
