"""A calibrated bundle served: GET /model shows the calibration, and /predict, /predict/raw
and the live prediction all return calibrator(the pipeline's own probability)."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from kemo_attention.bundle.export import export_bundle
from kemo_attention.bundle.runtime import load_bundle
from kemo_attention.serve.app import create_app

from serve_support import LiveServer
from test_raw import PROMPT, offline_probability, raw_request


@pytest.fixture(scope="module")
def calibrated_bundle(dataset, tmp_path_factory):
    path = export_bundle(dataset, "logreg", tmp_path_factory.mktemp("calibrated"), calibrate="isotonic")
    return load_bundle(path)


@pytest.fixture(scope="module")
def served(calibrated_bundle, tmp_path_factory):
    store = tmp_path_factory.mktemp("store") / "live.sqlite"
    app = create_app(calibrated_bundle.path, store_path=store)
    with LiveServer(app) as live, httpx.Client(base_url=live.url, timeout=30) as client:
        yield app, client


def _by_hand(bundle, matrix: np.ndarray) -> np.ndarray:
    """The calibrated probability computed here: the wrapped pipeline on a DataFrame (no fast
    path), then the calibrator."""
    raw = bundle.pipeline.estimator_.predict_proba(bundle.frame(np.atleast_2d(matrix)))[:, 1]
    return bundle.pipeline.calibrator_.transform(raw)


def test_model_route_shows_the_calibration(served, calibrated_bundle):
    _, client = served
    body = client.get("/model").json()
    assert body["calibration"] == calibrated_bundle.manifest["calibration"]
    assert body["calibration"]["method"] == "isotonic" and body["calibration"]["inner_splits"] == 3
    assert set(body["calibration"]["parameters"]) == {"x_thresholds", "y_thresholds"}


def test_uncalibrated_model_route_says_null(client):
    assert client.get("/model").json()["calibration"] is None


def test_predict_rows_are_calibrated(served, calibrated_bundle, dataset):
    _, client = served
    X = dataset.X.iloc[:5]
    rows = [{c: (bool(v) if isinstance(v, (bool, np.bool_)) else float(v)) for c, v in X.iloc[i].items()} for i in range(5)]
    got = [p["probability"] for p in client.post("/predict", json={"rows": rows}).json()["predictions"]]
    np.testing.assert_allclose(got, _by_hand(calibrated_bundle, X.to_numpy(dtype=np.float64)), rtol=0, atol=1e-12)


def test_predict_raw_and_live_are_calibrated(served, calibrated_bundle):
    app, client = served
    req = raw_request()
    raw_body = client.post("/predict/raw", json=req)
    assert raw_body.status_code == 200, raw_body.text
    p_raw = raw_body.json()["probability"]
    assert p_raw == pytest.approx(offline_probability(calibrated_bundle, req), abs=1e-6)
    # live: the same records stored, then predicted at the same prompt time
    assert client.post("/participants/P03/records", json={"records": req["records"]}).status_code == 200
    live = client.get("/participants/P03/prediction", params={"at": PROMPT})
    assert live.status_code == 200, live.text
    features, *_ = app.state.slot.current.live.features("P03", PROMPT)
    assert live.json()["probability"] == pytest.approx(float(_by_hand(calibrated_bundle, features)[0]), abs=1e-12)
    # and calibration did something: the pipeline's own probability for these features differs
    own = float(calibrated_bundle.pipeline.estimator_.predict_proba(calibrated_bundle.frame(features))[0, 1])
    assert abs(own - live.json()["probability"]) > 1e-3
