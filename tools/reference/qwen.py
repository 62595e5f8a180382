#!/usr/bin/python3
# qwen.py: PyTorch reference of the Qwen2 / Qwen3-architecture diffusion language models in their
# Hugging Face layouts, written from the upstream modelling code (facts taken, code our own):
#
#   model_type "a2d-qwen3"       dllm-hub Qwen3-0.6B-diffusion-mdlm / -bd3lm (ZHZisZZ/dllm,
#                                dllm/pipelines/a2d/models/qwen3/modeling_qwen3.py): transformers'
#                                Qwen3 with the causal mask replaced by a padding mask (MDLM) or by
#                                the 4-D block mask its BD3LM sampler passes; no block key in config.
#   model_type "sdar"            JetAstra/SDAR (JetLM/SDAR-*-Chat modeling_sdar.py): Qwen3 layers,
#                                config key block_size; generate.py passes the block-causal mask.
#   model_type "Fast_dLLM_Qwen"  Fast-dLLM v2 (Efficient-Large-Model/Fast_dLLM_v2_*B modeling.py):
#                                Qwen2.5 layers (q/k/v biases, no QK-norm), config key bd_size; the
#                                model builds eval_block_diff_mask: key block <= query block.
#
# Layer (pre-norm), x: [B, T, d]:
#   n = RMSNorm_in(x);  q = q_proj(n), k = k_proj(n), v = v_proj(n)   (views [B, T, heads, hd])
#   Qwen3 / SDAR: q = q_norm(q), k = k_norm(k)   (RMSNorm over hd, one weight per layer) BEFORE RoPE
#   q, k = RoPE(q), RoPE(k) at the position ids;  a = softmax(q k^T hd^-1/2 + mask) v  (GQA:
#   query head h reads kv head h // (H / Hkv));  x = x + o_proj(a);  x = x + down(silu(gate(m)) * up(m)),
#   m = RMSNorm_post(x).  logits = lm_head(RMSNorm_final(x)); lm_head = embed_tokens when
#   tie_word_embeddings (the checkpoint then has no lm_head.weight).
#   RMSNorm(x) = w * (x * rsqrt(mean(x^2) + eps)) computed in float32 and cast back before the
#   weight multiply (Qwen3RMSNorm); head_dim = config head_dim (Qwen3) or hidden / heads (Qwen2).
#   RoPE: inv_freq = 1 / theta^(arange(0, hd, 2) / hd), cos/sin of cat(pos * inv_freq, same),
#   rotate-half; tables in float32 cast to the activation dtype (float64 here for goldens).
#   Biases: Qwen2 (Fast-dLLM v2): q/k/v yes, o no.  Qwen3 / SDAR: all four iff attention_bias.
#   Masks (bool, True = attend): block_causal_mask(T, L) = floor(j/L) <= floor(i/L), blocks counted
#   from row 0 (SDAR: tril(ones(nb, nb)).repeat_interleave(L, 0).repeat_interleave(L, 1); Fast-dLLM
#   v2 eval_block_diff_mask with q index = arange + cache length; dllm bid_k <= bid_q & valid).
#   Logit shift: Fast-dLLM v2 reads the prediction for block row i at row i - 1 (its generate:
#   cat(logits[:, :1], logits[:, :-1])); SDAR and dllm (right_shift_logits False) do not shift.
#   The network output here is always UNSHIFTED.
#
# KV cache (past): a list per layer of (K, V) [B, Hkv, Tp, hd] after QK-norm and RoPE, as
# HF's DynamicCache holds them; forward(..., past=...) attends to past keys followed by the new
# rows' keys (mask columns: past then new).
#
# Library module.  `/usr/bin/python3 tools/reference/qwen.py` runs a self test.
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

# Qwen/Qwen3-0.6B config.json values with dllm's a2d conversion (model_type "a2d-qwen3"; auto_map
# and architectures removed by dllm/pipelines/a2d/convert.py).
A2D_QWEN3_06B_CONFIG = {
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "head_dim": 128,
    "hidden_act": "silu",
    "hidden_size": 1024,
    "initializer_range": 0.02,
    "intermediate_size": 3072,
    "max_position_embeddings": 40960,
    "max_window_layers": 28,
    "model_type": "a2d-qwen3",
    "num_attention_heads": 16,
    "num_hidden_layers": 28,
    "num_key_value_heads": 8,
    "rms_norm_eps": 1e-06,
    "rope_scaling": None,
    "rope_theta": 1000000,
    "sliding_window": None,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "use_sliding_window": False,
    "vocab_size": 151936,
}

