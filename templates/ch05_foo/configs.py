"""Chapter 05: :class:`Config` per scale.  A field labelled with
:func:`fasttrain.core.tables.setting` is a row of the chapter's settings table."""

from __future__ import annotations

from dataclasses import dataclass, field

from fasttrain.core.scales import pick
from fasttrain.core.tables import setting


@dataclass(frozen=True)
class Config:
    """Settings of chapter 05 at one scale (the chapter's protocol section says why each)."""

    scale: str
    seeds: tuple[int, ...] = field(
        default=(0, 1, 2), metadata=setting("seeds (offsets to the notebook's seed)", "{seeds!n}")
    )
    n_train: int = field(default=1_000, metadata=setting("training points"))
    lr: float = field(default=0.1, metadata=setting("learning rate", "g"))


CONFIGS = {
    "smoke": Config("smoke", seeds=(0, 1), n_train=100),
    "book": Config("book"),
    "paper": Config("paper", n_train=60_000),
}


def config(scale: str) -> Config:
    """The configuration of ``scale`` (a clear error for an unknown scale, before any work)."""
    return pick(CONFIGS, scale)
