"""Small synthetic releases written on disk with our own CSV writer (the csv module, UTF-8).

Values are drawn inside each column's valid range so that only the dirt a test adds on
purpose shows up as a problem. ``legacy=True`` writes capitalised headers as older copies
of the data do (``Timestamp``, ``BPM``, ``X``, ``Pcode`` ...).
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from kemo_attention.release.schema import DATA_TYPES, ESM_COLUMNS, USERINFO_COLUMNS, DataType

T0 = 1_557_000_000_000  # 2019-05-04 19:00 UTC = 2019-05-05 04:00 in Korea
LEGACY_SPECIAL = {"bpm": "BPM", "pcode": "Pcode", "PSS": "PSS", "PHQ": "PHQ", "GHQ": "GHQ"}


def legacy_name(name: str) -> str:
    """The capitalised spelling of older copies: ``bpm`` -> ``BPM``, ``x`` -> ``X``, ``totalSteps`` -> ``TotalSteps``."""
    return LEGACY_SPECIAL.get(name, name[:1].upper() + name[1:])


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for row in rows:
            w.writerow(["" if v is None else v for v in row])
    return path


def header_of(data_type: DataType, legacy: bool = False) -> list[str]:
    names = ["timestamp", *data_type.column_names]
    return [legacy_name(n) for n in names] if legacy else names


def valid_value(column, rng: random.Random):
    """A value that parses as the column's type and lies in its valid range."""
    if column.kind == "str":
        return rng.choice(["ON", "OFF", "카카오톡", "a, \"quoted\" name", "WIFI"])
    if column.kind == "bool":
        return rng.choice(["True", "False"])
    lo, hi = column.valid_range or (0, 1000)
    if column.kind == "int":
        return rng.randint(int(max(lo, 0)), int(min(hi, 10**12)))
    return round(rng.uniform(max(lo, -1e6), min(hi, 1e6)), 4)


def valid_rows(data_type: DataType, times: list[int], seed: int = 0) -> list[list]:
    rng = random.Random(seed)
    return [[t, *[valid_value(c, rng) for c in data_type.columns]] for t in times]


def esm_rows(pcode: str, n_scheduled: int, n_voluntary: int, start: int = T0) -> list[list]:
    rows = []
    for i in range(n_scheduled):
        sched = start + i * 3_600_000
        rows.append([pcode, sched + 60_000, sched, 1, 0, (i % 7) - 3, 0, 5, 0, 0])
    for i in range(n_voluntary):
        rows.append([pcode, start + i * 3_600_000 + 1_800_000, None, 0, 0, 1, 0, 10, 0, 0])
    return rows


def write_release(
    root: Path,
    participants: dict[str, dict[str, list[int]]],
    *,
    esm: dict[str, tuple[int, int]] | None = None,
    legacy: bool = False,
    subject_dir: bool = True,
    userinfo: bool = True,
) -> Path:
    """``participants``: pcode -> {type name: timestamps}; types not named get no file.
    ``esm``: pcode -> (scheduled, voluntary) responses (default 40 scheduled, 2 voluntary each)."""
    subj = root / "SubjData" if subject_dir else root
    esm = esm if esm is not None else {p: (40, 2) for p in participants}
    esm_header = [c.name for c in ESM_COLUMNS]
    info_header = [c.name for c in USERINFO_COLUMNS]
    if legacy:
        esm_header = [legacy_name(n) for n in esm_header]
        info_header = [legacy_name(n) for n in info_header]
    write_csv(subj / "EsmResponse.csv", esm_header, [r for p, (s, v) in esm.items() for r in esm_rows(p, s, v)])
    if userinfo:
        write_csv(subj / "UserInfo.csv", info_header,
                  [[p, "2019-05-05", 22, "M", 9, 9, 9, 9, 9, 15, 5, 10] for p in participants])
    for k, (pcode, types) in enumerate(participants.items()):
        for name, times in types.items():
            dt = DATA_TYPES[name]
            write_csv(root / "Sensor" / pcode / dt.file_name, header_of(dt, legacy), valid_rows(dt, times, seed=k))
    return root


def full_participant(n: int = 20, step: int = 1000, start: int = T0) -> dict[str, list[int]]:
    """Every one of the 27 types with ``n`` increasing timestamps."""
    return {name: [start + i * step for i in range(n)] for name in DATA_TYPES}
