"""Feature names in plain words (spec/features.md naming)."""

import pytest

from kemo_attention.dashboard.feature_names import (
    CATEGORICAL_STREAMS,
    STREAM_LABELS,
    UNPARSED_GROUP,
    describe_feature,
    parse_feature_name,
)


@pytest.mark.parametrize(
    ("name", "stream", "stat", "value", "window"),
    [
        ("HRT#AVG#H01", "HRT", "AVG", None, "H01"),
        ("SCR#DSC", "SCR", "DSC", None, None),
        ("SCR#DSC=ON", "SCR", "DSC", "ON", None),
        ("APP_CAT#DUR=SOCIAL#M30", "APP_CAT", "DUR", "SOCIAL", "M30"),
        ("ESM#HRN=LATE_AFTERNOON", "ESM", "HRN", "LATE_AFTERNOON", None),
        ("PIF#BFI_OPN", "PIF", "BFI_OPN", None, None),
        ("ESM#LIK#H24", "ESM", "LIK", None, "H24"),
        ("ACC_MAG#COV#S30", "ACC_MAG", "COV", None, "S30"),
    ],
)
def test_names_split_into_their_parts(name, stream, stat, value, window):
    parsed = parse_feature_name(name)
    assert parsed.parsed
    assert (parsed.stream, parsed.stat, parsed.value, parsed.window) == (stream, stat, value, window)


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("HRT#AVG#H01", "heart rate · mean · last hour"),
        ("HRT#STD#S30", "heart rate · standard deviation · last 30 seconds"),
        ("SCR#ASC#M05", "screen · number of changes · last 5 minutes"),
        ("ACC_MAG#ASC#M05", "acceleration magnitude · sum of absolute changes · last 5 minutes"),
        ("ESM#DOW=MON", "prompt time and past answers · day of week = Monday"),
        ("PIF#GEN=F", "participant profile · gender = female"),
        ("ESM#WKD=Y", "prompt time and past answers · weekend = yes"),
        ("ACT#VAL=IN_VEHICLE", "activity transition · latest value = in vehicle"),
    ],
)
def test_plain_word_labels(name, label):
    assert describe_feature(name) == label


@pytest.mark.parametrize("name", ["bpm#AVG#60", "my_feature", "HRT#AVG#60", "HRT##H01", "", "HRT#AVG#H01#extra"])
def test_names_of_another_shape_are_shown_as_they_are(name):
    parsed = parse_feature_name(name)
    assert not parsed.parsed
    assert parsed.label == name
    assert parsed.stream_label == UNPARSED_GROUP


def test_unknown_stream_of_the_right_shape_keeps_its_code():
    assert parse_feature_name("FOO#AVG#H01").label == "FOO · mean · last hour"


def test_stream_dictionary_matches_the_52_streams_of_the_feature_code():
    from kemo_attention.features.streams import STREAM_SPECS

    assert len(STREAM_LABELS) == 52
    assert list(STREAM_LABELS) == [s.name for s in STREAM_SPECS]
    assert CATEGORICAL_STREAMS == {s.name for s in STREAM_SPECS if s.kind == "cat"}
    assert len(CATEGORICAL_STREAMS) == 14


def test_every_extracted_feature_name_parses_into_known_words():
    from kemo_attention.features.layout import feature_columns

    for name in feature_columns(coverage=True):
        parsed = parse_feature_name(name)
        assert parsed.parsed, name
        # every part has a word, not the raw code
        assert parsed.stream_label != parsed.stream, name
        assert parsed.stat_label != parsed.stat, name
        if parsed.window is not None:
            assert parsed.window_label.startswith("last "), name
