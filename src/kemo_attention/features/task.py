"""One extraction task: one participant of a release, run on any backend.

Only paths, prompt times and settings travel (:class:`ParticipantTask`); the raw files are
read inside the task, once, whatever the number of labels: the task computes the feature
blocks at the union of the prompt times of every label extracted, and leaves the label
history (the only label-dependent columns) to the driver
(:mod:`kemo_attention.features.extract`). The result is written to the cache by the worker
itself, so a run that is killed halfway keeps every participant it finished.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from kemo_attention.config import FeatureSettings
from kemo_attention.features.cache import ParticipantCache, ParticipantResult
from kemo_attention.features.assemble import feature_blocks
from kemo_attention.features.layout import column_layout
from kemo_attention.features.streams import collect_streams, table_streams


@dataclass(frozen=True)
class ParticipantTask:
    """What travels to a worker: paths, prompt times and settings; never raw data."""

    release_root: str
    pcode: str
    prompt_ms: tuple[int, ...]  # sorted, distinct: the union over the labels extracted
    userinfo: dict | None
    features: dict[str, Any]
    cache_dir: str | None
    key: str


def run_participant(task: ParticipantTask) -> ParticipantResult:
    """Read one participant's raw files, build streams, compute features (label history left
    at 0), cache the result."""
    from kemo_attention.release.read import iter_participant_tables

    settings = FeatureSettings.from_dict(task.features)
    layout = column_layout(settings.coverage, settings.physio)
    # One raw table at a time: each becomes its streams and is dropped before the next is
    # read, so the peak memory holds the largest table, not all 27 of them.
    started = time.perf_counter()
    read_s = streams_s = 0.0
    problems = 0
    built = {}
    mark = started
    for type_name, frame, found in iter_participant_tables(task.release_root, task.pcode):
        problems += int(sum(p.count for p in found))
        read_at = time.perf_counter()
        built.update(table_streams(type_name, frame))
        del frame
        built_at = time.perf_counter()
        read_s += read_at - mark
        streams_s += built_at - read_at
        mark = built_at
    streams = collect_streams(built)
    del built
    streams_done = time.perf_counter()
    streams_s += streams_done - mark
    prompt = np.asarray(task.prompt_ms, dtype=np.int64)
    numeric, flags = feature_blocks(streams, prompt, userinfo=task.userinfo, past_labels=None, settings=settings)
    features_done = time.perf_counter()
    result = ParticipantResult(
        pcode=task.pcode,
        prompt_ms=prompt,
        numeric=numeric,
        flags=flags,
        layout_hash=layout.hash,
        timings={"read_s": read_s, "streams_s": streams_s, "features_s": features_done - streams_done,
                 "total_s": features_done - started},
        problems=problems,
    )
    if task.cache_dir:
        try:  # written here, so a run killed halfway keeps every finished participant
            ParticipantCache(task.cache_dir).store(task.key, result)
        except OSError:
            pass  # the driver stores it again; a read-only cache must not fail the run
    return result
