"""Chapter 01: the declared claims (``CLAIMS``) and the smoke run's regression reference (``REGRESSION``)."""

from __future__ import annotations

from ...core import claims, reference
from ...core.claims import ClaimSpec
from .paper import PAPER_TABLES, PAPER_TEST_ACCURACY
from .rules import (
    EVENT_RTOL,
    FD_GOAL,
    bdf_handles_stiffness,
    comparably_high_about_93,
    comparably_high_at_selected_width,
    faster_at_every_small_width,
    ode_faster_at_every_threshold,
    route_speedup_at_every_threshold,
)


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


def _acc_spec(name: str, selected: bool = False, tables_width: bool = False) -> ClaimSpec:
    return ClaimSpec(
        id=f"test-accuracy-{name}" + ("-tables-width" if tables_width else ""),
        kind="analysis" if tables_width else "paper",
        claim=f"test accuracy with the solver's parameters is comparably high, both about 93 % "
        f"({name})"
        + (", at the width selected on a validation split" if selected else "")
        + (
            ", at the Tables' width (not selected: an analysis of the Tables' runs)"
            if tables_width
            else ""
        ),
        where="Sec. 2 (Experiment Evaluation, text after Tables 1-2)",
        paper_value=PAPER_TEST_ACCURACY,
        unit="test accuracy",
        rule=comparably_high_at_selected_width if selected else comparably_high_about_93,
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


#: the memory of the paper's Tables (their captions), in bytes (10^9: the stricter reading of "1GB")
MEMORY_BAR = 1e9


def _memory_spec() -> ClaimSpec:
    return ClaimSpec(
        id="memory-1gb",
        kind="paper",
        claim="one BDF solve of the Tables' flow fits in the Tables' 1 GB of memory (peak of the "
        "arrays it holds and allocates, on the book's largest Tables problem)",
        where="Tables 1 and 2 (captions)",
        paper_value="1 GB",
        unit="GB (10^9 bytes, peak)",
        rule=claims.threshold(
            MEMORY_BAR / 1e9,
            higher=False,
            name="fits-1gb",
            source="the captions of Tables 1 and 2: the times were measured 'using 1 Intel Xeon "
            "Gold 6140 CPU and 1GB memory', so the solve must fit in 1 GB. Measured on the book's "
            "largest Tables problem (the paper states neither its widths nor its split, so its "
            "own sizes are not run; book scale: MAGIC's whole training split at width 64): the "
            "arrays the solve is handed and holds (J0, f0, labels, Theta0 in function space) plus "
            "the tracemalloc peak of what NumPy/SciPy allocate while the problem is built and "
            "solved to the highest threshold BDF reached; 1 GB read as 10^9 bytes (the stricter "
            "reading). Statistic: one exact value, since the arrays and the solver's steps are "
            "deterministic for a given problem (no interval); the analytic size of the solve's "
            "largest arrays is shown beside it as a check, and the process's peak resident size "
            "(JAX's runtime included) is shown, not decided on",
        ),
        paper_words="Table 1. Training time taken to reach certain accuracy threshold on (UCI, "
        "2013) using 1 Intel Xeon Gold 6140 CPU and 1GB memory. (Table 2: the same on (UCI, 2007))",
    )


#: the declared precondition of ``eq1-equals-eq2``
NEITHER_REACHED = "neither formulation reached any training-accuracy threshold on the problem"


def _equations_spec() -> ClaimSpec:
    return ClaimSpec(
        id="eq1-equals-eq2",
        kind="paper",
        claim="eq. 1 (parameter space) and eq. 2 (function space) describe the same linearised "
        "gradient-descent dynamics: solved alike, they reach every training-accuracy threshold "
        "at the same flow time (within 1 %)",
        where="Sec. 1 (Introduction), eqs. 1 and 2",
        paper_value="the same dynamics",
        unit="worst relative difference of the event times",
        rule=claims.threshold(
            EVENT_RTOL,
            higher=False,
            name="same-event-time",
            source="the paper gives eq. 1 and eq. 2 as two forms of 'the gradient descent "
            "learning dynamics' of the linear model and proposes to 'solve the IVP described by "
            "the above ODEs'; it says nothing about which to solve or which is cheaper, so the "
            "testable content is that both give the same trajectory. Measured on the Banknote "
            "subsample of the Jacobian comparison: one BDF solve of each formulation per "
            "threshold (analytic Jacobian, the chapter's tolerances, the same accuracy event); "
            "bar: the solver study's 1 % agreement of event times. Statistic: the worst case "
            "over the thresholds (the claim is about every threshold), one exact value (the "
            "same deterministic problem solved twice; no seed enters the difference); a "
            "threshold only one formulation reached counts as a difference of 100 %",
            untestable=NEITHER_REACHED,
        ),
        paper_words="the gradient descent learning dynamics can be approximated by the following "
        "ordinary differential equations (ODEs). (1) ... (2) ... we could actually solve the IVP "
        "described by the above ODEs and obtain good models without iterative propagation",
    )


#: "scales well": the bar on the exponent b of the BDF solve's time ~ n^b, and the weaker bar
SCALING_BAR, SCALING_PARTLY = 1.5, 2.0


def _scaling_spec() -> ClaimSpec:
    return ClaimSpec(
        id="bdf-scales-well",
        kind="paper",
        claim="BDF scales well: the time of one BDF solve of the flow grows with the training-set "
        f"size n no faster than n^{SCALING_BAR:g} (MAGIC subsamples at the Tables' MAGIC width, fixed "
        "flow time)",
        where="Sec. 2 (Experiment Evaluation, experiment set-up)",
        paper_value="scales well",
        unit="exponent b of solve time ~ n^b",
        rule=claims.threshold(
            SCALING_BAR,
            higher=False,
            partly=SCALING_PARTLY,
            name="scales-well",
            source="the paper chooses BDF 'since it scales well' without a measure; read as the "
            "growth of one solve's time with the training-set size n (the size the paper's two "
            "data sets differ in). Bars: exponent 1 is what any method that reads every example "
            "per evaluation pays (GD's step too); exponent 2 is the dense alternative's cost per "
            "evaluation (eq. 2 with the n x n NTK); 'scales well' is read as <= 1.5, nearer the "
            "linear cost than the dense one; partly: < 2 (sub-quadratic, but not near linear); "
            "not reproduced: >= 2 (no better than the dense alternative). Measured: nested "
            "random subsamples of the Tables' MAGIC problem (its split, width and initial network; "
            "book scale 400, 1 131 and 3 200 points at width 64), seed 0, eq. 1 in parameter space "
            "(the Tables' MAGIC space at book scale), one BDF solve per size to a fixed flow time, interleaved "
            "rounds after an untimed warm-up solve of each size, BLAS pinned; per round the "
            "least-squares slope of log time against log n. Statistic: the median exponent over "
            "rounds with its distribution-free 95 % order-statistic interval (a typical solve "
            "time; fewer than 6 rounds decide at most inconclusive)",
        ),
        paper_words="we choose the Backward Differentiation Formula (BDF) (Byrne & Hindmarsh, "
        "1975) solver provided by Scipy since it scales well and handles the possible stiffness",
    )


#: the declared precondition of ``linearisation-improves-with-width``
NO_GAP = "the width study gave no seed with a finite output gap at two widths or more"


def _gap_spec() -> ClaimSpec:
    return ClaimSpec(
        id="linearisation-improves-with-width",
        kind="paper",
        claim="the linearised model approximates gradient descent's network better the wider the "
        "network: the distance between their outputs at the same time shrinks with the width",
        where="Abstract and Sec. 1 (Introduction)",
        paper_value="exact at infinite width",
        unit="exponent a of output gap ~ width^a",
        rule=claims.threshold(
            0.0,
            higher=False,
            name="gap-shrinks-with-width",
            source="the paper: 'the gradient-based training dynamics of NNs can be approximated by "
            "linear models ... the approximation strictly holds with assumption of infinite NN "
            "width' (Abstract; Sec. 1: f_t = f_t^lin + O(theta_t^2)): the approximation must get "
            "better as the width grows, so the exponent a of the gap ~ width^a must be < 0 (bar "
            "0: any decrease; the paper gives no rate). Measured in the width study (Banknote "
            "subsample, the study's widths, eta = the Tables' rate): per seed, at the study's "
            "last time, the gap ||f_lin(t) - f_GD(t)|| / ||f_GD(t) - f_0|| on the test points "
            "(GD's network after t steps against the linear model at flow time t), and the "
            "least-squares slope of log gap against log width. Statistic: the mean slope over "
            "seeds with its 95 % t-interval (linear scale: a slope takes either sign; the claim "
            "is about the typical network, not every initialisation); reproduced when the whole "
            "interval is <= 0, not reproduced when it lies wholly above 0, inconclusive when it "
            "straddles 0; one seed decides at most inconclusive",
            untestable=NO_GAP,
        ),
        paper_words="Recent study shows that the gradient-based training dynamics of NNs can be "
        "approximated by linear models. Although the approximation strictly holds with "
        "assumption of infinite NN width ... (Sec. 1) f_t^lin(chi) = f_0(chi) + grad f_0(chi) "
        "(theta_t - theta_0) is used as an approximation of f_t(chi)",
    )


CLAIMS = claims.declare(
    _speedup_spec("banknote", "Table 1"),
    _speedup_spec("magic", "Table 2"),
    _best_lr_spec("banknote"),
    _best_lr_spec("magic"),
    _acc_spec("banknote"),
    _acc_spec("magic", selected=True),
    _acc_spec("magic", tables_width=True),
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
    _memory_spec(),
    _equations_spec(),
    _scaling_spec(),
    _gap_spec(),
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
        "bdf-scales-well",
    ),
    trajectory=("magic-095-reachable", "linearisation-improves-with-width"),
    free_values=("eq1-equals-eq2",),
    extra=("protocol/*",),
    why={
        "speedup-banknote": "ratio of timed GD and ODE runs",
        "speedup-magic": "ratio of timed GD and ODE runs",
        "speedup-best-lr-*": "ratio of timed GD and ODE runs",
        "fd-jacobian": "interleaved timing rounds",
        "solver-route-*": "interleaved timing rounds",
        "speedup-small-widths": "ratio of timed GD and ODE runs",
        "adaptive-stepping-*": "ratio of growths of timed GD and ODE runs",
        "bdf-scales-well": "exponent fitted to timed BDF solves (interleaved rounds)",
        "linearisation-improves-with-width": "gap between float32 GD's network and the linear "
        "model (GD trajectory in float32)",
        "magic-095-reachable": "best training accuracy of float32 GD over a grid: moved by 0.7 % "
        "with XLA capped at SSE4.2",
        "eq1-equals-eq2": "relative difference of two adaptive BDF solves' event times, set by the "
        "solvers' error control, whose step sequences rounding steers: 6.1e-4 on the Intel Xeon, "
        "moved by 2.6e-8 on an AMD EPYC (AVX2) against 6e-10 across the Intel variants; the verdict "
        "(bar 1e-2, 16x the value) stays pinned",
    },
)
