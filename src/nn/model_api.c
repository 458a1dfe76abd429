/* model_api.c -- public model handle: create, free, accessors, metadata, embedding. */
#define _POSIX_C_SOURCE 200809L
#include "nn/nn.h"
#include "nn/infer.h"
#include "kernels/kernels.h"
#include "data/data.h"

#include <ctype.h>
#include <math.h>
#include <openssl/evp.h>
#include <string.h>

sn_status sn_model_create(sn_ctx *ctx, const sn_model_config *cfg, sn_model **out) {
    *out = NULL;
    if (!cfg || !cfg->arch) return sn_errf(ctx, SN_ERR_ARG, "model config: no architecture given");
    char preset[SN_SPEC_CAP];
    int is_preset = 0;
    sn_status st = sn_arch_spec(ctx, cfg, preset, sizeof preset, &is_preset);
    if (st) return st;
    const char *spec = is_preset ? preset : cfg->arch; /* not a preset name: a text spec */
    sn_model *m = calloc(1, sizeof *m);
    if (!m) return sn_errf(ctx, SN_ERR_NOMEM, "out of memory creating model");
    snprintf(m->arch, sizeof m->arch, "%s", is_preset ? cfg->arch : "custom");
    m->in_c = cfg->in_c;
    m->in_h = cfg->in_h;
    m->in_w = cfg->in_w;
    for (int c = 0; c < 3; c++) {
        m->mean[c] = cfg->mean[c];
        m->std[c] = cfg->std[c];
    }
    for (int c = 0; c < m->in_c && c < 3; c++)
        if (!(m->std[c] > 0.0f) || !isfinite(m->mean[c])) {
            sn_model_free(m);
            return sn_errf(ctx, SN_ERR_ARG, "input normalisation: std[%d] must be > 0", c);
        }
    if (!is_preset && cfg->width != 0.0f && cfg->width != 1.0f) {
        sn_model_free(m);
        return sn_errf(ctx, SN_ERR_ARG, "width %g applies to the resnet preset, not to a text "
                                        "spec (write the channel counts into the spec)",
                       (double)cfg->width);
    }
    if (!is_preset && cfg->l2_normalize) {
        /* append "; l2norm" unless the spec already ends with it */
        size_t n = strlen(spec);
        while (n > 0 && (isspace((unsigned char)spec[n - 1]) || spec[n - 1] == ';')) n--;
        int has = n >= 6 && !strncmp(spec + n - 6, "l2norm", 6);
        if (!has && snprintf(preset, sizeof preset, "%.*s; l2norm", (int)n, spec) >= (int)sizeof preset) {
            sn_model_free(m);
            return sn_errf(ctx, SN_ERR_ARG, "architecture spec longer than %zu characters",
                           sizeof preset - 1);
        }
        if (!has) spec = preset;
    }
    st = sn_model_build(ctx, m, spec);
    if (st && !is_preset && !strchr(cfg->arch, ' ') && !strchr(cfg->arch, ';'))
        st = sn_errf(ctx, SN_ERR_ARG, "unknown architecture '%s' (presets: seed, seed-relu, resnet, airbench; "
                                      "or give a text spec such as \"conv 32 3 1 1; bn; ...\")",
                     cfg->arch);
    if (!st && !is_preset && cfg->embed_dim && cfg->embed_dim != m->embed_dim)
        st = sn_errf(ctx, SN_ERR_ARG, "embedding size %d asked for, but the architecture spec "
                                      "ends in %d values (change its last linear)",
                     cfg->embed_dim, m->embed_dim);
    if (!st) st = sn_model_alloc_slabs(ctx, m);
    if (st) {
        sn_model_free(m);
        return st;
    }
    sn_model_init_params(m, cfg->seed);
    *out = m;
    return SN_OK;
}

void sn_model_free(sn_model *m) {
    if (!m) return;
    sn_aligned_free(m->params);
    sn_aligned_free(m->grads);
    sn_aligned_free(m->bufs);
    sn_aligned_free(m->act);
    sn_aligned_free(m->dact);
    sn_aligned_free(m->scratch);
    sn_infer_free(m->infer);
    for (int i = 0; i < m->n_meta; i++) {
        free(m->meta_key[i]);
        free(m->meta_val[i]);
    }
    free(m);
}

