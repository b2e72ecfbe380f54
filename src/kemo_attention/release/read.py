"""Read a release's CSV files into typed polars frames, one participant at a time.

Every sensor file gives a frame with ``timestamp`` (Int64, epoch ms UTC) then the type's
canonical columns (``schema.DATA_TYPES``), whatever the case of the file's header. Dirt is
counted as :class:`Problem` records (see ``clean.py`` for the rules); what makes a file
unusable raises :class:`DataError` naming the file, the data row (counted from 1 after the
header) and the column.

Speed: polars parses the file with the target schema first (~3 M rows/s for the 1.6 M-row
acceleration file); only a file that fails that (header text inside, a stray word in a
number column) is read again as text and cleaned cell by cell.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import polars as pl

from kemo_attention.errors import DataError
from kemo_attention.release.clean import (
    ROW,
    Problem,
    Source,
    _int_from_text,
    check_epoch_ms,
    clean_frame,
    empty_frame,
    polars_dtype,
)
from kemo_attention.release.layout import ReleaseLayout, find_release
from kemo_attention.release.schema import (
    DATA_TYPES,
    EPOCH_MS_MAX,
    EPOCH_MS_MIN,
    ESM_COLUMNS,
    TIMESTAMP,
    USERINFO_COLUMNS,
    Column,
    DataType,
)

__all__ = [
    "Problem",
    "ParticipantData",
    "read_participant",
    "iter_participant_tables",
    "read_table",
    "frame_from_records",
    "empty_frame",
    "read_esm",
    "read_userinfo",
]

# Cells read as null in the subject files: pandas writes NaN as "" or "nan", Excel as "#N/A"
# (the real EsmResponse-1966.csv has 21 "#N/A" durations).
_SUBJECT_NULLS = ("", "nan", "na", "n/a", "#n/a", "#na", "none", "null")


@dataclass
class ParticipantData:
    pcode: str
    tables: dict[str, pl.DataFrame]  # key = DataType.name ("HR")
    problems: list[Problem] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(t.height for t in self.tables.values())


# ----------------------------------------------------------------------------- the header
def _read_header(path: Path) -> list[str] | None:
    """The header cells of a CSV (None for a file with no bytes). BOM tolerated."""
    with open(path, "rb") as f:
        head = f.read(1 << 16)
        while head and b"\n" not in head:
            more = f.read(1 << 16)
            if not more:
                break
            head += more
    if not head.strip():
        return None
    line = head.split(b"\n", 1)[0]
    try:
        text = line.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"the header is not UTF-8 text ({err.reason} at byte {err.start})", file=str(path), row=0) from None
    return next(csv.reader([text.rstrip("\r")]), [])


def _match_columns(header: Sequence[str], wanted: Sequence[str]) -> tuple[dict[str, int], list[str]]:
    """Canonical name -> index of the header cell naming it (case-insensitive, first wins);
    and the header cells matching nothing (or repeating a matched name)."""
    lookup = {name.lower(): name for name in wanted}
    index: dict[str, int] = {}
    unknown: list[str] = []
    for i, cell in enumerate(header):
        name = lookup.get(cell.strip().lower())
        if name is None or name in index:
            unknown.append(cell)
        else:
            index[name] = i
    return index, unknown


# -------------------------------------------------------------------------- sensor files
def read_table(path: Path, data_type: DataType) -> tuple[pl.DataFrame, list[Problem]]:
    """Read one sensor file into a typed frame and its problems (see the module docstring)."""
    path = Path(path)
    name = str(path)
    if not path.exists():
        note = " (common in the release: not every participant has this type)" if data_type.often_missing else ""
        return empty_frame(data_type), [Problem(name, "missing_file", 1, f"file absent{note}; empty table used")]
    if not path.is_file():
        raise DataError("expected a CSV file, found a folder", file=name)
    header = _read_header(path)
    if header is None:
        return empty_frame(data_type), [Problem(name, "empty_file", 1, "file has no bytes (not even a header); empty table used")]
    wanted = (TIMESTAMP, *data_type.column_names)
    index, unknown = _match_columns(header, wanted)
    if TIMESTAMP not in index:
        raise DataError(
            f"no timestamp column: expected a column named 'timestamp' (any case); the header has {header}",
            file=name, column=TIMESTAMP,
        )
    problems: list[Problem] = []
    if unknown:
        problems.append(Problem(name, "unknown_column", len(unknown), f"column(s) {unknown} not in the {data_type.name} schema; ignored"))
    kinds = {TIMESTAMP: "int", **{c.name: c.kind for c in data_type.columns}}
    by_index = {i: canon for canon, i in index.items()}

    def load(typed: bool) -> pl.DataFrame:
        # Name columns by position: duplicated or odd header cells cannot confuse polars.
        schema = {}
        for i in range(len(header)):
            kind = kinds.get(by_index.get(i, ""), "str")
            schema[f"c{i}"] = polars_dtype(kind) if typed and kind in ("int", "float") else pl.String
        return pl.read_csv(
            path, has_header=False, skip_rows=1, schema=schema, columns=sorted(by_index),
            row_index_name=ROW, row_index_offset=1, encoding="utf8",
        )

    try:
        raw = load(typed=True)
    except Exception:  # header text or a stray word inside: read as text, clean cell by cell
        try:
            raw = load(typed=False)
        except Exception as err:
            raise _unreadable(path, err) from None
    if raw.height == 0:
        problems.append(Problem(name, "empty_file", 1, "header only, no data rows; empty table used"))
        return empty_frame(data_type), problems
    raw = raw.rename({f"c{i}": canon for i, canon in by_index.items()})
    missing = [c for c in data_type.column_names if c not in index]
    if missing:
        raw = raw.with_columns([pl.lit(None, pl.String).alias(c) for c in missing])
        problems.append(Problem(name, "missing_column", len(missing), f"column(s) {missing} absent from the header; filled with nulls"))
    header_text = {canon: header[i] for canon, i in index.items()}
    frame, found = clean_frame(raw, data_type, Source(name, keys=header_text), header_text=header_text)
    return frame, problems + found


def _unreadable(path: Path, err: Exception) -> DataError:
    """Turn a polars read failure into a message naming the line, found with the csv module."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as bad:
        line = data.count(b"\n", 0, bad.start) + 1
        return DataError(
            f"not UTF-8 text ({bad.reason} at byte {bad.start}, line {line} of the file counting the header as "
            "line 1); save the file as UTF-8",
            file=str(path), row=line - 1 if line > 1 else None,
        )
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    width = None
    for number, cells in enumerate(reader):
        if width is None:
            width = len(cells)
        elif len(cells) > width:
            return DataError(
                f"data row {number} (line {reader.line_num} of the file) has {len(cells)} fields, the header {width}",
                file=str(path), row=number,
            )
    return DataError(f"unreadable CSV: {str(err).splitlines()[0]}", file=str(path))


