"""Chapter 04: configurations per scale, protocols and claims around :mod:`fasttrain.methods.layer_parallel`
and :mod:`fasttrain.methods.lsgd`.

Part 1, layer-parallel training.

Each function runs one measurement of the chapter and returns plain records
(lists of dicts, or dicts of runs) that the chapter tabulates and plots; the
declared claims (:data:`CLAIMS`, with their rules) turn measurements into verdicts.  The
protocol, stated once here and in the chapter:

* network: the ODE-ResNet of :mod:`fasttrain.methods.layer_parallel` (tanh, width and
  final time from :class:`LayerParallelConfig`), Gaussian weights;
* convergence: float64 (so that a relative residual of ``1e-8`` means
  something), inputs uniform in the peaks square ``[-3, 3]^2``, initial guess
  ``u_0`` copied to every layer, F or FCF relaxation, two-level (serial coarse
  solve) or multilevel (coarsening down to 2 steps);
* gradients: ``k`` forward and ``k`` adjoint MGRIT iterations from a cold
  start against ``jax.grad`` of the serial network, float64;
* training: full-batch Adam, same initial network for every run; in MGRIT mode
  every step runs ``k`` forward and ``k`` adjoint iterations warm-started from
  the previous step (inexact gradients);
* speed: float32, ``timing_rounds`` interleaved rounds (serial, MGRIT, serial, ...) after a
  warm-up that compiles (compile time is never in a ratio), with
  :func:`fasttrain.core.timing.interleaved`; serial ``lax.scan`` / ``jax.grad``
  against MGRIT vectorised on one device and with its intervals split across
  all JAX devices; a ratio is reported as the median of the per-round ratios with the
  distribution-free 95 % interval of the median (:func:`fasttrain.core.claims.over_rounds`, 9
  rounds at book scale: [x(2), x(8)]) and the rounds' [min, max] beside it.
* seeds: the training comparison runs over ``seeds`` (offset by the chapter's seed); the
  deterministic studies (convergence, gradients, work model) run once.  The MGRIT iteration count is a run-time argument
  (:func:`fasttrain.methods.layer_parallel.forward_mgrit`), so one compilation per depth
  and variant serves every count.

Part 2, LSGD and box initialisation.
Each function runs one measurement of the chapter and returns plain records
or runs that the chapter tabulates and plots.  The protocol, stated once here
and in the chapter:

* regression: ReLU MLP (``LSGDConfig.widths``) with box initialisation on the data
  box, the same initial network for every method; half mean squared error on
  training points drawn uniformly (seeded), relative L2 error on a test grid;
* methods: LSGD (least-squares output layer by the float64 Cholesky solve, then Adam on the
  hidden layers, alternating), Adam on all parameters, plain GD on all parameters;
* learning rates (:func:`tune_lr`): every method's learning rate is chosen per problem from a
  grid of the same size (``LSGDConfig.lr_grid``, ``gd_lr_grid``) by the relative error on a
  validation split carved from the training points (the last ``val_fraction``; never the test
  grid), training for the method's own budget on the rest, first seed only; PINN: by the loss on
  held-out collocation points (:func:`tune_pinn_lr`);
* clocks: per-iteration costs come from interleaved rounds after compilation and an untimed
  warm-up call with BLAS pinned (:func:`iteration_cost`: LSGD, LSGD with the previous QR solve,
  Adam, ``cost_steps`` iterations per call, the fixed cost of a call timed apart); wall time to
  the target is the run to the target timed end to end (:func:`time_to_target`, fixed costs
  included), per seed the median of ``wall_rounds`` interleaved rounds;
* iteration counts: Adam/GD iteration ``k`` = ``k`` optimiser steps; LSGD's
  record 0 is the least-squares fit on the initial (random) basis, which
  counts as its first iteration, so LSGD's record ``k`` costs ``k + 1``
  iterations (``k`` gradient steps, ``k + 1`` solves).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ..core import claims, reference
from ..core.claims import Measurement
from ..core.data import load_banknote, load_peaks
from ..core.errors import DivergenceError
from ..core.progress import progress_bar
from ..core.scales import pick
from ..core.timing import interleaved, ratios
from ..methods import layer_parallel as LP
from ..methods import lsgd as LS
from . import multiprocess_study as mps

# ----------------------------------------------------------------------------
# per-scale configurations


@dataclass(frozen=True)
class LayerParallelConfig:
    """Settings of chapter 04, part 1 (layer-parallel training).

    Training: the authors' peaks example (width 8, 32 layers, T = 1, 2 MGRIT
    iterations forward and backward, coarsening factor from their config).
    Convergence study: MGRIT iterations to ``tol`` over ``conv_depths``.
    Timing: serial vs MGRIT forward wall time over ``timing_depths``.
    ``conv_variants`` / ``timing_variants``: (relaxation, max levels), 99 =
    coarsen down to 2 steps; ``acc_tol``: how far below serial training's test
    accuracy layer-parallel training may end and still count as "similar" (the rule's
    :data:`ACC_TOL`). ``seeds``: the training comparison's seeds (serial and ``n_fwd`` MGRIT
    iterations per step for every seed; the other iteration counts for the first seed only).
    ``timing_rounds``: interleaved timing rounds after compilation.
    ``mp_processes``/``mp_rounds``/``mp_mgrit_args``/``mp_allgather_args``: the measurement across
    processes (:func:`fasttrain.chapters.multiprocess_study.measure`, MGRIT and the all-gather
    only): process counts, interleaved rounds and the worker programs' arguments (book: depth 64,
    width 64, batch 128; smoke: the smallest programs, seconds).
    ``lbfgs_steps``/``lbfgs_data``: L-BFGS training (the authors' optimiser), serial and
    ``n_fwd`` MGRIT iterations per step, every seed, on these data sets (0: skipped);
    ``exact_steps``: steps of the serial-equals-parallel check (float64, Adam and L-BFGS, FCF
    two-level with ``depth / (2 cfactor)`` iterations, which is exact; 0: skipped).
    """

    width: int = 8
    depth: int = 32
    T: float = 1.0
    activation: str = "tanh"
    init_scale: float = 1.0
    n_train: int = 5000
    n_test: int = 200
    train_steps: int = 300
    lr: float = 1e-2
    optimizer: str = "adam"
    cfactor: int = 4
    n_fwd: int = 2
    n_bwd: int = 2
    eval_every: int = 10
    conv_depths: tuple[int, ...] = (32, 64, 128, 256, 512, 1024)
    conv_batch: int = 64
    conv_max_iter: int = 15
    conv_cfactor: int = 4
    conv_variants: tuple[tuple[str, int], ...] = (("F", 2), ("FCF", 2), ("F", 99), ("FCF", 99))
    tol: float = 1e-8
    grad_iters: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 12)
    grad_depths: tuple[int, ...] = (32, 1024)
    train_iters: tuple[int, ...] = (1, 2, 3)
    acc_tol: float = 0.03
    timing_depths: tuple[int, ...] = (512, 1024)
    timing_batch: int = 64
    timing_rounds: int = 9
    timing_variants: tuple[tuple[str, int], ...] = (("FCF", 2), ("FCF", 99))
    timing_sharded: bool = True
    processors: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
    seed: int = 0
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    mp_processes: tuple[int, ...] = (1, 2, 4)
    mp_rounds: int = 2
    mp_mgrit_args: tuple[str, ...] = ()
    mp_allgather_args: tuple[str, ...] = ()
    lbfgs_steps: int = 50
    lbfgs_data: tuple[str, ...] = ("peaks",)
    exact_steps: int = 30


LP_CONFIGS = {
    "smoke": LayerParallelConfig(
        n_train=200,
        n_test=100,
        train_steps=20,
        conv_depths=(64,),
        conv_batch=16,
        conv_max_iter=12,
        grad_iters=(1, 2, 4, 8),
        grad_depths=(32,),
        timing_depths=(64,),
        timing_batch=16,
        timing_rounds=3,
        timing_variants=(("FCF", 2),),
        timing_sharded=False,
        eval_every=5,
        seeds=(0, 1),
        mp_processes=(1, 2),
        mp_rounds=1,
        mp_mgrit_args=mps.SMOKE_MGRIT,
        mp_allgather_args=mps.SMOKE_ALLGATHER,
        lbfgs_steps=0,
        exact_steps=0,
    ),
    "book": LayerParallelConfig(n_train=2000, n_test=200, train_steps=300),
    "paper": LayerParallelConfig(
        n_train=5000,
        n_test=200,
        train_steps=130,
        optimizer="adam",
        conv_depths=(32, 64, 128, 256, 512, 1024, 2048, 4096),
        grad_depths=(32, 4096),
    ),
}


def lp_config(scale: str) -> LayerParallelConfig:
    """The layer-parallel settings of ``scale``."""
    return pick(LP_CONFIGS, scale)


@dataclass(frozen=True)
class LSGDConfig:
    """Settings of chapter 04, part 2 (LSGD and box initialisation).

    ``gd_lr``: plain gradient descent needs a larger step than Adam's ``lr`` (``lr``/``gd_lr``:
    the defaults where no tuning ran); ``lr_grid`` (Adam and LSGD's Adam) / ``gd_lr_grid`` (GD):
    the learning-rate grids of :func:`tune_lr`, the same number of values for every method;
    ``benchmarks``: the regression benchmarks (:data:`fasttrain.methods.lsgd.BENCHMARKS`);
    ``tune``: run the learning-rate selection (smoke: no, the defaults ``lr``/``gd_lr``/``pinn_lr``
    -- a regression test, not a reproduction); ``val_fraction``: the share of training points
    held out for that selection;
    ``cost_steps``/``cost_rounds``: iterations per timed call and interleaved rounds of
    :func:`iteration_cost`; ``pinn_problems``: the Poisson problems
    (:func:`fasttrain.methods.lsgd.poisson_problem`); ``pinn_val``: held-out collocation points
    of the PINN learning-rate selection;
    ``init_steps``: the LSGD budget of the initialisation study; ``chunk``:
    steps per compiled chunk of :func:`fit` (one compilation per configuration); ``seeds``:
    the seeds (offset by the chapter's seed) of the regression study (data and initial network
    change with the seed; compilation does not); ``wall_rounds``: interleaved rounds of the
    end-to-end runs to the target (:func:`time_to_target`), per seed; ``accuracy_seeds``: seeds of
    the Cholesky-against-QR accuracy check (LSGD only, :func:`final_errors`); ``init_seeds``: seeds
    of the initialisation study's trained networks (error after ``init_steps``); ``dead_seeds``:
    seeds of its dead-ReLU counts at initialisation (no training, cheap); ``pinn_seeds``: seeds of
    the PINN study.  These seed counts and rounds were chosen in this edition from the published
    spread so that the intervals can decide (the chapter's "What changed" gives the arithmetic).
    """

    methods: tuple[str, ...] = ("LSGD", "Adam", "GD")
    benchmarks: tuple[str, ...] = LS.BENCHMARKS
    widths: tuple[int, ...] = (32, 32)
    n_train: int = 256
    n_train_2d: int = 1024
    n_test: int = 512
    adam_steps: int = 3000
    lsgd_steps: int = 1000
    lr: float = 1e-3
    gd_lr: float = 0.05
    lr_grid: tuple[float, ...] = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
    gd_lr_grid: tuple[float, ...] = (0.005, 0.015, 0.05, 0.15, 0.5)
    val_fraction: float = 0.25
    tune: bool = True
    cost_steps: int = 1000
    cost_rounds: int = 7
    wall_rounds: int = 7
    ridge: float = 1e-10
    osc_k: int = 4
    chunk: int = 100
    init_methods: tuple[str, ...] = LS.INITS
    init_depths: tuple[int, ...] = (1, 2, 4, 8)
    init_steps: int = 500
    resnet_depths: tuple[int, ...] = (4, 16, 64)
    pinn_widths: tuple[int, ...] = (32, 32)
    pinn_collocation: int = 64
    pinn_steps: int = 1000
    pinn_lr: float = 1e-3
    pinn_beta: float = 1.0
    pinn_problems: tuple[str, ...] = ("sin", "damped")
    pinn_val: int = 16
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    accuracy_seeds: tuple[int, ...] = tuple(range(10))
    init_seeds: tuple[int, ...] = tuple(range(10))
    dead_seeds: tuple[int, ...] = tuple(range(30))
    pinn_seeds: tuple[int, ...] = tuple(range(10))


LSGD_CONFIGS = {
    "smoke": LSGDConfig(
        methods=("LSGD", "Adam"),
        benchmarks=("smooth1d", "osc1d"),
        tune=False,
        widths=(16, 16),
        n_train=64,
        n_train_2d=256,
        n_test=128,
        adam_steps=150,
        lsgd_steps=150,
        chunk=50,
        lr_grid=(1e-3, 1e-2),
        gd_lr_grid=(0.05, 0.5),
        cost_steps=50,
        cost_rounds=3,
        wall_rounds=3,
        init_methods=("box", "he", "he-centred", "glorot-bias"),
        init_depths=(2,),
        init_steps=50,
        resnet_depths=(4, 16),
        pinn_widths=(16, 16),
        pinn_collocation=32,
        pinn_steps=50,
        pinn_val=8,
        pinn_problems=("sin",),
        seeds=(0, 1),
        accuracy_seeds=(0, 1),
        init_seeds=(0, 1),
        dead_seeds=(0, 1, 2),
        pinn_seeds=(0, 1),
    ),
    "book": LSGDConfig(),
    "paper": LSGDConfig(
        adam_steps=20000,
        lsgd_steps=20000,
        init_steps=5000,
        pinn_steps=10000,
        seeds=tuple(range(10)),
        accuracy_seeds=tuple(range(20)),
        init_seeds=tuple(range(20)),
        dead_seeds=tuple(range(50)),
        pinn_seeds=tuple(range(20)),
    ),
}


def lsgd_config(scale: str) -> LSGDConfig:
    """The LSGD and box-initialisation settings of ``scale``."""
    return pick(LSGD_CONFIGS, scale)


def run_seeds(seeds, seed: int) -> tuple[int, ...]:
    """The configuration's ``seeds`` offset by the chapter's ``seed`` parameter."""
    return tuple(int(seed) + int(s) for s in seeds)


# ----------------------------------------------------------------------------
# rules: where the thresholds come from

#: training "like serial": test accuracy at most this far below serial's (our reading of
#: "similar training performance"; two test points of 200 at book scale would be 0.01)
ACC_TOL = 0.03
#: training "like serial": final exact training loss at most this factor above serial's
LOSS_RTOL = 0.1
#: serial training must beat the majority-class test accuracy by this much, else nothing was
#: learnt and agreement would be trivial ("not testable here")
MIN_GAIN = 0.1
#: the bounded-iterations goal: at most this many MGRIT iterations to 1e-8 at every depth
MAX_MGRIT_ITER = 10
#: the deepest network the bounded-iterations goal asks for (the book-scale convergence study)
FULL_DEPTH = 1024


@claims.rule(
    examples={
        "reproduced": (claims.exact(6), {"max_depth": 1024}),
        "partly": (claims.exact(6), {"max_depth": 64}),
        "not reproduced": (claims.exact(12), {"max_depth": 1024}),
    },
    words=f"<= {MAX_MGRIT_ITER} iterations at every depth 64-{FULL_DEPTH}",
)
def bounded_mgrit_iterations(m: Measurement, *, max_depth: int) -> tuple[str, str]:
    """At most 10 MGRIT iterations to a relative residual of 1e-8 at every depth from 64 to 1024.

    The paper says "rapid convergence"; the bar of 10 iterations and the depth range are this
    book's (the authors train with 2 iterations per step, the theory bounds the count independently
    of depth).  ``m``: the best variant's largest count over the depths (a depth where the
    tolerance was not reached counts as the iteration budget plus one).  "partly": the bar holds
    but the study stopped below depth 1024 (smoke scale).

    Statistic: the worst case -- the largest count over the depths ("at every depth"), of one
    float64 run, which is deterministic (the same inputs give the same count), so one run decides.
    """
    n = int(m.center)
    if n > MAX_MGRIT_ITER:
        return "not reproduced", f"{n} iterations > {MAX_MGRIT_ITER} at some depth"
    if max_depth < FULL_DEPTH:
        return "partly", (
            f"{n} <= {MAX_MGRIT_ITER} iterations, but only up to depth {max_depth} "
            f"(not {FULL_DEPTH})"
        )
    return "reproduced", f"{n} <= {MAX_MGRIT_ITER} iterations at every depth up to {max_depth}"


def _gap_example(center: float, half: float) -> Measurement:
    return Measurement(
        (center - half, center + half), center, (center - half, center + half), half, "example"
    )


@claims.rule(
    examples={
        "reproduced": (
            claims.exact(0.0),
            {"loss_ratio": claims.exact(1.0), "learnt": claims.exact(0.5)},
        ),
        "partly": (
            claims.exact(-0.1),
            {"loss_ratio": claims.exact(1.0), "learnt": claims.exact(0.5)},
        ),
        "not reproduced": (
            claims.exact(-0.1),
            {"loss_ratio": claims.exact(2.0), "learnt": claims.exact(0.5)},
        ),
        "inconclusive": (
            _gap_example(-0.03, 0.05),
            {"loss_ratio": claims.exact(1.0), "learnt": claims.exact(0.5)},
        ),
        "not testable here": (
            claims.exact(0.0),
            {"loss_ratio": claims.exact(1.0), "learnt": claims.exact(0.0)},
        ),
    },
    words=f"accuracy >= serial - {ACC_TOL} and loss <= {1 + LOSS_RTOL:g} x serial (seed intervals)",
)
def like_serial_training(
    m: Measurement, *, loss_ratio: Measurement, learnt: Measurement
) -> tuple[str, str]:
    """Layer-parallel test accuracy at most 0.03 below serial and final training loss at most 1.1x.

    ``m``: per-seed layer-parallel minus serial final test accuracy; ``loss_ratio``: per-seed
    final exact training loss, layer-parallel / serial; ``learnt``: per-seed serial test accuracy
    minus the majority-class accuracy.  The paper's words are "similar training performance" /
    "the same solution as the serial algorithm"; the tolerances 0.03 and 10 % are this book's
    reading of "similar".  Each criterion is judged on its whole interval: both met ->
    "reproduced"; one met, the other failed -> "partly"; both failed -> "not reproduced"; an
    interval straddling its bar (and the outcome open) -> "inconclusive".  "not testable here"
    when serial training does not beat the majority class by 0.1 (nothing learnt), or, handed
    :class:`~fasttrain.core.claims.Unavailable`, when the scale runs no such training (smoke scale
    runs no L-BFGS: ``lbfgs_steps = 0``).

    Statistic: the claim is about training as it typically turns out ("similar training
    performance"), so each criterion is decided on the 95 % t-interval of the mean over seeds: the
    accuracy gap on the linear scale (it can be negative), the loss ratio on the log scale
    (strictly positive: :func:`~fasttrain.core.claims.over_seeds` with ``log=True``).  One seed
    decides at most "inconclusive" (:func:`~fasttrain.core.claims.side`).
    """
    shown = f"accuracy gap {m.text('.3f')}, loss ratio {loss_ratio.text('.3g')}"
    if learnt.center < MIN_GAIN:
        return "not testable here", (
            f"serial training beats the majority class by only {learnt.center:.3f} "
            f"(< {MIN_GAIN}): nothing learnt, agreement would be trivial"
        )
    acc, loss = claims.side(m, -ACC_TOL, True), claims.side(loss_ratio, 1 + LOSS_RTOL, False)
    sides = {acc, loss}
    if sides == {"meets"}:
        return "reproduced", f"{shown}: both within the tolerance"
    if sides == {"fails"}:
        return "not reproduced", f"{shown}: both outside the tolerance"
    if sides == {"meets", "fails"}:
        return "partly", f"{shown}: one within the tolerance, one outside"
    return "inconclusive", f"{shown}: an interval straddles its bar"


#: "the same solution": the trained layer-parallel network's distance from the serial one at most
#: this share of the distance serial training moved its parameters (the same network to one digit)
SAME_NET_RTOL = 0.1
#: the weaker, functional reading ("partly"): the two trained networks predict the same class on at
#: least this share of the test points
SAME_PRED = 0.95


@claims.rule(
    examples={
        "reproduced": (claims.worst_case([0.01, 0.02], higher=False), {"agree": None}),
        "partly": (
            claims.worst_case([0.01, 0.3], higher=False),
            {"agree": claims.worst_case([1.0, 0.97])},
        ),
        "not reproduced": (
            claims.worst_case([0.01, 0.3], higher=False),
            {"agree": claims.worst_case([1.0, 0.8])},
        ),
        "inconclusive": (claims.worst_case([0.3], higher=False), {"agree": None}),
    },
    words=f"every seed: |theta_par - theta_ser| <= {SAME_NET_RTOL:g} |theta_ser - theta_0| "
    f"(partly: the predictions agree on >= {SAME_PRED:.0%} of test points)",
)
def same_trained_network(m: Measurement, *, agree: Measurement | None) -> tuple[str, str]:
    """Layer-parallel training ends at the serial network: at every seed the trained parameters
    differ from serial training's by at most 0.1 of the distance serial training moved them.

    ``m``: per-seed ``|theta_par - theta_ser| / |theta_ser - theta_0|`` (same initial network
    ``theta_0``), as :func:`~fasttrain.core.claims.worst_case` (the largest); ``agree``: per-seed
    share of test points on which the two trained networks predict the same class, worst case
    (the smallest).  The paper's words are "the same solution as the serial algorithm"; the bars
    (one digit of the training displacement; 95 % agreement for the weaker, functional reading)
    are this book's, declared before this edition's measurement.  Statistic: the claim is about
    every training run, so the worst seed decides (one seed over the bar is a counterexample); a
    single seed decides at most "inconclusive".  Worst distance within the bar: "reproduced";
    otherwise the worst agreement >= 95 %: "partly" (the same predictions, a different network);
    else "not reproduced".
    """
    shown = f"distance {m.text('.2g')}"
    if agree is not None:
        shown += f", prediction agreement {agree.text('.3f')}"
    if m.limited:
        return "inconclusive", f"{shown}: one seed cannot decide a claim about every run"
    if m.center <= SAME_NET_RTOL:
        return "reproduced", f"{shown}: the same network at every seed"
    if agree is not None and not agree.limited and agree.center >= SAME_PRED:
        return "partly", f"{shown}: a different network at some seed, the same predictions"
    return "not reproduced", f"{shown}: a different network and different predictions"


@claims.rule(
    examples={
        "reproduced": (claims.exact(1.5), {"work_ratio": 1.5, "cores": 4}),
        "not reproduced": (claims.exact(0.2), {"work_ratio": 6.5, "cores": 2}),
        "inconclusive": (
            claims.over_rounds([0.8, 0.9, 1.0, 1.1, 1.2, 1.3]),
            {"work_ratio": 1.5, "cores": 4},
        ),
        "not testable here": claims.Unavailable("this scale times no network of this depth"),
    },
    words="serial / MGRIT >= 1 on the 95 % interval of the median of rounds; work bound "
    "cores / work in the reason",
)
def faster_on_cores(m: Measurement, *, work_ratio: float, cores: int) -> tuple[str, str]:
    """Serial / MGRIT forward wall time at least 1 on the cores of this machine (book goal).

    ``m``: per-round ratios of interleaved rounds; ``work_ratio``: the MGRIT layout's layer
    applications over serial propagation's (:func:`~fasttrain.methods.layer_parallel.critical_path`,
    counted exactly); ``cores``: the devices used.  Whole range >= 1: "reproduced"; wholly below
    1: "not reproduced", with the reason the work count gives -- ``cores`` processors can repay at
    most ``cores``-fold parallelism, so the speed-up is at most ``cores / work_ratio``, and when
    that bound is below 1 the goal cannot be met on these cores whatever the implementation;
    straddling 1: "inconclusive" (the machine's load decided it).

    Statistic: a time ratio of interleaved rounds, so the median with its distribution-free 95 %
    interval (:func:`~fasttrain.core.claims.over_rounds`; it narrows as rounds are added; fewer than
    6 rounds decide at most "inconclusive").  "not testable here" (an
    :class:`~fasttrain.core.claims.Unavailable`) when the scale times no network of the claim's
    depth (smoke scale times depth 64 only).
    """
    if work_ratio <= 0 or cores < 1:
        raise ValueError(f"need work_ratio > 0 and cores >= 1, got {work_ratio}, {cores}")
    bound = cores / work_ratio
    shown = m.text(".3g")
    why = (
        f"MGRIT applies {work_ratio:.3g}x serial's layers and {cores} core(s) repay at most "
        f"{cores}x, so at most {bound:.2g}x"
    )
    side = claims.side(m, 1.0, higher=True)
    if side == "meets":
        return "reproduced", f"{shown} >= 1x ({why})"
    if side == "straddles":
        return "inconclusive", f"{shown} straddles 1x ({why})"
    if bound < 1:
        return "not reproduced", f"{shown} < 1x, for the stated reason: {why} < 1"
    return "not reproduced", f"{shown} < 1x although the work bound allows {bound:.2g}x: overheads"


#: the least-squares step's cost goal: one LSGD iteration at most this many Adam steps
SOLVE_COST_BAR = 3.0
#: "accuracy unchanged": the final test error with the Cholesky solve at most this factor above
#: the QR route's (geometric mean over seeds, its 95 % interval, worst benchmark)
SOLVE_ACC_FACTOR = 1.25


@claims.rule(
    examples={
        "reproduced": (claims.exact(1.6), {"accuracy": claims.exact(0.0)}),
        "partly": (claims.exact(1.6), {"accuracy": claims.exact(0.5)}),
        "not reproduced": (claims.exact(5.0), {"accuracy": claims.exact(0.0)}),
        "inconclusive": (
            claims.over_rounds([2.0, 2.5, 2.8, 3.2, 3.5, 4.0]),
            {"accuracy": claims.exact(0.0)},
        ),
    },
    words=f"LSGD iteration <= {SOLVE_COST_BAR:g} Adam steps (rounds) and final error <= "
    f"{SOLVE_ACC_FACTOR:g}x the QR route's (seed interval)",
)
def cheap_and_as_accurate(m: Measurement, *, accuracy: Measurement) -> tuple[str, str]:
    """One LSGD iteration costs at most 3 Adam steps, with the accuracy of the QR route (book goal).

    ``m``: per-round ratios LSGD iteration / Adam step of the worst benchmark (interleaved rounds,
    BLAS pinned); ``accuracy``: per-seed log10 of the final test error with the Cholesky solve
    over the QR solve's, the worst benchmark's.  The bar of 3 is this book's (issue 11); 1.25x is
    our reading of "accuracy unchanged" for training runs that diverge chaotically from the same
    start.  Cost and accuracy met: "reproduced"; cost met, accuracy worse: "partly"; cost missed:
    "not reproduced"; an interval straddling a bar (outcome open): "inconclusive".

    Statistics: the cost is a time ratio of interleaved rounds (each round times ``cost_steps``
    iterations per call, so the fixed cost of a call is a few per cent), decided on the median's
    distribution-free 95 % interval (:func:`~fasttrain.core.claims.over_rounds`, >= 6 rounds); the
    accuracy is a ratio of errors, strictly positive, and "unchanged" is about the typical run, so
    it is decided on the t-interval of the mean log10 ratio over seeds (a geometric mean).  A
    limited measurement (one seed, < 6 rounds) decides at most "inconclusive".
    """
    cost = claims.side(m, SOLVE_COST_BAR, higher=False)
    acc = claims.side(accuracy, math.log10(SOLVE_ACC_FACTOR), higher=False)
    shown = (
        f"{m.text('.3g')} Adam steps per LSGD iteration; error ratio Cholesky / QR "
        f"{10**accuracy.center:.3g}x"
        + (
            f" [{10**accuracy.lo:.3g}, {10**accuracy.hi:.3g}]"
            if accuracy.interval is not None
            else ""
        )
    )
    if cost == "fails":
        return "not reproduced", f"{shown}: above {SOLVE_COST_BAR:g} Adam steps"
    if cost == "meets" and acc == "meets":
        return "reproduced", f"{shown}: cheap and as accurate"
    if cost == "meets" and acc == "fails":
        return "partly", f"{shown}: cheap, but less accurate than the QR route"
    return "inconclusive", f"{shown}: a range straddles its bar"


def _log_example(lo: float, hi: float) -> Measurement:
    c = (lo + hi) / 2
    return Measurement((lo, hi), c, (lo, hi), (hi - lo) / 4, "example")


@claims.rule(
    examples={
        "reproduced": claims.exact(1.8),
        "partly": claims.exact(0.5),
        "not reproduced": claims.exact(-0.3),
        "inconclusive": _log_example(0.6, 1.4),
        "not testable here": claims.Unavailable("this scale runs no such benchmark or problem"),
    },
    words=">= 10x (partly: > 1x), on the interval of log10 ratios",
)
def ten_times(m: Measurement, *, unreached: int = 0, reached: int | None = None) -> tuple[str, str]:
    """At least 10x (log10 ratio >= 1), "partly" above 1x (log10 ratio >= 0), over seeds.

    The paper's words are "dramatic increases in accuracy and convergence rate"; reading
    "dramatic" as an order of magnitude is this book's.  ``m``: per-seed log10 ratios (Adam /
    LSGD), so the interval is one of the geometric mean.  Whole interval >= 1: "reproduced";
    within [0, 1): "partly"; below 0: "not reproduced"; across 0 or 1: "inconclusive".
    ``unreached``: seeds where LSGD never reached the target (left out of ``m``): some -> at
    most "partly"; ``reached=0`` (no seed reached it; ``m`` is then a placeholder) ->
    "not reproduced".

    Statistic: "dramatic increases" is about the typical run, and the ratios are strictly
    positive, so the measurement is the geometric mean over seeds with the t-interval of the mean
    log10 ratio (:func:`~fasttrain.core.claims.over_seeds` of the log10 ratios).  A limited
    measurement (one seed) decides at most "inconclusive".  "not testable here" (an
    :class:`~fasttrain.core.claims.Unavailable`) when the scale runs no such benchmark or problem
    (smoke scale: no 2-D benchmark, one PINN problem).
    """
    g = f"geometric mean {10**m.center:.3g}x"
    if m.interval is not None:
        g += f" [{10**m.lo:.3g}, {10**m.hi:.3g}]"
    miss = f"; LSGD missed the target in {unreached} seed(s)" if unreached else ""
    if m.limited:
        return "inconclusive", f"{g} cannot decide ({m.limited}){miss}"
    if reached == 0:
        return "not reproduced", f"LSGD never reached the target{miss}"
    if m.lo >= 1 and not unreached:
        return "reproduced", f"{g} >= 10x"
    if m.hi < 0:
        return "not reproduced", f"{g} < 1x{miss}"
    if m.lo >= 0 and (m.hi < 1 or unreached):
        return "partly", f"{g}: faster, not 10x everywhere{miss}"
    return "inconclusive", f"{g} straddles 1x or 10x{miss}"


@dataclass(frozen=True)
class Comparison:
    """Box against each other initialisation, one :class:`Measurement` per case.

    ``cases``: ``((label, advantage), ...)`` with the advantage > 0 when box is better (per-seed
    values: fewer dead neurons, or log10 of the error ratio other / box).
    """

    cases: tuple[tuple[str, Measurement], ...]

    @property
    def values(self) -> tuple[float, ...]:
        return tuple(m.center for _, m in self.cases)


def _cmp(*centres: float) -> Comparison:
    return Comparison(tuple((f"case {i}", claims.exact(c)) for i, c in enumerate(centres)))


@claims.rule(
    examples={
        "reproduced": _cmp(0.4, 0.3),
        "partly": _cmp(0.4, -0.1),
        "not reproduced": _cmp(-0.1, 0.0),
        "inconclusive": Comparison((("a", claims.exact(0.4)), ("b", _log_example(-0.1, 0.2)))),
    },
    words="box better than every other initialisation at every depth (intervals)",
)
def box_wins(m: Comparison) -> tuple[str, str]:
    """Box beats every other initialisation at every depth, each case judged on its interval.

    The paper's words are "novel initializations" with "dramatic increases in accuracy"; the
    comparison (box fewest dead ReLUs / lowest error at every MLP depth) is the previous edition's,
    now per case on the seed interval of box's advantage: a case is won when the whole interval is
    above 0, lost when it lies at or below 0, open otherwise.  All won: "reproduced"; all lost:
    "not reproduced"; some of each: "partly"; otherwise (open cases that could change the
    verdict): "inconclusive".

    Statistic: "at every depth" makes the claim a worst case over depths (every case must be won);
    within a depth the claim is about the typical network, so a case is decided on the t-interval
    of the mean advantage over seeds -- linear for the difference of dead fractions (it can be
    negative), log10 for the error ratio (strictly positive).  A case of one seed is ``limited`` and
    stays open (one stochastic run decides at most "inconclusive").
    """
    won = [k for k, x in m.cases if not x.limited and x.lo > 0]
    lost = [k for k, x in m.cases if not x.limited and x.hi <= 0]
    n = len(m.cases)
    text = f"box better in {len(won)} of {n} cases, worse or equal in {len(lost)}"
    if lost:
        text += f" ({', '.join(lost)})"
    if len(won) == n:
        return "reproduced", text
    if len(lost) == n:
        return "not reproduced", text
    if won and lost:
        return "partly", text
    return "inconclusive", text + f"; {n - len(won) - len(lost)} open (interval across 0)"


# ----------------------------------------------------------------------------
# the chapter's claims, declared before measuring

_ABSTRACT = "Cyr et al. 2020, abstract"
_SAME = (
    "The multigrid method used in this approach stitches these subdomains together with "
    "sufficient accuracy to ensure rapid convergence to the same solution as the serial algorithm."
)
_DRAMATIC = (
    "We provide analysis of these techniques, and illustrate via numerical examples dramatic "
    "increases in accuracy and convergence rate for benchmarks characterizing applications of "
    "DNNs, including regression problems and physics-informed neural networks for the solution "
    "of partial differential equations."
)
#: the depths of the speed claims: book scale's timing depths (smoke times depth 64 only and
#: records these claims as not testable there; the depth-64 claim of earlier editions was recorded
#: at smoke scale only and is no longer declared)
SPEED_DEPTHS: tuple[int, ...] = (512, 1024)


_ACCELERATE = (
    "The first advance is a new layer-parallel training algorithm that exploits a multigrid "
    "scheme to accelerate both forward and backward propagation."
)


def _speed_spec(N: int, backward: bool = False) -> claims.ClaimSpec:
    what = "forward and backward propagation (loss and gradient)" if backward else "forward"
    return claims.ClaimSpec(
        id=f"speedup-{'backward' if backward else 'forward'}-N{N}",
        kind="paper",
        claim=f"layer-parallel {what} propagation is faster than serial on the cores available "
        f"(depth {N}; best MGRIT layout at the training's 2 iterations)"
        if not backward
        else f"layer-parallel {what} is faster than serial on the cores available (depth {N}; "
        "best MGRIT layout at the training's 2 forward and 2 adjoint iterations)",
        where="Cyr et al. 2020, abstract (our reading: faster on the cores of this machine)",
        paper_value="faster",
        unit="x (serial / MGRIT wall time, median of rounds [95 % interval of the median])",
        rule=faster_on_cores,
        paper_words=_ACCELERATE,
    )


CLAIMS = claims.declare(
    claims.ClaimSpec(
        id="mgrit-bounded-iterations",
        kind="paper",
        claim="MGRIT converges in a number of iterations independent of depth (<= 10 iterations "
        "to relative residual 1e-8 at every depth 64-1024)",
        where="Cyr et al. 2020, abstract ('rapid convergence'; the bar of 10 and the depths are "
        "this book's reading)",
        paper_value="rapid convergence",
        unit="iterations (max over depths, best variant)",
        rule=bounded_mgrit_iterations,
        paper_words=_SAME,
    ),
    claims.ClaimSpec(
        id="mgrit-equals-serial",
        kind="paper",
        claim="MGRIT converges to the same solution as serial propagation",
        where=_ABSTRACT,
        paper_value="same solution",
        unit="relative max-norm distance",
        rule=claims.threshold(
            1e-8,
            higher=False,
            name="same-solution-1e-8",
            source="'the same solution as the serial algorithm': float64 agreement to 1e-8 "
            "(rounding is 1e-16; 1e-8 is the convergence study's residual tolerance); the "
            "statistic is the worst case over depths (the largest distance) of a deterministic "
            "float64 run",
        ),
        paper_words=_SAME,
    ),
    claims.ClaimSpec(
        id="mgrit-gradients",
        kind="paper",
        claim="gradients from forward and adjoint MGRIT equal jax.grad of the serial network",
        where=_ABSTRACT,
        paper_value="same gradients",
        unit="relative error",
        rule=claims.threshold(
            1e-6,
            higher=False,
            name="same-gradient-1e-6",
            source="'accelerate both forward and backward propagation' with 'the same solution "
            "as the serial algorithm': float64 gradients to 1e-6 after enough iterations; the "
            "statistic is the worst case over depths of a deterministic float64 run",
        ),
        paper_words="a new layer-parallel training algorithm that exploits a multigrid scheme to "
        "accelerate both forward and backward propagation",
    ),
    *(
        claims.ClaimSpec(
            id=f"training-{name}",
            kind="paper",
            claim=f"layer-parallel training (2 MGRIT iterations per step, the authors' setting) "
            f"performs like serial training ({name})",
            where="Günther et al. 2020 (FACTS D1: 'similar training performance to serial "
            "training'); abstract",
            paper_value="similar",
            unit="test accuracy gap (layer-parallel - serial)",
            rule=like_serial_training,
            paper_words=_SAME,
        )
        for name in ("peaks", "banknote")
    ),
    claims.ClaimSpec(
        id="training-lbfgs-peaks",
        kind="paper",
        claim="layer-parallel training with L-BFGS (the authors' optimiser; 2 MGRIT iterations "
        "per step) performs like serial L-BFGS training (peaks)",
        where="Günther et al. 2020 (FACTS D1: 'similar training performance to serial "
        "training'); abstract",
        paper_value="similar",
        unit="test accuracy gap (layer-parallel - serial)",
        rule=like_serial_training,
        paper_words=_SAME,
    ),
    *(
        claims.ClaimSpec(
            id=f"training-same-network-{name}",
            kind="paper",
            claim="layer-parallel training (2 MGRIT iterations per step) ends at the network "
            f"serial training ends at, from the same start, at every seed ({name})",
            where=_ABSTRACT,
            paper_value="same solution",
            unit="worst seed: |theta_par - theta_ser| / |theta_ser - theta_0|",
            rule=same_trained_network,
            paper_words=_SAME,
        )
        for name in ("peaks", "banknote")
    ),
    claims.ClaimSpec(
        id="mgrit-training-equals-serial",
        kind="analysis",
        claim="with converged MGRIT iterations, layer-parallel training has the objective history "
        "of serial training (Adam and L-BFGS, float64)",
        where="abstract ('the same solution as the serial algorithm'); LayerParallelLearning's "
        "reference histories",
        paper_value="same solution",
        unit="largest relative difference of the objective histories",
        rule=claims.threshold(
            1e-8,
            higher=False,
            name="same-history-1e-8",
            source="'the same solution as the serial algorithm': float64 histories to 1e-8 "
            "(the convergence study's residual tolerance; rounding is 1e-16); the statistic is "
            "the worst case (largest difference over steps and optimisers) of a deterministic "
            "float64 run",
            untestable="the scale runs no serial-equals-parallel check (exact_steps = 0)",
        ),
        paper_words=_SAME,
    ),
    *(_speed_spec(N) for N in SPEED_DEPTHS),
    *(_speed_spec(N, backward=True) for N in SPEED_DEPTHS),
    claims.ClaimSpec(
        id="speedup-order-of-magnitude",
        kind="paper",
        claim="an order of magnitude wall-clock speed-up over serial (many processors)",
        where=_ABSTRACT,
        paper_value=10,
        unit="x (serial / layer-parallel wall time, measured; model for many processors shown)",
        rule=mps.order_of_magnitude_speedup,
        paper_words="We demonstrate an order of magnitude wall-clock speedup over the serial "
        "approach, opening a new avenue for scalable parallelism that is complementary to "
        "existing approaches.",
    ),
    *(
        claims.ClaimSpec(
            id=f"lsgd-vs-adam-{b}",
            kind="paper",
            claim=f"LSGD converges faster than Adam, each at its tuned learning rate ({b}): the "
            "target error in >= 10x fewer iterations",
            where=_ABSTRACT,
            paper_value="dramatic increase",
            unit="x fewer iterations (geometric mean over seeds)",
            rule=ten_times,
            paper_words=_DRAMATIC,
        )
        for b in ("smooth1d", "osc1d(k=4)", "smooth2d")
    ),
    *(
        claims.ClaimSpec(
            id=f"lsgd-walltime-{b}",
            kind="analysis",
            claim=f"LSGD reaches the target error >= 10x sooner than tuned Adam in wall time ({b})",
            where=_ABSTRACT,
            paper_value="dramatic increase",
            unit="x less wall time to the target, end to end (geometric mean over seeds of each "
            "seed's median of interleaved rounds)",
            rule=ten_times,
            paper_words=_DRAMATIC,
        )
        for b in ("smooth1d", "osc1d(k=4)", "smooth2d")
    ),
    *(
        claims.ClaimSpec(
            id=f"lsgd-accuracy-{b}",
            kind="paper",
            claim=f"LSGD ends with a >= 10x lower test error than tuned Adam ({b}; each after its "
            "own budget: LSGD 1 000 iterations, Adam 3 000 steps)",
            where=_ABSTRACT,
            paper_value="dramatic increase in accuracy",
            unit="x (Adam final error / LSGD final error, geometric mean over seeds)",
            rule=ten_times,
            paper_words=_DRAMATIC,
        )
        for b in ("smooth1d", "osc1d(k=4)", "smooth2d")
    ),
    claims.ClaimSpec(
        id="lsgd-solve-cost",
        kind="book-goal",
        claim="one LSGD iteration costs at most 3 Adam steps, with the accuracy of the QR route",
        where="book goal (issue 11)",
        paper_value=SOLVE_COST_BAR,
        unit="Adam steps per LSGD iteration (worst benchmark, median [min, max] of rounds)",
        rule=cheap_and_as_accurate,
    ),
    claims.ClaimSpec(
        id="box-init-dead-relu",
        kind="paper",
        claim="box initialisation avoids dead ReLUs at initialisation (fewer than the strongest "
        "of He and Glorot -- zero biases, centred inputs, small biases -- at every MLP depth)",
        where=_ABSTRACT,
        paper_value="fewer dead neurons",
        unit="depths won by box against the strongest other initialisation",
        rule=box_wins,
        paper_words="This perspective leads to novel initializations and a hybrid least "
        "squares/gradient descent optimizer.",
    ),
    claims.ClaimSpec(
        id="box-init-error",
        kind="paper",
        claim="box initialisation gives a lower error after a fixed LSGD budget than the "
        "strongest of He and Glorot (zero biases, centred inputs, small biases; oscillatory 1-D, "
        "every MLP depth)",
        where=_ABSTRACT,
        paper_value="dramatic increase in accuracy",
        unit="depths won by box against the strongest other initialisation",
        rule=box_wins,
        paper_words=_DRAMATIC,
    ),
    claims.ClaimSpec(
        id="pinn-lsgd",
        kind="paper",
        claim="the least-squares step improves PINN accuracy (1-D Poisson, u = sin(2 pi x)): "
        ">= 10x lower error than Adam after the same iterations",
        where=_ABSTRACT,
        paper_value="dramatic increase",
        unit="x (Adam error / LSGD error, geometric mean over seeds)",
        rule=ten_times,
        paper_words=_DRAMATIC,
    ),
    claims.ClaimSpec(
        id="pinn-lsgd-damped",
        kind="paper",
        claim="the least-squares step improves PINN accuracy (1-D Poisson, second problem: "
        "u = exp(-x) sin(3 pi x) + x, boundary values 0 and 1): >= 10x lower error than Adam "
        "after the same iterations",
        where=_ABSTRACT,
        paper_value="dramatic increase",
        unit="x (Adam error / LSGD error, geometric mean over seeds)",
        rule=ten_times,
        paper_words=_DRAMATIC,
    ),
    *(
        claims.ClaimSpec(
            id=f"pinn-rate{suffix}",
            kind="paper",
            claim=f"the least-squares step speeds up PINN convergence ({what}): a common target "
            "error in >= 10x fewer iterations than Adam (the target defined as for regression)",
            where=_ABSTRACT,
            paper_value="dramatic increase in convergence rate",
            unit="x fewer iterations (geometric mean over seeds)",
            rule=ten_times,
            paper_words=_DRAMATIC,
        )
        for suffix, what in (("", "u = sin(2 pi x)"), ("-damped", "u = exp(-x) sin(3 pi x) + x"))
    ),
    claims.ClaimSpec(
        id="chapter-budget",
        kind="book-goal",
        claim="the chapter runs within 15 minutes at book scale",
        where="book goal",
        paper_value=None,
        unit="minutes (up to the claims cell)",
        rule=claims.threshold(
            15,
            higher=False,
            name="within-15-minutes",
            source="book goal: a chapter must run on a laptop in a coffee break; the claim is "
            "about this run's own wall time, measured exactly (one run decides)",
            unit="min",
        ),
    ),
)

#: the smoke run's regression reference (fasttrain.core.reference): timings and the float32
#: training trajectories of LSGD, Adam and the PINN are free there (LSGD's iterations to the target:
#: 64 on AMD EPYC, 61 on Intel AVX-512, 63 with XLA capped at SSE4.2); MGRIT's float64 results are
#: bounded by the spread measured under capped instruction sets (tests/reference/04-...json)
REGRESSION = reference.Declared(
    timing=("speedup-*", "lsgd-walltime-*", "lsgd-solve-cost", "chapter-budget"),
    trajectory=(
        "lsgd-vs-adam-*",
        "pinn-lsgd",
        "box-init-error",
        "lsgd-accuracy-*",
        "pinn-rate*",
        "training-same-network-*",
    ),
    extra=("protocol/*", "multiprocess/mgrit_problem/*", "multiprocess/mgrit_deep_problem/*"),
    why={
        "speedup-*": "interleaved timing rounds",
        "lsgd-walltime-*": "timed training runs",
        "lsgd-solve-cost": "interleaved timing rounds",
        "chapter-budget": "the chapter's wall time",
        "lsgd-vs-adam-*": "iterations of float32 training to a target: 64 / 61 / 63 on three CPUs",
        "pinn-lsgd": "errors after float32 training: the verdict flips with XLA capped at SSE4.2",
        "box-init-error": "errors after float32 training: moved by 1 % with XLA capped at SSE4.2",
        "lsgd-accuracy-*": "final errors of float32 training runs (as lsgd-vs-adam-*)",
        "pinn-rate*": "iterations of float32 PINN training to a target (as pinn-lsgd)",
        "training-same-network-*": "distance between two float32 training trajectories",
    },
)


#: MGRIT variants of the convergence study: (relaxation, max levels); 99 = coarsen down to 2 steps
VARIANTS: tuple[tuple[str, int], ...] = (("F", 2), ("FCF", 2), ("F", 99), ("FCF", 99))


def variant_name(relax: str, levels: int) -> str:
    """``"FCF, two-level"`` or ``"F, multilevel"``."""
    if relax not in ("F", "FCF") or levels < 2:
        raise ValueError(f"unknown MGRIT variant ({relax!r}, {levels})")
    return f"{relax}, {'two-level' if levels == 2 else 'multilevel'}"


def _inputs(seed: int, n: int, dtype):
    return jax.random.uniform(jax.random.key(seed), (n, 2), dtype, -3.0, 3.0)


def _network(
    cfg: LayerParallelConfig, depth: int, seed: int, dtype, n_features: int = 2, n_classes: int = 5
):
    spec = LP.Spec(n_features, cfg.width, n_classes, depth, cfg.T, cfg.activation)
    return spec, LP.init_params(jax.random.key(seed), spec, cfg.init_scale, dtype=dtype)


# ----------------------------------------------------------------------------
# (1) convergence of MGRIT with depth


def convergence_study(cfg: LayerParallelConfig, seed: int, variants=None, progress: bool = False):
    """Relative residual histories of MGRIT forward propagation over ``cfg.conv_depths``.

    Returns ``(rows, histories)``: a row per depth and variant with the level
    count, the iterations to ``cfg.tol`` (``None``: not reached in
    ``cfg.conv_max_iter``), the final relative residual and the relative
    max-norm distance of the final states from serial propagation;
    ``histories[depth, relax, levels]`` is the residual history.
    """
    rows, hist = [], {}
    todo = progress_bar(
        [(N, v) for N in cfg.conv_depths for v in (variants or cfg.conv_variants)],
        desc="MGRIT convergence",
        unit="solve",
        enabled=progress,
    )
    with jax.enable_x64(True):
        x = _inputs(seed + 1, cfg.conv_batch, jnp.float64)
        refs = {}
        for N, (relax, levels) in todo:
            spec, p = _network(cfg, N, seed, jnp.float64)
            u0 = LP.open_layer(p["open"], x, spec.activation)
            if N not in refs:
                refs[N] = LP.serial_states(p["layers"], u0, spec.h, spec.activation)
            ref = refs[N]
            mc = LP.MGRITConfig(cfg.conv_cfactor, levels, relax)
            r = LP.mgrit_forward(p["layers"], u0, spec.h, mc, cfg.conv_max_iter, spec.activation)
            rel = np.asarray(r.relative)
            hist[N, relax, levels] = rel
            rows.append(
                {
                    "depth": N,
                    "variant": variant_name(relax, levels),
                    "levels": len(LP.level_sizes(N, mc)),
                    "iters_to_tol": LP.iterations_to_tol(r.residuals, cfg.tol),
                    "final_rel_residual": float(rel[-1]),
                    "max_err_vs_serial": float(
                        jnp.max(jnp.abs(r.states - ref)) / jnp.max(jnp.abs(ref))
                    ),
                }
            )
    return rows, hist


def bounded_iterations(rows, min_depth: int = 64, max_iter: int = 10) -> dict:
    """Per variant, the largest iteration count to tolerance over depths ``>= min_depth``.

    Returns ``{"per_variant": {variant: max or None}, "best": variant, "worst_of_best": int | None,
    "depths": [...], "ok": bool}``; ``None`` means some depth did not reach the tolerance.
    ``ok``: the best variant needs at most ``max_iter`` iterations at every such depth.
    """
    deep = [r for r in rows if r["depth"] >= min_depth]
    if not deep:
        raise ValueError(f"no convergence measurement at depth >= {min_depth}")
    per = {}
    for v in dict.fromkeys(r["variant"] for r in deep):
        its = [r["iters_to_tol"] for r in deep if r["variant"] == v]
        per[v] = None if any(i is None for i in its) else max(its)
    reached = {v: m for v, m in per.items() if m is not None}
    best = min(reached, key=reached.get) if reached else None
    worst = reached.get(best) if best else None
    return {
        "per_variant": per,
        "best": best,
        "worst_of_best": worst,
        "depths": sorted({r["depth"] for r in deep}),
        "ok": worst is not None and worst <= max_iter,
    }


# ----------------------------------------------------------------------------
# (2) gradients


def gradient_error(
    params, x, y, spec: LP.Spec, mgrit_cfg: LP.MGRITConfig, iterations
) -> list[dict]:
    """Relative errors of the MGRIT loss and gradient (``k`` forward and ``k`` adjoint
    iterations, cold start) against ``jax.value_and_grad`` of the serial network, per ``k``."""
    l_ref, g_ref = jax.jit(jax.value_and_grad(LP.loss_fn), static_argnums=3)(params, x, y, spec)
    g_ref = ravel_pytree(g_ref)[0]
    out = []
    for k in iterations:
        l, g, _ = LP.value_and_grad_mgrit(params, x, y, spec, mgrit_cfg, int(k), int(k))
        out.append(
            {
                "depth": spec.depth,
                "iterations": int(k),
                "loss_err": float(abs(l - l_ref) / abs(l_ref)),
                "grad_rel_err": float(
                    jnp.linalg.norm(ravel_pytree(g)[0] - g_ref) / jnp.linalg.norm(g_ref)
                ),
            }
        )
    return out


def gradient_study(cfg: LayerParallelConfig, seed: int, depths=None) -> list[dict]:
    """:func:`gradient_error` on the peaks architecture at ``depths`` (default ``cfg.grad_depths``),
    FCF two-level, float64."""
    depths = sorted(set(depths or cfg.grad_depths))
    rows = []
    with jax.enable_x64(True):
        x = _inputs(seed + 2, cfg.conv_batch, jnp.float64)
        y = jax.random.randint(jax.random.key(seed + 3), (cfg.conv_batch,), 0, 5)
        for N in depths:
            spec, p = _network(cfg, N, seed, jnp.float64)
            rows += gradient_error(
                p, x, y, spec, LP.MGRITConfig(cfg.cfactor, 2, "FCF"), cfg.grad_iters
            )
    return rows


# ----------------------------------------------------------------------------
# (3) training


def datasets(cfg: LayerParallelConfig, seed: int) -> dict:
    """The training problems: the authors' peaks and Banknote (standardised features)."""
    return {
        "peaks": load_peaks(cfg.n_train, cfg.n_test, seed),
        "banknote": load_banknote(seed, n_train=min(cfg.n_train, 1097)),
    }