const char *sn_model_arch(const sn_model *m) { return m->arch; }
int sn_model_embed_dim(const sn_model *m) { return m->embed_dim; }
size_t sn_model_param_count(const sn_model *m) { return m->n_params; }
void sn_model_input_shape(const sn_model *m, int *c, int *h, int *w) {
    *c = m->in_c;
    *h = m->in_h;
    *w = m->in_w;
}
float sn_model_threshold(const sn_model *m) { return m->threshold; }
void sn_model_clear_ops(sn_model *m) { m->n_ops = 0; }
void sn_model_set_threshold(sn_model *m, float t) { m->threshold = t; }

sn_status sn_model_meta_set(sn_ctx *ctx, sn_model *m, const char *key, const char *value) {
    if (!*key || strpbrk(key, "=\n") || strchr(value, '\n'))
        return sn_errf(ctx, SN_ERR_ARG, "metadata key '%s': keys must be non-empty without '=' or "
                                        "newlines, values without newlines", key);
    for (int i = 0; i < m->n_meta; i++)
        if (strcmp(m->meta_key[i], key) == 0) {
            char *v = strdup(value);
            if (!v) return sn_errf(ctx, SN_ERR_NOMEM, "out of memory");
            free(m->meta_val[i]);
            m->meta_val[i] = v;
            return SN_OK;
        }
    if (m->n_meta >= SN_META_MAX)
        return sn_errf(ctx, SN_ERR_ARG, "too many metadata entries (max %d)", SN_META_MAX);
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return sn_errf(ctx, SN_ERR_NOMEM, "out of memory");
    }
    m->meta_key[m->n_meta] = k;
    m->meta_val[m->n_meta] = v;
    m->n_meta++;
    return SN_OK;
}

int sn_model_op_count(const sn_model *m) { return m->n_ops; }
const sn_operating_point *sn_model_op_get(const sn_model *m, int i) {
    return i >= 0 && i < m->n_ops ? &m->ops[i] : NULL;
}
const sn_operating_point *sn_model_op_find(const sn_model *m, const char *name) {
    for (int i = 0; i < m->n_ops; i++)
        if (!strcmp(m->ops[i].name, name)) return &m->ops[i];
    return NULL;
}
sn_status sn_model_op_set(sn_ctx *ctx, sn_model *m, const sn_operating_point *op) {
    if (!op->name[0] || strpbrk(op->name, " \t\n") != NULL)
        return sn_errf(ctx, SN_ERR_ARG, "operating point name '%s' is not valid", op->name);
    if (!(op->threshold > 0) || !isfinite(op->threshold))
        return sn_errf(ctx, SN_ERR_ARG, "operating point %s: threshold must be > 0", op->name);
    for (int i = 0; i < m->n_ops; i++)
        if (!strcmp(m->ops[i].name, op->name)) {
            m->ops[i] = *op;
            return SN_OK;
        }
    if (m->n_ops >= SN_MAX_OPS)
        return sn_errf(ctx, SN_ERR_ARG, "a model holds at most %d operating points", SN_MAX_OPS);
    m->ops[m->n_ops++] = *op;
    return SN_OK;
}

const char *sn_model_meta_get(const sn_model *m, const char *key) {
    for (int i = 0; i < m->n_meta; i++)
        if (strcmp(m->meta_key[i], key) == 0) return m->meta_val[i];
    return NULL;
}
int sn_model_meta_count(const sn_model *m) { return m->n_meta; }
const char *sn_model_meta_key(const sn_model *m, int i) {
    return i >= 0 && i < m->n_meta ? m->meta_key[i] : NULL;
}

