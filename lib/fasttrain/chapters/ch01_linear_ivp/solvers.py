"""Chapter 01: the solver study (issue 10: other routes to the same event time) and where the flow
becomes stiff."""

from __future__ import annotations

import time

import numpy as np

from ...core import claims, timing
from ...methods import linearized as L
from .measurements import scaling_exponents
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
    cannot be stopped from outside, is attempted only where RK45 finished, and held to the same
    cap after the fact: a probe longer than ``cap_s`` is reported with its one run's event time
    and seconds, and not repeated); then ``rounds`` interleaved rounds of the routes that finished
    within their caps (``slow_rounds`` where their probes together took more than
    ``slow_round_s``). Tsit5's compilation is timed once and reported apart. Returns
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
                if name == "Tsit5" and probe[name] > cap_s:  # the cap, after the fact
                    status[name] = (
                        f"exceeded its {cap_s:g} s cap (one run: {probe.pop(name):.3g} s)"
                    )
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
            r = last.get(name)  # None where the route raised or was not attempted
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


def solver_studies(cfg, seed: int, setups, tables, su_small):
    """The chapter's solver study: the Tables' problems of seed ``seed + d.seeds[0]`` at the
    thresholds BDF reached there (a threshold it did not reach gets a ratio row without ratios),
    then the Banknote subsample ``su_small`` with cross-entropy and the squared loss.

    Returns ``(rows, ratio_rows, compile_s)`` as :func:`solver_study`, over all problems."""
    solver_rows, solver_ratios, compile_s = [], [], {}
    timing_args = (
        cfg.rtol,
        cfg.atol,
        cfg.solver_rounds,
        cfg.solver_slow_rounds,
        cfg.solver_slow_round_s,
        cfg.explicit_cap_s,
    )
    for d in cfg.datasets:
        s0 = seed + d.seeds[0]
        mine = [r for r in tables if r["data"] == d.name and r["seed"] == s0]
        reached = [
            t
            for t in cfg.thresholds
            if all(
                r.get("ode_t") is not None and not np.isnan(r["ode_t"])
                for r in mine
                if r["threshold"] == t
            )
        ]
        rows, ratios, compile_s[d.name] = solver_study(
            setups[d.name, s0], cfg.lr, reached, cfg.t_max, *timing_args
        )
        solver_rows += rows
        solver_ratios += ratios
        for t in cfg.thresholds:
            if t not in reached:
                solver_ratios.append({"data": d.name, "loss": "ce", "threshold": t})
    for loss in ("ce", "mse"):
        rows, ratios, compile_s[f"small-{loss}"] = solver_study(
            su_small, cfg.lr, cfg.thresholds, cfg.t_max, *timing_args, loss=loss
        )
        solver_rows += [dict(r, data="banknote subsample") for r in rows]
        solver_ratios += [dict(r, data="banknote subsample") for r in ratios]
    return solver_rows, solver_ratios, compile_s


#: the ratio column's words where a threshold has no ratio
NO_RATIO_BDF = "BDF did not reach it"
NO_RATIO_AGREED = "no ratio: no other route agreed with BDF's event time"


def ratio_table(ratio_rows) -> list[dict]:
    """The solver study's result per problem and threshold: the fastest correct route other than
    BDF and the ratio BDF / it (median [95 % interval] (range)); where there is no ratio, why:
    BDF did not reach the threshold, or no other route agreed with BDF's event time (none capped)."""
    out = []
    for r in ratio_rows:
        if "ratios" in r:
            ratio = claims.over_rounds(r["ratios"]).text(".3g")
        elif "fastest" in r:
            ratio = NO_RATIO_AGREED
        else:
            ratio = NO_RATIO_BDF
        out.append(
            {
                "data": r["data"],
                "loss": r["loss"],
                "threshold": r["threshold"],
                "fastest": r.get("fastest", "–")
                + (" (bound: exceeded its cap)" if r.get("bound") else ""),
                "ratio": ratio,
            }
        )
    return out


def solve_memory(setup: Setup, lr: float, threshold: float, t_max: float, rtol: float, atol: float):
    """Peak memory of one BDF solve of ``setup``'s flow to ``threshold`` (the Tables' solve,
    untimed): the arrays the solve is handed and holds throughout (the network Jacobian ``J0``,
    ``f0``, the labels and, in function space, ``Theta0``), plus the peak of what NumPy/SciPy
    allocate while the problem is built and solved, traced by :mod:`tracemalloc` (NumPy registers
    its buffers with it). Also the analytic size of the solve's largest arrays (``J0`` and
    ``Theta0`` held, and BDF's ``dim x dim`` Jacobian, its LU factors and its ``(order + 3) x dim``
    history) as a check, and the process's peak resident size (JAX's runtime included; shown,
    not decided on)."""
    import resource
    import tracemalloc

    held = sum(
        a.nbytes
        for a in (setup.J, setup.f0, np.asarray(setup.ds.y_train), setup.theta)
        if a is not None
    )
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        r = L.solve_flow(
            setup.problem(lr), t_max, threshold, setup.space, rtol=rtol, atol=atol, method="BDF"
        )
        _, traced = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    dim = setup.f0.size if setup.space == "function" else setup.J.shape[1]
    analytic = held + 8 * (2 * dim * dim + 8 * dim)
    return {
        "data": setup.ds.name,
        "width": setup.width,
        "n_train": len(setup.ds.x_train),
        "space": setup.space,
        "dim": int(dim),
        "threshold": threshold,
        "reached": r.t_event is not None,
        "held_bytes": int(held),
        "traced_peak_bytes": int(traced),
        "peak_bytes": int(held + traced),
        "analytic_bytes": int(analytic),
        "process_peak_rss_bytes": int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024,
    }


