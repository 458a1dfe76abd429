/* test_infer.c -- the inference path (src/nn/infer.c, src/kernels/conv_nhwc.c):
 * NHWC conv kernels (im2row and Winograd, with the fused bias/ReLU/max-pool epilogue)
 * against the double NCHW reference; sn_model_embed against the training-path forward
 * in eval mode (sn_model_embed_ref) on every layer kind, with batch norm statistics made
 * non-trivial so folding matters; 1 thread vs 2 threads bit for bit. */
#include "kernels/kernels_nhwc.h"
#include "nn/infer.h"
#include "testutil.h"

#include <string.h>

static sn_rng rng;

static float urand(float lo, float hi) { return sn_rng_uniform_range(&rng, lo, hi); }

/* NHWC conv with epilogue vs the double reference: conv2d_forward_ref (NCHW), + bias,
 * 2x2 max-pool (floor), ReLU. */
static void check_conv(int N, int C, int H, int W, int M, int K, int s, int p, int pool,
                       int relu, int wino) {
    sn_conv2d_dims d = {.N = N, .C = C, .H = H, .W = W, .M = M, .KH = K, .KW = K, .stride = s,
                        .pad = p};
    CHECK(sn_conv2d_dims_init(&d));
    if (wino) CHECK(sn_conv_nhwc_wino_ok(&d));
    const size_t xs = (size_t)C * H * W, ohw = (size_t)d.OH * d.OW, kk = (size_t)K * K;
    const int PH = d.OH / pool, PW = d.OW / pool;
    double *xd = malloc(sizeof(double) * N * xs), *wd = malloc(sizeof(double) * M * C * kk);
    double *bd = malloc(sizeof(double) * M), *yd = malloc(sizeof(double) * N * M * ohw);
    float *x = malloc(sizeof(float) * N * xs), *w = malloc(sizeof(float) * M * C * kk);
    float *b = malloc(sizeof(float) * M), *y = malloc(sizeof(float) * N * M * ohw);
    float *U = malloc(sizeof(float) * 16 * C * M);
    const sn_conv_epi e = {b, relu, pool};
    size_t sc = wino ? sn_conv_nhwc_wino_scratch(&d) : sn_conv_nhwc_scratch(&d);
    float *scr = malloc(sizeof(float) * sc);
    for (int n = 0; n < N; n++)
        for (size_t q = 0; q < (size_t)H * W; q++)
            for (int c = 0; c < C; c++) { /* x NHWC, xd NCHW */
                float v = urand(-1, 1);
                x[((size_t)n * H * W + q) * C + c] = v;
                xd[(size_t)n * xs + (size_t)c * H * W + q] = v;
            }
    for (int m = 0; m < M; m++) {
        b[m] = urand(-0.5f, 0.5f);
        bd[m] = b[m];
        for (int c = 0; c < C; c++)
            for (size_t t = 0; t < kk; t++) { /* w (KH,KW,C,M), wd (M,C,KH,KW) */
                float v = urand(-0.3f, 0.3f);
                w[(t * C + c) * M + m] = v;
                wd[((size_t)m * C + c) * kk + t] = v;
            }
    }
    sn_conv2d_forward_ref(yd, xd, wd, NULL, &d);
    if (wino) {
        sn_conv_nhwc_wino_weights(U, w, C, M);
        sn_conv_nhwc_wino_f32(y, x, U, &e, &d, scr);
    } else {
        sn_conv_nhwc_forward_f32(y, x, w, &e, &d, scr);
    }
    double maxerr = 0, maxref = 0;
    for (int n = 0; n < N; n++)
        for (int m = 0; m < M; m++)
            for (int py = 0; py < PH; py++)
                for (int px = 0; px < PW; px++) {
                    double r = -1e300;
                    for (int i = 0; i < pool; i++)
                        for (int j = 0; j < pool; j++) {
                            double v = yd[((size_t)n * M + m) * ohw + (size_t)(py * pool + i) * d.OW +
                                          (size_t)(px * pool + j)];
                            r = v > r ? v : r;
                        }
                    r += bd[m];
                    if (relu && r < 0) r = 0;
                    double f = y[(((size_t)n * PH + py) * PW + px) * M + m];
                    if (fabs(f - r) > maxerr) maxerr = fabs(f - r);
                    if (fabs(r) > maxref) maxref = fabs(r);
                }
    printf("conv %s N%d C%d %dx%d M%d K%d s%d p%d pool%d relu%d: max |err| %.3g (max |y| %.3g)\n",
           wino ? "wino" : "im2row", N, C, H, W, M, K, s, p, pool, relu, maxerr, maxref);
    CHECK(maxerr <= 2e-6 * (maxref > 1 ? maxref : 1));
    free(xd); free(wd); free(bd); free(yd); free(x); free(w); free(b); free(y); free(U); free(scr);
}

