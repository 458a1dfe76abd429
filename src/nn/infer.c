/* infer.c -- batch-parallel, channels-last eval forward behind sn_model_embed (infer.h). */
#include "nn/infer.h"

#include "kernels/gelu.h"
#include "kernels/kernels_nhwc.h"

#include <math.h>
#include <omp.h>
#include <string.h>

/* Same constants as the layers (layers.c). */
#define SN_INFER_BN_EPS 1e-5
#define SN_INFER_L2_EPS 1e-12f
/* Chunk: at most this many images, and about this many floats per activation buffer,
 * so a chunk's two buffers and its conv scratch stay in a 1-2 MB L2. */
#define SN_INFER_CHUNK_MAX 16
#define SN_INFER_ACT_BUDGET ((size_t)1 << 17)
/* At least this many chunks when the batch allows it (load balance over the threads). */
#define SN_INFER_MIN_CHUNKS 8
/* Up to this many images, one thread: waking a second one costs more than it saves
 * (compare two images on a loaded machine: p50 1.2 ms with 2 threads, 0.15-0.17 ms with
 * one; the chunking, hence every result, is the same either way). */
#define SN_INFER_SERIAL_MAX 4

typedef enum {
    IOP_CONV,    /* im2row + GEMM, fused epilogue */
    IOP_WINO,    /* Winograd F(2x2,3x3), fused epilogue */
    IOP_LINEAR,  /* GEMM + bias (+ ReLU) */
    IOP_AFFINE,  /* batch norm not next to a conv / linear: y = a x + b per channel */
    IOP_RELU,
    IOP_GELU,
    IOP_MAXPOOL,
    IOP_AVGPOOL,
    IOP_FLATTEN, /* NHWC -> (C,H,W) order when H*W > 1; nothing otherwise */
    IOP_L2NORM,
    IOP_SKIP,    /* copy into the skip's slot */
    IOP_ADD      /* += the skip's slot */
} iop_kind;

typedef struct {
    iop_kind kind;
    int layer;           /* the model layer it computes (-1: an inserted flatten) */
    int bn;              /* folded batch norm layer, or -1 */
    int relu, pool;      /* fused epilogue (conv, linear) */
    int in[3], out[3];   /* per-image shapes (C,H,W) */
    size_t w_off, b_off; /* folded weights (or BN scale) and bias (or shift) in inf->w */
    size_t slot;         /* skip / add: the slot's offset, floats per image */
} sn_iop;

struct sn_infer {
    int n_ops;
    sn_iop ops[2 * SN_MAX_LAYERS];
    size_t n_w, tmp_w;      /* folded weights; + temporary (KH,KW,C,M) for Winograd */
    size_t act1, skip1;     /* floats per image: largest activation, all skip slots */
    float *w;
    size_t w_cap;
    float *work;            /* nt x per-thread area */
    size_t work_cap;
    float *snap;            /* params then bufs the folded weights were computed from */
    size_t snap_cap;
    int folded;             /* 1: w holds the fold of snap for the current ops */
};

static size_t numel(const int s[3]) { return (size_t)s[0] * (size_t)s[1] * (size_t)s[2]; }
static size_t up16(size_t n) { return (n + 15) & ~(size_t)15; }

static void conv_dims_of(const sn_layer *L, int N, sn_conv2d_dims *d) {
    d->N = N; d->C = L->in[0]; d->H = L->in[1]; d->W = L->in[2];
    d->M = L->hp[0]; d->KH = d->KW = L->hp[1]; d->stride = L->hp[2]; d->pad = L->hp[3];
    sn_conv2d_dims_init(d);
}

static void pool_dims_of(const sn_layer *L, int N, sn_pool_dims *d) {
    d->N = N; d->C = L->in[0]; d->H = L->in[1]; d->W = L->in[2];
    d->k = L->hp[0]; d->stride = L->hp[1];
    sn_pool_dims_init(d);
}

