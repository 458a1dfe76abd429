/*
 * evaluate.c -- sn_evaluate / sn_calibrate_threshold: embed a split, then
 * verification over balanced pairs, retrieval (self excluded) and 1-NN accuracy.
 */
#include "eval/calibrate.h"
#include "eval/metrics.h"
#include "nn/nn.h"
#include "train/train.h"

#include <math.h>
#include <string.h>

static sn_status embed_all(sn_ctx *ctx, sn_model *m, const sn_dataset *ds, float **out) {
    if (ds->c != m->in_c || ds->h != m->in_h || ds->w != m->in_w)
        return sn_errf(ctx, SN_ERR_ARG, "dataset %s images are %dx%dx%d but the model expects %dx%dx%d",
                       ds->name, ds->c, ds->h, ds->w, m->in_c, m->in_h, m->in_w);
    *out = sn_aligned_alloc((size_t)ds->n * (size_t)m->embed_dim, sizeof(float));
    if (!*out) return sn_errf(ctx, SN_ERR_NOMEM, "out of memory embedding %d images", ds->n);
    sn_status st = sn_model_embed(ctx, m, ds->pixels, ds->n, *out);
    if (st) {
        sn_aligned_free(*out);
        *out = NULL;
    }
    return st;
}

sn_status sn_evaluate(sn_ctx *ctx, sn_model *m, const sn_dataset *test, const sn_dataset *ref,
                      int n_pairs, uint64_t seed, sn_eval_result *r) {
    memset(r, 0, sizeof *r);
    if (n_pairs < 2) return sn_errf(ctx, SN_ERR_ARG, "need at least 2 verification pairs");
    if (test->n < 2) return sn_errf(ctx, SN_ERR_ARG, "test set %s has fewer than 2 images", test->name);
    double t0 = sn_now();
    const int D = m->embed_dim, nt = sn_ctx_threads(ctx);
    float *emb = NULL, *remb = NULL, *dist = NULL;
    uint8_t *same = NULL;
    sn_status st = embed_all(ctx, m, test, &emb);
    if (st) return st;
    dist = sn_calloc((size_t)n_pairs, sizeof(float));
    same = sn_calloc((size_t)n_pairs, 1);
    if (!dist || !same) {
        st = sn_errf(ctx, SN_ERR_NOMEM, "out of memory for %d pairs", n_pairs);
        goto done;
    }
    st = sn_pair_distances_emb(ctx, test, emb, D, n_pairs, seed, dist, same);
    if (st) goto done;
    r->n_pairs = n_pairs;
    r->roc_auc = sn_metric_roc_auc(dist, same, n_pairs);
    r->eer = sn_metric_eer(dist, same, n_pairs, NULL);
    r->best_accuracy = sn_metric_best_accuracy(dist, same, n_pairs, &r->best_threshold);
    r->verification_accuracy = m->threshold > 0
                                   ? sn_metric_accuracy_at(dist, same, n_pairs, m->threshold)
                                   : NAN;
    st = sn_metric_retrieval(ctx, emb, test->labels, test->n, D, nt, &r->precision_at_1,
                             &r->r_precision, &r->mean_average_precision_at_r);
    if (st) goto done;
    r->knn_accuracy = NAN;
    if (ref) {
        st = embed_all(ctx, m, ref, &remb);
        if (st) goto done;
        st = sn_metric_knn_accuracy(ctx, emb, test->labels, test->n, remb, ref->labels, ref->n, D,
                                    1, nt, &r->knn_accuracy);
        if (st) goto done;
    }
    r->seconds = sn_now() - t0;
done:
    sn_aligned_free(emb);
    sn_aligned_free(remb);
    free(dist);
    free(same);
    return st;
}

sn_status sn_calibrate_threshold(sn_ctx *ctx, sn_model *m, const sn_dataset *val, int n_pairs,
                                 uint64_t seed, float *threshold) {
    sn_operating_point op;
    sn_status st = sn_calibrate(ctx, m, val, n_pairs, seed, "accuracy", &op);
    if (!st) *threshold = op.threshold;
    return st;
}
