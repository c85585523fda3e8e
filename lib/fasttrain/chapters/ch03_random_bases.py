"""Chapter 03's experiments: protocols around :mod:`fasttrain.methods.random_bases`.

Each function runs one measurement of the chapter and returns plain
records (lists of dicts) that the chapter tabulates and plots.  The
protocol, stated once here and in the chapter:

* data: the configuration's training/test split (book scale: the vendored
  MNIST subset, 5 000 training and 10 000 test images), the paper's
  augmentation, batch 32, a fresh permutation per epoch, test accuracy after
  every epoch; every run of a chapter starts from the same initial network
  (``seed``) and sees the same batches;
* methods: the paper's learning rates (:func:`fasttrain.methods.random_bases.learning_rates`),
  constant, no momentum; RBD and FPD with d = ``Config.d`` directions;
  Table 1's RBD uses ``Config.rbd_distribution`` and FPD
  ``Config.fpd_distribution`` (structured directions, see the chapter for
  why), Table 2 compares the direction distributions at equal budgets;
* timings: best of ``Config.timing_repeats`` after a warm-up, compilation
  excluded, ratios of runs in one process only.

:class:`Study` memoises runs, so a configuration that several sections use
(e.g. Table 1's RBD is also the d = 250 point of the d sweep) is trained
once.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass, field, replace

import numpy as np

from ..core import data as fdata
from ..core import download as fdownload
from ..core import models as M
from ..core.scales import pick
from ..methods import random_bases as rb

# ===================================================================== configurations
#: effective learning rates at batch 32 (FACTS.md / official machinable.yaml), (RBD, SGD)
PAPER_LR = {
    ("fc", "mnist"): (1.0, 0.125),
    ("fc", "fashion_mnist"): (0.5, 0.25),
    ("fc", "cifar10"): (0.25, 0.0078125),
    ("cnn", "mnist"): (0.0625, 0.03125),
    ("cnn", "fashion_mnist"): (0.125, 0.0625),
    ("cnn", "cifar10"): (0.125, 0.015625),
}


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
    ``cnn_epochs`` for the CNN, ``dense_epochs`` for the distribution
    comparison (Table 2), whose Gaussian/Uniform runs draw d*D random numbers
    per step (about 0.5 s a step for FC-MNIST at d = 250 on 2 cores),
    ``nes_*`` for NES (``population`` forward passes and 2 * population * D
    Gaussians a step; ``nes_models`` lists the models it runs on).
    ``d_sweep`` (correlation/accuracy against d), ``distributions``
    (Table 2), ``compression_factors`` (D/d for RBD vs FPD, each also with
    chunk compartments of ``compartment_size`` parameters; 0: none) are the ablations;
    ``switch_epoch`` the epoch of the RBD <-> SGD switch;
    ``dist_groups``/``dist_epochs``/``dist_n_train`` the distributed runs;
    ``timing_*`` the best-of-k step timings; ``extra_datasets`` the Table 1
    data sets beyond MNIST (run only when their files are present);
    ``nes_lr`` NES's step size (not given in the paper; 0.005 was the best of
    0.005/0.05/0.5 on the MNIST subset); ``rbd_lr_factors`` the multiples of the
    paper's RBD learning rate tried at Table 1's budget (beyond the paper).
    """

    scale: str
    dataset: str
    n_train: int | None
    n_test: int | None
    epochs: int
    dense_epochs: int
    cnn_epochs: int = 0
    batch_size: int = 32
    d: int = 250
    chunk: int = 50
    models: tuple[str, ...] = ("fc",)
    seeds: tuple[int, ...] = (0,)
    augmentation: bool = True
    rbd_distribution: str = "hadamard-coset"
    fpd_distribution: str = "hadamard"
    d_sweep: tuple[int, ...] = (10, 50, 250)
    distributions: tuple[str, ...] = (
        "gaussian",
        "uniform",
        "bernoulli",
        "hadamard",
        "hadamard-coset",
    )
    compression_factors: tuple[int, ...] = ()
    compartment_size: int = 25_000
    switch_epoch: float = 1
    nes_lr: float = 0.005
    nes_population: int = 250
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
    extra_datasets: tuple[str, ...] = ()
    eval_batch: int = 1000
    rbd_lr_factors: tuple[float, ...] = ()


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
        distributions=("gaussian", "hadamard-coset"),
        nes_population=20,
        nes_n_train=256,
        nes_epochs=1,
        dist_groups=(2,),
        dist_epochs=1,
        dist_n_train=256,
        timing_repeats=3,
        timing_inner=5,
        rbd_lr_factors=(8,),
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
        compartment_size=25_000,
        switch_epoch=10,
        nes_n_train=1600,
        nes_epochs=1,
        dist_groups=(1, 2, 4),
        dist_epochs=1,
        dist_n_train=None,
        timing_repeats=15,
        timing_inner=50,
        rbd_lr_factors=(4, 16, 64),
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
        nes_n_train=None,
        nes_epochs=100,
        nes_per_member=True,
        nes_models=("fc", "cnn"),
        dist_epochs=5,
        extra_datasets=("fashion_mnist", "cifar10"),
        rbd_lr_factors=(4, 16),
    ),
}


