/* test_batcher.c -- batches: determinism with and without the loader thread, pair
 * labels, augmentation semantics, P x K sampler coverage, offline triplets. */
#include "testutil.h"
#include "data/data.h"
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
    sn_augment none = {0, 0, 0, 0, 0}, aug = {2, 1, 0.5f, 0, 0};
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
    sn_augment flip = {0, 1, 0, 0, 0};
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
    sn_augment crop = {2, 0, 0, 0, 0};
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

    /* affine warp: no turn and scale 1 is exactly the integer crop (and mirror) */
    for (int fl = 0; fl < 2; fl++)
        for (int dy = -2; dy <= 2; dy++)
            for (int dx = -2; dx <= 2; dx++) {
                sn_warp_image(out, in, 1, H, W, 0.0f, 1.0f, dy, dx, fl);
                int match = 1;
                for (int y = 0; y < H; y++)
                    for (int x = 0; x < W; x++) {
                        int sy = y + dy, sx = (fl ? W - 1 - x : x) + dx;
                        int want = sy >= 0 && sy < H && sx >= 0 && sx < W ? in[sy * W + sx] : 0;
                        match &= out[y * W + x] == want;
                    }
                CHECK(match);
            }
    {
        enum { S = 7 };
        uint8_t sq[2 * S * S], wq[2 * S * S]; /* 2 channels */
        for (int k = 0; k < 2 * S * S; k++) sq[k] = (uint8_t)(k * 5 + 1);
        /* a quarter turn (counter-clockwise on screen) is exact: out(y, x) = in(x, S-1-y) */
        sn_warp_image(wq, sq, 2, S, S, 1.5707963267948966f, 1.0f, 0, 0, 0);
        int quarter = 1;
        for (int c = 0; c < 2; c++)
            for (int y = 0; y < S; y++)
                for (int x = 0; x < S; x++)
                    quarter &= wq[(c * S + y) * S + x] == sq[(c * S + x) * S + (S - 1 - y)];
        CHECK(quarter);
        /* zoom 2 of a constant image: constant everywhere (the source stays inside);
         * zoom 0.5: the border, which samples outside, is 0 and the centre keeps its value */
        memset(sq, 200, sizeof sq);
        sn_warp_image(wq, sq, 2, S, S, 0.3f, 2.0f, 0, 0, 0);
        int flat = 1;
        for (int k = 0; k < 2 * S * S; k++) flat &= wq[k] == 200;
        CHECK(flat);
        sn_warp_image(wq, sq, 2, S, S, 0.0f, 0.5f, 0, 0, 0);
        CHECK(wq[0] == 0 && wq[S * S - 1] == 0 && wq[3 * S + 3] == 200 && wq[S * S + 3 * S + 3] == 200);
    }
    /* --rotate / --zoom in sn_augment_image: deterministic per stream, the mass of a
     * centred blob kept (a turn and a mild zoom), and the image changed */
    {
        enum { S = 15 };
        uint8_t blob[S * S], o1[S * S], o2[S * S];
        long mass = 0;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                int d2 = (y - 7) * (y - 7) + (x - 6) * (x - 6) / 4;
                blob[y * S + x] = d2 <= 9 ? 250 : 0; /* an ellipse, not turn-symmetric */
                mass += blob[y * S + x];
            }
        sn_augment rz = {0, 0, 0, 30.0f, 0.1f}, bad = {0, 0, 0, 181.0f, 0};
        int changed = 0;
        for (int t = 0; t < 32; t++) {
            sn_rng r1, r2;
            sn_rng_seed(&r1, 9, (uint64_t)t);
            sn_rng_seed(&r2, 9, (uint64_t)t);
            sn_augment_image(o1, blob, 1, S, S, &rz, &r1);
            sn_augment_image(o2, blob, 1, S, S, &rz, &r2);
            CHECK(memcmp(o1, o2, sizeof o1) == 0);
            long m = 0;
            for (int k = 0; k < S * S; k++) m += o1[k];
            CHECK(m > 0.75 * mass && m < 1.3 * mass); /* scale^2 in [0.81, 1.21] */
            changed += memcmp(o1, blob, sizeof blob) != 0;
        }
        CHECK(changed >= 30);
        sn_batcher *bb = NULL;
        const float mean1[3] = {0.5f, 0.5f, 0.5f}, std1[3] = {0.25f, 0.25f, 0.25f};
        CHECK(sn_batcher_create(ctx, &ds, 4, 1, 1, mean1, std1, &bad, 0, &bb) == SN_ERR_ARG && !bb);
        CHECK(strstr(sn_ctx_error(ctx), "--rotate must be in 0..180") != NULL);
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
