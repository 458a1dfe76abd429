/* test_trainer.c -- the trainer of issue 4: optimizers and schedules against hand /
 * PyTorch values, clipping, EMA, P x K batches, bit-identical resume from checkpoints
 * (pairs, P x K, EMA + onecycle, proxy head, lookahead + whiten + groups), NaN stop,
 * collapse warning, option and checkpoint errors; parameter groups (frozen whiten and
 * `bn 1` gamma, the batch-norm lr scale), the whiten initialisation, the triangle schedule. Synthetic data built here; each run is a few dozen tiny steps. */
#include "nn/nn.h"
#include "testutil.h"
#include "train/batcher.h"
#include "train/train.h"

#include <string.h>

enum { N = 96, NC = 4, H = 8, W = 8 };
static uint8_t px[N * H * W];
static int32_t lab[N];
static sn_dataset ds = {N, 1, H, W, NC, px, lab, "toy", NULL};
static char tmp[512], msg[2048];
static int warned;

static void fill(void) {
    unsigned s = 7;
    for (int i = 0; i < N; i++) {
        lab[i] = i % NC;
        for (int k = 0; k < H * W; k++) {
            s = s * 1103515245u + 12345u;
            int v = (lab[i] * 50 + 30) + (int)((s >> 24) % 60) + ((k % W) == lab[i] * 2 ? 60 : 0);
            px[i * H * W + k] = (uint8_t)(v > 255 ? 255 : v);
        }
    }
}

static void on_log(void *user, int level, const char *m) {
    (void)user;
    if (level == SN_LOG_WARN && strstr(m, "collapsed")) warned++;
}

static const char *arch_default = "conv 4 3 1 1; bn; relu; maxpool 2; flatten; linear 8; bn; relu; linear 3";
static const char *arch_whiten = "whiten 2; gelu; conv 4 3 1 1; bn 1; relu; maxpool 2; flatten; linear 8; bn; linear 3";
static const char *arch = NULL; /* NULL: arch_default */

static sn_model *new_model(sn_ctx *ctx) {
    sn_model_config mc = {.arch = arch ? arch : arch_default,
                          .in_c = 1, .in_h = H, .in_w = W, .mean = {0.5f, 0, 0}, .std = {0.25f, 1, 1},
                          .seed = 5};
    sn_model *m = NULL;
    CHECK(sn_model_create(ctx, &mc, &m) == SN_OK);
    return m;
}

