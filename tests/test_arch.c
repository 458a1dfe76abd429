/*
 * test_arch.c -- architectures: skip/add residual branches, presets, and the resnet
 * against PyTorch (fixture written by tools/make_resnet_golden.py).
 *
 *   add kernels        fast vs _ref, 1 and 2 threads, odd length: forward exact,
 *                      backward <= 1e-6 relative
 *   spec errors        unbalanced / mismatched skip-add, bad preset options: rejected
 *                      with a message naming the layer or option
 *   presets            seed spec unchanged; seed-relu, resnet shapes, embed_dim, width,
 *                      l2_normalize; parameter counts and MACs printed (docs/architectures.md)
 *   gradient check     a small residual spec with nested skips: the f32 model's
 *                      gradient of loss = sum(r * out) w.r.t. every parameter and the
 *                      input against central differences of a double-precision forward
 *                      built from the _ref kernels (train-mode BN); per tensor
 *                      max|g - fd| <= 2e-3 * max|fd| (+ 1e-6 * global scale); f32 vs
 *                      double forward <= 1e-5 relative; an all-zero gradient fails
 *   round trip         save/load of a trained-mode resnet: identical eval embeddings
 *   threads            resnet width 0.125, batch 4: 1 vs 2 threads bit-identical
 *                      forward, parameter gradients and input gradient
 *   explain            explain.c's saliency backward through a resnet vs central
 *                      differences (float, h = 1e-2): max diff <= 10% of max |fd|
 *   golden             resnet width 0.0625, embed 8, l2norm vs PyTorch 1.13:
 *                      out, eval out, BN running stats <= 1e-4 relative; loss <= 1e-5;
 *                      every gradient (and d/dx) max|ours - torch| <= 1e-3 * max(max|torch|,
 *                      1e-3 * G), G the largest |gradient| of the net -- the floor covers
 *                      conv biases followed by BN, whose true gradient is 0 (both sides
 *                      hold float rounding noise)
 */
#include "kernels/gelu.h"
#include "kernels/kernels.h"
#include "nn/explain.h"
#include "nn/nn.h"
#include "testutil.h"

#include <stdint.h>
#include <string.h>

static sn_model *make(sn_ctx *ctx, const char *arch, int c, int h, int w, int D, float width,
                      int l2) {
    sn_model_config cfg = {.arch = arch, .in_c = c, .in_h = h, .in_w = w,
                           .mean = {0, 0, 0}, .std = {1, 1, 1}, .seed = 3,
                           .embed_dim = D, .width = width, .l2_normalize = l2};
    sn_model *m = NULL;
    if (sn_model_create(ctx, &cfg, &m)) return NULL;
    return m;
}

/* Expect creation to fail with a message containing `needle`. */
static void expect_error(sn_ctx *ctx, const char *arch, int c, int h, int w, int D, float width,
                         int l2, const char *needle) {
    sn_model *m = make(ctx, arch, c, h, w, D, width, l2);
    CHECK(m == NULL);
    if (m) {
        fprintf(stderr, "  accepted: %s\n", arch);
        sn_model_free(m);
        return;
    }
    const char *e = sn_ctx_error(ctx);
    CHECK(strstr(e, needle) != NULL);
    if (!strstr(e, needle)) fprintf(stderr, "  message '%s' lacks '%s'\n", e, needle);
}

/* The add kernels against their _ref twins, on a length that is not a multiple of the
 * block and large enough for two threads: exact (a float sum of two floats is the
 * rounded double sum). */
static void test_add_kernels(void) {
    const size_t n = 100003;
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
    double *ad = malloc(n * sizeof(double)), *bd = malloc(n * sizeof(double)),
           *yd = malloc(n * sizeof(double));
    SN_ASSERT(a && b && y && ad && bd && yd);
    sn_rng rng;
    sn_rng_seed(&rng, 4, 4);
    for (size_t i = 0; i < n; i++) {
        ad[i] = a[i] = sn_rng_uniform_range(&rng, -3, 3);
        bd[i] = b[i] = sn_rng_uniform_range(&rng, -3, 3);
    }
    size_t bad = 0;
    for (int nt = 1; nt <= 2; nt++) {
        sn_add_forward_f32(y, a, b, n, nt);
        sn_add_forward_ref(yd, ad, bd, n);
        for (size_t i = 0; i < n; i++) bad += y[i] != (float)yd[i];
        /* backward: a += y, b += y (y as dy), then a alone once more */
        float *a2 = malloc(n * sizeof(float)), *b2 = malloc(n * sizeof(float));
        double *a2d = malloc(n * sizeof(double)), *b2d = malloc(n * sizeof(double));
        SN_ASSERT(a2 && b2 && a2d && b2d);
        memcpy(a2, a, n * sizeof(float));
        memcpy(b2, b, n * sizeof(float));
        memcpy(a2d, ad, n * sizeof(double));
        memcpy(b2d, bd, n * sizeof(double));
        sn_add_backward_f32(a2, b2, y, n, nt);
        sn_add_backward_f32(a2, NULL, y, n, nt);
        sn_add_backward_ref(a2d, b2d, yd, n);
        sn_add_backward_ref(a2d, NULL, yd, n);
        for (size_t i = 0; i < n; i++)
            bad += fabs(a2[i] - a2d[i]) > 1e-6 * (1 + fabs(a2d[i])) ||
                   fabs(b2[i] - b2d[i]) > 1e-6 * (1 + fabs(b2d[i]));
        free(a2);
        free(b2);
        free(a2d);
        free(b2d);
    }
    CHECK(bad == 0);
    free(a);
    free(b);
    free(y);
    free(ad);
    free(bd);
    free(yd);
}

