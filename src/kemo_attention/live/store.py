"""The live store: participants' recent raw rows, what features need beyond them, answers,
profile and the predictions served. One interface (:class:`LiveStore`), one implementation on
SQLite (:class:`SqliteStore`, the standard library's ``sqlite3`` in WAL mode, one file).

Layout (SQLite, docs/live.md): raw rows are not one SQLite row per sample. Each accepted
batch of one data type becomes one *chunk*: the typed polars frame as Arrow IPC bytes (LZ4),
filed under the hour it falls in (``bucket``); a batch spanning hours is split. Reading a
participant's 8 hours of full-rate acceleration is then a few dozen blob reads, not 225,000
row fetches. An hour is merged into one chunk once it is closed (a later hour of the type has
rows), or earlier when it holds more than :data:`OPEN_HOUR_CHUNKS` chunks: each row is
rewritten about once, not at every few batches.
Carry rows (rows before the cutoff that the stream builders still need) are one chunk per type
with ``carry = 1``. A store that keeps every raw row (``serve --keep-raw``, the ``keep_raw``
setting) does not delete the rows that fall behind the cutoff: their chunks are *archived*
(``carry = 2``), which live reads never see (predictions read, and cost, exactly what they
would after pruning), and ``store-export`` (live/export.py) reads back. The participant row holds the cutoff, the newest data time, the stream
state (JSON) and the profile.

Writes happen inside :meth:`LiveStore.write` (one ``BEGIN IMMEDIATE`` transaction: one writer
at a time over every process using the file; readers are not blocked in WAL mode), reads inside
:meth:`LiveStore.read` (one consistent snapshot). A server database would implement the same
two transaction objects.
"""

from __future__ import annotations

import io
import json
import sqlite3
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import polars as pl

from kemo_attention.errors import KemoError
from kemo_attention.live.tokens import TokenRecord
from kemo_attention.release.schema import TIMESTAMP

HOUR_MS = 3_600_000
# Chunks the newest hour of a type may hold before they are merged into one (60-s batches
# give ~60 an hour; reads concatenate them from the cache in well under a millisecond).
# Older hours are merged as soon as a newer one exists.
OPEN_HOUR_CHUNKS = 64

# chunks.carry: rows kept for live reads, carry rows, rows archived behind the cutoff (keep_raw)
KEPT, CARRY, ARCHIVED = 0, 1, 2
KEEP_RAW = "keep_raw"  # settings key: "1" when rows behind the cutoff are archived, not deleted
PRUNED = "pruned:"  # settings key PRUNED + pcode: the newest cutoff behind which raw rows were deleted

_SCHEMA = """
CREATE TABLE IF NOT EXISTS participants (
    pcode TEXT PRIMARY KEY,
    latest_ms INTEGER,              -- newest data time stored
    cutoff_ms INTEGER,              -- raw rows are kept from here on (NULL: nothing pruned yet)
    state TEXT NOT NULL DEFAULT '{}', -- stream samples before the cutoff (live/history.py)
    profile TEXT,                   -- UserInfo columns (JSON) or NULL
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pcode TEXT NOT NULL,
    type TEXT NOT NULL,
    carry INTEGER NOT NULL DEFAULT 0, -- 0 kept, 1 carry rows, 2 archived behind the cutoff (keep_raw)
    bucket INTEGER NOT NULL,        -- floor(time / 1 h) of every row of the chunk
    tmin INTEGER NOT NULL,
    tmax INTEGER NOT NULL,
    nrows INTEGER NOT NULL,
    blob BLOB NOT NULL              -- Arrow IPC (LZ4) of the typed frame
);
CREATE INDEX IF NOT EXISTS chunks_by_type ON chunks (pcode, type, bucket);
CREATE TABLE IF NOT EXISTS answers (
    pcode TEXT NOT NULL,
    response_ms INTEGER NOT NULL,
    scheduled_ms INTEGER,
    body TEXT NOT NULL,             -- the EsmResponse columns, canonical JSON
    PRIMARY KEY (pcode, body)
);
CREATE INDEX IF NOT EXISTS answers_by_time ON answers (pcode, response_ms);
CREATE TABLE IF NOT EXISTS answer_scores (  -- serve --personalize: the population probability
    pcode TEXT NOT NULL,                     -- at an answer's prompt time, per model
    body TEXT NOT NULL,             -- the answer's body (answers.body)
    model_sha256 TEXT NOT NULL,
    prompt_ms INTEGER NOT NULL,
    probability REAL,               -- NULL: could not be computed (note says why)
    note TEXT,
    PRIMARY KEY (pcode, body, model_sha256)
);
CREATE TABLE IF NOT EXISTS predictions (
    pcode TEXT NOT NULL,
    at INTEGER NOT NULL,
    probability REAL NOT NULL,
    label INTEGER NOT NULL,
    threshold REAL NOT NULL,
    model_sha256 TEXT NOT NULL,
    served_at REAL NOT NULL,
    detail TEXT NOT NULL,           -- streams seen and warnings (JSON)
    PRIMARY KEY (pcode, at, model_sha256)
);
CREATE TABLE IF NOT EXISTS settings (  -- store-wide switches (keep_raw)
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (  -- participant credentials (live/tokens.py): never the token itself
    id TEXT PRIMARY KEY,            -- public id (`kemo-attention tokens list / revoke`)
    pcode TEXT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,    -- hex SHA-256 of the token
    prefix TEXT NOT NULL,           -- the token's first characters, to recognise it
    created REAL NOT NULL,
    revoked REAL                    -- NULL while valid
);
"""


