"""Benchmark: the inference API over HTTP on loopback, against the same bundle in-process.

Builds a bundle of the real shape (the 3,356 feature columns of ``feature_columns()``,
synthetic values, 1,000 samples, ``lgbm`` by default), starts ``kemo-attention serve`` in a
subprocess on 127.0.0.1 and measures:

* single-row ``POST /predict`` latency, sequential, one keep-alive connection (p50/p99);
* throughput with several concurrent clients (threads, one connection each);
* throughput under load from ``wrk`` (C, low client overhead: the server is measured, not
  the client), 8 connections for ~10 s, against ``serve --workers 1`` and ``--workers 2``;
  without ``wrk`` on PATH (Debian: ``apt-get install wrk``) the httpx clients stand in and
  the JSON says so;
* one request with a batch of 1,000 full rows;
* ``POST /predict/raw`` latency (10 min of HR, 2 min of ACC, screen events);
* in-process: the service's row path (dict -> matrix -> fast path), the plain pipeline
  (``Bundle.predict_proba`` on a one-row DataFrame), and JSON parsing + validation alone.

Client and server share the machine's cores, as any loopback benchmark does.

    .venv/bin/python bench/bench_serve.py [--model lgbm] [--requests 500] [--clients 8] [--wrk-seconds 10]

Writes ``bench/results/serve.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

PROMPT = 1_557_279_000_000


def feature_kinds() -> dict[str, str]:
    from kemo_attention.features.assemble import features_for_prompts
    from kemo_attention.release.read import empty_frame
    from kemo_attention.release.schema import DATA_TYPES

    row = features_for_prompts({n: empty_frame(t) for n, t in DATA_TYPES.items()}, np.array([PROMPT]), userinfo=None, past_labels=None)
    return {c: ("bool" if row[c].dtype == bool else "numeric") for c in row.columns}


def synthetic_dataset(n: int, seed: int = 0):
    from kemo_attention.dataset import Dataset
    from kemo_attention.features.layout import column_layout

    kinds = feature_kinds()
    rng = np.random.default_rng(seed)
    cols = {c: (rng.random(n) < 0.3) if k == "bool" else rng.normal(size=n).astype(np.float32) for c, k in kinds.items()}
    X = pd.DataFrame(cols, columns=list(kinds))
    signal = X["HRT#VAL"].to_numpy() + X["SCR#VAL=ON"].to_numpy() + 0.5 * X["ACC_MAG#AVG#M01"].to_numpy()
    y = (signal + rng.normal(0, 0.7, n) > 0.3).astype(int)
    group = np.repeat([f"P{i:02d}" for i in range(20)], -(-n // 20))[:n]
    # as extraction records it: the columns are its layout, so /predict/raw serves the bundle
    meta = {"feature_mode": "causal", "label": {"name": "attention"}, "tz_offset": "+09:00", "feature_layout_hash": column_layout().hash}
    return Dataset(X, y, group, meta=meta)


def row_json(X: pd.DataFrame, i: int) -> dict:
    return {c: (bool(v) if isinstance(v, (bool, np.bool_)) else float(v)) for c, v in X.iloc[i].items()}


def raw_body(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    hr = [{"timestamp": PROMPT - 600_000 + i * 1000, "bpm": round(float(75 + rng.normal(0, 3)), 1)} for i in range(600)]
    acc = [{"timestamp": PROMPT - 120_000 + i * 250, "x": float(rng.normal()), "y": float(rng.normal()), "z": float(rng.normal(1))} for i in range(480)]
    screen = [{"timestamp": PROMPT - 300_000, "type": "OFF"}, {"timestamp": PROMPT - 20_000, "type": "ON"}]
    return {"prompt_time": PROMPT, "records": {"HR": hr, "Acceleration": acc, "ScreenEvent": screen}, "userinfo": {"age": 24, "gender": "F"}}


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc), to tell server cost from client cost."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def tree_cpu_seconds(pid: int) -> float | None:
    """CPU time of a process and its direct children (uvicorn's worker processes)."""
    total = cpu_seconds(pid)
    if total is None:
        return None
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    for child in children:
        total += cpu_seconds(int(child)) or 0.0
    return total


def start_server(path: Path, port: int, workers: int) -> subprocess.Popen:
    """``kemo-attention serve`` in its own process group; returns once every worker has
    logged "Application startup complete" (a worker still loading its model would miss the
    load generator's keep-alive connections) and /health answers."""
    import httpx

    cli = str(Path(sys.executable).with_name("kemo-attention"))
    proc = subprocess.Popen(
        [cli, "serve", str(path), "--port", str(port), "--max-body-mb", "1024", "--workers", str(workers)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "PYTHONWARNINGS": "ignore"},
        start_new_session=True,
    )
    tail: list[str] = []
    ready = threading.Semaphore(0)

    def read_log():  # also keeps the pipe drained while the server runs
        for raw in proc.stderr:
            text = raw.decode(errors="replace")
            tail.append(text)
            del tail[:-50]
            if "Application startup complete" in text:
                ready.release()

    threading.Thread(target=read_log, daemon=True).start()
    deadline = time.monotonic() + 180
    started = 0
    while started < workers:
        if ready.acquire(timeout=0.2):
            started += 1
        elif proc.poll() is not None:
            raise SystemExit("server exited: " + "".join(tail)[-2000:])
        elif time.monotonic() > deadline:
            stop_server(proc)
            raise SystemExit("server did not come up in 180 s: " + "".join(tail)[-2000:])
    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).status_code != 200:
        stop_server(proc)
        raise SystemExit("/health did not answer 200")
    return proc


