"""Chapter 04, part 1: the protocols around :mod:`fasttrain.layer_parallel`.

Each function runs one measurement of the chapter and returns plain records
(lists of dicts, or dicts of runs) that the chapter tabulates and plots; the
verdict helpers turn measurements into the claims table's verdicts.  The
protocol, stated once here and in the chapter:

* network: the ODE-ResNet of :mod:`fasttrain.layer_parallel` (tanh, width and
  final time from :class:`~fasttrain.layer_parallel.Config`), Gaussian weights;
* convergence: float64 (so that a relative residual of ``1e-8`` means
  something), inputs uniform in the peaks square ``[-3, 3]^2``, initial guess
  ``u_0`` copied to every layer, F or FCF relaxation, two-level (serial coarse
  solve) or multilevel (coarsening down to 2 steps);
* gradients: ``k`` forward and ``k`` adjoint MGRIT iterations from a cold
  start against ``jax.grad`` of the serial network, float64;
* training: full-batch Adam, same initial network for every run; in MGRIT mode
  every step runs ``k`` forward and ``k`` adjoint iterations warm-started from
  the previous step (inexact gradients);
* speed: float32, best of ``timing_repeats`` runs after a warm-up that compiles
  (compile time is never in a ratio), serial ``lax.scan`` / ``jax.grad``
  against MGRIT vectorised on one device and with its intervals split across
  all JAX devices.  The MGRIT iteration count is a run-time argument
  (:func:`fasttrain.layer_parallel.forward_mgrit`), so one compilation per depth
  and variant serves every count.
"""
from __future__ import annotations

import math
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from . import layer_parallel as LP
from .data import load_banknote
from .timing import best_time

#: MGRIT variants of the convergence study: (relaxation, max levels); 99 = coarsen down to 2 steps
VARIANTS: tuple[tuple[str, int], ...] = (("F", 2), ("FCF", 2), ("F", 99), ("FCF", 99))


def variant_name(relax: str, levels: int) -> str:
    """``"FCF, two-level"`` or ``"F, multilevel"``."""
    if relax not in ("F", "FCF") or levels < 2:
        raise ValueError(f"unknown MGRIT variant ({relax!r}, {levels})")
    return f"{relax}, {'two-level' if levels == 2 else 'multilevel'}"


def _inputs(seed: int, n: int, dtype):
    return jax.random.uniform(jax.random.key(seed), (n, 2), dtype, -3.0, 3.0)


def _network(cfg: LP.Config, depth: int, seed: int, dtype, n_features: int = 2, n_classes: int = 5):
    spec = LP.Spec(n_features, cfg.width, n_classes, depth, cfg.T, cfg.activation)
    return spec, LP.init_params(jax.random.key(seed), spec, cfg.init_scale, dtype=dtype)


# ----------------------------------------------------------------------------
# (1) convergence of MGRIT with depth


def convergence_study(cfg: LP.Config, seed: int, variants=None, progress: bool = False):
    """Relative residual histories of MGRIT forward propagation over ``cfg.conv_depths``.

    Returns ``(rows, histories)``: a row per depth and variant with the level
    count, the iterations to ``cfg.tol`` (``None``: not reached in
    ``cfg.conv_max_iter``), the final relative residual and the relative
    max-norm distance of the final states from serial propagation;
    ``histories[depth, relax, levels]`` is the residual history.
    """
    rows, hist = [], {}
    todo = [(N, v) for N in cfg.conv_depths for v in (variants or cfg.conv_variants)]
    if progress:
        from tqdm.auto import tqdm
        todo = tqdm(todo, desc="MGRIT convergence", unit="solve", leave=False)
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
            rows.append({"depth": N, "variant": variant_name(relax, levels),
                         "levels": len(LP.level_sizes(N, mc)),
                         "iters_to_tol": LP.iterations_to_tol(r.residuals, cfg.tol),
                         "final_rel_residual": float(rel[-1]),
                         "max_err_vs_serial": float(jnp.max(jnp.abs(r.states - ref)) / jnp.max(jnp.abs(ref)))})
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
    return {"per_variant": per, "best": best, "worst_of_best": worst,
            "depths": sorted({r["depth"] for r in deep}), "ok": worst is not None and worst <= max_iter}


# ----------------------------------------------------------------------------
# (2) gradients


