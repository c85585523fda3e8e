"""Chapter 01: Tables 1 and 2 (and the small widths): time to a training accuracy, GD against the ODE."""

from __future__ import annotations

import numpy as np

from ...core import timing
from ...methods import linearized as L
from ...methods.gradient_descent import full_batch_gd
from .networks import Setup, _gd_checkpoints, _gd_test_acc, _lin_test_acc, _net_test_acc
from .paper import PAPER_TABLES


def time_to_accuracy(
    setup: Setup,
    lr: float,
    thresholds,
    gd_max_steps: int,
    t_max: float,
    rtol: float,
    atol: float,
    chunk: int = 100,
    progress: bool = False,
    gd_first: bool = True,
):
    """Tables 1/2 of the paper at one learning rate and one seed: a record per threshold.

    GD and the ODE solve run one after the other with NumPy/SciPy's BLAS pinned to one thread;
    ``gd_first`` chooses the order (the notebook alternates it across seeds).  The test
    accuracies are measured (untimed) at the highest threshold that *both* methods reached: the
    network at the solver's parameters, the linear model, and GD's network at the step count at
    which GD reached that same training accuracy (``_gd_checkpoints``).
    """

    def run_gd():
        return full_batch_gd(
            setup.apply,
            setup.params0,
            setup.ds.x_train,
            setup.ds.y_train,
            lr,
            gd_max_steps,
            thresholds,
            chunk=chunk,
            progress=progress,
        )

    def run_ode():
        return L.solve_to_thresholds(
            setup.problem(lr), t_max, thresholds, space=setup.space, rtol=rtol, atol=atol
        )

    with timing.pinned_blas():
        if gd_first:
            gd, odes = run_gd(), run_ode()
        else:
            odes = run_ode()
            gd = run_gd()
    rows = []
    setup_time = setup.jacobian_time + setup.ntk_time
    for thr, ode in zip(sorted(thresholds), odes):
        gd_t = gd.time_to[thr]
        row = {
            "data": setup.ds.name,
            "width": setup.width,
            "lr": lr,
            "threshold": thr,
            "gd_first": gd_first,
            "gd_steps": gd.steps_to[thr],
            "gd_time": gd_t,
            "gd_compile": gd.compile_time,
            "ode_t": ode.t_event,
            "ode_solve": ode.solve_time if ode.reached else None,
            "ode_setup": setup_time,
            "ode_nfev": ode.nfev,
            "ode_njev": ode.njev,
            "ode_nlu": ode.nlu,
            "space": ode.space,
            "ode_net_test_acc": None,
            "ode_lin_test_acc": None,
            "gd_test_acc": None,
        }
        row["gd_total"] = None if gd_t is None else gd_t + gd.compile_time
        row["ode_total"] = None if not ode.reached else ode.solve_time + setup_time
        row["speedup_solve"] = _ratio(gd_t, row["ode_solve"])
        row["speedup_total"] = _ratio(row["gd_total"], row["ode_total"])
        rows.append(row)
    _add_test_accuracies(rows, setup, lr, odes, gd.steps_to)
    return rows, gd


def _add_test_accuracies(rows, setup: Setup, lr: float, odes, gd_steps_to) -> None:
    """The test accuracies, in place, on the row of the highest threshold both methods reached
    (untimed): the network at the solver's parameters, the linear model, and GD's network at the
    step at which GD reached that training accuracy (``gd_steps_to[threshold]``)."""
    both = [o for o in odes if o.reached and gd_steps_to.get(o.threshold) is not None]
    if both:
        last = both[-1]
        row = next(r for r in rows if r["threshold"] == last.threshold)
        row["ode_net_test_acc"] = _net_test_acc(setup, last.dtheta)
        row["ode_lin_test_acc"] = _lin_test_acc(setup, last.dtheta)
        (gd_params,) = _gd_checkpoints(setup, lr, [gd_steps_to[last.threshold]])
        row["gd_test_acc"] = _gd_test_acc(setup, gd_params)


def test_accuracies(
    setup: Setup,
    lr: float,
    thresholds,
    gd_max_steps: int,
    t_max: float,
    rtol: float,
    atol: float,
    chunk: int = 100,
):
    """The test-accuracy part of :func:`time_to_accuracy` alone (no timing): a record per
    threshold with the three test accuracies on the row of the highest threshold both methods
    reached, as there.  The ODE is solved first, then GD runs only to the thresholds the ODE
    reached (it stops at the highest of them, or at ``gd_max_steps``), which gives the same
    highest common threshold at a fraction of GD's run when the ODE stops short of the top one.
    """
    with timing.pinned_blas():
        odes = L.solve_to_thresholds(
            setup.problem(lr), t_max, thresholds, space=setup.space, rtol=rtol, atol=atol
        )
        reached = [o.threshold for o in odes if o.reached]
        steps_to = {}
        if reached:
            gd = full_batch_gd(
                setup.apply, setup.params0, setup.ds.x_train, setup.ds.y_train, lr,
                gd_max_steps, reached, chunk=chunk,
            )  # fmt: skip
            steps_to = dict(gd.steps_to)
    rows = [
        {
            "data": setup.ds.name,
            "width": setup.width,
            "lr": lr,
            "threshold": o.threshold,
            "gd_steps": steps_to.get(o.threshold),
            "ode_t": o.t_event,
            "space": o.space,
            "ode_net_test_acc": None,
            "ode_lin_test_acc": None,
            "gd_test_acc": None,
        }
        for o in odes
    ]
    _add_test_accuracies(rows, setup, lr, odes, steps_to)
    return rows


def tables_summary(rows):
    """Tables 1/2 per data set and threshold over seeds: seeds that reached it, means of steps and
    times (``NaN`` unless reached in every seed), the geometric means of the end-to-end speed-up
    (GD total / ODE total, the verdict's) and of the run-only one (GD run / BDF solve), and the
    paper's speed-up."""
    import pandas as pd

    out = []
    frame = pd.DataFrame(rows)
    for (data, thr), sub in frame.groupby(["data", "threshold"], sort=False):
        row = {"data": data, "threshold": thr, "seeds": len(sub)}
        row["gd_reached"] = int(sub.gd_steps.notna().sum())
        row["ode_reached"] = int(sub.ode_t.notna().sum())
        for k in ("gd_steps", "gd_compile", "gd_time", "gd_total", "ode_t", "ode_setup"):
            x = pd.to_numeric(sub[k], errors="coerce")
            row[k] = x.mean() if x.notna().all() else np.nan
        for k in ("ode_solve", "ode_total"):
            x = pd.to_numeric(sub[k], errors="coerce")
            row[k] = x.mean() if x.notna().all() else np.nan
        for k, col in (("speedup", "speedup_total"), ("speedup_run", "speedup_solve")):
            x = pd.to_numeric(sub[col], errors="coerce")
            ok = x.notna().all() and (x > 0).all()
            row[k] = float(np.exp(np.log(x).mean())) if ok else np.nan
        row["paper"] = PAPER_TABLES[data][thr][2]
        out.append(row)
    return pd.DataFrame(out)


def _ratio(a, b):
    if a is None or b is None or b <= 0:
        return None
    return a / b
