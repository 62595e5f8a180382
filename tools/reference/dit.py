#!/usr/bin/python3
# dit.py: PyTorch reference implementation of the diffusion transformer ("DDiT") shared by MDLM
# (kuleshov-group/mdlm, models/dit.py; Hugging Face kuleshov-group/mdlm-owt) and SEDD
# (louaaron/Score-Entropy-Discrete-Diffusion, model/transformer.py; Hugging Face
# louaaron/sedd-small), with load/save in both Hugging Face layouts.
#
# Forward (indices [B, L], sigma [B]):
#   x = vocab_embed.embedding[indices]                                  [B, L, d]
#   c = silu( sigma_map(sigma) ),  sigma_map(s) = mlp.2( silu( mlp.0( temb(s) ) ) )
#   temb(s) = cat( cos(s * f), sin(s * f) ),  f_j = exp(-ln(10000) j / 128), j = 0..127  (256 wide,
#            cos first; computed in float32)
#   per DDiT block:
#     (shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp) = chunk6( adaLN_modulation(c) )
#     a = modulate(LN(x) * norm1.weight, shift_msa, scale_msa),  modulate(y, sh, sc) = y (1 + sc) + sh
#     qkv = attn_qkv(a) viewed [B, L, 3, H, hd]; RoPE (rotate-half, base 10000, positions 0..L-1)
#       on q and k (v untouched); softmax(q k^T / sqrt(hd)) v, no mask (bidirectional)
#     x = x + gate_msa * attn_out(attn)
#     x = x + gate_mlp * mlp.2( gelu_tanh( mlp.0( modulate(LN(x) * norm2.weight, shift_mlp, scale_mlp) ) ) )
#   output_layer: (shift, scale) = chunk2(adaLN_modulation(c));
#     logits = linear( modulate(LN(x) * norm_final.weight, shift, scale) )   (linear has a bias)
#   LN = layer norm WITHOUT affine parameters and eps 1e-5 (F.layer_norm default), in float32;
#   the LayerNorm modules only hold a weight (no bias).
# MDLM (HF mdlm-owt): the backbone returns these raw logits.  Its Diffusion wrapper first replaces
#   sigma by 0 when time_conditioning is false (the mdlm-owt setting) and, for the "subs"
#   parameterisation, post-processes: logits[..., mask] += -1e6; log-softmax; at unmasked
#   positions all entries = -1e6 except 0 at the observed token (subs_log_probs()).
# SEDD (HF sedd-small): with scale_by_sigma, the output becomes a log score
#   out = logits - log(expm1(sigma)) - log(V - 1)   (expm1 for sigma < 0.5, exp(sigma)-1 otherwise)
#   and then out[b, i, indices[b, i]] = 0 (scatter), for every position.
#
# Library module.  `/usr/bin/python3 tools/reference/dit.py` runs a self test.
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

# kuleshov-group/mdlm-owt config.json (MDLMConfig of the HF port; vocab 50258 = GPT-2 + mask,
# mask id = vocab_size - 1).
MDLM_OWT_CONFIG = {
    "architectures": ["MDLM"],
    "auto_map": {
        "AutoConfig": "configuration_mdlm.MDLMConfig",
        "AutoModelForMaskedLM": "modeling_mdlm.MDLM",
    },
    "cond_dim": 128,
    "dropout": 0.1,
    "hidden_dim": 768,
    "model_length": 1024,
    "model_type": "mdlm",
    "n_blocks": 12,
    "n_heads": 12,
    "return_dict": False,
    "time_conditioning": False,
    "torch_dtype": "float32",
    "transformers_version": "4.38.2",
    "vocab_size": 50258,
}

