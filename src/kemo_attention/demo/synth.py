"""Built-in demo data: a release-shaped folder that the whole tool runs on without the real data.

``write_demo_release(out)`` writes::

    <out>/SubjData/EsmResponse.csv   canonical lower-camel columns; real prompt schedule and answers
    <out>/SubjData/UserInfo.csv      one row per participant, in the release's ranges
    <out>/Sensor/P01/<Type>.csv      all 27 types of ``release.schema.DATA_TYPES``

Timestamps are epoch milliseconds (UTC); days follow Korean local time (+09:00): sleep at
night (band off or sparse, screen off), classes on campus by day, a commute, lunch; the band
charges for about an hour a day and stays off the wrist for one to three blocks of 1-3 h
(the release's band recorded ~8-9 h a day). Sampling
periods are the release's at ``scale=1.0`` (ACC ~8 Hz, EDA 5 Hz, AML 2 Hz, HR/CAL/DST/STP
~1 Hz, RRI per beat, SKT 30 s, ULV 60 s, DataTraffic 15 s, Wi-Fi scans of several rows);
``scale`` multiplies the rates of the dense band streams only.

Prompts and answers are real (``data/EsmResponse-1966.csv``, see ``schedule.py``): each demo
participant borrows one real participant's schedule, moved by whole days onto the demo
period, and keeps at least 36 scheduled responses; about one voluntary response a day
(empty ``scheduledTime``) is added.

The planted relation
--------------------
A latent per-minute **focus** state (Ornstein-Uhlenbeck, SD 1, time constant 40 min)
drives the sensors. Around each scheduled prompt with attention answer ``a``, with
``s = (a - 0.5) / 1.5``:

=====================  ==========================================================
hour before the prompt focus = 0.55 * s + 0.84 * background  (what an honest model sees)
30 min after it        focus = 0.95 * s + 0.31 * background  (stronger: a leak shows)
=====================  ==========================================================

Focus reaches the streams through each person's own baselines and effect sizes
(``timeline.Person``; an overall effect multiplier 0.55-1.45 per person):

=========================  ===================================================================
HR (HRT), RRI              bpm lower by 3-6 per unit of focus (x effect); steadier (smaller spread)
EDA                        skin resistance higher (log +0.12..0.3 per unit)
Acceleration (ACC_MAG)     idle wrist movement SD lower (log -0.25..0.5 per unit)
walking, StepCount, DST    short walks rarer (log -0.4..0.8 per unit); fewer fidget steps
ScreenEvent                sessions rarer (log -0.35..0.7 per unit)
AppUsageEvent              fewer app switches per session (log -0.25..0.5 per unit)
=========================  ===================================================================

Voluntary answers follow the focus of the hour before them (plus noise). Everything else
(places, commutes, charging, Wi-Fi, light) does not depend on focus. An honest grouped
cross-validation should land around ROC AUC 0.65-0.8; one that uses data after the prompt
scores visibly higher.

Dirt planted on purpose (missing file, header-only file, duplicated timestamps, rows out of
order, a repeated header row, out-of-range values) is listed in ``dirt.py``.
"""

from __future__ import annotations

import datetime as dt
import numbers
from pathlib import Path

import numpy as np
import polars as pl

from kemo_attention.demo.band import band_tables
from kemo_attention.demo.dirt import apply_dirt, planted_dirt
from kemo_attention.demo.phone_context import phone_context_tables
from kemo_attention.demo.phone_use import phone_use_tables
from kemo_attention.demo.schedule import PromptPlan, esm_frame, plan_schedules, user_info, voluntary_responses
from kemo_attention.demo.timeline import build_timeline, draw_person
from kemo_attention.demo.util import MINUTE_MS
from kemo_attention.errors import KemoError
from kemo_attention.files import atomic_folder
from kemo_attention.release.schema import DATA_TYPES, ESM_FILE, USERINFO_COLUMNS, USERINFO_FILE

# Sizes that `kemo-attention demo` uses: the whole demo (write, read, extract 3,356
# features, 6 models x 5-fold CV) in about five minutes on two cores.
DEMO_PARTICIPANTS: int = 24
DEMO_DAYS: int = 7
DEMO_SCALE: float = 0.1

START_DATE = dt.date(2019, 5, 6)  # a Monday in the real study's season
TZ_HOURS = 9
TZ_MS = TZ_HOURS * 3_600_000
VOLUNTARY_PER_DAY = 1.0


def study_start_ms(start: dt.date = START_DATE) -> int:
    """UTC epoch ms of local midnight (+09:00) of the first study day."""
    midnight = dt.datetime(start.year, start.month, start.day, tzinfo=dt.timezone(dt.timedelta(hours=TZ_HOURS)))
    return int(midnight.timestamp() * 1000)


