"""Small studies shared by the study tests: two labels of synthetic features, cheap models."""

from __future__ import annotations

import pytest

from study_inputs import study_inputs


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
