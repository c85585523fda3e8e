"""Chapter 01: configurations per scale, claims, protocols around :mod:`fasttrain.methods.linearized`.

Each function runs one measurement of the chapter and returns plain
records (lists of dicts) that the chapter tabulates and plots.  The
protocol, stated once here and in the chapter:

* network: two-layer, ``Config.activation``, standard parameterisation,
  LeCun-normal weights, softmax cross-entropy over ``k = 2`` logits;
* data: stratified 80/20 split fixed by the seed, features standardised
  with the training split's statistics; each seed of ``DataSetup.seeds``
  (offsets to the notebook's seed) draws its own split and initial network;
* GD: full batch, constant learning rate, jitted chunks; its clock starts
  after compilation (compilation reported separately);
* ODE: BDF with the analytic Jacobian, ``rtol``/``atol`` from the config,
  stopped by the accuracy event; its clock is the solve; the set-up
  (network Jacobian ``J0`` incl. its compilation, and the NTK product) is
  reported separately.  "Total" adds set-up (ODE) or compilation (GD);
* timing: NumPy/SciPy's BLAS pinned to one thread; GD and the ODE run in
  alternating order across seeds (:func:`time_to_accuracy`), the Jacobian
  comparison in interleaved rounds (:func:`fd_vs_analytic`);
* test accuracy: at the highest threshold both methods reached, GD's
  network taken at the step at which it reached that training accuracy.

The claims are declared in :data:`CLAIMS`; their rules are
:func:`ode_faster_at_every_threshold` and :func:`comparably_high_about_93`
(and two generic thresholds).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import jax
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from ..core import claims, reference, timing
from ..core import data as data_mod
from ..core.claims import ClaimSpec, Measurement
from ..core.errors import DivergenceError
from ..core.progress import progress_bar
from ..core.scales import pick
from ..methods import linearized as L
from ..methods.gradient_descent import full_batch_gd

# ---------------------------------------------------------------------------
# configurations per scale


@dataclass(frozen=True)
class DataSetup:
    name: str
    width: int
    n_train: int | None  # None: the whole training split
    seeds: tuple[int, ...] = (0,)  # offsets added to the notebook's seed (data split and init)
    sweep_seeds: int | None = None  # the per-seed learning-rate sweeps (ties) run on the first
    # this many seeds (None: all); each costs over a minute on MAGIC

    @property
    def tie_seeds(self) -> tuple[int, ...]:
        return self.seeds if self.sweep_seeds is None else self.seeds[: self.sweep_seeds]


@dataclass(frozen=True)
class Config:
    """Settings of chapter 01 at one scale (see the chapter's protocol section)."""

    datasets: tuple[DataSetup, ...]
    thresholds: tuple[float, ...] = (0.80, 0.85, 0.90, 0.95)
    activation: str = "tanh"
    lr: float = 0.1  # the Tables' learning rate (a slow one, see chapter)
    lr_grid: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
    gd_max_steps: int = 20_000
    gd_chunk: int = 100
    t_max: float = 20_000.0  # gradient-flow horizon, in GD steps
    rtol: float = 1e-3
    atol: float = 1e-6
    fd_n_train: int = 300  # problem size for the analytic-vs-FD Jacobian comparison
    fd_width: int = 256
    widths: tuple[int, ...] = (16, 64, 256, 1024)  # the network-vs-linearisation study
    width_study_n_train: int = 600
    width_horizon: float = 2_000.0  # flow time (GD steps) of the width study
    test_fraction: float = 0.2
    # interleaved timing rounds: 6 is the fewest that give a 95 % interval of the median
    # (claims.median_ranks: [min, max] for 6-8 rounds); the published spreads are far from every
    # bar (fd-jacobian 1.39-1.43 against 10; BDF / fastest route 40-103 on Banknote and 0.7 on
    # MAGIC against 10), so more rounds would narrow nothing a verdict depends on
    timing_rounds: int = 7  # interleaved rounds of the analytic-vs-FD timing
    # the solver study (BDF against RK45, diffrax Tsit5 and the squared loss's closed form)
    solver_rounds: int = 7  # interleaved rounds per threshold ...
    solver_slow_rounds: int = 6  # ... or this many where one round costs more than:
    solver_slow_round_s: float = 20.0
    explicit_cap_s: float = 20.0  # wall cap of one explicit solve (beyond it: "exceeded")
    stiff_horizons: tuple[float, ...] = (1.0, 10.0, 100.0, 1e3, 1e4, 1e5)
    sweep_max_steps: int = 25_000  # GD budget of the learning-rate sweep (small rates need many)
    # can GD reach 0.95 on MAGIC? (width, multipliers c): GD at eta = c * 64 / width (the NTK
    # grows ~ width), the configuration chosen on the first seed, decided over magic_seeds
    magic_grid: tuple[tuple[int, tuple[float, ...]], ...] = (
        (64, (0.1, 0.3, 1.0, 2.0, 3.0)),
        (128, (0.3, 1.0, 2.0, 3.0)),
        (256, (1.0,)),
        (1024, (1.0,)),  # one 3 000-step run at width 1024 costs about two minutes
    )
    # "small ... number of hidden units could also benefit": Banknote's Tables protocol at these
    # widths, training accuracy 0.90, on every Banknote seed (about 3 s a width and seed)
    small_widths: tuple[int, ...] = (16, 64)
    small_width_threshold: float = 0.90
    magic_steps: int = 3_000
    magic_seeds: tuple[int, ...] = (0, 1, 2)  # offsets to the notebook's seed
    magic_n_train: int | None = None


CONFIGS = {
    "smoke": Config(
        datasets=(
            DataSetup("banknote", 64, 200, seeds=(0, 1)),
            DataSetup("magic", 16, 300, seeds=(0,)),
        ),
        lr_grid=(0.1, 3.0),
        gd_max_steps=2_000,
        t_max=2_000.0,
        fd_n_train=60,
        fd_width=32,
        widths=(16, 128),
        width_study_n_train=100,
        width_horizon=100.0,
        timing_rounds=6,
        solver_rounds=6,
        solver_slow_rounds=6,
        explicit_cap_s=10.0,
        stiff_horizons=(1.0, 10.0, 100.0),
        sweep_max_steps=2_000,
        small_widths=(16,),
        magic_grid=((16, (1.0, 3.0)), (32, (1.0,))),
        magic_steps=300,
        magic_seeds=(0, 1),
        magic_n_train=300,
    ),
    "book": Config(
        # 5 seeds on Banknote (about 15 s each) and on MAGIC (Tables and test accuracy, about 40 s
        # a seed); MAGIC's per-seed learning-rate sweeps (ties, over a minute a seed) on 3 of them
        datasets=(
            DataSetup("banknote", 512, None, seeds=(0, 1, 2, 3, 4)),
            DataSetup("magic", 64, None, seeds=(0, 1, 2, 3, 4), sweep_seeds=3),
        ),
        gd_max_steps=3_000,
        t_max=20_000.0,
        lr_grid=(0.001, 0.003, 0.01, 0.1, 1.0, 3.0, 10.0),
        fd_n_train=300,
        fd_width=256,
        widths=(16, 64, 256, 1024),
        width_study_n_train=600,
        timing_rounds=7,
    ),
    "paper": Config(
        datasets=(
            DataSetup("banknote", 1024, None, seeds=(0, 1, 2, 3, 4)),
            DataSetup("magic", 128, None, seeds=(0, 1, 2, 3, 4)),
        ),
        lr_grid=(0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0),
        gd_max_steps=200_000,
        t_max=200_000.0,
        fd_n_train=1000,
        fd_width=512,
        widths=(16, 64, 256, 1024, 4096),
        width_study_n_train=1098,
        timing_rounds=9,
        solver_rounds=9,
        solver_slow_rounds=6,
        explicit_cap_s=300.0,
        stiff_horizons=(1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6),
        sweep_max_steps=200_000,
        magic_grid=(
            (64, (0.3, 1.0, 2.0, 3.0)),
            (128, (0.3, 1.0, 2.0, 3.0)),
            (256, (0.3, 1.0, 2.0, 3.0)),
            (512, (0.3, 1.0, 2.0)),
            (1024, (0.3, 1.0, 2.0)),
        ),
        magic_steps=20_000,
        magic_seeds=(0, 1, 2, 3, 4),
    ),
}


def config(scale: str) -> Config:
    return pick(CONFIGS, scale)


# ---------------------------------------------------------------------------
# the paper's values


#: the paper's Tables 1 (Banknote) and 2 (MAGIC): threshold -> (GD s, ODE s, speed-up)
PAPER_TABLES = {
    "banknote": {
        0.80: (60.10, 38.66, 1.55),
        0.85: (75.52, 39.02, 1.94),
        0.90: (102.19, 40.85, 2.50),
        0.95: (147.73, 69.83, 2.12),
    },
    "magic": {
        0.80: (118.50, 59.42, 1.99),
        0.85: (140.88, 72.52, 1.94),
        0.90: (189.30, 76.19, 2.48),
        0.95: (201.45, 90.97, 2.21),
    },
}
PAPER_TEST_ACCURACY = 0.93
#: Table 2: GD's time to 0.95 over its time to 0.80 (the paper's GD budget relative to 0.80)
PAPER_GD_095_OVER_080 = PAPER_TABLES["magic"][0.95][0] / PAPER_TABLES["magic"][0.80][0]
#: "comparably high": GD's test accuracy may exceed the solver network's by at most this much
COMPARABLE_GAP = 0.03
#: "around 93 %": the solver network's test accuracy within this much of 0.93
AROUND_93 = 0.05

# ---------------------------------------------------------------------------
# rules


@dataclass(frozen=True)
class SpeedupsByThreshold:
    """Per-seed speed-ups (GD total / ODE total) at each threshold, and who reached it.

    ``ratios[thr]``: :func:`claims.over_seeds` (log scale) of the end-to-end speed-ups over the
    seeds in which both methods reached ``thr`` (``None`` if they did not both reach it in every
    seed); ``run_only[thr]``: the same for GD's run alone / the BDF solve alone (compilation and
    set-up left out; shown beside the verdict, not decided on); ``reached[thr] = (by GD, by the
    ODE, seeds)`` in counts of seeds; ``paper[thr]``: the paper's speed-up.
    """

    ratios: dict
    reached: dict
    paper: dict
    values: tuple[float, ...] = field(default=())
    run_only: dict = field(default_factory=dict)


def _speedup_example(ratios: dict, n: int = 5) -> SpeedupsByThreshold:
    thr = (0.80, 0.85, 0.90, 0.95)
    rs = {t: (claims.over_seeds(ratios[t], log=True) if t in ratios else None) for t in thr}
    reached = {t: ((n, n, n) if t in ratios else (n, 0, n)) for t in thr}
    return SpeedupsByThreshold(rs, reached, dict.fromkeys(thr, 2.0))


def _who_reached(m: SpeedupsByThreshold) -> str:
    parts = []
    for t, (g, o, n) in sorted(m.reached.items()):
        if g == n and o == n:
            who = f"both in {n}/{n} seeds"
        else:
            who = f"GD in {g}/{n}, ODE in {o}/{n} seeds"
        parts.append(f"{t:.2f}: {who}")
    return "reached: " + "; ".join(parts)


_SP = (1.8, 2.0, 2.2, 1.9, 2.1)


@claims.rule(
    examples={
        "reproduced": _speedup_example({t: _SP for t in (0.80, 0.85, 0.90, 0.95)}),
        "partly": _speedup_example({0.80: (1.2, 1.4, 1.3), 0.85: (0.3, 0.5, 0.4)}),
        "not reproduced": _speedup_example({0.80: (0.1, 0.2, 0.15), 0.85: (0.2, 0.3, 0.25)}),
        "inconclusive": _speedup_example({0.80: (0.8, 1.3, 1.0)}),
        "not testable here": _speedup_example({}),
    }
)
def ode_faster_at_every_threshold(m: SpeedupsByThreshold) -> tuple[str, str]:
    """ODE faster (whole 95 % interval of the geometric mean speed-up > 1) at every threshold reached.

    Statistic: per seed, the end-to-end speed-up GD total / ODE total (GD's compilation and run;
    the ODE's set-up, i.e. J0 with its compilation and the NTK, and its solve), one cold run of each
    per seed; over seeds, the geometric mean with the 95 % t-interval of the mean log
    (:func:`claims.over_seeds` with ``log=True``): the paper's "over 2 times speedup" is a typical
    factor, and a speed-up is a strictly positive ratio, so its interval is taken on the log scale.
    One seed decides at most "inconclusive". End to end because the claim is about the wall time
    to a training accuracy (the paper's "requisite training time"), which a user pays with its
    fixed costs; the run-only ratio is shown beside it, not decided on.
    Thresholds: the paper's Tables 1/2 (speed-ups 1.55-2.50 and 1.94-2.48); "within 2x" is this
    book's band for "a similar factor" (the paper's hardware and clock are unknown). Only
    thresholds reached by both methods in every seed are compared. "At every threshold" is a claim
    about every case, decided by the worst threshold: reproduced: faster at every threshold, by a
    similar factor; partly: faster at some, and slower at another, or another not reached by both
    in every seed, or faster at all but not by a similar factor; not reproduced: faster at none and slower (whole
    interval < 1) at one or more; inconclusive otherwise (an interval straddles 1 and none lies
    below it); not testable here (declared precondition): no threshold reached by both in every
    seed.
    """
    measured = {t: r for t, r in m.ratios.items() if r is not None}
    who = _who_reached(m)
    if not measured:
        return (
            "not testable here",
            f"no threshold was reached by both methods in every seed ({who})",
        )
    shown = ", ".join(f"{t:.2f}: {r.text('.3g')}" for t, r in sorted(measured.items()))
    sides = {t: claims.side(r, 1.0, higher=True) for t, r in measured.items()}
    faster = [t for t, v in sides.items() if v == "meets"]
    slower = [t for t, v in sides.items() if v == "fails"]
    lo_p, hi_p = min(m.paper.values()), max(m.paper.values())
    similar = all(0.5 * lo_p <= measured[t].lo and measured[t].hi <= 2 * hi_p for t in faster)
    run = {t: r for t, r in (m.run_only or {}).items() if r is not None}
    run_txt = (
        "; run only (GD run / BDF solve, not decided on): "
        + ", ".join(f"{t:.2f}: {r.text('.3g')}" for t, r in sorted(run.items()))
        if run
        else ""
    )
    where = f"end-to-end speed-up at {shown} ({who}){run_txt}"
    if len(faster) == len(m.ratios) and similar:
        return (
            "reproduced",
            f"the ODE solver is faster at every threshold, by a similar factor; {where}",
        )
    undecided = [t for t, v in sides.items() if v == "straddles"]
    if faster and (slower or len(measured) < len(m.ratios) or not undecided):
        return "partly", (
            f"the ODE solver is faster at {len(faster)} of {len(m.ratios)} thresholds; {where}"
        )
    if slower:
        n_all = len(m.ratios)
        return "not reproduced", (
            f"gradient descent is faster at {len(slower)} of {n_all} thresholds, the ODE at "
            f"none ({len(measured)} reached by both methods); {where}"
        )
    return "inconclusive", f"an interval straddles 1 and none lies above it; {where}"


def _acc_example(gaps, levels) -> tuple[Measurement, dict]:
    return claims.over_seeds(gaps), {"level": claims.over_seeds(levels)}


#: the declared precondition of ``test-accuracy-*``
NO_COMMON_THRESHOLD = "the two methods reached no common training-accuracy threshold in any seed"


@claims.rule(
    examples={
        "reproduced": _acc_example([0.0, 0.01, 0.005], [0.92, 0.94, 0.93]),
        "partly": _acc_example([0.0, 0.01, 0.005], [0.99, 0.995, 0.992]),
        "not reproduced": _acc_example([0.3, 0.4, 0.35], [0.5, 0.6, 0.55]),
        "inconclusive": _acc_example([0.0, 0.06, 0.03], [0.92, 0.94, 0.93]),
        "not testable here": claims.Unavailable(NO_COMMON_THRESHOLD),
    }
)
def comparably_high_about_93(gap: Measurement, level: Measurement) -> tuple[str, str]:
    """GD minus solver-network test accuracy <= 0.03 (mean's 95 % interval); "partly" if not about 93 %.

    Statistic: the mean over seeds with its 95 % t-interval (:func:`claims.over_seeds`, linear
    scale), for the gap and for the level: "the accuracy is often comparably high (i.e., both
    around 93 %)" describes the typical seed, not every seed (the paper's "often" admits
    exceptions) and not a share of seeds (the parenthesis gives a typical level); the gap is a
    difference that can be negative, so its interval is not taken on the log scale. One seed
    decides at most "inconclusive".
    Thresholds from the paper's words: the two networks' accuracies are one number to the
    precision of "around 93 %", which this book reads as a gap of at most 3 percentage points
    (GD's accuracy minus the solver network's, per seed); "around 93 %" for the level is 0.93 +-
    0.05. Reproduced: the gap's interval lies at or below 0.03 and the level's interval inside
    [0.88, 0.98]; partly: the gap holds but the level's interval lies outside that band; not
    reproduced: the gap's interval lies wholly above 0.03; inconclusive otherwise; not testable
    here (declared precondition): the two methods reached no common threshold in any seed.
    """
    g, lv = gap.text(".3f"), level.text(".3f")
    lo_b, hi_b = PAPER_TEST_ACCURACY - AROUND_93, PAPER_TEST_ACCURACY + AROUND_93
    where = claims.side(gap, COMPARABLE_GAP, higher=False)
    if where == "fails":
        return "not reproduced", (
            f"GD's network scores higher by {g} (> {COMPARABLE_GAP:g}); solver network {lv}"
        )
    if where == "straddles":
        why = "cannot decide against" if gap.limited else "straddles"
        return "inconclusive", f"the gap GD - solver network {g} {why} {COMPARABLE_GAP:g}"
    if level.limited:
        return "inconclusive", f"gap {g} <= {COMPARABLE_GAP:g}; the level {lv} is one run"
    if lo_b <= level.lo and level.hi <= hi_b:
        return "reproduced", f"gap {g} <= {COMPARABLE_GAP:g}; solver network {lv}, about 93 %"
    if level.hi < lo_b or level.lo > hi_b:
        return "partly", (
            f"comparable to GD (gap {g} <= {COMPARABLE_GAP:g}), but the level {lv} is the data "
            f"set's, not about 93 %"
        )
    return "inconclusive", f"gap {g} <= {COMPARABLE_GAP:g}; the level {lv} straddles [0.88, 0.98]"


@dataclass(frozen=True)
class SpeedupsByWidth:
    """Per width: :func:`claims.over_seeds` (log scale) of the per-seed end-to-end speed-ups
    (``None``: not reached by both methods in every seed) and of the run-only ones, at one
    training-accuracy threshold."""

    ratios: dict
    run_only: dict
    threshold: float
    values: tuple[float, ...] = field(default=())


def _width_example(ratios: dict) -> SpeedupsByWidth:
    rs = {w: (claims.over_seeds(v, log=True) if v else None) for w, v in ratios.items()}
    return SpeedupsByWidth(rs, {}, 0.9)


@claims.rule(
    examples={
        "reproduced": _width_example({16: _SP, 64: _SP}),
        "partly": _width_example({16: _SP, 64: (0.3, 0.4, 0.35)}),
        "not reproduced": _width_example({16: (0.3, 0.4, 0.35), 64: (0.8, 1.3, 1.0)}),
        "inconclusive": _width_example({16: _SP, 64: (0.8, 1.3, 1.0)}),
        "not testable here": _width_example({16: None}),
    }
)
def faster_at_every_small_width(m: SpeedupsByWidth) -> tuple[str, str]:
    """ODE faster (whole 95 % interval of the geometric mean speed-up > 1) at every small width.

    Statistic: as for ``speedup-*``: per seed the end-to-end speed-up GD total / ODE total (one cold
    run of each), over seeds the geometric mean with the 95 % t-interval of the mean log (a typical
    factor of a strictly positive ratio); one seed decides at most "inconclusive"; the run-only
    ratio is shown, not decided on. The abstract's "small ... number of hidden units could also
    benefit" is a claim about each small width, decided by the worst width: reproduced: faster at
    every width; partly: faster at some, and slower at another (or another not reached by both);
    not reproduced: faster at none and slower (whole interval < 1) at one or more; inconclusive
    otherwise (an interval straddles 1 and none lies below it); not testable here (declared
    precondition): no width reached by both methods in every seed.
    """
    got = {w: r for w, r in m.ratios.items() if r is not None}
    if not got:
        return "not testable here", f"no width reached {m.threshold:.2f} by both in every seed"
    sides = {w: claims.side(r, 1.0) for w, r in got.items()}
    run = {w: r for w, r in (m.run_only or {}).items() if r is not None}
    shown = "; ".join(f"width {w}: {r.text('.3g')}" for w, r in sorted(got.items()))
    if run:
        shown += "; run only (not decided on): " + "; ".join(
            f"width {w}: {r.text('.3g')}" for w, r in sorted(run.items())
        )
    where = f"end-to-end speed-up at training accuracy {m.threshold:.2f}, {shown}"
    faster = [w for w, v in sides.items() if v == "meets"]
    slower = [w for w, v in sides.items() if v == "fails"]
    if len(faster) == len(m.ratios):
        return "reproduced", f"the ODE is faster at every small width; {where}"
    undecided = [w for w, v in sides.items() if v == "straddles"]
    if faster and (slower or len(got) < len(m.ratios) or not undecided):
        return "partly", f"the ODE is faster at {len(faster)} of {len(m.ratios)} widths; {where}"
    if slower:
        return "not reproduced", f"GD is faster at {len(slower)} width(s), the ODE at none; {where}"
    return "inconclusive", f"an interval straddles 1 and none lies above it; {where}"


def speedups_by_width(rows, widths, threshold: float) -> SpeedupsByWidth:
    """The small-width study's rows (``time_to_accuracy`` rows with ``width`` and ``seed``) for
    :func:`faster_at_every_small_width`."""
    ratios, run_only, values = {}, {}, []
    for w in widths:
        sub = [r for r in rows if r["width"] == w and r["threshold"] == threshold]
        sp = [r["speedup_total"] for r in sub]
        ok = bool(sub) and all(x is not None and x > 0 for x in sp)
        ratios[w] = claims.over_seeds(sp, log=True) if ok else None
        values += sp if ok else []
        run = [r["speedup_solve"] for r in sub]
        ok = bool(sub) and all(x is not None and x > 0 for x in run)
        run_only[w] = claims.over_seeds(run, log=True) if ok else None
    return SpeedupsByWidth(ratios, run_only, threshold, tuple(values))


FD_GOAL = 10.0
#: the solver study's goal: the fastest correct route at least this many times faster than BDF
ROUTE_GOAL = 10.0
#: a route is "correct" when its event time is within this relative distance of BDF's
EVENT_RTOL = 0.01
#: an explicit solver's step count "blows up" when it grows at least this fast with the horizon
BLOWUP_SLOPE = 0.5


@dataclass(frozen=True)
class RouteRatios:
    """Per threshold: the per-round ratios BDF time / the fastest correct *other* route's time.

    ``ratios[thr]``: :func:`claims.over_rounds` of those ratios (``None``: BDF did not reach
    ``thr``); ``fastest[thr]``: the route's name; ``bound[thr]``: ``True`` where no other route
    finished within its wall cap, so the ratio is an upper bound (BDF's time / the cap).
    """

    ratios: dict
    fastest: dict
    values: tuple[float, ...] = field(default=())
    bound: dict = field(default_factory=dict)


_R7 = (40.0, 45.0, 50.0, 55.0, 60.0, 65.0, 70.0)


def _route_example(ratios: dict) -> RouteRatios:
    rs = {t: (claims.over_rounds(v) if v else None) for t, v in ratios.items()}
    return RouteRatios(rs, dict.fromkeys(ratios, "RK45"))


@claims.rule(
    examples={
        "reproduced": _route_example({0.8: _R7, 0.9: [x / 2 for x in _R7]}),
        "partly": _route_example({0.8: _R7, 0.9: [x / 50 for x in _R7]}),
        "not reproduced": _route_example({0.8: [x / 50 for x in _R7], 0.9: [x / 20 for x in _R7]}),
        "inconclusive": _route_example({0.8: _R7, 0.9: [x / 5 for x in _R7]}),
        "not testable here": _route_example({0.8: None}),
    }
)
def route_speedup_at_every_threshold(m: RouteRatios) -> tuple[str, str]:
    """The fastest correct route other than BDF >= 10x faster than BDF at every threshold.

    Statistic: per threshold, the per-round ratio BDF time / that route's time over interleaved
    rounds (after an untimed warm-up call of every route), decided on the median's
    distribution-free 95 % interval from order statistics (:func:`claims.over_rounds`; the claim
    is about the typical solve time, and this interval narrows as rounds are added, unlike
    [min, max]); fewer than 6 rounds, or a route that exceeded its wall cap in its one probe
    round (the ratio is then only a one-run bound, BDF / cap), decide that threshold at most
    "inconclusive". "Every threshold" is a claim about every case, so one threshold whose whole
    interval lies below 10 refutes it: the verdict goes by the worst threshold.
    Thresholds: this book's goal for the solver study (issue 10: "Goal: >= 10x at the chapter's
    thresholds"); a route is correct when its event time lies within 1 % of BDF's. Reproduced:
    every threshold's interval >= 10; partly: some thresholds' intervals >= 10, another's wholly
    < 10; not reproduced: none >= 10 and at least one wholly < 10; inconclusive: no interval
    wholly < 10 and one straddles 10 (or is limited); not testable here (declared precondition):
    BDF reached no threshold.
    """
    got = {t: r for t, r in m.ratios.items() if r is not None}
    if not got:
        return "not testable here", "BDF reached none of the thresholds"
    sides = {t: claims.side(r, ROUTE_GOAL) for t, r in got.items()}
    bound = m.bound or {}

    def one(t, r):
        b = " (upper bound: no other route finished within its cap)" if bound.get(t) else ""
        return f"{t:.2f}: {m.fastest[t]} {r.text('.3g')}{b}"

    shown = "; ".join(one(t, r) for t, r in sorted(got.items()))
    where = f"BDF time / fastest correct other route at {shown}"
    meets = [t for t, v in sides.items() if v == "meets"]
    fails = [t for t, v in sides.items() if v == "fails"]
    if len(meets) == len(sides):
        return "reproduced", f">= {ROUTE_GOAL:g}x at every threshold; {where}"
    if fails and meets:
        return "partly", f">= {ROUTE_GOAL:g}x at some thresholds only; {where}"
    if fails:
        return "not reproduced", (
            f"< {ROUTE_GOAL:g}x at {len(fails)} of {len(sides)} thresholds and >= at none; {where}"
        )
    return "inconclusive", f"an interval straddles {ROUTE_GOAL:g} (or is limited); {where}"


@dataclass(frozen=True)
class StiffnessCounts:
    """Right-hand-side evaluations against the horizon (no event): BDF and an explicit method.

    ``explicit[i]`` is ``None`` where the explicit solve exceeded its wall cap.
    """

    horizons: tuple[float, ...]
    bdf: tuple[int, ...]
    explicit: tuple[int | None, ...]

    @property
    def values(self) -> tuple[float, ...]:
        return tuple(float(v) for v in self.bdf + self.explicit if v is not None)


def _slope(xs, ys) -> float:
    """Log-log slope between the last two points."""
    return float(np.log(ys[-1] / ys[-2]) / np.log(xs[-1] / xs[-2]))


@claims.rule(
    examples={
        "reproduced": StiffnessCounts((1e3, 1e4), (100, 120), (1000, 10_000)),
        "partly": StiffnessCounts((1e3, 1e4), (100, 900), (1000, 10_000)),
        "not reproduced": StiffnessCounts((1e3, 1e4), (2000, 20_000), (1000, 10_000)),
        "not testable here": StiffnessCounts((1e3, 1e4), (100, 110), (50, 60)),
        "inconclusive": StiffnessCounts((1e3, 1e4), (100, 900), (1000, None)),
    }
)
def bdf_handles_stiffness(m: StiffnessCounts) -> tuple[str, str]:
    """Where the explicit solver's work blows up with the horizon, BDF's does not.

    Statistic: none needed: right-hand-side evaluation counts of one solve per horizon are
    deterministic (the same problem and tolerances give the same steps), so the counts are
    compared exactly; only the wall cap (an explicit solve "exceeded") involves a clock.
    From the paper's words "BDF ... handles the possible stiffness". An explicit method's
    right-hand-side evaluations "blow up" when they grow with the horizon at a log-log slope >=
    0.5 over the last two horizons (or it exceeds its wall cap). Not testable here: no blow-up
    up to the longest horizon (no stiffness to handle). Reproduced: blow-up, and BDF needs fewer
    evaluations at the longest horizon with a slope < 0.5; partly: fewer evaluations but BDF's own
    slope >= 0.5; not reproduced: BDF needs at least as many; inconclusive: the explicit solve
    exceeded its cap and BDF's own slope >= 0.5 (no count to compare).
    """
    h, b, e = m.horizons, m.bdf, m.explicit
    b_slope = _slope(h, b)
    shown = ", ".join(
        f"t={t:g}: BDF {x}, explicit {'> cap' if y is None else y}" for t, x, y in zip(h, b, e)
    )
    capped = e[-1] is None
    if not capped and _slope(h, e) < BLOWUP_SLOPE:
        return "not testable here", (
            f"the explicit solver's work does not blow up up to t={h[-1]:g} (slope "
            f"{_slope(h, e):.2f}); {shown}"
        )
    if capped:
        if b_slope < BLOWUP_SLOPE:
            return "reproduced", f"explicit exceeded its cap, BDF slope {b_slope:.2f}; {shown}"
        return "inconclusive", f"explicit exceeded its cap, BDF slope {b_slope:.2f}; {shown}"
    if b[-1] >= e[-1]:
        return "not reproduced", f"BDF needs as many evaluations as the explicit solver; {shown}"
    if b_slope < BLOWUP_SLOPE:
        return "reproduced", (
            f"explicit slope {_slope(h, e):.2f}, BDF slope {b_slope:.2f}; {shown}"
        )
    return "partly", f"BDF needs fewer evaluations but grows too (slope {b_slope:.2f}); {shown}"


# ---------------------------------------------------------------------------
# declared claims


def _speedup_spec(name: str, table: str) -> ClaimSpec:
    paper = [v[2] for v in PAPER_TABLES[name].values()]
    return ClaimSpec(
        id=f"speedup-{name}",
        kind="paper",
        claim=f"BDF on the linear model reaches training accuracy 0.80-0.95 on {name} faster than "
        f"GD ({table})",
        where=table,
        paper_value=f"{min(paper):.2f}-{max(paper):.2f}",
        unit="x (GD total / ODE total)",
        rule=ode_faster_at_every_threshold,
        paper_words="BDF solver applies adaptive stepping, which outperforms the iterative "
        "propagation in terms of efficiency (e.g., over 2 times speedup to reach 90% training "
        f"accuracy in experiment); {table}: speed-ups " + ", ".join(f"{v:.2f}" for v in paper),
    )


#: the declared precondition of ``speedup-best-lr-*``
NO_STABLE_RATE = "no rate of the grid is stable and reaches the threshold on every seed"
#: the declared precondition of ``magic-095-reachable``
ALL_DIVERGED = "GD diverged at every width and learning rate of the grid on the selection seed"


def _best_lr_spec(name: str) -> ClaimSpec:
    return ClaimSpec(
        id=f"speedup-best-lr-{name}",
        kind="book-goal",
        claim=f"the speed-up holds at the fastest learning rate stable on every seed ({name})",
        where="book goal",
        paper_value="> 1 (implied)",
        unit="x (GD run / ODE solve)",
        rule=claims.threshold(
            1.0,
            higher=True,
            name="faster-at-best-lr",
            source="the paper's 'better training efficiency' read at the learning rate a "
            "practitioner would choose (the paper gives no learning rate): speed-up > 1. "
            "Statistic: per seed GD's run (compilation excluded) / the BDF solve, one cold run "
            "of each with no separate warm-up (the published ratios lie two to three orders of "
            "magnitude below the bar); over seeds the geometric "
            "mean with the 95 % t-interval of the mean log (a typical factor; a ratio is "
            "strictly positive, so its interval is taken on the log scale); one seed decides at "
            "most inconclusive",
            untestable=NO_STABLE_RATE,
        ),
    )


def _acc_spec(name: str) -> ClaimSpec:
    return ClaimSpec(
        id=f"test-accuracy-{name}",
        kind="paper",
        claim=f"test accuracy with the solver's parameters is comparably high, both about 93 % "
        f"({name})",
        where="Sec. 2 (Experiment Evaluation, text after Tables 1-2)",
        paper_value=PAPER_TEST_ACCURACY,
        unit="test accuracy",
        rule=comparably_high_about_93,
        paper_words="applying the weights and biases obtained from solver to test data set, the "
        "accuracy is often comparably high (i.e., both around 93% using the parameters from "
        "traditional training and IVP solving, given appropriate hidden unit numbers)",
    )


def _route_spec(name: str) -> ClaimSpec:
    return ClaimSpec(
        id=f"solver-route-{name}",
        kind="book-goal",
        claim=f"(this book's goal) a faster ODE route than the paper's BDF: the fastest route "
        f"that finds the same event time is >= 10x faster at every threshold ({name})",
        where="book goal (issue 10)",
        paper_value=None,
        unit="x (BDF solve / fastest correct route's solve)",
        rule=route_speedup_at_every_threshold,
    )


#: the declared precondition of ``adaptive-stepping-*``
NOT_BOTH_090 = "GD and the ODE did not both reach 0.80 and 0.90 training accuracy in every seed"
#: the thresholds between which the paper's ODE time is nearly flat while GD's grows
GROWTH_FROM, GROWTH_TO = 0.80, 0.90


def _adaptive_spec(name: str, table: str) -> ClaimSpec:
    tab = PAPER_TABLES[name]
    gd = tab[GROWTH_TO][0] / tab[GROWTH_FROM][0]
    ode = tab[GROWTH_TO][1] / tab[GROWTH_FROM][1]
    return ClaimSpec(
        id=f"adaptive-stepping-{name}",
        kind="paper",
        claim=f"from training accuracy 0.80 to 0.90 the BDF solve's time grows less than GD's run "
        f"time ({name}): GD's growth / the ODE's growth > 1",
        where=f"Sec. 2 (Experiment Evaluation, text after Tables 1-2) and {table}",
        paper_value=round(gd / ode, 2),
        unit="x (GD growth / ODE growth, 0.80 -> 0.90)",
        rule=claims.threshold(
            1.0,
            higher=True,
            name="ode-grows-less",
            source=f"the paper's {table}: GD {tab[GROWTH_FROM][0]:g} s -> {tab[GROWTH_TO][0]:g} s "
            f"(x{gd:.2f}), ODE {tab[GROWTH_FROM][1]:g} s -> {tab[GROWTH_TO][1]:g} s (x{ode:.2f}), "
            "read with the sentence on adaptive stepping: the ODE's cost grows less with the "
            "target than GD's. Measured per seed in one run of each: (GD run to 0.90 / GD run to "
            "0.80) / (BDF solve to 0.90 / BDF solve to 0.80), compilation and set-up left out "
            "(they do not depend on the target). Statistic: the geometric mean over seeds with "
            "the 95 % t-interval of the mean log (a typical factor of a strictly positive ratio); "
            "one seed decides at most inconclusive",
            untestable=NOT_BOTH_090,
        ),
        paper_words="Unlike epochs which strictly stick to the iterative manner, BDF solver "
        "applies adaptive stepping, which outperforms the iterative propagation in terms of "
        f"efficiency; {table}: GD {tab[GROWTH_FROM][0]:g} / {tab[GROWTH_TO][0]:g} s, ODE "
        f"{tab[GROWTH_FROM][1]:g} / {tab[GROWTH_TO][1]:g} s at 0.80 / 0.90",
    )


def growth_ratios(rows, data: str, lo: float = GROWTH_FROM, hi: float = GROWTH_TO):
    """Per seed of ``data``: GD's run-time growth from ``lo`` to ``hi`` training accuracy, the BDF
    solve's growth, and their ratio (``adaptive-stepping-*``); ``None`` unless both methods
    reached both thresholds in every seed. Both times of a method come from the same run (the
    solve's events and GD's chunks), so the growth needs no second run."""
    by_seed = {}
    for r in rows:
        if r["data"] == data and r["threshold"] in (lo, hi):
            by_seed.setdefault(r["seed"], {})[r["threshold"]] = r
    out = []
    for s, rr in sorted(by_seed.items()):
        a, b = rr.get(lo), rr.get(hi)
        vals = (a and a["gd_time"], b and b["gd_time"], a and a["ode_solve"], b and b["ode_solve"])
        if a is None or b is None or any(v is None or not v > 0 for v in vals):
            return None
        g, o = vals[1] / vals[0], vals[3] / vals[2]
        out.append({"seed": s, "gd_growth": g, "ode_growth": o, "ratio": g / o})
    return out or None


CLAIMS = claims.declare(
    _speedup_spec("banknote", "Table 1"),
    _speedup_spec("magic", "Table 2"),
    _best_lr_spec("banknote"),
    _best_lr_spec("magic"),
    _acc_spec("banknote"),
    _acc_spec("magic"),
    ClaimSpec(
        id="fd-jacobian",
        kind="book-goal",
        claim="(this book's goal) the analytic Jacobian makes BDF at least 10x faster than "
        "finite differences",
        where="book goal",
        paper_value=None,
        unit="x (solve time)",
        rule=claims.threshold(
            FD_GOAL,
            higher=True,
            name="fd-10x",
            source="this book's goal, not the paper's; ill-posed here, since BDF evaluates "
            "the Jacobian once per solve (njev = 1), so its cost is a small share of the solve. "
            "Statistic: per-round ratio FD / analytic solve time over interleaved rounds after "
            "an untimed warm-up solve of each, decided on the median's distribution-free 95 % "
            "interval (order statistics; a typical solve time; fewer than 6 rounds decide at "
            "most inconclusive)",
        ),
    ),
    ClaimSpec(
        id="bdf-handles-stiffness",
        kind="paper",
        claim="BDF handles the flow's stiffness: where an explicit solver's work blows up with "
        "the horizon, BDF's does not (cross-entropy flow, Banknote subsample)",
        where="Sec. 2 (Experiment Evaluation, experiment set-up)",
        paper_value="handles the possible stiffness",
        unit="right-hand-side evaluations",
        rule=bdf_handles_stiffness,
        paper_words="we choose the Backward Differentiation Formula (BDF) (Byrne & Hindmarsh, "
        "1975) solver provided by Scipy since it scales well and handles the possible stiffness",
    ),
    _route_spec("banknote"),
    _route_spec("magic"),
    ClaimSpec(
        id="speedup-small-widths",
        kind="paper",
        claim="with a small number of hidden units (widths 16 and 64) the ODE route also reaches "
        "0.90 training accuracy on Banknote faster than GD, end to end",
        where="Abstract",
        paper_value="could also benefit",
        unit="x (GD total / ODE total)",
        rule=faster_at_every_small_width,
        paper_words="our proof-of-concept evaluation indicates that NN training with small data "
        "set size and number of hidden units could also benefit from linear models. Compared to "
        "traditional propagation with gradient descent, we obtain better training efficiency by "
        "solving initial value problems (IVPs) derived from linear models",
    ),
    _adaptive_spec("banknote", "Table 1"),
    _adaptive_spec("magic", "Table 2"),
    ClaimSpec(
        id="magic-095-reachable",
        kind="paper",
        claim="gradient descent on this two-layer architecture reaches 0.95 training accuracy on "
        "MAGIC (Table 2's last row) at some width 64-1024 and learning rate, within the budget",
        where="Table 2",
        paper_value=0.95,
        unit="highest training accuracy reached",
        rule=claims.threshold(
            0.95,
            higher=True,
            partly=0.90,
            name="reaches-095",
            source="Table 2 lists times to 0.90 and 0.95 training accuracy on MAGIC; partly: "
            "0.90 reached but not 0.95. Measured: the highest training accuracy within the "
            "Tables' GD budget of the (width, learning rate) chosen on the first seed. "
            "Statistic: the mean over seeds with its 95 % t-interval (linear scale: an accuracy "
            "is bounded and far from 0): Table 2 reports one typical run of a configuration, "
            "so the claim is about the typical seed of the chosen configuration, not every "
            "seed; the whole interval must clear the bar; an interval straddling 0.95 or 0.90 "
            "is inconclusive; one seed decides at most inconclusive. Budget: the Tables' GD "
            "budget (3 000 steps at book scale), comparable to the paper's relative to the time "
            "to 0.80: Table 2's GD reached 0.95 in 201.45 / 118.50 = 1.70x its time to 0.80 (one "
            "run, constant cost per full-batch step), while at book scale the budget is over 10x "
            "the steps "
            "the Tables' GD needs to 0.80 (the chapter shows the multiple it measured); an "
            "absolute match, 201 s of GD run (about 160 000 steps at width 64 on the book's "
            "machine), would cost about 10 minutes over 3 seeds, beyond the chapter's budget",
            untestable=ALL_DIVERGED,
        ),
        paper_words="Table 2: requisite training time for reaching specific accuracy threshold "
        "(0.80, 0.85, 0.90, 0.95) on MAGIC: GD 201.45 s, ODE 90.97 s at 0.95",
    ),
)

#: the smoke run's regression reference (fasttrain.core.reference): claims decided on timings or on
#: float32 training trajectories are free there (presence and type only); the rest is bounded by
#: the spread measured under capped instruction sets (tests/reference/01-linear-ivp.json)
REGRESSION = reference.Declared(
    timing=(
        "speedup-banknote",
        "speedup-magic",
        "speedup-best-lr-*",
        "fd-jacobian",
        "solver-route-*",
        "speedup-small-widths",
        "adaptive-stepping-*",
    ),
    trajectory=("magic-095-reachable",),
    extra=("protocol/*",),
    why={
        "speedup-banknote": "ratio of timed GD and ODE runs",
        "speedup-magic": "ratio of timed GD and ODE runs",
        "speedup-best-lr-*": "ratio of timed GD and ODE runs",
        "fd-jacobian": "interleaved timing rounds",
        "solver-route-*": "interleaved timing rounds",
        "speedup-small-widths": "ratio of timed GD and ODE runs",
        "adaptive-stepping-*": "ratio of growths of timed GD and ODE runs",
        "magic-095-reachable": "best training accuracy of float32 GD over a grid: moved by 0.7 % "
        "with XLA capped at SSE4.2",
    },
)


LOADERS = {"banknote": data_mod.load_banknote, "magic": data_mod.load_magic}


def load(name: str, seed: int, n_train=None, test_fraction: float = 0.2):
    if name not in LOADERS:
        raise ValueError(f"unknown data set {name!r}: choose one of {sorted(LOADERS)}")
    return LOADERS[name](seed=seed, test_fraction=test_fraction, n_train=n_train)


@dataclass(frozen=True)
class Setup:
    """A network at initialisation and its linearisation on one training set."""

    ds: object
    width: int
    activation: str
    params0: object
    J: np.ndarray
    f0: np.ndarray
    jacobian_time: float  # J0 incl. compilation
    ntk_time: float  # Theta0 = J0 J0^T (0 when parameter space is used)
    theta: np.ndarray | None
    J_test: np.ndarray
    f0_test: np.ndarray

    @property
    def apply(self):
        return partial(L.two_layer, activation=self.activation)

    def problem(self, lr: float, loss: str = "ce") -> L.FlowProblem:
        return L.FlowProblem(self.J, self.f0, self.ds.y_train, lr, loss, self.theta)

    @property
    def space(self) -> str:
        return "function" if self.theta is not None else "parameter"


def make_setup(ds, width: int, activation: str, seed: int, space: str = "auto") -> Setup:
    params0 = L.init_two_layer(jax.random.PRNGKey(seed), ds.x_train.shape[1], width, ds.n_classes)
    apply = partial(L.two_layer, activation=activation)
    t0 = time.perf_counter()
    J = L.jacobian(apply, params0, ds.x_train)
    t_jac = time.perf_counter() - t0
    f0 = np.asarray(apply(params0, ds.x_train), dtype=np.float64)
    n, k = f0.shape
    if space == "auto":
        space = "function" if n * k <= J.shape[1] else "parameter"
    theta, t_ntk = None, 0.0
    if space == "function":
        t0 = time.perf_counter()
        theta = L.empirical_ntk(J)
        t_ntk = time.perf_counter() - t0
    J_test = L.jacobian(apply, params0, ds.x_test)  # for the linear model's test accuracy (untimed)
    f0_test = np.asarray(apply(params0, ds.x_test), dtype=np.float64)
    return Setup(ds, width, activation, params0, J, f0, t_jac, t_ntk, theta, J_test, f0_test)


def _net_test_acc(setup: Setup, dtheta: np.ndarray) -> float:
    flat0, unravel = ravel_pytree(setup.params0)
    params = unravel(flat0 + np.asarray(dtheta, dtype=flat0.dtype))
    logits = np.asarray(setup.apply(params, setup.ds.x_test))
    return L.accuracy_np(logits, setup.ds.y_test)


def _lin_test_acc(setup: Setup, dtheta: np.ndarray) -> float:
    f0t = setup.f0_test
    f = f0t + (setup.J_test.astype(np.float64) @ dtheta).reshape(f0t.shape)
    return L.accuracy_np(f, setup.ds.y_test)


def _gd_test_acc(setup: Setup, params) -> float:
    return L.accuracy_np(np.asarray(setup.apply(params, setup.ds.x_test)), setup.ds.y_test)


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
    # test accuracies at the highest threshold both methods reached (untimed)
    both = [o for o in odes if o.reached and gd.steps_to[o.threshold] is not None]
    if both:
        last = both[-1]
        row = next(r for r in rows if r["threshold"] == last.threshold)
        row["ode_net_test_acc"] = _net_test_acc(setup, last.dtheta)
        row["ode_lin_test_acc"] = _lin_test_acc(setup, last.dtheta)
        (gd_params,) = _gd_checkpoints(setup, lr, [gd.steps_to[last.threshold]])
        row["gd_test_acc"] = _gd_test_acc(setup, gd_params)
    return rows, gd


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


def speedups_by_threshold(rows, data: str, thresholds) -> SpeedupsByThreshold:
    """Collect the per-seed speed-ups of ``data`` for the claim's rule: end to end (GD total /
    ODE total, decided on) and run only (GD run / BDF solve, shown), each on the log scale."""
    ratios, reached, run_only = {}, {}, {}
    paper = {t: PAPER_TABLES[data][t][2] for t in thresholds}
    values = []
    for t in thresholds:
        sub = [r for r in rows if r["data"] == data and r["threshold"] == t]
        n = len(sub)
        g = sum(r["gd_steps"] is not None for r in sub)
        o = sum(r["ode_t"] is not None for r in sub)
        reached[t] = (g, o, n)
        sp = [r["speedup_total"] for r in sub]
        run = [r.get("speedup_solve") for r in sub]
        if n and all(x is not None for x in sp):
            ratios[t] = claims.over_seeds(sp, log=True)
            values += sp
        else:
            ratios[t] = None
        ok = n and all(x is not None and x > 0 for x in run)
        run_only[t] = claims.over_seeds(run, log=True) if ok else None
    return SpeedupsByThreshold(ratios, reached, paper, tuple(values), run_only)


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


def _ratio(a, b):
    if a is None or b is None or b <= 0:
        return None
    return a / b


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
    the network trained by GD for the same number of steps.
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
                    "rel_param_change": float(
                        np.linalg.norm(dtheta) / np.linalg.norm(ravel_pytree(setup.params0)[0])
                    ),
                }
            )
    return rows


