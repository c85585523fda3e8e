"""Chapter 03: the compartments' training-time claims (``compartments-time``, ``-grows``), on
synthetic timing outputs (no training), and the timed variants' set-up."""

import fasttrain.chapters.ch03_random_bases as S
from fasttrain.chapters.ch03_random_bases import compartment_costs as CT
from fasttrain.core.claims import Unavailable
from fasttrain.core.results import Evidence

BOOK = S.config("book")


def _rows(h, D, K, one_ms, comp_ms, dist="gaussian"):
    base = {"hidden": h, "D": D, "distribution": dist, "inner": 1}
    return [
        base | {"K": 1, "scheme": "one subspace", "step_ms": one_ms},
        base | {"K": K, "scheme": f"K = {K}", "step_ms": comp_ms},
    ]


def _out(r128, r512, coset=(0.8,) * 12):
    rows = _rows(128, 101_770, 5, 190.0, 190.0 / r128[0]) + _rows(512, 407_050, 17, 900.0, 45.0)
    rows += _rows(128, 101_770, 5, 0.4, 0.5, "hadamard-coset")
    ratios = {
        (128, "gaussian"): list(r128),
        (512, "gaussian"): list(r512),
        (128, "hadamard-coset"): list(coset),
    }
    return {"rows": rows, "ratios": ratios, "load": [0.1, 0.2], "rounds": len(r128), "size": 25_000}


def _decide(ev):
    return {
        k: S.CLAIMS[k].rule(v.measured if isinstance(v, Evidence) else v)[0] for k, v in ev.items()
    }


def test_faster_and_growing_benefit_are_reproduced():
    r128 = [5.0 + 0.01 * k for k in range(12)]
    r512 = [20.0 + 0.02 * k for k in range(12)]
    ev = CT.evidence_compartment_time({"compartment_timing": _out(r128, r512)}, BOOK)
    assert _decide(ev) == {
        "compartments-time": "reproduced",
        "compartments-time-grows": "reproduced",
    }
    # only the deciding (Gaussian) kind decides: the coset ratios (< 1) are shown, not decided
    assert set(ev["compartments-time"].measured) == {128, 512}
    assert "D = 101770, K = 5" in ev["compartments-time"].reason


def test_slower_compartments_and_shrinking_benefit_fail():
    r128 = [0.7 + 0.01 * k for k in range(12)]
    r512 = [0.5 + 0.01 * k for k in range(12)]
    ev = CT.evidence_compartment_time({"compartment_timing": _out(r128, r512)}, BOOK)
    assert _decide(ev) == {
        "compartments-time": "not reproduced",
        "compartments-time-grows": "not reproduced",
    }


def test_too_few_rounds_decide_at_most_inconclusive():
    ev = CT.evidence_compartment_time({"compartment_timing": _out([5.0, 5.1], [20.0, 21.0])}, BOOK)
    assert set(_decide(ev).values()) == {"inconclusive"}


def test_no_timing_is_not_testable_through_the_rules():
    for out in ({}, {"compartment_timing": {"rows": [], "ratios": {}}}):
        ev = CT.evidence_compartment_time(out, BOOK)
        assert all(isinstance(v, Unavailable) for v in ev.values())
        assert set(_decide(ev).values()) == {"not testable here"}


def test_variants_split_d_among_fixed_size_compartments():
    vs = CT.variants(BOOK, 512, 407_050)
    ks = {(v["distribution"], v["scheme"]): v["K"] for v in vs}
    assert ks[("gaussian", "one subspace")] == 1
    assert ks[("gaussian", "K = 17")] == 17  # ceil(407 050 / 25 000)
    assert {v["distribution"] for v in vs} == set(BOOK.compartment_time_distributions)
    assert all(v["method"].d == BOOK.d for v in vs)


def test_the_scales_declare_the_timing():
    smoke, book = S.config("smoke"), BOOK
    assert book.compartment_time_hidden and smoke.compartment_time_hidden
    assert CT.DECIDING in book.compartment_time_distributions
