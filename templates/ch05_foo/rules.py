"""Chapter 05: the rules.  Each returns every verdict it names, "not reproduced" included; each
example is a synthetic measurement that must give its verdict (the book's tests check them)."""

from __future__ import annotations

from fasttrain.core import claims
from fasttrain.core.claims import Unavailable, over_seeds

#: "around 93 %": the band this book reads the paper's words as (declared before measuring)
AROUND = 0.03
#: the declared precondition under which the claim cannot be tested here
NO_RUNS = "the scale ran no seed"


@claims.rule(
    examples={
        "reproduced": over_seeds([0.93, 0.931, 0.929, 0.932]),
        "not reproduced": over_seeds([0.70, 0.71, 0.69, 0.705]),
        "inconclusive": over_seeds([0.85, 0.99, 0.92]),
        "not testable here": Unavailable(NO_RUNS),
    },
    words="the mean accuracy's 95 % t-interval inside 0.93 ± 0.03",
)
def about_93(m) -> tuple[str, str]:
    """foo's test accuracy is "around 93 %" (Table 1): the mean over seeds with its 95 % t-interval
    ("around" describes the typical run: the mean), inside [0.90, 0.96] → reproduced, wholly outside
    → not reproduced, else inconclusive; one seed decides at most inconclusive (``limited``)."""
    lo_b, hi_b = 0.93 - AROUND, 0.93 + AROUND
    if m.limited:
        return "inconclusive", f"{m.text('.3f')}: {m.limited}"
    if lo_b <= m.lo and m.hi <= hi_b:
        return "reproduced", f"{m.text('.3f')} inside [{lo_b:.2f}, {hi_b:.2f}]"
    if m.hi < lo_b or m.lo > hi_b:
        return "not reproduced", f"{m.text('.3f')} outside [{lo_b:.2f}, {hi_b:.2f}]"
    return "inconclusive", f"{m.text('.3f')} straddles [{lo_b:.2f}, {hi_b:.2f}]"


#: a bar the measurement must clear: a library rule with its source and precondition
beats_chance = claims.threshold(
    0.5,
    higher=True,
    name="beats-chance",
    source="two balanced classes: chance is 0.5",
    untestable=NO_RUNS,
)
