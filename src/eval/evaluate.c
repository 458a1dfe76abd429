/*
 * evaluate.c -- sn_evaluate: embed the test (and reference) split, then every metric of
 * docs/metrics.md: verification over balanced pairs, retrieval, clustering, k-NN,
 * few-shot episodes and, on request, open-set identification.
 */
#include "eval/calibrate.h"
#include "eval/metrics.h"
#include "nn/nn.h"
#include "train/train.h"

#include <math.h>
#include <string.h>

void sn_eval_opts_default(sn_eval_opts *o) {
    memset(o, 0, sizeof *o);
    o->n_pairs = 10000;
    o->seed = 12345;
    o->knn_k = 1;
    o->episodes = 1000;
    o->n_way = 5;
    o->n_query = 15;
    o->clustering = 1;
}

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

/* Open set: classes < n_classes/2 are enrolled with their reference images as the
 * gallery; every test image is a probe, known iff its class is enrolled. */
static sn_status open_set(sn_ctx *ctx, const float *emb, const sn_dataset *test, const float *remb,
                          const sn_dataset *ref, int D, int nt, sn_eval_result *r) {
    int enrolled = test->n_classes / 2, ng = 0;
    if (enrolled < 1) return sn_errf(ctx, SN_ERR_ARG, "open-set evaluation needs at least 2 classes");
    for (int i = 0; i < ref->n; i++) ng += ref->labels[i] < enrolled;
    float *g = sn_aligned_alloc((size_t)(ng ? ng : 1) * (size_t)D, sizeof(float));
    int32_t *gl = sn_calloc((size_t)(ng ? ng : 1), sizeof(int32_t));
    uint8_t *known = sn_calloc((size_t)test->n, 1);
    sn_status st = !g || !gl || !known ? sn_errf(ctx, SN_ERR_NOMEM, "out of memory") : SN_OK;
    if (!st && ng == 0) st = sn_errf(ctx, SN_ERR_ARG, "open set: the reference set has no image of "
                                                      "the enrolled classes 0..%d", enrolled - 1);
    for (int i = 0, k = 0; !st && i < ref->n; i++)
        if (ref->labels[i] < enrolled) {
            memcpy(g + (size_t)k * (size_t)D, remb + (size_t)i * (size_t)D, sizeof(float) * (size_t)D);
            gl[k++] = ref->labels[i];
        }
    for (int i = 0; !st && i < test->n; i++) known[i] = test->labels[i] < enrolled;
    double thr;
    if (!st)
        st = sn_metric_dir_at_far(ctx, g, gl, ng, emb, test->labels, known, test->n, D, 1e-2, nt,
                                  &r->dir_at_far_1e2, &thr);
    sn_aligned_free(g);
    free(gl);
    free(known);
    return st;
}

