"""Chapter 04, part 2: the regression benchmarks (learning rates, LSGD against Adam and GD,
iteration costs, runs to the target).
"""

from __future__ import annotations

import math

import jax
import numpy as np

from ...core.errors import DivergenceError
from ...core.progress import progress_bar
from ...core.selection import on_grid
from ...core.timing import interleaved, ratios
from ...methods import lsgd as LS
from .configs import LSGDConfig

# ----------------------------------------------------------------------------
# part 2: least squares / gradient descent on the regression benchmarks

METHODS: tuple[str, ...] = ("LSGD", "Adam", "GD")
#: the chapter's method names -> their descriptions in :mod:`fasttrain.methods.lsgd` (called with the rate)
_FIT_METHOD = {"LSGD": LS.LSGD, "Adam": LS.Adam, "GD": LS.GD}


def regression_problem(cfg: LSGDConfig, name: str, seed: int, validation: bool = False):
    """``(benchmark, system, error_fn)`` of one regression benchmark.

    ``validation=True``: the learning-rate selection's problem -- the system on the first
    ``1 - cfg.val_fraction`` of the training points, the error on the rest (the validation split
    carved from the training data; the test grid is never used).
    """
    bench = LS.benchmark(name, cfg.osc_k)
    n_tr = cfg.n_train_2d if bench.dim == 2 else cfg.n_train
    xtr, ytr, xte, yte = LS.regression_data(bench, n_tr, cfg.n_test, seed)
    if validation:
        n_fit = n_tr - max(1, int(round(cfg.val_fraction * n_tr)))
        if n_fit < 1:
            raise ValueError(f"val_fraction {cfg.val_fraction} leaves no training point")
        return (
            bench,
            LS.regression_system(xtr[:n_fit], ytr[:n_fit]),
            LS.relative_error(xtr[n_fit:], ytr[n_fit:]),
        )
    return bench, LS.regression_system(xtr, ytr), LS.relative_error(xte, yte)


def _fit(p0, system, err, method: str, cfg: LSGDConfig, steps: int, lr: float, progress: bool):
    m = _FIT_METHOD[method](lr)
    # warm-up: compiles (or finds) the cached step, so that the timed run excludes compilation
    LS.run(m, p0, system, 1, ridge=cfg.ridge, error_fn=err, chunk=cfg.chunk)
    return LS.run(
        m, p0, system, steps, ridge=cfg.ridge, error_fn=err, chunk=cfg.chunk, progress=progress
    )


def _steps(cfg: LSGDConfig, method: str) -> int:
    return cfg.lsgd_steps if method == "LSGD" else cfg.adam_steps


def _grid(cfg: LSGDConfig, method: str) -> tuple[float, ...]:
    return cfg.gd_lr_grid if method == "GD" else cfg.lr_grid


def validation_rows(rows: list[dict], **columns) -> list[dict]:
    """:func:`fasttrain.core.selection.on_grid`'s rows as this chapter's tables show them:
    ``{**columns, "lr", "validation"}``, a diverged run scoring ``inf``."""
    return [
        {**columns, "lr": r["value"], "validation": math.inf if r["score"] is None else r["score"]}
        for r in rows
    ]


def tune_lr(
    cfg: LSGDConfig, seed: int, benchmarks=None, methods=None, progress: bool = False
) -> dict:
    """Learning rate per benchmark and method, chosen on a validation split of the training data.

    Every method trains for its own budget (LSGD ``lsgd_steps``, Adam and GD ``adam_steps``) at
    every value of its grid (``lr_grid``; GD ``gd_lr_grid``: the same number of values) on the
    first ``1 - val_fraction`` of the training points, from the same box-initialised network; the
    value with the lowest relative error on the held-out rest wins (a diverged run scores
    ``inf``; :func:`fasttrain.core.selection.on_grid`, ties to the smaller rate).  Returns
    ``{"rows": [{benchmark, method, lr, validation}], "chosen": {(benchmark name, method): lr}}``.
    """
    methods, benchmarks = methods or cfg.methods, benchmarks or cfg.benchmarks
    rows, chosen = [], {}
    todo = [(b, m) for b in benchmarks for m in methods]
    for b, m in progress_bar(todo, desc="learning rates", unit="grid", enabled=progress):
        bench, system, val = regression_problem(cfg, b, seed, validation=True)
        p0 = LS.init_mlp(
            jax.random.key(seed), bench.dim, cfg.widths, 1, "box", (bench.lo, bench.hi)
        )

        def val_error(lr, m=m, p0=p0, system=system, val=val):
            r = LS.run(
                _FIT_METHOD[m](lr), p0, system, _steps(cfg, m), ridge=cfg.ridge, chunk=cfg.chunk
            )
            return float(val(r.params))

        sub, chosen[bench.name, m] = on_grid(
            _grid(cfg, m),
            val_error,
            higher=False,
            diverged=(DivergenceError,),
            what="learning rate",
        )
        rows += validation_rows(sub, benchmark=bench.name, method=m)
    return {"rows": rows, "chosen": chosen}


