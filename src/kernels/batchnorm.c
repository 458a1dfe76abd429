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
 * Tensors below SN_BN_PAR_MIN floats (e.g. batchnorm1d) run on the calling thread.
 * The _sync variants (synchronized BN over replicas, kernels.h) split each into two
 * passes around one reduction of the per-channel sums. */
#include "kernels/kernels.h"
#include "kernels/pool_row.h"

#include "core/core.h"

#include <math.h>
#include <stdint.h>
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#define BN_AT(n, c, s) (((size_t)(n) * C + (c)) * (size_t)S + (s))
#define SN_BN_PAR_MIN 32768

static double sum8(const double a[8]) {
    return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
}

/* s1[l] += x[i] - K, s2[l] += (x[i] - K)^2 for i in [0, n), l = i % 8.  x: (n) */
static void moments_add(double s1[8], double s2[8], const float *restrict x, int n, double K) {
    int i = 0;
#if defined(__AVX512F__) /* the loop below, lane l of one zmm (same operations, no FMA) */
    __m512d v1 = _mm512_loadu_pd(s1), v2 = _mm512_loadu_pd(s2);
    const __m512d vk = _mm512_set1_pd(K);
    for (; i + 8 <= n; i += 8) {
        const __m512d t = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i)), vk);
        v1 = _mm512_add_pd(v1, t);
        v2 = _mm512_add_pd(v2, _mm512_mul_pd(t, t));
    }
    _mm512_storeu_pd(s1, v1);
    _mm512_storeu_pd(s2, v2);
#elif defined(__AVX2__) /* the same, lanes 0-3 and 4-7 in two ymm */
    __m256d p1 = _mm256_loadu_pd(s1), q1 = _mm256_loadu_pd(s1 + 4);
    __m256d p2 = _mm256_loadu_pd(s2), q2 = _mm256_loadu_pd(s2 + 4);
    const __m256d vk = _mm256_set1_pd(K);
    for (; i + 8 <= n; i += 8) {
        const __m256d t0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i)), vk);
        const __m256d t1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i + 4)), vk);
        p1 = _mm256_add_pd(p1, t0), q1 = _mm256_add_pd(q1, t1);
        p2 = _mm256_add_pd(p2, _mm256_mul_pd(t0, t0)), q2 = _mm256_add_pd(q2, _mm256_mul_pd(t1, t1));
    }
    _mm256_storeu_pd(s1, p1), _mm256_storeu_pd(s1 + 4, q1);
    _mm256_storeu_pd(s2, p2), _mm256_storeu_pd(s2 + 4, q2);
#endif
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
#if defined(__AVX512F__) /* the loop below, lane l of one zmm (same operations, no FMA) */
    __m512d v1 = _mm512_loadu_pd(s1), v2 = _mm512_loadu_pd(s2);
    const __m512d vm = _mm512_set1_pd(mu);
    for (; i + 8 <= n; i += 8) {
        const __m512d d = _mm512_cvtps_pd(_mm256_loadu_ps(dy + i));
        v1 = _mm512_add_pd(v1, d);
        v2 = _mm512_add_pd(v2, _mm512_mul_pd(d, _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i)), vm)));
    }
    _mm512_storeu_pd(s1, v1);
    _mm512_storeu_pd(s2, v2);
#elif defined(__AVX2__) /* the same, lanes 0-3 and 4-7 in two ymm */
    __m256d p1 = _mm256_loadu_pd(s1), q1 = _mm256_loadu_pd(s1 + 4);
    __m256d p2 = _mm256_loadu_pd(s2), q2 = _mm256_loadu_pd(s2 + 4);
    const __m256d vm = _mm256_set1_pd(mu);
    for (; i + 8 <= n; i += 8) {
        const __m256d d0 = _mm256_cvtps_pd(_mm_loadu_ps(dy + i));
        const __m256d d1 = _mm256_cvtps_pd(_mm_loadu_ps(dy + i + 4));
        const __m256d x0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i)), vm);
        const __m256d x1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i + 4)), vm);
        p1 = _mm256_add_pd(p1, d0), q1 = _mm256_add_pd(q1, d1);
        p2 = _mm256_add_pd(p2, _mm256_mul_pd(d0, x0)), q2 = _mm256_add_pd(q2, _mm256_mul_pd(d1, x1));
    }
    _mm256_storeu_pd(s1, p1), _mm256_storeu_pd(s1 + 4, q1);
    _mm256_storeu_pd(s2, p2), _mm256_storeu_pd(s2 + 4, q2);
