"""Chapter 03's switching, step-cost and time-to-target evidence on synthetic section outputs (no
training, no timing): every claim the functions own gets an entry, and the rules reach every verdict
they name."""

import numpy as np
import pytest

from fasttrain.chapters import ch03_random_bases as S
from fasttrain.core import claims as C
from fasttrain.core.results import Evidence

E, SEEDS = C.exact, C.over_seeds


def _sw(step, run, drop, seed, finite=True):
    return {
        "switch_step": step,
        "switch_epoch": step / 156,
        "run": run,
        "seed": seed,
        "finite": finite,
        "acc_before": 0.8,
        "min_acc_after": 0.8 - drop,
        "final": 0.9,
    }


def _switch_rows(drop_late=0.01, seeds=(0, 1, 2), finite=True):
    rows = []
    for step in (312, 1560, 2808):
        for run in ("RBD→SGD", "SGD→RBD"):
            for s in seeds:
                d = drop_late if (step == 2808 and run == "SGD→RBD" and s == 1) else 0.01
                rows.append(_sw(step, run, d, s, finite))
    return rows


@pytest.mark.parametrize("scale", ["smoke", "book"])
def test_switch_points_cover_training(scale):
    cfg = S.config(scale)
    pts = S.switch_epochs(cfg)
    assert cfg.switch_epoch in pts  # the figure's point is reused (memoised)
    if scale == "book":
        assert len(pts) >= 3 and min(pts) <= 0.25 * cfg.epochs and max(pts) >= 0.75 * cfg.epochs


def test_switching_evidence_and_rule_over_points():
    cfg = S.config("book")
    ev = S.evidence_switching(_switch_rows(), cfg)
    assert set(ev) == {"switching"} and isinstance(ev["switching"], Evidence)
    rule = S.CLAIMS["switching"].rule
    assert rule(ev["switching"].measured)[0] == "reproduced"
    assert "at step 2808" in ev["switching"].shown and "2, 10, 18" in ev["switching"].reason
    # one seed collapsing at one (late) point only is a counterexample to "at any point"
    v, why = rule(S.evidence_switching(_switch_rows(drop_late=0.2), cfg)["switching"].measured)
    assert v == "not reproduced" and "SGD→RBD at step 2808" in why and "+0.200" in why
    assert rule(_switch_rows(finite=False))[0] == "not reproduced"
    # one seed per point: at most inconclusive
    assert rule(_switch_rows(seeds=(0,)))[0] == "inconclusive"
    # the old single-point rows (no switch_step) still decide
    assert S.switch_works([{"finite": True, "acc_before": 0.6, "min_acc_after": 0.6}] * 3)[0] == (
        "reproduced"
    )


def test_call_overhead_recovers_fixed_and_step_cost():
    c, s = 0.004, 0.0003  # seconds
    long = [c + 500 * s] * 3
    short = [c + 50 * s] * 3
    ov = S.call_overhead(long, short, 500, 50)
    assert np.allclose(ov["fixed_ms"], 4.0) and np.allclose(ov["step_ms"], 0.3)
    assert np.allclose(ov["share"], c / (c + 500 * s))


def _timing_out(ratio=2.0, rounds=12):
    rng = np.random.default_rng(0)
    r = list(ratio * (1 + 0.02 * rng.standard_normal(rounds)))
    t_long = list(0.004 + 500 * 3e-4 * (1 + 0.01 * rng.standard_normal(rounds)))
    t_short = list(0.004 + 50 * 3e-4 * (1 + 0.01 * rng.standard_normal(rounds)))
    sgd_l = list(0.001 + 500 * 1.5e-4 * np.ones(rounds))
    sgd_s = list(0.001 + 50 * 1.5e-4 * np.ones(rounds))
    ov = {
        "SGD": S.call_overhead(sgd_l, sgd_s, 500, 50),
        "RBD hadamard-coset": S.call_overhead(t_long, t_short, 500, 50),
    }
    ov["RBD hadamard-coset"]["ratio_short"] = [a / 50 / (b / 50) for a, b in zip(t_short, sgd_s)]
    return {
        "rows": [],
        "ratios": {
            "SGD": [1.0] * rounds,
            "RBD hadamard-coset": r,
            "RBD gaussian": [900.0] * rounds,
        },
        "overhead": ov,
        "inner": 500,
        "inner_short": 50,
        "load": [1.0, 1.0],
        "rounds": rounds,
    }