def config(scale: str) -> Config:
    """The chapter-03 configuration for ``scale`` (smoke, book or paper)."""
    return pick(CONFIGS, scale)


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


#: Table 1 of the paper: validation accuracy % (mean, std over 3 runs) and fraction of SGD, d = 250
PAPER_TABLE1 = {
    ("fc", "mnist"): {
        "NES": (22.5, 1.7, 0.23),
        "FPD": (80.0, 0.4, 0.81),
        "RBD": (93.893, 0.024, 0.96),
        "SGD": (98.27, 0.09, 1.0),
    },
    ("fc", "fashion_mnist"): {
        "NES": (45.0, 6.0, 0.52),
        "FPD": (77.3, 0.29, 0.89),
        "RBD": (85.65, 0.2, 0.98),
        "SGD": (87.32, 0.21, 1.0),
    },
    ("fc", "cifar10"): {
        "NES": (17.8, 0.5, 0.34),
        "FPD": (21.4, 1.2, 0.41),
        "RBD": (43.77, 0.22, 0.84),
        "SGD": (52.09, 0.22, 1.0),
    },
    ("cnn", "mnist"): {
        "NES": (51.0, 6.0, 0.51),
        "FPD": (88.9, 0.6, 0.89),
        "RBD": (97.17, 0.1, 0.98),
        "SGD": (99.41, 0.09, 1.0),
    },
    ("cnn", "fashion_mnist"): {
        "NES": (37.0, 4.0, 0.4),
        "FPD": (77.8, 1.6, 0.85),
        "RBD": (85.56, 0.1, 0.93),
        "SGD": (91.95, 0.18, 1.0),
    },
    ("cnn", "cifar10"): {
        "NES": (20.3, 1.0, 0.25),
        "FPD": (37.2, 0.8, 0.46),
        "RBD": (54.64, 0.33, 0.67),
        "SGD": (81.4, 0.4, 1.0),
    },
}
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


def dataset_key(name: str) -> str:
    """The paper's name of a data set (the MNIST subset is MNIST)."""
    return {"mnist-subset": "mnist"}.get(name, name)