def default_lrs(cfg: LSGDConfig) -> dict:
    """:func:`tune_lr`'s and :func:`tune_pinn_lr`'s result shape with the configured defaults
    (no selection; ``cfg.tune`` is off): ``{"rows": [], "chosen": ..., "pinn": ...}``."""
    chosen = {
        (LS.benchmark(b, cfg.osc_k).name, m): cfg.gd_lr if m == "GD" else cfg.lr
        for b in cfg.benchmarks
        for m in cfg.methods
    }
    return {"rows": [], "chosen": chosen, "pinn": {"LSGD": cfg.pinn_lr, "Adam": cfg.pinn_lr}}


def regression_study(
    cfg: LSGDConfig,
    seed: int,
    benchmarks=None,
    methods=None,
    progress: bool = False,
    lrs: dict | None = None,
) -> dict:
    """``{benchmark name: {method: FitResult}}`` for ``methods`` (default ``cfg.methods``, from LSGD,
    Adam and GD) from the same box-initialised MLP; ``lrs``: ``{(benchmark name, method): lr}``
    (:func:`tune_lr`'s ``chosen``), else ``cfg.lr`` / ``cfg.gd_lr``; ``benchmarks``: default
    ``cfg.benchmarks``."""
    methods, benchmarks = methods or cfg.methods, benchmarks or cfg.benchmarks
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown method(s) {sorted(unknown)}: choose from {METHODS}")
    out = {}
    for b in benchmarks:
        bench, system, err = regression_problem(cfg, b, seed)
        p0 = LS.init_mlp(
            jax.random.key(seed), bench.dim, cfg.widths, 1, "box", (bench.lo, bench.hi)
        )
        runs = {}
        for m in methods:
            default = cfg.gd_lr if m == "GD" else cfg.lr
            lr = (lrs or {}).get((bench.name, m), default)
            runs[m] = _fit(p0, system, err, m, cfg, _steps(cfg, m), lr, progress)
        out[bench.name] = runs
    return out


def final_errors(
    cfg: LSGDConfig, seeds, lrs: dict | None = None, benchmarks=None, solver: str = "qr"
) -> dict:
    """Final test errors of LSGD with ``solver`` (default the previous edition's QR solve), same
    protocol as :func:`regression_study` (box initialisation, ``lsgd_steps``, the tuned learning
    rate): ``{benchmark name: {seed: error}}`` (the accuracy check of the Cholesky solve)."""
    out = {}
    for b in benchmarks or cfg.benchmarks:
        for s in seeds:
            bench, system, err = regression_problem(cfg, b, s)
            p0 = LS.init_mlp(
                jax.random.key(s), bench.dim, cfg.widths, 1, "box", (bench.lo, bench.hi)
            )
            lr = (lrs or {}).get((bench.name, "LSGD"), cfg.lr)
            r = LS.run(
                LS.LSGD(lr, solver=solver),
                p0,
                system,
                cfg.lsgd_steps,
                ridge=cfg.ridge,
                error_fn=err,
                chunk=cfg.chunk,
            )
            out.setdefault(bench.name, {})[s] = float(r.error[-1])
    return out


def qr_errors(cfg: LSGDConfig, seeds, lrs: dict | None = None, benchmarks=None) -> dict:
    """:func:`final_errors` with the QR solve."""
    return final_errors(cfg, seeds, lrs, benchmarks, "qr")


