"""Chapter 02: dependence on conditioning: the λ sweep of GD, exact GN and the fast step, and its
repetition over seeds.
"""

from __future__ import annotations

import jax
import numpy as np

from ...core.progress import progress_bar
from ...methods import gauss_newton as gn
from .configs import FLOOR, Config, _f64, init
from .convergence import contractions, iterations_to, method_spec
from .power_laws import fit_power_law
from .rules import LambdaSweep

# ---------------------------------------------------------------------------
# dependence on conditioning
# ---------------------------------------------------------------------------


def conditioning_study(
    cfg: Config,
    seed: int,
    labels: str = "teacher",
    methods=("gd", "gn", "fast"),
    progress: bool = False,
    draws: int = 1,
) -> list[dict]:
    """Iterations to ``cfg.eps_target`` against lambda_min on :func:`nearly_collinear_data`.

    For every spread ``eps`` of ``cfg.eps_sweep``: ``eps_n`` points in
    dimension ``cfg.d`` at width ``cfg.eps_m``, one ``W0``; lambda_min and
    cond of the Gram matrix at ``W0``, the condition number of the
    sketch-preconditioned Gram (``s = 4n``; median of ``draws`` sketches, all of them in
    ``cond_preconditioned_draws``; ``draws=0`` skips it), and for each method the
    iterations to the target (None: not reached within its budget, or the run
    diverged -- ``diverged`` says which).
    """
    W0, a = init(cfg.eps_m, cfg.d, seed)
    rows = []
    it = progress_bar(cfg.eps_sweep, desc=f"eps sweep ({labels})", enabled=progress)
    s = gn.default_sketch_size(cfg.eps_n, cfg.sketch_factor)
    for eps in it:
        with jax.enable_x64(True):
            X, y = gn.nearly_collinear_data(
                cfg.eps_n, cfg.d, eps, jax.random.key(seed + 1), labels=labels
            )
            X, y = np.asarray(X), np.asarray(y)
            ev = np.linalg.eigvalsh(np.asarray(gn.gram(*map(_f64, (W0, a, X)))))
            cond_pre = [
                gn.preconditioned_condition_number(
                    *map(_f64, (W0, a, X)), s, jax.random.key(seed + 2 + 1000 * k)
                )
                for k in range(draws)
            ]
        row = {
            "labels": labels,
            "eps": eps,
            "lambda_min": float(ev[0]),
            "cond_G": float(ev[-1] / ev[0]),
            "cond_preconditioned": float(np.median(cond_pre)) if cond_pre else None,
            "cond_preconditioned_draws": [float(c) for c in cond_pre],
        }
        for method in methods:
            iters = cfg.gd_iters if method == "gd" else cfg.iters
            try:
                run = gn.run(
                    method_spec(method, cfg.eps_n, cfg),  # fast: s = sketch_factor n, as above
                    W0,
                    a,
                    X,
                    y,
                    iters,
                    target=cfg.eps_target if method == "gd" else FLOOR,
                    key=jax.random.key(seed + 3),
                )
                row[f"{method}_iters"] = iterations_to(run, cfg.eps_target)
                row[f"{method}_diverged"] = False
                row[f"{method}_final"] = float(run.residual_norms[-1] / run.residual_norms[0])
                if method == "fast":
                    row["fast_pcg_iters_first"] = int(run.cg_iterations[0])
                if method != "gd":
                    c = contractions(run)
                    row[f"{method}_first_contraction"] = float(c[0]) if len(c) else None
                    row[f"{method}_max_contraction"] = float(c.max()) if len(c) else None
            except gn.DivergenceError:
                row.update(
                    {f"{method}_iters": None, f"{method}_diverged": True, f"{method}_final": None}
                )
        if "fast" in methods:  # the ablation: the first step's CG solve without preconditioner
            cg_run = gn.run(method_spec("cg", cfg.eps_n, cfg), W0, a, X, y, 1)
            row["cg_iters_first"] = int(cg_run.cg_iterations[0])
            row["cg_converged_first"] = bool(cg_run.cg_relative_residuals[0] <= cfg.cg_tol)
        rows.append(row)
    return rows


def gd_lambda_exponent(rows) -> float | None:
    """Fitted exponent of GD's iterations to the target in 1/λ_min over one λ sweep's rows (the
    points GD reached); None when fewer than two reached it."""
    pts = [(1 / r["lambda_min"], r["gd_iters"]) for r in rows if r.get("gd_iters") is not None]
    if len(pts) < 2:
        return None
    return fit_power_law(*zip(*pts)).exponent


def gd_lambda_seeds(cfg: Config, seeds, first_rows=None, progress: bool = False) -> list[dict]:
    """GD over the λ sweep for every seed in ``seeds`` (data, ``W0`` change with the seed): one
    record per seed with the fitted exponent and the iterations.  ``first_rows``: the rows of
    ``seeds[0]`` already measured by :func:`conditioning_study` (reused, not re-run)."""
    out = []
    it = progress_bar(seeds, desc="GD λ sweeps over seeds", enabled=progress)
    for k, sd in enumerate(it):
        rows = (
            first_rows
            if k == 0 and first_rows is not None
            else conditioning_study(cfg, sd, methods=("gd",), draws=0)
        )
        out.append(
            {
                "seed": sd,
                "exponent": gd_lambda_exponent(rows),
                "gd_iters": [r["gd_iters"] for r in rows],
                "lambda_min": [r["lambda_min"] for r in rows],
            }
        )
    return out


def gn_lambda_seeds(
    cfg: Config, seeds, labels: str, first_rows=None, progress: bool = False
) -> list[LambdaSweep]:
    """Exact GN over the λ sweep (``labels``) for every seed in ``seeds``: one
    :class:`LambdaSweep` per seed (a diverged run counts as a miss).  ``first_rows``: the rows of
    ``seeds[0]`` already measured by :func:`conditioning_study` (reused, not re-run)."""
    out = []
    it = progress_bar(seeds, desc=f"GN λ sweeps over seeds ({labels})", enabled=progress)
    for k, sd in enumerate(it):
        rows = (
            first_rows
            if k == 0 and first_rows is not None
            else conditioning_study(cfg, sd, labels=labels, methods=("gn",), draws=0)
        )
        its = tuple(None if r["gn_diverged"] else r["gn_iters"] for r in rows)
        out.append(LambdaSweep(tuple(r["lambda_min"] for r in rows), its, cfg.iters))
    return out
