"""Chapter 03: claims."""

from __future__ import annotations

from ...core import claims, reference
from ...core.claims import (
    ClaimSpec,
    Measurement,
    over_seeds,
)
from .. import multiprocess_study as mps
from .paper import PAPER_TABLE1
from .rules import (
    almost_sgd,
    beats_everywhere,
    budget_limited,
    compartments_help,
    fraction_of_sgd,
    fraction_one_run,
    gaussian_beats,
    increasing_in_d,
    like_gaussian,
    narrows_gap,
    on_log_scale,
    ordering_one_run,
    switch_works,
    table1_ordering,
    trained_like_gaussian,
    untestable_when,
)

Q_TABLE1 = (
    "Re-drawing the random subspace at every step (RBD) leads to better convergence than taking "
    "steps in a fixed randomly projected space of the same dimensionality (FPD). [...] Black-box "
    "optimization using evolution strategies for the same dimensionality leads to far inferior "
    "optimization outcomes (NES)."
)
Q_FRACTION = (
    "we additionally denote the achieved accuracy as a fraction of the SGD baseline accuracy in "
    "parenthesis"
)
Q_COMPRESSION = (
    "RBD reaches 84% of the SGD baseline with a 10× reduction of trainable parameters and "
    "outperforms FPD for all compression factors; even at 75× reduction, its relative improvement "
    "is over 11%"
)
Q_SCALING = (
    "We observe constant training performance and almost linear wall-clock scaling for 16 workers."
)
#: the compression sentence names no task; its numbers place it on CIFAR-10 (see the chapter)
COMPRESSION_TASK = (
    "the paper's compression study is on CIFAR-10 (its 84 % at 10× cannot be MNIST, where RBD "
    "already reaches 0.96 at 407×); measured here on FC, MNIST subset"
)


#: preconditions under which a claim is "not testable here" (issue 22: declared in its rule)
DATA_ABSENT = (
    "the data set's files are absent here (the chapter never downloads) or the scale does not run "
    "it (Fashion-MNIST and CIFAR-10 run at paper scale only)"
)
NO_BUDGET_CURVE = "the scale runs no budget curve (Config.budget_epochs empty)"
NO_RESNET8 = (
    "ResNet-8 on CIFAR-10 cannot run here: no CIFAR-10 data (the chapter never downloads) and no "
    "budget for ResNet-8 runs on a CPU"
)
NO_CIFAR_COMPRESSION = (
    "the paper's compression study is on CIFAR-10, which is absent here (the chapter never "
    "downloads)"
)

#: the statistic of the timing thresholds, said in their rules' docs
ROUND_STATISTIC = (
    "; statistic: the median of the per-round values of interleaved rounds with its "
    "distribution-free 95 % interval (claims.over_rounds; fewer than 6 rounds: at most "
    "inconclusive)"
)

_OVER_11 = claims.threshold(
    0.11,
    name="over-11-percent",
    source="the paper's 'even at 75× reduction, its relative improvement is over 11%'",
)


def _over_11_percent(m: Measurement) -> tuple[str, str]:
    return _OVER_11.fn(on_log_scale(m, shift=1.0))


#: RBD's relative gain over FPD at 75× ≥ 0.11, decided on the log scale of the ratio RBD/FPD
OVER_11_PERCENT = claims.Rule(
    _OVER_11.name,
    _over_11_percent,
    {
        "reproduced": over_seeds([0.15, 0.17, 0.16]),
        "not reproduced": over_seeds([0.02, 0.04, 0.03]),
        "inconclusive": over_seeds([0.05, 0.20, 0.12]),
    },
    _OVER_11.doc + ". Statistic: the typical run, and the gain is a ratio − 1 (RBD/FPD is strictly "
    "positive), so the geometric mean of RBD/FPD over seeds with the t-interval of the mean log, "
    "minus 1 (on_log_scale with shift 1, applied to the per-seed values received; the chapter's "
    "cell passes the linear mean until its next republication); one seed: at most inconclusive",
    _OVER_11.words + " (log scale of RBD/FPD)",
)


