"""Chapter 04's evidence map and sentences, on synthetic section outputs (no training, no timing)."""

from types import SimpleNamespace

import numpy as np
import pytest

import fasttrain.chapters.ch04_layer_parallel_lsgd as ch
from fasttrain.chapters.ch04_layer_parallel_lsgd import evidence_map as E
from fasttrain.core import claims
from fasttrain.core.claims import Unavailable
from fasttrain.core.results import ChapterResults, Evidence
from fasttrain.methods import lsgd as LS

SMOKE, BOOK = ch.config("smoke"), ch.config("book")


def _run(**kw):
    return SimpleNamespace(**kw)


def _study(cfg, problems=("peaks", "banknote"), acc_par=0.9, loss_par=0.5):
    """A training study: every seed serial and ``n_fwd`` iterations, the first seed every count."""
    lp, runs = cfg.lp, {}
    for j, s in enumerate(lp.seeds):
        r = {}
        for name in problems:
            ks = ["serial", *lp.train_iters] if j == 0 else ["serial", lp.n_fwd]
            for k in ks:
                par = k != "serial"
                r[name, k] = _run(
                    test_accuracy=np.array([0.5, acc_par + 0.01 * j if par else 0.9 + 0.01 * j]),
                    exact_loss=np.array([1.0, loss_par if par else 0.5]),
                )
        runs[s] = r
    base = {(n, s): 0.5 for n in problems for s in lp.seeds}
    return {"runs": runs, "baseline": base}


def _speed(cfg, ratio=0.3):
    lp, rows = cfg.lp, []
    for N in lp.timing_depths:
        rows.append({"depth": N, "method": "serial", "variant": "–", "iterations": None})
        for v in ("FCF, two-level", "FCF, multilevel"):
            for k, devices in ((lp.n_fwd, 1), (lp.n_fwd, 2), (6, 1)):
                rr = tuple(ratio + 0.01 * i for i in range(lp.timing_rounds))
                rows.append(
                    {
                        "depth": N,
                        "method": "MGRIT",
                        "variant": v,
                        "iterations": k,
                        "devices": devices,
                        "fwd_ratios": rr,
                        "fwdbwd_ratios": rr,
                        "serial/MGRIT fwd": float(np.median(rr)),
                        "serial/MGRIT fwd+bwd": float(np.median(rr)),
                    }
                )
    load = {f"timing N={N}": [1.0, 1.1] for N in lp.timing_depths}
    return {"rows": rows, "load": load, "devices": 2}


MPS = {
    "mgrit": [
        {"P": 1, "cycle_measured": 0.01, "speedup_measured": 0.5},
        {"P": 2, "cycle_measured": 0.008, "speedup_measured": 0.6},
    ],
    "mgrit_deep": [{"P": P, "speedup_model": P / 10} for P in (16, 64, 256)],
    "mgrit_problem": {"depth": 16, "width": 8},
    "mgrit_deep_problem": {"depth": 4096, "levels": 6, "n_iter": 2},
    "rounds": [],
}


def _lsgd_errors(n, start, end):
    return np.geomspace(start, end, n)


