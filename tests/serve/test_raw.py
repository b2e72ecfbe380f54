"""POST /predict/raw: raw records -> the training feature code -> the same probability as offline."""

from __future__ import annotations

import numpy as np
import pytest

from kemo_attention.bundle import export_bundle
from kemo_attention.config import FeatureSettings
from kemo_attention.features.extract import features_for_prompts
from kemo_attention.release.read import empty_frame, frame_from_records
from kemo_attention.release.schema import DATA_TYPES
from kemo_attention.serve.app import create_app

from serve_support import LiveServer, make_dataset

PROMPT = 1_557_279_000_000  # 2019-05-08 10:30:00 +09:00
PROMPT_ISO = "2019-05-08T10:30:00+09:00"


def raw_request(seed: int = 0, bpm: float = 75.0, screen_last: str = "ON") -> dict:
    rng = np.random.default_rng(seed)
    hr = [{"timestamp": PROMPT - 600_000 + i * 1000, "bpm": round(float(bpm + rng.normal(0, 3)), 1)} for i in range(600)]
    hr += [{"timestamp": PROMPT + 5_000, "bpm": 180.0}]  # after the prompt: causal features ignore it
    acc = [
        {"timestamp": PROMPT - 120_000 + i * 250, "x": float(rng.normal()), "y": float(rng.normal()), "z": float(rng.normal(1))}
        for i in range(480)
    ]
    screen = [
        {"timestamp": PROMPT - 900_000, "type": "UNLOCK"},
        {"timestamp": PROMPT - 300_000, "type": "OFF"},
        {"timestamp": PROMPT - 20_000, "type": screen_last},
    ]
    return {
        "pcode": "P03",
        "prompt_time": PROMPT,
        "records": {"HR": hr, "acceleration": acc, "SCREENEVENT": screen},
        "userinfo": {"age": 24, "gender": "F", "openness": 3.5, "PSS": 21},
        "past_labels": [{"prompt_time": PROMPT - 3_600_000, "label": 1}, {"prompt_time": PROMPT - 7_200_000, "label": 0}],
    }


def offline_probability(bundle, req: dict) -> float:
    """The same data through the offline path, written out here independently of the service."""
    by_lower = {k.lower(): v for k, v in req["records"].items()}
    tables = {
        name: frame_from_records(dt, by_lower[name.lower()]) if name.lower() in by_lower else empty_frame(dt)
        for name, dt in DATA_TYPES.items()
    }
    X = features_for_prompts(
        tables,
        np.array([PROMPT], dtype=np.int64),
        userinfo=req["userinfo"],
        past_labels=[(p["prompt_time"], p["label"]) for p in req["past_labels"]],
        settings=FeatureSettings(mode="causal", coverage=False, tz_offset="+09:00"),
    )
    return float(bundle.predict_proba(X)[0])


def test_raw_matches_offline_features(client, bundle):
    req = raw_request()
    r = client.post("/predict/raw", json=req)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["probability"] == pytest.approx(offline_probability(bundle, req), abs=1e-6)
    assert body["label"] == int(body["probability"] >= 0.5)
    assert body["prompt_time"] == PROMPT and body["pcode"] == "P03"
    assert body["feature_mode"] == "causal" and body["warnings"] == []
    assert body["absent_types"] == [n for n in DATA_TYPES if n not in ("HR", "Acceleration", "ScreenEvent")]
    assert body["bundle_version"] == bundle.bundle_version


def test_raw_probability_follows_the_data(client, bundle):
    """The synthetic label rises with HRT#VAL and SCR#VAL=ON: so must the live prediction."""
    low = client.post("/predict/raw", json=raw_request(bpm=60, screen_last="OFF")).json()["probability"]
    high = client.post("/predict/raw", json=raw_request(bpm=95, screen_last="ON")).json()["probability"]
    assert high - low > 0.2


