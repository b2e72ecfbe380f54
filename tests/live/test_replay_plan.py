"""The replay's plan and client without a live store: what is sent when, and how failures
are handled (against a real uvicorn stub on 127.0.0.1)."""

from __future__ import annotations

import csv
import json
import subprocess
import time

import numpy as np
import polars as pl
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from live_server import CLI
from replay_support import tiny_release
from serve_support import LiveServer, free_port

from kemo_attention.live import replay as rp
from kemo_attention.release.layout import find_release
from kemo_attention.release.read import frame_from_records
from kemo_attention.release.schema import DATA_TYPES

BATCH_MS = 60_000


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return tiny_release(tmp_path_factory.mktemp("replay") / "release", days=1.5, prompts_per_day=16)


@pytest.fixture(scope="module")
def plan(release):
    layout = find_release(release)
    esm, userinfo = rp.load_release_subjects(layout)
    return rp.plan_participant(layout, "P01", esm, userinfo)


@pytest.fixture(scope="module")
def steps(plan):
    return rp.schedule(plan, BATCH_MS)


def _esm_rows(release, pcode):
    with open(release / "SubjData" / "EsmResponse.csv") as f:
        return [r for r in csv.DictReader(f) if r["pcode"] == pcode]


def test_every_record_is_sent_once_and_arrives_as_the_reader_read_it(plan, steps):
    sent: dict[str, list[dict]] = {}
    for kind, start, end, _ in steps:
        if kind != "records":
            continue
        body, rows = rp.records_body(plan, start, end)
        records = json.loads(body)["records"]
        assert rows == sum(len(v) for v in records.values()) > 0
        for name, recs in records.items():
            assert all(start <= r["timestamp"] < end for r in recs)
            sent.setdefault(name, []).extend(recs)
    assert set(sent) == set(plan.tables)
    for name, frame in plan.tables.items():
        # the server rebuilds the frame from the JSON rows with the release's own cleaning
        rebuilt = frame_from_records(DATA_TYPES[name], sent[name])
        assert rebuilt.equals(frame), name


