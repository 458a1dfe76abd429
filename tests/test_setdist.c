/* test_setdist.c -- Frechet distance and unbiased RBF MMD^2 against known answers.
 *
 * Tolerances (all samples are drawn with fixed seeds, so the results are deterministic;
 * the tolerances are ~3-5 standard deviations of the sampling error):
 *   identical sets            FD <= 1e-9, |MMD^2| <= 2/n (the unbiased estimator on a
 *                             set against itself is -2(1 - mean off-diagonal k)/n + O(1/n^2))
 *   N(mu1, I) vs N(mu2, I)    d = 8, n = 50,000: |FD - |mu1-mu2|^2| <= 0.06
 *   N(0, s1^2 I) vs N(0, s2^2 I)  d = 8, n = 50,000: FD within 2% of d (s1 - s2)^2
 *   1-D closed forms          FD = (mu_a-mu_b)^2 + (sd_a-sd_b)^2 and two hand-computed MMD^2
 *                             values: 1e-12 relative
 *   brute-force MMD^2         a naive O(n^2) double loop with the median from a sort:
 *                             1e-6 relative (the library keeps the squared distances it
 *                             takes the median of in float)
 *   rotation invariance       FD(Ra, Rb) = FD(a, b) to 1e-8 relative (exercises the
 *                             non-diagonal covariance path)
 * plus: MMD^2 increases with the mean shift; subsampling is deterministic per seed;
 * 1 and 2 threads give bit-identical MMD^2; bad inputs are rejected naming the set. */
#include "core/core.h"
#include "eval/setdist.h"
#include "testutil.h"

#include <string.h>

static double gauss(sn_rng *r) {
    double u1 = (sn_rng_uniform(r) + 0x1p-25), u2 = sn_rng_uniform(r);
    return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}

/* x: (n, d) ~ N(mu * 1, s^2 I) */
static float *normal(int n, int d, double mu, double s, uint64_t seed) {
    float *x = malloc(sizeof(float) * (size_t)n * (size_t)d);
    SN_ASSERT(x);
    sn_rng r;
    sn_rng_seed(&r, seed, 7);
    for (size_t i = 0; i < (size_t)n * (size_t)d; i++) x[i] = (float)(mu + s * gauss(&r));
    return x;
}

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Naive unbiased MMD^2 with the median heuristic, no subsampling. */
static double mmd_ref(const float *a, int m, const float *b, int n, int d) {
    int P = m + n;
    const float **pt = malloc(sizeof(float *) * (size_t)P);
    double *ds = malloc(sizeof(double) * (size_t)P * (size_t)P);
    SN_ASSERT(pt && ds);
    for (int i = 0; i < P; i++) pt[i] = i < m ? a + (size_t)i * d : b + (size_t)(i - m) * d;
    size_t np = 0;
    for (int i = 0; i < P; i++)
        for (int j = i + 1; j < P; j++) {
            double s = 0;
            for (int k = 0; k < d; k++) s += ((double)pt[i][k] - pt[j][k]) * ((double)pt[i][k] - pt[j][k]);
            ds[np++] = sqrt(s);
        }
    qsort(ds, np, sizeof(double), cmp_dbl);
    double med = np % 2 ? ds[np / 2] : 0.5 * (ds[np / 2 - 1] + ds[np / 2]);
    double g = 1 / (2 * med * med), kxx = 0, kyy = 0, kxy = 0;
    for (int i = 0; i < P; i++)
        for (int j = 0; j < P; j++) {
            if (i == j) continue;
            double s = 0;
            for (int k = 0; k < d; k++) s += ((double)pt[i][k] - pt[j][k]) * ((double)pt[i][k] - pt[j][k]);
            double kv = exp(-g * s);
            if (i < m && j < m) kxx += kv;
            else if (i >= m && j >= m) kyy += kv;
            else if (i < m) kxy += kv;
        }
    free(pt);
    free(ds);
    return kxx / ((double)m * (m - 1)) + kyy / ((double)n * (n - 1)) - 2 * kxy / ((double)m * n);
}

