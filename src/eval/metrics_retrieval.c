/* metrics_retrieval.c -- retrieval (P@1, R-precision, MAP@R) and k-NN accuracy.
 *
 * Distances are computed tile by tile: for a tile of m queries Q (m, dim) against all
 * references X (nr, dim), one GEMM gives T = -2 Q X^T (m, nr) and
 *   d2(q, j) = ||q||^2 + ||x_j||^2 + T[q, j], clamped at 0.
 * Each query then packs (bits of d2 << 32 | j) into one uint64 per reference -- bits
 * of a non-negative float order like the float, so integer order = (distance, index)
 * order -- and keeps only its k nearest by partial selection + sort of those k.
 * Per-thread buffers are allocated once; nothing is allocated per query.
 * Memory bound: see metrics.h. */
#include "eval/metrics.h"

#include "core/core.h"
#include "kernels/kernels.h"

#include <math.h>
#include <omp.h>
#include <string.h>

/* Squared L2 norms of the rows of x (n, dim), accumulated in double. */
static void sn__row_sqnorms(float *out, const float *x, int n, int dim) {
    for (int i = 0; i < n; i++) {
        const float *r = x + (size_t)i * dim;
        double s = 0.0;
        for (int c = 0; c < dim; c++) s += (double)r[c] * (double)r[c];
        out[i] = (float)s;
    }
}

static int sn__all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

static uint64_t sn__dkey(float qn, float rn, float t, int j) {
    float d = qn + rn + t;
    if (!(d > 0.0f)) d = 0.0f; /* clamp rounding below 0 (and -0) */
    uint32_t u;
    memcpy(&u, &d, sizeof u);
    return ((uint64_t)u << 32) | (uint32_t)j;
}

static double sn__key_dist(uint64_t key) {
    uint32_t u = (uint32_t)(key >> 32);
    float d2;
    memcpy(&d2, &u, sizeof d2);
    return sqrt((double)d2);
}

static size_t sn__build_keys(uint64_t *keys, const float *trow, float qn, const float *rn,
                             int nr, int self) {
    /* two branch-free runs around `self` (so the loops vectorise) */
    int a = self < 0 ? nr : self;
    for (int j = 0; j < a; j++) keys[j] = sn__dkey(qn, rn[j], trow[j], j);
    if (self < 0) return (size_t)nr;
    for (int j = self + 1; j < nr; j++) keys[j - 1] = sn__dkey(qn, rn[j], trow[j], j);
    return (size_t)nr - 1;
}

/* Allocate nt distance tiles (tile, nr) and nt key rows (nr + extra). */
static sn_status sn__alloc_work(sn_ctx *ctx, int nt, int tile, int nr, size_t extra,
                                float **dbuf, uint64_t **kbuf) {
    size_t dsz, ksz;
    *dbuf = NULL;
    *kbuf = NULL;
    if (!sn_mul_size((size_t)nt * (size_t)tile, (size_t)nr, &dsz) ||
        !sn_mul_size((size_t)nt, (size_t)nr + extra, &ksz))
        return sn_errf(ctx, SN_ERR_NOMEM, "metrics: work size overflows (nt=%d tile=%d nr=%d)",
                       nt, tile, nr);
    *dbuf = sn_aligned_alloc(dsz, sizeof(float));
    *kbuf = sn_aligned_alloc(ksz, sizeof(uint64_t));
    if (!*dbuf || !*kbuf) {
        sn_aligned_free(*dbuf);
        sn_aligned_free(*kbuf);
        *dbuf = NULL;
        *kbuf = NULL;
        return sn_errf(ctx, SN_ERR_NOMEM,
                       "metrics: out of memory for %d x %d x %d distance tiles", nt, tile, nr);
    }
    return SN_OK;
}

/* cnt[i] = number of items with labels[i]'s label (including i). tmp: (n) scratch. */
static void sn__label_counts(int32_t *cnt, const int32_t *labels, int n, uint64_t *tmp) {
    for (int i = 0; i < n; i++)
        tmp[i] = ((uint64_t)((uint32_t)labels[i] ^ 0x80000000u) << 32) | (uint32_t)i;
    sn_metric_sort_u64(tmp, (size_t)n);
    int a = 0;
    while (a < n) {
        int b = a + 1;
        while (b < n && (tmp[b] >> 32) == (tmp[a] >> 32)) b++;
        for (int i = a; i < b; i++) cnt[(uint32_t)tmp[i]] = b - a;
        a = b;
    }
}

