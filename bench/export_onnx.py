#!/usr/bin/python3
"""Exports torchvision's VGG16 conv stack (features, random weights) to ONNX, opset 13, dynamic batch, for ort_forward.mjs."""
import argparse

import torch
import torchvision


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", nargs="?", default="vgg16_features.onnx", help="the .onnx file to write")
    parser.add_argument("--size", type=int, default=224, help="input height and width (fixed in the model; default 224)")
    args = parser.parse_args()
    torch.manual_seed(0)
    features = torchvision.models.vgg16().features.eval()
    with torch.no_grad():
        torch.onnx.export(features, torch.randn(1, 3, args.size, args.size), args.out, opset_version=13,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    print(f"wrote {args.out} (input: batch x 3 x {args.size} x {args.size})")


if __name__ == "__main__":
    main()
