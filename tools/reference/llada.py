#!/usr/bin/python3
# llada.py: PyTorch reference implementation of the LLaDA mask predictor
# (GSAI-ML/LLaDA-8B-Base, modeling_llada.py, block_type "llama"), written from the
# official modeling file's formulas, with Hugging Face-layout load/save
# (config.json + model.safetensors, or model.safetensors.index.json + shards).
#
# Forward (per block, x: [B, T, d]):
#   h   = x + attn_out( Attn( RoPE(q_proj(n)), RoPE(k_proj(n)), v_proj(n) ) ),  n = RMSNorm_attn(x)
#   out = h + ff_out( silu(ff_proj(m)) * up_proj(m) ),                            m = RMSNorm_ff(h)
# logits = ff_out_head( RMSNorm_f(x_L) ), no causal mask, no biases, untied head.
#   RMSNorm(x) = w * ( x * rsqrt(mean(x^2) + eps) ), eps = rms_norm_eps INSIDE the sqrt; the
#     normalisation runs in float32 (the official code upcasts), the result is cast back to the
#     input dtype and only then multiplied by the weight.
#   RoPE: head_dim = d_model / n_heads, inv_freq[j] = 1 / theta^(2j/head_dim), j < head_dim/2,
#     angle[p, j] = p * inv_freq[j], tables cos/sin of cat(angle, angle) ("rotate half" layout):
#     rot(x) = x * cos + cat(-x[hd/2:], x[:hd/2]) * sin.  Positions are 0..T-1.
#   Attention: softmax(q k^T / sqrt(head_dim)) v per head; GQA query head h reads kv head
#     h // (n_heads / n_kv_heads) (repeat_interleave).  Optional key-padding mask: keys with
#     mask 0 are excluded (the official file ignored attention_mask until its 2025-10-21 update,
#     which adds (1 - mask) * finfo(float32).min to the scores; both are identical when no mask
#     is given).
#
# Library module.  `/usr/bin/python3 tools/reference/llada.py` runs a self test
# (save/load round trip, GQA path, padding mask); it writes nothing under the repository.
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

# The complete key set of GSAI-ML/LLaDA-8B-Base config.json (values of the 8B model).
LLADA_8B_CONFIG = {
    "activation_type": "silu",
    "alibi": False,
    "alibi_bias_max": 8.0,
    "architectures": ["LLaDAModelLM"],
    "attention_dropout": 0.0,
    "attention_layer_norm": False,
    "attention_layer_norm_with_affine": True,
    "auto_map": {
        "AutoConfig": "configuration_llada.LLaDAConfig",
        "AutoModelForCausalLM": "modeling_llada.LLaDAModelLM",
        "AutoModel": "modeling_llada.LLaDAModelLM",
    },
    "bias_for_layer_norm": False,
    "block_group_size": 1,
    "block_type": "llama",
    "d_model": 4096,
    "embedding_dropout": 0.0,
    "embedding_size": 126464,
    "eos_token_id": 126081,
    "flash_attention": False,
    "include_bias": False,
    "include_qkv_bias": False,
    "init_cutoff_factor": None,
    "init_device": "meta",
    "init_fn": "mitchell",
    "init_std": 0.02,
    "input_emb_norm": False,
    "layer_norm_type": "rms",
    "layer_norm_with_affine": True,
    "mask_token_id": 126336,
    "max_sequence_length": 4096,
    "mlp_hidden_size": 12288,
    "mlp_ratio": 4,
    "model_type": "llada",
    "multi_query_attention": None,
    "n_heads": 32,
    "n_kv_heads": 32,
    "n_layers": 32,
    "pad_token_id": 126081,
    "precision": "amp_bf16",
    "residual_dropout": 0.0,
    "rms_norm_eps": 1e-05,
    "rope": True,
    "rope_full_precision": True,
    "rope_theta": 500000.0,
    "scale_logits": False,
    "transformers_version": "4.46.3",
    "use_cache": False,
    "vocab_size": 126464,
    "weight_tying": False,
}


def make_config(**overrides):
    """The real 8B key set with the given values replaced (unknown keys are rejected)."""
    cfg = json.loads(json.dumps(LLADA_8B_CONFIG))
    for k, v in overrides.items():
        if k not in cfg:
            raise KeyError(f"not a LLaDA config key: {k}")
        cfg[k] = v
    return cfg


