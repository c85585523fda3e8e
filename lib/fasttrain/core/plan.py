"""A plan before a run: data, memory and time of each section of a chapter, in seconds.

A chapter's plan is a list of :class:`Section` (built by ``fasttrain.chapters.plan`` from the
chapter's configuration).  Each section names the data it needs (:class:`DataNeed`), a memory
estimate from the configuration's array sizes (``memory_bytes`` with its ``memory_formula`` in
words), and :class:`Work` items: a callable that runs the section's real code path **once at the
configuration's shapes** (one training step, one solve, one timed call), how many such calls the
section makes (``count``: steps x seeds x rounds, as stated in ``how``) and how many times it
compiles.  :func:`make_plan` then

1. checks every data set first (:func:`data_status`): here (vendored or cached, sha256-verified),
   or missing, with its size and whether it can be fetched (:func:`can_fetch`).  A data set that
   is missing and cannot be fetched makes the plan refuse (:class:`PlanRefused`) before any
   calibration runs, unless ``without_data=True`` (then the sections are calibrated anyway -- their
   calls use random arrays of the data's shapes -- and the plan says what is missing);
2. calibrates each work item (:func:`calibrate`): one untimed first call (compilation and
   warm-up; its excess over the timed calls is the compile time), then up to ``repeats`` timed
   calls within a time budget; the time estimate of the item is
   ``compiles x compile + count x [min, median, max]`` of the timed calls, so the calibration's
   own spread is carried into every total (sums of the minima, medians and maxima);
3. measures the section's peak resident memory over its calibration calls (the process's peak
   RSS, reset per section where Linux allows it, :func:`peak_rss_reset`), beside the formula;
4. where the formula exceeds the machine's memory (``memory_limit``), does not run the paper-size
   call: it runs the item's ``fallback`` (smaller shapes) and multiplies by ``fallback_factor``
   (the cost law in ``fallback_how``), labelled an extrapolation.

An error raised by a calibration call (a shape that only occurs at these sizes, an allocation
that fails) is reported in the plan with its message instead of stopping it.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import data as data_mod
from . import download
from .timing import block, pinned_blas

#: seconds of timed calls per work item after its first call (the calibration budget)
CALL_BUDGET_S = 4.0
#: a first call longer than this is the calibration (no timed call after it, no spread)
SINGLE_S = 20.0
#: timed calls per work item at most
REPEATS = 2
GB = 1e9


class PlanRefused(RuntimeError):
    """A data set the plan needs is missing and cannot be fetched; nothing was calibrated."""


# --------------------------------------------------------------------------- declarations


@dataclass(frozen=True)
class DataNeed:
    """A data set a section reads: a vendored file of :data:`fasttrain.core.data.CHECKSUMS`
    (``kind="vendored"``) or a data set of :data:`fasttrain.core.download.REGISTRY`
    (``kind="download"``).  ``optional``: the chapter skips what needs it when it is absent."""

    name: str
    kind: str = "vendored"
    optional: bool = False


@dataclass(frozen=True)
class Timed:
    """What a calibration call may return to time itself: the run's own ``seconds`` (and the
    ``compile_s`` it spent compiling inside the call), e.g. a training loop that compiles on
    every call and reports both."""

    seconds: float
    compile_s: float = 0.0


@dataclass(frozen=True)
class Work:
    """One calibrated unit of a section: ``call()`` runs the real code path once at the
    section's shapes; the section makes ``count`` such calls and ``compiles`` compilations.

    ``how`` says where ``count`` comes from (steps x seeds x rounds of the configuration).
    ``memory_bytes``: the formula's estimate of this call's arrays; above the plan's limit the
    call is not run and ``fallback()`` (smaller shapes) is timed instead, multiplied by
    ``fallback_factor`` (``fallback_how``: the cost law), labelled an extrapolation.
    ``key``: works with the same key share one calibration (the same call in two sections).
    """

    label: str
    call: Callable[[], Any]
    count: float
    how: str
    compiles: int = 1
    memory_bytes: float = 0.0
    fallback: Callable[[], Any] | None = None
    fallback_factor: float = 1.0
    fallback_how: str = ""
    key: str | None = None
    repeats: int = REPEATS  # 0: the first call is the calibration (it times itself, Timed)


@dataclass(frozen=True)
class Section:
    """A section of a chapter: its data, its memory formula and its work items."""

    name: str
    works: tuple[Work, ...]
    memory_bytes: float
    memory_formula: str
    data: tuple[DataNeed, ...] = ()
    note: str = ""


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class DataStatus:
    name: str
    kind: str
    here: bool
    size_bytes: int
    where: str
    fetchable: bool | None = None  # None: not asked (present, or vendored)
    reason: str = ""
    optional: bool = False

    def text(self) -> str:
        size = human_bytes(self.size_bytes)
        if self.here:
            return f"{self.name}: here ({self.kind}, {size}, {self.where})"
        opt = "optional, skipped unless present; " if self.optional else ""
        if self.fetchable:
            return f"{self.name}: {opt}needs a download of {size} (python -m fasttrain.download {self.name})"
        return (
            f"{self.name}: {opt}MISSING, needs a download of {size} that cannot be made here "
            f"({self.reason}); place the files in {self.where}"
        )


def can_fetch(name: str, timeout: float = 3.0) -> tuple[bool, str]:
    """Whether the first URL of every missing file of data set ``name`` answers (an HTTP HEAD
    request, nothing is downloaded): ``(True, "")`` or ``(False, reason)``."""
    spec = download.REGISTRY[name]
    for f in spec.files:
        if not f.urls:
            return False, f"no URL for {f.name}"
        try:
            req = urllib.request.Request(f.urls[0], method="HEAD")
            with urllib.request.urlopen(req, timeout=timeout):
                pass
        except Exception as exc:  # offline, DNS, HTTP error: all mean "cannot fetch now"
            return False, f"{f.urls[0]}: {type(exc).__name__}: {exc}"
    return True, ""


def data_status(need: DataNeed, fetch_probe: Callable[[str], tuple[bool, str]] | None = None):
    """Where ``need`` is and how large it is; for a missing download, whether it can be fetched."""
    if need.kind == "vendored":
        path = data_mod.data_dir() / need.name
        try:
            data_mod.verified_path(need.name)
            return DataStatus(need.name, "vendored", True, path.stat().st_size, "package data")
        except data_mod.DataError as exc:
            return DataStatus(need.name, "vendored", False, 0, str(path), False, str(exc))
    if need.kind != "download":
        raise ValueError(f"unknown data kind {need.kind!r}")
    spec = download.REGISTRY[need.name]
    size = sum(f.size or 0 for f in spec.files)
    report = download.check(need.name)
    where = str(download.dataset_dir(need.name))
    if all(v is None for v in report.values()):
        return DataStatus(need.name, "cached", True, size, where, optional=need.optional)
    ok, reason = (fetch_probe or can_fetch)(need.name)
    return DataStatus(need.name, "download", False, size, where, ok, reason, need.optional)


# --------------------------------------------------------------------------- memory


def _status_kib(field_name: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_bytes() -> int:
    """The process's resident memory now (Linux ``VmRSS``; elsewhere the peak so far)."""
    kib = _status_kib("VmRSS")
    return kib * 1024 if kib is not None else peak_rss_bytes()


