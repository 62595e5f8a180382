#!/usr/bin/python3
"""Reference values of the ddiff noise schedules, for the C++ tests.

This is an INDEPENDENT numpy re-implementation of every schedule described in
docs/notes/schedules-research.md (written from the formulas there, not from the
C++ code), used to produce golden values for the C++ unit tests.

Output: tests/data/schedule_table.csv with header
    schedule,t,alpha,alpha_prime
alpha(t) = probability a token is still clean at time t (t = 1 fully noised);
alpha_prime is the analytic derivative d alpha / dt, written as `nan` where it
is undefined (a kink, e.g. a clipping boundary or a D3PM grid point).
At t = 0 and t = 1 the one-sided derivative is used.

Regenerate (from the repo root):
    /usr/bin/python3 tools/schedules/make_schedule_table.py
Needs numpy only. The script also runs self-checks (finite differences and
inverse round trips) and exits non-zero if one fails.
"""

import math
import os
import sys

import numpy as np

HALF_PI = math.pi / 2.0
NAN = float("nan")

T_POINTS = [0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0]

# ---------------------------------------------------------------------------
# Default parameters (see docs/notes/schedules-research.md for the sources).
# ---------------------------------------------------------------------------
EPS = 1e-3                       # SEDD / MDLM / DUO / BD3LM eps
GEOM_SIGMA_MIN, GEOM_SIGMA_MAX = 1e-4, 20.0     # SEDD configs/config.yaml
LIN_SIGMA_MIN, LIN_SIGMA_MAX = 1e-3, 7.0        # MDLM configs/noise/linear.yaml
# d3pm/text/diffusion.py create_discrete_diffusion defaults (num_steps=40,
# beta_min=1e-3, beta_max=0.2); the published lm1b_base/text8_base configs use 1000.
D3PM_T = 40
D3PM_BETA_MIN, D3PM_BETA_MAX = 1e-3, 0.2
D3PM_COSINE_S = 0.008
D3PM_COSINE_BETA_CLIP = 0.999
MASKGIT_N = 256                  # total_unknown, 16x16 tokens for 256x256 images
MASKGIT_POW_K = 2.0              # "square" (no default in the source)
MASKGIT_CLIP_LO, MASKGIT_CLIP_HI = 1e-6, 1.0
REMDM_T_ON, REMDM_T_OFF, REMDM_ALPHA_ON = 0.55, 0.05, 0.9


class Schedule:
    """alpha(t), alpha'(t) and (optionally) the inverse t(alpha)."""

    def __init__(self, name, alpha, dalpha, inverse=None, family=""):
        self.name = name
        self.alpha = alpha
        self.dalpha = dalpha
        self.inverse = inverse
        self.family = family
        self.kinks = []          # interior points where alpha' is undefined


# ---------------------------------------------------------------------------
# Continuous absorbing schedules (SEDD / MDLM / DUO / BD3LM)
# ---------------------------------------------------------------------------

def log_linear(eps=EPS):
    # alpha = 1 - (1 - eps) t ; sigma = -log(1 - (1 - eps) t)
    s = Schedule(
        "log_linear",
        lambda t: 1.0 - (1.0 - eps) * t,
        lambda t: -(1.0 - eps),
        lambda a: (1.0 - a) / (1.0 - eps),
        "continuous")
    return s


def mdlm_cosine(eps=EPS):
    # alpha = eps + (1 - eps) cos(pi t / 2)
    return Schedule(
        "mdlm_cosine",
        lambda t: eps + (1.0 - eps) * math.cos(HALF_PI * t),
        lambda t: -(1.0 - eps) * HALF_PI * math.sin(HALF_PI * t),
        lambda a: math.acos((a - eps) / (1.0 - eps)) / HALF_PI,
        "cosine")


def mdlm_cosine_squared(eps=EPS):
    # alpha = eps + (1 - eps) cos^2(pi t / 2); alpha' = -(1-eps)(pi/2) sin(pi t)
    return Schedule(
        "mdlm_cosine_squared",
        lambda t: eps + (1.0 - eps) * math.cos(HALF_PI * t) ** 2,
        lambda t: -(1.0 - eps) * HALF_PI * math.sin(math.pi * t),
        lambda a: math.acos(math.sqrt((a - eps) / (1.0 - eps))) / HALF_PI,
        "cosine")


