"""Chapter 05: the evidence map.  ``evidence(out, cfg)`` decides nothing itself: it turns what the
sections returned (``out``, keys in :data:`SECTIONS`) into ``{claim id: Evidence | Measurement |
Unavailable}`` for every declared claim, at every scale; the notebook records them all in one call,
``res.record_all(S.evidence(out, cfg))``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fasttrain.core.claims import Unavailable, over_seeds, worst_case
from fasttrain.core.results import Evidence, evidence_map

from .claims import CLAIMS
from .configs import Config
from .rules import NO_RUNS

#: what the notebook stores in ``out`` (the keys the parts read)
SECTIONS = {"accuracies": "S.accuracies rows (seed, accuracy)"}


def accuracy_evidence(out: Mapping[str, Any], cfg: Config) -> dict:
    """``accuracy-about-93`` (the mean over seeds) and ``beats-chance`` (the worst seed)."""
    acc = [r["accuracy"] for r in out["accuracies"]]
    if not acc:
        return {cid: Unavailable(NO_RUNS) for cid in ("accuracy-about-93", "beats-chance")}
    return {
        "accuracy-about-93": Evidence(over_seeds(acc), reason=f"{len(acc)} seed(s)"),
        "beats-chance": worst_case(acc, higher=True, of="seeds"),
    }


#: every section's evidence function, in the chapter's order
PARTS = (accuracy_evidence,)


def evidence(out: Mapping[str, Any], cfg: Config) -> dict:
    """Every declared claim's evidence; raises naming claims decided twice, by none, or undeclared."""
    return evidence_map(PARTS, out, cfg, CLAIMS, "05")
