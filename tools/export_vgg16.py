#!/usr/bin/python3
"""Export torchvision's VGG16 weights as a weight file fmviz can load.

Two formats, the ones fmviz reads (include/fmviz/weights/raw.hpp and safetensors.hpp):

  raw          little-endian float32, every tensor of torchvision's vgg16().state_dict() in its
               order (conv weights OIHW, then bias, layer by layer; then the classifier's Linear
               weights [out, in] and biases), no header. Names are not stored, so raw is always F32
               with torchvision's layout.
  safetensors  u64 little-endian header length, JSON header {name: {dtype, shape, data_offsets}}
               with an optional "__metadata__" object of strings, then the raw tensor bytes.
               Written by this script itself (the `safetensors` package is not needed).

Where the weights come from (exactly one):

  --pretrained       torchvision's IMAGENET1K_V1 weights (vgg16-397923af.pth). torchvision looks in
                     the torch hub cache (the "checkpoints" folder under torch.hub.get_dir()) and
                     downloads the file from download.pytorch.org if it is not there, so the first
                     use needs network access.
  --checkpoint FILE  a local torchvision state_dict (.pth), e.g. vgg16-397923af.pth copied from
                     the torch hub cache of a machine that has it.
  --seed N           deterministic random weights: torchvision's own initialisation after
                     torch.manual_seed(N), then every bias set to a small nonzero seeded value
                     (torchvision initialises biases to zero, which would hide bias bugs).

Needs torch and torchvision (on Debian: /usr/bin/python3 with python3-torch and
python3-torchvision). The functions here are also used by tools/fixtures/make_reference.py, so there
is one implementation of each writer.
"""

import argparse
import collections
import json
import os
import struct
import sys

# VGG16's conv layers in order, with their torchvision state_dict prefixes.
CONV_LAYERS = [
    ("conv1_1", "features.0"), ("conv1_2", "features.2"),
    ("conv2_1", "features.5"), ("conv2_2", "features.7"),
    ("conv3_1", "features.10"), ("conv3_2", "features.12"), ("conv3_3", "features.14"),
    ("conv4_1", "features.17"), ("conv4_2", "features.19"), ("conv4_3", "features.21"),
    ("conv5_1", "features.24"), ("conv5_2", "features.26"), ("conv5_3", "features.28"),
]
CONV_NAMES = [name for name, _ in CONV_LAYERS]

CONV_STACK_FLOATS = 14_714_688
FULL_MODEL_FLOATS = 138_357_544

# The VGG family's conv widths ("M" a max-pool), torchvision's cfg table (torchvision.models.vgg.cfgs
# A, B, D, E). The other variants are only written by tools/fixtures/make_reference.py.
VGG_CFGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
CLASSIFIER_FLOATS = FULL_MODEL_FLOATS - CONV_STACK_FLOATS  # the same three Linear layers in every variant


def raw_floats(model):
    """(conv stack, full model) float counts of `model`'s raw file."""
    floats, cin = 0, 3
    for c in VGG_CFGS[model]:
        if c != "M":
            floats, cin = floats + c * cin * 9 + c, c
    return floats, floats + CLASSIFIER_FLOATS

# torchvision name -> (timm name, shape timm stores it in or None to keep it), for vgg16.tv_in1k.
TIMM_NAMES = {
    "classifier.0.weight": ("pre_logits.fc1.weight", (4096, 512, 7, 7)),
    "classifier.0.bias": ("pre_logits.fc1.bias", None),
    "classifier.3.weight": ("pre_logits.fc2.weight", (4096, 4096, 1, 1)),
    "classifier.3.bias": ("pre_logits.fc2.bias", None),
    "classifier.6.weight": ("head.fc.weight", None),
    "classifier.6.bias": ("head.fc.bias", None),
}

SAFETENSORS_DTYPES = ("F32", "F16", "BF16")

PRETRAINED_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"


class ExportError(Exception):
    """A failure worth a one-line message rather than a traceback."""


def import_torch():
    """Imports torch and torchvision, or explains which interpreter has them."""
    try:
        import torch
        import torchvision
    except ImportError as e:
        raise ExportError(
            f"{e}. This script needs torch and torchvision; on Debian run it with /usr/bin/python3 "
            "(packages python3-torch and python3-torchvision), not a python without them") from e
    return torch, torchvision


# ---------------------------------------------------------------------------------------------
# Where the weights come from. Each returns an OrderedDict name -> float32 tensor, in torchvision's
# state_dict order.


