"""A slow, deliberately simple implementation of ``/work/shared/spec/features.md``, for tests.

Written from the spec alone (it imports nothing of ``kemo_attention``), so that the fast engine
can be checked against an independent reading of every definition. ``oracle_raw.py`` adds the
way in from raw files: CSV reading, the 52 streams of the 27 types, labels, whole rows. Everything here works one
prompt at a time and rebuilds what it needs for that prompt; clarity over speed.

Conventions (spec section 2): a prompt at time ``T`` (epoch ms) is featurised at
``t = T - 1 ms``; the functions below take ``t`` unless their name says ``prompt``.

Causal mode follows spec section 4 literally ("a window at t uses only raw samples at or
before t"): the raw samples are truncated to ``time <= t`` and the grid is built from what
is left; numeric grids then end at the last remaining sample, categorical grids run to the
last grid point at or before ``t``.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
from scipy.stats import kurtosis, skew

# --------------------------------------------------------------------------- catalogue (spec 1, 3)

WINDOWS: tuple[tuple[str, int], ...] = (
    ("S30", 30_000),
    ("M01", 60_000),
    ("M05", 300_000),
    ("M10", 600_000),
    ("M30", 1_800_000),
    ("H01", 3_600_000),
    ("H03", 10_800_000),
    ("H06", 21_600_000),
)
NUMERIC_STATS = ("AVG", "STD", "SKW", "KUR", "ASC", "BEP", "MED", "TSC")

_APP_CATEGORIES = (
    "PERSONALIZATION", "COMMUNICATION", "PHOTOGRAPHY", "FINANCE", "TOOLS", "PRODUCTIVITY",
    "HEALTH_AND_FITNESS", "MISC", "VIDEO_PLAYERS", "TRAVEL_AND_LOCAL", "MAPS_AND_NAVIGATION",
    "LIFESTYLE", "SYSTEM", "MUSIC_AND_AUDIO", "HOUSE_AND_HOME", "SOCIAL", "GAME", "SHOPPING",
    "WEATHER", "FOOD_AND_DRINK", "EDUCATION", "NEWS_AND_MAGAZINES", "ENTERTAINMENT", "SPORTS",
    "BOOKS_AND_REFERENCE", "BUSINESS", "COMICS", "LIBRARIES_AND_DEMO", "BEAUTY", "ART_AND_DESIGN",
    "AUTO_AND_VEHICLES",
)  # fmt: skip


@dataclass(frozen=True)
class OracleStream:
    """One row of the spec's stream table: name, kind, category list (None = unbounded), step."""

    name: str
    kind: str  # "num" | "cat"
    categories: tuple[str, ...] | None
    step_ms: int


def _num(name: str) -> OracleStream:
    step = 250 if name.startswith("ACC_") else 500 if name == "EDA" else 1000
    return OracleStream(name, "num", None, step)


def _cat(name: str, categories: tuple[str, ...] | None) -> OracleStream:
    return OracleStream(name, "cat", categories, 1000)


