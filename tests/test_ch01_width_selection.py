"""Chapter 01's width selection for ``test-accuracy-magic`` (issue 23 a): the selection on
synthetic scores, the validation split, the study's two branches and their evidence."""

import importlib
import math

import numpy as np
import pytest

import fasttrain.chapters.ch01_linear_ivp as S
from fasttrain.core import data as data_mod
from fasttrain.methods import linearized as L

W = importlib.import_module("fasttrain.chapters.ch01_linear_ivp.width_selection")
T = importlib.import_module("test_ch01_evidence")
SMOKE, BOOK = S.config("smoke"), S.config("book")


def _scores(table):
    """A score function over ``{width: validation accuracy | None (unreached) | Exception}``."""

    def score(w):
        got = table[w]
        if isinstance(got, BaseException):
            raise got
        if got is None:
            return {"score": math.nan, "threshold": None}
        return {"score": got, "threshold": 0.85}

    return score


def test_ties_go_to_the_smaller_width_and_every_candidate_is_a_row():
    rows, chosen = S.select_width((16, 64, 256), _scores({16: 0.7, 64: 0.8, 256: 0.8}))
    assert chosen == 64
    assert [r["width"] for r in rows] == [16, 64, 256]
    assert [r["score"] for r in rows] == [0.7, 0.8, 0.8]
    assert all(r["status"] == "run" for r in rows)


def test_diverged_and_unreached_widths_are_kept_and_never_chosen():
    bad = L.SolverError("BDF solver failed")
    rows, chosen = S.select_width((16, 64, 256), _scores({16: bad, 64: None, 256: 0.6}))
    assert chosen == 256
    status = {r["width"]: r["status"] for r in rows}
    assert status[16].startswith("diverged: BDF solver failed")
    assert status[64] == "unreached"
    assert [r["score"] for r in rows] == [None, None, 0.6]


def test_nothing_reached_chooses_nothing_but_keeps_the_rows():
    rows, chosen = S.select_width((8, 16), _scores({8: None, 16: L.SolverError("x")}))
    assert chosen is None
    assert [(r["width"], r["status"]) for r in rows] == [(8, "unreached"), (16, "diverged: x")]


