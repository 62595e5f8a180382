#!/usr/bin/python3
# make_block_goldens.py: tiny random checkpoints of the block-diffusion architectures in their
# Hugging Face layouts, and reference outputs for the C++ tests, from the PyTorch references in
# this directory (qwen.py, dit.py, block_generate.py) with fixed seeds. Separate from
# make_goldens.py so the older goldens never change when these are regenerated.
#
# Writes:
#   tests/data/models/sdar_tiny/          model_type "sdar", Qwen3 layers (QK-norm, head_dim 24 != 64/4),
#                                         GQA 4/2, tied embeddings, block_size 4; the mask id only in
#                                         tokenizer_config.json (<|MASK|>, as SDAR's tokenizer)
#   tests/data/models/fast_dllm_v2_tiny/  model_type "Fast_dLLM_Qwen", Qwen2 layers (q/k/v biases),
#                                         untied head, bd_size 8, mask_token_id in config.json
#   tests/data/models/dllm_qwen3_tiny/    model_type "a2d-qwen3" (dllm), Qwen3 layers with attention
#                                         biases, tied; <|mask|> in tokenizer_config.json
#   tests/data/models/bd3lm_tiny/         model_type "bd3lm" (kuleshov-group/bd3lms HF layout), block 4
#   each: golden.safetensors (logits, float64 from the stored weights) and generate goldens
#   tests/data/blocks/qwen3_block.safetensors  one Qwen3 decoder layer (QK-norm), bidirectional and
#                                         block-causal outputs
#
# Regenerate: /usr/bin/python3 tools/reference/make_block_goldens.py  [--only llada_block]
import json
import os
import shutil
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
import block_generate as bg  # noqa: E402
import dit  # noqa: E402
import llada  # noqa: E402
import qwen  # noqa: E402
import safetensors_io as st  # noqa: E402

SEED = 20251014
MODELS = os.path.join(ROOT, "tests", "data", "models")
BLOCKS = os.path.join(ROOT, "tests", "data", "blocks")
V = 97
MASK, EOS, PAD = 94, 95, 96
B, L = 2, 16


def save_golden(path, tensors, meta):
    st.save_file(tensors, path, {k: (json.dumps(v) if not isinstance(v, str) else v) for k, v in meta.items()})


def tokenizer_config(mask_content):
    """The part of tokenizer_config.json ddiff reads: the added mask token."""
    return {"added_tokens_decoder": {str(MASK): {"content": mask_content, "lstrip": False, "normalized": False,
                                                 "rstrip": False, "single_word": False, "special": True}}}


TINY = dict(hidden_size=64, intermediate_size=96, num_attention_heads=4, num_key_value_heads=2,
            num_hidden_layers=2, vocab_size=V, max_position_embeddings=64, rope_theta=10000.0,
            eos_token_id=EOS, bos_token_id=PAD, torch_dtype="float32")


def qwen_tiny(name, model_type, gen, tok=None, **over):
    cfg = qwen.make_config(model_type, **dict(TINY, **over))
    m = qwen.QwenDiffusionLM(cfg)
    qwen.fill_random(m, gen)
    d = os.path.join(MODELS, name)
    shutil.rmtree(d, ignore_errors=True)
    qwen.save_pretrained(m, d, "F32", tokenizer_config=tok)
    return cfg, d


def make_ids(gen):
    ids = torch.randint(0, MASK, (B, L), generator=gen)
    ids[0, [2, 3, 9, 13, 14]] = MASK
    ids[1, [0, 5, 6, 7, 11, 15]] = MASK
    return ids