def gradient_error(params, x, y, spec: LP.Spec, mgrit_cfg: LP.MGRITConfig, iterations) -> list[dict]:
    """Relative errors of the MGRIT loss and gradient (``k`` forward and ``k`` adjoint
    iterations, cold start) against ``jax.value_and_grad`` of the serial network, per ``k``."""
    l_ref, g_ref = jax.jit(jax.value_and_grad(LP.loss_fn), static_argnums=3)(params, x, y, spec)
    g_ref = ravel_pytree(g_ref)[0]
    out = []
    for k in iterations:
        l, g, _ = LP.value_and_grad_mgrit(params, x, y, spec, mgrit_cfg, int(k), int(k))
        out.append({"depth": spec.depth, "iterations": int(k),
                    "loss_err": float(abs(l - l_ref) / abs(l_ref)),
                    "grad_rel_err": float(jnp.linalg.norm(ravel_pytree(g)[0] - g_ref) / jnp.linalg.norm(g_ref))})
    return out


def gradient_study(cfg: LP.Config, seed: int, depths=None) -> list[dict]:
    """:func:`gradient_error` on the peaks architecture at ``depths`` (default ``cfg.grad_depths``),
    FCF two-level, float64."""
    depths = sorted(set(depths or cfg.grad_depths))
    rows = []
    with jax.enable_x64(True):
        x = _inputs(seed + 2, cfg.conv_batch, jnp.float64)
        y = jax.random.randint(jax.random.key(seed + 3), (cfg.conv_batch,), 0, 5)
        for N in depths:
            spec, p = _network(cfg, N, seed, jnp.float64)
            rows += gradient_error(p, x, y, spec, LP.MGRITConfig(cfg.cfactor, 2, "FCF"), cfg.grad_iters)
    return rows


# ----------------------------------------------------------------------------
# (3) training


def datasets(cfg: LP.Config, seed: int) -> dict:
    """The training problems: the authors' peaks and Banknote (standardised features)."""
    return {"peaks": LP.load_peaks(cfg.n_train, cfg.n_test, seed),
            "banknote": load_banknote(seed, n_train=min(cfg.n_train, 1097))}


def training_study(cfg: LP.Config, seed: int, progress: bool = False) -> dict:
    """Serial training and layer-parallel training with ``k`` in ``cfg.train_iters`` MGRIT
    iterations per step (FCF, two-level, warm-started), same initial network, per data set.

    Returns ``{(data, "serial" | k): TrainResult}``.
    """
    runs = {}
    for name, ds in datasets(cfg, seed).items():
        spec = LP.Spec(ds.x_train.shape[1], cfg.width, ds.n_classes, cfg.depth, cfg.T, cfg.activation)
        p0 = LP.init_params(jax.random.key(seed), spec, cfg.init_scale)
        kw = dict(steps=cfg.train_steps, lr=cfg.lr, optimizer=cfg.optimizer, eval_every=cfg.eval_every,
                  progress=progress)
        runs[name, "serial"] = LP.train(p0, ds, spec, mode="serial", **kw)
        for k in cfg.train_iters:
            runs[name, k] = LP.train(p0, ds, spec, mode="mgrit", n_fwd=k, n_bwd=k,
                                     mgrit_cfg=LP.MGRITConfig(cfg.cfactor, 2, "FCF"), **kw)
    return runs


def majority_accuracy(y) -> float:
    """Accuracy of always predicting the most frequent class of ``y``."""
    y = np.asarray(y)
    if y.size == 0:
        raise ValueError("no labels")
    return float(np.bincount(y).max() / y.size)


def training_verdict(serial, parallel, baseline: float, acc_tol: float = 0.03,
                     loss_rtol: float = 0.1, min_gain: float = 0.1) -> tuple[str, str]:
    """Verdict on "layer-parallel training performs like serial training".

    * ``"not testable here"`` when serial training itself does not beat the
      majority-class ``baseline`` test accuracy by ``min_gain`` (nothing learnt,
      so agreement would be trivial);
    * ``"reproduced"`` when the layer-parallel run's final test accuracy is at
      most ``acc_tol`` below serial's **and** its final exact (serial-network)
      training loss at most ``loss_rtol`` (relative) above serial's (doing
      better than serial also counts as "like serial");
    * ``"partly"`` when only one of the two holds; ``"not reproduced"`` otherwise.
    """
    a_s, a_p = float(serial.test_accuracy[-1]), float(parallel.test_accuracy[-1])
    l_s, l_p = float(serial.exact_loss[-1]), float(parallel.exact_loss[-1])
    if a_s < baseline + min_gain:
        return "not testable here", (f"serial training reached test accuracy {a_s:.3f}, not {min_gain} above "
                                     f"the majority-class baseline {baseline:.3f}")
    acc_ok, loss_ok = a_p >= a_s - acc_tol, l_p <= l_s * (1 + loss_rtol)
    verdict = "reproduced" if acc_ok and loss_ok else ("partly" if acc_ok or loss_ok else "not reproduced")
    return verdict, (f"test accuracy {a_p:.3f} vs serial {a_s:.3f} (baseline {baseline:.3f}); final training "
                     f"loss {l_p:.3g} vs serial {l_s:.3g}")


