/* cifar.c -- CIFAR-10 and CIFAR-100 binary batches (plain or gzip).
 *
 * CIFAR-10:  <dir>/cifar-10-batches-bin/, else <dir>/cifar10/, else <dir>/ (each file
 *            looked up in that order, plain then .gz): train = data_batch_1..5.bin,
 *            test = test_batch.bin. Record = 3073 bytes: label (0..9), then 1024 R,
 *            1024 G, 1024 B bytes (32x32 planes, row by row, top row first).
 *            Class names: batches.meta.txt beside the first batch (10 non-empty
 *            lines), else airplane..truck.
 * CIFAR-100: <dir>/cifar-100-binary/, else <dir>/cifar100/, else <dir>/: train.bin /
 *            test.bin. Record = 3074 bytes: coarse label (0..19), fine label (0..99),
 *            3072 pixels as above. opts->label "fine" (default) or "coarse"; names from
 *            fine_label_names.txt / coarse_label_names.txt when present.
 * A record minus its label byte(s) is exactly one (3,32,32) image, so pixels are
 * copied as they are. Every file must hold a whole, non-zero number of records (a
 * partial last record is reported with its index and the file's byte count) and every
 * label byte is range-checked (record index and byte offset named). Record counts
 * other than the official ones are accepted with a warning through the log, so subsets
 * work. Memory grows with the records actually read. */
#define _POSIX_C_SOURCE 200809L
#include "data/data.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#define SN_CIFAR_PIX 3072
#define SN_CIFAR_CHUNK_RECS 64 /* records per read (196 KiB), and the first capacity */

/* Record layout of one CIFAR variant. */
typedef struct {
    const char *name;       /* "cifar10" / "cifar100" */
    int nlab;               /* label bytes before the pixels: 1 or 2 */
    int use;                /* which label byte is the class */
    int max[2];             /* label k of a record must be < max[k] */
    const char *what[2];    /* label names for messages */
} sn_cifar_fmt;

/* Records accumulated over the files of a split. */
typedef struct {
    uint8_t *px;  /* (cap, 3, 32, 32) */
    int32_t *lab; /* (cap) */
    size_t n, cap;
} sn_cifar_acc;

static sn_status sn_cifar_grow(sn_ctx *ctx, const char *path, sn_cifar_acc *a, size_t need) {
    if (need <= a->cap) return SN_OK;
    if (need > (size_t)INT_MAX)
        return sn_errf(ctx, SN_ERR_FORMAT, "%s: more than %d records in the split", path,
                       INT_MAX);
    size_t cap = a->cap ? a->cap : SN_CIFAR_CHUNK_RECS;
    while (cap < need) cap = cap > (size_t)INT_MAX / 2 ? (size_t)INT_MAX : cap * 2;
    uint8_t *px = sn_realloc(a->px, cap * SN_CIFAR_PIX); /* cap <= INT_MAX: fits size_t */
    if (px) a->px = px;
    int32_t *lab = px ? sn_realloc(a->lab, cap * sizeof *lab) : NULL;
    if (lab) a->lab = lab;
    if (!px || !lab)
        return sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory for %zu records", path, cap);
    a->cap = cap;
    return SN_OK;
}

