"""Compare a chapter's published results with a re-run on other seeds, claim by claim.

``python -m fasttrain.book verify --chapter NN`` re-runs a chapter with a disjoint set of seeds (and
fresh timing rounds) and hands both results files (:mod:`fasttrain.core.results`) to :func:`compare`,
which gives one row per claim: the two verdicts and shown values, whether the verdicts agree and
whether the two ranges overlap.  A claim's range is its ``interval`` if it has one, else
``[min(values), max(values)]`` of its raw values (seeds or timing rounds), else there is none and
``overlap`` is ``None`` ("no interval").  :func:`summarize` puts the rows in one line;
:func:`table` and :func:`markdown` lay them out for the terminal and for a Markdown page.

A row's ``bound`` says that at least one side's values are not all measurements but bounds: a
method that never reached its target within its budget, whose seed then counts as a lower bound
(or is left out).  The detection (:data:`BOUND_PATTERNS`) is conservative: it matches only the
wording the chapters' rules write when that happens, and ignores words such as "bound", "never" or
"not reached" on their own, which the published reasons also use for other things (a paper's
theoretical upper bound, a data set that is never downloaded, the legend of a table of iterations).
"""

from __future__ import annotations

import math
import re
from typing import Any

#: the phrases of a claim's ``reason`` or ``how`` that say some of its values are bounds, not
#: measurements (case-insensitive), with the chapters' wording they match:
#:
#: * "never reached" / "never reaches": "(2 seed(s) a lower bound: Adam never reached the target)",
#:   "LSGD never reached the target" (chapter 04);
#: * "no seed reached": the ``how`` of a placeholder measurement, "no seed reached the target";
#: * "missed the target": "LSGD missed the target in 1 seed(s)" (those seeds are left out);
#: * "<n> seed(s) a lower/upper bound": a seed's value stands for a bound.
#:
#: Not matched, on purpose: "a miss counted as 11" (chapter 02 prints the convention whether or not
#: a point was missed), "not reached" (also the legend "None: not reached in 15" of chapter 04's
#: iteration counts and a rejected learning rate of chapter 01), "never" alone ("it never
#: downloads") and "upper bound" alone ("the bound's λ⁻² is an upper bound", about the paper).
BOUND_PATTERNS: tuple[str, ...] = (
    r"\bnever reach(?:ed|es)?\b",
    r"\bno seeds? reached\b",
    r"\bmiss(?:ed|es) (?:the|its) target\b",
    r"\bseeds?(?:\(s\))?,? (?:is |are |as )?(?:an? )?(?:lower|upper) bounds?\b",
)
_BOUND = re.compile("|".join(BOUND_PATTERNS), re.IGNORECASE)

NOT_TESTABLE = "not testable here"
#: the ``only`` field of a row whose claim id is in one file only
PUBLISHED, RERUN = "published", "re-run"


def says_bound(claim: dict[str, Any] | None) -> bool:
    """Whether the claim's ``reason`` or ``how`` says some of its values are bounds (:data:`BOUND_PATTERNS`)."""
    if not claim:
        return False
    text = " ".join(str(claim.get(k) or "") for k in ("reason", "how"))
    return _BOUND.search(text) is not None


def claim_range(claim: dict[str, Any] | None) -> list[float] | None:
    """``interval`` if present, else ``[min(values), max(values)]`` of the finite values, else ``None``."""
    if not claim:
        return None
    iv = claim.get("interval")
    if iv is not None and len(iv) == 2 and all(_finite(v) for v in iv):
        lo, hi = float(iv[0]), float(iv[1])
        return [min(lo, hi), max(lo, hi)]
    values = [float(v) for v in claim.get("values") or [] if _finite(v)]
    return [min(values), max(values)] if values else None


def shown(value: Any) -> str:
    """A claim's ``reproduced_value`` as text: 3 significant digits for floats, "–" for none."""
    if value is None:
        return "–"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.3g}"
    return " ".join(str(value).split())


