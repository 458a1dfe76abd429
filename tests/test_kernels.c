/* test_kernels.c -- fast float32 kernels vs their naive double references, on odd shapes.
 *
 * Tolerances (max relative diff, tu_max_rel_diff: max|a-b| / max|b|):
 *   forward  1e-5  -- float32 rounding of O(100)-term sums against double;
 *   backward 1e-4  -- longer reductions (over the batch) in float32, and BLAS orderings.
 * Gradient buffers are pre-filled with the same random values for fast and ref, so the
 * comparisons also check that backward kernels accumulate (+=). Thread independence:
 * nt = 1 and nt = 2 must give bit-identical outputs (memcmp). */
#include "core/core.h"
#include "kernels/kernels.h"
#include "testutil.h"

#include <string.h>

#define TOL_FWD 1e-5
#define TOL_BWD 1e-4

static sn_rng g_rng;

static void fill(float *a, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) a[i] = sn_rng_uniform_range(&g_rng, lo, hi);
}
static double *to_d(const float *a, size_t n) {
    double *d = tu_dbuf(n);
    for (size_t i = 0; i < n; i++) d[i] = a[i];
    return d;
}
static float *copy_f(const float *a, size_t n) {
    float *f = tu_fbuf(n);
    memcpy(f, a, n * sizeof(float));
    return f;
}

/* CHECK max relative diff of fast vs ref (ref rounded to float) <= tol, with a message. */
static void check_rel(const char *what, const float *fast, const double *ref, size_t n,
                      double tol) {
    float *rf = tu_fbuf(n);
    for (size_t i = 0; i < n; i++) rf[i] = (float)ref[i];
    double r = tu_max_rel_diff(fast, rf, n);
    tu_checks++;
    if (!(r <= tol)) {
        tu_failures++;
        fprintf(stderr, "FAIL %s: max rel diff %.3g > %.1g\n", what, r, tol);
    }
    free(rf);
}

/* The _set backward variants: dx assigned must equal dx accumulated into zeros, value for
 * value (+0.0 vs -0.0 allowed: 0 + -0 is +0), while dx held NaN before (never read). */
static void check_set(const char *what, const float *set, const float *acc0, size_t n) {
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        if (!(set[i] == acc0[i])) bad++;
    tu_checks++;
    if (bad) {
        tu_failures++;
        fprintf(stderr, "FAIL %s: %zu of %zu values differ from accumulating into zeros\n", what,
                bad, n);
    }
}
static float *nan_buf(size_t n) {
    float *p = tu_fbuf(n);
    for (size_t i = 0; i < n; i++) p[i] = NAN;
    return p;
}

static void check_same(const char *what, const void *a, const void *b, size_t bytes) {
    tu_checks++;
    if (memcmp(a, b, bytes) != 0) {
        tu_failures++;
        fprintf(stderr, "FAIL %s: nt=1 and nt=2 differ\n", what);
    }
}

/* ------------------------------------------------------------------ GEMM */
static void test_gemm(void) {
    const int M = 7, N = 5, K = 9, pad = 3;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
            size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb;
            size_t nc = (size_t)M * ldc;
            float *A = tu_fbuf(na), *B = tu_fbuf(nb), *C1 = tu_fbuf(nc);
            fill(A, na, -1, 1);
            fill(B, nb, -1, 1);
            fill(C1, nc, -1, 1);
            float *C2 = copy_f(C1, nc);
            sn_gemm_f32(ta, tb, M, N, K, 0.7f, A, lda, B, ldb, 0.3f, C1, ldc);
            sn_gemm_ref_f32(ta, tb, M, N, K, 0.7f, A, lda, B, ldb, 0.3f, C2, ldc);
            CHECK(tu_max_rel_diff(C1, C2, nc) <= TOL_FWD);
            /* beta = 0 must ignore (not read) C, even NaN */
            for (size_t i = 0; i < nc; i++) C1[i] = C2[i] = NAN;
            sn_gemm_f32(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C1, ldc);
            sn_gemm_ref_f32(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C2, ldc);
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    CHECK(!isnan(C2[(size_t)i * ldc + j]));
                    CHECK_CLOSE(C1[(size_t)i * ldc + j], C2[(size_t)i * ldc + j], 1e-5, 1e-6);
                }
            free(A), free(B), free(C1), free(C2);
        }
}

/* The packed AVX-512 GEMM against the double reference: every edge of its blocking (M
 * around MR = 8 and MC = 128, N around NR = 48 and NC = 480, K around KC = 128 and the
 * 8-wide transposes), both transposes, alpha/beta, beta = 0 ignoring NaN in C, and no
 * write outside the M x N window of a padded C. */
static void test_gemm_f32p_case(int M, int N, int K, int ta, int tb, float alpha, float beta) {
    const int pad = 5;
    const int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    const size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb;
    const size_t nc = (size_t)M * ldc;
    float *A = tu_fbuf(na), *B = tu_fbuf(nb), *C1 = tu_fbuf(nc), *C2 = tu_fbuf(nc);
    fill(A, na, -1, 1);
    fill(B, nb, -1, 1);
    fill(C1, nc, -1, 1);
    memcpy(C2, C1, nc * sizeof(float));
    if (beta == 0.0f)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C1[(size_t)i * ldc + j] = NAN;
    void *scr = malloc(sn_gemm_f32p_scratch_size(M, N, K));
    CHECK(scr != NULL);
    sn_gemm_f32p(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C1, ldc, scr);
    sn_gemm_ref_f32(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C2, ldc);
    size_t bad = 0, outside = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < ldc; j++) {
            const float a = C1[(size_t)i * ldc + j], r = C2[(size_t)i * ldc + j];
            if (j >= N) outside += memcmp(&a, &r, sizeof a) != 0;
            else bad += !(fabsf(a - r) <= 1e-5f * (float)K + 1e-5f * fabsf(r));
        }
    tu_checks++;
    if (bad || outside) {
        tu_failures++;
        fprintf(stderr, "FAIL gemm_f32p %dx%dx%d tA=%d tB=%d alpha=%g beta=%g: %zu wrong, %zu "
                "written outside N\n", M, N, K, ta, tb, alpha, beta, bad, outside);
    }
    free(scr), free(A), free(B), free(C1), free(C2);
}

