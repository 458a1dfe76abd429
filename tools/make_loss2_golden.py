#!/usr/bin/python3
"""Generate the PyTorch golden fixture for the second set of batch losses.

    /usr/bin/python3 tools/make_loss2_golden.py [--out FILE]   # tests/golden/loss2_golden.bin

Written with Debian's torch 1.13, in float64 autograd, directly from the formulas
documented in src/losses/batch_losses.h (pytorch-metric-learning is not installed here;
each function below follows the PML code it names). Format: "SNGF" version 1 (see
tests/golden/README.md); values stored as float32.

Fixed batch: B = 12, dim = 8, 5 classes of sizes 4, 3, 3, 1, 1 (shuffled; the two
singletons exercise anchors without positives), e = 0.5 * N(0,1) from torch.Generator
seeded 11, rounded to float32 (the stored e is the exact input). W = N(0,1) (5,8), not
normalised (the C code normalises inside).

RECORDS:
    e, labels, W                    (12,8), (12), (5,8)
    cpn.margins (3,2)  tri.margins (3)  hardness (3)  temps (2: supcon, ntxent)
    alpha (1)  proxy.sm (4,2: scale, margin per kind)  proxy.ls (1: label smoothing)
    contrastive_pn.<k>.loss/.grad   k in euclid, sqeuclid, cosine
    supcon.loss/.grad, ntxent.loss/.grad, angular.loss/.grad
    proxy.<kind>.loss/.grad/.dW     kind in normsoftmax, cosface, arcface, softmax
    proxy_ls.<kind>.loss/.grad/.dW  the same with label smoothing proxy.ls
    triplet_bc.<k>.loss/.grad
    triplet_curriculum.<k>.h<i>.loss/.grad   i = index into hardness
Mining decisions are made on the float64 values and are constants for autograd.
"""
import argparse
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import Writer  # noqa: E402  (same SNGF writer)

B, DIM, C = 12, 8, 5
KINDS = ("euclid", "sqeuclid", "cosine")
CPN_MARGINS = ((1.0, 2.2), (2.0, 4.5), (0.5, 1.1))
TRI_MARGINS = (0.5, 1.0, 0.2)
HARDNESS = (0.0, 0.5, 1.0)
TEMPS = (0.1, 0.07)
ALPHA = 40.0
PROXY = (("normsoftmax", 16.0, 0.0), ("cosface", 16.0, 0.35), ("arcface", 16.0, 0.5), ("softmax", 2.0, 0.0))
LS = 0.2  # label smoothing of the proxy_ls.<kind> cases
BC_LAMBDA = 1.0


def distmat(e, kind):
    eye = torch.eye(B, dtype=e.dtype)
    if kind == "cosine":
        u = e / e.norm(dim=1, keepdim=True)
        return (1.0 - u @ u.t()) * (1 - eye)
    sq = ((e[:, None, :] - e[None, :, :]) ** 2).sum(-1)
    if kind == "sqeuclid":
        return sq * (1 - eye)
    return torch.sqrt(sq + eye) * (1 - eye)


def cosine_sim(e):
    u = F.normalize(e, dim=1)
    return u @ u.t()


def census(lab):
    pos = any(lab[i] == lab[j] for i in range(B) for j in range(B) if i != j)
    neg = any(lab[i] != lab[j] for i in range(B) for j in range(B))
    return pos, neg


def contrastive_pn(D, lab, mp, mn):  # PML ContrastiveLoss + AvgNonZeroReducer per part
    pos, neg = [], []
    for i in range(B):
        for j in range(B):
            if i == j:
                continue
            if lab[i] == lab[j]:
                t = D[i, j] - mp
                if t.item() > 0:
                    pos.append(t)
            else:
                t = mn - D[i, j]
                if t.item() > 0:
                    neg.append(t)
    z = D.sum() * 0
    return (torch.stack(pos).mean() if pos else z) + (torch.stack(neg).mean() if neg else z)


