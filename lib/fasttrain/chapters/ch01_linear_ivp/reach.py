"""Chapter 01: can gradient descent reach 0.95 on MAGIC?"""

from __future__ import annotations

from functools import partial

import jax

from ...core import timing
from ...core.errors import DivergenceError
from ...methods import linearized as L
from ...methods.gradient_descent import full_batch_gd


def gd_reach(
    ds, grid, activation: str, seed: int, max_steps: int, chunk: int = 100, width_ref: int = 64
):
    """Highest training accuracy GD reaches within ``max_steps``, per (width, multiplier c).

    ``grid``: ``((width, (c, ...)), ...)``; the learning rate is ``c * width_ref / width``: in the
    standard parameterisation the NTK, and with it GD's stability limit, grows about linearly with
    the width. A run stops at divergence or on reaching 0.95. Each row also holds the highest
    accuracy up to 1/3 and 2/3 of the budget (is it still rising at the end?).
    """
    rows = []
    marks = (max_steps // 3, 2 * max_steps // 3)
    for w, cs in grid:
        params0 = L.init_two_layer(jax.random.PRNGKey(seed), ds.x_train.shape[1], w, 2)
        apply = partial(L.two_layer, activation=activation)
        for c in cs:
            lr = c * width_ref / w
            row = {"seed": seed, "width": w, "c": c, "lr": lr}
            try:
                with timing.pinned_blas():
                    gd = full_batch_gd(
                        apply,
                        params0,
                        ds.x_train,
                        ds.y_train,
                        lr,
                        max_steps,
                        (0.90, 0.95),
                        chunk=min(chunk, max_steps),
                        diverge_factor=10.0,
                    )
                acc = gd.train_accuracy
                row.update(
                    stable=True,
                    best_acc=float(acc.max()),
                    steps=gd.steps,
                    steps_090=gd.steps_to[0.90],
                    steps_095=gd.steps_to[0.95],
                    best_at_third=float(acc[: marks[0]].max()),
                    best_at_two_thirds=float(acc[: marks[1]].max()),
                    last_chunk_mean=float(acc[-min(chunk, len(acc)) :].mean()),
                    run_s=gd.run_time,
                )
            except DivergenceError:
                row.update(stable=False, best_acc=None, steps=None, steps_090=None, steps_095=None)
            rows.append(row)
    return rows


def pick_reach_config(rows) -> tuple[int, float] | None:
    """The declared selection of ``magic-095-reachable``: the stable (width, c) with the highest
    training accuracy on the selection seed; ties go to the smaller width, then the smaller c.
    ``None`` if every configuration diverged."""
    ok = [r for r in rows if r["stable"]]
    if not ok:
        return None
    top = min(ok, key=lambda r: (-r["best_acc"], r["width"], r["c"]))
    return top["width"], top["c"]


def magic_reach_study(load_seed, grid, activation: str, seeds, max_steps: int, chunk: int = 100):
    """Can GD reach 0.95 on MAGIC? The whole ``grid`` on ``seeds[0]`` (selection), then the
    configuration :func:`pick_reach_config` chose on each further seed (each seed its own split,
    ``load_seed(seed)``, and its own initial network). Returns ``(rows, chosen)``.
    """
    first = gd_reach(load_seed(seeds[0]), grid, activation, seeds[0], max_steps, chunk)
    rows = [dict(r, stage="selection") for r in first]
    chosen = pick_reach_config(first)
    if chosen is None:
        return rows, None
    w, c = chosen
    for s in seeds[1:]:
        more = gd_reach(load_seed(s), ((w, (c,)),), activation, s, max_steps, chunk)
        rows += [dict(r, stage="chosen") for r in more]
    return rows, chosen
