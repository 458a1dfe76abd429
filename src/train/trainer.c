/*
 * trainer.c -- the training loop: pair losses on pair batches, batch and proxy losses
 * on P x K batches; optimizer, schedule, EMA, clipping, checkpoints, health.
 *
 * One step: a batch from the batcher (train/batcher.h: sampling, augmentation,
 * normalisation, prepared on a loader thread). Pair form: the 2B images go through the
 * shared network in ONE forward pass (rows 0..B-1 anchors, B..2B-1 partners; batch
 * norm statistics over all 2B). P x K form: the P*K images in one pass. The loss gives
 * dL/de, one backward pass accumulates into the single gradient slab, the gradient is
 * checked (NaN/Inf) and optionally clipped, the optimizer steps over the flat parameter
 * slab at the scheduled LR, then the EMA. Nothing is allocated per step.
 *
 * Resume: everything that evolves (params, BN buffers, optimizer state, EMA, proxy head,
 * counters) is in the checkpoint; batches depend only on (seed, step), so a resumed run
 * replays exactly the steps the interrupted one would have taken.
 */
#include "losses/batch_losses.h"
#include "losses/losses.h"
#include "nn/nn.h"
#include "train/batcher.h"
#include "train/checkpoint.h"
#include "dist/dp.h"
#include "train/health.h"
#include "train/lossfn.h"
#include "train/train.h"

#include <math.h>
#include <string.h>
#include <zlib.h>

#define SN_TEST_PAIRS 10000
#define SN_TEST_IMAGES 10000 /* P x K test batches: about this many images */
#define SN_PK_MAX 4096       /* P*K cap: the batch losses need O((P*K)^2) scratch */
#define SN_CONF_CAP (SN_SPEC_CAP + 4096)

void sn_train_config_default(sn_train_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->loss = "contrastive";
    cfg->margin = 0.0f; /* the loss's default: contrastive 5 */
    cfg->optimizer = "adam";
    cfg->lr = 1e-3f;
    cfg->momentum = 0.9f;
    cfg->epochs = 1;
    cfg->batch_size = 128;
    cfg->seed = 1;
}

/* Resolved run description. */
typedef struct {
    const sn_lossfn *lf;
    sn_loss_params lp;
    int pk, P, K, rows; /* rows: images per forward pass */
    int C;              /* proxy classes */
    sn_optim_kind opt;
    sn_sched_kind sched;
    float gamma;
    int step_epochs;
} runspec;

typedef struct {
    int *a, *b;
    uint8_t *same;
    float *y;
    int n;
} pairset;

