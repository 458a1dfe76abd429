/* fuzz_image.c -- sn_image_load (PNG, JPEG, PGM/PPM decoding, channel conversion and
 * resizing) on arbitrary bytes. Input: byte 0 bit 0 = channels (1 or 3), byte 1 and 2
 * the requested height and width (1..64), then the image file. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static sn_ctx *ctx;
    if (!ctx) ctx = sn_ctx_create(1);
    if (size < 3) return 0;
    int c = data[0] & 1 ? 3 : 1, h = 1 + data[1] % 64, w = 1 + data[2] % 64;
    char path[1024];
    snprintf(path, sizeof path, "%s", fz_path(NULL, "img"));
    fz_write(path, data + 3, size - 3, 0);
    uint8_t *out = malloc((size_t)c * (size_t)h * (size_t)w);
    if (!out) return 0;
    fz_clear_error(ctx);
    sn_status st = sn_image_load(ctx, path, c, h, w, out);
    fz_check_error(ctx, st);
    free(out);
    return 0;
}