/* Model of spec on C x HW x HW input, BN parameters and running statistics randomised. */
static sn_model *make(sn_ctx *ctx, const char *spec, int C, int HW) {
    sn_model_config mc = {0};
    mc.arch = spec;
    mc.in_c = C;
    mc.in_h = mc.in_w = HW;
    for (int c = 0; c < 3; c++) {
        mc.mean[c] = 0.4f + 0.05f * c;
        mc.std[c] = 0.25f + 0.02f * c;
    }
    mc.seed = 7;
    sn_model *m = NULL;
    if (sn_model_create(ctx, &mc, &m)) {
        fprintf(stderr, "model %s: %s\n", spec, sn_ctx_error(ctx));
        return NULL;
    }
    for (int i = 0; i < m->n_layers; i++) {
        const sn_layer *L = &m->layers[i];
        if (L->kind != SN_LAYER_BATCHNORM) continue;
        const int Cn = L->in[0];
        float *g = m->params + L->p_off, *bm = m->bufs + L->b_off;
        for (int c = 0; c < Cn; c++) {
            g[c] = urand(0.5f, 1.5f);
            g[Cn + c] = urand(-0.5f, 0.5f);
            bm[c] = urand(-0.3f, 0.3f);
            bm[Cn + c] = urand(0.3f, 2.0f);
        }
    }
    return m;
}

/* fast path (2 threads, 1 thread) vs the reference path on n random images */
static void check_model(const char *name, const char *spec, int C, int HW, int n) {
    sn_ctx *c1 = sn_ctx_create(1), *c2 = sn_ctx_create(2);
    sn_model *m = make(c2, spec, C, HW);
    CHECK(m != NULL);
    if (!m) return;
    const size_t img = (size_t)C * HW * HW, D = (size_t)m->embed_dim;
    uint8_t *px = malloc(img * (size_t)n);
    float *e1 = malloc(sizeof(float) * D * n), *e2 = malloc(sizeof(float) * D * n);
    float *er = malloc(sizeof(float) * D * n);
    for (size_t i = 0; i < img * (size_t)n; i++) px[i] = (uint8_t)sn_rng_below(&rng, 256);
    CHECK(sn_model_embed_ref(c2, m, px, n, er) == SN_OK);
    CHECK(sn_model_embed(c2, m, px, n, e2) == SN_OK);
    CHECK(sn_model_embed(c1, m, px, n, e1) == SN_OK);
    const double rel = tu_max_rel_diff(e2, er, D * n);
    const int same = memcmp(e1, e2, sizeof(float) * D * n) == 0;
    printf("%-12s n=%-4d fast vs reference: max rel diff %.3g; 1 vs 2 threads %s\n", name, n, rel,
           same ? "bit-identical" : "DIFFER");
    CHECK(rel < 1e-4);
    CHECK(same);
    /* one image alone (a chunk of 1) */
    CHECK(sn_model_embed(c2, m, px, 1, e1) == SN_OK);
    CHECK(tu_max_rel_diff(e1, er, D) < 1e-4);
    /* the folded weights are recomputed when parameters or BN statistics change */
    for (size_t i = 0; i < m->n_params; i++) m->params[i] *= 0.9f;
    for (size_t i = 0; i < m->n_bufs; i++) m->bufs[i] *= 1.1f;
    CHECK(sn_model_embed_ref(c2, m, px, n, er) == SN_OK);
    CHECK(sn_model_embed(c2, m, px, n, e2) == SN_OK);
    CHECK(tu_max_rel_diff(e2, er, D * n) < 1e-4);
    free(px); free(e1); free(e2); free(er);
    sn_model_free(m);
    sn_ctx_free(c1);
    sn_ctx_free(c2);
}

