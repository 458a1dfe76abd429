/*
 * bench_seed.c -- simnet side of the speed benchmark (bench/run), one case per process.
 *
 *   bench_seed --case train|embed|latency|parity [--arch A] [--embed-dim D] [--width W]
 *              [--threads T] [--steps N] [--warmup W] [--batch-size B] [--reps R]
 *              [--precision fp32|bf16] [--embed-path fast|ref]
 *
 * --arch: a preset ("seed", "seed-relu", "resnet") or a text spec; the input shape follows
 * from it: 1x28x28 (MNIST from $SIMNET_DATA when present) for the seed nets, 3x32x32 for
 * everything else (CIFAR-10 from $SIMNET_DATA when present). Without data: fixed random
 * images of that shape (both sides of the benchmark use the same shapes).
 *
 * Cases (output: RESULT lines, the format bench/peer_seed.py prints):
 *   train    sn_train (pair sampling + loader thread, one forward of 2B images, contrastive
 *            loss, backward, Adam) for N steps of B pairs after W warm-up steps:
 *            pairs/s and images/s; the process's peak RSS against the bytes the plan must
 *            hold (params + grads + Adam m, v + activations + their gradients + scratch).
 *   embed    sn_model_embed of B images (eval mode), repeated: images/s. --embed-path ref:
 *            the reference path instead (sn_model_embed_ref: the training-path forward in
 *            eval mode, what sn_model_embed was before src/nn/infer.c), for A/B runs.
 *   latency  compare two images in process: sn_model_embed(n = 2) + Euclidean distance,
 *            R times: p50 / p99 / mean in microseconds.
 *   parity   the same N training steps in fp32 and with bf16 convolutions
 *            (sn_model_set_precision), then test-split metrics of both (needs $SIMNET_DATA).
 * Every RESULT line carries the architecture's forward FLOP per image (conv + linear
 * multiply-adds x 2) so bench/run can compute the share of the FMA peak.
 * Each line also records the 1-minute load average at the start of the case.
 */
#define _GNU_SOURCE
#include "nn/infer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds of the whole process (all threads): on a loaded machine wall time says
 * little; images per CPU second of a 1-thread run is the kernel-work figure. */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double loadavg(void) {
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1;
        fclose(f);
    }
    return l;
}

/* VmHWM / VmRSS of this process in bytes (0 if unavailable). */
static double proc_status_bytes(const char *key) {
    char line[256];
    double v = 0;
    size_t kl = strlen(key);
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == ':') {
            v = atof(line + kl + 1) * 1024.0;
            break;
        }
    fclose(f);
    return v;
}

/* Forward FLOP per image: 2 x multiply-adds of conv and linear layers. */
static double forward_flop(const sn_model *m) {
    double macs = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const sn_layer *L = &m->layers[i];
        const double in = (double)L->in[0] * L->in[1] * L->in[2];
        const double out = (double)L->out[0] * L->out[1] * L->out[2];
        if (L->kind == SN_LAYER_CONV2D) macs += out * L->in[0] * L->hp[1] * L->hp[1];
        else if (L->kind == SN_LAYER_LINEAR) macs += in * L->hp[0];
    }
    return 2 * macs;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void fail(sn_ctx *ctx, const char *what) {
    fprintf(stderr, "bench_seed: %s: %s\n", what, sn_ctx_error(ctx));
    exit(1);
}

