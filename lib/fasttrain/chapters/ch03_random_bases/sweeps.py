"""Chapter 03: sweeps."""

from __future__ import annotations

import math

import numpy as np

from ...core.claims import (
    over_seeds,
)
from ...methods import random_bases as rb
from .configs import learning_rates
from .measurements import Several
from .study import Study, methods


# ===================================================================== correlation and accuracy against d
def d_sweep(study: Study, model: str = "fc") -> list[dict]:
    """RBD (Table 1's directions) at each d of ``Config.d_sweep`` over ``Config.ablation_seeds``.

    ``cos`` is the cosine between the RBD step and the minibatch gradient,
    averaged over training; for d << D it is about sqrt(d / D) (``cos_theory``)
    for any direction distribution with E[phi phi^T] = I / D and nearly
    orthogonal directions.  ``cos``/``accuracy`` are means over the seeds, ``*_seeds`` per seed,
    ``curve`` the first seed's test accuracy per epoch.
    """
    cfg = study.cfg
    lr = learning_rates(model, cfg.dataset)["rbd"]
    D = study.dim(model)
    rows = []
    for d in cfg.d_sweep:
        runs = study.over(
            model,
            rb.RBD(lr, d, cfg.rbd_distribution, chunk=cfg.chunk),
            study.epochs_for(model),
            study.seeds("ablation_seeds"),
        )
        acc = [r.final_accuracy for r in runs]
        cos = [float(np.nanmean(r.cos)) for r in runs]
        rows.append(
            {
                "d": d,
                "D/d": D / d,
                "accuracy": float(np.mean(acc)),
                "cos": float(np.mean(cos)),
                "cos_theory": math.sqrt(d / D),
                "accuracy_seeds": acc,
                "cos_seeds": cos,
                "curve": runs[0].test_accuracy,
                "steps_per_epoch": runs[0].steps_per_epoch,
                "curves_seeds": [list(map(float, r.test_accuracy)) for r in runs],
            }
        )
    return with_steps_to_target(rows)


#: the target of ``time-to-target-vs-d``: the initial accuracy + this fraction of the smallest d's
#: mean gain over it by the end of training (declared before any run; the smallest d's runs reach
#: it by the end, larger d's sooner or later)
TARGET_OF_SMALLEST_D = 0.9


def with_steps_to_target(rows: list[dict]) -> list[dict]:
    """``rows`` (of :func:`d_sweep`) with ``target`` (the mean initial accuracy +
    :data:`TARGET_OF_SMALLEST_D` × the smallest d's mean gain over it at the end) and per seed
    ``steps_to_target_seeds``: the steps up to the first evaluation after the start (epoch
    boundary) at or above the target, or ``None`` if no evaluation reaches it."""
    if not rows:
        return rows
    small = min(rows, key=lambda r: r["d"])
    start = float(np.mean([c[0] for c in small["curves_seeds"]]))
    target = start + TARGET_OF_SMALLEST_D * (small["accuracy"] - start)
    out = []
    for r in rows:
        steps = []
        for c in r["curves_seeds"]:
            hit = [e for e in range(1, len(c)) if c[e] >= target]
            steps.append(hit[0] * r["steps_per_epoch"] if hit else None)
        out.append({**r, "target": target, "steps_to_target_seeds": steps})
    return out


def _shape(study: Study) -> tuple[int, ...]:
    return tuple(study.data().x_train.shape[1:])


def compartment_measurements(rows: list[dict]) -> Several:
    """Per (method, D/d, scheme) with η·K compartments: per-seed accuracy − the same seed's
    one-subspace run, as a Measurement over the seeds."""
    base = {(r["method"], r["d"]): r for r in rows if r["setting"] == "one subspace"}
    out = {}
    for r in rows:
        if not r["setting"].endswith("η·K"):
            continue
        b = base[(r["method"], r["d"])]
        scheme = "layers" if "layer" in r["setting"] else f"K = {r['compartments']}"
        diffs = [a - c for a, c in zip(r["accuracy_seeds"], b["accuracy_seeds"])]
        out[f"{r['method']} D/d {r['D/d']:.0f} ({scheme})"] = over_seeds(diffs)
    return Several(out)