/* sn_gemm_f32p_pa with A packed by sn_gemm_f32p_pack_a in 1 or 3 parts: bit for bit
 * sn_gemm_f32p, for both transposes and the blocking edges (M around MR/MC, K around KC). */
static void test_gemm_f32p_pa(void) {
    const int shapes[][3] = {{7, 5, 9}, {9, 49, 129}, {64, 392, 288}, {129, 100, 257}, {300, 13, 64}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                const int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], pad = 3;
                const int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
                const size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb;
                const size_t nc = (size_t)M * ldc;
                float *A = tu_fbuf(na), *B = tu_fbuf(nb), *C1 = tu_fbuf(nc), *C2 = tu_fbuf(nc);
                float *pa = tu_fbuf(sn_gemm_f32p_pa_size(M, K));
                fill(A, na, -1, 1), fill(B, nb, -1, 1), fill(C1, nc, -1, 1);
                memcpy(C2, C1, nc * sizeof(float));
                void *scr = malloc(sn_gemm_f32p_scratch_size(M, N, K));
                CHECK(scr != NULL);
                const int parts = (int)(s % 2) * 2 + 1; /* 1 or 3 */
                for (int p = 0; p < parts; p++) sn_gemm_f32p_pack_a(ta, M, K, A, lda, pa, p, parts);
                sn_gemm_f32p_pa(tb, M, N, K, 0.7f, pa, B, ldb, 0.3f, C1, ldc, scr);
                sn_gemm_f32p(ta, tb, M, N, K, 0.7f, A, lda, B, ldb, 0.3f, C2, ldc, scr);
                char tag[80];
                snprintf(tag, sizeof tag, "gemm_f32p_pa %dx%dx%d tA=%d tB=%d", M, N, K, ta, tb);
                check_same(tag, C1, C2, nc * sizeof(float));
                free(scr), free(A), free(B), free(C1), free(C2), free(pa);
            }
}

static void test_gemm_f32p(void) {
    const int shapes[][3] = {{1, 1, 1},    {7, 5, 9},     {8, 48, 8},    {9, 49, 17},
                             {16, 96, 128}, {17, 47, 129}, {64, 392, 288}, {129, 481, 257},
                             {3, 500, 7},   {300, 13, 64}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                const int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
                test_gemm_f32p_case(M, N, K, ta, tb, 0.7f, 0.3f);
                test_gemm_f32p_case(M, N, K, ta, tb, 1.0f, 0.0f);
            }
    /* K = 0 and alpha = 0: beta * C, A and B not used */
    test_gemm_f32p_case(9, 50, 0, 0, 0, 1.0f, 0.5f);
    test_gemm_f32p_case(9, 50, 12, 1, 1, 0.0f, 0.5f);
}

/* ---------------------------------------------------------------- conv2d */
static void test_conv_case(sn_conv2d_dims d) {
    CHECK(sn_conv2d_dims_init(&d) == 1);
    char tag[128];
    snprintf(tag, sizeof tag, "conv N%d C%d %dx%d M%d k%dx%d s%d p%d", d.N, d.C, d.H, d.W, d.M,
             d.KH, d.KW, d.stride, d.pad);
    const size_t nx = (size_t)d.N * d.C * d.H * d.W, nw = (size_t)d.M * d.C * d.KH * d.KW;
    const size_t ny = (size_t)d.N * d.M * d.OH * d.OW, nb = (size_t)d.M;
    float *x = tu_fbuf(nx), *w = tu_fbuf(nw), *b = tu_fbuf(nb), *dy = tu_fbuf(ny);
    float *dx0 = tu_fbuf(nx), *dw0 = tu_fbuf(nw), *db0 = tu_fbuf(nb);
    fill(x, nx, -1, 1), fill(w, nw, -0.5f, 0.5f), fill(b, nb, -0.5f, 0.5f), fill(dy, ny, -1, 1);
    fill(dx0, nx, -1, 1), fill(dw0, nw, -1, 1), fill(db0, nb, -1, 1);

    double *xd = to_d(x, nx), *wd = to_d(w, nw), *bd = to_d(b, nb), *dyd = to_d(dy, ny);
    double *yr = tu_dbuf(ny), *dxr = to_d(dx0, nx), *dwr = to_d(dw0, nw), *dbr = to_d(db0, nb);
    sn_conv2d_forward_ref(yr, xd, wd, bd, &d);
    sn_conv2d_backward_ref(dxr, dwr, dbr, dyd, xd, wd, &d);

    float *y[2], *dx[2], *dw[2], *db[2];
    for (int t = 0; t < 2; t++) {
        int nt = t + 1;
        float *scratch = tu_fbuf(sn_conv2d_scratch_size(&d, nt));
        y[t] = tu_fbuf(ny), dx[t] = copy_f(dx0, nx), dw[t] = copy_f(dw0, nw), db[t] = copy_f(db0, nb);
        sn_conv2d_forward_f32(y[t], x, w, b, &d, scratch, nt);
        fill(scratch, sn_conv2d_scratch_size(&d, nt), -9, 9); /* scratch holds no state */
        sn_conv2d_backward_f32(dx[t], dw[t], db[t], dy, x, w, &d, scratch, nt);
        check_rel(tag, y[t], yr, ny, TOL_FWD);
        check_rel(tag, dx[t], dxr, nx, TOL_BWD);
        check_rel(tag, dw[t], dwr, nw, TOL_BWD);
        check_rel(tag, db[t], dbr, nb, TOL_BWD);
        /* NULL dx / db: dw unchanged bit for bit, nothing else touched */
        float *dw2 = copy_f(dw0, nw);
        sn_conv2d_backward_f32(NULL, dw2, NULL, dy, x, w, &d, scratch, nt);
        check_same("conv dw with NULL dx/db", dw2, dw[t], nw * sizeof(float));
        {
            float *dxs = nan_buf(nx), *dxz = tu_fbuf(nx), *dws = copy_f(dw0, nw), *dbs = copy_f(db0, nb);
            sn_conv2d_backward_set_f32(dxs, dws, dbs, dy, x, w, &d, scratch, nt);
            sn_conv2d_backward_f32(dxz, dw2, NULL, dy, x, w, &d, scratch, nt);
            check_set("conv dx (set)", dxs, dxz, nx);
            check_same("conv dw (set)", dws, dw[t], nw * sizeof(float));
            check_same("conv db (set)", dbs, db[t], nb * sizeof(float));
            free(dxs), free(dxz), free(dws), free(dbs);
        }
        /* no bias in forward */
        float *y2 = tu_fbuf(ny);
        sn_conv2d_forward_f32(y2, x, w, NULL, &d, scratch, nt);
        size_t ohw = (size_t)d.OH * d.OW;
        int ok = 1;
        for (size_t i = 0; i < ny; i++)
            if (fabsf(y2[i] + b[(i / ohw) % nb] - y[t][i]) > 1e-5f * (1.0f + fabsf(y[t][i])))
                ok = 0;
        CHECK(ok);
        free(dw2), free(y2), free(scratch);
    }
    check_same("conv forward y", y[0], y[1], ny * sizeof(float));
    check_same("conv backward dx", dx[0], dx[1], nx * sizeof(float));
    check_same("conv backward dw", dw[0], dw[1], nw * sizeof(float));
    check_same("conv backward db", db[0], db[1], nb * sizeof(float));
    for (int t = 0; t < 2; t++) free(y[t]), free(dx[t]), free(dw[t]), free(db[t]);
    free(x), free(w), free(b), free(dy), free(dx0), free(dw0), free(db0);
    free(xd), free(wd), free(bd), free(dyd), free(yr), free(dxr), free(dwr), free(dbr);
}

