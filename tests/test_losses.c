/* test_losses.c -- contrastive loss: float vs double reference, and central finite
 * differences in double away from the hinge (|m - d| > 1e-3) and d = 0. */
#include "core/core.h"
#include "losses/losses.h"
#include "testutil.h"

#include <string.h>

int main(void) {
    sn_rng rng;
    sn_rng_seed(&rng, 42, 1);
    enum { B = 7, D = 5 };
    double e[2 * B * D], de[2 * B * D], y[B];
    float ef[2 * B * D], def[2 * B * D], yf[B], dist[B];
    const double m = 2.0;
    for (int trial = 0; trial < 20; trial++) {
        for (int i = 0; i < 2 * B * D; i++) e[i] = sn_rng_uniform_range(&rng, -1.0f, 1.0f);
        for (int i = 0; i < B; i++) y[i] = i % 2;
        /* keep every pair away from the hinge */
        int ok = 1;
        for (int i = 0; i < B; i++) {
            double s = 0;
            for (int k = 0; k < D; k++) s += (e[i * D + k] - e[(B + i) * D + k]) * (e[i * D + k] - e[(B + i) * D + k]);
            if (fabs(sqrt(s) - m) < 1e-3) ok = 0;
        }
        if (!ok) continue;
        double L = sn_contrastive_loss_ref(de, e, y, B, D, m);
        double gmax = 0;
        for (int i = 0; i < 2 * B * D; i++) {
            double save = e[i], h = 1e-6;
            e[i] = save + h;
            double lp = sn_contrastive_loss_ref(NULL, e, y, B, D, m);
            e[i] = save - h;
            double lm = sn_contrastive_loss_ref(NULL, e, y, B, D, m);
            e[i] = save;
            CHECK_CLOSE(de[i], (lp - lm) / (2 * h), 1e-6, 1e-9);
            gmax = fmax(gmax, fabs(de[i]));
        }
        CHECK(gmax > 0);
        for (int i = 0; i < 2 * B * D; i++) ef[i] = (float)e[i];
        for (int i = 0; i < B; i++) yf[i] = (float)y[i];
        double Lf = sn_contrastive_loss(def, dist, ef, yf, B, D, (float)m);
        CHECK_CLOSE(Lf, L, 1e-5, 1e-7);
        for (int i = 0; i < 2 * B * D; i++) CHECK_CLOSE(def[i], de[i], 1e-4, 1e-6);
    }
    /* hand case: D=1, a=0, b=3, margin 5: same pair loss 9, different pair (5-3)^2 = 4 */
    float e2[4] = {0, 0, 3, 3}, y2[2] = {0, 1}, d2[4];
    CHECK_CLOSE(sn_contrastive_loss(d2, NULL, e2, y2, 2, 1, 5.0f), (9.0 + 4.0) / 2, 1e-6, 0);
    CHECK_CLOSE(d2[0], 2.0 / 2 * (0 - 3), 1e-6, 0);      /* same: 2(a-b)/B */
    CHECK_CLOSE(d2[1], -(2.0 / 2) * (2.0 / 3) * (0 - 3), 1e-6, 0); /* diff: -2(m-d)/d (a-b)/B */
    /* different pair beyond the margin: no loss, no gradient; identical points: finite */
    float e3[2] = {0, 6}, y3[1] = {1}, d3[2];
    CHECK(sn_contrastive_loss(d3, NULL, e3, y3, 1, 1, 5.0f) == 0.0 && d3[0] == 0.0f);
    float e4[2] = {1, 1};
    CHECK_CLOSE(sn_contrastive_loss(d3, NULL, e4, y3, 1, 1, 5.0f), 25.0, 1e-6, 0);
    CHECK(d3[0] == 0.0f && d3[1] == 0.0f);
    return tu_finish("test_losses");
}
