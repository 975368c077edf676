#!/usr/bin/python3
"""Seed corpora for the fuzz targets in tests/fuzz: small valid inputs of every kind each parser reads, so a
campaign starts from the interesting paths instead of finding the file formats from nothing.

    /usr/bin/python3 tests/fuzz/make_corpus.py --out build-fuzz/seeds [--images DIR]

Writes DIR/fuzz_image, fuzz_weights, fuzz_npy, fuzz_channels, fuzz_cli and fuzz_atlas_table. --images adds the test fixtures'
images (tools/fixtures/make_images.py output: every format, broken and hostile files) to fuzz_image's seeds.
Needs numpy and PIL (Debian python3-numpy, python3-pil). Deterministic: the same bytes on every run.
"""
import argparse
import io
import json
import os
import shutil
import struct

import numpy as np
from PIL import Image


def write(folder, name, data):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def image_seeds(out, images):
    rng = np.random.RandomState(0)
    pixels = (rng.rand(12, 10, 3) * 255).astype(np.uint8)
    im = Image.fromarray(pixels)
    for fmt, params, name in [("JPEG", {"quality": 80}, "base.jpg"), ("JPEG", {"progressive": True}, "progressive.jpg"),
                              ("PNG", {}, "rgb.png"), ("BMP", {}, "rgb.bmp"), ("GIF", {}, "pal.gif"), ("TGA", {}, "rgb.tga")]:
        buf = io.BytesIO()
        im.save(buf, format=fmt, **params)
        write(out, name, buf.getvalue())
    buf = io.BytesIO()
    im.convert("L").save(buf, format="JPEG")
    write(out, "grey.jpg", buf.getvalue())
    buf = io.BytesIO()
    im.convert("CMYK").save(buf, format="JPEG")
    write(out, "cmyk.jpg", buf.getvalue())
    for mode, name in [("LA", "la.png"), ("P", "pal.png"), ("1", "bilevel.png"), ("I;16", "grey16.png")]:
        buf = io.BytesIO()
        im.convert("L").convert(mode).save(buf, format="PNG")
        write(out, name, buf.getvalue())
    # PSD: RGB + alpha, raw and run-length coded (as tools/fixtures/make_images.py writes them).
    planes = np.concatenate([pixels.transpose(2, 0, 1), np.full((1, 12, 10), 200, np.uint8)])
    head = b"8BPS" + struct.pack(">H6xHIIHH", 1, 4, 12, 10, 8, 3) + struct.pack(">III", 0, 0, 0)
    write(out, "rgba.psd", head + struct.pack(">H", 0) + planes.tobytes())
    rows = [bytes([9]) + planes[c, y].tobytes() for c in range(4) for y in range(12)]
    write(out, "rgba_rle.psd", head + struct.pack(">H", 1) + b"".join(struct.pack(">H", len(r)) for r in rows) + b"".join(rows))
    if images:
        for name in sorted(os.listdir(images)):
            path = os.path.join(images, name)
            if os.path.isfile(path) and not name.endswith(".npy") and os.path.getsize(path) <= 64 * 1024:
                shutil.copy(path, os.path.join(out, name))


def weight_seeds(out):
    # The first byte of a fuzz_weights input picks the format (bit 0: safetensors) and where the network stops
    # (bits 1-2: conv1_1, conv1_2, everything, pool1).
    rng = np.random.RandomState(1)
    conv1_1 = [("features.0.weight", rng.randn(64, 3, 3, 3).astype("<f4")), ("features.0.bias", rng.randn(64).astype("<f4"))]
    raw = b"".join(a.tobytes() for _, a in conv1_1)
    write(out, "raw_conv1_1", bytes([0]) + raw)

    def safetensors(tensors, dtype="F32", metadata=None):
        header, offset, blobs = {}, 0, []
        for name, a in tensors:
            blob = a.astype({"F32": "<f4", "F16": "<f2"}[dtype]).tobytes()
            header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(blob)]}
            offset += len(blob)
            blobs.append(blob)
        if metadata:
            header["__metadata__"] = metadata
        text = json.dumps(header).encode()
        return struct.pack("<Q", len(text)) + text + b"".join(blobs)

    write(out, "st_conv1_1_f32", bytes([1]) + safetensors(conv1_1, metadata={"format": "pt"}))
    write(out, "st_conv1_1_f16", bytes([1]) + safetensors(conv1_1, "F16"))
    write(out, "st_empty", bytes([5]) + safetensors([]))


def npy_seeds(out):
    rng = np.random.RandomState(2)
    arrays = {"f4_rank3": rng.randn(2, 3, 4).astype(np.float32), "f8_rank2": rng.randn(3, 2), "f4_rank0": np.array(1.5, np.float32),
              "f4_empty": np.zeros((0, 4), np.float32), "big_endian": rng.randn(3).astype(">f4"), "int32": np.arange(5, dtype=np.int32),
              "fortran": np.asfortranarray(rng.randn(2, 3).astype(np.float32))}
    for name, a in arrays.items():
        buf = io.BytesIO()
        np.save(buf, a)
        write(out, name + ".npy", buf.getvalue())
    for version in [(2, 0), (3, 0)]:
        buf = io.BytesIO()
        np.lib.format.write_array(buf, arrays["f4_rank3"], version=version)
        write(out, "v%d.npy" % version[0], buf.getvalue())


def channel_seeds(out):
    for i, text in enumerate(["16", "all", "top8", "0-7,42", "3-3", "0-99999", "1,2,3", "top1", "0-0,5-9,100-120"]):
        write(out, "c%d" % i, text.encode())


