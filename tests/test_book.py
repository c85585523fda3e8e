"""The papermill runner: parameter checks, loud failures, atomic publishing."""

import json

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
from fasttrain.core.results import ChapterResults
r = ChapterResults("09", "toy", scale, seed)
r.add("c", "toy claim", 1.0, 1.0, "u", "exact", "reproduced", "it is")
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
    with pytest.raises(book.ChapterError, match="should be a int"):
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