def stop_server(proc: subprocess.Popen) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def httpx_load(url: str, body: bytes, clients: int, per_client: int, pid: int) -> dict:
    """``clients`` threads, one httpx keep-alive connection each, ``per_client`` requests."""
    import httpx

    headers = {"content-type": "application/json"}
    latencies: list[float] = []
    lock = threading.Lock()
    errors: list[str] = []
    barrier = threading.Barrier(clients + 1)

    def worker():
        mine = []
        try:
            with httpx.Client(base_url=url, timeout=60) as c:
                c.post("/predict", content=body, headers=headers).raise_for_status()
                barrier.wait()
                for _ in range(per_client):
                    t0 = time.perf_counter()
                    c.post("/predict", content=body, headers=headers).raise_for_status()
                    mine.append((time.perf_counter() - t0) * 1000)
        except Exception as exc:  # reported below
            errors.append(repr(exc))
            barrier.abort()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for th in threads:
        th.start()
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        pass
    cpu_before = tree_cpu_seconds(pid)
    t = time.perf_counter()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - t
    cpu_after = tree_cpu_seconds(pid)
    if errors:
        raise SystemExit(f"client errors: {errors[:3]}")
    server_cpu_ms = None if cpu_before is None or cpu_after is None else (cpu_after - cpu_before) * 1000 / len(latencies)
    return {"client": "httpx", "clients": clients, "requests": len(latencies), "rps": len(latencies) / elapsed,
            "p50_ms": pct(latencies, 50), "p99_ms": pct(latencies, 99), "server_cpu_ms_per_request": server_cpu_ms}


_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _wrk_ms(text: str) -> float:
    import re

    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(m.group(1)) * _UNITS_MS[m.group(2)]


