/* idx.c -- MNIST / Fashion-MNIST IDX reader (plain or gzip).
 *
 * IDX layout (all header integers 32-bit big-endian):
 *   images: magic 0x00000803, n, rows, cols, then n*rows*cols uint8 (image, row, col)
 *   labels: magic 0x00000801, n, then n uint8 labels 0..9
 * zlib's gzread reads plain files transparently, so one code path serves both.
 * Every check names the file: magic, dimensions, matching counts, exact data size
 * (no truncation, no trailing bytes), label range. Memory for the data grows as bytes
 * actually arrive, so a header that announces absurd sizes cannot trigger a giant
 * allocation before the truncation is noticed. */
#define _POSIX_C_SOURCE 200809L
#include "data/data.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#define SN_IDX_MAGIC_IMAGES 0x00000803u
#define SN_IDX_MAGIC_LABELS 0x00000801u
#define SN_IDX_MAX_SIDE 4096u
#define SN_IDX_N_CLASSES 10

static uint32_t sn_be32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Locate <dir>/<name>/<base>[.gz] or <dir>/<base>[.gz]; open the first that exists. */
static sn_status sn_idx_open(sn_ctx *ctx, const char *dir, const char *name, const char *base,
                             const char *what, sn_data_file *f) {
    char sub[SN_DATA_PATH_CAP], desc[96], hint[256];
    int n = snprintf(sub, sizeof sub, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof sub)
        return sn_errf(ctx, SN_ERR_ARG, "data directory path too long: %s", dir);
    const char *dirs[2] = {sub, dir};
    snprintf(desc, sizeof desc, "%s %s IDX file", name, what);
    snprintf(hint, sizeof hint,
             "Point --data (or $SIMNET_DATA) at the folder that holds %s/, or run "
             "'simnet fetch %s --data DIR'",
             name, name);
    return sn_data_find(ctx, dirs, 2, base, desc, hint, f, NULL);
}

/* Read and check a header of `len` bytes (8 or 16) with the expected magic. */
static sn_status sn_idx_header(sn_ctx *ctx, sn_data_file *f, uint32_t magic, size_t len,
                               uint32_t *fields) {
    unsigned char h[16];
    sn_status st = SN_OK;
    size_t got = sn_data_read(ctx, f, h, len, &st);
    if (got == SIZE_MAX) return st;
    if (got == 0)
        return sn_errf(ctx, SN_ERR_FORMAT, "%s: empty file (expected a %zu-byte IDX header)",
                       f->path, len);
    if (got < len)
        return sn_errf(ctx, SN_ERR_FORMAT, "%s: truncated header: got %zu of %zu bytes",
                       f->path, got, len);
    uint32_t m = sn_be32(h);
    if (m != magic) {
        const char *hint = m == SN_IDX_MAGIC_IMAGES   ? " (this is an image file)"
                           : m == SN_IDX_MAGIC_LABELS ? " (this is a label file)"
                                                      : "";
        return sn_errf(ctx, SN_ERR_FORMAT, "%s: bad magic 0x%08x, expected 0x%08x (%u)%s",
                       f->path, (unsigned)m, (unsigned)magic, (unsigned)magic, hint);
    }
    for (size_t i = 1; i < len / 4; i++) fields[i - 1] = sn_be32(h + 4 * i);
    return SN_OK;
}

/* Read exactly `n` data bytes into a freshly allocated buffer, then require EOF.
 * The buffer grows geometrically with the bytes read. */
static sn_status sn_idx_payload(sn_ctx *ctx, sn_data_file *f, size_t n, const char *what,
                                size_t header_len, uint8_t **out) {
    sn_status st = SN_OK;
    size_t cap = n < ((size_t)1 << 20) ? n : ((size_t)1 << 20), got = 0;
    uint8_t *buf = sn_malloc(cap ? cap : 1);
    if (!buf) return sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory (%zu bytes)", f->path, cap);
    while (got < n) {
        if (got == cap) {
            size_t ncap = cap > n / 2 ? n : cap * 2;
            uint8_t *nb = sn_realloc(buf, ncap);
            if (!nb) {
                free(buf);
                return sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory (%zu bytes of %s)",
                               f->path, ncap, what);
            }
            buf = nb;
            cap = ncap;
        }
        size_t want = cap - got;
        size_t r = sn_data_read(ctx, f, buf + got, want, &st);
        if (r == SIZE_MAX) {
            free(buf);
            return st;
        }
        got += r;
        if (r < want) break; /* short read: end of file */
    }
    if (got < n) {
        free(buf);
        return sn_errf(ctx, SN_ERR_FORMAT,
                       "%s: truncated: expected %zu bytes of %s after the %zu-byte header, got %zu",
                       f->path, n, what, header_len, got);
    }
    unsigned char extra[4096];
    size_t n_extra = 0;
    for (;;) {
        size_t r = sn_data_read(ctx, f, extra, sizeof extra, &st);
        if (r == SIZE_MAX) {
            free(buf);
            return st;
        }
        n_extra += r;
        if (r < sizeof extra || n_extra > ((size_t)1 << 30)) break;
    }
    if (n_extra) {
        free(buf);
        return sn_errf(ctx, SN_ERR_FORMAT,
                       "%s: %zu trailing byte(s) after the %zu bytes of %s the header announces",
                       f->path, n_extra, n, what);
    }
    *out = buf;
    return SN_OK;
}

