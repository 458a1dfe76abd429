#!/usr/bin/python3
"""PyTorch reference for simnet's fast CIFAR-10 recipe (issue 4: precision@1 >= 0.90 in
60 minutes on 2 cores): which recipe reaches the bar, measured with the same retrieval
metric simnet eval reports, before the engine implements it.

    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 OPENBLAS_NUM_THREADS=1 \
      /usr/bin/python3 tools/ref_cifar_fast.py --data DIR [--epochs 10] [--act gelu|relu]
      [--no-whiten] [--no-lookahead] [--affine-bn] [--widths 64,256,256] [--threads 2]

The network and the training recipe follow the published fast CIFAR-10 trainers
(Page's ResNet-9 line and Keller Jordan's airbench, 2024), written here from their
descriptions: a frozen 2x2 patch-whitening convolution (eigenvectors of the patch
covariance of 5,000 training images, scaled by 1/sqrt(eigenvalue + 5e-4), with their
negatives), three conv groups conv3x3 - maxpool2 - BN - act - conv3x3 - BN - act,
global max-pool, a bias-free linear classifier scaled by 1/9; BN without a trained
scale, momentum 0.6 (torch momentum 0.4), eps 1e-12; cross-entropy with label smoothing
0.2 summed over the batch; SGD Nesterov, momentum 0.85, batch 1024, a triangular LR
schedule (0.2 -> 1 at 23 % of the steps -> 0.07), BN biases at 64x the LR, decoupled-style
weight decay; lookahead (EMA every 5 steps, decay rising as t^3); flips and 2-pixel
reflect-padded translations. Training uses the first 48,000 images of a seeded
permutation of the train split (simnet holds out 2,000 for calibration).

Reported: test accuracy (no test-time augmentation), and precision@1 (leave-one-out
nearest neighbour over the 10,000 test images) of the L2-normalised 256-d pooled
features, which is the embedding simnet would store.
"""
import argparse
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN = torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1)
STD = torch.tensor([0.2470, 0.2435, 0.2616]).view(1, 3, 1, 1)


def load_cifar(d):
    base = os.path.join(d, "cifar-10-batches-bin")

    def read(names):
        raw = b"".join(open(os.path.join(base, n), "rb").read() for n in names)
        a = np.frombuffer(raw, np.uint8).reshape(-1, 3073)
        return a[:, 1:].reshape(-1, 3, 32, 32), a[:, 0].astype(np.int64)

    xtr, ytr = read([f"data_batch_{i}.bin" for i in range(1, 6)])
    xte, yte = read(["test_batch.bin"])
    f = lambda x: (torch.tensor(x, dtype=torch.float32) / 255 - MEAN) / STD
    return f(xtr), torch.tensor(ytr), f(xte), torch.tensor(yte)


class BN(nn.BatchNorm2d):
    def __init__(self, c, affine_scale):
        super().__init__(c, eps=1e-12, momentum=0.4)
        self.weight.requires_grad = affine_scale


class Group(nn.Module):
    def __init__(self, cin, cout, act, affine):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        for c in (self.c1, self.c2):
            w = c.weight.data
            nn.init.dirac_(w[: w.size(1)])
        self.n1, self.n2 = BN(cout, affine), BN(cout, affine)
        self.act = act

    def forward(self, x):
        x = self.act(self.n1(F.max_pool2d(self.c1(x), 2)))
        return self.act(self.n2(self.c2(x)))


class Net(nn.Module):
    def __init__(self, widths, act, affine):
        super().__init__()
        self.whiten = nn.Conv2d(3, 24, 2, padding=0, bias=True)
        self.act = act
        self.g1 = Group(24, widths[0], act, affine)
        self.g2 = Group(widths[0], widths[1], act, affine)
        self.g3 = Group(widths[1], widths[2], act, affine)
        self.head = nn.Linear(widths[2], 10, bias=False)

    def features(self, x):
        x = self.act(self.whiten(x))
        x = self.g3(self.g2(self.g1(x)))
        if self.pool3:
            return F.max_pool2d(x, 3).flatten(1)
        return F.adaptive_max_pool2d(x, 1).flatten(1)

    def logits(self, f):
        if self.norm_head:
            return self.scale * F.normalize(f, dim=1) @ F.normalize(self.head.weight, dim=1).T
        return self.head(f) / 9.0

    def forward(self, x):
        return self.logits(self.features(x))


def whiten_init(conv, x, eps=5e-4):
    p = x.unfold(2, 2, 1).unfold(3, 2, 1).transpose(1, 3).reshape(-1, 3, 2, 2).double()
    pf = p.reshape(len(p), -1)
    cov = pf.T @ pf / len(pf)
    ev, V = torch.linalg.eigh(cov)
    ev, V = ev.flip(0), V.T.flip(0)
    w = (V / torch.sqrt(ev + eps).view(-1, 1)).reshape(12, 3, 2, 2).float()
    conv.weight.data[:] = torch.cat([w, -w])
    conv.weight.requires_grad = False


def augment(x, gen, flip=None):
    n = len(x)
    if flip is None:
        flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
    xp = F.pad(x, (2, 2, 2, 2), mode="reflect")
    dx = torch.randint(0, 5, (n,), generator=gen)
    dy = torch.randint(0, 5, (n,), generator=gen)
    out = torch.empty_like(x)
    for a in range(5):
        for b in range(5):
            m = (dy == a) & (dx == b)
            if m.any():
                out[m] = xp[m, :, a:a + 32, b:b + 32]
    return out


