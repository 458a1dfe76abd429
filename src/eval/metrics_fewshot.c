/* metrics_fewshot.c -- N-way K-shot episodic evaluation with class prototypes.
 *
 * Items are grouped by label once (one sort of (label << 32 | index) keys): members of
 * class c are order[start[c] .. start[c] + count[c] - 1], classes in ascending label
 * order. Episode e draws from its own PCG stream (seed, e), so episodes are independent:
 * they run in parallel and the per-episode accuracies are summed in episode order, which
 * makes the result identical for every thread count. Per-thread scratch (class and
 * member permutations, prototypes, query list) is allocated once. */
#include "eval/metrics.h"

#include "core/core.h"

#include <math.h>
#include <omp.h>
#include <string.h>

typedef struct {
    int *cls;       /* (n_elig) permutation of the eligible classes */
    int *mem;       /* (max class size) permutation of one class's members */
    int *qidx;      /* (n_way * n_query) query items */
    int *qway;      /* (n_way * n_query) their episode class 0..n_way-1 */
    double *proto;  /* (n_way, dim) prototypes */
} sn__fs_scratch;

typedef struct {
    const float *x;
    int dim, n_way, k_shot, n_query;
    const int *order, *start, *count, *elig;
    int n_elig;
    uint64_t seed;
} sn__fs_task;

/* Accuracy of episode e. */
static double sn__episode(const sn__fs_task *t, int e, sn__fs_scratch *w) {
    sn_rng rng;
    sn_rng_seed(&rng, t->seed, (uint64_t)e);
    int dim = t->dim, nq = 0;
    memcpy(w->cls, t->elig, sizeof(int) * (size_t)t->n_elig);
    for (int a = 0; a < t->n_way; a++) { /* partial Fisher-Yates: classes */
        int r = a + (int)sn_rng_below(&rng, (uint32_t)(t->n_elig - a));
        int tmp = w->cls[a];
        w->cls[a] = w->cls[r];
        w->cls[r] = tmp;
        int c = w->cls[a], cnt = t->count[c];
        int m = t->k_shot + (cnt - t->k_shot < t->n_query ? cnt - t->k_shot : t->n_query);
        memcpy(w->mem, t->order + t->start[c], sizeof(int) * (size_t)cnt);
        for (int s = 0; s < m; s++) { /* partial Fisher-Yates: supports, then queries */
            int u = s + (int)sn_rng_below(&rng, (uint32_t)(cnt - s));
            int v = w->mem[s];
            w->mem[s] = w->mem[u];
            w->mem[u] = v;
        }
        double *p = w->proto + (size_t)a * dim;
        for (int j = 0; j < dim; j++) p[j] = 0.0;
        for (int s = 0; s < t->k_shot; s++) {
            const float *xs = t->x + (size_t)w->mem[s] * dim;
            for (int j = 0; j < dim; j++) p[j] += xs[j];
        }
        for (int j = 0; j < dim; j++) p[j] /= (double)t->k_shot;
        for (int s = t->k_shot; s < m; s++) {
            w->qidx[nq] = w->mem[s];
            w->qway[nq++] = a;
        }
    }
    int correct = 0;
    for (int i = 0; i < nq; i++) {
        const float *xq = t->x + (size_t)w->qidx[i] * dim;
        int best = 0;
        double bd = INFINITY;
        for (int a = 0; a < t->n_way; a++) {
            const double *p = w->proto + (size_t)a * dim;
            double d = 0.0;
            for (int j = 0; j < dim; j++) {
                double z = (double)xq[j] - p[j];
                d += z * z;
            }
            /* ties: the smaller label (class ids ascend with the label) */
            if (d < bd || (d == bd && w->cls[a] < w->cls[best])) {
                bd = d;
                best = a;
            }
        }
        correct += best == w->qway[i];
    }
    return (double)correct / (double)nq;
}

