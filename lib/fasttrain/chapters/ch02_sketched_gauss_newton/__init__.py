"""Chapter 02's experiments: protocols around :mod:`fasttrain.methods.gauss_newton`.

Each function runs one measurement of the chapter and returns plain records
(lists of dicts, or :class:`~fasttrain.methods.gauss_newton.TrainResult`) that the
chapter tabulates and plots.  The protocol, stated once here and in the
chapter:

* model: the paper's two-layer ReLU network ``f = (1/sqrt m) a^T ReLU(W x)``
  with fixed output signs ``a``, only ``W`` trained from ``W ~ N(0, I)``,
  squared loss, unit-norm inputs;
* convergence and conditioning runs: float64, every method from the same
  ``W0``; gradient descent at step ``1 / lambda_max(G(W0))``; Gauss-Newton
  and the fast step undamped at step size 1, the fast step with a fresh SRHT
  sketch of ``s = 4n`` rows per iteration, QR factor (the paper's) and CG to
  relative residual ``cg_tol``;
* timing: float32, one compiled executable per method and size (compile time
  reported separately); exact GN and the fast step timed in interleaved rounds
  (:func:`fasttrain.core.timing.interleaved`: one untimed warm-up call of each, then
  ``timing_repeats`` rounds A, B, A, B, ... -- ``timing_rounds_large`` from ``large_n`` on --,
  BLAS pinned to one thread, load average recorded); one call is one step (at least
  10 ms at book scale, against a dispatch overhead of tens of microseconds); a size's time is the
  median over its rounds, a ratio is taken per round (:func:`fasttrain.core.timing.ratios`) and a
  fitted exponent per round (:func:`round_exponents`), each reported as the median with the
  distribution-free 95 % interval of the median, [min, max] beside it
  (:func:`fasttrain.core.claims.over_rounds`; >= 6 rounds needed); the stage breakdown takes the best
  of ``repeats`` calls after a warm-up (one call at the largest size; only the cost-law claim,
  which therefore decides at most "inconclusive");
  the fast step with the Cholesky factor of the sketch (``Config.timing_factor``)
  and CG tolerance ``timing_cg_tol``; every fast step applies its preconditioner and exact GN
  does its two triangular solves by block substitution in matrix-vector products
  (``Config.precond_apply``, ``Config.solve_apply``: the fastest correct route measured);
  "equal residual reduction" compares seconds per decade of residual reduction,
  ``t / log10(1 / contraction)`` of the timed step;
* seeds: the convergence runs are repeated for ``seed + k``, ``k`` in
  ``Config.seeds`` (data draw, ``W0`` and sketches all change with the seed),
  and so are GD's λ sweep (:func:`gd_lambda_seeds`) and, for ``Config.lambda_seeds``, exact GN's
  (:func:`gn_lambda_seeds`); sketch draws (``Config.sketch_draws``) for the preconditioned condition number
  and the PCG iterations;
* memory: XLA's buffer assignment of the compiled step
  (``jax.jit(f).lower(...).compile().memory_analysis()``): arguments +
  outputs + temporaries, a static upper bound of what the step holds live.

The package's modules, in the order their imports run (each imports only those above it):

* :mod:`.paper`: the paper's words (its abstract) and where the values outside it come from;
* :mod:`.configs`: :class:`Config` per scale, the runs' constants (``FLOOR``, ``LABELS``,
  ``TIMED_METHODS``, :func:`cg_maxiter`) and the data on the unit sphere (MNIST 3 vs 5, banknote,
  synthetic; ``W0`` and λ_min);
* :mod:`.power_laws`: :class:`PowerLaw`, :func:`fit_power_law` and :func:`crossover`;
* :mod:`.rules`: the rules that decide the claims, each with its statistic;
* :mod:`.claims`: the declared claims (``CLAIMS``: the paper's words, value, location, kind, rule)
  and ``REGRESSION``;
* :mod:`.convergence`, :mod:`.conditioning`, :mod:`.dependence_on_n`, :mod:`.sketch_sizes`:
  the protocols of the float64 sections (the convergence runs and the test error of their models;
  the λ sweep over seeds; exact GN's iterations and plain CG against PCG along n; the sketch size);
* :mod:`.compiled_steps`, :mod:`.step_timing`, :mod:`.stages`: the float32 timing and memory
  sections (the compiled steps and their limits; interleaved rounds per size, the sweeps in n and
  m, the Kronecker sketch size's selection, memory against d; the stage breakdown, cost laws,
  bandwidth study, preconditioner builds and the labelled extrapolation);
* :mod:`.evidence`: the evidence map (``SECTIONS``: what the chapter's ``out`` holds; one function per
  section in ``PARTS``; :func:`evidence` merges them and refuses gaps and duplicates), the builders
  it uses, and the settings table;
* :mod:`.text`: the sentences of "What the measurements say" (:func:`sentences`), from the same
  ``out``.

Everything is re-exported here, so the chapter keeps
``import fasttrain.chapters.ch02_sketched_gauss_newton as S``.
"""

