/* test_bf16.c -- bf16 GEMM (bf16 multiplies, fp32 accumulation) against its references.
 *
 * Per shape (odd sizes, every transpose, K/M/N spanning several cache blocks):
 *   fast vs _ref (inputs rounded to bf16, double sums): max rel diff <= 2e-6 (fp32 sums of
 *     exact bf16 products against double);
 *   portable vs fast: the same arithmetic in the same order, so <= 1e-7 (bit-identical
 *     unless subnormals are flushed by the AVX512-BF16 path; normal-range data here);
 *   fast vs fp32 sgemm, elementwise: |d| <= 2^-7 * sum_k |a_ik b_kj| + 1e-6, the bound
 *     of rounding each operand to bf16 (relative error <= 2^-8 each).
 * beta = 0 must ignore what C holds (NaN), beta != 0 must blend it, alpha scales.
 * Then the bf16 convolutions, and a seed model switched to bf16 (sn_model_set_precision). */
#include "core/core.h"
#include "kernels/kernels.h"
#include "nn/nn.h"
#include "testutil.h"

#include <stdint.h>
#include <string.h>

static sn_rng g_rng;


static void fill(float *a, size_t n) {
    for (size_t i = 0; i < n; i++) a[i] = sn_rng_uniform_range(&g_rng, -1.0f, 1.0f);
}

static void test_rounding(void) {
    CHECK(sn_bf16_from_f32(1.0f) == 0x3f80);
    CHECK(sn_bf16_from_f32(-2.0f) == 0xc000);
    CHECK(sn_bf16_from_f32(1.0f + 0x1p-8f) == 0x3f80);        /* tie -> even */
    CHECK(sn_bf16_from_f32(1.0f + 0x1p-7f + 0x1p-8f) == 0x3f82); /* tie -> even (up) */
    CHECK(sn_bf16_from_f32(1.0f + 0x1p-8f + 0x1p-20f) == 0x3f81); /* above the tie */
    CHECK(sn_bf16_from_f32(INFINITY) == 0x7f80);
    CHECK(sn_bf16_from_f32(-0.0f) == 0x8000);
    CHECK(isnan(sn_bf16_to_f32(sn_bf16_from_f32(NAN))));
    CHECK(sn_bf16_round(3.0e38f) == INFINITY || sn_bf16_round(3.0e38f) > 3.0e38f * 0.99f);
    CHECK(sn_bf16_round(0.1f) != 0.1f && fabsf(sn_bf16_round(0.1f) - 0.1f) <= 0.1f * 0x1p-8f);
}

static double max_rel(const float *a, const float *b, size_t n) { return tu_max_rel_diff(a, b, n); }

