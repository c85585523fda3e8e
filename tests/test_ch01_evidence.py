"""Chapter 01's evidence map and sentences, on synthetic section outputs (no training, no timing)."""

import importlib

import pytest

import fasttrain.chapters.ch01_linear_ivp as S
from fasttrain.core.claims import Unavailable, over_rounds
from fasttrain.core.results import ChapterResults, Evidence

# the module (the package's attribute ``evidence`` is the function of the same name)
E = importlib.import_module("fasttrain.chapters.ch01_linear_ivp.evidence")
T = importlib.import_module("fasttrain.chapters.ch01_linear_ivp.text")
SMOKE, BOOK = S.config("smoke"), S.config("book")


def _table_rows(cfg, gd_s=0.4, ode_s=0.2, gap=0.0, level=0.93, reach_magic=True):
    """Tables rows: every data set, seed and threshold; GD total ``gd_s``, ODE total ``ode_s``
    (GD's and the ODE's run grow with the threshold), test accuracies at the last threshold."""
    rows = []
    for d in cfg.datasets:
        for k, off in enumerate(d.seeds):
            for j, t in enumerate(cfg.thresholds):
                reached = reach_magic or d.name != "magic" or t < 0.85
                g = gd_s * (1 + 0.1 * j + 0.01 * k)
                o = ode_s * (1 + 0.1 * j + 0.01 * k)
                last = j == len(cfg.thresholds) - 1 or (
                    not reach_magic and d.name == "magic" and t == 0.80
                )
                rows.append(
                    {
                        "data": d.name,
                        "seed": off,
                        "threshold": t,
                        "gd_steps": 10 * (j + 1) if reached else None,
                        "gd_time": 0.5 * g if reached else None,
                        "ode_t": 5.0 * (j + 1) if reached else None,
                        "ode_solve": 0.5 * o if reached else None,
                        "speedup_total": g / o if reached else None,
                        "speedup_solve": g / o if reached else None,
                        "ode_net_test_acc": level + 0.001 * k if last and reached else None,
                        "ode_lin_test_acc": level + 0.001 * k if last and reached else None,
                        "gd_test_acc": level + gap + 0.001 * k if last and reached else None,
                    }
                )
    return rows


def _selection(cfg, tables, chosen=None, rerun=None):
    """A synthetic ``width_selection``: the Tables' MAGIC width chosen (its rows reused), or
    ``chosen`` with the re-run's rows ``rerun``."""
    w_tab = next(d.width for d in cfg.datasets if d.name == "magic")
    chosen = w_tab if chosen is None else chosen
    rows = [
        {"width": w, "score": 0.8 + 0.01 * (w == chosen), "status": "run", "threshold": 0.85,
         "lin_val_acc": 0.84, "unknowns": 13 * w + 2, "cost_s": 1.0}
        for w in cfg.select_widths
    ]  # fmt: skip
    reused = chosen == w_tab
    return {
        "seed": 0,
        "grid": list(cfg.select_widths),
        "n_select": 9_739,
        "n_validation": 2_435,
        "rows": rows,
        "chosen": chosen,
        "tables_width": w_tab,
        "reused": reused,
        "tables": [r for r in tables if r["data"] == "magic"] if reused else rerun,
        "select_s": 30.0,
        "rerun_s": 0.0 if reused else 100.0,
    }


