"""A live server on this machine for the demo and the benchmark: ``kemo-attention serve
BUNDLE --store PATH`` in its own process on a free loopback port, stopped on exit."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from kemo_attention.errors import KemoError


def free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalServer:
    """``with LocalServer(bundle, store, log) as server: server.url ...``

    The server's output goes to ``log`` (a file: uvicorn logs every request, and a pipe
    nobody reads would fill and stall it). Raises :class:`KemoError` with the log's tail
    when the server exits or does not answer /health within ``start_timeout`` seconds.
    """

    def __init__(self, bundle: Path, store: Path, log: Path, *extra: str, start_timeout: float = 180.0):
        self.port = free_loopback_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cmd = [sys.executable, "-m", "kemo_attention.cli", "serve", str(bundle), "--store", str(store),
                    "--host", "127.0.0.1", "--port", str(self.port), *extra]  # fmt: skip
        self.log = Path(log)
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "LocalServer":
        import httpx

        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                         env={**os.environ, "PYTHONWARNINGS": "ignore"})  # fmt: skip
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.proc.poll() is not None:
                raise KemoError(f"the live server exited with code {self.proc.returncode} at start: {self.tail()}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise KemoError(f"the live server did not answer on {self.url} within {self.start_timeout:.0f} s: {self.tail()}")
            time.sleep(0.2)

    def tail(self, lines: int = 5) -> str:
        try:
            text = self.log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(text[-lines:]) or "(empty log)"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def __exit__(self, *exc) -> None:
        self.stop()