def duo_cosine(eps=EPS):
    # alpha = 1 - cos((pi/2)(1 - t')) = 1 - sin((pi/2) t'), t' = (1 - eps) t
    c = 1.0 - eps
    return Schedule(
        "duo_cosine",
        lambda t: 1.0 - math.sin(HALF_PI * c * t),
        lambda t: -c * HALF_PI * math.cos(HALF_PI * c * t),
        lambda a: math.asin(1.0 - a) / (HALF_PI * c),
        "cosine")


def bd3lm_cosine(eps=EPS):
    # move = 1 - (1 - eps) cos(pi t / 2)  =>  alpha = (1 - eps) cos(pi t / 2)
    c = 1.0 - eps
    return Schedule(
        "bd3lm_cosine",
        lambda t: c * math.cos(HALF_PI * t),
        lambda t: -c * HALF_PI * math.sin(HALF_PI * t),
        lambda a: math.acos(a / c) / HALF_PI,
        "cosine")


def bd3lm_square(eps=EPS):
    # move = max(t^2, eps)  =>  alpha = 1 - max(t^2, eps); kink at t = sqrt(eps)
    def alpha(t):
        return 1.0 - max(t * t, eps)

    def dalpha(t):
        m = t * t
        if m > eps:
            return -2.0 * t
        if m < eps:
            return 0.0
        return NAN

    s = Schedule("bd3lm_square", alpha, dalpha,
                 lambda a: math.sqrt(1.0 - a), "power")
    s.kinks = [math.sqrt(eps)]
    return s


def bd3lm_sqrt(eps=EPS):
    # move = max(sqrt(t), eps)  =>  alpha = 1 - max(sqrt t, eps); kink at t = eps^2
    def alpha(t):
        return 1.0 - max(math.sqrt(t), eps)

    def dalpha(t):
        m = math.sqrt(t)
        if m > eps:
            return -0.5 / m
        if m < eps:
            return 0.0
        return NAN

    s = Schedule("bd3lm_sqrt", alpha, dalpha,
                 lambda a: (1.0 - a) ** 2, "power")
    s.kinks = [eps * eps]
    return s


def bd3lm_log():
    # move = log2(1 + t)  =>  alpha = 1 - log2(1 + t)  (eps unused)
    ln2 = math.log(2.0)
    return Schedule(
        "bd3lm_log",
        lambda t: 1.0 - math.log1p(t) / ln2,
        lambda t: -1.0 / ((1.0 + t) * ln2),
        lambda a: 2.0 ** (1.0 - a) - 1.0,
        "power")


def geometric(smin=GEOM_SIGMA_MIN, smax=GEOM_SIGMA_MAX):
    # sigma = smin^(1-t) smax^t, alpha = exp(-sigma), sigma' = sigma ln(smax/smin)
    lr = math.log(smax / smin)

    def sigma(t):
        return smin ** (1.0 - t) * smax ** t

    return Schedule(
        "geometric",
        lambda t: math.exp(-sigma(t)),
        lambda t: -sigma(t) * lr * math.exp(-sigma(t)),
        lambda a: math.log(-math.log(a) / smin) / lr,
        "sigma")


def linear_sigma(smin=LIN_SIGMA_MIN, smax=LIN_SIGMA_MAX):
    # sigma = smin + t (smax - smin), alpha = exp(-sigma)
    d = smax - smin
    return Schedule(
        "linear_sigma",
        lambda t: math.exp(-(smin + t * d)),
        lambda t: -d * math.exp(-(smin + t * d)),
        lambda a: (-math.log(a) - smin) / d,
        "sigma")


# ---------------------------------------------------------------------------
# D3PM discrete families: alpha_bar_k on k = 0..T, linear interpolation in t.
# ---------------------------------------------------------------------------