# SDARConfig fields (configuration_sdar.py) with the SDAR-1.7B dimensions (Qwen3-1.7B) and the
# key block_size its training code reads (config.block_size).
SDAR_17B_CONFIG = {
    "architectures": ["SDARForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "auto_map": {"AutoConfig": "configuration_sdar.SDARConfig",
                 "AutoModelForCausalLM": "modeling_sdar.SDARForCausalLM"},
    "block_size": 4,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "fuse_cross_entropy": True,
    "head_dim": 128,
    "hidden_act": "silu",
    "hidden_size": 2048,
    "initializer_range": 0.02,
    "intermediate_size": 6144,
    "max_position_embeddings": 32768,
    "max_window_layers": 28,
    "model_type": "sdar",
    "num_attention_heads": 16,
    "num_hidden_layers": 28,
    "num_key_value_heads": 8,
    "rms_norm_eps": 1e-06,
    "rope_scaling": None,
    "rope_theta": 1000000,
    "sliding_window": None,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "use_sliding_window": False,
    "vocab_size": 151936,
}

# Fast_dLLM_QwenConfig (a Qwen2Config plus bd_size) with the Fast_dLLM_v2_1.5B dimensions
# (Qwen2.5-1.5B-Instruct).
FAST_DLLM_V2_15B_CONFIG = {
    "architectures": ["Fast_dLLM_QwenForCausalLM"],
    "attention_dropout": 0.0,
    "auto_map": {"AutoConfig": "configuration.Fast_dLLM_QwenConfig",
                 "AutoModelForCausalLM": "modeling.Fast_dLLM_QwenForCausalLM"},
    "bd_size": 32,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "hidden_act": "silu",
    "hidden_size": 1536,
    "initializer_range": 0.02,
    "intermediate_size": 8960,
    "max_position_embeddings": 32768,
    "max_window_layers": 21,
    "model_type": "Fast_dLLM_Qwen",
    "num_attention_heads": 12,
    "num_hidden_layers": 28,
    "num_key_value_heads": 2,
    "rms_norm_eps": 1e-06,
    "rope_scaling": None,
    "rope_theta": 1000000.0,
    "sliding_window": 32768,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "use_sliding_window": False,
    "vocab_size": 151936,
}

BASE_CONFIGS = {"a2d-qwen3": A2D_QWEN3_06B_CONFIG, "sdar": SDAR_17B_CONFIG,
                "Fast_dLLM_Qwen": FAST_DLLM_V2_15B_CONFIG}


def make_config(model_type, **overrides):
    """The real key set of the model type with the given values replaced; keys not in the real
    set are added only when listed in `extra` (e.g. mask_token_id, which ddiff reads)."""
    cfg = json.loads(json.dumps(BASE_CONFIGS[model_type]))
    extra = overrides.pop("extra", {})
    for k, v in overrides.items():
        if k not in cfg:
            raise KeyError(f"not a {model_type} config key: {k}")
        cfg[k] = v
    cfg.update(extra)
    return cfg


def is_qwen3(cfg):
    return cfg["model_type"] in ("a2d-qwen3", "sdar")


def head_dim_of(cfg):
    if is_qwen3(cfg):
        return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    return cfg["hidden_size"] // cfg["num_attention_heads"]


def block_size_of(cfg):
    """The block length the checkpoint was trained with, from its config (None for a2d-qwen3,
    whose block size is a sampler setting)."""
    return {"sdar": cfg.get("block_size"), "Fast_dLLM_Qwen": cfg.get("bd_size")}.get(cfg["model_type"])


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        og = x.dtype
        work = torch.float64 if og == torch.float64 else torch.float32
        xf = x.to(work)
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * xf.to(og)