/* ------------------------------------------------------------ optimizers */
static void test_optimizers(sn_ctx *ctx) {
    /* AdamW(lr 0.01, betas (0.9, 0.999), eps 1e-8, weight_decay 0.1), 3 steps; expected
     * values printed by torch.optim.AdamW (PyTorch 1.13, float32) once:
     *   p = torch.tensor([0.5, -1.2, 2.0, 0.0, 3.0]); for g in grads: p.grad = g; opt.step() */
    float p[5] = {0.5f, -1.2f, 2.0f, 0.0f, 3.0f};
    const float g[3][5] = {{0.1f, -0.3f, 0.7f, 1.5f, 0.0f}, {-0.2f, 0.25f, 0.1f, -1.0f, 0.0f},
                           {0.05f, -0.5f, 0.3f, 2.0f, 0.0f}};
    const float want[3][5] = {{0.489500016f, -1.1888001f, 1.98800004f, -0.0100000007f, 2.99699998f},
                              {0.492671549f, -1.18723011f, 1.97832608f, -0.011435207f, 2.99400306f},
                              {0.4935458f, -1.18082559f, 1.96838212f, -0.0169181786f, 2.991009f}};
    sn_optim o;
    CHECK(sn_optim_init(ctx, &o, SN_OPT_ADAMW, 5, 0.01f) == SN_OK);
    o.weight_decay = 0.1f;
    for (int t = 0; t < 3; t++) {
        sn_optim_step(&o, p, g[t], 1);
        for (int i = 0; i < 5; i++) CHECK_CLOSE(p[i], want[t][i], 1e-6, 1e-8);
    }
    sn_optim_free(&o);
    /* SGD(lr 0.1, momentum 0.9, nesterov, weight_decay 0.01), torch.optim.SGD values */
    float q[3] = {0.5f, -1.2f, 2.0f};
    const float wq[3][3] = {{0.480049998f, -1.14072001f, 1.86319995f},
                            {0.508632898f, -1.16078067f, 1.78233993f},
                            {0.506323159f, -1.06015635f, 1.65985632f}};
    CHECK(sn_optim_init(ctx, &o, SN_OPT_SGD, 3, 0.1f) == SN_OK);
    o.momentum = 0.9f;
    o.nesterov = 1;
    o.weight_decay = 0.01f;
    for (int t = 0; t < 3; t++) {
        sn_optim_step(&o, q, g[t], 1);
        for (int i = 0; i < 3; i++) CHECK_CLOSE(q[i], wq[t][i], 1e-6, 1e-8);
    }
    sn_optim_free(&o);
    CHECK(sn_optim_kind_from_name("adamw") == SN_OPT_ADAMW && sn_optim_kind_from_name("x") == -1);

    /* parameter groups: [0,2) scale 1, [2,4) frozen, [4,6) lr x4 and decay / 4; each range
     * steps exactly as a one-group optimizer with those lr and decay would */
    for (int kind = 0; kind < 3; kind++) {
        float a[6] = {0.5f, -1.2f, 2.0f, 0.3f, 3.0f, -0.7f}, r0[2], r2[2];
        const float gg[6] = {0.1f, -0.3f, 0.7f, 1.5f, -0.4f, 0.2f};
        memcpy(r0, a, sizeof r0);
        memcpy(r2, a + 4, sizeof r2);
        sn_optim og, o0, o2;
        CHECK(sn_optim_init(ctx, &og, (sn_optim_kind)kind, 6, 0.01f) == SN_OK);
        CHECK(sn_optim_init(ctx, &o0, (sn_optim_kind)kind, 2, 0.01f) == SN_OK);
        CHECK(sn_optim_init(ctx, &o2, (sn_optim_kind)kind, 2, 0.04f) == SN_OK);
        og.weight_decay = o0.weight_decay = 0.2f;
        o2.weight_decay = 0.05f;
        og.nesterov = o0.nesterov = o2.nesterov = 1;
        const sn_param_range gr[3] = {{0, 2, 1.0f, 1.0f}, {2, 2, 0.0f, 0.0f}, {4, 2, 4.0f, 0.25f}};
        sn_optim_set_groups(&og, gr, 3);
        for (int t = 0; t < 3; t++) {
            sn_optim_step(&og, a, gg, 1);
            sn_optim_step(&o0, r0, gg, 1);
            sn_optim_step(&o2, r2, gg + 4, 1);
        }
        CHECK(a[0] == r0[0] && a[1] == r0[1] && a[4] == r2[0] && a[5] == r2[1]);
        CHECK(a[2] == 2.0f && a[3] == 0.3f && og.m[2] == 0.0f && og.m[3] == 0.0f);
        sn_optim_free(&og);
        sn_optim_free(&o0);
        sn_optim_free(&o2);
    }
}