# Section 1, in the table's order.
ORACLE_STREAMS: tuple[OracleStream, ...] = (
    _num("ACC_AXX"), _num("ACC_AXY"), _num("ACC_AXZ"), _num("ACC_MAG"),
    _num("AML"), _num("CAL"), _num("DST_DST"),
    _cat("DST_MOT", ("IDLE", "WALKING", "JOGGING", "RUNNING")),
    _num("DST_PAC"), _num("DST_SPD"), _num("EDA"), _num("HRT"), _num("RRI"), _num("SKT"),
    _num("STP"), _num("ULV_EXP"),
    _cat("ULV_INT", ("NONE", "LOW", "MEDIUM", "HIGH")),
    _num("ACE_UNK"), _num("ACE_FOT"), _num("ACE_WLK"), _num("ACE_VHC"), _num("ACE_BCC"),
    _num("ACE_RUN"), _num("ACE_TLT"),
    _cat("ACT", ("WALKING", "STILL", "IN_VEHICLE", "ON_BICYCLE", "RUNNING")),
    _cat("APP_PAC", None), _cat("APP_CAT", _APP_CATEGORIES),
    _num("BAT_LEV"), _num("BAT_TMP"),
    _cat("BAT_STA", ("CHARGING", "DISCHARGING", "FULL", "NOT_CHARGING")),
    _cat("CAE", ("CALL", "IDLE")),
    _cat("CON", ("DISCONNECTED", "WIFI", "MOBILE")),
    _num("DAT_RCV"), _num("DAT_SNT"), _num("INS_JAC"), _num("LOC_DST"),
    _cat("LOC_CLS", None),
    _num("MED_ALL"), _num("MED_IMG"), _num("MED_VID"),
    _num("MSG_ALL"), _num("MSG_SNT"), _num("MSG_RCV"),
    _num("WIF_COS"), _num("WIF_EUC"), _num("WIF_MAN"), _num("WIF_JAC"),
    _cat("SCR", ("ON", "OFF", "UNLOCK")),
    _cat("RNG", ("VIBRATE", "SILENT", "NORMAL")),
    _cat("CHG", ("DISCONNECTED", "CONNECTED")),
    _cat("PWS", ("ACTIVATE", "DEACTIVATE")),
    _cat("ONF", ("ON", "OFF")),
)  # fmt: skip
ORACLE_BY_NAME = {s.name: s for s in ORACLE_STREAMS}

PIF_NUMERIC = {  # feature name -> UserInfo column (release/schema.py USERINFO_COLUMNS)
    "PIF#AGE": "age",
    "PIF#BFI_OPN": "openness",
    "PIF#BFI_CON": "conscientiousness",
    "PIF#BFI_NEU": "neuroticism",
    "PIF#BFI_EXT": "extraversion",
    "PIF#BFI_AGR": "agreeableness",
    "PIF#PSS": "PSS",
    "PIF#PHQ": "PHQ",
    "PIF#GHQ": "GHQ",
}
PIF_BOOL = ("PIF#GEN=F", "PIF#GEN=M")
DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
# (name, first hour, end hour) of the local hour of t.
HOUR_BANDS = (
    ("DAWN", 6, 9),
    ("MORNING", 9, 12),
    ("AFTERNOON", 12, 15),
    ("LATE_AFTERNOON", 15, 18),
    ("EVENING", 18, 21),
    ("NIGHT", 21, 24),
    ("MIDNIGHT", 0, 6),
)
TIME_OF_PROMPT = (
    [f"ESM#DOW={d}" for d in DAYS] + ["ESM#WKD=Y", "ESM#WKD=N"] + [f"ESM#HRN={b[0]}" for b in HOUR_BANDS]
)
LIK_WINDOWS = (("H06", 6 * 3_600_000), ("H12", 12 * 3_600_000), ("H24", 24 * 3_600_000))
LIK_NAMES = tuple(f"ESM#LIK#{w}" for w, _ in LIK_WINDOWS)


def duration_categories(stream: OracleStream) -> list[str | None]:
    """Categories that get a DUR feature: [None] means the plain ``DUR`` (two-category streams)."""
    if stream.categories is None:
        return []
    if len(stream.categories) == 2:
        return [None]
    return list(stream.categories)


def stream_names(stream: OracleStream) -> dict[str, str]:
    """Every feature name of one stream -> its family (VAL, DSC, NUMWIN, CATWIN)."""
    s = stream.name
    out: dict[str, str] = {}
    if stream.kind == "num":
        out[f"{s}#VAL"] = "VAL"
        for w, _ in WINDOWS:
            for stat in NUMERIC_STATS:
                out[f"{s}#{stat}#{w}"] = "NUMWIN"
        return out
    cats = stream.categories or ()
    for c in cats:
        out[f"{s}#VAL={c}"] = "VAL"
    out[f"{s}#DSC"] = "DSC"
    for c in cats:
        out[f"{s}#DSC={c}"] = "DSC"
    for w, _ in WINDOWS:
        out[f"{s}#ETP#{w}"] = "CATWIN"
        out[f"{s}#ASC#{w}"] = "CATWIN"
        for c in duration_categories(stream):
            out[f"{s}#DUR#{w}" if c is None else f"{s}#DUR={c}#{w}"] = "CATWIN"
    return out


