#!/usr/bin/python3
# train.py: trains a small LLaDA-architecture masked diffusion LM, character level, on the
# King James Bible (Debian `bible` program; split and vocabulary in kjv_data.py), and exports
# it in the Hugging Face LLaDA layout (config.json, model.safetensors in BF16, vocab.json).
#
# Objective (LLaDA GUIDELINES.md pre-training loss, = MDLM's linear-schedule ELBO):
#   crop x of length L from the training stream; t ~ U(0, 1) per sequence;
#   p_mask = (1 - eps) t + eps (eps = 1e-3); mask each token independently with prob p_mask;
#   loss = sum_{masked i} CE(logits_i, x_i) / p_mask  /  (B * L).
#   (1% of the batches are cut to a random length in [1, L], as in GUIDELINES.md.)
# Block diffusion (--objective bd3lm, BD3-LM's objective, kuleshov-group/bd3lms diffusion.py
#   _forward_pass_diffusion / _sample_t and models/dit.py block_diff_mask): the sequence is cut
#   into blocks of --block-size characters; every block b draws its own t_b (antithetic over the
#   batch and blocks, as _sample_t), p_mask = (1 - eps) t_b + eps as above; the model reads
#   x_t (+) x_0 (2L rows, RoPE positions 0..L-1 twice) under BD3-LM's training mask: x_t rows see
#   their own noisy block and the clean blocks before it, x_0 rows see clean blocks up to their
#   own; loss = sum_{masked i} CE(logits_i, x_i) / p_mask_i / (B * L), the logits of the x_t half.
#   Its expectation is the block-diffusion NELBO: per block, the masked-diffusion bound of the
#   block given the clean blocks before it. Exported with the config key "block_size" (ddiff's
#   extension of the LLaDA layout: block-causal attention with that block length).
#   --init-from DIR starts from a trained LLaDA-layout checkpoint (BD3-LM fine-tunes from MDLM).
# Optimiser: AdamW, linear warmup then cosine decay to lr_min; grad-norm clip 1.0.
# Deterministic for a given --seed: single thread, one torch.Generator drives crops, t, masks.
#
# Outputs: models/kjv-char/{config.json, model.safetensors (BF16), vocab.json,
#   training_log.csv, training_summary.json}, docs/images/training_loss.png, docs/training.md
#   (via write_training_doc.py).  A resumable state goes to --state (outside the repo).
#
# Regenerate (the full run, ~1 h on one thread):
#   nohup /usr/bin/python3 tools/train/train.py --steps 850 > /work/train.log 2>&1 &
# Smoke test: /usr/bin/python3 tools/train/train.py --steps 20 --out /tmp/kjv_smoke --no-doc
# Block diffusion, fine-tuned from the shipped model (see --objective bd3lm above):
#   /usr/bin/python3 tools/train/train.py --objective bd3lm --block-size 16 --init-from models/kjv-char \
#       --steps 800 --lr 5e-4 --lr-min 5e-5 --warmup 50 --threads 2 --out models/kjv-char-block16 \
#       --state /work/kjv_train/state_block16.pt --no-doc
import argparse
import csv
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))
sys.path.insert(0, HERE)
import llada  # noqa: E402
import kjv_data  # noqa: E402


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--steps", type=int, default=850)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--d-model", type=int, default=256)
    ap.add_argument("--n-layers", type=int, default=6)
    ap.add_argument("--n-heads", type=int, default=8)
    ap.add_argument("--n-kv-heads", type=int, default=8)
    ap.add_argument("--mlp-hidden", type=int, default=704)
    ap.add_argument("--rope-theta", type=float, default=10000.0)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--lr-min", type=float, default=2e-4)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--beta2", type=float, default=0.95)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--eps", type=float, default=1e-3)
    ap.add_argument("--rand-len-frac", type=float, default=0.01)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--eval-seqs", type=int, default=32)
    ap.add_argument("--final-eval-seqs", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "kjv-char"))
    ap.add_argument("--state", default="/work/kjv_train/state.pt")
    ap.add_argument("--save-every", type=int, default=100)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--restart-lr", type=float, default=None,
                    help="with --resume: a warm restart at the resumed step: linear warmup over "
                         "--restart-warmup steps to this lr, then cosine to --lr-min at --steps")
    ap.add_argument("--restart-warmup", type=int, default=50)
    ap.add_argument("--no-doc", action="store_true", help="do not write docs/ (smoke runs)")
    ap.add_argument("--objective", choices=["mdlm", "bd3lm"], default="mdlm",
                    help="mdlm: LLaDA's masked-diffusion loss; bd3lm: BD3-LM's block-diffusion loss")
    ap.add_argument("--block-size", type=int, default=16, help="bd3lm: block length (divides --seq-len)")
    ap.add_argument("--init-from", default=None,
                    help="start from the weights of this LLaDA-layout checkpoint (its dimensions win)")
    a = ap.parse_args()
    if a.objective == "bd3lm" and (a.block_size < 1 or a.seq_len % a.block_size != 0):
        ap.error(f"--block-size {a.block_size} must be >= 1 and divide --seq-len {a.seq_len}")
    return a


