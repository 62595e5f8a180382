#!/usr/bin/env python3
"""bench_to_md.py: turns Google Benchmark JSON from bench_gemm / bench_attention / bench_layer
(and bench_decode) into the markdown tables of docs/performance.md (medians of the repetitions;
every ratio is between numbers of the same run).

Usage:
  bench_to_md.py gemm.json attention.json layer.json               # print the tables
  bench_to_md.py --update docs/performance.md gemm.json ...        # replace the text between
                                                                   # <!-- bench:begin --> and
                                                                   # <!-- bench:end -->
  bench_to_md.py --update docs/performance.md decode.json          # bench_decode's table goes
                                                                   # between <!-- bench-decode:begin -->
                                                                   # and <!-- bench-decode:end -->,
                                                                   # BM_decode_cache's between
                                                                   # <!-- bench-cache:begin/end -->
Peaks for the "% of platform.md peak" columns: --peak1 / --peak2 GFLOP/s (default 267 / 525, the
AVX-512 FP32 FMA peak on 1 / 2 cores that ../shared/reference/platform.md measured on a Zen 5
host); the "% of measured peak" columns use BM_fma_peak from the same run.
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
                         "reps": b.get("repetitions", 1), "counters": b})
    return runs, context


def gf(x):
    return f"{x / 1e9:.0f}" if x else "-"


def pct(flops, peak_flops):
    return f"{100 * flops / peak_flops:.0f}%" if flops and peak_flops else "-"


def measured_peaks(runs):
    return {int(r["params"]["threads"]): r["flops"] for r in runs if r["family"] == "BM_fma_peak"}


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
    measured = measured_peaks(runs)
    out = ["| M, N, K | threads | OpenBLAS | ddiff f32 | f32 / OpenBLAS | f32 % of measured peak | "
           "f32 % of platform.md peak | bf16 vdpbf16ps | bf16 / f32 | bf16 widened |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    # Largest product first, then 1 before 2 threads (with random interleaving the JSON is shuffled).
    for (m, n, k, t), v in sorted(rows.items(), key=lambda kv: (-kv[0][0] * kv[0][1] * kv[0][2], kv[0][3])):
        ob, f32, dot, wid = (v.get(x) for x in ("openblas", "ddiff_f32", "ddiff_bf16_dot", "ddiff_bf16_widen"))
        out.append(f"| {m}, {n}, {k} | {t} | {gf(ob)} | {gf(f32)} | "
                   f"{(f32 / ob if ob and f32 else float('nan')):.2f}x | {pct(f32, measured.get(t))} | "
                   f"{(100 * f32 / 1e9 / peak[t] if f32 else float('nan')):.0f}% | {gf(dot)} | "
                   f"{(dot / f32 if dot and f32 else float('nan')):.2f}x | {gf(wid)} |")
    text = "GEMM C = A W^T, GFLOP/s (median):\n\n" + "\n".join(out) + "\n"
    if measured:
        text += ("\nMeasured peak: the FP32 FMA rate of a register-only loop (BM_fma_peak: 24 independent "
                 "zmm FMA chains per thread, no memory traffic) in the same run, after the GEMMs: "
                 + ", ".join(f"{gf(measured[t])} GFLOP/s on {t} thread(s)" for t in sorted(measured))
                 + f" (platform.md: {peak[1]:.0f} / {peak[2]:.0f}).\n")
    clock = next((r["counters"].get("hz") for r in runs if r["family"] == "BM_clock"), None)
    ymm = next((r["flops"] for r in runs if r["family"] == "BM_fma_peak_ymm"), None)
    if clock and measured.get(1):
        text += (f"\nThe core: clock {clock / 1e9:.2f} GHz (BM_clock, dependent adds); FP32 FMA "
                 f"{measured[1] / clock:.1f} flops/cycle with 512-bit vectors"
                 + (f", {ymm / clock:.1f} with 256-bit (BM_fma_peak_ymm)" if ymm else "") + ".\n")
    return text


def attention_table(runs):
    att = [r for r in runs if r["family"] in ("BM_attention", "BM_attention_naive")]
    if not att:
        return ""
    naive = next((r["ms"] for r in att if r["family"] == "BM_attention_naive"), None)
    out = ["| implementation | threads | block-causal | ms | GFLOP/s | speed-up vs naive |", "|---|---|---|---|---|---|"]
    for r in sorted(att, key=lambda r: (r["family"] != "BM_attention_naive", r["label"], r["params"].get("threads", "1"))):
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
    measured = measured_peaks(runs)  # from bench_gemm's JSON when given in the same call
    out = ["| weights | threads | ms / layer | tokens/s | GFLOP/s | % of measured f32 peak | % of platform.md f32 peak |",
           "|---|---|---|---|---|---|---|"]
    for r in sorted(lay, key=lambda r: (r["label"], int(r["params"]["threads"]))):
        t = int(r["params"]["threads"])
        out.append(f"| {r['label'].replace('ddiff_', '')} | {t} | {r['ms']:.2f} | {r['tokens']:.0f} | {gf(r['flops'])} | "
                   f"{pct(r['flops'], measured.get(t))} | {100 * r['flops'] / 1e9 / peak[t]:.0f}% |")
    return ("Whole LLaMA-style layer (hidden 1024, 16 heads, FFN 2816 SwiGLU, 288 tokens), median:\n\n"
            + "\n".join(out) + "\n")


def decode_table(runs, ctx):
    """bench_decode: ddiff and PyTorch side by side, one row per measure."""
    side = {}
    for r in runs:
        if r["family"] == "BM_decode_ddiff":
            side["ddiff"] = r
        elif r["family"] == "BM_decode_torch":
            side["torch_passive" if r["params"].get("omp_passive", "0") == "1" else "torch"] = r
    if not side:
        return ""
    d = side.get("ddiff")
    torches = [(k, side[k]) for k in ("torch", "torch_passive") if k in side]
    return "\n".join(decode_table_one(d, t, k == "torch_passive", ctx, max(r["reps"] for r in side.values()))
                     for k, t in torches) if torches else decode_table_one(d, None, False, ctx, d["reps"])


def cache_table(runs, ctx):
    """bench_decode's BM_decode_cache: Fast-dLLM's KV caches against the uncached decode."""
    rows = {r["label"]: r for r in runs if r["family"] == "BM_decode_cache"}
    if not rows:
        return ""
    base = rows.get("none")
    c0 = next(iter(rows.values()))["counters"]
    out = [f"Measured {ctx.get('date', '?')}, {max(r['reps'] for r in rows.values())} repetitions (median), host load "
           f"{ctx.get('load_avg', '?')}; {ctx.get('decode', '?').replace('one block', 'blocks of ' + str(int(c0.get('block_length', 0))))}.\n",
           "| KV cache | ms per model call | tokens / s | speed-up | model calls | generated tokens equal to the uncached decode |",
           "|---|---|---|---|---|---|"]
    for name in ("none", "prefix", "dual"):
        r = rows.get(name)
        if not r:
            continue
        c = r["counters"]
        sp = f"{base['counters']['ms_per_call'] / c['ms_per_call']:.2f}x" if base else "-"
        out.append(f"| {name} | {c['ms_per_call']:.1f} | {c['tokens_per_s']:.1f} | {sp} | {c['nfe']:.0f} | "
                   f"{100 * c['agree_with_none']:.0f}% |")
    return "\n".join(out) + "\n"


def decode_table_one(d, t, passive, ctx, reps):

    def c(r, k):
        return r["counters"].get(k) if r else None

    def f(x, fmt):
        return format(x, fmt) if x is not None and x >= 0 else "-"

    rows = [("decode wall time, s", "ms", 1e-3, ".2f", "torch/ddiff"),
            ("ms per model call (wall / NFE)", "ms_per_call", 1, ".1f", "torch/ddiff"),
            ("ms per model call, forward only (median call)", "forward_ms", 1, ".1f", "torch/ddiff"),
            ("tokens / s (generated)", "tokens_per_s", 1, ".1f", "ddiff/torch"),
            ("model calls (NFE)", "nfe", 1, ".0f", None),
            ("weights, MiB", "weights_mb", 1, ".0f", None),
            ("peak RSS, whole process incl. loading, MiB", "peak_rss_mb", 1, ".0f", "/weights"),
            ("peak RSS during the decode, MiB", "decode_peak_rss_mb", 1, ".0f", "/weights"),
            ("RSS after the decode, MiB", "rss_mb", 1, ".0f", "/weights"),
            ("model loading, s", "load_s", 1, ".2f", None)]
    out = ["| | ddiff | PyTorch | ratio |", "|---|---|---|---|"]
    for name, key, scale, fmt, kind in rows:
        dv = d["ms"] * scale if key == "ms" and d else c(d, key)
        tv = t["ms"] * scale if key == "ms" and t else c(t, key)
        if kind == "/weights":
            w = c(d, "weights_mb") or c(t, "weights_mb")
            ratio = (f"{dv / w:.2f} / {tv / w:.2f} x weights" if dv and tv and w and dv > 0 and tv > 0 else "-")
        elif kind and dv and tv:
            ratio = f"{(tv / dv if kind == 'torch/ddiff' else dv / tv):.2f}x ddiff faster"
        else:
            ratio = ""
        out.append(f"| {name} | {f(dv, fmt)} | {f(tv, fmt)} | {ratio} |")
    eq = c(t, "tokens_equal")
    head = (f"{'With OMP_WAIT_POLICY=PASSIVE for PyTorch' if passive else 'PyTorch as it starts (OMP_WAIT_POLICY unset)'}: "
            f"measured {ctx.get('date', '?')}, {reps} repetitions of each side (median), host load "
            f"{ctx.get('load_avg', '?')}; {ctx.get('decode', '')}; ddiff arch {ctx.get('ddiff_arch', '?')}; "
            f"PyTorch {ctx.get('torch', '?')} with OpenBLAS core {ctx.get('torch_openblas_core', '?')}.")
    if eq is not None and eq >= 0:
        head += f" PyTorch chose ddiff's token at {eq:.0f} of the generated positions."
    return head + "\n\n" + "\n".join(out) + "\n"


def replace_between(doc, begin, end, body, path):
    if begin not in doc or end not in doc:
        sys.exit(f"{path}: markers {begin} / {end} not found")
    pre, rest = doc.split(begin, 1)
    _, post = rest.split(end, 1)
    return pre + begin + "\n" + body + end + post


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
    tables = [x for x in (gemm_table(runs, peak), attention_table(runs), layer_table(runs, peak)) if x]
    body = "\n".join([head] + tables)
    decode = decode_table(runs, ctx)
    cache = cache_table(runs, ctx)
    if not a.update:
        if cache:
            sys.stdout.write(cache + "\n")
        sys.stdout.write(body if tables or not (decode or cache) else "")
        sys.stdout.write(("\n" if tables else "") + decode if decode else "")
        return
    with open(a.update) as f:
        doc = f.read()
    if tables or not (decode or cache):
        doc = replace_between(doc, "<!-- bench:begin -->", "<!-- bench:end -->", body, a.update)
    if cache:  # BM_decode_cache: the KV cache section
        doc = replace_between(doc, "<!-- bench-cache:begin -->", "<!-- bench-cache:end -->", cache, a.update)
    if decode:  # bench_decode's JSON: its own section
        doc = replace_between(doc, "<!-- bench-decode:begin -->", "<!-- bench-decode:end -->", decode, a.update)
    with open(a.update, "w") as f:
        f.write(doc)


if __name__ == "__main__":
    main()
