#!/usr/bin/python3
"""PyTorch speed peer for simnet networks (bench/run runs it beside bench_seed).

    /usr/bin/python3 bench/peer_seed.py [--task train|embed|latency] [--mode tuned|plain]
        [--spec "conv 32 3 1 1; bn; ..."] [--in-shape C,H,W] [--threads 2] [--steps 100]
        [--warmup 10] [--batch-size B] [--reps R] [--data DIR] [--arch NAME]

--spec       simnet text spec (the one bench_seed prints; default: the seed net), built
             into the same torch layers: conv OUT K [S] [P] -> Conv2d, bn -> BatchNorm2d
             (BatchNorm1d on vectors), maxpool/avgpool K [S], linear OUT, relu, flatten,
             l2norm -> F.normalize, skip ... add -> x + branch(x) (the residual join).
--task train : Siamese training steps exactly as the simnet trainer does them:
               one forward of torch.cat([x1, x2]) (2 x batch-size images, BN over all),
               contrastive loss (margin 5), backward, Adam(lr 1e-3). Reports pairs/s
               (and images/s), then the process's peak RSS (case=memory).
--task embed : eval-mode forward (torch.inference_mode) of batches of batch-size images.
--task latency: compare two images: eval forward of a batch of 2 + Euclidean distance,
               timed one by one: p50 / p99 / mean in microseconds.
--mode plain : torch.set_num_threads(threads) only.
--mode tuned : torch.set_num_threads(threads), model and inputs in channels_last;
               meant to be launched with LD_PRELOAD=libtcmalloc_minimal.so.4 and
               OPENBLAS_NUM_THREADS=1 (bench/run_peer.sh does that; a warning is printed
               on stderr otherwise).
Data: random-but-fixed inputs (standard normal, seed 0) unless --data DIR is given and the
input is 1x28x28, in which case real normalised MNIST train images are used. Batches are
pre-built before timing, so only the network step is measured.

Output (stdout), e.g.:
    RESULT case=train arch=seed ... mode=tuned value=1234.5 unit=pairs/s
"""
import argparse
import gzip
import os
import resource
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD = 0.1307, 0.3081
MARGIN = 5.0
SEED_SPEC = ("conv 32 3 1 1; bn; maxpool 2; conv 64 3 1 1; bn; maxpool 2; conv 128 3 1 0; bn; "
             "avgpool 5; flatten; linear 64; bn; linear 2")


class Residual(nn.Module):
    """x + body(x): simnet's skip ... add."""

    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return x + self.body(x)


class L2Norm(nn.Module):
    def forward(self, x):
        return F.normalize(x, dim=1, eps=1e-12)


