"""Small vectorised helpers shared by the demo generators (times, latent processes, frames).

Everything works on whole arrays: a stream of three million accelerometer rows is built
with a handful of numpy calls, never a Python loop over rows.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.signal import lfilter

from kemo_attention.release.schema import DATA_TYPES, TIMESTAMP

MINUTE_MS = 60_000
DAY_MIN = 1440


def ou(n: int, tau: float, rng: np.random.Generator, sd: float = 1.0) -> np.ndarray:
    """A stationary Ornstein-Uhlenbeck (AR(1)) series of ``n`` steps, time constant ``tau`` steps."""
    if n == 0:
        return np.zeros(0)
    a = float(np.exp(-1.0 / tau))
    noise = rng.standard_normal(n) * np.sqrt(1.0 - a * a)
    # Start in the stationary distribution so the first hours look like the rest.
    out, _ = lfilter([1.0], [1.0, -a], noise, zi=[a * rng.standard_normal()])
    return out * sd


def regular_times(t0: int, t1: int, period_ms: float, rng: np.random.Generator, jitter: float = 0.05) -> np.ndarray:
    """Sample times from ``t0`` to ``t1`` every ``period_ms`` with a little jitter; strictly increasing."""
    n = int((t1 - t0) / period_ms)
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    base = t0 + (np.arange(n) + rng.random()) * period_ms
    # Jitter below half a period keeps the order, so the stream stays sorted.
    base += (rng.random(n) - 0.5) * (2 * jitter * period_ms)
    times = np.floor(base).astype(np.int64)
    # Rounding to whole ms could tie two samples at very short periods; nudge ties forward.
    return _strictly_increasing(times)


def _strictly_increasing(times: np.ndarray) -> np.ndarray:
    """Sorted times nudged forward by whole ms where they tie (ties are rare and short)."""
    out = times.copy()
    while True:
        ties = np.nonzero(np.diff(out) <= 0)[0]
        if ties.size == 0:
            return out
        out[ties + 1] = out[ties] + 1


def distinct_times(times: np.ndarray) -> np.ndarray:
    """The same times, moved by a ms or two where two events would share one (any input order)."""
    order = np.argsort(times, kind="stable")
    out = np.empty_like(times)
    out[order] = _strictly_increasing(np.asarray(times)[order])
    return out


def minute_index(times: np.ndarray, t0: int, n_minutes: int) -> np.ndarray:
    """Index of the minute (since ``t0``) each time falls in, clipped to the study period."""
    return np.clip((times - t0) // MINUTE_MS, 0, n_minutes - 1).astype(np.int64)


def thin(times: np.ndarray, factor: np.ndarray, t0: int, rng: np.random.Generator) -> np.ndarray:
    """Keep each time with probability ``factor[minute]`` (1 = worn and awake, 0 = no data)."""
    if times.size == 0:
        return times
    p = factor[minute_index(times, t0, factor.size)]
    return times[rng.random(times.size) < p]


def at_times(per_minute: np.ndarray, times: np.ndarray, t0: int) -> np.ndarray:
    """Linear interpolation of a per-minute series (values at minute centres) at ``times``."""
    x = (times - t0) / MINUTE_MS
    return np.interp(x, np.arange(per_minute.size) + 0.5, per_minute)


def cumulative_at(increments: np.ndarray, times: np.ndarray, t0: int, start: float = 0.0) -> np.ndarray:
    """A counter that grows by ``increments[m]`` evenly over minute m, read at ``times``.

    Non-decreasing by construction, as the band's totals (steps, calories ...) are.
    """
    edges = np.concatenate([[start], start + np.cumsum(increments)])
    x = (times - t0) / MINUTE_MS
    return np.interp(x, np.arange(edges.size), edges)


def today_at(increments: np.ndarray, times: np.ndarray, t0: int) -> np.ndarray:
    """Like :func:`cumulative_at`, but reset at every local midnight (``t0`` is a local midnight)."""
    total = cumulative_at(increments, times, t0)
    edges = np.concatenate([[0.0], np.cumsum(increments)])
    day_start = ((times - t0) // (DAY_MIN * MINUTE_MS)) * DAY_MIN
    return total - edges[np.clip(day_start, 0, edges.size - 1)]


def pick(labels, codes) -> pl.Series:
    """Strings ``labels[codes]`` as a polars Series (much faster than numpy string arrays)."""
    return pl.Series(list(labels), dtype=pl.Utf8).gather(np.asarray(codes, dtype=np.int64))


def bool_text(values: np.ndarray) -> pl.Series:
    """Booleans as the release writes them ("True"/"False")."""
    return pick(("False", "True"), np.asarray(values, dtype=bool).astype(np.int64))


def hex_ids(rng: np.random.Generator, n: int, nbytes: int = 16) -> list[str]:
    """``n`` random lower-case hex strings (anonymised phone numbers, Wi-Fi ids)."""
    raw = rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8)
    return [bytes(r).hex() for r in raw]


def uuid_ids(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` UUID-shaped strings, as the release's anonymised BSSIDs."""
    return [f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:32]}" for h in hex_ids(rng, n)]


def frame(type_name: str, times: np.ndarray, **columns) -> pl.DataFrame:
    """A table in the release's canonical column order (``timestamp`` first), sorted by time.

    Refuses a column set that differs from the schema, so a typo cannot ship a wrong header.
    """
    dtype = DATA_TYPES[type_name]
    expected = list(dtype.column_names)
    if sorted(columns) != sorted(expected):
        raise ValueError(f"{type_name}: columns {sorted(columns)} differ from the schema's {sorted(expected)}")
    times = np.asarray(times, dtype=np.int64)
    data = {TIMESTAMP: times}
    for name in expected:
        data[name] = columns[name]
    df = pl.DataFrame(data)
    if times.size > 1 and np.any(times[1:] < times[:-1]):  # most generators already emit in order
        df = df[np.argsort(times, kind="stable")]
    return df


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, end)`` index pairs of the runs of True in a boolean array (end exclusive)."""
    edges = np.diff(np.concatenate([[0], np.asarray(mask, dtype=np.int8), [0]]))
    return list(zip(np.nonzero(edges == 1)[0].tolist(), np.nonzero(edges == -1)[0].tolist()))