def qwen_logit_goldens(cfg, d, gen, block, pad_layout=False):
    """logits of input_ids [2, 16] with the block-causal mask of `block` rows and bidirectional;
    with pad_layout also dllm's sampler layout: 3 left pads (pad id, never attended), logical
    positions cumsum(valid) - 1 (padding 0), block-causal from row 0."""
    m = qwen.load_pretrained(d, torch.float64)
    ids = make_ids(gen)
    with torch.no_grad():
        lg_block, _ = m(ids, mask=qwen.block_causal_mask(L, L, block))
        lg_bidir, _ = m(ids)
    t = {"input_ids": ids, "logits_f64": lg_block, "logits": lg_block.float(), "logits_bidir_f64": lg_bidir}
    meta = {"model": os.path.basename(d), "computed": "float64 from the stored weights", "block_length": block,
            "note": "logits_f64: block-causal (key block <= query block, blocks of block_length from row 0), "
                    "positions 0..15; logits_bidir_f64: no mask; both UNSHIFTED", "mask_token_id": MASK}
    if pad_layout:
        valid = torch.ones(B, L, dtype=torch.long)
        valid[:, :3] = 0
        ids_p = ids.clone()
        ids_p[:, :3] = PAD
        pos = torch.where(valid.bool(), valid.cumsum(-1) - 1, torch.zeros_like(valid))
        outs = []
        with torch.no_grad():
            for b in range(B):
                o, _ = m(ids_p[b:b + 1], positions=pos[b], mask=qwen.block_causal_mask(L, L, block, key_valid=valid[b]))
                outs.append(o)
        t.update({"input_ids_pad": ids_p, "key_valid": valid, "positions": pos, "logits_pad_f64": torch.cat(outs)})
        meta["note_pad"] = ("logits_pad_f64: rows 0..2 are padding (pad id, key_valid 0, position 0), the rest at "
                            "positions cumsum(key_valid) - 1; block-causal; outputs at padding rows meaningless")
    save_golden(os.path.join(d, "golden.safetensors"), t, meta)


def qwen3_block_golden(gen):
    """One Qwen3 decoder layer: d 48, 4 heads / 2 kv heads, head_dim 16 (H hd = 64 != d), F 80,
    theta 1e6, eps 1e-6, positions 3..13, outputs bidirectional and block-causal (blocks of 4)."""
    os.makedirs(BLOCKS, exist_ok=True)
    T, d = 11, 48
    cfg = qwen.make_config("sdar", hidden_size=d, intermediate_size=80, num_attention_heads=4,
                           num_key_value_heads=2, head_dim=16, num_hidden_layers=1, rope_theta=1000000.0,
                           rms_norm_eps=1e-6)
    layer = qwen.DecoderLayer(cfg)
    qwen.fill_random(layer, gen)
    layer = layer.double()
    x = torch.randn(T, d, generator=gen).float().double()
    pos = torch.arange(T) + 3
    cos, sin = qwen.rope_tables(pos, 16, 1000000.0, torch.float64)
    with torch.no_grad():
        y_bid, _ = layer(x[None], cos, sin, None)
        y_blk, _ = layer(x[None], cos, sin, qwen.block_causal_mask(T, T, 4))
    t = {k: v.float() for k, v in layer.state_dict().items()}
    t.update({"input": x, "positions": pos, "output_bidir": y_bid[0], "output_block4": y_blk[0]})
    save_golden(os.path.join(BLOCKS, "qwen3_block.safetensors"), t,
                {"block": "Qwen3 decoder layer (tools/reference/qwen.py DecoderLayer, SDAR / a2d-qwen3)",
                 "n_heads": 4, "n_kv_heads": 2, "head_dim": 16, "intermediate_size": 80, "rope_theta": 1e6,
                 "rms_norm_eps": 1e-6, "computed": "float64; weights stored F32 (exact)",
                 "note": "output_block4: block-causal mask with blocks of 4 rows from row 0 (rows are 0..10, "
                         "RoPE positions 3..13); names as under model.layers.{i}."})