def build_from_spec(spec, in_shape):
    """torch module for a simnet text spec; returns (module, forward FLOP per image)."""
    stmts = []
    for line in spec.replace("\n", ";").split(";"):
        line = line.split("#")[0].strip()
        if line:
            w = line.split()
            stmts.append((w[0], [int(v) for v in w[1:]]))
    flop = [0.0]

    def build(i, shape, stop_at_add):
        layers = []
        c, h, w = shape
        flat = False  # the tensor is (N, D) rather than (N, C, H, W)
        while i < len(stmts):
            name, hp = stmts[i]
            i += 1
            if name == "conv":
                out, k = hp[0], hp[1]
                s = hp[2] if len(hp) > 2 and hp[2] > 0 else 1
                p = hp[3] if len(hp) > 3 else 0
                layers.append(nn.Conv2d(c, out, k, s, p))
                flat = False
                h, w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
                flop[0] += 2.0 * out * h * w * c * k * k
                c = out
            elif name == "bn":
                bn = nn.BatchNorm1d(c) if flat else nn.BatchNorm2d(c)
                if hp and hp[0] == 1:  # `bn 1`: gamma fixed at 1
                    bn.weight.requires_grad_(False)
                layers.append(bn)
            elif name == "whiten":  # frozen K x K conv with 2 C K^2 outputs (simnet: data-initialised)
                k = hp[0] if hp else 2
                out = 2 * c * k * k
                conv = nn.Conv2d(c, out, k, 1, 0)
                conv.weight.requires_grad_(False)
                layers.append(conv)
                h, w = h - k + 1, w - k + 1
                flop[0] += 2.0 * out * h * w * c * k * k
                c = out
            elif name == "gelu":
                layers.append(nn.GELU())
            elif name in ("maxpool", "avgpool"):
                k = hp[0]
                s = hp[1] if len(hp) > 1 and hp[1] > 0 else k
                layers.append((nn.MaxPool2d if name == "maxpool" else nn.AvgPool2d)(k, s))
                h, w = (h - k) // s + 1, (w - k) // s + 1
            elif name == "linear":
                if not flat:
                    layers.append(nn.Flatten())
                layers.append(nn.Linear(c * h * w, hp[0]))
                flat = True
                flop[0] += 2.0 * c * h * w * hp[0]
                c, h, w = hp[0], 1, 1
            elif name == "relu":
                layers.append(nn.ReLU())
            elif name == "flatten":
                layers.append(nn.Flatten())
                c, h, w = c * h * w, 1, 1
                flat = True
            elif name == "l2norm":
                layers.append(L2Norm())
            elif name == "skip":
                body, i, shape2 = build(i, (c, h, w), True)
                assert shape2 == (c, h, w), "add input shape differs from its skip"
                layers.append(Residual(body))
            elif name == "add":
                assert stop_at_add, "add without skip"
                return nn.Sequential(*layers), i, (c, h, w)
            else:
                raise ValueError("unknown layer %r in spec" % name)
        assert not stop_at_add, "skip without add"
        return nn.Sequential(*layers), i, (c, h, w)

    model, _, _ = build(0, in_shape, False)
    return model, flop[0]


def contrastive_loss(e1, e2, y, margin=MARGIN):
    d2 = ((e1 - e2) ** 2).sum(1)
    d = torch.sqrt(d2)
    return ((1 - y) * d2 + y * torch.clamp(margin - d, min=0) ** 2).mean()


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = struct.unpack(">I", raw[:4])[0] & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def make_batches(n_batches, n_images, data, shape):
    """n_batches distinct input tensors of n_images images of shape (cycled if needed)."""
    g = torch.Generator().manual_seed(0)
    if data and tuple(shape) == (1, 28, 28):
        imgs = read_idx(os.path.join(data, "mnist", "train-images-idx3-ubyte.gz"))
        x = torch.from_numpy(((imgs.astype(np.float32) / 255.0 - MEAN) / STD)
                             .astype(np.float32)).unsqueeze(1)
        idx = torch.randperm(len(x), generator=g)
        out = []
        for b in range(n_batches):
            sel = idx[(torch.arange(n_images) + b * n_images) % len(x)]
            out.append(x[sel].contiguous())
        return out
    return [torch.randn(n_images, *shape, generator=g) for _ in range(n_batches)]


