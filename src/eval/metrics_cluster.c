/* metrics_cluster.c -- NMI / AMI of two labelings and k-means clustering quality.
 *
 * NMI / AMI follow sklearn.metrics (normalized_ / adjusted_mutual_info_score, arithmetic
 * normalisation) formula by formula, in the same summation order, so results agree to
 * rounding. The contingency table is kept sparse: both labelings are mapped to dense ids
 * 0..ka-1 / 0..kb-1 (ascending label order, as np.unique) and the non-zero cells come
 * from one sort of (row << 32 | col) keys. The expected mutual information uses a table
 * lf[m] = lgamma(m + 1), m = 0..n, so its inner loop has no lgamma call.
 *
 * k-means: see metrics.h. Squared distances for the assignment come from one GEMM per
 * tile of SN_METRIC_TILE points, -2 X C^T, plus ||c||^2 (||x||^2 does not change the
 * argmin). The tiles do not depend on nt and every point is decided on its own, so the
 * assignment is identical for every thread count. */
#include "eval/metrics.h"

#include "core/core.h"
#include "kernels/kernels.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#define SN_KMEANS_MAX_ITER 100

/* Dense ids of labels (ascending label order). id: (n). tmp: (n) scratch.
 * cnt: (n), cnt[c] = size of cluster c. Returns the number of clusters. */
static int sn__dense_ids(int32_t *id, long *cnt, const int32_t *lab, int n, uint64_t *tmp) {
    for (int i = 0; i < n; i++)
        tmp[i] = ((uint64_t)((uint32_t)lab[i] ^ 0x80000000u) << 32) | (uint32_t)i;
    sn_metric_sort_u64(tmp, (size_t)n);
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (i == 0 || (tmp[i] >> 32) != (tmp[i - 1] >> 32)) cnt[k++] = 0;
        id[(uint32_t)tmp[i]] = k - 1;
        cnt[k - 1]++;
    }
    return k;
}

/* sklearn entropy(): -sum (c/n) (log c - log n); 0 for one cluster. */
static double sn__entropy(const long *cnt, int k, int n) {
    if (k == 1) return 0.0;
    double s = 0.0, ln = log((double)n);
    for (int i = 0; i < k; i++) s += ((double)cnt[i] / n) * (log((double)cnt[i]) - ln);
    return -s;
}

/* Expected mutual information (Vinh et al. 2010, eq. 24a), summed as sklearn's
 * expected_mutual_information: rows i, columns j, n_ij ascending. lf: (n + 1). */
static double sn__emi(const long *a, int ka, const long *b, int kb, int n, const double *lf) {
    if (ka == 1 || kb == 1) return 0.0;
    double N = (double)n, emi = 0.0, lgN = log(N);
    for (int i = 0; i < ka; i++) {
        long ai = a[i];
        double log_a = log((double)ai);
        for (int j = 0; j < kb; j++) {
            long bj = b[j];
            double log_b = log((double)bj);
            double gab = lf[ai] + lf[bj] + lf[n - ai] + lf[n - bj];
            long start = ai - n + bj > 1 ? ai - n + bj : 1, end = (ai < bj ? ai : bj) + 1;
            for (long nij = start; nij < end; nij++) {
                double term2 = (lgN + log((double)nij)) - log_a - log_b;
                double gln = gab - (lf[nij] + lf[n]) - lf[ai - nij] - lf[bj - nij] -
                             lf[n - ai - bj + nij];
                emi += ((double)nij / N) * term2 * exp(gln);
            }
        }
    }
    return emi;
}

