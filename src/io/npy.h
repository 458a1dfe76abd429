/*
 * npy.h -- NumPy .npy files (private to libsimnet; used by simnet embed / setdist and tests).
 *
 * Format (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
 *   bytes 0..5   magic "\x93NUMPY"
 *   bytes 6..7   version major, minor: 1.0 (header length u16 LE) or 2.0 (u32 LE)
 *   next 2 or 4  header length L (little-endian)
 *   next L bytes ASCII Python dict literal, e.g.
 *                "{'descr': '<f4', 'fortran_order': False, 'shape': (N, D), }"
 *                padded with spaces and ending in '\n'
 *   the rest     the raw array, C order, exactly prod(shape) * 4 bytes
 *
 * Writing always produces version 1.0 with the total header (magic .. '\n') padded to a
 * multiple of 64 bytes, as numpy.save does; the file is written atomically
 * (path.tmp.PID, fsync, rename: on failure nothing is left and an older file survives).
 * Reading accepts versions 1.0 and 2.0, descr '<f4' or '<i4' (anything else, e.g.
 * '<f8' or '>f4', is rejected), fortran_order False, a shape of 0..SN_NPY_MAX_DIM
 * dimensions, and requires the data to be exactly the size the shape says. Every failure names the file and what was expected.
 * Data are converted to / from little-endian on big-endian hosts.
 */
#ifndef SN_IO_NPY_H
#define SN_IO_NPY_H

#include "simnet.h"

#include <stddef.h>

#define SN_NPY_MAX_DIM 8

typedef enum { SN_NPY_F32 = 0, SN_NPY_I32 = 1 } sn_npy_dtype;

typedef struct {
    sn_npy_dtype dtype;
    int ndim;                      /* 0..SN_NPY_MAX_DIM */
    size_t shape[SN_NPY_MAX_DIM];
    size_t count;                  /* prod(shape) (1 for ndim 0) */
    void *data;                    /* (shape) float or int32_t, C order; free with sn_npy_free */
} sn_npy_array;

/* Format the version-1.0 header (magic .. '\n') into buf; returns its length (a
 * multiple of 64), or 0 when it does not fit in cap or the arguments are invalid. */
size_t sn_npy_header(char *buf, size_t cap, sn_npy_dtype dt, int ndim, const size_t *shape);

/* Write data (shape, C order, 4-byte elements) to path atomically. */
sn_status sn_npy_write(sn_ctx *ctx, const char *path, sn_npy_dtype dt, int ndim,
                       const size_t *shape, const void *data);

/* Read a whole file into *out (zeroed on failure). */
sn_status sn_npy_read(sn_ctx *ctx, const char *path, sn_npy_array *out);
void sn_npy_free(sn_npy_array *a);

#endif