static double fd(sn_ctx *ctx, const float *a, int na, const float *b, int nb, int d) {
    double v = NAN;
    CHECK(sn_setdist_frechet(ctx, a, na, b, nb, d, &v) == SN_OK);
    return v;
}

static double mmd(sn_ctx *ctx, const float *a, int na, const float *b, int nb, int d, int max) {
    sn_mmd_result r;
    CHECK(sn_setdist_mmd(ctx, a, na, b, nb, d, max, SN_SETDIST_MMD_SEED, &r) == SN_OK);
    return r.mmd2;
}

int main(void) {
    sn_ctx *ctx = sn_ctx_create(2), *ctx1 = sn_ctx_create(1);
    const int d = 8, big = 50000;

    /* identical sets */
    float *a = normal(1000, d, 0, 1, 1);
    CHECK(fd(ctx, a, 1000, a, 1000, d) <= 1e-9);
    double self = mmd(ctx, a, 1000, a, 1000, d, 2000);
    CHECK(fabs(self) <= 2.0 / 1000);

    /* mean shift: N(0, I) vs N(0.5 * 1, I): |mu1 - mu2|^2 = 8 * 0.25 = 2 */
    float *g0 = normal(big, d, 0, 1, 2), *g1 = normal(big, d, 0.5, 1, 3), *g2 = normal(big, d, 0, 2, 4);
    CHECK_CLOSE(fd(ctx, g0, big, g1, big, d), 2.0, 0, 0.06);
    CHECK_CLOSE(fd(ctx, g1, big, g0, big, d), fd(ctx, g0, big, g1, big, d), 1e-9, 1e-12);
    /* scale: N(0, I) vs N(0, 4 I): d (s1 - s2)^2 = 8 */
    CHECK_CLOSE(fd(ctx, g0, big, g2, big, d), 8.0, 0.02, 0);

    /* rotation invariance with non-diagonal covariances: rotate the (0,1) and (2,5) planes */
    int nr = 3000;
    float *ra = normal(nr, d, 0, 1, 5), *rb = normal(nr, d, 0.3, 1, 6);
    for (int i = 0; i < nr; i++) { /* stretch axis 0 of b, then rotate both */
        rb[(size_t)i * d] *= 3;
        ra[(size_t)i * d + 2] *= 0.5f;
    }
    double before = fd(ctx, ra, nr, rb, nr, d);
    const double c = cos(0.7), s = sin(0.7);
    for (int t = 0; t < 2; t++) {
        float *x = t ? rb : ra;
        for (int i = 0; i < nr; i++) {
            float *p = x + (size_t)i * d;
            double u = p[0], v = p[1], w = p[2], z = p[5];
            p[0] = (float)(c * u - s * v);
            p[1] = (float)(s * u + c * v);
            p[2] = (float)(c * w + s * z);
            p[5] = (float)(-s * w + c * z);
        }
    }
    CHECK_CLOSE(fd(ctx, ra, nr, rb, nr, d), before, 1e-5, 1e-9); /* float rounding of the rotation */

    /* 1-D closed forms */
    const float x1[4] = {1, 2, 3, 4}, y1[2] = {0, 10};
    double sdx = sqrt(5.0 / 3.0), sdy = sqrt(50.0);
    CHECK_CLOSE(fd(ctx, x1, 4, y1, 2, 1), 6.25 + (sdx - sdy) * (sdx - sdy), 1e-12, 0);
    const float p01[2] = {0, 1}, p02[2] = {0, 2}, p13[2] = {1, 3};
    /* {0,1} vs {0,1}: distances 1,0,1,1,0,1 -> median 1; MMD^2 = k(1) + k(1) - 2 (2 + 2k(1)) / 4 */
    CHECK_CLOSE(mmd(ctx, p01, 2, p01, 2, 1, 2000), exp(-0.5) - 1, 1e-12, 0);
    /* {0,2} vs {1,3}: distances 2,1,3,1,1,2 -> median 1.5 */
    double g = 1 / (2 * 1.5 * 1.5), kk[4] = {1, exp(-g), exp(-4 * g), exp(-9 * g)};
    CHECK_CLOSE(mmd(ctx, p02, 2, p13, 2, 1, 2000), 2 * kk[2] - 2 * (3 * kk[1] + kk[3]) / 4, 1e-12, 0);

    /* brute force on a small odd-sized case */
    float *sa = normal(37, 3, 0, 1, 8), *sb = normal(23, 3, 0.4, 1.5, 9);
    CHECK_CLOSE(mmd(ctx, sa, 37, sb, 23, 3, 2000), mmd_ref(sa, 37, sb, 23, 3), 1e-6, 1e-9);

    /* MMD^2 grows with the mean shift */
    const double shift[5] = {0, 0.25, 0.5, 1, 2};
    double prev = -1;
    for (int k = 0; k < 5; k++) {
        float *y = normal(500, d, shift[k], 1, 10);
        double v = mmd(ctx, g0, 500, y, 500, d, 2000);
        if (k == 0) CHECK(fabs(v) < 0.01);
        CHECK(v > prev);
        prev = v;
        free(y);
    }
    CHECK(prev > 0.5);

    /* subsampling: sizes, determinism per seed, thread-count invariance */
    sn_mmd_result r1, r2, r3;
    CHECK(sn_setdist_mmd(ctx, g0, 3000, g1, 2500, d, 500, 42, &r1) == SN_OK);
    CHECK(sn_setdist_mmd(ctx1, g0, 3000, g1, 2500, d, 500, 42, &r2) == SN_OK);
    CHECK(sn_setdist_mmd(ctx, g0, 3000, g1, 2500, d, 500, 43, &r3) == SN_OK);
    CHECK(r1.n_a == 500 && r1.n_b == 500 && r1.bandwidth > 0);
    CHECK(memcmp(&r1.mmd2, &r2.mmd2, sizeof(double)) == 0 && r1.bandwidth == r2.bandwidth);
    CHECK(r3.mmd2 != r1.mmd2 && r3.mmd2 > 0.5 * r1.mmd2 && r3.mmd2 < 2 * r1.mmd2);
    CHECK(sn_setdist_mmd(ctx, g0, 300, g1, 200, d, 2000, 42, &r1) == SN_OK);
    CHECK(r1.n_a == 300 && r1.n_b == 200);

    /* errors name the set */
    double v;
    CHECK(sn_setdist_frechet(ctx, a, 1, a, 10, d, &v) == SN_ERR_ARG && strstr(sn_ctx_error(ctx), "set A"));
    CHECK(sn_setdist_mmd(ctx, a, 10, a, 1, d, 2000, 1, &r1) == SN_ERR_ARG && strstr(sn_ctx_error(ctx), "set B"));
    CHECK(sn_setdist_frechet(ctx, a, 10, a, 10, 0, &v) == SN_ERR_ARG);
    float *nan_b = normal(10, d, 0, 1, 11);
    nan_b[3 * d + 2] = NAN;
    CHECK(sn_setdist_frechet(ctx, a, 10, nan_b, 10, d, &v) == SN_ERR_NUMERIC &&
          strstr(sn_ctx_error(ctx), "set B") && strstr(sn_ctx_error(ctx), "row 3"));
    CHECK(sn_setdist_mmd(ctx, nan_b, 10, a, 10, d, 2000, 1, &r1) == SN_ERR_NUMERIC &&
          strstr(sn_ctx_error(ctx), "set A"));
    /* constant sets: zero covariance and zero median distance are handled */
    float cst[20];
    for (int i = 0; i < 20; i++) cst[i] = 1.5f;
    CHECK_CLOSE(fd(ctx, cst, 10, cst, 10, 2), 0, 0, 1e-12);
    CHECK(sn_setdist_mmd(ctx, cst, 10, cst, 10, 2, 2000, 1, &r1) == SN_OK && r1.bandwidth == 1.0);
    CHECK_CLOSE(r1.mmd2, 0, 0, 1e-12);

    free(a);
    free(g0);
    free(g1);
    free(g2);
    free(ra);
    free(rb);
    free(sa);
    free(sb);
    free(nan_b);
    sn_ctx_free(ctx);
    sn_ctx_free(ctx1);
    return tu_finish("test_setdist");
}
