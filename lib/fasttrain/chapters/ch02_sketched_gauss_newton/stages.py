"""Chapter 02: the steps' stages: breakdown, cost laws, bandwidth study, preconditioner builds and
the labelled extrapolation.
"""

from __future__ import annotations

import math
import time

import jax
import jax.numpy as jnp
import numpy as np

from ...core.progress import progress_bar
from ...core.timing import interleaved
from ...methods import gauss_newton as gn
from .compiled_steps import problem32
from .configs import Config
from .power_laws import fit_power_law

#: the stages of :func:`fast_step_breakdown` and the exponent of each one's cost in n at fixed m, d
#: and s = c n, derived from the algorithm (flops or memory passes; logarithms ignored)
STAGE_LAWS = {
    "pattern": ("f and Pᵀ from W Xᵀ", "n m d", 1),
    "sketch": ("SRHT sketch S Jᵀ (paper)", "n · md log₂(md)", 1),
    "cholesky": ("factor of S Jᵀ: product 2sn², s = 4n, and Cholesky n³/3", "8n³ + n³/3", 3),
    "cg": ("PCG solve (SRHT preconditioner)", "k · 4nmd, k flat", 1),
    "kron_sketch": ("Kronecker sketch S_m Pᵀ", "n · m log₂ m", 1),
    "kron_factor": ("Kronecker factor: (QQᵀ)∘(XXᵀ)/m, s = 2n, and Cholesky", "4n³ + n²d + n³/3", 3),
    "kron_cg": ("PCG solve (Kronecker preconditioner)", "k · 4nmd, k flat", 1),
    "gram": ("exact GN: form G = (XXᵀ)∘(AAᵀ)/m", "2n²m", 2),
    "solve": ("exact GN: Cholesky solve", "n³/3", 3),
}