/* Compile m->layers into inf->ops and the per-image sizes. */
static void compile(const sn_model *m, sn_infer *inf) {
    const sn_layer *Ls = m->layers;
    const int nl = m->n_layers;
    size_t nw = 0, tmp = 0, act = (size_t)m->in_c * m->in_h * m->in_w, skip = 0;
    size_t slot_of[SN_MAX_LAYERS] = {0};
    int n = 0;
    for (int i = 0; i < nl;) {
        const sn_layer *L = &Ls[i];
        sn_iop op;
        memset(&op, 0, sizeof op);
        op.layer = i;
        op.bn = -1;
        op.pool = 1;
        memcpy(op.in, L->in, sizeof op.in);
        int j = i + 1; /* next layer not taken by this op */
        switch (L->kind) {
        case SN_LAYER_CONV2D:
        case SN_LAYER_WHITEN: /* a conv in conv form (hp), weights in the params slab */
        case SN_LAYER_LINEAR: {
            const int conv = L->kind != SN_LAYER_LINEAR;
            if (!conv && L->in[1] * L->in[2] > 1) { /* linear flattens (C,H,W) order */
                sn_iop f = op;
                f.kind = IOP_FLATTEN;
                f.layer = -1;
                f.out[0] = (int)numel(L->in);
                f.out[1] = f.out[2] = 1;
                inf->ops[n++] = f;
                op.in[0] = f.out[0];
                op.in[1] = op.in[2] = 1;
            }
            if (j < nl && Ls[j].kind == SN_LAYER_BATCHNORM) op.bn = j++;
            if (j < nl && Ls[j].kind == SN_LAYER_RELU) op.relu = 1, j++;
            if (conv && j < nl && Ls[j].kind == SN_LAYER_MAXPOOL && Ls[j].hp[0] == 2 &&
                Ls[j].hp[1] == 2) {
                op.pool = 2, j++;
                if (!op.relu && j < nl && Ls[j].kind == SN_LAYER_RELU) op.relu = 1, j++;
            }
            const size_t M = (size_t)L->hp[0];
            size_t wn = L->n_p - M; /* weights without the bias */
            if (conv) {
                sn_conv2d_dims d;
                conv_dims_of(L, 1, &d);
                op.kind = sn_conv_nhwc_wino_ok(&d) ? IOP_WINO : IOP_CONV;
                if (op.kind == IOP_WINO) {
                    if (wn > tmp) tmp = wn;
                    wn = 16 * (size_t)d.C * M;
                }
            } else {
                op.kind = IOP_LINEAR;
            }
            op.w_off = nw;
            nw += up16(wn);
            op.b_off = nw;
            nw += up16(M);
            break;
        }
        case SN_LAYER_BATCHNORM:
            op.kind = IOP_AFFINE;
            op.w_off = nw;
            nw += up16((size_t)L->in[0]);
            op.b_off = nw;
            nw += up16((size_t)L->in[0]);
            break;
        case SN_LAYER_RELU: op.kind = IOP_RELU; break;
        case SN_LAYER_GELU: op.kind = IOP_GELU; break;
        case SN_LAYER_MAXPOOL: op.kind = IOP_MAXPOOL; break;
        case SN_LAYER_AVGPOOL: op.kind = IOP_AVGPOOL; break;
        case SN_LAYER_FLATTEN: op.kind = IOP_FLATTEN; break;
        case SN_LAYER_L2NORM: op.kind = IOP_L2NORM; break;
        case SN_LAYER_SKIP:
            op.kind = IOP_SKIP;
            op.slot = slot_of[i] = skip;
            skip += numel(L->out);
            break;
        case SN_LAYER_ADD:
            op.kind = IOP_ADD;
            op.slot = slot_of[L->link];
            break;
        default: SN_ASSERT(0);
        }
        memcpy(op.out, Ls[j - 1].out, sizeof op.out);
        if (numel(op.out) > act) act = numel(op.out);
        inf->ops[n++] = op;
        i = j;
    }
    inf->n_ops = n;
    inf->n_w = nw;
    inf->tmp_w = tmp;
    inf->act1 = act;
    inf->skip1 = skip;
}

