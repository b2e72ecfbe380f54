"""Benchmark: read one full-rate participant (7 days, median row counts of the real release).

Writes a one-participant release with numpy + polars (rows per type = the release's
per-participant medians, from ``kemophone-release-stats.txt``: ~4 M rows, ACC 1.6 M), then
times ``read_participant`` in fresh subprocesses, so that peak RSS (``ru_maxrss``) is that of
the read alone (minus the same process's RSS after imports). Two thread settings: polars'
default (all cores) and ``POLARS_MAX_THREADS=1`` (how Executor workers run).

    .venv/bin/python bench/bench_read.py [--repeat 3] [--keep DIR]

Writes ``bench/results/read.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from kemo_attention.release.schema import DATA_TYPES, ESM_COLUMNS

# Per-participant median rows in the real release (kemophone-release-stats.txt, "# Inst." med).
MEDIAN_ROWS = {
    "Acceleration": 1_616_756, "AmbientLight": 416_936, "Calorie": 203_676, "Distance": 206_892,
    "EDA": 1_046_093, "HR": 191_711, "RRI": 279_148, "SkinTemperature": 7_010, "StepCount": 206_903,
    "UltraViolet": 3_495, "ActivityEvent": 11_085, "ActivityTransition": 608, "AppUsageEvent": 16_956,
    "BatteryEvent": 12_795, "CallEvent": 13, "Connectivity": 472, "DataTraffic": 8_428, "InstalledApp": 21_459,
    "Location": 8_854, "MediaEvent": 15, "MessageEvent": 22, "WiFi": 178_686, "ScreenEvent": 2_718,
    "RingerModeEvent": 12, "ChargeEvent": 72, "PowerSaveEvent": 4, "OnOffEvent": 3,
}
# Category values seen in the release, so strings have realistic lengths (Korean app names too).
CATEGORIES = {
    "motionType": ["IDLE"] * 9 + ["WALKING"], "intensity": ["NONE"] * 20 + ["LOW"],
    "transitionType": ["ENTER_WALKING", "EXIT_WALKING", "ENTER_STILL", "EXIT_STILL", "ENTER_IN_VEHICLE"],
    "name": ["카카오톡", "안드로이드 시스템", "Samsung Experience 홈", "Facebook", "Chrome", "네이버 웹툰", "YouTube"],
    "packageName": ["com.kakao.talk", "com.sec.android.app.launcher", "android", "com.facebook.katana"],
    "type": ["MOVE_TO_FOREGROUND", "MOVE_TO_BACKGROUND", "USER_INTERACTION", "ON", "OFF", "WIFI", "MOBILE"],
    "category": ["COMMUNICATION", "TOOLS", "PERSONALIZATION", "SYSTEM", "SOCIAL"],
    "status": ["CHARGING", "DISCHARGING", "FULL"], "plugged": ["AC", "UNDEFINED", "USB"],
    "messageBox": ["INBOX", "SENT"], "messageClass": ["SMS", "MMS"], "mimetype": ["image/jpeg", "image/png"],
    "bucketDisplay": ["Camera", "Screenshots", "KakaoTalk"], "contact": ["MOBILE", "UNDEFINED"],
}
T0 = 1_556_636_400_000  # 2019-05-01 00:00 in Korea
SPAN = 7 * 86_400_000


def _column(col, n: int, rng: np.random.Generator):
    if col.kind == "bool":
        return np.where(rng.random(n) < 0.3, "True", "False")
    if col.kind == "str":
        if col.name in ("bssid", "number"):
            pool = np.array([f"{rng.integers(1 << 62):016x}-4f85-ad3c-80734ba597b8" for _ in range(500)])
        else:
            pool = np.array(CATEGORIES.get(col.name, ["A", "B", "C"]))
        return pool[rng.integers(0, len(pool), n)]
    if col.kind == "int":
        return rng.integers(1_217_592_000_000, 1_556_000_000_000, n)
    if col.name in ("x", "y", "z"):  # the band's 1/4096 g resolution: long decimals as in the release
        return np.clip(np.round(rng.normal(0, 0.6, n) * 4096) / 4096, -8, 8)
    lo, hi = col.valid_range or (0.0, 100.0)
    lo, hi = max(lo, -1000.0), min(hi, 100_000.0)
    return np.round(rng.uniform(lo, hi, n), 3)


def write_participant(root: Path, seed: int = 0) -> int:
    """Write Sensor/P01/*.csv + SubjData; returns the total CSV bytes of the sensor files."""
    rng = np.random.default_rng(seed)
    folder = root / "Sensor" / "P01"
    folder.mkdir(parents=True)
    total = 0
    for name, n in MEDIAN_ROWS.items():
        dt = DATA_TYPES[name]
        if dt.multi_row:  # scans/snapshots: ~10 rows share a timestamp
            times = np.repeat(np.sort(rng.integers(T0, T0 + SPAN, n // 10 + 1)), 10)[:n]
        else:
            times = np.sort(rng.integers(T0, T0 + SPAN, n))
        frame = pl.DataFrame({"timestamp": times, **{c.name: _column(c, n, rng) for c in dt.columns}})
        path = folder / dt.file_name
        frame.write_csv(path)
        total += path.stat().st_size
    subj = root / "SubjData"
    subj.mkdir()
    sched = np.sort(rng.integers(T0, T0 + SPAN, 50))
    esm = pl.DataFrame({"pcode": ["P01"] * 50, "responseTime": sched + 60_000, "scheduledTime": sched,
                        **{c.name: rng.integers(-3, 4, 50) for c in ESM_COLUMNS[3:]}})
    esm.write_csv(subj / "EsmResponse.csv")
    return total


_CHILD = r"""
import json, resource, sys, time
from kemo_attention.release.read import read_participant, read_table
from kemo_attention.release.layout import find_release
from kemo_attention.release.schema import DATA_TYPES
root, repeat = sys.argv[1], int(sys.argv[2])
layout = find_release(root)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
times, cpu = [], []
def cpu_now():
    r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
for _ in range(repeat):
    t, c = time.perf_counter(), cpu_now()
    data = read_participant(layout, "P01")
    times.append(time.perf_counter() - t); cpu.append(cpu_now() - c)
    rows = data.rows; problems = len(data.problems); del data
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
per_type = {}
for name in ("Acceleration", "EDA", "AmbientLight", "WiFi", "InstalledApp"):
    path = layout.participants["P01"] / DATA_TYPES[name].file_name
    t = time.perf_counter(); frame, _ = read_table(path, DATA_TYPES[name]); per_type[name] = [frame.height, time.perf_counter() - t]
print(json.dumps({"seconds": times, "cpu_seconds": cpu, "rows": rows, "problems": problems, "base_rss_kb": base, "peak_rss_kb": peak, "per_type": per_type}))
"""


def run_child(root: Path, repeat: int, threads: int | None) -> dict:
    env = dict(os.environ)
    if threads:
        env["POLARS_MAX_THREADS"] = str(threads)
    out = subprocess.run([sys.executable, "-c", _CHILD, str(root), str(repeat)], env=env, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="write the release here and keep it")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "read.json")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="kemo-bench-read-")) if args.keep is None else args.keep
    root = tmp / "release"
    if root.exists():
        shutil.rmtree(root)
    try:
        t = time.perf_counter()
        size = write_participant(root)
        write_s = time.perf_counter() - t
        load_before = os.getloadavg()
        runs = {}
        for label, threads in (("default threads", None), ("POLARS_MAX_THREADS=1", 1)):
            res = run_child(root, args.repeat, threads)
            best = min(res["seconds"])
            runs[label] = {
                "seconds_best": best,
                "seconds_all": res["seconds"],
                # CPU time (user + sys, all threads) of the same runs: wall time on a shared
                # machine depends on the load, CPU time much less.
                "cpu_seconds_best": min(res["cpu_seconds"]),
                "rows_per_cpu_s": res["rows"] / min(res["cpu_seconds"]),
                "rows": res["rows"],
                "rows_per_s": res["rows"] / best,
                "mb_per_s": size / 1e6 / best,
                "peak_rss_mb": res["peak_rss_kb"] / 1024,
                "rss_after_imports_mb": res["base_rss_kb"] / 1024,
                "read_rss_mb": (res["peak_rss_kb"] - res["base_rss_kb"]) / 1024,
                "problems": res["problems"],
                "per_type": {k: {"rows": r, "seconds": s, "rows_per_s": r / s} for k, (r, s) in res["per_type"].items()},
            }
        from kemo_attention.release.check import check_release

        t = time.perf_counter()
        report = check_release(root)
        check_s = time.perf_counter() - t
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)

    result = {
        "benchmark": "read_participant, one full-rate participant (release medians, 7 days)",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
                    "polars": pl.__version__, "load_average_at_start": load_before},
        "csv_bytes": size,
        "rows_by_type": MEDIAN_ROWS,
        "write_seconds": write_s,
        "runs": runs,
        "check_release_seconds": check_s,
        "check_usable": report.usable,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))

    print(f"one participant: {sum(MEDIAN_ROWS.values()):,} rows, {size / 1e6:.0f} MB of CSV "
          f"(machine: {os.cpu_count()} cores, load {load_before[0]:.1f})")
    print(f"{'setting':<22} {'best s':>7} {'M rows/s':>9} {'MB/s':>6} {'CPU s':>6} {'M rows/CPU s':>13} "
          f"{'peak RSS MB':>12} {'read RSS MB':>12} {'ACC M rows/s':>13}")
    for label, r in runs.items():
        acc = r["per_type"]["Acceleration"]["rows_per_s"] / 1e6
        print(f"{label:<22} {r['seconds_best']:>7.2f} {r['rows_per_s'] / 1e6:>9.2f} {r['mb_per_s']:>6.0f} "
              f"{r['cpu_seconds_best']:>6.2f} {r['rows_per_cpu_s'] / 1e6:>13.2f} "
              f"{r['peak_rss_mb']:>12.0f} {r['read_rss_mb']:>12.0f} {acc:>13.2f}")
    print(f"check_release (serial, this release): {check_s:.2f} s; results in {args.out}")


if __name__ == "__main__":
    main()
