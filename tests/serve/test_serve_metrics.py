"""GET /metrics and the health probes: real requests through the whole app (TestClient runs
its lifespan), then the exposition text parsed by prometheus-client's parser; each counter
must have moved by exactly what the requests did."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ops_support import AUTH, ROW, T0, TOKEN, scrape, two_bundles, value
from kemo_attention.serve.app import create_app


@pytest.fixture(scope="module")
def bundles(tmp_path_factory, small_kinds) -> tuple[Path, Path]:
    return two_bundles(tmp_path_factory.mktemp("ops-bundles"), small_kinds)


@pytest.fixture()
def served(bundles, tmp_path):
    store = tmp_path / "live.sqlite"
    with TestClient(create_app(bundles[0], store_path=store, token=TOKEN, max_body_mb=0.01)) as client:
        client.store = store
        yield client


def hr(n: int, start: int = T0) -> list[dict]:
    return [{"timestamp": start + i * 1000, "bpm": 70 + i % 5} for i in range(n)]


def test_requests_are_counted_per_route_template_and_status_class(served):
    before = scrape(served)
    for _ in range(3):
        assert served.post("/predict", json=ROW, headers=AUTH).status_code == 200
    assert served.post("/predict", json={"rows": [{"HRT#VAL": "x"}]}, headers=AUTH).status_code == 422
    for pcode in ("P01", "P02"):
        assert served.get(f"/participants/{pcode}", headers=AUTH).status_code == 404
    assert served.get("/no/such/path", headers=AUTH).status_code == 404
    assert served.post("/predict", content=b"[" + b"0," * 10_000 + b"0]",
                       headers={"content-type": "application/json", **AUTH}).status_code == 413
    after = scrape(served)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("kemo_http_requests_total", route="/predict", method="POST", status="2xx") == 3
    # the 413 is answered before routing, and still counted under the route it was sent to
    assert moved("kemo_http_requests_total", route="/predict", method="POST", status="4xx") == 2
    assert moved("kemo_http_requests_total", route="/participants/{pcode}", method="GET", status="4xx") == 2
    assert moved("kemo_http_requests_total", route="<unmatched>", method="GET", status="4xx") == 1
    assert moved("kemo_http_request_duration_seconds_count", route="/predict", method="POST", status="2xx") == 3
    assert moved("kemo_http_request_duration_seconds_sum", route="/predict", method="POST", status="2xx") > 0
    # one series per route template: no participant code and no raw path becomes a label value
    routes = {dict(labels).get("route") for (_, labels) in after}
    assert not any(r and ("P01" in r or "/no/such" in r) for r in routes)
    assert moved("kemo_http_server_errors_total", route="/predict", method="POST") == 0


def test_latency_buckets_are_cumulative_and_end_at_the_count(served):
    served.post("/predict", json=ROW, headers=AUTH)
    after = scrape(served)
    labels = {"route": "/predict", "method": "POST", "status": "2xx"}
    buckets = sorted(
        (float(dict(lab)["le"]), v) for (name, lab), v in after.items()
        if name == "kemo_http_request_duration_seconds_bucket" and all(dict(lab).get(k) == w for k, w in labels.items())
    )
    counts = [v for _, v in buckets]
    assert counts == sorted(counts) and buckets[-1][0] == float("inf")
    assert counts[-1] == value(after, "kemo_http_request_duration_seconds_count", **labels)


def test_predictions_rows_duplicates_and_store_size(served):
    before = scrape(served)
    rows = served.post("/predict", json={"rows": [ROW["features"]] * 4, "fill_missing": True}, headers=AUTH)
    assert rows.status_code == 200
    first = {"HR": hr(5), "ScreenEvent": [{"timestamp": T0 + 2_000, "type": "ON"}]}
    assert served.post("/participants/P07/records", json={"records": first}, headers=AUTH).status_code == 200
    again = {"HR": hr(5) + hr(2, start=T0 + 60_000)}  # 5 rows sent before, 2 new
    r = served.post("/participants/P07/records", json={"records": again}, headers=AUTH)
    assert r.json()["stored"] == {"HR": 2} and r.json()["duplicates"] == {"HR": 5}
    after = scrape(served)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("kemo_predictions_total", route="/predict") == 4  # one per row
    assert moved("kemo_live_rows_stored_total", data_type="HR") == 7
    assert moved("kemo_live_rows_stored_total", data_type="ScreenEvent") == 1
    assert moved("kemo_live_rows_duplicate_total", data_type="HR") == 5
    on_disk = sum(os.path.getsize(f"{served.store}{s}") for s in ("", "-wal", "-shm") if os.path.exists(f"{served.store}{s}"))
    assert value(after, "kemo_store_size_bytes") == on_disk > 0


def test_a_server_bug_counts_as_a_5xx_error(served, monkeypatch):
    from kemo_attention.serve.service import PredictionService

    def broken(self, rows, fill_missing=False):
        raise RuntimeError("boom")

    before = scrape(served)
    monkeypatch.setattr(PredictionService, "predict_rows", broken)
    assert served.post("/predict", json=ROW, headers=AUTH).status_code == 500
    after = scrape(served)
    assert value(after, "kemo_http_server_errors_total", route="/predict", method="POST") - \
        value(before, "kemo_http_server_errors_total", route="/predict", method="POST") == 1
    assert value(after, "kemo_http_requests_total", route="/predict", method="POST", status="5xx") - \
        value(before, "kemo_http_requests_total", route="/predict", method="POST", status="5xx") == 1
    assert value(after, "kemo_predictions_total", route="/predict") == value(before, "kemo_predictions_total", route="/predict")


def test_each_app_counts_alone_and_names_its_bundle(bundles):
    from kemo_attention.bundle.runtime import load_bundle

    with TestClient(create_app(bundles[0])) as one, TestClient(create_app(bundles[1])) as two:
        for _ in range(2):
            one.post("/predict", json=ROW)
        a, b = scrape(one, {}), scrape(two, {})  # no token on these servers: /metrics is open
    assert value(a, "kemo_predictions_total", route="/predict") == 2
    assert value(b, "kemo_predictions_total", route="/predict") == 0
    sha = load_bundle(bundles[1]).manifest["pkl_sha256"]
    info = [dict(labels) for (name, labels) in b if name == "kemo_bundle_info"]
    assert [i["sha256"] for i in info] == [sha]
    assert not any(name == "kemo_store_size_bytes" for (name, _) in b)  # no store, no size


def test_metrics_need_the_token_when_the_server_has_one(served):
    assert served.get("/metrics").status_code == 401
    assert served.get("/metrics", headers={"authorization": "Bearer wrong"}).status_code == 401


# ----------------------------------------------------------------------------- probes
def test_liveness_readiness_and_the_old_health(served, bundles):
    from kemo_attention.bundle.runtime import load_bundle

    bundle = load_bundle(bundles[0])
    assert served.get("/health/live").json() == {"status": "alive"}
    assert served.get("/health").json() == {"status": "ok", "model": "logreg", "bundle_version": bundle.bundle_version}
    ready = served.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "model": "logreg", "bundle_version": bundle.bundle_version,
                            "sha256": bundle.manifest["pkl_sha256"], "store": "ok"}


def test_not_ready_when_the_store_is_gone(served):
    served.store.rename(served.store.with_name("moved.sqlite"))
    r = served.get("/health/ready")
    assert r.status_code == 503
    assert "the file is gone" in r.json()["detail"] and str(served.store) in r.json()["detail"]
    assert served.get("/health/live").status_code == 200  # the process itself is fine: no restart needed


def test_not_ready_says_what_the_store_reports(served, monkeypatch):
    """Whatever the store's own check finds (a server database down, say) is the 503's reason."""
    from kemo_attention.live.store import SqliteStore

    monkeypatch.setattr(SqliteStore, "ping", lambda self: "store X: connection refused")
    r = served.get("/health/ready")
    assert r.status_code == 503
    assert r.json() == {"detail": "not ready: store X: connection refused", "reasons": ["store X: connection refused"]}


def test_probes_need_no_token(served):
    assert served.get("/health/live").status_code == 200
    assert served.get("/health/ready").status_code == 200


def test_the_operations_curl_example_of_live_md_runs(bundle_path, tmp_path):
    """docs/live.md's first Operations example, run by bash and curl against a real server
    holding one stored row and one prediction, prints what the page says it prints."""
    import re
    import subprocess

    import httpx
    from serve_support import ServedByCli

    text = (Path(__file__).parents[2] / "docs" / "live.md").read_text()
    section = text.split("## Operations", 1)[1]
    script = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    with ServedByCli(bundle_path, "--store", str(tmp_path / "s.sqlite"), "--token", "s3cret") as server:
        auth = {"authorization": "Bearer s3cret"}
        httpx.post(server.url + "/participants/P07/records", headers=auth, timeout=30,
                   json={"records": {"HR": [{"timestamp": T0, "bpm": 71}]}}).raise_for_status()
        httpx.get(server.url + "/participants/P07/prediction", headers=auth, timeout=30).raise_for_status()
        run = subprocess.run(["bash", "-c", script.replace("localhost:8000", f"127.0.0.1:{server.port}")],
                             capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    shown = [line[2:] for line in script.splitlines() if line.startswith("# ")]
    assert shown[0].startswith('{"status":"ready"') and '"status":"ready"' in run.stdout
    for line in shown[1:]:  # the metric lines, exactly
        assert line in run.stdout.splitlines(), (line, run.stdout)
