"""Several processes, one computation: JAX's multi-process runtime on CPU (gloo collectives).

Every process runs the same program (multi-controller JAX).  :func:`initialize` connects it
to the others through ``jax.distributed.initialize``; afterwards ``jax.devices()`` lists the
CPU devices of *all* processes, ``jax.local_devices()`` this process's own, and a jitted
computation over a mesh of all devices (:func:`global_mesh`) runs its collectives
(``lax.all_gather``, ``lax.psum``, ``lax.ppermute``) over TCP with gloo, the default CPU
collectives implementation of jax (``jax_cpu_collectives_implementation = "gloo"``).

How a process learns its place
------------------------------
* **Local launcher** (``python -m fasttrain.distributed launch -n N -- cmd ...``): the launcher
  picks a free port on 127.0.0.1 and starts N copies of ``cmd`` with the variables
  ``FASTTRAIN_COORDINATOR`` (``host:port`` of process 0's coordinator),
  ``FASTTRAIN_NUM_PROCESSES`` and ``FASTTRAIN_PROCESS_ID``; :func:`initialize` passes them on.
* **Cluster**: with ``FASTTRAIN_CLUSTER=1`` (or ``initialize(cluster=True)``),
  :func:`initialize` calls ``jax.distributed.initialize()`` without arguments, so jax's own
  detection applies: under SLURM (``srun``; variables ``SLURM_JOB_ID``, ``SLURM_NTASKS``,
  ``SLURM_PROCID``, ``SLURM_STEP_NODELIST``) the coordinator is the first node of the step,
  under Open MPI (``mpirun``; ``OMPI_MCA_orte_hnp_uri``, ``OMPI_COMM_WORLD_SIZE``,
  ``OMPI_COMM_WORLD_RANK``) likewise; elsewhere set ``JAX_COORDINATOR_ADDRESS`` and pass
  the process count and id (here: the ``FASTTRAIN_*`` variables above, set by your own
  job script).  One process per node (or per socket) is the intended layout.
* **Neither**: :func:`initialize` does nothing and the program runs as one process.

Forced host devices (``XLA_FLAGS=--xla_force_host_platform_device_count=K``) and the CPU
collectives are not mixed: the combination is known to crash, and :func:`initialize` refuses
it with a clear message.  Nothing here imports :mod:`fasttrain.methods` or the chapters.
"""

from __future__ import annotations

import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

__all__ = [
    "ENV_COORDINATOR",
    "ENV_NUM_PROCESSES",
    "ENV_PROCESS_ID",
    "ENV_CLUSTER",
    "initialize",
    "free_port",
    "global_mesh",
    "replicated",
    "local_value",
    "allgather",
    "ByteCounter",
    "collective_bytes",
    "LaunchResult",
    "launch",
]

ENV_COORDINATOR = "FASTTRAIN_COORDINATOR"
ENV_NUM_PROCESSES = "FASTTRAIN_NUM_PROCESSES"
ENV_PROCESS_ID = "FASTTRAIN_PROCESS_ID"
ENV_CLUSTER = "FASTTRAIN_CLUSTER"
AXIS = "processes"


# ===================================================================== joining the others
def _forced_device_count() -> int:
    m = re.search(r"xla_force_host_platform_device_count=(\d+)", os.environ.get("XLA_FLAGS", ""))
    return int(m.group(1)) if m else 1


def initialize(cluster: bool | None = None, timeout: int = 60) -> tuple[int, int]:
    """Join the multi-process run this process belongs to; returns ``(process_id, n_processes)``.

    Reads the launcher's ``FASTTRAIN_*`` variables; with ``cluster`` (default: the variable
    ``FASTTRAIN_CLUSTER`` = 1) calls ``jax.distributed.initialize()`` with no arguments so
    that jax detects SLURM / Open MPI / ``JAX_COORDINATOR_ADDRESS`` itself.  Without either,
    does nothing and returns ``(0, 1)``.  Must run before any other JAX computation.  Calling
    it again after a successful start returns the same pair.
    """
    import jax

    if jax.distributed.is_initialized():
        return jax.process_index(), jax.process_count()
    if cluster is None:
        cluster = os.environ.get(ENV_CLUSTER, "") not in ("", "0")
    coordinator = os.environ.get(ENV_COORDINATOR)
    if not cluster and coordinator is None:
        return 0, 1
    if _forced_device_count() > 1:
        raise RuntimeError(
            "XLA_FLAGS forces several host devices per process; CPU collectives across "
            "processes are not mixed with forced host devices (known to crash). Unset "
            "--xla_force_host_platform_device_count for multi-process runs."
        )
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if cluster:
        jax.distributed.initialize(initialization_timeout=timeout)
    else:
        try:
            n = int(os.environ[ENV_NUM_PROCESSES])
            pid = int(os.environ[ENV_PROCESS_ID])
        except (KeyError, ValueError) as e:
            raise RuntimeError(
                f"{ENV_COORDINATOR} is set, so {ENV_NUM_PROCESSES} and {ENV_PROCESS_ID} must "
                "be integers too"
            ) from e
        if not (n >= 1 and 0 <= pid < n):
            raise RuntimeError(f"process id {pid} is not in [0, {n})")
        jax.distributed.initialize(coordinator, n, pid, initialization_timeout=timeout)
    return jax.process_index(), jax.process_count()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``host`` a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# ===================================================================== collectives