def supcon(e, lab, t):  # PML SupConLoss, AvgNonZeroReducer
    if not all(census(lab)):
        return e.sum() * 0
    S = cosine_sim(e)
    kept = []
    for i in range(B):
        others = [j for j in range(B) if j != i]
        ps = [j for j in others if lab[j] == lab[i]]
        if not ps:
            continue
        li = torch.logsumexp(S[i, others] / t, 0) - (S[i, ps] / t).mean()
        if li.item() > 0:
            kept.append(li)
    return torch.stack(kept).mean() if kept else e.sum() * 0


def ntxent(e, lab, t):  # PML NTXentLoss, MeanReducer over positive pairs
    if not all(census(lab)):
        return e.sum() * 0
    S = cosine_sim(e)
    terms = []
    for a in range(B):
        ns = [j for j in range(B) if lab[j] != lab[a]]
        for p in range(B):
            if p == a or lab[p] != lab[a]:
                continue
            if not ns:
                terms.append(e.sum() * 0)
                continue
            x = torch.cat([S[a, p].reshape(1), S[a, ns]]) / t
            terms.append(torch.logsumexp(x, 0) - x[0])
    return torch.stack(terms).mean()


def angular(e, lab, alpha_deg):  # PML AngularLoss on normalised embeddings, MeanReducer
    if not all(census(lab)):
        return e.sum() * 0
    u = F.normalize(e, dim=1)
    tt = math.tan(math.radians(alpha_deg)) ** 2
    terms = []
    for a in range(B):
        ns = [j for j in range(B) if lab[j] != lab[a]]
        for p in range(B):
            if p == a or lab[p] != lab[a]:
                continue
            if not ns:
                terms.append(e.sum() * 0)
                continue
            f = 4 * tt * ((u[a] + u[p])[None, :] * u[ns]).sum(1) - 2 * (1 + tt) * (u[a] * u[p]).sum()
            terms.append(torch.logsumexp(torch.cat([f, f.new_zeros(1)]), 0))
    return torch.stack(terms).mean()


def proxy(e, W, lab, kind, s, m, ls=0.0):  # PML NormalizedSoftmax / CosFace / ArcFace
    if kind == "softmax":  # a bias-free linear head times s
        return F.cross_entropy(s * e @ W.t(), torch.tensor(lab), label_smoothing=ls)
    cos = F.normalize(e, dim=1) @ F.normalize(W, dim=1).t()
    y = torch.tensor(lab)
    mask = F.one_hot(y, C).to(e.dtype)
    ct = cos[torch.arange(B), y]
    if kind == "cosface":
        mod = ct - m
    elif kind == "arcface":
        mod = torch.cos(torch.acos(torch.clamp(ct, -1 + 1e-7, 1 - 1e-7)) + m)
    else:
        mod = ct
    logits = (cos + mask * (mod - ct).unsqueeze(1)) * s
    return F.cross_entropy(logits, y, label_smoothing=ls)


def triplet_bc(e, lab, m, kind):  # batch-hard + lambda * first-moment selection match
    D = distmat(e, kind)
    Dv = D.detach()
    terms, cnt = [], [0] * B
    for a in range(B):
        ps = [j for j in range(B) if j != a and lab[j] == lab[a]]
        ns = [j for j in range(B) if lab[j] != lab[a]]
        if not ps or not ns:
            continue
        p = max(ps, key=lambda j: Dv[a, j].item())
        n = min(ns, key=lambda j: Dv[a, j].item())
        cnt[p] += 1
        cnt[n] += 1
        terms.append(torch.clamp(D[a, p] - D[a, n] + m, min=0))
    if not terms:
        return e.sum() * 0
    L = torch.stack(terms).mean()
    match = []
    for k in sorted(set(lab)):
        idx = [j for j in range(B) if lab[j] == k]
        s = sum(cnt[j] for j in idx)
        if s == 0:
            continue
        mu_sel = sum(cnt[j] * e[j] for j in idx) / s
        mu = e[idx].mean(0)
        match.append(((mu_sel - mu) ** 2).sum())
    return L + BC_LAMBDA * torch.stack(match).mean()


