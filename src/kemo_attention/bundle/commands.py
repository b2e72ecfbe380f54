"""CLI verb ``export``. Heavy imports stay inside the function."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from kemo_attention.options import ModelName, ModelOption


class Calibration(str, enum.Enum):
    """How `export --calibrate` maps the model's probabilities."""

    sigmoid = "sigmoid"
    isotonic = "isotonic"


class BundleFormat(str, enum.Enum):
    """How `export` writes the fitted model."""

    pickle = "pickle"
    skops = "skops"


def export(
    data: Annotated[Path, typer.Argument(metavar="DATA", help="Feature file: attention.pkl (or any shape `load_dataset` accepts) or .parquet.")],
    model: ModelOption = ModelName.lgbm,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the bundle (<label>-<model>.pkl + .manifest.json).")] = Path("models"),
    eval_dir: Annotated[Optional[Path], typer.Option("--eval", help="An `evaluate` output folder: its leaderboard row becomes the bundle's cv_scores.")] = None,
    fmt: Annotated[BundleFormat, typer.Option("--format", help="pickle (the .pkl users expect) or skops (safer to load).")] = BundleFormat.pickle,
    calibrate: Annotated[Optional[Calibration], typer.Option("--calibrate", help="Return calibrated probabilities: sigmoid (Platt) or isotonic, fitted on out-of-fold probabilities of participant-grouped inner folds; the bundle is named <label>-<model>-<method>.")] = None,
    calibration_splits: Annotated[int, typer.Option("--calibration-splits", min=2, help="Inner folds (by participant) for --calibrate.")] = 3,
) -> None:
    """Fit a model on every sample of DATA and write it as a bundle for `serve` and the dashboard.

    A pickle runs code when loaded: share and load only bundles you trust. The manifest records the file's SHA-256, and loading refuses a file that does not match it.
    """
    from kemo_attention.bundle.export import export_bundle
    from kemo_attention.bundle.runtime import manifest_path_for
    from kemo_attention.dataset import load_dataset

    dataset = load_dataset(data)  # a DatasetFormatError is a DataError: one line for the user
    path = export_bundle(
        dataset, ModelName(model).value, out, eval_dir=eval_dir, fmt=BundleFormat(fmt).value, input_path=data,
        calibrate=None if calibrate is None else Calibration(calibrate).value, calibration_splits=calibration_splits,
    )
    typer.echo(f"wrote {path}")
    typer.echo(f"wrote {manifest_path_for(path)}")
    if calibrate is not None:
        import json

        calibration = json.loads(manifest_path_for(path).read_text()).get("calibration") or {}
        slope = (calibration.get("parameters") or {}).get("slope")
        if slope is not None and slope <= 0:
            # the inner folds found no ranking worth keeping: the map flattens or reverses the model's order
            typer.secho(f"warning: the sigmoid map's slope is {slope:.3f} (<= 0): on held-out participants the model's "
                        "ranking did not hold, so calibrated probabilities ignore or reverse it; check the evaluation "
                        "before serving this bundle", err=True, fg="yellow")
    typer.echo(f"serve it with: kemo-attention serve {path}")
