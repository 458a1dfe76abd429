/* metrics_retrieval.c -- retrieval (P@1, R-precision, MAP@R, Recall@k), k-NN accuracy and
 * open-set identification (DIR@FAR).
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

void sn_metric_row_sqnorms(float *out, const float *x, int n, int dim) {
    for (int i = 0; i < n; i++) {
        const float *r = x + (size_t)i * dim;
        double s = 0.0;
        for (int c = 0; c < dim; c++) s += (double)r[c] * (double)r[c];
        out[i] = (float)s;
    }
}

int sn_metric_all_finite(const float *x, size_t n) {
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

/* Allocate nt distance tiles (tile, nr) and, if kbuf, nt key rows (nr + extra). */
static sn_status sn__alloc_work(sn_ctx *ctx, int nt, int tile, int nr, size_t extra,
                                float **dbuf, uint64_t **kbuf) {
    size_t dsz, ksz;
    uint64_t *knone = NULL;
    if (!kbuf) kbuf = &knone;
    *dbuf = NULL;
    *kbuf = NULL;
    if (!sn_mul_size((size_t)nt * (size_t)tile, (size_t)nr, &dsz) ||
        !sn_mul_size((size_t)nt, (size_t)nr + extra, &ksz))
        return sn_errf(ctx, SN_ERR_NOMEM, "metrics: work size overflows (nt=%d tile=%d nr=%d)",
                       nt, tile, nr);
    *dbuf = sn_aligned_alloc(dsz, sizeof(float));
    if (kbuf != &knone) *kbuf = sn_aligned_alloc(ksz, sizeof(uint64_t));
    if (!*dbuf || (kbuf != &knone && !*kbuf)) {
        sn_aligned_free(*dbuf);
        sn_aligned_free(*kbuf);
        *dbuf = NULL;
        *kbuf = NULL;
        return sn_errf(ctx, SN_ERR_NOMEM,
                       "metrics: out of memory for %d x %d x %d distance tiles", nt, tile, nr);
    }
    return SN_OK;
}

/* Distinct labels of the references, ascending, with their counts. tmp: (n) scratch.
 * ulab, ucnt: (n). Returns the number of distinct labels. */
static int sn__label_table(int32_t *ulab, int32_t *ucnt, const int32_t *labels, int n,
                           uint64_t *tmp) {
    for (int i = 0; i < n; i++) tmp[i] = (uint64_t)((uint32_t)labels[i] ^ 0x80000000u);
    sn_metric_sort_u64(tmp, (size_t)n);
    int u = 0;
    for (int i = 0; i < n; i++) {
        if (u > 0 && tmp[i] == tmp[i - 1]) {
            ucnt[u - 1]++;
            continue;
        }
        ulab[u] = (int32_t)((uint32_t)tmp[i] ^ 0x80000000u);
        ucnt[u++] = 1;
    }
    return u;
}

static int sn__label_count(const int32_t *ulab, const int32_t *ucnt, int u, int32_t lab) {
    int lo = 0, hi = u; /* first ulab >= lab */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (ulab[mid] < lab) lo = mid + 1;
        else hi = mid;
    }
    return lo < u && ulab[lo] == lab ? ucnt[lo] : 0;
}

/* Per-query flags: bit 0 counted, bits 1..3 hit within 1 / 5 / 10. */
enum { SN__USED = 1, SN__H1 = 2, SN__H5 = 4, SN__H10 = 8 };

static void sn__result_nan(sn_retrieval_result *out) {
    out->precision_at_1 = out->r_precision = out->map_at_r = NAN;
    out->recall_at_1 = out->recall_at_5 = out->recall_at_10 = NAN;
    out->n_queries = 0;
}