#endif
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

/* dx: (n) = A*dy + B*(x - mu) + D, in double as the accumulating loop in bn_backward */
static void dx_assign(float *restrict dx, const float *restrict dy, const float *restrict x,
                      int n, double A, double B, double D, double mu) {
#pragma omp simd
    for (int i = 0; i < n; i++) dx[i] = (float)(A * dy[i] + B * ((double)x[i] - mu) + D);
}

#if defined(__AVX512F__) || defined(__AVX2__)
/* Tensors of at least this many floats are written with non-temporal stores: they are
 * larger than the caches, read again only by the next layer, so the store skips the read
 * of the destination line (a third of the traffic of a y = f(x) pass). */
#define SN_BN_STREAM_MIN (1 << 20)
#define SN_BN_FENCE() _mm_sfence()

/* affine_stream / dx_assign_stream below: the same results as affine / dx_assign (same
 * operations, same order, no FMA contraction), with streaming stores (16 floats with
 * AVX-512, 8 with AVX2) from the first 64-byte boundary of dst on. */
static int head_to_line(const float *p, int n) {
    int h = (int)(((64u - ((uintptr_t)p & 63u)) & 63u) / sizeof(float));
    return h < n ? h : n;
}
#endif

#if defined(__AVX512F__)
static void affine_stream(float *restrict y, const float *restrict x, int n, float a, float b) {
    const int h = head_to_line(y, n);
    affine(y, x, h, a, b);
    const __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b);
    int i = h;
    for (; i + 16 <= n; i += 16)
        _mm512_stream_ps(y + i, _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), va), vb));
    affine(y + i, x + i, n - i, a, b);
}

static inline __m256 dx8(const float *dy, const float *x, __m512d A, __m512d B, __m512d D,
                         __m512d mu) {
    const __m512d d = _mm512_cvtps_pd(_mm256_loadu_ps(dy));
    const __m512d v = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x)), mu);
    const __m512d t = _mm512_add_pd(_mm512_mul_pd(A, d), _mm512_mul_pd(B, v));
    return _mm512_cvtpd_ps(_mm512_add_pd(t, D));
}

static void dx_assign_stream(float *restrict dx, const float *restrict dy, const float *restrict x,
                             int n, double A, double B, double D, double mu) {
    const int h = head_to_line(dx, n);
    dx_assign(dx, dy, x, h, A, B, D, mu);
    const __m512d vA = _mm512_set1_pd(A), vB = _mm512_set1_pd(B), vD = _mm512_set1_pd(D),
                  vm = _mm512_set1_pd(mu);
    int i = h;
    for (; i + 16 <= n; i += 16) {
        const __m256 lo = dx8(dy + i, x + i, vA, vB, vD, vm);
        const __m256 hi = dx8(dy + i + 8, x + i + 8, vA, vB, vD, vm);
        _mm512_stream_ps(dx + i, _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1));
    }
    dx_assign(dx + i, dy + i, x + i, n - i, A, B, D, mu);
}
#elif defined(__AVX2__)
static void affine_stream(float *restrict y, const float *restrict x, int n, float a, float b) {
    const int h = head_to_line(y, n);
    affine(y, x, h, a, b);
    const __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
    int i = h;
    for (; i + 8 <= n; i += 8)
        _mm256_stream_ps(y + i, _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), va), vb));
    affine(y + i, x + i, n - i, a, b);
}

