"""Benchmark: a release of the real one's size, run as a user runs it.

Writes (or reuses) a demo release shaped like the K-EmoPhone release (77 participants x 7 days
at ``--scale 1.0``, the release's sampling rates; ``--participants N`` for a smaller one), then
times the console script in subprocesses, one step after another:

* ``synth``          ``kemo-attention synth`` writing the release (skipped when it is reused);
* ``check``          ``kemo-attention check --backend processes``;
* ``extract``        ``kemo-attention extract --backend processes`` from an empty cache;
* ``extract-cached`` the same command again: every participant from the cache;
* ``evaluate``       ``kemo-attention evaluate`` of the feature file (default CV: 5-fold sgkf);
* ``study``          (``--steps study``) ``kemo-attention study`` of the release with its defaults
  (six labels, 5 repeats of 5-fold sgkf, six models, population + hybrid, sigmoid calibration
  on the first repeat, no tuning), extraction of all six labels included (empty cache); the
  split between extraction, fitting the folds and the tables comes from the study's manifests;
* ``resume``         (``--resume-check``) a fresh extraction interrupted with SIGINT to its
  process group (Ctrl-C) once half the participants are cached, then rerun: what the rerun
  recomputed, and how long it took.

Per step: wall time; CPU time (user + sys of the command and the worker processes it waited
for); peak RSS summed over the command's whole process tree (sampled from /proc every 0.2 s),
peak open files and processes; load average before and after; disk used by the release, the
feature cache and the outputs. The machine is recorded with them.

Releases are kept in ``--work`` (default ``bench/work``, git-ignored): ``release-<N>`` for
the default scale and days. A folder is reused only when its marker file
(``.bench-release.json``, written last) says it is a complete release of these settings. A
smaller release is made from a larger complete one when there is one (``--subset-of``, or
found in ``--work``): hard links to the first N participants' files and SubjData filtered to
them, so 10- and 40-participant runs next to the 77 one cost no disk; the tool reads it like
any release.

    .venv/bin/python bench/bench_release.py --participants 77          # ~30 min on 2 cores
    .venv/bin/python bench/bench_release.py --participants 10 --subset-of bench/work/release-77
    .venv/bin/python bench/bench_release.py --participants 3 --scale 0.1 --steps check,extract

Writes ``bench/results/release-<N>.json`` (after every step, atomically) and prints a table.
Goals (2 cores): extraction of 77 participants under 6 minutes; peak memory under 3 GB and
no higher at 77 participants than at 10; an interrupted run loses at most the participants
in flight.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from benchtools import TreeMemory, disk_usage, load_average, machine, tree_usage, write_json_atomic

HERE = Path(__file__).resolve().parent
CLI = str(Path(sys.executable).with_name("kemo-attention"))
MARKER = ".bench-release.json"
STEPS = ("synth", "check", "extract", "extract-cached", "evaluate", "resume", "study")
DEFAULT_STEPS = ("synth", "check", "extract", "extract-cached", "evaluate")
HEARTBEAT_S = 30.0
GB = 2**30


class BenchError(Exception):
    """A step failed or the settings cannot work; one line for the user."""


# ------------------------------------------------------------------ naming
def _suffix(args) -> str:
    parts = []
    if args.scale != 1.0:
        parts.append(f"s{args.scale:g}")
    if args.days != 7:
        parts.append(f"d{args.days}")
    if args.seed != 0:
        parts.append(f"seed{args.seed}")
    return "".join(f"-{p}" for p in parts)


def _settings(args, participants: int | None = None) -> dict:
    return {"participants": participants or args.participants, "days": args.days, "scale": args.scale, "seed": args.seed}


def read_marker(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None


def _same_shape(marker: dict | None, args) -> bool:
    return bool(marker) and all(marker.get(k) == v for k, v in _settings(args).items() if k != "participants")


# ------------------------------------------------------------------ running a command
class Step:
    """One command of the console script in its own process group, measured."""

    def __init__(self, name: str, argv: list[str], log: Path, progress=None) -> None:
        self.name, self.argv, self.log, self.progress = name, argv, log, progress

    def run(self, *, interrupt_when=None) -> dict:
        """Run to the end (or until ``interrupt_when()`` is true: then SIGINT to the group)."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        load_before = load_average()
        before = os.times()
        started = time.perf_counter()
        interrupted_at = None
        with open(self.log, "w") as log:
            log.write("$ " + " ".join(self.argv) + "\n")
            log.flush()
            # a process group of its own: SIGINT reaches the command and its workers, as Ctrl-C would
            proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, process_group=0)
            try:
                with TreeMemory(root=proc.pid) as mem:
                    next_beat = time.perf_counter() + HEARTBEAT_S
                    while proc.poll() is None:
                        time.sleep(0.2)
                        if interrupt_when is not None and interrupted_at is None and interrupt_when():
                            interrupted_at = time.perf_counter() - started
                            os.killpg(proc.pid, signal.SIGINT)
                        if time.perf_counter() >= next_beat:
                            next_beat += HEARTBEAT_S
                            self._heartbeat(proc.pid, started, mem)
            except KeyboardInterrupt:  # the user stopped the bench: stop the command the same way
                _stop(proc)
                raise
        wall = time.perf_counter() - started
        after = os.times()
        return {
            "command": " ".join(Path(a).name if i == 0 else a for i, a in enumerate(self.argv)),
            "exit_code": proc.returncode,
            "wall_s": round(wall, 2),
            # children's user + sys: the command and every worker it waited for
            "cpu_s": round((after.children_user - before.children_user) + (after.children_system - before.children_system), 2),
            "peak_tree_rss_mb": round(mem.peak / 2**20),
            "peak_open_files": mem.peak_fds,
            "peak_processes": mem.peak_processes,
            "rss_samples": mem.samples,
            "interrupted_after_s": round(interrupted_at, 2) if interrupted_at is not None else None,
            "load_before": load_before,
            "load_after": load_average(),
            "log": str(self.log),
        }

    def _heartbeat(self, pid: int, started: float, mem: TreeMemory) -> None:
        rss, _fds, nproc = tree_usage(pid)
        extra = f"  {self.progress()}" if self.progress else ""
        load = load_average()
        print(f"  {self.name:<15}{time.perf_counter() - started:7.0f} s{extra}  RSS {rss / GB:.2f} GB "
              f"(peak {mem.peak / GB:.2f}) in {nproc} processes  load {load[0] if load else '?'}", flush=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=60)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _require_ok(name: str, result: dict) -> None:
    if result["exit_code"] != 0:
        raise BenchError(f"{name} exited with {result['exit_code']} (log {result['log']}):\n{_tail(Path(result['log']))}")


