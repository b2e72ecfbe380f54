"""`kemo-attention` as the live tests run it: the CLI of this environment and a real
`serve --store` process on 127.0.0.1 (a module of its own, so that test files import it by
a name no other folder's conftest shares)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "serve"))

from serve_support import ServedByCli  # noqa: E402

CLI = str(Path(sys.executable).with_name("kemo-attention"))


def run_cli(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([CLI, *args], capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stderr
    return proc


class Server(ServedByCli):
    """`kemo-attention serve BUNDLE --store PATH ...` in its own process group."""

    def __init__(self, bundle_path, store, *args: str, env: dict | None = None):
        super().__init__(bundle_path, "--store", str(store), *args, env=env)
