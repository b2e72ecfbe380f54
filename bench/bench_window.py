"""Benchmark: the window engine on one synthetic full-rate participant (7 days, 70 prompts).

Fabricates the 52 streams directly (no CSV reading): sample counts per raw type are the
release's per-participant medians (as in ``bench_read.py``: ACC 1.6 M rows at 8 Hz, EDA
1.05 M, HR 192 k ...), dense wristband streams in daytime wear sessions with night gaps,
phone streams spread over the week, 70 prompts between 10:00 and 22:00. Then times
``stream_features`` for every stream, per mode, each mode in a fresh subprocess so that its
peak RSS (``ru_maxrss``) is its own (minus the RSS once the streams are built).

    .venv/bin/python bench/bench_window.py [--repeat 2] [--prompts 70]

Writes ``bench/results/window.json`` and prints a table.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as inside Executor workers
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

T0 = 1_556_636_400_000  # 2019-05-01 00:00 in Korea (UTC+9)
DAY = 86_400_000
HOUR = 3_600_000
DAYS = 7

# stream name -> (samples in 7 days, "wear" (wristband, sessions) or "phone" (spread), rate Hz)
NUMERIC = {
    "ACC": (1_616_756, "wear", 8.0), "AML": (416_936, "phone", 1.0), "CAL": (203_676, "wear", 1.0),
    "DST_DST": (206_892, "wear", 1.0), "DST_PAC": (206_892, "wear", 1.0), "DST_SPD": (206_892, "wear", 1.0),
    "EDA": (1_046_093, "wear", 5.0), "HRT": (191_711, "wear", 1.0), "RRI": (279_148, "wear", 1.0),
    "SKT": (7_010, "wear", 0.033), "STP": (206_903, "wear", 1.0), "ULV_EXP": (3_495, "wear", 0.017),
    "ACE": (11_085, "phone", 0), "BAT_LEV": (12_795, "phone", 0), "BAT_TMP": (12_795, "phone", 0),
    "DAT_RCV": (8_428, "phone", 0), "DAT_SNT": (8_428, "phone", 0), "INS_JAC": (200, "phone", 0),
    "LOC_DST": (8_854, "phone", 0), "MED": (15, "phone", 0), "MSG": (22, "phone", 0),
    "WIF": (12_000, "phone", 0),
}
CATEGORICAL = {  # name -> (samples, values drawn from)
    "DST_MOT": (206_892, ["IDLE"] * 9 + ["WALKING"]), "ULV_INT": (3_495, ["NONE"] * 20 + ["LOW"]),
    "ACT": (300, ["WALKING", "STILL", "IN_VEHICLE"]),
    "APP_PAC": (16_956, ["com.kakao.talk", "android", "com.facebook.katana", "com.android.chrome", None]),
    "APP_CAT": (16_956, ["COMMUNICATION", "TOOLS", "SOCIAL", "SYSTEM", None]),
    "BAT_STA": (12_795, ["CHARGING", "DISCHARGING", "FULL"]), "CAE": (26, ["CALL", "IDLE"]),
    "CON": (472, ["WIFI", "MOBILE", "DISCONNECTED", "UNDEFINED"]),
    "LOC_CLS": (8_854, [f"wydm{i:03d}" for i in range(40)]),
    "SCR": (2_718, ["ON", "OFF", "UNLOCK"]), "RNG": (12, ["VIBRATE", "SILENT", "NORMAL"]),
    "CHG": (72, ["DISCONNECTED", "CONNECTED"]), "PWS": (4, ["ACTIVATE", "DEACTIVATE"]), "ONF": (3, ["ON", "OFF"]),
}


def _family(name: str) -> str:
    return name.split("_")[0]


def _wear_times(n: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    """n samples at ``rate`` Hz inside daytime sessions (08:00-23:00, with random breaks)."""
    period = 1000.0 / rate
    sessions = []
    for d in range(DAYS):
        start = T0 + d * DAY + 8 * HOUR
        while start < T0 + d * DAY + 23 * HOUR:
            length = rng.uniform(0.5, 3.0) * HOUR
            sessions.append((start, min(start + length, T0 + d * DAY + 23 * HOUR)))
            start += length + rng.uniform(0.05, 1.0) * HOUR
    per = np.array([(b - a) / period for a, b in sessions])
    per = np.floor(per / per.sum() * n).astype(np.int64)
    parts = [a + np.arange(k) * period + rng.uniform(0, 5, k) for (a, _), k in zip(sessions, per)]
    return np.sort(np.concatenate(parts).astype(np.int64))


def build_streams(seed: int = 0) -> dict:
    from kemo_attention.features.streams import STREAM_SPECS, Stream

    rng = np.random.default_rng(seed)
    streams = {}
    for spec in STREAM_SPECS:
        if spec.kind == "num":
            key = spec.name if spec.name in NUMERIC else _family(spec.name)
            n, where, rate = NUMERIC[key]
            times = _wear_times(n, rate, rng) if where == "wear" else np.sort(rng.integers(T0, T0 + DAYS * DAY, n))
            if key in ("MED", "MSG"):
                values = np.ones(times.size)
            else:
                values = np.cumsum(rng.normal(size=times.size)).astype(np.float32).astype(np.float64)
        else:
            n, pool = CATEGORICAL[spec.name]
            times = np.sort(rng.integers(T0, T0 + DAYS * DAY, n))
            values = np.array([pool[i] for i in rng.integers(0, len(pool), times.size)], dtype=object)
        streams[spec.name] = Stream(spec, times.astype(np.int64), values)
    return streams


def prompt_times(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    per_day = -(-n // DAYS)
    t = [T0 + d * DAY + 10 * HOUR + np.sort(rng.uniform(0, 12 * HOUR, per_day)) for d in range(DAYS)]
    return (np.concatenate(t)[:n].astype(np.int64)) - 1  # t = prompt time - 1 ms


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_mode(mode: str, prompts: int, repeat: int) -> dict:
    """Time every stream in one process (called in a fresh subprocess)."""
    from kemo_attention.features.window import stream_features

    streams = build_streams()
    t = prompt_times(prompts)
    base_rss = _rss_mb()
    best: dict[str, float] = {}  # wall seconds
    best_cpu: dict[str, float] = {}  # CPU seconds of this process (the machine is shared)
    n_features = 0
    for _ in range(repeat):
        n_features = 0
        for name, stream in streams.items():
            start, cpu = time.perf_counter(), time.process_time()
            got = stream_features(stream, t, mode=mode, coverage=False, present=len(stream.times) > 0)
            took, cpu_took = time.perf_counter() - start, time.process_time() - cpu
            best[name] = min(best.get(name, np.inf), took)
            best_cpu[name] = min(best_cpu.get(name, np.inf), cpu_took)
            n_features += len(got)
    return {
        "mode": mode, "per_stream_s": best_cpu, "per_stream_wall_s": best,
        "total_s": sum(best_cpu.values()), "total_wall_s": sum(best.values()), "features": n_features,
        "peak_rss_mb": _rss_mb(), "rss_after_streams_mb": base_rss,
        "samples": int(sum(len(s.times) for s in streams.values())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--prompts", type=int, default=70)
    parser.add_argument("--mode", help=argparse.SUPPRESS)  # internal: run one mode and print JSON
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(run_mode(args.mode, args.prompts, args.repeat)))
        return

    results = {}
    load = os.getloadavg()
    for mode in ("causal", "reference"):
        proc = subprocess.run(
            [sys.executable, __file__, "--mode", mode, "--repeat", str(args.repeat), "--prompts", str(args.prompts)],
            check=True, capture_output=True, text=True,
        )
        results[mode] = json.loads(proc.stdout)
    families: dict[str, dict[str, float]] = {}
    for mode, r in results.items():
        for name, sec in r["per_stream_s"].items():
            families.setdefault(_family(name), {}).setdefault(mode, 0.0)
            families[_family(name)][mode] += sec
    report = {
        "benchmark": "window.stream_features, all 52 streams of one synthetic full-rate participant (7 days)",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
                    "numpy": np.__version__, "load_average_at_start": list(load)},
        "prompts": args.prompts, "repeat": args.repeat, "timing": "best of repeats, one core; *_s = CPU seconds of the process, *_wall_s = wall clock",
        "samples": results["causal"]["samples"],
        "modes": {m: {k: v for k, v in r.items() if not k.startswith("per_stream")} for m, r in results.items()},
        "per_family_s": families,
        "per_stream_s": {m: r["per_stream_s"] for m, r in results.items()},
    }
    out = Path(__file__).parent / "results" / "window.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=1))
    tmp.replace(out)

    print(f"{'family':<8} {'causal s':>9} {'reference s':>12}   (CPU seconds)")
    for fam, d in sorted(families.items(), key=lambda kv: -kv[1]["causal"]):
        print(f"{fam:<8} {d['causal']:>9.3f} {d['reference']:>12.3f}")
    for m, r in results.items():
        print(f"{m}: total {r['total_s']:.2f} s CPU ({r['total_wall_s']:.2f} s wall), {r['features']} features, peak RSS {r['peak_rss_mb']:.0f} MB "
              f"(streams alone {r['rss_after_streams_mb']:.0f} MB)")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
