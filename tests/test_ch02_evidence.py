"""Chapter 02's evidence map and sentences, on synthetic section outputs (no training, no timing)."""

import importlib

import pytest

import fasttrain.chapters.ch02_sketched_gauss_newton as S
from fasttrain.core.claims import Unavailable
from fasttrain.core.results import Evidence
from fasttrain.methods import gauss_newton as gn

# the module (the package's attribute ``evidence`` is the function of the same name)
E = importlib.import_module("fasttrain.chapters.ch02_sketched_gauss_newton.evidence")
T = importlib.import_module("fasttrain.chapters.ch02_sketched_gauss_newton.text")
LAB = S.LABELS
BREAKDOWN = {  # stage -> (coefficient, exponent in n) of a synthetic breakdown row at m = sweep_m
    "pattern": (1e-7, 1),
    "sketch": (4e-7, 1),
    "cholesky": (1e-10, 3),
    "qr": (3e-10, 3),
    "cg": (5e-7, 1),
    "kron_sketch": (1e-7, 1),
    "kron_sketch_from_pattern": (2e-7, 1),
    "kron_factor": (5e-11, 3),
    "kron_gram": (3e-11, 3),
    "kron_chol": (2e-11, 3),
    "kron_cg": (4e-7, 1),
    "cg_triangular": (9e-7, 1),
    "kron_cg_triangular": (8e-7, 1),
    "gram": (1e-9, 2),
    "solve": (3e-11, 3),
    "solve_triangular": (6e-11, 3),
}
BW_WORK = (
    "read",
    "write",
    "gemm",
    "precond_setup",
    "precond_setup_inverse",
    *S.BANDWIDTH_PROBE,
)


def _rounds(t, k):
    return [t * (1 + 0.01 * i) for i in range(k)]


def _timing(cfg, fast_speed=3.0):
    """Time-size rows of both sweeps: exact GN ~ n²m, the fast steps ~ nm (``fast_speed``: the
    paper's step's speed-up over exact GN at n = 256, m = 32 768, scaled by n)."""
    rows = []
    sizes = [("n", n, cfg.sweep_m) for n in cfg.n_sweep]
    sizes += [("m", cfg.sweep_n, m) for m in cfg.m_sweep]
    for axis, n, m in sizes:
        k = cfg.timing_rounds_large if n >= cfg.large_n else cfg.timing_repeats
        t_gn = 2e-12 * n * n * m
        for key, t, s in (
            ("gn", t_gn, n),
            ("fast", t_gn / fast_speed * n / 256, 4 * n),
            ("kron", t_gn / 2 * n / 256, 2 * n),
        ):
            if key == "fast" and axis == "n" and cfg.fast_max_n and n > cfg.fast_max_n:
                continue
            rows.append(
                {
                    "axis": axis,
                    "method": LAB[key],
                    "n": n,
                    "m": m,
                    "s": s,
                    "sketch_dim": m * cfg.sweep_d,
                    "rounds": k,
                    "round_seconds": _rounds(t, k),
                    "seconds": t * (1 + 0.005 * (k - 1)),
                    "contraction": 0.1,
                    "peak_bytes": 16 * n * m,
                    "maxrss_bytes": 32 * n * m,
                }
            )
    return rows


def _breakdown(cfg):
    return [
        {
            "n": n,
            "m": cfg.sweep_m,
            "d": cfg.sweep_d,
            "s": 4 * n,
            "s_kron": 2 * n,
            "cg_iters": 12,
            "kron_cg_iters": 14,
            **{k: c * n**p * cfg.sweep_m / 32768 for k, (c, p) in BREAKDOWN.items()},
        }
        for n in cfg.n_sweep
    ]


def _bandwidth(cfg):
    out = {}
    for n in sorted(cfg.n_sweep)[-2:]:
        nm = 4 * n * cfg.sweep_m
        by = {w: nm * (2 if w.startswith(("matvec", "cg_iter")) else 1) for w in S.BANDWIDTH_PROBE}
        by |= {"read": nm, "write": nm}
        k = cfg.bandwidth_rounds
        times = {w: _rounds(by.get(w, nm) / 5e9, k) for w in BW_WORK}
        times["write"] = _rounds(nm / 2e9, k)
        out[n] = {"route": "blocked", "times": times, "bytes": by, "flops": {"gemm": 2 * 2048**3}}
    return out


