"""Chapter 03's experiments: protocols around :mod:`fasttrain.methods.random_bases`.

Each function runs one measurement of the chapter and returns plain
records (lists of dicts) that the chapter tabulates and plots.  The
protocol, stated once here and in the chapter:

* data: the configuration's training/test split (book scale: the vendored
  MNIST subset, 5 000 training and 10 000 test images), the paper's
  augmentation, batch 32, a fresh permutation per epoch, test accuracy after
  every epoch; every run of a chapter starts from the same initial network
  (``seed``) and sees the same batches;
* methods: the paper's learning rates (:func:`fasttrain.methods.random_bases.learning_rates`),
  constant, no momentum; RBD and FPD with d = ``Config.d`` directions;
  Table 1's RBD uses ``Config.rbd_distribution`` and FPD
  ``Config.fpd_distribution`` (structured directions, see the chapter for
  why), Table 2 compares the direction distributions at equal budgets;
* seeds: every run has a seed (initial network, batches, directions); the
  claims are measured over ``Config.seeds`` / ``cnn_seeds`` / ``ablation_seeds`` /
  ``dense_seeds`` and decided on the seed intervals by the rules of ``CLAIMS``;
* timings: interleaved rounds (:func:`fasttrain.core.timing.interleaved`),
  compilation excluded, per-round ratios of runs in one process only.

:class:`Study` memoises runs, so a configuration that several sections use
(e.g. Table 1's RBD is also the d = 250 point of the d sweep) is trained
once per seed (the seed is part of the memo's key).

The package's modules, in the order their imports run (each imports only those above it):

* :mod:`.paper`: the paper's values (learning rates, Table 1);
* :mod:`.configs`: :class:`Config` per scale, data loading, the method and variant names;
* :mod:`.rules`: the rules that decide the claims, each with its statistic;
* :mod:`.claims`: the declared claims (``CLAIMS``: the paper's words, value, location, kind, rule);
* :mod:`.measurements`: multi-seed containers and the measurements built from Table 1's rows;
* :mod:`.study`: :class:`Study`, which memoises the runs the sections share;
* :mod:`.table1_runs`, :mod:`.table2_runs`, :mod:`.sweeps`, :mod:`.step_costs`, :mod:`.devices`:
  the protocols of the chapter's sections (Table 1 with the learning-rate selection, the long runs
  and the budget curve; Table 2's direction distributions; the d sweep, compartments, compression
  and switching; the step costs; the multi-device runs);
* :mod:`.compartment_costs`: the compartments' time per step (one subspace against chunk
  compartments, per network size).

Everything is re-exported here, so the chapter keeps ``import fasttrain.chapters.ch03_random_bases as S``.
"""

from .claims import (  # noqa: F401
    _OVER_11,
    CLAIMS,
    COMPRESSION_TASK,
    DATA_ABSENT,
    NO_BUDGET_CURVE,
    NO_CIFAR_COMPRESSION,
    NO_RESNET8,
    OVER_11_PERCENT,
    Q_COMPRESSION,
    Q_FRACTION,
    Q_SCALING,
    Q_TABLE1,
    REGRESSION,
    ROUND_STATISTIC,
    _over_11_percent,
    _table1_specs,
)
from .compartment_costs import (  # noqa: F401
    compartment_time_measurements,
    compartment_timing,
    evidence_compartment_time,
)
from .configs import (  # noqa: F401
    CONFIGS,
    DENSE,
    METHODS,
    SLOW,
    VARIANTS,
    Config,
    augmentation_for,
    config,
    learning_rates,
    load_data,
    use_xla_flags,
)
from .devices import (  # noqa: F401
    _distributed_runs,
    _exchanged_bytes,
    across_processes,
    communication,
    distributed_d,
    distributed_study,
    distributed_summary,
    evidence_scaling,
    exchanged,
    main,
)
from .evidence import SECTIONS, evidence, facts  # noqa: F401
from .measurements import Several, dataset_key, fraction_measurement, table1_measurements  # noqa: F401
from .paper import PAPER_LR, PAPER_TABLE1, TABLE1_SOURCE, paper_gap_closed  # noqa: F401
from .rules import (  # noqa: F401
    _B,
    _LONG_UNAVAILABLE,
    _ONE,
    _ORDER_OK,
    _T,
    _W,
    BASIS_TOL,
    CHANCE,
    FRACTION_PARTLY,
    FRACTION_TOL,
    GAP_UP_TO,
    LEAD_MARGIN,
    LONG_SETTLE,
    SINGLE_RUN_TOL,
    T2_SETTLE,
    TIE_BAND,
    _acc_text,
    _pair_state,
    _settle,
    almost_sgd,
    basis_alike,
    beats_everywhere,
    budget_limited,
    closes_gap,
    compartments_help,
    fraction_of_sgd,
    fraction_one_run,
    gaussian_beats,
    increasing_in_d,
    like_gaussian,
    more_samples_help,
    on_log_scale,
    one_run_band,
    ordering_one_run,
    switch_works,
    table1_ordering,
    trained_like_gaussian,
    untestable_when,
    worst_of,
)
from .step_costs import (  # noqa: F401
    STRUCTURED_STEP_CHANGES,
    _steps_loop,
    _steps_runner,
    call_overhead,
    evidence_memory,
    evidence_timing,
    evidence_timing_vs_d,
    fused_kernels,
    memory,
    structured_step_facts,
    time_to_target,
    timing,
    timing_vs_d,
    timing_vs_d_measurements,
)
from .study import Study, methods  # noqa: F401
from .sweeps import (  # noqa: F401
    TARGET_OF_SMALLEST_D,
    _shape,
    compare_counts,
    compartment_measurements,
    compression,
    d_sweep,
    evidence_switching,
    monotone,
    switch_epochs,
    switch_summary,
    switching,
    switching_over_seeds,
    with_steps_to_target,
)
from .table1_runs import (  # noqa: F401
    DIVERGENCE_PROTOCOL,
    LONG_MODEL,
    NO_LONG_RUNS,
    PAPER_SGD_FC,
    SELECTED,
    _check_grids,
    _method_at,
    basis_rows,
    budget_curve,
    budget_measurements,
    evidence_bases,
    evidence_nes,
    evidence_table1,
    extra_dataset_rows,
    fallback_factors,
    gap_closed,
    grid_for,
    long_measurements,
    long_protocol,
    long_rows,
    long_runs,
    lr_selection,
    nes_confound,
    nes_population_rows,
    select_rates,
    table1,
    table1_section,
)
from .table2_runs import (  # noqa: F401
    T2_COMPARED,
    evidence_table2,
    table2,
    table2_measurements,
    table2_says,
)
from .text import KEYS, distributed_tables, lr_tables, sentences, settings  # noqa: F401
