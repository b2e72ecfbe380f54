"""The ten wristband (Microsoft Band 2) streams of one demo participant.

Sampling periods follow the release (median gaps: ACC 0.13 s, EDA 0.2 s, AML 0.5 s,
HR/CAL/DST/STP ~1 s, RRI one per beat, SKT 30 s, ULV 60 s). ``scale`` multiplies the rate of
the dense streams (ACC, EDA, AML, HR, RRI, CAL, DST, STP); SKT and ULV keep theirs. Rows
exist only while the band is worn (``Timeline.band``): none while it charges, sparse at night.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from kemo_attention.demo.timeline import CAFETERIA, CAMPUS, HOME, RUNNING, TOWN, VEHICLE, WALKING, Person, Timeline
from kemo_attention.demo.util import at_times, cumulative_at, frame, minute_index, ou, pick, regular_times, thin, today_at

# Median sampling periods of the release, ms.
PERIOD_MS = {"Acceleration": 130.0, "EDA": 200.0, "AmbientLight": 500.0, "HR": 1000.0, "Calorie": 1025.0,
             "Distance": 1009.0, "StepCount": 1009.0, "SkinTemperature": 30_082.0, "UltraViolet": 59_998.0}
DENSE = ("Acceleration", "EDA", "AmbientLight", "HR", "RRI", "Calorie", "Distance", "StepCount")


def _times(tl: Timeline, name: str, scale: float, rng) -> np.ndarray:
    period = PERIOD_MS[name] / (scale if name in DENSE else 1.0)
    return thin(regular_times(tl.t0, tl.t1, period, rng), tl.band, tl.t0, rng)


def heart_rate_per_minute(tl: Timeline, p: Person, rng) -> np.ndarray:
    """Mean bpm of every minute: person's base, day rhythm, movement, and lower when focused."""
    tod = tl.tod() / 60.0
    hr = p.hr_base + 3.0 * np.sin(2 * np.pi * (tod - 9.0) / 24.0) + ou(tl.minutes, 20, rng, sd=2.5)
    hr += np.select([tl.move == WALKING, tl.move == RUNNING, tl.move == VEHICLE], [22.0, 55.0, 4.0], 0.0)
    hr -= np.where(tl.awake, p.hr_focus * tl.focus, 12.0)  # asleep: ~12 bpm below the awake base
    return hr


