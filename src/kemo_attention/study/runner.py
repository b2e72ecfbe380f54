"""A study: every label x cross-validation x repeat x fold as tasks, then the tables and the report.

:func:`run_study` plans the folds (the same folds for every model of a label), runs the folds
not yet in the fold store on the executor under one progress bar, and writes the study folder
(:mod:`kemo_attention.study.tables` computes the numbers; :mod:`kemo_attention.study.report`
writes report.html and summary.md) under a temporary name, renamed into place when complete.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kemo_attention.dataset import Dataset
from kemo_attention.errors import KemoError

CV_CHOICES = ("sgkf", "logo")
PROTOCOLS = ("population", "hybrid")
STUDY_KIND = "kemo-attention study"  # manifest.json's "kind": a folder a study may replace
PERSONAL_METHODS = ("offset", "rows")
CALIBRATION_CHOICES = ("sigmoid", "isotonic", "none")

# The libraries whose versions a study records.
STUDY_LIBRARIES = (
    "kemo-attention", "numpy", "pandas", "scipy", "scikit-learn", "lightgbm", "xgboost", "optuna",
    "autorank", "statsmodels", "matplotlib",
)  # fmt: skip


@dataclass
class StudyInput:
    """One label's feature file, loaded and checked against its manifest."""

    label: str
    dataset: Dataset
    path: str
    sha256: str | None


@dataclass
class StudySettings:
    """Everything that decides a study's numbers (recorded in its manifest)."""

    models: list[str]
    cvs: tuple[str, ...] = ("sgkf",)
    repeats: int = 5
    n_splits: int = 5
    protocols: tuple[str, ...] = PROTOCOLS
    personal_labels: int = 10
    personal_method: str = "offset"
    tune: int = 0
    calibrate: str = "sigmoid"
    calibrate_repeats: int = 1
    inner_splits: int = 3
    seed: int = 42
    fast: bool = False
    notes: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        bad_cv = [c for c in self.cvs if c not in CV_CHOICES]
        if not self.cvs or bad_cv:
            raise KemoError(f"--cv takes {' and/or '.join(CV_CHOICES)}; got {', '.join(self.cvs) or 'nothing'}")
        bad = [p for p in self.protocols if p not in PROTOCOLS]
        if not self.protocols or bad:
            raise KemoError(f"--protocol takes {' and/or '.join(PROTOCOLS)}; got {', '.join(self.protocols) or 'nothing'}")
        if self.personal_method not in PERSONAL_METHODS:
            raise KemoError(f"--personal-method takes {' or '.join(PERSONAL_METHODS)}; got {self.personal_method!r}")
        if self.calibrate not in CALIBRATION_CHOICES:
            raise KemoError(f"--calibrate takes {', '.join(CALIBRATION_CHOICES)}; got {self.calibrate!r}")
        if self.repeats < 1 or self.n_splits < 2 or self.personal_labels < 1 or self.tune < 0 or self.inner_splits < 2:
            raise KemoError("--repeats >= 1, --n-splits >= 2, --personal-labels >= 1, --tune >= 0, inner folds >= 2")


def fold_plan(inputs: list[StudyInput], settings: StudySettings, store: str):
    """Every fold of the study as a :class:`FoldTask` (label, cv, repeat, fold order)."""
    from kemo_attention.evaluate.splits import make_splits, repeated_sgkf_splits
    from kemo_attention.study.folds import FoldTask

    tasks = []
    for item in inputs:
        y, groups = item.dataset.y, item.dataset.group
        for cv in settings.cvs:
            repeats = settings.repeats if cv == "sgkf" else 1
            for repeat in range(repeats):
                if cv == "sgkf":  # repeat 0: evaluate's folds; then R - 1 other partitions of the people
                    folds = repeated_sgkf_splits(y, groups, settings.n_splits, settings.seed, repeat)
                else:
                    folds = make_splits(y, groups, cv="logo")
                for k, (tr, te) in enumerate(folds):
                    if np.unique(y[tr]).shape[0] < 2:
                        raise KemoError(
                            f"{item.label}: {cv} repeat {repeat} fold {k}: the training rows hold one class; "
                            "the models need both"
                        )
                    tasks.append(FoldTask(item.label, cv, repeat, k, tr, te, store))
    return tasks


