"""Labels (the reference protocol and its settings), label history, time of prompt, and
the validation of the settings objects."""

import numpy as np
import polars as pl
import pytest

from kemo_attention.config import FeatureSettings, LabelSettings, SettingsError
from kemo_attention.features.context import participant_info, time_of_prompt
from kemo_attention.features.labels import label_history, make_labels, sample_times

H = 3_600_000
# 2019-05-08 (a Wednesday) 00:00:00.000 at +09:00, in epoch ms.
WED = 1_557_241_200_000


def esm(rows):
    """rows: (pcode, responseTime, scheduledTime or None, attention or None)."""
    n = len(rows)
    return pl.DataFrame(
        {
            "pcode": [r[0] for r in rows],
            "responseTime": [r[1] for r in rows],
            "scheduledTime": [r[2] for r in rows],
            "valence": [0] * n,
            "arousal": [0] * n,
            "attention": [r[3] for r in rows],
            "stress": [1] * n,
            "duration": [15] * n,
            "disturbance": [-1] * n,
            "change": [0] * n,
        },
        schema={
            "pcode": pl.String, "responseTime": pl.Int64, "scheduledTime": pl.Int64, "valence": pl.Int64,
            "arousal": pl.Int64, "attention": pl.Int64, "stress": pl.Int64, "duration": pl.Int64,
            "disturbance": pl.Int64, "change": pl.Int64,
        },
    )  # fmt: skip


ROWS = [
    # P01: four scheduled (one given out of order), one voluntary, one without a value
    ("P01", WED + 10 * H + 5, WED + 10 * H, -1),
    ("P01", WED + 14 * H + 5, WED + 14 * H, 2),
    ("P01", WED + 12 * H + 5, WED + 12 * H, 0),
    ("P01", WED + 16 * H + 5, WED + 16 * H, 1),
    ("P01", WED + 9 * H, None, 3),
    ("P01", WED + 18 * H + 5, WED + 18 * H, None),
    # P02: two scheduled only
    ("P02", WED + 11 * H, WED + 11 * H - 60_000, 3),
    ("P02", WED + 13 * H, WED + 13 * H - 60_000, -3),
]


def test_scheduled_only_anchored_at_the_prompt_time_and_sorted():
    labels = make_labels(esm(ROWS), LabelSettings(min_responses=1))
    p1 = labels.participants["P01"]
    assert p1.prompt_ms.tolist() == [WED + 10 * H, WED + 12 * H, WED + 14 * H, WED + 16 * H]
    assert p1.value.tolist() == [-1, 0, 2, 1]
    assert p1.y.tolist() == [0, 0, 1, 1]  # attention > 0
    assert labels.participants["P02"].prompt_ms.tolist() == [WED + 11 * H - 60_000, WED + 13 * H - 60_000]
    assert labels.responses_total == 8 and labels.responses_used == 6


def test_voluntary_responses_count_when_asked_anchored_at_their_response_time():
    labels = make_labels(esm(ROWS), LabelSettings(min_responses=1, scheduled_only=False))
    p1 = labels.participants["P01"]
    assert p1.prompt_ms.tolist()[0] == WED + 9 * H
    assert len(p1) == 5


def test_participants_below_the_minimum_are_skipped_with_the_reason():
    labels = make_labels(esm(ROWS), LabelSettings(min_responses=3))
    assert list(labels.participants) == ["P01"]
    assert "P02" in labels.skipped
    assert "2 scheduled responses" in labels.skipped["P02"] and "minimum 3" in labels.skipped["P02"]
    # the voluntary and the empty response do not count towards the minimum
    labels = make_labels(esm(ROWS), LabelSettings(min_responses=5))
    assert labels.participants == {} and "4 scheduled responses" in labels.skipped["P01"]


