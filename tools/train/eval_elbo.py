#!/usr/bin/python3
# eval_elbo.py: Monte Carlo masked-diffusion negative ELBO (bits per character) of a text under
# a LLaDA checkpoint in the models/ layout (config.json + model.safetensors + vocab.json),
# loaded from the exported (BF16) weights and computed in float32.
#
# Estimator: LLaDA get_log_likelihood.py (ML-GSAI/LLaDA), with an empty prompt:
#   for each mini-batch of b = --batch-size samples over a sequence of l tokens:
#     k ~ UniformInt{1..l};  x_j = round(linspace(k, k + (b-1) l/b, b))_j, x_j = ((x_j-1) mod l)+1
#     (stratified numbers of masked tokens), sample j masks exactly x_j positions chosen by a
#     random permutation; t_j = x_j / l;
#     loss_j = sum_{masked i} CE(logits_i, token_i) / t_j           [nats for the sequence]
#   estimate = mean_j loss_j over all --mc-num samples (128 = LLaDA's default, batch 16).
# A block-diffusion checkpoint (config key "block_size" = B > 0, tools/train/train.py --objective
# bd3lm) gets BD3-LM's block NELBO instead: the sum over blocks k of the masked-diffusion bound of
# block k given the clean blocks before it; block k (l_k positions) gets the estimator above on its
# own (counts x_{j,k}, t_{j,k} = x_{j,k} / l_k), scored by a forward of the prefix x^{<k} (clean) +
# x_t^k under the block-causal mask; loss_j = sum_k loss_{j,k}.  (The training script's held-out
# loss is the continuous-time form of the same bound: per block t ~ U(0,1), Bernoulli masks.)
# A text longer than --window characters is cut into consecutive windows (the last one may be
# shorter); each window is an independent sequence, the window estimates are summed and
# divided by the number of characters.  Standard error: from the --mc-num/--batch-size
# independent mini-batch means of each window (the samples inside one mini-batch are
# stratified, so they are not independent), combined over windows in quadrature; the naive
# per-sample standard error is printed too.
#
# --dump-masks FILE writes, for window --dump-window, the exact inputs of the estimate:
#   masks U8 [n, l] (1 = masked), t F64 [n], loss_nats F64 [n] (per-sample loss_j),
#   input_ids I64 [l]; __metadata__ holds mask_token_id, the estimate and the settings.
#   For a block-diffusion model one row per (sample, block): masks U8 [n * nb, l] (the masked
#   positions of that block), t, loss_nats (loss_{j,k}) and prefix I64 [n * nb] (the forward's
#   length: the end of block k).
#   Per-sample loss_j is accumulated in float64 from float32 cross-entropies
#   CE_i = logsumexp(logits_i) - logits_i[token_i] of float32 logits.
#
# Regenerate the numbers in docs/training.md:
#   /usr/bin/python3 tools/train/eval_elbo.py --heldout --window-step 8 --mc-num 32 --record
# Example dump for a C++ test:
#   /usr/bin/python3 tools/train/eval_elbo.py --string "In the beginning God created the heaven and the earth." \
#       --mc-num 32 --dump-masks /tmp/elbo_masks.safetensors
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))
sys.path.insert(0, HERE)
import llada  # noqa: E402
import safetensors_io  # noqa: E402

LN2 = math.log(2)


def llada_mask_counts(l, b, gen):
    """Numbers of masked tokens for one mini-batch, as in get_log_likelihood.forward_process."""
    k = int(torch.randint(1, l + 1, (), generator=gen))
    x = torch.round(torch.linspace(float(k), k + (b - 1) * (l / b), steps=b)).long()
    x = ((x - 1) % l) + 1
    assert int(x.min()) >= 1 and int(x.max()) <= l
    return x


