"""Chapter 04: configurations per scale, protocols and claims around :mod:`fasttrain.methods.layer_parallel`
and :mod:`fasttrain.methods.lsgd`.

Part 1, layer-parallel training.

Each function runs one measurement of the chapter and returns plain records
(lists of dicts, or dicts of runs) that the chapter tabulates and plots; the
verdict helpers turn measurements into the claims table's verdicts.  The
protocol, stated once here and in the chapter:

* network: the ODE-ResNet of :mod:`fasttrain.methods.layer_parallel` (tanh, width and
  final time from :class:`LayerParallelConfig`), Gaussian weights;
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
  (:func:`fasttrain.methods.layer_parallel.forward_mgrit`), so one compilation per depth
  and variant serves every count.

Part 2, LSGD and box initialisation.
Each function runs one measurement of the chapter and returns plain records
or runs that the chapter tabulates and plots.  The protocol, stated once here
and in the chapter:

* regression: ReLU MLP (``LSGDConfig.widths``) with box initialisation on the data
  box, the same initial network for every method; half mean squared error on
  training points drawn uniformly (seeded), relative L2 error on a test grid;
* methods: LSGD (least-squares output layer, then Adam on the hidden layers,
  alternating), Adam on all parameters (same learning rate), plain GD on all
  parameters (``LSGDConfig.gd_lr``);
* clocks: every method is compiled by a one-step warm-up first (the compiled
  step is cached by :func:`fasttrain.methods.lsgd.fit`), so wall times exclude
  compilation; the machine is shared, so wall times are indicative only;
* iteration counts: Adam/GD iteration ``k`` = ``k`` optimiser steps; LSGD's
  record 0 is the least-squares fit on the initial (random) basis, which
  counts as its first iteration, so LSGD's record ``k`` costs ``k + 1``
  iterations (``k`` gradient steps, ``k + 1`` solves).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ..core.data import load_banknote, load_peaks
from ..core.progress import progress_bar
from ..core.scales import pick
from ..core.timing import best_time
from ..methods import layer_parallel as LP
from ..methods import lsgd as LS

# ----------------------------------------------------------------------------
# per-scale configurations


@dataclass(frozen=True)
class LayerParallelConfig:
    """Settings of chapter 04, part 1 (layer-parallel training).

    Training: the authors' peaks example (width 8, 32 layers, T = 1, 2 MGRIT
    iterations forward and backward, coarsening factor from their config).
    Convergence study: MGRIT iterations to ``tol`` over ``conv_depths``.
    Timing: serial vs MGRIT forward wall time over ``timing_depths``.
    ``conv_variants`` / ``timing_variants``: (relaxation, max levels), 99 =
    coarsen down to 2 steps; ``acc_tol``: how far below serial training's test
    accuracy layer-parallel training may end and still count as "similar".
    """

    width: int = 8
    depth: int = 32
    T: float = 1.0
    activation: str = "tanh"
    init_scale: float = 1.0
    n_train: int = 5000
    n_test: int = 200
    train_steps: int = 300
    lr: float = 1e-2
    optimizer: str = "adam"
    cfactor: int = 4
    n_fwd: int = 2
    n_bwd: int = 2
    eval_every: int = 10
    conv_depths: tuple[int, ...] = (32, 64, 128, 256, 512, 1024)
    conv_batch: int = 64
    conv_max_iter: int = 15
    conv_cfactor: int = 4
    conv_variants: tuple[tuple[str, int], ...] = (("F", 2), ("FCF", 2), ("F", 99), ("FCF", 99))
    tol: float = 1e-8
    grad_iters: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 12)
    grad_depths: tuple[int, ...] = (32, 1024)
    train_iters: tuple[int, ...] = (1, 2, 3)
    acc_tol: float = 0.03
    timing_depths: tuple[int, ...] = (512, 1024)
    timing_batch: int = 64
    timing_repeats: int = 5
    timing_variants: tuple[tuple[str, int], ...] = (("FCF", 2), ("FCF", 99))
    timing_sharded: bool = True
    processors: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
    seed: int = 0


LP_CONFIGS = {
    "smoke": LayerParallelConfig(
        n_train=200,
        n_test=100,
        train_steps=20,
        conv_depths=(64,),
        conv_batch=16,
        conv_max_iter=12,
        grad_iters=(1, 2, 4, 8),
        grad_depths=(32,),
        timing_depths=(64,),
        timing_batch=16,
        timing_repeats=1,
        timing_variants=(("FCF", 2),),
        timing_sharded=False,
        eval_every=5,
    ),
    "book": LayerParallelConfig(n_train=2000, n_test=200, train_steps=300),
    "paper": LayerParallelConfig(
        n_train=5000,
        n_test=200,
        train_steps=130,
        optimizer="adam",
        conv_depths=(32, 64, 128, 256, 512, 1024, 2048, 4096),
        grad_depths=(32, 4096),
    ),
}


def lp_config(scale: str) -> LayerParallelConfig:
    """The layer-parallel settings of ``scale``."""
    return pick(LP_CONFIGS, scale)


@dataclass(frozen=True)
class LSGDConfig:
    """Settings of chapter 04, part 2 (LSGD and box initialisation).

    ``gd_lr``: plain gradient descent needs a larger step than Adam's ``lr``;
    ``init_steps``: the LSGD budget of the initialisation study; ``chunk``:
    steps per compiled chunk of :func:`fit` (one compilation per configuration).
    """

    methods: tuple[str, ...] = ("LSGD", "Adam", "GD")
    widths: tuple[int, ...] = (32, 32)
    n_train: int = 256
    n_train_2d: int = 1024
    n_test: int = 512
    adam_steps: int = 3000
    lsgd_steps: int = 1000
    lr: float = 1e-3
    gd_lr: float = 0.05
    ridge: float = 1e-10
    osc_k: int = 4
    chunk: int = 100
    init_methods: tuple[str, ...] = ("box", "he", "glorot")
    init_depths: tuple[int, ...] = (1, 2, 4, 8)
    init_steps: int = 500
    resnet_depths: tuple[int, ...] = (4, 16, 64)
    pinn_widths: tuple[int, ...] = (32, 32)
    pinn_collocation: int = 64
    pinn_steps: int = 1000
    pinn_lr: float = 1e-3
    pinn_beta: float = 1.0
    seeds: tuple[int, ...] = (0, 1, 2)


LSGD_CONFIGS = {
    "smoke": LSGDConfig(
        methods=("LSGD", "Adam"),
        widths=(16, 16),
        n_train=64,
        n_train_2d=256,
        n_test=128,
        adam_steps=150,
        lsgd_steps=150,
        chunk=50,
        init_depths=(2,),
        init_steps=50,
        resnet_depths=(4, 16),
        pinn_widths=(16, 16),
        pinn_collocation=32,
        pinn_steps=50,
        seeds=(0,),
    ),
    "book": LSGDConfig(),
    "paper": LSGDConfig(
        adam_steps=20000,
        lsgd_steps=20000,
        init_steps=5000,
        pinn_steps=10000,
        seeds=tuple(range(10)),
    ),
}


def lsgd_config(scale: str) -> LSGDConfig:
    """The LSGD and box-initialisation settings of ``scale``."""
    return pick(LSGD_CONFIGS, scale)


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


# ----------------------------------------------------------------------------
# (3) training


def datasets(cfg: LayerParallelConfig, seed: int) -> dict:
    """The training problems: the authors' peaks and Banknote (standardised features)."""
    return {
        "peaks": load_peaks(cfg.n_train, cfg.n_test, seed),
        "banknote": load_banknote(seed, n_train=min(cfg.n_train, 1097)),
    }


