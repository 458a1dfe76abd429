/* batchnorm_ref.c -- naive double-precision batch normalisation (training mode). */
#include "kernels/kernels.h"

#include "core/core.h"

#include <math.h>

#define BN_AT(n, c, s) (((size_t)(n) * C + (c)) * (size_t)S + (s))

/* y: (N,C,S)  mean, rstd: (C) saved  x: (N,C,S)  gamma, beta: (C) */
void sn_batchnorm_forward_train_ref(double *y, double *mean, double *rstd, const double *x,
                                    const double *gamma, const double *beta, int N, int C,
                                    int S, double eps) {
    const double cnt = (double)N * S;
    for (int c = 0; c < C; c++) {
        double sum = 0.0, sq = 0.0;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) sum += x[BN_AT(n, c, s)];
        const double mu = sum / cnt;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) sq += (x[BN_AT(n, c, s)] - mu) * (x[BN_AT(n, c, s)] - mu);
        const double r = 1.0 / sqrt(sq / cnt + eps);
        mean[c] = mu;
        rstd[c] = r;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++)
                y[BN_AT(n, c, s)] = (x[BN_AT(n, c, s)] - mu) * r * gamma[c] + beta[c];
    }
}

/* dx: (N,C,S) or NULL  dgamma, dbeta: (C) or NULL  dy, x: (N,C,S)  mean, rstd, gamma: (C) */
void sn_batchnorm_backward_ref(double *dx, double *dgamma, double *dbeta, const double *dy,
                               const double *x, const double *mean, const double *rstd,
                               const double *gamma, int N, int C, int S) {
    const double cnt = (double)N * S;
    for (int c = 0; c < C; c++) {
        double sdy = 0.0, sdyx = 0.0;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) {
                size_t i = BN_AT(n, c, s);
                sdy += dy[i];
                sdyx += dy[i] * (x[i] - mean[c]) * rstd[c];
            }
        if (dgamma) dgamma[c] += sdyx;
        if (dbeta) dbeta[c] += sdy;
        if (!dx) continue;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) {
                size_t i = BN_AT(n, c, s);
                double xhat = (x[i] - mean[c]) * rstd[c];
                dx[i] += gamma[c] * rstd[c] / cnt * (cnt * dy[i] - sdy - xhat * sdyx);
            }
    }
}
