#!/usr/bin/python3
# write_training_doc.py: renders docs/training.md and docs/images/training_loss.png from the
# outputs of train.py (models/kjv-char/training_log.csv and training_summary.json), plus the
# optional evaluation results models/kjv-char/eval_results.json (written by eval_elbo.py
# --record and ngram.py --record).  train.py calls it at the end of a run.
#
# Regenerate: /usr/bin/python3 tools/train/write_training_doc.py [models/kjv-char]
import csv
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
LN2 = math.log(2)


def plot(rows, png, title="LLaDA-architecture char MDM on the KJV Bible",
         ylabel="masked-diffusion NELBO bound [bits/char]"):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    steps = [int(r["step"]) for r in rows]
    tr = [float(r["train_loss"]) / LN2 for r in rows]
    k = 20
    sm = [sum(tr[max(0, i - k + 1):i + 1]) / (i + 1 - max(0, i - k + 1)) for i in range(len(tr))]
    hs = [(int(r["step"]), float(r["heldout_loss"]) / LN2) for r in rows if r["heldout_loss"]]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    ax.plot(steps, tr, color="#9ecae1", lw=0.6, label="train (per batch)")
    ax.plot(steps, sm, color="#3182bd", lw=1.4, label=f"train ({k}-step mean)")
    if hs:
        ax.plot([h[0] for h in hs], [h[1] for h in hs], "o-", color="#e6550d", ms=3, lw=1.2,
                label="held-out (Col-Rev, fixed masks)")
    ax.set_xlabel("optimizer step (8192 characters each)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    lo = min(min(sm), min(h[1] for h in hs) if hs else 9)
    ax.set_ylim(max(0, lo - 0.3), min(6.5, max(tr[:5]) + 0.2) if tr else 6)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    os.makedirs(os.path.dirname(png), exist_ok=True)
    fig.savefig(png)
    plt.close(fig)


def load_run(model_dir):
    """A train.py output directory: per-step log rows, the run summary, the evaluation results."""
    rows = list(csv.DictReader(open(os.path.join(model_dir, "training_log.csv"))))
    s = json.load(open(os.path.join(model_dir, "training_summary.json")))
    ev_path = os.path.join(model_dir, "eval_results.json")
    return rows, s, json.load(open(ev_path)) if os.path.exists(ev_path) else {}


def main(model_dir=None):
    model_dir = model_dir or os.path.join(ROOT, "models", "kjv-char")
    rows, s, ev = load_run(model_dir)
    a = s["args"]
    png = os.path.join(ROOT, "docs", "images", "training_loss.png")
    plot(rows, png)
    held = [(int(r["step"]), float(r["heldout_loss"])) for r in rows if r["heldout_loss"]]
    L = []
    w = L.append
    w("# Training the `kjv-char` model\n")
    w("`models/kjv-char/` holds a small masked diffusion language model with the exact LLaDA "
      "architecture (`model_type: llada`, `block_type: llama`), trained from scratch at the "
      "character level on the King James Bible. It is the project's real, CPU-sized test "
      "checkpoint: the same code path as LLaDA-8B, in a file of under 10 MB.\n")
    w("## Data\n")
    w("* Source: the Debian `bible-kjv` package (`bible -f Gen1:1-Rev22:21`, all 31,102 verses). "
      "The verse reference (`Ge1:1 `) is stripped; one verse per line, each line ends in `\\n`. "
      "Code: `tools/train/kjv_data.py`.")
    w(f"* Split by books: **training = Genesis 1:1 to Philippians 4:23** "
      f"({s['train_chars']:,} characters); **held-out = Colossians 1:1 to Revelation 22:21** "
      f"({s['heldout_chars']:,} characters, "
      f"{100 * s['heldout_chars'] / (s['train_chars'] + s['heldout_chars']):.2f}% of the corpus).")
    w(f"* Vocabulary ({s['vocab_size']} ids): the {s['vocab_size'] - 3} distinct characters of the "
      f"corpus sorted by code point (ids 0..{s['vocab_size'] - 4}; `\\n` is 0, space is 1), then "
      f"`<|mdm_mask|>` = {s['mask_token_id']}, `<|eos|>` = {s['eos_token_id']}, "
      f"`<|pad|>` = {s['pad_token_id']}. Stored as `vocab.json` ({{token: id}}); the ids are "
      f"also `mask_token_id`/`eos_token_id`/`pad_token_id` in `config.json`. No held-out "
      f"character is missing from the training split.\n")
    w("## Model\n")
    w(f"LLaDA `llama` block: d_model {a['d_model']}, {a['n_layers']} layers, {a['n_heads']} heads "
      f"(n_kv_heads {a['n_kv_heads']}, head_dim {a['d_model'] // a['n_heads']}), SwiGLU "
      f"mlp_hidden_size {a['mlp_hidden']}, RMSNorm eps 1e-5, RoPE theta {a['rope_theta']:g}, "
      f"no biases, untied head, bidirectional attention. {s['params']:,} parameters; the BF16 "
      f"`model.safetensors` is {s['bf16_bytes']:,} bytes. `config.json` carries the full "
      f"LLaDA-8B key set (see `tools/reference/llada.py`).\n")
    w("## Objective and optimisation\n")
    w("LLaDA pre-training loss (GUIDELINES.md), i.e. the MDLM linear-schedule NELBO: a random "
      f"crop x of L = {a['seq_len']} characters; t ~ U(0,1) per sequence; "
      f"p_mask = (1 - eps) t + eps with eps = {a['eps']:g}; every token is replaced by the mask "
      "id independently with probability p_mask; loss = (sum over masked positions of "
      "CE / p_mask) / (B * L). As in GUIDELINES.md, 1% of the batches are cut to a random "
      "length in [1, L]. The loss is an upper bound on the negative log-likelihood in nats per "
      "character; divided by ln 2 it is bits per character.\n")
    phases = s.get("phases") or [{"start": 0, "end": a["steps"], "argv": ["--steps", str(a["steps"])],
                                  "threads": a["threads"], "wall_s": s["wall_time_s"]}]
    rs = s.get("restart")
    first_total = a["steps"]
    if rs:  # the first phase's cosine ran to that phase's own --steps
        argv0 = phases[0]["argv"]
        first_total = int(argv0[argv0.index("--steps") + 1]) if "--steps" in argv0 else 850
    w(f"* AdamW, lr {a['lr']:g} peak, linear warmup {a['warmup']} steps, cosine decay to "
      f"{a['lr_min']:g} at step {first_total}; betas (0.9, {a['beta2']}), weight decay "
      f"{a['wd']} on matrices (not on norms/embedding), grad-norm clip {a['clip']}.")
    if rs:
        w(f"* Warm restart at step {rs['step']} (the run was resumed from the state saved there "
          f"and continued to step {a['steps']}): linear warmup over {rs['warmup']} steps to lr "
          f"{rs['lr']:g}, then cosine decay to {a['lr_min']:g} at step {a['steps']}. The optimizer "
          "state, the data generator and the torch RNG continue from the saved state.")
    w(f"* Batch {a['batch']} x {a['seq_len']} = {a['batch'] * a['seq_len']:,} characters per step; "
      f"{a['steps']} steps = {s['tokens_seen']:,} characters "
      f"({s['tokens_seen'] / s['train_chars']:.2f} passes over the training split).")
    w(f"* Init: N(0, 0.02), output projections (attn_out, ff_out) N(0, 0.02/sqrt(2 n_layers)), "
      f"norm weights 1 (`llada.init_weights`).")
    w(f"* Deterministic: seed {a['seed']}, `torch.set_num_threads(n)` with n = "
      f"{' then '.join(str(p['threads']) for p in phases)} (per phase below), one "
      "`torch.Generator` drives crop offsets, t and the mask uniforms; "
      "`torch.use_deterministic_algorithms(True)`. Float32 training on CPU "
      f"(torch {s['torch']}).")
    w(f"* Held-out loss during training: {a['eval_seqs']} fixed crops of the held-out split "
      "(evenly spaced offsets) with fixed t and masks, every "
      f"{a['eval_every']} steps.\n")
    w("Commands (the run reported here; each phase resumes from the state the previous one "
      "saved):\n")
    w("```")
    for p in phases:
        w(f"/usr/bin/python3 tools/train/train.py {' '.join(p['argv'])}   "
          f"# steps {p['start'] + 1}-{p['end']}, {p['threads']} thread(s), "
          f"{p.get('wall_s', 0) / 60:.1f} min")
    w("```\n")
    if rs:
        w(f"(The first command ran to step {first_total}; its steps after {rs['step']} were "
          "discarded when the second resumed from the state saved at step "
          f"{rs['step']}.)\n")
    w("## Results\n")
    w(f"* Wall time: {s['wall_time_s'] / 60:.1f} min "
      f"({', '.join(str(p['threads']) + ' thread(s) for ' + str(p['end'] - p['start']) + ' steps' for p in phases)}; "
      f"{s['tokens_seen'] / s['wall_time_s']:.0f} characters/s including evaluations).")
    w(f"* Final training loss (mean of the last 50 steps): "
      f"{s['final_train_loss_last50_mean']:.4f} nats/char = "
      f"{s['final_train_loss_last50_mean'] / LN2:.3f} bits/char.")
    if held:
        w(f"* Held-out loss at the last evaluation (step {held[-1][0]}): {held[-1][1]:.4f} nats/char "
          f"= {held[-1][1] / LN2:.3f} bits/char.")
    w(f"* Final held-out estimate, {s['final_eval_seqs']} fresh crops (one t and mask each): "
      f"float32 weights {s['final_heldout_bpc_f32']:.3f} bits/char; exported BF16 weights "
      f"(computed in float32) {s['final_heldout_bpc_bf16']:.3f} bits/char.")
    if ev:
        w("")
        w("Evaluations of the exported checkpoint (bits per character, held-out split unless "
          "stated):\n")
        w("| estimator | text | bits/char | std. error | notes |")
        w("| --- | --- | --- | --- | --- |")
        for k in sorted(ev):
            e = ev[k]
            se = f"{e['se_bpc']:.4f}" if e.get("se_bpc") is not None else "-"
            w(f"| {e['name']} | {e['text']} | {e['bpc']:.4f} | {se} | {e.get('notes', '')} |")
    sp = os.path.join(model_dir, "samples.json")
    if os.path.exists(sp):
        smp = json.load(open(sp, encoding="utf-8"))
        st = smp["settings"]
        w("")
        w(f"Samples (`tools/train/sample.py`: LLaDA `generate()`, gen_length {st['gen_length']}, "
          f"steps {st['steps']}, block_length {st['block_length']}, temperature "
          f"{st['temperature']}, low-confidence remasking; prompt shown before the `|`):\n")
        w("```")
        for x in smp["samples"]:
            w(x["prompt"] + "|" + x["text"][len(x["prompt"]):].replace("\n", "\\n"))
        w("```")
    w("")
    w("![training loss](images/training_loss.png)\n")
    w("Per-step values are in `models/kjv-char/training_log.csv` (step, characters seen, lr, "
      "train loss, held-out loss, elapsed seconds); the run summary is "
      "`models/kjv-char/training_summary.json`.\n")
    w("## Reproducing the evaluation numbers\n")
    w("```\n/usr/bin/python3 tools/train/eval_elbo.py --heldout --window-step 8 --mc-num 32 --record   "
      "# MC NELBO, LLaDA get_log_likelihood estimator\n"
      "/usr/bin/python3 tools/train/ngram.py --record [--window-step 8] "
      "# Witten-Bell char n-grams, n = 3 and 5\n"
      "/usr/bin/python3 tools/train/sample.py --record                "
      "# generation samples\n"
      "/usr/bin/python3 tools/train/write_training_doc.py             # re-render this page\n```\n")
    block_section(w)
    with open(os.path.join(ROOT, "docs", "training.md"), "w") as f:
        f.write("\n".join(L))
    print("wrote docs/training.md and", png)


def block_section(w):
    """The block-diffusion model (models/kjv-char-block16), fine-tuned from kjv-char, if present."""
    d = os.path.join(ROOT, "models", "kjv-char-block16")
    if not os.path.exists(os.path.join(d, "training_summary.json")):
        return
    rows, s, ev = load_run(d)
    a = s["args"]
    png = os.path.join(ROOT, "docs", "images", "training_loss_block16.png")
    plot(rows, png, title="Block diffusion (BD3-LM objective, blocks of 16), from kjv-char",
         ylabel="block-diffusion NELBO bound [bits/char]")
    w("\n## The block-diffusion model `kjv-char-block16`\n")
    w(f"`models/kjv-char-block16/` is the model above fine-tuned with BD3-LM's objective (kuleshov-group/bd3lms: "
      f"blocks of {a['block_size']} characters, each with its own noise level, attending to its own noisy block "
      f"and the clean blocks before it; x_t and x_0 in one {2 * a['seq_len']}-row forward under BD3-LM's training "
      f"mask), as BD3-LM fine-tunes from MDLM. Its config.json adds the key `block_size` = {a['block_size']}: "
      f"block-causal attention, which ddiff and tools/reference/llada.py read. Same data, vocabulary and "
      f"architecture as above ({s['params']:,} parameters, {s['bf16_bytes'] / 1e6:.2f} MB in BF16).\n")
    phases = s["phases"]
    w(f"Command{'s, one per phase (each resumes from the state the one before saved at its last step)' if len(phases) > 1 else ''}:"
      + "".join(f" steps {p['start']}-{p['end']}: `/usr/bin/python3 tools/train/train.py {' '.join(p['argv'])}`;" for p in phases)[:-1]
      + f" ({s['wall_time_s'] / 60:.0f} min on {phases[0]['threads']} threads, {s['tokens_seen']:,} characters seen).\n")
    w(f"Final held-out loss of the training script (BD3-LM's continuous-time bound, {s['final_eval_seqs']} "
      f"held-out sequences of {a['seq_len']}, fixed per-block t and masks): "
      f"**{s['final_heldout_bpc_bf16']:.4f} bits/char** with the exported BF16 weights "
      f"({s['final_heldout_bpc_f32']:.4f} in f32).\n")
    for k, v in ev.items():
        if k.startswith("elbo_mc"):
            step = k.split("every ")[1].split("th")[0] if "every " in k else "1"
            w(f"{v['name']} on {v['text']}: **{v['bpc']:.4f} bits/char** (standard error {v['se_bpc']:.4f}; "
              f"`/usr/bin/python3 tools/train/eval_elbo.py --model models/kjv-char-block16 --heldout --window-step {step} "
              f"--mc-num 32 --threads 2 --record`, a sparser subset than above: the block bound costs a forward per "
              f"block). docs/quality.md compares both models with `ddiff eval` on every 8th window.\n")
    w("![block-diffusion training loss](images/training_loss_block16.png)\n")
    w("Per-step values: `models/kjv-char-block16/training_log.csv`; summary: "
      "`models/kjv-char-block16/training_summary.json`.\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
