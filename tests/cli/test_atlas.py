#!/usr/bin/python3
"""End-to-end tests of fmviz atlas: sharded runs merged equal one run byte for byte, resuming, what a stopped shard
leaves, bad command lines. The library's tests (tests/test_atlas.cpp) check the ranking and the table's validation.

Run by CTest with FMVIZ_CLI (the executable) and FMVIZ_TEST_DATA (the generated fixtures) set.
"""
import filecmp
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from PIL import Image

CLI = os.environ["FMVIZ_CLI"]
DATA = os.environ["FMVIZ_TEST_DATA"]
REF = os.path.join(DATA, "reference")
IMAGES = os.path.join(DATA, "images")
WEIGHTS = os.path.join(REF, "vgg16_seed0_convs.bin")
# Small and quick: three layers at 64 x 64 (the network stops after conv3_1).
SMALL = ("--size", "64", "--layers", "conv1_2,conv2_1,conv3_1", "--top", "3")


def load_json(path):
    with open(path) as f:
        return json.load(f)


class AtlasCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Twelve images: fixture images of several formats, reference photos, and flipped and cropped copies.
        cls.shared = tempfile.mkdtemp(prefix="fmviz-atlas-")
        cls.folder = os.path.join(cls.shared, "photos")
        os.makedirs(cls.folder)
        for name in ("png_rgb.png", "jpeg_baseline.jpg", "jpeg_grey.jpg", "bmp_rgb.bmp", "png_palette.png", "psd_rgb.psd"):
            shutil.copy(os.path.join(IMAGES, name), os.path.join(cls.folder, "a_" + name))
        for name in ("grace_hopper.png", "chelsea224.jpg"):
            shutil.copy(os.path.join(REF, name), os.path.join(cls.folder, "b_" + name))
            im = Image.open(os.path.join(REF, name)).convert("RGB")
            im.transpose(Image.FLIP_LEFT_RIGHT).save(os.path.join(cls.folder, "c_flip_" + os.path.splitext(name)[0] + ".png"))
            w, h = im.size
            im.crop((w // 4, h // 4, w * 3 // 4, h * 3 // 4)).save(os.path.join(cls.folder, "d_crop_" + os.path.splitext(name)[0] + ".png"))
        assert len(os.listdir(cls.folder)) == 12

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared, ignore_errors=True)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="fmviz-atlas-case-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_cli(self, *args, expect, stdin=subprocess.DEVNULL):
        proc = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=600, stdin=stdin)
        self.assertGreaterEqual(proc.returncode, 0, f"killed by signal {-proc.returncode}: {proc.stderr}")
        self.assertEqual(proc.returncode, expect, f"args {args}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc

    def atlas(self, out, *extra, expect=0, folder=None):
        return self.run_cli("atlas", "-w", WEIGHTS, "--images", folder or self.folder, *SMALL, "-o", out, "-q", *extra, expect=expect)

    def assert_one_line_error(self, proc, *fragments):
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, f"expected one line on stderr, got: {proc.stderr!r}")
        self.assertTrue(lines[0].startswith("fmviz atlas: "), lines[0])
        for fragment in fragments:
            self.assertIn(fragment, lines[0])

    def assert_same_tables(self, a, b):
        names = sorted(os.listdir(a))
        self.assertIn("atlas.json", names)
        tables = [n for n in names if n == "atlas.json" or n.endswith(".bin")]
        self.assertEqual(sorted(n for n in os.listdir(b) if n == "atlas.json" or n.endswith(".bin")), tables)
        for name in tables:
            self.assertTrue(filecmp.cmp(os.path.join(a, name), os.path.join(b, name), shallow=False), f"{name} differs")