static void test_schedules(void) {
    /* torch OneCycleLR(max_lr 0.1, total_steps 10, pct_start 0.3, cycle_momentum False) */
    const double oc[10] = {0.004, 0.052, 0.1, 0.0950484632, 0.0811745654, 0.0611262022,
                           0.0388741978, 0.0188258346, 0.0049519368, 4e-07};
    sn_schedule s = {SN_SCHED_ONECYCLE, 0.1f, 10, 0, 1, 0.1f};
    for (int i = 0; i < 10; i++) CHECK_CLOSE(sn_schedule_lr(&s, i, 1), oc[i], 1e-6, 1e-12);
    s.warmup_steps = 3; /* pct_start = 3/10: the same */
    for (int i = 0; i < 10; i++) CHECK_CLOSE(sn_schedule_lr(&s, i, 1), oc[i], 1e-6, 1e-12);
    /* cosine, T = 10, W = 2: warm-up 0.05, 0.1, then 0.1 (1 + cos(pi (i-2)/8)) / 2 */
    sn_schedule c = {SN_SCHED_COSINE, 0.1f, 10, 2, 1, 0.1f};
    CHECK_CLOSE(sn_schedule_lr(&c, 0, 1), 0.05, 1e-6, 0);
    CHECK_CLOSE(sn_schedule_lr(&c, 1, 1), 0.1, 1e-6, 0);
    CHECK_CLOSE(sn_schedule_lr(&c, 2, 1), 0.1, 1e-6, 0);
    CHECK_CLOSE(sn_schedule_lr(&c, 6, 1), 0.05, 1e-6, 0);
    CHECK_CLOSE(sn_schedule_lr(&c, 4, 1), 0.1 * (1 + cos(3.14159265358979 / 4)) / 2, 1e-6, 0);
    /* step: gamma 0.5 every 2 epochs */
    sn_schedule st = {SN_SCHED_STEP, 0.1f, 100, 0, 2, 0.5f};
    CHECK_CLOSE(sn_schedule_lr(&st, 50, 2), 0.1, 1e-7, 0);
    CHECK_CLOSE(sn_schedule_lr(&st, 50, 3), 0.05, 1e-7, 0);
    CHECK_CLOSE(sn_schedule_lr(&st, 50, 5), 0.025, 1e-7, 0);
    /* constant with 4 warm-up steps; the default (no warm-up) is exactly base */
    sn_schedule k = {SN_SCHED_CONSTANT, 0.1f, 100, 4, 1, 0.1f};
    CHECK_CLOSE(sn_schedule_lr(&k, 0, 1), 0.025, 1e-7, 0);
    CHECK_CLOSE(sn_schedule_lr(&k, 3, 1), 0.1, 1e-7, 0);
    k.warmup_steps = 0;
    CHECK(sn_schedule_lr(&k, 0, 1) == 0.1f && sn_schedule_lr(&k, 99, 7) == 0.1f);
    CHECK(sn_sched_kind_from_name("cosine") == SN_SCHED_COSINE && sn_sched_kind_from_name("x") == -1);
    /* triangle, T = 100, no warm-up given: W = 23; 0.2 -> 1 at 23 -> 0.07 at 100 */
    sn_schedule tr = {SN_SCHED_TRIANGLE, 0.5f, 100, 0, 1, 0.1f};
    CHECK_CLOSE(sn_schedule_lr(&tr, 0, 1), 0.1, 1e-6, 0);
    CHECK_CLOSE(sn_schedule_lr(&tr, 23, 1), 0.5, 1e-6, 0);
    CHECK_CLOSE(sn_schedule_lr(&tr, 10, 1), 0.5 * (0.2 + 0.8 * 10 / 23.0), 1e-6, 0);
    CHECK_CLOSE(sn_schedule_lr(&tr, 61, 1), 0.5 * (1 - 0.93 * 38 / 77.0), 1e-6, 0);
    CHECK_CLOSE(sn_schedule_lr(&tr, 99, 1), 0.5 * (1 - 0.93 * 76 / 77.0), 1e-6, 0);
    tr.warmup_steps = 10; /* an explicit warm-up moves the peak */
    CHECK_CLOSE(sn_schedule_lr(&tr, 10, 1), 0.5, 1e-6, 0);
    CHECK_CLOSE(sn_schedule_lr(&tr, 5, 1), 0.5 * 0.6, 1e-6, 0);
    CHECK(sn_sched_kind_from_name("triangle") == SN_SCHED_TRIANGLE);
}

static void test_clip_ema(void) {
    float g[2] = {3.0f, 4.0f};
    CHECK_CLOSE(sn_clip_grad_norm(g, 2, 1.0f), 5.0, 1e-12, 0);
    CHECK_CLOSE(g[0], 3.0 / (5.0 + 1e-6), 1e-6, 0);
    CHECK_CLOSE(g[1], 4.0 / (5.0 + 1e-6), 1e-6, 0);
    float h[2] = {0.3f, 0.4f};
    sn_clip_grad_norm(h, 2, 1.0f); /* under the limit: unchanged */
    CHECK(h[0] == 0.3f && h[1] == 0.4f);
    float e[2] = {1.0f, 2.0f}, p[2] = {3.0f, 6.0f};
    sn_ema_update(e, p, 2, 0.75f, 1);
    CHECK_CLOSE(e[0], 1.5, 1e-7, 0);
    CHECK_CLOSE(e[1], 3.0, 1e-7, 0);
}

