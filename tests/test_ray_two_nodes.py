"""A real two-node Ray cluster on this machine, used as a lab would use theirs.

A head and a worker node (each ``ray start`` with 1 CPU, its own temp folder, its own
loopback address, token auth on) form the cluster; ``kemo-attention extract`` and
``kemo-attention evaluate`` run as console scripts pointed at it by ``RAY_ADDRESS``. The
test checks that both nodes ran tasks (the node ids the tasks report against the ids each
node's raylet wrote into its own temp folder) and that the feature files and every table of
the evaluation equal a serial run's. The serial run goes on while the cluster starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
from ray_support import ray_auth_env, ray_cluster, remove_tree, short_temp_dir, write_token

from kemo_attention.dataset import load_dataset
from kemo_attention.demo.synth import write_demo_release
from kemo_attention.evaluate.report import OUTPUT_FILES

CLI = Path(sys.executable).parent / "kemo-attention"
# 4 participants: 4 extraction tasks; rf and lgbm (random inside) + the dummy on 2 folds: 6
# evaluation tasks. Enough days that rf and lgbm learn something (their predictions vary).
RELEASE = dict(participants=4, days=3, scale=0.05, seed=3)
EVALUATE = ["--models", "rf,lgbm", "--n-splits", "2"]
PARTICIPANTS, EVAL_TASKS = 4, 2  # evaluation: one task per fold (its models share the fold's front)


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(CLI), *args], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"kemo-attention {' '.join(args)} failed:\n{proc.stderr[-3000:]}"
    return proc


def _extract_then_evaluate(release: Path, out: Path, backend: str, env: dict[str, str]) -> tuple[str, str]:
    extract = _run(["extract", str(release), "--out", str(out / "features"), "--backend", backend, "--no-cache",
                    "--quiet"], env)  # fmt: skip
    evaluate = _run(["evaluate", str(out / "features" / "attention.pkl"), "--out", str(out / "eval"),
                     "--backend", backend, "--quiet", *EVALUATE], env)  # fmt: skip
    return extract.stdout, evaluate.stdout


def _manifest(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.mark.ray
def test_two_node_cluster_spreads_tasks_and_matches_serial(tmp_path):
    release = write_demo_release(tmp_path / "release", progress=False, **RELEASE)
    ray_root = short_temp_dir()
    auth = ray_auth_env(write_token(ray_root))
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update({**auth, "NO_COLOR": "1", "COLUMNS": "200"})
    try:
        with ThreadPoolExecutor(1) as pool:
            serial_run = pool.submit(_extract_then_evaluate, release, tmp_path / "serial", "serial", env)
            with ray_cluster(ray_root, auth, nodes=2, cpus_per_node=1) as cluster:
                cluster_env = {**env, "RAY_ADDRESS": cluster.address}
                extract_out, evaluate_out = _extract_then_evaluate(release, tmp_path / "ray", "ray", cluster_env)
                nodes = sorted((node.address, node.node_id()) for node in cluster.nodes)
            serial_run.result()
    finally:
        remove_tree(ray_root)

    # (a) both nodes ran tasks: what the tasks reported is the two nodes we started, no other
    assert nodes[0][0] == "127.0.0.2" and nodes[1][0] == "127.0.0.3" and nodes[0][1] != nodes[1][1]
    for step, manifest_path, tasks in [
        ("extract", tmp_path / "ray" / "features" / "attention.manifest.json", PARTICIPANTS),
        ("evaluate", tmp_path / "ray" / "eval" / "manifest.json", EVAL_TASKS),
    ]:
        ran_on = _manifest(manifest_path)["settings"]["ray_nodes"]
        assert sorted((n["address"], n["node_id"]) for n in ran_on) == nodes, f"{step} ran on {ran_on}"
        assert all(n["tasks"] >= 1 for n in ran_on) and sum(n["tasks"] for n in ran_on) == tasks, ran_on
    assert "ran on 2 Ray nodes" in extract_out and "ran on 2 Ray nodes" in evaluate_out

    # (b) the feature matrix equals the serial run's, in both files
    serial, ray = tmp_path / "serial", tmp_path / "ray"
    a, b = load_dataset(serial / "features" / "attention.pkl"), load_dataset(ray / "features" / "attention.pkl")
    assert a.X.shape == (len(a.y), 3356) and sorted(set(a.group)) == ["P01", "P02", "P03", "P04"]
    pd.testing.assert_frame_equal(a.X, b.X, check_exact=True)
    assert a.y.tolist() == b.y.tolist() and a.group.tolist() == b.group.tolist()
    assert a.day_seconds.tolist() == b.day_seconds.tolist() and list(a.date_times) == list(b.date_times)
    pd.testing.assert_frame_equal(
        pd.read_parquet(serial / "features" / "attention.parquet"),
        pd.read_parquet(ray / "features" / "attention.parquet"),
        check_exact=True,
    )

    # ... and so does every file of the evaluation: each table, the leaderboard's text, the plots
    for run in (serial, ray):  # the run wrote exactly the files it lists, so none is left out below
        written = {p.relative_to(run / "eval").as_posix() for p in (run / "eval").rglob("*") if p.is_file()}
        assert written == set(OUTPUT_FILES), run
    for name in (name for name in OUTPUT_FILES if name != "manifest.json"):
        if name.endswith(".parquet"):
            serial_table, ray_table = pd.read_parquet(serial / "eval" / name), pd.read_parquet(ray / "eval" / name)
            pd.testing.assert_frame_equal(serial_table, ray_table, check_exact=True, obj=name)
        else:
            assert (serial / "eval" / name).read_bytes() == (ray / "eval" / name).read_bytes(), f"{name} differs"
    oof = pd.read_parquet(ray / "eval" / "oof_predictions.parquet")
    assert oof[oof.model == "rf"].proba.nunique() > 5  # real predictions were compared, not a constant
    # the notes (selector fallbacks, warnings, boosting rounds), the models' settings, and the
    # input: the same feature file to the byte (its SHA-256), read the same way
    serial_manifest, ray_manifest = (_manifest(run / "eval" / "manifest.json") for run in (serial, ray))
    for key in ("notes", "model_settings"):
        assert serial_manifest[key] == ray_manifest[key], key
    serial_manifest["input"].pop("path"), ray_manifest["input"].pop("path")
    assert serial_manifest["input"] == ray_manifest["input"]