def training_study(
    cfg: LayerParallelConfig,
    seed: int,
    progress: bool = False,
    iters=None,
    optimizer: str | None = None,
    steps: int | None = None,
    data=None,
) -> dict:
    """Serial training and layer-parallel training with ``k`` in ``iters`` (default
    ``cfg.train_iters``) MGRIT iterations per step (FCF, two-level, warm-started), same initial
    network, per data set (``data``: names, default all); ``optimizer``/``steps`` default to
    ``cfg.optimizer``/``cfg.train_steps``.

    Returns ``{(data, "serial" | k): TrainResult}``.
    """
    runs = {}
    for name, ds in datasets(cfg, seed).items():
        if data is not None and name not in data:
            continue
        spec = LP.Spec(
            ds.x_train.shape[1], cfg.width, ds.n_classes, cfg.depth, cfg.T, cfg.activation
        )
        p0 = LP.init_params(jax.random.key(seed), spec, cfg.init_scale)
        kw = dict(
            steps=steps or cfg.train_steps,
            lr=cfg.lr,
            optimizer=optimizer or cfg.optimizer,
            eval_every=cfg.eval_every,
            progress=progress,
        )
        runs[name, "serial"] = LP.train(p0, ds, spec, mode="serial", **kw)
        for k in cfg.train_iters if iters is None else iters:
            runs[name, k] = LP.train(
                p0,
                ds,
                spec,
                mode="mgrit",
                n_fwd=k,
                n_bwd=k,
                mgrit_cfg=LP.MGRITConfig(cfg.cfactor, 2, "FCF"),
                **kw,
            )
    return runs


