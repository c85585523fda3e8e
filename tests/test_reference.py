"""The numbers of each chapter's smoke run against its committed reference, within declared tolerances.

nbval pins only outputs no rounding can change; the claims' numbers are checked here, from the
results file the smoke run wrote, against ``tests/reference/NN-name.json`` (refreshed by
``make fixtures``, which derives each tolerance from runs under capped instruction sets; see
:mod:`fasttrain.core.reference`).  The chapter-level tests run after nbval has executed the
notebooks in this session and read the results files it left; run alone, they execute the chapter
at smoke scale themselves.  The unit tests below check the comparison itself on synthetic results.
"""

import copy
import json
from pathlib import Path

import pytest

from fasttrain import book
from fasttrain.core import reference as R

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = book.chapters()


@pytest.mark.after_notebooks
@pytest.mark.parametrize("ch", sorted(CHAPTERS))
def test_smoke_numbers_match_the_reference(ch, smoke_results):
    path = book.REFERENCES / (CHAPTERS[ch].stem + ".json")
    assert path.exists(), f"{path} missing: run `make fixtures CH={ch}`"
    ref = json.loads(path.read_text(encoding="utf-8"))
    declared = book.chapter_module(ch).REGRESSION
    problems = R.check(ref, smoke_results(ch), declared)
    assert not problems, (
        f"chapter {ch}'s smoke run departs from {path.relative_to(ROOT)} "
        f"({len(problems)}):\n" + "\n".join(problems[:40])
    )


@pytest.mark.parametrize("ch", sorted(CHAPTERS))
def test_reference_was_derived_under_capped_instruction_sets(ch):
    ref = json.loads((book.REFERENCES / (CHAPTERS[ch].stem + ".json")).read_text(encoding="utf-8"))
    variants = ref["recorded_on"]["variants"]
    assert list(variants)[0] == "default" and len(variants) >= 2
    assert any("SSE4_2" in env.get("XLA_FLAGS", "") for env in variants.values())
    assert ref["scale"] == "smoke" and ref["chapter"] == ch
    declared = book.chapter_module(ch).REGRESSION
    for key, spec in ref["quantities"].items():
        # the reference and the chapter's declaration agree on what is free
        assert (spec["check"] == "free") == (declared.free_reason(key) is not None), key
        if spec["check"] == "tol":
            # no tolerance wider than SAFETY x the measured deviation, or its stated floors
            bound = max(R.SAFETY * spec["spread"], R.ZERO_FLOOR, R.REL_FLOOR * abs(spec["value"]))
            assert spec["tol"] <= bound * (1 + 1e-12) or "floor" in spec["why"], key


def test_checked_cells_are_sanitized_like_nbval():
    pats = book.sanitize_patterns()
    assert ("(iterations LSGD / Adam per seed) .*", r"\1 <TRAJECTORY>") in pats
    assert all(len(p) == 2 for p in pats)


# ------------------------------------------------------------------ the comparison on synthetic data


def _results(values, verdict="reproduced", timing=(1.0, 2.0), extra=None):
    return {
        "chapter": "99",
        "name": "synthetic",
        "scale": "smoke",
        "seed": 0,
        "claims": [
            {"id": "acc", "verdict": verdict, "values": list(values), "interval": None},
            {"id": "zero", "verdict": "reproduced", "values": [1e-17], "interval": None},
            {"id": "speed", "verdict": "inconclusive", "values": list(timing), "interval": None},
        ],
        "extra": extra if extra is not None else {"protocol": {"steps": 10, "lr": 0.1}},
    }


DECL = R.Declared(timing=("speed",), extra=("protocol/*",), why={"speed": "timed rounds"})


def _ref(*moved):
    runs = {"default": _results([0.5, 0.25])}
    for i, v in enumerate(moved):
        runs[f"v{i}"] = _results(v, timing=(3.0, 0.5))
    return R.derive(runs, DECL)