def training_study(cfg: LayerParallelConfig, seed: int, progress: bool = False) -> dict:
    """Serial training and layer-parallel training with ``k`` in ``cfg.train_iters`` MGRIT
    iterations per step (FCF, two-level, warm-started), same initial network, per data set.

    Returns ``{(data, "serial" | k): TrainResult}``.
    """
    runs = {}
    for name, ds in datasets(cfg, seed).items():
        spec = LP.Spec(
            ds.x_train.shape[1], cfg.width, ds.n_classes, cfg.depth, cfg.T, cfg.activation
        )
        p0 = LP.init_params(jax.random.key(seed), spec, cfg.init_scale)
        kw = dict(
            steps=cfg.train_steps,
            lr=cfg.lr,
            optimizer=cfg.optimizer,
            eval_every=cfg.eval_every,
            progress=progress,
        )
        runs[name, "serial"] = LP.train(p0, ds, spec, mode="serial", **kw)
        for k in cfg.train_iters:
            runs[name, k] = LP.train(
                p0,
                ds,
                spec,
                mode="mgrit",
                n_fwd=k,
                n_bwd=k,
                mgrit_cfg=LP.MGRITConfig(cfg.cfactor, 2, "FCF"),
                **kw,
            )
    return runs


def majority_accuracy(y) -> float:
    """Accuracy of always predicting the most frequent class of ``y``."""
    y = np.asarray(y)
    if y.size == 0:
        raise ValueError("no labels")
    return float(np.bincount(y).max() / y.size)


