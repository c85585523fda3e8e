"""The sections of each chapter for :mod:`fasttrain.core.plan`: what each runs, at which shapes,
how many times, and how much memory its arrays take.

One function per chapter, ``chNN(S, scale)``, takes the chapter module ``S`` (passed in by the
caller, so that this shared module imports no chapter) and returns its sections.  Every work
item's ``call`` runs the chapter's or the method's public code path once at the configuration's
shapes (one GD chunk, one Gauss-Newton step, one training step, one solve); ``count`` is how many
such calls the chapter makes (steps x seeds x rounds of the configuration, stated in ``how``).
Where a section stops early (GD at its last threshold, a solve at its event) the count is the
configured budget: an upper bound, said so in the section's note.  Nothing is built before the
plan calls a work item: the data check comes first.

Counts are the notebook's loops read off the chapter (sections named as in the notebook);
figures, tables and the claims cell cost seconds and are not counted.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from functools import cache, partial

import jax
import jax.numpy as jnp
import numpy as np

from ..core import models as M
from ..core.plan import DataNeed, Section, Timed, Work
from ..methods import gradient_descent as gdm
from ..methods import linearized as L
from ..methods import random_bases as rb

F32, F64 = 4, 8
#: the horizon (GD steps) of chapter 01's calibration solves; longer horizons are extrapolated
BDF_HORIZON = 2000.0
GD_FORMULA = (
    "GD: the hidden activations and their gradient, kept for the backward pass (4 n width "
    "float32) + parameters, gradient and optimiser state (4 P float32)"
)
#: chapter 02's steps are timed up to these sizes (points; n m d numbers), larger ones extrapolated
GN_CAL_N = 1024
GN_CAL_NMD = 2**28
#: chapter 01's width study is timed up to this width; wider ones are extrapolated
WIDTH_CAL = 256
BANKNOTE = DataNeed("data_banknote_authentication.txt")
MAGIC = DataNeed("magic04.data")
MNIST_SUBSET = (
    DataNeed("mnist_train_5k.csv.gz"),
    DataNeed("t10k-images-idx3-ubyte.gz"),
    DataNeed("t10k-labels-idx1-ubyte.gz"),
)
#: training points of the vendored sets after the chapters' 80/20 split
N_TRAIN = {"banknote": 1097, "magic": 15216}
N_FEATURES = {"banknote": 4, "magic": 10}


def two_point(run, a: int):
    """A calibration call for ``run(steps)``, a chapter function that compiles (once, or on every
    call) and then runs ``steps`` steps: runs ``a``, ``a`` again and ``2a`` steps and returns
    :class:`~fasttrain.core.plan.Timed` with the cost of ``a`` steps (the third run less the
    second: compilation cancels whether or not it is cached) and the first run's rest (its
    compilation and set-up)."""

    def call():
        t = [time.perf_counter()]
        for k in (a, a, 2 * a):
            run(k)  # the chapters' functions return host values: finished when they return
            t.append(time.perf_counter())
        first, again, double = (t[i + 1] - t[i] for i in range(3))
        per_a = max(double - again, 1e-6)
        return Timed(per_a, max(first - per_a, 0.0))

    return call


# =============================================================================== chapter 01


def ch01(S, scale: str) -> list[Section]:
    cfg = S.config(scale)
    memo: dict = {}

    def setup(name, width, n_train, seed=0):
        key = (name, width, n_train, seed)
        if key not in memo:
            ds = S.load(name, seed, n_train, cfg.test_fraction)
            memo[key] = S.make_setup(ds, width, cfg.activation, seed)
        return memo[key]

    def n_of(d_name, n_train):
        return N_TRAIN[d_name] if n_train is None else n_train

    def params(d_name, width, k=2):
        return width * (N_FEATURES[d_name] + 1) + (width + 1) * k

    def mem(d_name, width, n_train):
        n, P = n_of(d_name, n_train), params(d_name, width)
        nk = 2 * n
        dim = min(nk, P)
        return 1.25 * nk * P * F32 + (nk * nk * F64 if nk <= P else 0) + 3 * dim * dim * F64

    def gd_mem(d_name, width, n_train):
        n = n_of(d_name, n_train)
        return 4 * n * width * F32 + 4 * params(d_name, width) * F32

    formula = (
        "J0 (nk x P, float32; its test copy 1/4 of it) + Theta0 (nk)^2 float64 in function space "
        "+ BDF's Jacobian, LU and a copy (3 dim^2 float64, dim = min(nk, P))"
    )

    def gd_call(name, width, n_train, chunks=3, lr=None):
        def call():  # the network and the data only: GD needs no Jacobian
            key = (name, n_train)
            if key not in memo:
                memo[key] = S.load(name, 0, n_train, cfg.test_fraction)
            ds = memo[key]
            params0 = L.init_two_layer(
                jax.random.PRNGKey(0), ds.x_train.shape[1], width, ds.n_classes
            )
            r = gdm.full_batch_gd(
                partial(L.two_layer, activation=cfg.activation),
                params0,
                ds.x_train,
                ds.y_train,
                lr or cfg.lr,
                chunks * cfg.gd_chunk,
                (),
                chunk=cfg.gd_chunk,
            )
            return Timed(r.run_time, r.compile_time)

        return call

    def bdf_solve(name, width, n_train, horizon):
        def call():
            su = setup(name, width, n_train)
            return L.solve_to_thresholds(
                su.problem(cfg.lr), horizon, cfg.thresholds, su.space, cfg.rtol, cfg.atol
            )

        return call

    # a solve to the paper's horizon (2e5 GD steps) takes minutes where no event stops it (MAGIC
    # never reaches 0.95): calibrated to BDF_HORIZON and extrapolated by (t_max / BDF_HORIZON)^s,
    # s = the stiffness claim's bar on BDF's growth of work with the horizon (an upper bound)
    slope = getattr(S, "BLOWUP_SLOPE", 0.5)
    bdf_factor = max(cfg.t_max / BDF_HORIZON, 1.0) ** slope

    def bdf_work(label, name, width, n_train, count, how, key):
        w = Work(label, bdf_solve(name, width, n_train, cfg.t_max), count, how, compiles=0, key=key)
        if bdf_factor > 1:
            w = replace(
                w,
                call=None,
                fallback=bdf_solve(name, width, n_train, BDF_HORIZON),
                fallback_factor=bdf_factor,
                fallback_how=f"solved to t = {BDF_HORIZON:g} of {cfg.t_max:g}; BDF's work ~ t^{slope:g} "
                "at most (the stiffness claim's bar)",
            )
        return w

    chunks = 1
    tables, solver, sweep = [], [], []
    for d in cfg.datasets:
        ns = len(d.seeds)
        tables += [
            Work(
                f"{d.name}: J0 and Theta0 at width {d.width}, n = {n_of(d.name, d.n_train):,}",
                lambda d=d: S.make_setup(
                    S.load(d.name, 0, d.n_train, cfg.test_fraction), d.width, cfg.activation, 0
                ),
                ns,
                f"{ns} seeds",
                compiles=1,
                memory_bytes=mem(d.name, d.width, d.n_train),
            ),
            Work(
                f"{d.name}: GD, {chunks * cfg.gd_chunk} steps",
                gd_call(d.name, d.width, d.n_train, chunks),
                cfg.gd_max_steps / (chunks * cfg.gd_chunk) * ns,
                f"budget {cfg.gd_max_steps:,} steps x {ns} seeds",
                compiles=ns,
                key=f"gd-{d.name}",
            ),
            bdf_work(
                f"{d.name}: one BDF solve to the thresholds",
                d.name,
                d.width,
                d.n_train,
                ns,
                f"{ns} seeds",
                f"bdf-{d.name}",
            ),
        ]
        rounds = cfg.solver_rounds
        solver.append(
            bdf_work(
                f"{d.name}: one BDF solve (each route costed as one)",
                d.name,
                d.width,
                d.n_train,
                3 * len(cfg.thresholds) * rounds,
                f"3 routes x {len(cfg.thresholds)} thresholds x {rounds} rounds",
                f"bdf-{d.name}",
            )
        )
        sweep += [
            Work(
                f"{d.name}: GD, {chunks * cfg.gd_chunk} steps",
                gd_call(d.name, d.width, d.n_train, chunks),
                cfg.sweep_max_steps / (chunks * cfg.gd_chunk) * len(cfg.lr_grid) * ns,
                f"budget {cfg.sweep_max_steps:,} steps x {len(cfg.lr_grid)} rates x {ns} seeds",
                compiles=len(cfg.lr_grid) * ns,
                key=f"gd-{d.name}",
            ),
            bdf_work(
                f"{d.name}: one BDF solve",
                d.name,
                d.width,
                d.n_train,
                len(cfg.lr_grid),
                f"{len(cfg.lr_grid)} rates",
                f"bdf-{d.name}",
            ),
        ]
    small = ("banknote", cfg.fd_width, cfg.fd_n_train)
    solver.append(
        bdf_work(
            f"Banknote subsample ({cfg.fd_n_train} points, width {cfg.fd_width}): one BDF solve",
            "banknote",
            cfg.fd_width,
            cfg.fd_n_train,
            2 * 3 * len(cfg.thresholds) * cfg.solver_rounds,
            f"2 losses x 3 routes x {len(cfg.thresholds)} thresholds x {cfg.solver_rounds} rounds",
            "bdf-small",
        )
    )
    stiff = [
        bdf_work(
            "Banknote subsample: one BDF solve",
            "banknote",
            cfg.fd_width,
            cfg.fd_n_train,
            2 * 2 * len(cfg.stiff_horizons),
            f"2 losses x 2 solvers x {len(cfg.stiff_horizons)} horizons",
            "bdf-small",
        )
    ]

    def width_call(w):
        return lambda: S.width_study(
            S.load("banknote", 0, cfg.width_study_n_train, cfg.test_fraction),
            (w,),
            cfg.activation,
            0,
            cfg.lr,
            cfg.width_horizon,
            cfg.rtol,
            cfg.atol,
        )

    widths = []
    w_ref = max([w for w in cfg.widths if w <= WIDTH_CAL] or [min(cfg.widths)])
    for w in cfg.widths:
        work = Work(
            f"width {w}: linear model, ODE and GD to t = {cfg.width_horizon:g}",
            width_call(w),
            1,
            "once",
            compiles=1,
            memory_bytes=mem("banknote", w, cfg.width_study_n_train),
            key=f"width-{w}",
        )
        if w > w_ref:  # minutes a call: from the widest width below, J0 and Theta0 ~ P ~ width
            work = replace(
                work,
                call=None,
                fallback=width_call(w_ref),
                fallback_factor=w / w_ref,
                fallback_how=f"from width {w_ref}, cost ~ width (J0, Theta0 ~ n k P)",
                key=f"width-{w_ref}",
            )
        widths.append(work)

    def fd_call(horizon):
        return lambda: S.fd_vs_analytic(
            S.load("banknote", 0, cfg.fd_n_train, cfg.test_fraction),
            cfg.fd_width,
            cfg.activation,
            0,
            cfg.lr,
            0.95,
            horizon,
            cfg.rtol,
            cfg.atol,
            rounds=1,
        )

    fd = [
        Work(
            f"analytic and finite-difference BDF solves, n = {cfg.fd_n_train}, width {cfg.fd_width}",
            fd_call(cfg.t_max),
            cfg.timing_rounds,
            f"{cfg.timing_rounds} rounds (a call = one round of both)",
            compiles=1,
        )
    ]
    if bdf_factor > 1:
        fd[0] = replace(
            fd[0],
            call=None,
            fallback=fd_call(BDF_HORIZON),
            fallback_factor=bdf_factor,
            fallback_how=f"solved to t = {BDF_HORIZON:g} of {cfg.t_max:g}; BDF's work ~ "
            f"t^{slope:g} at most",
        )
    reach = []
    n_cfg = sum(len(cs) for _, cs in cfg.magic_grid)
    for w, cs in cfg.magic_grid:
        reach.append(
            Work(
                f"MAGIC width {w}: GD, {chunks * cfg.gd_chunk} steps",
                gd_call("magic", w, cfg.magic_n_train, chunks, lr=64 / w),
                cfg.magic_steps / (chunks * cfg.gd_chunk) * len(cs),
                f"{cfg.magic_steps:,} steps x {len(cs)} rates",
                compiles=len(cs),
                key=f"gd-magic-{w}",
            )
        )
    reach.append(
        Work(
            f"MAGIC width {cfg.magic_grid[-1][0]}: the chosen setting on further seeds (costed at "
            "the widest)",
            gd_call("magic", cfg.magic_grid[-1][0], cfg.magic_n_train, chunks, lr=64 / w),
            cfg.magic_steps / (chunks * cfg.gd_chunk) * (len(cfg.magic_seeds) - 1),
            f"{cfg.magic_steps:,} steps x {len(cfg.magic_seeds) - 1} further seeds",
            compiles=len(cfg.magic_seeds) - 1,
            key=f"gd-magic-{w}",
        )
    )
    big = max(cfg.datasets, key=lambda d: mem(d.name, d.width, d.n_train))
    m_big = mem(big.name, big.width, big.n_train)
    data = (BANKNOTE, MAGIC)
    return [
        Section(
            "Tables 1-2: time to an accuracy",
            tuple(tables),
            m_big,
            formula + f" ({big.name}, width {big.width})",
            data,
            "GD counted to its step budget (it stops at the last threshold it reaches): an "
            "upper bound",
        ),
        Section(
            "The solver: BDF against RK45, Tsit5, eig",
            tuple(solver),
            m_big,
            formula + "; explicit routes stop at their wall cap "
            f"({cfg.explicit_cap_s:g} s a solve)",
            data,
            f"slow rounds: {cfg.solver_slow_rounds} instead of {cfg.solver_rounds} where a round "
            f"exceeds {cfg.solver_slow_round_s:g} s",
        ),
        Section(
            "Where the flow becomes stiff",
            tuple(stiff),
            mem(*small),
            formula + " (Banknote subsample)",
            (BANKNOTE,),
        ),
        Section(
            "The speed-up against the learning rate",
            tuple(sweep),
            m_big,
            formula,
            data,
            "GD counted to its budget at every rate: an upper bound",
        ),
        Section(
            "Network against linearisation (widths)",
            tuple(widths),
            max(mem("banknote", w, cfg.width_study_n_train) for w in cfg.widths),
            formula + f" (width {max(cfg.widths)})",
            (BANKNOTE,),
        ),
        Section(
            "Analytic against finite-difference Jacobian",
            tuple(fd),
            mem(*small),
            formula,
            (BANKNOTE,),
        ),
        Section(
            "Can GD reach 0.95 on MAGIC?",
            tuple(reach),
            gd_mem("magic", cfg.magic_grid[-1][0], cfg.magic_n_train),
            GD_FORMULA + f" (width {cfg.magic_grid[-1][0]}; {n_cfg} settings on the first seed)",
            (MAGIC,),
        ),
    ]


# =============================================================================== chapter 02


def _gn_step(S, method, n, m, d, cfg, x64):
    """A call of ``method``'s compiled step at (n, m, d) (chapter 02's own compile_step)."""

    @cache
    def built():
        with jax.enable_x64(x64):
            W, a, X, y = S.problem32(n, m, d, 0)
            if x64:
                W, a, X, y = (jnp.asarray(v, jnp.float64) for v in (W, a, X, y))
            key = jax.random.key(0)
            sf = cfg.kron_sketch_factor if method == "kron" else cfg.sketch_factor
            settings = dict(
                sketch_factor=sf,
                cg_tol=cfg.cg_tol if x64 else cfg.timing_cg_tol,
                factor="qr" if x64 else cfg.timing_factor,
                precond_apply=cfg.precond_apply,
                solve_apply=cfg.solve_apply,
            )
            if method == "gd":
                settings = {}
            step = S.compile_step(method, W, a, X, y, key, **settings)
        return step, (W, a, X, y, key)

    def call():
        step, args = built()
        with jax.enable_x64(x64):
            return step.fn(*args)

    return call


def _gn_bytes(n, m, d, b):
    return (n * m * (1 + d) + n * n * 4 + 2 * m * d) * b


GN_FORMULA = (
    "n x m activation pattern and n x md sketched Jacobian rows (n m (1 + d) numbers) + the n x n "
    "Gram, its factor and two work copies (4 n^2) + W twice (2 m d); b bytes a number"
)


def ch02(S, scale: str) -> list[Section]:
    cfg = S.config(scale)
    n, m, d = cfg.n, cfg.m, cfg.d
    ns = len(cfg.seeds)

    seen: set = set()

    def w(label, method, n_, m_, d_, count, how, x64=True, key=None):
        key = key or f"{method}-{n_}-{m_}-{d_}-{x64}"
        compiles = int(key not in seen)  # compile_step is cached: one compilation per shape
        seen.add(key)
        work = Work(
            f"{label}: {method} step at n = {n_}, m = {m_:,}, d = {d_}",
            _gn_step(S, method, n_, m_, d_, cfg, x64),
            count,
            how,
            compiles=compiles,
            memory_bytes=_gn_bytes(n_, m_, d_, F64 if x64 else F32),
            key=key,
        )
        # a step above GN_CAL_N points or GN_CAL_NMD numbers takes seconds to minutes here: timed
        # at (n_c, m_c) and scaled by the Config's cost laws (GN ~ n^2 m; the others ~ n m)
        n_c = min(n_, GN_CAL_N)
        m_c = m_
        while n_c * m_c * d_ > GN_CAL_NMD and m_c // 2 >= 2 * n_c:
            m_c //= 2
        if (n_c, m_c) == (n_, m_):
            return work
        law = 2 if method == "gn" else 1
        return replace(
            work,
            call=None,
            fallback=_gn_step(S, method, n_c, m_c, d_, cfg, x64),
            fallback_factor=(n_ / n_c) ** law * (m_ / m_c),
            fallback_how=f"timed at n = {n_c}, m = {m_c:,}; {method} ~ n^{law} m (the Config's "
            "cost law; the sketch's log factor left out)",
            key=f"{method}-{n_c}-{m_c}-{d_}-{x64}",
        )

    conv = [
        w(
            "convergence",
            "gd",
            n,
            m,
            d,
            cfg.conv_gd_iters * 2,
            f"{cfg.conv_gd_iters} steps x 2 data",
        ),
        w(
            "convergence",
            "gn",
            n,
            m,
            d,
            cfg.iters * (2 * ns + 1),
            f"{cfg.iters} steps x (2 data x {ns} seeds + Banknote)",
        ),
        w(
            "convergence",
            "fast",
            n,
            m,
            d,
            cfg.iters * 2 * ns,
            f"{cfg.iters} steps x 2 data x {ns} seeds",
        ),
        w(
            "convergence",
            "kron",
            n,
            m,
            d,
            cfg.iters * 2 * ns,
            f"{cfg.iters} steps x 2 data x {ns} seeds",
        ),
    ]
    ne, me, neps = cfg.eps_n, cfg.eps_m, len(cfg.eps_sweep)
    cond = [
        w(
            "lambda study",
            "gd",
            ne,
            me,
            d,
            cfg.gd_iters * neps * ns,
            f"budget {cfg.gd_iters:,} x {neps} spreads x {ns} seeds",
        ),
        w(
            "lambda study",
            "gn",
            ne,
            me,
            d,
            cfg.iters * neps * ns * 2,
            f"{cfg.iters} x {neps} spreads x {ns} seeds x 2 labellings",
        ),
        w(
            "lambda study",
            "fast",
            ne,
            me,
            d,
            cfg.iters * neps * cfg.sketch_draws,
            f"{cfg.iters} x {neps} spreads x {cfg.sketch_draws} sketches",
        ),
    ]
    sketch = [
        w(
            "sketch sizes",
            "fast",
            n,
            m,
            d,
            len(cfg.sketch_factors) * cfg.sketch_draws * 2,
            f"{len(cfg.sketch_factors)} sizes x {cfg.sketch_draws} draws x (SRHT + Kronecker)",
            key=f"fast-{n}-{m}-{d}-True",
        ),
    ]
    rate = [
        w(
            "n study",
            "gn",
            k,
            cfg.rate_m_factor * k,
            cfg.rate_d,
            cfg.iters * ns,
            f"up to {cfg.iters} steps x {ns} seeds",
        )
        for k in cfg.rate_n_sweep
    ]
    sizes = [(k, cfg.sweep_m) for k in cfg.n_sweep] + [(cfg.sweep_n, k) for k in cfg.m_sweep]
    sizes = list(dict.fromkeys(sizes))
    timing = []
    for n_, m_ in sizes:
        rounds, warm = S.timing_rounds(n_, cfg)
        calls = rounds + warm + 2  # + the stage breakdown's calls
        how = f"{rounds} rounds + {warm} warm-up + 2 breakdown calls"
        for meth in ("gn", "fast", "kron"):
            timing.append(w("timing", meth, n_, m_, cfg.sweep_d, calls, how, x64=False))
    # the stage breakdown is counted in section 5 (2 calls per size and method); here the
    # preconditioner builds (~ m: timed at the smallest m, the others scaled) and the compile-only
    # memory study (every d costed as the largest, which it compiles at the largest n)
    one_round = replace(cfg, build_rounds=1)
    m0 = min(cfg.m_sweep)

    def build(m_):
        return lambda: S.build_times(cfg.sweep_n, m_, cfg.sweep_d, one_round, 0)

    stages = [
        Work(
            f"preconditioner builds at n = {cfg.sweep_n}, m = {m_:,}, one round",
            build(m_) if m_ == m0 else None,
            cfg.build_rounds,
            f"{cfg.build_rounds} rounds",
            key=f"build-{m0}",
            fallback=None if m_ == m0 else build(m0),
            fallback_factor=m_ / m0,
            fallback_how=f"from m = {m0:,}, a build ~ m (sketch and pattern)",
        )
        for m_ in cfg.m_sweep
    ]
    d_max = max(cfg.memory_d_sweep)
    stages += [
        Work(
            f"peak memory of the compiled steps at d = {d_} (compile only, n = "
            f"{cfg.n_sweep[-1]}, m = {cfg.sweep_m:,})",
            lambda: S.memory_vs_d(cfg.n_sweep[-1], cfg.sweep_m, (d_max,), cfg),
            1,
            "once" if d_ == d_max else f"once, costed as d = {d_max}",
            key="memory-d",
        )
        for d_ in cfg.memory_d_sweep
    ]
    m_t = max(_gn_bytes(k, mm, cfg.sweep_d, F32) for k, mm in sizes)
    x64_bytes = _gn_bytes(n, m, d, F64)
    data = (BANKNOTE, *MNIST_SUBSET)
    return [
        Section(
            "1. Convergence (float64)",
            tuple(conv),
            x64_bytes,
            GN_FORMULA + ", b = 8",
            data,
            "GN steps stop early at the float64 floor: an upper bound",
        ),
        Section(
            "2. Dependence on conditioning",
            tuple(cond),
            _gn_bytes(ne, me, d, F64),
            GN_FORMULA + ", b = 8",
            (),
            "GD counted to its budget: an upper bound",
        ),
        Section("3. Sketch size", tuple(sketch), x64_bytes, GN_FORMULA + ", b = 8", data),
        Section(
            "4. Dependence on n",
            tuple(rate),
            max(_gn_bytes(k, cfg.rate_m_factor * k, cfg.rate_d, F64) for k in cfg.rate_n_sweep),
            GN_FORMULA + ", b = 8",
            (),
            "GN iterations to the target, at most the configured iterations",
        ),
        Section(
            "5. Cost per iteration (float32)",
            tuple(timing),
            m_t,
            GN_FORMULA + ", b = 4",
            (),
            "the bandwidth study and the crossover fits not counted",
        ),
        Section(
            "5.1 Preconditioner builds, memory against d",
            tuple(stages),
            m_t,
            GN_FORMULA + ", b = 4",
            (),
            "the bandwidth study not counted",
        ),
    ]


# =============================================================================== chapter 03


def _rb_step(model_name, method, shape, n_classes=10, batch=32, inner=5):
    """``inner`` training steps of ``method`` on ``model_name`` through the method's own step runner
    (:func:`fasttrain.methods.random_bases.step_runner`: a jitted loop, or a jitted step called from
    Python for convolutional models, as the chapter trains them), at the batch's shape (random
    images: a step's cost does not depend on the pixel values)."""

    @cache
    def built():
        model = M.get_model(model_name, n_classes)
        key = jax.random.key(0)
        lead = (method.batches_per_step,) if getattr(method, "batches_per_step", 1) > 1 else ()
        x = jax.random.uniform(key, (*lead, batch, *shape), jnp.float32)
        y = jax.random.randint(key, (*lead, batch), 0, n_classes)
        params = model.init(jax.random.key(1), shape)
        many, aux = rb.step_runner(method, rb.make_loss(model.apply), params, x, y, inner)
        return many, params, aux

    def call():
        many, p, a = built()
        return many(p, a)

    return call


