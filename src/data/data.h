/* data.h -- private interface of the dataset loaders (src/data/).
 *
 * dataset.c   sn_dataset_open dispatch (a static table of loaders), free, split,
 *             select_classes, and the helpers every loader shares: a gzip-or-plain file
 *             reader that counts bytes, "first existing file among candidate paths",
 *             class-name files.
 * idx.c       "mnist", "fashion-mnist"      cifar.c  "cifar10", "cifar100"
 * folder.c    "folder:PATH"                 image.c  sn_image_load (PNM, PNG, JPEG)
 *
 * A loader receives a validated split ("train" or "test") and non-NULL opts, sets *out
 * only on success and leaves its message in ctx on failure. */
#ifndef SN_DATA_H
#define SN_DATA_H

#include "core/core.h"

#include <zlib.h>

#define SN_DATA_PATH_CAP 4096

/* A data file read through zlib (gzread reads plain files transparently). */
typedef struct {
    gzFile gz;
    size_t pos; /* uncompressed bytes read so far */
    char path[SN_DATA_PATH_CAP];
} sn_data_file;

/* Read up to n bytes; returns the count read (< n only at end of file), or SIZE_MAX on
 * a read / decompression error (*st and the message in ctx set). */
size_t sn_data_read(sn_ctx *ctx, sn_data_file *f, void *buf, size_t n, sn_status *st);
void sn_data_close(sn_data_file *f);

/* Open the first file that exists among dirs[i]/base and dirs[i]/base.gz, i = 0..ndirs-1
 * (in that order). *which = index of the directory it was found in. Errors: the path
 * is not a regular file ("expected <what>"), or nothing exists: the message lists every
 * path tried, then `hint`. ndirs <= 4. */
sn_status sn_data_find(sn_ctx *ctx, const char *const *dirs, int ndirs, const char *base,
                       const char *what, const char *hint, sn_data_file *f, int *which);

/* calloc'd dataset with `name` set (NULL when out of memory). */
sn_dataset *sn_dataset_alloc(const char *name);

/* Give ds room for ds->n_classes names, copied from names[] (truncated to 63 chars). */
sn_status sn_dataset_set_names(sn_ctx *ctx, sn_dataset *ds, const char *const *names);

/* Optional class-name file dir/base (plain or .gz): one name per line, blank lines
 * ignored, "\r\n" accepted; exactly ds->n_classes names expected. Absent: *found = 0,
 * SN_OK. Present but malformed: SN_ERR_FORMAT naming the file and the line. */
sn_status sn_data_read_names(sn_ctx *ctx, const char *dir, const char *base, sn_dataset *ds,
                             int *found);

/* Loaders (see the file of each). */
sn_status sn_idx_load(sn_ctx *ctx, const char *name, const char *split,
                      const sn_dataset_opts *opts, sn_dataset **out);
sn_status sn_cifar10_load(sn_ctx *ctx, const char *name, const char *split,
                          const sn_dataset_opts *opts, sn_dataset **out);
sn_status sn_cifar100_load(sn_ctx *ctx, const char *name, const char *split,
                           const sn_dataset_opts *opts, sn_dataset **out);
/* name = the PATH part of "folder:PATH". */
sn_status sn_folder_load(sn_ctx *ctx, const char *name, const char *split,
                         const sn_dataset_opts *opts, sn_dataset **out);

/* out(y, x) = in sampled bilinearly (zero outside) at A^-1 (y + dy, x' + dx), x' = x or
 * W-1-x (flip), A = the turn by theta radians (counter-clockwise on screen) and the scale s
 * about the centre: theta = 0, s = 1 is exactly the integer crop of sn_augment_image
 * (train/batcher.c). Also the 45-degree turns of sn_dataset_label_augment. */
void sn_warp_image(uint8_t *out, const uint8_t *in, int C, int H, int W, float theta, float s,
                   int dy, int dx, int flip);
/* out(y, x) = in(y + dy, x' + dx), x' = x or W-1-x (flip), zero outside: the integer
 * crop of --crop-pad / --flip (sn_augment_image) and the views of test-time
 * augmentation (sn_model_set_tta). */
void sn_shift_image(uint8_t *out, const uint8_t *in, int C, int H, int W, int dy, int dx, int flip);

#endif
