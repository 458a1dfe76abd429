/* test_explain.c -- saliency maps of src/nn/explain.c.
 *
 * Gradient maps: the signed input gradient (float, eval-mode backward) that
 * sn_explain_gradient leaves in m->dact for rows A and B is compared with central finite
 * differences of d(A,B) computed in DOUBLE by an eval-mode forward built from the _ref
 * kernels (h = 1e-4 on the normalised input), on the 12 largest-|gradient| elements and 12
 * random ones of each image. Tolerance: |grad - fd| <= 1e-4 * max|grad| (float rounding of
 * the analytic gradient is ~1e-6 relative; FD truncation O(h^2)). An element whose
 * one-sided differences disagree by more than 1e-3 * max|grad| straddles a ReLU/max-pool
 * kink and is skipped (at most a quarter may be). The public maps must equal
 * sum_c |grad| and must not be all zero. Batch-norm layers get random gamma, beta and
 * running statistics, so the eval-mode derivative gamma / sqrt(run_var + eps) is exercised
 * (the train-mode one would differ).
 *
 * Occlusion maps: compared with a brute-force recomputation through sn_model_embed (the
 * patch filled with the grey level 102 = 0.4 * 255, the model's mean), tolerance 1e-4
 * absolute; a patch covering the whole image gives one constant map.
 *
 * Figure: the PNG's IHDR size equals sn_viz_saliency_size, with and without the occlusion
 * row; an unwritable path fails with SN_ERR_IO naming it and leaves no file. */
#include "nn/explain.h"
#include "kernels/kernels.h"
#include "nn/nn.h"
#include "testutil.h"
#include "viz/saliency_draw.h"
#include "viz/viz.h"

#include <string.h>

#define FD_H 1e-4
#define FD_RTOL 1e-4
#define N_TOP 12
#define N_RAND 12

static sn_rng g_rng;

static sn_model *make_model(sn_ctx *ctx, const char *arch, int c, int h, int w) {
    sn_model_config cfg = {.arch = arch, .in_c = c, .in_h = h, .in_w = w, .mean = {0.4f, 0.4f, 0.4f},
                           .std = {0.25f, 0.25f, 0.25f}, .seed = 7};
    sn_model *m = NULL;
    if (sn_model_create(ctx, &cfg, &m) != SN_OK) {
        fprintf(stderr, "model: %s\n", sn_ctx_error(ctx));
        abort();
    }
    for (int i = 0; i < m->n_layers; i++) {
        const sn_layer *L = &m->layers[i];
        if (L->kind != SN_LAYER_BATCHNORM) continue;
        int C = L->in[0];
        float *p = m->params + L->p_off, *b = m->bufs + L->b_off;
        for (int k = 0; k < C; k++) {
            p[k] = sn_rng_uniform_range(&g_rng, 0.5f, 1.5f);      /* gamma */
            p[C + k] = sn_rng_uniform_range(&g_rng, -0.3f, 0.3f); /* beta */
            b[k] = sn_rng_uniform_range(&g_rng, -0.5f, 0.5f);     /* running mean */
            b[C + k] = sn_rng_uniform_range(&g_rng, 0.3f, 3.0f);  /* running var */
        }
    }
    return m;
}

static void random_image(uint8_t *img, size_t n) {
    for (size_t i = 0; i < n; i++) img[i] = (uint8_t)sn_rng_below(&g_rng, 256);
}

/* Eval-mode forward of the 2 normalised inputs x (2, in) in double with the _ref kernels;
 * returns d(A,B). pd: the parameters in double. */
