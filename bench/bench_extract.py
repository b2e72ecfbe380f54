"""Benchmark: feature extraction (read -> streams -> windows -> matrix -> files).

1. One full-rate participant, 7 days (``write_demo_release(participants=1, days=7, scale=1.0)``):
   seconds per participant on one core (serial backend, BLAS/polars pinned to one thread)
   and peak RSS, measured in a fresh subprocess; then a profile of the same participant by
   stage in CPU seconds, in both feature modes (read, streams, grid building, window
   statistics, the rest of the assembly; the engine per stream); then the rerun from cache.
2. The whole demo release (``kemo-attention demo`` sizes) with the processes backend,
   2 workers, and its cached rerun.

Goals (issue 13): <= 5 s per participant on one core, <= 3 GB peak RSS.

    .venv/bin/python bench/bench_extract.py [--keep DIR] [--skip-demo]

Writes ``bench/results/extract.json`` and prints a table.
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

from benchtools import ONE_THREAD  # noqa: E402  (bench/ is on sys.path when run as a script)

# Runs in a fresh interpreter: end-to-end extraction of one release, serial or processes.
_RUN = r"""
import json, resource, sys, time
from kemo_attention.compute import Executor
from kemo_attention.config import LabelSettings
from kemo_attention.features.extract import extract_release
release, out, backend, workers, use_cache, min_responses = sys.argv[1:7]

def own_peak_mb():
    # VmHWM is this process's own peak; ru_maxrss would also count the parent's RSS at fork
    # (Linux keeps the pre-exec peak), i.e. the benchmark's, which wrote the release.
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024

base = own_peak_mb()
r0 = resource.getrusage(resource.RUSAGE_SELF)
t = time.perf_counter()
ds = extract_release(release, out, label=LabelSettings(min_responses=int(min_responses)),
                     executor=Executor(backend, workers=int(workers), progress=False), use_cache=use_cache == "1")
wall = time.perf_counter() - t
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
peak = own_peak_mb()
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"wall_s": wall, "cpu_s": cpu, "peak_rss_mb": peak, "after_imports_rss_mb": base,
                  "children_peak_rss_mb": children / 1024, "samples": len(ds), "participants": len(set(ds.group))}))
"""

# Runs in a fresh interpreter: the same participant stage by stage, in CPU seconds (one
# thread): read and streams table by table as extraction does, then the assembly of the
# feature rows, inside which the window engine is timed per stream and its grid building
# apart ("windows" = engine - grid; "assembly" = the rest: context, labels, the matrix).
_PROFILE = r"""
import json, sys, time
import numpy as np
from kemo_attention.compute import _pin_threads
_pin_threads()
from kemo_attention.config import FeatureSettings, LabelSettings
from kemo_attention.features import window
from kemo_attention.features.assemble import feature_blocks
from kemo_attention.features.layout import blocks_to_frame
from kemo_attention.features.labels import make_labels, sample_times
from kemo_attention.features.streams import collect_streams, table_streams
from kemo_attention.release.read import iter_participant_tables, read_esm
from kemo_attention.release.layout import find_release
cpu = time.process_time
release, pcode, min_responses, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
layout = find_release(release)
labels = make_labels(read_esm(layout.esm_path), LabelSettings(min_responses=min_responses)).participants[pcode]
read_s = streams_s = 0.0
rows = 0
built = {}
mark = cpu()
for type_name, frame, _ in iter_participant_tables(layout, pcode):
    got = cpu()
    rows += frame.height
    built.update(table_streams(type_name, frame))
    del frame
    done = cpu()
    read_s, streams_s, mark = read_s + got - mark, streams_s + done - got, done
streams = collect_streams(built)
streams_s += cpu() - mark
grid_s = [0.0]
def timed(build):
    def run(*args, **kwargs):
        s = cpu()
        try:
            return build(*args, **kwargs)
        finally:
            grid_s[0] += cpu() - s
    return run
