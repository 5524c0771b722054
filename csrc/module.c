/* module.c -- placeholder while the engine is written. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static struct PyModuleDef_Slot core_slots[] = {
    {0, NULL},
};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "hotswap._core",
    .m_size = 0,
    .m_slots = core_slots,
};

PyMODINIT_FUNC PyInit__core(void);

PyMODINIT_FUNC
PyInit__core(void)
{
    return PyModuleDef_Init(&core_module);
}
