"""Small studies shared by the study tests: two labels of synthetic features, cheap models."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluate"))

from eval_synthetic import synthetic_dataset  # noqa: E402


def study_inputs(labels=("attention", "stress"), **kwargs):
    """One synthetic dataset per label (different seeds), as the study's inputs."""
    from kemo_attention.study.runner import StudyInput

    out = []
    for i, label in enumerate(labels):
        ds = synthetic_dataset(seed=i, participants=kwargs.get("participants", 10),
                               per_participant=kwargs.get("per_participant", 24), n_float=20, n_bool=4)  # fmt: skip
        ds.meta["label"] = {"name": label}
        out.append(StudyInput(label, ds, f"memory:{label}", f"sha-of-{label}-{i}"))
    return out


@pytest.fixture(scope="session")
def small_study(tmp_path_factory):
    """A complete study: 2 labels, sgkf x 2 repeats and logo, logreg + rf + dummy, both protocols."""
    from kemo_attention.compute import Executor
    from kemo_attention.study.runner import StudySettings, run_study

    out = tmp_path_factory.mktemp("study") / "study"
    settings = StudySettings(models=["logreg", "rf", "dummy"], cvs=("sgkf", "logo"), repeats=2, personal_labels=5, fast=True)
    inputs = study_inputs()
    manifest = run_study(inputs, out, settings, executor=Executor("serial", progress=False))
    return out, inputs, settings, manifest