def lr_at(step, a, restart=None):
    if restart is not None and step >= restart["step"]:
        k = step - restart["step"]
        if k < restart["warmup"]:
            return restart["lr"] * (k + 1) / restart["warmup"]
        prog = (k - restart["warmup"]) / max(1, a.steps - restart["step"] - restart["warmup"])
        return a.lr_min + 0.5 * (restart["lr"] - a.lr_min) * (1 + math.cos(math.pi * min(1.0, prog)))
    if step < a.warmup:
        return a.lr * (step + 1) / a.warmup
    prog = (step - a.warmup) / max(1, a.steps - a.warmup)
    return a.lr_min + 0.5 * (a.lr - a.lr_min) * (1 + math.cos(math.pi * min(1.0, prog)))


def masked_diffusion_loss(model, x, t, u, mask_id, eps):
    """LLaDA pre-training loss for clean tokens x [B, L] given t [B] and uniforms u [B, L]."""
    B, L = x.shape
    p_mask = ((1 - eps) * t + eps)[:, None].expand(B, L)
    masked = u < p_mask
    noisy = torch.where(masked, torch.full_like(x, mask_id), x)
    logits = model(noisy)
    ce = F.cross_entropy(logits[masked], x[masked], reduction="none") / p_mask[masked]
    return ce.sum() / (B * L)


