/* fuzz_npy.c -- sn_npy_read (NumPy .npy, src/io/npy.c) on arbitrary bytes. An array
 * that reads must write and read back identically. */
#include "fuzz_common.h"

#include "io/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static sn_ctx *ctx;
    if (!ctx) ctx = sn_ctx_create(1);
    char path[1024], out[1024];
    snprintf(path, sizeof path, "%s", fz_path(NULL, "a.npy"));
    snprintf(out, sizeof out, "%s", fz_path(NULL, "b.npy"));
    fz_write(path, data, size, 0);
    sn_npy_array a;
    fz_clear_error(ctx);
    sn_status st = sn_npy_read(ctx, path, &a);
    fz_check_error(ctx, st);
    if (st != SN_OK) return 0;
    if (sn_npy_write(ctx, out, a.dtype, a.ndim, a.shape, a.data) == SN_OK) {
        sn_npy_array b;
        if (sn_npy_read(ctx, out, &b) != SN_OK || b.count != a.count || b.dtype != a.dtype ||
            memcmp(a.data, b.data, 4 * a.count) != 0) {
            fprintf(stderr, "fuzz: .npy round trip differs: %s\n", sn_ctx_error(ctx));
            abort();
        }
        sn_npy_free(&b);
    }
    sn_npy_free(&a);
    return 0;
}
