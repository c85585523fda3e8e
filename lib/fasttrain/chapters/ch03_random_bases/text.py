"""Chapter 03's sentences built from this run's numbers ("What the measurements say"), and the
tables the chapter shows.

:func:`sentences` takes the same section outputs as :func:`.evidence.evidence` and the recorded
verdicts (``{claim id: verdict}``) and returns ``{key: Markdown text}``; the chapter glues each as
``ch03-says-<key>``.  :func:`lr_tables` and :func:`distributed_tables` return the sections' tables
as ``(frame, {column: header}, readable options)`` for :func:`fasttrain.core.tables.readable`.
Pure string and table building, unit-tested on synthetic outputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...core import claims as C
from ...core import tables
from ...core.claims import Unavailable
from .configs import Config
from .devices import evidence_scaling
from .evidence import compression_gains
from .measurements import table1_measurements
from .paper import paper_gap_closed
from .step_costs import structured_step_facts, timing_vs_d_measurements
from .sweeps import compartment_measurements, switch_epochs
from .table1_runs import budget_measurements, gap_closed, long_measurements
from .table2_runs import table2_says

#: the keys of :func:`sentences` (glued as ``ch03-says-<key>``)
KEYS = (
    "table1",
    "cnn",
    "budget",
    "cnn-long",
    "lr",
    "table2",
    "dsweep",
    "compression",
    "compartments-time",
    "switching",
    "distribution",
    "timing",
    "timing-d",
)


def _join(items) -> str:
    return ", ".join(items)


def _closed(rows, model: str) -> str:
    """The share of the FPD–SGD gap RBD closes, in words (before the verdict)."""
    g = gap_closed(rows, model)
    if isinstance(g, Unavailable):
        return f"the share of the FPD–SGD gap RBD closes is undefined ({g.reason}): "
    return (
        f'RBD closes {g.text(".3f")} of the FPD–SGD gap (the paper: "up to 20 %"; its own '
        f"Table 1 closes {paper_gap_closed(model):.2f}): "
    )


def sentences(out: Mapping[str, Any], cfg: Config, verdicts: Mapping[str, str]) -> dict:
    """``{key: Markdown}``, one sentence group per key of :data:`KEYS`."""

    def vd(cid):
        return f"*{verdicts[cid]}* (`{cid}`)" if cid in verdicts else "not recorded"

    f = out["facts"]
    says: dict[str, str] = {}
    T1r = out["table1"]
    T1fc = table1_measurements(T1r, "fc")
    acc, fr = T1fc["accuracy"], T1fc["fraction"]
    steps_fc = max(int(r["steps"]) for r in T1r if r["model"] == "fc" and r.get("steps"))
    says["table1"] = (
        f"On FC ({f['n_seeds']['seeds']} seeds, {f['epochs']['fc']} epochs = {steps_fc} steps) the "
        "test accuracies are "
        + _join(f"{k} {m.text('.3f')}" for k, m in acc.items() if m is not None)
        + "; as fractions of SGD "
        + _join(f"{k} {m.center:.2f}" for k, m in fr.items() if k != "SGD" and m is not None)
        + " (paper: NES 0.23, FPD 0.81, RBD 0.96). Ordering "
        + vd("table1-order-fc")
        + ", RBD's fraction "
        + vd("table1-rbd-fraction-fc")
        + ", FPD's "
        + vd("table1-fpd-fraction-fc")
        + "; "
        + _closed(T1r, "fc")
        + vd("gap-fc")
        + "."
    )
    if "cnn" in cfg.models:
        T1c = table1_measurements(T1r, "cnn")
        says["cnn"] = (
            f"On the CNN ({f['n_seeds']['cnn_seeds']} seeds, {cfg.cnn_epochs} epochs at the "
            "paper's learning rates) "
            + _join(f"{k} {m.text('.3f')}" for k, m in T1c["accuracy"].items() if m is not None)
            + "; ordering "
            + vd("table1-order-cnn")
            + "; "
            + _closed(T1r, "cnn")
            + vd("gap-cnn")
            + "."
        )
    else:
        says["cnn"] = f"The CNN is not run at scale {cfg.scale!r}."
    bc = out["budget_curve"]
    if bc:
        BM = budget_measurements(bc)
        first = budget_measurements(bc, min(int(r["steps"]) for r in bc))
        top = BM["steps"]
        says["budget"] = (
            f"At {top} steps ({top / 156_250:.0%} of the paper's ≈156 000; "
            f"{max(int(r['epochs']) for r in bc)} epochs of the {f['n_train']} training images, "
            f"{len(cfg.budget_seeds)} seeds) "
            + _join(f"{k} {m.text('.3f')}" for k, m in BM["accuracy"].items() if m is not None)
            + f": RBD reaches {BM['fraction']['RBD'].text('.3f')} of SGD (at {first['steps']} "
            f"steps: {first['fraction']['RBD'].center:.3f}), FPD "
            f"{BM['fraction']['FPD'].text('.3f')} (at {first['steps']}: "
            f"{first['fraction']['FPD'].center:.3f}). Verdicts at this budget: ordering "
            + vd("table1-order-fc-longest")
            + ", RBD's fraction "
            + vd("table1-rbd-fraction-fc-longest")
            + ", FPD's "
            + vd("table1-fpd-fraction-fc-longest")
            + ', "almost matches SGD at 400×" '
            + vd("rbd-400x-mnist")
            + "."
        )
    else:
        says["budget"] = f"No budget curve at scale {cfg.scale!r}."
    LS, LR = out["lr_selection"], out["long_runs"]
    LM = long_measurements(LR["long"], LR["attempts"]) if LR["long"] else None
    if LM is not None and "SGD" not in LM["missing"]:
        top_e = max(int(r["epochs"]) for r in LR["long"])
        LL = {r["method"]: r for r in LR["long"] if int(r["epochs"]) == top_e}
        says["cnn-long"] = (
            f"At {int(LL['SGD']['steps'])} steps ({top_e} epochs of the {f['n_train']} images, "
            f"{len(cfg.cnn_long_seeds)} seed(s); rates: {LM['rates']}) "
            + _join(f"{k} {LL[k]['accuracy']:.3f}" for k in ("FPD", "RBD", "SGD") if k in LL)
            + "; as fractions of SGD "
            + _join(f"{k} {LL[k]['fraction']:.3f}" for k in ("RBD", "FPD") if k in LL)
            + " (paper: RBD 0.98, FPD 0.89). Verdicts (one stochastic run decides at most "
            "*inconclusive*): ordering "
            + vd("table1-order-cnn-long")
            + ", RBD's fraction "
            + vd("table1-rbd-fraction-cnn-long")
            + ", FPD's "
            + vd("table1-fpd-fraction-cnn-long")
            + "."
        )
    else:
        says["cnn-long"] = f"No long CNN runs at scale {cfg.scale!r}."
    sel_txt = []
    for m in dict.fromkeys(r["model"] for r in LS["selected"]):
        s = {r["method"]: r for r in LS["selected"] if r["model"] == m}
        sel_txt.append(
            f"{m.upper()}: RBD {s['RBD']['factor']:g}×, FPD {s['FPD']['factor']:g}×, SGD "
            f"{s['SGD']['factor']:g}× the paper's η; test accuracy RBD {s['RBD']['accuracy']:.3f}, "
            f"FPD {s['FPD']['accuracy']:.3f}, SGD {s['SGD']['accuracy']:.3f}, RBD = "
            f"{s['RBD']['fraction']:.2f} of the selected SGD ({vd(f'rbd-budget-{m}')})"
        )
    says["lr"] = "Selected on the validation split — " + "; ".join(sel_txt) + "."
    says["table2"] = table2_says(out["table2"], cfg, vd)
    DS = out["d_sweep"]
    says["dsweep"] = (
        "Mean cosine "
        + _join(f"{r['cos']:.3f}" for r in DS)
        + " (√(d/D): "
        + _join(f"{r['cos_theory']:.3f}" for r in DS)
        + "), accuracy "
        + _join(f"{r['accuracy']:.3f}" for r in DS)
        + " for d = "
        + _join(str(r["d"]) for r in DS)
        + f": {vd('cos-vs-d')}, {vd('acc-vs-d')}."
    )
    CP = out["compression"]
    gain = compression_gains(CP, f["D_fc"])
    compartments = ""
    if any(r["compartments"] > 1 for r in CP):
        CM = compartment_measurements(CP)
        compartments = (
            " Compartments (η·K) minus one subspace, per seed: "
            + _join(f"{k} {m.text('+.3f')}" for k, m in CM.items())
            + f": {vd('compartments')}."
        )
    says["compression"] = (
        "RBD/FPD − 1 = "
        + _join(f"D/d {g:.0f}: {gain[g].text('+.3f')}" for g in sorted(gain))
        + f" ({vd('rbd-beats-fpd')}; 75×: {vd('rbd-vs-fpd-75x')})."
        + compartments
    )
    says["compartments-time"] = compartments_time_says(out, vd)
    runs: dict[tuple, list[dict]] = {}
    for r in out["switching_seeds"]:
        runs.setdefault((r.get("switch_epoch"), r["run"]), []).append(r)
    says["switching"] = (
        "; ".join(
            f"{k} at epoch {e:g}: largest drop {max(r['acc_drop'] for r in g):+.3f}, final "
            f"{sum(r['final'] for r in g) / len(g):.3f}"
            for (e, k), g in runs.items()
        )
        + f" ({len({r['seed'] for r in out['switching_seeds']})} seeds): {vd('switching')}."
    )
    dsum = out["distributed_summary"]
    maxdiff = max(r["max |loss diff|"] for r in dsum)
    sc = evidence_scaling(out["multiprocess"], cfg)["scaling"]
    across = sc.reason if isinstance(sc, Unavailable) else sc.shown
    says["distribution"] = (
        f"largest loss difference device vs serial run {maxdiff:.1e} "
        f"({vd('distributed-curves')}); throughput with forced host devices "
        + _join(f"{r['devices']}: {r['throughput vs 1 device']:.2f}×" for r in dsum)
        + f"; across processes (weak scaling, 2 workers) {across} ({vd('scaling')})."
    )
    TMD = out["timing"]
    rt = {r["method"]: r for r in TMD["rows"]}
    co = C.over_rounds(TMD["ratios"][f"RBD {cfg.rbd_distribution}"])
    srht = rt.get("RBD hadamard")
    extra = f", the textbook SRHT {srht['ratio_to_sgd']:.2g}×" if srht else ""
    says["timing"] = (
        f"A coset-Hadamard RBD step costs {co.text('.2f')} SGD steps "
        f"({vd('goal-structured-step')}; 1.2× goal: {vd('goal-structured-1.2x')}){extra}; "
        f"{structured_step_facts(out['fused_kernels'])}."
    )
    TVM = timing_vs_d_measurements(out["timing_vs_d"])
    says["timing-d"] = (
        "Gaussian step "
        + " → ".join(f"{m.center:.3g} ms" for m in (TVM["gaussian"][d] for d in TVM["gaussian"]))
        + " for d = "
        + _join(str(d) for d in TVM["gaussian"])
        + f" ({vd('step-cost-vs-d-gaussian')}); coset step at the largest d ÷ smallest "
        f"{TVM['coset_ratio'].text('.2f')} ({vd('step-cost-vs-d-structured')}); Gaussian ÷ SGD "
        f"at d = {cfg.d}: {C.over_rounds(TMD['ratios']['RBD gaussian']).center:.0f}× "
        f"({vd('goal-gaussian-slow')})."
    )
    return says


def settings(cfg: Config, study) -> list[tuple[str, str]]:
    """The chapter's settings table: ``(setting, value)`` rows from the labels of :class:`Config`'s
    fields (:func:`fasttrain.core.tables.settings_rows`), with the computed parts as context: the
    CNN's learning-rate candidates (:func:`.table1_runs.grid_for`), the long CNN runs' steps
    (``study.steps_per_epoch()``, asked only when they run: it loads the data) and the switch
    points (:func:`.sweeps.switch_epochs`)."""
    from .table1_runs import grid_for

    e = cfg.cnn_long_epochs
    cnn_long = f"{e} ({e * study.steps_per_epoch()}); {len(cfg.cnn_long_seeds)}" if e else "not run"
    rows = tables.settings_rows(
        cfg, cnn_grid=grid_for(cfg, "cnn"), cnn_long=cnn_long, switch_points=switch_epochs(cfg)
    )
    return [(k, str(v)) for k, v in rows]


# ===================================================================== the sections' tables
#: one table for :func:`fasttrain.core.tables.readable`: ``(frame, {column: header}, options)``
Table = tuple[pd.DataFrame, dict, dict]


def lr_tables(selected: Sequence[dict], long: Mapping[str, Any], cfg: Config) -> list[Table]:
    """The learning-rate selection's test-set tables: the rates selected on validation, scored once
    on the test set (``selected``: :func:`.table1_runs.lr_selection`'s "selected"; per row the
    number of test seeds and the sd over them, NaN for one seed), then, only when
    :func:`.table1_runs.long_runs` ran (``long``: its return value), every long-run attempt in
    order (diverged ones included) and the completed long runs at their checkpoints."""
    sel = pd.DataFrame(list(selected))
    sel["model "] = sel.model.str.upper()
    sel["n"] = sel.seeds.map(len)
    sel["sd"] = sel.per_seed.map(lambda v: np.std(v, ddof=1) if len(v) > 1 else np.nan)
    tables: list[Table] = [
        (
            sel,
            {
                "model ": "model",
                "method": "method",
                "factor": "selected × paper's η",
                "lr": "learning rate",
                "val_accuracy": "validation accuracy",
                "n": "seeds (test)",
                "accuracy": "test accuracy (mean)",
                "sd": "sd over seeds",
                "fraction": "fraction of the selected SGD",
            },
            {"caption": "Selected learning rates, scored once on the test set"},
        )
    ]
    if long["attempts"]:
        tables.append(
            (
                pd.DataFrame(long["attempts"]),
                {
                    "method": "method",
                    "factor": "× paper's η",
                    "lr": "learning rate",
                    "selected": "selected on validation",
                    "status": "status",
                    "diverged_at": "diverged at step",
                    "last_step": "last checkpoint (steps)",
                    "last_accuracy": "test accuracy at the last checkpoint",
                    "step_ms": "time per step (ms)",
                },
                {"caption": "CNN long runs under the divergence protocol: every attempt, in order"},
            )
        )
    if long["long"]:
        tables.append(
            (
                pd.DataFrame(long["long"]),
                {
                    "method": "method",
                    "factor": "× paper's η (completed run)",
                    "lr": "learning rate",
                    "steps": "steps",
                    "epochs": "epochs of 5 000 images"
                    if cfg.dataset == "mnist-subset"
                    else "epochs",
                    "accuracy": f"test accuracy ({len(cfg.cnn_long_seeds)} seed(s))",
                    "fraction": "fraction of SGD (same seed, same steps)",
                },
                {
                    "caption": "CNN long runs that completed (the selected rate, or the "
                    "protocol's fallback), scored at checkpoints"
                },
            )
        )
    return tables


def distributed_tables(dist: Mapping[str, Any], summary: Sequence[dict]) -> list[Table]:
    """The multi-device section's tables: the bytes each compiled step exchanges per device count
    beside the 4d bytes of the coefficients and the 4D of an SGD gradient (``dist``:
    :func:`.devices.distributed_study`'s output), then per device count the serial twin against
    the devices (``summary``: :func:`.devices.distributed_summary`'s rows)."""
    xb = pd.DataFrame(
        [
            {
                "devices": b["groups"],
                "bytes exchanged per step (compiled step)": b["bytes"],
                "collectives": ", ".join(f"{op} {n} B" for op, n in b["ops"]) or "none",
                "coefficients: 4d (B)": 4 * dist["d"],
                "SGD gradient: 4D (B)": 4 * dist["D"],
            }
            for b in dist["bytes"]
        ]
    )
    names = {
        "devices": "devices",
        "d per device": "d per device",
        "max |loss diff|": "max |loss difference|",
        "acc serial": "accuracy, serial",
        "acc devices": "accuracy, devices",
        "step_ms serial": "ms per step, serial",
        "step_ms devices": "ms per step, devices",
        "throughput vs 1 device": "throughput ÷ 1 device's",
    }
    ds = pd.DataFrame(list(summary))[list(names)].rename(columns=names)
    digits = {
        "max |loss difference|": 2,
        "ms per step, serial": 2,
        "ms per step, devices": 2,
        "throughput ÷ 1 device's": 2,
    }
    return [
        (xb, {c: c for c in xb.columns}, {}),
        (ds, {c: c for c in ds.columns}, {"digits": digits}),
    ]


def compartments_time_says(out: Mapping[str, Any], vd) -> str:
    """The compartments' time per step in words: per network size and direction kind, one
    subspace → compartments (ms a step) and the median ratio, then the two verdicts."""
    ct = out.get("compartment_timing") or {}
    if not ct.get("rows"):
        return (
            "This scale times no compartments: "
            + f"{vd('compartments-time')}, {vd('compartments-time-grows')}."
        )
    by = {}
    for r in ct["rows"]:
        by.setdefault((r["hidden"], r["distribution"]), {})[r["K"] > 1] = r
    parts = [
        f"{dist} directions, hidden {h} (D = {v[False]['D']}, K = {v[True]['K']}): "
        f"{v[False]['step_ms']:.3g} → {v[True]['step_ms']:.3g} ms a step "
        f"(×{v[True]['one ÷ compartments']:.3g})"
        for (h, dist), v in by.items()
    ]
    return (
        "Time per step, one subspace → compartments: "
        + "; ".join(parts)
        + f". Faster with compartments: {vd('compartments-time')}; the benefit grows with the "
        + f"network: {vd('compartments-time-grows')}."
    )
