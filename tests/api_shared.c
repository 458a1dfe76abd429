/* api_shared.c -- uses only the public headers (include/simnet.h and the module headers
 * simnet_io.h, simnet_viz.h) and links against the SHARED libsimnet: checks that the
 * public API is exported and works end to end on synthetic data (create, train a few
 * steps, embed, save, load, evaluate, error path; .npy round trip, set distances, fetch
 * without network, saliency maps, a figure). */
#include "simnet.h"
#include "simnet_io.h"
#include "simnet_viz.h"

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

    /* simnet_io.h: embeddings to .npy and back, set distances, fetch (offline) */
    enum { NE = 64 };
    static float emb[NE * 2];
    CHECK(sn_model_embed(ctx, m, px, NE, emb) == SN_OK);
    snprintf(path, sizeof path, "%s/api_shared.npy", dir ? dir : "/tmp");
    size_t shape[2] = {NE, 2};
    CHECK(sn_npy_write(ctx, path, SN_NPY_F32, 2, shape, emb) == SN_OK);
    sn_npy_array arr;
    CHECK(sn_npy_read(ctx, path, &arr) == SN_OK);
    CHECK(arr.dtype == SN_NPY_F32 && arr.ndim == 2 && arr.shape[0] == NE && arr.shape[1] == 2 &&
          arr.count == NE * 2 && memcmp(arr.data, emb, sizeof emb) == 0);
    sn_npy_free(&arr);
    CHECK(arr.data == NULL);
    /* 1-D check: FD = (mu_a - mu_b)^2 + (sigma_a - sigma_b)^2; a = {0,2}, b = {1,5}:
     * mu 1 and 3, sigma (divisor n-1) sqrt(2) and sqrt(8) -> 4 + 2 = 6 */
    const float sa[2] = {0, 2}, sb[2] = {1, 5};
    double fd = -1;
    CHECK(sn_setdist_frechet(ctx, sa, 2, sb, 2, 1, &fd) == SN_OK && fabs(fd - 6.0) < 1e-9);
    sn_mmd_result mr;
    CHECK(sn_setdist_mmd(ctx, emb, NE / 2, emb + NE, NE / 2, 2, SN_SETDIST_MMD_MAX,
                         SN_SETDIST_MMD_SEED, &mr) == SN_OK);
    CHECK(mr.n_a == NE / 2 && mr.n_b == NE / 2 && isfinite(mr.mmd2) && mr.bandwidth > 0);
    CHECK(sn_setdist_frechet(ctx, sa, 1, sb, 2, 1, &fd) == SN_ERR_ARG &&
          strstr(sn_ctx_error(ctx), "set A"));
    CHECK(sn_fetch_known("mnist") && sn_fetch_known("cifar10") && !sn_fetch_known("nosuch"));
    char ins[4096];
    CHECK(strstr(sn_fetch_instructions("mnist", "/data", 0, ins, sizeof ins), "t10k"));
    sn_fetch_opts fo = {0};
    fo.dir = dir ? dir : "/tmp";
    fo.from = "/nonexistent/simnet-api-shared.tar.gz";
    fo.no_fallback = 1;
    sn_fetch_result fr;
    CHECK(sn_fetch_dataset(ctx, "nosuch", &fo, &fr) == SN_ERR_ARG &&
          strstr(sn_ctx_error(ctx), "nosuch"));
    CHECK(sn_fetch_dataset(ctx, "fashion-mnist", &fo, &fr) == SN_ERR_IO && fr.missing != 0 &&
          strstr(sn_ctx_error(ctx), "fashion-mnist"));

    /* simnet_viz.h: saliency maps of a pair, a figure of them, training curves */
    static float sal[4 * 784];
    double dab = -1;
    const uint8_t *ia = px, *ib = px + 784; /* a dark and a bright image */
    CHECK(sn_explain_gradient_dist(ctx, m, ia, ib, sal, sal + 784, &dab) == SN_OK && dab > 0);
    double smax = 0;
    for (int k = 0; k < 2 * 784; k++) smax = sal[k] > smax ? sal[k] : smax;
    CHECK(smax > 0);
    CHECK(sn_explain_occlusion(ctx, m, ia, ib, 7, sal + 2 * 784, sal + 3 * 784) == SN_OK);
    CHECK(sn_explain_occlusion(ctx, m, ia, ib, 29, sal, sal + 784) == SN_ERR_ARG);
    sn_saliency_figure sf = {0};
    sf.c = 1;
    sf.h = sf.w = 28;
    sf.img[0] = ia;
    sf.img[1] = ib;
    sf.sal[0] = sal;
    sf.sal[1] = sal + 784;
    sf.distance = dab;
    sf.score = sn_similarity_score(dab, thr);
    sf.threshold = thr;
    snprintf(path, sizeof path, "%s/api_shared_saliency.png", dir ? dir : "/tmp");
    remove(path);
    CHECK(sn_viz_saliency(ctx, path, &sf) == SN_OK);
    FILE *png = fopen(path, "rb");
    unsigned char sig[8] = {0};
    CHECK(png && fread(sig, 1, 8, png) == 8 && memcmp(sig, "\x89PNG\r\n\x1a\n", 8) == 0);
    if (png) fclose(png);
    const sn_viz_epoch ep[3] = {{1, 0.9, 1.0}, {2, 0.5, 0.7}, {3, 0.3, NAN}};
    snprintf(path, sizeof path, "%s/api_shared_curves.png", dir ? dir : "/tmp");
    CHECK(sn_viz_training_curves(ctx, path, ep, 3) == SN_OK);
    CHECK(sn_viz_training_curves(ctx, path, ep, 0) == SN_ERR_ARG && strstr(sn_ctx_error(ctx), path));

    sn_model_free(m);
    sn_model_free(m2);
    sn_ctx_free(ctx);
    sn_viz_release_caches();
    printf("api_shared: %d passed, %d failed\n", checks - fails, fails);
    return fails != 0;
}
