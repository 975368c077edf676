#!/usr/bin/python3
"""End-to-end tests of the fmviz command line: outputs against PyTorch, errors, exit codes, atomic output.

Run by CTest with FMVIZ_CLI (the executable) and FMVIZ_TEST_DATA (the generated fixtures) set.
"""
import glob
import json
import os
import shutil
import struct
import subprocess
import tempfile
import time
import unittest
import zlib

import numpy as np

CLI = os.environ["FMVIZ_CLI"]
DATA = os.environ["FMVIZ_TEST_DATA"]
REF = os.path.join(DATA, "reference")
IMAGES = os.path.join(DATA, "images")
MANIFEST = json.load(open(os.path.join(REF, "manifest.json")))
CONVS = MANIFEST["conv_layers"]
PHOTO = os.path.join(REF, MANIFEST["input"]["decoded_png"])  # losslessly re-encoded: no JPEG decoder differences
TOLERANCE = 1e-4
FUZZ_REGRESSIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "regressions")


def weights(key):
    return os.path.join(REF, MANIFEST["weights"][key])


class CliCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="fmviz-cli-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_cli(self, *args, expect):
        proc = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        self.assertGreaterEqual(proc.returncode, 0, f"killed by signal {-proc.returncode}: {proc.stderr}")
        self.assertEqual(proc.returncode, expect, f"args {args}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc

    def assert_one_line_error(self, proc, *fragments):
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, f"expected one line on stderr, got: {proc.stderr!r}")
        self.assertTrue(lines[0].startswith(("fmviz: ", "fmviz dream: ")), lines[0])
        for fragment in fragments:
            self.assertIn(fragment, lines[0])

    def assert_no_files(self, folder):
        found = [os.path.join(r, f) for r, _, fs in os.walk(folder) for f in fs] if os.path.exists(folder) else []
        self.assertEqual(found, [], "a failed run left files behind")

    def assert_matches(self, out, ref_dir, layers=CONVS, relu=False):
        for name in layers:
            got = np.load(os.path.join(out, name + ".npy"))
            ref = np.load(os.path.join(REF, ref_dir, name + ".npy"))[0]
            if relu:
                ref = np.maximum(ref, 0)
            self.assertEqual(got.dtype, np.float32, name)
            self.assertEqual(got.shape, ref.shape, name)
            err = np.abs(got - ref).max() / np.abs(ref).max()
            self.assertLessEqual(err, TOLERANCE, f"{name}: relative error {err}")


