"""Streams: the time-ordered series that features are computed on (spec/features.md, section 1).

Each raw table of one participant becomes one or more streams named ``PREFIX`` or
``PREFIX_SUB`` (``HRT``, ``ACC_MAG``, ``APP_CAT`` ...). :data:`STREAM_SPECS` is the catalogue
(name, kind, categories, grid step) in column order; :func:`build_streams` turns the
reader's typed polars frames into :class:`Stream` objects, one builder per raw data type.

Conventions shared by every builder:

- times are int64 epoch ms, stable-sorted (the reader's frames already are; builders that
  move samples in time, CAE, re-sort stably);
- numeric values are rounded to float32 when read, as the reference does, then held as
  float64; derived values (ACC_MAG, differences, distances, similarities) are computed in
  float64 from the rounded inputs and rounded to float32 again;
- a numeric sample whose value is null/NaN is dropped; a categorical sample whose value is
  null is dropped, except APP_* where ``None`` is meaningful (an app moved to the background).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import polars as pl

from kemo_attention.errors import DataError
from kemo_attention.features import geohash
from kemo_attention.release.schema import DATA_TYPES, TIMESTAMP

EARTH_RADIUS_M = 6_371_008.8
GEOHASH_PRECISION = 7


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
def _f32(values: np.ndarray) -> np.ndarray:
    """Round to float32 (as the reference reads numbers), hold as float64."""
    return np.asarray(values, dtype=np.float64).astype(np.float32).astype(np.float64)


def _times(df: pl.DataFrame) -> np.ndarray:
    return df.get_column(TIMESTAMP).to_numpy().astype(np.int64, copy=False)


def _floats(df: pl.DataFrame, column: str) -> np.ndarray:
    """A float column as float64 with NaN for null (not yet rounded)."""
    return df.get_column(column).cast(pl.Float64).to_numpy().astype(np.float64, copy=False)


def _strings(df: pl.DataFrame, column: str) -> np.ndarray:
    """A string column as an object array with None for null."""
    return np.asarray(df.get_column(column).cast(pl.String).to_list(), dtype=object)


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
    """Difference of consecutive values of a cumulative column; the first row is dropped."""
    t, v = _num(df, column)
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
    x, y, z = (_f32(_floats(df, c)) for c in ("x", "y", "z"))
    # In place: ACC is the largest table (~1.6 M rows a participant), temporaries cost.
    mag = np.multiply(x, x)
    mag += y * y
    mag += z * z
    np.sqrt(mag, out=mag)  # NaN when any axis is missing
    return {
        "ACC_AXX": _drop_nan(t, x),
        "ACC_AXY": _drop_nan(t, y),
        "ACC_AXZ": _drop_nan(t, z),
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


def _installed_app(df: pl.DataFrame) -> dict[str, _Series]:
    """Jaccard similarity of the package sets of each snapshot and the one before."""
    snaps = df.select(pl.col(TIMESTAMP).alias("t"), pl.col("packageName").alias("pkg"))
    # One snapshot = the rows sharing one timestamp (frames are sorted by time).
    snaps = snaps.with_columns(pl.col("t").rank("dense").cast(pl.Int64).alias("k") - 1)
    snap_times = snaps.get_column("t").unique(maintain_order=True).to_numpy().astype(np.int64)
    if snap_times.shape[0] < 2:
        return {"INS_JAC": (snap_times[:0], np.zeros(0))}
    pairs = snaps.filter(pl.col("pkg").is_not_null()).select("k", "pkg").unique()
    size = pairs.group_by("k").len().rename({"len": "n"})
    prev = pairs.with_columns(pl.col("k") + 1)
    inter = pairs.join(prev, on=["k", "pkg"], how="inner").group_by("k").len().rename({"len": "m"})
    n_snap = snap_times.shape[0]
    n = np.zeros(n_snap, dtype=np.float64)
    m = np.zeros(n_snap, dtype=np.float64)
    n[size.get_column("k").to_numpy()] = size.get_column("n").to_numpy()
    m[inter.get_column("k").to_numpy()] = inter.get_column("m").to_numpy()
    union = n[1:] + n[:-1] - m[1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        jac = np.where(union > 0, m[1:] / union, 0.0)
    return {"INS_JAC": (snap_times[1:], _f32(jac))}


def haversine_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in metres (earth radius 6,371,008.8 m)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2) - np.radians(lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _location(df: pl.DataFrame) -> dict[str, _Series]:
    t = _times(df)
    lat, lon = _f32(_floats(df, "latitude")), _f32(_floats(df, "longitude"))
    dist = np.zeros(t.shape[0], dtype=np.float64)
    if t.shape[0] > 1:
        with np.errstate(invalid="ignore"):
            d = haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:])
        dist[1:] = np.where(np.isnan(d), 0.0, d)  # a missing coordinate -> 0
    ok = ~(np.isnan(lat) | np.isnan(lon))
    cls = geohash.encode(lat[ok], lon[ok], GEOHASH_PRECISION)
    return {"LOC_DST": (t, _f32(dist)), "LOC_CLS": (t[ok], cls)}


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


def _wifi(df: pl.DataFrame) -> dict[str, _Series]:
    """Similarities between each scan and the previous one, access points keyed by
    ``bssid-frequency`` (a key seen twice in one scan keeps its last row)."""
    names = ("WIF_COS", "WIF_EUC", "WIF_MAN", "WIF_JAC")
    rows = df.select(
        pl.col(TIMESTAMP).alias("t"),
        pl.concat_str([pl.col("bssid"), pl.col("frequency").cast(pl.String)], separator="-", ignore_nulls=False).alias(
            "key"
        ),
        pl.col("rssi").cast(pl.Float64).cast(pl.Float32).cast(pl.Float64).alias("rssi"),
    ).filter(pl.col("key").is_not_null() & pl.col("rssi").is_not_null() & pl.col("rssi").is_not_nan())
    rows = rows.with_columns((pl.col("t").rank("dense").cast(pl.Int64) - 1).alias("k"))
    scan_times = rows.get_column("t").unique(maintain_order=True).to_numpy().astype(np.int64)
    if scan_times.shape[0] < 2:
        empty = (scan_times[:0], np.zeros(0))
        return {n: empty for n in names}
    rows = rows.unique(subset=["k", "key"], keep="last", maintain_order=True)
    size = rows.group_by("k").len()
    prev = rows.select(pl.col("k") + 1, "key", pl.col("rssi").alias("b"))
    shared = rows.rename({"rssi": "a"}).join(prev, on=["k", "key"], how="inner")
    agg = shared.group_by("k").agg(
        pl.len().alias("m"),
        (pl.col("a") * pl.col("b")).sum().alias("dot"),
        (pl.col("a") ** 2).sum().alias("na"),
        (pl.col("b") ** 2).sum().alias("nb"),
        ((pl.col("a") - pl.col("b")) ** 2).sum().alias("sq"),
        (pl.col("a") - pl.col("b")).abs().sum().alias("ab"),
    )
    n_scan = scan_times.shape[0]

    def dense(frame: pl.DataFrame, col: str) -> np.ndarray:
        out = np.zeros(n_scan, dtype=np.float64)
        out[frame.get_column("k").to_numpy()] = frame.get_column(col).to_numpy()
        return out

    n = dense(size, "len")
    m, dot, na, nb, sq, ab = (dense(agg, c) for c in ("m", "dot", "na", "nb", "sq", "ab"))
    m, dot, na, nb, sq, ab = (a[1:] for a in (m, dot, na, nb, sq, ab))
    has = m > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where(has, dot / (np.sqrt(na) * np.sqrt(nb)), 0.0)
        euc = np.where(has, 1.0 / (1.0 + np.sqrt(sq / m)), 0.0)
        man = np.where(has, 1.0 / (1.0 + ab / m), 0.0)
        jac = m / (n[1:] + n[:-1] - m)
    cos = np.where(np.isfinite(cos), cos, 0.0)  # all-zero RSSI vectors: undefined -> 0
    t = scan_times[1:]
    return {"WIF_COS": (t, _f32(cos)), "WIF_EUC": (t, _f32(euc)), "WIF_MAN": (t, _f32(man)), "WIF_JAC": (t, _f32(jac))}


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
    "InstalledApp": _installed_app,
    "Location": _location,
    "MediaEvent": _media,
    "MessageEvent": _message,
    "WiFi": _wifi,
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
    for type_name, builder in _BUILDERS.items():
        df = tables.get(type_name)
        if df is None or df.height == 0:
            continue
        _check_columns(type_name, df)
        for name, series in builder(df).items():
            built[name] = series
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
