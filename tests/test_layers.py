"""The library's three layers: core <- methods <- chapters, and entry points nothing imports.

* ``fasttrain.core`` imports neither methods nor chapters;
* a method imports core only: never a chapter, never another method;
* chapters import core, methods and shared protocol modules of ``fasttrain.chapters`` that are not
  chapters themselves (``multiprocess_study``), never another chapter;
* nothing inside the library imports an entry point (``fasttrain.book``, ``fasttrain.download``,
  ``fasttrain.distributed``);
* across layers only public names are used: no module reaches a ``_private`` name of a module of
  another layer, by attribute (``rb._x``) or by import (``from ..methods.m import _x``).
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


def _from_module(node: ast.ImportFrom, package: str) -> str:
    """The module a ``from X import ...`` statement reads from, relative imports resolved."""
    if not node.level:
        return node.module or ""
    base = package.split(".")
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(path: Path) -> set[str]:
    """Every fasttrain module that ``path`` imports (absolute or relative, at any depth)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("fasttrain")}
        elif isinstance(node, ast.ImportFrom):
            mod = _from_module(node, package)
            if not mod.startswith("fasttrain"):
                continue
            # "from fasttrain.core import data" imports the module fasttrain.core.data (a module
            # or a package: "from ..chapters import ch01_linear_ivp" imports the chapter's package)
            for a in node.names:
                sub = f"{mod}.{a.name}"
                out.add(sub if _is_module(sub) else mod)
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


def _is_private(name: str) -> bool:
    """``_x`` is private; a dunder (``__name__``, ``__all__``) is not."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_module(name: str) -> bool:
    base = LIB.parent / name.replace(".", "/")
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def _private_uses(path: Path, source: str | None = None) -> list[tuple[int, str, str]]:
    """``(line, module, name)`` for every private name of another fasttrain module that ``path``
    (or ``source``, read as if it were ``path``) reaches: by import (``from ..methods.m import
    _x``) or by attribute of a module it imported (``m._x``, ``fasttrain.methods.m._x``)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8") if source is None else source)
    bound: dict[str, str] = {}  # local name -> the fasttrain module or package it is bound to
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("fasttrain"):
                    bound[a.asname or "fasttrain"] = a.name if a.asname else "fasttrain"
        elif isinstance(node, ast.ImportFrom):
            mod = _from_module(node, package)
            if not mod.startswith("fasttrain"):
                continue
            for a in node.names:
                if _is_private(a.name):
                    out.append((node.lineno, mod, a.name))
                elif _is_module(f"{mod}.{a.name}"):
                    bound[a.asname or a.name] = f"{mod}.{a.name}"

    def owner(expr) -> str | None:
        """The fasttrain module ``expr`` (``rb``, ``fasttrain.methods.random_bases``) names, if any."""
        if isinstance(expr, ast.Name):
            return bound.get(expr.id)
        if isinstance(expr, ast.Attribute):
            base = owner(expr.value)
            if base is not None and _is_module(f"{base}.{expr.attr}"):
                return f"{base}.{expr.attr}"
        return None

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            mod = owner(node.value)
            if mod is not None:
                out.append((node.lineno, mod, node.attr))
    return sorted(out)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_no_private_names_across_layers(path):
    """A module reaches into another layer through public names only: a chapter calls
    ``rb.stream_key``, never ``rb._stream_key`` (within a layer, private helpers may be shared)."""
    me = _module_name(path)
    crossing = [
        f"line {line}: {mod}.{attr}"
        for line, mod, attr in _private_uses(path)
        if _layer(mod) != _layer(me)
    ]
    assert not crossing, (
        f"{me} ({_layer(me)}) uses private names of another layer; make them public there:\n"
        + "\n".join(crossing)
    )


def test_the_private_checker_sees_violations():
    """Every way of reaching a private name is seen; dunders, ``self._x`` and non-fasttrain
    modules are not private uses."""
    chapter = LIB / "chapters" / "ch03_random_bases.py"
    src = (
        "import jax\n"
        "import fasttrain.methods.gauss_newton\n"
        "import fasttrain.core.models as M\n"
        "from ..methods import random_bases as rb\n"
        "from ..methods.layer_parallel import _mgrit_intervals_jit, mgrit\n"
        "from ..core import data\n"
        "from . import multiprocess_study as mps\n"
        "def f(self):\n"
        "    rb._dense_block(1)\n"
        "    fasttrain.methods.gauss_newton._tri_inverse(1)\n"
        "    M._private\n"
        "    data._cache\n"
        "    mps._sgd_step\n"
        "    rb.__name__, self._x, jax._src, rb.step_key\n"
    )
    assert _private_uses(chapter, src) == [
        (5, "fasttrain.methods.layer_parallel", "_mgrit_intervals_jit"),
        (9, "fasttrain.methods.random_bases", "_dense_block"),
        (10, "fasttrain.methods.gauss_newton", "_tri_inverse"),
        (11, "fasttrain.core.models", "_private"),
        (12, "fasttrain.core.data", "_cache"),
        (13, "fasttrain.chapters.multiprocess_study", "_sgd_step"),
    ]
    # the last is within the chapters layer: allowed, as core.results importing core.tables._format
    assert [_layer(m) for _, m, _ in _private_uses(chapter, src)][-1] == "chapters"