def test_timing_evidence_verdicts():
    cfg = S.config("book")
    ev = S.evidence_timing(_timing_out(2.0), cfg, {"SGD": 3, "RBD hadamard-coset": 9})
    assert set(ev) == {"goal-structured-step", "goal-structured-1.2x", "goal-gaussian-slow"}
    verdict = {k: S.CLAIMS[k].rule(e.measured)[0] for k, e in ev.items()}
    assert verdict == {
        "goal-structured-step": "reproduced",
        "goal-structured-1.2x": "not reproduced",
        "goal-gaussian-slow": "reproduced",
    }
    assert "fixed cost" in ev["goal-structured-step"].reason
    assert "500 steps a call" in ev["goal-structured-step"].reason
    # a ratio straddling the bar, and too few rounds: inconclusive
    ev = S.evidence_timing(_timing_out(3.0), cfg)
    assert S.CLAIMS["goal-structured-step"].rule(ev["goal-structured-step"].measured)[0] == (
        "inconclusive"
    )
    ev = S.evidence_timing(_timing_out(2.0, rounds=4), cfg)
    assert S.CLAIMS["goal-structured-step"].rule(ev["goal-structured-step"].measured)[0] == (
        "inconclusive"
    )
    out = _timing_out(2.0)
    out["overhead"] = {}
    assert (
        "not measured" in S.evidence_timing(out, S.config("smoke"))["goal-structured-step"].reason
    )


def _curves(final, start=0.1, epochs=20, reach_at=5):
    return [start] + [
        start + (final - start) * min(1.0, e / reach_at) for e in range(1, epochs + 1)
    ]


def _d_sweep_rows(reach):
    """reach: {d: [epoch at which each seed reaches its final accuracy]}"""
    rows = []
    for d, epochs in reach.items():
        curves = [_curves(0.9, reach_at=e) for e in epochs]
        rows.append(
            {
                "d": d,
                "accuracy": float(np.mean([c[-1] for c in curves])),
                "steps_per_epoch": 156,
                "curves_seeds": curves,
            }
        )
    return S.with_steps_to_target(rows)


def _tvd(ms_gauss, rounds=12):
    times = {}
    for d, ms in ms_gauss.items():
        times[f"gaussian d={d}"] = list(ms * (1 + 0.01 * np.arange(rounds) / rounds))
        times[f"hadamard-coset d={d}"] = [0.3] * rounds
    return {"rows": [], "times": times, "load": [1.0, 1.0], "rounds": rounds}


def test_steps_to_target():
    rows = _d_sweep_rows({10: [20, 18, 19], 250: [4, 4, 5]})
    assert rows[0]["target"] == pytest.approx(0.1 + 0.9 * (0.9 - 0.1))
    # the first epoch (after the start) at or above the target, in steps
    assert all(s is not None for r in rows for s in r["steps_to_target_seeds"])
    assert rows[1]["steps_to_target_seeds"][0] == 4 * 156
    never = S.with_steps_to_target(
        [
            {"d": 10, "accuracy": 0.9, "steps_per_epoch": 156, "curves_seeds": [_curves(0.9)]},
            {"d": 50, "accuracy": 0.2, "steps_per_epoch": 156, "curves_seeds": [_curves(0.2)]},
        ]
    )
    assert never[1]["steps_to_target_seeds"] == [None]


