"""Chapter 01: configurations per scale, claims, protocols around :mod:`fasttrain.methods.linearized`.

Each function runs one measurement of the chapter and returns plain
records (lists of dicts) that the chapter tabulates and plots.  The
protocol, stated once here and in the chapter:

* network: two-layer, ``Config.activation``, standard parameterisation,
  LeCun-normal weights, softmax cross-entropy over ``k = 2`` logits;
* data: stratified 80/20 split fixed by the seed, features standardised
  with the training split's statistics; each seed of ``DataSetup.seeds``
  (offsets to the notebook's seed) draws its own split and initial network;
* GD: full batch, constant learning rate, jitted chunks; its clock starts
  after compilation (compilation reported separately);
* ODE: BDF with the analytic Jacobian, ``rtol``/``atol`` from the config,
  stopped by the accuracy event; its clock is the solve; the set-up
  (network Jacobian ``J0`` incl. its compilation, and the NTK product) is
  reported separately.  "Total" adds set-up (ODE) or compilation (GD);
* timing: NumPy/SciPy's BLAS pinned to one thread; GD and the ODE run in
  alternating order across seeds (:func:`time_to_accuracy`), the Jacobian
  comparison in interleaved rounds (:func:`fd_vs_analytic`);
* test accuracy: at the highest threshold both methods reached, GD's
  network taken at the step at which it reached that training accuracy.

The claims are declared in :data:`CLAIMS`; their rules are
:func:`ode_faster_at_every_threshold` and :func:`comparably_high_about_93`
(and two generic thresholds).

The package's modules, in the order their imports run (each imports only those above it):

* :mod:`.paper`: the paper's values (Tables 1 and 2, the test accuracy) and the book's reading of
  "comparably high" and "around 93 %";
* :mod:`.configs`: :class:`Config` per scale, the data sets (:func:`load`, Banknote with raw features);
* :mod:`.rules`: the rules that decide the claims, each with its statistic, and the goals they compare with;
* :mod:`.claims`: the declared claims (``CLAIMS``: the paper's words, value, location, kind, rule) and
  the smoke run's regression reference (``REGRESSION``);
* :mod:`.measurements`: the measurements the rules decide on, built from the protocols' rows;
* :mod:`.networks`: a network at initialisation and its linearisation (:class:`Setup`), test
  accuracies, GD's parameters at checkpoints;
* :mod:`.tables`, :mod:`.solvers`, :mod:`.learning_rates`, :mod:`.linearisation`, :mod:`.jacobians`,
  :mod:`.reach`: the protocols of the chapter's sections (Tables 1 and 2 with the small widths; the
  solver study and the flow's stiffness; the speed-up against the learning rate, the largest rate
  stable on every seed, the ties and the raw features; where the network and its linearisation part
  ways; the analytic Jacobian against finite differences; can GD reach 0.95 on MAGIC?);
* :mod:`.ties`: the ties of GD with the solvers per seed and the raw-feature sweep (moved from the
  chapter's cells);
* :mod:`.width_selection`: MAGIC's width selected on a validation split of the training data, and
  the Tables' MAGIC seeds at the chosen width (``test-accuracy-magic``);
* :mod:`.editions`: the previous edition's published results and the verdicts that moved;
* :mod:`.evidence`: what each claim is decided on (``evidence(out, cfg)`` for ``record_all``);
* :mod:`.text`: the numbers the prose quotes (``sentences``) and the settings table.

Everything is re-exported here (and the module aliases ``data_mod`` and ``L`` the chapter and the
tests reach through it), so the chapter keeps ``import fasttrain.chapters.ch01_linear_ivp as S``.
"""

from ...core import data as data_mod  # noqa: F401
from ...methods import linearized as L  # noqa: F401
from .claims import (  # noqa: F401
    ALL_DIVERGED,
    CLAIMS,
    GROWTH_FROM,
    GROWTH_TO,
    MEMORY_BAR,
    NEITHER_REACHED,
    NO_GAP,
    NO_STABLE_RATE,
    NOT_BOTH_090,
    REGRESSION,
    SCALING_BAR,
    SCALING_PARTLY,
    _acc_spec,
    _adaptive_spec,
    _best_lr_spec,
    _route_spec,
    _speedup_spec,
)
from .configs import CONFIGS, LOADERS, Config, DataSetup, config, load, load_banknote_unstandardised  # noqa: F401
from .editions import PUBLISHED, moved_verdicts  # noqa: F401
from .evidence import SECTIONS, accuracy_rows, evidence, extra_records, selection_words  # noqa: F401
from .jacobians import fd_vs_analytic  # noqa: F401
from .learning_rates import (  # noqa: F401
    crossing,
    crossing_words,
    gd_sweep,
    gd_time_to,
    largest_lr_stable_on_every_seed,
    lr_sweep,
    pair_words,
    route_time,
    ties_of,
)
from .linearisation import width_study  # noqa: F401
from .measurements import (  # noqa: F401
    gap_slopes,
    growth_ratios,
    reach_values,
    relative_budget,
    route_ratios,
    scaling_exponents,
    speedups_by_threshold,
    speedups_by_width,
    stiffness_counts,
)
from .networks import Setup, _gd_checkpoints, _gd_test_acc, _lin_test_acc, _net_test_acc, make_setup  # noqa: F401
from .paper import (  # noqa: F401
    AROUND_93,
    COMPARABLE_GAP,
    PAPER_GD_095_OVER_080,
    PAPER_TABLES,
    PAPER_TEST_ACCURACY,
)
from .reach import gd_reach, magic_reach_study, pick_reach_config  # noqa: F401
from .rules import (  # noqa: F401
    _R7,
    _SP,
    BLOWUP_SLOPE,
    EVENT_RTOL,
    FD_GOAL,
    NO_COMMON_THRESHOLD,
    NO_WIDTH_SELECTION,
    ROUTE_GOAL,
    RouteRatios,
    SpeedupsByThreshold,
    SpeedupsByWidth,
    StiffnessCounts,
    _acc_example,
    _route_example,
    _slope,
    _speedup_example,
    _who_reached,
    _width_example,
    bdf_handles_stiffness,
    comparably_high_about_93,
    comparably_high_at_selected_width,
    faster_at_every_small_width,
    ode_faster_at_every_threshold,
    route_speedup_at_every_threshold,
)
from .solvers import (  # noqa: F401
    NO_RATIO_AGREED,
    NO_RATIO_BDF,
    ROUTES,
    bdf_scaling,
    formulations_agree,
    memory_study,
    ratio_table,
    route_settle_cost,
    solve_memory,
    solver_studies,
    solver_study,
    stiffness_at_events,
    stiffness_study,
)
from .tables import _ratio, tables_summary, test_accuracies, time_to_accuracy  # noqa: F401
from .text import TEXT_SECTIONS, claim_glue, glance_budget, sentences, settings  # noqa: F401
from .ties import (  # noqa: F401
    SWEEP_THRESHOLD,
    TIE_KEYS,
    fastest_route_time,
    implied_lr_text,
    raw_crossings,
    raw_sweep,
    tie_summaries,
    tie_table,
    ties_per_seed,
)
from .width_selection import (  # noqa: F401
    CANDIDATE_COLUMNS,
    SPLIT_OFFSET,
    VALIDATION_FRACTION,
    candidates_table,
    score_width,
    select_width,
    selection_split,
    width_selection_study,
)
