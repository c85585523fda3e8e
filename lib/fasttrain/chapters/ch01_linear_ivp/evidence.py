"""Chapter 01's evidence map: what each declared claim is decided on.

:func:`evidence` takes what the chapter's sections returned (``out``, the keys listed in
:data:`SECTIONS`) and the configuration, and returns ``{claim id: Evidence | Measurement |
Unavailable}`` for :meth:`fasttrain.core.results.ChapterResults.record_all`: every claim of
:data:`~.claims.CLAIMS` at every scale, a claim that a scale cannot test as
:class:`~fasttrain.core.claims.Unavailable` with the reason, through its rule's declared
precondition.  It only reads and reshapes measurements (no training, no timing), so it is
unit-tested on synthetic section outputs.

One function per section; each returns the entries of the claims that section decides.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ...core import claims as C
from ...core.claims import Unavailable
from ...core.results import Evidence, evidence_map
from .claims import ALL_DIVERGED, CLAIMS, NEITHER_REACHED, NO_GAP, NO_STABLE_RATE, NOT_BOTH_090
from .configs import Config
from .measurements import (
    gap_slopes,
    growth_ratios,
    relative_budget,
    route_ratios,
    speedups_by_threshold,
    speedups_by_width,
    stiffness_counts,
)
from .paper import PAPER_GD_095_OVER_080
from .rules import NO_COMMON_THRESHOLD, NO_WIDTH_SELECTION
from .solvers import route_settle_cost
from .ties import TIE_KEYS

#: what :func:`evidence` reads from ``out`` (the sections' own return values, lists of records)
SECTIONS = {
    "tables": "S.time_to_accuracy rows of every data set and seed, with 'seed' (Tables 1-2)",
    "small_rows": "S.time_to_accuracy rows of the small widths, with 'seed' and 'space'",
    "solver_rows": "S.solver_studies(...)[0]: every route, problem and threshold",
    "solver_ratios": "S.solver_studies(...)[1]: BDF / the fastest other route per threshold",
    "compile_s": "S.solver_studies(...)[2]: Tsit5's compilation per problem",
    "stiff_rows": "S.stiffness_study rows (both losses)",
    "best": "per data set: the largest rate stable on every seed and the per-seed ratios there",
    "fd": "S.fd_vs_analytic(...)",
    "equations": "S.formulations_agree(su_small, ...): eq. 1 against eq. 2 per threshold",
    "memory": "S.memory_study(...): peak memory of one BDF solve of the largest Tables problem",
    "scaling": "S.bdf_scaling(...): BDF solve times over MAGIC subsample sizes, per round",
    "widths": "S.width_study rows of every seed of cfg.width_seeds, with 'seed'",
    "reach": "{'rows': S.magic_reach_study rows, 'chosen': (width, c) or None, 'seeds': [...]}",
    "width_selection": "S.width_selection_study(...): MAGIC's width selected on validation, and "
    "the time_to_accuracy rows of the Tables' MAGIC seeds at it (None: the scale runs no MAGIC)",
    "facts": "{'seed': the notebook's seed, 'small_unknowns': nk of the Banknote subsample}",
}


def _num(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def tables_evidence(out: Mapping[str, Any], cfg: Config) -> dict:
    """``speedup-*`` (Tables 1-2, end to end) and ``adaptive-stepping-*`` (the same runs)."""
    tables, ev = out["tables"], {}
    for d in cfg.datasets:
        sp = speedups_by_threshold(tables, d.name, cfg.thresholds)
        got = [r for r in sp.ratios.values() if r is not None]
        shown = (
            f"{min(r.center for r in got):.3g}–{max(r.center for r in got):.3g} "
            f"({len(got)}/{len(sp.ratios)} thresholds, {len(d.seeds)} seed(s))"
            if got
            else None
        )
        ev[f"speedup-{d.name}"] = Evidence(
            sp,
            shown=shown,
            reason=f"η = {cfg.lr:g}, width {d.width}; decided end to end (GD incl. compilation, "
            "ODE incl. set-up; one cold run of each per seed)",
        )
    for d in cfg.datasets:
        cid, g = f"adaptive-stepping-{d.name}", growth_ratios(tables, d.name)
        if g is None:
            ev[cid] = Unavailable(NOT_BOTH_090)
            continue
        gd_g, ode_g = (
            C.over_seeds([x[k] for x in g], log=True) for k in ("gd_growth", "ode_growth")
        )
        ev[cid] = Evidence(
            C.over_seeds([x["ratio"] for x in g], log=True),
            reason=f"{len(g)} seed(s), η = {cfg.lr:g}; from 0.80 to 0.90 GD's run grows "
            f"×{gd_g.text('.3g')}, the BDF solve ×{ode_g.text('.3g')} (geometric means)",
        )
    return ev


def accuracy_rows(tables) -> list[dict]:
    """Per seed, at the highest threshold both methods reached: the three test accuracies and the
    gap GD − network at the solver's parameters (the rows of the chapter's test-accuracy table)."""
    keys = ("data", "seed", "threshold", "ode_net_test_acc", "ode_lin_test_acc", "gd_test_acc")
    rows = [{k: r[k] for k in keys} for r in tables if _num(r.get("ode_net_test_acc")) is not None]
    return [dict(r, gap=r["gd_test_acc"] - r["ode_net_test_acc"]) for r in rows]


def _accuracy_entry(sub: list[dict], why: str = "") -> Evidence:
    """The gap's and the level's mean over seeds of ``accuracy_rows`` of one data set."""
    level = C.over_seeds([r["ode_net_test_acc"] for r in sub])
    thr = ", ".join(f"{t:.2f}" for t in sorted({r["threshold"] for r in sub}))
    gd = C.over_seeds([r["gd_test_acc"] for r in sub]).text(".3f")
    lin = C.over_seeds([r["ode_lin_test_acc"] for r in sub]).text(".3f")
    return Evidence(
        C.over_seeds([r["gap"] for r in sub]),
        shown=level.text(".3f"),
        reason=why + f"at training accuracy {thr}, {len(sub)} seed(s); GD's network {gd}, linear "
        f"model {lin}; per-seed gaps " + ", ".join(f"{r['gap']:.3f}" for r in sub),
        context={"level": level},
    )


def accuracy_evidence(out: Mapping[str, Any], cfg: Config) -> dict:
    """``test-accuracy-*`` at the Tables' widths: the gap's and the level's mean over seeds (on
    MAGIC the analysis claim ``test-accuracy-magic-tables-width``)."""
    A, ev = accuracy_rows(out["tables"]), {}
    for d in cfg.datasets:
        sub = [r for r in A if r["data"] == d.name]
        cid = f"test-accuracy-{d.name}" + ("-tables-width" if d.name == "magic" else "")
        ev[cid] = _accuracy_entry(sub) if sub else Unavailable(NO_COMMON_THRESHOLD)
    return ev


def selection_words(ws: Mapping[str, Any]) -> str:
    """The selection in words: split, grid and every candidate's validation score."""
    cands = "; ".join(
        f"width {r['width']}: "
        + (f"{r['score']:.3f} (at {r['threshold']:.2f})" if r["score"] is not None else r["status"])
        for r in ws["rows"]
    )
    return (
        f"selected on seed {ws['seed']}'s validation split ({ws['n_validation']:,} of "
        f"{ws['n_select'] + ws['n_validation']:,} training points; the solver network's "
        f"validation accuracy at the highest threshold reached: {cands})"
    )