# ------------------------------------------------------------------ the release
def synth_release(args, release: Path, logs: Path) -> dict:
    """Write the release with `kemo-attention synth`; the marker goes in last."""
    partial = release.parent

    def progress() -> str:  # synth writes into a hidden folder beside the target, renamed at the end
        done = sum(len(list(p.glob("Sensor/P*"))) for p in partial.glob(f".{release.name}.partial-*"))
        return f"{done}/{args.participants} participants written"

    argv = [CLI, "synth", "--out", str(release), "--participants", str(args.participants), "--days", str(args.days),
            "--scale", f"{args.scale:g}", "--seed", str(args.seed), "--backend", "processes"]  # fmt: skip
    if args.workers:
        argv += ["--workers", str(args.workers)]
    result = Step("synth", argv, logs / "synth.log", progress).run()
    _require_ok("synth", result)
    marker = {**_settings(args), "made_by": "synth", "synth": result,
              "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}  # fmt: skip
    write_json_atomic(release / MARKER, marker)
    return marker


def subset_release(args, source: Path, release: Path) -> dict:
    """The first N participants of a larger complete release: hard links to their files
    (symlinks across file systems) and SubjData rows of theirs only. Built under a hidden
    name and renamed, marker written before the rename."""
    import polars as pl

    from kemo_attention.release.layout import find_release

    layout = find_release(source)
    pcodes = list(layout.participants)[: args.participants]
    if len(pcodes) < args.participants:
        raise BenchError(f"{source} holds {len(pcodes)} participants; {args.participants} were asked for")
    started = time.perf_counter()
    release.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{release.name}.partial-", dir=release.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp's folder is private; a release reads like any folder
    try:
        linked = "hard links"
        for pcode in pcodes:
            folder = tmp / "Sensor" / pcode
            folder.mkdir(parents=True)
            for f in layout.participants[pcode].iterdir():
                try:
                    os.link(f, folder / f.name)
                except OSError:  # another file system: a symlink reads the same
                    os.symlink(f.resolve(), folder / f.name)
                    linked = "symlinks"
        (tmp / "SubjData").mkdir()
        for path in (layout.esm_path, layout.userinfo_path):
            if path is None:
                continue
            table = pl.read_csv(path, infer_schema_length=0)  # every column as text: values kept as written
            table.filter(pl.col("pcode").is_in(pcodes)).write_csv(tmp / "SubjData" / path.name)
        marker = {**_settings(args), "made_by": f"subset of {source} ({linked})", "source": str(source),
                  "seconds": round(time.perf_counter() - started, 2),
                  "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}  # fmt: skip
        write_json_atomic(tmp / MARKER, marker)
        os.rename(tmp, release)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return marker


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Bytes one participant-week takes at scale 1.0 (measured: 0.41 GB for two); the dense band
# streams, which scale multiplies, are nearly all of it.
BYTES_PER_PARTICIPANT_WEEK = 0.21e9


def _check_space(args, folder: Path) -> None:
    """Refuse before writing a release the disk cannot hold (with 10 % to spare)."""
    need = BYTES_PER_PARTICIPANT_WEEK * max(args.scale, 0.05) * args.days / 7 * args.participants * 1.1
    free = shutil.disk_usage(folder).free
    if free < need:
        raise BenchError(f"{folder}: {free / 1e9:.1f} GB free, the release needs about {need / 1e9:.1f} GB; "
                         f"choose another --work or --release")  # fmt: skip


def find_source(args, work: Path) -> Path | None:
    """A complete bench release of the same shape with more participants in ``work`` (the smallest)."""
    best = None
    for folder in work.glob("release-*"):
        marker = read_marker(folder)
        if _same_shape(marker, args) and marker["participants"] > args.participants:
            if best is None or marker["participants"] < best[0]:
                best = (marker["participants"], folder)
    return best[1] if best else None


def prepare_release(args, release: Path, work: Path, logs: Path, steps: list[str]) -> tuple[dict, dict | None]:
    """(marker, synth step result or None) of a complete release at ``release``."""
    marker = read_marker(release)
    if release.exists():
        if marker is None:
            raise BenchError(f"{release} exists but holds no {MARKER} (not a complete bench release): "
                             f"remove it or choose another --release")  # fmt: skip
        if marker != {**marker, **_settings(args)}:
            want = _settings(args)
            raise BenchError(f"{release} holds a release of {({k: marker.get(k) for k in want})}, not {want}; "
                             f"choose another --release")  # fmt: skip
        print(f"reusing {release} ({marker.get('made_by', 'synth')})", flush=True)
        return marker, None
    source = Path(args.subset_of) if args.subset_of else (None if args.no_subset else find_source(args, work))
    if source is not None:
        smarker = read_marker(source)
        if not _same_shape(smarker, args) or smarker["participants"] < args.participants:
            raise BenchError(f"--subset-of {source}: not a complete bench release of days {args.days}, "
                             f"scale {args.scale:g}, seed {args.seed} with >= {args.participants} participants")  # fmt: skip
        print(f"making {release} from the first {args.participants} participants of {source}", flush=True)
        return subset_release(args, source, release), None
    if "synth" not in steps:
        raise BenchError(f"{release} does not exist and the synth step was not asked for")
    release.parent.mkdir(parents=True, exist_ok=True)
    _check_space(args, release.parent)
    print(f"writing {release}: {args.participants} participants x {args.days} days at scale {args.scale:g}", flush=True)
    marker = synth_release(args, release, logs)
    print(f"synth: {marker['synth']['wall_s']:.1f} s wall, {marker['synth']['cpu_s']:.1f} s CPU, "
          f"peak {marker['synth']['peak_tree_rss_mb']} MB", flush=True)
    return marker, marker["synth"]


# ------------------------------------------------------------------ the steps
def _cache_entries(cache: Path) -> int:
    return len(list(cache.glob("P*.npz"))) if cache.is_dir() else 0


def run_extract(args, release: Path, out: Path, logs: Path, name: str, *, fresh: bool, interrupt_at: int | None = None) -> dict:
    if fresh and out.exists():
        shutil.rmtree(out)
    cache = out / ".cache"
    argv = [CLI, "extract", str(release), "--out", str(out), "--backend", "processes"]
    if args.workers:
        argv += ["--workers", str(args.workers)]
    at_signal: list[int] = []

    def interrupt_when() -> bool:
        done = _cache_entries(cache)
        if done >= (interrupt_at or 0):
            at_signal.append(done)
            return True
        return False

    step = Step(name, argv, logs / f"{name}.log", lambda: f"{_cache_entries(cache)}/{args.participants} participants cached")
    result = step.run(interrupt_when=interrupt_when if interrupt_at else None)
    if interrupt_at:
        result["cached_at_signal"] = at_signal[0] if at_signal else None
        if result["interrupted_after_s"] is not None:  # how long Ctrl-C took to stop the run
            result["stop_s"] = round(result["wall_s"] - result["interrupted_after_s"], 2)
        return result
    _require_ok(name, result)
    manifest = json.loads((out / "attention.manifest.json").read_text())
    result.update({
        "samples": manifest["counts"]["samples"],
        "features": manifest["counts"]["features"],
        "participants_extracted": manifest["counts"]["participants"],
        "cache_hits": manifest["cache"]["hits"],
        "cache_misses": manifest["cache"]["misses"],
        "tool_timings_s": manifest["timings"],
        "cache_disk": disk_usage(cache),
        "outputs_disk": {f: disk_usage(out / f)["bytes"] for f in [*manifest["files"].values(), "attention.manifest.json"]},
    })
    return result


def run_resume(args, release: Path, work_run: Path, logs: Path) -> dict:
    """Interrupt a fresh extraction once half the participants are cached; rerun; compare."""
    out = work_run / "features-resume"
    half = max(1, args.participants // 2)
    first = run_extract(args, release, out, logs, "resume-interrupted", fresh=True, interrupt_at=half)
    if first["exit_code"] == 0:
        raise BenchError("the extraction finished before it could be interrupted (too few participants?)")
    cache = out / ".cache"
    kept = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in cache.glob("P*.npz")}
    first["cached_at_exit"] = len(kept)
    first["temp_files_left"] = len(list(cache.glob(".*.tmp")))  # a worker ended while writing its entry
    rerun = run_extract(args, release, out, logs, "resume-rerun", fresh=False)
    after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in cache.glob("P*.npz")}
    untouched = sum(1 for name, stamp in kept.items() if after.get(name) == stamp)
    return {
        "interrupted": first,
        "cached_at_interrupt": len(kept),
        "kept_untouched_by_rerun": untouched,  # the same file (inode, mtime): not recomputed
        "recomputed_by_rerun": rerun["cache_misses"],
        # participants finished before the interrupt and computed again by the rerun: 0 is the goal
        "finished_but_recomputed": rerun["cache_misses"] - (args.participants - len(kept)),
        "rerun": rerun,
    }


def run_evaluate(args, features: Path, out: Path, logs: Path) -> dict:
    if out.exists():
        shutil.rmtree(out)
    argv = [CLI, "evaluate", str(features / "attention.pkl"), "--out", str(out), "--backend", "processes"]
    if args.participants < 5:  # the default 5 folds need 5 participants; a small dev run uses fewer
        argv += ["--n-splits", str(max(2, args.participants))]
    if args.workers:
        argv += ["--workers", str(args.workers)]
    result = Step("evaluate", argv, logs / "evaluate.log").run()
    _require_ok("evaluate", result)
    manifest = json.loads((out / "manifest.json").read_text())
    result.update({
        "cv": manifest["settings"].get("cv"),
        "folds": manifest["settings"].get("n_folds"),
        "models": manifest["settings"].get("models"),
        "outputs_disk": disk_usage(out),
    })
    board = out / "leaderboard.csv"
    if board.exists():
        result["leaderboard_csv"] = board.read_text()
    return result


def run_study(args, release: Path, work_run: Path, logs: Path) -> dict:
    """The default study of the whole release, from an empty feature cache."""
    out, features = work_run / "study", work_run / "study-features"
    for folder in (out, features, work_run / ".study.folds"):
        if folder.exists():
            shutil.rmtree(folder)
    argv = [CLI, "study", str(release), "--out", str(out), "--features", str(features), "--backend", "processes", "--quiet"]
    if args.workers:
        argv += ["--workers", str(args.workers)]
    result = Step("study", argv, logs / "study.log", lambda: f"{len(list((work_run / '.study.folds').glob('*/*.pkl')))} folds done").run()
    _require_ok("study", result)
    manifest = json.loads((out / "manifest.json").read_text())
    extraction = {}
    for path in sorted(features.glob("*.manifest.json")):
        extraction = json.loads(path.read_text()).get("timings", {})  # one pass: every label's file records it
        break
    result.update({
        "settings": manifest["settings"],
        "inputs": {k: {"samples": v["samples"], "participants": v["participants"]} for k, v in manifest["inputs"].items()},
        "split_s": {
            "extraction_total": extraction.get("total_s"),
            "folds_wall": manifest["timings"]["tasks_wall_s"],
            "folds_cpu": manifest["timings"]["fit_cpu_s"],
            "tables_and_report": manifest["timings"]["tables_s"],
        },
        "folds": manifest["timings"]["folds"],
        "goal_s": 900,
        "outputs_disk": disk_usage(out),
    })
    return result


# ------------------------------------------------------------------ main
def _earlier_steps(path: Path, release: dict) -> dict:
    """Steps recorded in ``path`` by an earlier run on the same release, each marked as earlier."""
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if {k: old.get("release", {}).get(k) for k in release} != release:
        return {}
    return {k: {**v, "earlier_run": v.get("earlier_run") or old.get("started")} for k, v in old.get("steps", {}).items()}


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True,
                              timeout=10).stdout.strip() or None  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None


