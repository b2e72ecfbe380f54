"""An interrupted extraction resumes: Ctrl-C mid-run, rerun, and nothing finished is redone.

``kemo-attention extract --backend processes`` runs as a user runs it (the console script, in
a process group of its own); once some participants are cached it gets SIGINT on its whole
process group, as Ctrl-C in a terminal sends it. The rerun must take every finished
participant from the cache without rewriting it (same inode, same modification time),
compute only the others, and give exactly the feature matrix of an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from signal_support import sigint_not_ignored

from kemo_attention.compute import Executor
from kemo_attention.config import LabelSettings
from kemo_attention.dataset import load_dataset
from kemo_attention.features.extract import extract_release

CLI = str(Path(sys.executable).with_name("kemo-attention"))
PARTICIPANTS = 4


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    from kemo_attention.demo.synth import write_demo_release

    # sparse band streams and one day: each participant is about a second of work
    return write_demo_release(tmp_path_factory.mktemp("resume") / "release", participants=PARTICIPANTS, days=1,
                              scale=0.05, seed=3, progress=False)  # fmt: skip


def _extract(release: Path, out: Path) -> list[str]:
    # --min-responses 1: a one-day demo participant has fewer than the reference's 35 answers
    return [CLI, "extract", str(release), "--out", str(out), "--min-responses", "1", "--backend", "processes",
            "--workers", "2", "--quiet"]  # fmt: skip


def _entries(cache: Path) -> dict[str, tuple[int, int, int]]:
    """pcode -> (inode, mtime_ns, size) of its cache entry."""
    out = {}
    for path in cache.glob("P*.npz"):
        st = path.stat()
        out[path.name.split("-")[0]] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return out


def test_interrupted_extract_resumes_without_redoing_finished_participants(release, tmp_path):
    out = tmp_path / "features"
    cache = out / ".cache"
    with sigint_not_ignored():
        proc = subprocess.Popen(_extract(release, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)  # fmt: skip
    try:
        started = time.monotonic()
        while not _entries(cache):  # the first participant is done
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() - started < 120, "no participant finished within 120 s"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the driver and its workers
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "interrupted; rerun to resume" and "Traceback" not in stderr
    assert not (out / "attention.manifest.json").exists()  # nothing that looks like a finished run
    finished = _entries(cache)
    # some participants done, the rest lost at most with the two in flight, none run after the signal
    assert 1 <= len(finished) < PARTICIPANTS, finished

    res = subprocess.run(_extract(release, out), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert f"{len(finished)} from cache" in res.stdout
    manifest = json.loads((out / "attention.manifest.json").read_text())
    assert manifest["cache"]["hits"] == len(finished)
    assert manifest["cache"]["misses"] == PARTICIPANTS - len(finished)
    assert {p for p, info in manifest["participants"].items() if info["cached"]} == set(finished)
    after = _entries(cache)
    assert set(after) == {f"P{i:02d}" for i in range(1, PARTICIPANTS + 1)}  # one entry each
    for pcode, stamp in finished.items():  # read, not rewritten: the same file, untouched
        assert after[pcode] == stamp, pcode

    # the resumed matrix is exactly an uninterrupted one (computed here, without any cache)
    resumed = load_dataset(out / "attention.pkl")
    whole = extract_release(release, tmp_path / "whole", label=LabelSettings(min_responses=1),
                            executor=Executor("serial", progress=False), use_cache=False)  # fmt: skip
    assert len(resumed) == len(whole) > PARTICIPANTS
    pd.testing.assert_frame_equal(resumed.X, whole.X, check_exact=True)
    assert resumed.y.tolist() == whole.y.tolist() and resumed.group.tolist() == whole.group.tolist()
