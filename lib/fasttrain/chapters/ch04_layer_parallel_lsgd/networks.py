"""Chapter 04, part 1: the MGRIT variants, the inputs and the ODE-ResNet every section builds."""

from __future__ import annotations

import jax

from ...methods import layer_parallel as LP
from .configs import LayerParallelConfig

#: MGRIT variants of the convergence study: (relaxation, max levels); 99 = coarsen down to 2 steps
VARIANTS: tuple[tuple[str, int], ...] = (("F", 2), ("FCF", 2), ("F", 99), ("FCF", 99))


def variant_name(relax: str, levels: int) -> str:
    """``"FCF, two-level"`` or ``"F, multilevel"``."""
    if relax not in ("F", "FCF") or levels < 2:
        raise ValueError(f"unknown MGRIT variant ({relax!r}, {levels})")
    return f"{relax}, {'two-level' if levels == 2 else 'multilevel'}"


def _inputs(seed: int, n: int, dtype):
    return jax.random.uniform(jax.random.key(seed), (n, 2), dtype, -3.0, 3.0)


def _network(
    cfg: LayerParallelConfig, depth: int, seed: int, dtype, n_features: int = 2, n_classes: int = 5
):
    spec = LP.Spec(n_features, cfg.width, n_classes, depth, cfg.T, cfg.activation)
    return spec, LP.init_params(jax.random.key(seed), spec, cfg.init_scale, dtype=dtype)
