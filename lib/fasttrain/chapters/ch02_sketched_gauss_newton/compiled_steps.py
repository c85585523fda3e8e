"""Chapter 02: the compiled float32 steps (one executable per method and size), the timing problem
and the memory limits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from ...methods import gauss_newton as gn
from .configs import TIMED_METHODS, Config, _forward_np

# ---------------------------------------------------------------------------
# timing and memory
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledStep:
    """One method's step compiled for one problem size: ``fn(W, a, X, y, key) -> (W_new, StepInfo)``.

    ``compile_seconds`` the lowering + XLA compilation time; ``peak_bytes``
    XLA's buffer assignment (arguments + outputs + temporaries - aliased);
    ``temp_bytes`` the temporaries alone.
    """

    method: str
    fn: Callable
    compile_seconds: float
    peak_bytes: int
    temp_bytes: int


def step_function(
    method: str,
    n: int,
    m: int,
    d: int,
    *,
    sketch_factor: float = 4.0,
    cg_tol: float = 1e-5,
    cg_maxiter: int = 100,
    factor: str = "cholesky",
    damping: float = 0.0,
    precond_apply: str = "blocked",
    solve_apply: str = "blocked",
) -> Callable:
    """``(W, a, X, y, key) -> (W_new, StepInfo)`` for ``method`` (:data:`TIMED_METHODS`: ``gn``,
    ``fast``, ``kron`` = the fast step with the Kronecker sketch, ``cg``, ``gd``), settings bound;
    ``precond_apply`` (fast steps) and ``solve_apply`` (exact GN) from
    :data:`fasttrain.methods.gauss_newton.PRECOND_APPLY`."""
    if method not in TIMED_METHODS:
        raise ValueError(f"unknown method {method!r}: choose one of {', '.join(TIMED_METHODS)}")
    s = gn.default_sketch_size(n, sketch_factor)
    sketch = "kron" if method == "kron" else "srht"
    sketched = method in ("fast", "kron")
    gn.check_step_settings(
        n, 1.0, damping, s if sketched else None, cg_tol, cg_maxiter, m * d, sketch, m
    )
    if factor not in gn.FACTORS:
        raise ValueError(f"unknown factor {factor!r}: choose one of {', '.join(gn.FACTORS)}")
    gn.check_apply(precond_apply, "precond_apply")
    gn.check_apply(solve_apply, "solve_apply")
    cg = dict(damping=damping, cg_tol=cg_tol, cg_maxiter=cg_maxiter)
    spec = {
        "gd": gn.GD(1.0),
        "gn": gn.ExactGN(damping=damping, solve_apply=solve_apply),
        "cg": gn.CG(**cg),
    }.get(method) or gn.FastGN(sketch, s, factor, precond_apply=precond_apply, **cg)
    return gn.unbound(spec)


def compile_step(method: str, W, a, X, y, key, **settings) -> CompiledStep:
    """Lower and compile ``method``'s step for these arrays; time the compilation, read XLA's memory analysis.

    The executable depends on the arrays' shapes and dtypes only (the data are arguments, not constants).
    """
    n, d = X.shape
    return _compile_step(
        method, n, W.shape[0], d, jnp.dtype(W.dtype).name, tuple(sorted(settings.items()))
    )


@lru_cache(maxsize=32)
def _compile_step(method, n, m, d, dtype, settings) -> CompiledStep:
    """Cached by shape and settings, so that the timing and memory studies compile each size once."""
    fn = jax.jit(step_function(method, n, m, d, **dict(settings)))
    W, a, X, y = (jax.ShapeDtypeStruct(shape, dtype) for shape in ((m, d), (m,), (n, d), (n,)))
    key = jax.eval_shape(lambda: jax.random.key(0))
    t0 = time.perf_counter()
    compiled = fn.lower(W, a, X, y, key).compile()
    t = time.perf_counter() - t0
    ma = compiled.memory_analysis()
    peak = (
        ma.argument_size_in_bytes
        + ma.output_size_in_bytes
        + ma.temp_size_in_bytes
        - ma.alias_size_in_bytes
    )
    return CompiledStep(method, compiled, t, int(peak), int(ma.temp_size_in_bytes))


def problem32(n: int, m: int, d: int, seed: int):
    """A float32 timing problem ``(W0, a, X, y)`` drawn with numpy (no compilation per size).

    Unit-norm Gaussian inputs, labels of a random width-64 teacher of the same
    architecture (as :func:`fasttrain.methods.gauss_newton.synthetic_data`), ``W0 ~ N(0, I)``, ``a`` random signs.
    """
    rng = np.random.default_rng([seed, n, m, d])
    X = rng.normal(size=(n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = _forward_np(rng.normal(size=(64, d)), rng.choice([-1.0, 1.0], 64), X)
    W, a = rng.normal(size=(m, d)), rng.choice([-1.0, 1.0], m)
    return tuple(jnp.asarray(v, jnp.float32) for v in (W, a, X, y))


def _timing_settings(cfg: Config, factor: str | None = None, method: str = "fast"):
    return tuple(
        sorted(
            {
                "sketch_factor": cfg.kron_sketch_factor if method == "kron" else cfg.sketch_factor,
                "cg_tol": cfg.timing_cg_tol,
                "factor": factor or cfg.timing_factor,
                "precond_apply": cfg.precond_apply,
                "solve_apply": cfg.solve_apply,
            }.items()
        )
    )


#: the issue's memory condition for a timed size: one step within 8 GB (8·10⁹ bytes)
MEMORY_LIMIT_BYTES = 8 * 10**9
#: the issue's time condition for a timed size: one step within 60 s
STEP_LIMIT_SECONDS = 60.0


def check_memory(steps, n: int, m: int, d: int, limit: int = MEMORY_LIMIT_BYTES) -> None:
    """Refuse, before anything runs, a size whose compiled steps XLA's buffer assignment puts above
    ``limit`` bytes (arguments + outputs + temporaries of one step)."""
    for c in steps:
        if c.peak_bytes > limit:
            raise MemoryError(
                f"{c.method} step at n={n}, m={m}, d={d} needs {c.peak_bytes / 1e9:.2f} GB by XLA's "
                f"buffer assignment, above the limit of {limit / 1e9:g} GB: choose a smaller m or n"
            )


def peak_rss_bytes() -> int:
    """The process's peak resident memory so far (``getrusage`` maxrss; KiB on Linux, bytes on
    macOS): an upper bound of what any step measured so far held."""
    import resource
    import sys

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)
