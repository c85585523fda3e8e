"""Chapter 03: study."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ...core import models as M
from ...methods import random_bases as rb
from .configs import Config, augmentation_for, learning_rates, load_data


@dataclass
class Study:
    """The chapter's data, models and a memo of training runs at one configuration."""

    cfg: Config
    seed: int = 0
    progress: bool = False
    _data: dict = field(default_factory=dict, repr=False)
    _models: dict = field(default_factory=dict, repr=False)
    runs: dict = field(default_factory=dict, repr=False)
    #: per model, the learning-rate selection's ``(candidate records, {method: (factor, val acc)})``
    selections: dict = field(default_factory=dict, repr=False)
    #: per model, :func:`long_protocol`'s outcome at the selected rates
    longs: dict = field(default_factory=dict, repr=False)

    def data(self, dataset: str | None = None, n_train: int | None = None, split: str = "test"):
        """The training/test data (``n_train``: the first images of the configured training set).

        ``split="val"``: the training set less ``Config.val_size`` images drawn at random (fixed by
        the study's seed), which take the test set's place -- the validation split of
        :func:`lr_selection`; the test images are not in it.
        """
        if split not in ("test", "val"):
            raise ValueError(f"split must be 'test' or 'val', got {split!r}")
        name = dataset or self.cfg.dataset
        if name not in self._data:
            self._data[name] = load_data(replace(self.cfg, dataset=name), self.seed)
        ds = self._data[name]
        if split == "val":
            k, n = self.cfg.val_size, len(ds.x_train)
            if not 0 < k < n:
                raise ValueError(f"val_size must lie in (0, {n}), got {k}")
            idx = np.random.default_rng([self.seed, 1]).permutation(n)
            va, tr = np.sort(idx[:k]), np.sort(idx[k:])
            ds = replace(
                ds,
                x_train=ds.x_train[tr],
                y_train=ds.y_train[tr],
                x_test=ds.x_train[va],
                y_test=ds.y_train[va],
            )
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
        seed: int | None = None,
        split: str = "test",
        **kw,
    ) -> rb.TrainResult:
        """:func:`fasttrain.methods.random_bases.train` once per distinct configuration (memoised).

        ``seed``: the run's seed (initial network, batches, directions; default the study's); it is part
        of the memo's key.  ``split``: ``"val"`` trains on the training set less the validation
        images and scores on those (see :meth:`data`).  ``fresh=True`` trains again even when the
        configuration has run (to repeat a timing); the new result is returned, the memoised one kept.
        """
        dataset = dataset or self.cfg.dataset
        seed = self.seed if seed is None else int(seed)
        if n_train is not None and n_train >= len(self.data(dataset).x_train):
            n_train = None
        key = self._key(model, method, epochs, dataset, n_train, switch_at, then, seed, split, kw)
        if fresh or key not in self.runs:
            result = rb.train(
                self.model(model),
                self.data(dataset, n_train, split),
                method,
                epochs=epochs,
                batch_size=self.cfg.batch_size,
                seed=seed,
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

    def seeds(self, kind: str = "seeds") -> tuple[int, ...]:
        """The run seeds of one group of ``Config`` (``"seeds"``, ``"cnn_seeds"``, ...): offsets + ``seed``."""
        return tuple(self.seed + s for s in getattr(self.cfg, kind))

    @staticmethod
    def _key(model, method, epochs, dataset, n_train, switch_at, then, seed, split, kw):
        return (
            model,
            method,
            epochs,
            dataset,
            n_train,
            switch_at,
            then,
            seed,
            split,
            tuple(sorted(kw.items())),
        )

    def over(
        self,
        model: str,
        method,
        epochs: int,
        seeds,
        *,
        dataset: str | None = None,
        n_train: int | None = None,
        switch_at: int | None = None,
        then=None,
        split: str = "test",
        eval_epochs=None,
        side_by_side: int | None = None,
        **kw,
    ) -> list[rb.TrainResult]:
        """:meth:`run` once per seed of ``seeds``; FC runs not yet memoised go side by side.

        For the fully connected model (no convolutions) and every method but NES, the seeds
        that have not run are trained at once by
        :func:`fasttrain.methods.random_bases.train_seeds` (``jax.vmap`` over the seed: the same
        runs, several times cheaper than one after another) and memoised one by one.
        ``eval_epochs``: score only after these epochs (vectorised runs only; part of the key).
        ``side_by_side``: at most this many seeds in one vmapped run (None: all at once); the
        groups are consecutive seeds in the given order.  A seed's numbers depend on the size of
        its group only through the rounding of the batched kernels (not part of the memo key).
        """
        if side_by_side is not None and (
            isinstance(side_by_side, bool) or not isinstance(side_by_side, int) or side_by_side < 1
        ):
            raise ValueError(
                f"side_by_side must be a positive integer or None, got {side_by_side!r}"
            )
        dataset = dataset or self.cfg.dataset
        seeds = [int(s) for s in seeds]
        if n_train is not None and n_train >= len(self.data(dataset).x_train):
            n_train = None
        ev = None if eval_epochs is None else tuple(sorted(eval_epochs))
        common = (model, method, epochs, dataset, n_train, switch_at, then)
        extra = {} if ev is None else {"eval_epochs": ev}
        keys = {s: self._key(*common, s, split, {**kw, **extra}) for s in seeds}
        vector = model == "fc" and not isinstance(method, rb.NES) and not kw
        if not vector:
            if ev is not None:
                raise ValueError("eval_epochs needs the vectorised FC path")
            return [
                self.run(
                    model,
                    method,
                    epochs,
                    dataset=dataset,
                    n_train=n_train,
                    switch_at=switch_at,
                    then=then,
                    seed=s,
                    split=split,
                    **kw,
                )
                for s in seeds
            ]
        missing = [s for s in seeds if keys[s] not in self.runs]
        group = side_by_side or len(missing) or 1
        for i in range(0, len(missing), group):
            part = missing[i : i + group]
            results = rb.train_seeds(
                self.model(model),
                self.data(dataset, n_train, split),
                method,
                seeds=part,
                epochs=epochs,
                batch_size=self.cfg.batch_size,
                augmentation=self.augmentation(dataset),
                switch_at=switch_at,
                then=then,
                eval_epochs=ev,
                eval_batch=self.cfg.eval_batch,
                progress=self.progress,
            )
            for s, r in zip(part, results):
                self.runs[keys[s]] = r
        return [self.runs[keys[s]] for s in seeds]

    def long_evals(self) -> tuple[int, ...]:
        """The epochs a long CNN run is scored after (``cnn_long_evals``, ``cnn_epochs``, last)."""
        c = self.cfg
        return tuple(sorted({*c.cnn_long_evals, c.cnn_epochs, c.cnn_long_epochs}))

    def run_long(self, model: str, method, seed: int) -> rb.TrainResult:
        """The long run (``Config.cnn_long_epochs``, checkpoints :meth:`long_evals`), memoised.

        A loss that stops being finite ends the run and is kept as its result
        (``on_divergence="stop"``: ``diverged_at`` set, the checkpoints reached before it scored);
        :func:`long_protocol` decides what follows."""
        return self.run(
            model,
            method,
            self.cfg.cnn_long_epochs,
            seed=seed,
            eval_epochs=self.long_evals(),
            on_divergence="stop",
        )

    def long_run(self, model: str, method, seed: int) -> rb.TrainResult | None:
        """The memoised long run of ``method`` and ``seed`` if it has run, else None."""
        c = self.cfg
        key = self._key(
            model,
            method,
            c.cnn_long_epochs,
            c.dataset,
            None,
            None,
            None,
            int(seed),
            "test",
            {"eval_epochs": self.long_evals(), "on_divergence": "stop"},
        )
        return self.runs.get(key)

    def steps_per_epoch(self, dataset: str | None = None) -> int:
        """Steps per epoch on the configured training set at ``Config.batch_size``."""
        return len(self.data(dataset).x_train) // self.cfg.batch_size

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
