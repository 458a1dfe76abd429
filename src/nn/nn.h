/*
 * nn.h -- layers as static ops tables, the sequential model, and its memory plan.
 *
 * A model is a list of small layer instances (sn_layer: kind + hyper-parameters +
 * offsets computed by the planner). Behaviour lives in one `static const
 * sn_layer_ops` table per kind (layers.c); dispatch is by kind index, never by name.
 *
 * Memory (planned once per batch capacity, nothing allocated inside a step):
 *   params  one slab, all layers' parameters in layer order  (n_params floats)
 *   grads   one slab of the same layout                        (n_params floats)
 *   bufs    non-trainable state (BN running mean/var)          (n_bufs floats)
 *   act     arena: input x0 (N*in) then each layer's output (N*out) then each
 *           layer's saved-for-backward values
 *   dact    arena: gradient w.r.t. every activation, same layout as act outputs
 *   scratch shared by all layers (max over layers)
 */
#ifndef SN_NN_H
#define SN_NN_H

#include "core/core.h"

#include <stddef.h>

/* A range of the params slab and its optimizer scales (see sn_model_param_groups). */
typedef struct {
    size_t off, n;
    float lr_scale, wd_scale;
} sn_param_range;

typedef enum {
    SN_LAYER_CONV2D = 0,
    SN_LAYER_BATCHNORM,  /* 2d when the input has H*W > 1 or C,H,W from a conv; 1d otherwise */
    SN_LAYER_MAXPOOL,
    SN_LAYER_AVGPOOL,
    SN_LAYER_LINEAR,
    SN_LAYER_RELU,
    SN_LAYER_FLATTEN,
    SN_LAYER_L2NORM,
    SN_LAYER_SKIP,       /* start of a residual branch: y = x (a copy, see below) */
    SN_LAYER_ADD,        /* end of the branch: y = x + (output of the matching skip) */
    SN_LAYER_WHITEN,     /* conv K x K, 2*C*K*K outputs, weights set from data and frozen */
    SN_LAYER_GELU,       /* y = x Phi(x) (torch.nn.GELU, erf form) */
    SN_LAYER_KIND_COUNT
} sn_layer_kind;

#define SN_MAX_LAYERS 64

typedef struct {
    sn_layer_kind kind;
    int hp[4];            /* hyper-parameters (see layers.c per kind) */
    int in[3], out[3];    /* per-sample shapes (C,H,W); flat vectors are (D,1,1) */
    size_t p_off, n_p;    /* parameters: offset/count in the params slab */
    size_t b_off, n_b;    /* buffers: offset/count in the bufs slab */
    size_t y_off;         /* output activation offset in act (floats) */
    size_t s_off, n_s;    /* saved-for-backward offset/count in act (floats, for N) */
    int link;             /* skip <-> add: index of the partner layer; -1 otherwise */
    ptrdiff_t link_y;     /* add only (set by the plan): skip.y_off - add.y_off */
    ptrdiff_t link_s;     /* add only (set by the plan): skip.s_off - add.s_off */
} sn_layer;

/*
 * Residual branches. `skip` and `add` nest like brackets; an add's input shape must
 * equal its skip's output shape. Graph: skip's output S feeds both the next layer and
 * the add, so dL/dS = (gradient from the next layer) + (gradient from the add).
 *   skip  forward  y = x (own output slot; a copy, so that every layer's dx is a
 *                  separate slot and a driver may zero it right before the layer's
 *                  backward, as sn_model_backward and explain.c do)
 *         saved    G (N, shape): the add's gradient for S, written by the add's backward
 *         backward dx += dy + G
 *   add   forward  y = x + S, S at io->y + link_y
 *         backward dx += dy;  G = dy  (G at io->saved + link_s, assigned, not added)
 * The add runs its backward before the skip's (reverse order), so G is always fresh.
 * Invariant this relies on: a driver passes io->y = act + y_off and io->saved =
 * act + s_off of the one activation arena, so partner slots are reached by offset.
 */