def test_threshold_kinds():
    fixed = make_labels(esm(ROWS), LabelSettings(min_responses=1, threshold=1))
    assert fixed.participants["P01"].y.tolist() == [0, 0, 1, 0]  # value > 1
    own = make_labels(esm(ROWS), LabelSettings(min_responses=1, threshold_kind="participant_mean"))
    # P01 values -1, 0, 2, 1: mean 0.5
    assert own.participants["P01"].y.tolist() == [0, 0, 1, 1]
    # P02 values 3, -3: mean 0
    assert own.participants["P02"].y.tolist() == [1, 0]
    shifted = make_labels(esm(ROWS), LabelSettings(min_responses=1, threshold_kind="participant_mean", threshold=1.0))
    assert shifted.participants["P01"].y.tolist() == [0, 0, 1, 0]  # value > 1.5


def test_other_label_columns():
    labels = make_labels(esm(ROWS), LabelSettings(name="stress", min_responses=1))
    # stress is 1 everywhere, also where attention is empty: five scheduled samples for P01
    assert labels.participants["P01"].y.tolist() == [1, 1, 1, 1, 1]
    labels = make_labels(esm(ROWS), LabelSettings(name="disturbance", min_responses=1))
    assert labels.participants["P01"].y.tolist() == [0, 0, 0, 0, 0]  # -1 > 0 is false


def test_sample_time_is_one_millisecond_before_the_prompt():
    assert sample_times(np.array([WED + 12 * H])).tolist() == [WED + 12 * H - 1]


def test_label_history_counts_only_earlier_labels_within_the_window():
    T = WED + 20 * H
    past = [
        (T, 1),  # the prompt itself: not earlier, never counts
        (T - 1, 0),  # 1 ms before the prompt: t - 0, counts everywhere
        (T - 1 - 6 * H, 1),  # exactly t - 6 h: inside H06 (both ends included)
        (T - 2 - 6 * H, 1),  # just outside H06, inside H12
        (T - 1 - 20 * H, 0),  # inside H24 only
        (T + H, 1),  # a later label
    ]
    lik = label_history(sample_times(np.array([T, WED])), past)
    assert lik["ESM#LIK#H06"].tolist() == [0.5, 0.0]  # {0, 1}
    assert lik["ESM#LIK#H12"].tolist() == [pytest.approx(2 / 3), 0.0]  # {0, 1, 1}
    assert lik["ESM#LIK#H24"].tolist() == [0.5, 0.0]  # {0, 1, 1, 0}
    empty = label_history(np.array([T]), None)
    assert [v.tolist() for v in empty.values()] == [[0.0], [0.0], [0.0]]


def test_causal_label_history_counts_an_answer_only_once_it_was_given():
    """An earlier prompt answered after T is not yet known at T: with response times
    (causal extraction) it is left out; by prompt time alone (the reference) it counts."""
    T = WED + 20 * H
    answered_in_time = (T - 2 * H, 1, T - 2 * H + 60_000)
    answered_late = (T - H, 0, T + 5 * 60_000)  # prompted an hour before T, answered 5 min after T
    answered_at_t = (T - 30 * 60_000, 0, T - 1)  # given at t = T - 1 ms exactly: known
    t = sample_times(np.array([T]))
    causal = label_history(t, [answered_in_time, answered_late, answered_at_t])
    reference = label_history(t, [item[:2] for item in (answered_in_time, answered_late, answered_at_t)])
    assert causal["ESM#LIK#H06"].tolist() == [0.5]  # {1, 0}: the late answer is not there yet
    assert reference["ESM#LIK#H06"].tolist() == [pytest.approx(1 / 3)]  # {1, 0, 0}
    # Long after every answer came, both readings agree.
    later = sample_times(np.array([T + 2 * H]))
    both = [item for item in (answered_in_time, answered_late, answered_at_t)]
    assert label_history(later, both)["ESM#LIK#H06"].tolist() == label_history(later, [i[:2] for i in both])["ESM#LIK#H06"].tolist()


