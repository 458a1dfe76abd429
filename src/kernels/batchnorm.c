/* batchnorm.c -- fast float32 batch normalisation over (N,C,S), parallel over channels.
 *
 * Statistics and backward sums use double accumulators; each channel is processed by one
 * thread, its N segments of S floats in order, each summed into 8 partial sums (lane
 * i % 8 of the segment) combined in a fixed tree: results do not depend on nt, and the
 * sums vectorise. The affine transform follows PyTorch's CPU kernel: y = x * a + b with
 * a = rstd*gamma, b = beta - mean*a.
 *
 * Mean and variance come from one pass over x (sum and sum of squares of x - K, with the
 * shift K = the channel's first value, so the subtraction s2 - s1^2/n does not cancel
 * when |mean| >> std). Backward: one pass for sum(dy) and sum(dy*(x - mean)), one for dx.
 * Tensors below SN_BN_PAR_MIN floats (e.g. batchnorm1d) run on the calling thread. */
#include "kernels/kernels.h"

#include "core/core.h"

#include <math.h>

#define BN_AT(n, c, s) (((size_t)(n) * C + (c)) * (size_t)S + (s))
#define SN_BN_PAR_MIN 32768

static double sum8(const double a[8]) {
    return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
}

/* s1[l] += x[i] - K, s2[l] += (x[i] - K)^2 for i in [0, n), l = i % 8.  x: (n) */
static void moments_add(double s1[8], double s2[8], const float *restrict x, int n, double K) {
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) {
            const double t = (double)x[i + l] - K;
            s1[l] += t;
            s2[l] += t * t;
        }
    for (int l = 0; i < n; i++, l++) {
        const double t = (double)x[i] - K;
        s1[l] += t;
        s2[l] += t * t;
    }
}

/* s1[l] += dy[i], s2[l] += dy[i] * (x[i] - mu) for i in [0, n), l = i % 8.  dy, x: (n) */
static void dot_add(double s1[8], double s2[8], const float *restrict dy, const float *restrict x,
                    int n, double mu) {
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) {
            s1[l] += dy[i + l];
            s2[l] += dy[i + l] * ((double)x[i + l] - mu);
        }
    for (int l = 0; i < n; i++, l++) {
        s1[l] += dy[i];
        s2[l] += dy[i] * ((double)x[i] - mu);
    }
}

/* y: (n) = x * a + b  x: (n) */
static void affine(float *restrict y, const float *restrict x, int n, float a, float b) {
#pragma omp simd
    for (int i = 0; i < n; i++) y[i] = x[i] * a + b;
}

/* y: (N,C,S)  mean, rstd: (C) saved  x: (N,C,S)  gamma, beta: (C)
 * run_mean, run_var: (C) or NULL (updated in place) */
void sn_batchnorm_forward_train_f32(float *y, float *mean, float *rstd, const float *x,
                                    const float *gamma, const float *beta, float *run_mean,
                                    float *run_var, int N, int C, int S, float momentum,
                                    float eps, int nt) {
    SN_ASSERT(nt >= 1 && N >= 1 && C >= 1 && S >= 1);
    const double cnt = (double)N * S;
    const int par = cnt * C >= SN_BN_PAR_MIN;
#pragma omp parallel for num_threads(nt) schedule(static) if (par)
    for (int c = 0; c < C; c++) {
        const double K = x[BN_AT(0, c, 0)];
        double a1[8] = {0}, a2[8] = {0};
        for (int n = 0; n < N; n++) moments_add(a1, a2, x + BN_AT(n, c, 0), S, K);
        const double d = sum8(a1) / cnt; /* mean - K */
        const double mu = K + d;
        double var = sum8(a2) / cnt - d * d; /* biased, used for normalisation */
        if (var < 0.0) var = 0.0;
        const double r = 1.0 / sqrt(var + (double)eps);
        mean[c] = (float)mu;
        rstd[c] = (float)r;
        const float a = (float)(r * gamma[c]);
        const float b = (float)(beta[c] - mu * r * gamma[c]);
        for (int n = 0; n < N; n++) affine(y + BN_AT(n, c, 0), x + BN_AT(n, c, 0), S, a, b);
        if (run_mean) run_mean[c] = (float)((1.0 - momentum) * run_mean[c] + momentum * mu);
        if (run_var) {
            /* unbiased for the running estimate; n == 1 (PyTorch refuses it) keeps biased */
            double unb = cnt > 1.0 ? var * cnt / (cnt - 1.0) : var;
            run_var[c] = (float)((1.0 - momentum) * run_var[c] + momentum * unb);
        }
    }
}

/* y: (N,C,S)  x: (N,C,S)  gamma, beta, run_mean, run_var: (C) */
void sn_batchnorm_forward_eval_f32(float *y, const float *x, const float *gamma,
                                   const float *beta, const float *run_mean,
                                   const float *run_var, int N, int C, int S, float eps, int nt) {
    SN_ASSERT(nt >= 1 && N >= 1 && C >= 1 && S >= 1);
    const int par = (double)N * S * C >= SN_BN_PAR_MIN;
#pragma omp parallel for num_threads(nt) schedule(static) if (par)
    for (int c = 0; c < C; c++) {
        const double r = 1.0 / sqrt((double)run_var[c] + (double)eps);
        const float a = (float)(r * gamma[c]);
        const float b = (float)(beta[c] - (double)run_mean[c] * r * gamma[c]);
        for (int n = 0; n < N; n++) affine(y + BN_AT(n, c, 0), x + BN_AT(n, c, 0), S, a, b);
    }
}

/* dx: (N,C,S) or NULL  dgamma, dbeta: (C) or NULL  dy, x: (N,C,S)  mean, rstd, gamma: (C)
 * dx = gamma*rstd/n * (n*dy - sum(dy) - xhat*sum(dy*xhat)); all accumulated.
 * With sdyx = sum(dy*xhat) = rstd * sum(dy*(x - mean)) and k = gamma*rstd/n this is
 * dx = A*dy + B*(x - mean) + D, A = k*n, B = -k*rstd*sdyx, D = -k*sum(dy), in double. */
void sn_batchnorm_backward_f32(float *dx, float *dgamma, float *dbeta, const float *dy,
                               const float *x, const float *mean, const float *rstd,
                               const float *gamma, int N, int C, int S, int nt) {
    SN_ASSERT(nt >= 1 && N >= 1 && C >= 1 && S >= 1);
    const double cnt = (double)N * S;
    const int par = cnt * C >= SN_BN_PAR_MIN;
#pragma omp parallel for num_threads(nt) schedule(static) if (par)
    for (int c = 0; c < C; c++) {
        const double mu = mean[c], r = rstd[c];
        double a1[8] = {0}, a2[8] = {0};
        for (int n = 0; n < N; n++) dot_add(a1, a2, dy + BN_AT(n, c, 0), x + BN_AT(n, c, 0), S, mu);
        const double sdy = sum8(a1), sdyx = sum8(a2) * r;
        if (dgamma) dgamma[c] += (float)sdyx;
        if (dbeta) dbeta[c] += (float)sdy;
        if (!dx) continue;
        const double k = gamma[c] * r / cnt;
        const double A = k * cnt, B = -k * r * sdyx, D = -k * sdy;
        for (int n = 0; n < N; n++) {
            float *restrict dxs = dx + BN_AT(n, c, 0);
            const float *restrict dys = dy + BN_AT(n, c, 0), *restrict xs = x + BN_AT(n, c, 0);
#pragma omp simd
            for (int i = 0; i < S; i++)
                dxs[i] += (float)(A * dys[i] + B * ((double)xs[i] - mu) + D);
        }
    }
}
