"""Issue 13, defect 6: neither a terminated runner nor a test session leaves folders in the temporary directory."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def _env(tmpdir: Path) -> dict:
    env = dict(os.environ)
    env["TMPDIR"] = str(tmpdir)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "lib"), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    return env


def test_sigterm_leaves_no_temporary_folder(tmp_path):
    tmpdir, nbs, out = tmp_path / "tmp", tmp_path / "notebooks", tmp_path / "out"
    tmpdir.mkdir()
    nbs.mkdir()
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell('scale = "smoke"\nseed = 0')
    p.metadata["tags"] = ["parameters"]
    marker = tmp_path / "started"
    nb.cells = [
        p,
        nbformat.v4.new_code_cell(
            f"import time\nopen({str(marker)!r}, 'w').close()\ntime.sleep(120)"
        ),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, nbs / "09-sleep.ipynb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fasttrain.book",
            "run",
            "--scale",
            "smoke",
            "--chapter",
            "09",
            "--notebooks",
            str(nbs),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env=_env(tmpdir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "the runner did not start the chapter"
            time.sleep(0.2)
        assert list(tmpdir.glob("fasttrain-run-*"))  # the folder that must go away
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    assert not list(tmpdir.glob("fasttrain-run-*")), output
    assert not list(out.glob(".*.running.ipynb")), output
    assert not (out / "09-sleep.ipynb").exists()


def test_pytest_session_removes_its_results_folder(tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = _env(tmpdir)
    env.pop("FASTTRAIN_RESULTS_DIR", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_book.py::test_parameters_are_read_from_the_tagged_cell",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert not list(tmpdir.glob("fasttrain-test-results-*"))
