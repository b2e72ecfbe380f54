import json
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from release_writer import T0, full_participant, write_csv, write_release

from kemo_attention.compute import Executor
from kemo_attention.config import tz_offset_ms
from kemo_attention.release.check import CheckReport, check_release

CLI = str(Path(sys.executable).with_name("kemo-attention"))
DAY = 86_400_000


def run_cli(*args):
    return subprocess.run([CLI, "check", *map(str, args)], capture_output=True, text=True, timeout=60)


def local_days(times, hours):
    tz = timezone(timedelta(hours=hours))
    return Counter(datetime.fromtimestamp(t / 1000, tz).date().isoformat() for t in times)


def test_report_counts_days_and_responses(small_release):
    report = check_release(small_release)
    assert report.usable and report.summary["fatal_errors"] == []
    p1, p2 = report.participants
    assert (p1["pcode"], p1["files"], p1["rows"], p1["days"]) == ("P01", 27, 27 * 20, 1)
    assert (p1["esm_responses"], p1["scheduled_responses"], p1["problems"]) == (43, 40, 0)
    assert (p2["files"], p2["rows"], p2["days"], p2["scheduled_responses"]) == (1, 4, 2, 10)
    assert (p2["first_ms"], p2["last_ms"]) == (T0, T0 + DAY + 5)
    assert (p2["first_day"], p2["last_day"]) == ("2019-05-05", "2019-05-06")  # T0 is 04:00 in Korea
    s = report.summary
    assert s["participants"] == 2 and s["participants_min_responses"] == 1  # only P01 has >= 35 scheduled
    assert (s["esm_responses"], s["scheduled_responses"], s["voluntary_responses"]) == (53, 50, 3)
    assert s["total_rows"] == 27 * 20 + 4 and s["rows_by_type"]["HR"] == 24
    assert s["problems_by_kind"] == {"missing_file": 26}
    assert all(p.file.startswith("Sensor/P02/") for p in report.problems)


@pytest.mark.parametrize("offset, hours", [("+09:00", 9), ("-05:30", -5.5), ("+0000", 0)])
def test_daily_rows_use_local_days(tmp_path, offset, hours):
    times = [T0 + k * 3_600_000 for k in range(0, 60, 7)]  # every 7 h for 2.5 days
    root = write_release(tmp_path / "r", {"P01": {"HR": times, "EDA": times[:3]}})
    report = check_release(root, tz_offset=offset)
    got = Counter()
    for d in report.daily_rows:
        if d["type"] == "HR":
            got[d["day"]] += d["rows"]
    assert got == local_days(times, hours)
    assert sum(d["rows"] for d in report.daily_rows if d["type"] == "EDA") == 3
    assert report.participants[0]["days"] == len(local_days(times, hours))


def test_bad_tz_offset():
    with pytest.raises(Exception, match="time-zone offset must look like"):
        tz_offset_ms("Korea")
    assert tz_offset_ms("-05:30") == -(5 * 60 + 30) * 60_000


def test_dirt_is_reported_with_relative_paths_and_the_release_stays_usable(tmp_path):
    root = write_release(tmp_path / "r", {"P01": full_participant(n=5)})
    write_csv(root / "Sensor" / "P01" / "HR.csv", ["timestamp", "bpm"], [[T0 + 3, 60], [T0 + 1, 61], [T0 + 1, 300]])
    report = check_release(root)
    assert report.usable
    kinds = {(p.file, p.kind): p.count for p in report.problems}
    assert kinds == {("Sensor/P01/HR.csv", "out_of_order"): 1, ("Sensor/P01/HR.csv", "duplicate_timestamps"): 1,
                     ("Sensor/P01/HR.csv", "out_of_range"): 1}
    assert report.participants[0]["problems"] == 3
    again = CheckReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again.to_dict() == report.to_dict()


def test_parallel_check_equals_serial(small_release):
    serial = check_release(small_release).to_dict()
    parallel = check_release(small_release, executor=Executor("processes", workers=2, progress=False)).to_dict()
    assert parallel == serial


# ------------------------------------------------------------------------ unusable
def test_no_esm_file_is_not_usable(tmp_path):
    root = write_release(tmp_path / "r", {"P01": {"HR": [T0 + 1, T0 + 2]}})
    (root / "SubjData" / "EsmResponse.csv").unlink()
    report = check_release(root)
    assert not report.usable
    assert report.summary["fatal_errors"] == [
        f"no EsmResponse.csv (the self-reports): looked for SubjData/EsmResponse.csv and EsmResponse.csv in {root.resolve()}"
    ]


def test_fatal_file_error_is_not_usable_but_others_are_checked(tmp_path):
    root = write_release(tmp_path / "r", {"P01": {"HR": [T0 + 1, T0 + 2]}, "P02": {"HR": [T0 + 1, T0 + 2]}})
    write_csv(root / "Sensor" / "P01" / "HR.csv", ["timestamp", "bpm"], [[T0 + 1, 60], [T0 + 2, 60], ["x", 60]])
    report = check_release(root)
    assert not report.usable
    (err,) = report.summary["fatal_errors"]
    assert "Sensor/P01/HR.csv, row 3, column 'timestamp'" in err
    assert report.participants[0]["fatal"] == err and report.participants[1]["rows"] == 2


