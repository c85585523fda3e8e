"""Declared claims, measurements with their uncertainty, and the rules that turn one into a verdict.

The book's standard of evidence, in code:

* a chapter declares every claim once, before measuring, as a :class:`ClaimSpec`: the paper's words
  and value with their location, the claim's ``kind`` (:data:`KINDS`), its unit, and a :class:`Rule`;
* a measurement is a :class:`Measurement`: the raw numbers (one per seed, or one per interleaved timing
  round), their centre and interval (:func:`over_seeds`, :func:`over_rounds`, :func:`exact`);
* the rule maps the measurement to one verdict of :data:`VERDICTS` and a reason; every rule carries
  synthetic examples of each verdict it can give, "not reproduced" included, and
  ``tests/test_claims.py`` feeds them to it: a rule that cannot fail is a defect;
* :meth:`fasttrain.core.results.ChapterResults.record` applies the rule: a chapter never writes a
  verdict itself.

The vocabulary, defined once (the book's introduction repeats it):

* **reproduced** -- the measurement (its whole interval, where it has one) meets the declared rule;
* **partly** -- a declared weaker form of the claim holds, or some of its cases hold;
* **not reproduced** -- the measurement (its whole interval) fails the rule;
* **inconclusive** -- the interval straddles the rule's bar: more seeds or rounds are needed;
* **not testable here** -- this machine or this data cannot test it (the reason says why).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

VERDICTS: tuple[str, ...] = (
    "reproduced",
    "partly",
    "not reproduced",
    "inconclusive",
    "not testable here",
)

#: ``paper``: the paper's own claim; ``book-goal``: a target this book set itself (for example a
#: speed-up the paper implies but does not state); ``analysis``: a finding of ours beyond the paper.
KINDS: tuple[str, ...] = ("paper", "book-goal", "analysis")


# ---------------------------------------------------------------------------------------------
# measurements


@dataclass(frozen=True)
class Measurement:
    """Raw values with their centre and interval.

    ``values``: one number per seed or per timing round (one number for an exact, deterministic
    quantity); ``center``: their mean (seeds), median (rounds) or the value itself;
    ``interval``: ``(lo, hi)`` or ``None`` when there is none (exact quantities, single runs);
    ``spread``: the standard deviation over seeds, else ``None``; ``how``: in words.
    """

    values: tuple[float, ...]
    center: float
    interval: tuple[float, float] | None
    spread: float | None
    how: str

    def __post_init__(self):
        if not self.values:
            raise ValueError("a measurement needs at least one value")
        if not all(math.isfinite(v) for v in self.values):
            raise ValueError(f"non-finite value in a measurement: {self.values}")

    @property
    def lo(self) -> float:
        return self.interval[0] if self.interval is not None else self.center

    @property
    def hi(self) -> float:
        return self.interval[1] if self.interval is not None else self.center

    def text(self, fmt: str = ".3g") -> str:
        """``mean ± sd [lo, hi]`` (seeds), ``median [min, max]`` (rounds) or the value."""
        c = format(self.center, fmt)
        if self.interval is None:
            return c
        lo, hi = (format(v, fmt) for v in self.interval)
        sd = f" ± {format(self.spread, fmt)}" if self.spread is not None else ""
        return f"{c}{sd} [{lo}, {hi}]"


def _floats(values: Iterable[Any]) -> tuple[float, ...]:
    out = tuple(float(v) for v in values)
    if not out:
        raise ValueError("no values to summarise")
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"non-finite value in a measurement: {out}")
    return out


def over_seeds(values: Iterable[float], level: float = 0.95) -> Measurement:
    """Mean, standard deviation and the Student-t ``level`` interval of the mean over seeds.

    One seed gives no interval (``interval=None``, described as "one run").
    """
    v = _floats(values)
    mean = statistics.fmean(v)
    if len(v) == 1:
        return Measurement(v, mean, None, None, "one run")
    from scipy import stats

    sd = statistics.stdev(v)
    half = float(stats.t.ppf(0.5 + level / 2, len(v) - 1)) * sd / math.sqrt(len(v))
    how = f"mean ± sd of {len(v)} seeds, {level:.0%} t-interval of the mean"
    return Measurement(v, mean, (mean - half, mean + half), sd, how)


def over_rounds(values: Iterable[float]) -> Measurement:
    """Median and ``[min, max]`` of per-round values (timing ratios of interleaved rounds)."""
    v = _floats(values)
    if len(v) == 1:
        return Measurement(v, v[0], None, None, "one round")
    how = f"median [min, max] of {len(v)} interleaved rounds"
    return Measurement(v, statistics.median(v), (min(v), max(v)), None, how)


def exact(value: float, how: str = "exact (deterministic)") -> Measurement:
    """A deterministic quantity: one value, no interval."""
    v = _floats([value])
    return Measurement(v, v[0], None, None, how)


# ---------------------------------------------------------------------------------------------
# rules


@dataclass(frozen=True)
class Rule:
    """A named function from a measurement to ``(verdict, reason)``.

    ``fn(measured, **context)`` returns the verdict and a one-line reason; ``examples`` maps each
    verdict the rule can give to a synthetic measurement (and optional context) that gives it;
    ``doc`` says where its thresholds come from.
    """

    name: str
    fn: Callable[..., tuple[str, str]]
    examples: Mapping[str, Any]
    doc: str = ""
    words: str = ""

    def __post_init__(self):
        unknown = set(self.examples) - set(VERDICTS)
        if unknown:
            raise ValueError(f"rule {self.name}: examples for unknown verdicts {sorted(unknown)}")
        if "not reproduced" not in self.examples:
            raise ValueError(
                f"rule {self.name}: no example of 'not reproduced': a rule must be able to fail"
            )

    def __call__(self, measured, **context) -> tuple[str, str]:
        verdict, reason = self.fn(measured, **context)
        if verdict not in VERDICTS:
            raise ValueError(f"rule {self.name} returned {verdict!r}, not one of {VERDICTS}")
        if verdict not in self.examples:
            # "not testable here" too: a rule that can say it declares the precondition it checks
            # by an example (issue 22: no verdict written outside a declared case)
            raise ValueError(
                f"rule {self.name} returned {verdict!r}, which its examples do not declare"
            )
        return verdict, reason

    def example_calls(self) -> list[tuple[str, Any, dict]]:
        """``(verdict, measured, context)`` for every declared example (for the tests)."""
        out = []
        for verdict, ex in self.examples.items():
            measured, context = (
                ex
                if isinstance(ex, tuple) and len(ex) == 2 and isinstance(ex[1], dict)
                else (ex, {})
            )
            out.append((verdict, measured, context))
        return out


def rule(examples: Mapping[str, Any], words: str = "") -> Callable[[Callable], Rule]:
    """Decorator: turn ``fn(measured, **context) -> (verdict, reason)`` into a :class:`Rule`.

    ``examples``: ``{verdict: measured}`` or ``{verdict: (measured, context_dict)}``; ``words``:
    the rule in a few words for the claims table (defaults to the docstring's first line).
    """

    def wrap(fn: Callable) -> Rule:
        doc = (fn.__doc__ or "").strip()
        return Rule(
            fn.__name__.replace("_", "-"), fn, dict(examples), doc, words or doc.split("\n")[0]
        )

    return wrap


def side(m: Measurement, bar: float, higher: bool = True) -> str:
    """``"meets"``, ``"fails"`` or ``"straddles"`` the bar (``>= bar`` if ``higher`` else ``<= bar``),
    judged on the whole interval: the building block of every rule that decides on an interval."""
    lo, hi = m.lo, m.hi
    if higher:
        return "meets" if lo >= bar else "fails" if hi < bar else "straddles"
    return "meets" if hi <= bar else "fails" if lo > bar else "straddles"


def threshold(
    bar: float,
    *,
    higher: bool = True,
    partly: float | None = None,
    name: str,
    source: str,
    unit: str = "",
) -> Rule:
    """A bar the measurement must clear: ``>= bar`` (``higher``) or ``<= bar``.

    "reproduced" when the whole interval clears ``bar``; "inconclusive" when the interval straddles it
    (or misses it and straddles the weaker bar ``partly``); otherwise "partly" when the whole interval
    clears ``partly`` (if given), else "not reproduced".  ``source`` says where the bar comes from
    (the paper's words where possible).
    """
    op = "≥" if higher else "≤"
    u = f" {unit}" if unit else ""
    words = f"{op} {bar:g}{u}" + (f" (partly: {op} {partly:g})" if partly is not None else "")

    def fn(m: Measurement) -> tuple[str, str]:
        where = side(m, bar, higher)
        shown = m.text()
        if where == "meets":
            return "reproduced", f"{shown} {op} {bar:g}{u}"
        if where == "straddles":
            return "inconclusive", f"{shown} straddles {bar:g}{u}"
        if partly is not None:
            weaker = side(m, partly, higher)
            if weaker == "meets":
                return "partly", f"{shown} misses {bar:g}{u} but clears {partly:g}"
            if weaker == "straddles":
                return "inconclusive", f"{shown} misses {bar:g}{u} and straddles {partly:g}"
        return "not reproduced", f"{shown} misses {bar:g}{u}"

    step = abs(bar) * 0.5 + 1.0
    good, bad = (bar + step, bar - step) if higher else (bar - step, bar + step)
    examples: dict[str, Any] = {
        "reproduced": exact(good),
        "not reproduced": exact(bad if partly is None else (bad - step if higher else bad + step)),
        "inconclusive": over_rounds([bad, good]),
    }
    if partly is not None:
        examples["partly"] = exact((bar + partly) / 2)
        examples["not reproduced"] = exact(partly - step if higher else partly + step)
    doc = f"{words}. Thresholds: {source}"
    return Rule(name, fn, examples, doc, words)


def within(
    target: float,
    tol: float,
    *,
    relative: bool = False,
    name: str,
    source: str,
) -> Rule:
    """Agreement with the paper's value: ``|x - target| <= tol`` (or ``tol * |target|`` if ``relative``).

    "reproduced" when the whole interval lies inside the band, "not reproduced" when it lies wholly
    outside, "inconclusive" when it overlaps an edge.
    """
    half = tol * abs(target) if relative else tol
    lo_b, hi_b = target - half, target + half
    words = f"within {tol:g}{' × paper' if relative else ''} of {target:g}"

    def fn(m: Measurement) -> tuple[str, str]:
        shown = m.text()
        if lo_b <= m.lo and m.hi <= hi_b:
            return "reproduced", f"{shown} lies within [{lo_b:.3g}, {hi_b:.3g}]"
        if m.hi < lo_b or m.lo > hi_b:
            return "not reproduced", f"{shown} lies outside [{lo_b:.3g}, {hi_b:.3g}]"
        return "inconclusive", f"{shown} overlaps an edge of [{lo_b:.3g}, {hi_b:.3g}]"

    examples = {
        "reproduced": exact(target),
        "not reproduced": exact(target + 2 * half + 1.0),
        "inconclusive": over_rounds([target, target + 2 * half + 1.0]),
    }
    return Rule(name, fn, examples, f"{words}. Tolerance: {source}", words)


# ---------------------------------------------------------------------------------------------
# declared claims


@dataclass(frozen=True)
class ClaimSpec:
    """One claim, declared before measuring.

    ``claim``: the claim in one line as this book tests it; ``paper_words``: the paper's own words
    (empty for a book goal or an analysis); ``where``: table, figure or section of the paper (or
    "book goal"); ``paper_value``: the paper's number or words; ``kind``: one of :data:`KINDS`.
    """

    id: str
    kind: str
    claim: str
    where: str
    paper_value: Any
    unit: str
    rule: Rule
    paper_words: str = ""
    notes: str = field(default="", compare=False)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"claim {self.id!r}: kind {self.kind!r} is not one of {KINDS}")
        if not self.id or not self.claim:
            raise ValueError("a claim needs an id and its text")
        if self.kind == "paper" and not self.paper_words:
            raise ValueError(f"claim {self.id!r}: a paper claim quotes the paper's words")


def declare(*specs: ClaimSpec) -> dict[str, ClaimSpec]:
    """``{id: spec}``, refusing duplicate ids."""
    out: dict[str, ClaimSpec] = {}
    for s in specs:
        if s.id in out:
            raise ValueError(f"duplicate claim id {s.id!r}")
        out[s.id] = s
    return out
