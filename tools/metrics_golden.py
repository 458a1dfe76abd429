#!/usr/bin/python3
"""metrics_golden.py -- golden values for tests/test_metrics.c.

Run with Debian's python3 + python3-numpy + python3-sklearn + python3-scipy:
    /usr/bin/python3 tools/metrics_golden.py > tests/golden/metrics_golden.txt

Data come from a 64-bit LCG that tests/test_metrics.c re-implements, and every value is
a small integer / 2^k, exact in float32, so C regenerates the inputs bit for bit and
computes all squared distances exactly. Verification metrics come from sklearn
(roc_auc_score, roc_curve + brentq for the EER); best accuracy, retrieval (P@1,
R-precision, MAP@R as pytorch-metric-learning's AccuracyCalculator, Recall@k), retrieval
against a separate reference set and k-NN voting are brute force in numpy, independent of
the C code. NMI / AMI come from sklearn (normalized_mutual_info_score,
adjusted_mutual_info_score, average_method="arithmetic") on LCG label pairs.
"""
import sys

import numpy as np
from scipy.optimize import brentq
from sklearn.metrics import (adjusted_mutual_info_score, normalized_mutual_info_score,
                             roc_auc_score, roc_curve)

MASK = (1 << 64) - 1


class Lcg:
    """state = state * 6364136223846793005 + 1442695040888963407 (mod 2^64); out = state >> 33"""

    def __init__(self, seed):
        self.s = seed & MASK

    def next(self):
        self.s = (self.s * 6364136223846793005 + 1442695040888963407) & MASK
        return self.s >> 33


def gen_pairs(seed, n, kind):
    g = Lcg(seed)
    dist = np.zeros(n, dtype=np.float32)
    same = np.zeros(n, dtype=np.int64)
    for i in range(n):
        a, b = g.next(), g.next()
        s = (a % 10 == 0) if kind == 3 else (a % 2 == 1)
        if kind == 0:
            d = ((b % 512) + (0 if s else 160)) / 64.0
        elif kind == 1:
            d = ((b % 8) + (0 if s else 3)) / 4.0
        elif kind == 2:
            d = (b % (600000 if s else 1048576)) / 1024.0
        else:
            d = ((b % 4096) + (0 if s else 1024)) / 256.0
        dist[i] = d
        same[i] = int(s)
    assert np.all(dist.astype(np.float64) == dist)
    return dist.astype(np.float64), same


def eer_sklearn(dist, same):
    fpr, tpr, thr = roc_curve(same, -dist, drop_intermediate=False)
    eer = brentq(lambda x: 1.0 - x - np.interp(x, fpr, tpr), 0.0, 1.0, xtol=1e-14)
    # threshold: same bracketing points on sklearn's ROC (index 0 = accept nothing)
    f = fpr - (1.0 - tpr)
    k = int(np.argmax(f >= 0.0))
    assert k >= 1
    if k == 1:
        t = -thr[1]
    else:
        s = -f[k - 1] / (f[k] - f[k - 1])
        t = -(thr[k - 1] + s * (thr[k] - thr[k - 1]))
        assert abs(eer - (fpr[k - 1] + s * (fpr[k] - fpr[k - 1]))) < 1e-10
    return eer, t


def best_acc_brute(dist, same):
    d = np.unique(dist)
    cands = [np.nextafter(d[0], -np.inf)] + list((d[:-1] + d[1:]) / 2.0) + [d[-1]]
    best, bt = -1.0, None
    for t in cands:  # ascending: strict > keeps the smallest threshold
        acc = np.mean((dist <= t) == (same == 1))
        if acc > best:
            best, bt = acc, t
    return best, bt


def tar_at_far(dist, same, far):
    fpr, tpr, _ = roc_curve(same, -dist, drop_intermediate=False)
    return float(np.max(tpr[fpr <= far]))


def gen_points(seed, n, dim, ncls, singletons):
    g = Lcg(seed)
    lab = np.zeros(n, dtype=np.int64)
    x = np.zeros((n, dim), dtype=np.float64)
    for i in range(n):
        u = g.next()
        lab[i] = u % ncls
        if singletons and (u >> 16) % 25 == 0:
            lab[i] = 1000 + i
        for c in range(dim):
            v = g.next() % 17
            x[i, c] = (v - 8 + (6 if c == lab[i] % dim else 0)) / 4.0
    return x, lab


