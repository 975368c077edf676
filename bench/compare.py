#!/usr/bin/python3
"""Runs fmviz, PyTorch and ONNX Runtime on VGG16's conv stack in one session, interleaved, and prints the comparison tables."""
import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = ("fmviz", "pytorch", "onnxruntime")


def tail(text, lines=4, chars=400):
    return " / ".join([line.strip() for line in text.splitlines() if line.strip()][-lines:])[-chars:]


def positive(v):
    return isinstance(v, (int, float)) and v > 0


def follows_schema(r):
    layers = r.get("layers", []) if isinstance(r, dict) else None
    return isinstance(layers, list) and positive(r.get("stack_median_s")) and all(
        isinstance(l, dict) and l.get("name") and positive(l.get("gflop")) and positive(l.get("median_s")) for l in layers)


def run_peer(cmd, timeout):
    """Runs one peer; returns (its JSON, None) or (None, why it failed)."""
    fd, path = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    try:
        proc = subprocess.run(cmd + ["--json", path], capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            return None, f"exit status {proc.returncode}: {tail(proc.stderr or proc.stdout)}"
        with open(path) as f:
            result = json.load(f)
        if not follows_schema(result):
            return None, "its JSON does not follow the schema (stack_median_s; layers with name, gflop, median_s)"
        return result, None
    except subprocess.TimeoutExpired:
        return None, f"no result after {timeout} s"
    except (OSError, ValueError) as e:
        return None, f"{type(e).__name__}: {e}"
    finally:
        os.unlink(path)


def best(results):
    """Per item, the lowest of the rounds' medians (a shared machine only ever adds time); None if every round failed."""
    results = [r for r in results if r]
    if not results:
        return None
    out = dict(results[0], stack_median_s=min(r["stack_median_s"] for r in results))
    times = {}
    for r in results:
        for l in r.get("layers", []):
            times.setdefault(l["name"], []).append(l["median_s"])
    out["layers"] = [dict(l, median_s=min(times[l["name"]])) for l in out.get("layers", [])]
    return out


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Model name"))
    except (OSError, StopIteration):
        return "unknown CPU"


def num(v, fmt):
    return format(v, fmt) if v else "n/a"


def ratio(a, b):
    return f"{a / b:.2f}" if a and b else "n/a"


def layer_table(t, b, r):
    f, q = r["fmviz"] or {}, r["pytorch"] or {}
    fl = {l["name"]: l for l in f.get("layers", [])}
    ql = {l["name"]: l for l in q.get("layers", [])}
    names = [l["name"] for l in q.get("layers", [])] or list(fl)
    rows = [f"Per layer, {t} thread{'s' * (t > 1)}, batch {b} (ms: median of the runs):", "",
            "| layer | fmviz ms | fmviz GFLOP/s | PyTorch ms | PyTorch GFLOP/s | fmviz / PyTorch | fmviz algorithm |",
            "|---|---|---|---|---|---|---|"]
    for name in names:
        a, p = fl.get(name, {}), ql.get(name, {})
        fs, ps = a.get("median_s"), p.get("median_s")
        algo = a.get("algorithm", a.get("algorithms", ""))
        rows.append(f"| {name} | {num(fs and fs * 1e3, '.2f')} | {num(fs and a['gflop'] / fs, '.1f')} | "
                    f"{num(ps and ps * 1e3, '.2f')} | {num(ps and p['gflop'] / ps, '.1f')} | {ratio(fs, ps)} | "
                    f"{', '.join(algo) if isinstance(algo, list) else algo} |")
    total = sum((fl.get(n) or ql.get(n))["gflop"] for n in names)
    fs, ps = f.get("stack_median_s"), q.get("stack_median_s")
    rows.append(f"| whole stack (with ReLU, pooling) | {num(fs and fs * 1e3, '.2f')} | {num(fs and total / fs, '.1f')} | "
                f"{num(ps and ps * 1e3, '.2f')} | {num(ps and total / ps, '.1f')} | {ratio(fs, ps)} | |")
    return rows + [""]


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--fmviz-bench", required=True, help="path to fmviz_layer_bench")
    p.add_argument("--weights", required=True, help="VGG16 weights for fmviz (tools/export_vgg16.py --seed 0 --conv-only)")
    p.add_argument("--onnx", help="the model export_onnx.py wrote (ONNX Runtime is not run without it)")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    p.add_argument("--batch", default="1,8", help="comma-separated batch sizes (default 1,8)")
    p.add_argument("--runs", type=int, default=7, help="timed runs per item in each peer (default 7)")
    p.add_argument("--rounds", type=int, default=1, help="times each peer is run, interleaved (default 1)")
    p.add_argument("--size", type=int, default=224, help="input height and width (default 224)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds before a peer is given up (default 3600)")
    p.add_argument("--markdown", help="also write the tables to this file")
    a = p.parse_args()
    try:
        threads = [int(t) for t in a.threads.split(",")]
        batches = [int(b) for b in a.batch.split(",")]
    except ValueError:
        p.error("--threads and --batch take comma-separated integers, e.g. 1,2")
    if min(threads + batches + [a.runs, a.rounds]) < 1:
        p.error("thread counts, batch sizes, --runs and --rounds must be at least 1")

    notes, failures = [], []
    ort_module = os.path.join(HERE, "node_modules", "onnxruntime-node")
    run_ort = bool(a.onnx) and os.path.isdir(ort_module)
    if not a.onnx:
        notes.append("ONNX Runtime not run: no --onnx model given (make one with bench/export_onnx.py).")
    elif not run_ort:
        notes.append("ONNX Runtime not run: bench/node_modules is missing (cd bench && npm install --ignore-scripts).")

    results = {}
    for t in threads:
        for b in batches:
            common = ["--threads", str(t), "--batch", str(b), "--runs", str(a.runs), "--size", str(a.size)]
            commands = {"fmviz": [a.fmviz_bench, a.weights] + common,
                        "pytorch": ["/usr/bin/python3", os.path.join(HERE, "torch_layers.py")] + common}
            if run_ort:
                commands["onnxruntime"] = ["node", os.path.join(HERE, "ort_forward.mjs"), a.onnx] + common
            rounds = {k: [] for k in PEERS}
            for r in range(a.rounds):
                for peer, cmd in commands.items():
                    result, error = run_peer(cmd, a.timeout)
                    where = f"{peer}, {t} thread(s), batch {b}, round {r + 1}/{a.rounds}"
                    print(f"{where}: " + (f"{result['stack_median_s']:.4f} s" if result else f"FAILED ({error})"),
                          file=sys.stderr)
                    if error:
                        failures.append(f"{where}: {error}")
                    elif (result.get("threads"), result.get("batch")) != (t, b):
                        notes.append(f"{where} reports {result.get('threads')} thread(s), batch {result.get('batch')}.")
                    rounds[peer].append(result)
            results[(t, b)] = {k: best(v) for k, v in rounds.items()}

    def version(peer):
        return next((str(r[peer].get("version", "?")) for r in results.values() if r[peer]), "n/a")

    lines = [f"Measured {datetime.datetime.now():%Y-%m-%d %H:%M} on {cpu_model()} ({os.cpu_count()} logical CPUs); "
             f"fmviz {version('fmviz')}, PyTorch {version('pytorch')}, ONNX Runtime (onnxruntime-node) "
             f"{version('onnxruntime')}.",
             f"Input {a.size}x{a.size}; each figure is the median of {a.runs} runs after a warm-up"
             + (f", the best of {a.rounds} interleaved rounds." if a.rounds > 1 else "."), ""]
    one = 1 if 1 in batches else min(batches)
    for t in threads:
        lines += layer_table(t, one, results[(t, one)])

    lines += ["Whole conv stack (`features`), seconds per forward:", "",
              "| threads | batch | fmviz s | PyTorch s | ONNX Runtime s | fmviz / PyTorch | fmviz / ONNX Runtime |",
              "|---|---|---|---|---|---|---|"]
    for (t, b), r in results.items():
        f, q, o = (r[k] and r[k]["stack_median_s"] for k in PEERS)
        lines.append(f"| {t} | {b} | {num(f, '.4f')} | {num(q, '.4f')} | {num(o, '.4f')} | {ratio(f, q)} | {ratio(f, o)} |")

    lines += ["", "Batch throughput, images per second (ratio above 1: fmviz is faster):", "",
              "| threads | batch | fmviz images/s | PyTorch images/s | ONNX Runtime images/s | fmviz / PyTorch |",
              "|---|---|---|---|---|---|"]
    for (t, b), r in results.items():
        f, q, o = (r[k] and b / r[k]["stack_median_s"] for k in PEERS)
        lines.append(f"| {t} | {b} | {num(f, '.2f')} | {num(q, '.2f')} | {num(o, '.2f')} | {ratio(f, q)} |")

    if notes or failures:
        lines += ["", "Notes (n/a = the peer failed or was not run):", ""]
        lines += [f"- {n}" for n in dict.fromkeys(notes)] + [f"- failed: {e}" for e in failures]
    text = "\n".join(lines) + "\n"
    print(text)
    if a.markdown:
        with open(a.markdown, "w") as out:
            out.write(text)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
