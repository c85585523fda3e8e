"""Chapter 03: step_costs."""

from __future__ import annotations

import numpy as np

from ...core import models as M
from ...core.claims import (
    over_rounds,
)
from ...methods import random_bases as rb
from .configs import DENSE, learning_rates
from .measurements import Several
from .study import Study
from .table1_runs import _method_at, wait_background


# ===================================================================== timing
def _steps_loop(model: M.Model, method, x, y, seed: int, inner: int):
    """``(many, params, aux)``: the jitted loop of ``inner`` training steps and its arguments.

    The method's own step runner (:func:`fasttrain.methods.random_bases.step_runner`, shared with
    ``time_step``), always as one jitted ``lax.fori_loop`` of ``inner`` steps from the same initial
    network; ``benchmarks/rbd_step.py``
    lowers ``many`` to inspect its compiled program.
    """
    import jax.numpy as jnp

    x, y = jnp.asarray(x), jnp.asarray(y)
    params = model.init(rb.stream_key(seed, rb.STREAM_INIT), tuple(x.shape[1:]))
    loss = rb.make_loss(model.apply)
    many, aux = rb.step_runner(method, loss, params, x, y, inner, seed, loop="fori")
    return many, params, aux


def _steps_runner(model: M.Model, method, x, y, seed: int, inner: int):
    """A zero-argument function that runs :func:`_steps_loop`'s ``inner`` training steps, so that
    :func:`fasttrain.core.timing.interleaved` can alternate methods round by round."""
    many, params, aux = _steps_loop(model, method, x, y, seed, inner)
    return lambda: many(params, aux)


def timing(study: Study, model: str = "fc") -> dict:
    """Time per training step (batch 32, data pipeline excluded) of SGD and RBD per direction kind.

    Interleaved rounds (:func:`fasttrain.core.timing.interleaved`, ``Config.timing_rounds`` after a
    compiling warm-up, BLAS pinned to one thread): in every round each method runs ``timing_inner``
    steps in one ``lax.fori_loop`` (dense directions, up to a second a step: one step), one after the
    other.  Returns ``{"rows": [{method, step_ms (median), ratio_to_sgd (median), lo, hi}],
    "ratios": {method: [per-round ratio to SGD]}, "load": [1-min load before, after], "rounds"}``.
    """
    from ..core import timing as T

    wait_background(study)  # no training in the background while timing
    cfg = study.cfg
    ds = study.data()
    x, y = ds.x_train[: cfg.batch_size], ds.y_train[: cfg.batch_size]
    lr = learning_rates(model, cfg.dataset)
    kinds = [("SGD", rb.SGD(lr["sgd"]))]
    for dist in ("hadamard-coset", "hadamard", "bernoulli", "gaussian"):
        if dist in (cfg.rbd_distribution, "gaussian") or cfg.scale != "smoke":
            kinds.append((f"RBD {dist}", rb.RBD(lr["rbd"], cfg.d, dist, chunk=cfg.chunk)))
    inner = {
        name: 1 if isinstance(m, rb.RBD) and m.distribution in DENSE else cfg.timing_inner
        for name, m in kinds
    }
    fns = {
        name: _steps_runner(study.model(model), m, x, y, study.seed, inner[name])
        for name, m in kinds
    }
    timed = T.interleaved(fns, rounds=cfg.timing_rounds, warmup=1)
    per_step = {n: [t / inner[n] for t in ts] for n, ts in timed["times"].items()}
    ratios = {
        n: [a / b for a, b in zip(per_step[n], per_step["SGD"], strict=True)] for n in per_step
    }
    rows = [
        {
            "method": n,
            "step_ms": 1e3 * float(np.median(per_step[n])),
            "ratio_to_sgd": float(np.median(ratios[n])),
            "ratio_min": float(min(ratios[n])),
            "ratio_max": float(max(ratios[n])),
        }
        for n in per_step
    ]
    return {"rows": rows, "ratios": ratios, "load": timed["load"], "rounds": timed["rounds"]}


#: what this edition changed in the structured (coset Hadamard) RBD step's implementation; empty:
#: nothing (the 1.2× goal's reason names these facts, with the compiled kernel counts)
STRUCTURED_STEP_CHANGES: tuple[str, ...] = (
    "its random signs and rows are drawn by an unrolled Threefry (the same bits as jax.random, "
    "without XLA:CPU's rolled loop) and materialised once, sign flips by an xor of the sign bit",
)


