/*
 * whiten.c -- data-dependent initialisation of `whiten` layers (nn.h), and the model's
 * optimizer parameter groups (frozen whiten weights, batch-norm scales).
 *
 * Sigma = (1/P) sum_p x_p x_p^T over every K x K patch x_p (D = C K K values, channel-major
 * like the conv weight rows) of the first n normalised images, accumulated in double.
 * Not centred: the normalised images have mean ~0 per channel, and the negated filters
 * make the layer symmetric anyway. Filters: v_j / sqrt(l_j + eps) for the eigenpairs in
 * descending order of l_j, then their negatives, so that a following ReLU/GELU keeps both
 * signs of every whitened component.
 */
#include "nn/nn.h"

#include "kernels/linalg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

sn_status sn_model_whiten_init(sn_ctx *ctx, sn_model *m, const sn_dataset *ds, int n_images,
                               float eps) {
    for (int li = 0; li < m->n_layers; li++) {
        sn_layer *L = &m->layers[li];
        if (L->kind != SN_LAYER_WHITEN) continue;
        float *flag = m->bufs + L->b_off;
        if (flag[0] != 0.0f) continue;
        if (li != 0)
            return sn_errf(ctx, SN_ERR_ARG, "architecture spec: layer %d (whiten) must be the "
                           "first layer (it whitens the image's own patches)", li + 1);
        if (!ds || ds->n < 1 || ds->c != m->in_c || ds->h != m->in_h || ds->w != m->in_w)
            return sn_errf(ctx, SN_ERR_ARG, "whiten: the training set does not match the model "
                           "input %dx%dx%d", m->in_c, m->in_h, m->in_w);
        if (!(eps > 0.0f))
            return sn_errf(ctx, SN_ERR_ARG, "whiten: eps %g must be > 0", (double)eps);
        const int C = m->in_c, H = m->in_h, W = m->in_w, K = L->hp[1], D = C * K * K;
        const int n = n_images < ds->n ? n_images : ds->n;
        const size_t plane = (size_t)H * (size_t)W;
        double *cov = calloc((size_t)D * (size_t)D + 2 * (size_t)D, sizeof *cov);
        if (!cov) return sn_errf(ctx, SN_ERR_NOMEM, "whiten: out of memory");
        double *ev = cov + (size_t)D * D, *x = ev + D;
        long P = 0;
        for (int i = 0; i < n; i++) {
            const uint8_t *img = ds->pixels + (size_t)i * plane * (size_t)C;
            for (int oy = 0; oy + K <= H; oy++)
                for (int ox = 0; ox + K <= W; ox++, P++) {
                    int d = 0;
                    for (int c = 0; c < C; c++) {
                        const double sc = 1.0 / (255.0 * m->std[c]), sh = m->mean[c] / m->std[c];
                        for (int ky = 0; ky < K; ky++)
                            for (int kx = 0; kx < K; kx++)
                                x[d++] = img[c * plane + (size_t)(oy + ky) * W + (ox + kx)] * sc - sh;
                    }
                    for (int a = 0; a < D; a++)
                        for (int b = a; b < D; b++) cov[(size_t)a * D + b] += x[a] * x[b];
                }
        }
        for (int a = 0; a < D; a++)
            for (int b = a; b < D; b++)
                cov[(size_t)b * D + a] = cov[(size_t)a * D + b] = cov[(size_t)a * D + b] / (double)P;
        sn_status st = sn_eig_sym(ctx, cov, D, ev, 1, "whiten");
        if (st) {
            free(cov);
            return st;
        }
        float *w = m->params + L->p_off, *b = w + (size_t)L->hp[0] * D;
        for (int j = 0; j < D; j++) {
            const int e = D - 1 - j; /* descending */
            const double s = 1.0 / sqrt((ev[e] > 0 ? ev[e] : 0.0) + (double)eps);
            for (int k = 0; k < D; k++) {
                w[(size_t)j * D + k] = (float)(cov[(size_t)e * D + k] * s);
                w[(size_t)(D + j) * D + k] = -w[(size_t)j * D + k];
            }
        }
        memset(b, 0, sizeof(float) * (size_t)L->hp[0]);
        sn_logf(ctx, SN_LOG_INFO, "whiten: layer %d from %ld %dx%d patches of %d images: "
                "eigenvalues %.3g .. %.3g", li + 1, P, K, K, n, ev[D - 1], ev[0]);
        free(cov);
        flag[0] = 1.0f;
    }
    return SN_OK;
}

static int push(sn_param_range *g, int k, int cap, size_t off, size_t n, float lr, float wd) {
    if (n == 0) return k;
    if (k > 0 && g[k - 1].lr_scale == lr && g[k - 1].wd_scale == wd &&
        g[k - 1].off + g[k - 1].n == off) {
        g[k - 1].n += n;
        return k;
    }
    SN_ASSERT(k < cap);
    g[k] = (sn_param_range){off, n, lr, wd};
    return k + 1;
}

int sn_model_param_groups(const sn_model *m, float bn_lr_scale, sn_param_range *g, int cap) {
    SN_ASSERT(bn_lr_scale > 0.0f && cap >= 1);
    int k = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const sn_layer *L = &m->layers[i];
        if (L->kind == SN_LAYER_WHITEN) {
            const size_t nw = L->n_p - (size_t)L->hp[0];
            k = push(g, k, cap, L->p_off, nw, 0.0f, 0.0f);
            k = push(g, k, cap, L->p_off + nw, (size_t)L->hp[0], 1.0f, 1.0f);
        } else if (L->kind == SN_LAYER_BATCHNORM) {
            const size_t C = (size_t)L->in[0];
            const float s = bn_lr_scale, ws = 1.0f / bn_lr_scale;
            if (L->hp[0] == 1) k = push(g, k, cap, L->p_off, C, 0.0f, 0.0f); /* gamma fixed */
            else k = push(g, k, cap, L->p_off, C, s, ws);
            k = push(g, k, cap, L->p_off + C, C, s, ws);
        } else {
            k = push(g, k, cap, L->p_off, L->n_p, 1.0f, 1.0f);
        }
    }
    if (k == 0) g[k++] = (sn_param_range){0, m->n_params, 1.0f, 1.0f};
    return k;
}
