"""Chapter 02: the convergence runs (GD, exact GN, the fast steps from one ``W0``), their summaries,
and the test error of the trained models.
"""

from __future__ import annotations

import math

import jax
import numpy as np

from ...core.progress import progress_bar
from ...methods import gauss_newton as gn
from .configs import (
    FLOOR,
    Config,
    _forward_np,
    cg_maxiter,
    init,
    mnist_sphere,
    mnist_test_sphere,
    synthetic_sphere,
)

# ---------------------------------------------------------------------------
# convergence
# ---------------------------------------------------------------------------


def convergence_runs(
    X,
    y,
    m: int,
    cfg: Config,
    seed: int,
    methods=("gd", "gn", "fast"),
    damping: float = 0.0,
    progress: bool = False,
) -> dict:
    """GD, exact GN and the fast steps from one ``W0`` (width ``m``) on ``(X, y)``; method -> TrainResult.

    ``kron`` in ``methods``: the fast step with the Kronecker sketch (``s = kron_sketch_factor n``).

    GD runs ``cfg.conv_gd_iters`` steps, the Gauss-Newton methods ``cfg.iters``
    (with ``damping``); every run stops early once the residual reaches
    ``FLOOR`` times its start.
    """
    W0, a = init(m, X.shape[1], seed)
    key = jax.random.key(seed + 1)
    out = {}
    for method in methods:
        iters = cfg.conv_gd_iters if method == "gd" else cfg.iters
        spec = method_spec(method, len(y), cfg, damping)
        out[method] = gn.run(spec, W0, a, X, y, iters, key=key, target=FLOOR, progress=progress)
    return out


def method_spec(name: str, n: int, cfg: Config, damping: float = 0.0) -> gn.Method:
    """The float64 runs' description of the method ``name`` (``gd``, ``gn``, ``cg``, ``fast``,
    ``kron``) on ``n`` points: step 1 (GD: ``1 / lambda_max``), CG to ``cfg.cg_tol`` within
    :func:`cg_maxiter`, the fast steps' sketch rows ``s = sketch_factor n`` (SRHT) or
    ``kron_sketch_factor n`` (Kronecker sketch), QR factor of the sketch."""
    cg = dict(cg_tol=cfg.cg_tol, cg_maxiter=cg_maxiter(n))
    if name == "gd":
        return gn.GD()
    if name == "gn":
        return gn.ExactGN(damping=damping)
    if name == "cg":
        return gn.CG(damping=damping, **cg)
    if name not in ("fast", "kron"):
        raise ValueError(f"unknown method {name!r}: choose gd, gn, cg, fast or kron")
    kron = name == "kron"
    s = gn.default_sketch_size(n, cfg.kron_sketch_factor if kron else cfg.sketch_factor)
    return gn.FastGN("kron" if kron else "srht", s, damping=damping, **cg)


def convergence_data(cfg: Config, seed: int) -> dict:
    """The convergence runs' data sets at ``seed``: ``{"synthetic": (X, y), "mnist-3v5": (X, y)}``
    (random-sign labels on Gaussian inputs from ``seed + 1``; the MNIST 3-vs-5 draw of ``seed``)."""
    return {
        "synthetic": synthetic_sphere(cfg.n, cfg.d, seed + 1, labels="sign"),
        "mnist-3v5": mnist_sphere(cfg.n, seed),
    }


def residual_deviation(runs: dict, fast: str = "fast") -> float:
    """``max |log(r_fast / r_GN)|`` over the iterations where exact GN is above the float64 floor
    (``fast``: the run to compare, ``fast`` or ``kron``)."""
    gn_r, fast_r = runs["gn"].residual_norms, runs[fast].residual_norms
    return max(abs(math.log(f / g)) for f, g in zip(fast_r, gn_r) if g > FLOOR * gn_r[0])


