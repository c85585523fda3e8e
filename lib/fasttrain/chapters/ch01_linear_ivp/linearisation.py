"""Chapter 01: where the network and its linearisation part ways (the width study)."""

from __future__ import annotations

import numpy as np
from jax.flatten_util import ravel_pytree

from ...core.progress import progress_bar
from ...methods import linearized as L
from .networks import _gd_checkpoints, _gd_test_acc, _lin_test_acc, _net_test_acc, make_setup


def _output_gap(setup, dtheta, gd_params) -> float:
    f0 = setup.f0_test
    f_lin = f0 + (setup.J_test.astype(np.float64) @ dtheta).reshape(f0.shape)
    f_gd = np.asarray(setup.apply(gd_params, setup.ds.x_test), dtype=np.float64)
    moved = np.linalg.norm(f_gd - f0)
    return float(np.linalg.norm(f_lin - f_gd) / moved) if moved > 0 else float("nan")


def width_study(
    ds,
    widths,
    activation: str,
    seed: int,
    lr: float,
    horizon: float,
    rtol: float,
    atol: float,
    n_points: int = 12,
    progress: bool = False,
):
    """Network vs its linearisation along the flow, for several widths.

    For each width, integrate the linear flow to ``horizon`` (GD steps),
    and at ``n_points`` times compare the test accuracy of the linear
    model, of the network evaluated at the linear flow's parameters, and of
    the network trained by GD for the same number of steps; ``output_gap`` is
    the distance of the linear model's test outputs from GD's network's at the
    same time, relative to how far GD's network's outputs moved:
    ``||f_lin(t) - f_GD(t)|| / ||f_GD(t) - f_0||`` (Frobenius, test points).
    """
    times = np.unique(np.geomspace(1, horizon, n_points).round().astype(int))
    rows = []
    it = progress_bar(widths, desc="widths", enabled=progress)
    for w in it:
        setup = make_setup(ds, w, activation, seed)
        problem = setup.problem(lr)
        sol = L.solve_flow(
            problem,
            float(times[-1]),
            space=setup.space,
            rtol=rtol,
            atol=atol,
            t_eval=times.astype(float),
        )
        ts, states = sol.trajectory
        gd_params = _gd_checkpoints(setup, lr, [int(t) for t in ts])
        for t, s, gp in zip(ts, states.T, gd_params):
            dtheta = (
                s
                if setup.space == "parameter"
                else problem.dtheta_from_f(s.reshape(setup.f0.shape))
            )
            rows.append(
                {
                    "width": w,
                    "t": float(t),
                    "linear model": _lin_test_acc(setup, dtheta),
                    "network at ODE parameters": _net_test_acc(setup, dtheta),
                    "network trained by GD": _gd_test_acc(setup, gp),
                    "output_gap": _output_gap(setup, dtheta, gp),
                    "rel_param_change": float(
                        np.linalg.norm(dtheta) / np.linalg.norm(ravel_pytree(setup.params0)[0])
                    ),
                }
            )
    return rows