@dataclass
class Study:
    """The chapter's data, models and a memo of training runs at one configuration."""

    cfg: Config
    seed: int = 0
    progress: bool = False
    _data: dict = field(default_factory=dict, repr=False)
    _models: dict = field(default_factory=dict, repr=False)
    runs: dict = field(default_factory=dict, repr=False)

    def data(self, dataset: str | None = None, n_train: int | None = None):
        """The training/test data (``n_train``: the first images of the configured training set)."""
        name = dataset or self.cfg.dataset
        if name not in self._data:
            self._data[name] = load_data(replace(self.cfg, dataset=name), self.seed)
        ds = self._data[name]
        if n_train is not None and n_train < len(ds.x_train):
            ds = replace(ds, x_train=ds.x_train[:n_train], y_train=ds.y_train[:n_train])
        return ds

    def model(self, name: str) -> M.Model:
        """One :class:`Model` object per name, so jitted evaluation is compiled once per model."""
        if name not in self._models:
            self._models[name] = M.get_model(name)
        return self._models[name]

    def epochs_for(self, model: str) -> int:
        return self.cfg.cnn_epochs if model == "cnn" else self.cfg.epochs

    def augmentation(self, dataset: str | None = None) -> str:
        return augmentation_for(dataset or self.cfg.dataset) if self.cfg.augmentation else "none"

    def run(
        self,
        model: str,
        method,
        epochs: int,
        *,
        dataset: str | None = None,
        n_train: int | None = None,
        switch_at: int | None = None,
        then=None,
        fresh: bool = False,
        **kw,
    ) -> rb.TrainResult:
        """:func:`fasttrain.methods.random_bases.train` once per distinct configuration (memoised).

        ``fresh=True`` trains again even when the configuration has run (to repeat a timing); the new result
        is returned, the memoised one kept.
        """
        dataset = dataset or self.cfg.dataset
        if n_train is not None and n_train >= len(self.data(dataset).x_train):
            n_train = None
        key = (model, method, epochs, dataset, n_train, switch_at, then, tuple(sorted(kw.items())))
        if fresh or key not in self.runs:
            result = rb.train(
                self.model(model),
                self.data(dataset, n_train),
                method,
                epochs=epochs,
                batch_size=self.cfg.batch_size,
                seed=self.seed,
                augmentation=self.augmentation(dataset),
                switch_at=switch_at,
                then=then,
                eval_batch=self.cfg.eval_batch,
                progress=self.progress,
                **kw,
            )
            self.runs.setdefault(key, result)
            return result
        return self.runs[key]

    def dim(self, model: str, dataset: str | None = None) -> int:
        """D, the model's number of parameters on the data set."""
        return M.flat_dim(self.model(model), self.data(dataset).x_train.shape[1:])


def methods(cfg: Config, model: str, dataset: str) -> dict:
    """Table 1's four methods for ``model`` on ``dataset`` at the paper's learning rates."""
    lr = learning_rates(model, dataset)
    return {
        "NES": rb.NES(cfg.nes_lr, cfg.nes_population, per_member=cfg.nes_per_member),
        "FPD": rb.FPD(lr["fpd"], cfg.d, cfg.fpd_distribution, chunk=cfg.chunk),
        "RBD": rb.RBD(lr["rbd"], cfg.d, cfg.rbd_distribution, chunk=cfg.chunk),
        "SGD": rb.SGD(lr["sgd"]),
    }


# ===================================================================== Table 1
def table1(study: Study, model: str, dataset: str | None = None) -> list[dict]:
    """Test accuracy of NES, FPD, RBD and SGD for ``model`` (one record per method, paper values beside)."""
    cfg = study.cfg
    dataset = dataset or cfg.dataset
    paper = PAPER_TABLE1[(model, dataset_key(dataset))]
    rows, curves = [], {}
    for name, method in methods(cfg, model, dataset).items():
        row = {
            "model": model,
            "dataset": dataset,
            "method": name,
            "paper": paper[name][0] / 100,
            "paper_std": paper[name][1] / 100,
            "paper_fraction": paper[name][2],
        }
        if name == "NES":
            if model not in cfg.nes_models:
                rows.append(
                    {
                        **row,
                        "status": f"not run at scale {cfg.scale!r} (one NES step of the {model} "
                        f"takes seconds on a CPU)",
                    }
                )
                continue
            r = study.run(model, method, cfg.nes_epochs, dataset=dataset, n_train=cfg.nes_n_train)
        else:
            r = study.run(model, method, study.epochs_for(model), dataset=dataset)
        curves[name] = r
        rows.append(
            {
                **row,
                "status": "run",
                "accuracy": r.final_accuracy,
                "epochs": r.epochs,
                "steps": r.steps,
                "step_ms": 1e3 * r.step_time,
                "compile_s": r.compile_time,
                "directions": getattr(method, "distribution", "–"),
            }
        )
    sgd = next(r["accuracy"] for r in rows if r["method"] == "SGD")
    for r in rows:
        if "accuracy" in r:
            r["fraction"] = r["accuracy"] / sgd
    return rows


