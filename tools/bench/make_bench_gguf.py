#!/usr/bin/python3
"""make_bench_gguf.py: writes a random-weight LLaDA-architecture GGUF file for the memory and
whole-model measurements of docs/gguf.md (issue 13), with llama.cpp's own gguf-py and the K-quant
transcriptions of tools/gguf/make_gguf.py, as llama.cpp's converter + llama-quantize lay it out
(architecture "llada", q/k rows permuted, diffusion.shift_logits = false).

  usage: /usr/bin/python3 tools/bench/make_bench_gguf.py LLAMA_CPP_TREE OUT.gguf TYPE
             [--hidden 1024] [--layers 8] [--heads 16] [--ffn 2816] [--vocab 4096] [--seed 0]

TYPE: F32, BF16, Q8_0, Q4_K_M (every matrix Q4_K except output.weight and, in the layers
llama.cpp's use_more_bits picks (i < n/8, i >= 7n/8, (i - n/8) % 3 == 2), attn_v and ffn_down,
which are Q6_K: llama-quantize's llama_tensor_get_type for LLAMA_FTYPE_MOSTLY_Q4_K_M), Q6_K.
Default shape: the 111M model of bench/bench_decode.cpp (hidden 1024, 8 layers, 16 heads, FFN
2816, vocabulary 4096); --hidden 2048 --ffn 5632 for the issue's LLaDA-architecture comparison.
Weights N(0, 0.02) from a seeded numpy generator, norms 1. Generated data: never commit it.
LLAMA_CPP_TREE: a llama.cpp source tree at c392e5094deaf2d1a7c18683214f007fad3fe42b (only
gguf-py/ is used), as for make_gguf.py.
"""
import argparse
import os
import sys
import types

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def use_more_bits(i, n):
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def main():
    ap = argparse.ArgumentParser(usage=__doc__)
    ap.add_argument("tree")
    ap.add_argument("out")
    ap.add_argument("type", choices=["F32", "BF16", "Q8_0", "Q4_K_M", "Q6_K"])
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--ffn", type=int, default=2816)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    sys.path.insert(0, os.path.join(a.tree, "gguf-py"))
    sys.path.insert(0, os.path.join(HERE, "..", "gguf"))
    if "sentencepiece" not in sys.modules:  # see make_gguf.py
        stub = types.ModuleType("sentencepiece")
        stub.SentencePieceProcessor = None
        sys.modules["sentencepiece"] = stub
    import gguf  # noqa: E402
    import make_gguf as mg  # noqa: E402

    D, L, H, F, V = a.hidden, a.layers, a.heads, a.ffn, a.vocab
    hd = D // H
    gen = np.random.default_rng(a.seed)
    r = lambda *s: (gen.standard_normal(s, dtype=np.float32) * np.float32(0.02))  # noqa: E731
    base = {"Q4_K_M": "Q4_K"}.get(a.type, a.type)
    w = gguf.GGUFWriter(a.out, "llada")
    w.add_name("ddiff bench llada")
    meta = {
        "llada.context_length": ("uint32", 4096), "llada.embedding_length": ("uint32", D),
        "llada.feed_forward_length": ("uint32", F), "llada.block_count": ("uint32", L),
        "llada.attention.head_count": ("uint32", H), "llada.attention.head_count_kv": ("uint32", H),
        "llada.rope.freq_base": ("float32", 500000.0), "llada.attention.layer_norm_rms_epsilon": ("float32", 1e-5),
        "llada.vocab_size": ("uint32", V), "llada.rope.dimension_count": ("uint32", hd),
        "llada.attention.causal": ("bool", False), "diffusion.shift_logits": ("bool", False),
    }
    meta.update(mg.tokenizer_meta(V, V - 2, V - 1))
    # llama.cpp's "gpt2" vocabulary loader requires tokenizer.ggml.merges: one merge of two tokens
    # into a third (ids 0-2 renamed "a", "b", "ab"; no id or weight changes).
    toks = list(meta["tokenizer.ggml.tokens"][1])
    toks[:3] = ["a", "b", "ab"]
    meta["tokenizer.ggml.tokens"] = ("array", toks)
    meta["tokenizer.ggml.merges"] = ("array", ["a b"])
    for key, (kind, value) in meta.items():
        getattr(w, "add_" + kind)(key, value)
    ft = {"Q4_K_M": "Q4_K"}.get(a.type, a.type)
    w.add_file_type(mg.file_type(gguf, ft))
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)

    def add(name, arr, tname):
        if arr.ndim == 1:
            w.add_tensor(name, arr.astype(np.float32))
        elif tname == "BF16":
            w.add_tensor(name, gguf.quants.quantize(arr, gguf.GGMLQuantizationType.BF16),
                         raw_dtype=gguf.GGMLQuantizationType.BF16)
        else:
            data, raw = mg.encode(gguf, arr, tname)
            w.add_tensor(name, data, raw_dtype=raw)

    add("token_embd.weight", r(V, D), base)
    for i in range(L):
        b = f"blk.{i}."
        more = a.type == "Q4_K_M" and use_more_bits(i, L)
        add(b + "attn_norm.weight", np.ones(D, np.float32), base)
        add(b + "attn_q.weight", mg.permute(r(D, D), H), base)
        add(b + "attn_k.weight", mg.permute(r(D, D), H), base)
        add(b + "attn_v.weight", r(D, D), "Q6_K" if more else base)
        add(b + "attn_output.weight", r(D, D), base)
        add(b + "ffn_norm.weight", np.ones(D, np.float32), base)
        add(b + "ffn_gate.weight", r(F, D), base)
        add(b + "ffn_up.weight", r(F, D), base)
        add(b + "ffn_down.weight", r(D, F), "Q6_K" if more else base)
    add("output_norm.weight", np.ones(D, np.float32), base)
    add("output.weight", r(V, D), "Q6_K" if a.type == "Q4_K_M" else base)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"{a.out}: {os.path.getsize(a.out)} bytes")


if __name__ == "__main__":
    main()