def fast_step_breakdown(n: int, m: int, d: int, cfg: Config, seed: int, repeats: int = 1) -> dict:
    """Seconds of each stage of the fast steps and of exact GN at one size (float32).

    Stages (:data:`STAGE_LAWS`): ``pattern`` (f and P^T from W X^T), ``sketch`` (S J^T),
    ``cholesky`` and ``qr`` (the factor of the sketch), ``cg`` (the PCG solve, iterations in
    ``cg_iters``); for the Kronecker sketch ``kron_sketch``, ``kron_factor``, ``kron_cg``
    (``kron_cg_iters``); for exact GN ``gram`` (G = J J^T) and ``solve`` (Cholesky solve).  The
    solves apply the triangular factors by ``cfg.precond_apply`` / ``cfg.solve_apply`` (the
    once-per-step inverse or blocks included in the stage); ``cg_triangular``,
    ``kron_cg_triangular`` and ``solve_triangular`` time the same solves by the previous
    edition's route (two ``solve_triangular`` calls per application), for the comparison;
    ``kron_sketch`` recomputes the pattern columns from ``W`` batch by batch
    (:func:`fasttrain.methods.gauss_newton.sketch_pattern_from_weights`, the route since 2 December) and
    ``kron_sketch_from_pattern`` times the previous edition's route (the columns of ``P^T``);
    ``kron_gram`` and ``kron_chol`` split ``kron_factor`` into the Schur-product Gram
    ``(Q Q^T) o (X X^T) / m`` (2 s n^2 flops) and its Cholesky factorisation (n^3 / 3).  The
    J^T z at the end of the steps is one CG-iteration's worth of work and is not listed.  Each
    stage: best of ``repeats`` calls after a warm-up call; from ``n >= cfg.large_n`` on a single
    call after ahead-of-time compilation (the largest stages take seconds), and ``qr`` only up to
    ``cfg.breakdown_qr_max_n`` (NaN above).
    """
    W, a, X, y = problem32(n, m, d, seed)
    s = gn.default_sketch_size(n, cfg.sketch_factor)
    sk = gn.default_sketch_size(n, cfg.kron_sketch_factor)
    key = jax.random.key(seed)
    S = gn.srht(key, m * d, s, dtype=jnp.float32)
    Sm = gn.srht(key, m, sk, dtype=jnp.float32)
    large = n >= cfg.large_n

    def timer(fn, *args):
        """``(seconds, output)``: best of ``repeats`` after a warm-up, or one call when large."""
        if large:
            fn, calls = jax.jit(fn).lower(*args).compile(), 1
        else:
            out, calls = jax.block_until_ready(fn(*args)), repeats  # warm-up: compiles
        best = float("inf")
        for _ in range(calls):
            t0 = time.perf_counter()
            out = jax.block_until_ready(fn(*args))
            best = min(best, time.perf_counter() - t0)
        return best, out

    def cg(PT, X, R, res, how):
        pre = gn.spd_solver(R, lower=False, how=how)  # the once-per-step work is in the stage
        z, k, _, _ = gn.pcg(lambda p: gn.gram_matvec(PT, X, p), res, pre, cfg.timing_cg_tol, 100)
        return z, k

    def solve(G, r, how):
        return gn.spd_solver(jax.scipy.linalg.cho_factor(G, lower=True)[0], True, how)(r)

    cg_new = jax.jit(lambda PT, X, R, res: cg(PT, X, R, res, cfg.precond_apply))
    cg_old = jax.jit(lambda PT, X, R, res: cg(PT, X, R, res, "triangular"))
    out = {"n": n, "m": m, "d": d, "s": s, "s_kron": sk, "calls": 1 if large else repeats}
    out["pattern"], (f, PT) = timer(jax.jit(gn.forward_and_pattern), W, a, X)
    res = f - y
    out["sketch"], JS = timer(jax.jit(gn.sketch_js), S, PT, X)
    factor = {
        fac: jax.jit(lambda JS, fac=fac: gn.preconditioner_from_js(JS, 0.0, fac))
        for fac in gn.FACTORS
    }
    out["cholesky"], R = timer(factor["cholesky"], JS)
    out["qr"] = timer(factor["qr"], JS)[0] if n <= cfg.breakdown_qr_max_n else float("nan")
    if cfg.timing_factor != "cholesky":
        R = factor[cfg.timing_factor](JS)
    out["cg"], (_, k) = timer(cg_new, PT, X, R, res)
    out["cg_iters"] = int(k)
    out["cg_triangular"] = timer(cg_old, PT, X, R, res)[0]
    del JS, R
    out["kron_sketch"], QS = timer(jax.jit(gn.sketch_qs_from_weights), Sm, W, a, X)
    out["kron_sketch_from_pattern"] = timer(jax.jit(gn.sketch_qs), Sm, PT)[0]
    kron_factor = jax.jit(lambda QS, X: gn.kron_preconditioner(QS, X, m, 0.0, cfg.timing_factor))
    out["kron_factor"], Rk = timer(kron_factor, QS, X)
    # the factor's two parts on their own: the Schur-product Gram and its Cholesky factorisation
    kron_gram = jax.jit(lambda QS, X: (QS @ QS.T) * (X @ X.T) / jnp.asarray(m, QS.dtype))
    out["kron_gram"], B = timer(kron_gram, QS, X)
    out["kron_chol"] = timer(jax.jit(jnp.linalg.cholesky), B)[0]
    del B
    out["kron_cg"], (_, k) = timer(cg_new, PT, X, Rk, res)
    out["kron_cg_iters"] = int(k)
    out["kron_cg_triangular"] = timer(cg_old, PT, X, Rk, res)[0]
    del QS, Rk, PT
    out["gram"], G = timer(jax.jit(gn.gram), W, a, X)
    out["solve"] = timer(jax.jit(lambda G, r: solve(G, r, cfg.solve_apply)), G, res)[0]
    out["solve_triangular"] = timer(jax.jit(lambda G, r: solve(G, r, "triangular")), G, res)[0]
    return out


#: the flop-rate probe of :func:`bandwidth_study`: one float32 product of two GEMM_N x GEMM_N matrices
GEMM_N = 2048


