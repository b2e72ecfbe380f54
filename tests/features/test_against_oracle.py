"""The fast feature engine against the slow oracle (``oracle.py``, written from the spec alone).

Tolerances are those of spec section 5, applied to the delivered float32 values where the
spec says "exactly": VAL, DSC, ASC/DUR of categorical windows, time of prompt, PIF and LIK
must be equal after the cast to float32. Categorical ETP is compared to 1e-12 because the
spec does not fix the order in which ``-sum p log p`` is summed. AVG, MED, STD and numeric
ASC: 1e-5 relative or 1e-6 absolute. SKW, KUR, BEP and TSC: the same, except on windows that
the oracle marks as ill-conditioned (at least half interpolated grid points, or a straight
line, spec 5), where the reference itself is unstable; there they must agree within 1.0
(BEP jumps when evenly spaced interpolated values sit on Doane bin edges).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import oracle
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import BASE_MS, ORACLE_BY_NAME, WINDOWS, agrees

MODES = ("reference", "causal")
FAMILY = oracle.all_feature_names()
HOUR = 3_600_000
HYPOTHESIS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --------------------------------------------------------------------------- comparison (rule: oracle.agrees)


def compare_stream(make_stream, run_fast, name, times, values, prompts, mode, present=None) -> list[str]:
    """Mismatches (as readable lines) between the engine and the oracle for one stream."""
    stream = make_stream(name, times, values)
    present = len(stream.times) > 0 if present is None else present
    ts = [int(p) - 1 for p in prompts]
    fast = run_fast(stream, ts, mode, present)
    spec = ORACLE_BY_NAME[name]
    expected_names = set(oracle.stream_names(spec))
    if set(fast) != expected_names:
        return [
            f"{name}: feature names differ; missing {sorted(expected_names - set(fast))[:8]}, "
            f"unexpected {sorted(set(fast) - expected_names)[:8]}"
        ]
    problems = []
    # Coverage columns (spec 7) are added without changing any reference column.
    with_coverage = run_fast(stream, ts, mode, present, coverage=True)
    for feature in fast:
        if not np.array_equal(with_coverage[feature], fast[feature]):
            problems.append(f"[{mode}] {feature}: coverage=True changes it to {with_coverage[feature]}")
    for i, t in enumerate(ts):
        expected, info = oracle.stream_features(spec, stream.times, stream.values.tolist(), t, mode, present)
        for feature, e in expected.items():
            g = float(fast[feature][i])
            if not agrees(feature, g, e, info):
                window = info.get(feature.split("#")[-1])
                problems.append(
                    f"[{mode}] {feature} at T={t + 1} (t=T-1): expected {e!r} (spec/oracle), got {g!r}"
                    + (f"; window n={window.n}, interpolated={window.n_interpolated}" if window else "")
                )
    return problems


def describe(name, times, values, prompts) -> str:
    t0 = int(times[0]) if len(times) else BASE_MS
    return (
        f"stream {name}, times relative to {t0}: {[int(x) - t0 for x in times]}, values: {list(values)}, "
        f"prompts T relative: {[int(p) - t0 for p in prompts]}"
    )


def assert_same(make_stream, run_fast, name, times, values, prompts, modes=MODES, present=None):
    problems = []
    for mode in modes:
        problems += compare_stream(make_stream, run_fast, name, times, values, prompts, mode, present)
    assert not problems, (
        f"{len(problems)} mismatches; {describe(name, times, values, prompts)}\n" + "\n".join(problems[:15])
    )


# --------------------------------------------------------------------------- catalogue


def test_stream_catalogue_is_the_spec_table():
    from kemo_attention.features.streams import STREAM_SPECS

    got = [(s.name, s.kind, s.categories, s.grid_step_ms) for s in STREAM_SPECS]
    expected = [(s.name, s.kind, s.categories, s.step_ms) for s in oracle.ORACLE_STREAMS]
    assert got == expected


def test_stream_feature_names_follow_the_spec():
    from kemo_attention.features.streams import STREAM_SPECS
    from kemo_attention.features.window import WINDOWS as FAST_WINDOWS
    from kemo_attention.features.window import stream_feature_names

    assert tuple(FAST_WINDOWS) == WINDOWS
    for spec in STREAM_SPECS:
        names = stream_feature_names(spec)
        assert len(names) == len(set(names)), spec.name
        assert set(names) == set(oracle.stream_names(ORACLE_BY_NAME[spec.name])), spec.name


def test_feature_columns_are_the_3356_of_the_spec():
    from kemo_attention.features.layout import feature_columns

    columns = feature_columns()
    assert len(columns) == 3356
    assert len(set(columns)) == 3356
    assert set(columns) == set(FAMILY)
    with_coverage = feature_columns(coverage=True)
    # Coverage adds columns and never changes the reference ones (spec 7).
    assert len(with_coverage) > 3356
    assert [c for c in with_coverage if c in FAMILY] == columns


# --------------------------------------------------------------------------- edge cases, numeric

T0 = BASE_MS + 10 * HOUR + 123  # 10:00:00.123 local, off the whole second on purpose


def _rng_values(n: int, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    return (rng.integers(-4000, 4000, n) / 64 + 70).tolist()


NUMERIC_CASES = {
    # one sample; prompts: sample at T (not counted), at t, at t - S30 and just past it, before data
    "one sample": ("HRT", [T0], [72.5], [T0, T0 + 1, T0 + 30_001, T0 + 30_002, T0 - 5_000, T0 + 2 * HOUR]),
    "constant values": (
        "HRT",
        [T0 + 1000 * k for k in range(40)],
        [60.25] * 40,
        [T0 + 20_001, T0 + 39_001, T0 + 45_000, T0 + 10 * 60_000],
    ),
    "duplicated timestamps": (
        "HRT",
        [T0, T0, T0 + 1000, T0 + 1000, T0 + 1000, T0 + 2500, T0 + 2500, T0 + 4000],
        [70.0, 74.0, 80.0, 60.0, 61.5, 90.0, 91.0, 55.0],
        [T0 + 1000, T0 + 1001, T0 + 2501, T0 + 3000, T0 + 4001, T0 + 9000],
    ),
    # t inside the bin [T0+1000, T0+2000): reference averages the later sample in, causal not.
    "bin holding t": (
        "HRT",
        [T0, T0 + 1000, T0 + 1200, T0 + 1700, T0 + 4000],
        [70.0, 72.0, 80.0, 90.0, 60.0],
        [T0 + 1201, T0 + 1500, T0 + 1701],
    ),
    # The spec's HRT example: dense data, then one sample 9 minutes after the prompt.
    "interpolated towards a late sample": (
        "HRT",
        [T0 + 1000 * k for k in range(25)] + [T0 + 25_000 + 9 * 60_000],
        _rng_values(25, 1) + [120.0],
        [T0 + 25_000, T0 + 25_001 + 5_000, T0 + 25_001 + 60_000],
    ),
    "multi-day gap": (
        "HRT",
        [T0 + 1000 * k for k in range(60)] + [T0 + 50 * HOUR + 1000 * k for k in range(30)],
        _rng_values(90, 2),
        [T0 + 60_000 + HOUR, T0 + 26 * HOUR, T0 + 50 * HOUR - 10 * 60_000, T0 + 50 * HOUR + 20_001],
    ),
    # Samples every second for 40 min: every window edge t - W lands on a sample and grid point.
    "samples exactly at t - W": (
        "HRT",
        [T0 + 1000 * k for k in range(2400)],
        _rng_values(2400, 3),
        [T0 + 1000 * 2399 + 1] + [T0 + 1000 * 2399 - w + 1 for _, w in WINDOWS[:5]] + [T0 + 1000 * 2000 + 30_001],
    ),
    # Sparse data (one sample a minute for 7 h): H06 edges, long interpolated stretches.
    "sparse, H06 edge": (
        "HRT",
        [T0 + 60_000 * k for k in range(420)],
        _rng_values(420, 4),
        [T0 + 60_000 * 360 + 1, T0 + 60_000 * 400 + 1, T0 + 60_000 * 419 + 1, T0 + 60_000 * 361],
    ),
    "ACC 250 ms grid": (
        "ACC_MAG",
        [T0 + 130 * k for k in range(300)],
        _rng_values(300, 5),
        [T0 + 130 * 150 + 1, T0 + 130 * 299 + 1, T0 + 130 * 299 + 200, T0 + 130 * 100],
    ),
    "EDA 500 ms grid": (
        "EDA",
        [T0 + 370 * k for k in range(300)],
        _rng_values(300, 6),
        [T0 + 370 * 150 + 1, T0 + 370 * 299 + 1, T0 + 370 * 299 + 400, T0 + 370 * 100],
    ),
}


@pytest.mark.parametrize("case", sorted(NUMERIC_CASES))
def test_numeric_edge_cases(case, make_stream, run_fast):
    assert_same(make_stream, run_fast, *NUMERIC_CASES[case])


def test_absent_streams_are_all_zero(make_stream, run_fast):
    """No data at all (present=False): VAL, windows and DSC / DSC=c all 0 in both modes."""
    for name in ("HRT", "SCR", "APP_PAC", "CHG"):
        stream = make_stream(name, [], [])
        for mode in MODES:
            fast = run_fast(stream, [T0, T0 + HOUR], mode, present=False)
            assert set(fast) == set(oracle.stream_names(ORACLE_BY_NAME[name]))
            nonzero = {k: v.tolist() for k, v in fast.items() if np.any(v != 0)}
            assert nonzero == {}, (name, mode)


# --------------------------------------------------------------------------- edge cases, categorical

CATEGORICAL_CASES = {
    "prompt before any data": ("SCR", [T0, T0 + 5000], ["ON", "OFF"], [T0 - 1000, T0, T0 + 1, T0 + 6000]),
    "duplicated timestamps": (
        "SCR",
        [T0, T0, T0 + 2000, T0 + 2000, T0 + 2000, T0 + 4000],
        ["ON", "OFF", "UNLOCK", "ON", "OFF", "ON"],
        [T0 + 1, T0 + 2000, T0 + 2001, T0 + 3500, T0 + 4001, T0 + 20_000],
    ),
    "None and values outside the list": (
        "APP_CAT",
        [T0, T0 + 3000, T0 + 6000, T0 + 9000, T0 + 12_000, T0 + 15_000],
        ["SOCIAL", None, "GAME", "NOT_A_CATEGORY", None, "SOCIAL"],
        [T0 + 3001, T0 + 8000, T0 + 10_001, T0 + 13_000, T0 + 15_001, T0 + 40_000],
    ),
    "unbounded stream": (
        "APP_PAC",
        [T0, T0 + 3000, T0 + 6000, T0 + 6000, T0 + 9000],
        ["com.a", None, "com.b", "com.c", "com.a"],
        [T0 + 3001, T0 + 6001, T0 + 9001, T0 + 70_000],
    ),
    "two categories": (
        "CHG",
        [T0, T0 + 30_000, T0 + 600_000],
        ["DISCONNECTED", "CONNECTED", "DISCONNECTED"],
        [T0 + 10_000, T0 + 300_001, T0 + 600_001, T0 + 630_000],
    ),
    "multi-day gap": (
        "CON",
        [T0, T0 + 10_000, T0 + 50 * HOUR, T0 + 50 * HOUR + 5000],
        ["WIFI", "MOBILE", "DISCONNECTED", "UNDEFINED"],
        [T0 + 20_001, T0 + 3 * HOUR, T0 + 49 * HOUR, T0 + 50 * HOUR + 10_000],
    ),
    "sample at t and at t - W": (
        "SCR",
        [T0, T0 + 30_000, T0 + 60_000, T0 + 90_000],
        ["OFF", "ON", "UNLOCK", "OFF"],
        [T0 + 30_001, T0 + 60_001, T0 + 90_000, T0 + 90_001, T0 + 120_001],
    ),
}


@pytest.mark.parametrize("case", sorted(CATEGORICAL_CASES))
def test_categorical_edge_cases(case, make_stream, run_fast):
    assert_same(make_stream, run_fast, *CATEGORICAL_CASES[case])


# --------------------------------------------------------------------------- worked examples (spec 6)


@pytest.mark.parametrize("mode", MODES)
def test_screen_on_just_before_the_prompt(mode, make_stream, run_fast):
    """SCR ON 0.3 s before T: VAL=ON true, DSC 0.299, DUR=OFF#S30 1.0 (no grid point after it)."""
    prompt = T0 + 60_000
    on = prompt - 300
    # OFF at on - 40.5 s: grid points are OFF + k s, the next one after ON is 0.5 s later > t.
    stream = make_stream("SCR", [on - 40_500, on], ["OFF", "ON"])
    fast = run_fast(stream, [prompt - 1], mode)
    assert fast["SCR#VAL=ON"][0] == 1.0
    assert fast["SCR#VAL=OFF"][0] == 0.0
    assert np.float32(fast["SCR#DSC"][0]) == np.float32(0.299)
    assert fast["SCR#DUR=OFF#S30"][0] == 1.0
    assert fast["SCR#DUR=ON#S30"][0] == 0.0


