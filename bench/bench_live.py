"""Benchmark: one participant at the release's full rate, replayed into a live server.

Writes a demo release of ONE participant at scale 1.0 (the release's own rates: about
1.8 M rows a day; ``kemo-attention synth --participants 1 --scale 1.0``), starts
``kemo-attention serve BUNDLE --store PATH`` in its own process on 127.0.0.1 with a fresh
store, and replays the participant as fast as the server takes it, in 60-s batches of data
time (the replay client's own schedule: answers after their response time, a prediction at
each scheduled prompt). It measures:

* ingest: rows stored per second, over the time the records requests took (the server's
  rate), and over the whole replay (the client builds the next bodies in a thread while a
  request is in flight; requests go one at a time); the server's CPU seconds over the records
  requests (steadier than times on a shared machine), and the load average;
* prediction latency (``GET /participants/P/prediction``), p50 and p99, at each scheduled
  prompt and at a probe every ``--probe-minutes`` of data time (more samples than the few
  prompts of a day), counted once 6 h of data are stored;
* per data day (``--sample-hours``): the store's size on disk (file + WAL) and the server's resident memory
  (VmRSS from /proc), to show whether they stay flat;
* the same prediction through the stateless ``POST /predict/raw`` with the records of the
  last ``W`` hours in the body, for the largest W of 6, 3, 1, 0.5 h that fits the server's
  body limit (20 MB).

The bundle: ``--bundle PATH``, or by default one exported (lgbm, causal features) from a
small demo release of 6 participants at scale 0.02, cached in the work folder.

    .venv/bin/python bench/bench_live.py                # 7 days (about 12.6 M rows)
    .venv/bin/python bench/bench_live.py --days 2       # quick: 2 days

Writes ``bench/results/live.json`` (``live-<days>d.json`` with --days) and prints a summary.
The client and the server share the machine's cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from benchtools import load_average, write_json_atomic  # shared with the other benchmarks

HOUR_MS = 3_600_000
ROOT = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    """CPU time (user + system, every thread) a process has used so far, from /proc (Linux).
    Over a request it is what the server spent on it, whatever else the shared machine runs."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def store_mb(store: Path) -> float:
    files = [store, store.with_name(store.name + "-wal"), store.with_name(store.name + "-shm")]
    return sum(f.stat().st_size for f in files if f.exists()) / 1e6


