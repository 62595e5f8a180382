#!/usr/bin/python3
"""torch_decode.py: the PyTorch side of the whole-decode benchmark (issue 5 item 6). Decodes the
checkpoint of tools/bench/make_bench_checkpoint.py with the reference transcription of LLaDA's
generate() (tools/reference/llada.py: low-confidence remasking, temperature 0) and prints one
JSON object on stdout:

  wall_s            the generate() call (model calls + LLaDA's softmax / top-k selection)
  ms_per_call       wall_s / nfe * 1000
  forward_ms_median the median of the model calls alone
  tokens_per_s      generated tokens / wall_s
  peak_rss_mb       getrusage(RUSAGE_SELF).ru_maxrss: the whole process, loading included
  decode_peak_rss_mb  VmHWM after resetting it (/proc/self/clear_refs) just before generate()
  rss_mb            VmRSS after generate()
  load_s, nfe, weight_bytes, tokens (the generated ids), torch / OpenBLAS details

torch.set_num_threads(THREADS) and torch.inference_mode(); one untimed warm-up model call on the
full canvas precedes the timed decode (bench_decode.cpp does the same for ddiff).

OpenBLAS picks its kernel when it loads: for its AVX-512 path, run this script with
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (bench_decode.cpp removes them from this child's
environment only); "openblas_core" in the output says which kernel ran.

Usage:
  /usr/bin/python3 tools/bench/torch_decode.py [--model DIR] [--threads 2] [--prompt-ids 1,2,...]
  /usr/bin/python3 tools/bench/torch_decode.py --info     # versions and OpenBLAS core only
Defaults: /tmp/ddiff_bench_llada, 32 prompt tokens (i * 97 + 13) % 4095, 256 generated, 64 steps,
one block.
"""
import argparse
import ctypes
import json
import os
import resource
import statistics
import sys
import time

import torch

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import llada  # noqa: E402


def default_prompt(n, mask_id):
    # bench_decode.cpp uses the same formula (and passes its prompt explicitly).
    return [(i * 97 + 13) % mask_id for i in range(n)]


def openblas_info():
    out = {"OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
           "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE", "(unset)")}
    try:
        lib = ctypes.CDLL("libopenblas.so.0")  # the copy torch already loaded
        lib.openblas_get_corename.restype = ctypes.c_char_p
        lib.openblas_get_config.restype = ctypes.c_char_p
        out["openblas_core"] = lib.openblas_get_corename().decode()
        out["openblas_config"] = lib.openblas_get_config().decode()
        out["openblas_threads"] = lib.openblas_get_num_threads()
    except OSError as e:
        out["openblas_core"] = f"unknown ({e})"
    return out


def status_kb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="/tmp/ddiff_bench_llada")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-length", type=int, default=32)
    ap.add_argument("--prompt-ids", help="comma-separated ids (overrides --prompt-length)")
    ap.add_argument("--gen-length", type=int, default=256)
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--block-length", type=int, default=0, help="0: one block (gen-length)")
    ap.add_argument("--info", action="store_true", help="print versions and the OpenBLAS core, load nothing")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    info = {"torch": torch.__version__, "torch_threads": torch.get_num_threads(), **openblas_info()}
    if a.info:
        print(json.dumps(info))
        return

    t0 = time.perf_counter()
    model = llada.load_pretrained(a.model, torch.float32)
    load_s = time.perf_counter() - t0
    cfg = model.config
    mask_id = cfg["mask_token_id"]
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    ids = ([int(x) for x in a.prompt_ids.split(",")] if a.prompt_ids
           else default_prompt(a.prompt_length, mask_id))
    prompt = torch.tensor([ids], dtype=torch.long)
    block = a.block_length or a.gen_length

    times = []

    def timed(x):
        s = time.perf_counter()
        y = model(x)
        times.append(time.perf_counter() - s)
        return y

    with torch.inference_mode():
        warm = torch.full((1, prompt.shape[1] + a.gen_length), mask_id, dtype=torch.long)
        warm[:, :prompt.shape[1]] = prompt
        model(warm)  # untimed warm-up on the full canvas
        # getrusage's peak (loading included) is read before the reset, which also lowers it
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        reset_ok = reset_peak_rss()
        t1 = time.perf_counter()
        out = llada.generate(timed, prompt, steps=a.steps, gen_length=a.gen_length, block_length=block,
                             temperature=0.0, remasking="low_confidence", mask_id=mask_id)
        wall = time.perf_counter() - t1
    nfe = len(times)
    res = {
        "wall_s": wall,
        "nfe": nfe,
        "ms_per_call": 1000.0 * wall / nfe,
        "forward_ms_median": 1000.0 * statistics.median(times),
        "tokens_per_s": a.gen_length / wall,
        "load_s": load_s,
        "peak_rss_mb": max(peak_kb, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024.0,
        "decode_peak_rss_mb": status_kb("VmHWM") / 1024.0 if reset_ok else -1.0,
        "rss_mb": status_kb("VmRSS") / 1024.0,
        "weight_bytes": weight_bytes,
        "prompt_length": prompt.shape[1],
        "gen_length": a.gen_length,
        "steps": a.steps,
        "block_length": block,
        "tokens": out[0, prompt.shape[1]:].tolist(),
        **info,
    }
    print(json.dumps(res))


if __name__ == "__main__":
    main()
