/*
 * bench_loader.c -- training-batch preparation throughput on ONE thread: pair sampling,
 * augmentation (random crop with 4-pixel padding, flip, random erasing p=0.5) and
 * normalisation, as the loader thread does it. Prints images/s.
 *   bench_loader [--dataset cifar10] [--batches N]      (data from $SIMNET_DATA)
 */
#include "train/batcher.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    const char *name = "cifar10";
    int batches = 200;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--dataset")) name = argv[i + 1];
        else if (!strcmp(argv[i], "--batches")) batches = atoi(argv[i + 1]);
    }
    const char *dir = getenv("SIMNET_DATA");
    sn_ctx *ctx = sn_ctx_create(1);
    sn_dataset *ds = NULL;
    if (!dir || sn_dataset_load(ctx, name, dir, "train", &ds) != SN_OK) {
        fprintf(stderr, "bench_loader: needs $SIMNET_DATA with %s: %s\n", name, sn_ctx_error(ctx));
        return 77;
    }
    const float mean[3] = {0.49f, 0.48f, 0.45f}, sd[3] = {0.25f, 0.24f, 0.26f};
    sn_augment none = {0, 0, 0}, aug = {4, 1, 0.5f};
    const sn_augment *cases[2] = {&none, &aug};
    const char *labels[2] = {"none", "crop4+flip+erase0.5"};
    for (int c = 0; c < 2; c++) {
        sn_batcher *bt = NULL;
        if (sn_batcher_create(ctx, ds, 128, batches, 1, mean, sd, cases[c], 0, &bt)) {
            fprintf(stderr, "bench_loader: %s\n", sn_ctx_error(ctx));
            return 1;
        }
        const float *x, *y;
        double t0 = sn_now();
        long imgs = 0;
        int b;
        while ((b = sn_batcher_next(bt, &x, &y)) > 0) imgs += 2 * b;
        double dt = sn_now() - t0;
        printf("RESULT case=loader dataset=%s augment=%s threads=1 value=%.0f unit=images/s\n", name,
               labels[c], imgs / dt);
        sn_batcher_free(bt);
    }
    sn_dataset_free(ds);
    sn_ctx_free(ctx);
    return 0;
}
