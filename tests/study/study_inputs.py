"""Synthetic study inputs: one small feature set per label (the study tests' data)."""

from __future__ import annotations

import sys
from pathlib import Path

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
