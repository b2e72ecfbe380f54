"""`kill -9` of the server mid-ingest, then a restart on the same store: every acknowledged
batch is there, the resumed replay reports the retried batch as duplicates, and the
predictions equal offline (so equal the run without the crash). Two workers on one store
answer as one does."""

from __future__ import annotations

import threading

import httpx
import numpy as np

from live_server import Server
from live_support import batches_of, replay_events, send_event


def test_kill9_mid_ingest_then_resume(offline, release, expected, tmp_path):
    pcode = "P01"
    store = tmp_path / "crash.sqlite"
    rep = batches_of(release, pcode, np.random.default_rng(3), max_span_ms=1_200_000)
    events = replay_events(rep, list(expected[pcode]))
    batches = [i for i, (kind, _) in enumerate(events) if kind == "records"]
    crash_at = batches[len(batches) // 2]
    got: dict[int, float] = {}
    acknowledged: list[int] = []
    server = Server(offline[1], store).start()
    try:
        with httpx.Client(base_url=server.url, timeout=120) as c:
            for i, event in enumerate(events):
                if i == crash_at:  # kill -9 while this batch is being stored
                    threading.Timer(0.005, server.kill9).start()
                try:
                    body = send_event(c, pcode, event)
                except httpx.TransportError:
                    break
                if event[0] == "records":
                    acknowledged.append(i)
                if event[0] == "predict":
                    got[event[1]] = body["probability"]
            else:
                raise AssertionError("the server was not killed")
    finally:
        server.stop()
    resume = i  # the request that got no answer
    assert acknowledged and resume <= crash_at + 1

    with Server(offline[1], store) as again, httpx.Client(base_url=again.url, timeout=300) as c:
        # The last acknowledged batch survived the crash: sent again, all of it is duplicate.
        last = events[acknowledged[-1]][1]
        r = send_event(c, pcode, events[acknowledged[-1]])
        assert sum(r["stored"].values()) == 0, r
        assert sum(r["duplicates"].values()) == sum(len(v) for v in last.values())
        # The client resumes at the request that got no answer (it may or may not have been
        # committed: either way it is stored once).
        for event in events[resume:]:
            body = send_event(c, pcode, event)
            if event[0] == "predict":
                got[event[1]] = body["probability"]
        summary = c.get(f"/participants/{pcode}").json()
    assert set(got) == set(expected[pcode])
    worst = max(abs(got[at] - p) for at, p in expected[pcode].items())
    assert worst <= 1e-6
    # Nothing doubled: the kept rows of each type equal the rows sent in the kept span.
    first = summary["kept_from"]
    for name, stats in summary["types"].items():
        sent = [r for kind, b in events if kind == "records" for r in b.get(name, []) if r["timestamp"] >= first]
        assert stats["rows"] == len(sent), name


def test_two_workers_answer_as_one(offline, release, expected, tmp_path):
    """The first 8 prompts of a replay through `serve --workers 2` (requests spread over both
    processes, writes from both into one store) equal offline, as one worker's do."""
    pcode = "P01"
    rep = batches_of(release, pcode, np.random.default_rng(5), max_span_ms=1_800_000)
    prompts = sorted(expected[pcode])[:8]
    events = replay_events(rep, prompts)
    events = events[: max(i for i, (kind, _) in enumerate(events) if kind == "predict") + 1]
    got: dict[int, float] = {}
    with Server(offline[1], tmp_path / "two.sqlite", "--workers", "2") as two:
        with httpx.Client(base_url=two.url, timeout=300) as c:
            for event in events:
                body = send_event(c, pcode, event)
                if event[0] == "predict":
                    got[event[1]] = body["probability"]
        # Concurrent reads (each client its own connection, so both workers answer).
        answers = set()

        def ask():
            with httpx.Client(base_url=two.url, timeout=300) as own:
                for _ in range(4):
                    answers.add(round(own.get(f"/participants/{pcode}/prediction").json()["probability"], 12))

        threads = [threading.Thread(target=ask) for _ in range(3)]
        [t.start() for t in threads]
        [t.join() for t in threads]
    assert len(answers) == 1
    assert set(got) == set(prompts)
    for at in prompts:
        assert abs(got[at] - expected[pcode][at]) <= 1e-6
