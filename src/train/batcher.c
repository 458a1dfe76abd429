/* batcher.c -- pair and P x K batches with augmentation and a prefetching loader thread. */
#define _POSIX_C_SOURCE 200809L
#include "train/batcher.h"

#include "data/data.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

struct sn_batcher {
    const sn_dataset *ds;
    int mode, P, K, epochs;
    int B, C, H, W;           /* B: pairs (pair mode) or images P*K (P x K) per batch */
    size_t img;               /* bytes per image */
    long total, spe;          /* batches to deliver, batches per epoch */
    uint64_t seed;
    float scale[3], shift[3]; /* x = p * scale - shift */
    sn_augment aug;
    sn_class_index ci;
    sn_rng rng;               /* pair sampling stream (loader side) */
    int *perm;
    /* double buffer: slot k % 2 holds batch k */
    float *x[2], *y[2];
    int32_t *lab[2];
    int nb[2];
    /* P x K: batches of each epoch, the plan (indices) of epoch plan_e starting at
     * global batch plan_base; plan_cap batches fit */
    long *ep_count;
    int *plan, plan_e;
    long plan_base, plan_cap;
    int failed;
    uint8_t *tmp;             /* (C,H,W) augmentation scratch, loader side */
    int prefetch;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long produced, consumed, released;
    int stop, holding;
    double wait_s;
};

static int aug_active(const sn_augment *a) {
    return a->crop_pad > 0 || a->flip || a->erase > 0 || a->rotate > 0 || a->zoom > 0;
}

void sn_augment_image(uint8_t *out, const uint8_t *in, int C, int H, int W, const sn_augment *aug,
                      sn_rng *rng) {
    int dy = 0, dx = 0, flip = 0;
    if (aug->crop_pad > 0) {
        dy = (int)sn_rng_below(rng, (uint32_t)(2 * aug->crop_pad + 1)) - aug->crop_pad;
        dx = (int)sn_rng_below(rng, (uint32_t)(2 * aug->crop_pad + 1)) - aug->crop_pad;
    }
    if (aug->flip) flip = (int)(sn_rng_u32(rng) >> 31);
    if (aug->rotate > 0 || aug->zoom > 0) { /* draws only when on: other streams unchanged */
        const float th = aug->rotate > 0 ? sn_rng_uniform_range(rng, -aug->rotate, aug->rotate)
                                         : 0.0f;
        const float sc = aug->zoom > 0 ? sn_rng_uniform_range(rng, 1.0f - aug->zoom, 1.0f + aug->zoom)
                                       : 1.0f;
        sn_warp_image(out, in, C, H, W, th * 0.017453292519943f, sc, dy, dx, flip);
    } else {
        sn_shift_image(out, in, C, H, W, dy, dx, flip);
    }
    if (aug->erase > 0 && sn_rng_uniform(rng) < aug->erase) {
        for (int attempt = 0; attempt < 10; attempt++) {
            float area = sn_rng_uniform_range(rng, 0.02f, 0.33f) * (float)(H * W);
            /* log-uniform aspect ratio in [0.3, 3.3] */
            float ar = expf(sn_rng_uniform_range(rng, logf(0.3f), logf(3.3f)));
            int eh = (int)(sqrtf(area * ar) + 0.5f), ew = (int)(sqrtf(area / ar) + 0.5f);
            if (eh < 1 || ew < 1 || eh >= H || ew >= W) continue;
            int y0 = (int)sn_rng_below(rng, (uint32_t)(H - eh + 1));
            int x0 = (int)sn_rng_below(rng, (uint32_t)(W - ew + 1));
            for (int c = 0; c < C; c++)
                for (int y = y0; y < y0 + eh; y++)
                    for (int x = x0; x < x0 + ew; x++)
                        out[((size_t)c * (size_t)H + (size_t)y) * (size_t)W + (size_t)x] =
                            (uint8_t)(sn_rng_u32(rng) >> 24);
            break;
        }
    }
}

