"""Metrics against scikit-learn's own functions (an independent implementation) and by hand."""

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from kemo_attention.evaluate.metrics import (
    METRIC_COLUMNS,
    average_precision,
    binary_metrics,
    participant_metrics,
    roc_auc,
)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 200)
    proba = np.clip(0.3 * y + rng.random(200) * 0.7, 0, 1)
    proba[:20] = np.round(proba[:20], 1)  # ties
    pred = (proba >= 0.5).astype(int)  # the one decision rule (config.decide)
    m = binary_metrics(y, proba)
    assert list(m) == list(METRIC_COLUMNS)
    tn, fp, fn, tp = skm.confusion_matrix(y, pred).ravel()
    assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (tn, fp, fn, tp)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert m["mcc"] == pytest.approx(skm.matthews_corrcoef(y, pred))
    assert m["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m["precision_macro"] == pytest.approx(skm.precision_score(y, pred, average="macro"))
    assert m["recall_macro"] == pytest.approx(skm.recall_score(y, pred, average="macro"))
    for c in (0, 1):
        assert m[f"f1_{c}"] == pytest.approx(skm.f1_score(y, pred, pos_label=c))
        assert m[f"precision_{c}"] == pytest.approx(skm.precision_score(y, pred, pos_label=c))
        assert m[f"recall_{c}"] == pytest.approx(skm.recall_score(y, pred, pos_label=c))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba))
    assert m["pr_auc_1"] == pytest.approx(skm.average_precision_score(y, proba))
    assert m["pr_auc_0"] == pytest.approx(skm.average_precision_score(1 - y, 1 - proba))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, proba))
    assert m["brier"] == pytest.approx(skm.brier_score_loss(y, proba))
    assert m["gmean"] == pytest.approx(math.sqrt(m["recall_0"] * m["recall_1"]))
    assert m["pr_chance_1"] == pytest.approx(y.mean())


def test_hand_example():
    y = [0, 0, 0, 1, 1]
    p = [0.1, 0.6, 0.4, 0.9, 0.3]  # predictions 0 1 0 1 0
    m = binary_metrics(y, p)
    assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (2, 1, 1, 1)
    assert m["recall_0"] == pytest.approx(2 / 3) and m["recall_1"] == pytest.approx(1 / 2)
    assert m["gmean"] == pytest.approx(math.sqrt(1 / 3))
    assert m["roc_auc"] == pytest.approx(4 / 6)  # pairs (pos, neg): 0.9 beats all three, 0.3 beats only 0.1


def test_a_probability_of_exactly_one_half_is_class_1():
    # issue 10: evaluation used > 0.5 while the API used >= 0.5; one rule now (>=)
    m = binary_metrics([0, 1], [0.5, 0.5])
    assert (m["fp"], m["tp"]) == (1, 1)


def test_one_class_folds_give_nan_not_a_crash():
    m = binary_metrics([1, 1, 1], [0.9, 0.2, 0.7])
    assert m["accuracy"] == pytest.approx(2 / 3)
    for key in ("roc_auc", "f1_macro", "balanced_accuracy", "gmean", "mcc", "recall_0", "pr_auc_0"):
        assert math.isnan(m[key]), key
    assert m["precision_0"] == 0.0  # class 0 was predicted once, wrongly
    assert m["f1_1"] == pytest.approx(0.8)
    assert math.isfinite(m["log_loss"]) and math.isfinite(m["brier"])
    perfect = binary_metrics([0, 0], [0.1, 0.2])
    assert math.isnan(perfect["f1_1"]) and math.isnan(perfect["precision_1"])
    assert perfect["f1_0"] == 1.0
    empty = binary_metrics([], [])
    assert empty["n"] == 0 and math.isnan(empty["accuracy"])


def test_all_predictions_one_class():
    m = binary_metrics([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4])
    assert m["precision_1"] == 0.0 and m["recall_1"] == 0.0 and m["f1_1"] == 0.0
    assert m["mcc"] == 0.0
    assert m["f1_macro"] == pytest.approx(skm.f1_score([0, 1, 0, 1], [0, 0, 0, 0], average="macro", zero_division=0))


def test_curve_helpers_on_ties():
    y = np.array([0, 1, 1, 0, 1, 0])
    s = np.array([0.5, 0.5, 0.8, 0.2, 0.5, 0.5])
    assert roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s))
    assert average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s))
    assert math.isnan(roc_auc([1, 1], [0.2, 0.3]))


def test_participant_scores():
    rows = participant_metrics([0, 1, 1, 1, 0], [0.2, 0.8, 0.4, 0.9, 0.6], ["A", "A", "B", "B", "C"])
    by = {r["pcode"]: r for r in rows}
    assert by["A"]["n"] == 2 and by["A"]["n_1"] == 1 and by["A"]["f1_macro"] == 1.0 and by["A"]["roc_auc"] == 1.0
    assert by["B"]["accuracy"] == 0.5 and math.isnan(by["B"]["roc_auc"]) and math.isnan(by["B"]["f1_macro"])
    assert by["C"]["accuracy"] == 0.0
