"""CLI verb of the demo room: ``kemo-attention synth``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kemo_attention.options import (
    DEFAULT_BACKEND,
    DEFAULT_DEMO_SEED,
    BackendOption,
    DaysOption,
    DemoSeedOption,
    ParticipantsOption,
    QuietOption,
    RayAddressOption,
    ScaleOption,
    WorkersOption,
    make_executor,
    switch,
)


def synth(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the demo release to (must be empty or absent).")],
    participants: ParticipantsOption = None,
    days: DaysOption = None,
    scale: ScaleOption = None,
    seed: DemoSeedOption = DEFAULT_DEMO_SEED,
    force: Annotated[bool, switch("--force/--no-force", "Replace the folder even if it is not empty.")] = False,
    backend: BackendOption = DEFAULT_BACKEND,
    workers: WorkersOption = None,
    ray_address: RayAddressOption = None,
    quiet: QuietOption = False,
) -> None:
    """Write a demo release: the real layout, 27 sensor files per participant, real prompt times.

    Prompt times and answers come from a real K-EmoPhone subset (MIT licence). The sensor data are synthetic, with a documented relation between the hour before each prompt and its attention answer, and some dirt on purpose (src/kemo_attention/demo/data/README.md).

    The folder is written under a temporary name and renamed when complete.
    """
    import time

    from kemo_attention.demo import synth as s

    participants = participants or s.DEMO_PARTICIPANTS
    days = days or s.DEMO_DAYS
    scale = s.DEMO_SCALE if scale is None else scale
    executor = make_executor(backend, workers, ray_address, quiet=quiet)
    started = time.perf_counter()
    root = s.write_demo_release(
        out, participants=participants, days=days, scale=scale, seed=seed, force=force, progress=not quiet, executor=executor
    )
    took = time.perf_counter() - started
    typer.echo(f"demo release: {root} ({participants} participants x {days} days, scale {scale:g}, seed {seed}) in {took:.1f} s")
