/* metrics_sort.c -- sorting and partial selection of uint64 keys for the metrics.
 *
 * Keys pack (float key << 32 | index) so one integer compare orders by distance and
 * breaks ties by index; no comparator calls in the hot loops. */
#include "eval/metrics.h"

#include <math.h>
#include <string.h>

uint32_t sn_metric_float_key(float x) {
    uint32_t u;
    if (x == 0.0f) x = 0.0f; /* -0 -> +0 */
    memcpy(&u, &x, sizeof u);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

static void sn__insertion_u64(uint64_t *a, size_t n) {
    for (size_t i = 1; i < n; i++) {
        uint64_t v = a[i];
        size_t j = i;
        while (j > 0 && a[j - 1] > v) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
    }
}

static void sn__sift_down_u64(uint64_t *a, size_t root, size_t n) {
    for (;;) {
        size_t c = 2 * root + 1;
        if (c >= n) return;
        if (c + 1 < n && a[c + 1] > a[c]) c++;
        if (a[root] >= a[c]) return;
        uint64_t t = a[root];
        a[root] = a[c];
        a[c] = t;
        root = c;
    }
}

static void sn__heapsort_u64(uint64_t *a, size_t n) {
    if (n < 2) return;
    for (size_t i = n / 2; i-- > 0;) sn__sift_down_u64(a, i, n);
    for (size_t end = n - 1; end > 0; end--) {
        uint64_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        sn__sift_down_u64(a, 0, end);
    }
}

/* Median-of-three pivot, Hoare partition. Returns p with a[0..p] <= pivot <= a[p+1..]. */
static size_t sn__partition_u64(uint64_t *a, size_t n) {
    size_t mid = n / 2;
    uint64_t x = a[0], y = a[mid], z = a[n - 1], pivot;
    if (x < y) pivot = (y < z) ? y : (x < z ? z : x);
    else pivot = (x < z) ? x : (y < z ? z : y);
    size_t i = 0, j = n - 1;
    for (;;) {
        while (a[i] < pivot) i++;
        while (a[j] > pivot) j--;
        if (i >= j) return j;
        uint64_t t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
    }
}

static void sn__introsort_u64(uint64_t *a, size_t n, int depth) {
    while (n > 24) {
        if (depth-- == 0) {
            sn__heapsort_u64(a, n);
            return;
        }
        size_t p = sn__partition_u64(a, n) + 1; /* [0,p) <= [p,n) */
        if (p < n - p) {
            sn__introsort_u64(a, p, depth);
            a += p;
            n -= p;
        } else {
            sn__introsort_u64(a + p, n - p, depth);
            n = p;
        }
    }
    sn__insertion_u64(a, n);
}

static int sn__depth_limit(size_t n) {
    int d = 0;
    while (n > 1) {
        n >>= 1;
        d++;
    }
    return 2 * d + 4;
}

void sn_metric_sort_u64(uint64_t *a, size_t n) {
    if (n < 2) return;
    sn__introsort_u64(a, n, sn__depth_limit(n));
}

void sn_metric_select_u64(uint64_t *a, size_t n, size_t k) {
    if (k == 0 || k >= n) return;
    int depth = sn__depth_limit(n);
    /* Invariant: the k smallest of the original array are a[0..k-1] once the window
     * [lo, hi) shrinks to nothing; everything left of lo is among them, right of hi not. */
    size_t lo = 0, hi = n;
    while (hi - lo > 24) {
        if (depth-- == 0) {
            sn_metric_sort_u64(a + lo, hi - lo);
            return;
        }
        size_t p = lo + sn__partition_u64(a + lo, hi - lo) + 1; /* [lo,p) <= [p,hi) */
        if (p == k) return;
        if (p < k) lo = p;
        else hi = p;
    }
    sn__insertion_u64(a + lo, hi - lo);
}

/* Stable LSD radix sort, 8-bit digits, skipping the bytes in which no key differs from
 * a[0] (top-k keys share most distance bits). tmp: (n) scratch. */
static void sn__radix_sort_u64(uint64_t *a, size_t n, uint64_t *tmp) {
    uint64_t diff = 0;
    for (size_t i = 1; i < n; i++) diff |= a[i] ^ a[0];
    uint64_t *src = a, *dst = tmp;
    for (int b = 0; b < 64; b += 8) {
        if (((diff >> b) & 0xffu) == 0) continue;
        size_t cnt[256] = {0};
        for (size_t i = 0; i < n; i++) cnt[(src[i] >> b) & 0xffu]++;
        size_t sum = 0;
        for (int d = 0; d < 256; d++) {
            size_t c = cnt[d];
            cnt[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) dst[cnt[(src[i] >> b) & 0xffu]++] = src[i];
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a) memcpy(a, src, n * sizeof *a);
}

void sn_metric_topk_u64(uint64_t *a, size_t n, size_t k, uint64_t *sample) {
    if (k > n) k = n;
    size_t m = n;
    if (n >= 2 * SN_METRIC_SAMPLE && 4 * k < n) {
        /* rank in the sample that lies above the k-th smallest with high probability:
         * expected S p plus 3 standard deviations of the binomial, p = k / n */
        size_t S = SN_METRIC_SAMPLE, stride = n / S;
        for (size_t s = 0; s < S; s++) sample[s] = a[s * stride];
        double p = (double)k / (double)n;
        size_t ks = (size_t)((double)S * p + 3.0 * sqrt((double)S * p * (1.0 - p)) + 2.0);
        if (ks >= S) ks = S - 1;
        sn_metric_select_u64(sample, S, ks + 1);
        uint64_t thr = 0;
        for (size_t s = 0; s <= ks; s++) thr = sample[s] > thr ? sample[s] : thr;
        /* branchless Lomuto pass: keys <= thr to the front, a stays a permutation */
        size_t c = 0;
        for (size_t j = 0; j < n; j++) {
            uint64_t v = a[j];
            a[j] = a[c];
            a[c] = v;
            c += v <= thr;
        }
        if (c >= k) m = c; /* else: unlucky sample, select over everything */
    }
    sn_metric_select_u64(a, m, k);
    /* a[k..n-1] is free now: use it as radix scratch when it is large enough */
    if (k >= 256 && n - k >= k) sn__radix_sort_u64(a, k, a + k);
    else sn_metric_sort_u64(a, k);
}