def bd3lm_goldens(gen):
    """BD3-LM DiT (HF layout, model_type "bd3lm"), block 4, time_conditioning false: logits of
    input_ids [2, 16] in sampling mode (block-causal), float64 from the stored weights."""
    cfg = dict(dit.BD3LM_OWT_CONFIG, hidden_dim=64, cond_dim=32, n_blocks=2, n_heads=4, vocab_size=V,
               model_length=64, block_size=4)
    m = dit.BD3LM(cfg)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if p.dim() == 1:
                p.copy_((1 if "norm" in name else 0) + 0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_((0.25 if "embed" in name else 1.5 / p.shape[1] ** 0.5) * torch.randn(p.shape, generator=gen))
    d = os.path.join(MODELS, "bd3lm_tiny")
    shutil.rmtree(d, ignore_errors=True)
    dit.save_pretrained(m, d, "F32")
    back = dit.load_pretrained(d, torch.float64)
    ids = torch.randint(0, V - 1, (B, L), generator=gen)
    ids[0, [2, 3, 9, 13, 14]] = V - 1
    ids[1, [0, 5, 6, 7, 11, 15]] = V - 1
    sigma = torch.tensor([0.7, 2.3], dtype=torch.float64)
    with torch.no_grad():
        lg = back(ids, sigma)
    save_golden(os.path.join(d, "golden.safetensors"),
                {"input_ids": ids, "sigma": sigma, "logits_f64": lg, "logits": lg.float()},
                {"model": "bd3lm_tiny", "computed": "float64 from the stored weights",
                 "note": "sampling mode: block-causal mask (blocks of 4 from row 0), positions 0..15; "
                         "time_conditioning false so the backbone sees sigma 0; raw logits before SUBS",
                 "mask_token_id": V - 1, "block_length": 4})
    return cfg, d


def both_modes(fn, **kw):
    """The cached and the uncached run of a transcription: the same tokens (asserted)."""
    a, b = fn(use_cache=True, **kw), fn(use_cache=False, **kw)
    assert torch.equal(a["x"], b["x"]), "cached and uncached decodes differ"
    return a


def search_prompt(gen, P, run, ok, tries=2000):
    """The first random prompt of length P (ids < MASK) whose run satisfies ok()."""
    for _ in range(tries):
        prompt = torch.randint(0, MASK, (1, P), generator=gen)
        try:
            r = run(prompt)
        except ValueError:      # a case the upstream code cannot run (block_generate raises)
            continue
        if ok(r, prompt):
            return prompt, r
    raise SystemExit("no prompt found")


def no_special(r, P):
    gen = r["x"][0, P:]
    return not bool(((gen == MASK) | (gen == PAD)).any())


def sdar_generate_golden(d):
    """SDAR block_diffusion_generate on sdar_tiny (block 4, 4 steps per block: one commit per
    step), prompt of 6 (one prefilled block, the first decoded block holds 2 prompt tokens),
    gen_length 12: static and dynamic (threshold 0.3) low-confidence; and a prompt whose second
    block emits EOS (95) so generation stops after two blocks."""
    m = qwen.load_pretrained(d, torch.float64)
    gen = torch.Generator().manual_seed(SEED + 1)
    kw = dict(mask_id=MASK, gen_length=12, block_length=4, denoising_steps=4)
    runs = {}
    prompt, _ = search_prompt(gen, 6, lambda p: bg.sdar_generate(m, p, **kw), lambda r, p: no_special(r, 6))
    for strat, thr in (("low_confidence_static", 0.0), ("low_confidence_dynamic", 0.3)):
        runs[strat] = both_modes(lambda **k: bg.sdar_generate(m, prompt, remasking_strategy=strat,
                                                              confidence_threshold=thr, **kw, **k))
    # EOS: ids 95 appear in the second decoded block but not in the first
    def eos_ok(r, p):
        g = r["x"][0, 6:]
        first, second = g[:2], g[2:6]
        return (not (first == EOS).any()) and bool((second == EOS).any()) and r["blocks"] == 2
    eos_prompt, _ = search_prompt(gen, 6, lambda p: bg.sdar_generate(m, p, stop_ids=[EOS], **kw), eos_ok)
    eos = both_modes(lambda **k: bg.sdar_generate(m, eos_prompt, stop_ids=[EOS], **kw, **k))
    save_golden(os.path.join(d, "generate_golden.safetensors"),
                {"prompt_ids": prompt, "output_static_ids": runs["low_confidence_static"]["x"],
                 "output_dynamic_ids": runs["low_confidence_dynamic"]["x"],
                 "nfe": torch.tensor([runs["low_confidence_static"]["nfe"], runs["low_confidence_dynamic"]["nfe"]]),
                 "eos_prompt_ids": eos_prompt, "eos_output_ids": eos["x"],
                 "eos_nfe_blocks": torch.tensor([eos["nfe"], eos["blocks"]])},
                dict(kw, temperature=0.0, confidence_threshold_dynamic=0.3, stop_ids=[EOS], prompt_length=6,
                     source="JetAstra/SDAR generate.py block_diffusion_generate (block_generate.sdar_generate)",
                     note="canvas = 3 whole blocks of 4 from position 0 (prompt 6 = 1 prefilled block + 2 prompt "
                          "tokens in the first decoded block); nfe = prefill + denoising calls + one store call per "
                          "block; eos_*: stop after the block containing a stop id (2 blocks decoded, the rest stays "
                          "masked); cached and uncached decodes give the same tokens"))


def fast_dllm_v2_generate_golden(d):
    """Fast-dLLM v2 batch_sample on fast_dllm_v2_tiny (bd_size 8, small blocks of 4), prompt 11
    (one prefilled block), max_new_tokens 24: thresholds 0.9 and 0.3, without and with the
    sub-block cache; a prompt of 16 (the next token from the prefill's last row); an EOS case."""
    m = qwen.load_pretrained(d, torch.float64)
    gen = torch.Generator().manual_seed(SEED + 2)
    kw = dict(block_size=8, max_new_tokens=24, small_block_size=4, mask_id=MASK, pad_id=PAD, stop_token=EOS)
    fine = lambda r, p: no_special(r, p.shape[1]) and not r["finished"]  # noqa: E731
    prompt, _ = search_prompt(gen, 11, lambda p: bg.fast_dllm_v2_sample(m, p, threshold=0.9, **kw), fine)
    t = {"prompt_ids": prompt}
    nfe = []
    for thr in (0.9, 0.3):
        r = both_modes(lambda **k: bg.fast_dllm_v2_sample(m, prompt, threshold=thr, **kw, **k))
        t[f"output_t{int(thr * 10)}_ids"] = r["x"]
        nfe.append(r["nfe"])
        rb = bg.fast_dllm_v2_sample(m, prompt, threshold=thr, use_block_cache=True, **kw)
        t[f"output_t{int(thr * 10)}_blockcache_ids"] = rb["x"]
        nfe.append(rb["nfe"])
    t["nfe"] = torch.tensor(nfe)
    p16, _ = search_prompt(gen, 16, lambda p: bg.fast_dllm_v2_sample(m, p, threshold=0.9, **kw), fine)
    r16 = both_modes(lambda **k: bg.fast_dllm_v2_sample(m, p16, threshold=0.9, **kw, **k))
    t.update({"prompt16_ids": p16, "output16_ids": r16["x"], "nfe16": torch.tensor([r16["nfe"]])})

    def eos_ok(r, p):
        g = r["x"][0, 11:]
        return r["finished"] and r["blocks"] == 2 and not bool((g[:5] == EOS).any())
    pe, _ = search_prompt(gen, 11, lambda p: bg.fast_dllm_v2_sample(m, p, threshold=0.9, **kw), eos_ok)
    re_ = both_modes(lambda **k: bg.fast_dllm_v2_sample(m, pe, threshold=0.9, **kw, **k))
    t.update({"eos_prompt_ids": pe, "eos_output_ids": re_["x"], "eos_nfe_blocks": torch.tensor([re_["nfe"], re_["blocks"]])})
    save_golden(os.path.join(d, "generate_golden.safetensors"), t,
                dict(kw, temperature=0.0, thresholds=[0.9, 0.3], prompt_length=11,
                     source="NVlabs/Fast-dLLM v2/generation_functions.py batch_sample (block_generate.fast_dllm_v2_sample)",
                     note="output_tN_ids: threshold N/10 without the sub-block cache (cached == uncached decode); "
                          "*_blockcache_ids: use_block_cache (approximate); nfe = [t9, t9 block cache, t3, t3 block "
                          "cache]: prefill + every denoising call + one update call per finished block (which also "
                          "appends the next block's first token, the argmax of the block's last row); "
                          "output16: a prompt of two whole blocks (the prefill's last row gives the next token); "
                          "eos_*: the stop token is committed in the second block: that block is completed, tokens "
                          "after the first stop become pad_id (96), no update call"))


def dllm_generate_golden(d):
    """dllm BD3LMSampler on dllm_qwen3_tiny (a2d-qwen3 used as BD3LM, block 8), prompt 5 (left-
    padded by 3), max_new_tokens 24, steps 24 (8 per block); an EOS case (eos 95)."""
    m = qwen.load_pretrained(d, torch.float64)
    gen = torch.Generator().manual_seed(SEED + 3)
    kw = dict(mask_id=MASK, pad_id=PAD, max_new_tokens=24, block_size=8, steps=24)
    prompt, _ = search_prompt(gen, 5, lambda p: bg.dllm_bd3lm_sample(m, p[0], eos_id=-1, **kw),
                              lambda r, p: no_special(r, 8))
    r = both_modes(lambda **k: bg.dllm_bd3lm_sample(m, prompt[0], eos_id=-1, **kw, **k))
    rs = both_modes(lambda **k: bg.dllm_bd3lm_sample(m, prompt[0], eos_id=-1, right_shift_logits=True, **kw, **k))

    def eos_ok(r, p):
        g = r["x"][0, 8:]
        return r["blocks"] == 2 and not bool((g[:8] == EOS).any()) and bool((g[8:16] == EOS).any()) and no_special(r, 8)
    pe, _ = search_prompt(gen, 5, lambda p: bg.dllm_bd3lm_sample(m, p[0], eos_id=EOS, **kw), eos_ok)
    re_ = both_modes(lambda **k: bg.dllm_bd3lm_sample(m, pe[0], eos_id=EOS, **kw, **k))
    save_golden(os.path.join(d, "generate_golden.safetensors"),
                {"prompt_ids": prompt, "output_ids": r["x"], "output_shift_ids": rs["x"],
                 "nfe": torch.tensor([r["nfe"], rs["nfe"]]), "eos_prompt_ids": pe, "eos_output_ids": re_["x"],
                 "eos_nfe_blocks": torch.tensor([re_["nfe"], re_["blocks"]])},
                dict(kw, temperature=0.0, remasking="low_confidence", eos_id=EOS, prompt_length=5,
                     source="ZHZisZZ/dllm dllm/core/samplers/bd3lm.py BD3LMSampler.sample (block_generate.dllm_bd3lm_sample)",
                     note="output x = 3 pads + prompt + generated blocks; pads are neither queries nor keys, "
                          "positions cumsum(valid) - 1; nfe: one prefix call per block + one per step; "
                          "output_shift_ids: right_shift_logits True; eos_*: stops after the second block"))


def bd3lm_generate_golden(d):
    """BD3-LM _semi_ar_sampler (first-hitting) on bd3lm_tiny: 3 blocks of 4, 8 steps per block,
    nucleus 1.0 and 0.9, with every random draw recorded (t uniforms, Gumbel uniforms per step
    [4, 97], the uniformly drawn masked position)."""
    m = dit.load_pretrained(d, torch.float64)
    t = {}
    for name, p in (("p10", 1.0), ("p09", 0.9)):
        runs = [bg.bd3lm_semi_ar_sample(m, 3, 8, bos_id=EOS, rng=bg.RecordingRng(SEED + 4), nucleus_p=p,
                                        use_cache=c) for c in (True, False)]
        assert torch.equal(runs[0]["x"], runs[1]["x"])
        r = runs[0]
        gumbel = torch.stack([v for k, v in r["log"] if k == "gumbel"])[:, 0]
        index = torch.tensor([v for k, v in r["log"] if k == "index"])
        tu = torch.tensor([v for k, v in r["log"] if k == "t"], dtype=torch.float64)
        t.update({f"output_{name}_ids": r["x"], f"gumbel_{name}": gumbel, f"index_{name}": index,
                  f"t_uniform_{name}": tu, f"nfe_{name}": torch.tensor([r["nfe"]])})
    save_golden(os.path.join(d, "generate_golden.safetensors"), t,
                {"source": "kuleshov-group/bd3lms diffusion.py _semi_ar_sampler, first_hitting, kv_cache "
                           "(block_generate.bd3lm_semi_ar_sample)",
                 "num_strides": 3, "num_steps": 8, "block_size": 4, "bos_id": EOS, "mask_id": V - 1,
                 "note": "step s: the block's rows get proposals argmax(p_x0 / (1e-10 - log(gumbel[s] + 1e-10))), "
                         "p_x0 = nucleus(exp(SUBS(logits))) of the block; masked position index[s] (counted among "
                         "the block's masked positions in order) takes its proposal; t_uniform only feeds sigma, "
                         "unused (time_conditioning false); nfe = one call per step + one store call per block"})


def llada_block_golden():
    """ddiff's block-diffusion LLaDA (config key block_size, tools/train/train.py --objective
    bd3lm): the existing llada_tiny_f32 weights under the block-causal mask (blocks of 4),
    float64; the C++ test loads the weights with a config that adds block_size 4."""
    d = os.path.join(MODELS, "llada_tiny_f32")
    m = llada.load_pretrained(d, torch.float64)
    gen = torch.Generator().manual_seed(SEED + 5)
    ids = make_ids(gen)
    with torch.no_grad():
        lg = m(ids, attn_mask=qwen.block_causal_mask(L, L, 4))
    save_golden(os.path.join(d, "golden_block.safetensors"), {"input_ids": ids, "logits_f64": lg},
                {"model": "llada_tiny_f32 weights with config block_size 4", "block_length": 4,
                 "computed": "float64 (tools/reference/llada.py with attn_mask = block-causal, blocks of 4)"})


def main():
    if sys.argv[1:] == ["--only", "llada_block"]:   # one golden without rerunning the searches
        llada_block_golden()
        return
    torch.set_num_threads(1)
    os.makedirs(MODELS, exist_ok=True)
    gen = torch.Generator().manual_seed(SEED)
    qwen3_block_golden(gen)
    cfg, d = qwen_tiny("sdar_tiny", "sdar", gen, tok=tokenizer_config("<|MASK|>"), head_dim=24, block_size=4,
                       tie_word_embeddings=True)
    qwen_logit_goldens(cfg, d, gen, 4)
    cfg, d = qwen_tiny("fast_dllm_v2_tiny", "Fast_dLLM_Qwen", gen, bd_size=8, tie_word_embeddings=False,
                       extra={"mask_token_id": MASK, "pad_token_id": PAD})
    qwen_logit_goldens(cfg, d, gen, 8)
    cfg, d = qwen_tiny("dllm_qwen3_tiny", "a2d-qwen3", gen, tok=tokenizer_config("<|mask|>"), head_dim=16,
                       attention_bias=True, tie_word_embeddings=True, extra={"pad_token_id": PAD})
    qwen_logit_goldens(cfg, d, gen, 8, pad_layout=True)
    bd3lm_goldens(gen)
    llada_block_golden()
    sdar_generate_golden(os.path.join(MODELS, "sdar_tiny"))
    fast_dllm_v2_generate_golden(os.path.join(MODELS, "fast_dllm_v2_tiny"))
    dllm_generate_golden(os.path.join(MODELS, "dllm_qwen3_tiny"))
    bd3lm_generate_golden(os.path.join(MODELS, "bd3lm_tiny"))
    for name in ("sdar_tiny", "fast_dllm_v2_tiny", "dllm_qwen3_tiny", "bd3lm_tiny"):
        dd = os.path.join(MODELS, name)
        print(f"{name}: {sum(os.path.getsize(os.path.join(dd, f)) for f in os.listdir(dd))} bytes")


if __name__ == "__main__":
    main()
