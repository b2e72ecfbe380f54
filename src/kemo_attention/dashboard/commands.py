"""``kemo-attention dashboard``: start the Streamlit app on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from kemo_attention.options import DEFAULT_HOST, BundleSha256Option, HostOption, PortOption

DEFAULT_EVAL = Path("eval/attention")


def dashboard(
    eval_dir: Annotated[
        Optional[Path],
        typer.Option("--eval", show_default="eval/attention when it exists", help="Evaluation folder from `kemo-attention evaluate`."),
    ] = None,
    bundle: Annotated[Optional[Path], typer.Option("--bundle", help="Model bundle (.pkl) from `kemo-attention export`, for the Try it page.")] = None,
    release: Annotated[
        Optional[Path],
        typer.Option("--release", help="Release folder: raw answers on the People page, live features on Try it, a check on Data."),
    ] = None,
    check: Annotated[Optional[Path], typer.Option("--check", help="Check report JSON from `kemo-attention check RELEASE --json --out FILE`.")] = None,
    store: Annotated[
        Optional[Path],
        typer.Option("--store", help="Live store of `kemo-attention serve --store PATH` (SQLite file), for the Live page."),
    ] = None,
    study: Annotated[
        Optional[Path],
        typer.Option("--study", help="Study folder of `kemo-attention study --out`, for the Study page."),
    ] = None,
    port: PortOption = 8501,
    host: HostOption = DEFAULT_HOST,
    sha256: BundleSha256Option = None,
) -> None:
    """Open the results in a Streamlit dashboard: leaderboard and curves, features, people,
    data yield, a live "try it" with an exported bundle, the live store's predictions and a study's results. Runs until Ctrl+C."""
    import os
    import signal
    import subprocess
    import sys

    from kemo_attention.dashboard.config import DashboardConfig
    from kemo_attention.errors import KemoError

    if eval_dir is None and DEFAULT_EVAL.is_dir():
        eval_dir = DEFAULT_EVAL
    _require(eval_dir, "--eval", "an evaluation folder", is_dir=True)
    _require(bundle, "--bundle", "a bundle file", is_dir=False)
    _require(release, "--release", "a release folder", is_dir=True)
    _require(check, "--check", "a check report JSON file", is_dir=False)
    _require(store, "--store", "the live store file of `kemo-attention serve --store`", is_dir=False)
    _require(study, "--study", "a study folder", is_dir=True)
    if eval_dir is not None and not (eval_dir / "leaderboard.csv").is_file():
        raise KemoError(f"--eval {eval_dir}: no leaderboard.csv there; expected the folder `kemo-attention evaluate --out` wrote")
    if study is not None and not (study / "summary.csv").is_file():
        raise KemoError(f"--study {study}: no summary.csv there; expected the folder `kemo-attention study --out` wrote")
    if sha256 is not None:
        sha256 = _expected_bundle_sha256(bundle, sha256)
    if not 1 <= port <= 65535:
        raise KemoError(f"--port {port}: expected a port number 1-65535")
    _require_free_port(host, port)

    cfg = DashboardConfig(eval_dir, bundle, release, check, sha256, store, study)
    app = Path(__file__).with_name("app.py")
    command = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--server.address", host,
        "--server.port", str(port),
        "--server.fileWatcherType", "none",
        "--global.developmentMode", "false",
        "--client.toolbarMode", "minimal",
    ]
    env = {**os.environ, **cfg.to_env(), "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    shown_host = f"[{host}]" if ":" in host else host
    typer.echo(f"Dashboard: http://{shown_host}:{port}  (Ctrl+C to stop)", err=False)
    child = subprocess.Popen(command, env=env)

    def forward(signum, _frame):  # stop Streamlit with us, never leave it orphaned
        if child.poll() is None:
            child.send_signal(signum)

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        while True:
            try:
                code = child.wait()
                break
            except KeyboardInterrupt:
                # Ctrl+C reaches Streamlit too (same process group); wait for it to shut down.
                continue
    finally:
        signal.signal(signal.SIGTERM, previous)
        if child.poll() is None:
            child.kill()
            child.wait()
    # Streamlit's own exit code; a signal death (negative) becomes 128 + signal as shells do.
    sys.exit(code if code >= 0 else 128 - code)


def _require(path: Optional[Path], flag: str, what: str, *, is_dir: bool) -> None:
    from kemo_attention.errors import KemoError

    if path is None:
        return
    if not path.exists():
        raise KemoError(f"{flag} {path}: no such {'folder' if is_dir else 'file'}; expected {what}")
    if is_dir and not path.is_dir():
        raise KemoError(f"{flag} {path}: is a file; expected {what}")
    if not is_dir and path.is_dir():
        raise KemoError(f"{flag} {path}: is a folder; expected {what}")


def _expected_bundle_sha256(bundle: Optional[Path], sha256: str) -> str:
    """Refuse at once a --sha256 that is malformed, has no --bundle, or does not match the
    file now; the Try it page checks it again whenever it loads the bundle."""
    import hashlib

    from kemo_attention.bundle.runtime import BundleError, check_sha256_text
    from kemo_attention.errors import KemoError

    expected = check_sha256_text(sha256)
    if bundle is None:
        raise KemoError("--sha256 is the SHA-256 of the --bundle file; give --bundle too (or unset KEMO_BUNDLE_SHA256)")
    actual = hashlib.sha256(bundle.read_bytes()).hexdigest()
    if actual != expected:
        raise BundleError(f"--bundle {bundle}: SHA-256 {actual[:16]}... is not the expected {expected[:16]}... "
                          f"(--sha256 / KEMO_BUNDLE_SHA256); this is not the bundle you meant to load")
    return expected


def _require_free_port(host: str, port: int) -> None:
    """Fail with one clear line instead of Streamlit's traceback when the port is taken."""
    import socket

    from kemo_attention.errors import KemoError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise KemoError(f"cannot serve on {host}:{port} ({exc.strerror}); pick another with --port") from None
