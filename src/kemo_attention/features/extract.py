"""Assemble the feature matrix: the fixed column set, one participant's rows, a whole release.

Column order (fixed, :func:`feature_columns`):

1. ``PIF#...``: participant information (11: 9 numeric, ``PIF#GEN=F``, ``PIF#GEN=M``);
2. ``ESM#DOW=..``, ``ESM#WKD=..``, ``ESM#HRN=..``: time of prompt (16 one-hots);
3. for each stream of :data:`~kemo_attention.features.streams.STREAM_SPECS`, in catalogue
   order, the names the window engine gives it (``stream_feature_names``: latest value,
   time since, window features, and coverage columns when asked for);
4. ``ESM#LIK#H06/H12/H24``: label history.

One-hot columns (``PIF#GEN=``, ``ESM#`` time of prompt, ``S#VAL=c``) are bool, every other
column float32; NaN, infinite and undefined values become 0 / false.

:func:`features_for_prompts` computes one participant's rows; serving and the dashboard
call exactly it. :func:`extract_release` runs it for every participant of a release as
one task each (:mod:`~kemo_attention.features.task`) on an
:class:`~kemo_attention.compute.Executor`, caches each participant's result, and writes ``<label>.pkl``, ``<label>.parquet`` and ``manifest.json``.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

from kemo_attention.config import FeatureSettings, LabelSettings, parse_tz_offset, tz_offset_ms
from kemo_attention.errors import KemoError
from kemo_attention.features import window
from kemo_attention.features.cache import ParticipantCache, ParticipantResult, cache_key, code_version
from kemo_attention.features.context import PIF_NAMES, TIME_NAMES, participant_info, time_of_prompt
from kemo_attention.features.labels import LIK_NAMES, label_history, make_labels, sample_times
from kemo_attention.features.streams import STREAM_SPECS, Stream, build_streams

DAY_MS = 86_400_000


# ------------------------------------------------------------------ the column set
def is_bool_feature(name: str) -> bool:
    """One-hot features: participant gender, time of prompt, latest categorical value."""
    return name.startswith("PIF#GEN=") or name in _TIME_SET or "#VAL=" in name


_TIME_SET = frozenset(TIME_NAMES)


@dataclass(frozen=True)
class ColumnLayout:
    """The column order, and how it splits into the numeric and the bool block."""

    columns: tuple[str, ...]
    numeric: tuple[str, ...]
    flags: tuple[str, ...]
    stream_names: tuple[tuple[str, ...], ...]  # per stream of STREAM_SPECS
    hash: str


@lru_cache(maxsize=4)
def column_layout(coverage: bool = False) -> ColumnLayout:
    per_stream = tuple(tuple(window.stream_feature_names(spec, coverage=coverage)) for spec in STREAM_SPECS)
    columns = (*PIF_NAMES, *TIME_NAMES, *(n for names in per_stream for n in names), *LIK_NAMES)
    if len(set(columns)) != len(columns):
        seen: set[str] = set()
        dup = next(c for c in columns if c in seen or seen.add(c))
        raise RuntimeError(f"feature name {dup!r} appears twice in the column set")
    numeric = tuple(c for c in columns if not is_bool_feature(c))
    flags = tuple(c for c in columns if is_bool_feature(c))
    digest = hashlib.sha256("\n".join(columns).encode()).hexdigest()[:16]
    return ColumnLayout(columns, numeric, flags, per_stream, digest)


def feature_columns(coverage: bool = False) -> list[str]:
    """The fixed feature names in column order: 3,356 (83 bool) for the 27 data types;
    more with ``coverage``."""
    return list(column_layout(coverage).columns)


# ------------------------------------------------------------------ one participant
def feature_blocks(
    streams: dict[str, Stream],
    prompt_times_ms: np.ndarray,
    *,
    userinfo: dict | None,
    past_labels: list[tuple[int, int]] | None,
    settings: FeatureSettings = FeatureSettings(),
) -> tuple[np.ndarray, np.ndarray]:
    """The numeric (float32) and bool blocks of one participant's rows, in layout order."""
    layout = column_layout(settings.coverage)
    prompt = np.asarray(prompt_times_ms, dtype=np.int64).reshape(-1)
    t = sample_times(prompt)
    n = t.shape[0]
    values: dict[str, np.ndarray] = {}
    values.update(participant_info(userinfo, n))
    values.update(time_of_prompt(t, settings.tz_offset))
    for spec, names in zip(STREAM_SPECS, layout.stream_names):
        stream = streams[spec.name]
        got = window.stream_features(
            stream, t, mode=settings.mode, coverage=settings.coverage, present=len(stream.times) > 0
        )
        missing = [name for name in names if name not in got]
        if missing:
            raise RuntimeError(f"window engine gave no value for {len(missing)} feature(s) of {spec.name}, e.g. {missing[0]}")
        for name in names:
            values[name] = got[name]
    values.update(label_history(t, past_labels))

    numeric = np.zeros((n, len(layout.numeric)), dtype=np.float64)
    for j, name in enumerate(layout.numeric):
        numeric[:, j] = values[name]
    numeric[~np.isfinite(numeric)] = 0.0  # NaN / inf / undefined -> 0
    flags = np.zeros((n, len(layout.flags)), dtype=bool)
    for j, name in enumerate(layout.flags):
        col = np.asarray(values[name])
        flags[:, j] = np.nan_to_num(col, nan=0.0).astype(bool) if col.dtype.kind == "f" else col.astype(bool)
    return numeric.astype(np.float32), flags


