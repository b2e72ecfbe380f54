"""The numpy fast path gives the pipeline's own probabilities, for every model of the zoo;
the bundle checks it once at load and falls back to the pipeline, loudly."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from kemo_attention.bundle.runtime import load_bundle
from kemo_attention.bundle.export import save_bundle
from kemo_attention.models.zoo import MODEL_NAMES, fit_pipeline, make_pipeline
from kemo_attention.serve.service import PredictionService
from kemo_attention.models.fastpath import build_fast_path

from synthetic_features import make_dataset


@pytest.fixture(scope="module")
def small(small_kinds):
    return make_dataset(small_kinds, n=160, seed=5)


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_fast_path_equals_pipeline(model, small, tmp_path):
    oversample = model in ("lgbm", "evxgb")  # a sampler step (or sampler inside) must be a no-op at predict
    pipe = make_pipeline(model, bool_columns=small.bool_columns, numeric_columns=small.numeric_columns,
                         oversample=oversample, fast=True)
    fit_pipeline(pipe, small.X, small.y, groups=small.group)
    bundle = load_bundle(save_bundle(pipe, small, tmp_path, model=model))
    assert bundle.fast is not None, f"{model}: no fast path"
    # rows the probes never saw: the training rows themselves (float32 values, bool flags)
    matrix = small.X.to_numpy(dtype=np.float64)
    expected = pipe.predict_proba(small.X)[:, list(pipe.classes_).index(1)]
    np.testing.assert_allclose(bundle.fast.predict_proba(matrix), expected, rtol=0, atol=1e-12)
    # and it is what Bundle.predict_proba uses
    np.testing.assert_allclose(bundle.predict_proba(small.X), expected, rtol=0, atol=1e-12)


def test_unhandled_structure_falls_back_to_the_pipeline(small, tmp_path, caplog):
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())])
    pipe.fit(small.X.astype(float), small.y)
    with caplog.at_level("WARNING", logger="kemo_attention.bundle"):
        bundle = load_bundle(save_bundle(pipe, small, tmp_path, model="logreg"))
    assert build_fast_path(bundle.pipeline, bundle.feature_names, bundle.manifest["feature_kinds"], np.float32) is None
    assert bundle.fast is None
    assert "no fast path" in caplog.text  # falling back is said out loud
    service = PredictionService(bundle)
    rows = [{c: float(v) for c, v in small.X.iloc[i].items()} for i in range(3)]
    got = [p["probability"] for p in service.predict_rows(rows)["predictions"]]
    np.testing.assert_allclose(got, bundle.predict_proba(small.X.iloc[:3]), rtol=0, atol=1e-12)