def _table1_specs():
    out = []
    for m in ("fc", "cnn"):
        p = PAPER_TABLE1[(m, "mnist")]
        out.append(
            ClaimSpec(
                f"table1-order-{m}",
                "paper",
                f"Table 1 ordering NES < FPD < RBD < SGD ({m.upper()}, MNIST)",
                "Table 1",
                "NES < FPD < RBD < SGD",
                "test accuracy",
                table1_ordering,
                Q_TABLE1,
            )
        )
        for name in ("RBD", "FPD"):
            out.append(
                ClaimSpec(
                    f"table1-{name.lower()}-fraction-{m}",
                    "paper",
                    f"{name} reaches {p[name][2]:.2f} of SGD's accuracy ({m.upper()}, MNIST)",
                    "Table 1",
                    p[name][2],
                    "fraction of SGD",
                    fraction_of_sgd,
                    Q_FRACTION,
                )
            )
        out.append(
            ClaimSpec(
                f"gap-{m}",
                "paper",
                f"RBD narrows the FPD–SGD gap ({m.upper()}, MNIST)",
                "Table 1; Sec. 4",
                round((p["RBD"][0] - p["FPD"][0]) / 100, 3),
                "accuracy points (RBD − FPD)",
                narrows_gap,
                "By changing the basis at each step, RBD manages to decrease the FPD-SGD gap by "
                "up to 20%",
            )
        )
    for m in ("cnn", "fc"):
        for ds in ("cifar10", "fashion_mnist"):
            out.append(
                ClaimSpec(
                    f"table1-{m}-{ds}",
                    "paper",
                    f"Table 1 ordering NES < FPD < RBD < SGD ({m.upper()}, {ds})",
                    "Table 1",
                    "NES < FPD < RBD < SGD",
                    "test accuracy",
                    untestable_when(table1_ordering, DATA_ABSENT),
                    Q_TABLE1,
                )
            )
    for m in ("fc", "cnn"):
        out.append(
            ClaimSpec(
                f"rbd-budget-{m}",
                "analysis",
                f"Table 1's RBD shortfall is the budget: with learning rates selected on a "
                f"validation split (every method the same candidates) RBD reaches the paper's "
                f"fraction of the selected SGD at the same budget ({m.upper()}, MNIST)",
                "this book",
                PAPER_TABLE1[(m, "mnist")]["RBD"][2],
                "fraction of SGD",
                budget_limited,
            )
        )
    p = PAPER_TABLE1[("fc", "mnist")]
    longest = "FC, MNIST subset, the budget curve's largest step budget (a tenth of the data)"
    out.append(
        ClaimSpec(
            "table1-order-fc-longest",
            "paper",
            f"Table 1 ordering FPD < RBD < SGD ({longest})",
            "Table 1",
            "NES < FPD < RBD < SGD",
            "test accuracy",
            untestable_when(table1_ordering, NO_BUDGET_CURVE),
            Q_TABLE1,
        )
    )
    for name in ("RBD", "FPD"):
        out.append(
            ClaimSpec(
                f"table1-{name.lower()}-fraction-fc-longest",
                "paper",
                f"{name} reaches {p[name][2]:.2f} of SGD's accuracy ({longest})",
                "Table 1",
                p[name][2],
                "fraction of SGD",
                untestable_when(fraction_of_sgd, NO_BUDGET_CURVE),
                Q_FRACTION,
            )
        )
    out.append(
        ClaimSpec(
            "rbd-400x-mnist",
            "paper",
            f"training in the 400× smaller subspace almost matches SGD on MNIST ({longest})",
            "Table 1 caption",
            "≈ SGD (the paper's 0.96 FC, 0.98 CNN)",
            "fraction of SGD",
            almost_sgd,
            "While training in the 400× smaller subspace can almost match full-dimensional SGD on "
            "MNIST, it only reaches 78% of the SGD's baseline on the harder CIFAR-10 "
            "classification task",
        )
    )
    p = PAPER_TABLE1[("cnn", "mnist")]
    long_cnn = (
        "CNN, MNIST subset, ≥ 25 000 steps at the learning rates selected on validation data, "
        "one seed"
    )
    out.append(
        ClaimSpec(
            "table1-order-cnn-long",
            "paper",
            f"Table 1 ordering FPD < RBD < SGD ({long_cnn})",
            "Table 1",
            "NES < FPD < RBD < SGD",
            "test accuracy",
            ordering_one_run,
            Q_TABLE1,
        )
    )
    for name in ("RBD", "FPD"):
        out.append(
            ClaimSpec(
                f"table1-{name.lower()}-fraction-cnn-long",
                "paper",
                f"{name} reaches {p[name][2]:.2f} of SGD's accuracy ({long_cnn})",
                "Table 1",
                p[name][2],
                "fraction of SGD",
                fraction_one_run,
                Q_FRACTION,
            )
        )
    return out