static const char *const sn_mnist_names[SN_IDX_N_CLASSES] = {"0", "1", "2", "3", "4",
                                                              "5", "6", "7", "8", "9"};
static const char *const sn_fashion_names[SN_IDX_N_CLASSES] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

/* Loader of "mnist" and "fashion-mnist" (dispatched from dataset.c). */
sn_status sn_idx_load(sn_ctx *ctx, const char *name, const char *split,
                      const sn_dataset_opts *opts, sn_dataset **out) {
    const char *dir = opts->dir;
    const char *pre = strcmp(split, "train") == 0 ? "train" : "t10k";
    char ibase[64], lbase[64];
    snprintf(ibase, sizeof ibase, "%s-images-idx3-ubyte", pre);
    snprintf(lbase, sizeof lbase, "%s-labels-idx1-ubyte", pre);

    sn_data_file fi = {0}, fl = {0};
    uint32_t ih[3] = {0}, lh[1] = {0};
    uint8_t *pix = NULL, *lab = NULL;
    sn_dataset *ds = NULL;
    sn_status st = sn_idx_open(ctx, dir, name, ibase, "images", &fi);
    if (st == SN_OK) st = sn_idx_open(ctx, dir, name, lbase, "labels", &fl);
    if (st == SN_OK) st = sn_idx_header(ctx, &fi, SN_IDX_MAGIC_IMAGES, 16, ih);
    if (st == SN_OK) st = sn_idx_header(ctx, &fl, SN_IDX_MAGIC_LABELS, 8, lh);
    if (st != SN_OK) goto done;

    uint32_t n = ih[0], rows = ih[1], cols = ih[2];
    if (n == 0 || n > (uint32_t)INT_MAX) {
        st = sn_errf(ctx, SN_ERR_FORMAT, "%s: image count %u out of range 1..%d", fi.path,
                     (unsigned)n, INT_MAX);
        goto done;
    }
    if (rows == 0 || cols == 0 || rows > SN_IDX_MAX_SIDE || cols > SN_IDX_MAX_SIDE) {
        st = sn_errf(ctx, SN_ERR_FORMAT, "%s: image size %ux%u out of range 1..%u per side",
                     fi.path, (unsigned)rows, (unsigned)cols, SN_IDX_MAX_SIDE);
        goto done;
    }
    if (lh[0] != n) {
        st = sn_errf(ctx, SN_ERR_FORMAT, "%s: %u labels but %s holds %u images", fl.path,
                     (unsigned)lh[0], fi.path, (unsigned)n);
        goto done;
    }
    size_t plane, npix;
    if (!sn_mul_size(rows, cols, &plane) || !sn_mul_size(plane, n, &npix)) {
        st = sn_errf(ctx, SN_ERR_FORMAT, "%s: %u images of %ux%u overflow the address space",
                     fi.path, (unsigned)n, (unsigned)rows, (unsigned)cols);
        goto done;
    }
    st = sn_idx_payload(ctx, &fl, n, "labels", 8, &lab);
    if (st != SN_OK) goto done;
    for (uint32_t i = 0; i < n; i++) {
        if (lab[i] >= SN_IDX_N_CLASSES) {
            st = sn_errf(ctx, SN_ERR_FORMAT, "%s: label %u at record %u out of range 0..%d",
                         fl.path, (unsigned)lab[i], (unsigned)i, SN_IDX_N_CLASSES - 1);
            goto done;
        }
    }
    st = sn_idx_payload(ctx, &fi, npix, "image data", 16, &pix);
    if (st != SN_OK) goto done;

    ds = sn_dataset_alloc(name);
    if (ds) ds->labels = sn_calloc(n, sizeof *ds->labels);
    if (!ds || !ds->labels) {
        st = sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory for %u labels", fl.path, (unsigned)n);
        goto done;
    }
    for (uint32_t i = 0; i < n; i++) ds->labels[i] = lab[i];
    ds->n = (int)n;
    ds->c = 1;
    ds->h = (int)rows;
    ds->w = (int)cols;
    ds->n_classes = SN_IDX_N_CLASSES;
    ds->pixels = pix;
    pix = NULL;
    st = sn_dataset_set_names(ctx, ds, strcmp(name, "mnist") == 0 ? sn_mnist_names
                                                                  : sn_fashion_names);
    if (st != SN_OK) goto done;
    *out = ds;
    ds = NULL;
done:
    sn_data_close(&fi);
    sn_data_close(&fl);
    free(pix);
    free(lab);
    sn_dataset_free(ds);
    return st;
}