# louaaron/sedd-small config.json: the Hydra run config saved by PyTorchModelHubMixin
# (configs/config.yaml with model=small; graph absorb => vocab = tokens + 1, mask = tokens).
SEDD_SMALL_CONFIG = {
    "ngpus": 8,
    "tokens": 50257,
    "training": {"batch_size": 512, "accum": 1, "n_iters": 1300001, "snapshot_freq": 50000,
                 "log_freq": 50, "eval_freq": 100, "snapshot_freq_for_preemption": 10000,
                 "weight": "standard", "snapshot_sampling": True, "ema": 0.9999},
    "data": {"train": "openwebtext", "valid": "wikitext103", "cache_dir": "data"},
    "graph": {"type": "absorb", "file": "data", "report_all": False},
    "noise": {"type": "loglinear", "sigma_min": 0.0001, "sigma_max": 20},
    "sampling": {"predictor": "euler", "steps": 128, "noise_removal": True},
    "eval": {"batch_size": 512, "perplexity": True, "perplexity_batch_size": 32},
    "optim": {"weight_decay": 0, "optimizer": "AdamW", "lr": 0.0003, "beta1": 0.9,
              "beta2": 0.999, "eps": 1e-08, "warmup": 2500, "grad_clip": 1.0},
    "model": {"name": "small", "type": "ddit", "hidden_size": 768, "cond_dim": 128,
              "length": 1024, "n_blocks": 12, "n_heads": 12, "scale_by_sigma": True,
              "dropout": 0.1},
}

FREQ_EMB = 256      # TimestepEmbedder frequency_embedding_size
MAX_PERIOD = 10000


def _work(dtype):
    return torch.float64 if dtype == torch.float64 else torch.float32


def timestep_embedding(t, dim=FREQ_EMB, max_period=MAX_PERIOD, dtype=torch.float32):
    """[N] -> [N, dim] = cat(cos(t f), sin(t f)) (+ a zero column if dim is odd)."""
    w = _work(dtype)
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=w) / half)
    args = t.to(w)[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


class TimestepEmbedder(nn.Module):
    def __init__(self, cond_dim):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(FREQ_EMB, cond_dim, bias=True), nn.SiLU(),
                                 nn.Linear(cond_dim, cond_dim, bias=True))

    def forward(self, sigma):
        return self.mlp(timestep_embedding(sigma, dtype=self.mlp[0].weight.dtype).to(self.mlp[0].weight.dtype))


class LayerNorm(nn.Module):
    """F.layer_norm without affine parameters (eps 1e-5), then * weight; no bias."""

    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.dim = dim

    def forward(self, x):
        y = F.layer_norm(x.to(_work(x.dtype)), [self.dim])
        return y * self.weight[None, None, :]


class Rotary(nn.Module):
    def __init__(self, head_dim, base=10000):
        super().__init__()
        # persistent buffer: it is stored in the checkpoints as ...rotary_emb.inv_freq [hd/2] F32
        self.register_buffer("inv_freq", 1.0 / (base ** (torch.arange(0, head_dim, 2).float() / head_dim)))

    def forward(self, L, dtype):
        w = _work(dtype)
        inv = self.inv_freq.to(w)
        if w == torch.float64:   # recompute exactly in float64 for the float64 goldens
            hd = 2 * inv.numel()
            inv = 1.0 / (10000 ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
        ang = torch.arange(L, dtype=w)[:, None] * inv[None]
        ang = torch.cat((ang, ang), dim=-1)
        return ang.cos(), ang.sin()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def modulate(x, shift, scale):
    return x * (1 + scale[:, None, :]) + shift[:, None, :]


class DDiTBlock(nn.Module):
    def __init__(self, dim, n_heads, cond_dim, mlp_ratio=4):
        super().__init__()
        self.n_heads = n_heads
        self.norm1 = LayerNorm(dim)
        self.attn_qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.attn_out = nn.Linear(dim, dim, bias=False)
        self.norm2 = LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim, bias=True),
                                 nn.GELU(approximate="tanh"),
                                 nn.Linear(mlp_ratio * dim, dim, bias=True))
        self.adaLN_modulation = nn.Linear(cond_dim, 6 * dim, bias=True)

    def forward(self, x, cos, sin, c, mask=None, past=None, kv_out=None):
        """mask: bool [L, Lp + L] (True = attend) or None; past: (K, V) [B, H, Lp, hd] after RoPE
        (BD3-LM's kv_cache holds attn_qkv outputs and rotates them again at the same positions:
        the same values); kv_out: a list the (K, V) of past + these rows is appended to.
        cos/sin: the rows' tables [L, hd]."""
        B, L, D = x.shape
        H = self.n_heads
        hd = D // H
        sh1, sc1, g1, sh2, sc2, g2 = self.adaLN_modulation(c).chunk(6, dim=-1)
        a = modulate(self.norm1(x).to(x.dtype), sh1, sc1)
        qkv = self.attn_qkv(a).view(B, L, 3, H, hd)
        q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))     # [B, H, L, hd]
        q = q * cos.to(q.dtype) + rotate_half(q) * sin.to(q.dtype)
        k = k * cos.to(k.dtype) + rotate_half(k) * sin.to(k.dtype)
        if past is not None:
            k, v = torch.cat((past[0], k), dim=2), torch.cat((past[1], v), dim=2)
        if kv_out is not None:
            kv_out.append((k, v))
        s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hd)
        if mask is not None:
            s = s.masked_fill(~mask[None, None], float("-inf"))
        p = torch.softmax(s, dim=-1)
        o = torch.matmul(p, v).transpose(1, 2).reshape(B, L, D)
        x = x + g1[:, None, :] * self.attn_out(o)
        m = modulate(self.norm2(x).to(x.dtype), sh2, sc2)
        return x + g2[:, None, :] * self.mlp(m)