static void pairset_free(pairset *p) {
    free(p->a);
    free(p->b);
    free(p->same);
    free(p->y);
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

/* ------------------------------------------------------------------ config */
static int bad_num(float x) { return !isfinite(x) || x < 0.0f; }

static sn_status resolve(sn_ctx *ctx, const sn_model *m, const sn_dataset *train,
                         const sn_dataset *test, const sn_train_config *cfg, runspec *rs) {
    memset(rs, 0, sizeof *rs);
    if (!cfg->loss || !(rs->lf = sn_lossfn_find(cfg->loss)))
        return sn_errf(ctx, SN_ERR_ARG, "--loss %s: unknown loss (available: %s)",
                       cfg->loss ? cfg->loss : "(null)", sn_lossfn_names());
    if (cfg->curriculum != 0.0f && !strcmp(rs->lf->name, "triplet")) {
        if (cfg->miner)
            return sn_errf(ctx, SN_ERR_ARG, "--curriculum chooses the negatives itself: drop --miner");
        rs->lf = sn_lossfn_find("triplet-curriculum");
    }
    const sn_lossfn *lf = rs->lf;
    sn_loss_params *lp = &rs->lp;
    *lp = lf->defaults;
    const unsigned o = lf->opts;
    struct {
        int set;
        unsigned flag;
        const char *opt;
    } given[] = {
        {cfg->margin != 0.0f, SN_LOPT_MARGIN, "--margin"},
        {cfg->distance != NULL, SN_LOPT_DISTANCE, "--distance"},
        {cfg->miner != NULL, SN_LOPT_MINER, "--miner"},
        {cfg->temperature != 0.0f, SN_LOPT_TEMPERATURE, "--temperature"},
        {cfg->scale != 0.0f, SN_LOPT_SCALE, "--scale"},
        {cfg->angle_deg != 0.0f, SN_LOPT_ANGLE, "--angle"},
        {cfg->pos_margin != 0.0f, SN_LOPT_POS_MARGIN, "--pos-margin"},
        {cfg->curriculum != 0.0f, SN_LOPT_CURRICULUM, "--curriculum"},
        {cfg->label_smoothing != 0.0f, SN_LOPT_SMOOTH, "--label-smoothing"},
    };
    for (size_t i = 0; i < sizeof given / sizeof given[0]; i++)
        if (given[i].set && !(o & given[i].flag))
            return sn_errf(ctx, SN_ERR_ARG, "%s does not apply to --loss %s", given[i].opt, lf->name);
    if (bad_num(cfg->margin) || bad_num(cfg->pos_margin) || bad_num(cfg->temperature) ||
        bad_num(cfg->scale) || bad_num(cfg->angle_deg))
        return sn_errf(ctx, SN_ERR_ARG,
                       "--margin, --pos-margin, --temperature, --scale and --angle must be "
                       "positive numbers");
    if (cfg->margin > 0) lp->margin = cfg->margin;
    if (cfg->pos_margin > 0) lp->pos_margin = cfg->pos_margin;
    if (cfg->temperature > 0) lp->temperature = cfg->temperature;
    if (cfg->scale > 0) lp->scale = cfg->scale;
    if (cfg->angle_deg > 0) lp->angle_deg = cfg->angle_deg;
    if (cfg->angle_deg > 0 && cfg->angle_deg >= 90.0f)
        return sn_errf(ctx, SN_ERR_ARG, "--angle %g: must be in (0, 90) degrees", (double)cfg->angle_deg);
    if (cfg->curriculum != 0.0f) {
        if (!(cfg->curriculum > 0.0f && cfg->curriculum <= 1.0f))
            return sn_errf(ctx, SN_ERR_ARG, "--curriculum %g: the ramp must be a fraction in (0, 1]",
                           (double)cfg->curriculum);
        lp->curriculum = cfg->curriculum;
    }
    if (cfg->label_smoothing != 0.0f) {
        if (!(cfg->label_smoothing > 0.0f && cfg->label_smoothing < 1.0f))
            return sn_errf(ctx, SN_ERR_ARG, "--label-smoothing %g: must be in [0, 1), e.g. 0.1",
                           (double)cfg->label_smoothing);
        lp->smooth = cfg->label_smoothing;
    }
    if (cfg->distance && (lp->distance = sn_distance_from_name(cfg->distance)) < 0)
        return sn_errf(ctx, SN_ERR_ARG, "--distance %s: unknown (available: euclidean, sqeuclidean, cosine)",
                       cfg->distance);
    if (cfg->miner && (lp->miner = sn_miner_from_name(cfg->miner)) < 0)
        return sn_errf(ctx, SN_ERR_ARG, "--miner %s: unknown (available: all, hard, semihard)", cfg->miner);
    if ((o & SN_LOPT_POS_MARGIN) && !(lp->pos_margin < lp->margin))
        return sn_errf(ctx, SN_ERR_ARG, "--pos-margin %g must be below the negative --margin %g",
                       (double)lp->pos_margin, (double)lp->margin);

    if (!cfg->optimizer || (int)(rs->opt = (sn_optim_kind)sn_optim_kind_from_name(cfg->optimizer)) < 0)
        return sn_errf(ctx, SN_ERR_ARG, "--optimizer %s: unknown (available: adam, adamw, sgd)",
                       cfg->optimizer ? cfg->optimizer : "(null)");
    if (cfg->nesterov && (rs->opt != SN_OPT_SGD || cfg->momentum <= 0.0f))
        return sn_errf(ctx, SN_ERR_ARG, "--nesterov needs --optimizer sgd with --momentum > 0");
    if (!(cfg->lr > 0.0f) || !isfinite(cfg->lr))
        return sn_errf(ctx, SN_ERR_ARG, "--lr must be a positive number");
    if (!(cfg->momentum >= 0.0f && cfg->momentum < 1.0f))
        return sn_errf(ctx, SN_ERR_ARG, "--momentum must be in [0, 1)");
    if (!(cfg->weight_decay >= 0.0f) || !isfinite(cfg->weight_decay))
        return sn_errf(ctx, SN_ERR_ARG, "--weight-decay must be >= 0");
    const char *sched = cfg->schedule ? cfg->schedule : "constant";
    if ((int)(rs->sched = (sn_sched_kind)sn_sched_kind_from_name(sched)) < 0)
        return sn_errf(ctx, SN_ERR_ARG, "--schedule %s: unknown (available: constant, step, cosine, onecycle, triangle)",
                       sched);
    if (!(cfg->warmup_epochs >= 0.0f) || !isfinite(cfg->warmup_epochs) ||
        cfg->warmup_epochs > (float)cfg->epochs)
        return sn_errf(ctx, SN_ERR_ARG, "--warmup-epochs %g: must be in 0..--epochs (%d)",
                       (double)cfg->warmup_epochs, cfg->epochs);
    if (cfg->lr_step_epochs < 0 || !(cfg->lr_gamma >= 0.0f && cfg->lr_gamma <= 1.0f))
        return sn_errf(ctx, SN_ERR_ARG, "--lr-step-epochs must be >= 0 and --lr-gamma in [0, 1]");
    if ((cfg->lr_step_epochs || cfg->lr_gamma != 0.0f) && rs->sched != SN_SCHED_STEP)
        return sn_errf(ctx, SN_ERR_ARG, "--lr-step-epochs / --lr-gamma need --schedule step");
    rs->step_epochs = cfg->lr_step_epochs ? cfg->lr_step_epochs : 1;
    rs->gamma = cfg->lr_gamma != 0.0f ? cfg->lr_gamma : 0.1f;
    if (cfg->lookahead < 0 || (cfg->lookahead > 0 && cfg->ema_decay > 0))
        return sn_errf(ctx, SN_ERR_ARG, "--lookahead %d: must be >= 0 steps, and not with --ema "
                       "(both keep the slow weights)", cfg->lookahead);
    if (!(cfg->bn_lr_scale >= 0.0f) || !isfinite(cfg->bn_lr_scale) || cfg->bn_lr_scale > 1e4f)
        return sn_errf(ctx, SN_ERR_ARG, "--bn-lr-scale %g: must be a positive factor (<= 1e4)",
                       (double)cfg->bn_lr_scale);
    if (!(cfg->ema_decay >= 0.0f && cfg->ema_decay < 1.0f))
        return sn_errf(ctx, SN_ERR_ARG, "--ema %g: the decay must be in [0, 1), e.g. 0.999",
                       (double)cfg->ema_decay);
    if (!(cfg->clip_grad_norm >= 0.0f) || !isfinite(cfg->clip_grad_norm))
        return sn_errf(ctx, SN_ERR_ARG, "--clip-grad-norm must be a positive number");
    if (cfg->batch_size < 2 || cfg->batch_size > 65536)
        return sn_errf(ctx, SN_ERR_ARG, "--batch-size %d: must be in 2..65536", cfg->batch_size);
    if (cfg->epochs < 1) return sn_errf(ctx, SN_ERR_ARG, "--epochs must be >= 1");
    if (cfg->max_steps < 0) return sn_errf(ctx, SN_ERR_ARG, "--max-steps must be >= 0");
    if (cfg->stop_after_epoch < 0) return sn_errf(ctx, SN_ERR_ARG, "--stop-after-epoch must be >= 0");
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
    rs->pk = lf->kind != SN_LOSSK_PAIR;
    if (!rs->pk) {
        if (cfg->classes_per_batch || cfg->per_class)
            return sn_errf(ctx, SN_ERR_ARG,
                           "--classes-per-batch / --per-class apply to P x K losses, not --loss %s "
                           "(it uses --batch-size pairs)", lf->name);
        rs->rows = 2 * cfg->batch_size;
        return SN_OK;
    }
    rs->P = cfg->classes_per_batch ? cfg->classes_per_batch
                                   : (train->n_classes < 16 ? train->n_classes : 16);
    rs->K = cfg->per_class ? cfg->per_class : 4;
    if (rs->P < 2 || rs->P > train->n_classes || rs->K < 2 || (long)rs->P * rs->K > SN_PK_MAX)
        return sn_errf(ctx, SN_ERR_ARG,
                       "--classes-per-batch %d --per-class %d: need 2 <= P <= %d (the classes of %s), "
                       "K >= 2 (positives) and P*K <= %d",
                       rs->P, rs->K, train->n_classes, train->name, SN_PK_MAX);
    rs->rows = rs->P * rs->K;
    rs->C = lf->kind == SN_LOSSK_PROXY ? train->n_classes : 0;
    return SN_OK;
}

/* The configuration a checkpoint must match, as "key=value" lines. */
static void build_conf(char *buf, size_t cap, const sn_model *m, const sn_dataset *train,
                       const sn_train_config *cfg, const runspec *rs) {
    size_t n = 0;
#define ADD(...)                                                                       \
    do {                                                                               \
        if (n < cap) n += (size_t)snprintf(buf + n, cap - n, __VA_ARGS__);            \
    } while (0)
    ADD("arch=");
    for (const char *p = m->spec; *p; p++) ADD("%c", *p == '\n' || *p == '=' ? ';' : *p);
    ADD("\ninput=%dx%dx%d\nembed_dim=%d\nn_params=%zu\nn_bufs=%zu\n", m->in_c, m->in_h, m->in_w,
        m->embed_dim, m->n_params, m->n_bufs);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, (const Bytef *)train->labels, (uInt)((size_t)train->n * sizeof(int32_t)));
    size_t px = (size_t)train->n * (size_t)train->c * (size_t)train->h * (size_t)train->w;
    for (size_t off = 0; off < px; off += (size_t)1 << 30) {
        size_t k = px - off < ((size_t)1 << 30) ? px - off : ((size_t)1 << 30);
        crc = crc32(crc, train->pixels + off, (uInt)k);
    }
    ADD("train_data=%d images, %d classes, crc %08lx\n", train->n, train->n_classes, (unsigned long)crc);
    const sn_loss_params *lp = &rs->lp;
    const unsigned o = rs->lf->opts;
    ADD("loss=%s\n", rs->lf->name);
    if (o & SN_LOPT_MARGIN) ADD("margin=%.9g\n", (double)lp->margin);
    if (o & SN_LOPT_POS_MARGIN) ADD("pos_margin=%.9g\n", (double)lp->pos_margin);
    if (o & SN_LOPT_DISTANCE) ADD("distance=%s\n", sn_distance_name(lp->distance));
    if ((o & SN_LOPT_MINER) && rs->lf->fn && strcmp(rs->lf->name, "triplet") == 0)
        ADD("miner=%s\n", sn_miner_name(lp->miner));
    if (o & SN_LOPT_TEMPERATURE) ADD("temperature=%.9g\n", (double)lp->temperature);
    if (o & SN_LOPT_SCALE) ADD("scale=%.9g\n", (double)lp->scale);
    if (o & SN_LOPT_ANGLE) ADD("angle=%.9g\n", (double)lp->angle_deg);
    if (lp->curriculum > 0) ADD("curriculum=%.9g\n", (double)lp->curriculum);
    if (lp->smooth > 0) ADD("label_smoothing=%.9g\n", (double)lp->smooth);
    if (rs->pk)
        ADD("batch=P %d x K %d\n", rs->P, rs->K);
    else
        ADD("batch=%d pairs\n", cfg->batch_size);
    ADD("seed=%llu\noptimizer=%s\nlr=%.9g\n", (unsigned long long)cfg->seed, cfg->optimizer,
        (double)cfg->lr);
    if (rs->opt == SN_OPT_SGD) ADD("momentum=%.9g\nnesterov=%d\n", (double)cfg->momentum, cfg->nesterov);
    ADD("weight_decay=%.9g\nschedule=%s\nwarmup_epochs=%.9g\n", (double)cfg->weight_decay,
        cfg->schedule ? cfg->schedule : "constant", (double)cfg->warmup_epochs);
    if (rs->sched == SN_SCHED_STEP) ADD("lr_step_epochs=%d\nlr_gamma=%.9g\n", rs->step_epochs, (double)rs->gamma);
    ADD("ema=%.9g\nclip_grad_norm=%.9g\n", (double)cfg->ema_decay, (double)cfg->clip_grad_norm);
    if (cfg->lookahead > 0) ADD("lookahead=%d\n", cfg->lookahead);
    if (cfg->bn_lr_scale > 0 && cfg->bn_lr_scale != 1.0f) ADD("bn_lr_scale=%.9g\n", (double)cfg->bn_lr_scale);
    ADD("augment=crop_pad %d flip %d erase %.9g\n", cfg->aug_crop_pad, cfg->aug_flip, (double)cfg->aug_erase);
    if (cfg->aug_rotate != 0 || cfg->aug_zoom != 0) /* absent when off: older checkpoints match */
        ADD("augment_affine=rotate %.9g zoom %.9g\n", (double)cfg->aug_rotate, (double)cfg->aug_zoom);
    ADD("epochs=%d\nmax_steps=%ld\n", cfg->epochs, cfg->max_steps);
    if (cfg->sync_bn) ADD("sync_bn=1\n"); /* absent when off: older checkpoints still match */
#undef ADD
    if (n >= cap) buf[cap - 1] = 0;
}