def all_feature_names() -> dict[str, str]:
    """The full column set of spec section 3 -> family (TIME, PIF, VAL, DSC, NUMWIN, CATWIN, LIK)."""
    out: dict[str, str] = {name: "TIME" for name in TIME_OF_PROMPT}
    out.update({name: "PIF" for name in [*PIF_NUMERIC, *PIF_BOOL]})
    for stream in ORACLE_STREAMS:
        out.update(stream_names(stream))
    out.update({name: "LIK" for name in LIK_NAMES})
    return out


_FAMILY: dict[str, str] = {}  # filled below, once the catalogue is complete


def bool_feature_names() -> set[str]:
    """One-hot columns: time of prompt, PIF#GEN=*, and every categorical VAL=c."""
    names = set(TIME_OF_PROMPT) | set(PIF_BOOL)
    for stream in ORACLE_STREAMS:
        for c in stream.categories or ():
            names.add(f"{stream.name}#VAL={c}")
    return names


# --------------------------------------------------------------------------- grids (spec 3, 4)


def numeric_grid(times: np.ndarray, values: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid points ``t0 + k*step`` up to the last sample, bin means, interpolated empty points.

    Returns (grid times, grid values, filled mask); filled = the bin held a sample.
    """
    if len(times) == 0:
        empty = np.zeros(0)
        return empty.astype(np.int64), empty, empty.astype(bool)
    t0 = int(times[0])
    n_points = (int(times[-1]) - t0) // step + 1
    bins: dict[int, list[float]] = {}
    for time, value in zip(times.tolist(), values.tolist()):
        bins.setdefault((time - t0) // step, []).append(value)  # bin k = [g_k, g_k + step)
    grid_values = np.full(n_points, np.nan)
    filled = np.zeros(n_points, dtype=bool)
    for k, b in bins.items():
        grid_values[k] = math.fsum(b) / len(b)
        filled[k] = True
    index = np.arange(n_points)
    # Empty points: straight line between the nearest filled points on either side.
    grid_values[~filled] = np.interp(index[~filled], index[filled], grid_values[filled])
    return t0 + index.astype(np.int64) * step, grid_values, filled


def categorical_grid(times: np.ndarray, values: list, step: int, end: int) -> tuple[np.ndarray, list]:
    """Grid points ``t0 + k*step <= end``; each holds the last sample at or before it; None dropped."""
    if len(times) == 0 or end < times[0]:
        return np.zeros(0, dtype=np.int64), []
    t0 = int(times[0])
    grid_times = t0 + np.arange((end - t0) // step + 1, dtype=np.int64) * step
    # Among equal times the last row (stable sort) is the one a grid point sees: side="right".
    last_at_or_before = np.searchsorted(times, grid_times, side="right") - 1
    seen = [values[i] for i in last_at_or_before.tolist()]
    keep = [k for k, v in enumerate(seen) if v is not None]
    return grid_times[keep], [seen[k] for k in keep]


# --------------------------------------------------------------------------- window statistics


def numeric_stats(v: np.ndarray) -> dict[str, float]:
    """The eight numeric window features of the values ``v`` (NaN/inf already mapped to 0)."""
    n = len(v)
    if n == 0:
        return dict.fromkeys(NUMERIC_STATS, 0.0)
    out = {
        "AVG": float(np.mean(v)),
        "MED": float(np.median(v)),
        "ASC": float(np.sum(np.abs(np.diff(v)))),
    }
    if np.all(v == v[0]):  # edge rule: all-equal window
        out.update(STD=0.0, SKW=0.0, KUR=0.0, TSC=0.0, BEP=0.0)
    else:
        std = float(np.std(v, ddof=1))
        out["STD"] = std
        out["SKW"] = float(skew(v, bias=False))
        out["KUR"] = float(kurtosis(v, bias=False))
        counts, _ = np.histogram(v, bins="doane")
        p = counts[counts > 0] / counts.sum()
        out["BEP"] = float(-np.sum(p * np.log(p)))
        z = (v - np.mean(v)) / std
        out["TSC"] = float(np.sqrt(np.sum(np.diff(z) ** 2)))
    return {k: _finite(x) for k, x in out.items()}


def categorical_stats(v: list, stream: OracleStream) -> dict[str, float]:
    """ETP, ASC and DUR / DUR=c of the values ``v`` (keys: ETP, ASC, DUR, DUR=c)."""
    keys = ["ETP", "ASC"] + ["DUR" if c is None else f"DUR={c}" for c in duration_categories(stream)]
    n = len(v)
    if n == 0:
        return dict.fromkeys(keys, 0.0)
    counts = Counter(v)
    out = {
        "ETP": -sum((c / n) * math.log(c / n) for c in counts.values()),
        "ASC": float(sum(1 for i in range(1, n) if v[i] != v[i - 1])),
    }
    for c in duration_categories(stream):
        if c is None:
            out["DUR"] = counts[stream.categories[0]] / n
        else:
            out[f"DUR={c}"] = counts[c] / n
    return {k: _finite(x) for k, x in out.items()}


def _finite(x: float) -> float:
    return float(x) if math.isfinite(x) else 0.0


# --------------------------------------------------------------------------- agreement (spec 5)
# Where the spec says "exactly" (VAL, DSC, time of prompt, PIF, LIK, ASC / DUR of categorical
# windows) the delivered float32 values must be equal after the cast to float32. Categorical
# ETP: 1e-12, because the spec does not fix the order of the sum. AVG, MED, STD and numeric
# ASC: 1e-5 relative or 1e-6 absolute. SKW, KUR, BEP and TSC: the same, except on windows that
# are ill-conditioned (WindowInfo below), where the reference itself is unstable; there within
# 1.0 (BEP jumps when evenly spaced interpolated values sit on Doane bin edges).

EXACT_FAMILIES = frozenset({"VAL", "DSC", "TIME", "PIF", "LIK"})
SHAPE_STATS = frozenset({"SKW", "KUR", "BEP", "TSC"})


def close(got: float, expected: float, rtol: float, atol: float) -> bool:
    """numpy's isclose rule for two floats (np.isclose itself is slow on scalars)."""
    return abs(got - expected) <= atol + rtol * abs(expected)


def agrees(name: str, got: float, expected: float, info: dict) -> bool:
    """Whether the engine's ``got`` matches the oracle's ``expected`` for feature ``name``;
    ``info``: the oracle's WindowInfo per window of that feature's stream."""
    family = _FAMILY[name]
    parts = name.split("#")
    stat = parts[1].split("=")[0]
    if family in EXACT_FAMILIES:
        return bool(np.float32(got) == np.float32(expected))
    if family == "CATWIN":
        if stat == "ETP":
            return close(got, expected, 1e-12, 1e-12)
        return bool(np.float32(got) == np.float32(expected))
    window = info.get(parts[2])
    if stat in SHAPE_STATS and window is not None and window.ill_conditioned:
        return abs(got - expected) <= 1.0 + 1e-5 * abs(expected)
    return close(got, expected, 1e-5, 1e-6)


# --------------------------------------------------------------------------- one stream, one t


@dataclass
class WindowInfo:
    """How the values of one numeric window came about (to judge conditioning in tests)."""

    n: int
    n_interpolated: int
    straight_line: bool

    @property
    def ill_conditioned(self) -> bool:
        """Spec 5: SKW/KUR/BEP/TSC are not comparable on mostly interpolated or straight windows."""
        return self.straight_line or 2 * self.n_interpolated >= self.n


def _straight(v: np.ndarray) -> bool:
    if len(v) < 3:
        return True
    d = np.diff(v)
    scale = max(float(np.max(np.abs(v))), 1e-300)
    return bool(np.all(np.abs(d - d[0]) <= 1e-9 * scale))


def stream_features(
    stream: OracleStream,
    times: np.ndarray,
    values,
    t: int,
    mode: str,
    present: bool = True,
) -> tuple[dict[str, float], dict[str, WindowInfo]]:
    """All features of one stream at one ``t`` (= prompt - 1 ms), by their written definitions.

    Returns (feature name -> value, window name -> WindowInfo for numeric streams). Booleans
    are returned as 0.0 / 1.0.
    """
    if mode not in ("reference", "causal"):
        raise ValueError(f"mode must be 'reference' or 'causal', got {mode!r}")
    times = np.asarray(times, dtype=np.int64)
    values = list(values)
    assert all(times[i] <= times[i + 1] for i in range(len(times) - 1)), "times must be sorted"
    s = stream.name
    out: dict[str, float] = {}
    info: dict[str, WindowInfo] = {}
    if not present:
        return {name: 0.0 for name in stream_names(stream)}, info

    n_before = int(np.searchsorted(times, t, side="right"))  # samples at or before t
    last = n_before - 1 if n_before > 0 else None

    if stream.kind == "num":
        out[f"{s}#VAL"] = _finite(values[last]) if last is not None else 0.0
        if mode == "reference":
            g_t, g_v, filled = numeric_grid(times, np.asarray(values, dtype=float), stream.step_ms)
        else:
            g_t, g_v, filled = numeric_grid(
                times[:n_before], np.asarray(values[:n_before], dtype=float), stream.step_ms
            )
        for w, length in WINDOWS:
            inside = (g_t >= t - length) & (g_t <= t)
            v = g_v[inside]
            for stat, x in numeric_stats(v).items():
                out[f"{s}#{stat}#{w}"] = x
            info[w] = WindowInfo(len(v), int(np.sum(~filled[inside])), _straight(v))
        return out, info

    cats = stream.categories or ()
    latest = values[last] if last is not None else None
    for c in cats:
        out[f"{s}#VAL={c}"] = 1.0 if latest == c else 0.0
    if last is None:
        # No sample at or before t: the reference says -1 (it has data, later); causal says 0.
        fill = -1.0 if mode == "reference" else 0.0
        out[f"{s}#DSC"] = fill
        for c in cats:
            out[f"{s}#DSC={c}"] = fill
    else:
        out[f"{s}#DSC"] = (t - int(times[last])) / 1000.0
        for c in cats:
            hits = [i for i in range(n_before) if values[i] == c]
            out[f"{s}#DSC={c}"] = (t - int(times[hits[-1]])) / 1000.0 if hits else -1.0
    if mode == "reference":
        end = int(times[-1]) if len(times) else 0
        g_t, g_v = categorical_grid(times, values, stream.step_ms, end)
    else:
        g_t, g_v = categorical_grid(times[:n_before], values[:n_before], stream.step_ms, t)
    for w, length in WINDOWS:
        lo = int(np.searchsorted(g_t, t - length, side="left"))
        hi = int(np.searchsorted(g_t, t, side="right"))
        v = g_v[lo:hi]  # the grid points with t - W <= g <= t
        for key, x in categorical_stats(v, stream).items():
            name, _, c = key.partition("=")
            out[f"{s}#{name}={c}#{w}" if c else f"{s}#{name}#{w}"] = x
    return out, info


# --------------------------------------------------------------------------- whole-row families


def parse_offset(tz_offset: str) -> timezone:
    """'+09:00' -> a fixed-offset timezone."""
    sign = -1 if tz_offset.startswith("-") else 1
    hours, minutes = tz_offset.lstrip("+-").split(":")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))


