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

def evaluate(
    data: Annotated[Path, typer.Argument(metavar="DATA", help="Feature file: attention.pkl (tuple or dict) or .parquet.")],
    models: ModelsOption = "all",
    cv: Annotated[str, typer.Option("--cv", help="sgkf = stratified grouped k-fold by participant; logo = leave one participant out.")] = "sgkf",
    n_splits: Annotated[int, typer.Option("--n-splits", help="Folds for sgkf (ignored by logo).")] = 5,
    oversample: Annotated[bool, switch("--oversample/--no-oversample", "SMOTE/SMOTENC on each training fold after feature selection.")] = False,
    backend: BackendOption = DEFAULT_BACKEND,
    workers: WorkersOption = None,
    ray_address: RayAddressOption = None,
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**32 - 1, help="Seed of the folds and every model.")] = 42,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", show_default="eval/<label>", help="Output folder.")] = None,
    quiet: QuietOption = False,
) -> None:
    """Evaluate every model on folds grouped by participant and write eval/<label>/.

    Writes fold metrics, the leaderboard, out-of-fold predictions, selected features, per-participant scores, plots and a manifest; prints the leaderboard.
    """
    from rich.console import Console

    from kemo_attention.compute import TaskError, nodes_line
    from kemo_attention.dataset import load_dataset
    from kemo_attention.errors import KemoError
    from kemo_attention.evaluate.runner import normalise_models, run_evaluation
    from kemo_attention.evaluate.terminal import print_leaderboard

    model_list = normalise_models(models)
    executor = make_executor(backend, workers, ray_address, quiet=quiet)
    dataset = load_dataset(data)  # a DatasetFormatError is a DataError: one line for the user
    label = dataset.label
    out_dir = out or Path("eval") / label

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
    if executor.nodes_used:
        console.print(nodes_line(executor.nodes_used), highlight=False)
    console.print(f"wrote {out_dir}/ (leaderboard.md, fold_metrics.csv, oof_predictions.parquet, plots/)")