def test_prompt_at_noon_is_morning_and_at_midnight_is_the_night_before():
    noon, midnight = WED + 12 * H, WED + 24 * H  # Wed 12:00:00.000, Thu 00:00:00.000
    f = time_of_prompt(sample_times(np.array([noon, midnight])), "+09:00")
    assert f["ESM#HRN=MORNING"].tolist() == [True, False]
    assert f["ESM#HRN=AFTERNOON"].tolist() == [False, False]
    assert f["ESM#HRN=NIGHT"].tolist() == [False, True]
    assert f["ESM#DOW=WED"].tolist() == [True, True]  # Thursday 00:00 is still Wednesday at t
    assert f["ESM#WKD=N"].tolist() == [True, True]
    assert len(f) == 16


def test_time_of_prompt_bands_weekend_and_time_zone():
    sat = WED + 3 * 24 * H
    times = np.array([sat + h * H + 30 * 60_000 for h in (0, 5, 6, 9, 12, 15, 18, 21)])
    f = time_of_prompt(times, "+09:00")
    bands = ["MIDNIGHT", "MIDNIGHT", "DAWN", "MORNING", "AFTERNOON", "LATE_AFTERNOON", "EVENING", "NIGHT"]
    for i, band in enumerate(bands):
        assert [name for name in f if name.startswith("ESM#HRN=") and f[name][i]] == [f"ESM#HRN={band}"]
    assert f["ESM#DOW=SAT"].all() and f["ESM#WKD=Y"].all()
    # The same instant in UTC is Friday 15:30 the day before.
    g = time_of_prompt(times[:1], "+00:00")
    assert g["ESM#DOW=FRI"].tolist() == [True] and g["ESM#HRN=LATE_AFTERNOON"].tolist() == [True]


def test_participant_information():
    info = {"age": 23.0, "gender": "F", "openness": 10, "conscientiousness": 11, "neuroticism": 8,
            "extraversion": 9, "agreeableness": 12, "PSS": 16, "PHQ": 4, "GHQ": None}  # fmt: skip
    f = participant_info(info, 2)
    assert f["PIF#AGE"].tolist() == [23.0, 23.0] and f["PIF#BFI_AGR"].tolist() == [12.0, 12.0]
    assert np.isnan(f["PIF#GHQ"]).all()  # becomes 0 in the matrix
    assert f["PIF#GEN=F"].tolist() == [True, True] and f["PIF#GEN=M"].tolist() == [False, False]
    none = participant_info(None, 1)
    assert len(none) == 11 and not none["PIF#GEN=F"][0] and not none["PIF#GEN=M"][0]


def test_settings_are_validated_and_round_trip():
    with pytest.raises(SettingsError, match="label name must be one of"):
        LabelSettings(name="focus")
    with pytest.raises(SettingsError, match="threshold_kind"):
        LabelSettings(threshold_kind="median")
    with pytest.raises(SettingsError, match="min_responses"):
        LabelSettings(min_responses=0)
    with pytest.raises(SettingsError, match="threshold must be a finite number"):
        LabelSettings(threshold=float("nan"))
    with pytest.raises(SettingsError, match="feature mode"):
        FeatureSettings(mode="future")
    with pytest.raises(SettingsError, match="tz_offset"):
        FeatureSettings(tz_offset="KST")
    with pytest.raises(SettingsError, match="unknown field.*colour"):
        LabelSettings.from_dict({"colour": "red"})
    s = LabelSettings(name="stress", threshold=1, threshold_kind="participant_mean", min_responses=10)
    assert LabelSettings.from_dict(s.to_dict()) == s
    assert s.threshold == 1.0 and isinstance(s.threshold, float)
    f = FeatureSettings(mode="reference", coverage=True, tz_offset="-05:30")
    assert FeatureSettings.from_dict(f.to_dict()) == f
    assert LabelSettings().to_dict() == {
        "name": "attention", "threshold": 0.0, "threshold_kind": "fixed", "min_responses": 35, "scheduled_only": True,
    }  # fmt: skip