# ----------------------------------------------------------------------------
# (4) speed


def time_passes(cfg: LP.Config, depth: int, seed: int, variants=None, iterations=None, mesh=None,
                repeats: int | None = None, progress: bool = False) -> list[dict]:
    """Best-of-``repeats`` wall time of a forward pass and of loss + gradient, serial and MGRIT.

    Serial: ``jax.jit`` of the ``lax.scan`` network and of ``jax.value_and_grad``.  MGRIT:
    :func:`~fasttrain.layer_parallel.forward_mgrit` and
    :func:`~fasttrain.layer_parallel.value_and_grad_mgrit` for every variant
    (``(relax, levels)``), iteration count and device layout (vectorised on
    one device; with ``mesh`` also split across its devices).  Every function
    is compiled by a warm-up before it is timed; the first call's time
    (compile + one run) is reported as ``compile_s``.
    """
    variants = variants or cfg.timing_variants
    iterations = sorted(set(iterations or (cfg.n_fwd,)))
    repeats = repeats or cfg.timing_repeats
    spec, p = _network(cfg, depth, seed, jnp.float32)
    x = _inputs(seed + 4, cfg.timing_batch, jnp.float32)
    y = jax.random.randint(jax.random.key(seed + 5), (cfg.timing_batch,), 0, 5)

    def first_call(f, *a):
        t0 = time.perf_counter()
        jax.block_until_ready(f(*a))
        return time.perf_counter() - t0

    fwd = jax.jit(lambda p, x: LP.forward(p, x, spec))
    vg = jax.jit(lambda p, x, y: jax.value_and_grad(LP.loss_fn)(p, x, y, spec))
    rows = [{"depth": depth, "method": "serial", "variant": "–", "iterations": None, "devices": 1,
             "compile_s": first_call(fwd, p, x) + first_call(vg, p, x, y),
             "forward_s": best_time(fwd, p, x, repeats=repeats),
             "fwd+bwd_s": best_time(vg, p, x, y, repeats=repeats)}]
    todo = [(v, m) for v in variants for m in ([None, mesh] if mesh is not None else [None])]
    if progress:
        from tqdm.auto import tqdm
        todo = tqdm(todo, desc=f"timing N={depth}", unit="variant", leave=False)
    for (relax, levels), m in todo:
        mc = LP.MGRITConfig(cfg.cfactor, levels, relax)
        f = lambda p, x, k, mc=mc, m=m: LP.forward_mgrit(p, x, spec, mc, k, m)  # noqa: E731
        g = lambda p, x, y, k, mc=mc, m=m: LP.value_and_grad_mgrit(p, x, y, spec, mc, k, k, mesh=m)[:2]  # noqa: E731
        k0 = jnp.asarray(iterations[0], jnp.int32)
        compile_s = first_call(f, p, x, k0) + first_call(g, p, x, y, k0)
        for k in iterations:
            kk = jnp.asarray(k, jnp.int32)
            rows.append({"depth": depth, "method": "MGRIT", "variant": variant_name(relax, levels),
                         "iterations": int(k), "devices": 1 if m is None else m.size, "compile_s": compile_s,
                         "forward_s": best_time(f, p, x, kk, repeats=repeats),
                         "fwd+bwd_s": best_time(g, p, x, y, kk, repeats=repeats)})
    base = rows[0]
    for r in rows:
        r["serial/MGRIT fwd"] = base["forward_s"] / r["forward_s"]
        r["serial/MGRIT fwd+bwd"] = base["fwd+bwd_s"] / r["fwd+bwd_s"]
    return rows


MODEL_VARIANTS: tuple[tuple[str, int], ...] = (("FCF", 2), ("F", 99), ("FCF", 99))


def work_model(depths, cfactor: int, processors, n_iter: int, variants=MODEL_VARIANTS) -> list[dict]:
    """:func:`~fasttrain.layer_parallel.critical_path` over depths, processor counts and variants."""
    return [{"depth": N, "P": P, "iterations": n_iter, "variant": variant_name(relax, lv),
             **LP.critical_path(N, LP.MGRITConfig(cfactor, lv, relax), P, n_iter)}
            for N in depths for relax, lv in variants for P in processors]


def processors_for(depth: int, cfactor: int, speedup: float, n_iter: int, variant=("FCF", 99),
                   max_p: int = 2 ** 16) -> int | None:
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


def speed_verdict(ratio: float) -> str:
    """This book's goal: MGRIT forward faster than serial on the cores available (ratio > 1)."""
    if not (isinstance(ratio, float) and math.isfinite(ratio) and ratio > 0):
        raise ValueError(f"a speed ratio must be a positive finite number, got {ratio!r}")
    return "reproduced" if ratio > 1 else "not reproduced"
