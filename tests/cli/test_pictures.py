#!/usr/bin/python3
"""The pictures the fmviz command draws: the tutorial's default grid, and what each option changes.

Run by CTest with FMVIZ_CLI and FMVIZ_TEST_DATA set, like test_cli.py.
"""
import html.parser
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import numpy as np
from PIL import Image

CLI = os.environ["FMVIZ_CLI"]
DATA = os.environ["FMVIZ_TEST_DATA"]
REF = os.path.join(DATA, "reference")
MANIFEST = json.load(open(os.path.join(REF, "manifest.json")))
CONVS = MANIFEST["conv_layers"]
PHOTO = os.path.join(REF, MANIFEST["input"]["decoded_png"])
WEIGHTS = os.path.join(REF, MANIFEST["weights"]["raw_convs"])
PAD = 2  # pixels between cells and around the grid


def grid_size(columns, rows, cell):
    return columns * cell + (columns + 1) * PAD, rows * cell + (rows + 1) * PAD


def cell(img, row, col, size):
    x, y = PAD + col * (size + PAD), PAD + row * (size + PAD)
    return img[y:y + size, x:x + size]


def minmax_grey(channel):
    lo, hi = channel.min(), channel.max()
    return np.floor((channel - lo) / (hi - lo) * 255 + 0.5)