sn_status sn_metric_retrieval_ex_tiled(sn_ctx *ctx, const float *q, const int32_t *qlab,
                                       int nq, const float *ref, const int32_t *rlab, int nr,
                                       int dim, int exclude_self, int nt, int tile,
                                       sn_retrieval_result *out) {
    if (!out) return sn_errf(ctx, SN_ERR_ARG, "metric_retrieval_ex: out must not be NULL");
    sn__result_nan(out);
    if (!q || !qlab || !ref || !rlab)
        return sn_errf(ctx, SN_ERR_ARG, "metric_retrieval_ex: NULL input array");
    if (nq < 1 || nr < 1 || dim < 1 || nt < 1 || tile < 1 ||
        (exclude_self != 0 && exclude_self != 1))
        return sn_errf(ctx, SN_ERR_ARG,
                       "metric_retrieval_ex: need nq >= 1, nr >= 1, dim >= 1, nt >= 1, "
                       "tile >= 1, exclude_self 0 or 1 (got nq=%d nr=%d dim=%d nt=%d tile=%d "
                       "exclude_self=%d)",
                       nq, nr, dim, nt, tile, exclude_self);
    if (exclude_self && (q != ref || qlab != rlab || nq != nr))
        return sn_errf(ctx, SN_ERR_ARG,
                       "metric_retrieval_ex: exclude_self=1 needs q == ref, qlab == rlab and "
                       "nq == nr (got nq=%d nr=%d, %s arrays)",
                       nq, nr, q == ref && qlab == rlab ? "same" : "different");
    if (!sn_metric_all_finite(q, (size_t)nq * (size_t)dim) ||
        (!exclude_self && !sn_metric_all_finite(ref, (size_t)nr * (size_t)dim)))
        return sn_errf(ctx, SN_ERR_NUMERIC, "metric_retrieval_ex: embeddings contain NaN/Inf");
    if (tile > nq) tile = nq;
    sn_gemm_init();

    float *dbuf = NULL, *qn = sn_calloc((size_t)nq, sizeof *qn);
    float *rn = exclude_self ? qn : sn_calloc((size_t)nr, sizeof *rn);
    uint64_t *kbuf = NULL;
    int32_t *ulab = sn_calloc((size_t)nr, sizeof *ulab), *ucnt = sn_calloc((size_t)nr, sizeof *ucnt);
    double *rp = sn_calloc((size_t)nq, sizeof *rp), *ap = sn_calloc((size_t)nq, sizeof *ap);
    uint8_t *flag = sn_calloc((size_t)nq, 1);
    sn_status st = SN_OK;
    if (!qn || !rn || !ulab || !ucnt || !rp || !ap || !flag)
        st = sn_errf(ctx, SN_ERR_NOMEM, "metric_retrieval_ex: out of memory (nq=%d nr=%d)", nq,
                     nr);
    if (st == SN_OK) st = sn__alloc_work(ctx, nt, tile, nr, SN_METRIC_SAMPLE, &dbuf, &kbuf);
    if (st != SN_OK) goto done;

    sn_metric_row_sqnorms(qn, q, nq, dim);
    if (!exclude_self) sn_metric_row_sqnorms(rn, ref, nr, dim);
    int nu = sn__label_table(ulab, ucnt, rlab, nr, kbuf);

    int ntiles = (nq + tile - 1) / tile;
#pragma omp parallel num_threads(nt)
    {
        int tid = omp_get_thread_num();
        float *T = dbuf + (size_t)tid * tile * nr;
        uint64_t *keys = kbuf + (size_t)tid * ((size_t)nr + SN_METRIC_SAMPLE);
        uint64_t *sample = keys + nr;
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < ntiles; t++) {
            int q0 = t * tile, m = nq - q0 < tile ? nq - q0 : tile;
            sn_gemm_f32(0, 1, m, nr, dim, -2.0f, q + (size_t)q0 * dim, dim, ref, dim, 0.0f, T,
                        nr);
            for (int i = 0; i < m; i++) {
                int qi = q0 + i;
                int32_t lab = qlab[qi];
                int R = sn__label_count(ulab, ucnt, nu, lab) - exclude_self;
                if (R < 1) continue; /* label absent: skipped */
                size_t nk = sn__build_keys(keys, T + (size_t)i * nr, qn[qi], rn, nr,
                                           exclude_self ? qi : -1);
                size_t kk = (size_t)R, k10 = nk < 10 ? nk : 10; /* R <= nk */
                if (kk < k10) kk = k10;
                sn_metric_topk_u64(keys, nk, kk, sample);
                long rel = 0;
                double sum_p = 0.0;
                for (int r = 0; r < R; r++) {
                    if (rlab[(uint32_t)keys[r]] != lab) continue;
                    rel++;
                    sum_p += (double)rel / (double)(r + 1);
                }
                size_t first = 0; /* rank of the first same-label neighbour, 0-based */
                while (first < kk && rlab[(uint32_t)keys[first]] != lab) first++;
                flag[qi] = (uint8_t)(SN__USED | (first < 1 ? SN__H1 : 0) |
                                     (first < 5 ? SN__H5 : 0) | (first < 10 ? SN__H10 : 0));
                rp[qi] = (double)rel / (double)R;
                ap[qi] = sum_p / (double)R;
            }
        }
    }

    /* Sum in query order: independent of nt. */
    long used = 0, h1 = 0, h5 = 0, h10 = 0;
    double srp = 0.0, sap = 0.0;
    for (int i = 0; i < nq; i++) {
        if (!flag[i]) continue;
        used++;
        h1 += (flag[i] & SN__H1) != 0;
        h5 += (flag[i] & SN__H5) != 0;
        h10 += (flag[i] & SN__H10) != 0;
        srp += rp[i];
        sap += ap[i];
    }
    out->n_queries = (int)used;
    if (used > 0) {
        double u = (double)used;
        out->precision_at_1 = out->recall_at_1 = (double)h1 / u;
        out->recall_at_5 = (double)h5 / u;
        out->recall_at_10 = (double)h10 / u;
        out->r_precision = srp / u;
        out->map_at_r = sap / u;
    }
