"""The shapes every chapter shares, once in core: the multi-measurement container, the rule
combinators, the settings table from field metadata, and the glue of the prose's numbers."""

import sys
import types
from dataclasses import dataclass, field

import pytest

from fasttrain.core import claims as C
from fasttrain.core.glue import glue_texts
from fasttrain.core.results import ChapterResults
from fasttrain.core.tables import setting, settings_rows

# --------------------------------------------------------------------------- Measurements


def test_measurements_read_like_a_frozen_dict_with_context():
    a, b = C.exact(1.0), C.over_seeds([2.0, 3.0, 4.0])
    m = C.Measurements({"a": a, "b": b, "c": None}, budget=10)
    assert list(m) == ["a", "b", "c"] and m["b"] is b and len(m) == 3
    assert m.values == (1.0, 3.0)  # the centres of what was measured, None left out
    assert m.budget == 10 and dict(m.context) == {"budget": 10}
    assert m.measured() == {"a": a, "b": b}
    assert m.text(".2g") == "a 1, b 3 ± 1 [0.52, 5.5], c not measured"
    with pytest.raises(AttributeError):
        m.budget = 3
    with pytest.raises(AttributeError, match="no attribute or context"):
        m.threshold  # noqa: B018
    assert m == C.Measurements({"a": a, "b": b, "c": None}, budget=10)
    assert m != C.Measurements({"a": a, "b": b, "c": None}, budget=11)
    # pairs in order, as the chapters' typed containers build them; a name twice is an error
    assert list(C.Measurements((("x", a), ("y", b)))) == ["x", "y"]
    with pytest.raises(ValueError, match="named twice: x"):
        C.Measurements((("x", a), ("x", b)))
    with pytest.raises(TypeError, match="a Measurement or None"):
        C.Measurements({"x": 1.0})
    with pytest.raises(TypeError):
        m.context["budget"] = 3  # read-only
    # copies and pickles keep items, context and a typed view's class (as the dataclasses did)
    import copy
    import pickle

    assert copy.deepcopy(m) == m and pickle.loads(pickle.dumps(m)) == m


def test_record_stores_the_centres_of_a_measurements_and_a_typed_view_may_say_otherwise():
    @C.rule(
        examples={
            "reproduced": C.Measurements({"a": C.exact(2.0)}),
            "not reproduced": C.Measurements({"a": C.exact(0.0)}),
        }
    )
    def positive(m):
        return ("reproduced" if all(v > 0 for v in m.values) else "not reproduced"), m.text()

    spec = C.ClaimSpec("x", "analysis", "positive", "book goal", None, "", positive)
    res = ChapterResults("09", "toy", "smoke", 0, declared={"x": spec})
    c = res.record(spec, C.Measurements({"a": C.exact(2.0), "b": None, "c": C.exact(3.0)}))
    assert c.verdict == "reproduced" and c.values == [2.0, 3.0]

    class Pair(C.Measurements):  # a chapter's typed view: its constructor, its properties
        def __init__(self, gn, fast):
            super().__init__({"gn": gn, "fast": fast})

        @property
        def gn(self):
            return self["gn"]

        @property
        def values(self):  # every round's value, as that chapter's results file always stored
            return self.all_values

    p = Pair(C.over_rounds([1.0, 2.0]), C.exact(5.0))
    assert p.gn.center == 1.5 and p.values == (1.0, 2.0, 5.0)
    assert p != C.Measurements(p)  # the same cases, another type
    assert C.Measurements.values.fget(p) == (1.5, 5.0)
    assert C.Measurements({"a": None, "b": C.over_seeds([1.0, 3.0])}).all_values == (1.0, 3.0)


# --------------------------------------------------------------------------- combinators


@pytest.mark.parametrize(
    "sides, strict, partly, verdict",
    [
        (["meets", "meets"], True, True, "reproduced"),
        (["meets", "fails"], True, True, "partly"),
        (["fails", "fails"], True, True, "not reproduced"),
        (["meets", "fails", "straddles"], True, True, "inconclusive"),  # strict: open is open
        (["meets", "fails", "straddles"], False, True, "partly"),  # settled whatever it does
        (["fails", "straddles"], False, True, "inconclusive"),  # could still become partly
        (["meets", "straddles"], False, True, "inconclusive"),
        (["fails", "fails"], False, True, "not reproduced"),
        (["meets", "fails"], True, False, "not reproduced"),  # no weaker form: worst decides
        (["fails", "straddles"], False, False, "not reproduced"),
        (["fails", "straddles"], True, False, "inconclusive"),
        (["meets", "straddles"], True, False, "inconclusive"),
    ],
)
def test_tally_counts_cases_with_open_ones_strict_or_settled(sides, strict, partly, verdict):
    assert C.tally(sides, strict=strict, partly=partly) == verdict


def test_tally_refuses_no_cases_and_unknown_sides():
    with pytest.raises(ValueError, match="at least one case"):
        C.tally([])
    with pytest.raises(ValueError, match="meets, fails or straddles"):
        C.tally(["inside"])


