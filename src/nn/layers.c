/*
 * layers.c -- one static ops table per layer kind.
 *
 * Hyper-parameters (hp[]) per kind, as written in the text spec:
 *   conv    OUT K [STRIDE=1] [PAD=0]   params: w (OUT,C,K,K), b (OUT)
 *   bn      [FIXED_SCALE=0]            params: gamma (C), beta (C); bufs: run_mean, run_var;
 *                                      1: gamma stays 1 (frozen by the optimizer groups)
 *                                      (2d over H*W when H*W > 1, else 1d)
 *   maxpool K [STRIDE=K]               saved: argmax (N,C,OH,OW) int32
 *   avgpool K [STRIDE=K]
 *   linear  OUT                        params: w (OUT,IN), b (OUT); input flattened
 *   relu
 *   gelu                               y = x Phi(x) (kernels/gelu.h)
 *   flatten                            (C,H,W) -> (C*H*W,1,1)
 *   l2norm                             saved: norm (N)
 *   skip                               saved: G (N,C,H,W), the add's gradient for it
 *   add                                (partner found by sn_model_build; see nn.h)
 *   whiten  [K=2]                      a conv K x K, stride 1, no padding, OUT = 2*C*K*K;
 *                                      stored in conv form: hp = {OUT, K, 1, 0}. params:
 *                                      w (OUT,C,K,K), b (OUT), as conv, but the weights are
 *                                      set from data (sn_model_whiten_init) and frozen (the
 *                                      trainer's optimizer skips them); bufs: flag (1 = set
 *                                      from data)
 */
#include "nn/nn.h"

#include "kernels/gelu.h"
#include "kernels/kernels.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#define SN_BN_MOMENTUM 0.1f
#define SN_BN_EPS 1e-5f

static size_t shape_numel(const int s[3]) { return (size_t)s[0] * (size_t)s[1] * (size_t)s[2]; }
static size_t zero_n(const sn_layer *L) { (void)L; return 0; }
static size_t zero_saved(const sn_layer *L, int N) { (void)L; (void)N; return 0; }
static size_t zero_scratch(const sn_layer *L, int N, int nt) { (void)L; (void)N; (void)nt; return 0; }
static void no_init(const sn_layer *L, float *p, float *buf, sn_rng *rng) {
    (void)L; (void)p; (void)buf; (void)rng;
}

/* PyTorch default: kaiming_uniform_(a=sqrt(5)) => U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for
 * weights, and the same bound for the bias. */
static void init_uniform(float *p, size_t n, float bound, sn_rng *rng) {
    for (size_t i = 0; i < n; i++) p[i] = sn_rng_uniform_range(rng, -bound, bound);
}