done:
    sn_aligned_free(dbuf);
    sn_aligned_free(kbuf);
    if (rn != qn) free(rn);
    free(qn);
    free(ulab);
    free(ucnt);
    free(rp);
    free(ap);
    free(flag);
    return st;
}

sn_status sn_metric_retrieval_ex(sn_ctx *ctx, const float *q, const int32_t *qlab, int nq,
                                 const float *ref, const int32_t *rlab, int nr, int dim,
                                 int exclude_self, int nt, sn_retrieval_result *out) {
    return sn_metric_retrieval_ex_tiled(ctx, q, qlab, nq, ref, rlab, nr, dim, exclude_self, nt,
                                        SN_METRIC_TILE, out);
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
    sn_retrieval_result r;
    sn_status st =
        sn_metric_retrieval_ex_tiled(ctx, emb, labels, n, emb, labels, n, dim, 1, nt, tile, &r);
    if (st != SN_OK) return st;
    if (precision_at_1) *precision_at_1 = r.precision_at_1;
    if (r_precision) *r_precision = r.r_precision;
    if (map_at_r) *map_at_r = r.map_at_r;
    return SN_OK;
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
    if (!sn_metric_all_finite(q, (size_t)nq * (size_t)dim) ||
        !sn_metric_all_finite(ref, (size_t)nr * (size_t)dim))
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

    sn_metric_row_sqnorms(qn, q, nq, dim);
    sn_metric_row_sqnorms(rn, ref, nr, dim);

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

sn_status sn_metric_dir_at_far(sn_ctx *ctx, const float *gallery, const int32_t *glab, int ng,
                               const float *probe, const int32_t *plab, const uint8_t *known,
                               int np, int dim, double far, int nt, double *dir,
                               double *threshold) {
    if (dir) *dir = NAN;
    if (threshold) *threshold = NAN;
    if (!gallery || !glab || !probe || !plab || !known)
        return sn_errf(ctx, SN_ERR_ARG, "metric_dir_at_far: NULL input array");
    if (ng < 1 || np < 1 || dim < 1 || nt < 1 || !(far >= 0.0 && far <= 1.0))
        return sn_errf(ctx, SN_ERR_ARG,
                       "metric_dir_at_far: need ng >= 1, np >= 1, dim >= 1, nt >= 1, "
                       "0 <= far <= 1 (got ng=%d np=%d dim=%d nt=%d far=%g)",
                       ng, np, dim, nt, far);
    int nknown = 0;
    for (int i = 0; i < np; i++) nknown += known[i] != 0;
    if (nknown == 0 || nknown == np)
        return sn_errf(ctx, SN_ERR_ARG,
                       "metric_dir_at_far: need known and unknown probes (got %d known of %d)",
                       nknown, np);
    if (!sn_metric_all_finite(gallery, (size_t)ng * (size_t)dim) ||
        !sn_metric_all_finite(probe, (size_t)np * (size_t)dim))
        return sn_errf(ctx, SN_ERR_NUMERIC, "metric_dir_at_far: embeddings contain NaN/Inf");
    int tile = np < SN_METRIC_TILE ? np : SN_METRIC_TILE;
    sn_gemm_init();

    float *dbuf = NULL, *pn = sn_calloc((size_t)np, sizeof *pn);
    float *gn = sn_calloc((size_t)ng, sizeof *gn);
    uint64_t *best = sn_calloc((size_t)np, sizeof *best); /* per probe: nearest key */
    uint64_t *sc = sn_calloc((size_t)np, sizeof *sc);     /* sorted non-mate scores */
    sn_status st = SN_OK;
    if (!pn || !gn || !best || !sc)
        st = sn_errf(ctx, SN_ERR_NOMEM, "metric_dir_at_far: out of memory (np=%d ng=%d)", np,
                     ng);
    if (st == SN_OK) st = sn__alloc_work(ctx, nt, tile, ng, 0, &dbuf, NULL);
    if (st != SN_OK) goto done;

    sn_metric_row_sqnorms(pn, probe, np, dim);
    sn_metric_row_sqnorms(gn, gallery, ng, dim);
    int ntiles = (np + tile - 1) / tile;
#pragma omp parallel num_threads(nt)
    {
        float *T = dbuf + (size_t)omp_get_thread_num() * tile * ng;
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < ntiles; t++) {
            int p0 = t * tile, m = np - p0 < tile ? np - p0 : tile;
            sn_gemm_f32(0, 1, m, ng, dim, -2.0f, probe + (size_t)p0 * dim, dim, gallery, dim,
                        0.0f, T, ng);
            for (int i = 0; i < m; i++) {
                const float *trow = T + (size_t)i * ng;
                uint64_t b = UINT64_MAX; /* (squared distance bits, index): nearest, then index */
                for (int j = 0; j < ng; j++) {
                    uint64_t key = sn__dkey(pn[p0 + i], gn[j], trow[j], j);
                    b = key < b ? key : b;
                }
                best[p0 + i] = b;
            }
        }
    }

    /* v = the smallest non-mate score whose cumulative FAR exceeds far (groups of equal
     * scores enter together); compared as squared-distance bits (same order). */
    size_t nu = 0;
    for (int i = 0; i < np; i++)
        if (!known[i]) sc[nu++] = best[i] >> 32;
    sn_metric_sort_u64(sc, nu);
    uint64_t vbits = UINT64_MAX; /* none: accept everything */
    for (size_t a = 0; a < nu;) {
        size_t b = a + 1;
        while (b < nu && sc[b] == sc[a]) b++;
        if ((double)b / (double)nu > far) {
            vbits = sc[a];
            break;
        }
        a = b;
    }
    long hits = 0;
    for (int i = 0; i < np; i++)
        hits += known[i] && (best[i] >> 32) < vbits && glab[(uint32_t)best[i]] == plab[i];
    if (dir) *dir = (double)hits / (double)nknown;
    if (threshold)
        *threshold = vbits == UINT64_MAX
                         ? INFINITY
                         : nextafter(sn__key_dist(vbits << 32), -INFINITY);
done:
    sn_aligned_free(dbuf);
    free(pn);
    free(gn);
    free(best);
    free(sc);
    return st;
}

