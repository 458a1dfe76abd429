/*
 * bench_seed.c -- simnet side of the seed-model speed benchmark.
 *
 * Trains the seed net through the public API (sn_train: pair sampling, forward on 2B
 * images, contrastive loss, backward, Adam) on MNIST-shaped data and reports pairs/s;
 * then embedding throughput (eval mode, batches of 256) in images/s.
 * Data: real MNIST train from $SIMNET_DATA when available, else fixed random images.
 * Output: RESULT lines as bench/peer_seed.py prints them.
 *
 *   bench_seed [--threads T] [--steps N] [--warmup W] [--batch-size B]
 */
#include "simnet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    int threads = 2, steps = 60, warmup = 5, B = 128;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps")) steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--warmup")) warmup = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch-size")) B = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "bench_seed: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    sn_ctx *ctx = sn_ctx_create(threads);
    sn_dataset *ds = NULL;
    const char *dir = getenv("SIMNET_DATA");
    static sn_dataset synth;
    if (!dir || sn_dataset_load(ctx, "mnist", dir, "train", &ds) != SN_OK) {
        synth.n = 8192;
        synth.c = 1;
        synth.h = synth.w = 28;
        synth.n_classes = 10;
        synth.pixels = malloc((size_t)synth.n * 784);
        synth.labels = malloc(sizeof(int32_t) * (size_t)synth.n);
        unsigned s = 12345;
        for (size_t i = 0; i < (size_t)synth.n * 784; i++) synth.pixels[i] = (uint8_t)((s = s * 1103515245u + 12345u) >> 24);
        for (int i = 0; i < synth.n; i++) synth.labels[i] = i % 10;
        strcpy(synth.name, "synthetic");
        ds = &synth;
    }
    sn_model_config mc = {"seed", 1, 28, 28, {0.1307f, 0.1307f, 0.1307f}, {0.3081f, 0.3081f, 0.3081f}, 1};
    sn_model *m = NULL;
    if (sn_model_create(ctx, &mc, &m)) {
        fprintf(stderr, "bench_seed: %s\n", sn_ctx_error(ctx));
        return 1;
    }
    sn_train_config cfg;
    sn_train_config_default(&cfg);
    cfg.batch_size = B;
    cfg.max_steps = warmup;
    if (sn_train(ctx, m, ds, NULL, &cfg)) {
        fprintf(stderr, "bench_seed: %s\n", sn_ctx_error(ctx));
        return 1;
    }
    cfg.max_steps = steps;
    double t0 = now();
    sn_train(ctx, m, ds, NULL, &cfg);
    double dt = now() - t0;
    printf("RESULT case=seed_train impl=simnet threads=%d value=%.1f unit=pairs/s data=%s\n", threads,
           (double)steps * B / dt, ds->name);

    int n = 256 * 40;
    if (n > ds->n) n = ds->n;
    float *e = malloc(sizeof(float) * 2 * (size_t)n);
    sn_model_embed(ctx, m, ds->pixels, 256, e); /* warm-up */
    t0 = now();
    sn_model_embed(ctx, m, ds->pixels, n, e);
    dt = now() - t0;
    printf("RESULT case=seed_embed impl=simnet threads=%d value=%.1f unit=images/s\n", threads, n / dt);
    free(e);
    sn_model_free(m);
    if (ds != &synth) sn_dataset_free(ds);
    sn_ctx_free(ctx);
    return 0;
}