def peak_rss_bytes() -> int:
    """The process's peak resident memory (Linux ``VmHWM``, else ``getrusage`` maxrss)."""
    kib = _status_kib("VmHWM")
    if kib is not None:
        return kib * 1024
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


def peak_rss_reset() -> bool:
    """Reset the peak RSS to the current RSS (Linux: ``5 > /proc/self/clear_refs``); False where
    impossible (the peak then only shows sections that exceed every earlier one)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def available_memory_bytes() -> int:
    """Memory available to a new computation now (Linux ``MemAvailable``; else the machine's)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return machine_memory_bytes()


def machine_memory_bytes() -> int:
    """Physical memory of the machine (bytes)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


# --------------------------------------------------------------------------- calibration


@dataclass
class Calibration:
    """Timed calls of one work item: ``times`` (seconds per call), ``compile_s`` (first call's
    excess), ``error`` (the call's exception, if any), ``extrapolated`` (how, if it was)."""

    times: list[float] = field(default_factory=list)
    compile_s: float = 0.0
    first_s: float = 0.0
    error: str = ""
    extrapolated: str = ""
    factor: float = 1.0
    single: bool = False  # the first call only (over the budget): no spread, an upper bound

    @property
    def spread(self) -> tuple[float, float, float]:
        """(min, median, max) seconds per call, the extrapolation factor applied."""
        if not self.times:
            return (float("nan"),) * 3
        t = sorted(self.times)
        mid = t[len(t) // 2] if len(t) % 2 else 0.5 * (t[len(t) // 2 - 1] + t[len(t) // 2])
        return (t[0] * self.factor, mid * self.factor, t[-1] * self.factor)


def _one_call(fn) -> tuple[float, float, bool]:
    """(seconds, compile seconds inside the call, whether the call timed itself) of one call."""
    t0 = time.perf_counter()
    out = block(fn())
    wall = time.perf_counter() - t0
    if isinstance(out, Timed):
        return out.seconds, out.compile_s, True
    return wall, 0.0, False


def calibrate(
    fn: Callable[[], Any], repeats: int = REPEATS, budget_s: float = CALL_BUDGET_S
) -> Calibration:
    """One untimed first call (compilation, warm-up), then up to ``repeats`` timed calls while
    their total stays within ``budget_s`` (at least one).  BLAS pinned to one thread, as the
    chapters' timings are."""
    cal = Calibration()
    with pinned_blas():
        first, inner_compile, self_timed = _one_call(fn)
        cal.first_s = first + inner_compile
        if repeats == 0:  # the call separates its own compilation (Timed)
            cal.times, cal.compile_s = [first], inner_compile
            return cal
        if first > SINGLE_S:  # one call is all the budget allows
            cal.times, cal.single = [first], True
            cal.compile_s = inner_compile  # a call that does not time itself: included in it
            return cal
        while not cal.times or (
            len(cal.times) < repeats and sum(cal.times) + cal.times[-1] <= budget_s
        ):
            t, c, _ = _one_call(fn)
            cal.times.append(t)
            inner_compile = max(inner_compile, c)
    steady = min(cal.times)
    cal.compile_s = max(cal.first_s - steady, 0.0) if not inner_compile else inner_compile
    return cal


# --------------------------------------------------------------------------- the plan


@dataclass
class WorkEstimate:
    work: Work
    cal: Calibration

    @property
    def seconds(self) -> tuple[float, float, float]:
        """(low, median, high) seconds of the section's calls of this item."""
        if self.cal.error:
            return (float("nan"),) * 3
        # compilation does not grow with the arrays: an extrapolated item keeps its compile time
        c = self.work.compiles * self.cal.compile_s
        return tuple(c + self.work.count * s for s in self.cal.spread)


@dataclass
class SectionEstimate:
    section: Section
    works: list[WorkEstimate]
    measured_bytes: int | None  # None: every item's calibration was shared with an earlier one
    peak_reset: bool
    limit_bytes: int

    @property
    def seconds(self) -> tuple[float, float, float]:
        parts = [w.seconds for w in self.works if not w.cal.error]
        return tuple(sum(p[i] for p in parts) for i in range(3)) if parts else (0.0,) * 3

    @property
    def flags(self) -> list[str]:
        out = []
        if self.section.memory_bytes > self.limit_bytes:
            out.append(
                f"will not fit: needs {self.section.memory_bytes / GB:.1f} GB by the formula, "
                f"{self.limit_bytes / GB:.1f} GB available here"
            )
        for w in self.works:
            if w.cal.error:
                out.append(f"FAILED at these shapes ({w.work.label}): {w.cal.error}")
        n_ex = sum(1 for w in self.works if w.cal.extrapolated and not w.cal.error)
        if n_ex:
            out.append(
                f"extrapolation: {n_ex} of {len(self.works)} items timed at smaller sizes "
                "(marked ~, the cost law beside them)"
            )
        return out


@dataclass
class ChapterPlan:
    chapter: str
    name: str
    scale: str
    data: list[DataStatus]
    sections: list[SectionEstimate]
    wall_s: float  # what the plan itself took

    @property
    def seconds(self) -> tuple[float, float, float]:
        return tuple(sum(s.seconds[i] for s in self.sections) for i in range(3))


def check_data(
    sections: Sequence[Section], fetch_probe=None, without_data: bool = False
) -> list[DataStatus]:
    """Every data set of ``sections`` checked once, in order; raises :class:`PlanRefused` when a
    required one is missing and cannot be fetched (unless ``without_data``)."""
    seen: dict[str, DataStatus] = {}
    for s in sections:
        for need in s.data:
            if need.name not in seen:
                seen[need.name] = data_status(need, fetch_probe)
    out = list(seen.values())
    blocked = [d for d in out if not d.here and not d.fetchable and not d.optional]
    if blocked and not without_data:
        raise PlanRefused(
            "the plan needs data that is missing and cannot be fetched; nothing was run:\n"
            + "\n".join("  " + d.text() for d in blocked)
            + "\n(python -m fasttrain.download --check NAME lists the files; or plan anyway on "
            "random arrays of the data's shapes with --without-data)"
        )
    return out


def estimate_sections(
    sections: Sequence[Section],
    memory_limit: int | None = None,
    budget_s: float = CALL_BUDGET_S,
    log: Callable[[str], None] | None = None,
) -> list[SectionEstimate]:
    """Calibrate every work item of ``sections`` (see the module's docstring)."""
    # calls whose formula exceeds the memory available now are not run (other processes share
    # the machine); the "will not fit" line compares with the same number
    limit = memory_limit or available_memory_bytes()
    shared: dict[str, Calibration] = {}
    out = []
    for s in sections:
        reset = peak_rss_reset()
        base = rss_bytes()
        works, fresh = [], 0
        for w in s.works:
            if log:
                log(f"[plan] {s.name}: {w.label} ({time.strftime('%H:%M:%S')})")
            too_big = w.memory_bytes > limit
            use_fallback = (too_big or w.call is None) and w.fallback is not None
            fn = w.fallback if use_fallback else w.call
            try:
                if too_big and w.fallback is None:
                    raise MemoryError(
                        f"needs {w.memory_bytes / GB:.1f} GB by the formula, "
                        f"{limit / GB:.1f} GB here, and no smaller size is declared"
                    )
                if w.key is not None and w.key in shared:  # the same call, timed already
                    cal = dataclasses.replace(shared[w.key])
                else:
                    cal = calibrate(fn, repeats=w.repeats, budget_s=budget_s)
                    if w.key is not None:
                        shared[w.key] = dataclasses.replace(cal)
                    fresh += 1
                if use_fallback:
                    why = (
                        f"one call at these shapes needs {w.memory_bytes / GB:.1f} GB > "
                        f"{limit / GB:.1f} GB here"
                        if too_big
                        else "not run at these shapes (over the size the chapter's plan times "
                        "in seconds)"
                    )
                    cal.factor = w.fallback_factor
                    cal.extrapolated = (
                        f"{why}: timed at a smaller size, x {w.fallback_factor:.3g} "
                        f"({w.fallback_how})"
                    )
            except Exception as exc:  # a shape or memory error: report it, go on
                msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                cal = Calibration(error=f"{type(exc).__name__}: {msg[:300]}")
                if w.key is not None:
                    shared[w.key] = cal
            works.append(WorkEstimate(w, cal))
        measured = max(peak_rss_bytes() - base, 0) if fresh else None
        out.append(SectionEstimate(s, works, measured, reset, limit))
    return out


def make_plan(
    chapter: str,
    name: str,
    scale: str,
    sections: Sequence[Section],
    fetch_probe=None,
    without_data: bool = False,
    memory_limit: int | None = None,
    budget_s: float = CALL_BUDGET_S,
    log: Callable[[str], None] | None = None,
    data: list[DataStatus] | None = None,
) -> ChapterPlan:
    """Data first (may refuse; ``data``: checked already), then the calibration of every section."""
    t0 = time.perf_counter()
    if data is None:
        data = check_data(sections, fetch_probe, without_data)
    est = estimate_sections(sections, memory_limit, budget_s, log)
    return ChapterPlan(chapter, name, scale, data, est, time.perf_counter() - t0)


# --------------------------------------------------------------------------- rendering


def human_bytes(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} B"


def human_seconds(s: float) -> str:
    if s != s:  # nan
        return "–"
    if s < 60:
        return f"{s:.3g} s"
    if s < 3600:
        return f"{s / 60:.3g} min"
    if s < 86400 * 2:
        return f"{s / 3600:.3g} h"
    return f"{s / 86400:.3g} d"


def span_text(lo_mid_hi: Sequence[float]) -> str:
    lo, mid, hi = lo_mid_hi
    return f"{human_seconds(mid)} [{human_seconds(lo)}–{human_seconds(hi)}]"


def render(plan: ChapterPlan, details: bool = True) -> str:
    """The chapter's plan as text: data, then per section memory and time with the spread."""
    cores = usable_cores()
    lines = [
        f"chapter {plan.chapter} ({plan.name}) at scale {plan.scale!r}: plan made in "
        f"{plan.wall_s:.0f} s on {cores} core{'s' if cores > 1 else ''}",
        "  data:",
    ]
    lines += [f"    {d.text()}" for d in plan.data] or ["    none"]
    head = f"  {'section':<40} {'memory (formula / measured)':<30} time: median [min–max]"
    lines += [head, "  " + "-" * (len(head) - 2)]
    for s in plan.sections:
        reset = "" if s.peak_reset else " (peak, not reset)"
        got = "shared" if s.measured_bytes is None else human_bytes(s.measured_bytes) + reset
        mem = f"{human_bytes(s.section.memory_bytes)} / {got}"
        lines.append(f"  {s.section.name[:40]:<40} {mem:<30} {span_text(s.seconds)}")
        if details:
            lines.append(f"      memory formula: {s.section.memory_formula}")
            for w in s.works:
                if w.cal.error:
                    continue
                lo, mid, hi = w.cal.spread
                comp = (
                    f" + {w.work.compiles} x {w.cal.compile_s:.2g} s compile"
                    if w.work.compiles
                    else ""
                )
                timed = (
                    "1 call, compilation included" if w.cal.single else f"{len(w.cal.times)} timed"
                )
                mark = "~ " if w.cal.extrapolated else ""
                lines.append(
                    f"      {mark}{w.work.label}: {mid:.3g} s [{lo:.3g}–{hi:.3g}] per call "
                    f"({timed}) x {w.work.count:,.0f} ({w.work.how}){comp}"
                    f" = {span_text(w.seconds)}"
                )
                if w.cal.extrapolated:
                    lines.append(f"          ~ {w.cal.extrapolated}")
            if s.section.note:
                lines.append(f"      note: {s.section.note}")
        lines += [f"      !! {f}" for f in s.flags]
    lines.append(f"  total chapter {plan.chapter}: {span_text(plan.seconds)} on this machine")
    missing = [d for d in plan.data if not d.here and not d.optional]
    if missing:
        lines.append(
            "  !! needs a download: "
            + ", ".join(f"{d.name} ({human_bytes(d.size_bytes)})" for d in missing)
            + ("" if all(d.fetchable for d in missing) else " -- cannot be fetched here")
        )
    return "\n".join(lines)


def summary(plan: ChapterPlan) -> dict:
    """The plan's numbers as plain data (seconds low/median/high per section and in total)."""
    return {
        "chapter": plan.chapter,
        "name": plan.name,
        "scale": plan.scale,
        "plan_wall_s": plan.wall_s,
        "seconds": list(plan.seconds),
        "data": [d.text() for d in plan.data],
        "sections": [
            {
                "name": s.section.name,
                "seconds": list(s.seconds),
                "memory_formula_bytes": s.section.memory_bytes,
                "memory_measured_bytes": s.measured_bytes,
                "flags": s.flags,
            }
            for s in plan.sections
        ],
    }


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity; ``os.cpu_count()`` where unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def render_totals(plans: Sequence[ChapterPlan | dict]) -> str:
    """The summary lines; ``plans`` are :class:`ChapterPlan` or their :func:`summary` dicts (a
    parallel plan gets the chapters' summaries from its worker processes)."""
    rows = [summary(p) if isinstance(p, ChapterPlan) else p for p in plans]
    lines = ["summary:"]
    for p in rows:
        peak = max((s["memory_formula_bytes"] for s in p["sections"]), default=0)
        flags = sum(len(s["flags"]) for s in p["sections"])
        lines.append(
            f"  chapter {p['chapter']}: {span_text(p['seconds'])}; largest section by the formula "
            f"{human_bytes(peak)}; {flags} warning(s)"
        )
    tot = tuple(sum(p["seconds"][i] for p in rows) for i in range(3))
    lines.append(f"  every chapter: {span_text(tot)} on this machine")
    return "\n".join(lines)
