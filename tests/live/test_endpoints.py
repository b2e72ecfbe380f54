"""Every live endpoint against `kemo-attention serve --store` on 127.0.0.1: storing,
duplicates, whole-or-nothing batches, answers, profile, prediction, history, delete, token."""

from __future__ import annotations

import subprocess

import httpx
import pytest

from live_server import CLI, Server

T0 = 1_557_278_760_000  # 2019-05-08 10:26 +09:00


def hr(n: int, start: int = T0, bpm: float = 70.0) -> list[dict]:
    return [{"timestamp": start + i * 1000, "bpm": bpm + i % 7} for i in range(n)]


def test_records_are_stored_and_retries_are_duplicates(client):
    batch = {"HR": hr(30), "ScreenEvent": [{"timestamp": T0 + 5_000, "type": "ON"}]}
    r = client.post("/participants/P31/records", json={"records": batch})
    assert r.status_code == 200, r.text
    assert r.json() == {"pcode": "P31", "stored": {"HR": 30, "ScreenEvent": 1}, "duplicates": {"HR": 0, "ScreenEvent": 0}}
    # The client retries the same batch, plus 5 new rows: only those are stored.
    batch["HR"] = batch["HR"] + hr(5, start=T0 + 30_000)
    r = client.post("/participants/P31/records", json={"records": batch})
    assert r.json()["stored"] == {"HR": 5, "ScreenEvent": 0}
    assert r.json()["duplicates"] == {"HR": 30, "ScreenEvent": 1}
    # Same timestamp, other value: not a duplicate.
    r = client.post("/participants/P31/records", json={"records": {"HR": [{"timestamp": T0, "bpm": 99}]}})
    assert r.json()["stored"] == {"HR": 1}
    summary = client.get("/participants/P31").json()
    assert summary["types"]["HR"] == {"rows": 36, "first": T0, "last": T0 + 34_000}
    assert summary["types"]["ScreenEvent"]["rows"] == 1
    assert "P31" in client.get("/participants").json()["participants"]


@pytest.mark.parametrize(
    "records, words",
    [
        ({"HR": [{"timestamp": T0, "bpm": 70}, {"timestamp": T0 + 1000, "bpm": "fast"}]}, ["HR", "record 1", "bpm"]),
        ({"Heart": [{"timestamp": T0, "bpm": 70}]}, ["unknown data type", "Heart"]),
        ({"HR": [{"timestamp": 1_557_278_760, "bpm": 70}]}, ["HR", "record 0", "timestamp", "epoch seconds"]),
        ({"HR": [{"timestamp": "soon", "bpm": 70}]}, ["HR", "record 0", "timestamp"]),
        ({"HR": [{"timestamp": 4_000_000_000_000, "bpm": 70}]}, ["HR", "record 0", "ahead of the server"]),
    ],
)
def test_bad_batches_are_refused_whole(client, records, words):
    good = {"ScreenEvent": [{"timestamp": T0, "type": "OFF"}]}
    r = client.post("/participants/P32/records", json={"records": {**good, **records}})
    assert r.status_code == 422, r.text
    for word in words:
        assert word in r.json()["detail"], r.json()["detail"]
    # Nothing of the batch was stored (not even its good part).
    assert client.get("/participants/P32").status_code == 404


def test_bad_participant_code_and_unknown_participant(client):
    r = client.post("/participants/07/records", json={"records": {"HR": hr(1)}})
    assert r.status_code == 422 and "pcode" in r.text
    assert client.get("/participants/P999999").status_code == 404
    assert client.get("/participants/P999999/prediction").status_code == 404
    assert client.delete("/participants/P999999").status_code == 404


