"""Labels: which self-reports become samples, their binary value, and the label history.

The reference protocol (kemophone-data.md, "The attention label"), each step a setting of
:class:`~kemo_attention.config.LabelSettings`:

1. keep scheduled responses only (``scheduledTime`` present);
2. drop participants with fewer than ``min_responses`` such responses;
3. y = value > threshold (or > the participant's own mean + threshold);
4. anchor each sample at ``scheduledTime`` (the prompt time T); features use data up to
   the sample time t = T - 1 ms.

Responses whose label value is empty are not usable and are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from kemo_attention.config import LabelSettings
from kemo_attention.errors import DataError

# Label-history windows: ESM#LIK#H06 / H12 / H24.
LIK_WINDOWS: tuple[tuple[str, int], ...] = (("H06", 6 * 3_600_000), ("H12", 12 * 3_600_000), ("H24", 24 * 3_600_000))
LIK_NAMES: tuple[str, ...] = tuple(f"ESM#LIK#{w}" for w, _ in LIK_WINDOWS)


def sample_times(prompt_ms: np.ndarray) -> np.ndarray:
    """The features' sample time, T - 1 ms: a prompt at exactly 12:00:00.000 is described by
    data up to 11:59:59.999 (``t`` in spec/features.md; distinct from ``Dataset.day_seconds``)."""
    return np.asarray(prompt_ms, dtype=np.int64) - 1


@dataclass
class ParticipantLabels:
    """One participant's samples, in prompt-time order (stable among equal times)."""

    pcode: str
    prompt_ms: np.ndarray  # int64, the anchor T of each sample
    value: np.ndarray  # the raw self-report value (float64)
    y: np.ndarray  # int64 0/1
    response_ms: np.ndarray | None = None  # int64, when each answer was given (known from then on)

    def __len__(self) -> int:
        return int(self.prompt_ms.shape[0])


@dataclass
class LabelSet:
    """The kept participants' labels, and the participants left out with the reason."""

    participants: dict[str, ParticipantLabels]
    skipped: dict[str, str] = field(default_factory=dict)
    responses_total: int = 0  # rows of the ESM file
    responses_used: int = 0  # after the scheduled-only and empty-value filters


def make_labels(esm: pl.DataFrame, settings: LabelSettings = LabelSettings()) -> LabelSet:
    """Apply the label protocol to the ESM frame of ``read_esm`` (canonical column names)."""
    need = ("pcode", "scheduledTime", "responseTime", settings.name)
    missing = [c for c in need if c not in esm.columns]
    if missing:
        raise DataError(f"ESM responses lack column(s) {', '.join(missing)}", file="EsmResponse.csv", column=missing[0])
    frame = esm.select(
        pl.col("pcode").cast(pl.String),
        pl.col("scheduledTime").cast(pl.Int64),
        pl.col("responseTime").cast(pl.Int64),
        pl.col(settings.name).cast(pl.Float64).alias("value"),
    ).with_row_index("row")
    total = frame.height
    everyone = sorted(set(frame.get_column("pcode").drop_nulls().to_list()))
    if settings.scheduled_only:
        frame = frame.filter(pl.col("scheduledTime").is_not_null())
        anchor = pl.col("scheduledTime")
    else:  # voluntary responses have no prompt: anchor them at their response time
        anchor = pl.coalesce(pl.col("scheduledTime"), pl.col("responseTime"))
    frame = (
        frame.with_columns(anchor.alias("prompt_ms"))
        .filter(pl.col("pcode").is_not_null() & pl.col("prompt_ms").is_not_null())
        .filter(pl.col("value").is_not_null() & pl.col("value").is_not_nan())
        .sort(["pcode", "prompt_ms", "row"])  # row keeps file order among equal prompt times
    )
    counts = dict(frame.group_by("pcode").len().iter_rows())
    skipped: dict[str, str] = {}
    kept: dict[str, ParticipantLabels] = {}
    what = "scheduled responses" if settings.scheduled_only else "responses"
    for pcode in everyone:
        n = int(counts.get(pcode, 0))
        if n < settings.min_responses:
            skipped[pcode] = f"{n} {what} with a {settings.name} value, fewer than the minimum {settings.min_responses}"
    for (pcode,), part in frame.filter(~pl.col("pcode").is_in(list(skipped))).group_by(["pcode"], maintain_order=True):
        value = part.get_column("value").to_numpy().astype(np.float64)
        cut = settings.threshold
        if settings.threshold_kind == "participant_mean":
            cut = float(value.mean()) + settings.threshold
        kept[pcode] = ParticipantLabels(
            pcode=pcode,
            prompt_ms=part.get_column("prompt_ms").to_numpy().astype(np.int64),
            value=value,
            y=(value > cut).astype(np.int64),
            response_ms=part.get_column("responseTime").fill_null(part.get_column("prompt_ms")).to_numpy().astype(np.int64),
        )
    used = int(sum(len(p) for p in kept.values()))
    return LabelSet(dict(sorted(kept.items())), skipped, total, used)


def label_history(t_ms: np.ndarray, past_labels: list[tuple[int, ...]] | None) -> dict[str, np.ndarray]:
    """``ESM#LIK#H06/H12/H24``: among the labels with prompt time in [t - W, t], the share
    equal to 1 (0 when there is none). Since t = T - 1 ms, only earlier prompts count.

    ``past_labels`` holds ``(prompt_ms, y)`` pairs, or ``(prompt_ms, y, known_ms)`` triples:
    with a third item a label counts at t only once it was known (``known_ms <= t``, its
    response time). Causal extraction passes triples: an earlier prompt answered after T is
    not yet an answer at T. The reference (and its spec) counts by prompt time alone."""
    t = np.asarray(t_ms, dtype=np.int64)
    out = {name: np.zeros(t.shape[0], dtype=np.float64) for name in LIK_NAMES}
    if not past_labels:
        return out
    width_of_item = len(past_labels[0])
    arr = np.asarray(past_labels, dtype=np.int64).reshape(-1, width_of_item)
    order = np.argsort(arr[:, 0], kind="stable")
    times, ones = arr[order, 0], (arr[order, 1] == 1).astype(np.int64)
    if width_of_item == 3:
        # A few hundred answers and prompts per person: the whole (prompt x answer) table is small.
        known = arr[order, 2][None, :] <= t[:, None]

        def counts(width: int) -> tuple[np.ndarray, np.ndarray]:
            inside = known & (times[None, :] >= t[:, None] - width) & (times[None, :] <= t[:, None])
            return inside.sum(axis=1), (inside * ones[None, :]).sum(axis=1)
    else:
        cum = np.concatenate([[0], np.cumsum(ones)])
        hi = np.searchsorted(times, t, side="right")

        def counts(width: int) -> tuple[np.ndarray, np.ndarray]:
            lo = np.searchsorted(times, t - width, side="left")
            return hi - lo, cum[hi] - cum[lo]
    for (_, width), name in zip(LIK_WINDOWS, LIK_NAMES):
        n, n_ones = counts(width)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[name] = np.where(n > 0, n_ones / np.maximum(n, 1), 0.0)
    return out