/* ----------------------------------------------------------------- conv2d */
static void conv_dims(const sn_layer *L, int N, sn_conv2d_dims *d) {
    d->N = N; d->C = L->in[0]; d->H = L->in[1]; d->W = L->in[2];
    d->M = L->hp[0]; d->KH = d->KW = L->hp[1]; d->stride = L->hp[2]; d->pad = L->hp[3];
    sn_conv2d_dims_init(d);
}
static int conv_shape(sn_layer *L, char *why, size_t cap) {
    if (L->hp[2] == 0) L->hp[2] = 1;
    if (L->hp[0] < 1 || L->hp[1] < 1 || L->hp[2] < 1 || L->hp[3] < 0) {
        snprintf(why, cap, "conv needs OUT >= 1, K >= 1, STRIDE >= 1, PAD >= 0");
        return 0;
    }
    sn_conv2d_dims d;
    conv_dims(L, 1, &d);
    if (!sn_conv2d_dims_init(&d)) {
        snprintf(why, cap, "conv kernel %d (pad %d) does not fit input %dx%d", L->hp[1], L->hp[3],
                 L->in[1], L->in[2]);
        return 0;
    }
    /* The kernels index with int: C*K*K (a weight row, the unfolded column height) and
     * OH*OW must fit, and the unfold buffer (C*K*K + OUT) x max(OH*OW, 512) per thread
     * stays below 2^40 floats so the scratch plan cannot wrap size_t. */
    size_t ckk, ohw = (size_t)d.OH * (size_t)d.OW, cols = ohw > 512 ? ohw : 512, unf;
    if (!sn_mul_size((size_t)L->hp[1] * (size_t)L->hp[1], (size_t)d.C, &ckk) || ckk > INT_MAX ||
        ohw > INT_MAX || !sn_mul_size(ckk + (size_t)d.M, cols, &unf) || unf > (size_t)1 << 40) {
        snprintf(why, cap, "conv %d %d on a %dx%dx%d input is too large (in channels x K x K "
                 "must be <= %d, its unfold buffer <= 2^40 floats)", L->hp[0], L->hp[1],
                 L->in[0], L->in[1], L->in[2], INT_MAX);
        return 0;
    }
    L->out[0] = d.M; L->out[1] = d.OH; L->out[2] = d.OW;
    return 1;
}
static size_t conv_np(const sn_layer *L) {
    return (size_t)L->hp[0] * (size_t)L->in[0] * (size_t)L->hp[1] * (size_t)L->hp[1] + (size_t)L->hp[0];
}
static size_t conv_scratch(const sn_layer *L, int N, int nt) {
    sn_conv2d_dims d;
    conv_dims(L, N, &d);
    const size_t a = sn_conv2d_scratch_size(&d, nt), b = sn_conv2d_scratch_size_bf16(&d, nt);
    return a > b ? a : b; /* fits both precisions */
}
static void conv_init(const sn_layer *L, float *p, float *buf, sn_rng *rng) {
    (void)buf;
    size_t fan_in = (size_t)L->in[0] * (size_t)L->hp[1] * (size_t)L->hp[1];
    float bound = 1.0f / sqrtf((float)fan_in);
    size_t nw = (size_t)L->hp[0] * fan_in;
    init_uniform(p, nw, bound, rng);
    init_uniform(p + nw, (size_t)L->hp[0], bound, rng);
}
static void conv_fwd(const sn_layer *L, const sn_layer_io *io) {
    sn_conv2d_dims d;
    conv_dims(L, io->N, &d);
    size_t nw = conv_np(L) - (size_t)L->hp[0];
    (io->bf16 ? sn_conv2d_forward_bf16 : sn_conv2d_forward_f32)(io->y, io->x, io->p, io->p + nw,
                                                                 &d, io->scratch, io->nt);
}
static void conv_bwd(const sn_layer *L, const sn_layer_io *io) {
    sn_conv2d_dims d;
    conv_dims(L, io->N, &d);
    size_t nw = conv_np(L) - (size_t)L->hp[0];
    void (*bwd)(float *, float *, float *, const float *, const float *, const float *,
                const sn_conv2d_dims *, float *, int) =
        io->bf16 ? (io->dx_set ? sn_conv2d_backward_set_bf16 : sn_conv2d_backward_bf16)
                 : (io->dx_set ? sn_conv2d_backward_set_f32 : sn_conv2d_backward_f32);
    bwd(io->dx, io->dp, io->dp + nw, io->dy, io->x, io->p, &d, io->scratch, io->nt);
}

/* ----------------------------------------------------------------- whiten */
static int whiten_shape(sn_layer *L, char *why, size_t cap) {
    if (L->hp[1] == 0) { /* as parsed: hp[0] = K (0: 2); to conv form */
        const int K = L->hp[0] ? L->hp[0] : 2;
        if (K > 8 || K > L->in[1] || K > L->in[2]) {
            snprintf(why, cap, "whiten needs 1 <= K <= 8 and K <= the input size %dx%d (K = %d)",
                     L->in[1], L->in[2], K);
            return 0;
        }
        L->hp[0] = 2 * L->in[0] * K * K;
        L->hp[1] = K;
        L->hp[2] = 1;
        L->hp[3] = 0;
    }
    return conv_shape(L, why, cap);
}
static size_t one_n(const sn_layer *L) { (void)L; return 1; }
static void whiten_init(const sn_layer *L, float *p, float *buf, sn_rng *rng) {
    conv_init(L, p, buf, rng); /* until the data are seen: PyTorch's conv default */
    buf[0] = 0.0f;
}

