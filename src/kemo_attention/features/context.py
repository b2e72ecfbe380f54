"""Features that come from no sensor stream: time of prompt (``ESM#...``) and participant
information (``PIF#...``), spec/features.md section 3."""

from __future__ import annotations

from typing import Any

import numpy as np

from kemo_attention.config import DEFAULT_TZ_OFFSET, tz_offset_ms

DAY_MS = 86_400_000
HOUR_MS = 3_600_000

DOW_NAMES = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
# Hour-of-day bands of the local time of t, in the spec's order: (name, first hour, end hour).
HRN_BANDS: tuple[tuple[str, int, int], ...] = (
    ("DAWN", 6, 9),
    ("MORNING", 9, 12),
    ("AFTERNOON", 12, 15),
    ("LATE_AFTERNOON", 15, 18),
    ("EVENING", 18, 21),
    ("NIGHT", 21, 24),
    ("MIDNIGHT", 0, 6),
)
TIME_NAMES: tuple[str, ...] = (
    *(f"ESM#DOW={d}" for d in DOW_NAMES),
    "ESM#WKD=Y",
    "ESM#WKD=N",
    *(f"ESM#HRN={b}" for b, _, _ in HRN_BANDS),
)

# PIF feature -> UserInfo column (canonical names of release/schema.py).
PIF_NUMERIC: tuple[tuple[str, str], ...] = (
    ("PIF#AGE", "age"),
    ("PIF#BFI_OPN", "openness"),
    ("PIF#BFI_CON", "conscientiousness"),
    ("PIF#BFI_NEU", "neuroticism"),
    ("PIF#BFI_EXT", "extraversion"),
    ("PIF#BFI_AGR", "agreeableness"),
    ("PIF#PSS", "PSS"),
    ("PIF#PHQ", "PHQ"),
    ("PIF#GHQ", "GHQ"),
)
PIF_BOOL: tuple[str, ...] = ("PIF#GEN=F", "PIF#GEN=M")
PIF_NAMES: tuple[str, ...] = (*(n for n, _ in PIF_NUMERIC), *PIF_BOOL)


def time_of_prompt(t_ms: np.ndarray, tz_offset: str = DEFAULT_TZ_OFFSET) -> dict[str, np.ndarray]:
    """Day of week, weekend and hour band of the local time of each sample time t."""
    local = np.asarray(t_ms, dtype=np.int64) + tz_offset_ms(tz_offset)
    day = np.floor_divide(local, DAY_MS)
    dow = (day + 3) % 7  # 1970-01-01 was a Thursday (Monday = 0)
    hour = np.floor_divide(local - day * DAY_MS, HOUR_MS)
    out: dict[str, np.ndarray] = {}
    for i, d in enumerate(DOW_NAMES):
        out[f"ESM#DOW={d}"] = dow == i
    weekend = dow >= 5
    out["ESM#WKD=Y"] = weekend
    out["ESM#WKD=N"] = ~weekend
    for name, lo, hi in HRN_BANDS:
        out[f"ESM#HRN={name}"] = (hour >= lo) & (hour < hi)
    return out


def _lookup(info: dict[str, Any], key: str) -> Any:
    if key in info:
        return info[key]
    lowered = {str(k).lower(): v for k, v in info.items()}
    return lowered.get(key.lower())


def _number(value: Any) -> float:
    try:
        return float(value) if value is not None else float("nan")
    except (TypeError, ValueError):
        return float("nan")


def participant_info(userinfo: dict[str, Any] | None, n: int) -> dict[str, np.ndarray]:
    """The 11 ``PIF#`` features, constant over the participant's n samples.

    Missing information (no UserInfo row, an empty cell) gives NaN, later 0 / false."""
    info = userinfo or {}
    out: dict[str, np.ndarray] = {}
    for name, column in PIF_NUMERIC:
        out[name] = np.full(n, _number(_lookup(info, column)), dtype=np.float64)
    gender = _lookup(info, "gender")
    gender = str(gender).strip().upper() if gender is not None else ""
    out["PIF#GEN=F"] = np.full(n, gender == "F", dtype=bool)
    out["PIF#GEN=M"] = np.full(n, gender == "M", dtype=bool)
    return out
