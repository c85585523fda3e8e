"""Chapter 01: the speed-up against the learning rate: sweeps, the largest rate stable on every seed, ties."""

from __future__ import annotations

import time

import numpy as np

from ...core import timing
from ...core.errors import DivergenceError
from ...core.progress import progress_bar
from ...methods import linearized as L
from ...methods.gradient_descent import full_batch_gd
from .networks import Setup
from .rules import EVENT_RTOL
from .tables import _ratio


def gd_time_to(setup: Setup, lr: float, threshold: float, max_steps: int = 1000):
    """GD's run time (compilation excluded) to ``threshold`` at ``lr``; ``None`` if not reached.

    Raises :class:`DivergenceError` when GD diverges at this learning rate.
    """
    with timing.pinned_blas():
        gd = full_batch_gd(
            setup.apply,
            setup.params0,
            setup.ds.x_train,
            setup.ds.y_train,
            lr,
            max_steps,
            (threshold,),
            chunk=min(100, max_steps),
            diverge_factor=10.0,
        )
    return gd.time_to[threshold], gd.steps_to[threshold]


def lr_sweep(
    setup: Setup,
    lrs,
    threshold: float,
    gd_max_steps: int,
    tau_max: float,
    rtol: float,
    atol: float,
    chunk: int = 100,
    progress: bool = False,
):
    """Speed-up against the learning rate at one accuracy threshold.

    GD is run at each learning rate (a divergent run is recorded as
    unstable, not an error); the ODE is solved at each learning rate too, to
    show that its cost does not depend on it.  The ODE horizon is
    ``tau_max / lr`` GD steps, i.e. the same flow time ``tau = lr * t``.
    """
    rows = []
    lr_safe = L.critical_lr(setup.theta, len(setup.f0)) if setup.theta is not None else None
    it = progress_bar(lrs, desc=f"lr sweep {setup.ds.name}", enabled=progress)
    for lr in it:
        row = {"data": setup.ds.name, "lr": lr, "threshold": threshold, "lr_safe": lr_safe}
        ode = L.solve_flow(
            setup.problem(lr),
            tau_max / lr,
            threshold=threshold,
            space=setup.space,
            rtol=rtol,
            atol=atol,
        )
        row.update(
            ode_t=ode.t_event, ode_solve=ode.solve_time if ode.reached else None, ode_nfev=ode.nfev
        )
        # GD's budget: 20x the steps the gradient flow needs (at least 1000), capped by gd_max_steps;
        # a run that misses it at this learning rate is recorded as "not reached", not extrapolated
        budget = (
            gd_max_steps
            if ode.t_event is None
            else int(min(gd_max_steps, max(1000, 20 * ode.t_event)))
        )
        try:
            gd = full_batch_gd(
                setup.apply,
                setup.params0,
                setup.ds.x_train,
                setup.ds.y_train,
                lr,
                budget,
                (threshold,),
                chunk=min(chunk, budget),
                diverge_factor=10.0,
            )
            row.update(
                stable=True,
                gd_steps=gd.steps_to[threshold],
                gd_time=gd.time_to[threshold],
                gd_compile=gd.compile_time,
                gd_budget=budget,
                gd_final_loss=float(gd.loss[-1]),
            )
        except DivergenceError:
            row.update(
                stable=False,
                gd_steps=None,
                gd_time=None,
                gd_compile=None,
                gd_budget=budget,
                gd_final_loss=None,
            )
        row["speedup_solve"] = _ratio(row["gd_time"], row["ode_solve"])
        rows.append(row)
    return rows


def largest_lr_stable_on_every_seed(setups, lrs, threshold: float, max_steps: int = 1000):
    """The declared protocol for ``speedup-best-lr-*``: the largest rate of ``lrs`` at which GD
    is stable and reaches ``threshold`` within ``max_steps`` on every seed of ``setups``.

    Rates are tried from the largest down; returns ``(lr, {seed: (time, steps)}, tried)`` with
    ``tried`` the rejected rates and why, or ``(None, {}, tried)``.
    """
    tried = []
    for lr in sorted(lrs, reverse=True):
        per_seed, why = {}, None
        for s, su in setups.items():
            try:
                t, steps = gd_time_to(su, lr, threshold, max_steps)
            except DivergenceError:
                why = f"η = {lr:g}: GD diverged on seed {s}"
                break
            if t is None:
                why = f"η = {lr:g}: not reached on seed {s} within {max_steps} steps"
                break
            per_seed[s] = (t, steps)
        if why is None:
            return lr, per_seed, tried
        tried.append(why)
    return None, {}, tried


def crossing(xs, ys, level: float):
    """Where ``ys`` (positive) crosses ``level`` between grid points, log-log interpolated.

    Returns the first crossing's ``x`` or ``None``; an interpolation, shown as such, never a
    verdict.
    """
    pts = [(x, y) for x, y in zip(xs, ys) if y is not None and y > 0 and np.isfinite(y)]
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if (y0 - level) * (y1 - level) <= 0 and y0 != y1:
            a = (np.log(level) - np.log(y0)) / (np.log(y1) - np.log(y0))
            return float(np.exp(np.log(x0) + a * (np.log(x1) - np.log(x0))))
    return None


# ties over seeds: where GD's run time equals BDF's / the fastest route's solve


