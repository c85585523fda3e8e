"""Multi-process runs (issue 14): the launcher, a known-answer collective, and distributed RBD
and MGRIT against their single-process references, each on 2 local processes with JAX's gloo
CPU collectives (no forced host devices in these processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fasttrain.core import multiprocess as mp

LIB = str(Path(__file__).resolve().parents[1] / "lib")


def _env():
    env = dict(os.environ, JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("XLA_FLAGS", None)
    env["PYTHONPATH"] = LIB + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _script(tmp_path, body: str) -> str:
    path = tmp_path / "worker.py"
    path.write_text(textwrap.dedent(body))
    return str(path)


def _launch(n, script, timeout=90):
    res = mp.launch(n, [sys.executable, script], timeout=timeout, env=_env(), stream=False)
    assert res.returncode == 0, "\n".join(
        f"[p{i}] {line}" for i, lg in enumerate(res.logs) for line in lg
    )
    return [
        json.loads([ln for ln in lg if ln.startswith("{")][-1]) for lg in res.logs
    ]  # each worker's last JSON line


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0): look at its state
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


# ----------------------------------------------------------------- the launcher
@pytest.mark.heavy
def test_launcher_cli_runs_a_known_answer_allgather(tmp_path):
    """Process i contributes i + 1; every process receives [1, 2]; output lines are prefixed."""
    script = _script(
        tmp_path,
        """
        import json
        import numpy as np
        from fasttrain.core import multiprocess as mp
        pid, n = mp.initialize()
        c = mp.ByteCounter()
        out = mp.allgather(np.array([pid + 1.0], np.float32), counter=c)
        print(json.dumps({"pid": pid, "n": n, "got": np.asarray(out).ravel().tolist(),
                          "payload": c.payload, "ring": c.ring}))
        """,
    )
    out = subprocess.run(
        [sys.executable, "-m", "fasttrain.distributed", "launch", "-n", "2", "--timeout", "90"]
        + ["--", sys.executable, script],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    rows = {}
    for line in out.stdout.splitlines():
        prefix, _, rest = line.partition(" ")
        if rest.startswith("{"):
            rows[prefix] = json.loads(rest)
    assert set(rows) == {"[p0]", "[p1]"}
    for i in range(2):
        r = rows[f"[p{i}]"]
        assert (r["pid"], r["n"], r["got"]) == (i, 2, [1.0, 2.0])
        assert (r["payload"], r["ring"]) == (4, 4)


def test_launcher_fails_as_a_whole_and_leaves_nothing_behind(tmp_path):
    """Process 1 fails at once; process 0 (and the child it started) would run for a minute."""
    pids = tmp_path / "pids"
    script = _script(
        tmp_path,
        f"""
        import os, subprocess, sys, time
        pid = int(os.environ["FASTTRAIN_PROCESS_ID"])
        if pid == 1:  # fail once process 0 has started its child and said so
            while not (os.path.exists({str(pids)!r}) and open({str(pids)!r}).read().strip()):
                time.sleep(0.02)
            print("giving up", flush=True)
            sys.exit(3)
        child = subprocess.Popen(["sleep", "60"])
        with open({str(pids)!r} + ".tmp", "w") as f:
            f.write(f"{{os.getpid()}} {{child.pid}}")
        os.replace({str(pids)!r} + ".tmp", {str(pids)!r})
        time.sleep(60)
        """,
    )
    t0 = time.monotonic()
    res = mp.launch(2, [sys.executable, script], timeout=50, env=_env(), stream=False)
    assert time.monotonic() - t0 < 20
    assert res.returncode == 3 and res.returncodes[1] == 3 and not res.timed_out
    assert "giving up" in res.output(1)
    for pid in map(int, pids.read_text().split()):
        assert not _alive(pid), f"process {pid} survived the launcher"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="zombies are told apart through /proc")
def test_group_alive_tells_a_killed_group_from_a_running_one():
    """``_group_alive`` sees a running group and not a killed one that is still a zombie (which
    ``killpg(pgid, 0)`` cannot tell apart); ``_wait_groups_gone`` waits for the kill to land."""
    import signal

    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        assert mp._group_alive(proc.pid)
        os.killpg(proc.pid, signal.SIGKILL)
        mp._wait_groups_gone([proc.pid], timeout=30)  # not reaped: it ends as a zombie
        assert not mp._group_alive(proc.pid)
        os.killpg(proc.pid, 0)  # the zombie still answers killpg(0): why /proc is read
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.heavy
def test_launcher_timeout_stops_everything(tmp_path):
    script = _script(tmp_path, "import time\nprint('started', flush=True)\ntime.sleep(60)\n")
    res = mp.launch(2, [sys.executable, script], timeout=2, env=_env(), stream=False)
    assert res.timed_out and res.returncode == 124
    assert res.returncodes == (None, None)  # both stopped by the launcher


def test_interrupting_the_launcher_stops_every_process(tmp_path):
    """SIGTERM to ``python -m fasttrain.distributed launch`` ends both workers; exit code 130."""
    import signal

    script = _script(
        tmp_path,
        f"""
        import os, time
        with open(os.path.join({str(tmp_path)!r}, "pid" + os.environ["FASTTRAIN_PROCESS_ID"]), "w") as f:
            f.write(str(os.getpid()))
        time.sleep(60)
        """,
    )
    launcher = subprocess.Popen(
        [sys.executable, "-m", "fasttrain.distributed", "launch", "-n", "2", "--", sys.executable]
        + [script],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    files = [tmp_path / "pid0", tmp_path / "pid1"]
    deadline = time.monotonic() + 30
    while not all(f.exists() and f.read_text() for f in files) and time.monotonic() < deadline:
        time.sleep(0.05)
    pids = [int(f.read_text()) for f in files]
    launcher.send_signal(signal.SIGTERM)
    assert launcher.wait(timeout=20) == 130
    for pid in pids:
        assert not _alive(pid), f"worker {pid} survived the interrupted launcher"


def test_launcher_rejects_bad_arguments_before_starting_anything(tmp_path):
    marker = tmp_path / "ran"
    cmd = [sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"]
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="positive integer"):
            mp.launch(bad, cmd)
    with pytest.raises(ValueError, match="no command"):
        mp.launch(2, [])
    with pytest.raises(ValueError, match="timeout"):
        mp.launch(2, cmd, timeout=0)
    for argv in (["-n", "0", "--"] + cmd, ["-n", "2", "--"], ["-n", "2"]):
        out = subprocess.run(
            [sys.executable, "-m", "fasttrain.distributed", "launch", *argv],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=60,
        )
        assert out.returncode == 2 and "error" in out.stderr
    assert not marker.exists()


def test_initialize_without_launcher_is_a_single_process(monkeypatch):
    for var in (mp.ENV_COORDINATOR, mp.ENV_CLUSTER):
        monkeypatch.delenv(var, raising=False)
    assert mp.initialize() == (0, 1)


def test_initialize_refuses_forced_host_devices(monkeypatch):
    monkeypatch.setenv(mp.ENV_COORDINATOR, "127.0.0.1:1")
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
    with pytest.raises(RuntimeError, match="forced host devices"):
        mp.initialize()


# ----------------------------------------------------------------- layer-parallel MGRIT
MGRIT_WORKER = """
import json
import jax
from fasttrain.core import multiprocess as mp
pid, n = mp.initialize()
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import numpy as np
from fasttrain.methods import layer_parallel as lp
spec = lp.Spec(2, 6, 3, 32)
p = lp.init_params(jax.random.key(0), spec, scale=2.0, dtype=jnp.float64)
x = jax.random.uniform(jax.random.key(1), (5, 2), jnp.float64, -3, 3)
u0 = lp.open_layer(p["open"], x)
mesh = mp.global_mesh()
cfg = lp.MGRITConfig(4, 2, "FCF")
ref = np.asarray(lp.serial_states(p["layers"], u0, spec.h))
fwd = lp.mgrit_forward_intervals(p["layers"], u0, spec.h, cfg, 4, mesh)  # N/(2c): exact
one = lp.mgrit_forward_intervals(p["layers"], u0, spec.h, cfg, 1, mesh)
# serial adjoint: lam_n = lam_{n+1} + h W_n^T (sigma'(z_n) * lam_{n+1}), in numpy
W = np.asarray(p["layers"]["W"])
z = np.einsum("nbj,nij->nbi", ref[:-1], W) + np.asarray(p["layers"]["b"])[:, None]
s = 1 - np.tanh(z) ** 2
lam = [np.asarray(jax.random.normal(jax.random.key(3), u0.shape, jnp.float64))]
for k in reversed(range(spec.depth)):
    lam.append(lam[-1] + spec.h * (s[k] * lam[-1]) @ W[k])