class EmbeddingLayer(nn.Module):
    def __init__(self, dim, vocab):
        super().__init__()
        self.embedding = nn.Parameter(torch.empty(vocab, dim))
        nn.init.kaiming_uniform_(self.embedding, a=math.sqrt(5))

    def forward(self, idx):
        return self.embedding[idx]


class DDitFinalLayer(nn.Module):
    def __init__(self, dim, out, cond_dim):
        super().__init__()
        self.norm_final = LayerNorm(dim)
        self.linear = nn.Linear(dim, out, bias=True)
        self.adaLN_modulation = nn.Linear(cond_dim, 2 * dim, bias=True)

    def forward(self, x, c):
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=-1)
        return self.linear(modulate(self.norm_final(x).to(x.dtype), shift, scale))


class DITBackbone(nn.Module):
    def __init__(self, hidden, cond_dim, n_blocks, n_heads, vocab):
        super().__init__()
        self.vocab_embed = EmbeddingLayer(hidden, vocab)
        self.sigma_map = TimestepEmbedder(cond_dim)
        self.rotary_emb = Rotary(hidden // n_heads)
        self.blocks = nn.ModuleList([DDiTBlock(hidden, n_heads, cond_dim) for _ in range(n_blocks)])
        self.output_layer = DDitFinalLayer(hidden, vocab, cond_dim)

    def forward(self, indices, sigma, mask=None, past=None, kv_out=None):
        """past: per block (K, V) of the Lp rows before indices (positions continue from Lp)."""
        x = self.vocab_embed(indices)
        c = F.silu(self.sigma_map(sigma.to(x.dtype)))
        Lp = 0 if past is None else past[0][0].shape[2]
        cos, sin = self.rotary_emb(Lp + indices.shape[1], x.dtype)
        cos, sin = cos[Lp:], sin[Lp:]
        for i, blk in enumerate(self.blocks):
            x = blk(x, cos, sin, c, mask, None if past is None else past[i], kv_out)
        return self.output_layer(x, c)


class MDLM(nn.Module):
    """HF kuleshov-group/mdlm-owt layout: every tensor under backbone.*"""

    def __init__(self, cfg):
        super().__init__()
        self.config = cfg
        self.backbone = DITBackbone(cfg["hidden_dim"], cfg["cond_dim"], cfg["n_blocks"],
                                    cfg["n_heads"], cfg["vocab_size"])

    @property
    def mask_token_id(self):
        return self.config["vocab_size"] - 1

    def process_sigma(self, sigma):
        """Diffusion._process_sigma: zero sigma unless time_conditioning."""
        return sigma if self.config.get("time_conditioning", False) else torch.zeros_like(sigma)

    def forward(self, input_ids, sigma):
        """Raw backbone logits [B, L, V] for the given (already processed) sigma."""
        return self.backbone(input_ids, sigma)


def subs_log_probs(logits, xt, mask_id, neg_inf=-1000000.0):
    """MDLM's SUBS parameterisation (diffusion.py _subs_parameterization)."""
    out = logits.clone()
    out[:, :, mask_id] += neg_inf
    out = out - torch.logsumexp(out, dim=-1, keepdim=True)
    un = xt != mask_id
    out[un] = neg_inf
    out[un, xt[un]] = 0
    return out


class SEDD(nn.Module):
    """HF louaaron/sedd-small layout: tensors at top level (vocab_embed.*, blocks.*, ...)."""

    def __init__(self, cfg):
        super().__init__()
        self.config = cfg
        m = cfg["model"]
        self.absorb = cfg["graph"]["type"] == "absorb"
        V = cfg["tokens"] + (1 if self.absorb else 0)
        bb = DITBackbone(m["hidden_size"], m["cond_dim"], m["n_blocks"], m["n_heads"], V)
        # register the backbone's children directly so names carry no prefix
        self.vocab_embed = bb.vocab_embed
        self.sigma_map = bb.sigma_map
        self.rotary_emb = bb.rotary_emb
        self.blocks = bb.blocks
        self.output_layer = bb.output_layer
        self.scale_by_sigma = m["scale_by_sigma"]

    def forward(self, indices, sigma):
        """Log score [B, L, V] (SEDD.forward)."""
        x = self.vocab_embed(indices)
        c = F.silu(self.sigma_map(sigma.to(x.dtype)))
        cos, sin = self.rotary_emb(indices.shape[1], x.dtype)
        for blk in self.blocks:
            x = blk(x, cos, sin, c)
        x = self.output_layer(x, c)
        if self.scale_by_sigma:
            assert self.absorb
            s = sigma.to(x.dtype)
            esigm1_log = torch.where(s < 0.5, torch.expm1(s), s.exp() - 1).log()[:, None, None]
            x = x - esigm1_log - math.log(x.shape[-1] - 1)
        return torch.scatter(x, -1, indices[..., None], torch.zeros_like(x[..., :1]))


# kuleshov-group/bd3lm-owt-block_size4 config.json (BD3LMConfig of models/hf/configuration_bd3lm.py;
# vocab 50258 = GPT-2 + mask, mask id = vocab_size - 1; the sampler puts GPT-2's BOS 50256 at
# position 0).
BD3LM_OWT_CONFIG = {
    "adaln": True,
    "architectures": ["BD3LM"],
    "attn_backend": "sdpa",
    "auto_map": {"AutoConfig": "configuration_bd3lm.BD3LMConfig",
                 "AutoModelForMaskedLM": "modeling_bd3lm.BD3LM"},
    "block_size": 4,
    "causal": False,
    "cond_dim": 128,
    "cross_attn": True,
    "dropout": 0.1,
    "hidden_dim": 768,
    "model_length": 1024,
    "model_type": "bd3lm",
    "n_blocks": 12,
    "n_heads": 12,
    "return_dict": False,
    "sampling_eps_max": 1.0,
    "sampling_eps_min": 0.001,
    "time_conditioning": False,
    "torch_dtype": "float32",
    "var_min": True,
    "vocab_size": 50258,
}


def block_causal_mask(Lq, Lk, block, q_offset=0):
    """BD3-LM's sampling mask: block_diff_mask restricted to the x0 half, [n:n+L, n:n+L] =
    block_causal (block_q >= block_kv), blocks counted from row 0."""
    qi = torch.arange(Lq)[:, None] + q_offset
    kj = torch.arange(Lk)[None, :]
    return (kj // block) <= (qi // block)


class BD3LM(nn.Module):
    """HF kuleshov-group/bd3lm-* layout (models/hf/modeling_bd3lm.py BD3LM): backbone.* and, with
    var_min, the buffers sampling_eps_min / sampling_eps_max.  Sampling mode only (the training
    pass on x_t (+) x_0 is not transcribed): the window's logits under the block-causal mask."""

    def __init__(self, cfg):
        super().__init__()
        assert cfg.get("cross_attn", True) and cfg.get("adaln", True) and not cfg.get("causal", False)
        self.config = cfg
        self.block_size = cfg["block_size"]
        self.backbone = DITBackbone(cfg["hidden_dim"], cfg["cond_dim"], cfg["n_blocks"],
                                    cfg["n_heads"], cfg["vocab_size"])
        if cfg.get("var_min", True):
            self.register_buffer("sampling_eps_min", torch.tensor(cfg.get("sampling_eps_min", 1e-3)))
            self.register_buffer("sampling_eps_max", torch.tensor(cfg.get("sampling_eps_max", 0.999)))

    @property
    def mask_token_id(self):
        return self.config["vocab_size"] - 1

    def process_sigma(self, sigma):
        return sigma if self.config.get("time_conditioning", False) else torch.zeros_like(sigma)

    def forward(self, input_ids, sigma, past=None, kv_out=None):
        """Raw logits [B, L, V] of a window (sample_mode): block-causal mask over the rows (and
        the Lp cached rows of `past`), RoPE positions Lp..Lp+L-1."""
        L = input_ids.shape[1]
        Lp = 0 if past is None else past[0][0].shape[2]
        mask = block_causal_mask(L, Lp + L, self.block_size, q_offset=Lp)
        return self.backbone(input_ids, self.process_sigma(sigma), mask, past, kv_out)


def save_pretrained(model, out_dir, dtype="F32"):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(model.config, f, indent=2)
        f.write("\n")
    sd = {k: v.detach().float() for k, v in model.state_dict().items()}
    dts = {k: ("F32" if k.endswith("rotary_emb.inv_freq") or k.startswith("sampling_eps") else dtype) for k in sd}
    safetensors_io.save_file(sd, os.path.join(out_dir, "model.safetensors"), {"format": "pt"}, dts)


def load_pretrained(model_dir, dtype=torch.float32):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    mt = cfg.get("model_type")
    m = MDLM(cfg) if mt == "mdlm" else BD3LM(cfg) if mt == "bd3lm" else SEDD(cfg)
    sd, _ = safetensors_io.load_file(os.path.join(model_dir, "model.safetensors"))
    inv = [k for k in sd if k.endswith("rotary_emb.inv_freq") or k.startswith("sampling_eps")]
    m.load_state_dict({k: (v if k in inv else v.to(dtype)) for k, v in sd.items()}, strict=True)
    for n, p in m.named_parameters():
        p.data = p.data.to(dtype)
    return m.eval()


def _self_test():
    import tempfile
    torch.manual_seed(0)
    cfg = dict(MDLM_OWT_CONFIG, hidden_dim=32, cond_dim=16, n_blocks=2, n_heads=4, vocab_size=20,
               model_length=16)
    m = MDLM(cfg)
    for p in m.parameters():
        p.data.normal_(0, 0.2)
    names = [k for k in m.state_dict()]
    for want in ["backbone.vocab_embed.embedding", "backbone.sigma_map.mlp.0.weight",
                 "backbone.rotary_emb.inv_freq", "backbone.blocks.1.adaLN_modulation.bias",
                 "backbone.output_layer.linear.bias"]:
        assert want in names, want
    ids = torch.randint(0, 20, (2, 9))
    y = m(ids, torch.tensor([0.0, 1.5]))
    d = tempfile.mkdtemp()
    save_pretrained(m, d)
    assert torch.equal(load_pretrained(d)(ids, torch.tensor([0.0, 1.5])), y)
    scfg = json.loads(json.dumps(SEDD_SMALL_CONFIG))
    scfg["tokens"] = 19
    scfg["model"].update(hidden_size=32, cond_dim=16, n_blocks=2, n_heads=4, length=16)
    s = SEDD(scfg)
    assert "vocab_embed.embedding" in s.state_dict() and "rotary_emb.inv_freq" in s.state_dict()
    out = s(ids, torch.tensor([0.1, 3.0]))
    assert torch.all(out.gather(-1, ids[..., None]) == 0)
    bcfg = dict(BD3LM_OWT_CONFIG, hidden_dim=32, cond_dim=16, n_blocks=2, n_heads=4, vocab_size=20,
                model_length=16, block_size=4)
    b = BD3LM(bcfg).double()
    for p in b.parameters():
        p.data.normal_(0, 0.2)
    full = b(ids[:, :8], torch.zeros(2, dtype=torch.float64))
    kv = []
    b(ids[:, :4], torch.zeros(2, dtype=torch.float64), kv_out=kv)
    part = b(ids[:, 4:8], torch.zeros(2, dtype=torch.float64), past=kv)
    assert torch.allclose(part, full[:, 4:], atol=1e-12)
    save_pretrained(b, d)
    assert torch.allclose(load_pretrained(d, torch.float64)(ids[:, :8], torch.zeros(2, dtype=torch.float64)),
                          full, atol=1e-5)
    print("dit self test OK")


if __name__ == "__main__":
    torch.set_num_threads(1)
    _self_test()
