"""Shared test set-up: CPU JAX, results files kept out of the repository, reference checks last."""

import os
import shutil
import tempfile

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# chapter notebooks executed by nbval write their results JSON here, not into notebooks/;
# set at import time (before nbval starts any kernel), removed when the session ends
_RESULTS_DIR = None
if "FASTTRAIN_RESULTS_DIR" not in os.environ:
    _RESULTS_DIR = tempfile.mkdtemp(prefix="fasttrain-test-results-")
    os.environ["FASTTRAIN_RESULTS_DIR"] = _RESULTS_DIR


def pytest_collection_modifyitems(session, config, items):
    """Run the tests marked ``after_notebooks`` after nbval's notebook cells: they read the results
    files the notebooks wrote (tests/test_reference.py)."""
    late = [it for it in items if it.get_closest_marker("after_notebooks")]
    if late:
        items[:] = [it for it in items if not it.get_closest_marker("after_notebooks")] + late


def pytest_sessionfinish(session, exitstatus):
    if _RESULTS_DIR is not None:
        shutil.rmtree(_RESULTS_DIR, ignore_errors=True)
