/*
 * model.c -- sequential model: text spec parsing, slabs, memory plan, forward/backward.
 *
 * Text spec (docs/architectures.md): layers separated by ';' or newlines, each
 * "NAME [INT ...]"; '#' starts a comment to the end of the line; `skip` ... `add`
 * brackets a residual branch. Example (the seed net):
 *   conv 32 3 1 1; bn; maxpool 2; conv 64 3 1 1; bn; maxpool 2; conv 128 3 1 0; bn;
 *   avgpool 5; flatten; linear 64; bn; linear 2
 */
#include "nn/nn.h"

#include "kernels/kernels.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Largest model: parameters (and BN buffers), each a float slab plus a gradient slab. */
#define SN_MODEL_MAX_PARAMS ((size_t)1 << 28)

/* Appends printf-formatted text to buf at *off; 0 if it did not fit. */
static int spec_cat(char *buf, size_t cap, size_t *off, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = *off < cap ? vsnprintf(buf + *off, cap - *off, fmt, ap) : -1;
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *off) return 0;
    *off += (size_t)n;
    return 1;
}

/* conv-BN-ReLU at C channels, 3x3 pad 1 (keeps the spatial size) */
#define CBR "conv %d 3 1 1; bn; relu; "

/* The pooling presets (resnet, airbench): *w = round(64 x width) channels in the first
 * stage (>= 1), on a square input of at least min_hw x min_hw (why: what shrinks it). */
static sn_status pyramid_width(sn_ctx *ctx, const sn_model_config *cfg, const char *a, int min_hw,
                               const char *why, int *w) {
    *w = (int)lround(64.0 * (cfg->width > 0.0f ? cfg->width : 1.0f));
    if (*w < 1)
        return sn_errf(ctx, SN_ERR_ARG, "architecture %s: width %g gives no channels "
                                        "(64 x width must be >= 1)", a, (double)cfg->width);
    if (cfg->in_h != cfg->in_w || cfg->in_h < min_hw)
        return sn_errf(ctx, SN_ERR_ARG, "architecture %s needs a square input of at least %dx%d "
                                        "(%s), got %dx%d",
                       a, min_hw, min_hw, why, cfg->in_h, cfg->in_w);
    return SN_OK;
}

sn_status sn_arch_spec(sn_ctx *ctx, const sn_model_config *cfg, char *buf, size_t cap,
                       int *is_preset) {
    const char *a = cfg->arch;
    int seed = !strcmp(a, "seed"), relu = !strcmp(a, "seed-relu"), res = !strcmp(a, "resnet");
    int air = !strcmp(a, "airbench");
    *is_preset = seed || relu || res || air;
    if (!*is_preset) return SN_OK;
    if (cfg->embed_dim < 0 || cfg->embed_dim > 65536)
        return sn_errf(ctx, SN_ERR_ARG, "architecture %s: embedding size %d not in 1..65536", a,
                       cfg->embed_dim);
    if (!(cfg->width >= 0.0f && cfg->width <= 64.0f))
        return sn_errf(ctx, SN_ERR_ARG, "architecture %s: width %g not in (0, 64]", a,
                       (double)cfg->width);
    if (!res && !air && cfg->width != 0.0f && cfg->width != 1.0f)
        return sn_errf(ctx, SN_ERR_ARG, "architecture %s: width %g applies to resnet and airbench only", a,
                       (double)cfg->width);
    int D = cfg->embed_dim ? cfg->embed_dim : seed ? 2 : 128;
    size_t off = 0;
    int ok;
    if (seed)
        ok = spec_cat(buf, cap, &off, "conv 32 3 1 1; bn; maxpool 2; conv 64 3 1 1; bn; maxpool 2; "
                                      "conv 128 3 1 0; bn; avgpool 5; flatten; linear 64; bn; "
                                      "linear %d", D);
    else if (relu)
        ok = spec_cat(buf, cap, &off, "conv 32 3 1 1; bn; relu; maxpool 2; conv 64 3 1 1; bn; relu; "
                                      "maxpool 2; conv 128 3 1 0; bn; relu; avgpool 5; flatten; "
                                      "linear 64; bn; relu; linear %d", D);
    else if (air) {
        /* Keller Jordan's airbench (CIFAR-10 speed runs) as an embedding net: a frozen 2x2
         * patch-whitening conv, then three conv blocks (64w, 256w, 256w channels) of
         * conv-pool-BN-ReLU + conv-BN-ReLU with fixed-scale BN (bn 1: shift only), a global
         * max-pool; the embedding is the pooled features, or a linear D when asked. */
        int w1;
        sn_status st = pyramid_width(ctx, cfg, a, 9, "2x2 whitening, three 2x2 max-pools", &w1);
        if (st) return st;
        const int w2 = 4 * w1, g = (cfg->in_h - 1) / 2 / 2 / 2;
        ok = spec_cat(buf, cap, &off,
                      "whiten 2; relu; "
                      "conv %d 3 1 1; maxpool 2; bn 1; relu; conv %d 3 1 1; bn 1; relu; "
                      "conv %d 3 1 1; maxpool 2; bn 1; relu; conv %d 3 1 1; bn 1; relu; "
                      "conv %d 3 1 1; maxpool 2; bn 1; relu; conv %d 3 1 1; bn 1; relu; "
                      "maxpool %d; flatten",
                      w1, w1, w2, w2, w2, w2, g);
        if (ok && cfg->embed_dim) ok = spec_cat(buf, cap, &off, "; linear %d", cfg->embed_dim);
    } else {
        /* 64*w channels; three 2x2 max-pools then a global max-pool over what is left. */
        int w;
        sn_status st = pyramid_width(ctx, cfg, a, 8, "three 2x2 max-pools", &w);
        if (st) return st;
        int g = cfg->in_h / 2 / 2 / 2;
        ok = spec_cat(buf, cap, &off,
                      CBR                                    /* prep */
                      CBR "maxpool 2; skip; " CBR CBR "add; " /* layer1 + residual */
                      CBR "maxpool 2; "                      /* layer2 */
                      CBR "maxpool 2; skip; " CBR CBR "add; " /* layer3 + residual */
                      "maxpool %d; flatten; linear %d",
                      w, 2 * w, 2 * w, 2 * w, 4 * w, 8 * w, 8 * w, 8 * w, g, D);
    }
    if (ok && cfg->l2_normalize) ok = spec_cat(buf, cap, &off, "; l2norm");
    if (!ok) return sn_errf(ctx, SN_ERR_ARG, "architecture %s: spec longer than %zu", a, cap - 1);
    return SN_OK;
}

