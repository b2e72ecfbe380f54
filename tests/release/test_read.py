import math

import polars as pl
import pytest

from kemo_attention.errors import DataError
from kemo_attention.release.read import empty_frame, read_participant, read_table
from kemo_attention.release.schema import DATA_TYPES

from release_writer import T0, full_participant, header_of, valid_rows, write_csv, write_release

DTYPE = {"float": pl.Float64, "int": pl.Int64, "str": pl.String, "bool": pl.Boolean}
HR, WIFI, INS = DATA_TYPES["HR"], DATA_TYPES["WiFi"], DATA_TYPES["InstalledApp"]


def expected_value(kind, text):
    if text in ("", None):
        return None
    return {"float": float, "int": int, "str": str, "bool": lambda s: s.lower() in ("true", "1")}[kind](text)


@pytest.mark.parametrize("legacy", [False, True], ids=["canonical", "legacy"])
def test_all_27_types_typed_with_canonical_names(tmp_path, legacy):
    root = write_release(tmp_path / "r", {"P01": full_participant(n=15)}, legacy=legacy)
    data = read_participant(root, "P01")
    assert data.problems == []
    assert set(data.tables) == set(DATA_TYPES)
    for name, dt in DATA_TYPES.items():
        frame = data.tables[name]
        assert frame.columns == ["timestamp", *dt.column_names], name
        assert frame.dtypes == [pl.Int64, *[DTYPE[c.kind] for c in dt.columns]], name
        rows = valid_rows(dt, [T0 + i * 1000 for i in range(15)], seed=0)
        assert frame["timestamp"].to_list() == [r[0] for r in rows]
        for j, col in enumerate(dt.columns, start=1):
            got = frame[col.name].to_list()
            want = [expected_value(col.kind, str(r[j])) for r in rows]
            assert got == want, (name, col.name)


def test_missing_files_give_empty_frames_and_problems(small_release):
    data = read_participant(small_release, "P02")
    assert data.tables["HR"].height == 4
    missing = [p for p in data.problems if p.kind == "missing_file"]
    assert len(missing) == 26 and all(p.count == 1 for p in missing)
    assert any("CallEvent.csv" in p.file and "not every participant" in p.message for p in missing)
    acc = data.tables["Acceleration"]
    assert acc.height == 0 and acc.schema == empty_frame(DATA_TYPES["Acceleration"]).schema


def test_types_filter_unknown_type_and_unknown_participant(small_release):
    data = read_participant(small_release, "P01", types=["HR", "WiFi"])
    assert set(data.tables) == {"HR", "WiFi"}
    with pytest.raises(DataError, match=r"unknown data type\(s\) \['Heart'\]"):
        read_participant(small_release, "P01", types=["Heart"])
    with pytest.raises(DataError, match="participant 'P99' has no folder under Sensor/ \\(found: P01, P02\\)"):
        read_participant(small_release, "P99")


# ------------------------------------------------------------------------------ dirt
def kinds(problems):
    return {p.kind: p.count for p in problems}


def test_empty_and_header_only_files(tmp_path):
    (tmp_path / "HR.csv").write_bytes(b"")
    frame, problems = read_table(tmp_path / "HR.csv", HR)
    assert frame.height == 0 and kinds(problems) == {"empty_file": 1}
    write_csv(tmp_path / "H2.csv", ["timestamp", "bpm"], [])
    frame, problems = read_table(tmp_path / "H2.csv", HR)
    assert frame.height == 0 and frame.schema == empty_frame(HR).schema and kinds(problems) == {"empty_file": 1}


def test_duplicated_timestamps_kept_and_counted(tmp_path):
    path = write_csv(tmp_path / "HR.csv", ["timestamp", "bpm"], [[T0 + 1, 60], [T0 + 2, 61], [T0 + 2, 62], [T0 + 3, 63], [T0 + 3, 64], [T0 + 3, 65]])
    frame, problems = read_table(path, HR)
    assert frame["bpm"].to_list() == [60, 61, 62, 63, 64, 65]
    assert kinds(problems) == {"duplicate_timestamps": 3}


def test_wifi_scan_rows_share_a_timestamp_only_whole_repeats_count(tmp_path):
    rows = [[T0 + 1, "a", 2412, -50], [T0 + 1, "b", 2412, -60], [T0 + 1, "a", 2412, -50], [T0 + 2, "a", 2412, -50]]
    frame, problems = read_table(write_csv(tmp_path / "WiFi.csv", header_of(WIFI), rows), WIFI)
    assert frame.height == 4
    assert kinds(problems) == {"duplicate_timestamps": 1}


def test_out_of_order_rows_stable_sorted(tmp_path):
    rows = [[T0 + 5, 50], [T0 + 1, 51], [T0 + 3, 52], [T0 + 2, 53], [T0 + 9, 54], [T0 + 3, 55]]
    frame, problems = read_table(write_csv(tmp_path / "HR.csv", ["timestamp", "bpm"], rows), HR)
    assert frame["timestamp"].to_list() == [T0 + k for k in (1, 2, 3, 3, 5, 9)]
    assert frame["bpm"].to_list() == [51, 53, 52, 55, 50, 54]  # 52 before 55: file order among equal times
    k = kinds(problems)
    assert k["out_of_order"] == 3  # 5->1, 3->2, 9->3
    assert k["duplicate_timestamps"] == 1
    first = next(p for p in problems if p.kind == "out_of_order")
    assert first.row == 2 and "line 3 of the file" in first.message