class Atlas(AtlasCase):
    def test_shards_merged_equal_one_run_byte_for_byte(self):
        whole = os.path.join(self.tmp, "whole")
        self.atlas(whole, "--no-site")
        manifest = load_json(os.path.join(whole, "atlas.json"))
        self.assertEqual(len(manifest["images"]), 12)
        self.assertEqual(manifest["images"], sorted(manifest["images"]))
        self.assertEqual([l["name"] for l in manifest["layers"]], ["conv1_2", "conv2_1", "conv3_1"])
        self.assertEqual(manifest["shard"], {"index": 0, "count": 1})
        self.assertEqual(manifest["top_k"], 3)
        self.assertFalse([n for n in os.listdir(whole) if n.endswith(".html")], "--no-site wrote a page")
        shards = []
        for i in range(4):
            shards.append(os.path.join(self.tmp, f"shard{i}"))
            # Each shard with another batch size and thread count: the table must not depend on them.
            self.atlas(shards[-1], "--shard", f"{i}/4", "--batch", str(i + 1), "--threads", str(1 + i % 2))
            part = load_json(os.path.join(shards[-1], "atlas.json"))
            self.assertEqual(part["shard"], {"index": i, "count": 4})
            # A shard lists its own images only (image j is shard j mod 4's), with the whole list's size and checksum.
            self.assertEqual(part["images"], manifest["images"][i::4])
            self.assertEqual(part["image_count"], 12)
            self.assertEqual(part["images_crc32"], manifest["images_crc32"])
            self.assertFalse([n for n in os.listdir(shards[-1]) if n.endswith(".html")], "a shard wrote a page")
        merged = os.path.join(self.tmp, "merged")
        self.run_cli("atlas", "merge", shards[2], shards[0], shards[3], shards[1], "-o", merged, "--no-site", "-q", expect=0)
        self.assert_same_tables(whole, merged)
        # cmp, as a user would check it.
        for name in os.listdir(whole):
            self.assertEqual(subprocess.run(["cmp", os.path.join(whole, name), os.path.join(merged, name)]).returncode, 0, name)

        # A merge of an incomplete or repeated set of shards is refused, and writes nothing.
        never = os.path.join(self.tmp, "never")
        proc = self.run_cli("atlas", "merge", *shards[:3], "-o", never, "--no-site", expect=1)
        self.assert_one_line_error(proc, "shard 3/4 is missing")
        proc = self.run_cli("atlas", "merge", *shards, shards[1], "-o", never, "--no-site", expect=1)
        self.assert_one_line_error(proc, "given twice")
        proc = self.run_cli("atlas", "merge", *shards, whole, "-o", never, "--no-site", expect=1)
        self.assert_one_line_error(proc, "counted alike")
        self.assertFalse(os.path.exists(never))

    def test_rerun_of_a_finished_shard_is_skipped(self):
        out = os.path.join(self.tmp, "s1")
        self.atlas(out, "--shard", "1/3")
        stamps = {n: os.stat(os.path.join(out, n)).st_mtime_ns for n in os.listdir(out)}
        time.sleep(0.05)
        start = time.monotonic()
        proc = self.run_cli("atlas", "-w", WEIGHTS, "--images", self.folder, *SMALL, "-o", out, "--shard", "1/3", expect=0)
        self.assertIn("finished table already", proc.stderr)
        self.assertLess(time.monotonic() - start, 30)
        self.assertEqual({n: os.stat(os.path.join(out, n)).st_mtime_ns for n in os.listdir(out)}, stamps)
        # Another request into the same folder is an error, and leaves the table as it was.
        proc = self.atlas(out, "--shard", "2/3", expect=1)
        self.assert_one_line_error(proc, "another request", "shard 1/3 against 2/3")
        proc = self.run_cli("atlas", "-w", WEIGHTS, "--images", self.folder, "--size", "64", "--layers", "conv1_2,conv2_1,conv3_1",
                            "--top", "4", "--shard", "1/3", "-o", out, "-q", expect=1)
        self.assert_one_line_error(proc, "top_k 3 against 4")
        self.assertEqual({n: os.stat(os.path.join(out, n)).st_mtime_ns for n in os.listdir(out)}, stamps)

    def test_a_stopped_shard_leaves_nothing_merge_accepts(self):
        # --fail-fast at a bad image: the shard stops and writes nothing.
        bad_folder = os.path.join(self.tmp, "with_bad")
        shutil.copytree(self.folder, bad_folder)
        shutil.copy(os.path.join(IMAGES, "broken_random.png"), os.path.join(bad_folder, "e_broken.png"))  # image 12: shard 0 of 2
        stopped = os.path.join(self.tmp, "stopped")
        proc = self.atlas(stopped, "--shard", "0/2", "--fail-fast", folder=bad_folder, expect=1)
        self.assert_one_line_error(proc, "e_broken.png")
        self.assertEqual(os.listdir(stopped) if os.path.exists(stopped) else [], [])
        other = os.path.join(self.tmp, "other")
        self.atlas(other, "--shard", "1/2", folder=bad_folder)
        never = os.path.join(self.tmp, "never")
        os.makedirs(stopped, exist_ok=True)
        proc = self.run_cli("atlas", "merge", stopped, other, "-o", never, "--no-site", expect=1)
        self.assert_one_line_error(proc, "did not finish")

        # Killed in the middle of its run: no atlas.json, so merge refuses the folder.
        killed = os.path.join(self.tmp, "killed")
        many = os.path.join(self.tmp, "list.txt")
        with open(many, "w") as f:
            for k in range(400):
                f.write(os.path.join(self.folder, sorted(os.listdir(self.folder))[k % 12]) + "\n")
        proc = subprocess.Popen([CLI, "atlas", "-w", WEIGHTS, "--images-from", many, *SMALL, "--shard", "0/2", "-o", killed,
                                 "--batch", "1", "--progress"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        # Wait until it has run some images, then kill it.
        seen = b""
        while b"images/s" not in seen:
            chunk = proc.stderr.read1(4096) if hasattr(proc.stderr, "read1") else proc.stderr.read(64)
            if not chunk:
                break
            seen += chunk
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        proc.stderr.close()
        self.assertEqual(proc.returncode, -signal.SIGKILL, seen.decode())
        self.assertFalse(os.path.exists(os.path.join(killed, "atlas.json")))
        os.makedirs(killed, exist_ok=True)
        proc = self.run_cli("atlas", "merge", killed, "-o", never, "--no-site", expect=1)
        self.assert_one_line_error(proc, "did not finish")
        self.assertFalse(os.path.exists(never))

    def test_a_bad_image_is_left_out_and_named(self):
        bad_folder = os.path.join(self.tmp, "with_bad")
        shutil.copytree(self.folder, bad_folder)
        shutil.copy(os.path.join(IMAGES, "broken_random.png"), os.path.join(bad_folder, "e_broken.png"))
        out = os.path.join(self.tmp, "out")
        proc = self.atlas(out, "--no-site", folder=bad_folder, expect=1)
        self.assertIn("e_broken.png", proc.stderr)
        self.assertIn("left out", proc.stderr)
        manifest = load_json(os.path.join(out, "atlas.json"))
        self.assertEqual(manifest["skipped"], [12])
        # A rerun finds the table finished, and says again that an image was left out.
        proc = self.atlas(out, "--no-site", folder=bad_folder, expect=1)
        self.assertIn("could not be read", proc.stderr)

    def test_site_is_written_by_a_whole_run_and_by_merge(self):
        site = os.path.join(self.tmp, "site")
        args = ("atlas", "-w", WEIGHTS, "--images", self.folder, "--size", "64", "--layers", "conv1_1", "--top", "2", "-q")
        self.run_cli(*args, "-o", site, expect=0)
        shards = [os.path.join(self.tmp, f"s{i}") for i in range(2)]
        for i, s in enumerate(shards):
            self.run_cli(*args, "--shard", f"{i}/2", "-o", s, expect=0)
        merged = os.path.join(self.tmp, "merged")
        self.run_cli("atlas", "merge", *shards, "-o", merged, "-q", expect=0)  # the weights: the table's
        self.assert_same_tables(site, merged)
        for out in (site, merged):
            self.assertTrue(os.path.isfile(os.path.join(out, "index.html")), out)
            self.assertTrue(os.path.isfile(os.path.join(out, "conv1_1.html")), out)
        # Weights that cannot be loaded: the error says where they came from, and nothing is written.
        never = os.path.join(self.tmp, "never")
        proc = self.run_cli("atlas", "merge", *shards, "-o", never, "-w", os.path.join(self.tmp, "nope.bin"), expect=1)
        self.assert_one_line_error(proc, "nope.bin")
        self.assertFalse(os.path.exists(never))

    def test_help_and_bad_command_lines(self):
        proc = self.run_cli("atlas", "--help", expect=0)
        for flag in ("--images", "--images-from", "--shard", "--layers", "--top", "--tap", "--no-site", "merge", "--fail-fast"):
            self.assertIn(flag, proc.stdout)
        self.assertIn("fmviz atlas", self.run_cli("--help", expect=0).stdout)
        w, d = WEIGHTS, self.folder
        cases = [
            (("atlas",), "--weights FILE is required"),
            (("atlas", "-w", w), "--images DIR"),
            (("atlas", "-w", w, "--images", d), "--out DIR is required"),
            (("atlas", "-w", w, "--images", d, "--shard", "4/4"), "--shard expects I/N"),
            (("atlas", "-w", w, "--images", d, "--shard=-1/4"), "--shard expects I/N"),
            (("atlas", "-w", w, "--images", d, "--shard", "1/0"), "--shard expects I/N"),
            (("atlas", "-w", w, "--images", d, "--shard", "two"), "--shard expects I/N"),
            (("atlas", "-w", w, "--images", d, "--shard", "0/2", "--shard", "1/2"), "--shard given twice"),
            (("atlas", "-w", w, "--images", d, "--top", "0"), "--top"),
            (("atlas", "-w", w, "--images", d, "--top", "1001"), "--top"),
            (("atlas", "-w", w, "--images", d, "--layers", "pool3"), "not a conv layer"),
            (("atlas", "-w", w, "--images", d, "--tap", "pool"), "conv or relu"),
            (("atlas", "-w", w, "--images", d, "--size", "8"), "--size"),
            (("atlas", "-w", w, "--images", d, "--batch", "0"), "--batch"),
            (("atlas", "-w", w, "--images", d, "--bogus"), "unknown option '--bogus'"),
            (("atlas", "-w", w, "--images", d, "--no-site=yes"), "takes no value"),
            (("atlas", "-w", w, "--images", d, "stray"), "unexpected argument"),
            (("atlas", "-w", w, "--images-from", d, "-r"), "--recursive goes with --images"),
            (("atlas", "merge"), "merge needs the folders"),
            (("atlas", "merge", d, "--top", "3"), "is for a run, not for merge"),
            (("atlas", "merge", d, "--shard", "0/2"), "is for a run, not for merge"),
        ]
        for args, fragment in cases:
            with self.subTest(args=args):
                out = os.path.join(self.tmp, "never")
                extra = ("-o", out) if "--out DIR" not in fragment else ()
                proc = self.run_cli(*args, *extra, expect=2)
                self.assert_one_line_error(proc, fragment)
                self.assertFalse(os.path.exists(out))
        proc = self.run_cli("atlas", "-w", os.path.join(self.tmp, "nope.bin"), "--images", d, "-o", os.path.join(self.tmp, "never"),
                            expect=1)
        self.assert_one_line_error(proc, "nope.bin")
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "never")))

    def test_list_file_gives_the_same_table_as_the_folder(self):
        by_folder = os.path.join(self.tmp, "folder")
        self.atlas(by_folder, "--no-site")
        listing = "\n".join(os.path.join(self.folder, n) for n in sorted(os.listdir(self.folder))) + "\n"
        by_list = os.path.join(self.tmp, "list")
        proc = subprocess.run([CLI, "atlas", "-w", WEIGHTS, "--images-from", "-", *SMALL, "-o", by_list, "-q", "--no-site"],
                              input=listing, capture_output=True, text=True, timeout=600)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assert_same_tables(by_folder, by_list)


if __name__ == "__main__":
    unittest.main(verbosity=2)