static void gemm_case(int tA, int tB, int M, int N, int K, float alpha, float beta) {
    const int lda = (tA ? M : K) + 3, ldb = (tB ? K : N) + 1, ldc = N + 2;
    const size_t na = (size_t)(tA ? K : M) * lda, nb = (size_t)(tB ? N : K) * ldb,
                 nc = (size_t)M * ldc;
    float *A = tu_fbuf(na), *B = tu_fbuf(nb), *C0 = tu_fbuf(nc);
    fill(A, na);
    fill(B, nb);
    fill(C0, nc);
    if (beta == 0.0f)
        for (size_t i = 0; i < nc; i++) C0[i] = NAN; /* must not be read */
    float *cf = tu_fbuf(nc), *cp = tu_fbuf(nc), *cr = tu_fbuf(nc), *c32 = tu_fbuf(nc);
    memcpy(cf, C0, nc * sizeof(float));
    memcpy(cp, C0, nc * sizeof(float));
    memcpy(cr, C0, nc * sizeof(float));
    memcpy(c32, C0, nc * sizeof(float));
    void *scratch = malloc(sn_gemm_bf16_scratch_size(M, N, K));
    if (!scratch) abort();
    sn_gemm_bf16(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, cf, ldc, scratch);
    sn_gemm_bf16_portable(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, cp, ldc, scratch);
    sn_gemm_bf16_ref(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, cr, ldc);
    sn_gemm_ref_f32(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, c32, ldc);
    /* compare the M x N parts (padding columns of ldc untouched: check that too) */
    float *f = tu_fbuf((size_t)M * N), *p = tu_fbuf((size_t)M * N), *r = tu_fbuf((size_t)M * N);
    int pad_ok = 1, bound_ok = 1, finite = 1;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            const size_t o = (size_t)i * ldc + j;
            f[(size_t)i * N + j] = cf[o];
            p[(size_t)i * N + j] = cp[o];
            r[(size_t)i * N + j] = cr[o];
            finite &= isfinite(cf[o]) && isfinite(cp[o]);
            double s = 0;
            for (int k = 0; k < K; k++) {
                const double a = tA ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                const double b = tB ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                s += fabs(a * b);
            }
            if (!(fabs((double)cf[o] - (double)c32[o]) <= 0x1p-7 * fabs((double)alpha) * s + 1e-6))
                bound_ok = 0;
        }
        for (int j = N; j < ldc; j++) {
            const size_t o = (size_t)i * ldc + j;
            if (memcmp(&cf[o], &C0[o], sizeof(float)) || memcmp(&cp[o], &C0[o], sizeof(float)))
                pad_ok = 0;
        }
    }
    const double d_ref = max_rel(f, r, (size_t)M * N), d_port = max_rel(p, f, (size_t)M * N);
    tu_checks += 5;
    if (!finite) {
        tu_failures++;
        fprintf(stderr, "FAIL gemm_bf16 %dx%dx%d tA=%d tB=%d: non-finite output\n", M, N, K, tA, tB);
    }
    if (!(d_ref <= 2e-6)) {
        tu_failures++;
        fprintf(stderr, "FAIL gemm_bf16 %dx%dx%d tA=%d tB=%d b=%g: fast vs ref %.3g\n", M, N, K,
                tA, tB, (double)beta, d_ref);
    }
    if (!(d_port <= 1e-7)) {
        tu_failures++;
        fprintf(stderr, "FAIL gemm_bf16 %dx%dx%d tA=%d tB=%d: portable vs fast %.3g\n", M, N, K,
                tA, tB, d_port);
    }
    if (!bound_ok) {
        tu_failures++;
        fprintf(stderr, "FAIL gemm_bf16 %dx%dx%d tA=%d tB=%d: outside the bf16 bound vs fp32\n",
                M, N, K, tA, tB);
    }
    if (!pad_ok) {
        tu_failures++;
        fprintf(stderr, "FAIL gemm_bf16 %dx%dx%d tA=%d tB=%d: wrote outside the N columns\n", M,
                N, K, tA, tB);
    }
    free(A); free(B); free(C0); free(cf); free(cp); free(cr); free(c32);
    free(f); free(p); free(r); free(scratch);
}

/* bf16 must differ from fp32 at all (else the "bf16" path is an fp32 GEMM in disguise):
 * a K=1 product of values that bf16 cannot hold. */
static void test_really_bf16(void) {
    const float a = 1.0f + 0x1p-12f, b = 3.0f;
    float c = 0;
    void *scratch = malloc(sn_gemm_bf16_scratch_size(1, 1, 1));
    if (!scratch) abort();
    sn_gemm_bf16(0, 0, 1, 1, 1, 1.0f, &a, 1, &b, 1, 0.0f, &c, 1, scratch);
    CHECK(c == 3.0f);
    /* alpha = 0: A, B not read (BLAS), C = beta * C */
    const float inf = INFINITY;
    c = 2.0f;
    sn_gemm_bf16(0, 0, 1, 1, 1, 0.0f, &inf, 1, &b, 1, 0.5f, &c, 1, scratch);
    CHECK(c == 1.0f);
    free(scratch);
}

/* bf16 convolution (the three GEMMs in bf16) against the double reference: max rel diff
 * <= 2e-2 (bf16 operands: relative error 2^-8 per factor; sums of up to CKK or N*OHW
 * products of random sign), and bit-identical results for 1 and 2 threads; the _set
 * backward equals accumulating into zeros. */
