/* batchnorm.c -- fast float32 batch normalisation over (N,C,S), parallel over channels.
 *
 * Statistics and backward sums use double accumulators; each channel is processed by one
 * thread in a fixed order, so results do not depend on nt. The affine transform follows
 * PyTorch's CPU kernel: y = x * a + b with a = rstd*gamma, b = beta - mean*a. */
#include "kernels/kernels.h"

#include "core/core.h"

#include <math.h>

#define BN_AT(n, c, s) (((size_t)(n) * C + (c)) * (size_t)S + (s))

/* y: (N,C,S)  mean, rstd: (C) saved  x: (N,C,S)  gamma, beta: (C)
 * run_mean, run_var: (C) or NULL (updated in place) */
void sn_batchnorm_forward_train_f32(float *y, float *mean, float *rstd, const float *x,
                                    const float *gamma, const float *beta, float *run_mean,
                                    float *run_var, int N, int C, int S, float momentum,
                                    float eps, int nt) {
    SN_ASSERT(nt >= 1 && N >= 1 && C >= 1 && S >= 1);
    const double cnt = (double)N * S;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int c = 0; c < C; c++) {
        double sum = 0.0;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) sum += x[BN_AT(n, c, s)];
        const double mu = sum / cnt;
        double sq = 0.0;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) {
                double t = x[BN_AT(n, c, s)] - mu;
                sq += t * t;
            }
        const double var = sq / cnt; /* biased, used for normalisation */
        const double r = 1.0 / sqrt(var + (double)eps);
        mean[c] = (float)mu;
        rstd[c] = (float)r;
        const float a = (float)(r * gamma[c]);
        const float b = (float)(beta[c] - mu * r * gamma[c]);
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) y[BN_AT(n, c, s)] = x[BN_AT(n, c, s)] * a + b;
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
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int c = 0; c < C; c++) {
        const double r = 1.0 / sqrt((double)run_var[c] + (double)eps);
        const float a = (float)(r * gamma[c]);
        const float b = (float)(beta[c] - (double)run_mean[c] * r * gamma[c]);
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) y[BN_AT(n, c, s)] = x[BN_AT(n, c, s)] * a + b;
    }
}

/* dx: (N,C,S) or NULL  dgamma, dbeta: (C) or NULL  dy, x: (N,C,S)  mean, rstd, gamma: (C)
 * dx = gamma*rstd/n * (n*dy - sum(dy) - xhat*sum(dy*xhat)); all accumulated. */
void sn_batchnorm_backward_f32(float *dx, float *dgamma, float *dbeta, const float *dy,
                               const float *x, const float *mean, const float *rstd,
                               const float *gamma, int N, int C, int S, int nt) {
    SN_ASSERT(nt >= 1 && N >= 1 && C >= 1 && S >= 1);
    const double cnt = (double)N * S;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int c = 0; c < C; c++) {
        const double mu = mean[c], r = rstd[c];
        double sdy = 0.0, sdyx = 0.0;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) {
                size_t i = BN_AT(n, c, s);
                sdy += dy[i];
                sdyx += dy[i] * ((x[i] - mu) * r);
            }
        if (dgamma) dgamma[c] += (float)sdyx;
        if (dbeta) dbeta[c] += (float)sdy;
        if (!dx) continue;
        const double k = gamma[c] * r / cnt;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) {
                size_t i = BN_AT(n, c, s);
                double xhat = (x[i] - mu) * r;
                dx[i] += (float)(k * (cnt * dy[i] - sdy - xhat * sdyx));
            }
    }
}