def rope_tables(positions, head_dim, theta, dtype):
    """cos/sin [..., T, hd] for integer positions (any leading shape)."""
    work = torch.float64 if dtype == torch.float64 else torch.float32
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).to(work) / head_dim))
    ang = positions.to(work)[..., None] * inv_freq
    ang = torch.cat((ang, ang), dim=-1)
    return ang.cos().to(dtype), ang.sin().to(dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def block_causal_mask(Tq, Tk, L, q_offset=0, key_valid=None):
    """bool [Tq, Tk]: query row q_offset + i may attend to key j iff j // L <= (q_offset + i) // L
    (L = 0: every key) and key_valid[j]."""
    qi = torch.arange(Tq)[:, None] + q_offset
    kj = torch.arange(Tk)[None, :]
    m = torch.ones(Tq, Tk, dtype=torch.bool) if not L else (kj // L) <= (qi // L)
    if key_valid is not None:
        m = m & key_valid.bool()[None, :]
    return m


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["hidden_size"]
        self.nh, self.nkv, self.hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], head_dim_of(cfg)
        self.theta = float(cfg["rope_theta"])
        qwen3 = is_qwen3(cfg)
        qkv_bias = bool(cfg.get("attention_bias", False)) if qwen3 else True
        o_bias = bool(cfg.get("attention_bias", False)) if qwen3 else False
        self.q_proj = nn.Linear(d, self.nh * self.hd, bias=qkv_bias)
        self.k_proj = nn.Linear(d, self.nkv * self.hd, bias=qkv_bias)
        self.v_proj = nn.Linear(d, self.nkv * self.hd, bias=qkv_bias)
        self.o_proj = nn.Linear(self.nh * self.hd, d, bias=o_bias)
        if qwen3:
            self.q_norm = RMSNorm(self.hd, cfg["rms_norm_eps"])
            self.k_norm = RMSNorm(self.hd, cfg["rms_norm_eps"])
        else:
            self.q_norm = self.k_norm = None

    def forward(self, x, cos, sin, mask, past=None, kv_fn=None):
        """x [B, T, d]; cos/sin [T, hd]; mask bool [T, Tk] or None (all keys);
        past (K, V) [B, Hkv, Tp, hd] or None; kv_fn(k_new, v_new) -> (K, V) to attend instead of
        past + new (Fast-dLLM v2's sub-block cache places the new rows inside the block's cached
        ones).  Returns (out [B, T, d], the attended (K, V))."""
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.nh, self.hd)
        k = self.k_proj(x).view(B, T, self.nkv, self.hd)
        v = self.v_proj(x).view(B, T, self.nkv, self.hd)
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if kv_fn is not None:
            k, v = kv_fn(k, v)
        elif past is not None:
            k = torch.cat((past[0], k), dim=2)
            v = torch.cat((past[1], v), dim=2)
        kv = (k, v)
        rep = self.nh // self.nkv
        if rep > 1:
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        s = torch.matmul(q, k.transpose(-1, -2)) * (self.hd ** -0.5)
        if mask is not None:
            s = s.masked_fill(~mask[None, None], float("-inf"))
        work = torch.float64 if s.dtype == torch.float64 else torch.float32
        p = torch.softmax(s.to(work), dim=-1).to(q.dtype)
        p = torch.nan_to_num(p, nan=0.0)   # a query with no visible key (padding rows): output 0 (SDPA >= 2.5)
        o = torch.matmul(p, v).transpose(1, 2).reshape(B, T, self.nh * self.hd)
        return self.o_proj(o), kv


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, f = cfg["hidden_size"], cfg["intermediate_size"]
        self.gate_proj = nn.Linear(d, f, bias=False)
        self.up_proj = nn.Linear(d, f, bias=False)
        self.down_proj = nn.Linear(f, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, eps = cfg["hidden_size"], cfg["rms_norm_eps"]
        self.input_layernorm = RMSNorm(d, eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(d, eps)
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin, mask, past=None, kv_fn=None):
        a, kv = self.self_attn(self.input_layernorm(x), cos, sin, mask, past, kv_fn)
        x = x + a
        return x + self.mlp(self.post_attention_layernorm(x)), kv


class Inner(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.layers = nn.ModuleList([DecoderLayer(cfg) for _ in range(cfg["num_hidden_layers"])])
        self.norm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])


