"""Find the files of a K-EmoPhone release folder.

A release holds ``SubjData/EsmResponse.csv`` and ``SubjData/UserInfo.csv`` (some copies keep
the two at the root instead) and one folder of sensor CSVs per participant under
``Sensor/P01/`` ... Names are matched case-insensitively, because copies of the data made on
case-insensitive file systems do not keep the case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from kemo_attention.errors import DataError
from kemo_attention.release.schema import ESM_FILE, USERINFO_FILE

SUBJECT_DIR = "SubjData"
SENSOR_DIR = "Sensor"


@dataclass(frozen=True)
class ReleaseLayout:
    """Where the files of one release are. Paths are absolute."""

    root: Path
    esm_path: Path | None  # SubjData/EsmResponse.csv or <root>/EsmResponse.csv
    userinfo_path: Path | None  # likewise UserInfo.csv
    participants: dict[str, Path] = field(default_factory=dict)  # "P01" -> <root>/Sensor/P01, sorted by code

    def sensor_files(self, pcode: str) -> dict[str, Path]:
        """The participant's CSV files keyed by lower-case file name (``"hr.csv"``)."""
        folder = self.participants[pcode]
        return {p.name.lower(): p for p in folder.iterdir() if p.is_file()}


def _child(folder: Path, name: str, *, want_dir: bool) -> Path | None:
    """``folder/name`` matched case-insensitively (exact spelling preferred)."""
    exact = folder / name
    if (exact.is_dir() if want_dir else exact.is_file()):
        return exact
    try:
        entries = list(folder.iterdir())
    except OSError:
        return None
    for entry in sorted(entries):
        if entry.name.lower() == name.lower() and (entry.is_dir() if want_dir else entry.is_file()):
            return entry
    return None


def _subject_file(root: Path, name: str) -> Path | None:
    subj = _child(root, SUBJECT_DIR, want_dir=True)
    if subj is not None:
        found = _child(subj, name, want_dir=False)
        if found is not None:
            return found
    return _child(root, name, want_dir=False)


def pcode_sort_key(pcode: str) -> tuple:
    """Natural order: P2 before P10, whatever the zero padding."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", pcode))


def _participants(root: Path) -> dict[str, Path]:
    sensor = _child(root, SENSOR_DIR, want_dir=True)
    if sensor is None:
        return {}
    found = {
        entry.name: entry
        for entry in sensor.iterdir()
        if entry.is_dir() and entry.name[:1] in ("P", "p") and not entry.name.startswith(".")
    }
    return {code: found[code] for code in sorted(found, key=pcode_sort_key)}


def find_release(root: str | Path) -> ReleaseLayout:
    """Locate the subject files and participant folders of the release at ``root``.

    Raises :class:`DataError` when ``root`` is missing or holds none of the release's parts
    (the message lists what was looked for).
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise DataError("release folder not found", file=str(root))
    if not root.is_dir():
        raise DataError("expected a release folder, got a file", file=str(root))
    root = root.resolve()
    esm = _subject_file(root, ESM_FILE)
    userinfo = _subject_file(root, USERINFO_FILE)
    participants = _participants(root)
    if esm is None and userinfo is None and not participants:
        looked = (
            f"{SUBJECT_DIR}/{ESM_FILE} or {ESM_FILE}, {SUBJECT_DIR}/{USERINFO_FILE} or {USERINFO_FILE}, "
            f"and participant folders {SENSOR_DIR}/P*/"
        )
        hint = ""
        nested = [
            c for c in sorted(root.iterdir())
            if c.is_dir() and (_child(c, SENSOR_DIR, want_dir=True) or _child(c, SUBJECT_DIR, want_dir=True))
        ]
        if nested:
            hint = f"; {nested[0]} looks like a release: pass that folder instead"
        raise DataError(f"not a K-EmoPhone release: looked for {looked} and found none{hint}", file=str(root))
    return ReleaseLayout(root=root, esm_path=esm, userinfo_path=userinfo, participants=participants)