def fused_kernels(study: Study, model: str = "fc") -> dict:
    """Fused kernels (XLA ``fusion`` instructions) in one compiled training step, SGD and RBD.

    ``{"SGD": n, "RBD <distribution>": n}`` for batch ``Config.batch_size``: the count of
    separately launched fused loops is where a structured step's extra time goes on a CPU.
    Empty when ``Config.count_kernels`` is off.
    """
    import re

    import jax
    import jax.numpy as jnp

    cfg = study.cfg
    if not cfg.count_kernels:
        return {}
    ds = study.data()
    x = jnp.asarray(ds.x_train[: cfg.batch_size])
    y = jnp.asarray(ds.y_train[: cfg.batch_size])
    mdl = study.model(model)
    params = mdl.init(rb.stream_key(study.seed, rb.STREAM_INIT), tuple(x.shape[1:]))
    lr = learning_rates(model, cfg.dataset)
    out = {}
    for name, method in (
        ("SGD", rb.SGD(lr["sgd"])),
        (f"RBD {cfg.rbd_distribution}", _method_at("RBD", lr["rbd"], cfg)),
    ):
        init, step = rb.build(method, rb.make_loss(mdl.apply), params, study.seed)
        text = jax.jit(step).lower(params, init(params), x, y, 0).compile().as_text()
        out[name] = len(re.findall(r"[)\]}] fusion\(", text))
    return out


def structured_step_facts(kernels: dict) -> str:
    """The structured step's facts for the 1.2× goal's reason: its compiled kernel counts
    (:func:`fused_kernels`) and this edition's changes to it (:data:`STRUCTURED_STEP_CHANGES`)."""
    counts = (
        "one compiled step has " + ", ".join(f"{k} {n}" for k, n in kernels.items()) + " fused "
        "kernels"
        if kernels
        else "fused kernels not counted at this scale"
    )
    changes = (
        "this edition changed the structured step: " + "; ".join(STRUCTURED_STEP_CHANGES)
        if STRUCTURED_STEP_CHANGES
        else "no change to the structured step's implementation in this edition"
    )
    return f"{counts}; {changes}"


def timing_vs_d(study: Study, model: str = "fc") -> dict:
    """Time per RBD step against d (``Config.d_timing``), Gaussian and coset-Hadamard directions.

    Interleaved rounds as :func:`timing` (Gaussian: one step per round and kind, its steps take
    up to a second; coset: ``timing_inner`` steps).  Returns ``{"rows": [{directions, d, step_ms
    (median), lo, hi}], "times": {(directions, d): [per-round ms]}, "load", "rounds"}``.
    """
    from ..core import timing as T

    wait_background(study)  # no training in the background while timing
    cfg = study.cfg
    ds = study.data()
    x, y = ds.x_train[: cfg.batch_size], ds.y_train[: cfg.batch_size]
    lr = learning_rates(model, cfg.dataset)["rbd"]
    kinds, inner = {}, {}
    for dist in ("gaussian", "hadamard-coset"):
        for d in cfg.d_timing:
            name = f"{dist} d={d}"
            kinds[name] = rb.RBD(lr, d, dist, chunk=cfg.chunk)
            inner[name] = 1 if dist == "gaussian" else cfg.timing_inner
    fns = {
        n: _steps_runner(study.model(model), m, x, y, study.seed, inner[n])
        for n, m in kinds.items()
    }
    timed = T.interleaved(fns, rounds=cfg.timing_rounds, warmup=1)
    times = {n: [1e3 * t / inner[n] for t in ts] for n, ts in timed["times"].items()}
    rows = [
        {
            "directions": n.split(" d=")[0],
            "d": int(n.split(" d=")[1]),
            "step_ms": float(np.median(v)),
            "lo": float(min(v)),
            "hi": float(max(v)),
        }
        for n, v in times.items()
    ]
    return {"rows": rows, "times": times, "load": timed["load"], "rounds": timed["rounds"]}


def timing_vs_d_measurements(out: dict) -> dict:
    """Gaussian step times per d (over rounds) and the coset's per-round ratio largest/smallest d."""
    ds = sorted({r["d"] for r in out["rows"]})
    t = out["times"]
    gauss = Several({d: over_rounds(t[f"gaussian d={d}"]) for d in ds})
    lo, hi = t[f"hadamard-coset d={ds[0]}"], t[f"hadamard-coset d={ds[-1]}"]
    return {"gaussian": gauss, "coset_ratio": over_rounds([b / a for a, b in zip(lo, hi)])}
