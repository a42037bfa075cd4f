#!/usr/bin/python3
"""Writes the seed corpora of the libFuzzer harnesses into fuzz/corpus/<harness>/.

Deterministic (fixed seeds, gzip mtime 0), standard library only; numpy, when the Debian
interpreter has it, adds pickles written by numpy itself to the CIFAR-10 python seeds.
Usage: /usr/bin/python3 fuzz/make_corpus.py [--fashion-mnist DIR]
Seeds are small: three Fashion-MNIST images at most, one or two CIFAR-10 records.
"""

import argparse
import gzip
import os
import pickle
import random
import shutil
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "corpus")


def gz(data, level=9):
    return gzip.compress(data, compresslevel=level, mtime=0)


def write_all(harness, seeds):
    d = os.path.join(CORPUS, harness)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name, data in seeds:
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print(f"{harness}: {len(seeds)} seeds, {sum(len(s) for _, s in seeds)} bytes")


# --- IDX ------------------------------------------------------------------------------------

def idx_images(n, rows, cols, pixels):
    return struct.pack(">IIII", 2051, n, rows, cols) + pixels


def idx_labels(n, labels):
    return struct.pack(">II", 2049, n) + labels


def idx_input(flags, images, labels):
    """Harness input: flags byte, little-endian image length, image part, label part."""
    return bytes([flags]) + struct.pack("<I", len(images)) + images + labels


def gzip_with_all_header_fields(data):
    """A gzip member with FEXTRA, FNAME, FCOMMENT and FHCRC set (zlib checks the header CRC)."""
    header = bytearray(b"\x1f\x8b\x08\x1e" + b"\x00" * 4 + b"\x00\x03")
    header += struct.pack("<H", 4) + b"AB\x00\x00"
    header += b"images.idx\x00" + b"seed\x00"
    header += struct.pack("<H", zlib.crc32(bytes(header)) & 0xFFFF)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = comp.compress(data) + comp.flush()
    return bytes(header) + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def idx_seeds(fmnist_dir):
    n = 3
    try:
        with gzip.open(os.path.join(fmnist_dir, "t10k-images-idx3-ubyte.gz")) as f:
            head = f.read(16 + n * 784)
        with gzip.open(os.path.join(fmnist_dir, "t10k-labels-idx1-ubyte.gz")) as f:
            lhead = f.read(8 + n)
        pixels, labels = head[16:], lhead[8:]
    except OSError:
        rnd = random.Random(1)
        pixels = bytes(rnd.randrange(256) for _ in range(n * 784))
        labels = bytes([9, 2, 1])
    img = idx_images(n, 28, 28, pixels)
    lab = idx_labels(n, labels)
    small_img = idx_images(2, 3, 2, bytes(range(12)))
    small_lab = idx_labels(2, b"\x00\x09")
    s = [
        # valid, each way of reaching parse_idx
        ("valid_raw", idx_input(0x00, img, lab)),
        ("valid_small_raw", idx_input(0x00, small_img, small_lab)),
        ("valid_gz", idx_input(0x05, gz(img), gz(lab))),
        ("valid_gz_level1", idx_input(0x05, gz(img, 1), gz(lab, 1))),
        ("valid_harness_gz", idx_input(0x0A, small_img, small_lab)),
        ("valid_file_raw", idx_input(0x0F, small_img, small_lab)),
        ("valid_file_gz", idx_input(0x3F, gz(small_img), gz(small_lab))),
        ("valid_gz_small_limit", idx_input(0x45, gz(small_img), gz(small_lab))),
        ("valid_gz_header_fields", idx_input(0x01, gzip_with_all_header_fields(small_img),
                                             small_lab)),
        ("valid_gz_two_members", idx_input(0x05, gz(small_img[:7]) + gz(small_img[7:]),
                                           gz(small_lab))),
        ("valid_gz_stored", idx_input(0x05, gz(small_img, 0), gz(small_lab, 0))),
        # near-valid IDX
        ("truncated_images", idx_input(0x00, small_img[:-3], small_lab)),
        ("trailing_images", idx_input(0x00, small_img + b"\x00", small_lab)),
        ("label_10", idx_input(0x00, small_img, idx_labels(2, b"\x00\x0a"))),
        ("label_count_mismatch", idx_input(0x00, small_img, idx_labels(1, b"\x00"))),
        ("label_truncated", idx_input(0x00, small_img, idx_labels(3, b"\x00"))),
        ("swapped_files", idx_input(0x00, small_lab, small_img)),
        ("huge_dims", idx_input(0x00, idx_images(0x80000000, 0x80000000, 0x80000000, b""),
                                small_lab)),
        ("huge_n_max_side", idx_input(0x00, idx_images(0xFFFFFFFF, 4096, 4096, b"\x00" * 8),
                                      idx_labels(0xFFFFFFFF, b""))),
        ("zero_rows", idx_input(0x00, idx_images(2, 0, 2, b""), small_lab)),
        ("zero_images", idx_input(0x00, idx_images(0, 3, 2, b""), idx_labels(0, b""))),
        ("short_header", idx_input(0x00, small_img[:9], small_lab)),
        ("empty_labels", idx_input(0x00, small_img, b"")),
        # near-valid gzip
        ("gz_truncated", idx_input(0x05, gz(small_img)[:-6], gz(small_lab))),
        ("gz_bad_crc", idx_input(0x05, gz(small_img)[:-8] + b"\x00\x00\x00\x00" +
                                 gz(small_img)[-4:], gz(small_lab))),
        ("gz_bad_length", idx_input(0x05, gz(small_img)[:-4] + b"\xff\x00\x00\x00",
                                    gz(small_lab))),
        ("gz_trailing_garbage", idx_input(0x05, gz(small_img) + b"\x00\x01", gz(small_lab))),
        ("gz_empty", idx_input(0x05, gz(b""), gz(small_lab))),
        ("gz_not_gzip", idx_input(0x05, small_img, gz(small_lab))),
        ("gz_one_byte", idx_input(0x05, b"\x1f", gz(small_lab))),
        ("gz_bomb_small_limit", idx_input(0x45, gz(b"\x00" * 20000), gz(small_lab))),
        ("file_not_gzip_named_gz", idx_input(0x3F, small_img, small_lab)),
        ("file_empty", idx_input(0x0F, b"", small_lab)),
    ]
    return s


