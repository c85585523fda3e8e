"""Chapter 04, part 2: the physics-informed example (1-D Poisson)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ...core.errors import DivergenceError
from ...core.selection import on_grid
from ...methods import lsgd as LS
from .configs import LSGDConfig, run_seeds
from .lsgd_regression import _FIT_METHOD, _fit, validation_rows

# ----------------------------------------------------------------------------
# physics-informed example


def _pinn_setup(cfg: LSGDConfig, problem: str, seed: int):
    pr = LS.poisson_problem(problem)
    x_int = jnp.linspace(0.0, 1.0, cfg.pinn_collocation + 2)[1:-1]
    p0 = LS.init_mlp(jax.random.key(seed), 1, cfg.pinn_widths, 1, "glorot")
    return pr, x_int, p0


def tune_pinn_lr(cfg: LSGDConfig, problem: str, seed: int) -> dict:
    """LSGD's and Adam's learning rates for one Poisson problem, chosen from ``cfg.lr_grid``.

    Validation split carved from the training data: every ``k``-th interior collocation point
    (``cfg.pinn_val`` of them) is held out; each method trains ``cfg.pinn_steps`` iterations on
    the rest, and the value with the lowest PINN loss (PDE residual and boundary rows) on the
    held-out points wins.  The exact solution and the evaluation grid are never used.
    Returns ``{"rows": [...], "chosen": {method: lr}}``.
    """
    pr, x_int, p0 = _pinn_setup(cfg, problem, seed)
    n = x_int.shape[0]
    if not 0 < cfg.pinn_val < n:
        raise ValueError(f"pinn_val must be in [1, {n - 1}], got {cfg.pinn_val}")
    held = np.zeros(n, bool)
    held[np.linspace(1, n - 2, cfg.pinn_val).round().astype(int)] = True
    fit_sys = LS.poisson_system(x_int[~held], pr, "tanh", cfg.pinn_beta)
    val_sys = LS.poisson_system(x_int[held], pr, "tanh", cfg.pinn_beta)
    rows, chosen = [], {}
    for m in ("LSGD", "Adam"):

        def val_loss(lr, m=m):
            r = LS.run(
                _FIT_METHOD[m](lr), p0, fit_sys, cfg.pinn_steps, ridge=cfg.ridge, chunk=cfg.chunk
            )
            return float(LS.quadratic_loss(r.params, val_sys))

        sub, chosen[m] = on_grid(
            cfg.lr_grid, val_loss, higher=False, diverged=(DivergenceError,), what="learning rate"
        )
        rows += validation_rows(sub, problem=pr.name, method=m)
    return {"rows": rows, "chosen": chosen}


def pinn_study(
    cfg: LSGDConfig,
    seed: int,
    progress: bool = False,
    problem: str = "sin",
    lrs: dict | None = None,
) -> dict:
    """1-D Poisson PINN, LSGD against Adam from the same Glorot-initialised tanh MLP.

    ``lrs``: ``{method: lr}`` (:func:`tune_pinn_lr`), else ``cfg.pinn_lr``.
    Returns ``{"LSGD": FitResult, "Adam": FitResult, "x": evaluation points, "u": exact solution}``.
    """
    pr, x_int, p0 = _pinn_setup(cfg, problem, seed)
    system = LS.poisson_system(x_int, pr, "tanh", cfg.pinn_beta)
    x_eval = jnp.linspace(0.0, 1.0, 201)[:, None]
    u = pr.u(x_eval)
    err = LS.relative_error(x_eval, u, "tanh")
    out = {
        m: _fit(p0, system, err, m, cfg, cfg.pinn_steps, (lrs or {}).get(m, cfg.pinn_lr), progress)
        for m in ("LSGD", "Adam")
    }
    return {**out, "x": np.asarray(x_eval[:, 0]), "u": np.asarray(u[:, 0])}


def pinn_seeds(
    cfg: LSGDConfig, seed: int, progress: bool = False, problem: str = "sin", lrs=None
) -> dict:
    """:func:`pinn_study` for every seed of ``run_seeds(cfg.pinn_seeds, seed)``: ``{seed: study}``."""
    return {s: pinn_study(cfg, s, progress, problem, lrs) for s in run_seeds(cfg.pinn_seeds, seed)}
