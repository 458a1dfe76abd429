/* setdist.c -- Frechet distance of Gaussian fits and unbiased RBF MMD^2 between two
 * embedding sets; formulas, subsampling and memory in setdist.h. */
#include "eval/setdist.h"

#include "core/core.h"
#include "kernels/kernels.h"
#include "kernels/linalg.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

static sn_status check_sets(sn_ctx *ctx, const float *a, int na, const float *b, int nb, int d) {
    if (d < 1) return sn_errf(ctx, SN_ERR_ARG, "setdist: dimension %d (expected >= 1)", d);
    if (na < 2 || nb < 2)
        return sn_errf(ctx, SN_ERR_ARG, "setdist: set %s has %d embedding(s); at least 2 are needed",
                       na < 2 ? "A" : "B", na < 2 ? na : nb);
    for (int s = 0; s < 2; s++) {
        const float *x = s ? b : a;
        size_t n = (size_t)(s ? nb : na) * (size_t)d;
        for (size_t i = 0; i < n; i++)
            if (!isfinite(x[i]))
                return sn_errf(ctx, SN_ERR_NUMERIC, "setdist: set %s: non-finite value in row %zu, "
                               "column %zu", s ? "B" : "A", i / (size_t)d, i % (size_t)d);
    }
    return SN_OK;
}

/* mu: (d); cov: (d, d) unbiased sample covariance of x: (n, d). */
static sn_status mean_cov(sn_ctx *ctx, const float *x, int n, int d, double *mu, double *cov) {
    enum { CHUNK = 512 };
    memset(mu, 0, sizeof(double) * (size_t)d);
    memset(cov, 0, sizeof(double) * (size_t)d * (size_t)d);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < d; k++) mu[k] += x[(size_t)i * (size_t)d + (size_t)k];
    for (int k = 0; k < d; k++) mu[k] /= n;
    double *xc = malloc(sizeof(double) * CHUNK * (size_t)d);
    if (!xc) return sn_errf(ctx, SN_ERR_NOMEM, "setdist: out of memory (covariance, d = %d)", d);
    for (int i0 = 0; i0 < n; i0 += CHUNK) {
        int r = n - i0 < CHUNK ? n - i0 : CHUNK;
        for (int i = 0; i < r; i++)
            for (int k = 0; k < d; k++)
                xc[(size_t)i * (size_t)d + (size_t)k] =
                    (double)x[(size_t)(i0 + i) * (size_t)d + (size_t)k] - mu[k];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, r, 1.0, xc, d, 1.0, cov, d);
    }
    free(xc);
    for (int i = 0; i < d; i++)
        for (int j = i; j < d; j++) {
            double v = cov[(size_t)i * (size_t)d + (size_t)j] / (n - 1);
            cov[(size_t)i * (size_t)d + (size_t)j] = cov[(size_t)j * (size_t)d + (size_t)i] = v;
        }
    return SN_OK;
}