@pytest.mark.parametrize("mode", MODES)
def test_app_background_rows(mode, make_stream, run_fast):
    """Background rows count for DSC and clear VAL=c; A -> background -> B is one change."""
    stream = make_stream("APP_CAT", [T0, T0 + 5000, T0 + 10_000, T0 + 20_000], ["SOCIAL", None, "GAME", None])
    fast = run_fast(stream, [T0 + 14_999, T0 + 20_499], mode)  # t values
    # t = T0 + 14_999: grid T0..T0+14_000; SOCIAL x5, (None x5 dropped), GAME x5.
    assert fast["APP_CAT#ASC#S30"][0] == 1.0
    assert fast["APP_CAT#DUR=SOCIAL#S30"][0] == 0.5
    assert fast["APP_CAT#ETP#S30"][0] == pytest.approx(np.log(2), abs=1e-12)
    assert fast["APP_CAT#DSC"][0] == pytest.approx(4.999)
    assert fast["APP_CAT#VAL=GAME"][0] == 1.0
    # After the second background row: every VAL=c false, DSC counts the background row.
    assert not any(fast[f"APP_CAT#VAL={c}"][1] for c in ORACLE_BY_NAME["APP_CAT"].categories)
    assert fast["APP_CAT#DSC"][1] == pytest.approx(0.499)
    assert fast["APP_CAT#DSC=GAME"][1] == pytest.approx(10.499)


