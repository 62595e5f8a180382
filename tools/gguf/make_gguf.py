#!/usr/bin/python3
# make_gguf.py: writes the GGUF test data of ddiff with llama.cpp's own Python writer (gguf-py),
# and the golden dequantised tensors with gguf-py's own dequantisation (gguf.quants).
#
#   usage: tools/gguf/make_gguf.py LLAMA_CPP_TREE [OUT_DIR (default tests/data/gguf)]
#
# LLAMA_CPP_TREE is a llama.cpp source tree (only its gguf-py/ is used) at the pinned commit
#   c392e5094deaf2d1a7c18683214f007fad3fe42b  (ggerganov/llama.cpp, 2025-02-20)
# e.g. `git archive c392e509 gguf-py | tar -x -C /tmp/llama.cpp`. Nothing of it is committed.
# Needs Debian's python3-numpy (apt-get install python3-numpy).
#
# Written, all from one seeded numpy generator:
#   quants.gguf            one [3, 512] tensor per type F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K,
#                          Q6_K (named after the type; rows: random normal, a row with a wide
#                          dynamic range and exact zeros, a row of tiny values for subnormal
#                          halves), and the tokenizer / metadata keys the reader's tests read
#   quants_golden.safetensors   gguf.quants.dequantize of each tensor's stored bytes (F32)
#   llada_tiny/            a LLaDA checkpoint (config.json + model.safetensors, the safetensors
#                          twin) and llada-<TYPE>.gguf for the 8 types, written as llama.cpp's
#                          converter writes architecture "llada" (convert_hf_to_gguf.py
#                          LLaDAModel: tensor names from gguf-py's tensor_mapping, q/k rows
#                          permuted to ggml's interleaved RoPE order by LLaDAModel.permute,
#                          diffusion.shift_logits = false, tokenizer.ggml.mask_token_id)
#   dream_tiny/            the same for Dream (architecture "dream": Qwen2 names, q/k/v biases,
#                          no permutation, no shift key: llama.cpp's diffusion CLI then shifts)
#   llada_tiny_bpe.gguf    no tensors: the tokenizer of tests/data/models/llada_tiny_bpe
#                          (tokenizer.json, tokenizer_config.json) as convert_hf_to_gguf.py's
#                          _set_vocab_gpt2 writes it (get_vocab_base's tokens and token types,
#                          gguf.SpecialVocab's merges, special ids, add_bos and chat template)
# Tensor types: 1-D tensors (norms, biases) stay F32 as llama.cpp keeps them; every matrix gets
# the file's type. gguf-py at the pinned commit quantises F16, BF16, Q8_0 and Q4_0 itself; for
# Q4_K, Q5_K and Q6_K it only dequantises, so their blocks are written by the transcription
# below of llama.cpp's reference quantisers (ggml/src/ggml-quants.c quantize_row_q4_K_ref,
# quantize_row_q5_K_ref, quantize_row_q6_K_ref with make_qkx2_quants / make_qx_quants at the same
# commit; its float sums are numpy's, so a block may differ in the last bit of a scale from the C
# code, which does not matter: the golden values are gguf-py's dequantisation of the bytes
# written). Model sizes: every matrix has a multiple of 256 inputs (K-quant super-blocks).
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
import safetensors_io  # noqa: E402

LLAMA_CPP_COMMIT = "c392e5094deaf2d1a7c18683214f007fad3fe42b"
SEED = 20261130
QK_K = 256

TYPES = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q5_K", "Q6_K"]


# ---- llama.cpp's reference K-quant quantisers, vectorised over blocks ----------------------

def nearest_int(x):
    # ggml-quants.c nearest_int: float32 round to nearest, ties to even (the 12582912 trick).
    return np.rint(np.asarray(x, dtype=np.float32)).astype(np.int32)


