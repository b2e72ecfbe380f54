"""Streams from hand-made frames, checked against values computed by hand from the spec
(spec/features.md, section 1)."""

import math

import numpy as np
import polars as pl
import pytest
from tiny_release import frame

from kemo_attention.errors import DataError
from kemo_attention.features import geohash
from kemo_attention.features.streams import STREAM_SPECS, build_streams


def f32(x: float) -> float:
    return float(np.float32(x))


def values(stream) -> list:
    return stream.values.tolist()


def test_catalogue_matches_the_spec():
    assert len(STREAM_SPECS) == 52
    assert sum(s.kind == "num" for s in STREAM_SPECS) == 38
    cats = [s for s in STREAM_SPECS if s.kind == "cat"]
    assert len(cats) == 14
    assert sorted(s.name for s in cats if s.categories is None) == ["APP_PAC", "LOC_CLS"]
    by = {s.name: s for s in STREAM_SPECS}
    assert by["CAE"].categories == ("CALL", "IDLE")
    assert by["CON"].categories == ("DISCONNECTED", "WIFI", "MOBILE")
    assert by["CHG"].categories == ("DISCONNECTED", "CONNECTED")
    assert by["ACT"].categories == ("WALKING", "STILL", "IN_VEHICLE", "ON_BICYCLE", "RUNNING")
    assert len(by["APP_CAT"].categories) == 31
    assert by["APP_CAT"].categories[0] == "PERSONALIZATION" and by["APP_CAT"].categories[-1] == "AUTO_AND_VEHICLES"
    # 65 bounded categories in all: the count behind 103 latest-value and 79 time-since features.
    assert sum(len(s.categories or ()) for s in cats) == 65
    assert by["ACC_MAG"].grid_step_ms == 250 and by["EDA"].grid_step_ms == 500
    assert by["AML"].grid_step_ms == 1000 and by["HRT"].grid_step_ms == 1000
    assert all(s.categories is None for s in STREAM_SPECS if s.kind == "num")


def test_empty_input_gives_every_stream_empty():
    streams = build_streams({})
    assert list(streams) == [s.name for s in STREAM_SPECS]
    assert all(len(s.times) == 0 for s in streams.values())
    assert streams["HRT"].times.dtype == np.int64


def test_acceleration_axes_and_magnitude():
    df = frame(
        "Acceleration",
        [
            {"timestamp": 1000, "x": 3.0, "y": 4.0, "z": 0.0},
            {"timestamp": 1100, "x": 1.0, "y": 2.0, "z": 2.0},
            {"timestamp": 1200, "x": 0.1, "y": None, "z": 0.0},  # y missing: no magnitude
        ],
    )
    s = build_streams({"Acceleration": df})
    assert s["ACC_AXX"].times.tolist() == [1000, 1100, 1200]
    assert values(s["ACC_AXX"]) == [3.0, 1.0, f32(0.1)]  # float32-rounded, held as float64
    assert s["ACC_AXX"].values.dtype == np.float64
    assert s["ACC_AXY"].times.tolist() == [1000, 1100]
    assert s["ACC_MAG"].times.tolist() == [1000, 1100]
    assert values(s["ACC_MAG"]) == [5.0, 3.0]


def test_cumulative_columns_become_differences_with_the_first_row_dropped():
    steps = frame(
        "StepCount",
        [{"timestamp": t, "totalSteps": v} for t, v in [(10, 100.0), (20, 105.0), (30, 105.0), (40, 120.0)]],
    )
    cal = frame(
        "Calorie",
        [{"timestamp": 1, "totalCalories": 50.0}, {"timestamp": 2, "totalCalories": None}, {"timestamp": 3, "totalCalories": 57.5}],
    )
    s = build_streams({"StepCount": steps, "Calorie": cal})
    assert s["STP"].times.tolist() == [20, 30, 40]
    assert values(s["STP"]) == [5.0, 0.0, 15.0]
    # the null row is dropped before differencing
    assert s["CAL"].times.tolist() == [3]
    assert values(s["CAL"]) == [7.5]