/* ------------------------------------------------------------------ state */
typedef struct {
    runspec rs;
    sn_optim opt, hopt;
    float *de, *dist, *ema, *backup;
    float *W, *dW;               /* proxy head (C,D) and its gradient */
    int lookahead;               /* > 0: ema holds lookahead's slow weights (cfg->lookahead) */
    float *scratch, *hD, *hscr, *htmp;
    double *mu;
    size_t scratch_cap;
    pairset tp;
    int *tidx, tn_batches, tP;   /* P x K test batches */
    int32_t *tlab;
    FILE *log;
    sn_batcher *bt;
    sn_dp dp;                    /* data-parallel share (off: one process) */
} trainer;

static void trainer_free(trainer *t) {
    if (t->log) fclose(t->log);
    sn_batcher_free(t->bt);
    sn_dp_free(&t->dp);
    sn_optim_free(&t->opt);
    sn_optim_free(&t->hopt);
    pairset_free(&t->tp);
    sn_aligned_free(t->de);
    free(t->dist);
    sn_aligned_free(t->ema);
    sn_aligned_free(t->backup);
    sn_aligned_free(t->W);
    sn_aligned_free(t->dW);
    sn_aligned_free(t->scratch);
    sn_aligned_free(t->hD);
    sn_aligned_free(t->hscr);
    free(t->htmp);
    free(t->mu);
    free(t->tidx);
    free(t->tlab);
}