sn_status sn_metric_retrieval_tiled(sn_ctx *ctx, const float *emb, const int32_t *labels,
                                    int n, int dim, int nt, int tile, double *precision_at_1,
                                    double *r_precision, double *map_at_r) {
    if (precision_at_1) *precision_at_1 = NAN;
    if (r_precision) *r_precision = NAN;
    if (map_at_r) *map_at_r = NAN;
    if (!emb || !labels)
        return sn_errf(ctx, SN_ERR_ARG, "metric_retrieval: emb and labels must not be NULL");
    if (n < 2 || dim < 1 || nt < 1 || tile < 1)
        return sn_errf(ctx, SN_ERR_ARG,
                       "metric_retrieval: need n >= 2, dim >= 1, nt >= 1, tile >= 1 "
                       "(got n=%d dim=%d nt=%d tile=%d)",
                       n, dim, nt, tile);
    if (!sn__all_finite(emb, (size_t)n * (size_t)dim))
        return sn_errf(ctx, SN_ERR_NUMERIC, "metric_retrieval: embeddings contain NaN/Inf");
    if (tile > n) tile = n;
    sn_gemm_init();

    float *dbuf = NULL, *norm = sn_calloc((size_t)n, sizeof *norm);
    uint64_t *kbuf = NULL;
    int32_t *cnt = sn_calloc((size_t)n, sizeof *cnt);
    double *rp = sn_calloc((size_t)n, sizeof *rp), *ap = sn_calloc((size_t)n, sizeof *ap);
    uint8_t *hit1 = sn_calloc((size_t)n, 1);
    sn_status st = SN_OK;
    if (!norm || !cnt || !rp || !ap || !hit1)
        st = sn_errf(ctx, SN_ERR_NOMEM, "metric_retrieval: out of memory (n=%d)", n);
    if (st == SN_OK) st = sn__alloc_work(ctx, nt, tile, n, SN_METRIC_SAMPLE, &dbuf, &kbuf);
    if (st != SN_OK) goto done;

    sn__row_sqnorms(norm, emb, n, dim);
    sn__label_counts(cnt, labels, n, kbuf);

    int ntiles = (n + tile - 1) / tile;
#pragma omp parallel num_threads(nt)
    {
        int tid = omp_get_thread_num();
        float *T = dbuf + (size_t)tid * tile * n;
        uint64_t *keys = kbuf + (size_t)tid * ((size_t)n + SN_METRIC_SAMPLE);
        uint64_t *sample = keys + n;
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < ntiles; t++) {
            int q0 = t * tile, m = n - q0 < tile ? n - q0 : tile;
            sn_gemm_f32(0, 1, m, n, dim, -2.0f, emb + (size_t)q0 * dim, dim, emb, dim, 0.0f,
                        T, n);
            for (int i = 0; i < m; i++) {
                int q = q0 + i, R = cnt[q] - 1;
                if (R < 1) continue; /* lone label: skipped */
                size_t nk = sn__build_keys(keys, T + (size_t)i * n, norm[q], norm, n, q);
                sn_metric_topk_u64(keys, nk, (size_t)R, sample);
                int32_t lab = labels[q];
                long rel = 0;
                double sum_p = 0.0;
                for (int r = 0; r < R; r++) {
                    if (labels[(uint32_t)keys[r]] != lab) continue;
                    rel++;
                    sum_p += (double)rel / (double)(r + 1);
                }
                hit1[q] = (uint8_t)(1 + (labels[(uint32_t)keys[0]] == lab)); /* 0: skipped */
                rp[q] = (double)rel / (double)R;
                ap[q] = sum_p / (double)R;
            }
        }
    }

    /* Sum in query order: independent of nt. */
    long used = 0, p1 = 0;
    double srp = 0.0, sap = 0.0;
    for (int q = 0; q < n; q++) {
        if (!hit1[q]) continue;
        used++;
        p1 += hit1[q] == 2;
        srp += rp[q];
        sap += ap[q];
    }
    if (used > 0) {
        if (precision_at_1) *precision_at_1 = (double)p1 / (double)used;
        if (r_precision) *r_precision = srp / (double)used;
        if (map_at_r) *map_at_r = sap / (double)used;
    }
done:
    sn_aligned_free(dbuf);
    sn_aligned_free(kbuf);
    free(norm);
    free(cnt);
    free(rp);
    free(ap);
    free(hit1);
    return st;
}

sn_status sn_metric_retrieval(sn_ctx *ctx, const float *emb, const int32_t *labels, int n,
                              int dim, int nt, double *precision_at_1, double *r_precision,
                              double *map_at_r) {
    return sn_metric_retrieval_tiled(ctx, emb, labels, n, dim, nt, SN_METRIC_TILE,
                                     precision_at_1, r_precision, map_at_r);
}

