"""Extract a whole release: one task per participant, cached, then one feature file per label.

:func:`extract_release_labels` reads each participant's raw files once for any number of
labels: the task (:func:`~kemo_attention.features.task.run_participant`) computes the
feature blocks at the union of the prompt times the labels need for that participant; the
driver then copies each label's rows out of them and fills that label's history columns
(``ESM#LIK#*``, the only columns that depend on the label). Each label gets
``<label>.pkl``, ``<label>.parquet`` and ``<label>.manifest.json`` (the label and the
SHA-256 of both files, which :func:`kemo_attention.dataset.load_dataset` checks).
:func:`extract_release` is the one-label case. The columns are
:mod:`~kemo_attention.features.layout`'s; one participant's rows are
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
from kemo_attention.dataset import Dataset, feature_manifest_path
from kemo_attention.errors import KemoError
from kemo_attention.features.cache import ParticipantCache, ParticipantResult, cache_key, code_version
from kemo_attention.features.labels import LIK_NAMES, LabelSet, ParticipantLabels, label_history, make_labels, sample_times
from kemo_attention.features.layout import ColumnLayout, blocks_to_frame, column_layout
from kemo_attention.files import atomic_write, file_sha256

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
    """Extract the feature matrix of one label and write it to ``out_dir``; returns the Dataset.

    The one-label case of :func:`extract_release_labels` (same files, same cache)."""
    return extract_release_labels(release, out_dir, labels=[label], features=features, executor=executor,
                                  cache_dir=cache_dir, use_cache=use_cache)[label.name]  # fmt: skip


def extract_release_labels(
    release,
    out_dir,
    *,
    labels: list[LabelSettings],
    features: FeatureSettings = FeatureSettings(),
    executor=None,
    cache_dir=None,
    use_cache: bool = True,
) -> dict[str, Dataset]:
    """Extract the feature matrices of several labels in one pass over the release.

    For each label writes ``<label>.pkl`` (the reference tuple), ``<label>.parquet`` and
    ``<label>.manifest.json`` (each atomically; the manifest last, with the SHA-256 of the
    other two). Every label's Dataset is exactly what extracting that label alone gives.
    ``cache_dir`` defaults to ``out_dir/.cache``; ``use_cache=False`` neither reads nor
    writes it. Returns ``{label name: Dataset}`` in the order of ``labels``.
    """
    from kemo_attention.compute import Executor
    from kemo_attention.release.layout import ReleaseLayout, find_release
    from kemo_attention.release.read import read_esm

    started = time.perf_counter()
    labels = list(labels)
    if not labels:
        raise KemoError("no label to extract; name at least one (valence, arousal, attention, stress, disturbance, change)")
    names = [settings.name for settings in labels]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise KemoError(f"label {twice[0]} is asked for twice; each label is extracted once (its files are named after it)")
    executor = executor or Executor("serial")
    out = Path(out_dir)
    layout = release if isinstance(release, ReleaseLayout) else find_release(release)
    if layout.esm_path is None:
        raise KemoError(f"{layout.root}: no EsmResponse.csv (looked in SubjData/ and the release root); labels come from it")

    esm = read_esm(layout.esm_path)
    plans = []
    for settings in labels:
        label_set = make_labels(esm, settings)
        pcodes, skipped = _participants_to_extract(layout, label_set, settings)
        plans.append(_LabelPlan(settings, label_set, pcodes, skipped))
    del esm
    t_labels = time.perf_counter()

    col_layout = column_layout(features.coverage, features.physio)
    cache = ParticipantCache(Path(cache_dir) if cache_dir else out / ".cache") if use_cache else None
    tasks = _participant_tasks(layout, plans, features, cache, col_layout)
    blocks, ran = _collect_rows(tasks, plans, executor, cache, col_layout, features.mode)
    t_parts = time.perf_counter()

    out.mkdir(parents=True, exist_ok=True)
    datasets = {}
    for plan in plans:
        begun = time.perf_counter()
        numeric, flags = blocks.pop(plan.settings.name)
        ds = _assemble(numeric, flags, plan, features, col_layout)
        del numeric, flags  # X holds its own copy now
        assembled = time.perf_counter()
        files = _write_files(ds, out, plan.settings.name)
        written = time.perf_counter()
        timings = {
            "total_s": round(written - started, 4),
            "labels_s": round(t_labels - started, 4),
            "participants_s": round(t_parts - t_labels, 4),
            "assemble_s": round(assembled - begun, 4),
            "write_s": round(written - assembled, 4),
            **{k: round(float(sum(r.timings.get(k, 0.0) for r in ran.values() if not r.cached)), 4)
               for k in ("read_s", "streams_s", "features_s")},  # fmt: skip
        }
        manifest = _manifest(layout, ds, files, plan, ran, col_layout, cache, timings, features, executor, names)
        atomic_write(feature_manifest_path(out / files["pkl"]), lambda f, text=json.dumps(manifest, indent=2): f.write(text.encode()))
        datasets[plan.settings.name] = ds
    return datasets


def _write_files(ds, out: Path, name: str) -> dict[str, str]:
    """``<name>.pkl`` and ``<name>.parquet``, and their SHA-256 (read back from disk: what a reader will hash)."""
    pkl = ds.save_pkl(out / f"{name}.pkl")
    parquet = ds.save_parquet(out / f"{name}.parquet")
    return {"pkl": pkl.name, "parquet": parquet.name, "pkl_sha256": file_sha256(pkl), "parquet_sha256": file_sha256(parquet)}


@dataclass
class _LabelPlan:
    """One label of a run: its settings, answers, the participants it keeps and skips."""

    settings: LabelSettings
    label_set: LabelSet
    pcodes: list[str]
    skipped: dict[str, str]


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


def _participant_tasks(layout, plans: list[_LabelPlan], features: FeatureSettings, cache, col_layout: ColumnLayout) -> list:
    """One task per participant any label keeps (release order): paths, the union of the
    prompt times its labels need, and settings (never raw data), with its cache key."""
    from kemo_attention.features.task import ParticipantTask

    wanted = {pcode for plan in plans for pcode in plan.pcodes}
    userinfo = _userinfo_rows(layout.userinfo_path)
    tasks = []
    for pcode in (p for p in layout.participants if p in wanted):
        prompts = [plan.label_set.participants[pcode].prompt_ms for plan in plans if pcode in plan.label_set.participants]
        union = np.unique(np.concatenate(prompts).astype(np.int64))  # sorted, each time once
        info = userinfo.get(pcode)
        key = cache_key(
            pcode=pcode,
            folder=layout.participants[pcode],
            prompt_ms=union,
            userinfo=info,
            features=features.to_dict(),
            layout_hash=col_layout.hash,
        )
        tasks.append(
            ParticipantTask(
                release_root=str(layout.root),
                pcode=pcode,
                prompt_ms=tuple(int(v) for v in union),
                userinfo=info,
                features=features.to_dict(),
                cache_dir=str(cache.directory) if cache else None,
                key=key,
            )
        )
    return tasks


@dataclass
class _Ran:
    """What the driver keeps of one participant's task once its rows are in the labels' blocks."""

    pcode: str
    cached: bool
    problems: int
    timings: dict


def label_history_block(part: ParticipantLabels, mode: str) -> np.ndarray:
    """The ``ESM#LIK#*`` columns of one participant's rows of one label (float32, in
    :data:`LIK_NAMES` order), exactly as :func:`~kemo_attention.features.assemble.feature_blocks`
    would write them: causal counts an answer from its response time on, the reference from
    its prompt time."""
    prompt, y = part.prompt_ms.tolist(), part.y.tolist()
    if mode == "causal":  # an answer is history only once given
        past = list(zip(prompt, y, part.response_ms.tolist()))
    else:  # the reference counts every earlier prompt, answered by then or not
        past = list(zip(prompt, y))
    history = label_history(sample_times(part.prompt_ms), past)
    block = np.column_stack([history[name] for name in LIK_NAMES]).astype(np.float64)
    block[~np.isfinite(block)] = 0.0  # as feature_blocks does, before its one cast to float32
    return block.astype(np.float32)


def _collect_rows(tasks: list, plans: list[_LabelPlan], executor, cache, col_layout: ColumnLayout,
                  mode: str) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, _Ran]]:  # fmt: skip
    """Each label's numeric and bool blocks (its participants in release order), and what
    each participant's task contributed.

    The blocks are allocated once per label (every participant's row count is known from
    the labels). Each participant's result, computed once at the union of its labels'
    prompt times, is copied into every label's rows as it arrives (the rows of that label's
    prompt times, then its label history), then dropped: the driver holds one participant's
    arrays at a time. Cached participants are read one by one; the others run on the executor.
    """
    from kemo_attention.compute import TaskError
    from kemo_attention.features.task import run_participant

    lik_at = [col_layout.numeric.index(name) for name in LIK_NAMES]
    blocks: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    rows_of: dict[str, list[tuple[_LabelPlan, int, int]]] = {}  # pcode -> (label, first row, end row)
    for plan in plans:
        sizes = [len(plan.label_set.participants[pcode]) for pcode in plan.pcodes]
        starts = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
        n = int(starts[-1])
        blocks[plan.settings.name] = (np.empty((n, len(col_layout.numeric)), dtype=np.float32),
                                      np.empty((n, len(col_layout.flags)), dtype=bool))  # fmt: skip
        for pcode, a, b in zip(plan.pcodes, starts[:-1], starts[1:]):
            rows_of.setdefault(pcode, []).append((plan, int(a), int(b)))
    ran: dict[str, _Ran] = {}

    def fits(task, result: ParticipantResult) -> bool:
        n = len(task.prompt_ms)
        return (result.layout_hash == col_layout.hash and result.numeric.shape == (n, len(col_layout.numeric))
                and result.flags.shape == (n, len(col_layout.flags))
                and np.array_equal(result.prompt_ms, np.asarray(task.prompt_ms, dtype=np.int64)))  # fmt: skip

    def put(task, result: ParticipantResult) -> None:
        for plan, a, b in rows_of[task.pcode]:
            part = plan.label_set.participants[task.pcode]
            at = np.searchsorted(result.prompt_ms, part.prompt_ms)  # every prompt is in the union
            numeric, flags = blocks[plan.settings.name]
            numeric[a:b] = result.numeric[at]
            flags[a:b] = result.flags[at]
            numeric[a:b, lik_at] = label_history_block(part, mode)
        ran[task.pcode] = _Ran(task.pcode, result.cached, result.problems, result.timings)

    todo = []
    for task in tasks:
        hit = cache.load(task.pcode, task.key) if cache is not None else None
        if hit is not None and fits(task, hit):
            put(task, hit)
        else:
            todo.append(task)
        del hit

    def arrived(j: int, result: ParticipantResult) -> None:
        task = todo[j]
        if not fits(task, result):  # a bug, never the user's data: the task computed other rows or columns
            raise RuntimeError(
                f"participant {task.pcode}: the task returned {result.numeric.shape[0]} rows x "
                f"{result.numeric.shape[1] + result.flags.shape[1]} columns; expected {len(task.prompt_ms)} x {len(col_layout.columns)}"
            )
        put(task, result)
        if cache is not None and not cache.path(task.pcode, task.key).exists():
            cache.store(task.key, result)  # the worker could not (e.g. a read-only cache seen from a Ray node)

    if todo:
        try:
            executor.map(run_participant, todo, desc="extract", names=[task.pcode for task in todo], on_result=arrived)
        except TaskError as err:
            raise KemoError(f"feature extraction failed: {err}") from err
    return blocks, ran


def _assemble(numeric: np.ndarray, flags: np.ndarray, plan: _LabelPlan, features: FeatureSettings, col_layout: ColumnLayout):
    """One label's rows (already stacked in ``numeric`` and ``flags``) as one Dataset, with
    the metadata a bundle needs later. The frame is the one copy of the blocks."""
    parts = [plan.label_set.participants[pcode] for pcode in plan.pcodes]
    X = blocks_to_frame(numeric, flags, features.coverage, features.physio)
    y = np.concatenate([part.y for part in parts])
    group = np.concatenate([np.full(len(part), part.pcode, dtype=object) for part in parts]).astype(str)
    prompt_ms = np.concatenate([part.prompt_ms for part in parts])
    day_seconds, date_times = sample_clock(prompt_ms, features.tz_offset)
    meta = {
        "feature_mode": features.mode,
        "label": asdict(plan.settings),
        "tz_offset": features.tz_offset,
        "coverage": features.coverage,
        **({"feature_set": features.feature_set} if features.physio else {}),
        # the columns are this layout, computable from raw records (bundles read this)
        "feature_layout_hash": col_layout.hash,
        "prompt_time_ms": [int(v) for v in prompt_ms],
    }
    return Dataset(X, y, group, day_seconds, date_times, meta=meta)


def _manifest(layout, ds, files, plan: _LabelPlan, ran: dict[str, _Ran], col_layout, cache, timings,
              features, executor, names: list[str]) -> dict:  # fmt: skip
    """The manifest of one label's files: what :func:`kemo_attention.dataset.load_dataset`
    checks (``label``, ``files``, ``sha256``) and what a reader wants to know of the run."""
    mine = [ran[pcode] for pcode in plan.pcodes]
    hits = sum(r.cached for r in mine)
    tasks_run = sum(not r.cached for r in ran.values())
    y = ds.y
    by_pcode = dict(zip(*np.unique(ds.group, return_counts=True)))
    positives = {pcode: int(y[ds.group == pcode].sum()) for pcode in plan.pcodes}
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "complete": True,
        "label": plan.settings.name,
        "release": str(layout.root),
        "dataset": dict(ds.meta),
        "files": {"pkl": files["pkl"], "parquet": files["parquet"]},
        "sha256": {"pkl": files["pkl_sha256"], "parquet": files["parquet_sha256"]},
        # the labels of the same run: their prompts share one feature computation per participant
        "extracted_with": [name for name in names if name != plan.settings.name],
        "counts": {
            "samples": int(len(y)),
            "positives": int(y.sum()),
            "negatives": int(len(y) - y.sum()),
            "participants": len(plan.pcodes),
            "participants_skipped": len(plan.skipped),
            "responses_total": plan.label_set.responses_total,
            "responses_used": plan.label_set.responses_used,
            "features": len(col_layout.columns),
            "bool_features": len(col_layout.flags),
            "numeric_features": len(col_layout.numeric),
        },
        "skipped": dict(sorted(plan.skipped.items())),
        "participants": {
            r.pcode: {
                "samples": int(by_pcode[r.pcode]),
                "positives": positives[r.pcode],
                "cached": bool(r.cached),
                "problems": int(r.problems),
                "timings": {k: round(v, 4) for k, v in r.timings.items()},
            }
            for r in mine
        },
        "cache": {
            "enabled": cache is not None,
            "dir": str(cache.directory) if cache else None,
            "hits": int(hits),
            "misses": int(len(mine) - hits),
        },
        "timings": timings,
        "settings": {
            "label": plan.settings.to_dict(),
            "features": features.to_dict(),
            "backend": executor.backend,
            "workers": executor.workers,
            # the nodes that ran this extraction's tasks (none when every participant was cached)
            **({"ray_nodes": executor.nodes_used if tasks_run else []} if executor.backend == "ray" else {}),
        },
        "versions": _versions(),
    }
