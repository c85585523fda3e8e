"""Chapter 02: evidence for the declared claims (what the chapter hands
``ChapterResults.record_all``) and the settings table.
"""

from __future__ import annotations

import math

import numpy as np

from ...core import claims
from ...core.claims import Measurement
from ...core.results import Evidence
from .configs import Config
from .step_timing import round_exponents

# ---------------------------------------------------------------------------
# evidence for the declared claims (what the chapter hands ChapterResults.record_all)
# ---------------------------------------------------------------------------


def generalization_evidence(rows, cfg: Config, per_seed_s: float | None = None) -> Evidence:
    """``no-worse-generalization``: per seed, the worse test error of exact GN and the fast step
    minus GD's, as the mean over seeds with its t-interval; ``per_seed_s``: the measured cost of
    one more seed (said in the reason: more seeds narrow the interval)."""
    gap = [max(r["gn"], r["fast"]) - r["gd"] for r in rows]
    more = (
        f"; each further seed (its GD and Gauss-Newton runs) costs ≈ {per_seed_s:.0f} s"
        if per_seed_s is not None
        else ""
    )
    return Evidence(
        claims.over_seeds(gap),
        reason=f"seeds {[r['seed'] for r in rows]}: test error GD {_vals([r['gd'] for r in rows], '.3f')}, "
        f"exact GN {_vals([r['gn'] for r in rows], '.3f')}, fast {_vals([r['fast'] for r in rows], '.3f')} "
        f"on {rows[0]['n_test']} test images; n = {cfg.n} training images, m = {cfg.m}; GD after "
        f"{cfg.conv_gd_iters} steps at {_vals([r['gd_train_residual'] for r in rows], '.2g')} of its "
        "initial training residual, GN and the fast step to the float64 floor" + more,
    )


def _vals(values, fmt=".2g") -> str:
    return ", ".join(format(float(v), fmt) for v in values)


def convergence_evidence(rows, cfg: Config) -> dict:
    """Evidence of the convergence claims from :func:`seed_summary` ``rows``: the contraction claims
    and ``fast-equals-gn`` / ``kron-equals-gn`` on the worst seed (:func:`every_case` rules: one
    value per seed, the largest over the run's steps, or over iterations and both data sets)."""
    out = {}
    for data in ("synthetic", "mnist-3v5"):
        sub = [r for r in rows if r["data"] == data]
        vals = [r["fast_max"] for r in sub]
        steps = [r["steps"] for r in sub]
        first = [r["fast_first"] for r in sub]
        out[f"contraction-{data}"] = Evidence(
            claims.worst_case(vals, higher=False),
            reason=f"seeds {[r['seed'] for r in sub]}: largest contraction per seed {_vals(vals)} "
            f"over {min(steps)}–{max(steps)} steps above the float64 floor (first step "
            f"{min(first):.2g}–{max(first):.2g}); n={cfg.n}, m={cfg.m}",
        )
    seeds = list(dict.fromkeys(r["seed"] for r in rows))
    for key, cid, what in (
        ("deviation", "fast-equals-gn", f"CG to relative residual {cfg.cg_tol:g}, s = 4n"),
        (
            "kron_deviation",
            "kron-equals-gn",
            f"Kronecker sketch, s = {cfg.kron_sketch_factor:g}n, QR factor, CG to {cfg.cg_tol:g}",
        ),
    ):
        dev = [max(r[key] for r in rows if r["seed"] == s) for s in seeds]
        out[cid] = Evidence(
            claims.worst_case(dev, higher=False),
            reason=f"{what}, both data sets, seeds {seeds}: per seed {_vals(dev, '.2g')}",
        )
    return out


