"""Start a multi-process run on this machine: ``python -m fasttrain.distributed launch -n 4 -- cmd ...``.

Runs ``cmd`` as N processes that find each other through a coordinator on a free port of
127.0.0.1 (the variables ``FASTTRAIN_COORDINATOR``, ``FASTTRAIN_NUM_PROCESSES``,
``FASTTRAIN_PROCESS_ID``, read by :func:`fasttrain.core.multiprocess.initialize`).  Output
lines are prefixed ``[pI]``; the run fails as a whole when one process fails, on
``--timeout`` or on Ctrl-C, and no process is left behind.  On a cluster no launcher is
needed: start one process per node with ``srun`` / ``mpirun`` and ``FASTTRAIN_CLUSTER=1``
(see :mod:`fasttrain.core.multiprocess`).  An entry point: nothing in the library imports it.
"""

from __future__ import annotations

import argparse
import sys

from fasttrain.core.multiprocess import launch


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fasttrain.distributed", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("launch", help="run a command as N local processes")
    p.add_argument("-n", "--processes", type=int, required=True, help="number of processes")
    p.add_argument("--timeout", type=float, default=None, help="seconds before all are stopped")
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="-- the command and its arguments")
    args = parser.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if args.processes < 1:
        parser.error(f"-n must be at least 1, got {args.processes}")
    if not cmd:
        parser.error("no command given: launch -n N -- <command> [args ...]")
    if args.timeout is not None and args.timeout <= 0:
        parser.error(f"--timeout must be positive, got {args.timeout}")
    res = launch(args.processes, cmd, timeout=args.timeout)
    if res.returncode:
        why = "timed out" if res.timed_out else "failed"
        codes = ", ".join(f"p{i}={c}" for i, c in enumerate(res.returncodes))
        print(f"launch {why} (return codes: {codes})", file=sys.stderr)
    return res.returncode


if __name__ == "__main__":
    sys.exit(main())
