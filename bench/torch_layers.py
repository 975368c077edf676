#!/usr/bin/python3
"""PyTorch peer of fmviz_layer_bench: times torchvision's VGG16 conv stack whole and each conv layer on its real input."""
import argparse
import json
import statistics
import time

import torch
import torchvision

NAMES = ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3",
         "conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3"]


def times_of(runs, f):
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
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    if min(args.threads, args.batch, args.runs) < 1 or args.size < 32:
        parser.error("--threads, --batch and --runs must be at least 1, --size at least 32")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    features = torchvision.models.vgg16().features.eval()
    x = torch.randn(args.batch, 3, args.size, args.size)

    with torch.no_grad():
        # Warm-up: one pass through the stack, layer by layer, keeping each conv layer's real input and output shape.
        convs, h = [], x
        for module in features:
            out = module(h)
            if isinstance(module, torch.nn.Conv2d):
                convs.append((module, h, list(out.shape)))
            h = out
        stack = times_of(args.runs, lambda: features(x))
        layers = []
        for name, (module, inp, out_shape) in zip(NAMES, convs):
            n, k, ho, wo = out_shape
            layers.append({"name": name, "in_shape": list(inp.shape), "out_shape": out_shape,
                           "gflop": 2.0 * n * k * module.in_channels * 9 * ho * wo / 1e9,
                           "median_s": statistics.median(times_of(args.runs, lambda m=module, i=inp: m(i)))})

    median = statistics.median(stack)
    print(f"PyTorch {torch.__version__}, {args.threads} thread(s), batch {args.batch}, {args.size}x{args.size}, "
          f"median of {args.runs}")
    for layer in layers:
        print(f"  {layer['name']:8} {layer['median_s'] * 1e3:9.2f} ms {layer['gflop'] / layer['median_s']:8.1f} GFLOP/s")
    print(f"  {'features':8} {median * 1e3:9.2f} ms")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"impl": "pytorch", "version": torch.__version__, "threads": args.threads, "batch": args.batch,
                       "size": args.size, "runs": args.runs, "stack_median_s": median, "stack_times_s": stack,
                       "layers": layers}, f)
            f.write("\n")


if __name__ == "__main__":
    main()