def cli_seeds(out):
    lines = [
        ["-w", "w.bin", "-i", "a.jpg", "-o", "out"],
        ["--weights=w.safetensors", "--image", "a.png", "--image", "b.png", "--npy", "--overlay", "--filters"],
        ["-w", "w", "-i", "x", "--layers", "conv1_1,conv3_3", "--channels", "0-7,42", "--tap", "relu", "--cols", "4"],
        ["-w", "w", "-i", "x", "--top", "8", "--norm", "network", "--clip", "1.5", "--colormap", "diverging", "--labels", "--legend"],
        ["-w", "w", "-i", "x", "--last-layer", "conv3_1", "--preset", "caffe", "--size", "112", "--threads", "2", "--batch", "4"],
        ["-w", "w", "-i", "x", "--conv-algorithm", "gemm", "--max-pixels", "1000", "--cell", "0", "-q", "--progress"],
        ["-w", "w", "-i", "x", "--classify", "--cam", "281", "--cam-layer", "conv4_3", "--cam-method", "gradcam,layercam"],
        ["-w", "w", "-i", "x", "--cam", "--saliency", "vanilla,smoothgrad", "--smoothgrad-samples", "4",
         "--smoothgrad-noise", "0.2", "--seed", "7"],
        ["-w", "w", "-i", "x", "--cam=tabby", "--saliency"],
        ["dream", "-w", "w", "--layer", "conv3_1", "--channels", "0-7,42", "--size", "96", "--steps", "64", "--seed", "3",
         "--tap", "relu", "--neuron", "--learning-rate", "0.1", "--no-transforms", "--preset", "caffe", "--cols", "4"],
        ["dream", "-w", "w", "-l", "conv1_1", "--deepdream", "-o", "d", "-q"],
        ["atlas", "-w", "w", "--images", "photos", "-r", "--shard", "3/8", "--layers", "conv3_1,conv5_3", "--top", "16",
         "--tap", "conv", "--size", "128", "--preset", "caffe", "--batch", "4", "--threads", "2", "--fail-fast", "-o", "o"],
        ["atlas", "-w", "w", "--images-from", "-", "--max-pixels", "1000", "--no-site", "--progress", "-o", "o"],
        ["atlas", "merge", "s0", "s1", "s2", "-o", "m", "-w", "w", "--no-site", "-q"],
        ["--help"], ["--version"], ["-w"], ["--size=abc"],
    ]
    for i, args in enumerate(lines):
        write(out, "args%d" % i, b"\0".join(a.encode() for a in args))


def atlas_layer(channels, height, width, top_k, hits):
    """LAYER.bin of an atlas table (include/fmviz/atlas/table.hpp): hits[c] = (by_max, by_mean), each a list of
    (image, value, y, x), best first."""
    out = b"FMVZATL\n" + struct.pack("<IIQQQQ", 1, 20, channels, height, width, top_k)
    for by_max, by_mean in hits:
        out += struct.pack("<II", len(by_max), len(by_mean))
        for image, value, y, x in by_max + by_mean:
            out += struct.pack("<QfII", image, value, y, x)
    return out


def atlas_table_seeds(out):
    # fuzz_atlas_table's input: u32 manifest length, the manifest, then each layer file as a u32 length and its bytes.
    import zlib
    for name, shard, skipped, layers in [
            ("whole", (0, 1), [2], [("conv1_1", 2, 4, 5, [([(3, 2.5, 1, 4), (0, 1.0, 0, 0)], [(1, 0.75, 3, 2)]), ([(0, -1.0, 2, 2)], [])])]),
            ("shard", (1, 2), [], [("conv3_1", 1, 2, 2, [([(1, 9.0, 1, 1), (3, 9.0, 0, 1)], [(3, 4.5, 0, 1)])]),
                                   ("conv5_3", 1, 1, 1, [([(1, 0.0, 0, 0)], [(1, 0.0, 0, 0)])])])]:
        files, entries = [], []
        for layer, channels, height, width, hits in layers:
            data = atlas_layer(channels, height, width, 3, hits)
            files.append(data)
            entries.append({"name": layer, "file": layer + ".bin", "channels": channels, "height": height, "width": width,
                            "bytes": len(data), "crc32": zlib.crc32(data)})
        images = ["a.png", "b.png", "c.jpg", "d.png"]
        manifest = {"format": "fmviz atlas", "version": 2, "top_k": 3, "size": 32, "preset": "torchvision", "tap": "relu",
                    "weights": "w.bin", "shard": {"index": shard[0], "count": shard[1]}, "image_count": len(images),
                    "images_crc32": zlib.crc32("".join(i + "\n" for i in images).encode()),
                    "images": images[shard[0]::shard[1]], "skipped": skipped, "layers": entries}
        text = json.dumps(manifest, indent=1, sort_keys=True).encode()
        write(out, name, struct.pack("<I", len(text)) + text + b"".join(struct.pack("<I", len(f)) + f for f in files))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="folder to write the seed folders into")
    parser.add_argument("--images", help="the test fixtures' images folder, added to fuzz_image's seeds")
    args = parser.parse_args()
    image_seeds(os.path.join(args.out, "fuzz_image"), args.images)
    weight_seeds(os.path.join(args.out, "fuzz_weights"))
    npy_seeds(os.path.join(args.out, "fuzz_npy"))
    channel_seeds(os.path.join(args.out, "fuzz_channels"))
    cli_seeds(os.path.join(args.out, "fuzz_cli"))
    atlas_table_seeds(os.path.join(args.out, "fuzz_atlas_table"))


if __name__ == "__main__":
    main()
