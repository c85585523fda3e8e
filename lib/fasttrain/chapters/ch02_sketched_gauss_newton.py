"""Chapter 02's experiments: protocols around :mod:`fasttrain.methods.gauss_newton`.

Each function runs one measurement of the chapter and returns plain records
(lists of dicts, or :class:`~fasttrain.methods.gauss_newton.TrainResult`) that the
chapter tabulates and plots.  The protocol, stated once here and in the
chapter:

* model: the paper's two-layer ReLU network ``f = (1/sqrt m) a^T ReLU(W x)``
  with fixed output signs ``a``, only ``W`` trained from ``W ~ N(0, I)``,
  squared loss, unit-norm inputs;
* convergence and conditioning runs: float64, every method from the same
  ``W0``; gradient descent at step ``1 / lambda_max(G(W0))``; Gauss-Newton
  and the fast step undamped at step size 1, the fast step with a fresh SRHT
  sketch of ``s = 4n`` rows per iteration, QR factor (the paper's) and CG to
  relative residual ``cg_tol``;
* timing: float32, one compiled executable per method and size (compile time
  reported separately); exact GN and the fast step timed in alternation, the
  minimum over at least ``timing_repeats`` rounds after a warm-up
  (:func:`time_size`); the stage breakdown takes the best of ``repeats``
  calls (:func:`fasttrain.core.timing.best_time`); the fast step with the Cholesky
  factor of the sketch (``Config.timing_factor``) and CG tolerance
  ``timing_cg_tol``; "equal residual reduction" compares seconds per decade
  of residual reduction, ``t / log10(1 / contraction)`` of the timed step;
* memory: XLA's buffer assignment of the compiled step
  (``jax.jit(f).lower(...).compile().memory_analysis()``): arguments +
  outputs + temporaries, a static upper bound of what the step holds live.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from ..core import data as data_mod
from ..core.progress import progress_bar
from ..core.scales import pick
from ..core.timing import best_time, block
from ..methods import gauss_newton as gn

# ---------------------------------------------------------------------------
# configurations per scale
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """Problem sizes of chapter 02 at one scale.

    Convergence runs: ``n`` points, width ``m``, input dimension ``d``;
    ``iters`` Gauss-Newton iterations, ``gd_iters`` gradient-descent
    iterations, in float64.  Sketch: ``s = sketch_factor * n``;
    ``sketch_factors`` the sweep of ``s / n`` for the preconditioning study.
    lambda study: ``eps_sweep`` the spreads of :func:`nearly_collinear_data`
    (small eps = small lambda_min) on ``eps_n`` points at width ``eps_m``.
    Timing: ``n_sweep`` at width ``sweep_m`` and ``m_sweep`` at ``sweep_n``
    points, both at input dimension ``sweep_d``, in float64 if
    ``timing_x64`` else float32 with CG tolerance ``timing_cg_tol``;
    ``timing_repeats`` the least number of alternating timing rounds
    (:func:`fasttrain.chapters.ch02_sketched_gauss_newton.time_size`);
    ``timing_factor`` the factorisation of the sketch in the timed fast step
    (``"cholesky"``: the same R as QR, ~10x cheaper on CPU; report it as a
    deviation, or time ``"qr"`` beside it).
    ``cg_tol`` is the relative CG residual of the float64 runs.
    ``timing_budget``: seconds of timed calls per method and size that
    cheap sizes get (more rounds, up to 20).
    ``conv_gd_iters``: gradient-descent steps of the convergence runs
    (``gd_iters`` is the budget of the lambda study).
    ``eps_target``: the relative residual ``||f - y|| / ||f_0 - y||`` whose
    iteration count the lambda study compares; ``memory_d_sweep`` the input
    dimensions of the (compile-only) peak-memory study at ``n_sweep[-1]``
    points and width ``sweep_m``.

    Why the timing sweeps sit where they do: per step, exact GN costs
    ~2 n^2 m flops as one matrix product; the fast step costs ~n md log2(md)
    (sketch, memory-bound) + 2 s n^2 (QR, s = 4n) + 4 k n m d (k ~ 20 CG
    iterations, bound by reading the n x m pattern).  It can only win when
    m >> s = 4n and n >> 2 k d, hence small ``sweep_d`` and ``sweep_m >= 8 n``.
    Measured on 2 shared cores (float32, m = 16384, d = 4, Cholesky factor):
    exact 0.32 / 1.20 s, fast 0.70 / 1.85 s per step at n = 1024 / 2048 --
    no crossover within book scale; the chapter compares growth exponents.
    """

    n: int
    m: int
    d: int
    iters: int
    gd_iters: int
    sketch_factor: float
    sketch_factors: tuple[float, ...]
    eps_sweep: tuple[float, ...]
    eps_n: int
    eps_m: int
    n_sweep: tuple[int, ...]
    m_sweep: tuple[int, ...]
    sweep_m: int
    sweep_n: int
    sweep_d: int
    timing_repeats: int = 3
    timing_x64: bool = False
    timing_cg_tol: float = 1e-5
    timing_factor: str = "cholesky"
    cg_tol: float = 1e-8
    damping: float = 0.0
    seed: int = 0
    eps_target: float = 1e-2
    memory_d_sweep: tuple[int, ...] = (4, 16, 64)
    conv_gd_iters: int = 1000
    timing_budget: float = 2.0


CONFIGS: dict[str, Config] = {
    "smoke": Config(
        # eps_n, eps_m equal n, m so that the lambda study reuses the convergence runs' compilations,
        # and the two timing sweeps share the point (sweep_n, sweep_m): few XLA compilations
        n=32,
        m=1024,
        d=16,
        iters=6,
        gd_iters=300,
        conv_gd_iters=200,
        sketch_factor=4.0,
        sketch_factors=(4.0,),
        eps_sweep=(1.0, 0.3, 0.1),
        eps_n=32,
        eps_m=1024,
        n_sweep=(64, 128),
        m_sweep=(2048, 4096),
        sweep_m=4096,
        sweep_n=64,
        sweep_d=4,
        timing_repeats=1,
        memory_d_sweep=(4, 32),
        timing_budget=0.3,
    ),
    "book": Config(
        n=256,
        m=8192,
        d=16,
        iters=10,
        gd_iters=3000,
        conv_gd_iters=600,
        sketch_factor=4.0,
        sketch_factors=(1.0, 1.5, 2.0, 4.0, 8.0),
        eps_sweep=(1.0, 0.5, 0.2, 0.1, 0.05, 0.02),
        eps_n=64,
        eps_m=4096,
        n_sweep=(256, 512, 1024, 2048),
        m_sweep=(4096, 8192, 16384, 32768, 65536),
        sweep_m=32768,
        sweep_n=512,
        sweep_d=4,
        timing_repeats=5,
    ),
    "paper": Config(
        # The paper has no experiments; "paper" scale takes the regime its
        # theorem is about (m >> n) as far as one CPU machine allows.
        # Expect hours on 2 cores and ~10 GB of memory for the largest sweep.
        n=1024,
        m=65536,
        d=32,
        iters=10,
        gd_iters=20000,
        conv_gd_iters=5000,
        sketch_factor=4.0,
        sketch_factors=(1.25, 1.5, 2.0, 4.0, 8.0, 16.0),
        eps_sweep=(1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01),
        eps_n=256,
        eps_m=16384,
        n_sweep=(512, 1024, 2048, 4096),
        m_sweep=(16384, 32768, 65536, 131072),
        sweep_m=65536,
        sweep_n=1024,
        sweep_d=8,
        timing_repeats=3,
    ),
}


def config(scale: str) -> Config:
    """The :class:`Config` of ``scale`` (``smoke``, ``book`` or ``paper``)."""
    return pick(CONFIGS, scale)


#: iterations whose residual is below this fraction of the initial one are at the rounding floor
#: of float64 and are left out of contraction factors
FLOOR = 1e-10

#: how the chapter names the methods (and picks their colours with fasttrain.core.plotting.color)
LABELS = {"gd": "GD", "gn": "exact GN", "fast": "fast GN", "cg": "CG without preconditioner"}


def cg_maxiter(n: int) -> int:
    """CG iteration budget of the float64 runs: ``max(200, 2n)`` (plain CG may need more than n in floating point)."""
    return max(200, 2 * n)


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------


def banknote_sphere(n: int, seed: int):
    """Banknote as the paper's setting needs it: ``(X, y)`` with unit-norm rows and labels +-1.

    A stratified training subsample of ``n`` points (the loader's split fixed
    by ``seed``), features standardised with that split's statistics, then
    every row scaled to unit norm (:func:`fasttrain.methods.gauss_newton.normalize_rows`);
    class 0 (genuine) -> -1, class 1 (forged) -> +1.  float64 numpy arrays.
    """
    if n < 2:
        raise ValueError(f"banknote_sphere: need n >= 2 points, got {n}")
    ds = data_mod.load_banknote(seed=seed, n_train=n)
    X = np.asarray(ds.x_train, np.float64)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError("banknote_sphere: a standardised point is zero and has no direction")
    return X / norms, np.where(ds.y_train == 1, 1.0, -1.0)


def mnist_sphere(n: int, seed: int, classes=(3, 5), pool: int = 4):
    """A two-class MNIST subset on the unit sphere: ``(X, y)``, ``X`` of shape (n, pool**2).

    From :func:`fasttrain.core.data.load_mnist_subset` (5000 training images),
    the images of ``classes``; each 28 x 28 image average-pooled to
    ``pool`` x ``pool`` (``pool`` must divide 28), centred by the subset's mean
    image, scaled to unit norm; ``n`` of them drawn without replacement with
    ``seed``; labels -1 for ``classes[0]``, +1 for ``classes[1]``.  Pooling
    keeps ``d`` small: the sketch of ``J^T`` costs ``n md log(md)``.
    """
    if 28 % pool or pool < 1:
        raise ValueError(f"mnist_sphere: pool must divide 28, got {pool}")
    if len(classes) != 2 or classes[0] == classes[1] or not all(0 <= c <= 9 for c in classes):
        raise ValueError(f"mnist_sphere: need two different digits, got {classes}")
    ds = data_mod.load_mnist_subset()
    sel = np.isin(ds.y_train, classes)
    if not 2 <= n <= int(sel.sum()):
        raise ValueError(
            f"mnist_sphere: n must be between 2 and {int(sel.sum())} for digits {classes}, got {n}"
        )
    k = 28 // pool
    x = (
        ds.x_train[sel][..., 0]
        .astype(np.float64)
        .reshape(-1, pool, k, pool, k)
        .mean(axis=(2, 4))
        .reshape(-1, pool * pool)
    )
    x -= x.mean(axis=0)
    idx = np.sort(np.random.default_rng(seed).choice(len(x), n, replace=False))
    X = x[idx] / np.linalg.norm(x[idx], axis=1, keepdims=True)
    return X, np.where(ds.y_train[sel][idx] == classes[1], 1.0, -1.0)


def closest_pair_angle(X) -> float:
    """Smallest angle (radians) between two rows of the unit-norm ``X``: near 0 means nearly duplicate inputs."""
    X = np.asarray(X, np.float64)
    C = X @ X.T
    np.fill_diagonal(C, -1.0)
    return float(np.arccos(np.clip(C.max(), -1.0, 1.0)))


def synthetic_sphere(n: int, d: int, seed: int, labels: str = "teacher"):
    """:func:`fasttrain.methods.gauss_newton.synthetic_data` as float64 numpy arrays ``(X, y)``."""
    with jax.enable_x64(True):
        X, y = gn.synthetic_data(n, d, jax.random.key(seed), labels=labels)
        return np.asarray(X), np.asarray(y)


def init(m: int, d: int, seed: int):
    """``(W0, a)`` of :func:`fasttrain.methods.gauss_newton.init_params` as float64 numpy arrays."""
    with jax.enable_x64(True):
        W, a = gn.init_params(jax.random.key(seed), m, d)
        return np.asarray(W), np.asarray(a)


def lambda_min(X, m: int, seed: int) -> float:
    """lambda_min of the Gram matrix ``G(W0)`` in float64 for the ``W0`` of :func:`init` (width ``m``)."""
    W0, a = init(m, np.shape(X)[1], seed)
    with jax.enable_x64(True):
        return gn.ntk_lambda_min(*map(_f64, (W0, a, X)))


# ---------------------------------------------------------------------------
# convergence
# ---------------------------------------------------------------------------


def convergence_runs(
    X,
    y,
    m: int,
    cfg: Config,
    seed: int,
    methods=("gd", "gn", "fast"),
    damping: float = 0.0,
    progress: bool = False,
) -> dict:
    """GD, exact GN and the fast step from one ``W0`` (width ``m``) on ``(X, y)``; method -> TrainResult.

    GD runs ``cfg.conv_gd_iters`` steps, the Gauss-Newton methods ``cfg.iters``
    (with ``damping``); every run stops early once the residual reaches
    ``FLOOR`` times its start.
    """
    W0, a = init(m, X.shape[1], seed)
    key = jax.random.key(seed + 1)
    out = {}
    for method in methods:
        iters = cfg.conv_gd_iters if method == "gd" else cfg.iters
        out[method] = gn.train(
            method,
            W0,
            a,
            X,
            y,
            iters,
            cg_tol=cfg.cg_tol,
            cg_maxiter=cg_maxiter(len(y)),
            damping=0.0 if method == "gd" else damping,
            sketch_size=gn.default_sketch_size(len(y), cfg.sketch_factor)
            if method == "fast"
            else None,
            key=key,
            target=FLOOR,
            progress=progress,
        )
    return out


def contractions(run: gn.TrainResult, floor: float = FLOOR) -> np.ndarray:
    """Per-step contraction ``||f_{t+1} - y|| / ||f_t - y||`` of the steps that end above the rounding floor."""
    r = run.residual_norms
    keep = r[1:] > floor * r[0]
    return run.contraction[keep]


def convergence_rows(runs: dict, data: str) -> list[dict]:
    """One record per method and iteration: residual, relative residual, cumulative step time."""
    rows = []
    for method, run in runs.items():
        t = np.concatenate([[0.0], np.cumsum(run.seconds)])
        for k, (r, s) in enumerate(zip(run.residual_norms, t)):
            rows.append(
                {
                    "data": data,
                    "method": method,
                    "iteration": k,
                    "residual": float(r),
                    "relative": float(r / run.residual_norms[0]),
                    "seconds": float(s),
                }
            )
    return rows


def iterations_to(run: gn.TrainResult, target: float):
    """First iteration at which ``||f - y|| <= target ||f_0 - y||``, or None if the run never got there."""
    rel = run.residual_norms / run.residual_norms[0]
    hit = np.nonzero(rel <= target)[0]
    return int(hit[0]) if len(hit) else None


# ---------------------------------------------------------------------------
# dependence on conditioning
# ---------------------------------------------------------------------------


def conditioning_study(
    cfg: Config,
    seed: int,
    labels: str = "teacher",
    methods=("gd", "gn", "fast"),
    progress: bool = False,
) -> list[dict]:
    """Iterations to ``cfg.eps_target`` against lambda_min on :func:`nearly_collinear_data`.

    For every spread ``eps`` of ``cfg.eps_sweep``: ``eps_n`` points in
    dimension ``cfg.d`` at width ``cfg.eps_m``, one ``W0``; lambda_min and
    cond of the Gram matrix at ``W0``, the condition number of the
    sketch-preconditioned Gram (``s = 4n``), and for each method the
    iterations to the target (None: not reached within its budget, or the run
    diverged -- ``diverged`` says which).
    """
    W0, a = init(cfg.eps_m, cfg.d, seed)
    rows = []
    it = progress_bar(cfg.eps_sweep, desc=f"eps sweep ({labels})", enabled=progress)
    s = gn.default_sketch_size(cfg.eps_n, cfg.sketch_factor)
    for eps in it:
        with jax.enable_x64(True):
            X, y = gn.nearly_collinear_data(
                cfg.eps_n, cfg.d, eps, jax.random.key(seed + 1), labels=labels
            )
            X, y = np.asarray(X), np.asarray(y)
            ev = np.linalg.eigvalsh(np.asarray(gn.gram(*map(_f64, (W0, a, X)))))
            cond_pre = gn.preconditioned_condition_number(
                *map(_f64, (W0, a, X)), s, jax.random.key(seed + 2)
            )
        row = {
            "labels": labels,
            "eps": eps,
            "lambda_min": float(ev[0]),
            "cond_G": float(ev[-1] / ev[0]),
            "cond_preconditioned": cond_pre,
        }
        for method in methods:
            iters = cfg.gd_iters if method == "gd" else cfg.iters
            try:
                run = gn.train(
                    method,
                    W0,
                    a,
                    X,
                    y,
                    iters,
                    target=cfg.eps_target if method == "gd" else FLOOR,
                    cg_tol=cfg.cg_tol,
                    cg_maxiter=cg_maxiter(cfg.eps_n),
                    key=jax.random.key(seed + 3),
                    sketch_size=s if method == "fast" else None,
                )
                row[f"{method}_iters"] = iterations_to(run, cfg.eps_target)
                row[f"{method}_diverged"] = False
                row[f"{method}_final"] = float(run.residual_norms[-1] / run.residual_norms[0])
                if method == "fast":
                    row["fast_pcg_iters_first"] = int(run.cg_iterations[0])
                if method != "gd":
                    c = contractions(run)
                    row[f"{method}_first_contraction"] = float(c[0]) if len(c) else None
                    row[f"{method}_max_contraction"] = float(c.max()) if len(c) else None
            except gn.DivergenceError:
                row.update(
                    {f"{method}_iters": None, f"{method}_diverged": True, f"{method}_final": None}
                )
        if "fast" in methods:  # the ablation: the first step's CG solve without preconditioner
            cg_run = gn.train(
                "cg", W0, a, X, y, 1, cg_tol=cfg.cg_tol, cg_maxiter=cg_maxiter(cfg.eps_n)
            )
            row["cg_iters_first"] = int(cg_run.cg_iterations[0])
            row["cg_converged_first"] = bool(cg_run.cg_relative_residuals[0] <= cfg.cg_tol)
        rows.append(row)
    return rows


def _f64(v):
    return jnp.asarray(v, jnp.float64)


# ---------------------------------------------------------------------------
# sketch size: preconditioned condition number and CG iterations
# ---------------------------------------------------------------------------


def sketch_study(
    X, y, m: int, cfg: Config, seed: int, draws: int = 3, progress: bool = False
) -> list[dict]:
    """Condition number of ``R^{-T} G R^{-1}`` and PCG iterations of one fast step against ``s``.

    Sketch sizes ``s = ceil(f n)`` for ``f`` in ``cfg.sketch_factors`` and
    ``s = ceil(n ln n)``; ``draws`` independent sketches per size (median,
    min, max of the condition number).  PCG to ``cfg.cg_tol`` at ``W0``,
    against plain CG (the ``cg`` ablation) and cond(G).  float64.
    """
    n = len(y)
    W0, a = init(m, X.shape[1], seed)
    sizes = sorted(
        {gn.default_sketch_size(n, f) for f in cfg.sketch_factors} | {math.ceil(n * math.log(n))}
    )
    with jax.enable_x64(True):
        W, A, Xj, yj = map(_f64, (W0, a, X, y))
        ev = np.linalg.eigvalsh(np.asarray(gn.gram(W, A, Xj)))
        cg_run = gn.train(
            "cg", W0, a, X, y, 1, cg_tol=cfg.cg_tol, cg_maxiter=cg_maxiter(n), warmup=False
        )
        it = progress_bar(sizes, desc="sketch sizes", enabled=progress)
        rows = []
        for s in it:
            if s > gn.next_pow2(m * X.shape[1]):
                continue
            conds = [
                gn.preconditioned_condition_number(W, A, Xj, s, jax.random.key(1000 * seed + k))
                for k in range(draws)
            ]
            _, info = gn.fast_gauss_newton_step(
                W, A, Xj, yj, jax.random.key(seed), s, 1.0, 0.0, cfg.cg_tol, cg_maxiter(n), "qr"
            )
            rows.append(
                {
                    "s": s,
                    "s_over_n": s / n,
                    "cond_pre_median": float(np.median(conds)),
                    "cond_pre_min": float(np.min(conds)),
                    "cond_pre_max": float(np.max(conds)),
                    "pcg_iters": int(info.cg_iterations),
                    "cg_iters": int(cg_run.cg_iterations[0]),
                    "cond_G": float(ev[-1] / ev[0]),
                }
            )
    return rows


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
) -> Callable:
    """``(W, a, X, y, key) -> (W_new, StepInfo)`` for ``method`` (``gn``, ``fast``, ``cg``, ``gd``),
    settings bound."""
    if method not in gn.METHODS:
        raise ValueError(f"unknown method {method!r}: choose one of {', '.join(gn.METHODS)}")
    s = gn.default_sketch_size(n, sketch_factor)
    gn._check_common(n, 1.0, damping, s if method == "fast" else None, cg_tol, cg_maxiter, m * d)
    if factor not in gn.FACTORS:
        raise ValueError(f"unknown factor {factor!r}: choose one of {', '.join(gn.FACTORS)}")
    if method == "gn":
        return lambda W, a, X, y, key: gn.gauss_newton_step(W, a, X, y, 1.0, damping)
    if method == "fast":
        return lambda W, a, X, y, key: gn.fast_gauss_newton_step(
            W, a, X, y, key, s, 1.0, float(damping), cg_tol, cg_maxiter, factor
        )
    if method == "cg":
        return lambda W, a, X, y, key: gn.cg_gauss_newton_step(
            W, a, X, y, 1.0, damping, cg_tol, cg_maxiter
        )
    return lambda W, a, X, y, key: gn.gd_step(W, a, X, y, 1.0)


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


def _forward_np(W, a, X):
    """The model in numpy (float64): ``(1/sqrt m) ReLU(X W^T) a``."""
    W, a, X = (np.asarray(v, np.float64) for v in (W, a, X))
    return np.maximum(X @ W.T, 0.0) @ a / np.sqrt(W.shape[0])


def _timing_settings(cfg: Config, factor: str | None = None):
    return tuple(
        sorted(
            {
                "sketch_factor": cfg.sketch_factor,
                "cg_tol": cfg.timing_cg_tol,
                "factor": factor or cfg.timing_factor,
            }.items()
        )
    )


def time_size(n: int, m: int, d: int, cfg: Config, seed: int, methods=("gn", "fast")) -> list[dict]:
    """Compile, memory, wall time and one-step contraction of each method at size (n, m, d), float32.

    The methods are timed in alternation (one call of each per round, after a
    warm-up call of each), so that load from other processes on the shared
    machine hits them alike; each method's time is its minimum over the rounds.
    Rounds: ``cfg.timing_repeats``, raised for cheap sizes to about
    ``cfg.timing_budget`` seconds of calls per method (at most 20 rounds):
    more chances to catch the machine quiet where they cost little.
    """
    W, a, X, y = problem32(n, m, d, seed)
    key = jax.random.key(seed)
    steps = {
        meth: compile_step(meth, W, a, X, y, key, **dict(_timing_settings(cfg))) for meth in methods
    }
    first = {}
    for meth, c in steps.items():  # warm-up, also gives a first time
        t0 = time.perf_counter()
        block(c.fn(W, a, X, y, key))
        first[meth] = time.perf_counter() - t0
    rounds = max(
        cfg.timing_repeats, min(20, math.ceil(cfg.timing_budget / max(max(first.values()), 1e-3)))
    )
    best = {meth: math.inf for meth in methods}
    for _ in range(rounds):
        for meth, c in steps.items():
            t0 = time.perf_counter()
            block(c.fn(W, a, X, y, key))
            best[meth] = min(best[meth], time.perf_counter() - t0)
    y64 = np.asarray(y, np.float64)
    r0 = np.linalg.norm(_forward_np(W, a, X) - y64)
    rows = []
    for meth, c in steps.items():
        W1, info = c.fn(W, a, X, y, key)
        contraction = float(np.linalg.norm(_forward_np(W1, a, X) - y64) / r0)
        rows.append(
            {
                "method": meth,
                "n": n,
                "m": m,
                "d": d,
                "factor": cfg.timing_factor if meth == "fast" else None,
                "seconds": best[meth],
                "rounds": rounds,
                "compile_seconds": c.compile_seconds,
                "peak_bytes": c.peak_bytes,
                "temp_bytes": c.temp_bytes,
                "jacobian_bytes": n * m * d * 4,
                "contraction": contraction,
                "cg_iters": int(info.cg_iterations),
                "seconds_per_decade": best[meth] / -math.log10(contraction)
                if 0 < contraction < 1
                else None,
            }
        )
    return rows


def timing_sweeps(
    cfg: Config, seed: int, methods=("gn", "fast"), progress: bool = False
) -> list[dict]:
    """:func:`time_size` over ``cfg.n_sweep`` at width ``sweep_m`` (rows with ``axis="n"``) and over
    ``cfg.m_sweep`` at ``sweep_n`` points (``axis="m"``); a size both sweeps contain is timed once."""
    sizes = [("n", n, cfg.sweep_m) for n in cfg.n_sweep] + [
        ("m", cfg.sweep_n, m) for m in cfg.m_sweep
    ]
    todo = list(dict.fromkeys((n, m) for _, n, m in sizes))
    it = progress_bar(todo, desc="timing sweeps", enabled=progress)
    done = {job: time_size(job[0], job[1], cfg.sweep_d, cfg, seed, methods) for job in it}
    return [{"axis": axis, **row} for axis, n, m in sizes for row in done[(n, m)]]


def memory_vs_d(n: int, m: int, ds, cfg: Config, methods=("gn", "fast")) -> list[dict]:
    """XLA's peak-memory estimate of each compiled step against the input dimension ``d`` (compile only, no run).

    ``pattern_bytes`` is the size of one n x m float32 array (the activation pattern ``P^T``),
    ``jacobian_bytes`` that of the dense n x md Jacobian the fast step must never form.
    """
    rows = []
    for d in ds:
        for method in methods:
            c = _compile_step(method, n, m, d, "float32", _timing_settings(cfg))
            rows.append(
                {
                    "method": method,
                    "n": n,
                    "m": m,
                    "d": d,
                    "peak_bytes": c.peak_bytes,
                    "temp_bytes": c.temp_bytes,
                    "pattern_bytes": n * m * 4,
                    "jacobian_bytes": n * m * d * 4,
                }
            )
    return rows


def fast_step_breakdown(n: int, m: int, d: int, cfg: Config, seed: int, repeats: int = 1) -> dict:
    """Best-of-k seconds of each stage of the fast step and of exact GN at one size (float32).

    Stages: ``pattern`` (f and P^T from W X^T), ``sketch`` (S J^T), ``cholesky``
    and ``qr`` (the factor of the sketch), ``cg`` (the PCG solve, iterations
    in ``cg_iters``), and for exact GN ``gram`` (G = J J^T) and ``solve``
    (Cholesky solve).  The J^T z at the end of both steps is one CG-iteration's
    worth of work and is not listed.  Each stage: best of ``repeats`` calls
    after a warm-up call (one by default: the breakdown shows shares, and its
    largest stages take seconds).
    """
    W, a, X, y = problem32(n, m, d, seed)
    s = gn.default_sketch_size(n, cfg.sketch_factor)
    S = gn.srht(jax.random.key(seed), m * d, s, dtype=jnp.float32)
    pattern = jax.jit(gn._forward_and_pattern)
    f, PT = pattern(W, a, X)
    sketch = jax.jit(gn._sketch_js)
    JS = sketch(S, PT, X)
    factor = {
        fac: jax.jit(lambda JS, fac=fac: gn._preconditioner_from_js(JS, 0.0, fac))
        for fac in gn.FACTORS
    }
    R = factor[cfg.timing_factor](JS)
    res = f - y

    @jax.jit
    def cg(PT, X, R, res):
        pre = lambda r: jax.scipy.linalg.solve_triangular(
            R, jax.scipy.linalg.solve_triangular(R, r, trans="T", lower=False), lower=False
        )
        z, k, _, _ = gn.pcg(lambda p: gn.gram_matvec(PT, X, p), res, pre, cfg.timing_cg_tol, 100)
        return z, k

    gram = jax.jit(gn.gram)
    G = gram(W, a, X)
    solve = jax.jit(
        lambda G, r: jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(G, lower=True), r)
    )
    k = repeats
    out = {
        "n": n,
        "m": m,
        "d": d,
        "s": s,
        "pattern": best_time(pattern, W, a, X, repeats=k),
        "sketch": best_time(sketch, S, PT, X, repeats=k),
        "cholesky": best_time(factor["cholesky"], JS, repeats=k),
        "qr": best_time(factor["qr"], JS, repeats=k),
        "cg": best_time(cg, PT, X, R, res, repeats=k),
        "cg_iters": int(cg(PT, X, R, res)[1]),
        "gram": best_time(gram, W, a, X, repeats=k),
        "solve": best_time(solve, G, res, repeats=k),
    }
    return out


# ---------------------------------------------------------------------------
# fits and extrapolation
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PowerLaw:
    """``t = c x^p`` fitted by least squares on log t against log x."""

    exponent: float
    prefactor: float

    def __call__(self, x):
        return self.prefactor * np.asarray(x, float) ** self.exponent


def fit_power_law(x, t) -> PowerLaw:
    """Least-squares fit of ``log t = log c + p log x``; needs at least two distinct positive ``x``."""
    x, t = np.asarray(x, float), np.asarray(t, float)
    if x.shape != t.shape or x.ndim != 1:
        raise ValueError(
            f"fit_power_law: x and t must be 1-d of equal length, got {x.shape} and {t.shape}"
        )
    if np.any(x <= 0) or np.any(t <= 0) or not (np.all(np.isfinite(x)) and np.all(np.isfinite(t))):
        raise ValueError("fit_power_law: x and t must be positive and finite")
    if len(np.unique(x)) < 2:
        raise ValueError("fit_power_law: need at least two distinct x")
    p, logc = np.polyfit(np.log(x), np.log(t), 1)
    return PowerLaw(float(p), float(np.exp(logc)))


def crossover(slow: PowerLaw, fast: PowerLaw, ratio: float = 1.0):
    """The ``x`` at which ``slow(x) / fast(x) = ratio`` (an extrapolation of the two fits).

    None if the fitted exponents give no such point beyond 0 in the right
    direction (the ratio never grows, i.e. ``slow`` does not grow faster).
    """
    if not ratio > 0:
        raise ValueError(f"crossover: ratio must be positive, got {ratio}")
    dp = slow.exponent - fast.exponent
    if dp <= 0:
        return None
    return float((ratio * fast.prefactor / slow.prefactor) ** (1.0 / dp))


def breakdown_sweep(cfg: Config, seed: int, repeats: int = 1, progress: bool = False) -> list[dict]:
    """:func:`fast_step_breakdown` at every ``n`` of ``cfg.n_sweep`` (width ``sweep_m``, dimension ``sweep_d``)."""
    it = progress_bar(cfg.n_sweep, desc="stages of the steps", enabled=progress)
    return [fast_step_breakdown(n, cfg.sweep_m, cfg.sweep_d, cfg, seed, repeats) for n in it]
