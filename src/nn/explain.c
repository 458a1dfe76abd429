/*
 * explain.c -- gradient and occlusion saliency for a pair of images (see explain.h).
 *
 * The gradient map runs the model's layers backward itself (mirroring
 * sn_model_backward) so that batch norm can use its eval-mode derivative.
 */
#include "nn/explain.h"

#include "nn/nn.h"

#include <math.h>
#include <string.h>

/* Must match SN_BN_EPS in layers.c (PyTorch's default). */
#define EXPLAIN_BN_EPS 1e-5f
/* Occluded copies embedded per forward call. */
#define OCC_BATCH 64

static size_t numel3(const int s[3]) { return (size_t)s[0] * (size_t)s[1] * (size_t)s[2]; }

static sn_status check_args(sn_ctx *ctx, const sn_model *m, const void *a, const void *b,
                            const void *oa, const void *ob) {
    if (!m || !a || !b || !oa || !ob)
        return sn_errf(ctx, SN_ERR_ARG, "explain: model, images and output maps must be non-NULL");
    return SN_OK;
}

/* d = ||e0 - e1|| in double; e0, e1: (D). */
static double emb_dist(const float *e0, const float *e1, int D) {
    double s = 0.0;
    for (int k = 0; k < D; k++) {
        double t = (double)e0[k] - (double)e1[k];
        s += t * t;
    }
    return sqrt(s);
}

/* Eval-mode backward of N samples from m->dact at the last layer's output down to the
 * normalised input (m->dact[0 .. N*in)). Parameter gradients land in m->grads. */
static void backward_eval(sn_model *m, int N) {
    for (int i = m->n_layers - 1; i >= 0; i--) {
        const sn_layer *L = &m->layers[i];
        const float *dy = m->dact + L->y_off;
        float *dx = i == 0 ? m->dact : m->dact + m->layers[i - 1].y_off;
        memset(dx, 0, sizeof(float) * (size_t)N * numel3(L->in));
        if (L->kind == SN_LAYER_BATCHNORM) {
            /* y = (x - run_mean) * a + beta, a = gamma / sqrt(run_var + eps): dx = dy * a */
            int C = L->in[0];
            size_t S = (size_t)L->in[1] * (size_t)L->in[2];
            const float *gamma = m->params + L->p_off, *run_var = m->bufs + L->b_off + C;
            for (int n = 0; n < N; n++)
                for (int c = 0; c < C; c++) {
                    float a = gamma[c] / sqrtf(run_var[c] + EXPLAIN_BN_EPS);
                    size_t o = ((size_t)n * (size_t)C + (size_t)c) * S;
                    for (size_t s = 0; s < S; s++) dx[o + s] += dy[o + s] * a;
                }
            continue;
        }
        sn_layer_io io;
        memset(&io, 0, sizeof io);
        io.N = N;
        io.train = 0;
        io.nt = m->nt;
        io.x = i == 0 ? m->act : m->act + m->layers[i - 1].y_off;
        io.y = m->act + L->y_off;
        io.saved = m->act + L->s_off;
        io.p = m->params + L->p_off;
        io.dp = m->grads + L->p_off;
        io.buf = m->bufs + L->b_off;
        io.dy = dy;
        io.dx = dx;
        io.scratch = m->scratch;
        sn_layer_ops_get(L->kind)->backward(L, &io);
    }
}

sn_status sn_explain_gradient_dist(sn_ctx *ctx, sn_model *m, const uint8_t *imgA,
                                   const uint8_t *imgB, float *salA, float *salB, double *dist) {
    sn_status st = check_args(ctx, m, imgA, imgB, salA, salB);
    if (st) return st;
    st = sn_model_plan(ctx, m, 2);
    if (st) return st;
    int D = m->embed_dim;
    size_t plane = (size_t)m->in_h * (size_t)m->in_w;
    sn_model_set_input(m, 0, imgA);
    sn_model_set_input(m, 1, imgB);
    const float *e = sn_model_forward(m, 2, 0);
    double d = emb_dist(e, e + D, D);
    if (dist) *dist = d;
    memset(salA, 0, sizeof(float) * plane);
    memset(salB, 0, sizeof(float) * plane);
    if (!isfinite(d)) return sn_errf(ctx, SN_ERR_NUMERIC, "explain: the distance is not finite");
    if (!(d > 0.0)) return SN_OK; /* not differentiable at 0: zero maps */
    /* dd/de0 = (e0 - e1)/d, dd/de1 = -(e0 - e1)/d */
    const sn_layer *last = &m->layers[m->n_layers - 1];
    float *dout = m->dact + last->y_off;
    for (int k = 0; k < D; k++) {
        float g = (float)(((double)e[k] - (double)e[D + k]) / d);
        dout[k] = g;
        dout[D + k] = -g;
    }
    backward_eval(m, 2);
    memset(m->grads, 0, sizeof(float) * m->n_params);
    size_t img = plane * (size_t)m->in_c;
    for (int c = 0; c < m->in_c; c++)
        for (size_t p = 0; p < plane; p++) {
            salA[p] += fabsf(m->dact[(size_t)c * plane + p]);
            salB[p] += fabsf(m->dact[img + (size_t)c * plane + p]);
        }
    return SN_OK;
}