static void test_spec_errors(sn_ctx *ctx) {
    expect_error(ctx, "conv 4 3 1 1; add; flatten; linear 2", 1, 8, 8, 0, 0, 0,
                 "layer 2 (add) has no skip");
    expect_error(ctx, "conv 4 3 1 1; skip; conv 4 3 1 1; flatten; linear 2", 1, 8, 8, 0, 0, 0,
                 "layer 2 (skip) has no add");
    expect_error(ctx, "skip; skip; conv 1 3 1 1; add; flatten; linear 2", 1, 8, 8, 0, 0, 0,
                 "layer 1 (skip) has no add");
    expect_error(ctx, "conv 4 3 1 1; skip; conv 4 3 1 0; add; flatten; linear 2", 1, 8, 8, 0, 0,
                 0, "layer 4 (add): its input 4x6x6 does not match the 4x8x8 of the skip at layer 2");
    expect_error(ctx, "conv 4 3 1 1; skip; conv 8 3 1 1; add; flatten; linear 2", 1, 8, 8, 0, 0,
                 0, "layer 4 (add)");
    expect_error(ctx, "skip 3; add; flatten; linear 2", 1, 8, 8, 0, 0, 0, "'skip' takes at most 0");
    expect_error(ctx, "conv 4 3 1 1; residual; flatten; linear 2", 1, 8, 8, 0, 0, 0,
                 "unknown layer 'residual'");
    expect_error(ctx, "resnet", 3, 32, 24, 0, 0, 0, "square input");
    expect_error(ctx, "resnet", 1, 6, 6, 0, 0, 0, "at least 8x8");
    expect_error(ctx, "resnet", 3, 32, 32, 0, 0.001f, 0, "64 x width must be >= 1");
    expect_error(ctx, "resnet", 3, 32, 32, 0, -1.0f, 0, "width");
    expect_error(ctx, "seed", 1, 28, 28, 0, 0.5f, 0, "applies to resnet and airbench only");
    expect_error(ctx, "airbench", 3, 32, 24, 0, 0, 0, "square input");
    expect_error(ctx, "airbench", 3, 8, 8, 0, 0, 0, "at least 9x9");
    expect_error(ctx, "airbench", 3, 32, 32, 0, 0.001f, 0, "64 x width must be >= 1");
    expect_error(ctx, "seed-relu", 1, 28, 28, -3, 0, 0, "embedding size -3");
    expect_error(ctx, "resnt", 3, 32, 32, 0, 0, 0, "presets: seed, seed-relu, resnet");
    expect_error(ctx, "conv 4 3 1 1; flatten; linear 5", 1, 8, 8, 6, 0, 0,
                 "embedding size 6 asked for");
    expect_error(ctx, "conv 4 3 1 1; flatten; linear 5", 1, 8, 8, 0, 0.5f, 0, "width 0.5");
}

static size_t count_kind(const sn_model *m, sn_layer_kind k) {
    size_t n = 0;
    for (int i = 0; i < m->n_layers; i++) n += m->layers[i].kind == k;
    return n;
}

static void print_preset(sn_model *m, const char *label) {
    printf("  %-28s %2d layers %9zu params %8.2f MMAC/image  out %d\n", label, m->n_layers,
           m->n_params, sn_model_macs(m) / 1e6, m->embed_dim);
}

