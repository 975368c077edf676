"""Writes a deterministic VGG16 conv-stack weight file in fmviz's raw format (little-endian float32
tensors back to back in torchvision state-dict order: features.N.weight (out, in, 3, 3), features.N.bias),
58,858,752 bytes. He-initialised from a fixed seed, so activations stay finite through conv5_3."""
import argparse
import os

import numpy as np

VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out")
    args = parser.parse_args()
    rng = np.random.default_rng(20240229)
    tensors = []
    channels = 3
    for v in VGG16:
        if v == "M":
            continue
        std = np.sqrt(2.0 / (channels * 9))
        tensors.append((rng.standard_normal((v, channels, 3, 3), dtype=np.float32) * std).astype("<f4"))
        tensors.append(np.full((v,), 0.01, dtype="<f4"))
        channels = v
    expected = sum(t.size for t in tensors) * 4
    if os.path.exists(args.out) and os.path.getsize(args.out) == expected:
        return  # already made by an earlier run (the content is deterministic)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as f:
        for t in tensors:
            f.write(t.tobytes())
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