def lr_probe(study: Study, factors=None) -> list[dict]:
    """RBD as in Table 1, same budget, with the paper's learning rate multiplied by each of ``factors``.

    Beyond the paper: tests the chapter's reading that Table 1's RBD rows are budget-limited (RBD's expected step
    is d/D of a gradient step).  Factor 1 is Table 1's own run.  A run whose loss stops being finite is recorded
    as diverged, not dropped.  ``expected_step_vs_sgd`` is (lr·d/D) / lr_SGD.
    """
    cfg = study.cfg
    factors = cfg.rbd_lr_factors if factors is None else tuple(factors)
    if any(f <= 0 for f in factors):
        raise ValueError(f"learning-rate factors must be positive, got {factors}")
    rows = []
    for model in cfg.models:
        lr = learning_rates(model, cfg.dataset)
        D = study.dim(model)
        sgd = study.run(
            model, methods(cfg, model, cfg.dataset)["SGD"], study.epochs_for(model)
        ).final_accuracy
        for f in (1,) + tuple(x for x in factors if x != 1):
            method = rb.RBD(lr["rbd"] * f, cfg.d, cfg.rbd_distribution, chunk=cfg.chunk)
            row = {
                "model": model,
                "factor": f,
                "lr": lr["rbd"] * f,
                "expected_step_vs_sgd": lr["rbd"] * f * cfg.d / D / lr["sgd"],
                "sgd_accuracy": sgd,
            }
            try:
                r = study.run(model, method, study.epochs_for(model))
            except rb.DivergenceError as exc:
                rows.append(
                    {**row, "status": f"diverged: {exc}", "accuracy": None, "fraction": None}
                )
                continue
            rows.append(
                {
                    **row,
                    "status": "run",
                    "accuracy": r.final_accuracy,
                    "fraction": r.final_accuracy / sgd,
                }
            )
    return rows


def ordering_verdict(acc: dict, margin: float = 0.01) -> tuple[str, str]:
    """Verdict on the paper's ordering NES < FPD < RBD <= SGD given ``{method: accuracy}`` (missing: not run).

    "a < b" needs b to be ahead by more than ``margin`` (single runs: smaller
    differences are noise); RBD <= SGD allows RBD up to 0.005 above SGD.
    """
    run = [m for m in METHODS if acc.get(m) is not None]
    pairs = [(a, b) for a, b in zip(run, run[1:])]
    held = [
        (a, b)
        for a, b in pairs
        if (acc[a] <= acc[b] + 0.005 if (a, b) == ("RBD", "SGD") else acc[b] - acc[a] > margin)
    ]
    order = " < ".join(f"{m} {acc[m]:.3f}" for m in run)
    listed = ", ".join(f"{m} {acc[m]:.3f}" for m in run)
    missing = [m for m in METHODS if m not in run]
    if len(held) == len(pairs) and not missing:
        return "reproduced", f"the ordering holds: {order}"
    if len(held) == len(pairs):
        return (
            "partly",
            f"the ordering holds among the methods run ({order}); not run: {', '.join(missing)}",
        )
    broken = [f"{a} ≥ {b}" for a, b in pairs if (a, b) not in held]
    if held:
        return "partly", f"broken: {', '.join(broken)} ({listed})"
    return "not reproduced", f"broken: {', '.join(broken)} ({listed})"


