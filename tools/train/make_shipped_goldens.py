#!/usr/bin/python3
# make_shipped_goldens.py: independent references for the shipped model (models/kjv-char),
# computed by the PyTorch reference (tools/reference/llada.py, float32 compute on the exported
# bf16 weights), for the C++ tests in tests/model/shipped.cpp:
#   tests/data/shipped/generate_golden.safetensors  LLaDA generate() at temperature 0
#       (prompt "In the beginning", 64 generated, 64 steps, blocks of 32, low_confidence):
#       prompt_ids I64 [1, P], output_ids I64 [1, P + 64]
#   tests/data/shipped/elbo_masks.safetensors       eval_elbo.py --dump-masks on one verse
#       (masks U8 [16, l], t F64 [16], loss_nats F64 [16], input_ids I64 [l])
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
import safetensors_io  # noqa: E402

MODEL = os.path.join(ROOT, "models", "kjv-char")
OUT = os.path.join(ROOT, "tests", "data", "shipped")
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


if __name__ == "__main__":
    main()
