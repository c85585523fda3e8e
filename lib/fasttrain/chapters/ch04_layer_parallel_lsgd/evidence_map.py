"""Chapter 04's evidence map: what each declared claim is decided on.

:func:`evidence` takes what the chapter's sections returned (``out``, the keys listed in
:data:`SECTIONS`) and the settings (:func:`~.configs.config`), and returns ``{claim id: Evidence |
Measurement | Unavailable}`` for :meth:`fasttrain.core.results.ChapterResults.record_all`: every
claim of :data:`~.claims.CLAIMS` at every scale, a claim that a scale does not run as
:class:`~fasttrain.core.claims.Unavailable` with the reason (:func:`~.measurements.not_run_reason`),
through its rule.  It only reads and reshapes measurements (no training, no timing; the work
model's counts are arithmetic), so it is unit-tested on synthetic section outputs.

One function per section; each returns the entries of the claims that section decides.  (The
module is ``evidence_map``, not ``evidence``, so that the package's ``evidence`` is the function.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ...core import claims
from ...core.claims import Unavailable
from ...core.results import Evidence, evidence_map
from ...methods import layer_parallel as LP
from .. import multiprocess_study as mps
from .claims import CLAIMS, SPEED_DEPTHS
from .configs import Config
from .convergence import bounded_iterations
from .lsgd_regression import iteration_ratio
from .measurements import (
    accuracy_measurement,
    box_open_cost,
    init_comparison,
    lsgd_measurement,
    not_run_reason,
    per_iteration_walltime,
    ratio_shown,
    settle_text,
    training_measurements,
    walltime_measurement,
)
from .networks import variant_name
from .rules import MAX_MGRIT_ITER, SOLVE_ACC_FACTOR
from .speed import max_model_speedup, processors_text

#: what :func:`evidence` reads from ``out`` (the sections' own return values)
SECTIONS = {
    "convergence": "ch.convergence_study(...)[0]: the rows (depth, variant, iters_to_tol, ...)",
    "gradients": "ch.gradient_study(...): the rows (depth, iterations, grad_rel_err, ...)",
    "training": "ch.training_seeds(...): {'runs': {seed: {(data, k): run}}, 'baseline': ...}",
    "same_network": "{data: ch.same_network_measurements(study, cfg.lp, data, cfg.lp.n_fwd)}",
    "lbfgs": "ch.lbfgs_seeds(...) (None where the scale runs no L-BFGS)",
    "exact": "ch.serial_equals_parallel(...) rows (None where the scale runs no check)",
    "speed": "{'rows': ch.time_passes(...)['rows'] over the timing depths, 'load': {...}, "
    "'devices': len(jax.devices())}",
    "multiprocess": "multiprocess_study.summarize(multiprocess_study.measure(...))",
    "lr": "ch.tune_lr(...)['chosen'] (or ch.default_lrs): {(benchmark, method): lr}",
    "regression": "{seed: ch.regression_study(...)}: {benchmark: {method: run}} per seed",
    "iteration_ratios": "{benchmark: [ch.iteration_ratio(LSGD run, Adam run) per seed]}",
    "time_to_target": "{benchmark: [ch.time_to_target(...) per seed]}",
    "iteration_cost": "{benchmark: ch.iteration_cost(...)}",
    "final_errors": "{'cholesky': {benchmark: {seed: error}}, 'qr': ch.qr_errors(...)}",
    "init": "ch.init_study(...) rows (per seed)",
    "pinn": "{problem: ch.pinn_seeds(...)}: {seed: {'LSGD': run, 'Adam': run, ...}}",
    "pinn_lr": "{problem: chosen learning rates {'LSGD': lr, 'Adam': lr}}",
    "wall_time_s": "the run's wall time up to the claims",
    "cpus": "os.cpu_count()",
}


def _not_run(ids, cfg: Config) -> dict:
    """``Unavailable`` with :func:`not_run_reason` for each of ``ids`` (raises for a claim that
    every scale measures: its absence is a defect)."""
    return {cid: Unavailable(not_run_reason(cid, cfg.scale, cfg.lp, cfg.ls)) for cid in ids}


def _its(infos) -> str:
    return ", ".join(
        f"{i['k_lsgd']} / {'never' if i['k_adam'] is None else i['k_adam']}" for i in infos
    )


def _worst_err(rows) -> float:
    """The best variant's largest distance from serial propagation over the depths."""
    per: dict = {}
    for r in rows:
        per.setdefault(r["variant"], []).append(float(r["max_err_vs_serial"]))
    return float(min(max(v) for v in per.values()))