def gd_sweep(setup: Setup, lrs, threshold: float, tau_event, gd_max_steps: int, chunk: int = 100):
    """GD alone over ``lrs`` at ``threshold``, with :func:`lr_sweep`'s budget rule.

    ``tau_event``: the gradient flow's event time in flow time ``tau = lr * t`` (from a solve at
    any learning rate: the flow does not depend on it), or ``None``; GD's budget at ``lr`` is
    ``min(gd_max_steps, max(1000, 20 * tau_event / lr))``, as in :func:`lr_sweep`.
    """
    rows = []
    for lr in lrs:
        budget = (
            gd_max_steps
            if tau_event is None
            else int(min(gd_max_steps, max(1000, 20 * tau_event / lr)))
        )
        row = {"data": setup.ds.name, "lr": lr, "threshold": threshold, "gd_budget": budget}
        try:
            with timing.pinned_blas():
                gd = full_batch_gd(
                    setup.apply,
                    setup.params0,
                    setup.ds.x_train,
                    setup.ds.y_train,
                    lr,
                    budget,
                    (threshold,),
                    chunk=min(chunk, budget),
                    diverge_factor=10.0,
                )
            row.update(stable=True, gd_steps=gd.steps_to[threshold], gd_time=gd.time_to[threshold])
        except DivergenceError:
            row.update(stable=False, gd_steps=None, gd_time=None)
        rows.append(row)
    return rows


def route_time(
    setup: Setup,
    lr: float,
    route: str,
    threshold: float,
    t_max: float,
    rtol: float,
    atol: float,
    cap_s: float,
    t_ref: float,
    rounds: int = 5,
):
    """One seed's solve time of ``route`` (RK45 or Tsit5) to ``threshold``: median of ``rounds``
    runs after a warm-up run (BLAS pinned; a single run where the warm-up took over 1 s), and
    whether its event time lies within :data:`EVENT_RTOL` of BDF's ``t_ref``.

    Returns ``(seconds or None, agrees)``; ``None`` when the route exceeded ``cap_s``.
    """
    problem = setup.problem(lr)
    with timing.pinned_blas():
        if route == "Tsit5":
            dx = L.DiffraxFlow(problem, setup.space, rtol, atol)

            def go():
                return dx(t_max, threshold)

        elif route == "RK45":

            def go():
                return L.solve_flow(
                    problem,
                    t_max,
                    threshold,
                    setup.space,
                    rtol=rtol,
                    atol=atol,
                    method="RK45",
                    max_wall=cap_s,
                )

        else:
            raise ValueError(f"route must be 'RK45' or 'Tsit5', got {route!r}")
        try:
            t0 = time.perf_counter()
            r = go()
            first = time.perf_counter() - t0
            times = []
            for _ in range(rounds if first <= 1.0 else 0):
                t0 = time.perf_counter()
                go()
                times.append(time.perf_counter() - t0)
        except L.SolverError:
            return None, False
    agrees = r.t_event is not None and abs(r.t_event - t_ref) <= EVENT_RTOL * t_ref
    return (float(np.median(times)) if times else first), bool(agrees)


def ties_of(lrs, gd_times, bdf_s: float | None, fast_s: float | None) -> dict:
    """One seed's interpolated learning rates (:func:`crossing`): GD's run time = the BDF solve
    (``tie_bdf``), = the fastest route's solve (``tie_fast``), and GD / BDF = 1.5 and 2.5
    (``lr_15``, ``lr_25``). ``None``: no crossing inside the grid (or no solve time)."""
    order = np.argsort(lrs)
    xs = [float(lrs[i]) for i in order]
    ys = [gd_times[i] for i in order]
    sp = [None if (y is None or bdf_s is None) else y / bdf_s for y in ys]
    return {
        "tie_bdf": None if bdf_s is None else crossing(xs, ys, bdf_s),
        "tie_fast": None if fast_s is None else crossing(xs, ys, fast_s),
        "lr_15": crossing(xs, sp, 1.5),
        "lr_25": crossing(xs, sp, 2.5),
    }


def crossing_words(values, seeds_without, n_seeds: int, grid, text: str | None = None) -> str:
    """Words for an interpolated learning rate over seeds, to follow "at": the mean ± sd
    [interval] (``text``, else the one value) with how many seeds crossed inside the grid, or,
    when none did, "no rate of the grid (η = a–b) on any of the n seeds" (one seed: "on this
    seed")."""
    if n_seeds < 1 or len(values) + len(seeds_without) != n_seeds:
        raise ValueError(
            f"{len(values)} crossings and {len(seeds_without)} seeds without one for {n_seeds} seeds"
        )
    lo, hi = min(grid), max(grid)
    if not values:
        where = "on this seed" if n_seeds == 1 else f"on any of the {n_seeds} seeds"
        return f"no rate of the grid (η = {lo:g}–{hi:g}) {where}"
    shown = text if text is not None else f"{values[0]:.2g}"
    if n_seeds == 1:
        return f"η ≈ {shown}"
    where = f"{len(values)}/{n_seeds} seeds"
    if seeds_without:
        s = "s" if len(seeds_without) > 1 else ""
        where += f"; none inside the grid on seed{s} " + ", ".join(str(x) for x in seeds_without)
    return f"η ≈ {shown} ({where})"


def pair_words(a: str, words_a: str, b: str, words_b: str, joiner: str = ", ") -> str:
    """Two crossings in one phrase: "a and b at w" when both read the same, else
    "a at wa<joiner>b at wb"."""
    if words_a == words_b:
        return f"{a} and {b} at {words_a}"
    return f"{a} at {words_a}{joiner}{b} at {words_b}"
