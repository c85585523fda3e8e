"""Chapter 03 (issue 24, items 5 and 6): the CNN's long runs are an explicit foreground step
(:func:`long_runs`, no thread), and the learning-rate and multi-device tables the notebook shows
are built by tested functions (:func:`lr_tables`, :func:`distributed_tables`)."""

import importlib
import inspect
import math
import threading
from dataclasses import replace

import pytest

import fasttrain.chapters.ch03_random_bases as S
from fasttrain.chapters.ch03_random_bases import study as study_module
from fasttrain.chapters.ch03_random_bases import table1_runs as T
from fasttrain.core.tables import readable


# ===================================================================== no hidden thread
def test_the_chapter_starts_no_thread_of_its_own():
    for module in (T, study_module):
        src = inspect.getsource(module)
        assert "ThreadPoolExecutor" not in src and "import threading" not in src
    assert not hasattr(S, "start_background") and not hasattr(S, "_background_job")
    fields = S.Study.__dataclass_fields__
    assert "_background" not in fields and "_local" not in fields


@pytest.mark.parametrize("scale", ["smoke", "book", "paper"])
def test_long_runs_is_a_no_op_where_the_scale_has_none(scale):
    """No configured scale has long runs: the step trains nothing and says so."""
    study = S.Study(S.config(scale), 0)
    before = threading.active_count()
    out = S.long_runs(study)
    assert out == {"ran": False, "status": S.NO_LONG_RUNS, "long": [], "attempts": []}
    assert study.runs == {} and threading.active_count() == before


def _no_threads(monkeypatch):
    """Starting any Python thread raises (tqdm's own monitor thread, a progress-bar timer, is
    switched off first: it is the progress bar's, not the chapter's)."""
    import tqdm

    def refuse(self):
        raise AssertionError(f"a thread was started: {self.name}")

    monkeypatch.setattr(tqdm.tqdm, "monitor_interval", 0)
    monkeypatch.setattr(threading.Thread, "start", refuse)


@pytest.mark.heavy
def test_long_runs_train_in_the_foreground_and_lr_selection_reads_them(monkeypatch):
    """With long runs configured (here on a tiny FC), the step trains them in the calling thread
    (starting any thread fails this test), memoised, and lr_selection then reads the long runs'
    seeds off them (no new run of those) with the same selection as a study without long runs."""
    monkeypatch.setattr(T, "LONG_MODEL", "fc")
    cfg = replace(
        S.config("smoke"), n_train=256, val_size=64, cnn_long_epochs=2, cnn_long_evals=(1,)
    )
    study = S.Study(cfg, 0)
    _no_threads(monkeypatch)
    before = threading.active_count()
    out = S.long_runs(study)
    assert threading.active_count() == before
    assert out["ran"] and [a["method"] for a in out["attempts"]] == ["RBD", "FPD", "SGD"]
    assert out["status"] == "3 run(s) of 2 epochs, 3 completed, 0 diverged"
    assert {(r["method"], r["epochs"]) for r in out["long"]} == {
        (m, e) for m in S.SELECTED for e in (1, 2)
    }
    n = len(study.runs)
    assert S.long_runs(study)["long"] == out["long"] and len(study.runs) == n  # memoised
    sel = S.lr_selection(study)
    assert "long" not in sel and "attempts" not in sel
    # the long runs' seed was read off them (they are scored after the short budget's epoch):
    # lr_selection trained no short run of that seed at a selected rate
    seed = study.seeds("cnn_long_seeds")[0]
    picked = _picked(sel, cfg)
    # memo keys: (model, method, epochs, dataset, n_train, switch_at, then, seed, split, kw)
    again = [
        k
        for k in list(study.runs)[n:]
        if k[1] in picked and k[2] == cfg.epochs and k[7] == seed and k[8] == "test"
    ]
    assert cfg.epochs in study.long_evals() and again == []
    plain = S.lr_selection(S.Study(replace(cfg, cnn_long_epochs=0, cnn_long_evals=()), 0))
    assert [r["factor"] for r in sel["selected"]] == [r["factor"] for r in plain["selected"]]
    for a, b in zip(sel["selected"], plain["selected"]):
        assert a["per_seed"] == pytest.approx(b["per_seed"], abs=2e-3)  # one run or vmapped


def _picked(sel, cfg):
    lr = S.learning_rates("fc", cfg.dataset)
    return {
        T._method_at(r["method"], lr[r["method"].lower()] * r["factor"], cfg)
        for r in sel["selected"]
    }


# ===================================================================== the tables
def _selected(model="fc", seeds=(0, 1, 2)):
    return [
        {
            "model": model,
            "method": m,
            "factor": f,
            "lr": 0.1 * f,
            "val_accuracy": 0.9,
            "seeds": list(seeds),
            "per_seed": [0.90 + 0.01 * i for i in range(len(seeds))],
            "accuracy": 0.91,
            "fraction": 0.95,
        }
        for m, f in (("RBD", 16), ("FPD", 4), ("SGD", 1))
    ]