def convergence_evidence(out: Mapping[str, Any], cfg: Config) -> dict:
    """(1) MGRIT's iterations to 1e-8 over depths, and its distance from serial propagation."""
    lp, rows = cfg.lp, out["convergence"]
    bi = bounded_iterations(rows, min_depth=64, max_iter=MAX_MGRIT_ITER)
    worst = bi["worst_of_best"]
    err_max = _worst_err(rows)
    return {
        "mgrit-bounded-iterations": Evidence(
            claims.exact(lp.conv_max_iter + 1 if worst is None else worst),
            shown=worst,
            reason=f"best variant {bi['best']}; per variant (None: not reached in "
            f"{lp.conv_max_iter}) {bi['per_variant']}; depths {bi['depths']}",
            context={"max_depth": max(bi["depths"])},
        ),
        "mgrit-equals-serial": Evidence(
            claims.exact(err_max),
            shown=f"{err_max:.1e}",
            reason=f"best variant after {lp.conv_max_iter} iterations, every depth",
        ),
    }


def gradients_evidence(out: Mapping[str, Any], cfg: Config) -> dict:
    """(2) The gradient of the forward and adjoint MGRIT solves against ``jax.grad``."""
    rows = out["gradients"]
    k = max(int(r["iterations"]) for r in rows)
    gmax = float(max(r["grad_rel_err"] for r in rows if r["iterations"] == k))
    depths = sorted({int(r["depth"]) for r in rows})
    return {
        "mgrit-gradients": Evidence(
            claims.exact(gmax),
            shown=f"{gmax:.1e}",
            reason=f"after {k} forward and adjoint iterations (FCF two-level), depths {depths}",
        )
    }


def problems(study: Mapping) -> list[str]:
    """The training problems of :func:`training_seeds`' result, in the order they ran."""
    first = next(iter(study["runs"].values()))
    return list(dict.fromkeys(n for n, _ in first))


def _gap_evidence(
    st: Mapping, name: str, k: int, head: str, n_seeds: int, tail: str = ""
) -> Evidence:
    """A ``training-*`` claim: the accuracy gap layer-parallel - serial, with its context."""
    m = training_measurements(st, name, k)
    return Evidence(
        m["gap"],
        shown=m["gap"].text(".3f"),
        reason=f"{head}test accuracy MGRIT {m['parallel'].text('.3f')} vs serial "
        f"{m['serial'].text('.3f')} over {n_seeds} seed(s); serial above the majority class "
        f"by {m['learnt'].text('.3f')}{tail}",
        context={"loss_ratio": m["loss_ratio"], "learnt": m["learnt"]},
    )


