"""Choosing a setting on a grid by a validation score, keeping every candidate as a row.

The chapters choose learning rates (and similar settings) the same way: try every value of a
grid, score each on held-out data, keep a candidate that diverged as a row of the table (never
chosen), and pick the best score, ties going to the smaller value.  :func:`on_grid` is that loop
once; the chapters keep only what is theirs (what a candidate trains, what it is scored on, and
the extra columns their tables show).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["AllDiverged", "on_grid"]


class AllDiverged(ValueError):
    """Every candidate of a grid diverged: there is nothing to choose."""


def on_grid(
    values: Iterable[float],
    score: Callable[[float], float | Mapping[str, Any]],
    *,
    higher: bool,
    diverged: tuple[type[BaseException], ...] = (),
    what: str = "candidate",
) -> tuple[list[dict], float]:
    """Score every value of ``values`` and choose the best: ``(rows, chosen value)``.

    ``score(value)`` returns the validation score (a number) or a mapping with the number under
    ``"score"`` and further columns for the row.  A candidate diverged when ``score`` raises one
    of ``diverged`` (its row: ``status`` ``"diverged: <message>"``) or returns a non-finite score
    (``status`` ``"diverged"``); its ``score`` is ``None`` and it is never chosen.  The best
    finite score wins (``higher``: the largest, else the smallest); ties go to the smaller value.
    Rows are ``{"value", "score", "status", ...extra columns}`` in grid order.  Raises
    :class:`AllDiverged` (naming ``what`` and the values) when no candidate has a finite score,
    and ``ValueError`` for an empty grid.
    """
    values = tuple(values)
    if not values:
        raise ValueError(f"no {what} values to choose from")
    rows = []
    for v in values:
        try:
            got = score(v)
        except diverged as exc:
            rows.append({"value": v, "score": None, "status": f"diverged: {exc}"})
            continue
        extra = dict(got) if isinstance(got, Mapping) else {"score": got}
        s = float(extra.pop("score"))
        ok = math.isfinite(s)
        rows.append(
            {"value": v, "score": s if ok else None, "status": "run" if ok else "diverged", **extra}
        )
    finite = [r for r in rows if r["score"] is not None]
    if not finite:
        raise AllDiverged(f"every {what} diverged: {list(values)}")
    sign = -1.0 if higher else 1.0
    best = min(finite, key=lambda r: (sign * r["score"], r["value"]))
    return rows, best["value"]
