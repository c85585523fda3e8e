"""Chapter 02: the declared claims (``CLAIMS``: the paper's words, value, location, kind, rule) and
the smoke run's regression reference.
"""

from __future__ import annotations

from ...core import claims, reference
from ...core.claims import ClaimSpec
from .paper import ABSTRACT, OUTSIDE_SEED
from .rules import (
    BANDWIDTH_BAR,
    CG_TOL,
    PCG_BAR,
    both_linear_in_m,
    every_case,
    fails_below_some_lambda,
    gn_iterations_flat,
    graded,
    memory_bound_at_bandwidth,
    preconditioned_bounded,
    stages_follow_laws,
)


def _contraction_spec(data: str, words: str) -> ClaimSpec:
    return ClaimSpec(
        id=f"contraction-{data}",
        kind="paper",
        claim=f"the fast step contracts the residual by at least 1/2 per iteration ({words})",
        where="main theorem (the factor 1/2 is " + OUTSIDE_SEED + "); abstract (the rate in words)",
        paper_value=0.5,
        unit="largest ‖f_{t+1}−y‖/‖f_t−y‖ of a run; the worst seed decides",
        rule=every_case(
            0.5,
            name="halves-every-step",
            source="the theorem's ‖f_{t+1} − y‖ ≤ ½‖f_t − y‖ for every step of every run: each "
            "seed's largest contraction must be ≤ 1/2, and one seed above it refutes the claim "
            "(until the 2026-12-07 edition: the t-interval of the mean over seeds, under which a "
            "seed at 0.81 read as inconclusive)",
        ),
        paper_words=ABSTRACT["rate"],
        notes="The factor 1/2 is the paper's main theorem (arXiv 2006.11648); the stored text of "
        "the paper is its abstract, which states the λ- and n-independent rate in words.",
    )


def _same_residuals(name: str, of: str) -> claims.Rule:
    return every_case(
        1e-3,
        name=name,
        source=f"{of}: residuals within 0.1 % of exact GN's at every iteration (CG to 1e-8), for "
        "every seed: each seed's largest |log(r / r_GN)| must be ≤ 1e-3, and one seed above it "
        "refutes the claim (until the 2026-12-07 edition: the t-interval of the mean over seeds, "
        "which reached below zero for this non-negative quantity and let a seed at 1.02e-3 pass)",
    )


