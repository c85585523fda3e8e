"""Chapter 01: the solver study (issue 10: other routes to the same event time) and where the flow
becomes stiff."""

from __future__ import annotations

import time

import numpy as np

from ...core import timing
from ...methods import linearized as L
from .networks import Setup
from .rules import EVENT_RTOL

ROUTES = ("BDF", "RK45", "Tsit5", "eig")


def solver_study(
    setup: Setup,
    lr: float,
    thresholds,
    t_max: float,
    rtol: float,
    atol: float,
    rounds: int,
    slow_rounds: int,
    slow_round_s: float,
    cap_s: float,
    loss: str = "ce",
):
    """BDF (the paper's route) against SciPy's RK45, diffrax Tsit5 and, for the squared loss in
    function space, the eigendecomposition closed form, at each threshold.

    Protocol per threshold: one probe call of each route in turn (BLAS pinned; it is also the
    warm-up): the explicit routes under the wall cap ``cap_s`` (RK45 raises past it; Tsit5, which
    cannot be stopped from outside, is attempted only where RK45 finished); then ``rounds``
    interleaved rounds of the routes that finished (``slow_rounds`` where the probe round took
    more than ``slow_round_s``). Tsit5's compilation is timed once and reported apart. Returns
    ``(rows, ratio_rows, compile_time)``: one row per threshold and route, and per threshold the
    per-round ratios BDF / fastest correct route other than BDF (event time within
    :data:`EVENT_RTOL` of BDF's); where no other route finished within ``cap_s``, one ratio
    BDF's probe time / ``cap_s`` flagged ``bound`` (an upper bound from one round).
    """
    problem = setup.problem(lr, loss)
    space = setup.space
    names = ["BDF", "RK45", "Tsit5"] + (["eig"] if loss == "mse" and space == "function" else [])
    with timing.pinned_blas():
        dx = L.DiffraxFlow(problem, space, rtol, atol)
    rows, ratio_rows = [], []
    for thr in thresholds:
        last = {}

        def route(name, thr=thr, last=last):
            def go():
                if name == "Tsit5":
                    r = dx(t_max, thr)
                elif name == "eig":
                    r = L.closed_form_event(problem, t_max, thr)
                else:
                    cap = None if name == "BDF" else cap_s
                    r = L.solve_flow(
                        problem, t_max, thr, space, rtol=rtol, atol=atol, method=name, max_wall=cap
                    )
                last[name] = r
                return r.f

            return go

        probe, status = {}, {}
        with timing.pinned_blas():
            for name in names:
                if name == "Tsit5" and status.get("RK45", "").startswith("exceeded"):
                    status[name] = "not attempted (RK45 exceeded its cap)"
                    continue
                t0 = time.perf_counter()
                try:
                    route(name)()
                except L.SolverError:
                    status[name] = f"exceeded its {cap_s:g} s cap"
                    continue
                probe[name] = time.perf_counter() - t0
        ref = last["BDF"].t_event
        live = [n for n in names if n in probe]
        n_rounds = rounds if sum(probe.values()) <= slow_round_s else slow_rounds
        if len(live) > 1:
            timed = timing.interleaved({n: route(n) for n in live}, rounds=n_rounds, warmup=0)
        else:  # BDF alone: nothing to interleave, its probe is its time
            n_rounds = 1
            timed = {"times": {n: [probe[n]] for n in live}, "load": [timing.load_average()]}
        correct = []
        for name in names:
            r = last.get(name) if name in probe else None
            ts = timed["times"].get(name)
            agrees = (
                r is not None
                and ref is not None
                and r.t_event is not None
                and abs(r.t_event - ref) <= EVENT_RTOL * ref
            )
            if agrees:
                correct.append(name)
            rows.append(
                {
                    "data": setup.ds.name,
                    "loss": loss,
                    "threshold": thr,
                    "route": name,
                    "status": status.get(name, "timed"),
                    "t_event": None if r is None else r.t_event,
                    "agrees": bool(agrees),
                    "nfev": None if r is None else r.nfev,
                    "nlu": None if r is None else r.nlu,
                    "median_s": None if ts is None else float(np.median(ts)),
                    "min_s": None if ts is None else float(min(ts)),
                    "max_s": None if ts is None else float(max(ts)),
                    "rounds": n_rounds if ts is not None else 0,
                    "load": timed["load"],
                }
            )
        head = {"data": setup.ds.name, "loss": loss, "threshold": thr}
        others = [n for n in correct if n != "BDF" and n in timed["times"]]
        if ref is None:
            ratio_rows.append(head)
        elif others:
            fastest = min(others, key=lambda n: float(np.median(timed["times"][n])))
            ratio_rows.append(
                head
                | {
                    "fastest": fastest,
                    "ratios": timing.ratios(timed, "BDF", fastest),
                    "rounds": n_rounds,
                }
            )
        else:  # no other route finished within its cap: BDF / cap bounds the ratio (one round)
            capped = [n for n in names if n != "BDF" and status.get(n, "").startswith("exceeded")]
            if capped:
                ratio_rows.append(
                    head
                    | {
                        "fastest": " or ".join(capped),
                        "ratios": [probe["BDF"] / cap_s],
                        "rounds": 1,
                        "bound": True,
                    }
                )
            else:  # no other route agreed with BDF's event time: no ratio (not an empty one)
                ratio_rows.append(head | {"fastest": "none agreed with BDF"})
    return rows, ratio_rows, dx.compile_time


