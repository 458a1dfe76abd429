/*
 * embed_whiten.c -- learned whitening of a trained model's embedding (sn_model_embed_whiten).
 *
 * From the unit-length embeddings e_i of a labelled set (the training split: never the
 * test split), accumulated serially in double (the result depends on the data only):
 *   mu  = mean of e_i
 *   Sw  = (1 / (n - k)) sum_i (e_i - mu_{y_i})(e_i - mu_{y_i})^T   (within-class, k classes)
 *   S   = (1 - s) Sw + s (tr(Sw) / D) I                             (shrinkage s in [0, 1])
 *   W   = S^(-1/2) = V diag(l_j^(-1/2)) V^T                         (symmetric, "ZCA")
 * The new model is m's network followed by `linear D` (weights W, bias -W mu) and
 * `l2norm`, so its embedding is l2norm(W (e - mu)): directions along which images of one
 * class vary are shrunk, the others stretched, before the cosine comparison. This is the
 * supervised ("learned") whitening of retrieval descriptors (Radenovic, Tolias, Chum,
 * TPAMI 2018, after Mikolajczyk & Matas 2007); with s = 1 it is only the centring.
 * A model whose embedding is not unit-length gets an l2norm first (and e above is the
 * normalised embedding), so the whitened model always compares by cosine.
 * Measured on open-set MNIST (train 0-4, test 5-9): README, presets.
 */
#include "nn/nn.h"
#include "nn/infer.h"

