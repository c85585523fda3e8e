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
        if pid == 1:
            time.sleep(0.5)
            print("giving up", flush=True)
            sys.exit(3)
        child = subprocess.Popen(["sleep", "60"])
        with open({str(pids)!r}, "w") as f:
            f.write(f"{{os.getpid()}} {{child.pid}}")
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


def test_launcher_timeout_stops_everything(tmp_path):
    script = _script(tmp_path, "import time\nprint('started', flush=True)\ntime.sleep(60)\n")
    res = mp.launch(2, [sys.executable, script], timeout=2, env=_env(), stream=False)
    assert res.timed_out and res.returncode == 124
    assert res.returncodes == (None, None)  # both stopped by the launcher


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
