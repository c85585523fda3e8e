"""Chapter 02: timing and memory of the steps: interleaved rounds per size, the sweeps in n and m,
the Kronecker sketch size's selection, memory against d.
"""

from __future__ import annotations

import math

import jax
import numpy as np

from ...core.progress import progress_bar
from ...core.timing import interleaved
from ...methods import gauss_newton as gn
from .compiled_steps import (
    _compile_step,
    _timing_settings,
    check_memory,
    compile_step,
    peak_rss_bytes,
    problem32,
)
from .configs import Config, _forward_np
from .power_laws import fit_power_law


def timing_rounds(n: int, cfg: Config) -> tuple[int, int]:
    """``(rounds, warm-up calls)`` of a size with ``n`` points: ``timing_repeats`` rounds, or
    ``timing_rounds_large`` from ``n >= large_n`` on, always after one untimed warm-up call of each
    step (a cold first call pays page faults and allocator growth: ≈ 2.5 s of exact GN's 20 s at
    n = 8192)."""
    return (cfg.timing_rounds_large if n >= cfg.large_n else cfg.timing_repeats), 1


def timed_methods(n: int, cfg: Config, methods=("gn", "fast", "kron")) -> tuple[str, ...]:
    """The steps timed at ``n`` points in the n sweep: ``methods`` without the paper's ``fast``
    step above ``cfg.fast_max_n``."""
    if cfg.fast_max_n is not None and n > cfg.fast_max_n:
        return tuple(m for m in methods if m != "fast")
    return tuple(methods)


def time_size(
    n: int, m: int, d: int, cfg: Config, seed: int, methods=("gn", "fast", "kron")
) -> list[dict]:
    """Compile, memory, wall time and one-step contraction of each method at size (n, m, d), float32.

    The methods are timed in interleaved rounds (one call of each per round, after a warm-up call
    of each; :func:`timing_rounds`; :func:`fasttrain.core.timing.interleaved`, BLAS pinned to one
    thread), so that load from other processes on the shared machine hits them alike.  Each row
    keeps the per-round times (``round_seconds``), their median (``seconds``) and minimum, and
    the 1-minute load average before and after the rounds (``load``).  ``kron`` is the fast step
    with the Kronecker sketch at ``s = kron_sketch_factor * n``.
    """
    W, a, X, y = problem32(n, m, d, seed)
    key = jax.random.key(seed)
    steps = {
        meth: compile_step(meth, W, a, X, y, key, **dict(_timing_settings(cfg, method=meth)))
        for meth in methods
    }
    check_memory(steps.values(), n, m, d)  # before any step runs
    rounds, warmup = timing_rounds(n, cfg)
    out = {}  # each step's output of its last timed call (deterministic: the same in every call)

    def call(meth, c):
        out[meth] = c.fn(W, a, X, y, key)
        return out[meth]

    timed = interleaved(
        {meth: (lambda meth=meth, c=c: call(meth, c)) for meth, c in steps.items()},
        rounds=rounds,
        warmup=warmup,
    )
    maxrss = peak_rss_bytes()
    y64 = np.asarray(y, np.float64)
    r0 = np.linalg.norm(_forward_np(W, a, X) - y64)
    rows = []
    for meth, c in steps.items():
        W1, info = out[meth]
        contraction = float(np.linalg.norm(_forward_np(W1, a, X) - y64) / r0)
        times = [float(t) for t in timed["times"][meth]]
        med = float(np.median(times))
        rows.append(
            {
                "method": meth,
                "n": n,
                "m": m,
                "d": d,
                "factor": cfg.timing_factor if meth in ("fast", "kron") else None,
                "s": gn.default_sketch_size(
                    n, cfg.kron_sketch_factor if meth == "kron" else cfg.sketch_factor
                )
                if meth in ("fast", "kron")
                else None,
                "sketch_dim": {"fast": m * d, "kron": m}.get(meth),
                "seconds": med,
                "seconds_min": min(times),
                "round_seconds": times,
                "rounds": timed["rounds"],
                "warmup": warmup,
                "load": timed["load"],
                "compile_seconds": c.compile_seconds,
                "peak_bytes": c.peak_bytes,
                "temp_bytes": c.temp_bytes,
                "maxrss_bytes": maxrss,
                "jacobian_bytes": n * m * d * 4,
                "contraction": contraction,
                "cg_iters": int(info.cg_iterations),
                "seconds_per_decade": med / -math.log10(contraction)
                if 0 < contraction < 1
                else None,
            }
        )
    return rows


#: the Kronecker sketch sizes s / n the selection probe compares (:func:`select_kron_sketch_factor`)
KRON_FACTOR_CANDIDATES = (1.0, 1.25, 1.5, 2.0)
#: the selection probe's size (n, m, d): below the verdict's n = 8192, at the sweep's width
KRON_SELECTION_SIZE = (4096, 32768, 4)
#: medians within this fraction of the best count as a tie, which goes to the larger s
KRON_SELECTION_TIE = 0.03


