"""POST /predict/raw: raw records -> the training feature code -> the same probability as offline."""

from __future__ import annotations

import numpy as np
import pytest

from kemo_attention.bundle.export import export_bundle
from kemo_attention.config import FeatureSettings
from kemo_attention.features.assemble import features_for_prompts
from kemo_attention.release.read import empty_frame, frame_from_records
from kemo_attention.release.schema import DATA_TYPES
from kemo_attention.serve.app import create_app

from serve_support import LiveServer
from synthetic_features import make_dataset

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
    assert body["feature_mode"] == "causal"
    # the HR sample 5 s after the prompt is dropped and said so; the model's streams (HRT, SCR) have data
    assert body["warnings"] == ["records.HR: 1 of 601 record(s) at or after prompt_time ignored; features use only data before the prompt"]
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


def test_raw_with_only_a_prompt_time_is_refused(client):
    for body in ({"prompt_time": PROMPT}, {"prompt_time": PROMPT, "records": {"HR": []}, "past_labels": []}):
        r = client.post("/predict/raw", json=body)
        assert r.status_code == 422, r.text
        assert "the request holds no data before prompt_time" in r.json()["detail"] and r.json()["field"] == "records"
    # records that all lie after the prompt leave nothing either
    late = {"prompt_time": PROMPT, "records": {"HR": [{"timestamp": PROMPT + 1000, "bpm": 70}]}}
    r = client.post("/predict/raw", json=late)
    assert r.status_code == 422 and "only records at or after it" in r.json()["detail"]


def test_streams_the_model_uses_without_data_are_reported(client, bundle):
    """The synthetic model keeps HRT#VAL and SCR#VAL=ON: a request without HR and screen
    data is answered, and the warnings name both streams."""
    assert set(bundle.used_features()) == {"HRT#VAL", "SCR#VAL=ON"}  # what the warning is about
    req = {"prompt_time": PROMPT, "records": {"Acceleration": raw_request()["records"]["acceleration"]},
           "userinfo": {"age": 30}}
    r = client.post("/predict/raw", json=req)
    assert r.status_code == 200, r.text
    (warning,) = r.json()["warnings"]
    assert "2 stream(s) the model uses had no data before the prompt" in warning
    assert "HRT (HR, 1 features)" in warning and "SCR (ScreenEvent, 1 features)" in warning
    # HR records whose values are all null leave the HRT stream empty too
    req["records"]["HR"] = [{"timestamp": PROMPT - 1000, "bpm": None}]
    (warning,) = client.post("/predict/raw", json=req).json()["warnings"]
    assert "HRT (HR, 1 features)" in warning


def test_hr_records_without_bpm_are_refused_naming_type_record_and_column(client):
    req = raw_request()
    req["records"]["HR"][5] = {"timestamp": PROMPT - 100_000}  # no bpm: read as null, it would change the prediction
    r = client.post("/predict/raw", json=req)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["detail"].startswith("records.HR: HR records, column 'bpm': record 5 (0-based index): no 'bpm' key")
    assert (body["data_type"], body["column"]) == ("HR", "bpm")


def test_records_and_answers_after_the_prompt_are_ignored_and_reported(client, bundle):
    req = raw_request()
    req["records"]["SCREENEVENT"].append({"timestamp": PROMPT, "type": "OFF"})  # at the prompt: not before it
    req["records"]["SCREENEVENT"].append({"timestamp": PROMPT + 60_000, "type": "OFF"})
    req["past_labels"] += [{"prompt_time": PROMPT, "label": 0}, {"prompt_time": PROMPT + 3_600_000, "label": 0}]
    body = client.post("/predict/raw", json=req).json()
    assert "records.SCREENEVENT: 2 of 5 record(s) at or after prompt_time ignored; features use only data before the prompt" in body["warnings"]
    assert any(w.startswith("past_labels: 2 answer(s) at or after prompt_time ignored (index 2, 3)") for w in body["warnings"])
    assert body["probability"] == pytest.approx(offline_probability(bundle, raw_request()), abs=1e-6)


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
        (lambda q: q.update(prompt_time=PROMPT // 1000), 422, "prompt_time: 1557279000 is not an epoch-millisecond time within 2000-01-01 .. 2100-01-01 (it looks like epoch seconds"),
        (lambda q: q.update(prompt_time="1969-12-31T23:00:00+09:00"), 422, "prompt_time: '1969-12-31T23:00:00+09:00' is not a time between"),
        (lambda q: q.update(prompt_time="0001-01-01T00:00:00+01:00"), 422, "is not a time between"),
        (lambda q: q["records"]["HR"].append({"timestamp": PROMPT // 1000, "bpm": 70}), 422, "records.HR: HR records, column 'timestamp': record 601 (0-based index): 1557279000 is not an epoch-millisecond time"),
        (lambda q: q["past_labels"].append({"prompt_time": (PROMPT - 1) * 1000, "label": 1}), 422, "past_labels[2].prompt_time: 1557278999999000 is not an epoch-millisecond time"),
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
    # A feature file without a (readable) manifest: nothing says how its features were made.
    plain = make_dataset(kinds, n=120)
    del plain.meta["feature_mode"]
    unknown = export_bundle(plain, "dummy", out / "unknown-mode")
    with LiveServer(create_app(ref)) as ref_server, LiveServer(create_app(own)) as own_server, \
            LiveServer(create_app(unknown)) as unknown_server:
        yield {"reference": ref_server.url, "own": own_server.url, "unknown": unknown_server.url}


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


def test_bundle_of_unknown_feature_mode_is_refused_on_raw_and_model_says_why(other_servers):
    import httpx

    r = httpx.post(other_servers["unknown"] + "/predict/raw", json=raw_request(), timeout=30)
    assert r.status_code == 409, r.text
    assert r.json()["feature_mode"] == "unknown"
    assert "feature mode is 'unknown'" in r.json()["detail"] and "--mode causal" in r.json()["detail"]
    info = httpx.get(other_servers["unknown"] + "/model", timeout=30).json()
    assert info["feature_mode"] == "unknown"
    assert info["predict_raw"] == {"available": False, "reason": r.json()["detail"]}
    ref = httpx.get(other_servers["reference"] + "/model", timeout=30).json()["predict_raw"]
    assert ref["available"] is False and "reference-mode features" in ref["reason"]