def sqdist(a, b):
    return ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)


def retrieval_brute(x, lab):
    n = len(lab)
    D = sqdist(x, x)
    idx = np.arange(n)
    p1, rp, mapr = [], [], []
    for q in range(n):
        R = int(np.sum(lab == lab[q])) - 1
        if R < 1:
            continue
        mask = idx != q
        order = idx[mask][np.lexsort((idx[mask], D[q][mask]))]
        rel = (lab[order[:R]] == lab[q]).astype(np.float64)
        p1.append(rel[0])
        rp.append(rel.sum() / R)
        mapr.append(np.sum(np.cumsum(rel) / np.arange(1, R + 1) * rel) / R)
    return np.mean(p1), np.mean(rp), np.mean(mapr)


def retrieval_ex_brute(xq, lq, xr, lr, exclude_self):
    """P@1, R-precision, MAP@R, Recall@1/5/10 of queries against references; neighbours by
    (distance, reference index); R = same-label references (minus self); R = 0 skipped."""
    D = sqdist(xq, xr)
    idx = np.arange(len(lr))
    rows = []
    for q in range(len(lq)):
        mask = idx != q if exclude_self else np.ones(len(lr), dtype=bool)
        R = int(np.sum(lr[mask] == lq[q]))
        if R < 1:
            continue
        order = idx[mask][np.lexsort((idx[mask], D[q][mask]))]
        rel_all = lr[order] == lq[q]
        rel = rel_all[:R].astype(np.float64)
        first = int(np.argmax(rel_all))  # rank of the first same-label reference
        rows.append([rel[0], rel.sum() / R,
                     np.sum(np.cumsum(rel) / np.arange(1, R + 1) * rel) / R,
                     first < 1, first < 5, first < 10])
    rows = np.array(rows, dtype=np.float64)
    return len(rows), rows.mean(axis=0)


def gen_label_pair(seed, n, ka, kb, mode):
    """a = (u % ka) * 37 - 100; b = (a-class * 7 + 3) % kb with probability 3/4 in mode 1,
    else an independent (v >> 8) % kb."""
    g = Lcg(seed)
    a = np.zeros(n, dtype=np.int64)
    b = np.zeros(n, dtype=np.int64)
    for i in range(n):
        u, v = g.next(), g.next()
        ai = u % ka
        b[i] = (ai * 7 + 3) % kb if (mode == 1 and v % 4 != 0) else (v >> 8) % kb
        a[i] = ai * 37 - 100
    return a, b


def knn_brute(xq, lq, xr, lr, k):
    D = sqdist(xq, xr)
    idx = np.arange(len(lr))
    correct = 0
    for q in range(len(lq)):
        order = np.lexsort((idx, D[q]))[:k]
        votes = {}
        for j in order:  # neighbour order: sums of distances in that order
            c, s = votes.get(lr[j], (0, 0.0))
            votes[lr[j]] = (c + 1, s + float(np.sqrt(np.float64(np.float32(D[q, j])))))
        best = min(votes.items(), key=lambda kv: (-kv[1][0], kv[1][1], kv[0]))[0]
        correct += int(best == lq[q])
    return correct / len(lq)