def _dataset(n_train=200, n_test=50):
    rng = np.random.default_rng(0)
    x_tr = np.arange(n_train, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    x_te = -1.0 - np.arange(n_test, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    return data_mod.Dataset(
        "magic",
        x_tr,
        rng.integers(0, 2, n_train).astype(np.int32),
        x_te,
        rng.integers(0, 2, n_test).astype(np.int32),
        ("gamma", "hadron"),
    )


def test_the_validation_part_comes_from_the_training_split_only():
    ds = _dataset()
    sel = S.selection_split(ds, 0.2, 5)
    tr, va = set(sel.x_train[:, 0].tolist()), set(sel.x_test[:, 0].tolist())
    assert not tr & va
    assert tr | va == set(ds.x_train[:, 0].tolist())  # never a test point (those are < 0)
    assert len(va) == pytest.approx(0.2 * len(ds.y_train), abs=2)
    # stratified, and the labels travel with their points
    for part_x, part_y in ((sel.x_train, sel.y_train), (sel.x_test, sel.y_test)):
        assert np.array_equal(ds.y_train[part_x[:, 0].astype(int)], part_y)
    # seeded: the same seed gives the same split
    assert np.array_equal(S.selection_split(ds, 0.2, 5).x_test, sel.x_test)


def test_a_width_is_scored_on_the_validation_part(monkeypatch):
    ds = _dataset(60, 20)
    x = (ds.x_train - 30) / 30  # a separable problem, so the flow reaches its thresholds
    ds = data_mod.Dataset(ds.name, x, (x[:, 0] > 0).astype(np.int32), ds.x_test, ds.y_test,
                          ds.classes)  # fmt: skip
    sel = S.selection_split(ds, 0.25, 1)
    seen = []
    real = W._net_test_acc

    def spy(su, dtheta):
        seen.append(su.ds)
        return real(su, dtheta)

    monkeypatch.setattr(W, "_net_test_acc", spy)
    cfg = SMOKE
    row = S.score_width(sel, 4, cfg, 0)
    assert row["space"] in ("function", "parameter")
    assert row["threshold"] is not None
    assert seen == [sel]  # the network at the solver's parameters, on sel's validation part
    assert 0.0 <= row["score"] <= 1.0


def _fake_rows(width, seeds, gap):
    rows = []
    for s in seeds:
        for t in (0.80, 0.85):
            last = t == 0.85
            rows.append(
                {"data": "magic", "width": width, "seed": s, "threshold": t,
                 "ode_net_test_acc": 0.9 if last else None,
                 "ode_lin_test_acc": 0.9 if last else None,
                 "gd_test_acc": 0.9 + gap + 0.001 * s if last else None}
            )  # fmt: skip
    return rows


@pytest.mark.parametrize("chosen", [64, 128])
def test_the_study_reuses_the_tables_only_at_the_tables_width(monkeypatch, chosen):
    ds = _dataset()
    monkeypatch.setattr(W, "load", lambda *a, **k: ds)
    monkeypatch.setattr(
        W, "score_width", lambda sel, w, cfg, s: {"score": 0.9 if w == chosen else 0.5}
    )
    monkeypatch.setattr(W, "make_setup", lambda ds, w, act, s: ("setup", w, s))
    ran = []

    def tta(su, *a, **k):
        ran.append(su)
        return [dict(r, width=su[1]) for r in _fake_rows(su[1], [0], 0.0)]

    monkeypatch.setattr(W, "test_accuracies", tta)
    tables = _fake_rows(64, range(5), 0.2)
    ws = S.width_selection_study(BOOK, 0, tables)
    assert ws["chosen"] == chosen and [r["width"] for r in ws["rows"]] == list(BOOK.select_widths)
    assert ws["n_select"] + ws["n_validation"] == len(ds.y_train)
    if chosen == 64:
        assert ws["reused"] and not ran and ws["tables"] == tables
    else:
        magic = next(d for d in BOOK.datasets if d.name == "magic")
        assert not ws["reused"] and [su[2] for su in ran] == [0 + off for off in magic.seeds]
        assert {r["width"] for r in ws["tables"]} == {128}
        assert {r["seed"] for r in ws["tables"]} == set(magic.seeds)


def test_evidence_at_the_tables_width_reuses_its_rows():
    out = T._out(BOOK)
    ev = S.evidence(out, BOOK)
    sel, tab = ev["test-accuracy-magic"], ev["test-accuracy-magic-tables-width"]
    assert sel.measured.center == tab.measured.center
    assert "reused" in sel.reason and "no re-run" in sel.reason
    assert "width 64 selected on seed 0's validation split" in sel.reason
    assert S.CLAIMS["test-accuracy-magic"].rule(sel.measured, **sel.context)[0] == "reproduced"


def test_evidence_at_another_width_uses_the_new_rows():
    out = T._out(BOOK)
    magic = next(d for d in BOOK.datasets if d.name == "magic")
    rerun = _fake_rows(256, magic.seeds, 0.2)  # GD 0.2 higher at width 256: not comparable
    out["width_selection"] = T._selection(BOOK, out["tables"], chosen=256, rerun=rerun)
    ev = S.evidence(out, BOOK)
    sel, tab = ev["test-accuracy-magic"], ev["test-accuracy-magic-tables-width"]
    assert "re-run at width 256" in sel.reason
    assert sel.measured.center == pytest.approx(0.202)
    rule = S.CLAIMS["test-accuracy-magic"].rule
    assert rule(sel.measured, **sel.context)[0] == "not reproduced"
    assert rule(tab.measured, **tab.context)[0] == "reproduced"  # the Tables' rows: unchanged
    says = S.sentences(out, BOOK, {})
    assert says["ch01-select-chosen"] == "256"
    assert "re-run at width 256" in says["ch01-select-how"]


def test_no_selection_is_not_testable_through_the_rule():
    out = T._out(SMOKE)
    ws = out["width_selection"]
    out["width_selection"] = dict(
        ws, chosen=None, reused=False, tables=[], rows=[dict(r, score=None, status="unreached")
                                                     for r in ws["rows"]]
    )  # fmt: skip
    ev = S.evidence(out, SMOKE)["test-accuracy-magic"]
    assert ev.reason.startswith(S.NO_WIDTH_SELECTION)
    assert S.CLAIMS["test-accuracy-magic"].rule(ev)[0] == "not testable here"
    out["width_selection"] = None
    ev = S.evidence(out, SMOKE)["test-accuracy-magic"]
    assert "runs no MAGIC" in ev.reason


def test_the_test_accuracy_part_matches_the_tables_protocol():
    ds = S.load("banknote", 0, 120, 0.2)
    su = S.make_setup(ds, 16, "tanh", 0)
    args = (0.1, (0.80, 0.85, 0.90, 0.95), 500, 500.0, 1e-3, 1e-6)
    full, _ = S.time_to_accuracy(su, *args)
    part = S.test_accuracies(su, *args)
    keys = ("threshold", "ode_net_test_acc", "ode_lin_test_acc", "gd_test_acc")
    assert [{k: r[k] for k in keys} for r in part] == [{k: r[k] for k in keys} for r in full]
    assert any(r["ode_net_test_acc"] is not None for r in part)
