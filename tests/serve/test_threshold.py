"""One decision rule: a probability of exactly 0.5 gets the same label when evaluated and when served."""

from __future__ import annotations

import numpy as np

from kemo_attention.evaluate.metrics import binary_metrics, predict_labels
from kemo_attention.serve.service import PredictionService


def test_one_half_is_label_1_in_evaluation_and_in_serving(bundle, monkeypatch):
    service = PredictionService(bundle)
    monkeypatch.setattr(service, "proba", lambda matrix: np.full(len(matrix), 0.5))
    served = service.predict_rows([{}], fill_missing=True)
    assert served["threshold"] == 0.5
    served_label = served["predictions"][0]["label"]
    evaluated = binary_metrics([1], [0.5])
    assert evaluated["tp"] == 1 and evaluated["fn"] == 0
    assert served_label == int(predict_labels([0.5])[0]) == 1
    # just below the threshold: label 0 on both sides
    monkeypatch.setattr(service, "proba", lambda matrix: np.full(len(matrix), np.nextafter(0.5, 0)))
    assert service.predict_rows([{}], fill_missing=True)["predictions"][0]["label"] == 0
    assert predict_labels([np.nextafter(0.5, 0)])[0] == 0
