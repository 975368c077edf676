#!/usr/bin/python3
"""Checks that fmviz's headers include each other one way only: in the order data flows through the library.

Every header under include/fmviz/ has a place in PIPELINE below. A header may include only headers placed
before it (a header matched by a pattern such as "report/*.hpp" may also include the other headers of that
pattern), and the branches listed in APART must not reach each other at all, not even through other headers.
The check fails when a header includes one placed after it or reaches one it must stay apart from, when a header
has no place (a new header must be given one), when a placed header no longer exists, when fmviz.hpp leaves out
a top-level header, or when an include names a file that is not there.

Usage: check_includes.py [REPOSITORY]   (default: the repository this script is in). Python 3 standard library only.
"""
import fnmatch
import os
import re
import sys

# The pipeline, first to last: (stage, headers in order). Paths are relative to include/fmviz/.
PIPELINE = [
    ("basics", ["version.hpp", "error.hpp", "detail/crc32.hpp", "detail/mapped_file.hpp", "detail/atomic_file.hpp",
                "detail/tensor_memory.hpp", "tensor.hpp"]),
    ("threads", ["threads.hpp", "detail/parallel.hpp", "detail/workspace.hpp"]),
    ("kernels", ["kernels/winograd_matrices.hpp", "kernels/packed_gemm.hpp", "kernels/im2col_gemm.hpp",
                 "kernels/col2im_gemm.hpp", "kernels/winograd.hpp"]),
    ("layers", ["layers/relu.hpp", "layers/maxpool2d.hpp", "layers/adaptive_avgpool2d.hpp", "layers/linear.hpp",
                "layers/conv2d.hpp"]),
    ("network", ["layer_info.hpp", "network.hpp"]),
    ("weight files", ["weights/tensor_spec.hpp", "weights/tensor_table.hpp", "weights/raw.hpp",
                      "weights/safetensors.hpp", "weights.hpp"]),
    ("VGG", ["vgg_config.hpp", "vgg_loader.hpp"]),
    ("pictures in memory, decoders", ["image8.hpp", "rgb_image.hpp", "detail/stb.hpp", "decoders/format.hpp", "decoders/stb.hpp",
                        "decoders/jpeg.hpp", "decoders/png.hpp"]),
    ("image input", ["decode.hpp", "resize.hpp", "model_input.hpp", "image.hpp"]),
    ("activations", ["stats.hpp", "tap.hpp", "recorder.hpp"]),
    ("decision", ["imagenet_classes.hpp", "classify.hpp"]),
    ("pictures", ["channels.hpp", "colormap.hpp", "detail/font.hpp", "grid.hpp", "overlay.hpp", "filters.hpp", "mosaic.hpp"]),
    ("files", ["png.hpp", "npy.hpp"]),
    ("explanations", ["detail/random.hpp", "explain/class_target.hpp", "explain/cam.hpp", "explain/saliency.hpp",
                      "explain/detail/*.hpp", "explain/feature_vis.hpp"]),
    ("gallery", ["gallery.hpp"]),
    ("report", ["report/*.hpp", "report.hpp"]),
    ("atlas", ["atlas/model.hpp", "atlas/*.hpp", "atlas.hpp"]),
    ("umbrella", ["fmviz.hpp", "vgg.hpp"]),
]

# Branches of the pipeline that stay apart: a header of the first list must not reach one of the second, not even
# through other headers (the order alone would allow it, since the second ones come earlier).
APART = [
    ("pictures and output files are made from tensors alone, without the network or its recorder",
     ["stats.hpp", "channels.hpp", "colormap.hpp", "detail/font.hpp", "grid.hpp", "overlay.hpp", "filters.hpp",
      "mosaic.hpp", "png.hpp", "npy.hpp", "gallery.hpp"],
     ["network.hpp", "tap.hpp", "recorder.hpp", "vgg_config.hpp", "vgg_loader.hpp", "weights.hpp"]),
    ("images are read and normalised without the network or its weights",
     ["rgb_image.hpp", "decoders/*.hpp", "decode.hpp", "resize.hpp", "model_input.hpp", "image.hpp"],
     ["layers/*.hpp", "network.hpp", "weights.hpp", "weights/*.hpp", "vgg_config.hpp"]),
    ("weight files are read without knowing which network they are for",
     ["weights/*.hpp", "weights.hpp"],
     ["layers/*.hpp", "network.hpp", "vgg_config.hpp"]),
]