static inline __m128 dx4(const float *dy, const float *x, __m256d A, __m256d B, __m256d D,
                         __m256d mu) {
    const __m256d d = _mm256_cvtps_pd(_mm_loadu_ps(dy));
    const __m256d v = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x)), mu);
    const __m256d t = _mm256_add_pd(_mm256_mul_pd(A, d), _mm256_mul_pd(B, v));
    return _mm256_cvtpd_ps(_mm256_add_pd(t, D));
}

static void dx_assign_stream(float *restrict dx, const float *restrict dy, const float *restrict x,
                             int n, double A, double B, double D, double mu) {
    const int h = head_to_line(dx, n);
    dx_assign(dx, dy, x, h, A, B, D, mu);
    const __m256d vA = _mm256_set1_pd(A), vB = _mm256_set1_pd(B), vD = _mm256_set1_pd(D),
                  vm = _mm256_set1_pd(mu);
    int i = h;
    for (; i + 8 <= n; i += 8) {
        const __m128 lo = dx4(dy + i, x + i, vA, vB, vD, vm);
        const __m128 hi = dx4(dy + i + 4, x + i + 4, vA, vB, vD, vm);
        _mm256_stream_ps(dx + i, _mm256_set_m128(hi, lo));
    }
    dx_assign(dx + i, dy + i, x + i, n - i, A, B, D, mu);
}
#else
#define SN_BN_STREAM_MIN ((size_t)-1)
#define affine_stream affine
#define dx_assign_stream dx_assign
#define SN_BN_FENCE() ((void)0)
#endif

/* Channel c from its moments s1 = sum(x - K), s2 = sum((x - K)^2) over cnt values:
 * mean, rstd, running statistics, and the affine y = x * (*a) + (*b). */
static void bn_stats_channel(float *mean, float *rstd, const float *gamma, const float *beta,
                             float *run_mean, float *run_var, float momentum, float eps, int c,
                             double K, double s1, double s2, double cnt, float *a, float *b) {
    const double d = s1 / cnt; /* mean - K */
    const double mu = K + d;
    double var = s2 / cnt - d * d; /* biased, used for normalisation */
    if (var < 0.0) var = 0.0;
    const double r = 1.0 / sqrt(var + (double)eps);
    mean[c] = (float)mu;
    rstd[c] = (float)r;
    *a = (float)(r * gamma[c]);
    *b = (float)(beta[c] - mu * r * gamma[c]);
    if (run_mean) run_mean[c] = (float)((1.0 - momentum) * run_mean[c] + momentum * mu);
    if (run_var) {
        /* unbiased for the running estimate; n == 1 (PyTorch refuses it) keeps biased */
        double unb = cnt > 1.0 ? var * cnt / (cnt - 1.0) : var;
        run_var[c] = (float)((1.0 - momentum) * run_var[c] + momentum * unb);
    }
}

/* Channel c from its moments: statistics (bn_stats_channel), then y. */
static void bn_finish_channel(float *y, float *mean, float *rstd, const float *x,
                              const float *gamma, const float *beta, float *run_mean,
                              float *run_var, int N, int C, int S, float momentum, float eps,
                              int c, double K, double s1, double s2, double cnt, int stream) {
    float a, b;
    bn_stats_channel(mean, rstd, gamma, beta, run_mean, run_var, momentum, eps, c, K, s1, s2,
                     cnt, &a, &b);
    for (int n = 0; n < N; n++)
        (stream ? affine_stream : affine)(y + BN_AT(n, c, 0), x + BN_AT(n, c, 0), S, a, b);
    if (stream) SN_BN_FENCE(); /* this thread's streaming stores, before the barrier */
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
    const int stream = (size_t)N * C * S >= (size_t)SN_BN_STREAM_MIN;
#pragma omp parallel for num_threads(nt) schedule(static) if (par)
    for (int c = 0; c < C; c++) {
        const double K = x[BN_AT(0, c, 0)];
        double a1[8] = {0}, a2[8] = {0};
        for (int n = 0; n < N; n++) moments_add(a1, a2, x + BN_AT(n, c, 0), S, K);
        bn_finish_channel(y, mean, rstd, x, gamma, beta, run_mean, run_var, N, C, S, momentum,
                          eps, c, K, sum8(a1), sum8(a2), cnt, stream);
    }
}