def bandwidth_study(n: int, m: int, d: int, cfg: Config, seed: int) -> dict:
    """Streaming bandwidth and flop rate of this machine beside the memory-bound work of the steps,
    timed in ``cfg.bandwidth_rounds`` interleaved rounds (after a warm-up call of each; BLAS pinned,
    :func:`fasttrain.core.timing.interleaved`) in one process, float32, at size (n, m, d).

    Probes over an array of the pattern's size (n x m): ``read`` (sum of the pattern ``P^T``:
    4nm bytes read), ``write`` (fill a fresh n x m array: 4nm bytes written, page first-touch
    included, as for every array XLA allocates); ``gemm`` (a GEMM_N³ product, 2 GEMM_N³ flops).
    Work of the steps: ``pattern`` (f and ``P^T`` from ``W X^T``: writes 4nm bytes), ``matvec`` (``G
    p = J (J^T p)``: two passes over ``P^T``, 8nm bytes read), ``precond`` (one application of the
    preconditioner ``(R^T R)^{-1}`` by the steps' route ``cfg.precond_apply``, its once-per-step
    work done beforehand: :func:`precond_bytes`), ``precond_setup`` (that once-per-step work: the
    blocks, or R⁻¹ for ``inverse``), ``cg_iter`` (one PCG iteration's heavy work: ``matvec`` +
    ``precond``), and the previous edition's route for comparison: ``precond_triangular`` (two
    ``solve_triangular`` calls, each reading the triangle: 4n² bytes) and ``cg_iter_triangular``,
    and the other once-per-step route (``precond_inverse`` or ``precond_blocked`` and its
    ``precond_setup_*``). ``R`` is a well-conditioned random upper-triangular matrix (the routes'
    cost does not depend on its values). Returns ``{"n", "m", "d", "route", "times": {name: [s per
    round]}, "bytes": {name: bytes}, "flops": {"gemm": flops}, "load": [...], "rounds"}``.
    """
    W, a, X, y = problem32(n, m, d, seed)
    pattern = jax.jit(gn.forward_and_pattern)
    f, PT = pattern(W, a, X)
    z = f - y
    kr = jax.random.key(seed + 11)
    R = jnp.triu(jax.random.normal(kr, (n, n), jnp.float32)) / math.sqrt(n) + 2 * jnp.eye(n)
    A = jax.random.normal(kr, (GEMM_N, GEMM_N), jnp.float32)

    how = cfg.precond_apply
    # the route's once-per-step work (R^{-1}, or the blocks), done outside the timed applications
    setups = {
        h: jax.jit(lambda R, h=h: gn.spd_solver_parts(R, False, h))
        for h in gn.PRECOND_APPLY
        if h != "triangular"
    }
    parts = {h: f(R) for h, f in setups.items()}

    def precond(parts, r, how=how):
        return gn.spd_solver_from_parts(parts, False, how)(r)

    def precond_old(R, r):
        return gn.spd_solver(R, False, "triangular")(r)

    def cg_iter(PT, X, parts, p):
        return precond(parts, gn.gram_matvec(PT, X, p))

    def cg_iter_old(PT, X, R, p):
        return precond_old(R, gn.gram_matvec(PT, X, p))

    probe = {
        "read": (jax.jit(jnp.sum), (PT,)),
        "write": (jax.jit(lambda c: jnp.full((m, n), c, jnp.float32)), (jnp.float32(1.0),)),
        "gemm": (jax.jit(lambda A: A @ A), (A,)),
        "pattern": (pattern, (W, a, X)),
        "matvec": (jax.jit(gn.gram_matvec), (PT, X, z)),
        "precond": (jax.jit(precond), (parts[how], z)),
        "precond_setup": (setups[how], (R,)),
        "cg_iter": (jax.jit(cg_iter), (PT, X, parts[how], z)),
        "precond_triangular": (jax.jit(precond_old), (R, z)),
        "cg_iter_triangular": (jax.jit(cg_iter_old), (PT, X, R, z)),
    }
    for h in setups:  # the other once-per-step route, for comparison
        if h != how:
            pre = jax.jit(lambda p, r, h=h: precond(p, r, h))
            probe |= {f"precond_{h}": (pre, (parts[h], z)), f"precond_setup_{h}": (setups[h], (R,))}
    timed = interleaved(
        {k: (lambda f=f, args=args: f(*args)) for k, (f, args) in probe.items()},
        rounds=cfg.bandwidth_rounds,
        warmup=1,
    )
    nm, pb, nn = 4 * n * m, precond_bytes(n, how), precond_bytes(n, "triangular")
    return {
        "n": n,
        "m": m,
        "d": d,
        "route": how,
        "times": timed["times"],
        "bytes": {
            "read": nm,
            "write": nm,
            "pattern": nm,
            "matvec": 2 * nm,
            "precond": pb,
            "cg_iter": 2 * nm + pb,
            "precond_triangular": nn,
            "cg_iter_triangular": 2 * nm + nn,
        }
        | {f"precond_{h}": precond_bytes(n, h) for h in setups if h != how},
        "flops": {"gemm": 2 * GEMM_N**3},
        "load": timed["load"],
        "rounds": timed["rounds"],
    }


#: which probe bounds each memory-bound piece of work of :func:`bandwidth_study`
BANDWIDTH_PROBE = {
    "pattern": "write",
    "matvec": "read",
    "precond": "read",
    "cg_iter": "read",
    "precond_triangular": "read",
    "cg_iter_triangular": "read",
    "precond_inverse": "read",
}


