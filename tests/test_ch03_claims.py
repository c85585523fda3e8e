"""Chapter 03's declared claims and rules: each rule can fail, decides on intervals, and the Study
memoises runs per seed.  No training here (the rules get synthetic measurements)."""

import pytest

from fasttrain.chapters import ch03_random_bases as S
from fasttrain.core import claims as C
from fasttrain.methods import random_bases as rb

E, R, SEEDS = C.exact, C.over_rounds, C.over_seeds


def _acc(**kw):
    base = {"NES": E(0.2), "FPD": E(0.5), "RBD": E(0.8), "SGD": E(0.9)}
    base.update(kw)
    return base


def test_claims_are_declared_with_kinds_and_quotes():
    ids = set(S.CLAIMS)
    assert len(ids) == 41
    assert {f"table1-{k}-cnn-long" for k in ("order", "rbd-fraction", "fpd-fraction")} <= ids
    assert {"table1-order-fc-longest", "rbd-400x-mnist", "table2-trained"} <= ids
    assert {"step-cost-vs-d-gaussian", "step-cost-vs-d-structured", "goal-structured-1.2x"} <= ids
    for m in ("fc", "cnn"):
        assert {f"table1-order-{m}", f"gap-{m}", f"rbd-budget-{m}"} <= ids
    assert {"table3-resnet8", "rbd-10x", "communication", "goal-structured-step"} <= ids
    assert S.CLAIMS["cos-vs-d"].kind == "analysis" and "Table 3" not in S.CLAIMS["cos-vs-d"].claim
    assert S.CLAIMS["communication"].kind == "book-goal"
    assert S.CLAIMS["communication"].paper_value is None
    for spec in S.CLAIMS.values():
        if spec.kind == "paper":
            assert spec.paper_words


def test_ordering_partly_only_when_the_central_pair_holds():
    rule = S.table1_ordering
    assert rule(_acc())[0] == "reproduced"
    # RBD a hair above SGD no longer passes as "RBD <= SGD": it is a tie, the ordering only partly holds
    assert rule(_acc(RBD=E(0.902)))[0] == "partly"
    assert rule(_acc(NES=None))[0] == "partly"
    assert rule(_acc(NES=E(0.6)))[0] == "partly"  # NES above FPD, but FPD < RBD holds
    # the central pair broken: reversed, or a tie at chance level
    assert rule(_acc(FPD=E(0.85)))[0] == "not reproduced"
    v, why = rule(_acc(FPD=E(0.1077), RBD=E(0.1078)))
    assert v == "not reproduced" and "FPD < RBD: tie" in why
    # seeds that do not separate FPD and RBD
    assert rule(_acc(FPD=SEEDS([0.4, 0.6, 0.5]), RBD=SEEDS([0.5, 0.7, 0.45])))[0] == "inconclusive"
    # separated intervals: holds
    assert (
        rule(_acc(FPD=SEEDS([0.50, 0.51, 0.52]), RBD=SEEDS([0.70, 0.71, 0.72])))[0] == "reproduced"
    )


def test_fraction_rule_has_a_bounded_partly_band_and_decides_on_the_interval():
    rule = S.fraction_of_sgd
    assert rule(E(0.93), paper=0.96)[0] == "reproduced"
    assert rule(E(0.80), paper=0.96)[0] == "partly"  # 0.16 short: inside the declared band
    assert rule(E(0.56), paper=0.81)[0] == "not reproduced"  # 0.25 short: outside it
    assert rule(E(0.12), paper=0.98)[0] == "not reproduced"  # at chance, however far NES is behind
    assert rule(E(1.05), paper=0.96)[0] == "not reproduced"
    assert rule(SEEDS([0.78, 0.79, 0.80]), paper=0.96)[0] == "partly"
    assert rule(SEEDS([0.70, 0.80, 0.90]), paper=0.96)[0] == "inconclusive"


