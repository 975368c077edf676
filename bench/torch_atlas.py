#!/usr/bin/python3
"""The peer of `fmviz atlas --no-site`: the same job done the usual way in PyTorch.

torchvision's VGG16 features with weights from a raw fmviz/torchvision-order file; the images of a folder
(sorted by path) read with PIL, resized to SIZE x SIZE and normalised, in batches; forward hooks on the chosen
conv layers' ReLUs; for every channel the top K images by the channel's maximum and by its mean, with the
maximum's position (torch.topk over the running candidates, ties to the lower image index as fmviz breaks them).
Prints images per second and writes nothing: the table is fmviz's job, the bookkeeping is what is compared.

usage: torch_atlas.py WEIGHTS.bin IMAGE_DIR [--layers conv3_1,conv5_3] [--top 9] [--size 224] [--batch 8] [--threads N]
"""
import argparse
import os
import time

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms

EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tga", ".psd")


def relu_modules(features):
    """fmviz's conv names for each ReLU that follows a conv in `features`."""
    names, block, index, previous = {}, 1, 0, None
    for i, module in enumerate(features):
        if isinstance(module, torch.nn.Conv2d):
            index += 1
        elif isinstance(module, torch.nn.MaxPool2d):
            block, index = block + 1, 0
        elif isinstance(module, torch.nn.ReLU) and isinstance(previous, torch.nn.Conv2d):
            names[f"conv{block}_{index}"] = i
        previous = module
    return names


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("weights")
    parser.add_argument("images")
    parser.add_argument("--layers", default="conv3_1,conv5_3")
    parser.add_argument("--top", type=int, default=9)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    features = torchvision.models.vgg16().features
    flat = np.fromfile(args.weights, dtype="<f4")
    state, offset = features.state_dict(), 0
    for name, tensor in state.items():
        n = tensor.numel()
        state[name] = torch.from_numpy(flat[offset:offset + n].copy()).reshape(tensor.shape)
        offset += n
    features.load_state_dict(state)
    features.eval()
    layers = args.layers.split(",")
    relus = relu_modules(features)
    last = max(relus[layer] for layer in layers)
    features = features[:last + 1]  # nothing after the last chosen layer is needed

    captured = {}
    for layer in layers:
        features[relus[layer]].register_forward_hook(lambda _m, _i, out, layer=layer: captured.__setitem__(layer, out))

    paths = sorted(os.path.join(root, f) for root, _, files in os.walk(args.images) for f in files
                   if f.lower().endswith(EXTENSIONS) and not f.startswith("."))
    preprocess = transforms.Compose([transforms.Resize((args.size, args.size)), transforms.ToTensor(),
                                     transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    # Per layer and ranking: (values C x K, image indices C x K, positions C x K), the best K so far.
    best = {}
    start = time.perf_counter()
    with torch.no_grad():
        for first in range(0, len(paths), args.batch):
            chunk = paths[first:first + args.batch]
            x = torch.stack([preprocess(Image.open(p).convert("RGB")) for p in chunk])
            features(x)
            index = torch.arange(first, first + len(chunk), dtype=torch.float64)
            for layer in layers:
                out = captured[layer]  # N x C x H x W
                n, c = out.shape[:2]
                flat_out = out.reshape(n, c, -1)
                peak, where = flat_out.max(dim=2)  # first maximum in row-major order
                mean = flat_out.double().mean(dim=2)
                for kind, value in (("max", peak.double()), ("mean", mean)):
                    # Candidates: the kept K and this batch; rank by value, then by lower image index.
                    values = value.t()  # C x N
                    images = index.expand(c, n)
                    positions = where.t().double()
                    if (layer, kind) in best:
                        kept = best[(layer, kind)]
                        values = torch.cat([kept[0], values], dim=1)
                        images = torch.cat([kept[1], images], dim=1)
                        positions = torch.cat([kept[2], positions], dim=1)
                    order = torch.argsort(images, dim=1)  # by image index, then a stable sort by value: ties to the lower index
                    values, images, positions = (t.gather(1, order) for t in (values, images, positions))
                    order = torch.sort(values, dim=1, descending=True, stable=True).indices[:, :args.top]
                    best[(layer, kind)] = tuple(t.gather(1, order) for t in (values, images, positions))
    seconds = time.perf_counter() - start
    print(f"torch atlas: {len(paths)} images, layers {args.layers}, top {args.top}, size {args.size}, batch {args.batch}, "
          f"{args.threads} threads: {seconds:.2f} s, {len(paths) / seconds:.2f} images/s")


if __name__ == "__main__":
    main()
