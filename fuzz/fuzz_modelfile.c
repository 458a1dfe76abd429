/* fuzz_modelfile.c -- sn_model_load on arbitrary bytes (docs/model-format.md). A file
 * that loads must describe itself, embed one image, save and load again. Each input is
 * loaded twice: as it is, and with its trailing CRC-32 recomputed, so that mutations
 * reach the header and tensor checks behind the checksum. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void load_one(sn_ctx *ctx, const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static sn_ctx *ctx;
    if (!ctx) ctx = sn_ctx_create(1);
    load_one(ctx, data, size);
    if (size >= 20) {
        uint8_t *fixed = malloc(size);
        if (!fixed) return 0;
        memcpy(fixed, data, size);
        uint32_t crc = (uint32_t)crc32(0L, fixed, (uInt)(size - 4));
        for (int k = 0; k < 4; k++) fixed[size - 4 + (size_t)k] = (uint8_t)(crc >> (8 * k));
        load_one(ctx, fixed, size);
        free(fixed);
    }
    return 0;
}

static void load_one(sn_ctx *ctx, const uint8_t *data, size_t size) {
    char path[1024], out[1024];
    snprintf(path, sizeof path, "%s", fz_path(NULL, "m.snm"));
    snprintf(out, sizeof out, "%s", fz_path(NULL, "resaved.snm"));
    fz_write(path, data, size, 0);
    sn_model *m = NULL;
    fz_clear_error(ctx);
    sn_status st = sn_model_load(ctx, path, &m);
    fz_check_error(ctx, st);
    if (st != SN_OK) return;
    char desc[4096];
    sn_model_describe(m, desc, sizeof desc);
    int c, h, w;
    sn_model_input_shape(m, &c, &h, &w);
    size_t img = (size_t)c * (size_t)h * (size_t)w;
    if (img <= ((size_t)1 << 16) && sn_model_param_count(m) <= ((size_t)1 << 20)) {
        uint8_t *px = calloc(img, 1);
        float *e = calloc((size_t)sn_model_embed_dim(m), sizeof *e);
        if (px && e) {
            fz_clear_error(ctx);
            st = sn_model_embed(ctx, m, px, 1, e);
            fz_check_error(ctx, st);
        }
        free(px);
        free(e);
    }
    fz_clear_error(ctx);
    st = sn_model_save(ctx, m, out);
    fz_check_error(ctx, st);
    sn_model_free(m);
    if (st == SN_OK) {
        sn_model *m2 = NULL;
        st = sn_model_load(ctx, out, &m2);
        if (st != SN_OK) {
            fprintf(stderr, "fuzz: a loaded model does not load again after saving: %s\n",
                    sn_ctx_error(ctx));
            abort();
        }
        sn_model_free(m2);
    }
}