from .claims import _TIMED, CLAIMS, REGRESSION, _contraction_spec, _same_residuals  # noqa: F401
from .compiled_steps import (  # noqa: F401
    MEMORY_LIMIT_BYTES,
    STEP_LIMIT_SECONDS,
    CompiledStep,
    _compile_step,
    _timing_settings,
    check_memory,
    compile_step,
    peak_rss_bytes,
    problem32,
    step_function,
)
from .conditioning import conditioning_study, gd_lambda_exponent, gd_lambda_seeds, gn_lambda_seeds  # noqa: F401
from .configs import (  # noqa: F401
    CONFIGS,
    FLOOR,
    LABELS,
    TIMED_METHODS,
    Config,
    _f64,
    _forward_np,
    banknote_sphere,
    cg_maxiter,
    closest_pair_angle,
    config,
    init,
    lambda_min,
    mnist_sphere,
    mnist_test_sphere,
    synthetic_sphere,
)
from .convergence import (  # noqa: F401
    contractions,
    convergence_data,
    convergence_rows,
    convergence_runs,
    generalization_study,
    iterations_to,
    residual_deviation,
    seed_summary,
    test_error,
)
from .dependence_on_n import rate_vs_n  # noqa: F401
from .evidence import (  # noqa: F401
    PARTS,
    SECTIONS,
    TIMED,
    _vals,
    bandwidth_facts,
    build_exponents,
    convergence_evidence,
    evidence,
    exponent_fits,
    generalization_evidence,
    lambda_evidence,
    law_min_n,
    memory_exponent,
    op_count_ratio,
    pcg_evidence,
    rate_evidence,
    settings_rows,
    settle_cost,
    speedup_ratios,
    timing_facts,
)
from .paper import ABSTRACT, OUTSIDE_SEED  # noqa: F401
from .power_laws import PowerLaw, crossover, fit_power_law  # noqa: F401
from .rules import (  # noqa: F401
    BANDWIDTH_BAR,
    CG_TOL,
    LAW_TOL,
    MN_REGIME_C,
    PCG_BAR,
    STAGE_CALLS_LIMITED,
    BandwidthFractions,
    ExponentPair,
    LambdaSweep,
    StageFits,
    _band_side,
    _bw,
    _draws,
    _fits,
    _seeds,
    _width,
    both_linear_in_m,
    every_case,
    fails_below_some_lambda,
    gn_iterations_flat,
    graded,
    memory_bound_at_bandwidth,
    mn_regime,
    preconditioned_bounded,
    stages_follow_laws,
)
from .sketch_sizes import sketch_study  # noqa: F401
from .stages import (  # noqa: F401
    BANDWIDTH_PROBE,
    GEMM_N,
    STAGE_LAWS,
    bandwidth_fractions,
    bandwidth_rows,
    bandwidth_study,
    breakdown_sweep,
    build_sweep,
    build_times,
    fast_step_breakdown,
    precond_bytes,
    predicted_step_seconds,
    stage_exponents,
    stage_rates,
)
from .step_timing import (  # noqa: F401
    KRON_FACTOR_CANDIDATES,
    KRON_SELECTION_SIZE,
    KRON_SELECTION_TIE,
    decade_speedups,
    memory_vs_d,
    round_exponents,
    select_kron_sketch_factor,
    time_size,
    timed_methods,
    timing_rounds,
    timing_sweeps,
)
from .text import KEYS, largest_sentence, rate_sentence, sentences, unmeasured_sentence  # noqa: F401
