"""Results files: claims, verdicts and validation."""

import json

import numpy as np
import pytest

from fasttrain.core import claims as C
from fasttrain.core.results import ChapterResults, load

RULE = C.threshold(1.0, name="at-least-one", source="a test bar")


def _spec(id="c1", kind="analysis"):
    return C.ClaimSpec(id, kind, "a claim", "ours", 2.0, "x", RULE)


def test_write_and_load_roundtrip(tmp_path):
    r = ChapterResults("07", "demo", "smoke", 3, title="Demo")
    r.record(_spec(), C.exact(np.float32(1.5)))
    path = r.write(tmp_path)
    d = load(path)
    assert d["chapter"] == "07" and d["scale"] == "smoke" and d["seed"] == 3
    c = d["claims"][0]
    assert c["reproduced_value"] == 1.5 and c["verdict"] == "reproduced" and c["values"] == [1.5]
    assert c["interval"] is None and c["rule"] == "at-least-one" and c["kind"] == "analysis"
    assert d["machine"]["cores"] >= 1 and d["versions"]["numpy"]
    assert not list(tmp_path.glob("*.tmp"))


def test_duplicates_and_non_finite_values():
    r = ChapterResults("07", "demo", "smoke", 0)
    r.record(_spec(), C.exact(2.0))
    with pytest.raises(ValueError, match="duplicate"):
        r.record(_spec(), C.exact(2.0))
    with pytest.raises(ValueError, match="non-finite"):
        r.record(_spec("c2"), C.over_seeds([1.0, float("nan")]))


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


def test_load_rejects_a_claim_without_the_evidence_fields(tmp_path):
    r = ChapterResults("07", "demo", "smoke", 0)
    r.record(_spec(), C.exact(2.0))
    data = json.loads(r.write(tmp_path).read_text())
    del data["claims"][0]["rule"]
    (tmp_path / "07-demo.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="lacks"):
        load(tmp_path / "07-demo.json")
    data["claims"][0]["rule"] = "r"
    data["claims"][0]["verdict"] = "sort of"
    (tmp_path / "07-demo.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="verdict"):
        load(tmp_path / "07-demo.json")


def test_glance_counts_verdicts_by_kind():
    r = ChapterResults("07", "demo", "smoke", 0)
    r.record(C.ClaimSpec("a", "paper", "a", "T1", 2.0, "", RULE, "w"), C.exact(2.0))
    r.record(C.ClaimSpec("b", "paper", "b", "T1", 2.0, "", RULE, "w"), C.exact(0.0))
    r.record(_spec("c", "book-goal"), C.exact(3.0))
    text = r.glance()
    assert "The paper's claims** (2): 1 reproduced, 1 not reproduced." in text
    assert "The book's goals** (1): 1 reproduced." in text


def test_record_takes_a_mapping_for_rules_over_several_numbers():
    @C.rule(examples={"reproduced": {"a": 1.0, "b": 2.0}, "not reproduced": {"a": 2.0, "b": 1.0}})
    def ordered(m):
        return ("reproduced" if m["a"] < m["b"] else "not reproduced"), f"a {m['a']}, b {m['b']}"

    r = ChapterResults("07", "demo", "smoke", 0)
    c = r.record(
        C.ClaimSpec("o", "analysis", "a < b", "ours", None, "", ordered), {"a": 1.0, "b": 2.0}
    )
    assert c.verdict == "reproduced" and c.values == [1.0, 2.0]


def test_evidence_map_merges_sections_and_refuses_gaps_duplicates_and_undeclared():
    from fasttrain.core.claims import Unavailable
    from fasttrain.core.results import evidence_map

    declared = {"a": None, "b": None, "c": None}
    one = lambda out, cfg: {"a": Unavailable("x"), "b": Unavailable("x")}  # noqa: E731
    two = lambda out, cfg: {"c": Unavailable(out["why"])}  # noqa: E731
    ev = evidence_map((one, two), {"why": "y"}, None, declared, "09")
    assert list(ev) == ["a", "b", "c"] and ev["c"].reason == "y"
    bad = lambda out, cfg: {"b": Unavailable("x"), "z": Unavailable("x")}  # noqa: E731
    with pytest.raises(ValueError) as err:
        evidence_map((one, bad), {}, None, declared, "09")
    msg = str(err.value)
    assert msg.startswith("chapter 09's evidence map is inconsistent")
    assert "decided twice: b" in msg and "no evidence: c" in msg and "undeclared: z" in msg
