"""The papermill runner: parameter checks, loud failures, atomic publishing."""

import json
import os
import re

import nbformat
import pytest

from fasttrain import book


def _nb(path, body, params='scale = "smoke"\nseed = 0'):
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell(params)
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


GOOD = """
from fasttrain.core import claims
from fasttrain.core.results import ChapterResults
spec = claims.ClaimSpec("c", "analysis", "toy claim", "ours", 1.0, "u",
                        claims.within(1.0, 0.1, name="toy-rule", source="a toy"))
r = ChapterResults("09", "toy", scale, seed)
r.record(spec, claims.exact(1.0))
print("ran at", scale, seed)
r.write()
"""


@pytest.fixture
def tree(tmp_path):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    _nb(nbs / "09-toy.ipynb", GOOD)
    return nbs, tmp_path / "book"


def test_parameters_are_read_from_the_tagged_cell(tree):
    nbs, _ = tree
    assert book.notebook_parameters(nbs / "09-toy.ipynb") == {"scale": "smoke", "seed": 0}


def test_unknown_parameter_scale_and_type_rejected(tree):
    nbs, bk = tree
    with pytest.raises(book.ChapterError, match="unknown parameter.*learning_rate"):
        book.run("09", "smoke", {"learning_rate": 1.0}, notebooks=nbs, book=bk, progress=False)
    with pytest.raises(book.ChapterError, match="unknown scale 'huge'"):
        book.run("09", "huge", notebooks=nbs, book=bk, progress=False)
    with pytest.raises(book.ChapterError, match="should be an int"):
        book.run("09", "smoke", {"seed": "zero"}, notebooks=nbs, book=bk, progress=False)
    with pytest.raises(book.ChapterError, match="no chapter '42'"):
        book.run("42", "smoke", notebooks=nbs, book=bk, progress=False)
    assert not bk.exists() or not list(bk.glob("*.ipynb"))