@pytest.mark.parametrize("legacy", [False, True])
def test_header_text_rows_dropped(tmp_path, legacy):
    header = header_of(INS, legacy)
    good = [[T0, "카카오톡", 1, "com.kakao.talk", "True", 2, "False", "COMMUNICATION"]]
    rows = good + [header] + [[T0 + 1, *header[1:]]] + [[T0 + 2, "설정", 3, "com.android.settings", "true", 4, "0", "TOOLS"]]
    frame, problems = read_table(write_csv(tmp_path / "InstalledApp.csv", header, rows), INS)
    assert frame["name"].to_list() == ["카카오톡", "설정"]
    assert frame["isSystemApp"].to_list() == [True, True]
    assert frame["isUpdatedSystemApp"].to_list() == [False, False]
    assert kinds(problems) == {"header_row": 2}
    assert next(p for p in problems if p.kind == "header_row").row == 2


def test_out_of_range_kept_and_counted(tmp_path):
    rows = [[T0 + 1, 300], [T0 + 2, 70], [T0 + 3, 10], [T0 + 4, 250]]
    frame, problems = read_table(write_csv(tmp_path / "HR.csv", ["timestamp", "BPM"], rows), HR)
    assert frame["bpm"].to_list() == [300, 70, 10, 250]
    (p,) = problems
    assert (p.kind, p.count, p.row, p.column) == ("out_of_range", 2, 1, "BPM")


def test_unparsable_values_become_null_and_are_counted(tmp_path):
    rows = [[T0 + 1, "abc"], [T0 + 2, ""], [T0 + 3, " 71 "], [T0 + 4, "N/A"]]
    frame, problems = read_table(write_csv(tmp_path / "HR.csv", ["timestamp", "bpm"], rows), HR)
    assert frame["bpm"].to_list() == [None, None, 71.0, None]
    (p,) = problems
    assert (p.kind, p.count, p.row, p.column) == ("unparsable_value", 2, 1, "bpm")  # empty is missing, not unparsable
    assert "'abc'" in p.message


def test_bool_spellings(tmp_path):
    con = DATA_TYPES["Connectivity"]
    values = ["True", "False", "true", "false", "1", "0", "TRUE", "maybe"]
    rows = [[T0 + i, v, "WIFI"] for i, v in enumerate(values)]
    frame, problems = read_table(write_csv(tmp_path / "Connectivity.csv", header_of(con), rows), con)
    assert frame["isConnected"].to_list() == [True, False, True, False, True, False, True, None]
    assert kinds(problems) == {"unparsable_value": 1}


def test_unknown_missing_and_blank(tmp_path):
    path = tmp_path / "Calorie.csv"
    path.write_text(f"Unnamed: 0,timestamp,caloriesToday\n0,{T0 + 1},5\n\n2,{T0 + 3},7\n", encoding="utf-8")
    frame, problems = read_table(path, DATA_TYPES["Calorie"])
    assert frame.columns == ["timestamp", "caloriesToday", "totalCalories"]
    assert frame["caloriesToday"].to_list() == [5.0, 7.0] and frame["totalCalories"].to_list() == [None, None]
    assert kinds(problems) == {"unknown_column": 1, "missing_column": 1, "blank_row": 1}


def test_utf8_strings_with_commas_quotes_and_bom(tmp_path):
    path = tmp_path / "MediaEvent.csv"
    path.write_bytes(f'\ufefftimestamp,mimetype,bucketDisplay\n{T0 + 1},image/jpeg,"19 이음, ""최고"""\n{T0 + 2},video/mp4,ミリシタ\n'.encode())
    frame, problems = read_table(path, DATA_TYPES["MediaEvent"])
    assert problems == []
    assert frame["bucketDisplay"].to_list() == ['19 이음, "최고"', "ミリシタ"]


def test_integral_float_timestamps_accepted(tmp_path):
    frame, _ = read_table(write_csv(tmp_path / "HR.csv", ["timestamp", "bpm"], [["1557000000000.0", 60]]), HR)
    assert frame["timestamp"].to_list() == [1_557_000_000_000]


# ---------------------------------------------------------------------------- fatal
def test_no_timestamp_column_is_fatal(tmp_path):
    path = write_csv(tmp_path / "HR.csv", ["time", "bpm"], [[1, 60]])
    with pytest.raises(DataError, match=r"HR.csv, column 'timestamp': no timestamp column.*\['time', 'bpm'\]") as err:
        read_table(path, HR)
    assert err.value.file == str(path) and err.value.column == "timestamp"


