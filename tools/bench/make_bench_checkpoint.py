#!/usr/bin/python3
"""make_bench_checkpoint.py: writes the random-weight LLaDA checkpoint of the whole-decode
benchmark (issue 5 item 6; bench/bench_decode.cpp, tools/bench/torch_decode.py) in the Hugging
Face layout: config.json + model.safetensors, F32.

  hidden 1024, 8 layers, 16 heads (head_dim 64, no GQA), SwiGLU FFN 2816, vocabulary 4096,
  mask id 4095, untied head; 111.2 M parameters, 445 MB of weights.

Weights come from tools/reference/llada.py init_weights (N(0, 0.02), output projections scaled
by 1/sqrt(2 n_layers), norms 1) with a fixed seed, so every run writes the same bytes. The mask
id's row of the output head is zeroed: its logit is then 0 while the largest of the other 4095
is ~2.5, so no greedy proposal is the mask id (ddiff never proposes it, LLaDA's generate() can;
this keeps the two decodes comparable token for token).

With --vocab 126464 (LLaDA-8B's vocabulary; mask id 126336 as LLaDA's) it writes the
checkpoint of the selection-work benchmark (bench_decode BM_selection_v126k): the same shape
with LLaDA's vocabulary, 1.0 GB of F32 weights.

Usage: /usr/bin/python3 tools/bench/make_bench_checkpoint.py [DIR] [--seed N] [--vocab V]
DIR defaults to /tmp/ddiff_bench_llada (/tmp/ddiff_bench_llada_v126k with --vocab 126464).
The checkpoint is generated data: never commit it.
Needs python3-torch and python3-numpy (apt).
"""
import argparse
import hashlib
import os
import sys
import time

import torch

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import llada  # noqa: E402

DEFAULT_DIR = "/tmp/ddiff_bench_llada"
VOCAB = 4096
MASK_ID = VOCAB - 1


LLADA_VOCAB, LLADA_MASK_ID = 126464, 126336


def bench_config(vocab=VOCAB):
    mask = MASK_ID if vocab == VOCAB else LLADA_MASK_ID if vocab == LLADA_VOCAB else vocab - 1
    return llada.make_config(d_model=1024, n_heads=16, n_kv_heads=16, n_layers=8, mlp_hidden_size=2816,
                             vocab_size=vocab, embedding_size=vocab, max_sequence_length=4096,
                             mask_token_id=mask, eos_token_id=vocab - 2, pad_token_id=vocab - 2)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", nargs="?", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--vocab", type=int, default=VOCAB)
    a = ap.parse_args()
    if a.dir is None:
        a.dir = DEFAULT_DIR if a.vocab == VOCAB else f"{DEFAULT_DIR}_v{a.vocab // 1000}k"
    t0 = time.perf_counter()
    torch.set_num_threads(2)
    cfg = bench_config(a.vocab)
    with torch.no_grad():
        m = llada.LLaDAModelLM(cfg)
        llada.init_weights(m, generator=torch.Generator().manual_seed(a.seed))
        m.model.transformer.ff_out.weight[cfg["mask_token_id"]].zero_()
    llada.save_pretrained(m, a.dir, dtype="F32", extra_config={"ddiff_bench_seed": a.seed})
    path = os.path.join(a.dir, "model.safetensors")
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""):
            h.update(chunk)
    n = llada.count_params(m)
    print(f"{a.dir}: {n / 1e6:.1f} M parameters, {n * 4 / 1e6:.0f} MB F32 weights, "
          f"model.safetensors sha256 {h.hexdigest()[:16]}, {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
