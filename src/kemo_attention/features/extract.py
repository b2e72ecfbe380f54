"""Extract a whole release: one task per participant, cached, then one feature file.

:func:`extract_release` runs :func:`~kemo_attention.features.task.run_participant` for every
participant with enough labels on an :class:`~kemo_attention.compute.Executor`, caches each
participant's result, and writes ``<label>.pkl``, ``<label>.parquet`` and ``manifest.json``.
The columns are :mod:`~kemo_attention.features.layout`'s; one participant's rows are
:mod:`~kemo_attention.features.assemble`'s.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from kemo_attention.config import FeatureSettings, LabelSettings, parse_tz_offset, tz_offset_ms
from kemo_attention.errors import KemoError
from kemo_attention.features.cache import ParticipantCache, ParticipantResult, cache_key, code_version
from kemo_attention.features.labels import make_labels
from kemo_attention.features.layout import ColumnLayout, blocks_to_frame, column_layout

DAY_MS = 86_400_000


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


# The libraries whose versions a feature file records (with the feature code's own hash).
EXTRACT_LIBRARIES = ("kemo-attention", "numpy", "pandas", "polars", "pyarrow", "scipy")


def _versions() -> dict[str, str | None]:
    from kemo_attention.versions import library_versions

    return {**library_versions(EXTRACT_LIBRARIES), "code": code_version()}


def sample_clock(prompt_ms: np.ndarray, tz_offset: str) -> tuple[np.ndarray, np.ndarray]:
    """``day_seconds`` (the files' ``t``: seconds since local midnight of the earliest prompt's date) and ``date_times``
    (tz-aware pandas Timestamps at the local offset) of the prompt times."""
    prompt = np.asarray(prompt_ms, dtype=np.int64)
    tz = parse_tz_offset(tz_offset)
    if prompt.shape[0] == 0:
        return np.zeros(0, dtype=np.float64), np.empty(0, dtype=object)
    off = tz_offset_ms(tz_offset)
    midnight = (int(prompt.min()) + off) // DAY_MS * DAY_MS - off
    day_seconds = (prompt - midnight) / 1000.0
    stamps = pd.to_datetime(prompt, unit="ms", utc=True).tz_convert(tz)
    return day_seconds.astype(np.float64), np.asarray(list(stamps), dtype=object)


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
    from kemo_attention.compute import Executor
    from kemo_attention.files import atomic_write
    from kemo_attention.release.layout import ReleaseLayout, find_release
    from kemo_attention.release.read import read_esm

    started = time.perf_counter()
    executor = executor or Executor("serial")
    out = Path(out_dir)
    layout = release if isinstance(release, ReleaseLayout) else find_release(release)
    if layout.esm_path is None:
        raise KemoError(f"{layout.root}: no EsmResponse.csv (looked in SubjData/ and the release root); labels come from it")

    labels = make_labels(read_esm(layout.esm_path), label)
    pcodes, skipped = _participants_to_extract(layout, labels, label)
    t_labels = time.perf_counter()

    col_layout = column_layout(features.coverage)
    cache = ParticipantCache(Path(cache_dir) if cache_dir else out / ".cache") if use_cache else None
    tasks = _participant_tasks(layout, labels, pcodes, features, cache, col_layout)
    numeric, flags, ordered = _collect_rows(tasks, executor, cache, col_layout)
    t_parts = time.perf_counter()

    ds = _assemble(numeric, flags, ordered, label, features, col_layout)
    del numeric, flags  # X holds its own copy now
    t_assemble = time.perf_counter()

    out.mkdir(parents=True, exist_ok=True)
    files = {"pkl": ds.save_pkl(out / f"{label.name}.pkl").name, "parquet": ds.save_parquet(out / f"{label.name}.parquet").name}
    t_write = time.perf_counter()
    stage = {k: float(sum(r.timings.get(k, 0.0) for r in ordered if not r.cached)) for k in ("read_s", "streams_s", "features_s")}
    timings = {
        "total_s": round(time.perf_counter() - started, 4),
        "labels_s": round(t_labels - started, 4),
        "participants_s": round(t_parts - t_labels, 4),
        "assemble_s": round(t_assemble - t_parts, 4),
        "write_s": round(t_write - t_assemble, 4),
        **{k: round(v, 4) for k, v in stage.items()},
    }
    manifest = _manifest(layout, ds, files, labels, ordered, skipped, col_layout, cache, timings, label, features, executor)
    atomic_write(out / "manifest.json", lambda f: f.write(json.dumps(manifest, indent=2).encode()))
    return ds


def _participants_to_extract(layout, labels, label: LabelSettings) -> tuple[list[str], dict[str, str]]:
    """Participants with both enough labels and a sensor folder (release order), and why the others are skipped."""
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
    order = list(layout.participants)
    pcodes.sort(key=order.index)
    if not pcodes:
        detail = "; ".join(f"{p}: {r}" for p, r in list(skipped.items())[:5])
        raise KemoError(
            f"no participant of {layout.root} has enough labels to extract "
            f"(label {label.name}, min_responses {label.min_responses}){': ' + detail if detail else ''}"
        )
    return pcodes, skipped


def _participant_tasks(layout, labels, pcodes, features: FeatureSettings, cache, col_layout: ColumnLayout) -> list:
    """One task per participant: paths, labels and settings (never raw data), with its cache key."""
    from kemo_attention.features.task import ParticipantTask

    userinfo = _userinfo_rows(layout.userinfo_path)
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
            response_ms=part.response_ms,
        )
        tasks.append(
            ParticipantTask(
                release_root=str(layout.root),
                pcode=pcode,
                prompt_ms=tuple(int(v) for v in part.prompt_ms),
                y=tuple(int(v) for v in part.y),
                response_ms=tuple(int(v) for v in part.response_ms),
                userinfo=info,
                features=features.to_dict(),
                cache_dir=str(cache.directory) if cache else None,
                key=key,
            )
        )
    return tasks


@dataclass
class _Rows:
    """What the driver keeps of one participant once its rows are in the feature blocks."""

    pcode: str
    y: np.ndarray
    prompt_ms: np.ndarray
    cached: bool
    problems: int
    timings: dict


def _collect_rows(tasks: list, executor, cache, col_layout: ColumnLayout) -> tuple[np.ndarray, np.ndarray, list[_Rows]]:
    """The numeric and bool blocks of every participant's rows (in task order), and what
    each participant contributed.

    The blocks are allocated once (every participant's row count is known from its labels)
    and each result is copied into its rows as it arrives, then dropped: the driver holds
    one participant's arrays at a time, not the whole release's twice over. Cached
    participants are read one by one; the others run on the executor.
    """
    from kemo_attention.compute import TaskError
    from kemo_attention.features.task import run_participant

    sizes = [len(task.prompt_ms) for task in tasks]
    starts = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
    numeric = np.empty((int(starts[-1]), len(col_layout.numeric)), dtype=np.float32)
    flags = np.empty((int(starts[-1]), len(col_layout.flags)), dtype=bool)
    kept: list[_Rows | None] = [None] * len(tasks)

    def fits(i: int, result: ParticipantResult) -> bool:
        return (result.layout_hash == col_layout.hash and result.numeric.shape == (sizes[i], numeric.shape[1])
                and result.flags.shape == (sizes[i], flags.shape[1]) and len(result.y) == sizes[i])  # fmt: skip

    def put(i: int, result: ParticipantResult) -> None:
        numeric[starts[i] : starts[i + 1]] = result.numeric
        flags[starts[i] : starts[i + 1]] = result.flags
        kept[i] = _Rows(result.pcode, result.y, result.prompt_ms, result.cached, result.problems, result.timings)

    todo = []
    for i, task in enumerate(tasks):
        hit = cache.load(task.pcode, task.key) if cache is not None else None
        if hit is not None and fits(i, hit):
            put(i, hit)
        else:
            todo.append(i)
        del hit

    def arrived(j: int, result: ParticipantResult) -> None:
        i = todo[j]
        task = tasks[i]
        if not fits(i, result):  # a bug, never the user's data: the task computed other rows or columns
            raise RuntimeError(
                f"participant {task.pcode}: the task returned {result.numeric.shape[0]} rows x "
                f"{result.numeric.shape[1] + result.flags.shape[1]} columns; expected {sizes[i]} x {len(col_layout.columns)}"
            )
        put(i, result)
        if cache is not None and not cache.path(task.pcode, task.key).exists():
            cache.store(task.key, result)  # the worker could not (e.g. a read-only cache seen from a Ray node)

    if todo:
        try:
            executor.map(run_participant, [tasks[i] for i in todo], desc="extract",
                         names=[tasks[i].pcode for i in todo], on_result=arrived)  # fmt: skip
        except TaskError as err:
            raise KemoError(f"feature extraction failed: {err}") from err
    return numeric, flags, kept  # type: ignore[return-value]  # every slot is filled by now


def _assemble(numeric: np.ndarray, flags: np.ndarray, ordered: list[_Rows], label: LabelSettings,
              features: FeatureSettings, col_layout: ColumnLayout):  # fmt: skip
    """The participants' rows (already stacked in ``numeric`` and ``flags``) as one Dataset,
    with the metadata a bundle needs later. The frame is the one copy of the blocks."""
    from kemo_attention.dataset import Dataset

    X = blocks_to_frame(numeric, flags, features.coverage)
    y = np.concatenate([r.y for r in ordered])
    group = np.concatenate([np.full(len(r.y), r.pcode, dtype=object) for r in ordered]).astype(str)
    prompt_ms = np.concatenate([r.prompt_ms for r in ordered])
    day_seconds, date_times = sample_clock(prompt_ms, features.tz_offset)
    meta = {
        "feature_mode": features.mode,
        "label": asdict(label),
        "tz_offset": features.tz_offset,
        "coverage": features.coverage,
        # the columns are this layout, computable from raw records (bundles read this)
        "feature_layout_hash": col_layout.hash,
        "prompt_time_ms": [int(v) for v in prompt_ms],
    }
    return Dataset(X, y, group, day_seconds, date_times, meta=meta)


def _manifest(layout, ds, files, labels, ordered, skipped, col_layout, cache, timings, label, features, executor) -> dict:
    hits = sum(r.cached for r in ordered)
    y = ds.y
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "complete": True,
        "release": str(layout.root),
        "dataset": dict(ds.meta),
        "files": files,
        "counts": {
            "samples": int(len(y)),
            "positives": int(y.sum()),
            "negatives": int(len(y) - y.sum()),
            "participants": len(ordered),
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
        "timings": timings,
        "settings": {
            "label": label.to_dict(),
            "features": features.to_dict(),
            "backend": executor.backend,
            "workers": executor.workers,
            # the nodes that ran this extraction's tasks (none when every participant was cached)
            **({"ray_nodes": executor.nodes_used if hits < len(ordered) else []} if executor.backend == "ray" else {}),
        },
        "versions": _versions(),
    }
