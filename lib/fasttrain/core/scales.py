"""Scales shared by every chapter.

Each chapter notebook has a papermill ``parameters`` cell with ``scale``:

* ``"smoke"`` -- seconds; the CI regression run (nbval fixtures),
* ``"book"``  -- the published book; minutes on a 2-core laptop,
* ``"paper"`` -- the paper's own settings; may need a GPU and hours.

A chapter module keeps one frozen configuration per scale in a dict and
selects it with :func:`pick`, which rejects unknown scales loudly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

SCALES: tuple[str, ...] = ("smoke", "book", "paper")

T = TypeVar("T")


def check_scale(scale: str) -> str:
    """Return ``scale`` if it is one of :data:`SCALES`, else raise ``ValueError``."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}: choose one of {', '.join(SCALES)}")
    return scale


def pick(table: Mapping[str, T], scale: str) -> T:
    """The entry of ``table`` for ``scale`` (a per-scale configuration table)."""
    check_scale(scale)
    missing = [s for s in SCALES if s not in table]
    if missing:
        raise ValueError(f"configuration table lacks scales {missing}")
    return table[scale]