def d3pm_alpha_bar(betas):
    """alpha_bar_0 = 1, alpha_bar_k = prod_{j<k} (1 - beta_j), alpha_bar_T = 0."""
    T = len(betas)
    ab = np.empty(T + 1, dtype=np.float64)
    p = 1.0
    ab[0] = 1.0
    for k in range(T):
        p = p * (1.0 - betas[k])      # sequential product, float64
        ab[k + 1] = p
    ab[T] = 0.0                      # D3PM forces the last step to full noise
    return ab


def d3pm_betas_jsd(T):
    return np.array([1.0 / (T - j) for j in range(T)], dtype=np.float64)


def d3pm_betas_linear(T, bmin=D3PM_BETA_MIN, bmax=D3PM_BETA_MAX):
    # d3pm get_diffusion_betas: onp.linspace(start, stop, num_timesteps), both ends included.
    return np.linspace(bmin, bmax, T, dtype=np.float64)


def d3pm_betas_cosine(T, s=D3PM_COSINE_S, clip=D3PM_COSINE_BETA_CLIP):
    def f(j):
        return math.cos((j / T + s) / (1.0 + s) * HALF_PI)
    out = []
    for j in range(T):
        b = 1.0 - f(j + 1) / f(j)
        out.append(min(max(b, 0.0), clip))
    return np.array(out, dtype=np.float64)


GRID_TOL = 1e-9


def grid_schedule(name, ab):
    T = len(ab) - 1

    def locate(t):
        x = t * T
        k = int(round(x))
        if abs(x - k) <= GRID_TOL:
            return k, True
        k0 = int(math.floor(x))
        return min(max(k0, 0), T - 1), False

    def alpha(t):
        k, on = locate(t)
        if on:
            return float(ab[k])
        w = t * T - k
        return float(ab[k] * (1.0 - w) + ab[k + 1] * w)

    def dalpha(t):
        k, on = locate(t)
        if not on:
            return float(T * (ab[k + 1] - ab[k]))
        if k == 0:
            return float(T * (ab[1] - ab[0]))
        if k == T:
            return float(T * (ab[T] - ab[T - 1]))
        left = T * (ab[k] - ab[k - 1])
        right = T * (ab[k + 1] - ab[k])
        return float(left) if left == right else NAN

    def inverse(a):
        # ab is strictly decreasing: find k with ab[k] >= a >= ab[k+1]
        if a >= ab[0]:
            return 0.0
        if a <= ab[T]:
            return 1.0
        # ab descending -> search on the negated (ascending) array
        k = int(np.searchsorted(-ab, -a, side="right")) - 1
        k = min(max(k, 0), T - 1)
        w = (ab[k] - a) / (ab[k] - ab[k + 1])
        return (k + w) / T

    s = Schedule(name, alpha, dalpha, inverse, "d3pm")
    s.kinks = [k / T for k in range(1, T)]
    s.alpha_bar = ab
    return s


def d3pm_jsd(T=D3PM_T):
    # beta_j = 1/(T - j) telescopes to alpha_bar_k = 1 - k/T, so alpha = 1 - t.
    ab = d3pm_alpha_bar(d3pm_betas_jsd(T))
    k = np.arange(T + 1)
    err = np.max(np.abs(ab - (1.0 - k / T)))
    assert err < 1e-12, ("jsd telescoping", err)
    return Schedule("d3pm_jsd", lambda t: 1.0 - t, lambda t: -1.0,
                    lambda a: 1.0 - a, "d3pm")


def d3pm_linear(T=D3PM_T):
    return grid_schedule("d3pm_linear", d3pm_alpha_bar(d3pm_betas_linear(T)))


def d3pm_cosine(T=D3PM_T):
    ab = d3pm_alpha_bar(d3pm_betas_cosine(T))
    # the product telescopes to f(k)/f(0) for k < T (the 0.999 clip only binds
    # at the last step, which is overridden to alpha_bar_T = 0 anyway)
    f = [math.cos((k / T + D3PM_COSINE_S) / (1 + D3PM_COSINE_S) * HALF_PI)
         for k in range(T)]
    err = max(abs(ab[k] - f[k] / f[0]) for k in range(T))
    assert err < 1e-12, ("cosine telescoping", err)
    return grid_schedule("d3pm_cosine", ab)


