/* topk.c -- exact top-k search: GEMM distances per (query batch, gallery block) (a
 * streaming AVX-512 dot kernel for 1..4 queries) and a bounded k-heap per query, merged
 * deterministically across threads. */
#include "gallery/gallery.h"

#include "core/core.h"
#include "kernels/kernels.h"

#include <math.h>
#include <omp.h>
#include <string.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

enum { QB = 64,      /* queries per GEMM */
       GB = 2048 };  /* gallery rows per block: 2048 x 128 floats = 1 MB, one L2 */

static int worse(float da, int64_t ia, float db, int64_t ib) {
    return da > db || (da == db && ia > ib);
}

void sn_kheap_init(sn_kheap *h, float *d, int64_t *i, int k) {
    h->d = d;
    h->i = i;
    h->n = 0;
    h->k = k;
}

float sn_kheap_bound(const sn_kheap *h) { return h->n < h->k ? INFINITY : h->d[0]; }

static void sift_down(sn_kheap *h, int p) {
    for (;;) {
        int c = 2 * p + 1, w = p;
        if (c < h->n && worse(h->d[c], h->i[c], h->d[w], h->i[w])) w = c;
        if (c + 1 < h->n && worse(h->d[c + 1], h->i[c + 1], h->d[w], h->i[w])) w = c + 1;
        if (w == p) return;
        float td = h->d[p];
        int64_t ti = h->i[p];
        h->d[p] = h->d[w];
        h->i[p] = h->i[w];
        h->d[w] = td;
        h->i[w] = ti;
        p = w;
    }
}

void sn_kheap_push(sn_kheap *h, float d, int64_t i) {
    if (h->n < h->k) {
        int c = h->n++;
        while (c > 0) { /* sift up */
            int p = (c - 1) / 2;
            if (!worse(d, i, h->d[p], h->i[p])) break;
            h->d[c] = h->d[p];
            h->i[c] = h->i[p];
            c = p;
        }
        h->d[c] = d;
        h->i[c] = i;
        return;
    }
    if (!worse(h->d[0], h->i[0], d, i)) return;
    h->d[0] = d;
    h->i[0] = i;
    sift_down(h, 0);
}

void sn_kheap_sort(sn_kheap *h) {
    int n = h->n;
    while (h->n > 1) { /* heapsort: move the worst to the end */
        int last = h->n - 1;
        float td = h->d[0];
        int64_t ti = h->i[0];
        h->d[0] = h->d[last];
        h->i[0] = h->i[last];
        h->d[last] = td;
        h->i[last] = ti;
        h->n--;
        sift_down(h, 0);
    }
    h->n = n;
}

void sn_topk_scan(sn_kheap *h, const float *d2, size_t n, int64_t base) {
    size_t j = 0;
#if defined(__AVX512F__)
    /* Most values lose to the bound once the heap is full: test 16 at once. */
    for (; j + 16 <= n; j += 16) {
        __m512 v = _mm512_loadu_ps(d2 + j);
        __mmask16 m = _mm512_cmp_ps_mask(v, _mm512_set1_ps(sn_kheap_bound(h)), _CMP_LE_OQ);
        while (m) {
            int b = __builtin_ctz(m);
            m &= (__mmask16)(m - 1);
            sn_kheap_push(h, d2[j + (size_t)b], base + (int64_t)(j + (size_t)b));
        }
    }
#endif
    for (; j < n; j++)
        if (d2[j] <= sn_kheap_bound(h)) sn_kheap_push(h, d2[j], base + (int64_t)j);
}

void sn_row_sqnorms(const float *X, size_t n, int d, float *out) {
    for (size_t r = 0; r < n; r++) {
        const float *x = X + r * (size_t)d;
        float s = 0.0f;
        for (int j = 0; j < d; j++) s += x[j] * x[j];
        out[r] = s;
    }
}

/* out (qb, nb) = Q (qb, d) . B (nb, d)^T for a few queries: one streaming pass over B's
 * rows, each row used by every query while in L1 (a GEMM call would pack the block). */
