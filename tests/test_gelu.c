/* test_gelu.c -- GELU kernels: float vs the double reference (erfc from libm) on a dense
 * grid and at extremes, central finite differences of the reference backward, set vs
 * accumulate, 1 vs 2 threads bit-identical, and PyTorch 1.13 values (torch.nn.GELU() on
 * a float64 tensor and its gradient, printed to 8 digits and pasted below). */
#include "core/core.h"
#include "kernels/gelu.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_accuracy(void) {
    enum { N = 200001 };
    float *x = tu_fbuf(N), *y = tu_fbuf(N), *g = tu_fbuf(N), *dy = tu_fbuf(N);
    double *xd = tu_dbuf(N), *yd = tu_dbuf(N), *gd = tu_dbuf(N), *dyd = tu_dbuf(N);
    for (int i = 0; i < N; i++) {
        x[i] = -10.0f + 20.0f * (float)i / (N - 1);
        xd[i] = x[i], dy[i] = 1.0f, dyd[i] = 1.0;
    }
    sn_gelu_forward_f32(y, x, N, 2);
    sn_gelu_backward_f32(g, dy, x, N, 1, 2);
    sn_gelu_forward_ref(yd, xd, N);
    sn_gelu_backward_ref(gd, dyd, xd, N);
    double ey = 0, eg = 0;
    for (int i = 0; i < N; i++) {
        /* absolute error scaled by max(1, |ref|): relative for large values */
        double sy = fabs(yd[i]) > 1 ? fabs(yd[i]) : 1, sg = fabs(gd[i]) > 1 ? fabs(gd[i]) : 1;
        double a = fabs(y[i] - yd[i]) / sy, b = fabs(g[i] - gd[i]) / sg;
        if (a > ey) ey = a;
        if (b > eg) eg = b;
    }
    printf("  gelu float vs double on [-10, 10] (%d points): forward %.2e, backward %.2e\n", N, ey, eg);
    CHECK(ey < 1e-6 && eg < 1e-6);
    /* far tails: GELU(-30) = -0 .. tiny, GELU(30) = 30, gradient 0 and 1 */
    float xt[4] = {-30.0f, -87.5f, 30.0f, 100.0f}, yt[4], gt[4], ones[4] = {1, 1, 1, 1};
    sn_gelu_forward_f32(yt, xt, 4, 1);
    sn_gelu_backward_f32(gt, ones, xt, 4, 1, 1);
    CHECK(fabsf(yt[0]) < 1e-30f && fabsf(yt[1]) < 1e-30f && yt[2] == 30.0f && yt[3] == 100.0f);
    CHECK(fabsf(gt[0]) < 1e-30f && gt[2] == 1.0f && gt[3] == 1.0f);
    /* NaN propagates (training stops on it) */
    float xn = NAN, yn;
    sn_gelu_forward_f32(&yn, &xn, 1, 1);
    CHECK(yn != yn);
    free(x), free(y), free(g), free(dy), free(xd), free(yd), free(gd), free(dyd);
}

/* y = torch.nn.GELU()(x), x float64 with requires_grad; y.sum().backward(); x.grad */
static void test_torch_values(void) {
    static const double xs[7] = {-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0};
    static const double ys[7] = {-0.0040496941, -0.15865525, -0.15426877, 0.0,
                                 0.34573123, 0.84134475, 2.9959503};
    static const double gs[7] = {-0.011945647, -0.083315471, 0.13250488, 0.5,
                                 0.86749512, 1.0833155, 1.0119456};
    double y[7], g[7] = {0}, one[7] = {1, 1, 1, 1, 1, 1, 1};
    sn_gelu_forward_ref(y, xs, 7);
    sn_gelu_backward_ref(g, one, xs, 7);
    for (int i = 0; i < 7; i++) {
        CHECK_CLOSE(y[i], ys[i], 1e-7, 1e-8);
        CHECK_CLOSE(g[i], gs[i], 1e-7, 1e-8);
    }
}

static void test_fd_threads(void) {
    enum { N = 100000 };
    sn_rng r;
    sn_rng_seed(&r, 7, 1);
    double x[64], dy[64], dx[64] = {0};
    for (int i = 0; i < 64; i++) x[i] = -4 + 8 * sn_rng_uniform(&r), dy[i] = sn_rng_uniform(&r) - 0.5;
    sn_gelu_backward_ref(dx, dy, x, 64);
    double worst = 0, nz = 0;
    for (int i = 0; i < 64; i++) {
        double a = x[i] + 1e-6, b = x[i] - 1e-6, ya, yb;
        sn_gelu_forward_ref(&ya, &a, 1);
        sn_gelu_forward_ref(&yb, &b, 1);
        double fd = dy[i] * (ya - yb) / 2e-6, d = fabs(fd - dx[i]);
        if (d > worst) worst = d;
        nz += fabs(dx[i]);
    }
    printf("  gelu reference backward vs central differences: max |diff| %.2e\n", worst);
    CHECK(worst < 1e-8 && nz > 0);
    float *xf = tu_fbuf(N), *y1 = tu_fbuf(N), *y2 = tu_fbuf(N), *g1 = tu_fbuf(N), *g2 = tu_fbuf(N),
          *gf = tu_fbuf(N), *acc = tu_fbuf(N);
    for (int i = 0; i < N; i++) xf[i] = (float)(6 * sn_rng_uniform(&r) - 3), gf[i] = (float)sn_rng_uniform(&r);
    sn_gelu_forward_f32(y1, xf, N, 1);
    sn_gelu_forward_f32(y2, xf, N, 2);
    sn_gelu_backward_f32(g1, gf, xf, N, 1, 1);
    sn_gelu_backward_f32(g2, gf, xf, N, 1, 2);
    CHECK(!memcmp(y1, y2, sizeof(float) * N) && !memcmp(g1, g2, sizeof(float) * N));
    for (int i = 0; i < N; i++) acc[i] = 0.25f;
    sn_gelu_backward_f32(acc, gf, xf, N, 0, 2);
    int same = 1;
    for (int i = 0; i < N; i++) same &= acc[i] == 0.25f + g1[i];
    CHECK(same);
    free(xf), free(y1), free(y2), free(g1), free(g2), free(gf), free(acc);
}

int main(void) {
    test_accuracy();
    test_torch_values();
    test_fd_threads();
    return tu_finish("test_gelu");
}
