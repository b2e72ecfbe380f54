"""Benchmark: write demo participants (7 days each) at several sampling scales.

Times ``write_demo_release`` (serial, one participant at a time) and reports rows and bytes
per participant, next to the real release's per-participant median rows.

    .venv/bin/python bench/bench_synth.py [--participants 2] [--days 7] [--scales 0.05,0.1,1.0]

Writes ``bench/results/synth.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import polars as pl

from kemo_attention.demo.synth import DEMO_SCALE, write_demo_release


def _rows(root: Path) -> dict[str, int]:
    rows: dict[str, int] = {}
    for path in (root / "Sensor").rglob("*.csv"):
        # the planted header row inside one file is a text row; count lines, not parsed rows
        rows[path.stem] = rows.get(path.stem, 0) + pl.scan_csv(path, infer_schema_length=0).select(pl.len()).collect().item()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--participants", type=int, default=2)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--scales", default=",".join(f"{x:g}" for x in sorted({0.05, DEMO_SCALE, 0.25, 1.0})))
    args = ap.parse_args()
    results = []
    for scale in [float(s) for s in args.scales.split(",")]:
        tmp = Path(tempfile.mkdtemp(prefix="bench-synth-"))
        try:
            cpu, wall = time.process_time(), time.perf_counter()
            root = write_demo_release(tmp / "r", participants=args.participants, days=args.days, scale=scale, progress=False)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            rows = _rows(root)
            size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
            n = args.participants
            results.append({
                "scale": scale, "participants": n, "days": args.days,
                "seconds_per_participant": wall / n, "cpu_seconds_per_participant": cpu / n,
                "rows_per_participant": sum(rows.values()) / n, "mb_per_participant": size / n / 1e6,
                "acc_rows_per_participant": rows.get("Acceleration", 0) / n,
                "rows_by_type_per_participant": {k: v / n for k, v in sorted(rows.items())},
            })
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    out = {
        "benchmark": "synth",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load_1min": os.getloadavg()[0]},
        "results": results,
    }
    dest = Path(__file__).parent / "results" / "synth.json"
    dest.parent.mkdir(exist_ok=True)
    dest.write_text(json.dumps(out, indent=1))
    print(f"{'scale':>6} {'s/participant':>14} {'cpu s':>7} {'rows/participant':>17} {'ACC rows':>10} {'MB':>7}")
    for r in results:
        print(f"{r['scale']:>6g} {r['seconds_per_participant']:>14.2f} {r['cpu_seconds_per_participant']:>7.2f} "
              f"{r['rows_per_participant']:>17,.0f} {r['acc_rows_per_participant']:>10,.0f} {r['mb_per_participant']:>7.1f}")
    print(f"(load average during the run: {out['machine']['load_1min']:.1f}; results in {dest})")


if __name__ == "__main__":
    main()