static double ref_dist(const sn_model *m, const double *pd, const double *x) {
    size_t big = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const sn_layer *L = &m->layers[i];
        size_t a = (size_t)L->in[0] * (size_t)L->in[1] * (size_t)L->in[2];
        size_t b = (size_t)L->out[0] * (size_t)L->out[1] * (size_t)L->out[2];
        big = a > big ? a : big;
        big = b > big ? b : big;
    }
    double *cur = malloc(sizeof(double) * 2 * big), *nxt = malloc(sizeof(double) * 2 * big);
    double *norm = malloc(sizeof(double) * 2);
    int32_t *arg = malloc(sizeof(int32_t) * 2 * big);
    if (!cur || !nxt || !norm || !arg) abort();
    memcpy(cur, x, sizeof(double) * 2 * (size_t)m->in_c * (size_t)m->in_h * (size_t)m->in_w);
    for (int i = 0; i < m->n_layers; i++) {
        const sn_layer *L = &m->layers[i];
        const double *p = pd + L->p_off;
        size_t nin = (size_t)L->in[0] * (size_t)L->in[1] * (size_t)L->in[2];
        switch (L->kind) {
        case SN_LAYER_CONV2D: {
            sn_conv2d_dims d = {2, L->in[0], L->in[1], L->in[2], L->hp[0], L->hp[1], L->hp[1],
                                L->hp[2], L->hp[3], 0, 0};
            sn_conv2d_dims_init(&d);
            sn_conv2d_forward_ref(nxt, cur, p, p + (size_t)d.M * (size_t)d.C * (size_t)d.KH * (size_t)d.KW, &d);
            break;
        }
        case SN_LAYER_BATCHNORM: {
            int C = L->in[0];
            size_t S = (size_t)L->in[1] * (size_t)L->in[2];
            const float *rm = m->bufs + L->b_off, *rv = rm + C;
            for (int n = 0; n < 2; n++)
                for (int c = 0; c < C; c++)
                    for (size_t k = 0; k < S; k++) {
                        size_t o = ((size_t)n * (size_t)C + (size_t)c) * S + k;
                        nxt[o] = (cur[o] - rm[c]) / sqrt((double)rv[c] + 1e-5) * p[c] + p[C + c];
                    }
            break;
        }
        case SN_LAYER_MAXPOOL:
        case SN_LAYER_AVGPOOL: {
            sn_pool_dims d = {2, L->in[0], L->in[1], L->in[2], L->hp[0], L->hp[1], 0, 0};
            sn_pool_dims_init(&d);
            if (L->kind == SN_LAYER_MAXPOOL)
                sn_maxpool2d_forward_ref(nxt, arg, cur, &d);
            else
                sn_avgpool2d_forward_ref(nxt, cur, &d);
            break;
        }
        case SN_LAYER_LINEAR:
            sn_linear_forward_ref(nxt, cur, p, p + (size_t)L->hp[0] * nin, 2, (int)nin, L->hp[0]);
            break;
        case SN_LAYER_RELU: sn_relu_forward_ref(nxt, cur, 2 * nin); break;
        case SN_LAYER_FLATTEN: memcpy(nxt, cur, sizeof(double) * 2 * nin); break;
        case SN_LAYER_L2NORM: sn_l2norm_forward_ref(nxt, norm, cur, 2, (int)nin, 1e-12); break;
        default: abort();
        }
        double *t = cur;
        cur = nxt;
        nxt = t;
    }
    double s = 0.0;
    for (int k = 0; k < m->embed_dim; k++) {
        double t = cur[k] - cur[m->embed_dim + k];
        s += t * t;
    }
    free(cur);
    free(nxt);
    free(norm);
    free(arg);
    return sqrt(s);
}