def _out(cfg, lsgd_err=1e-4, adam_err=1e-2):
    """Every section's output at ``cfg``: LSGD reaches ``lsgd_err``, Adam ``adam_err``."""
    lp, ls = cfg.lp, cfg.ls
    benches = [LS.benchmark(n, ls.osc_k).name for n in ls.benchmarks]
    seeds2 = list(ls.seeds)
    reg = {
        s: {
            b: {
                "LSGD": _run(error=_lsgd_errors(50, 1e-1, lsgd_err), wall_time=0.1),
                "Adam": _run(error=_lsgd_errors(500, 1.0, adam_err), wall_time=0.5),
                **(
                    {"GD": _run(error=_lsgd_errors(500, 1.0, 0.1), wall_time=0.5)}
                    if "GD" in ls.methods
                    else {}
                ),
            }
            for b in benches
        }
        for s in seeds2
    }
    ratios = {
        b: [ch.iteration_ratio(reg[s][b]["LSGD"], reg[s][b]["Adam"]) for s in seeds2]
        for b in benches
    }
    wall = {
        b: [
            {
                "ratios": [20.0 + s, 22.0, 21.0],
                "load": [1.0, 1.0],
                "reached": True,
                "seconds": {"LSGD": 0.01, "Adam": 0.2},
            }
            for s in seeds2
        ]
        for b in benches
    }
    cost = {
        b: {
            "lsgd/adam": [1.5, 1.6, 1.7, 1.5, 1.6, 1.4, 1.8],
            "qr/cholesky": [5.0] * 7,
            "ms_per_it": {"LSGD": 0.1, "LSGD (QR)": 0.5, "Adam": 0.06},
            "overhead": {"LSGD": 0.02, "LSGD (QR)": 0.01, "Adam": 0.03},
            "fixed_ms": {"LSGD": 1.0},
            "load": [1.0, 1.0],
        }
        for b in benches
    }
    acc_seeds = list(ls.accuracy_seeds)
    final = {
        "cholesky": {b: {s: 1e-3 * (1 + 0.1 * s) for s in acc_seeds} for b in benches},
        "qr": {b: {s: 1e-3 * (1 + 0.1 * s) for s in acc_seeds} for b in benches},
    }
    init = [
        {
            "net": net,
            "depth": d,
            "init": i,
            "seed": s,
            "seconds": 0.1,
            "dead": (0.0 if i == "box" else 0.3) + 0.01 * s,
            "error": (1e-3 if i == "box" else 1e-2) * (1 + 0.1 * s) if net == "MLP" else None,
        }
        for net in ("MLP", "ResNet")
        for d in ls.init_depths
        for i in ls.init_methods
        for s in range(3)
    ]
    pinn = {
        pr: {
            s: {
                "LSGD": _run(error=_lsgd_errors(ls.pinn_steps + 1, 1.0, lsgd_err), wall_time=0.2),
                "Adam": _run(error=_lsgd_errors(ls.pinn_steps + 1, 1.0, adam_err), wall_time=0.2),
            }
            for s in ls.pinn_seeds
        }
        for pr in ls.pinn_problems
    }
    study = _study(cfg)
    same = {
        n: {
            "distance": claims.worst_case([0.01, 0.02], higher=False),
            "agree": claims.worst_case([1.0, 0.99]),
            "per_seed": {"distance": [0.01, 0.02], "agree": [1.0, 0.99]},
        }
        for n in ("peaks", "banknote")
    }
    return {
        "convergence": [
            {"depth": d, "variant": v, "levels": 2, "iters_to_tol": 6, "max_err_vs_serial": 1e-15}
            for d in lp.conv_depths
            for v in ("F, two-level", "FCF, two-level")
        ],
        "gradients": [
            {"depth": d, "iterations": k, "grad_rel_err": 10.0 ** (-2 * k), "loss_err": 1e-9}
            for d in lp.grad_depths
            for k in (1, 2, 8)
        ],
        "training": study,
        "same_network": same,
        "lbfgs": _study(cfg, problems=tuple(lp.lbfgs_data)) if lp.lbfgs_steps else None,
        "exact": [
            {"optimizer": o, "iterations": 4, "max_rel_diff": 1e-13} for o in ("Adam", "L-BFGS")
        ]
        if lp.exact_steps
        else None,
        "speed": _speed(cfg),
        "multiprocess": MPS,
        "lr": {(b, m): 1e-3 for b in benches for m in ls.methods},
        "regression": reg,
        "iteration_ratios": ratios,
        "time_to_target": wall,
        "iteration_cost": cost,
        "final_errors": final,
        "init": init,
        "pinn": pinn,
        "pinn_lr": {pr: {"LSGD": 1e-3, "Adam": 1e-3} for pr in ls.pinn_problems},
        "wall_time_s": 300.0,
        "cpus": 2,
    }


@pytest.mark.parametrize("cfg", [SMOKE, BOOK], ids=["smoke", "book"])
def test_every_claim_is_recorded_once_at_every_scale(cfg):
    ev = ch.evidence(_out(cfg), cfg)
    assert set(ev) == set(ch.CLAIMS)
    res = ChapterResults("04", "layer-parallel-lsgd", cfg.scale, 0, declared=ch.CLAIMS)
    res.record_all(ev)
    assert res.missing() == []
    verdicts = {c.id: c.verdict for c in res.claims}
    assert verdicts["mgrit-equals-serial"] == "reproduced"
    assert verdicts["mgrit-gradients"] == "reproduced"
    assert verdicts["speedup-order-of-magnitude"] == "not testable here"
    # LSGD 100x below Adam on every seed: >= 10x on the interval
    assert verdicts["lsgd-accuracy-smooth1d"] == "reproduced"
    assert verdicts["box-init-error"] == "reproduced"
    if cfg.scale == "smoke":
        assert verdicts["speedup-forward-N1024"] == "not testable here"
        assert verdicts["training-lbfgs-peaks"] == "not testable here"
        assert (
            "runs no L-BFGS" in next(c for c in res.claims if c.id == "training-lbfgs-peaks").reason
        )
        assert verdicts["pinn-lsgd-damped"] == "not testable here"
        assert verdicts["mgrit-bounded-iterations"] == "partly"  # depths below 1024
    else:
        assert verdicts["mgrit-bounded-iterations"] == "reproduced"
        # 9 rounds of 0.3x: wholly below 1 and the work bound below 1 on 2 cores
        assert verdicts["speedup-forward-N1024"] == "not reproduced"
        assert verdicts["mgrit-training-equals-serial"] == "reproduced"


