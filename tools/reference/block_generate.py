#!/usr/bin/python3
# block_generate.py: PyTorch transcriptions of the block-diffusion references' generation loops
# (facts from the upstream code, our own code; docs/notes/block-diffusion.md describes each):
#
#   sdar_generate        JetAstra/SDAR generate.py block_diffusion_generate
#   fast_dllm_v2_sample  NVlabs/Fast-dLLM v2/generation_functions.py Fast_dLLM_QwenForCausalLM.batch_sample
#                        (the function its eval.py binds as mdm_sample), one sequence; with and without
#                        its sub-block cache (use_block_cache)
#   dllm_bd3lm_sample    ZHZisZZ/dllm dllm/core/samplers/bd3lm.py BD3LMSampler.sample, one sequence,
#                        LinearAlphaScheduler (the default), cfg_scale 0
#   bd3lm_semi_ar_sample kuleshov-group/bd3lms diffusion.py _semi_ar_sampler / _ddpm_caching_update
#                        (first-hitting, nucleus), one sequence, with the random draws recorded
#
# Every function takes `use_cache`: True runs the model as the reference does (committed blocks'
# keys and values kept: SDAR store_kv, Fast-dLLM v2 update_past_key_values, BD3-LM store_kv; dllm
# recomputes its prefix once per block), False recomputes the whole canvas with the block-causal
# mask at every call. With block-causal attention the two are the same computation, so they give
# the same tokens (asserted by make_block_goldens.py); the number of model calls is reported for
# the reference's own schedule (`nfe`).
#
# Temperature 0 (the goldens' setting): the proposal is argmax(logits) and its confidence is
# softmax(logits)[argmax], as Fast-dLLM v2's sample_with_top_p does at temperature 0. SDAR's
# sample_with_temperature_topk_topp divides by the temperature (0 gives inf / NaN upstream), and
# dllm's add_gumbel_noise returns the logits unchanged at 0: both then reduce to this rule.
#
# Library module; make_block_goldens.py writes the goldens.
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qwen  # noqa: E402


def propose(logits, temperature=0.0, generator=None):
    """(x0, confidence) per row; temperature 0: argmax and softmax(logits)[argmax]."""
    p = torch.softmax(logits.to(torch.float64), dim=-1)
    if temperature == 0:
        x0 = p.argmax(dim=-1)
    else:
        q = torch.softmax(logits.to(torch.float64) / temperature, dim=-1)
        x0 = torch.multinomial(q.reshape(-1, q.shape[-1]), 1, generator=generator).reshape(q.shape[:-1])
        p = q
    return x0, torch.gather(p, -1, x0[..., None]).squeeze(-1)


class Counter:
    """Counts model calls."""

    def __init__(self, model):
        self.model, self.calls = model, 0

    def __call__(self, *a, **k):
        self.calls += 1
        with torch.no_grad():
            return self.model(*a, **k)


# --------------------------------------------------------------------------------------- SDAR
def sdar_num_transfer_tokens(block_length, steps):
    """generate.py get_num_transfer_tokens: block_length // steps each, +1 for the first
    block_length % steps steps (for the whole block length, whatever is already unmasked)."""
    base, rem = block_length // steps, block_length % steps
    return [base + (1 if i < rem else 0) for i in range(steps)]


