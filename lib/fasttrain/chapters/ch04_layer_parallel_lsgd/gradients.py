"""Chapter 04, part 1, section (2): MGRIT gradients against ``jax.grad`` of the serial network."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from ...methods import layer_parallel as LP
from .configs import LayerParallelConfig
from .networks import _inputs, _network

# ----------------------------------------------------------------------------
# (2) gradients


def gradient_error(
    params, x, y, spec: LP.Spec, mgrit_cfg: LP.MGRITConfig, iterations
) -> list[dict]:
    """Relative errors of the MGRIT loss and gradient (``k`` forward and ``k`` adjoint
    iterations, cold start) against ``jax.value_and_grad`` of the serial network, per ``k``."""
    l_ref, g_ref = jax.jit(jax.value_and_grad(LP.loss_fn), static_argnums=3)(params, x, y, spec)
    g_ref = ravel_pytree(g_ref)[0]
    out = []
    for k in iterations:
        l, g, _ = LP.value_and_grad_mgrit(params, x, y, spec, mgrit_cfg, int(k), int(k))
        out.append(
            {
                "depth": spec.depth,
                "iterations": int(k),
                "loss_err": float(abs(l - l_ref) / abs(l_ref)),
                "grad_rel_err": float(
                    jnp.linalg.norm(ravel_pytree(g)[0] - g_ref) / jnp.linalg.norm(g_ref)
                ),
            }
        )
    return out


def gradient_study(cfg: LayerParallelConfig, seed: int, depths=None) -> list[dict]:
    """:func:`gradient_error` on the peaks architecture at ``depths`` (default ``cfg.grad_depths``),
    FCF two-level, float64."""
    depths = sorted(set(depths or cfg.grad_depths))
    rows = []
    with jax.enable_x64(True):
        x = _inputs(seed + 2, cfg.conv_batch, jnp.float64)
        y = jax.random.randint(jax.random.key(seed + 3), (cfg.conv_batch,), 0, 5)
        for N in depths:
            spec, p = _network(cfg, N, seed, jnp.float64)
            rows += gradient_error(
                p, x, y, spec, LP.MGRITConfig(cfg.cfactor, 2, "FCF"), cfg.grad_iters
            )
    return rows