def test_gap_budget_and_increasing_rules():
    assert S.narrows_gap(E(0.21), paper=0.139)[0] == "reproduced"
    assert S.narrows_gap(E(0.0), paper=0.083)[0] == "not reproduced"
    assert S.narrows_gap(SEEDS([0.0, 0.1, 0.05]), paper=0.139)[0] == "inconclusive"
    assert S.budget_limited(E(0.85), paper=0.96, base=0.785)[0] == "not reproduced"
    assert S.budget_limited(E(0.90), paper=0.96, base=0.785)[0] == "partly"
    up = {
        10: SEEDS([0.010, 0.011, 0.0105]),
        50: SEEDS([0.020, 0.021, 0.0205]),
        250: SEEDS([0.050, 0.049, 0.0495]),
    }
    assert S.increasing_in_d(up)[0] == "reproduced"
    assert S.increasing_in_d({**up, 250: E(0.015)})[0] == "not reproduced"
    assert S.beats_everywhere({10: E(0.01), 75: E(0.18)})[0] == "reproduced"
    assert S.beats_everywhere({10: R([-0.01, 0.02]), 75: E(0.18)})[0] == "inconclusive"


def test_compartments_and_switching_rules():
    better, tied = SEEDS([0.02, 0.03, 0.025]), SEEDS([0.001, -0.002, 0.0])
    worse = SEEDS([-0.02, -0.03, -0.025])
    assert S.compartments_help({"a": better, "b": better})[0] == "reproduced"
    assert S.compartments_help({"a": better, "b": tied, "c": worse})[0] == "inconclusive"
    assert S.compartments_help({"a": tied, "b": worse})[0] == "not reproduced"
    assert S.compartments_help({"a": better, "b": better, "c": tied})[0] == "partly"
    # a single seed's difference has no interval: a 0.005 gain is a tie, not a benefit
    assert S.compartments_help({"a": E(0.005)})[0] == "not reproduced"
    row = {"finite": True, "acc_before": 0.64, "min_acc_after": 0.55}
    assert S.switch_works([row])[0] == "not reproduced"
    rows = [
        {"run": "A", "finite": True, "acc_before": 0.6, "min_acc_after": a}
        for a in (0.6, 0.61, 0.62)
    ]
    assert S.switch_works(rows)[0] == "reproduced"
    rows.append({"run": "A", "finite": True, "acc_before": 0.6, "min_acc_after": 0.5})
    assert S.switch_works(rows)[0] == "inconclusive"  # one seed drops 0.1: the interval straddles


def test_almost_sgd_and_trained_like_gaussian():
    assert S.almost_sgd(SEEDS([0.96, 0.97, 0.965]))[0] == "reproduced"
    assert S.almost_sgd(SEEDS([0.91, 0.92, 0.915]))[0] == "partly"
    assert S.almost_sgd(SEEDS([0.80, 0.81, 0.805]))[0] == "not reproduced"
    assert S.trained_like_gaussian(SEEDS([0.005, 0.01, 0.008]))[0] == "reproduced"
    assert S.trained_like_gaussian(SEEDS([0.1, 0.12, 0.11]))[0] == "not reproduced"


def test_several_stores_centres_as_values_and_reads_like_a_dict():
    s = S.Several({"a": E(1.0), "b": None, "c": SEEDS([2.0, 4.0])})
    assert s.values == (1.0, 3.0)
    assert dict(s)["a"].center == 1.0 and {**s}["b"] is None and len(s) == 3
    assert S.table1_ordering(S.Several(_acc()))[0] == "reproduced"


def test_table1_measurements_pair_fractions_and_gaps_by_seed():
    rows = [
        {"model": "fc", "method": "NES", "dataset": "x", "per_seed": float("nan")},
        {
            "model": "fc",
            "method": "FPD",
            "dataset": "x",
            "seeds": [0, 1],
            "per_seed": [0.5, 0.6],
            "fractions": [0.5, 0.6],
        },
        {
            "model": "fc",
            "method": "RBD",
            "dataset": "x",
            "seeds": [0, 1],
            "per_seed": [0.7, 0.9],
            "fractions": [0.7, 0.9],
        },
        {
            "model": "fc",
            "method": "SGD",
            "dataset": "x",
            "seeds": [0, 1],
            "per_seed": [1.0, 1.0],
            "fractions": [1.0, 1.0],
        },
    ]
    m = S.table1_measurements(rows, "fc")
    assert m["accuracy"]["NES"] is None and m["accuracy"]["RBD"].center == pytest.approx(0.8)
    assert m["gap"].values == pytest.approx((0.2, 0.3))
    assert m["fraction"]["FPD"].interval is not None