def test_raw_iso_prompt_time_equals_epoch_ms(client):
    a = raw_request()
    b = raw_request()
    b["prompt_time"] = PROMPT_ISO
    pa = client.post("/predict/raw", json=a).json()
    pb = client.post("/predict/raw", json=b).json()
    assert pb["prompt_time"] == PROMPT and pb["probability"] == pa["probability"]


def test_raw_without_records_uses_empty_tables(client, bundle):
    req = {"prompt_time": PROMPT, "records": {}, "userinfo": None, "past_labels": []}
    r = client.post("/predict/raw", json={"prompt_time": PROMPT})
    assert r.status_code == 200, r.text
    assert r.json()["absent_types"] == list(DATA_TYPES)
    assert r.json()["probability"] == pytest.approx(offline_probability(bundle, req | {"userinfo": None}), abs=1e-6)


@pytest.mark.parametrize(
    "change, status, fragment",
    [
        (lambda q: q["records"].update({"Heart": []}), 422, "unknown data type(s) 'Heart'"),
        (lambda q: q["records"].update({"hr": []}), 422, "data type HR given twice"),
        (lambda q: q["records"]["HR"].append({"timestamp": "abc", "bpm": 70}), 422, "records.HR"),
        (lambda q: q["records"]["HR"].append({"timestamp": PROMPT, "bpm": "fast"}), 422, "records.HR"),
        (lambda q: q["records"]["HR"].append({"bpm": 70}), 422, "records.HR"),
        (lambda q: q["records"]["HR"].append({"timestamp": PROMPT, "bpm": {"a": 1}}), 422, "records.HR: record 601, 'bpm': expected a JSON scalar (number, text, true/false or null); got an object"),
        (lambda q: q.update(prompt_time="2019-05-08T10:30:00"), 422, "has no UTC offset"),
        (lambda q: q.update(prompt_time="yesterday"), 422, "expected epoch milliseconds or ISO 8601"),
        (lambda q: q.update(prompt_time=PROMPT // 1000), 422, "seconds instead of ms"),
        (lambda q: q.update(prompt_time=1.5e12), 422, "prompt_time"),
        (lambda q: q["past_labels"].append({"prompt_time": PROMPT, "label": 2}), 422, "past_labels.2.label"),
        (lambda q: q["userinfo"].update(height=180), 422, "userinfo.height: Extra inputs are not permitted"),
        (lambda q: q.update(records=[1, 2]), 422, "records: Input should be a valid dictionary"),
    ],
)
def test_raw_bad_input_is_4xx_with_message(client, change, status, fragment):
    req = raw_request()
    change(req)
    r = client.post("/predict/raw", json=req)
    assert r.status_code == status, r.text
    assert fragment in r.json()["detail"], r.json()["detail"]


@pytest.fixture(scope="module")
def other_servers(kinds, small_kinds, tmp_path_factory):
    out = tmp_path_factory.mktemp("other")
    ref = export_bundle(make_dataset(kinds, n=120, feature_mode="reference"), "dummy", out / "reference")
    own = export_bundle(make_dataset(small_kinds, n=120), "dummy", out / "own-columns")
    with LiveServer(create_app(ref)) as ref_server, LiveServer(create_app(own)) as own_server:
        yield {"reference": ref_server.url, "own": own_server.url}


def test_reference_mode_bundle_is_refused_on_raw(other_servers):
    import httpx

    r = httpx.post(other_servers["reference"] + "/predict/raw", json=raw_request(), timeout=30)
    assert r.status_code == 409
    detail = r.json()["detail"]
    assert "reference-mode features" in detail and "after the prompt" in detail
    assert "--mode causal" in detail
    assert r.json()["feature_mode"] == "reference"
    # /predict still serves it from ready-made rows
    assert httpx.post(other_servers["reference"] + "/predict", json={"features": {}, "fill_missing": True}, timeout=30).status_code == 200


def test_bundle_with_other_columns_is_refused_on_raw(other_servers):
    import httpx

    r = httpx.post(other_servers["own"] + "/predict/raw", json=raw_request(), timeout=30)
    assert r.status_code == 409
    assert "not the tool's feature set" in r.json()["detail"]