lam_ref = np.stack(lam[::-1])
adj = lp.mgrit_adjoint_intervals(p["layers"], ref, lam[0], spec.h, cfg, 4, mesh)
print(json.dumps({
    "n": n, "devices": len(mesh.devices.flat),
    "forward_err": float(np.abs(fwd.states - ref).max()),
    "adjoint_err": float(np.abs(adj.states - lam_ref).max()),
    "one_iteration_moved": float(np.abs(one.states - ref).max()),
    "residual_drop": float(fwd.residuals[-1] / fwd.residuals[0]),
}))
"""


@pytest.mark.heavy
def test_layer_parallel_mgrit_across_two_processes_equals_serial(tmp_path):
    """FCF two-level MGRIT with the 8 intervals on 2 processes: forward and adjoint equal
    serial propagation to 1e-12 in float64 once converged (N/(2c) = 4 V-cycles)."""
    rows = _launch(2, _script(tmp_path, MGRIT_WORKER))
    for r in rows:
        assert (r["n"], r["devices"]) == (2, 2)
        assert r["forward_err"] < 1e-12
        assert r["adjoint_err"] < 1e-12
        assert r["one_iteration_moved"] > 1e-6  # (one V-cycle is not yet exact: a real solve)
        assert r["residual_drop"] < 1e-12


@pytest.mark.heavy
def test_interval_mgrit_in_one_process_follows_mgrit_iterate_by_iterate():
    import jax
    import jax.numpy as jnp
    import numpy as np

    from fasttrain.methods import layer_parallel as lp

    spec = lp.Spec(2, 4, 3, 16)
    p = lp.init_params(jax.random.key(0), spec, scale=2.0)
    u0 = lp.open_layer(p["open"], jnp.ones((3, 2)))
    mesh = mp.global_mesh()
    cfg = lp.MGRITConfig(4, 2, "FCF")
    a = lp.mgrit_forward_intervals(p["layers"], u0, spec.h, cfg, 1, mesh)
    b = lp.mgrit_forward(p["layers"], u0, spec.h, cfg, 1)
    np.testing.assert_allclose(a.states, b.states, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(a.residuals, b.residuals, rtol=1e-5)
    with pytest.raises(ValueError, match="split evenly"):  # 3 intervals on 2 processes
        data = (p["layers"]["W"][:12], p["layers"]["b"][:12])
        lp.mgrit_intervals(lp.ForwardStep(), data, 0.1, u0, cfg, 1, _FakeMesh(2))


class _FakeMesh:
    """Only the size is read before the split check."""

    def __init__(self, size):
        self.size = size


# ----------------------------------------------------------------- random bases descent
@pytest.mark.heavy
def test_random_bases_across_two_processes_equals_the_single_process_run(tmp_path):
    """Each process a worker: the loss curve equals rbd_estimate(n_groups=2) in one process
    (to float32 round-off) and the compiled step all-gathers exactly d float32 coefficients."""
    script = _script(
        tmp_path,
        """
        import json
        from fasttrain.chapters import multiprocess_study as st
        from fasttrain.core import multiprocess as mp
        mp.initialize()
        print(json.dumps(st.rbd_worker(steps=4, d=32, batch=8, hidden=16, reference=True)))
        """,
    )
    rows = _launch(2, script)
    assert rows[0]["loss"] == rows[1]["loss"]  # every worker holds the same parameters
    for r in rows:
        assert r["processes"] == 2 and len(r["loss"]) == 4
        assert r["max_loss_difference"] <= 1e-5 * max(map(abs, r["reference_loss"]))
        assert r["loss"][-1] != r["loss"][0]  # (it trained)
        gathered = r["collectives"]["all-gather"]
        assert (
            gathered
            == {"ops": 1, "bytes": r["communication_bytes"]["rbd_payload"]}
            == {
                "ops": 1,
                "bytes": 32 * 4,
            }
        )
        # besides the coefficients only the loss (one float32 all-reduce) travels
        assert set(r["collectives"]) == {"all-gather", "all-reduce"}
        assert r["collectives"]["all-reduce"]["bytes"] <= 8


# ----------------------------------------------------------------- the scaling model
def test_collective_bytes_reads_compiled_programs():
    hlo = "\n".join(
        [
            "%p = f32[] all-reduce(%x), channel_id=1",
            "%g = f32[2,16]{1,0} all-gather(%y), channel_id=2",
            "%s = (f32[1,16]{1,0}, f32[4,16]{1,0}) all-gather-start(%z)",
            "%d = f32[4,16]{1,0} all-gather-done(%s)",
            "%c = f64[5,6]{1,0} collective-permute(%u), source_target_pairs={{0,1}}",
            "%a = f32[8]{0} add(%v, %w)",
        ]
    )
    assert mp.collective_bytes(hlo) == {
        "all-reduce": {"ops": 1, "bytes": 4},
        "all-gather": {"ops": 2, "bytes": 128 + 256},
        "collective-permute": {"ops": 1, "bytes": 240},
    }


def test_scaling_model_arithmetic():
    import numpy as np

    from fasttrain.chapters import multiprocess_study as st
    from fasttrain.methods import layer_parallel as lp

    # the ring all-gather model, and its fit recovering known alpha, beta
    assert st.allgather_time(1000, 1, 1e-4, 1e9) == 0.0
    assert st.allgather_time(4000, 4, 1e-4, 1e9) == pytest.approx(3 * (1e-4 + 1e-6))
    rows = [
        {"floats": n, "seconds": st.allgather_time(4 * n * 4, 4, 5e-5, 2e8)} for n in (1, 1e3, 1e5)
    ]
    fit = st.fit_collective(rows, 4)
    assert fit["alpha"] == pytest.approx(5e-5) and fit["beta"] == pytest.approx(2e8)
    with pytest.raises(ValueError):
        st.fit_collective(rows, 1)
    # RBD: per-worker batch fixed, the projection divided, the expansion replicated
    kw = dict(t_grad=2.0, t_project=6.0, t_expand=2.0, d=100)
    m = st.rbd_model([1, 3], **kw, alpha=0.0, beta=1e30)
    np.testing.assert_allclose(m["time"], [10.0, 6.0])
    np.testing.assert_allclose(m["speedup"], [1.0, 5.0])
    m = st.rbd_model([2], **dict(kw, t_grad=0, t_project=0, t_expand=0), alpha=1.0, beta=400.0)
    assert m["time"][0] == pytest.approx(1 * (1 + 400 / (2 * 400)) + 1)  # gather + loss reduce
    # MGRIT: critical path times the layer cost, plus per-cycle communication
    cfg = lp.MGRITConfig(4, 2, "FCF")
    m = st.mgrit_model(
        [1, 4], N=64, cfg=cfg, n_iter=2, t_layer=1.0, state_bytes=8, alpha=0.0, beta=1e30
    )
    cp = [lp.critical_path(64, cfg, p, 2)["critical_path"] for p in (1, 4)]
    np.testing.assert_allclose(m["time"], cp)
    np.testing.assert_allclose(m["speedup"], [64 / cp[0], 64 / cp[1]])
    m = st.mgrit_model(
        [4], N=64, cfg=cfg, n_iter=1, t_layer=0.0, state_bytes=8, alpha=1.0, beta=8.0
    )
    ring = 3 * (1 + 2 * 16 * 8 / (4 * 8))
    assert m["time"][0] == pytest.approx(ring + (1 + 1) + 3)
    cfg3 = lp.MGRITConfig(4, 3, "FCF")  # levels 64, 16, 4: two neighbour messages, gather of 2 x 4
    m = st.mgrit_model(
        [4], N=64, cfg=cfg3, n_iter=1, t_layer=0.0, state_bytes=8, alpha=1.0, beta=8.0
    )
    assert m["time"][0] == pytest.approx(3 * (1 + 2 * 4 * 8 / (4 * 8)) + 2 * (1 + 1) + 3)


def test_summary_and_claims_from_a_synthetic_measurement():
    """summarize() reads measure()'s layout (keys may be strings after JSON); the evidence feeds the rules."""
    from fasttrain.chapters import multiprocess_study as st

    def rbd(P, t):
        return {
            "d": 64,
            "step_times": [1.0, t, t],
            "t_grad": 1e-3,
            "t_project": 1e-3,
            "t_expand": 1e-4,
            "collectives": {"all-gather": {"ops": 1, "bytes": 256}} if P > 1 else {},
        }

    def mgrit(t):
        prob = {"depth": 64, "width": 16, "batch": 32, "cfactor": 4, "relax": "FCF"}
        return prob | {"t_cycle": t, "t_serial": 6.4e-3}

    def gather(P):
        return {
            "allgather": [
                {"floats": n, "seconds": st.allgather_time(4 * n * P, P, 1e-4, 1e9)}
                for n in (1, 1000, 100000)
            ]
        }

    m = {
        "rbd": {"1": [rbd(1, 2e-3)], "2": [rbd(2, 2.2e-3)], "4": [rbd(4, 4e-3)]},
        "mgrit": {"1": [mgrit(4e-3)], "2": [mgrit(3e-3)], "4": [mgrit(3e-3)]},
        "allgather": {"2": [gather(2)], "4": [gather(4)]},
    }
    s = st.summarize(m)
    assert s["collective"][2]["alpha"] == pytest.approx(1e-4)
    rows = {r["P"]: r for r in s["rbd"]}
    assert rows[2]["speedup_measured"] == pytest.approx(2 * 2e-3 / 2.2e-3)
    assert rows[16]["step_measured"] is None and rows[16]["allgather_bytes_measured"] is None
    assert rows[2]["allgather_bytes_measured"] == rows[2]["payload_bytes_model"] == 256
    assert rows[1]["allgather_bytes_measured"] == 0
    mg = {r["P"]: r for r in s["mgrit"]}
    assert mg[2]["speedup_measured"] == pytest.approx(6.4e-3 / (2 * 3e-3))
    assert [r["P"] for r in s["mgrit_deep"]] == [1, 2, 4, 16, 64, 256]
    assert len(s["rounds"]) == 1 and s["rbd_problem"]["d"] == 64
    # the evidence for the declared MGRIT claim: measurements decide, the model is only reported
    # (chapter 03's `scaling` is decided on weak scaling: the strong-scaling evidence and its rule,
    # rbd_evidence and near_linear_scaling, were removed, unused, in the 2026-12-07 edition)
    mg_ev = st.mgrit_evidence(s)
    top = max(r["P"] for r in s["mgrit"] if r["speedup_measured"] is not None)
    assert mg_ev.context["processes"] == top and "at P = " in mg_ev.context["predicted"]
    assert mg_ev.measured.center == pytest.approx(mg[top]["speedup_measured"])
    verdict, why = st.order_of_magnitude_speedup(mg_ev.measured, **mg_ev.context)
    assert verdict in ("not reproduced", "inconclusive", "not testable here") and why
    # a summary read back from a results file (string keys) gives the same evidence
    from fasttrain.core.results import ChapterResults, Evidence, _plain

    assert isinstance(mg_ev, Evidence)  # the core's, not a copy of it
    back = json.loads(json.dumps(_plain(s)))
    assert st.mgrit_evidence(back).shown == mg_ev.shown
    from fasttrain.chapters import ch03_random_bases as S
    from fasttrain.chapters import ch04_layer_parallel_lsgd as ch

    res = ChapterResults("09", "toy", "smoke", 0)
    # chapter 03's `scaling` is decided on weak scaling (issue 23; tests/test_ch03_scaling.py)
    from fasttrain.core import claims as C

    c3 = res.record(
        S.CLAIMS["scaling"], C.over_rounds([0.9]), shown="0.9", reason="weak", measured_at=2
    )
    spec4 = ch.CLAIMS["speedup-order-of-magnitude"]
    c4 = res.record(spec4, mg_ev.measured, shown=mg_ev.shown, reason=mg_ev.reason, **mg_ev.context)
    assert c3.rule == "almost-linear-weak-scaling" and c4.rule == "order-of-magnitude-speedup"
    assert c3.verdict == "inconclusive"  # one round
    assert c4.verdict == "not testable here"  # fewer than 10 processes cannot show 10x


