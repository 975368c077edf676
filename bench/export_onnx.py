#!/usr/bin/python3
"""Exports torchvision's VGG16 conv stack (features) to ONNX (opset 13, dynamic batch) for the ONNX Runtime peer."""
import argparse

import torch
import torchvision


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", nargs="?", default="vgg16_features.onnx", help="the .onnx file to write")
    args = parser.parse_args()
    torch.manual_seed(0)
    features = torchvision.models.vgg16().features.eval()
    torch.onnx.export(features, torch.randn(1, 3, 224, 224), args.out, opset_version=13, input_names=["input"],
                      output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
