"""The book's summary page, generated from the chapters' results files.

At the top, two figures to take in at a glance: the verdicts per chapter (the papers' claims apart from the
book's goals and analyses) and "paper against ours", every claim with a number on both sides as the ratio
measured / paper on a log axis with its interval, coloured by verdict.  Below, one compact table per
chapter: claim, paper, ours, a coloured verdict badge and a link to the chapter; the reasons sit in a
collapsible block under each table.  The headline counts the papers' claims only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from .claims import KINDS, VERDICTS
from .results import load

#: sphinx-design badge per verdict (the word is always written out, so colour is never the only cue)
BADGES = {
    "reproduced": "bdg-success",
    "partly": "bdg-warning",
    "not reproduced": "bdg-danger",
    "inconclusive": "bdg-info",
    "not testable here": "bdg-light",
}

#: Okabe-Ito colours per verdict for the figures (colour-blind safe)
VERDICT_COLORS = {
    "reproduced": "#009E73",
    "partly": "#E69F00",
    "not reproduced": "#D55E00",
    "inconclusive": "#56B4E9",
    "not testable here": "#999999",
}

#: HTML class of the claims tables: _static/custom.css keeps their short "kind" column from breaking inside
#: a word (the book's tables otherwise wrap anywhere, so that they fit a narrow screen)
TABLE_CLASS = "claims-table"

KIND_TITLES = {
    "paper": "the papers' claims",
    "book-goal": "the book's goals",
    "analysis": "our analyses",
}


def _cell(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v).replace("|", "\\|").replace("\n", " ")


def _ours(c: dict[str, Any]) -> str:
    shown = c.get("reproduced_value")
    if isinstance(shown, str):
        return _cell(shown)
    if c.get("interval") and shown is not None:
        lo, hi = c["interval"]
        return f"{shown:.3g} [{lo:.3g}, {hi:.3g}]"
    return _cell(shown)


def _kind(c: dict[str, Any]) -> str:
    return c.get("kind") or "unclassified"


def _counts(results: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in results:
        for c in r["claims"]:
            k = _kind(c)
            out.setdefault(k, {v: 0 for v in VERDICTS})
            out[k][c["verdict"]] = out[k].get(c["verdict"], 0) + 1
    return out


_NUM = r"(-?[\d.]+(?:e[-+]?\d+)?)"
_SHOWN = re.compile(rf"^\s*{_NUM}(?:x|×)?(?:\s*±\s*[\d.e+-]+)?(?:\s*\[{_NUM},\s*{_NUM}\])?\s*$")


def _shown_number(c: dict[str, Any]) -> tuple[float, tuple[float, float] | None] | None:
    """The number the claims table shows as "ours" (and its interval), if it is one number.

    "Ours" is what the chapter set against the paper's value; the rule may decide on a derived
    quantity (a gap, a ratio), so the raw values are not used here.
    """
    shown = c.get("reproduced_value")
    if isinstance(shown, (int, float)) and not isinstance(shown, bool):
        return float(shown), tuple(c["interval"]) if c.get("interval") else None
    m = _SHOWN.match(shown) if isinstance(shown, str) else None
    if m is None:
        return None  # words, or several numbers: no single measured value
    iv = (float(m.group(2)), float(m.group(3))) if m.group(2) else None
    return float(m.group(1)), iv


def _ratio_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The papers' claims with a positive number on both sides: ratio measured / paper, with interval."""
    rows = []
    for r in results:
        for c in r["claims"]:
            if _kind(c) not in ("paper", "unclassified"):
                continue  # a book goal's "paper value" is this book's own bar
            p, got = c.get("paper_value"), _shown_number(c)
            if not isinstance(p, (int, float)) or isinstance(p, bool) or got is None:
                continue
            m, iv = got
            if p <= 0 or m <= 0:
                continue
            lo, hi = (iv[0] / p, iv[1] / p) if iv and iv[0] > 0 else (m / p, m / p)
            rows.append(
                {"label": f"{r['chapter']} {c['id']}", "ratio": m / p, "lo": lo, "hi": hi,
                 "verdict": c["verdict"], "kind": _kind(c)}
            )  # fmt: skip
    return rows


