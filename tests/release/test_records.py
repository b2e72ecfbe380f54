import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from release_writer import T0, header_of, valid_rows, write_csv

from kemo_attention.errors import DataError
from kemo_attention.release.read import _typed_records_frame, empty_frame, frame_from_records, read_table
from kemo_attention.release.schema import DATA_TYPES


@pytest.mark.parametrize("name", sorted(DATA_TYPES))
def test_records_give_the_frame_a_file_gives(tmp_path, name):
    dt = DATA_TYPES[name]
    rows = valid_rows(dt, [T0 + 3000, T0 + 1000, T0 + 1000, T0 + 2000], seed=3)  # out of order, duplicated
    header = header_of(dt, legacy=True)
    from_file, _ = read_table(write_csv(tmp_path / dt.file_name, header, rows), dt)
    records = [dict(zip(header, r)) for r in rows]  # python ints/floats/str, legacy key case
    assert_frame_equal(frame_from_records(dt, records), from_file)


def test_records_accept_python_and_numpy_types_and_ignore_unknown_keys():
    hr = DATA_TYPES["HR"]
    frame = frame_from_records(hr, [
        {"timestamp": np.int64(T0 + 1), "BPM": np.float32(70.5), "pcode": "P01"},
        {"TIMESTAMP": float(T0), "bpm": None},
    ])
    assert frame["timestamp"].to_list() == [T0, T0 + 1]
    assert frame["bpm"].to_list() == [None, 70.5]
    con = DATA_TYPES["Connectivity"]
    frame = frame_from_records(con, [{"timestamp": T0 + 1, "isConnected": True, "type": "WIFI"}, {"timestamp": T0 + 2, "isconnected": 0}])
    assert frame["isConnected"].to_list() == [True, False] and frame["type"].to_list() == ["WIFI", None]


def test_empty_records_give_the_empty_frame():
    assert_frame_equal(frame_from_records(DATA_TYPES["EDA"], []), empty_frame(DATA_TYPES["EDA"]))


def test_bad_records_name_index_and_key():
    hr = DATA_TYPES["HR"]
    good = {"timestamp": T0, "bpm": 60}
    with pytest.raises(DataError, match=r"HR records, column 'Timestamp': record 2 \(0-based index\): expected an integer timestamp.*got '12.5'"):
        frame_from_records(hr, [good, good, {"Timestamp": 12.5, "bpm": 61}])
    with pytest.raises(DataError, match=r"column 'timestamp': record 1 \(0-based index\): .*got an empty cell"):
        frame_from_records(hr, [good, {"bpm": 61}])
    with pytest.raises(DataError, match=r"column 'BPM': record 1 \(0-based index\): expected a number, got 'fast'"):
        frame_from_records(hr, [good, {"timestamp": T0, "BPM": "fast"}])
    with pytest.raises(DataError, match=r"record 0 \(0-based index\): expected an object .* got list"):
        frame_from_records(hr, [[T0, 60]])
    with pytest.raises(DataError, match=r"column 'bpm': record 0 \(0-based index\): expected a number, text or boolean, got list"):
        frame_from_records(hr, [{"timestamp": T0, "bpm": [1]}])
    with pytest.raises(DataError, match=r"column 'isConnected': record 0 .*expected True/False/true/false/1/0, got 'yes'"):
        frame_from_records(DATA_TYPES["Connectivity"], [{"timestamp": T0 + 1, "isConnected": "yes", "type": "WIFI"}])


def test_records_out_of_range_kept():
    frame = frame_from_records(DATA_TYPES["HR"], [{"timestamp": T0 + 1, "bpm": 400}])
    assert frame.dtypes == [pl.Int64, pl.Float64] and frame["bpm"].to_list() == [400.0]