def blocks_to_frame(numeric: np.ndarray, flags: np.ndarray, coverage: bool = False) -> pd.DataFrame:
    """One DataFrame with every column of the layout, in order: float32 and bool."""
    layout = column_layout(coverage)
    frame = pd.concat(
        [pd.DataFrame(numeric, columns=list(layout.numeric)), pd.DataFrame(flags, columns=list(layout.flags))],
        axis=1,
    )
    return frame[list(layout.columns)]


def features_for_prompts(
    tables: dict[str, pl.DataFrame],
    prompt_times_ms: np.ndarray,
    *,
    userinfo: dict | None,
    past_labels: list[tuple[int, int]] | None,
    settings: FeatureSettings = FeatureSettings(),
) -> pd.DataFrame:
    """Features of ONE participant at the given prompt times (rows in the given order).

    ``tables``: the participant's typed frames keyed by data type name ("HR"), as the
    reader (or ``frame_from_records``) gives them. ``userinfo``: the participant's UserInfo
    row (canonical names) or None. ``past_labels``: ``(prompt_time_ms, y)`` of the person's
    answers, for the label history (only those before each prompt count).
    """
    streams = build_streams(tables)
    numeric, flags = feature_blocks(
        streams, prompt_times_ms, userinfo=userinfo, past_labels=past_labels, settings=settings
    )
    return blocks_to_frame(numeric, flags, settings.coverage)


# ------------------------------------------------------------------ a release
def _userinfo_rows(path: Path | None) -> dict[str, dict]:
    if path is None:
        return {}
    from kemo_attention.release.read import read_userinfo

    frame = read_userinfo(path)
    rows = {}
    for row in frame.iter_rows(named=True):
        if row.get("pcode"):
            rows[str(row["pcode"])] = {k: v for k, v in row.items() if k != "pcode"}
    return rows


def _versions() -> dict[str, str]:
    import numpy
    import polars
    import pyarrow
    import scipy

    from kemo_attention import __version__

    return {
        "kemo_attention": __version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "pandas": pd.__version__,
        "polars": polars.__version__,
        "pyarrow": pyarrow.__version__,
        "scipy": scipy.__version__,
        "code": code_version(),
    }


