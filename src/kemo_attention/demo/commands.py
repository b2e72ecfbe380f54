"""CLI verb of the demo room: ``kemo-attention synth``."""

from __future__ import annotations

from pathlib import Path

import typer


def synth(
    out: Path = typer.Option(..., "--out", help="Folder to write the demo release to (must be empty or absent)."),
    participants: int = typer.Option(None, "--participants", min=1, help="Number of participants (default: the demo size)."),
    days: int = typer.Option(None, "--days", min=1, help="Study days per participant (default: the demo size)."),
    scale: float = typer.Option(
        None, "--scale", help="Sampling-rate multiplier of the dense band streams; 1.0 = as in the release (default: the demo size)."
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed: the same seed writes the same bytes."),
    force: bool = typer.Option(False, "--force", help="Replace the folder even if it is not empty."),
    workers: int = typer.Option(1, "--workers", min=1, help="Participants written in parallel (local processes)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Write a demo release: the real layout, 27 sensor files per participant, real prompt times.

    Prompt times and answers come from a real K-EmoPhone subset (MIT licence). The sensor data are synthetic, with a documented relation between the hour before each prompt and its attention answer, and some dirt on purpose (src/kemo_attention/demo/data/README.md).

    The folder is written under a temporary name and renamed when complete.
    """
    import time

    from kemo_attention.compute import Executor
    from kemo_attention.demo import synth as s

    participants = participants or s.DEMO_PARTICIPANTS
    days = days or s.DEMO_DAYS
    scale = s.DEMO_SCALE if scale is None else scale
    executor = Executor("processes", workers=workers, progress=not quiet) if workers > 1 else Executor("serial", progress=not quiet)
    started = time.perf_counter()
    root = s.write_demo_release(
        out, participants=participants, days=days, scale=scale, seed=seed, force=force, progress=not quiet, executor=executor
    )
    took = time.perf_counter() - started
    typer.echo(f"demo release: {root} ({participants} participants x {days} days, scale {scale:g}, seed {seed}) in {took:.1f} s")