def _out(cfg, **kw):
    """Every section's output, synthetic, for ``cfg``."""
    routes, ratios = [], []
    for d in [*(d.name for d in cfg.datasets), "banknote subsample"]:
        for loss in ("ce", "mse") if d == "banknote subsample" else ("ce",):
            for t in cfg.thresholds:
                for route, med in (("BDF", 1.0), ("RK45", 0.05)):
                    routes.append(
                        {"data": d, "loss": loss, "threshold": t, "route": route, "agrees": True,
                         "median_s": med, "rounds": 7}
                    )  # fmt: skip
                ratios.append(
                    {"data": d, "loss": loss, "threshold": t, "fastest": "RK45",
                     "ratios": [20.0, 21.0, 19.0, 20.5, 19.5, 20.2, 20.1], "rounds": 7}
                )  # fmt: skip
    stiff = [
        {"loss": loss, "horizon": h, "bdf_nfev": 20 + i, "rk45_nfev": 10 * 10**i}
        for loss in ("ce", "mse")
        for i, h in enumerate(cfg.stiff_horizons)
    ]
    w0, cs = cfg.magic_grid[0]
    reach = [
        {"stage": "selection", "seed": 0, "width": w0, "c": c, "lr": c * 64 / w0, "stable": True,
         "best_acc": 0.85 + 0.001 * i, "best_at_third": 0.8, "best_at_two_thirds": 0.84}
        for i, c in enumerate(cs)
    ]  # fmt: skip
    chosen = (w0, cs[-1])
    reach += [
        dict(reach[-1], stage="chosen", seed=off, best_acc=0.86 + 0.001 * off)
        for off in cfg.magic_seeds[1:]
    ]
    ties = [
        {"data": d.name, "threshold": S.SWEEP_THRESHOLD[d.name],
         **{k: {"values": [0.01], "text": "0.01", "where": "1/1 seeds", "words": "η ≈ 0.01"}
            for k in S.TIE_KEYS}}
        for d in cfg.datasets
    ]  # fmt: skip
    out = {
        "facts": {"seed": 0, "small_unknowns": 480},
        "tables": _table_rows(cfg, **kw),
        "small_rows": [
            {
                "width": w,
                "seed": off,
                "threshold": cfg.small_width_threshold,
                "speedup_total": 0.5,
                "speedup_solve": 0.05,
            }
            for w in cfg.small_widths
            for off in cfg.datasets[0].seeds
        ],  # fmt: skip
        "solver_rows": routes,
        "solver_ratios": ratios,
        "compile_s": {d.name: 3.0 for d in cfg.datasets},
        "stiff_rows": stiff,
        "best": {
            d.name: {"lr": 3.0, "threshold": 0.9, "ratios": [0.01] * len(d.seeds), "notes": []}
            for d in cfg.datasets
        },
        "fd": {
            "ratios": [1.9, 2.0, 2.1, 1.95, 2.05, 2.0, 1.98],
            "dim": 600,
            "space": "function",
            "analytic": {"Jacobians": 1},
        },  # fmt: skip
        "memory": {
            "data": "magic",
            "seed": 0,
            "width": 64,
            "n_train": 15216,
            "space": "parameter",
            "dim": 834,
            "threshold": 0.85,
            "reached": True,
            "held_bytes": 203_000_000,
            "traced_peak_bytes": 20_000_000,
            "peak_bytes": 223_000_000,
            "analytic_bytes": 215_000_000,
            "process_peak_rss_bytes": 1_500_000_000,
        },  # fmt: skip
        "equations": [
            {
                "threshold": t,
                "t_eq1": 2.0,
                "t_eq2": 2.001,
                "rel_diff": 0.0005,
                "unknowns_eq1": 1794,
                "unknowns_eq2": 480,
                "solve_s_eq1": 0.5,
                "solve_s_eq2": 0.1,
            }
            for t in cfg.thresholds
        ],  # fmt: skip
        "scaling": {
            "data": "magic",
            "seed": 0,
            "width": 64,
            "unknowns": 834,
            "horizon": cfg.scaling_horizon,
            "sizes": list(cfg.scaling_sizes),
            "timed": {"rounds": 6, "load": [1.0, 1.0]},
            "per_size": [
                {"n": n, "median_s": 0.1 * n**0.4, "rhs": 150, "jacobians": 2, "lu": 20}
                for n in cfg.scaling_sizes
            ],
            "exponents": [0.38, 0.4, 0.41, 0.42, 0.39, 0.44],
        },
        "widths": [
            {"seed": s, "width": w, "t": t, "output_gap": 0.5 * (w / 16) ** (-0.5 - 0.1 * s)}
            for s in cfg.width_seeds
            for w in cfg.widths
            for t in (1.0, cfg.width_horizon)
        ],
        "reach": {"rows": reach, "chosen": chosen, "seeds": list(cfg.magic_seeds)},
        "width_selection": _selection(cfg, _table_rows(cfg, **kw)),
        "at_events": [{"data": "banknote", "threshold": 0.8, "rho_t": 1.5}],
        "ties": ties,
        "raw_crossings": [{"seed": 0, "lr_15": 0.05, "lr_25": 0.02, "lr_safe": 0.01}],
    }
    return out


@pytest.mark.parametrize("cfg", [SMOKE, BOOK], ids=["smoke", "book"])
def test_every_claim_is_recorded_once(cfg):
    ev = S.evidence(_out(cfg), cfg)
    assert set(ev) == set(S.CLAIMS)
    res = ChapterResults("01", "linear-ivp", "smoke", 0, declared=S.CLAIMS)
    res.record_all(ev)
    assert not res.missing()
    verdicts = {c.id: c.verdict for c in res.claims}
    # the ODE 2x faster than GD everywhere: the Tables' speed-up holds
    assert verdicts["speedup-banknote"] == "reproduced"
    assert verdicts["test-accuracy-banknote"] == "reproduced"
    # 20x at every threshold against the 10x goal
    assert verdicts["solver-route-banknote"] == "reproduced"
    assert verdicts["fd-jacobian"] == "not reproduced"
    assert verdicts["memory-1gb"] == "reproduced"
    assert verdicts["eq1-equals-eq2"] == "reproduced"
    assert verdicts["bdf-scales-well"] == "reproduced"
    # the width selected on validation is the Tables' (issue 23 a): the same rows decide both
    one_seed = len(next(d for d in cfg.datasets if d.name == "magic").seeds) == 1
    assert verdicts["test-accuracy-magic-tables-width"] == (
        "inconclusive" if one_seed else "reproduced"
    )
    assert verdicts["test-accuracy-magic"] == verdicts["test-accuracy-magic-tables-width"]
    # slopes -0.5 and -0.6 on two seeds: t(1) = 12.7 makes the interval straddle 0
    assert verdicts["linearisation-improves-with-width"] == "inconclusive"