sn_status sn_explain_gradient(sn_ctx *ctx, sn_model *m, const uint8_t *imgA, const uint8_t *imgB,
                              float *salA, float *salB) {
    return sn_explain_gradient_dist(ctx, m, imgA, imgB, salA, salB, NULL);
}

/* Top-left corners along one axis: 0, s, 2s, ... with the last one flush with the
 * border (n - patch). Returns the count; pos has room for n. */
static int corners(int n, int patch, int *pos) {
    int s = patch / 2 > 0 ? patch / 2 : 1, k = 0;
    for (int p = 0; p + patch <= n; p += s) pos[k++] = p;
    if (pos[k - 1] + patch < n) pos[k++] = n - patch;
    return k;
}

/* Occlusion map of image `img` against the fixed embedding `ref` (D). d0 = d(img, ref).
 * occ: (H,W); cnt: (H,W) scratch; ys, xs: corner lists. */
static void occlude_one(sn_model *m, const uint8_t *img, const float *ref, double d0, int patch,
                        const int *ys, int ny, const int *xs, int nx, float *occ, float *cnt) {
    int H = m->in_h, W = m->in_w, C = m->in_c, D = m->embed_dim;
    size_t plane = (size_t)H * (size_t)W, isz = plane * (size_t)C;
    int total = ny * nx, batch = m->cap_n < OCC_BATCH ? m->cap_n : OCC_BATCH;
    memset(occ, 0, sizeof(float) * plane);
    memset(cnt, 0, sizeof(float) * plane);
    for (int p0 = 0; p0 < total; p0 += batch) {
        int nb = total - p0 < batch ? total - p0 : batch;
        for (int j = 0; j < nb; j++) {
            int y0 = ys[(p0 + j) / nx], x0 = xs[(p0 + j) % nx];
            sn_model_set_input(m, j, img);
            float *x = sn_model_input(m) + (size_t)j * isz;
            for (int c = 0; c < C; c++)
                for (int y = y0; y < y0 + patch; y++)
                    memset(x + (size_t)c * plane + (size_t)y * (size_t)W + (size_t)x0, 0,
                           sizeof(float) * (size_t)patch);
        }
        const float *e = sn_model_forward(m, nb, 0);
        for (int j = 0; j < nb; j++) {
            float delta = (float)(emb_dist(e + (size_t)j * (size_t)D, ref, D) - d0);
            int y0 = ys[(p0 + j) / nx], x0 = xs[(p0 + j) % nx];
            for (int y = y0; y < y0 + patch; y++)
                for (int xx = x0; xx < x0 + patch; xx++) {
                    occ[(size_t)y * (size_t)W + (size_t)xx] += delta;
                    cnt[(size_t)y * (size_t)W + (size_t)xx] += 1.0f;
                }
        }
    }
    for (size_t p = 0; p < plane; p++) occ[p] = cnt[p] > 0.0f ? occ[p] / cnt[p] : 0.0f;
}

sn_status sn_explain_occlusion(sn_ctx *ctx, sn_model *m, const uint8_t *imgA, const uint8_t *imgB,
                               int patch, float *occA, float *occB) {
    sn_status st = check_args(ctx, m, imgA, imgB, occA, occB);
    if (st) return st;
    int H = m->in_h, W = m->in_w, D = m->embed_dim;
    if (patch < 1 || patch > H || patch > W)
        return sn_errf(ctx, SN_ERR_ARG, "explain: occlusion patch %d must be 1..%d (the image is "
                                        "%dx%d)", patch, H < W ? H : W, H, W);
    int *ys = malloc(sizeof(int) * (size_t)(H + W));
    float *cnt = malloc(sizeof(float) * (size_t)H * (size_t)W);
    float *emb = malloc(sizeof(float) * 2 * (size_t)D);
    if (!ys || !cnt || !emb) {
        st = sn_errf(ctx, SN_ERR_NOMEM, "explain: out of memory");
        goto done;
    }
    int *xs = ys + H;
    int ny = corners(H, patch, ys), nx = corners(W, patch, xs);
    int want = ny * nx < OCC_BATCH ? ny * nx : OCC_BATCH;
    st = sn_model_plan(ctx, m, want > 2 ? want : 2);
    if (st) goto done;
    sn_model_set_input(m, 0, imgA);
    sn_model_set_input(m, 1, imgB);
    memcpy(emb, sn_model_forward(m, 2, 0), sizeof(float) * 2 * (size_t)D);
    double d0 = emb_dist(emb, emb + D, D);
    if (!isfinite(d0)) {
        st = sn_errf(ctx, SN_ERR_NUMERIC, "explain: the distance is not finite");
        goto done;
    }
    occlude_one(m, imgA, emb + D, d0, patch, ys, ny, xs, nx, occA, cnt);
    occlude_one(m, imgB, emb, d0, patch, ys, ny, xs, nx, occB, cnt);
done:
    free(ys);
    free(cnt);
    free(emb);
    return st;
}