def precond_bytes(n: int, how: str, block: int = gn.TRI_BLOCK) -> int:
    """Bytes (float32) one application of the preconditioner reads by route ``how``
    (:data:`fasttrain.methods.gauss_newton.PRECOND_APPLY`): ``triangular`` reads the triangle of
    ``R`` twice (4n²), ``inverse`` the dense n x n ``R⁻¹`` twice (8n²), ``blocked`` the blocks
    above the diagonal twice and the inverted diagonal blocks twice (4n² + 4nb, b the block)."""
    if how not in gn.PRECOND_APPLY:
        raise ValueError(f"unknown route {how!r}: choose one of {', '.join(gn.PRECOND_APPLY)}")
    tri = 4 * n * n
    return {"triangular": tri, "inverse": 2 * tri, "blocked": tri + 4 * n * min(block, n)}[how]


def bandwidth_fractions(study: dict, work: str) -> list[float]:
    """Per round: achieved bytes/s of ``work`` over the bytes/s of its probe
    (:data:`BANDWIDTH_PROBE`) in the same interleaved round of :func:`bandwidth_study`."""
    probe = BANDWIDTH_PROBE[work]
    t, b = study["times"], study["bytes"]
    return [(b[work] / tw) / (b[probe] / tp) for tw, tp in zip(t[work], t[probe], strict=True)]


def stage_rates(bd_row: dict, study: dict) -> list[dict]:
    """Bytes and flops of each stage of one :func:`fast_step_breakdown` row, derived from the
    algorithm (float32), beside the rates achieved and the machine's rates measured by the
    :func:`bandwidth_study` of the same size (medians over its rounds).

    Memory-bound stages (``kind="memory"``): the pattern (writes ``P^T``, 4nm bytes) and the PCG
    solves (k iterations of two passes over ``P^T`` and k + 1 applications of the preconditioner by
    the study's route: 8nmk + (k + 1) :func:`precond_bytes` bytes); compute-bound
    (``kind="compute"``): the factors (2sn² + n³/3; the Kronecker one + n²d), exact GN's Gram (2n²m)
    and solve (n³/3).
    """
    n, m, d, s, sk = (bd_row[k] for k in ("n", "m", "d", "s", "s_kron"))
    med = {k: float(np.median(v)) for k, v in study["times"].items()}
    bw = {p: study["bytes"][p] / med[p] for p in ("read", "write")}
    peak = study["flops"]["gemm"] / med["gemm"]
    nm, nn = 4 * n * m, precond_bytes(n, study.get("route", "triangular"))
    work = {"pattern": ("memory", "write", nm, 2 * n * m * d)}
    for stage, iters in (("cg", "cg_iters"), ("kron_cg", "kron_cg_iters")):
        k = int(bd_row[iters])
        work[stage] = ("memory", "read", 2 * nm * k + nn * (k + 1), k * (4 * n * m * d + 2 * n * n))
    work |= {
        "cholesky": ("compute", None, None, 2 * s * n**2 + n**3 / 3),
        "kron_factor": ("compute", None, None, 2 * sk * n**2 + n**2 * d + n**3 / 3),
        "gram": ("compute", None, None, 2 * n**2 * m),
        "solve": ("compute", None, None, n**3 / 3),
    }
    rows = []
    for stage, (kind, probe, nbytes, flops) in work.items():
        t = float(bd_row[stage])
        row = {"n": n, "stage": stage, "kind": kind, "seconds": t, "bytes": nbytes, "flops": flops}
        row["gbps"] = nbytes / t / 1e9 if nbytes else None
        row["bw_fraction"] = nbytes / t / bw[probe] if probe else None
        row["gflops"] = flops / t / 1e9 if flops else None
        row["flop_fraction"] = flops / t / peak if kind == "compute" else None
        rows.append(row)
    return rows


def stage_exponents(rows, min_n: int) -> list[dict]:
    """Fitted exponent in n of every stage of :data:`STAGE_LAWS` over the breakdown ``rows`` with
    ``n >= min_n``, beside the exponent derived from the algorithm."""
    rows = [r for r in rows if r["n"] >= min_n]
    n = [r["n"] for r in rows]
    out = []
    for stage, (what, law, p) in STAGE_LAWS.items():
        fit = fit_power_law(n, [r[stage] for r in rows]).exponent
        out.append({"stage": stage, "what": what, "law": law, "law_exponent": p, "measured": fit})
    return out