def training_evidence(out: Mapping[str, Any], cfg: Config) -> dict:
    """(3) Serial against layer-parallel training (Adam; the same trained network) and (3b) with
    L-BFGS and with converged MGRIT."""
    lp, study = cfg.lp, out["training"]
    seeds = list(study["runs"])
    first = study["runs"][seeds[0]]
    ev: dict = {}
    for name in problems(study):
        others = ", ".join(
            f"{k} it.: {first[name, k].test_accuracy[-1]:.3f}"
            for k in lp.train_iters
            if k != lp.n_fwd
        )
        ev[f"training-{name}"] = _gap_evidence(
            study,
            name,
            lp.n_fwd,
            "",
            len(seeds),
            f"; after {lp.train_steps} Adam steps; other iteration counts (seed {seeds[0]}): "
            f"{others}",
        )
    for name, sm in out["same_network"].items():
        ev[f"training-same-network-{name}"] = Evidence(
            sm["distance"],
            shown=f"{sm['distance'].center:.2g}",
            reason=f"{len(seeds)} seed(s), {lp.train_steps} Adam steps, {lp.n_fwd} MGRIT "
            "iterations per step; per seed distance "
            + ", ".join(f"{d:.2g}" for d in sm["per_seed"]["distance"])
            + ", prediction agreement "
            + ", ".join(f"{a:.3f}" for a in sm["per_seed"]["agree"]),
            context={"agree": sm["agree"]},
        )
    if lp.lbfgs_steps:
        for name in lp.lbfgs_data:
            ev[f"training-lbfgs-{name}"] = _gap_evidence(
                out["lbfgs"], name, lp.n_fwd, f"L-BFGS, {lp.lbfgs_steps} steps: ", len(seeds)
            )
    if lp.exact_steps:
        EX = out["exact"]
        worst_ex = max(r["max_rel_diff"] for r in EX)
        ev["mgrit-training-equals-serial"] = Evidence(
            claims.exact(worst_ex),
            shown=f"{worst_ex:.1e}",
            reason=f"{lp.exact_steps} steps per optimiser, FCF two-level with "
            f"{EX[0]['iterations']} iterations per step, float64; per optimiser "
            + ", ".join(f"{r['optimizer']}: {r['max_rel_diff']:.1e}" for r in EX),
        )
    mine = [k for k in CLAIMS if k.startswith(("training-", "mgrit-training-")) and k not in ev]
    return {**ev, **_not_run(mine, cfg)}


def _layout_work(N: int, variant: str, cfg: Config) -> int:
    """The work count (layer applications) of the MGRIT layout ``variant`` at depth ``N``."""
    relax, levels = variant.split(", ")[0], 2 if "two-level" in variant else 99
    return LP.critical_path(N, LP.MGRITConfig(cfg.lp.cfactor, levels, relax), 1, cfg.lp.n_fwd)[
        "work"
    ]


def need(cfg: Config) -> dict:
    """The work model at the deepest timing depth: ``{variant: (processors for 10x, the speed-up
    with one processor per interval)}`` (a model, deciding nothing)."""
    lp = cfg.lp
    Nb = max(lp.timing_depths)
    return {
        variant_name(*v): (
            processors_text(Nb, lp.cfactor, 10, lp.n_fwd, v),
            max_model_speedup(Nb, lp.cfactor, lp.n_fwd, v),
        )
        for v in (("F", 99), ("FCF", 99))
    }


def best_layout(rows, N: int, k: int, key: str = "serial/MGRIT fwd") -> dict:
    """The MGRIT row at depth ``N`` and ``k`` iterations with the best median ratio ``key`` (the
    first such row on ties), and the number of such rows."""
    at = [r for r in rows if r["depth"] == N and r["method"] == "MGRIT" and r["iterations"] == k]
    return max(at, key=lambda r: r[key]), len(at)