sn_status sn_evaluate_embeddings(sn_ctx *ctx, const float *emb, const sn_dataset *test,
                                 const float *remb, const sn_dataset *ref, int D, float threshold,
                                 const sn_eval_opts *o, sn_eval_result *r) {
    const double nan = NAN;
    memset(r, 0, sizeof *r);
    r->verification_accuracy = r->knn_accuracy = r->dir_at_far_1e2 = nan;
    r->nmi = r->ami = r->fewshot_1shot = r->fewshot_1shot_ci95 = nan;
    r->fewshot_5shot = r->fewshot_5shot_ci95 = nan;
    if (o->n_pairs < 2) return sn_errf(ctx, SN_ERR_ARG, "need at least 2 verification pairs");
    if (test->n < 2) return sn_errf(ctx, SN_ERR_ARG, "test set %s has fewer than 2 images", test->name);
    if (o->reference && !ref) return sn_errf(ctx, SN_ERR_ARG, "retrieval against a reference set needs one");
    const int nt = sn_ctx_threads(ctx);
    double t0 = sn_now();
    if (o->dba_k < 0) return sn_errf(ctx, SN_ERR_ARG, "DBA neighbours %d: must be >= 0", o->dba_k);
    float *daq = NULL, *dar = NULL; /* DBA embeddings of the queries / the references */
    float *dist = sn_calloc((size_t)o->n_pairs, sizeof(float));
    uint8_t *same = sn_calloc((size_t)o->n_pairs, 1);
    sn_status st = !dist || !same ? sn_errf(ctx, SN_ERR_NOMEM, "out of memory for %d pairs", o->n_pairs)
                                  : SN_OK;
    if (!st) st = sn_pair_distances_emb(ctx, test, emb, D, o->n_pairs, o->seed, dist, same);
    if (st) goto done;
    r->n_pairs = o->n_pairs;
    sn_verify_metrics vm;
    st = sn_metric_verification(ctx, dist, same, o->n_pairs, &vm);
    if (st) goto done;
    r->roc_auc = vm.roc_auc;
    r->eer = vm.eer;
    r->tar_at_far_1e2 = vm.tar_at_far_1e2;
    r->tar_at_far_1e3 = vm.tar_at_far_1e3;
    r->best_accuracy = vm.best_accuracy;
    r->best_threshold = vm.best_threshold;
    if (threshold > 0) r->verification_accuracy = sn_metric_accuracy_at(dist, same, o->n_pairs, threshold);

    sn_retrieval_result rr;
    /* retrieval ranks the queries (test) against rset: the references, or the test set itself
     * with each query left out; with DBA, both sides' augmented embeddings */
    const sn_dataset *rset = o->reference ? ref : test;
    const float *rq = emb, *rref = o->reference ? remb : emb;
    if (o->dba_k > 1) {
        const int nr = rset->n;
        daq = sn_calloc((size_t)test->n * (size_t)D, sizeof *daq);
        dar = o->reference ? sn_calloc((size_t)nr * (size_t)D, sizeof *dar) : NULL;
        if (!daq || (o->reference && !dar)) {
            st = sn_errf(ctx, SN_ERR_NOMEM, "out of memory for DBA embeddings (%d x %d)", nr, D);
            goto done;
        }
        st = sn_metric_dba(ctx, emb, test->n, rref, nr, D, o->dba_k, !o->reference, nt, daq);
        if (!st && o->reference) st = sn_metric_dba(ctx, remb, nr, remb, nr, D, o->dba_k, 1, nt, dar);
        if (st) goto done;
        rq = daq;
        rref = o->reference ? dar : daq;
    }
    st = sn_metric_retrieval_ex(ctx, rq, test->labels, test->n, rref, rset->labels, rset->n, D,
                                !o->reference, nt, &rr);
    if (st) goto done;
    r->precision_at_1 = rr.precision_at_1;
    r->recall_at_1 = rr.recall_at_1;
    r->recall_at_5 = rr.recall_at_5;
    r->recall_at_10 = rr.recall_at_10;
    r->r_precision = rr.r_precision;
    r->mean_average_precision_at_r = rr.map_at_r;
    if (o->clustering) {
        st = sn_metric_clustering(ctx, emb, test->labels, test->n, D, test->n_classes, o->seed, nt,
                                  &r->nmi, &r->ami);
        if (st) goto done;
    }
    if (ref) {
        st = sn_metric_knn_accuracy(ctx, emb, test->labels, test->n, remb, ref->labels, ref->n, D,
                                    o->knn_k, nt, &r->knn_accuracy);
        if (st) goto done;
    }
    if (o->episodes > 0 && test->n_classes >= o->n_way) {
        st = sn_metric_fewshot(ctx, emb, test->labels, test->n, D, o->n_way, 1, o->n_query,
                               o->episodes, o->seed, &r->fewshot_1shot, &r->fewshot_1shot_ci95);
        if (!st)
            st = sn_metric_fewshot(ctx, emb, test->labels, test->n, D, o->n_way, 5, o->n_query,
                                   o->episodes, o->seed + 1, &r->fewshot_5shot, &r->fewshot_5shot_ci95);
        if (st) goto done;
    }
    if (o->open_set) {
        if (!ref) {
            st = sn_errf(ctx, SN_ERR_ARG, "open-set evaluation needs a reference set to enroll from");
            goto done;
        }
        st = open_set(ctx, emb, test, remb, ref, D, nt, r);
        if (st) goto done;
    }
    r->seconds = sn_now() - t0;
done:
    free(dist);
    free(same);
    free(daq);
    free(dar);
    return st;
}

sn_status sn_evaluate(sn_ctx *ctx, sn_model *m, const sn_dataset *test, const sn_dataset *ref,
                      const sn_eval_opts *opts, sn_eval_result *r) {
    double t0 = sn_now();
    float *emb = NULL, *remb = NULL;
    sn_status st = embed_all(ctx, m, test, &emb);
    if (!st && ref) st = embed_all(ctx, m, ref, &remb);
    if (!st)
        st = sn_evaluate_embeddings(ctx, emb, test, remb, ref, m->embed_dim, m->threshold, opts, r);
    if (!st) r->seconds = sn_now() - t0;
    sn_aligned_free(emb);
    sn_aligned_free(remb);
    return st;
}

sn_status sn_calibrate_threshold(sn_ctx *ctx, sn_model *m, const sn_dataset *val, int n_pairs,
                                 uint64_t seed, float *threshold) {
    sn_operating_point op;
    sn_status st = sn_calibrate(ctx, m, val, n_pairs, seed, "accuracy", &op);
    if (!st) *threshold = op.threshold;
    return st;
}