/* ------------------------------------------------ database-side augmentation */

static int sn__u64_cmp(const void *a, const void *b) {
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

sn_status sn_metric_dba(sn_ctx *ctx, const float *q, int nq, const float *ref, int nr, int dim,
                        int k, int self, int nt, float *out) {
    if (!q || !ref || !out) return sn_errf(ctx, SN_ERR_ARG, "metric_dba: NULL input array");
    const int avail = self ? nr - 1 : nr; /* neighbours a query can have */
    if (nq < 1 || nr < 1 || dim < 1 || k < 1 || k - 1 > avail || nt < 1 || (self && nq != nr))
        return sn_errf(ctx, SN_ERR_ARG,
                       "metric_dba: need nq >= 1, nr >= 1, dim >= 1, 1 <= k <= %d neighbours + 1, "
                       "nt >= 1 (got nq=%d nr=%d dim=%d k=%d nt=%d%s)",
                       avail, nq, nr, dim, k, nt, self && nq != nr ? ", self with nq != nr" : "");
    if (!sn_metric_all_finite(q, (size_t)nq * (size_t)dim) ||
        !sn_metric_all_finite(ref, (size_t)nr * (size_t)dim))
        return sn_errf(ctx, SN_ERR_NUMERIC, "metric_dba: embeddings contain NaN/Inf");
    const int tile = nq < SN_METRIC_TILE ? nq : SN_METRIC_TILE, nk = k - 1;
    sn_gemm_init();
    float *dbuf = NULL, *qn = sn_calloc((size_t)nq, sizeof *qn);
    float *rn = sn_calloc((size_t)nr, sizeof *rn);
    uint64_t *kbuf = NULL;
    sn_status st = SN_OK;
    if (!qn || !rn) st = sn_errf(ctx, SN_ERR_NOMEM, "metric_dba: out of memory (nq=%d nr=%d)", nq, nr);
    if (st == SN_OK) st = sn__alloc_work(ctx, nt, tile, nr, SN_METRIC_SAMPLE, &dbuf, &kbuf);
    if (st != SN_OK) goto done;
    sn_metric_row_sqnorms(qn, q, nq, dim);
    sn_metric_row_sqnorms(rn, ref, nr, dim);
    /* unit-norm inputs (an L2-normalised model) give unit-norm outputs */
    int unit = 1;
    for (int i = 0; i < nq && unit; i++) unit = fabsf(qn[i] - 1.0f) <= 1e-4f;
    for (int j = 0; j < nr && unit; j++) unit = fabsf(rn[j] - 1.0f) <= 1e-4f;
    const int ntiles = (nq + tile - 1) / tile;
#pragma omp parallel num_threads(nt)
    {
        const int tid = omp_get_thread_num();
        float *T = dbuf + (size_t)tid * tile * nr;
        uint64_t *keys = kbuf + (size_t)tid * ((size_t)nr + SN_METRIC_SAMPLE);
        uint64_t *sample = keys + nr;
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < ntiles; t++) {
            const int q0 = t * tile, m = nq - q0 < tile ? nq - q0 : tile;
            if (nk > 0)
                sn_gemm_f32(0, 1, m, nr, dim, -2.0f, q + (size_t)q0 * dim, dim, ref, dim, 0.0f, T,
                            nr);
            for (int i = 0; i < m; i++) {
                const int qi = q0 + i;
                const float *qr = q + (size_t)qi * dim;
                float *o = out + (size_t)qi * dim;
                if (nk > 0) {
                    size_t n = sn__build_keys(keys, T + (size_t)i * nr, qn[qi], rn, nr, self ? qi : -1);
                    sn_metric_topk_u64(keys, n, (size_t)nk, sample);
                    /* nearest first (ties by index): the sum's order is fixed */
                    qsort(keys, (size_t)nk, sizeof *keys, sn__u64_cmp);
                }
                double nrm = 0.0;
                for (int c = 0; c < dim; c++) {
                    double s = qr[c];
                    for (int j = 0; j < nk; j++) s += ref[(size_t)(uint32_t)keys[j] * dim + c];
                    s /= (double)k;
                    o[c] = (float)s;
                    nrm += s * s;
                }
                if (unit && nrm > 0.0) {
                    const double sc = 1.0 / sqrt(nrm);
                    for (int c = 0; c < dim; c++) o[c] = (float)((double)o[c] * sc);
                }
            }
        }
    }
done:
    sn_aligned_free(dbuf);
    sn_aligned_free(kbuf);
    free(qn);
    free(rn);
    return st;
}
