"""Comparing a chapter's published verdicts with a re-run on other seeds (fasttrain.core.verify)."""

import pytest

from fasttrain.core import verify as V


def _claim(id, verdict="reproduced", shown=1.0, values=(1.0,), interval=None, **kw):
    return {
        "id": id,
        "kind": kw.pop("kind", "paper"),
        "verdict": verdict,
        "reproduced_value": shown,
        "values": list(values),
        "interval": list(interval) if interval is not None else None,
        "how": kw.pop("how", "mean ± sd of 5 seeds, 95% t-interval of the mean"),
        "reason": kw.pop("reason", ""),
        **kw,
    }


def _results(*claims, seed=0):
    return {"chapter": "09", "name": "toy", "seed": seed, "claims": list(claims)}


def _row(rows, id):
    (row,) = [r for r in rows if r["id"] == id]
    return row


def test_same_verdict_and_overlapping_intervals():
    pub = _results(_claim("a", shown="0.5 [0.4, 0.6]", values=[0.4, 0.6], interval=[0.4, 0.6]))
    new = _results(_claim("a", shown="0.55 [0.5, 0.7]", values=[0.5, 0.7], interval=[0.5, 0.7]))
    (row,) = V.compare(pub, new)
    assert row["same_verdict"] is True and row["overlap"] is True
    assert row["published_value"] == "0.5 [0.4, 0.6]" and row["rerun_value"] == "0.55 [0.5, 0.7]"
    assert row["published_range"] == [0.4, 0.6] and row["rerun_range"] == [0.5, 0.7]
    assert row["only"] is None and row["bound"] is False and row["kind"] == "paper"


def test_moved_verdict_and_disjoint_intervals():
    pub = _results(_claim("a", interval=[0.4, 0.6]))
    new = _results(_claim("a", verdict="inconclusive", interval=[0.61, 0.9]))
    (row,) = V.compare(pub, new)
    assert row["same_verdict"] is False and row["overlap"] is False
    assert (row["published_verdict"], row["rerun_verdict"]) == ("reproduced", "inconclusive")


def test_touching_intervals_overlap():
    pub = _results(_claim("a", interval=[0.4, 0.6]))
    new = _results(_claim("a", interval=[0.6, 0.9]))
    assert V.compare(pub, new)[0]["overlap"] is True


def test_values_without_interval_use_their_min_and_max():
    pub = _results(_claim("a", values=[3.0, 1.0, 2.0]))
    new = _results(_claim("a", values=[2.5, 4.0]))
    disjoint = _results(_claim("a", values=[5.0, 6.0]))
    assert V.compare(pub, new)[0]["published_range"] == [1.0, 3.0]
    assert V.compare(pub, new)[0]["overlap"] is True
    assert V.compare(pub, disjoint)[0]["overlap"] is False


def test_interval_takes_precedence_over_values():
    """A log-scale interval (chapter 04's ratios) is compared as such, not the raw values' span."""
    pub = _results(_claim("a", values=[1.0, 2.0], interval=[1.2, 1.8]))
    new = _results(_claim("a", values=[1.9, 3.0]))
    row = V.compare(pub, new)[0]
    assert row["published_range"] == [1.2, 1.8] and row["overlap"] is False


def test_no_values_no_interval_means_no_overlap_verdict():
    pub = _results(_claim("a", values=[], shown="0 of 4", how="see the reason"))
    new = _results(_claim("a", values=[1.0], shown="1 of 4"))
    row = V.compare(pub, new)[0]
    assert row["overlap"] is None and row["published_range"] is None
    assert "no interval" in V.table([row])


def test_both_not_testable_is_the_same_verdict_without_overlap():
    nt = dict(verdict="not testable here", shown=None, values=[], how="not measured")
    pub = _results(_claim("a", **nt, reason="no CIFAR-10 data"))
    new = _results(_claim("a", **nt, reason="no CIFAR-10 data"))
    (row,) = V.compare(pub, new)
    assert row["same_verdict"] is True and row["overlap"] is None
    assert row["published_value"] == "–"
    # not testable with a measured interval on both sides (chapter 04's extrapolation): still None
    pub = _results(_claim("b", verdict="not testable here", interval=[0.04, 0.05]))
    new = _results(_claim("b", verdict="not testable here", interval=[0.045, 0.06]))
    assert V.compare(pub, new)[0]["overlap"] is None


def test_ids_on_one_side_only_are_marked():
    pub = _results(_claim("a"), _claim("gone"))
    new = _results(_claim("a"), _claim("new", verdict="partly"))
    rows = V.compare(pub, new)
    assert [r["id"] for r in rows] == ["a", "gone", "new"]
    gone, new_row = _row(rows, "gone"), _row(rows, "new")
    assert gone["only"] == "published" and gone["rerun_verdict"] is None
    assert new_row["only"] == "re-run" and new_row["published_verdict"] is None
    assert not gone["same_verdict"] and not new_row["same_verdict"]
    assert gone["overlap"] is None and new_row["overlap"] is None
    text = V.table(rows)
    assert "only published" in text and "only re-run" in text