/* Images per chunk: from n and the architecture only (never the thread count). */
static int chunk_of(const sn_infer *inf, int n) {
    size_t b = ((size_t)n + SN_INFER_MIN_CHUNKS - 1) / SN_INFER_MIN_CHUNKS;
    size_t cap = SN_INFER_ACT_BUDGET / inf->act1;
    if (cap < 1) cap = 1;
    if (cap > SN_INFER_CHUNK_MAX) cap = SN_INFER_CHUNK_MAX;
    if (b > cap) b = cap;
    return b < 1 ? 1 : (int)b;
}

/* Scratch floats for a chunk of B images. */
static size_t scratch_of(const sn_model *m, const sn_infer *inf, int B) {
    size_t s = up16((size_t)B); /* l2norm's norms */
    for (int k = 0; k < inf->n_ops; k++) {
        const sn_iop *op = &inf->ops[k];
        if (op->kind != IOP_CONV && op->kind != IOP_WINO) continue;
        sn_conv2d_dims d;
        conv_dims_of(&m->layers[op->layer], B, &d);
        size_t c = op->kind == IOP_WINO ? sn_conv_nhwc_wino_scratch(&d) : sn_conv_nhwc_scratch(&d);
        if (up16(c) > s) s = up16(c);
    }
    return s;
}

/* Batch norm layer bn (eval) as y = A x + Bc per channel, in double. */
static void bn_coef(const sn_model *m, int bn, int c, double *A, double *Bc) {
    const sn_layer *L = &m->layers[bn];
    const int C = L->in[0];
    const float *g = m->params + L->p_off, *be = g + C;
    const float *rm = m->bufs + L->b_off, *rv = rm + C;
    const double r = 1.0 / sqrt((double)rv[c] + SN_INFER_BN_EPS);
    *A = r * g[c];
    *Bc = be[c] - (double)rm[c] * r * g[c];
}

/* Folded weights of every op from the current parameters. */
static void fold(const sn_model *m, sn_infer *inf) {
    float *tmp = inf->w + inf->n_w;
    for (int k = 0; k < inf->n_ops; k++) {
        const sn_iop *op = &inf->ops[k];
        if (op->kind == IOP_AFFINE) {
            const int C = op->in[0];
            for (int c = 0; c < C; c++) {
                double A, Bc;
                bn_coef(m, op->layer, c, &A, &Bc);
                inf->w[op->w_off + (size_t)c] = (float)A;
                inf->w[op->b_off + (size_t)c] = (float)Bc;
            }
            continue;
        }
        if (op->kind != IOP_CONV && op->kind != IOP_WINO && op->kind != IOP_LINEAR) continue;
        const sn_layer *L = &m->layers[op->layer];
        const int M = L->hp[0];
        const size_t fan = (L->n_p - (size_t)M) / (size_t)M; /* C*KH*KW, or I */
        const float *w = m->params + L->p_off, *b = w + (size_t)M * fan;
        float *wo = op->kind == IOP_WINO ? tmp : inf->w + op->w_off, *bo = inf->w + op->b_off;
        const size_t KK = op->kind == IOP_LINEAR ? 1 : (size_t)L->hp[1] * L->hp[1];
        const size_t C = fan / KK;
        for (int o = 0; o < M; o++) {
            double A = 1.0, Bc = 0.0;
            if (op->bn >= 0) bn_coef(m, op->bn, o, &A, &Bc);
            bo[o] = (float)((double)b[o] * A + Bc);
            const float *wr = w + (size_t)o * fan; /* (C,KH,KW) or (I) */
            if (op->kind == IOP_LINEAR) {
                float *r = wo + (size_t)o * fan;
                for (size_t i = 0; i < fan; i++) r[i] = (float)((double)wr[i] * A);
                continue;
            }
            for (size_t c = 0; c < C; c++) /* -> (KH,KW,C,M) */
                for (size_t t = 0; t < KK; t++)
                    wo[(t * C + c) * (size_t)M + (size_t)o] = (float)((double)wr[c * KK + t] * A);
        }
        if (op->kind == IOP_WINO) sn_conv_nhwc_wino_weights(inf->w + op->w_off, tmp, (int)C, M);
    }
}