sn_status sn_metric_nmi_ami(const int32_t *a, const int32_t *b, int n, double *nmi,
                            double *ami) {
    if (nmi) *nmi = NAN;
    if (ami) *ami = NAN;
    if (!a || !b || n < 1) return SN_ERR_ARG;
    int32_t *ia = sn_calloc((size_t)n, sizeof *ia), *ib = sn_calloc((size_t)n, sizeof *ib);
    long *ca = sn_calloc((size_t)n, sizeof *ca), *cb = sn_calloc((size_t)n, sizeof *cb);
    uint64_t *tmp = sn_calloc((size_t)n, sizeof *tmp);
    double *lf = sn_calloc((size_t)n + 1, sizeof *lf);
    sn_status st = SN_OK;
    if (!ia || !ib || !ca || !cb || !tmp || !lf) {
        st = SN_ERR_NOMEM;
        goto done;
    }
    int ka = sn__dense_ids(ia, ca, a, n, tmp), kb = sn__dense_ids(ib, cb, b, n, tmp);
    if (ka == 1 && kb == 1) { /* both unsplit: a perfect match */
        if (nmi) *nmi = 1.0;
        if (ami) *ami = 1.0;
        goto done;
    }
    /* MI over the non-zero cells, in (row, column) order as scipy.sparse.find on CSR */
    double mi = 0.0;
    if (ka > 1 && kb > 1) {
        for (int i = 0; i < n; i++) tmp[i] = ((uint64_t)ia[i] << 32) | (uint32_t)ib[i];
        sn_metric_sort_u64(tmp, (size_t)n);
        double N = (double)n, lN = log(N);
        for (int s = 0; s < n;) {
            int e = s + 1;
            while (e < n && tmp[e] == tmp[s]) e++;
            double nij = (double)(e - s), cnm = nij / N;
            double outer = (double)(ca[tmp[s] >> 32] * cb[(uint32_t)tmp[s]]);
            double log_outer = -log(outer) + lN + lN;
            double t = cnm * (log(nij) - lN) + cnm * log_outer;
            if (fabs(t) >= DBL_EPSILON) mi += t;
            s = e;
        }
        if (mi < 0.0) mi = 0.0;
    }
    double ha = sn__entropy(ca, ka, n), hb = sn__entropy(cb, kb, n);
    double norm = (ha + hb) / 2.0;
    if (nmi) *nmi = mi == 0.0 ? 0.0 : mi / norm;
    if (ami) {
        for (int m = 0; m <= n; m++) lf[m] = lgamma((double)m + 1.0);
        double emi = sn__emi(ca, ka, cb, kb, n, lf);
        double den = norm - emi;
        den = den < 0.0 ? fmin(den, -DBL_EPSILON) : fmax(den, DBL_EPSILON);
        *ami = (mi - emi) / den;
    }
done:
    free(ia);
    free(ib);
    free(ca);
    free(cb);
    free(tmp);
    free(lf);
    return st;
}

/* Uniform double in [0, 1) with 53 random bits. */
static double sn__uniform53(sn_rng *r) {
    uint64_t hi = sn_rng_u32(r) >> 5, lo = sn_rng_u32(r) >> 6; /* 27 + 26 bits */
    return ((double)hi * 67108864.0 + (double)lo) / 9007199254740992.0;
}

/* d2[i] = min(d2[i], ||x_i - c||^2) in double. */
static void sn__update_d2(double *d2, const float *x, int n, int dim, const float *c, int nt) {
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * dim;
        double s = 0.0;
        for (int j = 0; j < dim; j++) {
            double t = (double)xi[j] - (double)c[j];
            s += t * t;
        }
        if (s < d2[i]) d2[i] = s;
    }
}

/* k-means++ seeding into C (k, dim). d2: (n) scratch. */
static void sn__kmeanspp(float *C, const float *x, int n, int dim, int k, uint64_t seed,
                         double *d2, int nt) {
    sn_rng rng;
    sn_rng_seed(&rng, seed, 0x6b6d65616e73ull); /* stream "kmeans" */
    int pick = (int)sn_rng_below(&rng, (uint32_t)n);
    for (int i = 0; i < n; i++) d2[i] = INFINITY;
    for (int c = 0; c < k; c++) {
        if (c > 0) {
            double total = 0.0;
            for (int i = 0; i < n; i++) total += d2[i];
            if (total > 0.0) {
                double u = sn__uniform53(&rng) * total, acc = 0.0;
                pick = -1;
                for (int i = 0; i < n && pick < 0; i++) {
                    acc += d2[i];
                    if (d2[i] > 0.0 && acc > u) pick = i;
                }
                for (int i = n - 1; pick < 0; i--) /* rounding: the last positive one */
                    if (d2[i] > 0.0) pick = i;
            } else {
                pick = (int)sn_rng_below(&rng, (uint32_t)n);
            }
        }
        memcpy(C + (size_t)c * dim, x + (size_t)pick * dim, sizeof(float) * (size_t)dim);
        sn__update_d2(d2, x, n, dim, C + (size_t)c * dim, nt);
    }
}

/* Nearest centre of every point; returns the number of changed assignments.
 * cn: (k) squared centre norms. T: (nt, tile, k) scratch. */