def test_a_gap_is_refused(monkeypatch):
    monkeypatch.setattr(E, "PARTS", tuple(p for p in E.PARTS if p is not E.reach_evidence))
    with pytest.raises(ValueError, match="no evidence: magic-095-reachable"):
        S.evidence(_out(SMOKE), SMOKE)


def test_a_duplicate_is_refused(monkeypatch):
    monkeypatch.setattr(E, "PARTS", (*E.PARTS, E.reach_evidence))
    with pytest.raises(ValueError, match="decided twice: magic-095-reachable"):
        S.evidence(_out(SMOKE), SMOKE)


def test_what_a_scale_cannot_test_is_unavailable_through_its_rule():
    out = _out(SMOKE, reach_magic=False)
    out["best"]["magic"] = {"lr": None, "threshold": 0.8, "ratios": [], "notes": ["3: diverged"]}
    out["reach"] = {"rows": out["reach"]["rows"][:1], "chosen": None, "seeds": [0, 1]}
    ev = S.evidence(out, SMOKE)
    assert isinstance(ev["adaptive-stepping-magic"], Unavailable)
    assert ev["speedup-best-lr-magic"].reason.startswith(S.NO_STABLE_RATE)
    assert isinstance(ev["magic-095-reachable"], Unavailable)
    res = ChapterResults("01", "linear-ivp", "smoke", 0, declared=S.CLAIMS)
    res.record_all(ev)
    got = {c.id: c.verdict for c in res.claims}
    for cid in ("adaptive-stepping-magic", "speedup-best-lr-magic", "magic-095-reachable"):
        assert got[cid] == "not testable here"


def test_a_violating_case_gives_the_promised_verdict():
    # GD's network scores 0.2 higher than the solver's on every seed: not comparably high
    out = _out(BOOK, gap=0.2)
    ev = S.evidence(out, BOOK)["test-accuracy-magic-tables-width"]
    assert isinstance(ev, Evidence)
    verdict, _ = S.CLAIMS["test-accuracy-magic-tables-width"].rule(ev.measured, **ev.context)
    assert verdict == "not reproduced"
    # GD 5x faster than the ODE at every threshold: not reproduced
    out = _out(BOOK, gd_s=0.2, ode_s=1.0)
    ev = S.evidence(out, BOOK)["speedup-banknote"]
    assert S.CLAIMS["speedup-banknote"].rule(ev.measured)[0] == "not reproduced"


def test_memory_over_1gb_is_not_reproduced():
    out = _out(BOOK)
    out["memory"] = dict(out["memory"], peak_bytes=1_200_000_000)
    ev = S.evidence(out, BOOK)["memory-1gb"]
    assert ev.shown == "1.2"
    assert S.CLAIMS["memory-1gb"].rule(ev.measured)[0] == "not reproduced"


def test_equations_that_disagree_are_not_reproduced_and_none_reached_is_untestable():
    out = _out(BOOK)
    out["equations"][1] = dict(out["equations"][1], rel_diff=1.0)  # only one reached it
    ev = S.evidence(out, BOOK)["eq1-equals-eq2"]
    assert S.CLAIMS["eq1-equals-eq2"].rule(ev.measured)[0] == "not reproduced"
    out["equations"] = [dict(r, rel_diff=None) for r in out["equations"]]
    ev = S.evidence(out, BOOK)["eq1-equals-eq2"]
    assert S.CLAIMS["eq1-equals-eq2"].rule(ev)[0] == "not testable here"


