"""Benchmark: evaluation of the six models on a dataset of the release's shape.

A synthetic dataset with the real release's dimensions (2,619 samples x 3,356 features:
3,273 float32 + 83 bool; 47 participants; a weak per-sample signal plus per-participant
base rates and offsets), evaluated with all six models:

* grouped 5-fold CV on each backend: serial, processes (2 workers), Ray (2 CPUs);
* leave-one-participant-out (47 folds) on one backend (processes, 2 workers).

Each configuration runs in a fresh Python process (so Ray and worker pools start from
cold, as for a user); wall time covers ``run_evaluation`` completely (tasks, metrics,
files, plots). Peak memory is the largest summed RSS of that process and all of its
descendants (workers, Ray's raylet and workers), sampled every 0.2 s, and the process's
own ``ru_maxrss``.

    .venv/bin/python bench/bench_evaluate.py [--configs sgkf-serial,sgkf-processes,sgkf-ray,logo-processes]

Writes ``bench/results/evaluate.json`` and prints a table. Goal: a 5-fold run under 2 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from benchtools import TreeMemory as _TreeMemory  # shared with bench_release.py

N_SAMPLES, N_FLOAT, N_BOOL, N_PARTICIPANTS = 2619, 3273, 83, 47
SIGNAL = 0.3  # SD of the per-sample signal against unit noise: macro F1 ~0.6, as spec/evaluation.md expects
CONFIGS = {
    "sgkf-serial": ("sgkf", "serial", None),
    "sgkf-processes": ("sgkf", "processes", 2),
    "sgkf-ray": ("sgkf", "ray", 2),
    "logo-processes": ("logo", "processes", 2),
}
RESULTS = Path(__file__).parent / "results" / "evaluate.json"


def release_shaped_dataset(seed: int = 0):
    """The release's dimensions with a weak signal (module docstring)."""
    from kemo_attention.dataset import Dataset

    try:  # the real feature names when the features room is importable
        from kemo_attention.features.layout import feature_columns

        names = feature_columns()
        cat = [c for c in names if "=" in c]
        bools = set(cat[-N_BOOL:])
        floats = [c for c in names if c not in bools][:N_FLOAT]
        bools = [c for c in names if c in bools]
    except Exception:
        floats = [f"F{i:04d}#AVG#M10" for i in range(N_FLOAT)]
        bools = [f"APP_CAT=c{i}#VAL" for i in range(N_BOOL)]
    rng = np.random.default_rng(seed)
    # unequal participant sizes, like the release (35 to ~90 answers each)
    sizes = rng.multinomial(N_SAMPLES - 35 * N_PARTICIPANTS, np.full(N_PARTICIPANTS, 1 / N_PARTICIPANTS)) + 35
    pidx = np.repeat(np.arange(N_PARTICIPANTS), sizes)
    groups = np.array([f"P{i + 1:02d}" for i in range(N_PARTICIPANTS)])[pidx]
    # correlated features: 300 shared factors + noise, plus per-participant offsets
    factors = rng.normal(size=(N_SAMPLES, 300)).astype(np.float32)
    loading = rng.normal(scale=0.3, size=(300, N_FLOAT)).astype(np.float32)
    Xf = factors @ loading + rng.normal(size=(N_SAMPLES, N_FLOAT)).astype(np.float32)
    Xf += rng.normal(scale=0.5, size=(N_PARTICIPANTS, N_FLOAT)).astype(np.float32)[pidx]
    shift = rng.normal(scale=0.5, size=N_PARTICIPANTS)[pidx]
    informative = Xf[:, :4] / Xf[:, :4].std(axis=0)
    signal = (informative[:, 0] - informative[:, 1] + informative[:, 2] + informative[:, 3]) / 2
    latent = SIGNAL * signal / signal.std() + shift + rng.normal(size=N_SAMPLES)
    y = (latent > np.quantile(latent, 0.4)).astype(int)  # ~60 % focused
    Xb = rng.random((N_SAMPLES, N_BOOL)) < rng.uniform(0.02, 0.5, N_BOOL)
    Xb[:, 0] = (latent + rng.normal(scale=2.0, size=N_SAMPLES)) > 0.5
    X = pd.concat([pd.DataFrame(Xf, columns=floats), pd.DataFrame(Xb, columns=bools)], axis=1)
    meta = {"feature_mode": "causal", "label": {"name": "attention"}, "tz_offset": "+09:00", "source": "bench"}
    return Dataset(X, y, groups, None, None, meta)