def frame_from_records(data_type: DataType, records: list[dict], *, require_columns: bool = False) -> pl.DataFrame:
    """Raw records (dicts, keys in any case) -> the frame a file with those rows would give.

    Unknown keys are ignored; a missing key is a null value, unless ``require_columns``:
    then every record must name every column of its type (a null value is allowed, a
    missing key is not: the API refuses a record that silently lacks a column). Raises
    :class:`DataError` naming the record index (0-based) and key for a record that is not a
    dict, lacks a required column, has a missing, non-integer or implausible timestamp, or a
    value that does not parse as its column's type.
    """
    if isinstance(data_type, str):
        data_type = DATA_TYPES[data_type]
    fast = _typed_records_frame(data_type, records)
    if fast is not None:
        return fast
    where = f"{data_type.name} records"
    wanted = {n.lower(): n for n in (TIMESTAMP, *data_type.column_names)}
    columns: dict[str, list] = {n: [] for n in wanted.values()}
    keys: dict[str, list] = {n: [] for n in columns}  # each record's spelling, for error messages
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise DataError(f"record {i} (0-based index): expected an object of column: value, got {type(record).__name__}", file=where)
        seen = {}
        for key, value in record.items():
            canon = wanted.get(str(key).strip().lower())
            if canon is None:
                continue
            seen[canon] = (str(key), _cell_text(value, i, str(key), where))
        if require_columns and len(seen) < len(columns):
            lacking = [c for c in columns if c not in seen]
            raise DataError(
                f"record {i} (0-based index): no {lacking[0]!r} key; every {data_type.name} record needs "
                f"{', '.join(columns)} (send null for a value that is not known)",
                file=where, column=lacking[0],
            )
        for canon in columns:
            key, text = seen.get(canon, (None, None))
            columns[canon].append(text)
            keys[canon].append(key)
    if not records:
        return empty_frame(data_type)
    raw = pl.DataFrame(columns, schema={n: pl.String for n in columns}).with_row_index(ROW, offset=1)
    frame, _ = clean_frame(raw, data_type, Source(where, records=True, keys=keys), strict=True)
    return frame


