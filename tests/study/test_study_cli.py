"""`kemo-attention study` as a user runs it: feature files in, usage errors, Ctrl-C and resume."""

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

from study_inputs import study_inputs

CLI = str(Path(sys.executable).with_name("kemo-attention"))


@pytest.fixture(scope="module")
def feature_files(tmp_path_factory) -> dict[str, Path]:
    """Two users' own feature files (no manifest: LABEL=FILE names their label)."""
    folder = tmp_path_factory.mktemp("own")
    files = {}
    for item in study_inputs(participants=10, per_participant=24):
        files[item.label] = item.dataset.save_pkl(folder / f"my-{item.label}.pkl")
    return files


def _study(files, out: Path, *extra: str) -> list[str]:
    return [CLI, "study", *(f"{label}={path}" for label, path in files.items()), "--out", str(out),
            "--models", "logreg", "--repeats", "2", "--fast", "--quiet", *extra]  # fmt: skip


def test_study_of_feature_files_writes_the_folder_and_prints_the_headline(feature_files, tmp_path):
    out = tmp_path / "study"
    res = subprocess.run(_study(feature_files, out, "--workers", "1"), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert "attention (sgkf): best logreg, ROC AUC" in res.stdout and "stress (sgkf): best logreg" in res.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["inputs"]) == {"attention", "stress"}
    assert manifest["inputs"]["stress"]["path"] == str(feature_files["stress"])
    assert (out / "report.html").exists() and (out / "summary.md").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--cv", "kfold"], "--cv"),
        (["--labels", "mood"], "--labels"),
        (["--protocol", "personal"], "--protocol"),
        (["--calibrate", "platt"], "--calibrate"),
        (["--repeats", "0"], "--repeats"),
    ],
)
def test_usage_mistakes_are_one_line_and_exit_2(feature_files, tmp_path, args, message):
    res = subprocess.run(_study(feature_files, tmp_path / "s", *args), capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    assert message in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "s").exists()


def test_a_missing_file_or_label_is_one_line_and_exit_2(feature_files, tmp_path):
    res = subprocess.run([CLI, "study", str(tmp_path / "nope.pkl"), "--out", str(tmp_path / "s")],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert res.returncode == 2 and "nope.pkl: no such feature file" in res.stderr and "Traceback" not in res.stderr
    res = subprocess.run(_study({"attention": feature_files["attention"]}, tmp_path / "s", "--labels", "attention,stress"),
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert res.returncode == 2 and "no feature file for label(s) stress" in res.stderr


def test_ctrl_c_exits_130_and_the_rerun_resumes_with_identical_numbers(feature_files, tmp_path):
    out = tmp_path / "study"
    command = _study(feature_files, out, "--backend", "processes", "--workers", "2", "--repeats", "3")
    with sigint_not_ignored():
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    store = tmp_path / ".study.folds"
    try:
        started = time.monotonic()
        while len(list(store.glob("*/*.pkl"))) < 3:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() - started < 300, "no fold finished within 300 s"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "interrupted; rerun to resume" and "Traceback" not in stderr
    assert not out.exists()
    done = len(list(store.glob("*/*.pkl")))
    assert 3 <= done < 2 * 3 * 5

    res = subprocess.run(command[:-6] + ["--workers", "1", "--repeats", "3"], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert f"({done} from earlier runs)" in res.stdout
    fresh = tmp_path / "fresh"
    res = subprocess.run(_study(feature_files, fresh, "--workers", "1", "--repeats", "3"), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    for name in ("fold_scores", "summary", "comparisons", "personalization"):
        pd.testing.assert_frame_equal(pd.read_csv(out / f"{name}.csv"), pd.read_csv(fresh / f"{name}.csv"))


def test_study_of_a_release_extracts_every_label_once_and_reads_its_files(tmp_path):
    from kemo_attention.demo.synth import write_demo_release

    release = write_demo_release(tmp_path / "release", participants=6, days=2, scale=0.05, seed=5, progress=False)
    out = tmp_path / "study"
    command = [CLI, "study", str(release), "--out", str(out), "--labels", "attention,stress", "--models", "logreg",
               "--repeats", "2", "--min-responses", "1", "--fast", "--quiet", "--workers", "1"]  # fmt: skip
    res = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    features = tmp_path / "study-features"
    manifests = {label: json.loads((features / f"{label}.manifest.json").read_text()) for label in ("attention", "stress")}
    study = json.loads((out / "manifest.json").read_text())
    for label, manifest in manifests.items():
        assert study["inputs"][label]["path"] == str(features / f"{label}.pkl")
        assert study["inputs"][label]["sha256"] == manifest["sha256"]["pkl"]  # the very file extraction wrote
    assert sorted(study["inputs"]) == ["attention", "stress"]
    # one pass: both labels' files come from the same extraction (one cache entry per participant)
    assert len(list((features / ".cache").glob("P*"))) == 6
    # a feature file its manifest does not describe is refused, and nothing is written
    import shutil

    shutil.copyfile(features / "attention.pkl", features / "stress.pkl")
    res = subprocess.run([CLI, "study", str(features), "--out", str(tmp_path / "again"), "--fast", "--quiet"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert res.returncode == 2 and "stress.pkl" in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not (tmp_path / "again").exists()


def test_an_out_folder_that_is_not_a_study_is_refused_and_left_alone(feature_files, tmp_path, monkeypatch):
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "thesis.txt").write_text("three years of work")
    res = subprocess.run(_study(feature_files, mine), capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "is not the folder of an earlier study" in res.stderr and "Traceback" not in res.stderr
    assert (mine / "thesis.txt").read_text() == "three years of work"
    for out in (".", ".."):
        res = subprocess.run(_study(feature_files, Path(out)), capture_output=True, text=True, timeout=120, cwd=mine)
        assert res.returncode == 2 and "current folder or one above it" in res.stderr, res.stderr
    assert sorted(p.name for p in mine.iterdir()) == ["thesis.txt"]


def test_a_file_without_a_manifest_needs_its_label_named(feature_files, tmp_path):
    res = subprocess.run([CLI, "study", str(feature_files["stress"]), "--out", str(tmp_path / "s")],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert res.returncode == 2 and f"attention={feature_files['stress']}" in res.stderr and "no manifest" in res.stderr
    res = subprocess.run([CLI, "study", f"mood={feature_files['stress']}", "--out", str(tmp_path / "s")],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert res.returncode == 2 and "unknown label 'mood'" in res.stderr
    assert not (tmp_path / "s").exists()


def test_too_many_personal_labels_is_refused_before_fitting(feature_files, tmp_path):
    res = subprocess.run(_study(feature_files, tmp_path / "s", "--personal-labels", "24"),
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert res.returncode == 2 and "--personal-labels 24: no participant of attention has more than 24" in res.stderr
    assert not (tmp_path / ".s.folds").exists()  # nothing was fitted
