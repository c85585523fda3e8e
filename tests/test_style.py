"""Lint and format, as configured in pyproject.toml ([tool.ruff]): ruff over lib/, tests/ and the notebooks."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUFF = Path(sys.executable).with_name("ruff")


@pytest.mark.parametrize("args", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff(args):
    assert RUFF.exists(), (
        f"ruff is not installed next to {sys.executable}: `make venv` installs requirements.txt"
    )
    proc = subprocess.run(
        [str(RUFF), *args, "lib", "tests", "notebooks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, (
        f"ruff {' '.join(args)} failed (fix with `ruff format` / `ruff check --fix`):\n"
        f"{proc.stdout[-4000:]}{proc.stderr[-1000:]}"
    )
