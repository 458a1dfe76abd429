/* ivf.c -- approximate search: inverted-file index over k-means lists (IVF-Flat).
 * Build: Lloyd's k-means on a seeded sample (40 rows per list), assignments by the exact
 * top-1 kernel;
 * search: the nprobe nearest centroids, then an exact scan of their lists. */
#include "gallery/gallery.h"

#include "core/core.h"

#include <math.h>
#include <omp.h>
#include <string.h>

void sn_ivf_free(sn_ivf *ix) {
    if (!ix) return;
    sn_aligned_free(ix->cent);
    free(ix->cn);
    free(ix->off);
    sn_aligned_free(ix->vec);
    free(ix->vn);
    free(ix->ids);
    memset(ix, 0, sizeof *ix);
}

sn_status sn_ivf_build(sn_ctx *ctx, sn_ivf *ix, const float *G, const float *gn, size_t n, int d,
                       int nlist, uint64_t seed, int nt) {
    memset(ix, 0, sizeof *ix);
    if (n == 0) return sn_errf(ctx, SN_ERR_ARG, "IVF index: the gallery is empty");
    if (nlist <= 0) nlist = (int)sqrt((double)n);
    if (nlist < 1) nlist = 1;
    if ((size_t)nlist > n) nlist = (int)n;
    size_t ns = (size_t)nlist * 40 < n ? (size_t)nlist * 40 : n; /* 40 per list, as FAISS advises */
    const size_t D = (size_t)d;
    ix->nlist = nlist;
    ix->d = d;
    ix->n = n;
    ix->cent = sn_aligned_alloc((size_t)nlist * D, sizeof(float));
    ix->cn = malloc(sizeof(float) * (size_t)nlist);
    ix->off = calloc((size_t)nlist + 1, sizeof(size_t));
    ix->vec = sn_aligned_alloc(n * D, sizeof(float));
    ix->vn = malloc(sizeof(float) * n);
    ix->ids = malloc(sizeof(int64_t) * n);
    float *S = sn_aligned_alloc(ns * D, sizeof(float)), *sd = malloc(sizeof(float) * n);
    double *acc = calloc((size_t)nlist * D, sizeof(double));
    int64_t *as = malloc(sizeof(int64_t) * n);
    size_t *cnt = calloc((size_t)nlist, sizeof(size_t)), *pos = calloc((size_t)nlist, sizeof(size_t));
    uint32_t *pick = malloc(sizeof(uint32_t) * n);
    sn_status st = SN_OK;
    if (!ix->cent || !ix->cn || !ix->off || !ix->vec || !ix->vn || !ix->ids || !S || !sd ||
        !acc || !as || !cnt || !pos || !pick) {
        st = sn_errf(ctx, SN_ERR_NOMEM, "IVF index: out of memory for %zu x %d rows, %d lists", n, d,
                     nlist);
        goto done;
    }
    sn_rng rng;
    sn_rng_seed(&rng, seed, 7);
    /* sample: a partial Fisher-Yates shuffle of the row numbers */
    for (size_t i = 0; i < n; i++) pick[i] = (uint32_t)i;
    for (size_t i = 0; i < ns; i++) {
        size_t j = i + sn_rng_below(&rng, (uint32_t)(n - i));
        uint32_t t = pick[i];
        pick[i] = pick[j];
        pick[j] = t;
        memcpy(S + i * D, G + (size_t)pick[i] * D, sizeof(float) * D);
    }
    memcpy(ix->cent, S, sizeof(float) * (size_t)nlist * D); /* the first nlist samples */
    for (int it = 0; it < 8 && !st; it++) {
        sn_row_sqnorms(ix->cent, (size_t)nlist, d, ix->cn);
        st = sn_topk_exact(ctx, ix->cent, ix->cn, (size_t)nlist, d, S, (int)ns, 1, nt, as, sd);
        if (st) break;
        memset(acc, 0, sizeof(double) * (size_t)nlist * D);
        memset(cnt, 0, sizeof(size_t) * (size_t)nlist);
        for (size_t i = 0; i < ns; i++) {
            size_t c = (size_t)as[i];
            cnt[c]++;
            for (size_t j = 0; j < D; j++) acc[c * D + j] += S[i * D + j];
        }
        for (int c = 0; c < nlist; c++) {
            if (cnt[c] == 0) { /* empty list: restart it at a random sample */
                memcpy(ix->cent + (size_t)c * D, S + (size_t)sn_rng_below(&rng, (uint32_t)ns) * D,
                       sizeof(float) * D);
                continue;
            }
            for (size_t j = 0; j < D; j++)
                ix->cent[(size_t)c * D + j] = (float)(acc[(size_t)c * D + j] / (double)cnt[c]);
        }
    }
    if (st) goto done;
    sn_row_sqnorms(ix->cent, (size_t)nlist, d, ix->cn);
    st = sn_topk_exact(ctx, ix->cent, ix->cn, (size_t)nlist, d, G, (int)n, 1, nt, as, sd);
    if (st) goto done;
    for (size_t i = 0; i < n; i++) ix->off[as[i] + 1]++;
    for (int c = 0; c < nlist; c++) ix->off[c + 1] += ix->off[c];
    for (size_t i = 0; i < n; i++) { /* stable: rows keep their order inside a list */
        size_t c = (size_t)as[i], p = ix->off[c] + pos[c]++;
        memcpy(ix->vec + p * D, G + i * D, sizeof(float) * D);
        ix->vn[p] = gn[i];
        ix->ids[p] = (int64_t)i;
    }
done:
    sn_aligned_free(S);
    free(sd);
    free(acc);
    free(as);
    free(cnt);
    free(pos);
    free(pick);
    if (st) sn_ivf_free(ix);
    return st;
}