/* Arguments for one layer call. x/y point at the layer's input/output activations
 * (N, in) and (N, out); dx/dy at their gradients. */
typedef struct {
    int N, train, nt;
    const float *x;
    float *y;
    float *saved;
    const float *p;
    float *dp;
    float *buf;
    float *dx;        /* may be NULL: no input gradient needed */
    const float *dy;
    float *scratch;
    int dx_set;       /* 1: dx was not zeroed and has no other contributor, the layer
                         assigns it (only layers with ops->assigns_dx); 0: accumulate */
    int bf16;         /* 1: conv layers multiply in bf16 (sn_model_set_precision) */
    const struct sn_bn_sync *bn_sync; /* training-mode BN: statistics over all replicas
                                         (kernels.h); NULL: over these N rows */
} sn_layer_io;

typedef struct {
    const char *name;
    int n_hp;                                     /* hyper-parameters in the text spec */
    /* Validate hyper-parameters against the input shape, set L->out. 0 = invalid. */
    int (*shape)(sn_layer *L, char *why, size_t why_cap);
    size_t (*n_params)(const sn_layer *L);
    size_t (*n_bufs)(const sn_layer *L);
    size_t (*n_saved)(const sn_layer *L, int N);  /* floats */
    size_t (*scratch)(const sn_layer *L, int N, int nt);
    void (*init)(const sn_layer *L, float *p, float *buf, sn_rng *rng);
    void (*forward)(const sn_layer *L, const sn_layer_io *io);
    void (*backward)(const sn_layer *L, const sn_layer_io *io);
    int assigns_dx;   /* backward honours io->dx_set (kernels' _set variants) */
} sn_layer_ops;

/* Training-mode batch norm 2d followed by a 2x2 stride-2 max pool, with or without a
 * relu between, run as one pass (kernels.h sn_bn_maxpool2_*): same outputs, saved values
 * and gradients as the layers apart (gradients up to summation order).
 * sn_layer_bn_pool_fusable(L, n): of the n layers from L[0], 2 (bn, maxpool 2), 3 (bn,
 * relu, maxpool 2) or 0 (not fusable). b, r, p: the bn's, relu's (NULL without) and
 * pool's usual io; the BN's output slot b->y holds x at the pool's argmax instead of
 * the BN output, the relu's output-gradient slot r->dy is the backward's work buffer
 * (nothing else reads either). Not for synchronized BN. The backward assigns b->dx (or
 * NULL). */
int sn_layer_bn_pool_fusable(const sn_layer *L, int n);
void sn_layer_bn_pool_forward(const sn_layer *bn, const sn_layer_io *b, const sn_layer_io *r,
                              const sn_layer_io *p);
void sn_layer_bn_pool_backward(const sn_layer *bn, const sn_layer_io *b, const sn_layer_io *r,
                               const sn_layer_io *p);
const sn_layer_ops *sn_layer_ops_get(sn_layer_kind k);
/* Kind by spec name ("conv", "bn", ...); -1 if unknown. */
int sn_layer_kind_from_name(const char *name);

#define SN_META_MAX 64
#define SN_SPEC_CAP 1024

/* eps of the l2norm layer (torch.nn.functional.normalize); also used on the mean of the test-time views */
#define SN_L2_EPS 1e-12f

struct sn_model {
    char arch[64];               /* preset name or "custom" */
    char spec[SN_SPEC_CAP];      /* architecture text spec */
    int in_c, in_h, in_w;
    float mean[3], std[3];
    float threshold;
    int n_ops;
    sn_operating_point ops[SN_MAX_OPS];
    int n_layers;
    sn_layer layers[SN_MAX_LAYERS];
    int embed_dim;
    size_t n_params, n_bufs;
    float *params, *grads, *bufs;
    int n_meta;
    char *meta_key[SN_META_MAX], *meta_val[SN_META_MAX];
    /* test-time augmentation (sn_model_set_tta; saved as the header key `tta`): the
     * embedding is the mean over the views {identity, mirror if tta_flip} x {(0,0), and
     * the 4 shifts by tta_shift pixels if tta_shift > 0}; tta[] is the canonical spec,
     * "" for none */
    int tta_flip, tta_shift;
    char tta[16];
    /* plan (activation memory) */
    int cap_n;                   /* batch capacity planned for */
    int nt;
    int bf16;                    /* conv arithmetic: 1 = bf16 multiplies, fp32 sums and
                                    master weights (sn_model_set_precision); not saved */
    size_t act_floats, scratch_floats;
    float *act, *dact, *scratch;
    struct sn_infer *infer;      /* inference path's plan and buffers (infer.h), or NULL */
    /* Synchronized batch norm (data-parallel training with sync_bn): set by the trainer
     * (sn_dp_sync_bn) for the run and cleared after it; NULL: per-process statistics. */
    const struct sn_bn_sync *bn_sync;
};

