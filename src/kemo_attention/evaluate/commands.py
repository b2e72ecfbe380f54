"""``kemo-attention evaluate``: grouped cross-validation of the model zoo on a feature file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from kemo_attention.options import (
    DEFAULT_BACKEND,
    BackendOption,
    ModelsOption,
    QuietOption,
    RayAddressOption,
    WorkersOption,
    make_executor,
    switch,
)

_SHOWN = ("f1_macro", "balanced_accuracy", "roc_auc", "pr_auc_1", "mcc", "accuracy")


def evaluate(
    data: Annotated[Path, typer.Argument(metavar="DATA", help="Feature file: attention.pkl (tuple or dict) or .parquet.")],
    models: ModelsOption = "all",
    cv: Annotated[str, typer.Option("--cv", help="sgkf = stratified grouped k-fold by participant; logo = leave one participant out.")] = "sgkf",
    n_splits: Annotated[int, typer.Option("--n-splits", help="Folds for sgkf (ignored by logo).")] = 5,
    oversample: Annotated[bool, switch("--oversample/--no-oversample", "SMOTE/SMOTENC on each training fold after feature selection.")] = False,
    backend: BackendOption = DEFAULT_BACKEND,
    workers: WorkersOption = None,
    ray_address: RayAddressOption = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the folds and every model.")] = 42,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", show_default="eval/<label>", help="Output folder.")] = None,
    quiet: QuietOption = False,
) -> None:
    """Evaluate every model on folds grouped by participant and write eval/<label>/.

    Writes fold metrics, the leaderboard, out-of-fold predictions, selected features, per-participant scores, plots and a manifest; prints the leaderboard.
    """
    from rich.console import Console
    from rich.table import Table

    from kemo_attention.compute import TaskError
    from kemo_attention.dataset import load_dataset
    from kemo_attention.errors import KemoError
    from kemo_attention.evaluate.runner import label_name, normalise_models, run_evaluation

    model_list = normalise_models(models)
    executor = make_executor(backend, workers, ray_address, quiet=quiet)
    dataset = load_dataset(data)  # a DatasetFormatError is a DataError: one line for the user
    label = label_name(dataset)
    out_dir = out or Path("eval") / label

    try:
        board = run_evaluation(
            dataset, out_dir, models=model_list, cv=cv, n_splits=n_splits, oversample=oversample,
            executor=executor, seed=seed, input_path=data,
        )  # fmt: skip
    except TaskError as exc:
        raise KemoError(f"evaluation failed, nothing written to {out_dir}: {exc}") from exc

    table = Table(title=f"{label} ({dataset.feature_mode} features, {cv}, {len(dataset)} samples)")
    table.add_column("model")
    for metric in _SHOWN:
        table.add_column(metric, justify="right")
    for _, row in board.iterrows():
        cells = []
        for metric in _SHOWN:
            mean, sd = row[f"{metric}_mean"], row[f"{metric}_std"]
            cells.append("-" if mean != mean else (f"{mean:.3f} ± {sd:.3f}" if sd == sd else f"{mean:.3f}"))
        table.add_row(str(row["model"]), *cells)
    console = Console()
    console.print(table)
    console.print(f"wrote {out_dir}/ (leaderboard.md, fold_metrics.csv, oof_predictions.parquet, plots/)")