def selected_width_evidence(out: Mapping[str, Any], cfg: Config) -> dict:
    """``test-accuracy-magic``: the gap and the level over the Tables' MAGIC seeds at the width
    selected on validation (the Tables' rows when it is the Tables' width)."""
    ws, cid = out.get("width_selection"), "test-accuracy-magic"
    if ws is None:
        return {cid: Unavailable(f"{NO_WIDTH_SELECTION} (scale runs no MAGIC)")}
    if ws["chosen"] is None:
        return {cid: Unavailable(f"{NO_WIDTH_SELECTION}; {selection_words(ws)}")}
    sub = [r for r in accuracy_rows(ws["tables"]) if r["data"] == "magic"]
    if not sub:
        return {cid: Unavailable(NO_COMMON_THRESHOLD)}
    how = (
        "the Tables' rows reused (the chosen width is the Tables', no re-run)"
        if ws["reused"]
        else f"the Tables' protocol re-run at width {ws['chosen']} on the Tables' MAGIC seeds"
    )
    return {cid: _accuracy_entry(sub, f"width {ws['chosen']} {selection_words(ws)}; {how}; ")}


def best_lr_evidence(out: Mapping[str, Any], cfg: Config) -> dict:
    """``speedup-best-lr-*``: GD at the largest rate stable on every seed against the BDF solve."""
    ev = {}
    for d in cfg.datasets:
        cid, b = f"speedup-best-lr-{d.name}", out["best"].get(d.name)
        if b is None or b["lr"] is None or not b["ratios"]:
            notes = "".join(f"; {n}" for n in (b or {}).get("notes", []))
            ev[cid] = Unavailable(NO_STABLE_RATE + notes)
            continue
        ev[cid] = Evidence(
            C.over_seeds(b["ratios"], log=True),
            reason=f"largest η stable on every seed = {b['lr']:g}, training accuracy "
            f"{b['threshold']:.2f}, {len(b['ratios'])} seeds; GD run / BDF solve per seed"
            + "".join(f"; rejected {n}" for n in b["notes"]),
        )
    return ev