def sdar_generate(model, prompt, mask_id, gen_length=128, block_length=8, denoising_steps=8, temperature=0.0,
                  remasking_strategy="low_confidence_dynamic", confidence_threshold=0.85, stop_ids=None,
                  use_cache=True):
    """block_diffusion_generate for one sequence. prompt: LongTensor [1, P].
    Canvas: ceil((P + gen_length) / L) whole blocks from position 0 (the prompt's last partial
    block is the first denoised block: its prompt tokens stay, its masks are filled). Prefill: the
    prompt's whole blocks in one call that stores their keys/values. Each block: up to
    denoising_steps + 1 iterations; an iteration with no mask left makes the store call (keys and
    values of the finished block) and ends the block; otherwise a call on the block's rows against
    the cache, proposals, and the commit rule. After a block, stop if any stop id appears in
    x[:, P:]. Returns dict(x [1, total], nfe, blocks, steps)."""
    P = prompt.shape[1]
    L = block_length
    num_blocks = (P + gen_length + L - 1) // L
    total = num_blocks * L
    x = torch.full((1, total), mask_id, dtype=torch.long)
    x[:, :P] = prompt
    prefill_blocks = P // L
    call = Counter(model)
    past = None
    if prefill_blocks > 0 and use_cache:
        n = prefill_blocks * L
        _, past = call(x[:, :n], mask=qwen.block_causal_mask(n, n, L))
    elif prefill_blocks > 0:
        call.calls += 1            # the reference's prefill call (uncached: nothing to keep)
    ntt = sdar_num_transfer_tokens(L, denoising_steps)
    blocks_done, steps = 0, 0
    for nb in range(prefill_blocks, num_blocks):
        lo, hi = nb * L, (nb + 1) * L
        cur = x[:, lo:hi].clone()
        for step in range(denoising_steps + 1):
            mask_index = cur == mask_id
            if mask_index.sum() == 0:
                if use_cache:       # store_kv=True: the finished block's keys and values
                    _, past = call(cur, positions=torch.arange(lo, hi),
                                   mask=qwen.block_causal_mask(L, hi, L, q_offset=lo), past=past)
                else:
                    call.calls += 1
                break
            if use_cache:
                logits, _ = call(cur, positions=torch.arange(lo, hi),
                                 mask=qwen.block_causal_mask(L, hi, L, q_offset=lo), past=past)
            else:
                canvas = torch.cat([x[:, :lo], cur], dim=1)
                logits, _ = call(canvas, mask=qwen.block_causal_mask(hi, hi, L))
                logits = logits[:, lo:hi]
            steps += 1
            x0, x0_p = propose(logits[0], temperature)
            conf = torch.where(mask_index[0], x0_p, torch.full_like(x0_p, float("-inf")))
            if step == denoising_steps:
                # masks left after the planned steps (a committed proposal was the mask id itself):
                # upstream indexes num_transfer_tokens[denoising_steps] and fails
                raise ValueError("SDAR: masks left after denoising_steps steps")
            k = ntt[step]
            if remasking_strategy in ("low_confidence_static", "low_confidence_dynamic") and k > int(mask_index.sum()):
                # topk would pick -inf (unmasked) positions and overwrite them with x0: an upstream
                # quirk the goldens avoid (block_length / steps transfers never exceed the masks).
                raise ValueError(f"SDAR: {k} transfers for {int(mask_index.sum())} masks (upstream overwrites "
                                 "unmasked tokens here)")
            transfer = torch.zeros(L, dtype=torch.bool)
            if remasking_strategy == "low_confidence_static":
                transfer[torch.topk(conf, k).indices] = True
            elif remasking_strategy == "low_confidence_dynamic":
                high = conf > confidence_threshold
                if int(high.sum()) >= k:
                    transfer = high
                else:
                    transfer[torch.topk(conf, k).indices] = True
            elif remasking_strategy == "sequential":
                first = int(mask_index[0].nonzero()[0, 0])
                transfer[first:first + k] = True
            else:
                raise ValueError(remasking_strategy)
            cur[0, transfer] = x0[transfer]
        x[:, lo:hi] = cur
        blocks_done += 1
        if stop_ids is not None and any(int(s) in x[0, P:].tolist() for s in stop_ids):
            break
    return dict(x=x, nfe=call.calls, blocks=blocks_done, steps=steps)


