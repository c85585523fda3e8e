"""Chapter 04, part 1, section (1): convergence of MGRIT with depth."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ...core.progress import progress_bar
from ...methods import layer_parallel as LP
from .configs import LayerParallelConfig
from .networks import _inputs, _network, variant_name

# ----------------------------------------------------------------------------
# (1) convergence of MGRIT with depth


def convergence_study(cfg: LayerParallelConfig, seed: int, variants=None, progress: bool = False):
    """Relative residual histories of MGRIT forward propagation over ``cfg.conv_depths``.

    Returns ``(rows, histories)``: a row per depth and variant with the level
    count, the iterations to ``cfg.tol`` (``None``: not reached in
    ``cfg.conv_max_iter``), the final relative residual and the relative
    max-norm distance of the final states from serial propagation;
    ``histories[depth, relax, levels]`` is the residual history.
    """
    rows, hist = [], {}
    todo = progress_bar(
        [(N, v) for N in cfg.conv_depths for v in (variants or cfg.conv_variants)],
        desc="MGRIT convergence",
        unit="solve",
        enabled=progress,
    )
    with jax.enable_x64(True):
        x = _inputs(seed + 1, cfg.conv_batch, jnp.float64)
        refs = {}
        for N, (relax, levels) in todo:
            spec, p = _network(cfg, N, seed, jnp.float64)
            u0 = LP.open_layer(p["open"], x, spec.activation)
            if N not in refs:
                refs[N] = LP.serial_states(p["layers"], u0, spec.h, spec.activation)
            ref = refs[N]
            mc = LP.MGRITConfig(cfg.conv_cfactor, levels, relax)
            r = LP.mgrit_forward(p["layers"], u0, spec.h, mc, cfg.conv_max_iter, spec.activation)
            rel = np.asarray(r.relative)
            hist[N, relax, levels] = rel
            rows.append(
                {
                    "depth": N,
                    "variant": variant_name(relax, levels),
                    "levels": len(LP.level_sizes(N, mc)),
                    "iters_to_tol": LP.iterations_to_tol(r.residuals, cfg.tol),
                    "final_rel_residual": float(rel[-1]),
                    "max_err_vs_serial": float(
                        jnp.max(jnp.abs(r.states - ref)) / jnp.max(jnp.abs(ref))
                    ),
                }
            )
    return rows, hist


def bounded_iterations(rows, min_depth: int = 64, max_iter: int = 10) -> dict:
    """Per variant, the largest iteration count to tolerance over depths ``>= min_depth``.

    Returns ``{"per_variant": {variant: max or None}, "best": variant, "worst_of_best": int | None,
    "depths": [...], "ok": bool}``; ``None`` means some depth did not reach the tolerance.
    ``ok``: the best variant needs at most ``max_iter`` iterations at every such depth.
    """
    deep = [r for r in rows if r["depth"] >= min_depth]
    if not deep:
        raise ValueError(f"no convergence measurement at depth >= {min_depth}")
    per = {}
    for v in dict.fromkeys(r["variant"] for r in deep):
        its = [r["iters_to_tol"] for r in deep if r["variant"] == v]
        per[v] = None if any(i is None for i in its) else max(its)
    reached = {v: m for v, m in per.items() if m is not None}
    best = min(reached, key=reached.get) if reached else None
    worst = reached.get(best) if best else None
    return {
        "per_variant": per,
        "best": best,
        "worst_of_best": worst,
        "depths": sorted({r["depth"] for r in deep}),
        "ok": worst is not None and worst <= max_iter,
    }
