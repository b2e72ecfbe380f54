"""The planted relation (synth module docstring), measured on the written files only.

Focus in the hour before a prompt is 0.55 * s + noise, s = (attention - 0.5) / 1.5, and it
lowers heart rate (3-6 bpm per unit) and phone sessions; for 30 min after the prompt the
pull is 0.95 * s, so the post-prompt difference must be larger (the leak stands out).
"""

from __future__ import annotations

import numpy as np
import polars as pl

HOUR, HALF = 3_600_000, 1_800_000


def _window_stats(release, lo: int, hi: int):
    """Per scheduled prompt: mean HR and number of screen-on events in [T+lo, T+hi)."""
    esm = pl.read_csv(release / "SubjData" / "EsmResponse.csv").filter(pl.col("scheduledTime").is_not_null())
    rows = []
    for (pcode,), grp in esm.group_by("pcode", maintain_order=True):
        folder = release / "Sensor" / pcode
        hr = pl.read_csv(folder / "HR.csv").filter(pl.col("bpm").is_between(20, 250))
        t, bpm = hr["timestamp"].to_numpy(), hr["bpm"].to_numpy().astype(float)
        scr = pl.read_csv(folder / "ScreenEvent.csv").filter(pl.col("type") == "ON")["timestamp"].to_numpy()
        for T, att in zip(grp["scheduledTime"].to_numpy(), grp["attention"].to_numpy()):
            i, j = np.searchsorted(t, [T + lo, T + hi])
            k, m = np.searchsorted(scr, [T + lo, T + hi])
            rows.append((pcode, bool(att > 0), float(bpm[i:j].mean()) if j > i else np.nan, int(m - k)))
    return pl.DataFrame(rows, schema=["pcode", "focused", "hr", "screen_on"], orient="row")


def _within_person_gap(stats: pl.DataFrame, col: str) -> float:
    """Mean over people of (mean when attention > 0) - (mean otherwise): removes person baselines."""
    means = stats.drop_nans().group_by("pcode", "focused").agg(pl.col(col).mean())
    yes = means.filter(pl.col("focused")).select("pcode", pl.col(col).alias("yes"))
    no = means.filter(~pl.col("focused")).select("pcode", pl.col(col).alias("no"))
    both = yes.join(no, on="pcode")
    assert both.height >= 4
    return float((both["yes"] - both["no"]).mean())


def test_attention_goes_with_lower_heart_rate_and_fewer_sessions_before_the_prompt(small_release):
    before = _window_stats(small_release, -HOUR, 0)
    # Expected about -0.55 * 1.8 focus units x 3-6 bpm; diluted here because three days
    # squeeze 36 prompts close together (the previous prompt's half hour overlaps the hour).
    assert _within_person_gap(before, "hr") < -0.5  # bpm
    assert _within_person_gap(before, "screen_on") < -1.0  # sessions per hour


def test_the_half_hour_after_the_prompt_carries_a_stronger_signal(small_release):
    before = _window_stats(small_release, -HALF, 0)
    after = _window_stats(small_release, 0, HALF)
    assert _within_person_gap(after, "hr") < _within_person_gap(before, "hr") - 2.0
    assert _within_person_gap(after, "screen_on") < _within_person_gap(before, "screen_on") - 1.0