def select_kron_sketch_factor(
    n: int, m: int, d: int, cfg: Config, seed: int, factors=KRON_FACTOR_CANDIDATES, rounds: int = 3
) -> dict:
    """The declared rule that fixed ``kron_sketch_factor`` before the book run (run it by hand;
    the chapter quotes its result).

    Times exact GN and the Kronecker fast step at every ``s / n`` in ``factors`` at one size
    (float32, ``rounds`` interleaved rounds after a warm-up call, the timing settings of ``cfg``)
    and picks the factor with the lowest median seconds per decade of residual; medians within
    ``KRON_SELECTION_TIE`` of the best are a tie, which goes to the larger ``s`` (the safer
    embedding).  Returns ``{"rows": [...], "chosen": factor}``; each row has the method, ``s / n``,
    the per-round seconds, median, contraction, PCG iterations and seconds per decade.
    """
    W, a, X, y = problem32(n, m, d, seed)
    key = jax.random.key(seed)
    steps = {("gn", None): compile_step("gn", W, a, X, y, key, **dict(_timing_settings(cfg)))}
    for f in factors:
        settings = dict(_timing_settings(cfg, method="kron"), sketch_factor=f)
        steps[("kron", f)] = compile_step("kron", W, a, X, y, key, **settings)
    check_memory(steps.values(), n, m, d)
    out = {}

    def call(k, c):
        out[k] = c.fn(W, a, X, y, key)
        return out[k]

    timed = interleaved(
        {k: (lambda k=k, c=c: call(k, c)) for k, c in steps.items()}, rounds=rounds, warmup=1
    )
    y64 = np.asarray(y, np.float64)
    r0 = np.linalg.norm(_forward_np(W, a, X) - y64)
    rows = []
    for (meth, f), _ in steps.items():
        W1, info = out[(meth, f)]
        contraction = float(np.linalg.norm(_forward_np(W1, a, X) - y64) / r0)
        times = [float(t) for t in timed["times"][(meth, f)]]
        med = float(np.median(times))
        rows.append(
            {
                "method": meth,
                "s_over_n": f,
                "round_seconds": times,
                "seconds": med,
                "contraction": contraction,
                "cg_iters": int(info.cg_iterations),
                "seconds_per_decade": med / -math.log10(contraction),
            }
        )
    kron = [r for r in rows if r["method"] == "kron"]
    best = min(r["seconds_per_decade"] for r in kron)
    tied = [r for r in kron if r["seconds_per_decade"] <= best * (1 + KRON_SELECTION_TIE)]
    chosen = max(r["s_over_n"] for r in tied)
    return {"n": n, "m": m, "d": d, "rows": rows, "chosen": chosen, "load": timed["load"]}


def round_exponents(rows, var: str) -> list[float]:
    """One fitted exponent of time in ``var`` per interleaved round: ``rows`` are one method's
    :func:`time_size` rows along one sweep; round ``k`` fits the ``k``-th time of every size."""
    rows = sorted(rows, key=lambda r: r[var])
    k = min(len(r["round_seconds"]) for r in rows)
    x = [r[var] for r in rows]
    return [fit_power_law(x, [r["round_seconds"][i] for r in rows]).exponent for i in range(k)]


def decade_speedups(gn_row: dict, fast_row: dict) -> list[float]:
    """Per-round speed-up of the fast step over exact GN at equal residual reduction.

    Round ``k``: ``(t_gn[k] / decades_gn) / (t_fast[k] / decades_fast)`` with ``decades =
    log10(1 / contraction)`` of each method's timed step (the same in every round).  Needs both
    contractions in (0, 1).
    """
    dec = {}
    for name, r in (("gn", gn_row), ("fast", fast_row)):
        if not 0 < r["contraction"] < 1:
            raise ValueError(f"decade_speedups: {name} step did not contract ({r['contraction']})")
        dec[name] = -math.log10(r["contraction"])
    return [
        (tg / dec["gn"]) / (tf / dec["fast"])
        for tg, tf in zip(gn_row["round_seconds"], fast_row["round_seconds"], strict=True)
    ]


def timing_sweeps(
    cfg: Config, seed: int, methods=("gn", "fast", "kron"), progress: bool = False
) -> list[dict]:
    """:func:`time_size` over ``cfg.n_sweep`` at width ``sweep_m`` (rows with ``axis="n"``) and over
    ``cfg.m_sweep`` at ``sweep_n`` points (``axis="m"``); a size both sweeps contain is timed once;
    the paper's ``fast`` step only up to ``cfg.fast_max_n`` (:func:`timed_methods`)."""
    sizes = [("n", n, cfg.sweep_m) for n in cfg.n_sweep] + [
        ("m", cfg.sweep_n, m) for m in cfg.m_sweep
    ]
    todo = list(dict.fromkeys((n, m) for _, n, m in sizes))
    it = progress_bar(todo, desc="timing sweeps", enabled=progress)
    done = {
        job: time_size(job[0], job[1], cfg.sweep_d, cfg, seed, timed_methods(job[0], cfg, methods))
        for job in it
    }
    return [{"axis": axis, **row} for axis, n, m in sizes for row in done[(n, m)]]


def memory_vs_d(n: int, m: int, ds, cfg: Config, methods=("gn", "fast", "kron")) -> list[dict]:
    """XLA's peak-memory estimate of each compiled step against the input dimension ``d`` (compile only, no run).

    ``pattern_bytes`` is the size of one n x m float32 array (the activation pattern ``P^T``),
    ``jacobian_bytes`` that of the dense n x md Jacobian the fast step must never form.
    """
    rows = []
    for d in ds:
        for method in methods:
            c = _compile_step(method, n, m, d, "float32", _timing_settings(cfg, method=method))
            rows.append(
                {
                    "method": method,
                    "n": n,
                    "m": m,
                    "d": d,
                    "peak_bytes": c.peak_bytes,
                    "temp_bytes": c.temp_bytes,
                    "pattern_bytes": n * m * 4,
                    "jacobian_bytes": n * m * d * 4,
                }
            )
    return rows