# --- CIFAR-10 binary ----------------------------------------------------------------------------

def cifar_pixels(rnd, n):
    return bytes(rnd.randrange(256) for _ in range(n * 3072))


def cifar_binary_seeds():
    rnd = random.Random(2)
    px = cifar_pixels(rnd, 2)
    rec0 = b"\x03" + px[:3072]
    rec1 = b"\x08" + px[3072:]
    return [
        ("one_record", rec0),
        ("two_records", rec0 + rec1),
        ("label_10", rec0 + b"\x0a" + px[3072:]),
        ("short_record", rec0[:-1]),
        ("long_record", rec0 + b"\x00"),
        ("empty", b""),
    ]


# --- CIFAR-10 python (pickles) ------------------------------------------------------------------

def p_short_binstring(b):
    return b"U" + bytes([len(b)]) + b


def p_binstring(b):
    return b"T" + struct.pack("<i", len(b)) + b


def p_int(v):
    if 0 <= v < 256:
        return b"K" + bytes([v])
    if 0 <= v < 65536:
        return b"M" + struct.pack("<H", v)
    if -2**31 <= v < 2**31:
        return b"J" + struct.pack("<i", v)
    return b"\x8a\x08" + struct.pack("<q", v)  # LONG1


def python2_batch(labels, pixels, shape=None, dtype=b"u1", fortran=False, extra_global=None,
                  labels_tuple=False):
    """A batch as Python 2's cPickle wrote the shipped files (protocol 2, str keys, BINPUTs)."""
    n = len(labels)
    shape = shape or (n, 3072)
    memo = [0]

    def put():
        memo[0] += 1
        return b"q" + bytes([memo[0] % 256])

    out = b"\x80\x02}" + put() + b"("
    out += p_short_binstring(b"data") + put()
    out += b"cnumpy.core.multiarray\n_reconstruct\n" + put()
    out += b"cnumpy\nndarray\n" + put()
    out += p_int(0) + b"\x85" + put() + p_short_binstring(b"b") + put() + b"\x87" + put()
    out += b"R" + put() + b"("
    out += p_int(1) + b"(" + b"".join(p_int(d) for d in shape) + b"t" + put()
    out += b"cnumpy\ndtype\n" + put() + p_short_binstring(dtype) + p_int(0) + p_int(1)
    out += b"\x87" + put() + b"R" + put()
    out += b"(" + p_int(3) + p_short_binstring(b"|") + b"NNN" + b"J\xff\xff\xff\xff" * 2
    out += p_int(0) + b"t" + put() + b"b"
    out += (b"\x88" if fortran else b"\x89") + p_binstring(pixels) + put() + b"t" + put() + b"b"
    out += p_short_binstring(b"labels") + put()
    if labels_tuple:
        out += b"(" + b"".join(p_int(v) for v in labels) + b"t"
    else:
        out += b"]" + put() + b"(" + b"".join(p_int(v) for v in labels) + b"e"
    out += p_short_binstring(b"batch_label") + put() + p_short_binstring(b"testing batch 1 of 1")
    out += put()
    out += p_short_binstring(b"filenames") + put() + b"]" + put() + b"("
    out += b"".join(p_short_binstring(b"img_%d.png" % i) + put() for i in range(n)) + b"e"
    if extra_global:
        out += p_short_binstring(b"evil") + extra_global
    out += b"u."
    return out