static void check_gradient(sn_ctx *ctx, sn_model *m, const char *what) {
    int C = m->in_c;
    size_t plane = (size_t)m->in_h * (size_t)m->in_w, img = plane * (size_t)C;
    uint8_t *px = malloc(2 * img);
    float *sal = malloc(sizeof(float) * 2 * plane), *g = malloc(sizeof(float) * 2 * img);
    double *x = malloc(sizeof(double) * 2 * img), *pd = malloc(sizeof(double) * m->n_params);
    if (!px || !sal || !g || !x || !pd) abort();
    random_image(px, 2 * img);
    double d = -1.0;
    CHECK(sn_explain_gradient_dist(ctx, m, px, px + img, sal, sal + plane, &d) == SN_OK);
    CHECK(d > 0.0);
    memcpy(g, m->dact, sizeof(float) * 2 * img); /* signed input gradient, rows A and B */
    /* the public maps are sum_c |grad| */
    double gmax = 0.0, smax = 0.0, dmax = 0.0;
    for (int r = 0; r < 2; r++)
        for (size_t p = 0; p < plane; p++) {
            double s = 0.0;
            for (int c = 0; c < C; c++) s += fabs(g[(size_t)r * img + (size_t)c * plane + p]);
            dmax = fmax(dmax, fabs(s - sal[(size_t)r * plane + p]));
            smax = fmax(smax, sal[(size_t)r * plane + p]);
        }
    for (size_t i = 0; i < 2 * img; i++) gmax = fmax(gmax, fabs(g[i]));
    CHECK(smax > 0.0 && gmax > 0.0);
    CHECK(dmax <= 1e-6 * smax);
    /* the same call without a distance gives the same maps */
    float *sal2 = malloc(sizeof(float) * 2 * plane);
    if (!sal2) abort();
    CHECK(sn_explain_gradient(ctx, m, px, px + img, sal2, sal2 + plane) == SN_OK);
    CHECK(memcmp(sal, sal2, sizeof(float) * 2 * plane) == 0);
    free(sal2);
    /* central differences in double on the normalised input */
    for (size_t i = 0; i < m->n_params; i++) pd[i] = m->params[i];
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < C; c++)
            for (size_t p = 0; p < plane; p++) {
                size_t o = (size_t)r * img + (size_t)c * plane + p;
                x[o] = (px[o] / 255.0 - m->mean[c]) / m->std[c];
            }
    double dbase = ref_dist(m, pd, x);
    CHECK_CLOSE(dbase, d, 1e-4, 0.0);
    int checked = 0, skipped = 0, bad = 0;
    double worst = 0.0;
    for (int r = 0; r < 2; r++) {
        const float *gr = g + (size_t)r * img;
        size_t idx[N_TOP + N_RAND];
        int n = 0;
        for (int t = 0; t < N_TOP; t++) { /* largest |grad| not yet taken */
            size_t best = 0;
            double bv = -1.0;
            for (size_t i = 0; i < img; i++) {
                int taken = 0;
                for (int k = 0; k < n; k++) taken |= idx[k] == i;
                if (!taken && fabs(gr[i]) > bv) {
                    bv = fabs(gr[i]);
                    best = i;
                }
            }
            idx[n++] = best;
        }
        for (int t = 0; t < N_RAND; t++) idx[n++] = sn_rng_below(&g_rng, (uint32_t)img);
        for (int k = 0; k < n; k++) {
            double *xi = x + (size_t)r * img + idx[k], save = *xi;
            *xi = save + FD_H;
            double dp = ref_dist(m, pd, x);
            *xi = save - FD_H;
            double dm = ref_dist(m, pd, x);
            *xi = save;
            double fd = (dp - dm) / (2.0 * FD_H);
            double fwd = (dp - dbase) / FD_H, bwd = (dbase - dm) / FD_H;
            if (fabs(fwd - bwd) > 1e-3 * gmax) { /* a ReLU / max-pool kink in [x-h, x+h] */
                skipped++;
                continue;
            }
            checked++;
            double err = fabs(gr[idx[k]] - fd);
            worst = fmax(worst, err / gmax);
            if (err > FD_RTOL * gmax) {
                bad++;
                fprintf(stderr, "%s: row %d element %zu: grad %.6g, fd %.6g\n", what, r, idx[k],
                        (double)gr[idx[k]], fd);
            }
        }
    }
    printf("%s: d = %.4f, max|grad| %.3g, %d elements checked, %d at kinks skipped, worst "
           "|grad-fd|/max|grad| %.2g (tol %.0e)\n", what, d, gmax, checked, skipped, worst, FD_RTOL);
    CHECK(bad == 0);
    CHECK(skipped * 4 <= checked + skipped);
    /* parameter gradients are left zeroed */
    double gsum = 0.0;
    for (size_t i = 0; i < m->n_params; i++) gsum += fabs(m->grads[i]);
    CHECK(gsum == 0.0);
    /* identical images: d = 0, zero maps */
    CHECK(sn_explain_gradient_dist(ctx, m, px, px, sal, sal + plane, &d) == SN_OK);
    CHECK(d == 0.0);
    smax = 0.0;
    for (size_t p = 0; p < 2 * plane; p++) smax = fmax(smax, fabs(sal[p]));
    CHECK(smax == 0.0);
    free(px);
    free(sal);
    free(g);
    free(x);
    free(pd);
}

static double embed_dist(sn_ctx *ctx, sn_model *m, const uint8_t *a, const uint8_t *b,
                         size_t img) {
    uint8_t *two = malloc(2 * img);
    float *e = malloc(sizeof(float) * 2 * (size_t)m->embed_dim);
    if (!two || !e) abort();
    memcpy(two, a, img);
    memcpy(two + img, b, img);
    CHECK(sn_model_embed(ctx, m, two, 2, e) == SN_OK);
    double s = 0.0;
    for (int k = 0; k < m->embed_dim; k++) {
        double t = (double)e[k] - (double)e[m->embed_dim + k];
        s += t * t;
    }
    free(two);
    free(e);
    return sqrt(s);
}

