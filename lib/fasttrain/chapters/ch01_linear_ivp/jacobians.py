"""Chapter 01: the analytic Jacobian against SciPy's finite differences."""

from __future__ import annotations

import numpy as np

from ...core import timing
from ...methods import linearized as L
from .networks import make_setup


def fd_vs_analytic(
    ds,
    width: int,
    activation: str,
    seed: int,
    lr: float,
    threshold: float,
    t_max: float,
    rtol: float,
    atol: float,
    rounds: int = 7,
):
    """The BDF solve with the analytic Jacobian against SciPy's finite differences.

    Timed in ``rounds`` interleaved rounds (analytic, FD, analytic, FD, ...) after one untimed
    solve of each, with BLAS pinned to one thread (:func:`fasttrain.core.timing.interleaved`).
    Returns the solver's counters per Jacobian, the timing record and the per-round ratios
    FD / analytic.
    """
    setup = make_setup(ds, width, activation, seed)
    out = {
        "n": len(ds.x_train),
        "width": width,
        "dim": setup.f0.size if setup.theta is not None else setup.J.shape[1],
        "space": setup.space,
    }
    last = {}

    def solve(jac):
        def run():
            last[jac] = L.solve_flow(
                setup.problem(lr),
                t_max,
                threshold=threshold,
                space=setup.space,
                jac=jac,
                rtol=rtol,
                atol=atol,
            )
            return last[jac].f

        return run

    timed = timing.interleaved({"analytic": solve("analytic"), "fd": solve("fd")}, rounds=rounds)
    for jac in ("analytic", "fd"):
        r = last[jac]
        ts = timed["times"][jac]
        out[jac] = {
            "median time (s)": float(np.median(ts)),
            "flow time t*": r.t_event,
            "right-hand sides": r.nfev,
            "Jacobians": r.njev,
            "LU factorisations": r.nlu,
        }
    out["timed"] = timed
    out["ratios"] = timing.ratios(timed, "fd", "analytic")
    return out