/* ------------------------------------------------------------ P x K batches */
static void test_pk_batches(sn_ctx *ctx) {
    const float mean[3] = {0.5f, 0.5f, 0.5f}, sd[3] = {0.25f, 0.25f, 0.25f};
    sn_batcher_opts o = {.mode = SN_BATCH_PK, .P = 3, .K = 4, .epochs = 3, .seed = 11, .mean = mean,
                         .std = sd, .aug = {1, 1, 0.5f}};
    sn_batcher *a = NULL, *b = NULL, *c = NULL;
    CHECK(sn_batcher_open(ctx, &ds, &o, &a) == SN_OK);
    o.prefetch = 1;
    CHECK(sn_batcher_open(ctx, &ds, &o, &b) == SN_OK);
    long total = sn_batcher_total(a);
    CHECK(total == sn_batcher_epoch_steps(a, 0) + sn_batcher_epoch_steps(a, 1) + sn_batcher_epoch_steps(a, 2));
    CHECK(sn_batcher_epoch_steps(a, 0) >= N / 12);
    o.start = total / 2 + 1; /* a batcher started in the middle gives the same batches */
    CHECK(sn_batcher_open(ctx, &ds, &o, &c) == SN_OK);
    const size_t per = 12 * H * W;
    int same = 1, same_mid = 1, classes_ok = 1;
    long k = 0;
    const float *xa, *ya, *xb, *yb, *xc, *yc;
    while (sn_batcher_next(a, &xa, &ya) > 0) {
        int nb = sn_batcher_next(b, &xb, &yb);
        same &= nb == 12 && !memcmp(xa, xb, per * 4) && !memcmp(ya, yb, 12 * 4);
        const int32_t *l = sn_batcher_labels(a);
        for (int p = 0; p < 3; p++)
            for (int j = 0; j < 4; j++) {
                classes_ok &= l[p * 4 + j] == l[p * 4] && (float)l[p * 4 + j] == ya[p * 4 + j];
                for (int q = 0; q < p; q++) classes_ok &= l[q * 4] != l[p * 4];
            }
        if (k >= o.start) {
            int nc = sn_batcher_next(c, &xc, &yc);
            same_mid &= nc == 12 && !memcmp(xa, xc, per * 4) && !memcmp(ya, yc, 12 * 4);
        }
        k++;
    }
    CHECK(k == total && same && same_mid && classes_ok);
    sn_batcher_free(a);
    sn_batcher_free(b);
    sn_batcher_free(c);
    /* pair mode: starting at batch 7 replays the sampling stream */
    sn_batcher_opts po = {.mode = SN_BATCH_PAIRS, .B = 8, .total = 20, .seed = 3, .mean = mean,
                          .std = sd, .aug = {1, 0, 0}};
    CHECK(sn_batcher_open(ctx, &ds, &po, &a) == SN_OK);
    po.start = 7;
    po.prefetch = 1;
    CHECK(sn_batcher_open(ctx, &ds, &po, &c) == SN_OK);
    same = 1;
    for (k = 0; sn_batcher_next(a, &xa, &ya) > 0; k++)
        if (k >= 7) same &= sn_batcher_next(c, &xc, &yc) == 8 && !memcmp(xa, xc, 16 * H * W * 4) &&
                            !memcmp(ya, yc, 8 * 4);
    CHECK(k == 20 && same);
    sn_batcher_free(a);
    sn_batcher_free(c);
}

/* ------------------------------------------------------------ resume */
static sn_train_config base_cfg(void) {
    sn_train_config c;
    sn_train_config_default(&c);
    c.batch_size = 8;
    c.epochs = 3;
    c.lr = 3e-3f;
    c.seed = 9;
    c.aug_crop_pad = 1;
    c.aug_erase = 0.3f;
    return c;
}

/* Train 3 epochs straight; then 1 epoch + stop + resume; weights must be identical. */
static void check_resume(sn_ctx *ctx, const char *what, sn_train_config cfg, const sn_dataset *test) {
    sn_model *a = new_model(ctx), *b = new_model(ctx);
    snprintf(tmp, sizeof tmp, "%s/test_trainer_%s.ckpt", tu_tmpdir(), what);
    remove(tmp);
    sn_status s1 = sn_train(ctx, a, &ds, test, &cfg);
    if (s1) fprintf(stderr, "%s: %s\n", what, sn_ctx_error(ctx));
    CHECK(s1 == SN_OK);
    sn_train_config c2 = cfg;
    c2.checkpoint_path = tmp;
    c2.stop_after_epoch = 1;
    CHECK(sn_train(ctx, b, &ds, test, &c2) == SN_OK);
    sn_model_free(b);
    b = new_model(ctx); /* a fresh process: everything comes from the checkpoint */
    c2.stop_after_epoch = 0;
    c2.resume_path = tmp;
    sn_status s2 = sn_train(ctx, b, &ds, test, &c2);
    if (s2) fprintf(stderr, "%s: %s\n", what, sn_ctx_error(ctx));
    CHECK(s2 == SN_OK);
    int same = !memcmp(a->params, b->params, 4 * a->n_params) &&
               !memcmp(a->bufs, b->bufs, 4 * a->n_bufs);
    if (!same) fprintf(stderr, "FAIL resume %s: max rel diff %g\n", what,
                       tu_max_rel_diff(b->params, a->params, a->n_params));
    CHECK(same);
    /* and the run moved away from the initialisation */
    sn_model *c = new_model(ctx);
    CHECK(memcmp(a->params, c->params, 4 * a->n_params) != 0);
    sn_model_free(c);
    sn_model_free(a);
    sn_model_free(b);
}