def test_a_violating_case_gives_the_verdict_the_rule_promises():
    # LSGD ends 10x above Adam: Adam's final error over LSGD's is below 1x on every seed
    ev = E.regression_evidence(_out(BOOK, lsgd_err=1e-1, adam_err=1e-2), BOOK)
    spec = ch.CLAIMS["lsgd-accuracy-smooth1d"]
    e = ev["lsgd-accuracy-smooth1d"]
    assert spec.rule(e.measured, **e.context)[0] == "not reproduced"
    # MGRIT needs more than 10 iterations at some depth
    out = _out(BOOK)
    out["convergence"] = [dict(r, iters_to_tol=12) for r in out["convergence"]]
    e = E.convergence_evidence(out, BOOK)["mgrit-bounded-iterations"]
    verdict, _ = ch.CLAIMS["mgrit-bounded-iterations"].rule(e.measured, **e.context)
    assert verdict == "not reproduced"
    # layer-parallel training far below serial on every seed
    out["training"] = _study(BOOK, acc_par=0.5, loss_par=5.0)
    e = E.training_evidence(out, BOOK)["training-peaks"]
    assert ch.CLAIMS["training-peaks"].rule(e.measured, **e.context)[0] == "not reproduced"


def test_the_speed_claims_take_the_best_layout_and_its_work():
    out = _out(BOOK)
    ev = E.speed_evidence(out, BOOK)
    e = ev["speedup-forward-N512"]
    assert isinstance(e, Evidence) and e.context["cores"] == 2
    assert "FCF, two-level" in e.reason and "9 interleaved rounds" in e.reason
    assert e.context["work_ratio"] > 1


def test_the_evidence_map_refuses_gaps_and_claims_decided_twice(monkeypatch):
    ids = list(ch.CLAIMS)
    half = len(ids) // 2

    def first(out, cfg):
        return {k: Unavailable("x") for k in ids[:half]}

    def second(out, cfg):
        return {k: Unavailable("x") for k in ids[half - 1 : -1]}

    monkeypatch.setattr(E, "PARTS", (first, second))
    with pytest.raises(ValueError) as err:
        ch.evidence({}, BOOK)
    msg = str(err.value)
    assert f"decided twice: {ids[half - 1]}" in msg and f"no evidence: {ids[-1]}" in msg


def test_a_claim_every_scale_measures_cannot_be_missing():
    with pytest.raises(ValueError, match="measured at every scale"):
        E._not_run(["mgrit-gradients"], SMOKE)


def test_sentences_quote_the_numbers_and_every_recorded_verdict():
    out = _out(BOOK)
    res = ChapterResults("04", "layer-parallel-lsgd", "book", 0, declared=ch.CLAIMS)
    res.record_all(ch.evidence(out, BOOK))
    says = ch.sentences(out, BOOK, res.claims)
    assert says["v-mgrit-gradients"] == "reproduced"
    assert says["v-lsgd-vs-adam-osc1dk4"] in claims.VERDICTS
    assert says["conv-depths"] == f"64–{max(BOOK.lp.conv_depths)}"
    assert says["cores"] == "2"
    assert says["work-two"] and says["bound-multi"]
    assert says["grad"].startswith(f"depth {max(BOOK.lp.grad_depths)}: 1e-02 after 1")
    assert "P >= " in says["need"] or "no processor count" in says["need"]
    assert says["acc-worst"].endswith("1×")
    assert all(isinstance(v, str) for v in says.values())


def test_the_settings_rows_name_every_scale_setting():
    rows = dict(ch.settings(SMOKE))
    assert rows["training seeds"] == len(SMOKE.lp.seeds)
    assert rows["timing depths"] == ", ".join(map(str, SMOKE.lp.timing_depths))
