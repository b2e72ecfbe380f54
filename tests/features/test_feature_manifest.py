"""One manifest per feature file, and the verbs refuse a file its manifest does not describe.

The bug this guards against: extracting a second label into the same folder used to
overwrite the folder's one ``manifest.json``, so ``export attention.pkl`` then built a bundle
labelled with the second label. Each file now has ``<label>.manifest.json`` (label and
SHA-256), and a swapped or edited file is refused with one line and a non-zero exit.
"""

from __future__ import annotations

import json
import shutil

import cloudpickle
import pytest
from tiny_release import write_release

from kemo_attention import cli
from kemo_attention.dataset import DatasetFormatError, load_dataset


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return write_release(tmp_path_factory.mktemp("rel"), participants=2, days=0.1, prompts_per_day=60, seed=5)


@pytest.fixture
def run(capsys):
    """``run(*args)`` -> (exit code, stdout, stderr) of the CLI, in this process."""

    def go(*args):
        code = cli.run([str(a) for a in args])
        got = capsys.readouterr()
        return code, got.out, got.err

    return go


@pytest.fixture(scope="module")
def folder(release, tmp_path_factory):
    """attention extracted into F, then stress into the same F: the order that used to break."""
    out = tmp_path_factory.mktemp("F")
    for label in ("attention", "stress"):
        assert cli.run(["extract", str(release), "--out", str(out), "--label", label, "--min-responses", "4", "--quiet"]) == 0
    return out


@pytest.fixture
def copy(folder, tmp_path):
    target = tmp_path / "F"
    shutil.copytree(folder, target, ignore=shutil.ignore_patterns(".cache"))
    return target


def test_a_second_label_keeps_the_first_files_label(folder, run, tmp_path):
    names = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    assert names == ["attention.manifest.json", "attention.parquet", "attention.pkl",
                     "stress.manifest.json", "stress.parquet", "stress.pkl"]  # fmt: skip
    code, out, err = run("export", folder / "attention.pkl", "--model", "logreg", "--out", tmp_path / "models")
    assert code == 0, err
    bundle_manifest = json.loads((tmp_path / "models" / "attention-logreg.manifest.json").read_text())
    assert bundle_manifest["label"]["name"] == "attention"
    assert load_dataset(folder / "stress.pkl").label == "stress"
    assert load_dataset(folder / "stress.parquet").label == "stress"


@pytest.mark.parametrize("verb", ["export", "evaluate"])
def test_a_pkl_swapped_for_another_labels_is_refused(copy, run, verb, tmp_path):
    shutil.copy(copy / "stress.pkl", copy / "attention.pkl")
    args = ["--model", "logreg", "--out", tmp_path / "m"] if verb == "export" else ["--models", "logreg", "--out", tmp_path / "e"]
    code, out, err = run(verb, copy / "attention.pkl", *args)
    assert code == 2  # an input error, like every other refused input
    (line,) = err.strip().splitlines()
    assert f"{copy / 'attention.pkl'}: content differs from what attention.manifest.json records" in line
    assert "re-run `kemo-attention extract`" in line
    assert not (tmp_path / "m").exists() and not (tmp_path / "e").exists()


def test_an_edited_pkl_or_parquet_is_refused(copy):
    ds = load_dataset(copy / "attention.pkl")
    X = ds.X.copy()
    X.iloc[0, 0] = X.iloc[0, 0] + 1
    with open(copy / "attention.pkl", "wb") as f:
        cloudpickle.dump((X, ds.y, ds.group, ds.day_seconds, ds.date_times), f)
    with pytest.raises(DatasetFormatError, match=r"attention\.pkl: content differs .*replaced or edited after extraction"):
        load_dataset(copy / "attention.pkl")
    shutil.copy(copy / "stress.parquet", copy / "attention.parquet")
    with pytest.raises(DatasetFormatError, match=r"attention\.parquet: content differs"):
        load_dataset(copy / "attention.parquet")


def test_a_manifest_of_another_file_or_label_is_refused(copy):
    shutil.copy(copy / "stress.manifest.json", copy / "attention.manifest.json")
    with pytest.raises(DatasetFormatError, match=r"attention\.pkl: attention\.manifest\.json describes 'stress\.pkl', not this file"):
        load_dataset(copy / "attention.pkl")
    # the stress files under the attention name, manifest and all: the name is the only lie
    for suffix in (".pkl", ".parquet"):
        shutil.copy(copy / f"stress{suffix}", copy / f"attention{suffix}")
    manifest = json.loads((copy / "stress.manifest.json").read_text())
    manifest["files"] = {"pkl": "attention.pkl", "parquet": "attention.parquet"}
    (copy / "attention.manifest.json").write_text(json.dumps(manifest))
    assert load_dataset(copy / "attention.pkl").label == "stress"  # consistent: labelled what it holds
    manifest["label"] = "attention"  # a manifest whose label is not its dataset's
    (copy / "attention.manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetFormatError, match="its manifest says label attention, attention.manifest.json says stress"):
        load_dataset(copy / "attention.pkl")
    (copy / "attention.manifest.json").write_text("{not json")
    with pytest.raises(DatasetFormatError, match=r"attention\.manifest\.json: not readable JSON"):
        load_dataset(copy / "attention.pkl")


def test_a_file_without_manifest_is_the_users_own(copy):
    (copy / "attention.manifest.json").unlink()
    ds = load_dataset(copy / "attention.pkl")
    assert ds.feature_mode == "unknown" and len(ds) > 0
    shutil.copy(copy / "stress.pkl", copy / "mine.pkl")
    assert load_dataset(copy / "mine.pkl").feature_mode == "unknown"


def test_an_older_folders_manifest_serves_the_file_it_names_only(copy):
    """Before per-file manifests: one manifest.json per folder, no hashes, the last label's."""
    old = json.loads((copy / "stress.manifest.json").read_text())
    for key in ("label", "sha256", "extracted_with"):
        old.pop(key)
    (copy / "manifest.json").write_text(json.dumps(old))
    for name in ("attention", "stress"):
        (copy / f"{name}.manifest.json").unlink()
    assert load_dataset(copy / "stress.pkl").label == "stress"
    with pytest.raises(DatasetFormatError, match=r"attention\.pkl: manifest\.json beside it describes stress\.pkl \(label stress\), not this file"):
        load_dataset(copy / "attention.pkl")
    shutil.copy(copy / "attention.pkl", copy / "mine.pkl")  # a file of one's own, not named like a label
    assert load_dataset(copy / "mine.pkl").feature_mode == "unknown"


def test_extract_takes_several_labels_and_all(release, run, tmp_path):
    code, out, err = run("extract", release, "--out", tmp_path / "two", "--label", "attention, stress", "--min-responses", "4", "--quiet")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "two").glob("*.manifest.json")) == ["attention.manifest.json", "stress.manifest.json"]
    assert out.count("samples x 3356 features") == 2 and out.startswith("attention: ")
    code, out, err = run("extract", release, "--out", tmp_path / "x", "--label", "attention,mood")
    assert code == 2 and err.strip().splitlines() == [
        "error: --label: expected label names from valence, arousal, attention, stress, disturbance, change "
        "(comma-separated) or all; got 'mood'"
    ]
    code, out, err = run("extract", "--help")
    assert "comma-separated" in out and "all" in out