static void test_presets(sn_ctx *ctx) {
    /* seed: exactly the spec it always had (the model file and the golden rely on it) */
    sn_model *m = make(ctx, "seed", 1, 28, 28, 0, 0, 0);
    CHECK(m != NULL);
    if (!m) return;
    CHECK(!strcmp(m->spec, "conv 32 3 1 1; bn; maxpool 2; conv 64 3 1 1; bn; maxpool 2; "
                           "conv 128 3 1 0; bn; avgpool 5; flatten; linear 64; bn; linear 2"));
    CHECK(!strcmp(m->arch, "seed") && m->embed_dim == 2 && m->n_params == 101634);
    print_preset(m, "seed 1x28x28");
    sn_model_free(m);

    m = make(ctx, "seed", 1, 28, 28, 16, 1.0f, 1);
    CHECK(m && m->embed_dim == 16 && m->layers[m->n_layers - 1].kind == SN_LAYER_L2NORM);
    sn_model_free(m);

    m = make(ctx, "seed-relu", 1, 28, 28, 0, 0, 0);
    CHECK(m && m->embed_dim == 128 && count_kind(m, SN_LAYER_RELU) == 4);
    if (m) print_preset(m, "seed-relu 1x28x28 D=128");
    sn_model_free(m);

    static const float widths[] = {0.125f, 0.25f, 0.5f, 1.0f};
    for (int i = 0; i < 4; i++) {
        m = make(ctx, "resnet", 3, 32, 32, 0, widths[i], 0);
        CHECK(m && m->embed_dim == 128 && count_kind(m, SN_LAYER_SKIP) == 2 &&
              count_kind(m, SN_LAYER_ADD) == 2);
        if (!m) continue;
        CHECK(m->layers[0].out[0] == (int)(64 * widths[i] + 0.5f));
        char label[64];
        snprintf(label, sizeof label, "resnet 3x32x32 w=%g D=128", (double)widths[i]);
        print_preset(m, label);
        sn_model_free(m);
    }
    /* 1x28x28: 28 -> 14 -> 7 -> 3, global max-pool 3 */
    m = make(ctx, "resnet", 1, 28, 28, 64, 0.25f, 1);
    CHECK(m && m->embed_dim == 64);
    if (m) {
        print_preset(m, "resnet 1x28x28 w=0.25 D=64");
        CHECK(strstr(m->spec, "maxpool 3; flatten; linear 64; l2norm") != NULL);
    }
    sn_model_free(m);
    /* airbench: whitening, three conv blocks, global max-pool; the embedding is the pooled
     * 256w features unless embed_dim asks for a linear */
    m = make(ctx, "airbench", 3, 32, 32, 0, 0, 0);
    CHECK(m && m->embed_dim == 256 && m->layers[0].kind == SN_LAYER_WHITEN &&
          count_kind(m, SN_LAYER_CONV2D) == 6 && count_kind(m, SN_LAYER_MAXPOOL) == 4 &&
          count_kind(m, SN_LAYER_LINEAR) == 0);
    if (m) {
        print_preset(m, "airbench 3x32x32");
        CHECK(strstr(m->spec, "maxpool 3; flatten") != NULL && m->layers[0].out[0] == 24);
    }
    sn_model_free(m);
    m = make(ctx, "airbench", 1, 28, 28, 64, 0.5f, 1);
    CHECK(m && m->embed_dim == 64 && m->layers[2].out[0] == 32);
    if (m) {
        print_preset(m, "airbench 1x28x28 w=0.5 D=64");
        CHECK(strstr(m->spec, "maxpool 3; flatten; linear 64; l2norm") != NULL);
    }
    sn_model_free(m);
    /* a text spec: l2_normalize appends l2norm once; embed_dim may restate the output */
    m = make(ctx, "conv 4 3 1 1; flatten; linear 5 ;", 1, 8, 8, 5, 1.0f, 1);
    CHECK(m && m->layers[m->n_layers - 1].kind == SN_LAYER_L2NORM && !strcmp(m->arch, "custom"));
    sn_model_free(m);
    m = make(ctx, "conv 4 3 1 1; flatten; linear 5; l2norm", 1, 8, 8, 0, 0, 1);
    CHECK(m && count_kind(m, SN_LAYER_L2NORM) == 1);
    sn_model_free(m);
}

/* ------------------------------------------------------ double forward */
static size_t numel(const int s[3]) { return (size_t)s[0] * (size_t)s[1] * (size_t)s[2]; }

/* Train-mode forward of m's layers in double with the _ref kernels. p: parameters
 * (m's slab layout), x: (N, in). Returns the output (N, embed_dim) in out. acts holds
 * one buffer per layer, each sized N * numel(out). */
