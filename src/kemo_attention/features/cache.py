"""Per-participant results of extraction, and their cache on disk.

An entry holds one participant's feature blocks at the union of the prompt times of every
label a run extracts, without the label history (the driver fills those three columns per
label, from that label's answers). It is cached under a key that changes whenever anything
that could change it changes: the participant's raw files (names, sizes, modification
times), the union prompt times, its UserInfo row, the feature settings, and the code (a
hash of the source of the feature and release packages, plus library versions). A run for
another set of labels has another union of prompt times, hence other keys.
An interrupted run therefore resumes where it stopped, and an unchanged rerun reads every
participant from the cache.

Entries are ``.npz`` files (no pickle: loading runs no code), written through a temporary
file and renamed, so a killed worker never leaves a half entry.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from kemo_attention.files import atomic_write

CACHE_FORMAT = 2  # 2: blocks at the union prompt times, label history left to the driver


@dataclass
class ParticipantResult:
    """The feature blocks of one participant at its (sorted, distinct) prompt times: numeric
    (float32) and one-hot (bool) columns, in the order of
    :func:`kemo_attention.features.layout.column_layout`. The label-history columns are 0
    here; each label's are filled by the driver."""

    pcode: str
    prompt_ms: np.ndarray  # int64, sorted and distinct
    numeric: np.ndarray  # (n, n_numeric) float32
    flags: np.ndarray  # (n, n_bool) bool
    layout_hash: str  # which column layout the blocks follow
    timings: dict[str, float] = field(default_factory=dict)
    problems: int = 0  # non-fatal problems the reader counted
    cached: bool = False


@lru_cache(maxsize=1)
def code_version() -> str:
    """Hash of the source that computes features, and of the libraries it relies on."""
    import numpy
    import pandas
    import polars
    import scipy

    from kemo_attention import __version__

    root = Path(__file__).resolve().parents[1]  # src/kemo_attention
    digest = hashlib.sha256()
    files = sorted([*root.joinpath("features").glob("*.py"), *root.joinpath("release").glob("*.py"), root / "config.py"])
    for path in files:
        if path.name == "commands.py":  # CLI wording does not change features
            continue
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    libs = f"{__version__}|{numpy.__version__}|{pandas.__version__}|{polars.__version__}|{scipy.__version__}|{platform.python_version()}"
    digest.update(libs.encode())
    return digest.hexdigest()[:16]


def folder_fingerprint(folder: str | Path | None) -> list[tuple[str, int, int]]:
    """(name, size, mtime_ns) of every file in a participant folder, sorted by name."""
    if folder is None or not Path(folder).is_dir():
        return []
    out = []
    with os.scandir(folder) as it:
        for entry in it:
            if entry.is_file():
                st = entry.stat()
                out.append((entry.name, int(st.st_size), int(st.st_mtime_ns)))
    return sorted(out)


def cache_key(
    *,
    pcode: str,
    folder: str | Path | None,
    prompt_ms: np.ndarray,
    userinfo: dict[str, Any] | None,
    features: dict[str, Any],
    layout_hash: str,
) -> str:
    """The key of one participant's entry; ``prompt_ms`` is the union of the prompt times of
    every label extracted (labels themselves do not enter: their history is not cached)."""
    digest = hashlib.sha256()
    payload = {
        "format": CACHE_FORMAT,
        "pcode": pcode,
        "files": folder_fingerprint(folder),
        "userinfo": userinfo,
        "features": features,
        "layout": layout_hash,
        "code": code_version(),
    }
    digest.update(json.dumps(payload, sort_keys=True, default=str).encode())
    digest.update(np.ascontiguousarray(prompt_ms, dtype=np.int64).tobytes())
    return digest.hexdigest()


class ParticipantCache:
    """A folder of ``<pcode>-<key>.npz`` entries; one live entry per participant."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def path(self, pcode: str, key: str) -> Path:
        return self.directory / f"{pcode}-{key[:24]}.npz"

    def load(self, pcode: str, key: str) -> ParticipantResult | None:
        path = self.path(pcode, key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                if meta.get("key") != key:
                    return None
                return ParticipantResult(
                    pcode=pcode,
                    prompt_ms=z["prompt_ms"].astype(np.int64),
                    numeric=z["numeric"],
                    flags=z["flags"],
                    layout_hash=meta["layout_hash"],
                    timings=meta.get("timings", {}),
                    problems=int(meta.get("problems", 0)),
                    cached=True,
                )
        except Exception:  # a corrupt entry is a miss, never an error
            return None

    def store(self, key: str, result: ParticipantResult) -> Path:
        meta = {"key": key, "layout_hash": result.layout_hash, "timings": result.timings, "problems": result.problems}
        buf = io.BytesIO()
        np.savez(
            buf,
            prompt_ms=result.prompt_ms,
            numeric=result.numeric,
            flags=result.flags,
            meta=np.array(json.dumps(meta)),
        )
        path = self.path(result.pcode, key)
        atomic_write(path, lambda f: f.write(buf.getvalue()))
        # Older entries of this participant are stale now.
        for old in self.directory.glob(f"{result.pcode}-*.npz"):
            if old != path:
                old.unlink(missing_ok=True)
        return path
