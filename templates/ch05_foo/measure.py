"""Chapter 05: one section's protocol.  A stand-in for training: seeded "accuracies", so the skeleton
runs in milliseconds.  A real protocol calls the method in ``fasttrain.methods`` and returns plain
records (lists of dicts), never decides a claim."""

from __future__ import annotations

import numpy as np

from .configs import Config


def accuracies(cfg: Config, seed: int) -> list[dict]:
    """One record per seed of ``Config.seeds`` (offsets to ``seed``): ``{"seed", "accuracy"}``."""
    rows = []
    for off in cfg.seeds:
        rng = np.random.default_rng(seed + off)
        rows.append({"seed": seed + off, "accuracy": float(0.93 + 0.002 * rng.standard_normal())})
    return rows
