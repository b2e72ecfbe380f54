"""The study runner: folds, pairing, resume, and what the folder holds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from study_inputs import study_inputs
from kemo_attention.compute import Executor
from kemo_attention.study.runner import StudySettings, fold_plan, run_study


def test_no_participant_on_both_sides_and_repeats_differ():
    inputs = study_inputs(participants=12)
    settings = StudySettings(models=["logreg", "dummy"], cvs=("sgkf", "logo"), repeats=3)
    tasks = fold_plan(inputs, settings, "unused")
    for task in tasks:
        groups = next(i for i in inputs if i.label == task.label).dataset.group
        assert not set(groups[task.train_idx]) & set(groups[task.test_idx]), task.name
    # every repeat covers every sample exactly once, with a different partition of the people
    for label in ("attention", "stress"):
        partitions = []
        for r in range(3):
            folds = [t for t in tasks if t.label == label and t.cv == "sgkf" and t.repeat == r]
            assert len(folds) == 5
            test_rows = np.sort(np.concatenate([t.test_idx for t in folds]))
            assert np.array_equal(test_rows, np.arange(len(inputs[0].dataset)))
            groups = inputs[0].dataset.group
            partitions.append(frozenset(frozenset(groups[t.test_idx]) for t in folds))
        assert len(set(partitions)) == 3
        logo = [t for t in tasks if t.label == label and t.cv == "logo"]
        assert len(logo) == 12


def test_folder_holds_every_table_with_its_columns(small_study):
    out, inputs, settings, manifest = small_study
    for name in ("fold_scores", "participant_scores", "summary", "comparisons", "omnibus", "calibration",
                 "reliability", "personalization", "tuning"):  # fmt: skip
        assert (out / f"{name}.csv").exists(), name
    folds = pd.read_csv(out / "fold_scores.csv")
    # sgkf: 2 labels x 2 repeats x 5 folds; logo: 2 labels x 10 participants; x 3 models x 2 protocols
    assert len(folds) == (2 * 2 * 5 + 2 * 10) * 3 * 2
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk["complete"] is True
    assert on_disk["inputs"]["attention"]["sha256"] == inputs[0].sha256
    assert on_disk["seeds"]["sgkf_repeat_seeds"] == [42, 43]
    assert on_disk["settings"]["personal_labels"] == 5
    assert on_disk["versions"]["scikit-learn"]


def test_models_are_scored_on_identical_units(small_study):
    out, *_ = small_study
    folds = pd.read_csv(out / "fold_scores.csv", keep_default_na=False)
    sizes = folds.groupby(["label", "cv", "protocol", "repeat", "fold", "pcode"])["n_test"].nunique()
    assert (sizes == 1).all()
    per_model = folds.groupby(["label", "cv", "protocol", "model"]).size()
    assert (per_model == 10).all()  # sgkf: 2 repeats x 5 folds; logo: 10 participants
    oof = pd.read_parquet(out / "oof_predictions.parquet")
    rows = oof.groupby(["label", "cv", "repeat", "fold", "model", "protocol"])["sample"].apply(lambda s: tuple(sorted(s)))
    for (label, cv, repeat, fold), part in rows.groupby(level=[0, 1, 2, 3]):
        assert part.nunique() == 1, (label, cv, repeat, fold)  # every model x protocol: the same rows


def test_hybrid_scores_only_prompts_after_the_personal_ones(small_study):
    out, inputs, settings, _ = small_study
    oof = pd.read_parquet(out / "oof_predictions.parquet")
    for item in inputs:
        ds = item.dataset
        times = pd.Series(pd.to_datetime(pd.Series(list(ds.date_times)), utc=True))
        scored = oof[(oof["label"] == item.label) & (oof["cv"] == "sgkf") & (oof["repeat"] == 0)
                     & (oof["model"] == "logreg")]  # fmt: skip
        for pcode in np.unique(ds.group):
            rows = np.flatnonzero(ds.group == pcode)
            first = set(rows[np.argsort(times.iloc[rows].to_numpy(), kind="stable")][: settings.personal_labels])
            seen = set(scored.loc[scored["pcode"] == pcode, "sample"])
            assert seen and not seen & first
            assert len(seen) == len(rows) - settings.personal_labels


def test_best_model_is_compared_with_the_dummy_and_holm_is_applied(small_study):
    out, *_ = small_study
    comp = pd.read_csv(out / "comparisons.csv")
    summary = pd.read_csv(out / "summary.csv")
    part = comp[(comp["label"] == "attention") & (comp["cv"] == "sgkf") & (comp["protocol"] == "population")
                & (comp["metric"] == "roc_auc")]  # fmt: skip
    auc = summary[(summary["label"] == "attention") & (summary["cv"] == "sgkf") & (summary["protocol"] == "population")
                  & (summary["metric"] == "roc_auc") & (summary["model"] != "dummy")]  # fmt: skip
    best = auc.sort_values("mean").iloc[-1]["model"]
    assert set(part.loc[part["role"] == "vs_best", "versus"]) == {best}
    assert best not in set(part.loc[part["role"] == "vs_best", "model"])
    assert set(part.loc[part["role"] == "vs_dummy", "model"]) == {"logreg", "rf"}
    # Holm: adjusted p >= raw p, and the smallest raw p is multiplied by the family size
    assert (part["p_holm"] >= part["p_value"] - 1e-15).all()
    smallest = part.sort_values("p_value").iloc[0]
    assert smallest["p_holm"] == pytest.approx(min(1.0, smallest["p_value"] * len(part)))
    # the decision is the participant-level test's (the simulation found the corrected t too liberal)
    assert (part["significant"] == (part["p_participants_holm"] < 0.05)).all()
    assert (part["n_participants"] == 10).all() and (part["test_participants"].str.contains("Wilcoxon")).all()
    # the synthetic label carries a strong signal: the best model beats the floor
    assert part.loc[(part["role"] == "vs_dummy") & (part["model"] == best), "significant"].item()


def test_rerun_resumes_from_finished_folds_with_identical_numbers(small_study, tmp_path):
    out, inputs, settings, manifest = small_study
    copy = tmp_path / "study"
    first = run_study(inputs, copy, settings, executor=Executor("serial", progress=False))
    assert first["timings"]["folds_fitted_now"] == first["timings"]["folds"] == 40  # a new folder: all fitted
    store = next((tmp_path / ".study.folds").iterdir())
    files = sorted(store.glob("*.pkl"))
    for f in files[::3]:  # as if interrupted: a third of the folds never finished
        f.unlink()
    again = run_study(inputs, copy, settings, executor=Executor("serial", progress=False))
    assert again["timings"]["folds_fitted_now"] == len(files[::3])
    for name in ("fold_scores", "summary", "comparisons", "personalization", "calibration"):
        pd.testing.assert_frame_equal(pd.read_csv(out / f"{name}.csv"), pd.read_csv(copy / f"{name}.csv"))


def test_calibration_sees_training_rows_only(monkeypatch):
    """Every front fitted for the calibrated models (inner folds) uses outer training rows only."""
    from kemo_attention.evaluate import runner
    from kemo_attention.study.folds import FoldTask, study_fold

    inputs = study_inputs(labels=("attention",))
    settings = StudySettings(models=["logreg", "dummy"], calibrate="sigmoid", fast=True)
    task = fold_plan(inputs, settings, "unused")[0]
    seen = []
    original = runner.fit_front

    def spy(train_idx, test_idx, X, y, s):
        seen.append((np.asarray(train_idx), np.asarray(test_idx)))
        return original(train_idx, test_idx, X, y, s)

    monkeypatch.setattr(runner, "fit_front", spy)
    from kemo_attention.models.tuning import TUNABLE_MODELS
    from kemo_attention.study.runner import _task_settings

    ds = inputs[0].dataset
    task_settings = _task_settings(inputs, settings, TUNABLE_MODELS)
    store = FoldTask(task.label, task.cv, task.repeat, task.fold, task.train_idx, task.test_idx, str(__import__("tempfile").mkdtemp()))
    from kemo_attention.evaluate.report import prompt_order

    result = study_fold(store, {"attention": (ds.X, ds.y, ds.group, prompt_order(ds))}, task_settings)
    assert len(seen) == 1 + settings.inner_splits  # the outer front, then one per inner fold
    outer_train = set(task.train_idx.tolist())
    for train_idx, test_idx in seen[1:]:
        assert set(train_idx.tolist()) <= outer_train and set(test_idx.tolist()) <= outer_train
        assert not set(ds.group[train_idx]) & set(ds.group[test_idx])
    assert set(result["calibrated"]) == {"logreg"}


def test_tuned_models_sit_beside_the_fixed_ones_with_their_parameters(tmp_path):
    inputs = study_inputs(labels=("attention",), participants=9, per_participant=20)
    settings = StudySettings(models=["logreg", "dummy"], repeats=1, tune=3, calibrate="none",
                             protocols=("population",), fast=True)  # fmt: skip
    run_study(inputs, tmp_path / "study", settings, executor=Executor("serial", progress=False))
    summary = pd.read_csv(tmp_path / "study" / "summary.csv")
    assert {"logreg", "logreg-tuned", "dummy"} == set(summary["model"])
    tuning = pd.read_csv(tmp_path / "study" / "tuning.csv")
    assert len(tuning) == 5 and set(tuning["model"]) == {"logreg-tuned"} and (tuning["trials"] == 3).all()
    for params in tuning["params"]:
        assert set(json.loads(params)) == {"C"}  # logreg's search space
    comp = pd.read_csv(tmp_path / "study" / "comparisons.csv")
    assert "logreg-tuned" in set(comp.loc[comp["role"] == "vs_dummy", "model"])


def test_the_rows_method_trains_on_the_first_k_answers_and_scores_only_the_later_ones(monkeypatch, tmp_path):
    """Hybrid by refitting: the training side of the refit is the fold's training rows plus each
    test participant's first K answers, and not one of the rows it is scored on."""
    from kemo_attention.evaluate import runner
    from kemo_attention.models.personalize import personal_split
    from kemo_attention.evaluate.report import prompt_order

    inputs = study_inputs(labels=("attention",))
    settings = StudySettings(models=["logreg", "dummy"], repeats=1, personal_labels=6, personal_method="rows",
                             calibrate="none", fast=True)  # fmt: skip
    seen = []
    original = runner.fit_front

    def spy(train_idx, test_idx, X, y, s):
        seen.append(np.asarray(train_idx))
        return original(train_idx, test_idx, X, y, s)

    monkeypatch.setattr(runner, "fit_front", spy)
    run_study(inputs, tmp_path / "study", settings, executor=Executor("serial", progress=False))
    ds = inputs[0].dataset
    order = prompt_order(ds)
    tasks = fold_plan(inputs, settings, "unused")
    assert len(seen) == 2 * len(tasks)  # per fold: the population fit, then the refit
    for task, refit in zip(tasks, seen[1::2]):
        personal, scored = personal_split(ds.group[task.test_idx], order[task.test_idx], 6)
        assert set(refit.tolist()) == set(task.train_idx.tolist()) | set(task.test_idx[personal].tolist())
        assert not set(refit.tolist()) & set(task.test_idx[scored].tolist())
    oof = pd.read_parquet(tmp_path / "study" / "oof_predictions.parquet")
    hybrid = oof[oof["protocol"] == "hybrid"]
    population = oof[oof["protocol"] == "population"]
    assert len(hybrid) == len(population) and hybrid["proba"].notna().all()
    manifest = json.loads((tmp_path / "study" / "manifest.json").read_text())
    assert manifest["settings"]["personal_method"] == "rows"


def test_tuning_with_the_rows_method_compares_only_the_refitted_models(tmp_path):
    inputs = study_inputs(labels=("attention",), participants=9, per_participant=20)
    settings = StudySettings(models=["logreg", "dummy"], repeats=1, tune=2, personal_labels=5,
                             personal_method="rows", calibrate="none", fast=True)  # fmt: skip
    run_study(inputs, tmp_path / "study", settings, executor=Executor("serial", progress=False))
    personal = pd.read_csv(tmp_path / "study" / "personalization.csv")
    assert set(personal["model"]) == {"logreg", "dummy"}  # the tuned model has no refitted hybrid
    summary = pd.read_csv(tmp_path / "study" / "summary.csv")
    assert "logreg-tuned" in set(summary.loc[summary["protocol"] == "population", "model"])
    assert "logreg-tuned" not in set(summary.loc[summary["protocol"] == "hybrid", "model"])
