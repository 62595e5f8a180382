#!/usr/bin/python3
# make_shipped_goldens.py: independent references for the shipped model (models/kjv-char),
# computed by the PyTorch reference (tools/reference/llada.py, float32 compute on the exported
# bf16 weights), for the C++ tests in tests/model/shipped.cpp:
#   tests/data/shipped/generate_golden.safetensors  LLaDA generate() at temperature 0
#       (prompt "In the beginning", 64 generated, 64 steps, blocks of 32, low_confidence):
#       prompt_ids I64 [1, P], output_ids I64 [1, P + 64]
#   tests/data/shipped/elbo_masks.safetensors       eval_elbo.py --dump-masks on one verse
#       (masks U8 [16, l], t F64 [16], loss_nats F64 [16], input_ids I64 [l])
# and for the block-diffusion model (models/kjv-char-block16, block-causal attention, blocks of 16):
#   tests/data/shipped_block16/generate_golden.safetensors  SDAR's block_diffusion_generate
#       (tools/reference/block_generate.py sdar_generate, low_confidence_static, 16 steps per block,
#       temperature 0, stop at EOS) on the PyTorch LLaDA with the block-causal mask: prompt_ids,
#       output_ids (the canvas of whole blocks), nfe
#   tests/data/shipped_block16/elbo_masks.safetensors  eval_elbo.py --dump-masks of the block bound
#       (one row per sample and block: masks, t, loss_nats, prefix, input_ids)
# Regenerate after retraining the model:  /usr/bin/python3 tools/train/make_shipped_goldens.py
import json
import os
import subprocess
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))
import llada  # noqa: E402
import block_generate  # noqa: E402,F401
import safetensors_io  # noqa: E402

MODEL = os.path.join(ROOT, "models", "kjv-char")
OUT = os.path.join(ROOT, "tests", "data", "shipped")
BLOCK_MODEL = os.path.join(ROOT, "models", "kjv-char-block16")
BLOCK_OUT = os.path.join(ROOT, "tests", "data", "shipped_block16")
PROMPT = "In the beginning"
VERSE = "In the beginning God created the heaven and the earth."


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    vocab = json.load(open(os.path.join(MODEL, "vocab.json"), encoding="utf-8"))
    cfg = json.load(open(os.path.join(MODEL, "config.json")))
    model = llada.load_pretrained(MODEL, torch.float32)
    prompt = torch.tensor([[vocab[c] for c in PROMPT]], dtype=torch.long)
    with torch.inference_mode():
        out = llada.generate(model, prompt, steps=64, gen_length=64, block_length=32, temperature=0.0,
                             remasking="low_confidence", mask_id=cfg["mask_token_id"])
    meta = {"prompt": PROMPT, "gen_length": "64", "steps": "64", "block_length": "32", "temperature": "0",
            "remasking": "low_confidence", "weights": "models/kjv-char bf16, float32 compute"}
    safetensors_io.save_file({"prompt_ids": prompt, "output_ids": out},
                             os.path.join(OUT, "generate_golden.safetensors"), meta)
    inv = {i: s for s, i in vocab.items()}
    print("generate golden:", "".join(inv.get(int(i), "?") for i in out[0]))
    subprocess.run([sys.executable, os.path.join(HERE, "eval_elbo.py"), "--string", VERSE, "--mc-num", "16",
                    "--batch-size", "16", "--seed", "7", "--dump-masks",
                    os.path.join(OUT, "elbo_masks.safetensors")], check=True)

    block_goldens(vocab)


def block_goldens(vocab):
    os.makedirs(BLOCK_OUT, exist_ok=True)
    cfg = json.load(open(os.path.join(BLOCK_MODEL, "config.json")))
    L = cfg["block_size"]
    model = llada.load_pretrained(BLOCK_MODEL, torch.float32)

    def call(ids, mask=None, positions=None, past=None):  # the qwen-style call of block_generate
        assert past is None and positions is None
        return model(ids, attn_mask=mask), None

    prompt = torch.tensor([[vocab[c] for c in PROMPT]], dtype=torch.long)
    r = block_generate.sdar_generate(call, prompt, cfg["mask_token_id"], gen_length=64, block_length=L,
                                     denoising_steps=16, temperature=0.0, remasking_strategy="low_confidence_static",
                                     stop_ids=[cfg["eos_token_id"]], use_cache=False)
    meta = {"prompt": PROMPT, "gen_length": "64", "block_length": str(L), "denoising_steps": "16",
            "temperature": "0", "remasking": "low_confidence_static", "stop_ids": str(cfg["eos_token_id"]),
            "weights": "models/kjv-char-block16 bf16, float32 compute"}
    safetensors_io.save_file({"prompt_ids": prompt, "output_ids": r["x"],
                              "nfe": torch.tensor([r["nfe"]], dtype=torch.long)},
                             os.path.join(BLOCK_OUT, "generate_golden.safetensors"), meta)
    inv = {i: s for s, i in vocab.items()}
    print("block generate golden:", "".join(inv.get(int(i), "?") for i in r["x"][0]), "nfe", r["nfe"])
    subprocess.run([sys.executable, os.path.join(HERE, "eval_elbo.py"), "--model", BLOCK_MODEL, "--string", VERSE,
                    "--mc-num", "16", "--batch-size", "16", "--seed", "7", "--dump-masks",
                    os.path.join(BLOCK_OUT, "elbo_masks.safetensors")], check=True)


if __name__ == "__main__":
    main()
