"""One participant's feature rows: streams -> the numeric and bool blocks -> a frame.

:func:`features_for_prompts` is what serving and the dashboard call; extraction builds the
same streams table by table as it reads them, then runs :func:`feature_blocks` once per
participant (:mod:`~kemo_attention.features.task`). NaN, infinite and undefined values become 0 / false.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl

from kemo_attention.config import FeatureSettings
from kemo_attention.features import window
from kemo_attention.features.context import participant_info, time_of_prompt
from kemo_attention.features.labels import label_history, sample_times
from kemo_attention.features.layout import blocks_to_frame, column_layout
from kemo_attention.features.physio import physio_features
from kemo_attention.features.streams import STREAM_SPECS, Stream, build_streams


def feature_blocks(
    streams: dict[str, Stream],
    prompt_times_ms: np.ndarray,
    *,
    userinfo: dict | None,
    past_labels: list[tuple[int, int]] | None,
    settings: FeatureSettings = FeatureSettings(),
) -> tuple[np.ndarray, np.ndarray]:
    """The numeric (float32) and bool blocks of one participant's rows, in layout order."""
    layout = column_layout(settings.coverage, settings.physio)
    prompt = np.asarray(prompt_times_ms, dtype=np.int64).reshape(-1)
    # the features' time (prompt minus 1 ms); not Dataset.day_seconds, the files' "t"
    sample_ms = sample_times(prompt)
    n = sample_ms.shape[0]
    values: dict[str, np.ndarray] = {}
    values.update(participant_info(userinfo, n))
    values.update(time_of_prompt(sample_ms, settings.tz_offset))
    for spec, names in zip(STREAM_SPECS, layout.stream_names):
        stream = streams[spec.name]
        got = window.stream_features(
            stream, sample_ms, mode=settings.mode, coverage=settings.coverage, present=len(stream.times) > 0
        )
        missing = [name for name in names if name not in got]
        if missing:
            raise RuntimeError(f"window engine gave no value for {len(missing)} feature(s) of {spec.name}, e.g. {missing[0]}")
        for name in names:
            values[name] = got[name]
    values.update(label_history(sample_ms, past_labels))
    if settings.physio:
        values.update(physio_features(streams, sample_ms))

    numeric = np.zeros((n, len(layout.numeric)), dtype=np.float64)
    for j, name in enumerate(layout.numeric):
        numeric[:, j] = values[name]
    numeric[~np.isfinite(numeric)] = 0.0  # NaN / inf / undefined -> 0
    flags = np.zeros((n, len(layout.flags)), dtype=bool)
    for j, name in enumerate(layout.flags):
        col = np.asarray(values[name])
        flags[:, j] = np.nan_to_num(col, nan=0.0).astype(bool) if col.dtype.kind == "f" else col.astype(bool)
    return numeric.astype(np.float32), flags


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
    return blocks_to_frame(numeric, flags, settings.coverage, settings.physio)
