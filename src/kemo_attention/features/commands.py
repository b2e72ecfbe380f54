"""CLI verb of the features room: ``kemo-attention extract``.

Imports stay inside the function so that ``kemo-attention --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from kemo_attention.config import DEFAULT_TZ_OFFSET
from kemo_attention.options import (
    DEFAULT_BACKEND,
    BackendOption,
    QuietOption,
    RayAddressOption,
    TzOffsetOption,
    WorkersOption,
    make_executor,
    switch,
)


def extract(
    release: Annotated[Path, typer.Argument(metavar="RELEASE", help="Release folder (SubjData/ + Sensor/P01/...), e.g. one written by `kemo-attention synth`.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder for <label>.pkl, <label>.parquet and manifest.json.")] = Path("features"),
    label: Annotated[str, typer.Option("--label", help="Self-report that becomes the label: valence, arousal, attention, stress, disturbance (or change).")] = "attention",
    threshold: Annotated[float, typer.Option("--threshold", help="y = value > threshold (with --threshold-kind participant_mean: value > own mean + threshold).")] = 0.0,
    threshold_kind: Annotated[str, typer.Option("--threshold-kind", help="fixed | participant_mean.")] = "fixed",
    min_responses: Annotated[int, typer.Option("--min-responses", help="Skip participants with fewer usable responses (reference: 35).")] = 35,
    include_voluntary: Annotated[bool, switch("--include-voluntary/--no-include-voluntary", "Also use voluntary responses (anchored at their response time); the reference uses scheduled ones only.")] = False,
    mode: Annotated[str, typer.Option("--mode", help="causal (no value uses data after the prompt; what serving can reproduce) | reference (the dataset authors' features, whose grid leaks later data).")] = "causal",
    coverage: Annotated[bool, switch("--coverage/--no-coverage", "Add data-coverage columns (share of each window covered by real samples).")] = False,
    tz_offset: TzOffsetOption = DEFAULT_TZ_OFFSET,
    backend: BackendOption = DEFAULT_BACKEND,
    workers: WorkersOption = None,
    ray_address: RayAddressOption = None,
    cache: Annotated[bool, switch("--cache/--no-cache", "Reuse and keep per-participant results (--no-cache recomputes every participant and neither reads nor writes the cache).")] = True,
    cache_dir: Annotated[Optional[Path], typer.Option("--cache-dir", show_default="OUT/.cache", help="Where per-participant results are cached.")] = None,
    quiet: QuietOption = False,
) -> None:
    """Extract the feature matrix of one label from a release.

    One sample per self-report (scheduled prompts by default), described by 3,356 features of the participant's data up to 1 ms before the prompt.

    Each participant is one task; finished participants are cached, so an interrupted run resumes and an unchanged rerun is near-instant.

    Writes OUT/<label>.pkl (the reference tuple X, y, group, t, date_times), OUT/<label>.parquet and OUT/manifest.json.
    """
    import time

    from kemo_attention.config import FeatureSettings, LabelSettings
    from kemo_attention.compute import nodes_line
    from kemo_attention.features.extract import extract_release

    started = time.perf_counter()
    # Settings and executor refuse bad values with a KemoError naming the option's field.
    label_settings = LabelSettings(
        name=label,
        threshold=threshold,
        threshold_kind=threshold_kind,
        min_responses=min_responses,
        scheduled_only=not include_voluntary,
    )
    feature_settings = FeatureSettings(mode=mode, coverage=coverage, tz_offset=tz_offset)
    executor = make_executor(backend, workers, ray_address, quiet=quiet)
    ds = extract_release(
        release,
        out,
        label=label_settings,
        features=feature_settings,
        executor=executor,
        cache_dir=cache_dir,
        use_cache=cache,
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
    if manifest["settings"].get("ray_nodes"):
        typer.echo(nodes_line(manifest["settings"]["ray_nodes"]))
    for pcode, reason in manifest["skipped"].items():
        typer.echo(f"  skipped {pcode}: {reason}")
    typer.echo(f"wrote {Path(out) / manifest['files']['pkl']}, {Path(out) / manifest['files']['parquet']}, {Path(out) / 'manifest.json'}")
    del ds