static void test_conv(void) {
    /* N, C, H, W, M, KH, KW, stride, pad, OH, OW */
    test_conv_case((sn_conv2d_dims){3, 5, 7, 9, 6, 3, 3, 2, 1, 0, 0});
    test_conv_case((sn_conv2d_dims){2, 3, 8, 5, 4, 1, 1, 1, 0, 0, 0}); /* 1x1 direct path */
    test_conv_case((sn_conv2d_dims){19, 2, 6, 6, 3, 3, 2, 1, 0, 0, 0}); /* > 16 chunks */
    test_conv_case((sn_conv2d_dims){70, 2, 9, 9, 3, 3, 3, 1, 1, 0, 0}); /* uneven chunks */
    test_conv_case((sn_conv2d_dims){1, 1, 5, 4, 2, 5, 5, 3, 2, 0, 0});
    test_conv_case((sn_conv2d_dims){4, 3, 9, 7, 5, 2, 3, 2, 0, 0, 0});
    /* N > 16: chunks of several samples, unfolded in groups (see conv2d.c) */
    test_conv_case((sn_conv2d_dims){37, 2, 9, 11, 4, 3, 2, 2, 0, 0, 0}); /* one group a chunk */
    test_conv_case((sn_conv2d_dims){40, 3, 31, 29, 5, 3, 3, 2, 1, 0, 0}); /* groups of 2, 1 */
    test_conv_case((sn_conv2d_dims){20, 2, 47, 45, 3, 3, 3, 2, 1, 0, 0}); /* one sample a group */
    /* stride 1 with padding: the vector row copies (16-lane chunks, edge masks) */
    test_conv_case((sn_conv2d_dims){5, 3, 14, 14, 7, 3, 3, 1, 1, 0, 0});
    test_conv_case((sn_conv2d_dims){3, 2, 20, 37, 4, 3, 3, 1, 1, 0, 0}); /* OW 37: 3 chunks */
    test_conv_case((sn_conv2d_dims){2, 2, 9, 16, 3, 5, 5, 1, 2, 0, 0});  /* OW 16, pad 2 */
    test_conv_case((sn_conv2d_dims){2, 1, 6, 33, 2, 3, 5, 1, 0, 0, 0});  /* no pad, OW 29 */
    test_conv_case((sn_conv2d_dims){3, 4, 20, 37, 4, 3, 3, 1, 1, 0, 0}); /* OW 37, C 4 */
    /* first-layer shapes (C*KH*KW <= 27: GEMMs of depth 9..27) */
    test_conv_case((sn_conv2d_dims){20, 1, 28, 28, 32, 3, 3, 1, 1, 0, 0}); /* seed conv1 */
    /* small C*KH*KW, one sample a group: dw by dot products (conv_dw_dot), K = 27, 12, 32
     * (tap blocks of 9 and their tails, M % 3 tails, pixel counts with a 16-lane tail) */
    test_conv_case((sn_conv2d_dims){2, 3, 32, 32, 7, 3, 3, 1, 1, 0, 0});
    test_conv_case((sn_conv2d_dims){3, 3, 31, 31, 5, 2, 2, 1, 0, 0, 0});
    test_conv_case((sn_conv2d_dims){2, 2, 26, 27, 4, 4, 4, 1, 1, 0, 0});
    test_conv_case((sn_conv2d_dims){3, 3, 17, 33, 10, 3, 3, 1, 1, 0, 0}); /* stem-like, M 10 */
    test_conv_case((sn_conv2d_dims){2, 2, 8, 12, 5, 2, 4, 1, 0, 0, 0});   /* KW 4, no pad */
    test_conv_case((sn_conv2d_dims){2, 1, 9, 20, 3, 5, 5, 1, 2, 0, 0});   /* KW 5, pad 2 */
    test_conv_case((sn_conv2d_dims){2, 3, 5, 9, 9, 3, 3, 1, 0, 0, 0});    /* C 3, no pad, OW 7 */
    test_conv_case((sn_conv2d_dims){4, 2, 6, 8, 9, 3, 3, 1, 1, 0, 0});    /* M 9, OW 8 */
    sn_conv2d_dims bad = {1, 1, 3, 3, 1, 5, 5, 1, 0, 0, 0};
    CHECK(sn_conv2d_dims_init(&bad) == 0);
    bad.pad = 1;
    CHECK(sn_conv2d_dims_init(&bad) == 1 && bad.OH == 1 && bad.OW == 1);
    bad.stride = 0;
    CHECK(sn_conv2d_dims_init(&bad) == 0);
}