window.build_numeric_grid = timed(window.build_numeric_grid)
window.build_categorical_runs = timed(window.build_categorical_runs)
per_stream = {}
engine = window.stream_features
def timed_stream(stream, *args, **kwargs):
    s = cpu()
    try:
        return engine(stream, *args, **kwargs)
    finally:
        per_stream[stream.spec.name] = cpu() - s
window.stream_features = timed_stream  # feature_blocks calls it through the module
t = sample_times(labels.prompt_ms)
if mode == "causal":
    past = list(zip(labels.prompt_ms.tolist(), labels.y.tolist(), labels.response_ms.tolist()))
else:
    past = list(zip(labels.prompt_ms.tolist(), labels.y.tolist()))
a0 = cpu()
num, flags = feature_blocks(streams, labels.prompt_ms, userinfo=None, past_labels=past, settings=FeatureSettings(mode=mode))
X = blocks_to_frame(num, flags)
assembly_s = cpu() - a0
engine_s = sum(per_stream.values())
grid = grid_s[0]
print(json.dumps({"raw_rows": rows, "prompts": int(len(t)), "mode": mode, "read_s": read_s, "streams_s": streams_s,
                  "grid_s": grid, "windows_s": engine_s - grid, "engine_s": engine_s,
                  "engine_plus_assembly_s": assembly_s, "assembly_only_s": assembly_s - engine_s,
                  "stream_samples": {k: int(len(v.times)) for k, v in streams.items()},
                  "engine_per_stream_s": dict(sorted(per_stream.items(), key=lambda kv: -kv[1]))}))
