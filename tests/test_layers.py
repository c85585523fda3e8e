"""The library's three layers: core <- methods <- chapters, and entry points nothing imports.

* ``fasttrain.core`` imports neither methods nor chapters;
* a method imports core only: never a chapter, never another method;
* chapters import core, methods and shared protocol modules of ``fasttrain.chapters`` that are not
  chapters themselves (``multiprocess_study``), never another chapter;
* nothing inside the library imports an entry point (``fasttrain.book``, ``fasttrain.download``,
  ``fasttrain.distributed``).
"""

import ast
import re
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib" / "fasttrain"
ENTRY_POINTS = {"fasttrain.book", "fasttrain.download", "fasttrain.distributed"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(LIB.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every fasttrain module that ``path`` imports (absolute or relative, at any depth)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("fasttrain")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("fasttrain"):
                continue
            # "from fasttrain.core import data" imports the module fasttrain.core.data
            for a in node.names:
                sub = f"{mod}.{a.name}"
                out.add(sub if (LIB.parent / (sub.replace(".", "/") + ".py")).exists() else mod)
    return out


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in ("core", "methods", "chapters"):
        return parts[1]
    return "entry" if module in ENTRY_POINTS else "package"


MODULES = sorted(p for p in LIB.rglob("*.py"))


def test_the_three_layers_exist():
    layers = {_layer(_module_name(p)) for p in MODULES}
    assert {"core", "methods", "chapters", "entry"} <= layers


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_imports_respect_the_layers(path):
    me = _module_name(path)
    layer = _layer(me)
    for dep in _imports(path):
        dl = _layer(dep)
        assert dep not in ENTRY_POINTS or me == dep, f"{me} imports the entry point {dep}"
        if layer == "core":
            assert dl in ("core", "package"), f"core module {me} imports {dep}"
        elif layer == "methods":
            assert dl in ("core", "package") or dep in (me, "fasttrain.methods"), (
                f"method {me} imports {dep}: methods import core only, never another method or a chapter"
            )
        elif layer == "chapters":
            assert (
                dl in ("core", "methods", "package")
                or dep in (me, "fasttrain.chapters")
                or _is_shared_protocol(dep)
            ), (
                f"chapter {me} imports {dep}: chapters import core, methods and shared protocol "
                "modules, never another chapter"
            )


def _is_shared_protocol(module: str) -> bool:
    """A module of ``fasttrain.chapters`` that is not a chapter (``chNN_*``): a protocol two
    chapters share, such as ``multiprocess_study`` (chapters 03 and 04 across processes)."""
    name = module.rsplit(".", 1)[-1]
    return module.startswith("fasttrain.chapters.") and not re.match(r"ch\d\d_", name)


def test_the_checker_sees_violations(tmp_path, monkeypatch):
    """The import reader resolves relative imports, so a method importing another method is caught."""
    bad = LIB / "methods" / "gauss_newton.py"
    deps = _imports(bad)
    assert "fasttrain.core.hadamard" in deps
    assert all(_layer(d) != "methods" for d in deps)
    fake = LIB / "methods" / "lsgd.py"
    src = ast.parse("from . import random_bases\nfrom ..chapters import ch01_linear_ivp\n")
    monkeypatch.setattr(ast, "parse", lambda *_a, **_k: src)
    assert {"fasttrain.methods.random_bases", "fasttrain.chapters.ch01_linear_ivp"} <= _imports(
        fake
    )


def test_a_chapter_is_not_a_shared_protocol():
    assert _is_shared_protocol("fasttrain.chapters.multiprocess_study")
    assert not _is_shared_protocol("fasttrain.chapters.ch01_linear_ivp")
    assert not _is_shared_protocol("fasttrain.methods.lsgd")
