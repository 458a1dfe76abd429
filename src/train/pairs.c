/* pairs.c -- class index and same/different pair sampling. */
#include "train/train.h"

#include <string.h>

sn_status sn_class_index_build(sn_ctx *ctx, sn_class_index *ci, const int32_t *labels, int n,
                               int n_classes) {
    memset(ci, 0, sizeof *ci);
    if (n < 1 || n_classes < 1) return sn_errf(ctx, SN_ERR_ARG, "empty dataset");
    ci->n = n;
    ci->n_classes = n_classes;
    ci->offsets = sn_calloc((size_t)n_classes + 1, sizeof(int));
    ci->members = sn_calloc((size_t)n, sizeof(int));
    if (!ci->offsets || !ci->members) {
        sn_class_index_free(ci);
        return sn_errf(ctx, SN_ERR_NOMEM, "out of memory indexing %d labels", n);
    }
    for (int i = 0; i < n; i++) {
        SN_ASSERT(labels[i] >= 0 && labels[i] < n_classes);
        ci->offsets[labels[i] + 1]++;
    }
    for (int c = 0; c < n_classes; c++) ci->offsets[c + 1] += ci->offsets[c];
    int *fill = sn_calloc((size_t)n_classes, sizeof(int));
    if (!fill) {
        sn_class_index_free(ci);
        return sn_errf(ctx, SN_ERR_NOMEM, "out of memory indexing %d labels", n);
    }
    for (int i = 0; i < n; i++) ci->members[ci->offsets[labels[i]] + fill[labels[i]]++] = i;
    free(fill);
    return SN_OK;
}

void sn_class_index_free(sn_class_index *ci) {
    free(ci->offsets);
    free(ci->members);
    ci->offsets = ci->members = NULL;
}

int sn_pick_same(const sn_class_index *ci, int anchor, int label, sn_rng *rng) {
    int lo = ci->offsets[label], cnt = ci->offsets[label + 1] - lo;
    if (cnt <= 1) return anchor;
    for (;;) {
        int j = ci->members[lo + (int)sn_rng_below(rng, (uint32_t)cnt)];
        if (j != anchor) return j;
    }
}

int sn_pick_diff(const sn_class_index *ci, int label, sn_rng *rng) {
    int lo = ci->offsets[label], cnt = ci->offsets[label + 1] - lo;
    int others = ci->n - cnt;
    if (others <= 0) return -1;
    int r = (int)sn_rng_below(rng, (uint32_t)others);
    return ci->members[r < lo ? r : r + cnt];
}

sn_status sn_make_pairs(sn_ctx *ctx, const int32_t *labels, int n, int n_classes, int n_pairs,
                        uint64_t seed, int *a, int *b, uint8_t *same) {
    sn_class_index ci;
    sn_status st = sn_class_index_build(ctx, &ci, labels, n, n_classes);
    if (st) return st;
    int *perm = sn_calloc((size_t)n, sizeof(int));
    if (!perm) {
        sn_class_index_free(&ci);
        return sn_errf(ctx, SN_ERR_NOMEM, "out of memory for %d pair anchors", n);
    }
    sn_rng rng;
    sn_rng_seed(&rng, seed, 0xba1a);
    /* Anchors are drawn WITHOUT replacement: a seeded permutation of the dataset,
     * reshuffled each time it is used up, so every image is an anchor once before any
     * is an anchor twice (lower variance than independent draws). Pair i < n_pairs/2
     * takes a same-class partner, the rest a different-class one. */
    for (int i = 0; i < n; i++) perm[i] = i;
    int half = n_pairs / 2;
    for (int i = 0; i < n_pairs; i++) {
        if (i % n == 0) sn_rng_shuffle_int(&rng, perm, n);
        int x = perm[i % n], y;
        if (i < half) {
            y = sn_pick_same(&ci, x, labels[x], &rng);
        } else {
            y = sn_pick_diff(&ci, labels[x], &rng);
            if (y < 0) {
                free(perm);
                sn_class_index_free(&ci);
                return sn_errf(ctx, SN_ERR_ARG, "different-class pairs need at least 2 classes");
            }
        }
        a[i] = x;
        b[i] = y;
        same[i] = labels[x] == labels[y];
    }
    free(perm);
    sn_class_index_free(&ci);
    return SN_OK;
}