def make_qkx2_quants(x, weights, nmax, rmin, rdelta, nstep):
    """x, weights: (B, n) float32. Returns scale (B,), the_min (B,) (= -min, >= 0), L (B, n)."""
    f32 = np.float32
    x = x.astype(f32)
    mn = np.minimum(x.min(axis=1), f32(0))
    mx = x.max(axis=1)
    sum_w = weights.sum(axis=1, dtype=f32)
    sum_x = (weights * x).sum(axis=1, dtype=f32)
    flat = mx == mn
    rng_ = np.where(flat, f32(1), mx - mn).astype(f32)
    iscale = (f32(nmax) / rng_).astype(f32)
    scale = (f32(1) / iscale).astype(f32)
    L = np.clip(nearest_int(iscale[:, None] * (x - mn[:, None])), 0, nmax)
    diff = scale[:, None] * L.astype(f32) + mn[:, None] - x
    best = (weights * diff * diff).sum(axis=1, dtype=f32)
    for i_s in range(nstep + 1):
        isc = ((f32(rmin) + f32(rdelta) * f32(i_s) + f32(nmax)) / rng_).astype(f32)
        Laux = np.clip(nearest_int(isc[:, None] * (x - mn[:, None])), 0, nmax).astype(f32)
        sum_l = (weights * Laux).sum(axis=1, dtype=f32)
        sum_l2 = (weights * Laux * Laux).sum(axis=1, dtype=f32)
        sum_xl = (weights * Laux * x).sum(axis=1, dtype=f32)
        D = sum_w * sum_l2 - sum_l * sum_l
        ok = D > 0
        Ds = np.where(ok, D, f32(1))
        this_scale = (sum_w * sum_xl - sum_x * sum_l) / Ds
        this_min = (sum_l2 * sum_x - sum_l * sum_xl) / Ds
        pos = this_min > 0
        this_scale = np.where(pos, sum_xl / np.where(sum_l2 > 0, sum_l2, f32(1)), this_scale).astype(f32)
        this_min = np.where(pos, f32(0), this_min).astype(f32)
        diff = this_scale[:, None] * Laux + this_min[:, None] - x
        mad = (weights * diff * diff).sum(axis=1, dtype=f32)
        better = ok & (mad < best) & ~flat
        L = np.where(better[:, None], Laux.astype(np.int32), L)
        best = np.where(better, mad, best)
        scale = np.where(better, this_scale, scale).astype(f32)
        mn = np.where(better, this_min, mn).astype(f32)
    scale = np.where(flat, f32(0), scale)
    L = np.where(flat[:, None], 0, L)
    return scale.astype(f32), (-mn).astype(f32), L


def fp16(x):
    return np.asarray(x, dtype=np.float32).astype(np.float16)