def make_out(cfg, fast_extra=0, fast_speed=3.0, seed=0):
    """Synthetic section outputs with every key of :data:`SECTIONS` (``fast_extra``: extra
    iterations of the fast step at the largest n of the n study, on the last seed)."""
    seeds = [seed + k for k in cfg.seeds]
    lam_seeds = [seed + k for k in cfg.lambda_seeds]
    lam = [e**2 for e in cfg.eps_sweep]
    n_hi = max(cfg.rate_n_sweep)
    sign_its = tuple(None if i >= len(lam) - 1 else 3 for i in range(len(lam)))
    return {
        "seeds": seeds,
        "lambda_seeds": lam_seeds,
        "summary": [
            {
                "seed": s,
                "data": d,
                "fast_max": 0.2,
                "steps": 5,
                "fast_first": 0.05,
                "deviation": 1e-6,
                "kron_deviation": 2e-6,
            }
            for s in seeds
            for d in ("synthetic", "mnist-3v5")
        ],
        "gd_steps": 120,
        "generalization": [
            {
                "seed": s,
                "gd": 0.10,
                "gn": 0.11 + 0.001 * s,
                "fast": 0.11,
                "kron": 0.11,
                "n_test": 500,
                "gd_train_residual": 0.2,
            }
            for s in seeds
        ],
        "per_seed_s": 4.0,
        "banknote": {"lambda_min": 1e-15, "final": 0.3},
        "lam_rows": [
            {
                "eps": e,
                "lambda_min": v,
                "cond_G": 1 / v,
                "cond_preconditioned": 5.0,
                "cond_preconditioned_draws": [4.0, 5.0, 6.0],
                "gd_iters": int(10 / v) if v > 1e-3 else None,
                "gn_iters": 3,
                "fast_iters": 3,
                "fast_pcg_iters_first": 20,
                "cg_iters_first": 200,
                "gn_max_contraction": 0.1,
            }
            for e, v in zip(cfg.eps_sweep, lam)
        ],
        "lam_sign_rows": [
            {
                "eps": e,
                "lambda_min": v,
                "gn_diverged": it is None,
                "gn_iters": it,
                "gn_final": 0.5,
                "gn_max_contraction": 0.4 if it else None,
            }
            for e, v, it in zip(cfg.eps_sweep, lam, sign_its)
        ],
        "gd_seeds": [
            {"seed": s, "exponent": 1.4 + 0.1 * i, "gd_iters": [10, 100]}
            for i, s in enumerate(seeds)
        ],
        "gn_seeds": [S.LambdaSweep(tuple(lam), (3,) * len(lam), cfg.iters) for _ in lam_seeds],
        "sign_seeds": [S.LambdaSweep(tuple(lam), sign_its, cfg.iters) for _ in lam_seeds],
        "sketch": [
            {
                "s": gn.default_sketch_size(cfg.n, f),
                "s_over_n": f,
                "cond_pre_median": 40 / f,
                "cond_pre_min": 30 / f,
                "cond_pre_max": 50 / f,
                "pcg_iters": 20,
                "pcg_iters_draws": [20, 21, 22],
                "cond_kron_median": 30 / f,
                "pcg_kron_iters": 18,
                "cg_iters": 150,
                "cond_G": 1e3,
            }
            for f in (1, 2, 4, 8)
        ],
        "rate": [
            {
                "seed": s,
                "n": n,
                "m": cfg.rate_m_factor * n,
                "lambda_min": 0.06,
                "cond_G": 10.0 * n,
                "gn_iters": 4,
                "gn_max_contraction": 0.1,
                "kron_iters": 4 + (fast_extra if (n == n_hi and s == seeds[-1]) else 0),
                "cg_iters": n,
                "cg_converged": True,
                "pcg_iters": 10,
            }
            for s in seeds
            for n in cfg.rate_n_sweep
        ],
        "timing": _timing(cfg, fast_speed),
        "breakdown": _breakdown(cfg),
        "bandwidth": _bandwidth(cfg),
        "builds": [
            {
                "m": m,
                "srht": _rounds(1e-6 * m, cfg.build_rounds),
                "kron": _rounds(5e-7 * m, 7)[: cfg.build_rounds],
            }
            for m in cfg.m_sweep
        ],
        "memory": [
            {
                "method": LAB[k],
                "n": cfg.n_sweep[-1],
                "m": cfg.sweep_m,
                "d": d,
                "peak_bytes": 40 * cfg.n_sweep[-1] * cfg.sweep_m,
                "jacobian_bytes": 4 * cfg.n_sweep[-1] * cfg.sweep_m * d,
                "pattern_bytes": 4 * cfg.n_sweep[-1] * cfg.sweep_m,
            }
            for k in ("gn", "fast", "kron")
            for d in cfg.memory_d_sweep
        ],
        "limits_big": {
            "step_s": 3.0,
            "peak_gb": 2.0,
            "rss_gb": 5.0,
            "s_over_dim": {LAB["fast"]: 0.25, LAB["kron"]: 0.5},
        },
        "unmeasured": [
            {
                "n": 2 * cfg.n_sweep[-1],
                "m": m,
                "gn": 80.0,
                "fast": 90.0,
                "kron": 40.0,
                "gib": 9.0,
                "why": why,
            }
            for m, why in ((cfg.sweep_m, ["one exact step ≈ 80 s > 60 s"]), (2 * cfg.sweep_m, []))
        ],
    }