/* Text spec of the preset cfg->arch for input cfg->in_c x in_h x in_w, with
 * cfg->embed_dim / width / l2_normalize applied, into buf (cap >= SN_SPEC_CAP).
 * *is_preset = 0 (and SN_OK, buf untouched) when cfg->arch is not a preset name.
 * SN_ERR_ARG when an option does not apply or the input does not fit the preset. */
sn_status sn_arch_spec(sn_ctx *ctx, const sn_model_config *cfg, char *buf, size_t cap,
                       int *is_preset);
/* Multiply-accumulates of one forward pass of one image (conv, linear; the other
 * layers' elementwise work is not counted). */
double sn_model_macs(const sn_model *m);
/* Parse a text spec into m->layers (shapes from m->in_*), computing the parameter
 * layout. Errors name the offending token. */
sn_status sn_model_build(sn_ctx *ctx, sn_model *m, const char *spec);
/* Allocate params/grads/bufs slabs (zeroed). */
sn_status sn_model_alloc_slabs(sn_ctx *ctx, sn_model *m);
/* PyTorch default initialisation from seed. */
void sn_model_init_params(sn_model *m, uint64_t seed);
/* Patch whitening (whiten.c): every `whiten` layer not yet initialised from data (its
 * buffer flag is 0) gets its weights from the first n_images of ds, normalised with the
 * model's mean/std: with Sigma the uncentred covariance of all K x K patches (D = C K K),
 * eigenpairs (l_j, v_j) in descending order, filter j = v_j / sqrt(l_j + eps) and filter
 * D + j = -v_j / sqrt(l_j + eps) (Jordan's airbench, after Page's ResNet-9 line); bias 0.
 * The layer must be the first (its input is the normalised image). Sets the flag. */
sn_status sn_model_whiten_init(sn_ctx *ctx, sn_model *m, const sn_dataset *ds, int n_images,
                               float eps);
/* Optimizer parameter groups of the model, in slab order, covering every parameter:
 * frozen (lr and decay scale 0): whiten weights and the gamma of `bn 1` layers; batch-norm
 * parameters otherwise step with lr * bn_lr_scale and weight decay / bn_lr_scale (so the
 * decay per step is unchanged: airbench's "bias scaler"); the rest with scale 1.
 * Neighbouring ranges of equal scales are merged. Returns the count (<= cap). */
int sn_model_param_groups(const sn_model *m, float bn_lr_scale, sn_param_range *g, int cap);
/* Ensure activation memory for batches up to N with nt threads. */
sn_status sn_model_plan(sn_ctx *ctx, sn_model *m, int N);
/* Input buffer of the plan: (cap_n, in_c, in_h, in_w). */
float *sn_model_input(sn_model *m);
/* Normalise uint8 image into the input buffer row i: (p/255 - mean[c]) / std[c]. */
void sn_model_set_input(sn_model *m, int i, const uint8_t *img);
/* Forward N inputs from the input buffer; returns output (N, embed_dim). */
const float *sn_model_forward(sn_model *m, int N, int train);
/* Backward from dout (N, embed_dim); accumulates into m->grads. need_dx: also
 * compute the gradient w.r.t. the input (returned, else NULL). */
const float *sn_model_backward(sn_model *m, int N, const float *dout, int need_dx);

#endif
