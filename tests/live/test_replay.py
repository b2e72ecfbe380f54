"""`kemo-attention replay` end to end: a real `kemo-attention serve --store` process on
127.0.0.1 with a real SQLite file, a tiny release replayed into it, and the served
probabilities checked against offline extraction + the bundle."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import time

import httpx
import numpy as np
import pandas as pd
import pytest
from live_server import CLI, Server
from replay_support import tiny_release

pytestmark = pytest.mark.slow


def _scheduled(release, pcode=None) -> list[tuple[str, int, float]]:
    """(pcode, scheduledTime, attention) of the EsmResponse rows with a scheduled time, read with csv."""
    with open(release / "SubjData" / "EsmResponse.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["scheduledTime"] and (pcode is None or r["pcode"] == pcode)]
    return sorted((r["pcode"], int(r["scheduledTime"]), float(r["attention"])) for r in rows)


# 15-min batches keep the tests short: a request costs the server tens of ms whatever its size.
def _replay(release, url, out, *args, timeout=600, batch="900"):
    cmd = [CLI, "replay", str(release), "--url", url, "--out", str(out), "--quiet", "--batch-seconds", batch, *args]
    env = {**os.environ, "COLUMNS": "250"}  # the final table unabridged
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 2-day tiny release, its causal features, and a logreg bundle fitted on them."""
    from kemo_attention.bundle.export import export_bundle
    from kemo_attention.features.extract import extract_release

    root = tmp_path_factory.mktemp("live")
    release = tiny_release(root / "release", participants=2, days=2.0, prompts_per_day=20, seed=3)
    dataset = extract_release(release, root / "features", use_cache=False)
    assert set(dataset.group) == {"P01", "P02"}  # 40 prompts each: both kept (min 35)
    bundle = export_bundle(dataset, "logreg", root / "models", input_path=root / "features" / "attention.pkl")
    return {"root": root, "release": release, "features": root / "features" / "attention.pkl", "bundle": bundle, "dataset": dataset}


def _offline(dataset, bundle_path) -> dict[tuple[str, int], float]:
    from kemo_attention.bundle.runtime import load_bundle

    proba = load_bundle(bundle_path).predict_proba(dataset.X)
    stamps = pd.to_datetime(list(dataset.date_times), utc=True)
    ms = pd.DatetimeIndex(stamps).as_unit("ms").asi8.tolist()
    return {(g, t): p for g, t, p in zip(dataset.group, ms, proba)}


def test_replay_predicts_every_prompt_as_offline_extraction_does(trained, tmp_path):
    store = tmp_path / "live.sqlite"
    out = tmp_path / "replay.csv"
    with Server(trained["bundle"], store) as server:
        proc = _replay(trained["release"], server.url, out, "--compare", str(trained["features"]), "--bundle", str(trained["bundle"]))
        assert proc.returncode == 0, proc.stderr[-3000:] + server.read_log()[-2000:]
        listed = httpx.get(server.url + "/participants", timeout=30).json()["participants"]
    got = pd.read_csv(out)
    assert list(got.columns[:2]) == ["pcode", "prompt_time"]
    expected = _scheduled(trained["release"])
    assert len(got) == len(expected) == 80
    assert sorted(zip(got["pcode"], got["prompt_time"], got["answer"])) == expected
    assert got["probability"].notna().all() and set(got["label"]) <= {0, 1}
    assert (got["label"] == (got["probability"] >= 0.5).astype(int)).all()
    offline = _offline(trained["dataset"], trained["bundle"])
    diffs = [abs(p - offline[(c, t)]) for c, t, p in zip(got["pcode"], got["prompt_time"], got["probability"])]
    assert max(diffs) <= 1e-6
    # the --compare report says the same
    m = re.search(r"compare: (\d+) prompts matched offline, largest \|served - offline\| = (\S+)", proc.stderr.replace("\n", " "))
    assert m and int(m.group(1)) == 80 and float(m.group(2)) <= 1e-6
    assert sorted(p if isinstance(p, str) else p["pcode"] for p in listed) == ["P01", "P02"]


@pytest.fixture(scope="module")
def short_release(tmp_path_factory):
    """Five hours of one participant: quick to replay, long enough for the store to prune."""
    return tiny_release(tmp_path_factory.mktemp("short") / "release", participants=1, days=0.2, prompts_per_day=25, seed=5)


def _table_row(stderr: str, pcode: str = "P01") -> dict[str, str]:
    """The final table's row of ``pcode`` as {column: cell}."""
    lines = [ln.strip().strip("│┃").split("│" if "│" in ln else "┃") for ln in stderr.splitlines() if ln.count("│") + ln.count("┃") >= 5]
    header = next(cells for cells in lines if "participant" in cells[0])
    row = next(cells for cells in lines if cells[0].strip() == pcode)
    return {h.strip(): c.strip() for h, c in zip(header, row)}


def _n(cell: str) -> int:
    return int(cell.replace(",", ""))