def cifar_python_seeds():
    rnd = random.Random(3)
    px1 = cifar_pixels(rnd, 1)
    px2 = cifar_pixels(rnd, 2)
    s = [
        ("py2_one", python2_batch([3], px1)),
        ("py2_two", python2_batch([3, 8], px2)),
        ("py2_label_10", python2_batch([10], px1)),
        ("py2_bad_shape", python2_batch([3], px1, shape=(1, 3071))),
        ("py2_three_dims", python2_batch([3], px1, shape=(1, 3, 1024))),
        ("py2_float_dtype", python2_batch([3], px1, dtype=b"f4")),
        ("py2_fortran", python2_batch([3, 8], px2, fortran=True)),
        ("py2_label_count", python2_batch([3, 8], px1, shape=(1, 3072))),
        ("disallowed_global", b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R."),
        ("disallowed_global_in_dict",
         python2_batch([3], px1, extra_global=b"cbuiltins\neval\n")),
        ("py2_labels_tuple", python2_batch([3], px1, labels_tuple=True)),
        ("py2_65_dims", python2_batch([3], px1[:1], shape=(1,) * 65)),
        ("py2_shape_overflow", python2_batch([3], px1, shape=(2**62, 2**62, 16))),
        ("py2_negative_dim", python2_batch([3], px1, shape=(-1, 3072))),
        ("data_not_array", b"\x80\x02}(U\x04dataK\x01U\x06labels]u."),
        ("protocol_5", b"\x80\x05}."),
        ("empty_dict", b"\x80\x02}."),
    ]
    try:
        import numpy as np
    except ImportError:
        return s
    for n, proto, key in [(1, 2, bytes), (2, 2, bytes), (1, 3, bytes), (1, 4, bytes),
                          (1, 4, str), (1, 2, str)]:
        data = np.frombuffer(cifar_pixels(rnd, n), dtype=np.uint8).reshape(n, 3072)
        batch = {key("batch_label", "ascii") if key is bytes else "batch_label": "testing batch",
                 (b"labels" if key is bytes else "labels"): [rnd.randrange(10) for _ in range(n)],
                 (b"data" if key is bytes else "data"): data,
                 (b"filenames" if key is bytes else "filenames"): [b"x.png"] * n}
        s.append((f"numpy_{n}_p{proto}_{key.__name__}_keys", pickle.dumps(batch, protocol=proto)))
    bad = {b"data": np.zeros((1, 3072), dtype=np.float32), b"labels": [1]}
    s.append(("numpy_float32", pickle.dumps(bad, protocol=2)))
    fort = {b"data": np.asfortranarray(np.zeros((2, 3072), dtype=np.uint8)), b"labels": [1, 2]}
    s.append(("numpy_fortran", pickle.dumps(fort, protocol=2)))
    return s


# --- config -------------------------------------------------------------------------------------

def config_seeds():
    s = []
    for rel in ["configs/corrected/fashion_mlp_bn_lr0.1.toml",
                "configs/original/cifar10_cnn_nobn_lr0.6.toml"]:
        p = os.path.join(ROOT, rel)
        if os.path.exists(p):
            with open(p, "rb") as f:
                s.append((os.path.basename(p), f.read()))
    s += [
        ("all_syntax", b"# comment\nlr = 0.5 # trailing\nhidden-dims = [256, 128]\n"
                       b"name = \"a \\\"b\\\" \\t \\n \\\\\"\nlit = 'x\\y'\nflag = true\n"
                       b"off = false\nn = 1_000\nplus = +3\nexp = -1.5e-3\n"
                       b"arr = [\"a\", 'b',]\nempty = []\n\t  indented = 1\n"),
        ("crlf", b"lr = 0.1\r\nepochs = 3\r\n"),
        ("tables", b"x = 1\n[sweep]\nlr = [0.1, 0.6]\n[other] # c\nlr = 2\n"),
        ("special_numbers", b"a = inf\nb = -inf\nc = nan\nd = 1e308\ne = 5e-324\nf = 1.\n"),
        ("hex_number", b"f = 0x10\n"),
        ("duplicate", b"lr = 1\nlr = 2\n"),
        ("unterminated", b"s = \"open\narr = [1, 2\n"),
        ("bad_escape", b"s = \"\\q\"\n"),
        ("no_value", b"lr =\n"),
        ("text_after", b"lr = 1 2\n"),
    ]
    return s


# --- checkpoint -----------------------------------------------------------------------------------

def checkpoint_seeds():
    # The checkpoint harness reads its input through FuzzedDataProvider, so any bytes describe
    # a valid file; varied random seeds give varied files.
    rnd = random.Random(5)
    return [(f"random_{i:02d}_{n}", bytes(rnd.randrange(256) for _ in range(n)))
            for i, n in enumerate([16, 64, 128, 256, 512, 1024, 2048, 4096, 4096, 8192])]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fashion-mnist", default="/usr/share/datasets/fashion-mnist",
                    help="directory of the Fashion-MNIST .gz files (random pixels if missing)")
    args = ap.parse_args()
    write_all("idx", idx_seeds(args.fashion_mnist))
    write_all("cifar_binary", cifar_binary_seeds())
    write_all("cifar_python", cifar_python_seeds())
    write_all("config", config_seeds())
    write_all("checkpoint", checkpoint_seeds())


if __name__ == "__main__":
    main()
