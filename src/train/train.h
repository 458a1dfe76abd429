/* train.h -- optimizers and pair sampling (private). */
#ifndef SN_TRAIN_H
#define SN_TRAIN_H

#include "core/core.h"

typedef enum { SN_OPT_ADAM = 0, SN_OPT_SGD = 1 } sn_optim_kind;

/* Optimizer over one flat parameter slab (n floats). State slabs m, v of size n.
 * Adam exactly as torch.optim.Adam (betas 0.9/0.999, eps 1e-8, L2 weight decay
 * added to the gradient); SGD as torch.optim.SGD (momentum, dampening 0, optional
 * Nesterov). */
typedef struct {
    sn_optim_kind kind;
    float lr, beta1, beta2, eps, momentum, weight_decay;
    int nesterov;
    long t;          /* steps taken */
    size_t n;
    float *m, *v;    /* Adam moments / SGD momentum buffer (m) */
} sn_optim;

sn_status sn_optim_init(sn_ctx *ctx, sn_optim *o, sn_optim_kind kind, size_t n, float lr);
void sn_optim_step(sn_optim *o, float *params, const float *grads, int nt);
void sn_optim_free(sn_optim *o);

/* Images grouped by class (CSR): members[offsets[c] .. offsets[c+1]) are the indices
 * of class c in increasing order. */
typedef struct {
    int n, n_classes;
    int *offsets; /* (n_classes + 1) */
    int *members; /* (n) */
} sn_class_index;

sn_status sn_class_index_build(sn_ctx *ctx, sn_class_index *ci, const int32_t *labels, int n,
                               int n_classes);
void sn_class_index_free(sn_class_index *ci);
/* Uniform random other member of `label`'s class (the anchor itself if alone). */
int sn_pick_same(const sn_class_index *ci, int anchor, int label, sn_rng *rng);
/* Uniform random image of any other class; -1 if there is none. */
int sn_pick_diff(const sn_class_index *ci, int label, sn_rng *rng);

/* n_pairs balanced pairs (first half same-class, second half different-class);
 * anchors run through seeded permutations of the dataset (without replacement). a, b: (n_pairs) indices; same: (n_pairs) 1/0. */
sn_status sn_make_pairs(sn_ctx *ctx, const int32_t *labels, int n, int n_classes, int n_pairs,
                        uint64_t seed, int *a, int *b, uint8_t *same);

#endif
