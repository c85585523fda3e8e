"""Chapter 01: MAGIC's width selected on a validation split of the training data (issue 23 a).

``test-accuracy-magic`` holds "given appropriate hidden unit numbers".  Declared protocol (before
measuring): on the first MAGIC seed, MAGIC's *training* split is divided into a selection-train
part and a validation part (stratified, :data:`VALIDATION_FRACTION`, seeded by the seed plus
:data:`SPLIT_OFFSET`; the test split is never touched).  For each width of ``Config.select_widths``
the Tables' ODE part runs on the selection-train part (the network at initialisation, its
linearisation, one BDF solve to the Tables' thresholds at the Tables' learning rate and
tolerances), and the score is the *solver network's* validation accuracy (the network at
``theta_0 + delta theta``) at the highest threshold the solve reached.  The best score wins, ties
going to the smaller width (:func:`fasttrain.core.selection.on_grid`); a width whose solve failed
(``diverged``) or reached no threshold (``unreached``) is kept as a row and never chosen.

At the chosen width the Tables' MAGIC seeds give GD's and the solver network's test accuracies:
the Tables' own rows when the chosen width is the Tables' width (no re-run), else the
test-accuracy part of :func:`~.tables.time_to_accuracy` (:func:`~.tables.test_accuracies`: the
same BDF solve and GD run to the same highest common threshold, untimed, GD stopping at the
highest threshold the ODE reached) per seed at the chosen width.

The features were standardised with the statistics of the whole training split (the loader's),
validation part included: unlabelled feature means and deviations only, never the test split's.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable

import numpy as np

from ...core import data as data_mod
from ...core import timing
from ...core.progress import progress_bar
from ...core.selection import AllDiverged, on_grid
from ...methods import linearized as L
from .configs import Config, load
from .networks import _lin_test_acc, _net_test_acc, make_setup
from .tables import test_accuracies

#: the share of MAGIC's training split held out for validation (stratified)
VALIDATION_FRACTION = 0.2
#: the validation split's seed is the selection seed plus this (another draw than the test split's)
SPLIT_OFFSET = 23


def selection_split(ds, fraction: float = VALIDATION_FRACTION, seed: int = 0):
    """``ds``'s *training* split divided into a selection-train part (``x_train``) and a
    validation part (``x_test``), stratified and fixed by ``seed``; ``ds``'s test split is not
    used."""
    tr, va = data_mod.stratified_split(np.asarray(ds.y_train), fraction, seed)
    return data_mod.Dataset(
        f"{ds.name} (selection)",
        ds.x_train[tr],
        ds.y_train[tr],
        ds.x_train[va],
        ds.y_train[va],
        ds.classes,
    )


def score_width(sel, width: int, cfg: Config, seed: int) -> dict:
    """One candidate: the Tables' ODE part at ``width`` on ``sel``'s selection-train part; the
    score is the solver network's accuracy on ``sel``'s validation part (``x_test``) at the
    highest threshold reached (``NaN`` when none was reached)."""
    t0 = time.perf_counter()
    su = make_setup(sel, width, cfg.activation, seed)
    with timing.pinned_blas():
        odes = L.solve_to_thresholds(
            su.problem(cfg.lr), cfg.t_max, cfg.thresholds, space=su.space, rtol=cfg.rtol,
            atol=cfg.atol,
        )  # fmt: skip
    reached = [o for o in odes if o.reached]
    row = {
        "threshold": None,
        "t_event": None,
        "lin_val_acc": None,
        "space": su.space,
        "unknowns": int(su.J.shape[1] if su.space == "parameter" else su.f0.size),
    }
    if not reached:
        score = math.nan
    else:
        last = reached[-1]
        score = _net_test_acc(su, last.dtheta)
        row.update(
            threshold=last.threshold,
            t_event=last.t_event,
            lin_val_acc=_lin_test_acc(su, last.dtheta),
        )
    return {"score": score, **row, "cost_s": time.perf_counter() - t0}


def select_width(
    widths: Iterable[int], score: Callable[[int], dict], progress: bool = False
) -> tuple[list[dict], int | None]:
    """Score every width and choose the best validation score, ties to the smaller width.

    Every candidate is a row (``width``, ``score`` = validation accuracy, ``status``, and the
    columns ``score`` returns): a solve that failed is ``"diverged: <message>"``, one that
    reached no threshold (a ``NaN`` score) ``"unreached"``; neither is chosen.  ``chosen`` is
    ``None`` when no width has a score (the rows are kept all the same)."""
    widths = tuple(int(w) for w in widths)
    seen: dict[int, object] = {}
    bar = progress_bar(total=len(widths), desc="width selection (MAGIC)", enabled=progress)

    def one(w):
        try:
            seen[w] = got = score(w)
        except L.SolverError as exc:
            seen[w] = exc
            raise
        finally:
            bar.update(1)
        return got

    try:
        rows, chosen = on_grid(widths, one, higher=True, diverged=(L.SolverError,), what="width")
    except AllDiverged:
        rows, chosen = [_failed(w, seen[w]) for w in widths], None
    finally:
        bar.close()
    return [_named(r) for r in rows], chosen


def _failed(w: int, got) -> dict:
    if isinstance(got, BaseException):
        return {"value": w, "score": None, "status": f"diverged: {got}"}
    return {**got, "value": w, "score": None, "status": "diverged"}


def _named(r: dict) -> dict:
    r = dict(r)
    r["width"] = int(r.pop("value"))
    if r["status"] == "diverged" and "threshold" in r and r["threshold"] is None:
        r["status"] = "unreached"
    return r


def width_selection_study(cfg: Config, seed: int, tables, progress: bool = False) -> dict | None:
    """The declared protocol end to end (``None`` when the scale runs no MAGIC).

    Returns ``{"seed", "grid", "n_select", "n_validation", "rows" (one per width), "chosen",
    "tables_width", "reused", "tables" (rows with ``seed`` and the test accuracies at the chosen
    width: the Tables' own MAGIC rows when ``reused``, else :func:`~.tables.test_accuracies`,
    the test-accuracy part of the Tables' protocol, per Tables' MAGIC seed), "select_s", "rerun_s"}``."""
    d = next((d for d in cfg.datasets if d.name == "magic"), None)
    if d is None:
        return None
    s0 = seed + d.seeds[0]
    ds = load(d.name, s0, d.n_train, cfg.test_fraction)
    sel = selection_split(ds, VALIDATION_FRACTION, s0 + SPLIT_OFFSET)
    t0 = time.perf_counter()
    rows, chosen = select_width(
        cfg.select_widths, lambda w: score_width(sel, w, cfg, s0), progress=progress
    )
    select_s = time.perf_counter() - t0
    out = {
        "seed": s0,
        "grid": list(cfg.select_widths),
        "n_select": len(sel.y_train),
        "n_validation": len(sel.y_test),
        "rows": rows,
        "chosen": chosen,
        "tables_width": d.width,
        "reused": chosen == d.width,
        "tables": [],
        "select_s": select_s,
        "rerun_s": 0.0,
    }
    if chosen is None:
        return out
    if chosen == d.width:
        out["tables"] = [r for r in tables if r["data"] == d.name]
        return out
    t0 = time.perf_counter()
    for off in progress_bar(d.seeds, desc=f"MAGIC at width {chosen}", enabled=progress):
        s = seed + off
        su = make_setup(load(d.name, s, d.n_train, cfg.test_fraction), chosen, cfg.activation, s)
        got = test_accuracies(
            su, cfg.lr, cfg.thresholds, cfg.gd_max_steps, cfg.t_max, cfg.rtol, cfg.atol,
            cfg.gd_chunk,
        )  # fmt: skip
        out["tables"] += [dict(r, seed=s) for r in got]
    out["rerun_s"] = time.perf_counter() - t0
    return out


#: the candidates table's columns (old name -> header), for ``readable``
CANDIDATE_COLUMNS = {
    "width": "width",
    "status": "status",
    "threshold": "highest training accuracy reached (selection-train part)",
    "score": "network at ODE parameters: validation accuracy (the score)",
    "lin_val_acc": "linear model: validation accuracy",
    "unknowns": "ODE unknowns",
    "cost_s": "set-up and solve (s)",
}


def candidates_table(ws: dict | None) -> list[dict]:
    """The candidates' rows for the chapter's table (every width, the chosen one marked; none
    when the scale runs no MAGIC)."""
    if ws is None:
        return []
    return [
        {
            "width": r["width"],
            "status": r["status"] + (" (chosen)" if r["width"] == ws["chosen"] else ""),
            "threshold": r.get("threshold"),
            "score": r["score"],
            "lin_val_acc": r.get("lin_val_acc"),
            "unknowns": r.get("unknowns"),
            "cost_s": r.get("cost_s"),
        }
        for r in ws["rows"]
    ]
