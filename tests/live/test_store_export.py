"""The data back out: `serve --keep-raw` keeps every raw row, `kemo-attention store-export`
writes them in the release layout. The key proof is the round trip: a demo release replayed
into a real `serve --keep-raw` process, exported, and extracted again gives the features that
extracting the release itself gives."""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pandas as pd
import polars as pl
import pytest
from live_server import CLI, Server, run_cli
from polars.testing import assert_frame_equal

from kemo_attention.errors import KemoError
from kemo_attention.live.export import export_store
from kemo_attention.live.store import HOUR_MS, SqliteStore

T0 = 1_557_273_600_000  # 2019-05-08 00:00 UTC, an hour boundary


def hr(times, bpm) -> pl.DataFrame:
    return pl.DataFrame({"timestamp": np.asarray(times, dtype=np.int64), "bpm": np.asarray(bpm, dtype=np.float64)})


def _write_hours(store: SqliteStore, hours: int, *, archive: bool) -> pl.DataFrame:
    """One HR row every 10 min for ``hours`` hours, then pruned to the last hour."""
    sent = hr(T0 + np.arange(0, hours * HOUR_MS, 600_000), 60.0 + np.arange(hours * 6))
    with store.write("P01") as tx:
        tx.ensure()
        tx.append("HR", sent)
        tx.prune(T0 + (hours - 1) * HOUR_MS, {"HR": sent.filter(pl.col("timestamp") < T0 + (hours - 1) * HOUR_MS).tail(1)},
                 archive=archive)
        tx.set_meta(cutoff_ms=T0 + (hours - 1) * HOUR_MS)
    return sent


def test_archived_rows_are_invisible_to_live_reads_and_all_there_for_export(tmp_path):
    kept_store = SqliteStore(tmp_path / "keep.sqlite")
    kept_store.set_keep_raw(True)
    sent = _write_hours(kept_store, 4, archive=True)
    pruned_store = SqliteStore(tmp_path / "prune.sqlite")
    _write_hours(pruned_store, 4, archive=False)
    for store in (kept_store, pruned_store):  # live reads: the same rows either way
        with store.read("P01") as tx:
            live = tx.rows("HR")
        assert live.height == 6 + 1  # the last hour and one carry row
    with kept_store.read("P01") as tx:
        assert_frame_equal(tx.raw_rows("HR"), sent)  # every row, none twice (the carry row is not raw)
        assert tx.pruned_before() is None
    with pruned_store.read("P01") as tx:
        assert tx.raw_rows("HR").height == 6
        assert tx.pruned_before() == T0 + 3 * HOUR_MS


def test_late_rows_behind_the_cutoff_are_archived_once(tmp_path):
    """keep-raw: a batch arriving after its hours left the live window is part of the record;
    sent twice (a retry), it is stored once."""
    from kemo_attention.live.service import LiveService

    store = SqliteStore(tmp_path / "keep.sqlite")
    store.set_keep_raw(True)
    sent = _write_hours(store, 4, archive=True)
    late = hr([T0 + 5 * 60_000, T0 + 15 * 60_000], [99.0, 98.0])  # inside hour 0, between stored rows
    service = LiveService.__new__(LiveService)  # ingest's bookkeeping only: no bundle needed here

    class _Tables:
        @staticmethod
        def tables(records, given_only):
            return {"HR": late}, []

    service.predictor, service.store, service.window_ms = _Tables, store, HOUR_MS
    for attempt in range(2):
        reply = service.ingest("P01", {"HR": []})
        assert reply["archived"] == {"HR": 2 if attempt == 0 else 0}
        assert "too_old" not in reply
    with store.read("P01") as tx:
        assert_frame_equal(tx.raw_rows("HR"), pl.concat([sent, late]).sort("timestamp", maintain_order=True))
        assert tx.rows("HR").height == 7  # live reads unchanged