def test_study_memo_key_includes_the_seed(monkeypatch):
    calls = []
    monkeypatch.setattr(rb, "train", lambda *a, **k: calls.append(k["seed"]) or object())
    study = S.Study(S.config("smoke"), seed=3)
    m = rb.SGD(0.1)
    a = study.run("fc", m, 1)
    assert study.run("fc", m, 1, seed=3) is a  # the study's seed is the default
    b = study.run("fc", m, 1, seed=4)
    assert b is not a and calls == [3, 4]
    assert study.seeds("seeds") == (3, 4) and len(study.over("fc", m, 1, (3, 4))) == 2
    assert calls == [3, 4]  # memoised


def test_collective_bytes_counts_the_exchanges_of_an_hlo_module():
    hlo = """
  %all-gather = f32[2,32]{1,0} all-gather(f32[1,32]{1,0} %c), channel_id=1, replica_groups={{0,1}}
  %all-reduce = (f32[], f32[]) all-reduce(f32[] %a, f32[] %b), to_apply=%add
  %add.1 = f32[101770]{0} add(f32[101770]{0} %x, f32[101770]{0} %y)
"""
    out = S.collective_bytes(hlo)
    assert out["bytes"] == 2 * 32 * 4 + 8
    assert [op for op, _ in out["ops"]] == ["all-gather", "all-reduce"]


def test_book_scale_seeds():
    book = S.config("book")
    assert len(book.seeds) >= 5 and len(book.cnn_seeds) >= 3 and book.timing_rounds >= 7


def test_scaling_claim_is_decided_by_measurements_and_smoke_is_cheap():
    from fasttrain.chapters import multiprocess_study as mps

    spec = S.CLAIMS["scaling"]
    assert spec.kind == "paper" and spec.rule is mps.near_linear_scaling
    assert "reproduced" not in spec.rule.examples  # 16 workers cannot be measured here
    smoke, book = S.config("smoke"), S.config("book")
    assert smoke.mp_processes == (1, 2) and smoke.mp_rounds == 1
    assert smoke.mp_rbd_args == mps.SMOKE_RBD
    assert book.mp_processes == (1, 2, 4) and book.mp_rounds == 2
    assert book.mp_rbd_args == mps.BOOK_RBD


def test_one_run_rules_widen_a_single_seed_by_the_declared_tolerance():
    tol = S.SINGLE_RUN_TOL
    assert tol == 0.02
    band = S.one_run_band(E(0.9))
    assert (band.lo, band.hi) == pytest.approx((0.88, 0.92))
    several = SEEDS([0.9, 0.91, 0.92])
    assert S.one_run_band(several) is several  # seeds keep their own interval
    rule = S.fraction_one_run
    assert rule(E(0.97), paper=0.98)[0] == "reproduced"
    # 0.94 is within the ± 0.05 band, but not 0.02 inside it: one seed cannot decide
    assert rule(E(0.94), paper=0.98)[0] == "inconclusive"
    assert rule(E(0.85), paper=0.98)[0] == "partly"
    assert rule(E(0.60), paper=0.89)[0] == "not reproduced"
    assert "one seed" in rule(E(0.6), paper=0.89)[1]
    order = S.ordering_one_run
    acc = {"NES": None, "FPD": E(0.5), "RBD": E(0.8), "SGD": E(0.9)}
    assert order(acc)[0] == "partly"  # NES not run: never more than partly
    assert order({**acc, "RBD": E(0.53)})[0] == "inconclusive"  # 0.03 apart: within 2 × 0.02
    assert order({**acc, "RBD": E(0.45)})[0] == "not reproduced"
    for k in ("rbd", "fpd"):
        assert S.CLAIMS[f"table1-{k}-fraction-cnn-long"].rule is S.fraction_one_run
    assert S.CLAIMS["table1-order-cnn-long"].rule is S.ordering_one_run


