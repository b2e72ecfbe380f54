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
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder for <label>.pkl, <label>.parquet and <label>.manifest.json.")] = Path("features"),
    label: Annotated[str, typer.Option("--label", help="Self-report(s) that become the label: valence, arousal, attention, stress, disturbance, change; several comma-separated (attention,stress) or all, extracted in one pass over the release (each label's files as if extracted alone).")] = "attention",
    threshold: Annotated[float, typer.Option("--threshold", help="y = value > threshold (with --threshold-kind participant_mean: value > own mean + threshold).")] = 0.0,
    threshold_kind: Annotated[str, typer.Option("--threshold-kind", help="fixed | participant_mean.")] = "fixed",
    min_responses: Annotated[int, typer.Option("--min-responses", help="Skip participants with fewer usable responses (reference: 35).")] = 35,
    include_voluntary: Annotated[bool, switch("--include-voluntary/--no-include-voluntary", "Also use voluntary responses (anchored at their response time); the reference uses scheduled ones only.")] = False,
    mode: Annotated[str, typer.Option("--mode", help="causal (no value uses data after the prompt; what serving can reproduce) | reference (the dataset authors' features, whose grid leaks later data).")] = "causal",
    coverage: Annotated[bool, switch("--coverage/--no-coverage", "Add data-coverage columns (share of each window covered by real samples).")] = False,
    features: Annotated[str, typer.Option("--features", help="reference (the dataset authors' 3,356 columns) | reference+physio (adds heart-rate variability, skin-conductance level and responses, skin-temperature slope after them; docs/features.md).")] = "reference",
    tz_offset: TzOffsetOption = DEFAULT_TZ_OFFSET,
    backend: BackendOption = DEFAULT_BACKEND,
    workers: WorkersOption = None,
    ray_address: RayAddressOption = None,
    cache: Annotated[bool, switch("--cache/--no-cache", "Reuse and keep per-participant results (--no-cache recomputes every participant and neither reads nor writes the cache).")] = True,
    cache_dir: Annotated[Optional[Path], typer.Option("--cache-dir", show_default="OUT/.cache", help="Where per-participant results are cached.")] = None,
    quiet: QuietOption = False,
) -> None:
    """Extract the feature matrix of one label (or several) from a release.

    One sample per self-report (scheduled prompts by default), described by 3,356 features of the participant's data up to 1 ms before the prompt.

    Each participant is one task; finished participants are cached, so an interrupted run resumes and an unchanged rerun is near-instant.

    Writes OUT/<label>.pkl (the reference tuple X, y, group, t, date_times), OUT/<label>.parquet and OUT/<label>.manifest.json (the label and both files' SHA-256; export and evaluate refuse a file it does not describe) for each label.

    Several labels (--label attention,stress or all) read each participant's raw files once: the features are computed at the union of the labels' prompt times; only the label history and the rows kept differ per label.
    """
    import json
    import time

    from kemo_attention.config import FeatureSettings, LabelSettings
    from kemo_attention.compute import nodes_line
    from kemo_attention.dataset import feature_manifest_path
    from kemo_attention.features.extract import extract_release_labels

    started = time.perf_counter()
    names = label_names(label)
    # Settings and executor refuse bad values with a KemoError naming the option's field.
    label_settings = [
        LabelSettings(
            name=name,
            threshold=threshold,
            threshold_kind=threshold_kind,
            min_responses=min_responses,
            scheduled_only=not include_voluntary,
        )
        for name in names
    ]
    feature_settings = FeatureSettings(mode=mode, coverage=coverage, tz_offset=tz_offset, feature_set=features)
    executor = make_executor(backend, workers, ray_address, quiet=quiet)
    datasets = extract_release_labels(
        release,
        out,
        labels=label_settings,
        features=feature_settings,
        executor=executor,
        cache_dir=cache_dir,
        use_cache=cache,
    )
    del datasets
    elapsed = time.perf_counter() - started
    rule = f"{'own mean + ' if threshold_kind == 'participant_mean' else ''}{threshold:g}"
    for name in names:
        manifest_file = feature_manifest_path(Path(out) / f"{name}.pkl")
        manifest = json.loads(manifest_file.read_text())
        counts, cached = manifest["counts"], manifest["cache"]
        typer.echo(
            f"{name}: {counts['samples']} samples x {counts['features']} features from {counts['participants']} participants "
            f"({counts['participants_skipped']} skipped), {counts['positives']} positive ({name} > {rule}), "
            f"mode {mode}, {elapsed:.1f} s"
            + (f", {cached['hits']} from cache" if cached["enabled"] and cached["hits"] else "")
        )
        if manifest["settings"].get("ray_nodes"):
            typer.echo(nodes_line(manifest["settings"]["ray_nodes"]))
        for pcode, reason in manifest["skipped"].items():
            typer.echo(f"  skipped {pcode}: {reason}")
        typer.echo(f"wrote {Path(out) / manifest['files']['pkl']}, {Path(out) / manifest['files']['parquet']}, {manifest_file}")


def label_names(text: str) -> list[str]:
    """``--label``: one name, several comma-separated ("attention,stress"), or "all" (every
    label, in :data:`~kemo_attention.config.LABEL_NAMES` order)."""
    from kemo_attention.config import LABEL_NAMES
    from kemo_attention.errors import KemoError

    names = [part.strip() for part in text.split(",") if part.strip()]
    if names == ["all"]:
        return list(LABEL_NAMES)
    unknown = [name for name in names if name not in LABEL_NAMES]
    if not names or unknown:
        raise KemoError(
            f"--label: expected label names from {', '.join(LABEL_NAMES)} (comma-separated) or all; "
            f"got {(unknown[0] if unknown else text)!r}"
        )
    return list(dict.fromkeys(names))  # a name given twice is extracted once
