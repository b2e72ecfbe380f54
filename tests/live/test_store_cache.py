"""The store keeps decoded chunks between reads (by chunk id). A second worker on the same
file writes, merges and prunes meanwhile; every read must still give exactly the rows
SQLite holds, in time order, as a store without the cache gives them."""

from __future__ import annotations

import numpy as np
import pytest
import polars as pl
from polars.testing import assert_frame_equal

from kemo_attention.live.store import HOUR_MS, OPEN_HOUR_CHUNKS, SqliteStore

T0 = 1_557_273_600_000  # 2019-05-08 00:00 UTC, an hour boundary


def hr(times, bpm) -> pl.DataFrame:
    return pl.DataFrame({"timestamp": times, "bpm": bpm}, schema={"timestamp": pl.Int64, "bpm": pl.Float64})


def read_all(store: SqliteStore, end: int | None = None) -> pl.DataFrame | None:
    with store.read("P01") as tx:
        return tx.rows("HR", end=end)


def chunk_count(store: SqliteStore) -> int:
    with store.read("P01") as tx:
        return tx.con.execute("SELECT COUNT(*) FROM chunks WHERE carry = 0").fetchone()[0]


@pytest.mark.parametrize("writer_cache_mb", [0, 256], ids=["writer-without-cache", "writer-with-cache"])
def test_two_workers_one_file_reads_follow_every_write(tmp_path, writer_cache_mb):
    path = tmp_path / "live.sqlite"
    cached = SqliteStore(path)  # worker A: serves predictions, keeps decoded chunks
    writer = SqliteStore(path, cache_mb=writer_cache_mb)  # worker B: takes the records (write-through cache or none)
    plain = SqliteStore(path, cache_mb=0)  # the reference: decodes every blob each time
    rng = np.random.default_rng(0)
    sent = []
    for k in range(18):  # 20-min batches over 6 hours: every closed hour is merged
        times = T0 + k * 1_200_000 + np.sort(rng.integers(0, 1_200_000, 50))
        batch = hr(times, rng.normal(70, 5, 50))
        with writer.write("P01") as tx:
            tx.ensure()
            tx.append("HR", batch)
        sent.append(batch)
        got = read_all(cached)
        assert_frame_equal(got, read_all(plain))
        expected = pl.concat(sent).sort("timestamp", maintain_order=True)
        assert_frame_equal(got, expected)  # independent of the store: what was sent, in time order
        assert got.get_column("timestamp").flags["SORTED_ASC"]
        assert chunk_count(plain) == k // 3 + 1 + k % 3  # one chunk per closed hour, the open hour in pieces
    assert cached.cache is not None and cached.cache._frames  # the cache was used
    # A late batch overlapping stored hours: the read must sort again.
    late = hr(T0 + np.arange(0, 3 * HOUR_MS, 600_000), np.full(18, 50.0))
    with writer.write("P01") as tx:
        tx.append("HR", late)
    assert_frame_equal(read_all(cached), pl.concat([*sent, late]).sort("timestamp", maintain_order=True))
    # Pruning by worker B: worker A's cached chunks of the dropped hours are not served.
    with writer.write("P01") as tx:
        tx.prune(T0 + 2 * HOUR_MS, {})
    after = read_all(cached)
    assert int(after["timestamp"].min()) >= T0 + 2 * HOUR_MS
    assert_frame_equal(after, read_all(plain))
    assert_frame_equal(read_all(cached, end=T0 + 2 * HOUR_MS + 1), read_all(plain, end=T0 + 2 * HOUR_MS + 1))


def test_a_rolled_back_write_leaves_no_trace_in_the_cache(tmp_path):
    """A write that fails gives its chunk ids back to SQLite; the next chunk may take the
    same id with other rows. The cache must hold only what committed reads saw."""
    path = tmp_path / "live.sqlite"
    cached = SqliteStore(path)
    with cached.write("P01") as tx:
        tx.ensure()
        tx.append("HR", hr([T0], [60.0]))
    try:
        with cached.write("P01") as tx:
            tx.append("HR", hr([T0 + 1000], [99.0]))
            assert tx.rows("HR")["bpm"].to_list() == [60.0, 99.0]  # seen inside the failing write
            raise RuntimeError("disk full")
    except RuntimeError:
        pass
    with cached.write("P01") as tx:
        tx.append("HR", hr([T0 + 2000], [61.0]))  # may reuse the rolled-back chunk id
    assert read_all(cached)["bpm"].to_list() == [60.0, 61.0]


def test_the_newest_hour_is_merged_once_it_holds_too_many_chunks(tmp_path):
    """Many tiny batches inside one hour: the hour never holds more than OPEN_HOUR_CHUNKS
    chunks, and reads (cached or not, inside the write too) give every row in order."""
    path = tmp_path / "live.sqlite"
    store, plain = SqliteStore(path), SqliteStore(path, cache_mb=0)
    sent = []
    for k in range(OPEN_HOUR_CHUNKS + 5):
        batch = hr([T0 + 1000 * k, T0 + 1000 * k + 500], [float(k), float(k) + 0.5])
        with store.write("P01") as tx:
            tx.ensure()
            tx.append("HR", batch)
            sent.append(batch)
            assert_frame_equal(tx.rows("HR"), pl.concat(sent))
        assert chunk_count(plain) == (k + 1 if k < OPEN_HOUR_CHUNKS else k + 1 - OPEN_HOUR_CHUNKS)
    assert_frame_equal(read_all(store), pl.concat(sent))
    assert_frame_equal(read_all(plain), pl.concat(sent))


def test_two_writers_take_turns_on_one_participant(tmp_path):
    """Each writer keeps the hour index of its last write; a write by the other one in
    between must make it read the index again (else it would merge too little or count
    chunks that are gone)."""
    path = tmp_path / "live.sqlite"
    writers = [SqliteStore(path), SqliteStore(path)]
    plain = SqliteStore(path, cache_mb=0)
    sent = []
    for k in range(12):  # 30-min batches over 6 hours, writers alternating every two batches
        batch = hr(T0 + k * 1_800_000 + np.arange(0, 1_800_000, 300_000), np.full(6, float(k)))
        with writers[(k // 2) % 2].write("P01") as tx:
            tx.ensure()
            tx.append("HR", batch)
        sent.append(batch)
        assert chunk_count(plain) == k // 2 + 1 + k % 2  # closed hours merged into one, whoever wrote them
        assert_frame_equal(read_all(plain), pl.concat(sent))
        for w in writers:
            assert_frame_equal(read_all(w), pl.concat(sent))