def block_diff_mask(L, b):
    """BD3-LM's training mask over x_t (+) x_0, bool [2L, 2L] (models/dit.py block_diff_mask):
    block-diagonal inside each half, x_t rows see x_0 blocks strictly before theirs, x_0 rows see
    x_0 blocks up to theirs."""
    q = torch.arange(2 * L)[:, None]
    k = torch.arange(2 * L)[None, :]
    x0q, x0k = q >= L, k >= L
    bq = torch.where(x0q, (q - L) // b, q // b)
    bk = torch.where(x0k, (k - L) // b, k // b)
    diagonal = (bq == bk) & (x0q == x0k)
    offset_causal = (bq > bk) & x0k & ~x0q
    causal = (bq >= bk) & x0k & x0q
    return diagonal | offset_causal | causal


def block_diffusion_loss(model, x, t_blocks, u, mask_id, eps, b):
    """BD3-LM loss for clean tokens x [B, L] given per-block times t_blocks [B, L / b] and
    uniforms u [B, L] (docstring of the file)."""
    B, L = x.shape
    t = t_blocks.repeat_interleave(b, dim=1)
    p_mask = (1 - eps) * t + eps
    masked = u < p_mask
    noisy = torch.where(masked, torch.full_like(x, mask_id), x)
    pos = torch.arange(L)
    logits = model(torch.cat([noisy, x], dim=1), positions=torch.cat([pos, pos]),
                   attn_mask=block_diff_mask(L, b))[:, :L]
    ce = F.cross_entropy(logits[masked], x[masked], reduction="none") / p_mask[masked]
    return ce.sum() / (B * L)


def block_times(B, nb, gen, antithetic=True):
    """_sample_t: one t per (sequence, block), stratified over the B * nb draws (antithetic)."""
    e = torch.rand(B, nb, generator=gen)
    if antithetic:
        off = torch.arange(B * nb, dtype=torch.float32).view(B, nb) / (B * nb)
        e = (e / (B * nb) + off) % 1
    return e


def objective_loss(a, model, x, t, u, mask_id):
    """t: [B] (mdlm) or [B, L / block] (bd3lm)."""
    if a.objective == "bd3lm":
        return block_diffusion_loss(model, x, t, u, mask_id, a.eps, a.block_size)
    return masked_diffusion_loss(model, x, t, u, mask_id, a.eps)


def heldout_batches(held_ids, n, L, seed, eps, block=None):
    """Fixed held-out evaluation set: n crops at evenly spaced offsets, t and masks from a
    dedicated generator (same every evaluation)."""
    g = torch.Generator().manual_seed(seed + 99991)
    span = len(held_ids) - L
    starts = [int(i * span / max(1, n - 1)) for i in range(n)]
    x = torch.stack([held_ids[s:s + L] for s in starts])
    t = torch.rand(n, generator=g) if block is None else torch.rand(n, L // block, generator=g)
    u = torch.rand(n, L, generator=g)
    return x, t, u


@torch.no_grad()
def evaluate(a, model, data, mask_id, chunk=16):
    x, t, u = data
    model.eval()
    tot = 0.0
    for i in range(0, x.shape[0], chunk):
        xb = x[i:i + chunk]
        tot += objective_loss(a, model, xb, t[i:i + chunk], u[i:i + chunk], mask_id).item() * xb.shape[0]
    model.train()
    return tot / x.shape[0]


def main():
    a = parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    torch.use_deterministic_algorithms(True)

    train_text, held_text = kjv_data.split_texts()
    vocab = kjv_data.build_vocab(train_text + held_text)
    mask_id, eos_id, pad_id = (vocab[s] for s in kjv_data.SPECIAL_TOKENS)
    V = len(vocab)
    train_ids = torch.tensor(kjv_data.encode(train_text, vocab), dtype=torch.long)
    held_ids = torch.tensor(kjv_data.encode(held_text, vocab), dtype=torch.long)
    L = a.seq_len

    cfg = llada.make_config(
        d_model=a.d_model, n_heads=a.n_heads, n_kv_heads=a.n_kv_heads, n_layers=a.n_layers,
        mlp_hidden_size=a.mlp_hidden, mlp_ratio=max(1, round(a.mlp_hidden / a.d_model)),
        rope_theta=a.rope_theta, max_sequence_length=4 * L, vocab_size=V, embedding_size=V,
        mask_token_id=mask_id, eos_token_id=eos_id, pad_token_id=pad_id,
        init_device="cpu", init_fn="normal", precision="fp32")
    if a.init_from:
        with open(os.path.join(a.init_from, "config.json")) as f:
            cfg = json.load(f)
        cfg.pop("block_size", None)
        model = llada.load_pretrained(a.init_from, torch.float32).train()
        if cfg["vocab_size"] != V or cfg["mask_token_id"] != mask_id:
            sys.exit(f"--init-from {a.init_from}: vocabulary {cfg['vocab_size']} / mask {cfg['mask_token_id']}, "
                     f"expected {V} / {mask_id} (kjv_data.py)")
        if cfg["max_sequence_length"] < L:
            sys.exit(f"--init-from {a.init_from}: max_sequence_length {cfg['max_sequence_length']} < --seq-len {L}")
    else:
        model = llada.LLaDAModelLM(cfg)
        llada.init_weights(model, std=0.02, generator=torch.Generator().manual_seed(a.seed))
    nparams = llada.count_params(model)
    block = a.block_size if a.objective == "bd3lm" else None

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "wte" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "wte" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, a.beta2), eps=1e-8)
    gen = torch.Generator().manual_seed(a.seed)
    start_step = 0
    elapsed_before = 0.0
    restart = None
    # One entry per invocation that contributed steps: where it started, its command line and
    # threads, and (filled in when saving) where it ended and its wall time.
    phases = []
    os.makedirs(a.out, exist_ok=True)
    log_path = os.path.join(a.out, "training_log.csv")
    if a.resume and os.path.exists(a.state):
        st = torch.load(a.state)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        gen.set_state(st["gen"])
        torch.set_rng_state(st["torch_rng"])
        start_step = st["step"]
        elapsed_before = st["elapsed"]
        # The only state saved before phases were recorded came from the first published run,
        # `--steps 850` on one thread (saved at step 800).
        phases = st.get("phases", [{"start": 0, "argv": ["--steps", "850"], "threads": 1,
                                    "end": start_step, "wall_s": elapsed_before}])
        phases = [p for p in phases if p["start"] < start_step]
        phases[-1]["end"] = start_step
        restart = st.get("restart")
        if a.restart_lr is not None:
            if restart is not None and restart["step"] != start_step:
                sys.exit(f"--restart-lr: this state already has a restart at step {restart['step']}")
            restart = {"step": start_step, "lr": a.restart_lr, "warmup": a.restart_warmup}
        print(f"resumed at step {start_step}" +
              (f", warm restart to lr {restart['lr']:g} at step {restart['step']}" if restart else ""),
              flush=True)
        # drop log rows written after the saved state
        rows = list(csv.reader(open(log_path)))
        with open(log_path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(rows[0])
            for r in rows[1:]:
                if int(r[0]) <= start_step:
                    w.writerow(r)
    else:
        with open(log_path, "w", newline="") as f:
            csv.writer(f).writerow(["step", "tokens", "lr", "train_loss", "heldout_loss",
                                    "elapsed_s"])

    eval_data = heldout_batches(held_ids, a.eval_seqs, L, a.seed, a.eps, block)
    print(f"params {nparams} ({nparams * 2 / 1e6:.2f} MB in bf16), vocab {V}, train chars "
          f"{len(train_ids)}, heldout chars {len(held_ids)}, tokens/step {a.batch * L}, "
          f"steps {a.steps}", flush=True)

    if a.restart_lr is not None and restart is None:
        sys.exit("--restart-lr needs --resume and a saved state")
    phases.append({"start": start_step, "argv": sys.argv[1:], "threads": a.threads})
    t0 = time.time()
    model.train()
    for step in range(start_step, a.steps):
        lr = lr_at(step, a, restart)
        for gr in opt.param_groups:
            gr["lr"] = lr
        starts = torch.randint(0, len(train_ids) - L, (a.batch,), generator=gen)
        x = torch.stack([train_ids[s:s + L] for s in starts.tolist()])
        if torch.rand(1, generator=gen).item() < a.rand_len_frac:
            if block:   # a random number of whole blocks
                cut = block * int(torch.randint(1, L // block + 1, (1,), generator=gen).item())
            else:
                cut = int(torch.randint(1, L + 1, (1,), generator=gen).item())
            x = x[:, :cut]
        if block:
            t = block_times(a.batch, x.shape[1] // block, gen)
        else:
            t = torch.rand(a.batch, generator=gen)
        u = torch.rand(x.shape, generator=gen)
        loss = objective_loss(a, model, x, t, u, mask_id)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        opt.step()

        elapsed = elapsed_before + time.time() - t0
        held = ""
        if (step + 1) % a.eval_every == 0 or step + 1 == a.steps:
            held = evaluate(a, model, eval_data, mask_id)
        with open(log_path, "a", newline="") as f:
            csv.writer(f).writerow([step + 1, (step + 1) * a.batch * L, f"{lr:.6g}",
                                    f"{loss.item():.6f}", f"{held:.6f}" if held != "" else "",
                                    f"{elapsed:.1f}"])
        if (step + 1) % 10 == 0 or held != "":
            rate = (step + 1 - start_step) * a.batch * L / max(1e-9, time.time() - t0)
            eta = (a.steps - step - 1) * a.batch * L / max(rate, 1e-9)
            msg = f"step {step + 1}/{a.steps} loss {loss.item():.4f} lr {lr:.2e} tok/s {rate:.0f} " \
                  f"elapsed {elapsed / 60:.1f} min eta {eta / 60:.1f} min"
            if held != "":
                msg += f" | heldout {held:.4f} nats/char = {held / math.log(2):.4f} bits/char"
            print(msg, flush=True)
        if a.save_every and (step + 1) % a.save_every == 0 and step + 1 < a.steps:
            os.makedirs(os.path.dirname(a.state), exist_ok=True)
            phases[-1].update(end=step + 1, wall_s=time.time() - t0)
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(),
                        "gen": gen.get_state(), "torch_rng": torch.get_rng_state(),
                        "step": step + 1, "elapsed": elapsed, "phases": phases,
                        "restart": restart}, a.state + ".tmp")
            os.replace(a.state + ".tmp", a.state)

    wall = elapsed_before + time.time() - t0
    phases[-1].update(end=a.steps, wall_s=time.time() - t0)
    # Final held-out estimate with more crops (float32 weights, before bf16 export).
    final_data = heldout_batches(held_ids, a.final_eval_seqs, L, a.seed + 1, a.eps, block)
    final_held = evaluate(a, model, final_data, mask_id)
    # Export: BF16 safetensors in the HF layout (+ block_size for the block-diffusion model).
    model.config = dict(model.config)
    model.config.pop("block_size", None)
    llada.save_pretrained(model, a.out, dtype="BF16", extra_config={"block_size": block} if block else None)
    with open(os.path.join(a.out, "vocab.json"), "w") as f:
        json.dump(vocab, f, indent=1, ensure_ascii=False)
        f.write("\n")
    # Same estimate from the exported bf16 weights (computed in float32).
    bf = llada.load_pretrained(a.out, torch.float32)
    final_held_bf16 = evaluate(a, bf, final_data, mask_id)
    rows = list(csv.DictReader(open(log_path)))
    last_train = sum(float(r["train_loss"]) for r in rows[-50:]) / min(50, len(rows))
    summary = {
        "args": vars(a), "phases": phases, "restart": restart, "params": nparams,
        "bf16_bytes": os.path.getsize(os.path.join(a.out, "model.safetensors")),
        "vocab_size": V, "mask_token_id": mask_id, "eos_token_id": eos_id, "pad_token_id": pad_id,
        "train_chars": len(train_ids), "heldout_chars": len(held_ids),
        "tokens_seen": a.steps * a.batch * L, "wall_time_s": wall,
        "final_train_loss_last50_mean": last_train,
        "final_heldout_loss_f32_nats": final_held,
        "final_heldout_bpc_f32": final_held / math.log(2),
        "final_heldout_loss_bf16_nats": final_held_bf16,
        "final_heldout_bpc_bf16": final_held_bf16 / math.log(2),
        "final_eval_seqs": a.final_eval_seqs, "torch": torch.__version__,
    }
    with open(os.path.join(a.out, "training_summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print("done:", json.dumps({k: v for k, v in summary.items() if k != "args"}), flush=True)
    if not a.no_doc and a.objective == "mdlm":
        import write_training_doc
        write_training_doc.main(a.out)
    elif not a.no_doc:
        print("write_training_doc.py renders the kjv-char (MDLM) documentation only; not run for bd3lm")


if __name__ == "__main__":
    main()
