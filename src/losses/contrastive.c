/* contrastive.c -- contrastive loss (seed form) with its gradient. */
#include "losses/losses.h"

#include <math.h>
#include <stddef.h>

double sn_contrastive_loss(float *de, float *dist, const float *e, const float *y, int B, int D,
                           float margin) {
    double total = 0.0;
    for (int i = 0; i < B; i++) {
        const float *a = e + (size_t)i * (size_t)D;
        const float *b = e + (size_t)(B + i) * (size_t)D;
        double d2 = 0.0;
        for (int k = 0; k < D; k++) {
            double t = (double)a[k] - (double)b[k];
            d2 += t * t;
        }
        double d = sqrt(d2), yi = (double)y[i];
        double hinge = margin - d > 0.0 ? margin - d : 0.0;
        total += (1.0 - yi) * d2 + yi * hinge * hinge;
        if (dist) dist[i] = (float)d;
        if (de) {
            double f = (1.0 - yi);
            if (hinge > 0.0 && d > 0.0) f -= yi * hinge / d;
            f *= 2.0 / B;
            float *ga = de + (size_t)i * (size_t)D, *gb = de + (size_t)(B + i) * (size_t)D;
            for (int k = 0; k < D; k++) {
                float g = (float)(f * ((double)a[k] - (double)b[k]));
                ga[k] = g;
                gb[k] = -g;
            }
        }
    }
    return total / B;
}

double sn_contrastive_loss_ref(double *de, const double *e, const double *y, int B, int D,
                               double margin) {
    double total = 0.0;
    for (int i = 0; i < B; i++) {
        const double *a = e + (size_t)i * (size_t)D, *b = e + (size_t)(B + i) * (size_t)D;
        double d2 = 0.0;
        for (int k = 0; k < D; k++) d2 += (a[k] - b[k]) * (a[k] - b[k]);
        double d = sqrt(d2), hinge = margin - d > 0.0 ? margin - d : 0.0;
        total += (1.0 - y[i]) * d2 + y[i] * hinge * hinge;
        if (de) {
            double f = 1.0 - y[i];
            if (hinge > 0.0 && d > 0.0) f -= y[i] * hinge / d;
            f *= 2.0 / B;
            for (int k = 0; k < D; k++) {
                de[(size_t)i * (size_t)D + (size_t)k] = f * (a[k] - b[k]);
                de[(size_t)(B + i) * (size_t)D + (size_t)k] = -f * (a[k] - b[k]);
            }
        }
    }
    return total / B;
}