/* ------------------------------------------------------------- batchnorm */
static void test_bn_case(int N, int C, int S, float xoff) {
    char tag[96];
    snprintf(tag, sizeof tag, "batchnorm N%d C%d S%d", N, C, S);
    const size_t nx = (size_t)N * C * S;
    const double cnt = (double)N * S;
    const float mom = 0.1f, eps = 1e-5f;
    float *x = tu_fbuf(nx), *g = tu_fbuf(C), *be = tu_fbuf(C), *dy = tu_fbuf(nx);
    float *rm0 = tu_fbuf(C), *rv0 = tu_fbuf(C), *dx0 = tu_fbuf(nx), *dg0 = tu_fbuf(C), *db0 = tu_fbuf(C);
    fill(x, nx, xoff - 1, xoff + 1), fill(g, C, 0.5f, 1.5f), fill(be, C, -0.5f, 0.5f);
    fill(dy, nx, -1, 1), fill(rm0, C, -0.2f, 0.2f), fill(rv0, C, 0.5f, 1.5f);
    fill(dx0, nx, -1, 1), fill(dg0, C, -1, 1), fill(db0, C, -1, 1);

    double *xd = to_d(x, nx), *gd = to_d(g, C), *bd = to_d(be, C), *dyd = to_d(dy, nx);
    double *yr = tu_dbuf(nx), *mr = tu_dbuf(C), *rr = tu_dbuf(C);
    double *dxr = to_d(dx0, nx), *dgr = to_d(dg0, C), *dbr = to_d(db0, C);
    sn_batchnorm_forward_train_ref(yr, mr, rr, xd, gd, bd, N, C, S, eps);
    sn_batchnorm_backward_ref(dxr, dgr, dbr, dyd, xd, mr, rr, gd, N, C, S);
    /* expected running stats and eval output (with the updated running stats) */
    double *rme = tu_dbuf(C), *rve = tu_dbuf(C), *ye = tu_dbuf(nx);
    for (int c = 0; c < C; c++) {
        double var = 0.0;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) {
                double t = xd[((size_t)n * C + c) * S + s] - mr[c];
                var += t * t;
            }
        var /= cnt;
        rme[c] = (1.0 - mom) * rm0[c] + (double)mom * mr[c];
        rve[c] = (1.0 - mom) * rv0[c] + (double)mom * var * cnt / (cnt - 1.0);
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) {
                size_t i = ((size_t)n * C + c) * S + s;
                ye[i] = (xd[i] - (float)rme[c]) / sqrt((float)rve[c] + (double)eps) * gd[c] + bd[c];
            }
    }

    float *y[2], *m[2], *r[2], *rm[2], *rv[2], *ye32[2], *dx[2], *dg[2], *db[2];
    for (int t = 0; t < 2; t++) {
        int nt = t + 1;
        y[t] = tu_fbuf(nx), m[t] = tu_fbuf(C), r[t] = tu_fbuf(C), ye32[t] = tu_fbuf(nx);
        rm[t] = copy_f(rm0, C), rv[t] = copy_f(rv0, C);
        dx[t] = copy_f(dx0, nx), dg[t] = copy_f(dg0, C), db[t] = copy_f(db0, C);
        sn_batchnorm_forward_train_f32(y[t], m[t], r[t], x, g, be, rm[t], rv[t], N, C, S, mom,
                                       eps, nt);
        sn_batchnorm_forward_eval_f32(ye32[t], x, g, be, rm[t], rv[t], N, C, S, eps, nt);
        sn_batchnorm_backward_f32(dx[t], dg[t], db[t], dy, x, m[t], r[t], g, N, C, S, nt);
        check_rel(tag, y[t], yr, nx, TOL_FWD);
        check_rel(tag, m[t], mr, C, TOL_FWD);
        check_rel(tag, r[t], rr, C, TOL_FWD);
        check_rel(tag, rm[t], rme, C, TOL_FWD);
        check_rel(tag, rv[t], rve, C, TOL_FWD);
        check_rel(tag, ye32[t], ye, nx, TOL_FWD);
        check_rel(tag, dx[t], dxr, nx, TOL_BWD);
        check_rel(tag, dg[t], dgr, C, TOL_BWD);
        check_rel(tag, db[t], dbr, C, TOL_BWD);
        /* NULL running stats and NULL gradient outputs are skipped */
        float *y2 = tu_fbuf(nx), *dx2 = copy_f(dx0, nx);
        sn_batchnorm_forward_train_f32(y2, m[t], r[t], x, g, be, NULL, NULL, N, C, S, mom, eps,
                                       nt);
        check_same("batchnorm y with NULL running stats", y2, y[t], nx * sizeof(float));
        sn_batchnorm_backward_f32(dx2, NULL, NULL, dy, x, m[t], r[t], g, N, C, S, nt);
        check_same("batchnorm dx with NULL dgamma/dbeta", dx2, dx[t], nx * sizeof(float));
        {
            float *dxs = nan_buf(nx), *dxz = tu_fbuf(nx), *dgs = copy_f(dg0, C), *dbs = copy_f(db0, C);
            sn_batchnorm_backward_set_f32(dxs, dgs, dbs, dy, x, m[t], r[t], g, N, C, S, nt);
            sn_batchnorm_backward_f32(dxz, NULL, NULL, dy, x, m[t], r[t], g, N, C, S, nt);
            check_set("batchnorm dx (set)", dxs, dxz, nx);
            check_same("batchnorm dgamma (set)", dgs, dg[t], C * sizeof(float));
            check_same("batchnorm dbeta (set)", dbs, db[t], C * sizeof(float));
            free(dxs), free(dxz), free(dgs), free(dbs);
        }
        free(y2), free(dx2);
    }
    check_same("batchnorm y", y[0], y[1], nx * sizeof(float));
    check_same("batchnorm mean", m[0], m[1], C * sizeof(float));
    check_same("batchnorm rstd", r[0], r[1], C * sizeof(float));
    check_same("batchnorm run_var", rv[0], rv[1], C * sizeof(float));
    check_same("batchnorm eval y", ye32[0], ye32[1], nx * sizeof(float));
    check_same("batchnorm dx", dx[0], dx[1], nx * sizeof(float));
    check_same("batchnorm dgamma", dg[0], dg[1], C * sizeof(float));
    check_same("batchnorm dbeta", db[0], db[1], C * sizeof(float));
    for (int t = 0; t < 2; t++) {
        free(y[t]), free(m[t]), free(r[t]), free(rm[t]), free(rv[t]), free(ye32[t]);
        free(dx[t]), free(dg[t]), free(db[t]);
    }
    free(x), free(g), free(be), free(dy), free(rm0), free(rv0), free(dx0), free(dg0), free(db0);
    free(xd), free(gd), free(bd), free(dyd), free(yr), free(mr), free(rr), free(dxr), free(dgr);
    free(dbr), free(rme), free(rve), free(ye);
}