static void forward_ref(const sn_model *m, const double *p, const double *x, int N, double **acts,
                        double *work, int32_t *iwork, double *out) {
    for (int i = 0; i < m->n_layers; i++) {
        const sn_layer *L = &m->layers[i];
        const double *in = i == 0 ? x : acts[i - 1];
        double *y = acts[i];
        const double *w = p + L->p_off;
        size_t n = (size_t)N * numel(L->in);
        switch (L->kind) {
        case SN_LAYER_CONV2D:
        case SN_LAYER_WHITEN: {
            sn_conv2d_dims d = {N, L->in[0], L->in[1], L->in[2], L->hp[0], L->hp[1], L->hp[1],
                                L->hp[2], L->hp[3], 0, 0};
            sn_conv2d_dims_init(&d);
            size_t nw = (size_t)L->hp[0] * L->in[0] * L->hp[1] * L->hp[1];
            sn_conv2d_forward_ref(y, in, w, w + nw, &d);
            break;
        }
        case SN_LAYER_BATCHNORM: {
            int C = L->in[0];
            sn_batchnorm_forward_train_ref(y, work, work + C, in, w, w + C, N, C,
                                           L->in[1] * L->in[2], 1e-5);
            break;
        }
        case SN_LAYER_MAXPOOL:
        case SN_LAYER_AVGPOOL: {
            sn_pool_dims d = {N, L->in[0], L->in[1], L->in[2], L->hp[0], L->hp[1], 0, 0};
            sn_pool_dims_init(&d);
            if (L->kind == SN_LAYER_MAXPOOL) sn_maxpool2d_forward_ref(y, iwork, in, &d);
            else sn_avgpool2d_forward_ref(y, in, &d);
            break;
        }
        case SN_LAYER_LINEAR: {
            int I = (int)numel(L->in), O = L->hp[0];
            sn_linear_forward_ref(y, in, w, w + (size_t)O * I, N, I, O);
            break;
        }
        case SN_LAYER_RELU: sn_relu_forward_ref(y, in, n); break;
        case SN_LAYER_GELU: sn_gelu_forward_ref(y, in, n); break;
        case SN_LAYER_FLATTEN:
        case SN_LAYER_SKIP: memcpy(y, in, n * sizeof(double)); break;
        case SN_LAYER_L2NORM: sn_l2norm_forward_ref(y, work, in, N, (int)numel(L->in), 1e-12); break;
        case SN_LAYER_ADD: sn_add_forward_ref(y, in, acts[L->link], n); break;
        default: SN_ASSERT(0);
        }
    }
    const sn_layer *last = &m->layers[m->n_layers - 1];
    memcpy(out, acts[m->n_layers - 1], sizeof(double) * (size_t)N * numel(last->out));
}

static double dot_r(const double *out, const float *r, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += out[i] * r[i];
    return s;
}

/* Max |a - b| over n and max |b|. */
static void diff_stats(const float *a, const double *b, size_t n, double *md, double *mb) {
    *md = 0;
    *mb = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > *md || d != d) *md = d;
        if (fabs(b[i]) > *mb) *mb = fabs(b[i]);
    }
}

