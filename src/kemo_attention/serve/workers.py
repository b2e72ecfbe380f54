"""Several server processes on one port, for ``kemo-attention serve --workers N``.

Why not uvicorn's own ``workers=N``: its worker processes share ONE listening socket, and
asyncio accepts every pending connection in one go, so the first worker to wake takes all
of a client's keep-alive connections (measured with ``wrk``, 8 connections, 2 workers:
one worker did all the work, no gain over one process). Here each worker binds its own
socket with ``SO_REUSEPORT`` and the kernel spreads new connections across them.

The parent process only supervises: it checks that the port is free, starts the workers
(spawned, so each imports the app afresh via :func:`create_app_from_env`), and stops them
all on SIGTERM/SIGINT or when one of them exits.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import time

from kemo_attention.errors import KemoError


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _check_port_free(host: str, port: int) -> None:
    """Bind once WITHOUT SO_REUSEPORT: fails if anything (another server too) holds the port,
    so the workers never silently share a port with some other process."""
    probe = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        probe.bind((host, port))
    except OSError as exc:
        raise KemoError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    finally:
        probe.close()


def _worker(host: str, port: int, log_level: str) -> None:
    import uvicorn

    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    config = uvicorn.Config("kemo_attention.serve.app:create_app_from_env", factory=True, host=host, port=port,
                            log_level=log_level)
    uvicorn.Server(config).run(sockets=[sock])


def run_workers(host: str, port: int, workers: int, log_level: str = "info") -> int:
    """Run ``workers`` server processes until a signal or a worker's exit; returns the exit code.

    The settings for the app (bundle path, body limit) must already be in ``os.environ``.
    """
    if not hasattr(socket, "SO_REUSEPORT"):
        raise KemoError("--workers > 1 needs SO_REUSEPORT (Linux, macOS); use --workers 1 here")
    _check_port_free(host, port)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(host, port, log_level), name=f"kemo-serve-{i}") for i in range(workers)]
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for p in procs:
            p.start()
        while not stopping and all(p.is_alive() for p in procs):
            time.sleep(0.2)
        failed = [p for p in procs if not p.is_alive() and p.exitcode not in (0, None)]
    finally:
        for p in procs:
            if p.is_alive():
                os.kill(p.pid, signal.SIGTERM)  # uvicorn shuts down gracefully on SIGTERM
        deadline = time.monotonic() + 20
        for p in procs:
            p.join(timeout=max(0.1, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join(timeout=5)
        for s, handler in old.items():
            signal.signal(s, handler)
    if failed and not stopping:
        raise KemoError(f"server worker {failed[0].name} exited with code {failed[0].exitcode}; see the log above")
    return 0