def _gd_checkpoints(setup: Setup, lr: float, checkpoints):
    """Full-batch GD parameters after each number of steps in ``checkpoints`` (sorted)."""
    opt = optax.sgd(lr)
    x, y = setup.ds.x_train, setup.ds.y_train

    @jax.jit
    def step(p, s):
        g = jax.grad(
            lambda p: optax.softmax_cross_entropy_with_integer_labels(setup.apply(p, x), y).mean()
        )(p)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s

    p, s, done, out = setup.params0, opt.init(setup.params0), 0, []
    for c in checkpoints:
        while done < c:
            p, s = step(p, s)
            done += 1
        out.append(p)
    return out


# ---------------------------------------------------------------------------
# the solver study (issue 10): other routes to the same event time


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
            ratio_rows.append(
                head
                | {
                    "fastest": " or ".join(capped) or "none",
                    "ratios": [probe["BDF"] / cap_s] if capped else [],
                    "rounds": 1,
                    "bound": True,
                }
            )
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


def route_ratios(ratio_rows, data: str, loss: str = "ce") -> RouteRatios:
    """The solver study's ratios of ``data`` for :func:`route_speedup_at_every_threshold`."""
    ratios, fastest, values, bound = {}, {}, [], {}
    for r in ratio_rows:
        if r["data"] != data or r["loss"] != loss:
            continue
        if r.get("ratios"):
            ratios[r["threshold"]] = claims.over_rounds(r["ratios"])
            fastest[r["threshold"]] = r["fastest"]
            bound[r["threshold"]] = bool(r.get("bound", False))
            values += r["ratios"]
        else:
            ratios[r["threshold"]] = None
    return RouteRatios(ratios, fastest, tuple(values), bound)


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