def small_widths_evidence(out: Mapping[str, Any], cfg: Config) -> dict:
    """``speedup-small-widths``: the Tables' protocol on Banknote at the small widths."""
    sw = speedups_by_width(out["small_rows"], cfg.small_widths, cfg.small_width_threshold)
    return {
        "speedup-small-widths": Evidence(
            sw,
            shown="; ".join(f"{w}: {r.center:.3g}" for w, r in sorted(sw.ratios.items()) if r)
            or None,
            reason=f"Banknote, η = {cfg.lr:g}, {len(cfg.datasets[0].seeds)} seed(s) per width; "
            "decided end to end (GD incl. compilation, ODE incl. set-up; one cold run of each "
            "per seed)",
        )
    }


def solver_evidence(out: Mapping[str, Any], cfg: Config) -> dict:
    """``fd-jacobian``, ``bdf-handles-stiffness`` and ``solver-route-*``."""
    FD, seed = out["fd"], out["facts"]["seed"]
    ev = {
        "fd-jacobian": Evidence(
            C.over_rounds(FD["ratios"]),
            reason=f"{FD['dim']:,} unknowns in {FD['space']} space; ill-posed goal: BDF "
            f"evaluated the Jacobian {FD['analytic']['Jacobians']} time(s) per solve, so the "
            "Jacobian's cost is a small share of the solve whichever way it is computed; the "
            "solver study carries the chapter's performance result instead",
        )
    }
    sc = stiffness_counts(out["stiff_rows"], "ce")
    ev["bdf-handles-stiffness"] = Evidence(
        sc,
        shown=f"RK45 {sc.explicit[-1] if sc.explicit[-1] is not None else '> cap'} vs BDF "
        f"{sc.bdf[-1]} evaluations at t = {sc.horizons[-1]:g}",
        reason=f"cross-entropy flow, Banknote subsample ({out['facts']['small_unknowns']} "
        f"unknowns), η = {cfg.lr:g}",
    )
    for d in cfg.datasets:
        rr = route_ratios(out["solver_ratios"], d.name)
        got = [r for r in rr.ratios.values() if r is not None]
        settle = route_settle_cost(
            out["solver_rows"], d.name, cfg.solver_slow_rounds, cfg.explicit_cap_s
        )
        ev[f"solver-route-{d.name}"] = Evidence(
            rr,
            shown=(
                f"{min(r.center for r in got):.3g}–{max(r.center for r in got):.3g}"
                if got
                else None
            ),
            reason=f"Tables' problem, seed {seed + d.seeds[0]}, η = {cfg.lr:g}; Tsit5 compilation "
            f"{out['compile_s'][d.name]:.3g} s excluded" + (f"; {settle}" if settle else ""),
        )
    return ev