def time_of_prompt(prompt_ms: int, tz_offset: str = "+09:00") -> dict[str, float]:
    """Local weekday, weekend and hour band of t = prompt - 1 ms."""
    t = prompt_ms - 1
    local = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=t)
    local = local.astimezone(parse_offset(tz_offset))
    day = DAYS[local.weekday()]
    out = {f"ESM#DOW={d}": float(d == day) for d in DAYS}
    weekend = day in ("SAT", "SUN")
    out["ESM#WKD=Y"] = float(weekend)
    out["ESM#WKD=N"] = float(not weekend)
    for name, lo, hi in HOUR_BANDS:
        out[f"ESM#HRN={name}"] = float(lo <= local.hour < hi)
    return out


def participant_features(userinfo: dict | None) -> dict[str, float]:
    """PIF#*: numeric answers (missing -> 0) and the two gender one-hots."""
    out: dict[str, float] = {}
    for name, column in PIF_NUMERIC.items():
        x = None if userinfo is None else userinfo.get(column)
        out[name] = _finite(float(x)) if x is not None else 0.0
    gender = None if userinfo is None else userinfo.get("gender")
    out["PIF#GEN=F"] = float(gender == "F")
    out["PIF#GEN=M"] = float(gender == "M")
    return out


def label_history(prompt_ms: int, past_labels: list[tuple[int, int]] | None) -> dict[str, float]:
    """ESM#LIK#W: share of labels equal to 1 among those with prompt time in [t - W, t]."""
    t = prompt_ms - 1
    out = {}
    for w, length in LIK_WINDOWS:
        ys = [y for pt, y in (past_labels or []) if t - length <= pt <= t]
        out[f"ESM#LIK#{w}"] = sum(1 for y in ys if y == 1) / len(ys) if ys else 0.0
    return out