def seeded_state_dict(seed, bias_scale=0.05, model="vgg16"):
    """torchvision's `model` (vgg16 by default) initialisation after torch.manual_seed(seed), biases then
    drawn uniformly from [-bias_scale, bias_scale) with a generator seeded from `seed` (so they are nonzero)."""
    torch, torchvision = import_torch()
    torch.manual_seed(seed)
    model = getattr(torchvision.models, model)(weights=None)
    generator = torch.Generator().manual_seed(seed + 1)
    sd = collections.OrderedDict()
    for name, t in model.state_dict().items():
        t = t.detach().to(torch.float32)
        if name.endswith(".bias"):
            t = (torch.rand(t.shape, generator=generator) * 2 - 1) * bias_scale
        sd[name] = t.contiguous()
    return sd


def checkpoint_state_dict(path):
    """A torchvision vgg16 state_dict saved with torch.save (a bare state_dict, or one under a
    'state_dict' / 'model' key). Missing classifier tensors are allowed (a conv-stack checkpoint)."""
    torch, _ = import_torch()
    if not os.path.isfile(path):
        raise ExportError(f"{path}: no such file")
    try:
        obj = torch.load(path, map_location="cpu")
    except Exception as e:  # torch raises many kinds for a bad file
        raise ExportError(f"{path}: cannot be read by torch.load ({e})") from e
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise ExportError(f"{path}: expected a state_dict (a dict of tensors), found {type(obj).__name__}")
    # A model saved from nn.DataParallel prefixes every name with "module.".
    obj = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in obj.items()}
    expected = _vgg16_shapes()
    sd = collections.OrderedDict()
    for name, shape in expected.items():
        if name not in obj:
            if name.startswith("features."):
                raise ExportError(f"{path}: tensor {name} is missing; is this a torchvision vgg16 state_dict?")
            continue
        t = obj[name]
        if not torch.is_tensor(t) or tuple(t.shape) != shape:
            found = tuple(t.shape) if torch.is_tensor(t) else type(t).__name__
            raise ExportError(f"{path}: tensor {name} has shape {found}, expected {shape}")
        sd[name] = t.detach().to(torch.float32).contiguous()
    have_classifier = [n for n in sd if n.startswith("classifier.")]
    if have_classifier and len(have_classifier) != 6:
        raise ExportError(f"{path}: the classifier is incomplete (found only {', '.join(have_classifier)})")
    unused = sorted(set(obj) - set(sd))
    if unused:
        print(f"note: {path}: ignored {len(unused)} tensor(s) vgg16 does not use: {', '.join(unused[:5])}"
              + (", ..." if len(unused) > 5 else ""), file=sys.stderr)
    return sd


def pretrained_state_dict():
    """torchvision's IMAGENET1K_V1 weights, from the torch hub cache or downloaded into it."""
    torch, torchvision = import_torch()
    try:
        weights = torchvision.models.VGG16_Weights.IMAGENET1K_V1
        sd = weights.get_state_dict(progress=False)
    except Exception as e:  # URLError, HTTPError, socket errors, a truncated download ...
        raise ExportError(
            f"could not get torchvision's pretrained VGG16 weights ({type(e).__name__}: {e}). "
            f"They are downloaded from {PRETRAINED_URL} into the torch hub cache on first use, which needs "
            "network access. Without it, copy vgg16-397923af.pth from a machine that has it and pass "
            "--checkpoint vgg16-397923af.pth (or --seed N for deterministic random weights)") from e
    return collections.OrderedDict((k, v.detach().to(torch.float32).contiguous()) for k, v in sd.items())


def _vgg16_shapes():
    """Name -> shape of torchvision's vgg16 state_dict, in order, without building the model."""
    shapes = collections.OrderedDict()
    channels = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256),
                (256, 512), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]
    for (_, prefix), (cin, cout) in zip(CONV_LAYERS, channels):
        shapes[prefix + ".weight"] = (cout, cin, 3, 3)
        shapes[prefix + ".bias"] = (cout,)
    for prefix, (fin, fout) in (("classifier.0", (25088, 4096)), ("classifier.3", (4096, 4096)),
                                ("classifier.6", (4096, 1000))):
        shapes[prefix + ".weight"] = (fout, fin)
        shapes[prefix + ".bias"] = (fout,)
    return shapes


# ---------------------------------------------------------------------------------------------
# Transformations of a state_dict.


def conv_only(sd):
    """The conv stack (features.*) of a state_dict."""
    return collections.OrderedDict((k, v) for k, v in sd.items() if k.startswith("features."))


def has_classifier(sd):
    return any(k.startswith("classifier.") for k in sd)


def rounded_through(sd, dtype):
    """Float32 tensors holding the values a file of `dtype` stores (what a reader gets back)."""
    torch, _ = import_torch()
    if dtype == "F32":
        return collections.OrderedDict(sd)
    target = {"F16": torch.float16, "BF16": torch.bfloat16}[dtype]
    return collections.OrderedDict((k, v.to(target).to(torch.float32)) for k, v in sd.items())