sn_status sn_ivf_search(sn_ctx *ctx, const sn_ivf *ix, const float *Q, int nq, int k, int nprobe,
                        int nt, int64_t *idx, float *d2) {
    if (k < 1) return sn_errf(ctx, SN_ERR_ARG, "IVF search: need k >= 1");
    if (nprobe <= 0) nprobe = 16;
    if (nprobe > ix->nlist) nprobe = ix->nlist;
    if (nt < 1) nt = 1;
    const size_t D = (size_t)ix->d;
    size_t maxlen = 0;
    for (int c = 0; c < ix->nlist; c++)
        if (ix->off[c + 1] - ix->off[c] > maxlen) maxlen = ix->off[c + 1] - ix->off[c];
    int64_t *probe = malloc(sizeof(int64_t) * (size_t)nq * (size_t)nprobe);
    float *pd = malloc(sizeof(float) * (size_t)nq * (size_t)nprobe);
    float *buf = malloc(sizeof(float) * (size_t)nt * (maxlen > 0 ? maxlen : 1));
    float *hd = malloc(sizeof(float) * (size_t)nt * (size_t)k);
    int64_t *hi = malloc(sizeof(int64_t) * (size_t)nt * (size_t)k);
    sn_status st = SN_OK;
    if (!probe || !pd || !buf || !hd || !hi) {
        st = sn_errf(ctx, SN_ERR_NOMEM, "IVF search: out of memory");
        goto done;
    }
    st = sn_topk_exact(ctx, ix->cent, ix->cn, (size_t)ix->nlist, ix->d, Q, nq, nprobe, nt, probe, pd);
    if (st) goto done;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4) if (nq > 1)
    for (int q = 0; q < nq; q++) {
        const int t = omp_get_thread_num();
        float *bt = buf + (size_t)t * maxlen;
        const float *x = Q + (size_t)q * D;
        float qn = 0.0f;
        for (size_t j = 0; j < D; j++) qn += x[j] * x[j];
        sn_kheap h;
        sn_kheap_init(&h, hd + (size_t)t * (size_t)k, hi + (size_t)t * (size_t)k, k);
        for (int p = 0; p < nprobe; p++) {
            int64_t c = probe[(size_t)q * (size_t)nprobe + (size_t)p];
            if (c < 0) continue;
            size_t a = ix->off[c], len = ix->off[c + 1] - a;
            sn_block_dots(x, 1, ix->vec + a * D, len, ix->d, bt);
            for (size_t r = 0; r < len; r++) {
                float v = qn + ix->vn[a + r] - 2.0f * bt[r];
                bt[r] = v > 0.0f ? v : 0.0f;
            }
            /* indices here are positions in the grouped order; mapped back below */
            sn_topk_scan(&h, bt, len, (int64_t)a);
        }
        sn_kheap_sort(&h);
        for (int j = 0; j < k; j++) {
            idx[(size_t)q * (size_t)k + (size_t)j] = j < h.n ? ix->ids[h.i[j]] : -1;
            d2[(size_t)q * (size_t)k + (size_t)j] = j < h.n ? h.d[j] : INFINITY;
        }
    }
done:
    free(probe);
    free(pd);
    free(buf);
    free(hd);
    free(hi);
    return st;
}
