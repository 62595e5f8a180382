#!/usr/bin/python3
# ngram.py: interpolated Witten-Bell character n-gram models fitted on the KJV training split
# (Genesis..Philippians, tools/train/kjv_data.py), reporting bits per character of a text
# (default: the held-out split Colossians..Revelation) for n = 3 and n = 5.
#
# Witten-Bell interpolation (Chen & Goodman 1998, eq. for "interpolated Witten-Bell"):
#   P_n(c | h) = (C(h c) + N1+(h .) * P_{n-1}(c | h')) / (C(h) + N1+(h .))   if C(h) > 0
#              = P_{n-1}(c | h')                                              otherwise
#   where h is the n-1 preceding characters, h' drops its oldest character, C counts
#   occurrences in the training text, N1+(h .) is the number of distinct characters seen after
#   h; the recursion ends in the uniform distribution over the training character set
#   (order 0).  No parameters are tuned.  The first n-1 characters of the evaluated text use
#   the shorter history that is available.
#
# Regenerate the numbers in docs/training.md:
#   /usr/bin/python3 tools/train/ngram.py --record
#   /usr/bin/python3 tools/train/ngram.py --record --window-step 8   # the eval_elbo.py subset
import argparse
import json
import math
import os
import sys
import time
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
import kjv_data  # noqa: E402


class WittenBell:
    def __init__(self, text, n):
        self.n = n
        self.vocab = sorted(set(text))
        self.count = [None] * (n + 1)       # count[k][gram of length k]
        self.ctx_total = [None] * (n + 1)   # C(h) for |h| = k-1 (as a history of a k-gram)
        self.ctx_types = [None] * (n + 1)   # N1+(h .)
        for k in range(1, n + 1):
            cnt = Counter(text[i:i + k] for i in range(len(text) - k + 1))
            tot, typ = defaultdict(int), defaultdict(int)
            for g, c in cnt.items():
                tot[g[:-1]] += c
                typ[g[:-1]] += 1
            self.count[k], self.ctx_total[k], self.ctx_types[k] = cnt, tot, typ

    def prob(self, hist, c):
        """P(c | hist) with len(hist) <= n-1 (the recursion from order 0 upwards)."""
        p = 1.0 / len(self.vocab)
        for k in range(1, len(hist) + 2):
            h = hist[len(hist) - (k - 1):] if k > 1 else ""
            ct = self.ctx_total[k].get(h, 0)
            if ct == 0:
                continue
            nt = self.ctx_types[k][h]
            p = (self.count[k].get(h + c, 0) + nt * p) / (ct + nt)
        return p

    def bits_per_char(self, text, positions=None):
        """Mean -log2 P over `positions` (default: all); history always from the full text."""
        idx = range(len(text)) if positions is None else positions
        tot, cnt = 0.0, 0
        for i in idx:
            hist = text[max(0, i - self.n + 1):i]
            tot -= math.log2(self.prob(hist, text[i]))
            cnt += 1
        return tot / cnt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--text", help="text file to evaluate (default: the held-out split)")
    ap.add_argument("--orders", default="3,5")
    ap.add_argument("--window", type=int, default=256)
    ap.add_argument("--window-step", type=int, default=1,
                    help="score only every K-th window of --window chars (same subset as "
                         "eval_elbo.py --window-step K); K = 1 scores every character")
    ap.add_argument("--record", action="store_true",
                    help="store results in models/kjv-char/eval_results.json")
    a = ap.parse_args()
    train, held = kjv_data.split_texts()
    text = open(a.text, encoding="utf-8").read() if a.text else held
    tname = os.path.basename(a.text) if a.text else "held-out split (Col-Rev)"
    unseen = sorted(set(text) - set(train))
    if unseen:
        sys.exit(f"characters never seen in training: {unseen!r}")
    positions = None
    if a.window_step > 1:
        positions = [i for i in range(len(text)) if (i // a.window) % a.window_step == 0]
        tname += f", every {a.window_step}th window of {a.window}"
    res = {}
    for n in [int(x) for x in a.orders.split(",")]:
        t0 = time.time()
        m = WittenBell(train, n)
        bpc = m.bits_per_char(text, positions)
        res[n] = bpc
        print(f"Witten-Bell interpolated char {n}-gram: {bpc:.4f} bits/char on {tname} "
              f"({len(text) if positions is None else len(positions)} chars; train {len(train)} chars; {time.time() - t0:.1f} s)", flush=True)
    if a.record:
        p = os.path.join(ROOT, "models", "kjv-char", "eval_results.json")
        ev = json.load(open(p)) if os.path.exists(p) else {}
        for n, bpc in res.items():
            ev[f"ngram{n}_{tname}"] = {"name": f"char {n}-gram, interpolated Witten-Bell",
                                      "text": tname, "bpc": bpc, "se_bpc": None,
                                      "chars": len(text) if positions is None else len(positions),
                                      "notes": "exact (no sampling); causal left-to-right"}
        json.dump(ev, open(p, "w"), indent=2)


if __name__ == "__main__":
    main()