def to_timm_names(sd):
    """timm's vgg16.tv_in1k names: features.N.* unchanged; the classifier as pre_logits.fc1 (conv
    [4096,512,7,7]), pre_logits.fc2 (conv [4096,4096,1,1]) and head.fc."""
    out = collections.OrderedDict()
    for name, t in sd.items():
        if name in TIMM_NAMES:
            new_name, shape = TIMM_NAMES[name]
            out[new_name] = t.reshape(shape) if shape else t
        else:
            out[name] = t
    return out


# ---------------------------------------------------------------------------------------------
# Writers. Both write to a temporary name and rename, so a failure leaves no half-written file.


def _replace_atomically(path, write):
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _le_bytes(t, dtype):
    """A C-contiguous little-endian numpy array holding tensor `t` as safetensors `dtype`."""
    torch, _ = import_torch()
    t = torch.as_tensor(t).detach().cpu().contiguous()
    if dtype == "F32":
        return t.to(torch.float32).numpy().astype("<f4", copy=False)
    if dtype == "F16":
        return t.to(torch.float16).numpy().astype("<f2", copy=False)
    if dtype == "BF16":  # numpy has no bfloat16: keep torch's rounding, store the bit patterns
        return t.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2", copy=False)
    raise ExportError(f"unsupported dtype {dtype} (expected one of {', '.join(SAFETENSORS_DTYPES)})")


def write_raw(sd, path, model="vgg16"):
    """DESIGN format 1: every tensor as little-endian float32, back to back, no header. Returns the
    byte count. The result equals np.concatenate([t.numpy().ravel() for t in sd.values()]).astype('<f4').
    `model` (a VGG_CFGS key) is the variant whose conv stack or full model `sd` must be."""
    floats = sum(int(t.numel()) for t in sd.values())
    conv_floats, full_floats = raw_floats(model)
    if floats not in (conv_floats, full_floats):
        raise ExportError(f"{floats} floats is neither the {model.upper()} conv stack ({conv_floats}) "
                          f"nor the full model ({full_floats})")

    def write(f):
        for t in sd.values():
            f.write(_le_bytes(t, "F32").data)

    _replace_atomically(path, write)
    return floats * 4