def _check_supported(cfg):
    assert cfg.get("block_type", "llama") == "llama", "only block_type llama is implemented"
    assert cfg.get("layer_norm_type", "rms") == "rms"
    assert cfg.get("activation_type", "silu") == "silu"
    assert cfg.get("rope", True) and not cfg.get("alibi", False)
    assert not cfg.get("include_bias", False) and not cfg.get("include_qkv_bias", False)
    assert not cfg.get("weight_tying", False)
    assert not cfg.get("attention_layer_norm", False)
    assert not cfg.get("input_emb_norm", False) and not cfg.get("scale_logits", False)
    assert cfg.get("block_group_size", 1) == 1


def n_kv_heads_of(cfg):
    # effective_n_kv_heads in configuration_llada.py
    if cfg.get("n_kv_heads") is None:
        return 1 if cfg.get("multi_query_attention") else cfg["n_heads"]
    return cfg["n_kv_heads"]


def mlp_hidden_of(cfg):
    h = cfg.get("mlp_hidden_size")
    return h if h is not None else cfg["mlp_ratio"] * cfg["d_model"]


class RMSLayerNorm(nn.Module):
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
    """cos/sin tables [T, head_dim] in the rotate-half layout.  For float32 and below the
    tables are computed in float32 exactly as the official code does; float64 uses float64."""
    work = torch.float64 if dtype == torch.float64 else torch.float32
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=work) / head_dim))
    ang = positions.to(work)[:, None] * inv_freq[None, :]
    ang = torch.cat((ang, ang), dim=-1)
    return ang.cos(), ang.sin()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def apply_rope(x, cos, sin):
    # x: [B, H, T, hd]; the official code applies RoPE in float32 (rope_full_precision).
    og = x.dtype
    work = torch.float64 if og == torch.float64 else torch.float32
    xf = x.to(work)
    return (xf * cos.to(work) + rotate_half(xf) * sin.to(work)).to(og)


class LLaDALlamaBlock(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["d_model"]
        self.n_heads = cfg["n_heads"]
        self.n_kv = n_kv_heads_of(cfg)
        self.head_dim = d // self.n_heads
        self.theta = float(cfg["rope_theta"])
        hid = mlp_hidden_of(cfg)
        eps = cfg["rms_norm_eps"]
        self.attn_norm = RMSLayerNorm(d, eps)
        self.ff_norm = RMSLayerNorm(d, eps)
        self.q_proj = nn.Linear(d, d, bias=False)
        self.k_proj = nn.Linear(d, self.n_kv * self.head_dim, bias=False)
        self.v_proj = nn.Linear(d, self.n_kv * self.head_dim, bias=False)
        self.attn_out = nn.Linear(d, d, bias=False)
        self.ff_proj = nn.Linear(d, hid, bias=False)   # gate (activation applied)
        self.up_proj = nn.Linear(d, hid, bias=False)
        self.ff_out = nn.Linear(hid, d, bias=False)    # down

    def attention(self, x, cos, sin, key_mask=None, attn_mask=None):
        B, T, C = x.shape
        q = self.q_proj(x).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.n_kv, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.n_kv, self.head_dim).transpose(1, 2)
        q = apply_rope(q, cos, sin)
        k = apply_rope(k, cos, sin)
        if self.n_kv != self.n_heads:
            rep = self.n_heads // self.n_kv
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        if key_mask is not None:
            s = s.masked_fill(~key_mask.bool()[:, None, None, :], float("-inf"))
        if attn_mask is not None:   # bool [T, T], True = attend (block diffusion)
            s = s.masked_fill(~attn_mask[None, None], float("-inf"))
        p = torch.softmax(s, dim=-1)
        o = torch.matmul(p, v).transpose(1, 2).reshape(B, T, C)
        return self.attn_out(o)

    def forward(self, x, cos, sin, key_mask=None, attn_mask=None):
        x = x + self.attention(self.attn_norm(x), cos, sin, key_mask, attn_mask)
        m = self.ff_norm(x)
        return x + self.ff_out(F.silu(self.ff_proj(m)) * self.up_proj(m))


class LLaDAModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        _check_supported(cfg)
        self.cfg = cfg
        V = cfg.get("embedding_size") or cfg["vocab_size"]
        d = cfg["d_model"]
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(V, d),
            blocks=nn.ModuleList([LLaDALlamaBlock(cfg) for _ in range(cfg["n_layers"])]),
            ln_f=RMSLayerNorm(d, cfg["rms_norm_eps"]),
            ff_out=nn.Linear(d, V, bias=False),
        ))


