/*
 * batcher.h -- training batches: sampling, augmentation, normalisation, prefetch.
 *
 * A batcher turns a uint8 dataset into ready-to-run float inputs for the training
 * loop. Batch k of training is fully determined by (dataset, seed, k): pair sampling
 * consumes one RNG stream in batch order, and each image's augmentation draws from its
 * own RNG seeded by (seed, batch, slot), so prefetching on a loader thread changes
 * nothing in the result.
 *
 * Pair sampler (the seed's; what an "epoch" means): every epoch the training images are
 * shuffled and cut into floor(n/B) batches of B anchors (an incomplete last batch is
 * dropped; a dataset smaller than B gives one batch of all n). Anchor k < B/2 gets a
 * uniformly random other image of its class, the rest a uniformly random image of
 * another class. Input rows 0..B-1 are the anchors, B..2B-1 their partners; y[k] = 0
 * for a same-class pair, 1 otherwise. So an epoch shows every image once as an anchor.
 *
 * Augmentation (training only; applied per image, anchors and partners alike):
 *   crop_pad P > 0  zero-pad by P on each side, then crop H x W at a random offset
 *   flip            mirror left-right with probability 1/2 (leave off for digits)
 *   erase p > 0     with probability p, fill a random rectangle (2-33 % of the area,
 *                   aspect 0.3-3.3) with uniform random pixel values (random erasing,
 *                   Zhong et al. 2017)
 * then x = (p/255 - mean[c]) / std[c].
 *
 * P x K mode (batch and proxy losses): batch = P classes x K images each (P*K rows,
 * labels alongside), from sn_sampler_pk_epoch below. An epoch is one sampler epoch;
 * epoch e (0-based) draws from its own RNG seeded by (seed, e), so its batch count is
 * known up front (sn_batcher_epoch_steps) and any batch can be reached without
 * replaying the previous epochs' images.
 *
 * Starting at batch `start` > 0 (resuming) gives exactly the batches start, start+1,
 * ... of a batcher started at 0: the pair sampler replays its RNG stream through the
 * skipped batches (sampling only, no images staged).
 */
#ifndef SN_BATCHER_H
#define SN_BATCHER_H

#include "core/core.h"
#include "train/train.h"

typedef struct {
    int crop_pad;
    int flip;
    float erase;
    float rotate; /* degrees: a random turn in [-rotate, rotate] about the centre */
    float zoom;   /* a random scale in [1 - zoom, 1 + zoom] about the centre */
} sn_augment;

typedef struct sn_batcher sn_batcher;

/* Batches of B pairs from ds for `total` steps. mean/std: per-channel normalisation.
 * prefetch: 1 = prepare the next batch on a loader thread while the caller computes. */
sn_status sn_batcher_create(sn_ctx *ctx, const sn_dataset *ds, int B, long total, uint64_t seed,
                            const float mean[3], const float std[3], const sn_augment *aug,
                            int prefetch, sn_batcher **out);
enum { SN_BATCH_PAIRS = 0, SN_BATCH_PK = 1 };

/* All options of a batcher (sn_batcher_create is the pair-mode shorthand). */
typedef struct {
    int mode;                  /* SN_BATCH_PAIRS or SN_BATCH_PK */
    int B;                     /* pairs: pairs per batch */
    int P, K;                  /* P x K: classes per batch, images per class */
    int epochs;                /* P x K: epochs to plan (batch counts) */
    long start, total;         /* first batch index, batches to deliver (from 0) */
    uint64_t seed;
    const float *mean, *std;   /* [3] each */
    sn_augment aug;
    int prefetch;
} sn_batcher_opts;

sn_status sn_batcher_open(sn_ctx *ctx, const sn_dataset *ds, const sn_batcher_opts *o,
                          sn_batcher **out);
/* Next batch: *x (2b, C, H, W) normalised inputs, *y (b) pair labels, returns b (the
 * pairs in this batch), 0 when `total` batches were delivered. P x K mode: *x (b, C,
 * H, W) with b = P*K images and *y their class labels as floats (exact integers; see
 * sn_batcher_labels). The pointers stay valid until the next call. */
int sn_batcher_next(sn_batcher *bt, const float **x, const float **y); /* -1: out of memory */
/* P x K mode: (b) int32 class labels of the batch last returned by sn_batcher_next. */
const int32_t *sn_batcher_labels(const sn_batcher *bt);
/* Batches per epoch (pair mode; P x K: of the first epoch). */
long sn_batcher_steps_per_epoch(const sn_batcher *bt);
/* Batches of 0-based epoch e (both modes; P x K: e < opts.epochs). */
long sn_batcher_epoch_steps(const sn_batcher *bt, int e);
/* Batches the batcher delivers in all (P x K: opts.total capped by the planned epochs'
 * batches; opts.total <= 0 = all of them). */
long sn_batcher_total(const sn_batcher *bt);
/* Seconds the caller spent waiting for the loader thread so far. */
double sn_batcher_wait_seconds(const sn_batcher *bt);
void sn_batcher_free(sn_batcher *bt);

/* Augment one uint8 image (C,H,W) into out (C,H,W), using rng. */
void sn_augment_image(uint8_t *out, const uint8_t *in, int C, int H, int W, const sn_augment *aug,
                      sn_rng *rng);

/* ---------------------------------------------------------------- samplers */
/* P x K class-balanced batches: each batch holds K images of each of P distinct
 * classes. An epoch visits every image at least once and, from its class queue, exactly
 * once: each class's images are shuffled into a queue; each batch picks P distinct
 * classes among those with images left (weighted by how many remain); a class with fewer
 * than K left is topped up with random images of its own class; when fewer than P
 * classes have images left, the other slots go to random exhausted classes (random
 * images). The epoch ends when every queue is empty. idx: (cap_batches * P * K);
 * returns the number of batches written, or -1 on bad arguments (P > classes, P < 1,
 * K < 1) or when cap_batches is too small. */
long sn_sampler_pk_epoch(const sn_class_index *ci, int P, int K, sn_rng *rng, int *idx,
                         long cap_batches);
/* Offline triplets: for every image (anchor, in a shuffled order) a random positive of
 * its class (not itself; itself if it is alone) and a random negative of another
 * class. abc: (3n) triplets (anchor, positive, negative). An epoch = n triplets. */
void sn_sampler_triplets(const sn_class_index *ci, sn_rng *rng, int *abc);

#endif
