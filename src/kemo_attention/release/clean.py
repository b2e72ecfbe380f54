"""Typing and the dirt rules, shared by files (``read_table``) and raw records (``frame_from_records``).

Input is a polars frame with a 1-based ``__row`` column, ``timestamp`` and the type's canonical
columns, each either already of its final dtype (the fast path: polars parsed the file with
the target schema) or String (the slow path, and records). One function applies every rule,
so a file and the same data sent as records give the same frame.

Rules (the spec's "real files are dirty"): blank rows and header text repeated as a data row
are dropped; duplicated timestamps are kept; out-of-order rows are stable-sorted by time;
out-of-range values are kept; unparsable non-timestamp values become null. Each is counted
as a :class:`Problem`. A timestamp that is missing, not an integer, or not a plausible
epoch-millisecond time (``schema.EPOCH_MS_MIN`` .. ``EPOCH_MS_MAX``: seconds would read as
January 1970) is fatal.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import polars as pl

from kemo_attention.errors import DataError
from kemo_attention.release.schema import EPOCH_MS_MAX, EPOCH_MS_MIN, TIMESTAMP, Column, DataType, epoch_ms_problem

ROW = "__row"

PROBLEM_KINDS = (
    "missing_file",
    "empty_file",
    "duplicate_timestamps",
    "out_of_order",
    "header_row",
    "out_of_range",
    "unparsable_value",
    "unknown_column",
    "missing_column",  # an expected value column absent from the header: filled with nulls
    "blank_row",  # an empty line inside the file: dropped
)

_DTYPES = {"float": pl.Float64, "int": pl.Int64, "str": pl.String, "bool": pl.Boolean}
_TRUE = ("true", "1", "1.0")
_FALSE = ("false", "0", "0.0")


@dataclass
class Problem:
    """Non-fatal dirt, counted; becomes a record in the check report."""

    file: str
    kind: str
    count: int
    message: str
    row: int | None = None
    column: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def polars_dtype(kind: str) -> pl.DataType:
    return _DTYPES[kind]


_EMPTY: dict[DataType, pl.DataFrame] = {}


def empty_frame(data_type: DataType) -> pl.DataFrame:
    """A zero-row frame with the type's columns and dtypes (built once per type: a request
    asks for the ~20 types it does not carry every time; the copy is cheap)."""
    frame = _EMPTY.get(data_type)
    if frame is None:
        schema = {TIMESTAMP: pl.Int64, **{c.name: _DTYPES[c.kind] for c in data_type.columns}}
        frame = _EMPTY[data_type] = pl.DataFrame(schema=schema)
    return frame.clone()


@dataclass(frozen=True)
class Source:
    """How to name a place in the input: a file (data rows counted from 1) or a list of records."""

    name: str  # file path, or "<Type> records"
    records: bool = False
    # canonical column -> the header cell as the file spelled it; for records, the key as each
    # record spelled it (a list, one entry per record, None where the record lacks it)
    keys: dict[str, str | list] | None = None

    def where(self, row: int) -> str:
        if self.records:
            return f"record {row - 1} (0-based index)"
        return f"data row {row} (rows counted from 1 after the header; line {row + 1} of the file)"

    def key(self, column: str, row: int | None = None) -> str:
        spelled = (self.keys or {}).get(column, column)
        if isinstance(spelled, list):
            first = next((k for k in spelled if k), column)
            return (spelled[row - 1] or column) if row is not None else first
        return spelled

    def error(self, message: str, row: int | None, column: str) -> DataError:
        where = f"{self.where(row)}: " if row is not None else ""
        if self.records:
            return DataError(f"{where}{message}", file=self.name, column=self.key(column, row))
        return DataError(f"{where}{message}", file=self.name, row=row, column=self.key(column))


def _int_from_text(text: pl.Expr) -> pl.Expr:
    """Integers, also written as integral floats ("1557278986000.0", as pandas writes them)."""
    as_float = text.cast(pl.Float64, strict=False)
    integral = pl.when(as_float.is_finite() & (as_float == as_float.round(0)) & (as_float.abs() < 2**63)).then(
        as_float.cast(pl.Int64, strict=False)
    )
    return pl.coalesce(text.cast(pl.Int64, strict=False), integral)


def _parse_expr(name: str, kind: str) -> pl.Expr:
    """String -> target dtype; failures give null (counted by the caller)."""
    text = pl.col(name).str.strip_chars()
    if kind == "float":
        return text.cast(pl.Float64, strict=False)
    if kind == "int":
        return _int_from_text(text)
    if kind == "bool":
        low = text.str.to_lowercase()
        return pl.when(low.is_in(_TRUE)).then(True).when(low.is_in(_FALSE)).then(False).otherwise(None)
    return pl.col(name)


def _first(df: pl.DataFrame, mask: pl.Expr, column: str) -> tuple[int, int, str]:
    """(count, first row, first value) of rows where ``mask`` holds."""
    hits = df.filter(mask).select(pl.col(ROW).alias("__r"), pl.col(column).cast(pl.String).alias("__v"))
    return hits.height, int(hits["__r"][0]), str(hits["__v"][0])


def clean_frame(
    raw: pl.DataFrame,
    data_type: DataType,
    source: Source,
    *,
    header_text: dict[str, str] | None = None,
    strict: bool = False,
) -> tuple[pl.DataFrame, list[Problem]]:
    """Apply the typing and dirt rules; see the module docstring.

    ``header_text``: canonical column -> the header cell as the file wrote it (to recognise
    header rows). ``strict``: unparsable values raise instead of becoming null (records).
    """
    problems: list[Problem] = []
    add = problems.append
    columns: tuple[Column, ...] = (Column(TIMESTAMP, "int"), *data_type.columns)
    names = [c.name for c in columns]
    df = raw

    # Checks are batched into few passes over the frame (one select computes several flags in
    # parallel); the rows behind a flag are looked up only when it is set.
    # 1. blank lines (every cell empty) ---------------------------------------------------
    blank = pl.all_horizontal([pl.col(n).is_null() for n in names])
    ts_null = pl.col(TIMESTAMP).is_null()
    first = df.select(blank=blank.any(), ts_null=ts_null.any()).row(0, named=True) if df.height else {}
    if first.get("blank"):
        count, row, _ = _first(df, blank, ROW)
        df = df.filter(~blank)
        add(Problem(source.name, "blank_row", count, f"{count} blank row(s) dropped; first at {source.where(row)}", row))

    # 2. header text repeated as a data row ------------------------------------------------
    text_cols = [n for n in names if df.schema[n] == pl.String]
    if header_text and text_cols and df.height:
        same = {
            n: (pl.col(n).str.strip_chars().str.to_lowercase() == header_text[n].strip().lower()).fill_null(False)
            for n in text_cols
            if n in header_text  # columns absent from the file have no header text
        }
        # A row is header text when more than half of its cells are, or its timestamp is.
        # With a typed timestamp and at most half the columns text, no row can be: skip the
        # string scan (the usual typed read of a file).
        if same and (TIMESTAMP in same or len(same) * 2 > len(names)):
            is_header = pl.sum_horizontal(list(same.values())) * 2 > len(names)
            if TIMESTAMP in same:
                is_header = is_header | same[TIMESTAMP]
            if df.select(is_header.any()).item():
                count, row, _ = _first(df, is_header, ROW)
                df = df.filter(~is_header)
                first["ts_null"] = df.select(ts_null.any()).item()
                add(Problem(source.name, "header_row", count,
                            f"{count} row(s) repeating the header text dropped; first at {source.where(row)}", row))

    # 3. timestamp: must be an integer (fatal otherwise) ----------------------------------------
    if df.schema[TIMESTAMP] != pl.Int64:
        df = df.with_columns(_int_from_text(pl.col(TIMESTAMP).str.strip_chars()).alias("__ts"))
        bad = pl.col("__ts").is_null()
        if df.select(bad.any()).item():
            _, row, value = _first(df, bad, TIMESTAMP)
            got = "an empty cell" if value in ("None", "") else repr(value)
            raise source.error(f"expected an integer timestamp (epoch milliseconds), got {got}", row, TIMESTAMP)
        df = df.drop(TIMESTAMP).rename({"__ts": TIMESTAMP})
    elif first.get("ts_null") and df.select(ts_null.any()).item():
        _, row, _ = _first(df, ts_null, ROW)
        raise source.error("expected an integer timestamp (epoch milliseconds), got an empty cell", row, TIMESTAMP)
    check_epoch_ms(df, TIMESTAMP, source)

    # 4. value columns: parse, count failures, count out-of-range --------------------------------
    for col in data_type.columns:
        name, target = col.name, _DTYPES[col.kind]
        dtype = df.schema[name]
        if dtype == target and col.kind != "bool":
            continue  # parsed by polars already (fast path), or a str column
        if dtype != pl.String:  # e.g. a column polars typed as all-null
            df = df.with_columns(pl.col(name).cast(target, strict=False))
            continue
        df = df.with_columns(_parse_expr(name, col.kind).alias("__parsed"))
        failed = pl.col("__parsed").is_null() & (pl.col(name).str.strip_chars().str.len_chars() > 0)
        if df.select(failed.any()).item():
            count, row, value = _first(df, failed, name)
            expected = {"float": "a number", "int": "an integer", "bool": "True/False/true/false/1/0"}[col.kind]
            if strict:
                raise source.error(f"expected {expected}, got {value!r}", row, name)
            add(Problem(source.name, "unparsable_value", count,
                        f"{count} value(s) not {expected} set to null; first {value!r} at {source.where(row)}",
                        row, source.key(name)))
        df = df.drop(name).rename({"__parsed": name})
    # 5. out-of-range values, order and duplicates: one pass for the flags ---------------------
    outside = {}
    for col in data_type.columns:
        if col.valid_range is not None:
            lo, hi = col.valid_range
            expr = (pl.col(col.name) < lo) | (pl.col(col.name) > hi)
            if col.kind == "float":  # polars orders NaN above every number; NaN is missing, not out of range
                expr = expr & pl.col(col.name).is_not_nan()
            outside[col.name] = expr
    back = pl.col(TIMESTAMP).diff() < 0
    same = pl.col(TIMESTAMP).diff() == 0
    flags = df.select(
        *[e.any().alias(f"oor_{n}") for n, e in outside.items()],
        back=back.any(), same=same.any(),
    ).row(0, named=True) if df.height else {}
    for col in data_type.columns:
        if flags.get(f"oor_{col.name}"):
            lo, hi = col.valid_range
            count, row, value = _first(df, outside[col.name], col.name)
            add(Problem(source.name, "out_of_range", count,
                        f"{count} value(s) outside {lo:g}..{hi:g} kept; first {value} at {source.where(row)}",
                        row, source.key(col.name)))
    if flags.get("back"):
        count, row, _ = _first(df, back, ROW)
        df = df.sort(TIMESTAMP, maintain_order=True)
        add(Problem(source.name, "out_of_order", count,
                    f"{count} row(s) earlier than the row before them; rows stable-sorted by timestamp; "
                    f"first at {source.where(row)}", row, source.key(TIMESTAMP)))
    if flags.get("back") or flags.get("same"):  # sorted now: equal timestamps are neighbours
        _count_duplicates(df, data_type, source, add)
    return df.select(names), problems


def check_epoch_ms(df: pl.DataFrame, column: str, source: Source) -> None:
    """Raise a :class:`DataError` naming the first row whose ``column`` (Int64, nulls allowed)
    is not a plausible epoch-millisecond time; see ``schema.epoch_ms_problem``."""
    outside = (pl.col(column) < EPOCH_MS_MIN) | (pl.col(column) > EPOCH_MS_MAX)
    if df.height and df.select(outside.any()).item():
        count, row, value = _first(df, outside, column)
        more = f" ({count} such values in all)" if count > 1 else ""
        raise source.error(f"{epoch_ms_problem(int(value))}{more}", row, column)


def _count_duplicates(df: pl.DataFrame, data_type: DataType, source: Source, add: Callable) -> None:
    if data_type.multi_row:
        dup = ~pl.struct(pl.exclude(ROW)).is_first_distinct()
        what = "row(s) repeating an earlier row's timestamp and values"
    else:
        dup = pl.col(TIMESTAMP).diff() == 0
        what = "row(s) with the same timestamp as another row"
    if df.select(dup.any()).item():
        count, row, value = _first(df, dup, TIMESTAMP)
        add(Problem(source.name, "duplicate_timestamps", count,
                    f"{count} {what} kept; first at timestamp {value}, {source.where(row)}", row, source.key(TIMESTAMP)))