/* y: (N,C,S)  x: (N,C,S)  gamma, beta, run_mean, run_var: (C) */
void sn_batchnorm_forward_eval_f32(float *y, const float *x, const float *gamma,
                                   const float *beta, const float *run_mean,
                                   const float *run_var, int N, int C, int S, float eps, int nt) {
    SN_ASSERT(nt >= 1 && N >= 1 && C >= 1 && S >= 1);
    const int par = (double)N * S * C >= SN_BN_PAR_MIN;
    const int stream = (size_t)N * C * S >= (size_t)SN_BN_STREAM_MIN;
#pragma omp parallel for num_threads(nt) schedule(static) if (par)
    for (int c = 0; c < C; c++) {
        const double r = 1.0 / sqrt((double)run_var[c] + (double)eps);
        const float a = (float)(r * gamma[c]);
        const float b = (float)(beta[c] - (double)run_mean[c] * r * gamma[c]);
        for (int n = 0; n < N; n++)
            (stream ? affine_stream : affine)(y + BN_AT(n, c, 0), x + BN_AT(n, c, 0), S, a, b);
        if (stream) SN_BN_FENCE();
    }
}

/* dx of channel c: A*dy + B*(x - mu) + D, assigned (set) or accumulated. */
static void bn_dx_channel(float *dx, const float *dy, const float *x, int N, int C, int S, int c,
                          double A, double B, double D, double mu, int set, int stream) {
    for (int n = 0; n < N; n++) {
        float *restrict dxs = dx + BN_AT(n, c, 0);
        const float *restrict dys = dy + BN_AT(n, c, 0), *restrict xs = x + BN_AT(n, c, 0);
        if (set) {
            (stream ? dx_assign_stream : dx_assign)(dxs, dys, xs, S, A, B, D, mu);
        } else {
#pragma omp simd
            for (int i = 0; i < S; i++)
                dxs[i] += (float)(A * dys[i] + B * ((double)xs[i] - mu) + D);
        }
    }
    if (stream) SN_BN_FENCE();
}

/* The coefficients of every batch norm backward: dx = A*dy + B*(x - mean) + D from
 * sdy = sum(dy) and sdyx = sum(dy*xhat) over the channel's cnt positions (see bn_backward). */
static inline void bn_dx_coeffs(double gamma, double r, double cnt, double sdy, double sdyx,
                                double *A, double *B, double *D) {
    const double k = gamma * r / cnt;
    *A = k * cnt;
    *B = -k * r * sdyx;
    *D = -k * sdy;
}

/* dx: (N,C,S) or NULL  dgamma, dbeta: (C) or NULL  dy, x: (N,C,S)  mean, rstd, gamma: (C)
 * dx = gamma*rstd/n * (n*dy - sum(dy) - xhat*sum(dy*xhat)); accumulated, or assigned
 * when set (dgamma, dbeta always accumulate).
 * With sdyx = sum(dy*xhat) = rstd * sum(dy*(x - mean)) and k = gamma*rstd/n this is
 * dx = A*dy + B*(x - mean) + D, A = k*n, B = -k*rstd*sdyx, D = -k*sum(dy), in double. */