def run_one(name: str, keep: str | None = None) -> dict:
    from kemo_attention.compute import Executor
    from kemo_attention.evaluate.runner import run_evaluation

    cv, backend, workers = CONFIGS[name]
    load_before = os.getloadavg()[0]
    built = time.perf_counter()
    ds = release_shaped_dataset()
    built = time.perf_counter() - built
    out = Path(keep) / name if keep else Path(tempfile.mkdtemp(prefix="bench-eval-")) / "attention"
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with _TreeMemory() as mem:
        cpu, wall = time.process_time(), time.perf_counter()
        board = run_evaluation(ds, out, cv=cv, executor=Executor(backend, workers=workers, progress=False))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    # CPU of the worker processes (counted once they have been waited for: the pool is closed
    # by now); Ray's workers are not children of this process, so 0 there
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    workers_cpu = (children.ru_utime - children_before.ru_utime) + (children.ru_stime - children_before.ru_stime)
    if backend == "ray":
        import ray

        ray.shutdown()
    manifest = json.loads((out / "manifest.json").read_text())
    if not keep:
        shutil.rmtree(out.parent, ignore_errors=True)
    return {
        "config": name,
        "cv": cv,
        "backend": backend,
        "workers": workers,
        "folds": manifest["settings"]["n_folds"],
        "tasks": manifest["settings"]["n_folds"] * len(manifest["settings"]["models"]),
        "wall_s": round(wall, 2),
        "driver_cpu_s": round(cpu, 2),
        "workers_cpu_s": round(workers_cpu, 2),
        "load_avg_1min_before": round(load_before, 2),
        "tasks_wall_s": manifest["timings"]["tasks_wall_s"],
        "write_and_plots_s": manifest["timings"]["write_s"],
        "fit_s_by_model": manifest["timings"]["fit_s_by_model"],
        "peak_tree_rss_mb": round(mem.peak / 2**20),
        "driver_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "dataset_build_s": round(built, 2),
        "leaderboard": {
            r["model"]: {"f1_macro": round(r["f1_macro_mean"], 3), "roc_auc": round(r["roc_auc_mean"], 3)}
            for _, r in board.iterrows()
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--keep", metavar="DIR", help="keep each config's output folder as DIR/<config> (to compare runs)")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one config, print JSON
    args = ap.parse_args()
    if args.one:
        print("BENCH-RESULT " + json.dumps(run_one(args.one, args.keep)))
        return
    results = []
    for name in args.configs.split(","):
        if name not in CONFIGS:
            raise SystemExit(f"unknown config {name!r}; choose from {', '.join(CONFIGS)}")
        started = time.perf_counter()
        command = [sys.executable, __file__, "--one", name] + (["--keep", str(Path(args.keep).resolve())] if args.keep else [])
        proc = subprocess.run(command, capture_output=True, text=True)
        line = next((l for l in proc.stdout.splitlines() if l.startswith("BENCH-RESULT ")), None)
        if proc.returncode != 0 or line is None:
            print(proc.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"{name} failed (exit {proc.returncode})")
        result = json.loads(line.removeprefix("BENCH-RESULT "))
        result["process_wall_s"] = round(time.perf_counter() - started, 2)
        result["load_avg_1min_after"] = round(os.getloadavg()[0], 2)  # the machine is shared
        results.append(result)
        print(f"{name}: {result['wall_s']} s", flush=True)
    # keep earlier results of configs not rerun this time (configs can be run one by one)
    if RESULTS.exists():
        try:
            earlier = json.loads(RESULTS.read_text()).get("results", [])
        except (json.JSONDecodeError, AttributeError):
            earlier = []
        ran = {r["config"] for r in results}
        results = [r for r in earlier if r.get("config") not in ran] + results
        results.sort(key=lambda r: list(CONFIGS).index(r["config"]) if r["config"] in CONFIGS else 99)
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    payload = {
        "benchmark": "evaluate",
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_avg_at_end": load},  # fmt: skip
        "dataset": {"samples": N_SAMPLES, "features": N_FLOAT + N_BOOL, "float32": N_FLOAT, "bool": N_BOOL,
                    "participants": N_PARTICIPANTS, "signal": "weak"},  # fmt: skip
        "models": ["logreg", "rf", "lgbm", "voting", "evxgb", "dummy"],
        "goal": "5-fold run under 120 s",
        "results": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=2))

    print()
    print(f"{'config':<16}{'folds':>6}{'tasks':>6}{'wall s':>9}{'tasks s':>9}{'write s':>9}{'peak MB':>9}  best f1 / dummy f1")
    for r in results:
        lb = r["leaderboard"]
        best = max((v["f1_macro"] for k, v in lb.items() if k != "dummy"), default=float("nan"))
        print(f"{r['config']:<16}{r['folds']:>6}{r['tasks']:>6}{r['wall_s']:>9.1f}{r['tasks_wall_s']:>9.1f}"
              f"{r['write_and_plots_s']:>9.1f}{r['peak_tree_rss_mb']:>9}  {best:.3f} / {lb['dummy']['f1_macro']:.3f}")  # fmt: skip
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