def stiffness_counts(rows, loss: str = "ce") -> StiffnessCounts:
    sub = [r for r in rows if r["loss"] == loss]
    return StiffnessCounts(
        tuple(r["horizon"] for r in sub),
        tuple(int(r["bdf_nfev"]) for r in sub),
        tuple(r["rk45_nfev"] for r in sub),
    )


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


# ---------------------------------------------------------------------------
# learning rates: stable on every seed, ties, raw features; can GD reach 0.95 on MAGIC?


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


def load_banknote_unstandardised(seed: int, test_fraction: float = 0.2):
    """Banknote with the same split as :func:`load` but the raw features (not standardised)."""
    path = data_mod.verified_path("data_banknote_authentication.txt")
    with open(path, encoding="utf-8") as fh:
        header = any(ch.isalpha() for ch in fh.readline())
    raw = np.loadtxt(path, delimiter=",", skiprows=int(header))
    x, y = raw[:, :4], raw[:, 4].astype(int)
    tr, te = data_mod.stratified_split(y, test_fraction, seed)
    ref = load("banknote", seed, None, test_fraction)
    return data_mod.Dataset(
        "banknote (raw features)",
        x[tr].astype(np.float32),
        y[tr].astype(np.int32),
        x[te].astype(np.float32),
        y[te].astype(np.int32),
        ref.classes,
    )