static void bn_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                        const float *mean, const float *rstd, const float *gamma, int N, int C,
                        int S, int nt, int set) {
    SN_ASSERT(nt >= 1 && N >= 1 && C >= 1 && S >= 1);
    const double cnt = (double)N * S;
    const int par = cnt * C >= SN_BN_PAR_MIN;
    const int stream = set && (size_t)N * C * S >= (size_t)SN_BN_STREAM_MIN;
#pragma omp parallel for num_threads(nt) schedule(static) if (par)
    for (int c = 0; c < C; c++) {
        const double mu = mean[c], r = rstd[c];
        double a1[8] = {0}, a2[8] = {0};
        for (int n = 0; n < N; n++) dot_add(a1, a2, dy + BN_AT(n, c, 0), x + BN_AT(n, c, 0), S, mu);
        const double sdy = sum8(a1), sdyx = sum8(a2) * r;
        if (dgamma) dgamma[c] += (float)sdyx;
        if (dbeta) dbeta[c] += (float)sdy;
        if (!dx) continue;
        double A, B, D;
        bn_dx_coeffs(gamma[c], r, cnt, sdy, sdyx, &A, &B, &D);
        bn_dx_channel(dx, dy, x, N, C, S, c, A, B, D, mu, set, stream);
    }
}

void sn_batchnorm_backward_f32(float *dx, float *dgamma, float *dbeta, const float *dy,
                               const float *x, const float *mean, const float *rstd,
                               const float *gamma, int N, int C, int S, int nt) {
    bn_backward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, N, C, S, nt, 0);
}

void sn_batchnorm_backward_set_f32(float *dx, float *dgamma, float *dbeta, const float *dy,
                                   const float *x, const float *mean, const float *rstd,
                                   const float *gamma, int N, int C, int S, int nt) {
    bn_backward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, N, C, S, nt, 1);
}

/* ------------------------------------------------------ synchronized (kernels.h) */
/* The arithmetic above in two parallel passes around sync->sum: partial sums of every
 * channel into sync->buf, one reduction over the replicas, then the finishing pass with
 * the global sums and count. The moments' shift is the running mean, which (unlike the
 * local first value) every replica holds identically. */
void sn_batchnorm_forward_train_sync_f32(float *y, float *mean, float *rstd, const float *x,
                                         const float *gamma, const float *beta, float *run_mean,
                                         float *run_var, int N, int C, int S, float momentum,
                                         float eps, int nt, const sn_bn_sync *sync) {
    if (!sync) {
        sn_batchnorm_forward_train_f32(y, mean, rstd, x, gamma, beta, run_mean, run_var, N, C, S,
                                       momentum, eps, nt);
        return;
    }
    SN_ASSERT(nt >= 1 && N >= 1 && C >= 1 && S >= 1);
    SN_ASSERT(sync->sum && sync->buf && sync->cap >= 2 * C + 1);
    double *s = sync->buf; /* (2C+1): sum(x - K) (C), sum((x - K)^2) (C), count */
    const int par = (double)N * S * C >= SN_BN_PAR_MIN;
    const int stream = (size_t)N * C * S >= (size_t)SN_BN_STREAM_MIN;
#pragma omp parallel for num_threads(nt) schedule(static) if (par)
    for (int c = 0; c < C; c++) {
        const double K = run_mean ? run_mean[c] : 0.0;
        double a1[8] = {0}, a2[8] = {0};
        for (int n = 0; n < N; n++) moments_add(a1, a2, x + BN_AT(n, c, 0), S, K);
        s[c] = sum8(a1);
        s[C + c] = sum8(a2);
    }
    s[2 * C] = (double)N * S;
    (void)sync->sum(sync->ctx, s, 2 * C + 1); /* on failure s is unchanged: local statistics */
    const double cnt = s[2 * C];
#pragma omp parallel for num_threads(nt) schedule(static) if (par)
    for (int c = 0; c < C; c++) {
        const double K = run_mean ? run_mean[c] : 0.0;
        bn_finish_channel(y, mean, rstd, x, gamma, beta, run_mean, run_var, N, C, S, momentum,
                          eps, c, K, s[c], s[C + c], cnt, stream);
    }
}