/* -------------------------------------------------------------- batchnorm */
static int bn_shape(sn_layer *L, char *why, size_t cap) {
    if (L->hp[0] > 1) {
        snprintf(why, cap, "bn takes 0 (trained scale, the default) or 1 (scale fixed at 1)");
        return 0;
    }
    memcpy(L->out, L->in, sizeof L->out);
    return 1;
}
static size_t bn_np(const sn_layer *L) { return 2 * (size_t)L->in[0]; }
static size_t bn_saved(const sn_layer *L, int N) { (void)N; return 2 * (size_t)L->in[0]; }
static void bn_init(const sn_layer *L, float *p, float *buf, sn_rng *rng) {
    (void)rng;
    int C = L->in[0];
    for (int c = 0; c < C; c++) {
        p[c] = 1.0f;          /* gamma */
        p[C + c] = 0.0f;      /* beta */
        buf[c] = 0.0f;        /* running mean */
        buf[C + c] = 1.0f;    /* running var */
    }
}
static void bn_fwd(const sn_layer *L, const sn_layer_io *io) {
    int C = L->in[0], S = L->in[1] * L->in[2];
    if (io->train && io->bn_sync)
        sn_batchnorm_forward_train_sync_f32(io->y, io->saved, io->saved + C, io->x, io->p,
                                            io->p + C, io->buf, io->buf + C, io->N, C, S,
                                            SN_BN_MOMENTUM, SN_BN_EPS, io->nt, io->bn_sync);
    else if (io->train)
        sn_batchnorm_forward_train_f32(io->y, io->saved, io->saved + C, io->x, io->p, io->p + C,
                                       io->buf, io->buf + C, io->N, C, S, SN_BN_MOMENTUM,
                                       SN_BN_EPS, io->nt);
    else
        sn_batchnorm_forward_eval_f32(io->y, io->x, io->p, io->p + C, io->buf, io->buf + C,
                                      io->N, C, S, SN_BN_EPS, io->nt);
}
static void bn_bwd(const sn_layer *L, const sn_layer_io *io) {
    int C = L->in[0], S = L->in[1] * L->in[2];
    if (io->bn_sync) {
        sn_batchnorm_backward_sync_f32(io->dx, io->dp, io->dp + C, io->dy, io->x, io->saved,
                                       io->saved + C, io->p, io->N, C, S, io->nt, io->dx_set,
                                       io->bn_sync);
        return;
    }
    (io->dx_set ? sn_batchnorm_backward_set_f32 : sn_batchnorm_backward_f32)(
        io->dx, io->dp, io->dp + C, io->dy, io->x, io->saved, io->saved + C, io->p, io->N, C, S,
        io->nt);
}

/* ------------------------------------ batchnorm 2d [+ relu] + max pool 2x2 (fused) */
int sn_layer_bn_pool_fusable(const sn_layer *L, int n) {
    if (n < 2 || L[0].kind != SN_LAYER_BATCHNORM || L[0].in[1] * L[0].in[2] <= 1 ||
        L[0].in[1] < 2 || L[0].in[2] < 2)
        return 0;
    const int k = L[1].kind == SN_LAYER_RELU ? 3 : 2;
    if (k > n) return 0;
    const sn_layer *P = &L[k - 1];
    return P->kind == SN_LAYER_MAXPOOL && P->hp[0] == 2 && P->hp[1] == 2 ? k : 0;
}
void sn_layer_bn_pool_forward(const sn_layer *bn, const sn_layer_io *b, const sn_layer_io *r,
                              const sn_layer_io *p) {
    const int C = bn->in[0];
    SN_ASSERT(b->train && !b->bn_sync);
    sn_bn_maxpool2_forward_train_f32(p->y, (int32_t *)(void *)p->saved, b->y, b->saved,
                                     b->saved + C, b->x, b->p, b->p + C, b->buf, b->buf + C,
                                     b->N, C, bn->in[1], bn->in[2], SN_BN_MOMENTUM, SN_BN_EPS,
                                     r != NULL, b->nt);
}
void sn_layer_bn_pool_backward(const sn_layer *bn, const sn_layer_io *b, const sn_layer_io *r,
                               const sn_layer_io *p) {
    const int C = bn->in[0];
    SN_ASSERT(!b->bn_sync && (!b->dx || b->dx_set));
    sn_bn_maxpool2_backward_set_f32(b->dx, b->dp, b->dp + C, p->dy,
                                    (const int32_t *)(const void *)p->saved, b->y, b->x,
                                    b->saved, b->saved + C, b->p, r ? p->y : NULL,
                                    r ? (float *)r->dy : NULL, b->N, C, bn->in[1], bn->in[2],
                                    b->nt);
}