# ---------------------------------------------------------------------------
# MaskGIT: gamma(r) = mask ratio at progress r; alpha(t) = 1 - clip(gamma(1-t)).
# g(t) := gamma_raw(1 - t) is non-decreasing in t.
# ---------------------------------------------------------------------------

def maskgit(name, g, dg, inv):
    lo, hi = MASKGIT_CLIP_LO, MASKGIT_CLIP_HI

    def alpha(t):
        return 1.0 - min(max(g(t), lo), hi)

    def dalpha(t):
        v = g(t)
        if lo < v < hi:
            return -dg(t)
        if v < lo or v > hi:
            return 0.0
        # exactly on a clip boundary: only defined at an end point (one-sided)
        if t == 1.0 and v == hi:
            return -dg(t)        # left side is unclipped (g increasing)
        if t == 0.0 and v == lo:
            return -dg(t)        # right side is unclipped
        return NAN

    return Schedule(name, alpha, dalpha, inv, "maskgit")


def maskgit_uniform():
    # gamma(r) = 1 - r  ->  g(t) = t
    s = maskgit("maskgit_uniform", lambda t: t, lambda t: 1.0,
                lambda a: 1.0 - a)
    s.kinks = [MASKGIT_CLIP_LO]
    return s


def maskgit_pow(K=MASKGIT_POW_K):
    # gamma(r) = 1 - r^K  ->  g(t) = 1 - (1 - t)^K ; alpha = (1 - t)^K
    s = maskgit("maskgit_pow",
                lambda t: 1.0 - (1.0 - t) ** K,
                lambda t: K * (1.0 - t) ** (K - 1.0),
                lambda a: 1.0 - a ** (1.0 / K))
    s.kinks = [1.0 - (1.0 - MASKGIT_CLIP_LO) ** (1.0 / K)]
    return s


def maskgit_cosine():
    # gamma(r) = cos(pi r / 2)  ->  g(t) = sin(pi t / 2) ; alpha = 1 - sin(pi t/2)
    s = maskgit("maskgit_cosine",
                lambda t: math.sin(HALF_PI * t),
                lambda t: HALF_PI * math.cos(HALF_PI * t),
                lambda a: math.asin(1.0 - a) / HALF_PI)
    s.kinks = [math.asin(MASKGIT_CLIP_LO) / HALF_PI]
    return s


def maskgit_log(N=MASKGIT_N):
    # gamma(r) = -log2(r)/log2(N)  ->  g(t) = -ln(1 - t)/ln N
    lnN = math.log(N)

    def g(t):
        if t >= 1.0:
            return math.inf
        return -math.log1p(-t) / lnN

    s = maskgit("maskgit_log", g,
                lambda t: 1.0 / ((1.0 - t) * lnN),
                lambda a: 1.0 - N ** (a - 1.0))
    s.kinks = [-math.expm1(-MASKGIT_CLIP_LO * lnN), 1.0 - 1.0 / N]
    return s


def maskgit_exp(N=MASKGIT_N):
    # gamma(r) = 1 - 2^(-log2(N)(1 - r))  ->  g(t) = 1 - N^(-t) ; alpha = N^(-t)
    lnN = math.log(N)
    s = maskgit("maskgit_exp",
                lambda t: -math.expm1(-t * lnN),
                lambda t: lnN * math.exp(-t * lnN),
                lambda a: -math.log(a) / lnN)
    s.kinks = [-math.log1p(-MASKGIT_CLIP_LO) / lnN]
    return s


# ---------------------------------------------------------------------------
# ReMDM loop: piecewise-linear alpha with a plateau alpha_on on [t_off, t_on].
# ---------------------------------------------------------------------------

