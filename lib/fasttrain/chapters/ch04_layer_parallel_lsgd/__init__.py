"""Chapter 04: configurations per scale, protocols and claims around :mod:`fasttrain.methods.layer_parallel`
and :mod:`fasttrain.methods.lsgd`.

Part 1, layer-parallel training.

Each function runs one measurement of the chapter and returns plain records
(lists of dicts, or dicts of runs) that the chapter tabulates and plots; the
declared claims (:data:`CLAIMS`, with their rules) turn measurements into verdicts.  The
protocol, stated once here and in the chapter:

* network: the ODE-ResNet of :mod:`fasttrain.methods.layer_parallel` (tanh, width and
  final time from :class:`LayerParallelConfig`), Gaussian weights;
* convergence: float64 (so that a relative residual of ``1e-8`` means
  something), inputs uniform in the peaks square ``[-3, 3]^2``, initial guess
  ``u_0`` copied to every layer, F or FCF relaxation, two-level (serial coarse
  solve) or multilevel (coarsening down to 2 steps);
* gradients: ``k`` forward and ``k`` adjoint MGRIT iterations from a cold
  start against ``jax.grad`` of the serial network, float64;
* training: full-batch Adam, same initial network for every run; in MGRIT mode
  every step runs ``k`` forward and ``k`` adjoint iterations warm-started from
  the previous step (inexact gradients);
* speed: float32, ``timing_rounds`` interleaved rounds (serial, MGRIT, serial, ...) after a
  warm-up that compiles (compile time is never in a ratio), with
  :func:`fasttrain.core.timing.interleaved`; serial ``lax.scan`` / ``jax.grad``
  against MGRIT vectorised on one device and with its intervals split across
  all JAX devices; a ratio is reported as the median of the per-round ratios with the
  distribution-free 95 % interval of the median (:func:`fasttrain.core.claims.over_rounds`, 9
  rounds at book scale: [x(2), x(8)]) and the rounds' [min, max] beside it.
* seeds: the training comparison runs over ``seeds`` (offset by the chapter's seed); the
  deterministic studies (convergence, gradients, work model) run once.  The MGRIT iteration count is a run-time argument
  (:func:`fasttrain.methods.layer_parallel.forward_mgrit`), so one compilation per depth
  and variant serves every count.

Part 2, LSGD and box initialisation.
Each function runs one measurement of the chapter and returns plain records
or runs that the chapter tabulates and plots.  The protocol, stated once here
and in the chapter:

* regression: ReLU MLP (``LSGDConfig.widths``) with box initialisation on the data
  box, the same initial network for every method; half mean squared error on
  training points drawn uniformly (seeded), relative L2 error on a test grid;
* methods: LSGD (least-squares output layer by the float64 Cholesky solve, then Adam on the
  hidden layers, alternating), Adam on all parameters, plain GD on all parameters;
* learning rates (:func:`tune_lr`): every method's learning rate is chosen per problem from a
  grid of the same size (``LSGDConfig.lr_grid``, ``gd_lr_grid``) by the relative error on a
  validation split carved from the training points (the last ``val_fraction``; never the test
  grid), training for the method's own budget on the rest, first seed only; PINN: by the loss on
  held-out collocation points (:func:`tune_pinn_lr`);
* clocks: per-iteration costs come from interleaved rounds after compilation and an untimed
  warm-up call with BLAS pinned (:func:`iteration_cost`: LSGD, LSGD with the previous QR solve,
  Adam, ``cost_steps`` iterations per call, the fixed cost of a call timed apart); wall time to
  the target is the run to the target timed end to end (:func:`time_to_target`, fixed costs
  included), per seed the median of ``wall_rounds`` interleaved rounds;
* iteration counts: Adam/GD iteration ``k`` = ``k`` optimiser steps; LSGD's
  record 0 is the least-squares fit on the initial (random) basis, which
  counts as its first iteration, so LSGD's record ``k`` costs ``k + 1``
  iterations (``k`` gradient steps, ``k + 1`` solves).

The package's modules, in the order their imports run (each imports only those above it):

* :mod:`.paper`: the paper's words the claims quote;
* :mod:`.configs`: :class:`LayerParallelConfig` and :class:`LSGDConfig` per scale, the seeds
  (:func:`run_seeds`) and part 1's data sets (:func:`datasets`);
* :mod:`.rules`: the rules that decide the claims, each with its statistic (and
  :class:`Comparison`, the per-case measurement of :func:`box_wins`);
* :mod:`.claims`: the declared claims (``CLAIMS``: the paper's words, value, location, kind, rule)
  and the smoke run's regression reference (``REGRESSION``);
* :mod:`.networks`: part 1's MGRIT variants, inputs and ODE-ResNet;
* :mod:`.convergence`, :mod:`.gradients`, :mod:`.training`, :mod:`.speed`: the protocols of
  part 1's sections (MGRIT's convergence with depth; its gradients; serial against layer-parallel
  training; wall times and the work model);
* :mod:`.lsgd_regression`, :mod:`.initialisation`, :mod:`.pinn`: the protocols of part 2's
  sections (the regression benchmarks with the learning-rate selection, the iteration costs and
  the runs to the target; box initialisation; the physics-informed example);
* :mod:`.measurements`: the measurements the claims are decided on, built from the sections'
  outputs, the regression table and the reasons a scale does not measure a claim;
* :mod:`.evidence_map`: the evidence map (:func:`evidence`: every declared claim from the sections'
  outputs, :data:`SECTIONS`, refusing gaps and claims decided twice);
* :mod:`.text`: the numbers the prose quotes (:func:`sentences`) and the settings table
  (:func:`settings`).

Everything is re-exported here, so the chapter keeps
``from fasttrain.chapters import ch04_layer_parallel_lsgd as ch``.
"""