def gd_reach(
    ds, grid, activation: str, seed: int, max_steps: int, chunk: int = 100, width_ref: int = 64
):
    """Highest training accuracy GD reaches within ``max_steps``, per (width, multiplier c).

    ``grid``: ``((width, (c, ...)), ...)``; the learning rate is ``c * width_ref / width``: in the
    standard parameterisation the NTK, and with it GD's stability limit, grows about linearly with
    the width. A run stops at divergence or on reaching 0.95. Each row also holds the highest
    accuracy up to 1/3 and 2/3 of the budget (is it still rising at the end?).
    """
    rows = []
    marks = (max_steps // 3, 2 * max_steps // 3)
    for w, cs in grid:
        params0 = L.init_two_layer(jax.random.PRNGKey(seed), ds.x_train.shape[1], w, 2)
        apply = partial(L.two_layer, activation=activation)
        for c in cs:
            lr = c * width_ref / w
            row = {"seed": seed, "width": w, "c": c, "lr": lr}
            try:
                with timing.pinned_blas():
                    gd = full_batch_gd(
                        apply,
                        params0,
                        ds.x_train,
                        ds.y_train,
                        lr,
                        max_steps,
                        (0.90, 0.95),
                        chunk=min(chunk, max_steps),
                        diverge_factor=10.0,
                    )
                acc = gd.train_accuracy
                row.update(
                    stable=True,
                    best_acc=float(acc.max()),
                    steps=gd.steps,
                    steps_090=gd.steps_to[0.90],
                    steps_095=gd.steps_to[0.95],
                    best_at_third=float(acc[: marks[0]].max()),
                    best_at_two_thirds=float(acc[: marks[1]].max()),
                    last_chunk_mean=float(acc[-min(chunk, len(acc)) :].mean()),
                    run_s=gd.run_time,
                )
            except DivergenceError:
                row.update(stable=False, best_acc=None, steps=None, steps_090=None, steps_095=None)
            rows.append(row)
    return rows


def pick_reach_config(rows) -> tuple[int, float] | None:
    """The declared selection of ``magic-095-reachable``: the stable (width, c) with the highest
    training accuracy on the selection seed; ties go to the smaller width, then the smaller c.
    ``None`` if every configuration diverged."""
    ok = [r for r in rows if r["stable"]]
    if not ok:
        return None
    top = min(ok, key=lambda r: (-r["best_acc"], r["width"], r["c"]))
    return top["width"], top["c"]


def magic_reach_study(load_seed, grid, activation: str, seeds, max_steps: int, chunk: int = 100):
    """Can GD reach 0.95 on MAGIC? The whole ``grid`` on ``seeds[0]`` (selection), then the
    configuration :func:`pick_reach_config` chose on each further seed (each seed its own split,
    ``load_seed(seed)``, and its own initial network). Returns ``(rows, chosen)``.
    """
    first = gd_reach(load_seed(seeds[0]), grid, activation, seeds[0], max_steps, chunk)
    rows = [dict(r, stage="selection") for r in first]
    chosen = pick_reach_config(first)
    if chosen is None:
        return rows, None
    w, c = chosen
    for s in seeds[1:]:
        more = gd_reach(load_seed(s), ((w, (c,)),), activation, s, max_steps, chunk)
        rows += [dict(r, stage="chosen") for r in more]
    return rows, chosen


def reach_values(rows, chosen) -> list[float | None]:
    """Highest training accuracy of the chosen configuration on every seed (``None``: diverged)."""
    w, c = chosen
    return [r["best_acc"] for r in rows if r["width"] == w and r["c"] == c]


# ---------------------------------------------------------------------------
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


#: the published results of the previous edition (the repository's ``book/results``)
PUBLISHED = Path(__file__).resolve().parents[3] / "book" / "results"


def moved_verdicts(recorded, previous: dict | None) -> str:
    """Markdown: each recorded claim whose verdict differs from the ``previous`` edition's results
    (a loaded results file, or ``None`` when there is none), "old → new", and the claims new in
    this edition; "none" when nothing moved."""
    if previous is None:
        return "no previous results file to compare with."
    old = {c["id"]: c["verdict"] for c in previous.get("claims", [])}
    moved, new = [], []
    for c in recorded:
        if c.id not in old:
            new.append(f"`{c.id}` (new claim: *{c.verdict}*)")
        elif old[c.id] != c.verdict:
            moved.append(f"`{c.id}`: *{old[c.id]}* → *{c.verdict}*")
    gone = [f"`{k}` (no longer declared)" for k in old if k not in {c.id for c in recorded}]
    parts = moved + new + gone
    return ("; ".join(parts) + ".") if parts else "none."


def relative_budget(rows, data: str, steps: int, threshold: float = 0.80) -> float | None:
    """``steps`` over the mean number of GD steps the Tables' runs of ``data`` needed to reach
    ``threshold`` (``None`` unless reached in every seed): the reachability study's budget relative
    to the time to 0.80, to set beside the paper's :data:`PAPER_GD_095_OVER_080`."""
    got = [r["gd_steps"] for r in rows if r["data"] == data and r["threshold"] == threshold]
    if not got or any(g is None or g < 1 for g in got):
        return None
    return steps / float(np.mean(got))
