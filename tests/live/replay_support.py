"""Helpers of the replay tests: a tiny release on disk, a uvicorn app on a free loopback port
(in a thread), and `kemo-attention serve` as a subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn

CLI = str(Path(sys.executable).with_name("kemo-attention"))
TESTS = Path(__file__).resolve().parents[1]


def tiny_release(root: Path, *, participants: int = 2, days: float = 2.0, prompts_per_day: int = 20, seed: int = 3) -> Path:
    """The feature tests' hand-made release (every one of the 27 files, low rates)."""
    sys.path.insert(0, str(TESTS / "features"))
    try:
        from tiny_release import write_release
    finally:
        sys.path.remove(str(TESTS / "features"))
    return write_release(root, participants=participants, days=days, prompts_per_day=prompts_per_day, seed=seed)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThreadServer:
    """uvicorn serving ``app`` on a free loopback port, in a daemon thread."""

    def __init__(self, app):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "ThreadServer":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class ServeProcess:
    """``kemo-attention serve BUNDLE --store PATH ...`` as a user runs it, in its own process
    group; ready once /health answers. ``kill()`` is a kill -9 of the whole group."""

    def __init__(self, bundle: Path, store: Path, *args: str, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cmd = [CLI, "serve", str(bundle), "--store", str(store), "--port", str(self.port), *args]
        self.env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        # A file, not a pipe: uvicorn logs every request, and a full pipe would stall the server.
        self.log_path = Path(store).with_name(Path(store).name + f".{self.port}.log")

    @property
    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def start(self) -> "ServeProcess":
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT, text=True,
                                         env=self.env, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 90
        while True:
            assert self.proc.poll() is None, self.log
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> "ServeProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
