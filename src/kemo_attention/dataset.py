"""The feature matrix of one label: ``X, y, group, t, date_times`` and its files.

``attention.pkl`` holds the reference pipeline's tuple ``(X, y, group, t, date_times)``, whose
``t`` is :attr:`Dataset.day_seconds` here (seconds since local midnight of the first prompt's
day; not the features' sample time, prompt time minus 1 ms)
(cloudpickle). Users' own files may hold the first four only, or a dict with those keys;
all three shapes load. Parquet keeps X with the other arrays as ``__``-prefixed columns and
the dataset's metadata (feature mode, label settings) in the file's key-value metadata.

Extraction writes ``<label>.manifest.json`` beside each label's two files: the label, the
dataset's metadata and the SHA-256 of both files. :func:`load_dataset` refuses a file its
manifest does not describe (another file's name, another content, another label); a file
with no manifest (a user's own) loads as it is.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kemo_attention.config import LABEL_NAMES, label_name_of
from kemo_attention.errors import DataError
from kemo_attention.files import atomic_write

FEATURE_MANIFEST_SUFFIX = ".manifest.json"
# What an extract before per-file manifests wrote: one manifest.json per folder, describing
# the last label extracted there.
FOLDER_MANIFEST = "manifest.json"

REQUIRED_KEYS = ("X", "y", "group")
OPTIONAL_KEYS = ("t", "date_times")
_META_KEY = b"kemo_attention"
# attribute -> Parquet column; day_seconds is the files' "t"
_SIDE_COLUMNS = {"y": "__y", "group": "__group", "day_seconds": "__t", "date_times": "__date_time"}


class DatasetFormatError(DataError, ValueError):
    """A feature file that is not one of the accepted shapes; the message says which it is."""


def columns_hash(names: Iterable[str]) -> str:
    """A short fingerprint of column names in order (extraction records its layout's)."""
    return hashlib.sha256("\n".join(map(str, names)).encode()).hexdigest()[:16]


@dataclass
class Dataset:
    """Samples of one label. ``meta`` records how it was made (``feature_mode`` above all)."""

    X: pd.DataFrame
    y: np.ndarray
    group: np.ndarray
    day_seconds: np.ndarray | None = None  # the files' "t"
    date_times: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.X, pd.DataFrame):
            raise DatasetFormatError(f"X must be a pandas DataFrame; got {type(self.X).__name__}")
        self.y = np.asarray(self.y).astype(int)
        self.group = np.asarray(self.group).astype(str)
        n = len(self.X)
        for name in ("y", "group", "day_seconds", "date_times"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise DatasetFormatError(f"{name} has {len(value)} entries but X has {n} rows")
        bad = set(np.unique(self.y)) - {0, 1}
        if bad:
            raise DatasetFormatError(f"y must hold 0/1 labels; found {sorted(bad)}")
        if not all(isinstance(c, str) for c in self.X.columns):
            raise DatasetFormatError("X column names must be strings (feature names)")

    # ------------------------------------------------------------------ views
    @property
    def feature_mode(self) -> str:
        return str(self.meta.get("feature_mode", "unknown"))

    @property
    def label(self) -> str:
        """The label's name ("attention" when the metadata says nothing)."""
        return label_name_of(self.meta)

    @property
    def raw_computable(self) -> bool:
        """True when extraction recorded that these exact columns are its feature layout, so
        rows can be computed from raw records (``meta["feature_layout_hash"]``)."""
        recorded = self.meta.get("feature_layout_hash")
        return bool(recorded) and recorded == columns_hash(self.X.columns)

    @property
    def bool_columns(self) -> list[str]:
        """The categorical (one-hot) features: bool columns of X."""
        return [c for c in self.X.columns if self.X[c].dtype == bool]

    @property
    def numeric_columns(self) -> list[str]:
        return [c for c in self.X.columns if self.X[c].dtype != bool]

    def __len__(self) -> int:
        return len(self.X)

    # ------------------------------------------------------------------ files
    def save_pkl(self, path: str | Path) -> Path:
        """Write the reference tuple ``(X, y, group, t, date_times)``, atomically."""
        import cloudpickle

        payload = (self.X, self.y, self.group, self.day_seconds, self.date_times)
        return atomic_write(Path(path), lambda f: cloudpickle.dump(payload, f))

    def save_parquet(self, path: str | Path) -> Path:
        import pyarrow as pa
        import pyarrow.parquet as pq

        frame = self.X.copy()
        for key, col in _SIDE_COLUMNS.items():
            value = getattr(self, key)
            if value is not None:
                frame[col] = pd.Series(value).to_numpy() if key != "date_times" else pd.to_datetime(pd.Series(value)).to_numpy()
        table = pa.Table.from_pandas(frame, preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[_META_KEY] = json.dumps(self.meta, default=str).encode()
        table = table.replace_schema_metadata(meta)
        return atomic_write(Path(path), lambda f: pq.write_table(table, f))


def feature_manifest_path(path: str | Path) -> Path:
    """The manifest extraction writes beside a feature file: ``attention.pkl`` and
    ``attention.parquet`` -> ``attention.manifest.json``."""
    path = Path(path)
    return path.with_name(path.stem + FEATURE_MANIFEST_SUFFIX)


def load_dataset(path: str | Path) -> Dataset:
    """Load ``attention.pkl`` (any of the three shapes) or our Parquet file.

    The file's manifest (``<stem>.manifest.json``; in folders written before per-file
    manifests, a ``manifest.json`` naming the file) is checked first
    (:func:`check_feature_manifest`), and a pkl takes its metadata (feature mode, label)
    from it. A user's own pkl has none: its feature mode is "unknown".
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such feature file")
    content = path.read_bytes()  # read once: the bytes checked are the bytes loaded
    manifest = check_feature_manifest(path, content)
    if path.suffix == ".parquet":
        ds = _load_parquet(path, content)
        if manifest is not None:
            _check_label(path, manifest, ds.meta, "the file's own metadata")
        return ds
    try:
        obj = pickle.loads(content)
    except Exception as exc:
        raise DatasetFormatError(f"{path}: not a readable pickle ({type(exc).__name__}: {exc})") from exc
    ds = dataset_from_object(obj, source=str(path))
    if manifest is not None:
        ds.meta.update(manifest.get("dataset") or {})
    ds.meta.setdefault("source", str(path))
    return ds


def check_feature_manifest(path: str | Path, content: bytes | None = None) -> dict | None:
    """The extraction manifest describing the feature file ``path``, checked; None when there is none.

    ``<stem>.manifest.json`` must name this file, record its SHA-256 (of ``content``, the
    file's bytes, read here when not given) and one label throughout. An older folder's
    ``manifest.json`` (no hashes) counts for files it names or named like a label
    (``stress.pkl``); naming another file there means the file's label is unknown. Any
    mismatch raises :class:`DatasetFormatError`, one line naming the file and what differs.
    """
    path = Path(path)
    kind = "parquet" if path.suffix == ".parquet" else "pkl"
    own = feature_manifest_path(path)
    redo = f"re-run `kemo-attention extract` for this label (or remove {own.name} to load the file as your own)"
    if own.exists():
        manifest = _read_manifest(own, redo)
        files, hashes = manifest.get("files"), manifest.get("sha256")
        if not isinstance(files, dict) or not isinstance(hashes, dict) or not isinstance(manifest.get("dataset"), dict):
            raise DatasetFormatError(f"{own}: not a feature-file manifest (no files, sha256 and dataset entries); {redo}")
        if files.get(kind) != path.name:
            raise DatasetFormatError(f"{path}: {own.name} describes {files.get(kind)!r}, not this file; {redo}")
        digest = hashlib.sha256(path.read_bytes() if content is None else content).hexdigest()
        if hashes.get(kind) != digest:
            raise DatasetFormatError(
                f"{path}: content differs from what {own.name} records (SHA-256 {digest[:12]}..., recorded "
                f"{str(hashes.get(kind))[:12]}...): replaced or edited after extraction; {redo}"
            )
        _check_label(path, manifest, manifest["dataset"], own.name)
        return manifest
    folder = path.with_name(FOLDER_MANIFEST)
    if not folder.exists():
        return None
    try:
        manifest = json.loads(folder.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None  # not an extraction manifest (another tool's file): nothing it vouches for
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not isinstance(manifest.get("dataset"), dict):
        return None  # e.g. an eval folder's manifest.json
    if files.get(kind) == path.name:
        return manifest
    if path.name in files.values() or path.stem in LABEL_NAMES:
        named = files.get(kind) or ", ".join(map(str, files.values()))
        raise DatasetFormatError(
            f"{path}: {folder.name} beside it describes {named} (label "
            f"{label_name_of(manifest['dataset'])}), not this file, so its label is unknown; "
            f"re-run `kemo-attention extract` for this label (it writes {own.name})"
        )
    return None


def _read_manifest(path: Path, redo: str) -> dict:
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetFormatError(f"{path}: not readable JSON ({type(exc).__name__}); {redo}") from exc
    if not isinstance(manifest, dict):
        raise DatasetFormatError(f"{path}: expected a JSON object, got {type(manifest).__name__}; {redo}")
    return manifest


def _check_label(path: Path, manifest: dict, meta: dict, where: str) -> None:
    """The manifest's label must be the one its dataset section (or the file itself) records."""
    recorded = manifest.get("label")
    found = label_name_of(meta)
    if recorded is not None and recorded != found:
        raise DatasetFormatError(
            f"{path}: its manifest says label {recorded}, {where} says {found}; re-run `kemo-attention extract` for this label"
        )


def dataset_from_object(obj: Any, source: str = "object") -> Dataset:
    """Accept ``(X, y, group, t, date_times)``, ``(X, y, group, t)`` or a dict with those keys."""
    if isinstance(obj, Dataset):
        return obj
    if isinstance(obj, dict):
        missing = [k for k in REQUIRED_KEYS if k not in obj]
        if missing:
            raise DatasetFormatError(
                f"{source}: a dict feature file needs keys X, y, group (t, date_times optional); "
                f"missing {', '.join(missing)}; found {', '.join(map(str, obj)) or 'no keys'}"
            )
        return Dataset(obj["X"], obj["y"], obj["group"], obj.get("t"), obj.get("date_times"))
    if isinstance(obj, (tuple, list)):
        if len(obj) == 5:
            return Dataset(*obj)
        if len(obj) == 4:
            return Dataset(*obj)
        raise DatasetFormatError(
            f"{source}: expected a tuple (X, y, group, t, date_times) or (X, y, group, t); "
            f"got a {type(obj).__name__} of {len(obj)} items"
        )
    raise DatasetFormatError(
        f"{source}: expected a tuple (X, y, group, t[, date_times]) or a dict with keys "
        f"X, y, group; got {type(obj).__name__}"
    )


def _load_parquet(path: Path, content: bytes | None = None) -> Dataset:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(pa.BufferReader(content) if content is not None else path)
    meta_raw = (table.schema.metadata or {}).get(_META_KEY)
    frame = table.to_pandas()
    if "__y" not in frame or "__group" not in frame:
        raise DatasetFormatError(f"{path}: a Parquet feature file needs columns __y and __group")
    side = {key: frame.pop(col).to_numpy() if col in frame else None for key, col in _SIDE_COLUMNS.items()}
    if side["date_times"] is not None:
        side["date_times"] = pd.to_datetime(side["date_times"])
        side["date_times"] = np.asarray(side["date_times"].to_pydatetime()) if hasattr(side["date_times"], "to_pydatetime") else side["date_times"]
    meta = json.loads(meta_raw) if meta_raw else {}
    meta.setdefault("source", str(path))
    return Dataset(frame, side["y"], side["group"], side["day_seconds"], side["date_times"], meta)
