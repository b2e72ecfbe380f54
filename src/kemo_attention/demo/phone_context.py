"""The phone's context streams: battery and charging, power events, network, location, Wi-Fi,
activity recognition and ringer mode, all read off the participant's timeline."""

from __future__ import annotations

import numpy as np
import polars as pl

from kemo_attention.demo.phone_use import Sessions
from kemo_attention.demo.timeline import CAFETERIA, CAMPUS, CAMPUS_CENTRE, HOME, RUNNING, STILL, TOWN, TRANSIT, VEHICLE, WALKING, Person, Timeline
from kemo_attention.demo.util import MINUTE_MS, bool_text, frame, minute_index, pick, regular_times, runs, uuid_ids

TOWN_AT = (CAMPUS_CENTRE[0] - 0.021, CAMPUS_CENTRE[1] + 0.018)
CAFETERIA_AT = (CAMPUS_CENTRE[0] + 0.0015, CAMPUS_CENTRE[1] - 0.001)


def _jitter_ms(rng, n: int) -> np.ndarray:
    return rng.integers(0, MINUTE_MS, n)


def battery_tables(tl: Timeline, s: Sessions, rng) -> dict[str, pl.DataFrame]:
    """Battery level simulated per minute: drains with use, charges at night (and now and then by day)."""
    screen_on = np.zeros(tl.minutes)
    a, b = minute_index(s.start, tl.t0, tl.minutes), minute_index(s.end, tl.t0, tl.minutes)
    np.add.at(screen_on, a, 1.0)
    np.add.at(screen_on, b, -1.0)
    screen_on = np.clip(np.cumsum(screen_on), 0, 1)
    plugged = np.zeros(tl.minutes, dtype=np.int8)  # 0 none, 1 AC, 2 USB
    for lo, hi in runs(~tl.awake):
        lo2 = max(lo - int(rng.integers(0, 30)), 0)
        plugged[lo2 : min(hi + int(rng.integers(0, 30)), tl.minutes)] = 1
    for lo, hi in runs(tl.place == CAMPUS):
        if hi - lo > 120 and rng.random() < 0.3:
            c = lo + int(rng.integers(0, hi - lo - 60))
            plugged[c : c + 60] = 2
    level = np.empty(tl.minutes)
    lv = float(rng.uniform(50, 95))
    drain = 0.04 + 0.2 * screen_on  # ~2.4 %/h idle, ~14 %/h with the screen on
    for m in range(tl.minutes):  # 10k steps: clipping makes this sequential, and it is cheap
        lv = min(100.0, lv + 1.1) if plugged[m] else max(1.0, lv - drain[m])
        level[m] = lv
    lvl = np.floor(level).astype(np.int64)
    status = np.where(plugged > 0, np.where(lvl >= 100, 3, 1), 2)  # 1 CHARGING, 2 DISCHARGING, 3 FULL
    change = np.ones(tl.minutes, dtype=bool)
    change[1:] = (lvl[1:] != lvl[:-1]) | (status[1:] != status[:-1])
    emit = change | (np.arange(tl.minutes) % 10 == 0)
    m = np.nonzero(emit)[0]
    t = tl.t0 + m * MINUTE_MS + _jitter_ms(rng, m.size)
    temp = 27.0 + 6.0 * screen_on[m] + 4.0 * (plugged[m] > 0) + rng.normal(0, 1.0, m.size)
    out = {
        "BatteryEvent": frame(
            "BatteryEvent", t, status=pick(("", "CHARGING", "DISCHARGING", "FULL"), status[m]), temperature=np.round(temp, 1),
            level=lvl[m].astype(float), plugged=pick(("UNDEFINED", "AC", "USB"), plugged[m]),
        )
    }
    edges = np.diff(np.concatenate([[0], (plugged > 0).astype(np.int8), [0]]))
    on, off = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    off = off[off < tl.minutes]
    t_on, t_off = tl.t0 + on * MINUTE_MS + 500, tl.t0 + off * MINUTE_MS + 500
    out["ChargeEvent"] = frame(
        "ChargeEvent", np.concatenate([t_on, t_off]),
        type=np.concatenate([np.full(t_on.size, "CONNECTED"), np.full(t_off.size, "DISCONNECTED")]),
    )
    # Power saving: switched on below 15 %, off when plugged; plus a toggle or two by hand.
    act = list(np.nonzero((lvl[1:] < 15) & (lvl[:-1] >= 15))[0] + 1)
    deact = [int(on[on > a0][0]) if np.any(on > a0) else min(a0 + 120, tl.minutes - 1) for a0 in act]
    for _ in range(int(rng.integers(1, 3))):
        a0 = int(rng.choice(np.nonzero(tl.awake)[0]))
        act.append(a0)
        deact.append(min(a0 + int(rng.integers(30, 120)), tl.minutes - 1))
    ta = tl.t0 + np.asarray(act, dtype=np.int64) * MINUTE_MS + 200
    td = tl.t0 + np.asarray(deact, dtype=np.int64) * MINUTE_MS + 700
    out["PowerSaveEvent"] = frame(
        "PowerSaveEvent", np.concatenate([ta, td]), type=np.concatenate([np.full(ta.size, "ACTIVATE"), np.full(td.size, "DEACTIVATE")])
    )
    # A reboot or two: OFF, then ON a minute or two later.
    n = int(rng.integers(1, 4))
    off_t = np.sort(rng.integers(tl.t0, tl.t1 - 10 * MINUTE_MS, n))
    on_t = off_t + rng.integers(40_000, 120_000, n)
    out["OnOffEvent"] = frame("OnOffEvent", np.concatenate([off_t, on_t]), type=np.concatenate([np.full(n, "OFF"), np.full(n, "ON")]))
    return out