def fraction_verdict(
    measured: float, paper: float, lower: float | None = None, margin: float = 0.01
) -> tuple[str, str]:
    """Verdict on a fraction of SGD's accuracy against the paper's (0.05 tolerance).

    "partly" when below the paper's but ahead of the next-weaker method's
    fraction ``lower`` by more than ``margin``.
    """
    if abs(measured - paper) <= 0.05:
        return "reproduced", "within 0.05 of the paper's fraction"
    if lower is not None and measured > lower + margin:
        return "partly", "below the paper's fraction, but above the next-weaker method's"
    return (
        "not reproduced",
        f"{'below' if measured < paper else 'above'} the paper's fraction by more than 0.05",
    )


# ===================================================================== other data sets
def extra_dataset_rows(study: Study) -> list[dict]:
    """Table 1 for Fashion-MNIST and CIFAR-10: run when the files are present and the scale asks for it.

    Never downloads (``fasttrain.download`` with ``download=False``); an
    absent data set gives one row per model with status ``"not run: data absent"``.
    """

    rows = []
    for name in ("fashion_mnist", "cifar10"):
        try:
            fdownload.fetch(name, download=False, progress=False)
            present = True
        except fdownload.MissingDataError:
            present = False
        for model in ("fc", "cnn"):
            paper = PAPER_TABLE1[(model, name)]
            if present and name in study.cfg.extra_datasets:
                rows += table1(study, model, name)
                continue
            status = (
                "not run: data absent"
                if not present
                else f"not run at scale {study.cfg.scale!r} (paper scale only)"
            )
            for m in METHODS:
                rows.append(
                    {
                        "model": model,
                        "dataset": name,
                        "method": m,
                        "paper": paper[m][0] / 100,
                        "paper_std": paper[m][1] / 100,
                        "paper_fraction": paper[m][2],
                        "status": status,
                    }
                )
    return rows


# ===================================================================== Table 2
def table2(study: Study, model: str = "fc") -> list[dict]:
    """RBD with each direction variant of ``Config.distributions`` for ``dense_epochs`` epochs (equal budgets).

    Structured variants are cheap enough to run for ``epochs`` too; their
    accuracy after ``dense_epochs`` is read off the same run.
    """
    cfg = study.cfg
    lr = learning_rates(model, cfg.dataset)["rbd"]
    rows = []
    for name in cfg.distributions:
        dist, factor, desc = VARIANTS[name]
        method = rb.RBD(lr * factor, cfg.d, dist, chunk=cfg.chunk)
        epochs = (
            cfg.dense_epochs if name in DENSE else max(cfg.dense_epochs, study.epochs_for(model))
        )
        r = study.run(model, method, epochs)
        n = cfg.dense_epochs * r.steps_per_epoch
        k = min(50, n)
        rows.append(
            {
                "variant": name,
                "directions": desc,
                "lr": method.lr,
                "accuracy": float(r.test_accuracy[cfg.dense_epochs]),
                "loss_start": float(np.mean(r.loss[:k])),
                "loss_end": float(np.mean(r.loss[n - k : n])),
                "cos": float(np.nanmean(r.cos[:n])),
                "accuracy_full": r.final_accuracy if epochs > cfg.dense_epochs else None,
                "step_ms": 1e3 * r.step_time,
            }
        )
    return rows


# ===================================================================== correlation and accuracy against d
def d_sweep(study: Study, model: str = "fc") -> list[dict]:
    """RBD (Table 1's directions) at each d of ``Config.d_sweep``: accuracy and cosine with the gradient.

    ``cos`` is the cosine between the RBD step and the minibatch gradient,
    averaged over training; for d << D it is about sqrt(d / D) (``cos_theory``)
    for any direction distribution with E[phi phi^T] = I / D and nearly
    orthogonal directions.
    """
    cfg = study.cfg
    lr = learning_rates(model, cfg.dataset)["rbd"]
    D = study.dim(model)
    rows = []
    for d in cfg.d_sweep:
        r = study.run(
            model, rb.RBD(lr, d, cfg.rbd_distribution, chunk=cfg.chunk), study.epochs_for(model)
        )
        rows.append(
            {
                "d": d,
                "D/d": D / d,
                "accuracy": r.final_accuracy,
                "cos": float(np.nanmean(r.cos)),
                "cos_first_epoch": float(np.nanmean(r.cos[: r.steps_per_epoch])),
                "cos_theory": math.sqrt(d / D),
                "curve": r.test_accuracy,
            }
        )
    return rows