static void test_batchnorm(void) {
    test_bn_case(2, 3, 1, 0.0f);   /* batchnorm1d, n = 2 */
    test_bn_case(5, 7, 1, 0.5f);   /* batchnorm1d, n = 5 */
    test_bn_case(3, 5, 63, 1.0f);  /* batchnorm2d 7x9 planes, n = 189 */
    test_bn_case(16, 4, 49, -2.0f); /* n = 784, non-zero mean */
    test_bn_case(3, 5, 13, 20.0f);   /* |mean| >> std: one-pass variance must not cancel */
    test_bn_case(256, 64, 1, 0.5f);  /* the seed net's batchnorm1d (serial) */
    test_bn_case(9, 6, 677, -0.5f);  /* large enough to run threaded; S % 8 = 5 */
    test_bn_case(4, 40, 300, 0.0f);  /* threaded, C not a multiple of the threads */
    test_bn_case(7, 19, 7883, 0.25f); /* >= 2^20 floats: streaming stores, segments at
                                          every alignment (S odd) */
}

/* Fused batch norm 2d + max pool 2x2 against the two kernels run apart: the forward
 * (pooled y, argmax, mean, rstd, running statistics) bit-identical; dx, dgamma, dbeta
 * equal up to the order of the two double sums; xsel = x at the argmax. Odd H/W drop
 * the last row/col, whose dx is B*(x - mean) + D as for any position with dy = 0. */
static void test_bn_pool_case(int N, int C, int H, int W, float shift, int relu) {
    char tag[96];
    snprintf(tag, sizeof tag, "bn+%smaxpool N%d C%d %dx%d", relu ? "relu+" : "", N, C, H, W);
    sn_pool_dims d = {N, C, H, W, 2, 2, 0, 0};
    CHECK(sn_pool_dims_init(&d) == 1);
    const int S = H * W;
    const size_t nx = (size_t)N * C * S, ny = (size_t)N * C * d.OH * d.OW;
    const float mom = 0.1f, eps = 1e-5f;
    float *x = tu_fbuf(nx), *g = tu_fbuf(C), *be = tu_fbuf(C), *dy = tu_fbuf(ny);
    fill(x, nx, shift - 1.0f, shift + 1.0f), fill(g, C, 0.5f, 1.5f), fill(be, C, -0.5f, 0.5f);
    fill(dy, ny, -1, 1);
    float *rm0 = tu_fbuf(C), *rv0 = tu_fbuf(C), *dg0 = tu_fbuf(C), *db0 = tu_fbuf(C);
    fill(rm0, C, -0.1f, 0.1f), fill(rv0, C, 0.5f, 1.5f), fill(dg0, C, -1, 1), fill(db0, C, -1, 1);
    /* apart: bn -> pool forward; pool -> bn backward */
    float *yb = tu_fbuf(nx), *yp = tu_fbuf(ny), *m1 = tu_fbuf(C), *r1 = tu_fbuf(C);
    float *rm1 = copy_f(rm0, C), *rv1 = copy_f(rv0, C), *dyb = tu_fbuf(nx), *dx1 = nan_buf(nx);
    float *dg1 = copy_f(dg0, C), *db1 = copy_f(db0, C);
    int32_t *a1 = calloc(ny, sizeof(int32_t)), *a2 = calloc(ny, sizeof(int32_t));
    if (!a1 || !a2) abort();
    sn_batchnorm_forward_train_f32(yb, m1, r1, x, g, be, rm1, rv1, N, C, S, mom, eps, 1);
    if (relu) sn_relu_forward_f32(yb, yb, nx); /* in place: yb is then the relu's y */
    sn_maxpool2d_forward_f32(yp, a1, yb, &d, 1);
    sn_maxpool2d_backward_set_f32(dyb, dy, a1, &d, 1);
    if (relu) { /* relu backward into a zeroed dx */
        float *dr = tu_fbuf(nx);
        sn_relu_backward_f32(dr, dyb, yb, nx);
        memcpy(dyb, dr, nx * sizeof(float));
        free(dr);
    }
    sn_batchnorm_backward_set_f32(dx1, dg1, db1, dyb, x, m1, r1, g, N, C, S, 1);
    double *dxr = to_d(dx1, nx), *dgr = to_d(dg1, C), *dbr = to_d(db1, C);
    for (int nt = 1; nt <= 2; nt++) {
        float *y2 = nan_buf(ny), *xs = nan_buf(ny), *m2 = tu_fbuf(C), *r2 = tu_fbuf(C);
        float *rm2 = copy_f(rm0, C), *rv2 = copy_f(rv0, C), *dx2 = nan_buf(nx);
        float *dg2 = copy_f(dg0, C), *db2 = copy_f(db0, C), *dx3 = nan_buf(nx);
        float *dym = relu ? nan_buf(ny) : NULL, *ym = relu ? y2 : NULL;
        sn_bn_maxpool2_forward_train_f32(y2, a2, xs, m2, r2, x, g, be, rm2, rv2, N, C, H, W,
                                         mom, eps, relu, nt);
        check_same("bn+maxpool y", y2, yp, ny * sizeof(float));
        /* with the relu the argmax may differ only where the output is 0 */
        size_t bada = 0;
        for (size_t q = 0; q < ny; q++) bada += a2[q] != a1[q] && !(relu && y2[q] == 0.0f);
        tu_checks++;
        if (bada) {
            tu_failures++;
            fprintf(stderr, "FAIL %s nt%d: %zu argmax differ\n", tag, nt, bada);
        }
        check_same("bn+maxpool mean", m2, m1, C * sizeof(float));
        check_same("bn+maxpool rstd", r2, r1, C * sizeof(float));
        check_same("bn+maxpool run_mean", rm2, rm1, C * sizeof(float));
        check_same("bn+maxpool run_var", rv2, rv1, C * sizeof(float));
        size_t bad = 0;
        for (size_t q = 0; q < ny; q++) {
            const size_t plane = q / ((size_t)d.OH * d.OW);
            bad += xs[q] != x[plane * S + (size_t)a2[q]];
        }
        tu_checks++;
        if (bad) {
            tu_failures++;
            fprintf(stderr, "FAIL %s nt%d: %zu xsel values are not x at the argmax\n", tag, nt, bad);
        }
        sn_bn_maxpool2_backward_set_f32(dx2, dg2, db2, dy, a2, xs, x, m2, r2, g, ym, dym, N, C, H, W,
                                        nt);
        check_rel(tag, dx2, dxr, nx, TOL_FWD);
        check_rel(tag, dg2, dgr, C, TOL_FWD);
        check_rel(tag, db2, dbr, C, TOL_FWD);
        sn_bn_maxpool2_backward_set_f32(dx3, NULL, NULL, dy, a2, xs, x, m2, r2, g, ym, dym, N, C,
                                        H, W, nt);
        check_same("bn+maxpool dx with NULL dgamma/dbeta", dx3, dx2, nx * sizeof(float));
        sn_bn_maxpool2_backward_set_f32(NULL, dg2, db2, dy, a2, xs, x, m2, r2, g, ym, dym, N, C,
                                        H, W, nt);
        for (int c = 0; c < C; c++) /* accumulated: twice the gradient over dg0 */
            dg2[c] -= dg1[c] - dg0[c], db2[c] -= db1[c] - db0[c];
        check_rel("bn+maxpool dgamma accumulates", dg2, dgr, C, TOL_FWD);
        check_rel("bn+maxpool dbeta accumulates", db2, dbr, C, TOL_FWD);
        free(y2), free(xs), free(m2), free(r2), free(rm2), free(rv2), free(dx2), free(dg2);
        free(db2), free(dx3), free(dym);
    }
    free(x), free(g), free(be), free(dy), free(rm0), free(rv0), free(dg0), free(db0), free(yb);
    free(yp), free(m1), free(r1), free(rm1), free(rv1), free(dyb), free(dx1), free(dg1);
    free(db1), free(a1), free(a2), free(dxr), free(dgr), free(dbr);
}