/* Test loss of a P x K loss on fixed test batches (eval mode). */
static double pk_test_loss(trainer *t, sn_model *m, const sn_dataset *test) {
    if (!t->tn_batches) return NAN;
    const runspec *rs = &t->rs;
    const int b = t->tP * rs->K, D = m->embed_dim;
    const size_t img = (size_t)test->c * (size_t)test->h * (size_t)test->w;
    double total = 0;
    for (int k = 0; k < t->tn_batches; k++) {
        const int *idx = t->tidx + (size_t)k * b;
        for (int j = 0; j < b; j++) {
            sn_model_set_input(m, j, test->pixels + (size_t)idx[j] * img);
            t->tlab[j] = test->labels[idx[j]];
        }
        const float *e = sn_model_forward(m, b, 0);
        total += rs->lf->fn(&rs->lp, NULL, NULL, e, t->W, t->tlab, b, D, rs->C, t->scratch,
                            t->scratch_cap);
    }
    return total / t->tn_batches;
}

static sn_status setup_test(sn_ctx *ctx, trainer *t, const sn_dataset *test, const sn_model *m,
                            const sn_train_config *cfg) {
    const runspec *rs = &t->rs;
    if (!rs->pk) {
        pairset *tp = &t->tp;
        tp->n = SN_TEST_PAIRS;
        tp->a = sn_calloc((size_t)tp->n, sizeof(int));
        tp->b = sn_calloc((size_t)tp->n, sizeof(int));
        tp->same = sn_calloc((size_t)tp->n, 1);
        tp->y = sn_calloc((size_t)cfg->batch_size, sizeof(float));
        if (!tp->a || !tp->b || !tp->same || !tp->y)
            return sn_errf(ctx, SN_ERR_NOMEM, "out of memory for test pairs");
        return sn_make_pairs(ctx, test->labels, test->n, test->n_classes, tp->n, 777, tp->a, tp->b,
                             tp->same);
    }
    (void)m;
    /* proxies exist for the training classes only: no test loss on other classes */
    if (rs->C && test->n_classes != rs->C) return SN_OK;
    t->tP = rs->P < test->n_classes ? rs->P : test->n_classes;
    const int b = t->tP * rs->K;
    long cap = test->n / rs->K + test->n_classes + 1;
    sn_class_index ci;
    sn_status st = sn_class_index_build(ctx, &ci, test->labels, test->n, test->n_classes);
    if (st) return st;
    t->tidx = sn_calloc((size_t)cap * (size_t)b, sizeof(int));
    t->tlab = sn_calloc((size_t)b, sizeof(int32_t));
    if (!t->tidx || !t->tlab) {
        sn_class_index_free(&ci);
        return sn_errf(ctx, SN_ERR_NOMEM, "out of memory for test batches");
    }
    sn_rng r;
    sn_rng_seed(&r, 777, 0x7e57);
    long nb = sn_sampler_pk_epoch(&ci, t->tP, rs->K, &r, t->tidx, cap);
    sn_class_index_free(&ci);
    if (nb < 0) return sn_errf(ctx, SN_ERR_NOMEM, "out of memory sampling test batches");
    long want = (SN_TEST_IMAGES + b - 1) / b;
    t->tn_batches = (int)(nb < want ? nb : want);
    return SN_OK;
}

static void log_epoch(FILE *f, const sn_epoch_result *r, double pps, double wait_s) {
    if (!f) return;
    fprintf(f, "{\"event\":\"epoch\",\"epoch\":%d,\"step\":%ld,\"train_loss\":%.6g,", r->epoch, r->step,
            r->train_loss);
    if (isnan(r->test_loss))
        fprintf(f, "\"test_loss\":null,");
    else
        fprintf(f, "\"test_loss\":%.6g,", r->test_loss);
    fprintf(f, "\"seconds\":%.3f,\"pairs_per_s\":%.1f,\"loader_wait_s\":%.3f,", r->seconds, pps, wait_s);
    fprintf(f, "\"active_fraction\":%.6g,\"mean_pos_dist\":%.6g,\"mean_neg_dist\":%.6g,"
               "\"mean_embed_norm\":%.6g,\"lr\":%.6g}\n",
            r->active_fraction, r->mean_pos_dist, r->mean_neg_dist, r->mean_embed_norm, r->lr);
    fflush(f);
}