int main(void) {
    sn_rng_seed(&rng, 42, 1);
    /* kernels: im2row (small K, GEMM K, stride 2, 5x5) and Winograd (pads 0,1,2, odd
     * sizes, pool on an odd output, groups over several images) */
    check_conv(3, 1, 9, 11, 5, 3, 1, 1, 1, 0, 0);
    check_conv(2, 3, 11, 9, 40, 3, 2, 1, 2, 1, 0); /* small K, stride 2, M over 32 lanes */
    check_conv(2, 1, 28, 28, 32, 3, 1, 1, 2, 0, 0); /* the seed net's conv1 */
    check_conv(2, 3, 10, 10, 7, 5, 2, 2, 1, 1, 0);
    check_conv(3, 8, 13, 13, 12, 3, 1, 1, 2, 1, 0);
    check_conv(5, 8, 7, 7, 16, 3, 1, 0, 1, 0, 1);
    check_conv(3, 16, 14, 14, 24, 3, 1, 1, 2, 0, 1);
    check_conv(2, 6, 13, 11, 9, 3, 1, 1, 2, 1, 1);
    check_conv(2, 5, 9, 8, 3, 3, 1, 2, 1, 1, 1);
    check_conv(9, 32, 14, 14, 64, 3, 1, 1, 2, 0, 1); /* the seed net's conv2, 2 groups */

    /* models: the presets, and specs that reach the unfused ops (bn alone, relu, maxpool 3,
     * avgpool, flatten of a spatial tensor, linear on a spatial input, skip/add, l2norm) */
    check_model("seed", "conv 32 3 1 1; bn; maxpool 2; conv 64 3 1 1; bn; maxpool 2; "
                "conv 128 3 1 0; bn; avgpool 5; flatten; linear 64; bn; linear 2", 1, 28, 37);
    check_model("seed-relu", "conv 32 3 1 1; bn; relu; maxpool 2; conv 64 3 1 1; bn; relu; "
                "maxpool 2; conv 128 3 1 0; bn; relu; avgpool 5; flatten; linear 64; bn; relu; "
                "linear 16; l2norm", 1, 28, 21);
    check_model("resnet-w.125", "conv 8 3 1 1; bn; relu; conv 16 3 1 1; bn; relu; maxpool 2; "
                "skip; conv 16 3 1 1; bn; relu; conv 16 3 1 1; bn; relu; add; conv 32 3 1 1; "
                "bn; relu; maxpool 2; conv 64 3 1 1; bn; relu; maxpool 2; skip; conv 64 3 1 1; "
                "bn; relu; conv 64 3 1 1; bn; relu; add; maxpool 4; flatten; linear 32", 3, 32, 19);
    check_model("fallbacks", "conv 6 5 2 2; relu; bn; maxpool 3 2; conv 8 3 1 1; skip; "
                "conv 8 3 1 1; bn; relu; add; bn; relu; avgpool 2; flatten; linear 16; relu; "
                "linear 4; l2norm", 3, 23, 13);
    check_model("spatial-fc", "conv 4 3 1 1; maxpool 2; relu; bn; linear 7; bn; relu; linear 3",
                2, 9, 5);
    check_model("tiny", "conv 8 3 1 1; bn; maxpool 2; conv 8 3 1 1; bn; maxpool 2; "
                "avgpool 7; flatten; linear 2", 1, 28, 2);
    /* the fast CIFAR recipe's layers: whiten (a frozen conv), conv-pool-BN order, bn 1, gelu */
    check_model("whiten-gelu", "whiten 2; gelu; conv 16 3 1 1; maxpool 2; bn 1; gelu; "
                "conv 16 3 1 1; bn; gelu; maxpool 3; flatten; l2norm", 3, 13, 9);

    /* bf16 models take the reference path: identical to it */
    {
        sn_ctx *ctx = sn_ctx_create(2);
        sn_model *m = make(ctx, "conv 8 3 1 1; bn; maxpool 2; flatten; linear 3", 1, 8);
        CHECK(m && sn_model_set_precision(ctx, m, "bf16") == SN_OK);
        uint8_t px[3 * 64];
        float a[9], b[9];
        for (int i = 0; i < 3 * 64; i++) px[i] = (uint8_t)(i * 37);
        CHECK(sn_model_embed(ctx, m, px, 3, a) == SN_OK);
        CHECK(sn_model_embed_ref(ctx, m, px, 3, b) == SN_OK);
        CHECK(memcmp(a, b, sizeof a) == 0);
        CHECK(sn_model_embed(ctx, m, px, 0, a) == SN_OK);
        sn_model_free(m);
        sn_ctx_free(ctx);
    }
    return tu_finish("test_infer");
}