from .claims import CLAIMS, REGRESSION, SPEED_DEPTHS, _speed_spec  # noqa: F401
from .configs import (  # noqa: F401
    LP_CONFIGS,
    LSGD_CONFIGS,
    Config,
    LayerParallelConfig,
    LSGDConfig,
    config,
    datasets,
    lp_config,
    lsgd_config,
    run_seeds,
)
from .convergence import bounded_iterations, convergence_study  # noqa: F401
from .evidence_map import (  # noqa: F401
    PARTS,
    SECTIONS,
    best_layout,
    budget_evidence,
    convergence_evidence,
    evidence,
    gradients_evidence,
    init_evidence,
    need,
    pinn_evidence,
    problems,
    regression_evidence,
    solve_cost_evidence,
    speed_evidence,
    training_evidence,
)
from .gradients import gradient_error, gradient_study  # noqa: F401
from .initialisation import init_study  # noqa: F401
from .lsgd_regression import (  # noqa: F401
    _FIT_METHOD,
    METHODS,
    _fit,
    _grid,
    _steps,
    default_lrs,
    final_errors,
    iteration_cost,
    iteration_ratio,
    qr_errors,
    regression_problem,
    regression_study,
    time_to_target,
    tune_lr,
    validation_rows,
)
from .measurements import (  # noqa: F401
    _present,
    accuracy_measurement,
    box_open_cost,
    init_comparison,
    lsgd_measurement,
    not_run_reason,
    per_iteration_walltime,
    ratio_shown,
    regression_rows,
    same_network_measurements,
    seeds_to_settle,
    settle_text,
    training_measurements,
    walltime_measurement,
)
from .networks import VARIANTS, _inputs, _network, variant_name  # noqa: F401
from .paper import _ABSTRACT, _ACCELERATE, _DRAMATIC, _SAME  # noqa: F401
from .pinn import _pinn_setup, pinn_seeds, pinn_study, tune_pinn_lr  # noqa: F401
from .rules import (  # noqa: F401
    ACC_TOL,
    FULL_DEPTH,
    LOSS_RTOL,
    MAX_MGRIT_ITER,
    MIN_GAIN,
    SAME_NET_RTOL,
    SAME_PRED,
    SOLVE_ACC_FACTOR,
    SOLVE_COST_BAR,
    Comparison,
    _cmp,
    _gap_example,
    _log_example,
    bounded_mgrit_iterations,
    box_wins,
    cheap_and_as_accurate,
    faster_on_cores,
    like_serial_training,
    same_trained_network,
    ten_times,
)
from .speed import (  # noqa: F401
    MODEL_VARIANTS,
    max_model_speedup,
    processors_for,
    processors_text,
    time_passes,
    work_model,
)
from .text import (  # noqa: F401
    claim_texts,
    init_table,
    part1_texts,
    part2_texts,
    sentences,
    settings,
)
from .training import (  # noqa: F401
    lbfgs_seeds,
    majority_accuracy,
    serial_equals_parallel,
    training_seeds,
    training_study,
)