def lambda_evidence(
    gd_rows, gn_sweeps, sign_sweeps, lam_rows, cfg: Config, seeds, lambda_seeds
) -> dict:
    """Evidence of the conditioning claims: GD's exponent (mean over ``seeds``, from
    :func:`gd_lambda_seeds` records), exact GN's flatness (worst of ``lambda_seeds``) and width
    requirement (shares of ``lambda_seeds``, from :func:`gn_lambda_seeds`), and the preconditioned
    condition number (worst sketch draw, from :func:`conditioning_study` ``lam_rows``)."""
    out = {}
    fitted = [(r["seed"], r["exponent"]) for r in gd_rows if r["exponent"] is not None]
    fitted = [(s, p) for s, p in fitted if math.isfinite(p)]
    lam = [r["lambda_min"] for r in lam_rows]
    gd_its = ["–" if r["gd_iters"] is None else str(r["gd_iters"]) for r in lam_rows]
    if len(fitted) >= 2:
        out["gd-iterations-vs-lambda"] = Evidence(
            claims.over_seeds([p for _, p in fitted]),
            reason=f"seeds {[s for s, _ in fitted]}: exponents {_vals([p for _, p in fitted], '.2f')}"
            f"; GD iterations to {cfg.eps_target:g} over λ = {min(lam):.2g}–{max(lam):.2g} (seed "
            f"{seeds[0]}): {', '.join(gd_its)}, budget {cfg.gd_iters}; the bound's λ⁻² is an upper "
            "bound, GD at step 1/λ_max follows cond(G)",
        )
    else:
        out["gd-iterations-vs-lambda"] = claims.Unavailable(
            f"GD reached the target at two or more λ on only {len(fitted)} seed(s) of {len(seeds)}"
        )
    lam_range = min(sw.lambda_range for sw in list(gn_sweeps) + list(sign_sweeps))
    its = "; ".join(
        ", ".join("–" if i is None else str(i) for i in sw.iterations) for sw in gn_sweeps
    )
    out["gn-iterations-vs-lambda"] = Evidence(
        claims.worst_case([sw.exponent for sw in gn_sweeps], higher=False),
        reason=f"seeds {list(lambda_seeds)}: iterations {its} (a miss counted as {cfg.iters + 1}); "
        f"at fixed width m={cfg.eps_m}",
        context={"lambda_range": lam_range},
    )
    k_ord = sum(sw.ordered_failures for sw in sign_sweeps)
    k_small = sum(sw.fails_smallest for sw in sign_sweeps)
    out["gn-width-requirement"] = Evidence(
        claims.share(k_ord, len(sign_sweeps)),
        reason=f"seeds {list(lambda_seeds)}: runs failing "
        + ", ".join(f"{sum(sw.failed)}/{len(sw.failed)}" for sw in sign_sweeps)
        + f"; ordered by λ in {k_ord} of {len(sign_sweeps)}; undamped GN at m = {cfg.eps_m}, "
        "random-sign labels",
        context={
            "fails_smallest": claims.share(k_small, len(sign_sweeps)),
            "lambda_range": lam_range,
        },
    )
    draws = np.array([r["cond_preconditioned_draws"] for r in lam_rows])  # λ x draws
    worst_per_draw = draws.max(axis=0)
    cond_g = [r["cond_G"] for r in lam_rows]
    pcg = [r["fast_pcg_iters_first"] for r in lam_rows]
    cg = [r["cg_iters_first"] for r in lam_rows]
    out["preconditioned-condition-number"] = Evidence(
        claims.worst_case(worst_per_draw, higher=False, of="sketch draws"),
        reason=f"{len(worst_per_draw)} sketch draws, per draw {_vals(worst_per_draw, '.3g')}; "
        f"cond(G) {min(cond_g):.2g}–{max(cond_g):.2g}; PCG iterations {min(pcg)}–{max(pcg)}, "
        f"plain CG {min(cg)}–{max(cg)}",
        context={"cond_g_range": max(cond_g) / min(cond_g)},
    )
    return out


def pcg_evidence(sketch_row: dict, cfg: Config) -> Evidence:
    """``pcg-iterations`` from the :func:`sketch_study` row at the default sketch size: the worst of
    its sketch draws."""
    d = [float(v) for v in sketch_row["pcg_iters_draws"]]
    return Evidence(
        claims.worst_case(d, higher=False, of="sketch draws"),
        reason=f"{len(d)} sketch draws: {_vals(d, 'g')}; plain CG {int(sketch_row['cg_iters'])} "
        f"iterations; preconditioned cond {sketch_row['cond_pre_median']:.2g}; synthetic data, "
        f"n={cfg.n}",
    )


