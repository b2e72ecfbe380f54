"""Small synthetic band streams (RRI, EDA, SKT) for the physiology tests.

Beats are placed one after another (each row's time = the previous row's time + its interval,
rounded to the ms), so the row times and the intervals agree to 1 ms: the adjacency rule of
``clean_nn`` and neurokit2's (time gap within 10 ms of the interval) then mark the same pairs
as successive. Missed beats (rows left out) and ectopic beats (intervals 40 % short) are
planted so the artefact rules have work.
"""

from __future__ import annotations

import numpy as np

from kemo_attention.features.streams import SPECS_BY_NAME, Stream, empty_stream

T0_MS = 1_557_241_200_000  # 2019-05-08 00:00 +09:00


def beats(rng: np.random.Generator, minutes: float, start_ms: int = T0_MS) -> tuple[np.ndarray, np.ndarray]:
    """RR rows over ``minutes``: a slow (0.1 Hz, LF) and a breathing (0.25 Hz, HF) rhythm plus
    noise; ~2 % missed beats and ~1 % ectopic ones."""
    n = int(minutes * 60 / 0.8)
    k = np.arange(n)
    base = rng.uniform(700, 950)
    rr = base + 25 * np.sin(2 * np.pi * 0.1 * k * 0.8) + 20 * np.sin(2 * np.pi * 0.25 * k * 0.8 + 1.0)
    rr += rng.normal(0, 12, n)
    ectopic = rng.random(n) < 0.01
    rr[ectopic] *= 0.6
    times = start_ms + np.rint(np.cumsum(rr)).astype(np.int64)
    rr = np.diff(np.concatenate([[start_ms], times])).astype(np.float64)  # intervals = time gaps, to the ms
    kept = rng.random(n) > 0.02
    return times[kept], rr[kept]


def eda_samples(rng: np.random.Generator, minutes: float, start_ms: int = T0_MS) -> tuple[np.ndarray, np.ndarray]:
    """Skin resistance (kOhm) at ~5 Hz: a drifting level, a few responses, one contact loss."""
    n = int(minutes * 60 * 5)
    t = start_ms + np.cumsum(rng.integers(150, 250, n))
    sec = (t - start_ms) / 1000.0
    level = 2.0 + 0.3 * np.sin(2 * np.pi * sec / 600.0)
    onsets = rng.uniform(0, sec[-1], max(1, int(minutes * 2)))
    for on in onsets:
        after = np.clip(sec - on, 0, None)
        level += rng.uniform(0.05, 0.4) * (after / 2.0) * np.exp(1 - after / 2.0) * (sec >= on)
    conductance = level + rng.normal(0, 0.005, n)
    resistance = 1000.0 / conductance
    loose = (sec > sec[-1] * 0.4) & (sec < sec[-1] * 0.45)
    resistance[loose] = 300_000.0  # the band sits loose: dropped by the range rule
    gap = (sec > sec[-1] * 0.7) & (sec < sec[-1] * 0.7 + 20)  # no samples for 20 s: a new segment
    return t[~gap], np.round(resistance[~gap])


def skin_temperature(rng: np.random.Generator, minutes: float, start_ms: int = T0_MS) -> tuple[np.ndarray, np.ndarray]:
    n = int(minutes * 2)
    t = start_ms + np.cumsum(rng.integers(29_000, 31_000, n))
    return t, np.round(33.0 + 0.01 * np.cumsum(rng.normal(0, 1, n)), 2)


def band_streams(seed: int = 0, minutes: float = 90.0) -> dict[str, Stream]:
    """Every stream of the catalogue, RRI / EDA / SKT filled, the others empty."""
    rng = np.random.default_rng(seed)
    streams = {name: empty_stream(spec) for name, spec in SPECS_BY_NAME.items()}
    for name, (t, v) in (("RRI", beats(rng, minutes)), ("EDA", eda_samples(rng, minutes)),
                         ("SKT", skin_temperature(rng, minutes))):  # fmt: skip
        # as the stream builders do: float32-rounded values held as float64
        streams[name] = Stream(SPECS_BY_NAME[name], t.astype(np.int64), v.astype(np.float32).astype(np.float64))
    return streams


def truncated(streams: dict[str, Stream], t_ms: int) -> dict[str, Stream]:
    """The streams with every sample after ``t_ms`` removed (what a live store holds at t)."""
    out = {}
    for name, s in streams.items():
        keep = s.times <= t_ms
        out[name] = Stream(s.spec, s.times[keep], s.values[keep])
    return out
