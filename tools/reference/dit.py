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

    def forward(self, x, cos, sin, c):
        B, L, D = x.shape
        H = self.n_heads
        hd = D // H
        sh1, sc1, g1, sh2, sc2, g2 = self.adaLN_modulation(c).chunk(6, dim=-1)
        a = modulate(self.norm1(x).to(x.dtype), sh1, sc1)
        qkv = self.attn_qkv(a).view(B, L, 3, H, hd)
        q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))     # [B, H, L, hd]
        q = q * cos.to(q.dtype) + rotate_half(q) * sin.to(q.dtype)
        k = k * cos.to(k.dtype) + rotate_half(k) * sin.to(k.dtype)
        p = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hd), dim=-1)
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

    def forward(self, indices, sigma):
        x = self.vocab_embed(indices)
        c = F.silu(self.sigma_map(sigma.to(x.dtype)))
        cos, sin = self.rotary_emb(indices.shape[1], x.dtype)
        for blk in self.blocks:
            x = blk(x, cos, sin, c)
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


def save_pretrained(model, out_dir, dtype="F32"):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(model.config, f, indent=2)
        f.write("\n")
    sd = {k: v.detach().float() for k, v in model.state_dict().items()}
    dts = {k: ("F32" if k.endswith("rotary_emb.inv_freq") else dtype) for k in sd}
    safetensors_io.save_file(sd, os.path.join(out_dir, "model.safetensors"), {"format": "pt"}, dts)


def load_pretrained(model_dir, dtype=torch.float32):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    m = MDLM(cfg) if cfg.get("model_type") == "mdlm" else SEDD(cfg)
    sd, _ = safetensors_io.load_file(os.path.join(model_dir, "model.safetensors"))
    inv = [k for k in sd if k.endswith("rotary_emb.inv_freq")]
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
    print("dit self test OK")


if __name__ == "__main__":
    torch.set_num_threads(1)
    _self_test()
