"""Chapter 04, part 1, section (4): serial against MGRIT wall time, and the work model."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from ...core.progress import progress_bar
from ...core.timing import interleaved, ratios
from ...methods import layer_parallel as LP
from .configs import LayerParallelConfig
from .networks import _inputs, _network, variant_name

# ----------------------------------------------------------------------------
# (4) speed


def time_passes(
    cfg: LayerParallelConfig,
    depth: int,
    seed: int,
    variants=None,
    iterations=None,
    mesh=None,
    rounds: int | None = None,
    progress: bool = False,
) -> dict:
    """Interleaved wall times of a forward pass and of loss + gradient, serial and MGRIT.

    Serial: ``jax.jit`` of the ``lax.scan`` network and of ``jax.value_and_grad``.  MGRIT:
    :func:`~fasttrain.methods.layer_parallel.forward_mgrit` and
    :func:`~fasttrain.methods.layer_parallel.value_and_grad_mgrit` for every variant
    (``(relax, levels)``), iteration count and device layout (vectorised on
    one device; with ``mesh`` also split across its devices).  Every function is compiled by a
    first call (its time, compile + one run, is ``compile_s``), then all of them are timed in
    ``rounds`` interleaved rounds (:func:`fasttrain.core.timing.interleaved`: serial, MGRIT ...,
    serial, MGRIT ...).  Returns ``{"rows": [...], "load": [before, after], "rounds": n}``; a
    row has the median seconds and the per-round ratios serial / MGRIT (``fwd_ratios``,
    ``fwdbwd_ratios``; above 1: MGRIT faster) with their median, min and max.
    """
    variants = variants or cfg.timing_variants
    iterations = sorted(set(iterations or (cfg.n_fwd,)))
    rounds = rounds or cfg.timing_rounds
    spec, p = _network(cfg, depth, seed, jnp.float32)
    x = _inputs(seed + 4, cfg.timing_batch, jnp.float32)
    y = jax.random.randint(jax.random.key(seed + 5), (cfg.timing_batch,), 0, 5)

    def first_call(f):
        t0 = time.perf_counter()
        jax.block_until_ready(f())
        return time.perf_counter() - t0

    fwd = jax.jit(lambda p, x: LP.forward(p, x, spec))
    vg = jax.jit(lambda p, x, y: jax.value_and_grad(LP.loss_fn)(p, x, y, spec))
    fns = {("serial", "fwd"): lambda: fwd(p, x), ("serial", "vg"): lambda: vg(p, x, y)}
    meta = {"serial": {"method": "serial", "variant": "–", "iterations": None, "devices": 1}}
    compile_s = {"serial": first_call(fns["serial", "fwd"]) + first_call(fns["serial", "vg"])}
    todo = progress_bar(
        [(v, m) for v in variants for m in ([None, mesh] if mesh is not None else [None])],
        desc=f"compiling N={depth}",
        unit="variant",
        enabled=progress,
    )
    for (relax, levels), m in todo:
        mc = LP.MGRITConfig(cfg.cfactor, levels, relax)
        devices = 1 if m is None else m.size
        first_compile = None
        for k in iterations:
            kk = jnp.asarray(k, jnp.int32)
            key = (relax, levels, int(k), devices)
            fns[key, "fwd"] = lambda mc=mc, m=m, kk=kk: LP.forward_mgrit(p, x, spec, mc, kk, m)
            fns[key, "vg"] = lambda mc=mc, m=m, kk=kk: LP.value_and_grad_mgrit(
                p, x, y, spec, mc, kk, kk, mesh=m
            )[:2]
            meta[key] = {
                "method": "MGRIT",
                "variant": variant_name(relax, levels),
                "iterations": int(k),
                "devices": devices,
            }
            # the iteration count is a run-time argument: one compilation per variant and layout
            c = first_call(fns[key, "fwd"]) + first_call(fns[key, "vg"])
            first_compile = c if first_compile is None else first_compile
            compile_s[key] = first_compile
    timed = interleaved(fns, rounds=rounds, warmup=1)
    rows = []
    for key, info in meta.items():
        r_f = ratios(timed, ("serial", "fwd"), (key, "fwd"))
        r_g = ratios(timed, ("serial", "vg"), (key, "vg"))
        rows.append(
            {
                "depth": depth,
                **info,
                "compile_s": compile_s[key],
                "forward_s": float(np.median(timed["times"][key, "fwd"])),
                "fwd+bwd_s": float(np.median(timed["times"][key, "vg"])),
                "fwd_ratios": tuple(r_f),
                "fwdbwd_ratios": tuple(r_g),
                "serial/MGRIT fwd": float(np.median(r_f)),
                "fwd min": min(r_f),
                "fwd max": max(r_f),
                "serial/MGRIT fwd+bwd": float(np.median(r_g)),
            }
        )
    return {"rows": rows, "load": timed["load"], "rounds": rounds}


MODEL_VARIANTS: tuple[tuple[str, int], ...] = (("FCF", 2), ("F", 99), ("FCF", 99))


def work_model(
    depths, cfactor: int, processors, n_iter: int, variants=MODEL_VARIANTS
) -> list[dict]:
    """:func:`~fasttrain.methods.layer_parallel.critical_path` over depths, processor counts and variants."""
    return [
        {
            "depth": N,
            "P": P,
            "iterations": n_iter,
            "variant": variant_name(relax, lv),
            **LP.critical_path(N, LP.MGRITConfig(cfactor, lv, relax), P, n_iter),
        }
        for N in depths
        for relax, lv in variants
        for P in processors
    ]


def processors_for(
    depth: int, cfactor: int, speedup: float, n_iter: int, variant=("FCF", 99), max_p: int = 2**16
) -> int | None:
    """Smallest power-of-two processor count for which the work model predicts ``speedup``
    (``None``: not up to ``max_p``; the model saturates once every interval has its processor)."""
    if speedup <= 0:
        raise ValueError(f"speed-up must be positive, got {speedup}")
    mc = LP.MGRITConfig(cfactor, variant[1], variant[0])
    P = 1
    while P <= max_p:
        if LP.critical_path(depth, mc, P, n_iter)["speedup"] >= speedup:
            return P
        P *= 2
    return None


def max_model_speedup(depth: int, cfactor: int, n_iter: int, variant=("FCF", 99)) -> float:
    """The work model's speed-up with unlimited processors (one per coarse interval)."""
    mc = LP.MGRITConfig(cfactor, variant[1], variant[0])
    return LP.critical_path(depth, mc, max(1, depth // cfactor), n_iter)["speedup"]


def processors_text(depth: int, cfactor: int, speedup: float, n_iter: int, variant, max_p=2**16):
    """``"P >= 128"`` or ``"no processor count up to 65536 reaches it"`` (the work model)."""
    P = processors_for(depth, cfactor, speedup, n_iter, variant, max_p)
    return f"P >= {P}" if P is not None else f"no processor count up to {max_p} reaches it"
