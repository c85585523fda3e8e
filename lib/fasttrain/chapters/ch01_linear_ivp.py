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

import jax
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from ..core import claims, timing
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
    timing_rounds: int = 7  # interleaved rounds of the analytic-vs-FD timing


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
        timing_rounds=3,
    ),
    "book": Config(
        # 5 seeds on Banknote (about 15 s each); 3 on MAGIC, where one seed costs over a minute
        datasets=(
            DataSetup("banknote", 512, None, seeds=(0, 1, 2, 3, 4)),
            DataSetup("magic", 64, None, seeds=(0, 1, 2)),
        ),
        gd_max_steps=3_000,
        t_max=20_000.0,
        lr_grid=(0.01, 0.1, 1.0, 3.0, 10.0),
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
        lr_grid=(0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0),
        gd_max_steps=200_000,
        t_max=200_000.0,
        fd_n_train=1000,
        fd_width=512,
        widths=(16, 64, 256, 1024, 4096),
        width_study_n_train=1098,
        timing_rounds=9,
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
#: "comparably high": GD's test accuracy may exceed the solver network's by at most this much
COMPARABLE_GAP = 0.03
#: "around 93 %": the solver network's test accuracy within this much of 0.93
AROUND_93 = 0.05

# ---------------------------------------------------------------------------
# rules


@dataclass(frozen=True)
class SpeedupsByThreshold:
    """Per-seed speed-ups (GD total / ODE total) at each threshold, and who reached it.

    ``ratios[thr]``: the speed-up over the seeds in which both methods reached ``thr``
    (``None`` if they did not both reach it in every seed); ``reached[thr] = (by GD, by the
    ODE, seeds)`` in counts of seeds; ``paper[thr]``: the paper's speed-up.
    """

    ratios: dict
    reached: dict
    paper: dict
    values: tuple[float, ...] = field(default=())


def _speedup_example(ratios: dict, n: int = 5) -> SpeedupsByThreshold:
    thr = (0.80, 0.85, 0.90, 0.95)
    rs = {t: (claims.over_rounds(ratios[t]) if t in ratios else None) for t in thr}
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


@claims.rule(
    examples={
        "reproduced": _speedup_example({t: [1.8, 2.2] for t in (0.80, 0.85, 0.90, 0.95)}),
        "partly": _speedup_example({0.80: [1.2, 1.4], 0.85: [0.3, 0.5]}),
        "not reproduced": _speedup_example({0.80: [0.1, 0.2], 0.85: [0.2, 0.3]}),
        "inconclusive": _speedup_example({0.80: [0.8, 1.3]}),
    }
)
def ode_faster_at_every_threshold(m: SpeedupsByThreshold) -> tuple[str, str]:
    """ODE faster (whole per-seed interval > 1) at all four thresholds, within 2x of the paper's factor.

    Thresholds: the paper's Tables 1/2 (speed-ups 1.55-2.50 and 1.94-2.48, "over 2 times speedup to
    reach 90 % training accuracy"); "within 2x" is this book's band for "a similar factor" (the
    paper's hardware and clock are unknown). Only thresholds reached by both methods in every seed
    are compared; "partly": faster (whole interval > 1) at some of them; "not reproduced": slower
    (whole interval < 1) at every threshold compared; "inconclusive": an interval straddles 1 and
    none is wholly above; "not testable here": no threshold reached by both in every seed.
    """
    measured = {t: r for t, r in m.ratios.items() if r is not None}
    who = _who_reached(m)
    if not measured:
        return (
            "not testable here",
            f"no threshold was reached by both methods in every seed ({who})",
        )
    shown = ", ".join(f"{t:.2f}: {r.text('.3g')}" for t, r in sorted(measured.items()))
    faster = [t for t, r in measured.items() if r.lo > 1.0]
    slower = [t for t, r in measured.items() if r.hi < 1.0]
    lo_p, hi_p = min(m.paper.values()), max(m.paper.values())
    similar = all(0.5 * lo_p <= measured[t].lo and measured[t].hi <= 2 * hi_p for t in faster)
    where = f"speed-up at {shown} ({who})"
    if len(faster) == len(m.ratios) and similar:
        return (
            "reproduced",
            f"the ODE solver is faster at every threshold, by a similar factor; {where}",
        )
    if faster:
        return "partly", (
            f"the ODE solver is faster at {len(faster)} of {len(m.ratios)} thresholds; {where}"
        )
    if len(slower) == len(measured):
        n_all = len(m.ratios)
        return "not reproduced", (
            f"gradient descent is faster at each of the {len(measured)} of {n_all} thresholds "
            f"reached by both methods; {where}"
        )
    return "inconclusive", f"a per-seed interval straddles 1 and none lies above it; {where}"


def _acc_example(gaps, levels) -> tuple[Measurement, dict]:
    return claims.over_rounds(gaps), {"level": claims.over_rounds(levels)}


@claims.rule(
    examples={
        "reproduced": _acc_example([0.0, 0.01], [0.92, 0.94]),
        "partly": _acc_example([0.0, 0.01], [0.99, 0.995]),
        "not reproduced": _acc_example([0.3, 0.4], [0.5, 0.6]),
        "inconclusive": _acc_example([0.0, 0.06], [0.92, 0.94]),
    }
)
def comparably_high_about_93(gap: Measurement, level: Measurement) -> tuple[str, str]:
    """GD minus solver-network test accuracy <= 0.03 (whole interval); "partly" if not about 93 %.

    Thresholds from the paper's words "comparably high (i.e., both around 93 %)": the two networks'
    accuracies are one number to the precision of "around 93 %", which this book reads as a gap of
    at most 3 percentage points (GD's accuracy minus the solver network's, per seed); "around 93 %"
    for the level is 0.93 +- 0.05. Reproduced: the gap's interval lies at or below 0.03 and the
    level's interval inside [0.88, 0.98]; partly: the gap holds but the level is outside that band;
    not reproduced: the gap's interval lies wholly above 0.03; inconclusive otherwise.
    """
    g, lv = gap.text(".3f"), level.text(".3f")
    lo_b, hi_b = PAPER_TEST_ACCURACY - AROUND_93, PAPER_TEST_ACCURACY + AROUND_93
    if gap.lo > COMPARABLE_GAP:
        return "not reproduced", (
            f"GD's network scores higher by {g} (> {COMPARABLE_GAP:g}); solver network {lv}"
        )
    if gap.hi > COMPARABLE_GAP:
        return "inconclusive", f"the gap GD - solver network {g} straddles {COMPARABLE_GAP:g}"
    if lo_b <= level.lo and level.hi <= hi_b:
        return "reproduced", f"gap {g} <= {COMPARABLE_GAP:g}; solver network {lv}, about 93 %"
    if level.hi < lo_b or level.lo > hi_b:
        return "partly", (
            f"comparable to GD (gap {g} <= {COMPARABLE_GAP:g}), but the level {lv} is the data "
            f"set's, not about 93 %"
        )
    return "inconclusive", f"gap {g} <= {COMPARABLE_GAP:g}; the level {lv} straddles [0.88, 0.98]"


FD_GOAL = 10.0

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


def _best_lr_spec(name: str) -> ClaimSpec:
    return ClaimSpec(
        id=f"speedup-best-lr-{name}",
        kind="book-goal",
        claim=f"the speed-up holds at the fastest stable learning rate ({name})",
        where="book goal",
        paper_value="> 1 (implied)",
        unit="x (GD run / ODE solve)",
        rule=claims.threshold(
            1.0,
            higher=True,
            name="faster-at-best-lr",
            source="the paper's 'better training efficiency' read at the learning rate a "
            "practitioner would choose (the paper gives no learning rate): speed-up > 1",
        ),
    )


def _acc_spec(name: str) -> ClaimSpec:
    return ClaimSpec(
        id=f"test-accuracy-{name}",
        kind="paper",
        claim=f"test accuracy with the solver's parameters is comparably high, both about 93 % "
        f"({name})",
        where="Sec. 3 (text after Tables 1-2)",
        paper_value=PAPER_TEST_ACCURACY,
        unit="test accuracy",
        rule=comparably_high_about_93,
        paper_words="applying the weights and biases obtained from solver to test data set, the "
        "accuracy is often comparably high (i.e., both around 93% using the parameters from "
        "traditional training and IVP solving, given appropriate hidden unit numbers)",
    )


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
            "the Jacobian once per solve (njev = 1), so its cost is a small share of the solve",
        ),
    ),
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

    def problem(self, lr: float) -> L.FlowProblem:
        return L.FlowProblem(self.J, self.f0, self.ds.y_train, lr, "ce", self.theta)

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


def speedups_by_threshold(rows, data: str, thresholds) -> SpeedupsByThreshold:
    """Collect the per-seed speed-ups (GD total / ODE total) of ``data`` for the claim's rule."""
    ratios, reached = {}, {}
    paper = {t: PAPER_TABLES[data][t][2] for t in thresholds}
    values = []
    for t in thresholds:
        sub = [r for r in rows if r["data"] == data and r["threshold"] == t]
        n = len(sub)
        g = sum(r["gd_steps"] is not None for r in sub)
        o = sum(r["ode_t"] is not None for r in sub)
        reached[t] = (g, o, n)
        sp = [r["speedup_total"] for r in sub]
        if n and all(x is not None for x in sp):
            ratios[t] = claims.over_seeds(sp)
            values += sp
        else:
            ratios[t] = None
    return SpeedupsByThreshold(ratios, reached, paper, tuple(values))


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
