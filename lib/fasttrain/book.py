"""Execute the chapter notebooks with papermill and publish them into ``book/``.

Usage::

    python -m fasttrain.book run --scale book              # every chapter
    python -m fasttrain.book run --scale smoke --chapter 01 -p seed=1
    python -m fasttrain.book fixtures --chapter 01         # refresh nbval fixtures
    python -m fasttrain.book summary                       # rebuild book/summary.md
    python -m fasttrain.book prose --chapter 02            # copy edited narrative into book/
    python -m fasttrain.book html --scale smoke            # HTML of _build/runs/smoke
    python -m fasttrain.book verify --chapter 01           # re-run on seeds 100 + k, compare verdicts
    python -m fasttrain.book plan --scale paper            # data, memory, time per section

``run`` executes ``notebooks/NN-*.ipynb`` into ``book/NN-*.ipynb`` at scale
``book`` and into ``_build/runs/<scale>/NN-*.ipynb`` at every other scale
(:func:`output_dir`): only the book scale publishes.  It rejects unknown
scales, parameter names and bad values (papermill itself only warns) before
executing anything, checks that the output folders are writable, fails
loudly when a chapter raises, and never publishes a failed notebook over a
good one: execution writes to a temporary file that replaces the chapter
only on success, together with the chapter's results file
``results/NN-<name>.json``.  After every chapter that succeeds the claims
summary page (``summary.md`` of the same folder) is regenerated.

``verify`` (:func:`verify`) re-runs one chapter at scale ``book`` with another
``seed`` (its seeds are ``seed + k``, disjoint from the published ``0 + k``) into
``_build/runs/verify/``, never into ``book/``, and prints claim by claim the
published and the re-run verdict, whether their intervals overlap and which
values are bounds (:mod:`fasttrain.core.verify`); ``verify-NN.json`` and
``verify-NN.md`` in that folder keep the comparison.  On a CPU other than the
published run's, ``--seed 0`` re-runs the published seeds themselves: the check a
reader makes on their own machine (the same seeds and scale; rounding differs).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from .core.scales import SCALES, check_scale

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
BOOK = ROOT / "book"
#: where runs at scales other than ``book`` go (git-ignored): ``RUNS / <scale>``
RUNS = ROOT / "_build" / "runs"
#: what a results folder must hold besides the chapters for its own HTML book
HTML_SOURCES = {
    "_config.yml": ROOT / "_config.yml",
    "intro.md": BOOK / "intro.md",
    "references.md": BOOK / "references.md",
    "references.bib": ROOT / "references.bib",
}

#: environment for chapter kernels: CPU JAX without platform warnings (:func:`kernel_env`)
KERNEL_ENV = {"JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}


def kernel_env(scale: str, environ=os.environ) -> dict[str, str | None]:
    """The chapter kernel's environment: :data:`KERNEL_ENV`, except that a ``JAX_PLATFORMS`` the user
    set is kept, and at scale ``paper`` JAX chooses its platform itself (a GPU where there is one)
    unless the user set one.  Smoke and book runs stay on the CPU by default: the published book and
    the regression fixtures are CPU runs."""
    env = dict(KERNEL_ENV)
    if environ.get("JAX_PLATFORMS"):
        env["JAX_PLATFORMS"] = environ["JAX_PLATFORMS"]
    elif scale == "paper":
        env["JAX_PLATFORMS"] = None  # unset: JAX's own choice
    return env


def kernel_manager_config():
    """Settings of the kernel manager that runs a chapter: CurveZMQ transport encryption.

    ipykernel (7.3 on) warns at every start over plain TCP ("Kernel is running over TCP without
    encryption"). With ``KernelManager.transport_encryption = "auto"`` jupyter_client (8.9 on) gives
    the kernel CurveZMQ keys when its kernelspec declares ``supported_encryption: curve`` (ipykernel's
    does), so the kernel talks over encrypted sockets and has nothing to warn about; a kernelspec
    without it starts as before. Without CurveZMQ in libzmq the default (no encryption) stays.
    """
    import zmq
    from traitlets.config import Config

    config = Config()
    if zmq.has("curve"):
        config.KernelManager.transport_encryption = "auto"
    return config


@contextlib.contextmanager
def _environ(updates: dict[str, str | None]):
    """Set environment variables for a block (``None``: unset it); restore their values (or their
    absence) after it."""
    before = {k: os.environ.get(k) for k in updates}
    for k, v in updates.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class ChapterError(RuntimeError):
    """A chapter could not be run (unknown chapter or parameter, or it raised)."""


def output_dir(scale: str) -> Path:
    """The folder a run at ``scale`` writes into: ``book/`` for scale ``book``, else ``_build/runs/<scale>/``."""
    return BOOK if scale == "book" else RUNS / scale


def _a(noun: str) -> str:
    """``noun`` with its indefinite article: ``an int``, ``a float``."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _plural(n: int, noun: str) -> str:
    """``1 step``, ``2 steps``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _probe_writable(folder: Path) -> None:
    """Create and remove a file in ``folder``; raises OSError when that is impossible."""
    fd, name = tempfile.mkstemp(dir=folder, prefix=".fasttrain-probe-")
    os.close(fd)
    os.unlink(name)


def check_writable(*folders: Path) -> None:
    """Create ``folders`` if needed and check a file can be written in each, before anything runs."""
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            _probe_writable(folder)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise ChapterError(
                f"cannot write to {folder} ({reason}): nothing was run; "
                f"make it writable or choose another output folder"
            ) from None


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
        if default is None:
            continue
        want = type(default).__name__
        if isinstance(value, bool) and not isinstance(default, bool):
            raise ChapterError(
                f"parameter {name}={value!r} of {path.name} should be {_a(want)}, not a bool"
            )
        if not isinstance(value, type(default)) and not (
            isinstance(default, float) and isinstance(value, int)
        ):
            raise ChapterError(f"parameter {name}={value!r} of {path.name} should be {_a(want)}")
        if name == "seed" and not 0 <= value < 2**32:
            raise ChapterError(
                f"parameter seed={value!r} of {path.name} is out of range: "
                f"NumPy needs 0 <= seed < 2**32"
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


#: code cells longer than this that draw a figure are collapsed behind a "show code" toggle
LONG_PLOT_LINES = 15


def _tag_for_reading(path: Path, params: dict[str, object]) -> None:
    """Cell tags for the published page (Jupyter Book honours them; the notebook itself still runs).

    The notebook's own defaults (the ``parameters`` cell) are removed from the page; papermill's
    injected cell keeps its code (a downloaded notebook re-runs with the same parameters) but shows
    only one line, "Run at scale book, seed 0"; long plotting cells are collapsed (``hide-input``).
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    said = ", ".join(f"{k} {v}" for k, v in params.items())
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.setdefault("tags", [])
        src = cell.source
        if "parameters" in tags:
            new = ["remove-cell"]
        elif "injected-parameters" in tags:
            new = ["remove-input"]
            cell.outputs = [
                nbformat.v4.new_output("stream", name="stdout", text=f"Run at {said}.\n")
            ]
        elif src.count("\n") + 1 > LONG_PLOT_LINES and any(
            k in src for k in ("plt.", "ax.", "fig")
        ):
            new = ["hide-input"]
        else:
            new = []
        tags.extend(t for t in new if t not in tags)
    nbformat.write(nb, path)


def _short_error(exc: BaseException) -> str:
    """The exception's own message, without the traceback (that stays in the kept notebook)."""
    ename = getattr(exc, "ename", None)  # papermill.PapermillExecutionError: the kernel's exception
    if ename is None:
        return f"{type(exc).__name__}: {exc}"
    where = f" (cell [{exc.exec_count}])" if getattr(exc, "exec_count", None) else ""
    msg = f"{ename}{where}: {exc.evalue}"
    if ename.endswith("DataError") and not re.search(r"python -m fasttrain\.download (?!--)", msg):
        msg += (
            "\nThe full data sets are fetched with: "
            "python -m fasttrain.download mnist fashion_mnist cifar10"
        )
    return msg


def _execute(
    source: Path,
    target: Path,
    params: dict[str, object],
    results_to: Path | None,
    progress: bool = True,
    for_reading: bool | None = None,
) -> tuple[float, list[Path]]:
    """Execute ``source`` into ``target`` (atomically, on success); return (seconds, results files).

    ``for_reading`` (default: when results are published) tags the executed notebook for the HTML
    book (parameters hidden, long plots folded); fixtures stay untagged.
    """
    import papermill as pm

    check_parameters(source, params)
    check_writable(target.parent, *([results_to] if results_to is not None else []))
    tmp_nb = target.parent / f".{target.stem}.running.ipynb"
    published: list[Path] = []
    try:
        with tempfile.TemporaryDirectory(prefix="fasttrain-run-") as work:
            work = Path(work)
            t0 = time.perf_counter()
            try:
                scale = str(params.get("scale", "")) if params else ""
                env = {**kernel_env(scale), "FASTTRAIN_RESULTS_DIR": str(work / "results")}
                with _environ(env):
                    pm.execute_notebook(
                        str(source),
                        str(tmp_nb),
                        parameters=params or None,
                        kernel_name="python3",
                        cwd=str(work),
                        progress_bar=progress,
                        log_output=False,
                        request_save_on_cell_execute=False,
                        config=kernel_manager_config(),
                    )
            except Exception as exc:  # papermill raises PapermillExecutionError with the traceback
                kept = target.parent / f".{target.stem}.failed.ipynb"
                if tmp_nb.exists():
                    os.replace(tmp_nb, kept)
                    where = f"the failed run, with the full traceback, is in {kept}"
                else:
                    where = "no notebook was written"
                raise ChapterError(
                    f"chapter {source.name} failed; {target} was left as it was; "
                    f"{where}:\n{_short_error(exc)}"
                ) from exc
            elapsed = time.perf_counter() - t0
            produced = (
                sorted((work / "results").glob("*.json")) if (work / "results").exists() else []
            )
            if results_to is not None and not produced:
                raise ChapterError(f"chapter {source.name} wrote no results file")
            staged: list[Path] = []
            try:
                _strip_noise(tmp_nb)
                if (results_to is not None) if for_reading is None else for_reading:
                    _tag_for_reading(tmp_nb, {**notebook_parameters(source), **params})
                for p in produced if results_to is not None else []:
                    staged.append(results_to / f".{p.name}.tmp")
                    shutil.copy(p, staged[-1])
                os.replace(tmp_nb, target)
                for p, tmp in zip(produced, staged):
                    os.replace(tmp, results_to / p.name)
                    published.append(results_to / p.name)
            except OSError as exc:
                raise ChapterError(
                    f"chapter {source.name} ran but could not be published "
                    f"({exc.strerror or exc}: {exc.filename or results_to}); {target} was left as it was"
                ) from None
            finally:
                for tmp in staged:
                    if tmp.exists():
                        tmp.unlink()
    finally:
        if tmp_nb.exists():
            tmp_nb.unlink()
    return elapsed, published


def execute(
    source: Path,
    target: Path,
    params: dict[str, object],
    results_to: Path | None,
    progress: bool = True,
) -> float:
    """Execute ``source`` with ``params`` and atomically replace ``target`` on success; return seconds."""
    return _execute(source, target, params, results_to, progress)[0]


def run(
    chapter: str | None = None,
    scale: str = "book",
    params: dict | None = None,
    notebooks: Path = NOTEBOOKS,
    book: Path | None = None,
    progress: bool = True,
) -> list[Path]:
    """Execute one chapter (or every chapter) at ``scale`` into ``book`` (default :func:`output_dir`).

    Everything is validated first (scale, chapter, every chapter's parameters, writable output
    folders); the summary page is regenerated after every chapter that succeeds.
    """
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
    if not todo:
        raise ChapterError(f"no chapters found in {notebooks}")
    book = output_dir(scale) if book is None else Path(book)
    plan = []
    for ch in todo:
        p = {"scale": scale, **(params or {})}
        check_parameters(found[ch], p)
        plan.append((ch, found[ch], p))
    check_writable(book, book / "results")
    out, results = [], []
    summary = book / "summary.md"
    for ch, src, p in plan:
        target = book / src.name
        print(
            f"[fasttrain.book] chapter {ch} ({src.name}) at scale {scale} -> {book} ...", flush=True
        )
        elapsed, produced = _execute(src, target, p, book / "results", progress=progress)
        print(f"[fasttrain.book] chapter {ch} done in {elapsed:.0f} s -> {target}", flush=True)
        out.append(target)
        results += produced
        summary = write_summary(book)
    print(
        f"[fasttrain.book] {_plural(len(out), 'chapter')} at scale {scale}; results: "
        f"{', '.join(map(str, results))}; summary: {summary}",
        flush=True,
    )
    return out


# ---------------------------------------------------------------------------
# re-running a chapter on other seeds to check its published verdicts


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies under it (after resolving links)."""
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def verify(
    chapter: str,
    seed: int = 100,
    scale: str = "book",
    out: Path | None = None,
    published: Path | None = None,
    notebooks: Path = NOTEBOOKS,
    progress: bool = True,
    publish: bool = False,
) -> dict:
    """Re-run ``chapter`` with seeds offset by ``seed`` into ``out`` and compare its verdicts with the published ones.

    ``out`` defaults to ``RUNS / "verify"`` (``_build/runs/verify/``), ``published`` (the folder of the
    published results files) to ``BOOK / "results"``.  Everything is checked before the chapter runs:
    the scale, the chapter, the seed (as :func:`run` does; it must differ from the published run's,
    except on a CPU other than the published run's at the published scale: a reader's check of the published
    seeds, never published),
    the published results file and the output folder (never ``book/`` nor the published folder).  The
    chapter then runs through :func:`run`; the claim-by-claim table
    (:func:`fasttrain.core.verify.table`) and the summary line are printed, and ``verify-NN.json``
    (rows, summary, seeds, scales, both wall times) and ``verify-NN.md`` (the table in Markdown) are
    written into ``out``.  Returns the report written to ``verify-NN.json``.

    The report records the SHA-256 of the published results file it was compared with.  With
    ``publish`` (only against the book's own results at scale ``book``) the report is also copied to
    ``book/verify/verify-NN.json``, where the summary page shows it for as long as that digest matches
    the published results file (:mod:`fasttrain.core.summary`): a re-run check of an earlier edition
    is never shown as if it checked the current one.
    """
    from .core import results as results_mod
    from .core import verify as cmp
    from .core.results import load

    out = RUNS / "verify" if out is None else Path(out)
    published = BOOK / "results" if published is None else Path(published)
    try:
        check_scale(scale)
    except ValueError as exc:
        raise ChapterError(str(exc)) from None
    found = chapters(notebooks)
    if chapter not in found:
        raise ChapterError(
            f"no chapter {chapter!r}: found {', '.join(found) or 'none'} in {notebooks}"
        )
    src = found[chapter]
    check_parameters(src, {"scale": scale, "seed": seed})
    candidates = sorted(published.glob(f"{chapter}-*.json"))
    if len(candidates) != 1:
        what = "no" if not candidates else f"{len(candidates)}"
        raise ChapterError(
            f"{what} published results file(s) for chapter {chapter} in {published} "
            f"(expected one {chapter}-<name>.json): nothing to compare with, nothing was run; "
            f"publish the chapter first (make chapter CH={chapter} SCALE=book)"
        )
    pub_path = candidates[0]
    try:
        pub = load(pub_path)
    except ValueError as exc:
        raise ChapterError(f"{exc}; nothing was run") from None
    here = results_mod.machine_info()["cpu"]
    there = (pub.get("machine") or {}).get("cpu")
    same_seeds = seed == pub["seed"]
    if same_seeds and (here == there or not there or scale != pub["scale"]):
        raise ChapterError(
            f"seed {seed} is the published run's ({pub_path}); choose another, e.g. --seed 100, "
            f"so that the re-run's seeds are disjoint from the published ones. The published seeds "
            f"are re-run only on another CPU at the published scale (a reader's machine: do its "
            f"verdicts agree?); this CPU: {here}; the published run's: {there or 'not recorded'}; "
            f"scale {scale}, published {pub['scale']}"
        )
    clash = [f for f in (BOOK, published) if _inside(out, f)]
    if clash or _inside(out / "results", published):
        raise ChapterError(
            f"output folder {out} would write into {(clash or [published])[0]}: a verification "
            f"run never writes over published results; choose another --out "
            f"(default {RUNS / 'verify'})"
        )
    if publish and (published.resolve() != (BOOK / "results").resolve() or scale != "book"):
        raise ChapterError(
            "--publish compares against the book's own results (book/results) at scale book only; "
            "nothing was run"
        )
    if publish and same_seeds:
        raise ChapterError(
            "--publish keeps re-run checks on disjoint seeds (the summary page shows them); a re-run "
            "of the published seeds on another CPU stays in the output folder; nothing was run"
        )
    check_writable(out, out / "results", *([BOOK / "verify"] if publish else []))
    digest = hashlib.sha256(pub_path.read_bytes()).hexdigest()

    t0 = time.perf_counter()
    run(chapter, scale, {"seed": seed}, notebooks=notebooks, book=out, progress=progress)
    runner_s = time.perf_counter() - t0
    new_path = out / "results" / pub_path.name
    if not new_path.exists():
        raise ChapterError(
            f"the re-run of chapter {chapter} wrote no {new_path.name} (the published file's name)"
        )
    try:
        new = load(new_path)
    except ValueError as exc:
        raise ChapterError(str(exc)) from None

    rows = cmp.compare(pub, new)
    if same_seeds:
        seeds = f"{seed} + k (the published seeds) on another CPU ({here}; published on {there})"
    else:
        seeds = f"{seed} + k (published: {pub['seed']} + k)"
    summary = cmp.summarize(rows, seeds)
    report = {
        "chapter": chapter,
        "name": pub.get("name"),
        "summary": summary,
        "seeds": {"published": pub["seed"], "rerun": new["seed"]},
        "cpu": {"published": there, "rerun": (new.get("machine") or {}).get("cpu", here)},
        "scale": {"published": pub["scale"], "rerun": new["scale"]},
        "wall_time_s": {"published": pub["wall_time_s"], "rerun": new["wall_time_s"]},
        "runner_s": round(runner_s, 1),
        "files": {"published": str(pub_path), "rerun": str(new_path)},
        "published_sha256": digest,
        "rows": rows,
    }
    json_path, md_path = out / f"verify-{chapter}.json", out / f"verify-{chapter}.md"
    _write_atomic(json_path, json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    _write_atomic(md_path, cmp.markdown(rows, summary))
    if publish:
        shared = dict(report, files={"published": f"book/results/{pub_path.name}"})
        _write_atomic(
            BOOK / "verify" / json_path.name,
            json.dumps(shared, indent=1, ensure_ascii=False) + "\n",
        )
        write_summary()
    print(
        f"[fasttrain.book] chapter {chapter}, published: {pub_path} (scale {pub['scale']}, "
        f"seed {pub['seed']}, {pub['wall_time_s']:.0f} s)\n"
        f"[fasttrain.book] chapter {chapter}, re-run:    {new_path} (scale {new['scale']}, "
        f"seed {new['seed']}, {new['wall_time_s']:.0f} s)\n"
        f"{cmp.table(rows)}\n{summary}\n"
        f"[fasttrain.book] comparison: {json_path}, {md_path}",
        flush=True,
    )
    return report


#: the committed smoke-scale references of the regression test (one JSON per chapter)
REFERENCES = ROOT / "tests" / "reference"
#: the regex substitutions nbval applies before comparing a checked cell's output
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"


def chapter_module(chapter: str):
    """The library module (or package) of chapter ``NN``: ``fasttrain.chapters.chNN_*``."""
    import importlib
    import pkgutil

    from . import chapters as pkg

    names = [
        m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name.startswith(f"ch{chapter}_")
    ]
    if len(names) != 1:
        raise ChapterError(
            f"chapter {chapter}: expected one module fasttrain.chapters.ch{chapter}_*, found {names}"
        )
    return importlib.import_module(f"{pkg.__name__}.{names[0]}")


def plan(
    chapter: str | None,
    scale: str,
    without_data: bool = False,
    details: bool = True,
    fetch_probe=None,
    out=print,
    json_path: Path | None = None,
    log=lambda msg: print(msg, file=sys.stderr, flush=True),
    jobs: int = 1,
) -> list:
    """Print the plan of each chapter at ``scale`` (:mod:`fasttrain.core.plan`): its data, then per
    section the memory and the time from calibration calls at the configuration's shapes.

    Refuses (``ChapterError``) before any calibration when a data set is missing and cannot be
    fetched, unless ``without_data``. Returns the :class:`fasttrain.core.plan.ChapterPlan` list
    (with ``jobs > 1`` and several chapters: their :func:`fasttrain.core.plan.summary` dicts, see
    :func:`_plan_in_parallel`).
    """
    from .chapters import plan as chapter_plans
    from .core import plan as P

    check_scale(scale)
    known = chapters()
    if chapter is not None and chapter not in known:
        raise ChapterError(f"unknown chapter {chapter!r}: choose one of {', '.join(known)}")
    todo = [chapter] if chapter else list(known)
    missing = [ch for ch in todo if ch not in chapter_plans.PLANS]
    if missing:
        raise ChapterError(f"chapters {missing} have no plan in fasttrain.chapters.plan")
    modules = {ch: chapter_module(ch) for ch in todo}
    if len(todo) == 1 and hasattr(modules[todo[0]], "use_xla_flags"):
        # a chapter's own XLA flags (ch. 03 at smoke) apply when it is planned alone, as it runs
        try:
            modules[todo[0]].use_xla_flags(modules[todo[0]].config(scale))
        except RuntimeError as exc:
            out(f"note: {exc}")
    built = {ch: chapter_plans.PLANS[ch](modules[ch], scale) for ch in todo}
    try:  # every data set of every chapter before any work
        data = {ch: P.check_data(built[ch], fetch_probe, without_data) for ch in todo}
    except P.PlanRefused as exc:
        raise ChapterError(f"plan at scale {scale!r} refused: {exc}") from None
    if jobs > 1 and len(todo) > 1:
        return _plan_in_parallel(todo, scale, details, out, json_path, jobs)
    plans = []
    for ch in todo:
        name = known[ch].stem[3:]
        p = P.make_plan(ch, name, scale, built[ch], data=data[ch], log=log)
        plans.append(p)
        out(P.render(p, details=details))
        out("")
    out(P.render_totals(plans))
    if json_path is not None:
        _write_atomic(Path(json_path), json.dumps([P.summary(p) for p in plans], indent=1) + "\n")
    return plans


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


#: the order in which a parallel plan starts the chapters: longest plan first (measured: chapter
#: 04's and 01's plans take about twice as long as 02's and 03's)
PLAN_ORDER = ("04", "01", "02", "03")


def _plan_in_parallel(todo, scale, details, out, json_path, jobs) -> list[dict]:
    """The chapters' plans in ``jobs`` worker processes, each pinned to a core of its own.

    Most of a plan is XLA compiling each calibrated function once, which runs on one thread; so
    two chapters at a time on two cores take about half the time of one after the other.  Each
    worker is pinned to its own core (CPU affinity, XLA's and BLAS's thread pools of one thread),
    so that one chapter's compiling never shares a core with the other's timed calls: every
    calibration is then a one-core time (the chapters' timings pin BLAS to one thread as well;
    XLA's own multithreading is not counted, so an estimate errs on the long side).  The data
    were checked for every chapter before any worker starts.  Prints each chapter's plan in
    chapter order, then the totals; returns the chapters' summaries.
    """
    import subprocess
    import tempfile

    from .core import plan as P

    try:
        cores = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux: no pinning
        cores = list(range(os.cpu_count() or 1))
    jobs = max(1, min(jobs, len(cores), len(todo)))
    order = sorted(todo, key=lambda ch: PLAN_ORDER.index(ch) if ch in PLAN_ORDER else -1)
    env = dict(os.environ)
    env["XLA_FLAGS"] = " ".join(
        [env.get("XLA_FLAGS", ""), "--xla_cpu_multi_thread_eigen=false"]
    ).strip()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    texts, sums, errors = {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="fasttrain-plan-") as tmp:
        running: dict = {}  # core -> (chapter, process, json path)
        queue = list(order)
        while queue or running:
            while queue and len(running) < jobs:
                core = next(c for c in cores[:jobs] if c not in running)
                ch = queue.pop(0)
                jp = Path(tmp) / f"{ch}.json"
                cmd = [sys.executable, "-m", "fasttrain.book", "plan", "--chapter", ch]
                cmd += ["--scale", scale, "--without-data", "--json", str(jp), "--jobs", "1"]
                cmd += [] if details else ["--brief"]
                with (
                    open(jp.with_suffix(".out"), "w") as fo,
                    open(jp.with_suffix(".err"), "w") as fe,
                ):
                    proc = subprocess.Popen(
                        cmd,
                        env=env,
                        stdout=fo,
                        stderr=fe,
                        preexec_fn=(lambda c=core: os.sched_setaffinity(0, {c}))
                        if hasattr(os, "sched_setaffinity")
                        else None,
                    )
                running[core] = (ch, proc, jp)
                print(f"[plan] chapter {ch} started on core {core}", file=sys.stderr, flush=True)
            done = None
            while done is None:
                for core, (_ch, proc, _jp) in running.items():
                    if proc.poll() is not None:
                        done = core
                        break
                else:
                    time.sleep(0.2)
            ch, proc, jp = running.pop(done)
            if proc.returncode != 0 or not jp.exists():
                errors[ch] = jp.with_suffix(".err").read_text().strip().splitlines()[-5:]
                continue
            texts[ch] = jp.with_suffix(".out").read_text()
            (sums[ch],) = json.loads(jp.read_text())
            print(f"[plan] chapter {ch} done", file=sys.stderr, flush=True)
    for ch in todo:
        if ch in texts:  # the worker's own plan, without its one-chapter totals
            out(texts[ch].split("\nsummary:")[0].rstrip())
            out("")
    if errors:
        raise ChapterError(
            "plan failed for "
            + "; ".join(f"chapter {ch}: {' | '.join(lines)}" for ch, lines in errors.items())
        )
    plans = [sums[ch] for ch in todo]
    out(
        f"note: {jobs} chapters at a time, each calibrated on one core of its own (XLA and BLAS on one "
        "thread), so the times are one-core times, on the long side; --jobs 1 calibrates on every core "
        "(about twice as long to plan)"
    )
    out("")
    out(P.render_totals(plans))
    if json_path is not None:
        _write_atomic(Path(json_path), json.dumps(plans, indent=1) + "\n")
    return plans


def sanitize_patterns(path: Path = SANITIZE) -> list[tuple[str, str]]:
    """The (regex, replacement) pairs of nbval's sanitize file, in order (nbval's own format)."""
    return re.findall(r"^regex: (.*)$\n^replace: (.*)$", path.read_text(encoding="utf-8"), re.M)


def checked_outputs(path: Path, patterns: list[tuple[str, str]]) -> list[str]:
    """The sanitized text outputs of the cells nbval checks (``# NBVAL_CHECK_OUTPUT``), in order."""
    import nbformat

    out = []
    for c in nbformat.read(path, as_version=4).cells:
        if c.cell_type != "code" or "NBVAL_CHECK_OUTPUT" not in c.source:
            continue
        text = ""
        for o in c.get("outputs", []):
            if o.get("output_type") == "stream" and o.get("name") == "stdout":
                text += o.get("text", "")
            elif "data" in o and "text/plain" in o["data"]:
                text += o["data"]["text/plain"]
        for regex, replace in patterns:
            text = re.sub(regex, replace, text)
        out.append(text)
    return out


def _cpu_dependence(outputs: dict[str, list[str]]) -> list[str]:
    """Lines of checked cells that differ between the variants' runs (empty: none)."""
    names = list(outputs)
    base = outputs[names[0]]
    problems = []
    for k, text in enumerate(base):
        for n in names[1:]:
            other = outputs[n][k] if k < len(outputs[n]) else ""
            if other != text:
                a, b = text.splitlines(), other.splitlines()
                diff = [(x, y) for x, y in zip(a, b) if x != y] or [(text[-200:], other[-200:])]
                problems += [
                    f"checked cell {k + 1}, {names[0]}: {x!r}\n    {n}: {y!r}" for x, y in diff
                ]
    return problems


def refresh_fixtures(
    chapter: str | None = None,
    notebooks: Path = NOTEBOOKS,
    references: Path = REFERENCES,
    variants: dict[str, dict[str, str]] | None = None,
) -> None:
    """Refresh the regression fixtures of one chapter (or all) at their default (smoke) parameters.

    Executes each source notebook in place (the nbval fixture), then again under every other
    variant of :data:`fasttrain.core.reference.VARIANTS` (XLA capped at older instruction sets,
    OpenBLAS pinned to an older core), and from the results files derives the numeric reference
    ``tests/reference/NN-name.json`` (:func:`fasttrain.core.reference.derive`).  Refuses, after the
    fixture was written, when a cell nbval checks prints differently under a variant, or when an
    undeclared quantity moves: such an output depends on the CPU and must not be pinned.
    """
    from .core import reference

    variants = dict(reference.VARIANTS if variants is None else variants)
    found = chapters(notebooks)
    if chapter is not None and chapter not in found:
        raise ChapterError(
            f"no chapter {chapter!r}: found {', '.join(found) or 'none'} in {notebooks}"
        )
    todo = {ch: src for ch, src in found.items() if chapter in (None, ch)}
    modules = {ch: chapter_module(ch) for ch in todo}
    for ch, src in todo.items():
        if notebook_parameters(src).get("scale") != "smoke":
            raise ChapterError(
                f"{src.name}: the committed parameters cell must say scale = 'smoke'"
            )
        if not hasattr(modules[ch], "REGRESSION"):
            raise ChapterError(
                f"{modules[ch].__name__} declares no REGRESSION (fasttrain.core.reference.Declared)"
            )
    check_writable(references)
    patterns = sanitize_patterns()
    for ch, src in todo.items():
        runs, outputs = {}, {}
        with tempfile.TemporaryDirectory(prefix="fasttrain-fixtures-") as tmp:
            for name, env in variants.items():
                folder = Path(tmp) / name
                folder.mkdir()
                target = src if name == "default" else folder / src.name
                shown = " ".join(f"{k}={v}" for k, v in env.items()) or "default environment"
                what = "fixture" if name == "default" else "variant"
                print(f"[fasttrain.book] {src.name}: {what} {name} ({shown}) ...", flush=True)
                with _environ(env):
                    _, produced = _execute(src, target, {}, folder, for_reading=False)
                runs[name] = json.loads(produced[0].read_text(encoding="utf-8"))
                outputs[name] = checked_outputs(target, patterns)
        moved = _cpu_dependence(outputs)
        if moved:
            raise ChapterError(
                f"{src.name}: checked cells print differently under another instruction set, so "
                "nbval would fail on another CPU; print them as exact facts, mask them in "
                f"{SANITIZE.relative_to(ROOT)} or leave them unchecked:\n  " + "\n  ".join(moved)
            )
        try:
            ref = reference.derive(runs, modules[ch].REGRESSION)
        except reference.ReferenceError as exc:
            raise ChapterError(str(exc)) from None
        path = references / f"{src.stem}.json"
        _write_atomic(path, json.dumps(ref, indent=1) + "\n")
        counts = ", ".join(f"{n} {k}" for k, n in sorted(reference.describe(ref).items()))
        print(
            f"[fasttrain.book] {src.name}: reference {path.relative_to(ROOT)} ({counts})",
            flush=True,
        )


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
    print(f"[fasttrain.book] {pub_path.name}: {_plural(changed, 'markdown cell')} updated")
    return pub_path


# ---------------------------------------------------------------------------
# the claims summary page


def write_summary(book: Path = BOOK) -> Path:
    """Regenerate ``book/summary.md`` from ``book/results/*.json`` (or those of a runs folder)."""
    from .core.summary import write_summary as write

    try:
        where = book.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        where = str(book)
    return write(book, where)


# ---------------------------------------------------------------------------
# the HTML book


def prepare_html(folder: Path) -> Path:
    """Make a runs folder a Jupyter Book of its own: configuration, intro, references, table of contents."""
    for name, src in HTML_SOURCES.items():
        shutil.copy(src, folder / name)
    shutil.copytree(ROOT / "_static", folder / "_static", dirs_exist_ok=True)
    title, _, rest = (folder / "intro.md").read_text(encoding="utf-8").partition("\n")
    note = (
        f"\n```{{note}}\nThis build shows a run at scale `{folder.name}` from `{folder}`, "
        "not the published book (scale `book`).\n```\n"
    )
    (folder / "intro.md").write_text(title + "\n" + note + rest, encoding="utf-8")
    names = [p.stem for p in sorted(folder.glob("[0-9][0-9]-*.ipynb"))]
    toc = [
        "# generated by python -m fasttrain.book html",
        "format: jb-book",
        "root: intro",
        "chapters:",
        *(f"  - file: {n}" for n in [*names, "summary", "references"]),
    ]
    (folder / "_toc.yml").write_text("\n".join(toc) + "\n", encoding="utf-8")
    return folder


def build_html(scale: str = "book") -> Path:
    """Build the HTML of ``book/`` (scale ``book``: ``_build/html``) or of ``_build/runs/<scale>/`` (its ``html/``)."""
    import subprocess

    try:
        check_scale(scale)
    except ValueError as exc:
        raise ChapterError(str(exc)) from None
    exe = str(Path(sys.executable).with_name("jupyter-book"))
    folder = output_dir(scale)
    if scale == "book":
        write_summary(folder)
        source, built, html = ROOT, ROOT / "_build" / "html", ROOT / "_build" / "html"
    else:
        if not list(folder.glob("[0-9][0-9]-*.ipynb")):
            raise ChapterError(f"no chapters in {folder}: run `make book SCALE={scale}` first")
        prepare_html(folder)
        write_summary(folder)
        source, built, html = folder, folder / "_build" / "html", folder / "html"
    proc = subprocess.run([exe, "build", "--all", str(source)])
    if proc.returncode != 0:
        raise ChapterError(f"jupyter-book build of {source} failed (exit status {proc.returncode})")
    if built != html:
        shutil.rmtree(html, ignore_errors=True)
        os.replace(built, html)
    if not (html / "index.html").exists():
        raise ChapterError(f"jupyter-book wrote no {html / 'index.html'}")
    print(f"[fasttrain.book] the book is in {html / 'index.html'}", flush=True)
    return html


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


def _raise_system_exit(signum, frame):
    raise SystemExit(128 + signum)


def _on_sigterm_exit():
    """Turn SIGTERM into SystemExit so that temporary folders and running notebooks are cleaned up.

    Returns the previous handler (None when not in the main thread, where handlers cannot be set).
    """
    try:
        return signal.signal(signal.SIGTERM, _raise_system_exit)
    except ValueError:
        return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m fasttrain.book", description=__doc__.split("\n\n")[0]
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser(
        "run", help="execute chapters into book/ (scale book) or _build/runs/<scale>/"
    )
    r.add_argument("--scale", default="book", help=f"one of {', '.join(SCALES)} (default book)")
    r.add_argument("--chapter", default=None, help="two-digit chapter number (default: all)")
    r.add_argument("-p", "--param", action="append", default=[], help="extra parameter name=value")
    r.add_argument(
        "--out",
        default=None,
        type=Path,
        help="output folder (default: book/ at scale book, else _build/runs/<scale>/)",
    )
    r.add_argument(
        "--notebooks", default=NOTEBOOKS, type=Path, help="folder of the chapter sources"
    )
    h = sub.add_parser(
        "html", help="build the HTML book of book/ (scale book) or of _build/runs/<scale>/"
    )
    h.add_argument("--scale", default="book")
    f = sub.add_parser(
        "fixtures",
        help="re-execute the source notebooks at smoke scale (nbval fixtures) and derive the "
        "numeric references tests/reference/*.json from runs under capped instruction sets",
    )
    f.add_argument("--chapter", default=None)
    sub.add_parser("summary", help="regenerate book/summary.md")
    pr = sub.add_parser("prose", help="copy the source's markdown cells into the published chapter")
    pr.add_argument("--chapter", required=True)
    sub.add_parser("list", help="list the chapters and their parameters")
    v = sub.add_parser(
        "verify",
        help="re-run one chapter on disjoint seeds into _build/runs/verify/ and compare its verdicts "
        "with the published ones, claim by claim",
    )
    v.add_argument("--chapter", required=True, help="two-digit chapter number (one per call)")
    v.add_argument(
        "--seed",
        default=100,
        type=int,
        help="seed offset of the re-run: its seeds are seed + k (default 100; published: 0, "
        "re-run only on another CPU)",
    )
    v.add_argument("--scale", default="book", help=f"one of {', '.join(SCALES)} (default book)")
    v.add_argument(
        "--out", default=None, type=Path, help="output folder (default _build/runs/verify/)"
    )
    v.add_argument(
        "--publish",
        action="store_true",
        help="also keep the comparison in book/verify/ for the summary page (scale book only)",
    )
    pl = sub.add_parser(
        "plan",
        help="without running a chapter: its data, and per section the memory and the time "
        "calibrated by a few real steps at the scale's shapes",
    )
    pl.add_argument("--scale", default="paper", help=f"one of {', '.join(SCALES)} (default paper)")
    pl.add_argument("--chapter", default=None, help="two-digit chapter number (default: all)")
    pl.add_argument(
        "--without-data",
        action="store_true",
        help="plan even where a data set is missing and cannot be fetched (calibration calls use "
        "random arrays of its shapes); default: refuse before any work",
    )
    pl.add_argument("--brief", action="store_true", help="one line per section, no work items")
    pl.add_argument("--json", default=None, type=Path, help="also write the totals as JSON here")
    pl.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="chapters planned at a time, each in its own process pinned to one core "
        "(default: one per usable core; 1: one after the other on every core)",
    )
    args = ap.parse_args(argv)
    previous = _on_sigterm_exit()
    try:
        if args.cmd == "run":
            params = dict(_parse_param(p) for p in args.param)
            if "scale" in params:
                raise ChapterError("give the scale with --scale, not -p scale=...")
            run(args.chapter, args.scale, params, notebooks=args.notebooks, book=args.out)
        elif args.cmd == "html":
            build_html(args.scale)
        elif args.cmd == "fixtures":
            refresh_fixtures(args.chapter)
        elif args.cmd == "summary":
            print(write_summary())
        elif args.cmd == "prose":
            sync_prose(args.chapter)
        elif args.cmd == "verify":
            verify(args.chapter, args.seed, args.scale, out=args.out, publish=args.publish)
        elif args.cmd == "plan":
            plan(
                args.chapter,
                args.scale,
                args.without_data,
                details=not args.brief,
                json_path=args.json,
                jobs=args.jobs if args.jobs is not None else _usable_cores(),
            )
        elif args.cmd == "list":
            for ch, p in chapters().items():
                print(ch, p.name, json.dumps(notebook_parameters(p)))
    except ChapterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("[fasttrain.book] interrupted: nothing more was published", file=sys.stderr)
        return 130
    except SystemExit as exc:
        if exc.code == 128 + signal.SIGTERM:
            print("[fasttrain.book] terminated: nothing more was published", file=sys.stderr)
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":
    sys.exit(main())
