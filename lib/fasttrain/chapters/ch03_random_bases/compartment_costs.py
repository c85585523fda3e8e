"""Chapter 03: the compartments' training-time benefit, and how it changes with the network's size.

The paper (Sec. 3, compartmentalisation): "We find benefits in both achieved accuracy and training
time from this compartmentalization scheme".  The accuracy half is the claim ``compartments``
(:mod:`.sweeps`); this module times the other half.  With K compartments and the budget split
(``rb.Compartments("chunk", size, "split")``), compartment j draws d/K directions of D/K entries,
so a dense draw makes d·D/K random numbers instead of d·D: the time benefit the sentence can mean
is a cheaper step at the same d.  Measured: the time per RBD step with one subspace and with
chunk compartments of a fixed size, interleaved, per network size (FC networks of growing hidden
width, so K grows with D), for the paper's Gaussian directions (decided) and the chapter's
structured directions (shown).
"""

from __future__ import annotations

import numpy as np

from ...core import models as M
from ...core import timing as T
from ...core.claims import over_rounds
from ...methods import random_bases as rb
from .configs import DENSE, learning_rates
from .measurements import Several
from .study import Study

#: the direction kind that decides the claims: the paper's (dense Gaussian directions); the other
#: kinds of ``Config.compartment_time_distributions`` (the chapter's structured one) are shown
DECIDING = "gaussian"


def _runner(model: M.Model, method, x, y, seed: int, inner: int):
    """A zero-argument call of ``inner`` training steps of ``method`` (the method's own step
    runner, :func:`fasttrain.methods.random_bases.step_runner`, one jitted ``lax.fori_loop``)."""
    import jax.numpy as jnp

    x, y = jnp.asarray(x), jnp.asarray(y)
    params = model.init(rb.stream_key(seed, rb.STREAM_INIT), tuple(x.shape[1:]))
    many, aux = rb.step_runner(method, rb.make_loss(model.apply), params, x, y, inner, seed, "fori")
    return lambda: many(params, aux)


def variants(cfg, hidden: int, D: int) -> list[dict]:
    """The timed variants at one network size: per direction kind of
    ``Config.compartment_time_distributions``, one subspace and K chunk compartments of
    ``Config.compartment_time_size`` parameters (d split among them)."""
    lr = learning_rates("fc", cfg.dataset)["rbd"]
    comp = rb.Compartments("chunk", size=cfg.compartment_time_size)
    K = rb.subspace(D, cfg.d, compartments=comp).n_compartments
    out = []
    for dist in cfg.compartment_time_distributions:
        # dense directions: a step of up to a second, so few steps a call; structured: many
        inner = cfg.compartment_time_inner_dense if dist in DENSE else cfg.timing_inner_short
        for scheme, compartments in (("one subspace", rb.Compartments()), (f"K = {K}", comp)):
            out.append(
                {
                    "hidden": hidden,
                    "D": D,
                    "K": 1 if scheme == "one subspace" else K,
                    "distribution": dist,
                    "scheme": scheme,
                    "inner": max(1, int(inner)),
                    "method": rb.RBD(lr, cfg.d, dist, compartments, cfg.chunk),
                }
            )
    return out


