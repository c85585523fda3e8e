"""The chapter skeleton in ``templates/ch05_foo/`` (README, "Adding a chapter") runs: its rules return
the verdicts their examples name, its evidence map decides every declared claim at every scale, the
results file is written, its settings table comes from the Config's field metadata, and its
sentences are strings. A skeleton a contributor copies cannot go stale unnoticed."""

import importlib.util
import sys
from pathlib import Path

import pytest

from fasttrain.core import claims
from fasttrain.core.results import ChapterResults

ROOT = Path(__file__).resolve().parents[1] / "templates"


@pytest.fixture(scope="module")
def S():
    spec = importlib.util.spec_from_file_location(
        "ch05_foo",
        ROOT / "ch05_foo" / "__init__.py",
        submodule_search_locations=[str(ROOT / "ch05_foo")],
    )
    mod = importlib.util.module_from_spec(spec)
    sys.modules["ch05_foo"] = mod
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        for name in [n for n in sys.modules if n == "ch05_foo" or n.startswith("ch05_foo.")]:
            del sys.modules[name]


def test_every_rule_example_gives_its_verdict(S):
    for spec in S.CLAIMS.values():
        assert "not reproduced" in spec.rule.examples, spec.id
        for verdict, example in spec.rule.examples.items():
            assert spec.rule(example)[0] == verdict, (spec.id, verdict)


@pytest.mark.parametrize("scale", ["smoke", "book", "paper"])
def test_every_declared_claim_is_recorded_and_written(S, scale, tmp_path):
    cfg = S.config(scale)
    out = {"accuracies": S.accuracies(cfg, seed=0)}
    res = ChapterResults("05", "foo", scale, 0, title="skeleton", declared=S.CLAIMS)
    res.record_all(S.evidence(out, cfg))
    assert res.write(tmp_path).exists()
    assert {c.id for c in res.claims} == set(S.CLAIMS)
    assert all(c.verdict in claims.VERDICTS for c in res.claims)
    says = S.sentences(out, cfg, {c.id: c.verdict for c in res.claims})
    assert all(isinstance(t, str) and t for t in says.values())


def test_no_runs_is_not_testable_through_the_rules(S):
    ev = S.evidence({"accuracies": []}, S.config("smoke"))
    assert {S.CLAIMS[k].rule(v)[0] for k, v in ev.items()} == {"not testable here"}


def test_a_missing_claim_is_refused_before_anything_is_recorded(S):
    parts = S.PARTS + ((lambda out, cfg: {"undeclared-claim": claims.exact(1.0)}),)
    with pytest.raises(ValueError, match="undeclared-claim"):
        from fasttrain.core.results import evidence_map

        evidence_map(parts, {"accuracies": []}, S.config("smoke"), S.CLAIMS, "05")


def test_the_settings_table_comes_from_field_metadata(S):
    rows = dict(S.settings(S.config("book")))
    assert rows == {
        "seeds (offsets to the notebook's seed)": "3",
        "training points": 1000,
        "learning rate": "0.1",
    }


def test_an_unknown_scale_fails_before_any_work(S):
    with pytest.raises(ValueError):
        S.config("huge")
