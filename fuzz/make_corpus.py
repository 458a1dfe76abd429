#!/usr/bin/python3
"""make_corpus.py -- regenerate the committed fuzz seed corpora (fuzz/corpus/<target>/)
and the malformed-input corpus (tests/malformed/). Tool only (needs python3 with PIL
for the JPEG/PNG seeds); never needed to build, run or test simnet.

    /usr/bin/python3 fuzz/make_corpus.py          # from the repository root

Every file is small (< 20 KB) and made here from scratch; rerunning reproduces them
byte for byte (fixed content, no timestamps).
"""
import io
import gzip
import math
import os
import shutil
import struct
import zlib

from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FUZZ = os.path.join(ROOT, "fuzz", "corpus")
MAL = os.path.join(ROOT, "tests", "malformed")


def put(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def gz(data):
    return gzip.compress(data, compresslevel=6, mtime=0)


# ------------------------------------------------------------------ model file
def model_bytes(spec, inp, n_params, n_bufs, *, version=1, extra="", params=None, bufs=None,
                np_hdr=None, hlen=None, crc_ok=True, arch="custom"):
    """A model file in format version 1 (docs/model-format.md)."""
    hdr = (f"arch={arch}\nspec={spec}\ninput={inp}\nmean=0.5 0.5 0.5\nstd=0.25 0.25 0.25\n"
           f"threshold=1.5\n{extra}n_params={n_params if np_hdr is None else np_hdr}\n"
           f"n_bufs={n_bufs}\nmeta.dataset=mnist\n").encode()
    if params is None:
        params = [math.sin(0.7 * i) * 0.1 for i in range(n_params)]
    if bufs is None:
        bufs = [float(i % 2) for i in range(n_bufs)]
    b = b"SNMODEL\0" + struct.pack("<II", version, len(hdr) if hlen is None else hlen) + hdr
    b += struct.pack("<Q", len(params)) + struct.pack(f"<{len(params)}f", *params)
    b += struct.pack("<Q", len(bufs)) + struct.pack(f"<{len(bufs)}f", *bufs)
    crc = zlib.crc32(b) & 0xFFFFFFFF
    return b + struct.pack("<I", crc if crc_ok else crc ^ 1)


# Small architectures with their parameter / buffer counts (checked by loading).
M28 = ("flatten; linear 2", "1 28 28", 2 * 784 + 2, 0)
M6 = ("conv 2 3 1 1; bn; relu; maxpool 2; flatten; linear 3; l2norm", "1 6 6", 20 + 4 + 57, 4)
M8 = ("conv 4 3 2 1; bn; avgpool 2; flatten; linear 4; bn; linear 2", "3 8 8",
      112 + 8 + 68 + 8 + 10, 16)
OPS = "op=far=0.001 0.8 0.001 0.4 0.99 0.5 0.7 1000\nop=f1 1.2 0.1 0.9 0.9 0.9 0.9 1000\n"


# ------------------------------------------------------------------ IDX / CIFAR
def idx_images(n, r, c, seed=0, magic=0x803, hdr_n=None):
    px = bytes((i * 37 + seed * 11 + (i // (r * c)) * 50) % 256 for i in range(n * r * c))
    return struct.pack(">IIII", magic, n if hdr_n is None else hdr_n, r, c) + px


def idx_labels(labels, magic=0x801, hdr_n=None):
    return struct.pack(">II", magic, len(labels) if hdr_n is None else hdr_n) + bytes(labels)


def cifar_records(labels, nlab=1):
    out = b""
    for i, lab in enumerate(labels):
        lab = lab if isinstance(lab, tuple) else (lab,)
        out += bytes(lab[:nlab]) + bytes((i * 7 + k * 3) % 256 for k in range(3072))
    return out


# ------------------------------------------------------------------ images
def pil_bytes(img, fmt, **kw):
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    return b.getvalue()


def gradient(mode, w, h):
    img = Image.new("RGB", (w, h))
    img.putdata([((x * 40) % 256, (y * 50) % 256, ((x + y) * 30) % 256)
                 for y in range(h) for x in range(w)])
    if mode == "CMYK":
        return img.convert("CMYK")
    return img.convert(mode)


def png_chunk(t, data):
    return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data))


def png_raw(w, h, depth=8, ctype=0, interlace=0, rows=None, crc_ok=True):
    """Hand-made PNG (also what PIL cannot write: interlaced)."""
    sig = b"\x89PNG\r\n\x1a\n"
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, interlace)
    if rows is None:
        ch = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
        bpr = (w * ch * depth + 7) // 8
        if interlace:  # Adam7: 7 sub-images, each row with a filter byte
            raw = b""
            for (x0, y0, dx, dy) in [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4),
                                     (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]:
                sw = (w - x0 + dx - 1) // dx if w > x0 else 0
                sh = (h - y0 + dy - 1) // dy if h > y0 else 0
                if sw and sh:
                    sbpr = (sw * ch * depth + 7) // 8
                    raw += b"".join(b"\0" + bytes((y * 17 + k) % 256 for k in range(sbpr))
                                    for y in range(sh))
        else:
            raw = b"".join(b"\0" + bytes((y * 17 + k) % 256 for k in range(bpr)) for y in range(h))
    else:
        raw = rows
    c = png_chunk(b"IHDR", ihdr)
    if not crc_ok:
        c = c[:-4] + bytes([c[-4] ^ 0xFF]) + c[-3:]
    return sig + c + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b"")