def test_distance_and_ultraviolet_streams():
    dst = frame(
        "Distance",
        [
            {"timestamp": 1, "motionType": "IDLE", "pace": 0.0, "speed": 0.0, "totalDistance": 1000.0},
            {"timestamp": 2, "motionType": "WALKING", "pace": 600.0, "speed": 1.5, "totalDistance": 1002.5},
        ],
    )
    ulv = frame(
        "UltraViolet",
        [{"timestamp": 5, "intensity": "LOW", "totalExposure": 3.0}, {"timestamp": 6, "intensity": None, "totalExposure": 4.0}],
    )
    s = build_streams({"Distance": dst, "UltraViolet": ulv})
    assert values(s["DST_MOT"]) == ["IDLE", "WALKING"]
    assert values(s["DST_DST"]) == [2.5] and s["DST_DST"].times.tolist() == [2]
    assert values(s["DST_SPD"]) == [0.0, 1.5]
    assert values(s["ULV_INT"]) == ["LOW"]
    assert values(s["ULV_EXP"]) == [1.0]


def test_numeric_nulls_are_dropped_and_values_rounded_to_float32():
    hr = frame("HR", [{"timestamp": 1, "bpm": 70.1}, {"timestamp": 2, "bpm": None}, {"timestamp": 3, "bpm": float("nan")}])
    s = build_streams({"HR": hr})
    assert s["HRT"].times.tolist() == [1]
    assert values(s["HRT"]) == [f32(70.1)]
    assert values(s["HRT"]) != [70.1]


def test_activity_event_uses_six_confidences_and_tilting_but_not_still():
    row = {"timestamp": 1, "confidenceStill": 0.9, "confidenceUnknown": 0.1, "confidenceOnFoot": 0.2,
           "confidenceWalking": 0.3, "confidenceInVehicle": 0.4, "confidenceOnBicycle": 0.5,
           "confidenceRunning": 0.6, "confidenceTilting": 0.7}  # fmt: skip
    s = build_streams({"ActivityEvent": frame("ActivityEvent", [row])})
    got = [values(s[n])[0] for n in ("ACE_UNK", "ACE_FOT", "ACE_WLK", "ACE_VHC", "ACE_BCC", "ACE_RUN", "ACE_TLT")]
    assert got == [f32(v) for v in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)]


def test_activity_transition_keeps_enter_rows_of_the_five_types():
    df = frame(
        "ActivityTransition",
        [
            {"timestamp": 1, "transitionType": "ENTER_WALKING"},
            {"timestamp": 2, "transitionType": "EXIT_WALKING"},
            {"timestamp": 3, "transitionType": "ENTER_TILTING"},
            {"timestamp": 4, "transitionType": "ENTER_IN_VEHICLE"},
            {"timestamp": 5, "transitionType": "ENTER_ON_BICYCLE"},
        ],
    )
    s = build_streams({"ActivityTransition": df})["ACT"]
    assert s.times.tolist() == [1, 4, 5]
    assert values(s) == ["WALKING", "IN_VEHICLE", "ON_BICYCLE"]


def test_app_usage_foreground_value_background_none_other_types_dropped():
    df = frame(
        "AppUsageEvent",
        [
            {"timestamp": 1, "packageName": "com.a", "type": "MOVE_TO_FOREGROUND", "category": "SOCIAL"},
            {"timestamp": 2, "packageName": "com.a", "type": "USER_INTERACTION", "category": "SOCIAL"},
            {"timestamp": 3, "packageName": "com.a", "type": "MOVE_TO_BACKGROUND", "category": "SOCIAL"},
            {"timestamp": 4, "packageName": "com.b", "type": "MOVE_TO_FOREGROUND", "category": "GAME"},
        ],
    )
    s = build_streams({"AppUsageEvent": df})
    assert s["APP_PAC"].times.tolist() == [1, 3, 4]
    assert values(s["APP_PAC"]) == ["com.a", None, "com.b"]
    assert values(s["APP_CAT"]) == ["SOCIAL", None, "GAME"]