# ------------------------------------------------------------------------------ Fast-dLLM v2
def fast_dllm_v2_sample(model, input_ids, block_size, max_new_tokens, small_block_size, mask_id, pad_id,
                        threshold=0.95, stop_token=151645, use_block_cache=False, temperature=0.0,
                        use_cache=True):
    """batch_sample for one sequence (min_len = seq_len = P). input_ids [1, P], P != block_size
    (upstream then denoises a block that cannot see the prompt). Blocks are whole blocks from
    position 0. Prefill (P > block_size): the prompt's whole blocks in one call storing their keys
    and values; if P is a multiple of the block size, the argmax of the last row is appended (the
    next token, autoregressively). Each block: the canvas is extended with masks to the block's
    end; sub-blocks of small_block_size in order; while a sub-block has masks: a call on the
    block's rows (or, with use_block_cache, on the sub-block's rows against the block's cached
    keys and values), logits shifted (row i predicts position i + 1 of the block:
    cat(l[:1], l[:-1])), proposals, commit every masked position of the sub-block with
    confidence > threshold and always the most confident one. A stop token committed marks the
    sequence finished. When the block has no mask: if finished, everything after the first stop
    token after the prompt becomes pad_id and generation ends (no further call); else one call on
    the block stores its keys and values and its last row's argmax is appended as the next
    block's first token. At most max_new_tokens // block_size + P // block_size blocks are
    visited. Returns dict(x, nfe, blocks, finished)."""
    P = input_ids.shape[1]
    bs = block_size
    assert P != bs, "upstream batch_sample: a prompt of exactly one block is never attended (P == block_size)"
    assert bs % small_block_size == 0
    num_blocks = max_new_tokens // bs + P // bs
    call = Counter(model)
    past = None
    x = input_ids.clone()
    if P > bs:
        n = P // bs * bs
        if use_cache:
            logits, past = call(x[:, :n], mask=qwen.block_causal_mask(n, n, bs))
        else:
            logits, _ = call(x[:, :n], mask=qwen.block_causal_mask(n, n, bs))
        if P % bs == 0:
            x = torch.cat([x, logits[:, -1:].argmax(dim=-1)], dim=1)
    finished = False
    blocks = 0
    for block_idx in range(P // bs, num_blocks):
        if finished:
            break
        x = torch.cat([x, torch.full((1, bs - x.shape[1] % bs), mask_id, dtype=torch.long)], dim=1)
        T = x.shape[1]
        lo = T - bs
        block_cache = None

        def run_block():
            """Logits of the block's rows (unshifted) and its rows' keys/values per layer."""
            if use_cache:
                logits, kv = call(x[:, lo:], positions=torch.arange(lo, T),
                                  mask=qwen.block_causal_mask(bs, T, bs, q_offset=lo), past=past)
                return logits, [(k[:, :, lo:], v[:, :, lo:]) for k, v in kv]
            logits, kv = call(x, mask=qwen.block_causal_mask(T, T, bs))
            return logits[:, lo:], [(k[:, :, lo:], v[:, :, lo:]) for k, v in kv]

        while True:
            mask_idx = x[0, lo:] == mask_id
            if mask_idx.sum() == 0:
                if finished:
                    gen = x[0, P:]
                    first = int((gen == stop_token).nonzero()[0, 0])
                    x[0, P + first + 1:] = pad_id
                    break
                logits, kv = run_block()     # update_past_key_values=True
                if use_cache:
                    past = [(torch.cat((p[0], k), 2), torch.cat((p[1], v), 2)) for p, (k, v) in zip(past, kv)] \
                        if past is not None else kv
                x = torch.cat([x, logits[:, -1:].argmax(dim=-1)], dim=1)
                break
            for sb in range(bs // small_block_size):
                s0, s1 = sb * small_block_size, (sb + 1) * small_block_size
                while True:
                    mask_idx = x[0, lo:] == mask_id
                    if mask_idx[s0:s1].sum() == 0:
                        break
                    if use_block_cache:
                        if block_cache is None or bool(x[0, lo + s0] == mask_id):
                            logits, block_cache = run_block()
                            logits = torch.cat([logits[:, :1], logits[:, :-1]], dim=1)[:, s0:s1]
                        else:
                            # the sub-block's rows against the committed prefix and the block's
                            # cached rows, in which they replace their own (no mask: all keys)
                            def kv_fn_for(li):
                                def fn(k_new, v_new):
                                    bk, bv = block_cache[li]
                                    bk[:, :, s0:s1] = k_new
                                    bv[:, :, s0:s1] = v_new
                                    if past is not None:
                                        return torch.cat((past[li][0], bk), 2), torch.cat((past[li][1], bv), 2)
                                    return bk, bv
                                return fn
                            assert use_cache, "the sub-block cache needs the prefix cache"
                            logits, _ = call(x[:, lo + s0:lo + s1], positions=torch.arange(lo + s0, lo + s1),
                                             mask=None, kv_fns=[kv_fn_for(li) for li in range(len(block_cache))])
                            logits = torch.cat([logits[:, :1], logits[:, :-1]], dim=1)
                    else:
                        logits, _ = run_block()
                        logits = torch.cat([logits[:, :1], logits[:, :-1]], dim=1)[:, s0:s1]
                    x1, p1 = propose(logits[0], temperature)
                    x1_p = torch.where(mask_idx[s0:s1], p1, torch.full_like(p1, float("-inf")))
                    unmask = x1_p > threshold
                    unmask[int(x1_p.argmax())] = True
                    unmask = unmask & mask_idx[s0:s1]
                    if bool((x1[unmask] == mask_id).all()):
                        # every committed proposal is the mask id itself: upstream loops forever
                        raise ValueError("Fast-dLLM v2: no progress (the proposals committed are the mask id)")
                    seg = x[0, lo + s0:lo + s1]
                    seg[unmask] = x1[unmask]
                    if bool(((x1 == stop_token) & unmask).any()):
                        finished = True
        blocks += 1
    return dict(x=x, nfe=call.calls, blocks=blocks, finished=finished)


# --------------------------------------------------------------------------------- dllm BD3LM
def dllm_num_transfer_tokens(mask_num, steps):
    """dllm get_num_transfer_tokens, LinearAlphaScheduler, deterministic: for j = 0..steps-1,
    t = (steps - j) / steps, s = t - 1 / steps, n_j = round(m * (1 - (1 - alpha(s)) / (1 - alpha(t))))
    with alpha(u) = 1 - u in float32 (the scheduler casts), m reduced by n_j, until m = 0; the
    zero entries dropped."""
    out, m = [], int(mask_num)
    for t_i, s_i in zip(range(steps, 0, -1), range(steps - 1, -1, -1)):
        s, t = s_i / steps, t_i / steps
        st, tt = torch.tensor(s, dtype=torch.float32), torch.tensor(t, dtype=torch.float32)
        ratio = ((1 - (1 - st)) / (1 - (1 - tt))).item()        # reverse_mask_prob (float32)
        n = int(torch.round(torch.tensor(m, dtype=torch.float64) * (1 - ratio)).item())
        n = min(n, m)
        m -= n
        out.append(n)
        if m == 0:
            break
    return [n for n in out if n > 0]


def dllm_layout(x, block, pad_id):
    """_prepare_for_sampling: valid = x != pad_id; positions cumsum(valid) - 1 (padding 0);
    mask: block(key) <= block(query) over physical rows, padding neither query nor key."""
    valid = x[0] != pad_id
    pos = torch.where(valid, valid.long().cumsum(0) - 1, torch.zeros_like(valid, dtype=torch.long))
    T = x.shape[1]
    m = qwen.block_causal_mask(T, T, block) & valid[None, :] & valid[:, None]
    return pos, m, valid


def dllm_bd3lm_sample(model, prompt, mask_id, pad_id, eos_id, max_new_tokens=128, block_size=32, steps=128,
                      steps_per_block=None, temperature=0.0, remasking="low_confidence", right_shift_logits=False,
                      use_cache=True):
    """BD3LMSampler.sample for one prompt (list or [P] tensor). The prompt is left-padded with
    pad_id to a multiple of block_size (padding: never a query nor a key; logical positions).
    Blocks of min(block_size, remaining) masks are appended one by one; per block: one call on
    the prefix (prompt + finished blocks) whose keys/values serve the block's steps (the
    reference recomputes the prefix every block; the exact cache keeps it, same numbers), then
    steps_per_block = ceil(steps / num_blocks) planned steps with the linear schedule's counts;
    each step one call on the block's rows against the prefix cache, proposals (argmax at
    temperature 0, confidence softmax), top-k commit. With right_shift_logits the block's first
    position reads the prefix call's last row and position i reads row i - 1. Stop after a block
    that contains eos_id. Returns dict(x [1, padded prompt + generated], nfe, blocks)."""
    p = torch.as_tensor(prompt, dtype=torch.long).reshape(-1)
    P = p.numel()
    padded = (P + block_size - 1) // block_size * block_size
    x = torch.full((1, padded), pad_id, dtype=torch.long)
    x[0, padded - P:] = p
    num_blocks = math.ceil(max_new_tokens / block_size)
    if steps_per_block is None:
        steps_per_block = math.ceil(steps / num_blocks)
    call = Counter(model)
    generated, blocks = 0, 0
    for _ in range(num_blocks):
        T0 = x.shape[1]
        cur = min(block_size, max_new_tokens - generated)
        if cur <= 0:
            break
        pos0, m0, _ = dllm_layout(x, block_size, pad_id)
        prefix_logits, past = call(x, positions=pos0, mask=m0)
        x = torch.cat([x, torch.full((1, cur), mask_id, dtype=torch.long)], dim=1)
        T = x.shape[1]
        ntt = dllm_num_transfer_tokens((x[0, T0:] == mask_id).sum(), steps_per_block)
        pos, m, _ = dllm_layout(x, block_size, pad_id)   # once per block, as the reference
        for i in range(len(ntt)):
            blk = x[:, T0:T]
            mask_block = blk[0] == mask_id
            if not mask_block.any():
                break
            if use_cache:
                logits, _ = call(blk, positions=pos[T0:], mask=m[T0:], past=past)
            else:
                logits, _ = call(x, positions=pos, mask=m)
                logits = logits[:, T0:]
            if right_shift_logits:
                logits = torch.cat([prefix_logits[:, -1:], logits[:, :-1]], dim=1)
            x0, x0_p = propose(logits[0], temperature)
            if remasking != "low_confidence":
                raise ValueError(remasking)
            x0 = torch.where(mask_block, x0, blk[0])
            conf = torch.where(mask_block, x0_p, torch.full_like(x0_p, float("-inf")))
            k = min(ntt[i], int(mask_block.sum()))
            if k > 0:
                sel = torch.topk(conf, k).indices
                blk[0, sel] = x0[sel]
        blocks += 1
        generated += cur
        if bool((x[0, T0:T] == eos_id).any()):
            break
    return dict(x=x, nfe=call.calls, blocks=blocks)


# ------------------------------------------------------------------------------------ BD3-LM
class RecordingRng:
    """The BD3-LM sampler's draws, recorded (np.random.rand for t, torch.rand_like for the Gumbel
    noise, torch.randint for the first-hitting index), from seeded generators."""

    def __init__(self, seed):
        self.np = np.random.RandomState(seed)
        self.g = torch.Generator().manual_seed(seed)
        self.log = []

    def rand(self):
        u = float(self.np.rand())
        self.log.append(("t", u))
        return u

    def rand_like(self, x):
        u = torch.rand(x.shape, dtype=x.dtype, generator=self.g)
        self.log.append(("gumbel", u.clone()))
        return u

    def randint(self, n):
        i = int(torch.randint(0, n, (1,), generator=self.g))
        self.log.append(("index", i))
        return i


def subs_probs(logits, xt, mask_id, neg_inf=-1000000.0):
    """exp of _subs_parameterization: mask column -1e6, log-softmax, unmasked rows one-hot."""
    lg = logits.clone().to(torch.float64)
    lg[..., mask_id] += neg_inf
    lg = lg - torch.logsumexp(lg, dim=-1, keepdim=True)
    un = xt != mask_id
    lg[un] = neg_inf
    lg[un, xt[un]] = 0
    return lg.exp()


def nucleus(p, top_p):
    """_nucleus_sample on the block's rows: keep the sorted prefix with cumulative mass <= p (and
    the top token), renormalise."""
    if top_p == 1.0:
        return p
    sp, si = p.sort(dim=-1, descending=True)
    keep = sp.cumsum(dim=-1) <= top_p
    keep[..., 0] = True
    out = torch.zeros_like(p).scatter(-1, si, sp * keep)
    return out / out.sum(-1, keepdim=True)


def bd3lm_semi_ar_sample(model, num_strides, num_steps, bos_id, rng, nucleus_p=1.0, context_size=1024,
                         use_cache=True):
    """_semi_ar_sampler with first_hitting (its default) for one sample. The canvas starts with one
    block of masks whose position 0 is BOS and grows by a block per stride. Per block, until no
    mask is left (at most num_steps steps): t *= u^(1/masked) (u = np.random.rand; t only feeds
    sigma, which time_conditioning false ignores); if the block changed since the last call, one
    call (the window's block rows; the cache holds the earlier blocks) gives p_x0 = exp(SUBS) on
    the block, nucleus-filtered; a Gumbel-max draw over p_x0 (u = torch.rand_like) proposes a token
    for every row, and one masked position, drawn uniformly (torch.randint), takes its proposal.
    With the kv cache, a block without masks is stored by one more call. (The 256-token stop
    checks never trigger on canvases this short.) Returns dict(x, nfe, blocks, log)."""
    mask_id = model.mask_token_id
    L = model.block_size
    call = Counter(model)
    past = None
    x = None
    sigma = torch.zeros(1, dtype=torch.float64)
    for stride in range(num_strides):
        blk = torch.full((1, L), mask_id, dtype=torch.long)
        if stride == 0:
            blk[0, 0] = bos_id
            x = blk
        else:
            x = torch.cat([x, blk], dim=1)
        end = (stride + 1) * L
        start = max(end - context_size, 0)
        assert start == 0, "transcribed for canvases inside one context window"
        t, p_x0 = 1.0, None
        for _ in range(num_steps):
            if not (x == mask_id).any():
                break
            u = rng.rand()
            t *= u ** (1 / int((x[0, start:end] == mask_id).sum()))
            if p_x0 is None:
                if use_cache:
                    logits = call(x[:, end - L:end], sigma, past=past)
                else:
                    logits = call(x[:, start:end], sigma)[:, -L:]
                p_x0 = nucleus(subs_probs(logits, x[:, end - L:end], mask_id), nucleus_p)
            gumbel = 1e-10 - (rng.rand_like(p_x0) + 1e-10).log()
            proposal = (p_x0 / gumbel).argmax(dim=-1)[0]
            masked = (x[0, end - L:end] == mask_id).nonzero()[:, 0]
            ind = int(masked[rng.randint(masked.numel())])
            old = x.clone()
            x[0, end - L + ind] = proposal[ind]
            if use_cache and not (x[0, end - L:end] == mask_id).any():
                kv = []
                call(x[:, end - L:end], sigma, past=past, kv_out=kv)   # store_kv
                past = kv
            if not torch.equal(old, x):
                p_x0 = None
    return dict(x=x, nfe=call.calls, blocks=num_strides, log=rng.log)