@pytest.mark.parametrize("bad, got", [("12.5", "'12.5'"), ("2019-05-05", "'2019-05-05'"), ("", "an empty cell")])
def test_non_integer_timestamp_is_fatal_naming_row_and_column(tmp_path, bad, got):
    rows = [[T0 + 1, 60], [T0 + 2, 61], [bad, 62], [T0 + 4, 63]]
    path = write_csv(tmp_path / "HR.csv", ["Timestamp", "BPM"], rows)
    with pytest.raises(DataError) as err:
        read_table(path, HR)
    msg = str(err.value)
    assert msg.startswith(f"{path}, row 3, column 'Timestamp': data row 3 ")
    assert "line 4 of the file" in msg and f"expected an integer timestamp (epoch milliseconds), got {got}" in msg
    assert (err.value.row, err.value.column) == (3, "Timestamp")


def test_timestamp_rule_holds_after_header_rows_are_dropped(tmp_path):
    rows = [[T0 + 1, 60], ["timestamp", "bpm"], [T0 + 3, "x"], ["oops", 5]]
    with pytest.raises(DataError, match=r"row 4, column 'timestamp'.*got 'oops'"):
        read_table(write_csv(tmp_path / "HR.csv", ["timestamp", "bpm"], rows), HR)


def test_undecodable_file_is_fatal(tmp_path):
    path = tmp_path / "AppUsageEvent.csv"
    path.write_bytes(",".join(header_of(DATA_TYPES["AppUsageEvent"])).encode() + b"\n1,\xc7\xd1\xb1\xdb,p,True,T,False,C\n")
    with pytest.raises(DataError, match=r"AppUsageEvent.csv, row 1: not UTF-8 text .*line 2 of the file"):
        read_table(path, DATA_TYPES["AppUsageEvent"])


def test_ragged_line_is_fatal(tmp_path):
    path = tmp_path / "HR.csv"
    path.write_text("timestamp,bpm\n1,60\n2,61,99,100\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"HR.csv, row 2: data row 2 \(line 3 of the file\) has 4 fields, the header 2"):
        read_table(path, HR)


def test_folder_instead_of_file_is_fatal(tmp_path):
    (tmp_path / "HR.csv").mkdir()
    with pytest.raises(DataError, match="expected a CSV file, found a folder"):
        read_table(tmp_path / "HR.csv", HR)


def test_nan_values_stay_nan_not_problems(tmp_path):
    frame, problems = read_table(write_csv(tmp_path / "HR.csv", ["timestamp", "bpm"], [[T0 + 1, "NaN"], [T0 + 2, 60]]), HR)
    assert math.isnan(frame["bpm"][0]) and problems == []


def test_windows_line_endings_and_no_final_newline(tmp_path):
    path = tmp_path / "HR.csv"
    path.write_bytes(f"Timestamp,BPM\r\n{T0 + 2},61\r\n{T0 + 1},60".encode())
    frame, problems = read_table(path, HR)
    assert frame.rows() == [(T0 + 1, 60.0), (T0 + 2, 61.0)] and kinds(problems) == {"out_of_order": 1}


def test_header_rows_recognised_when_a_column_is_missing(tmp_path):
    app = DATA_TYPES["AppUsageEvent"]
    header = [h for h in header_of(app) if h != "type"]
    rows = [[T0 + 1, "a", "p", "True", "False", "C"], header, [T0 + 2, "b", "q", "False", "True", "D"]]
    frame, problems = read_table(write_csv(tmp_path / "AppUsageEvent.csv", header, rows), app)
    assert frame["name"].to_list() == ["a", "b"] and frame["type"].to_list() == [None, None]
    assert kinds(problems) == {"missing_column": 1, "header_row": 1}


# ------------------------------------------------------------------ implausible timestamps
def _epoch_ms(year: int) -> int:
    from datetime import datetime, timezone

    return int(datetime(year, 1, 1, tzinfo=timezone.utc).timestamp()) * 1000


@pytest.mark.parametrize(
    "scale, hint", [(1 / 1000, "looks like epoch seconds"), (1000, "looks like epoch microseconds")]
)
def test_timestamps_not_in_milliseconds_are_fatal(tmp_path, scale, hint):
    rows = [[T0 + 1, 60], [int(T0 * scale), 61], [int(T0 * scale) + 1, 62]]
    path = write_csv(tmp_path / "HR.csv", ["timestamp", "bpm"], rows)
    with pytest.raises(DataError) as err:
        read_table(path, HR)
    assert (err.value.file, err.value.row, err.value.column) == (str(path), 2, "timestamp")
    assert hint in str(err.value) and "(2 such values in all)" in str(err.value)


def test_plausible_range_is_2000_to_2100(tmp_path):
    lo, hi = _epoch_ms(2000), _epoch_ms(2100)
    frame, problems = read_table(write_csv(tmp_path / "HR.csv", ["timestamp", "bpm"], [[lo, 60], [hi, 61]]), HR)
    assert frame["timestamp"].to_list() == [lo, hi] and problems == []
    for bad in (lo - 1, hi + 1, 0, -5):
        with pytest.raises(DataError, match=rf"row 1, column 'timestamp': data row 1 .*\): {bad} is not an epoch-millisecond time"):
            read_table(write_csv(tmp_path / "HR.csv", ["timestamp", "bpm"], [[bad, 60]]), HR)