def safetensors_header(entries, metadata=None):
    """The padded JSON header for entries [(name, dtype, shape, nbytes)], tensors stored in that order."""
    header = {}
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise ExportError("safetensors __metadata__ must map strings to strings")
        header["__metadata__"] = dict(metadata)
    offset = 0
    for name, dtype, shape, nbytes in entries:
        if name in header:
            raise ExportError(f"tensor name {name} used twice")
        header[name] = {"dtype": dtype, "shape": [int(d) for d in shape], "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the reference writer pads so the data starts 8-byte aligned
    return text


def write_safetensors(tensors, path, dtype="F32", metadata=None):
    """Writes `tensors` (a mapping or a list of (name, tensor) pairs; the data goes in that order)
    as a safetensors file of `dtype` (F32, F16 or BF16). Returns the byte count."""
    if dtype not in SAFETENSORS_DTYPES:
        raise ExportError(f"unsupported dtype {dtype} (expected one of {', '.join(SAFETENSORS_DTYPES)})")
    items = list(tensors.items()) if hasattr(tensors, "items") else list(tensors)
    arrays = [(name, _le_bytes(t, dtype)) for name, t in items]
    header = safetensors_header([(n, dtype, a.shape, a.nbytes) for n, a in arrays], metadata)

    def write(f):
        f.write(struct.pack("<Q", len(header)))
        f.write(header)
        for _, a in arrays:
            f.write(a.data)

    _replace_atomically(path, write)
    return 8 + len(header) + sum(a.nbytes for _, a in arrays)


def export(sd, path, fmt, dtype="F32", names="torchvision", metadata=None):
    """Writes `sd` (torchvision names, float32) in format `fmt` ('raw' or 'safetensors')."""
    if fmt == "raw":
        if dtype != "F32" or names != "torchvision":
            raise ExportError("raw files are always float32 in torchvision order (they store no names or dtype); "
                              "use --format safetensors for --dtype F16/BF16 or --names timm")
        return write_raw(sd, path)
    tensors = to_timm_names(sd) if names == "timm" else sd
    return write_safetensors(tensors, path, dtype, metadata)


# ---------------------------------------------------------------------------------------------
# Command line.


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="export_vgg16.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Write torchvision's VGG16 weights as an fmviz weight file (raw float32 or safetensors).",
        epilog="""\
examples:
  # deterministic random weights, full model, raw float32 (553,430,176 bytes)
  /usr/bin/python3 tools/export_vgg16.py --seed 0 --out vgg16_seed0.bin
  # torchvision's ImageNet weights (downloaded once into the torch hub cache), conv stack only
  /usr/bin/python3 tools/export_vgg16.py --pretrained --conv-only --out vgg16_features.bin
  # a local torchvision checkpoint as half-precision safetensors with timm's names
  /usr/bin/python3 tools/export_vgg16.py --checkpoint vgg16-397923af.pth --dtype F16 --names timm \\
      --out vgg16_timm_f16.safetensors

formats:
  raw          little-endian float32, the state_dict's tensors in torchvision order, no header;
               14,714,688 floats for the conv stack, 138,357,544 for the full model
  safetensors  u64 LE header length, JSON header {name: {dtype, shape, data_offsets}} with
               __metadata__, data; F32, F16 or BF16; torchvision or timm (vgg16.tv_in1k) names

Run it with an interpreter that has torch and torchvision (on Debian: /usr/bin/python3).""")
    src = p.add_argument_group("weights (choose one)").add_mutually_exclusive_group(required=True)
    src.add_argument("--pretrained", action="store_true",
                     help="torchvision's IMAGENET1K_V1 weights; downloaded into the torch hub cache on first use "
                          "(needs network access unless vgg16-397923af.pth is already cached)")
    p.add_argument("--fallback-seed", metavar="N", type=int,
                   help="with --pretrained: when the pretrained weights cannot be had (no network), write "
                        "--seed N weights instead, with a warning, rather than failing")
    src.add_argument("--checkpoint", metavar="FILE", help="a local torchvision vgg16 state_dict (.pth)")
    src.add_argument("--seed", metavar="N", type=int,
                     help="deterministic random weights: torchvision's init after torch.manual_seed(N), "
                          "biases set to small nonzero seeded values")
    out = p.add_argument_group("output")
    out.add_argument("--out", "-o", metavar="FILE", required=True, help="file to write (replaced atomically)")
    out.add_argument("--format", choices=("raw", "safetensors"),
                     help="default: safetensors if FILE ends in .safetensors, else raw")
    out.add_argument("--conv-only", action="store_true",
                     help="write only the conv stack (features.*), up to pool5; no classifier")
    out.add_argument("--dtype", choices=SAFETENSORS_DTYPES, default="F32",
                     help="safetensors element type (default F32; raw files are always F32)")
    out.add_argument("--names", choices=("torchvision", "timm"), default="torchvision",
                     help="safetensors tensor names: torchvision's (features.N, classifier.N) or timm's "
                          "(features.N, pre_logits.fc1/fc2 as convs, head.fc); default torchvision")
    out.add_argument("--metadata", metavar="KEY=VALUE", action="append", default=[],
                     help="extra safetensors __metadata__ entry (repeatable)")
    args = p.parse_args(argv)
    if args.format is None:
        args.format = "safetensors" if args.out.endswith(".safetensors") else "raw"
    if args.format == "raw" and (args.dtype != "F32" or args.names != "torchvision"):
        p.error("raw files are always float32 with torchvision's order; "
                "use --format safetensors (or an .safetensors name) for --dtype F16/BF16 or --names timm")
    if args.fallback_seed is not None and not args.pretrained:
        p.error("--fallback-seed only applies to --pretrained")
    for item in args.metadata:
        if "=" not in item:
            p.error(f"--metadata expects KEY=VALUE, got {item!r}")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.pretrained:
            try:
                sd, source = pretrained_state_dict(), "torchvision IMAGENET1K_V1"
            except ExportError as e:
                if args.fallback_seed is None:
                    raise
                print(f"export_vgg16.py: warning: {e}", file=sys.stderr)
                print(f"export_vgg16.py: warning: writing RANDOM weights (--seed {args.fallback_seed}) instead: "
                      "the feature maps will show an untrained network", file=sys.stderr)
                sd, source = seeded_state_dict(args.fallback_seed), f"seed {args.fallback_seed} (pretrained unavailable)"
        elif args.checkpoint:
            sd, source = checkpoint_state_dict(args.checkpoint), f"checkpoint {os.path.basename(args.checkpoint)}"
        else:
            sd, source = seeded_state_dict(args.seed), f"seed {args.seed}"
        if args.conv_only:
            sd = conv_only(sd)
        elif not has_classifier(sd):
            raise ExportError("the weights hold only the conv stack; pass --conv-only to export them")
        metadata = {"format": "pt", "model": "vgg16", "source": source, "names": args.names,
                    "producer": "fmviz tools/export_vgg16.py"}
        metadata.update(item.split("=", 1) for item in args.metadata)
        nbytes = export(sd, args.out, args.format, args.dtype, args.names, metadata)
    except ExportError as e:
        print(f"export_vgg16.py: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"export_vgg16.py: error: {e}", file=sys.stderr)
        return 1
    what = "conv stack" if args.conv_only else "full model"
    kind = "raw float32" if args.format == "raw" else f"safetensors {args.dtype}, {args.names} names"
    print(f"wrote {args.out}: VGG16 {what} from {source}, {len(sd)} tensors, {kind}, {nbytes:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