def training_verdict(
    serial,
    parallel,
    baseline: float,
    acc_tol: float = 0.03,
    loss_rtol: float = 0.1,
    min_gain: float = 0.1,
) -> tuple[str, str]:
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
        return "not testable here", (
            f"serial training reached test accuracy {a_s:.3f}, not {min_gain} above "
            f"the majority-class baseline {baseline:.3f}"
        )
    acc_ok, loss_ok = a_p >= a_s - acc_tol, l_p <= l_s * (1 + loss_rtol)
    verdict = (
        "reproduced"
        if acc_ok and loss_ok
        else ("partly" if acc_ok or loss_ok else "not reproduced")
    )
    return verdict, (
        f"test accuracy {a_p:.3f} vs serial {a_s:.3f} (baseline {baseline:.3f}); final training "
        f"loss {l_p:.3g} vs serial {l_s:.3g}"
    )


# ----------------------------------------------------------------------------
# (4) speed


def time_passes(
    cfg: LayerParallelConfig,
    depth: int,
    seed: int,
    variants=None,
    iterations=None,
    mesh=None,
    repeats: int | None = None,
    progress: bool = False,
) -> list[dict]:
    """Best-of-``repeats`` wall time of a forward pass and of loss + gradient, serial and MGRIT.

    Serial: ``jax.jit`` of the ``lax.scan`` network and of ``jax.value_and_grad``.  MGRIT:
    :func:`~fasttrain.methods.layer_parallel.forward_mgrit` and
    :func:`~fasttrain.methods.layer_parallel.value_and_grad_mgrit` for every variant
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
    rows = [
        {
            "depth": depth,
            "method": "serial",
            "variant": "–",
            "iterations": None,
            "devices": 1,
            "compile_s": first_call(fwd, p, x) + first_call(vg, p, x, y),
            "forward_s": best_time(fwd, p, x, repeats=repeats),
            "fwd+bwd_s": best_time(vg, p, x, y, repeats=repeats),
        }
    ]
    todo = progress_bar(
        [(v, m) for v in variants for m in ([None, mesh] if mesh is not None else [None])],
        desc=f"timing N={depth}",
        unit="variant",
        enabled=progress,
    )
    for (relax, levels), m in todo:
        mc = LP.MGRITConfig(cfg.cfactor, levels, relax)
        f = lambda p, x, k, mc=mc, m=m: LP.forward_mgrit(p, x, spec, mc, k, m)  # noqa: E731
        g = lambda p, x, y, k, mc=mc, m=m: LP.value_and_grad_mgrit(p, x, y, spec, mc, k, k, mesh=m)[
            :2
        ]  # noqa: E731
        k0 = jnp.asarray(iterations[0], jnp.int32)
        compile_s = first_call(f, p, x, k0) + first_call(g, p, x, y, k0)
        for k in iterations:
            kk = jnp.asarray(k, jnp.int32)
            rows.append(
                {
                    "depth": depth,
                    "method": "MGRIT",
                    "variant": variant_name(relax, levels),
                    "iterations": int(k),
                    "devices": 1 if m is None else m.size,
                    "compile_s": compile_s,
                    "forward_s": best_time(f, p, x, kk, repeats=repeats),
                    "fwd+bwd_s": best_time(g, p, x, y, kk, repeats=repeats),
                }
            )
    base = rows[0]
    for r in rows:
        r["serial/MGRIT fwd"] = base["forward_s"] / r["forward_s"]
        r["serial/MGRIT fwd+bwd"] = base["fwd+bwd_s"] / r["fwd+bwd_s"]
    return rows


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


def speed_verdict(ratio: float) -> str:
    """This book's goal: MGRIT forward faster than serial on the cores available (ratio > 1)."""
    if not (isinstance(ratio, float) and math.isfinite(ratio) and ratio > 0):
        raise ValueError(f"a speed ratio must be a positive finite number, got {ratio!r}")
    return "reproduced" if ratio > 1 else "not reproduced"


