#!/usr/bin/python3
"""The PyTorch peer of layer_bench.cpp: torchvision's VGG16 conv stack, each conv layer on its real input, then the
whole stack (medians of R runs after a warm-up); writes the same JSON as fmviz_layer_bench."""
import argparse
import json
import statistics
import time

import torch
import torchvision

NAMES = ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3",
         "conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3"]


def timed(runs, f):
    f()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    features = torchvision.models.vgg16().features.eval()
    n = args.batch * 3 * args.size * args.size
    x = (torch.arange(n, dtype=torch.int64) * 7919 % 1000).float().div(500).sub(1).reshape(args.batch, 3, args.size, args.size)
    layers = []
    with torch.no_grad():
        h = x
        convs = iter(NAMES)
        for module in features:
            if isinstance(module, torch.nn.Conv2d):
                y = module(h)
                t = statistics.median(timed(args.runs, lambda m=module, i=h: m(i)))
                k, c = module.out_channels, module.in_channels
                gflop = 2.0 * y.numel() * c * 9 / 1e9
                layers.append({"name": next(convs), "algorithm": "oneDNN direct", "in_shape": list(h.shape),
                               "out_shape": list(y.shape), "gflop": gflop, "median_s": t})
                print(f"{layers[-1]['name']:8} {t * 1e3:8.2f} ms {gflop / t:7.1f} GFLOP/s")
                h = y
            else:
                h = module(h)
        stack = timed(args.runs, lambda: features(x))
    median = statistics.median(stack)
    print(f"torch features forward, {args.threads} threads, batch {args.batch}: median {median:.4f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"impl": "pytorch", "version": torch.__version__, "threads": args.threads, "batch": args.batch,
                       "size": args.size, "runs": args.runs, "stack_median_s": median, "stack_times_s": stack,
                       "layers": layers}, f)


if __name__ == "__main__":
    main()