CLAIMS = claims.declare(
    *_table1_specs(),
    ClaimSpec(
        "table2-paper-variants",
        "paper",
        "Gaussian directions beat U[−1,1] and the official Bernoulli-0.5 (Table 2)",
        "Table 2",
        "Gaussian best",
        "mean minibatch loss over the last 50 steps",
        gaussian_beats,
        "Compared to the Gaussian baseline, the optimization suffers under Uniform and Bernoulli "
        "distributions whose sampled directions concentrate in smaller fractions of the "
        "highdimensional space",
    ),
    ClaimSpec(
        "table2-normalised",
        "analysis",
        "directions with E[φφᵀ] = I/D (unit-variance uniform, zero-mean Bernoulli, Hadamard) train "
        "like Gaussian ones",
        "this book",
        None,
        "max |difference to Gaussian|",
        like_gaussian,
    ),
    ClaimSpec(
        "table2-trained",
        "analysis",
        "on a model that has learned something (Table 2's longer budget) structured Hadamard "
        "directions train like the Gaussian ones (FC, MNIST subset)",
        "this book (validates the substitution used elsewhere)",
        None,
        "max |accuracy − Gaussian's|",
        trained_like_gaussian,
    ),
    ClaimSpec(
        "cos-vs-d",
        "analysis",
        "more directions raise the cosine of the RBD step with the minibatch gradient (FC, MNIST "
        "subset; ≈ √(d/D))",
        "this book (the paper's Table 3 is ResNet-8 on CIFAR-10)",
        "increasing",
        "cosine",
        increasing_in_d,
    ),
    ClaimSpec(
        "acc-vs-d",
        "analysis",
        "more directions raise the accuracy (FC, MNIST subset)",
        "this book (the paper: CIFAR-10 CNN and ResNet-8)",
        "increasing",
        "test accuracy",
        increasing_in_d,
    ),
    ClaimSpec(
        "table3-resnet8",
        "paper",
        "more directions raise the correlation with the SGD gradient and the accuracy (ResNet-8, "
        "CIFAR-10)",
        "Table 3; Sec. 4",
        "increasing",
        "correlation / accuracy",
        untestable_when(increasing_in_d, NO_RESNET8),
        "For CIFAR-10 convolutional neural network (CNN) training, we find that using more random "
        "basis directions improves the correlation of the Random Bases Descent (RBD) gradient with "
        "SGD, as well as the achieved final accuracy",
    ),
    ClaimSpec(
        "rbd-beats-fpd",
        "paper",
        "RBD beats FPD at every compression factor (" + COMPRESSION_TASK + ")",
        "Sec. 4 (compression)",
        "at every D/d",
        "relative accuracy gain RBD/FPD − 1",
        beats_everywhere,
        Q_COMPRESSION,
    ),
    ClaimSpec(
        "rbd-vs-fpd-75x",
        "paper",
        "RBD beats FPD by over 11 % (relative) at compression 75× (" + COMPRESSION_TASK + ")",
        "Sec. 4 (compression)",
        0.11,
        "relative accuracy gain RBD/FPD − 1",
        OVER_11_PERCENT,
        Q_COMPRESSION,
    ),
    ClaimSpec(
        "rbd-10x",
        "paper",
        "RBD reaches 84 % of SGD with 10× fewer trainable parameters (CIFAR-10)",
        "Sec. 4 (compression)",
        0.84,
        "fraction of SGD",
        claims.within(
            0.84,
            0.05,
            name="about-84-percent",
            source="the paper's 84 %, ± the fraction tolerance",
            untestable=NO_CIFAR_COMPRESSION,
        ),
        Q_COMPRESSION,
    ),
    ClaimSpec(
        "compartments",
        "paper",
        "compartmentalisation improves accuracy",
        "Sec. 3 (compartmentalisation)",
        "improves",
        "test accuracy (compartments η·K − one subspace)",
        compartments_help,
        "We find benefits in both achieved accuracy and training time from this "
        "compartmentalization scheme",
    ),
    ClaimSpec(
        "switching",
        "paper",
        "switching between RBD and SGD works without divergence",
        "Sec. 4, Fig. 4",
        "no divergence",
        "test accuracy",
        switch_works,
        "We find that a switch between the low-dimensional RBD and standard SGD is possible at any "
        "point without divergence",
    ),
    ClaimSpec(
        "distributed-curves",
        "paper",
        "distributed training leaves the training curves unchanged",
        "Fig. 5",
        "unchanged",
        "max |loss difference| device run vs serial run",
        claims.threshold(
            1e-4,
            higher=False,
            name="same-curves",
            source="'constant training performance'; 1e-4 is float32 rounding over a few hundred "
            "steps (the device run repeats the serial run's arithmetic in another order); "
            "statistic: the largest difference over the device counts and steps (every case; "
            "deterministic runs)",
        ),
        Q_SCALING,
    ),
    ClaimSpec(
        "communication",
        "book-goal",
        "only the d coefficients travel between workers (bytes the compiled distributed step "
        "exchanges ÷ 4d)",
        "Sec. 3 (distribution); the paper states no number",
        None,
        "× the coefficients' bytes",
        claims.threshold(
            1.1,
            higher=False,
            name="coefficients-only",
            source="the scheme: each worker all-gathers d/G float32 coefficients; 10 % allows the "
            "logged loss and accuracy scalars; statistic: the exact byte count of the compiled "
            "step's collectives (deterministic), the largest over the device counts",
        ),
    ),
    ClaimSpec(
        "scaling",
        "paper",
        "near-linear wall-clock scaling to 16 workers",
        "Fig. 5",
        "near-linear",
        "throughput ÷ (workers × 1 worker's), measured at 2 processes (model at 16 shown)",
        mps.near_linear_scaling,
        Q_SCALING,
    ),
    ClaimSpec(
        "goal-structured-step",
        "book-goal",
        "an RBD step with structured (coset Hadamard) directions costs at most 3× an SGD step",
        "book goal",
        3.0,
        "× SGD step",
        claims.threshold(
            3.0,
            higher=False,
            name="at-most-3x-sgd",
            source="this book's goal for the structured directions (the paper has no CPU timing)"
            + ROUND_STATISTIC,
        ),
    ),
    ClaimSpec(
        "goal-structured-1.2x",
        "book-goal",
        "an RBD step with structured (coset Hadamard) directions costs at most 1.2× an SGD step",
        "issue 11 (performance)",
        1.2,
        "× SGD step",
        claims.threshold(
            1.2,
            higher=False,
            name="at-most-1.2x-sgd",
            source="the book's performance goal (issue 11): the structured step within 1.2× SGD"
            + ROUND_STATISTIC,
        ),
    ),
    ClaimSpec(
        "step-cost-vs-d-gaussian",
        "paper",
        "random subspace steps become less efficient with growing d: the time per step rises "
        "with d (Gaussian directions, FC)",
        "Sec. 1 (contributions)",
        "increasing",
        "time per step (ms)",
        increasing_in_d,
        "while random subspace projection has computational benefits such as easy distribution "
        "on many workers, they become less efficient with growing projection dimensionality",
    ),
    ClaimSpec(
        "step-cost-vs-d-structured",
        "analysis",
        "with structured (coset Hadamard) directions the step cost hardly grows with d: largest "
        "d's step at most 2× the smallest d's (FC)",
        "this book",
        2.0,
        "× the smallest d's step",
        claims.threshold(
            2.0,
            higher=False,
            name="at-most-2x-across-d",
            source="this book: the coset transform is O(D + d log d), so the step should stay "
            "within a factor 2 from d = 10 to the largest d timed" + ROUND_STATISTIC,
        ),
    ),
    ClaimSpec(
        "goal-gaussian-slow",
        "book-goal",
        "dense Gaussian RBD is far slower than SGD on a CPU",
        "book goal",
        30.0,
        "× SGD step",
        claims.threshold(
            30.0,
            name="gaussian-over-30x",
            source="this book's reason for structured directions: ten times the structured goal"
            + ROUND_STATISTIC,
        ),
    ),
    ClaimSpec(
        "goal-wall-time",
        "book-goal",
        "the chapter runs within 45 minutes at book scale",
        "book goal; issue 11",
        2700,
        "s (up to the claims cell)",
        claims.threshold(
            2700,
            higher=False,
            name="within-45-min",
            source="issue 11's limit for this chapter once it runs the paper's FC step budget and "
            "the CNN for 25 000 steps (four chapters share two cores); statistic: this run's "
            "wall time, one measured value (the claim is about the run that publishes the chapter)",
            unit="s",
        ),
    ),
)

#: the smoke run's regression reference (fasttrain.core.reference): the step-time claims are free
#: there; accuracies and cosines are bounded by the spread measured under capped instruction sets
#: (tests/reference/03-random-bases.json)
REGRESSION = reference.Declared(
    timing=("goal-*", "step-cost-vs-d-*", "scaling"),
    extra=("config/*", "exchanged_bytes/*", "lr_selection/*"),
    why={
        "goal-*": "interleaved timing rounds or the chapter's wall time",
        "step-cost-vs-d-*": "interleaved timing rounds",
        "scaling": "timed multi-process throughput",
    },
)
