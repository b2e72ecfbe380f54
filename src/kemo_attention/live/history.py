"""What the live store keeps beyond its raw window, so that features stay exact.

The store keeps a participant's raw rows from a cutoff ``C`` on (the longest feature window
plus a margin behind the newest data). A prediction at sample time ``t`` (prompt - 1 ms)
is allowed when ``t - longest window >= C``: every grid point any window reads then lies at
or after ``C``. What the features still need from before ``C`` is kept compactly, in two
parts:

**Carry rows** (raw rows before ``C``, per data type), so the stream builders give the same
stream samples at or after ``C`` as they would from the whole history:

- the rows of the last timestamp before ``C``: a snapshot (InstalledApp, WiFi) or location
  fix is compared with the one before it;
- the last row with a value in the cumulative column (Calorie, StepCount, Distance,
  UltraViolet): the ``*_DST`` / ``CAL`` / ``STP`` / ``ULV_EXP`` samples are differences of
  consecutive values;
- calls whose end (start + duration) is at or after ``C``: ``CAE`` puts an ``IDLE`` sample
  at the end of each call.

**Stream state** (stream samples before ``C``, per stream), so the grids and the "however
old" features see what the whole history would give them:

- the stream's first sample ever: the grid is anchored at it (``t0``);
- numeric streams: every sample of the last grid bin holding a sample before ``C``. The
  first window point after a gap (a night) is interpolated from that bin's mean, and its
  last sample is the latest value (``S#VAL``) when nothing newer exists;
- categorical streams: the last sample before ``C`` (its value holds on the grid until the
  next sample; ``S#VAL=c``, ``S#DSC``) and the last sample of each category (``S#DSC=c``).

At prediction the streams are built from carry + kept rows with the training code
(``build_streams``), their samples before ``C`` are replaced by the state's, and the window
engine runs on the result (``feature_blocks``). The window engine only reads the samples
named above before ``C``, so the features equal those of the whole history (checked in
tests/live against ``kemo-attention extract``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from kemo_attention.features.grid import floor_index
from kemo_attention.features.streams import SPECS_BY_NAME, Stream
from kemo_attention.release.schema import TIMESTAMP

# Data types whose streams difference a cumulative column (the previous value is needed).
CUMULATIVE_COLUMN = {
    "Calorie": "totalCalories",
    "StepCount": "totalSteps",
    "Distance": "totalDistance",
    "UltraViolet": "totalExposure",
}


def carry_rows(type_name: str, frame: pl.DataFrame, cutoff: int) -> pl.DataFrame:
    """The rows before ``cutoff`` that the stream builders still need (see the module doc).

    ``frame``: every known row of the type before the cutoff (the old carry + the rows being
    pruned), time-sorted; the result keeps their order."""
    before = frame.filter(pl.col(TIMESTAMP) < cutoff)
    if before.height == 0:
        return before
    indexed = before.with_row_index("__i")
    last_time = before.get_column(TIMESTAMP).max()
    keep = pl.col(TIMESTAMP) == last_time
    column = CUMULATIVE_COLUMN.get(type_name)
    if column is not None:
        valued = indexed.filter(pl.col(column).is_not_null() & pl.col(column).is_not_nan())
        if valued.height:
            keep = keep | (pl.col("__i") == valued.get_column("__i").max())
    if type_name == "CallEvent":
        duration = pl.col("duration")
        ends = pl.col(TIMESTAMP) + duration.cast(pl.Int64, strict=False)
        keep = keep | ((duration > 0) & (ends >= cutoff)).fill_null(False)
    return indexed.filter(keep).drop("__i")


@dataclass
class StreamState:
    """Samples of one stream before the cutoff that the features still read (time order)."""

    times: list[int] = field(default_factory=list)
    values: list = field(default_factory=list)

    def to_json(self) -> dict:
        return {"times": self.times, "values": self.values}

    @classmethod
    def from_json(cls, data: dict) -> "StreamState":
        return cls([int(t) for t in data["times"]], list(data["values"]))


def _plain(values: np.ndarray, kind: str) -> list:
    if kind == "num":
        return [float(v) for v in values]
    return [None if v is None else str(v) for v in values]


def fold_state(name: str, state: StreamState | None, times: np.ndarray, values: np.ndarray) -> StreamState | None:
    """The state after the samples ``times``/``values`` (all later than the state's, all
    before the new cutoff) have left the raw window."""
    spec = SPECS_BY_NAME[name]
    old_t = np.asarray(state.times if state else [], dtype=np.int64)
    old_v = list(state.values) if state else []
    times = np.asarray(times, dtype=np.int64)
    if spec.kind == "num":
        values = np.asarray(values, dtype=np.float64)
        finite = ~np.isnan(values)  # the window engine ignores NaN samples
        times, values = times[finite], values[finite]
        all_t = np.concatenate([old_t, times])
        all_v = np.concatenate([np.asarray(old_v, dtype=np.float64), values])
        if all_t.size == 0:
            return None
        bins = floor_index(all_t, int(all_t[0]), spec.grid_step_ms)
        keep = np.flatnonzero(bins == bins[-1])
        keep = np.union1d([0], keep)
        return StreamState([int(t) for t in all_t[keep]], _plain(all_v[keep], "num"))
    all_t = np.concatenate([old_t, times])
    all_v = old_v + list(values)
    if all_t.size == 0:
        return None
    keep = {0, all_t.size - 1}
    last_of: dict[str, int] = {}
    for i, v in enumerate(all_v):
        if v is not None and spec.categories is not None and v in spec.categories:
            last_of[v] = i
    keep.update(last_of.values())
    order = sorted(keep)
    return StreamState([int(all_t[i]) for i in order], [all_v[i] for i in order])


def with_state(stream: Stream, state: StreamState | None, cutoff: int) -> Stream:
    """The stream built from carry + kept rows, its samples before ``cutoff`` replaced by the state's."""
    first = int(np.searchsorted(stream.times, cutoff, side="left"))
    times, values = stream.times[first:], stream.values[first:]
    if state is None or not state.times:
        return Stream(stream.spec, np.ascontiguousarray(times), values)
    if stream.spec.kind == "num":
        old_v = np.asarray(state.values, dtype=np.float64)
    else:
        old_v = np.empty(len(state.values), dtype=object)
        old_v[:] = state.values
    return Stream(
        stream.spec,
        np.concatenate([np.asarray(state.times, dtype=np.int64), times]),
        np.concatenate([old_v, values]),
    )