def print_table(payload: dict) -> None:
    print()
    print(f"{payload['release']['participants']} participants x {payload['release']['days']} days, scale "
          f"{payload['release']['scale']:g}; release {payload['release']['disk_gb']:.2f} GB; "
          f"{payload['machine']['cpus']} CPUs")  # fmt: skip
    print(f"{'step':<20}{'wall s':>9}{'cpu s':>9}{'peak MB':>9}{'files':>7}{'load before/after':>22}  notes")
    rows = []
    for name, r in payload["steps"].items():
        if name == "resume":
            i = r["interrupted"]
            rows.append(("resume: interrupted", i, f"signal at {i.get('cached_at_signal')} cached, stopped in "
                         f"{i.get('stop_s')} s with {r['cached_at_interrupt']} cached"))  # fmt: skip
            rows.append(("resume: rerun", r["rerun"], f"recomputed {r['recomputed_by_rerun']}, "
                         f"{r['kept_untouched_by_rerun']}/{r['cached_at_interrupt']} kept untouched"))  # fmt: skip
            continue
        note = ""
        if name.startswith("extract"):
            note = f"{r['samples']} x {r['features']}, {r['cache_hits']} from cache, cache {r['cache_disk']['bytes'] / 2**20:.0f} MB"
        elif name == "evaluate":
            note = f"{r['cv']} {r['folds']} folds, outputs {r['outputs_disk']['bytes'] / 2**20:.1f} MB"
        elif name == "synth":
            note = "reused" if r.get("reused") else ""
        elif name == "study":
            split = r["split_s"]
            note = (f"{r['folds']} folds; extraction {split['extraction_total'] or 0:.0f} s, folds {split['folds_wall']:.0f} s "
                    f"wall, tables {split['tables_and_report']:.0f} s (goal {r['goal_s']} s)")
        rows.append((name, r, note))
    for name, r, note in rows:
        if r.get("earlier_run"):
            note = f"{note} (earlier run {r['earlier_run']})".strip()
        lb, la = r.get("load_before") or ["?"], r.get("load_after") or ["?"]
        print(f"{name:<20}{r['wall_s']:>9.1f}{r['cpu_s']:>9.1f}{r['peak_tree_rss_mb']:>9}{r['peak_open_files']:>7}"
              f"{f'{lb[0]} / {la[0]}':>22}  {note}")  # fmt: skip


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main() -> int:
    # Started as a background job, this process (and so every command it starts) would ignore
    # SIGINT; a handler is reset to the default on exec, so the commands get Ctrl-C again, and
    # SIGTERM / SIGINT to the bench stop the running command and keep the partial results.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[1:]))  # fmt: skip
    ap.add_argument("--participants", type=int, default=77, help="participants in the release (default 77, the real one's)")
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--scale", type=float, default=1.0, help="sampling-rate multiplier of the band streams (1.0 = the release's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=HERE / "work", help="folder for releases and run outputs (default bench/work)")
    ap.add_argument("--release", type=Path, help="the release folder (default WORK/release-<N>); reused when complete")
    ap.add_argument("--subset-of", help="make the release from the first N participants of this larger bench release")
    ap.add_argument("--no-subset", action="store_true", help="write the release with synth even if a larger one is in WORK")
    ap.add_argument("--steps", default=",".join(DEFAULT_STEPS), help=f"comma list of {', '.join(STEPS)}")
    ap.add_argument("--resume-check", action="store_true", help="add the resume step (one more extraction, interrupted at half)")
    ap.add_argument("--workers", type=int, help="worker processes (default: the tool's, all cores)")
    ap.add_argument("--results", type=Path, help="results file (default bench/results/release-<N>.json)")
    args = ap.parse_args()
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    if args.resume_check and "resume" not in steps:
        steps.append("resume")
    unknown = [s for s in steps if s not in STEPS]
    if unknown or args.participants < 1 or not 0 < args.scale <= 2 or args.days < 1:
        ap.error(f"unknown step {unknown[0]!r} (choose from {', '.join(STEPS)})" if unknown else
                 "--participants and --days must be at least 1 and --scale in (0, 2]")  # fmt: skip
    if not Path(CLI).exists():
        ap.error(f"no console script {CLI}: install the package into this interpreter's environment")

    suffix = _suffix(args)
    work = args.work.resolve()
    release = (args.release or work / f"release-{args.participants}{suffix}").resolve()
    run_dir = work / f"run-{args.participants}{suffix}"
    logs = run_dir / "logs"
    results_path = args.results or HERE / "results" / f"release-{args.participants}{suffix}.json"
    payload = {
        "benchmark": "release",
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {**machine(), "load_at_start": load_average()},
        "code": {"git": _git_commit(), "python": sys.executable},
        "release": {**_settings(args), "path": str(release)},
        "goals": {"extract_77_s": 360, "peak_tree_rss_mb": 3072, "memory": "flat in participants",
                  "resume": "loses at most the participants in flight"},  # fmt: skip
        "steps": {},
        "complete": False,
    }

    earlier = _earlier_steps(results_path, payload["release"])

    def save() -> None:
        # steps of an earlier run on the same release that this run did not repeat are kept (marked)
        payload["steps"] = {**{k: v for k, v in earlier.items() if k not in payload["steps"]}, **payload["steps"]}
        payload["machine"]["load_at_end"] = load_average()
        write_json_atomic(results_path, payload)

    try:
        marker, synth = prepare_release(args, release, work, logs, steps)
        payload["release"].update({"made_by": marker.get("made_by"), "disk_gb": disk_usage(release)["bytes"] / 1e9,
                                   "disk_allocated_gb": disk_usage(release)["allocated"] / 1e9})  # fmt: skip
        if "synth" in steps:
            payload["steps"]["synth"] = synth or {**(marker.get("synth") or {}), "reused": True, "made_by": marker.get("made_by")}
            if not payload["steps"]["synth"].get("wall_s"):  # a subset: nothing synthesized this time
                payload["steps"].pop("synth")
        save()
        features = run_dir / "features"
        for name in steps:
            if name == "synth":
                continue
            print(f"{name} ...", flush=True)
            if name == "check":
                result = Step("check", [CLI, "check", str(release), "--out", str(run_dir / "check.json"), "--backend", "processes"]
                              + (["--workers", str(args.workers)] if args.workers else []), logs / "check.log").run()  # fmt: skip
                _require_ok("check", result)
                summary = json.loads((run_dir / "check.json").read_text())["summary"]
                result.update({"usable": True, "total_rows": summary["total_rows"], "participants": summary["participants"]})
            elif name == "extract":
                result = run_extract(args, release, features, logs, "extract", fresh=True)
            elif name == "extract-cached":
                if not (features / "attention.manifest.json").exists():
                    raise BenchError("extract-cached needs the extract step first (or its output in the run folder)")
                result = run_extract(args, release, features, logs, "extract-cached", fresh=False)
            elif name == "evaluate":
                if not (features / "attention.pkl").exists():
                    raise BenchError("evaluate needs the extract step first (or its output in the run folder)")
                result = run_evaluate(args, features, run_dir / "eval", logs)
            elif name == "study":
                result = run_study(args, release, run_dir, logs)
            else:
                result = run_resume(args, release, run_dir, logs)
            result["ran_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            payload["steps"][name] = result
            shown = result.get("rerun", result)
            print(f"{name}: {shown['wall_s']:.1f} s wall, {shown['cpu_s']:.1f} s CPU, peak {shown['peak_tree_rss_mb']} MB", flush=True)
            save()
        payload["complete"] = True
    except BenchError as err:
        payload["error"] = str(err)
        save()
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        payload["error"] = "interrupted"
        save()
        print(f"\ninterrupted; partial results in {results_path}", file=sys.stderr)
        return 130
    save()
    print_table(payload)
    print(f"\nwrote {results_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