# --------------------------------------------------------------------------- raw tables -> streams
# Only the few derivations the whole-row tests of typed frames use; anything else is absent.
# ``oracle_raw.py`` derives all 52 streams from a release's CSV files.


def streams_from_tables(tables: dict) -> dict[str, tuple[np.ndarray, list]]:
    """(times, values) per stream for HR, AmbientLight, ScreenEvent, ChargeEvent, Connectivity and
    AppUsageEvent frames (polars); the frames must be sorted by timestamp already."""
    out: dict[str, tuple[np.ndarray, list]] = {}

    def rows(name):
        frame = tables.get(name)
        return [] if frame is None else frame.to_dicts()

    def f32(x):
        return float(np.float32(x))

    for table, stream, column in (("HR", "HRT", "bpm"), ("AmbientLight", "AML", "brightness")):
        r = [row for row in rows(table) if row[column] is not None]
        out[stream] = (np.array([row["timestamp"] for row in r], dtype=np.int64), [f32(row[column]) for row in r])
    for table, stream in (("ScreenEvent", "SCR"), ("ChargeEvent", "CHG")):
        r = rows(table)
        out[stream] = (np.array([row["timestamp"] for row in r], dtype=np.int64), [row["type"] for row in r])
    r = rows("Connectivity")
    out["CON"] = (
        np.array([row["timestamp"] for row in r], dtype=np.int64),
        [row["type"] if row["isConnected"] else "DISCONNECTED" for row in r],
    )
    r = [row for row in rows("AppUsageEvent") if row["type"] in ("MOVE_TO_FOREGROUND", "MOVE_TO_BACKGROUND")]
    app_times = np.array([row["timestamp"] for row in r], dtype=np.int64)
    fg = [row["type"] == "MOVE_TO_FOREGROUND" for row in r]
    out["APP_PAC"] = (app_times, [row["packageName"] if f else None for row, f in zip(r, fg)])
    out["APP_CAT"] = (app_times, [row["category"] if f else None for row, f in zip(r, fg)])
    return out