static void test_gradcheck(sn_ctx *ctx, const char *spec, int C) {
    const int N = 3, H = 6, Wd = 6;
    printf("  gradcheck %s\n", spec);
    sn_model *m = make(ctx, spec, C, H, Wd, 0, 0, 0);
    CHECK(m != NULL);
    if (!m || sn_model_plan(ctx, m, N)) {
        fprintf(stderr, "gradcheck model: %s\n", sn_ctx_error(ctx));
        sn_model_free(m);
        return;
    }
    /* perturb BN gamma/beta so they matter */
    sn_rng rng;
    sn_rng_seed(&rng, 11, 1);
    for (int i = 0; i < m->n_layers; i++) {
        const sn_layer *L = &m->layers[i];
        if (L->kind != SN_LAYER_BATCHNORM) continue;
        for (int c = 0; c < L->in[0]; c++) {
            m->params[L->p_off + c] = 1.0f + sn_rng_uniform_range(&rng, -0.3f, 0.3f);
            m->params[L->p_off + L->in[0] + c] = sn_rng_uniform_range(&rng, -0.2f, 0.2f);
        }
    }
    const size_t in_n = (size_t)N * C * H * Wd, D = (size_t)m->embed_dim;
    float *x = sn_model_input(m);
    for (size_t i = 0; i < in_n; i++) x[i] = sn_rng_uniform_range(&rng, -1.5f, 1.5f);
    float r[64];
    for (size_t i = 0; i < (size_t)N * D; i++) r[i] = sn_rng_uniform_range(&rng, -1, 1);

    const float *y = sn_model_forward(m, N, 1);
    float yf[64];
    memcpy(yf, y, sizeof(float) * (size_t)N * D);
    memset(m->grads, 0, sizeof(float) * m->n_params);
    const float *dxf = sn_model_backward(m, N, r, 1);

    /* double forward */
    double **acts = calloc((size_t)m->n_layers, sizeof *acts);
    double *p = malloc(sizeof(double) * m->n_params), *xd = malloc(sizeof(double) * in_n);
    double *work = malloc(sizeof(double) * 4096), out[64];
    int32_t *iwork = malloc(sizeof(int32_t) * 65536);
    double *gp = malloc(sizeof(double) * m->n_params), *gx = malloc(sizeof(double) * in_n);
    SN_ASSERT(acts && p && xd && work && iwork && gp && gx);
    for (int i = 0; i < m->n_layers; i++) {
        acts[i] = malloc(sizeof(double) * (size_t)N * numel(m->layers[i].out));
        SN_ASSERT(acts[i]);
    }
    for (size_t i = 0; i < m->n_params; i++) p[i] = m->params[i];
    for (size_t i = 0; i < in_n; i++) xd[i] = x[i];
    forward_ref(m, p, xd, N, acts, work, iwork, out);
    double fmd, fmb;
    diff_stats(yf, out, (size_t)N * D, &fmd, &fmb);
    printf("  gradcheck: f32 vs double forward max rel diff %.3g (tol 1e-5)\n", fmd / fmb);
    CHECK(fmd <= 1e-5 * fmb);

    const double h = 1e-5;
    for (size_t i = 0; i < m->n_params; i++) {
        double s = p[i];
        p[i] = s + h;
        forward_ref(m, p, xd, N, acts, work, iwork, out);
        double lp = dot_r(out, r, (size_t)N * D);
        p[i] = s - h;
        forward_ref(m, p, xd, N, acts, work, iwork, out);
        double lm = dot_r(out, r, (size_t)N * D);
        p[i] = s;
        gp[i] = (lp - lm) / (2 * h);
    }
    for (size_t i = 0; i < in_n; i++) {
        double s = xd[i];
        xd[i] = s + h;
        forward_ref(m, p, xd, N, acts, work, iwork, out);
        double lp = dot_r(out, r, (size_t)N * D);
        xd[i] = s - h;
        forward_ref(m, p, xd, N, acts, work, iwork, out);
        double lm = dot_r(out, r, (size_t)N * D);
        xd[i] = s;
        gx[i] = (lp - lm) / (2 * h);
    }
    double gscale = 0, md, mb;
    for (size_t i = 0; i < m->n_params; i++) gscale = fmax(gscale, fabs(gp[i]));
    CHECK(gscale > 1e-3); /* an all-zero gradient is a failure, not a pass */
    double worst = 0;
    for (int l = 0; l < m->n_layers; l++) {
        const sn_layer *L = &m->layers[l];
        if (!L->n_p) continue;
        diff_stats(m->grads + L->p_off, gp + L->p_off, L->n_p, &md, &mb);
        double tol = 2e-3 * mb + 1e-6 * gscale;
        worst = fmax(worst, md / (mb + 1e-6 * gscale));
        CHECK(md <= tol);
        if (!(md <= tol))
            fprintf(stderr, "  layer %d (%s): max |g - fd| %.3g, max |fd| %.3g\n", l + 1,
                    sn_layer_ops_get(L->kind)->name, md, mb);
    }
    diff_stats(dxf, gx, in_n, &md, &mb);
    CHECK(mb > 1e-4 && md <= 2e-3 * mb);
    printf("  gradcheck: %zu params + %zu inputs, worst per-tensor rel diff %.3g, input %.3g "
           "(tol 2e-3)\n", m->n_params, in_n, worst, md / mb);

    for (int i = 0; i < m->n_layers; i++) free(acts[i]);
    free(acts);
    free(p);
    free(xd);
    free(work);
    free(iwork);
    free(gp);
    free(gx);
    sn_model_free(m);
}