def speed_evidence(out: Mapping[str, Any], cfg: Config) -> dict:
    """(4) Forward and forward + backward wall time against serial, per timing depth, and the
    order-of-magnitude claim (measured across processes; the model shown, deciding nothing)."""
    lp, sp = cfg.lp, out["speed"]
    rows, load, P = sp["rows"], sp["load"], sp["devices"]
    ev: dict = {}
    for N in lp.timing_depths:
        if f"speedup-forward-N{N}" not in CLAIMS:  # smoke's depth 64: shown in the table only
            continue
        best, n = best_layout(rows, N, lp.n_fwd)
        conv = [
            r
            for r in rows
            if r["depth"] == N and r["method"] == "MGRIT" and r["iterations"] != lp.n_fwd
        ]
        tol_ratio = "–" if not conv else f"{max(r['serial/MGRIT fwd'] for r in conv):.3g}"
        model = LP.critical_path(N, LP.MGRITConfig(lp.cfactor, 99, "FCF"), P, lp.n_fwd)
        m = claims.over_rounds(best["fwd_ratios"])
        ev[f"speedup-forward-N{N}"] = Evidence(
            m,
            shown=m.text(".3g"),
            reason=f"best median of {n} MGRIT layouts at {lp.n_fwd} iterations: "
            f"{best['variant']}, {int(best['devices'])} device(s); fwd+bwd median ratio "
            f"{float(best['serial/MGRIT fwd+bwd']):.3g}; to 1e-8 the best forward median ratio "
            f"is {tol_ratio}; {lp.timing_rounds} interleaved rounds on a shared machine "
            f"(load {load[f'timing N={N}']}); the work model (a model, not a measurement) "
            f"predicts {model['speedup']:.2f}x for P = {P}",
            context={"work_ratio": _layout_work(N, best["variant"], cfg) / N, "cores": P},
        )
    # backward propagation: loss and gradient (forward + adjoint MGRIT) against jax.value_and_grad
    for N in lp.timing_depths:
        if f"speedup-backward-N{N}" not in CLAIMS:
            continue
        best, n = best_layout(rows, N, lp.n_fwd, "serial/MGRIT fwd+bwd")
        m = claims.over_rounds(best["fwdbwd_ratios"])
        ev[f"speedup-backward-N{N}"] = Evidence(
            m,
            shown=m.text(".3g"),
            reason=f"best median of {n} MGRIT layouts at {lp.n_fwd} forward and adjoint "
            f"iterations: {best['variant']}, {int(best['devices'])} device(s); the work ratio is "
            "the forward layout's (the adjoint solve has the same layout); "
            f"{lp.timing_rounds} interleaved rounds (load {load[f'timing N={N}']})",
            context={"work_ratio": _layout_work(N, best["variant"], cfg) / N, "cores": P},
        )
    ev.update(
        _not_run(
            [
                f"speedup-{d}-N{N}"
                for d in ("forward", "backward")
                for N in SPEED_DEPTHS
                if f"speedup-{d}-N{N}" not in ev
            ],
            cfg,
        )
    )
    Nb = max(lp.timing_depths)
    mp = mps.mgrit_evidence(out["multiprocess"])
    one = max(r["serial/MGRIT fwd"] for r in rows if r["depth"] == Nb and r["method"] == "MGRIT")
    ev["speedup-order-of-magnitude"] = Evidence(
        mp.measured,
        shown=mp.shown,
        reason=f"{mp.reason}; scale {cfg.scale!r}, processes {lp.mp_processes}; in one process at "
        f"depth {Nb}: serial / MGRIT forward median {one:.3g}; the communication-free work model "
        f"(a model, deciding nothing) at depth {Nb}, {lp.n_fwd} iterations: "
        + "; ".join(
            f"{v}: 10x needs {p} (at most {mx:.1f}x with one processor per interval)"
            for v, (p, mx) in need(cfg).items()
        ),
        context=mp.context,
    )
    return ev


