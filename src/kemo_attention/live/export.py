"""The data back out: what a live store holds, written in the release layout.

``kemo-attention store-export STORE --out RELEASE`` writes ``Sensor/Pxx/<Type>.csv`` (every
raw row the store holds, archived and kept: not the carry rows, which repeat rows already
counted), ``SubjData/EsmResponse.csv`` (the answers) and ``SubjData/UserInfo.csv`` (the
profiles): the files ``check`` and ``extract`` read, so a cohort collected live is studied
with the same commands as the release. A store served with ``--keep-raw`` holds every row it
was sent; one that pruned holds only the last hours, and the export says so per participant.

The folder is built under a temporary name and renamed at the end (``atomic_folder``): a reader
never sees half an export. Each participant is read in one snapshot, so a server may keep
writing while the export runs.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from kemo_attention.files import atomic_folder, check_replaceable_folder
from kemo_attention.live.store import LiveStore
from kemo_attention.release.clean import polars_dtype
from kemo_attention.release.layout import SENSOR_DIR, SUBJECT_DIR
from kemo_attention.release.schema import DATA_TYPES, ESM_COLUMNS, ESM_FILE, TIMESTAMP, USERINFO_COLUMNS, USERINFO_FILE

MANIFEST_KIND = "store-export"


@dataclass
class ExportSummary:
    """What one export wrote, and what it could not."""

    out: Path
    rows: dict[str, dict[str, int]] = field(default_factory=dict)  # pcode -> type -> rows written
    answers: dict[str, int] = field(default_factory=dict)  # pcode -> answers written
    profiles: int = 0
    pruned: dict[str, int] = field(default_factory=dict)  # pcode -> raw rows before this time were deleted
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "rows": self.rows, "answers": self.answers, "profiles": self.profiles,
                "pruned": self.pruned, "warnings": self.warnings}


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(ms / 1000))


def _sensor_frame(name: str, frame: pl.DataFrame | None) -> pl.DataFrame:
    """The rows in the release's column order (timestamp, then the schema's columns)."""
    data_type = DATA_TYPES[name]
    columns = [TIMESTAMP, *data_type.column_names]
    if frame is None:
        return pl.DataFrame(schema={TIMESTAMP: pl.Int64, **{c.name: polars_dtype(c.kind) for c in data_type.columns}})
    return frame.select(columns)


def _subject_frame(columns, rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema = {c.name: polars_dtype(c.kind) for c in columns}
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def export_store(store: LiveStore, out: str | Path, *, participants: list[str] | None = None) -> ExportSummary:
    """Write what ``store`` holds to the release folder ``out`` (replaced whole: refused when it
    exists and is not an earlier store export). ``participants``: these codes only (default: all)."""
    from kemo_attention.errors import KemoError

    out = Path(out)
    check_replaceable_folder(out, lambda m: m.get("kind") == MANIFEST_KIND, "store export")
    known = store.participants()
    if participants is None:
        chosen = known
    else:
        missing = [p for p in participants if p not in known]
        if missing:
            shown = ", ".join(known[:10]) + (" ..." if len(known) > 10 else "")
            raise KemoError(f"--participants: {', '.join(missing)} not in the store (it holds: {shown or 'nobody'})")
        chosen = participants
    summary = ExportSummary(out)
    esm_rows: list[dict[str, Any]] = []
    userinfo_rows: list[dict[str, Any]] = []
    with atomic_folder(out) as tmp:
        sensor = tmp / SENSOR_DIR
        sensor.mkdir()
        (tmp / SUBJECT_DIR).mkdir()
        for pcode in chosen:
            folder = sensor / pcode
            folder.mkdir()
            with store.read(pcode) as tx:  # one snapshot per participant
                meta = tx.meta() or {}
                pruned = tx.pruned_before()
                written: dict[str, int] = {}
                # every type gets its file (a header only when nothing came): "sent nothing",
                # which the readers take as the same empty table as a missing file
                for name in DATA_TYPES:
                    frame = _sensor_frame(name, tx.raw_rows(name))
                    frame.write_csv(folder / DATA_TYPES[name].file_name)
                    if frame.height:
                        written[name] = frame.height
                answers = tx.answers()
            summary.rows[pcode] = written
            summary.answers[pcode] = len(answers)
            esm_rows += [{"pcode": pcode, **a} for a in answers]
            profile = meta.get("profile")
            if profile is not None:
                userinfo_rows.append({"pcode": pcode, **{c.name: profile.get(c.name) for c in USERINFO_COLUMNS[1:]}})
                extra = sorted(set(profile) - {c.name for c in USERINFO_COLUMNS})
                if extra:
                    summary.warnings.append(f"{pcode}: profile keys {', '.join(extra)} are not UserInfo columns; left out")
            if pruned is not None:
                summary.pruned[pcode] = pruned
                summary.warnings.append(
                    f"{pcode}: raw rows before {_iso(pruned)} were deleted by the store's retention (it was served "
                    "without --keep-raw); the export holds the rows from then on, and features of earlier prompts "
                    "will not equal those computed from the devices' full record")
        _subject_frame(ESM_COLUMNS, esm_rows).write_csv(tmp / SUBJECT_DIR / ESM_FILE)
        _subject_frame(USERINFO_COLUMNS, userinfo_rows).write_csv(tmp / SUBJECT_DIR / USERINFO_FILE)
        summary.profiles = len(userinfo_rows)
        manifest = {"kind": MANIFEST_KIND, "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "store": str(getattr(store, "path", "")), "keeps_raw": store.keeps_raw(), **summary.as_dict()}
        manifest["out"] = str(out)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return summary
