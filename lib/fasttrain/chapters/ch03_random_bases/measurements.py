"""Chapter 03: measurements."""

from __future__ import annotations

from ...core import claims
from ...core.claims import (
    Measurement,
    over_seeds,
)
from .configs import METHODS

# ===================================================================== measurements for the claims
#: several measurements for one rule (``name -> Measurement or None``), read like a dict, with
#: ``values`` (a property, not the dict method) the centres that
#: :meth:`fasttrain.core.results.ChapterResults.record` stores as the claim's numbers: the core
#: container :class:`fasttrain.core.claims.Measurements` (this chapter's own class until the
#: 2026-12-07 edition; the same reading, and an item that is not a Measurement or None now raises
#: ``TypeError``)
Several = claims.Measurements


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
