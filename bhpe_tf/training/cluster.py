"""Several trainer processes on one machine as a ``tf.distribute.MultiWorkerMirroredStrategy`` cluster.

Each process gets ``TF_CONFIG`` (TensorFlow's cluster description: the addresses of every worker and
this process's own task) and runs the same ``training/train.py ... --strategy multi_worker``
command; worker 0 is the chief. On several machines the same ``TF_CONFIG`` is set by hand on each
(training/README.md). Used by the fault tests and ``benchmarks/bench_multi_worker.py``, which stops the
workers it started however it ends (:func:`stop_workers` in a ``finally``, :func:`exit_on_sigterm`).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path


def tf_config(addresses, index: int) -> str:
    """``TF_CONFIG`` for worker ``index`` of a cluster of plain workers (worker 0 is the chief)."""
    return json.dumps({"cluster": {"worker": list(addresses)}, "task": {"type": "worker", "index": int(index)}})


def free_local_addresses(count: int) -> list:
    """``localhost:PORT`` for ``count`` ports free right now (the OS picks them)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("localhost", 0))
        return [f"localhost:{sock.getsockname()[1]}" for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def start_local_workers(command, *, workers: int, log_dir, env=None, cwd=None) -> list:
    """Start ``workers`` processes of ``command`` (a list; ``--strategy multi_worker`` included by the
    caller) as one cluster; worker ``i`` appends its stdout and stderr to ``log_dir/worker{i}.log``.
    Returns the ``subprocess.Popen`` objects, chief first."""
    addresses = free_local_addresses(int(workers))
    base = dict(os.environ if env is None else env)
    procs = []
    try:
        for index in range(int(workers)):
            with open(Path(log_dir) / f"worker{index}.log", "a") as log:
                procs.append(subprocess.Popen(list(command), stdout=log, stderr=subprocess.STDOUT, cwd=cwd,
                                              env=dict(base, TF_CONFIG=tf_config(addresses, index))))
    except BaseException:
        stop_workers(procs)  # the ones already started would wait for their missing peers forever
        raise
    return procs


def stop_workers(procs, *, grace: float = 5.0) -> None:
    """Stop every process of ``procs`` that still runs: SIGTERM, then SIGKILL after ``grace`` seconds;
    each is reaped (no zombie, no orphan left training)."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def exit_on_sigterm() -> None:
    """Make SIGTERM raise ``SystemExit`` in this (main) thread, so ``finally`` blocks run: Python's default
    SIGTERM action ends the process at once and would leave the workers it started running."""
    import signal
    import sys

    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