def test_scaling_is_decided_on_the_median_exponent_over_rounds():
    out = _out(BOOK)
    rule = S.CLAIMS["bdf-scales-well"].rule
    for exps, verdict in (
        ([1.7, 1.8, 1.75, 1.72, 1.9, 1.78], "partly"),  # sub-quadratic, not near linear
        ([2.1, 2.3, 2.2, 2.05, 2.4, 2.2], "not reproduced"),  # no better than the dense route
        ([1.2, 1.6, 1.4, 1.3, 1.45, 1.5], "inconclusive"),  # [min, max] straddles 1.5
        ([0.4, 0.5, 0.45, 0.42, 0.48], "inconclusive"),  # 5 rounds: no 95 % interval
    ):
        out["scaling"] = dict(out["scaling"], exponents=exps)
        ev = S.evidence(out, BOOK)["bdf-scales-well"]
        assert rule(ev.measured)[0] == verdict, exps
    assert "n = 1,131" in S.sentences(out, BOOK, {})["ch01-scaling"]


def test_scaling_exponents_are_least_squares_slopes_per_round():
    sizes = [100, 200, 400, 800]
    times = [[2e-3 * n**1.5, 1e-3 * n] for n in sizes]  # round 0: n^1.5, round 1: n^1
    assert S.scaling_exponents(sizes, times) == pytest.approx([1.5, 1.0])
    with pytest.raises(ValueError, match="two sizes"):
        S.scaling_exponents([100], [[1.0]])


def test_width_gap_is_decided_on_the_mean_slope_over_seeds():
    out = _out(BOOK)
    rule = S.CLAIMS["linearisation-improves-with-width"].rule

    def rows(slopes):
        return [
            {"seed": s, "width": w, "t": 100.0, "output_gap": 0.3 * (w / 16) ** a}
            for s, a in enumerate(slopes)
            for w in BOOK.widths
        ]

    for slopes, verdict in (
        ([-0.5, -0.52, -0.48, -0.51], "reproduced"),
        ([0.3, 0.32, 0.29, 0.31], "not reproduced"),
        ([-0.5, -0.6], "inconclusive"),
        ([-0.5], "inconclusive"),  # one seed
    ):
        out["widths"] = rows(slopes)
        assert S.gap_slopes(out["widths"]) == pytest.approx(slopes)
        ev = S.evidence(out, BOOK)["linearisation-improves-with-width"]
        assert rule(ev.measured)[0] == verdict, slopes
    out["widths"] = [dict(r, output_gap=float("nan")) for r in rows([-0.5, -0.6])]
    ev = S.evidence(out, BOOK)["linearisation-improves-with-width"]
    assert rule(ev)[0] == "not testable here"


def test_sentences_quote_the_numbers():
    out = _out(BOOK)
    says = S.sentences(out, BOOK, {"fd-jacobian": "not reproduced"})
    assert says["ch01-v-fd-jacobian"] == "*not reproduced*"
    assert says["ch01-fd"] == over_rounds(out["fd"]["ratios"]).text(".2g")
    assert says["ch01-small-widths"] == "16, 64"
    assert says["ch01-magic-steps"] == "3,000"
    assert says["ch01-route-banknote"].startswith("0.80: RK45 20")
    assert says["ch01-stiff-ce"].startswith("t = 1: BDF 20, RK45 10")
    assert says["ch01-reach-chosen"].startswith(f"width {BOOK.magic_grid[0][0]}")
    assert "1.5× and 2.5× at η ≈ 0.01" in says["ch01-implied-seeds"]
    out["reach"]["chosen"] = None
    assert S.sentences(out, BOOK, {})["ch01-reach-rising"] == "not measured"


def test_ratio_table_says_why_a_threshold_has_no_ratio():
    rows = S.ratio_table(
        [
            {
                "data": "magic",
                "loss": "ce",
                "threshold": 0.8,
                "fastest": "RK45",
                "ratios": [2.0] * 7,
            },
            {"data": "magic", "loss": "ce", "threshold": 0.85, "fastest": "none agreed with BDF"},
            {"data": "magic", "loss": "ce", "threshold": 0.9},
        ]
    )
    assert rows[0]["ratio"].startswith("2")
    assert rows[1]["ratio"] == S.NO_RATIO_AGREED
    assert rows[2]["ratio"] == S.NO_RATIO_BDF


def test_text_settings_rows_name_every_data_set():
    rows = T.settings(BOOK)
    assert rows[0] == ("learning rate (Tables)", f"{BOOK.lr:g}")
    assert sum("width, training points" in k for k, _ in rows) == len(BOOK.datasets)
    # from the Config's field labels (core.tables.settings_rows): every value shown as text
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in rows)
    assert rows[-2] == (
        "banknote: width, training points, seeds (of them with learning-rate sweeps)",
        "512, all, 5 (5)",
    )
    smoke = T.settings(SMOKE)
    assert ("width study: widths / seeds", "16, 128 / 2") in smoke
    assert ("BDF scaling: MAGIC sizes / flow time / rounds", "75, 150, 300 / 100 / 6") in smoke