# the chapters' own wording (copied from book/results/*.json and the chapters' rules)
BOUND_TEXTS = [
    "geometric mean 156x [81.8, 297] >= 10x; 5 seed(s); iterations LSGD / Adam per seed: 39 / 3000, "
    "24 / never, 14 / never (2 seed(s) a lower bound: Adam never reached the target)",
    "LSGD never reached the target",
    "geometric mean 5x [2, 9]: faster, not 10x everywhere; LSGD missed the target in 1 seed(s)",
    "3 seeds are lower bounds",
]
NOT_BOUND_TEXTS = [
    # chapter 02 prints its convention whether or not a point was missed
    "iterations 1, 1, 2, 2, 2, 2; 2, 2, 2, 2, 3, 4 (a miss counted as 11); GD (seed 0): [43, 86]",
    # the paper's theoretical bound, not the measured values
    "GD iterations to 0.01 over λ = 0.0033–0.089 (seed 0), budget 3000; the bound's λ⁻² is an "
    "upper bound, GD at step 1/λ_max follows cond(G)",
    "6 <= 10 iterations at every depth up to 1024; per variant (None: not reached in 15) {'F': 7}",
    "this chapter has no CIFAR-10 data at book scale (it never downloads)",
    "rejected η = 3: not reached on seed 1 within 5000 steps",
    "gradient descent is faster at each of the 2 of 4 thresholds reached by both methods; "
    "0.90: GD in 0/3, ODE in 0/3 seeds",
    "MGRIT applies 6.5x serial's layers and 2 core(s) repay at most 2x, so at most 0.31x < 1",
]


@pytest.mark.parametrize("text", BOUND_TEXTS)
def test_bound_wording_is_detected(text):
    assert V.says_bound({"reason": text, "how": ""})


@pytest.mark.parametrize("text", NOT_BOUND_TEXTS)
def test_other_uses_of_bound_words_are_not(text):
    assert not V.says_bound({"reason": text, "how": "see the reason"})


def test_bound_in_how_and_on_either_side():
    placeholder = _claim("a", values=[0.0], how="no seed reached the target")
    plain = _claim("a")
    rows = V.compare(_results(plain), _results(placeholder))
    assert rows[0]["bound"] is True and rows[0]["bound_in"] == ["re-run"]
    assert "values are bounds (re-run)" in V.table(rows)
    rows = V.compare(_results(placeholder), _results(placeholder))
    assert rows[0]["bound_in"] == ["published", "re-run"]
    assert V.compare(_results(plain), _results(plain))[0]["bound"] is False


def test_summarize_names_moved_verdicts_and_counts():
    pub = _results(
        _claim("a"),
        _claim("b", interval=[0, 1]),
        _claim("c", verdict="partly", interval=[0, 1]),
        _claim("gone"),
    )
    new = _results(
        _claim("a"),
        _claim("b", verdict="inconclusive", interval=[2, 3]),
        _claim("c", verdict="partly", interval=[0.5, 2], reason="Adam never reached the target"),
        _claim("fresh"),
    )
    line = V.summarize(V.compare(pub, new), "100 + k (published: 0 + k)")
    assert line == (
        "re-run with seeds 100 + k (published: 0 + k): 2 of 5 verdicts identical; "
        "moved: b (reproduced → inconclusive); only published: gone; only in the re-run: fresh; "
        "disjoint ranges: b; values are bounds: c"
    )
    assert "\n" not in line


def test_summarize_all_identical():
    pub = _results(_claim("a"), _claim("b"))
    assert V.summarize(V.compare(pub, pub)) == "re-run: 2 of 2 verdicts identical; moved: none"


def test_shown_values_and_tables():
    assert V.shown(None) == "–" and V.shown(0.000123456) == "0.000123" and V.shown(5.0) == "5"
    assert V.shown(2480) == "2480" and V.shown("a\nb  c") == "a b c"
    long = "gaussian loss 2.305, accuracy 0.167; uniform-paper loss 2.369 | beaten"
    pub = _results(_claim("a|b", shown=long))
    rows = V.compare(pub, pub)
    text = V.table(rows)
    lines = text.splitlines()
    assert lines[0].split() == [
        "claim",
        "kind",
        "published",
        "value",
        "re-run",
        "value",
        "same",
        "overlap",
        "note",
    ]
    assert set(lines[1]) <= {"-", " "} and "…" in lines[2] and long not in text
    md = V.markdown(rows, "the summary")
    assert md.startswith("the summary\n\n| claim |")
    assert long.replace("|", "\\|") in md and "`a\\|b`" in md
    assert [ln[:2] for ln in md.splitlines() if ln.startswith("|")] == ["| ", "|-", "| "]
