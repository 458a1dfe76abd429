#!/usr/bin/python3
"""Generate the PyTorch golden fixture for the batch losses (triplet, multi-similarity).

    /usr/bin/python3 tools/make_loss_golden.py [--out FILE]   # tests/golden/loss_golden.bin

Written with Debian's torch 1.13, in float64, directly from the formulas documented in
src/losses/batch_losses.h (pytorch-metric-learning is not used). Format: "SNGF" version 1
(see tests/golden/README.md); values stored as float32.

Fixed batch: B = 12, dim = 8, 4 classes (3 each, shuffled), e = 0.5 * N(0,1) from
torch.Generator seeded 7, rounded to float32 (the stored e is the exact input).

RECORDS:
    e                         (12,8)  embeddings
    labels                    (12)    class labels (as float)
    margin                    (3)     triplet margin per distance kind (euclid, sq, cosine)
    dist.<k>                  (12,12) distance matrix, k in euclid, sqeuclid, cosine
    triplet.<miner>.<k>.loss  (1)     miner in all, hard, semihard
    triplet.<miner>.<k>.grad  (12,8)  d loss / d e
    multisim.loss             (1)     alpha 2, beta 50, base 0.5, miner epsilon 0.1
    multisim.grad             (12,8)
Mining decisions are made on the float64 distances and are constants for autograd.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import Writer  # noqa: E402  (same SNGF writer)

B, DIM = 12, 8
KINDS = ("euclid", "sqeuclid", "cosine")
MARGINS = (0.5, 1.0, 0.2)
MINERS = ("all", "hard", "semihard")


def distmat(e, kind):
    eye = torch.eye(B, dtype=e.dtype)
    if kind == "cosine":
        u = e / e.norm(dim=1, keepdim=True)
        return (1.0 - u @ u.t()) * (1 - eye)
    sq = ((e[:, None, :] - e[None, :, :]) ** 2).sum(-1)
    if kind == "sqeuclid":
        return sq * (1 - eye)
    return torch.sqrt(sq + eye) * (1 - eye)  # +eye: no sqrt(0) on the (unused) diagonal


def triplet(D, lab, m, miner):
    Dv = D.detach()
    same = [[lab[i] == lab[j] for j in range(B)] for i in range(B)]
    terms = []
    if miner == "all":
        for a in range(B):
            for p in range(B):
                if p == a or not same[a][p]:
                    continue
                for n in range(B):
                    if not same[a][n]:
                        terms.append(D[a, p] - D[a, n] + m)
        live = [t for t in terms if t.item() > 0]
        return torch.stack(live).mean() if live else D.sum() * 0
    if miner == "hard":
        for a in range(B):
            ps = [j for j in range(B) if j != a and same[a][j]]
            ns = [j for j in range(B) if not same[a][j]]
            p = max(ps, key=lambda j: Dv[a, j].item())
            n = min(ns, key=lambda j: Dv[a, j].item())
            terms.append(torch.clamp(D[a, p] - D[a, n] + m, min=0))
        return torch.stack(terms).mean()
    for a in range(B):  # semihard, TensorFlow triplet_semihard_loss rule
        ns = [j for j in range(B) if not same[a][j]]
        for p in range(B):
            if p == a or not same[a][p]:
                continue
            far = [j for j in ns if Dv[a, j].item() > Dv[a, p].item()]
            if far:
                n = min(far, key=lambda j: Dv[a, j].item())
            else:
                n = max(ns, key=lambda j: Dv[a, j].item())
            terms.append(torch.clamp(D[a, p] - D[a, n] + m, min=0))
    return torch.stack(terms).mean()


def multisim(e, lab, alpha=2.0, beta=50.0, base=0.5, eps=0.1):
    u = e / e.norm(dim=1, keepdim=True)
    S = u @ u.t()
    Sv = S.detach()
    total = e.sum() * 0
    for a in range(B):
        ps = [j for j in range(B) if j != a and lab[j] == lab[a]]
        ns = [j for j in range(B) if lab[j] != lab[a]]
        minpos = min(Sv[a, j].item() for j in ps)
        maxneg = max(Sv[a, j].item() for j in ns)
        kp = [j for j in ps if Sv[a, j].item() - eps < maxneg]
        kn = [j for j in ns if Sv[a, j].item() + eps > minpos]
        if kp:
            x = -alpha * (S[a, kp] - base)
            total = total + torch.logsumexp(torch.cat([x, x.new_zeros(1)]), 0) / alpha
        if kn:
            x = beta * (S[a, kn] - base)
            total = total + torch.logsumexp(torch.cat([x, x.new_zeros(1)]), 0) / beta
    return total / B


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(here), "tests", "golden",
                                                  "loss_golden.bin"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(7)
    e32 = (0.5 * torch.randn(B, DIM, generator=g)).float()
    lab = torch.arange(B) % 4
    lab = lab[torch.randperm(B, generator=g)].tolist()
    w = Writer()
    w.add("e", e32)
    w.add("labels", torch.tensor(lab, dtype=torch.float32))
    w.add("margin", torch.tensor(MARGINS))
    for k in KINDS:
        w.add("dist." + k, distmat(e32.double(), k))
    for miner in MINERS:
        for k, m in zip(KINDS, MARGINS):
            e = e32.double().requires_grad_(True)
            L = triplet(distmat(e, k), lab, m, miner)
            L.backward()
            assert float(e.grad.abs().max()) > 0, (miner, k)
            w.add("triplet.%s.%s.loss" % (miner, k), L.detach().reshape(1))
            w.add("triplet.%s.%s.grad" % (miner, k), e.grad)
            print("triplet %-8s %-8s loss %.6f" % (miner, k, L.item()))
    e = e32.double().requires_grad_(True)
    L = multisim(e, lab)
    L.backward()
    w.add("multisim.loss", L.detach().reshape(1))
    w.add("multisim.grad", e.grad)
    print("multisim loss %.6f" % L.item())
    w.write(args.out)
    print("wrote %s: %d records, %d bytes" % (args.out, len(w.records), os.path.getsize(args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