def npy(descr, shape, data, version=1):
    d = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, str(tuple(shape)))
    hl = 10 if version == 1 else 12
    pad = (64 - (hl + len(d) + 1) % 64) % 64
    h = (d + " " * pad + "\n").encode()
    return (b"\x93NUMPY" + bytes([version, 0]) +
            (struct.pack("<H", len(h)) if version == 1 else struct.pack("<I", len(h))) + h + data)


# ================================================================= fuzz seeds
def fuzz_seeds():
    for t in ("fuzz_modelfile", "fuzz_idx", "fuzz_cifar", "fuzz_image", "fuzz_arch", "fuzz_cli",
              "fuzz_npy"):  # fuzz_gallery's seeds come from fuzz/make_gallery_seeds.sh
        shutil.rmtree(os.path.join(FUZZ, t), ignore_errors=True)
    d = os.path.join(FUZZ, "fuzz_modelfile")
    put(f"{d}/linear28.snm", model_bytes(*M28))
    put(f"{d}/conv6.snm", model_bytes(*M6, extra=OPS))
    put(f"{d}/conv8.snm", model_bytes(*M8, arch="custom"))

    d = os.path.join(FUZZ, "fuzz_idx")
    lab = idx_labels([0, 3, 9])
    img = idx_images(3, 4, 5)
    for flags in range(8):
        L = gz(lab) if flags & 2 else lab
        I = gz(img) if flags & 1 else img
        put(f"{d}/seed{flags}", bytes([flags]) + struct.pack("<H", len(L)) + L + I)

    d = os.path.join(FUZZ, "fuzz_cifar")
    names10 = b"".join(b"class%d\n" % k for k in range(10))
    r10 = cifar_records([0, 9])
    r100 = cifar_records([(19, 99), (0, 5)], nlab=2)
    put(f"{d}/c10", bytes([0]) + struct.pack("<H", 0) + r10)
    put(f"{d}/c10gz_names", bytes([8 | 2]) + struct.pack("<H", len(names10)) + names10 + gz(r10))
    put(f"{d}/c100", bytes([1]) + struct.pack("<H", 0) + r100)
    names20 = b"".join(b"coarse%d\r\n" % k for k in range(20))
    put(f"{d}/c100coarse", bytes([1 | 4 | 8]) + struct.pack("<H", len(names20)) + names20 + r100)

    d = os.path.join(FUZZ, "fuzz_image")
    pre = bytes([1, 7, 9])   # 3 channels, 8x10 output
    grey = bytes([0, 3, 3])  # 1 channel, 4x4
    put(f"{d}/grey.png", grey + pil_bytes(gradient("L", 5, 4), "PNG"))
    put(f"{d}/rgb.png", pre + pil_bytes(gradient("RGB", 6, 5), "PNG"))
    put(f"{d}/rgba.png", pre + pil_bytes(gradient("RGBA", 4, 4), "PNG"))
    put(f"{d}/la.png", grey + pil_bytes(gradient("LA", 4, 3), "PNG"))
    put(f"{d}/pal.png", pre + pil_bytes(gradient("RGB", 5, 5).convert("P"), "PNG"))
    put(f"{d}/pal_trns.png", pre + pil_bytes(gradient("RGB", 4, 4).convert("P"), "PNG",
                                              transparency=0))
    put(f"{d}/grey16.png", grey + pil_bytes(gradient("L", 4, 4).convert("I;16"), "PNG"))
    put(f"{d}/grey1bit.png", grey + pil_bytes(gradient("L", 9, 3).convert("1"), "PNG"))
    put(f"{d}/interlaced.png", pre + png_raw(9, 9, 8, 2, interlace=1))
    put(f"{d}/rgb16.png", pre + png_raw(3, 2, 16, 2))
    put(f"{d}/grey.jpg", grey + pil_bytes(gradient("L", 8, 8), "JPEG", quality=50))
    put(f"{d}/rgb.jpg", pre + pil_bytes(gradient("RGB", 12, 9), "JPEG", quality=50))
    put(f"{d}/prog.jpg", pre + pil_bytes(gradient("RGB", 16, 16), "JPEG", quality=50,
                                          progressive=True))
    put(f"{d}/cmyk.jpg", pre + pil_bytes(gradient("CMYK", 8, 8), "JPEG", quality=50))
    put(f"{d}/p5.pgm", grey + b"P5\n# c\n4 3\n255\n" + bytes(range(0, 240, 20)))
    put(f"{d}/p5_16.pgm", grey + b"P5 2 2 65535\n" + bytes([0, 1, 255, 255, 128, 0, 9, 9]))
    put(f"{d}/p2.pgm", pre + b"P2\n3 2\n15\n0 5 10\n15 3 7\n")
    put(f"{d}/p6.ppm", pre + b"P6\n2 2\n255\n" + bytes(range(12)))
    put(f"{d}/p3.ppm", grey + b"P3 2 1 255\n255 0 0  0 0 255\n")

    d = os.path.join(FUZZ, "fuzz_arch")
    for i, (c, s, spec) in enumerate([
            (0, 27, "conv 32 3 1 1; bn; maxpool 2; conv 64 3 1 1; bn; maxpool 2; conv 128 3 1 0; bn; "
                    "avgpool 5; flatten; linear 64; bn; linear 2"),
            (0, 27, "seed"),
            (2, 15, "conv 8 3 2 1 # stride 2\nbn\nrelu\navgpool 2 2\nflatten\nlinear 16\nl2norm"),
            (1, 9, "conv 4 5 1 2; relu; maxpool 3 1; flatten; linear 8; bn; relu; linear 3"),
            (0, 0, "flatten; linear 1")]):
        put(f"{d}/spec{i}", bytes([c, s]) + spec.encode())

    d = os.path.join(FUZZ, "fuzz_cli")
    for i, args in enumerate([
            ["--model", "m.snm", "a.png", "b.png"], ["--epochs=3", "--lr", "1e-3", "--flip"],
            ["--seed", "18446744073709551615", "--max-steps", "-5"], ["--help"],
            ["--lr", "nan"], ["--epochs", "99999999999"], ["--", "x", "y", "z", "w"],
            ["--flip=1"], ["--model"]]):
        put(f"{d}/args{i}", b"\0".join(a.encode() for a in args))

    d = os.path.join(FUZZ, "fuzz_npy")
    put(f"{d}/f4.npy", npy("<f4", (2, 3), struct.pack("<6f", *[0.5 * i for i in range(6)])))
    put(f"{d}/i4.npy", npy("<i4", (4,), struct.pack("<4i", 1, -2, 3, 4)))
    put(f"{d}/v2.npy", npy("<f4", (1, 1, 2), struct.pack("<2f", 1, 2), version=2))
    put(f"{d}/scalar.npy", npy("<f4", (), struct.pack("<f", 3.5)))