class StoreError(KemoError):
    """The store file cannot be opened or used."""


def frame_to_blob(frame: pl.DataFrame, compress: bool = True) -> bytes:
    """Arrow IPC *stream* bytes: polars decodes a small stream in ~45 us, the IPC file
    format in ~340 us (it goes through a lazy scan), which dominated predictions. LZ4 for the
    merged hours (most of the store); a batch's own chunk, rewritten at the hour's merge, is
    left uncompressed: half the CPU, and no hand-off to polars' thread pool, whose wait was
    ~4x the work on a busy machine."""
    buf = io.BytesIO()
    frame.write_ipc_stream(buf, compression="lz4" if compress else "uncompressed")
    return buf.getvalue()


def blob_to_frame(blob: bytes) -> pl.DataFrame:
    if blob[:6] == b"ARROW1":  # the IPC file format
        return pl.read_ipc(io.BytesIO(blob))
    return pl.read_ipc_stream(io.BytesIO(blob))


def bucket_of(ms: int) -> int:
    return int(ms) // HOUR_MS


class ChunkCache:
    """Decoded chunks by chunk id, least recently used first out, up to ``max_bytes``.

    Safe because a committed chunk never changes: chunks are inserted and deleted, never
    updated, and ``AUTOINCREMENT`` never hands out an id again, so an id names one content
    for the file's life; a write from another process or worker adds ids or removes them,
    and the reader asks SQLite for the current ids each time. Only committed chunks enter it
    (a write transaction that rolls back gives its ids back): a write keeps the chunks it
    inserts to itself and hands them over after its COMMIT (write-through, so the next
    read and the next merge decode nothing), and drops the ones it deleted.
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._frames: OrderedDict[int, tuple[pl.DataFrame, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, chunk_id: int) -> pl.DataFrame | None:
        with self._lock:
            hit = self._frames.get(chunk_id)
            if hit is None:
                return None
            self._frames.move_to_end(chunk_id)
            return hit[0]

    def put(self, chunk_id: int, frame: pl.DataFrame) -> None:
        size = int(frame.estimated_size())
        if size > self.max_bytes:
            return
        with self._lock:
            if chunk_id in self._frames:
                return
            self._frames[chunk_id] = (frame, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, gone) = self._frames.popitem(last=False)
                self._bytes -= gone

    def drop(self, chunk_ids) -> None:
        """Forget chunks that were deleted (always safe: a miss only costs a decode)."""
        with self._lock:
            for chunk_id in chunk_ids:
                hit = self._frames.pop(chunk_id, None)
                if hit is not None:
                    self._bytes -= hit[1]


class _Tx:
    """Reads shared by both transaction kinds."""

    def __init__(self, con: sqlite3.Connection, pcode: str, cache: ChunkCache | None = None):
        self.con, self.pcode, self.cache = con, pcode, cache

    def meta(self) -> dict[str, Any] | None:
        row = self.con.execute(
            "SELECT latest_ms, cutoff_ms, state, profile FROM participants WHERE pcode = ?", (self.pcode,)
        ).fetchone()
        if row is None:
            return None
        return {
            "latest_ms": row[0],
            "cutoff_ms": row[1],
            "state": json.loads(row[2] or "{}"),
            "profile": json.loads(row[3]) if row[3] else None,
        }

    def rows(self, type_name: str, start: int | None = None, end: int | None = None, *, carry: bool = True) -> pl.DataFrame | None:
        """Stored rows of one type (carry rows first), time-sorted, stable in arrival order;
        ``start``/``end`` (inclusive, ms) narrow it to the chunks of those hours. None: no rows."""
        sql = f"SELECT id FROM chunks WHERE pcode = ? AND type = ? AND carry IN ({KEPT}, {CARRY})"
        args: list[Any] = [self.pcode, type_name]
        if not carry:
            sql += f" AND carry = {KEPT}"
        if start is not None:
            sql += " AND (carry = 1 OR bucket >= ?)"
            args.append(bucket_of(start))
        if end is not None:
            sql += " AND (carry = 1 OR bucket <= ?)"
            args.append(bucket_of(end))
        sql += " ORDER BY carry DESC, bucket, id"
        ids = [i for (i,) in self.con.execute(sql, args)]
        if not ids:
            return None
        frames = self._chunks(ids)
        frame = frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical")
        times = frame.get_column(TIMESTAMP).to_numpy()
        if times.size > 1 and bool((times[1:] < times[:-1]).any()):  # chunks overlap in time
            return frame.sort(TIMESTAMP, maintain_order=True)
        return frame.with_columns(pl.col(TIMESTAMP).set_sorted())  # what the sort would flag

    def _known(self, chunk_id: int) -> pl.DataFrame | None:
        return self.cache.get(chunk_id) if self.cache is not None else None

    def _chunks(self, ids: list[int]) -> list[pl.DataFrame]:
        """The decoded chunks of these ids, in this order (from the cache where it has them)."""
        got = {i: f for i in ids if (f := self._known(i)) is not None}
        missing = [i for i in ids if i not in got]
        for start in range(0, len(missing), 500):  # SQLite's limit on bound parameters
            part = missing[start:start + 500]
            marks = ",".join("?" * len(part))
            for i, blob in self.con.execute(f"SELECT id, blob FROM chunks WHERE id IN ({marks})", part):
                got[i] = blob_to_frame(blob)
                if self.cache is not None:
                    self.cache.put(i, got[i])
        return [got[i] for i in ids]

    def last_time(self, type_name: str) -> int | None:
        """The newest stored timestamp of one type (kept rows), from the chunk index alone."""
        row = self.con.execute("SELECT MAX(tmax) FROM chunks WHERE pcode = ? AND type = ? AND carry = 0",
                               (self.pcode, type_name)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def types(self) -> list[str]:
        """Data types with rows stored (kept or carry)."""
        return [t for (t,) in self.con.execute(
            f"SELECT DISTINCT type FROM chunks WHERE pcode = ? AND carry IN ({KEPT}, {CARRY})", (self.pcode,))]

    def raw_rows(self, type_name: str) -> pl.DataFrame | None:
        """Every raw row of one type the store holds, archived and kept (not the carry rows,
        which repeat archived or pruned rows), sorted by time, stable in arrival order."""
        ids = [i for (i,) in self.con.execute(
            f"SELECT id FROM chunks WHERE pcode = ? AND type = ? AND carry IN ({KEPT}, {ARCHIVED}) ORDER BY bucket, id",
            (self.pcode, type_name))]
        if not ids:
            return None
        frames = self._chunks(ids)
        frame = frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical")
        return frame.sort(TIMESTAMP, maintain_order=True)

    def keeps_raw(self) -> bool:
        """Whether rows behind the cutoff are archived rather than deleted (``serve --keep-raw``)."""
        row = self.con.execute("SELECT value FROM settings WHERE key = ?", (KEEP_RAW,)).fetchone()
        return row is not None and row[0] == "1"

    def answers(self) -> list[dict[str, Any]]:
        return [json.loads(b) for (b,) in self.con.execute(
            "SELECT body FROM answers WHERE pcode = ? ORDER BY response_ms, rowid", (self.pcode,))]

    def scored_answers(self, model_sha256: str) -> list[tuple[dict[str, Any], str, bool, float | None]]:
        """The answers as :meth:`answers` orders them, each with its body, whether a score of
        ``model_sha256`` is stored for it (computed or not), and that score's probability."""
        return [(json.loads(body), body, bool(known), p) for body, known, p in self.con.execute(
            "SELECT a.body, s.model_sha256 IS NOT NULL, s.probability FROM answers a LEFT JOIN answer_scores s "
            "ON s.pcode = a.pcode AND s.body = a.body AND s.model_sha256 = ? "
            "WHERE a.pcode = ? ORDER BY a.response_ms, a.rowid", (model_sha256, self.pcode))]

    def pruned_before(self) -> int | None:
        """The time behind which this participant's raw rows were deleted by retention (None:
        never; a store from before this record was kept counts its cutoff, unless it keeps raw rows)."""
        row = self.con.execute("SELECT value FROM settings WHERE key = ?", (PRUNED + self.pcode,)).fetchone()
        if row is not None:
            return int(row[0])
        meta = self.meta()
        if meta is None or meta["cutoff_ms"] is None or self.keeps_raw():
            return None
        return int(meta["cutoff_ms"])


