"""Chapter 01: :class:`Config` per scale and the data sets (loaders, Banknote with raw features)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...core import data as data_mod
from ...core.scales import pick
from ...core.tables import setting


@dataclass(frozen=True)
class DataSetup:
    name: str = field(
        metadata=setting(
            "{name}: width, training points, seeds (of them with learning-rate sweeps)",
            "{width}, {n_train_text}, {seeds!n} ({tie_seeds!n})",
        )
    )
    width: int
    n_train: int | None  # None: the whole training split
    seeds: tuple[int, ...] = (0,)  # offsets added to the notebook's seed (data split and init)
    sweep_seeds: int | None = None  # the per-seed learning-rate sweeps (ties) run on the first
    # this many seeds (None: all); each costs over a minute on MAGIC

    @property
    def tie_seeds(self) -> tuple[int, ...]:
        return self.seeds if self.sweep_seeds is None else self.seeds[: self.sweep_seeds]

    @property
    def n_train_text(self) -> str:
        """The training points as the settings table shows them ("all": the whole split)."""
        return "all" if self.n_train is None else f"{self.n_train:,}"


@dataclass(frozen=True)
class Config:
    """Settings of chapter 01 at one scale (see the chapter's protocol section).

    The fields labelled with :func:`fasttrain.core.tables.setting` are the settings table's rows
    (:func:`.text.settings`, through :func:`fasttrain.core.tables.settings_rows`; its template
    names ``validation_fraction``, given as context), then one row per data set.
    """

    datasets: tuple[DataSetup, ...]
    thresholds: tuple[float, ...] = field(
        default=(0.80, 0.85, 0.90, 0.95),
        metadata=setting("training-accuracy thresholds", ".2f", order=3),
    )
    activation: str = field(default="tanh", metadata=setting("hidden activation", order=2))
    # the Tables' learning rate (a slow one, see chapter)
    lr: float = field(default=0.1, metadata=setting("learning rate (Tables)", "g", order=1))
    lr_grid: tuple[float, ...] = field(
        default=(0.03, 0.1, 0.3, 1.0, 3.0, 10.0),
        metadata=setting("learning-rate grid (sweep)", "g", order=7),
    )
    gd_max_steps: int = field(
        default=20_000,
        metadata=setting(
            "GD step budget (Tables / sweep)", "{gd_max_steps:,} / {sweep_max_steps:,}", order=4
        ),
    )
    gd_chunk: int = 100
    # gradient-flow horizon, in GD steps
    t_max: float = field(
        default=20_000.0, metadata=setting("ODE horizon (GD steps)", ",.0f", order=5)
    )
    rtol: float = field(
        default=1e-3,
        metadata=setting("solver rtol / atol (every route)", "{rtol:g} / {atol:g}", order=6),
    )
    atol: float = 1e-6
    fd_n_train: int = 300  # problem size for the analytic-vs-FD Jacobian comparison
    fd_width: int = 256
    # the network-vs-linearisation study
    widths: tuple[int, ...] = field(
        default=(16, 64, 256, 1024),
        metadata=setting("width study: widths / seeds", "{widths} / {width_seeds!n}", order=12),
    )
    width_study_n_train: int = 600
    width_horizon: float = 2_000.0  # flow time (GD steps) of the width study
    # seeds of the width study (offsets to the notebook's seed; about 16 s a seed at book scale):
    # two, the fewest that give an interval for linearisation-improves-with-width
    width_seeds: tuple[int, ...] = (0, 1)
    test_fraction: float = 0.2
    # interleaved timing rounds: 6 is the fewest that give a 95 % interval of the median
    # (claims.median_ranks: [min, max] for 6-8 rounds, so 7 narrowed nothing); the published
    # spreads are far from every bar (fd-jacobian 1.39-1.43 against 10; BDF / fastest route
    # 40-103 on Banknote and 0.7 on MAGIC against 10), so more rounds would narrow nothing a verdict
    # depends on. 7 at book scale until the edition after 684408b (a protocol change made after
    # seeing results, to bring the book under its 100 minutes; stated in the chapter and errata)
    timing_rounds: int = 6  # interleaved rounds of the analytic-vs-FD timing
    # the solver study (BDF against RK45, diffrax Tsit5 and the squared loss's closed form)
    solver_rounds: int = field(  # interleaved rounds per threshold ...
        default=6,
        metadata=setting(
            "interleaved timing rounds: solver study / Jacobian",
            "{solver_rounds_text} / {timing_rounds}",
            order=8,
        ),
    )
    solver_slow_rounds: int = 6  # ... or this many where one round costs more than:
    solver_slow_round_s: float = 20.0

    @property
    def solver_rounds_text(self) -> str:
        """The solver study's rounds as the settings table shows them."""
        if self.solver_slow_rounds == self.solver_rounds:
            return f"{self.solver_rounds}"
        return (
            f"{self.solver_rounds} ({self.solver_slow_rounds} where a round > "
            f"{self.solver_slow_round_s:g} s)"
        )

    # wall cap of one explicit solve (beyond it: "exceeded"; RK45 is stopped at it, Tsit5, which
    # cannot be stopped from outside, is held to it after its probe run)
    explicit_cap_s: float = field(
        default=20.0, metadata=setting("wall cap of an explicit solve (s)", "g", order=9)
    )
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
    # "BDF ... scales well": nested subsamples of the Tables' MAGIC problem (its J0 rows), eq. 1
    # in parameter space, one BDF solve to a fixed horizon per size, interleaved rounds after a
    # warm-up solve of each; pilot (width 64, horizon 2 000, load 6 on 2 cores): 0.7 / 0.9 / 1.3 /
    # 2.2 s a solve at 400 / 800 / 1 600 / 3 200 points, so 3 sizes x (6 rounds + 1 warm-up)
    # cost about 28 s
    scaling_sizes: tuple[int, ...] = field(  # a factor 8, geometric
        default=(400, 1_131, 3_200),
        metadata=setting(
            "BDF scaling: MAGIC sizes / flow time / rounds",
            "{scaling_sizes:,} / {scaling_horizon:g} / {scaling_rounds}",
            order=10,
        ),
    )
    scaling_horizon: float = 2_000.0
    scaling_rounds: int = 6  # the fewest with a 95 % interval of the median ([min, max])
    # test-accuracy-magic "given appropriate hidden unit numbers" (issue 23 a): the widths tried on
    # a validation split of MAGIC's training data (first MAGIC seed; .width_selection). Planned
    # (16, 64, 256); shrunk to (32, 64, 128) for cost: in a pilot on the selection split (loaded
    # machine, about 2x slow) one BDF solve took 22 / 41 / 114 s at widths 64 / 128 / 256, so a
    # re-run of the five MAGIC seeds at 256 (about 70 s each when idle) alone exceeds the 250 s
    # the selection may add; worst case at 128: about 45 s selection + 5 x 35 s re-run
    select_widths: tuple[int, ...] = field(
        default=(32, 64, 128),
        metadata=setting(
            "width selection (test-accuracy-magic): widths / validation share",
            "{select_widths} / {validation_fraction:g} of MAGIC's training split",
            order=11,
        ),
    )


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
        scaling_sizes=(75, 150, 300),
        scaling_horizon=100.0,
        select_widths=(8, 16),
    ),
    "book": Config(
        # 5 seeds on Banknote (about 15 s each) and on MAGIC (Tables and test accuracy, about 40 s
        # a seed); MAGIC's per-seed learning-rate sweeps (ties: interpolations no verdict rests on,
        # about 50 s a further seed) on the first only (the sweep's own seed): the two further
        # seeds of the previous edition paid for this edition's memory-1gb and eq1-equals-eq2 and
        # brought the chapter under its 1 120 s budget
        datasets=(
            DataSetup("banknote", 512, None, seeds=(0, 1, 2, 3, 4)),
            DataSetup("magic", 64, None, seeds=(0, 1, 2, 3, 4), sweep_seeds=1),
        ),
        gd_max_steps=3_000,
        t_max=20_000.0,
        lr_grid=(0.001, 0.003, 0.01, 0.1, 1.0, 3.0, 10.0),
        fd_n_train=300,
        fd_width=256,
        widths=(16, 64, 256, 1024),
        width_study_n_train=600,
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


LOADERS = {"banknote": data_mod.load_banknote, "magic": data_mod.load_magic}


def load(name: str, seed: int, n_train=None, test_fraction: float = 0.2):
    if name not in LOADERS:
        raise ValueError(f"unknown data set {name!r}: choose one of {sorted(LOADERS)}")
    return LOADERS[name](seed=seed, test_fraction=test_fraction, n_train=n_train)


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