def compartment_timing(study: Study) -> dict:
    """Time per RBD step with one subspace and with chunk compartments, per FC hidden width in
    ``Config.compartment_time_hidden`` (batch ``Config.batch_size``, data pipeline excluded).

    All variants of all sizes run in the same interleaved rounds (``Config.timing_rounds``, after
    a compiling and a warm-up call each, BLAS pinned; :func:`fasttrain.core.timing.interleaved`).
    Per round and per (size, direction kind): the ratio one subspace ÷ compartments of the
    per-step times (> 1: compartments are faster).  Returns ``{"rows": [...], "ratios": {(hidden,
    distribution): [per-round ratio]}, "load", "rounds", "size"}``; empty rows where the scale
    times no compartments (``Config.compartment_time_hidden`` empty).
    """
    cfg = study.cfg
    if not cfg.compartment_time_hidden:
        return {"rows": [], "ratios": {}, "load": [], "rounds": 0, "size": 0}
    ds = study.data()
    x, y = ds.x_train[: cfg.batch_size], ds.y_train[: cfg.batch_size]
    fns, info = {}, {}
    for hidden in cfg.compartment_time_hidden:
        model = M.fc(hidden=hidden)
        D = M.flat_dim(model, x.shape[1:])
        for v in variants(cfg, hidden, D):
            key = f"{hidden}|{v['distribution']}|{v['scheme']}"
            fns[key] = _runner(model, v["method"], x, y, study.seed, v["inner"])
            info[key] = v
    timed = T.interleaved(fns, rounds=cfg.timing_rounds, warmup=2)
    per_step = {k: [t / info[k]["inner"] for t in timed["times"][k]] for k in fns}
    rows, ratios = [], {}
    for k, v in info.items():
        rows.append(
            {key: v[key] for key in ("hidden", "D", "K", "distribution", "scheme", "inner")}
            | {"step_ms": 1e3 * float(np.median(per_step[k]))}
        )
        if v["K"] > 1:
            one = f"{v['hidden']}|{v['distribution']}|one subspace"
            ratios[(v["hidden"], v["distribution"])] = [
                a / b for a, b in zip(per_step[one], per_step[k], strict=True)
            ]
    for r in rows:
        rr = ratios.get((r["hidden"], r["distribution"]))
        r["one ÷ compartments"] = None if r["K"] == 1 or rr is None else float(np.median(rr))
    return {
        "rows": rows,
        "ratios": ratios,
        "load": timed["load"],
        "rounds": timed["rounds"],
        "size": cfg.compartment_time_size,
    }


def compartment_time_measurements(out: dict) -> dict:
    """Per (hidden width, direction kind): :func:`fasttrain.core.claims.over_rounds` of the
    per-round ratios one subspace ÷ compartments (the median with its distribution-free 95 %
    interval, which narrows as rounds are added)."""
    return {key: over_rounds(v) for key, v in out["ratios"].items()}


def evidence_compartment_time(out: dict, cfg) -> dict:
    """``compartments-time`` and ``compartments-time-grows`` from :func:`compartment_timing`'s
    output (``out["compartment_timing"]``): per hidden width the Gaussian ratio; the growth as the
    per-round ratio of the largest width's ratio to the smallest's."""
    from ...core.claims import Unavailable
    from ...core.results import Evidence
    from .rules import NO_COMPARTMENT_TIMING

    ct = out.get("compartment_timing") or {}
    ratios = {h: v for (h, dist), v in ct.get("ratios", {}).items() if dist == DECIDING}
    if not ratios:
        u = Unavailable(NO_COMPARTMENT_TIMING)
        return {"compartments-time": u, "compartments-time-grows": u}
    by = Several({h: over_rounds(v) for h, v in sorted(ratios.items())})
    where = "; ".join(_size_text(ct["rows"], h) for h in by)
    how = (
        f"time per RBD step (batch {cfg.batch_size}, d = {cfg.d}, Gaussian directions, chunk "
        f"compartments of {ct['size']} parameters, d split among them), {ct['rounds']} "
        f"interleaved rounds, load {ct['load']}; {where}"
    )
    ev = {"compartments-time": Evidence(by, reason=how)}
    lo, hi = min(ratios), max(ratios)
    if lo == hi:
        ev["compartments-time-grows"] = Unavailable(NO_COMPARTMENT_TIMING)
    else:
        grow = [a / b for a, b in zip(ratios[hi], ratios[lo], strict=True)]
        ev["compartments-time-grows"] = Evidence(
            over_rounds(grow),
            reason=f"benefit at hidden {hi} ÷ at hidden {lo}, per round; {how}",
        )
    return ev


def _size_text(rows: list[dict], hidden: int) -> str:
    """ "hidden h (D = .., K = ..): a ms → b ms" for the deciding direction kind at one size."""
    one, comp = (
        next(r for r in rows if r["hidden"] == hidden and r["distribution"] == DECIDING and test(r))
        for test in (lambda r: r["K"] == 1, lambda r: r["K"] > 1)
    )
    return (
        f"hidden {hidden} (D = {one['D']}, K = {comp['K']}): {one['step_ms']:.3g} ms → "
        f"{comp['step_ms']:.3g} ms a step"
    )
