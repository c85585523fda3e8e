"""Wall-clock timing that is honest about JAX's asynchronous dispatch.

Performance in this book is always a ratio of two runs in one process
(a chapter or a benchmark), never an absolute number asserted by a test.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import jax


def block(x):
    """Wait until every array in the pytree ``x`` is computed; return ``x``."""
    return jax.block_until_ready(x)


@dataclass
class Stopwatch:
    """Accumulates named wall-clock intervals: ``with sw("setup"): ...``."""

    laps: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def __call__(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.laps[name] = self.laps.get(name, 0.0) + time.perf_counter() - t0

    def total(self, *names: str) -> float:
        return sum(self.laps[n] for n in (names or self.laps))


def best_time(fn, *args, repeats: int = 3, **kwargs) -> float:
    """Minimum wall time of ``fn(*args)`` over ``repeats`` runs (after one warm-up)."""
    block(fn(*args, **kwargs))
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        block(fn(*args, **kwargs))
        best = min(best, time.perf_counter() - t0)
    return best