static void swap_ema(sn_model *m, trainer *t, int in) {
    if (!t->ema || t->lookahead) return; /* lookahead: the fast weights are the model */
    if (in) {
        memcpy(t->backup, m->params, sizeof(float) * m->n_params);
        memcpy(m->params, t->ema, sizeof(float) * m->n_params);
    } else {
        memcpy(m->params, t->backup, sizeof(float) * m->n_params);
    }
}

static sn_status load_checkpoint(sn_ctx *ctx, trainer *t, sn_model *m, const sn_train_config *cfg,
                                 const char *conf, int *epoch, long *step) {
    const char *path = cfg->resume_path;
    sn_ckpt_in ck;
    sn_status st = sn_checkpoint_read(ctx, path, &ck);
    if (st) return st;
    /* epochs / max_steps may change (train longer) unless the schedule depends on them */
    static const char *const extendable[] = {"epochs", "max_steps", NULL};
    int ext = t->rs.sched == SN_SCHED_CONSTANT || t->rs.sched == SN_SCHED_STEP;
    st = sn_checkpoint_conf_check(ctx, path, ck.conf, conf, ext ? extendable : NULL);
    /* the check compares this run's keys; sync_bn is written only when on */
    if (!st && !cfg->sync_bn && ck.conf && strstr(ck.conf, "\nsync_bn=1\n"))
        st = sn_errf(ctx, SN_ERR_ARG, "--resume %s: the checkpoint was written with sync_bn=1 "
                     "(--sync-bn) but this run has sync_bn=0; resume with the options of the "
                     "interrupted run", path);
    const size_t nh = t->W ? (size_t)t->rs.C * (size_t)m->embed_dim : 0;
    if (!st && (ck.n_params != m->n_params || ck.n_bufs != m->n_bufs || ck.n_opt != m->n_params ||
                (ck.opt_v != NULL) != (t->opt.v != NULL) || (ck.ema != NULL) != (t->ema != NULL) ||
                (t->ema && ck.n_ema != m->n_params) || ck.n_head != nh ||
                (nh && (ck.n_hopt != nh || (ck.hopt_v != NULL) != (t->hopt.v != NULL)))))
        st = sn_errf(ctx, SN_ERR_FORMAT, "--resume %s: section sizes do not match this model "
                     "(%zu parameters, %zu buffers)", path, m->n_params, m->n_bufs);
    if (!st) {
        memcpy(m->params, ck.params, 4 * m->n_params);
        if (m->n_bufs) memcpy(m->bufs, ck.bufs, 4 * m->n_bufs);
        memcpy(t->opt.m, ck.opt_m, 4 * m->n_params);
        if (t->opt.v) memcpy(t->opt.v, ck.opt_v, 4 * m->n_params);
        t->opt.t = ck.opt_t;
        if (t->ema) memcpy(t->ema, ck.ema, 4 * m->n_params);
        if (nh) {
            memcpy(t->W, ck.head, 4 * nh);
            memcpy(t->hopt.m, ck.hopt_m, 4 * nh);
            if (t->hopt.v) memcpy(t->hopt.v, ck.hopt_v, 4 * nh);
            t->hopt.t = ck.hopt_t;
        }
        *epoch = ck.epoch;
        *step = ck.step;
        sn_logf(ctx, SN_LOG_INFO, "resuming from %s: %d epochs, %ld steps done", path, ck.epoch,
                ck.step);
    }
    sn_checkpoint_free(&ck);
    return st;
}

static sn_status record_meta(sn_ctx *ctx, sn_model *m, const sn_train_config *cfg, const runspec *rs) {
    char v[128];
    sn_status st = sn_model_meta_set(ctx, m, "loss", rs->lf->name);
    snprintf(v, sizeof v, "%g", (double)rs->lp.margin);
    if (!st && (rs->lf->opts & SN_LOPT_MARGIN)) st = sn_model_meta_set(ctx, m, "margin", v);
    if (!st && (rs->lf->opts & SN_LOPT_DISTANCE))
        st = sn_model_meta_set(ctx, m, "distance", sn_distance_name(rs->lp.distance));
    if (!st && !strcmp(rs->lf->name, "triplet"))
        st = sn_model_meta_set(ctx, m, "miner", sn_miner_name(rs->lp.miner));
    if (rs->pk)
        snprintf(v, sizeof v, "P=%d K=%d", rs->P, rs->K);
    else
        snprintf(v, sizeof v, "pairs=%d", cfg->batch_size);
    if (!st) st = sn_model_meta_set(ctx, m, "batch", v);
    snprintf(v, sizeof v, "%s warmup_epochs=%g", cfg->schedule ? cfg->schedule : "constant",
             (double)cfg->warmup_epochs);
    if (!st) st = sn_model_meta_set(ctx, m, "schedule", v);
    snprintf(v, sizeof v, "%g", (double)cfg->ema_decay);
    if (!st && cfg->ema_decay > 0) st = sn_model_meta_set(ctx, m, "ema", v);
    snprintf(v, sizeof v, "%d", cfg->lookahead);
    if (!st && cfg->lookahead > 0) st = sn_model_meta_set(ctx, m, "lookahead", v);
    snprintf(v, sizeof v, "%g", (double)cfg->bn_lr_scale);
    if (!st && cfg->bn_lr_scale > 0 && cfg->bn_lr_scale != 1.0f)
        st = sn_model_meta_set(ctx, m, "bn_lr_scale", v);
    snprintf(v, sizeof v, "%g", (double)cfg->clip_grad_norm);
    if (!st && cfg->clip_grad_norm > 0) st = sn_model_meta_set(ctx, m, "clip_grad_norm", v);
    snprintf(v, sizeof v, "%g", (double)rs->lp.smooth);
    if (!st && rs->lp.smooth > 0) st = sn_model_meta_set(ctx, m, "label_smoothing", v);
    return st;
}