def test_batches_stay_within_one_batch_length_of_data_time(steps):
    intervals = [(s, e) for kind, s, e, _ in steps if kind == "records"]
    assert all(s < e for s, e in intervals)
    assert all(e - s <= BATCH_MS and (e - 1) // BATCH_MS == s // BATCH_MS for s, e in intervals)
    assert all(a[1] <= b[0] for a, b in zip(intervals, intervals[1:]))  # in time order, no overlap


def test_each_prompt_is_asked_with_exactly_the_data_before_it(plan, steps, release):
    all_times = np.sort(np.concatenate(list(plan.times.values())))
    sent_until = None
    asked = []
    for kind, start, end, payload in steps:
        if kind == "records":
            sent_until = end
        elif kind == "prompt":
            asked.append(payload.at_ms)
            rows_before = int(np.searchsorted(all_times, payload.at_ms, "left"))
            sent_rows = int(np.searchsorted(all_times, sent_until, "left")) if sent_until is not None else 0
            assert sent_rows == rows_before  # everything before T, nothing from T on
    # one prediction per scheduled answer of the EsmResponse file, in time order
    scheduled = sorted(int(r["scheduledTime"]) for r in _esm_rows(release, "P01") if r["scheduledTime"])
    assert asked == scheduled and len(asked) == 24


def test_answers_follow_their_response_time_and_the_profile_is_the_userinfo_row(plan, steps, release):
    all_times = np.sort(np.concatenate(list(plan.times.values())))
    sent = 0
    answered = []
    for kind, start, end, payload in steps:
        if kind == "records":
            sent = int(np.searchsorted(all_times, end, "left"))
        elif kind == "answer":
            assert sent == int(np.searchsorted(all_times, payload["responseTime"], "left"))
            answered.append(payload["responseTime"])
    assert answered == sorted(int(r["responseTime"]) for r in _esm_rows(release, "P01"))
    with open(release / "SubjData" / "UserInfo.csv") as f:
        row = next(r for r in csv.DictReader(f) if r["pcode"] == "P01")
    assert plan.profile["gender"] == row["gender"] and plan.profile["age"] == float(row["age"])
    assert "pcode" not in plan.profile


def test_bigger_batches_make_fewer_requests_with_the_same_rows(plan, steps):
    big = rp.schedule(plan, 3_600_000)
    rows = lambda ss: sum(rp.records_body(plan, s, e)[1] for k, s, e, _ in ss if k == "records")  # noqa: E731
    assert rows(big) == rows(steps) == plan.rows
    assert sum(k == "records" for k, *_ in big) < sum(k == "records" for k, *_ in steps) / 5


# ------------------------------------------------------------------ the client
def _stub(fail_first: int, status: int, detail: str = "boom"):
    app = FastAPI()
    calls = {"n": 0, "auth": []}

    @app.post("/participants/{pcode}/records")
    def records(pcode: str, body: dict, request: Request):
        calls["n"] += 1
        calls["auth"].append(request.headers.get("authorization"))
        if calls["n"] <= fail_first:
            return JSONResponse({"detail": detail}, status_code=status)
        return {"pcode": pcode, "stored": {k: len(v) for k, v in body["records"].items()}, "duplicates": {}}

    return app, calls


def test_a_batch_failing_with_5xx_is_sent_again_until_it_is_stored():
    app, calls = _stub(fail_first=2, status=503)
    with LiveServer(app, health=False) as server, rp.LiveClient(server.url, "secret", sleep=lambda s: None) as client:
        reply = client.post_records("P01", b'{"records": {"HR": [{"timestamp": 1557278760000, "bpm": 71}]}}', what="P01")
        assert reply["stored"] == {"HR": 1}
        assert calls["n"] == 3 and client.retried == 2
        assert calls["auth"] == ["Bearer secret"] * 3


@pytest.mark.parametrize(("status", "needle"), [(422, "refused it (422): records.HR: row 3, column 'bpm'"), (401, "--token"),
                                               (403, "admin token")])
def test_4xx_stops_at_once_with_the_servers_detail(status, needle):
    app, calls = _stub(fail_first=99, status=status, detail="records.HR: row 3, column 'bpm': expected a number")
    with LiveServer(app, health=False) as server, rp.LiveClient(server.url, sleep=lambda s: None) as client:
        with pytest.raises(rp.ReplayError) as err:
            client.post_records("P01", b'{"records": {}}', what="P01")
    assert needle in str(err.value) and calls["n"] == 1


def test_an_unreachable_server_is_one_line_and_exit_2(release, tmp_path):
    port = free_port()  # nothing listens there
    proc = subprocess.run([CLI, "replay", str(release), "--url", f"http://127.0.0.1:{port}", "--retries", "1",
                           "--out", str(tmp_path / "r.csv")], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines[-1].startswith("error: GET /model: server at") and "unreachable" in lines[-1]
    assert "Traceback" not in proc.stderr and not (tmp_path / "r.csv").exists()


@pytest.mark.parametrize(("args", "needle"), [
    (["--participants", "P01,P77"], "--participants: P77 not in"),
    (["--batch-seconds", "0"], "--batch-seconds must be positive"),
    (["--compare", "nope.pkl"], "--compare and --bundle go together"),
])
def test_user_mistakes_are_one_line(release, args, needle):
    proc = subprocess.run([CLI, "replay", str(release), "--url", f"http://127.0.0.1:{free_port()}", "--retries", "0", *args],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2 and needle in proc.stderr and "Traceback" not in proc.stderr


def test_a_missing_release_is_one_line(tmp_path):
    proc = subprocess.run([CLI, "replay", str(tmp_path / "none")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "release folder not found" in proc.stderr and "Traceback" not in proc.stderr


def test_plan_reads_the_prompt_answer_as_given(plan, release):
    rows = {int(r["scheduledTime"]): float(r["attention"]) for r in _esm_rows(release, "P01") if r["scheduledTime"]}
    assert {p.at_ms: p.answer for p in plan.prompts} == rows
    assert pl.DataFrame(plan.answers).height == len(_esm_rows(release, "P01"))


def _full_stub():
    """Every live endpoint the replay calls, answering as the contract says (nothing stored)."""
    app = FastAPI()
    seen = []

    @app.put("/participants/{pcode}/profile")
    def profile(pcode: str, body: dict):
        seen.append(("profile", pcode))
        return {"pcode": pcode, "profile": body["profile"]}

    @app.post("/participants/{pcode}/records")
    def records(pcode: str, body: dict):
        return {"pcode": pcode, "stored": {k: len(v) for k, v in body["records"].items()}, "duplicates": {}}

    @app.post("/participants/{pcode}/answers")
    def answers(pcode: str, body: dict):
        seen.append(("answer", body["answers"][0]["responseTime"]))
        return {"pcode": pcode, "stored": 1, "duplicates": 0}

    @app.get("/participants/{pcode}/prediction")
    def prediction(pcode: str, at: int):
        seen.append(("prompt", at))
        return {"pcode": pcode, "at": at, "probability": 0.75, "label": 1, "threshold": 0.5, "model_sha256": "x",
                "streams": {}, "warnings": []}

    return app, seen


def test_speed_n_paces_the_data_clock_at_n_times_real_time(plan):
    app, seen = _full_stub()
    steps = rp.schedule(plan, 15 * 60_000)
    speed = (steps[-1][1] - steps[0][1]) / 1000 / 3.0  # the whole span in about 3 s
    with LiveServer(app, health=False) as server, rp.LiveClient(server.url) as client:
        began = time.perf_counter()
        out = rp.replay_participant(client, plan, batch_ms=15 * 60_000, speed=speed)
        took = time.perf_counter() - began
    assert 2.9 <= took < 9.0
    assert out.rows_sent == out.stored == plan.rows
    assert [p["probability"] for p in out.predictions] == [0.75] * len(plan.prompts)
    assert seen[0] == ("profile", "P01")  # the profile before anything else
    # prompts and answers reach the server in time order, a prompt before an answer at the same time
    times = [(t, 0 if kind == "prompt" else 1) for kind, t in seen[1:]]
    assert times == sorted(times)
