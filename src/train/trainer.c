/*
 * trainer.c -- the Siamese training loop (pairs + contrastive loss).
 *
 * One step: a batch of B pairs from the batcher (train/batcher.h: sampling,
 * augmentation, normalisation, prepared on a loader thread). The 2B images go
 * through the shared network in ONE forward pass (rows 0..B-1 anchors, B..2B-1
 * partners; batch norm statistics over all 2B), the loss gives dL/de, one backward
 * pass accumulates the gradient of both branches into the single gradient slab, and
 * the optimizer steps over the flat parameter slab. Nothing is allocated per step.
 */
#include "losses/losses.h"
#include "nn/nn.h"
#include "train/batcher.h"
#include "train/train.h"

#include <math.h>
#include <string.h>

#define SN_TEST_PAIRS 10000

void sn_train_config_default(sn_train_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->loss = "contrastive";
    cfg->margin = 5.0f;
    cfg->optimizer = "adam";
    cfg->lr = 1e-3f;
    cfg->momentum = 0.9f;
    cfg->epochs = 1;
    cfg->batch_size = 128;
    cfg->seed = 1;
}

typedef struct {
    int *a, *b;
    uint8_t *same;
    float *y, *dout;
    int n;
} pairset;

static void pairset_free(pairset *p) {
    free(p->a);
    free(p->b);
    free(p->same);
    free(p->y);
    free(p->dout);
    memset(p, 0, sizeof *p);
}

/* Mean contrastive loss over a fixed pair set, eval mode, batches of <= B pairs. */
static double pairs_loss(sn_model *m, const sn_dataset *ds, const pairset *ps, int B, float margin) {
    size_t img = (size_t)ds->c * (size_t)ds->h * (size_t)ds->w;
    double total = 0.0;
    for (int i = 0; i < ps->n; i += B) {
        int b = ps->n - i < B ? ps->n - i : B;
        for (int k = 0; k < b; k++) {
            sn_model_set_input(m, k, ds->pixels + (size_t)ps->a[i + k] * img);
            sn_model_set_input(m, b + k, ds->pixels + (size_t)ps->b[i + k] * img);
            ps->y[k] = ps->same[i + k] ? 0.0f : 1.0f;
        }
        const float *e = sn_model_forward(m, 2 * b, 0);
        total += sn_contrastive_loss(NULL, NULL, e, ps->y, b, m->embed_dim, margin) * b;
    }
    return total / ps->n;
}

static sn_status check_config(sn_ctx *ctx, const sn_model *m, const sn_dataset *train,
                              const sn_dataset *test, const sn_train_config *cfg) {
    if (strcmp(cfg->loss, "contrastive") != 0)
        return sn_errf(ctx, SN_ERR_ARG, "--loss %s: unknown loss (available: contrastive)", cfg->loss);
    if (strcmp(cfg->optimizer, "adam") != 0 && strcmp(cfg->optimizer, "sgd") != 0)
        return sn_errf(ctx, SN_ERR_ARG, "--optimizer %s: unknown (available: adam, sgd)",
                       cfg->optimizer);
    if (!(cfg->lr > 0.0f) || !isfinite(cfg->lr))
        return sn_errf(ctx, SN_ERR_ARG, "--lr must be a positive number");
    if (!(cfg->margin > 0.0f) || !isfinite(cfg->margin))
        return sn_errf(ctx, SN_ERR_ARG, "--margin must be a positive number");
    if (cfg->batch_size < 2 || cfg->batch_size > 65536)
        return sn_errf(ctx, SN_ERR_ARG, "--batch-size %d: must be in 2..65536", cfg->batch_size);
    if (cfg->epochs < 1) return sn_errf(ctx, SN_ERR_ARG, "--epochs must be >= 1");
    const sn_dataset *sets[2] = {train, test};
    for (int i = 0; i < 2; i++) {
        const sn_dataset *d = sets[i];
        if (!d) continue;
        if (d->c != m->in_c || d->h != m->in_h || d->w != m->in_w)
            return sn_errf(ctx, SN_ERR_ARG, "dataset %s images are %dx%dx%d but the model expects %dx%dx%d",
                           d->name, d->c, d->h, d->w, m->in_c, m->in_h, m->in_w);
        if (d->n < 2 || d->n_classes < 2)
            return sn_errf(ctx, SN_ERR_ARG, "dataset %s: need at least 2 images of 2 classes", d->name);
    }
    return SN_OK;
}

static void log_epoch(FILE *f, const sn_epoch_result *r, long step, double pps, double wait_s) {
    if (!f) return;
    fprintf(f, "{\"event\":\"epoch\",\"epoch\":%d,\"step\":%ld,\"train_loss\":%.6g,", r->epoch, step,
            r->train_loss);
    if (isnan(r->test_loss))
        fprintf(f, "\"test_loss\":null,");
    else
        fprintf(f, "\"test_loss\":%.6g,", r->test_loss);
    fprintf(f, "\"seconds\":%.3f,\"pairs_per_s\":%.1f,\"loader_wait_s\":%.3f}\n", r->seconds, pps,
            wait_s);
    fflush(f);
}

