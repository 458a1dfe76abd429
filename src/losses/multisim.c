/* multisim.c -- Multi-Similarity loss (Wang et al. 2019) with its pair miner. */
#include "losses/batch_losses.h"

#include "core/core.h"

#include <math.h>
#include <string.h>

/* Core on D = 1 - S (cosine distance), float (Df, gf) or double (Dd, gd); gradients
 * w.r.t. D accumulate into gf / gd (both NULL: loss only). */
static double ms_core(const float *Df, const double *Dd, float *gf, double *gd,
                      const int32_t *lab, int B, double *kink) {
#define S_(i, j) (1.0 - (Df ? (double)Df[(size_t)(i) * B + (j)] : Dd[(size_t)(i) * B + (j)]))
    const double al = SN_MS_ALPHA, be = SN_MS_BETA, base = SN_MS_BASE, eps = SN_MS_EPS;
    double total = 0.0;
    for (int a = 0; a < B; a++) {
        double minpos = INFINITY, maxneg = -INFINITY;
        for (int j = 0; j < B; j++) {
            if (j == a) continue;
            double s = S_(a, j);
            if (lab[j] == lab[a]) minpos = fmin(minpos, s);
            else maxneg = fmax(maxneg, s);
        }
        if (!isfinite(minpos) || !isfinite(maxneg)) continue; /* nothing mined */
        /* two log(1 + sum exp(x)) terms: sgn = 0 positives, 1 negatives */
        for (int sgn = 0; sgn < 2; sgn++) {
            double M = 0.0, Z = 1.0;
            int any = 0;
            for (int pass = 0; pass < 3; pass++) {
                if (pass == 1) Z = exp(-M);
                for (int j = 0; j < B; j++) {
                    if (j == a || (lab[j] == lab[a]) == sgn) continue;
                    double s = S_(a, j);
                    double gap = sgn ? s + eps - minpos : maxneg - (s - eps);
                    if (pass == 0 && kink && fabs(gap) < *kink) *kink = fabs(gap);
                    if (!(gap > 0.0)) continue;
                    double x = sgn ? be * (s - base) : -al * (s - base);
                    if (pass == 0) M = fmax(M, x), any = 1;
                    else if (pass == 1) Z += exp(x - M);
                    else if (gf || gd) {
                        /* dL/dS = +-(1/B) exp(x - M) / Z; dD = -dS */
                        double g = (sgn ? -1.0 : 1.0) * exp(x - M) / Z / B;
                        if (gf) gf[(size_t)a * B + j] += (float)g;
                        if (gd) gd[(size_t)a * B + j] += g;
                    }
                }
                if (pass == 0 && !any) break;
                if (pass == 1) total += (M + log(Z)) / (sgn ? be : al);
            }
        }
    }
#undef S_
    return total / B;
}

size_t sn_multisim_scratch_size(int B, int dim) {
    (void)dim;
    return 2 * (size_t)B * (size_t)B + sn_distmat_scratch_size(B);
}

double sn_multisim_loss(float *de, const float *e, const int32_t *lab, int B, int dim,
                        float *scratch, size_t scratch_floats) {
    SN_ASSERT(B > 0 && dim > 0 && scratch_floats >= sn_multisim_scratch_size(B, dim));
    size_t BB = (size_t)B * (size_t)B;
    float *D = scratch, *dD = scratch + BB, *ws = scratch + 2 * BB;
    sn_distmat(D, e, B, dim, SN_DIST_COSINE, ws);
    if (de) memset(dD, 0, BB * sizeof *dD);
    double L = ms_core(D, NULL, de ? dD : NULL, NULL, lab, B, NULL);
    if (de) {
        memset(de, 0, (size_t)B * (size_t)dim * sizeof *de);
        sn_distmat_backward(de, dD, e, D, B, dim, SN_DIST_COSINE, ws);
    }
    return L;
}

double sn_multisim_loss_ref(double *de, const double *e, const int32_t *lab, int B, int dim,
                            double *kink) {
    size_t BB = (size_t)B * (size_t)B;
    double *D = sn_calloc(2 * BB, sizeof *D);
    SN_ASSERT(D != NULL);
    double *dD = D + BB;
    if (kink) *kink = INFINITY;
    sn_distmat_ref(D, e, B, dim, SN_DIST_COSINE);
    double L = ms_core(NULL, D, NULL, de ? dD : NULL, lab, B, kink);
    if (de) {
        memset(de, 0, (size_t)B * (size_t)dim * sizeof *de);
        sn_distmat_backward_ref(de, dD, e, B, dim, SN_DIST_COSINE);
    }
    free(D);
    return L;
}
