"""Chapter 05: the declared claims (before measuring) and what the regression tests leave free."""

from __future__ import annotations

from fasttrain.core import reference
from fasttrain.core.claims import ClaimSpec, declare

from .paper import PAPER_ACCURACY
from .rules import about_93, beats_chance

CLAIMS = declare(
    ClaimSpec(
        "accuracy-about-93",
        "paper",
        "foo's test accuracy is about 93 %",
        "Sec. 4, Table 1",
        PAPER_ACCURACY,
        "test accuracy",
        about_93,
        "foo reaches about 93% test accuracy",
    ),
    ClaimSpec(
        "beats-chance",
        "analysis",
        "foo's worst seed beats chance",
        "this book",
        None,
        "test accuracy (worst seed)",
        beats_chance,
    ),
)

#: claims whose values depend on timings or on float32 training trajectories (checked for presence
#: only across CPUs), with the reason
REGRESSION = reference.Declared(
    trajectory=("accuracy-about-93", "beats-chance"),
    why={"accuracy-about-93": "a trained accuracy", "beats-chance": "a trained accuracy"},
)
