#!/usr/bin/python3
"""The peer of the `fmviz` command: the classic Python tutorial, done the usual way.

torchvision's VGG16 with weights from a raw fmviz/torchvision-order file, an image resized to 224x224 and
normalised, a loop over the conv layers recording their outputs, and a matplotlib figure of the first 16
channels (2 rows x 8 columns, grey) saved per layer. Used by bench/README.md to time the whole job
against `fmviz --weights W --image I --out D` in the same session.

usage: tutorial_peer.py WEIGHTS.bin IMAGE OUT_DIR
"""
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
from PIL import Image  # noqa: E402
from torchvision import transforms  # noqa: E402


def main():
    weights, image, out = sys.argv[1:4]
    model = torchvision.models.vgg16()
    flat = np.fromfile(weights, dtype="<f4")
    state, offset = model.features.state_dict(), 0
    for name, tensor in state.items():
        n = tensor.numel()
        state[name] = torch.from_numpy(flat[offset:offset + n].copy()).reshape(tensor.shape)
        offset += n
    model.features.load_state_dict(state)
    model.eval()

    preprocess = transforms.Compose([transforms.Resize((224, 224)), transforms.ToTensor(),
                                     transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    x = preprocess(Image.open(image).convert("RGB")).unsqueeze(0)

    outputs, names, block, index = [], [], 1, 0
    with torch.no_grad():
        for layer in model.features:
            x = layer(x)
            if isinstance(layer, torch.nn.Conv2d):
                index += 1
                names.append(f"conv{block}_{index}")
                outputs.append(x.clone())
            elif isinstance(layer, torch.nn.MaxPool2d):
                block, index = block + 1, 0

    os.makedirs(out, exist_ok=True)
    for name, fmap in zip(names, outputs):
        fig = plt.figure(figsize=(16, 4))
        for i in range(16):
            ax = fig.add_subplot(2, 8, i + 1)
            ax.imshow(fmap[0, i].numpy(), cmap="gray")
            ax.axis("off")
        fig.savefig(os.path.join(out, name + ".png"))
        plt.close(fig)


if __name__ == "__main__":
    main()