def memory_evidence(out: Mapping[str, Any], cfg: Config) -> dict:
    """``memory-1gb``: the peak memory of one BDF solve of the largest Tables problem."""
    m = out["memory"]
    gb = m["peak_bytes"] / 1e9
    return {
        "memory-1gb": Evidence(
            C.exact(gb, how="arrays held + tracemalloc peak of one BDF solve (deterministic)"),
            shown=f"{gb:.3g}",
            reason=f"{m['data']}, seed {m['seed']}: {m['n_train']:,} training points, width "
            f"{m['width']}, {m['space']} space ({m['dim']:,} unknowns), one BDF solve to "
            f"{m['threshold']:.2f}: held {m['held_bytes'] / 1e6:.0f} MB + traced peak "
            f"{m['traced_peak_bytes'] / 1e6:.0f} MB; analytic size of its largest arrays "
            f"{m['analytic_bytes'] / 1e6:.0f} MB; process peak resident size "
            f"{m['process_peak_rss_bytes'] / 1e9:.2f} GB (JAX's runtime included, not decided "
            "on); the paper's own sizes (widths, split) are not stated",
        )
    }


def equations_evidence(out: Mapping[str, Any], cfg: Config) -> dict:
    """``eq1-equals-eq2``: the worst relative difference of the two formulations' event times."""
    rows = out["equations"]
    diffs = [r["rel_diff"] for r in rows if r["rel_diff"] is not None]
    if not diffs:
        return {"eq1-equals-eq2": Unavailable(NEITHER_REACHED)}
    worst = max(diffs)
    r0 = rows[0]
    return {
        "eq1-equals-eq2": Evidence(
            C.exact(worst, how="worst case over thresholds (deterministic)"),
            shown=f"{worst:.2g}",
            reason=f"Banknote subsample, {r0['unknowns_eq1']:,} unknowns (eq. 1) against "
            f"{r0['unknowns_eq2']:,} (eq. 2), η = {cfg.lr:g}; per threshold "
            + ", ".join(
                f"{r['threshold']:.2f}: "
                + (
                    "neither reached"
                    if r["rel_diff"] is None
                    else f"{r['rel_diff']:.2g} (BDF {r['solve_s_eq1']:.2g} s / {r['solve_s_eq2']:.2g} s)"
                )
                for r in rows
            )
            + "; solve times shown, not decided on",
        )
    }


def scaling_evidence(out: Mapping[str, Any], cfg: Config) -> dict:
    """``bdf-scales-well``: the median over rounds of the fitted exponent of solve time vs n."""
    sc = out["scaling"]
    m = C.over_rounds(sc["exponents"])
    return {
        "bdf-scales-well": Evidence(
            m,
            shown=m.text(".2f"),
            reason=f"{sc['data']} subsamples n = "
            + ", ".join(f"{n:,}" for n in sc["sizes"])
            + f", width {sc['width']}, seed {sc['seed']}, parameter space ({sc['unknowns']:,} "
            f"unknowns at every n), flow time {sc['horizon']:g}, {sc['timed']['rounds']} "
            "interleaved rounds after a warm-up solve of each size, BLAS pinned; median solve "
            + ", ".join(
                f"{r['n']:,}: {r['median_s']:.3g} s ({r['rhs']} RHS, {r['lu']} LU)"
                for r in sc["per_size"]
            )
            + f"; load {sc['timed']['load']}",
        )
    }


def width_evidence(out: Mapping[str, Any], cfg: Config) -> dict:
    """``linearisation-improves-with-width``: the mean over seeds of the slope of log output gap
    against log width at the width study's last time."""
    rows, cid = out["widths"], "linearisation-improves-with-width"
    slopes = gap_slopes(rows)
    if not slopes:
        return {cid: Unavailable(NO_GAP)}
    t_end = max(r["t"] for r in rows)
    gaps = "; ".join(
        f"seed {s}: "
        + ", ".join(
            f"width {r['width']} {r['output_gap']:.3g}"
            for r in rows
            if r["seed"] == s and r["t"] == t_end
        )
        for s in sorted({r["seed"] for r in rows})
    )
    return {
        cid: Evidence(
            C.over_seeds(slopes),
            reason=f"Banknote subsample ({cfg.width_study_n_train} points), η = {cfg.lr:g}, "
            f"t = {t_end:g} GD steps, {len(slopes)} seed(s); per-seed slopes "
            + ", ".join(f"{a:.3g}" for a in slopes)
            + f"; gap ||f_lin − f_GD|| / ||f_GD − f_0|| on the test points: {gaps}",
        )
    }


