"""Chapter 02: sketch size: preconditioned condition number and PCG iterations."""

from __future__ import annotations

import math

import jax
import numpy as np

from ...core.progress import progress_bar
from ...methods import gauss_newton as gn
from .configs import Config, _f64, cg_maxiter, init
from .convergence import method_spec

# ---------------------------------------------------------------------------
# sketch size: preconditioned condition number and CG iterations
# ---------------------------------------------------------------------------


def sketch_study(
    X, y, m: int, cfg: Config, seed: int, draws: int = 3, progress: bool = False
) -> list[dict]:
    """Condition number of ``R^{-T} G R^{-1}`` and PCG iterations of one fast step against ``s``.

    Sketch sizes ``s = ceil(f n)`` for ``f`` in ``cfg.sketch_factors`` and
    ``s = ceil(n ln n)``; ``draws`` independent sketches per size (median,
    min, max of the condition number).  PCG to ``cfg.cg_tol`` at ``W0`` (one sketch per size,
    the same ``draws`` sketches at the default size ``s = sketch_factor * n``: ``pcg_iters_draws``),
    against plain CG (the ``cg`` ablation) and cond(G).  The same for the Kronecker sketch
    (``cond_kron_*``, ``pcg_kron_iters``; one PCG solve per size).  float64.
    """
    n = len(y)
    W0, a = init(m, X.shape[1], seed)
    s_default = gn.default_sketch_size(n, cfg.sketch_factor)
    sizes = sorted(
        {gn.default_sketch_size(n, f) for f in cfg.sketch_factors} | {math.ceil(n * math.log(n))}
    )
    with jax.enable_x64(True):
        W, A, Xj, yj = map(_f64, (W0, a, X, y))
        ev = np.linalg.eigvalsh(np.asarray(gn.gram(W, A, Xj)))
        cg_run = gn.run(method_spec("cg", n, cfg), W0, a, X, y, 1, warmup=False)
        it = progress_bar(sizes, desc="sketch sizes", enabled=progress)
        rows = []
        for s in it:
            if s > gn.next_pow2(m):  # both sketches must fit (the Kronecker one sketches R^m)
                continue
            conds = [
                gn.preconditioned_condition_number(W, A, Xj, s, jax.random.key(1000 * seed + k))
                for k in range(draws)
            ]
            pcg = [
                int(
                    gn.fast_gauss_newton_step(
                        W,
                        A,
                        Xj,
                        yj,
                        jax.random.key(1000 * seed + k),
                        s,
                        1.0,
                        0.0,
                        cfg.cg_tol,
                        cg_maxiter(n),
                        "qr",
                    )[1].cg_iterations
                )
                for k in range(draws if s == s_default else 1)
            ]
            kron = [
                gn.preconditioned_condition_number(
                    W, A, Xj, s, jax.random.key(1000 * seed + k), sketch="kron"
                )
                for k in range(draws)
            ]
            pcg_kron = int(
                gn.fast_gauss_newton_step(
                    W,
                    A,
                    Xj,
                    yj,
                    jax.random.key(1000 * seed),
                    s,
                    1.0,
                    0.0,
                    cfg.cg_tol,
                    cg_maxiter(n),
                    "qr",
                    "kron",
                )[1].cg_iterations
            )
            rows.append(
                {
                    "s": s,
                    "s_over_n": s / n,
                    "cond_kron_median": float(np.median(kron)),
                    "cond_kron_min": float(np.min(kron)),
                    "cond_kron_max": float(np.max(kron)),
                    "pcg_kron_iters": pcg_kron,
                    "cond_pre_median": float(np.median(conds)),
                    "cond_pre_min": float(np.min(conds)),
                    "cond_pre_max": float(np.max(conds)),
                    "pcg_iters": pcg[0],
                    "pcg_iters_draws": pcg,
                    "cg_iters": int(cg_run.cg_iterations[0]),
                    "cond_G": float(ev[-1] / ev[0]),
                }
            )
    return rows