def build_times(n: int, m: int, d: int, cfg: Config, seed: int) -> dict:
    """Seconds to build each preconditioner (sketch + Cholesky factor, no pattern) at one size,
    float32, in ``cfg.build_rounds`` interleaved rounds after a warm-up call of each.

    ``srht``: the paper's SRHT of R^{md} (s = sketch_factor n) and the factor of S J^T; ``kron``:
    the Kronecker sketch (s = kron_sketch_factor n) and its Schur-product factor.  Returns
    ``{"n", "m", "d", "srht": [seconds per round], "kron": [...], "load": [...]}``.
    """
    W, a, X, y = problem32(n, m, d, seed)
    _, PT = jax.jit(gn.forward_and_pattern)(W, a, X)
    key = jax.random.key(seed)
    fac = cfg.timing_factor
    fns = {
        meth: jax.jit(
            lambda key, W, a, PT, X, meth=meth: gn.sketched_factor(
                key,
                W,
                a,
                PT,
                X,
                gn.default_sketch_size(
                    n, cfg.kron_sketch_factor if meth == "kron" else cfg.sketch_factor
                ),
                0.0,
                fac,
                meth,
            )
        )
        for meth in ("srht", "kron")
    }
    timed = interleaved(
        {k: (lambda f=f: f(key, W, a, PT, X)) for k, f in fns.items()},
        rounds=cfg.build_rounds,
        warmup=1,
    )
    return {"n": n, "m": m, "d": d, **timed["times"], "load": timed["load"]}


def build_sweep(cfg: Config, seed: int, progress: bool = False) -> list[dict]:
    """:func:`build_times` along ``cfg.m_sweep`` at ``sweep_n`` points, dimension ``sweep_d``."""
    it = progress_bar(cfg.m_sweep, desc="preconditioner builds", enabled=progress)
    return [build_times(cfg.sweep_n, m, cfg.sweep_d, cfg, seed) for m in it]


def predicted_step_seconds(bd_row: dict, n: int, m: int) -> dict:
    """EXTRAPOLATION (labelled, no verdict): seconds per step of exact GN and of the fast steps
    at ``(n, m)`` from the stage times of one breakdown row scaled by each stage's cost law
    (:data:`STAGE_LAWS`; the m-dependent stages scaled linearly in m).  Used to say why a size is
    not measured, never to decide a verdict."""
    n0, m0 = bd_row["n"], bd_row["m"]
    rn, rm = n / n0, m / m0
    scale = {
        "pattern": rn * rm,
        "sketch": rn * rm,
        "cholesky": rn**3,
        "cg": rn * rm,
        "kron_sketch": rn * rm,
        "kron_factor": rn**3,
        "kron_cg": rn * rm,
        "gram": rn**2 * rm,
        "solve": rn**3,
    }
    t = {k: bd_row[k] * v for k, v in scale.items()}
    return {
        "gn": t["pattern"] + t["gram"] + t["solve"],
        "fast": t["pattern"] + t["sketch"] + t["cholesky"] + t["cg"],
        "kron": t["pattern"] + t["kron_sketch"] + t["kron_factor"] + t["kron_cg"],
    }


def breakdown_sweep(cfg: Config, seed: int, repeats: int = 1, progress: bool = False) -> list[dict]:
    """:func:`fast_step_breakdown` at every ``n`` of ``cfg.n_sweep`` (width ``sweep_m``, dimension ``sweep_d``)."""
    it = progress_bar(cfg.n_sweep, desc="stages of the steps", enabled=progress)
    return [fast_step_breakdown(n, cfg.sweep_m, cfg.sweep_d, cfg, seed, repeats) for n in it]


def bandwidth_rows(bw: dict, frac: dict) -> list[dict]:
    """The bandwidth table's rows: per n of ``bw`` (:func:`bandwidth_study` per size) the probes and
    the pieces of the step (bytes, median time, GB/s, ``frac[(work, n)]`` the fraction of its
    probe's bandwidth per round), then the routes' once-per-step work (not streaming passes)."""
    rows = []
    for n_, st in bw.items():
        med = {k: float(np.median(v)) for k, v in st["times"].items()}
        for w in ("read", "write", *BANDWIDTH_PROBE):
            rows.append(
                {
                    "n": n_,
                    "work": w,
                    "mib": st["bytes"][w] / 2**20,
                    "ms": 1e3 * med[w],
                    "gbps": st["bytes"][w] / med[w] / 1e9,
                    "frac": frac[(w, n_)].text(".2f") if w in BANDWIDTH_PROBE else "probe",
                }
            )
        rows += [
            {
                "n": n_,
                "work": w,
                "mib": float("nan"),
                "ms": 1e3 * med[w],
                "gbps": float("nan"),
                "frac": "once per step",
            }
            for w in med
            if w.startswith("precond_setup")
        ]
    return rows