# ================================================================= malformed
CASES = []  # (kind, relative path, expected message fragment)


def case(kind, rel, expect, data=None):
    if data is not None:
        put(os.path.join(MAL, rel), data)
    CASES.append((kind, rel, expect))


def idx_case(name, expect, images, labels):
    """A data directory <name>/mnist/ with the same files for the train and test splits."""
    for pre in ("train", "t10k"):
        put(os.path.join(MAL, "idx", name, "mnist", f"{pre}-images-idx3-ubyte"), images)
        put(os.path.join(MAL, "idx", name, "mnist", f"{pre}-labels-idx1-ubyte"), labels)
    CASES.append(("idx", f"idx/{name}", expect))


def cifar_case(name, expect, data, c100=False):
    sub = "cifar-100-binary" if c100 else "cifar-10-batches-bin"
    files = ["train.bin", "test.bin"] if c100 else ["data_batch_1.bin", "test_batch.bin"]
    if name == "names-wrong-count":  # the names are read after every batch of the split
        files += [f"data_batch_{k}.bin" for k in range(2, 6)]
    for f in files:
        put(os.path.join(MAL, "cifar", name, sub, f), data)
    CASES.append(("cifar100" if c100 else "cifar10", f"cifar/{name}", expect))


def malformed():
    shutil.rmtree(MAL, ignore_errors=True)
    # Valid inputs the cases are combined with.
    labs = [i % 10 for i in range(20)]
    for pre in ("train", "t10k"):
        put(f"{MAL}/valid/data/mnist/{pre}-images-idx3-ubyte", idx_images(20, 28, 28))
        put(f"{MAL}/valid/data/mnist/{pre}-labels-idx1-ubyte", idx_labels(labs))
    put(f"{MAL}/valid/model.snm", model_bytes(*M28))
    put(f"{MAL}/valid/a.pgm", b"P5 3 3 255\n" + bytes(range(0, 90, 10)))

    # ---- model files
    full = model_bytes(*M28)
    case("model", "model/empty.snm", "not a simnet model file", b"")
    case("model", "model/wrong-magic.snm", "bad magic", b"SNMODEX\0" + full[8:])
    case("model", "model/truncated.snm", "does not fit", full[:20])
    case("model", "model/truncated-data.snm", "checksum mismatch", full[:len(full) // 2])
    case("model", "model/bad-crc.snm", "checksum mismatch", model_bytes(*M28, crc_ok=False))
    case("model", "model/version2.snm", "version 2 is not supported", model_bytes(*M28, version=2))
    case("model", "model/header-overflow.snm", "does not fit",
         model_bytes(*M28, hlen=0xFFFFFFF0))
    case("model", "model/count-mismatch.snm", "header says 1000 parameters",
         model_bytes(*M28, np_hdr=1000))
    case("model", "model/bad-spec.snm", "unknown layer 'linaer'",
         model_bytes("flatten; linaer 2", "1 28 28", 1570, 0))
    case("model", "model/huge-input.snm", "input shape",
         model_bytes("flatten; linear 2", "3 100000 100000", 1570, 0))
    case("model", "model/overflow-input.snm", "header field 'input' has a bad value",
         model_bytes("flatten; linear 2", "1 99999999999999999999 28", 1570, 0))
    p = [0.01] * M28[2]
    p[1234] = float("nan")
    case("model", "model/nan-weight.snm", "layer 2 (linear) weight[1234] is not finite (NaN",
         model_bytes(*M28, params=p))
    p = [0.01] * M28[2]
    p[1569] = float("inf")
    case("model", "model/inf-bias.snm", "layer 2 (linear) bias[1] is not finite (Inf",
         model_bytes(*M28, params=p))
    b = [1.0] * M6[3]
    b[3] = float("-inf")
    case("model", "model/inf-running-var.snm", "layer 2 (bn) running_var[1] is not finite (Inf",
         model_bytes(*M6, bufs=b))
    case("model", "model/bad-std.snm", "header field 'std' has a bad value",
         model_bytes(*M28, extra="std=0 1 1\n"))
    case("model", "model/bad-op.snm", "header field 'op' has a bad value",
         model_bytes(*M28, extra="op=far=0.01 nan 0 0 0 0 0 1\n"))
    case("model", "model/header-no-equals.snm", "has no '='",
         model_bytes(*M28, extra="garbage line\n"))
    case("model", "model/not-a-model.snm", "bad magic", b"P5 3 3 255\n" + bytes(9))

    # ---- IDX (MNIST layout)
    img, lab = idx_images(20, 8, 8), idx_labels(labs)  # small: the loader fails first
    idx_case("empty-images", "empty file", b"", lab)
    idx_case("empty-labels", "empty file", img, b"")
    idx_case("truncated-header", "truncated header", img[:10], lab)
    idx_case("truncated-images", "truncated: expected 1280 bytes", img[:-100], lab)
    idx_case("truncated-labels", "truncated: expected 20 bytes", img, lab[:-3])
    idx_case("trailing-bytes", "trailing byte", img + b"xyz", lab)
    idx_case("wrong-magic", "bad magic 0x00000802", struct.pack(">I", 0x802) + img[4:], lab)
    idx_case("swapped-files", "this is a label file", lab, img)
    idx_case("count-mismatch", "labels but", img, idx_labels(labs[:19]))
    idx_case("zero-images", "image count 0", idx_images(0, 8, 8), idx_labels([]))
    idx_case("huge-dims", "out of range 1..4096", struct.pack(">IIII", 0x803, 20, 70000, 70000),
             lab)
    idx_case("overflow-count", "image count 4294967295",
             struct.pack(">IIII", 0x803, 0xFFFFFFFF, 4096, 4096), lab)
    idx_case("huge-count-truncated", "truncated",
             struct.pack(">IIII", 0x803, 2000000000, 4096, 4096) + bytes(100),
             struct.pack(">II", 0x801, 2000000000) + bytes(100))
    idx_case("label-out-of-range", "label 10 at record 7", img,
             idx_labels(labs[:7] + [10] + labs[8:]))
    idx_case("corrupt-gzip", "", img, lab)  # placeholder replaced below
    CASES.pop()
    for pre in ("train", "t10k"):
        bad = bytearray(gz(img))
        bad[30:60] = bytes(30)
        put(os.path.join(MAL, "idx", "corrupt-gzip", "mnist", f"{pre}-images-idx3-ubyte.gz"),
            bytes(bad))
        put(os.path.join(MAL, "idx", "corrupt-gzip", "mnist", f"{pre}-labels-idx1-ubyte.gz"),
            gz(lab))
        os.remove(os.path.join(MAL, "idx", "corrupt-gzip", "mnist", f"{pre}-images-idx3-ubyte"))
        os.remove(os.path.join(MAL, "idx", "corrupt-gzip", "mnist", f"{pre}-labels-idx1-ubyte"))
    CASES.append(("idx", "idx/corrupt-gzip", "read error"))

    # ---- CIFAR
    rec = cifar_records([3, 1])
    cifar_case("empty", "empty file", b"")
    cifar_case("truncated-record", "last record 1 is truncated", rec[:-1000])
    cifar_case("label-out-of-range", "record 1 (byte offset 3073): label 10 out of range",
               cifar_records([3, 10]))
    cifar_case("fine-label-out-of-range", "fine label 100 out of range",
               cifar_records([(1, 2), (3, 100)], nlab=2), c100=True)
    cifar_case("coarse-label-out-of-range", "coarse label 20 out of range",
               cifar_records([(20, 2)], nlab=2), c100=True)
    cifar_case("names-wrong-count", "class name(s), expected 10", rec)
    put(os.path.join(MAL, "cifar", "names-wrong-count", "cifar-10-batches-bin", "batches.meta.txt"),
        b"cat\ndog\n")

    # ---- images (simnet compare, and inside a folder dataset)
    good_png = pil_bytes(gradient("RGB", 8, 8), "PNG")
    good_jpg = pil_bytes(gradient("RGB", 16, 16), "JPEG", quality=60)
    case("image", "image/empty.png", "unsupported image format (empty file)", b"")
    case("image", "image/unsupported.bmp", "unsupported image format",
         pil_bytes(gradient("RGB", 4, 4), "BMP"))
    case("image", "image/png-truncated.png", "corrupt or unsupported PNG", good_png[:60])
    case("image", "image/png-bad-crc.png", "corrupt or unsupported PNG",
         png_raw(4, 4, crc_ok=False))
    case("image", "image/png-zero-width.png", "corrupt or unsupported PNG", png_raw(0, 4))
    case("image", "image/png-huge.png", "PNG too large", png_raw(100000, 4, rows=b""))
    case("image", "image/png-bad-signature.png", "bad PNG signature", b"\x89PNX\r\n\x1a\n1234")
    case("image", "image/jpeg-truncated.jpg", "corrupt, truncated or unsupported JPEG",
         good_jpg[:len(good_jpg) // 2])
    case("image", "image/jpeg-header-only.jpg", "corrupt, truncated or unsupported JPEG",
         good_jpg[:20])
    case("image", "image/jpeg-bad-signature.jpg", "bad JPEG signature", b"\xff\xd8\x00\x00")
    case("image", "image/pgm-truncated.pgm", "truncated", b"P5 4 4 255\n" + bytes(10))
    case("image", "image/pgm-huge.pgm", "too large", b"P5 16385 2 255\n" + bytes(10))
    case("image", "image/pgm-big-header-short-file.pgm",
         "truncated: expected 805306368 bytes of PPM pixel data (16384x16384), got 10",
         b"P6 16384 16384 255\n" + bytes(10))
    case("image", "image/pgm-ascii-big-header-short-file.pgm",
         "truncated: expected at least 199999999 bytes", b"P2 10000 10000 255\n1 2 3\n")
    case("image", "image/pgm-overflow.pgm", "bad P5 (PGM) header",
         b"P5 99999999999999999999 99999999999999999999 255\n")
    case("image", "image/pgm-zero.pgm", "zero or negative image size", b"P5 0 4 255\n")
    case("image", "image/pgm-maxval0.pgm", "maxval 0 out of range", b"P5 2 2 0\n" + bytes(4))
    case("image", "image/pgm-sample-over-maxval.pgm", "exceeds maxval",
         b"P2 2 1 15\n3 16\n")
    case("image", "image/ppm-ascii-junk.ppm", "malformed ASCII P3", b"P3 1 1 255\n1 2 x\n")

    # ---- architecture text specs (simnet train --arch "$(cat FILE)")
    case("spec", "spec/unknown-layer.txt", "unknown layer 'conv2d'", b"conv2d 32 3; flatten; linear 2")
    case("spec", "spec/bad-number.txt", "bad number '3x'", b"conv 8 3x; flatten; linear 2")
    case("spec", "spec/negative.txt", "bad number '-1'", b"conv 8 3 -1; flatten; linear 2")
    case("spec", "spec/too-many-numbers.txt", "takes at most 1 numbers",
         b"flatten; linear 2 3")
    case("spec", "spec/missing-numbers.txt", "needs more numbers", b"conv; flatten; linear 2")
    case("spec", "spec/huge-number.txt", "bad number '99999999999'",
         b"flatten; linear 99999999999")
    case("spec", "spec/kernel-too-big.txt", "does not fit", b"conv 4 40; flatten; linear 2")
    case("spec", "spec/not-a-vector.txt", "end with flatten/linear", b"conv 4 3 1 1; bn")
    case("spec", "spec/no-layers.txt", "no layers", b" ; # only a comment\n;")
    case("spec", "spec/too-long.txt", "longer than 1023", b"relu; " * 200 + b"flatten; linear 2")
    case("spec", "spec/too-many-layers.txt", "more than 64 layers",
         b"relu; " * 70 + b"flatten; linear 2")

    with open(os.path.join(MAL, "cases.txt"), "w") as f:
        f.write("# KIND PATH EXPECTED-MESSAGE-FRAGMENT (made by fuzz/make_corpus.py; read by\n"
                "# tests/cli_malformed.sh). PATH is relative to tests/malformed/.\n")
        for kind, rel, expect in CASES:
            f.write(f"{kind}\t{rel}\t{expect}\n")


if __name__ == "__main__":
    fuzz_seeds()
    malformed()
    print(f"wrote {FUZZ} and {MAL} ({len(CASES)} malformed cases)")