def test_lr_tables_without_long_runs_show_only_the_selected_rates():
    cfg = S.config("book")
    off = {"ran": False, "status": S.NO_LONG_RUNS, "long": [], "attempts": []}
    tables = S.lr_tables(_selected() + _selected("cnn", (0,)), off, cfg)
    assert len(tables) == 1
    frame, columns, options = tables[0]
    assert options["caption"].startswith("Selected learning rates")
    assert list(frame["model "]) == ["FC"] * 3 + ["CNN"] * 3 and list(frame.n) == [3] * 3 + [1] * 3
    assert frame.sd.iloc[0] == pytest.approx(0.01) and math.isnan(frame.sd.iloc[-1])
    assert columns["sd"] == "sd over seeds"
    readable(frame, columns, **options)  # every column the table names is in the frame


def test_lr_tables_with_long_runs_add_the_attempts_and_the_completed_runs():
    cfg = replace(S.config("book"), cnn_long_epochs=4, cnn_long_seeds=(0, 1))
    attempt = {
        "method": "RBD",
        "factor": 64,
        "lr": 4.0,
        "selected": True,
        "status": "diverged",
        "diverged_at": 99,
        "last_step": 78,
        "last_accuracy": 0.5,
        "step_ms": 7.5,
    }
    row = {
        "method": "RBD",
        "factor": 16,
        "lr": 1.0,
        "steps": 624,
        "epochs": 4,
        "accuracy": 0.97,
        "fraction": 0.98,
    }
    long = {"ran": True, "status": "x", "long": [row], "attempts": [attempt]}
    tables = S.lr_tables(_selected(), long, cfg)
    assert [t[2]["caption"].split(":")[0].split(" (")[0] for t in tables[1:]] == [
        "CNN long runs under the divergence protocol",
        "CNN long runs that completed",
    ]
    assert tables[2][1]["epochs"] == "epochs of 5 000 images"
    assert tables[2][1]["accuracy"] == "test accuracy (2 seed(s))"
    for frame, columns, options in tables:
        readable(frame, columns, **options)


def test_distributed_tables_from_a_synthetic_study():
    dist = {
        "d": 252,
        "D": 101_770,
        "bytes": [
            {"groups": 1, "bytes": 0, "ops": []},
            {"groups": 2, "bytes": 1008, "ops": [("all-gather", 1008)]},
        ],
    }
    summary = [
        {
            "devices": g,
            "d per device": 252 // g,
            "max |loss diff|": 1e-7 * g,
            "acc serial": 0.9,
            "acc devices": 0.9,
            "step_ms serial": 2.0 * g,
            "step_ms devices": 2.0,
            "throughput vs 1 device": 1.0 / g,
        }
        for g in (1, 2)
    ]
    (xb, xc, xo), (ds, dc, do) = S.distributed_tables(dist, summary)
    assert list(xb.collectives) == ["none", "all-gather 1008 B"]
    assert set(xb["coefficients: 4d (B)"]) == {1008} and set(xb["SGD gradient: 4D (B)"]) == {
        407_080
    }
    assert xo == {} and list(xc) == list(xb.columns)
    assert list(ds.columns) == [
        "devices",
        "d per device",
        "max |loss difference|",
        "accuracy, serial",
        "accuracy, devices",
        "ms per step, serial",
        "ms per step, devices",
        "throughput ÷ 1 device's",
    ]
    assert list(ds["throughput ÷ 1 device's"]) == [1.0, 0.5]
    assert do["digits"]["ms per step, serial"] == 2
    readable(xb, xc, **xo)
    readable(ds, dc, **do)


def test_the_long_cnn_evidence_reads_the_long_runs_step():
    """Where a scale has long runs, the evidence map decides the three long-run claims from
    ``out["long_runs"]`` (the step's own output), no longer from lr_selection's."""
    E = importlib.import_module("fasttrain.chapters.ch03_random_bases.evidence")

    cfg = replace(S.config("book"), cnn_long_epochs=161, cnn_long_seeds=(0, 1, 2))
    acc = {"RBD": 0.97, "FPD": 0.90, "SGD": 0.99}
    rows = [
        {
            "method": m,
            "epochs": 161,
            "steps": 161 * 156,
            "per_seed": [a, a + 0.001, a - 0.001],
            "fractions": [a / 0.99] * 3,
        }
        for m, a in acc.items()
    ]
    attempts = [{"method": m, "factor": 4, "status": "completed"} for m in acc]
    out = {
        "long_runs": {"ran": True, "status": "x", "long": rows, "attempts": attempts},
        "facts": {"steps_per_epoch": 156},
    }
    ev = E.cnn_long_evidence(out, cfg)
    assert set(ev) == set(E.CNN_LONG)
    assert "RBD 4×, FPD 4×, SGD 4×" in ev["table1-rbd-fraction-cnn-long"].reason
    assert ev["table1-rbd-fraction-cnn-long"].measured.center == pytest.approx(0.97 / 0.99)
