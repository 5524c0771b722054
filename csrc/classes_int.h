/* classes_int.h -- shared by classes.c and classdata.c only.
 *
 * hs_class_* are defined in classes.c, hs_cls_* in classdata.c. */
#ifndef HS_CLASSES_INT_H
#define HS_CLASSES_INT_H

#include "diag.h"
#include "job.h"
#include "txn.h"

/* One class being updated. */
typedef struct {
    HsJob *job;
    HsTxn *txn;
    PyObject *klass;
    PyObject *qualname;
    PyObject *nested;
    int line;
} Ctx;

/* classes.c */
int hs_class_report(Ctx *cx, PyObject *name, const char *kind,
                    const char *action, const char *code, int line,
                    const char *reason);
/* hs_report_diag for the class of cx, or its member `name` (may be NULL);
 * line <= 0: the class's line.  0 / -1. */
int hs_class_diag(Ctx *cx, PyObject *name, const char *kind, HsDiag d,
                  int line, ...);
PyObject *hs_class_own_dict(PyObject *klass);
int hs_class_own_member(PyObject *klass, PyObject *name, PyObject **out);
int hs_class_values_equal(PyObject *a, PyObject *b);

/* classdata.c */
int hs_cls_recompute_abstract(HsTxn *txn, PyObject *klass);
/* Clear the isinstance/issubclass caches of klass when its metaclass is
 * ABCMeta or a subclass (type(klass)._abc_caches_clear(klass)).  0 / -1. */
int hs_cls_abc_caches_clear(PyObject *klass);
int hs_cls_dataclass_param(PyObject *klass, const char *name);
int hs_cls_regenerate_dataclass(Ctx *cx, PyObject *ns, PyObject *old_fields);
/* The instances migrated (classdata.c), or -1. */
Py_ssize_t hs_cls_migrate_instances(Ctx *cx, PyObject *old_names,
                                    PyObject *new_names, PyObject *fields);
int hs_cls_same_slot_names(PyObject *a, PyObject *b);
int hs_cls_enum_sync_members(Ctx *cx, PyObject *ns, PyObject *members);
int hs_cls_namedtuple_fields_changed(PyObject *klass, PyObject *shadow);
int hs_cls_sync_typing_data(Ctx *cx, PyObject *shadow);
int hs_cls_init_subclass_changed(Ctx *cx, PyObject *code_before);
int hs_cls_rebuild_class(Ctx *cx, PyObject *ns);
int hs_cls_annotations(PyObject *ns, PyObject *klass, PyObject **out);
int hs_cls_sync_annotations(Ctx *cx, PyObject *ns);
/* 3.14+: the class's __annotate__ function `old` (held perhaps) takes the
 * code and cells of `new`, the one the body made again: identity kept.
 * 0 / -1. */
int hs_cls_keep_annotate(Ctx *cx, PyObject *old, PyObject *new);

#endif
