/*
 * npy.h -- NumPy .npy files (npy.c). Public: the format, sn_npy_write / sn_npy_read /
 * sn_npy_free and sn_npy_array are in include/simnet_io.h. Declared here only what the
 * tests and the fuzz target use beyond that.
 */
#ifndef SN_IO_NPY_H
#define SN_IO_NPY_H

#include "simnet_io.h"

#include <stddef.h>

/* Format the version-1.0 header (magic .. '\n') into buf; returns its length (a
 * multiple of 64), or 0 when it does not fit in cap or the arguments are invalid. */
size_t sn_npy_header(char *buf, size_t cap, sn_npy_dtype dt, int ndim, const size_t *shape);

#endif