def fit_settings(inputs: list[StudyInput], settings: StudySettings) -> dict[str, Any]:
    """What changes a fitted fold: the fold store's fingerprint is a hash of this."""
    from kemo_attention.features.cache import code_version

    return {
        "inputs": {i.label: i.sha256 or f"unhashed:{len(i.dataset)}x{i.dataset.X.shape[1]}" for i in inputs},
        "models": settings.models,
        "cvs": list(settings.cvs),
        "repeats": settings.repeats,
        "n_splits": settings.n_splits,
        "tune": settings.tune,
        "calibrate": settings.calibrate,
        "calibrate_repeats": settings.calibrate_repeats,
        "inner_splits": settings.inner_splits,
        "seed": settings.seed,
        "fast": settings.fast,
        # the rows method refits with each test participant's first K answers in training
        "personal_rows": settings.personal_labels if _refits_personal(settings) else None,
        "code": code_version(),
    }


def _refits_personal(settings: StudySettings) -> bool:
    return "hybrid" in settings.protocols and settings.personal_method == "rows"


def check_study_out(out: Path) -> None:
    """Refuse an --out a study would wrongly replace (kemo_attention.files.check_replaceable_folder)."""
    from kemo_attention.files import check_replaceable_folder

    check_replaceable_folder(out, lambda manifest: manifest.get("kind") == STUDY_KIND, "study")


def check_personal_labels(inputs: list[StudyInput], settings: StudySettings) -> None:
    """The hybrid protocol scores each participant's prompts after their first K: refuse a K that
    leaves a label with no participant to score, before anything is fitted."""
    if "hybrid" not in settings.protocols:
        return
    for item in inputs:
        _, counts = np.unique(np.asarray(item.dataset.group).astype(str), return_counts=True)
        if not (counts > settings.personal_labels).any():
            raise KemoError(
                f"--personal-labels {settings.personal_labels}: no participant of {item.label} has more than "
                f"{settings.personal_labels} answers (most: {int(counts.max())}), so hybrid would score nothing; "
                "use a smaller K or --protocol population"
            )


def run_study(inputs: list[StudyInput], out_dir, settings: StudySettings, *, executor=None) -> dict[str, Any]:
    """Run the study and write ``out_dir``; return its manifest.

    Folds finished earlier under identical settings are read from the fold store beside
    ``out_dir`` (``.<name>.folds/<fingerprint>/``) instead of being fitted again.
    """
    from kemo_attention.compute import Executor
    from kemo_attention.evaluate.report import prompt_order
    from kemo_attention.study.folds import FoldStore, study_fold
    from kemo_attention.models.tuning import TUNABLE_MODELS

    settings.check()
    if not inputs:
        raise KemoError("no labels to study")
    started = time.perf_counter()
    out = Path(out_dir)
    check_study_out(out)
    check_personal_labels(inputs, settings)
    executor = executor or Executor("serial", progress=False)
    fingerprint = FoldStore.fingerprint(fit_settings(inputs, settings))
    store = FoldStore(out.parent / f".{out.name}.folds" / fingerprint)
    tasks = fold_plan(inputs, settings, str(store.directory))

    finished: dict[str, dict[str, Any]] = {}
    for task in tasks:
        done = store.load(task.key)
        if done is not None:
            finished[task.key] = done
    todo = [t for t in tasks if t.key not in finished]
    task_settings = _task_settings(inputs, settings, TUNABLE_MODELS)
    tasks_started = time.perf_counter()
    if todo:
        needed = sorted({t.label for t in todo})
        shared = {
            "datasets": {
                i.label: (i.dataset.X, i.dataset.y, i.dataset.group, prompt_order(i.dataset)) for i in inputs if i.label in needed
            },
            "settings": task_settings,
        }

        def keep(_index: int, result: dict[str, Any]) -> None:
            finished[result["key"]] = result

        executor.map(
            study_fold, todo, shared=shared, names=[t.name for t in todo], on_result=keep,
            desc=f"study: {len(inputs)} label(s) x {len(tasks) // len(inputs)} folds"
            + (f" ({len(tasks) - len(todo)} done earlier)" if len(todo) < len(tasks) else ""),
        )  # fmt: skip
    tasks_seconds = time.perf_counter() - tasks_started
    results = [finished[t.key] for t in tasks]
    return _write_study(out, inputs, settings, results, executor, fingerprint, {
        "folds": len(tasks),
        "folds_fitted_now": len(todo),
        "folds_from_store": len(tasks) - len(todo),
        "fit_cpu_s": round(sum(r["seconds"] for r in results), 3),
        "fit_cpu_s_now": round(sum(r["seconds"] for r in results if any(t.key == r["key"] for t in todo)), 3),
        "tasks_wall_s": round(tasks_seconds, 3),
        "started": started,
    })


