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

void sn_optim_step(sn_optim *o, float *restrict p, const float *restrict g, int nt) {
    o->t++;
    const long n = (long)o->n;
    const float wd = o->weight_decay;
    if (o->kind == SN_OPT_ADAMW) {
        /* torch AdamW: p *= 1 - lr wd; then Adam without decay in the gradient */
        const double bc1 = 1.0 - pow((double)o->beta1, (double)o->t);
        const double bc2 = 1.0 - pow((double)o->beta2, (double)o->t);
        const float step = (float)((double)o->lr / bc1);
        const float bc2s = (float)sqrt(bc2);
        const float b1 = o->beta1, b2 = o->beta2, eps = o->eps, keep = 1.0f - o->lr * wd;
        float *restrict m = o->m, *restrict v = o->v;
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
        const float step = (float)((double)o->lr / bc1);
        const float bc2s = (float)sqrt(bc2);
        const float b1 = o->beta1, b2 = o->beta2, eps = o->eps;
        float *restrict m = o->m, *restrict v = o->v;
#pragma omp parallel for num_threads(nt) schedule(static) if (n > 65536)
        for (long i = 0; i < n; i++) {
            float gi = g[i] + wd * p[i];
            m[i] = b1 * m[i] + (1.0f - b1) * gi;
            v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
            float denom = sqrtf(v[i]) / bc2s + eps;
            p[i] -= step * (m[i] / denom);
        }
    } else {
        const float mu = o->momentum, lr = o->lr;
        const int first = o->t == 1, nest = o->nesterov;
        float *restrict buf = o->m;
#pragma omp parallel for num_threads(nt) schedule(static) if (n > 65536)
        for (long i = 0; i < n; i++) {
            float gi = g[i] + wd * p[i];
            if (mu != 0.0f) {
                buf[i] = first ? gi : mu * buf[i] + gi;
                gi = nest ? gi + mu * buf[i] : buf[i];
            }
            p[i] -= lr * gi;
        }
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
