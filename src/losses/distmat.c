/* distmat.c -- B x B distance matrix by one GEMM, and its backward by one GEMM. */
#include "losses/batch_losses.h"

#include "core/core.h"
#include "kernels/kernels.h"

#include <math.h>

size_t sn_distmat_scratch_size(int B) { return (size_t)B * (size_t)B + (size_t)B; }

static double dot_f(const float *a, const float *b, int n) {
    double s = 0.0;
    for (int k = 0; k < n; k++) s += (double)a[k] * (double)b[k];
    return s;
}

void sn_distmat(float *D, const float *e, int B, int dim, int kind, float *scratch) {
    SN_ASSERT(kind >= SN_DIST_EUCLID && kind <= SN_DIST_COSINE && B > 0 && dim > 0);
    float *r = scratch; /* (B) squared norms; norms for cosine */
    sn_gemm_f32(0, 1, B, B, dim, 1.0f, e, dim, e, dim, 0.0f, D, B); /* D = G = e e^T */
    for (int i = 0; i < B; i++) {
        double s = dot_f(e + (size_t)i * dim, e + (size_t)i * dim, dim);
        r[i] = (float)(kind == SN_DIST_COSINE ? sqrt(s) : s);
    }
    for (int i = 0; i < B; i++) {
        D[(size_t)i * B + i] = 0.0f;
        for (int j = i + 1; j < B; j++) {
            double g = D[(size_t)i * B + j], v;
            if (kind == SN_DIST_COSINE) {
                v = (r[i] > 0.0f && r[j] > 0.0f) ? 1.0 - g / ((double)r[i] * r[j]) : 1.0;
            } else {
                v = (double)r[i] + (double)r[j] - 2.0 * g;
                if (v < 0.0) v = 0.0;
                if (kind == SN_DIST_EUCLID) v = sqrt(v);
            }
            if (v < 0.0) v = 0.0;
            D[(size_t)i * B + j] = D[(size_t)j * B + i] = (float)v;
        }
    }
}

/* de += W e with W (B,B): W_ij = -c_ij (j != i), W_ii = sum_j c_ij (sq/euclid), i.e.
 * de_i += sum_j c_ij (e_i - e_j); for cosine W_ij = -s_ij/(r_i r_j), W_ii = sum_j
 * s_ij cos_ij / r_i^2, with s_ij = dD_ij + dD_ji. */
void sn_distmat_backward(float *de, const float *dD, const float *e, const float *D, int B,
                         int dim, int kind, float *scratch) {
    SN_ASSERT(kind >= SN_DIST_EUCLID && kind <= SN_DIST_COSINE && B > 0 && dim > 0);
    float *W = scratch, *r = scratch + (size_t)B * B;
    if (kind == SN_DIST_COSINE)
        for (int i = 0; i < B; i++)
            r[i] = (float)sqrt(dot_f(e + (size_t)i * dim, e + (size_t)i * dim, dim));
    for (int i = 0; i < B; i++) {
        double diag = 0.0;
        for (int j = 0; j < B; j++) {
            if (j == i) continue;
            double s = (double)dD[(size_t)i * B + j] + (double)dD[(size_t)j * B + i], w = 0.0;
            if (kind == SN_DIST_SQEUCLID) {
                w = -2.0 * s;
                diag += 2.0 * s;
            } else if (kind == SN_DIST_EUCLID) {
                double d = D[(size_t)i * B + j];
                if (d > 0.0) {
                    w = -s / d;
                    diag += s / d;
                }
            } else if (r[i] > 0.0f && r[j] > 0.0f) {
                double c = 1.0 - (double)D[(size_t)i * B + j];
                w = -s / ((double)r[i] * r[j]);
                diag += s * c / ((double)r[i] * r[i]);
            }
            W[(size_t)i * B + j] = (float)w;
        }
        W[(size_t)i * B + i] = (float)diag;
    }
    sn_gemm_f32(0, 0, B, dim, B, 1.0f, W, B, e, dim, 1.0f, de, dim);
}

void sn_distmat_ref(double *D, const double *e, int B, int dim, int kind) {
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++) {
            const double *a = e + (size_t)i * dim, *b = e + (size_t)j * dim;
            double v = 0.0;
            if (i == j) {
                D[(size_t)i * B + j] = 0.0;
                continue;
            }
            if (kind == SN_DIST_COSINE) {
                double ab = 0, aa = 0, bb = 0;
                for (int k = 0; k < dim; k++) ab += a[k] * b[k], aa += a[k] * a[k], bb += b[k] * b[k];
                v = (aa > 0 && bb > 0) ? 1.0 - ab / sqrt(aa * bb) : 1.0;
                if (v < 0.0) v = 0.0;
            } else {
                for (int k = 0; k < dim; k++) v += (a[k] - b[k]) * (a[k] - b[k]);
                if (kind == SN_DIST_EUCLID) v = sqrt(v);
            }
            D[(size_t)i * B + j] = v;
        }
}

/* Pairwise, no GEMM: for every ordered pair (i,j), dD_ij times dD_ij/de_i and /de_j. */
void sn_distmat_backward_ref(double *de, const double *dD, const double *e, int B, int dim,
                             int kind) {
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++) {
            if (i == j) continue;
            const double *a = e + (size_t)i * dim, *b = e + (size_t)j * dim;
            double g = dD[(size_t)i * B + j];
            double *ga = de + (size_t)i * dim, *gb = de + (size_t)j * dim;
            if (kind == SN_DIST_COSINE) {
                double ab = 0, aa = 0, bb = 0;
                for (int k = 0; k < dim; k++) ab += a[k] * b[k], aa += a[k] * a[k], bb += b[k] * b[k];
                if (!(aa > 0 && bb > 0)) continue;
                double ra = sqrt(aa), rb = sqrt(bb), c = ab / (ra * rb);
                for (int k = 0; k < dim; k++) { /* D = 1 - c */
                    ga[k] -= g * (b[k] / (ra * rb) - c * a[k] / aa);
                    gb[k] -= g * (a[k] / (ra * rb) - c * b[k] / bb);
                }
            } else {
                double d2 = 0;
                for (int k = 0; k < dim; k++) d2 += (a[k] - b[k]) * (a[k] - b[k]);
                double f = 2.0 * g;
                if (kind == SN_DIST_EUCLID) f = d2 > 0 ? g / sqrt(d2) : 0.0;
                for (int k = 0; k < dim; k++) {
                    ga[k] += f * (a[k] - b[k]);
                    gb[k] -= f * (a[k] - b[k]);
                }
            }
        }
}