/* Corners along one axis as documented in explain.h: 0, s, 2s, ... (s = max(1, patch/2))
 * and one flush with the border if the last square stops short of it. */
static int corner_list(int n, int patch, int *pos) {
    int s = patch / 2 > 0 ? patch / 2 : 1, k = 0;
    for (int p = 0; p + patch <= n; p += s) pos[k++] = p;
    if (pos[k - 1] + patch < n) pos[k++] = n - patch;
    return k;
}

/* Brute-force occlusion map of A (B fixed) through the public sn_model_embed. */
static void occlusion_brute(sn_ctx *ctx, sn_model *m, const uint8_t *a, const uint8_t *b,
                            int patch, double *occ) {
    int H = m->in_h, W = m->in_w, C = m->in_c, ys[64], xs[64];
    size_t plane = (size_t)H * (size_t)W, img = plane * (size_t)C;
    int ny = corner_list(H, patch, ys), nx = corner_list(W, patch, xs);
    double d0 = embed_dist(ctx, m, a, b, img);
    double *cnt = calloc(plane, sizeof(double));
    uint8_t *o = malloc(img);
    if (!cnt || !o) abort();
    memset(occ, 0, sizeof(double) * plane);
    for (int iy = 0; iy < ny; iy++)
        for (int ix = 0; ix < nx; ix++) {
            int Y = ys[iy], X = xs[ix];
            memcpy(o, a, img);
            for (int c = 0; c < C; c++)
                for (int y = Y; y < Y + patch; y++)
                    memset(o + (size_t)c * plane + (size_t)y * (size_t)W + (size_t)X, 102,
                           (size_t)patch);
            double delta = embed_dist(ctx, m, o, b, img) - d0;
            for (int y = Y; y < Y + patch; y++)
                for (int x = X; x < X + patch; x++) {
                    occ[(size_t)y * (size_t)W + (size_t)x] += delta;
                    cnt[(size_t)y * (size_t)W + (size_t)x] += 1.0;
                }
        }
    int covered = 1;
    for (size_t p = 0; p < plane; p++) {
        covered &= cnt[p] > 0.0;
        occ[p] /= cnt[p] > 0.0 ? cnt[p] : 1.0;
    }
    CHECK(covered);
    free(cnt);
    free(o);
}

static void check_occlusion(sn_ctx *ctx, sn_model *m, int patch, const char *what) {
    size_t plane = (size_t)m->in_h * (size_t)m->in_w, img = plane * (size_t)m->in_c;
    uint8_t *px = malloc(2 * img);
    float *occ = malloc(sizeof(float) * 2 * plane);
    double *ref = malloc(sizeof(double) * plane);
    if (!px || !occ || !ref) abort();
    random_image(px, 2 * img);
    CHECK(sn_explain_occlusion(ctx, m, px, px + img, patch, occ, occ + plane) == SN_OK);
    double worst = 0.0, amax = 0.0;
    for (int r = 0; r < 2; r++) {
        occlusion_brute(ctx, m, r ? px + img : px, r ? px : px + img, patch, ref);
        for (size_t p = 0; p < plane; p++) {
            worst = fmax(worst, fabs(occ[(size_t)r * plane + p] - ref[p]));
            amax = fmax(amax, fabs(ref[p]));
        }
    }
    printf("%s: occlusion patch %d: max|map| %.3g, max |map - brute force| %.2g\n", what, patch,
           amax, worst);
    CHECK(amax > 0.0);
    CHECK(worst <= 1e-4);
    free(px);
    free(occ);
    free(ref);
}