def window_estimate(model, ids, mask_id, mc_num, bs, gen):
    """Per-sample losses (nats), masks and t for one sequence `ids` [l]."""
    l = ids.shape[0]
    losses, masks, ts, batch_means = [], [], [], []
    for _ in range(mc_num // bs):
        x = llada_mask_counts(l, bs, gen)
        m = torch.zeros(bs, l, dtype=torch.bool)
        for j in range(bs):
            perm = torch.randperm(l, generator=gen)
            m[j, perm[:int(x[j])]] = True          # exactly x_j masked positions
        noisy = torch.where(m, torch.full((bs, l), mask_id, dtype=torch.long), ids[None].expand(bs, l))
        with torch.no_grad():
            logits = model(noisy).float()
        t = x.double() / l
        bl = []
        for j in range(bs):
            ce = F.cross_entropy(logits[j][m[j]], ids[m[j]], reduction="none").double()
            bl.append(float(ce.sum() / t[j]))
        losses += bl
        masks.append(m)
        ts.append(t)
        batch_means.append(sum(bl) / bs)
    return (torch.tensor(losses, dtype=torch.float64), torch.cat(masks), torch.cat(ts),
            torch.tensor(batch_means, dtype=torch.float64))


def block_causal(T, B):
    """bool [T, T], True = attend: row q sees keys of its own block and the blocks before it."""
    q = torch.arange(T)[:, None] // B
    k = torch.arange(T)[None, :] // B
    return k <= q


def block_window_estimate(model, ids, mask_id, mc_num, bs, gen, B):
    """Block NELBO: per-sample losses (nats, summed over blocks), per-(sample, block) rows for a
    dump, and the mini-batch means."""
    l = ids.shape[0]
    losses, rows, batch_means = [], [], []
    for _ in range(mc_num // bs):
        tot = torch.zeros(bs, dtype=torch.float64)
        for lo in range(0, l, B):
            hi = min(l, lo + B)
            lb = hi - lo
            x = llada_mask_counts(lb, bs, gen)
            m = torch.zeros(bs, l, dtype=torch.bool)
            for j in range(bs):
                perm = torch.randperm(lb, generator=gen)
                m[j, lo + perm[:int(x[j])]] = True
            noisy = torch.where(m[:, :hi], torch.full((bs, hi), mask_id, dtype=torch.long), ids[None, :hi].expand(bs, hi))
            with torch.no_grad():
                logits = model(noisy, attn_mask=block_causal(hi, B)).float()
            t = x.double() / lb
            for j in range(bs):
                mj = m[j, :hi]
                ce = F.cross_entropy(logits[j][mj], ids[:hi][mj], reduction="none").double()
                lj = float(ce.sum() / t[j])
                tot[j] += lj
                rows.append((m[j].clone(), float(t[j]), lj, hi))
        losses += tot.tolist()
        batch_means.append(float(tot.mean()))
    return torch.tensor(losses, dtype=torch.float64), rows, torch.tensor(batch_means, dtype=torch.float64)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "kjv-char"))
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--text", help="UTF-8 text file")
    g.add_argument("--heldout", action="store_true", help="the held-out split (Col..Rev)")
    g.add_argument("--string")
    ap.add_argument("--max-chars", type=int, default=0, help="use only the first N characters")
    ap.add_argument("--window", type=int, default=256)
    ap.add_argument("--window-step", type=int, default=1,
                    help="evaluate only every K-th window (a spread-out subset of a long text)")
    ap.add_argument("--mc-num", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dump-masks")
    ap.add_argument("--dump-window", type=int, default=0)
    ap.add_argument("--record", action="store_true",
                    help="store the result in MODEL/eval_results.json (used by docs/training.md)")
    a = ap.parse_args()
    assert a.mc_num % a.batch_size == 0
    torch.set_num_threads(a.threads)

    if a.heldout:
        import kjv_data
        text = kjv_data.split_texts()[1]
        tname = "held-out split (Col-Rev)"
    elif a.text:
        text = open(a.text, encoding="utf-8").read()
        tname = os.path.basename(a.text)
    else:
        text = a.string
        tname = "string"
    if a.max_chars:
        text = text[:a.max_chars]
        tname += f", first {len(text)} chars"
    vocab = json.load(open(os.path.join(a.model, "vocab.json"), encoding="utf-8"))
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    mask_id = cfg["mask_token_id"]
    B = int(cfg.get("block_size", 0) or 0)
    bad = sorted(set(text) - set(vocab))
    if bad:
        sys.exit(f"characters not in the vocabulary: {bad!r}")
    ids = torch.tensor([vocab[c] for c in text], dtype=torch.long)
    model = llada.load_pretrained(a.model, torch.float32)
    gen = torch.Generator().manual_seed(a.seed)

    t0 = time.time()
    tot, var_b, var_s = 0.0, 0.0, 0.0
    wins = list(range(0, math.ceil(len(ids) / a.window), a.window_step))
    nwin = len(wins)
    n = 0
    for wi, w in enumerate(wins):
        seq = ids[w * a.window:(w + 1) * a.window]
        n += seq.numel()
        if B:
            losses, rows, bmeans = block_window_estimate(model, seq, mask_id, a.mc_num, a.batch_size, gen, B)
        else:
            losses, masks, ts, bmeans = window_estimate(model, seq, mask_id, a.mc_num, a.batch_size, gen)
        est = float(losses.mean())
        tot += est
        nb = bmeans.numel()
        var_b += float(bmeans.var(unbiased=True)) / nb if nb > 1 else float(losses.var()) / losses.numel()
        var_s += float(losses.var(unbiased=True)) / losses.numel()
        if a.dump_masks and w == a.dump_window:
            meta = {"mask_token_id": mask_id, "model": os.path.basename(os.path.abspath(a.model)),
                    "estimator": "LLaDA get_log_likelihood (stratified mask counts, 1/t weight)"
                                 + (f", per block of {B} given the clean prefix" if B else ""),
                    "mc_num": a.mc_num, "batch_size": a.batch_size, "seed": a.seed,
                    "window": w, "estimate_nats": repr(est), "weights": "bf16 file, float32 compute",
                    "loss_nats": "sum over masked i of (logsumexp(logits_i) - logits_i[id_i]) / t"}
            if B:
                meta["block_size"] = B
                tensors = {"masks": torch.stack([r[0] for r in rows]).to(torch.uint8),
                           "t": torch.tensor([r[1] for r in rows], dtype=torch.float64),
                           "loss_nats": torch.tensor([r[2] for r in rows], dtype=torch.float64),
                           "prefix": torch.tensor([r[3] for r in rows], dtype=torch.long), "input_ids": seq}
            else:
                tensors = {"masks": masks.to(torch.uint8), "t": ts, "loss_nats": losses, "input_ids": seq}
            safetensors_io.save_file(tensors, a.dump_masks, meta)
            print(f"dumped window {w} ({seq.numel()} tokens, {losses.numel()} samples) to {a.dump_masks}")
        if nwin > 1 and (wi + 1) % 10 == 0:
            print(f"  window {wi + 1}/{nwin}  running {tot / n / LN2:.4f} bits/char "
                  f"({time.time() - t0:.0f} s)", flush=True)
    if a.window_step > 1:
        tname += f", every {a.window_step}th window of {a.window}"
    bpc = tot / n / LN2
    se = math.sqrt(var_b) / n / LN2
    se_naive = math.sqrt(var_s) / n / LN2
    print(f"text: {tname}; {n} chars, {nwin} window(s) of <= {a.window}, {a.mc_num} MC samples each")
    print(f"NELBO = {tot:.4f} nats = {tot / n:.5f} nats/char = {bpc:.5f} bits/char "
          f"(standard error {se:.5f} bits/char from mini-batch means; naive per-sample {se_naive:.5f})")
    print(f"time {time.time() - t0:.1f} s")
    if a.record:
        p = os.path.join(a.model, "eval_results.json")
        ev = json.load(open(p)) if os.path.exists(p) else {}
        ev[f"elbo_mc{a.mc_num}_{tname}"] = {
            "name": f"MC NELBO (LLaDA estimator, {a.mc_num} samples/window, window {a.window}"
                    + (f", block-diffusion bound, blocks of {B})" if B else ")"),
            "text": tname, "bpc": bpc, "se_bpc": se, "chars": n,
            "notes": f"bf16 weights, f32 compute, seed {a.seed}"}
        json.dump(ev, open(p, "w"), indent=2)


if __name__ == "__main__":
    main()