# ----------------------------------------------------------------------------
# part 2: least squares / gradient descent, box initialisation, PINN

METHODS: tuple[str, ...] = ("LSGD", "Adam", "GD")
_FIT_METHOD = {"LSGD": "lsgd", "Adam": "adam", "GD": "gd"}


def regression_problem(cfg: LSGDConfig, name: str, seed: int):
    """``(benchmark, system, error_fn)`` of one regression benchmark."""
    bench = LS.benchmark(name, cfg.osc_k)
    n_tr = cfg.n_train_2d if bench.dim == 2 else cfg.n_train
    xtr, ytr, xte, yte = LS.regression_data(bench, n_tr, cfg.n_test, seed)
    return bench, LS.regression_system(xtr, ytr), LS.relative_error(xte, yte)


def _fit(p0, system, err, method: str, cfg: LSGDConfig, steps: int, lr: float, progress: bool):
    m = _FIT_METHOD[method]
    # warm-up: compiles (or finds) the cached step, so that the timed run excludes compilation
    LS.fit(p0, system, m, 1, lr, cfg.ridge, error_fn=err, chunk=cfg.chunk)
    return LS.fit(
        p0, system, m, steps, lr, cfg.ridge, error_fn=err, chunk=cfg.chunk, progress=progress
    )


def regression_study(
    cfg: LSGDConfig, seed: int, benchmarks=LS.BENCHMARKS, methods=None, progress: bool = False
) -> dict:
    """``{benchmark name: {method: FitResult}}`` for ``methods`` (default ``cfg.methods``, from LSGD,
    Adam and GD) from the same box-initialised MLP."""
    methods = methods or cfg.methods
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown method(s) {sorted(unknown)}: choose from {METHODS}")
    out = {}
    for b in benchmarks:
        bench, system, err = regression_problem(cfg, b, seed)
        p0 = LS.init_mlp(
            jax.random.key(seed), bench.dim, cfg.widths, 1, "box", (bench.lo, bench.hi)
        )
        runs = {}
        for m in methods:
            steps = cfg.lsgd_steps if m == "LSGD" else cfg.adam_steps
            runs[m] = _fit(
                p0, system, err, m, cfg, steps, cfg.gd_lr if m == "GD" else cfg.lr, progress
            )
        out[bench.name] = runs
    return out