class ReadTx(_Tx):
    """One consistent snapshot of one participant."""


class WriteTx(_Tx):
    """One participant's writes, committed together (or not at all).

    ``fresh`` holds the frames of the chunks this transaction inserted (by id) and ``gone`` the
    ids it deleted; the store hands both to the shared cache only after the COMMIT."""

    def __init__(self, con: sqlite3.Connection, pcode: str, cache: ChunkCache | None = None,
                 hours: dict[str, dict[int, list[int]]] | None = None):
        """``hours``: the hour index of this participant's types as an earlier write on this
        connection left it (``SqliteStore.write`` hands it over only when no other connection
        has committed since), filled and kept up to date here."""
        super().__init__(con, pcode, cache)
        self.fresh: dict[int, pl.DataFrame] = {}
        self.gone: list[int] = []
        self._hours: dict[str, dict[int, list[int]]] = {} if hours is None else hours  # type -> hour -> [chunks, newest time]

    def _hour_index(self, type_name: str) -> dict[int, list[int]]:
        """Per hour of the type's kept rows: how many chunks, the newest time. One query per
        type and transaction (the write lock keeps it true), kept up to date by inserts."""
        index = self._hours.get(type_name)
        if index is None:
            index = self._hours[type_name] = {
                int(b): [int(n), int(t)] for b, n, t in self.con.execute(
                    "SELECT bucket, COUNT(*), MAX(tmax) FROM chunks WHERE pcode = ? AND type = ? AND carry = 0 GROUP BY bucket",
                    (self.pcode, type_name))
            }
        return index

    def last_time(self, type_name: str) -> int | None:
        index = self._hour_index(type_name)
        return max(t for _, t in index.values()) if index else None

    def _known(self, chunk_id: int) -> pl.DataFrame | None:
        # an id not inserted here is a committed chunk (this transaction holds the write lock)
        hit = self.fresh.get(chunk_id)
        return hit if hit is not None else super()._known(chunk_id)

    def ensure(self) -> dict[str, Any]:
        meta = self.meta()
        if meta is None:
            self.con.execute("INSERT INTO participants (pcode, created) VALUES (?, ?)", (self.pcode, time.time()))
            meta = self.meta()
        return meta

    def set_meta(self, *, latest_ms: int | None = None, cutoff_ms: int | None = None, state: dict | None = None) -> None:
        if latest_ms is not None:
            self.con.execute("UPDATE participants SET latest_ms = ? WHERE pcode = ?", (int(latest_ms), self.pcode))
        if cutoff_ms is not None:
            self.con.execute("UPDATE participants SET cutoff_ms = ? WHERE pcode = ?", (int(cutoff_ms), self.pcode))
        if state is not None:
            self.con.execute("UPDATE participants SET state = ? WHERE pcode = ?", (json.dumps(state), self.pcode))

    def set_profile(self, profile: dict[str, Any]) -> None:
        self.con.execute("UPDATE participants SET profile = ? WHERE pcode = ?", (json.dumps(profile), self.pcode))

    def append(self, type_name: str, frame: pl.DataFrame) -> None:
        """Add rows (time-sorted) as one chunk per hour they touch; then merge each hour of
        the type that is closed (a later hour has rows) and still in pieces, and the newest
        hour once it holds more than :data:`OPEN_HOUR_CHUNKS` chunks."""
        if frame.height == 0:
            return
        times = frame.get_column(TIMESTAMP).to_numpy()
        # time-sorted: each hour is one slice (a 60-s batch is nearly always one slice)
        if int(times.min()) // HOUR_MS == int(times.max()) // HOUR_MS:  # one hour, in whatever order
            edges = []
        else:
            edges = (np.flatnonzero(np.diff(times // HOUR_MS)) + 1).tolist()
        for lo, hi in zip([0, *edges], [*edges, len(times)]):
            bucket = int(times[lo]) // HOUR_MS
            part = frame if hi - lo == frame.height else frame.slice(lo, hi - lo)
            self._insert(type_name, bucket, part, kind=KEPT, compress=False,
                         tmin=int(times[lo:hi].min()), tmax=int(times[lo:hi].max()))
        index = self._hour_index(type_name)
        newest = max(index)
        for bucket in [b for b, (n, _) in index.items() if n > (OPEN_HOUR_CHUNKS if b == newest else 1)]:
            self._merge(type_name, bucket)

    def _insert(self, type_name: str, bucket: int, frame: pl.DataFrame, kind: int,
                tmin: int | None = None, tmax: int | None = None, compress: bool = True) -> None:
        if tmin is None or tmax is None:
            t = frame.get_column(TIMESTAMP)
            tmin, tmax = int(t.min()), int(t.max())
        cur = self.con.execute(
            "INSERT INTO chunks (pcode, type, carry, bucket, tmin, tmax, nrows, blob) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (self.pcode, type_name, int(kind), bucket, tmin, tmax, frame.height, frame_to_blob(frame, compress)),
        )
        self.fresh[int(cur.lastrowid)] = frame
        index = self._hours.get(type_name) if kind == KEPT else None
        if index is not None:
            hour = index.setdefault(bucket, [0, tmax])
            hour[0] += 1
            hour[1] = max(hour[1], tmax)

    def _delete(self, where: str, args: tuple) -> None:
        ids = [i for (i,) in self.con.execute(f"SELECT id FROM chunks WHERE {where}", args)]
        self.con.execute(f"DELETE FROM chunks WHERE {where}", args)
        for i in ids:
            self.fresh.pop(i, None)
        self.gone.extend(ids)
        self._hours.clear()  # read again when next needed (deletes are rare: merges, pruning)

    def _merge(self, type_name: str, bucket: int) -> None:
        where = "pcode = ? AND type = ? AND carry = 0 AND bucket = ?"
        args = (self.pcode, type_name, bucket)
        ids = [i for (i,) in self.con.execute(f"SELECT id FROM chunks WHERE {where} ORDER BY id", args)]
        merged = pl.concat(self._chunks(ids), how="vertical", rechunk=True)
        times = merged.get_column(TIMESTAMP).to_numpy()
        if bool((times[1:] < times[:-1]).any()):  # chunks that overlap in time (late data)
            merged = merged.sort(TIMESTAMP, maintain_order=True)
            times = merged.get_column(TIMESTAMP).to_numpy()
        self._delete(where, args)
        self._insert(type_name, bucket, merged, kind=KEPT, tmin=int(times[0]), tmax=int(times[-1]))

    def prune(self, cutoff_ms: int, carry: dict[str, pl.DataFrame], *, archive: bool = False) -> None:
        """Drop the rows before ``cutoff_ms`` (a whole hour) and replace the carry rows.
        ``archive``: keep those rows as archived chunks instead (live reads skip them)."""
        if archive:
            # a chunk's content is unchanged, so the shared cache's copy stays right
            self.con.execute(f"UPDATE chunks SET carry = {ARCHIVED} WHERE pcode = ? AND carry = {KEPT} AND bucket < ?",
                             (self.pcode, bucket_of(cutoff_ms)))
            self._delete(f"pcode = ? AND carry = {CARRY}", (self.pcode,))
        else:
            self._delete(f"pcode = ? AND (carry = {CARRY} OR (carry = {KEPT} AND bucket < ?))",
                         (self.pcode, bucket_of(cutoff_ms)))
            # remembered, so that store-export can say the raw record starts late
            self.con.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)",
                             (PRUNED + self.pcode, str(int(cutoff_ms))))
        for type_name, frame in carry.items():
            if frame.height:
                self._insert(type_name, -1, frame, kind=CARRY)

    def archive(self, type_name: str, frame: pl.DataFrame) -> int:
        """Store late rows that fall behind the cutoff as archived chunks (keep_raw), leaving out
        rows equal to an archived row (a batch sent again); returns how many were stored."""
        if frame.height == 0:
            return 0
        times = frame.get_column(TIMESTAMP)
        ids = [i for (i,) in self.con.execute(
            f"SELECT id FROM chunks WHERE pcode = ? AND type = ? AND carry = {ARCHIVED} AND bucket BETWEEN ? AND ?",
            (self.pcode, type_name, bucket_of(int(times.min())), bucket_of(int(times.max()))))]
        if ids:
            stored = pl.concat(self._chunks(ids), how="vertical")
            frame = frame.join(stored.unique(), on=frame.columns, how="anti", nulls_equal=True, maintain_order="left")
        frame = frame.sort(TIMESTAMP, maintain_order=True)
        hours = frame.get_column(TIMESTAMP).to_numpy() // HOUR_MS
        for bucket in np.unique(hours).tolist():
            self._insert(type_name, int(bucket), frame.filter(pl.Series(hours == bucket)), kind=ARCHIVED)
        return frame.height

    def add_answers(self, answers: list[tuple[int, int | None, str]]) -> tuple[int, int]:
        """(response_ms, scheduled_ms, canonical JSON body) -> (stored, duplicates)."""
        stored = 0
        for response_ms, scheduled_ms, body in answers:
            cur = self.con.execute(
                "INSERT OR IGNORE INTO answers (pcode, response_ms, scheduled_ms, body) VALUES (?, ?, ?, ?)",
                (self.pcode, response_ms, scheduled_ms, body),
            )
            stored += cur.rowcount
        return stored, len(answers) - stored

    def set_answer_score(self, body: str, model_sha256: str, prompt_ms: int, probability: float | None,
                         note: str | None = None) -> None:
        """The population probability at an answer's prompt time (None: it could not be computed)."""
        self.con.execute(
            "INSERT OR REPLACE INTO answer_scores (pcode, body, model_sha256, prompt_ms, probability, note)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (self.pcode, body, model_sha256, int(prompt_ms), None if probability is None else float(probability), note),
        )

    def add_prediction(self, record: dict[str, Any], detail: dict[str, Any]) -> None:
        self.con.execute(
            "INSERT OR REPLACE INTO predictions (pcode, at, probability, label, threshold, model_sha256, served_at, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (self.pcode, int(record["at"]), float(record["probability"]), int(record["label"]), float(record["threshold"]),
             str(record["model_sha256"]), float(record["served_at"]), json.dumps(detail)),
        )

    def delete(self) -> bool:
        found = self.con.execute("DELETE FROM participants WHERE pcode = ?", (self.pcode,)).rowcount > 0
        self._delete("pcode = ?", (self.pcode,))
        found |= bool(self.gone)
        for table in ("answers", "answer_scores", "predictions"):
            found |= self.con.execute(f"DELETE FROM {table} WHERE pcode = ?", (self.pcode,)).rowcount > 0
        self.con.execute("DELETE FROM settings WHERE key = ?", (PRUNED + self.pcode,))
        return found


