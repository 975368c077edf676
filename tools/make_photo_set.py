#!/usr/bin/python3
"""Makes a set of varied photos for trying `fmviz atlas`, from the real photos Debian's packages ship.

  make_photo_set.py --count 300 --seed 0 --out photos/ [--size 224]

The sources are the photographs among matplotlib's and scikit-image's sample data (python3-matplotlib,
python3-skimage): astronaut, chelsea, coffee, rocket, the two motorcycle views, the Hubble deep field, a retina,
a stained tissue slide, Grace Hopper, and the grey camera, coins, moon, brick, grass and gravel (shown as RGB);
not the charts, text pages and test patterns. Each output is one of them, in turn, cut at a seeded random place,
scale and angle (the rotated square always lies inside the photo: no empty corners), flipped half of the time,
with a slight seeded change of brightness and saturation, resized to SIZE x SIZE and saved as JPEG
(photo-NNNN-SOURCE.jpg). The same count, seed and size give the same files. Needs PIL (python3-pil).
"""
import argparse
import math
import os
import random
import sys
from pathlib import Path

from PIL import Image, ImageEnhance

SKIMAGE = Path("/usr/lib/python3/dist-packages/skimage/data")
MATPLOTLIB = Path("/usr/share/matplotlib/mpl-data/sample_data")
SOURCES = [SKIMAGE / name for name in (
    "astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "motorcycle_right.png",
    "hubble_deep_field.jpg", "retina.jpg", "ihc.png", "camera.png", "coins.png", "moon.png", "brick.png",
    "grass.png", "gravel.png")] + [MATPLOTLIB / "grace_hopper.jpg"]
MIN_CROP = 48  # pixels of the source: smaller crops would only be blur once resized


def load_sources():
    photos = []
    for path in SOURCES:
        try:
            with Image.open(path) as img:
                photos.append((path.stem, img.convert("RGB")))
        except OSError:
            continue  # a package that is not installed: the others still make a varied set
    return photos


def variant(photo, rnd, size):
    """One seeded view of `photo`: a rotated square crop, maybe flipped, slightly recoloured, size x size."""
    w, h = photo.size
    angle = rnd.uniform(-30.0, 30.0)
    spread = abs(math.cos(math.radians(angle))) + abs(math.sin(math.radians(angle)))  # the rotated square's extent
    largest = int(min(w, h) / spread)
    side = max(MIN_CROP, min(largest, int(rnd.uniform(0.2, 1.0) * largest)))
    reach = side * spread / 2  # half the rotated square's bounding box
    cx = rnd.uniform(reach, max(reach, w - reach))
    cy = rnd.uniform(reach, max(reach, h - reach))
    turned = photo.rotate(angle, resample=Image.BICUBIC, center=(cx, cy))
    box = (round(cx - side / 2), round(cy - side / 2))
    view = turned.crop((box[0], box[1], box[0] + side, box[1] + side))
    if rnd.random() < 0.5:
        view = view.transpose(Image.FLIP_LEFT_RIGHT)
    view = ImageEnhance.Brightness(view).enhance(rnd.uniform(0.85, 1.15))
    view = ImageEnhance.Color(view).enhance(rnd.uniform(0.8, 1.2))
    return view.resize((size, size), Image.BICUBIC)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, required=True, help="how many photos to make (1 to 100000)")
    parser.add_argument("--seed", type=int, default=0, help="the random seed (default 0)")
    parser.add_argument("--out", required=True, help="the folder to write them into (created if needed)")
    parser.add_argument("--size", type=int, default=224, help="side of each photo in pixels (32 to 2048, default 224)")
    args = parser.parse_args()
    if not 1 <= args.count <= 100000:
        parser.error("--count must be 1 to 100000")
    if not 32 <= args.size <= 2048:
        parser.error("--size must be 32 to 2048")
    photos = load_sources()
    if not photos:
        print("make_photo_set.py: none of the sample photos is installed (apt-get install python3-skimage "
              "python3-matplotlib)", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(args.seed)
    order = list(range(len(photos)))
    for i in range(args.count):
        if i % len(photos) == 0:  # every source once per round, in a seeded order: an even mix
            rnd.shuffle(order)
        name, photo = photos[order[i % len(photos)]]
        view = variant(photo, rnd, args.size)
        target = out / f"photo-{i:04d}-{name}.jpg"
        temporary = target.with_name(target.name + ".tmp")
        view.save(temporary, format="JPEG", quality=92)
        os.replace(temporary, target)  # never a half-written photo under the final name
    print(f"{args.count} photos from {len(photos)} sources in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