void sn_batchnorm_backward_sync_f32(float *dx, float *dgamma, float *dbeta, const float *dy,
                                    const float *x, const float *mean, const float *rstd,
                                    const float *gamma, int N, int C, int S, int nt, int set,
                                    const sn_bn_sync *sync) {
    if (!sync) {
        bn_backward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, N, C, S, nt, set);
        return;
    }
    SN_ASSERT(nt >= 1 && N >= 1 && C >= 1 && S >= 1);
    SN_ASSERT(sync->sum && sync->buf && sync->cap >= 2 * C + 1);
    double *s = sync->buf; /* (2C+1): sum(dy) (C), sum(dy*(x - mean)) (C), count */
    const int par = (double)N * S * C >= SN_BN_PAR_MIN;
    const int stream = set && (size_t)N * C * S >= (size_t)SN_BN_STREAM_MIN;
#pragma omp parallel for num_threads(nt) schedule(static) if (par)
    for (int c = 0; c < C; c++) {
        double a1[8] = {0}, a2[8] = {0};
        for (int n = 0; n < N; n++)
            dot_add(a1, a2, dy + BN_AT(n, c, 0), x + BN_AT(n, c, 0), S, (double)mean[c]);
        s[c] = sum8(a1);
        s[C + c] = sum8(a2);
        if (dgamma) dgamma[c] += (float)(s[C + c] * rstd[c]); /* local: the slab all-reduce */
        if (dbeta) dbeta[c] += (float)s[c];                    /* adds the ranks' */
    }
    if (!dx) return; /* the same on every replica: none calls sum() */
    s[2 * C] = (double)N * S;
    (void)sync->sum(sync->ctx, s, 2 * C + 1);
    const double cnt = s[2 * C];
#pragma omp parallel for num_threads(nt) schedule(static) if (par)
    for (int c = 0; c < C; c++) {
        const double mu = mean[c], r = rstd[c];
        double A, B, D;
        bn_dx_coeffs(gamma[c], r, cnt, s[c], s[C + c] * r, &A, &B, &D);
        bn_dx_channel(dx, dy, x, N, C, S, c, A, B, D, mu, set, stream);
    }
}

/* ------------------------------------- batch norm 2d + 2x2 stride-2 max pool (fused) */
/* The pair conv -> bn -> maxpool 2 (the seed net) costs four passes over the BN-sized
 * tensor forward and five backward, all memory-bound. Fused, the BN output is never
 * written: the pool reads x, applies y = x * a + b per tap (the same float operations
 * as affine) and keeps the maximum, so y and argmax are bit-identical to the two layers
 * run apart. It also keeps x at the argmax (xsel), from which the backward takes
 * sum(dy) and sum(dy * (x - mean)) over the pooled grid only (the other positions have
 * dy = 0 and add nothing), then assigns dx = A*dy + B*(x - mean) + D with dy = 0 except
 * at the argmax, as bn_backward does. Only the order of the two double sums differs
 * from the unfused pair (lanes by pooled index instead of by plane index).
 * With a relu between (bn -> relu -> maxpool, e.g. seed-relu): max and relu commute
 * (relu is monotone, NaN propagates through both), so y = relu(max) is the same value;
 * where the max is <= 0 the argmax may differ from the unfused one (the first of the
 * relu's tied zeros), but the gradient there is 0 in both (relu passes dy only where
 * its output > 0, i.e. where the pooled output > 0). */


