"""Benchmark: all six labels from one pass over a release, against one label alone.

A full-rate demo release (``write_demo_release(participants=P, days=D, scale=1.0)``) is
extracted, each run in a fresh interpreter on the serial backend with BLAS / polars pinned to
one thread and no cache: (1) ``attention`` alone with ``extract_release``; (2) the six labels
with ``extract_release_labels``; optionally (3) the six labels one after the other, as before
the one-pass driver (``--separate``). CPU seconds are the figure that matters on a shared
machine (the wall time also counts other processes' turns); both are recorded, with the
load average.

Goal (issue 17): all six labels in <= 1.3x the time of one label.

    .venv/bin/python bench/bench_extract_labels.py [--participants 6] [--days 7] [--separate] [--keep DIR]

Writes ``bench/results/extract-labels.json`` and prints the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchtools import ONE_THREAD, load_average, machine, write_json_atomic

SIX = ("valence", "arousal", "attention", "stress", "disturbance", "change")

# Runs in a fresh interpreter: one extraction of the given labels, serial, no cache.
_RUN = r"""
import json, resource, sys, time
from kemo_attention.compute import Executor
from kemo_attention.config import LabelSettings
from kemo_attention.features.extract import extract_release_labels
release, out, names = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
r0 = resource.getrusage(resource.RUSAGE_SELF)
t = time.perf_counter()
got = extract_release_labels(release, out, labels=[LabelSettings(name=n) for n in names],
                             executor=Executor("serial", progress=False), use_cache=False)
wall = time.perf_counter() - t
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
timings = {n: json.load(open(f"{out}/{n}.manifest.json"))["timings"] for n in names}
print(json.dumps({"wall_s": wall, "cpu_s": cpu, "samples": {n: len(d) for n, d in got.items()},
                  "participants_s": timings[names[0]]["participants_s"],
                  "write_s": sum(t["write_s"] for t in timings.values()),
                  "assemble_s": sum(t["assemble_s"] for t in timings.values())}))
"""


def _extract(release: Path, out: Path, names: list[str]) -> dict:
    env = {**os.environ, **ONE_THREAD, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    proc = subprocess.run([sys.executable, "-c", _RUN, str(release), str(out), ",".join(names)],
                          capture_output=True, text=True, env=env, check=False)  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"extraction of {','.join(names)} failed:\n{proc.stderr[-3000:]}")
    shutil.rmtree(out, ignore_errors=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=6)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--separate", action="store_true", help="also time the six labels extracted one by one")
    parser.add_argument("--keep", type=Path, help="folder for the release (kept, reused when present)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "extract-labels.json")
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from kemo_attention.demo.synth import write_demo_release

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-labels-"))
    release = work / "release"
    recipe = f"write_demo_release(participants={args.participants}, days={args.days}, scale=1.0, seed=0)"
    try:
        if not (release / "SubjData").exists():
            write_demo_release(release, participants=args.participants, days=args.days, scale=1.0, seed=0, progress=False)
        load_before = load_average()
        started = time.perf_counter()
        one = _extract(release, work / "one", ["attention"])
        six = _extract(release, work / "six", list(SIX))
        separate = None
        if args.separate:
            runs = [_extract(release, work / f"alone-{name}", [name]) for name in SIX]
            separate = {"wall_s": sum(r["wall_s"] for r in runs), "cpu_s": sum(r["cpu_s"] for r in runs),
                        "per_label_cpu_s": {n: r["cpu_s"] for n, r in zip(SIX, runs)}}  # fmt: skip
        result = {
            "benchmark": "bench/bench_extract_labels.py",
            "machine": machine(),
            "load_average_before": load_before,
            "load_average_after": load_average(),
            "release": recipe,
            "backend": "serial, one thread, no cache",
            "one_label": {"labels": ["attention"], **one},
            "six_labels_one_pass": {"labels": list(SIX), **six},
            "six_labels_separately": separate,
            "ratio_six_to_one_cpu": round(six["cpu_s"] / one["cpu_s"], 3),
            "ratio_six_to_one_wall": round(six["wall_s"] / one["wall_s"], 3),
            "goal": "six labels <= 1.3 x one label",
            "bench_wall_s": round(time.perf_counter() - started, 1),
        }
        write_json_atomic(args.out, result)
        print(f"one label  : {one['cpu_s']:.1f} CPU s, {one['wall_s']:.1f} s wall, {sum(one['samples'].values())} samples")
        print(f"six labels : {six['cpu_s']:.1f} CPU s, {six['wall_s']:.1f} s wall, samples {six['samples']}")
        if separate:
            print(f"six alone  : {separate['cpu_s']:.1f} CPU s, {separate['wall_s']:.1f} s wall")
        print(f"ratio six / one: {result['ratio_six_to_one_cpu']} (CPU), {result['ratio_six_to_one_wall']} (wall); wrote {args.out}")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