def test_a_second_replay_is_all_duplicates_and_changes_nothing(trained, short_release, tmp_path):
    store = tmp_path / "live.sqlite"
    with Server(trained["bundle"], store) as server:
        first = _replay(short_release, server.url, tmp_path / "a.csv")
        assert first.returncode == 0, first.stderr[-3000:]
        before = httpx.get(server.url + "/participants/P01", timeout=30).json()
        second = _replay(short_release, server.url, tmp_path / "b.csv")
        assert second.returncode == 0, second.stderr[-3000:]
        after = httpx.get(server.url + "/participants/P01", timeout=30).json()
    assert after["types"] == before["types"] and after["answers"] == before["answers"]  # nothing stored twice
    one, two = _table_row(first.stderr), _table_row(second.stderr)
    rows = sum(1 for p in (short_release / "Sensor" / "P01").glob("*.csv") for _ in open(p)) - 27  # minus the headers
    assert _n(one["rows sent"]) == _n(two["rows sent"]) == rows
    # first run: every row new (none too old: the data arrive in time order)
    assert _n(one["stored"]) == rows and _n(one["duplicates"]) == 0 and _n(one["too old"]) == 0
    # second run: nothing stored; what the store still holds comes back as duplicates, the
    # rest is older than the window it keeps
    assert _n(two["stored"]) == 0 and _n(two["duplicates"]) > 0
    assert _n(two["duplicates"]) + _n(two["too old"]) == rows
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    assert len(a) == len(b) == len(_scheduled(short_release)) >= 3
    assert a["probability"].notna().all()
    again = b["probability"].notna()
    assert again.any()  # the prompts still inside the kept window are predicted again, the same
    assert np.allclose(a.loc[again, "probability"], b.loc[again, "probability"], atol=1e-12, rtol=0)
    assert b.loc[~again, "detail"].str.startswith("refused (").all()


def test_a_server_killed_mid_replay_resumes_and_gives_the_same_predictions(trained, short_release, tmp_path):
    reference = tmp_path / "reference.csv"
    with Server(trained["bundle"], tmp_path / "ref.sqlite") as server:
        assert _replay(short_release, server.url, reference).returncode == 0
        ref_summary = httpx.get(server.url + "/participants/P01", timeout=30).json()

    store = tmp_path / "crash.sqlite"
    out = tmp_path / "crash.csv"
    server = Server(trained["bundle"], store).start()
    try:
        # 0.2 days of data at 1,500x real time: about 12 s of replay; the server dies at ~4 s.
        cmd = [CLI, "replay", str(short_release), "--url", server.url, "--out", str(out), "--quiet", "--speed", "1500", "--retries", "12"]
        replay = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(4)
        assert replay.poll() is None, "the replay finished before the crash; slow it down"
        server.kill9()  # kill -9, mid-replay
        time.sleep(1)
        server.start()  # same store, same port
        stdout, stderr = replay.communicate(timeout=300)
        assert replay.returncode == 0, stderr[-3000:]
        summary = httpx.get(server.url + "/participants/P01", timeout=30).json()
    finally:
        server.stop()
    assert "sent again after a network error or server error" in stderr
    assert summary["types"] == ref_summary["types"]  # every acknowledged batch is there, nothing twice
    got, want = pd.read_csv(out), pd.read_csv(reference)
    assert list(got["prompt_time"]) == list(want["prompt_time"])
    assert np.allclose(got["probability"], want["probability"], atol=1e-12, rtol=0)


def test_a_token_server_refuses_a_replay_without_it_in_one_line(trained, short_release, tmp_path):
    with Server(trained["bundle"], tmp_path / "t.sqlite", "--token", "s3cret") as server:
        bad = _replay(short_release, server.url, tmp_path / "x.csv")
        good = _replay(short_release, server.url, tmp_path / "y.csv", "--token", "s3cret")
    assert bad.returncode == 2 and "401" in bad.stderr and "--token" in bad.stderr and "Traceback" not in bad.stderr
    assert good.returncode == 0, good.stderr[-2000:]


def test_a_batch_over_the_body_limit_is_sent_in_halves(trained, short_release, tmp_path):
    # 0.05 MB body limit, one batch for the whole 5 hours (~400 kB of JSON): the client halves it until it fits
    with Server(trained["bundle"], tmp_path / "small.sqlite", "--max-body-mb", "0.05") as server:
        proc = _replay(short_release, server.url, tmp_path / "s.csv", batch="86400")
        assert proc.returncode == 0, proc.stderr[-3000:]
    row = _table_row(proc.stderr)
    rows = sum(1 for p in (short_release / "Sensor" / "P01").glob("*.csv") for _ in open(p)) - 27
    assert _n(row["stored"]) == _n(row["rows sent"]) == rows
    # more requests than the prompts and answers cut the span into: the halving happened
    cuts = 2 * len(_scheduled(short_release)) + 2
    assert _n(row["batches"]) > cuts