/* Append every record of f to acc; `expect` = the official record count (warning only). */
static sn_status sn_cifar_read(sn_ctx *ctx, const sn_cifar_fmt *fmt, sn_data_file *f,
                               size_t expect, sn_cifar_acc *acc) {
    const size_t rec = (size_t)fmt->nlab + SN_CIFAR_PIX;
    uint8_t *buf = sn_malloc(rec * SN_CIFAR_CHUNK_RECS);
    if (!buf) return sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory for the read buffer", f->path);
    sn_status st = SN_OK;
    size_t n_file = 0;
    for (;;) {
        size_t want = rec * SN_CIFAR_CHUNK_RECS;
        size_t got = sn_data_read(ctx, f, buf, want, &st);
        if (got == SIZE_MAX) break;
        size_t full = got / rec, part = got % rec;
        st = sn_cifar_grow(ctx, f->path, acc, acc->n + full);
        if (st != SN_OK) break;
        for (size_t r = 0; r < full && st == SN_OK; r++) {
            const uint8_t *p = buf + r * rec;
            for (int k = 0; k < fmt->nlab; k++)
                if (p[k] >= fmt->max[k])
                    st = sn_errf(ctx, SN_ERR_FORMAT,
                                 "%s: record %zu (byte offset %zu): %s %u out of range 0..%d",
                                 f->path, n_file + r, (n_file + r) * rec + (size_t)k,
                                 fmt->what[k], (unsigned)p[k], fmt->max[k] - 1);
            acc->lab[acc->n + r] = p[fmt->use];
            memcpy(acc->px + (acc->n + r) * SN_CIFAR_PIX, p + fmt->nlab, SN_CIFAR_PIX);
        }
        if (st != SN_OK) break;
        acc->n += full;
        n_file += full;
        if (part) {
            st = sn_errf(ctx, SN_ERR_FORMAT,
                         "%s: %zu bytes is not a multiple of the %zu-byte record: last record "
                         "%zu is truncated (%zu of %zu bytes)",
                         f->path, f->pos, rec, n_file, part, rec);
            break;
        }
        if (got < want) break;
    }
    free(buf);
    if (st != SN_OK) return st;
    if (n_file == 0)
        return sn_errf(ctx, SN_ERR_FORMAT,
                       "%s: empty file (expected records of %zu bytes: %d label byte(s) + %d "
                       "pixels)",
                       f->path, rec, fmt->nlab, SN_CIFAR_PIX);
    if (n_file != expect)
        sn_logf(ctx, SN_LOG_WARN, "%s: %zu records (the official file has %zu)", f->path, n_file,
                expect);
    return SN_OK;
}

/* Read files base[0..nfiles-1] (looked up in dirs) into a new dataset. *found_dir =
 * index in dirs where the first file was found. */
static sn_status sn_cifar_load(sn_ctx *ctx, const sn_cifar_fmt *fmt, const char *const *dirs,
                               int ndirs, const char *const *base, int nfiles, size_t expect,
                               const char *hint, int *found_dir, sn_dataset **out) {
    sn_cifar_acc acc = {NULL, NULL, 0, 0};
    sn_status st = SN_OK;
    char what[64];
    for (int i = 0; i < nfiles && st == SN_OK; i++) {
        sn_data_file f = {0};
        int which = 0;
        snprintf(what, sizeof what, "%s batch %s", fmt->name, base[i]);
        st = sn_data_find(ctx, dirs, ndirs, base[i], what, hint, &f, &which);
        if (i == 0) *found_dir = which;
        if (st == SN_OK) st = sn_cifar_read(ctx, fmt, &f, expect, &acc);
        sn_data_close(&f);
    }
    sn_dataset *ds = st == SN_OK ? sn_dataset_alloc(fmt->name) : NULL;
    if (st == SN_OK && !ds) st = sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory", fmt->name);
    if (st != SN_OK) {
        free(acc.px);
        free(acc.lab);
        return st;
    }
    ds->n = (int)acc.n;
    ds->c = 3;
    ds->h = 32;
    ds->w = 32;
    ds->n_classes = fmt->max[fmt->use];
    ds->pixels = acc.px;
    ds->labels = acc.lab;
    *out = ds;
    return SN_OK;
}

/* dirs[0..2] = dir/sub, dir/alt, dir. */
static sn_status sn_cifar_dirs(sn_ctx *ctx, const char *dir, const char *sub, const char *alt,
                               char (*buf)[SN_DATA_PATH_CAP], const char **dirs) {
    int a = snprintf(buf[0], SN_DATA_PATH_CAP, "%s/%s", dir, sub);
    int b = snprintf(buf[1], SN_DATA_PATH_CAP, "%s/%s", dir, alt);
    if (a < 0 || b < 0 || a >= SN_DATA_PATH_CAP || b >= SN_DATA_PATH_CAP)
        return sn_errf(ctx, SN_ERR_ARG, "data directory path too long: %s", dir);
    dirs[0] = buf[0];
    dirs[1] = buf[1];
    dirs[2] = dir;
    return SN_OK;
}

