"""Chapter 04: the measurements the claims are decided on, built from the sections' outputs,
the regression table and the reasons a scale does not measure a claim.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ...core import claims
from ...core.claims import Measurement
from ...methods import layer_parallel as LP
from ...methods import lsgd as LS
from .configs import LayerParallelConfig, LSGDConfig, datasets
from .rules import Comparison


def training_measurements(study: dict, name: str, k: int) -> dict:
    """Per-seed measurements of ``k`` MGRIT iterations per step against serial on ``name``.

    ``{"gap": accuracy (parallel - serial), "loss_ratio": final exact loss parallel / serial,
    "learnt": serial accuracy - majority class, "parallel": parallel accuracy, "serial": serial
    accuracy}``, each :func:`fasttrain.core.claims.over_seeds` (the loss ratio, strictly positive,
    on the log scale: geometric mean and its interval).
    """
    ser = {s: r[name, "serial"] for s, r in study["runs"].items()}
    par = {s: r[name, k] for s, r in study["runs"].items()}
    a_s = [float(ser[s].test_accuracy[-1]) for s in ser]
    a_p = [float(par[s].test_accuracy[-1]) for s in ser]
    l_s = [float(ser[s].exact_loss[-1]) for s in ser]
    l_p = [float(par[s].exact_loss[-1]) for s in ser]
    base = [study["baseline"][name, s] for s in ser]
    return {
        "gap": claims.over_seeds([p - q for p, q in zip(a_p, a_s, strict=True)]),
        "loss_ratio": claims.over_seeds([p / q for p, q in zip(l_p, l_s, strict=True)], log=True),
        "learnt": claims.over_seeds([q - b for q, b in zip(a_s, base, strict=True)]),
        "parallel": claims.over_seeds(a_p),
        "serial": claims.over_seeds(a_s),
    }


def same_network_measurements(study: dict, cfg: LayerParallelConfig, name: str, k: int) -> dict:
    """Per seed, how far the layer-parallel trained network (``k`` MGRIT iterations per step) is
    from the serial one on ``name``, from the same start ``theta_0``:
    ``"distance"``: ``|theta_par - theta_ser| / |theta_ser - theta_0|`` (flattened parameters) and
    ``"agree"``: the share of test points on which they predict the same class, each
    :func:`~fasttrain.core.claims.worst_case` over seeds (the statistic of
    :func:`same_trained_network`), with the per-seed lists under ``"per_seed"``."""
    dist, agree = [], []
    for s, runs in study["runs"].items():
        ds = datasets(cfg, s)[name]
        spec = LP.Spec(
            ds.x_train.shape[1], cfg.width, ds.n_classes, cfg.depth, cfg.T, cfg.activation
        )
        p0 = LP.init_params(jax.random.key(s), spec, cfg.init_scale)
        ser, par = runs[name, "serial"].params, runs[name, k].params
        v0, vs, vp = (ravel_pytree(p)[0] for p in (p0, ser, par))
        dist.append(float(jnp.linalg.norm(vp - vs) / jnp.linalg.norm(vs - v0)))
        ys = jnp.argmax(LP.forward(ser, ds.x_test, spec), -1)
        yp = jnp.argmax(LP.forward(par, ds.x_test, spec), -1)
        agree.append(float(jnp.mean(ys == yp)))
    return {
        "distance": claims.worst_case(dist, higher=False),
        "agree": claims.worst_case(agree, higher=True),
        "per_seed": {"distance": dist, "agree": agree},
    }


def accuracy_measurement(chol: dict, qr: dict) -> dict:
    """Per benchmark, the log10 ratio of final errors Cholesky / QR over the seeds both have:
    ``{benchmark: Measurement}`` (:func:`~fasttrain.core.claims.over_seeds`; the statistic of
    :func:`cheap_and_as_accurate`'s accuracy criterion)."""
    out = {}
    for b, e_q in qr.items():
        seeds = [s for s in e_q if s in chol.get(b, {})]
        if not seeds:
            raise ValueError(f"{b}: no seed with both solves")
        out[b] = claims.over_seeds([math.log10(chol[b][s] / e_q[s]) for s in seeds])
    return out


def lsgd_measurement(infos) -> tuple[Measurement, dict]:
    """Per-seed :func:`iteration_ratio` results -> ``(log10 ratios over seeds, context)``.

    Seeds where LSGD never reached the target are left out of the measurement and counted in
    the context's ``unreached`` (the rule then gives at most "partly"); if no seed reached it the
    measurement is a placeholder and ``reached`` is 0.  Where Adam never reached the target the
    seed's ratio is a lower bound (``bound`` ">"), which makes the mean conservative.
    """
    infos = list(infos)
    logs = [math.log10(i["ratio"]) for i in infos if i["ratio"] is not None]
    ctx = {"unreached": len(infos) - len(logs), "reached": len(logs)}
    if not logs:
        m = claims.exact(0.0, how="no seed reached the target")
        if len(infos) == 1:
            m = Measurement(m.values, m.center, None, None, m.how, claims.ONE_RUN)
        return m, ctx
    return claims.over_seeds(logs), ctx


def walltime_measurement(timed) -> tuple[Measurement, dict]:
    """Per-seed :func:`time_to_target` results -> ``(log10 wall-time ratios over seeds, context)``.

    Each seed's value is the log10 of the median of its per-round ratios Adam / LSGD (the run to
    the target timed end to end); the measurement is :func:`~fasttrain.core.claims.over_seeds` of
    these logs: the geometric mean over seeds with the t-interval of the mean log (the claim is
    about the typical run; seeds differ by factors of several, rounds by per cents, so the seed
    interval carries the timing noise too).  With fewer than 6 rounds a seed's median has no 95 %
    interval and the measurement is ``limited`` (at most "inconclusive").  Seeds where LSGD never
    reached the target (``None``) are counted in the context's ``unreached``, as in
    :func:`lsgd_measurement`; a seed where Adam never reached it is a lower bound.
    """
    timed = list(timed)
    got = [t for t in timed if t is not None]
    ctx = {"unreached": len(timed) - len(got), "reached": len(got)}
    if not got:
        return claims.exact(0.0, how="no seed reached the target"), ctx
    logs = [math.log10(float(np.median(t["ratios"]))) for t in got]
    m = claims.over_seeds(logs)
    rounds = min(len(t["ratios"]) for t in got)
    how = f"{m.how}; each seed the median of {rounds} interleaved rounds, run to target end to end"
    limited = m.limited
    if not limited and claims.median_ranks(rounds) is None:
        limited = f"{rounds} rounds per seed: a 95% interval of a seed's median needs 6"
    return Measurement(m.values, m.center, m.interval, m.spread, how, limited), ctx


def per_iteration_walltime(infos, cost) -> Measurement:
    """The previous edition's wall-time estimate, kept as a labelled analysis: per-seed iteration
    ratios Adam / LSGD divided by the median cost of an LSGD iteration in Adam steps (log10, over
    seeds).  It leaves out every fixed cost of a run (the first solve, host syncs), so it
    overstates LSGD's lead for runs of a few dozen iterations; no verdict uses it."""
    it, ctx = lsgd_measurement(infos)
    if ctx["reached"] == 0:
        return it
    med = math.log10(float(np.median(cost)))
    return claims.over_seeds([v - med for v in it.values])


def ratio_shown(m: Measurement) -> str:
    """A measurement of log10 ratios as ``"60x [40, 90]"`` (geometric mean and its interval)."""
    out = f"{10**m.center:.3g}x"
    if m.interval is not None:
        out += f" [{10**m.lo:.3g}, {10**m.hi:.3g}]"
    return out


def seeds_to_settle(m: Measurement, bar: float = 0.0, level: float = 0.95) -> int | None:
    """Seeds at which the t-interval of the mean of ``m`` (its values' mean and sd) would exclude
    ``bar``, if the mean and sd held: the smallest ``n`` with ``t(n-1) sd / sqrt(n) < |mean -
    bar|`` (``None``: a mean on the bar, or more than 10 000 seeds)."""
    from scipy import stats

    v = np.asarray(m.values, float)
    if len(v) < 2:
        return None
    mean, sd = float(v.mean()) - bar, float(v.std(ddof=1))
    if mean == 0:
        return None
    if sd == 0:
        return len(v)
    for n in range(2, 10_001):
        if float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n) < abs(mean):
            return n
    return None