def _verdict(cid, e):
    rule = S.CLAIMS[cid].rule
    if isinstance(e, Evidence):
        return rule(e.measured, **e.context)[0]
    return rule(e)[0]


@pytest.mark.parametrize("scale", ["smoke", "book"])
def test_every_declared_claim_is_decided_exactly_once(scale):
    cfg = S.config(scale)
    out = make_out(cfg)
    assert set(out) == set(S.SECTIONS)
    ev = S.evidence(out, cfg)
    assert set(ev) == set(S.CLAIMS)
    for cid, e in ev.items():
        assert isinstance(e, Evidence | Unavailable), cid
        assert _verdict(cid, e) in S.CLAIMS[cid].rule.examples, cid


def test_a_gap_and_a_duplicate_are_refused(monkeypatch):
    cfg = S.config("smoke")
    out = make_out(cfg)
    monkeypatch.setattr(E, "PARTS", tuple(p for p in E.PARTS if p is not E.rate_part))
    with pytest.raises(ValueError, match="no evidence: rate-independent-of-n, cg-degrades"):
        E.evidence(out, cfg)
    monkeypatch.setattr(E, "PARTS", (*E.PARTS, E.rate_part, E.rate_part))
    with pytest.raises(ValueError, match="decided twice: rate-independent-of-n"):
        E.evidence(out, cfg)


def test_rate_claim_takes_the_worse_of_exact_gn_and_the_fast_step():
    cfg = S.config("book")
    ok = S.evidence(make_out(cfg), cfg)["rate-independent-of-n"]
    assert _verdict("rate-independent-of-n", ok) == "reproduced"
    assert "fast step" in ok.reason
    # exact GN flat on every seed, the fast step 5 iterations more on one: not reproduced
    bad = S.evidence(make_out(cfg, fast_extra=5), cfg)["rate-independent-of-n"]
    assert bad.measured.center == 5.0
    assert _verdict("rate-independent-of-n", bad) == "not reproduced"


def test_speedup_in_the_mn_regime_is_decided_on_the_largest_regime_size():
    cfg = S.config("book")
    regime = [n for n in cfg.n_sweep if n * n <= S.MN_REGIME_C * cfg.sweep_m]
    fast = S.evidence(make_out(cfg, fast_speed=3.0), cfg)["speedup-mn-regime"]
    assert f"n = {regime[-1]}," in fast.reason
    assert fast.measured.center == pytest.approx(3.0 * 256 / regime[-1], rel=0.02)
    assert _verdict("speedup-mn-regime", fast) == "reproduced"
    slow = S.evidence(make_out(cfg, fast_speed=0.3), cfg)["speedup-mn-regime"]
    assert _verdict("speedup-mn-regime", slow) == "not reproduced"


def test_sentences_cover_every_key_and_quote_the_numbers():
    cfg = S.config("book")
    out = make_out(cfg, fast_extra=1)
    verdicts = {cid: "reproduced" for cid in S.CLAIMS}
    say = S.sentences(out, cfg, verdicts)
    assert tuple(say) == T.KEYS
    assert all(isinstance(v, str) and v for v in say.values())
    assert "the Kronecker sketch 4.0, 4.0, 4.0, 4.2 (at most 1 extra)" in say["n"]
    assert "GD at step 1/λ_max needs 120 steps" in say["convergence"]
    assert "claim `speedup-mn-regime`: reproduced" in say["crossover-path"]
    assert "outside the issue's limits (one exact step ≈ 80 s > 60 s)" in say["unmeasured"]
    assert "inside the issue's 60 s and 8 GB" in say["largest"]
