/* enroll.c -- the open-set enrollment protocol (simnet eval --protocol enroll): enroll K
 * images of some classes, query the rest of them and every image of the other classes,
 * decide with a threshold, as a deployed gallery would (same top-k kernel). */
#include "core/core.h"
#include "gallery/gallery.h"

#include <math.h>
#include <string.h>

sn_status sn_eval_enroll(sn_ctx *ctx, sn_model *m, const sn_dataset *test, int shots, int n_known,
                         float threshold, uint64_t seed, sn_enroll_result *out) {
    memset(out, 0, sizeof *out);
    const double t0 = sn_now();
    const int nc = test->n_classes;
    if (shots < 1) return sn_errf(ctx, SN_ERR_ARG, "enroll protocol: shots = %d, need >= 1", shots);
    if (nc < 1) return sn_errf(ctx, SN_ERR_ARG, "enroll protocol: dataset %s has no classes", test->name);
    if (n_known <= 0) n_known = nc * 3 / 4 > 0 ? nc * 3 / 4 : 1;
    if (n_known > nc)
        return sn_errf(ctx, SN_ERR_ARG, "enroll protocol: %d known classes but the dataset has %d",
                       n_known, nc);
    if (!(threshold >= 0)) return sn_errf(ctx, SN_ERR_ARG, "enroll protocol: threshold must be >= 0");
    const int D = sn_model_embed_dim(m), n = test->n;
    float *emb = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1) * (size_t)D);
    int *cls = malloc(sizeof(int) * (size_t)nc), *order = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    int *known = calloc((size_t)nc, sizeof(int)), *taken = calloc((size_t)nc, sizeof(int));
    float *G = NULL, *gn = NULL, *Q = NULL, *d2 = NULL;
    int *glab = NULL, *qlab = NULL;
    int64_t *idx = NULL;
    sn_status st = SN_OK;
    if (!emb || !cls || !order || !known || !taken) {
        st = sn_errf(ctx, SN_ERR_NOMEM, "enroll protocol: out of memory for %d images", n);
        goto done;
    }
    if ((st = sn_model_embed(ctx, m, test->pixels, n, emb))) goto done;
    sn_rng rng;
    sn_rng_seed(&rng, seed, 11);
    for (int c = 0; c < nc; c++) cls[c] = c;
    sn_rng_shuffle_int(&rng, cls, nc); /* the first n_known of a seeded order are enrolled */
    for (int c = 0; c < n_known; c++) known[cls[c]] = 1;
    for (int i = 0; i < n; i++) order[i] = i;
    sn_rng_shuffle_int(&rng, order, n); /* which images of a class are enrolled */
    G = malloc(sizeof(float) * (size_t)nc * (size_t)shots * (size_t)D);
    gn = malloc(sizeof(float) * (size_t)nc * (size_t)shots);
    glab = malloc(sizeof(int) * (size_t)nc * (size_t)shots);
    Q = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1) * (size_t)D);
    qlab = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    idx = malloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
    d2 = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    if (!G || !gn || !glab || !Q || !qlab || !idx || !d2) {
        st = sn_errf(ctx, SN_ERR_NOMEM, "enroll protocol: out of memory for %d images", n);
        goto done;
    }
    int ng = 0, nq = 0;
    for (int t = 0; t < n; t++) {
        int i = order[t], c = test->labels[i];
        const float *e = emb + (size_t)i * (size_t)D;
        if (known[c] && taken[c] < shots) {
            taken[c]++;
            memcpy(G + (size_t)ng * (size_t)D, e, sizeof(float) * (size_t)D);
            glab[ng++] = c;
        } else {
            memcpy(Q + (size_t)nq * (size_t)D, e, sizeof(float) * (size_t)D);
            qlab[nq++] = c;
        }
    }
    for (int c = 0; c < nc; c++)
        if (known[c] && taken[c] < shots) {
            st = sn_errf(ctx, SN_ERR_ARG, "enroll protocol: class %d has only %d test images, "
                                          "fewer than the %d to enroll", c, taken[c], shots);
            goto done;
        }
    sn_row_sqnorms(G, (size_t)ng, D, gn);
    if ((st = sn_topk_exact(ctx, G, gn, (size_t)ng, D, Q, nq, 1, sn_ctx_threads(ctx), idx, d2)))
        goto done;
    long kq = 0, uq = 0, top1 = 0, ident = 0, frej = 0, urej = 0;
    for (int q = 0; q < nq; q++) {
        int pred = glab[idx[q]];
        int accept = threshold > 0 && sqrtf(d2[q]) <= threshold;
        if (known[qlab[q]]) {
            kq++;
            top1 += pred == qlab[q];
            ident += accept && pred == qlab[q];
            frej += !accept;
        } else {
            uq++;
            urej += !accept;
        }
    }
    out->shots = shots;
    out->n_known = n_known;
    out->n_unknown = nc - n_known;
    out->n_enrolled = ng;
    out->n_queries_known = (int)kq;
    out->n_queries_unknown = (int)uq;
    out->rank1_accuracy = kq ? (double)top1 / (double)kq : NAN;
    out->identification_rate = kq && threshold > 0 ? (double)ident / (double)kq : NAN;
    out->false_reject_rate = kq && threshold > 0 ? (double)frej / (double)kq : NAN;
    out->unknown_rejection = uq && threshold > 0 ? (double)urej / (double)uq : NAN;
done:
    out->seconds = sn_now() - t0;
    free(emb);
    free(cls);
    free(order);
    free(known);
    free(taken);
    free(G);
    free(gn);
    free(glab);
    free(Q);
    free(qlab);
    free(idx);
    free(d2);
    return st;
}
