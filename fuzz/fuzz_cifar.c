/* fuzz_cifar.c -- the CIFAR-10 / CIFAR-100 record loaders (plain and gzip) and their
 * class-name files. Input: byte 0 flags (bit 0: CIFAR-100, bit 1: gzip the batch, bit 2:
 * coarse labels, bit 3: write a class-name file), bytes 1-2 little-endian length L of
 * the class-name file, then L bytes of it, then the test batch. */
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
    if (!(flags & 8)) nl = 0;
    if (nl > size) nl = size;
    int c100 = flags & 1;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", fz_path(NULL, c100 ? "cifar-100-binary" : "cifar-10-batches-bin"));
    mkdir(dir, 0755);
    const char *batch = c100 ? "test.bin" : "test_batch.bin";
    const char *names = !c100 ? "batches.meta.txt" : flags & 4 ? "coarse_label_names.txt"
                                                               : "fine_label_names.txt";
    char gzname[64];
    snprintf(gzname, sizeof gzname, "%s.gz", batch);
    unlink(fz_path(dir, batch));
    unlink(fz_path(dir, gzname));
    unlink(fz_path(dir, names));
    if (flags & 8) fz_write(fz_path(dir, names), data, nl, 0);
    fz_write(fz_path(dir, flags & 2 ? gzname : batch), data + nl, size - nl, flags & 2);
    sn_dataset_opts o;
    memset(&o, 0, sizeof o);
    o.dir = fz_tmpdir();
    o.label = flags & 4 ? "coarse" : "fine";
    sn_dataset *ds = NULL;
    fz_clear_error(ctx);
    sn_status st = sn_dataset_open(ctx, c100 ? "cifar100" : "cifar10", "test", &o, &ds);
    fz_check_error(ctx, st);
    if (st == SN_OK)
        for (int i = 0; i < ds->n; i++)
            if (ds->labels[i] < 0 || ds->labels[i] >= ds->n_classes) abort();
    sn_dataset_free(ds);
    return 0;
}
