"""Machine-readable chapter results: claims, verdicts and the run's context.

Every chapter builds one :class:`ChapterResults`, adds a :class:`Claim` per
quantitative claim of its paper, shows :meth:`ChapterResults.table` and
calls :meth:`ChapterResults.write`, which stores
``<results dir>/NN-<name>.json``.  The results directory is
``$FASTTRAIN_RESULTS_DIR`` when set (the book runner sets it), else
``results/`` under the current directory.  The book's summary page is
generated from these files by :mod:`fasttrain.book`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from .claims import KINDS, VERDICTS, ClaimSpec, Measurement, Unavailable
from .scales import check_scale

#: packages whose versions every results file records
TRACKED_PACKAGES: tuple[str, ...] = (
    "fasttrain",
    "jax",
    "jaxlib",
    "numpy",
    "scipy",
    "optax",
    "matplotlib",
    "papermill",
)

#: 2: every claim carries kind, rule, values and interval (the evidence standard); 1: before that
SCHEMA_VERSION = 2


@dataclass(frozen=True)
class Claim:
    """One claim of a paper next to its reproduction, as stored in the results file.

    ``paper_value`` and ``reproduced_value`` are numbers, strings (for qualitative claims) or
    ``None`` (not measured); ``tolerance`` is the rule in words; ``rule`` its name; ``values`` the raw
    per-seed or per-round numbers; ``interval`` ``[lo, hi]`` or ``None`` (exact, or a single run);
    ``how`` says which (:class:`fasttrain.core.claims.Measurement`).
    """

    id: str
    claim: str
    paper_value: Any
    reproduced_value: Any
    unit: str
    tolerance: str
    verdict: str
    reason: str
    kind: str | None = None
    rule: str | None = None
    where: str = ""
    paper_words: str = ""
    values: list | None = None
    interval: list | None = None
    how: str = ""

    def __repr__(self) -> str:
        return f"<claim {self.id}: {self.verdict}>"

    def _repr_markdown_(self) -> str:
        """How a recorded claim shows in a notebook: one line with its verdict, not a dataclass repr."""
        kind = f" ({self.kind})" if self.kind else ""
        return f"**{self.id}**{kind}: *{self.verdict}* — {self.reason}"

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(
                f"claim {self.id!r}: verdict {self.verdict!r} is not one of {VERDICTS}"
            )
        if self.kind is not None and self.kind not in KINDS:
            raise ValueError(f"claim {self.id!r}: kind {self.kind!r} is not one of {KINDS}")
        if not self.id or not self.claim:
            raise ValueError("a claim needs an id and its text")
        for name in ("paper_value", "reproduced_value"):
            v = getattr(self, name)
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(
                    f"claim {self.id!r}: {name} is {v}; use None (not measured) and say why in the reason"
                )


def machine_info() -> dict[str, Any]:
    """CPU model, core count, memory and platform of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = None
    try:
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def package_versions(names=TRACKED_PACKAGES) -> dict[str, str | None]:
    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = None
    return out


def results_dir() -> Path:
    """Where results files go: ``$FASTTRAIN_RESULTS_DIR`` or ``./results``."""
    return Path(os.environ.get("FASTTRAIN_RESULTS_DIR", "results"))


@dataclass(frozen=True)
class Evidence:
    """What :meth:`ChapterResults.record_all` hands a claim's rule: the ``measured`` value (a
    :class:`~fasttrain.core.claims.Measurement`, an :class:`~fasttrain.core.claims.Unavailable`, or
    whatever the rule takes), the value the table ``shown``, a ``reason`` appended to the rule's, and
    the rule's keyword ``context``."""

    measured: Any
    shown: Any = None
    reason: str = ""
    context: Mapping[str, Any] = field(default_factory=dict)


def evidence_map(
    parts, out: Mapping[str, Any], cfg, declared: Mapping[str, Any], chapter: str
) -> dict:
    """A chapter's evidence map: the entries every section function of ``parts`` returns for
    ``(out, cfg)``, merged into ``{claim id: Evidence | Measurement | Unavailable}``.

    Raises ``ValueError`` naming the claims two sections both decide, the ``declared`` claims no
    section decides, and the undeclared ones, before any verdict is recorded (each chapter's
    ``evidence(out, cfg)`` is this over its own ``PARTS`` and ``CLAIMS``)."""
    ev: dict = {}
    twice = []
    for part in parts:
        got = part(out, cfg)
        twice += [k for k in got if k in ev]
        ev.update(got)
    missing = [k for k in declared if k not in ev]
    extra = [k for k in ev if k not in declared]
    problems = [
        f"{what}: {', '.join(ks)}"
        for what, ks in (("decided twice", twice), ("no evidence", missing), ("undeclared", extra))
        if ks
    ]
    if problems:
        raise ValueError(
            f"chapter {chapter}'s evidence map is inconsistent: " + "; ".join(problems)
        )
    return ev