def main():
    out = sys.stdout
    out.write("# metrics_golden.txt -- written by tools/metrics_golden.py; do not edit.\n")
    out.write("# verify seed n kind thr auc eer eer_thr best_acc best_thr acc_at_thr "
              "tar@far=0.01 tar@far=0.1\n")
    for seed, n, kind in [(1, 1000, 0), (2, 500, 1), (3, 2000, 2), (4, 37, 0), (5, 800, 3),
                          (6, 9, 1)]:
        dist, same = gen_pairs(seed, n, kind)
        thr = float(np.median(dist))
        auc = roc_auc_score(same, -dist)
        eer, eer_t = eer_sklearn(dist, same)
        ba, bt = best_acc_brute(dist, same)
        acc = float(np.mean((dist <= thr) == (same == 1)))
        vals = [thr, auc, eer, eer_t, ba, bt, acc, tar_at_far(dist, same, 0.01),
                tar_at_far(dist, same, 0.1)]
        out.write("verify %d %d %d %s\n" % (seed, n, kind, " ".join("%.17g" % v for v in vals)))
    out.write("# retrieval seed n dim ncls singletons p@1 r_precision map@r\n")
    for seed, n, dim, ncls, single in [(11, 300, 4, 5, 1), (12, 500, 8, 20, 1),
                                       (13, 200, 2, 3, 0), (14, 64, 3, 40, 1)]:
        x, lab = gen_points(seed, n, dim, ncls, single)
        vals = retrieval_brute(x, lab)
        out.write("retrieval %d %d %d %d %d %s\n" % (seed, n, dim, ncls, single,
                                                     " ".join("%.17g" % v for v in vals)))
    out.write("# knn seed nq nr dim ncls k accuracy (refs use seed + 100)\n")
    for seed, nq, nr, dim, ncls, k in [(21, 150, 400, 4, 6, 1), (22, 150, 400, 4, 6, 5),
                                       (23, 100, 90, 3, 4, 4), (24, 70, 300, 8, 10, 10)]:
        xq, lq = gen_points(seed, nq, dim, ncls, 0)
        xr, lr = gen_points(seed + 100, nr, dim, ncls, 0)
        out.write("knn %d %d %d %d %d %d %.17g\n" % (seed, nq, nr, dim, ncls, k,
                                                      knn_brute(xq, lq, xr, lr, k)))
    out.write("# retrieval_ex seed nq nr dim ncls q_singletons n_queries p@1 r_precision map@r "
              "recall@1 recall@5 recall@10 (refs: seed + 100, no singletons)\n")
    for seed, nq, nr, dim, ncls, single in [(41, 120, 400, 4, 6, 1), (42, 200, 150, 3, 4, 0),
                                            (43, 90, 700, 8, 25, 1), (44, 60, 12, 2, 3, 0)]:
        xq, lq = gen_points(seed, nq, dim, ncls, single)
        xr, lr = gen_points(seed + 100, nr, dim, ncls, 0)
        nu, v = retrieval_ex_brute(xq, lq, xr, lr, False)
        out.write("retrieval_ex %d %d %d %d %d %d %d %s\n" % (
            seed, nq, nr, dim, ncls, single, nu, " ".join("%.17g" % t for t in v)))
    out.write("# retrieval_self seed n dim ncls singletons n_queries p@1 r_precision map@r "
              "recall@1 recall@5 recall@10\n")
    for seed, n, dim, ncls, single in [(11, 300, 4, 5, 1), (51, 400, 6, 30, 1),
                                       (52, 9, 2, 3, 0)]:
        x, lab = gen_points(seed, n, dim, ncls, single)
        nu, v = retrieval_ex_brute(x, lab, x, lab, True)
        out.write("retrieval_self %d %d %d %d %d %d %s\n" % (
            seed, n, dim, ncls, single, nu, " ".join("%.17g" % t for t in v)))
    out.write("# nmi_ami seed n ka kb mode nmi ami (sklearn, arithmetic)\n")
    for seed, n, ka, kb, mode in [(31, 200, 5, 4, 1), (32, 500, 10, 10, 0), (33, 1000, 20, 8, 1),
                                  (34, 50, 3, 1, 0), (35, 30, 1, 1, 0), (36, 3000, 50, 60, 1),
                                  (37, 40, 40, 5, 0), (38, 7, 2, 3, 0), (39, 20000, 100, 100, 1)]:
        a, b = gen_label_pair(seed, n, ka, kb, mode)
        nmi = normalized_mutual_info_score(a, b, average_method="arithmetic")
        ami = adjusted_mutual_info_score(a, b, average_method="arithmetic")
        out.write("nmi_ami %d %d %d %d %d %.17g %.17g\n" % (seed, n, ka, kb, mode, nmi, ami))


if __name__ == "__main__":
    main()