/* One chunk of B images through the network: px (B, C,H,W) uint8 -> out (B, D). */
static void run_chunk(const sn_model *m, const sn_infer *inf, float *area, int B,
                      const uint8_t *px, float *out) {
    const size_t act = up16((size_t)B * inf->act1);
    float *cur = area, *nxt = area + act, *skip = nxt + act;
    float *scr = skip + up16((size_t)B * inf->skip1);
    const int C0 = m->in_c;
    const size_t plane = (size_t)m->in_h * m->in_w;
    for (int i = 0; i < B; i++) /* normalise, as sn_model_set_input, into (H,W,C) */
        for (int c = 0; c < C0; c++) {
            const float sc = 1.0f / (255.0f * m->std[c]), sh = m->mean[c] / m->std[c];
            const uint8_t *p = px + ((size_t)i * C0 + c) * plane;
            float *x = cur + (size_t)i * plane * C0 + c;
            for (size_t j = 0; j < plane; j++) x[j * C0] = (float)p[j] * sc - sh;
        }
    for (int k = 0; k < inf->n_ops; k++) {
        const sn_iop *op = &inf->ops[k];
        const sn_layer *L = op->layer >= 0 ? &m->layers[op->layer] : NULL;
        const size_t nin = (size_t)B * numel(op->in);
        const float *w = inf->w + op->w_off, *b = inf->w + op->b_off;
        int swap = 1;
        switch (op->kind) {
        case IOP_CONV:
        case IOP_WINO: {
            sn_conv2d_dims d;
            conv_dims_of(L, B, &d);
            const sn_conv_epi e = {b, op->relu, op->pool};
            if (op->kind == IOP_WINO) sn_conv_nhwc_wino_f32(nxt, cur, w, &e, &d, scr);
            else sn_conv_nhwc_forward_f32(nxt, cur, w, &e, &d, scr);
            break;
        }
        case IOP_LINEAR: {
            const int I = op->in[0], O = op->out[0];
            sn_gemm_f32(0, 1, B, O, I, 1.0f, cur, I, w, I, 0.0f, nxt, O);
            for (int i = 0; i < B; i++) {
                float *y = nxt + (size_t)i * O;
                for (int o = 0; o < O; o++) {
                    const float v = y[o] + b[o];
                    y[o] = op->relu && v < 0.0f ? 0.0f : v;
                }
            }
            break;
        }
        case IOP_AFFINE: {
            const size_t C = (size_t)op->in[0], P = nin / C;
            for (size_t p = 0; p < P; p++) {
                float *x = cur + p * C;
#pragma omp simd
                for (size_t c = 0; c < C; c++) x[c] = x[c] * w[c] + b[c];
            }
            swap = 0;
            break;
        }
        case IOP_RELU:
            for (size_t i = 0; i < nin; i++) cur[i] = cur[i] > 0.0f ? cur[i] : 0.0f;
            swap = 0;
            break;
        case IOP_GELU: /* elementwise: the NHWC order does not matter; one thread per chunk */
            sn_gelu_forward_f32(cur, cur, nin, 1);
            swap = 0;
            break;
        case IOP_MAXPOOL:
        case IOP_AVGPOOL: {
            sn_pool_dims d;
            pool_dims_of(L, B, &d);
            (op->kind == IOP_MAXPOOL ? sn_maxpool_nhwc_f32 : sn_avgpool_nhwc_f32)(nxt, cur, &d);
            break;
        }
        case IOP_FLATTEN: {
            const size_t C = (size_t)op->in[0], P = (size_t)op->in[1] * op->in[2];
            if (P == 1) {
                swap = 0;
                break;
            }
            for (int i = 0; i < B; i++) /* (P,C) -> (C,P) */
                for (size_t p = 0; p < P; p++)
                    for (size_t c = 0; c < C; c++)
                        nxt[(size_t)i * P * C + c * P + p] = cur[(size_t)i * P * C + p * C + c];
            break;
        }
        case IOP_L2NORM:
            sn_l2norm_forward_f32(nxt, scr, cur, B, (int)numel(op->in), SN_INFER_L2_EPS);
            break;
        case IOP_SKIP:
            memcpy(skip + (size_t)B * op->slot, cur, sizeof(float) * nin);
            swap = 0;
            break;
        case IOP_ADD: {
            const float *s = skip + (size_t)B * op->slot;
            for (size_t i = 0; i < nin; i++) cur[i] += s[i];
            swap = 0;
            break;
        }
        }
        if (swap) {
            float *t = cur;
            cur = nxt;
            nxt = t;
        }
    }
    memcpy(out, cur, sizeof(float) * (size_t)B * (size_t)m->embed_dim);
}