/* Normalise (and augment) image `src` into float row dst. */
static void stage_image(sn_batcher *bt, float *dst, int idx, long batch, int slot) {
    const uint8_t *p = bt->ds->pixels + (size_t)idx * bt->img;
    if (aug_active(&bt->aug)) {
        sn_rng r;
        sn_rng_seed(&r, bt->seed ^ ((uint64_t)batch * 0x9E3779B97F4A7C15ULL), (uint64_t)slot + 1);
        sn_augment_image(bt->tmp, p, bt->C, bt->H, bt->W, &bt->aug, &r);
        p = bt->tmp;
    }
    size_t plane = (size_t)bt->H * (size_t)bt->W;
    for (int c = 0; c < bt->C; c++) {
        const float sc = bt->scale[c], sh = bt->shift[c];
        for (size_t j = 0; j < plane; j++) dst[c * plane + j] = (float)p[c * plane + j] * sc - sh;
    }
}

/* Pair mode: sample batch k (advancing the sampling stream) and, if stage, write it
 * into slot k % 2. Batches must be sampled in order 0, 1, 2, ... */
static void pair_batch(sn_batcher *bt, long k, int stage) {
    const int n = bt->ds->n, B = bt->B;
    long s = k % bt->spe;
    if (s == 0) sn_rng_shuffle_int(&bt->rng, bt->perm, n);
    int b = n >= B ? B : n, slot = (int)(k & 1);
    float *x = bt->x[slot], *y = bt->y[slot];
    size_t row = bt->img; /* floats per image = bytes per image */
    for (int j = 0; j < b; j++) {
        int ai = bt->perm[s * B + j], lab = bt->ds->labels[ai];
        int pi = j < b / 2 ? sn_pick_same(&bt->ci, ai, lab, &bt->rng)
                           : sn_pick_diff(&bt->ci, lab, &bt->rng);
        if (!stage) continue;
        y[j] = bt->ds->labels[pi] == lab ? 0.0f : 1.0f;
        stage_image(bt, x + (size_t)j * row, ai, k, j);
        stage_image(bt, x + (size_t)(b + j) * row, pi, k, b + j);
    }
    if (stage) bt->nb[slot] = b;
}

/* P x K: the plan of 0-based epoch e into bt->plan; its batch count or -1. */
static long pk_plan(sn_batcher *bt, int e) {
    sn_rng r;
    sn_rng_seed(&r, bt->seed, 0x9b0000u + (uint64_t)e);
    return sn_sampler_pk_epoch(&bt->ci, bt->P, bt->K, &r, bt->plan, bt->plan_cap);
}

static void pk_batch(sn_batcher *bt, long k) {
    int slot = (int)(k & 1);
    if (bt->plan_e < 0 || k < bt->plan_base || k >= bt->plan_base + bt->ep_count[bt->plan_e]) {
        long base = 0;
        int e = 0;
        while (e < bt->epochs - 1 && k >= base + bt->ep_count[e]) base += bt->ep_count[e++];
        if (pk_plan(bt, e) != bt->ep_count[e]) { /* only an allocation failure */
            bt->failed = 1;
            bt->nb[slot] = -1;
            return;
        }
        bt->plan_e = e;
        bt->plan_base = base;
    }
    const int b = bt->P * bt->K;
    const int *idx = bt->plan + (k - bt->plan_base) * (long)b;
    for (int j = 0; j < b; j++) {
        int32_t l = bt->ds->labels[idx[j]];
        bt->lab[slot][j] = l;
        bt->y[slot][j] = (float)l;
        stage_image(bt, bt->x[slot] + (size_t)j * bt->img, idx[j], k, j);
    }
    bt->nb[slot] = b;
}

/* Build batch k into slot k % 2 (loader side). */
static void build_batch(sn_batcher *bt, long k) {
    if (bt->failed) {
        bt->nb[k & 1] = -1;
        return;
    }
    if (bt->mode == SN_BATCH_PK)
        pk_batch(bt, k);
    else
        pair_batch(bt, k, 1);
}

static void *loader_main(void *arg) {
    sn_batcher *bt = arg;
    pthread_mutex_lock(&bt->mu);
    while (!bt->stop && bt->produced < bt->total) {
        if (bt->produced - bt->released >= 2) {
            pthread_cond_wait(&bt->cv, &bt->mu);
            continue;
        }
        long k = bt->produced;
        pthread_mutex_unlock(&bt->mu);
        build_batch(bt, k);
        pthread_mutex_lock(&bt->mu);
        bt->produced++;
        pthread_cond_broadcast(&bt->cv);
    }
    pthread_mutex_unlock(&bt->mu);
    return NULL;
}