def compare_counts(new, old, margin: float = 0.01) -> tuple[int, int, int]:
    """How many of the paired accuracies ``new`` beat ``old`` by more than ``margin``, tie, or lose."""
    diff = np.asarray(new, float) - np.asarray(old, float)
    return (
        int(np.sum(diff > margin)),
        int(np.sum(np.abs(diff) <= margin)),
        int(np.sum(diff < -margin)),
    )


def monotone(values) -> bool:
    """Whether ``values`` never decrease."""
    v = list(values)
    return all(b >= a for a, b in zip(v, v[1:]))


# ===================================================================== compression: RBD vs FPD
def compression(study: Study, model: str = "fc") -> list[dict]:
    """RBD and FPD at compression factors D/d (``Config.compression_factors`` and d = ``Config.d``).

    Each with one subspace and (``Config.compartment_size`` > 0) with K chunk compartments of that
    many parameters, d split evenly among them, all over ``Config.ablation_seeds``; with
    ``Config.layer_compartments`` also RBD at d = ``Config.d`` with one compartment per layer
    kernel and bias (the paper's "e.g. layer-wise" scheme).  With the official normalisation
    1/sqrt(D) a compartment's expected step is (d/K)/D of its gradient, K times smaller than with one subspace; the
    runs marked ``"eta*K"`` scale the learning rate by K, which equals
    normalising each compartment by its own size (1/sqrt(D_j), D_j = D/K)
    and restores the single subspace's expected step.  ``accuracy``/``fraction`` are means over
    the row's seeds; ``accuracy_seeds`` per seed, ``fraction`` of the same seed's SGD.
    """
    cfg = study.cfg
    lr = learning_rates(model, cfg.dataset)
    D = study.dim(model)
    seeds = study.seeds("ablation_seeds")
    sgd = {
        s: study.run(model, rb.SGD(lr["sgd"]), study.epochs_for(model), seed=s).final_accuracy
        for s in seeds
    }
    ds = sorted({int(round(D / f)) for f in cfg.compression_factors} | {cfg.d}, reverse=True)
    one, comp = rb.Compartments(), rb.Compartments("chunk", size=cfg.compartment_size or 1)
    rows = []
    for d in ds:
        k = rb.subspace(D, d, compartments=comp).n_compartments if cfg.compartment_size else 1
        runs = [("RBD", one, 1, "one subspace"), ("FPD", one, 1, "one subspace")]
        if cfg.compartment_size:
            if cfg.unscaled_compartments:
                runs.append(("RBD", comp, 1, f"{k} compartments, η"))
            runs += [
                ("RBD", comp, k, f"{k} compartments, η·K"),
                ("FPD", comp, k, f"{k} compartments, η·K"),
            ]
        if cfg.layer_compartments and d == cfg.d:
            layer = rb.Compartments("leaf")
            kl = rb.subspace(
                study.model(model).init(rb.stream_key(0, rb.STREAM_INIT), _shape(study)),
                d,
                compartments=layer,
            ).n_compartments
            runs.append(("RBD", layer, kl, f"{kl} layer compartments, η·K"))
        for name, compartments, factor, label in runs:
            if name == "RBD":
                method = rb.RBD(
                    lr["rbd"] * factor, d, cfg.rbd_distribution, compartments, cfg.chunk
                )
            else:
                method = rb.FPD(
                    lr["fpd"] * factor, d, cfg.fpd_distribution, compartments, cfg.chunk
                )
            row_seeds = seeds
            rs = study.over(model, method, study.epochs_for(model), row_seeds)
            accs = [r.final_accuracy for r in rs]
            rows.append(
                {
                    "method": name,
                    "d": d,
                    "D/d": D / d,
                    "compartments": 1 if compartments.kind == "none" else int(max(factor, k)),
                    "setting": label,
                    "lr": method.lr,
                    "seeds": len(row_seeds),
                    "accuracy": float(np.mean(accs)),
                    "fraction": float(np.mean([a / sgd[s] for s, a in zip(row_seeds, accs)])),
                    "step_ms": 1e3 * float(np.median([r.step_time for r in rs])),
                    "accuracy_seeds": accs,
                }
            )
    return rows


# ===================================================================== switching
def switch_epochs(cfg) -> tuple[float, ...]:
    """The switch points of the ``switching`` claim: ``Config.switch_epochs`` (or, empty, the
    figure's ``Config.switch_epoch`` alone), in epochs (a fraction of an epoch allowed)."""
    return tuple(cfg.switch_epochs) or (cfg.switch_epoch,)


