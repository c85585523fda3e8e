"""Results files: claims, verdicts and validation."""

import json

import numpy as np
import pytest

from fasttrain.core.results import ChapterResults, load


def test_write_and_load_roundtrip(tmp_path):
    r = ChapterResults("07", "demo", "smoke", 3, title="Demo")
    r.add("c1", "a claim", 2.0, np.float32(1.5), "x", "within 10 %", "partly", "because")
    path = r.write(tmp_path)
    d = load(path)
    assert d["chapter"] == "07" and d["scale"] == "smoke" and d["seed"] == 3
    assert d["claims"][0]["reproduced_value"] == 1.5
    assert d["machine"]["cores"] >= 1 and d["versions"]["numpy"]
    assert not list(tmp_path.glob("*.tmp"))


def test_bad_verdict_and_duplicates():
    r = ChapterResults("07", "demo", "smoke", 0)
    with pytest.raises(ValueError, match="verdict"):
        r.add("c1", "x", 1, 1, "u", "t", "sort of", "r")
    r.add("c1", "x", 1, 1, "u", "t", "reproduced", "r")
    with pytest.raises(ValueError, match="duplicate"):
        r.add("c1", "x", 1, 1, "u", "t", "reproduced", "r")
    with pytest.raises(ValueError, match="not measured"):
        r.add("c2", "x", 1, float("nan"), "u", "t", "reproduced", "r")


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
