#!/usr/bin/python3
"""Plot alpha(t) for every ddiff noise schedule into docs/images/schedules.png.

Uses the independent numpy reference implementation in make_schedule_table.py
(the same one that produces the golden values for the C++ tests), with the
default parameters listed in docs/notes/schedules-research.md.

Regenerate (from the repo root):
    /usr/bin/python3 tools/schedules/plot_schedules.py
Needs numpy and matplotlib (Agg backend, no display).
"""

import os
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_schedule_table as ref  # noqa: E402

PANELS = [
    ("Log-linear and cosine (MDLM / SEDD / DUO / BD3-LM)",
     ["log_linear", "mdlm_cosine", "mdlm_cosine_squared", "duo_cosine",
      "bd3lm_cosine"]),
    ("BD3-LM power / log (clipped move chance)",
     ["bd3lm_square", "bd3lm_sqrt", "bd3lm_log", "log_linear"]),
    ("sigma-parameterised: alpha = exp(-sigma)",
     ["geometric", "linear_sigma"]),
    ("D3PM discrete (T = %d, linear interpolation)" % ref.D3PM_T,
     ["d3pm_jsd", "d3pm_linear", "d3pm_cosine"]),
    ("MaskGIT: alpha(t) = 1 - gamma(1 - t), N = %d, K = %g"
     % (ref.MASKGIT_N, ref.MASKGIT_POW_K),
     ["maskgit_uniform", "maskgit_pow", "maskgit_cosine", "maskgit_log",
      "maskgit_exp"]),
    ("ReMDM loop (t_on %.2f, t_off %.2f, alpha_on %.1f)"
     % (ref.REMDM_T_ON, ref.REMDM_T_OFF, ref.REMDM_ALPHA_ON),
     ["remdm_loop", "log_linear"]),
]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.normpath(os.path.join(here, "..", ".."))
    out = os.path.join(root, "docs", "images", "schedules.png")
    scheds = {s.name: s for s in ref.all_schedules()}
    ts = np.linspace(0.0, 1.0, 1001)

    fig, axes = plt.subplots(2, 3, figsize=(16, 9.5))
    for ax, (title, names) in zip(axes.flat, PANELS):
        for name in names:
            s = scheds[name]
            ys = [s.alpha(float(t)) for t in ts]
            # dashed: reference curves, and bd3lm_cosine (it sits on mdlm_cosine)
            dashed = (name == "log_linear" and names[0] != name) or \
                name == "bd3lm_cosine"
            style = "--" if dashed else "-"
            ax.plot(ts, ys, style, lw=1.8, label=name)
        ax.set_title(title, fontsize=10)
        ax.set_xlim(0, 1)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("t  (0 clean, 1 fully noised)")
        ax.set_ylabel("alpha(t)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9, loc="upper right" if name != "geometric"
                  else "lower left")
    fig.suptitle("ddiff noise schedules: alpha(t) = P(token still clean), "
                 "default parameters", fontsize=13)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    fig.savefig(out, dpi=110)
    print("wrote", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
