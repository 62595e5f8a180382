#!/usr/bin/python3
"""make_bench_checkpoint_qwen3.py: writes a random-weight Qwen3-architecture block-diffusion
checkpoint of Qwen3-0.6B's shape for the block-cache benchmark (issue 14: 256 new tokens in
blocks of 32, exact block cache vs none), in the Hugging Face layout of dllm's
Qwen3-0.6B-diffusion-bd3lm (model_type "a2d-qwen3", the default) or SDAR (model_type "sdar",
block_size 32): config.json + model.safetensors.

  hidden 1024, 28 layers, 16 query heads / 8 KV heads, head_dim 128 (q width 2048), SwiGLU 3072,
  QK-norm, vocabulary 151,936, tied embeddings; 596 M parameters: 1.19 GB in BF16 (the
  checkpoints' dtype, default) or 2.38 GB in F32.

Weights: N(0, 0.02) for every matrix (output projections o_proj / down_proj scaled by
1/sqrt(2 * 28)), norm weights 1, from a fixed seed, tensor by tensor (never a float32 copy of the
whole model). The mask id (151669, the <|mask|> / <|MASK|> token of the Qwen3 tokenizer) is in
config.json as mask_token_id; eos 151645. The mask id's row of the (tied) embedding is zeroed, so
its logit is 0 and no greedy proposal is the mask id.

Usage: /usr/bin/python3 tools/bench/make_bench_checkpoint_qwen3.py [DIR] [--seed N]
           [--dtype BF16|F32] [--model-type a2d-qwen3|sdar]
DIR defaults to ~/.cache/ddiff/bench/qwen3-0.6b-<model type>-<dtype> (outside the source tree).
Generated data: never commit it. Takes about a minute and ~3 GB of memory (BF16). Needs
python3-torch and python3-numpy (apt).
"""
import argparse
import hashlib
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import qwen  # noqa: E402

VOCAB = 151936
MASK_ID = 151669
EOS_ID = 151645


def bench_config(model_type):
    over = dict(extra={"mask_token_id": MASK_ID, "pad_token_id": 151643})
    if model_type == "sdar":
        over["block_size"] = 32
    cfg = qwen.make_config(model_type, hidden_size=1024, intermediate_size=3072, num_hidden_layers=28,
                           num_attention_heads=16, num_key_value_heads=8, head_dim=128, vocab_size=VOCAB,
                           tie_word_embeddings=True, eos_token_id=EOS_ID, **over)
    return cfg


def tensor_shapes(cfg):
    """(name, shape) of every tensor in the HF layout, in file order."""
    d, f, hd = cfg["hidden_size"], cfg["intermediate_size"], cfg["head_dim"]
    H, G = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    out = [("model.embed_tokens.weight", (cfg["vocab_size"], d))]
    for i in range(cfg["num_hidden_layers"]):
        b = f"model.layers.{i}."
        out += [(b + "input_layernorm.weight", (d,)), (b + "post_attention_layernorm.weight", (d,)),
                (b + "self_attn.q_proj.weight", (H * hd, d)), (b + "self_attn.k_proj.weight", (G * hd, d)),
                (b + "self_attn.v_proj.weight", (G * hd, d)), (b + "self_attn.o_proj.weight", (d, H * hd)),
                (b + "self_attn.q_norm.weight", (hd,)), (b + "self_attn.k_norm.weight", (hd,)),
                (b + "mlp.gate_proj.weight", (f, d)), (b + "mlp.up_proj.weight", (f, d)),
                (b + "mlp.down_proj.weight", (d, f))]
    out.append(("model.norm.weight", (d,)))
    return out


def make_tensor(name, shape, gen, n_layers):
    if len(shape) == 1:
        return torch.ones(shape)
    std = 0.02
    if name.endswith("o_proj.weight") or name.endswith("down_proj.weight"):
        std /= math.sqrt(2 * n_layers)
    t = torch.randn(shape, generator=gen) * std
    if name == "model.embed_tokens.weight":
        t[MASK_ID].zero_()
    return t


def to_bytes(t, dtype):
    if dtype == "BF16":
        return t.to(torch.bfloat16).view(torch.int16).numpy().tobytes()
    return t.numpy().astype("<f4").tobytes()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", nargs="?")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", choices=["BF16", "F32"], default="BF16")
    ap.add_argument("--model-type", choices=["a2d-qwen3", "sdar"], default="a2d-qwen3")
    a = ap.parse_args()
    out_dir = a.dir or os.path.expanduser(f"~/.cache/ddiff/bench/qwen3-0.6b-{a.model_type}-{a.dtype.lower()}")
    t0 = time.perf_counter()
    torch.set_num_threads(2)
    cfg = bench_config(a.model_type)
    cfg["ddiff_bench_seed"] = a.seed
    cfg["torch_dtype"] = "bfloat16" if a.dtype == "BF16" else "float32"
    shapes = tensor_shapes(cfg)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    # safetensors header first (offsets from the shapes), then the tensors streamed one by one
    bpe = 2 if a.dtype == "BF16" else 4
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in shapes:
        n = int(np.prod(shape)) * bpe
        header[name] = {"dtype": a.dtype, "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hj += b" " * ((8 - (8 + len(hj)) % 8) % 8)
    gen = torch.Generator().manual_seed(a.seed)
    h = hashlib.sha256()
    path = os.path.join(out_dir, "model.safetensors")
    with open(path + ".part", "wb") as f:
        for chunk in (struct.pack("<Q", len(hj)), hj):
            f.write(chunk)
            h.update(chunk)
        for name, shape in shapes:
            raw = to_bytes(make_tensor(name, shape, gen, cfg["num_hidden_layers"]), a.dtype)
            f.write(raw)
            h.update(raw)
    os.replace(path + ".part", path)
    n = sum(int(np.prod(s)) for _, s in shapes)
    print(f"{out_dir}: {a.model_type}, {n / 1e6:.1f} M parameters, {off / 1e9:.2f} GB {a.dtype} weights, "
          f"model.safetensors sha256 {h.hexdigest()[:16]}, {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
