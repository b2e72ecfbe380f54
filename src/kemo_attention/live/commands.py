"""CLI verb of the live room: ``kemo-attention replay``. Heavy imports stay inside."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

ENV_TOKEN = "KEMO_API_TOKEN"


def replay(
    release: Path = typer.Argument(..., help="Release folder to replay (Sensor/P*/ and SubjData/)."),
    url: str = typer.Option("http://127.0.0.1:8000", "--url", help="The live server (`kemo-attention serve BUNDLE --store PATH`)."),
    participants: Optional[str] = typer.Option(None, "--participants", help="Comma list such as P01,P02 (default: every participant)."),
    batch_seconds: float = typer.Option(60.0, "--batch-seconds", help="Data time per records batch, in seconds."),
    speed: float = typer.Option(0.0, "--speed", help="0 = as fast as the server takes it; N = N times real time."),
    token: Optional[str] = typer.Option(None, "--token", help=f"The server's API token (default: ${ENV_TOKEN})."),
    out: Path = typer.Option(Path("replay.csv"), "--out", help="One row per scheduled prompt: pcode, prompt time, probability, label, answer."),
    compare: Optional[Path] = typer.Option(None, "--compare", help="Feature file of `kemo-attention extract` (attention.pkl) to compare with offline predictions."),
    bundle: Optional[Path] = typer.Option(None, "--bundle", help="The bundle the server serves (with --compare)."),
    retries: int = typer.Option(8, "--retries", min=0, help="Attempts again after a network error or 5xx (pauses 0.25 s doubling to 4 s)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Send a release to a live server as the participants' devices would, and ask for a prediction at every scheduled prompt.

    Per participant: the profile first, then the records in time order in batches of --batch-seconds of data time, each answer after its response time, and a prediction at each prompt once all data before it are sent. A failed batch (network, 5xx) is sent again, so a restarted server resumes; rows it already had are reported as duplicates. A batch over the server's body limit is sent in halves.
    """
    from rich.console import Console

    from kemo_attention.errors import KemoError
    from kemo_attention.live.replay import run_replay

    if batch_seconds <= 0:
        raise KemoError(f"--batch-seconds must be positive; got {batch_seconds:g}")
    if speed < 0:
        raise KemoError(f"--speed must be 0 (as fast as possible) or positive; got {speed:g}")
    if (compare is None) != (bundle is None):
        raise KemoError("--compare and --bundle go together: the feature file and the bundle the server serves")
    for flag, path in (("--compare", compare), ("--bundle", bundle)):
        if path is not None and not path.is_file():
            raise KemoError(f"{flag} {path}: no such file")
    if not url.startswith(("http://", "https://")):
        raise KemoError(f"--url {url!r}: expected an address such as http://127.0.0.1:8000")
    console = Console(stderr=True)
    run_replay(
        release, url=url, participants=participants, batch_ms=int(round(batch_seconds * 1000)), speed=speed,
        token=token or os.environ.get(ENV_TOKEN) or None, out=out, compare=compare, bundle=bundle,
        retries=retries, console=console, progress=not quiet,
    )
