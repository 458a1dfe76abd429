/* test_calibrate.c -- operating points on hand-made pair sets: every target picks the
 * threshold the definitions give, rates are measured exactly, bad targets fail. */
#include "eval/calibrate.h"
#include "testutil.h"

#include <string.h>

int main(void) {
    sn_ctx *ctx = sn_ctx_create(1);
    /* distances 1..10; same = 1 for d in {1,2,3,5,8}, different for {4,6,7,9,10} */
    float d[10];
    uint8_t s[10] = {1, 1, 1, 0, 1, 0, 0, 1, 0, 0};
    for (int i = 0; i < 10; i++) d[i] = (float)(i + 1);
    sn_operating_point op;
    /* far=0.2: at most 1 of 5 negatives accepted -> accept d <= 5 (neg 4), threshold 5.5 */
    CHECK(sn_calibrate_pairs(ctx, d, s, 10, "far=0.2", &op) == SN_OK);
    CHECK_CLOSE(op.threshold, 5.5, 0, 1e-6);
    CHECK_CLOSE(op.far, 0.2, 0, 1e-12);
    CHECK_CLOSE(op.tar, 4.0 / 5, 0, 1e-12);
    CHECK(!strcmp(op.name, "far=0.2") && op.n_pairs == 10);
    /* far=0.1 (< 1 negative): accept d <= 3, threshold 3.5; TAR 3/5, precision 1 */
    CHECK(sn_calibrate_pairs(ctx, d, s, 10, "far=0.1", &op) == SN_OK);
    CHECK_CLOSE(op.threshold, 3.5, 0, 1e-6);
    CHECK_CLOSE(op.tar, 0.6, 0, 1e-12);
    CHECK_CLOSE(op.precision, 1.0, 0, 1e-12);
    /* precision=0.8: largest prefix with precision >= 0.8: d<=5 has 4/5 = 0.8 -> 5.5 */
    CHECK(sn_calibrate_pairs(ctx, d, s, 10, "precision=0.8", &op) == SN_OK);
    CHECK_CLOSE(op.threshold, 5.5, 0, 1e-6);
    /* accuracy: accept <=3 -> 3+5 = 8/10; accept <=5 -> 4+4 = 8/10; <=8 -> 5+2 = 7: first best (3.5) */
    CHECK(sn_calibrate_pairs(ctx, d, s, 10, "accuracy", &op) == SN_OK);
    CHECK_CLOSE(op.threshold, 3.5, 0, 1e-6);
    CHECK_CLOSE(op.accuracy, 0.8, 0, 1e-12);
    /* f1 = 2TP/(2TP+FP+FN): <=3: 6/8 = .75; <=5: 8/10 = .8; <=8: 10/13 = .769 -> 5.5 */
    CHECK(sn_calibrate_pairs(ctx, d, s, 10, "f1", &op) == SN_OK);
    CHECK_CLOSE(op.threshold, 5.5, 0, 1e-6);
    CHECK_CLOSE(op.f1, 0.8, 0, 1e-12);
    /* ties: two pairs at the same distance are accepted or rejected together */
    float dt[4] = {1, 2, 2, 3};
    uint8_t st[4] = {1, 1, 0, 0};
    CHECK(sn_calibrate_pairs(ctx, dt, st, 4, "far=0.4", &op) == SN_OK); /* 1/2 neg would be 0.5 */
    CHECK_CLOSE(op.threshold, 1.5, 0, 1e-6);
    /* nothing acceptable: threshold below every distance */
    CHECK(sn_calibrate_pairs(ctx, dt, (uint8_t[]){0, 1, 1, 1}, 4, "far=0.5", &op) == SN_OK);
    CHECK(op.threshold < 1.0f && op.tar == 0.0 && op.far == 0.0);
    /* measure at an arbitrary threshold */
    op.threshold = 6.0f;
    sn_operating_point_measure(d, s, 10, &op);
    CHECK_CLOSE(op.far, 2.0 / 5, 0, 1e-12);
    CHECK_CLOSE(op.tar, 4.0 / 5, 0, 1e-12);
    CHECK_CLOSE(op.precision, 4.0 / 6, 0, 1e-12);
    /* errors */
    CHECK(sn_calibrate_pairs(ctx, d, s, 10, "far=0", &op) == SN_ERR_ARG);
    CHECK(sn_calibrate_pairs(ctx, d, s, 10, "far=2", &op) == SN_ERR_ARG);
    CHECK(sn_calibrate_pairs(ctx, d, s, 10, "recall=0.5", &op) == SN_ERR_ARG);
    CHECK(strstr(sn_ctx_error(ctx), "recall=0.5") != NULL);
    uint8_t all[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    CHECK(sn_calibrate_pairs(ctx, d, all, 10, "f1", &op) == SN_ERR_ARG);
    d[3] = NAN;
    CHECK(sn_calibrate_pairs(ctx, d, s, 10, "f1", &op) == SN_ERR_NUMERIC);
    sn_ctx_free(ctx);
    return tu_finish("test_calibrate");
}
