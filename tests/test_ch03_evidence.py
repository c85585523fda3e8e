"""Chapter 03's evidence map and sentences, on synthetic section outputs (no training)."""

import importlib
from dataclasses import replace

import pytest

import fasttrain.chapters.ch03_random_bases as S
from fasttrain.core.claims import Unavailable
from fasttrain.core.results import ChapterResults, Evidence

# the module (the package's attribute ``evidence`` is the function of the same name)
E = importlib.import_module("fasttrain.chapters.ch03_random_bases.evidence")
BOOK = S.config("book")
FACTS = {
    "D_fc": 101_770,
    "n_train": 5000,
    "steps_per_epoch": 156,
    "epochs": {"fc": 20, "cnn": 5},
    "n_seeds": {"seeds": 5, "cnn_seeds": 3},
}


def _t1_rows(model, acc, seeds=(0, 1, 2, 3, 4)):
    """Table 1 rows for ``model``: ``acc`` = {method: per-seed accuracies}."""
    sgd = acc["SGD"]
    return [
        {
            "model": model,
            "method": m,
            "dataset": "mnist-subset",
            "seeds": list(seeds),
            "per_seed": list(v),
            "fractions": [a / s for a, s in zip(v, sgd)],
            "steps": 3120,
            "n_train": 5000,
        }
        for m, v in acc.items()
    ]


def test_table1_evidence_decides_the_ordering_from_the_rows():
    good = {
        "NES": [0.20, 0.22, 0.21, 0.19, 0.20],
        "FPD": [0.55, 0.56, 0.54, 0.55, 0.57],
        "RBD": [0.80, 0.81, 0.79, 0.80, 0.82],
        "SGD": [0.97, 0.97, 0.96, 0.97, 0.97],
    }
    out = {"facts": FACTS, "table1": _t1_rows("fc", good), "extra_datasets": [], "budget_curve": []}
    cfg = replace(S.config("smoke"), models=("fc",))
    ev = E.table1_evidence(out, cfg)
    assert isinstance(ev["table1-order-fc"], Evidence)
    verdict, _ = S.CLAIMS["table1-order-fc"].rule(ev["table1-order-fc"].measured)
    assert verdict == "reproduced"
    # the order reversed on every seed: not the paper's
    bad = dict(zip(good, reversed(list(good.values()))))
    ev = E.table1_evidence({**out, "table1": _t1_rows("fc", bad)}, cfg)
    verdict, _ = S.CLAIMS["table1-order-fc"].rule(ev["table1-order-fc"].measured)
    assert verdict == "not reproduced"
    # a model the scale does not run is "not testable here" through its rule
    assert all(isinstance(ev[f"{k}-cnn"], Unavailable) for k in ("table1-order", "gap"))


def test_extra_data_sets_that_did_not_run_are_not_testable_with_their_status():
    out = {
        "facts": FACTS,
        "budget_curve": [],
        "table1": [],
        "extra_datasets": [
            {"dataset": "cifar10", "model": "fc", "method": m, "status": "data set absent"}
            for m in ("NES", "FPD", "RBD", "SGD")
        ],
    }
    cfg = replace(S.config("smoke"), models=())
    ev = E.table1_evidence(out, cfg)
    assert ev["table1-fc-cifar10"] == Unavailable("data set absent")


def test_compression_gains_are_ratios_on_the_log_scale():
    rows = []
    for method, accs in (("RBD", [0.9, 0.92, 0.91]), ("FPD", [0.6, 0.62, 0.61])):
        rows.append(
            {
                "method": method,
                "d": 1357,
                "compartments": 1,
                "accuracy_seeds": accs,
                "fraction": 0.9,
            }
        )
    gain = E.compression_gains(rows, 101_770)
    (f,) = list(gain)
    assert f == pytest.approx(101_770 / 1357)
    m = gain[f]
    assert m.lo > 0.4 and m.hi < 0.55 and m.center == pytest.approx(0.4917, abs=0.01)


def test_the_long_cnn_claims_say_why_they_are_off_at_book_scale():
    ev = E.cnn_long_evidence({"facts": FACTS}, BOOK)
    assert set(ev) == set(E.CNN_LONG)
    for cid, u in ev.items():
        assert isinstance(u, Unavailable) and "at most inconclusive" in u.reason
        verdict, reason = S.CLAIMS[cid].rule(u)
        assert verdict == "not testable here"


def test_the_budget_claims_are_not_testable_without_a_budget_curve():
    ev = E.budget_evidence({"budget_curve": [], "facts": FACTS}, S.config("smoke"))
    assert set(ev) == set(E.LONGEST) and all(isinstance(v, Unavailable) for v in ev.values())


def test_the_evidence_map_refuses_gaps_and_claims_decided_twice(monkeypatch):
    ids = list(S.CLAIMS)
    half = len(ids) // 2

    def first(out, cfg):
        return {k: Unavailable("x") for k in ids[:half]}

    def second(out, cfg):
        return {k: Unavailable("x") for k in ids[half - 1 : -1]}

    monkeypatch.setattr(E, "PARTS", (first, second))
    with pytest.raises(ValueError) as err:
        E.evidence({}, BOOK)
    msg = str(err.value)
    assert f"decided twice: {ids[half - 1]}" in msg and f"no evidence: {ids[-1]}" in msg


def test_every_declared_claim_can_be_not_testable_through_its_rule():
    """record_all takes an Unavailable for every claim whose rule declares the precondition; the
    evidence map hands one only to those (the others would raise here)."""
    res = ChapterResults("03", "random-bases", "smoke", 0, declared=S.CLAIMS)
    unav = {**E.cnn_long_evidence({"facts": FACTS}, BOOK)}
    unav.update(E.budget_evidence({"budget_curve": [], "facts": FACTS}, S.config("smoke")))
    recorded = res.record_all(unav)
    assert {c.verdict for c in recorded} == {"not testable here"}
    assert set(res.missing()) == set(S.CLAIMS) - set(unav)
    with pytest.raises(ValueError, match="not recorded|unrecorded|missing"):
        res.write()
