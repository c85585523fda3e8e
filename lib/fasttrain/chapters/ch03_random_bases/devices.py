"""Chapter 03: devices."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np

from ...core import multiprocess as mp
from ...methods import random_bases as rb
from .configs import Config, config, learning_rates
from .study import Study


# ===================================================================== distribution over devices
def communication(D: int, d: int, groups) -> list[dict]:
    """Bytes per step and worker: RBD's coefficients vs data-parallel SGD's gradient (float32)."""
    rows = []
    for g in groups:
        c = rb.communication_bytes(D, d, g)
        rows.append(
            {
                "workers": g,
                "RBD payload (B)": c["rbd_payload"],
                "SGD payload (B)": c["sgd_payload"],
                "RBD sent per worker (B)": c["rbd_per_worker"],
                "SGD sent per worker (B)": c["sgd_per_worker"],
                "ratio": c["ratio"],
            }
        )
    return rows


def distributed_d(cfg: Config) -> int:
    """d for the distributed runs: ``Config.d`` rounded up to a multiple of every group count."""
    step = math.lcm(*cfg.dist_groups)
    return -(-cfg.d // step) * step


def exchanged(hlo_text: str) -> dict:
    """Bytes produced by the cross-device collectives of a compiled (per-device) HLO module:
    ``{"bytes": total, "ops": [(kind, bytes), ...]}``, read with the one HLO counter,
    :func:`fasttrain.core.multiprocess.collective_bytes` (every ``all-gather``, ``all-reduce``,
    ``all-to-all``, ``collective-permute`` and ``reduce-scatter``, async ``-start`` forms by their
    results): what one device holds after the step's exchanges, its own share included."""
    kinds = mp.collective_bytes(hlo_text)
    return {
        "bytes": sum(k["bytes"] for k in kinds.values()),
        "ops": [(k, v["bytes"]) for k, v in kinds.items()],
    }


def _exchanged_bytes(study: Study, method, mesh, model: str = "fc") -> dict:
    """Compile one distributed RBD step of ``method`` on ``mesh`` and count its collectives' bytes."""
    import jax
    import jax.numpy as jnp

    cfg = study.cfg
    ds = study.data()
    x = jnp.asarray(ds.x_train[: cfg.batch_size])
    y = jnp.asarray(ds.y_train[: cfg.batch_size])
    mdl = study.model(model)
    params = mdl.init(rb.stream_key(study.seed, rb.STREAM_INIT), tuple(x.shape[1:]))
    init, step = rb.build(method, rb.make_loss(mdl.apply), params, study.seed, mesh)
    aux = init(params)
    text = jax.jit(step).lower(params, aux, x, y, 0).compile().as_text()
    return exchanged(text)


def _distributed_runs(scale: str, seed: int) -> dict:
    """Body of :func:`distributed_study`; runs in a process started with several host devices."""
    import jax

    cfg = config(scale)
    study = Study(cfg, seed)
    model, d = "fc", distributed_d(cfg)
    lr = learning_rates(model, cfg.dataset)["rbd"]
    out = {"devices": jax.device_count(), "d": d, "D": study.dim(model), "runs": [], "bytes": []}
    for g in cfg.dist_groups:
        method = rb.RBD(lr, d, cfg.rbd_distribution, chunk=cfg.chunk, n_groups=g)
        mesh = jax.make_mesh((g,), ("workers",), devices=jax.devices()[:g])
        ex = _exchanged_bytes(study, method, mesh, model)
        out["bytes"].append({"groups": g, "bytes": ex["bytes"], "ops": ex["ops"]})
        for kind, kw in (("serial", {}), ("devices", {"mesh": mesh})):
            # two identical runs: the curves must agree, and the faster one's time per step is kept (a single
            # run's mean can carry one-off costs: one book run measured 45 ms/step once and 1.5 ms the next time)
            r = study.run(model, method, cfg.dist_epochs, n_train=cfg.dist_n_train, **kw)
            r2 = study.run(
                model, method, cfg.dist_epochs, n_train=cfg.dist_n_train, fresh=True, **kw
            )
            if not np.array_equal(r.loss, r2.loss):
                raise RuntimeError(
                    f"RBD on {g} group(s) ({kind}) is not deterministic: two runs differ"
                )
            out["runs"].append(
                {
                    "groups": g,
                    "kind": kind,
                    "loss": r.loss.tolist(),
                    "test_accuracy": r.test_accuracy.tolist(),
                    "step_ms": 1e3 * min(r.step_time, r2.step_time),
                    "compile_s": r.compile_time,
                    "steps": r.steps,
                }
            )
    return out