def main():
    ap = argparse.ArgumentParser(description="PyTorch speed peer for simnet networks")
    ap.add_argument("--task", choices=["train", "embed", "latency"], default="train")
    ap.add_argument("--mode", choices=["tuned", "plain"], default="tuned")
    ap.add_argument("--spec", default=SEED_SPEC)
    ap.add_argument("--arch", default="seed", help="label of the RESULT lines")
    ap.add_argument("--in-shape", default="1,28,28")
    ap.add_argument("--width", default="1", help="label of the RESULT lines")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--reps", type=int, default=2000, help="latency: comparisons timed")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="train: pairs per step (2x images; default 128); embed: images "
                         "per batch (default 1024)")
    ap.add_argument("--data", default=None, help="use real MNIST from DIR/mnist (1x28x28 only)")
    ap.add_argument("--distinct-batches", type=int, default=4,
                    help="number of distinct pre-built input batches cycled through")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    if args.mode == "tuned":
        if "tcmalloc" not in os.environ.get("LD_PRELOAD", ""):
            print("warning: tuned mode without tcmalloc in LD_PRELOAD", file=sys.stderr)
        if os.environ.get("OPENBLAS_NUM_THREADS") != "1":
            print("warning: tuned mode without OPENBLAS_NUM_THREADS=1", file=sys.stderr)
    load0 = os.getloadavg()[0]
    torch.manual_seed(1)
    shape = tuple(int(v) for v in args.in_shape.split(","))
    model, flop = build_from_spec(args.spec, shape)
    fmt = torch.channels_last if args.mode == "tuned" else torch.contiguous_format
    model = model.to(memory_format=fmt)
    emb_dim = model(torch.zeros(2, *shape)).shape[1]
    tag = "arch=%s embed_dim=%d width=%s threads=%d mode=%s" % (
        args.arch, emb_dim, args.width, args.threads, args.mode)

    if args.task == "latency":
        model.eval()
        xs = [x.contiguous(memory_format=fmt) for x in make_batches(8, 2, args.data, shape)]
        t = []
        with torch.inference_mode():
            for i in range(-50, args.reps):
                t0 = time.perf_counter()
                e = model(xs[i % len(xs)])
                d = float(torch.sqrt(((e[0] - e[1]) ** 2).sum()))
                if i >= 0:
                    t.append(time.perf_counter() - t0)
        assert np.isfinite(d)
        t = np.sort(np.array(t))
        print("RESULT case=latency %s value=%.1f unit=us p99_us=%.1f mean_us=%.1f reps=%d "
              "load=%.2f" % (tag, 1e6 * t[len(t) // 2], 1e6 * t[int(0.99 * (len(t) - 1))],
                             1e6 * t.mean(), len(t), load0), flush=True)
        return 0

    if args.task == "train":
        B = args.batch_size or 128
        n_img = 2 * B
    else:
        B = n_img = args.batch_size or 1024
    xs = [x.contiguous(memory_format=fmt) for x in
          make_batches(args.distinct_batches, n_img, args.data, shape)]
    total = args.warmup + args.steps

    if args.task == "train":
        y = torch.zeros(B)
        y[B // 2:] = 1.0
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        model.train()

        def step(i):
            opt.zero_grad(set_to_none=True)
            e = model(xs[i % len(xs)])
            loss = contrastive_loss(e[:B], e[B:], y)
            loss.backward()
            opt.step()
            return loss
        unit, per_step = "pairs/s", B
    else:
        model.eval()

        def step(i):
            with torch.inference_mode():
                return model(xs[i % len(xs)])
        unit, per_step = "images/s", n_img

    for i in range(args.warmup):
        step(i)
    t0 = time.perf_counter()
    for i in range(args.warmup, total):
        out = step(i)
    dt = time.perf_counter() - t0
    if args.task == "train":
        assert torch.isfinite(out).item(), "non-finite loss"
    value = args.steps * per_step / dt
    print("# %s %s steps=%d warmup=%d batch=%d (%d images) %.3f s (%.2f ms/step) "
          "forward %.2f MFLOP/image"
          % (args.task, tag, args.steps, args.warmup, B, n_img, dt,
             1e3 * dt / max(args.steps, 1), flop * 1e-6))
    if args.task == "train":
        print("RESULT case=train %s value=%.1f unit=pairs/s images_per_s=%.1f "
              "flop_per_image=%.4g batch=%d load=%.2f"
              % (tag, value, 2 * value, 3 * flop, B, load0), flush=True)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0
        print("RESULT case=memory %s value=%.1f unit=MB batch=%d load=%.2f"
              % (tag, rss / 1e6, B, load0), flush=True)
    else:
        print("RESULT case=embed %s value=%.1f unit=images/s flop_per_image=%.4g batch=%d "
              "load=%.2f" % (tag, value, flop, n_img, load0), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