def iteration_ratio(lsgd, adam, shrink: float = 2.0) -> dict:
    """Iterations LSGD and Adam need to a common target error, and their ratio.

    Target ``eps = min(Adam's final error, e0 / shrink)``, with ``e0`` the
    error of LSGD's first record (the least-squares fit on the initial,
    untrained basis).  The second term keeps the comparison from being
    satisfied by that single solve: LSGD must improve its own random-feature
    fit by training the basis.  Iterations: Adam ``k_A`` = first step with
    error <= eps; LSGD ``k_L`` = first record with error <= eps, plus one (the
    first solve counts), so ``k_L >= 2`` and the ratio never divides by zero.
    If Adam never reaches ``eps`` (when it is below Adam's final error),
    ``ratio`` is the lower bound ``(Adam's steps + 1) / k_L`` and ``bound`` is
    ``">"``; if LSGD never reaches it, ``ratio`` is ``None``.
    Times: iterations times the measured wall time per iteration of each run.
    """
    if shrink <= 1:
        raise ValueError(f"shrink must exceed 1, got {shrink}")
    e_l, e_a = np.asarray(lsgd.error, float), np.asarray(adam.error, float)
    if not (np.all(np.isfinite(e_l)) and np.all(np.isfinite(e_a))):
        raise ValueError("error histories must be finite: pass error_fn to fit")
    e0, final_a = float(e_l[0]), float(e_a[-1])
    eps = min(final_a, e0 / shrink)
    hit_a, hit_l = LS.iterations_to_reach(e_a, eps), LS.iterations_to_reach(e_l, eps)
    k_l = None if hit_l is None else hit_l + 1
    steps_a, steps_l = len(e_a) - 1, len(e_l) - 1
    per_a = adam.wall_time / max(steps_a, 1)
    per_l = lsgd.wall_time / max(steps_l + 1, 1)
    out = {
        "target": eps,
        "target_is": "Adam's final error" if eps == final_a else f"e0 / {shrink:g}",
        "e0": e0,
        "adam_final": final_a,
        "lsgd_final": float(e_l[-1]),
        "k_adam": hit_a,
        "k_lsgd": k_l,
        "ratio": None,
        "bound": "=",
        "time_ratio": None,
        "s_per_it_adam": per_a,
        "s_per_it_lsgd": per_l,
    }
    if k_l is None:
        return out
    if hit_a is None:
        out["ratio"], out["bound"] = (steps_a + 1) / k_l, ">"
        out["time_ratio"] = (steps_a + 1) * per_a / (k_l * per_l)
    else:
        out["ratio"] = max(hit_a, 1) / k_l
        out["time_ratio"] = max(hit_a, 1) * per_a / (k_l * per_l)
    return out


def lsgd_verdict(info: dict, need: float = 10.0) -> tuple[str, str]:
    """``reproduced`` if LSGD needs ``need`` times fewer iterations to the target,
    ``partly`` if fewer but not ``need`` times, ``not reproduced`` otherwise."""
    r = info["ratio"]
    if r is None:
        return "not reproduced", (
            f"LSGD did not reach the target error {info['target']:.2g} "
            f"({info['target_is']}); its final error {info['lsgd_final']:.2g}"
        )
    verdict = "reproduced" if r >= need else ("partly" if r > 1 else "not reproduced")
    adam = "never (lower bound)" if info["k_adam"] is None else f"{info['k_adam']}"
    return verdict, (
        f"target {info['target']:.2g} ({info['target_is']}); iterations LSGD {info['k_lsgd']}, "
        f"Adam {adam}"
    )


# ----------------------------------------------------------------------------
# initialisation


