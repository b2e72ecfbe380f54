"""Helpers shared by the benchmarks: process-tree memory, the machine, disk use, results files.

The benchmarks run as scripts (``python bench/bench_x.py``), so this folder is on
``sys.path`` and they import this module as ``benchtools``.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import threading
from pathlib import Path


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _proc_table() -> tuple[dict[int, int], dict[int, int]]:
    """Parent and RSS (bytes) of every process, from /proc/<pid>/stat (Linux): one short
    read per process, so sampling five times a second costs little CPU."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # a process that just exited
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()  # after "pid (comm) ": state, ppid, ...
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        rss[pid] = int(fields[21]) * _PAGE  # field 24 of stat: resident pages
    return parents, rss


def _descendants(root: int, parents: dict[int, int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    tree, frontier = {root}, [root]
    while frontier:
        for child in children.get(frontier.pop(), ()):
            if child not in tree:
                tree.add(child)
                frontier.append(child)
    return tree


def _open_files(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:  # exited, or not ours to look at
        return 0


def tree_usage(root: int) -> tuple[int, int, int]:
    """(summed RSS in bytes, summed open file descriptors, processes) of ``root`` and its descendants."""
    parents, rss = _proc_table()
    tree = _descendants(root, parents) if root in parents else set()
    return sum(rss.get(p, 0) for p in tree), sum(_open_files(p) for p in tree), len(tree)


class TreeMemory:
    """Peak of the summed RSS (and open files, and process count) of a process and all its
    descendants, sampled every ``interval`` seconds on a thread.

    ``root`` defaults to this process; give a subprocess's pid to measure only that command.
    """

    def __init__(self, interval: float = 0.2, root: int | None = None) -> None:
        self.interval, self.root = interval, root if root is not None else os.getpid()
        self.peak = self.peak_fds = self.peak_processes = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss, fds, n = tree_usage(self.root)
            self.peak = max(self.peak, rss)
            self.peak_fds = max(self.peak_fds, fds)
            self.peak_processes = max(self.peak_processes, n)
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> "TreeMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages (``/proc/loadavg``); the machine may be shared."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def machine() -> dict:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "memory_gb": _memory_gb(),
    }


def _memory_gb() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def disk_usage(path: str | Path) -> dict:
    """Bytes under ``path``: ``bytes`` = the files' sizes; ``allocated`` = blocks on disk, each
    inode counted once (hard links shared inside the folder count once)."""
    path = Path(path)
    if not path.exists():
        return {"bytes": 0, "allocated": 0, "files": 0}
    size = allocated = files = 0
    seen: set[tuple[int, int]] = set()
    walk = [(str(path.parent), [], [path.name])] if path.is_file() else os.walk(path)
    for dirpath, _dirs, names in walk:
        for name in names:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            files += 1
            size += st.st_size
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                allocated += st.st_blocks * 512
    return {"bytes": size, "allocated": allocated, "files": files}


def write_json_atomic(path: str | Path, payload) -> Path:
    """Write JSON through a temporary file beside ``path`` and rename it (never half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f, indent=2)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# One thread per library: a single-process benchmark measures the code, not the thread pools.
ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "POLARS_MAX_THREADS": "1",
    "RAY_USAGE_STATS_ENABLED": "0",
}
