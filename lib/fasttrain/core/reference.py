"""The regression reference of a chapter's smoke run: what is pinned, what is bounded, what is free.

A chapter run at scale ``smoke`` writes a results file (:mod:`fasttrain.core.results`).  Its numbers
are not all equally reproducible on another machine: float32 reductions, XLA's vectorisation (AVX-512,
AVX2, SSE) and OpenBLAS's kernels change the last bits, and iterative training or timing amplifies
them.  The regression test therefore checks every quantity of the results file as one of three kinds:

``exact``
    no rounding can change it: claim ids, verdicts of claims not decided on timings or training
    trajectories, strings, integers, settings.  Compared with ``==``.
``tol``
    a number compared with an absolute tolerance ``|x - reference| <= tol``.  The tolerance is
    :data:`SAFETY` times the largest deviation measured between runs of the same chapter under
    different instruction sets (:data:`VARIANTS`: XLA capped at SSE4.2 / AVX, OpenBLAS pinned to an
    older core), with a floor of :data:`REL_FLOOR` times the claim's magnitude (float64 rounding
    amplified by a condition number up to about 10⁶, for quantities that did not move at all) and,
    for quantities that are zero up to rounding (every variant below :data:`ZERO_FLOOR`), the
    absolute tolerance :data:`ZERO_FLOOR`.
``free``
    timing-dependent or trajectory-dependent (declared per chapter in :class:`Declared`): only its
    presence and type are checked (a claim with this id exists, its values are numbers, its verdict
    is one of :data:`fasttrain.core.claims.VERDICTS`).

:func:`derive` builds the reference from a default run and its variants and *refuses* (raises
:class:`ReferenceError`) when an undeclared quantity moves by more than :data:`MOVE_LIMIT` of its
magnitude, or an undeclared verdict or string changes, across the variants: such a quantity must
be declared timing- or trajectory-dependent in the chapter (with the reason), not given a wide
tolerance.  :func:`check` compares a results file against a stored reference and returns the
problems found, one line each.  Written by hand because no testing library compares nested
results with per-quantity tolerances chosen from measured spread; ``math.isclose`` does the
arithmetic.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .claims import VERDICTS

#: tolerance = SAFETY × the largest deviation measured across the variants: the variants reproduce
#: the kind of difference another CPU makes (chapter 04: 64 iterations on AMD, 61 on an Intel
#: AVX-512 machine, 63 with XLA capped at SSE4.2), not its size, hence a factor of ten
SAFETY = 10.0
#: floor of a tolerance relative to the claim's magnitude, for a quantity that did not move at all
#: across the variants: float64 rounding (1.1e-16) amplified by a condition number up to ~10⁶
REL_FLOOR = 1e-9
#: |x| below this in every variant: zero up to rounding, compared with this absolute tolerance
ZERO_FLOOR = 1e-12
#: an undeclared quantity that moves by more than this fraction of its magnitude across the
#: variants is not a number with a tolerance but trajectory- or timing-dependent: derive refuses
MOVE_LIMIT = 1e-2
#: the environments :func:`derive` compares (name → environment variables); ``default`` first.
#: ``--xla_cpu_max_isa`` makes XLA vectorise like an older CPU, ``OPENBLAS_CORETYPE`` pins
#: OpenBLAS's kernels; both exist on x86-64 only
VARIANTS: dict[str, dict[str, str]] = {
    "default": {},
    "sse4_2": {"XLA_FLAGS": "--xla_cpu_max_isa=SSE4_2"},
    "avx+sandybridge": {"XLA_FLAGS": "--xla_cpu_max_isa=AVX", "OPENBLAS_CORETYPE": "Sandybridge"},
}

SCHEMA = 1


class ReferenceError(ValueError):
    """A reference cannot be derived: an undeclared quantity moves across the variants."""


@dataclass(frozen=True)
class Declared:
    """What a chapter declares about its smoke run's reproducibility (fnmatch patterns).

    ``timing``: claim ids decided on timed rounds; ``trajectory``: claim ids decided on float32
    training trajectories (iterations to a target, errors or accuracies after training that move
    with the CPU's rounding); both are free.  ``free_values``: claim ids whose values rounding
    moves but whose verdict no rounding can change (far from the bar): values free, verdict exact.
    ``extra``: paths into the results file's ``extra`` (``"a/b/0/c"``) that are compared too;
    ``free_extra``: those among them that are timing- or trajectory-dependent.  ``why`` gives the
    reason per pattern, stored beside each free quantity.
    """

    timing: tuple[str, ...] = ()
    trajectory: tuple[str, ...] = ()
    free_values: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    free_extra: tuple[str, ...] = ()
    why: Mapping[str, str] = field(default_factory=dict)

    def free_reason(self, key: str) -> str | None:
        """Why quantity ``key`` (``claims/<id>/...`` or ``extra/<path>``) is free, else None."""
        kind, _, rest = key.partition("/")
        if kind == "claims":
            cid = rest.split("/")[0]
            for label, pats in (("timing", self.timing), ("trajectory", self.trajectory)):
                for p in pats:
                    if fnmatch.fnmatchcase(cid, p):
                        return self.why.get(p, f"decided on {label}-dependent values")
            if not rest.endswith("/verdict"):
                for p in self.free_values:
                    if fnmatch.fnmatchcase(cid, p):
                        return self.why.get(p, "values moved by rounding, verdict pinned")
            return None
        for p in self.free_extra:
            if fnmatch.fnmatchcase(rest, p):
                return self.why.get(p, "timing- or trajectory-dependent")
        return None


def _flat(x: Any, prefix: str) -> dict[str, Any]:
    if isinstance(x, Mapping):
        out: dict[str, Any] = {}
        for k, v in x.items():
            out |= _flat(v, f"{prefix}/{k}")
        return out
    if isinstance(x, list | tuple):
        out = {}
        for i, v in enumerate(x):
            out |= _flat(v, f"{prefix}/{i}")
        return out
    return {prefix: x}


def quantities(results: Mapping[str, Any], declared: Declared) -> dict[str, Any]:
    """The checked quantities of a results file, flattened to ``{key: scalar}``.

    Per claim: ``claims/<id>/verdict``, ``claims/<id>/values/<i>``, ``claims/<id>/interval/<i>``;
    plus the ``extra`` entries matching ``declared.extra`` as ``extra/<path>``.
    """
    out: dict[str, Any] = {}
    for c in results["claims"]:
        base = f"claims/{c['id']}"
        out[f"{base}/verdict"] = c["verdict"]
        out |= _flat(list(c.get("values") or []), f"{base}/values")
        if c.get("interval") is not None:
            out |= _flat(list(c["interval"]), f"{base}/interval")
    for path, v in _flat(results.get("extra", {}), "").items():
        if any(fnmatch.fnmatchcase(path[1:], p) for p in declared.extra):
            out[f"extra{path}"] = v
    return out


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _type(x: Any) -> str:
    if x is None:
        return "null"
    if isinstance(x, bool):
        return "bool"
    if _is_number(x):
        return "number"
    return type(x).__name__


def _magnitudes(qs: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Per group (a claim, or an extra key on its own): the largest |number| over every run."""
    mags: dict[str, float] = {}
    for q in qs:
        for k, v in q.items():
            if _is_number(v) and math.isfinite(v):
                g = _group(k)
                mags[g] = max(mags.get(g, 0.0), abs(float(v)))
    return mags


def _group(key: str) -> str:
    parts = key.split("/")
    return "/".join(parts[:2]) if parts[0] == "claims" else key


def derive(
    runs: Mapping[str, Mapping[str, Any]],
    declared: Declared,
    safety: float = SAFETY,
) -> dict[str, Any]:
    """The reference of a chapter from its results under several variants (the first is stored).

    ``runs`` maps a variant name to that run's results file (all of the same chapter, scale and
    seed).  Raises :class:`ReferenceError` listing every undeclared quantity that moves.
    """
    if len(runs) < 2:
        raise ReferenceError("derive needs the default run and at least one variant")
    names = list(runs)
    first = runs[names[0]]
    for n in names[1:]:
        r = runs[n]
        for k in ("chapter", "scale", "seed"):
            if r[k] != first[k]:
                raise ReferenceError(f"variant {n!r} has {k} {r[k]!r}, the default {first[k]!r}")
        ids, ids0 = [c["id"] for c in r["claims"]], [c["id"] for c in first["claims"]]
        if ids != ids0:
            raise ReferenceError(f"variant {n!r} records claims {ids}, the default {ids0}")
    qs = [quantities(runs[n], declared) for n in names]
    mags = _magnitudes(qs)
    out: dict[str, dict[str, Any]] = {}
    problems = []
    for key, ref in qs[0].items():
        vals = [q.get(key, "<missing>") for q in qs]
        free = declared.free_reason(key)
        if free is not None:
            out[key] = {"check": "free", "type": _type(ref), "value": ref, "why": free}
            continue
        if not all(_is_number(v) for v in vals) or any(
            isinstance(v, float) and not math.isfinite(v) for v in vals
        ):
            if any(v != ref for v in vals):
                problems.append(f"{key}: {dict(zip(names, vals))}")
            out[key] = {
                "check": "exact",
                "value": ref,
                "why": "not a finite number: compared exactly",
            }
            continue
        spread = max(abs(float(v) - float(ref)) for v in vals)
        mag = mags.get(_group(key), 0.0)
        if all(isinstance(v, int) for v in vals) and spread == 0:
            out[key] = {"check": "exact", "value": ref, "why": "an integer that no variant changed"}
            continue
        if mag < ZERO_FLOOR:
            out[key] = {
                "check": "tol",
                "value": ref,
                "tol": ZERO_FLOOR,
                "spread": spread,
                "why": f"zero up to rounding (|x| < {ZERO_FLOOR:g} in every variant)",
            }
            continue
        if spread > MOVE_LIMIT * mag:
            problems.append(
                f"{key}: moves by {spread:.3g} ({spread / mag:.2g} of its magnitude {mag:.3g}) "
                f"across {dict(zip(names, vals))}"
            )
            continue
        floor = REL_FLOOR * mag
        tol = max(safety * spread, floor)
        why = (
            f"{safety:g} × the deviation {spread:.2g} measured across {len(names)} variants"
            if safety * spread >= floor
            else f"did not move beyond {spread:.2g}: floor {REL_FLOOR:g} × magnitude {mag:.3g}"
        )
        out[key] = {"check": "tol", "value": ref, "tol": tol, "spread": spread, "why": why}
    if problems:
        raise ReferenceError(
            f"chapter {first['chapter']}: {len(problems)} undeclared quantities move with the CPU's "
            "rounding; declare their claims timing- or trajectory-dependent (Declared) or find why:\n  "
            + "\n  ".join(problems)
        )
    return {
        "schema": SCHEMA,
        "chapter": first["chapter"],
        "name": first.get("name"),
        "scale": first["scale"],
        "seed": first["seed"],
        "claim_ids": [c["id"] for c in first["claims"]],
        "recorded_on": {
            "machine": first.get("machine", {}),
            "variants": {n: VARIANTS.get(n, {}) for n in names},
        },
        "rules": {
            "safety": safety,
            "rel_floor": REL_FLOOR,
            "zero_floor": ZERO_FLOOR,
            "move_limit": MOVE_LIMIT,
        },
        "quantities": out,
    }


def redeclare(reference: Mapping[str, Any], declared: Declared) -> dict[str, Any]:
    """``reference`` with every quantity ``declared`` now calls free marked free, as :func:`derive`
    would mark it from the same runs (a free quantity's entry depends on the default run alone).

    For a chapter whose declaration frees a quantity after its reference was derived, when the
    variants cannot be re-run on the CPU that recorded them.  Raises :class:`ReferenceError` if a
    quantity the reference holds free is no longer declared free (that needs :func:`derive`)."""
    out = {**reference, "quantities": dict(reference["quantities"])}
    back = []
    for key, spec in reference["quantities"].items():
        free = declared.free_reason(key)
        if free is None:
            if spec["check"] == "free":
                back.append(key)
            continue
        if spec["check"] != "free" or spec.get("why") != free:
            out["quantities"][key] = {
                "check": "free",
                "type": _type(spec["value"]),
                "value": spec["value"],
                "why": free,
            }
    if back:
        raise ReferenceError(
            f"chapter {reference.get('chapter')}: no longer declared free, re-derive the reference "
            f"(make fixtures): {', '.join(back)}"
        )
    return out


def check(
    reference: Mapping[str, Any], results: Mapping[str, Any], declared: Declared
) -> list[str]:
    """Every way ``results`` departs from ``reference`` (empty when it matches), one line each."""
    problems = []
    for k in ("chapter", "scale", "seed"):
        if results.get(k) != reference.get(k):
            problems.append(f"{k}: {results.get(k)!r}, the reference has {reference.get(k)!r}")
    ids = [c["id"] for c in results["claims"]]
    if ids != list(reference["claim_ids"]):
        missing = [i for i in reference["claim_ids"] if i not in ids]
        new = [i for i in ids if i not in reference["claim_ids"]]
        problems.append(
            f"claim ids differ: missing {missing}, not in the reference {new}"
            + ("" if missing or new else " (same ids, another order)")
        )
    got = quantities(results, declared)
    for key, spec in reference["quantities"].items():
        kind = spec["check"]
        if key not in got:
            if kind != "free" or key.endswith("/verdict"):
                problems.append(f"{key}: missing (reference {spec['value']!r})")
            continue
        x, ref = got[key], spec["value"]
        if kind == "free":
            if key.endswith("/verdict"):
                if x not in VERDICTS:
                    problems.append(f"{key}: {x!r} is not a verdict")
            elif _type(x) != spec["type"] and {_type(x), spec["type"]} != {"number", "null"}:
                problems.append(
                    f"{key}: a {_type(x)}, the reference has a {spec['type']} (free value)"
                )
        elif kind == "exact":
            if x != ref:
                problems.append(f"{key}: {x!r}, the reference has {ref!r} (exact)")
        elif kind == "tol":
            if not _is_number(x) or not abs(float(x) - float(ref)) <= spec["tol"]:
                dev = abs(float(x) - float(ref)) if _is_number(x) else float("nan")
                problems.append(
                    f"{key}: {x!r}, the reference {ref!r} ± {spec['tol']:.2g} (off by {dev:.2g}; "
                    f"tolerance: {spec['why']})"
                )
        else:
            problems.append(f"{key}: unknown check {kind!r} in the reference")
    for key in got:
        if key not in reference["quantities"] and declared.free_reason(key) is None:
            problems.append(f"{key}: {got[key]!r} is not in the reference")
    return problems


def describe(reference: Mapping[str, Any]) -> dict[str, int]:
    """How many quantities of each kind a reference holds (for messages and the README)."""
    counts: dict[str, int] = {}
    for spec in reference["quantities"].values():
        counts[spec["check"]] = counts.get(spec["check"], 0) + 1
    return counts