# Python types a JSON value of each column kind may already have, for the fast path below
# (bool is its own type, so ``type(v) in ...`` keeps True out of number columns).
_NONE = type(None)
_FAST_TYPES = {"float": {float, int, _NONE}, "int": {int, _NONE}, "str": {str, _NONE}, "bool": {bool, _NONE}}


_LAYOUTS: dict[str, tuple[tuple[str, ...], tuple[pl.DataType, ...], tuple[set, ...]]] = {}


def _typed_layout(data_type: DataType) -> tuple[tuple[str, ...], tuple[pl.DataType, ...], tuple[set, ...]]:
    """Column names, polars dtypes and the Python types each column's JSON values may have."""
    layout = _LAYOUTS.get(data_type.name)
    if layout is None:
        layout = _LAYOUTS[data_type.name] = (
            (TIMESTAMP, *data_type.column_names),
            (pl.Int64, *(polars_dtype(c.kind) for c in data_type.columns)),
            ({int}, *(_FAST_TYPES[c.kind] for c in data_type.columns)),
        )
    return layout


def _typed_records_frame(data_type: DataType, records: list) -> pl.DataFrame | None:
    """The frame of :func:`frame_from_records` built straight from
    the values, for the usual batch: every record an object with exactly the type's
    canonical keys, timestamps integers in the epoch range, every value already of its
    column's JSON type. None when any of that does not hold: the general path then parses
    (and explains what is wrong). Same result: the general path turns each value into text
    and parses it back (``repr`` of a float parses to the same float, an int to the same int
    or correctly rounded float); of its cleaning rules only the stable sort by timestamp
    changes rows that pass these checks (blank, header and unparsable rows cannot occur;
    the problems it counts are not returned)."""
    if not records:
        return None
    names, dtypes, allowed = _typed_layout(data_type)
    try:
        if set(map(len, records)) != {len(names)}:  # an unknown key, or a missing one
            return None
        # one C-level pass: each record's values in column order, then transposed to columns
        columns = list(zip(*map(itemgetter(*names), records)))  # KeyError: spelled otherwise
    except (KeyError, TypeError):  # a record that is not an object
        return None
    if not all(set(map(type, values)) <= kinds for values, kinds in zip(columns, allowed)):
        return None
    times = columns[0]  # Python ints (checked above): min, max and order at C speed, no numpy call overhead
    if not EPOCH_MS_MIN <= min(times) <= max(times) <= EPOCH_MS_MAX:
        return None
    try:  # column by column: pl.DataFrame(dict, schema) costs ~5x more per call on a batch's few hundred rows
        frame = pl.DataFrame([pl.Series(n, values, dtype=dt, strict=True) for n, values, dt in zip(names, columns, dtypes)])
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):  # e.g. an int beyond Int64
        return None
    if list(times) != sorted(times):
        frame = frame.sort(TIMESTAMP, maintain_order=True)
    return frame