static void test_bn_pool(void) {
    for (int relu = 0; relu <= 1; relu++) {
        test_bn_pool_case(2, 3, 28, 28, 0.0f, relu);  /* the seed's first pair, small */
        test_bn_pool_case(3, 5, 7, 9, 2.0f, relu);    /* odd H, W: last row/col dropped */
        test_bn_pool_case(2, 2, 2, 2, -1.0f, relu);   /* 1x1 output */
        test_bn_pool_case(2, 4, 15, 33, 0.5f, relu);  /* OW 16 */
        test_bn_pool_case(8, 16, 29, 69, 0.0f, relu); /* threaded; OW 34: two vector steps + 2 */
    }
}

/* ------------------------------------------------------------------ pool */
static void test_pool_case(int N, int C, int H, int W, int k, int s) {
    sn_pool_dims d = {N, C, H, W, k, s, 0, 0};
    CHECK(sn_pool_dims_init(&d) == 1);
    char tag[96];
    snprintf(tag, sizeof tag, "pool N%d C%d %dx%d k%d s%d", N, C, H, W, k, s);
    const size_t nx = (size_t)N * C * H * W, ny = (size_t)N * C * d.OH * d.OW;
    float *x = tu_fbuf(nx), *dy = tu_fbuf(ny), *dx0 = tu_fbuf(nx);
    fill(x, nx, -1, 1), fill(dy, ny, -1, 1), fill(dx0, nx, -1, 1);
    double *xd = to_d(x, nx), *dyd = to_d(dy, ny);
    double *ymr = tu_dbuf(ny), *yar = tu_dbuf(ny), *dxmr = to_d(dx0, nx), *dxar = to_d(dx0, nx);
    int32_t *amr = calloc(ny, sizeof(int32_t));
    if (!amr) abort();
    sn_maxpool2d_forward_ref(ymr, amr, xd, &d);
    sn_maxpool2d_backward_ref(dxmr, dyd, amr, &d);
    sn_avgpool2d_forward_ref(yar, xd, &d);
    sn_avgpool2d_backward_ref(dxar, dyd, &d);

    float *ym[2], *ya[2], *dxm[2], *dxa[2];
    int32_t *am[2];
    for (int t = 0; t < 2; t++) {
        int nt = t + 1;
        ym[t] = tu_fbuf(ny), ya[t] = tu_fbuf(ny), dxm[t] = copy_f(dx0, nx), dxa[t] = copy_f(dx0, nx);
        am[t] = calloc(ny, sizeof(int32_t));
        if (!am[t]) abort();
        sn_maxpool2d_forward_f32(ym[t], am[t], x, &d, nt);
        sn_maxpool2d_backward_f32(dxm[t], dy, am[t], &d, nt);
        sn_avgpool2d_forward_f32(ya[t], x, &d, nt);
        sn_avgpool2d_backward_f32(dxa[t], dy, &d, nt);
        check_rel(tag, ym[t], ymr, ny, 0.0); /* max is exact */
        CHECK(memcmp(am[t], amr, ny * sizeof(int32_t)) == 0);
        check_rel(tag, dxm[t], dxmr, nx, TOL_BWD);
        check_rel(tag, ya[t], yar, ny, TOL_FWD);
        check_rel(tag, dxa[t], dxar, nx, TOL_BWD);
        float *sm = nan_buf(nx), *zm = tu_fbuf(nx), *sa = nan_buf(nx), *za = tu_fbuf(nx);
        sn_maxpool2d_backward_set_f32(sm, dy, am[t], &d, nt);
        sn_maxpool2d_backward_f32(zm, dy, am[t], &d, nt);
        sn_avgpool2d_backward_set_f32(sa, dy, &d, nt);
        sn_avgpool2d_backward_f32(za, dy, &d, nt);
        check_set("maxpool dx (set)", sm, zm, nx);
        check_set("avgpool dx (set)", sa, za, nx);
        free(sm), free(zm), free(sa), free(za);
    }
    check_same("maxpool y", ym[0], ym[1], ny * sizeof(float));
    check_same("maxpool dx", dxm[0], dxm[1], nx * sizeof(float));
    check_same("avgpool y", ya[0], ya[1], ny * sizeof(float));
    check_same("avgpool dx", dxa[0], dxa[1], nx * sizeof(float));
    for (int t = 0; t < 2; t++) free(ym[t]), free(ya[t]), free(dxm[t]), free(dxa[t]), free(am[t]);
    free(x), free(dy), free(dx0), free(xd), free(dyd), free(ymr), free(yar), free(dxmr);
    free(dxar), free(amr);
}