def sample_clock(prompt_ms: np.ndarray, tz_offset: str) -> tuple[np.ndarray, np.ndarray]:
    """``t`` (seconds since local midnight of the earliest sample's date) and ``date_times``
    (tz-aware pandas Timestamps at the local offset) of the prompt times."""
    prompt = np.asarray(prompt_ms, dtype=np.int64)
    tz = parse_tz_offset(tz_offset)
    if prompt.shape[0] == 0:
        return np.zeros(0, dtype=np.float64), np.empty(0, dtype=object)
    off = tz_offset_ms(tz_offset)
    midnight = (int(prompt.min()) + off) // DAY_MS * DAY_MS - off
    t = (prompt - midnight) / 1000.0
    stamps = pd.to_datetime(prompt, unit="ms", utc=True).tz_convert(tz)
    return t.astype(np.float64), np.asarray(list(stamps), dtype=object)


def extract_release(
    release,
    out_dir,
    *,
    label: LabelSettings = LabelSettings(),
    features: FeatureSettings = FeatureSettings(),
    executor=None,
    cache_dir=None,
    use_cache: bool = True,
):
    """Extract the feature matrix of a release and write it to ``out_dir``.

    Writes ``<label>.pkl`` (the reference tuple), ``<label>.parquet`` and ``manifest.json``
    (each atomically; the manifest last). ``cache_dir`` defaults to ``out_dir/.cache``;
    ``use_cache=False`` neither reads nor writes it. Returns the :class:`Dataset`.
    """
    from kemo_attention.compute import Executor, TaskError
    from kemo_attention.dataset import Dataset, atomic_write
    from kemo_attention.features.task import ParticipantTask, run_participant
    from kemo_attention.release.layout import ReleaseLayout, find_release
    from kemo_attention.release.read import read_esm

    started = time.perf_counter()
    executor = executor or Executor("serial")
    out = Path(out_dir)
    layout = release if isinstance(release, ReleaseLayout) else find_release(release)
    if layout.esm_path is None:
        raise KemoError(f"{layout.root}: no EsmResponse.csv (looked in SubjData/ and the release root); labels come from it")

    labels = make_labels(read_esm(layout.esm_path), label)
    userinfo = _userinfo_rows(layout.userinfo_path)
    skipped = dict(labels.skipped)
    for pcode in layout.participants:
        if pcode not in labels.participants and pcode not in skipped:
            skipped[pcode] = "no self-reports in EsmResponse.csv"
    pcodes = []
    for pcode in labels.participants:
        if pcode in layout.participants:
            pcodes.append(pcode)
        else:
            skipped[pcode] = f"no sensor folder Sensor/{pcode}"
    pcodes.sort(key=lambda p: list(layout.participants).index(p))
    if not pcodes:
        detail = "; ".join(f"{p}: {r}" for p, r in list(skipped.items())[:5])
        raise KemoError(
            f"no participant of {layout.root} has enough labels to extract "
            f"(label {label.name}, min_responses {label.min_responses}){': ' + detail if detail else ''}"
        )
    t_labels = time.perf_counter()

    col_layout = column_layout(features.coverage)
    cache = ParticipantCache(Path(cache_dir) if cache_dir else out / ".cache") if use_cache else None
    tasks = []
    for pcode in pcodes:
        part = labels.participants[pcode]
        info = userinfo.get(pcode)
        key = cache_key(
            pcode=pcode,
            folder=layout.participants[pcode],
            prompt_ms=part.prompt_ms,
            y=part.y,
            userinfo=info,
            features=features.to_dict(),
            layout_hash=col_layout.hash,
        )
        tasks.append(
            ParticipantTask(
                release_root=str(layout.root),
                pcode=pcode,
                prompt_ms=tuple(int(v) for v in part.prompt_ms),
                y=tuple(int(v) for v in part.y),
                userinfo=info,
                features=features.to_dict(),
                cache_dir=str(cache.directory) if cache else None,
                key=key,
            )
        )
    results: dict[str, ParticipantResult] = {}
    if cache is not None:
        for task in tasks:
            hit = cache.load(task.pcode, task.key)
            if hit is not None and hit.layout_hash == col_layout.hash:
                results[task.pcode] = hit
    todo = [task for task in tasks if task.pcode not in results]
    if todo:
        try:
            computed = executor.map(run_participant, todo, desc="extract", names=[t.pcode for t in todo])
        except TaskError as err:
            raise KemoError(f"feature extraction failed: {err}") from err
        for task, result in zip(todo, computed):
            results[task.pcode] = result
            if cache is not None and not cache.path(task.pcode, task.key).exists():
                cache.store(task.key, result)
    t_parts = time.perf_counter()

    ordered = [results[p] for p in pcodes]
    numeric = np.concatenate([r.numeric for r in ordered], axis=0)
    flags = np.concatenate([r.flags for r in ordered], axis=0)
    X = blocks_to_frame(numeric, flags, features.coverage)
    y = np.concatenate([r.y for r in ordered])
    group = np.concatenate([np.full(len(r.y), r.pcode, dtype=object) for r in ordered]).astype(str)
    prompt_ms = np.concatenate([r.prompt_ms for r in ordered])
    t, date_times = sample_clock(prompt_ms, features.tz_offset)
    dataset_meta = {
        "feature_mode": features.mode,
        "label": asdict(label),
        "tz_offset": features.tz_offset,
        "coverage": features.coverage,
        "prompt_time_ms": [int(v) for v in prompt_ms],
    }
    ds = Dataset(X, y, group, t, date_times, meta=dict(dataset_meta))
    t_assemble = time.perf_counter()

    out.mkdir(parents=True, exist_ok=True)
    pkl_path = ds.save_pkl(out / f"{label.name}.pkl")
    parquet_path = ds.save_parquet(out / f"{label.name}.parquet")
    t_write = time.perf_counter()
    hits = sum(r.cached for r in ordered)
    stage = {k: float(sum(r.timings.get(k, 0.0) for r in ordered if not r.cached)) for k in ("read_s", "streams_s", "features_s")}
    manifest = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "complete": True,
        "release": str(layout.root),
        "dataset": dataset_meta,
        "files": {"pkl": pkl_path.name, "parquet": parquet_path.name},
        "counts": {
            "samples": int(len(y)),
            "positives": int(y.sum()),
            "negatives": int(len(y) - y.sum()),
            "participants": len(pcodes),
            "participants_skipped": len(skipped),
            "responses_total": labels.responses_total,
            "responses_used": labels.responses_used,
            "features": len(col_layout.columns),
            "bool_features": len(col_layout.flags),
            "numeric_features": len(col_layout.numeric),
        },
        "skipped": dict(sorted(skipped.items())),
        "participants": {
            r.pcode: {
                "samples": int(len(r.y)),
                "positives": int(r.y.sum()),
                "cached": bool(r.cached),
                "problems": int(r.problems),
                "timings": {k: round(v, 4) for k, v in r.timings.items()},
            }
            for r in ordered
        },
        "cache": {
            "enabled": cache is not None,
            "dir": str(cache.directory) if cache else None,
            "hits": int(hits),
            "misses": int(len(ordered) - hits),
        },
        "timings": {
            "total_s": round(time.perf_counter() - started, 4),
            "labels_s": round(t_labels - started, 4),
            "participants_s": round(t_parts - t_labels, 4),
            "assemble_s": round(t_assemble - t_parts, 4),
            "write_s": round(t_write - t_assemble, 4),
            **{k: round(v, 4) for k, v in stage.items()},
        },
        "settings": {
            "label": label.to_dict(),
            "features": features.to_dict(),
            "backend": executor.backend,
            "workers": executor.workers,
        },
        "versions": _versions(),
    }
    atomic_write(out / "manifest.json", lambda f: f.write(json.dumps(manifest, indent=2).encode()))
    return ds
