"""Execute the chapter notebooks with papermill and publish them into ``book/``.

Usage::

    python -m fasttrain.book run --scale book              # every chapter
    python -m fasttrain.book run --scale smoke --chapter 01 -p seed=1
    python -m fasttrain.book fixtures --chapter 01         # refresh nbval fixtures
    python -m fasttrain.book summary                       # rebuild book/summary.md
    python -m fasttrain.book prose --chapter 02            # copy edited narrative into book/

``run`` executes ``notebooks/NN-*.ipynb`` into ``book/NN-*.ipynb``.  It
rejects unknown scales and parameter names (papermill itself only warns),
fails loudly when a chapter raises, and never publishes a failed notebook
over a good one: execution writes to a temporary file that replaces the
published chapter only on success, together with the chapter's results
file ``book/results/NN-<name>.json``.  Afterwards the claims summary page
is regenerated from every results file.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .core.scales import SCALES, check_scale

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
BOOK = ROOT / "book"

#: environment for chapter kernels: CPU JAX without platform warnings
KERNEL_ENV = {"JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}


class ChapterError(RuntimeError):
    """A chapter could not be run (unknown chapter or parameter, or it raised)."""


def chapters(notebooks: Path = NOTEBOOKS) -> dict[str, Path]:
    """Chapter number -> source notebook, from ``notebooks/NN-*.ipynb``."""
    out = {}
    for p in sorted(notebooks.glob("[0-9][0-9]-*.ipynb")):
        out[p.name[:2]] = p
    return out


def notebook_parameters(path: Path) -> dict[str, object]:
    """Names and default values of the notebook's ``parameters`` cell."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    cells = [
        c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])
    ]
    if len(cells) != 1:
        raise ChapterError(
            f"{path.name} needs exactly one cell tagged 'parameters', found {len(cells)}"
        )
    params = {}
    for node in ast.parse(cells[0].source).body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            params[node.targets[0].id] = ast.literal_eval(node.value)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            params[node.target.id] = ast.literal_eval(node.value)
    return params


def check_parameters(path: Path, params: dict[str, object]) -> dict[str, object]:
    """Reject unknown parameter names, unknown scales and values of the wrong type."""
    known = notebook_parameters(path)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ChapterError(
            f"unknown parameter(s) {', '.join(unknown)} for {path.name}; it takes {', '.join(sorted(known))}"
        )
    if "scale" in params:
        try:
            check_scale(params["scale"])
        except ValueError as exc:
            raise ChapterError(str(exc)) from None
    for name, value in params.items():
        default = known[name]
        if (
            default is not None
            and not isinstance(value, type(default))
            and not (isinstance(default, float) and isinstance(value, int))
        ):
            raise ChapterError(
                f"parameter {name}={value!r} of {path.name} should be a {type(default).__name__}"
            )
    return params


