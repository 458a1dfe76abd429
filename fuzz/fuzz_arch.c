/* fuzz_arch.c -- the architecture text spec: sn_model_create with arch = the input (at
 * most 1100 bytes, so also over the 1023-character limit). Input: byte 0 = input
 * channels (1..3), byte 1 = input side (1..40), then the spec. A model that builds is
 * run forward on two images when it is small. */
#include "fuzz_common.h"
#include "nn/nn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static sn_ctx *ctx;
    if (!ctx) ctx = sn_ctx_create(1);
    if (size < 2 || size > 1102) return 0;
    sn_model_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.in_c = 1 + data[0] % 3;
    cfg.in_h = cfg.in_w = 1 + data[1] % 40;
    for (int k = 0; k < 3; k++) {
        cfg.mean[k] = 0.5f;
        cfg.std[k] = 0.25f;
    }
    cfg.seed = 1;
    char *spec = malloc(size - 1);
    if (!spec) return 0;
    memcpy(spec, data + 2, size - 2);
    spec[size - 2] = '\0';
    /* A valid spec may ask for up to 2^28 parameters (2 GiB of params + grads), over
     * libFuzzer's RSS limit: parse it first (sn_model_build allocates nothing) and skip the
     * allocating sn_model_create above 2^20 parameters or buffers (bigger models only slow
     * the fuzzer down: 16M-parameter creates cut it to ~20 execs/s). The parser and its errors
     * are fuzzed on every input. */
    sn_model *probe = calloc(1, sizeof *probe);
    if (!probe) {
        free(spec);
        return 0;
    }
    probe->in_c = cfg.in_c;
    probe->in_h = probe->in_w = cfg.in_h;
    fz_clear_error(ctx);
    sn_status pst = sn_model_build(ctx, probe, spec);
    fz_check_error(ctx, pst);
    const int huge = pst == SN_OK && (probe->n_params > ((size_t)1 << 20) ||
                                      probe->n_bufs > ((size_t)1 << 20));
    free(probe);
    if (huge) {
        free(spec);
        return 0;
    }
    cfg.arch = spec;
    sn_model *m = NULL;
    fz_clear_error(ctx);
    sn_status st = sn_model_create(ctx, &cfg, &m);
    fz_check_error(ctx, st);
    if (st == SN_OK) {
        char desc[8192];
        sn_model_describe(m, desc, sizeof desc);
        size_t img = (size_t)cfg.in_c * (size_t)cfg.in_h * (size_t)cfg.in_w;
        if (sn_model_param_count(m) <= ((size_t)1 << 20)) {
            uint8_t *px = calloc(2 * img, 1);
            float *e = calloc(2 * (size_t)sn_model_embed_dim(m), sizeof *e);
            if (px && e) {
                for (size_t i = 0; i < 2 * img; i++) px[i] = (uint8_t)(i * 37);
                fz_clear_error(ctx);
                st = sn_model_embed(ctx, m, px, 2, e);
                fz_check_error(ctx, st);
            }
            free(px);
            free(e);
        }
        sn_model_free(m);
    }
    free(spec);
    return 0;
}