#include "kernels/kernels.h"
#include "kernels/linalg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sn_status sn_model_embed_whiten(sn_ctx *ctx, sn_model *m, const sn_dataset *ds, float shrink,
                                sn_model **out) {
    *out = NULL;
    if (!(shrink >= 0.0f && shrink <= 1.0f))
        return sn_errf(ctx, SN_ERR_ARG, "embedding whitening: shrinkage %g must be in [0, 1]",
                       (double)shrink);
    /* an embedding that is not unit-length is made so first: the whitened model compares
     * by cosine either way */
    const int unit = m->n_layers >= 1 && m->layers[m->n_layers - 1].kind == SN_LAYER_L2NORM;
    if (!ds || ds->c != m->in_c || ds->h != m->in_h || ds->w != m->in_w)
        return sn_errf(ctx, SN_ERR_ARG, "embedding whitening: dataset %s images are %dx%dx%d but "
                                        "the model expects %dx%dx%d", ds ? ds->name : "(none)",
                       ds ? ds->c : 0, ds ? ds->h : 0, ds ? ds->w : 0, m->in_c, m->in_h, m->in_w);
    const int D = m->embed_dim, n = ds->n, K = ds->n_classes;
    if (K < 1 || n < K + 2)
        return sn_errf(ctx, SN_ERR_ARG, "embedding whitening: dataset %s has %d images of %d "
                                        "classes; it needs more images than classes + 1",
                       ds->name, n, K);
    char spec[SN_SPEC_CAP];
    if (snprintf(spec, sizeof spec, "%s;%s linear %d; l2norm", m->spec, unit ? "" : " l2norm;", D) >=
        (int)sizeof spec)
        return sn_errf(ctx, SN_ERR_ARG, "embedding whitening: the architecture spec would be "
                                        "longer than %d characters", SN_SPEC_CAP - 1);
    for (int i = 0; i < n; i++)
        if (ds->labels[i] < 0 || ds->labels[i] >= K)
            return sn_errf(ctx, SN_ERR_ARG, "embedding whitening: dataset %s image %d has label %d, "
                                            "outside 0..%d", ds->name, i, ds->labels[i], K - 1);

    float *e = malloc(sizeof(float) * (size_t)n * (size_t)D);
    double *cm = calloc((size_t)K * (size_t)D, sizeof(double)); /* class means */
    double *mu = calloc((size_t)D, sizeof(double));
    double *S = calloc((size_t)D * (size_t)D, sizeof(double));
    double *ev = malloc(sizeof(double) * (size_t)D);
    double *W = malloc(sizeof(double) * (size_t)D * (size_t)D);
    int *cnt = calloc((size_t)K, sizeof(int));
    float *nrm = unit ? NULL : malloc(sizeof(float) * (size_t)n); /* the l2norm's norms */
    sn_model *o = NULL;
    sn_status st = SN_OK;
    if (!e || !cm || !mu || !S || !ev || !W || !cnt || (!unit && !nrm)) {
        st = sn_errf(ctx, SN_ERR_NOMEM, "embedding whitening: out of memory (%d x %d embeddings)",
                     n, D);
        goto done;
    }
    /* single views even for a model with test-time augmentation: W acts inside the
     * network, on each view's embedding, before the views are averaged */
    if ((st = sn_infer_embed(ctx, m, ds->pixels, n, e))) goto done;
    for (size_t i = 0; i < (size_t)n * (size_t)D; i++)
        if (!isfinite(e[i])) {
            st = sn_errf(ctx, SN_ERR_NUMERIC, "embedding whitening: the model gives a non-finite "
                                              "embedding for image %zu of %s", i / (size_t)D, ds->name);
            goto done;
        }
    if (!unit) sn_l2norm_forward_f32(e, nrm, e, n, D, 1e-12f); /* the l2norm layer's kernel, in place */
    for (int i = 0; i < n; i++) {
        const float *ei = e + (size_t)i * D;
        double *c = cm + (size_t)ds->labels[i] * D;
        cnt[ds->labels[i]]++;
        for (int a = 0; a < D; a++) c[a] += ei[a], mu[a] += ei[a];
    }
    int present = 0;
    for (int k = 0; k < K; k++)
        if (cnt[k]) {
            present++;
            for (int a = 0; a < D; a++) cm[(size_t)k * D + a] /= cnt[k];
        }
    for (int a = 0; a < D; a++) mu[a] /= n;
    double *r = W; /* one centred row at a time (W is written later) */
    for (int i = 0; i < n; i++) {
        const float *ei = e + (size_t)i * D;
        const double *c = cm + (size_t)ds->labels[i] * D;
        for (int a = 0; a < D; a++) r[a] = (double)ei[a] - c[a];
        for (int a = 0; a < D; a++) {
            double *Sa = S + (size_t)a * D;
            for (int b = a; b < D; b++) Sa[b] += r[a] * r[b];
        }
    }
    double tr = 0.0;
    for (int a = 0; a < D; a++) {
        for (int b = a; b < D; b++) S[(size_t)a * D + b] /= (double)(n - present);
        tr += S[(size_t)a * D + a];
    }
    if (!(tr > 0.0)) {
        st = sn_errf(ctx, SN_ERR_NUMERIC, "embedding whitening: the embeddings of %s do not vary "
                                          "within their classes (collapsed embedding?)", ds->name);
        goto done;
    }
    for (int a = 0; a < D; a++) { /* shrink, and mirror: the solver reads the full matrix */
        for (int b = a; b < D; b++)
            S[(size_t)b * D + a] = S[(size_t)a * D + b] *= 1.0 - shrink;
        S[(size_t)a * D + a] += shrink * tr / D;
    }
    if ((st = sn_eig_sym(ctx, S, D, ev, 1, "embedding whitening"))) goto done;
    /* eigenvalues below 1e-9 of the largest (a rank-deficient Sw without shrinkage) are
     * floored there rather than inverted into huge gains */
    const double floor_ev = ev[D - 1] * 1e-9;
    for (int a = 0; a < D; a++) ev[a] = 1.0 / sqrt(ev[a] > floor_ev ? ev[a] : floor_ev);
    for (int a = 0; a < D; a++)
        for (int b = 0; b < D; b++) {
            double s = 0.0;
            for (int j = 0; j < D; j++) s += S[(size_t)j * D + a] * ev[j] * S[(size_t)j * D + b];
            W[(size_t)a * D + b] = s;
        }

    sn_model_config cfg = {.arch = spec, .in_c = m->in_c, .in_h = m->in_h, .in_w = m->in_w,
                           .mean = {m->mean[0], m->mean[1], m->mean[2]},
                           .std = {m->std[0], m->std[1], m->std[2]}, .seed = 0};
    if ((st = sn_model_create(ctx, &cfg, &o))) goto done;
    SN_ASSERT(o->n_params == m->n_params + (size_t)D * D + (size_t)D && o->n_bufs == m->n_bufs);
    snprintf(o->arch, sizeof o->arch, "%s", m->arch);
    memcpy(o->params, m->params, sizeof(float) * m->n_params);
    if (m->n_bufs) memcpy(o->bufs, m->bufs, sizeof(float) * m->n_bufs);
    float *pw = o->params + m->n_params, *pb = pw + (size_t)D * D;
    for (int a = 0; a < D; a++) {
        double b = 0.0;
        for (int c = 0; c < D; c++) {
            pw[(size_t)a * D + c] = (float)W[(size_t)a * D + c];
            b += W[(size_t)a * D + c] * mu[c];
        }
        pb[a] = (float)-b;
    }
    o->bf16 = m->bf16;
    o->tta_flip = m->tta_flip, o->tta_shift = m->tta_shift;
    memcpy(o->tta, m->tta, sizeof o->tta);
    for (int i = 0; i < m->n_meta && !st; i++) st = sn_model_meta_set(ctx, o, m->meta_key[i], m->meta_val[i]);
    char v[256];
    snprintf(v, sizeof v, "within-class, shrinkage %g, %d images of %d classes of %s%s", (double)shrink,
             n, present, ds->name, unit ? "" : "; embedding L2-normalised first (now compared by cosine)");
    if (!st) st = sn_model_meta_set(ctx, o, "embed_whiten", v);
done:
    free(e), free(cm), free(mu), free(S), free(ev), free(W), free(cnt), free(nrm);
    if (st) sn_model_free(o), o = NULL;
    *out = o;
    return st;
}