def feature_row(
    streams: dict[str, tuple[np.ndarray, list]],
    prompt_ms: int,
    *,
    userinfo: dict | None,
    past_labels: list[tuple[int, int]] | None,
    mode: str,
    tz_offset: str = "+09:00",
) -> tuple[dict[str, float], dict[str, dict[str, WindowInfo]]]:
    """Every column of one prompt from ``streams_from_tables`` output (other streams: absent).

    Returns (feature name -> value, stream name -> its numeric WindowInfo per window).
    """
    t = prompt_ms - 1
    row = time_of_prompt(prompt_ms, tz_offset)
    row.update(participant_features(userinfo))
    infos = {}
    for stream in ORACLE_STREAMS:
        times, values = streams.get(stream.name, (np.zeros(0, dtype=np.int64), []))
        feats, infos[stream.name] = stream_features(stream, times, values, t, mode, present=len(times) > 0)
        row.update(feats)
    row.update(label_history(prompt_ms, past_labels))
    return row, infos


# --------------------------------------------------------------------------- random inputs
# Hypothesis strategies shared by the oracle and leakage tests. Values are dyadic (k / 64) so
# that bin sums are exact whatever the summation order, and float32-exact.

BASE_MS = 1_557_241_200_000  # 2019-05-08 00:00:00 +09:00