def distributed_study(cfg: Config, seed: int = 0, timeout: float = 1800) -> dict:
    """Serial-grouped and multi-device RBD for ``Config.dist_groups`` devices, in a fresh process.

    Host devices must be requested with
    ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` before JAX
    initialises its CPU backend; a kernel that has already imported
    ``fasttrain`` (which imports JAX) cannot change that, so the runs
    happen in a subprocess with the flag set, and come back as JSON.
    """
    env = dict(os.environ)
    flags = [f for f in env.get("XLA_FLAGS", "").split() if "device_count" not in f]
    env["XLA_FLAGS"] = " ".join(
        flags + [f"--xla_force_host_platform_device_count={max(cfg.dist_groups)}"]
    )
    env.setdefault("JAX_PLATFORMS", "cpu")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fasttrain.chapters.ch03_random_bases",
            "distributed",
            cfg.scale,
            str(seed),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the distributed runs failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def distributed_summary(out: dict) -> list[dict]:
    """Per group count: max |loss difference| device vs serial run, final accuracies, time per step."""
    runs = {(r["groups"], r["kind"]): r for r in out["runs"]}
    base = runs[(min(g for g, _ in runs), "devices")]["step_ms"]
    rows = []
    for g in sorted({g for g, _ in runs}):
        s, dv = runs[(g, "serial")], runs[(g, "devices")]
        rows.append(
            {
                "devices": g,
                "d per device": out["d"] // g,
                "max |loss diff|": float(np.max(np.abs(np.subtract(s["loss"], dv["loss"])))),
                "acc serial": s["test_accuracy"][-1],
                "acc devices": dv["test_accuracy"][-1],
                "step_ms serial": s["step_ms"],
                "step_ms devices": dv["step_ms"],
                "throughput vs 1 device": base / dv["step_ms"],
            }
        )
    return rows


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3 or argv[0] != "distributed":
        print(
            "usage: python -m fasttrain.chapters.ch03_random_bases distributed SCALE SEED",
            file=sys.stderr,
        )
        return 2
    print(json.dumps(_distributed_runs(argv[1], int(argv[2]))))
    return 0


# ===================================================================== across processes (claim `scaling`)
#: every worker process computes on one thread (XLA's intra-op thread pool off), at every P: weak
#: scaling compares P workers with one worker of the same resources (one core each on 2 cores),
#: not P single-core workers with one worker that may use both cores
ONE_THREAD = "--xla_cpu_multi_thread_eigen=false"


def across_processes(cfg: Config) -> dict:
    """The weak-scaling measurement of the claim ``scaling``: the RBD worker program
    (``cfg.mp_rbd_args``, every worker its own directions and images) at ``cfg.mp_processes``
    processes, ``cfg.mp_rounds`` interleaved rounds
    (:func:`fasttrain.chapters.multiprocess_study.measure`), every worker on one thread
    (:data:`ONE_THREAD`), summarised by
    :func:`~fasttrain.chapters.multiprocess_study.weak_scaling`, with the load average before and
    after and the protocol.  What :func:`evidence_scaling` takes."""
    from .. import multiprocess_study as mps

    load0 = os.getloadavg()[0]
    env = dict(os.environ)
    env["XLA_FLAGS"] = " ".join([env.get("XLA_FLAGS", ""), ONE_THREAD]).strip()
    m = mps.measure(
        cfg.mp_processes, cfg.mp_rounds, programs=("rbd",), rbd_args=cfg.mp_rbd_args, env=env
    )
    return mps.weak_scaling(m) | {
        "protocol": {
            "processes": list(cfg.mp_processes),
            "rounds": cfg.mp_rounds,
            "rbd_args": list(cfg.mp_rbd_args),
            "seconds": m["seconds"],
            "load": [round(load0, 2), round(os.getloadavg()[0], 2)],
        }
    }


def evidence_scaling(section_output: dict, cfg: Config) -> dict:
    """``{"scaling": Evidence | Unavailable}`` from :func:`across_processes`'s result (or its JSON
    copy): the weak-scaling efficiency at the largest process count run
    (:func:`~fasttrain.chapters.multiprocess_study.weak_scaling_evidence`), decided by
    :func:`~fasttrain.chapters.multiprocess_study.almost_linear_weak_scaling`."""
    from dataclasses import replace

    from ...core.claims import Unavailable
    from .. import multiprocess_study as mps

    ev = mps.weak_scaling_evidence(section_output)
    if not isinstance(ev, Unavailable):
        load = section_output.get("protocol", {}).get("load")
        ev = replace(ev, reason=f"{ev.reason}; scale {cfg.scale!r}, load average {load}")
    return {"scaling": ev}