/* ------------------------------------------------------------------ pools */
static void pool_dims(const sn_layer *L, int N, sn_pool_dims *d) {
    d->N = N; d->C = L->in[0]; d->H = L->in[1]; d->W = L->in[2];
    d->k = L->hp[0]; d->stride = L->hp[1];
    sn_pool_dims_init(d);
}
static int pool_shape(sn_layer *L, char *why, size_t cap) {
    if (L->hp[1] == 0) L->hp[1] = L->hp[0];
    if (L->hp[0] < 1 || L->hp[1] < 1) {
        snprintf(why, cap, "pool needs K >= 1 and STRIDE >= 1");
        return 0;
    }
    sn_pool_dims d;
    pool_dims(L, 1, &d);
    if (!sn_pool_dims_init(&d)) {
        snprintf(why, cap, "pool window %d does not fit input %dx%d", L->hp[0], L->in[1], L->in[2]);
        return 0;
    }
    L->out[0] = d.C; L->out[1] = d.OH; L->out[2] = d.OW;
    return 1;
}
static size_t maxpool_saved(const sn_layer *L, int N) { return (size_t)N * shape_numel(L->out); }
static void maxpool_fwd(const sn_layer *L, const sn_layer_io *io) {
    sn_pool_dims d;
    pool_dims(L, io->N, &d);
    sn_maxpool2d_forward_f32(io->y, (int32_t *)(void *)io->saved, io->x, &d, io->nt);
}
static void maxpool_bwd(const sn_layer *L, const sn_layer_io *io) {
    if (!io->dx) return;
    sn_pool_dims d;
    pool_dims(L, io->N, &d);
    (io->dx_set ? sn_maxpool2d_backward_set_f32 : sn_maxpool2d_backward_f32)(
        io->dx, io->dy, (const int32_t *)(const void *)io->saved, &d, io->nt);
}
static void avgpool_fwd(const sn_layer *L, const sn_layer_io *io) {
    sn_pool_dims d;
    pool_dims(L, io->N, &d);
    sn_avgpool2d_forward_f32(io->y, io->x, &d, io->nt);
}
static void avgpool_bwd(const sn_layer *L, const sn_layer_io *io) {
    if (!io->dx) return;
    sn_pool_dims d;
    pool_dims(L, io->N, &d);
    (io->dx_set ? sn_avgpool2d_backward_set_f32 : sn_avgpool2d_backward_f32)(io->dx, io->dy, &d,
                                                                            io->nt);
}

/* ----------------------------------------------------------------- linear */
static int linear_shape(sn_layer *L, char *why, size_t cap) {
    if (L->hp[0] < 1) {
        snprintf(why, cap, "linear needs OUT >= 1");
        return 0;
    }
    L->out[0] = L->hp[0]; L->out[1] = 1; L->out[2] = 1;
    return 1;
}
static size_t linear_np(const sn_layer *L) {
    return (size_t)L->hp[0] * shape_numel(L->in) + (size_t)L->hp[0];
}
static void linear_init(const sn_layer *L, float *p, float *buf, sn_rng *rng) {
    (void)buf;
    size_t I = shape_numel(L->in);
    float bound = 1.0f / sqrtf((float)I);
    init_uniform(p, (size_t)L->hp[0] * I, bound, rng);
    init_uniform(p + (size_t)L->hp[0] * I, (size_t)L->hp[0], bound, rng);
}
static void linear_fwd(const sn_layer *L, const sn_layer_io *io) {
    int I = (int)shape_numel(L->in), O = L->hp[0];
    sn_linear_forward_f32(io->y, io->x, io->p, io->p + (size_t)O * (size_t)I, io->N, I, O);
}
static void linear_bwd(const sn_layer *L, const sn_layer_io *io) {
    int I = (int)shape_numel(L->in), O = L->hp[0];
    sn_linear_backward_f32(io->dx, io->dp, io->dp + (size_t)O * (size_t)I, io->dy, io->x, io->p,
                           io->N, I, O);
}

