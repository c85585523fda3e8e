"""Chapter 04, part 2: box initialisation against the others (dead ReLUs, error after training)."""

from __future__ import annotations

import time

import jax

from ...methods import lsgd as LS
from .configs import LSGDConfig, run_seeds
from .lsgd_regression import regression_problem

# ----------------------------------------------------------------------------
# initialisation


def init_study(cfg: LSGDConfig, seed: int, progress: bool = False) -> list[dict]:
    """Dead ReLUs at initialisation and error after ``cfg.init_steps`` LSGD iterations.

    MLPs with ``depth`` hidden layers of width ``cfg.widths[0]`` on the
    oscillatory 1-D benchmark, for every initialisation and every seed of ``cfg.dead_seeds``
    (dead fraction) -- trained, and their error recorded, for the seeds of ``cfg.init_seeds``
    only (``error`` is ``None`` for the others); plus the ResNet variant's dead fraction (no
    training, ``cfg.init_seeds``).  A neuron is dead if its pre-activation is <= 0 at every test
    point.
    """
    bench, system, err = regression_problem(cfg, "osc1d", seed)
    x = err.x
    seeds = run_seeds(sorted(set(cfg.dead_seeds) | set(cfg.init_seeds)), seed)
    trained = set(run_seeds(cfg.init_seeds, seed))
    todo = [("MLP", d, m, s) for d in cfg.init_depths for m in cfg.init_methods for s in seeds]
    todo += [
        ("ResNet", d, m, s)
        for d in cfg.resnet_depths
        for m in cfg.init_methods
        for s in sorted(trained)
    ]
    if progress:
        from tqdm.auto import tqdm

        todo = tqdm(todo, desc="initialisations", unit="net", leave=False)
    rows = []
    for net, depth, method, s in todo:
        t0 = time.perf_counter()
        key = jax.random.key(s)
        error = None
        if net == "MLP":
            p0 = LS.init_mlp(
                key, bench.dim, (cfg.widths[0],) * depth, 1, method, (bench.lo, bench.hi)
            )
        else:
            p0 = LS.init_resnet_box(
                key, bench.dim, cfg.widths[0], depth, 1, (bench.lo, bench.hi), method
            )
        if net == "MLP" and s in trained:
            e = LS.run(
                LS.LSGD(cfg.lr),
                p0,
                system,
                cfg.init_steps,
                ridge=cfg.ridge,
                error_fn=err,
                chunk=cfg.chunk,
            ).error
            error = float(e[-1])
        rows.append(
            {
                "net": net,
                "depth": depth,
                "init": method,
                "seed": s,
                "dead": LS.dead_fraction(p0, x)["total"],
                "error": error,
                "seconds": time.perf_counter() - t0,
            }
        )
    return rows
