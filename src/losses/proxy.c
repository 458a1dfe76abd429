/* proxy.c -- classification-route losses with one learned proxy per class: normalised
 * softmax, CosFace (additive cosine margin), ArcFace (additive angular margin), and the
 * plain softmax of a linear head (dot products, nothing normalised). */
#include "losses/batch_losses.h"

#include "core/core.h"
#include "kernels/kernels.h"

#include <math.h>
#include <string.h>

#define ARC_CLAMP (1.0 - 1e-7) /* acos argument clamp, as pytorch-metric-learning */

/* Loss core on the cosine matrix cs (B,C) (float cf or double cd); dL/dcos goes to gf / gd
 * (both NULL: loss only). */
static double proxy_core(const float *cf, const double *cd, float *gf, double *gd,
                         const int32_t *lab, int B, int C, int kind, double s, double m,
                         double ls, double *kink) {
#define COS(i, c) (cf ? (double)cf[(size_t)(i) * C + (c)] : cd[(size_t)(i) * C + (c)])
    /* label smoothing ls: target q_c = (1 - ls) [c == y] + ls / C; L_i = -sum_c q_c log p_c
     * = M + log Z - sum_c q_c z_c; dL_i/dz_c = p_c - q_c */
    const double qo = ls / C, qy = 1.0 - ls + ls / C;
    double total = 0.0;
    for (int i = 0; i < B; i++) {
        int y = lab[i];
        SN_ASSERT(y >= 0 && y < C);
        double cy = COS(i, y), zy, dzy; /* target logit and d zy / d cos_y */
        if (kind == SN_PROXY_COSFACE) {
            zy = s * (cy - m), dzy = s;
        } else if (kind == SN_PROXY_ARCFACE) {
            double cc = fmin(fmax(cy, -ARC_CLAMP), ARC_CLAMP), th = acos(cc);
            if (kink && ARC_CLAMP - fabs(cy) < *kink) *kink = fabs(ARC_CLAMP - fabs(cy));
            zy = s * cos(th + m);
            dzy = fabs(cy) < ARC_CLAMP ? s * sin(th + m) / sin(th) : 0.0;
        } else {
            SN_ASSERT(kind == SN_PROXY_NORMSOFTMAX || kind == SN_PROXY_SOFTMAX);
            zy = s * cy, dzy = s;
        }
        double M = zy, Z = 0.0, qz = 0.0;
        for (int c = 0; c < C; c++)
            if (c != y) M = fmax(M, s * COS(i, c));
        for (int c = 0; c < C; c++) {
            const double z = c == y ? zy : s * COS(i, c);
            Z += exp(z - M);
            qz += (c == y ? qy : qo) * z;
        }
        total += M + log(Z) - qz;
        if (!gf && !gd) continue;
        for (int c = 0; c < C; c++) {
            double z = c == y ? zy : s * COS(i, c), p = exp(z - M) / Z;
            double g = (c == y ? (p - qy) * dzy : (p - qo) * s) / B;
            if (gf) gf[(size_t)i * C + c] = (float)g;
            if (gd) gd[(size_t)i * C + c] = g;
        }
    }
#undef COS
    return total / B;
}

static double norm_f(const float *x, int n) {
    double s = 0.0;
    for (int k = 0; k < n; k++) s += (double)x[k] * (double)x[k];
    return sqrt(s);
}

size_t sn_proxy_scratch_size(int B, int dim, int C) {
    (void)dim;
    return 2 * (size_t)B * (size_t)C + 2 * (size_t)B + 2 * (size_t)C;
}