def test_book_budget_reaches_the_papers_steps_and_the_cnn_grid_goes_beyond_64():
    book, smoke = S.config("book"), S.config("smoke")
    steps_per_epoch = 5000 // book.batch_size
    assert max(book.budget_epochs) * steps_per_epoch >= 156_000
    assert book.budget_epochs[0] == book.epochs and len(book.budget_seeds) >= 3
    # the long CNN runs reach 25 000 steps at book scale
    assert max(book.cnn_long_evals) * steps_per_epoch >= 25_000
    assert book.cnn_long_epochs == max(book.cnn_long_evals) and "cnn" in book.models
    assert S.grid_for(book, "cnn") == (1, 4, 16, 64, 256)
    assert S.grid_for(book, "fc") == book.lr_grid
    assert S.grid_for(smoke, "cnn") == smoke.lr_grid
    assert smoke.cnn_long_epochs == 0 and not smoke.count_kernels
    assert S.config("paper").cnn_long_epochs == 0


def test_structured_step_facts_say_what_was_counted_and_changed():
    txt = S.structured_step_facts({"SGD": 22, "RBD hadamard-coset": 110})
    assert "SGD 22" in txt and "110" in txt
    assert "not counted" in S.structured_step_facts({})
    expected = "changed the structured step" if S.STRUCTURED_STEP_CHANGES else "no change"
    assert expected in txt


def test_xla_flags_are_refused_once_jax_has_started(monkeypatch):
    import jax.numpy as jnp

    jnp.zeros(1).block_until_ready()  # JAX's backend is up
    monkeypatch.setenv("XLA_FLAGS", "")
    assert S.use_xla_flags(S.config("book")) == ""  # nothing asked: nothing to refuse
    with pytest.raises(RuntimeError, match="before JAX starts"):
        S.use_xla_flags(S.config("smoke"))


def _long(method, factor, status, at=None):
    return {"method": method, "factor": factor, "status": status, "diverged_at": at}


def test_long_claims_use_the_completed_run_and_name_every_rate():
    """The divergence protocol's outcome through the claims machinery: the completed run decides
    the claim, the diverged attempt is named in the reason; no completed run: not testable."""
    attempts = [
        _long("RBD", 64, "diverged", 9927),
        _long("RBD", 16, "completed"),
        _long("FPD", 64, "completed"),
        _long("SGD", 4, "completed"),
    ]
    acc = {"RBD": 0.97, "FPD": 0.90, "SGD": 0.99}
    rows = [
        {
            "method": m,
            "epochs": e,
            "steps": e * 156,
            "per_seed": [a - (161 - e) / 1000],
            "fractions": [(a - (161 - e) / 1000) / (0.99 - (161 - e) / 1000)],
        }
        for e in (80, 161)
        for m, a in acc.items()
    ]
    lm = S.long_measurements(rows, attempts)
    assert lm["rates"] == "RBD 16× (64× diverged at step 9927), FPD 64×, SGD 4×"
    assert lm["steps"] == 161 * 156 and lm["missing"] == []
    assert lm["accuracy"]["RBD"].center == pytest.approx(0.97) and lm["accuracy"]["NES"] is None
    spec = S.CLAIMS["table1-rbd-fraction-cnn-long"]
    assert spec.rule(lm["fraction"]["RBD"], paper=spec.paper_value)[0] == "reproduced"
    spec = S.CLAIMS["table1-fpd-fraction-cnn-long"]
    assert spec.rule(lm["fraction"]["FPD"], paper=spec.paper_value)[0] == "reproduced"
    assert S.CLAIMS["table1-order-cnn-long"].rule(S.Several(lm["accuracy"]))[0] == "partly"
    # every RBD candidate diverged: RBD has no completed run, its claims cannot be decided
    gone = [_long("RBD", f, "diverged", 10 * f) for f in (64, 16, 4, 1)] + attempts[2:]
    lm = S.long_measurements([r for r in rows if r["method"] != "RBD"], gone)
    assert lm["missing"] == ["RBD"] and lm["fraction"]["RBD"] is None
    assert lm["rates"].startswith("RBD: no completed run (64× diverged at step 640; 16×")
    order = S.CLAIMS["table1-order-cnn-long"].rule(S.Several(lm["accuracy"]))
    assert order[0] == "not testable here"
