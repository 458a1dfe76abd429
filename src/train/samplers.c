/* samplers.c -- P x K class-balanced batches and offline triplets (see batcher.h). */
#include "train/batcher.h"

#include <string.h>

long sn_sampler_pk_epoch(const sn_class_index *ci, int P, int K, sn_rng *rng, int *idx,
                         long cap_batches) {
    const int nc = ci->n_classes;
    if (P < 1 || K < 1 || P > nc) return -1;
    /* queues: a shuffled copy of each class's members; left[c] images remain */
    int *q = malloc(sizeof(int) * (size_t)(ci->n > 0 ? ci->n : 1));
    int *left = calloc((size_t)nc, sizeof(int)), *pick = calloc((size_t)nc, sizeof(int));
    if (!q || !left || !pick) {
        free(q);
        free(left);
        free(pick);
        return -1;
    }
    memcpy(q, ci->members, sizeof(int) * (size_t)ci->n);
    long remaining = 0;
    for (int c = 0; c < nc; c++) {
        int lo = ci->offsets[c], cnt = ci->offsets[c + 1] - lo;
        sn_rng_shuffle_int(rng, q + lo, cnt);
        left[c] = cnt;
        remaining += cnt;
    }
    long nb = 0;
    while (remaining > 0) {
        if (nb >= cap_batches) {
            nb = -1;
            break;
        }
        /* choose P distinct classes: weighted by images left, then exhausted ones */
        int chosen = 0;
        long pool = remaining;
        memset(pick, 0, sizeof(int) * (size_t)nc);
        while (chosen < P && pool > 0) {
            long r = (long)sn_rng_below(rng, (uint32_t)pool);
            int c = 0;
            for (; c < nc; c++) {
                if (pick[c] || left[c] == 0) continue;
                if (r < left[c]) break;
                r -= left[c];
            }
            pick[c] = 1;
            pool -= left[c];
            int *dst = idx + (nb * P + chosen) * (long)K;
            int lo = ci->offsets[c], cnt = ci->offsets[c + 1] - lo;
            for (int k = 0; k < K; k++) {
                if (left[c] > 0) {
                    dst[k] = q[lo + cnt - left[c]];
                    left[c]--;
                    remaining--;
                } else {
                    dst[k] = ci->members[lo + (int)sn_rng_below(rng, (uint32_t)cnt)];
                }
            }
            chosen++;
        }
        while (chosen < P) { /* fill with random exhausted (non-empty) classes */
            int c = (int)sn_rng_below(rng, (uint32_t)nc);
            int lo = ci->offsets[c], cnt = ci->offsets[c + 1] - lo;
            if (pick[c] || cnt == 0) continue;
            pick[c] = 1;
            int *dst = idx + (nb * P + chosen) * (long)K;
            for (int k = 0; k < K; k++) dst[k] = ci->members[lo + (int)sn_rng_below(rng, (uint32_t)cnt)];
            chosen++;
        }
        nb++;
    }
    free(q);
    free(left);
    free(pick);
    return nb;
}

void sn_sampler_triplets(const sn_class_index *ci, sn_rng *rng, int *abc) {
    const int n = ci->n;
    int *order = abc; /* anchors in the first n slots temporarily */
    for (int i = 0; i < n; i++) order[i] = i;
    sn_rng_shuffle_int(rng, order, n);
    /* expand in place from the back so anchors are not overwritten before use */
    for (int i = n - 1; i >= 0; i--) {
        int a = order[i];
        /* label of a: find its class by binary search over offsets of its position */
        int lab = 0;
        for (int c = 0; c < ci->n_classes; c++) {
            int lo = ci->offsets[c], hi = ci->offsets[c + 1];
            /* members are sorted within a class */
            int l = lo, h = hi - 1;
            while (l <= h) {
                int mid = (l + h) / 2;
                if (ci->members[mid] == a) {
                    lab = c;
                    goto found;
                }
                if (ci->members[mid] < a) l = mid + 1;
                else h = mid - 1;
            }
        }
    found:
        abc[3 * i] = a;
        abc[3 * i + 1] = sn_pick_same(ci, a, lab, rng);
        abc[3 * i + 2] = sn_pick_diff(ci, lab, rng);
    }
}
