"""The summary page: papers' claims counted apart, figures, compact tables with badges, reasons folded."""

from fasttrain.core import claims as C
from fasttrain.core.results import ChapterResults
from fasttrain.core.summary import _ratio_rows, write_summary

RULE = C.within(0.93, 0.03, name="about-93", source="test")


def test_summary_counts_kinds_apart_and_draws_its_figures(tmp_path):
    r = ChapterResults("09", "toy", "smoke", 0, title="Toy")
    r.record(C.ClaimSpec("a", "paper", "accuracy about 93 %", "T1", 0.93, "", RULE, "w"),
             C.over_seeds([0.92, 0.93, 0.94]))  # fmt: skip
    r.record(C.ClaimSpec("b", "paper", "b", "T1", 0.93, "", RULE, "w"), C.exact(0.5))
    r.record(C.ClaimSpec("g", "book-goal", "goal", "book goal", 0.93, "", RULE), C.exact(0.93))
    r.write(tmp_path / "results")
    text = write_summary(tmp_path, "book").read_text()
    assert "**The papers' claims:** 1 reproduced, 1 not reproduced (of 2)." in text
    assert "the book's goals: 1 reproduced" in text
    assert "{bdg-success}`reproduced`" in text and "{bdg-danger}`not reproduced`" in text
    assert "```{dropdown} Why each verdict" in text and "{doc}`Read the chapter <09-toy>`" in text
    # the claims table carries the class that keeps its "kind" column whole (_static/custom.css)
    assert "```{table}\n:class: claims-table\n\n| claim | kind | paper | ours | verdict |" in text
    assert (tmp_path / "summary-verdicts.png").stat().st_size > 0
    assert (tmp_path / "summary-paper-vs-ours.png").stat().st_size > 0
    # the ratio chart takes the papers' claims only, with the interval the table shows
    rows = {row["label"]: row for row in _ratio_rows([r.to_dict()])}
    assert set(rows) == {"09 a", "09 b"} and rows["09 a"]["lo"] < 1 < rows["09 a"]["hi"]


def test_summary_shows_a_rerun_check_only_for_the_edition_it_checked(tmp_path):
    import hashlib
    import json

    from fasttrain.core import verify

    r = ChapterResults("09", "toy", "book", 0, title="Toy")
    r.record(C.ClaimSpec("a", "paper", "a", "T1", 0.93, "", RULE, "w"), C.exact(0.93))
    path = r.write(tmp_path / "results")
    again = ChapterResults("09", "toy", "book", 100, title="Toy")
    again.record(C.ClaimSpec("a", "paper", "a", "T1", 0.93, "", RULE, "w"), C.exact(0.5))
    rows = verify.compare(r.to_dict(), again.to_dict())
    report = {
        "chapter": "09",
        "summary": verify.summarize(rows, "100 + k"),
        "rows": rows,
        "published_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }
    (tmp_path / "verify").mkdir()
    (tmp_path / "verify" / "verify-09.json").write_text(json.dumps(report))
    text = write_summary(tmp_path, "book").read_text()
    assert "*Re-run check* (a second book-scale run" in text
    assert (
        "0 of 1 verdicts identical" in text and "**a**: reproduced (0.93) → not reproduced" in text
    )
    assert "itself a finding" in text
    # the chapter is republished: the check describes the previous edition and says so
    r.extra["edition"] = 2
    r.write(tmp_path / "results")
    text = write_summary(tmp_path, "book").read_text()
    assert "*Re-run check of the previous edition* (made against an earlier edition" in text
    assert "*Re-run check* (a second" not in text and "0 of 1 verdicts identical" in text
