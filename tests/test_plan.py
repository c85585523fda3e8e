"""The plan before a run (``python -m fasttrain.book plan``; fasttrain.core.plan, fasttrain.chapters.plan).

* the calibration arithmetic: time = compiles x compile + count x [min, median, max] of the timed
  calls; extrapolation from smaller sizes where one call would not fit; errors reported, not raised;
* the paper-scale plan refuses before any calibration when a data set is missing and cannot be
  fetched (no network: the probe is replaced);
* after the notebooks: the smoke-scale plan of every chapter (made as ``make plan`` makes it, two
  chapters at a time, each worker pinned to a core) agrees within :data:`FACTOR` with the wall time
  of the chapter's smoke run measured in the same test session (nbval's run; run alone, the test
  runs the chapter itself).
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fasttrain import book
from fasttrain.core import plan as P

ROOT = Path(__file__).resolve().parents[1]

#: the plan's median total must lie within [measured / FACTOR, measured x FACTOR]. Measured ratios
#: plan / run: 0.54, 0.57, 0.68, 0.42 (01-04; 0.38-0.68 over the plans made while it was built):
#: at smoke scale the plan leaves out the notebook's imports, tables and figures, and the chapters
#: compile more variants than the calibration does (compilation is most of a smoke run); at paper
#: scale the steps dominate and the counts are budgets (upper bounds). 4 covers the measured ratios
#: with room for the machine's load.
FACTOR = 4.0


def _work(label, call, count=10, **kw):
    return P.Work(label, call, count, "test", **kw)


def test_calibration_carries_the_spread_and_the_compile_time():
    calls = []

    def fn():
        calls.append(1)
        time.sleep(0.05 if len(calls) == 1 else 0.01)  # the first call "compiles"
        return 0

    sec = P.Section("s", (_work("w", fn, count=100, compiles=2),), 1e3, "1 kB")
    (est,) = P.estimate_sections([sec], memory_limit=10**12)
    cal = est.works[0].cal
    assert len(cal.times) == P.REPEATS and len(calls) == P.REPEATS + 1
    lo, mid, hi = est.seconds
    assert lo <= mid <= hi
    assert 100 * 0.01 <= mid < 100 * 0.05 + 2 * 0.05
    assert cal.compile_s == pytest.approx(0.04, abs=0.03)


def test_a_call_that_does_not_fit_is_extrapolated_and_a_failing_call_reported():
    big = _work(
        "big",
        lambda: pytest.fail("the paper-size call must not run"),
        memory_bytes=50e9,
        fallback=lambda: time.sleep(0.002),
        fallback_factor=8.0,
        fallback_how="~ n^3 from n/2",
    )
    bad = _work("bad", lambda: (_ for _ in ()).throw(ValueError("shapes (3,) and (4,)")))
    sec = P.Section("s", (big, bad), 60e9, "a formula")
    (est,) = P.estimate_sections([sec], memory_limit=24 * 10**9)
    flags = "\n".join(est.flags)
    assert "will not fit: needs 60.0 GB" in flags
    assert "extrapolation: 1 of 2 items" in flags
    assert (
        "needs 50.0 GB" in est.works[0].cal.extrapolated and "x 8" in est.works[0].cal.extrapolated
    )
    assert "FAILED at these shapes (bad): ValueError: shapes (3,) and (4,)" in flags
    assert est.works[0].cal.spread[1] >= 8 * 0.002


def test_timed_calls_report_their_own_compile_time():
    sec = P.Section("s", (_work("w", lambda: P.Timed(0.5, 2.0), count=4, repeats=0),), 0, "-")
    (est,) = P.estimate_sections([sec])
    assert est.seconds == pytest.approx((4.0, 4.0, 4.0))


def test_can_fetch_says_no_without_network(monkeypatch):
    def offline(*a, **k):
        raise OSError("network is unreachable (test)")

    monkeypatch.setattr(P.urllib.request, "urlopen", offline)
    ok, reason = P.can_fetch("mnist")
    assert not ok and "unreachable" in reason


def test_paper_plan_refuses_before_any_work_when_data_cannot_be_fetched(monkeypatch, tmp_path):
    monkeypatch.setenv("FASTTRAIN_DATA", str(tmp_path))  # an empty cache: no MNIST
    monkeypatch.setattr(P, "calibrate", lambda *a, **k: pytest.fail("calibrated before refusing"))
    with pytest.raises(book.ChapterError) as err:
        book.plan("03", "paper", fetch_probe=lambda name: (False, "offline (test)"), out=print)
    msg = str(err.value)
    assert "refused" in msg and "mnist" in msg and "offline (test)" in msg
    assert str(tmp_path / "mnist") in msg
    # the optional extra data sets of Table 1 do not block it
    assert "fashion_mnist" not in msg and "cifar10" not in msg


def test_a_fetchable_download_is_a_line_not_a_refusal(monkeypatch, tmp_path):
    monkeypatch.setenv("FASTTRAIN_DATA", str(tmp_path))
    sec = P.Section("s", (), 0, "-", (P.DataNeed("mnist", "download"),))
    (status,) = P.check_data([sec], fetch_probe=lambda name: (True, ""))
    assert not status.here and status.fetchable
    assert "needs a download of 11.6 MB" in status.text()


def test_the_cli_rejects_unknown_chapters_and_scales(capsys):
    assert book.main(["plan", "--scale", "smoke", "--chapter", "99"]) == 2
    assert "unknown chapter" in capsys.readouterr().err
    with pytest.raises(ValueError):
        book.plan(None, "huge")


@pytest.fixture(scope="module")
def smoke_plans(tmp_path_factory):
    """Every chapter's smoke-scale plan, made once the way ``make plan`` makes it: all chapters,
    two at a time in worker processes pinned to a core each (``--jobs 2``). Without the session's
    compilation cache (tests/conftest.py): a plan calibrates the compilation a user's fresh run
    pays, and programs the notebooks compiled earlier in the session would load in a fraction of
    it."""
    out = tmp_path_factory.mktemp("plan") / "plan.json"
    env = dict(os.environ, JAX_ENABLE_COMPILATION_CACHE="false")
    t0 = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "fasttrain.book", "plan", "--scale", "smoke", "--brief"]
        + ["--jobs", "2", "--json", str(out)],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    return {p["chapter"]: p for p in json.loads(out.read_text())}, time.perf_counter() - t0, run


@pytest.mark.heavy
@pytest.mark.after_notebooks
def test_a_parallel_plan_prints_every_chapter_in_order(smoke_plans):
    plans, took, run = smoke_plans
    assert sorted(plans) == sorted(book.chapters())
    heads = [line for line in run.stdout.splitlines() if line.startswith("chapter ")]
    assert [h.split()[1] for h in heads] == sorted(book.chapters())
    assert "on 1 core" in heads[0]  # each worker pinned to its own core
    assert run.stdout.rstrip().splitlines()[-1].startswith("  every chapter:")
    assert took < 300  # a plan is minutes at most, never the run itself


@pytest.mark.heavy
@pytest.mark.after_notebooks
@pytest.mark.parametrize("chapter", sorted(book.chapters()))
def test_smoke_plan_agrees_with_the_measured_smoke_run(chapter, smoke_plans, smoke_results):
    p = smoke_plans[0][chapter]
    lo, mid, hi = p["seconds"]
    measured = smoke_results(chapter)["wall_time_s"]
    print(
        f"chapter {chapter}: plan {mid:.1f} s [{lo:.1f}, {hi:.1f}], measured {measured:.1f} s, "
        f"ratio {mid / measured:.2f}; plan made in {p['plan_wall_s']:.0f} s on one core"
    )
    assert lo <= mid <= hi
    assert measured / FACTOR <= mid <= measured * FACTOR, (chapter, mid, measured)
