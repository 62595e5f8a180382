#!/usr/bin/python3
# sample.py: text samples from a LLaDA checkpoint in the models/ layout (default
# models/kjv-char), decoded with LLaDA's generate() (tools/reference/llada.py: semi-autoregressive
# blocks, low-confidence remasking), loaded from the exported BF16 weights, float32 compute.
#
# Regenerate the samples shown in docs/training.md:
#   /usr/bin/python3 tools/train/sample.py --record
import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))
import llada  # noqa: E402

PROMPTS = ["In the beginning ", "And Jesus said unto them, ", "The LORD is my "]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "kjv-char"))
    ap.add_argument("--prompt", action="append", help="prompt text (repeatable)")
    ap.add_argument("--gen-length", type=int, default=96)
    ap.add_argument("--steps", type=int, default=96)
    ap.add_argument("--block-length", type=int, default=32)
    ap.add_argument("--temperature", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--record", action="store_true", help="write MODEL/samples.json")
    a = ap.parse_args()
    torch.set_num_threads(1)
    vocab = json.load(open(os.path.join(a.model, "vocab.json"), encoding="utf-8"))
    inv = {i: s for s, i in vocab.items()}
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    model = llada.load_pretrained(a.model, torch.float32)
    gen = torch.Generator().manual_seed(a.seed)
    out = []
    for p in a.prompt or PROMPTS:
        ids = torch.tensor([[vocab[c] for c in p]])
        x = llada.generate(model, ids, steps=a.steps, gen_length=a.gen_length,
                           block_length=a.block_length, temperature=a.temperature,
                           mask_id=cfg["mask_token_id"], generator=gen)
        text = "".join(inv[int(i)] if int(i) != cfg["mask_token_id"] else "_" for i in x[0])
        print(repr(text))
        out.append({"prompt": p, "text": text})
    if a.record:
        json.dump({"settings": {k: v for k, v in vars(a).items() if k not in ("record", "model")},
                   "samples": out}, open(os.path.join(a.model, "samples.json"), "w"),
                  indent=2, ensure_ascii=False)


if __name__ == "__main__":
    main()
