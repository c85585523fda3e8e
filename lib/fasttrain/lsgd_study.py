"""Chapter 04, part 2: the protocols around :mod:`fasttrain.lsgd`.

Each function runs one measurement of the chapter and returns plain records
or runs that the chapter tabulates and plots.  The protocol, stated once here
and in the chapter:

* regression: ReLU MLP (``Config.widths``) with box initialisation on the data
  box, the same initial network for every method; half mean squared error on
  training points drawn uniformly (seeded), relative L2 error on a test grid;
* methods: LSGD (least-squares output layer, then Adam on the hidden layers,
  alternating), Adam on all parameters (same learning rate), plain GD on all
  parameters (``Config.gd_lr``);
* clocks: every method is compiled by a one-step warm-up first (the compiled
  step is cached by :func:`fasttrain.lsgd.fit`), so wall times exclude
  compilation; the machine is shared, so wall times are indicative only;
* iteration counts: Adam/GD iteration ``k`` = ``k`` optimiser steps; LSGD's
  record 0 is the least-squares fit on the initial (random) basis, which
  counts as its first iteration, so LSGD's record ``k`` costs ``k + 1``
  iterations (``k`` gradient steps, ``k + 1`` solves).
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from . import lsgd as LS

METHODS: tuple[str, ...] = ("LSGD", "Adam", "GD")
_FIT_METHOD = {"LSGD": "lsgd", "Adam": "adam", "GD": "gd"}


def regression_problem(cfg: LS.Config, name: str, seed: int):
    """``(benchmark, system, error_fn)`` of one regression benchmark."""
    bench = LS.benchmark(name, cfg.osc_k)
    n_tr = cfg.n_train_2d if bench.dim == 2 else cfg.n_train
    xtr, ytr, xte, yte = LS.regression_data(bench, n_tr, cfg.n_test, seed)
    return bench, LS.regression_system(xtr, ytr), LS.relative_error(xte, yte)


def _fit(p0, system, err, method: str, cfg: LS.Config, steps: int, lr: float, progress: bool):
    m = _FIT_METHOD[method]
    # warm-up: compiles (or finds) the cached step, so that the timed run excludes compilation
    LS.fit(p0, system, m, 1, lr, cfg.ridge, error_fn=err, chunk=cfg.chunk)
    return LS.fit(p0, system, m, steps, lr, cfg.ridge, error_fn=err, chunk=cfg.chunk, progress=progress)


def regression_study(cfg: LS.Config, seed: int, benchmarks=LS.BENCHMARKS, methods=None,
                     progress: bool = False) -> dict:
    """``{benchmark name: {method: FitResult}}`` for ``methods`` (default ``cfg.methods``, from LSGD,
    Adam and GD) from the same box-initialised MLP."""
    methods = methods or cfg.methods
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown method(s) {sorted(unknown)}: choose from {METHODS}")
    out = {}
    for b in benchmarks:
        bench, system, err = regression_problem(cfg, b, seed)
        p0 = LS.init_mlp(jax.random.key(seed), bench.dim, cfg.widths, 1, "box", (bench.lo, bench.hi))
        runs = {}
        for m in methods:
            steps = cfg.lsgd_steps if m == "LSGD" else cfg.adam_steps
            runs[m] = _fit(p0, system, err, m, cfg, steps, cfg.gd_lr if m == "GD" else cfg.lr, progress)
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
    out = {"target": eps, "target_is": "Adam's final error" if eps == final_a else "e0 / %g" % shrink,
           "e0": e0, "adam_final": final_a, "lsgd_final": float(e_l[-1]), "k_adam": hit_a, "k_lsgd": k_l,
           "ratio": None, "bound": "=", "time_ratio": None, "s_per_it_adam": per_a, "s_per_it_lsgd": per_l}
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
        return "not reproduced", (f"LSGD did not reach the target error {info['target']:.2g} "
                                  f"({info['target_is']}); its final error {info['lsgd_final']:.2g}")
    verdict = "reproduced" if r >= need else ("partly" if r > 1 else "not reproduced")
    adam = "never (lower bound)" if info["k_adam"] is None else f"{info['k_adam']}"
    return verdict, (f"target {info['target']:.2g} ({info['target_is']}); iterations LSGD {info['k_lsgd']}, "
                     f"Adam {adam}")


# ----------------------------------------------------------------------------
# initialisation


def init_study(cfg: LS.Config, seed: int, progress: bool = False) -> list[dict]:
    """Dead ReLUs at initialisation and error after ``cfg.init_steps`` LSGD iterations.

    MLPs with ``depth`` hidden layers of width ``cfg.widths[0]`` on the
    oscillatory 1-D benchmark, for every initialisation and seed; plus the
    ResNet variant's dead fraction (no training).  A neuron is dead if its
    pre-activation is <= 0 at every test point.
    """
    bench, system, err = regression_problem(cfg, "osc1d", seed)
    x = err.x
    todo = [("MLP", d, m, s) for d in cfg.init_depths for m in cfg.init_methods for s in cfg.seeds]
    todo += [("ResNet", d, m, s) for d in cfg.resnet_depths for m in cfg.init_methods for s in cfg.seeds]
    if progress:
        from tqdm.auto import tqdm
        todo = tqdm(todo, desc="initialisations", unit="net", leave=False)
    rows = []
    for net, depth, method, s in todo:
        key = jax.random.key(s)
        if net == "MLP":
            p0 = LS.init_mlp(key, bench.dim, (cfg.widths[0],) * depth, 1, method, (bench.lo, bench.hi))
            e = LS.fit(p0, system, "lsgd", cfg.init_steps, cfg.lr, cfg.ridge, error_fn=err, chunk=cfg.chunk).error
            error = float(e[-1])
        else:
            p0 = LS.init_resnet_box(key, bench.dim, cfg.widths[0], depth, 1, (bench.lo, bench.hi), method)
            error = None
        rows.append({"net": net, "depth": depth, "init": method, "seed": s,
                     "dead": LS.dead_fraction(p0, x)["total"], "error": error})
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


def pinn_study(cfg: LS.Config, seed: int, progress: bool = False) -> dict:
    """1-D Poisson PINN, LSGD against Adam from the same Glorot-initialised tanh MLP.

    Returns ``{"LSGD": FitResult, "Adam": FitResult, "x": evaluation points, "u": exact solution}``.
    """
    x_int = jnp.linspace(0.0, 1.0, cfg.pinn_collocation + 2)[1:-1]
    system = LS.poisson_system(x_int, LS.POISSON, "tanh", cfg.pinn_beta)
    x_eval = jnp.linspace(0.0, 1.0, 201)[:, None]
    u = LS.POISSON.u(x_eval)
    err = LS.relative_error(x_eval, u, "tanh")
    p0 = LS.init_mlp(jax.random.key(seed), 1, cfg.pinn_widths, 1, "glorot")
    out = {m: _fit(p0, system, err, m, cfg, cfg.pinn_steps, cfg.pinn_lr, progress) for m in ("LSGD", "Adam")}
    return {**out, "x": np.asarray(x_eval[:, 0]), "u": np.asarray(u[:, 0])}


def ratio_verdict(ratio: float, need: float = 10.0) -> str:
    """``reproduced`` at ``ratio >= need``, ``partly`` above 1, else ``not reproduced``."""
    if not (isinstance(ratio, (int, float)) and math.isfinite(ratio)):
        raise ValueError(f"ratio must be a finite number, got {ratio!r}")
    return "reproduced" if ratio >= need else ("partly" if ratio > 1 else "not reproduced")