def test_scaling_rules_decide_on_measurements_only():
    """A model's prediction never decides; each rule's thresholds are the claim's words."""
    from fasttrain.chapters import multiprocess_study as st
    from fasttrain.core import claims as C

    o = st.order_of_magnitude_speedup
    assert o(C.exact(0.4), processes=4, predicted="20x")[0] == "not testable here"
    assert o(C.exact(12.0), processes=64)[0] == "reproduced"
    assert o(C.exact(9.0), processes=64)[0] == "not reproduced"
    assert o(C.over_rounds([8.0, 11.0]), processes=64)[0] == "inconclusive"
    assert "10" in o.doc


def test_measure_selects_programs_and_strips_forced_devices(monkeypatch):
    from fasttrain.chapters import multiprocess_study as st

    env = st.worker_env({"XLA_FLAGS": "--xla_force_host_platform_device_count=4 --xla_foo=1"})
    assert env["XLA_FLAGS"] == "--xla_foo=1"
    assert "XLA_FLAGS" not in st.worker_env(
        {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    )
    with pytest.raises(ValueError, match="unknown programs"):
        st.measure(programs=("rbd", "nbody"))
    launched = []

    class Done:
        returncode = 0
        logs = (['{"ok": 1}'],)

    def fake_launch(n, cmd, **kw):
        launched.append((n, cmd[3]))
        assert "xla_force_host_platform_device_count" not in kw["env"].get("XLA_FLAGS", "")
        return Done()

    import fasttrain.core.multiprocess as mpm

    monkeypatch.setattr(mpm, "launch", fake_launch)
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
    m = st.measure((1, 2), rounds=2, programs=("mgrit", "allgather"))
    assert launched == [(1, "mgrit"), (2, "mgrit"), (2, "allgather")] * 2
    assert m["rbd"] == {} and len(m["mgrit"][2]) == 2 and len(m["allgather"][2]) == 2
