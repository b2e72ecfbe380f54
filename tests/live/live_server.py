"""`kemo-attention` as the live tests run it: the CLI of this environment and a real
`serve --store` process on 127.0.0.1 (a module of its own, so that test files import it by
a name no other folder's conftest shares)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parents[1] / "serve"))

from serve_support import free_port  # noqa: E402

CLI = str(Path(sys.executable).with_name("kemo-attention"))


def run_cli(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([CLI, *args], capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stderr
    return proc


class Server:
    """`kemo-attention serve BUNDLE --store PATH ...` in its own process group."""

    def __init__(self, bundle_path, store, *args: str, env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cmd = [CLI, "serve", str(bundle_path), "--port", str(self.port), "--store", str(store), *args]
        base = {k: v for k, v in os.environ.items() if k != "KEMO_API_TOKEN"}
        self.env = {**base, "PYTHONWARNINGS": "ignore", **(env or {})}

    def start(self) -> "Server":
        # The server's output goes to a file: a pipe nobody reads fills after some hundred
        # request log lines and then blocks the server mid-test.
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT, text=True,
                                     env=self.env, start_new_session=True)
        deadline = time.monotonic() + 90
        while True:
            assert self.proc.poll() is None, self.output()
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)

    def output(self) -> str:
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
                return
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill9()

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
