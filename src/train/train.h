/* train.h -- optimizers and pair sampling (private). */
#ifndef SN_TRAIN_H
#define SN_TRAIN_H

#include "core/core.h"

typedef enum { SN_OPT_ADAM = 0, SN_OPT_SGD = 1, SN_OPT_ADAMW = 2 } sn_optim_kind;

/* Optimizer over one flat parameter slab (n floats). State slabs m, v of size n.
 * Adam exactly as torch.optim.Adam (betas 0.9/0.999, eps 1e-8, L2 weight decay
 * added to the gradient); AdamW as torch.optim.AdamW (decoupled decay: p *= 1 - lr wd
 * before the Adam update, the gradient is not decayed); SGD as torch.optim.SGD
 * (momentum, dampening 0, optional Nesterov, L2 decay added to the gradient).
 * o->lr may change between steps (schedules); the state (m, v, t) is what a
 * checkpoint must hold. */
#include "nn/nn.h"

/* Parameter groups (sn_param_range, nn.h): the slab range [off, off + n) steps with
 * lr * lr_scale and weight_decay * wd_scale (torch param_groups). lr_scale = wd_scale = 0
 * freezes it: the parameters and their optimizer state do not change. */
#define SN_OPT_MAX_GROUPS (2 * SN_MAX_LAYERS + 1)

typedef struct {
    sn_optim_kind kind;
    float lr, beta1, beta2, eps, momentum, weight_decay;
    int nesterov;
    long t;          /* steps taken */
    size_t n;
    float *m, *v;    /* Adam moments / SGD momentum buffer (m) */
    int n_groups;    /* consecutive ranges covering [0, n) in order; init: one, scales 1 */
    sn_param_range groups[SN_OPT_MAX_GROUPS];
} sn_optim;

sn_status sn_optim_init(sn_ctx *ctx, sn_optim *o, sn_optim_kind kind, size_t n, float lr);
/* Replace the groups: k consecutive ranges covering [0, n) in order (as
 * sn_model_param_groups returns them). */
void sn_optim_set_groups(sn_optim *o, const sn_param_range *g, int k);
void sn_optim_step(sn_optim *o, float *params, const float *grads, int nt);
void sn_optim_free(sn_optim *o);
/* Optimizer kind by name ("adam", "adamw", "sgd"); -1 if unknown. */
int sn_optim_kind_from_name(const char *name);

/* Global L2 norm of g (n floats), summed serially in double (thread-independent). */
double sn_grad_norm(const float *g, size_t n);
/* torch.nn.utils.clip_grad_norm_: with norm = ||g||, if max_norm / (norm + 1e-6) < 1
 * scale g by that factor. Returns the norm before clipping. */
double sn_clip_grad_norm(float *g, size_t n, float max_norm);
/* Exponential moving average: ema = decay * ema + (1 - decay) * p. */
void sn_ema_update(float *ema, const float *p, size_t n, float decay, int nt);

/* ---------------------------------------------------------------- schedules */
typedef enum {
    SN_SCHED_CONSTANT = 0,
    SN_SCHED_STEP = 1,
    SN_SCHED_COSINE = 2,
    SN_SCHED_ONECYCLE = 3,
    SN_SCHED_TRIANGLE = 4
} sn_sched_kind;

/* Learning-rate schedule, evaluated per step (schedule.c has the formulas). */
typedef struct {
    sn_sched_kind kind;
    float base_lr;
    long total_steps;    /* steps of the whole run (T) */
    long warmup_steps;   /* linear warm-up steps (W) */
    int step_epochs;     /* step: decay every step_epochs epochs */
    float gamma;         /* step: factor */
} sn_schedule;

/* Schedule kind by name ("constant", "step", "cosine", "onecycle", "triangle"); -1 if unknown. */
int sn_sched_kind_from_name(const char *name);
/* LR for the step with 0-based global index `step`, taken in 1-based epoch `epoch`. */
float sn_schedule_lr(const sn_schedule *s, long step, int epoch);

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
