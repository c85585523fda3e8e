"""Chapter 01: the previous edition's published results and the verdicts that moved."""

from __future__ import annotations

from pathlib import Path

#: the published results of the previous edition (the repository's ``book/results``)
PUBLISHED = Path(__file__).resolve().parents[4] / "book" / "results"


def moved_verdicts(recorded, previous: dict | None) -> str:
    """Markdown: each recorded claim whose verdict differs from the ``previous`` edition's results
    (a loaded results file, or ``None`` when there is none), "old → new", and the claims new in
    this edition; "none" when nothing moved."""
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