def settle_text(m: Measurement, bars, seconds_per_seed: float, log: bool = True) -> str:
    """For a seed measurement whose interval straddles one of ``bars``: the seeds that would
    settle it if mean and sd held (:func:`seeds_to_settle`) and their cost at ``seconds_per_seed``;
    ``""`` when no bar is straddled.  ``log``: ``m`` and ``bars`` are log10 ratios (the bar is
    shown as a factor)."""
    out = []
    for bar in bars:
        if m.limited or m.lo <= bar <= m.hi:
            n = seeds_to_settle(m, bar)
            b = f"{10**bar:.3g}x" if log else f"{bar:g}"
            if n is None:
                out.append(f"open against {b}: the mean sits on it, no seed count settles it")
                continue
            extra = max(n - len(m.values), 0)
            out.append(
                f"open against {b}: about {n} seeds would settle it if mean and sd held "
                f"({extra} more, about {extra * seconds_per_seed:.0f} s at "
                f"{seconds_per_seed:.2g} s per seed)"
            )
    return "; ".join(out)


def box_open_cost(cmp: Comparison, rows, quantity: str) -> str:
    """What would settle each open case of a :func:`box_wins` comparison, and what it would cost:
    the seeds at which its interval would exclude 0 if mean and sd held (:func:`seeds_to_settle`)
    and the extra seconds at the measured cost of one seed of :func:`init_study` (the median over
    seeds of the seconds of its rows; ``quantity="error"``: the trained seeds only)."""
    per_seed: dict = {}
    for r in rows:
        if r["net"] == "MLP" and (quantity != "error" or _present(r["error"])):
            per_seed[r["seed"]] = per_seed.get(r["seed"], 0.0) + r.get("seconds", 0.0)
    cost = float(np.median(list(per_seed.values()))) if per_seed else 0.0
    out = []
    for k, x in cmp.cases:
        if x.limited or (x.lo <= 0 < x.hi):
            n = seeds_to_settle(x)
            have = len(x.values)
            if n is None:
                out.append(f"{k} open, mean 0: no number of seeds would settle it")
            else:
                extra = max(n - have, 0)
                out.append(
                    f"{k} open: about {n} seeds would settle it if mean and sd held "
                    f"({extra} more, about {extra * cost:.0f} s at {cost:.2g} s per seed)"
                )
    return "; ".join(out) if out else "no case open"