def test_battery_streams():
    df = frame("BatteryEvent", [{"timestamp": 7, "status": "CHARGING", "temperature": 30.5, "level": 80.0, "plugged": "AC"}])
    s = build_streams({"BatteryEvent": df})
    assert values(s["BAT_LEV"]) == [80.0] and values(s["BAT_TMP"]) == [30.5] and values(s["BAT_STA"]) == ["CHARGING"]


def test_calls_give_call_at_start_and_idle_at_start_plus_duration_resorted():
    df = frame(
        "CallEvent",
        [
            {"timestamp": 1_000, "duration": 5_000.0},  # CALL 1000, IDLE 6000
            {"timestamp": 3_000, "duration": 0.0},  # missed call: dropped
            {"timestamp": 4_000, "duration": 1_000.0},  # CALL 4000, IDLE 5000
            {"timestamp": 8_000, "duration": None},  # no duration: dropped
        ],
    )
    s = build_streams({"CallEvent": df})["CAE"]
    assert s.times.tolist() == [1_000, 4_000, 5_000, 6_000]
    assert values(s) == ["CALL", "CALL", "IDLE", "IDLE"]


def test_connectivity_disconnected_when_not_connected():
    df = frame(
        "Connectivity",
        [
            {"timestamp": 1, "isConnected": True, "type": "WIFI"},
            {"timestamp": 2, "isConnected": False, "type": "WIFI"},
            {"timestamp": 3, "isConnected": True, "type": "MOBILE"},
            {"timestamp": 4, "isConnected": True, "type": "UNDEFINED"},
        ],
    )
    s = build_streams({"Connectivity": df})["CON"]
    assert values(s) == ["WIFI", "DISCONNECTED", "MOBILE", "UNDEFINED"]


def test_data_traffic_streams():
    df = frame("DataTraffic", [{"timestamp": 1, "rxKiloBytes": 12.5, "txKiloBytes": 3.25, "duration": 15000.0}])
    s = build_streams({"DataTraffic": df})
    assert values(s["DAT_RCV"]) == [12.5] and values(s["DAT_SNT"]) == [3.25]


def test_installed_apps_jaccard_between_consecutive_snapshots():
    rows = [(100, "a"), (100, "b"), (100, "c"), (200, "b"), (200, "c"), (200, "d"), (300, "d"), (300, "b"), (300, "c"), (300, "d")]
    df = frame("InstalledApp", [{"timestamp": t, "packageName": p} for t, p in rows])
    s = build_streams({"InstalledApp": df})["INS_JAC"]
    assert s.times.tolist() == [200, 300]
    # {b,c,d} vs {a,b,c}: 2 shared of 4; {b,c,d} vs {b,c,d} (d listed twice): 1
    assert values(s) == [0.5, 1.0]


def test_location_distance_is_haversine_from_the_previous_fix():
    df = frame(
        "Location",
        [
            {"timestamp": 1, "latitude": 0.0, "longitude": 0.0},
            {"timestamp": 2, "latitude": 0.0, "longitude": 1.0},
            {"timestamp": 3, "latitude": None, "longitude": 1.0},
            {"timestamp": 4, "latitude": 1.0, "longitude": 1.0},
            {"timestamp": 5, "latitude": 57.64911, "longitude": 10.40744},
        ],
    )
    s = build_streams({"Location": df})
    # One degree along the equator = R * pi / 180 with R = 6,371,008.8 m.
    one_degree = 6_371_008.8 * math.pi / 180
    dst = values(s["LOC_DST"])
    assert s["LOC_DST"].times.tolist() == [1, 2, 3, 4, 5]
    assert dst[0] == 0.0 and dst[2] == 0.0 and dst[3] == 0.0  # first fix / a missing coordinate
    assert dst[1] == pytest.approx(one_degree, rel=1e-7)
    assert dst[1] == f32(dst[1])
    # LOC_CLS: rows with a missing coordinate dropped; geohash precision 7
    assert s["LOC_CLS"].times.tolist() == [1, 2, 4, 5]
    assert values(s["LOC_CLS"])[-1] == "u4pruyd"


