"""`kill -9` of the server mid-ingest, then a restart on the same store: every acknowledged
batch is there, the resumed replay reports the retried batch as duplicates, and the
predictions equal offline (so equal the run without the crash). Two workers on one store
answer as one does."""

from __future__ import annotations

import threading

import httpx
import numpy as np

from conftest import Server
from live_support import batches_of, send_replay


def test_kill9_mid_ingest_then_resume(offline, release, expected, tmp_path):
    pcode = "P01"
    store = tmp_path / "crash.sqlite"
    rep = batches_of(release, pcode, np.random.default_rng(3), max_span_ms=1_200_000)
    flat = [b for block in rep.blocks for b in block]
    acknowledged: list[dict] = []
    server = Server(offline[1], store).start()
    stop_after = len(flat) // 2
    try:
        with httpx.Client(base_url=server.url, timeout=120) as c:
            def push():
                for batch in flat:
                    try:
                        r = c.post(f"/participants/{pcode}/records", json={"records": batch})
                    except httpx.TransportError:
                        return  # the server died under this request: not acknowledged
                    if r.status_code == 200:
                        acknowledged.append(batch)

            sender = threading.Thread(target=push)
            sender.start()
            while len(acknowledged) < stop_after and sender.is_alive():
                threading.Event().wait(0.01)
            server.kill9()  # mid-ingest: the sender is inside a request or about to send
            sender.join(timeout=120)
    finally:
        server.stop()
    assert 0 < len(acknowledged) < len(flat)

    with Server(offline[1], store) as again, httpx.Client(base_url=again.url, timeout=300) as c:
        # Every acknowledged batch survived: sent again, all of it is duplicate.
        for batch in acknowledged[-5:] + acknowledged[:2]:
            r = c.post(f"/participants/{pcode}/records", json={"records": batch}).json()
            assert sum(r["stored"].values()) == 0, r
            assert sum(r["duplicates"].values()) == sum(len(v) for v in batch.values())
        # Resume from the start (a client that lost its place): duplicates are reported, not
        # stored twice, and the predictions equal offline.
        got = send_replay(c, rep, list(expected[pcode]))
        worst = max(abs(got[at] - p) for at, p in expected[pcode].items())
        assert worst <= 1e-6
        summary = c.get(f"/participants/{pcode}").json()
    # Nothing doubled: the kept rows of each type equal the release's rows in the kept span.
    first = summary["kept_from"]
    for name, stats in summary["types"].items():
        sent = [r for b in flat for r in b.get(name, []) if r["timestamp"] >= first]
        assert stats["rows"] == len(sent), name


def test_two_workers_answer_as_one(offline, release, expected, tmp_path, server):
    pcode = "P01"
    store = tmp_path / "two.sqlite"
    rep = batches_of(release, pcode, np.random.default_rng(5), max_span_ms=1_800_000)
    prompts = sorted(expected[pcode])[-6:]
    with Server(offline[1], store, "--workers", "2") as two, httpx.Client(base_url=two.url, timeout=300) as c:
        got = send_replay(c, rep, prompts)
        # Concurrent reads from both workers give the same answer each time.
        answers = set()

        def ask():
            with httpx.Client(base_url=two.url, timeout=300) as own:
                for _ in range(4):
                    answers.add(round(own.get(f"/participants/{pcode}/prediction", params={"at": prompts[-1]}).json()["probability"], 12))

        threads = [threading.Thread(target=ask) for _ in range(3)]
        [t.start() for t in threads]
        [t.join() for t in threads]
    assert len(answers) == 1
    for at in prompts:
        assert abs(got[at] - expected[pcode][at]) <= 1e-6