def majority_accuracy(y) -> float:
    """Accuracy of always predicting the most frequent class of ``y``."""
    y = np.asarray(y)
    if y.size == 0:
        raise ValueError("no labels")
    return float(np.bincount(y).max() / y.size)


def training_seeds(cfg: LayerParallelConfig, seed: int, progress: bool = False) -> dict:
    """:func:`training_study` over ``run_seeds(cfg.seeds, seed)``: every iteration count of
    ``cfg.train_iters`` for the first seed, serial and ``cfg.n_fwd`` for the others.

    Returns ``{"runs": {seed: {(data, "serial" | k): TrainResult}}, "baseline": {(data, seed):
    majority-class test accuracy}}``.  The training steps compile once (same shapes per seed).
    """
    seeds = run_seeds(cfg.seeds, seed)
    runs, base = {}, {}
    for i, s in enumerate(seeds):
        runs[s] = training_study(cfg, s, progress, None if i == 0 else (cfg.n_fwd,))
        for name, ds in datasets(cfg, s).items():
            base[name, s] = majority_accuracy(ds.y_test)
    return {"runs": runs, "baseline": base}


def lbfgs_seeds(cfg: LayerParallelConfig, seed: int, progress: bool = False) -> dict:
    """L-BFGS (Armijo backtracking, the authors' optimiser) serial and with ``cfg.n_fwd`` MGRIT
    iterations per step, ``cfg.lbfgs_steps`` steps on ``cfg.lbfgs_data``, every seed; the same
    structure as :func:`training_seeds` (so :func:`training_measurements` applies)."""
    if cfg.lbfgs_steps < 1:
        raise ValueError("lbfgs_steps is 0 at this scale: nothing to run")
    seeds = run_seeds(cfg.seeds, seed)
    runs, base = {}, {}
    for s in seeds:
        runs[s] = training_study(
            cfg, s, progress, (cfg.n_fwd,), "lbfgs", cfg.lbfgs_steps, cfg.lbfgs_data
        )
        for name, ds in datasets(cfg, s).items():
            base[name, s] = majority_accuracy(ds.y_test)
    return {"runs": runs, "baseline": base}


