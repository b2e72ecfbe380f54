"""How the demo participant uses the phone: screen sessions, apps, traffic, calls, messages, photos.

Sessions start more often, and hold fewer app switches, when the participant is unfocused
(rates ``exp(-effect * focus)``); this is how the planted focus reaches SCR and APP streams.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from kemo_attention.demo.apps import EXTRA_APPS, SYSTEM_PACKAGES, USED_APPS, usage_weights
from kemo_attention.demo.timeline import Person, Timeline
from kemo_attention.demo.util import MINUTE_MS, bool_text, distinct_times, frame, hex_ids, minute_index, pick


APP_EVENT_TYPES = (
    "MOVE_TO_FOREGROUND", "MOVE_TO_BACKGROUND", "USER_INTERACTION", "SCREEN_INTERACTIVE", "SCREEN_NON_INTERACTIVE", "KEYGUARD_HIDDEN",
)


@dataclass
class Sessions:
    """Screen sessions, sorted and non-overlapping (ms)."""

    start: np.ndarray
    end: np.ndarray
    unlocked: np.ndarray  # bool
    unlock_at: np.ndarray


def screen_sessions(tl: Timeline, p: Person, rng: np.random.Generator) -> Sessions:
    per_min = np.where(tl.awake, p.screen_rate / 60.0 * np.exp(-p.screen_focus * tl.focus), 0.004)
    m = np.nonzero(rng.random(tl.minutes) < np.minimum(per_min, 0.9))[0]
    start = tl.t0 + m * MINUTE_MS + rng.integers(0, MINUTE_MS, m.size)
    start = np.sort(start)
    dur = np.clip(rng.lognormal(np.log(80_000), 1.0, m.size), 4_000, 40 * MINUTE_MS).astype(np.int64)
    nxt = np.append(start[1:], tl.t1 + 10 * MINUTE_MS)
    end = np.minimum(start + dur, nxt - 2_000)
    keep = end > start + 2_000
    start, end = start[keep], end[keep]
    unlocked = rng.random(start.size) < 0.7
    unlock_at = start + np.minimum(rng.integers(800, 4_000, start.size), (end - start) // 3)
    return Sessions(start, end, unlocked, unlock_at)


def screen_table(s: Sessions) -> pl.DataFrame:
    t = np.concatenate([s.start, s.unlock_at[s.unlocked], s.end])
    kind = np.concatenate([np.full(s.start.size, 0), np.full(int(s.unlocked.sum()), 1), np.full(s.end.size, 2)])
    return frame("ScreenEvent", t, type=pick(("ON", "UNLOCK", "OFF"), kind))


def app_usage_table(tl: Timeline, p: Person, s: Sessions, rng: np.random.Generator) -> pl.DataFrame:
    """Foreground/background pairs per unlocked session, plus the screen and keyguard rows."""
    idx = np.nonzero(s.unlocked)[0]
    f = tl.focus[minute_index(s.start[idx], tl.t0, tl.minutes)]
    n_apps = 1 + rng.poisson(np.maximum(p.switch_rate * np.exp(-p.switch_focus * f) - 1.0, 0.0))
    sess = np.repeat(idx, n_apps)
    lo, hi = s.unlock_at[sess] + 300, s.end[sess] - 300
    fg = lo + np.floor(rng.random(sess.size) * np.maximum(hi - lo, 1)).astype(np.int64)
    order = np.lexsort((fg, sess))
    sess, fg = sess[order], fg[order]
    last = np.append(sess[1:] != sess[:-1], True)
    bg = np.where(last, s.end[sess] - 200, np.append(fg[1:], 0) - 1)
    bg = np.maximum(bg, fg + 1)
    app = rng.choice(len(USED_APPS), size=sess.size, p=usage_weights(rng))
    # System rows at screen on/off and unlock are attributed to the "android" package.
    sys_i = next(i for i, a in enumerate(USED_APPS) if a[1] == "android")
    inter = rng.random(sess.size) < 0.1  # occasional USER_INTERACTION inside an app
    # One event per millisecond, so the latest app at any time is unambiguous.
    times = distinct_times(np.concatenate([fg, bg, fg[inter] + 150, s.start, s.end, s.unlock_at[s.unlocked]]))
    apps = np.concatenate([app, app, app[inter], np.full(s.start.size + s.end.size + int(s.unlocked.sum()), sys_i)])
    sizes = (fg.size, bg.size, int(inter.sum()), s.start.size, s.end.size, int(s.unlocked.sum()))
    kinds = np.repeat(np.arange(len(APP_EVENT_TYPES)), sizes)
    return frame(
        "AppUsageEvent", times,
        name=pick([a[0] for a in USED_APPS], apps),
        packageName=pick([a[1] for a in USED_APPS], apps),
        isSystemApp=bool_text(np.array([a[2] for a in USED_APPS])[apps]),
        type=pick(APP_EVENT_TYPES, kinds),
        isUpdatedSystemApp=bool_text(np.array([a[3] for a in USED_APPS])[apps]),
        category=pick([a[4] for a in USED_APPS], apps),
    )


def data_traffic_table(tl: Timeline, s: Sessions, rng: np.random.Generator) -> pl.DataFrame:
    """15-second traffic rows: whenever the screen is on, and now and then in the background."""
    ticks = tl.t0 + 15_000 * np.arange(1, (tl.t1 - tl.t0) // 15_000) + int(rng.integers(0, 3_000))
    k = np.searchsorted(s.start, ticks, side="right") - 1
    on = (k >= 0) & (ticks <= s.end[np.maximum(k, 0)])
    keep = on | (rng.random(ticks.size) < 0.04)
    t, on = ticks[keep], on[keep]
    rx = np.rint(rng.lognormal(np.where(on, np.log(60), np.log(6)), 1.6)).astype(np.int64)
    tx = np.rint(rng.lognormal(np.where(on, np.log(14), np.log(2)), 1.4)).astype(np.int64)
    return frame("DataTraffic", t, rxKiloBytes=rx, txKiloBytes=tx, duration=np.full(t.size, 15_000, dtype=np.int64))


def _awake_times(tl: Timeline, per_day: float, rng) -> np.ndarray:
    """Random event times while awake, ``per_day`` on average."""
    awake_min = np.nonzero(tl.awake)[0]
    n = rng.poisson(per_day * tl.days)
    m = np.sort(rng.choice(awake_min, size=n)) if awake_min.size and n else np.zeros(0, dtype=np.int64)
    return tl.t0 + m * MINUTE_MS + rng.integers(0, MINUTE_MS, m.size)


def _contacts(rng, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    prefixes = rng.choice(["0104", "0103", "0107", "0105", "0102", "0109", "1544", "1588"], n, p=[0.3, 0.2, 0.15, 0.15, 0.1, 0.04, 0.03, 0.03])
    numbers = np.array([f"{pre}${h}" for pre, h in zip(prefixes, hex_ids(rng, n))])
    kinds = rng.choice(["MOBILE", "UNDEFINED", "OTHER", "HOME", "WORK", "CUSTOM"], n, p=[0.55, 0.25, 0.08, 0.05, 0.04, 0.03])
    times = rng.integers(0, 60, n)
    return numbers, kinds, times


def call_table(tl: Timeline, rng) -> pl.DataFrame:
    t = _awake_times(tl, 2.0, rng)
    numbers, kinds, contacted = _contacts(rng, 12)
    who = np.minimum(rng.geometric(0.3, t.size) - 1, 11)
    dur = np.where(rng.random(t.size) < 0.4, 0, np.rint(rng.lognormal(np.log(60_000), 1.0, t.size) / 1000) * 1000)
    return frame(
        "CallEvent", t, number=numbers[who], contact=kinds[who], timesContacted=contacted[who],
        isPinned=bool_text(rng.random(t.size) < 0.01), isStarred=bool_text(who == 0),
        duration=np.minimum(dur, 1_963_000).astype(np.int64),
    )


def message_table(tl: Timeline, rng) -> pl.DataFrame:
    t = _awake_times(tl, 4.0, rng)
    numbers, kinds, contacted = _contacts(rng, 15)
    who = np.minimum(rng.geometric(0.25, t.size) - 1, 14)
    return frame(
        "MessageEvent", t, messageBox=np.where(rng.random(t.size) < 0.68, "INBOX", "SENT"),
        isPinned=bool_text(rng.random(t.size) < 0.02), timesContacted=contacted[who], number=numbers[who],
        contact=kinds[who], isStarred=bool_text(who < 2), messageClass=np.where(rng.random(t.size) < 0.79, "SMS", "MMS"),
    )


def media_table(tl: Timeline, rng) -> pl.DataFrame:
    t = _awake_times(tl, 2.5, rng)
    mime = rng.choice(["image/jpeg", "image/png", "video/mp4", "image/gif"], t.size, p=[0.86, 0.1, 0.03, 0.01])
    bucket = np.where(mime == "image/png", "Screenshots", rng.choice(["Camera", "KakaoTalk", "Download", "SNOW"], t.size, p=[0.75, 0.15, 0.05, 0.05]))
    return frame("MediaEvent", t, mimetype=mime, bucketDisplay=bucket)


def installed_app_table(tl: Timeline, rng) -> pl.DataFrame:
    """Full snapshots of the installed apps every ~3.3 h; a few installs, an uninstall, updates."""
    universe = list(SYSTEM_PACKAGES) + [a[:5] for a in USED_APPS] + list(EXTRA_APPS)
    n_sys, n_used = len(SYSTEM_PACKAGES), len(USED_APPS)
    snaps = np.arange(tl.t0 + int(rng.integers(0, 3 * 3_600_000)), tl.t1, 12_000_000)
    snaps = snaps + rng.integers(-600_000, 600_000, snaps.size)
    installed = np.zeros(len(universe), dtype=bool)
    installed[: n_sys + n_used] = rng.random(n_sys + n_used) < 0.93
    installed[: n_sys] = True
    installed[[i for i, a in enumerate(universe) if a[1] in ("kaist.iclab.abclogger", "com.pacoapp.paco", "fi.polar.beat")]] = True
    extras_now = rng.random(len(EXTRA_APPS)) < 0.3
    installed[n_sys + n_used :] = extras_now
    base_time = 1_230_735_600_000  # the factory date that most system apps of the release carry
    first = np.where(np.arange(len(universe)) < n_sys, base_time, tl.t0 - rng.integers(1, 700, len(universe)) * 86_400_000)
    last = np.where(rng.random(len(universe)) < 0.5, first, tl.t0 - rng.integers(1, 60, len(universe)) * 86_400_000)
    # Changes during the week: installs of extra apps, one uninstall, updates.
    changes = []
    for j in np.nonzero(~installed[n_sys + n_used :])[0][: int(rng.integers(1, 4))]:
        changes.append((int(rng.integers(tl.t0, tl.t1)), n_sys + n_used + j, "install"))
    removable = [i for i in range(n_sys, n_sys + n_used) if installed[i] and universe[i][1] not in ("kaist.iclab.abclogger", "com.pacoapp.paco", "com.kakao.talk")]
    if removable and rng.random() < 0.6:
        changes.append((int(rng.integers(tl.t0, tl.t1)), int(rng.choice(removable)), "uninstall"))
    for i in rng.choice(len(universe), size=int(rng.integers(3, 8)), replace=False):
        changes.append((int(rng.integers(tl.t0, tl.t1)), int(i), "update"))
    changes.sort()
    rows_t, rows_i, rows_last = [], [], []
    c = 0
    for ts in snaps:
        while c < len(changes) and changes[c][0] <= ts:
            when, i, what = changes[c]
            if what == "install":
                installed[i], first[i], last[i] = True, when, when
            elif what == "uninstall":
                installed[i] = False
            else:
                last[i] = when
            c += 1
        idx = np.nonzero(installed)[0]
        rows_t.append(np.full(idx.size, ts))
        rows_i.append(idx)
        rows_last.append(last[idx])
    i = np.concatenate(rows_i)
    return frame(
        "InstalledApp", np.concatenate(rows_t),
        name=pick([a[0] for a in universe], i), lastUpdateTime=np.concatenate(rows_last).astype(np.int64),
        packageName=pick([a[1] for a in universe], i), isSystemApp=bool_text(np.array([a[2] for a in universe])[i]),
        firstInstallTime=first[i].astype(np.int64), isUpdatedSystemApp=bool_text(np.array([a[3] for a in universe])[i]),
        category=pick([a[4] for a in universe], i),
    )


def phone_use_tables(tl: Timeline, p: Person, rng: np.random.Generator) -> tuple[dict[str, pl.DataFrame], Sessions]:
    s = screen_sessions(tl, p, rng)
    out = {
        "ScreenEvent": screen_table(s),
        "AppUsageEvent": app_usage_table(tl, p, s, rng),
        "DataTraffic": data_traffic_table(tl, s, rng),
        "CallEvent": call_table(tl, rng),
        "MessageEvent": message_table(tl, rng),
        "MediaEvent": media_table(tl, rng),
        "InstalledApp": installed_app_table(tl, rng),
    }
    return out, s
