"""`kemo-attention check`: what a release holds, how much of it is usable, and its dirt.

Reads every participant's files once (one participant at a time, optionally in parallel
through the :class:`~kemo_attention.compute.Executor`) and keeps only summaries: rows,
time span, local days with data, rows per (type, day) for the data-yield heatmap, and the
problem records. A release is *usable* unless something would stop feature extraction or
leave it nothing to learn from: no self-report file or one without rows, no participant with
enough scheduled self-reports, a file that cannot be read, or times that are not epoch
milliseconds (the fatal errors are listed). Gaps that leave it usable but change the features
(no UserInfo.csv: profile features all 0) are listed as warnings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from kemo_attention.config import DEFAULT_TZ_OFFSET, tz_offset_ms
from kemo_attention.errors import DataError
from kemo_attention.release.clean import Problem
from kemo_attention.release.layout import SENSOR_DIR, SUBJECT_DIR, ReleaseLayout, find_release
from kemo_attention.release.read import read_esm, read_participant, read_userinfo
from kemo_attention.release.schema import DATA_TYPES, ESM_FILE, TIMESTAMP, USERINFO_FILE

DAY_MS = 86_400_000
MIN_RESPONSES = 35  # the reference protocol's minimum of scheduled responses per participant


def local_day(day_number: int) -> str:
    """Days since 1970-01-01 (local) -> "YYYY-MM-DD"."""
    return (date(1970, 1, 1) + timedelta(days=int(day_number))).isoformat()


@dataclass
class CheckReport:
    root: str
    usable: bool  # False when the release cannot be used (summary["fatal_errors"] says why)
    participants: list[dict]  # per pcode: pcode, files, rows, first_ms, last_ms, days, problems, esm_responses ...
    problems: list[Problem]  # file paths relative to root
    daily_rows: list[dict]  # {"pcode", "type", "day" (local YYYY-MM-DD), "rows"}
    summary: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready; what `kemo-attention check --json` prints."""
        return {
            "root": self.root,
            "usable": self.usable,
            "participants": self.participants,
            "problems": [p.to_dict() for p in self.problems],
            "daily_rows": self.daily_rows,
            "summary": self.summary,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "CheckReport":
        """The inverse of :meth:`to_dict` (a saved check.json)."""
        return cls(
            root=data["root"],
            usable=bool(data["usable"]),
            participants=list(data["participants"]),
            problems=[Problem(**p) for p in data["problems"]],
            daily_rows=list(data["daily_rows"]),
            summary=dict(data["summary"]),
        )


def _check_participant(pcode: str, *, layout: ReleaseLayout, tz_ms: int) -> dict:
    """Read one participant and keep only what the report needs (runs in a worker)."""
    try:
        data = read_participant(layout, pcode)
    except DataError as err:  # a fatal file: recorded, the other participants still checked
        return {"pcode": pcode, "fatal": str(err), "problems": [], "daily": [], "rows_by_type": {}}
    daily = []
    rows_by_type = {}
    first = last = None
    for name, table in data.tables.items():
        rows_by_type[name] = table.height
        if table.height == 0:
            continue
        ts = table[TIMESTAMP]
        lo, hi = ts.min(), ts.max()
        first = lo if first is None else min(first, lo)
        last = hi if last is None else max(last, hi)
        per_day = table.select(((pl.col(TIMESTAMP) + tz_ms) // DAY_MS).alias("d")).group_by("d").len().sort("d")
        daily.extend((name, int(d), int(n)) for d, n in per_day.iter_rows())
    missing = sum(1 for p in data.problems if p.kind == "missing_file")
    return {
        "pcode": pcode,
        "fatal": None,
        "files": len(data.tables) - missing,
        "rows": sum(rows_by_type.values()),
        "rows_by_type": rows_by_type,
        "first_ms": first,
        "last_ms": last,
        "days": len({d for _, d, _ in daily}),
        "daily": daily,
        "problems": data.problems,
    }


def _relative(path: str, root: Path) -> str:
    try:
        return os.path.relpath(path, root) if Path(path).is_absolute() and Path(path).is_relative_to(root) else path
    except ValueError:
        return path


def check_release(root, *, tz_offset: str = DEFAULT_TZ_OFFSET, executor=None, min_responses: int = MIN_RESPONSES) -> CheckReport:
    """Check the release at ``root``; see the module docstring.

    Raises :class:`DataError` only when ``root`` is not a release at all; everything else
    (including fatal file errors) is reported, with ``usable`` False when extraction could
    not run.
    """
    from kemo_attention.compute import Executor

    tz_ms = tz_offset_ms(tz_offset)
    layout = find_release(root)
    fatal: list[str] = []
    problems: list[Problem] = []

    esm = None
    if layout.esm_path is None:
        fatal.append(f"no {ESM_FILE} (the self-reports): looked for {SUBJECT_DIR}/{ESM_FILE} and {ESM_FILE} in {layout.root}")
    else:
        try:
            esm = read_esm(layout.esm_path)
        except DataError as err:
            fatal.append(str(err))
    warnings: list[str] = []
    userinfo_rows = None
    if layout.userinfo_path is None:
        no_userinfo = (f"no {USERINFO_FILE} (looked for {SUBJECT_DIR}/{USERINFO_FILE} and {USERINFO_FILE} in {layout.root}): "
                       f"the profile features (PIF#AGE, PIF#GEN, PIF#BFI_*, PIF#PSS ...) will all be 0 for every participant")
        problems.append(Problem(f"{SUBJECT_DIR}/{USERINFO_FILE}", "missing_file", 1, no_userinfo))
        warnings.append(no_userinfo)
    else:
        try:
            userinfo_rows = read_userinfo(layout.userinfo_path).height
        except DataError as err:
            fatal.append(str(err))
    if not layout.participants:
        fatal.append(f"no participant folders: expected {SENSOR_DIR}/P01/ ... in {layout.root}")

    executor = executor or Executor("serial", progress=False)
    pcodes = list(layout.participants)
    results = executor.map(_check_participant, pcodes, shared={"layout": layout, "tz_ms": tz_ms},
                           desc="checking participants", names=pcodes)

    counts: dict[str, tuple[int, int]] = {}
    if esm is not None and esm.height:
        per = esm.group_by("pcode").agg(pl.len().alias("n"), pl.col("scheduledTime").is_not_null().sum().alias("s"))
        counts = {p: (int(n), int(s)) for p, n, s in per.iter_rows()}

    participants, daily_rows = [], []
    rows_by_type = {name: 0 for name in DATA_TYPES}
    for res in results:
        pcode = res["pcode"]
        if res["fatal"]:
            fatal.append(res["fatal"])
        found = res["problems"]
        for p in found:
            p.file = _relative(p.file, layout.root)
        problems.extend(found)
        for name, n in res["rows_by_type"].items():
            rows_by_type[name] += n
        n_all, n_sched = counts.get(pcode, (0, 0))
        first, last = res.get("first_ms"), res.get("last_ms")
        participants.append({
            "pcode": pcode,
            "files": res.get("files", 0),
            "rows": res.get("rows", 0),
            "first_ms": first,
            "last_ms": last,
            "first_day": local_day((first + tz_ms) // DAY_MS) if first is not None else None,
            "last_day": local_day((last + tz_ms) // DAY_MS) if last is not None else None,
            "days": res.get("days", 0),
            "problems": sum(p.count for p in found),
            "problem_kinds": _by_kind(found),
            "esm_responses": n_all,
            "scheduled_responses": n_sched,
            "fatal": res["fatal"],
        })
        daily_rows.extend({"pcode": pcode, "type": t, "day": local_day(d), "rows": n} for t, d, n in res["daily"])

    n_enough = sum(1 for p in participants if p["scheduled_responses"] >= min_responses)
    if esm is not None and esm.height == 0:
        fatal.append(f"{_relative(str(layout.esm_path), layout.root)}: a header and no rows, so no self-reports: "
                     f"there are no labels to learn from")
    elif esm is not None and participants and n_enough == 0:
        fatal.append(f"{_relative(str(layout.esm_path), layout.root)}: no participant with a sensor folder has >= "
                     f"{min_responses} scheduled self-reports ({len(counts)} participants answered, at most "
                     f"{max((s for _, s in counts.values()), default=0)} scheduled each): extraction keeps none, "
                     f"so there is nothing to learn from")
    sensor = set(pcodes)
    esm_codes = set(counts)
    days = [p["first_day"] for p in participants if p["first_day"]] + [p["last_day"] for p in participants if p["last_day"]]
    summary = {
        "participants": len(participants),
        "participants_with_data": sum(1 for p in participants if p["rows"] > 0),
        "min_responses": min_responses,
        "participants_min_responses": n_enough,
        "esm_participants": len(esm_codes),
        "esm_responses": int(esm.height) if esm is not None else 0,
        "scheduled_responses": sum(s for _, s in counts.values()),
        "voluntary_responses": sum(n - s for n, s in counts.values()),
        "esm_only_participants": sorted(esm_codes - sensor),
        "participants_without_esm": sorted(sensor - esm_codes),
        "userinfo_participants": userinfo_rows,
        "total_rows": sum(p["rows"] for p in participants),
        "rows_by_type": rows_by_type,
        "problems_by_kind": _by_kind(problems),
        "problem_records": len(problems),
        "first_day": min(days) if days else None,
        "last_day": max(days) if days else None,
        "tz_offset": tz_offset,
        "fatal_errors": fatal,
        "warnings": warnings,  # usable, but something the user should know (e.g. features that will be 0)
    }
    return CheckReport(str(layout.root), not fatal, participants, problems, daily_rows, summary)


def _by_kind(problems: list[Problem]) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in problems:
        out[p.kind] = out.get(p.kind, 0) + p.count
    return dict(sorted(out.items()))