def init_study(cfg: LSGDConfig, seed: int, progress: bool = False) -> list[dict]:
    """Dead ReLUs at initialisation and error after ``cfg.init_steps`` LSGD iterations.

    MLPs with ``depth`` hidden layers of width ``cfg.widths[0]`` on the
    oscillatory 1-D benchmark, for every initialisation and seed; plus the
    ResNet variant's dead fraction (no training).  A neuron is dead if its
    pre-activation is <= 0 at every test point.
    """
    bench, system, err = regression_problem(cfg, "osc1d", seed)
    x = err.x
    todo = [("MLP", d, m, s) for d in cfg.init_depths for m in cfg.init_methods for s in cfg.seeds]
    todo += [
        ("ResNet", d, m, s) for d in cfg.resnet_depths for m in cfg.init_methods for s in cfg.seeds
    ]
    if progress:
        from tqdm.auto import tqdm

        todo = tqdm(todo, desc="initialisations", unit="net", leave=False)
    rows = []
    for net, depth, method, s in todo:
        key = jax.random.key(s)
        if net == "MLP":
            p0 = LS.init_mlp(
                key, bench.dim, (cfg.widths[0],) * depth, 1, method, (bench.lo, bench.hi)
            )
            e = LS.fit(
                p0, system, "lsgd", cfg.init_steps, cfg.lr, cfg.ridge, error_fn=err, chunk=cfg.chunk
            ).error
            error = float(e[-1])
        else:
            p0 = LS.init_resnet_box(
                key, bench.dim, cfg.widths[0], depth, 1, (bench.lo, bench.hi), method
            )
            error = None
        rows.append(
            {
                "net": net,
                "depth": depth,
                "init": method,
                "seed": s,
                "dead": LS.dead_fraction(p0, x)["total"],
                "error": error,
            }
        )
    return rows


def init_verdict(mean_rows, reference: str = "box") -> dict:
    """Compare ``reference`` with the other initialisations at every MLP depth.

    ``mean_rows``: per (depth, init) the mean dead fraction and error (MLP only).
    Returns the depths where ``reference`` has the lowest error and the
    fewest dead neurons, and the counts.
    """
    depths = sorted({r["depth"] for r in mean_rows})
    if not depths:
        raise ValueError("no MLP rows")
    best_err, least_dead = [], []
    for d in depths:
        sub = {r["init"]: r for r in mean_rows if r["depth"] == d}
        if reference not in sub or len(sub) < 2:
            raise ValueError(f"depth {d}: need {reference!r} and at least one other initialisation")
        others = [v for k, v in sub.items() if k != reference]
        if sub[reference]["error"] < min(o["error"] for o in others):
            best_err.append(d)
        if sub[reference]["dead"] < min(o["dead"] for o in others):
            least_dead.append(d)
    return {"depths": depths, "best_error": best_err, "least_dead": least_dead}


def count_verdict(hits: int, total: int) -> str:
    """``reproduced`` if all ``total`` cases agree, ``partly`` if some, else ``not reproduced``."""
    if total < 1 or not 0 <= hits <= total:
        raise ValueError(f"need 0 <= hits <= total and total >= 1, got {hits}, {total}")
    return "reproduced" if hits == total else ("partly" if hits else "not reproduced")


# ----------------------------------------------------------------------------
# physics-informed example


def pinn_study(cfg: LSGDConfig, seed: int, progress: bool = False) -> dict:
    """1-D Poisson PINN, LSGD against Adam from the same Glorot-initialised tanh MLP.

    Returns ``{"LSGD": FitResult, "Adam": FitResult, "x": evaluation points, "u": exact solution}``.
    """
    x_int = jnp.linspace(0.0, 1.0, cfg.pinn_collocation + 2)[1:-1]
    system = LS.poisson_system(x_int, LS.POISSON, "tanh", cfg.pinn_beta)
    x_eval = jnp.linspace(0.0, 1.0, 201)[:, None]
    u = LS.POISSON.u(x_eval)
    err = LS.relative_error(x_eval, u, "tanh")
    p0 = LS.init_mlp(jax.random.key(seed), 1, cfg.pinn_widths, 1, "glorot")
    out = {
        m: _fit(p0, system, err, m, cfg, cfg.pinn_steps, cfg.pinn_lr, progress)
        for m in ("LSGD", "Adam")
    }
    return {**out, "x": np.asarray(x_eval[:, 0]), "u": np.asarray(u[:, 0])}


def ratio_verdict(ratio: float, need: float = 10.0) -> str:
    """``reproduced`` at ``ratio >= need``, ``partly`` above 1, else ``not reproduced``."""
    if not (isinstance(ratio, (int, float)) and math.isfinite(ratio)):
        raise ValueError(f"ratio must be a finite number, got {ratio!r}")
    return "reproduced" if ratio >= need else ("partly" if ratio > 1 else "not reproduced")