static void test_resume(sn_ctx *ctx) {
    sn_train_config c = base_cfg(); /* pairs, prefetch + augmentation */
    check_resume(ctx, "pairs", c, NULL);
    c = base_cfg(); /* P x K triplet, semi-hard, SGD Nesterov + cosine */
    c.loss = "triplet";
    c.miner = "semihard";
    c.classes_per_batch = 3;
    c.per_class = 4;
    c.optimizer = "sgd";
    c.nesterov = 1;
    c.lr = 0.02f;
    c.schedule = "cosine";
    c.warmup_epochs = 0.5f;
    check_resume(ctx, "pk", c, NULL);
    c = base_cfg(); /* EMA + onecycle + AdamW + clipping, test loss on the EMA weights */
    c.loss = "multisim";
    c.optimizer = "adamw";
    c.weight_decay = 0.05f;
    c.schedule = "onecycle";
    c.ema_decay = 0.9f;
    c.clip_grad_norm = 0.5f;
    check_resume(ctx, "ema", c, &ds);
    c = base_cfg(); /* proxy head: its weights and optimizer are in the checkpoint */
    c.loss = "arcface";
    c.scale = 16;
    c.no_prefetch = 1;
    check_resume(ctx, "proxy", c, NULL);
    c = base_cfg(); /* airbench-style: whiten + gelu + bn 1, softmax with smoothing, SGD
                     * Nesterov, triangle, batch-norm lr scale and lookahead (slow weights) */
    arch = arch_whiten;
    c.loss = "softmax";
    c.label_smoothing = 0.1f;
    c.optimizer = "sgd";
    c.nesterov = 1;
    c.lr = 0.05f;
    c.weight_decay = 5e-4f;
    c.schedule = "triangle";
    c.bn_lr_scale = 8.0f;
    c.lookahead = 3;
    check_resume(ctx, "lookahead", c, NULL);
    arch = NULL;
}

/* ------------------------------------------------------------ checkpoint errors */
static sn_status resume_err(sn_ctx *ctx, sn_train_config c) {
    sn_model *m = new_model(ctx);
    sn_status st = sn_train(ctx, m, &ds, NULL, &c);
    snprintf(msg, sizeof msg, "%s", sn_ctx_error(ctx));
    sn_model_free(m);
    return st;
}

