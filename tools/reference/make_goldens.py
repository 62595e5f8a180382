#!/usr/bin/python3
# make_goldens.py: builds tiny random checkpoints in the exact Hugging Face layouts of LLaDA,
# Dream, MDLM (mdlm-owt) and SEDD (sedd-small), plus reference outputs ("goldens") for the C++
# tests, all from the PyTorch references in this directory and a fixed seed.
#
# Writes (each model dir: config.json, model.safetensors, golden.safetensors):
#   tests/data/models/llada_tiny_f32/      LLaDA, F32 weights (+ generate_golden.safetensors and
#                                          generate_cache_golden.safetensors: Fast-dLLM caches)
#   tests/data/models/llada_tiny_bf16/     same weights rounded to BF16 (golden computed from the
#                                          BF16 values)
#   tests/data/models/llada_tiny_sharded/  same weights as llada_tiny_f32, 2 shards + index
#   tests/data/models/dream_tiny/          Dream (GQA: 4 heads, 2 KV heads), F32
#   tests/data/models/mdlm_tiny/           MDLM DiT, time_conditioning false, F32
#   tests/data/models/sedd_tiny/           SEDD DiT, absorbing graph, scale_by_sigma, F32
#   tests/data/blocks/llama_block.safetensors   one LLaDA block (GQA 4/2 heads), L=11, d=48
#   tests/data/blocks/dit_block.safetensors     one DDiT block with conditioning vector c
# Goldens are computed in float64 from the stored weights (exactly widened) and stored as
# logits_f64 (F64) and logits (= logits_f64 rounded to F32).
#
# Regenerate: /usr/bin/python3 tools/reference/make_goldens.py
import json
import os
import shutil
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
import dit  # noqa: E402
import dream  # noqa: E402
import llada  # noqa: E402
import safetensors_io as st  # noqa: E402

SEED = 20250101
MODELS = os.path.join(ROOT, "tests", "data", "models")
BLOCKS = os.path.join(ROOT, "tests", "data", "blocks")
V = 97
B, L = 2, 13


