"""Helpers of the serving room's tests: a real uvicorn server on a free loopback port.

The synthetic datasets over the real feature columns are ``tests/synthetic_features.py``'s
(shared with the bundle tests)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """uvicorn serving ``app`` on a free loopback port, in a daemon thread. ``health``: wait
    for ``/health`` to answer 200 (off for test apps that have no such route)."""

    def __init__(self, app, *, health: bool = True):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.health = health
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        if self.health:
            assert httpx.get(self.url + "/health", timeout=5).status_code == 200
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class ServedByCli:
    """``kemo-attention serve BUNDLE ...`` as a user runs it, in its own process group (so
    stopping it reaches uvicorn's worker processes too), ready once /health answers.

    Its output goes to a file, not a pipe: uvicorn logs every request, and a pipe nobody
    reads fills up (64 KiB) and then blocks the server in the middle of a request.
    ``start()`` again after ``kill9()`` restarts it on the same port."""

    def __init__(self, bundle_path, *args: str, env: dict | None = None, start_timeout: float = 90,
                 scheme: str = "http", verify=True):
        """``scheme``/``verify``: "https" and the TLS context that trusts the server's certificate."""
        import os
        import sys

        self.port = free_port()
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.verify = verify
        cli = str(Path(sys.executable).with_name("kemo-attention"))
        self.cmd = [cli, "serve", str(bundle_path), "--port", str(self.port), *args]
        base = {k: v for k, v in os.environ.items() if k != "KEMO_API_TOKEN"}  # only what the test gives
        self.env = {**base, "PYTHONWARNINGS": "ignore", **(env or {})}
        self.start_timeout = start_timeout
        self.stderr = ""
        self.log = tempfile.TemporaryFile(mode="w+")

    def start(self) -> "ServedByCli":
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT, text=True,
                                     env=self.env, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + self.start_timeout
        while True:
            assert self.proc.poll() is None, self.read_log()
            try:
                if httpx.get(self.url + "/health", timeout=1, verify=self.verify).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)

    def read_log(self) -> str:
        """Everything the server printed so far (stdout and stderr)."""
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:  # gone meanwhile (a kill9 from another thread reaped it)
                self.proc.wait(timeout=10)
                self.stderr = self.read_log()
                return
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.stderr = self.read_log()

    def __enter__(self) -> "ServedByCli":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