/* Max pool on values with many ties, signed zeros, -inf and NaN (x drawn from a small
 * set), fast vs ref exactly: same argmax, same value bits (any NaN for a NaN). The
 * dropped last row/col of odd H/W hold NaN, so reading them would show. */
static void test_maxpool_special(int N, int C, int H, int W, int k, int s) {
    sn_pool_dims d = {N, C, H, W, k, s, 0, 0};
    CHECK(sn_pool_dims_init(&d) == 1);
    const float vals[8] = {-1.0f, 0.0f, -0.0f, 1.0f, 2.0f, 2.0f, -INFINITY, NAN};
    const size_t hw = (size_t)H * W, nx = (size_t)N * C * hw, ny = (size_t)N * C * d.OH * d.OW;
    float *x = tu_fbuf(nx);
    for (size_t i = 0; i < nx; i++) {
        int h = (int)(i % hw) / W, w = (int)(i % hw) % W;
        int dropped = h >= d.OH * s + k - s || w >= d.OW * s + k - s;
        x[i] = dropped ? NAN : vals[sn_rng_u32(&g_rng) % 8];
    }
    double *xd = to_d(x, nx), *yr = tu_dbuf(ny);
    int32_t *ar = calloc(ny, sizeof(int32_t));
    if (!ar) abort();
    sn_maxpool2d_forward_ref(yr, ar, xd, &d);
    for (int nt = 1; nt <= 2; nt++) {
        float *y = tu_fbuf(ny);
        int32_t *am = calloc(ny, sizeof(int32_t));
        if (!am) abort();
        sn_maxpool2d_forward_f32(y, am, x, &d, nt);
        size_t bad = 0;
        for (size_t i = 0; i < ny; i++) {
            float r = (float)yr[i];
            int same = isnan(r) ? isnan(y[i]) : memcmp(&r, &y[i], sizeof r) == 0;
            bad += !same || am[i] != ar[i];
        }
        tu_checks++;
        if (bad) {
            tu_failures++;
            fprintf(stderr, "FAIL maxpool special N%d C%d %dx%d k%d s%d nt%d: %zu outputs differ\n",
                    N, C, H, W, k, s, nt, bad);
        }
        free(y), free(am);
    }
    free(x), free(xd), free(yr), free(ar);
}

static void test_pool(void) {
    test_pool_case(2, 3, 7, 9, 3, 2);  /* overlapping windows, odd sizes */
    test_pool_case(3, 5, 5, 7, 2, 2);  /* floor: last row/col dropped */
    /* 2x2 stride-2 fast path: OW below, at and across the 16-wide vector step */
    test_pool_case(2, 3, 28, 28, 2, 2);
    test_pool_case(1, 2, 15, 33, 2, 2);  /* OW 16, odd W */
    test_pool_case(2, 1, 3, 69, 2, 2);   /* OW 34: two full steps + 2 */
    test_pool_case(1, 1, 2, 2, 2, 2);    /* 1x1 output */
    test_pool_case(8, 16, 29, 31, 2, 2); /* large enough to run threaded */
    test_pool_case(8, 16, 29, 31, 3, 2); /* generic path, threaded */
    test_maxpool_special(3, 5, 7, 9, 2, 2);
    test_maxpool_special(2, 3, 14, 14, 2, 2);
    test_maxpool_special(2, 4, 9, 37, 2, 2);
    test_maxpool_special(8, 16, 29, 31, 2, 2);
    test_maxpool_special(2, 3, 9, 11, 3, 2); /* generic path, same semantics */
    test_pool_case(1, 2, 6, 5, 3, 1);
    test_pool_case(2, 1, 4, 4, 4, 3);  /* global window */
    /* ties: first max (row-major in the window) wins; argmax indexes the H*W plane */
    sn_pool_dims d = {1, 1, 3, 4, 2, 2, 0, 0};
    CHECK(sn_pool_dims_init(&d) == 1 && d.OH == 1 && d.OW == 2);
    const float x[12] = {1, 5, 5, 2, 5, 0, 5, 5, 9, 9, 9, 9};
    float y[2];
    int32_t am[2];
    sn_maxpool2d_forward_f32(y, am, x, &d, 1);
    CHECK(y[0] == 5 && am[0] == 1);
    CHECK(y[1] == 5 && am[1] == 2);
    double xd[12], yd[2];
    for (int i = 0; i < 12; i++) xd[i] = x[i];
    sn_maxpool2d_forward_ref(yd, am, xd, &d);
    CHECK(yd[0] == 5 && am[0] == 1 && yd[1] == 5 && am[1] == 2);
    sn_pool_dims bad = {1, 1, 3, 4, 4, 1, 0, 0};
    CHECK(sn_pool_dims_init(&bad) == 0);
}

/* ---------------------------------------------------------------- linear */
static void test_linear(void) {
    const int N = 3, I = 7, O = 5;
    const size_t nx = (size_t)N * I, nw = (size_t)O * I, ny = (size_t)N * O;
    float *x = tu_fbuf(nx), *w = tu_fbuf(nw), *b = tu_fbuf(O), *dy = tu_fbuf(ny), *y = tu_fbuf(ny);
    float *dx = tu_fbuf(nx), *dw = tu_fbuf(nw), *db = tu_fbuf(O);
    fill(x, nx, -1, 1), fill(w, nw, -1, 1), fill(b, O, -1, 1), fill(dy, ny, -1, 1);
    fill(dx, nx, -1, 1), fill(dw, nw, -1, 1), fill(db, O, -1, 1);
    double *xd = to_d(x, nx), *wd = to_d(w, nw), *bd = to_d(b, O), *dyd = to_d(dy, ny);
    double *yr = tu_dbuf(ny), *dxr = to_d(dx, nx), *dwr = to_d(dw, nw), *dbr = to_d(db, O);
    float *dw2 = copy_f(dw, nw);
    sn_linear_forward_ref(yr, xd, wd, bd, N, I, O);
    sn_linear_backward_ref(dxr, dwr, dbr, dyd, xd, wd, N, I, O);
    sn_linear_forward_f32(y, x, w, b, N, I, O);
    sn_linear_backward_f32(dx, dw, db, dy, x, w, N, I, O);
    check_rel("linear y", y, yr, ny, TOL_FWD);
    check_rel("linear dx", dx, dxr, nx, TOL_BWD);
    check_rel("linear dw", dw, dwr, nw, TOL_BWD);
    check_rel("linear db", db, dbr, O, TOL_BWD);
    sn_linear_backward_f32(NULL, dw2, NULL, dy, x, w, N, I, O);
    check_same("linear dw with NULL dx/db", dw2, dw, nw * sizeof(float));
    sn_linear_forward_ref(yr, xd, wd, NULL, N, I, O);
    sn_linear_forward_f32(y, x, w, NULL, N, I, O);
    check_rel("linear y (no bias)", y, yr, ny, TOL_FWD);
    free(x), free(w), free(b), free(dy), free(y), free(dx), free(dw), free(db), free(dw2);
    free(xd), free(wd), free(bd), free(dyd), free(yr), free(dxr), free(dwr), free(dbr);
}

