/* optim.c -- Adam, AdamW and SGD over the flat parameter slab; clipping; EMA. */
#include "train/train.h"

#include <math.h>
#include <string.h>

sn_status sn_optim_init(sn_ctx *ctx, sn_optim *o, sn_optim_kind kind, size_t n, float lr) {
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->lr = lr;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;
    o->momentum = 0.9f;
    o->n = n;
    o->n_groups = 1;
    o->groups[0] = (sn_param_range){0, n, 1.0f, 1.0f};
    o->m = sn_aligned_alloc(n, sizeof(float));
    o->v = kind != SN_OPT_SGD ? sn_aligned_alloc(n, sizeof(float)) : NULL;
    if (!o->m || (kind != SN_OPT_SGD && !o->v)) {
        sn_optim_free(o);
        return sn_errf(ctx, SN_ERR_NOMEM, "out of memory for optimizer state (%zu floats)", n);
    }
    return SN_OK;
}

void sn_optim_free(sn_optim *o) {
    sn_aligned_free(o->m);
    sn_aligned_free(o->v);
    o->m = o->v = NULL;
}

void sn_optim_set_groups(sn_optim *o, const sn_param_range *g, int k) {
    SN_ASSERT(k >= 1 && k <= SN_OPT_MAX_GROUPS);
    size_t at = 0;
    for (int i = 0; i < k; i++) {
        SN_ASSERT(g[i].off == at);
        at += g[i].n;
        o->groups[i] = g[i];
    }
    SN_ASSERT(at == o->n);
    o->n_groups = k;
}

/* One group's update: p, g, m, v point at its range (v NULL for SGD). */
static void step_range(const sn_optim *o, float *restrict p, const float *restrict g,
                       float *restrict m, float *restrict v, long n, float lr, float wd, int nt) {
    if (o->kind == SN_OPT_ADAMW) {
        /* torch AdamW: p *= 1 - lr wd; then Adam without decay in the gradient */
        const double bc1 = 1.0 - pow((double)o->beta1, (double)o->t);
        const double bc2 = 1.0 - pow((double)o->beta2, (double)o->t);
        const float step = (float)((double)lr / bc1);
        const float bc2s = (float)sqrt(bc2);
        const float b1 = o->beta1, b2 = o->beta2, eps = o->eps, keep = 1.0f - lr * wd;
#pragma omp parallel for num_threads(nt) schedule(static) if (n > 65536)
        for (long i = 0; i < n; i++) {
            float gi = g[i];
            p[i] *= keep;
            m[i] = b1 * m[i] + (1.0f - b1) * gi;
            v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
            float denom = sqrtf(v[i]) / bc2s + eps;
            p[i] -= step * (m[i] / denom);
        }
    } else if (o->kind == SN_OPT_ADAM) {
        /* torch: step_size = lr / bc1; denom = sqrt(v) / sqrt(bc2) + eps (scalars in double) */
        const double bc1 = 1.0 - pow((double)o->beta1, (double)o->t);
        const double bc2 = 1.0 - pow((double)o->beta2, (double)o->t);
        const float step = (float)((double)lr / bc1);
        const float bc2s = (float)sqrt(bc2);
        const float b1 = o->beta1, b2 = o->beta2, eps = o->eps;
#pragma omp parallel for num_threads(nt) schedule(static) if (n > 65536)
        for (long i = 0; i < n; i++) {
            float gi = g[i] + wd * p[i];
            m[i] = b1 * m[i] + (1.0f - b1) * gi;
            v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
            float denom = sqrtf(v[i]) / bc2s + eps;
            p[i] -= step * (m[i] / denom);
        }
    } else {
        const float mu = o->momentum;
        const int first = o->t == 1, nest = o->nesterov;
#pragma omp parallel for num_threads(nt) schedule(static) if (n > 65536)
        for (long i = 0; i < n; i++) {
            float gi = g[i] + wd * p[i];
            if (mu != 0.0f) {
                m[i] = first ? gi : mu * m[i] + gi;
                gi = nest ? gi + mu * m[i] : m[i];
            }
            p[i] -= lr * gi;
        }
    }
}

void sn_optim_step(sn_optim *o, float *restrict p, const float *restrict g, int nt) {
    o->t++;
    for (int k = 0; k < o->n_groups; k++) {
        const sn_param_range *G = &o->groups[k];
        if (G->lr_scale == 0.0f && G->wd_scale == 0.0f) continue; /* frozen */
        step_range(o, p + G->off, g + G->off, o->m + G->off, o->v ? o->v + G->off : NULL,
                   (long)G->n, o->lr * G->lr_scale, o->weight_decay * G->wd_scale, nt);
    }
}

int sn_optim_kind_from_name(const char *name) {
    if (!strcmp(name, "adam")) return SN_OPT_ADAM;
    if (!strcmp(name, "adamw")) return SN_OPT_ADAMW;
    if (!strcmp(name, "sgd")) return SN_OPT_SGD;
    return -1;
}

double sn_grad_norm(const float *g, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)g[i] * (double)g[i];
    return sqrt(s);
}

double sn_clip_grad_norm(float *g, size_t n, float max_norm) {
    double norm = sn_grad_norm(g, n);
    double coef = (double)max_norm / (norm + 1e-6);
    if (coef < 1.0) {
        const float c = (float)coef;
        for (size_t i = 0; i < n; i++) g[i] *= c;
    }
    return norm;
}

void sn_ema_update(float *restrict ema, const float *restrict p, size_t n, float decay, int nt) {
    const float a = decay, b = 1.0f - decay;
    const long nn = (long)n;
#pragma omp parallel for num_threads(nt) schedule(static) if (nn > 65536)
    for (long i = 0; i < nn; i++) ema[i] = a * ema[i] + b * p[i];
}
