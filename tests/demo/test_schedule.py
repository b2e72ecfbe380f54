"""Prompt schedules: real times of day and gaps, enough prompts for the >= 35 rule."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from kemo_attention.demo.schedule import REAL_ESM_PATH, plan_schedules
from kemo_attention.demo.synth import study_start_ms

T0 = study_start_ms()
DAY = 86_400_000
TZ = 9 * 3_600_000


def _real() -> pl.DataFrame:
    """The shipped real file, parsed here independently of the demo code (legacy headers)."""
    df = pl.read_csv(REAL_ESM_PATH, infer_schema_length=0)
    return df.select(pl.col("Pcode"), pl.col("ScheduledTime").cast(pl.Int64), pl.col("Attention").cast(pl.Int64))


@pytest.mark.parametrize("n,days", [(14, 7), (20, 2), (3, 1)])
def test_every_participant_has_at_least_35_scheduled_prompts(n, days):
    plans = plan_schedules(n, days, T0, seed=0)
    assert [p.pcode for p in plans] == [f"P{i:02d}" for i in range(1, n + 1)]
    for p in plans:
        t = p.rows["scheduledTime"].to_numpy()
        assert len(t) >= 35
        assert t.min() >= T0 and t.max() < T0 + days * DAY
        assert np.all(np.diff(t) > 0)  # sorted, no two prompts at once
        hours = ((t + TZ) % DAY) / 3_600_000
        assert hours.min() >= 9.7 and hours.max() <= 22.4  # the real prompts' day: 10:00-22:00
        delay = p.rows["responseTime"].to_numpy() - t
        assert delay.min() > 0 and delay.max() < 15 * 60_000


def test_schedules_keep_the_real_times_of_day_and_gaps():
    real = _real()
    plans = plan_schedules(14, 7, T0, seed=0)
    assert len({p.source for p in plans}) == 14  # 14 different real people
    untouched = [p for p in plans if p.topped_up == 0]
    assert len(untouched) >= 10
    for p in untouched:
        mine = p.rows["scheduledTime"].to_numpy()
        theirs = np.sort(real.filter(pl.col("Pcode") == p.source)["ScheduledTime"].to_numpy())[: len(mine)]
        assert np.array_equal(np.diff(mine), np.diff(theirs))
        assert np.array_equal((mine + TZ) % DAY, (theirs + TZ) % DAY)
        assert np.array_equal(p.rows["attention"].to_numpy(), real.filter(pl.col("Pcode") == p.source).sort("ScheduledTime")["Attention"].to_numpy()[: len(mine)])


def test_label_distribution_stays_close_to_the_real_one(small_release):
    real_share = float((_real()["Attention"] > 0).mean())  # 0.50 in the shipped file
    esm = pl.read_csv(small_release / "SubjData" / "EsmResponse.csv").filter(pl.col("scheduledTime").is_not_null())
    share = float((esm["attention"] > 0).mean())
    assert abs(share - real_share) < 0.15
    assert esm.group_by("pcode").len()["len"].min() >= 35


def test_seed_changes_which_real_people_are_borrowed():
    a = [p.source for p in plan_schedules(10, 7, T0, seed=0)]
    b = [p.source for p in plan_schedules(10, 7, T0, seed=1)]
    assert a != b


def test_release_reader_and_direct_parse_agree_on_the_real_file():
    """The demo's bytes must not depend on which of its two parsers read the real file."""
    from kemo_attention.demo.schedule import ESM_NAMES, _read_direct
    from kemo_attention.release import read

    direct = _read_direct(REAL_ESM_PATH)
    via_reader = read.read_esm(REAL_ESM_PATH).select(list(ESM_NAMES))
    assert direct.height == via_reader.height == 1966
    assert direct.equals(via_reader.cast({n: pl.Int64 for n in ESM_NAMES if n != "pcode"}))


def test_demo_people_differ_in_how_often_they_are_focused():
    # Each demo person borrows a real person's answers, so base rates differ as real ones do;
    # with one shared base rate, recognising a person would be worth nothing to a model and a
    # participant leak could not show in the evaluation tests.
    plans = plan_schedules(24, 7, T0, seed=0)  # the default demo size
    shares = np.array([float((p.rows["attention"].to_numpy() > 0).mean()) for p in plans])  # y = attention > 0
    assert shares.max() - shares.min() > 0.4
    assert shares.std() > 0.1
