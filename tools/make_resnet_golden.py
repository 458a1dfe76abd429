#!/usr/bin/python3
"""Generate the PyTorch golden fixture for simnet's residual network ("resnet" preset).

Writes tests/golden/resnet_golden.bin (run with Debian's /usr/bin/python3, torch 1.13):

    /usr/bin/python3 tools/make_resnet_golden.py [--out FILE]

Same binary format as tools/make_golden.py ("SNGF", version 1): magic b"SNGF",
uint32 version 1, uint32 count, then count records of (uint32 name_len, name,
uint32 ndim, ndim x uint32 dims, prod(dims) x float32), little-endian.

MODEL: the simnet preset `resnet` with width 0.0625 (w = 4 channels in the stem),
embed_dim 8, l2_normalize 1, input 3x32x32; its text spec (same string as
sn_arch_spec in src/nn/model.c builds) is SPEC below. The network is built by
interpreting that spec, so parameters come in spec order (conv w, conv b, bn gamma,
bn beta, ..., linear w, linear b), which is simnet's slab order.

    conv OUT K S P -> Conv2d(C, OUT, K, S, P)      bn -> BatchNorm2d (BatchNorm1d if H*W == 1)
    relu, maxpool K, flatten, linear OUT, l2norm (F.normalize, eps 1e-12)
    skip ... add   -> y = (branch output) + (the activation that entered skip)

RECORDS (N = 4 images):
    x            (N,3,32,32)  inputs, N(0,1) (already normalised)
    r            (N,8)        loss weights: loss = sum(r * out)
    param.<i>    initial parameters (torch.manual_seed(0) default init, then BN
                 gamma = 1 + 0.1 N(0,1), beta = 0.1 N(0,1) from a Generator seeded 1234)
    buf.<j>      initial BN buffers: running_mean, running_var per BN (in order)
    -- one train-mode forward + backward from that state:
    out          (N,8)        embeddings (unit rows)
    loss         (1)
    grad.<i>     d loss / d param.<i>
    grad.x       (N,3,32,32)  d loss / d x
    buf_after.<j>             BN buffers after that forward (momentum 0.1, unbiased var)
    -- then model.eval():
    eval.out     (N,8)        eval-mode forward of x with buf_after
"""
import argparse
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

W = 4
D = 8
N = 4
G = 32 // 2 // 2 // 2


def cbr(c):
    return "conv %d 3 1 1; bn; relu; " % c


SPEC = (cbr(W) + cbr(2 * W) + "maxpool 2; skip; " + cbr(2 * W) + cbr(2 * W) + "add; " +
        cbr(4 * W) + "maxpool 2; " + cbr(8 * W) + "maxpool 2; skip; " + cbr(8 * W) + cbr(8 * W) +
        "add; maxpool %d; flatten; linear %d; l2norm" % (G, D))


class SpecNet(nn.Module):
    """Interpreter of a simnet text spec (the subset used here)."""

    def __init__(self, spec, shape):
        super().__init__()
        self.kinds = []
        self.mods = nn.ModuleList()
        c, h, w = shape
        for stmt in spec.split(";"):
            tok = stmt.split()
            if not tok:
                continue
            k, a = tok[0], [int(t) for t in tok[1:]]
            mod = nn.Identity()
            if k == "conv":
                out, ks = a[0], a[1]
                st = a[2] if len(a) > 2 else 1
                pd = a[3] if len(a) > 3 else 0
                mod = nn.Conv2d(c, out, ks, st, pd)
                c, h, w = out, (h + 2 * pd - ks) // st + 1, (w + 2 * pd - ks) // st + 1
            elif k == "bn":
                mod = nn.BatchNorm2d(c) if h * w > 1 else nn.BatchNorm1d(c)
            elif k == "maxpool":
                s = a[1] if len(a) > 1 else a[0]
                mod = nn.MaxPool2d(a[0], s)
                h, w = (h - a[0]) // s + 1, (w - a[0]) // s + 1
            elif k == "flatten":
                c, h, w = c * h * w, 1, 1
            elif k == "linear":
                mod = nn.Linear(c * h * w, a[0])
                c, h, w = a[0], 1, 1
            elif k not in ("relu", "l2norm", "skip", "add"):
                raise ValueError("unsupported layer " + k)
            self.kinds.append((k, (c, h, w)))
            self.mods.append(mod)

    def forward(self, x):
        stack = []
        for (k, shp), mod in zip(self.kinds, self.mods):
            if k == "relu":
                x = torch.relu(x)
            elif k == "l2norm":
                x = F.normalize(x, dim=1, eps=1e-12)
            elif k == "skip":
                stack.append(x)
            elif k == "add":
                x = x + stack.pop()
            elif k == "flatten":
                x = x.reshape(x.shape[0], -1)
            elif k == "bn" and isinstance(mod, nn.BatchNorm1d):
                x = mod(x.reshape(x.shape[0], -1)).reshape(x.shape)
            elif k == "linear":
                x = mod(x.reshape(x.shape[0], -1))
            else:
                x = mod(x)
        return x


class Writer:
    def __init__(self):
        self.records = []

    def add(self, name, t):
        a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
        # a copy: numpy() shares the tensor's storage, which later steps modify
        self.records.append((name, np.array(a, dtype="<f4", order="C", copy=True)))

    def write(self, path):
        with open(path, "wb") as f:
            f.write(b"SNGF")
            f.write(struct.pack("<II", 1, len(self.records)))
            for name, a in self.records:
                nb = name.encode("ascii")
                f.write(struct.pack("<I", len(nb)))
                f.write(nb)
                f.write(struct.pack("<I", a.ndim))
                f.write(struct.pack("<" + "I" * a.ndim, *a.shape))
                f.write(a.tobytes())


def bn_buffers(model):
    out = []
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            out += [m.running_mean, m.running_var]
    return out


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "golden",
                                                  "resnet_golden.bin"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.backends.mkldnn.enabled = False

    torch.manual_seed(0)
    model = SpecNet(SPEC, (3, 32, 32))
    g = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.weight.copy_(1 + 0.1 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
    x = torch.randn((N, 3, 32, 32), generator=g)
    r = torch.randn((N, D), generator=g)

    w = Writer()
    w.add("x", x)
    w.add("r", r)
    params = list(model.parameters())
    for i, p in enumerate(params):
        w.add("param.%d" % i, p)
    for j, b in enumerate(bn_buffers(model)):
        w.add("buf.%d" % j, b)

    model.train()
    xg = x.clone().requires_grad_(True)
    out = model(xg)
    loss = (out * r).sum()
    loss.backward()
    w.add("out", out)
    w.add("loss", loss.reshape(1))
    for i, p in enumerate(params):
        w.add("grad.%d" % i, p.grad)
    w.add("grad.x", xg.grad)
    for j, b in enumerate(bn_buffers(model)):
        w.add("buf_after.%d" % j, b)
    model.eval()
    with torch.no_grad():
        w.add("eval.out", model(x))
    w.write(args.out)
    nparams = sum(p.numel() for p in params)
    print("spec: %s" % SPEC)
    print("wrote %s: %d records, %d parameters, loss %.6f" %
          (args.out, len(w.records), nparams, loss.item()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