"""


def _python(code: str, *args: str, env: dict[str, str]) -> dict:
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env={**os.environ, **env})
    if proc.returncode != 0:
        raise SystemExit(f"benchmark step failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="keep the generated releases and outputs in this folder")
    parser.add_argument("--skip-demo", action="store_true", help="only the one-participant benchmark")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the one-participant extraction (min and median reported)")
    args = parser.parse_args()

    from kemo_attention.demo.synth import DEMO_DAYS, DEMO_PARTICIPANTS, DEMO_SCALE, write_demo_release

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench_extract_"))
    work.mkdir(parents=True, exist_ok=True)
    result: dict = {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_avg_at_start": os.getloadavg(),
        },
        "goals": {"seconds_per_participant_one_core": 5.0, "peak_rss_gb": 3.0},
    }
    try:
        # ---------------------------------------------------------------- one participant
        one = work / "one"
        if not (one / "SubjData").exists():
            t = time.perf_counter()
            write_demo_release(one, participants=1, days=7, scale=1.0, seed=0)
            result["one_participant_synth_s"] = time.perf_counter() - t
        size = sum(p.stat().st_size for p in (one / "Sensor").rglob("*.csv"))
        runs = [_python(_RUN, str(one), str(work / "one_out"), "serial", "1", "0", "1", env=ONE_THREAD) for _ in range(args.repeat)]
        run = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]  # the median run
        manifest = json.loads((work / "one_out" / "attention.manifest.json").read_text())
        cached = _python(_RUN, str(one), str(work / "one_cached"), "serial", "1", "1", "1", env=ONE_THREAD)
        rerun = _python(_RUN, str(one), str(work / "one_cached"), "serial", "1", "1", "1", env=ONE_THREAD)
        profiles = {mode: _python(_PROFILE, str(one), "P01", "1", mode, env=ONE_THREAD) for mode in ("causal", "reference")}
        profile = profiles["causal"]
        result["one_participant"] = {
            "release": "write_demo_release(participants=1, days=7, scale=1.0, seed=0)",
            "csv_bytes": size,
            "raw_rows": profile["raw_rows"],
            "samples": run["samples"],
            "seconds_end_to_end": run["wall_s"],
            "seconds_end_to_end_runs": [r["wall_s"] for r in runs],
            "cpu_seconds_end_to_end_runs": [r["cpu_s"] for r in runs],
            # CPU time of the extraction (one thread): what the wall time would be on an idle core
            "cpu_seconds_end_to_end": run["cpu_s"],
            "peak_rss_mb": run["peak_rss_mb"],
            "rss_after_imports_mb": run["after_imports_rss_mb"],
            "stages_s": {k: manifest["timings"][k] for k in ("read_s", "streams_s", "features_s", "write_s")},
            "profile": profile,  # CPU seconds by stage, causal mode (the default)
            "profile_reference": profiles["reference"],
            "first_run_with_cache_write_s": cached["wall_s"],
            "cached_rerun_s": rerun["wall_s"],
        }
        # ---------------------------------------------------------------- the demo release
        if not args.skip_demo:
            demo = work / "demo"
            if not (demo / "SubjData").exists():
                t = time.perf_counter()
                write_demo_release(demo, participants=DEMO_PARTICIPANTS, days=DEMO_DAYS, scale=DEMO_SCALE, seed=0)
                result["demo_synth_s"] = time.perf_counter() - t
            env = {"RAY_USAGE_STATS_ENABLED": "0"}
            full = _python(_RUN, str(demo), str(work / "demo_out"), "processes", "2", "1", "35", env=env)
            m = json.loads((work / "demo_out" / "attention.manifest.json").read_text())
            again = _python(_RUN, str(demo), str(work / "demo_out"), "processes", "2", "1", "35", env=env)
            result["demo_release"] = {
                "release": f"write_demo_release(participants={DEMO_PARTICIPANTS}, days={DEMO_DAYS}, scale={DEMO_SCALE}, seed=0)",
                "backend": "processes",
                "workers": 2,
                "participants": full["participants"],
                "skipped": len(m["skipped"]),
                "samples": full["samples"],
                "seconds": full["wall_s"],
                "seconds_per_participant_wall": full["wall_s"] / max(1, full["participants"]),
                "worker_seconds_per_participant": sum(p["timings"]["total_s"] for p in m["participants"].values())
                / max(1, full["participants"]),
                "driver_peak_rss_mb": full["peak_rss_mb"],
                "worker_peak_rss_mb": full["children_peak_rss_mb"],
                "cached_rerun_s": again["wall_s"],
            }
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    result["machine"]["load_avg_at_end"] = os.getloadavg()
    out = Path(__file__).parent / "results" / "extract.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))

    one = result["one_participant"]
    prof = one["profile"]
    print(f"{'one participant, 7 days, full rate':<44} {one['raw_rows']:>12,} raw rows, {one['samples']} samples")
    print(f"{'  seconds (serial, one core, end to end)':<44} {one['seconds_end_to_end']:>8.1f}   goal <= 5 (median; min {min(one['seconds_end_to_end_runs']):.1f})")
    print(f"{'  CPU seconds of that run':<44} {one['cpu_seconds_end_to_end']:>8.1f}")
    print(f"{'  peak RSS (MB, VmHWM of the process)':<44} {one['peak_rss_mb']:>8.0f}   goal <= 3072")
    for mode in ("profile", "profile_reference"):
        p = one[mode]
        print(f"{'  CPU s, ' + p['mode'] + ': read/streams/grid/windows/assembly':<44} {p['read_s']:>8.2f} / {p['streams_s']:.2f} / "
              f"{p['grid_s']:.2f} / {p['windows_s']:.2f} / {p['assembly_only_s']:.2f}")
    top = list(prof["engine_per_stream_s"].items())[:5]
    print(f"{'  engine, slowest streams (s)':<44} " + ", ".join(f"{k} {v:.2f}" for k, v in top))
    print(f"{'  cached rerun (s)':<44} {one['cached_rerun_s']:>8.2f}")
    if "demo_release" in result:
        d = result["demo_release"]
        print(f"{'demo release, processes x 2':<44} {d['participants']} participants, {d['samples']} samples")
        print(f"{'  seconds (wall) / per participant':<44} {d['seconds']:>8.1f} / {d['seconds_per_participant_wall']:.1f}")
        print(f"{'  worker seconds per participant':<44} {d['worker_seconds_per_participant']:>8.1f}")
        print(f"{'  cached rerun (s)':<44} {d['cached_rerun_s']:>8.2f}")
    print(f"machine: {result['machine']['cpus']} CPUs, load {result['machine']['load_avg_at_start'][0]:.1f} at start; wrote {out}")


if __name__ == "__main__":
    main()
