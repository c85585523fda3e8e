"""Results files: claims, verdicts and validation."""

import json

import numpy as np
import pytest

from fasttrain.core.results import ChapterResults, load


def test_write_and_load_roundtrip(tmp_path):
    r = ChapterResults("07", "demo", "smoke", 3, title="Demo")
    r.add(
        id="c1",
        claim="a claim",
        paper_value=2.0,
        reproduced_value=np.float32(1.5),
        unit="x",
        tolerance="within 10 %",
        verdict="partly",
        reason="because",
    )
    path = r.write(tmp_path)
    d = load(path)
    assert d["chapter"] == "07" and d["scale"] == "smoke" and d["seed"] == 3
    assert d["claims"][0]["reproduced_value"] == 1.5
    assert d["machine"]["cores"] >= 1 and d["versions"]["numpy"]
    assert not list(tmp_path.glob("*.tmp"))


def test_bad_verdict_and_duplicates():
    r = ChapterResults("07", "demo", "smoke", 0)
    with pytest.raises(ValueError, match="verdict"):
        r.add(
            id="c1",
            claim="x",
            paper_value=1,
            reproduced_value=1,
            unit="u",
            tolerance="t",
            verdict="sort of",
            reason="r",
        )
    r.add(
        id="c1",
        claim="x",
        paper_value=1,
        reproduced_value=1,
        unit="u",
        tolerance="t",
        verdict="reproduced",
        reason="r",
    )
    with pytest.raises(ValueError, match="duplicate"):
        r.add(
            id="c1",
            claim="x",
            paper_value=1,
            reproduced_value=1,
            unit="u",
            tolerance="t",
            verdict="reproduced",
            reason="r",
        )
    with pytest.raises(ValueError, match="not measured"):
        r.add(
            id="c2",
            claim="x",
            paper_value=1,
            reproduced_value=float("nan"),
            unit="u",
            tolerance="t",
            verdict="reproduced",
            reason="r",
        )


def test_bad_scale_and_chapter():
    with pytest.raises(ValueError, match="unknown scale"):
        ChapterResults("01", "x", "huge", 0)
    with pytest.raises(ValueError, match="two digits"):
        ChapterResults("1", "x", "smoke", 0)


def test_load_rejects_malformed(tmp_path):
    p = tmp_path / "01-x.json"
    p.write_text("{not json")
    with pytest.raises(ValueError, match="cannot read"):
        load(p)
    p.write_text(json.dumps({"chapter": "01"}))
    with pytest.raises(ValueError, match="lacks keys"):
        load(p)


def test_add_takes_keywords_only():
    r = ChapterResults("01", "x", "smoke", 0)
    with pytest.raises(TypeError):
        r.add("c1", "x", 1, 1, "u", "t", "reproduced", "r")
    assert not r.claims