/* Parse one layer statement [s, e) into L. */
static sn_status parse_layer(sn_ctx *ctx, const char *s, const char *e, sn_layer *L) {
    char word[32];
    size_t n = 0;
    while (s < e && isspace((unsigned char)*s)) s++;
    while (s < e && !isspace((unsigned char)*s) && n + 1 < sizeof word) word[n++] = *s++;
    word[n] = 0;
    int kind = sn_layer_kind_from_name(word);
    if (kind < 0)
        return sn_errf(ctx, SN_ERR_ARG,
                       "architecture spec: unknown layer '%s' (known: conv, bn, maxpool, "
                       "avgpool, linear, relu, gelu, flatten, l2norm, skip, add, whiten)",
                       word);
    const sn_layer_ops *ops = sn_layer_ops_get((sn_layer_kind)kind);
    memset(L, 0, sizeof *L);
    L->kind = (sn_layer_kind)kind;
    int nhp = 0;
    for (;;) {
        while (s < e && isspace((unsigned char)*s)) s++;
        if (s >= e) break;
        if (nhp >= ops->n_hp)
            return sn_errf(ctx, SN_ERR_ARG, "architecture spec: '%s' takes at most %d numbers",
                           word, ops->n_hp);
        char num[24];
        size_t k = 0;
        while (s < e && !isspace((unsigned char)*s) && k + 1 < sizeof num) num[k++] = *s++;
        num[k] = 0;
        char *end;
        errno = 0;
        long v = strtol(num, &end, 10);
        if (*end || errno || v < 0 || v > 1 << 20)
            return sn_errf(ctx, SN_ERR_ARG, "architecture spec: '%s': bad number '%s'", word, num);
        L->hp[nhp++] = (int)v;
    }
    if ((L->kind == SN_LAYER_CONV2D && nhp < 2) || (L->kind == SN_LAYER_LINEAR && nhp < 1) ||
        ((L->kind == SN_LAYER_MAXPOOL || L->kind == SN_LAYER_AVGPOOL) && nhp < 1))
        return sn_errf(ctx, SN_ERR_ARG, "architecture spec: '%s' needs more numbers", word);
    return SN_OK;
}