def route_settle_cost(rows, data: str, rounds: int, cap_s: float, loss: str = "ce") -> str:
    """What would settle the thresholds of ``data`` that the solver study leaves limited (fewer
    than 6 timed rounds, or no route but BDF within its cap), and what it would cost: ``rounds``
    interleaved rounds of BDF and the other routes, each at its measured median time or at the
    cap ``cap_s`` where it exceeded the cap or was not attempted. ``""`` when none is limited."""
    out = []
    for thr in sorted({r["threshold"] for r in rows if r["data"] == data and r["loss"] == loss}):
        sub = [r for r in rows if r["data"] == data and r["loss"] == loss and r["threshold"] == thr]
        if not sub or min(r["rounds"] for r in sub if r["route"] == "BDF") < 1:
            continue
        timed = [r for r in sub if r["rounds"] >= 6 and r["route"] != "BDF"]
        if timed:
            continue
        per = 0.0
        for r in sub:
            per += r["median_s"] if r["median_s"] is not None else cap_s
        out.append(
            f"{thr:.2f} would be settled by {rounds} interleaved rounds of every route (the "
            f"explicit ones under their {cap_s:g} s cap), about {rounds * per / 60:.1f} min"
        )
    return "; ".join(out)


def stiffness_study(
    setup: Setup, lr: float, horizons, rtol: float, atol: float, cap_s: float, loss: str = "ce"
):
    """Work against the horizon (no event): BDF and RK45, and the flow Jacobian's spectrum.

    For each horizon ``T`` (GD steps): BDF's and RK45's right-hand-side evaluations and
    seconds (single runs, BLAS pinned; RK45 under the wall cap), the spectral radius ``rho`` of
    the flow's Jacobian at ``f(T)``, and, in function space, its whole spectrum there.
    """
    problem = setup.problem(lr, loss)
    rows, spectra = [], []
    with timing.pinned_blas():
        for T in horizons:
            t0 = time.perf_counter()
            b = L.solve_flow(problem, T, None, setup.space, rtol=rtol, atol=atol)
            tb = time.perf_counter() - t0
            t0 = time.perf_counter()
            try:
                e = L.solve_flow(
                    problem,
                    T,
                    None,
                    setup.space,
                    rtol=rtol,
                    atol=atol,
                    method="RK45",
                    max_wall=cap_s,
                )
                e_nfev, te = e.nfev, time.perf_counter() - t0
            except L.SolverError:
                e_nfev, te = None, None
            rho = L.spectral_radius(problem, b.f)
            rows.append(
                {
                    "data": setup.ds.name,
                    "loss": loss,
                    "horizon": float(T),
                    "bdf_nfev": b.nfev,
                    "bdf_nlu": b.nlu,
                    "bdf_s": tb,
                    "rk45_nfev": e_nfev,
                    "rk45_s": te,
                    "rho": rho,
                    "rho_T": rho * T,
                }
            )
            if setup.space == "function":
                spectra.append(
                    {
                        "loss": loss,
                        "horizon": float(T),
                        "eig": L.flow_jacobian_spectrum(problem, b.f),
                    }
                )
    return rows, spectra


def stiffness_at_events(setup: Setup, lr: float, rows) -> list[dict]:
    """``rho * t*`` at each event time of the Tables' rows of this set-up's seed (how stiff)."""
    problem = setup.problem(lr)
    rho0 = L.spectral_radius(problem, setup.f0)
    out = []
    for r in rows:
        if r["ode_t"] is not None:
            out.append(
                {
                    "data": r["data"],
                    "threshold": r["threshold"],
                    "t_event": r["ode_t"],
                    "rho0": rho0,
                    "rho_t": rho0 * r["ode_t"],
                }
            )
    return out