def memory_study(cfg, seed: int, setups, tables) -> dict:
    """:func:`solve_memory` on the largest Tables problem of the run (the most entries of ``J0``,
    seed ``seed + d.seeds[0]``), to the highest threshold BDF reached there in the Tables (the
    lowest threshold, solved to the horizon, if it reached none)."""
    d = max(cfg.datasets, key=lambda d: setups[d.name, seed + d.seeds[0]].J.size)
    s0 = seed + d.seeds[0]
    reached = [
        r["threshold"]
        for r in tables
        if r["data"] == d.name and r["seed"] == s0 and r.get("ode_t") is not None
        and not np.isnan(r["ode_t"])
    ]  # fmt: skip
    thr = max(reached) if reached else min(cfg.thresholds)
    return dict(
        solve_memory(setups[d.name, s0], cfg.lr, thr, cfg.t_max, cfg.rtol, cfg.atol), seed=s0
    )


def formulations_agree(setup: Setup, lr: float, thresholds, t_max: float, rtol: float, atol: float):
    """Eq. 1 (parameter space, ``P`` unknowns) against eq. 2 (function space, ``nk`` unknowns) on
    ``setup``'s flow: per threshold, one BDF solve of each with the analytic Jacobian, the same
    tolerances and the same accuracy event (BLAS pinned; times shown, not decided on), their event
    times and the relative difference ``|t1 - t2| / t2`` (1, i.e. 100 %, when only one reached it)."""
    problem = setup.problem(lr)
    rows = []
    with timing.pinned_blas():
        for thr in thresholds:
            got = {}
            for space in ("parameter", "function"):
                r = L.solve_flow(problem, t_max, thr, space, rtol=rtol, atol=atol, method="BDF")
                got[space] = r
            t1, t2 = got["parameter"].t_event, got["function"].t_event
            if t1 is None and t2 is None:
                diff = None
            elif t1 is None or t2 is None:
                diff = 1.0  # reached by one formulation only: counted as 100 %
            else:
                diff = abs(t1 - t2) / t2
            rows.append(
                {
                    "threshold": thr,
                    "t_eq1": t1,
                    "t_eq2": t2,
                    "rel_diff": diff,
                    "unknowns_eq1": int(setup.J.shape[1]),
                    "unknowns_eq2": int(setup.f0.size),
                    "solve_s_eq1": got["parameter"].solve_time,
                    "solve_s_eq2": got["function"].solve_time,
                }
            )
    return rows


def bdf_scaling(cfg, setup: Setup, seed: int) -> dict:
    """How the BDF solve's time grows with the training-set size ("it scales well", Sec. 2).

    Nested random subsamples of ``cfg.scaling_sizes`` points (permutation drawn with ``seed``) of
    the Tables' MAGIC problem ``setup`` (its training split, width and initial network: the rows
    of its ``J0``, ``f0`` and labels, so no set-up is repeated), eq. 1 in parameter space (the
    space of the Tables' MAGIC solve at book scale; its unknowns do not grow with n), one BDF solve
    per size with the analytic Jacobian to the fixed flow time ``cfg.scaling_horizon`` (no accuracy
    event: the same flow time at every size). Timed in ``cfg.scaling_rounds`` interleaved rounds
    (every size once per round) after one untimed solve of each, BLAS pinned to one thread
    (:func:`fasttrain.core.timing.interleaved`). Returns the sizes, the timing record, the
    solver's counters per size and the per-round exponents (:func:`.measurements.scaling_exponents`)."""
    N, k = setup.f0.shape
    sizes = [n for n in cfg.scaling_sizes if n <= N]
    perm = np.random.default_rng(seed).permutation(N)
    J3 = setup.J.reshape(N, k, -1)
    y = np.asarray(setup.ds.y_train)
    problems = {
        n: L.FlowProblem(
            J3[perm[:n]].reshape(n * k, -1), setup.f0[perm[:n]], y[perm[:n]], cfg.lr, "ce"
        )
        for n in sizes
    }
    last = {}

    def solve(n):
        def run():
            last[n] = L.solve_flow(
                problems[n], cfg.scaling_horizon, None, "parameter", rtol=cfg.rtol, atol=cfg.atol
            )
            return last[n].f

        return run

    timed = timing.interleaved({n: solve(n) for n in sizes}, rounds=cfg.scaling_rounds)
    return {
        "data": setup.ds.name,
        "seed": seed,
        "width": setup.width,
        "unknowns": int(setup.J.shape[1]),
        "horizon": cfg.scaling_horizon,
        "sizes": sizes,
        "timed": timed,
        "per_size": [
            {
                "n": n,
                "median_s": float(np.median(timed["times"][n])),
                "rhs": last[n].nfev,
                "jacobians": last[n].njev,
                "lu": last[n].nlu,
            }
            for n in sizes
        ],
        "exponents": scaling_exponents(sizes, [timed["times"][n] for n in sizes]),
    }
