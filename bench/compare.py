#!/usr/bin/python3
"""Runs fmviz, PyTorch and ONNX Runtime on VGG16's conv stack in one session, interleaved, and prints (or writes as
Markdown) the per-layer table, the whole-stack comparison and the batch throughput. Each figure is the best of the
rounds' medians (a shared machine only ever adds time), the same rule for every peer."""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def run_json(cmd, label):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    try:
        proc = subprocess.run(cmd + ["--json", path], capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{label} failed ({proc.returncode}): {proc.stderr.strip()[-300:]}", file=sys.stderr)
            return None
        with open(path) as f:
            return json.load(f)
    finally:
        os.unlink(path)


def best(results):
    """Per item, the lowest of the rounds' medians."""
    results = [r for r in results if r]
    if not results:
        return None
    out = dict(results[0])
    out["stack_median_s"] = min(r["stack_median_s"] for r in results)
    if "layers" in out:
        out["layers"] = [dict(l, median_s=min(r["layers"][i]["median_s"] for r in results)) for i, l in enumerate(out["layers"])]
    return out


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--fmviz-bench", required=True, help="path to fmviz_layer_bench")
    p.add_argument("--weights", required=True, help="VGG16 weights for fmviz (tools/export_vgg16.py --seed 0 --conv-only)")
    p.add_argument("--onnx", help="the model export_onnx.py wrote (ONNX Runtime is skipped without it)")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--batch", default="1,8")
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--markdown", help="also write the tables here")
    a = p.parse_args()

    threads = [int(t) for t in a.threads.split(",")]
    batches = [int(b) for b in a.batch.split(",")]
    results = {}
    for t in threads:
        for b in batches:
            common = ["--threads", str(t), "--batch", str(b), "--runs", str(a.runs), "--size", str(a.size)]
            rounds = {"fmviz": [], "pytorch": [], "onnxruntime": []}
            for r in range(a.rounds):
                print(f"threads {t}, batch {b}, round {r + 1}/{a.rounds}", file=sys.stderr)
                rounds["fmviz"].append(run_json([a.fmviz_bench, a.weights] + common, "fmviz"))
                rounds["pytorch"].append(run_json(["/usr/bin/python3", os.path.join(HERE, "torch_layers.py")] + common, "pytorch"))
                if a.onnx:
                    rounds["onnxruntime"].append(run_json(["node", os.path.join(HERE, "ort_forward.mjs"), a.onnx] + common, "onnxruntime"))
            results[(t, b)] = {k: best(v) for k, v in rounds.items()}

    lines = [f"Measured {datetime.date.today()} on {cpu_model()} ({os.cpu_count()} cores); "
             f"best of {a.rounds} rounds' medians of {a.runs} runs; input {a.size}x{a.size}.", ""]
    for t in threads:
        r = results.get((t, 1))
        if not r or not r["fmviz"] or not r["pytorch"]:
            continue
        f, q = r["fmviz"], r["pytorch"]
        lines += [f"Per layer, {t} thread{'s' if t > 1 else ''}, batch 1 (PyTorch {q['version']}):", "",
                  "| layer | fmviz algorithm | fmviz ms | fmviz GFLOP/s | PyTorch ms | PyTorch GFLOP/s | fmviz / PyTorch |",
                  "|---|---|---|---|---|---|---|"]
        for lf, lq in zip(f["layers"], q["layers"]):
            lines.append(f"| {lf['name']} | {lf.get('algorithm', '')} | {lf['median_s'] * 1e3:.2f} | {lf['gflop'] / lf['median_s']:.0f} | "
                         f"{lq['median_s'] * 1e3:.2f} | {lq['gflop'] / lq['median_s']:.0f} | {lf['median_s'] / lq['median_s']:.2f} |")
        total = sum(l["gflop"] for l in f["layers"])
        lines.append(f"| whole stack (with ReLU and pooling) | | {f['stack_median_s'] * 1e3:.1f} | {total / f['stack_median_s']:.0f} | "
                     f"{q['stack_median_s'] * 1e3:.1f} | {total / q['stack_median_s']:.0f} | {f['stack_median_s'] / q['stack_median_s']:.2f} |")
        lines.append("")
    lines += ["Whole conv stack (`features`):", "",
              "| threads | batch | fmviz s | PyTorch s | ONNX Runtime s | fmviz / PyTorch | fmviz / ONNX Runtime | fmviz images/s | PyTorch images/s |",
              "|---|---|---|---|---|---|---|---|---|"]
    for (t, b), r in results.items():
        f, q, o = (r[k]["stack_median_s"] if r[k] else None for k in ("fmviz", "pytorch", "onnxruntime"))
        fmt = lambda v: f"{v:.4f}" if v else "n/a"
        ratio = lambda x, y: f"{x / y:.2f}" if x and y else "n/a"
        ips = lambda v: f"{b / v:.1f}" if v else "n/a"
        lines.append(f"| {t} | {b} | {fmt(f)} | {fmt(q)} | {fmt(o)} | {ratio(f, q)} | {ratio(f, o)} | {ips(f)} | {ips(q)} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.markdown:
        with open(a.markdown, "w") as out:
            out.write(text)


if __name__ == "__main__":
    main()