def test_time_to_target_evidence_every_verdict():
    cfg = S.config("book")
    rule = S.CLAIMS["time-to-target-vs-d"].rule
    ids = {"step-cost-vs-d-gaussian", "step-cost-vs-d-structured", "time-to-target-vs-d"}
    # steps to the target fall 4×, the Gaussian step's time rises 25×: the time rises
    rows = _d_sweep_rows({10: [20, 18, 19], 250: [5, 4, 5]})
    ev = S.evidence_timing_vs_d(_tvd({10: 8.0, 250: 200.0}), cfg, rows)
    assert set(ev) == ids
    assert rule(ev["time-to-target-vs-d"].measured)[0] == "reproduced"
    assert S.CLAIMS["step-cost-vs-d-gaussian"].rule(ev["step-cost-vs-d-gaussian"].measured)[0] == (
        "reproduced"
    )
    assert "structured step's own time" in ev["time-to-target-vs-d"].reason
    # the steps fall faster than the step time rises: the reading fails
    ev = S.evidence_timing_vs_d(_tvd({10: 8.0, 250: 10.0}), cfg, rows)
    assert rule(ev["time-to-target-vs-d"].measured)[0] == "not reproduced"
    # seeds that do not separate the two d: inconclusive
    rows = _d_sweep_rows({10: [20, 4, 12], 250: [10, 20, 5]})
    ev = S.evidence_timing_vs_d(_tvd({10: 8.0, 250: 10.0}), cfg, rows)
    assert rule(ev["time-to-target-vs-d"].measured)[0] == "inconclusive"
    # d values not in the d sweep are left out
    ev = S.evidence_timing_vs_d(_tvd({10: 8.0, 250: 10.0, 1000: 40.0}), cfg, rows)
    assert set(ev["time-to-target-vs-d"].measured) == {10, 250}


def test_book_timing_config():
    book = S.config("book")
    assert book.timing_inner >= 500 and 0 < book.timing_inner_short < book.timing_inner
    assert book.timing_rounds >= 12


def _mem(step_bytes, d=250, D=101_770):
    return {
        "D": D,
        "chunk": 50,
        "rows": [
            {
                "directions": "gaussian",
                "d": d,
                "step_bytes": step_bytes,
                "temp_bytes": step_bytes - 10**6,
                "basis_bytes": 4 * d * D,
            },
            {
                "directions": "hadamard-coset",
                "d": d,
                "step_bytes": 2 * 10**6,
                "temp_bytes": 10**6,
                "basis_bytes": 4 * d * D,
            },
        ],
    }


def test_memory_evidence_every_verdict():
    cfg = S.config("book")
    rule = S.CLAIMS["memory-regenerated"].rule
    ev = S.evidence_memory(_mem(30 * 10**6), cfg)
    assert set(ev) == {"memory-regenerated"}
    assert rule(ev["memory-regenerated"].measured)[0] == "reproduced"
    assert "hadamard-coset d = 250" in ev["memory-regenerated"].reason
    ev = S.evidence_memory(_mem(124 * 10**6), cfg)
    assert rule(ev["memory-regenerated"].measured)[0] == "not reproduced"
    ev = S.evidence_memory({"D": 101_770, "chunk": 50, "rows": []}, cfg)
    assert rule(ev["memory-regenerated"])[0] == "not testable here"


def test_my_claims_are_declared():
    ids = set(S.CLAIMS)
    assert {"time-to-target-vs-d", "memory-regenerated", "switching"} <= ids
    assert S.CLAIMS["time-to-target-vs-d"].kind == "paper"
    assert "less efficient" in S.CLAIMS["time-to-target-vs-d"].paper_words
    assert "at any point" in S.CLAIMS["switching"].paper_words
    for cid in ("time-to-target-vs-d", "memory-regenerated", "switching"):
        assert set(S.CLAIMS[cid].rule.examples) >= {"reproduced", "not reproduced"}