def test_records_in_seconds_are_refused_naming_the_record():
    with pytest.raises(DataError, match=r"HR records, column 'TimeStamp': record 1 \(0-based index\): 1557000001 is not an "
                                        r"epoch-millisecond time .*looks like epoch seconds"):
        frame_from_records(DATA_TYPES["HR"], [{"timestamp": T0, "bpm": 60}, {"TimeStamp": T0 // 1000 + 1, "bpm": 60}])


def test_required_columns_name_the_record_and_the_column():
    hr, app = DATA_TYPES["HR"], DATA_TYPES["AppUsageEvent"]
    # without require_columns a missing key is a null value (the file reader's rule) ...
    assert frame_from_records(hr, [{"timestamp": T0}])["bpm"].to_list() == [None]
    # ... with it, a record lacking a column is refused; an explicit null is accepted
    assert frame_from_records(hr, [{"timestamp": T0, "BPM": None}], require_columns=True)["bpm"].to_list() == [None]
    with pytest.raises(DataError, match=r"HR records, column 'bpm': record 1 \(0-based index\): no 'bpm' key; "
                                        r"every HR record needs timestamp, bpm"):
        frame_from_records(hr, [{"timestamp": T0, "bpm": 60}, {"timestamp": T0 + 1, "heart": 61}], require_columns=True)
    full = {"timestamp": T0, **{c: None for c in app.column_names}}
    del full["category"]
    with pytest.raises(DataError, match=r"record 0 .*no 'category' key"):
        frame_from_records(app, [full], require_columns=True)


@pytest.mark.parametrize("name", sorted(DATA_TYPES))
def test_canonical_typed_records_give_the_frame_a_file_gives(tmp_path, name):
    """The usual API batch (canonical keys, values already typed) takes a direct route;
    it must still equal the file's frame: order by time (stable), nulls, duplicates kept."""
    dt = DATA_TYPES[name]
    rows = valid_rows(dt, [T0 + 3000, T0 + 1000, T0 + 1000, T0 + 2000, T0 + 500], seed=5)
    rows[-1] = [rows[-1][0]] + [""] * len(dt.columns)  # an all-empty row of values
    header = ["timestamp", *dt.column_names]
    from_file, _ = read_table(write_csv(tmp_path / dt.file_name, header, rows), dt)
    records = [dict(zip(header, r)) for r in from_file.rows()][::-1]  # python values, reversed
    expected = from_file.reverse().sort("timestamp", maintain_order=True)
    assert _typed_records_frame(dt, records) is not None  # the direct route was taken
    assert_frame_equal(frame_from_records(dt, records, require_columns=True), expected)
    # the same records with an ignored extra key go the general (text) route: same frame
    assert_frame_equal(frame_from_records(dt, [{**r, "note": 1} for r in records]), expected)


def test_typed_route_leaves_odd_values_to_the_parser():
    hr = DATA_TYPES["HR"]
    # ints and NaN in a float column, out of order: as parsed from text
    frame = frame_from_records(hr, [{"timestamp": T0 + 2, "bpm": 61}, {"timestamp": T0 + 1, "bpm": float("nan")}])
    assert frame["timestamp"].to_list() == [T0 + 1, T0 + 2]
    assert np.isnan(frame["bpm"][0]) and frame["bpm"][1] == 61.0
    # a boolean is not a number (True would pass as 1 if polars typed it directly)
    with pytest.raises(DataError, match=r"column 'bpm': record 1 \(0-based index\): expected a number, got 'true'"):
        frame_from_records(hr, [{"timestamp": T0, "bpm": 60.0}, {"timestamp": T0 + 1, "bpm": True}])
    with pytest.raises(DataError, match=r"column 'timestamp'"):
        frame_from_records(hr, [{"timestamp": T0, "bpm": 60.0}, {"timestamp": True, "bpm": 61.0}])
    # a timestamp in seconds is refused with the row named
    with pytest.raises(DataError, match=r"record 1 \(0-based index\)"):
        frame_from_records(hr, [{"timestamp": T0, "bpm": 60.0}, {"timestamp": T0 // 1000, "bpm": 61.0}])
    con = DATA_TYPES["Connectivity"]  # a number where text is expected becomes its text
    assert frame_from_records(con, [{"timestamp": T0, "isConnected": True, "type": 5}])["type"].to_list() == ["5"]