def remdm_loop(t_on=REMDM_T_ON, t_off=REMDM_T_OFF, alpha_on=REMDM_ALPHA_ON):
    def alpha(t):
        if t > t_on:
            return (1.0 - t) * alpha_on / (1.0 - t_on)
        if t <= t_off:
            return 1.0 - t * (1.0 - alpha_on) / t_off
        return alpha_on

    def dalpha(t):
        if t == t_on or t == t_off:
            return NAN
        if t > t_on:
            return -alpha_on / (1.0 - t_on)
        if t < t_off:
            return -(1.0 - alpha_on) / t_off
        return 0.0

    def inverse(a):
        # plateau alpha_on maps to the whole [t_off, t_on]; return t_off
        if a >= alpha_on:
            return (1.0 - a) * t_off / (1.0 - alpha_on)
        return 1.0 - a * (1.0 - t_on) / alpha_on

    s = Schedule("remdm_loop", alpha, dalpha, inverse, "remdm")
    s.kinks = [t_off, t_on]
    return s


def all_schedules():
    return [
        log_linear(), mdlm_cosine(), mdlm_cosine_squared(), duo_cosine(),
        bd3lm_cosine(), bd3lm_square(), bd3lm_sqrt(), bd3lm_log(),
        geometric(), linear_sigma(),
        d3pm_jsd(), d3pm_linear(), d3pm_cosine(),
        maskgit_uniform(), maskgit_pow(), maskgit_cosine(), maskgit_log(),
        maskgit_exp(),
        remdm_loop(),
    ]


# ---------------------------------------------------------------------------
# Self-checks
# ---------------------------------------------------------------------------

def self_check(scheds):
    rng = np.random.default_rng(0)
    failures = []
    for s in scheds:
        ts = list(rng.uniform(0.002, 0.998, 400))
        for t in ts:
            h = 1e-6
            if any(abs(t - k) < 4 * h for k in s.kinks):
                continue
            if s.family == "d3pm" and s.kinks:
                T = len(s.kinks) + 1
                # keep both FD points inside one grid cell
                x = t * T
                if abs(x - round(x)) < 4 * h * T:
                    continue
                h = 1e-3 / T
                if math.floor((t - h) * T) != math.floor((t + h) * T):
                    continue
            fd = (s.alpha(t + h) - s.alpha(t - h)) / (2 * h)
            an = s.dalpha(t)
            scale = max(1.0, abs(an))
            if not (abs(fd - an) <= 1e-5 * scale):
                failures.append((s.name, "derivative", t, an, fd))
                break
        # alpha in [0, 1] and non-increasing
        grid = np.linspace(0.0, 1.0, 2001)
        vals = np.array([s.alpha(float(t)) for t in grid])
        if vals.min() < 0 or vals.max() > 1 or np.any(np.diff(vals) > 1e-15):
            failures.append((s.name, "range/monotone"))
        # inverse round trip where alpha is strictly decreasing
        if s.inverse is not None:
            for t in np.linspace(0.06, 0.94, 23):
                t = float(t)
                if s.name == "remdm_loop" and REMDM_T_OFF <= t <= REMDM_T_ON:
                    continue
                if s.name == "maskgit_log" and t >= s.kinks[-1]:
                    continue
                back = s.inverse(s.alpha(t))
                if abs(back - t) > 1e-9:
                    failures.append((s.name, "inverse", t, back))
                    break
    return failures


def fmt(x):
    if isinstance(x, float) and math.isnan(x):
        return "nan"
    if x == 0.0:
        x = 0.0  # no negative zero
    return "%.17g" % x


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.normpath(os.path.join(here, "..", ".."))
    out = os.path.join(root, "tests", "data", "schedule_table.csv")
    scheds = all_schedules()
    failures = self_check(scheds)
    if failures:
        for f in failures:
            print("SELF-CHECK FAILED:", f, file=sys.stderr)
        return 1
    lines = ["schedule,t,alpha,alpha_prime"]
    for s in scheds:
        for t in T_POINTS:
            lines.append("%s,%s,%s,%s" % (s.name, repr(t), fmt(s.alpha(t)),
                                          fmt(s.dalpha(t))))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print("wrote %s (%d rows, %d schedules); self-checks passed"
          % (out, len(lines) - 1, len(scheds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