# ---------------------------------------------------------------------------- CLI
def test_cli_json_and_out(small_release, tmp_path):
    out = tmp_path / "reports" / "check.json"
    res = run_cli(small_release, "--json", "--out", out)
    assert res.returncode == 0, res.stderr
    printed = json.loads(res.stdout)
    assert printed == json.loads(out.read_text(encoding="utf-8"))
    assert printed["usable"] is True and printed["summary"]["participants_min_responses"] == 1
    assert [p.name for p in out.parent.iterdir()] == ["check.json"]  # no temp file left behind


def test_cli_table(small_release):
    from typer.testing import CliRunner

    from kemo_attention.cli import app

    res = CliRunner().invoke(app, ["check", str(small_release)])
    assert res.exit_code == 0, res.output
    assert "P01" in res.stdout and "27/27" in res.stdout and "usable" in res.stdout
    assert "1 with >= 35 scheduled responses" in res.stdout


def test_cli_exit_2_on_fatal_file_error(tmp_path):
    root = write_release(tmp_path / "r", {"P01": {"HR": [T0 + 1, T0 + 2]}})
    write_csv(root / "Sensor" / "P01" / "HR.csv", ["Timestamp", "BPM"], [[T0 + 1, 60], ["1.5", 60]])
    out = tmp_path / "check.json"
    res = run_cli(root, "--out", out)
    assert res.returncode == 2
    assert "error: release not usable:" in res.stderr and "HR.csv, row 2, column 'Timestamp'" in res.stderr
    assert "Traceback" not in res.stderr
    assert json.loads(out.read_text())["usable"] is False  # the report of an unusable release is still written


def test_cli_runner_help_and_no_esm(tmp_path):
    from typer.testing import CliRunner

    from kemo_attention.cli import app
    from kemo_attention.errors import DataError

    runner = CliRunner()
    res = runner.invoke(app, ["check", "--help"])
    assert res.exit_code == 0 and "--workers" in res.output and "--json" in res.output
    root = write_release(tmp_path / "r", {"P01": {"HR": [T0 + 1]}})
    (root / "SubjData" / "EsmResponse.csv").unlink()
    res = runner.invoke(app, ["check", str(root), "--json"])
    assert isinstance(res.exception, DataError) and "no EsmResponse.csv" in str(res.exception)
    res = runner.invoke(app, ["check", str(tmp_path / "r" / "Sensor")])
    assert isinstance(res.exception, DataError) and "not a K-EmoPhone release" in str(res.exception)


# ------------------------------------------------- releases that read but cannot be used (CLI)
def test_cli_refuses_a_sensor_file_in_seconds(tmp_path):
    """HR.csv written in epoch seconds: read as ms its days would run from 1970-01-19."""
    root = write_release(tmp_path / "r", {"P01": {"HR": [T0 // 1000 + k for k in range(0, 600, 60)], "EDA": [T0, T0 + 1]}})
    res = run_cli(root)
    assert res.returncode == 2, res.stdout
    assert "Traceback" not in res.stderr and "1970-01-19" not in res.stdout
    assert "Sensor/P01/HR.csv, row 1, column 'timestamp'" in res.stderr
    assert f"{T0 // 1000} is not an epoch-millisecond time within 2000-01-01 .. 2100-01-01" in res.stderr
    assert "looks like epoch seconds" in res.stderr


def test_cli_refuses_a_self_report_file_without_rows(tmp_path):
    root = write_release(tmp_path / "r", {"P01": full_participant(n=5)}, esm={})
    res = run_cli(root, "--json")
    assert res.returncode == 2
    assert "error: release not usable: SubjData/EsmResponse.csv: a header and no rows, so no self-reports" in res.stderr
    assert json.loads(res.stdout)["summary"]["participants_min_responses"] == 0


def test_cli_refuses_a_release_where_nobody_has_enough_self_reports(tmp_path):
    root = write_release(tmp_path / "r", {"P01": full_participant(n=5), "P02": {"HR": [T0]}}, esm={"P01": (34, 9), "P02": (3, 0)})
    res = run_cli(root)
    assert res.returncode == 2
    assert "SubjData/EsmResponse.csv: no participant with a sensor folder has >= 35 scheduled self-reports" in res.stderr
    assert "at most 34 scheduled each" in res.stderr


def test_cli_warns_without_userinfo_and_stays_usable(tmp_path):
    root = write_release(tmp_path / "r", {"P01": full_participant(n=5)}, userinfo=False)
    res = run_cli(root)
    assert res.returncode == 0, res.stderr
    warning = next(line for line in res.stdout.splitlines() if line.startswith("warning:"))
    assert "no UserInfo.csv" in warning and "profile features (PIF#AGE" in warning
    assert "will all be 0" in " ".join(res.stdout.split())
    assert res.stdout.rstrip().endswith("usable")
    as_json = run_cli(root, "--json")
    assert as_json.returncode == 0
    (only,) = json.loads(as_json.stdout)["summary"]["warnings"]
    assert "UserInfo.csv" in only and "will all be 0" in only
    assert "warning: no UserInfo.csv" in as_json.stderr
