"""The HTTP API against a real uvicorn server on 127.0.0.1 (httpx as the client)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kemo_attention.bundle.runtime import manifest_path_for


def _row(dataset, i: int) -> dict:
    """Sample i of the training data as a JSON object of feature: value."""
    rec = dataset.X.iloc[i]
    return {c: (bool(v) if isinstance(v, (bool, np.bool_)) else float(v)) for c, v in rec.items()}


# ----------------------------------------------------------------------------- basics
def test_health(client, bundle):
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "model": "logreg", "bundle_version": bundle.bundle_version}


def test_model_is_the_manifest(client, bundle_path):
    r = client.get("/model")
    assert r.status_code == 200
    served = r.json()
    assert served.pop("predict_raw") == {"available": True, "reason": None}
    assert served == json.loads(manifest_path_for(bundle_path).read_text())


def test_docs_and_openapi(client):
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert {"/health", "/model", "/predict", "/predict/raw"} <= set(spec["paths"])
    for path, ops in spec["paths"].items():
        for op in ops.values():
            assert "200" in op["responses"], path


# ----------------------------------------------------------------------------- /predict
def test_predict_rows_match_in_process(client, bundle, dataset):
    rows = [_row(dataset, i) for i in range(5)]
    r = client.post("/predict", json={"rows": rows})
    assert r.status_code == 200, r.text
    body = r.json()
    expected = bundle.predict_proba(dataset.X.iloc[:5])
    got = np.array([p["probability"] for p in body["predictions"]])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    assert [p["label"] for p in body["predictions"]] == [int(p >= 0.5) for p in expected]
    assert {p["bundle_version"] for p in body["predictions"]} == {bundle.bundle_version}
    assert body["ignored_features"] == [] and body["threshold"] == 0.5
    assert 0 < sum(p["label"] for p in body["predictions"]) or 0 < sum(1 - p["label"] for p in body["predictions"])


def test_predict_single_features_object(client, bundle, dataset):
    r = client.post("/predict", json={"features": _row(dataset, 7)})
    assert r.status_code == 200, r.text
    (pred,) = r.json()["predictions"]
    assert pred["probability"] == pytest.approx(bundle.predict_proba(dataset.X.iloc[[7]])[0], abs=1e-6)


def test_predict_missing_features_is_422_with_names(client, bundle, dataset):
    row = _row(dataset, 0)
    names = bundle.feature_names
    dropped = names[3:28]  # 25 features, in manifest order
    for name in dropped:
        del row[name]
    r = client.post("/predict", json={"rows": [_row(dataset, 1), row]})
    assert r.status_code == 422
    body = r.json()
    assert body["row"] == 1
    assert body["missing_count"] == 25
    assert body["missing"] == dropped[:20]
    assert f"row 1: 25 of the bundle's {len(names)} features are missing: {dropped[0]}" in body["detail"]
    assert "... and 5 more" in body["detail"] and "fill_missing" in body["detail"]


def test_predict_fill_missing_uses_training_defaults(client, bundle, dataset):
    row = _row(dataset, 2)
    dropped = ["HRT#VAL", "SCR#VAL=ON"]
    for name in dropped:
        del row[name]
    r = client.post("/predict", json={"rows": [row], "fill_missing": True})
    assert r.status_code == 200, r.text
    (pred,) = r.json()["predictions"]
    assert pred["filled_features"] == [n for n in bundle.feature_names if n in dropped]
    assert pred["filled_count"] == 2
    filled = dataset.X.iloc[[2]].copy()
    for name in dropped:
        filled[name] = bundle.manifest["feature_defaults"][name]
    filled = filled.astype(dataset.X.dtypes.to_dict())
    assert pred["probability"] == pytest.approx(bundle.predict_proba(filled)[0], abs=1e-6)


def test_predict_unknown_names_are_reported_not_used(client, bundle, dataset):
    row = _row(dataset, 3)
    row["NOT#A#FEATURE"] = 5.0
    row["bpm"] = 1
    r = client.post("/predict", json={"features": row})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ignored_features"] == ["NOT#A#FEATURE", "bpm"]
    assert sorted(body["predictions"][0]["ignored_features"]) == ["NOT#A#FEATURE", "bpm"]
    assert body["predictions"][0]["probability"] == pytest.approx(bundle.predict_proba(dataset.X.iloc[[3]])[0], abs=1e-6)


def test_predict_bool_features_accept_0_1(client, dataset):
    row = _row(dataset, 4)
    as_numbers = {k: (int(v) if isinstance(v, bool) else v) for k, v in row.items()}
    a = client.post("/predict", json={"features": row}).json()["predictions"][0]["probability"]
    b = client.post("/predict", json={"features": as_numbers}).json()["predictions"][0]["probability"]
    assert a == b
    as_numbers["SCR#VAL=ON"] = 0.5
    r = client.post("/predict", json={"features": as_numbers})
    assert r.status_code == 422
    assert "bool feature(s) got a value other than true/false/0/1: SCR#VAL=ON" in r.json()["detail"]


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"features": {"HRT#VAL": "72"}}, "features: feature 'HRT#VAL': expected a number or true/false; got text '72'"),
        ({"features": {"HRT#VAL": None}}, "feature 'HRT#VAL': expected a number or true/false; got null"),
        ({"rows": [{"A": 1}, {"B": [1]}]}, "rows.1: feature 'B': expected a number or true/false; got a list"),
        ({"rows": []}, "rows: List should have at least 1 item"),
        ({"rows": [{}], "features": {}}, "send either 'rows'"),
        ({}, "send either 'rows'"),
        ({"rows": [{}], "extra": 1}, "extra: Extra inputs are not permitted"),
        ({"rows": "abc"}, "rows: Input should be a valid list"),
        ([1, 2], "Input should be a valid dictionary"),
    ],
)
def test_predict_bad_bodies_are_422(client, body, fragment):
    r = client.post("/predict", json=body)
    assert r.status_code == 422, r.text
    assert fragment in r.json()["detail"]


def test_predict_non_json_and_nan(client):
    r = client.post("/predict", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "JSON" in r.json()["detail"]
    r = client.post("/predict", content=b'{"features": {"HRT#VAL": NaN}}', headers={"content-type": "application/json"})
    assert r.status_code == 422 and "HRT#VAL" in r.json()["detail"] and "finite" in r.json()["detail"]
    r = client.post("/predict", content=b'{"features": {"HRT#VAL": 1e999}}', headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_predict_huge_integer_is_422(client, dataset):
    row = _row(dataset, 0)
    row["HRT#VAL"] = 10**400
    r = client.post("/predict", json={"features": row})
    assert r.status_code == 422 and "too large" in r.json()["detail"]


# ----------------------------------------------------------------------------- limits and errors
def test_oversized_body_is_413(client):
    big = b'{"rows": [' + b",".join([b'{"HRT#VAL": 1.0}'] * 200_000) + b"]}"  # ~3.4 MB > 2 MB limit
    r = client.post("/predict", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "request body too large" in r.json()["detail"] and "limit is 2 MB" in r.json()["detail"]


def test_oversized_chunked_body_is_413(client):
    def chunks():
        yield b'{"rows": ['
        for _ in range(400):
            yield b",".join([b'{"HRT#VAL": 1.0}'] * 500) + b","
        yield b'{}]}'

    r = client.post("/predict", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_a_server_bug_is_a_500_with_a_request_id_and_a_logged_traceback(client, monkeypatch, dataset, caplog):
    """A ValueError inside the server is the server's fault, not the client's: 500, not 422."""
    from kemo_attention.serve.service import PredictionService

    def broken(self, rows, fill_missing=False):
        raise ValueError("could not convert string to float: 'x'")

    monkeypatch.setattr(PredictionService, "predict_rows", broken)
    with caplog.at_level("ERROR", logger="kemo_attention.serve"):
        r = client.post("/predict", json={"features": _row(dataset, 0)})
    assert r.status_code == 500
    body = r.json()
    request_id = body["request_id"]
    assert len(request_id) == 16 and r.headers["x-request-id"] == request_id
    assert f"internal server error (request id {request_id})" in body["detail"]
    assert "could not convert" not in body["detail"]  # internals stay in the log
    (record,) = [rec for rec in caplog.records if request_id in rec.getMessage()]
    assert "POST /predict" in record.getMessage()
    assert record.exc_info[0] is ValueError and "could not convert string to float" in str(record.exc_info[1])


def test_every_response_carries_a_request_id(client):
    ok, bad = client.get("/health"), client.post("/predict", json={})
    assert ok.headers["x-request-id"] != bad.headers["x-request-id"]
    assert bad.status_code == 422 and "request_id" not in bad.json()


def test_unknown_route_is_404(client):
    assert client.get("/nope").status_code == 404
    assert client.get("/predict").status_code == 405


def test_fill_missing_lists_at_most_100_names_per_row(client, bundle):
    r = client.post("/predict", json={"rows": [{}, {"HRT#VAL": 80.0}], "fill_missing": True})
    assert r.status_code == 200, r.text
    first, second = r.json()["predictions"]
    n = len(bundle.feature_names)
    assert first["filled_count"] == n and second["filled_count"] == n - 1
    assert first["filled_features"] == bundle.feature_names[:100]
    assert "HRT#VAL" not in second["filled_features"] and len(second["filled_features"]) == 100