NUMERIC_TEST_STREAMS = ("HRT", "EDA", "ACC_MAG")  # steps 1000, 500, 250 ms
CATEGORICAL_TEST_STREAMS = ("SCR", "CHG", "APP_CAT", "APP_PAC", "CON")
OUTSIDE_VALUES = ("UNDEFINED", "zz-unknown")  # not in any category list
UNBOUNDED_VALUES = ("com.a", "com.b", "com.c", "geo7abc")


def _strategies():
    from hypothesis import strategies as st  # test-only dependency

    return st


def dyadic_values():
    st = _strategies()
    return st.integers(-4096, 4096).map(lambda k: k / 64)


def category_values(stream: OracleStream):
    st = _strategies()
    pool = list(stream.categories) if stream.categories else list(UNBOUNDED_VALUES)
    return st.sampled_from([*pool, None, *OUTSIDE_VALUES])


def stream_times(step: int, max_bursts: int = 4, max_burst: int = 12):
    """Sorted int64 times: dense bursts (gaps of 0 = duplicated timestamp .. 2 steps)
    separated by gaps from 0 to 3 hours."""
    st = _strategies()

    @st.composite
    def build(draw):
        cursor = BASE_MS + draw(st.integers(0, 86_400_000))
        times = []
        for _ in range(draw(st.integers(0, max_bursts))):
            cursor += draw(st.sampled_from([0, 1, 999, 30_000, 600_000, 3_600_000, 10_800_000]))
            cursor += draw(st.integers(0, step))
            gaps = draw(st.lists(st.one_of(st.just(0), st.integers(1, 2 * step)), min_size=1, max_size=max_burst))
            for gap in gaps:
                cursor += gap
                times.append(cursor)
        return np.array(times, dtype=np.int64)

    return build()


def prompt_times(times: np.ndarray, step: int):
    """1-4 prompt times T near the data, many on the edges: a sample at T (must not count), at
    t = T - 1, at t - W (inclusive); a grid point at t or t - W; before, inside, after the data."""
    st = _strategies()
    edges = [0, 1, 2, -1, step // 2]
    for _, length in WINDOWS:
        edges += [length + 1, length, length + 2]

    @st.composite
    def build(draw):
        out = []
        for _ in range(draw(st.integers(1, 4))):
            if len(times) == 0:
                out.append(BASE_MS + draw(st.integers(0, 86_400_000)))
                continue
            how = draw(st.sampled_from(["sample", "grid", "anywhere"]))
            if how == "sample":
                out.append(int(draw(st.sampled_from(times.tolist()))) + draw(st.sampled_from(edges)))
            elif how == "grid":
                k = draw(st.integers(0, (int(times[-1]) - int(times[0])) // step + 2))
                out.append(int(times[0]) + k * step + draw(st.sampled_from(edges)))
            else:
                out.append(draw(st.integers(int(times[0]) - 3_600_000, int(times[-1]) + 7 * 3_600_000)))
        return out

    return build()


_FAMILY.update(all_feature_names())