static void check_errors(sn_ctx *ctx, sn_model *m) {
    size_t plane = (size_t)m->in_h * (size_t)m->in_w, img = plane * (size_t)m->in_c;
    uint8_t *px = calloc(2, img);
    float *occ = malloc(sizeof(float) * 2 * plane);
    if (!px || !occ) abort();
    CHECK(sn_explain_occlusion(ctx, m, px, px + img, 0, occ, occ + plane) == SN_ERR_ARG);
    CHECK(strstr(sn_ctx_error(ctx), "patch 0") != NULL);
    CHECK(sn_explain_occlusion(ctx, m, px, px + img, m->in_h + 1, occ, occ + plane) == SN_ERR_ARG);
    CHECK(sn_explain_gradient(ctx, m, px, NULL, occ, occ + plane) == SN_ERR_ARG);
    /* a patch covering everything: one position, a constant map */
    random_image(px, 2 * img);
    CHECK(sn_explain_occlusion(ctx, m, px, px + img, m->in_h, occ, occ + plane) == SN_OK);
    int constant = 1;
    for (size_t p = 1; p < plane; p++) constant &= occ[p] == occ[0];
    CHECK(constant);
    free(px);
    free(occ);
}

static void png_size(const char *path, int *w, int *h) {
    unsigned char b[24] = {0};
    FILE *f = fopen(path, "rb");
    *w = *h = -1;
    if (!f) return;
    if (fread(b, 1, 24, f) == 24 && !memcmp(b + 1, "PNG", 3)) {
        *w = b[16] << 24 | b[17] << 16 | b[18] << 8 | b[19];
        *h = b[20] << 24 | b[21] << 16 | b[22] << 8 | b[23];
    }
    fclose(f);
}

static void check_draw(sn_ctx *ctx) {
    enum { H = 28, W = 28 };
    static uint8_t img[2][H * W];
    static float maps[4][H * W];
    random_image(img[0], sizeof img);
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < H * W; i++) maps[k][i] = sn_rng_uniform(&g_rng) - (k >= 2 ? 0.5f : 0.0f);
    sn_saliency_figure f;
    memset(&f, 0, sizeof f);
    f.c = 1;
    f.h = H;
    f.w = W;
    f.img[0] = img[0];
    f.img[1] = img[1];
    f.sal[0] = maps[0];
    f.sal[1] = maps[1];
    f.name[0] = "a.png";
    f.distance = 0.5;
    f.score = sn_similarity_score(0.5, 1.0);
    f.threshold = 1.0;
    char path[512];
    snprintf(path, sizeof path, "%s/test_explain_fig.png", tu_tmpdir());
    for (int occ = 0; occ < 2; occ++) {
        if (occ) {
            f.occ[0] = maps[2];
            f.occ[1] = maps[3];
            f.patch = 4;
        }
        int ew, eh, w, h;
        sn_viz_saliency_size(&f, &ew, &eh);
        CHECK(sn_viz_saliency(ctx, path, &f) == SN_OK);
        png_size(path, &w, &h);
        CHECK(w == ew && h == eh);
        CHECK(ew > 2 * 224 && eh > (occ ? 3 : 2) * 224);
        remove(path);
    }
    const char *bad = "/nonexistent-dir-explain/x.png";
    CHECK(sn_viz_saliency(ctx, bad, &f) == SN_ERR_IO);
    CHECK(strstr(sn_ctx_error(ctx), bad) != NULL);
    f.sal[1] = NULL;
    CHECK(sn_viz_saliency(ctx, path, &f) == SN_ERR_ARG);
    FILE *left = fopen(path, "rb");
    CHECK(left == NULL);
    if (left) fclose(left);
}

int main(void) {
    sn_rng_seed(&g_rng, 2024, 11);
    sn_ctx *ctx = sn_ctx_create(2);
    if (!ctx) return 1;
    /* small random model: 3 channels, ReLU, max-pool, 2d and 1d batch norm, l2norm */
    sn_model *small = make_model(ctx, "conv 4 3 1 1; bn; relu; maxpool 2; conv 6 3 1 0; bn; relu; "
                                      "flatten; linear 8; bn; l2norm", 3, 8, 8);
    check_gradient(ctx, small, "small 3x8x8");
    check_occlusion(ctx, small, 4, "small 3x8x8");
    check_occlusion(ctx, small, 3, "small 3x8x8");
    check_errors(ctx, small);
    sn_model_free(small);
    /* the seed network at MNIST shape */
    sn_model *seed = make_model(ctx, "seed", 1, 28, 28);
    check_gradient(ctx, seed, "seed 1x28x28");
    check_occlusion(ctx, seed, 6, "seed 1x28x28");
    sn_model_free(seed);
    check_draw(ctx);
    sn_viz_release_caches();
    sn_ctx_free(ctx);
    return tu_finish("test_explain");
}