/* ------------------------------------------------------------ activations */
static void test_relu(void) {
    const size_t n = 1001; /* vector body and tail */
    float *x = tu_fbuf(n), *y = tu_fbuf(n), *dy = tu_fbuf(n), *dx = tu_fbuf(n);
    fill(x, n, -1, 1), fill(dy, n, -1, 1), fill(dx, n, -1, 1);
    x[0] = 0.0f;
    double *xd = to_d(x, n), *dyd = to_d(dy, n), *yr = tu_dbuf(n), *dxr = to_d(dx, n);
    sn_relu_forward_ref(yr, xd, n);
    sn_relu_backward_ref(dxr, dyd, yr, n);
    sn_relu_forward_f32(y, x, n);
    sn_relu_backward_f32(dx, dy, y, n);
    check_rel("relu y", y, yr, n, 0.0);
    check_rel("relu dx", dx, dxr, n, 0.0);
    float nan_in = NAN, nan_out = 0.0f;
    sn_relu_forward_f32(&nan_out, &nan_in, 1);
    CHECK(isnan(nan_out)); /* as torch.relu */
    /* backward where y <= 0 leaves dx bit for bit (-0.0 stays -0.0, a NaN dy is ignored) */
    float yb[3] = {0.0f, -1.0f, 2.0f}, dyb[3] = {1.0f, NAN, -0.0f}, dxb[3] = {-0.0f, -0.0f, -0.0f};
    sn_relu_backward_f32(dxb, dyb, yb, 3);
    CHECK(dxb[0] == 0.0f && signbit(dxb[0]) && dxb[1] == 0.0f && signbit(dxb[1]));
    CHECK(dxb[2] == 0.0f && signbit(dxb[2])); /* -0 + -0 */
    /* the _set variant: the bits the accumulating one leaves in a zeroed dx, -0.0 and NaN
     * included (dx aliasing dy as well) */
    float *dz = tu_fbuf(n), *ds = tu_fbuf(n);
    dy[1] = -0.0f, dy[2] = NAN, y[3] = NAN, dy[4] = NAN;
    memset(dz, 0, sizeof(float) * n);
    sn_relu_backward_f32(dz, dy, y, n);
    fill(ds, n, -1, 1);
    sn_relu_backward_set_f32(ds, dy, y, n);
    check_same("relu dx set", ds, dz, n * sizeof(float));
    memcpy(ds, dy, sizeof(float) * n);
    sn_relu_backward_set_f32(ds, ds, y, n);
    check_same("relu dx set in place", ds, dz, n * sizeof(float));
    free(dz), free(ds);
    free(x), free(y), free(dy), free(dx), free(xd), free(dyd), free(yr), free(dxr);
}

static void test_l2norm_case(int N, int D, float eps, float tiny_scale) {
    char tag[64];
    snprintf(tag, sizeof tag, "l2norm N%d D%d eps %g", N, D, (double)eps);
    const size_t n = (size_t)N * D;
    float *x = tu_fbuf(n), *y = tu_fbuf(n), *nm = tu_fbuf(N), *dy = tu_fbuf(n), *dx = tu_fbuf(n);
    fill(x, n, -1, 1), fill(dy, n, -1, 1), fill(dx, n, -1, 1);
    for (int i = 0; i < D; i++) x[i] *= tiny_scale; /* row 0 may fall below eps */
    double *xd = to_d(x, n), *dyd = to_d(dy, n), *yr = tu_dbuf(n), *nr = tu_dbuf(N), *dxr = to_d(dx, n);
    sn_l2norm_forward_ref(yr, nr, xd, N, D, eps);
    sn_l2norm_backward_ref(dxr, dyd, yr, nr, N, D, eps);
    sn_l2norm_forward_f32(y, nm, x, N, D, eps);
    sn_l2norm_backward_f32(dx, dy, y, nm, N, D, eps);
    check_rel(tag, y, yr, n, TOL_FWD);
    check_rel(tag, nm, nr, N, TOL_FWD);
    check_rel(tag, dx, dxr, n, TOL_BWD);
    for (int r = 1; r < N; r++) { /* unclamped rows have unit norm */
        double s = 0.0;
        for (int i = 0; i < D; i++) s += (double)y[(size_t)r * D + i] * y[(size_t)r * D + i];
        CHECK_CLOSE(s, 1.0, 1e-6, 0.0);
    }
    free(x), free(y), free(nm), free(dy), free(dx), free(xd), free(dyd), free(yr), free(nr);
    free(dxr);
}

static void test_l2norm(void) {
    test_l2norm_case(4, 13, 1e-12f, 1.0f);
    test_l2norm_case(5, 7, 0.05f, 1e-3f); /* row 0 clamped: norm < eps */
    /* all-zero row: y = 0, gradient dy / eps, no NaN */
    float x[3] = {0, 0, 0}, y[3], nm[1], dy[3] = {1, -2, 3}, dx[3] = {0, 0, 0};
    sn_l2norm_forward_f32(y, nm, x, 1, 3, 1e-12f);
    sn_l2norm_backward_f32(dx, dy, y, nm, 1, 3, 1e-12f);
    CHECK(y[0] == 0 && y[1] == 0 && y[2] == 0 && nm[0] == 0);
    CHECK_CLOSE(dx[1], -2e12, 1e-6, 0.0);
}

int main(void) {
    sn_gemm_init();
    sn_rng_seed(&g_rng, 12345, 1);
    test_gemm();
    test_gemm_f32p();
    test_gemm_f32p_pa();
    test_conv();
    test_batchnorm();
    test_pool();
    test_bn_pool();
    test_linear();
    test_relu();
    test_l2norm();
    return tu_finish("test_kernels");
}