static void conv_case(sn_conv2d_dims d) {
    CHECK(sn_conv2d_dims_init(&d) == 1);
    const size_t nx = (size_t)d.N * d.C * d.H * d.W, nw = (size_t)d.M * d.C * d.KH * d.KW;
    const size_t ny = (size_t)d.N * d.M * d.OH * d.OW, nb = (size_t)d.M;
    float *x = tu_fbuf(nx), *w = tu_fbuf(nw), *b = tu_fbuf(nb), *dy = tu_fbuf(ny);
    fill(x, nx), fill(w, nw), fill(b, nb), fill(dy, ny);
    double *xd = calloc(nx, sizeof(double)), *wd = calloc(nw, sizeof(double));
    double *bd = calloc(nb, sizeof(double)), *dyd = calloc(ny, sizeof(double));
    double *yr = calloc(ny, sizeof(double)), *dxr = calloc(nx, sizeof(double));
    double *dwr = calloc(nw, sizeof(double)), *dbr = calloc(nb, sizeof(double));
    if (!xd || !wd || !bd || !dyd || !yr || !dxr || !dwr || !dbr) abort();
    for (size_t i = 0; i < nx; i++) xd[i] = x[i];
    for (size_t i = 0; i < nw; i++) wd[i] = w[i];
    for (size_t i = 0; i < nb; i++) bd[i] = b[i];
    for (size_t i = 0; i < ny; i++) dyd[i] = dy[i];
    sn_conv2d_forward_ref(yr, xd, wd, bd, &d);
    sn_conv2d_backward_ref(dxr, dwr, dbr, dyd, xd, wd, &d);
    float *yrf = tu_fbuf(ny), *dxrf = tu_fbuf(nx), *dwrf = tu_fbuf(nw);
    for (size_t i = 0; i < ny; i++) yrf[i] = (float)yr[i];
    for (size_t i = 0; i < nx; i++) dxrf[i] = (float)dxr[i];
    for (size_t i = 0; i < nw; i++) dwrf[i] = (float)dwr[i];
    float *y[2], *dx[2], *dw[2], *db[2];
    for (int t = 0; t < 2; t++) {
        const int nt = t + 1;
        float *scratch = tu_fbuf(sn_conv2d_scratch_size_bf16(&d, nt));
        y[t] = tu_fbuf(ny), dx[t] = tu_fbuf(nx), dw[t] = tu_fbuf(nw), db[t] = tu_fbuf(nb);
        sn_conv2d_forward_bf16(y[t], x, w, b, &d, scratch, nt);
        sn_conv2d_backward_bf16(dx[t], dw[t], db[t], dy, x, w, &d, scratch, nt);
        const double ey = max_rel(y[t], yrf, ny), ex = max_rel(dx[t], dxrf, nx),
                     ew = max_rel(dw[t], dwrf, nw);
        tu_checks++;
        if (!(ey <= 2e-2 && ex <= 2e-2 && ew <= 2e-2) || ey == 0.0) {
            tu_failures++;
            fprintf(stderr, "FAIL conv bf16 N%d C%d %dx%d M%d k%d s%d p%d nt%d: y %.3g dx %.3g dw %.3g\n",
                    d.N, d.C, d.H, d.W, d.M, d.KH, d.stride, d.pad, nt, ey, ex, ew);
        }
        float *dxs = tu_fbuf(nx), *dws = tu_fbuf(nw);
        for (size_t i = 0; i < nx; i++) dxs[i] = NAN;
        sn_conv2d_backward_set_bf16(dxs, dws, NULL, dy, x, w, &d, scratch, nt);
        int same = 1;
        for (size_t i = 0; i < nx; i++) same &= dxs[i] == dx[t][i];
        CHECK(same);
        CHECK(memcmp(dws, dw[t], nw * sizeof(float)) == 0);
        free(dxs), free(dws), free(scratch);
    }
    CHECK(memcmp(y[0], y[1], ny * sizeof(float)) == 0);
    CHECK(memcmp(dx[0], dx[1], nx * sizeof(float)) == 0);
    CHECK(memcmp(dw[0], dw[1], nw * sizeof(float)) == 0);
    for (int t = 0; t < 2; t++) free(y[t]), free(dx[t]), free(dw[t]), free(db[t]);
    free(x), free(w), free(b), free(dy), free(xd), free(wd), free(bd), free(dyd);
    free(yr), free(dxr), free(dwr), free(dbr), free(yrf), free(dxrf), free(dwrf);
}

/* Model level: sn_model_set_precision("bf16") trains and embeds through the bf16 convs.
 * Same seed net, same batch: the embedding stays within bf16 tolerance of fp32 (max rel
 * diff <= 3e-2), the gradient of one step points the same way (cosine >= 0.99), and both
 * differ from fp32 (the bf16 path is really taken). */
