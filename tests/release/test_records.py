import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from release_writer import T0, header_of, valid_rows, write_csv

from kemo_attention.errors import DataError
from kemo_attention.release.read import empty_frame, frame_from_records, read_table
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
    frame = frame_from_records(con, [{"timestamp": 1, "isConnected": True, "type": "WIFI"}, {"timestamp": 2, "isconnected": 0}])
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
        frame_from_records(DATA_TYPES["Connectivity"], [{"timestamp": 1, "isConnected": "yes", "type": "WIFI"}])


def test_records_out_of_range_kept():
    frame = frame_from_records(DATA_TYPES["HR"], [{"timestamp": 1, "bpm": 400}])
    assert frame.dtypes == [pl.Int64, pl.Float64] and frame["bpm"].to_list() == [400.0]