def test_geohash_known_points():
    got = geohash.encode(np.array([57.64911, 37.5665, -33.8688]), np.array([10.40744, 126.978, 151.2093]), 7)
    assert got.tolist() == ["u4pruyd", "wydm9qy", "r3gx2f7"]
    assert geohash.encode(np.array([57.64911]), np.array([10.40744]), 11).tolist() == ["u4pruydqqvj"]


def test_media_and_message_events():
    med = frame("MediaEvent", [{"timestamp": t, "mimetype": m} for t, m in [(1, "image/jpeg"), (2, "video/mp4"), (3, "audio/mpeg"), (4, None)]])
    msg = frame(
        "MessageEvent",
        [{"timestamp": t, "messageBox": b} for t, b in [(1, "INBOX"), (2, "SENT"), (3, "INBOX"), (4, "DRAFT")]],
    )
    s = build_streams({"MediaEvent": med, "MessageEvent": msg})
    assert s["MED_ALL"].times.tolist() == [1, 2, 3, 4] and values(s["MED_ALL"]) == [1.0] * 4
    assert s["MED_IMG"].times.tolist() == [1] and s["MED_VID"].times.tolist() == [2]
    assert s["MSG_ALL"].times.tolist() == [1, 2, 3, 4]
    assert s["MSG_SNT"].times.tolist() == [2] and s["MSG_RCV"].times.tolist() == [1, 3]
    assert values(s["MSG_RCV"]) == [1.0, 1.0]


def test_wifi_similarities_between_consecutive_scans():
    scans = [
        (10, "ap1", 2412.0, -50.0), (10, "ap2", 2412.0, -60.0), (10, "ap3", 5180.0, -70.0),
        (20, "ap1", 2412.0, -55.0), (20, "ap2", 2412.0, -60.0), (20, "ap4", 2412.0, -80.0),
        (30, "ap1", 5180.0, -55.0),  # same bssid, other frequency: another access point
    ]  # fmt: skip
    df = frame("WiFi", [{"timestamp": t, "bssid": b, "frequency": f, "rssi": r} for t, b, f, r in scans])
    s = build_streams({"WiFi": df})
    for name in ("WIF_COS", "WIF_EUC", "WIF_MAN", "WIF_JAC"):
        assert s[name].times.tolist() == [20, 30]
    # scan 20 vs 10: shared ap1-2412 (-55 vs -50) and ap2-2412 (-60 vs -60)
    cos = (55 * 50 + 60 * 60) / (math.sqrt(55**2 + 60**2) * math.sqrt(50**2 + 60**2))
    euc = 1 / (1 + math.sqrt((5**2 + 0**2) / 2))
    man = 1 / (1 + (5 + 0) / 2)
    assert values(s["WIF_COS"])[0] == pytest.approx(cos, rel=1e-7)
    assert values(s["WIF_EUC"])[0] == pytest.approx(euc, rel=1e-7)
    assert values(s["WIF_MAN"])[0] == pytest.approx(man, rel=1e-7)
    assert values(s["WIF_JAC"])[0] == 0.5  # 2 shared of 4 keys
    # scan 30 vs 20: nothing shared
    assert [values(s[n])[1] for n in ("WIF_COS", "WIF_EUC", "WIF_MAN", "WIF_JAC")] == [0.0, 0.0, 0.0, 0.0]


def test_phone_event_types_are_categorical_streams():
    tables = {
        "ScreenEvent": frame("ScreenEvent", [{"timestamp": 1, "type": "ON"}, {"timestamp": 1, "type": "UNLOCK"}]),
        "RingerModeEvent": frame("RingerModeEvent", [{"timestamp": 2, "type": "SILENT"}]),
        "ChargeEvent": frame("ChargeEvent", [{"timestamp": 3, "type": "CONNECTED"}]),
        "PowerSaveEvent": frame("PowerSaveEvent", [{"timestamp": 4, "type": "ACTIVATE"}]),
        "OnOffEvent": frame("OnOffEvent", [{"timestamp": 5, "type": "OFF"}, {"timestamp": 6, "type": None}]),
    }
    s = build_streams(tables)
    assert values(s["SCR"]) == ["ON", "UNLOCK"]  # equal times keep file order
    assert values(s["RNG"]) == ["SILENT"] and values(s["CHG"]) == ["CONNECTED"]
    assert values(s["PWS"]) == ["ACTIVATE"] and values(s["ONF"]) == ["OFF"]