/* ------------------------------------------------------------ round trip */
static void test_roundtrip(sn_ctx *ctx) {
    sn_model *m = make(ctx, "resnet", 3, 16, 16, 12, 0.125f, 1);
    CHECK(m != NULL);
    if (!m) return;
    const int n = 5;
    uint8_t px[5 * 3 * 16 * 16];
    sn_rng rng;
    sn_rng_seed(&rng, 5, 2);
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(sn_rng_u32(&rng) & 255);
    /* one train-mode forward so the BN running stats are not the initial ones */
    CHECK(sn_model_plan(ctx, m, n) == SN_OK);
    for (int i = 0; i < n; i++) sn_model_set_input(m, i, px + (size_t)i * 3 * 16 * 16);
    sn_model_forward(m, n, 1);
    float a[5 * 12], b[5 * 12];
    CHECK(sn_model_embed(ctx, m, px, n, a) == SN_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/test_arch_resnet.snm", tu_tmpdir());
    CHECK(sn_model_save(ctx, m, path) == SN_OK);
    sn_model *r = NULL;
    CHECK(sn_model_load(ctx, path, &r) == SN_OK);
    if (r) {
        CHECK(!strcmp(r->arch, "resnet") && !strcmp(r->spec, m->spec));
        CHECK(r->n_layers == m->n_layers && r->layers[16].link == m->layers[16].link);
        CHECK(sn_model_embed(ctx, r, px, n, b) == SN_OK);
        CHECK(memcmp(a, b, sizeof a) == 0);
        double nrm = 0;
        for (int k = 0; k < 12; k++) nrm += (double)b[k] * b[k];
        CHECK_CLOSE(nrm, 1.0, 1e-5, 0);
    }
    sn_model_free(r);
    sn_model_free(m);
    remove(path);
}

/* --------------------------------------------------------------- threads */
typedef struct {
    float out[4 * 16], *grads, *dx;
    size_t n_params;
} run_result;

#define TH_N 4
#define TH_IN ((size_t)TH_N * 3 * 32 * 32)

static void run_threads(int nt, run_result *res) {
    sn_ctx *ctx = sn_ctx_create(nt);
    sn_model *m = make(ctx, "resnet", 3, 32, 32, 16, 0.125f, 0);
    SN_ASSERT(m && sn_model_plan(ctx, m, TH_N) == SN_OK);
    sn_rng rng;
    sn_rng_seed(&rng, 9, 3);
    float *x = sn_model_input(m);
    for (size_t i = 0; i < TH_IN; i++) x[i] = sn_rng_uniform_range(&rng, -2, 2);
    float r[TH_N * 16];
    for (int i = 0; i < TH_N * 16; i++) r[i] = sn_rng_uniform_range(&rng, -1, 1);
    memcpy(res->out, sn_model_forward(m, TH_N, 1), sizeof res->out);
    memset(m->grads, 0, sizeof(float) * m->n_params);
    const float *dx = sn_model_backward(m, TH_N, r, 1);
    res->n_params = m->n_params;
    res->grads = malloc(sizeof(float) * m->n_params);
    res->dx = malloc(sizeof(float) * TH_IN);
    SN_ASSERT(res->grads && res->dx);
    memcpy(res->grads, m->grads, sizeof(float) * m->n_params);
    memcpy(res->dx, dx, sizeof(float) * TH_IN);
    sn_model_free(m);
    sn_ctx_free(ctx);
}

static void test_threads(void) {
    run_result a, b;
    run_threads(1, &a);
    run_threads(2, &b);
    CHECK(a.n_params == b.n_params);
    CHECK(memcmp(a.out, b.out, sizeof a.out) == 0);
    CHECK(memcmp(a.grads, b.grads, sizeof(float) * a.n_params) == 0);
    CHECK(memcmp(a.dx, b.dx, sizeof(float) * TH_IN) == 0);
    double g = 0;
    for (size_t i = 0; i < a.n_params; i++) g = fmax(g, fabs(a.grads[i]));
    CHECK(g > 0);
    printf("  threads: resnet w=0.125 batch %d, 1 vs 2 threads bit-identical (%zu params)\n", TH_N,
           a.n_params);
    free(a.grads);
    free(b.grads);
    free(a.dx);
    free(b.dx);
}

/* --------------------------------------------------------------- explain */
/* The saliency backward of explain.c zeroes each layer's input gradient right before
 * the layer's backward, as sn_model_backward does; skip/add must survive that. Checked
 * against float central differences of the eval-mode distance (h = 1e-2; a lost skip
 * gradient gives errors ~ max |fd|, noise is a few %). */
static void test_explain(sn_ctx *ctx) {
    sn_model_config cfg = {.arch = "resnet", .in_c = 1, .in_h = 16, .in_w = 16,
                           .mean = {0.3f, 0, 0}, .std = {0.3f, 1, 1}, .seed = 1,
                           .width = 0.125f, .embed_dim = 8};
    sn_model *m = NULL;
    CHECK(sn_model_create(ctx, &cfg, &m) == SN_OK);
    if (!m) return;
    uint8_t a[256], b[256];
    for (int i = 0; i < 256; i++) {
        a[i] = (uint8_t)(i * 37 % 251);
        b[i] = (uint8_t)(i * 91 % 253);
    }
    CHECK(sn_model_plan(ctx, m, 2) == SN_OK);
    sn_model_set_input(m, 0, a);
    sn_model_set_input(m, 1, b);
    for (int k = 0; k < 5; k++) sn_model_forward(m, 2, 1); /* running stats away from 0/1 */
    float sa[256], sb[256];
    double d, worst = 0, mx = 0;
    CHECK(sn_explain_gradient_dist(ctx, m, a, b, sa, sb, &d) == SN_OK);
    for (int p = 0; p < 256; p += 7) {
        double ds[2];
        for (int s = 0; s < 2; s++) {
            sn_model_set_input(m, 0, a);
            sn_model_set_input(m, 1, b);
            m->act[p] += s ? -1e-2f : 1e-2f;
            const float *e = sn_model_forward(m, 2, 0);
            double q = 0;
            for (int k = 0; k < 8; k++) q += ((double)e[k] - e[8 + k]) * ((double)e[k] - e[8 + k]);
            ds[s] = sqrt(q);
        }
        double fd = fabs((ds[0] - ds[1]) / 2e-2);
        worst = fmax(worst, fabs(fd - sa[p]));
        mx = fmax(mx, fd);
    }
    printf("  explain: saliency through skip/add vs central differences: max diff %.3g of max "
           "%.3g (tol 10%%)\n", worst, mx);
    CHECK(mx > 0 && worst <= 0.1 * mx);
    sn_model_free(m);
}

/* ---------------------------------------------------------------- golden */
typedef struct {
    char name[64];
    int ndim, dims[8];
    size_t n;
    float *data;
} rec;

static rec recs[160];
static int nrecs;

static uint32_t u32(FILE *f) {
    unsigned char b[4];
    if (fread(b, 1, 4, f) != 4) return 0xffffffffu;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static int load_fixture(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char magic[4];
    if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "SNGF", 4) || u32(f) != 1) return fclose(f), 0;
    uint32_t count = u32(f);
    if (count > sizeof recs / sizeof recs[0]) return fclose(f), 0;
    for (uint32_t i = 0; i < count; i++) {
        rec *r = &recs[nrecs++];
        uint32_t len = u32(f);
        if (len >= sizeof r->name || fread(r->name, 1, len, f) != len) return fclose(f), 0;
        r->name[len] = 0;
        r->ndim = (int)u32(f);
        if (r->ndim < 0 || r->ndim > 8) return fclose(f), 0;
        r->n = 1;
        for (int k = 0; k < r->ndim; k++) r->n *= (size_t)(r->dims[k] = (int)u32(f));
        r->data = malloc(r->n * sizeof(float) + 4);
        if (!r->data || fread(r->data, sizeof(float), r->n, f) != r->n) return fclose(f), 0;
    }
    fclose(f);
    return 1;
}