static void test_checkpoint_errors(sn_ctx *ctx) {
    char ck[600], bad[600];
    snprintf(ck, sizeof ck, "%s/test_trainer_err.ckpt", tu_tmpdir());
    snprintf(bad, sizeof bad, "%s/test_trainer_bad.ckpt", tu_tmpdir());
    sn_train_config c = base_cfg();
    c.epochs = 2;
    c.max_steps = 14; /* the second epoch is cut short */
    c.checkpoint_path = ck;
    sn_model *m = new_model(ctx);
    CHECK(sn_train(ctx, m, &ds, NULL, &c) == SN_OK);
    sn_model_free(m);
    sn_train_config r = c;
    r.checkpoint_path = NULL;
    r.resume_path = ck;
    CHECK(resume_err(ctx, r) == SN_OK); /* nothing left to do: fine */
    r.margin = 2.0f;
    CHECK(resume_err(ctx, r) == SN_ERR_ARG && strstr(msg, "margin=2") && strstr(msg, "margin=5"));
    r = c;
    r.checkpoint_path = NULL;
    r.resume_path = ck;
    r.seed = 10;
    CHECK(resume_err(ctx, r) == SN_ERR_ARG && strstr(msg, "seed="));
    r.seed = c.seed;
    r.loss = "triplet";
    CHECK(resume_err(ctx, r) == SN_ERR_ARG && strstr(msg, "loss="));
    /* corrupt copies */
    FILE *f = fopen(ck, "rb");
    CHECK(f != NULL);
    if (!f) return;
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    CHECK(n > 1000 && n < sizeof buf);
    r.loss = c.loss;
    r.resume_path = bad;
    struct {
        size_t len;
        long flip;
        sn_status want;
        const char *text;
    } cases[] = {{n, (long)n / 2, SN_ERR_FORMAT, "checksum"},
                 {n - 100, -1, SN_ERR_FORMAT, "truncated"},
                 {n, 0, SN_ERR_FORMAT, "magic"},
                 {n, 8, SN_ERR_UNSUPPORTED, "version"},
                 {10, -1, SN_ERR_FORMAT, "magic"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        f = fopen(bad, "wb");
        if (!f) continue;
        if (cases[i].flip >= 0) buf[cases[i].flip] ^= 0x5a;
        CHECK(fwrite(buf, 1, cases[i].len, f) == cases[i].len);
        fclose(f);
        if (cases[i].flip >= 0) buf[cases[i].flip] ^= 0x5a;
        sn_status st = resume_err(ctx, r);
        if (st != cases[i].want || !strstr(msg, cases[i].text) || !strstr(msg, bad))
            fprintf(stderr, "case %zu: %d %s\n", i, (int)st, msg);
        CHECK(st == cases[i].want && strstr(msg, cases[i].text) && strstr(msg, bad));
    }
    r.resume_path = "/nonexistent/x.ckpt";
    CHECK(resume_err(ctx, r) == SN_ERR_IO && strstr(msg, "/nonexistent/x.ckpt"));
    remove(bad);
}

/* ------------------------------------------------------------ options */
static void test_bad_options(sn_ctx *ctx) {
    struct {
        const char *field, *value, *text;
    } cases[] = {
        {"loss", "nosuch", "--loss nosuch"},       {"loss+miner", "multisim", "--miner does not apply"},
        {"miner", "bogus", "--miner bogus"},       {"distance", "manhattan", "--distance manhattan"},
        {"P", "9", "--classes-per-batch 9"},       {"pairsK", "", "apply to P x K"},
        {"schedule", "linear", "--schedule linear"}, {"ema", "", "--ema"},
        {"nesterov", "", "--nesterov"},            {"gamma", "", "--lr-step-epochs"},
        {"warmup", "", "--warmup-epochs"},         {"clip", "", "--clip-grad-norm"},
        {"optimizer", "rmsprop", "--optimizer rmsprop"}, {"temperature", "", "--temperature does not apply"},
        {"posmargin", "", "--pos-margin 2 must be below"},
        {"lookahead", "", "--lookahead 4: must be >= 0 steps, and not with --ema"},
        {"bnlr", "", "--bn-lr-scale -2"},            {"smooth", "", "--label-smoothing does not apply"},
        {"smooth1", "", "--label-smoothing 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sn_train_config c = base_cfg();
        const char *f = cases[i].field;
        if (!strcmp(f, "loss")) c.loss = cases[i].value;
        if (!strcmp(f, "loss+miner")) c.loss = cases[i].value, c.miner = "hard";
        if (!strcmp(f, "miner")) c.loss = "triplet", c.miner = cases[i].value;
        if (!strcmp(f, "distance")) c.loss = "triplet", c.distance = cases[i].value;
        if (!strcmp(f, "P")) c.loss = "triplet", c.classes_per_batch = 9;
        if (!strcmp(f, "pairsK")) c.per_class = 4;
        if (!strcmp(f, "schedule")) c.schedule = cases[i].value;
        if (!strcmp(f, "ema")) c.ema_decay = 1.5f;
        if (!strcmp(f, "nesterov")) c.nesterov = 1;
        if (!strcmp(f, "gamma")) c.lr_gamma = 0.5f;
        if (!strcmp(f, "warmup")) c.warmup_epochs = 7;
        if (!strcmp(f, "clip")) c.clip_grad_norm = -1;
        if (!strcmp(f, "optimizer")) c.optimizer = cases[i].value;
        if (!strcmp(f, "temperature")) c.loss = "triplet", c.temperature = 0.1f;
        if (!strcmp(f, "posmargin")) c.loss = "contrastive-pn", c.pos_margin = 2;
        if (!strcmp(f, "lookahead")) c.lookahead = 4, c.ema_decay = 0.9f;
        if (!strcmp(f, "bnlr")) c.bn_lr_scale = -2;
        if (!strcmp(f, "smooth")) c.loss = "triplet", c.label_smoothing = 0.1f;
        if (!strcmp(f, "smooth1")) c.loss = "softmax", c.label_smoothing = 1;
        sn_status st = resume_err(ctx, c);
        if (st != SN_ERR_ARG || !strstr(msg, cases[i].text)) fprintf(stderr, "case %s: %s\n", f, msg);
        CHECK(st == SN_ERR_ARG && strstr(msg, cases[i].text));
    }
}

/* ------------------------------------------------------------ health */
static void test_health(sn_ctx *ctx) {
    /* NaN in a weight: stop at step 1 with SN_ERR_NUMERIC and advice */
    sn_model *m = new_model(ctx);
    m->params[0] = NAN;
    sn_train_config c = base_cfg();
    CHECK(sn_train(ctx, m, &ds, NULL, &c) == SN_ERR_NUMERIC);
    CHECK(strstr(sn_ctx_error(ctx), "step 1") && strstr(sn_ctx_error(ctx), "--lr") &&
          strstr(sn_ctx_error(ctx), "--clip-grad-norm"));
    sn_model_free(m);
    /* all-zero weights: every embedding is 0 and stays there -> collapse warning */
    m = new_model(ctx);
    memset(m->params, 0, 4 * m->n_params);
    c.epochs = 1;
    c.lr = 1e-6f;
    warned = 0;
    sn_ctx_set_log(ctx, on_log, NULL);
    CHECK(sn_train(ctx, m, &ds, NULL, &c) == SN_OK);
    CHECK(warned == 1);
    sn_model_free(m);
    /* a healthy run does not warn */
    m = new_model(ctx);
    warned = 0;
    CHECK(sn_train(ctx, m, &ds, NULL, &c) == SN_OK && warned == 0);
    sn_ctx_set_log(ctx, NULL, NULL);
    sn_model_free(m);
}

typedef struct {
    sn_epoch_result r[4];
    int n;
} epochs_seen;
static void on_epoch(void *user, const sn_epoch_result *r) {
    epochs_seen *e = user;
    if (e->n < 4) e->r[e->n++] = *r;
}

static void test_clip_and_ema_in_training(sn_ctx *ctx) {
    /* SGD without momentum, lr 1, one step, gradient clipped to 1e-3: |dp| = 1e-3 */
    sn_model *m0 = new_model(ctx), *m = new_model(ctx);
    sn_train_config c = base_cfg();
    c.optimizer = "sgd";
    c.momentum = 0;
    c.lr = 1.0f;
    c.max_steps = 1;
    c.clip_grad_norm = 1e-3f;
    CHECK(sn_train(ctx, m, &ds, NULL, &c) == SN_OK);
    double d2 = 0;
    for (size_t i = 0; i < m->n_params; i++)
        d2 += ((double)m->params[i] - m0->params[i]) * ((double)m->params[i] - m0->params[i]);
    CHECK_CLOSE(sqrt(d2), 1e-3, 1e-3, 0);
    /* EMA 0.5 after one step = (p0 + p1) / 2 */
    sn_model *e = new_model(ctx);
    c.ema_decay = 0.5f;
    CHECK(sn_train(ctx, e, &ds, NULL, &c) == SN_OK);
    int ok = 1;
    for (size_t i = 0; i < m->n_params; i++)
        ok &= fabsf(e->params[i] - 0.5f * (m0->params[i] + m->params[i])) <= 1e-6f * (1 + fabsf(m->params[i]));
    CHECK(ok);
    sn_model_free(m0);
    sn_model_free(m);
    sn_model_free(e);
    /* health fields of the epoch result */
    m = new_model(ctx);
    c = base_cfg();
    c.loss = "triplet";
    c.epochs = 2;
    epochs_seen seen = {0};
    c.on_epoch = on_epoch;
    c.user = &seen;
    CHECK(sn_train(ctx, m, &ds, &ds, &c) == SN_OK && seen.n == 2);
    for (int i = 0; i < seen.n; i++) {
        const sn_epoch_result *r = &seen.r[i];
        CHECK(r->active_fraction >= 0 && r->active_fraction <= 1 && r->mean_pos_dist > 0 &&
              r->mean_neg_dist > 0 && r->mean_embed_norm > 0 && r->lr == 3e-3f && isfinite(r->test_loss));
    }
    CHECK(!strcmp(sn_model_meta_get(m, "loss"), "triplet") && !strcmp(sn_model_meta_get(m, "miner"), "all"));
    sn_model_free(m);
}

/* whiten init: the first D = C K K filters w_j = v_j / sqrt(l_j + eps) satisfy
 * W Sigma W^T = diag(l_j / (l_j + eps)) for Sigma the (uncentred) patch covariance of the
 * normalised images, computed here independently; the other D filters are -w_j. Training
 * then leaves the whiten weights and the `bn 1` gamma as they were, and moves the rest. */
static void test_whiten_and_frozen(sn_ctx *ctx) {
    arch = arch_whiten;
    sn_model *m = new_model(ctx);
    arch = NULL;
    const sn_layer *L = &m->layers[0];
    CHECK(L->kind == SN_LAYER_WHITEN && L->hp[0] == 8 && L->hp[1] == 2);
    CHECK(sn_model_whiten_init(ctx, m, &ds, 5000, 5e-4f) == SN_OK);
    enum { D = 4, K = 2 };
    double S[D][D] = {{0}};
    long P = 0;
    for (int i = 0; i < N; i++)
        for (int y = 0; y + K <= H; y++)
            for (int x = 0; x + K <= W; x++, P++) {
                double v[D];
                for (int k = 0; k < D; k++)
                    v[k] = (px[i * H * W + (y + k / K) * W + x + k % K] / 255.0 - 0.5) / 0.25;
                for (int a = 0; a < D; a++)
                    for (int b = 0; b < D; b++) S[a][b] += v[a] * v[b];
            }
    const float *w = m->params + L->p_off;
    double prev = 2, worst_off = 0, worst_neg = 0;
    for (int a = 0; a < D; a++)
        for (int b = 0; b < D; b++) {
            double q = 0;
            for (int r = 0; r < D; r++)
                for (int t = 0; t < D; t++) q += w[a * D + r] * S[r][t] / P * w[b * D + t];
            if (a != b) worst_off = fmax(worst_off, fabs(q));
            else {
                CHECK(q > 0 && q <= 1 + 1e-5 && q <= prev + 1e-5); /* l / (l + eps), l descending */
                prev = q;
            }
        }
    for (int k = 0; k < D * D; k++) worst_neg = fmax(worst_neg, fabs(w[D * D + k] + w[k]));
    CHECK(worst_off < 1e-5 && worst_neg == 0);
    for (int k = 0; k < 8; k++) CHECK(w[2 * D * D + k] == 0.0f); /* bias */
    CHECK(m->bufs[L->b_off] == 1.0f); /* done: a resumed or re-run train keeps these */
    /* a whiten layer not in front is refused with the layer named */
    sn_model_config mc = {.arch = "conv 3 3 1 1; whiten 2; flatten; linear 3", .in_c = 1, .in_h = H,
                          .in_w = W, .mean = {0.5f, 0, 0}, .std = {0.25f, 1, 1}, .seed = 5};
    sn_model *bad = NULL;
    if (sn_model_create(ctx, &mc, &bad) == SN_OK) {
        CHECK(sn_model_whiten_init(ctx, bad, &ds, 100, 5e-4f) == SN_ERR_ARG);
        CHECK(strstr(sn_ctx_error(ctx), "layer 2 (whiten) must be the first") != NULL);
        sn_model_free(bad);
    }

    /* groups of this model: whiten W frozen | whiten b, gelu, conv: 1 | bn 1 gamma frozen |
     * bn 1 beta: x4 | linear: 1 | bn gamma, beta: x4 | linear: 1 */
    sn_param_range g[SN_OPT_MAX_GROUPS];
    const int ng = sn_model_param_groups(m, 4.0f, g, SN_OPT_MAX_GROUPS);
    size_t at = 0;
    for (int k = 0; k < ng; k++) {
        CHECK(g[k].off == at);
        at += g[k].n;
    }
    CHECK(at == m->n_params && ng == 7);
    CHECK(g[0].n == 32 && g[0].lr_scale == 0 && g[2].lr_scale == 0 && g[3].lr_scale == 4.0f &&
          g[3].wd_scale == 0.25f && g[1].lr_scale == 1.0f);

    float *before = malloc(4 * m->n_params);
    memcpy(before, m->params, 4 * m->n_params);
    sn_train_config c = base_cfg();
    c.optimizer = "sgd";
    c.lr = 0.05f;
    c.weight_decay = 1e-3f;
    c.bn_lr_scale = 4.0f;
    c.epochs = 2;
    CHECK(sn_train(ctx, m, &ds, NULL, &c) == SN_OK);
    for (int k = 0; k < ng; k++) {
        const int same = !memcmp(before + g[k].off, m->params + g[k].off, 4 * g[k].n);
        if (same != (g[k].lr_scale == 0)) fprintf(stderr, "FAIL group %d (scale %g) same=%d\n", k,
                                                  (double)g[k].lr_scale, same);
        CHECK(same == (g[k].lr_scale == 0));
    }
    CHECK(m->params[g[2].off] == 1.0f); /* bn 1: gamma stays 1 */
    free(before);
    sn_model_free(m);
}

/* 1 and 2 threads give the same weights (the engine's reductions are in a fixed order) */
static void test_threads(void) {
    sn_model *m[2];
    for (int i = 0; i < 2; i++) {
        sn_ctx *c = sn_ctx_create(i + 1);
        m[i] = new_model(c);
        sn_train_config cfg = base_cfg();
        cfg.loss = "triplet";
        cfg.miner = "hard";
        cfg.epochs = 2;
        CHECK(sn_train(c, m[i], &ds, NULL, &cfg) == SN_OK);
        sn_ctx_free(c);
    }
    CHECK(memcmp(m[0]->params, m[1]->params, 4 * m[0]->n_params) == 0);
    sn_model_free(m[0]);
    sn_model_free(m[1]);
}

int main(void) {
    fill();
    sn_ctx *ctx = sn_ctx_create(2);
    test_optimizers(ctx);
    test_schedules();
    test_clip_ema();
    test_pk_batches(ctx);
    test_bad_options(ctx);
    test_health(ctx);
    test_clip_and_ema_in_training(ctx);
    test_resume(ctx);
    test_checkpoint_errors(ctx);
    test_whiten_and_frozen(ctx);
    test_threads();
    sn_ctx_free(ctx);
    return tu_finish("test_trainer");
}