def test_answers_profile_prediction_history_delete(client):
    p = "P33"
    client.post(f"/participants/{p}/records", json={"records": {"HR": hr(600), "ScreenEvent": [{"timestamp": T0, "type": "ON"}]}})
    answer = {"responseTime": T0 + 100_000, "scheduledTime": T0 + 60_000, "attention": 2, "valence": -1}
    r = client.post(f"/participants/{p}/answers", json={"answers": [answer]})
    assert r.json() == {"pcode": p, "stored": 1, "duplicates": 0}
    r = client.post(f"/participants/{p}/answers", json={"answers": [answer]})
    assert r.json() == {"pcode": p, "stored": 0, "duplicates": 1}
    r = client.post(f"/participants/{p}/answers", json={"answers": [{"scheduledTime": T0, "attention": 1}]})
    assert r.status_code == 422 and "responseTime" in r.json()["detail"]
    r = client.put(f"/participants/{p}/profile", json={"profile": {"age": 23, "gender": "F", "PSS": 21}})
    assert r.status_code == 200 and r.json()["profile"]["age"] == 23
    r = client.put(f"/participants/{p}/profile", json={"profile": {"age": "old"}})
    assert r.status_code == 422 and "age" in r.text

    r = client.get(f"/participants/{p}/prediction")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["at"] == T0 + 599_000  # default: the newest data time
    assert 0.0 <= body["probability"] <= 1.0 and body["label"] == int(body["probability"] >= body["threshold"])
    assert len(body["model_sha256"]) == 64
    assert body["streams"], "the streams the model uses are reported"
    # This participant sent no data for the model's stream: a warning says so.
    assert any("no data" in w for w in body["warnings"])
    r2 = client.get(f"/participants/{p}/prediction", params={"at": T0 + 300_000})
    assert r2.status_code == 200
    history = client.get(f"/participants/{p}/predictions").json()["predictions"]
    assert [h["at"] for h in history] == [T0 + 300_000, T0 + 599_000]
    only = client.get(f"/participants/{p}/predictions", params={"from": T0 + 400_000}).json()["predictions"]
    assert [h["at"] for h in only] == [T0 + 599_000]
    summary = client.get(f"/participants/{p}").json()
    assert summary["answers"] == 1 and summary["profile"] is True and summary["predictions"] == 2

    assert client.delete(f"/participants/{p}").json() == {"pcode": p, "deleted": True}
    assert client.get(f"/participants/{p}").status_code == 404
    assert p not in client.get("/participants").json()["participants"]


def test_python_read_api(server, client):
    from kemo_attention.live.store import open_store

    client.post("/participants/P34/records", json={"records": {"HR": hr(10)}})
    client.post("/participants/P34/answers", json={"answers": [{"responseTime": T0 + 5_000, "attention": 1}]})
    client.get("/participants/P34/prediction")
    store = open_store(server.store)
    try:
        assert "P34" in store.participants()
        assert store.summary("P34")["types"]["HR"]["rows"] == 10
        assert [a["attention"] for a in store.answers("P34")] == [1]
        assert len(store.predictions("P34")) == 1
    finally:
        store.close()


def test_token(offline, tmp_path):
    with Server(offline[1], tmp_path / "t.sqlite", "--token", "s3cret", "--max-body-mb", "0.05") as live:
        with httpx.Client(base_url=live.url, timeout=60) as c:
            assert c.get("/participants").status_code == 401
            assert c.get("/participants", headers={"Authorization": "Bearer wrong"}).status_code == 401
            # The token is checked before the body is even parsed.
            assert c.post("/participants/P01/records", content=b"{not json").status_code == 401
            ok = {"Authorization": "Bearer s3cret"}
            assert c.get("/participants", headers=ok).status_code == 200
            assert c.get("/health").status_code == 200  # not a participant route
            # A batch over the body limit: 413, nothing stored.
            r = c.post("/participants/P35/records", json={"records": {"HR": hr(2000)}}, headers=ok)
            assert r.status_code == 413 and "limit" in r.json()["detail"]
            assert c.get("/participants", headers=ok).json()["participants"] == []
    # KEMO_API_TOKEN works the same
    with Server(offline[1], tmp_path / "t2.sqlite", env={"KEMO_API_TOKEN": "envtok"}) as live:
        assert httpx.get(live.url + "/participants", timeout=30).status_code == 401
        assert httpx.get(live.url + "/participants", headers={"Authorization": "Bearer envtok"}, timeout=30).status_code == 200


def test_public_host_without_token_is_refused(offline, tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if k != "KEMO_API_TOKEN"}
    proc = subprocess.run([CLI, "serve", str(offline[1]), "--host", "0.0.0.0", "--store", str(tmp_path / "x.sqlite")],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "--token" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
