"""CLI verb of the features room: ``kemo-attention extract``.

Imports stay inside the function so that ``kemo-attention --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import typer


def extract(
    release: Path = typer.Argument(..., help="Release folder (SubjData/ + Sensor/P01/...), e.g. one written by `kemo-attention synth`."),
    out: Path = typer.Option(Path("features"), "--out", "-o", help="Output folder for <label>.pkl, <label>.parquet and manifest.json."),
    label: str = typer.Option("attention", "--label", help="Self-report that becomes the label: valence, arousal, attention, stress, disturbance (or change)."),
    threshold: float = typer.Option(0.0, "--threshold", help="y = value > threshold (with --threshold-kind participant_mean: value > own mean + threshold)."),
    threshold_kind: str = typer.Option("fixed", "--threshold-kind", help="fixed | participant_mean."),
    min_responses: int = typer.Option(35, "--min-responses", help="Skip participants with fewer usable responses (reference: 35)."),
    include_voluntary: bool = typer.Option(False, "--include-voluntary", help="Also use voluntary responses (anchored at their response time); the reference uses scheduled ones only."),
    mode: str = typer.Option("causal", "--mode", help="causal (default: no value uses data after the prompt; what serving can reproduce) | reference (the dataset authors' features, whose grid leaks later data)."),
    coverage: bool = typer.Option(False, "--coverage", help="Add data-coverage columns (share of each window covered by real samples)."),
    tz_offset: str = typer.Option("+09:00", "--tz-offset", help="Local time as a fixed UTC offset (K-EmoPhone: +09:00)."),
    backend: str = typer.Option("serial", "--backend", help="serial | processes | ray: one task per participant."),
    workers: int = typer.Option(None, "--workers", "-j", help="Parallel workers (default: all CPUs)."),
    ray_address: str = typer.Option(None, "--ray-address", help="Join this Ray cluster (else RAY_ADDRESS, else a local Ray on 127.0.0.1). Needs --backend ray."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Recompute every participant (the cache in OUT/.cache is neither read nor written)."),
    cache_dir: Path = typer.Option(None, "--cache-dir", help="Where per-participant results are cached (default OUT/.cache)."),
) -> None:
    """Extract the feature matrix of one label from a release.

    One sample per self-report (scheduled prompts by default), described by 3,356 features of the participant's data up to 1 ms before the prompt.

    Each participant is one task; finished participants are cached, so an interrupted run resumes and an unchanged rerun is near-instant.

    Writes OUT/<label>.pkl (the reference tuple X, y, group, t, date_times), OUT/<label>.parquet and OUT/manifest.json.
    """
    import time

    from kemo_attention.compute import Executor
    from kemo_attention.config import FeatureSettings, LabelSettings
    from kemo_attention.errors import KemoError
    from kemo_attention.features.extract import extract_release

    started = time.perf_counter()
    try:
        label_settings = LabelSettings(
            name=label,
            threshold=threshold,
            threshold_kind=threshold_kind,
            min_responses=min_responses,
            scheduled_only=not include_voluntary,
        )
        feature_settings = FeatureSettings(mode=mode, coverage=coverage, tz_offset=tz_offset)
        executor = Executor(backend=backend, workers=workers, ray_address=ray_address)  # type: ignore[arg-type]
    except ValueError as err:  # settings and executor validation: one line for the user
        raise KemoError(str(err)) from err
    ds = extract_release(
        release,
        out,
        label=label_settings,
        features=feature_settings,
        executor=executor,
        cache_dir=cache_dir,
        use_cache=not no_cache,
    )
    import json

    manifest = json.loads((Path(out) / "manifest.json").read_text())
    counts, cache = manifest["counts"], manifest["cache"]
    elapsed = time.perf_counter() - started
    typer.echo(
        f"{counts['samples']} samples x {counts['features']} features from {counts['participants']} participants "
        f"({counts['participants_skipped']} skipped), {counts['positives']} positive ({label} > "
        f"{'own mean + ' if threshold_kind == 'participant_mean' else ''}{threshold:g}), "
        f"mode {mode}, {elapsed:.1f} s"
        + (f", {cache['hits']} from cache" if cache["enabled"] and cache["hits"] else "")
    )
    for pcode, reason in manifest["skipped"].items():
        typer.echo(f"  skipped {pcode}: {reason}")
    typer.echo(f"wrote {Path(out) / manifest['files']['pkl']}, {Path(out) / manifest['files']['parquet']}, {Path(out) / 'manifest.json'}")
    del ds
