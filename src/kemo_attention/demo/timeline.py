"""The hidden day of one demo participant, minute by minute: sleep, places, movement, focus.

Every sensor stream is an observation of this timeline, so the streams agree with each
other (steps while walking, Wi-Fi of the campus while on campus, no screen at night) and
the planted relation (``synth`` module docstring) reaches every stream through ``focus``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kemo_attention.demo.util import DAY_MIN, MINUTE_MS, ou

# Places
HOME, CAMPUS, CAFETERIA, TOWN, TRANSIT = 0, 1, 2, 3, 4
# Movement
STILL, WALKING, VEHICLE, RUNNING = 0, 1, 2, 3

# The planted relation: the focus in the hour before a prompt is RHO_PRE * s + noise,
# and for POST_MIN minutes after it RHO_POST * s + noise, s = (attention - 0.5) / 1.5.
PRE_MIN, POST_MIN = 60, 30
RHO_PRE, RHO_POST = 0.55, 0.95
FOCUS_TAU_MIN = 40.0


@dataclass(frozen=True)
class Person:
    """Person-specific baselines and effect sizes (people differ, so models must generalise)."""

    effect: float  # overall strength of the focus signal in this person's sensors
    hr_base: float  # resting-awake heart rate, bpm
    hr_focus: float  # bpm lower per unit of focus
    hr_jitter: float  # beat-to-beat spread of the reported bpm
    eda_log_base: float  # log skin resistance
    eda_focus: float  # log resistance higher per unit of focus (calmer skin)
    fidget: float  # wrist movement SD (g) when idle and unfocused
    fidget_focus: float  # log reduction of that SD per unit of focus
    walk_rate: float  # short walking bouts per awake minute
    walk_focus: float  # log reduction of that rate per unit of focus
    screen_rate: float  # phone sessions per awake hour
    screen_focus: float  # log reduction per unit of focus
    switch_rate: float  # apps per session
    switch_focus: float  # log reduction per unit of focus
    home: tuple[float, float]  # latitude, longitude
    campus: tuple[float, float]


# The release's coordinates are offset (median latitude 36.37, longitude 34.32); stay there.
CAMPUS_CENTRE = (36.3707, 34.3178)


def draw_person(rng: np.random.Generator) -> Person:
    e = rng.uniform(0.55, 1.45)
    lat, lon = CAMPUS_CENTRE
    # Home 1-3 km from campus; each person's campus building a few hundred metres apart.
    ang, dist = rng.uniform(0, 2 * np.pi), rng.uniform(1000, 3000)
    home = (lat + dist * np.sin(ang) / 111_000, lon + dist * np.cos(ang) / 89_000)
    campus = (lat + rng.normal(0, 0.002), lon + rng.normal(0, 0.002))
    return Person(
        effect=e,
        hr_base=float(np.clip(rng.normal(73, 6), 60, 88)),
        hr_focus=e * rng.uniform(3.0, 6.0),
        hr_jitter=rng.uniform(2.0, 3.5),
        eda_log_base=float(np.log(1385) + rng.normal(0, 0.6)),
        eda_focus=e * rng.uniform(0.12, 0.3),
        fidget=rng.uniform(0.07, 0.14),
        fidget_focus=e * rng.uniform(0.25, 0.5),
        walk_rate=rng.uniform(0.008, 0.02),
        walk_focus=e * rng.uniform(0.4, 0.8),
        screen_rate=rng.uniform(6, 12),
        screen_focus=e * rng.uniform(0.35, 0.7),
        switch_rate=rng.uniform(2.5, 5.0),
        switch_focus=e * rng.uniform(0.25, 0.5),
        home=home,
        campus=campus,
    )


@dataclass
class Timeline:
    """Per-minute hidden state over the study period (minute 0 = local midnight of day 1)."""

    t0: int  # UTC ms of the first minute
    days: int
    weekday0: int  # weekday of day 1 (Monday = 0)
    awake: np.ndarray  # bool
    band: np.ndarray  # float: share of band samples kept (1 worn, ~0.2 worn asleep, 0 off)
    place: np.ndarray  # int8 (HOME ... TRANSIT)
    move: np.ndarray  # int8 (STILL ... RUNNING)
    focus: np.ndarray  # float, meaningful while awake
    outdoors: np.ndarray  # bool

    @property
    def minutes(self) -> int:
        return self.awake.size

    @property
    def t1(self) -> int:
        return self.t0 + self.minutes * MINUTE_MS

    def tod(self) -> np.ndarray:
        """Local minute of day of every minute."""
        return np.arange(self.minutes) % DAY_MIN


def build_timeline(
    person: Person,
    t0: int,
    days: int,
    weekday0: int,
    prompt_ms: np.ndarray,
    prompt_attention: np.ndarray,
    rng: np.random.Generator,
) -> Timeline:
    """Draw one participant's hidden days around their prompt schedule."""
    m_total = days * DAY_MIN
    prompt_min = ((np.asarray(prompt_ms) - t0) // MINUTE_MS).astype(np.int64)
    awake = np.zeros(m_total, dtype=bool)
    place = np.full(m_total, HOME, dtype=np.int8)
    move = np.full(m_total, STILL, dtype=np.int8)
    band = np.zeros(m_total)
    for d in range(days):
        day = d * DAY_MIN
        todays = prompt_min[(prompt_min >= day) & (prompt_min < day + DAY_MIN)] - day
        # Awake well before the first prompt of the day and after the last one.
        wake = int(np.clip(rng.normal(8 * 60, 45), 6 * 60 + 30, 10 * 60 + 30))
        bed = int(np.clip(rng.normal(24 * 60 + 40, 50), 22 * 60 + 45, 26 * 60 + 30))
        if todays.size:
            wake = min(wake, int(todays.min()) - int(rng.integers(20, 60)))
            bed = max(bed, int(todays.max()) + int(rng.integers(20, 50)))
        lo, hi = day + wake, min(day + bed, m_total)
        awake[lo:hi] = True
        band[lo:hi] = 1.0
        weekend = (weekday0 + d) % 7 >= 5
        _plan_places(place, move, day, wake, bed, weekend, rng, m_total)
        # The band is off while it charges (about an hour in the evening) ...
        c0 = day + int(rng.integers(max(wake + 600, bed - 240), max(wake + 601, bed - 60)))
        band[c0 : min(c0 + int(rng.integers(45, 90)), m_total)] = 0.0
        # ... and left off the wrist for an hour or three on most days (the release's band
        # recorded ~8-9 h a day: 1.6 M ACC rows a week at 0.13 s).
        for _ in range(int(rng.integers(1, 4))):
            o0 = day + int(rng.integers(wake, max(wake + 1, bed - 60)))
            band[o0 : min(o0 + int(rng.integers(60, 200)), m_total)] = 0.0
        # ... and worn to bed on some nights, where it records sparsely.
        night = slice(hi, min(day + DAY_MIN + 6 * 60 + 30, m_total))
        if rng.random() < 0.35:
            band[night] = 0.2
    # Nights are asleep: before each wake-up the band records sparsely (worn) or nothing.
    focus = _focus(awake, prompt_min, prompt_attention, rng)
    _random_walks(move, place, awake, focus, person, rng)
    tod = np.arange(m_total) % DAY_MIN
    daylight = (tod >= 6 * 60 + 30) & (tod < 19 * 60)
    outdoors = ((move == WALKING) | (move == RUNNING) | (place == TOWN) & (rng.random(m_total) < 0.3)) & daylight
    return Timeline(t0, days, weekday0, awake, band, place, move, focus, outdoors)


def _plan_places(place, move, day, wake, bed, weekend, rng, m_total) -> None:
    """Home -> campus (lunch at the cafeteria) -> home on weekdays; home or town at weekends."""

    def span(a: int, b: int, where: int, how: int = STILL) -> None:
        a, b = max(day + a, 0), min(day + b, m_total)
        if b > a:
            place[a:b] = where
            move[a:b] = how

    def commute(a: int, dest: int) -> int:
        """A 12-20 min trip starting at a; by bus a third of the time. Returns the arrival."""
        if rng.random() < 0.33:
            span(a, a + 4, TRANSIT, WALKING)
            span(a + 4, a + 14, TRANSIT, VEHICLE)
            span(a + 14, a + 18, TRANSIT, WALKING)
            end = a + 18
        else:
            end = a + int(rng.integers(12, 21))
            span(a, end, TRANSIT, WALKING)
        span(end, end + 1, dest)
        return end

    if weekend and rng.random() < 0.5:
        return  # a day at home
    if weekend:
        out = int(rng.integers(13 * 60, 15 * 60))
        arrive = commute(out, TOWN)
        back = min(int(rng.integers(17 * 60, 20 * 60)), bed - 30)
        span(arrive, back, TOWN)
        commute(back, HOME)
        return
    leave = wake + int(rng.integers(40, 100))
    arrive = commute(leave, CAMPUS)
    back = int(np.clip(rng.normal(19 * 60, 60), 17 * 60 + 30, max(17 * 60 + 31, bed - 60)))
    span(arrive, back, CAMPUS)
    lunch = int(rng.integers(11 * 60 + 40, 12 * 60 + 30))
    if arrive < lunch < back - 60:
        span(lunch, lunch + 5, TRANSIT, WALKING)
        span(lunch + 5, lunch + 40, CAFETERIA)
        span(lunch + 40, lunch + 45, TRANSIT, WALKING)
    commute(back, HOME)


def _focus(awake, prompt_min, attention, rng) -> np.ndarray:
    """A slow latent focus (OU, sd 1), pulled towards each prompt's answer around the prompt."""
    background = ou(awake.size, FOCUS_TAU_MIN, rng)
    focus = background.copy()
    s = (np.asarray(attention, dtype=float) - 0.5) / 1.5
    m_total = awake.size
    # Pre-prompt hours first, then post-prompt half hours, which win where they overlap: the
    # state that produced the answer lingers after it.
    for rho, lo_off, hi_off in ((RHO_PRE, -PRE_MIN, 0), (RHO_POST, 0, POST_MIN)):
        for m, sk in zip(prompt_min, s):
            lo, hi = max(m + lo_off, 0), min(m + hi_off, m_total)
            if hi > lo:
                focus[lo:hi] = rho * sk + np.sqrt(1 - rho * rho) * background[lo:hi]
    return np.where(awake, focus, 0.0)


def _random_walks(move, place, awake, focus, person: Person, rng) -> None:
    """Short walks (2-6 min) while awake and not travelling; fewer when focused."""
    idle = awake & (move == STILL) & (place != TRANSIT)
    p = person.walk_rate * np.exp(-person.walk_focus * focus)
    starts = np.nonzero(idle & (rng.random(move.size) < p))[0]
    lengths = rng.integers(2, 7, starts.size)
    for s, n in zip(starts, lengths):
        seg = slice(s, min(s + n, move.size))
        move[seg] = np.where(idle[seg], WALKING if rng.random() > 0.02 else RUNNING, move[seg])
