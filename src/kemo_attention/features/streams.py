"""Streams: the time-ordered series that features are computed on (spec/features.md, section 1).

Each raw table of one participant becomes one or more streams named ``PREFIX`` or
``PREFIX_SUB`` (``HRT``, ``ACC_MAG``, ``APP_CAT`` ...). :data:`STREAM_SPECS` is the catalogue
(name, kind, categories, grid step) in column order; :func:`build_streams` turns the
reader's typed polars frames into :class:`Stream` objects, one builder per raw data type
(the builders comparing snapshots, scans and fixes, INS_JAC, WIF_* and LOC_*, are in
:mod:`~kemo_attention.features.derived`).

Conventions shared by every builder:

- times are int64 epoch ms, stable-sorted (the reader's frames already are; builders that
  move samples in time, CAE, re-sort stably);
- numeric values are rounded to float32 once each stream is computed, as the reference's
  last step does, then held as float64; derived values (ACC_MAG, differences, distances,
  similarities) are computed in float64 from the raw values as parsed, and only the result
  is rounded (rounding the inputs first moves LOC_DST by 0.1-0.3 %);
- a numeric sample whose value is null/NaN is dropped; a categorical sample whose value is
  null is dropped, except APP_* where ``None`` is meaningful (an app moved to the background).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import polars as pl

from kemo_attention.errors import DataError
from kemo_attention.features.arrays import f32 as _f32
from kemo_attention.features.arrays import floats as _floats
from kemo_attention.features.arrays import strings as _strings
from kemo_attention.features.arrays import times as _times
from kemo_attention.features.derived import installed_apps, location, wifi
from kemo_attention.release.schema import DATA_TYPES, TIMESTAMP

@dataclass(frozen=True)
class StreamSpec:
    """One stream: its name, kind, bounded category list (spec order) and grid step."""

    name: str
    kind: str  # "num" | "cat"
    categories: tuple[str, ...] | None
    grid_step_ms: int


@dataclass
class Stream:
    """The samples of one stream of one participant."""

    spec: StreamSpec
    times: np.ndarray  # int64 ms, stable-sorted
    values: np.ndarray  # num: float64 (float32-rounded); cat: object array of str or None

    def __len__(self) -> int:
        return int(self.times.shape[0])


# --------------------------------------------------------------------------- catalogue
_CATEGORIES: dict[str, tuple[str, ...] | None] = {
    "DST_MOT": ("IDLE", "WALKING", "JOGGING", "RUNNING"),
    "ULV_INT": ("NONE", "LOW", "MEDIUM", "HIGH"),
    "ACT": ("WALKING", "STILL", "IN_VEHICLE", "ON_BICYCLE", "RUNNING"),
    "APP_PAC": None,
    "APP_CAT": (
        "PERSONALIZATION", "COMMUNICATION", "PHOTOGRAPHY", "FINANCE", "TOOLS", "PRODUCTIVITY",
        "HEALTH_AND_FITNESS", "MISC", "VIDEO_PLAYERS", "TRAVEL_AND_LOCAL", "MAPS_AND_NAVIGATION",
        "LIFESTYLE", "SYSTEM", "MUSIC_AND_AUDIO", "HOUSE_AND_HOME", "SOCIAL", "GAME", "SHOPPING",
        "WEATHER", "FOOD_AND_DRINK", "EDUCATION", "NEWS_AND_MAGAZINES", "ENTERTAINMENT", "SPORTS",
        "BOOKS_AND_REFERENCE", "BUSINESS", "COMICS", "LIBRARIES_AND_DEMO", "BEAUTY",
        "ART_AND_DESIGN", "AUTO_AND_VEHICLES",
    ),  # fmt: skip
    "BAT_STA": ("CHARGING", "DISCHARGING", "FULL", "NOT_CHARGING"),
    "CAE": ("CALL", "IDLE"),
    "CON": ("DISCONNECTED", "WIFI", "MOBILE"),
    "LOC_CLS": None,
    "SCR": ("ON", "OFF", "UNLOCK"),
    "RNG": ("VIBRATE", "SILENT", "NORMAL"),
    "CHG": ("DISCONNECTED", "CONNECTED"),
    "PWS": ("ACTIVATE", "DEACTIVATE"),
    "ONF": ("ON", "OFF"),
}

# Stream names in column order (the order of the spec's table), with their kinds.
_ORDER: tuple[tuple[str, str], ...] = (
    ("ACC_AXX", "num"), ("ACC_AXY", "num"), ("ACC_AXZ", "num"), ("ACC_MAG", "num"),
    ("AML", "num"), ("CAL", "num"),
    ("DST_DST", "num"), ("DST_MOT", "cat"), ("DST_PAC", "num"), ("DST_SPD", "num"),
    ("EDA", "num"), ("HRT", "num"), ("RRI", "num"), ("SKT", "num"), ("STP", "num"),
    ("ULV_EXP", "num"), ("ULV_INT", "cat"),
    ("ACE_UNK", "num"), ("ACE_FOT", "num"), ("ACE_WLK", "num"), ("ACE_VHC", "num"),
    ("ACE_BCC", "num"), ("ACE_RUN", "num"), ("ACE_TLT", "num"),
    ("ACT", "cat"), ("APP_PAC", "cat"), ("APP_CAT", "cat"),
    ("BAT_LEV", "num"), ("BAT_TMP", "num"), ("BAT_STA", "cat"),
    ("CAE", "cat"), ("CON", "cat"), ("DAT_RCV", "num"), ("DAT_SNT", "num"),
    ("INS_JAC", "num"), ("LOC_DST", "num"), ("LOC_CLS", "cat"),
    ("MED_ALL", "num"), ("MED_IMG", "num"), ("MED_VID", "num"),
    ("MSG_ALL", "num"), ("MSG_SNT", "num"), ("MSG_RCV", "num"),
    ("WIF_COS", "num"), ("WIF_EUC", "num"), ("WIF_MAN", "num"), ("WIF_JAC", "num"),
    ("SCR", "cat"), ("RNG", "cat"), ("CHG", "cat"), ("PWS", "cat"), ("ONF", "cat"),
)  # fmt: skip


def _grid_step(name: str) -> int:
    if name.startswith("ACC_"):
        return 250
    if name == "EDA":
        return 500
    return 1000


STREAM_SPECS: tuple[StreamSpec, ...] = tuple(
    StreamSpec(name, kind, _CATEGORIES[name] if kind == "cat" else None, _grid_step(name)) for name, kind in _ORDER
)
SPECS_BY_NAME: dict[str, StreamSpec] = {s.name: s for s in STREAM_SPECS}
assert len(STREAM_SPECS) == 52
assert sum(s.kind == "num" for s in STREAM_SPECS) == 38

# Raw data type -> the streams it produces (each builder returns exactly these names).
STREAMS_OF_TYPE: dict[str, tuple[str, ...]] = {
    "Acceleration": ("ACC_AXX", "ACC_AXY", "ACC_AXZ", "ACC_MAG"),
    "AmbientLight": ("AML",),
    "Calorie": ("CAL",),
    "Distance": ("DST_DST", "DST_MOT", "DST_PAC", "DST_SPD"),
    "EDA": ("EDA",),
    "HR": ("HRT",),
    "RRI": ("RRI",),
    "SkinTemperature": ("SKT",),
    "StepCount": ("STP",),
    "UltraViolet": ("ULV_EXP", "ULV_INT"),
    "ActivityEvent": ("ACE_UNK", "ACE_FOT", "ACE_WLK", "ACE_VHC", "ACE_BCC", "ACE_RUN", "ACE_TLT"),
    "ActivityTransition": ("ACT",),
    "AppUsageEvent": ("APP_PAC", "APP_CAT"),
    "BatteryEvent": ("BAT_LEV", "BAT_TMP", "BAT_STA"),
    "CallEvent": ("CAE",),
    "Connectivity": ("CON",),
    "DataTraffic": ("DAT_RCV", "DAT_SNT"),
    "InstalledApp": ("INS_JAC",),
    "Location": ("LOC_DST", "LOC_CLS"),
    "MediaEvent": ("MED_ALL", "MED_IMG", "MED_VID"),
    "MessageEvent": ("MSG_ALL", "MSG_SNT", "MSG_RCV"),
    "WiFi": ("WIF_COS", "WIF_EUC", "WIF_MAN", "WIF_JAC"),
    "ScreenEvent": ("SCR",),
    "RingerModeEvent": ("RNG",),
    "ChargeEvent": ("CHG",),
    "PowerSaveEvent": ("PWS",),
    "OnOffEvent": ("ONF",),
}
assert sorted(n for v in STREAMS_OF_TYPE.values() for n in v) == sorted(SPECS_BY_NAME)
assert set(STREAMS_OF_TYPE) == set(DATA_TYPES)

_Series = tuple[np.ndarray, np.ndarray]  # (times int64, values)


# --------------------------------------------------------------------------- helpers
def _drop_nan(t: np.ndarray, v: np.ndarray) -> _Series:
    """Drop samples whose value is NaN (null); no copy when there is none."""
    bad = np.isnan(v)
    if bad.any():
        keep = ~bad
        return t[keep], v[keep]
    return t, v


def _num(df: pl.DataFrame, column: str) -> _Series:
    """A numeric column as a stream: null/NaN samples dropped, values float32-rounded."""
    return _drop_nan(_times(df), _f32(_floats(df, column)))


def _diff(df: pl.DataFrame, column: str) -> _Series:
    """Difference of consecutive values of a cumulative column; the first row is dropped.

    The differences are taken between the raw (float64) totals and rounded afterwards:
    totals above 2**24 (totalDistance) lose whole units in float32.
    """
    t, v = _drop_nan(_times(df), _floats(df, column))
    if t.shape[0] < 2:
        return t[:0], v[:0]
    return t[1:], _f32(np.diff(v))


def _cat(df: pl.DataFrame, column: str) -> _Series:
    """A string column as a categorical stream; null values dropped."""
    t, v = _times(df), _strings(df, column)
    keep = df.get_column(column).is_not_null().to_numpy()
    return t[keep], v[keep]


def _events(t: np.ndarray, mask: np.ndarray | None = None) -> _Series:
    """1.0 at each event (MED_*, MSG_*)."""
    if mask is not None:
        t = t[mask]
    return t, np.ones(t.shape[0], dtype=np.float64)


# --------------------------------------------------------------------------- builders
def _acceleration(df: pl.DataFrame) -> dict[str, _Series]:
    t = _times(df)
    x, y, z = (_floats(df, c) for c in ("x", "y", "z"))
    # The magnitude from the raw axes; each stream rounded once computed. In place: ACC is
    # the largest table (~1.6 M rows a participant), temporaries cost.
    mag = np.multiply(x, x)
    mag += y * y
    mag += z * z
    np.sqrt(mag, out=mag)  # NaN when any axis is missing
    return {
        "ACC_AXX": _drop_nan(t, _f32(x)),
        "ACC_AXY": _drop_nan(t, _f32(y)),
        "ACC_AXZ": _drop_nan(t, _f32(z)),
        "ACC_MAG": _drop_nan(t, _f32(mag)),
    }


def _single(name: str, column: str, how: Callable[[pl.DataFrame, str], _Series]):
    return lambda df: {name: how(df, column)}


def _distance(df: pl.DataFrame) -> dict[str, _Series]:
    return {
        "DST_DST": _diff(df, "totalDistance"),
        "DST_MOT": _cat(df, "motionType"),
        "DST_PAC": _num(df, "pace"),
        "DST_SPD": _num(df, "speed"),
    }


def _ultraviolet(df: pl.DataFrame) -> dict[str, _Series]:
    return {"ULV_EXP": _diff(df, "totalExposure"), "ULV_INT": _cat(df, "intensity")}


_ACE = (
    ("ACE_UNK", "confidenceUnknown"), ("ACE_FOT", "confidenceOnFoot"), ("ACE_WLK", "confidenceWalking"),
    ("ACE_VHC", "confidenceInVehicle"), ("ACE_BCC", "confidenceOnBicycle"), ("ACE_RUN", "confidenceRunning"),
    ("ACE_TLT", "confidenceTilting"),
)  # fmt: skip


def _activity_event(df: pl.DataFrame) -> dict[str, _Series]:
    # confidenceStill is not used (as in the reference).
    return {name: _num(df, col) for name, col in _ACE}


_ACT_TYPES = ("WALKING", "STILL", "IN_VEHICLE", "ON_BICYCLE", "RUNNING")


def _activity_transition(df: pl.DataFrame) -> dict[str, _Series]:
    kept = df.filter(pl.col("transitionType").is_in([f"ENTER_{k}" for k in _ACT_TYPES]))
    values = kept.get_column("transitionType").str.strip_prefix("ENTER_")
    return {"ACT": (_times(kept), np.asarray(values.to_list(), dtype=object))}


def _app_usage(df: pl.DataFrame) -> dict[str, _Series]:
    kind = df.get_column("type").to_numpy()
    fg = kind == "MOVE_TO_FOREGROUND"
    keep = fg | (kind == "MOVE_TO_BACKGROUND")
    t = _times(df)[keep]
    fg = fg[keep]
    out = {}
    for name, col in (("APP_PAC", "packageName"), ("APP_CAT", "category")):
        v = _strings(df, col)[keep]
        v[~fg] = None  # background: a sample with a missing value
        out[name] = (t, v)
    return out


def _battery(df: pl.DataFrame) -> dict[str, _Series]:
    return {"BAT_LEV": _num(df, "level"), "BAT_TMP": _num(df, "temperature"), "BAT_STA": _cat(df, "status")}


def _call(df: pl.DataFrame) -> dict[str, _Series]:
    t = _times(df)
    d = _floats(df, "duration")
    keep = d > 0  # NaN compares False: calls without a duration are dropped
    start = t[keep]
    end = start + d[keep].astype(np.int64)
    # All CALL rows, then all IDLE rows, then a stable sort: at equal times a CALL precedes
    # an IDLE, so the IDLE is the latest value.
    times = np.concatenate([start, end])
    values = np.array(["CALL"] * start.shape[0] + ["IDLE"] * end.shape[0], dtype=object)
    order = np.argsort(times, kind="stable")
    return {"CAE": (times[order], values[order])}


def _connectivity(df: pl.DataFrame) -> dict[str, _Series]:
    state = df.select(
        pl.col(TIMESTAMP),
        pl.when(pl.col("isConnected").fill_null(False)).then(pl.col("type")).otherwise(pl.lit("DISCONNECTED")).alias("v"),
    ).filter(pl.col("v").is_not_null())  # connected with no type: no value to record
    return {"CON": (_times(state), _strings(state, "v"))}


def _data_traffic(df: pl.DataFrame) -> dict[str, _Series]:
    return {"DAT_RCV": _num(df, "rxKiloBytes"), "DAT_SNT": _num(df, "txKiloBytes")}


def _media(df: pl.DataFrame) -> dict[str, _Series]:
    t = _times(df)
    mime = df.get_column("mimetype").str.to_lowercase()
    img = mime.str.starts_with("image/").fill_null(False).to_numpy()
    vid = mime.str.starts_with("video/").fill_null(False).to_numpy()
    return {"MED_ALL": _events(t), "MED_IMG": _events(t, img), "MED_VID": _events(t, vid)}


def _message(df: pl.DataFrame) -> dict[str, _Series]:
    t = _times(df)
    box = df.get_column("messageBox")
    sent = (box == "SENT").fill_null(False).to_numpy()
    inbox = (box == "INBOX").fill_null(False).to_numpy()
    return {"MSG_ALL": _events(t), "MSG_SNT": _events(t, sent), "MSG_RCV": _events(t, inbox)}


_BUILDERS: dict[str, Callable[[pl.DataFrame], dict[str, _Series]]] = {
    "Acceleration": _acceleration,
    "AmbientLight": _single("AML", "brightness", _num),
    "Calorie": _single("CAL", "totalCalories", _diff),
    "Distance": _distance,
    "EDA": _single("EDA", "resistance", _num),
    "HR": _single("HRT", "bpm", _num),
    "RRI": _single("RRI", "interval", _num),
    "SkinTemperature": _single("SKT", "temperature", _num),
    "StepCount": _single("STP", "totalSteps", _diff),
    "UltraViolet": _ultraviolet,
    "ActivityEvent": _activity_event,
    "ActivityTransition": _activity_transition,
    "AppUsageEvent": _app_usage,
    "BatteryEvent": _battery,
    "CallEvent": _call,
    "Connectivity": _connectivity,
    "DataTraffic": _data_traffic,
    "InstalledApp": installed_apps,
    "Location": location,
    "MediaEvent": _media,
    "MessageEvent": _message,
    "WiFi": wifi,
    "ScreenEvent": _single("SCR", "type", _cat),
    "RingerModeEvent": _single("RNG", "type", _cat),
    "ChargeEvent": _single("CHG", "type", _cat),
    "PowerSaveEvent": _single("PWS", "type", _cat),
    "OnOffEvent": _single("ONF", "type", _cat),
}


def empty_stream(spec: StreamSpec) -> Stream:
    dtype = np.float64 if spec.kind == "num" else object
    return Stream(spec, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=dtype))


def _check_columns(type_name: str, df: pl.DataFrame) -> None:
    needed = (TIMESTAMP, *DATA_TYPES[type_name].column_names)
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise DataError(
            f"table lacks column(s) {', '.join(missing)}; expected {', '.join(needed)}",
            file=DATA_TYPES[type_name].file_name,
            column=missing[0],
        )


def build_streams(tables: dict[str, pl.DataFrame]) -> dict[str, Stream]:
    """Turn one participant's typed tables into its 52 streams.

    ``tables`` maps a data type name ("HR") to the reader's frame (``timestamp`` then the
    type's canonical columns, stable-sorted by time). A missing or empty table gives empty
    streams. Every name of :data:`STREAM_SPECS` is in the result, in catalogue order.
    """
    built: dict[str, _Series] = {}
    for type_name in _BUILDERS:
        df = tables.get(type_name)
        if df is not None:
            built.update(table_streams(type_name, df))
    return collect_streams(built)


def table_streams(type_name: str, df: pl.DataFrame) -> dict[str, _Series]:
    """The streams of one raw table, as ``(times, values)`` pairs (none for an empty table);
    :func:`collect_streams` turns the pairs of all tables into :class:`Stream` objects.
    Built table by table, a caller can drop each raw table once its streams exist."""
    if df.height == 0:
        return {}
    _check_columns(type_name, df)
    return _BUILDERS[type_name](df)


def collect_streams(built: dict[str, _Series]) -> dict[str, Stream]:
    """All 52 streams in catalogue order from the pairs of :func:`table_streams` (absent ones empty)."""
    streams: dict[str, Stream] = {}
    for spec in STREAM_SPECS:
        if spec.name not in built:
            streams[spec.name] = empty_stream(spec)
            continue
        t, v = built[spec.name]
        t = np.ascontiguousarray(t, dtype=np.int64)
        v = np.ascontiguousarray(v, dtype=np.float64) if spec.kind == "num" else np.asarray(v, dtype=object)
        streams[spec.name] = Stream(spec, t, v)
    return streams
