#!/usr/bin/env python3
"""llama_cpp_table.py: the markdown table of docs/gguf.md "Against llama.cpp" from the Google
Benchmark JSON of bench_llama_cpp (tools/bench/llama_cpp_compare.sh): per file, the median ms per
model call of ddiff and llama.cpp and their ratio (llama.cpp / ddiff: how many times faster ddiff
is), the median time from the file to the first logits and the load part of it, and the logits'
agreement. Every ratio is between medians of the same run. Standard library only.

  usage: llama_cpp_table.py llama_cpp.json
"""
import json
import statistics
import sys
from collections import defaultdict


def main():
    with open(sys.argv[1]) as f:
        data = json.load(f)
    ctx = data["context"]
    # name -> list of per-repetition rows (or the median aggregate when only aggregates were kept)
    rows = defaultdict(list)
    for b in data["benchmarks"]:
        if b.get("error_occurred"):
            sys.exit(f"{b['name']}: {b.get('error_message')}")
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        # "BM_call/<impl>/<file>/min_time:.../real_time" -> "BM_call/<impl>/<file>"
        parts = b["run_name"].split("/")
        keep = 2 if parts[0] == "BM_agreement" else 3
        rows["/".join(parts[:keep])].append(b)

    def med(name, key):
        rs = rows.get(name)
        if not rs:
            return None
        return statistics.median(float(r[key]) for r in rs)

    tags = sorted({n.split("/")[-1] for n in rows if n.startswith("BM_call/")},
                  key=lambda t: (t.split("-")[0], t))
    print(f"host: {ctx.get('host_name')}, {ctx.get('num_cpus')} CPUs, ddiff arch {ctx.get('ddiff_arch')}, "
          f"threads {ctx.get('threads')}, canvas {ctx.get('canvas')}, date {ctx.get('date')}")
    print(f"llama.cpp: {ctx.get('llama_cpp_system_info', '').strip()}\n")
    print("| file | MB | ddiff ms/call | llama.cpp ms/call | ddiff speed-up | ddiff load + first call s (load) "
          "| llama.cpp load + first call s (load) | max abs logit diff / max abs logit | argmax agree |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for t in tags:
        d = med(f"BM_call/ddiff/{t}", "real_time")
        l = med(f"BM_call/llama.cpp/{t}", "real_time")
        mb = med(f"BM_call/ddiff/{t}", "file_mb")
        dl, dls = med(f"BM_load/ddiff/{t}", "real_time"), med(f"BM_load/ddiff/{t}", "load_s")
        ll, lls = med(f"BM_load/llama.cpp/{t}", "real_time"), med(f"BM_load/llama.cpp/{t}", "load_s")
        diff, mx = med(f"BM_agreement/{t}", "max_abs_diff"), med(f"BM_agreement/{t}", "max_abs_logit")
        agree = med(f"BM_agreement/{t}", "argmax_agree")

        def s(x, fmt):
            return "-" if x is None else format(x, fmt)
        ratio = "-" if d is None or l is None else f"{l / d:.2f}x"
        print(f"| {t} | {s(mb, '.0f')} | {s(d, '.1f')} | {s(l, '.1f')} | {ratio} | "
              f"{s(dl and dl / 1e3, '.2f')} ({s(dls, '.2f')}) | {s(ll and ll / 1e3, '.2f')} ({s(lls, '.2f')}) | "
              f"{s(diff, '.3g')} / {s(mx, '.3g')} | {s(agree and agree * 100, '.0f')}% |")


if __name__ == "__main__":
    main()
