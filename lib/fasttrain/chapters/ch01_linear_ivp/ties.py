"""Chapter 01: the ties of GD with the solvers per seed, their summaries over seeds, and the sweep on
raw Banknote features (the learning rates the paper's speed-up implies).

Moved from the chapter's cells unchanged in behaviour; they take the protocols' rows (lists of
dicts) and return rows, so the chapter tabulates them and :mod:`.text` quotes them.
"""

from __future__ import annotations

import math

from ...core import claims
from ...core import data as data_mod
from .configs import load_banknote_unstandardised
from .learning_rates import (
    crossing,
    crossing_words,
    gd_sweep,
    lr_sweep,
    pair_words,
    route_time,
    ties_of,
)
from .networks import make_setup

#: the training accuracy of the learning-rate sweep (and of the ties) per data set
SWEEP_THRESHOLD = {"banknote": 0.90, "magic": 0.80}
#: the interpolated learning rates per seed, and their column names
TIE_KEYS = {
    "tie_bdf": "η where GD = BDF",
    "tie_fast": "η where GD = fastest route",
    "lr_15": "η for speed-up 1.5x",
    "lr_25": "η for speed-up 2.5x",
}


def _num(x):
    """A float, or ``None`` for ``None``/NaN."""
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _agreeing(solver_rows, name: str, thr: float):
    return [
        r
        for r in solver_rows
        if r["data"] == name and r["loss"] == "ce" and r["threshold"] == thr and r["agrees"]
    ]


def fastest_route_time(solver_rows, name: str, thr: float) -> float | None:
    """The solver study's fastest correct route's median solve time (cross-entropy), or ``None``."""
    got = [_num(r["median_s"]) for r in _agreeing(solver_rows, name, thr)]
    got = [x for x in got if x is not None]
    return min(got) if got else None


def fastest_route(solver_rows, name: str, thr: float) -> str | None:
    """The name of the solver study's fastest correct route (cross-entropy), or ``None``."""
    got = [r for r in _agreeing(solver_rows, name, thr) if _num(r["median_s"]) is not None]
    return min(got, key=lambda r: r["median_s"])["route"] if got else None


def ties_per_seed(cfg, seed: int, setups, tables, sweeps, solver_rows) -> list[dict]:
    """Per tie seed of every data set: BDF's Tables' solve time, the fastest route's time on that
    seed, GD's learning-rate sweep (the sweep ``sweeps`` reused on seed ``seed``) and the
    interpolated learning rates of :func:`.learning_rates.ties_of`."""
    out = []
    for d in cfg.datasets:
        thr = SWEEP_THRESHOLD[d.name]
        route = fastest_route(solver_rows, d.name, thr)
        for off in d.tie_seeds:
            s = seed + off
            su = setups[d.name, s]
            tab = next(
                r
                for r in tables
                if r["data"] == d.name and r["seed"] == s and r["threshold"] == thr
            )
            t_star = _num(tab.get("ode_t"))
            bdf_s = None if t_star is None else _num(tab.get("ode_solve"))
            if off == d.seeds[0]:  # the sweep, on seed `seed`
                sub = [r for r in sweeps if r["data"] == d.name]
                lrs, gd_t = [r["lr"] for r in sub], [_num(r.get("gd_time")) for r in sub]
            else:
                tau = None if t_star is None else t_star * cfg.lr
                rows = gd_sweep(su, cfg.lr_grid, thr, tau, cfg.sweep_max_steps, cfg.gd_chunk)
                lrs, gd_t = [r["lr"] for r in rows], [r["gd_time"] for r in rows]
            if route is None or t_star is None:
                fast_s = None
            elif route == "BDF":
                fast_s = bdf_s
            else:
                fast_s, agrees = route_time(
                    su,
                    cfg.lr,
                    route,
                    thr,
                    cfg.t_max,
                    cfg.rtol,
                    cfg.atol,
                    cfg.explicit_cap_s,
                    t_star,
                )
                fast_s = fast_s if agrees else None
            out.append(
                {
                    "data": d.name,
                    "seed": s,
                    "threshold": thr,
                    "bdf": bdf_s,
                    "route": route or "–",
                    "fast": fast_s,
                    "gd_fastest": min((x for x in gd_t if x is not None), default=None),
                    **ties_of(lrs, gd_t, bdf_s, fast_s),
                }
            )
    return out


