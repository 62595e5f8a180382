#!/usr/bin/python3
# make_tiny_bpe_checkpoints.py: tiny random LLaDA and Dream checkpoints in the Hugging Face layout
# with a real (small) byte-level BPE tokenizer, for the end-to-end tests of `ddiff generate --chat`
# and `ddiff tokenize`:
#
#   tests/data/models/llada_tiny_bpe/   LLaDA (model.safetensors F32, config.json), tokenizer.json,
#                                       tokenizer_config.json (LLaDA-8B-Instruct's chat template and
#                                       special tokens), generation_config.json
#   tests/data/models/dream_tiny_bpe/   Dream, with Qwen2's ChatML template (Dream-v0-Instruct's)
#   each with chat_prompt_golden.json: a conversation, the prompt Python jinja2 renders from the
#   checkpoint's template (transformers' environment) and the ids Hugging Face tokenizers gives it
#   (add_special_tokens=false, as apply_chat_template(tokenize=True) does).
#
# The tokenizer.json is built, trained on KJV verses and saved by Hugging Face tokenizers itself
# (tools/tokenizer/make_tiny_bpe.mjs, Node binding); the weights come from tools/reference.
#
#   scripts/tokenizer-data.sh && /usr/bin/python3 tools/tokenizer/make_tiny_bpe_checkpoints.py [DATA]
import json
import os
import shutil
import subprocess
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))
sys.path.insert(0, HERE)
import dream  # noqa: E402
import llada  # noqa: E402
from make_chat_goldens import environment  # noqa: E402

MODELS = os.path.join(ROOT, "tests", "data", "models")
SEED = 20250612

LLADA_TEMPLATE = open(os.path.join(ROOT, "tests", "data", "tokenizer", "chat", "llada-8b-instruct.jinja"),
                      encoding="utf-8").read()
# Qwen2's chat template (Qwen2.5 / Dream-v0-Instruct-7B tokenizer_config.json, Apache-2.0).
QWEN2_TEMPLATE = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
                  "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
                  "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
                  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")

CONVERSATION = [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "Write a short story about the sea."}]


def node(data, *args):
    return subprocess.run(["node", os.path.join(HERE, "make_tiny_bpe.mjs"), args[0], data, *args[1:]],
                          check=True, capture_output=True, text=True).stdout


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=2)
        f.write("\n")


def fill_random(model, gen):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_((0.25 if "emb" in name or "wte" in name else 1.5 / p.shape[1] ** 0.5) * torch.randn(p.shape, generator=gen))


def make(data, name, specials, tokenizer_config, chat_template, make_model):
    d = os.path.join(MODELS, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    info = json.loads(node(data, "tokenizer", os.path.join(d, "tokenizer.json"), json.dumps(specials)))
    vocab, ids = info["vocab_size"], info["ids"]
    make_model(d, vocab, ids)
    cfg = dict(tokenizer_config)
    cfg["chat_template"] = chat_template
    write_json(os.path.join(d, "tokenizer_config.json"), cfg)
    rendered = environment().from_string(chat_template).render(
        messages=CONVERSATION, add_generation_prompt=True,
        **{k: cfg[k] for k in ["bos_token", "eos_token", "pad_token"] if cfg.get(k)})
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as f:
        f.write(rendered)
    try:
        prompt_ids = json.loads(node(data, "encode", os.path.join(d, "tokenizer.json"), f.name))
    finally:
        os.unlink(f.name)
    write_json(os.path.join(d, "chat_prompt_golden.json"),
               {"messages": CONVERSATION, "add_generation_prompt": True, "rendered": rendered, "ids": prompt_ids,
                "reference": "Python jinja2 (transformers' environment) + Hugging Face tokenizers 0.22.2"})
    print(f"{name}: vocab {vocab}, prompt of {len(prompt_ids)} tokens, special ids {ids}")


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("DDIFF_DATA", os.path.expanduser("~/.cache/ddiff"))
    gen = torch.Generator().manual_seed(SEED)

    def llada_model(d, vocab, ids):
        cfg = llada.make_config(d_model=32, n_heads=2, n_kv_heads=2, n_layers=2, mlp_hidden_size=64, mlp_ratio=2,
                                vocab_size=vocab, embedding_size=vocab, max_sequence_length=128,
                                rope_theta=500000.0, mask_token_id=ids["<|mdm_mask|>"],
                                eos_token_id=ids["<|endoftext|>"], pad_token_id=ids["<|endoftext|>"],
                                init_device="cpu", precision="fp32")
        m = llada.LLaDAModelLM(cfg)
        fill_random(m, gen)
        llada.save_pretrained(m, d, dtype="F32")
        write_json(os.path.join(d, "generation_config.json"),
                   {"bos_token_id": ids["<|startoftext|>"], "eos_token_id": [ids["<|endoftext|>"], ids["<|eot_id|>"]]})

    make(data, "llada_tiny_bpe",
         ["<|startoftext|>", "<|endoftext|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|mdm_mask|>"],
         {"add_bos_token": False, "add_eos_token": False, "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
          "pad_token": "<|endoftext|>", "tokenizer_class": "PreTrainedTokenizerFast"},
         LLADA_TEMPLATE, llada_model)

    def dream_model(d, vocab, ids):
        cfg = dream.make_config(hidden_size=32, intermediate_size=64, num_attention_heads=2, num_key_value_heads=1,
                                num_hidden_layers=2, vocab_size=vocab, max_position_embeddings=128,
                                max_window_layers=2, mask_token_id=ids["<|mask|>"], pad_token_id=ids["<|endoftext|>"],
                                bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|endoftext|>"],
                                torch_dtype="float32")
        m = dream.DreamModel(cfg)
        fill_random(m, gen)
        dream.save_pretrained(m, d, "F32")
        write_json(os.path.join(d, "generation_config.json"),
                   {"bos_token_id": ids["<|endoftext|>"], "eos_token_id": [ids["<|im_end|>"], ids["<|endoftext|>"]]})

    make(data, "dream_tiny_bpe", ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|mask|>"],
         {"add_bos_token": False, "bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
          "mask_token": "<|mask|>", "tokenizer_class": "Qwen2Tokenizer"},
         QWEN2_TEMPLATE, dream_model)


if __name__ == "__main__":
    main()