def connectivity_table(tl: Timeline, rng) -> pl.DataFrame:
    """Wi-Fi at home, on campus and in the cafeteria; mobile data elsewhere; a few drop-outs."""
    net = np.where(np.isin(tl.place, [HOME, CAMPUS, CAFETERIA]), 1, 2)  # 1 WIFI, 2 MOBILE
    ch = np.nonzero(np.diff(net) != 0)[0] + 1
    t = tl.t0 + ch * MINUTE_MS + _jitter_ms(rng, ch.size)
    names = np.array(["", "WIFI", "MOBILE"])
    flap_m = np.sort(rng.choice(np.nonzero(net == 1)[0], size=3 * tl.days))
    flap_t = tl.t0 + flap_m * MINUTE_MS + _jitter_ms(rng, flap_m.size)
    times = np.concatenate([t, t + 300, flap_t, flap_t + rng.integers(2_000, 30_000, flap_t.size)])
    kind = np.concatenate([names[net[ch - 1]], names[net[ch]], np.full(flap_t.size, "WIFI"), np.full(flap_t.size, "WIFI")])
    conn = np.concatenate([np.zeros(ch.size, bool), np.ones(ch.size, bool), np.zeros(flap_t.size, bool), np.ones(flap_t.size, bool)])
    return frame("Connectivity", times, isConnected=bool_text(conn), type=kind)


def _place_coords(p: Person) -> np.ndarray:
    coords = np.zeros((5, 2))
    coords[HOME], coords[CAMPUS], coords[CAFETERIA], coords[TOWN] = p.home, p.campus, CAFETERIA_AT, TOWN_AT
    return coords


def location_table(tl: Timeline, p: Person, rng) -> pl.DataFrame:
    """GPS fixes: every few minutes at a place (clusters, ~8 m noise), every ~5 s on the move."""
    coords = _place_coords(p)
    pos = coords[np.where(tl.place == TRANSIT, HOME, tl.place)].copy()
    for lo, hi in runs(tl.place == TRANSIT):
        src = coords[tl.place[lo - 1]] if lo > 0 else coords[HOME]
        dst = coords[tl.place[hi]] if hi < tl.minutes else src
        frac = (np.arange(lo, hi) - lo + 0.5) / (hi - lo)
        pos[lo:hi] = src + frac[:, None] * (dst - src)
    moving = tl.place == TRANSIT
    t_move = regular_times(tl.t0, tl.t1, 5_000, rng)
    t_move = t_move[moving[minute_index(t_move, tl.t0, tl.minutes)]]
    still_m = np.nonzero(~moving & (rng.random(tl.minutes) < np.where(tl.awake, 0.25, 0.05)))[0]
    t = np.sort(np.concatenate([t_move, tl.t0 + still_m * MINUTE_MS + _jitter_ms(rng, still_m.size)]))
    m = minute_index(t, tl.t0, tl.minutes)
    noise_m = rng.normal(0, 8.0, (t.size, 2))
    lat = pos[m, 0] + noise_m[:, 0] / 111_000
    lon = pos[m, 1] + noise_m[:, 1] / 89_000
    speed = np.select([tl.move[m] == VEHICLE, tl.move[m] == WALKING, tl.move[m] == RUNNING], [9.0, 1.3, 3.5], 0.0)
    speed = np.abs(speed + rng.normal(0, 0.3, t.size))
    return frame(
        "Location", t, altitude=np.round(75 + rng.normal(0, 6, t.size), 3), longitude=np.round(lon, 7), latitude=np.round(lat, 7),
        speed=np.round(speed, 2), accuracy=np.round(rng.lognormal(np.log(7), 0.6, t.size), 3),
    )


