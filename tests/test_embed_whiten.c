/* test_embed_whiten.c -- sn_model_embed_whiten (src/nn/embed_whiten.c): the appended
 * linear layer is W = S^(-1/2) of the shrunk within-class covariance S (checked as
 * W symmetric and W S W = I against S computed here in double), bias -W mu; the new
 * model's embedding is l2norm(W (e - mu)); the input model is unchanged; the whitened
 * model survives save/load; shrinkage 1 is a pure centring; a model without l2norm is
 * normalised first; bad input is an error. */
#include "nn/nn.h"
#include "testutil.h"

#include <string.h>

enum { NI = 240, K = 4, HW = 6, D = 6 };

static sn_rng rng;

/* class k: a fixed random pattern + per-image noise; same = 1: no noise (collapsed) */
static void make_ds(sn_dataset *ds, uint8_t *px, int32_t *lab, int same) {
    static float base[K][HW * HW];
    for (int k = 0; k < K; k++)
        for (int j = 0; j < HW * HW; j++) base[k][j] = sn_rng_uniform_range(&rng, 40, 215);
    for (int i = 0; i < NI; i++) {
        lab[i] = i % K;
        for (int j = 0; j < HW * HW; j++) {
            float v = base[lab[i]][j] + (same ? 0.0f : sn_rng_uniform_range(&rng, -35, 35));
            px[i * HW * HW + j] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
    memset(ds, 0, sizeof *ds);
    ds->n = NI, ds->c = 1, ds->h = HW, ds->w = HW, ds->n_classes = K;
    ds->pixels = px, ds->labels = lab;
    snprintf(ds->name, sizeof ds->name, "synthetic");
}

static sn_model *make_model(sn_ctx *ctx, const char *spec) {
    sn_model_config cfg = {.arch = spec, .in_c = 1, .in_h = HW, .in_w = HW, .mean = {0.5f},
                           .std = {0.25f}, .seed = 7};
    sn_model *m = NULL;
    CHECK(sn_model_create(ctx, &cfg, &m) == SN_OK);
    return m;
}

/* the shrunk within-class covariance and the mean, from m's embeddings, in double */
static void ref_stats(sn_ctx *ctx, sn_model *m, const sn_dataset *ds, double shrink,
                      double S[D][D], double mu[D], float *e, int unit) {
    CHECK(sn_model_embed(ctx, m, ds->pixels, ds->n, e) == SN_OK);
    for (int i = 0; i < ds->n && !unit; i++) { /* the whitening normalises first */
        double q = 0;
        for (int a = 0; a < D; a++) q += (double)e[i * D + a] * e[i * D + a];
        for (int a = 0; a < D; a++) e[i * D + a] = (float)(e[i * D + a] / sqrt(q));
    }
    double cm[K][D] = {{0}};
    int cnt[K] = {0};
    memset(mu, 0, sizeof(double) * D);
    for (int i = 0; i < ds->n; i++) {
        cnt[ds->labels[i]]++;
        for (int a = 0; a < D; a++) cm[ds->labels[i]][a] += e[i * D + a], mu[a] += e[i * D + a];
    }
    for (int a = 0; a < D; a++) {
        mu[a] /= ds->n;
        for (int k = 0; k < K; k++) cm[k][a] /= cnt[k];
    }
    memset(S, 0, sizeof(double) * D * D);
    for (int i = 0; i < ds->n; i++)
        for (int a = 0; a < D; a++)
            for (int b = 0; b < D; b++)
                S[a][b] += (e[i * D + a] - cm[ds->labels[i]][a]) * (e[i * D + b] - cm[ds->labels[i]][b]);
    double tr = 0;
    for (int a = 0; a < D; a++)
        for (int b = 0; b < D; b++) S[a][b] /= ds->n - K;
    for (int a = 0; a < D; a++) tr += S[a][a];
    for (int a = 0; a < D; a++) {
        for (int b = 0; b < D; b++) S[a][b] *= 1 - shrink;
        S[a][a] += shrink * tr / D;
    }
}

static void check_whitened(sn_ctx *ctx, sn_model *m, const sn_dataset *ds, float shrink, int unit) {
    static float e[NI * D], ew[NI * D];
    double S[D][D], mu[D];
    const size_t np0 = m->n_params;
    float *p0 = malloc(sizeof(float) * np0);
    memcpy(p0, m->params, sizeof(float) * np0);
    char spec0[SN_SPEC_CAP];
    snprintf(spec0, sizeof spec0, "%s", m->spec);
    sn_model *w = NULL;
    CHECK(sn_model_embed_whiten(ctx, m, ds, shrink, &w) == SN_OK);
    if (!w) {
        free(p0);
        return;
    }
    CHECK(!memcmp(p0, m->params, sizeof(float) * np0) && !strcmp(spec0, m->spec));
    CHECK(w->n_params == np0 + D * D + D && w->embed_dim == D);
    CHECK(!memcmp(w->params, p0, sizeof(float) * np0));
    const size_t L = strlen(w->spec);
    const char *tail = unit ? "; linear 6; l2norm" : "; l2norm; linear 6; l2norm";
    CHECK(L > strlen(tail) && !strcmp(w->spec + L - strlen(tail), tail));
    CHECK(sn_model_meta_get(w, "embed_whiten") != NULL);
    CHECK(sn_model_meta_get(w, "owner") && !strcmp(sn_model_meta_get(w, "owner"), "test"));
    ref_stats(ctx, m, ds, shrink, S, mu, e, unit);
    const float *W = w->params + np0, *bias = W + D * D;
    double wsw_err = 0, sym_err = 0, b_err = 0, wmax = 0, off = 0;
    for (int a = 0; a < D; a++) {
        double bref = 0;
        for (int b = 0; b < D; b++) {
            sym_err = fmax(sym_err, fabs(W[a * D + b] - W[b * D + a]));
            wmax = fmax(wmax, fabs(W[a * D + b]));
            if (a != b) off = fmax(off, fabs(W[a * D + b]));
            bref -= W[a * D + b] * mu[b];
            double s = 0;
            for (int i = 0; i < D; i++)
                for (int j = 0; j < D; j++) s += W[a * D + i] * S[i][j] * W[j * D + b];
            wsw_err = fmax(wsw_err, fabs(s - (a == b)));
        }
        b_err = fmax(b_err, fabs(bias[a] - bref));
    }
    CHECK(sym_err <= 1e-5 * wmax);
    CHECK(wsw_err < 1e-3);
    CHECK(b_err <= 1e-5 * wmax);
    if (shrink == 1.0f) CHECK(off <= 1e-5 * wmax); /* a multiple of I: only the centring */
    /* the new embedding is l2norm(W (e - mu)) */
    CHECK(sn_model_embed(ctx, w, ds->pixels, ds->n, ew) == SN_OK);
    double diff = 0;
    for (int i = 0; i < NI; i++) {
        double z[D], nz = 0;
        for (int a = 0; a < D; a++) {
            z[a] = 0;
            for (int b = 0; b < D; b++) z[a] += W[a * D + b] * (e[i * D + b] - mu[b]);
            nz += z[a] * z[a];
        }
        for (int a = 0; a < D; a++) diff = fmax(diff, fabs(ew[i * D + a] - z[a] / sqrt(nz)));
    }
    CHECK(diff < 1e-4);
    /* save / load keeps it */
    char path[512];
    snprintf(path, sizeof path, "%s/test_embed_whiten.snm", tu_tmpdir());
    sn_model *r = NULL;
    CHECK(sn_model_save(ctx, w, path) == SN_OK);
    sn_status ls = sn_model_load(ctx, path, &r);
    if (ls) fprintf(stderr, "load %s: %s\n", path, sn_ctx_error(ctx));
    CHECK(ls == SN_OK);
    if (r) {
        CHECK(sn_model_embed(ctx, r, ds->pixels, ds->n, e) == SN_OK);
        CHECK(!memcmp(e, ew, sizeof e));
        sn_model_free(r);
    }
    remove(path);
    sn_model_free(w);
    free(p0);
}

int main(void) {
    sn_rng_seed(&rng, 11, 0);
    sn_ctx *ctx = sn_ctx_create(2);
    static uint8_t px[NI * HW * HW], px2[NI * HW * HW];
    static int32_t lab[NI], lab2[NI];
    sn_dataset ds, flat;
    make_ds(&ds, px, lab, 0);
    sn_model *m = make_model(ctx, "conv 4 3 1 1; relu; flatten; linear 6; l2norm");
    CHECK(sn_model_meta_set(ctx, m, "owner", "test") == SN_OK);
    check_whitened(ctx, m, &ds, 0.1f, 1);
    check_whitened(ctx, m, &ds, 0.0f, 1);
    check_whitened(ctx, m, &ds, 1.0f, 1);

    sn_model *w = NULL;
    CHECK(sn_model_embed_whiten(ctx, m, &ds, -0.1f, &w) == SN_ERR_ARG && !w);
    CHECK(sn_model_embed_whiten(ctx, m, &ds, 1.5f, &w) == SN_ERR_ARG && !w);
    CHECK(sn_model_embed_whiten(ctx, m, &ds, NAN, &w) == SN_ERR_ARG && !w);
    sn_dataset bad = ds;
    bad.h = 5, bad.w = 5;
    CHECK(sn_model_embed_whiten(ctx, m, &bad, 0.1f, &w) == SN_ERR_ARG && !w);
    bad = ds;
    bad.n = K + 1; /* not more images than classes + 1 */
    CHECK(sn_model_embed_whiten(ctx, m, &bad, 0.1f, &w) == SN_ERR_ARG && !w);
    bad = ds;
    bad.n_classes = 2; /* labels 2, 3 out of range */
    CHECK(sn_model_embed_whiten(ctx, m, &bad, 0.1f, &w) == SN_ERR_ARG && !w);
    make_ds(&flat, px2, lab2, 1); /* no variation within a class */
    CHECK(sn_model_embed_whiten(ctx, m, &flat, 0.1f, &w) == SN_ERR_NUMERIC && !w);
    /* not unit-length: normalised first, then whitened */
    sn_model *u = make_model(ctx, "conv 4 3 1 1; relu; flatten; linear 6");
    CHECK(sn_model_meta_set(ctx, u, "owner", "test") == SN_OK);
    check_whitened(ctx, u, &ds, 0.1f, 0);
    sn_model_free(u);
    sn_model_free(m);
    sn_ctx_free(ctx);
    return tu_finish("test_embed_whiten");
}
