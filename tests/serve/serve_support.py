"""Helpers of the serving room's tests: a real uvicorn server on a free loopback port.

The synthetic datasets over the real feature columns are ``tests/synthetic_features.py``'s
(shared with the bundle tests)."""

from __future__ import annotations

import socket
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
    """uvicorn serving ``app`` on a free loopback port, in a daemon thread."""

    def __init__(self, app):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
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
        assert httpx.get(self.url + "/health", timeout=5).status_code == 200
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)




class ServedByCli:
    """``kemo-attention serve BUNDLE ...`` as a user runs it, in its own process group (so
    stopping it reaches uvicorn's worker processes too), ready once /health answers."""

    def __init__(self, bundle_path, *args: str):
        import os
        import sys

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cli = str(Path(sys.executable).with_name("kemo-attention"))
        self.cmd = [cli, "serve", str(bundle_path), "--port", str(self.port), *args]
        self.env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        self.stderr = ""

    def __enter__(self) -> "ServedByCli":
        import subprocess

        import tempfile

        # The server's log goes to a file, not a pipe: a pipe nobody reads fills up (64 KiB of
        # access-log lines) and then blocks the server in the middle of a request.
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT, text=True,
                                     env=self.env, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, self._read_log()
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)

    def __exit__(self, *exc) -> None:
        import os
        import signal
        import subprocess

        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.stderr = self._read_log()
        self.log.close()

    def _read_log(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()