class LLaDAModelLM(nn.Module):
    """State-dict names match the HF checkpoint: model.transformer.*"""

    def __init__(self, cfg):
        super().__init__()
        self.config = cfg
        self.model = LLaDAModel(cfg)

    def forward(self, input_ids, attention_mask=None, positions=None, attn_mask=None):
        """input_ids [B, T] -> logits [B, T, embedding_size] in the parameter dtype.
        attention_mask [B, T] (1 = real token, 0 = padding key) is optional; attn_mask: an
        optional bool [T, T] (True = attend), e.g. the block-diffusion masks (ddiff's extension
        of the LLaDA architecture: config key block_size, tools/train/train.py --objective bd3lm)."""
        tr = self.model.transformer
        B, T = input_ids.shape
        x = tr.wte(input_ids)
        if positions is None:
            positions = torch.arange(T)
        blk0 = tr.blocks[0]
        cos, sin = rope_tables(positions, blk0.head_dim, blk0.theta, x.dtype)
        if attention_mask is not None and bool((attention_mask == 0).any()):
            km = attention_mask
        else:
            km = None
        for blk in tr.blocks:
            x = blk(x, cos, sin, km, attn_mask)
        return tr.ff_out(tr.ln_f(x))


@torch.no_grad()
def forward_cached(model, input_ids, first, count, cache):
    """Logits [B, count, V] of rows [first, first + count) only (Fast-dLLM's KV caches).  Every
    layer computes q/k/v for these rows, writes their post-RoPE k and v into cache[layer]
    ([B, n_kv, T, hd] each; filled by a full pass, first 0 and count T) and attends to the whole
    cached sequence, so rows outside the range contribute the keys and values they had when
    they were last computed.  No attention mask; positions 0..T-1."""
    tr = model.model.transformer
    B, T = input_ids.shape
    if first == 0 and count == T:
        cache.clear()
    assert len(cache) in (0, len(tr.blocks)) and (cache or (first == 0 and count == T))
    rows = slice(first, first + count)
    x = tr.wte(input_ids[:, rows])
    blk0 = tr.blocks[0]
    cos, sin = rope_tables(torch.arange(first, first + count), blk0.head_dim, blk0.theta, x.dtype)
    for li, blk in enumerate(tr.blocks):
        h = blk.attn_norm(x)
        q = blk.q_proj(h).view(B, count, blk.n_heads, blk.head_dim).transpose(1, 2)
        k = blk.k_proj(h).view(B, count, blk.n_kv, blk.head_dim).transpose(1, 2)
        v = blk.v_proj(h).view(B, count, blk.n_kv, blk.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if len(cache) <= li:
            cache.append((k.clone(), v.clone()))
        else:
            cache[li][0][:, :, rows] = k
            cache[li][1][:, :, rows] = v
        K, Vv = cache[li]
        if blk.n_kv != blk.n_heads:
            rep = blk.n_heads // blk.n_kv
            K, Vv = K.repeat_interleave(rep, dim=1), Vv.repeat_interleave(rep, dim=1)
        p = torch.softmax(torch.matmul(q, K.transpose(-1, -2)) / math.sqrt(blk.head_dim), dim=-1)
        o = torch.matmul(p, Vv).transpose(1, 2).reshape(B, count, -1)
        x = x + blk.attn_out(o)
        m = blk.ff_norm(x)
        x = x + blk.ff_out(F.silu(blk.ff_proj(m)) * blk.up_proj(m))
    return tr.ff_out(tr.ln_f(x))


def _canvas(prompt, steps, gen_length, block_length, mask_id):
    """generate.py's set-up: prompt + gen_length masks, blocks and steps per block."""
    P = prompt.shape[1]
    x = torch.full((prompt.shape[0], P + gen_length), mask_id, dtype=torch.long)
    x[:, :P] = prompt
    assert gen_length % block_length == 0
    nblocks = gen_length // block_length
    assert steps % nblocks == 0
    return x, P, nblocks, steps // nblocks


@torch.no_grad()
def generate_with_cache(model, prompt, steps, gen_length, block_length, mode, mask_id):
    """Fast-dLLM's generate_with_prefix_cache (mode "prefix") and generate_with_dual_cache
    (mode "dual") at temperature 0 with low-confidence remasking and LLaDA's per-step counts:
    each block starts with a full forward that refills every layer's cache and commits its
    first step from those logits; the block's later steps recompute only rows [block start, end
    of sequence) (prefix) or the block's rows (dual), attending to the cached keys and values of
    the other rows, which are not refreshed until the next block."""
    assert mode in ("prefix", "dual")
    x, P, nblocks, spb = _canvas(prompt, steps, gen_length, block_length, mask_id)
    T = x.shape[1]
    cache = []
    for nb in range(nblocks):
        lo, hi = P + nb * block_length, P + (nb + 1) * block_length
        ntt = num_transfer_tokens(x[:, lo:hi] == mask_id, spb)
        for i in range(spb):
            first, count = (0, T) if i == 0 else (lo, (T if mode == "prefix" else hi) - lo)
            logits = forward_cached(model, x, first, count, cache)
            rows = slice(first, first + count)
            x0 = torch.argmax(logits, dim=-1)
            conf = torch.gather(F.softmax(logits, dim=-1), -1, x0[..., None]).squeeze(-1)
            mask_index = x[:, rows] == mask_id
            pos = torch.arange(first, first + count)
            mask_index &= ((pos >= lo) & (pos < hi))[None, :]
            x0 = torch.where(mask_index, x0, x[:, rows])
            conf = torch.where(mask_index, conf, torch.full_like(conf, float("-inf")))
            for j in range(x.shape[0]):
                _, sel = torch.topk(conf[j], k=int(ntt[j, i]))
                x[j, first + sel] = x0[j, sel]
    return x


def num_transfer_tokens(mask_index, steps):
    """generate.py get_num_transfer_tokens: m // steps per step, +1 for the first m % steps."""
    n = mask_index.sum(dim=1, keepdim=True)
    base, rem = n // steps, n % steps
    res = torch.zeros(n.size(0), steps, dtype=torch.int64) + base
    for i in range(n.size(0)):
        res[i, :rem[i]] += 1
    return res


@torch.no_grad()
def generate(model, prompt, steps=128, gen_length=128, block_length=128, temperature=0.0,
             remasking="low_confidence", mask_id=126336, generator=None, trajectory=False):
    """Transcription of ML-GSAI/LLaDA generate.py (cfg_scale 0, no attention mask):
    semi-autoregressive blocks, a fixed number of tokens committed per step, chosen by
    confidence softmax(logits)[argmax] (low_confidence) or uniform noise (random).  With
    temperature > 0 the argmax is taken over Gumbel-perturbed float64 logits
    exp(logits) / (-log u)^temperature, u ~ U(0,1) (generate.py add_gumbel_noise)."""
    x, P, nblocks, spb = _canvas(prompt, steps, gen_length, block_length, mask_id)
    traj = []
    for nb in range(nblocks):
        lo, hi = P + nb * block_length, P + (nb + 1) * block_length
        ntt = num_transfer_tokens(x[:, lo:hi] == mask_id, spb)
        for i in range(spb):
            mask_index = x == mask_id
            logits = model(x)
            if temperature > 0:
                lg = logits.to(torch.float64)
                u = torch.rand(lg.shape, dtype=torch.float64, generator=generator)
                x0 = torch.argmax(lg.exp() / (-torch.log(u)) ** temperature, dim=-1)
            else:
                x0 = torch.argmax(logits, dim=-1)
            if remasking == "low_confidence":
                p = F.softmax(logits, dim=-1)
                x0_p = torch.gather(p, -1, x0[..., None]).squeeze(-1)
            elif remasking == "random":
                x0_p = torch.rand(x0.shape, generator=generator)
            else:
                raise ValueError(remasking)
            x0_p[:, hi:] = float("-inf")                 # nothing beyond the current block
            x0 = torch.where(mask_index, x0, x)
            conf = torch.where(mask_index, x0_p, torch.full_like(x0_p, float("-inf")))
            transfer = torch.zeros_like(x0, dtype=torch.bool)
            for j in range(conf.shape[0]):
                _, sel = torch.topk(conf[j], k=int(ntt[j, i]))
                transfer[j, sel] = True
            x[transfer] = x0[transfer]
            if trajectory:
                traj.append(x.clone())
    return (x, torch.cat(traj)) if trajectory else x


def init_weights(model, std=0.02, generator=None):
    """Simple deterministic init: N(0, std) for matrices/embeddings, norms = 1, output
    projections scaled by 1/sqrt(2 n_layers).  (Not LLaDA's mitchell init; only for
    training from scratch / tiny goldens.)"""
    nl = model.config["n_layers"]
    for name, p in model.named_parameters():
        with torch.no_grad():
            if p.dim() == 1:
                p.fill_(1.0)
            else:
                s = std / math.sqrt(2 * nl) if (name.endswith("attn_out.weight") or
                                                ".blocks." in name and name.endswith("ff_out.weight")) else std
                p.copy_(torch.randn(p.shape, generator=generator, dtype=torch.float32).to(p.dtype) * s)


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def save_pretrained(model, out_dir, dtype="F32", shards=1, extra_config=None):
    """config.json + model.safetensors (dtype "F32" | "BF16" | "F16" | "F64"), or with
    shards > 1: model-0000k-of-0000n.safetensors + model.safetensors.index.json."""
    os.makedirs(out_dir, exist_ok=True)
    cfg = dict(model.config)
    if extra_config:
        cfg.update(extra_config)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    sd = {k: v.detach().to(torch.float32) if dtype != "F64" else v.detach().to(torch.float64)
          for k, v in model.state_dict().items()}
    dts = {k: dtype for k in sd}
    meta = {"format": "pt"}
    if shards <= 1:
        safetensors_io.save_file(sd, os.path.join(out_dir, "model.safetensors"), meta, dts)
        return
    names = list(sd.keys())
    per = math.ceil(len(names) / shards)
    weight_map = {}
    total = 0
    bpe = {"F32": 4, "BF16": 2, "F16": 2, "F64": 8}[dtype]
    for i in range(shards):
        part = names[i * per:(i + 1) * per]
        fn = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        safetensors_io.save_file({k: sd[k] for k in part}, os.path.join(out_dir, fn), meta, dts)
        for k in part:
            weight_map[k] = fn
            total += sd[k].numel() * bpe
    with open(os.path.join(out_dir, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
        f.write("\n")


def load_state(model_dir):
    """All tensors of a HF-layout directory (single file or sharded), BF16 widened to F32."""
    idx = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(idx):
        with open(idx) as f:
            wm = json.load(f)["weight_map"]
        sd = {}
        for fn in sorted(set(wm.values())):
            part, _ = safetensors_io.load_file(os.path.join(model_dir, fn))
            sd.update(part)
        return sd
    sd, _ = safetensors_io.load_file(os.path.join(model_dir, "model.safetensors"))
    return sd


def load_pretrained(model_dir, dtype=torch.float32):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    model = LLaDAModelLM(cfg)
    sd = load_state(model_dir)
    model.load_state_dict({k: v.to(dtype) for k, v in sd.items()}, strict=True)
    return model.to(dtype).eval()


def _self_test():
    import tempfile
    torch.manual_seed(0)
    cfg = make_config(d_model=32, n_heads=4, n_kv_heads=2, n_layers=2, mlp_hidden_size=48,
                      vocab_size=20, embedding_size=20, max_sequence_length=64,
                      mask_token_id=17, eos_token_id=18, pad_token_id=19)
    m = LLaDAModelLM(cfg)
    init_weights(m, generator=torch.Generator().manual_seed(1))
    names = [k for k, _ in m.named_parameters()]
    assert names[0] == "model.transformer.wte.weight"
    assert "model.transformer.blocks.1.up_proj.weight" in names
    assert names[-1] == "model.transformer.ff_out.weight"
    ids = torch.randint(0, 20, (2, 9))
    y = m(ids)
    d = tempfile.mkdtemp()
    save_pretrained(m, d, "F32", shards=2)
    m2 = load_pretrained(d)
    assert torch.equal(m2(ids), y)
    # padding mask: logits of real tokens must not depend on padded positions
    am = torch.ones(2, 9, dtype=torch.long)
    am[0, 6:] = 0
    ids2 = ids.clone()
    ids2[0, 6:] = 3
    a = m(ids, am)[0, :6]
    b = m(ids2, am)[0, :6]
    assert torch.allclose(a, b, atol=1e-6)
    # float64 path agrees with float32
    m64 = LLaDAModelLM(cfg).double()
    m64.load_state_dict(m.state_dict())
    assert torch.allclose(m64(ids).float(), y, atol=1e-4)
    print("llada self test OK; params", count_params(m))


if __name__ == "__main__":
    torch.set_num_threads(1)
    _self_test()