class Pictures(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fmviz-pictures-")
        cls.default = cls.run_cli("default", "--npy")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def run_cli(cls, name, *args, layers=None):
        out = os.path.join(cls.tmp, name)
        extra = ["--layers", layers] if layers else []
        proc = subprocess.run([CLI, "-w", WEIGHTS, "-i", PHOTO, "-o", out, "-q", *extra, *args],
                              capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise AssertionError(f"fmviz {args} failed: {proc.stderr}")
        return out

    def picture(self, out, name):
        return np.asarray(Image.open(os.path.join(out, name)))

    def activation(self, name):
        return np.load(os.path.join(self.default, name + ".npy"))

    def test_default_is_the_tutorial_figure(self):
        img = Image.open(os.path.join(self.default, "conv1_1.png"))
        self.assertEqual(img.mode, "L")  # grey
        self.assertEqual(img.size, grid_size(8, 2, 224))  # 16 channels, 2 rows x 8 columns of 224 x 224 cells
        pixels = np.asarray(img)
        a = self.activation("conv1_1")
        for k in range(16):
            got = cell(pixels, k // 8, k % 8, 224).astype(float)
            self.assertLessEqual(np.abs(got - minmax_grey(a[k])).max(), 1, f"channel {k} is not its min-max scaled map")
            self.assertEqual((got.min(), got.max()), (0, 255))

    def test_small_maps_are_enlarged_to_the_default_cell(self):
        img = self.picture(self.default, "conv5_3.png")
        self.assertEqual(img.shape, grid_size(8, 2, 112)[::-1])  # 14 x 14 maps, 8 times larger
        a = self.activation("conv5_3")
        block = cell(img, 0, 0, 112)[::8, ::8].astype(float)
        self.assertLessEqual(np.abs(block - minmax_grey(a[0])).max(), 1)

    def test_native_cells(self):
        out = self.run_cli("native", "--cell", "0", layers="conv5_3")
        self.assertEqual(self.picture(out, "conv5_3.png").shape, grid_size(8, 2, 14)[::-1])

    def test_layers(self):
        out = self.run_cli("layers", "--npy", layers="conv3_3,conv1_1")
        self.assertEqual(sorted(f for f in os.listdir(out) if f.startswith("conv")),
                         ["conv1_1.npy", "conv1_1.png", "conv3_3.npy", "conv3_3.png"])
        page = open(os.path.join(out, "index.html")).read()
        self.assertLess(page.index("conv1_1"), page.index("conv3_3"))

    def test_channel_list(self):
        out = self.run_cli("list", "--channels", "0-7,42", layers="conv1_1")
        img = self.picture(out, "conv1_1.png")
        self.assertEqual(img.shape, grid_size(8, 2, 224)[::-1])  # 9 channels: 8 + 1
        a = self.activation("conv1_1")
        self.assertLessEqual(np.abs(cell(img, 1, 0, 224).astype(float) - minmax_grey(a[42])).max(), 1)
        self.assertTrue((cell(img, 1, 1, 224) == 255).all(), "an empty cell should show the border colour")

    def test_all_channels_and_columns(self):
        out = self.run_cli("all", "--channels", "all", "--cols", "16", layers="conv1_1")
        self.assertEqual(self.picture(out, "conv1_1.png").shape, grid_size(16, 4, 224)[::-1])

    def test_top_channels(self):
        out = self.run_cli("top", "--top", "4", "--cols", "4", layers="conv2_1")
        img = self.picture(out, "conv2_1.png")
        self.assertEqual(img.shape, grid_size(4, 1, 112)[::-1])
        a = self.activation("conv2_1")
        top = np.argsort(-a.reshape(a.shape[0], -1).mean(axis=1), kind="stable")[:4]
        for i, k in enumerate(top):
            self.assertLessEqual(np.abs(cell(img, 0, i, 112).astype(float) - minmax_grey(a[k])).max(), 1, f"cell {i}")
        page = open(os.path.join(out, "index.html")).read()
        self.assertIn(", ".join(str(k) for k in top), page.replace("<", " <"))

    def test_layer_normalisation(self):
        out = self.run_cli("layer", "--norm", "layer", layers="conv1_1")
        img = self.picture(out, "conv1_1.png")
        a = self.activation("conv1_1")
        lo, hi = a.min(), a.max()
        expected = np.floor((a[3] - lo) / (hi - lo) * 255 + 0.5)
        self.assertLessEqual(np.abs(cell(img, 0, 3, 224).astype(float) - expected).max(), 1)

    def test_network_normalisation_and_clip_change_the_picture(self):
        base = self.picture(self.default, "conv2_2.png")
        for name, args in [("network", ["--norm", "network"]), ("clip", ["--clip", "2"])]:
            out = self.run_cli(name, *args, layers="conv1_1,conv2_2")
            changed = self.picture(out, "conv2_2.png")
            self.assertEqual(changed.shape, base.shape)
            self.assertGreater(np.abs(changed.astype(int) - base).mean(), 1, name)

    def test_colormap(self):
        out = self.run_cli("viridis", "--colormap", "viridis", layers="conv1_1")
        img = self.picture(out, "conv1_1.png")
        self.assertEqual(img.ndim, 3)
        colours = {tuple(p) for p in img[PAD:PAD + 224, PAD:PAD + 224].reshape(-1, 3)}
        self.assertIn((0x44, 0x01, 0x54), colours)  # viridis(0): the channel's minimum
        self.assertIn((0xfd, 0xe7, 0x25), colours)  # viridis(1): its maximum

    def test_labels_and_legend(self):
        base = self.picture(self.default, "conv1_1.png")
        labelled = self.picture(self.run_cli("labels", "--labels", layers="conv1_1"), "conv1_1.png")
        self.assertEqual(labelled.shape, base.shape)
        self.assertGreater((labelled != base).sum(), 20)
        legend = self.picture(self.run_cli("legend", "--legend", layers="conv1_1"), "conv1_1.png")
        self.assertEqual(legend.shape[1], base.shape[1])
        self.assertGreater(legend.shape[0], base.shape[0])

    def test_overlay_and_filters(self):
        out = self.run_cli("overlay", "--overlay", "--filters", layers="conv3_1")
        over = Image.open(os.path.join(out, "conv3_1_overlay.png"))
        self.assertEqual(over.size, Image.open(PHOTO).size)
        filters = Image.open(os.path.join(out, "conv1_1_filters.png"))
        self.assertEqual(filters.mode, "RGB")
        self.assertEqual(filters.size[1], 8 * 3 * 8 + 9)  # 64 filters: 8 rows of 3x3 weights, 8 pixels each, 1-pixel gaps

    def test_gallery_references_exist(self):
        class Refs(html.parser.HTMLParser):
            refs = []

            def handle_starttag(self, tag, attrs):
                self.refs += [v for k, v in attrs if k in ("src", "href") and v and not v.startswith("#")]

        out = self.run_cli("gallery", "--overlay", "--filters", layers="conv1_1,conv2_1")
        parser = Refs()
        parser.feed(open(os.path.join(out, "index.html")).read())
        self.assertEqual(sorted(set(parser.refs)), sorted(["input.png", "conv1_1.png", "conv1_1_overlay.png",
                                                             "conv2_1.png", "conv2_1_overlay.png", "conv1_1_filters.png"]))
        for ref in parser.refs:
            self.assertTrue(os.path.isfile(os.path.join(out, ref)), ref)


class BadPictureOptions(unittest.TestCase):
    def check(self, args, *fragments):
        tmp = tempfile.mkdtemp(prefix="fmviz-bad-")
        try:
            proc = subprocess.run([CLI, "-w", WEIGHTS, "-i", PHOTO, "-o", os.path.join(tmp, "o"), *args],
                                  capture_output=True, text=True, timeout=120)
            self.assertEqual(proc.returncode, 2, proc.stderr)
            lines = proc.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, proc.stderr)
            for fragment in fragments:
                self.assertIn(fragment, lines[0])
            self.assertFalse(os.path.exists(os.path.join(tmp, "o")))
        finally:
            shutil.rmtree(tmp)

    def test_unknown_colormap_names_the_accepted(self):
        self.check(["--colormap", "jet"], "jet", "viridis", "diverging")

    def test_bad_channel_list_names_the_syntax(self):
        self.check(["--channels", "7-3"], "0-7,42")
        self.check(["--channels", "a,b"], "0-7,42")

    def test_unknown_layer_names_the_accepted(self):
        self.check(["--layers", "conv1_1,pool1"], "pool1", "conv5_3")

    def test_other_bad_values(self):
        self.check(["--norm", "global"], "channel, layer, network")
        self.check(["--clip", "60"], "--clip")
        self.check(["--top", "4", "--channels", "all"], "--top")
        self.check(["--cols", "0"], "--cols")


if __name__ == "__main__":
    unittest.main(verbosity=2)