static long sn__assign(int32_t *asg, const float *x, int n, int dim, const float *C,
                       const float *cn, int k, float *T, int tile, int nt) {
    long changed = 0;
    int ntiles = (n + tile - 1) / tile;
#pragma omp parallel num_threads(nt) reduction(+ : changed)
    {
        float *Tt = T + (size_t)omp_get_thread_num() * tile * k;
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < ntiles; t++) {
            int i0 = t * tile, m = n - i0 < tile ? n - i0 : tile;
            sn_gemm_f32(0, 1, m, k, dim, -2.0f, x + (size_t)i0 * dim, dim, C, dim, 0.0f, Tt,
                        k);
            for (int i = 0; i < m; i++) {
                const float *row = Tt + (size_t)i * k;
                int best = 0;
                float bd = cn[0] + row[0];
                for (int c = 1; c < k; c++) {
                    float d = cn[c] + row[c];
                    if (d < bd) {
                        bd = d;
                        best = c;
                    }
                }
                changed += asg[i0 + i] != best;
                asg[i0 + i] = best;
            }
        }
    }
    return changed;
}

sn_status sn_metric_clustering(sn_ctx *ctx, const float *x, const int32_t *lab, int n,
                               int dim, int k, uint64_t seed, int nt, double *nmi,
                               double *ami) {
    if (nmi) *nmi = NAN;
    if (ami) *ami = NAN;
    if (!x || !lab) return sn_errf(ctx, SN_ERR_ARG, "metric_clustering: NULL x or labels");
    if (n < 1 || dim < 1 || k < 1 || k > n || nt < 1)
        return sn_errf(ctx, SN_ERR_ARG,
                       "metric_clustering: need n >= 1, dim >= 1, 1 <= k <= n, nt >= 1 "
                       "(got n=%d dim=%d k=%d nt=%d)",
                       n, dim, k, nt);
    if (!sn_metric_all_finite(x, (size_t)n * (size_t)dim))
        return sn_errf(ctx, SN_ERR_NUMERIC, "metric_clustering: embeddings contain NaN/Inf");
    int tile = n < SN_METRIC_TILE ? n : SN_METRIC_TILE;
    size_t tsz;
    if (!sn_mul_size((size_t)nt * (size_t)tile, (size_t)k, &tsz))
        return sn_errf(ctx, SN_ERR_NOMEM, "metric_clustering: work size overflows (k=%d)", k);
    sn_gemm_init();

    float *C = sn_calloc((size_t)k * (size_t)dim, sizeof *C), *cn = sn_calloc((size_t)k, sizeof *cn);
    float *T = sn_aligned_alloc(tsz, sizeof(float));
    double *d2 = sn_calloc((size_t)n, sizeof *d2);
    double *sum = sn_calloc((size_t)k * (size_t)dim, sizeof *sum);
    long *cnt = sn_calloc((size_t)k, sizeof *cnt);
    int32_t *asg = sn_calloc((size_t)n, sizeof *asg);
    sn_status st = SN_OK;
    if (!C || !cn || !T || !d2 || !sum || !cnt || !asg) {
        st = sn_errf(ctx, SN_ERR_NOMEM, "metric_clustering: out of memory (n=%d k=%d dim=%d)",
                     n, k, dim);
        goto done;
    }
    sn__kmeanspp(C, x, n, dim, k, seed, d2, nt);
    for (int i = 0; i < n; i++) asg[i] = -1;
    for (int it = 0;; it++) {
        sn_metric_row_sqnorms(cn, C, k, dim);
        if (sn__assign(asg, x, n, dim, C, cn, k, T, tile, nt) == 0 || it == SN_KMEANS_MAX_ITER)
            break;
        /* update: means in double, point order; an empty cluster keeps its centre */
        memset(sum, 0, sizeof(double) * (size_t)k * (size_t)dim);
        memset(cnt, 0, sizeof(long) * (size_t)k);
        for (int i = 0; i < n; i++) {
            double *s = sum + (size_t)asg[i] * dim;
            const float *xi = x + (size_t)i * dim;
            for (int j = 0; j < dim; j++) s[j] += xi[j];
            cnt[asg[i]]++;
        }
        for (int c = 0; c < k; c++)
            if (cnt[c] > 0)
                for (int j = 0; j < dim; j++)
                    C[(size_t)c * dim + j] = (float)(sum[(size_t)c * dim + j] / (double)cnt[c]);
    }
    st = sn_metric_nmi_ami(lab, asg, n, nmi, ami);
    if (st != SN_OK) st = sn_errf(ctx, st, "metric_clustering: out of memory scoring n=%d", n);
done:
    free(C);
    free(cn);
    sn_aligned_free(T);
    free(d2);
    free(sum);
    free(cnt);
    free(asg);
    return st;
}