def bench_release(work: Path, days: int) -> Path:
    from kemo_attention.demo.synth import write_demo_release

    root = work / f"release-1p-{days}d-full"
    if not (root / "Sensor").is_dir():
        started = time.perf_counter()
        write_demo_release(root, participants=1, days=days, scale=1.0, seed=0, progress=True)
        print(f"wrote {root} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return root


def bench_bundle(work: Path) -> Path:
    """lgbm on causal features of a small demo release (6 participants x 7 days, scale 0.02)."""
    from kemo_attention.bundle.export import export_bundle
    from kemo_attention.demo.synth import write_demo_release
    from kemo_attention.features.extract import extract_release

    out = work / "bundle"
    found = sorted(out.glob("attention-*.pkl"))
    if found:
        return found[0]
    source = work / "bundle-release"
    if not (source / "Sensor").is_dir():
        write_demo_release(source, participants=6, days=7, scale=0.02, seed=1, progress=False)
    dataset = extract_release(source, work / "bundle-features", use_cache=False)
    return export_bundle(dataset, "lgbm", out, input_path=work / "bundle-features" / "attention.pkl")


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    arr = np.asarray(values)
    return {"n": int(arr.size), "p50_ms": round(float(np.percentile(arr, 50)), 1),
            "p99_ms": round(float(np.percentile(arr, 99)), 1), "max_ms": round(float(arr.max()), 1)}


def raw_comparison(client, plan, at_ms: int, bundle_label: dict, max_body_mb: float, live_probability: float | None) -> list[dict]:
    """POST /predict/raw at ``at_ms`` with the last W hours of records, largest W that fits."""
    out = []
    threshold = float(bundle_label.get("threshold", 0.0))
    past = [{"prompt_time": int(a["scheduledTime"]), "label": int(float(a[bundle_label.get("name", "attention")]) > threshold)}
            for a in plan.answers
            if a.get("scheduledTime") is not None and a.get(bundle_label.get("name", "attention")) is not None
            and int(a["scheduledTime"]) < at_ms]  # fmt: skip
    userinfo = {k: v for k, v in (plan.profile or {}).items() if k != "participationStartDate" and v is not None}
    for hours in (6, 3, 1, 0.5):
        start = at_ms - int(hours * HOUR_MS)
        parts = []
        rows = 0
        for name, t in plan.times.items():
            lo, hi = int(np.searchsorted(t, start, "left")), int(np.searchsorted(t, at_ms, "left"))
            if hi > lo:
                parts.append(f'"{name}":' + plan.tables[name].slice(lo, hi - lo).write_json())
                rows += hi - lo
        body = ('{"pcode":"%s","prompt_time":%d,"records":{%s},"userinfo":%s,"past_labels":%s}' % (
            plan.pcode, at_ms, ",".join(parts), json.dumps(userinfo), json.dumps(past))).encode()
        size_mb = len(body) / 1e6
        entry = {"window_hours": hours, "rows": rows, "body_mb": round(size_mb, 1)}
        if size_mb > max_body_mb:
            entry["fits"] = False
            out.append(entry)
            continue
        times, prob = [], None
        for _ in range(3):
            t0 = time.perf_counter()
            response = client.http.post("/predict/raw", content=body, headers={"Content-Type": "application/json"})
            times.append((time.perf_counter() - t0) * 1000)
            if response.status_code != 200:
                entry.update(fits=True, status=response.status_code, detail=response.text[:200])
                break
            prob = float(response.json()["probability"])
        else:
            entry.update(fits=True, latency_ms_median=round(float(np.median(times)), 1), probability=prob,
                         live_probability=live_probability)
        out.append(entry)
        break
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=7, help="Data days of the participant (7 = the goal's span; 2 = quick).")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "results" / "live-work", help="Folder for the release, bundle and store.")
    parser.add_argument("--bundle", type=Path, default=None, help="A causal bundle to serve (default: build one, cached in --work).")
    parser.add_argument("--batch-seconds", type=float, default=60.0)
    parser.add_argument("--probe-minutes", type=float, default=30.0, help="A latency probe every so much data time (0: prompts only).")
    parser.add_argument("--sample-hours", type=float, default=24.0,
                        help="Store size and server memory every so much data time (24 = per day; 6 for a short run).")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    from kemo_attention.bundle.runtime import load_bundle
    from kemo_attention.live.local import LocalServer
    from kemo_attention.live.replay import LiveClient, load_release_subjects, plan_participant, records_body, schedule
    from kemo_attention.release.layout import find_release

    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    release = bench_release(work, args.days)
    bundle = args.bundle or bench_bundle(work)
    label = (load_bundle(bundle).manifest.get("label") or {})
    layout = find_release(release)
    pcode = next(iter(layout.participants))
    esm, userinfo = load_release_subjects(layout)
    t0 = time.perf_counter()
    plan = plan_participant(layout, pcode, esm, userinfo, str(label.get("name", "attention")))
    read_s = time.perf_counter() - t0
    steps = schedule(plan, int(args.batch_seconds * 1000))
    first = min(int(t[0]) for t in plan.times.values() if len(t))
    print(f"{pcode}: {plan.rows:,} rows over {args.days} days, {len(plan.prompts)} prompts, {len(steps):,} steps "
          f"(read in {read_s:.1f} s)", file=sys.stderr)

    store = work / "bench-live.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(str(store) + suffix).unlink(missing_ok=True)
    probe_ms = int(args.probe_minutes * 60_000)
    post_s = build_s = server_cpu = client_cpu = 0.0
    rows_sent = stored = duplicates = 0
    prompt_lat: list[tuple[float, float]] = []  # (hours of data stored, ms)
    probe_lat: list[tuple[float, float]] = []
    daily = []
    live_last = None
    with LocalServer(bundle, store, work / "serve.log", "--no-access-log") as server, LiveClient(server.url, retries=2) as client:
        rss_start = rss_mb(server.pid)
        if plan.profile:
            client.put_profile(pcode, plan.profile)
        next_probe = first + probe_ms if probe_ms else None
        sample_ms = int(args.sample_hours * HOUR_MS)
        next_day = first + sample_ms
        # The next bodies are built in a thread while the server stores the current one (a
        # phone has its batch ready when it sends); requests still go one at a time.
        pool = ThreadPoolExecutor(max_workers=1)
        pending = iter([(start, end) for kind, start, end, _ in steps if kind == "records"])
        ahead: deque = deque()

        def build_ahead() -> None:
            while len(ahead) < 2 and (span := next(pending, None)) is not None:
                ahead.append(pool.submit(records_body, plan, *span))

        build_ahead()
        load_start = load_average()
        began = time.perf_counter()
        client_cpu_began = time.process_time()
        for kind, start, end, payload in steps:
            if kind == "records":
                b0 = time.perf_counter()
                body, rows = ahead.popleft().result()  # this step's body: the spans are in step order
                build_ahead()
                c0 = cpu_s(server.pid)
                b1 = time.perf_counter()
                reply = client.post_records(pcode, body, what="records")
                post_s += time.perf_counter() - b1
                server_cpu += cpu_s(server.pid) - c0
                build_s += b1 - b0
                rows_sent += rows
                stored += sum(reply.get("stored", {}).values())
                duplicates += sum(reply.get("duplicates", {}).values())
                if next_probe is not None and end >= next_probe:
                    q0 = time.perf_counter()
                    reply = client.prediction(pcode, end)
                    probe_lat.append(((end - first) / HOUR_MS, (time.perf_counter() - q0) * 1000))
                    while next_probe <= end:
                        next_probe += probe_ms
                while end >= next_day:
                    daily.append({"data_hours": round((next_day - first) / HOUR_MS, 1), "rows_sent": rows_sent, "store_mb": round(store_mb(store), 1),
                                  "server_rss_mb": round(rss_mb(server.pid), 1),
                                  "wall_s": round(time.perf_counter() - began, 1)})
                    print(f"  {daily[-1]}", file=sys.stderr)
                    next_day += sample_ms
            elif kind == "answer":
                client.post_answers(pcode, [payload])
            else:
                q0 = time.perf_counter()
                reply = client.prediction(pcode, payload.at_ms)
                prompt_lat.append(((payload.at_ms - first) / HOUR_MS, (time.perf_counter() - q0) * 1000))
                if "probability" in reply:
                    live_last = (payload.at_ms, float(reply["probability"]))
        wall_s = time.perf_counter() - began
        client_cpu = time.process_time() - client_cpu_began  # the client process, JSON-building thread included
        pool.shutdown()
        final = {"store_mb": round(store_mb(store), 1), "server_rss_mb": round(rss_mb(server.pid), 1),
                 "server_rss_start_mb": round(rss_start, 1)}
        raw = raw_comparison(client, plan, live_last[0], label, 20.0, live_last[1]) if live_last else []

    after_6h = lambda pairs: [ms for hours, ms in pairs if hours >= 6]  # noqa: E731
    result = {
        "benchmark": "live",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "note": "2 cores shared with other jobs; client and server on the same machine"},
        "settings": {"days": args.days, "batch_seconds": args.batch_seconds, "probe_minutes": args.probe_minutes,
                     "sample_hours": args.sample_hours,
                     "bundle": str(bundle), "participant": pcode},
        "ingest": {
            "rows": rows_sent, "stored": stored, "duplicates": duplicates,
            "rows_per_s_server": round(rows_sent / post_s) if post_s else None,
            "rows_per_s_end_to_end": round(rows_sent / wall_s) if wall_s else None,
            "records_requests_s": round(post_s, 1), "client_json_s": round(build_s, 1), "wall_s": round(wall_s, 1),
            # CPU seconds, steadier than the times above on a shared machine: the server's over
            # the records requests (1/100 s ticks), the client's over the whole replay
            "server_cpu_s": round(server_cpu, 1), "rows_per_server_cpu_s": round(rows_sent / server_cpu) if server_cpu else None,
            "client_cpu_s": round(client_cpu, 1),
            "load_at_start": load_start, "load_at_end": load_average(),
            "rows_per_day": round(rows_sent / max(args.days, 1)),
        },
        "prediction_latency": {
            "prompts_after_6h": percentiles(after_6h(prompt_lat)),
            "probes_after_6h": percentiles(after_6h(probe_lat)),
            "all_prompts": percentiles([ms for _, ms in prompt_lat]),
        },
        "samples": daily,
        "final": final,
        "predict_raw": raw,
        "goals": {"ingest_rows_per_s": 100_000, "p50_ms": 100, "p99_ms": 300},
    }
    out = args.out or ROOT / "bench" / "results" / ("live.json" if args.days == 7 else f"live-{args.days}d.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out, result)
    print(json.dumps({k: result[k] for k in ("ingest", "prediction_latency", "samples", "final", "predict_raw")}, indent=1))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
