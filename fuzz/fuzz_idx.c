/* fuzz_idx.c -- the MNIST IDX loader (plain and gzip) on arbitrary image + label files.
 * Input: byte 0 flags (bit 0: gzip the images, bit 1: gzip the labels, bit 2:
 * fashion-mnist), bytes 1-2 little-endian length L of the label file, then L bytes of
 * label file (fewer if the input is shorter), then the image file. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static sn_ctx *ctx;
    if (!ctx) ctx = sn_ctx_create(1);
    if (size < 3) return 0;
    int flags = data[0];
    size_t nl = (size_t)data[1] | (size_t)data[2] << 8;
    data += 3;
    size -= 3;
    if (nl > size) nl = size;
    const char *name = flags & 4 ? "fashion-mnist" : "mnist";
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", fz_path(NULL, name));
    mkdir(dir, 0755);
    static const char *files[] = {"t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte.gz",
                                  "t10k-labels-idx1-ubyte", "t10k-labels-idx1-ubyte.gz"};
    for (int i = 0; i < 4; i++) unlink(fz_path(dir, files[i]));
    fz_write(fz_path(dir, files[2 + !!(flags & 2)]), data, nl, flags & 2);
    fz_write(fz_path(dir, files[!!(flags & 1)]), data + nl, size - nl, flags & 1);
    sn_dataset *ds = NULL;
    fz_clear_error(ctx);
    sn_status st = sn_dataset_load(ctx, name, fz_tmpdir(), "test", &ds);
    fz_check_error(ctx, st);
    if (st == SN_OK) {
        for (int i = 0; i < ds->n; i++)
            if (ds->labels[i] < 0 || ds->labels[i] >= ds->n_classes) abort();
        sn_dataset *sel = NULL;
        if (sn_dataset_select_classes(ctx, ds, "0-4,9", &sel) == SN_OK) sn_dataset_free(sel);
    }
    sn_dataset_free(ds);
    return 0;
}