def _present(v) -> bool:
    """A measured number (not ``None``, not NaN)."""
    return v is not None and math.isfinite(float(v))


def init_comparison(
    rows, quantity: str, reference: str = "box", against: str = "strongest"
) -> Comparison:
    """Box against the other initialisations at every MLP depth, over seeds.

    ``rows``: :func:`init_study`'s per-seed rows; ``quantity``: ``"dead"`` (advantage: other's
    dead fraction minus box's) or ``"error"`` (advantage: log10 of other's error over box's);
    ``against``: ``"strongest"`` (per depth, the other initialisation with the smallest mean
    advantage of box, i.e. the best competitor -- the verdicts are decided against it) or
    ``"each"`` (every other initialisation, a case each).
    """
    if against not in ("strongest", "each"):
        raise ValueError(f"against must be 'strongest' or 'each', got {against!r}")
    # rows without the quantity (seeds counted for dead ReLUs only: error None, or NaN from pandas)
    mlp = [r for r in rows if r["net"] == "MLP" and _present(r[quantity])]
    if not mlp:
        raise ValueError("no MLP rows")
    key = {(r["depth"], r["init"], r["seed"]): r[quantity] for r in mlp}
    cases = []
    for d in sorted({r["depth"] for r in mlp}):
        seeds = sorted({r["seed"] for r in mlp if r["depth"] == d})
        inits = sorted({r["init"] for r in mlp if r["depth"] == d} - {reference})
        if (d, reference, seeds[0]) not in key or not inits:
            raise ValueError(f"depth {d}: need {reference!r} and at least one other initialisation")
        per = {}
        for o in inits:
            if quantity == "error":
                adv = [math.log10(key[d, o, s] / key[d, reference, s]) for s in seeds]
            else:
                adv = [key[d, o, s] - key[d, reference, s] for s in seeds]
            per[o] = claims.over_seeds(adv)
        if against == "strongest":
            o = min(per, key=lambda k: (per[k].center, k))
            cases.append((f"depth {d} vs {o} (strongest)", per[o]))
        else:
            cases += [(f"depth {d} vs {o}", m) for o, m in per.items()]
    return Comparison(tuple(cases))