/* ------------------------------------------------------- relu / flatten / l2 */
static int same_shape(sn_layer *L, char *why, size_t cap) {
    (void)why; (void)cap;
    memcpy(L->out, L->in, sizeof L->out);
    return 1;
}
/* Element-wise passes over n values split into nt contiguous slices (one thread each;
 * below RELU_PAR_MIN values on the calling thread): the result does not depend on nt. */
#define RELU_PAR_MIN ((size_t)1 << 16)
static int relu_threads(size_t n, int nt) { return n >= RELU_PAR_MIN && nt > 1 ? nt : 1; }
/* forward (bwd = 0) or backward of the relu layer, one contiguous slice a thread */
static void relu_run(const sn_layer *L, const sn_layer_io *io, int bwd) {
    const size_t n = (size_t)io->N * shape_numel(L->in);
    const int nt = relu_threads(n, io->nt);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int t = 0; t < nt; t++) {
        const size_t a = n * (size_t)t / (size_t)nt, b = n * (size_t)(t + 1) / (size_t)nt;
        if (!bwd) sn_relu_forward_f32(io->y + a, io->x + a, b - a);
        else (io->dx_set ? sn_relu_backward_set_f32 : sn_relu_backward_f32)(io->dx + a, io->dy + a,
                                                                            io->y + a, b - a);
    }
}
static void relu_fwd(const sn_layer *L, const sn_layer_io *io) { relu_run(L, io, 0); }
static void relu_bwd(const sn_layer *L, const sn_layer_io *io) {
    if (io->dx) relu_run(L, io, 1);
}
static void gelu_fwd(const sn_layer *L, const sn_layer_io *io) {
    sn_gelu_forward_f32(io->y, io->x, (size_t)io->N * shape_numel(L->in), io->nt);
}
static void gelu_bwd(const sn_layer *L, const sn_layer_io *io) {
    if (io->dx)
        sn_gelu_backward_f32(io->dx, io->dy, io->x, (size_t)io->N * shape_numel(L->in), io->dx_set,
                             io->nt);
}
static int flatten_shape(sn_layer *L, char *why, size_t cap) {
    (void)why; (void)cap;
    L->out[0] = (int)shape_numel(L->in); L->out[1] = 1; L->out[2] = 1;
    return 1;
}
static void flatten_fwd(const sn_layer *L, const sn_layer_io *io) {
    memcpy(io->y, io->x, sizeof(float) * (size_t)io->N * shape_numel(L->in));
}
static void flatten_bwd(const sn_layer *L, const sn_layer_io *io) {
    if (!io->dx) return;
    size_t n = (size_t)io->N * shape_numel(L->in);
    for (size_t i = 0; i < n; i++) io->dx[i] += io->dy[i];
}
static size_t l2_saved(const sn_layer *L, int N) { (void)L; return (size_t)N; }
static void l2_fwd(const sn_layer *L, const sn_layer_io *io) {
    sn_l2norm_forward_f32(io->y, io->saved, io->x, io->N, (int)shape_numel(L->in), SN_L2_EPS);
}
static void l2_bwd(const sn_layer *L, const sn_layer_io *io) {
    if (io->dx)
        sn_l2norm_backward_f32(io->dx, io->dy, io->y, io->saved, io->N, (int)shape_numel(L->in),
                               SN_L2_EPS);
}

