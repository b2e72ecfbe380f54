"""Dataset files: the three pkl shapes users have, our Parquet, and clear refusals."""

import pickle

import numpy as np
import pandas as pd
import pytest

from kemo_attention.dataset import Dataset, DatasetFormatError, dataset_from_object, load_dataset


def _parts(n=12):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "bpm#AVG#60": rng.normal(70, 5, n).astype("float32"),
            "SCR#VAL=ON": rng.random(n) > 0.5,
        }
    )
    y = np.arange(n) % 2
    group = np.array([f"P{i % 3 + 1:02d}" for i in range(n)])
    t = np.arange(n, dtype=float) * 3600.0
    date_times = np.array(pd.date_range("2019-05-01 09:00", periods=n, freq="h", tz="+09:00").to_pydatetime())
    return X, y, group, t, date_times


@pytest.mark.parametrize("shape", ["tuple5", "tuple4", "dict"])
def test_each_pickle_shape_loads(tmp_path, shape):
    X, y, group, t, dts = _parts()
    obj = {
        "tuple5": (X, y, group, t, dts),
        "tuple4": (X, y, group, t),
        "dict": {"X": X, "y": y, "group": group, "t": t},
    }[shape]
    path = tmp_path / "attention.pkl"
    path.write_bytes(pickle.dumps(obj))
    ds = load_dataset(path)
    assert list(ds.X.columns) == ["bpm#AVG#60", "SCR#VAL=ON"]
    assert ds.y.tolist() == y.tolist()
    assert ds.group.tolist() == group.tolist()
    assert ds.bool_columns == ["SCR#VAL=ON"]
    assert ds.feature_mode == "unknown"


def test_saved_pkl_is_the_reference_tuple(tmp_path):
    ds = Dataset(*_parts())
    path = ds.save_pkl(tmp_path / "attention.pkl")
    obj = pickle.loads(path.read_bytes())
    assert isinstance(obj, tuple) and len(obj) == 5
    pd.testing.assert_frame_equal(obj[0], ds.X)


def test_parquet_round_trip_keeps_arrays_and_meta(tmp_path):
    ds = Dataset(*_parts(), meta={"feature_mode": "causal"})
    back = load_dataset(ds.save_parquet(tmp_path / "attention.parquet"))
    pd.testing.assert_frame_equal(back.X, ds.X)
    assert back.y.tolist() == ds.y.tolist()
    assert back.group.tolist() == ds.group.tolist()
    np.testing.assert_allclose(back.day_seconds, ds.day_seconds)
    assert back.feature_mode == "causal"
    assert back.X["SCR#VAL=ON"].dtype == bool


@pytest.mark.parametrize(
    "obj, message",
    [
        ((1, 2, 3), "tuple .* got a tuple of 3 items"),
        ({"X": pd.DataFrame({"a": [1.0]}), "y": [1]}, "missing group"),
        ("not data", "got str"),
        ((np.zeros((2, 2)), [0, 1], ["P1", "P2"], [0.0, 1.0]), "X must be a pandas DataFrame"),
    ],
)
def test_bad_shapes_are_refused_with_a_reason(obj, message):
    with pytest.raises(DatasetFormatError, match=message):
        dataset_from_object(obj)


def test_labels_must_be_binary_and_lengths_match():
    X, y, group, t, _ = _parts()
    with pytest.raises(DatasetFormatError, match="0/1"):
        Dataset(X, y + 2, group)
    with pytest.raises(DatasetFormatError, match="group has 3 entries but X has 12 rows"):
        Dataset(X, y, group[:3])


def test_unreadable_pickle_names_the_file(tmp_path):
    path = tmp_path / "broken.pkl"
    path.write_bytes(b"\x80\x05garbage")
    with pytest.raises(DatasetFormatError, match="broken.pkl: not a readable pickle"):
        load_dataset(path)


# ------------------------------------------------------------------ the file's manifest
def _write_with_manifest(folder, label="stress", **changes):
    import hashlib
    import json

    X, y, group, t, dts = _parts()
    path = Dataset(X, y, group, t, dts).save_pkl(folder / f"{label}.pkl")
    manifest = {
        "label": label,
        "dataset": {"feature_mode": "causal", "label": {"name": label}},
        "files": {"pkl": path.name, "parquet": f"{label}.parquet"},
        "sha256": {"pkl": hashlib.sha256(path.read_bytes()).hexdigest(), "parquet": None},
    }
    manifest.update(changes)
    (folder / f"{label}.manifest.json").write_text(json.dumps(manifest))
    return path


def test_a_pkl_takes_mode_and_label_from_its_own_manifest(tmp_path):
    from kemo_attention.dataset import check_feature_manifest, feature_manifest_path

    path = _write_with_manifest(tmp_path)
    assert feature_manifest_path(path).name == "stress.manifest.json"
    assert feature_manifest_path(tmp_path / "stress.parquet").name == "stress.manifest.json"
    ds = load_dataset(path)
    assert ds.label == "stress" and ds.feature_mode == "causal"
    assert check_feature_manifest(path)["label"] == "stress"  # what `study` can call on its own


def test_a_pkl_whose_hash_is_not_the_manifests_is_refused(tmp_path):
    path = _write_with_manifest(tmp_path, sha256={"pkl": "0" * 64})
    with pytest.raises(DatasetFormatError, match=r"stress\.pkl: content differs from what stress\.manifest\.json records") as info:
        load_dataset(path)
    assert "\n" not in str(info.value) and "re-run `kemo-attention extract`" in str(info.value)


def test_a_manifest_json_of_another_kind_is_not_read_as_the_files(tmp_path):
    """An eval folder's manifest.json (no files section) says nothing about a pkl beside it."""
    import json

    X, y, group, t, dts = _parts()
    path = Dataset(X, y, group, t, dts).save_pkl(tmp_path / "attention.pkl")
    (tmp_path / "manifest.json").write_text(json.dumps({"settings": {"seed": 1}, "dataset": {"label": "stress"}}))
    assert load_dataset(path).feature_mode == "unknown"