sn_status sn_train(sn_ctx *ctx, sn_model *m, const sn_dataset *train, const sn_dataset *test,
                   const sn_train_config *cfg) {
    trainer t;
    memset(&t, 0, sizeof t);
    runspec *rs = &t.rs;
    sn_status st = resolve(ctx, m, train, test, cfg, rs);
    if (st) return st;
    const int D = m->embed_dim, nt = sn_ctx_threads(ctx), B = cfg->batch_size;
    st = sn_model_plan(ctx, m, rs->rows);
    if (st) return st;
    char *conf = malloc(SN_CONF_CAP);
    if (!conf) return sn_errf(ctx, SN_ERR_NOMEM, "out of memory");

    sn_batcher_opts bo;
    memset(&bo, 0, sizeof bo);
    bo.mode = rs->pk ? SN_BATCH_PK : SN_BATCH_PAIRS;
    bo.B = B;
    bo.P = rs->P;
    bo.K = rs->K;
    bo.epochs = cfg->epochs;
    bo.seed = cfg->seed;
    bo.mean = m->mean;
    bo.std = m->std;
    bo.aug = (sn_augment){cfg->aug_crop_pad, cfg->aug_flip, cfg->aug_erase, cfg->aug_rotate,
                          cfg->aug_zoom};
    bo.prefetch = !cfg->no_prefetch;
    const long spe = train->n >= B ? train->n / B : 1; /* pairs: incomplete last batch dropped */
    long total = spe * cfg->epochs, full = total;
    if (cfg->max_steps > 0 && cfg->max_steps < total) total = cfg->max_steps;
    int done_epochs = 0;
    long step = 0;

    /* a fresh run sets `whiten` layers from the first 5,000 training images (resume: the
     * checkpoint holds them) */
    if (!cfg->resume_path && (st = sn_model_whiten_init(ctx, m, train, 5000, 5e-4f))) goto done;
    st = sn_optim_init(ctx, &t.opt, rs->opt, m->n_params, cfg->lr);
    if (st) goto done;
    {
        sn_param_range g[SN_OPT_MAX_GROUPS];
        const float bs = cfg->bn_lr_scale > 0 ? cfg->bn_lr_scale : 1.0f;
        sn_optim_set_groups(&t.opt, g, sn_model_param_groups(m, bs, g, SN_OPT_MAX_GROUPS));
    }
    t.opt.momentum = cfg->momentum;
    t.opt.weight_decay = cfg->weight_decay;
    t.opt.nesterov = cfg->nesterov;
    const size_t rowsD = (size_t)rs->rows * (size_t)D;
    t.de = sn_aligned_alloc(rowsD, sizeof(float));
    t.dist = sn_calloc((size_t)B, sizeof(float));
    t.mu = sn_calloc((size_t)D, sizeof(double));
    int ok = t.de && t.dist && t.mu;
    t.lookahead = cfg->lookahead;
    if (cfg->ema_decay > 0 || cfg->lookahead > 0) {
        t.ema = sn_aligned_alloc(m->n_params, sizeof(float));
        t.backup = sn_aligned_alloc(m->n_params, sizeof(float));
        ok = ok && t.ema && t.backup;
        if (ok) memcpy(t.ema, m->params, sizeof(float) * m->n_params);
    }
    if (rs->pk) {
        const size_t R = (size_t)rs->rows;
        t.scratch_cap = rs->lf->scratch(rs->rows, D, rs->C);
        t.scratch = sn_aligned_alloc(t.scratch_cap ? t.scratch_cap : 1, sizeof(float));
        t.hD = sn_aligned_alloc(R * R, sizeof(float));
        t.hscr = sn_aligned_alloc(sn_distmat_scratch_size(rs->rows), sizeof(float));
        t.htmp = sn_calloc(R, sizeof(float));
        ok = ok && t.scratch && t.hD && t.hscr && t.htmp;
    }
    if (ok && rs->C) {
        const size_t nh = (size_t)rs->C * (size_t)D;
        t.W = sn_aligned_alloc(nh, sizeof(float));
        t.dW = sn_aligned_alloc(nh, sizeof(float));
        ok = t.W && t.dW;
        if (ok) {
            sn_rng r;
            sn_rng_seed(&r, cfg->seed, 0x9e0c5);
            sn_proxy_init(t.W, rs->C, D, &r);
            st = sn_optim_init(ctx, &t.hopt, rs->opt, nh, cfg->lr);
            if (st) goto done;
            t.hopt.momentum = cfg->momentum;
            t.hopt.nesterov = cfg->nesterov;
            /* an unnormalised linear head decays like any linear layer; the normalised
             * heads' scale is fixed by the normalisation, so they do not */
            if (!strcmp(rs->lf->name, "softmax")) t.hopt.weight_decay = cfg->weight_decay;
        }
    }
    if (!ok) {
        st = sn_errf(ctx, SN_ERR_NOMEM, "out of memory for training buffers");
        goto done;
    }
    build_conf(conf, SN_CONF_CAP, m, train, cfg, rs);
    if (cfg->resume_path) {
        st = load_checkpoint(ctx, &t, m, cfg, conf, &done_epochs, &step);
        if (st) goto done;
    }
    st = sn_dp_init(ctx, &t.dp, cfg->comm, m, rs->pk, rs->pk ? rs->rows : B, conf);
    if (!st && cfg->sync_bn) st = sn_dp_sync_bn(ctx, &t.dp, m);
    if (st) goto done;
    bo.start = step;
    bo.total = rs->pk ? cfg->max_steps : total;
    st = sn_batcher_open(ctx, train, &bo, &t.bt);
    if (st) goto done;
    if (rs->pk) { /* total: capped by max_steps; full: steps of all planned epochs */
        total = sn_batcher_total(t.bt);
        full = 0;
        for (int e = 0; e < cfg->epochs; e++) full += sn_batcher_epoch_steps(t.bt, e);
    }
    sn_schedule sch = {rs->sched, cfg->lr, total, 0, rs->step_epochs, rs->gamma};
    sch.warmup_steps = (long)((double)cfg->warmup_epochs * (double)full / cfg->epochs + 0.5);
    if (sch.warmup_steps > total) sch.warmup_steps = total;
    if (!sn_dp_is_root(&t.dp)) test = NULL; /* rank 0 alone reports the test loss */
    if (test) {
        st = setup_test(ctx, &t, test, m, cfg);
        if (st) goto done;
    }
    if (cfg->log_path && sn_dp_is_root(&t.dp)) {
        t.log = fopen(cfg->log_path, cfg->resume_path ? "a" : "w");
        if (!t.log) {
            st = sn_errf(ctx, SN_ERR_IO, "%s: cannot open training log for writing", cfg->log_path);
            goto done;
        }
    }

    const size_t img = (size_t)train->c * (size_t)train->h * (size_t)train->w;
    const size_t nh = (size_t)rs->C * (size_t)D;
    const float hmargin = rs->lf->opts & SN_LOPT_MARGIN && rs->lf->kind == SN_LOSSK_BATCH ? rs->lp.margin : 0.0f;
    const int hdist = rs->lf->opts & SN_LOPT_DISTANCE ? rs->lp.distance : SN_DIST_COSINE;
    double t_start = sn_now();
    float lr = cfg->lr;
    const int last_epoch = cfg->stop_after_epoch > 0 && cfg->stop_after_epoch < cfg->epochs
                               ? cfg->stop_after_epoch : cfg->epochs;
    for (int ep = done_epochs + 1; ep <= last_epoch && step < total; ep++) {
        double t0 = sn_now(), loss_sum = 0.0, wait0 = sn_batcher_wait_seconds(t.bt);
        long items = 0;
        health h;
        memset(&h, 0, sizeof h);
        const long spe_e = sn_batcher_epoch_steps(t.bt, ep - 1);
        for (long s = 0; s < spe_e && step < total; s++) {
            const float *x, *y;
            int b = sn_batcher_next(t.bt, &x, &y);
            if (b < 0) {
                st = sn_errf(ctx, SN_ERR_NOMEM, "out of memory in the batch loader");
                goto done;
            }
            if (b == 0) break;
            double loss;
            /* this rank's share of the global batch (one process: all of it) */
            const int n_rows = sn_dp_stage(&t.dp, m, x, b, img, &y), nb = rs->pk ? b : n_rows / 2;
            const float *e = sn_model_forward(m, n_rows, 1), *eb = e;
            if ((st = sn_dp_bn_status(&t.dp))) goto done; /* a sync-BN all-reduce failed */
            if (!rs->pk) {
                loss = sn_contrastive_loss(t.de, t.dist, e, y, nb, D, rs->lp.margin);
                sn_health_pairs(&h, t.dist, y, nb, rs->lp.margin);
                sn_dp_scale_pairs(&t.dp, t.de, D);
            } else if (!(eb = sn_dp_gather_embeddings(&t.dp, e, D))) {
                st = SN_ERR_IO;
                goto done;
            } else {
                const int32_t *lab = sn_batcher_labels(t.bt);
                if (rs->lp.curriculum > 0) {
                    double ramp = (double)rs->lp.curriculum * (double)total;
                    rs->lp.hardness = (float)((double)step / ramp < 1.0 ? (double)step / ramp : 1.0);
                }
                if (t.dW) memset(t.dW, 0, sizeof(float) * nh);
                loss = rs->lf->fn(&rs->lp, t.de, t.dW, eb, t.W, lab, b, D, rs->C, t.scratch,
                                  t.scratch_cap);
                sn_distmat(t.hD, eb, b, D, hdist, t.hscr);
                sn_health_batch(&h, t.hD, lab, b, hmargin, t.htmp);
            }
            sn_embed_stats(&h, e, n_rows, D, t.mu);
            /* A finite but absurd loss (> 1e30) is divergence too: it overflows within a
             * few steps, and huge margins/scales train on silently otherwise. */
            if (!isfinite(loss) || fabs(loss) > 1e30) {
                char lv[32];
                snprintf(lv, sizeof lv, isnan(loss) ? "NaN" : "%g", loss);
                st = sn_errf(ctx, SN_ERR_NUMERIC,
                             "training diverged at step %ld (epoch %d): the loss is %s. Lower "
                             "--lr (now %g), add --clip-grad-norm, check that --margin / --scale "
                             "are sensible for the loss, or check the input data",
                             step + 1, ep, lv, (double)lr);
                goto done;
            }
            memset(m->grads, 0, sizeof(float) * m->n_params);
            sn_model_backward(m, n_rows, t.de + (rs->pk ? (size_t)t.dp.lo * (size_t)D : 0), 0);
            if ((st = sn_dp_bn_status(&t.dp)) || (st = sn_dp_allreduce_grads(&t.dp, m))) goto done;
            for (int k = 0; k < t.opt.n_groups; k++) /* frozen: no gradient in norms or clipping */
                if (t.opt.groups[k].lr_scale == 0.0f && t.opt.groups[k].wd_scale == 0.0f)
                    memset(m->grads + t.opt.groups[k].off, 0, sizeof(float) * t.opt.groups[k].n);
            double gn = sn_grad_norm(m->grads, m->n_params), hn = t.dW ? sn_grad_norm(t.dW, nh) : 0;
            double gnorm = sqrt(gn * gn + hn * hn);
            if (!isfinite(gnorm)) {
                st = sn_errf(ctx, SN_ERR_NUMERIC,
                             "training diverged at step %ld (epoch %d): the gradient is NaN/Inf "
                             "(loss %g). Lower --lr (now %g), add --clip-grad-norm, or check the "
                             "input data", step + 1, ep, loss, (double)lr);
                goto done;
            }
            if (cfg->clip_grad_norm > 0) {
                double coef = (double)cfg->clip_grad_norm / (gnorm + 1e-6);
                if (coef < 1.0) {
                    const float c = (float)coef;
                    for (size_t i = 0; i < m->n_params; i++) m->grads[i] *= c;
                    for (size_t i = 0; t.dW && i < nh; i++) t.dW[i] *= c;
                }
            }
            lr = sn_schedule_lr(&sch, step, ep);
            t.opt.lr = lr;
            sn_optim_step(&t.opt, m->params, m->grads, nt);
            if (t.W) {
                t.hopt.lr = lr;
                sn_optim_step(&t.hopt, t.W, t.dW, nt);
            }
            if (t.ema && !t.lookahead) sn_ema_update(t.ema, m->params, m->n_params, cfg->ema_decay, nt);
            step++;
            if (t.lookahead && step % t.lookahead == 0 && step < total) {
                const double fr = (double)step / (double)total;
                const float d = (float)(pow(0.95, (double)t.lookahead) * fr * fr * fr);
                sn_ema_update(t.ema, m->params, m->n_params, d, nt);
                memcpy(m->params, t.ema, sizeof(float) * m->n_params);
            }
            loss_sum += loss * nb;
            items += nb;
            if (cfg->on_progress) {
                sn_train_progress p = {ep, cfg->epochs, step, spe_e, total, loss_sum / (double)items,
                                       (double)items / (sn_now() - t0), lr};
                cfg->on_progress(cfg->user, &p);
            }
        }
        if (!rs->pk) { /* pairs: each rank summed its own */
            double sums[2] = {loss_sum, (double)items};
            if ((st = sn_dp_sum(&t.dp, sums, 2))) goto done;
            loss_sum = sums[0];
            items = (long)sums[1];
        }
        if ((st = sn_dp_sync_bufs(&t.dp, m))) goto done;
        sn_epoch_result r;
        memset(&r, 0, sizeof r);
        r.epoch = ep;
        r.train_loss = items ? loss_sum / (double)items : NAN;
        r.test_loss = NAN;
        r.step = step;
        r.lr = lr;
        const double hn = h.n ? (double)h.n : 1.0;
        r.active_fraction = h.active / hn;
        r.mean_pos_dist = h.pos / hn;
        r.mean_neg_dist = h.neg / hn;
        r.mean_embed_norm = h.norm / hn;
        double train_s = sn_now() - t0;
        if (h.n && !(h.var > 1e-6 * h.msq))
            sn_logf(ctx, SN_LOG_WARN,
                    "epoch %d: the embeddings have collapsed (variance %.3g vs mean squared norm "
                    "%.3g): every image maps to nearly the same point. Try a lower --lr, another "
                    "--margin or loss, or check the labels", ep, h.var / hn, h.msq / hn);
        if (test) {
            swap_ema(m, &t, 1);
            r.test_loss = rs->pk ? pk_test_loss(&t, m, test) : pairs_loss(m, test, &t.tp, B, rs->lp.margin);
            swap_ema(m, &t, 0);
        }
        if (cfg->checkpoint_path && sn_dp_is_root(&t.dp)) {
            sn_ckpt_out co = {conf, ep, step, m->params, m->bufs, m->n_params, m->n_bufs, &t.opt,
                              t.ema, t.W, nh, &t.hopt};
            st = sn_checkpoint_write(ctx, cfg->checkpoint_path, &co);
            if (st) goto done;
        }
        r.seconds = sn_now() - t0;
        log_epoch(t.log, &r, (double)items / train_s, sn_batcher_wait_seconds(t.bt) - wait0);
        if (cfg->on_epoch) cfg->on_epoch(cfg->user, &r);
    }
    if (last_epoch < cfg->epochs && step < total)
        sn_logf(ctx, SN_LOG_INFO, "stopped after epoch %d as asked (--stop-after-epoch)", last_epoch);
    if (t.ema) memcpy(m->params, t.ema, sizeof(float) * m->n_params);
    st = record_meta(ctx, m, cfg, rs);
    if (st) goto done;
    sn_logf(ctx, SN_LOG_INFO, "trained %ld steps in %.1f s (waited %.2f s for the loader)", step,
            sn_now() - t_start, sn_batcher_wait_seconds(t.bt));
    if (t.dp.on)
        sn_logf(ctx, SN_LOG_INFO, "rank %d of %d: %ld collectives took %.2f s, %.1f MB sent",
                t.dp.comm->rank, t.dp.comm->size, t.dp.comm->calls, t.dp.comm->seconds,
                (double)t.dp.comm->bytes_sent / 1e6);
    if (t.dp.bn_model)
        sn_logf(ctx, SN_LOG_INFO, "rank %d of %d: synchronized batch norm: %ld of the collectives "
                "(%.2f s), %.3f MB of the bytes sent", t.dp.comm->rank, t.dp.comm->size,
                t.dp.bn_calls, t.dp.bn_seconds, (double)t.dp.bn_bytes / 1e6);
done:
    trainer_free(&t);
    free(conf);
    return st;
}
