"""Every module path the prose names exists (issue 24, item 7).

The chapters' markdown, the book's pages and the README name library objects in code spans
(`fasttrain.methods.random_bases.train_seeds`, `ch03_random_bases.start_background`,
`multiprocess_study.almost_linear_weak_scaling`, ...).  A module that moves or a function renamed
leaves such a name pointing nowhere; this test resolves each one.
"""

import importlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: short prefixes the prose uses for the library's modules
SHORT = {
    **{
        p.name: f"fasttrain.chapters.{p.name}"
        for p in (ROOT / "lib/fasttrain/chapters").glob("ch0*")
    },
    "multiprocess_study": "fasttrain.chapters.multiprocess_study",
    **{
        p.stem: f"fasttrain.methods.{p.stem}"
        for p in (ROOT / "lib/fasttrain/methods").glob("*.py")
        if not p.stem.startswith("_")
    },
}
NAME = re.compile(r"`((?:fasttrain|" + "|".join(map(re.escape, SHORT)) + r")(?:\.[A-Za-z_]\w*)+)")


def _texts():
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        yield (
            nb.name,
            "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown"),
        )
    for md in [ROOT / "README.md", *sorted((ROOT / "book").glob("*.md"))]:
        yield md.name, md.read_text()


def _names():
    seen = {}
    for where, text in _texts():
        for m in NAME.finditer(text):
            seen.setdefault(m.group(1), where)
    return sorted(seen.items())


def _resolve(dotted: str):
    head, *rest = dotted.split(".")
    parts = (SHORT[head].split(".") if head in SHORT else [head]) + rest
    # the longest importable module prefix, then attributes
    for k in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:k]))
        except ModuleNotFoundError:
            continue
        for a in parts[k:]:
            obj = getattr(obj, a)
        return obj
    raise ModuleNotFoundError(dotted)


NAMES = _names()


def test_the_prose_names_library_objects():
    assert len(NAMES) >= 20  # the chapters do name their functions


@pytest.mark.parametrize("name, where", NAMES, ids=[n for n, _ in NAMES])
def test_every_name_the_prose_gives_exists(name, where):
    try:
        _resolve(name)
    except (ModuleNotFoundError, AttributeError) as exc:
        pytest.fail(f"{where} names `{name}`, which does not exist: {exc}")