@pytest.mark.parametrize("mode", MODES)
def test_value_outside_the_category_list(mode, make_stream, run_fast):
    """CON UNDEFINED: every VAL=c false, counts in ETP and ASC only."""
    stream = make_stream("CON", [T0, T0 + 10_000], ["WIFI", "UNDEFINED"])
    fast = run_fast(stream, [T0 + 10_001], mode)
    assert not any(fast[f"CON#VAL={c}"][0] for c in ("DISCONNECTED", "WIFI", "MOBILE"))
    # Grid T0 .. T0+10_000: WIFI x10, UNDEFINED x1.
    assert fast["CON#ASC#S30"][0] == 1.0
    assert fast["CON#DUR=WIFI#S30"][0] == pytest.approx(10 / 11)
    assert fast["CON#DUR=DISCONNECTED#S30"][0] == 0.0
    p = np.array([10, 1]) / 11
    assert fast["CON#ETP#S30"][0] == pytest.approx(-np.sum(p * np.log(p)), abs=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_ambient_light_that_ended_two_hours_before(mode, make_stream, run_fast):
    """AML ending 2 h before T: AVG#S30 0, AVG#H03 from the data, VAL the last value."""
    stream = make_stream("AML", [T0 + 1000 * k for k in range(600)], [100.0] * 599 + [40.0])
    fast = run_fast(stream, [T0 + 599_000 + 2 * HOUR], mode)
    assert fast["AML#AVG#S30"][0] == 0.0
    assert fast["AML#AVG#H01"][0] == 0.0
    assert fast["AML#AVG#H03"][0] == pytest.approx((599 * 100 + 40) / 600)
    assert fast["AML#VAL"][0] == 40.0


# --------------------------------------------------------------------------- random streams


@HYPOTHESIS
@given(data=st.data())
def test_random_numeric_streams(data, make_stream, run_fast):
    name = data.draw(st.sampled_from(oracle.NUMERIC_TEST_STREAMS), label="stream")
    step = ORACLE_BY_NAME[name].step_ms
    times = data.draw(oracle.stream_times(step), label="times")
    values = data.draw(st.lists(oracle.dyadic_values(), min_size=len(times), max_size=len(times)), label="values")
    prompts = data.draw(oracle.prompt_times(times, step), label="prompts")
    assert_same(make_stream, run_fast, name, times, values, prompts)


@HYPOTHESIS
@given(data=st.data())
def test_random_categorical_streams(data, make_stream, run_fast):
    name = data.draw(st.sampled_from(oracle.CATEGORICAL_TEST_STREAMS), label="stream")
    spec = ORACLE_BY_NAME[name]
    times = data.draw(oracle.stream_times(spec.step_ms), label="times")
    values = data.draw(
        st.lists(oracle.category_values(spec), min_size=len(times), max_size=len(times)), label="values"
    )
    prompts = data.draw(oracle.prompt_times(times, spec.step_ms), label="prompts")
    assert_same(make_stream, run_fast, name, times, values, prompts)


# --------------------------------------------------------------------------- whole rows

USERINFO = {
    "pcode": "P01",
    "age": 27.0,
    "gender": "F",
    "openness": 3.5,
    "conscientiousness": 4.25,
    "neuroticism": 2.0,
    "extraversion": 3.0,
    "agreeableness": 4.0,
    "PSS": 18.0,
    "PHQ": 4.0,
    "GHQ": 9.0,
}


def row_tables(make_tables):
    rng = np.random.default_rng(11)
    hr = [{"timestamp": T0 + 1000 * k + int(rng.integers(0, 900)), "bpm": 60 + k % 17 + 0.3} for k in range(900)]
    hr += [{"timestamp": T0 + 3 * HOUR + 1000 * k, "bpm": 80 + (k * 7) % 11 + 0.7} for k in range(300)]
    aml = [{"timestamp": T0 + 2000 * k, "brightness": float((k * 37) % 500)} for k in range(400)]
    scr = [
        {"timestamp": T0 + 45_000 * k + 333, "type": ("ON", "OFF", "UNLOCK", "OFF")[k % 4]} for k in range(120)
    ]
    chg = [{"timestamp": T0 + 600_000 * k, "type": ("CONNECTED", "DISCONNECTED")[k % 2]} for k in range(12)]
    con = [
        {"timestamp": T0 + 200_000 * k + 17, "isConnected": k % 3 != 0, "type": ("WIFI", "MOBILE", "UNDEFINED")[k % 3]}
        for k in range(40)
    ]
    apps, cats = ("com.a", "com.b", "com.c"), ("SOCIAL", "GAME", "NOT_LISTED")
    app = []
    for k in range(150):
        kind = ("MOVE_TO_FOREGROUND", "MOVE_TO_BACKGROUND", "USER_INTERACTION")[k % 3 if k % 5 else 0]
        app.append(
            {"timestamp": T0 + 20_000 * k + 5, "type": kind, "packageName": apps[k % 3], "category": cats[(k // 2) % 3]}
        )
    return make_tables(
        {"HR": hr, "AmbientLight": aml, "ScreenEvent": scr, "ChargeEvent": chg, "Connectivity": con, "AppUsageEvent": app}
    )


ROW_PROMPTS = [
    T0 - HOUR,  # before any data
    T0 + 5 * 60_000 + 1,
    T0 + 15 * 60_000,
    T0 + 20 * 60_000 + 333,  # a screen event exactly at T
    T0 + 20 * 60_000 + 334,  # ... and exactly at t
    T0 + 2 * HOUR,  # in the HR gap
    T0 + 3 * HOUR + 150_000,
    T0 + 30 * HOUR,  # long after everything
]
PAST_LABELS = [(T0 - 7 * HOUR, 1), (T0 - HOUR - 1, 0), (T0 + 10 * 60_000, 1), (T0 + 15 * 60_000, 1), (T0 + HOUR, 0)]


@pytest.mark.parametrize("mode", MODES)
def test_whole_rows_match_the_oracle(mode, make_tables):
    from kemo_attention.config import FeatureSettings
    from kemo_attention.features.assemble import features_for_prompts
    from kemo_attention.features.layout import feature_columns

    tables = row_tables(make_tables)
    frame = features_for_prompts(
        tables,
        np.array(ROW_PROMPTS, dtype=np.int64),
        userinfo=USERINFO,
        past_labels=PAST_LABELS,
        settings=FeatureSettings(mode=mode),
    )
    assert list(frame.columns) == feature_columns()
    assert len(frame) == len(ROW_PROMPTS)
    bools = oracle.bool_feature_names()
    wrong_dtypes = {
        c: str(frame[c].dtype) for c in frame.columns if str(frame[c].dtype) != ("bool" if c in bools else "float32")
    }
    assert wrong_dtypes == {}
    got = {c: frame[c].to_numpy() for c in frame.columns}
    streams = oracle.streams_from_tables(tables)
    problems = []
    for i, prompt in enumerate(ROW_PROMPTS):
        expected, infos = oracle.feature_row(
            streams, prompt, userinfo=USERINFO, past_labels=PAST_LABELS, mode=mode
        )
        for feature, e in expected.items():
            g = float(got[feature][i])
            if not agrees(feature, g, float(np.float32(e)), infos.get(feature.split("#")[0], {})):
                problems.append(f"[{mode}] {feature} at T={prompt}: expected {e!r}, got {g!r}")
    assert not problems, f"{len(problems)} mismatches\n" + "\n".join(problems[:20])


def local_ms(day: int, hh: int, tz: str) -> int:
    """Epoch ms of May ``day`` 2019, ``hh``:00 local time at offset ``tz`` (May 6 is a Monday)."""
    return int(datetime(2019, 5, day, hh, tzinfo=oracle.parse_offset(tz)).timestamp() * 1000)


@pytest.mark.parametrize("tz", ["+09:00", "-05:30"])
def test_time_of_prompt_on_every_boundary(tz, make_tables):
    from kemo_attention.config import FeatureSettings
    from kemo_attention.features.assemble import features_for_prompts

    prompts = []
    for day in (6, 10, 11, 12):  # MON, FRI, SAT, SUN
        for hh in (0, 6, 9, 12, 15, 18, 21):
            edge = local_ms(day, hh, tz)
            prompts += [edge - 1, edge, edge + 1]  # t = edge - 2 ms, edge - 1 ms, edge
    noon = local_ms(8, 12, tz)  # the spec's example: a prompt at exactly 12:00:00.000 is MORNING
    prompts.append(noon)
    frame = features_for_prompts(
        make_tables({}), np.array(prompts, dtype=np.int64), userinfo=None, past_labels=None,
        settings=FeatureSettings(tz_offset=tz),
    )  # fmt: skip
    problems = []
    for i, prompt in enumerate(prompts):
        for name, e in oracle.time_of_prompt(prompt, tz).items():
            if bool(frame[name].iloc[i]) != bool(e):
                problems.append(f"{name} at T={prompt} ({tz}): expected {bool(e)}, got {bool(frame[name].iloc[i])}")
    assert not problems, "\n".join(problems[:20])
    assert frame["ESM#HRN=MORNING"].iloc[-1] and not frame["ESM#HRN=AFTERNOON"].iloc[-1]
    assert frame["ESM#DOW=WED"].iloc[-1] and frame["ESM#WKD=N"].iloc[-1]


def test_label_history_counts_only_earlier_labels(make_tables):
    from kemo_attention.features.assemble import features_for_prompts

    prompt = T0 + 30 * HOUR
    t = prompt - 1
    labels = [
        (t - 6 * HOUR, 1),  # exactly at t - H06: inside every window
        (t - 6 * HOUR - 1, 0),  # just outside H06, inside H12
        (t - 12 * HOUR, 0),  # exactly at t - H12
        (t - 24 * HOUR - 1, 1),  # outside everything
        (t, 0),  # exactly at t: counts
        (prompt, 1),  # the prompt itself: never
        (prompt + HOUR, 1),  # later: never
    ]
    frame = features_for_prompts(make_tables({}), np.array([prompt]), userinfo=None, past_labels=labels)
    expected = oracle.label_history(prompt, labels)
    assert expected == {"ESM#LIK#H06": 0.5, "ESM#LIK#H12": 0.25, "ESM#LIK#H24": 0.25}
    for name, e in expected.items():
        assert frame[name].iloc[0] == np.float32(e), name
    none = features_for_prompts(make_tables({}), np.array([prompt]), userinfo=None, past_labels=None)
    assert [none[n].iloc[0] for n in oracle.LIK_NAMES] == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("userinfo", [USERINFO, {**USERINFO, "gender": "M", "PHQ": None}, None])
def test_participant_features(userinfo, make_tables):
    from kemo_attention.features.assemble import features_for_prompts

    frame = features_for_prompts(make_tables({}), np.array([T0, T0 + HOUR]), userinfo=userinfo, past_labels=None)
    for name, e in oracle.participant_features(userinfo).items():
        expected = [bool(e)] * 2 if name in oracle.PIF_BOOL else [np.float32(e)] * 2
        assert list(frame[name]) == expected, name