def test_a_table_without_its_columns_is_a_data_error():
    bad = pl.DataFrame({"timestamp": [1], "beats": [70.0]})
    with pytest.raises(DataError, match=r"HR.csv.*bpm"):
        build_streams({"HR": bad})


def test_derived_streams_use_the_raw_values_and_round_only_the_result():
    """Spec section 3: a stream derived from raw columns is computed in float64 from the values
    as parsed; only its result is rounded to float32. Each case below gives another answer
    when the inputs are rounded to float32 first (checked in the comments' arithmetic)."""
    acc = frame("Acceleration", [{"timestamp": 1, "x": 0.165649891, "y": 1.756596651, "z": -0.475183049}])
    # Totals above 2**24: float32 keeps only even numbers there, so 20,000,001 -> 20,000,000.
    steps = frame("StepCount", [{"timestamp": 1, "totalSteps": 20_000_001.0}, {"timestamp": 2, "totalSteps": 20_000_004.0}])
    dist = frame(
        "Distance", [{"timestamp": 1, "totalDistance": 31_000_000.0}, {"timestamp": 2, "totalDistance": 31_000_001.0}]
    )
    # 2**-17 * 180 degrees is the latitude cell height of a 7-character geohash; this latitude
    # lies 4e-8 degrees above a cell edge (36.3702392578125), its float32 rounding on the edge.
    loc = frame(
        "Location",
        [
            {"timestamp": 1, "latitude": 36.3721234567, "longitude": 127.3601234567},
            {"timestamp": 2, "latitude": 36.3728234567, "longitude": 127.3594234567},
            {"timestamp": 3, "latitude": 36.3702393, "longitude": 127.36},
        ],
    )
    wifi = frame(
        "WiFi",
        [{"timestamp": 1, "bssid": "a", "frequency": 2412.0, "rssi": -50.0},
         {"timestamp": 2, "bssid": "a", "frequency": 2412.0, "rssi": -50.1}],
    )  # fmt: skip
    s = build_streams({"Acceleration": acc, "StepCount": steps, "Distance": dist, "Location": loc, "WiFi": wifi})

    mag = math.sqrt(0.165649891**2 + 1.756596651**2 + 0.475183049**2)
    assert values(s["ACC_MAG"]) == [f32(mag)]
    assert f32(mag) != f32(math.sqrt(sum(f32(v) ** 2 for v in (0.165649891, 1.756596651, -0.475183049))))
    assert values(s["STP"]) == [3.0]  # float32 first: 20,000,004 - 20,000,000 = 4
    assert values(s["DST_DST"]) == [1.0]  # float32 first: 0

    def haversine(lat1, lon1, lat2, lon2):
        p1, p2 = math.radians(lat1), math.radians(lat2)
        a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
        return 2 * 6_371_008.8 * math.asin(math.sqrt(a))

    exact = haversine(36.3721234567, 127.3601234567, 36.3728234567, 127.3594234567)
    rounded_first = haversine(*(f32(v) for v in (36.3721234567, 127.3601234567, 36.3728234567, 127.3594234567)))
    assert abs(rounded_first - exact) / exact > 1e-4  # ~0.1 % here: what the reference comparison saw
    assert values(s["LOC_DST"])[1] == pytest.approx(exact, rel=1e-7)
    assert values(s["LOC_CLS"])[2] == "wy6wfjh"  # float32 first: "wy6wfhu", the cell below
    # 1 / (1 + |-50.1 - -50|): float32 inputs make the difference 0.0999985 instead of 0.1.
    assert values(s["WIF_MAN"]) == [f32(1 / (1 + abs(-50.1 + 50.0)))]
    assert values(s["WIF_MAN"]) != [f32(1 / (1 + abs(f32(-50.1) - f32(-50.0))))]
