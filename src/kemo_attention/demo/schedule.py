"""Prompt schedules and answers of the demo participants, built on a real ESM schedule.

``data/EsmResponse-1966.csv`` holds 1,966 real scheduled responses of 63 K-EmoPhone
participants (MIT licence, see ``data/README.md``). Each demo participant borrows one real
participant's schedule: their prompts are shifted by whole days onto the demo study period,
so times of day, gaps between prompts and the answers themselves stay real. A real
participant with too few prompts in the demo period is topped up with extra prompts at
their own real times of day (answers resampled from their own rows), so that every demo
participant keeps at least :data:`MIN_SCHEDULED` scheduled responses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from kemo_attention.demo.util import DAY_MIN, MINUTE_MS
from kemo_attention.release.schema import ESM_COLUMNS

REAL_ESM_PATH = Path(__file__).parent / "data" / "EsmResponse-1966.csv"
DAY_MS = DAY_MIN * MINUTE_MS
# One above the reference protocol's minimum (35), so the demo survives it with room.
MIN_SCHEDULED = 36
ANSWERS = ("valence", "arousal", "attention", "stress", "duration", "disturbance", "change")
ESM_NAMES = tuple(c.name for c in ESM_COLUMNS)
# Real prompts came between 10:00 and 22:00 local time, at least 40 minutes apart.
PROMPT_FIRST_MIN, PROMPT_LAST_MIN, PROMPT_GAP_MIN = 10 * 60, 22 * 60, 40


@dataclass
class PromptPlan:
    """One demo participant's scheduled prompts (sorted) and their answers."""

    pcode: str
    source: str  # the real participant whose schedule and answers it borrows
    rows: pl.DataFrame  # scheduledTime, responseTime, the seven answers (Int64)
    pool: pl.DataFrame  # the real participant's rows, to draw answers of voluntary responses
    topped_up: int  # prompts added at resampled real times of day


def load_real_esm(path: Path = REAL_ESM_PATH) -> pl.DataFrame:
    """The real scheduled responses with canonical lower-camel names (times in epoch ms).

    Uses the release reader when it is available, so the demo reads the file exactly as a
    user's release is read; otherwise parses the legacy headers directly.
    """
    df = None
    try:
        from kemo_attention.release.read import read_esm
    except ImportError:
        read_esm = None
    if read_esm is not None:
        from kemo_attention.errors import KemoError

        try:
            df = read_esm(path)
        except KemoError:
            df = None
    if df is None:
        df = _read_direct(path)
    df = df.select([pl.col(n).cast(pl.Utf8 if n == "pcode" else pl.Int64) for n in ESM_NAMES])
    return df.filter(pl.col("scheduledTime").is_not_null()).sort("pcode", "scheduledTime", maintain_order=True)


def _read_direct(path: Path) -> pl.DataFrame:
    raw = pl.read_csv(path, infer_schema_length=0)
    by_lower = {c.lower(): c for c in raw.columns}
    missing = [n for n in ESM_NAMES if n.lower() not in by_lower]
    if missing:
        from kemo_attention.errors import DataError

        raise DataError(f"expected columns {', '.join(missing)}", file=str(path))
    # "#N/A" (21 durations in the real file) becomes a missing value.
    return raw.select(
        [pl.col(by_lower[n.lower()]).alias(n) if n == "pcode" else pl.col(by_lower[n.lower()]).cast(pl.Int64, strict=False).alias(n) for n in ESM_NAMES]
    )


def _shift_onto(rows: pl.DataFrame, t0: int, days: int, tz_ms: int) -> pl.DataFrame:
    """Move a real schedule by whole days so its first local day is the demo's first day."""
    first_local_day = (int(rows["scheduledTime"].min()) + tz_ms) // DAY_MS
    shift = t0 - (first_local_day * DAY_MS - tz_ms)
    end = t0 + days * DAY_MS
    return rows.with_columns(pl.col("scheduledTime") + shift, pl.col("responseTime") + shift).filter(
        pl.col("scheduledTime") < end
    )


def plan_schedules(n: int, days: int, t0: int, seed: int, tz_ms: int = 9 * 3_600_000) -> list[PromptPlan]:
    """Schedules for ``n`` demo participants over ``days`` days from ``t0`` (a local midnight, UTC ms)."""
    rng = np.random.default_rng([seed, 7_001])
    real = load_real_esm()
    by_pcode = {k[0]: g for k, g in real.group_by("pcode", maintain_order=True)}
    shifted = {p: _shift_onto(g, t0, days, tz_ms) for p, g in by_pcode.items()}
    counts = {p: s.height for p, s in shifted.items()}
    eligible = sorted(p for p, c in counts.items() if c >= MIN_SCHEDULED)
    eligible = [eligible[i] for i in rng.permutation(len(eligible))]
    others = sorted((p for p in counts if p not in eligible), key=lambda p: (-counts[p], p))
    order = eligible + others
    plans = []
    for i in range(n):
        source = order[i % len(order)]
        rows = shifted[source]
        prng = np.random.default_rng([seed, 7_002, i])
        if i >= len(order):
            # A second use of the same real schedule: move each prompt a little so no two
            # demo participants are copies.
            jitter = prng.integers(-15, 16, rows.height) * MINUTE_MS
            rows = rows.with_columns(pl.col("scheduledTime") + jitter, pl.col("responseTime") + jitter)
        rows, added = _top_up(rows, by_pcode[source], t0, days, prng, tz_ms)
        plans.append(
            PromptPlan(
                pcode=demo_pcode(i),
                source=source,
                rows=rows.select(["scheduledTime", "responseTime", *ANSWERS]).sort("scheduledTime"),
                pool=by_pcode[source],
                topped_up=added,
            )
        )
    return plans