def wrk_load(wrk: str, url: str, body: bytes, connections: int, seconds: int, pid: int, work: Path) -> dict:
    """``wrk`` posting ``body`` to /predict; req/s and latency percentiles from its report."""
    import re

    body_file = work / "predict-body.json"
    body_file.write_bytes(body)
    script = work / "predict.lua"
    # The body is ~100 kB: read it from a file rather than quoting it into Lua source.
    script.write_text(
        f'local f = assert(io.open("{body_file}", "rb"))\n'
        'wrk.method = "POST"\n'
        "wrk.body = f:read(\"*a\")\n"
        "f:close()\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    threads = max(1, min(2, connections))
    cpu_before = tree_cpu_seconds(pid)
    done = subprocess.run(
        [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s",
         "-s", str(script), url + "/predict"],
        capture_output=True, text=True, timeout=seconds + 60,
    )
    cpu_after = tree_cpu_seconds(pid)
    out = done.stdout
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stderr[-1000:]}{out[-1000:]}")
    rps = float(re.search(r"Requests/sec:\s*([0-9.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    dist = dict(re.findall(r"^\s*(50|75|90|99)%\s+(\S+)\s*$", out, flags=re.M))
    bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    sock = re.search(r"Socket errors:(.*)", out)
    if bad:
        raise SystemExit(f"wrk got {bad.group(1)} non-2xx responses:\n{out}")
    server_cpu_ms = None if cpu_before is None or cpu_after is None or not total else (cpu_after - cpu_before) * 1000 / total
    return {"client": "wrk", "threads": threads, "connections": connections, "seconds": seconds, "requests": total,
            "rps": rps, "p50_ms": _wrk_ms(dist["50"]), "p90_ms": _wrk_ms(dist["90"]), "p99_ms": _wrk_ms(dist["99"]),
            "socket_errors": sock.group(1).strip() if sock else None, "server_cpu_ms_per_request": server_cpu_ms}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="lgbm")
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--wrk-seconds", type=int, default=10)
    ap.add_argument("--wrk-connections", type=int, default=8)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "serve.json")
    args = ap.parse_args()

    import httpx
    import pydantic_core

    from kemo_attention.bundle.runtime import load_bundle
    from kemo_attention.bundle.export import export_bundle
    from kemo_attention.serve.schemas import PredictRequest
    from kemo_attention.serve.service import PredictionService

    load_before = os.getloadavg()
    tmp = tempfile.TemporaryDirectory(prefix="bench-serve-")
    work = Path(tmp.name)
    t = time.perf_counter()
    ds = synthetic_dataset(args.samples)
    path = export_bundle(ds, args.model, work)
    export_s = time.perf_counter() - t
    bundle = load_bundle(path)
    n_features = len(bundle.feature_names)
    print(f"bundle: {args.model}, {n_features} features, {len(bundle.used_features())} kept by the selector; export {export_s:.1f} s")

    # ------------------------------------------------------------------ in-process
    service = PredictionService(bundle)
    row = row_json(ds.X, 0)
    single_body = json.dumps({"rows": [row]}).encode()
    in_service = timed(lambda: service.predict_rows([row]), args.requests)
    # The server's own parse (pydantic-core JSON + the request model), then the whole in-process
    # path from the same request bytes to the response dict: what HTTP adds is the rest.
    in_parse = timed(lambda: PredictRequest.model_validate(pydantic_core.from_json(single_body, allow_inf_nan=True)), 200)
    in_stdlib_json = timed(lambda: json.loads(single_body), 100)

    def full():
        req = PredictRequest.model_validate(pydantic_core.from_json(single_body, allow_inf_nan=True))
        return service.predict_rows(req.all_rows(), req.fill_missing)

    in_full = timed(full, args.requests)
    one_frame = ds.X.iloc[[0]]
    in_pipeline = timed(lambda: bundle.predict_proba(one_frame), 30)
    batch_rows = [row_json(ds.X, i % len(ds.X)) for i in range(args.batch)]
    in_batch = timed(lambda: service.predict_rows(batch_rows), 3)
    same = abs(service.predict_rows([row])["predictions"][0]["probability"] - float(bundle.predict_proba(one_frame)[0]))

    # ------------------------------------------------------------------ the server
    import shutil

    wrk = shutil.which("wrk")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    t = time.perf_counter()
    proc = start_server(path, port, workers=1)
    load_runs: dict[str, dict] = {}
    try:
        startup_s = time.perf_counter() - t
        headers = {"content-type": "application/json"}
        with httpx.Client(base_url=url, timeout=120) as client:
            for _ in range(20):
                assert client.post("/predict", content=single_body, headers=headers).status_code == 200
            http_single = timed(lambda: client.post("/predict", content=single_body, headers=headers).raise_for_status(), args.requests)

            raw = json.dumps(raw_body()).encode()
            client.post("/predict/raw", content=raw, headers=headers).raise_for_status()
            http_raw = timed(lambda: client.post("/predict/raw", content=raw, headers=headers).raise_for_status(), 30)

            batch_body = json.dumps({"rows": batch_rows}).encode()
            http_batch = timed(lambda: client.post("/predict", content=batch_body, headers=headers).raise_for_status(), 3)

        # concurrent clients (httpx threads: the client shares the cores and costs as much as the server)
        per_client = max(1, args.requests * 2 // args.clients)
        conc = httpx_load(url, single_body, args.clients, per_client, proc.pid)
        load_runs["workers1_httpx"] = conc
        if wrk:
            load_runs["workers1_wrk"] = wrk_load(wrk, url, single_body, args.wrk_connections, args.wrk_seconds, proc.pid, work)
    finally:
        stop_server(proc)
    # the same load against two worker processes
    port2 = free_port()
    url2 = f"http://127.0.0.1:{port2}"
    proc = start_server(path, port2, workers=2)
    try:
        load_runs["workers2_httpx"] = httpx_load(url2, single_body, args.clients, per_client, proc.pid)
        if wrk:
            load_runs["workers2_wrk"] = wrk_load(wrk, url2, single_body, args.wrk_connections, args.wrk_seconds, proc.pid, work)
    finally:
        stop_server(proc)
        tmp.cleanup()
    latencies_p50, latencies_p99, rps = conc["p50_ms"], conc["p99_ms"], conc["rps"]
    server_cpu_ms = conc["server_cpu_ms_per_request"]
    best = max(load_runs.values(), key=lambda r: r["rps"])
    best_name = max(load_runs, key=lambda k: load_runs[k]["rps"])

    p50_http, p50_in, p50_full = pct(http_single, 50), pct(in_service, 50), pct(in_full, 50)
    results = {
        "benchmark": "serve",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "bundle": {"model": args.model, "features": n_features, "kept_by_selector": len(bundle.used_features()),
                   "training_samples": args.samples, "fast_path": bundle.fast is not None, "export_s": round(export_s, 2),
                   "server_startup_s": round(startup_s, 2)},
        "single_row_request_bytes": len(single_body),
        "http_single_ms": {"p50": p50_http, "p90": pct(http_single, 90), "p99": pct(http_single, 99), "n": len(http_single)},
        "http_concurrent": {"clients": args.clients, "requests": conc["requests"], "rps": rps,
                            "p50_ms": latencies_p50, "p99_ms": latencies_p99,
                            "server_cpu_ms_per_request": server_cpu_ms,
                            "server_capacity_rps_on_all_cores": None if not server_cpu_ms else os.cpu_count() * 1000 / server_cpu_ms},
        "http_batch": {"rows": args.batch, "request_mb": len(batch_body) / 2**20, "ms": min(http_batch),
                       "ms_per_row": min(http_batch) / args.batch},
        "http_raw_ms": {"p50": pct(http_raw, 50), "p99": pct(http_raw, 99), "n": len(http_raw)},
        "in_process": {
            "service_single_ms": {"p50": p50_in, "p99": pct(in_service, 99)},
            "json_parse_and_validate_single_ms": {"p50": pct(in_parse, 50)},
            "stdlib_json_loads_single_ms": {"p50": pct(in_stdlib_json, 50)},
            "request_bytes_to_response_single_ms": {"p50": p50_full, "p99": pct(in_full, 99)},
            "pipeline_dataframe_single_ms": {"p50": pct(in_pipeline, 50)},
            "service_batch_ms": min(in_batch),
            "fast_vs_pipeline_abs_diff": same,
        },
        "http_load": {
            "client": "wrk" if wrk else "httpx (wrk not found on PATH; install it, e.g. apt-get install wrk, for a client that does not compete with the server for CPU)",
            "wrk": wrk,
            "runs": load_runs,
            "best": best_name,
        },
        "http_over_in_process_p50": {"vs_request_bytes_to_response": p50_http / p50_full, "vs_service_only": p50_http / p50_in},
        "goals": {"p99_single_lt_20ms": pct(http_single, 99) < 20, "rps_ge_200": best["rps"] >= 200, "rps_ge_200_run": best_name, "overhead_le_3x": p50_http / p50_full <= 3},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))

    def line(name, value):
        print(f"  {name:<44} {value}")

    print(f"machine: {os.cpu_count()} cpus, load average {results['machine']['load_average_before']} -> {results['machine']['load_average_after']}")
    line("HTTP /predict 1 row p50 / p99", f"{p50_http:.2f} / {pct(http_single, 99):.2f} ms")
    if server_cpu_ms:
        line("server CPU per request, 1 worker (capacity)", f"{server_cpu_ms:.2f} ms ({os.cpu_count() * 1000 / server_cpu_ms:.0f} req/s on all cores if clients ran elsewhere)")
    if not wrk:
        print("  (wrk not found on PATH: load measured with httpx clients only)")
    for name, r in load_runs.items():
        who = f"{r['connections']} conns" if r["client"] == "wrk" else f"{r['clients']} clients"
        cpu = f", server CPU {r['server_cpu_ms_per_request']:.2f} ms/req" if r.get("server_cpu_ms_per_request") else ""
        line(f"load {name} ({who})", f"{r['rps']:.0f} req/s (p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms{cpu})")
    line(f"HTTP /predict batch of {args.batch} rows", f"{min(http_batch):.0f} ms ({len(batch_body) / 2**20:.0f} MB body, {min(http_batch) / args.batch:.2f} ms/row)")
    line("HTTP /predict/raw p50 / p99", f"{pct(http_raw, 50):.1f} / {pct(http_raw, 99):.1f} ms")
    line("in-process request bytes -> response p50 / p99", f"{p50_full:.2f} / {pct(in_full, 99):.2f} ms")
    line("  of which JSON parse + validation p50", f"{pct(in_parse, 50):.2f} ms (stdlib json.loads alone: {pct(in_stdlib_json, 50):.2f} ms)")
    line("  of which service (row -> probability) p50 / p99", f"{p50_in:.2f} / {pct(in_service, 99):.2f} ms")
    line("in-process pipeline (DataFrame) 1 row p50", f"{pct(in_pipeline, 50):.1f} ms")
    line(f"in-process service batch of {args.batch}", f"{min(in_batch):.0f} ms")
    line("HTTP / in-process p50", f"{p50_http / p50_full:.1f}x (vs service only {p50_http / p50_in:.1f}x)")
    line("goals (p99<20ms, >=200 rps, <=3x)", " ".join(f"{k}={v}" for k, v in results["goals"].items()))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
