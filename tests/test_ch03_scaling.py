"""Chapter 03's claim ``scaling`` (issue 23): weak scaling as in Gressmann et al.'s Fig. 5.

Synthetic section outputs only (no training, no processes started), except the ``heavy`` test
that runs the smoke protocol."""

import json

import pytest

from fasttrain.chapters import ch03_random_bases as S
from fasttrain.chapters import multiprocess_study as mps
from fasttrain.core import claims as C
from fasttrain.core.claims import Unavailable
from fasttrain.core.results import Evidence


def _run(P, step_s, d_per_worker=252, steps=6):
    return {
        "process": 0,
        "processes": P,
        "D": 101770,
        "d": P * d_per_worker,
        "d_per_worker": d_per_worker,
        "batch_per_worker": 32,
        "side": 28,
        "hidden": 128,
        "distribution": "hadamard-coset",
        "step_times": [0.05] + [step_s] * (steps - 1),
    }


def _measured(t1, t2):
    """measure()'s result: round i ran t1[i] s per step at P = 1 and t2[i] at P = 2."""
    return {"rbd": {1: [_run(1, a) for a in t1], 2: [_run(2, b) for b in t2]}, "seconds": 1.0}


def _section(t1, t2):
    return mps.weak_scaling(_measured(t1, t2)) | {"protocol": {"load": [1.0, 1.0]}}


def test_rule_examples_cover_every_verdict_it_names():
    rule = mps.almost_linear_weak_scaling
    assert set(rule.examples) == {
        "reproduced",
        "partly",
        "not reproduced",
        "inconclusive",
        "not testable here",
    }
    for verdict, measured, context in rule.example_calls():
        assert rule(measured, **context)[0] == verdict


def test_two_workers_decide_at_most_partly_and_can_refute():
    rule = mps.almost_linear_weak_scaling
    flat = C.over_rounds([0.95, 0.97, 0.9, 0.99, 0.93, 0.96])
    assert rule(flat, measured_at=2)[0] == "partly"
    assert rule(flat, measured_at=16)[0] == "reproduced"
    low = C.over_rounds([0.3, 0.4, 0.35, 0.33, 0.31, 0.38])
    assert rule(low, measured_at=2)[0] == "not reproduced"
    # fewer than 6 rounds: limited, at most inconclusive, whatever the values
    assert rule(C.over_rounds([0.3, 0.31]), measured_at=2)[0] == "inconclusive"
    assert rule(C.over_rounds([0.99, 0.98]), measured_at=2)[0] == "inconclusive"


def test_weak_scaling_efficiency_per_round():
    ws = mps.weak_scaling(_measured([1e-3, 2e-3], [2e-3, 2e-3]))
    eff = [r[2]["efficiency"] for r in ws["rounds"]]
    assert eff == pytest.approx([0.5, 1.0])  # t_i(1) / t_i(2), round by round
    rows = {r["P"]: r for r in ws["rows"]}
    assert rows[2]["d"] == 504 and rows[2]["d_per_worker"] == 252
    assert rows[1]["step_ms"] == pytest.approx(1.5)


def test_weak_scaling_refuses_strong_scaling_runs():
    m = _measured([1e-3], [1e-3])
    m["rbd"][2][0]["d"] = 252  # fixed total d: strong scaling
    with pytest.raises(ValueError, match="not weak scaling"):
        mps.weak_scaling(m)


def test_evidence_scaling_decides_through_the_declared_rule():
    cfg = S.config("book")
    spec = S.CLAIMS["scaling"]
    fast = _section([1e-3] * 9, [1.05e-3] * 9)
    ev = S.evidence_scaling(fast, cfg)["scaling"]
    assert isinstance(ev, Evidence) and ev.context["measured_at"] == 2
    assert spec.rule(ev.measured, **ev.context)[0] == "partly"
    slow = _section([1e-3] * 9, [3.5e-3] * 9)
    ev = S.evidence_scaling(slow, cfg)["scaling"]
    verdict, reason = spec.rule(ev.measured, **ev.context)
    assert verdict == "not reproduced" and "0.29" in ev.shown
    assert "d = 504" in ev.reason and "9 interleaved" in ev.reason
    # one round (smoke): limited
    ev = S.evidence_scaling(_section([1e-3], [1e-3]), S.config("smoke"))["scaling"]
    assert spec.rule(ev.measured, **ev.context)[0] == "inconclusive"


def test_evidence_scaling_reads_its_json_copy_and_one_process_is_unavailable():
    cfg = S.config("book")
    sec = _section([1e-3] * 6, [1.5e-3] * 6)
    back = json.loads(json.dumps(sec))
    a = S.evidence_scaling(sec, cfg)["scaling"]
    b = S.evidence_scaling(back, cfg)["scaling"]
    assert a.shown == b.shown and a.measured.values == b.measured.values
    one = mps.weak_scaling({"rbd": {1: [_run(1, 1e-3)]}}) | {"protocol": {}}
    ev = S.evidence_scaling(one, cfg)["scaling"]
    assert isinstance(ev, Unavailable)
    assert S.CLAIMS["scaling"].rule(ev)[0] == "not testable here"


def test_configs_measure_weak_scaling_with_enough_rounds():
    book, smoke = S.config("book"), S.config("smoke")
    assert book.mp_processes == (1, 2)  # 4 processes on 2 cores oversubscribe
    assert C.median_ranks(book.mp_rounds) is not None  # >= 6 rounds: a 95 % interval
    assert "--d-per-worker" in book.mp_rbd_args and "--d-per-worker" in smoke.mp_rbd_args


@pytest.mark.heavy
def test_smoke_protocol_runs():
    cfg = S.config("smoke")
    out = S.across_processes(cfg)
    ev = S.evidence_scaling(out, cfg)["scaling"]
    assert ev.context["measured_at"] == 2
    assert {r["P"]: r["d"] for r in out["rows"]} == {1: 32, 2: 64}
