"""Shared test set-up: CPU JAX, results files kept out of the repository, a compilation cache for
the session, reference checks last."""

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

#: when this test session started: a smoke results file older than this is not this session's
SESSION_START = time.time()

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# chapter notebooks executed by nbval write their results JSON here, not into notebooks/;
# set at import time (before nbval starts any kernel), removed when the session ends
_RESULTS_DIR = None
if "FASTTRAIN_RESULTS_DIR" not in os.environ:
    _RESULTS_DIR = tempfile.mkdtemp(prefix="fasttrain-test-results-")
    os.environ["FASTTRAIN_RESULTS_DIR"] = _RESULTS_DIR

#: JAX's persistent compilation cache, shared by the session's processes (the pytest-xdist workers,
#: nbval's kernels, the subprocesses tests start; all inherit the environment set here) and removed
#: when the session ends. Compilation is most of a smoke run, and the suite compiles the same
#: programs in several processes (a notebook and the tests of its chapter) and re-jits identical
#: ones in one: measured on an AMD EPYC in CI-style runs, pytest took 652-785 s with it against 823 s
#: without (the host's speed moves such runs by tens of seconds). A program
#: loaded from the cache is the compiled one (tests/test_compilation_cache.py checks the numbers
#: bit for bit). The size limit turns on JAX's file lock around each entry's read and write (the
#: filelock package), so a process never reads an entry another is still writing. Set
#: FASTTRAIN_TEST_COMPILATION_CACHE=0 to run without it.
_CACHE_DIR = None
if (
    "JAX_COMPILATION_CACHE_DIR" not in os.environ
    and os.environ.get("FASTTRAIN_TEST_COMPILATION_CACHE", "1") != "0"
):
    _CACHE_DIR = tempfile.mkdtemp(prefix="fasttrain-test-jax-cache-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _CACHE_DIR
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")
    os.environ.setdefault("JAX_COMPILATION_CACHE_MAX_SIZE", str(8 * 2**30))


#: the test modules that read the results files nbval's notebook runs write (their tests are marked
#: ``after_notebooks``): under pytest-xdist they run in the notebooks' worker (see below)
AFTER_NOTEBOOK_MODULES = ("tests/test_reference.py", "tests/test_plan.py")


def pytest_collection_modifyitems(session, config, items):
    """Run the tests marked ``after_notebooks`` after nbval's notebook cells: they read the results
    files the notebooks wrote (tests/test_reference.py)."""
    late = [it for it in items if it.get_closest_marker("after_notebooks")]
    if late:
        items[:] = [it for it in items if not it.get_closest_marker("after_notebooks")] + late
    stray = {it.nodeid.split("::")[0] for it in late} - set(AFTER_NOTEBOOK_MODULES)
    if stray:
        raise pytest.UsageError(
            f"tests marked after_notebooks in {sorted(stray)}: add the module to "
            "tests/conftest.py AFTER_NOTEBOOK_MODULES, so that pytest-xdist runs it in the "
            "notebooks' worker"
        )


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: unknown where xdist is absent
def pytest_xdist_make_scheduler(config, log):
    """``make test`` runs two pytest-xdist workers. Each test module is one unit a worker runs
    whole (its module fixtures are made once); nbval's notebooks and the modules that read their
    results files are one unit, run by one worker in collection order (notebook cells first, then
    the ``after_notebooks`` tests). It is the largest unit, so it starts first and the other
    worker takes the modules meanwhile. (Our own grouping: pytest-xdist 3.8's ``loadgroup`` does
    not group under pytest 9, whose nodes no longer keep a ``_nodeid`` it could suffix.)"""
    from xdist.scheduler import LoadScopeScheduling

    class Modules(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            if path.startswith("notebooks/") or path in AFTER_NOTEBOOK_MODULES:
                return "notebooks"
            return path

    return Modules(config, log)


def pytest_sessionfinish(session, exitstatus):
    if _RESULTS_DIR is not None:
        shutil.rmtree(_RESULTS_DIR, ignore_errors=True)
    if _CACHE_DIR is not None:
        shutil.rmtree(_CACHE_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def smoke_results(tmp_path_factory):
    """``chapter -> results dict`` of this session's smoke run (nbval's, else a run of its own):
    read by the reference check and the plan's check against the measured smoke wall time."""
    from fasttrain import book

    cache = {}

    def get(ch: str) -> dict:
        if ch not in cache:
            name = book.chapters()[ch].stem + ".json"
            made = Path(os.environ.get("FASTTRAIN_RESULTS_DIR", "results")) / name
            if not (made.exists() and made.stat().st_mtime >= SESSION_START):
                out = tmp_path_factory.mktemp(f"smoke-{ch}")
                print(f"\n[smoke_results] no smoke results of chapter {ch} from nbval: running it")
                book.run(ch, "smoke", book=out, progress=False)
                made = out / "results" / name
            cache[ch] = json.loads(made.read_text(encoding="utf-8"))
        return cache[ch]

    return get