def compare_counts(new, old, margin: float = 0.01) -> tuple[int, int, int]:
    """How many of the paired accuracies ``new`` beat ``old`` by more than ``margin``, tie, or lose."""
    diff = np.asarray(new, float) - np.asarray(old, float)
    return (
        int(np.sum(diff > margin)),
        int(np.sum(np.abs(diff) <= margin)),
        int(np.sum(diff < -margin)),
    )


def monotone(values) -> bool:
    """Whether ``values`` never decrease."""
    v = list(values)
    return all(b >= a for a, b in zip(v, v[1:]))


# ===================================================================== compression: RBD vs FPD
def compression(study: Study, model: str = "fc") -> list[dict]:
    """RBD and FPD at compression factors D/d (``Config.compression_factors`` and d = ``Config.d``).

    Each with one subspace and (``Config.compartment_size`` > 0) with K
    chunk compartments of that many parameters, d split evenly among them.
    With the official normalisation 1/sqrt(D) a compartment's expected step
    is (d/K)/D of its gradient, K times smaller than with one subspace; the
    runs marked ``"eta*K"`` scale the learning rate by K, which equals
    normalising each compartment by its own size (1/sqrt(D_j), D_j = D/K)
    and restores the single subspace's expected step.
    """
    cfg = study.cfg
    lr = learning_rates(model, cfg.dataset)
    D = study.dim(model)
    sgd = study.run(model, rb.SGD(lr["sgd"]), study.epochs_for(model)).final_accuracy
    ds = sorted({int(round(D / f)) for f in cfg.compression_factors} | {cfg.d}, reverse=True)
    one, comp = rb.Compartments(), rb.Compartments("chunk", size=cfg.compartment_size or 1)
    rows = []
    for d in ds:
        k = rb.subspace(D, d, compartments=comp).n_compartments if cfg.compartment_size else 1
        runs = [("RBD", one, 1, "one subspace"), ("FPD", one, 1, "one subspace")]
        if cfg.compartment_size:
            runs += [
                ("RBD", comp, 1, f"{k} compartments, η"),
                ("RBD", comp, k, f"{k} compartments, η·K"),
                ("FPD", comp, k, f"{k} compartments, η·K"),
            ]
        for name, compartments, factor, label in runs:
            if name == "RBD":
                method = rb.RBD(
                    lr["rbd"] * factor, d, cfg.rbd_distribution, compartments, cfg.chunk
                )
            else:
                method = rb.FPD(
                    lr["fpd"] * factor, d, cfg.fpd_distribution, compartments, cfg.chunk
                )
            r = study.run(model, method, study.epochs_for(model))
            rows.append(
                {
                    "method": name,
                    "d": d,
                    "D/d": D / d,
                    "compartments": k if compartments.kind != "none" else 1,
                    "setting": label,
                    "lr": method.lr,
                    "accuracy": r.final_accuracy,
                    "fraction": r.final_accuracy / sgd,
                    "step_ms": 1e3 * r.step_time,
                }
            )
    return rows


