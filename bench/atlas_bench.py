#!/usr/bin/python3
"""Throughput of `fmviz atlas` beside its two alternatives, in paired, interleaved rounds on one machine.

  atlas_bench.py --fmviz build/bin/fmviz --weights vgg16.bin --photos DIR [--threads 1,2] [--batch 1,8]
                 [--rounds 3] [--single-count 16] [--layers conv3_1,conv5_3] [--top 9] [--json OUT]

For every thread count and batch size, each round runs, one after the other:
  - fmviz:   `fmviz atlas --no-site -q` over every photo of DIR, timed as a whole process (loading included);
  - pytorch: bench/torch_atlas.py, the same ranking done the usual way (torchvision, PIL, forward hooks, topk),
             timed as a whole process and by its own loop (the loop leaves out Python's and PyTorch's start-up);
  - single:  the single-image command once per photo for the first SINGLE_COUNT photos (`fmviz -q -w W -i PHOTO
             --layers L -o D`: what a user without `fmviz atlas` would script), whole processes, batch-independent.
Figures are images per second; each is the median of the rounds, and the ratios are the medians of the rounds'
ratios (a round's peers ran within a minute of each other, so a noisy machine moves both). Peak memory is the
largest resident set of any round (Linux ru_maxrss of the child).

The goal printed at the end: fmviz atlas at least 1.5x PyTorch's whole-process images/s at every setting, and
faster than the single-image command.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
GOAL_VS_PYTORCH = 1.5


def timed_with_peak(cmd, env=None):
    """Runs cmd; returns (wall seconds, the child's peak resident set in MiB from wait4, its stdout). Raises on a
    non-zero exit."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:3])} ... exited with {proc.returncode}: "
                               f"{err.read().decode(errors='replace')[-400:]}")
        return seconds, usage.ru_maxrss / 1024.0, out.read().decode(errors="replace")


def photos_of(folder):
    return sorted(os.path.join(root, f) for root, _, files in os.walk(folder) for f in files
                  if f.lower().endswith(EXTENSIONS) and not f.startswith("."))


def one_round(args, photos, threads, batch, scratch):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = os.path.join(scratch, "atlas")
    shutil.rmtree(out, ignore_errors=True)
    fmviz_s, fmviz_mib, _ = timed_with_peak(
        [args.fmviz, "atlas", "-w", args.weights, "--images", args.photos, "--layers", args.layers, "--top",
         str(args.top), "--batch", str(batch), "--threads", str(threads), "--no-site", "-q", "-o", out], env)
    torch_s, torch_mib, text = timed_with_peak(
        [sys.executable, os.path.join(HERE, "torch_atlas.py"), args.weights, args.photos, "--layers", args.layers,
         "--top", str(args.top), "--batch", str(batch), "--threads", str(threads)], env)
    match = re.search(r"([0-9.]+) images/s", text)
    if not match:
        raise RuntimeError(f"torch_atlas.py printed no images/s: {text[-200:]}")
    n = len(photos)
    return {"fmviz": n / fmviz_s, "fmviz_mib": fmviz_mib, "pytorch": n / torch_s, "pytorch_loop": float(match.group(1)),
            "pytorch_mib": torch_mib}


def single_round(args, photos, threads, scratch):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    chosen = photos[:args.single_count]
    start = time.perf_counter()
    for i, photo in enumerate(chosen):
        out = os.path.join(scratch, f"single{i}")
        timed_with_peak([args.fmviz, "-q", "-w", args.weights, "-i", photo, "--layers", args.layers,
                         "--threads", str(threads), "-o", out], env)
        shutil.rmtree(out, ignore_errors=True)
    return len(chosen) / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fmviz", required=True, help="the fmviz command")
    parser.add_argument("--weights", required=True, help="VGG16 weights (bench/ uses tools/export_vgg16.py --seed 0 --conv-only)")
    parser.add_argument("--photos", required=True, help="a folder of photos (tools/make_photo_set.py --count 64 --seed 0)")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--batch", default="1,8")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--single-count", type=int, default=16, help="photos for the single-image command (0: skip it)")
    parser.add_argument("--layers", default="conv3_1,conv5_3")
    parser.add_argument("--top", type=int, default=9)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    photos = photos_of(args.photos)
    if not photos:
        parser.error(f"no photos in {args.photos}")
    threads_list = [int(t) for t in args.threads.split(",")]
    batches = [int(b) for b in args.batch.split(",")]
    print(f"{len(photos)} photos, layers {args.layers}, top {args.top}, {args.rounds} rounds; "
          f"{time.strftime('%Y-%m-%d %H:%M')}", flush=True)

    rows, met = [], True
    with tempfile.TemporaryDirectory(prefix="atlas_bench") as scratch:
        for threads in threads_list:
            single = []
            for batch in batches:
                rounds = []
                for r in range(args.rounds):
                    rounds.append(one_round(args, photos, threads, batch, scratch))
                    if args.single_count and batch == batches[0]:
                        single.append(single_round(args, photos, threads, scratch))
                    print(f"  threads {threads} batch {batch} round {r + 1}: fmviz {rounds[-1]['fmviz']:.2f}, "
                          f"pytorch {rounds[-1]['pytorch']:.2f} (loop {rounds[-1]['pytorch_loop']:.2f})"
                          + (f", single {single[-1]:.2f}" if single and batch == batches[0] else "") + " images/s",
                          flush=True)
                row = {"threads": threads, "batch": batch}
                for key in ("fmviz", "pytorch", "pytorch_loop"):
                    row[key] = statistics.median(x[key] for x in rounds)
                row["vs_pytorch"] = statistics.median(x["fmviz"] / x["pytorch"] for x in rounds)
                row["vs_pytorch_loop"] = statistics.median(x["fmviz"] / x["pytorch_loop"] for x in rounds)
                row["fmviz_mib"] = max(x["fmviz_mib"] for x in rounds)
                row["pytorch_mib"] = max(x["pytorch_mib"] for x in rounds)
                rows.append(row)
            for row in rows:
                if row["threads"] == threads:
                    row["single"] = statistics.median(single) if single else None

    print()
    print("| threads | batch | fmviz atlas | PyTorch (whole process) | PyTorch (its loop) | single-image command "
          "| fmviz / PyTorch | fmviz / PyTorch loop | fmviz / single | peak MiB fmviz, PyTorch |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        single = row.get("single")
        row["vs_single"] = row["fmviz"] / single if single else None
        met = met and row["vs_pytorch"] >= GOAL_VS_PYTORCH and (not single or row["vs_single"] > 1)
        cells = [row["threads"], row["batch"], f"{row['fmviz']:.2f}", f"{row['pytorch']:.2f}",
                 f"{row['pytorch_loop']:.2f}", f"{single:.2f}" if single else "-", f"{row['vs_pytorch']:.2f}x",
                 f"{row['vs_pytorch_loop']:.2f}x", f"{row['vs_single']:.2f}x" if single else "-",
                 f"{row['fmviz_mib']:.0f}, {row['pytorch_mib']:.0f}"]
        print("| " + " | ".join(str(c) for c in cells) + " |")
    print()
    print(f"goal (fmviz atlas >= {GOAL_VS_PYTORCH}x PyTorch's images/s, and faster than the single-image command): "
          + ("met" if met else "NOT met"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"photos": len(photos), "layers": args.layers, "top": args.top, "rounds": args.rounds,
                       "rows": rows, "goal_met": met}, f, indent=1)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