class QwenDiffusionLM(nn.Module):
    """State-dict names as the HF checkpoints: model.*, lm_head.weight (absent when tied)."""

    def __init__(self, cfg):
        super().__init__()
        assert cfg.get("hidden_act", "silu") == "silu"
        assert not cfg.get("use_sliding_window", False)
        assert cfg.get("rope_scaling") is None
        self.config = cfg
        self.model = Inner(cfg)
        self.tied = bool(cfg.get("tie_word_embeddings", False))
        if not self.tied:
            self.lm_head = nn.Linear(cfg["hidden_size"], cfg["vocab_size"], bias=False)

    def head_weight(self):
        return self.model.embed_tokens.weight if self.tied else self.lm_head.weight

    def forward(self, input_ids, positions=None, mask=None, past=None, kv_fns=None):
        """input_ids [B, T] (the new rows); positions [T] (default past length + arange(T));
        mask bool [T, Tp + T] or None; past: list per layer of (K, V) or None; kv_fns: a list per
        layer of kv_fn (Attention.forward) instead of past.
        Returns (logits [B, T, V] unshifted, list per layer of (K, V) for past + these rows)."""
        B, T = input_ids.shape
        Tp = 0 if past is None else past[0][0].shape[2]
        if positions is None:
            positions = torch.arange(Tp, Tp + T)
        x = self.model.embed_tokens(input_ids)
        att0 = self.model.layers[0].self_attn
        cos, sin = rope_tables(positions, att0.hd, att0.theta, x.dtype)
        kvs = []
        for li, layer in enumerate(self.model.layers):
            x, kv = layer(x, cos, sin, mask, None if past is None else past[li],
                          None if kv_fns is None else kv_fns[li])
            kvs.append(kv)
        return F.linear(self.model.norm(x), self.head_weight()), kvs


def fill_random(model, gen, std=0.25):
    """Deterministic random weights: matrices N(0, 1.5 / sqrt(fan_in)), embeddings N(0, std),
    biases N(0, 0.1), norm weights 1 + N(0, 0.1)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                if "norm" in name:
                    p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
                else:
                    p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            else:
                s = std if "embed" in name else 1.5 / math.sqrt(p.shape[1])
                p.copy_(s * torch.randn(p.shape, generator=gen))


def save_pretrained(model, out_dir, dtype="F32", tokenizer_config=None):
    """config.json + model.safetensors (+ tokenizer_config.json if given)."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(model.config, f, indent=2, sort_keys=True)
        f.write("\n")
    if tokenizer_config is not None:
        with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
            json.dump(tokenizer_config, f, indent=2, sort_keys=True)
            f.write("\n")
    sd = {k: v.detach().to(torch.float32) for k, v in model.state_dict().items()}
    safetensors_io.save_file(sd, os.path.join(out_dir, "model.safetensors"), {"format": "pt"},
                             {k: dtype for k in sd})


def load_pretrained(model_dir, dtype=torch.float32):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    m = QwenDiffusionLM(cfg)
    sd, _ = safetensors_io.load_file(os.path.join(model_dir, "model.safetensors"))
    m.load_state_dict({k: v.to(dtype) for k, v in sd.items()}, strict=True)
    return m.to(dtype).eval()


def _self_test():
    import tempfile
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    for mt in ("a2d-qwen3", "sdar", "Fast_dLLM_Qwen"):
        over = dict(hidden_size=32, intermediate_size=40, num_attention_heads=4, num_key_value_heads=2,
                    num_hidden_layers=2, vocab_size=23, max_position_embeddings=64)
        if is_qwen3(make_config(mt)):
            over["head_dim"] = 12
        cfg = make_config(mt, **over)
        m = QwenDiffusionLM(cfg).double()
        fill_random(m, g)
        ids = torch.randint(0, 23, (1, 12), generator=g)
        # the cached block-by-block forward equals the uncached block-causal one
        full, _ = m(ids, mask=block_causal_mask(12, 12, 4))
        _, past = m(ids[:, :8], mask=block_causal_mask(8, 8, 4))
        last, _ = m(ids[:, 8:], mask=block_causal_mask(4, 12, 4, q_offset=8), past=past)
        assert torch.allclose(last, full[:, 8:], atol=1e-12), mt
        # bidirectional differs from block-causal
        bid, _ = m(ids)
        assert not torch.allclose(bid, full)
        d = tempfile.mkdtemp()
        save_pretrained(m, d)
        back = load_pretrained(d, torch.float64)
        assert torch.allclose(back(ids)[0], bid, atol=1e-5)
    print("qwen self test OK")


if __name__ == "__main__":
    torch.set_num_threads(1)
    _self_test()
