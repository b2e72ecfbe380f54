"""A bundle swapped in without a restart: POST /admin/reload in process, SIGHUP on a real
`kemo-attention serve` process. The expected probabilities come from loading each bundle
directly (``load_bundle``), not from the server."""

from __future__ import annotations

import hashlib
import shutil
import signal
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from ops_support import AUTH, ROW, TOKEN, manifest_of, scrape, two_bundles, value
from serve_support import LiveServer, ServedByCli
from kemo_attention.bundle.runtime import load_bundle
from kemo_attention.serve.app import create_app


@pytest.fixture(scope="module")
def bundles(tmp_path_factory, small_kinds) -> tuple[Path, Path]:
    return two_bundles(tmp_path_factory.mktemp("reload-bundles"), small_kinds)


def expected_probability(bundle_path: Path) -> float:
    """The bundle's own probability for ROW (missing features at their training defaults)."""
    bundle = load_bundle(bundle_path)
    row = bundle.default_row()
    for name, v in ROW["features"].items():
        row[bundle.feature_names.index(name)] = float(v)
    return float(bundle.predict_matrix(row[None, :])[0])


def sha_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tampered_copy(bundle: Path, folder: Path) -> Path:
    """The bundle with one byte of its model file changed (its manifest left as it was)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / bundle.name
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0xFF
    out.write_bytes(bytes(data))
    shutil.copy(manifest_of(bundle), manifest_of(out))
    return out


def put_bundle(source: Path, target: Path) -> None:
    """Replace the bundle at ``target`` by ``source``: each file written whole, then renamed."""
    for src, dst in ((manifest_of(source), manifest_of(target)), (source, target)):
        tmp = dst.with_name(dst.name + ".new")
        shutil.copy(src, tmp)
        tmp.replace(dst)


def predicted(client) -> float:
    r = client.post("/predict", json=ROW, headers=AUTH)  # a server without credentials lets it through too
    assert r.status_code == 200, r.text
    return r.json()["predictions"][0]["probability"]


# ----------------------------------------------------------------------------- the admin route
def test_admin_reload_swaps_the_bundle(bundles, tmp_path):
    first, second = bundles
    assert not np.isclose(expected_probability(first), expected_probability(second))  # the test can tell them apart
    with TestClient(create_app(first, token=TOKEN, store_path=tmp_path / "s.sqlite")) as client:
        assert client.get("/model", headers=AUTH).json()["pkl_sha256"] == sha_of(first)
        assert predicted(client) == pytest.approx(expected_probability(first), abs=1e-12)
        r = client.post("/admin/reload", json={"path": str(second)}, headers=AUTH)
        assert r.status_code == 200, r.text
        assert r.json()["loaded"] is True
        assert (r.json()["sha256"], r.json()["previous_sha256"]) == (sha_of(second), sha_of(first))
        assert client.get("/model", headers=AUTH).json()["pkl_sha256"] == sha_of(second)
        assert client.get("/health/ready").json()["sha256"] == sha_of(second)
        assert predicted(client) == pytest.approx(expected_probability(second), abs=1e-12)
        metrics = scrape(client)
        assert value(metrics, "kemo_bundle_reloads_total", outcome="loaded") == 1
        assert [dict(lab)["sha256"] for (name, lab) in metrics if name == "kemo_bundle_info"] == [sha_of(second)]
        # no path: the path served now, re-read (the second bundle again)
        again = client.post("/admin/reload", headers=AUTH)
        assert again.status_code == 200 and again.json()["path"] == str(second)


def test_a_tampered_bundle_is_refused_and_the_old_one_keeps_serving(bundles, tmp_path):
    first, second = bundles
    bad = tampered_copy(second, tmp_path / "bad")
    with TestClient(create_app(first, token=TOKEN)) as client:
        r = client.post("/admin/reload", json={"path": str(bad)}, headers=AUTH)
        assert r.status_code == 422
        body = r.json()
        assert body["loaded"] is False and body["sha256"] == sha_of(first)
        assert "does not match the manifest" in body["reason"] and body["detail"].startswith("bundle refused, still serving")
        assert client.get("/model", headers=AUTH).json()["pkl_sha256"] == sha_of(first)
        assert predicted(client) == pytest.approx(expected_probability(first), abs=1e-12)
        assert value(scrape(client), "kemo_bundle_reloads_total", outcome="refused") == 1
        missing = client.post("/admin/reload", json={"path": str(tmp_path / "nope.pkl")}, headers=AUTH)
        assert missing.status_code == 422 and "no such bundle file" in missing.json()["reason"]


def test_the_sha256_pin_holds_for_reloads_until_a_new_one_is_given(bundles):
    first, second = bundles
    with TestClient(create_app(first, token=TOKEN, sha256=sha_of(first))) as client:
        r = client.post("/admin/reload", json={"path": str(second)}, headers=AUTH)
        assert r.status_code == 422 and "is not the expected" in r.json()["reason"]
        assert client.get("/model", headers=AUTH).json()["pkl_sha256"] == sha_of(first)
        bad_pin = client.post("/admin/reload", json={"path": str(second), "sha256": "abc"}, headers=AUTH)
        assert bad_pin.status_code == 422 and "64 hexadecimal characters" in bad_pin.json()["reason"]
        r = client.post("/admin/reload", json={"path": str(second), "sha256": sha_of(second)}, headers=AUTH)
        assert r.status_code == 200 and client.get("/model", headers=AUTH).json()["pkl_sha256"] == sha_of(second)
        # the new pin now holds: the first bundle, fine by its manifest, is refused
        back = client.post("/admin/reload", json={"path": str(first)}, headers=AUTH)
        assert back.status_code == 422 and "is not the expected" in back.json()["reason"]


def test_reload_needs_the_admin_token_and_a_server_with_one(bundles):
    first, second = bundles
    with TestClient(create_app(first, token=TOKEN)) as client:
        assert client.post("/admin/reload", json={"path": str(second)}).status_code == 401
        assert client.post("/admin/reload", json={"path": str(second)}, headers={"authorization": "Bearer x"}).status_code == 401
    with TestClient(create_app(first)) as open_client:
        r = open_client.post("/admin/reload", json={"path": str(second)})
        assert r.status_code == 403 and "SIGHUP" in r.json()["detail"]
        assert open_client.get("/model").json()["pkl_sha256"] == sha_of(first)


def test_requests_in_flight_finish_on_the_old_bundle(bundles, monkeypatch):
    """A /predict that started before the swap answers with the bundle it started with; one
    sent after the swap gets the new bundle."""
    from kemo_attention.serve.service import PredictionService

    first, second = bundles
    entered, release = threading.Event(), threading.Event()
    original = PredictionService.predict_rows

    def held(self, rows, fill_missing=False):
        if self.bundle.path == first and not release.is_set():
            entered.set()
            assert release.wait(30)
        return original(self, rows, fill_missing)

    monkeypatch.setattr(PredictionService, "predict_rows", held)
    with LiveServer(create_app(first, token=TOKEN)) as server:
        answers = {}
        slow = threading.Thread(target=lambda: answers.update(old=httpx.post(server.url + "/predict", json=ROW, headers=AUTH, timeout=60)))
        slow.start()
        assert entered.wait(30)
        r = httpx.post(server.url + "/admin/reload", json={"path": str(second)}, headers=AUTH, timeout=60)
        assert r.status_code == 200
        fresh = httpx.post(server.url + "/predict", json=ROW, headers=AUTH, timeout=60).json()
        release.set()
        slow.join(30)
    new_version = load_bundle(second).bundle_version
    old = answers["old"].json()
    assert old["bundle_version"] == load_bundle(first).bundle_version != new_version
    assert old["predictions"][0]["probability"] == pytest.approx(expected_probability(first), abs=1e-12)
    assert fresh["bundle_version"] == new_version
    assert fresh["predictions"][0]["probability"] == pytest.approx(expected_probability(second), abs=1e-12)


# ----------------------------------------------------------------------------- SIGHUP, real process
def wait_for(check, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_sighup_swaps_the_bundle_of_a_running_server(bundles, tmp_path):
    first, second = bundles
    served = tmp_path / "models" / first.name
    served.parent.mkdir()
    put_bundle(first, served)
    with ServedByCli(served, "--store", str(tmp_path / "live.sqlite")) as server, \
            httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.get("/model").json()["pkl_sha256"] == sha_of(first)
        put_bundle(second, served)
        server.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: client.get("/model").json()["pkl_sha256"] == sha_of(second), "the new bundle was not served")
        assert predicted(client) == pytest.approx(expected_probability(second), abs=1e-12)
        assert client.get("/health/ready").json()["sha256"] == sha_of(second)

        # a tampered file is refused: the log says why, the second bundle keeps serving
        put_bundle(tampered_copy(first, tmp_path / "bad"), served)
        server.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "bundle reload refused" in server.read_log(), "the refusal was not logged")
        assert "does not match the manifest" in server.read_log()
        assert client.get("/model").json()["pkl_sha256"] == sha_of(second)
        assert predicted(client) == pytest.approx(expected_probability(second), abs=1e-12)
        assert server.proc.poll() is None  # SIGHUP did not end the process


def test_stored_predictions_name_the_bundle_that_made_them(bundle_path, kinds, tmp_path):
    """Live predictions before and after a reload each record the SHA-256 of their bundle."""
    from kemo_attention.bundle.export import export_bundle
    from ops_support import T0
    from synthetic_features import make_dataset

    other = export_bundle(make_dataset(kinds, n=120, seed=3), "logreg", tmp_path / "other")
    records = {"HR": [{"timestamp": T0 + i * 1000, "bpm": 70 + i % 9} for i in range(600)]}
    with TestClient(create_app(bundle_path, token=TOKEN, store_path=tmp_path / "s.sqlite")) as client:
        assert client.post("/participants/P03/records", json={"records": records}, headers=AUTH).status_code == 200
        before = client.get("/participants/P03/prediction", params={"at": T0 + 300_000}, headers=AUTH)
        assert before.status_code == 200, before.text
        assert client.post("/admin/reload", json={"path": str(other)}, headers=AUTH).status_code == 200
        after = client.get("/participants/P03/prediction", params={"at": T0 + 400_000}, headers=AUTH)
        history = client.get("/participants/P03/predictions", headers=AUTH).json()["predictions"]
    assert before.json()["model_sha256"] == sha_of(bundle_path)
    assert after.json()["model_sha256"] == sha_of(other)
    assert [(p["at"], p["model_sha256"]) for p in history] == [(T0 + 300_000, sha_of(bundle_path)), (T0 + 400_000, sha_of(other))]