def fill_random(model, gen, std=0.25):
    """Deterministic random weights: matrices/embeddings N(0, std) (scaled by 1/sqrt(fan_in)*2
    for linears), biases N(0, 0.1), norm weights 1 + N(0, 0.1).  Buffers untouched."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                if "norm" in name or name.endswith("layernorm.weight") or "ln_f" in name:
                    p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
                else:
                    p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            else:
                s = std if ("embed" in name or "wte" in name) else 1.5 / np.sqrt(p.shape[1])
                p.copy_(s * torch.randn(p.shape, generator=gen))


def bf16_round(model):
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(torch.bfloat16).float())


def make_ids(gen, mask_id, vocab_limit):
    ids = torch.randint(0, vocab_limit, (B, L), generator=gen)
    ids[0, [2, 3, 7, 12]] = mask_id
    ids[1, [0, 5, 6, 8, 9, 10]] = mask_id
    return ids


def save_golden(path, tensors, meta):
    st.save_file(tensors, path, {k: (json.dumps(v) if not isinstance(v, str) else v)
                                 for k, v in meta.items()})


def f64_copy(model_cls, cfg, model):
    m = model_cls(cfg).double()
    m.load_state_dict({k: v.double() if v.is_floating_point() else v
                       for k, v in model.state_dict().items()})
    return m.eval()


def dir_size(d):
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))


# ----------------------------------------------------------------------------------- LLaDA
def llada_config():
    return llada.make_config(
        d_model=64, n_heads=4, n_kv_heads=4, n_layers=2, mlp_hidden_size=128, mlp_ratio=2,
        vocab_size=V, embedding_size=V, max_sequence_length=64, rope_theta=500000.0,
        mask_token_id=94, eos_token_id=95, pad_token_id=96, init_device="cpu", precision="fp32")


def llada_goldens(gen):
    cfg = llada_config()
    m = llada.LLaDAModelLM(cfg)
    fill_random(m, gen)
    ids = make_ids(gen, cfg["mask_token_id"], 94)
    out = {}
    for name, dtype, shards in [("llada_tiny_f32", "F32", 1), ("llada_tiny_sharded", "F32", 2),
                                ("llada_tiny_bf16", "BF16", 1)]:
        d = os.path.join(MODELS, name)
        shutil.rmtree(d, ignore_errors=True)
        mm = llada.LLaDAModelLM(cfg)
        mm.load_state_dict(m.state_dict())
        if dtype == "BF16":
            bf16_round(mm)
        llada.save_pretrained(mm, d, dtype=dtype, shards=shards)
        back = llada.load_pretrained(d, torch.float64)    # golden from the stored values
        am = torch.ones(B, L, dtype=torch.long)
        am[1, :3] = 0                                   # left padding of 3 in row 1
        with torch.no_grad():
            lg = back(ids)
            lgm = back(ids, attention_mask=am)
        save_golden(os.path.join(d, "golden.safetensors"),
                    {"input_ids": ids, "logits": lg.float(), "logits_f64": lg,
                     "attention_mask": am, "logits_padmask_f64": lgm},
                    {"model": name, "computed": "float64 from the stored weights",
                     "note": "logits = logits_f64 rounded to float32, no attention mask; "
                             "logits_padmask_f64: keys with attention_mask 0 excluded "
                             "(post-2025-10 HF modeling_llada.py behaviour), positions still 0..L-1",
                     "mask_token_id": cfg["mask_token_id"]})
        out[name] = d
    return cfg, m, out


def generate_golden(cfg, d, gen):
    settings = dict(steps=8, gen_length=16, block_length=8, temperature=0.0, cfg_scale=0.0,
                    remasking="low_confidence", mask_id=cfg["mask_token_id"])
    models = {dt: llada.load_pretrained(d, dt) for dt in (torch.float32, torch.float64)}
    # The random tiny model can predict the mask id itself (a trained one never does); draw
    # prompts until the generated tokens contain no mask id, so the golden avoids that corner.
    for attempt in range(200):
        prompt = torch.randint(0, 94, (1, 5), generator=gen)
        res = {dt: llada.generate(m, prompt, steps=8, gen_length=16, block_length=8,
                                  mask_id=cfg["mask_token_id"], trajectory=True)
               for dt, m in models.items()}
        out, traj = res[torch.float64]
        if (out[0, 5:] != cfg["mask_token_id"]).all():
            break
    assert torch.equal(res[torch.float32][0], res[torch.float64][0]), "f32/f64 generate differ"
    save_golden(os.path.join(d, "generate_golden.safetensors"),
                {"prompt_ids": prompt, "output_ids": out, "x_after_each_step": traj},
                dict(settings, source="ML-GSAI/LLaDA generate.py transcription (llada.generate)",
                     note="x_after_each_step[s] is x after step s (8 steps, 2 blocks of 4); "
                          "float32 and float64 forwards give the same output",
                     prompt_length=5))
    return prompt, out


def generate_cache_golden(cfg, d):
    """Fast-dLLM prefix- and dual-cache decodes of the tiny LLaDA (3 blocks of 8, 12 steps).
    Own generator, so the other goldens do not depend on it."""
    gen = torch.Generator().manual_seed(SEED + 7)
    models = {dt: llada.load_pretrained(d, dt) for dt in (torch.float32, torch.float64)}
    mid = cfg["mask_token_id"]
    kw = dict(steps=12, gen_length=24, block_length=8, mask_id=mid)
    # A prompt where the caches change the output (so the test sees the approximation) and
    # no generated token is the mask id.
    for attempt in range(500):
        prompt = torch.randint(0, 94, (1, 5), generator=gen)
        plain = llada.generate(models[torch.float64], prompt, **kw)
        outs = {(mode, dt): llada.generate_with_cache(m, prompt, mode=mode, **kw)
                for mode in ("prefix", "dual") for dt, m in models.items()}
        ok = all((o[0, 5:] != mid).all() for o in outs.values())
        if ok and all(not torch.equal(outs[(mode, torch.float64)], plain) for mode in ("prefix", "dual")) \
                and not torch.equal(outs[("prefix", torch.float64)], outs[("dual", torch.float64)]):
            break
    else:
        raise SystemExit("no prompt found for the cache golden")
    for mode in ("prefix", "dual"):
        assert torch.equal(outs[(mode, torch.float32)], outs[(mode, torch.float64)]), f"{mode}: f32/f64 differ"
    save_golden(os.path.join(d, "generate_cache_golden.safetensors"),
                {"prompt_ids": prompt, "output_prefix_ids": outs[("prefix", torch.float64)],
                 "output_dual_ids": outs[("dual", torch.float64)], "output_nocache_ids": plain},
                dict(kw, temperature=0.0, remasking="low_confidence", prompt_length=5,
                     source="NVlabs Fast-dLLM generate_with_prefix_cache / generate_with_dual_cache "
                            "transcription (llada.generate_with_cache)",
                     note="each block: a full forward refills the caches and gives the first step; "
                          "later steps recompute rows [block start, end) (prefix) or the block (dual); "
                          "float32 and float64 give the same output; output_nocache_ids is generate()"))


# ----------------------------------------------------------------------------------- Dream
def dream_goldens(gen):
    cfg = dream.make_config(hidden_size=64, intermediate_size=128, num_attention_heads=4,
                            num_key_value_heads=2, num_hidden_layers=2, vocab_size=V,
                            max_position_embeddings=64, max_window_layers=2, mask_token_id=94,
                            pad_token_id=95, bos_token_id=96, eos_token_id=95,
                            torch_dtype="float32")
    m = dream.DreamModel(cfg)
    fill_random(m, gen)
    d = os.path.join(MODELS, "dream_tiny")
    shutil.rmtree(d, ignore_errors=True)
    dream.save_pretrained(m, d, "F32")
    back = dream.load_pretrained(d, torch.float64)
    ids = make_ids(gen, cfg["mask_token_id"], 94)
    with torch.no_grad():
        lg = back(ids)
    save_golden(os.path.join(d, "golden.safetensors"),
                {"input_ids": ids, "logits": lg.float(), "logits_f64": lg},
                {"model": "dream_tiny", "computed": "float64 from the stored weights",
                 "note": "UNSHIFTED logits (row i from hidden state i); Dream generation uses "
                         "cat(logits[:, :1], logits[:, :-1]); positions 0..L-1, no mask",
                 "mask_token_id": cfg["mask_token_id"]})
    return cfg, d


# ----------------------------------------------------------------------------------- DiT
def mdlm_goldens(gen):
    cfg = dict(dit.MDLM_OWT_CONFIG, hidden_dim=64, cond_dim=32, n_blocks=2, n_heads=4,
               vocab_size=V, model_length=64, time_conditioning=False)
    m = dit.MDLM(cfg)
    fill_random(m, gen)
    d = os.path.join(MODELS, "mdlm_tiny")
    shutil.rmtree(d, ignore_errors=True)
    dit.save_pretrained(m, d, "F32")
    back = dit.load_pretrained(d, torch.float64)
    mask_id = V - 1
    ids = make_ids(gen, mask_id, V - 1)
    sigma = torch.tensor([0.7, 2.3], dtype=torch.float64)
    sig_used = back.process_sigma(sigma)
    with torch.no_grad():
        lg = back(ids, sig_used)
    lp = dit.subs_log_probs(lg, ids, mask_id)
    save_golden(os.path.join(d, "golden.safetensors"),
                {"input_ids": ids, "sigma": sigma, "sigma_backbone": sig_used,
                 "logits": lg.float(), "logits_f64": lg, "log_probs_subs_f64": lp},
                {"model": "mdlm_tiny", "computed": "float64 from the stored weights",
                 "note": "time_conditioning false: the backbone is run with sigma_backbone = 0 "
                         "(Diffusion._process_sigma); logits are the raw backbone output; "
                         "log_probs_subs_f64 = SUBS parameterisation with neg_infinity -1e6",
                 "mask_token_id": mask_id})
    return cfg, d


def sedd_goldens(gen):
    cfg = json.loads(json.dumps(dit.SEDD_SMALL_CONFIG))
    cfg["tokens"] = V - 1
    cfg["model"].update(hidden_size=64, cond_dim=32, n_blocks=2, n_heads=4, length=64)
    m = dit.SEDD(cfg)
    fill_random(m, gen)
    d = os.path.join(MODELS, "sedd_tiny")
    shutil.rmtree(d, ignore_errors=True)
    dit.save_pretrained(m, d, "F32")
    back = dit.load_pretrained(d, torch.float64)
    mask_id = V - 1
    ids = make_ids(gen, mask_id, V - 1)
    sigma = torch.tensor([0.3, 2.5], dtype=torch.float64)   # both expm1 branches
    with torch.no_grad():
        lg = back(ids, sigma)
    save_golden(os.path.join(d, "golden.safetensors"),
                {"input_ids": ids, "sigma": sigma, "logits": lg.float(), "logits_f64": lg},
                {"model": "sedd_tiny", "computed": "float64 from the stored weights",
                 "note": "SEDD.forward output (log score): scale_by_sigma applied, then 0 "
                         "scattered at every position's input id; vocab = tokens + 1, "
                         "mask id = tokens",
                 "mask_token_id": mask_id})
    return cfg, d


# ----------------------------------------------------------------------------------- blocks
def block_goldens(gen):
    os.makedirs(BLOCKS, exist_ok=True)
    Lb, d = 11, 48
    # LLaDA llama block with GQA (4 query heads, 2 kv heads, head_dim 12)
    cfg = llada.make_config(d_model=d, n_heads=4, n_kv_heads=2, n_layers=1, mlp_hidden_size=80,
                            rope_theta=10000.0, rms_norm_eps=1e-5)
    blk = llada.LLaDALlamaBlock(cfg)
    fill_random(blk, gen)
    blk = blk.double()
    x = torch.randn(Lb, d, generator=gen).float().double()     # float32-representable input
    pos = torch.arange(Lb) + 3
    cos, sin = llada.rope_tables(pos, 12, 10000.0, torch.float64)
    with torch.no_grad():
        y = blk(x[None], cos, sin)[0]
    t = {k: v.float() for k, v in blk.state_dict().items()}
    t.update({"input": x, "positions": pos, "output": y})
    save_golden(os.path.join(BLOCKS, "llama_block.safetensors"), t,
                {"block": "LLaDALlamaBlock (tools/reference/llada.py)", "n_heads": 4,
                 "n_kv_heads": 2, "head_dim": 12, "mlp_hidden_size": 80, "rope_theta": 10000.0,
                 "rms_norm_eps": 1e-5, "computed": "float64; weights stored F32 (exact)",
                 "note": "output = block(input) at the given RoPE positions, no mask"})
    # DDiT block with conditioning vector c (c is the block's adaLN input, i.e. after SiLU)
    cond = 24
    db = dit.DDiTBlock(d, 4, cond)
    fill_random(db, gen)
    db = db.double()
    x2 = torch.randn(Lb, d, generator=gen).float().double()
    c = torch.randn(cond, generator=gen).float().double()
    cos2, sin2 = dit.Rotary(12)(Lb, torch.float64)
    with torch.no_grad():
        y2 = db(x2[None], cos2, sin2, c[None])[0]
    t2 = {k: v.float() for k, v in db.state_dict().items()}
    t2.update({"c": c, "input": x2, "output": y2})
    save_golden(os.path.join(BLOCKS, "dit_block.safetensors"), t2,
                {"block": "DDiTBlock (tools/reference/dit.py)", "n_heads": 4, "head_dim": 12,
                 "cond_dim": cond, "mlp_ratio": 4, "rope_base": 10000, "positions": "0..10",
                 "computed": "float64; weights stored F32 (exact)",
                 "note": "c is the conditioning vector fed to adaLN_modulation (already SiLU'd)"})


def describe(path):
    h, _ = st.read_header(path)
    meta = h.pop("__metadata__", {})
    return [(k, v["dtype"], v["shape"]) for k, v in h.items()], meta


def main():
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    os.makedirs(MODELS, exist_ok=True)
    cfg, _, dirs = llada_goldens(gen)
    generate_golden(cfg, dirs["llada_tiny_f32"], gen)
    dream_goldens(gen)
    mdlm_goldens(gen)
    sedd_goldens(gen)
    block_goldens(gen)
    generate_cache_golden(cfg, dirs["llada_tiny_f32"])
    for name in sorted(os.listdir(MODELS)):
        d = os.path.join(MODELS, name)
        if not os.path.isdir(d):
            continue
        print(f"{name}: {dir_size(d)} bytes")
        for f in sorted(os.listdir(d)):
            if f.endswith("golden.safetensors"):
                ts, _ = describe(os.path.join(d, f))
                print(f"  {f}: " + ", ".join(f"{k} {dt} {s}" for k, dt, s in ts))
    for f in sorted(os.listdir(BLOCKS)):
        ts, _ = describe(os.path.join(BLOCKS, f))
        print(f"blocks/{f}: " + ", ".join(f"{k} {dt} {s}" for k, dt, s in ts))


if __name__ == "__main__":
    main()