static const char *const sn_cifar10_names[10] = {"airplane", "automobile", "bird",  "cat",
                                                 "deer",     "dog",        "frog",  "horse",
                                                 "ship",     "truck"};

sn_status sn_cifar10_load(sn_ctx *ctx, const char *name, const char *split,
                          const sn_dataset_opts *opts, sn_dataset **out) {
    static const sn_cifar_fmt fmt = {"cifar10", 1, 0, {10, 0}, {"label", ""}};
    static const char *const train[5] = {"data_batch_1.bin", "data_batch_2.bin",
                                         "data_batch_3.bin", "data_batch_4.bin",
                                         "data_batch_5.bin"};
    static const char *const test[1] = {"test_batch.bin"};
    (void)name;
    char buf[2][SN_DATA_PATH_CAP];
    const char *dirs[3];
    sn_status st = sn_cifar_dirs(ctx, opts->dir, "cifar-10-batches-bin", "cifar10", buf, dirs);
    if (st != SN_OK) return st;
    int is_train = strcmp(split, "train") == 0, found = 0, have_names = 0;
    sn_dataset *ds = NULL;
    st = sn_cifar_load(ctx, &fmt, dirs, 3, is_train ? train : test, is_train ? 5 : 1, 10000,
                       "Point --data (or $SIMNET_DATA) at the folder that holds "
                       "cifar-10-batches-bin/, or run 'simnet fetch cifar10 --data DIR'",
                       &found, &ds);
    if (st == SN_OK) st = sn_data_read_names(ctx, dirs[found], "batches.meta.txt", ds, &have_names);
    if (st == SN_OK && !have_names) st = sn_dataset_set_names(ctx, ds, sn_cifar10_names);
    if (st != SN_OK) {
        sn_dataset_free(ds);
        return st;
    }
    *out = ds;
    return SN_OK;
}

sn_status sn_cifar100_load(sn_ctx *ctx, const char *name, const char *split,
                           const sn_dataset_opts *opts, sn_dataset **out) {
    sn_cifar_fmt fmt = {"cifar100", 2, 1, {20, 100}, {"coarse label", "fine label"}};
    (void)name;
    const char *label = opts->label && *opts->label ? opts->label : "fine";
    if (strcmp(label, "coarse") == 0)
        fmt.use = 0;
    else if (strcmp(label, "fine") != 0)
        return sn_errf(ctx, SN_ERR_ARG, "cifar100: label '%s' unknown (expected fine or coarse)",
                       label);
    char buf[2][SN_DATA_PATH_CAP];
    const char *dirs[3];
    sn_status st = sn_cifar_dirs(ctx, opts->dir, "cifar-100-binary", "cifar100", buf, dirs);
    if (st != SN_OK) return st;
    int is_train = strcmp(split, "train") == 0, found = 0, have_names = 0;
    const char *file[1] = {is_train ? "train.bin" : "test.bin"};
    sn_dataset *ds = NULL;
    st = sn_cifar_load(ctx, &fmt, dirs, 3, file, 1, is_train ? 50000 : 10000,
                       "Point --data (or $SIMNET_DATA) at the folder that holds "
                       "cifar-100-binary/, or run 'simnet fetch cifar100 --data DIR'",
                       &found, &ds);
    if (st == SN_OK)
        st = sn_data_read_names(ctx, dirs[found],
                                fmt.use ? "fine_label_names.txt" : "coarse_label_names.txt", ds,
                                &have_names);
    if (st != SN_OK) {
        sn_dataset_free(ds);
        return st;
    }
    *out = ds;
    return SN_OK;
}
