#!/usr/bin/python3
"""`fmviz atlas merge` at the scale of ImageNet, without running ImageNet: writes N shard tables of a run over M
images (1,281,167 by default, ImageNet's training set) in the table format of include/fmviz/atlas/table.hpp, with
random but valid hits for every channel of VGG16's 13 conv layers at 224 x 224, then times the merge as a whole
process and reports its peak memory and the bytes each shard and the merged table take.

  atlas_merge_bench.py --fmviz build/bin/fmviz [--images 1281167] [--shards 64] [--top 9] [--seed 0] [--keep DIR]

The hits' values are random, so the merge does the same work as on real tables: every shard's every channel is
ranked into the running top K. Needs numpy.
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np

# VGG16's conv layers at 224 x 224: name, channels, map side.
LAYERS = [("conv1_1", 64, 224), ("conv1_2", 64, 224), ("conv2_1", 128, 112), ("conv2_2", 128, 112),
          ("conv3_1", 256, 56), ("conv3_2", 256, 56), ("conv3_3", 256, 56), ("conv4_1", 512, 28),
          ("conv4_2", 512, 28), ("conv4_3", 512, 28), ("conv5_1", 512, 14), ("conv5_2", 512, 14),
          ("conv5_3", 512, 14)]


def image_path(j):
    """A path shaped like ImageNet's: /data/imagenet/train/nXXXXXXXX/nXXXXXXXX_NNNN.JPEG."""
    synset = f"n{1440764 + (j // 1281) * 1000:08d}"
    return f"/data/imagenet/train/{synset}/{synset}_{j % 1281 + 1}.JPEG"


def hit_list(rng, own, top, side):
    """`top` hits on distinct images of `own`, best first (value down, then image index up), as packed bytes."""
    images = rng.choice(own, size=min(top, len(own)), replace=False)
    values = rng.standard_normal(len(images)).astype(np.float32)
    order = np.lexsort((images, -values))
    rows = np.zeros(len(images), dtype=[("image", "<u8"), ("value", "<f4"), ("y", "<u4"), ("x", "<u4")])
    rows["image"], rows["value"] = images[order], values[order]
    rows["y"], rows["x"] = rng.integers(0, side, len(images)), rng.integers(0, side, len(images))
    return rows


def layer_bytes(rng, own, top, channels, side):
    parts = [b"FMVZATL\n" + struct.pack("<IIQQQQ", 1, 20, channels, side, side, top)]
    for _ in range(channels):
        by_max, by_mean = hit_list(rng, own, top, side), hit_list(rng, own, top, side)
        parts.append(struct.pack("<II", len(by_max), len(by_mean)) + by_max.tobytes() + by_mean.tobytes())
    return b"".join(parts)


def write_shard(folder, index, count, total, crc, top, rng):
    os.makedirs(folder)
    own = np.arange(index, total, count, dtype=np.uint64)
    entries = []
    for name, channels, side in LAYERS:
        data = layer_bytes(rng, own, top, channels, side)
        with open(os.path.join(folder, name + ".bin"), "wb") as f:
            f.write(data)
        entries.append({"name": name, "file": name + ".bin", "channels": channels, "height": side, "width": side,
                        "bytes": len(data), "crc32": zlib.crc32(data)})
    manifest = {"format": "fmviz atlas", "version": 2, "top_k": top, "size": 224, "preset": "torchvision",
                "tap": "relu", "weights": "vgg16.bin", "shard": {"index": index, "count": count},
                "image_count": total, "images_crc32": crc, "images": [image_path(int(j)) for j in own],
                "skipped": [], "layers": entries}
    with open(os.path.join(folder, "atlas.json"), "w") as f:
        f.write(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def folder_bytes(folder):
    return sum(os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fmviz", required=True)
    parser.add_argument("--images", type=int, default=1281167)
    parser.add_argument("--shards", type=int, default=64)
    parser.add_argument("--top", type=int, default=9)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", help="write the tables here and keep them (default: a temporary folder)")
    args = parser.parse_args()
    root = args.keep or tempfile.mkdtemp(prefix="atlas_merge_bench")
    try:
        crc = 0
        for j in range(args.images):
            crc = zlib.crc32((image_path(j) + "\n").encode(), crc)
        rng = np.random.default_rng(args.seed)
        start = time.perf_counter()
        shards = []
        for i in range(args.shards):
            shards.append(os.path.join(root, f"shard-{i}"))
            write_shard(shards[-1], i, args.shards, args.images, crc, args.top, rng)
        print(f"wrote {args.shards} shard tables of {args.images} images, top {args.top}, 13 layers "
              f"in {time.perf_counter() - start:.0f} s", flush=True)
        merged = os.path.join(root, "merged")
        start = time.perf_counter()
        proc = subprocess.Popen([args.fmviz, "atlas", "merge", *shards, "-o", merged, "--no-site", "-q"])
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            print(f"fmviz atlas merge failed with exit status {os.waitstatus_to_exitcode(status)}", file=sys.stderr)
            return 1
        sizes = [folder_bytes(s) for s in shards]
        manifests = [os.path.getsize(os.path.join(s, "atlas.json")) for s in shards]
        print(f"merge: {seconds:.1f} s, peak {usage.ru_maxrss / 1024:.0f} MiB")
        print(f"each shard: {min(sizes) / 2**20:.2f} to {max(sizes) / 2**20:.2f} MiB "
              f"(its atlas.json {min(manifests) / 2**20:.2f} to {max(manifests) / 2**20:.2f} MiB)")
        print(f"merged table: {folder_bytes(merged) / 2**20:.1f} MiB "
              f"(its atlas.json {os.path.getsize(os.path.join(merged, 'atlas.json')) / 2**20:.1f} MiB)")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