def serial_equals_parallel(
    cfg: LayerParallelConfig, seed: int, optimizers=("adam", "lbfgs")
) -> list[dict]:
    """Objective histories of serial and converged layer-parallel training (peaks, float64).

    In the spirit of LayerParallelLearning's reference histories: the same initial network
    trained ``cfg.exact_steps`` steps serially and with FCF two-level MGRIT at ``depth / (2
    cfactor)`` iterations forward and adjoint per step (exact up to rounding: every F-point is
    reached by the coarse solve and FCF sweeps), per optimiser.  Returns rows with both
    histories and their largest relative difference.
    """
    if cfg.exact_steps < 1:
        raise ValueError("exact_steps is 0 at this scale: nothing to run")
    k = max(1, cfg.depth // (2 * cfg.cfactor))
    rows = []
    with jax.enable_x64(True):
        ds = datasets(cfg, seed)["peaks"]
        spec = LP.Spec(
            ds.x_train.shape[1], cfg.width, ds.n_classes, cfg.depth, cfg.T, cfg.activation
        )
        p0 = LP.init_params(jax.random.key(seed), spec, cfg.init_scale, dtype=jnp.float64)
        kw = dict(steps=cfg.exact_steps, lr=cfg.lr, eval_every=cfg.exact_steps)
        for opt in optimizers:
            a = LP.train(p0, ds, spec, optimizer=opt, mode="serial", **kw)
            b = LP.train(
                p0,
                ds,
                spec,
                optimizer=opt,
                mode="mgrit",
                n_fwd=k,
                n_bwd=k,
                mgrit_cfg=LP.MGRITConfig(cfg.cfactor, 2, "FCF"),
                **kw,
            )
            diff = np.abs(a.loss - b.loss) / np.abs(a.loss)
            rows.append(
                {
                    "optimizer": opt,
                    "steps": cfg.exact_steps,
                    "iterations": k,
                    "serial": a.loss,
                    "mgrit": b.loss,
                    "max_rel_diff": float(diff.max()),
                    "first": float(a.loss[0]),
                    "last": float(a.loss[-1]),
                }
            )
    return rows


def training_measurements(study: dict, name: str, k: int) -> dict:
    """Per-seed measurements of ``k`` MGRIT iterations per step against serial on ``name``.

    ``{"gap": accuracy (parallel - serial), "loss_ratio": final exact loss parallel / serial,
    "learnt": serial accuracy - majority class, "parallel": parallel accuracy, "serial": serial
    accuracy}``, each :func:`fasttrain.core.claims.over_seeds` (the loss ratio, strictly positive,
    on the log scale: geometric mean and its interval).
    """
    ser = {s: r[name, "serial"] for s, r in study["runs"].items()}
    par = {s: r[name, k] for s, r in study["runs"].items()}
    a_s = [float(ser[s].test_accuracy[-1]) for s in ser]
    a_p = [float(par[s].test_accuracy[-1]) for s in ser]
    l_s = [float(ser[s].exact_loss[-1]) for s in ser]
    l_p = [float(par[s].exact_loss[-1]) for s in ser]
    base = [study["baseline"][name, s] for s in ser]
    return {
        "gap": claims.over_seeds([p - q for p, q in zip(a_p, a_s, strict=True)]),
        "loss_ratio": claims.over_seeds([p / q for p, q in zip(l_p, l_s, strict=True)], log=True),
        "learnt": claims.over_seeds([q - b for q, b in zip(a_s, base, strict=True)]),
        "parallel": claims.over_seeds(a_p),
        "serial": claims.over_seeds(a_s),
    }


def same_network_measurements(study: dict, cfg: LayerParallelConfig, name: str, k: int) -> dict:
    """Per seed, how far the layer-parallel trained network (``k`` MGRIT iterations per step) is
    from the serial one on ``name``, from the same start ``theta_0``:
    ``"distance"``: ``|theta_par - theta_ser| / |theta_ser - theta_0|`` (flattened parameters) and
    ``"agree"``: the share of test points on which they predict the same class, each
    :func:`~fasttrain.core.claims.worst_case` over seeds (the statistic of
    :func:`same_trained_network`), with the per-seed lists under ``"per_seed"``."""
    dist, agree = [], []
    for s, runs in study["runs"].items():
        ds = datasets(cfg, s)[name]
        spec = LP.Spec(
            ds.x_train.shape[1], cfg.width, ds.n_classes, cfg.depth, cfg.T, cfg.activation
        )
        p0 = LP.init_params(jax.random.key(s), spec, cfg.init_scale)
        ser, par = runs[name, "serial"].params, runs[name, k].params
        v0, vs, vp = (ravel_pytree(p)[0] for p in (p0, ser, par))
        dist.append(float(jnp.linalg.norm(vp - vs) / jnp.linalg.norm(vs - v0)))
        ys = jnp.argmax(LP.forward(ser, ds.x_test, spec), -1)
        yp = jnp.argmax(LP.forward(par, ds.x_test, spec), -1)
        agree.append(float(jnp.mean(ys == yp)))
    return {
        "distance": claims.worst_case(dist, higher=False),
        "agree": claims.worst_case(agree, higher=True),
        "per_seed": {"distance": dist, "agree": agree},
    }


# ----------------------------------------------------------------------------
# (4) speed


def time_passes(
    cfg: LayerParallelConfig,
    depth: int,
    seed: int,
    variants=None,
    iterations=None,
    mesh=None,
    rounds: int | None = None,
    progress: bool = False,
) -> dict:
    """Interleaved wall times of a forward pass and of loss + gradient, serial and MGRIT.

    Serial: ``jax.jit`` of the ``lax.scan`` network and of ``jax.value_and_grad``.  MGRIT:
    :func:`~fasttrain.methods.layer_parallel.forward_mgrit` and
    :func:`~fasttrain.methods.layer_parallel.value_and_grad_mgrit` for every variant
    (``(relax, levels)``), iteration count and device layout (vectorised on
    one device; with ``mesh`` also split across its devices).  Every function is compiled by a
    first call (its time, compile + one run, is ``compile_s``), then all of them are timed in
    ``rounds`` interleaved rounds (:func:`fasttrain.core.timing.interleaved`: serial, MGRIT ...,
    serial, MGRIT ...).  Returns ``{"rows": [...], "load": [before, after], "rounds": n}``; a
    row has the median seconds and the per-round ratios serial / MGRIT (``fwd_ratios``,
    ``fwdbwd_ratios``; above 1: MGRIT faster) with their median, min and max.
    """
    variants = variants or cfg.timing_variants
    iterations = sorted(set(iterations or (cfg.n_fwd,)))
    rounds = rounds or cfg.timing_rounds
    spec, p = _network(cfg, depth, seed, jnp.float32)
    x = _inputs(seed + 4, cfg.timing_batch, jnp.float32)
    y = jax.random.randint(jax.random.key(seed + 5), (cfg.timing_batch,), 0, 5)

    def first_call(f):
        t0 = time.perf_counter()
        jax.block_until_ready(f())
        return time.perf_counter() - t0

    fwd = jax.jit(lambda p, x: LP.forward(p, x, spec))
    vg = jax.jit(lambda p, x, y: jax.value_and_grad(LP.loss_fn)(p, x, y, spec))
    fns = {("serial", "fwd"): lambda: fwd(p, x), ("serial", "vg"): lambda: vg(p, x, y)}
    meta = {"serial": {"method": "serial", "variant": "–", "iterations": None, "devices": 1}}
    compile_s = {"serial": first_call(fns["serial", "fwd"]) + first_call(fns["serial", "vg"])}
    todo = progress_bar(
        [(v, m) for v in variants for m in ([None, mesh] if mesh is not None else [None])],
        desc=f"compiling N={depth}",
        unit="variant",
        enabled=progress,
    )
    for (relax, levels), m in todo:
        mc = LP.MGRITConfig(cfg.cfactor, levels, relax)
        devices = 1 if m is None else m.size
        first_compile = None
        for k in iterations:
            kk = jnp.asarray(k, jnp.int32)
            key = (relax, levels, int(k), devices)
            fns[key, "fwd"] = lambda mc=mc, m=m, kk=kk: LP.forward_mgrit(p, x, spec, mc, kk, m)
            fns[key, "vg"] = lambda mc=mc, m=m, kk=kk: LP.value_and_grad_mgrit(
                p, x, y, spec, mc, kk, kk, mesh=m
            )[:2]
            meta[key] = {
                "method": "MGRIT",
                "variant": variant_name(relax, levels),
                "iterations": int(k),
                "devices": devices,
            }
            # the iteration count is a run-time argument: one compilation per variant and layout
            c = first_call(fns[key, "fwd"]) + first_call(fns[key, "vg"])
            first_compile = c if first_compile is None else first_compile
            compile_s[key] = first_compile
    timed = interleaved(fns, rounds=rounds, warmup=1)
    rows = []
    for key, info in meta.items():
        r_f = ratios(timed, ("serial", "fwd"), (key, "fwd"))
        r_g = ratios(timed, ("serial", "vg"), (key, "vg"))
        rows.append(
            {
                "depth": depth,
                **info,
                "compile_s": compile_s[key],
                "forward_s": float(np.median(timed["times"][key, "fwd"])),
                "fwd+bwd_s": float(np.median(timed["times"][key, "vg"])),
                "fwd_ratios": tuple(r_f),
                "fwdbwd_ratios": tuple(r_g),
                "serial/MGRIT fwd": float(np.median(r_f)),
                "fwd min": min(r_f),
                "fwd max": max(r_f),
                "serial/MGRIT fwd+bwd": float(np.median(r_g)),
            }
        )
    return {"rows": rows, "load": timed["load"], "rounds": rounds}


MODEL_VARIANTS: tuple[tuple[str, int], ...] = (("FCF", 2), ("F", 99), ("FCF", 99))


def work_model(
    depths, cfactor: int, processors, n_iter: int, variants=MODEL_VARIANTS
) -> list[dict]:
    """:func:`~fasttrain.methods.layer_parallel.critical_path` over depths, processor counts and variants."""
    return [
        {
            "depth": N,
            "P": P,
            "iterations": n_iter,
            "variant": variant_name(relax, lv),
            **LP.critical_path(N, LP.MGRITConfig(cfactor, lv, relax), P, n_iter),
        }
        for N in depths
        for relax, lv in variants
        for P in processors
    ]


def processors_for(
    depth: int, cfactor: int, speedup: float, n_iter: int, variant=("FCF", 99), max_p: int = 2**16
) -> int | None:
    """Smallest power-of-two processor count for which the work model predicts ``speedup``
    (``None``: not up to ``max_p``; the model saturates once every interval has its processor)."""
    if speedup <= 0:
        raise ValueError(f"speed-up must be positive, got {speedup}")
    mc = LP.MGRITConfig(cfactor, variant[1], variant[0])
    P = 1
    while P <= max_p:
        if LP.critical_path(depth, mc, P, n_iter)["speedup"] >= speedup:
            return P
        P *= 2
    return None


def max_model_speedup(depth: int, cfactor: int, n_iter: int, variant=("FCF", 99)) -> float:
    """The work model's speed-up with unlimited processors (one per coarse interval)."""
    mc = LP.MGRITConfig(cfactor, variant[1], variant[0])
    return LP.critical_path(depth, mc, max(1, depth // cfactor), n_iter)["speedup"]


def processors_text(depth: int, cfactor: int, speedup: float, n_iter: int, variant, max_p=2**16):
    """``"P >= 128"`` or ``"no processor count up to 65536 reaches it"`` (the work model)."""
    P = processors_for(depth, cfactor, speedup, n_iter, variant, max_p)
    return f"P >= {P}" if P is not None else f"no processor count up to {max_p} reaches it"


# ----------------------------------------------------------------------------
# part 2: least squares / gradient descent, box initialisation, PINN

METHODS: tuple[str, ...] = ("LSGD", "Adam", "GD")
_FIT_METHOD = {"LSGD": "lsgd", "Adam": "adam", "GD": "gd"}


def regression_problem(cfg: LSGDConfig, name: str, seed: int, validation: bool = False):
    """``(benchmark, system, error_fn)`` of one regression benchmark.

    ``validation=True``: the learning-rate selection's problem -- the system on the first
    ``1 - cfg.val_fraction`` of the training points, the error on the rest (the validation split
    carved from the training data; the test grid is never used).
    """
    bench = LS.benchmark(name, cfg.osc_k)
    n_tr = cfg.n_train_2d if bench.dim == 2 else cfg.n_train
    xtr, ytr, xte, yte = LS.regression_data(bench, n_tr, cfg.n_test, seed)
    if validation:
        n_fit = n_tr - max(1, int(round(cfg.val_fraction * n_tr)))
        if n_fit < 1:
            raise ValueError(f"val_fraction {cfg.val_fraction} leaves no training point")
        return (
            bench,
            LS.regression_system(xtr[:n_fit], ytr[:n_fit]),
            LS.relative_error(xtr[n_fit:], ytr[n_fit:]),
        )
    return bench, LS.regression_system(xtr, ytr), LS.relative_error(xte, yte)


def _fit(p0, system, err, method: str, cfg: LSGDConfig, steps: int, lr: float, progress: bool):
    m = _FIT_METHOD[method]
    # warm-up: compiles (or finds) the cached step, so that the timed run excludes compilation
    LS.fit(p0, system, m, 1, lr, cfg.ridge, error_fn=err, chunk=cfg.chunk)
    return LS.fit(
        p0, system, m, steps, lr, cfg.ridge, error_fn=err, chunk=cfg.chunk, progress=progress
    )


def _steps(cfg: LSGDConfig, method: str) -> int:
    return cfg.lsgd_steps if method == "LSGD" else cfg.adam_steps


def _grid(cfg: LSGDConfig, method: str) -> tuple[float, ...]:
    return cfg.gd_lr_grid if method == "GD" else cfg.lr_grid


def _select(rows: list[dict]) -> float:
    """The learning rate of the lowest validation score (diverged runs score ``inf``)."""
    best = min(rows, key=lambda r: (r["validation"], r["lr"]))
    if not math.isfinite(best["validation"]):
        raise ValueError(f"every learning rate diverged: {[r['lr'] for r in rows]}")
    return best["lr"]


def tune_lr(
    cfg: LSGDConfig, seed: int, benchmarks=None, methods=None, progress: bool = False
) -> dict:
    """Learning rate per benchmark and method, chosen on a validation split of the training data.

    Every method trains for its own budget (LSGD ``lsgd_steps``, Adam and GD ``adam_steps``) at
    every value of its grid (``lr_grid``; GD ``gd_lr_grid``: the same number of values) on the
    first ``1 - val_fraction`` of the training points, from the same box-initialised network; the
    value with the lowest relative error on the held-out rest wins (a diverged run scores
    ``inf``).  Returns ``{"rows": [{benchmark, method, lr, validation}], "chosen":
    {(benchmark name, method): lr}}``.
    """
    methods, benchmarks = methods or cfg.methods, benchmarks or cfg.benchmarks
    rows, chosen = [], {}
    todo = [(b, m) for b in benchmarks for m in methods]
    for b, m in progress_bar(todo, desc="learning rates", unit="grid", enabled=progress):
        bench, system, val = regression_problem(cfg, b, seed, validation=True)
        p0 = LS.init_mlp(
            jax.random.key(seed), bench.dim, cfg.widths, 1, "box", (bench.lo, bench.hi)
        )
        sub = []
        for lr in _grid(cfg, m):
            try:
                r = LS.fit(
                    p0, system, _FIT_METHOD[m], _steps(cfg, m), lr, cfg.ridge, chunk=cfg.chunk
                )
                score = float(val(r.params))
                score = score if math.isfinite(score) else math.inf
            except DivergenceError:
                score = math.inf
            sub.append({"benchmark": bench.name, "method": m, "lr": lr, "validation": score})
        chosen[bench.name, m] = _select(sub)
        rows += sub
    return {"rows": rows, "chosen": chosen}


def default_lrs(cfg: LSGDConfig) -> dict:
    """:func:`tune_lr`'s and :func:`tune_pinn_lr`'s result shape with the configured defaults
    (no selection; ``cfg.tune`` is off): ``{"rows": [], "chosen": ..., "pinn": ...}``."""
    chosen = {
        (LS.benchmark(b, cfg.osc_k).name, m): cfg.gd_lr if m == "GD" else cfg.lr
        for b in cfg.benchmarks
        for m in cfg.methods
    }
    return {"rows": [], "chosen": chosen, "pinn": {"LSGD": cfg.pinn_lr, "Adam": cfg.pinn_lr}}


def regression_study(
    cfg: LSGDConfig,
    seed: int,
    benchmarks=None,
    methods=None,
    progress: bool = False,
    lrs: dict | None = None,
) -> dict:
    """``{benchmark name: {method: FitResult}}`` for ``methods`` (default ``cfg.methods``, from LSGD,
    Adam and GD) from the same box-initialised MLP; ``lrs``: ``{(benchmark name, method): lr}``
    (:func:`tune_lr`'s ``chosen``), else ``cfg.lr`` / ``cfg.gd_lr``; ``benchmarks``: default
    ``cfg.benchmarks``."""
    methods, benchmarks = methods or cfg.methods, benchmarks or cfg.benchmarks
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown method(s) {sorted(unknown)}: choose from {METHODS}")
    out = {}
    for b in benchmarks:
        bench, system, err = regression_problem(cfg, b, seed)
        p0 = LS.init_mlp(
            jax.random.key(seed), bench.dim, cfg.widths, 1, "box", (bench.lo, bench.hi)
        )
        runs = {}
        for m in methods:
            default = cfg.gd_lr if m == "GD" else cfg.lr
            lr = (lrs or {}).get((bench.name, m), default)
            runs[m] = _fit(p0, system, err, m, cfg, _steps(cfg, m), lr, progress)
        out[bench.name] = runs
    return out


def final_errors(
    cfg: LSGDConfig, seeds, lrs: dict | None = None, benchmarks=None, solver: str = "qr"
) -> dict:
    """Final test errors of LSGD with ``solver`` (default the previous edition's QR solve), same
    protocol as :func:`regression_study` (box initialisation, ``lsgd_steps``, the tuned learning
    rate): ``{benchmark name: {seed: error}}`` (the accuracy check of the Cholesky solve)."""
    out = {}
    for b in benchmarks or cfg.benchmarks:
        for s in seeds:
            bench, system, err = regression_problem(cfg, b, s)
            p0 = LS.init_mlp(
                jax.random.key(s), bench.dim, cfg.widths, 1, "box", (bench.lo, bench.hi)
            )
            lr = (lrs or {}).get((bench.name, "LSGD"), cfg.lr)
            r = LS.fit(
                p0,
                system,
                "lsgd",
                cfg.lsgd_steps,
                lr,
                cfg.ridge,
                error_fn=err,
                solver=solver,
                chunk=cfg.chunk,
            )
            out.setdefault(bench.name, {})[s] = float(r.error[-1])
    return out


def qr_errors(cfg: LSGDConfig, seeds, lrs: dict | None = None, benchmarks=None) -> dict:
    """:func:`final_errors` with the QR solve."""
    return final_errors(cfg, seeds, lrs, benchmarks, "qr")


def accuracy_measurement(chol: dict, qr: dict) -> dict:
    """Per benchmark, the log10 ratio of final errors Cholesky / QR over the seeds both have:
    ``{benchmark: Measurement}`` (:func:`~fasttrain.core.claims.over_seeds`; the statistic of
    :func:`cheap_and_as_accurate`'s accuracy criterion)."""
    out = {}
    for b, e_q in qr.items():
        seeds = [s for s in e_q if s in chol.get(b, {})]
        if not seeds:
            raise ValueError(f"{b}: no seed with both solves")
        out[b] = claims.over_seeds([math.log10(chol[b][s] / e_q[s]) for s in seeds])
    return out


def iteration_cost(cfg: LSGDConfig, name: str, seed: int, lrs: dict | None = None) -> dict:
    """Interleaved wall times of ``cfg.cost_steps`` iterations of LSGD (Cholesky) and of Adam,
    ``cfg.cost_steps // 5`` iterations of LSGD with the previous QR solve (five times slower per
    iteration), and of the fixed cost of a fit (0 iterations: the first solve, the first loss and
    error, the host syncs) of LSGD and Adam, on one benchmark (the study's fits, error evaluation
    included), ``cfg.cost_rounds`` rounds after an untimed warm-up call of each, BLAS pinned.

    Returns per-round ratios ``"lsgd/adam"`` (an LSGD iteration in Adam steps, both calls of
    ``cost_steps`` iterations) and ``"qr/cholesky"`` (per iteration: the speed-up of the Cholesky
    solve), the median seconds per iteration, the fixed cost's share of a timed call
    (``"overhead"``, per method: median fixed-cost time over the median call time), the step
    counts and the load average.
    """
    bench, system, err = regression_problem(cfg, name, seed)
    p0 = LS.init_mlp(jax.random.key(seed), bench.dim, cfg.widths, 1, "box", (bench.lo, bench.hi))
    lr = {m: (lrs or {}).get((bench.name, m), cfg.lr) for m in ("LSGD", "Adam")}
    n, n_qr = cfg.cost_steps, max(1, cfg.cost_steps // 5)

    def run(method, steps, solver="cholesky"):
        return lambda: (
            LS.fit(
                p0,
                system,
                method,
                steps,
                lr["LSGD" if method == "lsgd" else "Adam"],
                cfg.ridge,
                error_fn=err,
                solver=solver,
                chunk=cfg.chunk,
            ).loss
        )

    fns = {
        "LSGD": run("lsgd", n),
        "LSGD (QR)": run("lsgd", n_qr, "qr"),
        "Adam": run("adam", n),
        "LSGD, fixed": run("lsgd", 0),
        "Adam, fixed": run("adam", 0),
    }
    timed = interleaved(fns, rounds=cfg.cost_rounds, warmup=1)
    t = timed["times"]
    med = {k: float(np.median(v)) for k, v in t.items()}
    steps = {"LSGD": n, "LSGD (QR)": n_qr, "Adam": n}
    return {
        "benchmark": bench.name,
        "lsgd/adam": ratios(timed, "LSGD", "Adam"),
        "qr/cholesky": [
            (q / n_qr) / (c / n) for q, c in zip(t["LSGD (QR)"], t["LSGD"], strict=True)
        ],
        "ms_per_it": {k: 1e3 * med[k] / steps[k] for k in steps},
        "fixed_ms": {k: 1e3 * med[f"{k}, fixed"] for k in ("LSGD", "Adam")},
        "overhead": {k: med[f"{k}, fixed"] / med[k] for k in ("LSGD", "Adam")},
        "steps": steps,
        "load": timed["load"],
        "rounds": cfg.cost_rounds,
    }


def iteration_ratio(lsgd, adam, shrink: float = 2.0) -> dict:
    """Iterations LSGD and Adam need to a common target error, and their ratio.

    Target ``eps = min(Adam's final error, e0 / shrink)``, with ``e0`` the
    error of LSGD's first record (the least-squares fit on the initial,
    untrained basis).  The second term keeps the comparison from being
    satisfied by that single solve: LSGD must improve its own random-feature
    fit by training the basis.  Iterations: Adam ``k_A`` = first step with
    error <= eps; LSGD ``k_L`` = first record with error <= eps, plus one (the
    first solve counts), so ``k_L >= 2`` and the ratio never divides by zero.
    If Adam never reaches ``eps`` (when it is below Adam's final error),
    ``ratio`` is the lower bound ``(Adam's steps + 1) / k_L`` and ``bound`` is
    ``">"``; if LSGD never reaches it, ``ratio`` is ``None``.
    Times: iterations times the measured wall time per iteration of each run.
    """
    if shrink <= 1:
        raise ValueError(f"shrink must exceed 1, got {shrink}")
    e_l, e_a = np.asarray(lsgd.error, float), np.asarray(adam.error, float)
    if not (np.all(np.isfinite(e_l)) and np.all(np.isfinite(e_a))):
        raise ValueError("error histories must be finite: pass error_fn to fit")
    e0, final_a = float(e_l[0]), float(e_a[-1])
    eps = min(final_a, e0 / shrink)
    hit_a, hit_l = LS.iterations_to_reach(e_a, eps), LS.iterations_to_reach(e_l, eps)
    k_l = None if hit_l is None else hit_l + 1
    steps_a, steps_l = len(e_a) - 1, len(e_l) - 1
    per_a = adam.wall_time / max(steps_a, 1)
    per_l = lsgd.wall_time / max(steps_l + 1, 1)
    out = {
        "target": eps,
        "target_is": "Adam's final error" if eps == final_a else f"e0 / {shrink:g}",
        "e0": e0,
        "adam_final": final_a,
        "lsgd_final": float(e_l[-1]),
        "k_adam": hit_a,
        "k_lsgd": k_l,
        "ratio": None,
        "bound": "=",
        "time_ratio": None,
        "s_per_it_adam": per_a,
        "s_per_it_lsgd": per_l,
    }
    if k_l is None:
        return out
    if hit_a is None:
        out["ratio"], out["bound"] = (steps_a + 1) / k_l, ">"
        out["time_ratio"] = (steps_a + 1) * per_a / (k_l * per_l)
    else:
        out["ratio"] = max(hit_a, 1) / k_l
        out["time_ratio"] = max(hit_a, 1) * per_a / (k_l * per_l)
    return out


def lsgd_measurement(infos) -> tuple[Measurement, dict]:
    """Per-seed :func:`iteration_ratio` results -> ``(log10 ratios over seeds, context)``.

    Seeds where LSGD never reached the target are left out of the measurement and counted in
    the context's ``unreached`` (the rule then gives at most "partly"); if no seed reached it the
    measurement is a placeholder and ``reached`` is 0.  Where Adam never reached the target the
    seed's ratio is a lower bound (``bound`` ">"), which makes the mean conservative.
    """
    infos = list(infos)
    logs = [math.log10(i["ratio"]) for i in infos if i["ratio"] is not None]
    ctx = {"unreached": len(infos) - len(logs), "reached": len(logs)}
    if not logs:
        m = claims.exact(0.0, how="no seed reached the target")
        if len(infos) == 1:
            m = Measurement(m.values, m.center, None, None, m.how, claims.ONE_RUN)
        return m, ctx
    return claims.over_seeds(logs), ctx


def time_to_target(
    cfg: LSGDConfig, name: str, seed: int, info: dict, lrs: dict | None = None
) -> dict:
    """Wall time of LSGD's and Adam's runs to the common target error, end to end.

    ``info``: the seed's :func:`iteration_ratio`.  Each run is the study's own fit (same data,
    initial network and learning rate, error evaluated every iteration as in the study) stopped at
    the iteration that reaches the target: LSGD ``k_lsgd - 1`` gradient steps after its first solve,
    Adam ``k_adam`` steps (where Adam never reached the target, its whole budget: the ratio is then
    a lower bound, ``bound`` ">").  So every fixed cost of a run is inside the time: the first
    least-squares solve, the first loss and error, the host syncs between compiled chunks.  Both
    runs are timed in ``cfg.wall_rounds`` interleaved rounds after an untimed warm-up call of each
    (compilation never in a time), BLAS pinned.  Returns ``{"ratios": per-round Adam / LSGD,
    "seconds": {method: median}, "steps": {method: steps}, "reached": whether the timed LSGD run
    ends at or below the target, "bound", "load"}``, or ``None`` when LSGD never reached the
    target (nothing to time).
    """
    if info["k_lsgd"] is None:
        return None
    bench, system, err = regression_problem(cfg, name, seed)
    p0 = LS.init_mlp(jax.random.key(seed), bench.dim, cfg.widths, 1, "box", (bench.lo, bench.hi))
    lr = {m: (lrs or {}).get((bench.name, m), cfg.lr) for m in ("LSGD", "Adam")}
    steps = {
        "LSGD": int(info["k_lsgd"]) - 1,
        "Adam": cfg.adam_steps if info["k_adam"] is None else max(int(info["k_adam"]), 1),
    }

    def run(m):
        return lambda: (
            LS.fit(
                p0,
                system,
                _FIT_METHOD[m],
                steps[m],
                lr[m],
                cfg.ridge,
                error_fn=err,
                chunk=cfg.chunk,
            ).error
        )

    fns = {m: run(m) for m in ("LSGD", "Adam")}
    reached = bool(fns["LSGD"]()[-1] <= info["target"])
    timed = interleaved(fns, rounds=cfg.wall_rounds, warmup=1)
    return {
        "ratios": ratios(timed, "Adam", "LSGD"),
        "seconds": {k: float(np.median(v)) for k, v in timed["times"].items()},
        "steps": steps,
        "reached": reached,
        "bound": info["bound"],
        "load": timed["load"],
    }


def walltime_measurement(timed) -> tuple[Measurement, dict]:
    """Per-seed :func:`time_to_target` results -> ``(log10 wall-time ratios over seeds, context)``.

    Each seed's value is the log10 of the median of its per-round ratios Adam / LSGD (the run to
    the target timed end to end); the measurement is :func:`~fasttrain.core.claims.over_seeds` of
    these logs: the geometric mean over seeds with the t-interval of the mean log (the claim is
    about the typical run; seeds differ by factors of several, rounds by per cents, so the seed
    interval carries the timing noise too).  With fewer than 6 rounds a seed's median has no 95 %
    interval and the measurement is ``limited`` (at most "inconclusive").  Seeds where LSGD never
    reached the target (``None``) are counted in the context's ``unreached``, as in
    :func:`lsgd_measurement`; a seed where Adam never reached it is a lower bound.
    """
    timed = list(timed)
    got = [t for t in timed if t is not None]
    ctx = {"unreached": len(timed) - len(got), "reached": len(got)}
    if not got:
        return claims.exact(0.0, how="no seed reached the target"), ctx
    logs = [math.log10(float(np.median(t["ratios"]))) for t in got]
    m = claims.over_seeds(logs)
    rounds = min(len(t["ratios"]) for t in got)
    how = f"{m.how}; each seed the median of {rounds} interleaved rounds, run to target end to end"
    limited = m.limited
    if not limited and claims.median_ranks(rounds) is None:
        limited = f"{rounds} rounds per seed: a 95% interval of a seed's median needs 6"
    return Measurement(m.values, m.center, m.interval, m.spread, how, limited), ctx


def per_iteration_walltime(infos, cost) -> Measurement:
    """The previous edition's wall-time estimate, kept as a labelled analysis: per-seed iteration
    ratios Adam / LSGD divided by the median cost of an LSGD iteration in Adam steps (log10, over
    seeds).  It leaves out every fixed cost of a run (the first solve, host syncs), so it
    overstates LSGD's lead for runs of a few dozen iterations; no verdict uses it."""
    it, ctx = lsgd_measurement(infos)
    if ctx["reached"] == 0:
        return it
    med = math.log10(float(np.median(cost)))
    return claims.over_seeds([v - med for v in it.values])


def ratio_shown(m: Measurement) -> str:
    """A measurement of log10 ratios as ``"60x [40, 90]"`` (geometric mean and its interval)."""
    out = f"{10**m.center:.3g}x"
    if m.interval is not None:
        out += f" [{10**m.lo:.3g}, {10**m.hi:.3g}]"
    return out


# ----------------------------------------------------------------------------
# initialisation


def init_study(cfg: LSGDConfig, seed: int, progress: bool = False) -> list[dict]:
    """Dead ReLUs at initialisation and error after ``cfg.init_steps`` LSGD iterations.

    MLPs with ``depth`` hidden layers of width ``cfg.widths[0]`` on the
    oscillatory 1-D benchmark, for every initialisation and every seed of ``cfg.dead_seeds``
    (dead fraction) -- trained, and their error recorded, for the seeds of ``cfg.init_seeds``
    only (``error`` is ``None`` for the others); plus the ResNet variant's dead fraction (no
    training, ``cfg.init_seeds``).  A neuron is dead if its pre-activation is <= 0 at every test
    point.
    """
    bench, system, err = regression_problem(cfg, "osc1d", seed)
    x = err.x
    seeds = run_seeds(sorted(set(cfg.dead_seeds) | set(cfg.init_seeds)), seed)
    trained = set(run_seeds(cfg.init_seeds, seed))
    todo = [("MLP", d, m, s) for d in cfg.init_depths for m in cfg.init_methods for s in seeds]
    todo += [
        ("ResNet", d, m, s)
        for d in cfg.resnet_depths
        for m in cfg.init_methods
        for s in sorted(trained)
    ]
    if progress:
        from tqdm.auto import tqdm

        todo = tqdm(todo, desc="initialisations", unit="net", leave=False)
    rows = []
    for net, depth, method, s in todo:
        t0 = time.perf_counter()
        key = jax.random.key(s)
        error = None
        if net == "MLP":
            p0 = LS.init_mlp(
                key, bench.dim, (cfg.widths[0],) * depth, 1, method, (bench.lo, bench.hi)
            )
        else:
            p0 = LS.init_resnet_box(
                key, bench.dim, cfg.widths[0], depth, 1, (bench.lo, bench.hi), method
            )
        if net == "MLP" and s in trained:
            e = LS.fit(
                p0, system, "lsgd", cfg.init_steps, cfg.lr, cfg.ridge, error_fn=err, chunk=cfg.chunk
            ).error
            error = float(e[-1])
        rows.append(
            {
                "net": net,
                "depth": depth,
                "init": method,
                "seed": s,
                "dead": LS.dead_fraction(p0, x)["total"],
                "error": error,
                "seconds": time.perf_counter() - t0,
            }
        )
    return rows


def seeds_to_settle(m: Measurement, bar: float = 0.0, level: float = 0.95) -> int | None:
    """Seeds at which the t-interval of the mean of ``m`` (its values' mean and sd) would exclude
    ``bar``, if the mean and sd held: the smallest ``n`` with ``t(n-1) sd / sqrt(n) < |mean -
    bar|`` (``None``: a mean on the bar, or more than 10 000 seeds)."""
    from scipy import stats

    v = np.asarray(m.values, float)
    if len(v) < 2:
        return None
    mean, sd = float(v.mean()) - bar, float(v.std(ddof=1))
    if mean == 0:
        return None
    if sd == 0:
        return len(v)
    for n in range(2, 10_001):
        if float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n) < abs(mean):
            return n
    return None


def settle_text(m: Measurement, bars, seconds_per_seed: float, log: bool = True) -> str:
    """For a seed measurement whose interval straddles one of ``bars``: the seeds that would
    settle it if mean and sd held (:func:`seeds_to_settle`) and their cost at ``seconds_per_seed``;
    ``""`` when no bar is straddled.  ``log``: ``m`` and ``bars`` are log10 ratios (the bar is
    shown as a factor)."""
    out = []
    for bar in bars:
        if m.limited or m.lo <= bar <= m.hi:
            n = seeds_to_settle(m, bar)
            b = f"{10**bar:.3g}x" if log else f"{bar:g}"
            if n is None:
                out.append(f"open against {b}: the mean sits on it, no seed count settles it")
                continue
            extra = max(n - len(m.values), 0)
            out.append(
                f"open against {b}: about {n} seeds would settle it if mean and sd held "
                f"({extra} more, about {extra * seconds_per_seed:.0f} s at "
                f"{seconds_per_seed:.2g} s per seed)"
            )
    return "; ".join(out)


def box_open_cost(cmp: Comparison, rows, quantity: str) -> str:
    """What would settle each open case of a :func:`box_wins` comparison, and what it would cost:
    the seeds at which its interval would exclude 0 if mean and sd held (:func:`seeds_to_settle`)
    and the extra seconds at the measured cost of one seed of :func:`init_study` (the median over
    seeds of the seconds of its rows; ``quantity="error"``: the trained seeds only)."""
    per_seed: dict = {}
    for r in rows:
        if r["net"] == "MLP" and (quantity != "error" or _present(r["error"])):
            per_seed[r["seed"]] = per_seed.get(r["seed"], 0.0) + r.get("seconds", 0.0)
    cost = float(np.median(list(per_seed.values()))) if per_seed else 0.0
    out = []
    for k, x in cmp.cases:
        if x.limited or (x.lo <= 0 < x.hi):
            n = seeds_to_settle(x)
            have = len(x.values)
            if n is None:
                out.append(f"{k} open, mean 0: no number of seeds would settle it")
            else:
                extra = max(n - have, 0)
                out.append(
                    f"{k} open: about {n} seeds would settle it if mean and sd held "
                    f"({extra} more, about {extra * cost:.0f} s at {cost:.2g} s per seed)"
                )
    return "; ".join(out) if out else "no case open"


def _present(v) -> bool:
    """A measured number (not ``None``, not NaN)."""
    return v is not None and math.isfinite(float(v))


def init_comparison(
    rows, quantity: str, reference: str = "box", against: str = "strongest"
) -> Comparison:
    """Box against the other initialisations at every MLP depth, over seeds.

    ``rows``: :func:`init_study`'s per-seed rows; ``quantity``: ``"dead"`` (advantage: other's
    dead fraction minus box's) or ``"error"`` (advantage: log10 of other's error over box's);
    ``against``: ``"strongest"`` (per depth, the other initialisation with the smallest mean
    advantage of box, i.e. the best competitor -- the verdicts are decided against it) or
    ``"each"`` (every other initialisation, a case each).
    """
    if against not in ("strongest", "each"):
        raise ValueError(f"against must be 'strongest' or 'each', got {against!r}")
    # rows without the quantity (seeds counted for dead ReLUs only: error None, or NaN from pandas)
    mlp = [r for r in rows if r["net"] == "MLP" and _present(r[quantity])]
    if not mlp:
        raise ValueError("no MLP rows")
    key = {(r["depth"], r["init"], r["seed"]): r[quantity] for r in mlp}
    cases = []
    for d in sorted({r["depth"] for r in mlp}):
        seeds = sorted({r["seed"] for r in mlp if r["depth"] == d})
        inits = sorted({r["init"] for r in mlp if r["depth"] == d} - {reference})
        if (d, reference, seeds[0]) not in key or not inits:
            raise ValueError(f"depth {d}: need {reference!r} and at least one other initialisation")
        per = {}
        for o in inits:
            if quantity == "error":
                adv = [math.log10(key[d, o, s] / key[d, reference, s]) for s in seeds]
            else:
                adv = [key[d, o, s] - key[d, reference, s] for s in seeds]
            per[o] = claims.over_seeds(adv)
        if against == "strongest":
            o = min(per, key=lambda k: (per[k].center, k))
            cases.append((f"depth {d} vs {o} (strongest)", per[o]))
        else:
            cases += [(f"depth {d} vs {o}", m) for o, m in per.items()]
    return Comparison(tuple(cases))


# ----------------------------------------------------------------------------
# physics-informed example


def _pinn_setup(cfg: LSGDConfig, problem: str, seed: int):
    pr = LS.poisson_problem(problem)
    x_int = jnp.linspace(0.0, 1.0, cfg.pinn_collocation + 2)[1:-1]
    p0 = LS.init_mlp(jax.random.key(seed), 1, cfg.pinn_widths, 1, "glorot")
    return pr, x_int, p0


def tune_pinn_lr(cfg: LSGDConfig, problem: str, seed: int) -> dict:
    """LSGD's and Adam's learning rates for one Poisson problem, chosen from ``cfg.lr_grid``.

    Validation split carved from the training data: every ``k``-th interior collocation point
    (``cfg.pinn_val`` of them) is held out; each method trains ``cfg.pinn_steps`` iterations on
    the rest, and the value with the lowest PINN loss (PDE residual and boundary rows) on the
    held-out points wins.  The exact solution and the evaluation grid are never used.
    Returns ``{"rows": [...], "chosen": {method: lr}}``.
    """
    pr, x_int, p0 = _pinn_setup(cfg, problem, seed)
    n = x_int.shape[0]
    if not 0 < cfg.pinn_val < n:
        raise ValueError(f"pinn_val must be in [1, {n - 1}], got {cfg.pinn_val}")
    held = np.zeros(n, bool)
    held[np.linspace(1, n - 2, cfg.pinn_val).round().astype(int)] = True
    fit_sys = LS.poisson_system(x_int[~held], pr, "tanh", cfg.pinn_beta)
    val_sys = LS.poisson_system(x_int[held], pr, "tanh", cfg.pinn_beta)
    rows, chosen = [], {}
    for m in ("LSGD", "Adam"):
        sub = []
        for lr in cfg.lr_grid:
            try:
                r = LS.fit(
                    p0, fit_sys, _FIT_METHOD[m], cfg.pinn_steps, lr, cfg.ridge, chunk=cfg.chunk
                )
                score = float(LS.quadratic_loss(r.params, val_sys))
                score = score if math.isfinite(score) else math.inf
            except DivergenceError:
                score = math.inf
            sub.append({"problem": pr.name, "method": m, "lr": lr, "validation": score})
        chosen[m] = _select(sub)
        rows += sub
    return {"rows": rows, "chosen": chosen}


def pinn_study(
    cfg: LSGDConfig,
    seed: int,
    progress: bool = False,
    problem: str = "sin",
    lrs: dict | None = None,
) -> dict:
    """1-D Poisson PINN, LSGD against Adam from the same Glorot-initialised tanh MLP.

    ``lrs``: ``{method: lr}`` (:func:`tune_pinn_lr`), else ``cfg.pinn_lr``.
    Returns ``{"LSGD": FitResult, "Adam": FitResult, "x": evaluation points, "u": exact solution}``.
    """
    pr, x_int, p0 = _pinn_setup(cfg, problem, seed)
    system = LS.poisson_system(x_int, pr, "tanh", cfg.pinn_beta)
    x_eval = jnp.linspace(0.0, 1.0, 201)[:, None]
    u = pr.u(x_eval)
    err = LS.relative_error(x_eval, u, "tanh")
    out = {
        m: _fit(p0, system, err, m, cfg, cfg.pinn_steps, (lrs or {}).get(m, cfg.pinn_lr), progress)
        for m in ("LSGD", "Adam")
    }
    return {**out, "x": np.asarray(x_eval[:, 0]), "u": np.asarray(u[:, 0])}


def pinn_seeds(
    cfg: LSGDConfig, seed: int, progress: bool = False, problem: str = "sin", lrs=None
) -> dict:
    """:func:`pinn_study` for every seed of ``run_seeds(cfg.pinn_seeds, seed)``: ``{seed: study}``."""
    return {s: pinn_study(cfg, s, progress, problem, lrs) for s in run_seeds(cfg.pinn_seeds, seed)}


# ----------------------------------------------------------------------------
# the chapter's tables and the claims a scale does not run


def regression_rows(reg_seeds: dict, ratio_seeds: dict, wall: dict, cost_med: dict) -> list[dict]:
    """The per-seed table of section (5): final errors, the iteration ratio, the wall-time ratio
    of the runs to the target timed end to end (:func:`time_to_target`, median of rounds) and,
    labelled as an estimate, the previous edition's iterations x median cost per iteration."""
    rows = []
    for b, infos in ratio_seeds.items():
        for s, i, t in zip(reg_seeds, infos, wall[b], strict=True):
            bound = "> " if i["bound"] == ">" else ""
            never = i["ratio"] is None
            rows.append(
                {
                    "benchmark": b,
                    "seed": s,
                    **{f"{m}_final": float(r.error[-1]) for m, r in reg_seeds[s][b].items()},
                    "e0": i["e0"],
                    "target": i["target"],
                    "k_lsgd": i["k_lsgd"],
                    "k_adam": "never" if i["k_adam"] is None else i["k_adam"],
                    "ratio": "LSGD never" if never else f"{bound}{i['ratio']:.3g}",
                    "lsgd_ms": None if t is None else 1e3 * t["seconds"]["LSGD"],
                    "adam_ms": None if t is None else 1e3 * t["seconds"]["Adam"],
                    "time_ratio": "LSGD never"
                    if t is None
                    else f"{bound}{float(np.median(t['ratios'])):.3g}",
                    "estimate": "LSGD never" if never else f"{bound}{i['ratio'] / cost_med[b]:.3g}",
                }
            )
    return rows


def not_run_reason(cid: str, scale: str, lp: LayerParallelConfig, ls: LSGDConfig) -> str:
    """Why scale ``scale`` (settings ``lp``, ``ls``) does not measure declared claim ``cid``: the
    reason its rule's "not testable here" precondition is recorded with.  Raises ``ValueError``
    for a claim that every scale measures (then its absence is a defect, not a precondition)."""
    benches = [LS.benchmark(n, ls.osc_k).name for n in ls.benchmarks]
    if cid.startswith(("speedup-forward-N", "speedup-backward-N")):
        if int(cid.rsplit("-N", 1)[1]) not in lp.timing_depths:
            return f"scale {scale!r} times depths {', '.join(map(str, lp.timing_depths))} only"
    if cid.startswith("training-lbfgs-") and not lp.lbfgs_steps:
        return f"scale {scale!r} runs no L-BFGS training (lbfgs_steps = 0)"
    if cid == "mgrit-training-equals-serial" and not lp.exact_steps:
        return f"scale {scale!r} runs no serial-equals-parallel check (exact_steps = 0)"
    for prefix in ("lsgd-vs-adam-", "lsgd-walltime-", "lsgd-accuracy-"):
        if cid.startswith(prefix) and cid[len(prefix) :] not in benches:
            return f"scale {scale!r} runs the benchmarks {', '.join(benches)} only"
    for prefix in ("pinn-lsgd", "pinn-rate"):
        if cid.startswith(prefix):
            pr = cid[len(prefix) + 1 :] or "sin"
            if pr not in ls.pinn_problems:
                return (
                    f"scale {scale!r} runs the Poisson problems {', '.join(ls.pinn_problems)} only"
                )
    raise ValueError(f"claim {cid!r} is measured at every scale: its absence is a defect")
