"""Chapter 01: the rules that decide the claims, each with its statistic and the goals it compares with."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...core import claims
from ...core.claims import Measurement
from .paper import AROUND_93, COMPARABLE_GAP, PAPER_TEST_ACCURACY


class SpeedupsByThreshold(claims.Measurements):
    """Per-seed speed-ups (GD total / ODE total) at each threshold, and who reached it: a typed view
    of :class:`fasttrain.core.claims.Measurements` with one case per threshold.

    The cases (``ratios[thr]``): :func:`claims.over_seeds` (log scale) of the end-to-end speed-ups
    over the seeds in which both methods reached ``thr`` (``None`` if they did not both reach it in
    every seed).  Context: ``run_only[thr]``, the same for GD's run alone / the BDF solve alone
    (compilation and set-up left out; shown beside the verdict, not decided on); ``reached[thr] =
    (by GD, by the ODE, seeds)`` in counts of seeds; ``paper[thr]``: the paper's speed-up.
    ``values`` (what the results file stores) is every seed's speed-up at every threshold compared,
    not the centres, as it has been since the claim was declared.
    """

    def __init__(self, ratios: dict, reached: dict, paper: dict, run_only: dict | None = None):
        super().__init__(
            ratios, reached=dict(reached), paper=dict(paper), run_only=dict(run_only or {})
        )

    @property
    def ratios(self) -> dict:
        return dict(self)

    @property
    def values(self) -> tuple[float, ...]:  # type: ignore[override]
        return self.all_values  # per threshold, its seeds


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

# The three "at every threshold / width" rules below (ode_faster_at_every_threshold,
# faster_at_every_small_width, route_speedup_at_every_threshold) are not claims.tally or
# claims.per_case (issue 24 item 3): they let a case whose whole interval fails decide "not
# reproduced" beside an open case, and call a faster case beside one not reached by both "partly";
# tally, strict or not, says "inconclusive" for both, so adopting it could move a real verdict.
# comparably_high_about_93 (a gap and a level band) and bdf_handles_stiffness (exact counts) have
# no combinator's shape.


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


#: the declared precondition of ``test-accuracy-magic`` (issue 23 a): no width was selected. The
#: previous precondition (the selection did not fit the book's budget) was dropped: the budget
#: estimate proved pessimistic, and the selection now runs (.width_selection)
NO_WIDTH_SELECTION = (
    "no width was selected on a validation split of MAGIC's training data: the scale runs no "
    "MAGIC, or no width of the declared grid reached a training-accuracy threshold on the "
    "selection-train part"
)

#: ``test-accuracy-magic``'s rule: :func:`comparably_high_about_93` at the width selected on
#: validation ("given appropriate hidden unit numbers"), with the precondition above
comparably_high_at_selected_width = claims.Rule(
    "comparably-high-at-selected-width",
    comparably_high_about_93.fn,
    {
        **comparably_high_about_93.examples,
        "not testable here": claims.Unavailable(NO_WIDTH_SELECTION),
    },
    comparably_high_about_93.doc
    + "\n\nAt the width selected on a validation split of the training data (the paper's 'given "
    "appropriate hidden unit numbers'; the test set never selects). Selection (declared before "
    "measuring, .width_selection): on the first MAGIC seed, a stratified 80/20 split of MAGIC's "
    "training split into a selection-train and a validation part; for each width of the "
    "declared grid (book: 32, 64, 128) the Tables' ODE part (one BDF solve to the Tables' "
    "thresholds, learning rate and tolerances) on the selection-train part, scored by the "
    "solver network's validation accuracy at the highest threshold reached; the best score "
    "wins, ties to the smaller width; a width that failed or reached no threshold is kept as a "
    "row and never chosen. Then the gap and the level over the Tables' MAGIC seeds at the "
    "chosen width (the Tables' own rows when it is the Tables' width, else the Tables' protocol "
    "re-run at that width), with the statistic and bars above. Not testable here (declared "
    "precondition): " + NO_WIDTH_SELECTION + "; or " + NO_COMMON_THRESHOLD + ".",
    "as comparably-high-about-93, at the width selected on validation",
)


class SpeedupsByWidth(claims.Measurements):
    """Per width: :func:`claims.over_seeds` (log scale) of the per-seed end-to-end speed-ups
    (``None``: not reached by both methods in every seed), at one training-accuracy threshold: a
    typed view of :class:`fasttrain.core.claims.Measurements` with one case per width.  Context:
    ``run_only[w]``, the same for the run-only speed-ups (shown, not decided on), and
    ``threshold``.  ``values`` (what the results file stores) is every seed's speed-up at every
    width compared, not the centres."""

    def __init__(self, ratios: dict, run_only: dict, threshold: float):
        super().__init__(ratios, run_only=dict(run_only or {}), threshold=threshold)

    @property
    def ratios(self) -> dict:
        return dict(self)

    @property
    def values(self) -> tuple[float, ...]:  # type: ignore[override]
        return self.all_values  # per width, its seeds


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


FD_GOAL = 10.0
#: the solver study's goal: the fastest correct route at least this many times faster than BDF
ROUTE_GOAL = 10.0
#: a route is "correct" when its event time is within this relative distance of BDF's
EVENT_RTOL = 0.01
#: an explicit solver's step count "blows up" when it grows at least this fast with the horizon
BLOWUP_SLOPE = 0.5


class RouteRatios(claims.Measurements):
    """Per threshold: the per-round ratios BDF time / the fastest correct *other* route's time: a
    typed view of :class:`fasttrain.core.claims.Measurements` with one case per threshold.

    The cases (``ratios[thr]``): :func:`claims.over_rounds` of those ratios (``None``: BDF did not
    reach ``thr``).  Context: ``fastest[thr]``, the route's name; ``bound[thr]``: ``True`` where no
    other route finished within its wall cap, so the ratio is an upper bound (BDF's time / the
    cap).  ``values`` (what the results file stores) is every round's ratio at every threshold
    measured, not the centres.
    """

    def __init__(self, ratios: dict, fastest: dict, bound: dict | None = None):
        super().__init__(ratios, fastest=dict(fastest), bound=dict(bound or {}))

    @property
    def ratios(self) -> dict:
        return dict(self)

    @property
    def values(self) -> tuple[float, ...]:  # type: ignore[override]
        return self.all_values  # per threshold, its rounds


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
