"""Chapter 03: configs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

import numpy as np

from ...core import data as fdata
from ...core import download as fdownload
from ...core.scales import pick
from ...core.tables import setting
from .. import multiprocess_study as mps
from .paper import PAPER_LR


def learning_rates(model: str, dataset: str) -> dict:
    """``{"rbd": lr, "sgd": lr}`` of the paper for ``model`` on ``dataset`` (the MNIST subset counts as MNIST)."""
    ds = {"mnist-subset": "mnist", "fmnist": "fashion_mnist"}.get(dataset, dataset)
    if (model, ds) not in PAPER_LR:
        raise ValueError(
            f"no paper learning rate for {model!r} on {dataset!r}; known: {sorted(PAPER_LR)}"
        )
    rbd, sgd = PAPER_LR[(model, ds)]
    return {"rbd": rbd, "sgd": sgd, "fpd": rbd}


@dataclass(frozen=True)
class Config:
    """Chapter 03 settings at one scale.

    ``dataset``: ``"mnist-subset"`` (the vendored 5 000/10 000 MNIST split)
    or a full set (``"mnist"``, ``"fashion_mnist"``, ``"cifar10"``) from
    :mod:`fasttrain.core.download`; ``n_train``/``n_test`` subsample it (None:
    all; the paper holds 10 000 training images out for validation, so its
    ``n_train`` is 50 000 -- the chapters report test accuracy).  Per-step
    costs differ by three orders of magnitude on a CPU, so the epochs are
    split: ``epochs`` for FC runs with SGD and structured directions
    (``rbd_distribution``, ``fpd_distribution``; Table 1, the sweeps),
    ``cnn_epochs`` for the CNN, ``trained_epochs`` for the distribution
    comparison (Table 2; ``dense_epochs`` an earlier read-off of its runs), whose Gaussian/Uniform
    runs draw d*D random numbers per step (about 60 ms a step for FC-MNIST at d = 250 on 2 cores),
    ``nes_*`` for NES (``population`` forward passes and 2 * population * D
    Gaussians a step; ``nes_models`` lists the models it runs on).
    ``d_sweep`` (correlation/accuracy against d), ``distributions``
    (Table 2), ``compression_factors`` (D/d for RBD vs FPD, each also with
    chunk compartments of ``compartment_size`` parameters; 0: none) are the ablations;
    ``switch_epoch`` the epoch of the RBD <-> SGD switch shown in the figure; ``switch_epochs``
    the switch points of the ``switching`` claim ("at any point": early, middle, late; empty: only
    ``switch_epoch``), each in both directions over ``seeds``;
    ``dist_groups``/``dist_epochs``/``dist_n_train`` the distributed runs;
    ``timing_rounds`` interleaved timing rounds (``timing_inner`` steps per call, enough that the
    fixed cost of a call is negligible; ``timing_inner_short`` > 0: SGD and the structured step are
    also timed at that many steps per call, to measure the per-call fixed cost apart);
    seeds (offsets added to the chapter's ``seed``): ``seeds`` for Table 1's cheap FC runs (FPD, RBD,
    SGD) and the FC learning-rate probe, ``cnn_seeds`` for the CNN rows and NES (a run costs 10-30 s
    at book scale), ``ablation_seeds`` for the d sweep and the one-subspace compression runs,
    ``dense_seeds`` for Table 2 (a dense-direction epoch costs about 30 s); FC runs of several seeds
    go side by side (:meth:`Study.over`, ``jax.vmap``); ``extra_datasets`` the Table 1
    data sets beyond MNIST (run only when their files are present);
    ``nes_lr`` NES's step size (not given in the paper; 0.005 was the best of
    0.005/0.05/0.5 on the MNIST subset).
    Learning-rate selection (:func:`lr_selection`, beyond the paper): every method (RBD, FPD,
    SGD) tries the paper's learning rate times each factor of ``lr_grid`` (the same candidates,
    the same budget), trained on the training set less ``val_size`` images held out for
    validation, over ``select_seeds`` (FC; the CNN on the first of them), and keeps the candidate
    of highest mean validation accuracy; the test set is never looked at.  ``cnn_lr_grid``: the
    CNN's candidates (empty: ``lr_grid``; book: one factor more, 256, because the previous
    edition's CNN selection picked the top of ``lr_grid`` for RBD and FPD).
    ``cnn_long_epochs``/``cnn_long_evals``/``cnn_long_seeds``: the CNN's long runs at the selected
    learning rates (0: none, at every scale of this edition; the previous edition's book scale:
    161 epochs of the 5 000 images = 25 116 steps, scored after the listed epochs, one seed: a CNN
    step costs 7-8 ms here, so a run is 3-4 minutes per method and seed), under
    :data:`DIVERGENCE_PROTOCOL` (:func:`long_protocol`), trained in the foreground by
    :func:`long_runs` (an explicit step of the chapter); the first seed's ``cnn_epochs`` result is
    read off its long run (constant learning rate, same batches: the same run).
    ``count_kernels``: count the fused kernels of one compiled SGD and RBD step
    (:func:`fused_kernels`; two compilations, skipped at smoke scale).
    ``xla_flags``: flags :func:`use_xla_flags` adds to ``XLA_FLAGS`` before JAX starts (smoke:
    XLA's backend optimisation off: its runs are a few hundred steps, where compiling the ~60
    programs costs most of the time; results and timings at that scale are for regression only;
    unoptimised Gaussian draws are slow, so smoke's Table 2 runs one seed).
    ``trained_epochs``: Table 2's budget (this edition, issue 23): every variant of
    ``distributions`` trains this long and the Table 2 claims are decided on the test accuracy
    after it (book: 2 epochs = 312 steps, the pilot's choice: the Gaussian's seed interval clears
    chance there, not after 1 epoch; see :func:`~.table2_runs.table2`); ``dense_epochs`` is then
    only an earlier read-off of the same runs (book: 1, the previous edition's budget);
    ``slow_seeds`` (0: all): how many of ``dense_seeds`` the variants drawing a random word per
    entry (Gaussian, uniforms: about 10 s an epoch a seed) run -- the same first seeds for each,
    so their accuracies pair by seed.
    ``unscaled_compartments``: also run compartments at the paper's η (not only η·K).
    ``budget_epochs``/``budget_seeds``: the FC budget curve
    (:func:`budget_curve`; one run per method and seed, evaluated after each listed epoch).
    ``fpd_gaussian_seeds``: FC seeds of Table 1's FPD with a fixed dense Gaussian basis (Li et
    al.'s), stored once (d x D floats: 100 MB at d = 250), at Table 1's budget beside the SRHT
    FPD (:func:`~.table1_runs.basis_rows`; empty: not run).  ``rbd_gaussian_epochs``: one
    Gaussian-direction RBD run (the first of ``seeds``) for this many epochs beside the
    Hadamard-coset RBD of the same seed and budget (0: not run; a Gaussian step costs about
    75 ms on FC, so Table 1's budget costs about 4 minutes a seed).  ``nes_populations``: NES's
    other population sizes (besides ``nes_population``), at NES's Table 1 budget over
    ``cnn_seeds`` (:func:`~.table1_runs.nes_population_rows`; empty: not run).
    ``d_timing``: the d values of the step-cost-against-d timing.
    ``compartment_time_hidden``/``_size``/``_inner_dense``/``_distributions``: the compartments'
    training-time claims (``compartments-time``, ``compartments-time-grows``;
    :mod:`.compartment_costs`): FC networks of these hidden widths, chunk compartments of
    ``compartment_time_size`` parameters (d split among them, so K grows with D), timed against one
    subspace in ``timing_rounds`` interleaved rounds, ``compartment_time_inner_dense`` steps a call
    for dense directions (a step of 0.1-2 s at book scale; ``timing_inner_short`` for structured
    ones), per direction kind listed (Gaussian decides; the others are shown).  A pilot at book
    settings (widths 128 and 512, 2 steps a call, on a loaded machine) took 130 s; with one step a
    call on an idle machine about 30-40 s.  Empty ``compartment_time_hidden``: not timed.
    ``mp_processes``/``mp_rounds``/``mp_rbd_args``/``mp_allgather_args``: the weak-scaling
    measurement across processes of the claim ``scaling`` (:func:`.devices.across_processes`,
    the RBD worker program only; ``mp_allgather_args`` is no longer used): process counts
    (1 and 2: 4 processes would oversubscribe the 2 cores), interleaved rounds and the worker
    program's arguments (book: :data:`~fasttrain.chapters.multiprocess_study.BOOK_WEAK_RBD`, the
    chapter's FC with 252 hadamard-coset directions and 32 images per worker; smoke: the smallest
    program).  Rounds (issue 22): the claim decides on the median's distribution-free 95 %
    interval (:func:`fasttrain.core.claims.over_rounds`), which needs at least 6 rounds; book 9
    (the interval [x(2), x(8)]; a pilot round at P = 1, 2 took about 12 s, most of it JAX's
    start-up and compilation, so 9 rounds about 110 s), smoke 1 (limited: at most
    "inconclusive").
    """

    scale: str
    dataset: str = field(metadata=setting("data set", order=1))
    n_train: int | None = field(
        metadata=setting("training / test images", "{train_images} / {test_images}", order=2)
    )
    n_test: int | None
    epochs: int = field(
        metadata=setting(
            "epochs: FC / CNN / Table 2 read-off / NES",
            "{epochs} / {cnn_epochs} / {dense_epochs} / {nes_epochs}",
            order=3,
        )
    )
    dense_epochs: int
    cnn_epochs: int = 0
    batch_size: int = field(default=32, metadata=setting("batch size", order=4))
    d: int = field(default=250, metadata=setting("directions per step d", order=5))
    chunk: int = 50
    models: tuple[str, ...] = field(
        default=("fc",),
        metadata=setting("models", lambda ms: ", ".join(m.upper() for m in ms), order=6),
    )
    seeds: tuple[int, ...] = field(
        default=(0,),
        metadata=setting(
            "seeds: Table 1 FC and switching / CNN and NES / ablations and compartments / Table 2",
            "{seeds!n} / {cnn_seeds!n} / {ablation_seeds!n} / {dense_seeds!n}",
            order=7,
        ),
    )
    cnn_seeds: tuple[int, ...] = (0,)
    ablation_seeds: tuple[int, ...] = (0,)
    dense_seeds: tuple[int, ...] = (0,)
    timing_rounds: int = field(
        default=7,
        metadata=setting(
            "timing: interleaved rounds × steps per call (and for the call overhead)",
            "{timing_rounds} × {timing_inner} ({timing_inner_short})",
            order=14,
        ),
    )
    augmentation: bool = True
    rbd_distribution: str = "hadamard-coset"
    fpd_distribution: str = "hadamard"
    d_sweep: tuple[int, ...] = field(
        default=(10, 50, 250), metadata=setting("d sweep", "{}", order=8)
    )
    distributions: tuple[str, ...] = (
        "gaussian",
        "uniform",
        "bernoulli",
        "hadamard",
        "hadamard-coset",
    )
    compression_factors: tuple[int, ...] = ()
    compartment_size: int = 25_000
    layer_compartments: bool = False
    switch_epoch: float = 1
    switch_epochs: tuple[float, ...] = field(
        default=(), metadata=setting("switch points (epochs)", "{switch_points:g}", order=16)
    )
    nes_lr: float = 0.005
    nes_population: int = field(
        default=250,
        metadata=setting(
            "NES: population, training images, step size",
            "{nes_population}, {nes_images}, {nes_lr:g}",
            order=13,
        ),
    )
    nes_n_train: int | None = None
    nes_epochs: int = 1
    nes_per_member: bool = False
    nes_models: tuple[str, ...] = ("fc",)
    n_devices: int = 4
    dist_groups: tuple[int, ...] = (1, 2, 4)
    dist_epochs: int = 1
    dist_n_train: int | None = None
    timing_repeats: int = 5
    timing_inner: int = 20
    timing_inner_short: int = 0
    extra_datasets: tuple[str, ...] = ()
    eval_batch: int = 1000
    lr_grid: tuple[float, ...] = field(
        default=(1, 4, 16, 64),
        metadata=setting(
            "learning-rate selection: candidates × paper's η (FC; CNN), validation images, seeds (FC)",
            "{lr_grid:g}; {cnn_grid:g}; {val_size}; {select_seeds!n}",
            order=9,
        ),
    )
    cnn_lr_grid: tuple[float, ...] = ()
    cnn_long_epochs: int = field(
        default=0,
        metadata=setting(
            "CNN at the selected rates: epochs (steps), seeds", "{cnn_long}", order=10
        ),
    )
    cnn_long_evals: tuple[int, ...] = ()
    cnn_long_seeds: tuple[int, ...] = (0,)
    count_kernels: bool = True
    xla_flags: tuple[str, ...] = field(
        default=(), metadata=setting("extra XLA flags", lambda f: " ".join(f) or "none", order=18)
    )
    val_size: int = 1000
    select_seeds: tuple[int, ...] = (0,)
    trained_epochs: int = field(
        default=5, metadata=setting("Table 2's budget, every variant (epochs)", order=12)
    )
    slow_seeds: int = 0
    unscaled_compartments: bool = False
    budget_epochs: tuple[int, ...] = field(
        default=(),
        metadata=setting(
            "budget curve: epochs (steps), seeds", "{budget_points}; {budget_seeds!n}", order=11
        ),
    )
    budget_seeds: tuple[int, ...] = (0,)
    fpd_gaussian_seeds: tuple[int, ...] = ()
    rbd_gaussian_epochs: int = 0
    nes_populations: tuple[int, ...] = ()
    d_timing: tuple[int, ...] = (10, 250)
    compartment_time_hidden: tuple[int, ...] = field(
        default=(),
        metadata=setting(
            "compartments' time per step: FC hidden widths; parameters per compartment",
            "{compartment_timing}",
            order=15,
        ),
    )
    compartment_time_size: int = 25_000
    compartment_time_inner_dense: int = 1
    compartment_time_distributions: tuple[str, ...] = ("gaussian",)
    mp_processes: tuple[int, ...] = field(
        default=(1, 2),
        metadata=setting(
            "across processes (weak scaling): process counts × interleaved rounds",
            "{mp_processes} × {mp_rounds}",
            order=17,
        ),
    )
    mp_rounds: int = 9
    mp_rbd_args: tuple[str, ...] = mps.BOOK_WEAK_RBD
    mp_allgather_args: tuple[str, ...] = ()

    # ----------------------------------------------------------- shown in the settings table
    @property
    def train_images(self) -> int | str:
        """``n_train``, or "all" (None: the whole training set)."""
        return self.n_train or "all"

    @property
    def test_images(self) -> int | str:
        """``n_test``, or "all"."""
        return self.n_test or "all"

    @property
    def nes_images(self) -> int | str:
        """``nes_n_train``, or "all"."""
        return self.nes_n_train or "all"

    @property
    def budget_points(self) -> str:
        """The budget curve's epochs, or "none"."""
        return ", ".join(str(e) for e in self.budget_epochs) or "none"

    @property
    def compartment_timing(self) -> str:
        """The compartments' timing (``compartments-time``): hidden widths; parameters per
        compartment, or "not timed"."""
        if not self.compartment_time_hidden:
            return "not timed"
        widths = ", ".join(map(str, self.compartment_time_hidden))
        return f"{widths}; {self.compartment_time_size}"


CONFIGS = {
    "smoke": Config(
        scale="smoke",
        dataset="mnist-subset",
        n_train=512,
        n_test=1000,
        epochs=1,
        dense_epochs=1,
        cnn_epochs=1,
        augmentation=False,
        d=64,
        chunk=32,
        models=("fc",),
        d_sweep=(8, 64),
        compression_factors=(),
        compartment_size=0,
        switch_epoch=0.5,
        switch_epochs=(0.5, 0.75),
        distributions=("gaussian", "hadamard-coset"),
        nes_population=20,
        nes_n_train=256,
        nes_epochs=1,
        dist_groups=(2,),
        dist_epochs=1,
        dist_n_train=256,
        timing_repeats=3,
        timing_inner=5,
        timing_inner_short=1,
        timing_rounds=3,
        seeds=(0, 1),
        dense_seeds=(0,),
        lr_grid=(1,),
        val_size=128,
        trained_epochs=1,
        budget_epochs=(1,),
        budget_seeds=(0, 1),
        # smoke: the Gaussian-basis FPD only (its unoptimised Gaussian RBD step costs ~0.8 s)
        fpd_gaussian_seeds=(0, 1),
        nes_populations=(5,),
        d_timing=(8, 64),
        # the compartments' time claims: two tiny FCs, Gaussian directions only (compilation)
        compartment_time_hidden=(16, 32),
        compartment_time_size=2_500,
        mp_processes=(1, 2),
        mp_rounds=1,
        mp_rbd_args=mps.SMOKE_WEAK_RBD,
        mp_allgather_args=mps.SMOKE_ALLGATHER,
        count_kernels=False,
        xla_flags=("--xla_backend_optimization_level=0",),
    ),
    "book": Config(
        scale="book",
        dataset="mnist-subset",
        n_train=None,
        n_test=None,
        epochs=20,
        dense_epochs=1,
        cnn_epochs=5,
        d=250,
        chunk=50,
        models=("fc", "cnn"),
        d_sweep=(10, 50, 250, 1000, 5000),
        # Table 2 (issue 23): no unit-variance "uniform" (no paper claim needs it; it saves ~220 s
        # at the 2-epoch budget); every variant trained for trained_epochs
        distributions=(
            "gaussian",
            "uniform-paper",
            "bernoulli",
            "bernoulli-0.5",
            "hadamard",
            "hadamard-coset",
        ),
        compression_factors=(10, 75),
        compartment_size=25_000,
        layer_compartments=True,
        switch_epoch=10,
        # early, middle and late in the 20 epochs (10 is the figure's, memoised)
        switch_epochs=(2, 10, 18),
        nes_n_train=1600,
        nes_epochs=1,
        dist_groups=(1, 2, 4),
        dist_epochs=1,
        dist_n_train=None,
        timing_repeats=15,
        # 500 steps per call: at 50 the per-call fixed cost diluted the structured step's ratio
        # to SGD (issue 22: 1.71x at 50, 1.95x at 500); 50 is timed too, to show that cost apart
        timing_inner=500,
        timing_inner_short=50,
        # 12 rounds: the distribution-free 95 % interval of the median is [x(3), x(10)] (9: [x(2),
        # x(8)]); about 1.6 s a round for both timings at book scale, so +5 s over 9
        timing_rounds=12,
        seeds=(0, 1, 2, 3, 4),
        cnn_seeds=(0, 1, 2),
        dense_seeds=(0, 1, 2, 3, 4),
        # every variant on all 5 dense seeds (since the draws were unrolled, 2026-12-07: the fifth
        # seed of the Gaussian and U[−1,1] costs about 30 s; before, 4 seeds, for the budget)
        slow_seeds=0,
        trained_epochs=2,
        ablation_seeds=(0, 1, 2, 3, 4),
        select_seeds=(0, 1, 2),
        cnn_lr_grid=(1, 4, 16, 64, 256),
        # the CNN's long runs (161 epochs = 25 116 steps under DIVERGENCE_PROTOCOL) are off at book
        # scale since the edition of 2026-12-07: one seed decides at most "inconclusive" (issue 22),
        # three seeds would cost about 45 minutes of the book's 100, and on an Intel Xeon the
        # previous edition's protocol (one seed, about 85 000 CNN steps with the fallback) had run
        # 49 minutes and was not half done (issue 22);
        # the three long-run claims read "not testable here" with that reason (errata page)
        cnn_long_epochs=0,
        cnn_long_evals=(),
        cnn_long_seeds=(0,),
        budget_epochs=(20, 50, 100, 250, 500, 1000),
        budget_seeds=(0, 1, 2),
        # issue 23: FPD with the paper's dense Gaussian basis (3 seeds, ~30-40 s a seed idle) and
        # one Gaussian-direction RBD run at Table 1's budget (20 epochs = 3 120 steps, ~4 minutes
        # since the draws were unrolled; 2 epochs before) beside the coset RBD
        fpd_gaussian_seeds=(0, 1, 2),
        rbd_gaussian_epochs=20,
        # NES at population 50 beside Table 1's 250 (~0.11 s a step, 50 steps, 3 seeds: ~18 s)
        nes_populations=(50,),
        d_timing=(10, 50, 250, 1000),
        # the compartments' time claims (issue 23): the chapter's FC (D = 101 770, K = 5) and a 4x
        # wider one (D = 407 050, K = 17); the coset directions are timed beside (shown)
        compartment_time_hidden=(128, 512),
        compartment_time_distributions=("gaussian", "hadamard-coset"),
    ),
    # paper: the full sets from fasttrain.download (load_mnist(), load_fashion_mnist(),
    # load_cifar10()), 10 000 training images held out for validation, 100 epochs, 3 seeds;
    # the official NES evaluates every population member on its own minibatch.
    "paper": Config(
        scale="paper",
        dataset="mnist",
        n_train=50_000,
        n_test=None,
        epochs=100,
        dense_epochs=100,
        cnn_epochs=100,
        d=250,
        chunk=50,
        models=("fc", "cnn"),
        seeds=(0, 1, 2),
        cnn_seeds=(0, 1, 2),
        ablation_seeds=(0, 1, 2),
        dense_seeds=(0, 1, 2),
        d_sweep=(10, 50, 250, 1000, 5000),
        distributions=(
            "gaussian",
            "uniform",
            "uniform-paper",
            "bernoulli",
            "bernoulli-0.5",
            "hadamard",
            "hadamard-coset",
        ),
        compression_factors=(10, 75),
        compartment_size=10_000,
        switch_epoch=50,
        switch_epochs=(10, 50, 90),
        nes_n_train=None,
        nes_epochs=100,
        nes_per_member=True,
        nes_models=("fc", "cnn"),
        dist_epochs=5,
        extra_datasets=("fashion_mnist", "cifar10"),
        val_size=10_000,
        select_seeds=(0, 1, 2),
        trained_epochs=100,
        budget_epochs=(20, 50, 100),
        budget_seeds=(0, 1, 2),
        d_timing=(10, 50, 250, 1000),
        # the compartments' time claims (issue 23): the chapter's FC (D = 101 770, K = 5) and a 4x
        # wider one (D = 407 050, K = 17); the coset directions are timed beside (shown)
        compartment_time_hidden=(128, 512),
        compartment_time_distributions=("gaussian", "hadamard-coset"),
        timing_inner=500,
        timing_inner_short=50,
    ),
}


def config(scale: str) -> Config:
    """The chapter-03 configuration for ``scale`` (smoke, book or paper)."""
    return pick(CONFIGS, scale)


def use_xla_flags(cfg: Config) -> str:
    """Append ``cfg.xla_flags`` to the ``XLA_FLAGS`` environment variable (read once, when JAX
    starts its CPU backend; subprocesses inherit it) and return the result.  Raises
    ``RuntimeError`` if flags are asked for after JAX's backend has started (too late)."""
    if not cfg.xla_flags:
        return os.environ.get("XLA_FLAGS", "")
    from jax._src import xla_bridge

    if xla_bridge.backends_are_initialized():
        raise RuntimeError(
            f"XLA flags {cfg.xla_flags} must be set before JAX starts; call use_xla_flags first"
        )
    have = os.environ.get("XLA_FLAGS", "").split()
    os.environ["XLA_FLAGS"] = " ".join(have + [f for f in cfg.xla_flags if f not in have])
    return os.environ["XLA_FLAGS"]


def load_data(cfg: Config, seed: int = 0, download: bool = False):
    """The :class:`fasttrain.core.data.Dataset` of ``cfg``, subsampled to ``n_train``/``n_test`` with ``seed``.

    The MNIST subset is vendored; full sets come from
    ``fasttrain.core.download.LOADERS[cfg.dataset]`` (``load_mnist``,
    ``load_fashion_mnist``, ``load_cifar10``), which fetches them only with
    ``download=True`` (else they must already be in its cache).
    """
    if cfg.dataset == "mnist-subset":
        ds = fdata.load_mnist_subset()
    else:
        if cfg.dataset not in fdownload.LOADERS:
            raise ValueError(
                f"unknown dataset {cfg.dataset!r}: choose 'mnist-subset' or one of "
                f"{', '.join(fdownload.LOADERS)}"
            )
        ds = fdownload.LOADERS[cfg.dataset](download=download)
    rng = np.random.default_rng(seed)

    def sub(x, y, k):
        if k is None or k >= len(x):
            return x, y
        idx = np.sort(rng.permutation(len(x))[:k])
        return x[idx], y[idx]

    x_tr, y_tr = sub(ds.x_train, ds.y_train, cfg.n_train)
    x_te, y_te = sub(ds.x_test, ds.y_test, cfg.n_test)
    return replace(ds, x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te)


def augmentation_for(dataset: str) -> str:
    """The paper's augmentation kind for ``dataset``."""
    return "cifar10" if dataset.startswith("cifar") else "mnist"


METHODS = ("NES", "FPD", "RBD", "SGD")

#: Table 2's direction variants: name -> (library distribution, learning-rate factor, description)
VARIANTS = {
    "gaussian": ("gaussian", 1.0, "N(0,1)/√D (paper)"),
    "uniform": ("uniform", 1.0, "U[−√3,√3]/√D, unit variance"),
    "uniform-paper": ("uniform", 1 / 3, "U[−1,1]/√D (paper) = unit-variance uniform at η/3"),
    "bernoulli": ("bernoulli", 1.0, "±1/√D, mean 0"),
    "bernoulli-0.5": ("bernoulli-0.5", 1.0, "{+0.5,−1.5}/√D (official code, mean −0.5)"),
    "hadamard": ("hadamard", 1.0, "SRHT rows H S (structured, this book)"),
    "hadamard-coset": ("hadamard-coset", 1.0, "coset SRHT rows (structured, this book)"),
}
#: variants that draw d * D random numbers a step
DENSE = ("gaussian", "uniform", "uniform-paper", "bernoulli", "bernoulli-0.5")
#: of those, the ones that draw a random word per entry (about 60 ms a step for FC at d = 250);
#: the Bernoulli kinds draw one bit per entry (about 10 ms)
SLOW = ("gaussian", "uniform", "uniform-paper")