def regression_evidence(out: Mapping[str, Any], cfg: Config) -> dict:
    """(5) LSGD against tuned Adam: iterations and wall time to the target, final errors, and the
    cost of an iteration with its accuracy check."""
    ls, lr = cfg.ls, out["lr"]
    reg, costs, wall = out["regression"], out["iteration_cost"], out["time_to_target"]
    seeds = list(reg)
    ev: dict = {}
    for b, infos in out["iteration_ratios"].items():
        m, ctx = lsgd_measurement(infos)
        lower = sum(i["bound"] == ">" for i in infos)
        ev[f"lsgd-vs-adam-{b}"] = Evidence(
            m,
            shown=ratio_shown(m),
            reason=f"{len(infos)} seed(s); iterations LSGD / Adam per seed: "
            + _its(infos)
            + (f" ({lower} seed(s) a lower bound: Adam never reached the target)" if lower else "")
            + f"; budgets {ls.lsgd_steps} / {ls.adam_steps} iterations; tuned learning rates LSGD "
            f"{lr[b, 'LSGD']:g}, Adam {lr[b, 'Adam']:g}",
            context=ctx,
        )
        m, ctx = walltime_measurement(wall[b])
        est = per_iteration_walltime(infos, costs[b]["lsgd/adam"])
        got = [t for t in wall[b] if t is not None]
        ev[f"lsgd-walltime-{b}"] = Evidence(
            m,
            shown=ratio_shown(m),
            reason=f"runs to the target timed end to end, {ls.wall_rounds} interleaved rounds per "
            f"seed, {len(infos)} seed(s); per seed Adam / LSGD "
            + ", ".join("never" if t is None else f"{np.median(t['ratios']):.3g}" for t in wall[b])
            + f" (load {[t['load'] for t in got][:1]}; the timed LSGD run ends "
            f"at the target in {sum(t['reached'] for t in got)} of {len(got)} seeds); the "
            "previous edition's estimate (iterations x median cost per iteration, fixed costs "
            f"left out; an analysis, deciding nothing): {ratio_shown(est)}",
            context=ctx,
        )
    for b in reg[seeds[0]]:
        final = {m: [float(reg[s][b][m].error[-1]) for s in seeds] for m in ("LSGD", "Adam")}
        acc_log = claims.over_seeds([np.log10(a / q) for a, q in zip(final["Adam"], final["LSGD"])])
        ev[f"lsgd-accuracy-{b}"] = Evidence(
            acc_log,
            shown=ratio_shown(acc_log),
            reason=f"{len(seeds)} seed(s); final test errors LSGD / Adam per seed: "
            + ", ".join(f"{q:.2g} / {a:.2g}" for q, a in zip(final["LSGD"], final["Adam"]))
            + f"; budgets {ls.lsgd_steps} / {ls.adam_steps} iterations",
        )
    mine = [k for k in CLAIMS if k.startswith("lsgd-") and k != "lsgd-solve-cost" and k not in ev]
    return {**ev, **_not_run(mine, cfg), **solve_cost_evidence(out, cfg)}


def solve_cost_evidence(out: Mapping[str, Any], cfg: Config) -> dict:
    """``lsgd-solve-cost``: the worst benchmark's cost of an LSGD iteration in Adam steps, and the
    worst accuracy of the Cholesky solve against QR."""
    costs, fe = out["iteration_cost"], out["final_errors"]
    worst = max(costs, key=lambda b: np.median(costs[b]["lsgd/adam"]))
    # seconds per seed of the accuracy check (LSGD with both solves, every benchmark): measured rates
    per_seed_acc = sum(
        cfg.ls.lsgd_steps * (c["ms_per_it"]["LSGD"] + c["ms_per_it"]["LSGD (QR)"]) / 1e3
        for c in costs.values()
    )
    acc = accuracy_measurement(fe["cholesky"], fe["qr"])
    worst_acc = max(acc, key=lambda b: acc[b].center)
    a = acc[worst_acc]
    cost_m = claims.over_rounds(costs[worst]["lsgd/adam"])
    bar = np.log10(SOLVE_ACC_FACTOR)
    return {
        "lsgd-solve-cost": Evidence(
            cost_m,
            shown=cost_m.text(".3g"),
            reason=f"worst cost on {worst}; per benchmark "
            + ", ".join(
                f"{b}: {claims.over_rounds(c['lsgd/adam']).text('.3g')}" for b, c in costs.items()
            )
            + f" ({cfg.ls.cost_steps} iterations per call, {cfg.ls.cost_rounds} rounds; fixed cost "
            "of a call "
            + ", ".join(f"{b}: LSGD {c['overhead']['LSGD']:.1%}" for b, c in costs.items())
            + "); QR / Cholesky per iteration "
            + ", ".join(
                f"{b}: {claims.over_rounds(c['qr/cholesky']).text('.3g')}" for b, c in costs.items()
            )
            + f"; worst accuracy on {worst_acc} (log10 error ratio Cholesky / QR over "
            f"{len(a.values)} seeds {a.text('.2f')}"
            + (f"; {settle_text(a, (bar,), per_seed_acc)})" if a.lo <= bar <= a.hi else ")"),
            context={"accuracy": a},
        )
    }


