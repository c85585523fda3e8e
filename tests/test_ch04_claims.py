"""Chapter 04's declared claims and their rules: every verdict reachable, decided on intervals."""

import math

import pytest

from fasttrain.chapters import ch04_layer_parallel_lsgd as ch
from fasttrain.core import claims as C

BOOK_IDS = {
    "mgrit-bounded-iterations",
    "mgrit-equals-serial",
    "mgrit-gradients",
    "training-peaks",
    "training-banknote",
    "training-lbfgs-peaks",
    "mgrit-training-equals-serial",
    "speedup-forward-N512",
    "speedup-forward-N1024",
    "speedup-order-of-magnitude",
    "lsgd-vs-adam-smooth1d",
    "lsgd-vs-adam-osc1d(k=4)",
    "lsgd-vs-adam-smooth2d",
    "box-init-dead-relu",
    "box-init-error",
    "pinn-lsgd",
    "pinn-lsgd-damped",
    "lsgd-walltime-smooth1d",
    "lsgd-walltime-osc1d(k=4)",
    "lsgd-walltime-smooth2d",
    "lsgd-solve-cost",
    "chapter-budget",
}


def test_the_book_claims_are_declared_with_kinds():
    assert BOOK_IDS <= set(ch.CLAIMS)
    for scale in ("smoke", "book", "paper"):
        assert all(f"speedup-forward-N{N}" in ch.CLAIMS for N in ch.lp_config(scale).timing_depths)
    kinds = {i: ch.CLAIMS[i].kind for i in BOOK_IDS}
    assert kinds["speedup-forward-N512"] == "book-goal" and kinds["chapter-budget"] == "book-goal"
    assert kinds["speedup-order-of-magnitude"] == "paper"
    assert kinds["lsgd-solve-cost"] == "book-goal" and kinds["lsgd-walltime-smooth2d"] == "analysis"
    assert "order of magnitude" in ch.CLAIMS["speedup-order-of-magnitude"].paper_words
    for spec in ch.CLAIMS.values():
        assert "inconclusive" in spec.rule.examples or spec.id == "mgrit-bounded-iterations"


def test_book_scale_has_enough_seeds_and_rounds():
    lp, ls = ch.lp_config("book"), ch.lsgd_config("book")
    assert len(lp.seeds) >= 5 and len(ls.seeds) >= 5 and lp.timing_rounds >= 7
    assert ch.run_seeds((0, 1, 2), 10) == (10, 11, 12)


def _seeds(*v):
    return C.over_seeds(v)


def test_training_rule_decides_on_intervals():
    ok = {"loss_ratio": _seeds(1.0, 1.01, 0.99), "learnt": _seeds(0.5, 0.6, 0.55)}
    assert ch.like_serial_training(_seeds(0.0, 0.01, -0.01), **ok)[0] == "reproduced"
    assert ch.like_serial_training(_seeds(-0.2, 0.2, 0.0), **ok)[0] == "inconclusive"
    bad_loss = {**ok, "loss_ratio": _seeds(2.0, 2.1, 1.9)}
    assert ch.like_serial_training(_seeds(0.0, 0.01, -0.01), **bad_loss)[0] == "partly"
    assert ch.like_serial_training(_seeds(-0.3, -0.31, -0.29), **bad_loss)[0] == "not reproduced"
    flat = {**ok, "learnt": _seeds(0.01, 0.0, 0.02)}
    assert ch.like_serial_training(_seeds(0.0, 0.0, 0.0), **flat)[0] == "not testable here"


def test_bounded_iterations_rule_can_fail():
    assert ch.bounded_mgrit_iterations(C.exact(6), max_depth=1024)[0] == "reproduced"
    assert ch.bounded_mgrit_iterations(C.exact(6), max_depth=64)[0] == "partly"
    assert ch.bounded_mgrit_iterations(C.exact(16), max_depth=1024)[0] == "not reproduced"


def test_speed_rule_is_fed_by_the_measurement_and_the_work_count():
    rule = ch.CLAIMS["speedup-forward-N512"].rule
    two = {"work_ratio": 6.5, "cores": 2}
    assert rule(C.over_rounds([0.165, 1.06, 0.5]), **two)[0] == "inconclusive"
    verdict, reason = rule(C.over_rounds([0.15, 0.16, 0.17]), **two)
    assert verdict == "not reproduced" and "stated reason" in reason and "0.31x" in reason
    verdict, reason = rule(C.over_rounds([0.5, 0.6, 0.7]), work_ratio=1.5, cores=4)
    assert verdict == "not reproduced" and "overheads" in reason
    assert rule(C.over_rounds([1.2, 1.5, 1.3]), **two)[0] == "reproduced"
    with pytest.raises(ValueError, match="work_ratio"):
        rule(C.exact(0.5), work_ratio=0.0, cores=2)


def test_solve_cost_rule_needs_cost_and_accuracy():
    rule = ch.CLAIMS["lsgd-solve-cost"].rule
    same = C.over_seeds([0.01, -0.02, 0.0])
    assert rule(C.over_rounds([1.5, 1.7, 1.6]), accuracy=same)[0] == "reproduced"
    worse = C.over_seeds([0.5, 0.6, 0.55])
    assert rule(C.over_rounds([1.5, 1.7, 1.6]), accuracy=worse)[0] == "partly"
    assert rule(C.over_rounds([7.0, 9.0, 11.0]), accuracy=same)[0] == "not reproduced"
    assert rule(C.over_rounds([2.0, 3.5, 2.5]), accuracy=same)[0] == "inconclusive"