def test_tolerance_is_safety_times_the_measured_deviation():
    ref = _ref([0.5 + 1e-6, 0.25])
    q = ref["quantities"]["claims/acc/values/0"]
    assert q["check"] == "tol" and q["tol"] == pytest.approx(R.SAFETY * 1e-6)
    assert ref["quantities"]["claims/zero/values/0"]["tol"] == R.ZERO_FLOOR
    assert ref["quantities"]["claims/speed/values/0"]["check"] == "free"
    assert ref["quantities"]["extra/protocol/steps"] == {
        "check": "exact",
        "value": 10,
        "why": "an integer that no variant changed",
    }
    assert not R.check(ref, _results([0.5 + 5e-6, 0.25], timing=(9.0, 9.0)), DECL)
    problems = R.check(ref, _results([0.5 + 2e-5, 0.25]), DECL)
    assert len(problems) == 1 and problems[0].startswith("claims/acc/values/0")


def test_a_quantity_that_did_not_move_gets_the_stated_floor():
    ref = _ref([0.5, 0.25])
    q = ref["quantities"]["claims/acc/values/1"]
    assert q["tol"] == pytest.approx(R.REL_FLOOR * 0.5) and "floor" in q["why"]


def test_derive_refuses_an_undeclared_quantity_that_moves():
    with pytest.raises(R.ReferenceError, match="claims/acc/values/0: moves"):
        _ref([0.6, 0.25])
    with pytest.raises(R.ReferenceError, match="claims/acc/verdict"):
        R.derive(
            {"default": _results([0.5, 0.25]), "v": _results([0.5, 0.25], verdict="partly")}, DECL
        )
    with pytest.raises(R.ReferenceError, match="at least one variant"):
        R.derive({"default": _results([0.5, 0.25])}, DECL)


def test_check_reports_changed_verdicts_missing_claims_settings_and_types():
    ref = _ref([0.5, 0.25])
    r = _results([0.5, 0.25], verdict="partly")
    assert any("claims/acc/verdict: 'partly'" in p for p in R.check(ref, r, DECL))
    r = _results([0.5, 0.25])
    del r["claims"][1]
    assert any("missing ['zero']" in p for p in R.check(ref, r, DECL))
    r = _results([0.5, 0.25], extra={"protocol": {"steps": 11, "lr": 0.1}})
    assert any("extra/protocol/steps: 11" in p for p in R.check(ref, r, DECL))
    r = _results([0.5, 0.25], timing=("fast", 1.0))
    assert any("claims/speed/values/0: a str" in p for p in R.check(ref, r, DECL))
    r = _results([0.5, 0.25])
    r["claims"][2]["verdict"] = "great"
    assert any("is not a verdict" in p for p in R.check(ref, r, DECL))
    r = _results([0.5, 0.25, 0.75])
    assert any(
        "claims/acc/values/2: 0.75 is not in the reference" in p for p in R.check(ref, r, DECL)
    )
    r = copy.deepcopy(_results([0.5, 0.25]))
    r["seed"] = 1
    assert any(p.startswith("seed: 1") for p in R.check(ref, r, DECL))


def test_redeclare_frees_what_the_declaration_now_frees_as_derive_would():
    runs = {"default": _results([0.5, 0.25]), "v": _results([0.5 + 1e-6, 0.25], timing=(3.0, 0.5))}
    old = R.derive(runs, DECL)
    wider = R.Declared(
        timing=("speed",), trajectory=("acc",), extra=("protocol/*",), why={"acc": "a trajectory"}
    )
    new = R.redeclare(old, wider)
    assert new["quantities"] == R.derive(runs, wider)["quantities"]
    assert old["quantities"]["claims/acc/values/0"]["check"] == "tol"  # the input is not changed
    moved = _results([0.9, 0.1], verdict="partly")
    assert R.check(old, moved, DECL) and not R.check(new, moved, wider)
    with pytest.raises(R.ReferenceError, match="no longer declared free.*claims/acc/values/0"):
        R.redeclare(new, DECL)


def test_free_values_leave_the_verdict_pinned():
    decl = R.Declared(timing=("speed",), free_values=("acc",), extra=("protocol/*",))
    assert decl.free_reason("claims/acc/values/0") is not None
    assert decl.free_reason("claims/acc/verdict") is None
    ref = R.derive(
        {"default": _results([0.5, 0.25]), "v": _results([0.6, 0.2], timing=(3.0, 0.5))}, decl
    )
    assert ref["quantities"]["claims/acc/verdict"]["check"] == "exact"
    assert not R.check(ref, _results([0.7, 0.1]), decl)
    assert any(
        "claims/acc/verdict" in p for p in R.check(ref, _results([0.5, 0.25], "partly"), decl)
    )