def ch03(S, scale: str) -> list[Section]:
    cfg = S.config(scale)
    inner = 2
    if cfg.dataset == "mnist-subset":
        data, n_full = MNIST_SUBSET, 5000
    else:
        data, n_full = (
            (DataNeed(cfg.dataset, "download"),),
            60_000 if "mnist" in cfg.dataset else 50_000,
        )
    shape = (32, 32, 3) if cfg.dataset == "cifar10" else (28, 28, 1)
    n_train = cfg.n_train or n_full
    spe = math.ceil(n_train / cfg.batch_size)  # steps per epoch
    meth = {m: S.methods(cfg, m, cfg.dataset) for m in cfg.models}
    keys: dict = {}

    def step(model, name, method=None, d=None, steps=1.0, runs=1, how=""):
        method = method or meth[model][name]
        if d is not None:
            method = replace(method, d=d)
        key = (model, repr(method))
        keys.setdefault(key, f"rb-{len(keys)}")
        return Work(
            f"{model.upper()} {name}{'' if d is None else f' d = {d}'}: {inner} steps",
            _rb_step(model, method, shape, batch=cfg.batch_size, inner=inner),
            steps * runs / inner,
            how,
            compiles=runs,
            key=keys[key],
        )

    t1 = []
    for model in cfg.models:
        ep = cfg.epochs if model == "fc" else cfg.cnn_epochs
        seeds = len(cfg.seeds if model == "fc" else cfg.cnn_seeds)
        for name in ("FPD", "RBD", "SGD"):
            t1.append(
                step(
                    model,
                    name,
                    steps=ep * spe,
                    runs=seeds,
                    how=f"{ep} epochs x {spe:,} steps x {seeds} seeds",
                )
            )
        if model in cfg.nes_models:
            bps = meth[model]["NES"].batches_per_step  # per_member: one batch per member a step
            nspe = math.ceil((cfg.nes_n_train or n_train) / (cfg.batch_size * bps))
            nseeds = len(cfg.cnn_seeds)
            t1.append(
                step(
                    model,
                    "NES",
                    steps=cfg.nes_epochs * nspe,
                    runs=nseeds,
                    how=f"{cfg.nes_epochs} epochs x {nspe:,} steps x {nseeds} seeds",
                )
            )
    budget = []
    if cfg.budget_epochs:
        be, bs = max(cfg.budget_epochs), len(cfg.budget_seeds)
        for name in ("FPD", "RBD", "SGD"):
            budget.append(
                step(
                    "fc",
                    name,
                    steps=be * spe,
                    runs=bs,
                    how=f"{be} epochs x {spe:,} steps x {bs} seeds",
                )
            )
    sel = []
    n_sel = math.ceil((n_train - cfg.val_size) / cfg.batch_size)
    for model in cfg.models:
        grid = S.grid_for(cfg, model)
        ep = cfg.epochs if model == "fc" else cfg.cnn_epochs
        seeds = len(cfg.select_seeds) if model == "fc" else 1
        for name in ("FPD", "RBD", "SGD"):
            sel.append(
                step(
                    model,
                    name,
                    steps=ep * n_sel,
                    runs=len(grid) * seeds,
                    how=f"{len(grid)} rates x {ep} epochs x {n_sel:,} steps x {seeds} seed(s)",
                )
            )
        if model == "cnn" and cfg.cnn_long_epochs:
            for name in ("FPD", "RBD", "SGD"):
                sel.append(
                    step(
                        model,
                        name,
                        steps=cfg.cnn_long_epochs * n_sel,
                        runs=len(cfg.cnn_long_seeds),
                        how=f"long runs: {cfg.cnn_long_epochs} epochs x {len(cfg.cnn_long_seeds)} seed(s)",
                    )
                )
    t2 = []
    rbd = meth["fc"]["RBD"]
    variants = getattr(S, "VARIANTS", {})  # Table 2's names -> the library's distribution
    for dist in cfg.distributions:
        seeds = len(cfg.dense_seeds)
        if cfg.slow_seeds and dist in ("gaussian", "uniform", "uniform-paper"):
            seeds = min(seeds, cfg.slow_seeds)
        t2.append(
            step(
                "fc",
                f"RBD {dist}",
                replace(rbd, distribution=variants.get(dist, (dist,))[0]),
                steps=cfg.trained_epochs * spe,
                runs=seeds,
                how=f"{cfg.trained_epochs} epochs x {spe:,} steps x {seeds} seeds",
            )
        )
    dsw = [
        step(
            "fc",
            "RBD",
            d=dd,
            steps=cfg.epochs * spe,
            runs=len(cfg.ablation_seeds),
            how=f"{cfg.epochs} epochs x {spe:,} steps x {len(cfg.ablation_seeds)} seeds",
        )
        for dd in cfg.d_sweep
    ]
    comp = []
    D = sum(
        x.size
        for x in jax.tree.leaves(
            jax.eval_shape(lambda: M.get_model("fc").init(jax.random.key(0), shape))
        )
    )
    for c in cfg.compression_factors:
        dd = max(1, D // c)
        for name in ("RBD", "FPD"):
            comp.append(
                step(
                    "fc",
                    name,
                    d=dd,
                    steps=cfg.epochs * spe,
                    runs=2 * len(cfg.ablation_seeds),
                    how=f"{cfg.epochs} epochs x {spe:,} steps x (one subspace, compartments) x "
                    f"{len(cfg.ablation_seeds)} seeds",
                )
            )
    sw = [
        step(
            "fc",
            n_,
            steps=cfg.epochs * spe,
            runs=len(cfg.seeds),
            how=f"RBD->SGD and SGD->RBD: {cfg.epochs} epochs x {len(cfg.seeds)} seeds",
        )
        for n_ in ("RBD", "SGD")
    ]
    dn = math.ceil((cfg.dist_n_train or n_train) / cfg.batch_size)
    dist = [
        step(
            "fc",
            "RBD",
            steps=cfg.dist_epochs * dn,
            runs=len(cfg.dist_groups),
            how=f"{len(cfg.dist_groups)} device counts x {cfg.dist_epochs} epochs x {dn:,} steps (one device's work)",
        )
    ]
    tim_n = cfg.timing_rounds * cfg.timing_inner
    tim = [
        step("fc", n_, steps=tim_n, how=f"{cfg.timing_rounds} rounds x {cfg.timing_inner} steps")
        for n_ in ("SGD", "RBD")
    ]
    tim += [
        step(
            "fc",
            f"RBD {dist_}",
            replace(rbd, distribution=variants.get(dist_, (dist_,))[0]),
            steps=tim_n,
            how=f"{cfg.timing_rounds} rounds x {cfg.timing_inner} steps",
        )
        for dist_ in ("gaussian", "hadamard")
    ]
    tim += [
        step(
            "fc",
            "RBD",
            d=dd,
            steps=2 * tim_n,
            how=f"2 kinds x {cfg.timing_rounds} rounds x {cfg.timing_inner} steps",
        )
        for dd in cfg.d_timing
    ]
    params_b = D * F32
    formula = (
        f"parameters, gradient, optimiser state and the new parameters (4 D float32, D = {D:,} for "
        "FC) + d x D directions where dense (Gaussian/uniform FPD keeps its basis) + the data set "
        f"({n_train:,} images float32)"
    )
    img = n_train * int(np.prod(shape)) * F32
    dense = max(cfg.d_sweep + (cfg.d,)) * D * F32
    out = [
        Section(
            "Table 1: NES, FPD, RBD, SGD",
            tuple(t1),
            4 * params_b + cfg.d * D * F32 + img,
            formula,
            data,
            "FC seeds run side by side (jax.vmap) in the chapter: an upper bound",
        ),
        Section("Budget curve", tuple(budget), 4 * params_b + img, formula, data),
        Section(
            "Learning rates chosen on validation", tuple(sel), 4 * params_b + img, formula, data
        ),
        Section(
            "Table 2: distribution of the directions",
            tuple(t2),
            4 * params_b + cfg.d * D * F32 + img,
            formula,
            data,
        ),
        Section(
            "Correlation and accuracy against d",
            tuple(dsw),
            4 * params_b + dense + img,
            formula,
            data,
        ),
        Section("RBD against FPD: compression", tuple(comp), 4 * params_b + img, formula, data),
        Section("Switching between RBD and SGD", tuple(sw), 4 * params_b + img, formula, data),
        Section(
            "Distribution over devices",
            tuple(dist),
            4 * params_b + img,
            formula,
            data,
            "costed as one device's work per step; the processes measurement not counted",
        ),
        Section("Time per step", tuple(tim), 4 * params_b + dense, formula, ()),
    ]
    for extra in cfg.extra_datasets:
        out[0] = replace(out[0], data=out[0].data + (DataNeed(extra, "download", optional=True),))
    return [s for s in out if s.works]


# =============================================================================== chapter 04


def passes_round(S, c1, depth: int) -> Timed:
    """One call of chapter 04's :func:`time_passes` (one interleaved round) timed as the chapter
    pays for it: the round itself (every variant's forward and loss + gradient once, the medians
    the call returns) is what each further round costs; everything else in the call (each
    function's compilation and first run, the untimed warm-up round) is paid once."""
    t0 = time.perf_counter()
    out = S.time_passes(c1, depth, 0, rounds=1)
    total = time.perf_counter() - t0
    one = sum(r["forward_s"] + r["fwd+bwd_s"] for r in out["rows"])
    return Timed(one, max(total - one, 0.0))


def ch04(S, scale: str) -> list[Section]:
    c1, c2 = S.lp_config(scale), S.lsgd_config(scale)
    n1 = len(c1.seeds)

    def conv(N):
        return lambda: S.convergence_study(replace(c1, conv_depths=(N,)), 0)

    def train_run(iters, steps):
        return S.training_study(
            replace(c1, train_steps=steps, eval_every=steps), 0, iters=iters, steps=steps
        )

    a1 = max(2, c1.train_steps // 10)
    lp_state = lambda N, b: N * b * c1.width * F32 * 3  # noqa: E731
    s1 = [
        Section(
            "(1) MGRIT converges to serial",
            tuple(
                Work(
                    f"depth {N}: {len(c1.conv_variants)} variants x up to {c1.conv_max_iter} iterations",
                    conv(N),
                    1,
                    "once",
                    compiles=1,
                )
                for N in c1.conv_depths
            ),
            lp_state(max(c1.conv_depths), c1.conv_batch),
            "layer states N x batch x width float32, three copies (fine, coarse, residual)",
            (),
        ),
        Section(
            "(2) Gradients from MGRIT",
            tuple(
                Work(
                    f"depth {N}: {len(c1.grad_iters)} iteration counts",
                    lambda N=N: S.gradient_study(c1, 0, depths=(N,)),
                    1,
                    "once",
                    compiles=1,
                )
                for N in c1.grad_depths
            ),
            lp_state(max(c1.grad_depths), c1.conv_batch) * 4,
            "forward states and adjoints N x batch x width float64, two copies",
            (),
        ),
        Section(
            "(3) Training: serial and layer-parallel",
            (
                Work(
                    f"serial and {c1.n_fwd} MGRIT iterations per step, {a1} steps",
                    two_point(lambda k: train_run((c1.n_fwd,), k), a1),
                    c1.train_steps / a1 * n1,
                    f"{c1.train_steps} steps x {n1} seeds",
                    compiles=n1,
                    repeats=0,
                ),
                Work(
                    f"further iteration counts {c1.train_iters}, {a1} steps",
                    two_point(lambda k: train_run(tuple(c1.train_iters), k), a1),
                    c1.train_steps / a1,
                    f"{c1.train_steps} steps, first seed",
                    compiles=1,
                    repeats=0,
                ),
            ),
            lp_state(c1.depth, c1.n_train) * 2,
            "states and adjoints depth x n x width float32 (full batch)",
            (),
            "L-BFGS runs and the serial-equals-parallel check not counted",
        ),
        Section(
            "(4) Speed: forward and backward passes",
            tuple(
                Work(
                    f"depth {N}: interleaved passes, one round",
                    lambda N=N: passes_round(S, c1, N),
                    c1.timing_rounds,
                    f"{c1.timing_rounds} rounds",
                    compiles=1,
                    repeats=0,
                )
                for N in c1.timing_depths
            ),
            lp_state(max(c1.timing_depths), c1.timing_batch) * 2,
            "states and adjoints N x batch x width float32",
            (),
        ),
    ]
    a2 = c2.chunk
    nb, ns2 = len(c2.benchmarks), len(c2.seeds)

    def fit(method, steps):
        bench = c2.benchmarks[-1]
        out = S.regression_study(
            replace(c2, adam_steps=steps, lsgd_steps=steps, chunk=min(c2.chunk, steps)),
            0,
            benchmarks=(bench,),
            methods=(method,),
        )
        return out

    steps_of = {"LSGD": c2.lsgd_steps, "Adam": c2.adam_steps, "GD": c2.adam_steps}
    reg = [
        Work(
            f"{meth_} on {c2.benchmarks[-1]}: {a2} iterations",
            two_point(lambda k, meth_=meth_: fit(meth_, k), a2),
            steps_of[meth_] / a2 * nb * ns2,
            f"{steps_of[meth_]:,} iterations x {nb} benchmarks x {ns2} seeds",
            compiles=nb,
            key=f"fit-{meth_}",
            repeats=0,
        )
        for meth_ in c2.methods
    ]
    tune = []
    if c2.tune:
        tune = [
            Work(
                f"{meth_}: {a2} iterations",
                two_point(lambda k, meth_=meth_: fit(meth_, k), a2),
                steps_of[meth_] / a2 * nb * len(c2.lr_grid),
                f"{len(c2.lr_grid)} rates x {steps_of[meth_]:,} iterations x {nb} benchmarks",
                compiles=0,
                key=f"fit-{meth_}",
                repeats=0,
            )
            for meth_ in c2.methods
        ]
    init = [
        Work(
            f"LSGD: {a2} iterations (costed as the regression's)",
            two_point(lambda k: fit("LSGD", k), a2),
            c2.init_steps / a2 * len(c2.init_methods) * len(c2.init_depths) * ns2,
            f"{c2.init_steps:,} iterations x {len(c2.init_methods)} inits x {len(c2.init_depths)} depths x {ns2} seeds",
            compiles=len(c2.init_depths),
            key="fit-LSGD",
            repeats=0,
        ),
    ]

    def pinn(k):
        out = S.pinn_study(
            replace(c2, pinn_steps=k, chunk=min(c2.chunk, k)), 0, problem=c2.pinn_problems[0]
        )
        return out

    pin = [
        Work(
            f"PINN LSGD and Adam: {a2} iterations",
            two_point(pinn, a2),
            c2.pinn_steps
            / a2
            * len(c2.pinn_problems)
            * ns2
            * (1 + (len(c2.lr_grid) if c2.tune else 0)),
            f"{c2.pinn_steps:,} iterations x {len(c2.pinn_problems)} problems x {ns2} seeds (+ rate selection)",
            compiles=len(c2.pinn_problems),
            repeats=0,
        )
    ]
    h = max(c2.widths)
    n2 = max(c2.n_train, c2.n_train_2d)
    s2 = [
        Section(
            "(5) LSGD against Adam and GD",
            tuple(reg + tune),
            (n2 * (h + 1) * 3 + (h + 1) ** 2 * 2) * F32,
            "basis n x (h + 1) and two work copies + the normal matrix and its factor (h + 1)^2, float32",
            (),
            "cost-per-iteration timing and QR errors not counted",
        ),
        Section(
            "(6) Box against He and Glorot",
            tuple(init),
            (n2 * (h + 1) * 3 + (h + 1) ** 2 * 2) * F32,
            "as (5)",
            (),
        ),
        Section(
            "(7) Physics-informed Poisson",
            tuple(pin),
            (c2.pinn_collocation * (max(c2.pinn_widths) + 1) * 4) * F64,
            "basis and its second derivative at the collocation points, float64",
            (),
        ),
    ]
    return s1 + s2


PLANS = {"01": ch01, "02": ch02, "03": ch03, "04": ch04}