static const rec *get(const char *name) {
    for (int i = 0; i < nrecs; i++)
        if (!strcmp(recs[i].name, name)) return &recs[i];
    fprintf(stderr, "fixture lacks record %s\n", name);
    exit(1);
}

/* Records prefix.0, prefix.1, ... while they exist, concatenated into dst (cap floats).
 * Returns the floats copied and the tensor count in *nt. */
static size_t gather(float *dst, size_t cap, const char *prefix, int *nt) {
    size_t off = 0;
    char name[64];
    for (*nt = 0;; (*nt)++) {
        snprintf(name, sizeof name, "%s.%d", prefix, *nt);
        const rec *r = NULL;
        for (int i = 0; i < nrecs && !r; i++)
            if (!strcmp(recs[i].name, name)) r = &recs[i];
        if (!r) break;
        if (off + r->n > cap) return (size_t)-1;
        memcpy(dst + off, r->data, r->n * sizeof(float));
        off += r->n;
    }
    return off;
}

static void check_rel(const char *what, const float *a, const float *b, size_t n, double tol) {
    double d = tu_max_rel_diff(a, b, n);
    tu_checks++;
    printf("  golden %-22s max rel diff %.3g (tol %.0e)\n", what, d, tol);
    if (!(d <= tol)) {
        tu_failures++;
        fprintf(stderr, "FAIL %s: %.3g > %.1g\n", what, d, tol);
    }
}