# ===================================================================== switching
def switching(study: Study, model: str = "fc") -> dict:
    """RBD -> SGD and SGD -> RBD at ``Config.switch_epoch`` (a fraction of an epoch allowed), with the pure runs."""
    cfg = study.cfg
    m = methods(cfg, model, cfg.dataset)
    epochs = study.epochs_for(model)
    rbd, sgd = study.run(model, m["RBD"], epochs), study.run(model, m["SGD"], epochs)
    at = int(round(cfg.switch_epoch * rbd.steps_per_epoch))
    return {
        "RBD": rbd,
        "SGD": sgd,
        "switch_at": at,
        "RBD→SGD": study.run(model, m["RBD"], epochs, switch_at=at, then=m["SGD"]),
        "SGD→RBD": study.run(model, m["SGD"], epochs, switch_at=at, then=m["RBD"]),
    }


def switch_summary(runs: dict) -> list[dict]:
    """Per switched run: finite losses, accuracy at the switch (last epoch boundary before it) and at the end."""
    at = runs["switch_at"]
    rows = []
    for name in ("RBD→SGD", "SGD→RBD"):
        r = runs[name]
        e = at // r.steps_per_epoch  # epochs completed before the switch
        after = r.test_accuracy[e + 1 :] if e + 1 < len(r.test_accuracy) else r.test_accuracy[-1:]
        loss_before = float(np.mean(r.loss[max(0, at - 20) : at])) if at > 0 else float("nan")
        loss_after = float(np.mean(r.loss[at : at + 20]))
        rows.append(
            {
                "run": name,
                "switch_step": at,
                "finite": bool(np.all(np.isfinite(r.loss))),
                "acc_before": float(r.test_accuracy[e]),
                "min_acc_after": float(np.min(after)),
                "final": r.final_accuracy,
                "loss_before": loss_before,
                "loss_after": loss_after,
                "final_first": runs[name.split("→")[0]].final_accuracy,
                "final_second": runs[name.split("→")[1]].final_accuracy,
            }
        )
    return rows


# ===================================================================== timing
def timing(study: Study, model: str = "fc") -> list[dict]:
    """Best-of-k time per training step (batch 32, data pipeline excluded) of SGD and RBD per direction kind.

    Dense directions (d * D random numbers a step, up to a second) are
    timed one step at a time, best of at most 5.  Compilation is excluded; the ratio to SGD is the goal's measure.
    """
    cfg = study.cfg
    ds = study.data()
    x, y = ds.x_train[: cfg.batch_size], ds.y_train[: cfg.batch_size]
    lr = learning_rates(model, cfg.dataset)
    kinds = [("SGD", rb.SGD(lr["sgd"]))]
    for dist in ("hadamard-coset", "hadamard", "bernoulli", "gaussian"):
        if dist in (cfg.rbd_distribution, "gaussian") or cfg.scale != "smoke":
            kinds.append((f"RBD {dist}", rb.RBD(lr["rbd"], cfg.d, dist, chunk=cfg.chunk)))
    rows = []
    for name, method in kinds:
        dense = isinstance(method, rb.RBD) and method.distribution in DENSE
        reps, inner = (
            (min(cfg.timing_repeats, 5), 1) if dense else (cfg.timing_repeats, cfg.timing_inner)
        )
        t = rb.time_step(
            study.model(model), method, x, y, seed=study.seed, repeats=reps, inner=inner
        )
        rows.append({"method": name, "step_ms": 1e3 * t})
    base = rows[0]["step_ms"]
    for r in rows:
        r["ratio_to_sgd"] = r["step_ms"] / base
    return rows


# ===================================================================== distribution over devices
def communication(D: int, d: int, groups) -> list[dict]:
    """Bytes per step and worker: RBD's coefficients vs data-parallel SGD's gradient (float32)."""
    rows = []
    for g in groups:
        c = rb.communication_bytes(D, d, g)
        rows.append(
            {
                "workers": g,
                "RBD payload (B)": c["rbd_payload"],
                "SGD payload (B)": c["sgd_payload"],
                "RBD sent per worker (B)": c["rbd_per_worker"],
                "SGD sent per worker (B)": c["sgd_per_worker"],
                "ratio": c["ratio"],
            }
        )
    return rows