void sn_model_describe(const sn_model *m, char *buf, size_t cap) {
    size_t off = 0;
    if (cap == 0) return;
    buf[0] = 0;
    for (int i = 0; i < m->n_layers && off < cap; i++) {
        const sn_layer *L = &m->layers[i];
        const sn_layer_ops *ops = sn_layer_ops_get(L->kind);
        char hp[64] = "";
        size_t o = 0;
        if (L->kind == SN_LAYER_WHITEN) /* stored in conv form; written as `whiten K` */
            snprintf(hp, sizeof hp, " %d", L->hp[1]);
        else if (L->kind == SN_LAYER_BATCHNORM) /* `bn` or `bn 1` */
            snprintf(hp, sizeof hp, "%s", L->hp[0] ? " 1" : "");
        else
            for (int k = 0; k < ops->n_hp; k++)
                o += (size_t)snprintf(hp + o, sizeof hp - o, " %d", L->hp[k]);
        char si[40], so[40];
        snprintf(si, sizeof si, "%dx%dx%d", L->in[0], L->in[1], L->in[2]);
        snprintf(so, sizeof so, "%dx%dx%d", L->out[0], L->out[1], L->out[2]);
        int n = snprintf(buf + off, cap - off, "  %2d %-8s%-14s %-12s -> %-12s %8zu params\n", i + 1,
                         ops->name, hp, si, so, L->n_p);
        if (n < 0) break;
        off += (size_t)n;
    }
}

double sn_similarity_score(double d, double t) {
    double r = t > 0 ? d / t : d;
    return 1.0 / (1.0 + r * r);
}

int sn_model_tta_views(const sn_model *m) {
    return (m->tta_flip ? 2 : 1) * (m->tta_shift > 0 ? 5 : 1);
}

const char *sn_model_tta(const sn_model *m) { return m->tta[0] ? m->tta : "none"; }

sn_status sn_model_set_tta(sn_ctx *ctx, sn_model *m, const char *spec) {
    int flip = 0, shift = 0;
    if (strcmp(spec, "none") != 0) {
        const char *p = spec;
        do {
            const char *e = strchr(p, '+');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            if (len == 4 && !strncmp(p, "flip", 4) && !flip) {
                flip = 1;
            } else if (len >= 5 && len <= 6 && !strncmp(p, "shift", 5) && !shift &&
                       (len == 5 || (p[5] >= '1' && p[5] <= '4'))) {
                shift = len == 5 ? 1 : p[5] - '0';
            } else {
                return sn_errf(ctx, SN_ERR_ARG, "test-time augmentation '%s': '%.*s' is not a view "
                               "set (expected none, flip, shiftN with N = 1..4, or flip+shiftN)",
                               spec, (int)(len < 32 ? len : 32), p);
            }
            p = e ? e + 1 : NULL;
        } while (p);
    }
    if (shift >= m->in_h || shift >= m->in_w)
        return sn_errf(ctx, SN_ERR_ARG, "test-time augmentation '%s': a shift of %d pixels does not "
                       "fit the model's %dx%d input", spec, shift, m->in_h, m->in_w);
    const char *la = sn_model_meta_get(m, "label_augment");
    if (flip && la && (!strcmp(la, "flip") || !strcmp(la, "d4") || !strcmp(la, "d8")))
        return sn_errf(ctx, SN_ERR_ARG, "test-time augmentation '%s': this model was trained with "
                       "--label-augment %s, which makes an image's mirror another class; use "
                       "shiftN without flip", spec, la);
    m->tta_flip = flip;
    m->tta_shift = shift;
    if (!flip && !shift) m->tta[0] = 0;
    else if (!shift) snprintf(m->tta, sizeof m->tta, "flip");
    else snprintf(m->tta, sizeof m->tta, "%sshift%c", flip ? "flip+" : "", (char)('0' + shift));
    return SN_OK;
}

/* With test-time augmentation: chunks of b images, each expanded into its V views
 * (image-major), embedded in one call, and reduced in view order (deterministic). */
