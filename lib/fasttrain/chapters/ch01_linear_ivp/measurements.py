"""Chapter 01: the measurements the rules decide on, built from the protocols' rows."""

from __future__ import annotations

import numpy as np

from ...core import claims
from .claims import GROWTH_FROM, GROWTH_TO
from .paper import PAPER_TABLES
from .rules import RouteRatios, SpeedupsByThreshold, SpeedupsByWidth, StiffnessCounts


def speedups_by_width(rows, widths, threshold: float) -> SpeedupsByWidth:
    """The small-width study's rows (``time_to_accuracy`` rows with ``width`` and ``seed``) for
    :func:`faster_at_every_small_width`."""
    ratios, run_only = {}, {}
    for w in widths:
        sub = [r for r in rows if r["width"] == w and r["threshold"] == threshold]
        sp = [r["speedup_total"] for r in sub]
        ok = bool(sub) and all(x is not None and x > 0 for x in sp)
        ratios[w] = claims.over_seeds(sp, log=True) if ok else None
        run = [r["speedup_solve"] for r in sub]
        ok = bool(sub) and all(x is not None and x > 0 for x in run)
        run_only[w] = claims.over_seeds(run, log=True) if ok else None
    return SpeedupsByWidth(ratios, run_only, threshold)


def growth_ratios(rows, data: str, lo: float = GROWTH_FROM, hi: float = GROWTH_TO):
    """Per seed of ``data``: GD's run-time growth from ``lo`` to ``hi`` training accuracy, the BDF
    solve's growth, and their ratio (``adaptive-stepping-*``); ``None`` unless both methods
    reached both thresholds in every seed. Both times of a method come from the same run (the
    solve's events and GD's chunks), so the growth needs no second run."""
    by_seed = {}
    for r in rows:
        if r["data"] == data and r["threshold"] in (lo, hi):
            by_seed.setdefault(r["seed"], {})[r["threshold"]] = r
    out = []
    for s, rr in sorted(by_seed.items()):
        a, b = rr.get(lo), rr.get(hi)
        vals = (a and a["gd_time"], b and b["gd_time"], a and a["ode_solve"], b and b["ode_solve"])
        if a is None or b is None or any(v is None or not v > 0 for v in vals):
            return None
        g, o = vals[1] / vals[0], vals[3] / vals[2]
        out.append({"seed": s, "gd_growth": g, "ode_growth": o, "ratio": g / o})
    return out or None


def speedups_by_threshold(rows, data: str, thresholds) -> SpeedupsByThreshold:
    """Collect the per-seed speed-ups of ``data`` for the claim's rule: end to end (GD total /
    ODE total, decided on) and run only (GD run / BDF solve, shown), each on the log scale."""
    ratios, reached, run_only = {}, {}, {}
    paper = {t: PAPER_TABLES[data][t][2] for t in thresholds}
    for t in thresholds:
        sub = [r for r in rows if r["data"] == data and r["threshold"] == t]
        n = len(sub)
        g = sum(r["gd_steps"] is not None for r in sub)
        o = sum(r["ode_t"] is not None for r in sub)
        reached[t] = (g, o, n)
        sp = [r["speedup_total"] for r in sub]
        run = [r.get("speedup_solve") for r in sub]
        if n and all(x is not None for x in sp):
            ratios[t] = claims.over_seeds(sp, log=True)
        else:
            ratios[t] = None
        ok = n and all(x is not None and x > 0 for x in run)
        run_only[t] = claims.over_seeds(run, log=True) if ok else None
    return SpeedupsByThreshold(ratios, reached, paper, run_only)


def route_ratios(ratio_rows, data: str, loss: str = "ce") -> RouteRatios:
    """The solver study's ratios of ``data`` for :func:`route_speedup_at_every_threshold`."""
    ratios, fastest, bound = {}, {}, {}
    for r in ratio_rows:
        if r["data"] != data or r["loss"] != loss:
            continue
        if r.get("ratios"):
            ratios[r["threshold"]] = claims.over_rounds(r["ratios"])
            fastest[r["threshold"]] = r["fastest"]
            bound[r["threshold"]] = bool(r.get("bound", False))
        else:
            ratios[r["threshold"]] = None
    return RouteRatios(ratios, fastest, bound)


def stiffness_counts(rows, loss: str = "ce") -> StiffnessCounts:
    sub = [r for r in rows if r["loss"] == loss]
    return StiffnessCounts(
        tuple(r["horizon"] for r in sub),
        tuple(int(r["bdf_nfev"]) for r in sub),
        tuple(r["rk45_nfev"] for r in sub),
    )


def reach_values(rows, chosen) -> list[float | None]:
    """Highest training accuracy of the chosen configuration on every seed (``None``: diverged)."""
    w, c = chosen
    return [r["best_acc"] for r in rows if r["width"] == w and r["c"] == c]


def relative_budget(rows, data: str, steps: int, threshold: float = 0.80) -> float | None:
    """``steps`` over the mean number of GD steps the Tables' runs of ``data`` needed to reach
    ``threshold`` (``None`` unless reached in every seed): the reachability study's budget relative
    to the time to 0.80, to set beside the paper's :data:`PAPER_GD_095_OVER_080`."""
    got = [r["gd_steps"] for r in rows if r["data"] == data and r["threshold"] == threshold]
    if not got or any(g is None or g < 1 for g in got):
        return None
    return steps / float(np.mean(got))


def scaling_exponents(sizes, times) -> list[float]:
    """Per round, the least-squares slope of log(solve time) against log(n) over the sizes
    (``times[i][r]``: size ``sizes[i]``, round ``r``): the exponent ``b`` of ``time ~ n^b``."""
    if len(sizes) < 2:
        raise ValueError(f"need at least two sizes to fit an exponent, got {list(sizes)}")
    x = np.log(np.asarray(sizes, dtype=float))
    y = np.log(np.asarray(times, dtype=float))  # sizes x rounds
    xc = x - x.mean()
    return [float(xc @ (y[:, r] - y[:, r].mean()) / (xc @ xc)) for r in range(y.shape[1])]


def gap_slopes(rows) -> list[float]:
    """Per seed of the width study's rows (``seed``, ``width``, ``t``, ``output_gap``): the
    least-squares slope of log(output gap at the last time) against log(width), the exponent
    ``a`` of ``gap ~ width^a`` (negative: the linearisation tracks GD's network better the wider
    it is). Seeds with fewer than two widths with a finite, positive gap are left out."""
    out = []
    for s in sorted({r["seed"] for r in rows}):
        mine = [r for r in rows if r["seed"] == s]
        t_end = max(r["t"] for r in mine)
        pts = [
            (r["width"], r["output_gap"])
            for r in mine
            if r["t"] == t_end and np.isfinite(r["output_gap"]) and r["output_gap"] > 0
        ]
        if len({w for w, _ in pts}) < 2:
            continue
        out.append(scaling_exponents([w for w, _ in pts], [[g] for _, g in pts])[0])
    return out
