/* test_batcher.c -- batches: determinism with and without the loader thread, pair
 * labels, augmentation semantics, P x K sampler coverage, offline triplets. */
#include "testutil.h"
#include "train/batcher.h"

#include <string.h>

enum { N = 203, C = 1, H = 6, W = 5, NC = 7 };
static uint8_t px[N * C * H * W];
static int32_t lab[N];

static void fill(void) {
    for (int i = 0; i < N; i++) {
        lab[i] = (i * 5) % NC;
        for (int k = 0; k < C * H * W; k++) px[i * C * H * W + k] = (uint8_t)(i * 7 + k * 13);
    }
}

static void run(sn_ctx *ctx, const sn_dataset *ds, const sn_augment *aug, int prefetch, float *out,
                int *nb_out) {
    const float mean[3] = {0.5f, 0.5f, 0.5f}, sd[3] = {0.25f, 0.25f, 0.25f};
    sn_batcher *bt = NULL;
    CHECK(sn_batcher_create(ctx, ds, 16, 40, 99, mean, sd, aug, prefetch, &bt) == SN_OK);
    const float *x, *y;
    int b, k = 0;
    size_t per = 2 * 16 * C * H * W;
    while ((b = sn_batcher_next(bt, &x, &y)) > 0) {
        CHECK(b == 16);
        memcpy(out + (size_t)k * (per + 16), x, per * sizeof(float));
        memcpy(out + (size_t)k * (per + 16) + per, y, 16 * sizeof(float));
        /* pair labels: first half same, second half different */
        for (int j = 0; j < b; j++) CHECK(y[j] == (j < b / 2 ? 0.0f : 1.0f));
        k++;
    }
    *nb_out = k;
    CHECK(sn_batcher_steps_per_epoch(bt) == N / 16);
    sn_batcher_free(bt);
}

int main(void) {
    fill();
    sn_ctx *ctx = sn_ctx_create(1);
    sn_dataset ds = {N, C, H, W, NC, px, lab, "toy", NULL};
    size_t per = 2 * 16 * C * H * W + 16;
    float *a = malloc(40 * per * sizeof(float)), *b = malloc(40 * per * sizeof(float));
    int na, nb;
    sn_augment none = {0, 0, 0}, aug = {2, 1, 0.5f};
    run(ctx, &ds, &none, 0, a, &na);
    run(ctx, &ds, &none, 1, b, &nb);
    CHECK(na == 40 && nb == 40 && memcmp(a, b, 40 * per * sizeof(float)) == 0);
    /* without augmentation, anchors of epoch 1 are each image once, normalised exactly */
    int seen[N] = {0};
    for (int k = 0; k < N / 16; k++)
        for (int j = 0; j < 16; j++) {
            const float *row = a + (size_t)k * per + (size_t)j * C * H * W;
            int found = -1;
            for (int i = 0; i < N && found < 0; i++) {
                int eq = 1;
                for (int t = 0; t < C * H * W && eq; t++)
                    eq = row[t] == (float)px[i * C * H * W + t] * (1.0f / (255.0f * 0.25f)) - 2.0f;
                if (eq) found = i;
            }
            CHECK(found >= 0);
            if (found >= 0) seen[found]++;
        }
    int once = 0;
    for (int i = 0; i < N; i++) once += seen[i] == 1;
    CHECK(once == (N / 16) * 16);
    run(ctx, &ds, &aug, 0, a, &na);
    run(ctx, &ds, &aug, 1, b, &nb);
    CHECK(memcmp(a, b, 40 * per * sizeof(float)) == 0); /* augmentation deterministic */

    /* augmentation semantics on one image */
    uint8_t in[H * W], out[H * W];
    for (int k = 0; k < H * W; k++) in[k] = (uint8_t)(k + 1);
    sn_rng r;
    sn_rng_seed(&r, 1, 1);
    sn_augment_image(out, in, 1, H, W, &none, &r);
    CHECK(memcmp(in, out, sizeof in) == 0);
    sn_augment flip = {0, 1, 0};
    int flipped = 0, same = 0;
    for (int t = 0; t < 64; t++) {
        sn_augment_image(out, in, 1, H, W, &flip, &r);
        int is_flip = 1, is_same = memcmp(in, out, sizeof in) == 0;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) is_flip &= out[y * W + x] == in[y * W + (W - 1 - x)];
        flipped += is_flip;
        same += is_same;
        CHECK(is_flip || is_same);
    }
    CHECK(flipped > 10 && same > 10);
    sn_augment crop = {2, 0, 0};
    for (int t = 0; t < 64; t++) {
        sn_augment_image(out, in, 1, H, W, &crop, &r);
        /* every output pixel is 0 (padding) or the input shifted by one common offset */
        int ok = 0;
        for (int dy = -2; dy <= 2 && !ok; dy++)
            for (int dx = -2; dx <= 2 && !ok; dx++) {
                int match = 1;
                for (int y = 0; y < H && match; y++)
                    for (int x = 0; x < W && match; x++) {
                        int sy = y + dy, sx = x + dx;
                        int want = sy >= 0 && sy < H && sx >= 0 && sx < W ? in[sy * W + sx] : 0;
                        match = out[y * W + x] == want;
                    }
                ok = match;
            }
        CHECK(ok);
    }

    /* P x K sampler: every image exactly once from its queue, batches of P distinct classes */
    sn_class_index ci;
    CHECK(sn_class_index_build(ctx, &ci, lab, N, NC) == SN_OK);
    int *idx = malloc(sizeof(int) * 1000 * 4 * 3);
    long nbt = sn_sampler_pk_epoch(&ci, 4, 3, &r, idx, 1000);
    CHECK(nbt > 0);
    int cnt[N] = {0};
    for (long k = 0; k < nbt * 12; k++) cnt[idx[k]]++;
    int covered = 0;
    for (int i = 0; i < N; i++) covered += cnt[i] >= 1;
    CHECK(covered == N);
    for (long bi = 0; bi < nbt; bi++) {
        int cls[4];
        for (int p = 0; p < 4; p++) {
            cls[p] = lab[idx[bi * 12 + p * 3]];
            for (int k = 0; k < 3; k++) CHECK(lab[idx[bi * 12 + p * 3 + k]] == cls[p]);
            for (int q = 0; q < p; q++) CHECK(cls[q] != cls[p]);
        }
    }
    CHECK(nbt * 12 < N + 4 * 3 * NC + 12); /* top-ups stay bounded */
    CHECK(sn_sampler_pk_epoch(&ci, NC + 1, 2, &r, idx, 1000) == -1);
    CHECK(sn_sampler_pk_epoch(&ci, 4, 3, &r, idx, 2) == -1);
    /* triplets */
    int *abc = malloc(sizeof(int) * 3 * N);
    sn_sampler_triplets(&ci, &r, abc);
    int anchors[N] = {0};
    for (int i = 0; i < N; i++) {
        anchors[abc[3 * i]]++;
        CHECK(lab[abc[3 * i + 1]] == lab[abc[3 * i]] && abc[3 * i + 1] != abc[3 * i]);
        CHECK(lab[abc[3 * i + 2]] != lab[abc[3 * i]]);
    }
    for (int i = 0; i < N; i++) CHECK(anchors[i] == 1);
    sn_class_index_free(&ci);
    free(idx);
    free(abc);
    free(a);
    free(b);
    sn_ctx_free(ctx);
    return tu_finish("test_batcher");
}