def reach_evidence(out: Mapping[str, Any], cfg: Config) -> dict:
    """``magic-095-reachable``: the chosen configuration's highest training accuracy over seeds."""
    R, rows = out["reach"], out["reach"]["rows"]
    if R["chosen"] is None:
        return {"magic-095-reachable": Unavailable(f"{ALL_DIVERGED} (seed {R['seeds'][0]})")}
    w_c, c_c = R["chosen"]
    mine = [r for r in rows if r["width"] == w_c and r["c"] == c_c]
    stable = [r for r in mine if r["stable"]]
    diverged = [int(r["seed"]) for r in mine if not r["stable"]]
    rel_budget = relative_budget(out["tables"], "magic", cfg.magic_steps)
    grid = ", ".join(
        f"width {int(r['width'])} c={r['c']:g}: "
        + ("diverged" if not r["stable"] else f"{r['best_acc']:.3f}")
        for r in rows
        if r["stage"] == "selection"
    )
    return {
        "magic-095-reachable": Evidence(
            C.over_seeds([float(r["best_acc"]) for r in stable]),
            reason=f"chosen on seed {R['seeds'][0]}'s training accuracy: width {w_c}, "
            f"η = {c_c * 64 / w_c:.3g} (c = {c_c:g}), {cfg.magic_steps:,} steps; per seed "
            + ", ".join(f"{int(r['seed'])}: {r['best_acc']:.3f}" for r in stable)
            + ("" if not diverged else f"; diverged on seed(s) {diverged}")
            + (
                ""
                if rel_budget is None
                else f"; budget {rel_budget:.3g}× the Tables' GD steps to 0.80 (the paper's GD: "
                f"0.95 in {PAPER_GD_095_OVER_080:.2f}× its time to 0.80)"
            )
            + f"; seed {R['seeds'][0]}'s grid: "
            + grid,
        )
    }


#: the sections' evidence functions, in the chapter's order
PARTS = (
    tables_evidence,
    small_widths_evidence,
    solver_evidence,
    best_lr_evidence,
    accuracy_evidence,
    selected_width_evidence,
    memory_evidence,
    equations_evidence,
    scaling_evidence,
    width_evidence,
    reach_evidence,
)


def evidence(out: Mapping[str, Any], cfg: Config) -> dict:
    """``{claim id: Evidence | Measurement | Unavailable}`` for every declared claim of the chapter.

    Raises naming the claims no section decides, those two sections both decide, and undeclared
    ones, before any verdict is recorded."""
    return evidence_map(PARTS, out, cfg, CLAIMS, "01")


def extra_records(out: Mapping[str, Any], cfg: Config, ties, tie_rows) -> dict:
    """What the results file keeps besides the claims: the protocol, the ties per seed and their
    summaries, and the MAGIC reachability rows (``res.extra.update(**extra_records(...))``)."""
    return {
        "protocol": {
            "lr": cfg.lr,
            "activation": cfg.activation,
            "rtol": cfg.rtol,
            "atol": cfg.atol,
            "gd_max_steps": cfg.gd_max_steps,
            "timing_rounds": cfg.timing_rounds,
            "solver_rounds": [cfg.solver_rounds, cfg.solver_slow_rounds],
            "tie_seeds": {d.name: list(d.tie_seeds) for d in cfg.datasets},
            "datasets": [
                {"name": d.name, "width": d.width, "n_train": d.n_train, "seeds": list(d.seeds)}
                for d in cfg.datasets
            ],
        },
        "ties": {
            "per_seed": tie_rows,
            "summary": [
                {"data": r["data"], "threshold": r["threshold"]}
                | {
                    k: {"values": r[k]["values"], "text": r[k]["text"], "seeds": r[k]["where"]}
                    for k in TIE_KEYS
                }
                for r in ties
            ],
        },
        "magic_reach": {
            "chosen": None if out["reach"]["chosen"] is None else list(out["reach"]["chosen"]),
            "rows": out["reach"]["rows"],
        },
    }
