"""Dirt planted on purpose in every demo release, so readers and checks meet it on day one.

Real K-EmoPhone files are dirty (spec "kemophone-data.md"); a demo that is clean would let
a reader that chokes on dirt pass every test. :func:`planted_dirt` is the single list of
what is planted where; the tests read it, and ``data/README.md`` repeats it for people.

| participant | file | kind | what |
|---|---|---|---|
| last (P24 by default) | CallEvent.csv | missing_file | the file is not written |
| P02 | OnOffEvent.csv | empty_file | header line only |
| P01 | HR.csv | duplicate_timestamps | 25 rows written twice in a row |
| P02 | SkinTemperature.csv | out_of_order | 3 rows each moved 3 rows later (3 backward steps) |
| P01 | InstalledApp.csv | header_row | the header line repeated between two snapshots |
| P03 | HR.csv | out_of_range | 2 bpm values: 0 and 255 (valid 20..250) |

With fewer participants the same dirt lands on the last one that exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from kemo_attention.demo.schedule import demo_pcode
from kemo_attention.release.schema import TIMESTAMP


@dataclass(frozen=True)
class Dirt:
    pcode: str
    file: str  # file name inside Sensor/<pcode>/
    kind: str  # the release reader's Problem kinds
    count: int
    description: str


DUPLICATES, MOVES, OUT_OF_RANGE_BPM = 25, 3, (0, 255)


def planted_dirt(participants: int) -> list[Dirt]:
    """Where the dirt of a demo release with ``participants`` participants is."""

    def p(i: int) -> str:
        return demo_pcode(min(i, participants - 1))

    return [
        Dirt(p(participants - 1), "CallEvent.csv", "missing_file", 1, "file not written (optional in the release)"),
        Dirt(p(1), "OnOffEvent.csv", "empty_file", 1, "header line only"),
        Dirt(p(0), "HR.csv", "duplicate_timestamps", DUPLICATES, f"{DUPLICATES} rows written twice in a row"),
        Dirt(p(1), "SkinTemperature.csv", "out_of_order", MOVES, f"{MOVES} rows each moved 3 rows later"),
        Dirt(p(0), "InstalledApp.csv", "header_row", 1, "the header line repeated between two snapshots"),
        Dirt(p(2), "HR.csv", "out_of_range", len(OUT_OF_RANGE_BPM), "bpm 0 and 255 (valid 20..250)"),
    ]


def _spread(n_rows: int, k: int) -> np.ndarray:
    """``k`` row positions spread over the middle of a table, far apart."""
    return np.linspace(n_rows * 0.2, n_rows * 0.8, k).astype(np.int64)


def apply_dirt(pcode: str, tables: dict[str, pl.DataFrame], dirt: list[Dirt]) -> dict[str, pl.DataFrame]:
    """Return the participant's tables with their planted dirt (a missing file is a missing key)."""
    out = dict(tables)
    for d in (d for d in dirt if d.pcode == pcode):
        name = d.file.removesuffix(".csv")
        df = out.get(name)
        if d.kind == "missing_file":
            out.pop(name, None)
        elif d.kind == "empty_file":
            out[name] = df.head(0)
        elif d.kind == "duplicate_timestamps":
            pos = _spread(df.height, d.count)
            extra = np.zeros(df.height, dtype=np.int64)
            extra[pos] = 1
            out[name] = df[np.repeat(np.arange(df.height), 1 + extra)]
        elif d.kind == "out_of_order":
            order = np.arange(df.height)
            for j in _spread(df.height, d.count):
                # row j goes after rows j+1..j+3: one backward step in time per moved row
                order[j : j + 4] = np.r_[order[j + 1 : j + 4], order[j]]
            out[name] = df[order]
        elif d.kind == "out_of_range":
            pos = _spread(df.height, d.count) + 1
            col = df.columns[1]
            values = df[col].to_numpy().copy()
            values[pos] = np.asarray(OUT_OF_RANGE_BPM[: d.count], dtype=values.dtype)
            out[name] = df.with_columns(pl.Series(col, values))
        elif d.kind == "header_row":
            text = df.select(pl.all().cast(pl.Utf8))
            ts = df[TIMESTAMP].to_numpy()
            boundaries = np.nonzero(np.diff(ts) != 0)[0] + 1
            at = int(boundaries[boundaries.size // 2]) if boundaries.size else df.height // 2
            header = pl.DataFrame({c: [c] for c in text.columns})
            out[name] = pl.concat([text.head(at), header, text.slice(at)])
        else:  # pragma: no cover - the plan above is the only source of kinds
            raise ValueError(f"unknown dirt kind {d.kind!r}")
    return out