static void dots_small(const float *Q, int qb, const float *B, size_t nb, int d, float *out) {
    for (size_t r = 0; r < nb; r++) {
        const float *g = B + r * (size_t)d;
        for (int q = 0; q < qb; q++) {
            const float *x = Q + (size_t)q * (size_t)d;
            int j = 0;
            float s = 0.0f;
#if defined(__AVX512F__)
            __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
            for (; j + 32 <= d; j += 32) {
                a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + j), _mm512_loadu_ps(g + j), a0);
                a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + j + 16), _mm512_loadu_ps(g + j + 16), a1);
            }
            for (; j + 16 <= d; j += 16)
                a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + j), _mm512_loadu_ps(g + j), a0);
            s = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
#else
            float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
            for (; j + 4 <= d; j += 4) {
                s0 += x[j] * g[j];
                s1 += x[j + 1] * g[j + 1];
                s2 += x[j + 2] * g[j + 2];
                s3 += x[j + 3] * g[j + 3];
            }
            s = (s0 + s1) + (s2 + s3);
#endif
            for (; j < d; j++) s += x[j] * g[j];
            out[(size_t)q * nb + r] = s;
        }
    }
}

void sn_block_dots(const float *Q, int qb, const float *B, size_t nb, int d, float *out) {
    if (qb <= 4)
        dots_small(Q, qb, B, nb, d, out);
    else
        sn_gemm_f32(0, 1, qb, (int)nb, d, 1.0f, Q, d, B, d, 0.0f, out, (int)nb);
}

/* dots (qb, nb) of the queries against block rows r0.. -> squared distances in place,
 * clamped at 0 (cancellation), then into the heaps. */
static void block_to_heaps(float *dots, int qb, size_t nb, const float *qn, const float *gn,
                           size_t r0, sn_kheap *heaps) {
    for (int q = 0; q < qb; q++) {
        float *row = dots + (size_t)q * nb;
        const float *g = gn + r0;
        const float a = qn[q];
        for (size_t j = 0; j < nb; j++) {
            float v = a + g[j] - 2.0f * row[j];
            row[j] = v > 0.0f ? v : 0.0f;
        }
        sn_topk_scan(&heaps[q], row, nb, (int64_t)r0);
    }
}

