"""Chapter 05: the sentences the notebook glues (built from the same outputs and the verdicts, so the
prose cannot go stale), and the settings table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fasttrain.core.tables import settings_rows

from .configs import Config


def sentences(out: Mapping[str, Any], cfg: Config, verdicts: Mapping[str, str]) -> dict[str, str]:
    """``{name: markdown}``; the notebook glues them as ``ch05-<name>``."""
    acc = [r["accuracy"] for r in out["accuracies"]]
    mean = sum(acc) / len(acc) if acc else float("nan")
    return {
        "accuracy": f"foo reaches {mean:.3f} on average over {len(acc)} seed(s): "
        f"*{verdicts.get('accuracy-about-93', 'not recorded')}*."
    }


def settings(cfg: Config) -> list[tuple[str, Any]]:
    """The settings table: one row per labelled field of :class:`Config`."""
    return settings_rows(cfg)