@pytest.mark.parametrize(
    "rule",
    [
        C.every_case(0.5, name="e", source="test"),
        C.every_case(0.5, higher=True, name="e", source="test", of="draws"),
        C.per_case(1.0, name="p", source="test", untestable="no sizes here"),
        C.per_case(1.0, higher=False, strict=False, partly=False, name="p", source="test"),
        C.increasing(name="i", source="test"),
        C.increasing(name="i", source="test", margin=0.1, untestable="one case only"),
    ],
)
def test_every_combinator_gives_each_verdict_it_declares(rule):
    assert "not reproduced" in rule.examples
    for verdict, measured, ctx in rule.example_calls():
        assert rule(measured, **ctx)[0] == verdict


def test_per_case_leaves_an_unmeasured_case_open_and_names_it():
    r = C.per_case(1.0, name="p", source="test")
    v, why = r(C.Measurements({"n=64": C.exact(2.0), "n=128": None}))
    assert v == "inconclusive" and "open: n=128" in why and "1 of 2 cases ≥ 1" in why
    assert r(C.Measurements({"a": C.over_rounds([2.0, 3.0])}))[0] == "inconclusive"  # limited


def test_increasing_decides_pair_by_pair_on_intervals():
    r = C.increasing(name="i", source="test", margin=0.05)
    up = C.Measurements({"NES": C.exact(0.2), "FPD": C.exact(0.5), "RBD": C.exact(0.8)})
    assert r(up)[0] == "reproduced"
    flat = C.Measurements({"FPD": C.exact(0.5), "RBD": C.exact(0.52)})  # a lead within the margin
    v, why = r(flat)
    assert v == "not reproduced" and "flat" in why
    assert C.step_state(C.exact(0.5), C.exact(0.52)) == "up"  # without a margin any lead counts
    assert C.step_state(C.exact(0.5), None) == "open"
    assert C.step_state(C.exact(0.5), C.over_seeds([0.9])) == "open"  # one run decides nothing
    with pytest.raises(ValueError, match="at least two cases"):
        r(C.Measurements({"a": C.exact(1.0)}))


# --------------------------------------------------------------------------- settings table


@dataclass(frozen=True)
class _Toy:
    n: int = field(metadata=setting("points n, width m", "{n}, {m}", order=2))
    m: int
    seeds: tuple[int, ...] = field(default=(0, 1), metadata=setting("seeds", len, order=3))
    eps: tuple[float, ...] = field(default=(1.0, 0.25), metadata=setting("spreads", "g", order=1))
    rate: int = field(
        default=8, metadata=setting("n study (width {rate} n)", "{grid!n} sizes: {grid}", order=4)
    )
    grid: tuple[int, ...] = (32, 64)
    internal: float = 0.5  # no label: not in the table

    @property
    def largest(self) -> int:
        return max(self.grid)


def test_settings_rows_follow_the_field_metadata():
    rows = settings_rows(_Toy(4, 16))
    assert rows == [
        ("spreads", "1, 0.25"),  # a spec formats every item of a tuple
        ("points n, width m", "4, 16"),
        ("seeds", 2),  # a callable of the value: the value keeps its type
        ("n study (width 8 n)", "2 sizes: 32, 64"),  # label templates; !n is a length
    ]
    # context comes before the configuration's names (the seeds offset by the chapter's seed)
    assert settings_rows(_Toy(4, 16), seeds=(7, 8, 9))[2] == ("seeds", 3)


def test_settings_rows_read_properties_and_context_objects_and_refuse_half_orders():
    @dataclass(frozen=True)
    class Part:
        a: int = field(default=1, metadata=setting("a (largest other {other.largest})", "{}"))
        b: int = field(default=2, metadata=setting("b"))

    assert settings_rows(Part(), other=_Toy(1, 2)) == [("a (largest other 64)", "1"), ("b", 2)]

    @dataclass(frozen=True)
    class Half:
        a: int = field(default=1, metadata=setting("a", order=1))
        b: int = field(default=2, metadata=setting("b"))

    with pytest.raises(ValueError, match="without an order: \\['b'\\]"):
        settings_rows(Half())
    with pytest.raises(TypeError, match="dataclass instance"):
        settings_rows(Half)
    with pytest.raises(KeyError, match="nowhere"):

        @dataclass(frozen=True)
        class Bad:
            a: int = field(default=1, metadata=setting("a", "{nowhere}"))

        settings_rows(Bad())


# --------------------------------------------------------------------------- glue


def test_glue_texts_glues_markdown_without_displaying(monkeypatch):
    glued = []
    fake = types.ModuleType("myst_nb")
    fake.glue = lambda name, obj, display=True: glued.append((name, obj.data, display))
    monkeypatch.setitem(sys.modules, "myst_nb", fake)
    names = glue_texts({"v-speed": "*reproduced*", "s-speed": "1.5x"}, prefix="ch09-")
    assert names == ["ch09-v-speed", "ch09-s-speed"]
    assert glued == [("ch09-v-speed", "*reproduced*", False), ("ch09-s-speed", "1.5x", False)]
    glued.clear()
    with pytest.raises(TypeError, match="ch09-n: glued text must be a string"):
        glue_texts({"ok": "fine", "n": 3}, prefix="ch09-")
    with pytest.raises(ValueError, match="non-empty"):
        glue_texts({"": "x"})
    assert glued == []  # nothing glued when one entry is wrong


def test_core_imports_without_myst_nb():
    import subprocess

    code = (
        "import sys; sys.modules['myst_nb'] = None; sys.modules['IPython'] = None\n"
        "import fasttrain.core.glue, fasttrain.core.claims, fasttrain.core.tables"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
