"""The prose names only library paths that exist: every dotted ``fasttrain.x[.y...]`` in the chapters'
narrative (markdown cells of notebooks/ and book/), the book's pages (book/*.md) and the README resolves to
an importable module or an attribute of one."""

import importlib
import importlib.util
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]

#: a dotted path into the library: ``fasttrain`` and at least one more name (a sentence's full stop ends it)
DOTTED = re.compile(r"(?<![\w.])fasttrain(?:\.[A-Za-z_]\w*)+")


def _sources() -> list[Path]:
    return [
        *sorted((ROOT / "notebooks").glob("*.ipynb")),
        *sorted((ROOT / "book").glob("*.ipynb")),
        *sorted((ROOT / "book").glob("*.md")),
        ROOT / "README.md",
    ]


def _prose(path: Path) -> str:
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return path.read_text(encoding="utf-8")


def _resolves(dotted: str) -> bool:
    """Whether ``dotted`` names a module or an attribute of one: each name after ``fasttrain`` is an
    attribute of what precedes it or, below a package, a submodule (imported; its own errors propagate)."""
    first, *rest = dotted.split(".")
    obj = importlib.import_module(first)
    for name in rest:
        if hasattr(obj, name):
            obj = getattr(obj, name)
            continue
        spec_name = getattr(obj, "__name__", None)
        if not (hasattr(obj, "__path__") and spec_name):
            return False  # not a package: no submodule to look for
        full = f"{spec_name}.{name}"
        if importlib.util.find_spec(full) is None:
            return False
        obj = importlib.import_module(full)
    return True


def test_the_resolver_tells_moved_paths_from_real_ones():
    assert _resolves("fasttrain.methods.random_bases")
    assert _resolves("fasttrain.methods.random_bases.train_seeds")
    assert _resolves("fasttrain.core.results.ChapterResults")
    assert not _resolves("fasttrain.random_bases")  # the module's old place (issue 24)
    assert not _resolves("fasttrain.core.results.NoSuchThing")
    assert not _resolves("fasttrain.core.results.ChapterResults.no_such_method")


def test_the_pattern_finds_paths_in_prose():
    text = (
        "see `fasttrain.core.timing.interleaved`. Run `python -m fasttrain.book run`; "
        "the package `fasttrain` alone, lib/fasttrain/methods and x.fasttrain.y are not paths."
    )
    assert DOTTED.findall(text) == ["fasttrain.core.timing.interleaved", "fasttrain.book"]


@pytest.mark.parametrize("path", _sources(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_library_path_named_in_the_prose_exists(path):
    named = sorted(set(DOTTED.findall(_prose(path))))
    missing = [n for n in named if not _resolves(n)]
    assert not missing, (
        f"{path.relative_to(ROOT)} names library paths that do not exist: {missing} "
        "(a notebook's narrative is fixed in notebooks/, then `python -m fasttrain.book prose --chapter NN`)"
    )