def _cell_text(value, index: int, key: str, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return repr(value) if isinstance(value, float) else str(value)
    try:  # numpy scalars
        import numpy as np

        if isinstance(value, np.generic):
            return _cell_text(value.item(), index, key, where)
    except ImportError:  # pragma: no cover
        pass
    raise DataError(f"record {index} (0-based index): expected a number, text or boolean, got {type(value).__name__}",
                    file=where, column=key)


def read_participant(release: ReleaseLayout | str | Path, pcode: str, types: Iterable[str] | None = None) -> ParticipantData:
    """Read one participant's sensor files: every type (or just ``types``), missing files as empty frames."""
    tables: dict[str, pl.DataFrame] = {}
    problems: list[Problem] = []
    for type_name, frame, found in iter_participant_tables(release, pcode, types):
        tables[type_name] = frame
        problems.extend(found)
    return ParticipantData(pcode, tables, problems)


def iter_participant_tables(release: ReleaseLayout | str | Path, pcode: str,
                            types: Iterable[str] | None = None) -> Iterator[tuple[str, pl.DataFrame, list[Problem]]]:
    """One participant's sensor files one at a time: ``(type name, frame, problems)`` in
    ``DATA_TYPES`` order (or the order of ``types``), as :func:`read_participant` reads them.

    A caller that only needs something derived from each table (extraction: its streams)
    holds one raw table at a time instead of all 27. Unknown participants or types raise
    before any file is read.
    """
    layout = release if isinstance(release, ReleaseLayout) else find_release(release)
    if pcode not in layout.participants:
        known = ", ".join(list(layout.participants)[:8]) or "none"
        raise DataError(f"participant {pcode!r} has no folder under Sensor/ (found: {known}{' ...' if len(layout.participants) > 8 else ''})",
                        file=str(layout.root))
    names = list(DATA_TYPES) if types is None else list(types)
    unknown = [n for n in names if n not in DATA_TYPES]
    if unknown:
        raise DataError(f"unknown data type(s) {unknown}; expected names from: {', '.join(DATA_TYPES)}")
    return _read_each(layout, pcode, names)


def _read_each(layout: ReleaseLayout, pcode: str, names: list[str]) -> Iterator[tuple[str, pl.DataFrame, list[Problem]]]:
    files = layout.sensor_files(pcode)
    folder = layout.participants[pcode]
    for type_name in names:
        data_type = DATA_TYPES[type_name]
        path = files.get(data_type.file_name.lower(), folder / data_type.file_name)
        frame, found = read_table(path, data_type)
        yield type_name, frame, found


# ------------------------------------------------------------------------- subject files
def _read_subject(path, columns: tuple[Column, ...], required_values: tuple[str, ...],
                  times: tuple[str, ...] = ()) -> pl.DataFrame:
    """A small subject file, read as text and typed strictly: a bad cell is fatal here,
    because these hold the labels and the person-level features. ``times``: columns that
    must be plausible epoch-millisecond times (``clean.check_epoch_ms``)."""
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise DataError("file not found", file=name)
    header = _read_header(path)
    if header is None:
        raise DataError("file is empty (no header)", file=name)
    index, _ = _match_columns(header, [c.name for c in columns])
    missing = [c.name for c in columns if c.name not in index]
    if missing:
        raise DataError(f"missing column(s) {missing} (names matched in any case); the header has {header}", file=name,
                        column=missing[0])
    try:
        raw = pl.read_csv(path, has_header=False, skip_rows=1, schema={f"c{i}": pl.String for i in range(len(header))},
                          columns=sorted(index.values()), row_index_name=ROW, row_index_offset=1, encoding="utf8")
    except Exception as err:
        raise _unreadable(path, err) from None
    raw = raw.rename({f"c{i}": c for c, i in index.items()})
    source = Source(name, keys={c: header[i] for c, i in index.items()})
    out = []
    for col in columns:
        text = pl.col(col.name).str.strip_chars()
        text = pl.when(text.str.to_lowercase().is_in(_SUBJECT_NULLS)).then(None).otherwise(text)
        raw = raw.with_columns(text.alias(col.name))
        if col.kind == "str":
            value = pl.col(col.name)
        elif col.kind == "int":
            value = _int_from_text(pl.col(col.name))
        else:
            value = pl.col(col.name).cast(pl.Float64, strict=False)
        parsed = raw.select(ROW, pl.col(col.name).alias("text"), value.alias("value"))
        bad = parsed.filter(pl.col("value").is_null() & (pl.col("text").is_not_null() | (col.name in required_values)))
        if bad.height:
            row, got = int(bad[ROW][0]), bad["text"][0]
            expected = {"int": "an integer", "float": "a number", "str": "a value"}[col.kind]
            raise source.error(f"expected {expected}, got {'an empty cell' if got is None else repr(got)}", row, col.name)
        if col.name in times:
            check_epoch_ms(parsed.select(ROW, pl.col("value").alias(col.name)), col.name, source)
        out.append(parsed["value"].alias(col.name))
    return pl.DataFrame(out)


def read_esm(path) -> pl.DataFrame:
    """EsmResponse.csv -> pcode, responseTime, scheduledTime (null for voluntary), the six items, duration.

    Legacy capitalised headers (``Pcode, ResponseTime, ...``) are accepted. File order is kept.
    """
    return _read_subject(path, ESM_COLUMNS, required_values=("pcode", "responseTime"),
                         times=("responseTime", "scheduledTime"))


def read_userinfo(path) -> pl.DataFrame:
    """UserInfo.csv -> one row per participant, canonical column names of ``schema.USERINFO_COLUMNS``."""
    return _read_subject(path, USERINFO_COLUMNS, required_values=("pcode",))