/* Majority vote over the k nearest (keys sorted by distance). vote: (k) scratch. */
static int32_t sn__vote(const uint64_t *keys, int k, const int32_t *rlab, uint64_t *vote) {
    for (int r = 0; r < k; r++)
        vote[r] = ((uint64_t)((uint32_t)rlab[(uint32_t)keys[r]] ^ 0x80000000u) << 32) |
                  (uint32_t)r;
    sn_metric_sort_u64(vote, (size_t)k); /* by label, then by rank */
    int32_t best = 0;
    int best_n = 0;
    double best_d = 0.0;
    int a = 0;
    while (a < k) {
        int b = a;
        double d = 0.0;
        while (b < k && (vote[b] >> 32) == (vote[a] >> 32)) {
            d += sn__key_dist(keys[(uint32_t)vote[b]]);
            b++;
        }
        /* groups come in ascending label order: strict compares keep the smaller label */
        if (b - a > best_n || (b - a == best_n && d < best_d)) {
            best_n = b - a;
            best_d = d;
            best = (int32_t)((uint32_t)(vote[a] >> 32) ^ 0x80000000u);
        }
        a = b;
    }
    return best;
}

sn_status sn_metric_knn_accuracy_tiled(sn_ctx *ctx, const float *q, const int32_t *qlab,
                                       int nq, const float *ref, const int32_t *rlab, int nr,
                                       int dim, int k, int nt, int tile, double *accuracy) {
    if (accuracy) *accuracy = NAN;
    if (!q || !qlab || !ref || !rlab)
        return sn_errf(ctx, SN_ERR_ARG, "metric_knn_accuracy: NULL input array");
    if (nq < 1 || nr < 1 || dim < 1 || k < 1 || k > nr || nt < 1 || tile < 1)
        return sn_errf(ctx, SN_ERR_ARG,
                       "metric_knn_accuracy: need nq >= 1, nr >= 1, dim >= 1, 1 <= k <= nr, "
                       "nt >= 1, tile >= 1 (got nq=%d nr=%d dim=%d k=%d nt=%d tile=%d)",
                       nq, nr, dim, k, nt, tile);
    if (!sn__all_finite(q, (size_t)nq * (size_t)dim) ||
        !sn__all_finite(ref, (size_t)nr * (size_t)dim))
        return sn_errf(ctx, SN_ERR_NUMERIC, "metric_knn_accuracy: embeddings contain NaN/Inf");
    if (tile > nq) tile = nq;
    sn_gemm_init();

    float *dbuf = NULL, *qn = sn_calloc((size_t)nq, sizeof *qn);
    float *rn = sn_calloc((size_t)nr, sizeof *rn);
    uint64_t *kbuf = NULL;
    uint8_t *ok = sn_calloc((size_t)nq, 1);
    sn_status st = SN_OK;
    if (!qn || !rn || !ok)
        st = sn_errf(ctx, SN_ERR_NOMEM, "metric_knn_accuracy: out of memory (nq=%d nr=%d)",
                     nq, nr);
    /* per thread: nr selection keys, k vote keys, the selection sample */
    if (st == SN_OK)
        st = sn__alloc_work(ctx, nt, tile, nr, (size_t)k + SN_METRIC_SAMPLE, &dbuf, &kbuf);
    if (st != SN_OK) goto done;

    sn__row_sqnorms(qn, q, nq, dim);
    sn__row_sqnorms(rn, ref, nr, dim);

    int ntiles = (nq + tile - 1) / tile;
#pragma omp parallel num_threads(nt)
    {
        int tid = omp_get_thread_num();
        float *T = dbuf + (size_t)tid * tile * nr;
        uint64_t *keys = kbuf + (size_t)tid * ((size_t)nr + (size_t)k + SN_METRIC_SAMPLE);
        uint64_t *vote = keys + nr, *sample = vote + k;
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < ntiles; t++) {
            int q0 = t * tile, m = nq - q0 < tile ? nq - q0 : tile;
            sn_gemm_f32(0, 1, m, nr, dim, -2.0f, q + (size_t)q0 * dim, dim, ref, dim, 0.0f, T,
                        nr);
            for (int i = 0; i < m; i++) {
                size_t nk = sn__build_keys(keys, T + (size_t)i * nr, qn[q0 + i], rn, nr, -1);
                sn_metric_topk_u64(keys, nk, (size_t)k, sample);
                ok[q0 + i] = sn__vote(keys, k, rlab, vote) == qlab[q0 + i];
            }
        }
    }
    long correct = 0;
    for (int i = 0; i < nq; i++) correct += ok[i];
    if (accuracy) *accuracy = (double)correct / (double)nq;
done:
    sn_aligned_free(dbuf);
    sn_aligned_free(kbuf);
    free(qn);
    free(rn);
    free(ok);
    return st;
}

sn_status sn_metric_knn_accuracy(sn_ctx *ctx, const float *q, const int32_t *qlab, int nq,
                                 const float *ref, const int32_t *rlab, int nr, int dim, int k,
                                 int nt, double *accuracy) {
    return sn_metric_knn_accuracy_tiled(ctx, q, qlab, nq, ref, rlab, nr, dim, k, nt,
                                        SN_METRIC_TILE, accuracy);
}
