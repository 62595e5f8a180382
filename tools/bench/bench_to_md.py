#!/usr/bin/env python3
"""bench_to_md.py: turns Google Benchmark JSON from bench_gemm / bench_attention / bench_layer
into the markdown tables of docs/performance.md (medians of the repetitions; every ratio is
between numbers of the same run).

Usage:
  bench_to_md.py gemm.json attention.json layer.json               # print the tables
  bench_to_md.py --update docs/performance.md gemm.json ...        # replace the text between
                                                                   # <!-- bench:begin --> and
                                                                   # <!-- bench:end -->
Peaks for the percentages: --peak1 / --peak2 GFLOP/s (default 267 / 525, this machine's
measured AVX-512 FP32 FMA peak on 1 / 2 cores, ../shared/reference/platform.md).
Standard library only (no numpy).
"""
import argparse
import json
import re
import sys


def load(paths):
    runs, context = [], {}
    for p in paths:
        with open(p) as f:
            data = json.load(f)
        context.update(data.get("context", {}))
        for b in data["benchmarks"]:
            agg = b.get("aggregate_name")
            if agg not in (None, "median"):
                continue
            if agg is None and b.get("run_type") == "iteration" and any(
                    x.get("aggregate_name") == "median" and x.get("run_name") == b.get("run_name")
                    for x in data["benchmarks"]):
                continue  # repetitions present: use their median only
            name = b.get("run_name", b["name"])
            params = dict(re.findall(r"/([A-Za-z_]+):([0-9.]+)", "/" + name.split("/", 1)[-1]))
            runs.append({"family": name.split("/")[0], "params": params, "label": b.get("label", ""),
                         "ms": b["real_time"] * {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]],
                         "flops": b.get("flops"), "tokens": b.get("tokens"),
                         "reps": b.get("repetitions", 1)})
    return runs, context


def gf(x):
    return f"{x / 1e9:.0f}" if x else "-"


def gemm_table(runs, peak):
    rows = {}
    for r in runs:
        if r["family"] != "BM_gemm":
            continue
        p = r["params"]
        key = (int(p["M"]), int(p["N"]), int(p["K"]), int(p["threads"]))
        rows.setdefault(key, {})[r["label"]] = r["flops"]
    if not rows:
        return ""
    out = ["| M, N, K | threads | OpenBLAS | ddiff f32 | f32 / OpenBLAS | f32 % of peak | bf16 vdpbf16ps | bf16 / f32 | bf16 widened |",
           "|---|---|---|---|---|---|---|---|---|"]
    for (m, n, k, t), v in rows.items():
        ob, f32, dot, wid = (v.get(x) for x in ("openblas", "ddiff_f32", "ddiff_bf16_dot", "ddiff_bf16_widen"))
        out.append(f"| {m}, {n}, {k} | {t} | {gf(ob)} | {gf(f32)} | "
                   f"{(f32 / ob if ob and f32 else float('nan')):.2f}x | "
                   f"{(100 * f32 / 1e9 / peak[t] if f32 else float('nan')):.0f}% | {gf(dot)} | "
                   f"{(dot / f32 if dot and f32 else float('nan')):.2f}x | {gf(wid)} |")
    return "GEMM C = A W^T, GFLOP/s (median):\n\n" + "\n".join(out) + "\n"


def attention_table(runs):
    att = [r for r in runs if r["family"] in ("BM_attention", "BM_attention_naive")]
    if not att:
        return ""
    naive = next((r["ms"] for r in att if r["family"] == "BM_attention_naive"), None)
    out = ["| implementation | threads | block-causal | ms | GFLOP/s | speed-up vs naive |", "|---|---|---|---|---|---|"]
    for r in att:
        p = r["params"]
        block = int(p.get("block", 0))
        out.append(f"| {r['label']} | {p.get('threads', '1')} | {block if block else '-'} | {r['ms']:.2f} | "
                   f"{gf(r['flops'])} | {(naive / r['ms'] if naive else float('nan')):.0f}x |")
    return ("Attention core (RoPE, scores, softmax, values; 288 tokens, 16 heads of 64), median:\n\n"
            + "\n".join(out) + "\n")


def layer_table(runs, peak):
    lay = [r for r in runs if r["family"] == "BM_layer"]
    if not lay:
        return ""
    out = ["| weights | threads | ms / layer | tokens/s | GFLOP/s | % of f32 peak |", "|---|---|---|---|---|---|"]
    for r in lay:
        t = int(r["params"]["threads"])
        out.append(f"| {r['label'].replace('ddiff_', '')} | {t} | {r['ms']:.2f} | {r['tokens']:.0f} | {gf(r['flops'])} | "
                   f"{100 * r['flops'] / 1e9 / peak[t]:.0f}% |")
    return ("Whole LLaMA-style layer (hidden 1024, 16 heads, FFN 2816 SwiGLU, 288 tokens), median:\n\n"
            + "\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json", nargs="+")
    ap.add_argument("--update", metavar="MARKDOWN")
    ap.add_argument("--peak1", type=float, default=267.0)
    ap.add_argument("--peak2", type=float, default=525.0)
    a = ap.parse_args()
    runs, ctx = load(a.json)
    peak = {1: a.peak1, 2: a.peak2}
    reps = max((r["reps"] for r in runs), default=1)
    head = (f"Measured {ctx.get('date', '?')}, {reps} repetitions (median), host load "
            f"{ctx.get('load_avg', '?')}; ddiff arch {ctx.get('ddiff_arch', '?')}, bf16 "
            f"{ctx.get('ddiff_bf16_dot', '?')}; OpenBLAS core {ctx.get('openblas_core', 'not built')}. "
            f"Peaks: {peak[1]:.0f} / {peak[2]:.0f} GFLOP/s (1 / 2 cores).\n")
    body = "\n".join(x for x in (head, gemm_table(runs, peak), attention_table(runs), layer_table(runs, peak)) if x)
    if not a.update:
        sys.stdout.write(body)
        return
    with open(a.update) as f:
        doc = f.read()
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    if begin not in doc or end not in doc:
        sys.exit(f"{a.update}: markers {begin} / {end} not found")
    pre, rest = doc.split(begin, 1)
    _, post = rest.split(end, 1)
    with open(a.update, "w") as f:
        f.write(pre + begin + "\n" + body + end + post)


if __name__ == "__main__":
    main()