static void test_golden(void) {
    if (!load_fixture("golden/resnet_golden.bin")) {
        tu_checks++;
        tu_failures++;
        fprintf(stderr, "FAIL cannot read golden/resnet_golden.bin (run from tests/)\n");
        return;
    }
    sn_ctx *ctx = sn_ctx_create(2);
    const rec *x = get("x"), *r = get("r");
    const int N = x->dims[0], D = r->dims[1];
    sn_model *m = make(ctx, "resnet", 3, 32, 32, D, 0.0625f, 1);
    SN_ASSERT(m && sn_model_plan(ctx, m, N) == SN_OK);
    int np, nb;
    CHECK(gather(m->params, m->n_params, "param", &np) == m->n_params);
    CHECK(gather(m->bufs, m->n_bufs, "buf", &nb) == m->n_bufs);
    memcpy(sn_model_input(m), x->data, x->n * sizeof(float));
    const float *y = sn_model_forward(m, N, 1);
    check_rel("out (train BN)", y, get("out")->data, (size_t)N * D, 1e-4);
    double loss = 0;
    for (int i = 0; i < N * D; i++) loss += (double)y[i] * r->data[i];
    float lf = (float)loss;
    check_rel("loss", &lf, get("loss")->data, 1, 1e-5);
    memset(m->grads, 0, sizeof(float) * m->n_params);
    const float *dx = sn_model_backward(m, N, r->data, 1);

    float *g = malloc(sizeof(float) * m->n_params), *bufs = malloc(sizeof(float) * m->n_bufs);
    SN_ASSERT(g && bufs);
    int ng;
    CHECK(gather(g, m->n_params, "grad", &ng) == m->n_params && ng == np);
    double G = 0;
    for (size_t i = 0; i < m->n_params; i++) G = fmax(G, fabs(g[i]));
    CHECK(G > 0);
    double worst = 0;
    size_t off = 0;
    char name[64], worst_name[64] = "";
    for (int t = 0; t < ng; t++) {
        snprintf(name, sizeof name, "grad.%d", t);
        const rec *gr = get(name);
        double md = 0, mb = 0;
        for (size_t k = 0; k < gr->n; k++) {
            md = fmax(md, fabs((double)m->grads[off + k] - gr->data[k]));
            mb = fmax(mb, fabs(gr->data[k]));
        }
        double den = fmax(mb, 1e-3 * G), e = md / den;
        if (e > worst) snprintf(worst_name, sizeof worst_name, "%s", name);
        worst = fmax(worst, e);
        tu_checks++;
        if (!(e <= 1e-3)) {
            tu_failures++;
            fprintf(stderr, "FAIL %s: max diff %.3g (max |torch| %.3g, G %.3g)\n", name, md, mb, G);
        }
        off += gr->n;
    }
    printf("  golden %-22s worst per-tensor rel diff %.3g (%s; tol 1e-03; %d tensors)\n",
           "grad.*", worst, worst_name, ng);
    check_rel("grad.x", dx, get("grad.x")->data, x->n, 1e-3);
    CHECK(gather(bufs, m->n_bufs, "buf_after", &nb) == m->n_bufs);
    check_rel("BN running stats", m->bufs, bufs, m->n_bufs, 1e-4);
    memcpy(sn_model_input(m), x->data, x->n * sizeof(float));
    check_rel("eval out", sn_model_forward(m, N, 0), get("eval.out")->data, (size_t)N * D, 1e-4);
    free(g);
    free(bufs);
    for (int i = 0; i < nrecs; i++) free(recs[i].data);
    sn_model_free(m);
    sn_ctx_free(ctx);
}

int main(void) {
    sn_ctx *ctx = sn_ctx_create(2);
    SN_ASSERT(ctx);
    test_add_kernels();
    test_spec_errors(ctx);
    test_presets(ctx);
    /* nested residual branches, a branch straight after a branch, pools, l2norm */
    test_gradcheck(ctx, "conv 4 3 1 1; bn; relu; skip; conv 4 3 1 1; bn; relu; skip; "
                   "conv 4 3 1 1; bn; add; conv 4 3 1 1; bn; add; relu; maxpool 2; "
                   "skip; bn; add; avgpool 3; flatten; linear 5; l2norm", 2);
    /* the fast CIFAR recipe's layers: whiten, gelu, conv-pool-BN, bn with a fixed scale
     * (its gamma still gets a gradient; the optimizer keeps it at 1) */
    test_gradcheck(ctx, "whiten 2; gelu; conv 4 3 1 1; maxpool 2; bn 1; gelu; conv 4 3 1 1; "
                   "bn; gelu; avgpool 2; flatten; linear 5", 2);
    test_roundtrip(ctx);
    test_threads();
    test_explain(ctx);
    test_golden();
    sn_ctx_free(ctx);
    return tu_finish("test_arch");
}