def write_demo_release(
    out: str | Path,
    *,
    participants: int = DEMO_PARTICIPANTS,
    days: int = DEMO_DAYS,
    scale: float = DEMO_SCALE,
    seed: int = 0,
    force: bool = False,
    progress: bool = True,
    executor=None,
) -> Path:
    """Write a demo release to ``out`` and return its root.

    Parameters
    ----------
    participants, days : size of the study (at least 1 each).
    scale : rate multiplier of the dense band streams (1.0 = as in the release; 0 < scale <= 2).
    seed : same seed, same bytes.
    force : replace a non-empty ``out`` (otherwise refused).
    progress : a progress bar per participant on stderr.
    executor : a ``compute.Executor`` to write participants in parallel (default: serial).

    The release is written to a hidden temporary folder beside ``out`` and renamed at the
    end, so an interrupted run never leaves a folder that looks complete.
    """
    _check_sizes(participants, days, scale, seed)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise KemoError(f"{out} exists and is not a folder; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise KemoError(f"{out} is not empty; choose an empty folder or pass --force to replace it")
    with atomic_folder(out) as tmp:
        _write_into(tmp, participants, days, scale, seed, progress, executor)
    return out


def _whole(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _check_sizes(participants: int, days: int, scale: float, seed: int) -> None:
    if not _whole(participants) or participants < 1:
        raise KemoError(f"participants must be a whole number of at least 1; got {participants!r}")
    if not _whole(days) or days < 1:
        raise KemoError(f"days must be a whole number of at least 1; got {days!r}")
    if not isinstance(scale, numbers.Real) or not (0 < float(scale) <= 2.0):
        raise KemoError(f"scale must be above 0 and at most 2 (1.0 = the release's sampling rates); got {scale!r}")
    if not _whole(seed) or seed < 0:
        raise KemoError(f"seed must be a whole number of at least 0; got {seed!r}")


def _write_into(root: Path, participants: int, days: int, scale: float, seed: int, progress: bool, executor) -> None:
    from kemo_attention.compute import Executor

    t0 = study_start_ms()
    plans = plan_schedules(participants, days, t0, seed, TZ_MS)
    dirt = planted_dirt(participants)
    (root / "Sensor").mkdir(parents=True)
    (root / "SubjData").mkdir()
    executor = executor or Executor("serial", progress=progress)
    shared = dict(root=str(root), days=days, scale=float(scale), seed=seed, t0=t0, dirt=dirt)
    results = executor.map(write_participant, list(enumerate(plans)), shared=shared, desc="demo participants",
                           names=[p.pcode for p in plans])
    esm = pl.concat([r[0] for r in results])
    esm.write_csv(root / "SubjData" / ESM_FILE)
    users = pl.DataFrame([r[1] for r in results]).select([c.name for c in USERINFO_COLUMNS])
    users.write_csv(root / "SubjData" / USERINFO_FILE)


def write_participant(item: tuple[int, PromptPlan], *, root: str, days: int, scale: float, seed: int, t0: int, dirt) -> tuple:
    """Generate and write one participant's 27 sensor files; return (ESM rows, UserInfo row, row counts)."""
    i, plan = item
    rng = [np.random.default_rng([seed, part, i]) for part in range(7)]
    person = draw_person(rng[0])
    sched = plan.rows["scheduledTime"].to_numpy()
    attention = plan.rows["attention"].to_numpy()
    tl = build_timeline(person, t0, days, START_DATE.weekday(), sched, attention, rng[1])
    tables = band_tables(tl, person, scale, rng[2])
    use, sessions = phone_use_tables(tl, person, rng[3])
    tables.update(use)
    tables.update(phone_context_tables(tl, person, sessions, rng[4], np.random.default_rng([seed, 99])))
    missing = set(DATA_TYPES) - set(tables)
    assert not missing, f"demo generator forgot {missing}"
    # Recording ends with the study period (a session or snapshot drawn near the end may spill over).
    t1 = tl.t1
    tables = {k: v.filter((pl.col("timestamp") >= t0) & (pl.col("timestamp") < t1)) for k, v in tables.items()}
    tables = apply_dirt(plan.pcode, tables, dirt)
    folder = Path(root) / "Sensor" / plan.pcode
    folder.mkdir(parents=True)
    for name in DATA_TYPES:  # the schema's order, so files are written deterministically
        if name in tables:
            tables[name].write_csv(folder / f"{name}.csv")
    voluntary = _voluntary(plan, tl, rng[5])
    esm = esm_frame(plan.pcode, plan.rows, voluntary)
    start_date = START_DATE.isoformat()
    user = user_info(plan.pcode, start_date, i, rng[6])
    return esm, user, {name: df.height for name, df in tables.items()}


def _voluntary(plan: PromptPlan, tl, rng) -> pl.DataFrame:
    """About one self-initiated response a day, at an awake minute between 9:00 and 24:00.

    Its attention answer follows the focus of the hour before, plus noise.
    """
    tod = np.arange(tl.minutes) % 1440
    ok = np.nonzero(tl.awake & (tod >= 9 * 60))[0]
    n = int(rng.poisson(VOLUNTARY_PER_DAY * tl.days)) if ok.size else 0
    m = np.sort(rng.choice(ok, size=n, replace=False)) if n and n <= ok.size else np.zeros(0, dtype=np.int64)
    before = np.array([tl.focus[max(k - 60, 0) : k].mean() if k > 0 else 0.0 for k in m])
    attention = np.clip(np.rint(0.5 + 1.5 * (0.6 * before + 0.8 * rng.standard_normal(m.size))), -3, 3)
    times = tl.t0 + m * MINUTE_MS + rng.integers(0, MINUTE_MS, m.size)
    return voluntary_responses(plan, times, attention.astype(np.int64), rng)