static void model_case(void) {
    sn_ctx *ctx = sn_ctx_create(2);
    sn_model_config mc = {0};
    mc.arch = "seed";
    mc.in_c = 1, mc.in_h = mc.in_w = 28;
    mc.mean[0] = 0.13f, mc.std[0] = 0.31f, mc.seed = 5;
    sn_model *m[2] = {NULL, NULL};
    CHECK(ctx && sn_model_create(ctx, &mc, &m[0]) == SN_OK && sn_model_create(ctx, &mc, &m[1]) == SN_OK);
    if (!m[0] || !m[1]) return;
    CHECK(sn_model_set_precision(ctx, m[1], "bf16") == SN_OK);
    CHECK(strcmp(sn_model_precision(m[1]), "bf16") == 0 && strcmp(sn_model_precision(m[0]), "fp32") == 0);
    CHECK(sn_model_set_precision(ctx, m[0], "fp16") == SN_ERR_ARG);
    CHECK(strstr(sn_ctx_error(ctx), "expected fp32, bf16 or auto") != NULL);
    /* auto: the probe's verdict (0 without the AVX512-BF16 path, which then means fp32) */
    const double sp = sn_bf16_speedup();
    CHECK(sn_bf16_available() ? sp > 0.05 && sp < 20 : sp == 0.0);
    printf("bf16 dot product vs fp32 FMA, measured now: %.2fx\n", sp);
    CHECK(sn_model_set_precision(ctx, m[0], "auto") == SN_OK);
    CHECK(!strcmp(sn_model_precision(m[0]), "fp32") || !strcmp(sn_model_precision(m[0]), "bf16"));
    if (!sn_bf16_available()) CHECK(!strcmp(sn_model_precision(m[0]), "fp32"));
    CHECK(sn_model_set_precision(ctx, m[0], "fp32") == SN_OK);
    const int N = 24, D = sn_model_embed_dim(m[0]);
    uint8_t *px = malloc((size_t)N * 784);
    float *e[2], *g[2], *dout = tu_fbuf((size_t)N * D);
    if (!px) abort();
    for (int i = 0; i < N * 784; i++) px[i] = (uint8_t)(sn_rng_u32(&g_rng) >> 24);
    for (int i = 0; i < N * D; i++) dout[i] = sn_rng_uniform_range(&g_rng, -1.0f, 1.0f);
    for (int k = 0; k < 2; k++) {
        e[k] = tu_fbuf((size_t)N * D);
        CHECK(sn_model_embed(ctx, m[k], px, N, e[k]) == SN_OK);
        CHECK(sn_model_plan(ctx, m[k], N) == SN_OK);
        for (int i = 0; i < N; i++) sn_model_set_input(m[k], i, px + (size_t)i * 784);
        sn_model_forward(m[k], N, 1);
        memset(m[k]->grads, 0, sizeof(float) * m[k]->n_params);
        sn_model_backward(m[k], N, dout, 0);
        g[k] = m[k]->grads;
    }
    /* embedding: max rel diff; gradient slab: cosine (a sum of 10^5 products with heavy
     * cancellation, e.g. conv1's dw, has a large relative bf16 error, its direction not) */
    const double de = max_rel(e[1], e[0], (size_t)N * D);
    double gg = 0, n0 = 0, n1 = 0;
    for (size_t i = 0; i < m[0]->n_params; i++)
        gg += (double)g[0][i] * g[1][i], n0 += (double)g[0][i] * g[0][i], n1 += (double)g[1][i] * g[1][i];
    const double cosg = gg / sqrt(n0 * n1);
    tu_checks++;
    if (!(de <= 3e-2 && de > 0 && cosg >= 0.99 && cosg < 1.0)) {
        tu_failures++;
        fprintf(stderr, "FAIL model bf16 vs fp32: embedding %.3g, gradient cosine %.6f\n", de, cosg);
    }
    printf("model bf16 vs fp32: embedding max rel diff %.3g, gradient cosine %.6f\n", de, cosg);
    free(px), free(dout), free(e[0]), free(e[1]);
    sn_model_free(m[0]), sn_model_free(m[1]);
    sn_ctx_free(ctx);
}

int main(void) {
    sn_rng_seed(&g_rng, 2024, 7);
    printf("AVX512-BF16 path: %s\n", sn_bf16_available() ? "yes" : "no (portable only)");
    test_rounding();
    test_really_bf16();
    const int shapes[][3] = {{1, 1, 1},    {1, 5, 3},     {13, 33, 7},  {12, 32, 2},
                             {25, 47, 63}, {64, 392, 288}, {97, 129, 601}, {200, 70, 33},
                             {3, 1100, 20}, {130, 40, 513}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++) {
            const int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            gemm_case(t & 1, t >> 1, M, N, K, 1.0f, 0.0f);
            if (s % 3 == 1) gemm_case(t & 1, t >> 1, M, N, K, 0.5f, 1.0f);
            if (s % 3 == 2) gemm_case(t & 1, t >> 1, M, N, K, -1.5f, 0.25f);
        }
    /* N, C, H, W, M, KH, KW, stride, pad */
    conv_case((sn_conv2d_dims){6, 3, 14, 14, 8, 3, 3, 1, 1, 0, 0});
    conv_case((sn_conv2d_dims){19, 5, 7, 7, 13, 3, 3, 1, 0, 0, 0});
    conv_case((sn_conv2d_dims){3, 2, 11, 9, 5, 3, 3, 2, 1, 0, 0});
    model_case();
    return tu_finish("test_bf16");
}
