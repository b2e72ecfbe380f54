import csv
from importlib.resources import files

import polars as pl
import pytest
from release_writer import T0, esm_rows, write_csv, write_release

from kemo_attention.errors import DataError
from kemo_attention.release.read import read_esm, read_userinfo
from kemo_attention.release.schema import ESM_COLUMNS, USERINFO_COLUMNS

# The real ESM sample ships inside the package (demo/data, package data in pyproject.toml),
# so this test runs wherever the package is installed.
REAL_ESM = files("kemo_attention") / "demo" / "data" / "EsmResponse-1966.csv"


def test_real_esm_sample_loads():
    assert REAL_ESM.is_file(), f"{REAL_ESM}: the shipped real ESM sample is missing"
    esm = read_esm(REAL_ESM)
    assert esm.columns == [c.name for c in ESM_COLUMNS]
    assert esm.height == 1966 and esm["pcode"].n_unique() == 63
    assert esm["scheduledTime"].null_count() == 0  # the sample holds scheduled responses only
    assert esm.schema["responseTime"] == pl.Int64 and esm.schema["attention"] == pl.Int64
    # independent count of the Excel "#N/A" durations, read with the csv module
    with open(REAL_ESM, encoding="utf-8") as f:
        na = sum(1 for row in csv.DictReader(f) if row["Duration"] == "#N/A")
    assert na > 0 and esm["duration"].null_count() == na
    assert esm["attention"].min() >= -3 and esm["attention"].max() <= 3


@pytest.mark.parametrize("legacy", [False, True])
def test_esm_voluntary_responses_have_null_scheduled_time(tmp_path, legacy):
    root = write_release(tmp_path / "r", {"P01": {}}, esm={"P01": (3, 2)}, legacy=legacy)
    esm = read_esm(root / "SubjData" / "EsmResponse.csv")
    assert esm.columns == [c.name for c in ESM_COLUMNS]
    assert esm["scheduledTime"].null_count() == 2 and esm.height == 5
    info = read_userinfo(root / "SubjData" / "UserInfo.csv")
    assert info.columns == [c.name for c in USERINFO_COLUMNS]
    assert info.row(0) == ("P01", "2019-05-05", 22.0, "M", 9.0, 9.0, 9.0, 9.0, 9.0, 15.0, 5.0, 10.0)


def test_esm_bad_cells_are_fatal_with_row_and_column(tmp_path):
    header = ["Pcode", "ResponseTime", "ScheduledTime", "Valence", "Arousal", "Attention", "Stress", "Duration", "Disturbance", "Change"]
    rows = [["P01", T0 + 10, T0 + 5, 0, 0, 1, 0, 5, 0, 0], ["P01", T0 + 20, "", 0, 0, "very", 0, 5, 0, 0]]
    with pytest.raises(DataError, match=r"EsmResponse.csv, row 2, column 'Attention': .*expected an integer, got 'very'"):
        read_esm(write_csv(tmp_path / "EsmResponse.csv", header, rows))
    rows = [["P01", "", T0 + 5, 0, 0, 1, 0, 5, 0, 0]]
    with pytest.raises(DataError, match=r"row 1, column 'ResponseTime': .*got an empty cell"):
        read_esm(write_csv(tmp_path / "EsmResponse.csv", header, rows))


def test_esm_missing_column_and_missing_file(tmp_path):
    path = write_csv(tmp_path / "EsmResponse.csv", ["pcode", "responseTime"], [["P01", 1]])
    with pytest.raises(DataError, match=r"missing column\(s\) \['scheduledTime', 'valence'"):
        read_esm(path)
    with pytest.raises(DataError, match="file not found"):
        read_esm(tmp_path / "nope.csv")


@pytest.mark.parametrize("column", ["responseTime", "scheduledTime"])
def test_esm_times_in_seconds_are_fatal_naming_the_cell(tmp_path, column):
    header = [c.name for c in ESM_COLUMNS]
    rows = esm_rows("P01", 3, 0)
    rows[1][header.index(column)] //= 1000  # 1.557e9: seconds, a date in January 1970 if read as ms
    path = write_csv(tmp_path / "EsmResponse.csv", header, rows)
    with pytest.raises(DataError) as err:
        read_esm(path)
    assert (err.value.file, err.value.row, err.value.column) == (str(path), 2, column)
    assert "looks like epoch seconds" in str(err.value) and "2000-01-01 .. 2100-01-01" in str(err.value)
