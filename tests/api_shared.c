/* api_shared.c -- uses only include/simnet.h and links against the SHARED libsimnet:
 * checks that the public API is exported and works end to end on synthetic data
 * (create, train a few steps, embed, save, load, evaluate, error path). */
#include "simnet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fails = 0, checks = 0;
#define CHECK(c) do { checks++; if (!(c)) { fails++; fprintf(stderr, "FAIL %d: %s\n", __LINE__, #c); } } while (0)

int main(void) {
    sn_ctx *ctx = sn_ctx_create(2);
    CHECK(ctx && sn_ctx_threads(ctx) == 2);
    /* synthetic 2-class data: bright vs dark images with noise */
    static uint8_t px[400 * 784];
    static int32_t lab[400];
    unsigned s = 1;
    for (int i = 0; i < 400; i++) {
        lab[i] = i % 2;
        for (int k = 0; k < 784; k++) {
            s = s * 1103515245u + 12345u;
            px[i * 784 + k] = (uint8_t)((lab[i] ? 160 : 40) + (int)((s >> 24) % 64));
        }
    }
    sn_dataset ds = {400, 1, 28, 28, 2, px, lab, "synthetic", NULL};
    sn_model_config mc = {.arch = "seed", .in_c = 1, .in_h = 28, .in_w = 28, .mean = {0.5f, 0, 0},
                          .std = {0.25f, 1, 1}, .seed = 5};
    sn_model *m = NULL;
    CHECK(sn_model_create(ctx, &mc, &m) == SN_OK);
    CHECK(sn_model_param_count(m) == 101634 && sn_model_embed_dim(m) == 2);
    sn_train_config cfg;
    sn_train_config_default(&cfg);
    cfg.batch_size = 32;
    cfg.max_steps = 30;
    CHECK(sn_train(ctx, m, &ds, &ds, &cfg) == SN_OK);
    float thr = 0;
    CHECK(sn_calibrate_threshold(ctx, m, &ds, 1000, 3, &thr) == SN_OK && thr > 0);
    sn_model_set_threshold(m, thr);
    sn_eval_result r;
    sn_eval_opts eo;
    sn_eval_opts_default(&eo);
    eo.n_pairs = 1000;
    eo.episodes = 0; /* 2 classes: no 5-way episodes */
    CHECK(sn_evaluate(ctx, m, &ds, &ds, &eo, &r) == SN_OK);
    CHECK(r.roc_auc > 0.9 && r.precision_at_1 > 0.9);
    printf("synthetic: roc_auc %.3f p@1 %.3f verification_accuracy %.3f\n", r.roc_auc,
           r.precision_at_1, r.verification_accuracy);
    const char *dir = getenv("SIMNET_TEST_TMP");
    char path[512];
    snprintf(path, sizeof path, "%s/api_shared.snm", dir ? dir : "/tmp");
    CHECK(sn_model_save(ctx, m, path) == SN_OK);
    sn_model *m2 = NULL;
    CHECK(sn_model_load(ctx, path, &m2) == SN_OK);
    float e1[4], e2[4];
    CHECK(sn_model_embed(ctx, m, px, 2, e1) == SN_OK && sn_model_embed(ctx, m2, px, 2, e2) == SN_OK);
    CHECK(memcmp(e1, e2, sizeof e1) == 0);
    CHECK(fabs(sn_similarity_score(thr, thr) - 0.5) < 1e-12);
    /* errors carry a message */
    sn_train_config bad = cfg;
    bad.lr = -1;
    CHECK(sn_train(ctx, m, &ds, NULL, &bad) == SN_ERR_ARG && strstr(sn_ctx_error(ctx), "--lr"));
    sn_model_config mc2 = mc;
    mc2.arch = "nosuch";
    sn_model *m3 = NULL;
    CHECK(sn_model_create(ctx, &mc2, &m3) == SN_ERR_ARG && m3 == NULL);
    sn_model_free(m);
    sn_model_free(m2);
    sn_ctx_free(ctx);
    printf("api_shared: %d passed, %d failed\n", checks - fails, fails);
    return fails != 0;
}