/* -------------------------------------------------------------- skip / add */
static size_t skip_saved(const sn_layer *L, int N) { return (size_t)N * shape_numel(L->out); }
static void skip_fwd(const sn_layer *L, const sn_layer_io *io) {
    memcpy(io->y, io->x, sizeof(float) * (size_t)io->N * shape_numel(L->in));
}
static void skip_bwd(const sn_layer *L, const sn_layer_io *io) {
    if (!io->dx) return;
    size_t n = (size_t)io->N * shape_numel(L->in);
    sn_add_backward_f32(io->dx, NULL, io->dy, n, io->nt);
    sn_add_backward_f32(io->dx, NULL, io->saved, n, io->nt); /* G from the add */
}
static void add_fwd(const sn_layer *L, const sn_layer_io *io) {
    SN_ASSERT(L->link >= 0);
    const float *S = io->y + L->link_y;
    sn_add_forward_f32(io->y, io->x, S, (size_t)io->N * shape_numel(L->in), io->nt);
}
static void add_bwd(const sn_layer *L, const sn_layer_io *io) {
    SN_ASSERT(L->link >= 0);
    size_t n = (size_t)io->N * shape_numel(L->in);
    memcpy(io->saved + L->link_s, io->dy, sizeof(float) * n); /* the skip's G */
    if (io->dx) sn_add_backward_f32(io->dx, NULL, io->dy, n, io->nt);
}

/* ------------------------------------------------------------------ table */
static const sn_layer_ops OPS[SN_LAYER_KIND_COUNT] = {
    [SN_LAYER_CONV2D] = {"conv", 4, conv_shape, conv_np, zero_n, zero_saved, conv_scratch,
                         conv_init, conv_fwd, conv_bwd, 1},
    [SN_LAYER_BATCHNORM] = {"bn", 1, bn_shape, bn_np, bn_np, bn_saved, zero_scratch, bn_init,
                            bn_fwd, bn_bwd, 1},
    [SN_LAYER_MAXPOOL] = {"maxpool", 2, pool_shape, zero_n, zero_n, maxpool_saved, zero_scratch,
                          no_init, maxpool_fwd, maxpool_bwd, 1},
    [SN_LAYER_AVGPOOL] = {"avgpool", 2, pool_shape, zero_n, zero_n, zero_saved, zero_scratch,
                          no_init, avgpool_fwd, avgpool_bwd, 1},
    [SN_LAYER_LINEAR] = {"linear", 1, linear_shape, linear_np, zero_n, zero_saved, zero_scratch,
                         linear_init, linear_fwd, linear_bwd},
    [SN_LAYER_RELU] = {"relu", 0, same_shape, zero_n, zero_n, zero_saved, zero_scratch, no_init,
                       relu_fwd, relu_bwd, 1},
    [SN_LAYER_FLATTEN] = {"flatten", 0, flatten_shape, zero_n, zero_n, zero_saved, zero_scratch,
                          no_init, flatten_fwd, flatten_bwd},
    [SN_LAYER_L2NORM] = {"l2norm", 0, same_shape, zero_n, zero_n, l2_saved, zero_scratch, no_init,
                         l2_fwd, l2_bwd},
    [SN_LAYER_SKIP] = {"skip", 0, same_shape, zero_n, zero_n, skip_saved, zero_scratch, no_init,
                       skip_fwd, skip_bwd},
    [SN_LAYER_ADD] = {"add", 0, same_shape, zero_n, zero_n, zero_saved, zero_scratch, no_init,
                      add_fwd, add_bwd},
    [SN_LAYER_WHITEN] = {"whiten", 1, whiten_shape, conv_np, one_n, zero_saved, conv_scratch,
                         whiten_init, conv_fwd, conv_bwd, 1},
    [SN_LAYER_GELU] = {"gelu", 0, same_shape, zero_n, zero_n, zero_saved, zero_scratch, no_init,
                       gelu_fwd, gelu_bwd, 1},
};

const sn_layer_ops *sn_layer_ops_get(sn_layer_kind k) {
    SN_ASSERT((int)k >= 0 && k < SN_LAYER_KIND_COUNT);
    return &OPS[k];
}

int sn_layer_kind_from_name(const char *name) {
    for (int k = 0; k < SN_LAYER_KIND_COUNT; k++)
        if (strcmp(OPS[k].name, name) == 0) return k;
    return -1;
}