def wifi_table(tl: Timeline, p: Person, rng, campus_rng) -> pl.DataFrame:
    """Scans every ~60 s awake (10 min asleep), each several rows (one per access point seen)."""
    pools = {
        HOME: 12, CAMPUS: 30, CAFETERIA: 15, TOWN: 20, TRANSIT: 40,
    }
    freq_choices = np.array([2412, 2437, 2462, 2472, 5180, 5220, 5745, 5805])
    ap = {}
    for place, k in pools.items():
        r = campus_rng if place in (CAMPUS, CAFETERIA) else rng  # campus access points are shared
        ap[place] = (np.array(uuid_ids(r, k)), r.choice(freq_choices, k), r.uniform(-92, -45, k), r.uniform(0.3, 0.95, k))
    awake_t = regular_times(tl.t0, tl.t1, 60_000, rng)
    asleep_t = regular_times(tl.t0, tl.t1, 600_000, rng)
    scans = np.sort(np.concatenate([awake_t[tl.awake[minute_index(awake_t, tl.t0, tl.minutes)]],
                                    asleep_t[~tl.awake[minute_index(asleep_t, tl.t0, tl.minutes)]]]))
    where = tl.place[minute_index(scans, tl.t0, tl.minutes)]
    parts, all_ids = [], []
    for place, (ids, freq, base, presence) in ap.items():
        st = scans[where == place]
        pres = presence * (0.25 if place == TRANSIT else 1.0)  # on the move, few access points at once
        si, ai = np.nonzero(rng.random((st.size, ids.size)) < pres)
        rssi = np.clip(np.rint(base[ai] + rng.normal(0, 4, ai.size)), -127, -1)
        parts.append(pl.DataFrame({"t": st[si], "ap": ai + len(all_ids), "frequency": freq[ai], "rssi": rssi.astype(np.int64)}))
        all_ids.extend(ids)
    df = pl.concat(parts).sort("t", "ap")
    return frame("WiFi", df["t"].to_numpy(), bssid=pick(all_ids, df["ap"].to_numpy()), frequency=df["frequency"].to_numpy(), rssi=df["rssi"].to_numpy())


ACT_NAMES = {STILL: "STILL", WALKING: "WALKING", VEHICLE: "IN_VEHICLE", RUNNING: "RUNNING"}


def activity_tables(tl: Timeline, rng) -> dict[str, pl.DataFrame]:
    """Activity recognition: confidences every ~15 s on the move, ~3 min still; and transitions."""
    t = regular_times(tl.t0, tl.t1, 15_000, rng)
    m = minute_index(t, tl.t0, tl.minutes)
    mv = tl.move[m]
    keep = (mv != STILL) | (rng.random(t.size) < np.where(tl.awake[m], 1 / 12, 1 / 40))
    t, mv = t[keep], mv[keep]
    n = t.size

    def conf(mean, sd=0.08):
        return np.clip(np.round(mean + rng.normal(0, sd, n), 2), 0, 1)

    on_foot = conf(np.select([mv == WALKING, mv == RUNNING], [0.8, 0.9], 0.02))
    cols = dict(
        confidenceStill=conf(np.select([mv == STILL, mv == VEHICLE], [0.9, 0.15], 0.05)),
        confidenceUnknown=conf(np.full(n, 0.06)),
        confidenceOnFoot=on_foot,
        confidenceWalking=np.where(mv == WALKING, np.round(on_foot * 0.97, 2), conf(np.full(n, 0.01), 0.01)),
        confidenceInVehicle=conf(np.where(mv == VEHICLE, 0.75, 0.02)),
        confidenceOnBicycle=conf(np.full(n, 0.01), 0.02),
        confidenceRunning=conf(np.where(mv == RUNNING, 0.7, 0.0), 0.02),
        confidenceTilting=np.where(rng.random(n) < 0.11, 1.0, 0.0),
    )
    out = {"ActivityEvent": frame("ActivityEvent", t, **cols)}
    ch = np.nonzero(np.diff(tl.move) != 0)[0] + 1
    tc = tl.t0 + ch * MINUTE_MS + _jitter_ms(rng, ch.size)
    names = np.vectorize(ACT_NAMES.get)
    old, new = (names(tl.move[ch - 1]), names(tl.move[ch])) if ch.size else (np.zeros(0, str), np.zeros(0, str))
    times = np.concatenate([tc, tc])
    kinds = np.concatenate([np.char.add("EXIT_", old.astype(str)), np.char.add("ENTER_", new.astype(str))]) if ch.size else np.zeros(0, str)
    out["ActivityTransition"] = frame("ActivityTransition", times, transitionType=kinds)
    return out


def ringer_table(tl: Timeline, rng) -> pl.DataFrame:
    """Vibrate or silent on arriving at campus, normal at home now and then; only changes are logged."""
    arrive = np.nonzero(np.diff(tl.place) != 0)[0] + 1
    mode, times, kinds = "NORMAL", [], []
    for m in arrive:
        want = mode
        if tl.place[m] == CAMPUS:
            want = "VIBRATE" if rng.random() < 0.7 else "SILENT"
        elif tl.place[m] == HOME and rng.random() < 0.5:
            want = "NORMAL"
        if want != mode:
            mode = want
            times.append(tl.t0 + int(m) * MINUTE_MS + int(rng.integers(0, 600_000)))
            kinds.append(mode)
    return frame("RingerModeEvent", np.asarray(times, dtype=np.int64), type=np.asarray(kinds, dtype=str))


def phone_context_tables(tl: Timeline, p: Person, s: Sessions, rng, campus_rng) -> dict[str, pl.DataFrame]:
    out = battery_tables(tl, s, rng)
    out["Connectivity"] = connectivity_table(tl, rng)
    out["Location"] = location_table(tl, p, rng)
    out["WiFi"] = wifi_table(tl, p, rng, campus_rng)
    out.update(activity_tables(tl, rng))
    out["RingerModeEvent"] = ringer_table(tl, rng)
    return out