sn_status sn_batcher_open(sn_ctx *ctx, const sn_dataset *ds, const sn_batcher_opts *o,
                          sn_batcher **out) {
    *out = NULL;
    const sn_augment *aug = &o->aug;
    const int pk = o->mode == SN_BATCH_PK;
    if (ds->n < 2 || ds->c < 1 || ds->c > 3)
        return sn_errf(ctx, SN_ERR_ARG, "batcher: need at least 2 images of 1-3 channels");
    if (!pk && o->B < 2)
        return sn_errf(ctx, SN_ERR_ARG, "batcher: need B >= 2 pairs per batch");
    if (pk && (o->P < 2 || o->P > ds->n_classes || o->K < 1 || o->epochs < 1 ||
               (long)o->P * o->K > 65536))
        return sn_errf(ctx, SN_ERR_ARG,
                       "P x K batches: --classes-per-batch %d must be in 2..%d (the classes of %s) "
                       "and --per-class %d >= 1, with P*K <= 65536",
                       o->P, ds->n_classes, ds->name, o->K);
    if (aug->crop_pad < 0 || aug->crop_pad > ds->h || aug->crop_pad > ds->w || aug->erase < 0 ||
        aug->erase > 1)
        return sn_errf(ctx, SN_ERR_ARG, "augmentation: --crop-pad must be in 0..%d and --erase in [0,1]",
                       ds->h < ds->w ? ds->h : ds->w);
    if (!(aug->rotate >= 0 && aug->rotate <= 180) || !(aug->zoom >= 0 && aug->zoom < 1))
        return sn_errf(ctx, SN_ERR_ARG, "augmentation: --rotate must be in 0..180 degrees and "
                       "--zoom in [0,1), got %g and %g", (double)aug->rotate, (double)aug->zoom);
    if (o->start < 0) return sn_errf(ctx, SN_ERR_ARG, "batcher: negative start batch");
    sn_batcher *bt = calloc(1, sizeof *bt);
    if (!bt) return sn_errf(ctx, SN_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&bt->mu, NULL);
    pthread_cond_init(&bt->cv, NULL);
    bt->ds = ds;
    bt->mode = pk ? SN_BATCH_PK : SN_BATCH_PAIRS;
    bt->P = o->P;
    bt->K = o->K;
    bt->epochs = o->epochs;
    bt->B = pk ? o->P * o->K : o->B;
    bt->C = ds->c;
    bt->H = ds->h;
    bt->W = ds->w;
    bt->img = (size_t)ds->c * (size_t)ds->h * (size_t)ds->w;
    bt->total = o->total;
    bt->spe = ds->n >= bt->B ? ds->n / bt->B : 1;
    bt->seed = o->seed;
    bt->aug = *aug;
    bt->plan_e = -1;
    for (int c = 0; c < 3; c++) {
        bt->scale[c] = 1.0f / (255.0f * o->std[c]);
        bt->shift[c] = o->mean[c] / o->std[c];
    }
    sn_rng_seed(&bt->rng, o->seed, 0x7a1);
    sn_status st = sn_class_index_build(ctx, &bt->ci, ds->labels, ds->n, ds->n_classes);
    if (st) {
        sn_batcher_free(bt);
        return st;
    }
    const size_t rows = pk ? (size_t)bt->B : (size_t)2 * (size_t)bt->B;
    bt->perm = sn_calloc((size_t)ds->n, sizeof(int));
    bt->tmp = sn_calloc(bt->img, 1);
    int ok = bt->perm && bt->tmp;
    for (int i = 0; i < 2; i++) {
        bt->x[i] = sn_aligned_alloc(rows * bt->img, sizeof(float));
        bt->y[i] = sn_calloc((size_t)bt->B, sizeof(float));
        bt->lab[i] = sn_calloc((size_t)bt->B, sizeof(int32_t));
        ok = ok && bt->x[i] && bt->y[i] && bt->lab[i];
    }
    if (ok && pk) {
        /* every batch either takes K images from one queue or empties a queue */
        bt->plan_cap = ds->n / o->K + ds->n_classes + 1;
        bt->plan = sn_calloc((size_t)bt->plan_cap * (size_t)bt->B, sizeof(int));
        bt->ep_count = sn_calloc((size_t)o->epochs, sizeof(long));
        ok = bt->plan && bt->ep_count;
    }
    if (!ok) {
        sn_batcher_free(bt);
        return sn_errf(ctx, SN_ERR_NOMEM, "out of memory for training batches");
    }
    if (pk) {
        long sum = 0;
        for (int e = 0; e < o->epochs; e++) {
            bt->ep_count[e] = pk_plan(bt, e);
            if (bt->ep_count[e] < 1) {
                sn_batcher_free(bt);
                return sn_errf(ctx, SN_ERR_NOMEM, "out of memory planning P x K epoch %d", e + 1);
            }
            sum += bt->ep_count[e];
        }
        if (bt->total <= 0 || bt->total > sum) bt->total = sum;
        bt->spe = bt->ep_count[0];
    }
    for (int i = 0; i < ds->n; i++) bt->perm[i] = i;
    if (!pk)
        for (long k = 0; k < o->start; k++) pair_batch(bt, k, 0);
    bt->produced = bt->consumed = bt->released = o->start;
    bt->prefetch = o->prefetch;
    if (bt->prefetch && pthread_create(&bt->th, NULL, loader_main, bt) != 0) bt->prefetch = 0;
    *out = bt;
    return SN_OK;
}