def test_walltime_measurement_widens_the_seed_interval_by_the_rounds():
    infos = [_info(60.0), _info(70.0), _info(90.0)]
    it, _ = ch.lsgd_measurement(infos)
    m, ctx = ch.walltime_measurement(infos, [1.5, 2.0, 3.0])
    assert ctx == {"unreached": 0, "reached": 3}
    assert m.center == pytest.approx(it.center - math.log10(2.0))
    assert m.lo == pytest.approx(it.lo - math.log10(2.0) - math.log10(1.5))
    assert m.hi == pytest.approx(it.hi - math.log10(2.0) + math.log10(2.0 / 1.5))
    assert ch.ten_times(m, **ctx)[0] == "reproduced"
    # a cost ratio of 30 LSGD steps per Adam step turns a 60-90x lead into about 2-3x
    assert ch.ten_times(*[ch.walltime_measurement(infos, [25.0, 30.0, 35.0])[0]])[0] == "partly"


def test_processors_text_never_says_none():
    assert ch.processors_text(64, 4, 10, 2, ("FCF", 99)) == (
        "no processor count up to 65536 reaches it"
    )
    assert ch.processors_text(1024, 4, 10, 2, ("F", 99)).startswith("P >= ")


def _info(ratio, bound="="):
    return {"ratio": ratio, "bound": bound}


def test_lsgd_measurement_and_ten_times_rule():
    m, ctx = ch.lsgd_measurement([_info(60.0), _info(70.0), _info(90.0, ">")])
    assert ctx == {"unreached": 0, "reached": 3}
    assert ch.ten_times(m, **ctx)[0] == "reproduced"
    assert ch.ratio_shown(m).startswith(f"{10**m.center:.3g}x [")
    m, ctx = ch.lsgd_measurement([_info(60.0), _info(None), _info(70.0)])
    assert ctx["unreached"] == 1 and ch.ten_times(m, **ctx)[0] == "partly"
    m, ctx = ch.lsgd_measurement([_info(None), _info(None)])
    assert ch.ten_times(m, **ctx)[0] == "not reproduced"
    wide = C.over_seeds([math.log10(2), math.log10(50), math.log10(0.5)])
    assert ch.ten_times(wide)[0] == "inconclusive"
    assert ch.ten_times(C.over_seeds([-0.5, -0.4, -0.6]))[0] == "not reproduced"


def _rows():
    rows = []
    for s, noise in ((0, 0.0), (1, 0.01), (2, -0.01)):
        for d in (1, 2):
            rows += [
                {
                    "net": "MLP",
                    "depth": d,
                    "init": "box",
                    "seed": s,
                    "dead": 0.1 + noise,
                    "error": 0.02 + noise / 10,
                },
                {
                    "net": "MLP",
                    "depth": d,
                    "init": "he",
                    "seed": s,
                    "dead": 0.5 + noise,
                    "error": 0.8 + noise,
                },
                {
                    "net": "MLP",
                    "depth": d,
                    "init": "glorot",
                    "seed": s,
                    "dead": (0.5 if d == 1 else 0.05) + noise,
                    "error": 0.5 + noise,
                },
            ]
    rows.append({"net": "ResNet", "depth": 4, "init": "box", "seed": 0, "dead": 0.1, "error": None})
    return rows


def test_init_comparison_per_depth_and_initialisation():
    dead = ch.init_comparison(_rows(), "dead", against="each")
    assert [k for k, _ in dead.cases] == [
        "depth 1 vs glorot",
        "depth 1 vs he",
        "depth 2 vs glorot",
        "depth 2 vs he",
    ]
    assert ch.box_wins(dead)[0] == "partly"  # glorot has fewer dead neurons at depth 2
    assert ch.box_wins(ch.init_comparison(_rows(), "error", against="each"))[0] == "reproduced"
    assert len(dead.values) == 4
    with pytest.raises(ValueError, match="need 'box'"):
        ch.init_comparison([r for r in _rows() if r["init"] != "box"], "dead")
    with pytest.raises(ValueError, match="against"):
        ch.init_comparison(_rows(), "dead", against="weakest")


def test_init_comparison_against_the_strongest():
    # per depth one case, against the competitor box beats by the least (glorot here)
    dead = ch.init_comparison(_rows(), "dead")
    assert [k for k, _ in dead.cases] == [
        "depth 1 vs glorot (strongest)",
        "depth 2 vs glorot (strongest)",
    ]
    assert ch.box_wins(dead)[0] == "partly"
    err = ch.init_comparison(_rows(), "error")
    assert [k for k, _ in err.cases][0] == "depth 1 vs glorot (strongest)"
    assert ch.box_wins(err)[0] == "reproduced"


def test_order_of_magnitude_is_decided_by_measurements_and_smoke_is_cheap():
    from fasttrain.chapters import multiprocess_study as mps

    spec = ch.CLAIMS["speedup-order-of-magnitude"]
    assert spec.rule is mps.order_of_magnitude_speedup and spec.paper_value == 10
    assert spec.rule(C.exact(12.0), processes=4)[0] == "not testable here"  # 10x needs >= 10
    assert spec.rule(C.exact(12.0), processes=64)[0] == "reproduced"
    assert spec.rule(C.exact(3.0), processes=64)[0] == "not reproduced"
    smoke, book = ch.lp_config("smoke"), ch.lp_config("book")
    assert smoke.mp_processes == (1, 2) and smoke.mp_rounds == 1
    assert smoke.mp_mgrit_args == mps.SMOKE_MGRIT
    assert book.mp_processes == (1, 2, 4) and book.mp_rounds == 2