def test_run_publishes_notebook_results_and_summary(tree):
    nbs, bk = tree
    book.run("09", "smoke", {"seed": 4}, notebooks=nbs, book=bk, progress=False)
    out = nbformat.read(bk / "09-toy.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in out.cells if c.cell_type == "code" for o in c.outputs)
    assert "ran at smoke 4" in text
    res = json.loads((bk / "results" / "09-toy.json").read_text())
    assert res["seed"] == 4 and res["claims"][0]["verdict"] == "reproduced"
    summary = (bk / "summary.md").read_text()
    assert "Chapter 09" in summary and "toy claim" in summary


@pytest.mark.heavy
def test_failing_chapter_never_replaces_a_good_one(tree):
    nbs, bk = tree
    book.run("09", "smoke", notebooks=nbs, book=bk, progress=False)
    good_nb = (bk / "09-toy.ipynb").read_bytes()
    good_res = (bk / "results" / "09-toy.json").read_bytes()
    _nb(nbs / "09-toy.ipynb", 'raise RuntimeError("chapter exploded")')
    with pytest.raises(book.ChapterError, match="failed.*left as it was"):
        book.run("09", "smoke", notebooks=nbs, book=bk, progress=False)
    assert (bk / "09-toy.ipynb").read_bytes() == good_nb
    assert (bk / "results" / "09-toy.json").read_bytes() == good_res
    assert (bk / ".09-toy.failed.ipynb").exists()


def test_chapter_without_results_is_an_error(tree):
    nbs, bk = tree
    _nb(nbs / "09-toy.ipynb", 'print("no results")')
    with pytest.raises(book.ChapterError, match="no results file"):
        book.run("09", "smoke", notebooks=nbs, book=bk, progress=False)
    assert not (bk / "09-toy.ipynb").exists()


def test_missing_parameters_cell(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(nb, tmp_path / "09-x.ipynb")
    with pytest.raises(book.ChapterError, match="parameters"):
        book.notebook_parameters(tmp_path / "09-x.ipynb")


def test_cli_reports_errors_clearly(capsys):
    assert book.main(["run", "--scale", "huge", "--chapter", "01"]) == 2
    assert "unknown scale" in capsys.readouterr().err


def test_prose_sync_copies_markdown_but_refuses_code_changes(tree):
    nbs, bk = tree
    book.run("09", "smoke", notebooks=nbs, book=bk, progress=False)
    src = nbformat.read(nbs / "09-toy.ipynb", as_version=4)
    src.cells.append(nbformat.v4.new_markdown_cell("Findings: written after the run."))
    nbformat.write(src, nbs / "09-toy.ipynb")
    with pytest.raises(book.ChapterError, match="cell layout differ"):
        book.sync_prose("09", notebooks=nbs, book=bk)
    pub = nbformat.read(bk / "09-toy.ipynb", as_version=4)
    pub.cells.append(nbformat.v4.new_markdown_cell("old findings"))
    nbformat.write(pub, bk / "09-toy.ipynb")
    book.sync_prose("09", notebooks=nbs, book=bk)
    pub = nbformat.read(bk / "09-toy.ipynb", as_version=4)
    assert pub.cells[-1].source == "Findings: written after the run."
    assert "ran at smoke" in "".join(
        o.get("text", "") for c in pub.cells if c.cell_type == "code" for o in c.outputs
    )
    src.cells[1].source += "\nprint('changed')"
    nbformat.write(src, nbs / "09-toy.ipynb")
    with pytest.raises(book.ChapterError, match="re-run it"):
        book.sync_prose("09", notebooks=nbs, book=bk)


# ---------------------------------------------------------------------------
# issue 13: readers' paths


def _text(nb_path):
    out = nbformat.read(nb_path, as_version=4)
    return "".join(
        o.get("text", "") for c in out.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )


def test_only_scale_book_writes_into_book():
    """Defect 1: the default output folder of every scale but 'book' is a git-ignored build folder."""
    assert book.output_dir("book") == book.ROOT / "book"
    for scale in ("smoke", "paper"):
        out = book.output_dir(scale)
        assert out == book.ROOT / "_build" / "runs" / scale
        assert book.ROOT / "book" not in (out, *out.parents)


def test_smoke_run_leaves_book_untouched(tree, monkeypatch, tmp_path, capsys):
    """Defect 1: run() without book= at smoke scale writes to the runs folder, never into book/."""
    nbs, bk = tree
    monkeypatch.setattr(book, "BOOK", bk)
    monkeypatch.setattr(book, "RUNS", tmp_path / "_build" / "runs")
    book.run("09", "smoke", notebooks=nbs, progress=False)
    out = tmp_path / "_build" / "runs" / "smoke"
    assert (out / "09-toy.ipynb").exists() and (out / "results" / "09-toy.json").exists()
    assert "Chapter 09" in (out / "summary.md").read_text()
    assert not bk.exists()
    assert str(out) in capsys.readouterr().out


def test_smoke_outputs_are_git_ignored():
    """Defect 1: what the README's smoke examples write leaves `git status` clean."""
    import shutil
    import subprocess

    if shutil.which("git") is None or not (book.ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    out = book.output_dir("smoke")
    paths = [
        out / "01-linear-ivp.ipynb",
        out / "results" / "01-linear-ivp.json",
        out / "summary.md",
        out / "html" / "index.html",
        out / ".01-linear-ivp.failed.ipynb",
    ]
    proc = subprocess.run(
        ["git", "check-ignore", "--no-index", *map(str, paths)],
        cwd=book.ROOT,
        capture_output=True,
        text=True,
    )
    assert sorted(proc.stdout.split()) == sorted(map(str, paths)), proc.stdout + proc.stderr


def test_smoke_html_project_is_prepared_in_the_runs_folder(tree, tmp_path):
    """Defect 1: `make book SCALE=smoke` builds its HTML from the runs folder, not from book/."""
    nbs, _ = tree
    out = tmp_path / "runs" / "smoke"
    book.run("09", "smoke", notebooks=nbs, book=out, progress=False)
    book.prepare_html(out)
    toc = (out / "_toc.yml").read_text()
    assert "root: intro" in toc and "file: 09-toy" in toc and "file: summary" in toc
    for name in ("_config.yml", "intro.md", "references.md", "references.bib"):
        assert (out / name).exists()


def _deny(folder):
    """A writability probe that refuses ``folder`` (root ignores chmod, so tests patch the probe)."""
    real = book._probe_writable

    def probe(path):
        if path == folder:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    return probe


def test_read_only_book_is_refused_before_executing(tree, monkeypatch, capsys):
    """Defect 2: an unwritable output folder is reported before the chapter runs."""
    nbs, bk = tree
    bk.mkdir()
    monkeypatch.setattr(book, "_probe_writable", _deny(bk))
    with pytest.raises(book.ChapterError, match=f"cannot write to {bk}"):
        book.run("09", "smoke", notebooks=nbs, book=bk, progress=False)
    assert "at scale" not in capsys.readouterr().out  # nothing was executed
    assert list(bk.iterdir()) == []


def test_read_only_book_with_chmod(tree):
    """Defect 2 with a real read-only folder (root ignores permissions, hence the skip)."""
    import os
    import stat

    if os.geteuid() == 0:
        pytest.skip(
            "running as root: chmod does not stop root (the monkeypatched test covers this)"
        )
    nbs, bk = tree
    bk.mkdir()
    bk.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(book.ChapterError, match="cannot write to"):
            book.run("09", "smoke", notebooks=nbs, book=bk, progress=False)
        assert list(bk.iterdir()) == []
    finally:
        bk.chmod(stat.S_IRWXU)


def test_read_only_results_folder_is_a_clear_error(tree, monkeypatch):
    """Defect 3: read-only book/results/ gives a ChapterError naming it, and no .running notebook stays."""
    nbs, bk = tree
    (bk / "results").mkdir(parents=True)
    monkeypatch.setattr(book, "_probe_writable", _deny(bk / "results"))
    with pytest.raises(book.ChapterError, match=f"cannot write to {bk / 'results'}"):
        book.run("09", "smoke", notebooks=nbs, book=bk, progress=False)
    assert sorted(p.name for p in bk.iterdir()) == ["results"]


def test_failure_while_publishing_results_leaves_nothing_behind(tree, monkeypatch):
    """Defect 3: an OSError while writing the results file is a ChapterError; no .running notebook stays."""
    import shutil

    nbs, bk = tree
    book.run("09", "smoke", notebooks=nbs, book=bk, progress=False)
    good = (bk / "09-toy.ipynb").read_bytes()

    def broken_copy(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(bk / "results"))

    monkeypatch.setattr(shutil, "copy", broken_copy)
    with pytest.raises(book.ChapterError, match="results"):
        book.run("09", "smoke", {"seed": 3}, notebooks=nbs, book=bk, progress=False)
    assert (bk / "09-toy.ipynb").read_bytes() == good
    assert not list(bk.glob(".*.running.ipynb"))
    assert not list((bk / "results").glob(".*.tmp"))


def test_summary_is_regenerated_after_each_chapter(tree):
    """Defect 4: a whole-book run that fails at a later chapter leaves a summary with the earlier ones."""
    nbs, bk = tree
    _nb(nbs / "08-first.ipynb", GOOD.replace('"09", "toy"', '"08", "first"'))
    _nb(nbs / "09-toy.ipynb", 'raise RuntimeError("chapter exploded")')
    with pytest.raises(book.ChapterError, match="exploded"):
        book.run(None, "smoke", notebooks=nbs, book=bk, progress=False)
    assert (bk / "08-first.ipynb").exists()
    assert "Chapter 08" in (bk / "summary.md").read_text()


@pytest.mark.parametrize(
    "value, message",
    [
        (True, "seed=True of 09-toy.ipynb should be an int, not a bool"),
        (-1, r"seed=-1 .* 0 <= seed < 2\*\*32"),
        (2**32, r"0 <= seed < 2\*\*32"),
        ("zero", "should be an int"),
    ],
)
def test_bad_parameters_rejected_before_anything_runs(tree, capsys, value, message):
    """Defect 5: bool for an int, negative or too large seeds; checked before the 'chapter ...' line."""
    nbs, bk = tree
    with pytest.raises(book.ChapterError, match=message):
        book.run("09", "smoke", {"seed": value}, notebooks=nbs, book=bk, progress=False)
    assert "at scale" not in capsys.readouterr().out
    assert not bk.exists()


def test_whole_book_run_validates_every_chapter_first(tree, capsys):
    """Defect 5: a parameter that a later chapter rejects stops the run before the first chapter."""
    nbs, bk = tree
    _nb(
        nbs / "08-first.ipynb",
        GOOD.replace('"09", "toy"', '"08", "first"'),
        params='scale = "smoke"\nseed = 0\nsteps = 3',
    )
    with pytest.raises(book.ChapterError, match="unknown parameter.*steps.*09-toy"):
        book.run(None, "smoke", {"steps": 1}, notebooks=nbs, book=bk, progress=False)
    assert "at scale" not in capsys.readouterr().out


def test_grammar_of_messages():
    """Defect 7: articles and plurals."""
    assert book._a("int") == "an int" and book._a("float") == "a float"
    assert book._plural(1, "step") == "1 step" and book._plural(2, "step") == "2 steps"
    assert book._plural(0, "file") == "0 files"


MISSING_DATA = """
from fasttrain.core import download
download.fetch("mnist", download=False, progress=False)
"""


def test_missing_data_is_reported_briefly_with_the_download_command(tree, monkeypatch, tmp_path):
    """Defect 7: a DataError in the kernel gives its own message and the download command, not a traceback."""
    nbs, bk = tree
    monkeypatch.setenv("FASTTRAIN_DATA", str(tmp_path / "nodata"))
    _nb(nbs / "09-toy.ipynb", MISSING_DATA)
    with pytest.raises(book.ChapterError) as info:
        book.run("09", "smoke", notebooks=nbs, book=bk, progress=False)
    msg = str(info.value)
    assert "MissingDataError" in msg and "python -m fasttrain.download mnist" in msg
    assert "Traceback" not in msg and "-----" not in msg and "\x1b[" not in msg
    assert len(msg.splitlines()) < 20, msg
    kept = bk / ".09-toy.failed.ipynb"
    nb = nbformat.read(kept, as_version=4)
    errors = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert (
        errors and len(errors[0]["traceback"]) > 1
    )  # the full traceback stays in the kept notebook


def test_final_line_names_results_and_summary(tree, capsys):
    """Defect 7: the runner's last line says where the results file and the summary went."""
    nbs, bk = tree
    book.run("09", "smoke", notebooks=nbs, book=bk, progress=False)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert str(bk / "results" / "09-toy.json") in last and str(bk / "summary.md") in last


def _kernel_declares_curve() -> bool:
    import zmq
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    return zmq.has("curve") and "curve" in (spec.metadata.get("supported_encryption") or [])


@pytest.mark.heavy
def test_kernel_talks_encrypted_and_does_not_warn_about_plain_tcp(tree, capfd):
    """Issue 24: no "[IPKernelApp] WARNING | Kernel is running over TCP without encryption" per chapter;
    the kernel gets CurveZMQ keys (a documented kernel manager setting), its stderr is not filtered."""
    if not _kernel_declares_curve():
        pytest.skip("no CurveZMQ in libzmq, or the python3 kernelspec does not declare it")
    nbs, bk = tree
    nb = nbformat.read(nbs / "09-toy.ipynb", as_version=4)
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "import os\nfrom ipykernel.connect import get_connection_info\n"
            "print('curve', 'curve_publickey' in get_connection_info(unpack=True))\n"
            "os.write(2, b'kernel stderr reaches the terminal\\n')"
        )
    )
    nbformat.write(nb, nbs / "09-toy.ipynb")
    book.run("09", "smoke", notebooks=nbs, book=bk, progress=False)
    err = capfd.readouterr().err
    assert "without encryption" not in err
    assert "kernel stderr reaches the terminal" in err
    out = nbformat.read(bk / "09-toy.ipynb", as_version=4)
    assert out.cells[-1].outputs[0]["text"] == "curve True\n"


def test_published_chapter_hides_parameters_cells_and_folds_long_plots(tree):
    nbs, bk = tree
    plot = (
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        + "\n".join(f"x{i} = {i}" for i in range(15))
        + "\nfig, ax = plt.subplots()\nplt.close(fig)"
    )
    nb = nbformat.read(nbs / "09-toy.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(plot))
    nbformat.write(nb, nbs / "09-toy.ipynb")
    book.run("09", "smoke", notebooks=nbs, book=bk, progress=False)
    out = nbformat.read(bk / "09-toy.ipynb", as_version=4)
    tags = {i: c.metadata.get("tags", []) for i, c in enumerate(out.cells)}
    defaults = [i for i, t in tags.items() if "parameters" in t]
    injected = [i for i, t in tags.items() if "injected-parameters" in t]
    assert defaults and "remove-cell" in tags[defaults[0]]
    assert injected and "remove-input" in tags[injected[0]]
    assert out.cells[injected[0]].outputs[0]["text"] == "Run at scale smoke, seed 0.\n"
    assert "hide-input" in tags[len(out.cells) - 1]
    assert "hide-input" not in tags[len(out.cells) - 2]  # the short cell stays visible


# ---------------------------------------------------------------------------
# issue 22, item 6: re-running a chapter on other seeds to check its published verdicts


def _published(folder, seed=0, scale="book"):
    """A published results file of the toy chapter: claim "c" not reproduced at 5, claim "gone" not testable."""
    from fasttrain.core import claims
    from fasttrain.core.results import ChapterResults

    rule = claims.within(1.0, 0.1, name="toy-rule", source="a toy", untestable="data absent")
    r = ChapterResults("09", "toy", scale, seed)
    r.record(
        claims.ClaimSpec("c", "analysis", "toy claim", "ours", 1.0, "u", rule), claims.exact(5.0)
    )
    r.not_testable(
        claims.ClaimSpec("gone", "book-goal", "another claim", "ours", 1.0, "u", rule),
        "no data here",
    )
    return r.write(folder)


@pytest.mark.heavy
def test_verify_reruns_on_other_seeds_and_compares_claim_by_claim(
    tree, monkeypatch, tmp_path, capsys
):
    nbs, bk = tree
    bk.mkdir()
    (bk / "sentinel.md").write_text("published")
    monkeypatch.setattr(book, "BOOK", bk)
    monkeypatch.setattr(book, "RUNS", tmp_path / "_build" / "runs")
    pub = _published(tmp_path / "published")
    before = pub.read_bytes()
    report = book.verify(
        "09", scale="smoke", published=tmp_path / "published", notebooks=nbs, progress=False
    )
    out = tmp_path / "_build" / "runs" / "verify"
    printed = capsys.readouterr().out
    print(printed)  # shown with pytest -s: the example in the report
    lines = printed.splitlines()
    header = next(i for i, ln in enumerate(lines) if ln.startswith("claim "))
    assert lines[header].split() == [
        *("claim", "kind", "published", "value", "re-run", "value", "same", "overlap", "note")
    ]
    cells = [re.split(r"\s{2,}", ln.strip()) for ln in lines[header + 2 : header + 4]]
    assert cells[0] == ["c", "analysis", "not reproduced", "5", "reproduced", "1", "no", "no"]
    assert cells[1] == [
        "gone",
        "book-goal",
        "not testable here",
        "–",
        "–",
        "–",
        "no",
        "no interval",
        "only published",
    ]
    summary = (
        "re-run with seeds 100 + k (published: 0 + k): 0 of 2 verdicts identical; "
        "moved: c (not reproduced → reproduced); only published: gone; disjoint ranges: c"
    )
    assert summary in lines and report["summary"] == summary
    # the re-run went to the verify folder with seed 100, never into book/ or the published folder
    rerun = json.loads((out / "results" / "09-toy.json").read_text())
    assert rerun["seed"] == 100 and rerun["scale"] == "smoke"
    assert "ran at smoke 100" in _text(out / "09-toy.ipynb")
    assert sorted(p.name for p in bk.iterdir()) == ["sentinel.md"]
    assert pub.read_bytes() == before and sorted(p.name for p in pub.parent.iterdir()) == [pub.name]
    saved = json.loads((out / "verify-09.json").read_text())
    assert saved["summary"] == summary and saved["seeds"] == {"published": 0, "rerun": 100}
    assert saved["scale"] == {"published": "book", "rerun": "smoke"}
    assert set(saved["wall_time_s"]) == {"published", "rerun"}
    assert [r["id"] for r in saved["rows"]] == ["c", "gone"]
    assert saved["rows"][0]["overlap"] is False and saved["rows"][1]["only"] == "published"
    md = (out / "verify-09.md").read_text()
    assert md.startswith(summary + "\n\n| claim |")
    assert "| `c` | analysis | not reproduced: 5 | reproduced: 1 | **no** | no |" in md
    assert str(out / "verify-09.json") in lines[-1] and str(out / "verify-09.md") in lines[-1]


def _on_another_cpu(monkeypatch, cpu="Another CPU 9000"):
    """This machine reports ``cpu`` to verify (the chapter's own results still record the real one)."""
    from fasttrain.core import results

    real = results.machine_info
    monkeypatch.setattr(results, "machine_info", lambda: dict(real(), cpu=cpu))


@pytest.mark.heavy
def test_verify_reruns_the_published_seeds_only_on_another_cpu(tree, monkeypatch, tmp_path):
    """A reader's check: on a CPU other than the published run's, seed 0 re-runs the published
    seeds at the published scale; the report says so and records both CPUs. On the same CPU, at
    another scale, or with --publish (the summary page shows disjoint seeds) it is refused before
    any work."""
    nbs, bk = tree
    monkeypatch.setattr(book, "BOOK", bk)
    monkeypatch.setattr(book, "RUNS", tmp_path / "runs")
    pub = _published(tmp_path / "published", scale="smoke").parent
    kw = dict(published=pub, notebooks=nbs, progress=False)
    with pytest.raises(book.ChapterError, match="only on another CPU at the published scale"):
        book.verify("09", seed=0, scale="smoke", **kw)  # this CPU ran the published file
    _on_another_cpu(monkeypatch)
    with pytest.raises(book.ChapterError, match="scale book, published smoke"):
        book.verify("09", seed=0, scale="book", **kw)
    assert not (tmp_path / "runs").exists()  # nothing ran
    report = book.verify("09", seed=0, scale="smoke", **kw)
    assert report["seeds"] == {"published": 0, "rerun": 0}
    assert report["summary"].startswith(
        "re-run with seeds 0 + k (the published seeds) on another CPU (Another CPU 9000; "
        "published on "
    )
    assert (
        report["cpu"]["published"]
        == json.loads((pub / "09-toy.json").read_text())["machine"]["cpu"]
    )
    # compared claim by claim as any re-run (the toy's published file is made up: c at 5, the
    # toy computes 1; "gone" is only in the published file)
    assert [(r["id"], r["same_verdict"]) for r in report["rows"]] == [("c", False), ("gone", False)]


def test_verify_of_the_published_seeds_is_never_published(tree, monkeypatch, tmp_path):
    nbs, bk = tree
    monkeypatch.setattr(book, "BOOK", bk)
    _published(bk / "results")
    _on_another_cpu(monkeypatch)
    with pytest.raises(book.ChapterError, match="--publish keeps re-run checks on disjoint seeds"):
        book.verify("09", seed=0, scale="book", publish=True, notebooks=nbs, progress=False)
    assert sorted(p.name for p in bk.iterdir()) == ["results"]


def test_verify_refuses_before_any_work(tree, monkeypatch, tmp_path, capsys):
    """No published results file, the published run's own seed, an output folder in book/, bad
    seeds and unknown chapters are refused before the chapter runs."""
    nbs, bk = tree
    monkeypatch.setattr(book, "BOOK", bk)
    monkeypatch.setattr(book, "RUNS", tmp_path / "runs")
    empty = tmp_path / "nothing-published"
    empty.mkdir()
    kw = dict(scale="smoke", notebooks=nbs, progress=False)
    with pytest.raises(
        book.ChapterError, match="no published results file.*chapter 09.*nothing was run"
    ):
        book.verify("09", published=empty, **kw)
    pub = _published(tmp_path / "site" / "results").parent
    with pytest.raises(book.ChapterError, match="seed 0 is the published run's"):
        book.verify("09", seed=0, published=pub, **kw)
    with pytest.raises(book.ChapterError, match="never writes over published results"):
        book.verify("09", published=pub, out=bk / "verify", **kw)
    with pytest.raises(book.ChapterError, match="never writes over published results"):
        book.verify(
            "09", published=pub, out=pub.parent, **kw
        )  # out/results is the published folder
    with pytest.raises(book.ChapterError, match="never writes over published results"):
        book.verify("09", published=pub, out=pub / "x", **kw)
    with pytest.raises(book.ChapterError, match=r"0 <= seed < 2\*\*32"):
        book.verify("09", seed=-1, published=pub, **kw)
    with pytest.raises(book.ChapterError, match="no chapter '42'"):
        book.verify("42", published=pub, **kw)
    with pytest.raises(book.ChapterError, match="unknown scale"):
        book.verify("09", scale="huge", published=pub, notebooks=nbs)
    with pytest.raises(book.ChapterError, match="--publish compares against the book's own"):
        book.verify("09", published=pub, publish=True, **kw)  # not book/results, not scale book
    assert "at scale" not in capsys.readouterr().out  # nothing was executed
    assert not bk.exists() and not (tmp_path / "runs").exists()
    assert sorted(p.name for p in pub.iterdir()) == ["09-toy.json"]


def test_verify_cli(capsys):
    with pytest.raises(SystemExit):
        book.main(["verify"])  # --chapter is required: one chapter per call
    assert "--chapter" in capsys.readouterr().err
    assert book.main(["verify", "--chapter", "42"]) == 2
    assert "no chapter '42'" in capsys.readouterr().err
    assert book.main(["verify", "--chapter", "01", "--scale", "huge"]) == 2
    assert "unknown scale" in capsys.readouterr().err


def test_kernels_stay_on_the_cpu_unless_the_user_or_the_paper_scale_says_otherwise():
    assert book.kernel_env("book", {})["JAX_PLATFORMS"] == "cpu"
    assert book.kernel_env("smoke", {})["JAX_PLATFORMS"] == "cpu"
    assert (
        book.kernel_env("paper", {})["JAX_PLATFORMS"] is None
    )  # JAX's choice: a GPU if there is one
    assert book.kernel_env("book", {"JAX_PLATFORMS": "cuda"})["JAX_PLATFORMS"] == "cuda"
    before = os.environ.get("JAX_PLATFORMS")
    with book._environ({"JAX_PLATFORMS": None}):
        assert "JAX_PLATFORMS" not in os.environ
    assert os.environ.get("JAX_PLATFORMS") == before