# Placed before they are written: their absence is not an error.
RESERVED = {"report.hpp", "atlas.hpp", "explain/detail/*.hpp", "explain/feature_vis.hpp"}

UMBRELLA = "fmviz.hpp"
# Top-level headers the umbrella need not include: itself, and the older umbrella that includes it.
NOT_IN_UMBRELLA = {"fmviz.hpp", "vgg.hpp"}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]', re.M)


def place(header):
    """(position, stage, pattern) of the first pattern that matches `header`, or None."""
    position = 0
    for stage, patterns in PIPELINE:
        for pattern in patterns:
            if matches(header, [pattern]):
                return position, stage, pattern
            position += 1
    return None


def matches(header, patterns):
    return any(header == p or ("*" in p and fnmatch.fnmatchcase(header, p)) for p in patterns)


def reach(graph, header):
    """Every header `header` includes, directly or through others."""
    seen, todo = set(), list(graph.get(header, []))
    while todo:
        h = todo.pop()
        if h not in seen:
            seen.add(h)
            todo.extend(graph.get(h, []))
    return seen


def includes(root, header):
    """The fmviz headers `header` includes, relative to include/fmviz/, and the includes that lead nowhere."""
    text = open(os.path.join(root, header), encoding="utf-8").read()
    found, missing = [], []
    for quote, name in INCLUDE.findall(text):
        if quote == '"':
            path = os.path.normpath(os.path.join(os.path.dirname(header), name))
        elif name.startswith("fmviz/"):
            path = os.path.normpath(name[len("fmviz/"):])
        else:
            continue  # a system or third-party header
        path = path.replace(os.sep, "/")
        if os.path.isfile(os.path.join(root, path)):
            found.append(path)
        else:
            missing.append(name)
    return found, missing


def main():
    repository = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    root = os.path.join(repository, "include", "fmviz")
    headers = sorted(
        os.path.relpath(os.path.join(d, f), root).replace(os.sep, "/")
        for d, _, files in os.walk(root) for f in files if f.endswith((".hpp", ".h")))
    failures = []

    for header in headers:
        if place(header) is None:
            failures.append(f"{header} has no place in the pipeline: add it to PIPELINE in tools/check_includes.py, "
                            "after every header it includes and before every header that includes it")
    for stage, patterns in PIPELINE:
        for pattern in patterns:
            if "*" not in pattern and pattern not in RESERVED and pattern not in headers:
                failures.append(f"PIPELINE places {pattern} ({stage}), which does not exist: remove it")

    graph = {}
    for header in headers:
        found, missing = includes(root, header)
        graph[header] = found
        for name in missing:
            failures.append(f"{header} includes \"{name}\", which is not a header of fmviz")
        mine = place(header)
        if mine is None:
            continue
        for target in found:
            theirs = place(target)
            if theirs is None:
                continue  # reported above
            if theirs[0] > mine[0]:
                failures.append(f"{header} ({mine[1]}) includes {target} ({theirs[1]}), which comes later in the "
                                "pipeline: move what it needs earlier, or let the later header include this one")
            elif theirs[0] == mine[0] and target == header:
                failures.append(f"{header} includes itself")

    # Headers that share a pattern may include each other, but not in a circle.
    state = {}

    def visit(header, trail):
        state[header] = "open"
        for target in graph.get(header, []):
            if state.get(target) == "open":
                circle = trail[trail.index(target):] + [target] if target in trail else [header, target]
                failures.append("headers include each other in a circle: " + " -> ".join(circle))
            elif target not in state:
                visit(target, trail + [target])
        state[header] = "done"

    for header in headers:
        if header not in state:
            visit(header, [header])

    for why, these, those in APART:
        for header in headers:
            if matches(header, these):
                for target in sorted(reach(graph, header)):
                    if matches(target, those):
                        failures.append(f"{header} reaches {target}, but {why}")

    if UMBRELLA in headers:
        umbrella = set(graph[UMBRELLA])
        for header in headers:
            if "/" not in header and header not in NOT_IN_UMBRELLA and header not in umbrella:
                failures.append(f"{UMBRELLA} does not include {header}: every top-level header belongs in the umbrella")
    else:
        failures.append(f"{UMBRELLA}, the umbrella header, is missing")

    for failure in failures:
        print("FAIL:", failure)
    print(f"include order: {len(headers)} headers,", "failed" if failures else "passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