sn_status sn_model_embed(sn_ctx *ctx, sn_model *m, const uint8_t *pixels, int n, float *out) {
    const int V = sn_model_tta_views(m);
    if (V == 1 || n <= 0) return sn_infer_embed(ctx, m, pixels, n, out);
    static const int sh[5][2] = {{0, 0}, {-1, 0}, {1, 0}, {0, -1}, {0, 1}};
    const int C = m->in_c, H = m->in_h, W = m->in_w, D = m->embed_dim;
    const int nsh = m->tta_shift > 0 ? 5 : 1, b_max = 1024 / V;
    const size_t img = (size_t)C * (size_t)H * (size_t)W;
    const int l2 = m->n_layers > 0 && m->layers[m->n_layers - 1].kind == SN_LAYER_L2NORM;
    int b_cap = n < b_max ? n : b_max;
    uint8_t *views = sn_malloc((size_t)b_cap * (size_t)V * img);
    float *e = sn_malloc(sizeof(float) * ((size_t)b_cap * (size_t)V * (size_t)D + (size_t)b_cap));
    sn_status st = views && e ? SN_OK
                              : sn_errf(ctx, SN_ERR_NOMEM, "test-time augmentation: out of memory "
                                        "for %d views of %d images", V, b_cap);
    float *norm = e ? e + (size_t)b_cap * (size_t)V * (size_t)D : NULL; /* (b_cap) */
    for (int i = 0; !st && i < n; i += b_cap) {
        const int b = n - i < b_cap ? n - i : b_cap;
        for (int j = 0; j < b; j++)
            for (int f = 0, v = 0; f <= m->tta_flip; f++)
                for (int s = 0; s < nsh; s++, v++)
                    sn_shift_image(views + ((size_t)j * V + v) * img, pixels + (size_t)(i + j) * img,
                                   C, H, W, sh[s][0] * m->tta_shift, sh[s][1] * m->tta_shift, f);
        if ((st = sn_infer_embed(ctx, m, views, b * V, e))) break;
        float *o = out + (size_t)i * D;
        for (int j = 0; j < b; j++)
            for (int d = 0; d < D; d++) {
                const float *ej = e + (size_t)j * V * D + d;
                float acc = 0.0f;
                for (int v = 0; v < V; v++) acc += ej[(size_t)v * D];
                o[(size_t)j * D + d] = l2 ? acc : acc / (float)V;
            }
        /* the network's own l2norm (in place), as its last layer did for each view */
        if (l2) sn_l2norm_forward_f32(o, norm, o, b, D, SN_L2_EPS);
    }
    free(views);
    free(e);
    return st;
}

/* Embed in eval mode, in chunks of up to 256 images (the reference path, infer.h). */
sn_status sn_model_embed_ref(sn_ctx *ctx, sn_model *m, const uint8_t *pixels, int n, float *out) {
    const int chunk = 256;
    sn_status st = sn_model_plan(ctx, m, n < chunk ? (n > 0 ? n : 1) : chunk);
    if (st) return st;
    size_t img = (size_t)m->in_c * (size_t)m->in_h * (size_t)m->in_w;
    int D = m->embed_dim;
    int step = m->cap_n < chunk ? m->cap_n : chunk;
    for (int i = 0; i < n; i += step) {
        int b = n - i < step ? n - i : step;
        for (int j = 0; j < b; j++) sn_model_set_input(m, j, pixels + (size_t)(i + j) * img);
        const float *y = sn_model_forward(m, b, 0);
        memcpy(out + (size_t)i * (size_t)D, y, sizeof(float) * (size_t)b * (size_t)D);
    }
    return SN_OK;
}

sn_status sn_model_clone_untrained(sn_ctx *ctx, const sn_model *m, uint64_t seed, sn_model **out) {
    sn_model_config cfg = {.arch = m->spec, .in_c = m->in_c, .in_h = m->in_h, .in_w = m->in_w,
                           .mean = {m->mean[0], m->mean[1], m->mean[2]},
                           .std = {m->std[0], m->std[1], m->std[2]}, .seed = seed};
    sn_status st = sn_model_create(ctx, &cfg, out);
    if (!st) snprintf((*out)->arch, sizeof (*out)->arch, "%s", m->arch);
    return st;
}

sn_status sn_embed_raw_pixels(sn_ctx *ctx, const sn_model *m, const sn_dataset *ds, float *out) {
    if (ds->c != m->in_c || ds->h != m->in_h || ds->w != m->in_w)
        return sn_errf(ctx, SN_ERR_ARG, "dataset %s images are %dx%dx%d but the model expects %dx%dx%d",
                       ds->name, ds->c, ds->h, ds->w, m->in_c, m->in_h, m->in_w);
    const size_t plane = (size_t)ds->h * (size_t)ds->w, img = plane * (size_t)ds->c;
    for (int i = 0; i < ds->n; i++)
        for (int c = 0; c < ds->c; c++) {
            const float sc = 1.0f / (255.0f * m->std[c]), sh = m->mean[c] / m->std[c];
            const uint8_t *p = ds->pixels + (size_t)i * img + (size_t)c * plane;
            float *o = out + (size_t)i * img + (size_t)c * plane;
            for (size_t k = 0; k < plane; k++) o[k] = (float)p[k] * sc - sh;
        }
    return SN_OK;
}

