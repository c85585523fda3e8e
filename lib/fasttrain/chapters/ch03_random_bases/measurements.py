"""Chapter 03: measurements."""

from __future__ import annotations

from collections.abc import Mapping

from ...core.claims import (
    Measurement,
    over_seeds,
)
from .configs import METHODS


# ===================================================================== measurements for the claims
class Several(Mapping):
    """Several measurements for one rule (``name -> Measurement or None``), read like a dict.

    ``values`` (a property, not the dict method) lists their centres, which
    :meth:`fasttrain.core.results.ChapterResults.record` stores as the claim's numbers.
    """

    def __init__(self, items):
        self._items = dict(items)

    def __getitem__(self, key):
        return self._items[key]

    def __iter__(self):
        return iter(self._items)

    def __len__(self):
        return len(self._items)

    @property
    def values(self) -> tuple[float, ...]:  # type: ignore[override]
        return tuple(float(m.center) for m in self._items.values() if m is not None)


def fraction_measurement(fractions) -> Measurement:
    """Per-seed fractions of SGD as a Measurement: the geometric mean with the t-interval of the
    mean log (a fraction is a strictly positive ratio); one seed is ``limited``."""
    v = [float(x) for x in fractions]
    return over_seeds(v, log=min(v) > 0)


def table1_measurements(rows: list[dict], model: str, dataset: str | None = None) -> dict:
    """From :func:`table1` rows: accuracies (mean over seeds), fractions of SGD (log scale,
    :func:`fraction_measurement`) and RBD − FPD per seed (mean), as Measurements."""
    by = {
        r["method"]: r
        for r in rows
        if r["model"] == model and (dataset is None or r["dataset"] == dataset)
    }
    ran = {m: r for m, r in by.items() if isinstance(r.get("per_seed"), list)}
    acc = {m: over_seeds(ran[m]["per_seed"]) if m in ran else None for m in METHODS}
    frac = {m: fraction_measurement(ran[m]["fractions"]) for m in METHODS if m in ran}
    gap = None
    if acc["RBD"] is not None and acc["FPD"] is not None:
        f = dict(zip(by["FPD"]["seeds"], by["FPD"]["per_seed"]))
        gap = over_seeds(
            [a - f[s] for s, a in zip(by["RBD"]["seeds"], by["RBD"]["per_seed"]) if s in f]
        )
    return {"accuracy": acc, "fraction": frac, "gap": gap}


def dataset_key(name: str) -> str:
    """The paper's name of a data set (the MNIST subset is MNIST)."""
    return {"mnist-subset": "mnist"}.get(name, name)