sn_status sn_model_build(sn_ctx *ctx, sn_model *m, const char *spec) {
    if (strlen(spec) >= sizeof m->spec)
        return sn_errf(ctx, SN_ERR_ARG, "architecture spec longer than %zu characters",
                       sizeof m->spec - 1);
    if (m->in_c < 1 || m->in_h < 1 || m->in_w < 1 || m->in_c > 3 || m->in_h > 4096 ||
        m->in_w > 4096)
        return sn_errf(ctx, SN_ERR_ARG, "input shape %dx%dx%d not supported (C 1..3, H,W 1..4096)",
                       m->in_c, m->in_h, m->in_w);
    if (spec != m->spec) strcpy(m->spec, spec);
    m->n_layers = 0;
    const char *s = m->spec;
    int cur[3] = {m->in_c, m->in_h, m->in_w};
    size_t np = 0, nb = 0;
    int pend[SN_MAX_LAYERS], depth = 0; /* indices of the skips not yet joined by an add */
    while (*s) {
        const char *e = s;
        while (*e && *e != ';' && *e != '\n' && *e != '#') e++;
        const char *t = s;
        while (t < e && isspace((unsigned char)*t)) t++;
        if (t < e) {
            if (m->n_layers >= SN_MAX_LAYERS)
                return sn_errf(ctx, SN_ERR_ARG, "architecture spec: more than %d layers",
                               SN_MAX_LAYERS);
            sn_layer *L = &m->layers[m->n_layers];
            sn_status st = parse_layer(ctx, t, e, L);
            if (st) return st;
            memcpy(L->in, cur, sizeof cur);
            const sn_layer_ops *ops = sn_layer_ops_get(L->kind);
            char why[160] = "";
            if (!ops->shape(L, why, sizeof why))
                return sn_errf(ctx, SN_ERR_ARG, "architecture spec: layer %d (%s): %s",
                               m->n_layers + 1, ops->name, why);
            if ((size_t)L->out[0] * (size_t)L->out[1] * (size_t)L->out[2] > (size_t)1 << 26)
                return sn_errf(ctx, SN_ERR_ARG, "architecture spec: layer %d output too large",
                               m->n_layers + 1);
            int idx = m->n_layers;
            L->link = -1;
            if (L->kind == SN_LAYER_SKIP) {
                pend[depth++] = idx;
            } else if (L->kind == SN_LAYER_ADD) {
                if (depth == 0)
                    return sn_errf(ctx, SN_ERR_ARG, "architecture spec: layer %d (add) has no "
                                   "skip before it to join (skip/add nest like brackets)", idx + 1);
                sn_layer *S = &m->layers[pend[--depth]];
                if (memcmp(S->out, L->in, sizeof L->in) != 0)
                    return sn_errf(ctx, SN_ERR_ARG, "architecture spec: layer %d (add): its input "
                                   "%dx%dx%d does not match the %dx%dx%d of the skip at layer %d",
                                   idx + 1, L->in[0], L->in[1], L->in[2], S->out[0], S->out[1],
                                   S->out[2], pend[depth] + 1);
                L->link = pend[depth];
                S->link = idx;
            }
            L->p_off = np;
            L->n_p = ops->n_params(L);
            L->b_off = nb;
            L->n_b = ops->n_bufs(L);
            /* shape checks bound each layer's count far below SIZE_MAX / SN_MAX_LAYERS */
            np += L->n_p;
            nb += L->n_b;
            if (np > SN_MODEL_MAX_PARAMS || nb > SN_MODEL_MAX_PARAMS)
                return sn_errf(ctx, SN_ERR_ARG, "architecture spec: layer %d (%s) brings the model "
                               "to %zu parameters, over the limit of %zu (2^28, 1 GiB of floats)",
                               idx + 1, ops->name, np > nb ? np : nb,
                               (size_t)SN_MODEL_MAX_PARAMS);
            memcpy(cur, L->out, sizeof cur);
            m->n_layers++;
        }
        if (*e == '#')
            while (*e && *e != '\n') e++;
        s = *e ? e + 1 : e;
    }
    if (m->n_layers == 0) return sn_errf(ctx, SN_ERR_ARG, "architecture spec has no layers");
    if (depth > 0)
        return sn_errf(ctx, SN_ERR_ARG, "architecture spec: layer %d (skip) has no add to close "
                       "its residual branch", pend[depth - 1] + 1);
    if (cur[1] != 1 || cur[2] != 1)
        return sn_errf(ctx, SN_ERR_ARG,
                       "architecture spec: output is %dx%dx%d; end with flatten/linear so the "
                       "embedding is a vector",
                       cur[0], cur[1], cur[2]);
    m->embed_dim = cur[0];
    m->n_params = np;
    m->n_bufs = nb;
    return SN_OK;
}