def seed_summary(runs_by_seed: dict) -> list[dict]:
    """One record per seed and data set: the fast step's largest and first contraction, exact GN's
    largest, steps above the floor and the fast/GN residual deviation.

    ``runs_by_seed``: ``{seed: {data: {method: TrainResult}}}`` with methods ``gn`` and ``fast``.
    """
    rows = []
    for s, by_data in runs_by_seed.items():
        for data, runs in by_data.items():
            # a run whose first step already reaches the floor keeps that step
            c = contractions(runs["fast"])
            c = c if len(c) else runs["fast"].contraction[:1]
            g = contractions(runs["gn"])
            g = g if len(g) else runs["gn"].contraction[:1]
            rows.append(
                {
                    "seed": s,
                    "data": data,
                    "fast_max": float(c.max()),
                    "fast_first": float(c[0]),
                    "gn_max": float(g.max()),
                    "steps": len(c),
                    "deviation": residual_deviation(runs),
                    "kron_deviation": residual_deviation(runs, "kron") if "kron" in runs else None,
                }
            )
    return rows


def contractions(run: gn.TrainResult, floor: float = FLOOR) -> np.ndarray:
    """Per-step contraction ``||f_{t+1} - y|| / ||f_t - y||`` of the steps that end above the rounding floor."""
    r = run.residual_norms
    keep = r[1:] > floor * r[0]
    return run.contraction[keep]


def convergence_rows(runs: dict, data: str) -> list[dict]:
    """One record per method and iteration: residual, relative residual, cumulative step time."""
    rows = []
    for method, run in runs.items():
        t = np.concatenate([[0.0], np.cumsum(run.seconds)])
        for k, (r, s) in enumerate(zip(run.residual_norms, t)):
            rows.append(
                {
                    "data": data,
                    "method": method,
                    "iteration": k,
                    "residual": float(r),
                    "relative": float(r / run.residual_norms[0]),
                    "seconds": float(s),
                }
            )
    return rows


def iterations_to(run: gn.TrainResult, target: float):
    """First iteration at which ``||f - y|| <= target ||f_0 - y||``, or None if the run never got there."""
    rel = run.residual_norms / run.residual_norms[0]
    hit = np.nonzero(rel <= target)[0]
    return int(hit[0]) if len(hit) else None


# ---------------------------------------------------------------------------
# generalization: test error of the trained models
# ---------------------------------------------------------------------------


def test_error(W, a, X, y) -> float:
    """Classification error ``mean(sign(f(x)) != y)`` of the network ``(W, a)`` on ``(X, y)``."""
    return float(np.mean(np.where(_forward_np(W, a, X) >= 0, 1.0, -1.0) != y))


def generalization_study(cfg: Config, runs_by_seed: dict, progress: bool = False) -> list[dict]:
    """Test error on MNIST 3 vs 5 of the models the convergence runs trained, per seed.

    ``runs_by_seed``: ``{seed: {"mnist-3v5": {method: TrainResult}}}`` of the convergence runs
    (exact GN, the fast steps; GD where it was run).  GD is run here (``cfg.conv_gd_iters`` steps,
    the same ``W0`` and data) for the seeds whose runs lack it.  Each model is scored on the 3 and
    5 images of the MNIST test set (:func:`mnist_test_sphere`).  One record per seed: the test
    error of each method, GD's relative training residual at the end of its run, and the number
    of test images.
    """
    Xte, yte = mnist_test_sphere()
    rows = []
    it = progress_bar(list(runs_by_seed), desc="test error (MNIST 3 vs 5)", enabled=progress)
    for s in it:
        runs = dict(runs_by_seed[s]["mnist-3v5"])
        if "gd" not in runs:
            X, y = mnist_sphere(cfg.n, s)
            runs["gd"] = convergence_runs(X, y, cfg.m, cfg, s, methods=("gd",))["gd"]
        _, a = init(cfg.m, Xte.shape[1], s)
        row = {"seed": s, "n_test": len(yte)}
        for method, run in runs.items():
            row[method] = test_error(run.W, a, Xte, yte)
        gd = runs["gd"].residual_norms
        row["gd_train_residual"] = float(gd[-1] / gd[0])
        rows.append(row)
    return rows