def quantize_qk_affine(rows, nmax, rmin, nstep):
    """Q4_K (nmax 15) / Q5_K (nmax 31) reference quantisation of rows (R, n), n % 256 == 0.
    Returns d, dmin (S,) float16, packed scales (S, 12) uint8, L (S, 256) ints."""
    f32 = np.float32
    x = rows.reshape(-1, QK_K).astype(f32)
    S = x.shape[0]
    xs = x.reshape(S * 8, 32)
    av_x = np.sqrt((xs * xs).sum(axis=1, dtype=f32) / f32(32)).astype(f32)
    w = (av_x[:, None] + np.abs(xs)).astype(f32)
    scales, mins, _ = make_qkx2_quants(xs, w, nmax, rmin, 0.1, nstep)
    scales = scales.reshape(S, 8)
    mins = mins.reshape(S, 8)
    max_scale = np.maximum(scales.max(axis=1), f32(0))
    max_min = np.maximum(mins.max(axis=1), f32(0))
    inv_scale = np.where(max_scale > 0, f32(63) / np.where(max_scale > 0, max_scale, 1), f32(0)).astype(f32)
    inv_min = np.where(max_min > 0, f32(63) / np.where(max_min > 0, max_min, 1), f32(0)).astype(f32)
    ls = np.minimum(63, nearest_int(inv_scale[:, None] * scales)).astype(np.uint8)
    lm = np.minimum(63, nearest_int(inv_min[:, None] * mins)).astype(np.uint8)
    packed = np.zeros((S, 12), dtype=np.uint8)
    packed[:, 0:4] = ls[:, 0:4]
    packed[:, 4:8] = lm[:, 0:4]
    packed[:, 8:12] = (ls[:, 4:8] & 0xF) | ((lm[:, 4:8] & 0xF) << 4)
    packed[:, 0:4] |= (ls[:, 4:8] >> 4) << 6
    packed[:, 4:8] |= (lm[:, 4:8] >> 4) << 6
    d = fp16(max_scale / f32(63))
    dmin = fp16(max_min / f32(63))
    dd = (d.astype(f32)[:, None] * ls.astype(f32)).astype(f32)
    dm = (dmin.astype(f32)[:, None] * lm.astype(f32)).astype(f32)
    L = np.zeros((S, 8, 32), dtype=np.int32)
    nz = dd != 0
    q = nearest_int((x.reshape(S, 8, 32) + dm[:, :, None]) / np.where(nz, dd, 1)[:, :, None])
    L = np.where(nz[:, :, None], np.clip(q, 0, nmax), 0)
    return d, dmin, packed, L.reshape(S, QK_K)


def q4_k_bytes(rows):
    d, dmin, sc, L = quantize_qk_affine(rows, 15, -1.0, 20)
    S = L.shape[0]
    Lc = L.reshape(S, 4, 2, 32).astype(np.uint8)
    qs = (Lc[:, :, 0, :] | (Lc[:, :, 1, :] << 4)).reshape(S, 128)
    out = np.concatenate([d.view(np.uint8).reshape(S, 2), dmin.view(np.uint8).reshape(S, 2), sc, qs], axis=1)
    return out.reshape(rows.shape[0], -1)


def q5_k_bytes(rows):
    d, dmin, sc, L = quantize_qk_affine(rows, 31, -0.5, 15)
    S = L.shape[0]
    Lc = L.reshape(S, 4, 2, 32)
    lo = (Lc & 0xF).astype(np.uint8)
    qs = (lo[:, :, 0, :] | (lo[:, :, 1, :] << 4)).reshape(S, 128)
    qh = np.zeros((S, 32), dtype=np.uint8)
    for c in range(4):
        for h in range(2):
            qh |= ((Lc[:, c, h, :] >> 4) & 1).astype(np.uint8) << np.uint8(2 * c + h)
    out = np.concatenate([d.view(np.uint8).reshape(S, 2), dmin.view(np.uint8).reshape(S, 2), sc, qh, qs], axis=1)
    return out.reshape(rows.shape[0], -1)


def make_qx_quants_rmse1(x, nmax):
    """make_qx_quants(n, nmax, x, L, rmse_type = 1, NULL) for x (B, n). Returns scale (B,), L."""
    f32 = np.float32
    x = x.astype(f32)
    B = x.shape[0]
    idx = np.abs(x).argmax(axis=1)
    mx = x[np.arange(B), idx]
    amax = np.abs(mx)
    zero = amax < f32(1e-15)  # GROUP_MAX_EPS
    mxs = np.where(zero, f32(1), mx).astype(f32)
    w = x * x

    def score(iscale):
        l = np.clip(nearest_int(iscale[:, None] * x), -nmax, nmax - 1).astype(f32)
        sumlx = (w * x * l).sum(axis=1, dtype=f32)
        suml2 = (w * l * l).sum(axis=1, dtype=f32)
        return l, sumlx, suml2

    iscale = (f32(-nmax) / mxs).astype(f32)
    l, sumlx, suml2 = score(iscale)
    L = l.astype(np.int32) + nmax
    scale = np.where(suml2 != 0, sumlx / np.where(suml2 != 0, suml2, 1), f32(0)).astype(f32)
    best = (scale * sumlx).astype(f32)
    for i_s in range(-9, 10):
        if i_s == 0:
            continue
        isc = (-(f32(nmax) + f32(0.1) * f32(i_s)) / mxs).astype(f32)
        l, sumlx, suml2 = score(isc)
        better = (suml2 > 0) & (sumlx * sumlx > best * suml2) & ~zero
        L = np.where(better[:, None], l.astype(np.int32) + nmax, L)
        sc = sumlx / np.where(suml2 > 0, suml2, 1)
        scale = np.where(better, sc, scale).astype(f32)
        best = np.where(better, sc * sumlx, best).astype(f32)
    scale = np.where(zero, f32(0), scale)
    L = np.where(zero[:, None], 0, L)
    return scale, L