class LiveStore:
    """What the live service needs from a store. :class:`SqliteStore` is the one implementation;
    a client-server database would provide the same methods and transaction objects."""

    def write(self, pcode: str):  # -> context manager of WriteTx
        raise NotImplementedError

    def read(self, pcode: str):  # -> context manager of ReadTx
        raise NotImplementedError

    def participants(self) -> list[str]:
        raise NotImplementedError

    def summary(self, pcode: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def predictions(self, pcode: str, start: int | None = None, end: int | None = None) -> list[dict[str, Any]]:
        raise NotImplementedError

    def answers(self, pcode: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    def ping(self) -> str | None:
        """None when the store answers a query; else why not (readiness, ``/health/ready``)."""
        raise NotImplementedError

    def keeps_raw(self) -> bool:
        """Whether raw rows behind the live window are archived, not deleted (``serve --keep-raw``)."""
        raise NotImplementedError

    def set_keep_raw(self, on: bool) -> None:
        """Switch retention off (``on``) or back on for every server using this store."""
        raise NotImplementedError

    def size_bytes(self) -> int:
        """What the store takes on disk (the ``kemo_store_size_bytes`` metric)."""

    # participant credentials (live/tokens.py): the store keeps hashes only
    def add_token(self, record: TokenRecord, digest: str) -> None:
        raise NotImplementedError

    def tokens(self) -> list[TokenRecord]:
        raise NotImplementedError

    def token_by_digest(self, digest: str) -> TokenRecord | None:
        raise NotImplementedError

    def revoke_token(self, token_id: str) -> TokenRecord | None:
        """Mark a token revoked (kept listed); None when no token has that id."""
        raise NotImplementedError

    def has_tokens(self) -> bool:
        """Whether any participant token was ever issued (revoked ones included)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SqliteStore(LiveStore):
    """The store in one SQLite file (WAL mode). Safe for several threads and processes: each
    thread has its own connection; writers queue on SQLite's lock (``busy_timeout``)."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 60_000, cache_mb: float = 256):
        """``cache_mb``: memory for decoded chunks kept between predictions (0: none)."""
        self.path = Path(path)
        self.cache = ChunkCache(int(cache_mb * 1e6)) if cache_mb > 0 else None
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        if self.path.parent and not self.path.parent.exists():
            raise StoreError(f"store {self.path}: the folder {self.path.parent} does not exist")
        con = self._con()
        try:
            con.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"store {self.path}: not a usable SQLite file ({exc})") from None

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            try:
                con = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                      timeout=self.busy_timeout_ms / 1000)
                con.execute("PRAGMA journal_mode=WAL")
                # NORMAL in WAL mode: a COMMIT is written to the WAL file before it returns, so a
                # batch acknowledged with 200 survives the server process being killed (kill -9:
                # the operating system still holds the write); only a power loss or a kernel
                # crash can take back the last commits (the WAL is synced at checkpoints, not at
                # every commit). FULL (an fsync per commit) would also cover that, at ~3 ms a batch.
                con.execute("PRAGMA synchronous=NORMAL")
                con.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"store {self.path}: cannot open ({exc})") from None
            self._local.con = con
            self._local.hours = {}  # this connection's hour index per participant (see write)
            self._local.hours_version = None
            with self._lock:
                self._all.append(con)
        return con

    @contextmanager
    def write(self, pcode: str) -> Iterator[WriteTx]:
        con = self._con()
        con.execute("BEGIN IMMEDIATE")
        # data_version moves when another connection (worker, thread) has committed since this
        # one last looked; this connection's own commits leave it: then the hour index kept
        # from this connection's last write is still what the file holds.
        version = con.execute("PRAGMA data_version").fetchone()[0]
        if self._local.hours_version != version:
            self._local.hours.clear()
            self._local.hours_version = version
        try:
            tx = WriteTx(con, pcode, self.cache, self._local.hours.setdefault(pcode, {}))
            yield tx
            con.execute("COMMIT")
        except BaseException:
            self._local.hours.clear()  # it may hold what was rolled back
            if con.in_transaction:  # the body failed, or COMMIT did (disk full): nothing is kept
                con.execute("ROLLBACK")
            raise
        if self.cache is not None:  # committed: its chunks are now what these ids name
            self.cache.drop(tx.gone)
            for chunk_id, frame in tx.fresh.items():
                self.cache.put(chunk_id, frame)

    @contextmanager
    def read(self, pcode: str) -> Iterator[ReadTx]:
        con = self._con()
        con.execute("BEGIN")
        try:
            yield ReadTx(con, pcode, self.cache)
        finally:
            con.execute("ROLLBACK")

    # ------------------------------------------------------------------ the read API
    def participants(self) -> list[str]:
        rows = self._con().execute("SELECT pcode FROM participants").fetchall()
        return sorted((r[0] for r in rows), key=_pcode_key)

    def summary(self, pcode: str) -> dict[str, Any] | None:
        with self.read(pcode) as tx:
            meta = tx.meta()
            if meta is None:
                return None
            types = {
                t: {"rows": int(n), "first": int(a), "last": int(b)}
                for t, n, a, b in tx.con.execute(
                    "SELECT type, SUM(nrows), MIN(tmin), MAX(tmax) FROM chunks WHERE pcode = ? AND carry = 0 "
                    "GROUP BY type ORDER BY type", (pcode,))
            }
            answers = tx.con.execute("SELECT COUNT(*) FROM answers WHERE pcode = ?", (pcode,)).fetchone()[0]
            predictions = tx.con.execute("SELECT COUNT(*) FROM predictions WHERE pcode = ?", (pcode,)).fetchone()[0]
        return {
            "pcode": pcode,
            "types": types,
            "answers": int(answers),
            "profile": meta["profile"] is not None,
            "predictions": int(predictions),
            "latest": meta["latest_ms"],
            "kept_from": meta["cutoff_ms"],
        }

    def predictions(self, pcode: str, start: int | None = None, end: int | None = None) -> list[dict[str, Any]]:
        sql = "SELECT at, probability, label, threshold, model_sha256, served_at, detail FROM predictions WHERE pcode = ?"
        args: list[Any] = [pcode]
        if start is not None:
            sql += " AND at >= ?"
            args.append(int(start))
        if end is not None:
            sql += " AND at <= ?"
            args.append(int(end))
        out = []
        for at, p, label, thr, sha, served, detail in self._con().execute(sql + " ORDER BY at, served_at", args):
            extra = json.loads(detail)
            row = {"at": at, "probability": p, "label": label, "threshold": thr, "model_sha256": sha,
                   "served_at": served, "streams": extra.get("streams", {}), "warnings": extra.get("warnings", [])}
            if extra.get("personalization") is not None:  # served with --personalize
                row["personalization"] = extra["personalization"]
            out.append(row)
        return out

    def answers(self, pcode: str) -> list[dict[str, Any]]:
        with self.read(pcode) as tx:
            return tx.answers()

    def ping(self) -> str | None:
        # An open connection keeps working on a file that was deleted or moved away, and what
        # it writes then is lost: the path must still be there, and a query must read it.
        if not self.path.exists():
            return f"store {self.path}: the file is gone (deleted or moved while the server runs)"
        try:
            self._con().execute("SELECT count(*) FROM sqlite_master").fetchone()
        except (sqlite3.Error, StoreError) as exc:
            return f"store {self.path}: cannot be read ({exc})"
        return None

    def size_bytes(self) -> int:
        """The database file with its write-ahead log and shared-memory index."""
        total = 0
        for suffix in ("", "-wal", "-shm"):
            try:
                total += Path(f"{self.path}{suffix}").stat().st_size
            except FileNotFoundError:
                pass
        return total

    def keeps_raw(self) -> bool:
        row = self._con().execute("SELECT value FROM settings WHERE key = ?", (KEEP_RAW,)).fetchone()
        return row is not None and row[0] == "1"

    def set_keep_raw(self, on: bool) -> None:
        self._con().execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (KEEP_RAW, "1" if on else "0"))

    # ------------------------------------------------------------------ tokens
    _TOKEN_COLUMNS = "id, pcode, prefix, created, revoked"

    def add_token(self, record: TokenRecord, digest: str) -> None:
        self._con().execute("INSERT INTO tokens (id, pcode, sha256, prefix, created, revoked) VALUES (?, ?, ?, ?, ?, ?)",
                            (record.token_id, record.pcode, digest, record.prefix, record.created, record.revoked))

    def tokens(self) -> list[TokenRecord]:
        rows = self._con().execute(f"SELECT {self._TOKEN_COLUMNS} FROM tokens ORDER BY created, id").fetchall()
        return sorted((TokenRecord(*row) for row in rows), key=lambda r: (_pcode_key(r.pcode), r.created))

    def token_by_digest(self, digest: str) -> TokenRecord | None:
        row = self._con().execute(f"SELECT {self._TOKEN_COLUMNS} FROM tokens WHERE sha256 = ?", (digest,)).fetchone()
        return None if row is None else TokenRecord(*row)

    def revoke_token(self, token_id: str) -> TokenRecord | None:
        con = self._con()
        con.execute("UPDATE tokens SET revoked = ? WHERE id = ? AND revoked IS NULL", (time.time(), token_id))
        row = con.execute(f"SELECT {self._TOKEN_COLUMNS} FROM tokens WHERE id = ?", (token_id,)).fetchone()
        return None if row is None else TokenRecord(*row)

    def has_tokens(self) -> bool:
        return self._con().execute("SELECT EXISTS (SELECT 1 FROM tokens)").fetchone()[0] == 1

    def close(self) -> None:
        with self._lock:
            for con in self._all:
                try:
                    con.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        self._local = threading.local()


def _pcode_key(pcode: str) -> tuple[int, str]:
    digits = pcode[1:]
    return (int(digits) if digits.isdigit() else 1 << 62, pcode)


def open_store(path: str | Path) -> SqliteStore:
    """The store at ``path`` (created when absent)."""
    return SqliteStore(path)