def _strip_noise(path: Path) -> None:
    """Drop stderr streams (progress bars, library warnings) from a stored notebook."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [
                o
                for o in cell.get("outputs", [])
                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            ]
    nbformat.write(nb, path)


def execute(
    source: Path,
    target: Path,
    params: dict[str, object],
    results_to: Path | None,
    progress: bool = True,
) -> float:
    """Execute ``source`` with ``params`` and atomically replace ``target`` on success."""
    import papermill as pm

    check_parameters(source, params)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fasttrain-run-") as work:
        work = Path(work)
        tmp_nb = target.parent / f".{target.stem}.running.ipynb"
        env_before = {k: os.environ.get(k) for k in [*KERNEL_ENV, "FASTTRAIN_RESULTS_DIR"]}
        os.environ.update(KERNEL_ENV)
        os.environ["FASTTRAIN_RESULTS_DIR"] = str(work / "results")
        t0 = time.perf_counter()
        try:
            pm.execute_notebook(
                str(source),
                str(tmp_nb),
                parameters=params or None,
                kernel_name="python3",
                cwd=str(work),
                progress_bar=progress,
                log_output=False,
                request_save_on_cell_execute=False,
            )
        except Exception as exc:  # papermill raises PapermillExecutionError with the traceback
            kept = target.parent / f".{target.stem}.failed.ipynb"
            if tmp_nb.exists():
                os.replace(tmp_nb, kept)
            raise ChapterError(
                f"chapter {source.name} failed; {target} was left as it was; the failed run is in {kept}:\n{exc}"
            ) from exc
        finally:
            for k, v in env_before.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        elapsed = time.perf_counter() - t0
        _strip_noise(tmp_nb)
        produced = sorted((work / "results").glob("*.json")) if (work / "results").exists() else []
        if results_to is not None:
            if not produced:
                tmp_nb.unlink()
                raise ChapterError(f"chapter {source.name} wrote no results file")
            results_to.mkdir(parents=True, exist_ok=True)
            for p in produced:
                shutil.copy(p, results_to / f".{p.name}.tmp")
        os.replace(tmp_nb, target)
        if results_to is not None:
            for p in produced:
                os.replace(results_to / f".{p.name}.tmp", results_to / p.name)
    return elapsed


def run(
    chapter: str | None = None,
    scale: str = "book",
    params: dict | None = None,
    notebooks: Path = NOTEBOOKS,
    book: Path = BOOK,
    progress: bool = True,
) -> list[Path]:
    """Execute one chapter (or every chapter) at ``scale`` into ``book``."""
    try:
        check_scale(scale)
    except ValueError as exc:
        raise ChapterError(str(exc)) from None
    found = chapters(notebooks)
    if chapter is not None and chapter not in found:
        raise ChapterError(
            f"no chapter {chapter!r}: found {', '.join(found) or 'none'} in {notebooks}"
        )
    todo = [chapter] if chapter else list(found)
    out = []
    for ch in todo:
        src = found[ch]
        p = {"scale": scale, **(params or {})}
        target = book / src.name
        print(f"[fasttrain.book] chapter {ch} ({src.name}) at scale {scale} ...", flush=True)
        elapsed = execute(src, target, p, book / "results", progress=progress)
        print(f"[fasttrain.book] chapter {ch} done in {elapsed:.0f} s -> {target}", flush=True)
        out.append(target)
    write_summary(book)
    return out


def refresh_fixtures(chapter: str | None = None, notebooks: Path = NOTEBOOKS) -> None:
    """Re-execute source notebooks at their default (smoke) parameters, in place."""
    found = chapters(notebooks)
    for ch, src in found.items():
        if chapter and ch != chapter:
            continue
        defaults = notebook_parameters(src)
        if defaults.get("scale") != "smoke":
            raise ChapterError(
                f"{src.name}: the committed parameters cell must say scale = 'smoke'"
            )
        print(f"[fasttrain.book] refreshing fixture {src.name} ...", flush=True)
        execute(src, src, {}, None)


def sync_prose(chapter: str, notebooks: Path = NOTEBOOKS, book: Path = BOOK) -> Path:
    """Copy the markdown cells of ``notebooks/NN-*.ipynb`` into the published copy in ``book/``.

    Narrative edits (for example the findings written after reading a book-scale run) need no
    re-execution, but code edits do: the published copy must have exactly the source's code cells
    (papermill's injected-parameters cell aside) and cell layout, otherwise this refuses.
    """
    import nbformat

    found = chapters(notebooks)
    if chapter not in found:
        raise ChapterError(
            f"no chapter {chapter!r}: found {', '.join(found) or 'none'} in {notebooks}"
        )
    src_path = found[chapter]
    pub_path = book / src_path.name
    if not pub_path.exists():
        raise ChapterError(f"{pub_path} missing: run `make chapter CH={chapter}` first")
    src = nbformat.read(src_path, as_version=4)
    pub = nbformat.read(pub_path, as_version=4)
    pub_cells = [c for c in pub.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    layout = lambda cells: [
        (c.cell_type, c.source if c.cell_type == "code" else None) for c in cells
    ]
    if layout(pub_cells) != layout(src.cells):
        raise ChapterError(
            f"{pub_path.name}: code cells or cell layout differ from the source; "
            f"re-run it with `make chapter CH={chapter}`"
        )
    changed = 0
    for s, p in zip(src.cells, pub_cells):
        if s.cell_type == "markdown" and s.source != p.source:
            p.source = s.source
            changed += 1
    tmp = pub_path.with_name(f".{pub_path.name}.prose")
    nbformat.write(pub, tmp)
    os.replace(tmp, pub_path)
    print(f"[fasttrain.book] {pub_path.name}: {changed} markdown cell(s) updated")
    return pub_path


# ---------------------------------------------------------------------------
# the claims summary page


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v).replace("|", "\\|").replace("\n", " ")


def write_summary(book: Path = BOOK) -> Path:
    """Regenerate ``book/summary.md`` from ``book/results/*.json``."""
    from .core.results import load

    files = sorted((book / "results").glob("[0-9][0-9]-*.json"))
    lines = [
        "# Summary of claims",
        "",
        "Every quantitative claim of the four papers, the value the paper gives, the value this book",
        "measured and the verdict. This page is generated by `python -m fasttrain.book summary` from the",
        "chapters' results files (`book/results/*.json`); each chapter explains its verdicts.",
        "",
    ]
    counts: dict[str, int] = {}
    if not files:
        lines.append("No chapter has been run yet: `make book`.")
    for f in files:
        r = load(f)
        v = r["versions"]
        title = r.get("title") or r["name"]
        lines += [
            f"## Chapter {r['chapter']}: {title}",
            "",
            f"*Run at scale* `{r['scale']}`, *seed* {r['seed']}, *wall time* {r['wall_time_s']:.0f} s on "
            f"{r['machine']['cpu']} ({r['machine']['cores']} cores); jax {v.get('jax')}, numpy {v.get('numpy')}, "
            f"scipy {v.get('scipy')}, optax {v.get('optax')}.",
            "",
            "| id | claim | paper | reproduced | unit | verdict | reason |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in r["claims"]:
            counts[c["verdict"]] = counts.get(c["verdict"], 0) + 1
            lines.append(
                "| "
                + " | ".join(
                    _fmt(c[k])
                    for k in (
                        "id",
                        "claim",
                        "paper_value",
                        "reproduced_value",
                        "unit",
                        "verdict",
                        "reason",
                    )
                )
                + " |"
            )
        lines.append("")
    if counts:
        lines.insert(
            6,
            "**Verdicts so far:** "
            + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
            + ".",
        )
        lines.insert(7, "")
    path = book / "summary.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------------------
# command line


def _parse_param(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise ChapterError(f"parameter {text!r} should look like name=value")
    name, value = text.split("=", 1)
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m fasttrain.book", description=__doc__.split("\n\n")[0]
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="execute chapters into book/")
    r.add_argument("--scale", default="book", help=f"one of {', '.join(SCALES)} (default book)")
    r.add_argument("--chapter", default=None, help="two-digit chapter number (default: all)")
    r.add_argument("-p", "--param", action="append", default=[], help="extra parameter name=value")
    f = sub.add_parser(
        "fixtures", help="re-execute the source notebooks at smoke scale (nbval fixtures)"
    )
    f.add_argument("--chapter", default=None)
    sub.add_parser("summary", help="regenerate book/summary.md")
    pr = sub.add_parser("prose", help="copy the source's markdown cells into the published chapter")
    pr.add_argument("--chapter", required=True)
    sub.add_parser("list", help="list the chapters and their parameters")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "run":
            params = dict(_parse_param(p) for p in args.param)
            if "scale" in params:
                raise ChapterError("give the scale with --scale, not -p scale=...")
            run(args.chapter, args.scale, params)
        elif args.cmd == "fixtures":
            refresh_fixtures(args.chapter)
        elif args.cmd == "summary":
            print(write_summary())
        elif args.cmd == "prose":
            sync_prose(args.chapter)
        elif args.cmd == "list":
            for ch, p in chapters().items():
                print(ch, p.name, json.dumps(notebook_parameters(p)))
    except ChapterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