class Outputs(CliCase):
    def check_format(self, key, ref_dir, *extra, relu=False):
        out = os.path.join(self.tmp, "out")
        self.run_cli("--weights", weights(key), "--image", PHOTO, "--out", out, "--npy", "--quiet", *extra, expect=0)
        self.assertEqual(sorted(f for f in os.listdir(out) if f.endswith(".npy")), sorted(n + ".npy" for n in CONVS))
        self.assertEqual(sorted(f for f in os.listdir(out) if f.endswith(".png")), sorted([n + ".png" for n in CONVS] + ["input.png"]))
        self.assertTrue(os.path.isfile(os.path.join(out, "index.html")))
        self.assertFalse([f for f in os.listdir(out) if ".tmp" in f])
        self.assert_matches(out, ref_dir, relu=relu)

    def test_raw_full(self):
        self.check_format("raw_full", "f32")

    def test_raw_conv_stack(self):
        self.check_format("raw_convs", "f32")

    def test_safetensors_torchvision_names(self):
        self.check_format("st_f32", "f32")

    def test_safetensors_f16_timm_names(self):
        self.check_format("st_f16_timm", "f16")

    def test_tap_relu(self):
        self.check_format("st_f32", "f32", "--tap", "relu", relu=True)

    def test_threads_option_gives_same_result(self):
        self.check_format("raw_convs", "f32", "--threads", "1")

    def test_conv_algorithms_agree_with_pytorch(self):
        for algorithm in ("gemm", "winograd", "auto"):
            with self.subTest(algorithm=algorithm):
                self.check_format("raw_convs", "f32", "--conv-algorithm", algorithm)

    def test_more_threads_than_cores_are_capped_with_a_note(self):
        out = os.path.join(self.tmp, "many")
        proc = self.run_cli("-w", weights("raw_convs"), "-i", PHOTO, "-o", out, "--size", "64", "--layers", "conv1_1",
                            "--threads", "1024", expect=0)
        cores = os.cpu_count() or 1
        if cores < 1024:
            self.assertIn("--threads 1024 is more than the", proc.stderr)
            self.assertIn("cores here; using", proc.stderr)
        self.assertTrue(os.path.exists(os.path.join(out, "conv1_1.png")))
        quiet = self.run_cli("-w", weights("raw_convs"), "-i", PHOTO, "-o", out + "q", "--size", "64", "--layers", "conv1_1",
                             "--threads", "1024", "-q", expect=0)
        self.assertNotIn("--threads", quiet.stderr)

    def test_npy_bit_identical_for_1_and_2_threads(self):
        outs = []
        for threads in ("1", "2"):
            out = os.path.join(self.tmp, "t" + threads)
            self.run_cli("-w", weights("raw_convs"), "-i", PHOTO, "-o", out, "--npy", "-q", "--threads", threads, expect=0)
            outs.append(out)
        for name in CONVS:
            a, b = (np.load(os.path.join(o, name + ".npy")) for o in outs)
            self.assertTrue(np.array_equal(a, b), name)

    def test_png_is_a_picture_of_16_channels(self):
        out = os.path.join(self.tmp, "out")
        self.run_cli("-w", weights("raw_convs"), "-i", PHOTO, "-o", out, "-q", expect=0)
        with open(os.path.join(out, "conv1_1.png"), "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")

    def test_pngs_are_valid_to_the_letter(self):
        # Every chunk's CRC, the zlib stream (zlib checks its Huffman codes and Adler-32), the filter bytes,
        # and the rows once unfiltered, against PIL's decoding: for grey grids, RGB overlays and the input.
        out = os.path.join(self.tmp, "out")
        self.run_cli("-w", weights("raw_convs"), "-i", PHOTO, "-o", out, "--layers", "conv1_1,conv5_3", "--overlay",
                     "--filters", "-q", expect=0)
        pngs = sorted(f for f in os.listdir(out) if f.endswith(".png"))
        self.assertEqual(len(pngs), 6)
        from PIL import Image
        for name in pngs:
            with open(os.path.join(out, name), "rb") as f:
                data = f.read()
            self.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n", name)
            at, chunks = 8, []
            while at < len(data):
                length, kind = struct.unpack(">I4s", data[at:at + 8])
                body = data[at + 8:at + 8 + length]
                self.assertEqual(struct.unpack(">I", data[at + 8 + length:at + 12 + length])[0], zlib.crc32(kind + body), name)
                chunks.append((kind, body))
                at += 12 + length
            self.assertEqual([k for k, _ in chunks if k != b"IDAT"], [b"IHDR", b"IEND"], name)
            width, height, depth, colour = struct.unpack(">IIBB", chunks[0][1][:10])
            channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
            rows = zlib.decompress(b"".join(b for k, b in chunks if k == b"IDAT"))
            stride = width * channels
            self.assertEqual(len(rows), height * (stride + 1), name)
            picture = np.asarray(Image.open(os.path.join(out, name))).reshape(height, stride)
            prior = np.zeros(stride, dtype=np.int64)
            for y in range(height):
                kind, raw = rows[y * (stride + 1)], np.frombuffer(rows, np.uint8, stride, y * (stride + 1) + 1).astype(np.int64)
                self.assertLessEqual(kind, 4, name)
                line = np.zeros(stride, dtype=np.int64)
                for i in range(stride) if kind in (1, 3, 4) else []:
                    a = line[i - channels] if i >= channels else 0
                    b, c = prior[i], (prior[i - channels] if i >= channels else 0)
                    p = a + b - c
                    pred = {1: a, 3: (a + b) // 2}.get(kind) if kind != 4 else \
                        (a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else b if abs(p - b) <= abs(p - c) else c)
                    line[i] = (raw[i] + pred) & 255
                if kind in (0, 2):
                    line = (raw + (prior if kind == 2 else 0)) & 255
                self.assertTrue((line == picture[y]).all(), f"{name} row {y}")
                prior = line

    def test_several_images_get_unique_folders(self):
        out = os.path.join(self.tmp, "out")
        other = os.path.join(self.tmp, "sub")
        os.makedirs(other)
        shutil.copy(PHOTO, other)
        self.run_cli("-w", weights("raw_convs"), "-i", PHOTO, "-i", os.path.join(other, os.path.basename(PHOTO)),
                     "-i", os.path.join(IMAGES, "png_rgb.png"), "-o", out, "--npy", "-q", expect=0)
        stem = os.path.splitext(os.path.basename(PHOTO))[0]
        self.assertEqual(sorted(os.listdir(out)), sorted([stem, stem + "-2", "png_rgb", "index.html"]))
        index = open(os.path.join(out, "index.html")).read()
        for folder in [stem, stem + "-2", "png_rgb"]:
            self.assertIn(f'href="{folder}/index.html"', index)
            self.assertTrue(os.path.isfile(os.path.join(out, folder, "index.html")))
        self.assert_matches(os.path.join(out, stem), "f32")
        self.assert_matches(os.path.join(out, stem + "-2"), "f32")

    def test_batches_give_the_same_files_as_one_image_at_a_time(self):
        images = [PHOTO, os.path.join(IMAGES, "png_rgb.png"), os.path.join(IMAGES, "jpeg_baseline.jpg")]
        args = [a for i in images for a in ("-i", i)]

        def files(out):
            found = {}
            for root, _, names in os.walk(out):
                for n in names:
                    if n.endswith((".npy", ".png")):
                        found[os.path.relpath(os.path.join(root, n), out)] = open(os.path.join(root, n), "rb").read()
            return found

        for extra in ([], ["--norm", "network", "--tap", "relu", "--overlay"]):
            results = {}
            for batch in ("1", "2", None):  # one image per forward; 2 then 1; all three in one (the default)
                out = os.path.join(self.tmp, f"out-{batch}-{len(extra)}")
                flags = ["--batch", batch] if batch else ["--progress"]
                # 112x112 keeps it quick and still splits conv2_1's tiles into blocks that end inside an image.
                proc = self.run_cli("-w", weights("raw_convs"), *args, "-o", out, "--npy", "--size", "112", *flags, *extra, expect=0)
                if not batch:
                    self.assertIn("3 images in 1 forward of up to 3", proc.stderr)
                    self.assertIn("(3,64,112,112)", proc.stderr)
                results[batch] = files(out)
            self.assertEqual(len(results["1"]), 3 * (len(CONVS) * (3 if extra else 2) + 1))
            for batch in ("2", None):
                self.assertEqual(sorted(results[batch]), sorted(results["1"]))
                for name, data in results["1"].items():
                    self.assertTrue(results[batch][name] == data, f"--batch {batch} {extra}: {name} differs")

    def test_bad_batch_is_a_usage_error(self):
        for value in ("0", "65", "x", "-1"):
            proc = self.run_cli("-w", weights("raw_convs"), "-i", PHOTO, "--batch", value, expect=2)
            self.assert_one_line_error(proc, "--batch")

    def test_every_image_kind_runs_through(self):
        kinds = ["jpeg_baseline.jpg", "jpeg_progressive.jpg", "jpeg_grey.jpg", "jpeg_cmyk.jpg", "png_grey.png", "png_la.png",
                 "png_rgba.png", "png_palette.png", "png_rgb16.png", "png_grey16.png", "png_interlaced.png", "bmp_rgb.bmp",
                 "bmp_palette.bmp", "tga_rgb.tga", "tga_rle_rgba.tga", "gif_anim.gif", "psd_rgb.psd", "psd_rgba_rle.psd",
                 "exact224.png"]
        out = os.path.join(self.tmp, "out")
        args = [a for k in kinds for a in ("-i", os.path.join(IMAGES, k))]
        self.run_cli("-w", weights("raw_convs"), *args, "-o", out, "--layers", "conv1_1", "--npy", "-q", expect=0)
        for k in kinds:
            folder = os.path.join(out, os.path.splitext(k)[0])
            a = np.load(os.path.join(folder, "conv1_1.npy"))
            self.assertEqual(a.shape, (64, 224, 224), k)
            self.assertTrue(np.isfinite(a).all(), k)

    def test_jpeg_photo_matches_pytorch_reading_it_with_pil(self):
        # A 224x224 JPEG (no resize): fmviz must decode it to PIL's pixels for its activations to match.
        version = self.run_cli("--version", expect=0).stdout
        if "JPEG libjpeg" not in version:
            self.skipTest("fmviz is built without libjpeg (" + version.strip() + "): JPEGs go through stb_image")
        self.assertGreaterEqual(len(MANIFEST["jpeg224"]), 1)
        for j in MANIFEST["jpeg224"]:
            with self.subTest(image=j["image"]):
                out = os.path.join(self.tmp, "out-" + j["image"])
                self.run_cli("-w", os.path.join(REF, j["weights"]), "-i", os.path.join(REF, j["image"]), "-o", out, "--npy",
                             "-q", expect=0)
                self.assert_matches(out, j["dir"])

    def test_an_image_named_like_the_index_page_gets_another_folder(self):
        # index.html.png would take the folder "index.html", where the top-level page must go.
        named = os.path.join(self.tmp, "index.html.png")
        shutil.copy(os.path.join(IMAGES, "png_rgb.png"), named)
        out = os.path.join(self.tmp, "out")
        self.run_cli("-w", weights("raw_convs"), "-i", named, "-i", os.path.join(IMAGES, "bmp_rgb.bmp"), "-o", out,
                     "--layers", "conv1_1", "-q", expect=0)
        self.assertTrue(os.path.isfile(os.path.join(out, "index.html")))
        self.assertTrue(os.path.isfile(os.path.join(out, "index.html-2", "index.html")))

    def test_progress_lines(self):
        out = os.path.join(self.tmp, "out")
        proc = self.run_cli("-w", weights("raw_convs"), "-i", PHOTO, "-o", out, "--progress", expect=0)
        self.assertIn("[1/13] conv1_1", proc.stderr)
        self.assertIn("[13/13] conv5_3", proc.stderr)
        quiet = self.run_cli("-w", weights("raw_convs"), "-i", PHOTO, "-o", out, "--quiet", expect=0)
        self.assertEqual(quiet.stderr, "")

    def test_classify_gives_pytorchs_top_5(self):
        out = os.path.join(self.tmp, "out")
        proc = self.run_cli("-w", weights("raw_full"), "-i", PHOTO, "-o", out, "--classify", "-q", expect=0)
        logits = np.load(os.path.join(REF, "f32", "logits.npy"))[0].astype(np.float64)
        probabilities = np.exp(logits - logits.max())
        probabilities /= probabilities.sum()
        expected = sorted(range(len(logits)), key=lambda i: (-logits[i], i))[:5]
        lines = proc.stdout.strip().splitlines()
        self.assertEqual(lines[0], PHOTO)
        got = [int(line.rsplit("(", 1)[1].rstrip(")")) for line in lines[1:]]
        self.assertEqual(got, expected)
        for line, index in zip(lines[1:], expected):
            percent = float(line.split()[1].rstrip("%"))
            self.assertAlmostEqual(percent, 100 * probabilities[index], delta=0.006)
        page = open(os.path.join(out, "index.html")).read()
        self.assertIn("Decision", page)
        self.assertIn(f"({expected[0]})", page)

    def test_cam_and_saliency_pictures_arrays_and_page(self):
        out = os.path.join(self.tmp, "out")
        explained = MANIFEST["explanations"]
        other = [c for c in explained["cams"] if c["class"] != MANIFEST["gradients"]["top"]][0]["class"]
        self.run_cli("-w", weights("raw_full"), "-i", PHOTO, "-o", out, "-q", "--layers", "conv1_1", "--npy",
                     "--cam", str(other), "--saliency", "vanilla,guided", expect=0)
        for method in ("gradcam", "gradcampp", "layercam"):
            got = np.load(os.path.join(out, f"cam_{method}_conv5_3.npy"))
            ref = np.load(os.path.join(REF, f"cam/conv5_3_relu_c{other}_{method}.npy"))
            self.assertEqual(got.shape, (1,) + ref.shape)
            err = np.abs(got[0] - ref).max() / np.abs(ref).max()
            self.assertLessEqual(err, TOLERANCE, f"{method}: relative error {err}")
            self.assertTrue(os.path.isfile(os.path.join(out, f"cam_{method}_conv5_3.png")))
        for method in ("vanilla", "guided"):
            gradient = np.load(os.path.join(out, f"saliency_{method}.npy"))
            self.assertEqual(gradient.shape, (3, 224, 224))
            self.assertGreater(np.abs(gradient).max(), 0)
            self.assertTrue(os.path.isfile(os.path.join(out, f"saliency_{method}.png")))
        self.assertFalse(os.path.exists(os.path.join(out, "saliency_smoothgrad.png")))
        page = open(os.path.join(out, "index.html")).read()
        for text in ("Where it looks", "Grad-CAM++", "LayerCAM", "Which pixels matter", "guided backpropagation", f"({other})"):
            self.assertIn(text, page)

    def test_cam_layer_and_class_by_name(self):
        out = os.path.join(self.tmp, "out")
        self.run_cli("-w", weights("raw_full"), "-i", PHOTO, "-o", out, "-q", "--layers", "conv1_1", "--npy",
                     "--cam", "tabby", "--cam-layer", "conv4_3", "--cam-method", "gradcam", expect=0)
        self.assertEqual(np.load(os.path.join(out, "cam_gradcam_conv4_3.npy")).shape, (1, 28, 28))
        self.assertFalse(os.path.exists(os.path.join(out, "cam_layercam_conv4_3.png")))
        self.assertIn("tabby (281)", open(os.path.join(out, "index.html")).read())

    def test_note_about_extra_tensor(self):
        out = os.path.join(self.tmp, "out")
        proc = self.run_cli("-w", weights("st_f32_shuffled"), "-i", PHOTO, "-o", out, "--npy", expect=0)
        self.assertIn(MANIFEST["extra_tensor"], proc.stderr)
        self.assert_matches(out, "f32")

    def test_oxford_prefix_with_caffe_preset(self):
        oxford = MANIFEST.get("oxford")
        if not oxford or not os.path.exists(oxford["weights"]):
            self.skipTest("real Oxford weights not present")
        out = os.path.join(self.tmp, "out")
        refused = self.run_cli("-w", oxford["weights"], "-i", oxford["image"], "-o", out, expect=1)
        self.assert_one_line_error(refused, "--last-layer conv3_1")
        self.run_cli("-w", oxford["weights"], "-i", oxford["image"], "-o", out, "--npy", "-q",
                     "--last-layer", "conv3_1", "--preset", "caffe", expect=0)
        self.assertEqual(sorted(f for f in os.listdir(out) if f.endswith(".npy")),
                         sorted(n + ".npy" for n in oxford["layers"]))
        self.assert_matches(out, "oxford", layers=oxford["layers"])


class CommandLine(CliCase):
    def test_help(self):
        proc = self.run_cli("--help", expect=0)
        for flag in ["--weights", "--image", "--out", "--npy", "--tap", "--threads", "--last-layer", "--preset"]:
            self.assertIn(flag, proc.stdout)

    def test_version(self):
        self.assertRegex(self.run_cli("--version", expect=0).stdout, r"^fmviz \d+\.\d+\.\d+ \(images: [^\n]*stb_image\)\n$")

    def test_bad_flags(self):
        w, i = weights("raw_convs"), PHOTO
        cases = [
            ((), "--weights"),
            (("--weights", w), "--image"),
            (("--image", i), "--weights"),
            (("-w", w, "-i", i, "--bogus"), "unknown option '--bogus'"),
            (("-w", w, "-i", i, "--tap", "pool"), "conv or relu"),
            (("-w", w, "-i", i, "--threads", "0"), "--threads"),
            (("-w", w, "-i", i, "--threads", "two"), "--threads"),
            (("-w", w, "-i", i, "--threads=-3"), "--threads"),
            (("-w", w, "-i", i, "--size", "99999"), "--size"),
            (("-w", w, "-i", i, "--preset", "keras"), "torchvision or caffe"),
            (("-w", w, "-i", i, "--conv-algorithm", "fft"), "auto, gemm or winograd"),
            (("-w", w, "-i", i, "--npy=yes"), "takes no value"),
            (("-w", w, "-w", w, "-i", i), "twice"),
            (("-w", w, "-i"), "needs a value"),
            (("-w", w, "-i", i, "stray"), "unexpected argument"),
            (("-w", w, "--recursive"), "--image"),
            (("-w", w, "--images-from", i, "-r"), "--recursive goes with --image"),
            (("-w", w, "-i", i, "--fail-fast=yes"), "takes no value"),
            (("-w", w, "-i", i, "--classify", "--last-layer", "conv3_1"), "--classify"),
            (("-w", w, "-i", i, "--last-layer", "conv9_9"), "--last-layer"),
            (("-w", w, "-i", i, "--cam", "1000"), "class 1000 does not exist"),
            (("-w", w, "-i", i, "--cam=no-such-class"), "nor an ImageNet class name"),
            (("-w", w, "-i", i, "--cam", "--cam-layer", "relu5_3"), "not a conv layer"),
            (("-w", w, "-i", i, "--cam", "--cam-layer", "pool5"), "not a conv layer"),
            (("-w", w, "-i", i, "--cam", "--cam-method", "gradcam,scorecam"), "gradcam, gradcam++ or layercam"),
            (("-w", w, "-i", i, "--cam-layer", "conv4_3"), "--cam-layer goes with --cam"),
            (("-w", w, "-i", i, "--cam", "--last-layer", "conv3_1"), "--cam runs the whole network"),
            (("-w", w, "-i", i, "--saliency", "--smoothgrad-samples", "0"), "--smoothgrad-samples"),
            (("-w", w, "-i", i, "--saliency", "--smoothgrad-noise", "-1"), "--smoothgrad-noise"),
            (("-w", w, "-i", i, "--seed", "3"), "--seed goes with --saliency"),
            (("-w", w, "-i", i, "--saliency=vanilla,sharp"), "vanilla, smoothgrad or guided"),
        ]
        for args, fragment in cases:
            with self.subTest(args=args):
                out = os.path.join(self.tmp, "never")
                proc = self.run_cli(*args, "--out", out, expect=2)
                self.assert_one_line_error(proc, fragment)
                self.assertFalse(os.path.exists(out))


class Dream(CliCase):
    """fmviz dream: feature visualisation from the command line (the library's own tests check the method)."""

    def dream(self, out, *extra, expect=0):
        return self.run_cli("dream", "-w", weights("raw_convs"), "--layer", "conv1_2", "--channels", "0-2,7", "--size", "24",
                            "--steps", "24", "-o", out, "-q", *extra, expect=expect)

    def test_writes_pictures_mosaic_history_and_page(self):
        out = os.path.join(self.tmp, "out")
        self.dream(out)
        self.assertEqual(sorted(os.listdir(out)), sorted(["conv1_2_c0.png", "conv1_2_c1.png", "conv1_2_c2.png", "conv1_2_c7.png",
                                                          "conv1_2.png", "history.csv", "index.html"]))
        rows = [line.split(",") for line in open(os.path.join(out, "history.csv")).read().split()]
        self.assertEqual(rows[0], ["step", "channel_0", "channel_1", "channel_2", "channel_7"])
        self.assertEqual(len(rows), 25)
        for column in range(1, 5):
            values = [float(r[column]) for r in rows[1:]]
            self.assertGreater(np.mean(values[-6:]), np.mean(values[:6]), f"channel column {column} did not rise: {values}")
        with open(os.path.join(out, "index.html")) as f:
            page = f.read()
        self.assertIn("conv1_2: images optimised to excite each channel", page)
        self.assertIn("channel 7:", page)
        # The same seed gives the same files; another seed another picture.
        again = os.path.join(self.tmp, "again")
        self.dream(again)
        for name in os.listdir(out):
            with open(os.path.join(out, name), "rb") as a, open(os.path.join(again, name), "rb") as b:
                self.assertEqual(a.read(), b.read(), name)
        other = os.path.join(self.tmp, "other")
        self.dream(other, "--seed", "1")
        with open(os.path.join(out, "conv1_2_c0.png"), "rb") as a, open(os.path.join(other, "conv1_2_c0.png"), "rb") as b:
            self.assertNotEqual(a.read(), b.read())

    def test_deepdream_and_help(self):
        out = os.path.join(self.tmp, "out")
        self.run_cli("dream", "-w", weights("raw_convs"), "--layer", "conv1_1", "--deepdream", "--size", "16", "--steps", "3",
                     "-o", out, "-q", expect=0)
        self.assertTrue(os.path.isfile(os.path.join(out, "conv1_1_layer.png")))
        proc = self.run_cli("dream", "--help", expect=0)
        for flag in ("--layer", "--channels", "--steps", "--seed", "--neuron", "--deepdream"):
            self.assertIn(flag, proc.stdout)
        self.assertIn("fmviz dream", self.run_cli("--help", expect=0).stdout)

    def test_bad_requests(self):
        w = weights("raw_convs")
        usage = [
            (("dream", "-w", w), "--layer NAME is required"),
            (("dream", "--layer", "conv1_1"), "--weights FILE is required"),
            (("dream", "-w", w, "--layer", "relu1_1"), "not a conv layer"),
            (("dream", "-w", w, "--layer", "conv1_1", "--channels", "top4"), "top K"),
            (("dream", "-w", w, "--layer", "conv1_1", "--channels", "64-64"), "channel 64"),
            (("dream", "-w", w, "--layer", "conv3_1", "--size", "4"), "--size"),
            (("dream", "-w", w, "--layer", "conv1_1", "--steps", "0"), "--steps"),
            (("dream", "-w", w, "--layer", "conv1_1", "--learning-rate", "abc"), "--learning-rate"),
            (("dream", "-w", w, "--layer", "conv1_1", "--deepdream", "--channels", "4"), "--deepdream"),
            (("dream", "-w", w, "--layer", "conv1_1", "--image", "x.jpg"), "unknown option '--image'"),
        ]
        for args, fragment in usage:
            with self.subTest(args=args):
                out = os.path.join(self.tmp, "never")
                proc = self.run_cli(*args, "-o", out, expect=2)
                self.assert_one_line_error(proc, fragment)
                self.assertFalse(os.path.exists(out))
        out = os.path.join(self.tmp, "never")
        proc = self.run_cli("dream", "-w", os.path.join(self.tmp, "nope.bin"), "--layer", "conv1_1", "-o", out, expect=1)
        self.assert_one_line_error(proc, "nope.bin")
        self.assertFalse(os.path.exists(out))


class BadInputs(CliCase):
    def make(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def expect_failure(self, weights_path, image_path, *fragments, extra=()):
        out = os.path.join(self.tmp, "out")
        proc = self.run_cli("-w", weights_path, "-i", image_path, "-o", out, *extra, expect=1)
        self.assert_one_line_error(proc, *fragments)
        self.assert_no_files(out)

    def test_missing_weights(self):
        self.expect_failure(os.path.join(self.tmp, "nope.bin"), PHOTO, "nope.bin")

    def test_truncated_raw_weights(self):
        with open(weights("raw_convs"), "rb") as f:
            data = f.read(1_000_003)
        self.expect_failure(self.make("cut.bin", data), PHOTO, "cut.bin", "58,858,752")

    def test_truncated_safetensors(self):
        with open(weights("st_bf16_convs"), "rb") as f:
            data = f.read(2_000_000)
        self.expect_failure(self.make("cut.safetensors", data), PHOTO, "cut.safetensors")

    def test_garbage_safetensors(self):
        self.expect_failure(self.make("junk.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all"), PHOTO,
                            "junk.safetensors", "JSON")

    def test_weights_is_a_folder(self):
        self.expect_failure(self.tmp, PHOTO, self.tmp)

    def test_classify_needs_the_classifier(self):
        self.expect_failure(weights("raw_convs"), PHOTO, "classify", "whole VGG16", extra=("--classify",))

    def test_explanations_need_the_classifier(self):
        for flag in ("--cam", "--saliency"):
            with self.subTest(flag=flag):
                self.expect_failure(weights("raw_convs"), PHOTO, flag[2:], "whole VGG16", weights("raw_convs"), extra=(flag,))

    def test_fifo_inputs_do_not_hang(self):
        fifo = os.path.join(self.tmp, "pipe")
        os.mkfifo(fifo)
        self.expect_failure(fifo, PHOTO, "pipe", "not a regular file")
        self.expect_failure(weights("raw_convs"), fifo, "pipe", "not a regular file")

    def test_unknown_layer_names_are_usage_errors(self):
        for flag in ("--last-layer", "--layers"):
            with self.subTest(flag=flag):
                out = os.path.join(self.tmp, "out")
                proc = self.run_cli("-w", weights("raw_convs"), "-i", PHOTO, "-o", out, flag, "conv9_9", expect=2)
                self.assert_one_line_error(proc, flag, "conv9_9")
                self.assert_no_files(out)

    def test_hostile_images(self):
        # Files made to break decoders: each gives one line and exit status 1, and nothing is left behind. With
        # valgrind installed, each is read again under it (memcheck, with the decoders' own memory errors
        # counted too): it must report nothing.
        decodable = ["hostile_psd_matte.psd", "hostile_dht_missing.jpg"]  # valid enough: PIL decodes them too
        names = sorted(f for f in os.listdir(IMAGES) if f.startswith("hostile_") and f not in decodable)
        self.assertGreaterEqual(len(names), 12)
        paths = [os.path.join(IMAGES, n) for n in names] + sorted(glob.glob(os.path.join(FUZZ_REGRESSIONS, "image_*")))
        valgrind = shutil.which("valgrind")
        if os.environ.get("FMVIZ_SANITIZERS"):
            valgrind = None
            print("skipped: the valgrind part (this CLI is built with " + os.environ["FMVIZ_SANITIZERS"] + ")")
        elif not valgrind:
            print("skipped: the valgrind part (valgrind not installed; Debian package valgrind)")
        for path in paths:
            name = os.path.basename(path)
            with self.subTest(image=name):
                args = ("-w", weights("raw_convs"), "--last-layer", "conv1_1", "--size", "32", "-i", path, "-q")
                out = os.path.join(self.tmp, "out-" + name)
                proc = self.run_cli(*args, "-o", out, expect=1)
                self.assert_one_line_error(proc, name)
                self.assert_no_files(out)
                if valgrind:
                    proc = subprocess.run([valgrind, "-q", "--error-exitcode=99", "--track-origins=yes", CLI, *args, "-o", out],
                                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
                    self.assertEqual(proc.returncode, 1, f"valgrind on {name}:\n{proc.stderr}")
                    self.assert_one_line_error(proc, name)
        for name in decodable:
            with self.subTest(image=name):
                out = os.path.join(self.tmp, "out-" + name)
                self.run_cli("-w", weights("raw_convs"), "--last-layer", "conv1_1", "--size", "32", "-i",
                             os.path.join(IMAGES, name), "-o", out, "-q", expect=0)

    def test_refused_formats_say_which_are_read(self):
        self.expect_failure(weights("raw_convs"), os.path.join(IMAGES, "hdr_rgb.hdr"), "unsupported format: Radiance HDR",
                            "JPEG, PNG, BMP, GIF, PSD and TGA")

    def test_pixel_limit_is_an_option(self):
        big = os.path.join(IMAGES, "png_rgb.png")  # 48 x 36 = 1728 pixels
        self.expect_failure(weights("raw_convs"), big, "1728 pixels, more than the limit of 1000", "--max-pixels",
                            extra=("--max-pixels", "1000"))
        out = os.path.join(self.tmp, "ok")
        self.run_cli("-w", weights("raw_convs"), "-i", big, "-o", out, "--layers", "conv1_1", "--max-pixels", "1728", "-q",
                     expect=0)

    def test_pictures_too_large_fail_before_any_work(self):
        # --size 4096 makes conv1_1's grid of 16 cells 32786 x 8198 pixels: refused before the weights run, at once.
        out = os.path.join(self.tmp, "out")
        start = time.monotonic()
        proc = self.run_cli("-w", weights("raw_convs"), "-i", PHOTO, "-o", out, "--size", "4096", expect=2)
        elapsed = time.monotonic() - start
        self.assert_one_line_error(proc, "--size", "conv1_1", "4096", "picture would be")
        self.assert_no_files(out)
        self.assertFalse(os.path.exists(out))
        self.assertLess(elapsed, 60, "the size check came after the forward")  # the forward alone takes minutes

    def test_broken_images(self):
        for name in ["broken_empty.png", "broken_random.png", "broken_truncated.png", "broken_truncated.jpg",
                     "broken_text.jpg", "broken_huge.png", "broken_large.png"]:
            with self.subTest(image=name):
                self.expect_failure(weights("raw_convs"), os.path.join(IMAGES, name), name)

    def test_one_bad_image_among_good_ones_is_skipped(self):
        # The bad image gets one line and exit status 1; every other image's output is complete.
        out = os.path.join(self.tmp, "out")
        good2 = os.path.join(IMAGES, "png_rgb.png")
        proc = self.run_cli("-w", weights("raw_convs"), "-i", PHOTO, "-i", os.path.join(IMAGES, "broken_random.png"),
                            "-i", good2, "-o", out, "--npy", "-q", expect=1)
        self.assert_one_line_error(proc, "broken_random.png", "skipped")
        stem = os.path.splitext(os.path.basename(PHOTO))[0]
        self.assertEqual(sorted(os.listdir(out)), sorted([stem, "png_rgb", "index.html"]))
        self.assert_matches(os.path.join(out, stem), "f32")
        for folder in (stem, "png_rgb"):
            names = os.listdir(os.path.join(out, folder))
            self.assertEqual(sorted(names), sorted(["index.html", "input.png"] + [n + ".png" for n in CONVS] + [n + ".npy" for n in CONVS]))
        index = open(os.path.join(out, "index.html")).read()
        self.assertIn('href="png_rgb/index.html"', index)
        self.assertNotIn("broken_random", index)

    def test_fail_fast_stops_at_a_bad_image_and_writes_nothing(self):
        out = os.path.join(self.tmp, "out")
        proc = self.run_cli("-w", weights("raw_convs"), "-i", PHOTO, "-i", os.path.join(IMAGES, "broken_random.png"),
                            "-i", os.path.join(IMAGES, "png_rgb.png"), "-o", out, "--fail-fast", "-q", expect=1)
        self.assert_one_line_error(proc, "broken_random.png")
        self.assert_no_files(out)
        self.assertFalse(os.path.exists(out))

    def test_every_image_bad_writes_nothing(self):
        out = os.path.join(self.tmp, "out")
        proc = self.run_cli("-w", weights("raw_convs"), "-i", os.path.join(IMAGES, "broken_random.png"),
                            "-i", os.path.join(IMAGES, "broken_empty.png"), "-o", out, "-q", expect=1)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 2, proc.stderr)
        self.assertFalse(os.path.exists(out))

    def test_output_folder_is_a_file(self):
        out = self.make("taken", b"x")
        proc = self.run_cli("-w", weights("raw_convs"), "-i", PHOTO, "-o", out, expect=1)
        self.assert_one_line_error(proc, "taken")

    def test_failed_picture_write_names_it_and_leaves_no_partial_file(self):
        # The pictures are written in parallel: a failing one still gives one line, exit status 1, no
        # temporary files and no gallery; the pictures that were written are whole.
        out = os.path.join(self.tmp, "out")
        os.makedirs(os.path.join(out, "conv3_1.png"))  # a folder where a file must go: the rename fails
        for threads in ("1", "2"):
            proc = self.run_cli("-w", weights("raw_convs"), "-i", PHOTO, "-o", out, "-q", "--threads", threads, expect=1)
            self.assert_one_line_error(proc, "conv3_1.png")
            # The pictures written before the failure are taken back: only the obstacle is left.
            self.assertEqual(os.listdir(out), ["conv3_1.png"])

    def test_failed_write_leaves_no_partial_file(self):
        out = os.path.join(self.tmp, "out")
        os.makedirs(os.path.join(out, "conv2_1.npy"))  # a folder where a file must go: the rename fails
        proc = self.run_cli("-w", weights("raw_convs"), "-i", PHOTO, "-o", out, "--npy", "-q", expect=1)
        self.assert_one_line_error(proc, "conv2_1.npy")
        self.assertEqual(os.listdir(out), ["conv2_1.npy"])  # conv1_1.npy and conv1_2.npy were taken back


def tree(folder):
    """Every file under `folder` (relative path -> bytes)."""
    found = {}
    for root, _, names in os.walk(folder):
        for n in names:
            path = os.path.join(root, n)
            with open(path, "rb") as f:
                found[os.path.relpath(path, folder)] = f.read()
    return found


class ManyImages(CliCase):
    """Folders, list files, progress, and the library doing the command's job."""

    def image_folder(self):
        folder = os.path.join(self.tmp, "photos")
        os.makedirs(os.path.join(folder, "deeper"))
        os.makedirs(os.path.join(folder, ".hidden"))
        shutil.copy(PHOTO, os.path.join(folder, "b_photo.png"))
        shutil.copy(os.path.join(IMAGES, "png_rgb.png"), os.path.join(folder, "a_rgb.PNG"))
        shutil.copy(os.path.join(IMAGES, "jpeg_baseline.jpg"), os.path.join(folder, "deeper", "c_jpeg.jpg"))
        shutil.copy(os.path.join(IMAGES, "png_rgb.png"), os.path.join(folder, ".hidden", "h.png"))
        shutil.copy(os.path.join(IMAGES, "png_rgb.png"), os.path.join(folder, ".dot.png"))
        with open(os.path.join(folder, "notes.txt"), "w") as f:
            f.write("not an image\n")
        return folder

    def run_small(self, *args, expect=0):
        # Two early layers at 64 x 64: the image handling is under test here, not the network.
        return self.run_cli("-w", weights("raw_convs"), "--size", "64", "--layers", "conv1_1,conv2_1", *args, expect=expect)

    def test_folder_is_every_image_in_it_sorted(self):
        folder = self.image_folder()
        out = os.path.join(self.tmp, "out")
        self.run_small("-i", folder, "-o", out, "-q")
        self.assertEqual(sorted(os.listdir(out)), ["a_rgb", "b_photo", "index.html"])
        index = open(os.path.join(out, "index.html")).read()
        self.assertLess(index.index("a_rgb/index.html"), index.index("b_photo/index.html"))
        out_r = os.path.join(self.tmp, "out_r")
        self.run_small("-i", folder, "-r", "-o", out_r, "-q")
        self.assertEqual(sorted(os.listdir(out_r)), ["a_rgb", "b_photo", "c_jpeg", "index.html"])
        # The same images given one by one give the same files.
        out_files = os.path.join(self.tmp, "out_files")
        self.run_small("-i", os.path.join(folder, "a_rgb.PNG"), "-i", os.path.join(folder, "b_photo.png"),
                       "-i", os.path.join(folder, "deeper", "c_jpeg.jpg"), "-o", out_files, "-q")
        self.assertEqual(tree(out_files), tree(out_r))

    def test_empty_folder_is_an_error(self):
        empty = os.path.join(self.tmp, "empty")
        os.makedirs(os.path.join(empty, "below"))
        shutil.copy(PHOTO, os.path.join(empty, "below", "p.png"))
        out = os.path.join(self.tmp, "out")
        proc = self.run_small("-i", empty, "-o", out, expect=1)
        self.assert_one_line_error(proc, "empty", "holds no images", "--recursive")
        self.assertFalse(os.path.exists(out))

    def test_list_file_and_standard_input(self):
        folder = self.image_folder()
        listing = os.path.join(self.tmp, "list.txt")
        with open(listing, "w") as f:
            f.write(f"# photos\n{os.path.join(folder, 'b_photo.png')}\n\n{os.path.join(folder, 'a_rgb.PNG')}\r\n")
        out = os.path.join(self.tmp, "out")
        self.run_small("--images-from", listing, "-o", out, "-q")
        index = open(os.path.join(out, "index.html")).read()
        self.assertLess(index.index("b_photo/index.html"), index.index("a_rgb/index.html"))  # the list's order
        out_stdin = os.path.join(self.tmp, "out_stdin")
        proc = subprocess.run([CLI, "-w", weights("raw_convs"), "--size", "64", "--layers", "conv1_1,conv2_1",
                               "--images-from", "-", "-o", out_stdin, "-q"], input=open(listing).read(),
                              capture_output=True, text=True, timeout=300)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(tree(out_stdin), tree(out))
        empty = self.make_text("empty.txt", "# nothing\n\n")
        proc = self.run_small("--images-from", empty, "-o", os.path.join(self.tmp, "never"), expect=1)
        self.assert_one_line_error(proc, "empty.txt", "lists no images")
        proc = self.run_small("--images-from", os.path.join(self.tmp, "missing.txt"), "-o", os.path.join(self.tmp, "never"), expect=1)
        self.assert_one_line_error(proc, "missing.txt")
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "never")))

    def make_text(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_progress_bar_on_a_terminal(self):
        import pty
        folder = self.image_folder()
        out = os.path.join(self.tmp, "out")
        master, slave = pty.openpty()
        proc = subprocess.Popen([CLI, "-w", weights("raw_convs"), "--size", "64", "--layers", "conv1_1,conv2_1", "-i", folder,
                                 "-r", "-i", os.path.join(IMAGES, "broken_random.png"), "--batch", "1", "-o", out],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
        os.close(slave)
        data = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        os.close(master)
        self.assertEqual(proc.wait(timeout=300), 1)
        text = data.decode()
        self.assertIn("\r", text)
        self.assertIn("4/4 images, 1 skipped", text)
        self.assertIn("left", text)  # the time left, shown while images remain
        self.assertIn("broken_random.png", text)
        self.assertNotIn("[1/", text)  # no line per layer under the bar

    def test_library_example_writes_the_same_folder(self):
        example = os.environ.get("FMVIZ_REPORT_EXAMPLE", "")
        if not example:
            self.skipTest("examples/report.cpp is not built (FMVIZ_BUILD_EXAMPLES=OFF)")
        w = weights("raw_convs")
        by_command, by_library = os.path.join(self.tmp, "command"), os.path.join(self.tmp, "library")
        self.run_cli("-w", w, "-i", PHOTO, "-o", by_command, "-q", expect=0)
        proc = subprocess.run([example, w, PHOTO, by_library], capture_output=True, text=True, timeout=300)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        a, b = tree(by_command), tree(by_library)
        self.assertEqual(sorted(a), sorted(b))
        self.assertEqual(len(a), 15)  # input.png, 13 grids, index.html
        for name in a:
            self.assertEqual(a[name], b[name], name)

    def test_memory_does_not_grow_with_the_number_of_images(self):
        # 40 images take no more memory than 8: they are read batch by batch.
        if os.environ.get("FMVIZ_SANITIZERS"):
            self.skipTest("a sanitizer keeps freed memory in quarantine: the peak grows with the work done")
        def peak_kib(count):
            args = [CLI, "-w", weights("raw_convs"), "--size", "64", "--layers", "conv1_1,conv2_1", "-q", "-o",
                    os.path.join(self.tmp, f"out{count}")]
            for k in range(count):
                args += ["-i", PHOTO]
            proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            self.assertEqual(proc.returncode, 0, proc.stderr.read())
            return usage.ru_maxrss

        few, many = peak_kib(8), peak_kib(40)
        self.assertLess(many, few * 1.15 + 4096, f"peak {few} KiB for 8 images, {many} KiB for 40")


if __name__ == "__main__":
    unittest.main(verbosity=2)