def distributed_d(cfg: Config) -> int:
    """d for the distributed runs: ``Config.d`` rounded up to a multiple of every group count."""
    step = math.lcm(*cfg.dist_groups)
    return -(-cfg.d // step) * step


def _distributed_runs(scale: str, seed: int) -> dict:
    """Body of :func:`distributed_study`; runs in a process started with several host devices."""
    import jax

    cfg = config(scale)
    study = Study(cfg, seed)
    model, d = "fc", distributed_d(cfg)
    lr = learning_rates(model, cfg.dataset)["rbd"]
    out = {"devices": jax.device_count(), "d": d, "D": study.dim(model), "runs": []}
    for g in cfg.dist_groups:
        method = rb.RBD(lr, d, cfg.rbd_distribution, chunk=cfg.chunk, n_groups=g)
        mesh = jax.make_mesh((g,), ("workers",), devices=jax.devices()[:g])
        for kind, kw in (("serial", {}), ("devices", {"mesh": mesh})):
            # two identical runs: the curves must agree, and the faster one's time per step is kept (a single
            # run's mean can carry one-off costs: one book run measured 45 ms/step once and 1.5 ms the next time)
            r = study.run(model, method, cfg.dist_epochs, n_train=cfg.dist_n_train, **kw)
            r2 = study.run(
                model, method, cfg.dist_epochs, n_train=cfg.dist_n_train, fresh=True, **kw
            )
            if not np.array_equal(r.loss, r2.loss):
                raise RuntimeError(
                    f"RBD on {g} group(s) ({kind}) is not deterministic: two runs differ"
                )
            out["runs"].append(
                {
                    "groups": g,
                    "kind": kind,
                    "loss": r.loss.tolist(),
                    "test_accuracy": r.test_accuracy.tolist(),
                    "step_ms": 1e3 * min(r.step_time, r2.step_time),
                    "compile_s": r.compile_time,
                    "steps": r.steps,
                }
            )
    return out


def distributed_study(cfg: Config, seed: int = 0, timeout: float = 1800) -> dict:
    """Serial-grouped and multi-device RBD for ``Config.dist_groups`` devices, in a fresh process.

    Host devices must be requested with
    ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` before JAX
    initialises its CPU backend; a kernel that has already imported
    ``fasttrain`` (which imports JAX) cannot change that, so the runs
    happen in a subprocess with the flag set, and come back as JSON.
    """
    env = dict(os.environ)
    flags = [f for f in env.get("XLA_FLAGS", "").split() if "device_count" not in f]
    env["XLA_FLAGS"] = " ".join(
        flags + [f"--xla_force_host_platform_device_count={max(cfg.dist_groups)}"]
    )
    env.setdefault("JAX_PLATFORMS", "cpu")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fasttrain.chapters.ch03_random_bases",
            "distributed",
            cfg.scale,
            str(seed),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the distributed runs failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def distributed_summary(out: dict) -> list[dict]:
    """Per group count: max |loss difference| device vs serial run, final accuracies, time per step."""
    runs = {(r["groups"], r["kind"]): r for r in out["runs"]}
    base = runs[(min(g for g, _ in runs), "devices")]["step_ms"]
    rows = []
    for g in sorted({g for g, _ in runs}):
        s, dv = runs[(g, "serial")], runs[(g, "devices")]
        rows.append(
            {
                "devices": g,
                "d per device": out["d"] // g,
                "max |loss diff|": float(np.max(np.abs(np.subtract(s["loss"], dv["loss"])))),
                "acc serial": s["test_accuracy"][-1],
                "acc devices": dv["test_accuracy"][-1],
                "step_ms serial": s["step_ms"],
                "step_ms devices": dv["step_ms"],
                "throughput vs 1 device": base / dv["step_ms"],
            }
        )
    return rows


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3 or argv[0] != "distributed":
        print(
            "usage: python -m fasttrain.chapters.ch03_random_bases distributed SCALE SEED",
            file=sys.stderr,
        )
        return 2
    print(json.dumps(_distributed_runs(argv[1], int(argv[2]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