void sn_infer_free(sn_infer *inf) {
    if (!inf) return;
    sn_aligned_free(inf->w);
    sn_aligned_free(inf->work);
    sn_aligned_free(inf->snap);
    free(inf);
}

/* Grow *p to n floats (contents not kept). */
static int reserve(float **p, size_t *cap, size_t n) {
    if (n <= *cap && *p) return 1;
    sn_aligned_free(*p);
    *cap = 0;
    *p = sn_aligned_alloc(n ? n : 1, sizeof(float));
    if (!*p) return 0;
    *cap = n;
    return 1;
}

sn_status sn_infer_embed(sn_ctx *ctx, sn_model *m, const uint8_t *pixels, int n, float *out) {
    if (m->bf16) return sn_model_embed_ref(ctx, m, pixels, n, out);
    if (n <= 0) return SN_OK;
    if (!m->infer) {
        m->infer = sn_calloc(1, sizeof *m->infer);
        if (!m->infer) return sn_errf(ctx, SN_ERR_NOMEM, "embedding: out of memory (plan)");
    }
    sn_infer *inf = m->infer;
    compile(m, inf);
    const int B = chunk_of(inf, n), nch = (int)(((size_t)n + (size_t)B - 1) / (size_t)B);
    int nt = sn_ctx_threads(ctx);
    if (nt > nch) nt = nch;
    if (n <= SN_INFER_SERIAL_MAX) nt = 1;
    /* per thread: two activation buffers, the skip slots, the conv scratch */
    size_t per = 0, sk = 0, total = 0;
    int ok = sn_mul_size((size_t)B, inf->act1, &per) && sn_mul_size((size_t)B, inf->skip1, &sk);
    if (ok) {
        per = 2 * up16(per) + up16(sk) + scratch_of(m, inf, B);
        ok = sn_mul_size(per, (size_t)nt, &total);
    }
    const size_t nps = m->n_params + m->n_bufs, wcap = inf->w_cap;
    if (!ok || !reserve(&inf->w, &inf->w_cap, inf->n_w + inf->tmp_w) ||
        !reserve(&inf->work, &inf->work_cap, total) || !reserve(&inf->snap, &inf->snap_cap, nps)) {
        inf->folded = 0;
        return sn_errf(ctx, SN_ERR_NOMEM, "embedding: out of memory for %d threads x %d-image "
                       "chunks of %zu floats per image", nt, B, inf->act1);
    }
    /* Fold again only when the parameters or BN statistics changed since the last call
     * (compared bit for bit with a copy: exact, and far cheaper than the fold). */
    if (wcap != inf->w_cap) inf->folded = 0;
    if (!inf->folded || memcmp(inf->snap, m->params, sizeof(float) * m->n_params) ||
        memcmp(inf->snap + m->n_params, m->bufs, sizeof(float) * m->n_bufs)) {
        fold(m, inf);
        memcpy(inf->snap, m->params, sizeof(float) * m->n_params);
        memcpy(inf->snap + m->n_params, m->bufs, sizeof(float) * m->n_bufs);
        inf->folded = 1;
    }
    const size_t img = (size_t)m->in_c * m->in_h * m->in_w, D = (size_t)m->embed_dim;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nt > 1)
    for (int c = 0; c < nch; c++) {
        const int i0 = c * B, b = n - i0 < B ? n - i0 : B;
        run_chunk(m, inf, inf->work + (size_t)omp_get_thread_num() * per, b,
                  pixels + (size_t)i0 * img, out + (size_t)i0 * D);
    }
    return SN_OK;
}