sn_status sn_batcher_create(sn_ctx *ctx, const sn_dataset *ds, int B, long total, uint64_t seed,
                            const float mean[3], const float std[3], const sn_augment *aug,
                            int prefetch, sn_batcher **out) {
    sn_batcher_opts o;
    memset(&o, 0, sizeof o);
    o.mode = SN_BATCH_PAIRS;
    o.B = B;
    o.total = total;
    o.seed = seed;
    o.mean = mean;
    o.std = std;
    o.aug = *aug;
    o.prefetch = prefetch;
    return sn_batcher_open(ctx, ds, &o, out);
}

int sn_batcher_next(sn_batcher *bt, const float **x, const float **y) {
    if (!bt->prefetch) {
        if (bt->consumed >= bt->total) return 0;
        build_batch(bt, bt->consumed);
    } else {
        double t0 = sn_now();
        pthread_mutex_lock(&bt->mu);
        if (bt->holding) {
            bt->released++;
            bt->holding = 0;
            pthread_cond_broadcast(&bt->cv);
        }
        if (bt->consumed >= bt->total) {
            pthread_mutex_unlock(&bt->mu);
            return 0;
        }
        while (bt->produced <= bt->consumed) pthread_cond_wait(&bt->cv, &bt->mu);
        bt->holding = 1;
        pthread_mutex_unlock(&bt->mu);
        bt->wait_s += sn_now() - t0;
    }
    int slot = (int)(bt->consumed & 1);
    bt->consumed++;
    *x = bt->x[slot];
    *y = bt->y[slot];
    return bt->nb[slot];
}

long sn_batcher_steps_per_epoch(const sn_batcher *bt) { return bt->spe; }
long sn_batcher_epoch_steps(const sn_batcher *bt, int e) {
    return bt->mode == SN_BATCH_PK ? bt->ep_count[e] : bt->spe;
}
long sn_batcher_total(const sn_batcher *bt) { return bt->total; }
const int32_t *sn_batcher_labels(const sn_batcher *bt) { return bt->lab[(bt->consumed - 1) & 1]; }
double sn_batcher_wait_seconds(const sn_batcher *bt) { return bt->wait_s; }

void sn_batcher_free(sn_batcher *bt) {
    if (!bt) return;
    if (bt->prefetch) {
        pthread_mutex_lock(&bt->mu);
        bt->stop = 1;
        pthread_cond_broadcast(&bt->cv);
        pthread_mutex_unlock(&bt->mu);
        pthread_join(bt->th, NULL);
    }
    pthread_mutex_destroy(&bt->mu);
    pthread_cond_destroy(&bt->cv);
    sn_class_index_free(&bt->ci);
    free(bt->perm);
    free(bt->tmp);
    for (int i = 0; i < 2; i++) {
        sn_aligned_free(bt->x[i]);
        free(bt->y[i]);
        free(bt->lab[i]);
    }
    free(bt->plan);
    free(bt->ep_count);
    free(bt);
}