/* SHA-256 over a tagged, little-endian serialisation of what determines the embedding:
 * "simnet-fp-1", spec, in_c/h/w (int32), mean/std (3+3 float32), n_params (uint64),
 * params (float32). */
static void fp_u32(uint8_t *b, uint32_t v) {
    for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
}
static void fp_f32(uint8_t *b, float f) {
    uint32_t v;
    memcpy(&v, &f, 4);
    fp_u32(b, v);
}
sn_status sn_model_fingerprint(sn_ctx *ctx, const sn_model *m, char out[SN_FINGERPRINT_LEN]) {
    out[0] = 0;
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    uint8_t hdr[4 * 9 + 8], buf[4096], dig[32];
    unsigned dlen = 0;
    int ok = h && EVP_DigestInit_ex(h, EVP_sha256(), NULL) &&
             EVP_DigestUpdate(h, "simnet-fp-1", 11) &&
             EVP_DigestUpdate(h, m->spec, strlen(m->spec) + 1);
    fp_u32(hdr, (uint32_t)m->in_c);
    fp_u32(hdr + 4, (uint32_t)m->in_h);
    fp_u32(hdr + 8, (uint32_t)m->in_w);
    for (int c = 0; c < 3; c++) {
        fp_f32(hdr + 12 + 4 * c, m->mean[c]);
        fp_f32(hdr + 24 + 4 * c, m->std[c]);
    }
    fp_u32(hdr + 36, (uint32_t)((uint64_t)m->n_params & 0xffffffffu));
    fp_u32(hdr + 40, (uint32_t)((uint64_t)m->n_params >> 32));
    ok = ok && EVP_DigestUpdate(h, hdr, sizeof hdr);
    for (size_t i = 0; ok && i < m->n_params; i += sizeof buf / 4) {
        size_t n = m->n_params - i < sizeof buf / 4 ? m->n_params - i : sizeof buf / 4;
        for (size_t j = 0; j < n; j++) fp_f32(buf + 4 * j, m->params[i + j]);
        ok = EVP_DigestUpdate(h, buf, 4 * n);
    }
    /* test-time augmentation changes the embedding; models without it keep the
     * fingerprints they had before it existed */
    if (m->tta[0]) ok = ok && EVP_DigestUpdate(h, "tta=", 4) && EVP_DigestUpdate(h, m->tta, strlen(m->tta));
    ok = ok && EVP_DigestFinal_ex(h, dig, &dlen) && dlen == 32;
    EVP_MD_CTX_free(h);
    if (!ok) return sn_errf(ctx, SN_ERR_NOMEM, "model fingerprint: SHA-256 failed (OpenSSL)");
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", dig[i]);
    return SN_OK;
}

sn_status sn_model_set_precision(sn_ctx *ctx, sn_model *m, const char *precision) {
    if (!strcmp(precision, "fp32")) m->bf16 = 0;
    else if (!strcmp(precision, "bf16")) m->bf16 = 1;
    else if (!strcmp(precision, "auto")) {
        /* bf16 pays only where its dot product outruns fp32 FMA clearly: the packing
         * rounds and the fp32 passes around the GEMMs cost the same either way */
        const double r = sn_bf16_speedup();
        m->bf16 = r >= SN_BF16_AUTO_MIN_SPEEDUP;
        sn_logf(ctx, SN_LOG_INFO, "precision auto: %s (%s%.2fx the fp32 FMA rate measured now; bf16 "
                "needs >= %.1fx)", m->bf16 ? "bf16" : "fp32",
                r > 0 ? "the bf16 dot product at " : "no AVX512-BF16: ", r, SN_BF16_AUTO_MIN_SPEEDUP);
        return SN_OK;
    } else
        return sn_errf(ctx, SN_ERR_ARG, "precision '%s': expected fp32, bf16 or auto", precision);
    if (m->bf16 && !sn_bf16_available())
        sn_logf(ctx, SN_LOG_WARN, "precision bf16: this CPU has no AVX512-BF16; the portable "
                                  "bf16 path is much slower than fp32");
    return SN_OK;
}

const char *sn_model_precision(const sn_model *m) { return m->bf16 ? "bf16" : "fp32"; }