def test_export_writes_the_release_layout_and_refuses_other_folders(tmp_path):
    store = SqliteStore(tmp_path / "s.sqlite")
    store.set_keep_raw(True)
    sent = _write_hours(store, 2, archive=True)
    with store.write("P01") as tx:
        tx.set_profile({"age": 23.0, "gender": "F", "PSS": 21.0})
        tx.add_answers([(T0 + 60_000, T0, json.dumps({"responseTime": T0 + 60_000, "scheduledTime": T0, "attention": 2}))])
    out = tmp_path / "export"
    summary = export_store(store, out)
    from kemo_attention.release.layout import find_release
    from kemo_attention.release.read import read_esm, read_participant, read_userinfo

    layout = find_release(out)
    assert list(layout.participants) == ["P01"]
    data = read_participant(layout, "P01")
    assert_frame_equal(data.tables["HR"], sent)
    assert data.tables["Acceleration"].height == 0  # every type's file, header only when nothing came
    esm = read_esm(layout.esm_path)
    assert esm.select("pcode", "responseTime", "scheduledTime", "attention").rows() == [("P01", T0 + 60_000, T0, 2)]
    assert esm.get_column("valence").null_count() == 1
    info = read_userinfo(layout.userinfo_path)
    assert info.select("pcode", "age", "gender", "PSS").rows() == [("P01", 23.0, "F", 21.0)]
    assert summary.rows == {"P01": {"HR": sent.height}} and summary.pruned == {}
    export_store(store, out)  # an earlier export is replaced
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(KemoError, match="not the folder of an earlier store export"):
        export_store(store, tmp_path / "other")
    with pytest.raises(KemoError, match="P02 not in the store"):
        export_store(store, tmp_path / "x", participants=["P02"])


def test_export_of_a_pruned_store_says_where_each_record_starts(tmp_path):
    store = SqliteStore(tmp_path / "s.sqlite")
    _write_hours(store, 3, archive=False)
    summary = export_store(store, tmp_path / "export")
    assert summary.pruned == {"P01": T0 + 2 * HOUR_MS}
    assert any("P01: raw rows before 2019-05-08 02:00:00Z were deleted" in w for w in summary.warnings)


@pytest.mark.slow
def test_replayed_release_exported_extracts_to_the_same_features(release, offline, tmp_path):
    """Round trip through a real server: extract(release) == extract(store-export(replay(release)))."""
    from kemo_attention.dataset import load_dataset

    original, bundle_path = offline  # `extract --mode causal --min-responses 10` of the demo release
    store = tmp_path / "live.sqlite"
    with Server(bundle_path, store, "--keep-raw", "--no-access-log") as live:
        assert "keeps every raw row" in live.read_log()
        proc = subprocess.run([CLI, "replay", str(release), "--url", live.url, "--out", str(tmp_path / "replay.csv"),
                               "--quiet", "--batch-seconds", "900"], capture_output=True, text=True, timeout=900,
                              env={**os.environ, "COLUMNS": "250"})
        assert proc.returncode == 0, proc.stderr
    opened = SqliteStore(store)
    with opened.read("P01") as tx:
        assert tx.meta()["cutoff_ms"] is not None  # the live window moved: without --keep-raw rows were deleted
    opened.close()
    exported = tmp_path / "exported"
    run_cli("store-export", str(store), "--out", str(exported))
    feats = tmp_path / "feat"
    run_cli("extract", str(exported), "--out", str(feats), "--mode", "causal", "--min-responses", "10", "--workers", "1")
    again = load_dataset(feats / "attention.pkl")
    # the same prompts, labels and features, value for value: polars writes each float in its
    # shortest form that reads back to the same double, so nothing is lost on the way
    assert list(again.X.columns) == list(original.X.columns)
    assert again.group.tolist() == original.group.tolist()
    np.testing.assert_array_equal(again.y, original.y)
    np.testing.assert_array_equal(again.date_times, original.date_times)
    pd.testing.assert_frame_equal(again.X.reset_index(drop=True), original.X.reset_index(drop=True), check_exact=True)


def test_cli_names_a_missing_store_and_a_bad_participant_code(tmp_path):
    res = subprocess.run([CLI, "store-export", str(tmp_path / "none.sqlite"), "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert res.returncode != 0 and "none.sqlite: no such file" in res.stderr
    SqliteStore(tmp_path / "s.sqlite").close()
    res = subprocess.run([CLI, "store-export", str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "o"), "--participants", "X1"],
                         capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert res.returncode != 0 and "'X1' is not a participant code" in res.stderr
    assert not (tmp_path / "o").exists()