def tie_summary(tie_rows, name: str, key: str, grid) -> dict:
    """One interpolated learning rate of ``name`` over its tie seeds: values, mean ± sd text,
    where it crossed, and words for the prose."""
    sub = [r for r in tie_rows if r["data"] == name]
    got = [(int(r["seed"]), float(r[key])) for r in sub if _num(r[key]) is not None]
    missing = [int(r["seed"]) for r in sub if _num(r[key]) is None]
    m = claims.over_seeds([v for _, v in got]) if got else None
    where = f"{len(got)}/{len(sub)} seeds"
    if missing:
        where += "; none inside the grid on seed" + ("s " if len(missing) > 1 else " ")
        where += ", ".join(str(s) for s in missing)
    return {
        "values": [v for _, v in got],
        "text": "–" if m is None else m.text(".2g"),
        "where": where,
        "words": crossing_words(
            [v for _, v in got], missing, len(sub), grid, None if m is None else m.text(".2g")
        ),
    }


def tie_summaries(tie_rows, grid) -> list[dict]:
    """:func:`tie_summary` of every key of :data:`TIE_KEYS`, per data set (in the rows' order)."""
    out = []
    for name in dict.fromkeys(r["data"] for r in tie_rows):
        row = {
            "data": name,
            "threshold": next(r for r in tie_rows if r["data"] == name)["threshold"],
        }
        for key in TIE_KEYS:
            row[key] = tie_summary(tie_rows, name, key, grid)
        out.append(row)
    return out


def tie_table(ties) -> list[dict]:
    """The summaries as table rows (one per data set and quantity)."""
    return [
        {"data": r["data"], "quantity": TIE_KEYS[k], "value": r[k]["text"], "seeds": r[k]["where"]}
        for r in ties
        for k in TIE_KEYS
    ]


def raw_sweep(cfg, s: int) -> list[dict]:
    """The learning-rate sweep on raw Banknote features, seed ``s`` (split and network), sorted by
    the learning rate."""
    d0 = cfg.datasets[0]
    ds_raw = load_banknote_unstandardised(s, cfg.test_fraction)
    if d0.n_train is not None:
        ds_raw = data_mod.Dataset(
            ds_raw.name,
            ds_raw.x_train[: d0.n_train],
            ds_raw.y_train[: d0.n_train],
            ds_raw.x_test,
            ds_raw.y_test,
            ds_raw.classes,
        )
    su_raw = make_setup(ds_raw, d0.width, cfg.activation, s)
    rows = lr_sweep(
        su_raw,
        cfg.lr_grid,
        SWEEP_THRESHOLD["banknote"],
        cfg.sweep_max_steps,
        cfg.t_max * cfg.lr,
        cfg.rtol,
        cfg.atol,
        cfg.gd_chunk,
    )
    return sorted(({"seed": s, **r} for r in rows), key=lambda r: r["lr"])


def raw_crossings(raw_rows) -> list[dict]:
    """Per seed of the raw-feature sweep: the learning rates at 1.5× and 2.5× (interpolated) and
    the guaranteed-stable rate."""
    out = []
    for s in sorted({r["seed"] for r in raw_rows}):
        sub = [r for r in raw_rows if r["seed"] == s]
        lrs = [r["lr"] for r in sub]
        sp = [_num(r.get("speedup_solve")) for r in sub]
        safe = [_num(r.get("lr_safe")) for r in sub if _num(r.get("lr_safe")) is not None]
        out.append(
            {
                "seed": int(s),
                "lr_15": crossing(lrs, sp, 1.5),
                "lr_25": crossing(lrs, sp, 2.5),
                "lr_safe": safe[0] if safe else None,
            }
        )
    return out


def _raw_words(raw_cross, key: str, grid) -> str:
    got = [(r["seed"], float(r[key])) for r in raw_cross if _num(r[key]) is not None]
    missing = [r["seed"] for r in raw_cross if _num(r[key]) is None]
    m = claims.over_seeds([v for _, v in got]) if len(got) > 1 else None
    return crossing_words(
        [v for _, v in got], missing, len(raw_cross), grid, None if m is None else m.text(".2g")
    )


def implied_lr_text(raw_cross, ties, grid) -> str:
    """The learning rates at which GD / BDF would be the paper's 1.5× and 2.5× on Banknote, with
    standardised features (over the tie seeds) and with raw features (over the Tables' seeds)."""
    words = {k: _raw_words(raw_cross, k, grid) for k in ("lr_15", "lr_25")}
    safe = [r["lr_safe"] for r in raw_cross if _num(r["lr_safe"]) is not None]
    raw_text = (
        f"with raw features (over {len(raw_cross)} seeds) "
        + pair_words("1.5×", words["lr_15"], "2.5×", words["lr_25"], " and ")
    ) + (
        ""
        if not safe
        else " (guaranteed-stable rate "
        + "–".join(dict.fromkeys(f"{v:.2g}" for v in (min(safe), max(safe))))
        + " over the seeds)"
    )
    std = next(r for r in ties if r["data"] == "banknote")
    std_text = "with standardised features (over seeds) " + pair_words(
        "1.5×", std["lr_15"]["words"], "2.5×", std["lr_25"]["words"], " and "
    )
    return f"{std_text}; {raw_text}"
