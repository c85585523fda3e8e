"""Chapter 04: the settings per scale (:class:`LayerParallelConfig`, :class:`LSGDConfig`), the
seeds and part 1's data sets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from ...core.data import load_banknote, load_peaks
from ...core.scales import pick
from ...core.tables import setting
from ...methods import lsgd as LS
from .. import multiprocess_study as mps

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

    width: int = field(
        default=8,
        metadata=setting("ODE-ResNet width / training depth", "{width} / {depth}", order=1),
    )
    depth: int = 32
    T: float = 1.0
    activation: str = "tanh"
    init_scale: float = 1.0
    n_train: int = field(
        default=5000,
        metadata=setting(
            "training points / test points / Adam steps",
            "{n_train} / {n_test} / {train_steps}",
            order=3,
        ),
    )
    n_test: int = 200
    train_steps: int = 300
    lr: float = 1e-2
    optimizer: str = "adam"
    cfactor: int = 4
    n_fwd: int = 2
    n_bwd: int = 2
    eval_every: int = 10
    conv_depths: tuple[int, ...] = field(
        default=(32, 64, 128, 256, 512, 1024),
        metadata=setting("convergence depths", "{}", order=2),
    )
    conv_batch: int = 64
    conv_max_iter: int = 15
    conv_cfactor: int = 4
    conv_variants: tuple[tuple[str, int], ...] = (("F", 2), ("FCF", 2), ("F", 99), ("FCF", 99))
    tol: float = 1e-8
    grad_iters: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 12)
    grad_depths: tuple[int, ...] = (32, 1024)
    train_iters: tuple[int, ...] = (1, 2, 3)
    acc_tol: float = 0.03
    timing_depths: tuple[int, ...] = field(
        default=(512, 1024), metadata=setting("timing depths", "{}", order=6)
    )
    timing_batch: int = 64
    timing_rounds: int = field(
        default=9,
        metadata=setting(
            "interleaved timing rounds: speed / LSGD cost (iterations per call) / runs to the target",
            "{timing_rounds} / {ls.cost_rounds} ({ls.cost_steps}) / {ls.wall_rounds}",
            order=7,
        ),
    )
    timing_variants: tuple[tuple[str, int], ...] = (("FCF", 2), ("FCF", 99))
    timing_sharded: bool = True
    processors: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
    seed: int = 0
    seeds: tuple[int, ...] = field(
        default=(0, 1, 2, 3, 4), metadata=setting("training seeds", len, order=4)
    )
    mp_processes: tuple[int, ...] = field(
        default=(1, 2, 4),
        metadata=setting(
            "across processes: process counts × interleaved rounds",
            "{mp_processes} × {mp_rounds}",
            order=8,
        ),
    )
    mp_rounds: int = 2
    mp_mgrit_args: tuple[str, ...] = ()
    mp_allgather_args: tuple[str, ...] = ()
    lbfgs_steps: int = field(
        default=50,
        metadata=setting(
            "L-BFGS steps / serial-equals-parallel check steps (0: skipped)",
            "{lbfgs_steps} / {exact_steps}",
            order=5,
        ),
    )
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
    widths: tuple[int, ...] = field(
        default=(32, 32),
        metadata=setting("MLP widths (regression)", lambda w: " x ".join(map(str, w)), order=2),
    )
    n_train: int = 256
    n_train_2d: int = 1024
    n_test: int = 512
    adam_steps: int = 3000
    lsgd_steps: int = field(
        default=1000,
        metadata=setting(
            "LSGD / Adam iterations (regression)", "{lsgd_steps} / {adam_steps}", order=1
        ),
    )
    lr: float = 1e-3
    gd_lr: float = 0.05
    lr_grid: tuple[float, ...] = field(
        default=(1e-4, 3e-4, 1e-3, 3e-3, 1e-2),
        metadata=setting(
            "learning-rate grid: Adam and LSGD / GD (validation share of the training points)",
            "{lr_grid:g} / {gd_lr_grid:g} ({val_fraction:.0%})",
            order=4,
        ),
    )
    gd_lr_grid: tuple[float, ...] = (0.005, 0.015, 0.05, 0.15, 0.5)
    val_fraction: float = 0.25
    tune: bool = True
    cost_steps: int = 1000
    cost_rounds: int = 7
    wall_rounds: int = 7
    ridge: float = 1e-10
    osc_k: int = 4
    chunk: int = 100
    init_methods: tuple[str, ...] = field(
        default=LS.INITS, metadata=setting("initialisations compared", "{}", order=5)
    )
    init_depths: tuple[int, ...] = field(
        default=(1, 2, 4, 8),
        metadata=setting(
            "initialisation study: depths / LSGD iterations",
            "{init_depths} / {init_steps}",
            order=3,
        ),
    )
    init_steps: int = 500
    resnet_depths: tuple[int, ...] = (4, 16, 64)
    pinn_widths: tuple[int, ...] = (32, 32)
    pinn_collocation: int = 64
    pinn_steps: int = 1000
    pinn_lr: float = 1e-3
    pinn_beta: float = 1.0
    pinn_problems: tuple[str, ...] = field(
        default=("sin", "damped"),
        metadata=setting("PINN problems / iterations", "{pinn_problems} / {pinn_steps}", order=6),
    )
    pinn_val: int = 16
    seeds: tuple[int, ...] = field(
        default=(0, 1, 2, 3, 4),
        metadata=setting(
            "seeds: regression / Cholesky-vs-QR accuracy / initialisation, trained (dead "
            "ReLUs) / PINN",
            "{seeds!n} / {accuracy_seeds!n} / {init_seeds!n} ({dead_seeds!n}) / {pinn_seeds!n}",
            order=7,
        ),
    )
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
# part 1's data sets


def datasets(cfg: LayerParallelConfig, seed: int) -> dict:
    """The training problems: the authors' peaks and Banknote (standardised features)."""
    return {
        "peaks": load_peaks(cfg.n_train, cfg.n_test, seed),
        "banknote": load_banknote(seed, n_train=min(cfg.n_train, 1097)),
    }


class Config(NamedTuple):
    """Both parts' settings at one scale: what the evidence map and the chapter's sentences read."""

    scale: str
    lp: LayerParallelConfig
    ls: LSGDConfig


def config(scale: str) -> Config:
    """Part 1's and part 2's settings of ``scale`` (:func:`lp_config`, :func:`lsgd_config`)."""
    return Config(scale, lp_config(scale), lsgd_config(scale))