sn_status sn_train(sn_ctx *ctx, sn_model *m, const sn_dataset *train, const sn_dataset *test,
                   const sn_train_config *cfg) {
    sn_status st = check_config(ctx, m, train, test, cfg);
    if (st) return st;
    const int B = cfg->batch_size, D = m->embed_dim, nt = sn_ctx_threads(ctx);
    st = sn_model_plan(ctx, m, 2 * B);
    if (st) return st;

    sn_optim opt;
    pairset tp = {0};
    float *de = NULL;
    FILE *log = NULL;
    sn_batcher *bt = NULL;
    memset(&opt, 0, sizeof opt);
    const long spe = train->n >= B ? train->n / B : 1; /* incomplete last batch dropped */
    long total = spe * cfg->epochs;
    if (cfg->max_steps > 0 && cfg->max_steps < total) total = cfg->max_steps;
    sn_augment aug = {cfg->aug_crop_pad, cfg->aug_flip, cfg->aug_erase};
    st = sn_batcher_create(ctx, train, B, total, cfg->seed, m->mean, m->std, &aug, !cfg->no_prefetch,
                           &bt);
    if (st) return st;
    st = sn_optim_init(ctx, &opt, strcmp(cfg->optimizer, "sgd") == 0 ? SN_OPT_SGD : SN_OPT_ADAM,
                       m->n_params, cfg->lr);
    if (st) goto done;
    opt.momentum = cfg->momentum;
    opt.weight_decay = cfg->weight_decay;
    de = sn_aligned_alloc((size_t)2 * (size_t)B * (size_t)D, sizeof(float));
    if (!de) {
        st = sn_errf(ctx, SN_ERR_NOMEM, "out of memory for training buffers");
        goto done;
    }
    if (test) {
        tp.n = SN_TEST_PAIRS;
        tp.a = sn_calloc((size_t)tp.n, sizeof(int));
        tp.b = sn_calloc((size_t)tp.n, sizeof(int));
        tp.same = sn_calloc((size_t)tp.n, 1);
        tp.y = sn_calloc((size_t)B, sizeof(float));
        if (!tp.a || !tp.b || !tp.same || !tp.y) {
            st = sn_errf(ctx, SN_ERR_NOMEM, "out of memory for test pairs");
            goto done;
        }
        st = sn_make_pairs(ctx, test->labels, test->n, test->n_classes, tp.n, 777, tp.a, tp.b,
                           tp.same);
        if (st) goto done;
    }
    if (cfg->log_path) {
        log = fopen(cfg->log_path, "w");
        if (!log) {
            st = sn_errf(ctx, SN_ERR_IO, "%s: cannot open training log for writing", cfg->log_path);
            goto done;
        }
    }

    const size_t img = (size_t)train->c * (size_t)train->h * (size_t)train->w;
    long step = 0;
    double t_start = sn_now();
    for (int ep = 1; ep <= cfg->epochs && step < total; ep++) {
        double t0 = sn_now(), loss_sum = 0.0, wait0 = sn_batcher_wait_seconds(bt);
        long pairs = 0;
        for (long s = 0; s < spe && step < total; s++) {
            const float *x, *y;
            int b = sn_batcher_next(bt, &x, &y);
            if (b == 0) break;
            memcpy(sn_model_input(m), x, sizeof(float) * 2 * (size_t)b * img);
            const float *e = sn_model_forward(m, 2 * b, 1);
            double loss = sn_contrastive_loss(de, NULL, e, y, b, D, cfg->margin);
            if (!isfinite(loss)) {
                st = sn_errf(ctx, SN_ERR_NUMERIC,
                             "training diverged at step %ld (loss %g): lower --lr (now %g) or "
                             "check the input data",
                             step + 1, loss, (double)cfg->lr);
                goto done;
            }
            memset(m->grads, 0, sizeof(float) * m->n_params);
            sn_model_backward(m, 2 * b, de, 0);
            sn_optim_step(&opt, m->params, m->grads, nt);
            step++;
            loss_sum += loss * b;
            pairs += b;
            if (cfg->on_progress) {
                sn_train_progress p = {ep, cfg->epochs, step, spe, total, loss_sum / (double)pairs,
                                       (double)pairs / (sn_now() - t0)};
                cfg->on_progress(cfg->user, &p);
            }
        }
        sn_epoch_result r = {ep, pairs ? loss_sum / (double)pairs : NAN, NAN, 0.0};
        double train_s = sn_now() - t0;
        if (test) r.test_loss = pairs_loss(m, test, &tp, B, cfg->margin);
        r.seconds = sn_now() - t0;
        log_epoch(log, &r, step, (double)pairs / train_s, sn_batcher_wait_seconds(bt) - wait0);
        if (cfg->on_epoch) cfg->on_epoch(cfg->user, &r);
    }
    sn_logf(ctx, SN_LOG_INFO, "trained %ld steps in %.1f s (waited %.2f s for the loader)", step,
            sn_now() - t_start, sn_batcher_wait_seconds(bt));
done:
    if (log) fclose(log);
    sn_batcher_free(bt);
    sn_optim_free(&opt);
    pairset_free(&tp);
    sn_aligned_free(de);
    return st;
}
