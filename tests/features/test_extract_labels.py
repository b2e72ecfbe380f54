"""Several labels from one pass: each label's Dataset is exactly the one extracting it alone gives.

The release is a small demo release whose answers are made to differ per label: values left
empty for some labels only, a participant with too few answers for one label, voluntary
responses kept for one label (so its prompts are not the others'), two responses at one
prompt time, and a per-participant threshold. Each label's result from
``extract_release_labels`` is compared with ``extract_release`` of that label alone (no
cache): every value bit for bit, column order, dtypes, y, group, t, date_times, metadata and
the written files.
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from kemo_attention.compute import Executor
from kemo_attention.config import FeatureSettings, LabelSettings
from kemo_attention.dataset import load_dataset
from kemo_attention.errors import KemoError
from kemo_attention.features.extract import extract_release, extract_release_labels

SERIAL = Executor("serial", progress=False)
PROMPTS_KEPT = 7  # scheduled prompts kept per participant: features cost grows with prompts
MIN = 4

SIX = [
    LabelSettings(name="valence", min_responses=MIN),
    LabelSettings(name="arousal", min_responses=MIN, scheduled_only=False),  # voluntary answers too
    LabelSettings(name="attention", min_responses=MIN),
    LabelSettings(name="stress", min_responses=MIN),
    LabelSettings(name="disturbance", min_responses=MIN, threshold_kind="participant_mean"),
    LabelSettings(name="change", min_responses=MIN, threshold=-0.5),
]


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    from kemo_attention.demo.synth import write_demo_release

    root = write_demo_release(tmp_path_factory.mktemp("labels") / "release", participants=2, days=1, scale=0.05,
                              seed=3, progress=False)  # fmt: skip
    esm_path = root / "SubjData" / "EsmResponse.csv"
    esm = pl.read_csv(esm_path, infer_schema_length=0)
    scheduled = esm.filter(pl.col("scheduledTime").is_not_null())
    kept = pl.concat([
        scheduled.filter(pl.col("pcode") == p).head(PROMPTS_KEPT) for p in ("P01", "P02")
    ])  # fmt: skip
    voluntary = esm.filter(pl.col("scheduledTime").is_null())
    assert voluntary.height > 0, "the demo release has no voluntary response any more; the test needs one"
    frame = pl.concat([kept, voluntary, kept.filter(pl.col("pcode") == "P01").slice(4, 1)])  # a second answer at one prompt time
    row = pl.int_range(pl.len())
    p01, p02 = pl.col("pcode") == "P01", pl.col("pcode") == "P02"
    frame = frame.with_columns(
        pl.when(p01 & row.is_in([1, 2])).then(None).otherwise(pl.col("valence")).alias("valence"),  # empty answers
        pl.when(p02 & (row < PROMPTS_KEPT * 2 - 3)).then(None).otherwise(pl.col("stress")).alias("stress"),  # P02 too few
        pl.when(row == 6).then(None).otherwise(pl.col("change")).alias("change"),
    )
    frame.write_csv(esm_path)
    return root


@pytest.fixture(scope="module")
def together(release, tmp_path_factory):
    out = tmp_path_factory.mktemp("together")
    return out, extract_release_labels(release, out, labels=SIX, executor=SERIAL)


def _same_dataset(got, want) -> None:
    assert list(got.X.columns) == list(want.X.columns)
    assert got.X.dtypes.tolist() == want.X.dtypes.tolist()
    numeric = [c for c in want.X.columns if want.X[c].dtype != bool]
    flags = [c for c in want.X.columns if want.X[c].dtype == bool]
    # bit for bit: the float32 words themselves (0.0 and -0.0, say, would differ here)
    assert np.array_equal(got.X[numeric].to_numpy().view(np.uint32), want.X[numeric].to_numpy().view(np.uint32))
    assert np.array_equal(got.X[flags].to_numpy(), want.X[flags].to_numpy())
    assert got.y.dtype == want.y.dtype and np.array_equal(got.y, want.y)
    assert got.group.tolist() == want.group.tolist()
    assert np.array_equal(got.day_seconds, want.day_seconds)
    assert list(got.date_times) == list(want.date_times)
    assert {k: v for k, v in got.meta.items() if k != "source"} == want.meta  # load_dataset adds the source


@pytest.mark.parametrize("settings", SIX, ids=[s.name for s in SIX])
def test_each_label_is_what_extracting_it_alone_gives(release, together, settings, tmp_path):
    out, datasets = together
    alone_out = tmp_path / "alone"
    alone = extract_release(release, alone_out, label=settings, executor=SERIAL, use_cache=False)
    _same_dataset(datasets[settings.name], alone)
    for suffix in (".pkl", ".parquet"):  # the files too, byte for byte
        assert (out / f"{settings.name}{suffix}").read_bytes() == (alone_out / f"{settings.name}{suffix}").read_bytes()
    _same_dataset(load_dataset(out / f"{settings.name}.pkl"), alone)


def test_the_labels_really_differ_in_rows_and_history(together):
    """Guards the test above: the labels differ where the one pass must keep them apart."""
    _, ds = together
    sizes = {name: len(d) for name, d in ds.items()}
    assert sizes["arousal"] > sizes["attention"] > sizes["valence"]  # voluntary added; empty answers dropped
    assert "P02" not in set(ds["stress"].group) and "P02" in set(ds["attention"].group)
    lik = [c for c in ds["attention"].X.columns if c.startswith("ESM#LIK#")]
    att, dist = ds["attention"], ds["disturbance"]
    assert not np.array_equal(att.X.loc[att.group == "P01", lik].to_numpy(), dist.X.loc[dist.group == "P01", lik].to_numpy())


def test_each_label_has_its_own_manifest_and_one_task_per_participant(together):
    out, ds = together
    names = [s.name for s in SIX]
    assert sorted(p.name for p in out.glob("*.manifest.json")) == sorted(f"{n}.manifest.json" for n in names)
    assert not (out / "manifest.json").exists()
    cache_entries = sorted(p.name.split("-")[0] for p in (out / ".cache").glob("*.npz"))
    assert cache_entries == ["P01", "P02"]  # one entry per participant, whatever the labels
    for name in names:
        m = json.loads((out / f"{name}.manifest.json").read_text())
        assert m["label"] == name == m["dataset"]["label"]["name"]
        assert m["files"] == {"pkl": f"{name}.pkl", "parquet": f"{name}.parquet"}
        assert m["counts"]["samples"] == len(ds[name])
        assert sorted(m["extracted_with"]) == sorted(set(names) - {name})
    stress = json.loads((out / "stress.manifest.json").read_text())
    assert "P02" in stress["skipped"] and "fewer than the minimum 4" in stress["skipped"]["P02"]


def test_a_lost_cache_entry_is_recomputed_and_the_others_read(release, together, tmp_path):
    import shutil

    out, first = together
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    for entry in (copy / ".cache").glob("P02-*.npz"):
        entry.unlink()  # as if the run had stopped before P02 finished
    resumed = extract_release_labels(release, copy, labels=SIX, executor=SERIAL)
    m = json.loads((copy / "attention.manifest.json").read_text())
    assert (m["cache"]["hits"], m["cache"]["misses"]) == (1, 1) and not m["participants"]["P02"]["cached"]
    for name in first:
        _same_dataset(resumed[name], first[name])
    # the key is the participant's prompt times, not the labels: arousal (every prompt with an
    # answer, voluntary ones too) needs exactly the six labels' union, so its entries serve it
    only = extract_release_labels(release, copy, labels=[SIX[1]], executor=SERIAL)
    m = json.loads((copy / "arousal.manifest.json").read_text())
    assert m["cache"]["hits"] == 2 and m["extracted_with"] == []
    _same_dataset(only["arousal"], first["arousal"])


def test_reference_mode_counts_history_by_prompt_time(release, tmp_path):
    labels = [SIX[1], SIX[3]]  # arousal (voluntary answers too) and stress
    ref = FeatureSettings(mode="reference")
    together = extract_release_labels(release, tmp_path / "both", labels=labels, features=ref, executor=SERIAL, use_cache=False)
    alone = extract_release(release, tmp_path / "one", label=SIX[3], features=ref, executor=SERIAL, use_cache=False)
    _same_dataset(together["stress"], alone)


def test_a_label_asked_twice_or_none_is_refused(release, tmp_path):
    with pytest.raises(KemoError, match="label stress is asked for twice"):
        extract_release_labels(release, tmp_path, labels=[SIX[3], LabelSettings(name="stress")], executor=SERIAL)
    with pytest.raises(KemoError, match="no label to extract"):
        extract_release_labels(release, tmp_path, labels=[], executor=SERIAL)
    with pytest.raises(KemoError, match=r"label valence, min_responses 500"):
        extract_release_labels(release, tmp_path, labels=[SIX[2], LabelSettings(name="valence", min_responses=500)],
                               executor=SERIAL)  # fmt: skip
    assert not list(tmp_path.iterdir())  # refused before any work
