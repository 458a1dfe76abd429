#!/usr/bin/python3
"""PyTorch reference training + evaluation for the simnet "seed" Siamese network.

Trains the same model with the same recipe as the simnet CLI and prints the same
metrics; it is the reference for the acceptance bar.

    /usr/bin/python3 tools/reference_train.py [--data DIR] [--epochs 5] [--batch-size 128]
        [--lr 1e-3] [--seed 1] [--threads 2] [--val-size 2000] [--json FILE]

Recipe
  * data: DIR/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz, pixels
    (x/255 - 0.1307) / 0.3081.
  * a seeded permutation (numpy default_rng(seed)) holds out --val-size train images
    as validation; the remaining 58,000 are the training pool.
  * every epoch the pool is shuffled and cut into batches of B anchors (the final
    incomplete batch is dropped). Anchor k < B/2 gets a partner of the same class
    (uniform over that class in the pool, never itself); anchor k >= B/2 gets a
    partner of a different class (other class uniform among the 9, then an image
    uniform within it). y = 0 same, 1 different.
  * one forward of torch.cat([anchors, partners]) (BN statistics over all 2B images),
    contrastive loss with margin 5, Adam(lr) with PyTorch defaults.
  * after each epoch: "epoch E train_loss X test_loss Y", train_loss = mean batch loss
    of the epoch, test_loss = eval-mode loss over 10,000 fixed test pairs (50/50,
    rng seed 777), averaged over pairs.
Evaluation (eval mode, after training)
  * verification: 10,000 balanced random test pairs (5,000 same, 5,000 different,
    i != j, rng seed 12345); score = -euclidean distance. roc_auc (sklearn), eer
    (point of the ROC curve where FPR and FNR are closest, their mean),
    best_accuracy (accuracy at the best threshold on these test pairs),
    verification_accuracy (accuracy on the test pairs with the best-accuracy
    threshold found on 10,000 balanced validation pairs, rng seed 54321;
    predicted "same" iff distance <= threshold).
  * retrieval, test as queries and as references, self excluded, Euclidean:
    precision_at_1, r_precision, mean_average_precision_at_r, as in
    pytorch-metric-learning's AccuracyCalculator (k=None, i.e. all references,
    avg_of_avgs=False; R = number of other test images of the query's class).
  * knn_accuracy: 1-NN class of each test image among the 58,000 training-pool
    images.
  * pairs_per_s = training pairs / training seconds (training loop only, without the
    per-epoch test loss); seconds = those training seconds. total_seconds = whole run.
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn

MEAN, STD = 0.1307, 0.3081
MARGIN = 5.0


def build_model():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding=0), nn.BatchNorm2d(128), nn.AvgPool2d(5),
        nn.Flatten(), nn.Linear(128, 64), nn.BatchNorm1d(64), nn.Linear(64, 2))


def contrastive_loss(e1, e2, y, margin=MARGIN, reduce=True):
    d2 = ((e1 - e2) ** 2).sum(1)
    d = torch.sqrt(d2)
    per = (1 - y) * d2 + y * torch.clamp(margin - d, min=0) ** 2
    return per.mean() if reduce else per


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = struct.unpack(">I", raw[:4])[0] & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(data, prefix):
    d = os.path.join(data, "mnist")
    x = read_idx(os.path.join(d, prefix + "-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(d, prefix + "-labels-idx1-ubyte.gz")).astype(np.int64)
    x = torch.from_numpy(((x.astype(np.float32) / 255.0 - MEAN) / STD).astype(np.float32))
    return x.unsqueeze(1).contiguous(), y


def balanced_pairs(labels, n, seed):
    """n/2 same-class pairs (i != j) and n/2 different-class pairs, indices into labels."""
    rng = np.random.default_rng(seed)
    by_class = [np.nonzero(labels == c)[0] for c in range(10)]
    half = n // 2
    a = rng.integers(0, len(labels), size=half)
    b = np.empty(half, np.int64)
    for k, i in enumerate(a):
        cl = by_class[labels[i]]
        j = i
        while j == i:
            j = cl[rng.integers(0, len(cl))]
        b[k] = j
    c = rng.integers(0, len(labels), size=n - half)
    d = np.empty(n - half, np.int64)
    for k, i in enumerate(c):
        oc = (labels[i] + rng.integers(1, 10)) % 10
        d[k] = by_class[oc][rng.integers(0, len(by_class[oc]))]
    i1 = np.concatenate([a, c])
    i2 = np.concatenate([b, d])
    y = np.concatenate([np.zeros(half), np.ones(n - half)]).astype(np.float32)
    return i1, i2, y


@torch.no_grad()
def embed(model, x, bs=1000):
    model.eval()
    return torch.cat([model(x[i:i + bs]) for i in range(0, len(x), bs)])


def best_threshold(dist, same):
    """Threshold t maximising accuracy of (dist <= t) == same; returns (t, acc)."""
    order = np.argsort(dist, kind="stable")
    d, s = dist[order], same[order].astype(np.int64)
    n, n_pos = len(d), s.sum()
    # predicting "same" for the first k sorted pairs: correct = TP(k) + TN(k)
    tp = np.concatenate([[0], np.cumsum(s)])
    fp = np.arange(n + 1) - tp
    correct = tp + (n - n_pos - fp)
    # only cut between distinct distances
    valid = np.ones(n + 1, bool)
    valid[1:n] = d[1:] > d[:-1]
    correct = np.where(valid, correct, -1)
    k = int(np.argmax(correct))
    if k == 0:
        t = d[0] - 1.0
    elif k == n:
        t = d[-1] + 1.0
    else:
        t = 0.5 * (d[k - 1] + d[k])
    return float(t), correct[k] / n


def verification(emb, labels, i1, i2, y, thr_val):
    from sklearn.metrics import roc_auc_score, roc_curve
    dist = torch.sqrt(((emb[i1] - emb[i2]) ** 2).sum(1)).double().numpy()
    same = (y == 0)
    auc = roc_auc_score(same, -dist)
    fpr, tpr, _ = roc_curve(same, -dist)
    fnr = 1 - tpr
    k = int(np.argmin(np.abs(fnr - fpr)))
    eer = 0.5 * (fpr[k] + fnr[k])
    _, best_acc = best_threshold(dist, same)
    ver_acc = float(np.mean((dist <= thr_val) == same))
    return dict(roc_auc=float(auc), eer=float(eer), best_accuracy=float(best_acc),
                verification_accuracy=ver_acc)


def pair_dist(q, r):
    """Euclidean distances, float32 (torch.cdist, direct differences for small dims)."""
    return torch.cdist(q.float(), r.float(), compute_mode="donot_use_mm_for_euclid_dist")


def retrieval(emb, labels, chunk=500):
    """AccuracyCalculator (pml) precision_at_1, r_precision, mean_average_precision_at_r
    with query == reference set (self excluded), k = all references."""
    lab = torch.from_numpy(labels)
    counts = torch.bincount(lab, minlength=10)
    R_all = counts[lab] - 1                  # relevant references per query
    rmax = int(R_all.max())
    p1, rp, mapr = [], [], []
    for s in range(0, len(emb), chunk):
        q = emb[s:s + chunk]
        dist = pair_dist(q, emb)
        idx = torch.arange(s, s + len(q))
        dist[torch.arange(len(q)), idx] = float("inf")
        # the rmax nearest references, nearest first (tie order unspecified, as in pml)
        order = torch.topk(dist, rmax, dim=1, largest=False, sorted=True).indices
        same = (lab[order] == lab[idx][:, None])
        R = R_all[idx]
        rel = torch.arange(rmax)[None, :] < R[:, None]
        eq = same & rel
        p1.append(same[:, 0].double())
        rp.append(eq.sum(1).double() / R.double())
        cum = torch.cumsum(eq.long(), 1).double()
        prec = cum * eq.double() / torch.arange(1, rmax + 1, dtype=torch.float64)[None, :]
        mapr.append(prec.sum(1) / R.double())
    return dict(precision_at_1=float(torch.cat(p1).mean()),
                r_precision=float(torch.cat(rp).mean()),
                mean_average_precision_at_r=float(torch.cat(mapr).mean()))


def knn_accuracy(q, q_lab, ref, ref_lab, chunk=500):
    ref_lab = torch.from_numpy(ref_lab)
    pred = []
    for s in range(0, len(q), chunk):
        pred.append(ref_lab[pair_dist(q[s:s + chunk], ref).argmin(1)])
    return float((torch.cat(pred).numpy() == q_lab).mean())


@torch.no_grad()
def pair_loss(model, x, i1, i2, y, bs=1000):
    model.eval()
    tot = 0.0
    for s in range(0, len(i1), bs):
        e1 = model(x[i1[s:s + bs]])
        e2 = model(x[i2[s:s + bs]])
        tot += contrastive_loss(e1, e2, torch.from_numpy(y[s:s + bs]), reduce=False).double().sum().item()
    return tot / len(i1)


def main():
    ap = argparse.ArgumentParser(description="PyTorch reference for simnet seed training")
    ap.add_argument("--data", default=os.environ.get("SIMNET_DATA", "/work/shared/data"))
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--val-size", type=int, default=2000)
    ap.add_argument("--max-batches", type=int, default=0,
                    help="stop each epoch after this many batches (0 = all; for smoke tests)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    t_start = time.time()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    xtr_all, ytr_all = load_split(args.data, "train")
    xte, yte = load_split(args.data, "t10k")
    perm = rng.permutation(len(ytr_all))
    val_idx, pool = perm[:args.val_size], np.sort(perm[args.val_size:])
    xval, yval = xtr_all[val_idx], ytr_all[val_idx]
    xtr, ytr = xtr_all[pool].contiguous(), ytr_all[pool]
    by_class = [np.nonzero(ytr == c)[0] for c in range(10)]
    print("train pool %d, validation %d, test %d" % (len(ytr), len(yval), len(yte)))

    model = build_model()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    B = args.batch_size
    h = B // 2
    tl_i1, tl_i2, tl_y = balanced_pairs(yte, 10000, 777)

    train_seconds, train_pairs = 0.0, 0
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = rng.permutation(len(ytr))
        nb = len(order) // B
        if args.max_batches:
            nb = min(nb, args.max_batches)
        t0 = time.time()
        loss_sum = 0.0
        for bi in range(nb):
            a = order[bi * B:(bi + 1) * B]
            la = ytr[a]
            p = np.empty(B, np.int64)
            for k in range(B):
                if k < h:
                    cl = by_class[la[k]]
                    j = a[k]
                    while j == a[k]:
                        j = cl[rng.integers(0, len(cl))]
                else:
                    oc = (la[k] + rng.integers(1, 10)) % 10
                    j = by_class[oc][rng.integers(0, len(by_class[oc]))]
                p[k] = j
            y = torch.zeros(B)
            y[h:] = 1.0
            x = torch.cat([xtr[a], xtr[p]])
            opt.zero_grad()
            e = model(x)
            loss = contrastive_loss(e[:B], e[B:], y)
            loss.backward()
            opt.step()
            loss_sum += loss.item()
        dt = time.time() - t0
        train_seconds += dt
        train_pairs += nb * B
        test_loss = pair_loss(model, xte, tl_i1, tl_i2, tl_y)
        print("epoch %d train_loss %.4f test_loss %.4f (%.1f s, %.1f pairs/s)" % (
            epoch, loss_sum / max(nb, 1), test_loss, dt, nb * B / dt), flush=True)

    # evaluation
    e_te = embed(model, xte)
    e_val = embed(model, xval)
    e_tr = embed(model, xtr)
    v1, v2, vy = balanced_pairs(yval, 10000, 54321)
    dval = torch.sqrt(((e_val[v1] - e_val[v2]) ** 2).sum(1)).double().numpy()
    thr, val_acc = best_threshold(dval, vy == 0)
    t1, t2, ty = balanced_pairs(yte, 10000, 12345)
    m = verification(e_te, yte, t1, t2, ty, thr)
    m.update(retrieval(e_te, yte))
    m["knn_accuracy"] = knn_accuracy(e_te, yte, e_tr, ytr)
    m["pairs_per_s"] = train_pairs / train_seconds if train_seconds > 0 else 0.0
    m["seconds"] = train_seconds
    m["total_seconds"] = time.time() - t_start
    m["val_threshold"] = thr
    m["val_accuracy"] = float(val_acc)

    keys = ["roc_auc", "eer", "verification_accuracy", "best_accuracy", "precision_at_1",
            "r_precision", "mean_average_precision_at_r", "knn_accuracy", "pairs_per_s",
            "seconds", "total_seconds", "val_threshold", "val_accuracy"]
    print("%-28s %s" % ("metric", "value"))
    print("-" * 40)
    for k in keys:
        print("%-28s %.4f" % (k, m[k]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({k: m[k] for k in keys}, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