def global_mesh(axis: str = AXIS):
    """A 1-D mesh over every device of every process, in process order (axis ``axis``)."""
    import jax

    devices = sorted(jax.devices(), key=lambda d: (d.process_index, d.id))
    return jax.sharding.Mesh(np.array(devices), (axis,))


def replicated(x, mesh):
    """The host value ``x`` (the same on every process) as a global array replicated over ``mesh``."""
    import jax
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    s = NamedSharding(mesh, P())
    return jax.tree.map(lambda a: jax.make_array_from_process_local_data(s, np.asarray(a)), x)


def local_value(x):
    """This process's copy of a replicated global array (a numpy array)."""
    import jax

    return jax.tree.map(lambda a: np.asarray(a.addressable_data(0)), x)


@cache
def _gather_fn(mesh, axis):
    import jax
    from jax.sharding import PartitionSpec as P

    return jax.jit(
        jax.shard_map(
            lambda a: jax.lax.all_gather(a[0], axis),
            mesh=mesh,
            in_specs=P(axis),
            out_specs=P(),
            check_vma=False,
        )
    )


def allgather(x, mesh=None, axis: str = AXIS, counter: ByteCounter | None = None):
    """All-gather: every process contributes ``x`` (same shape everywhere), all receive ``(G,) + x.shape``.

    Runs ``lax.all_gather`` in a jitted ``shard_map`` over the devices of ``mesh`` (default
    :func:`global_mesh`; one device per process).  Returns a jax array on this process's
    device (row ``k`` = process ``k``'s contribution).  ``counter`` records the payload.
    """
    import jax
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    mesh = global_mesh(axis) if mesh is None else mesh
    g = mesh.shape[axis]
    x = jax.numpy.asarray(x)
    glob = jax.make_array_from_process_local_data(
        NamedSharding(mesh, P(axis)), x[None], (g,) + x.shape
    )
    out = _gather_fn(mesh, axis)(glob)
    if counter is not None:
        counter.add(x.size * x.dtype.itemsize, g)
    return out.addressable_data(0)


@dataclass
class ByteCounter:
    """Bytes this process put into all-gathers: ``payload`` (its own contributions) and
    ``ring`` = ``(G-1)`` times the payload, what a ring all-gather sends from each process
    (its contribution plus G-2 forwarded ones of the same size)."""

    calls: int = 0
    payload: int = 0
    ring: int = 0
    history: list = field(default_factory=list)

    def add(self, nbytes: int, n_processes: int):
        self.calls += 1
        self.payload += nbytes
        self.ring += (n_processes - 1) * nbytes
        self.history.append(nbytes)


_BYTES = {"pred": 1, "s8": 1, "u8": 1, "s16": 2, "u16": 2, "f16": 2, "bf16": 2, "s32": 4}
_BYTES.update({"u32": 4, "f32": 4, "s64": 8, "u64": 8, "f64": 8, "c64": 8, "c128": 16})
_COLLECTIVES = ("all-gather", "all-reduce", "collective-permute", "all-to-all", "reduce-scatter")
_SHAPE = re.compile(r"\b(" + "|".join(_BYTES) + r")\[([\d,]*)\]")
_OP = re.compile(r"=\s*(.*?)\s(" + "|".join(_COLLECTIVES) + r")(-start)?\(")