sn_status sn_model_alloc_slabs(sn_ctx *ctx, sn_model *m) {
    m->params = sn_aligned_alloc(m->n_params, sizeof(float));
    m->grads = sn_aligned_alloc(m->n_params, sizeof(float));
    m->bufs = sn_aligned_alloc(m->n_bufs ? m->n_bufs : 1, sizeof(float));
    if (!m->params || !m->grads || !m->bufs)
        return sn_errf(ctx, SN_ERR_NOMEM, "out of memory allocating %zu parameters", m->n_params);
    return SN_OK;
}

void sn_model_init_params(sn_model *m, uint64_t seed) {
    sn_rng rng;
    sn_rng_seed(&rng, seed, 0x5eed);
    for (int i = 0; i < m->n_layers; i++) {
        const sn_layer *L = &m->layers[i];
        sn_layer_ops_get(L->kind)->init(L, m->params + L->p_off, m->bufs + L->b_off, &rng);
    }
}

static size_t numel3(const int s[3]) { return (size_t)s[0] * (size_t)s[1] * (size_t)s[2]; }

sn_status sn_model_plan(sn_ctx *ctx, sn_model *m, int N) {
    int nt = sn_ctx_threads(ctx);
    if (N <= m->cap_n && nt == m->nt && m->act) return SN_OK;
    if (N < 1) return sn_errf(ctx, SN_ERR_ARG, "batch size must be >= 1");
    size_t in_n = (size_t)m->in_c * (size_t)m->in_h * (size_t)m->in_w;
    size_t off = 0, scratch = 0;
    size_t tmp;
    if (!sn_mul_size(in_n, (size_t)N, &tmp)) goto overflow;
    off = tmp;
    for (int i = 0; i < m->n_layers; i++) {
        sn_layer *L = &m->layers[i];
        L->y_off = off;
        if (!sn_mul_size(numel3(L->out), (size_t)N, &tmp) || off + tmp < off) goto overflow;
        off += tmp;
    }
    const size_t grad_floats = off; /* dact mirrors only the input and the outputs */
    for (int i = 0; i < m->n_layers; i++) {
        sn_layer *L = &m->layers[i];
        const sn_layer_ops *ops = sn_layer_ops_get(L->kind);
        L->s_off = off;
        L->n_s = ops->n_saved(L, N);
        if (L->n_s > SIZE_MAX / 2 || off + ((L->n_s + 15) & ~(size_t)15) < off) goto overflow;
        off += (L->n_s + 15) & ~(size_t)15;
        size_t sc = ops->scratch(L, N, nt);
        if (sc > scratch) scratch = sc;
    }
    /* the three slabs' bytes, as a whole, must be representable */
    if (!sn_mul_size(off, 2 * sizeof(float), &tmp) || scratch > SIZE_MAX / (4 * sizeof(float)) ||
        tmp + scratch * sizeof(float) < tmp)
        goto overflow;
    for (int i = 0; i < m->n_layers; i++) {
        sn_layer *L = &m->layers[i];
        if (L->kind != SN_LAYER_ADD) continue;
        const sn_layer *S = &m->layers[L->link];
        L->link_y = (ptrdiff_t)S->y_off - (ptrdiff_t)L->y_off;
        L->link_s = (ptrdiff_t)S->s_off - (ptrdiff_t)L->s_off;
    }
    sn_aligned_free(m->act);
    sn_aligned_free(m->dact);
    sn_aligned_free(m->scratch);
    m->act = sn_aligned_alloc(off, sizeof(float));
    m->dact = sn_aligned_alloc(grad_floats, sizeof(float));
    m->scratch = sn_aligned_alloc(scratch ? scratch : 1, sizeof(float));
    if (!m->act || !m->dact || !m->scratch) {
        sn_aligned_free(m->act);
        sn_aligned_free(m->dact);
        sn_aligned_free(m->scratch);
        m->act = m->dact = m->scratch = NULL;
        m->cap_n = 0;
        return sn_errf(ctx, SN_ERR_NOMEM, "out of memory planning activations for batch %d (%zu MB)",
                       N, (off + grad_floats + scratch) * sizeof(float) >> 20);
    }
    m->cap_n = N;
    m->nt = nt;
    m->act_floats = off;
    m->scratch_floats = scratch;
    return SN_OK;
overflow:
    return sn_errf(ctx, SN_ERR_NOMEM, "activation plan for batch %d overflows the address space "
                   "(use a smaller batch or model)", N);
}

double sn_model_macs(const sn_model *m) {
    double macs = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const sn_layer *L = &m->layers[i];
        if (L->kind == SN_LAYER_CONV2D || L->kind == SN_LAYER_WHITEN)
            macs += (double)numel3(L->out) * L->in[0] * L->hp[1] * L->hp[1];
        else if (L->kind == SN_LAYER_LINEAR)
            macs += (double)numel3(L->in) * L->hp[0];
    }
    return macs;
}