def switching(
    study: Study, model: str = "fc", seed: int | None = None, epoch: float | None = None
) -> dict:
    """RBD -> SGD and SGD -> RBD at ``epoch`` (default ``Config.switch_epoch``; a fraction of an
    epoch allowed), with the pure runs, for one seed (default the study's); the runs of all of
    ``Config.seeds`` go side by side and are memoised, so the other seeds cost nothing more;
    :func:`switching_over_seeds` for every seed and switch point."""
    cfg = study.cfg
    m = methods(cfg, model, cfg.dataset)
    epochs = study.epochs_for(model)
    seeds = study.seeds("seeds")
    seed = study.seed if seed is None else seed
    epoch = cfg.switch_epoch if epoch is None else epoch
    rbd = study.over(model, m["RBD"], epochs, seeds)[seeds.index(seed)]
    sgd = study.over(model, m["SGD"], epochs, seeds)[seeds.index(seed)]
    at = int(round(epoch * rbd.steps_per_epoch))
    kw = {"switch_at": at}
    return {
        "RBD": rbd,
        "SGD": sgd,
        "switch_at": at,
        "switch_epoch": epoch,
        "seed": seed,
        "RBD→SGD": study.over(model, m["RBD"], epochs, seeds, then=m["SGD"], **kw)[
            seeds.index(seed)
        ],
        "SGD→RBD": study.over(model, m["SGD"], epochs, seeds, then=m["RBD"], **kw)[
            seeds.index(seed)
        ],
    }


def switching_over_seeds(study: Study, model: str = "fc") -> list[dict]:
    """:func:`switch_summary` rows of every seed of ``Config.seeds`` at every switch point of
    :func:`switch_epochs` (the seeds' runs go side by side; the figure's point is memoised)."""
    rows = []
    for e in switch_epochs(study.cfg):
        for s in study.seeds("seeds"):
            rows += [{**r, "seed": s} for r in switch_summary(switching(study, model, s, e))]
    return rows


def switch_summary(runs: dict) -> list[dict]:
    """Per switched run: finite losses, accuracy at the switch (last epoch boundary before it) and at the end."""
    at = runs["switch_at"]
    rows = []
    for name in ("RBD→SGD", "SGD→RBD"):
        r = runs[name]
        e = at // r.steps_per_epoch  # epochs completed before the switch
        after = r.test_accuracy[e + 1 :] if e + 1 < len(r.test_accuracy) else r.test_accuracy[-1:]
        loss_before = float(np.mean(r.loss[max(0, at - 20) : at])) if at > 0 else float("nan")
        loss_after = float(np.mean(r.loss[at : at + 20]))
        rows.append(
            {
                "run": name,
                "switch_epoch": runs.get("switch_epoch"),
                "switch_step": at,
                "finite": bool(np.all(np.isfinite(r.loss))),
                "acc_before": float(r.test_accuracy[e]),
                "min_acc_after": float(np.min(after)),
                "final": r.final_accuracy,
                "loss_before": loss_before,
                "loss_after": loss_after,
                "final_first": runs[name.split("→")[0]].final_accuracy,
                "final_second": runs[name.split("→")[1]].final_accuracy,
            }
        )
    return rows


def evidence_switching(rows: list[dict], cfg) -> dict:
    """``{"switching": Evidence}`` from :func:`switching_over_seeds`'s rows: the rule
    (:func:`~.rules.switch_works`) takes the rows and decides per switch point and direction on
    the worst seed; shown: the largest drop of each (point, direction)."""
    from ...core.results import Evidence

    by: dict = {}
    for r in rows:
        by.setdefault((r["switch_step"], r["run"]), []).append(r)
    shown = "; ".join(
        f"{run} at step {st}: largest drop {max(x['acc_before'] - x['min_acc_after'] for x in g):+.3f}"
        f", final {np.mean([x['final'] for x in g]):.3f}"
        for (st, run), g in sorted(by.items())
    )
    steps = sorted({r["switch_step"] for r in rows})
    return {
        "switching": Evidence(
            rows,
            shown=shown,
            reason=f"switch at steps {', '.join(map(str, steps))} (epochs "
            f"{', '.join(f'{e:g}' for e in switch_epochs(cfg))} of {cfg.epochs}), both directions, "
            f"{len({r['seed'] for r in rows})} seed(s) each",
        )
    }
