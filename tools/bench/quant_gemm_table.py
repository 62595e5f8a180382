#!/usr/bin/env python3
"""quant_gemm_table.py: the table of docs/gguf.md "Measured: quantized GEMM vs ddiff's bf16 GEMM"
from bench_quant_gemm's Google Benchmark JSON (medians of the repetitions; every ratio and
percentage is between numbers of the same run). Standard library only.

  usage: quant_gemm_table.py quant_gemm.json
"""
import json
import re
import sys


def main():
    with open(sys.argv[1]) as f:
        data = json.load(f)
    rate, peak = {}, {}
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name, flops = b["run_name"], float(b["flops"]) / 1e9
        m = re.match(r"BM_qgemm/M:(\d+)/N:(\d+)/K:(\d+)/threads:(\d+)/impl:(\d+)", name)
        if m:
            M, N, K, t, impl = map(int, m.groups())
            rate[(M, N, K, t, impl)] = flops
            continue
        m = re.match(r"BM_(vnni|bf16)_peak/threads:(\d+)", name)
        if m:
            peak[(m.group(1), int(m.group(2)))] = flops
    print(f"Peaks in this run: vpdpbusd {peak[('vnni', 1)]:.0f} / {peak[('vnni', 2)]:.0f} G int8 op/s (1 / 2 threads), "
          f"vdpbf16ps {peak[('bf16', 1)]:.0f} / {peak[('bf16', 2)]:.0f} GFLOP/s.\n")
    print("| M, N, K | threads | bf16 (vdpbf16ps) | Q8_0 | Q4_K | Q4_0 | Q6_K | Q8_0 / bf16 | Q4_K / bf16 "
          "| Q8_0 / Q4_K % of VNNI peak |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (M, N, K, t) in sorted({k[:4] for k in rate}, key=lambda k: (k[0], k[1] != 4096 or k[2] != 4096, k[1] < k[2], k[3])):
        r = [rate.get((M, N, K, t, i)) for i in range(5)]
        if None in r:
            continue
        p = peak[("vnni", t)]
        print(f"| {M}, {N}, {K} | {t} | {r[0]:.0f} | {r[1]:.0f} | {r[2]:.0f} | {r[3]:.0f} | {r[4]:.0f} | "
              f"{r[1] / r[0]:.2f}x | {r[2] / r[0]:.2f}x | {100 * r[1] / p:.0f}% / {100 * r[2] / p:.0f}% |")


if __name__ == "__main__":
    main()