def q6_k_bytes(rows):
    f32 = np.float32
    x = rows.reshape(-1, QK_K).astype(f32)
    S = x.shape[0]
    scales, _ = make_qx_quants_rmse1(x.reshape(S * 16, 16), 32)
    scales = scales.reshape(S, 16)
    idx = np.abs(scales).argmax(axis=1)
    max_scale = scales[np.arange(S), idx]
    zero = np.abs(max_scale) < f32(1e-15)
    iscale = (f32(-128) / np.where(zero, f32(1), max_scale)).astype(f32)
    d = fp16(np.where(zero, f32(0), f32(1) / iscale))
    sc = np.minimum(127, nearest_int(iscale[:, None] * scales)).astype(np.int8)
    sc = np.where(zero[:, None], 0, sc).astype(np.int8)
    dd = (d.astype(f32)[:, None] * sc.astype(f32)).astype(f32)
    nz = dd != 0
    L = nearest_int(x.reshape(S, 16, 16) / np.where(nz, dd, 1)[:, :, None])
    L = np.where(nz[:, :, None], np.clip(L, -32, 31) + 32, 0).reshape(S, QK_K).astype(np.uint8)
    # (a zero scale leaves L = 0 in the C code too: it `continue`s before writing L)
    ql = np.zeros((S, 128), dtype=np.uint8)
    qh = np.zeros((S, 64), dtype=np.uint8)
    for h in range(2):
        Lh = L[:, 128 * h:128 * h + 128].reshape(S, 4, 32)
        ql[:, 64 * h:64 * h + 32] = (Lh[:, 0] & 0xF) | ((Lh[:, 2] & 0xF) << 4)
        ql[:, 64 * h + 32:64 * h + 64] = (Lh[:, 1] & 0xF) | ((Lh[:, 3] & 0xF) << 4)
        qh[:, 32 * h:32 * h + 32] = (Lh[:, 0] >> 4) | ((Lh[:, 1] >> 4) << 2) | ((Lh[:, 2] >> 4) << 4) | ((Lh[:, 3] >> 4) << 6)
    out = np.concatenate([ql, qh, sc.view(np.uint8), d.view(np.uint8).reshape(S, 2)], axis=1)
    return out.reshape(rows.shape[0], -1)


# ---- writing -------------------------------------------------------------------------------

def encode(gguf, arr, tname):
    """(data, raw_dtype) for GGUFWriter.add_tensor of float32 array `arr` stored as type tname."""
    Q = gguf.GGMLQuantizationType
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if tname == "F32":
        return arr, None
    if tname == "F16":
        return arr.astype(np.float16), None
    own = {"Q4_K": q4_k_bytes, "Q5_K": q5_k_bytes, "Q6_K": q6_k_bytes}
    qt = getattr(Q, tname)
    if tname in own:
        data = own[tname](arr.reshape(-1, arr.shape[-1])).reshape(*arr.shape[:-1], -1)
        return np.ascontiguousarray(data, dtype=np.uint8), qt
    return gguf.quants.quantize(arr, qt), qt


