/*
 * setdist.h -- distances between two sets of embeddings (private to libsimnet; used by
 * simnet setdist and tests).
 *
 * Inputs are row-major float32 arrays a: (na, d) and b: (nb, d); everything is
 * computed in double. Non-finite inputs give SN_ERR_NUMERIC; fewer than 2 rows in a
 * set, or d < 1, give SN_ERR_ARG. Messages call the sets "set A" / "set B".
 *
 * Frechet distance between the Gaussian fits N(mu_a, S_a), N(mu_b, S_b) (the FID
 * formula; S = unbiased sample covariance, divisor n-1):
 *   FD = |mu_a - mu_b|^2 + Tr(S_a) + Tr(S_b) - 2 Tr((S_a^{1/2} S_b S_a^{1/2})^{1/2})
 * S_a^{1/2} comes from a symmetric eigendecomposition (LAPACK dsyev); the trace of the
 * outer square root is the sum of the square roots of the eigenvalues of the symmetric
 * matrix S_a^{1/2} S_b S_a^{1/2}. Eigenvalues below 0 (rounding; the matrices are PSD)
 * are clamped to 0, and so is a final FD below 0. Cost O((na + nb) d^2 + d^3).
 * 1-D check: FD = (mu_a - mu_b)^2 + (sigma_a - sigma_b)^2.
 *
 * MMD^2, unbiased estimator (Gretton et al. 2012, eq. 3) with the Gaussian RBF kernel
 *   k(x, y) = exp(-|x - y|^2 / (2 sigma^2)),
 *   MMD^2 = sum_{i!=j} k(x_i,x_j) / (m(m-1)) + sum_{i!=j} k(y_i,y_j) / (n(n-1))
 *           - 2 sum_{i,j} k(x_i,y_j) / (mn)
 * sigma = median of the pairwise Euclidean distances of the pooled sample (mean of
 * the two middle values when their number is even; 1 if that median is 0). It can be
 * slightly negative when the sets come from one distribution. Cost is quadratic, so
 * each set larger than max_per_set is subsampled first: max_per_set rows chosen
 * uniformly without replacement by a PCG32 stream seeded with `seed` (set A uses
 * stream 1, set B stream 2), kept in their original order. Memory:
 * 4 * P(P-1)/2 bytes for the pooled distances (P = m + n; 32 MB at 2000 + 2000).
 * Threads: ctx's count of OpenMP threads; per-row sums are added in row order, so the
 * result does not depend on the thread count.
 */
#ifndef SN_EVAL_SETDIST_H
#define SN_EVAL_SETDIST_H

#include "simnet.h"

#include <stdint.h>

#define SN_SETDIST_MMD_MAX 2000     /* default max_per_set */
#define SN_SETDIST_MMD_SEED 20240601u /* default subsampling seed */

typedef struct {
    double mmd2;       /* unbiased MMD^2 */
    double bandwidth;  /* sigma: median pooled pairwise distance */
    int n_a, n_b;      /* rows used after subsampling */
} sn_mmd_result;

sn_status sn_setdist_frechet(sn_ctx *ctx, const float *a, int na, const float *b, int nb, int d,
                             double *fd);
sn_status sn_setdist_mmd(sn_ctx *ctx, const float *a, int na, const float *b, int nb, int d,
                         int max_per_set, uint64_t seed, sn_mmd_result *out);

#endif