def rate_evidence(rows, cfg: Config) -> dict:
    """``rate-independent-of-n`` (the worst seed's extra iterations, a miss counted as budget + 1)
    and ``cg-degrades`` (geometric mean of plain CG / PCG over seeds) from :func:`rate_vs_n` rows
    of every seed."""
    n_lo, n_hi = min(cfg.rate_n_sweep), max(cfg.rate_n_sweep)
    miss = cfg.iters + 1
    at = {(r["seed"], r["n"]): r for r in rows}
    seeds = list(dict.fromkeys(r["seed"] for r in rows))

    def its(s, n):
        v = at[(s, n)]["gn_iters"]
        return miss if v is None or v != v else v  # None or NaN (from a DataFrame): a miss

    extra = [float(its(s, n_hi) - its(s, n_lo)) for s in seeds]
    ratio = [at[(s, n_hi)]["cg_iters"] / at[(s, n_hi)]["pcg_iters"] for s in seeds]
    lam = [r["lambda_min"] for r in rows]
    return {
        "rate-independent-of-n": Evidence(
            claims.worst_case(extra, higher=False),
            reason=f"exact GN iterations to {cfg.rate_eps:g} at n = {n_hi} minus at n = {n_lo} "
            f"(m = {cfg.rate_m_factor} n, teacher labels), seeds {seeds}: {_vals(extra, 'g')}; "
            f"λ_min {min(lam):.2g}–{max(lam):.2g} over the sweep",
        ),
        "cg-degrades": Evidence(
            claims.over_seeds(ratio, log=True),
            reason=f"first solve at n = {n_hi} to {cfg.cg_tol:g}: plain CG "
            f"{[at[(s, n_hi)]['cg_iters'] for s in seeds]}, PCG (Kronecker, s = "
            f"{cfg.kron_sketch_factor:g}n) {[at[(s, n_hi)]['pcg_iters'] for s in seeds]}; at "
            f"n = {n_lo}: plain CG {[at[(s, n_lo)]['cg_iters'] for s in seeds]}",
        ),
    }


def exponent_fits(rows, method: str, axis: str = "n", keep=None) -> Measurement:
    """Per-round fitted exponents of ``method``'s :func:`time_size` rows along ``axis`` (``keep``:
    a predicate on a row selecting the sizes), as the median with its 95 % interval."""
    sub = [r for r in rows if r["axis"] == axis and r["method"] == method]
    if keep is not None:
        sub = [r for r in sub if keep(r)]
    return claims.over_rounds(round_exponents(sub, axis))


def settle_cost(seconds_per_round: float, rounds: int, target: int = 9) -> str:
    """What would settle a timing verdict whose interval straddles its bar, and its cost: ``target``
    rounds instead of ``rounds`` (9 narrow the 95 % interval of the median from [min, max] to
    [x(2), x(8)]) at ``seconds_per_round`` each."""
    r, s_, _ = claims.median_ranks(target)
    extra = max(target - rounds, 0) * seconds_per_round
    return (
        f"if the interval straddles a bar, {target} rounds (interval [x({r}), x({s_})]) instead of "
        f"{rounds} would narrow it, for ≈ {extra:.0f} s more"
    )


def settings_rows(cfg: Config, seeds, lambda_seeds) -> list[tuple[str, str]]:
    """The chapter's settings table at one scale: ``(setting, value)`` rows."""

    def join(v):
        return ", ".join(map(str, v))

    return [
        ("points n, width m, input dimension d (convergence runs)", f"{cfg.n}, {cfg.m}, {cfg.d}"),
        (
            "Gauss-Newton iterations; GD iterations (runs / λ study)",
            f"{cfg.iters}; {cfg.conv_gd_iters} / {cfg.gd_iters}",
        ),
        (
            "sketch rows s / n: paper's SRHT; Kronecker sketch",
            f"{cfg.sketch_factor:g}; {cfg.kron_sketch_factor:g}",
        ),
        ("seeds (convergence runs, GD's λ sweep, n study)", join(seeds)),
        ("seeds (exact GN's λ sweeps)", join(lambda_seeds)),
        ("sketch draws per condition number and PCG count", str(cfg.sketch_draws)),
        (
            "λ study: points, width, spreads ε",
            f"{cfg.eps_n}, {cfg.eps_m}, {', '.join(f'{e:g}' for e in cfg.eps_sweep)}",
        ),
        (
            f"n study: points n (width m = {cfg.rate_m_factor} n, d = {cfg.rate_d}), target ε",
            f"{join(cfg.rate_n_sweep)}; {cfg.rate_eps:g}",
        ),
        ("timing: n sweep (at width m)", f"{join(cfg.n_sweep)} (m = {cfg.sweep_m})"),
        ("timing: m sweep (at n points)", f"{join(cfg.m_sweep)} (n = {cfg.sweep_n})"),
        (
            "timing: input dimension d; interleaved rounds per size",
            f"{cfg.sweep_d}; {cfg.timing_repeats} after a warm-up call of each step "
            f"({cfg.timing_rounds_large} from n = {cfg.large_n}; the paper's step up to n = "
            f"{cfg.fast_max_n or max(cfg.n_sweep)})",
        ),
        (
            "interleaved rounds: preconditioner builds; bandwidth study",
            f"{cfg.build_rounds}; {cfg.bandwidth_rounds} (each after a warm-up call)",
        ),
        (
            "triangular factor applied as: fast steps' preconditioner; exact GN's solve",
            f"{cfg.precond_apply}; {cfg.solve_apply}",
        ),
    ]