def triplet_curriculum(e, lab, m, kind, h):
    D = distmat(e, kind)
    Dv = D.detach()
    terms = []
    for a in range(B):
        ps = [j for j in range(B) if j != a and lab[j] == lab[a]]
        ns = [j for j in range(B) if lab[j] != lab[a]]
        if not ps or not ns:
            continue
        order = sorted(ns, key=lambda j: (Dv[a, j].item(), j))
        n = order[int(math.floor((1 - h) * (len(ns) - 1) + 0.5))]
        for p in ps:
            terms.append(torch.clamp(D[a, p] - D[a, n] + m, min=0))
    return torch.stack(terms).mean() if terms else e.sum() * 0


def grad_of(fn, e32):
    e = e32.double().requires_grad_(True)
    L = fn(e)
    L.backward()
    assert float(e.grad.abs().max()) > 0
    return L.detach().reshape(1), e.grad


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(here), "tests", "golden",
                                                  "loss2_golden.bin"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(11)
    e32 = (0.5 * torch.randn(B, DIM, generator=g)).float()
    W32 = torch.randn(C, DIM, generator=g).float()
    lab = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 4]
    lab = [lab[i] for i in torch.randperm(B, generator=g).tolist()]
    w = Writer()
    w.add("e", e32)
    w.add("labels", torch.tensor(lab, dtype=torch.float32))
    w.add("W", W32)
    w.add("cpn.margins", torch.tensor(CPN_MARGINS))
    w.add("tri.margins", torch.tensor(TRI_MARGINS))
    w.add("hardness", torch.tensor(HARDNESS))
    w.add("temps", torch.tensor(TEMPS))
    w.add("alpha", torch.tensor([ALPHA]))
    w.add("proxy.sm", torch.tensor([[s, m] for _, s, m in PROXY]))
    w.add("proxy.ls", torch.tensor([LS]))

    def put(name, L, gr):
        w.add(name + ".loss", L)
        w.add(name + ".grad", gr)
        print("%-34s loss %.6f" % (name, L.item()))

    for k, (mp, mn) in zip(KINDS, CPN_MARGINS):
        put("contrastive_pn." + k, *grad_of(lambda e: contrastive_pn(distmat(e, k), lab, mp, mn), e32))
    put("supcon", *grad_of(lambda e: supcon(e, lab, TEMPS[0]), e32))
    put("ntxent", *grad_of(lambda e: ntxent(e, lab, TEMPS[1]), e32))
    put("angular", *grad_of(lambda e: angular(e, lab, ALPHA), e32))
    for kind, s, m in PROXY:
        e = e32.double().requires_grad_(True)
        W = W32.double().requires_grad_(True)
        L = proxy(e, W, lab, kind, s, m)
        L.backward()
        put("proxy." + kind, L.detach().reshape(1), e.grad)
        w.add("proxy.%s.dW" % kind, W.grad)
        e = e32.double().requires_grad_(True)
        W = W32.double().requires_grad_(True)
        L = proxy(e, W, lab, kind, s, m, LS)
        L.backward()
        put("proxy_ls." + kind, L.detach().reshape(1), e.grad)
        w.add("proxy_ls.%s.dW" % kind, W.grad)
    for k, m in zip(KINDS, TRI_MARGINS):
        put("triplet_bc." + k, *grad_of(lambda e: triplet_bc(e, lab, m, k), e32))
        for i, h in enumerate(HARDNESS):
            put("triplet_curriculum.%s.h%d" % (k, i),
                *grad_of(lambda e: triplet_curriculum(e, lab, m, k, h), e32))
    w.write(args.out)
    print("wrote %s: %d records, %d bytes" % (args.out, len(w.records), os.path.getsize(args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