void sn_bn_maxpool2_forward_train_f32(float *y, int32_t *argmax, float *xsel, float *mean,
                                      float *rstd, const float *x, const float *gamma,
                                      const float *beta, float *run_mean, float *run_var, int N,
                                      int C, int H, int W, float momentum, float eps, int relu,
                                      int nt) {
    SN_ASSERT(nt >= 1 && N >= 1 && C >= 1 && H >= 2 && W >= 2);
    const int S = H * W, OH = H / 2, OW = W / 2;
    const double cnt = (double)N * S;
    const int par = cnt * C >= SN_BN_PAR_MIN;
#pragma omp parallel for num_threads(nt) schedule(static) if (par)
    for (int c = 0; c < C; c++) {
        const double K = x[BN_AT(0, c, 0)];
        double a1[8] = {0}, a2[8] = {0};
        for (int n = 0; n < N; n++) moments_add(a1, a2, x + BN_AT(n, c, 0), S, K);
        float a, b;
        bn_stats_channel(mean, rstd, gamma, beta, run_mean, run_var, momentum, eps, c, K,
                         sum8(a1), sum8(a2), cnt, &a, &b);
        for (int n = 0; n < N; n++) {
            const float *xp = x + BN_AT(n, c, 0);
            const size_t p = (size_t)n * C + (size_t)c;
            for (int oh = 0; oh < OH; oh++) {
                const size_t o = (p * OH + oh) * OW;
                const float *r0 = xp + (size_t)2 * oh * W;
                sn_maxpool2_row(y + o, argmax + o, xsel + o, r0, r0 + W, (int32_t)(2 * oh * W), W,
                                OW, 1, 1, a, b);
                if (relu) sn_relu_forward_f32(y + o, y + o, (size_t)OW);
            }
        }
    }
}

void sn_bn_maxpool2_backward_set_f32(float *dx, float *dgamma, float *dbeta, const float *dy,
                                     const int32_t *argmax, const float *xsel, const float *x,
                                     const float *mean, const float *rstd, const float *gamma,
                                     const float *ypool, float *dym, int N, int C, int H, int W,
                                     int nt) {
    SN_ASSERT(nt >= 1 && N >= 1 && C >= 1 && H >= 2 && W >= 2 && (!ypool || dym));
    const int S = H * W, Q = (H / 2) * (W / 2);
    const double cnt = (double)N * S;
    const int par = cnt * C >= SN_BN_PAR_MIN;
#pragma omp parallel for num_threads(nt) schedule(static) if (par)
    for (int c = 0; c < C; c++) {
        const double mu = mean[c], r = rstd[c];
        double a1[8] = {0}, a2[8] = {0};
        for (int n = 0; n < N; n++) {
            const size_t p = (size_t)n * C + (size_t)c;
            if (ypool) { /* relu between: its gradient passes where the pooled output > 0 */
                float *restrict dm = dym + p * Q;
                const float *restrict yp = ypool + p * Q, *restrict dp = dy + p * Q;
#pragma omp simd
                for (int q = 0; q < Q; q++) dm[q] = yp[q] > 0.0f ? dp[q] : 0.0f;
            }
            dot_add(a1, a2, (ypool ? dym : dy) + p * Q, xsel + p * Q, Q, mu);
        }
        const double sdy = sum8(a1), sdyx = sum8(a2) * r;
        if (dgamma) dgamma[c] += (float)sdyx;
        if (dbeta) dbeta[c] += (float)sdy;
        if (!dx) continue;
        double A, B, D;
        bn_dx_coeffs(gamma[c], r, cnt, sdy, sdyx, &A, &B, &D);
        for (int n = 0; n < N; n++) {
            const size_t p = (size_t)n * C + (size_t)c;
            float *restrict dxs = dx + BN_AT(n, c, 0);
            const float *restrict xs = x + BN_AT(n, c, 0), *restrict dyp = (ypool ? dym : dy) + p * Q;
            const int32_t *ap = argmax + p * Q;
            /* dy = 0 here: A*0 + B*(x - mu) + D = B*(x - mu) + D exactly */
#pragma omp simd
            for (int i = 0; i < S; i++) dxs[i] = (float)(B * ((double)xs[i] - mu) + D);
            for (int q = 0; q < Q; q++) {
                const int32_t i = ap[q];
                dxs[i] = (float)(A * dyp[q] + B * ((double)xs[i] - mu) + D);
            }
        }
    }
}
