"""Chapter 01's declared rules and protocol helpers (fast: synthetic measurements, a tiny problem)."""

import numpy as np
import pytest

from fasttrain.chapters import ch01_linear_ivp as S
from fasttrain.core import claims as C

THR = (0.80, 0.85, 0.90, 0.95)


def test_claim_ids_and_kinds():
    assert set(S.CLAIMS) == {
        "speedup-banknote",
        "speedup-magic",
        "speedup-best-lr-banknote",
        "speedup-best-lr-magic",
        "test-accuracy-banknote",
        "test-accuracy-magic",
        "fd-jacobian",
    }
    kinds = {k: s.kind for k, s in S.CLAIMS.items()}
    assert kinds["speedup-magic"] == kinds["test-accuracy-banknote"] == "paper"
    assert kinds["fd-jacobian"] == kinds["speedup-best-lr-magic"] == "book-goal"


def test_comparably_high_is_the_reverted_003_rule():
    rule = S.CLAIMS["test-accuracy-banknote"].rule
    level = C.over_seeds([0.96, 0.955, 0.962, 0.958, 0.96])
    # the previous edition's Banknote gap of 0.033 fails the declared 0.03 (it passed the widened 0.05)
    assert rule(C.over_seeds([0.033, 0.034, 0.032, 0.033, 0.034]), level=level)[0] == (
        "not reproduced"
    )
    assert rule(C.over_seeds([0.0, 0.01, 0.02, 0.01, 0.0]), level=level)[0] == "reproduced"
    assert rule(C.over_seeds([0.0, 0.06, 0.02, 0.04, 0.0]), level=level)[0] == "inconclusive"
    high = C.over_seeds([0.995, 0.996, 0.994])
    assert rule(C.over_seeds([0.0, 0.01, 0.0]), level=high)[0] == "partly"


def _speedups(ratios, reached):
    rs = {t: (C.over_seeds(ratios[t]) if t in ratios else None) for t in THR}
    return S.SpeedupsByThreshold(rs, reached, {t: 2.0 for t in THR})


def test_speedup_reason_names_the_thresholds_reached_by_whom():
    rule = S.CLAIMS["speedup-magic"].rule
    reached = {0.80: (3, 3, 3), 0.85: (3, 3, 3), 0.90: (0, 0, 3), 0.95: (0, 0, 3)}
    m = _speedups({0.80: [0.1, 0.12, 0.11], 0.85: [0.2, 0.22, 0.25]}, reached)
    verdict, why = rule(m)
    assert verdict == "not reproduced"
    assert "2 of 4 thresholds" in why and "every threshold" not in why
    assert "0.90: GD in 0/3, ODE in 0/3 seeds" in why
    none = _speedups({}, {t: (0, 0, 3) for t in THR})
    assert rule(none)[0] == "not testable here"


def test_speedups_by_threshold_needs_every_seed():
    rows = []
    for _seed, sp in [(0, 0.5), (1, None)]:
        for t in THR:
            rows.append(
                {
                    "data": "magic",
                    "threshold": t,
                    "gd_steps": 10 if t < 0.9 else None,
                    "ode_t": 5.0 if (t < 0.85 or sp is not None) and t < 0.9 else None,
                    "speedup_total": (sp if t >= 0.85 else 0.4) if t < 0.9 else None,
                }
            )
    m = S.speedups_by_threshold(rows, "magic", THR)
    assert m.ratios[0.80] is not None and m.ratios[0.80].values == (0.4, 0.4)
    assert m.ratios[0.85] is None and m.reached[0.85] == (2, 1, 2)
    assert m.values == (0.4, 0.4)


def test_gd_test_accuracy_is_taken_at_the_same_threshold():
    ds = S.load("banknote", 0, 60, 0.2)
    su = S.make_setup(ds, 16, "tanh", 0)
    rows, gd = S.time_to_accuracy(su, 0.1, (0.8,), 200, 200.0, 1e-3, 1e-6, chunk=50, gd_first=False)
    (row,) = rows
    assert row["gd_first"] is False
    if row["gd_steps"] is not None and row["ode_t"] is not None:
        (p,) = S._gd_checkpoints(su, 0.1, [row["gd_steps"]])
        assert row["gd_test_acc"] == pytest.approx(S._gd_test_acc(su, p))
        assert np.isfinite(row["ode_net_test_acc"])