def collective_bytes(hlo_text: str) -> dict:
    """Collectives of a compiled program (``jitted.lower(...).compile().as_text()``): for each
    kind, the number of ops and the bytes of their results (an all-gather's result is the
    gathered array: G times one process's contribution).  This is what the program moves per
    call, read from the program XLA will run rather than assumed."""
    out = {}
    for line in hlo_text.splitlines():
        m = _OP.search(line)
        if not m:
            continue
        shapes = _SHAPE.findall(m.group(1))
        if m.group(3) and len(shapes) > 1:  # async start: (operands..., results...) tuple
            shapes = shapes[len(shapes) // 2 :]
        nbytes = sum(
            _BYTES[t] * math.prod(int(x) for x in dims.split(",") if x) for t, dims in shapes
        )
        kind = out.setdefault(m.group(2), {"ops": 0, "bytes": 0})
        kind["ops"] += 1
        kind["bytes"] += nbytes
    return out


# ===================================================================== the local launcher
@dataclass(frozen=True)
class LaunchResult:
    """Outcome of :func:`launch`: the overall return code, each process's code (``None``:
    killed by the launcher) and its output lines (without the ``[pI]`` prefix)."""

    returncode: int
    returncodes: tuple
    logs: tuple
    timed_out: bool = False

    def output(self, i: int) -> str:
        return "\n".join(self.logs[i])


def _kill_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` is still running (zombies do not count).

    ``killpg`` returns before the kernel has ended its targets, and an orphaned grandchild
    that has died stays a zombie until init reaps it, which ``killpg(pgid, 0)`` cannot tell
    from a live process; on Linux ``/proc`` can, elsewhere ``killpg(pgid, 0)`` is the answer.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for d in proc.iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:  # ended while we looked
            continue
        fields = stat[stat.rfind(")") + 2 :].split()  # after "pid (comm) "
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def _wait_groups_gone(pgids, timeout: float = 10.0) -> None:
    """Wait (at most ``timeout`` s) until every process of the groups ``pgids`` has ended."""
    deadline = time.monotonic() + timeout
    pending = list(pgids)
    while pending and time.monotonic() < deadline:
        pending = [g for g in pending if _group_alive(g)]
        if pending:
            time.sleep(0.01)


def launch(
    n: int,
    cmd: Sequence[str],
    *,
    timeout: float | None = None,
    host: str = "127.0.0.1",
    env: dict | None = None,
    stream=None,
    grace: float = 5.0,
) -> LaunchResult:
    """Run ``cmd`` as ``n`` cooperating processes on this machine and wait for all of them.

    Process ``i`` gets ``FASTTRAIN_COORDINATOR=host:port`` (a free port), ``
    FASTTRAIN_NUM_PROCESSES=n`` and ``FASTTRAIN_PROCESS_ID=i``; each runs in its own process
    group.  Output lines (stdout and stderr merged) are written to ``stream`` (default
    ``sys.stdout``; ``False``: not echoed) prefixed ``[pI] `` and kept in the result.  The first
    process that exits non-zero, the ``timeout`` (seconds) or SIGINT / SIGTERM to the launcher
    stop all the others (SIGTERM to the group, SIGKILL after ``grace`` seconds): no process is
    left behind.  Overall return code: 0 if all succeeded, else the first failure's code
    (124 on timeout, 130 on interruption).
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"the number of processes must be a positive integer, got {n!r}")
    cmd = list(cmd)
    if not cmd:
        raise ValueError("no command to launch")
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be positive, got {timeout!r}")
    if stream is None:
        stream = sys.stdout
    port = free_port(host)
    base = dict(os.environ if env is None else env)
    logs = [[] for _ in range(n)]
    lock = threading.Lock()
    procs, threads = [], []

    def pump(i, pipe):
        for raw in iter(pipe.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with lock:
                logs[i].append(line)
                if stream:
                    stream.write(f"[p{i}] {line}\n")
                    stream.flush()
        pipe.close()

    interrupted = []

    def on_signal(signum, _frame):
        interrupted.append(signum)

    main_thread = threading.current_thread() is threading.main_thread()
    old = {}
    if main_thread:
        for s in (signal.SIGINT, signal.SIGTERM):
            old[s] = signal.signal(s, on_signal)
    codes: list = [None] * n
    first_fail, timed_out = None, False
    try:
        for i in range(n):
            e = dict(base)
            e.update(
                {
                    ENV_COORDINATOR: f"{host}:{port}",
                    ENV_NUM_PROCESSES: str(n),
                    ENV_PROCESS_ID: str(i),
                }
            )
            p = subprocess.Popen(
                cmd,
                env=e,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            procs.append(p)
            t = threading.Thread(target=pump, args=(i, p.stdout), daemon=True)
            t.start()
            threads.append(t)
        t0 = time.monotonic()
        while True:
            for i, p in enumerate(procs):
                if codes[i] is None and (rc := p.poll()) is not None:
                    codes[i] = rc
                    if rc != 0 and first_fail is None:
                        first_fail = rc
            if first_fail is not None or all(c is not None for c in codes) or interrupted:
                break
            if timeout is not None and time.monotonic() - t0 > timeout:
                timed_out = True
                break
            time.sleep(0.02)
    finally:
        for p in procs:  # stop the rest, then make sure
            if p.poll() is None:
                _kill_group(p, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for p in procs:
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for p in procs:  # the group too: grandchildren of a finished shell
            _kill_group(p, signal.SIGKILL)
            p.wait()
        _wait_groups_gone([p.pid for p in procs])  # SIGKILL is delivered asynchronously
        for t in threads:
            t.join(timeout=2)
        for s, h in old.items():
            signal.signal(s, h)
    if first_fail is not None:
        rc = first_fail if first_fail > 0 else 128 - first_fail
    elif interrupted:
        rc = 130
    elif timed_out:
        rc = 124
    else:
        rc = 0
    return LaunchResult(rc, tuple(codes), tuple(tuple(lg) for lg in logs), timed_out)
