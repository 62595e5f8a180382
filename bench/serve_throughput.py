#!/usr/bin/env python3
# Throughput of `ddiff serve` on the shipped model with 1, 2, 4 and 8 concurrent clients, each
# measured twice in the same run: with batching (--max-batch 8: compatible requests decoded as
# rows of one batch) and strictly sequential (--max-batch 1); plus the time to the first
# streamed byte. Standard library only; the server is started on a free loopback port.
#
# usage: /usr/bin/python3 bench/serve_throughput.py build/release/tools/ddiff/ddiff
#            [--requests 32] [--max-tokens 64] [--steps 64] [--block-length 16] [--clients 1,2,4,8]
# Prints a Markdown table (docs/server.md).
import argparse
import http.client
import json
import re
import statistics
import subprocess
import threading
import time


def start(ddiff, max_batch, threads):
    p = subprocess.Popen([ddiff, "serve", "--port", "0", "--max-batch", str(max_batch), "--max-queue", "256",
                          "--threads", str(threads)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
    if not m:
        p.kill()
        raise SystemExit("ddiff serve did not start: " + line)
    return p, int(m.group(1))


def post(port, body, stream=False):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    t0 = time.perf_counter()
    c.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    first = None
    if stream:
        r.read(1)
        first = time.perf_counter() - t0
    data = r.read()
    c.close()
    if r.status != 200:
        raise SystemExit(f"HTTP {r.status}: {data[:200]!r}")
    return time.perf_counter() - t0, first


def run(port, clients, requests, body):
    latencies, lock = [], threading.Lock()
    next_i = [0]

    def client():
        while True:
            with lock:
                i = next_i[0]
                next_i[0] += 1
            if i >= requests:
                return
            secs, _ = post(port, dict(body, seed=i))
            with lock:
                latencies.append(secs)

    post(port, dict(body, seed=10**6))  # warm-up
    t0 = time.perf_counter()
    ts = [threading.Thread(target=client) for _ in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, (len(latencies) * 99) // 100)]
    return requests / wall, requests * body["max_tokens"] / wall, statistics.median(latencies), p99


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ddiff")
    ap.add_argument("--requests", type=int, default=32)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--block-length", type=int, default=16)
    ap.add_argument("--clients", default="1,2,4,8")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    body = {"prompt": "In the beginning", "max_tokens": a.max_tokens, "steps": a.steps, "block_length": a.block_length}
    clients = [int(c) for c in a.clients.split(",")]
    rows = {}
    for max_batch in (8, 1):
        p, port = start(a.ddiff, max_batch, a.threads)
        try:
            for c in clients:
                rows[(max_batch, c)] = run(port, c, a.requests, body)
            ttfb = [post(port, dict(body, seed=k, stream=True), stream=True)[1] for k in range(8)]
            rows[(max_batch, "ttfb")] = statistics.median(ttfb)
        finally:
            p.terminate()
            p.wait()
    print(f"{a.requests} requests per row; prompt 'In the beginning' (16 tokens), max_tokens {a.max_tokens}, "
          f"steps {a.steps}, block_length {a.block_length}, --threads {a.threads}\n")
    print("| clients | requests/s | tokens/s | p50 latency (s) | p99 latency (s) | sequential (--max-batch 1) requests/s | batching gain |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for c in clients:
        rps, tps, p50, p99 = rows[(8, c)]
        seq = rows[(1, c)][0]
        print(f"| {c} | {rps:.2f} | {tps:.0f} | {p50:.3f} | {p99:.3f} | {seq:.2f} | {rps / seq:.2f}x |")
    print(f"\ntime to first streamed byte (median of 8, idle server): {rows[(8, 'ttfb')] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