def file_type(gguf, tname):
    F = gguf.LlamaFileType
    return int({"F32": F.ALL_F32, "F16": F.MOSTLY_F16, "BF16": F.MOSTLY_BF16, "Q8_0": F.MOSTLY_Q8_0,
                "Q4_0": F.MOSTLY_Q4_0, "Q4_K": F.MOSTLY_Q4_K_M, "Q5_K": F.MOSTLY_Q5_K_M,
                "Q6_K": F.MOSTLY_Q6_K}[tname])


def write_quants(gguf, out, gen):
    w = gguf.GGUFWriter(os.path.join(out, "quants.gguf"), "llada")
    golden = {}
    for tname in TYPES:
        rows = np.stack([
            gen.standard_normal(512).astype(np.float32),
            (gen.standard_normal(512) * np.exp(gen.uniform(-6, 6, 512)) * (gen.random(512) > 0.1)).astype(np.float32),
            (gen.standard_normal(512) * 3e-6).astype(np.float32),
        ])
        data, raw = encode(gguf, rows, tname)
        w.add_tensor(tname, data, raw_dtype=raw)
        stored = data.view(np.uint8).reshape(-1) if raw is not None else data
        if raw is None:
            golden[tname] = stored.astype(np.float32)
        else:
            golden[tname] = gguf.quants.dequantize(data, raw).astype(np.float32)
        assert golden[tname].shape == (3, 512), (tname, golden[tname].shape)
    # Metadata the reader's tests read back (types chosen as the converters write them).
    w.add_uint32("llada.context_length", 64)
    w.add_float32("llada.rope.freq_base", 500000.0)
    w.add_bool("llada.attention.causal", False)
    w.add_string("tokenizer.ggml.model", "gpt2")
    w.add_string("tokenizer.ggml.pre", "llada")
    w.add_array("tokenizer.ggml.tokens", ["a", "b", "\u0120c", "<|eot_id|>", "[MASK]"])
    w.add_array("tokenizer.ggml.token_type", [1, 1, 1, 3, 3])
    w.add_array("tokenizer.ggml.merges", ["a b", "\u0120 c"])
    w.add_array("tokenizer.ggml.scores", [0.0, -1.0, -2.5, 0.0, 0.0])
    w.add_uint32("tokenizer.ggml.eos_token_id", 3)
    w.add_uint32("tokenizer.ggml.mask_token_id", 4)
    w.add_bool("tokenizer.ggml.add_bos_token", True)
    w.add_string("tokenizer.chat_template", "{% for m in messages %}{{ m['content'] }}{% endfor %}")
    w.add_int32("test.negative", -7)
    w.add_uint64("test.big", 2**40)
    w.add_float64("test.f64", 0.1)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    safetensors_io.save_file(golden, os.path.join(out, "quants_golden.safetensors"),
                             metadata={"source": "gguf.quants.dequantize of quants.gguf",
                                       "llama_cpp_commit": LLAMA_CPP_COMMIT})


def permute(w, n_head):
    # convert_hf_to_gguf.py LLaDAModel.permute: rotate-half rows -> interleaved pairs per head.
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape))


