"""Chapter 01's sentences built from this run's numbers (the glued values the prose quotes) and
the settings table.

:func:`sentences` takes the same section outputs as :func:`.evidence.evidence` (plus the keys of
:data:`TEXT_SECTIONS`) and the recorded verdicts, and returns ``{glue name: Markdown text}``;
:func:`claim_glue` gives each recorded claim's value.  Pure string building,
unit-tested on synthetic outputs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from ...core import claims as C
from ...core import tables
from .configs import Config
from .learning_rates import pair_words
from .measurements import relative_budget, route_ratios, speedups_by_threshold, speedups_by_width
from .ties import implied_lr_text
from .width_selection import VALIDATION_FRACTION

#: what :func:`sentences` reads from ``out`` besides :data:`.evidence.SECTIONS`
TEXT_SECTIONS = {
    "at_events": "S.stiffness_at_events rows (ρ·t* at the Tables' event times)",
    "ties": "S.tie_summaries(...)",
    "raw_crossings": "S.raw_crossings(...)",
}


def _num(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def settings(cfg: Config) -> list[tuple[str, str]]:
    """The settings table's rows (setting, value): :class:`Config`'s labelled fields, then one row
    per data set (:class:`.configs.DataSetup`'s), through
    :func:`fasttrain.core.tables.settings_rows`."""
    rows = tables.settings_rows(cfg, validation_fraction=VALIDATION_FRACTION)
    for d in cfg.datasets:
        rows += tables.settings_rows(d)
    return rows


def claim_glue(recorded) -> dict:
    """``ch01-n-<id>``: the value of every recorded claim (its verdict is in :func:`sentences`)."""
    return {f"ch01-n-{c.id}": str(c.reproduced_value) for c in recorded}


def glance_budget(elapsed_s: float, scale: str) -> str:
    return f"{elapsed_s / 60:.1f} minutes at scale `{scale}` on {os.cpu_count()} cores"


def _routes(rr) -> str:
    return "; ".join(
        f"{t:.2f}: {rr.fastest[t]} {r.text('.3g')}×" for t, r in sorted(rr.ratios.items()) if r
    )


def _stiff(rows, loss: str) -> str:
    return ", ".join(
        f"t = {r['horizon']:g}: BDF {int(r['bdf_nfev'])}, RK45 "
        + ("> cap" if _num(r["rk45_nfev"]) is None else f"{int(r['rk45_nfev'])}")
        for r in rows
        if r["loss"] == loss
    )


def _solver_sentences(out: Mapping[str, Any], cfg: Config) -> dict:
    says = {}
    for d in cfg.datasets:
        says[f"ch01-route-{d.name}"] = _routes(route_ratios(out["solver_ratios"], d.name)) or "none"
    for key in ("ce", "mse"):
        rr = route_ratios(out["solver_ratios"], "banknote subsample", key)
        says[f"ch01-route-small-{key}"] = _routes(rr)
    SR = out["solver_rows"]
    eig = [r["median_s"] for r in SR if r["route"] == "eig" and _num(r["median_s"]) is not None]
    bdf_mse = [
        r["median_s"]
        for r in SR
        if r["route"] == "BDF" and r["loss"] == "mse" and _num(r["median_s"]) is not None
    ]
    says["ch01-eig"] = (
        f"{np.median(eig):.3g} s (median over thresholds) against BDF's {np.median(bdf_mse):.3g} s"
        if eig and bdf_mse
        else "not measured"
    )
    says["ch01-tsit5-compile"] = ", ".join(f"{v:.2g} s" for v in out["compile_s"].values())
    says["ch01-rho-t"] = "; ".join(
        f"{r['data']} {r['threshold']:.2f}: ρ·t* = {r['rho_t']:.3g}" for r in out["at_events"]
    )
    says["ch01-stiff-ce"] = _stiff(out["stiff_rows"], "ce")
    says["ch01-stiff-mse"] = _stiff(out["stiff_rows"], "mse")
    says["ch01-fd"] = C.over_rounds(out["fd"]["ratios"]).text(".2g")
    W = out["widths"]
    says["ch01-width-nseeds"] = str(len(cfg.width_seeds))
    t_end = max((r["t"] for r in W), default=None)
    says["ch01-width-gaps"] = "; ".join(
        f"width {w}: "
        + ", ".join(f"{r['output_gap']:.3g}" for r in W if r["width"] == w and r["t"] == t_end)
        for w in sorted({r["width"] for r in W})
    ) + (f" (per seed, t = {t_end:g})" if W else "not measured")
    sc = out["scaling"]
    says["ch01-scaling-sizes"] = ", ".join(f"{n:,}" for n in sc["sizes"])
    says["ch01-scaling"] = "; ".join(
        f"n = {r['n']:,}: {r['median_s']:.3g} s" for r in sc["per_size"]
    )
    return says


def _lr_sentences(out: Mapping[str, Any], cfg: Config) -> dict:
    ties = out["ties"]
    says = {"ch01-sweep-budget": f"{cfg.sweep_max_steps:,}"}
    for d in cfg.datasets:
        says[f"ch01-ties-seeds-{d.name}"] = str(len(d.tie_seeds))
        b = out["best"][d.name]
        says[f"ch01-best-lr-{d.name}"] = "none" if b["lr"] is None else f"{b['lr']:g}"
    says["ch01-ties"] = "; ".join(
        f"{r['data']} ({r['threshold']:.2f}): "
        + pair_words(
            "GD = BDF", r["tie_bdf"]["words"], "GD = fastest route", r["tie_fast"]["words"]
        )
        for r in ties
    )
    says["ch01-implied-seeds"] = "; ".join(
        f"{r['data']}: " + pair_words("1.5×", r["lr_15"]["words"], "2.5×", r["lr_25"]["words"])
        for r in ties
    )
    says["ch01-implied-lr"] = implied_lr_text(out["raw_crossings"], ties, cfg.lr_grid)
    return says


def _reach_sentences(out: Mapping[str, Any], cfg: Config) -> dict:
    rows, chosen = out["reach"]["rows"], out["reach"]["chosen"]
    rel = relative_budget(out["tables"], "magic", cfg.magic_steps)
    says = {
        "ch01-magic-grid": "; ".join(
            f"width {w}: c = " + ", ".join(f"{c:g}" for c in cs) for w, cs in cfg.magic_grid
        ),
        "ch01-magic-steps": f"{cfg.magic_steps:,}",
        "ch01-magic-relbudget": "–" if rel is None else f"{rel:.3g}",
        "ch01-magic-nseeds": str(len(cfg.magic_seeds)),
        "ch01-reach": ", ".join(
            f"width {int(r['width'])} η = {r['lr']:.3g}: "
            + ("diverged" if not r["stable"] else f"{r['best_acc']:.3f}")
            for r in rows
            if r["stage"] == "selection"
        ),
    }
    if chosen is None:
        says["ch01-reach-chosen"] = "none (every configuration diverged)"
        says["ch01-reach-rising"] = "not measured"
    else:
        mine = [r for r in rows if r["width"] == chosen[0] and r["c"] == chosen[1] and r["stable"]]
        says["ch01-reach-chosen"] = f"width {chosen[0]}, η = {chosen[1] * 64 / chosen[0]:.3g}"
        says["ch01-reach-rising"] = "; ".join(
            f"seed {int(r['seed'])}: {r['best_at_third']:.3f} → {r['best_at_two_thirds']:.3f} → "
            f"{r['best_acc']:.3f}"
            for r in mine
        )
    return says


def _selection_sentences(out: Mapping[str, Any], cfg: Config) -> dict:
    """The width selection of ``test-accuracy-magic`` (``out["width_selection"]``)."""
    ws = out.get("width_selection")
    says = {"ch01-select-grid": ", ".join(str(w) for w in cfg.select_widths)}
    if ws is None:
        return says | {
            "ch01-select-chosen": "none (this scale runs no MAGIC)",
            "ch01-select-scores": "not measured",
            "ch01-select-how": "no width was selected",
            "ch01-select-cost": "0 s",
        }
    says["ch01-select-scores"] = "; ".join(
        f"width {r['width']}: "
        + (f"{r['score']:.3f} (at {r['threshold']:.2f})" if r["score"] is not None else r["status"])
        for r in ws["rows"]
    )
    says["ch01-select-chosen"] = "none" if ws["chosen"] is None else str(ws["chosen"])
    if ws["chosen"] is None:
        says["ch01-select-how"] = "no width reached a threshold, so none was selected"
    elif ws["reused"]:
        says["ch01-select-how"] = (
            f"the Tables' width {ws['tables_width']}, so the Tables' rows are reused (no re-run)"
        )
    else:
        says["ch01-select-how"] = (
            f"not the Tables' width ({ws['tables_width']}), so the Tables' protocol was re-run "
            f"at width {ws['chosen']} on the Tables' MAGIC seeds"
        )
    says["ch01-select-cost"] = (
        f"{ws['select_s'] + ws['rerun_s']:.0f} s (selection {ws['select_s']:.0f} s, re-run "
        f"{ws['rerun_s']:.0f} s)"
    )
    return says


def sentences(out: Mapping[str, Any], cfg: Config, verdicts: Mapping[str, str]) -> dict:
    """``{glue name: Markdown}``: every number the prose quotes (the claims' values are in
    :func:`claim_glue`), and ``ch01-v-<id>``, each recorded verdict (``verdicts``: ``{claim id:
    verdict}``) in italics."""
    says = {f"ch01-v-{cid}": f"*{v}*" for cid, v in verdicts.items()}
    for d in cfg.datasets:
        sp = speedups_by_threshold(out["tables"], d.name, cfg.thresholds)
        run = "; ".join(f"{t:.2f}: {r.text('.3g')}" for t, r in sorted(sp.run_only.items()) if r)
        says[f"ch01-speedup-run-{d.name}"] = run or "not measured"
    ws = cfg.small_widths
    says["ch01-small-widths"] = ", ".join(str(w) for w in ws)
    run_small = speedups_by_width(out["small_rows"], ws, cfg.small_width_threshold).run_only
    says["ch01-speedup-run-small"] = "; ".join(
        f"width {w}: {r.text('.3g')}" for w, r in sorted(run_small.items()) if r
    )
    says.update(_solver_sentences(out, cfg))
    says.update(_lr_sentences(out, cfg))
    says.update(_reach_sentences(out, cfg))
    says.update(_selection_sentences(out, cfg))
    return says
