"""Helpers of the live tests: a small release cut into batches the way a phone would send
them (random spans, shuffled within a block), and the offline features to compare with."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from kemo_attention.release.layout import find_release
from kemo_attention.release.read import read_esm, read_participant, read_userinfo

BLOCK_MS = 20 * 60_000  # batches are shuffled within blocks of this span (late data up to ~20 min)


@dataclass
class Replay:
    pcode: str
    blocks: list[list[dict]]  # blocks in time order; each a list of {type: records} batches (shuffled)
    block_end: list[int]  # the last timestamp of each block
    answers: list[dict]  # EsmResponse rows of the participant (canonical names)
    profile: dict | None


def batches_of(release, pcode: str, rng: np.random.Generator, max_span_ms: int = 300_000) -> Replay:
    layout = find_release(release)
    tables = read_participant(layout, pcode).tables
    lo = min(int(f["timestamp"].min()) for f in tables.values() if f.height)
    hi = max(int(f["timestamp"].max()) for f in tables.values() if f.height)
    # Random batch boundaries (never splitting one timestamp), then blocks of ~BLOCK_MS.
    edges = [lo]
    while edges[-1] <= hi:
        edges.append(edges[-1] + int(rng.integers(1_000, max_span_ms)))
    blocks, ends = [], []
    current, block_start = [], lo
    for a, b in zip(edges[:-1], edges[1:]):
        batch = {}
        for name, frame in tables.items():
            part = frame.filter((pl.col("timestamp") >= a) & (pl.col("timestamp") < b))
            if part.height:
                batch[name] = part.to_dicts()
        if batch:
            current.append(batch)
        if b - block_start >= BLOCK_MS or b > hi:
            order = rng.permutation(len(current))
            blocks.append([current[i] for i in order])
            ends.append(b - 1)
            current, block_start = [], b
    esm = read_esm(layout.esm_path).filter(pl.col("pcode") == pcode).drop("pcode")
    answers = [{k: v for k, v in row.items()} for row in esm.to_dicts()]
    profile = None
    if layout.userinfo_path is not None:
        info = read_userinfo(layout.userinfo_path).filter(pl.col("pcode") == pcode)
        if info.height:
            profile = {k: v for k, v in info.to_dicts()[0].items() if v is not None and k != "pcode"}
    return Replay(pcode, blocks, ends, answers, profile)


def send_replay(client, rep: Replay, prompts: list[int], *, headers=None, after_batch=None) -> dict[int, float]:
    """Send the replay's batches block by block over HTTP, its answers once given, and ask for
    a prediction at each prompt once every record before it has been sent."""
    headers = headers or {}
    if rep.profile:
        r = client.put(f"/participants/{rep.pcode}/profile", json={"profile": rep.profile}, headers=headers)
        assert r.status_code == 200, r.text
    got: dict[int, float] = {}
    posted = 0
    answers = sorted(rep.answers, key=lambda a: a["responseTime"])
    todo = sorted(prompts)
    sent = 0
    for block, end in zip(rep.blocks, rep.block_end):
        for batch in block:
            r = client.post(f"/participants/{rep.pcode}/records", json={"records": batch}, headers=headers)
            assert r.status_code == 200, r.text
            sent += 1
            if after_batch is not None:
                after_batch(sent, batch, r.json())
        new = [a for a in answers[posted:] if a["responseTime"] <= end]
        if new:
            r = client.post(f"/participants/{rep.pcode}/answers", json={"answers": new}, headers=headers)
            assert r.status_code == 200, r.text
            posted += len(new)
        while todo and todo[0] <= end:
            at = todo.pop(0)
            r = client.get(f"/participants/{rep.pcode}/prediction", params={"at": at}, headers=headers)
            assert r.status_code == 200, r.text
            got[at] = r.json()["probability"]
    return got


def replay_events(rep: Replay, prompts: list[int]) -> list[tuple[str, object]]:
    """The replay as a list of requests in the order a client sends them: ("records", batch),
    ("answers", [...]), ("predict", at); a client that crashed can resume at any index."""
    events: list[tuple[str, object]] = [("profile", rep.profile)] if rep.profile else []
    answers = sorted(rep.answers, key=lambda a: a["responseTime"])
    todo = sorted(prompts)
    posted = 0
    for block, end in zip(rep.blocks, rep.block_end):
        events += [("records", batch) for batch in block]
        new = [a for a in answers[posted:] if a["responseTime"] <= end]
        if new:
            events.append(("answers", new))
            posted += len(new)
        while todo and todo[0] <= end:
            events.append(("predict", todo.pop(0)))
    return events


def send_event(client, pcode: str, event: tuple[str, object]) -> dict:
    kind, payload = event
    if kind == "profile":
        r = client.put(f"/participants/{pcode}/profile", json={"profile": payload})
    elif kind == "records":
        r = client.post(f"/participants/{pcode}/records", json={"records": payload})
    elif kind == "answers":
        r = client.post(f"/participants/{pcode}/answers", json={"answers": payload})
    else:
        r = client.get(f"/participants/{pcode}/prediction", params={"at": payload})
    assert r.status_code == 200, r.text
    return r.json()