sn_status sn_setdist_frechet(sn_ctx *ctx, const float *a, int na, const float *b, int nb, int d,
                             double *fd) {
    *fd = NAN;
    sn_status st = check_sets(ctx, a, na, b, nb, d);
    if (st) return st;
    sn_gemm_init();
    size_t dd = (size_t)d * (size_t)d;
    double *mu_a = malloc(sizeof(double) * (size_t)d * 3), *mu_b = mu_a ? mu_a + d : NULL;
    double *w = mu_a ? mu_a + 2 * (size_t)d : NULL;
    double *sa = malloc(sizeof(double) * dd), *sb = malloc(sizeof(double) * dd);
    double *t = malloc(sizeof(double) * dd), *u = malloc(sizeof(double) * dd);
    if (!mu_a || !sa || !sb || !t || !u) {
        st = sn_errf(ctx, SN_ERR_NOMEM, "setdist: out of memory (Frechet distance, d = %d)", d);
        goto done;
    }
    if ((st = mean_cov(ctx, a, na, d, mu_a, sa)) || (st = mean_cov(ctx, b, nb, d, mu_b, sb)))
        goto done;
    double mean_term = 0, tr = 0;
    for (int k = 0; k < d; k++) {
        mean_term += (mu_a[k] - mu_b[k]) * (mu_a[k] - mu_b[k]);
        tr += sa[(size_t)k * (size_t)d + (size_t)k] + sb[(size_t)k * (size_t)d + (size_t)k];
    }
    /* S_a = V diag(w) V^T  ->  S_a^{1/2} = B^T B with row k of B = w_k^{1/4} v_k */
    if ((st = sn_eig_sym(ctx, sa, d, w, 1, "setdist"))) goto done;
    for (int k = 0; k < d; k++) {
        double s = w[k] > 0 ? sqrt(sqrt(w[k])) : 0;
        for (int i = 0; i < d; i++) sa[(size_t)k * (size_t)d + (size_t)i] *= s;
    }
    memset(t, 0, sizeof(double) * dd);
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, d, 1.0, sa, d, 0.0, t, d);
    for (size_t i = 0; i < (size_t)d; i++)
        for (size_t j = 0; j < i; j++) t[i * (size_t)d + j] = t[j * (size_t)d + i];
    /* M = S_a^{1/2} S_b S_a^{1/2}, symmetrised against rounding */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, t, d, sb, d, 0.0, u, d);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, u, d, t, d, 0.0, sa, d);
    for (size_t i = 0; i < (size_t)d; i++)
        for (size_t j = 0; j < i; j++) {
            double v = 0.5 * (sa[i * (size_t)d + j] + sa[j * (size_t)d + i]);
            sa[i * (size_t)d + j] = sa[j * (size_t)d + i] = v;
        }
    if ((st = sn_eig_sym(ctx, sa, d, w, 0, "setdist"))) goto done;
    double tr_sqrt = 0;
    for (int k = 0; k < d; k++) tr_sqrt += w[k] > 0 ? sqrt(w[k]) : 0;
    double v = mean_term + tr - 2 * tr_sqrt;
    *fd = v > 0 ? v : 0;
done:
    free(mu_a);
    free(sa);
    free(sb);
    free(t);
    free(u);
    return st;
}

/* ---------------------------------------------------------------------- MMD */
static int cmp_int(const void *x, const void *y) {
    int a = *(const int *)x, b = *(const int *)y;
    return (a > b) - (a < b);
}

