"""Real Ray clusters for the tests: a head and any number of worker nodes on this machine.

Each node is its own ``ray start --block`` process with its own temp folder, started in a
new session: stopping that one process (by its id) stops the node, and a node that does not
stop is killed by its process group, so only the processes a test started are touched (a
broad ``ray stop`` would also stop other people's Ray on this machine).

Node addresses are 127.0.0.2, 127.0.0.3, ...: loopback, but not 127.0.0.1, which Ray
replaces with the machine's network address (``resolve_ip_for_localhost``). Temp folders
live directly under /tmp: Ray's unix socket paths must stay under 108 bytes.

Token auth is on: the cluster and every driver read the same token file (``ray_auth_env``).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

RAY_BIN = Path(sys.executable).parent / "ray"
NODE_START_TIMEOUT_S = 120
_STARTED_LINE = "block forever"  # what `ray start --block` prints once its node is up
_NODE_ID_LINE = re.compile(r"Setting node ID node_id=([0-9a-f]+)")


def short_temp_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="kr", dir="/tmp"))


def write_token(folder: Path) -> Path:
    token = folder / "auth_token"
    token.write_text(secrets.token_hex(32))
    return token


def ray_auth_env(token: Path) -> dict[str, str]:
    """What the cluster's nodes and every driver need in their environment."""
    return {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class RayNode:
    address: str  # the node's IP
    temp_dir: Path
    process: subprocess.Popen
    log: Path

    def node_id(self) -> str:
        """The id this node's raylet gave itself, read from the node's own log in its temp folder."""
        for raylet_log in sorted(self.temp_dir.glob("session_*/logs/raylet.out")):
            found = _NODE_ID_LINE.search(raylet_log.read_text(errors="replace"))
            if found:
                return found.group(1)
        raise AssertionError(f"no node id in the raylet log under {self.temp_dir}")


@dataclass
class RayCluster:
    address: str  # host:port of the head, what RAY_ADDRESS takes
    nodes: list[RayNode] = field(default_factory=list)


def _launch_node(cmd: list[str], env: dict[str, str], address: str, temp_dir: Path) -> RayNode:
    temp_dir.mkdir(parents=True, exist_ok=True)
    log = temp_dir.parent / f"{temp_dir.name}.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env}, start_new_session=True
        )
    return RayNode(address, temp_dir, process, log)


def _wait_until(ready, node: RayNode, deadline: float, what: str) -> None:
    while not ready():
        if node.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"ray node {node.address}: {what}:\n{node.log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.2)


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _stop_node(node: RayNode) -> None:
    if node.process.poll() is None:
        node.process.send_signal(signal.SIGTERM)
    try:
        node.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(node.process.pid, signal.SIGKILL)  # its own session: only what it started
        node.process.wait()


@contextmanager
def ray_cluster(root: Path, env: dict[str, str], *, nodes: int = 1, cpus_per_node: int = 1):
    """Start a head (127.0.0.2) and ``nodes - 1`` workers (127.0.0.3, ...) under ``root``;
    yield the :class:`RayCluster`; stop every node (workers first) however the block ends."""
    cluster = RayCluster(address="")
    common = ["--num-cpus", str(cpus_per_node), "--disable-usage-stats", "--block"]
    deadline = time.monotonic() + NODE_START_TIMEOUT_S
    try:
        head_ip = "127.0.0.2"
        port = free_port(head_ip)
        cluster.address = f"{head_ip}:{port}"
        head_cmd = [str(RAY_BIN), "start", "--head", "--port", str(port), "--node-ip-address", head_ip,
                    "--include-dashboard=false", *common, "--temp-dir", str(root / "h")]  # fmt: skip
        head = _launch_node(head_cmd, env, head_ip, root / "h")
        cluster.nodes.append(head)
        # the workers join as soon as the head's control service (GCS) answers, while the
        # rest of the head still starts: the nodes come up together, not one after another
        _wait_until(lambda: _accepts(head_ip, port), head, deadline, "its GCS did not start")
        for k in range(1, nodes):
            ip = f"127.0.0.{2 + k}"
            cmd = [str(RAY_BIN), "start", "--address", cluster.address, "--node-ip-address", ip,
                   *common, "--temp-dir", str(root / f"w{k}")]  # fmt: skip
            cluster.nodes.append(_launch_node(cmd, env, ip, root / f"w{k}"))
        for node in cluster.nodes:
            started = lambda n=node: _STARTED_LINE in n.log.read_text(errors="replace")  # noqa: E731
            _wait_until(started, node, deadline, "did not start")
        yield cluster
    finally:
        for node in reversed(cluster.nodes):
            _stop_node(node)


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