# ----------------------------------------------------------------------------
# the chapter's tables and the claims a scale does not run


def regression_rows(reg_seeds: dict, ratio_seeds: dict, wall: dict, cost_med: dict) -> list[dict]:
    """The per-seed table of section (5): final errors, the iteration ratio, the wall-time ratio
    of the runs to the target timed end to end (:func:`time_to_target`, median of rounds) and,
    labelled as an estimate, the previous edition's iterations x median cost per iteration."""
    rows = []
    for b, infos in ratio_seeds.items():
        for s, i, t in zip(reg_seeds, infos, wall[b], strict=True):
            bound = "> " if i["bound"] == ">" else ""
            never = i["ratio"] is None
            rows.append(
                {
                    "benchmark": b,
                    "seed": s,
                    **{f"{m}_final": float(r.error[-1]) for m, r in reg_seeds[s][b].items()},
                    "e0": i["e0"],
                    "target": i["target"],
                    "k_lsgd": i["k_lsgd"],
                    "k_adam": "never" if i["k_adam"] is None else i["k_adam"],
                    "ratio": "LSGD never" if never else f"{bound}{i['ratio']:.3g}",
                    "lsgd_ms": None if t is None else 1e3 * t["seconds"]["LSGD"],
                    "adam_ms": None if t is None else 1e3 * t["seconds"]["Adam"],
                    "time_ratio": "LSGD never"
                    if t is None
                    else f"{bound}{float(np.median(t['ratios'])):.3g}",
                    "estimate": "LSGD never" if never else f"{bound}{i['ratio'] / cost_med[b]:.3g}",
                }
            )
    return rows


def not_run_reason(cid: str, scale: str, lp: LayerParallelConfig, ls: LSGDConfig) -> str:
    """Why scale ``scale`` (settings ``lp``, ``ls``) does not measure declared claim ``cid``: the
    reason its rule's "not testable here" precondition is recorded with.  Raises ``ValueError``
    for a claim that every scale measures (then its absence is a defect, not a precondition)."""
    benches = [LS.benchmark(n, ls.osc_k).name for n in ls.benchmarks]
    if cid.startswith(("speedup-forward-N", "speedup-backward-N")):
        if int(cid.rsplit("-N", 1)[1]) not in lp.timing_depths:
            return f"scale {scale!r} times depths {', '.join(map(str, lp.timing_depths))} only"
    if cid.startswith("training-lbfgs-") and not lp.lbfgs_steps:
        return f"scale {scale!r} runs no L-BFGS training (lbfgs_steps = 0)"
    if cid == "mgrit-training-equals-serial" and not lp.exact_steps:
        return f"scale {scale!r} runs no serial-equals-parallel check (exact_steps = 0)"
    for prefix in ("lsgd-vs-adam-", "lsgd-walltime-", "lsgd-accuracy-"):
        if cid.startswith(prefix) and cid[len(prefix) :] not in benches:
            return f"scale {scale!r} runs the benchmarks {', '.join(benches)} only"
    for prefix in ("pinn-lsgd", "pinn-rate"):
        if cid.startswith(prefix):
            pr = cid[len(prefix) + 1 :] or "sin"
            if pr not in ls.pinn_problems:
                return (
                    f"scale {scale!r} runs the Poisson problems {', '.join(ls.pinn_problems)} only"
                )
    raise ValueError(f"claim {cid!r} is measured at every scale: its absence is a defect")
