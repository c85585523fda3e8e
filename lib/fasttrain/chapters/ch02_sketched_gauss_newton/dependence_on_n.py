"""Chapter 02: dependence on n: exact Gauss-Newton's iterations, plain CG against PCG."""

from __future__ import annotations

from dataclasses import replace

import jax
import numpy as np

from ...methods import gauss_newton as gn
from .configs import FLOOR, Config, _f64, init, synthetic_sphere
from .convergence import contractions, iterations_to, method_spec

# ---------------------------------------------------------------------------
# dependence on n: Gauss-Newton's iterations, plain CG against PCG
# ---------------------------------------------------------------------------


def rate_vs_n(cfg: Config, seed: int) -> list[dict]:
    """Exact GN's and the fast step's iterations to ``cfg.rate_eps`` against n, and the first step's
    CG iterations.

    For every n of ``cfg.rate_n_sweep``: synthetic teacher-label data (``rate_d`` dimensions) at
    width ``rate_m_factor * n`` (the kernel regime's m/n held fixed), one ``W0``; λ_min and
    cond of G(W0); exact GN and the fast step with the Kronecker sketch (float64, undamped, step 1;
    ``s = kron_sketch_factor n`` rows drawn afresh every iteration, Cholesky factor of the sketch as
    in the timed steps, PCG to ``cg_tol``) run to the float64 floor (the paper's SRHT step would
    cost about five times exact GN here, see the chapter); and the first step's solve of ``G z = f - y`` to
    ``cfg.cg_tol`` by plain CG and by PCG with the Kronecker preconditioner (``s =
    kron_sketch_factor n``), with their iteration counts.
    """
    rows = []
    for n in cfg.rate_n_sweep:
        m = cfg.rate_m_factor * n
        X, y = synthetic_sphere(n, cfg.rate_d, seed + 1, labels="teacher")
        W0, a = init(m, cfg.rate_d, seed)
        with jax.enable_x64(True):
            ev = np.linalg.eigvalsh(np.asarray(gn.gram(*map(_f64, (W0, a, X)))))
        run = gn.run(gn.ExactGN(), W0, a, X, y, cfg.iters, target=FLOOR, warmup=False)
        cg_run = gn.run(method_spec("cg", n, cfg), W0, a, X, y, 1, warmup=False)
        kron = method_spec("kron", n, cfg)  # QR factor: the first solve's PCG count
        key = jax.random.key(seed + 7)
        pcg_run = gn.run(kron, W0, a, X, y, 1, key=key, warmup=False)
        # the rate: the same step to the floor with the Cholesky factor of the sketch (the same R in
        # exact arithmetic, as the timed steps; QR of the (s d) x n sketch would cost ~5x more here)
        kron = replace(kron, factor="cholesky")
        kron_run = gn.run(kron, W0, a, X, y, cfg.iters, key=key, target=FLOOR, warmup=False)
        c = contractions(run)
        rows.append(
            {
                "seed": seed,
                "n": n,
                "m": m,
                "lambda_min": float(ev[0]),
                "cond_G": float(ev[-1] / ev[0]),
                "gn_iters": iterations_to(run, cfg.rate_eps),
                "gn_max_contraction": float(c.max()) if len(c) else None,
                "kron_iters": iterations_to(kron_run, cfg.rate_eps),
                "cg_iters": int(cg_run.cg_iterations[0]),
                "cg_converged": bool(cg_run.cg_relative_residuals[0] <= cfg.cg_tol),
                "pcg_iters": int(pcg_run.cg_iterations[0]),
            }
        )
    return rows