CLAIMS = claims.declare(
    _contraction_spec("synthetic", "synthetic data"),
    _contraction_spec("mnist-3v5", "MNIST 3 vs 5"),
    ClaimSpec(
        id="fast-equals-gn",
        kind="paper",
        claim="sketch-preconditioned CG finds a sufficiently good approximate Gauss-Newton step",
        where="abstract; Sec. on the algorithm",
        paper_value="same iterates as Gauss-Newton",
        unit="max |log(r_fast / r_GN)| over iterations and data sets; the worst seed decides",
        rule=_same_residuals(
            "same-residuals", "'a sufficiently good approximate solution' read as"
        ),
        paper_words=ABSTRACT["sketch"],
    ),
    ClaimSpec(
        id="gd-iterations-vs-lambda",
        kind="paper",
        claim="gradient descent needs O(n²/λ² log 1/ε) iterations: its count grows as λ shrinks",
        where="abstract; comparison with first-order methods (the O(n²/λ²) bound is "
        + OUTSIDE_SEED
        + ")",
        paper_value="exponent ≤ 2 in 1/λ",
        unit="fitted exponent of iterations in 1/λ, mean over seeds",
        rule=claims.threshold(
            0.5,
            name="gd-grows-with-1/lambda",
            source="the paper's 'slow convergence rate' of first-order methods read as an "
            "iteration count that grows at least like (1/λ)^0.5 (the bound's λ⁻² is an upper "
            "bound). Statistic: the 95 % t-interval of the mean exponent over seeds, because the "
            "claim is about how GD typically behaves (an exponent can be negative, so no log "
            "scale)",
            untestable="GD reaches the target at fewer than two λ on fewer than two seeds (no "
            "exponent can be fitted)",
        ),
        paper_words=ABSTRACT["first-order"],
    ),
    ClaimSpec(
        id="gn-iterations-vs-lambda",
        kind="book-goal",
        claim="Gauss-Newton's convergence rate does not depend on λ (teacher labels)",
        where="implied by the theorem's λ-free contraction",
        paper_value="independent of λ",
        unit="fitted exponent of iterations in 1/λ over each seed's sweep; the worst seed decides",
        rule=gn_iterations_flat,
    ),
    ClaimSpec(
        id="gn-width-requirement",
        kind="analysis",
        claim="the rate needs width m ≥ poly(n, 1/λ): at a fixed width it fails once λ is small "
        "(random-sign labels on nearly collinear data)",
        where="the theorem's width condition (" + OUTSIDE_SEED + "); our test",
        paper_value="needs m ≥ poly(n, 1/λ)",
        unit="share of seeds whose runs fail (diverge or miss the target) exactly at the smallest "
        "λ's of the sweep (Clopper–Pearson)",
        rule=fails_below_some_lambda,
    ),
    ClaimSpec(
        id="preconditioned-condition-number",
        kind="paper",
        claim="the sketch preconditioner makes the condition number O(1), independent of λ",
        where="abstract; the preconditioning lemma (O(1) is " + OUTSIDE_SEED + ")",
        paper_value="O(1)",
        unit="largest cond(R⁻ᵀGR⁻¹) over the λ sweep at s = 4n; the worst sketch draw decides",
        rule=preconditioned_bounded,
        paper_words=ABSTRACT["sketch"],
    ),
    ClaimSpec(
        id="pcg-iterations",
        kind="paper",
        claim="CG on the preconditioned system needs O(log 1/ε) iterations",
        where="abstract; the CG lemma (O(log 1/ε) is " + OUTSIDE_SEED + ")",
        paper_value="O(log 1/ε)",
        unit=f"PCG iterations to ε = {CG_TOL:g} at s = 4n; the worst sketch draw decides",
        rule=every_case(
            PCG_BAR,
            name="pcg-log-iterations",
            of="sketch draws",
            source=f"CG's bound ½√κ ln(2/ε) with √κ ≤ 4 (κ = O(1)): 2 ln(2/ε) = {PCG_BAR:.0f}, "
            "for the solve of every sketch draw (the lemma bounds every solve; until the "
            "2026-12-07 edition: the t-interval of the mean over draws)",
        ),
        paper_words=ABSTRACT["sketch"],
    ),
    ClaimSpec(
        id="time-exponent-n-fast",
        kind="paper",
        claim="the fast step's cost is near-linear in n where its mn work dominates (m ≥ n²/8, "
        "fixed m)",
        where="abstract; main theorem",
        paper_value="Õ(mn): exponent ≤ 1.2 (the book's reading)",
        unit="fitted exponent of s/step in n over the sizes with m ≥ n²/8, per interleaved round",
        rule=claims.threshold(
            1.2,
            higher=False,
            name="near-linear-in-n",
            source="'near-linear in the dimension (mn)' for 'mildly overparametrized' networks read "
            "by the book as a fitted exponent ≤ 1.2 at fixed m, over the sizes where the step's mn "
            "work dominates its n³ work (m ≥ n²/8 by the chapter's operation count; logarithmic "
            "factors allowed a little). Statistic: the median over interleaved rounds of the "
            "per-round exponent with its distribution-free 95 % interval (the typical cost). "
            "Until the 2026-12-07 edition: fitted over the whole n sweep up to m = 4n, where the "
            "n³ term dominates (now the analysis time-exponent-n-fast-sweep)",
        ),
        paper_words=ABSTRACT["near-linear"],
    ),
    ClaimSpec(
        id="time-exponent-n-fast-sweep",
        kind="analysis",
        claim="over the whole n sweep at fixed m, up to m = 8n, the fast step's cost is still "
        "near-linear in n",
        where="our analysis (the previous editions' reading of the Õ(mn) claim)",
        paper_value="exponent ≤ 1.2",
        unit="fitted exponent of s/step in n over the whole sweep of the paper's step, per "
        "interleaved round",
        rule=claims.threshold(
            1.2,
            higher=False,
            name="near-linear-in-n-sweep",
            source="the bar of time-exponent-n-fast, over sizes where the O(n³) factor dominates "
            "(the chapter's own cost count predicts it fails there). Statistic: the median over "
            "rounds with its distribution-free 95 % interval",
        ),
    ),
    ClaimSpec(
        id="time-exponent-n-gn",
        kind="paper",
        claim="exact Gauss-Newton costs O(mn²) per step",
        where="abstract",
        paper_value="O(mn²): exponent ≥ 1.8 (the book's reading)",
        unit="fitted exponent of s/step in n, per interleaved round",
        rule=graded(
            1.8,
            1.5,
            higher=True,
            name="quadratic-in-n",
            source="'O(mn²)-time' read by the book as a fitted exponent ≥ 1.8; ≥ 1.5 is partly "
            "(the O(nmd) parts weigh at small n). Statistic: the median over interleaved rounds "
            "with its distribution-free 95 % interval (the typical cost)",
        ),
        paper_words=ABSTRACT["gn-cost"],
    ),
    ClaimSpec(
        id="time-exponent-m",
        kind="paper",
        claim="both steps are linear in the width m",
        where="abstract",
        paper_value=1.0,
        unit="fitted exponent of s/step in m, per interleaved round",
        rule=both_linear_in_m,
        paper_words=ABSTRACT["near-linear"] + "; " + ABSTRACT["gn-cost"],
    ),
    ClaimSpec(
        id="speedup-largest",
        kind="book-goal",
        claim="at the largest size the paper's step is timed at, it is ≥ 10× faster than exact GN "
        "at equal residual reduction",
        where="book goal",
        paper_value="≥ 10 (goal)",
        unit="× (exact GN / fast, seconds per decade), per interleaved round",
        rule=graded(
            10.0,
            1.0,
            higher=True,
            name="tenfold-at-largest",
            source="the book's goal of a 10× speed-up (the paper states none); partly: faster at "
            "all (> 1); decided on the largest size at which the paper's step is timed, never on "
            "an extrapolation. Statistic: the median of the per-round ratios with its "
            "distribution-free 95 % interval (the typical speed-up; a ratio per round pairs the "
            "two steps under the same load)",
        ),
    ),
    ClaimSpec(
        id="speedup-mn-regime",
        kind="paper",
        claim="where the fast step's mn work dominates its n³ work (m ≥ n²/8, fixed m), the "
        "paper's fast step is faster than exact GN at equal residual reduction",
        where="abstract: Õ(mn) per iteration against the O(mn²) of second-order methods",
        paper_value="faster than exact GN: ratio > 1 (the book's reading)",
        unit="× (exact GN / fast, seconds per decade) at the largest n with m ≥ n²/8, per "
        "interleaved round",
        rule=claims.threshold(
            1.0,
            higher=True,
            name="faster-where-mn-dominates",
            source="the abstract's Õ(mn) against O(mn²) per iteration gives no factor; the book "
            "reads it as a fast step faster than exact GN at all (ratio > 1) where the step's mn "
            "work dominates (the regime of time-exponent-n-fast), at the largest such n of the "
            "sweep (where the predicted advantage, about n/polylog, is largest). Statistic: the "
            "median of the per-round ratios of interleaved rounds (after an untimed warm-up call "
            "of each step) with its distribution-free 95 % interval. Declared in the 2026-12-07 "
            "edition, after the published run's ratios in that regime (0.16–0.29, in the reason "
            "of time-exponent-n-fast) were seen",
        ),
        paper_words=ABSTRACT["near-linear"] + "; " + ABSTRACT["gn-cost"],
    ),
    ClaimSpec(
        id="speedup-kron",
        kind="book-goal",
        claim="with the Kronecker-structured sketch (beyond the paper), the fast step is ≥ 1.5× "
        "faster than exact GN at equal residual reduction at the largest size measured",
        where="book goal (issue: crossover measured)",
        paper_value="≥ 1.5 (goal)",
        unit="× (exact GN / fast with Kronecker sketch, seconds per decade), per interleaved round",
        rule=graded(
            1.5,
            1.0,
            higher=True,
            name="kron-1.5x-at-largest",
            source="the book's goal for the Kronecker sketch (1.5×); partly: faster at all (> 1); "
            "decided on the largest size measured, never on an extrapolation. Statistic: the "
            "median of the per-round ratios (rounds after an untimed warm-up call of each step) "
            "with its distribution-free 95 % interval",
        ),
    ),
    ClaimSpec(
        id="kron-equals-gn",
        kind="analysis",
        claim="the fast step with the Kronecker sketch also takes the Gauss-Newton step",
        where="our analysis (the subspace-embedding argument in the chapter)",
        paper_value="same iterates as Gauss-Newton",
        unit="max |log(r_kron / r_GN)| over iterations and data sets; the worst seed decides",
        rule=_same_residuals("same-residuals-kron", "the bar of fast-equals-gn"),
    ),
    ClaimSpec(
        id="cost-laws",
        kind="analysis",
        claim="each stage of the steps costs what the algorithm's operation count says "
        "(exponent in n at fixed m)",
        where="our analysis of the algorithm (sketch n·md log md, Gram 2sn², exact 2n²m, ...)",
        paper_value="the derived exponents",
        unit="fitted exponent per stage, n ≥ 1024, m fixed (stage breakdown)",
        rule=stages_follow_laws,
    ),
    ClaimSpec(
        id="memory-bound-stages",
        kind="analysis",
        claim="the stages that miss their operation-count law (the PCG solves, the pattern pass) "
        "are memory-bound: they run near this machine's streaming bandwidth",
        where="our analysis of the cost-laws misses (measured, not only explained)",
        paper_value=f"≥ {BANDWIDTH_BAR:g} of the streaming bandwidth",
        unit="achieved bytes/s of the stage over the matching streaming probe's, per interleaved "
        "round, at the two largest n",
        rule=memory_bound_at_bandwidth,
    ),
    ClaimSpec(
        id="rate-independent-of-n",
        kind="paper",
        claim="the convergence rate does not depend on the number of points n",
        where="abstract (second-order rate 'independent of the training batch size n')",
        paper_value="independent of n",
        unit="extra iterations to ε at the largest n against the smallest, per seed the worse of "
        "exact GN and the Kronecker fast step; the worst seed decides",
        rule=every_case(
            2.0,
            name="at-most-2-extra-iterations",
            source="'independent of n' read as at most 2 extra iterations while n grows 8× at "
            "fixed m/n (GD's count grows like cond(G), which grows with n), for every seed (a "
            "rate independent of n holds for every draw; until the 2026-12-07 edition: the "
            "t-interval of the mean over seeds), and for each step: exact GN and the fast step "
            "with the Kronecker sketch (s = 2n, Cholesky factor of the sketch, PCG; the paper's SRHT "
            "step costs about five times exact GN here), per seed the worse of the two (until the 2026-12-07 edition: "
            "exact GN only)",
        ),
        paper_words=ABSTRACT["rate"],
    ),
    ClaimSpec(
        id="cg-degrades",
        kind="analysis",
        claim="without the preconditioner, CG needs many more iterations at n ≥ 1024",
        where="our ablation (the paper's reason for the sketch)",
        paper_value="plain CG degrades",
        unit="plain CG / PCG iterations of the first solve at the largest n, geometric mean over "
        "seeds",
        rule=claims.threshold(
            2.0,
            higher=True,
            name="cg-twice-pcg",
            source="the book's bar: plain CG needs at least twice the PCG iterations (cond(G) "
            "grows with n, the preconditioned condition number does not). Statistic: the 95 % "
            "t-interval of the mean log ratio over seeds, mapped back (a ratio is strictly "
            "positive; the claim is about the typical solve; until the 2026-12-07 edition: the "
            "t-interval of the plain mean)",
        ),
        paper_words=ABSTRACT["sketch"],
    ),
    ClaimSpec(
        id="build-vs-m",
        kind="paper",
        claim="the preconditioner is built in time independent of M, the number of parameters "
        "(M = md, varied through the width m at fixed d)",
        where="abstract; M read as the number of parameters from the arXiv v1 abstract",
        paper_value="independent of M",
        unit="fitted exponent in M = md (d fixed, so the exponent in m) of the SRHT "
        "preconditioner's build time, per interleaved round",
        rule=graded(
            0.3,
            0.7,
            higher=False,
            name="build-flat-in-m",
            source="'in time independent of M' as a fitted exponent ≤ 0.3; ≤ 0.7 is partly. M is "
            "not defined in the stored text (the ITCS abstract, whose other bounds are in the "
            "width m); the first arXiv version's abstract (2006.11648v1, as quoted by "
            "catalyzex.com) reads 'an O(Mn²)-time second-order algorithm for training "
            "overparametrized neural networks with M parameters', so M is the number of "
            "parameters, md here. The book varies M through m at fixed d = 4 (M = 4m), so the "
            "exponent in M equals the one in m (until the 2026-12-07 edition M was read as the "
            "width m: the same measurement). Statistic: the median over interleaved rounds with "
            "its distribution-free 95 % interval",
        ),
        paper_words=ABSTRACT["sketch"],
    ),
    ClaimSpec(
        id="no-worse-generalization",
        kind="paper",
        claim="Gauss-Newton and the fast step train MNIST 3 vs 5 to a test error no worse than "
        "gradient descent's",
        where="abstract, first sentence",
        paper_value="without compromising the generalization error",
        unit="test error of the worse of exact GN and the fast step minus GD's, mean over seeds",
        rule=claims.threshold(
            0.02,
            higher=False,
            name="no-worse-test-error",
            source="'without compromising the generalization error' read by the book as a test "
            "error at most 2 points above gradient descent's (the sampling error of one seed's "
            "test error on the ~1 900 test images of the two digits is about 0.6 points). "
            "Statistic: the 95 % t-interval of the mean per-seed difference (the claim is about "
            "the typical outcome of training; a difference can be negative, so no log scale)",
        ),
        paper_words=ABSTRACT["generalization"],
    ),
    ClaimSpec(
        id="memory-not-nmd",
        kind="book-goal",
        claim="the fast step never holds O(n·md) memory (never forms J)",
        where="book goal",
        paper_value="O(nm + md + sn) (goal)",
        unit="fitted exponent of peak bytes in d (XLA buffer assignment, deterministic)",
        rule=claims.threshold(
            0.25,
            higher=False,
            name="memory-flat-in-d",
            source="forming J would give exponent 1 in d; ≤ 0.25 leaves room for the O(md) "
            "weights and sketch columns. Statistic: one exact value (XLA's static buffer "
            "assignment is deterministic)",
        ),
    ),
)

#: the smoke run's regression reference (fasttrain.core.reference): the claims decided on timed
#: rounds are free there; the float64 studies are bounded by the spread measured under capped
#: instruction sets (tests/reference/02-sketched-gauss-newton.json)
_TIMED = (
    "time-exponent-*",
    "speedup-largest",
    "speedup-mn-regime",
    "speedup-kron",
    "cost-laws",
    "memory-bound-stages",
    "build-vs-m",
)
REGRESSION = reference.Declared(
    timing=_TIMED,
    extra=(
        "seeds/*",
        "sketch_draws",
        "timing_rounds/*",
        "largest_size_limits/m",
        "largest_size_limits/n",
        "largest_size_limits/peak_gb",
        "largest_size_limits/s_over_dim/*",
    ),
    why=dict.fromkeys(_TIMED, "interleaved timing rounds"),
)