def band_tables(tl: Timeline, p: Person, scale: float, rng: np.random.Generator) -> dict[str, pl.DataFrame]:
    out: dict[str, pl.DataFrame] = {}
    hr_min = heart_rate_per_minute(tl, p, rng)
    focus_min = tl.focus
    mv = tl.move

    # HR: integer bpm, steadier when focused.
    t = _times(tl, "HR", scale, rng)
    f = at_times(focus_min, t, tl.t0)
    spread = p.hr_jitter * (1.25 - 0.45 * np.tanh(f))
    bpm = np.clip(np.rint(at_times(hr_min, t, tl.t0) + rng.standard_normal(t.size) * spread), 35, 199)
    out["HR"] = frame("HR", t, bpm=bpm.astype(np.int64))

    # RRI: one row per beat (a random share `scale` of beats), interval = 60000 / bpm with variability.
    approx = tl.t0 + np.arange(int((tl.t1 - tl.t0) / 700)) * 700
    beats = tl.t0 + np.cumsum(60_000.0 / at_times(hr_min, approx, tl.t0))
    beats = beats[beats < tl.t1]
    interval = 60_000.0 / at_times(hr_min, beats, tl.t0) * (1 + 0.05 * rng.standard_normal(beats.size))
    keep = rng.random(beats.size) < min(scale, 1.0)
    t, interval = beats[keep].astype(np.int64), interval[keep]
    worn = rng.random(t.size) < tl.band[minute_index(t, tl.t0, tl.minutes)]
    out["RRI"] = frame("RRI", t[worn], interval=np.round(np.clip(interval[worn], 299, 1493), 3))

    # Acceleration (g, +-8, steps of 1/4096): a slowly turning gravity vector plus movement.
    t = _times(tl, "Acceleration", scale, rng)
    m = minute_index(t, tl.t0, tl.minutes)
    theta, phi = ou(tl.minutes, 15, rng, sd=0.6) + 1.0, ou(tl.minutes, 15, rng, sd=1.2)
    g = np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)])[:, m]
    idle_sd = p.fidget * np.exp(-p.fidget_focus * focus_min)
    sd_min = np.select([mv == WALKING, mv == RUNNING, mv == VEHICLE, ~tl.awake], [0.38, 0.9, 0.08, 0.01], idle_sd)
    xyz = g + rng.standard_normal((3, t.size)) * sd_min[m]
    xyz = np.clip(np.rint(xyz * 4096) / 4096, -8, 7.999755859375)
    out["Acceleration"] = frame("Acceleration", t, x=xyz[0], y=xyz[1], z=xyz[2])

    # EDA: skin resistance, higher (calmer) when focused, lower while walking; the band
    # sometimes sits loose and reports huge values (the release's mean 55,605 vs median 1,385).
    t = _times(tl, "EDA", scale, rng)
    m = minute_index(t, tl.t0, tl.minutes)
    log_r = p.eda_log_base + p.eda_focus * at_times(focus_min, t, tl.t0) + ou(tl.minutes, 30, rng, sd=0.25)[m]
    log_r += np.where((mv == WALKING) | (mv == RUNNING), -0.3, 0.0)[m] + 0.04 * rng.standard_normal(t.size)
    loose = (ou(tl.minutes, 25, rng) > 1.2)[m]
    res = np.where(loose, rng.uniform(150_000, 340_330, t.size), np.exp(log_r))
    out["EDA"] = frame("EDA", t, resistance=np.rint(np.clip(res, 0, 340_330)).astype(np.int64))

    # Ambient light (lux): dark at night, indoor light, bright outdoors by day.
    t = _times(tl, "AmbientLight", scale, rng)
    m = minute_index(t, tl.t0, tl.minutes)
    tod = tl.tod()
    indoor = np.select([tl.place == CAMPUS, tl.place == CAFETERIA, tl.place == TOWN, tl.place == HOME], [180.0, 300.0, 400.0, 60.0], 30.0)
    level = np.where(tl.outdoors, 6000.0, np.where(tl.awake, indoor, 1.0))
    level = np.where(~tl.outdoors & ((tod < 6 * 60) | (tod > 23 * 60)), np.minimum(level, 20.0), level)
    lux = level[m] * np.exp(0.6 * rng.standard_normal(t.size))
    out["AmbientLight"] = frame("AmbientLight", t, brightness=np.rint(np.clip(lux, 0, 65_535)).astype(np.int64))

    # Skin temperature every ~30 s (deg C, two decimals).
    t = _times(tl, "SkinTemperature", 1.0, rng)
    m = minute_index(t, tl.t0, tl.minutes)
    temp = 32.7 + ou(tl.minutes, 60, rng, sd=0.6)[m] - 1.2 * tl.outdoors[m] + 0.6 * (~tl.awake[m]) + 0.05 * rng.standard_normal(t.size)
    out["SkinTemperature"] = frame("SkinTemperature", t, temperature=np.round(temp, 2))

    # Cumulative counters: steps, calories, distance. The band keeps counting while it is
    # off the wrist only in the sense that the totals never go down.
    steps_min = np.select([mv == WALKING, mv == RUNNING], [105.0, 165.0], 0.0)
    fidget_steps = np.where(tl.awake & (mv != VEHICLE), 1.5 * np.exp(-0.5 * focus_min), 0.0)
    steps_min = steps_min + rng.poisson(fidget_steps) * (steps_min == 0)
    kcal_min = 1.1 + 0.045 * steps_min
    speed_min = np.select([mv == WALKING, mv == RUNNING], [130.0, 420.0], 0.0)  # cm/s
    dist_min = speed_min * 60.0
    start_steps, start_kcal, start_dist = rng.uniform(0, 20_000), rng.uniform(0, 3_000), rng.uniform(0, 1.5e6)

    t = _times(tl, "StepCount", scale, rng)
    out["StepCount"] = frame(
        "StepCount", t,
        stepsToday=np.floor(today_at(steps_min, t, tl.t0)).astype(np.int64),
        totalSteps=np.floor(cumulative_at(steps_min, t, tl.t0, start_steps)).astype(np.int64),
    )
    t = _times(tl, "Calorie", scale, rng)
    out["Calorie"] = frame(
        "Calorie", t,
        caloriesToday=np.floor(today_at(kcal_min, t, tl.t0)).astype(np.int64),
        totalCalories=np.floor(cumulative_at(kcal_min, t, tl.t0, start_kcal)).astype(np.int64),
    )
    t = _times(tl, "Distance", scale, rng)
    m = minute_index(t, tl.t0, tl.minutes)
    moving = speed_min[m] > 0
    speed = np.where(moving, np.rint(speed_min[m] * np.exp(0.1 * rng.standard_normal(t.size))), 0.0)
    motion = pick(("IDLE", "WALKING", "JOGGING", "RUNNING"), np.where(mv[m] == RUNNING, np.where(rng.random(t.size) < 0.8, 2, 3), moving))
    out["Distance"] = frame(
        "Distance", t,
        motionType=motion,
        pace=np.where(moving, np.rint(100_000.0 / np.maximum(speed, 1.0)), 0.0).astype(np.int64),
        speed=speed.astype(np.int64),
        distanceToday=np.floor(today_at(dist_min, t, tl.t0)).astype(np.int64),
        totalDistance=np.floor(cumulative_at(dist_min, t, tl.t0, start_dist)).astype(np.int64),
    )

    # Ultraviolet every ~60 s: NONE indoors, mostly LOW outdoors, MEDIUM/HIGH rarely at midday.
    t = _times(tl, "UltraViolet", 1.0, rng)
    m = minute_index(t, tl.t0, tl.minutes)
    noon = (np.abs(tod - 13 * 60) < 120)
    level_min = np.where(tl.outdoors, np.where(noon & (rng.random(tl.minutes) < 0.05), 2, 1), 0)
    level_min = np.where((level_min == 2) & (rng.random(tl.minutes) < 0.05), 3, level_min)
    exposure_min = np.array([0.0, 30_000.0, 60_000.0, 120_000.0])[level_min]
    out["UltraViolet"] = frame(
        "UltraViolet", t,
        intensity=pick(("NONE", "LOW", "MEDIUM", "HIGH"), level_min[m]),
        exposureToday=np.floor(today_at(exposure_min, t, tl.t0)).astype(np.int64),
        totalExposure=np.floor(cumulative_at(exposure_min, t, tl.t0, rng.uniform(0, 3e5))).astype(np.int64),
    )
    return out

