#!/usr/bin/python3
"""The peer of forward_bench.cpp: torchvision's VGG16 features on a BATCHx3x224x224 input (default 1), timed the same way."""
import statistics
import sys
import time

import torch
import torchvision


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else torch.get_num_threads()
    batch = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    torch.set_num_threads(threads)
    features = torchvision.models.vgg16().features.eval()
    x = torch.randn(batch, 3, 224, 224)
    times = []
    with torch.no_grad():
        for r in range(runs):
            t0 = time.perf_counter()
            features(x)
            times.append(time.perf_counter() - t0)
            print(f"run {r + 1}: {times[-1]:.4f} s")
    print(f"torch features forward, {threads} threads{f', batch {batch}' if batch != 1 else ''}: median {statistics.median(times):.4f} s")


if __name__ == "__main__":
    main()