def _figures(results: list[dict[str, Any]], folder: Path) -> list[str]:
    """Draw the two summary figures into ``folder``; return the markdown that shows them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plotting import use_style

    use_style()
    md: list[str] = []
    chapters = [r["chapter"] for r in results]
    kinds = [
        k
        for k in (*KINDS, "unclassified")
        if any(_kind(c) == k for r in results for c in r["claims"])
    ]
    fig, axes = plt.subplots(
        1,
        len(kinds),
        figsize=(4.2 * len(kinds), 0.5 + 0.55 * len(chapters)),
        sharey=True,
        squeeze=False,
    )
    for ax, kind in zip(axes[0], kinds):
        left = [0] * len(chapters)
        for verdict in VERDICTS:
            n = [
                sum(1 for c in r["claims"] if _kind(c) == kind and c["verdict"] == verdict)
                for r in results
            ]
            ax.barh(chapters, n, left=left, color=VERDICT_COLORS[verdict], label=verdict)
            left = [a + b for a, b in zip(left, n)]
        ax.set_title(KIND_TITLES.get(kind, kind))
        ax.set_xlabel("claims")
        ax.invert_yaxis()
    axes[0][0].set_ylabel("chapter")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="upper center", ncol=3, bbox_to_anchor=(0.5, 0.0), frameon=False
    )
    fig.savefig(folder / "summary-verdicts.png", bbox_inches="tight")
    plt.close(fig)
    md += [
        "```{figure} summary-verdicts.png",
        ":name: fig-summary-verdicts",
        ":width: 100%",
        "",
        "Verdicts per chapter: the papers' own claims (left) apart from the goals this book set itself and our "
        "own analyses. Green is reproduced, orange partly, red not reproduced, blue inconclusive, grey not "
        "testable on this machine.",
        "```",
        "",
    ]
    rows = _ratio_rows(results)
    if rows:
        fig, ax = plt.subplots(figsize=(7.5, 0.6 + 0.26 * len(rows)))
        for i, row in enumerate(rows):
            col = VERDICT_COLORS[row["verdict"]]
            err = [[row["ratio"] - row["lo"]], [row["hi"] - row["ratio"]]]
            ax.errorbar(row["ratio"], i, xerr=err, fmt="o", color=col, ecolor=col, capsize=2, ms=5)
        ax.axvline(1.0, color="black", lw=0.8)
        ax.set_xscale("log")
        ax.set_yticks(range(len(rows)), [r["label"] for r in rows], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("measured / paper's value (log scale; 1 = the paper's number)")
        lo = min(r["lo"] for r in rows)
        hi = max(r["hi"] for r in rows)
        ax.set_xlim(min(0.5, lo / 1.5), max(2.0, hi * 1.5))
        fig.savefig(folder / "summary-paper-vs-ours.png", bbox_inches="tight")
        plt.close(fig)
        md += [
            "```{figure} summary-paper-vs-ours.png",
            ":name: fig-summary-ratio",
            ":width: 100%",
            "",
            "Paper against ours: each of the papers' claims with a number on both sides, as the ratio of this "
            "book's measurement to the paper's value (log axis; the bar is the claim's interval where it has one), "
            "coloured by verdict. Whether a ratio far from 1 fails depends on the claim's rule (a bound, "
            "not a match, for some).",
            "```",
            "",
        ]
    return md


def rerun_checks(book: Path, files: list[Path]) -> dict[str, dict[str, Any]]:
    """The published re-run checks (``book/verify/verify-NN.json``, written by ``python -m
    fasttrain.book verify --publish``) per chapter, each with ``current``: whether it was compared
    with the results file published now (the SHA-256 it recorded matches), else it checked an
    earlier edition and the page shows it labelled as the previous edition's check."""
    digests = {f.name[:2]: hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
    out = {}
    for path in sorted((book / "verify").glob("verify-[0-9][0-9].json")):
        report = json.loads(path.read_text(encoding="utf-8"))
        ch = str(report.get("chapter"))
        report["current"] = report.get("published_sha256") == digests.get(ch)
        out[ch] = report
    return out


def _rerun_lines(report: dict[str, Any] | None) -> list[str]:
    if report is None:
        return [
            "*Re-run check:* none yet (`python -m fasttrain.book verify --chapter NN --publish` re-runs "
            "the chapter on disjoint seeds and compares every verdict).",
            "",
        ]
    rows = report["rows"]
    moved = [r for r in rows if r["only"] is None and not r["same_verdict"]]
    if report["current"]:
        lines = [
            f"*Re-run check* (a second book-scale run on disjoint seeds, fresh timing rounds): "
            f"{_cell(report['summary'])}.",
            "",
        ]
    else:  # the chapter was republished since: the check describes the edition before this one
        lines = [
            "*Re-run check of the previous edition* (made against an earlier edition of this chapter, "
            "not the verdicts above; it is repeated after each republication): "
            f"{_cell(report['summary'])}.",
            "",
        ]
    if moved:
        lines += [
            "A verdict that moves between two honest runs is itself a finding: those claims' evidence is "
            "not yet decisive at this scale.",
            "",
        ]
    lines += ["```{dropdown} The re-run check, claim by claim", ""]
    for r in rows:
        same = "same verdict" if r["same_verdict"] else "**moved**"
        overlap = {True: "ranges overlap", False: "ranges disjoint", None: "no interval"}[
            r["overlap"]
        ]
        lines.append(
            f"- **{r['id']}**: {r['published_verdict'] or '–'} ({_cell(r['published_value'])}) → "
            f"{r['rerun_verdict'] or '–'} ({_cell(r['rerun_value'])}); {same}, {overlap}"
            + ("; values are bounds" if r.get("bound") else "")
        )
    return [*lines, "```", ""]


def write_summary(book: Path, where: str | None = None) -> Path:
    """Regenerate ``book/summary.md`` (and its two figures) from ``book/results/*.json`` and the
    re-run checks of ``book/verify/`` (:func:`rerun_checks`)."""
    files = sorted((book / "results").glob("[0-9][0-9]-*.json"))
    results = [load(f) for f in files]
    checks = rerun_checks(book, files)
    where = where or str(book)
    lines = [
        "# Summary of claims",
        "",
        "Every claim of the four papers, the goals this book set itself and our own analyses: the value the "
        "paper gives, the value this book measured (with its interval where it has one) and the verdict "
        "(defined in {ref}`verdicts`). This page is generated by `python -m fasttrain.book summary` from the "
        f"chapters' results files (`{where}/results/*.json`); each chapter explains its verdicts.",
        "",
    ]
    if not results:
        lines.append("No chapter has been run yet: `make book`.")
    else:
        counts = _counts(results)
        paper = counts.get("paper")
        if paper:
            lines.append(
                "**The papers' claims:** "
                + ", ".join(f"{n} {v}" for v, n in paper.items() if n)
                + f" (of {sum(paper.values())})."
            )
        rest = [
            f"{KIND_TITLES.get(k, k)}: " + ", ".join(f"{n} {v}" for v, n in c.items() if n)
            for k, c in counts.items()
            if k != "paper"
        ]
        if rest:
            lines.append("Counted apart: " + "; ".join(rest) + ".")
        lines.append("")
        lines += _figures(results, book)
    for r in results:
        v = r["versions"]
        title = r.get("title") or r["name"]
        page = f"{r['chapter']}-{r['name']}"
        lines += [
            f"## Chapter {r['chapter']}: {title}",
            "",
            f"{{doc}}`Read the chapter <{page}>`. *Run at scale* `{r['scale']}`, *seed* {r['seed']}, "
            f"*wall time* {r['wall_time_s']:.0f} s on {r['machine']['cpu']} ({r['machine']['cores']} cores); "
            f"jax {v.get('jax')}, numpy {v.get('numpy')}, scipy {v.get('scipy')}, optax {v.get('optax')}.",
            "",
            "```{table}",
            f":class: {TABLE_CLASS}",
            "",
            "| claim | kind | paper | ours | verdict |",
            "|---|---|---|---|---|",
        ]
        for c in r["claims"]:
            badge = f"{{{BADGES[c['verdict']]}}}`{c['verdict']}`"
            lines.append(
                f"| {_cell(c['claim'])} | {_kind(c)} | {_cell(c['paper_value'])} | {_ours(c)} | {badge} |"
            )
        lines += ["```", "", "```{dropdown} Why each verdict", ""]
        for c in r["claims"]:
            how = f" ({c['how']})" if c.get("how") else ""
            lines.append(f"- **{c['id']}** — {c['verdict']}{how}: {_cell(c['reason'])}")
        lines += ["```", ""]
        lines += _rerun_lines(checks.get(r["chapter"]))
    path = book / "summary.md"
    tmp = book / ".summary.md.tmp"
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
