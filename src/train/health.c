/* health.c -- per-epoch training health statistics (see health.h). */
#include "train/health.h"

#include <math.h>
#include <stddef.h>


static double sum_sq(const float *x, int n) {
    double s = 0;
    for (int k = 0; k < n; k++) s += (double)x[k] * (double)x[k];
    return s;
}

/* Mean norm, total variance and mean squared norm of the rows of e (N,D); mu: (D). */
void sn_embed_stats(health *h, const float *e, int N, int D, double *mu) {
    double nrm = 0, msq = 0;
    for (int k = 0; k < D; k++) mu[k] = 0;
    for (int i = 0; i < N; i++) {
        const float *r = e + (size_t)i * D;
        double s = sum_sq(r, D);
        nrm += sqrt(s);
        msq += s;
        for (int k = 0; k < D; k++) mu[k] += r[k];
    }
    double musq = 0;
    for (int k = 0; k < D; k++) {
        mu[k] /= N;
        musq += mu[k] * mu[k];
    }
    h->norm += nrm / N;
    h->msq += msq / N;
    h->var += msq / N - musq > 0 ? msq / N - musq : 0;
}

/* Pair batch: d (b) distances, y (b) 0 same / 1 different. */
void sn_health_pairs(health *h, const float *d, const float *y, int b, float margin) {
    double ps = 0, ns = 0;
    int np = 0, nn = 0, act = 0;
    for (int i = 0; i < b; i++) {
        if (y[i] == 0.0f) {
            ps += d[i], np++;
            act += d[i] > 0.0f;
        } else {
            ns += d[i], nn++;
            act += d[i] < margin;
        }
    }
    h->active += (double)act / b;
    h->pos += np ? ps / np : 0;
    h->neg += nn ? ns / nn : 0;
    h->n++;
}

static void sort_floats(float *a, int n) { /* heapsort: no allocation */
    for (int start = n / 2 - 1, end = n;; ) {
        int root;
        if (start >= 0) {
            root = start--;
        } else {
            if (--end <= 0) break;
            float t = a[0];
            a[0] = a[end];
            a[end] = t;
            root = 0;
        }
        for (int child; (child = 2 * root + 1) < end; root = child) {
            if (child + 1 < end && a[child + 1] > a[child]) child++;
            if (a[root] >= a[child]) break;
            float t = a[root];
            a[root] = a[child];
            a[child] = t;
        }
    }
}

/* P x K batch: D (B,B) distances; a triplet (a,p,n) is active when D_ap - D_an + margin > 0.
 * tmp: (B). */
void sn_health_batch(health *h, const float *D, const int32_t *lab, int B, float margin,
                         float *tmp) {
    double ps = 0, ns = 0, act = 0, valid = 0;
    long np = 0, nn = 0;
    for (int a = 0; a < B; a++) {
        const float *r = D + (size_t)a * B;
        int nneg = 0;
        for (int j = 0; j < B; j++)
            if (lab[j] != lab[a]) {
                tmp[nneg++] = r[j];
                ns += r[j];
                nn++;
            }
        sort_floats(tmp, nneg);
        for (int p = 0; p < B; p++) {
            if (p == a || lab[p] != lab[a]) continue;
            ps += r[p], np++;
            if (!nneg) continue;
            float thr = r[p] + margin; /* count negatives with D_an < thr */
            int lo = 0, hi = nneg;
            while (lo < hi) {
                int mid = (lo + hi) / 2;
                if (tmp[mid] < thr) lo = mid + 1;
                else hi = mid;
            }
            act += lo;
            valid += nneg;
        }
    }
    h->active += valid > 0 ? act / valid : 0;
    h->pos += np ? ps / (double)np : 0;
    h->neg += nn ? ns / (double)nn : 0;
    h->n++;
}

