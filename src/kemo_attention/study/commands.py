"""``kemo-attention study``: every self-report, repeated grouped CV, intervals, tests, one report.

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
    ModelsOption,
    QuietOption,
    RayAddressOption,
    WorkersOption,
    make_executor,
)


def _comma_list(value: str, choices: tuple[str, ...], option: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    if names == ("all",):
        return choices
    unknown = [n for n in names if n not in choices]
    if unknown or not names:
        raise typer.BadParameter(
            f"unknown value(s) {', '.join(map(repr, unknown)) or repr(value)}; expected all or a comma list of {', '.join(choices)}",
            param_hint=option,
        )
    return tuple(c for c in choices if c in names)


def study(
    inputs: Annotated[list[str], typer.Argument(metavar="RELEASE | [LABEL=]FEATURES...", help="A release folder (features of every label are extracted in one pass into --features), or feature files written by `extract` (their manifests name the label; LABEL=FILE names it for a file without one), or a folder of them.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder: report.html, summary.md, CSVs of every number, plots/, manifest.json.")] = Path("study"),
    labels: Annotated[str, typer.Option("--labels", help="Self-reports to study: all, or a comma list of valence, arousal, attention, stress, disturbance, change.")] = "all",
    models: ModelsOption = "all",
    cv: Annotated[str, typer.Option("--cv", help="sgkf (repeated stratified group 5-fold), logo (leave one participant out), or sgkf,logo.")] = "sgkf",
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="Repeats of sgkf, each a different shuffle of the participants into folds.")] = 5,
    n_splits: Annotated[int, typer.Option("--n-splits", min=2, help="Folds per sgkf repeat.")] = 5,
    protocol: Annotated[str, typer.Option("--protocol", help="population, hybrid (personalized with each test participant's first K answers), or population,hybrid.")] = "population,hybrid",
    personal_labels: Annotated[int, typer.Option("--personal-labels", min=1, help="K: answers per test participant used to personalize (hybrid); about the first day of prompts.")] = 10,
    personal_method: Annotated[str, typer.Option("--personal-method", help="offset: shift the population model's logit per person, fitted on their K answers (no refit; what serve --personalize does) | rows: refit each fold with its test participants' K answers in training.")] = "offset",
    tune: Annotated[int, typer.Option("--tune", min=0, help="Optuna (TPE) trials per outer training fold for logreg, rf, lgbm and evxgb (added as <model>-tuned); 0 = no tuning.")] = 0,
    calibrate: Annotated[str, typer.Option("--calibrate", help="sigmoid | isotonic | none: calibration fitted on grouped inner folds of each training side, shown beside the raw model.")] = "sigmoid",
    calibrate_repeats: Annotated[int, typer.Option("--calibrate-repeats", min=1, help="sgkf repeats whose folds also fit the calibrated models (each costs about two more fits per fold).")] = 1,
    features_dir: Annotated[Optional[Path], typer.Option("--features", show_default="OUT-features", help="With a RELEASE: where the extracted feature files (and their cache) go.")] = None,
    tz_offset: Annotated[str, typer.Option("--tz-offset", help="With a RELEASE: local time as a fixed UTC offset.")] = DEFAULT_TZ_OFFSET,
    min_responses: Annotated[int, typer.Option("--min-responses", min=1, help="With a RELEASE: skip participants with fewer usable answers to a label (reference: 35).")] = 35,
    backend: BackendOption = DEFAULT_BACKEND,
    workers: WorkersOption = None,
    ray_address: RayAddressOption = None,
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**32 - 1, help="Seed of the folds (repeat r uses seed + r), the models and the inner folds.")] = 42,
    fast: Annotated[bool, typer.Option("--fast", hidden=True, help="Fewer trees (tests).")] = False,
    quiet: QuietOption = False,
) -> None:
    """Compare every model on every self-report with intervals and tests that fit the design.

    Repeated participant-grouped CV (and/or leave-one-participant-out), Nadeau-Bengio corrected intervals and t-tests (Wilcoxon over participants for logo) against the dummy and the best model with Holm's correction, Friedman/Nemenyi ranks with critical-difference diagrams, calibration, optional leak-free tuning, and personalization. Writes OUT/report.html (self-contained), OUT/summary.md, CSVs and a manifest.

    Finished folds are kept beside OUT (.OUT.folds/): Ctrl-C, then the same command, resumes with identical numbers.
    """
    import time

    from kemo_attention.config import LABEL_NAMES
    from kemo_attention.compute import TaskError
    from kemo_attention.errors import KemoError
    from kemo_attention.evaluate.runner import normalise_models
    from kemo_attention.study.inputs import load_inputs
    from kemo_attention.study.runner import CV_CHOICES, PERSONAL_METHODS, PROTOCOLS, StudySettings, check_study_out, run_study

    started = time.perf_counter()
    label_list = _comma_list(labels, LABEL_NAMES, "--labels")
    cvs = _comma_list(cv, CV_CHOICES, "--cv")
    protocols = _comma_list(protocol, PROTOCOLS, "--protocol")
    if personal_method not in PERSONAL_METHODS:
        raise typer.BadParameter(f"expected offset or rows; got {personal_method!r}", param_hint="--personal-method")
    if calibrate not in ("sigmoid", "isotonic", "none"):
        raise typer.BadParameter(f"expected sigmoid, isotonic or none; got {calibrate!r}", param_hint="--calibrate")
    settings = StudySettings(
        models=normalise_models(models), cvs=cvs, repeats=repeats, n_splits=n_splits, protocols=protocols,
        personal_labels=personal_labels, personal_method=personal_method, tune=tune, calibrate=calibrate, calibrate_repeats=calibrate_repeats,
        seed=seed, fast=fast,
    )  # fmt: skip
    check_study_out(out)  # before any extraction: a wrong --out is refused at once
    executor = make_executor(backend, workers, ray_address, quiet=quiet)
    loaded = load_inputs(
        inputs, label_list, explicit_labels=labels != "all", features_dir=features_dir or out.resolve().with_name(out.resolve().name + "-features"),
        tz_offset=tz_offset, min_responses=min_responses, executor=executor, echo=None if quiet else typer.echo,
    )  # fmt: skip
    try:
        manifest = run_study(loaded, out, settings, executor=executor)
    except TaskError as exc:
        raise KemoError(f"study failed, nothing written to {out}: {exc}") from exc
    t = manifest["timings"]
    typer.echo(
        f"{len(loaded)} label(s), {t['folds']} folds ({t['folds_from_store']} from earlier runs), "
        f"{time.perf_counter() - started:.1f} s"
    )
    for line in headline_lines(out):
        typer.echo(line)
    typer.echo(f"wrote {out}/report.html, {out}/summary.md and the CSVs of every number")


def headline_lines(out: Path) -> list[str]:
    """The best model per label and cv: its ROC AUC with interval and p against the dummy."""
    import pandas as pd

    from kemo_attention.study.report_format import fmt_p

    summary = pd.read_csv(out / "summary.csv")
    comparisons = pd.read_csv(out / "comparisons.csv")
    protocol = "population" if (summary["protocol"] == "population").any() else summary["protocol"].iloc[0]
    auc = summary[(summary["metric"] == "roc_auc") & (summary["protocol"] == protocol) & (summary["model"] != "dummy")]
    lines = []
    for (label, cv), part in auc.groupby(["label", "cv"], sort=False):
        best = part.sort_values("mean", ascending=False).iloc[0]
        vs = comparisons[(comparisons["label"] == label) & (comparisons["cv"] == cv) & (comparisons["protocol"] == protocol)
                         & (comparisons["metric"] == "roc_auc") & (comparisons["model"] == best["model"]) & (comparisons["role"] == "vs_dummy")]  # fmt: skip
        p = f", p vs dummy over participants (Holm) {fmt_p(vs['p_participants_holm'].iloc[0])}" if not vs.empty else ""
        lines.append(f"  {label} ({cv}{'' if protocol == 'population' else ', ' + protocol}): best {best['model']}, ROC AUC {best['mean']:.3f} [{best['ci_low']:.3f}, {best['ci_high']:.3f}]{p}")
    return lines
