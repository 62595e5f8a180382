#!/usr/bin/python3
# dream.py: PyTorch reference implementation of the Dream diffusion LM (Dream-org/Dream-v0-Base-7B,
# model_type "Dream", modeling_dream.py), a Qwen2-architecture transformer run without a causal
# mask, with Hugging Face-layout load/save (config.json + model.safetensors).
#
# Forward (x: [B, T, hidden]):
#   h   = x + o_proj( Attn( RoPE(q_proj(n)+b_q), RoPE(k_proj(n)+b_k), v_proj(n)+b_v ) ),
#         n = input_layernorm(x)
#   out = h + down_proj( silu(gate_proj(m)) * up_proj(m) ),  m = post_attention_layernorm(h)
#   logits = lm_head( norm(x_L) )                      (untied, tie_word_embeddings false)
#   RMSNorm(x) = w * (x * rsqrt(mean(x^2) + eps)) in float32, cast back before the weight
#     multiply; eps = rms_norm_eps (1e-6).
#   RoPE: head_dim = hidden / heads, inv_freq[j] = 1 / theta^(2j/head_dim) (float32),
#     angle = pos * inv_freq, tables cos/sin(cat(angle, angle)) cast to the activation dtype,
#     rotate-half layout (as LLaDA).  Positions default to 0..T-1 (Dream's generate() passes
#     position ids = cumsum(attention_mask) - 1 for left padding).
#   Attention: softmax(q k^T / sqrt(head_dim) + mask) v, bidirectional (is_causal False);
#     GQA: query head h reads key/value head h // (heads / kv_heads) (repeat_kv).
#   Only q/k/v have biases; o_proj, MLP and lm_head have none.
# The model returns UNSHIFTED logits: logits[:, i] comes from hidden state i.  Dream was
# initialised from an autoregressive Qwen2.5, and its generation code shifts by one position:
#   logits_used = cat(logits[:, :1], logits[:, :-1], dim=1)
# i.e. the prediction for position i is read at position i-1 (position 0 keeps its own).
# The shift belongs to generation / likelihood code, not to the network; see shift_logits().
#
# Library module.  `/usr/bin/python3 tools/reference/dream.py` runs a self test.
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

# config.json key set of Dream-org/Dream-v0-Base-7B (DreamConfig fields + the Qwen2.5-7B values;
# reconstructed from configuration_dream.py and published dimensions -- keys such as
# bos_token_id / transformers_version are as in the Qwen2.5 base config).
DREAM_7B_CONFIG = {
    "architectures": ["DreamModel"],
    "attention_dropout": 0.0,
    "auto_map": {
        "AutoConfig": "configuration_dream.DreamConfig",
        "AutoModel": "modeling_dream.DreamModel",
    },
    "bos_token_id": 151643,
    "eos_token_id": 151643,
    "hidden_act": "silu",
    "hidden_size": 3584,
    "initializer_range": 0.02,
    "intermediate_size": 18944,
    "mask_token_id": 151666,
    "max_position_embeddings": 131072,
    "max_window_layers": 28,
    "model_type": "Dream",
    "num_attention_heads": 28,
    "num_hidden_layers": 28,
    "num_key_value_heads": 4,
    "pad_token_id": 151643,
    "rms_norm_eps": 1e-06,
    "rope_scaling": None,
    "rope_theta": 1000000.0,
    "sliding_window": None,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.46.2",
    "use_cache": False,
    "use_sliding_window": False,
    "vocab_size": 152064,
}


def make_config(**overrides):
    cfg = json.loads(json.dumps(DREAM_7B_CONFIG))
    for k, v in overrides.items():
        if k not in cfg:
            raise KeyError(f"not a Dream config key: {k}")
        cfg[k] = v
    return cfg


class DreamRMSNorm(nn.Module):
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
    work = torch.float64 if dtype == torch.float64 else torch.float32
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).to(work) / head_dim))
    ang = positions.to(work)[..., :, None] * inv_freq
    ang = torch.cat((ang, ang), dim=-1)
    return ang.cos().to(dtype), ang.sin().to(dtype)   # cast to the activation dtype (Qwen2)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class DreamAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["hidden_size"]
        self.nh = cfg["num_attention_heads"]
        self.nkv = cfg["num_key_value_heads"]
        self.hd = d // self.nh
        self.q_proj = nn.Linear(d, self.nh * self.hd, bias=True)
        self.k_proj = nn.Linear(d, self.nkv * self.hd, bias=True)
        self.v_proj = nn.Linear(d, self.nkv * self.hd, bias=True)
        self.o_proj = nn.Linear(self.nh * self.hd, d, bias=False)

    def forward(self, x, cos, sin, key_mask=None):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)      # [B or 1, 1, T, hd]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.nh // self.nkv
        if rep > 1:
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.hd)
        if key_mask is not None:
            s = s.masked_fill(~key_mask.bool()[:, None, None, :], float("-inf"))
        p = torch.softmax(s.to(torch.float64 if s.dtype == torch.float64 else torch.float32),
                          dim=-1).to(q.dtype)
        o = torch.matmul(p, v).transpose(1, 2).reshape(B, T, self.nh * self.hd)
        return self.o_proj(o)


class DreamMLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, f = cfg["hidden_size"], cfg["intermediate_size"]
        self.gate_proj = nn.Linear(d, f, bias=False)
        self.up_proj = nn.Linear(d, f, bias=False)
        self.down_proj = nn.Linear(f, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DreamDecoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, eps = cfg["hidden_size"], cfg["rms_norm_eps"]
        self.self_attn = DreamAttention(cfg)
        self.mlp = DreamMLP(cfg)
        self.input_layernorm = DreamRMSNorm(d, eps)
        self.post_attention_layernorm = DreamRMSNorm(d, eps)

    def forward(self, x, cos, sin, key_mask=None):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, key_mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class DreamBaseModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.layers = nn.ModuleList([DreamDecoderLayer(cfg) for _ in range(cfg["num_hidden_layers"])])
        self.norm = DreamRMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])


class DreamModel(nn.Module):
    """State-dict names: model.embed_tokens.weight, model.layers.{i}..., model.norm.weight,
    lm_head.weight."""

    def __init__(self, cfg):
        super().__init__()
        assert not cfg.get("tie_word_embeddings", False)
        assert cfg.get("hidden_act", "silu") == "silu" and cfg.get("rope_scaling") is None
        self.config = cfg
        self.model = DreamBaseModel(cfg)
        self.lm_head = nn.Linear(cfg["hidden_size"], cfg["vocab_size"], bias=False)

    def forward(self, input_ids, attention_mask=None, position_ids=None):
        """Unshifted logits [B, T, vocab].  attention_mask [B, T] (1 = real) masks padded keys."""
        B, T = input_ids.shape
        x = self.model.embed_tokens(input_ids)
        if position_ids is None:
            position_ids = torch.arange(T)[None]
        hd = self.config["hidden_size"] // self.config["num_attention_heads"]
        cos, sin = rope_tables(position_ids, hd, float(self.config["rope_theta"]), x.dtype)
        km = attention_mask if (attention_mask is not None and bool((attention_mask == 0).any())) else None
        for layer in self.model.layers:
            x = layer(x, cos, sin, km)
        return self.lm_head(self.model.norm(x))


def shift_logits(logits):
    """Dream's generation-time shift: position i uses the logits computed at i-1."""
    return torch.cat([logits[:, :1], logits[:, :-1]], dim=1)


def save_pretrained(model, out_dir, dtype="F32"):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(model.config, f, indent=2, sort_keys=True)
        f.write("\n")
    sd = {k: v.detach().float() for k, v in model.state_dict().items()}
    safetensors_io.save_file(sd, os.path.join(out_dir, "model.safetensors"), {"format": "pt"},
                             {k: dtype for k in sd})


def load_pretrained(model_dir, dtype=torch.float32):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    m = DreamModel(cfg)
    sd, _ = safetensors_io.load_file(os.path.join(model_dir, "model.safetensors"))
    m.load_state_dict({k: v.to(dtype) for k, v in sd.items()}, strict=True)
    return m.to(dtype).eval()


def _self_test():
    import tempfile
    torch.manual_seed(0)
    cfg = make_config(hidden_size=32, intermediate_size=48, num_attention_heads=4,
                      num_key_value_heads=2, num_hidden_layers=2, vocab_size=30,
                      max_position_embeddings=64, mask_token_id=29, pad_token_id=28,
                      bos_token_id=27, eos_token_id=28, max_window_layers=2)
    m = DreamModel(cfg)
    names = [k for k, _ in m.named_parameters()]
    assert names[0] == "model.embed_tokens.weight" and names[-1] == "lm_head.weight"
    assert "model.layers.1.self_attn.k_proj.bias" in names and "model.norm.weight" in names
    ids = torch.randint(0, 30, (2, 7))
    y = m(ids)
    d = tempfile.mkdtemp()
    save_pretrained(m, d)
    assert torch.equal(load_pretrained(d)(ids), y)
    m64 = DreamModel(cfg).double()
    m64.load_state_dict(m.state_dict())
    assert torch.allclose(m64(ids).float(), y, atol=1e-5)
    assert torch.equal(shift_logits(y)[:, 1:], y[:, :-1])
    print("dream self test OK")


if __name__ == "__main__":
    torch.set_num_threads(1)
    _self_test()