sn_status sn_topk_exact(sn_ctx *ctx, const float *G, const float *gn, size_t n, int d,
                        const float *Q, int nq, int k, int nt, int64_t *idx, float *d2) {
    if (k < 1 || d < 1 || nq < 0) return sn_errf(ctx, SN_ERR_ARG, "top-k search: need k >= 1, d >= 1");
    if (nt < 1) nt = 1;
    for (size_t t = 0; t < (size_t)nq * (size_t)k; t++) {
        idx[t] = -1;
        d2[t] = INFINITY;
    }
    if (n == 0 || nq == 0) return SN_OK;
    const size_t nblk = (n + GB - 1) / GB;
    /* Few gallery blocks (e.g. centroids): parallel over query batches, else over blocks. */
    const int by_query = nblk < (size_t)(2 * nt);
    const int nw = nt; /* heap sets: one per thread */
    size_t hk, dots_sz;
    float *dots = NULL, *hd = NULL, *qn = NULL;
    int64_t *hi = NULL;
    sn_kheap *heaps = NULL;
    if (!sn_mul_size((size_t)nw * QB, (size_t)k, &hk) || !sn_mul_size((size_t)nw * QB, GB, &dots_sz))
        return sn_errf(ctx, SN_ERR_NOMEM, "top-k search: k = %d too large", k);
    dots = sn_aligned_alloc(dots_sz, sizeof(float));
    hd = malloc(hk * sizeof(float));
    hi = malloc(hk * sizeof(int64_t));
    qn = malloc((size_t)nq * sizeof(float));
    heaps = malloc((size_t)nw * QB * sizeof(sn_kheap));
    if (!dots || !hd || !hi || !qn || !heaps) {
        sn_aligned_free(dots);
        free(hd);
        free(hi);
        free(qn);
        free(heaps);
        return sn_errf(ctx, SN_ERR_NOMEM, "top-k search: out of memory for %d threads x k = %d", nw, k);
    }
    sn_row_sqnorms(Q, (size_t)nq, d, qn);
    if (by_query) {
        /* one parallel region: each thread takes whole query batches against every block */
        const int nb_q = (nq + QB - 1) / QB;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nb_q > 1)
        for (int bq = 0; bq < nb_q; bq++) {
            const int t = omp_get_thread_num(), b0 = bq * QB;
            const int qb = nq - b0 < QB ? nq - b0 : QB;
            sn_kheap *H = heaps + (size_t)t * QB;
            float *dt = dots + (size_t)t * QB * GB;
            for (int q = 0; q < qb; q++)
                sn_kheap_init(&H[q], hd + ((size_t)t * QB + (size_t)q) * (size_t)k,
                              hi + ((size_t)t * QB + (size_t)q) * (size_t)k, k);
            for (size_t b = 0; b < nblk; b++) {
                size_t r0 = b * GB, nb = n - r0 < GB ? n - r0 : GB;
                sn_block_dots(Q + (size_t)b0 * (size_t)d, qb, G + r0 * (size_t)d, nb, d, dt);
                block_to_heaps(dt, qb, nb, qn + b0, gn, r0, H);
            }
            for (int q = 0; q < qb; q++) {
                sn_kheap_sort(&H[q]);
                memcpy(idx + (size_t)(b0 + q) * (size_t)k, H[q].i, sizeof(int64_t) * (size_t)H[q].n);
                memcpy(d2 + (size_t)(b0 + q) * (size_t)k, H[q].d, sizeof(float) * (size_t)H[q].n);
            }
        }
    }
    for (int q0 = 0; !by_query && q0 < nq; q0 += QB) {
        const int qb = nq - q0 < QB ? nq - q0 : QB;
#pragma omp parallel num_threads(nt)
        {
            const int t = omp_get_thread_num();
            sn_kheap *H = heaps + (size_t)t * QB;
            float *dt = dots + (size_t)t * QB * GB;
            for (int q = 0; q < qb; q++)
                sn_kheap_init(&H[q], hd + ((size_t)t * QB + (size_t)q) * (size_t)k,
                              hi + ((size_t)t * QB + (size_t)q) * (size_t)k, k);
#pragma omp for schedule(static)
            for (size_t b = 0; b < nblk; b++) {
                size_t r0 = b * GB, nb = n - r0 < GB ? n - r0 : GB;
                sn_block_dots(Q + (size_t)q0 * (size_t)d, qb, G + r0 * (size_t)d, nb, d, dt);
                block_to_heaps(dt, qb, nb, qn + q0, gn, r0, H);
            }
        }
        /* merge the per-thread heaps in thread order (the lexicographic order makes the
         * result independent of which thread saw which block) */
        for (int q = 0; q < qb; q++) {
            sn_kheap *F = &heaps[q]; /* thread 0's heap collects the others */
            for (int t = 1; t < nt; t++) {
                const sn_kheap *o = &heaps[(size_t)t * QB + (size_t)q];
                for (int j = 0; j < o->n; j++) sn_kheap_push(F, o->d[j], o->i[j]);
            }
            sn_kheap_sort(F);
            memcpy(idx + (size_t)(q0 + q) * (size_t)k, F->i, sizeof(int64_t) * (size_t)F->n);
            memcpy(d2 + (size_t)(q0 + q) * (size_t)k, F->d, sizeof(float) * (size_t)F->n);
        }
    }
    sn_aligned_free(dots);
    free(hd);
    free(hi);
    free(qn);
    free(heaps);
    return SN_OK;
}

void sn_topk_ref(const float *G, size_t n, int d, const float *Q, int nq, int k, int64_t *idx,
                 float *d2) {
    for (int q = 0; q < nq; q++) {
        int64_t *oi = idx + (size_t)q * (size_t)k;
        float *od = d2 + (size_t)q * (size_t)k;
        int m = 0; /* insertion sort of the k best seen so far */
        for (size_t r = 0; r < n; r++) {
            double s = 0.0;
            for (int j = 0; j < d; j++) {
                double t = (double)Q[(size_t)q * (size_t)d + (size_t)j] - (double)G[r * (size_t)d + (size_t)j];
                s += t * t;
            }
            float v = (float)s;
            if (m == k && !worse(od[m - 1], oi[m - 1], v, (int64_t)r)) continue;
            int p = m < k ? m++ : k - 1;
            while (p > 0 && worse(od[p - 1], oi[p - 1], v, (int64_t)r)) {
                od[p] = od[p - 1];
                oi[p] = oi[p - 1];
                p--;
            }
            od[p] = v;
            oi[p] = (int64_t)r;
        }
        for (int j = m; j < k; j++) {
            oi[j] = -1;
            od[j] = INFINITY;
        }
    }
}
