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
from types import MappingProxyType
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
    ``spread``: the standard deviation over seeds, else ``None``; ``how``: in words;
    ``limited``: why this measurement can decide at most "inconclusive" (one stochastic run, too few
    timing rounds for a 95 % interval of the median), else ``""``: :func:`side` then never says
    "meets" or "fails"; ``range``: ``(min, max)`` of the values where it is shown beside an interval
    that is not the range (timing rounds).
    """

    values: tuple[float, ...]
    center: float
    interval: tuple[float, float] | None
    spread: float | None
    how: str
    limited: str = ""
    range: tuple[float, float] | None = None

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
        """``mean ± sd [lo, hi]`` (seeds), ``median [lo, hi] (range [min, max])`` (rounds) or the
        value; a limited measurement says why in parentheses."""
        c = format(self.center, fmt)
        out = c
        if self.interval is not None:
            lo, hi = (format(v, fmt) for v in self.interval)
            sd = f" ± {format(self.spread, fmt)}" if self.spread is not None else ""
            out = f"{c}{sd} [{lo}, {hi}]"
        if self.range is not None and tuple(self.range) != tuple(self.interval or ()):
            a, b = (format(v, fmt) for v in self.range)
            out += f" (range [{a}, {b}])"
        if self.limited:
            out += f" ({self.limited})"
        return out


def _floats(values: Iterable[Any]) -> tuple[float, ...]:
    out = tuple(float(v) for v in values)
    if not out:
        raise ValueError("no values to summarise")
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"non-finite value in a measurement: {out}")
    return out


#: a single stochastic run (one seed, one round) decides at most "inconclusive" (issue 22)
ONE_RUN = "one run: a single stochastic run decides at most inconclusive"


def over_seeds(
    values: Iterable[float],
    level: float = 0.95,
    *,
    log: bool = False,
    deterministic: bool = False,
) -> Measurement:
    """Mean, standard deviation and the Student-t ``level`` interval of the mean over seeds.

    The statistic of a claim about the *typical* (average) case.  ``log=True`` is for strictly
    positive quantities (ratios, errors, times): the interval is the t-interval of the mean of the
    logarithms, mapped back, around the geometric mean, so it never reaches zero or below.
    One seed gives no interval and is ``limited`` (it decides at most "inconclusive") unless the
    quantity is ``deterministic`` (the same for every seed).
    """
    v = _floats(values)
    if log and min(v) <= 0:
        raise ValueError(f"log-scale interval of a quantity that is not strictly positive: {v}")
    w = tuple(math.log(x) for x in v) if log else v
    mean = statistics.fmean(w)
    back = math.exp if log else (lambda x: x)
    if len(v) == 1:
        return Measurement(v, v[0], None, None, "one run", "" if deterministic else ONE_RUN)
    from scipy import stats

    sd = statistics.stdev(w)
    half = float(stats.t.ppf(0.5 + level / 2, len(v) - 1)) * sd / math.sqrt(len(v))
    if log:
        how = f"geometric mean of {len(v)} seeds, {level:.0%} t-interval of the mean log"
        return Measurement(v, back(mean), (back(mean - half), back(mean + half)), None, how)
    how = f"mean ± sd of {len(v)} seeds, {level:.0%} t-interval of the mean"
    return Measurement(v, mean, (mean - half, mean + half), sd, how)


def median_ranks(n: int, level: float = 0.95) -> tuple[int, int, float] | None:
    """``(r, s, coverage)``: the 1-based ranks of the distribution-free ``level`` interval
    ``[x_(r), x_(s)]`` of the median of ``n`` values, or ``None`` when ``n`` is too small for one.

    ``x_(r) <= median <= x_(s)`` fails only if at most ``r - 1`` values fall on one side of the true
    median; each falls below it with probability ½ whatever the distribution, so the coverage is
    ``1 - 2 P(Binomial(n, ½) <= r - 1)``.  ``r`` is the largest rank with coverage ``>= level``: the
    interval narrows as ``n`` grows (``n = 6..8``: ``[min, max]``; 9: ``[x_(2), x_(8)]``; 12:
    ``[x_(3), x_(10)]``; 20: ``[x_(6), x_(15)]``).  95 % needs ``n >= 6``.
    """
    from scipy import stats

    best = None
    for r in range(1, n // 2 + 1):
        cover = 1.0 - 2.0 * float(stats.binom.cdf(r - 1, n, 0.5))
        if cover >= level:
            best = (r, n + 1 - r, cover)
        else:
            break
    return best


def over_rounds(values: Iterable[float], level: float = 0.95) -> Measurement:
    """Median of per-round values (timing ratios of interleaved rounds) with the distribution-free
    ``level`` interval of the median from order statistics (:func:`median_ranks`), which narrows as
    rounds are added; ``[min, max]`` is kept as ``range`` and shown beside it.

    Fewer rounds than a ``level`` interval needs (6 at 95 %) give ``[min, max]`` as the interval and
    a ``limited`` measurement: it decides at most "inconclusive" and says why.
    """
    v = _floats(values)
    rng = (min(v), max(v))
    if len(v) == 1:
        return Measurement(v, v[0], None, None, "one round", ONE_RUN, rng)
    ranks = median_ranks(len(v), level)
    med = statistics.median(v)
    if ranks is None:
        need = next(n for n in range(len(v), 64) if median_ranks(n, level) is not None)
        why = f"{len(v)} rounds: a {level:.0%} interval of the median needs {need}"
        return Measurement(v, med, rng, None, f"median [min, max] of {len(v)} rounds", why, rng)
    r, s_, cover = ranks
    xs = sorted(v)
    how = (
        f"median of {len(v)} interleaved rounds, distribution-free {level:.0%} interval "
        f"[x({r}), x({s_})] of the median (coverage {cover:.1%}); range [min, max] beside it"
    )
    return Measurement(v, med, (xs[r - 1], xs[s_ - 1]), None, how, "", rng)


def share(successes: int, trials: int, level: float = 0.95) -> Measurement:
    """A share ``k / n`` of cases (seeds, steps, problems) with its exact Clopper–Pearson ``level``
    interval: the statistic of claims about counts and shares (``5/5`` seeds is ``[0.48, 1]``)."""
    k, n = int(successes), int(trials)
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"a share needs 0 <= successes <= trials and trials >= 1, got {k}/{n}")
    from scipy import stats

    ci = stats.binomtest(k, n).proportion_ci(confidence_level=level, method="exact")
    how = f"{k} of {n} cases, exact {level:.0%} Clopper–Pearson interval"
    values = (1.0,) * k + (0.0,) * (n - k)
    return Measurement(values, k / n, (float(ci.low), float(ci.high)), None, how)


def worst_case(values: Iterable[float], *, higher: bool = True, of: str = "seeds") -> Measurement:
    """The worst of several cases, for a claim about *every* case ("each step contracts", "for every
    seed"): ``min`` when higher is better, else ``max``.  It has no interval: one violating case is
    a counterexample, and a rule on it says "not reproduced" however many others pass.  A single
    case is ``limited`` (one stochastic run)."""
    v = _floats(values)
    worst = min(v) if higher else max(v)
    how = f"worst ({'min' if higher else 'max'}) of {len(v)} {of}: the claim is about every one"
    return Measurement(v, worst, None, None, how, ONE_RUN if len(v) == 1 else "", (min(v), max(v)))


@dataclass(frozen=True)
class Unavailable:
    """What a chapter hands a rule when this machine or this data cannot measure the claim:
    ``reason`` says what is missing.  Only a rule that declares the precondition (an example of
    "not testable here", :func:`threshold`'s ``untestable``) turns it into "not testable here";
    any other rule refuses it."""

    reason: str

    def __post_init__(self):
        if not self.reason:
            raise ValueError("say why it is not testable here")


def exact(value: float, how: str = "exact (deterministic)") -> Measurement:
    """A deterministic quantity: one value, no interval."""
    v = _floats([value])
    return Measurement(v, v[0], None, None, how)


class Measurements(Mapping):
    """Several measurements for one rule: a frozen mapping ``name -> Measurement | None`` (``None``:
    not measured), read like a dict, with named ``context`` (a budget, a threshold, the laws of a
    fit: whatever the rule reads beside the measurements).

    ``values`` (a property, not the dict method) lists the centres of the measurements that are
    there, in order: what :meth:`fasttrain.core.results.ChapterResults.record` stores as the
    claim's numbers (``all_values``: every raw value of every case).  ``m.context`` is the
    context; a context entry also reads as an attribute (``Measurements({...}, budget=10).budget``).
    A chapter's typed container is this class or a thin subclass of it (typed constructor and
    properties; ``values`` returns ``all_values`` where its results file has always stored every
    raw value, said in its docstring).
    """

    def __init__(self, items=(), /, **context):
        if not isinstance(items, Mapping):
            pairs = list(items)
            names = [k for k, _ in pairs]
            twice = sorted({str(k) for k in names if names.count(k) > 1})
            if twice:
                raise ValueError(f"cases named twice: {', '.join(twice)}")
            items = pairs
        items = dict(items)
        for k, m in items.items():
            if m is not None and not isinstance(m, Measurement):
                raise TypeError(f"case {k!r}: a Measurement or None, not {type(m).__name__}")
        object.__setattr__(self, "_items", items)
        object.__setattr__(self, "_context", dict(context))  # shown read-only by ``context``

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is frozen")

    def __getitem__(self, key):
        return self._items[key]

    def __iter__(self):
        return iter(self._items)

    def __len__(self):
        return len(self._items)

    def __getattr__(self, name):
        ctx = self.__dict__.get("_context", {})
        if name in ctx:
            return ctx[name]
        raise AttributeError(f"{type(self).__name__} has no attribute or context {name!r}")

    def __eq__(self, other):
        if not isinstance(other, Measurements):
            return NotImplemented
        return (
            type(self) is type(other)
            and self._items == other._items
            and self._context == other._context
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        ctx = "".join(f", {k}={v!r}" for k, v in self._context.items())
        return f"{type(self).__name__}({self._items!r}{ctx})"

    @property
    def context(self) -> Mapping[str, Any]:
        return MappingProxyType(self._context)

    @property
    def values(self) -> tuple[float, ...]:  # type: ignore[override]
        return tuple(float(m.center) for m in self._items.values() if m is not None)

    @property
    def all_values(self) -> tuple[float, ...]:
        """Every raw value (seed, round) of every measured case, in order: what a typed view stores
        instead of the centres where its results file always has (its ``values`` returns this)."""
        return tuple(v for m in self._items.values() if m is not None for v in m.values)

    def measured(self) -> dict[str, Measurement]:
        """The cases that were measured (``None`` left out), in order."""
        return {k: m for k, m in self._items.items() if m is not None}

    def text(self, fmt: str = ".3g", sep: str = ", ") -> str:
        """``name value`` per case (:meth:`Measurement.text`), "not measured" for ``None``."""
        return sep.join(
            f"{k} {'not measured' if m is None else m.text(fmt)}" for k, m in self._items.items()
        )


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
        if isinstance(measured, Unavailable):
            if "not testable here" not in self.examples:
                raise ValueError(
                    f"rule {self.name} declares no precondition for 'not testable here' "
                    f"(no example of it), so it cannot take {measured}"
                )
            return "not testable here", measured.reason
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
    judged on the whole interval: the building block of every rule that decides on an interval.
    A ``limited`` measurement (one stochastic run, too few timing rounds) always "straddles"."""
    if getattr(m, "limited", ""):
        return "straddles"  # one run, too few rounds: at most "inconclusive"
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
    untestable: str = "",
) -> Rule:
    """A bar the measurement must clear: ``>= bar`` (``higher``) or ``<= bar``.

    "reproduced" when the whole interval clears ``bar``; "inconclusive" when the interval straddles it
    (or misses it and straddles the weaker bar ``partly``); otherwise "partly" when the whole interval
    clears ``partly`` (if given), else "not reproduced".  ``source`` says where the bar comes from
    (the paper's words where possible).  ``untestable``: the precondition under which the claim
    cannot be tested here (then :class:`Unavailable` gives "not testable here"; without it the rule
    refuses an :class:`Unavailable`).
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
            if m.limited:
                return "inconclusive", f"{shown} cannot decide against {bar:g}{u}"
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
        "inconclusive": over_seeds([bad, good]),
    }
    if partly is not None:
        examples["partly"] = exact((bar + partly) / 2)
        examples["not reproduced"] = exact(partly - step if higher else partly + step)
    if untestable:
        examples["not testable here"] = Unavailable(untestable)
    doc = f"{words}. Thresholds: {source}" + (
        f". Not testable when {untestable}" if untestable else ""
    )
    return Rule(name, fn, examples, doc, words)


def within(
    target: float,
    tol: float,
    *,
    relative: bool = False,
    name: str,
    source: str,
    untestable: str = "",
) -> Rule:
    """Agreement with the paper's value: ``|x - target| <= tol`` (or ``tol * |target|`` if ``relative``).

    "reproduced" when the whole interval lies inside the band, "not reproduced" when it lies wholly
    outside, "inconclusive" when it overlaps an edge.  ``untestable`` as for :func:`threshold`.
    """
    half = tol * abs(target) if relative else tol
    lo_b, hi_b = target - half, target + half
    words = f"within {tol:g}{' × paper' if relative else ''} of {target:g}"

    def fn(m: Measurement) -> tuple[str, str]:
        shown = m.text()
        if m.limited:
            return "inconclusive", f"{shown} cannot decide against [{lo_b:.3g}, {hi_b:.3g}]"
        if lo_b <= m.lo and m.hi <= hi_b:
            return "reproduced", f"{shown} lies within [{lo_b:.3g}, {hi_b:.3g}]"
        if m.hi < lo_b or m.lo > hi_b:
            return "not reproduced", f"{shown} lies outside [{lo_b:.3g}, {hi_b:.3g}]"
        return "inconclusive", f"{shown} overlaps an edge of [{lo_b:.3g}, {hi_b:.3g}]"

    examples = {
        "reproduced": exact(target),
        "not reproduced": exact(target + 2 * half + 1.0),
        "inconclusive": over_seeds([target, target + 2 * half + 1.0]),
    }
    if untestable:
        examples["not testable here"] = Unavailable(untestable)
    doc = f"{words}. Tolerance: {source}" + (
        f". Not testable when {untestable}" if untestable else ""
    )
    return Rule(name, fn, examples, doc, words)


# ---------------------------------------------------------------------------------------------
# combinators: the rule shapes that repeat across the chapters


def tally(sides: Iterable[str], *, strict: bool = True, partly: bool = True) -> str:
    """The verdict of a claim about *every* case from each case's side of its bar (``"meets"``,
    ``"fails"``, ``"straddles"``, as :func:`side` says; a case not measured, or ``limited``, is
    ``"straddles"``): the count that rules over several cases share.

    Every case meets: "reproduced".  ``strict`` (the default): any straddling case makes it
    "inconclusive"; otherwise no case meeting is "not reproduced" and some is "partly".  Not
    ``strict``: an open case makes it "inconclusive" only where it could change the verdict, so
    cases that meet beside cases that fail are "partly" whatever the open ones do, and every case
    failing is "not reproduced".  ``partly=False``: one failing case is "not reproduced" (the worst
    case decides, no weaker form).  No cases at all is an error, not a vacuous "reproduced".
    """
    v = list(sides)
    if not v:
        raise ValueError("a claim about every case needs at least one case")
    unknown = set(v) - {"meets", "fails", "straddles"}
    if unknown:
        raise ValueError(f"sides must be meets, fails or straddles, got {sorted(unknown)}")
    meets, fails, n = v.count("meets"), v.count("fails"), len(v)
    if meets == n:
        return "reproduced"
    if not partly:
        if fails and not (strict and "straddles" in v):
            return "not reproduced"
        return "inconclusive"
    if strict:
        if "straddles" in v:
            return "inconclusive"
        return "partly" if meets else "not reproduced"
    if fails == n:
        return "not reproduced"
    if meets and fails:
        return "partly"
    return "inconclusive"


def every_case(
    bar: float, *, higher: bool = False, name: str, source: str, of: str = "seeds"
) -> Rule:
    """A bar that *every* case must clear (``<= bar``, or ``>= bar`` if ``higher``): the statistic of
    a claim about every step, seed or draw.

    Decided on each value of the measurement (one per seed or draw; the worst case,
    :func:`worst_case`, shows the worst of them): "reproduced" when every one clears the bar, "not
    reproduced" when at least one does not (one counterexample refutes an every-case claim, however
    many others pass; the reason counts the violations), "inconclusive" for a ``limited``
    measurement (a single seed or draw: it cannot show that the claim holds for every case).  No
    mean and no interval of it: a mean can hide a violating case, and its interval narrows with
    more cases until a violation no longer shows.
    """
    op = "≥" if higher else "≤"
    words = f"every one of the {of} {op} {bar:g} (the worst case decides)"

    def fn(m: Measurement) -> tuple[str, str]:
        bad = [v for v in m.values if (v < bar if higher else v > bar)]
        worst = min(m.values) if higher else max(m.values)
        shown = f"worst of {len(m.values)} {of} {worst:.3g}"
        if bad:
            return "not reproduced", (
                f"{shown}: {len(bad)} of {len(m.values)} {of} violate {op} {bar:g} "
                f"({', '.join(f'{v:.3g}' for v in bad)})"
            )
        if m.limited:
            return "inconclusive", f"{shown} {op} {bar:g}, but {m.limited}"
        return (
            "reproduced",
            f"{shown} {op} {bar:g}: no {of[:-1] if of.endswith('s') else of} violates it",
        )

    step = abs(bar) * 0.5 + 1e-3
    good, badv = (bar + step, bar - step) if higher else (bar - step, bar + step)
    examples = {
        "reproduced": worst_case([good, good, good], higher=higher, of=of),
        "not reproduced": worst_case([good, badv, good, good, good], higher=higher, of=of),
        "inconclusive": worst_case([good], higher=higher, of=of),
    }
    return Rule(name, fn, examples, f"{words}. Thresholds: {source}", words)


def per_case(
    bar: float,
    *,
    higher: bool = True,
    name: str,
    source: str,
    unit: str = "",
    strict: bool = True,
    partly: bool = True,
    untestable: str = "",
) -> Rule:
    """A bar that every case of a :class:`Measurements` must clear on its own interval (``>= bar``
    if ``higher``, else ``<= bar``): each case's side by :func:`side` (a case not measured is
    open), the verdict by :func:`tally` (``strict``, ``partly`` as there).  For claims "at every
    size / depth / threshold", each case a typical value with its interval.  ``untestable`` as for
    :func:`threshold`."""
    op = "≥" if higher else "≤"
    u = f" {unit}" if unit else ""
    words = f"every case {op} {bar:g}{u} on its interval" + (
        " (partly: some cases)" if partly else ""
    )

    def fn(m: Measurements) -> tuple[str, str]:
        sides = {k: "straddles" if v is None else side(v, bar, higher) for k, v in m.items()}
        verdict = tally(sides.values(), strict=strict, partly=partly)
        n_meet = sum(s == "meets" for s in sides.values())
        open_ = [str(k) for k, s in sides.items() if s == "straddles"]
        why = f"{m.text()}: {n_meet} of {len(sides)} cases {op} {bar:g}{u}"
        return verdict, why + (f"; open: {', '.join(open_)}" if open_ else "")

    step = abs(bar) * 0.5 + 1.0
    good, bad = (bar + step, bar - step) if higher else (bar - step, bar + step)
    examples: dict[str, Any] = {
        "reproduced": Measurements({"a": exact(good), "b": exact(good)}),
        "not reproduced": Measurements({"a": exact(bad), "b": exact(bad)}),
        "inconclusive": Measurements({"a": exact(good), "b": over_seeds([bad, good])}),
    }
    if partly:
        examples["partly"] = Measurements({"a": exact(good), "b": exact(bad)})
    if untestable:
        examples["not testable here"] = Unavailable(untestable)
    doc = f"{words}. Thresholds: {source}" + (
        f". Not testable when {untestable}" if untestable else ""
    )
    return Rule(name, fn, examples, doc, words)


def step_state(a: Measurement | None, b: Measurement | None, margin: float = 0.0) -> str:
    """Whether ``b`` lies above ``a`` on their intervals: ``"up"`` (b's interval wholly above a's,
    the centres more than ``margin`` apart), ``"down"`` (the mirror image), ``"flat"`` (only with
    ``margin > 0``: centres within ``margin`` and both intervals inside a band of ``2 margin``: no
    lead either way), else ``"open"`` -- always for a missing or ``limited`` measurement."""
    if a is None or b is None or a.limited or b.limited:
        return "open"
    if b.lo > a.hi and b.center - a.center > margin:
        return "up"
    if a.lo > b.hi and a.center - b.center > margin:
        return "down"
    if margin > 0 and abs(b.center - a.center) <= margin:
        if max(a.hi, b.hi) - min(a.lo, b.lo) <= 2 * margin:
            return "flat"
    return "open"


def increasing(
    *, name: str, source: str, margin: float = 0.0, fmt: str = ".3g", untestable: str = ""
) -> Rule:
    """An ordering "A < B < C ...": the cases of a :class:`Measurements`, in their order, must each
    lie above the one before, pair by pair on their intervals (:func:`step_state`; ``margin``: the
    smallest lead that counts, and a tie within it is "flat").  Every pair up: "reproduced"; a pair
    down or flat: "not reproduced" (the ordering is broken there); otherwise "inconclusive" (the
    intervals do not separate a pair, or a case is one run).  For "rises with d" and for a ranking
    of methods; each case a typical value (mean over seeds, median over rounds) with its
    interval.  ``untestable`` as for :func:`threshold`."""
    words = "each case above the one before, on the intervals" + (
        f" (leads > {margin:g})" if margin else ""
    )

    def fn(m: Measurements) -> tuple[str, str]:
        keys = list(m)
        if len(keys) < 2:
            raise ValueError(f"rule {name}: an ordering needs at least two cases, got {keys}")
        states = [step_state(m[a], m[b], margin) for a, b in zip(keys, keys[1:])]
        txt = (
            " < ".join(f"{k} {'not measured' if m[k] is None else m[k].text(fmt)}" for k in keys)
            + f" (pairs: {', '.join(states)})"
        )
        if all(s == "up" for s in states):
            return "reproduced", txt
        if "down" in states or "flat" in states:
            return "not reproduced", f"broken: {txt}"
        return "inconclusive", f"the intervals do not separate every pair: {txt}"

    examples: dict[str, Any] = {
        "reproduced": Measurements({"a": exact(1.0), "b": exact(2.0), "c": exact(3.0)}),
        "not reproduced": Measurements({"a": exact(1.0), "b": exact(3.0), "c": exact(2.0)}),
        "inconclusive": Measurements(
            {"a": exact(1.0), "b": over_seeds([0.5, 2.5]), "c": exact(3.0)}
        ),
    }
    if untestable:
        examples["not testable here"] = Unavailable(untestable)
    doc = f"{words}. Thresholds: {source}" + (
        f". Not testable when {untestable}" if untestable else ""
    )
    return Rule(name, fn, examples, doc, words)


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