float *sn_model_input(sn_model *m) { return m->act; }

void sn_model_set_input(sn_model *m, int i, const uint8_t *img) {
    size_t plane = (size_t)m->in_h * (size_t)m->in_w;
    float *x = m->act + (size_t)i * plane * (size_t)m->in_c;
    for (int c = 0; c < m->in_c; c++) {
        float sc = 1.0f / (255.0f * m->std[c]), sh = m->mean[c] / m->std[c];
        for (size_t j = 0; j < plane; j++) x[c * plane + j] = (float)img[c * plane + j] * sc - sh;
    }
}

static const float *layer_input(const sn_model *m, int i, const float *base) {
    return i == 0 ? base : base + m->layers[i - 1].y_off;
}

/* The io of layer i: activations, parameters, saved values (and, for backward, the
 * gradients and dx slot; see sn_model_backward). */
static sn_layer_io layer_io(sn_model *m, int i, int N, int train) {
    const sn_layer *L = &m->layers[i];
    sn_layer_io io = {0};
    io.N = N;
    io.train = train;
    io.nt = m->nt;
    io.x = layer_input(m, i, m->act);
    io.y = m->act + L->y_off;
    io.saved = m->act + L->s_off;
    io.p = m->params + L->p_off;
    io.dp = m->grads + L->p_off;
    io.buf = m->bufs + L->b_off;
    io.dy = m->dact + L->y_off;
    io.scratch = m->scratch;
    io.bf16 = m->bf16;
    io.bn_sync = m->bn_sync;
    return io;
}

/* Layers i .. i+k-1 run as one fused training pass (sn_layer_bn_pool_*): k, else 0. */
static int fused_bn_pool(const sn_model *m, int i, int train) {
    return train && !m->bn_sync ? sn_layer_bn_pool_fusable(&m->layers[i], m->n_layers - i) : 0;
}

const float *sn_model_forward(sn_model *m, int N, int train) {
    SN_ASSERT(N >= 1 && N <= m->cap_n);
    for (int i = 0; i < m->n_layers; i++) {
        const sn_layer *L = &m->layers[i];
        sn_layer_io io = layer_io(m, i, N, train);
        const int k = fused_bn_pool(m, i, train);
        if (k) {
            sn_layer_io rio = layer_io(m, i + 1, N, train), pio = layer_io(m, i + k - 1, N, train);
            sn_layer_bn_pool_forward(L, &io, k == 3 ? &rio : NULL, &pio);
            i += k - 1;
            continue;
        }
        sn_layer_ops_get(L->kind)->forward(L, &io);
    }
    return m->act + m->layers[m->n_layers - 1].y_off;
}

/* The first layer of the fused group that ends at layer i, else -1. Groups are found
 * left to right and cannot overlap (each starts at a bn and ends at a maxpool). */
static int fused_group_start(const sn_model *m, int i) {
    for (int k = 2; k <= 3; k++)
        if (i - k + 1 >= 0 && fused_bn_pool(m, i - k + 1, 1) == k) return i - k + 1;
    return -1;
}

const float *sn_model_backward(sn_model *m, int N, const float *dout, int need_dx) {
    SN_ASSERT(N >= 1 && N <= m->cap_n);
    const sn_layer *last = &m->layers[m->n_layers - 1];
    memcpy(m->dact + last->y_off, dout, sizeof(float) * (size_t)N * numel3(last->out));
    for (int i = m->n_layers - 1; i >= 0; i--) {
        /* a fused group (its forward ran as one pass) runs backward at its pool layer */
        const int g = fused_group_start(m, i), end = i;
        if (g >= 0) i = g;
        const sn_layer *L = &m->layers[i];
        sn_layer_io io = layer_io(m, i, N, 1);
        const sn_layer_ops *ops = sn_layer_ops_get(L->kind);
        if (i > 0 || need_dx) {
            /* each dx slot has one writer (skip layers copy, see nn.h): layers that can
             * assign it do, the others accumulate into zeros */
            float *dx = (float *)layer_input(m, i, m->dact);
            if (ops->assigns_dx) io.dx_set = 1;
            else memset(dx, 0, sizeof(float) * (size_t)N * numel3(L->in));
            io.dx = dx;
        }
        if (g >= 0) {
            sn_layer_io rio = layer_io(m, i + 1, N, 1), pio = layer_io(m, end, N, 1);
            sn_layer_bn_pool_backward(L, &io, end - g == 2 ? &rio : NULL, &pio);
        } else {
            ops->backward(L, &io);
        }
    }
    return need_dx ? m->dact : NULL;
}