def _task_settings(inputs, settings: StudySettings, tunable) -> dict[str, Any]:
    first = inputs[0].dataset
    for item in inputs[1:]:
        if list(item.dataset.X.columns) != list(first.X.columns):
            raise KemoError(f"{item.path}: its feature columns differ from {inputs[0].path}'s; extract every label the same way")
    return {
        "bool_columns": first.bool_columns,
        "numeric_columns": first.numeric_columns,
        "oversample": False,
        "seed": settings.seed,
        "fast": settings.fast,
        "models": settings.models,
        "tune": settings.tune,
        "tune_models": [m for m in settings.models if m in tunable],
        "calibrate": None if settings.calibrate == "none" else settings.calibrate,
        "calibrate_repeats": settings.calibrate_repeats,
        # leave-one-subject-out folds are calibrated only when no sgkf runs beside them (each
        # calibrated fold fits every model about twice more, and LOGO has a fold per participant)
        "calibrate_cvs": ["sgkf"] if "sgkf" in settings.cvs else ["logo"],
        "inner_splits": settings.inner_splits,
        "personal_rows": settings.personal_labels if _refits_personal(settings) else None,
    }


def _write_study(out: Path, inputs, settings: StudySettings, results, executor, fingerprint, timings) -> dict[str, Any]:
    from kemo_attention.files import atomic_folder, atomic_write_text
    from kemo_attention.study import tables
    from kemo_attention.study.report import write_report
    from kemo_attention.compute import default_workers
    from kemo_attention.study.stats import TEST_ASSUMPTIONS
    from kemo_attention.versions import library_versions

    started = timings.pop("started")
    tables_started = time.perf_counter()
    with atomic_folder(out) as tmp:
        computed = tables.compute_tables(inputs, settings, results)
        for name, frame in computed.frames.items():
            frame.to_csv(tmp / f"{name}.csv", index=False)
        computed.oof.to_parquet(tmp / "oof_predictions.parquet", index=False)
        tables.draw_cd_diagrams(computed, tmp / "plots")
        manifest = {
            "complete": True,
            "kind": STUDY_KIND,
            "folder": str(out),
            "settings": {
                "labels": [i.label for i in inputs],
                "models": settings.models,
                "cv": list(settings.cvs),
                "repeats": settings.repeats,
                "n_splits": settings.n_splits,
                "protocols": list(settings.protocols),
                "personal_labels": settings.personal_labels,
                "personal_method": settings.personal_method,
                "personalization": {
                    "offset": "per-person logit offset fitted (MAP) on the first K answers; no refit",
                    "rows": "the first K answers of each test participant join the fold's training rows; refit",
                }[settings.personal_method],
                "tune_trials": settings.tune,
                "calibrate": settings.calibrate,
                "calibrate_repeats": settings.calibrate_repeats,
                "inner_splits": settings.inner_splits,
                "ece_bins": tables.ECE_BINS,
                "alpha": tables.ALPHA,
                "fast": settings.fast,
                "backend": executor.backend,
                "workers": 1 if executor.backend == "serial" else (executor.workers or default_workers()),
                **settings.notes,
            },
            "seeds": {
                "base": settings.seed,
                # repeat 0: StratifiedGroupKFold(random_state=base); repeat r: participants in the order
                # of numpy's default_rng(base + r).permutation (evaluate/splits.py)
                "sgkf_repeat_seeds": [settings.seed + r for r in range(settings.repeats)] if "sgkf" in settings.cvs else [],
                "models": settings.seed,
                "inner_folds": settings.seed,
            },
            "inputs": {
                i.label: {
                    "path": i.path, "sha256": i.sha256, "samples": int(len(i.dataset)),
                    "participants": int(np.unique(i.dataset.group).shape[0]), "positives": int(i.dataset.y.sum()),
                    "features": int(i.dataset.X.shape[1]), "feature_mode": i.dataset.feature_mode,
                }  # fmt: skip
                for i in inputs
            },
            "fold_store": {"fingerprint": fingerprint},
            "tests": TEST_ASSUMPTIONS,
            "notes": computed.notes,
            "versions": library_versions(STUDY_LIBRARIES),
            "timings": {**timings, "tables_s": None, "total_s": None},
        }
        manifest["timings"]["tables_s"] = round(time.perf_counter() - tables_started, 3)
        manifest["timings"]["total_s"] = round(time.perf_counter() - started, 3)
        atomic_write_text(tmp / "manifest.json", json.dumps(manifest, indent=2, default=_json_default))
        write_report(tmp)
    return manifest


def _json_default(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
