"""``kemo-attention evaluate``: grouped cross-validation of the model zoo on a feature file."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

def evaluate(
    data: Path = typer.Argument(..., help="Feature file: attention.pkl (tuple or dict) or .parquet."),
    models: str = typer.Option("all", "--models", help="'all' or a comma list of logreg,rf,lgbm,voting,evxgb,dummy (dummy is always added)."),
    cv: str = typer.Option("sgkf", "--cv", help="sgkf = stratified grouped k-fold by participant; logo = leave one participant out."),
    n_splits: int = typer.Option(5, "--n-splits", help="Folds for sgkf (ignored by logo)."),
    oversample: bool = typer.Option(False, "--oversample", help="SMOTE/SMOTENC on each training fold after feature selection."),
    backend: str = typer.Option("serial", "--backend", help="serial | processes | ray"),
    workers: Optional[int] = typer.Option(None, "--workers", help="Parallel workers (default: all cores)."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Join this Ray cluster (else RAY_ADDRESS, else a local Ray)."),
    seed: int = typer.Option(42, "--seed", help="Seed of the folds and every model."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default eval/<label>)."),
) -> None:
    """Evaluate every model on folds grouped by participant and write eval/<label>/.

    Writes fold metrics, the leaderboard, out-of-fold predictions, selected features, per-participant scores, plots and a manifest; prints the leaderboard.
    """
    from rich.console import Console

    from kemo_attention.compute import Executor
    from kemo_attention.dataset import DatasetFormatError, load_dataset
    from kemo_attention.errors import DataError, KemoError
    from kemo_attention.evaluate.runner import label_name, normalise_models, run_evaluation
    from kemo_attention.evaluate.terminal import print_leaderboard

    model_list = normalise_models(models)
    try:
        executor = Executor(backend, workers=workers, ray_address=ray_address, progress=True)
    except ValueError as exc:
        raise KemoError(str(exc)) from exc
    try:
        dataset = load_dataset(data)
    except DatasetFormatError as exc:
        raise DataError(str(exc)) from exc
    label = label_name(dataset)
    out_dir = out or Path("eval") / label

    from kemo_attention.compute import TaskError

    try:
        board = run_evaluation(
            dataset, out_dir, models=model_list, cv=cv, n_splits=n_splits, oversample=oversample,
            executor=executor, seed=seed, input_path=data,
        )  # fmt: skip
    except TaskError as exc:
        raise KemoError(f"evaluation failed, nothing written to {out_dir}: {exc}") from exc

    console = Console()
    title = f"{label}: {dataset.feature_mode} features, {cv}, {len(dataset)} samples (test folds, mean ± SD)"
    print_leaderboard(console, board, title)
    console.print(f"wrote {out_dir}/ (leaderboard.md, fold_metrics.csv, oof_predictions.parquet, plots/)")
