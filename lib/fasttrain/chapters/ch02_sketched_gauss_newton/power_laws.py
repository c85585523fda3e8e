"""Chapter 02: power-law fits and their crossover (used by the rules, the timing studies and the
chapter's extrapolations).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# ---------------------------------------------------------------------------
# fits and extrapolation
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PowerLaw:
    """``t = c x^p`` fitted by least squares on log t against log x."""

    exponent: float
    prefactor: float

    def __call__(self, x):
        return self.prefactor * np.asarray(x, float) ** self.exponent


def fit_power_law(x, t) -> PowerLaw:
    """Least-squares fit of ``log t = log c + p log x``; needs at least two distinct positive ``x``."""
    x, t = np.asarray(x, float), np.asarray(t, float)
    if x.shape != t.shape or x.ndim != 1:
        raise ValueError(
            f"fit_power_law: x and t must be 1-d of equal length, got {x.shape} and {t.shape}"
        )
    if np.any(x <= 0) or np.any(t <= 0) or not (np.all(np.isfinite(x)) and np.all(np.isfinite(t))):
        raise ValueError("fit_power_law: x and t must be positive and finite")
    if len(np.unique(x)) < 2:
        raise ValueError("fit_power_law: need at least two distinct x")
    if np.all(t == t[0]):
        # constant data: the least-squares slope is exactly 0, while polyfit returns rounding of
        # order 1e-17 whose sign and size depend on the CPU's vectorisation (issue 21)
        return PowerLaw(0.0, float(t[0]))
    p, logc = np.polyfit(np.log(x), np.log(t), 1)
    return PowerLaw(float(p), float(np.exp(logc)))


def crossover(slow: PowerLaw, fast: PowerLaw, ratio: float = 1.0):
    """The ``x`` at which ``slow(x) / fast(x) = ratio`` (an extrapolation of the two fits).

    None if the fitted exponents give no such point beyond 0 in the right
    direction (the ratio never grows, i.e. ``slow`` does not grow faster).
    """
    if not ratio > 0:
        raise ValueError(f"crossover: ratio must be positive, got {ratio}")
    dp = slow.exponent - fast.exponent
    if dp <= 0:
        return None
    return float((ratio * fast.prefactor / slow.prefactor) ** (1.0 / dp))