@dataclass
class ChapterResults:
    """Collects a chapter's claims and writes its results file.

    Create it at the top of a chapter: the wall time runs from creation
    to :meth:`write`.  With ``declared`` (the chapter's ``{id: ClaimSpec}``), only declared claims
    can be recorded, and :meth:`write` refuses to write while any declared claim is unrecorded,
    naming each: a claim cannot silently go missing.
    """

    chapter: str
    name: str
    scale: str
    seed: int
    title: str = ""
    claims: list[Claim] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    declared: Mapping[str, ClaimSpec] | None = field(default=None, repr=False)
    _t0: float = field(default_factory=time.perf_counter, repr=False)

    def __post_init__(self):
        check_scale(self.scale)
        if not (len(self.chapter) == 2 and self.chapter.isdigit()):
            raise ValueError(f"chapter must be two digits like '01', got {self.chapter!r}")

    def record(
        self,
        spec: ClaimSpec,
        measured: Measurement | Any,
        *,
        shown: Any = None,
        reason: str = "",
        **context,
    ) -> Claim:
        """Apply ``spec``'s rule to ``measured`` and record the claim with its verdict.

        ``measured`` is a :class:`~fasttrain.core.claims.Measurement` (its raw values and interval are
        stored) or, for rules over several numbers, whatever the rule takes (``values`` then lists
        the numbers of ``shown``, if any); ``shown`` is the value the claims table displays (default:
        the measurement's centre); ``reason`` is appended to the rule's own; ``context`` goes to the
        rule.  The verdict comes from the rule only.
        """
        verdict, why = spec.rule(measured, **context)
        if isinstance(measured, Unavailable):
            values, interval, how = [], None, "not measured"
        elif isinstance(measured, Measurement):
            values, interval, how = list(measured.values), measured.interval, measured.how
            if measured.limited:
                how = f"{how}; {measured.limited}"
            shown = measured.text() if shown is None and measured.interval is not None else shown
            shown = measured.center if shown is None else shown
        else:
            values, interval, how = getattr(measured, "values", None), None, "see the reason"
            if callable(values):  # a mapping: its numeric values
                values = values()
            values = [v for v in values if _is_number(v)] if values is not None else []
        return self._append(
            spec, shown, verdict, "; ".join(x for x in (why, reason) if x), values, interval, how
        )

    def not_testable(self, spec: ClaimSpec, reason: str, shown: Any = None) -> Claim:
        """Record ``spec`` as "not testable here" through its rule, with the reason (what is missing
        on this machine): the rule must declare that precondition (an example of the verdict),
        else this raises."""
        if not reason:
            raise ValueError(f"claim {spec.id!r}: say why it is not testable here")
        return self.record(spec, Unavailable(reason), shown=shown)

    def record_all(self, evidence: Mapping[str, Any]) -> list[Claim]:
        """Record every claim of ``evidence`` (``{claim id: Evidence | Measurement | Unavailable}``)
        through its declared rule, in the declared order; refuse ids that are not declared before
        recording anything.  Needs ``declared``."""
        if self.declared is None:
            raise ValueError("record_all needs ChapterResults(declared=...): the chapter's claims")
        unknown = [k for k in evidence if k not in self.declared]
        if unknown:
            raise ValueError(f"evidence for undeclared claims: {', '.join(unknown)}")
        out = []
        for cid, spec in self.declared.items():
            if cid not in evidence:
                continue
            ev = evidence[cid]
            if not isinstance(ev, Evidence):
                ev = Evidence(ev)
            out.append(
                self.record(spec, ev.measured, shown=ev.shown, reason=ev.reason, **ev.context)
            )
        return out

    def missing(self) -> list[str]:
        """Declared claim ids not recorded yet (empty without ``declared``)."""
        have = {c.id for c in self.claims}
        return [k for k in (self.declared or {}) if k not in have]

    def _append(self, spec, shown, verdict, reason, values, interval, how) -> Claim:
        if any(c.id == spec.id for c in self.claims):
            raise ValueError(f"duplicate claim id {spec.id!r}")
        if self.declared is not None and self.declared.get(spec.id) is not spec:
            raise ValueError(
                f"claim {spec.id!r} is not one of this chapter's declared claims"
                + (" (a different spec with that id)" if spec.id in self.declared else "")
            )
        c = Claim(
            id=spec.id,
            claim=spec.claim,
            paper_value=_plain(spec.paper_value, keep_nan=True),
            reproduced_value=_plain(shown, keep_nan=True),
            unit=spec.unit,
            tolerance=spec.rule.words,
            verdict=verdict,
            reason=reason,
            kind=spec.kind,
            rule=spec.rule.name,
            where=spec.where,
            paper_words=spec.paper_words,
            values=[float(v) for v in _plain(values)] if values else [],
            interval=[float(v) for v in interval] if interval is not None else None,
            how=how,
        )
        self.claims.append(c)
        return c

    def elapsed(self) -> float:
        """Seconds since this results object was created (the chapter's wall time so far)."""
        return time.perf_counter() - self._t0

    def glance(self) -> str:
        """The chapter's verdict counts by kind, in words, for its "at a glance" box (markdown)."""
        titles = {
            "paper": "The paper's claims",
            "book-goal": "The book's goals",
            "analysis": "Our analyses",
        }
        parts = []
        for kind in KINDS:
            mine = [c.verdict for c in self.claims if c.kind == kind]
            if mine:
                counts = ", ".join(f"{mine.count(v)} {v}" for v in VERDICTS if v in mine)
                parts.append(f"**{titles[kind]}** ({len(mine)}): {counts}.")
        return " ".join(parts) or "No claims recorded."

    @property
    def filename(self) -> str:
        return f"{self.chapter}-{self.name}.json"

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "chapter": self.chapter,
            "name": self.name,
            "title": self.title,
            "scale": self.scale,
            "seed": self.seed,
            "wall_time_s": round(time.perf_counter() - self._t0, 1),
            "machine": machine_info(),
            "versions": package_versions(),
            "claims": [dataclasses.asdict(c) for c in self.claims],
            "extra": _plain(self.extra),
        }

    def write(self, directory: str | os.PathLike | None = None) -> Path:
        """Write the results JSON atomically and return its path; refuse (naming them) while any
        declared claim is unrecorded."""
        gap = self.missing()
        if gap:
            raise ValueError(
                f"chapter {self.chapter}: declared claims not recorded: {', '.join(gap)} "
                "(record each, as 'not testable here' through its rule where it cannot be measured)"
            )
        d = Path(directory) if directory is not None else results_dir()
        d.mkdir(parents=True, exist_ok=True)
        path = d / self.filename
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(
            json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n", encoding="utf-8"
        )
        os.replace(tmp, path)
        return path

    def table(self):
        """The claims as a pandas DataFrame, for display in the chapter."""
        return claims_frame([dataclasses.asdict(c) for c in self.claims])


