"""Chapter 04, part 1, section (3): serial against layer-parallel training (Adam, L-BFGS, the exact check)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ...methods import layer_parallel as LP
from .configs import LayerParallelConfig, datasets, run_seeds

# ----------------------------------------------------------------------------
# (3) training


def training_study(
    cfg: LayerParallelConfig,
    seed: int,
    progress: bool = False,
    iters=None,
    optimizer: str | None = None,
    steps: int | None = None,
    data=None,
) -> dict:
    """Serial training and layer-parallel training with ``k`` in ``iters`` (default
    ``cfg.train_iters``) MGRIT iterations per step (FCF, two-level, warm-started), same initial
    network, per data set (``data``: names, default all); ``optimizer``/``steps`` default to
    ``cfg.optimizer``/``cfg.train_steps``.

    Returns ``{(data, "serial" | k): TrainResult}``.
    """
    runs = {}
    for name, ds in datasets(cfg, seed).items():
        if data is not None and name not in data:
            continue
        spec = LP.Spec(
            ds.x_train.shape[1], cfg.width, ds.n_classes, cfg.depth, cfg.T, cfg.activation
        )
        p0 = LP.init_params(jax.random.key(seed), spec, cfg.init_scale)
        kw = dict(
            steps=steps or cfg.train_steps,
            lr=cfg.lr,
            optimizer=optimizer or cfg.optimizer,
            eval_every=cfg.eval_every,
            progress=progress,
        )
        runs[name, "serial"] = LP.train(p0, ds, spec, mode="serial", **kw)
        for k in cfg.train_iters if iters is None else iters:
            runs[name, k] = LP.train(
                p0,
                ds,
                spec,
                mode="mgrit",
                n_fwd=k,
                n_bwd=k,
                mgrit_cfg=LP.MGRITConfig(cfg.cfactor, 2, "FCF"),
                **kw,
            )
    return runs


def majority_accuracy(y) -> float:
    """Accuracy of always predicting the most frequent class of ``y``."""
    y = np.asarray(y)
    if y.size == 0:
        raise ValueError("no labels")
    return float(np.bincount(y).max() / y.size)


def training_seeds(cfg: LayerParallelConfig, seed: int, progress: bool = False) -> dict:
    """:func:`training_study` over ``run_seeds(cfg.seeds, seed)``: every iteration count of
    ``cfg.train_iters`` for the first seed, serial and ``cfg.n_fwd`` for the others.

    Returns ``{"runs": {seed: {(data, "serial" | k): TrainResult}}, "baseline": {(data, seed):
    majority-class test accuracy}}``.  The training steps compile once (same shapes per seed).
    """
    seeds = run_seeds(cfg.seeds, seed)
    runs, base = {}, {}
    for i, s in enumerate(seeds):
        runs[s] = training_study(cfg, s, progress, None if i == 0 else (cfg.n_fwd,))
        for name, ds in datasets(cfg, s).items():
            base[name, s] = majority_accuracy(ds.y_test)
    return {"runs": runs, "baseline": base}


def lbfgs_seeds(cfg: LayerParallelConfig, seed: int, progress: bool = False) -> dict:
    """L-BFGS (Armijo backtracking, the authors' optimiser) serial and with ``cfg.n_fwd`` MGRIT
    iterations per step, ``cfg.lbfgs_steps`` steps on ``cfg.lbfgs_data``, every seed; the same
    structure as :func:`training_seeds` (so :func:`training_measurements` applies)."""
    if cfg.lbfgs_steps < 1:
        raise ValueError("lbfgs_steps is 0 at this scale: nothing to run")
    seeds = run_seeds(cfg.seeds, seed)
    runs, base = {}, {}
    for s in seeds:
        runs[s] = training_study(
            cfg, s, progress, (cfg.n_fwd,), "lbfgs", cfg.lbfgs_steps, cfg.lbfgs_data
        )
        for name, ds in datasets(cfg, s).items():
            base[name, s] = majority_accuracy(ds.y_test)
    return {"runs": runs, "baseline": base}


def serial_equals_parallel(
    cfg: LayerParallelConfig, seed: int, optimizers=("adam", "lbfgs")
) -> list[dict]:
    """Objective histories of serial and converged layer-parallel training (peaks, float64).

    In the spirit of LayerParallelLearning's reference histories: the same initial network
    trained ``cfg.exact_steps`` steps serially and with FCF two-level MGRIT at ``depth / (2
    cfactor)`` iterations forward and adjoint per step (exact up to rounding: every F-point is
    reached by the coarse solve and FCF sweeps), per optimiser.  Returns rows with both
    histories and their largest relative difference.
    """
    if cfg.exact_steps < 1:
        raise ValueError("exact_steps is 0 at this scale: nothing to run")
    k = max(1, cfg.depth // (2 * cfg.cfactor))
    rows = []
    with jax.enable_x64(True):
        ds = datasets(cfg, seed)["peaks"]
        spec = LP.Spec(
            ds.x_train.shape[1], cfg.width, ds.n_classes, cfg.depth, cfg.T, cfg.activation
        )
        p0 = LP.init_params(jax.random.key(seed), spec, cfg.init_scale, dtype=jnp.float64)
        kw = dict(steps=cfg.exact_steps, lr=cfg.lr, eval_every=cfg.exact_steps)
        for opt in optimizers:
            a = LP.train(p0, ds, spec, optimizer=opt, mode="serial", **kw)
            b = LP.train(
                p0,
                ds,
                spec,
                optimizer=opt,
                mode="mgrit",
                n_fwd=k,
                n_bwd=k,
                mgrit_cfg=LP.MGRITConfig(cfg.cfactor, 2, "FCF"),
                **kw,
            )
            diff = np.abs(a.loss - b.loss) / np.abs(a.loss)
            rows.append(
                {
                    "optimizer": opt,
                    "steps": cfg.exact_steps,
                    "iterations": k,
                    "serial": a.loss,
                    "mgrit": b.loss,
                    "max_rel_diff": float(diff.max()),
                    "first": float(a.loss[0]),
                    "last": float(a.loss[-1]),
                }
            )
    return rows