void sn_proxy_init(float *W, int C, int dim, sn_rng *rng) {
    SN_ASSERT(W && C > 0 && dim > 0 && rng);
    for (int c = 0; c < C; c++) {
        float *w = W + (size_t)c * dim;
        double n2;
        do { /* Box-Muller normals, then unit length (a zero row is redrawn) */
            for (int k = 0; k < dim; k++) {
                double u1 = 1.0 - (double)sn_rng_uniform(rng), u2 = sn_rng_uniform(rng);
                w[k] = (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
            }
            n2 = norm_f(w, dim);
        } while (!(n2 > 1e-12));
        for (int k = 0; k < dim; k++) w[k] = (float)(w[k] / n2);
    }
}

double sn_proxy_loss(float *de, float *dW, const float *e, const float *W, const int32_t *lab,
                     int B, int dim, int C, int kind, float scale, float margin, float smooth,
                     float *scratch, size_t scratch_floats) {
    SN_ASSERT(B > 0 && dim > 0 && C > 0 && e && W && lab && scratch &&
              scratch_floats >= sn_proxy_scratch_size(B, dim, C));
    SN_ASSERT(kind >= SN_PROXY_NORMSOFTMAX && kind <= SN_PROXY_SOFTMAX);
    size_t BC = (size_t)B * (size_t)C;
    float *cs = scratch, *H = cs + BC, *en = H + BC, *wn = en + B, *rc = wn + C, *cc = rc + B;
    if (kind == SN_PROXY_SOFTMAX) { /* z = s e W^T: dz/de = s W, dz/dW = s e */
        sn_gemm_f32(0, 1, B, C, dim, 1.0f, e, dim, W, dim, 0.0f, cs, C);
        const int grad = de || dW;
        double L = proxy_core(cs, NULL, grad ? H : NULL, NULL, lab, B, C, kind, scale, margin,
                              smooth, NULL);
        if (de) sn_gemm_f32(0, 0, B, dim, C, 1.0f, H, C, W, dim, 0.0f, de, dim);
        if (dW) sn_gemm_f32(1, 0, C, dim, B, 1.0f, H, C, e, dim, 1.0f, dW, dim);
        return L;
    }
    for (int i = 0; i < B; i++) en[i] = (float)norm_f(e + (size_t)i * dim, dim);
    for (int c = 0; c < C; c++) wn[c] = (float)norm_f(W + (size_t)c * dim, dim);
    sn_gemm_f32(0, 1, B, C, dim, 1.0f, e, dim, W, dim, 0.0f, cs, C); /* e W^T */
    for (int i = 0; i < B; i++)
        for (int c = 0; c < C; c++) {
            float *x = cs + (size_t)i * C + c;
            *x = en[i] > 0.0f && wn[c] > 0.0f ? (float)(*x / ((double)en[i] * wn[c])) : 0.0f;
        }
    int grad = de || dW;
    double L = proxy_core(cs, NULL, grad ? H : NULL, NULL, lab, B, C, kind, scale, margin,
                          smooth, NULL);
    if (!grad) return L;
    /* dcos_ic/de_i = W_c/(|e_i||W_c|) - cos_ic e_i/|e_i|^2 (and symmetric for W_c):
     * rc_i = sum_c g_ic cos_ic / |e_i|^2, cc_c = sum_i g_ic cos_ic / |W_c|^2,
     * H_ic = g_ic / (|e_i||W_c|); de = H W - rc e, dW += H^T e - cc W. */
    memset(rc, 0, (size_t)B * sizeof *rc);
    memset(cc, 0, (size_t)C * sizeof *cc);
    for (int i = 0; i < B; i++)
        for (int c = 0; c < C; c++) {
            size_t k = (size_t)i * C + c;
            if (!(en[i] > 0.0f && wn[c] > 0.0f)) {
                H[k] = 0.0f;
                continue;
            }
            double gc = (double)H[k] * cs[k];
            rc[i] += (float)(gc / ((double)en[i] * en[i]));
            cc[c] += (float)(gc / ((double)wn[c] * wn[c]));
            H[k] = (float)(H[k] / ((double)en[i] * wn[c]));
        }
    if (de) {
        sn_gemm_f32(0, 0, B, dim, C, 1.0f, H, C, W, dim, 0.0f, de, dim);
        for (int i = 0; i < B; i++)
            for (int k = 0; k < dim; k++) de[(size_t)i * dim + k] -= rc[i] * e[(size_t)i * dim + k];
    }
    if (dW) {
        sn_gemm_f32(1, 0, C, dim, B, 1.0f, H, C, e, dim, 1.0f, dW, dim);
        for (int c = 0; c < C; c++)
            for (int k = 0; k < dim; k++) dW[(size_t)c * dim + k] -= cc[c] * W[(size_t)c * dim + k];
    }
    return L;
}

double sn_proxy_loss_ref(double *de, double *dW, const double *e, const double *W,
                         const int32_t *lab, int B, int dim, int C, int kind, double scale,
                         double margin, double smooth, double *kink) {
    size_t BC = (size_t)B * (size_t)C;
    double *cs = sn_calloc(2 * BC, sizeof *cs);
    SN_ASSERT(cs != NULL);
    double *g = cs + BC;
    if (kink) *kink = INFINITY;
    const int dot = kind == SN_PROXY_SOFTMAX;
    for (int i = 0; i < B; i++)
        for (int c = 0; c < C; c++) {
            const double *a = e + (size_t)i * dim, *b = W + (size_t)c * dim;
            double ab = 0, aa = 0, bb = 0;
            for (int k = 0; k < dim; k++) ab += a[k] * b[k], aa += a[k] * a[k], bb += b[k] * b[k];
            cs[(size_t)i * C + c] = dot ? ab : aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0.0;
        }
    double L = proxy_core(NULL, cs, NULL, (de || dW) ? g : NULL, lab, B, C, kind, scale, margin,
                          smooth, kink);
    if (de) memset(de, 0, (size_t)B * (size_t)dim * sizeof *de);
    if (de || dW)
        for (int i = 0; i < B; i++)
            for (int c = 0; c < C; c++) {
                const double *a = e + (size_t)i * dim, *b = W + (size_t)c * dim;
                double aa = 0, bb = 0, cv = cs[(size_t)i * C + c], gv = g[(size_t)i * C + c];
                if (dot) {
                    for (int k = 0; k < dim; k++) {
                        if (de) de[(size_t)i * dim + k] += gv * b[k];
                        if (dW) dW[(size_t)c * dim + k] += gv * a[k];
                    }
                    continue;
                }
                for (int k = 0; k < dim; k++) aa += a[k] * a[k], bb += b[k] * b[k];
                if (!(aa > 0 && bb > 0)) continue;
                double ra = sqrt(aa), rb = sqrt(bb);
                for (int k = 0; k < dim; k++) {
                    if (de) de[(size_t)i * dim + k] += gv * (b[k] / (ra * rb) - cv * a[k] / aa);
                    if (dW) dW[(size_t)c * dim + k] += gv * (a[k] / (ra * rb) - cv * b[k] / bb);
                }
            }
    free(cs);
    return L;
}