def write_model(gguf, out_dir, arch, cfg, hf, gguf_tensors, meta):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    safetensors_io.save_file(hf, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    for tname in TYPES:
        w = gguf.GGUFWriter(os.path.join(out_dir, f"{arch}-{tname}.gguf"), arch)
        w.add_name(f"ddiff {arch} tiny test model")
        for key, (kind, value) in meta.items():
            getattr(w, "add_" + kind)(key, value)
        w.add_file_type(file_type(gguf, tname))
        w.add_quantization_version(gguf.GGML_QUANT_VERSION)
        for name, arr in gguf_tensors:
            if arr.ndim == 1:
                w.add_tensor(name, np.ascontiguousarray(arr, dtype=np.float32))
            else:
                data, raw = encode(gguf, arr, tname)
                w.add_tensor(name, data, raw_dtype=raw)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()


def tokenizer_meta(V, mask, eos):
    toks = [f"<t{i}>" for i in range(V)]
    return {
        "tokenizer.ggml.model": ("string", "gpt2"),
        "tokenizer.ggml.tokens": ("array", toks),
        "tokenizer.ggml.token_type": ("array", [1] * (V - 3) + [3, 3, 3]),
        "tokenizer.ggml.eos_token_id": ("uint32", eos),
        "tokenizer.ggml.mask_token_id": ("uint32", mask),
    }


def llada(gguf, out, gen):
    D, H, G, F, V, L = 256, 4, 1, 256, 97, 1
    hd = D // H
    std = 0.25
    r = lambda *s: (gen.standard_normal(s) * std / np.sqrt(s[-1]) * 4).astype(np.float32)  # noqa: E731
    hf = {"model.transformer.wte.weight": r(V, D)}
    g = [("token_embd.weight", hf["model.transformer.wte.weight"])]
    for b in range(L):
        p = f"model.transformer.blocks.{b}."
        blk = {
            "attn_norm.weight": (1 + 0.1 * gen.standard_normal(D)).astype(np.float32),
            "q_proj.weight": r(H * hd, D), "k_proj.weight": r(G * hd, D), "v_proj.weight": r(G * hd, D),
            "attn_out.weight": r(D, H * hd),
            "ff_norm.weight": (1 + 0.1 * gen.standard_normal(D)).astype(np.float32),
            "ff_proj.weight": r(F, D), "up_proj.weight": r(F, D), "ff_out.weight": r(D, F),
        }
        for k, v in blk.items():
            hf[p + k] = v
        q = f"blk.{b}."
        g += [(q + "attn_norm.weight", blk["attn_norm.weight"]),
              (q + "attn_q.weight", permute(blk["q_proj.weight"], H)),
              (q + "attn_k.weight", permute(blk["k_proj.weight"], G)),
              (q + "attn_v.weight", blk["v_proj.weight"]),
              (q + "attn_output.weight", blk["attn_out.weight"]),
              (q + "ffn_norm.weight", blk["ff_norm.weight"]),
              (q + "ffn_gate.weight", blk["ff_proj.weight"]),
              (q + "ffn_up.weight", blk["up_proj.weight"]),
              (q + "ffn_down.weight", blk["ff_out.weight"])]
    hf["model.transformer.ln_f.weight"] = (1 + 0.1 * gen.standard_normal(D)).astype(np.float32)
    hf["model.transformer.ff_out.weight"] = r(V, D)
    g += [("output_norm.weight", hf["model.transformer.ln_f.weight"]),
          ("output.weight", hf["model.transformer.ff_out.weight"])]
    cfg = {"architectures": ["LLaDAModelLM"], "model_type": "llada", "block_type": "llama", "activation_type": "silu",
           "layer_norm_type": "rms", "d_model": D, "n_heads": H, "n_kv_heads": G, "n_layers": L, "mlp_hidden_size": F,
           "mlp_ratio": 1, "vocab_size": V, "embedding_size": V, "max_sequence_length": 64, "rope_theta": 500000.0,
           "rms_norm_eps": 1e-5, "mask_token_id": 94, "eos_token_id": 95, "pad_token_id": 96, "weight_tying": False,
           "include_bias": False, "include_qkv_bias": False, "rope": True, "alibi": False}
    meta = {
        "llada.context_length": ("uint32", 64), "llada.embedding_length": ("uint32", D),
        "llada.feed_forward_length": ("uint32", F), "llada.block_count": ("uint32", L),
        "llada.attention.head_count": ("uint32", H), "llada.attention.head_count_kv": ("uint32", G),
        "llada.rope.freq_base": ("float32", 500000.0), "llada.attention.layer_norm_rms_epsilon": ("float32", 1e-5),
        "llada.vocab_size": ("uint32", V), "llada.rope.dimension_count": ("uint32", hd),
        "llada.attention.causal": ("bool", False), "diffusion.shift_logits": ("bool", False),
        "tokenizer.ggml.add_bos_token": ("bool", True),
        "tokenizer.ggml.bos_token_id": ("uint32", 96),  # LLaDA's GGUFs add a BOS; here the last control token
    }
    meta.update(tokenizer_meta(V, 94, 95))
    write_model(gguf, os.path.join(out, "llada_tiny"), "llada", cfg, hf, g, meta)


def dream(gguf, out, gen):
    D, H, G, F, V, L = 256, 4, 2, 256, 97, 1
    hd = D // H
    r = lambda *s: (gen.standard_normal(s) / np.sqrt(s[-1])).astype(np.float32)  # noqa: E731
    hf = {"model.embed_tokens.weight": r(V, D)}
    g = [("token_embd.weight", hf["model.embed_tokens.weight"])]
    for b in range(L):
        p = f"model.layers.{b}."
        blk = {
            "input_layernorm.weight": (1 + 0.1 * gen.standard_normal(D)).astype(np.float32),
            "self_attn.q_proj.weight": r(H * hd, D), "self_attn.q_proj.bias": (0.1 * gen.standard_normal(H * hd)).astype(np.float32),
            "self_attn.k_proj.weight": r(G * hd, D), "self_attn.k_proj.bias": (0.1 * gen.standard_normal(G * hd)).astype(np.float32),
            "self_attn.v_proj.weight": r(G * hd, D), "self_attn.v_proj.bias": (0.1 * gen.standard_normal(G * hd)).astype(np.float32),
            "self_attn.o_proj.weight": r(D, H * hd),
            "post_attention_layernorm.weight": (1 + 0.1 * gen.standard_normal(D)).astype(np.float32),
            "mlp.gate_proj.weight": r(F, D), "mlp.up_proj.weight": r(F, D), "mlp.down_proj.weight": r(D, F),
        }
        for k, v in blk.items():
            hf[p + k] = v
        q = f"blk.{b}."
        names = {"input_layernorm.weight": "attn_norm.weight", "self_attn.q_proj.weight": "attn_q.weight",
                 "self_attn.q_proj.bias": "attn_q.bias", "self_attn.k_proj.weight": "attn_k.weight",
                 "self_attn.k_proj.bias": "attn_k.bias", "self_attn.v_proj.weight": "attn_v.weight",
                 "self_attn.v_proj.bias": "attn_v.bias", "self_attn.o_proj.weight": "attn_output.weight",
                 "post_attention_layernorm.weight": "ffn_norm.weight", "mlp.gate_proj.weight": "ffn_gate.weight",
                 "mlp.up_proj.weight": "ffn_up.weight", "mlp.down_proj.weight": "ffn_down.weight"}
        g += [(q + names[k], v) for k, v in blk.items()]
    hf["model.norm.weight"] = (1 + 0.1 * gen.standard_normal(D)).astype(np.float32)
    hf["lm_head.weight"] = r(V, D)
    g += [("output_norm.weight", hf["model.norm.weight"]), ("output.weight", hf["lm_head.weight"])]
    cfg = {"architectures": ["DreamModel"], "model_type": "Dream", "hidden_act": "silu", "hidden_size": D,
           "num_attention_heads": H, "num_key_value_heads": G, "num_hidden_layers": L, "intermediate_size": F,
           "vocab_size": V, "max_position_embeddings": 64, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6,
           "mask_token_id": 94, "eos_token_id": 95, "pad_token_id": 95, "bos_token_id": 96,
           "tie_word_embeddings": False, "use_sliding_window": False, "rope_scaling": None}
    meta = {
        "dream.context_length": ("uint32", 64), "dream.embedding_length": ("uint32", D),
        "dream.feed_forward_length": ("uint32", F), "dream.block_count": ("uint32", L),
        "dream.attention.head_count": ("uint32", H), "dream.attention.head_count_kv": ("uint32", G),
        "dream.rope.freq_base": ("float32", 1000000.0), "dream.attention.layer_norm_rms_epsilon": ("float32", 1e-6),
        "dream.attention.causal": ("bool", False),
    }
    meta.update(tokenizer_meta(V, 94, 95))
    write_model(gguf, os.path.join(out, "dream_tiny"), "dream", cfg, hf, g, meta)


def tokenizer_gguf(gguf, out):
    """The tokenizer of tests/data/models/llada_tiny_bpe as convert_hf_to_gguf.py (commit above)
    _set_vocab_gpt2 writes it. get_vocab_base reads the vocabulary through transformers'
    AutoTokenizer (not packaged for Debian 12); for this tokenizer.json that is model.vocab plus
    added_tokens, and its loop is transcribed here: ids without a token are "[PAD<i>]" UNUSED,
    added tokens CONTROL when special (all are, with normalized false: the encode / decode round
    trip leaves them unchanged), the rest NORMAL. tokenizer.ggml.pre: get_vocab_base_pre names a
    pre-tokenizer by the hash of a test encoding, which a tiny vocabulary has no entry for; its
    Split regex is the one llama.cpp uses for "qwen2" (llama-vocab.cpp LLAMA_VOCAB_PRE_TYPE_QWEN2),
    so that name is written. Merges, BOS / EOS / padding ids, add_bos / add_eos and the chat
    template come from gguf-py's own SpecialVocab(load_merges=True), as in the converter."""
    src = os.path.join(HERE, "..", "..", "tests", "data", "models", "llada_tiny_bpe")
    with open(os.path.join(src, "tokenizer.json"), encoding="utf-8") as fh:
        tj = json.load(fh)
    with open(os.path.join(src, "config.json"), encoding="utf-8") as fh:
        vocab_size = json.load(fh)["vocab_size"]
    reverse = {i: t for t, i in tj["model"]["vocab"].items()}
    added = {a["id"]: a for a in tj["added_tokens"]}
    for i, a in added.items():
        reverse[i] = a["content"]
    assert max(reverse) < vocab_size
    tokens, types = [], []
    for i in range(vocab_size):
        if i not in reverse:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif i in added:
            assert added[i]["special"], "a non-special added token: USER_DEFINED, not transcribed"
            tokens.append(reverse[i])
            types.append(gguf.TokenType.CONTROL)
        else:
            tokens.append(reverse[i])
            types.append(gguf.TokenType.NORMAL)
    w = gguf.GGUFWriter(os.path.join(out, "llada_tiny_bpe.gguf"), "llada")
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    gguf.SpecialVocab(src, load_merges=True).add_to_gguf(w)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__ or "usage: make_gguf.py LLAMA_CPP_TREE [OUT_DIR]")
    tree = sys.argv[1]
    sys.path.insert(0, os.path.join(tree, "gguf-py"))
    # gguf/__init__.py imports gguf.vocab, which imports sentencepiece (not packaged for Debian 12's
    # python3 here); nothing below uses the vocab classes, so an empty stand-in module suffices.
    if "sentencepiece" not in sys.modules:
        import types
        stub = types.ModuleType("sentencepiece")
        stub.SentencePieceProcessor = None
        sys.modules["sentencepiece"] = stub
    import gguf  # noqa: E402
    out = sys.argv[2] if len(sys.argv) == 3 else os.path.join(HERE, "..", "..", "tests", "data", "gguf")
    os.makedirs(out, exist_ok=True)
    gen = np.random.default_rng(SEED)
    write_quants(gguf, out, gen)
    llada(gguf, out, gen)
    dream(gguf, out, gen)
    tokenizer_gguf(gguf, out)
    for root, _, files in sorted(os.walk(out)):
        for f in sorted(files):
            p = os.path.join(root, f)
            print(f"{os.path.relpath(p, out):32s} {os.path.getsize(p):9d} bytes")


if __name__ == "__main__":
    main()