sn_status sn_metric_fewshot(sn_ctx *ctx, const float *x, const int32_t *lab, int n, int dim,
                            int n_way, int k_shot, int n_query, int episodes, uint64_t seed,
                            double *mean_acc, double *ci95) {
    if (mean_acc) *mean_acc = NAN;
    if (ci95) *ci95 = NAN;
    if (!x || !lab) return sn_errf(ctx, SN_ERR_ARG, "metric_fewshot: NULL x or labels");
    if (n < 1 || dim < 1 || n_way < 2 || k_shot < 1 || n_query < 1 || episodes < 1)
        return sn_errf(ctx, SN_ERR_ARG,
                       "metric_fewshot: need n >= 1, dim >= 1, n_way >= 2, k_shot >= 1, "
                       "n_query >= 1, episodes >= 1 (got n=%d dim=%d n_way=%d k_shot=%d "
                       "n_query=%d episodes=%d)",
                       n, dim, n_way, k_shot, n_query, episodes);
    if (!sn_metric_all_finite(x, (size_t)n * (size_t)dim))
        return sn_errf(ctx, SN_ERR_NUMERIC, "metric_fewshot: embeddings contain NaN/Inf");
    int nt = ctx ? sn_ctx_threads(ctx) : 1;
    if (nt > episodes) nt = episodes;

    uint64_t *key = sn_calloc((size_t)n, sizeof *key);
    int *order = sn_calloc((size_t)n, sizeof *order), *start = sn_calloc((size_t)n, sizeof *start);
    int *count = sn_calloc((size_t)n, sizeof *count), *elig = sn_calloc((size_t)n, sizeof *elig);
    double *acc = sn_calloc((size_t)episodes, sizeof *acc);
    sn__fs_scratch *ws = sn_calloc((size_t)nt, sizeof *ws);
    sn_status st = SN_OK;
    if (!key || !order || !start || !count || !elig || !acc || !ws) {
        st = sn_errf(ctx, SN_ERR_NOMEM, "metric_fewshot: out of memory (n=%d)", n);
        goto done;
    }
    for (int i = 0; i < n; i++)
        key[i] = ((uint64_t)((uint32_t)lab[i] ^ 0x80000000u) << 32) | (uint32_t)i;
    sn_metric_sort_u64(key, (size_t)n);
    int ncls = 0, n_elig = 0, maxcnt = 0;
    for (int i = 0; i < n; i++) {
        order[i] = (int)(uint32_t)key[i];
        if (i == 0 || (key[i] >> 32) != (key[i - 1] >> 32)) start[ncls++] = i;
        count[ncls - 1]++;
    }
    for (int c = 0; c < ncls; c++) {
        if (count[c] >= k_shot + 1) elig[n_elig++] = c;
        if (count[c] > maxcnt) maxcnt = count[c];
    }
    if (n_elig < n_way) {
        st = sn_errf(ctx, SN_ERR_ARG,
                     "metric_fewshot: %d of %d classes have >= k_shot + 1 = %d items, "
                     "n_way=%d needs at least %d",
                     n_elig, ncls, k_shot + 1, n_way, n_way);
        goto done;
    }
    size_t nqmax = (size_t)n_way * (size_t)n_query;
    for (int t = 0; t < nt; t++) {
        ws[t].cls = sn_calloc((size_t)n_elig, sizeof(int));
        ws[t].mem = sn_calloc((size_t)maxcnt, sizeof(int));
        ws[t].qidx = sn_calloc(nqmax, sizeof(int));
        ws[t].qway = sn_calloc(nqmax, sizeof(int));
        ws[t].proto = sn_calloc((size_t)n_way * (size_t)dim, sizeof(double));
        if (!ws[t].cls || !ws[t].mem || !ws[t].qidx || !ws[t].qway || !ws[t].proto) {
            st = sn_errf(ctx, SN_ERR_NOMEM,
                         "metric_fewshot: out of memory for scratch (n_way=%d n_query=%d)",
                         n_way, n_query);
            goto done;
        }
    }
    sn__fs_task task = {x, dim, n_way, k_shot, n_query, order, start, count, elig, n_elig, seed};
#pragma omp parallel for num_threads(nt) schedule(dynamic, 16)
    for (int e = 0; e < episodes; e++) acc[e] = sn__episode(&task, e, &ws[omp_get_thread_num()]);

    double s = 0.0, v = 0.0;
    for (int e = 0; e < episodes; e++) s += acc[e];
    double mean = s / episodes;
    for (int e = 0; e < episodes; e++) v += (acc[e] - mean) * (acc[e] - mean);
    if (mean_acc) *mean_acc = mean;
    if (ci95) *ci95 = 1.96 * sqrt(v / episodes) / sqrt((double)episodes);
done:
    for (int t = 0; ws && t < nt; t++) {
        free(ws[t].cls);
        free(ws[t].mem);
        free(ws[t].qidx);
        free(ws[t].qway);
        free(ws[t].proto);
    }
    free(ws);
    free(key);
    free(order);
    free(start);
    free(count);
    free(elig);
    free(acc);
    return st;
}
