"""Chapter 04's sentences built from this run's numbers ("What the measurements say") and its
settings table.

:func:`sentences` takes the same section outputs as :func:`.evidence_map.evidence` and the
recorded claims, and returns ``{key: Markdown text}``; the chapter glues each as ``ch04-<key>``.
Pure string building, unit-tested on synthetic outputs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from ...core import claims, tables
from ...methods import layer_parallel as LP
from ...methods import lsgd as LS
from .configs import Config
from .convergence import bounded_iterations
from .evidence_map import _its, _worst_err, best_layout, need, problems
from .measurements import accuracy_measurement, training_measurements
from .rules import MAX_MGRIT_ITER


def init_table(records) -> pd.DataFrame:
    """:func:`init_study`'s per-seed rows -> mean and sd per (net, depth, initialisation):
    columns ``net, depth, init, dead, dead sd, error, error sd``."""
    t = (
        pd.DataFrame(records)
        .groupby(["net", "depth", "init"], as_index=False)[["dead", "error"]]
        .agg(["mean", "std"])
    )
    t.columns = ["net", "depth", "init", "dead", "dead sd", "error", "error sd"]
    return t


def claim_texts(recorded: Iterable) -> dict:
    """``v-<id>`` (verdict) and ``s-<id>`` (the value shown) of every recorded claim."""
    out = {}
    for c in recorded:
        key = re.sub(r"[^a-z0-9-]", "", c.id.lower())
        out[f"v-{key}"] = c.verdict
        out[f"s-{key}"] = c.reproduced_value
    return out


def part1_texts(out: Mapping[str, Any], cfg: Config) -> dict:
    """The numbers of part 1's bullets: convergence, gradients, training, speed, the model."""
    lp, says = cfg.lp, {}
    bi = bounded_iterations(out["convergence"], min_depth=64, max_iter=MAX_MGRIT_ITER)
    says["conv-iters"] = ", ".join(f"{v} {n}" for v, n in bi["per_variant"].items())
    says["conv-depths"] = f"{min(bi['depths'])}–{max(bi['depths'])}"
    says["conv-err"] = f"{_worst_err(out['convergence']):.0e}"
    G = out["gradients"]
    dmax = max(r["depth"] for r in G)
    says["grad"] = f"depth {int(dmax)}: " + ", ".join(
        f"{r['grad_rel_err']:.0e} after {r['iterations']}" for r in G if r["depth"] == dmax
    )
    study = out["training"]
    says["train"] = "; ".join(
        f"{name}: test accuracy serial {m['serial'].text('.3f')}, MGRIT "
        f"{m['parallel'].text('.3f')}, final loss ratio {m['loss_ratio'].text('.3g')}"
        for name in problems(study)
        for m in [training_measurements(study, name, lp.n_fwd)]
    )
    rows, P = out["speed"]["rows"], out["speed"]["devices"]
    speed = []
    for N in lp.timing_depths:
        b_, _ = best_layout(rows, N, lp.n_fwd)
        speed.append(
            f"depth {N}: {claims.over_rounds(b_['fwd_ratios']).text('.2g')} "
            f"({b_['variant']}, {int(b_['devices'])} device(s))"
        )
    says["speed"] = "; ".join(speed)
    N = max(lp.timing_depths)
    for name, (relax, lv) in (("two", ("FCF", 2)), ("multi", ("FCF", 99))):
        w = LP.critical_path(N, LP.MGRITConfig(lp.cfactor, lv, relax), 1, lp.n_fwd)["work"] / N
        says[f"work-{name}"] = f"{w:.3g}"
        says[f"bound-{name}"] = f"{P / w:.2g}"
    says["cores"] = P
    says["need"] = "; ".join(
        f"{v}: 10× needs {p} (at most {mx:.1f}× with one processor per interval)"
        for v, (p, mx) in need(cfg).items()
    )
    return says


def part2_texts(out: Mapping[str, Any], cfg: Config) -> dict:
    """The numbers of part 2's bullets: learning rates, LSGD against Adam, the cost of an
    iteration, initialisations, the PINN."""
    ls, says = cfg.ls, {}
    reg, lr = out["regression"], out["lr"]
    seeds = list(reg)
    benches = list(reg[seeds[0]])
    says["lr"] = "; ".join(
        f"{b}: " + ", ".join(f"{m} {lr[b, m]:g}" for m in ls.methods) for b in benches
    )
    says["lsgd-iters"] = "; ".join(
        f"{b}: LSGD / Adam iterations {_its(infos)}" for b, infos in out["iteration_ratios"].items()
    )
    costs = out["iteration_cost"]
    for key, ratio in (("cost", "lsgd/adam"), ("qr-speedup", "qr/cholesky")):
        says[key] = "; ".join(
            f"{b}: {claims.over_rounds(c[ratio]).text('.2g')}" for b, c in costs.items()
        )
    acc = accuracy_measurement(out["final_errors"]["cholesky"], out["final_errors"]["qr"])
    worst_acc = max(acc, key=lambda b: acc[b].center)
    says["acc-worst"] = f"{worst_acc}: {10 ** acc[worst_acc].center:.3g}×"
    says["final-errors"] = "; ".join(
        f"{b}: "
        + ", ".join(
            f"{m} {claims.over_seeds([float(reg[s][b][m].error[-1]) for s in seeds]).center:.2g}"
            for m in ls.methods
        )
        for b in benches
    )
    I = init_table(out["init"])
    Im = I[I.net == "MLP"]
    for key, col, fmt in (("init-errors", "error", ".2g"), ("init-dead", "dead", ".2f")):
        says[key] = "; ".join(
            f"depth {d}: "
            + ", ".join(f"{r.init} {getattr(r, col):{fmt}}" for r in sub.itertuples())
            for d, sub in Im.groupby("depth")
        )
    Ir = I[I.net == "ResNet"]
    says["init-resnet"] = "; ".join(
        f"{r.init} {r.dead:.2f}"
        for r in Ir.groupby("init", as_index=False).dead.mean().itertuples()
    )

    def mean_err(ps, m):
        return claims.over_seeds([float(p[m].error[-1]) for p in ps.values()]).center

    says["pinn"] = "; ".join(
        f"{LS.poisson_problem(pr).name}: LSGD {mean_err(ps, 'LSGD'):.2g}, Adam "
        f"{mean_err(ps, 'Adam'):.2g}"
        for pr, ps in out["pinn"].items()
    )
    return says


def sentences(out: Mapping[str, Any], cfg: Config, recorded: Iterable) -> dict:
    """``{key: Markdown}``: every recorded claim's verdict (``v-<id>``) and value (``s-<id>``),
    and the numbers the prose quotes (:func:`part1_texts`, :func:`part2_texts`)."""
    texts = {**claim_texts(recorded), **part1_texts(out, cfg), **part2_texts(out, cfg)}
    return {k: str(v) for k, v in texts.items()}


def settings(cfg: Config) -> list[tuple[str, Any]]:
    """The settings table's rows ``(setting, value at the scale)``: part 1's labelled fields, then
    part 2's (:func:`fasttrain.core.tables.settings_rows`; one part-1 row shows part 2's timing
    rounds beside part 1's)."""
    return tables.settings_rows(cfg.lp, ls=cfg.ls) + tables.settings_rows(cfg.ls)