int main(int argc, char **argv) {
    const char *kase = "train", *arch = "seed", *precision = "fp32", *epath = "fast";
    int threads = 2, steps = 60, warmup = 5, B = -1, embed_dim = 0, reps = 2000;
    float width = 0;
    for (int i = 1; i < argc; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "bench_seed: option %s needs a value\n", k);
            return 2;
        }
        if (!strcmp(k, "--case")) kase = v;
        else if (!strcmp(k, "--arch")) arch = v;
        else if (!strcmp(k, "--threads")) threads = atoi(v);
        else if (!strcmp(k, "--steps")) steps = atoi(v);
        else if (!strcmp(k, "--warmup")) warmup = atoi(v);
        else if (!strcmp(k, "--batch-size")) B = atoi(v);
        else if (!strcmp(k, "--embed-dim")) embed_dim = atoi(v);
        else if (!strcmp(k, "--width")) width = (float)atof(v);
        else if (!strcmp(k, "--reps")) reps = atoi(v);
        else if (!strcmp(k, "--precision")) precision = v;
        else if (!strcmp(k, "--embed-path")) epath = v;
        else {
            fprintf(stderr, "bench_seed: unknown option %s\n", k);
            return 2;
        }
    }
    const int mnist = !strcmp(arch, "seed") || !strcmp(arch, "seed-relu");
    const int C = mnist ? 1 : 3, HW = mnist ? 28 : 32;
    if (B < 0) B = !strcmp(kase, "train") ? 128 : 1024;
    const int ref = !strcmp(epath, "ref");
    if (threads < 1 || steps < 1 || warmup < 0 || B < 2 || reps < 1 ||
        (!ref && strcmp(epath, "fast"))) {
        fprintf(stderr, "bench_seed: bad numeric option\n");
        return 2;
    }
    const double load0 = loadavg();
    sn_ctx *ctx = sn_ctx_create(threads);
    if (!ctx) return 1;

    /* data: the real training split when available, else fixed random images */
    sn_dataset *ds = NULL;
    static sn_dataset synth;
    const char *dir = getenv("SIMNET_DATA");
    if (!dir || sn_dataset_load(ctx, mnist ? "mnist" : "cifar10", dir, "train", &ds) != SN_OK) {
        ds = &synth;
        synth.n = 8192;
        synth.c = C;
        synth.h = synth.w = HW;
        synth.n_classes = 10;
        const size_t npx = (size_t)synth.n * C * HW * HW;
        synth.pixels = malloc(npx);
        synth.labels = malloc(sizeof(int32_t) * (size_t)synth.n);
        if (!synth.pixels || !synth.labels) return 1;
        unsigned s = 12345;
        for (size_t i = 0; i < npx; i++) synth.pixels[i] = (uint8_t)((s = s * 1103515245u + 12345u) >> 24);
        for (int i = 0; i < synth.n; i++) synth.labels[i] = i % 10;
        strcpy(synth.name, "synthetic");
    }
    const double rss_data = proc_status_bytes("VmRSS");

    sn_model_config mc = {0};
    mc.arch = arch;
    mc.in_c = C;
    mc.in_h = mc.in_w = HW;
    for (int c = 0; c < 3; c++) {
        mc.mean[c] = mnist ? 0.1307f : 0.48f;
        mc.std[c] = mnist ? 0.3081f : 0.25f;
    }
    mc.seed = 1;
    mc.embed_dim = embed_dim;
    mc.width = width;
    sn_model *m = NULL;
    if (sn_model_create(ctx, &mc, &m)) fail(ctx, "model");
    if (sn_model_set_precision(ctx, m, precision)) fail(ctx, "precision");
    const double flop = forward_flop(m);
    printf("# arch=%s spec: %s\n", arch, m->spec);
    printf("# params=%zu forward=%.2f MFLOP/image input=%d,%d,%d data=%s load=%.2f\n", m->n_params,
           flop * 1e-6, C, HW, HW, ds->name, load0);
    char tag[256];
    snprintf(tag, sizeof tag, "arch=%s embed_dim=%d width=%g threads=%d precision=%s", arch,
             m->embed_dim, width > 0 ? (double)width : 1.0, threads, precision);

    if (!strcmp(kase, "train")) {
        sn_train_config cfg;
        sn_train_config_default(&cfg);
        cfg.batch_size = B;
        cfg.max_steps = warmup > 0 ? warmup : 1;
        if (sn_train(ctx, m, ds, NULL, &cfg)) fail(ctx, "train (warm-up)");
        cfg.max_steps = steps;
        cfg.seed = 2;
        double t0 = now();
        if (sn_train(ctx, m, ds, NULL, &cfg)) fail(ctx, "train");
        double dt = now() - t0;
        const double pps = (double)steps * B / dt;
        printf("# train: %d steps of %d pairs (%d images) in %.3f s (%.2f ms/step)\n", steps, B,
               2 * B, dt, 1e3 * dt / steps);
        printf("RESULT case=train %s impl=simnet value=%.1f unit=pairs/s images_per_s=%.1f "
               "flop_per_image=%.4g batch=%d load=%.2f\n",
               tag, pps, 2 * pps, 3 * flop, B, load0);
        /* memory: what the plan must hold vs what the process peaked at */
        const double np = (double)m->n_params * sizeof(float);
        const double act = (double)m->act_floats * sizeof(float);
        const double scr = (double)m->scratch_floats * sizeof(float);
        const double plan = np /* params */ + np /* grads */ + 2 * np /* Adam m, v */ +
                            2 * act /* activations + their gradients */ + scr;
        const double hwm = proc_status_bytes("VmHWM");
        printf("# memory: params %.1f MB, grads %.1f MB, Adam %.1f MB, activations %.1f MB + "
               "gradients %.1f MB, scratch %.1f MB; data + libraries before the model %.1f MB\n",
               np / 1e6, np / 1e6, 2 * np / 1e6, act / 1e6, act / 1e6, scr / 1e6, rss_data / 1e6);
        printf("RESULT case=memory %s impl=simnet value=%.1f unit=MB plan_mb=%.1f base_mb=%.1f "
               "batch=%d load=%.2f\n",
               tag, hwm / 1e6, plan / 1e6, rss_data / 1e6, B, load0);
    } else if (!strcmp(kase, "embed")) {
        const size_t img = (size_t)C * HW * HW;
        const int n = B;
        uint8_t *px = malloc(img * (size_t)n);
        float *e = malloc(sizeof(float) * (size_t)m->embed_dim * (size_t)n);
        if (!px || !e) return 1;
        for (int i = 0; i < n; i++) memcpy(px + (size_t)i * img, ds->pixels + (size_t)(i % ds->n) * img, img);
        sn_status (*embed)(sn_ctx *, sn_model *, const uint8_t *, int, float *) =
            ref ? sn_model_embed_ref : sn_model_embed;
        if (embed(ctx, m, px, n, e)) fail(ctx, "embed"); /* warm-up (plans) */
        const int r = steps;
        double t0 = now(), c0 = cpu_now();
        for (int k = 0; k < r; k++) embed(ctx, m, px, n, e);
        double dt = now() - t0, dc = cpu_now() - c0;
        printf("# embed: %d x %d images in %.3f s wall, %.3f s CPU (%.1f images per CPU second)\n",
               r, n, dt, dc, (double)r * n / dc);
        printf("RESULT case=embed %s impl=simnet%s value=%.1f unit=images/s flop_per_image=%.4g "
               "batch=%d load=%.2f\n",
               tag, ref ? " path=ref" : "", (double)r * n / dt, flop, n, load0);
        free(px);
        free(e);
    } else if (!strcmp(kase, "latency")) {
        const size_t img = (size_t)C * HW * HW;
        const int D = m->embed_dim;
        uint8_t *px = malloc(2 * img);
        float *e = malloc(sizeof(float) * 2 * (size_t)D);
        double *t = malloc(sizeof(double) * (size_t)reps);
        if (!px || !e || !t) return 1;
        volatile double sink = 0;
        for (int k = -50; k < reps; k++) { /* 50 warm-up comparisons */
            const int a = (k + 50) % ds->n, b = (k + 51 + ds->n / 2) % ds->n;
            memcpy(px, ds->pixels + (size_t)a * img, img);
            memcpy(px + img, ds->pixels + (size_t)b * img, img);
            double t0 = now();
            if ((ref ? sn_model_embed_ref : sn_model_embed)(ctx, m, px, 2, e)) fail(ctx, "embed");
            double d2 = 0;
            for (int j = 0; j < D; j++) d2 += (double)(e[j] - e[D + j]) * (e[j] - e[D + j]);
            sink += sqrt(d2);
            if (k >= 0) t[k] = now() - t0;
        }
        qsort(t, (size_t)reps, sizeof *t, cmp_double);
        double mean = 0;
        for (int k = 0; k < reps; k++) mean += t[k];
        mean /= reps;
        const double p50 = t[reps / 2], p99 = t[(int)(0.99 * (reps - 1))];
        printf("RESULT case=latency %s impl=simnet value=%.1f unit=us p99_us=%.1f mean_us=%.1f "
               "reps=%d load=%.2f\n",
               tag, 1e6 * p50, 1e6 * p99, 1e6 * mean, reps, load0);
        free(px);
        free(e);
        free(t);
    } else if (!strcmp(kase, "parity")) {
        /* the same training (same init, same pairs) in fp32 and in bf16, then the test
         * metrics of both: bf16 must stay within a few tenths of a point of fp32 */
        sn_dataset *test = NULL;
        if (!dir || sn_dataset_load(ctx, mnist ? "mnist" : "cifar10", dir, "test", &test) != SN_OK) {
            fprintf(stderr, "bench_seed: parity needs $SIMNET_DATA (the test split)\n");
            return 77;
        }
        sn_eval_opts eo;
        sn_eval_opts_default(&eo);
        eo.episodes = 0;
        eo.clustering = 0;
        double acc[2] = {0}, auc[2] = {0}, p1[2] = {0};
        for (int k = 0; k < 2; k++) {
            sn_model *mk = NULL;
            if (sn_model_create(ctx, &mc, &mk)) fail(ctx, "model");
            if (sn_model_set_precision(ctx, mk, k ? "bf16" : "fp32")) fail(ctx, "precision");
            sn_train_config cfg;
            sn_train_config_default(&cfg);
            cfg.batch_size = B;
            cfg.max_steps = steps;
            double t0 = now();
            if (sn_train(ctx, mk, ds, NULL, &cfg)) fail(ctx, "train");
            double dt = now() - t0;
            sn_eval_result r;
            if (sn_evaluate(ctx, mk, test, NULL, &eo, &r)) fail(ctx, "evaluate");
            acc[k] = r.best_accuracy, auc[k] = r.roc_auc, p1[k] = r.precision_at_1;
            printf("RESULT case=parity %s run=%s steps=%d value=%.4f unit=pair_accuracy "
                   "roc_auc=%.4f precision_at_1=%.4f train_s=%.2f load=%.2f\n",
                   tag, k ? "bf16" : "fp32", steps, acc[k], auc[k], p1[k], dt, load0);
            sn_model_free(mk);
        }
        printf("# bf16 - fp32: pair accuracy %+.2f points, ROC AUC %+.4f, precision@1 %+.2f points\n",
               100 * (acc[1] - acc[0]), auc[1] - auc[0], 100 * (p1[1] - p1[0]));
        sn_dataset_free(test);
    } else {
        fprintf(stderr, "bench_seed: unknown case %s (train, embed, latency, parity)\n", kase);
        return 2;
    }
    sn_model_free(m);
    if (ds != &synth) sn_dataset_free(ds);
    else {
        free(synth.pixels);
        free(synth.labels);
    }
    sn_ctx_free(ctx);
    return 0;
}