def iteration_cost(cfg: LSGDConfig, name: str, seed: int, lrs: dict | None = None) -> dict:
    """Interleaved wall times of ``cfg.cost_steps`` iterations of LSGD (Cholesky) and of Adam,
    ``cfg.cost_steps // 5`` iterations of LSGD with the previous QR solve (five times slower per
    iteration), and of the fixed cost of a fit (0 iterations: the first solve, the first loss and
    error, the host syncs) of LSGD and Adam, on one benchmark (the study's fits, error evaluation
    included), ``cfg.cost_rounds`` rounds after an untimed warm-up call of each, BLAS pinned.

    Returns per-round ratios ``"lsgd/adam"`` (an LSGD iteration in Adam steps, both calls of
    ``cost_steps`` iterations) and ``"qr/cholesky"`` (per iteration: the speed-up of the Cholesky
    solve), the median seconds per iteration, the fixed cost's share of a timed call
    (``"overhead"``, per method: median fixed-cost time over the median call time), the step
    counts and the load average.
    """
    bench, system, err = regression_problem(cfg, name, seed)
    p0 = LS.init_mlp(jax.random.key(seed), bench.dim, cfg.widths, 1, "box", (bench.lo, bench.hi))
    lr = {m: (lrs or {}).get((bench.name, m), cfg.lr) for m in ("LSGD", "Adam")}
    n, n_qr = cfg.cost_steps, max(1, cfg.cost_steps // 5)

    def run(method, steps):
        return lambda: (
            LS.run(method, p0, system, steps, ridge=cfg.ridge, error_fn=err, chunk=cfg.chunk).loss
        )

    lsgd, lsgd_qr, adam = LS.LSGD(lr["LSGD"]), LS.LSGD(lr["LSGD"], solver="qr"), LS.Adam(lr["Adam"])
    fns = {
        "LSGD": run(lsgd, n),
        "LSGD (QR)": run(lsgd_qr, n_qr),
        "Adam": run(adam, n),
        "LSGD, fixed": run(lsgd, 0),
        "Adam, fixed": run(adam, 0),
    }
    timed = interleaved(fns, rounds=cfg.cost_rounds, warmup=1)
    t = timed["times"]
    med = {k: float(np.median(v)) for k, v in t.items()}
    steps = {"LSGD": n, "LSGD (QR)": n_qr, "Adam": n}
    return {
        "benchmark": bench.name,
        "lsgd/adam": ratios(timed, "LSGD", "Adam"),
        "qr/cholesky": [
            (q / n_qr) / (c / n) for q, c in zip(t["LSGD (QR)"], t["LSGD"], strict=True)
        ],
        "ms_per_it": {k: 1e3 * med[k] / steps[k] for k in steps},
        "fixed_ms": {k: 1e3 * med[f"{k}, fixed"] for k in ("LSGD", "Adam")},
        "overhead": {k: med[f"{k}, fixed"] / med[k] for k in ("LSGD", "Adam")},
        "steps": steps,
        "load": timed["load"],
        "rounds": cfg.cost_rounds,
    }


def iteration_ratio(lsgd, adam, shrink: float = 2.0) -> dict:
    """Iterations LSGD and Adam need to a common target error, and their ratio.

    Target ``eps = min(Adam's final error, e0 / shrink)``, with ``e0`` the
    error of LSGD's first record (the least-squares fit on the initial,
    untrained basis).  The second term keeps the comparison from being
    satisfied by that single solve: LSGD must improve its own random-feature
    fit by training the basis.  Iterations: Adam ``k_A`` = first step with
    error <= eps; LSGD ``k_L`` = first record with error <= eps, plus one (the
    first solve counts), so ``k_L >= 2`` and the ratio never divides by zero.
    If Adam never reaches ``eps`` (when it is below Adam's final error),
    ``ratio`` is the lower bound ``(Adam's steps + 1) / k_L`` and ``bound`` is
    ``">"``; if LSGD never reaches it, ``ratio`` is ``None``.
    Times: iterations times the measured wall time per iteration of each run.
    """
    if shrink <= 1:
        raise ValueError(f"shrink must exceed 1, got {shrink}")
    e_l, e_a = np.asarray(lsgd.error, float), np.asarray(adam.error, float)
    if not (np.all(np.isfinite(e_l)) and np.all(np.isfinite(e_a))):
        raise ValueError("error histories must be finite: pass error_fn to fit")
    e0, final_a = float(e_l[0]), float(e_a[-1])
    eps = min(final_a, e0 / shrink)
    hit_a, hit_l = LS.iterations_to_reach(e_a, eps), LS.iterations_to_reach(e_l, eps)
    k_l = None if hit_l is None else hit_l + 1
    steps_a, steps_l = len(e_a) - 1, len(e_l) - 1
    per_a = adam.wall_time / max(steps_a, 1)
    per_l = lsgd.wall_time / max(steps_l + 1, 1)
    out = {
        "target": eps,
        "target_is": "Adam's final error" if eps == final_a else f"e0 / {shrink:g}",
        "e0": e0,
        "adam_final": final_a,
        "lsgd_final": float(e_l[-1]),
        "k_adam": hit_a,
        "k_lsgd": k_l,
        "ratio": None,
        "bound": "=",
        "time_ratio": None,
        "s_per_it_adam": per_a,
        "s_per_it_lsgd": per_l,
    }
    if k_l is None:
        return out
    if hit_a is None:
        out["ratio"], out["bound"] = (steps_a + 1) / k_l, ">"
        out["time_ratio"] = (steps_a + 1) * per_a / (k_l * per_l)
    else:
        out["ratio"] = max(hit_a, 1) / k_l
        out["time_ratio"] = max(hit_a, 1) * per_a / (k_l * per_l)
    return out


def time_to_target(
    cfg: LSGDConfig, name: str, seed: int, info: dict, lrs: dict | None = None
) -> dict:
    """Wall time of LSGD's and Adam's runs to the common target error, end to end.

    ``info``: the seed's :func:`iteration_ratio`.  Each run is the study's own fit (same data,
    initial network and learning rate, error evaluated every iteration as in the study) stopped at
    the iteration that reaches the target: LSGD ``k_lsgd - 1`` gradient steps after its first solve,
    Adam ``k_adam`` steps (where Adam never reached the target, its whole budget: the ratio is then
    a lower bound, ``bound`` ">").  So every fixed cost of a run is inside the time: the first
    least-squares solve, the first loss and error, the host syncs between compiled chunks.  Both
    runs are timed in ``cfg.wall_rounds`` interleaved rounds after an untimed warm-up call of each
    (compilation never in a time), BLAS pinned.  Returns ``{"ratios": per-round Adam / LSGD,
    "seconds": {method: median}, "steps": {method: steps}, "reached": whether the timed LSGD run
    ends at or below the target, "bound", "load"}``, or ``None`` when LSGD never reached the
    target (nothing to time).
    """
    if info["k_lsgd"] is None:
        return None
    bench, system, err = regression_problem(cfg, name, seed)
    p0 = LS.init_mlp(jax.random.key(seed), bench.dim, cfg.widths, 1, "box", (bench.lo, bench.hi))
    lr = {m: (lrs or {}).get((bench.name, m), cfg.lr) for m in ("LSGD", "Adam")}
    steps = {
        "LSGD": int(info["k_lsgd"]) - 1,
        "Adam": cfg.adam_steps if info["k_adam"] is None else max(int(info["k_adam"]), 1),
    }

    def run(m):
        return lambda: (
            LS.run(
                _FIT_METHOD[m](lr[m]),
                p0,
                system,
                steps[m],
                ridge=cfg.ridge,
                error_fn=err,
                chunk=cfg.chunk,
            ).error
        )

    fns = {m: run(m) for m in ("LSGD", "Adam")}
    reached = bool(fns["LSGD"]()[-1] <= info["target"])
    timed = interleaved(fns, rounds=cfg.wall_rounds, warmup=1)
    return {
        "ratios": ratios(timed, "Adam", "LSGD"),
        "seconds": {k: float(np.median(v)) for k, v in timed["times"].items()},
        "steps": steps,
        "reached": reached,
        "bound": info["bound"],
        "load": timed["load"],
    }