def demo_pcode(i: int) -> str:
    return f"P{i + 1:02d}"


def _top_up(rows: pl.DataFrame, pool: pl.DataFrame, t0: int, days: int, rng: np.random.Generator, tz_ms: int):
    """Add prompts at the real participant's own times of day until there are MIN_SCHEDULED."""
    need = MIN_SCHEDULED - rows.height
    if need <= 0:
        return rows, 0
    tod = (((pool["scheduledTime"].to_numpy() + tz_ms) % DAY_MS) // MINUTE_MS).astype(np.int64)
    taken = list(((rows["scheduledTime"].to_numpy() - t0) // MINUTE_MS).astype(np.int64))
    new_min: list[int] = []
    # Real prompts are >= 40 min apart; a very short study needs them closer to fit (half
    # of the 10:00-22:00 window filled at most, so random placement finds room quickly).
    window = PROMPT_LAST_MIN - PROMPT_FIRST_MIN
    gap = max(1, min(PROMPT_GAP_MIN, days * window // (2 * MIN_SCHEDULED)))
    attempts = 0
    while len(new_min) < need:
        attempts += 1
        if attempts % 500 == 0:
            gap = max(1, gap // 2)
        m = int(rng.integers(0, days)) * DAY_MIN + int(np.clip(rng.choice(tod) + rng.integers(-20, 21), PROMPT_FIRST_MIN, PROMPT_LAST_MIN))
        existing = np.asarray(taken + new_min)
        if existing.size and np.min(np.abs(existing - m)) < gap:
            continue
        new_min.append(m)
    picks = pool.sample(n=need, with_replacement=True, seed=int(rng.integers(0, 2**31)))
    delay = (picks["responseTime"] - picks["scheduledTime"]).to_numpy()
    sched = t0 + np.asarray(new_min, dtype=np.int64) * MINUTE_MS
    extra = picks.with_columns(
        pl.Series("scheduledTime", sched, dtype=pl.Int64),
        pl.Series("responseTime", sched + delay, dtype=pl.Int64),
    )
    return pl.concat([rows, extra.select(rows.columns)]), need


def voluntary_responses(
    plan: PromptPlan, times_ms: np.ndarray, attention: np.ndarray, rng: np.random.Generator
) -> pl.DataFrame:
    """Self-initiated responses (no ``scheduledTime``): attention as given, other items real."""
    n = len(times_ms)
    picks = plan.pool.sample(n=n, with_replacement=True, seed=int(rng.integers(0, 2**31))) if n else plan.pool.head(0)
    return picks.with_columns(
        pl.Series("scheduledTime", [None] * n, dtype=pl.Int64),
        pl.Series("responseTime", np.asarray(times_ms, dtype=np.int64), dtype=pl.Int64),
        pl.Series("attention", np.asarray(attention, dtype=np.int64), dtype=pl.Int64),
    ).select(["scheduledTime", "responseTime", *ANSWERS])


def esm_frame(pcode: str, scheduled: pl.DataFrame, voluntary: pl.DataFrame) -> pl.DataFrame:
    """EsmResponse rows of one participant in canonical column order, by response time."""
    both = pl.concat([scheduled, voluntary]).sort("responseTime", maintain_order=True)
    return both.with_columns(pl.lit(pcode).alias("pcode")).select(list(ESM_NAMES))


def user_info(pcode: str, start_date: str, index: int, rng: np.random.Generator) -> dict:
    """One UserInfo row in the release's ranges (age 21.9 +- 3.9, Big Five 3..15, PSS 3..32 ...)."""

    def score(mean: float, sd: float, lo: int, hi: int) -> int:
        return int(np.clip(round(rng.normal(mean, sd)), lo, hi))

    # P01 is a man and P02 a woman, so both genders are always present; then ~31 % women.
    gender = "M" if index == 0 else "F" if index == 1 else ("F" if rng.random() < 0.31 else "M")
    return {
        "pcode": pcode,
        "participationStartDate": start_date,
        "age": score(21.9, 3.0, 18, 35),
        "gender": gender,
        "openness": score(10, 2.2, 3, 15),
        "conscientiousness": score(9.5, 2.2, 3, 15),
        "neuroticism": score(8.5, 2.5, 3, 15),
        "extraversion": score(9, 2.6, 3, 15),
        "agreeableness": score(10.5, 2.0, 3, 15),
        "PSS": score(17, 6, 3, 32),
        "PHQ": score(6, 4, 0, 19),
        "GHQ": score(10, 5, 1, 27),
    }
