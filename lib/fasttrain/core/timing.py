"""Wall-clock timing that is honest about JAX's asynchronous dispatch.

Performance in this book is always a ratio of two runs in one process
(a chapter or a benchmark), never an absolute number asserted by a test.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

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


@contextmanager
def pinned_blas(threads: int | None = 1):
    """NumPy/SciPy's BLAS pinned to ``threads`` threads (threadpoolctl; ``None``: left alone).

    XLA's own CPU threads are not BLAS threads and are not affected.
    """
    if not threads:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads, user_api="blas"):
        yield


def load_average() -> float | None:
    """The machine's 1-minute load average (``None`` where the platform has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def interleaved(
    fns: Mapping[str, Callable[[], Any]],
    rounds: int = 7,
    warmup: int = 1,
    blas_threads: int | None = 1,
) -> dict[str, Any]:
    """Time ``fns`` in interleaved rounds (A, B, A, B, ...) after ``warmup`` calls of each.

    The warm-up calls compile (JAX) and fill caches; they are not timed.  During the rounds the
    BLAS libraries of NumPy and SciPy are pinned to ``blas_threads`` threads (threadpoolctl;
    ``None`` leaves them alone) so that a multi-threaded BLAS competing with other work on the
    machine does not decide a ratio.  XLA's own CPU threads are not BLAS threads and are not pinned.
    Returns ``{"times": {name: [seconds per round]}, "load": [1-min load before, after],
    "rounds": rounds, "blas_threads": blas_threads}``; :func:`ratios` turns two series into per-round
    ratios for :func:`fasttrain.core.claims.over_rounds`.
    """
    if rounds < 1 or warmup < 0:
        raise ValueError(f"need rounds >= 1 and warmup >= 0, got rounds={rounds}, warmup={warmup}")
    for fn in fns.values():
        for _ in range(warmup):
            block(fn())
    times: dict[str, list[float]] = {name: [] for name in fns}
    load = [load_average()]
    with pinned_blas(blas_threads):
        for _ in range(rounds):
            for name, fn in fns.items():
                t0 = time.perf_counter()
                block(fn())
                times[name].append(time.perf_counter() - t0)
    load.append(load_average())
    return {"times": times, "load": load, "rounds": rounds, "blas_threads": blas_threads}


def ratios(timed: dict[str, Any], slow: str, fast: str) -> list[float]:
    """Per-round ``time[slow] / time[fast]`` of an :func:`interleaved` result (a speed-up of ``fast``)."""
    a, b = timed["times"][slow], timed["times"][fast]
    return [x / y for x, y in zip(a, b, strict=True)]
