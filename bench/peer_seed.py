#!/usr/bin/python3
"""PyTorch speed peer for the simnet "seed" Siamese network.

    /usr/bin/python3 bench/peer_seed.py [--task train|embed] [--mode tuned|plain]
        [--threads 2] [--steps 100] [--warmup 10] [--batch-size 128] [--data DIR]

--task train : Siamese training steps exactly as the simnet trainer does them:
               one forward of torch.cat([x1, x2]) (2 x batch-size images, BN over all),
               contrastive loss (margin 5), backward, Adam(lr 1e-3). Reports pairs/s.
--task embed : eval-mode forward (torch.inference_mode) of batches of 256 images.
               Reports images/s.
--mode plain : torch.set_num_threads(threads) only.
--mode tuned : torch.set_num_threads(threads), model and inputs in channels_last;
               meant to be launched with LD_PRELOAD=libtcmalloc_minimal.so.4 and
               OPENBLAS_NUM_THREADS=1 (bench/run_peer.sh does that; a warning is printed
               on stderr otherwise).
Data: random-but-fixed MNIST-shaped inputs (standard normal, seed 0) unless --data DIR
is given, in which case real normalised MNIST train images are used. Batches are
pre-built before timing, so only the network step is measured.

Output (stdout, last line), e.g.:
    RESULT case=seed_train mode=tuned threads=2 value=1234.5 unit=pairs/s
"""
import argparse
import gzip
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


def make_batches(n_batches, n_images, data):
    """n_batches distinct input tensors of n_images 1x28x28 images (cycled if needed)."""
    g = torch.Generator().manual_seed(0)
    if data:
        imgs = read_idx(os.path.join(data, "mnist", "train-images-idx3-ubyte.gz"))
        x = torch.from_numpy(((imgs.astype(np.float32) / 255.0 - MEAN) / STD)
                             .astype(np.float32)).unsqueeze(1)
        idx = torch.randperm(len(x), generator=g)
        out = []
        for b in range(n_batches):
            sel = idx[(torch.arange(n_images) + b * n_images) % len(x)]
            out.append(x[sel].contiguous())
        return out
    return [torch.randn(n_images, 1, 28, 28, generator=g) for _ in range(n_batches)]


def main():
    ap = argparse.ArgumentParser(description="PyTorch speed peer for the simnet seed model")
    ap.add_argument("--task", choices=["train", "embed"], default="train")
    ap.add_argument("--mode", choices=["tuned", "plain"], default="tuned")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=128,
                    help="pairs per training step (2x images); embed uses 2x this many images")
    ap.add_argument("--data", default=None, help="use real MNIST from DIR/mnist instead of random data")
    ap.add_argument("--distinct-batches", type=int, default=8,
                    help="number of distinct pre-built input batches cycled through")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    if args.mode == "tuned":
        if "tcmalloc" not in os.environ.get("LD_PRELOAD", ""):
            print("warning: tuned mode without tcmalloc in LD_PRELOAD", file=sys.stderr)
        if os.environ.get("OPENBLAS_NUM_THREADS") != "1":
            print("warning: tuned mode without OPENBLAS_NUM_THREADS=1", file=sys.stderr)
    torch.manual_seed(1)
    model = build_model()
    fmt = torch.channels_last if args.mode == "tuned" else torch.contiguous_format
    model = model.to(memory_format=fmt)

    B = args.batch_size
    n_img = 2 * B
    xs = [x.contiguous(memory_format=fmt) for x in
          make_batches(args.distinct_batches, n_img, args.data)]
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
        case, unit, per_step = "seed_train", "pairs/s", B
    else:
        model.eval()

        def step(i):
            with torch.inference_mode():
                return model(xs[i % len(xs)])
        case, unit, per_step = "seed_embed", "images/s", n_img

    for i in range(args.warmup):
        step(i)
    t0 = time.perf_counter()
    for i in range(args.warmup, total):
        out = step(i)
    dt = time.perf_counter() - t0
    if args.task == "train":
        assert torch.isfinite(out).item(), "non-finite loss"
    value = args.steps * per_step / dt
    print("# %s mode=%s threads=%d steps=%d warmup=%d batch=%d pairs (%d images) %.3f s (%.2f ms/step)"
          % (args.task, args.mode, args.threads, args.steps, args.warmup, B, n_img, dt,
             1e3 * dt / max(args.steps, 1)))
    print("RESULT case=%s mode=%s threads=%d value=%.1f unit=%s"
          % (case, args.mode, args.threads, value, unit), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