def p_at_1(e, y):
    e = F.normalize(e, dim=1)
    best = torch.empty(len(e), dtype=torch.long)
    for i in range(0, len(e), 1000):
        s = e[i:i + 1000] @ e.T
        s[torch.arange(len(s)), torch.arange(i, i + len(s))] = -9
        best[i:i + 1000] = s.argmax(1)
    return (y[best] == y).float().mean().item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--epochs", type=float, default=10)
    ap.add_argument("--act", default="gelu")
    ap.add_argument("--no-whiten", action="store_true")
    ap.add_argument("--no-lookahead", action="store_true")
    ap.add_argument("--affine-bn", action="store_true")
    ap.add_argument("--widths", default="64,256,256")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--head", default="linear", help="linear (x/9) or norm (cosine x scale)")
    ap.add_argument("--scale", type=float, default=16.0, help="--head norm: logit scale")
    ap.add_argument("--no-bias-scaler", action="store_true")
    ap.add_argument("--alt-flip", action="store_true",
                    help="airbench's flips: one random flip per image, then all flipped every other epoch")
    ap.add_argument("--pool3", action="store_true",
                    help="airbench's head: MaxPool2d(3) (the top-left 3x3 of the 4x4 map), not a global max")
    ap.add_argument("--train-size", type=int, default=48000)
    ap.add_argument("--contiguous", action="store_true",
                    help="NCHW tensors instead of channels_last (a check of the CPU kernels)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    xtr, ytr, xte, yte = load_cifar(a.data)
    perm = torch.tensor(np.random.default_rng(a.seed).permutation(len(xtr)))
    xtr, ytr = xtr[perm[:a.train_size]], ytr[perm[:a.train_size]]
    act = nn.GELU() if a.act == "gelu" else nn.ReLU()
    net = Net([int(w) for w in a.widths.split(",")], act, a.affine_bn)
    net.norm_head, net.scale, net.pool3 = a.head == "norm", a.scale, a.pool3
    if not a.no_whiten:
        whiten_init(net.whiten, xtr[:5000])
    mf = torch.contiguous_format if a.contiguous else torch.channels_last
    net = net.to(memory_format=mf)
    B = a.batch
    steps_per_epoch = len(xtr) // B
    total = int(math.ceil(steps_per_epoch * a.epochs))
    mom = 0.85
    kscale = 1024 * (1 + 1 / (1 - mom))
    lr, wd = 11.5 / kscale, 0.0153 * B / kscale
    lr_b = lr * (1 if a.no_bias_scaler else 64)
    norm_b = [p for n, p in net.named_parameters() if ".n" in n and p.requires_grad]
    other = [p for n, p in net.named_parameters() if ".n" not in n and p.requires_grad]
    opt = torch.optim.SGD([dict(params=norm_b, lr=lr_b, weight_decay=wd / lr_b),
                           dict(params=other, lr=lr, weight_decay=wd / lr)],
                          momentum=mom, nesterov=True)
    base = [g["lr"] for g in opt.param_groups]

    def tri(t):
        pk = int(0.23 * total)
        return 0.2 + 0.8 * t / pk if t < pk else 1 + (0.07 - 1) * (t - pk) / (total - pk)

    ema = {k: v.clone() for k, v in net.state_dict().items()}
    lossf = nn.CrossEntropyLoss(label_smoothing=0.2, reduction="none")
    step, t0 = 0, time.time()
    print(f"# {sum(p.numel() for p in net.parameters())} params, {total} steps of {B}", flush=True)
    ep = 0
    flip0 = torch.rand(len(xtr), generator=gen) < 0.5 if a.alt_flip else None
    while step < total:
        ep += 1
        net.whiten.bias.requires_grad = ep <= 3
        net.train()
        order = torch.randperm(len(xtr), generator=gen)
        tl = 0.0
        for s in range(steps_per_epoch):
            if step >= total:
                break
            idx = order[s * B:(s + 1) * B]
            fl = (flip0[idx] ^ (ep % 2 == 0)) if a.alt_flip else None
            x = augment(xtr[idx], gen, fl).contiguous(memory_format=mf)
            for g, b0 in zip(opt.param_groups, base):
                g["lr"] = b0 * tri(step)
            loss = lossf(net(x), ytr[idx]).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            tl += loss.item() / B
            if not a.no_lookahead and (step % 5 == 0 or step == total):
                decay = 1.0 if step == total else 0.95 ** 5 * (step / total) ** 3
                with torch.no_grad():
                    sd = net.state_dict()
                    for k, v in sd.items():
                        if v.dtype.is_floating_point:
                            ema[k].lerp_(v, 1 - decay)
                            v.copy_(ema[k])
        net.eval()
        with torch.no_grad():
            feats, logits = [], []
            for i in range(0, len(xte), 2000):
                f = net.features(xte[i:i + 2000].contiguous(memory_format=mf))
                feats.append(f)
                logits.append(net.logits(f))
            fe, lo = torch.cat(feats), torch.cat(logits)
        acc = (lo.argmax(1) == yte).float().mean().item()
        print(f"epoch {ep} step {step} train_loss {tl / steps_per_epoch:.4f} test_acc {acc:.4f} "
              f"p_at_1 {p_at_1(fe, yte):.4f} p_at_1_logits {p_at_1(lo, yte):.4f} "
              f"seconds {time.time() - t0:.1f}", flush=True)


if __name__ == "__main__":
    main()