def claims_frame(claims: list[dict[str, Any]]):
    import pandas as pd

    from .tables import DEFAULT_DIGITS, _format

    fmt = _format(DEFAULT_DIGITS)
    cols = ["id", "kind", "claim", "paper_value", "reproduced_value", "unit", "verdict", "reason"]
    rows = [{k: c.get(k) for k in cols} for c in claims]
    for row in rows:  # numbers as text: integers as integers, 3 significant digits, "–" for none
        for k in ("paper_value", "reproduced_value"):
            row[k] = fmt(row[k])
    df = pd.DataFrame(rows, columns=cols)
    return df.rename(
        columns={
            "id": "claim id",
            "paper_value": "paper",
            "reproduced_value": "this book",
        }
    )


def load(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate a results file; raise ``ValueError`` if it is malformed."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read results file {path}: {exc}") from exc
    required = {"chapter", "name", "scale", "seed", "wall_time_s", "machine", "versions", "claims"}
    missing = required - set(data)
    if missing:
        raise ValueError(f"results file {path} lacks keys {sorted(missing)}")
    for c in data["claims"]:
        Claim(**c)  # validates the verdict and the kind
        if data.get("schema", 1) >= 2:
            lacking = [
                k
                for k in ("kind", "rule", "values", "interval")
                if c.get(k, "") in ("", None) and not (k == "interval")
            ]
            if lacking or "interval" not in c:
                raise ValueError(
                    f"results file {path}: claim {c.get('id')!r} lacks {lacking or ['interval']}"
                )
    return data


def _plain(x, keep_nan: bool = False):
    """Convert numpy/jax scalars and arrays to plain JSON types (non-finite -> None unless kept)."""
    if isinstance(x, dict):
        return {str(k): _plain(v, keep_nan) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v, keep_nan) for v in x]
    if hasattr(x, "tolist") and not isinstance(x, (str, bytes)):
        return _plain(x.tolist(), keep_nan)
    if isinstance(x, float) and not math.isfinite(x) and not keep_nan:
        return None
    return x


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


#: the published book's results files (the repository's ``book/results``), the previous edition's
PUBLISHED_DIR = Path(__file__).resolve().parents[3] / "book" / "results"


def previous_edition(chapter: str, name: str) -> dict[str, Any] | None:
    """The previous edition's published results of chapter ``NN-name`` (loaded and validated), or
    ``None`` when the book has none yet."""
    path = PUBLISHED_DIR / f"{chapter}-{name}.json"
    return load(path) if path.exists() else None


def moved_verdicts(recorded, previous: Mapping[str, Any] | None) -> str:
    """Markdown: each recorded claim whose verdict differs from the ``previous`` edition's results
    (a loaded results file, or ``None`` when there is none), "old → new", the claims new in this
    edition and those no longer declared; "none." when nothing moved."""
    if previous is None:
        return "no previous results file to compare with."
    old = {c["id"]: c["verdict"] for c in previous.get("claims", [])}
    moved, new = [], []
    for c in recorded:
        if c.id not in old:
            new.append(f"`{c.id}` (new claim: *{c.verdict}*)")
        elif old[c.id] != c.verdict:
            moved.append(f"`{c.id}`: *{old[c.id]}* → *{c.verdict}*")
    gone = [f"`{k}` (no longer declared)" for k in old if k not in {c.id for c in recorded}]
    parts = moved + new + gone
    return ("; ".join(parts) + ".") if parts else "none."