/* idx: (n) on entry scratch; on return its first *m entries are the chosen rows, ascending. */
static void subsample(int *idx, int n, int max, uint64_t seed, uint64_t stream, int *m) {
    for (int i = 0; i < n; i++) idx[i] = i;
    if (n <= max) {
        *m = n;
        return;
    }
    sn_rng r;
    sn_rng_seed(&r, seed, stream);
    for (int i = 0; i < max; i++) { /* partial Fisher-Yates */
        int j = i + (int)sn_rng_below(&r, (uint32_t)(n - i));
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    qsort(idx, (size_t)max, sizeof(int), cmp_int);
    *m = max;
}

/* k-th smallest of v (n > k), partially reordering v so that v[k+1..] >= v[k]. */
static float select_kth(float *v, long long n, long long k) {
    long long lo = 0, hi = n - 1;
    while (lo < hi) {
        float x = v[lo], y = v[lo + (hi - lo) / 2], z = v[hi];
        float piv = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        long long i = lo, j = hi;
        while (i <= j) {
            while (v[i] < piv) i++;
            while (v[j] > piv) j--;
            if (i <= j) {
                float tmp = v[i];
                v[i++] = v[j];
                v[j--] = tmp;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return v[k];
    }
    return v[k];
}

static double sqdist(const double *x, const double *y, int d) {
    double s = 0;
    for (int k = 0; k < d; k++) s += (x[k] - y[k]) * (x[k] - y[k]);
    return s;
}

sn_status sn_setdist_mmd(sn_ctx *ctx, const float *a, int na, const float *b, int nb, int d,
                         int max_per_set, uint64_t seed, sn_mmd_result *out) {
    memset(out, 0, sizeof *out);
    out->mmd2 = out->bandwidth = NAN;
    sn_status st = check_sets(ctx, a, na, b, nb, d);
    if (st) return st;
    if (max_per_set < 2)
        return sn_errf(ctx, SN_ERR_ARG, "setdist: MMD subsample size %d (expected >= 2)", max_per_set);
    int m, n, nt = sn_ctx_threads(ctx);
    int *idx = malloc(sizeof(int) * (size_t)(na > nb ? na : nb));
    if (!idx) return sn_errf(ctx, SN_ERR_NOMEM, "setdist: out of memory");
    subsample(idx, na, max_per_set, seed, 1, &m);
    long long P = m; /* pooled rows: A's chosen rows, then B's */
    P += max_per_set < nb ? max_per_set : nb;
    if (P > (1 << 21)) {
        free(idx);
        return sn_errf(ctx, SN_ERR_ARG, "setdist: MMD on %lld points would need %lld pairwise "
                       "distances; use a subsample of at most 1,000,000 per set", P, P * (P - 1) / 2);
    }
    size_t npairs = (size_t)(P * (P - 1) / 2);
    double *x = sn_calloc((size_t)P * (size_t)d, sizeof(double));
    double *rows = sn_calloc((size_t)P * 3, sizeof(double));
    float *dist = sn_calloc(npairs, sizeof(float));
    if (!x || !rows || !dist) {
        st = sn_errf(ctx, SN_ERR_NOMEM, "setdist: out of memory for MMD on %lld points (%zu MB); "
                     "use a smaller subsample", P, npairs * 4 >> 20);
        goto done;
    }
    for (int i = 0; i < m; i++)
        for (int k = 0; k < d; k++)
            x[(size_t)i * (size_t)d + (size_t)k] = a[(size_t)idx[i] * (size_t)d + (size_t)k];
    subsample(idx, nb, max_per_set, seed, 2, &n);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < d; k++)
            x[(size_t)(m + i) * (size_t)d + (size_t)k] = b[(size_t)idx[i] * (size_t)d + (size_t)k];

    /* pass 1: pooled squared distances, row i's pairs (i, j > i) at offset i(2P-i-1)/2 */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 16)
    for (long long i = 0; i < P; i++) {
        float *row = dist + (size_t)(i * (2 * P - i - 1) / 2);
        for (long long j = i + 1; j < P; j++)
            row[j - i - 1] = (float)sqdist(x + (size_t)i * (size_t)d, x + (size_t)j * (size_t)d, d);
    }
    long long half = (long long)npairs / 2;
    double med;
    if (npairs % 2) {
        med = sqrt(select_kth(dist, (long long)npairs, half));
    } else {
        float lo = select_kth(dist, (long long)npairs, half - 1), hi = dist[half];
        for (size_t p = (size_t)half + 1; p < npairs; p++) hi = dist[p] < hi ? dist[p] : hi;
        med = 0.5 * (sqrt(lo) + sqrt(hi));
    }
    double sigma = med > 0 ? med : 1.0, g = 1.0 / (2 * sigma * sigma);

    /* pass 2: kernel sums per row (xx, yy, xy), added in row order */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 16)
    for (long long i = 0; i < P; i++) {
        double s[3] = {0, 0, 0};
        for (long long j = i + 1; j < P; j++) {
            double kv = exp(-g * sqdist(x + (size_t)i * (size_t)d, x + (size_t)j * (size_t)d, d));
            s[i < m ? (j < m ? 0 : 2) : 1] += kv;
        }
        memcpy(rows + 3 * (size_t)i, s, sizeof s);
    }
    double kxx = 0, kyy = 0, kxy = 0;
    for (long long i = 0; i < P; i++) {
        kxx += rows[3 * i];
        kyy += rows[3 * i + 1];
        kxy += rows[3 * i + 2];
    }
    /* each unordered pair counted once: sum_{i != j} = 2 * sum_{i < j} */
    out->mmd2 = 2 * kxx / ((double)m * (m - 1)) + 2 * kyy / ((double)n * (n - 1)) -
                2 * kxy / ((double)m * n);
    out->bandwidth = sigma;
    out->n_a = m;
    out->n_b = n;
done:
    free(idx);
    free(x);
    free(rows);
    free(dist);
    return st;
}