def init_evidence(out: Mapping[str, Any], cfg: Config) -> dict:
    """(6) Box against the strongest of He and Glorot, per MLP depth: dead ReLUs and errors."""
    records, ev = out["init"], {}
    for cid, quantity, what in (
        ("box-init-dead-relu", "dead", "dead fraction, other - box"),
        ("box-init-error", "error", "log10 error ratio other / box"),
    ):
        cmp_ = init_comparison(records, quantity)
        each = init_comparison(records, quantity, against="each")
        n_seeds = len(cmp_.cases[0][1].values)
        ev[cid] = Evidence(
            cmp_,
            shown=f"{sum(not x.limited and x.lo > 0 for _, x in cmp_.cases)} of {len(cmp_.cases)}",
            reason=f"{what} over {n_seeds} seed(s), against the strongest other initialisation "
            "per depth: "
            + "; ".join(f"{k}: {x.text('.2f')}" for k, x in cmp_.cases)
            + "; against each: "
            + "; ".join(f"{k}: {x.center:.2f}" for k, x in each.cases)
            + "; "
            + box_open_cost(cmp_, records, quantity),
        )
    return ev


def _pinn_id(prefix: str, pr: str) -> str:
    return prefix if pr == "sin" else f"{prefix}-{pr}"


def pinn_evidence(out: Mapping[str, Any], cfg: Config) -> dict:
    """(7) The PINN: Adam's final error over LSGD's, and the iterations to a common target."""
    ev: dict = {}
    for pr, pinns in out["pinn"].items():
        lr = out["pinn_lr"][pr]
        pinn_log = claims.over_seeds(
            [
                np.log10(float(p["Adam"].error[-1]) / float(p["LSGD"].error[-1]))
                for p in pinns.values()
            ]
        )
        ev[_pinn_id("pinn-lsgd", pr)] = Evidence(
            pinn_log,
            shown=ratio_shown(pinn_log),
            reason=f"{len(pinns)} seed(s), {cfg.ls.pinn_steps} iterations each, same initial "
            f"network per seed; learning rates (held-out collocation points) LSGD "
            f"{lr['LSGD']:g}, Adam {lr['Adam']:g}; errors LSGD / Adam per seed: "
            + ", ".join(
                f"{float(p['LSGD'].error[-1]):.2g} / {float(p['Adam'].error[-1]):.2g}"
                for p in pinns.values()
            )
            + "; "
            + settle_text(
                pinn_log,
                (0, 1),
                np.median([p["LSGD"].wall_time + p["Adam"].wall_time for p in pinns.values()]),
            ),
        )
    for pr, pinns in out["pinn"].items():
        infos = [iteration_ratio(p["LSGD"], p["Adam"]) for p in pinns.values()]
        m, ctx = lsgd_measurement(infos)
        ev[_pinn_id("pinn-rate", pr)] = Evidence(
            m,
            shown=ratio_shown(m),
            reason=f"{len(infos)} seed(s); iterations LSGD / Adam to the target per seed: "
            + _its(infos)
            + f" (budget {cfg.ls.pinn_steps} each; where Adam never reached it a lower bound)",
            context=ctx,
        )
    mine = [k for k in CLAIMS if k.startswith("pinn-") and k not in ev]
    return {**ev, **_not_run(mine, cfg)}


def budget_evidence(out: Mapping[str, Any], cfg: Config) -> dict:
    """The chapter's own wall time up to the claims."""
    minutes = out["wall_time_s"] / 60
    return {
        "chapter-budget": Evidence(
            claims.exact(minutes, how="one run"),
            shown=f"{minutes:.1f}",
            reason=f"scale {cfg.scale}, {out['cpus']} cores shared with other jobs",
        )
    }


#: the sections' evidence functions, in the chapter's order
PARTS = (
    convergence_evidence,
    gradients_evidence,
    training_evidence,
    speed_evidence,
    regression_evidence,
    init_evidence,
    pinn_evidence,
    budget_evidence,
)


def evidence(out: Mapping[str, Any], cfg: Config) -> dict:
    """``{claim id: Evidence | Measurement | Unavailable}`` for every declared claim of the chapter.

    Raises naming the claims no section decides, those two sections both decide and undeclared
    ones, before any verdict is recorded."""
    return evidence_map(PARTS, out, cfg, CLAIMS, "04")