def compare(published: dict[str, Any], rerun: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per claim id of two results dicts of the same chapter: published first, then the re-run's own.

    Each row: ``id``, ``kind``, ``only`` (``None``, or ``"published"`` / ``"re-run"`` for an id in one
    file only), ``published_verdict`` / ``rerun_verdict`` (``None`` when absent), ``published_value``
    / ``rerun_value`` (the shown value as text), ``published_range`` / ``rerun_range``
    (:func:`claim_range`), ``same_verdict``, ``overlap`` (``True``/``False``, ``None``: a side has
    no range, or both are "not testable here") and ``bound`` with ``bound_in`` (the sides whose text
    says their values are bounds, :func:`says_bound`).
    """
    pub = {c["id"]: c for c in published.get("claims", [])}
    new = {c["id"]: c for c in rerun.get("claims", [])}
    ids = list(pub) + [i for i in new if i not in pub]
    rows = []
    for cid in ids:
        a, b = pub.get(cid), new.get(cid)
        ra, rb = claim_range(a), claim_range(b)
        va, vb = (a or {}).get("verdict"), (b or {}).get("verdict")
        if a is None or b is None or (va == NOT_TESTABLE and vb == NOT_TESTABLE):
            overlap = None
        elif ra is None or rb is None:
            overlap = None
        else:
            overlap = ra[0] <= rb[1] and rb[0] <= ra[1]
        bound_in = [side for side, c in ((PUBLISHED, a), (RERUN, b)) if says_bound(c)]
        rows.append(
            {
                "id": cid,
                "kind": (a or b).get("kind"),
                "only": PUBLISHED if b is None else RERUN if a is None else None,
                "published_verdict": va,
                "published_value": shown(a["reproduced_value"]) if a else "–",
                "published_range": ra,
                "rerun_verdict": vb,
                "rerun_value": shown(b["reproduced_value"]) if b else "–",
                "rerun_range": rb,
                "same_verdict": a is not None and b is not None and va == vb,
                "overlap": overlap,
                "bound": bool(bound_in),
                "bound_in": bound_in,
            }
        )
    return rows


def summarize(rows: list[dict[str, Any]], seeds: str = "") -> str:
    """One line: "re-run with seeds S: N of M verdicts identical; moved: id (a → b), ...".

    ``seeds`` describes the re-run's seeds (omitted when empty); ids in one file only, disjoint
    ranges and bounds are named after the moved verdicts when there are any.
    """
    both = [r for r in rows if r["only"] is None]
    same = sum(r["same_verdict"] for r in rows)
    moved = [
        f"{r['id']} ({r['published_verdict']} → {r['rerun_verdict']})"
        for r in both
        if not r["same_verdict"]
    ]
    head = f"re-run with seeds {seeds}" if seeds else "re-run"
    parts = [
        f"{head}: {same} of {len(rows)} verdicts identical",
        f"moved: {', '.join(moved) or 'none'}",
    ]
    for label, ids in (
        ("only published", [r["id"] for r in rows if r["only"] == PUBLISHED]),
        ("only in the re-run", [r["id"] for r in rows if r["only"] == RERUN]),
        ("disjoint ranges", [r["id"] for r in rows if r["overlap"] is False]),
        ("values are bounds", [r["id"] for r in rows if r["bound"]]),
    ):
        if ids:
            parts.append(f"{label}: {', '.join(ids)}")
    return "; ".join(parts)


def _overlap_text(row: dict[str, Any]) -> str:
    return {True: "yes", False: "no", None: "no interval"}[row["overlap"]]


def _note(row: dict[str, Any]) -> str:
    notes = []
    if row["only"] is not None:
        notes.append(f"only {row['only']}")
    if row["bound"]:
        notes.append(f"values are bounds ({', '.join(row['bound_in'])})")
    return "; ".join(notes)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


#: widest shown value in the terminal table (longer ones end in "…"; the Markdown table has them whole)
VALUE_WIDTH = 24


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a fixed-width text table: one line per claim."""
    header = (
        "claim",
        "kind",
        "published",
        "value",
        "re-run",
        "value",
        "same",
        "overlap",
        "note",
    )
    lines = [
        (
            r["id"],
            r["kind"] or "–",
            r["published_verdict"] or "–",
            _cut(r["published_value"], VALUE_WIDTH),
            r["rerun_verdict"] or "–",
            _cut(r["rerun_value"], VALUE_WIDTH),
            "yes" if r["same_verdict"] else "no",
            _overlap_text(r),
            _note(r),
        )
        for r in rows
    ]
    widths = [max(len(x[k]) for x in [header, *lines]) for k in range(len(header))]
    out = []
    for cells in [header, tuple("-" * w for w in widths), *lines]:
        out.append("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())
    return "\n".join(out)


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(rows: list[dict[str, Any]], summary: str = "") -> str:
    """The rows as a Markdown table (whole shown values), after the summary line if given."""
    out = [summary, ""] if summary else []
    out += [
        "| claim | kind | published | re-run | same verdict | ranges overlap | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        pub = f"{r['published_verdict'] or '–'}: {r['published_value']}"
        new = f"{r['rerun_verdict'] or '–'}: {r['rerun_value']}"
        cells = [
            f"`{r['id']}`",
            r["kind"] or "–",
            pub,
            new,
            "yes" if r["same_verdict"] else "**no**",
            _overlap_text(r),
            _note(r),
        ]
        out.append("| " + " | ".join(_md(c) for c in cells) + " |")
    return "\n".join(out) + "\n"


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
