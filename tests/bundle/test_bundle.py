"""export_bundle / load_bundle / Bundle: the manifest, the checks, explain."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading

import numpy as np
import pandas as pd
import pytest

from kemo_attention.bundle.export import export_bundle, save_bundle
from kemo_attention.bundle.runtime import (
    MANIFEST_KEYS,
    SKOPS_TRUSTED_TYPES,
    BundleError,
    installed_versions,
    load_bundle,
    manifest_path_for,
)
from kemo_attention.models.zoo import MODEL_NAMES, fit_pipeline, make_pipeline

from synthetic_features import make_dataset


def _manifest(path):
    return json.loads(manifest_path_for(path).read_text())


def test_export_writes_model_and_manifest(bundle_path, dataset):
    assert bundle_path.name == "attention-logreg.pkl"
    manifest_file = bundle_path.with_name("attention-logreg.manifest.json")
    assert manifest_file.exists()
    m = json.loads(manifest_file.read_text())
    assert set(MANIFEST_KEYS) <= set(m)
    assert m["model"] == "logreg" and m["format"] == "pickle"
    assert m["feature_names"] == list(dataset.X.columns)
    assert m["feature_mode"] == "causal"
    # the feature mode is recorded once (issue 10): "feature_mode", not again in feature_settings
    assert m["feature_mode"] == "causal" and "mode" not in m["feature_settings"] and m["feature_settings"]["tz_offset"] == "+09:00"
    assert m["label"]["name"] == "attention"
    assert m["cv_scores"] is None
    assert m["pkl_sha256"] == hashlib.sha256(bundle_path.read_bytes()).hexdigest()
    assert m["bundle_version"].endswith(m["pkl_sha256"][:8])
    for lib in ("python", "numpy", "pandas", "scikit-learn", "lightgbm", "xgboost", "imbalanced-learn", "kemo-attention"):
        assert m["versions"][lib], lib
    # no temp files left behind
    assert sorted(p.name for p in bundle_path.parent.iterdir()) == ["attention-logreg.manifest.json", "attention-logreg.pkl"]


def test_defaults_are_training_median_and_mode(bundle_path, dataset):
    m = _manifest(bundle_path)
    X = dataset.X
    for name in X.columns[:50].tolist() + ["HRT#VAL", "SCR#VAL=ON"]:
        col = X[name].to_numpy()
        if X[name].dtype == bool:
            assert m["feature_kinds"][name] == "bool"
            assert m["feature_defaults"][name] is (int(col.sum()) > len(col) - int(col.sum()))
        else:
            assert m["feature_kinds"][name] == "numeric"
            ordered = np.sort(col.astype(np.float64))
            mid = len(ordered) // 2
            median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
            assert m["feature_defaults"][name] == pytest.approx(median, abs=1e-12)


def test_data_sha256_of_input_file_or_of_x(tmp_path, small_kinds):
    kinds = small_kinds
    ds = make_dataset(kinds, n=120, seed=3)
    data_file = ds.save_pkl(tmp_path / "attention.pkl")
    with_file = export_bundle(ds, "dummy", tmp_path / "a", input_path=data_file)
    assert _manifest(with_file)["data_sha256"] == hashlib.sha256(data_file.read_bytes()).hexdigest()
    h1 = _manifest(export_bundle(ds, "dummy", tmp_path / "b"))["data_sha256"]
    h2 = _manifest(export_bundle(make_dataset(kinds, n=120, seed=3), "dummy", tmp_path / "c"))["data_sha256"]
    h3 = _manifest(export_bundle(make_dataset(kinds, n=120, seed=4), "dummy", tmp_path / "d"))["data_sha256"]
    assert h1 == h2 != h3


def test_label_name_and_cv_scores_from_leaderboard(tmp_path, small_kinds):
    ds = make_dataset(small_kinds, n=120, label="stress")
    eval_dir = tmp_path / "eval"
    eval_dir.mkdir()
    pd.DataFrame(
        {"model": ["dummy", "logreg"], "f1_macro_mean": [0.41, 0.58], "f1_macro_std": [0.02, float("nan")]}
    ).to_csv(eval_dir / "leaderboard.csv", index=False)
    (eval_dir / "manifest.json").write_text(json.dumps({"settings": {"oversample": False, "seed": 7}}))
    path = export_bundle(ds, "logreg", tmp_path / "out", eval_dir=eval_dir)
    assert path.name == "stress-logreg.pkl"
    m = _manifest(path)
    assert m["cv_scores"] == {"f1_macro_mean": 0.58, "f1_macro_std": None}
    assert m["label"]["name"] == "stress"
    with pytest.raises(BundleError, match="'rf' was not evaluated there"):
        export_bundle(ds, "rf", tmp_path / "out", eval_dir=eval_dir)
    with pytest.raises(BundleError, match="no leaderboard"):
        export_bundle(ds, "logreg", tmp_path / "out", eval_dir=tmp_path / "nothing")


def test_bad_export_arguments(tmp_path, dataset):
    with pytest.raises(BundleError, match="unknown model 'svm'"):
        export_bundle(dataset, "svm", tmp_path)
    with pytest.raises(BundleError, match="unknown bundle format 'json'"):
        export_bundle(dataset, "logreg", tmp_path, fmt="json")
    bad = make_dataset({"A": "numeric", "B": "numeric", "HRT#VAL": "numeric", "SCR#VAL=ON": "bool"}, n=40)
    bad.X.loc[7, "B"] = np.nan
    with pytest.raises(BundleError, match=r"1 feature column\(s\) hold NaN or infinite values \(first at row 7\): B"):
        export_bundle(bad, "logreg", tmp_path)
    bad.X["B"] = "text"
    with pytest.raises(BundleError, match="neither numeric nor bool: B"):
        export_bundle(bad, "logreg", tmp_path)
    assert not any(tmp_path.iterdir())


def test_unpicklable_pipeline_leaves_nothing(tmp_path, dataset):
    class Holder:
        lock = None

    holder = Holder()
    holder.lock = threading.Lock()  # cannot be pickled
    with pytest.raises(TypeError):
        save_bundle(holder, dataset, tmp_path / "out", model="logreg")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_loaded_bundle_predicts_like_the_pipeline_fitted_directly(bundle, dataset):
    X = dataset.X
    direct = make_pipeline("logreg", bool_columns=dataset.bool_columns, numeric_columns=dataset.numeric_columns)
    fit_pipeline(direct, X, dataset.y)
    expected = direct.predict_proba(X.iloc[:40])[:, 1]
    shuffled = X.iloc[:40][list(reversed(X.columns))]
    np.testing.assert_allclose(bundle.predict_proba(shuffled), expected, rtol=0, atol=1e-12)
    assert bundle.feature_mode == "causal"
    assert bundle.feature_names == list(X.columns)


def test_predict_proba_names_missing_columns(bundle, dataset):
    with pytest.raises(BundleError, match="1 of the bundle's .* features are missing from the input: HRT#VAL"):
        bundle.predict_proba(dataset.X.drop(columns=["HRT#VAL"]).iloc[:2])


def test_tampered_model_file_is_refused(tmp_path, bundle_path):
    copy = tmp_path / bundle_path.name
    data = bytearray(bundle_path.read_bytes())
    data[len(data) // 2] ^= 0x01
    copy.write_bytes(bytes(data))
    manifest_path_for(copy).write_text(manifest_path_for(bundle_path).read_text())
    with pytest.raises(BundleError, match=r"does not match the manifest.*re-export with `kemo-attention export`"):
        load_bundle(copy)


def test_missing_manifest_is_refused(tmp_path, bundle_path):
    copy = tmp_path / bundle_path.name
    copy.write_bytes(bundle_path.read_bytes())
    with pytest.raises(BundleError, match=r"attention-logreg.manifest.json: missing.*re-export"):
        load_bundle(copy)
    with pytest.raises(BundleError, match="no such bundle file"):
        load_bundle(tmp_path / "nope.pkl")


def test_version_mismatch_is_refused(tmp_path, bundle_path):
    copy = tmp_path / bundle_path.name
    copy.write_bytes(bundle_path.read_bytes())
    m = _manifest(bundle_path)
    m["versions"]["scikit-learn"] = "0.24.2"
    m["versions"]["numpy"] = "1.19.5"
    manifest_path_for(copy).write_text(json.dumps(m))
    have = installed_versions()
    with pytest.raises(BundleError) as err:
        load_bundle(copy)
    text = str(err.value)
    assert f"scikit-learn: bundle 0.24.2, installed {have['scikit-learn']}" in text
    assert f"numpy: bundle 1.19.5, installed {have['numpy']}" in text
    assert "re-export with `kemo-attention export`" in text
    # a patch-level difference is accepted
    major, minor, *_ = have["scikit-learn"].split(".")
    m["versions"]["scikit-learn"] = f"{major}.{minor}.999"
    m["versions"]["numpy"] = have["numpy"]
    manifest_path_for(copy).write_text(json.dumps(m))
    assert load_bundle(copy).manifest["versions"]["scikit-learn"].endswith(".999")


def test_load_by_manifest_path(bundle_path):
    loaded = load_bundle(manifest_path_for(bundle_path))
    assert loaded.path == bundle_path


def test_explain_effects_are_changes_to_the_default(bundle, dataset):
    row = dataset.X.iloc[[5]]
    top = bundle.explain(row, top=5)
    assert 0 < len(top) <= 5
    effects = [abs(e) for _, e in top]
    assert effects == sorted(effects, reverse=True)
    used = set(bundle.used_features())
    assert used < set(bundle.feature_names)  # the L1 selector dropped most features
    base = bundle.predict_proba(row)[0]
    for name, effect in top:
        assert name in used
        changed = row.copy()
        changed[name] = bundle.manifest["feature_defaults"][name]
        changed = changed.astype(row.dtypes.to_dict())
        assert effect == pytest.approx(base - bundle.predict_proba(changed)[0], abs=1e-9)
    # the signal feature dominates this synthetic label
    assert "HRT#VAL" in [n for n, _ in bundle.explain(row, top=3)]


def test_skops_round_trip(tmp_path, small_kinds):
    pytest.importorskip("skops")
    ds = make_dataset(small_kinds, n=120)
    path = export_bundle(ds, "lgbm", tmp_path, fmt="skops")
    assert path.suffix == ".skops"
    loaded = load_bundle(path)
    assert loaded.manifest["format"] == "skops" and loaded.manifest["versions"]["skops"]
    as_pickle = load_bundle(export_bundle(ds, "lgbm", tmp_path / "pkl"))
    np.testing.assert_allclose(loaded.predict_proba(ds.X.iloc[:20]), as_pickle.predict_proba(ds.X.iloc[:20]), rtol=0, atol=1e-12)


def test_skops_refuses_untrusted_types(tmp_path, small_kinds):
    sio = pytest.importorskip("skops.io")
    from sklearn.preprocessing import FunctionTransformer

    path = export_bundle(make_dataset(small_kinds, n=120), "dummy", tmp_path, fmt="skops")
    evil = FunctionTransformer(np.load)  # not a type any of our pipelines holds
    evil.fit(np.zeros((2, 2)))
    payload = sio.dumps(evil)
    path.write_bytes(payload)
    m = _manifest(path)
    m["pkl_sha256"] = hashlib.sha256(payload).hexdigest()  # a forger can update the hash too
    manifest_path_for(path).write_text(json.dumps(m))
    with pytest.raises(BundleError, match=r"types this tool does not trust \(numpy.*load"):
        load_bundle(path)


def test_skops_trusted_list_covers_every_model(small_kinds):
    sio = pytest.importorskip("skops.io")
    ds = make_dataset(small_kinds, n=120)
    found = set()
    for name in MODEL_NAMES:
        for oversample in (False, True):
            pipe = make_pipeline(name, bool_columns=ds.bool_columns, numeric_columns=ds.numeric_columns,
                                 oversample=oversample, fast=True)
            fit_pipeline(pipe, ds.X, ds.y, groups=ds.group)
            found |= set(sio.get_untrusted_types(data=sio.dumps(pipe)))
    assert found <= set(SKOPS_TRUSTED_TYPES), sorted(found - set(SKOPS_TRUSTED_TYPES))


# ----------------------------------------------------------------------------- --sha256
def test_expected_sha256_refuses_any_other_file_even_with_a_matching_manifest(tmp_path, bundle_path, small_kinds):
    wanted = hashlib.sha256(bundle_path.read_bytes()).hexdigest()  # what `sha256sum` prints
    assert load_bundle(bundle_path, expected_sha256=wanted).manifest["pkl_sha256"] == wanted
    assert load_bundle(bundle_path, expected_sha256=wanted.upper()).path == bundle_path
    # another bundle, consistent with its own manifest: only the expected hash tells them apart
    other = export_bundle(make_dataset(small_kinds, n=120), "dummy", tmp_path / "other")
    assert load_bundle(other).manifest["model"] == "dummy"
    with pytest.raises(BundleError, match=rf"attention-dummy.pkl: SHA-256 [0-9a-f]{{16}}\.\.\. is not the expected "
                                          rf"{wanted[:16]}\.\.\. \(--sha256 / KEMO_BUNDLE_SHA256\)"):
        load_bundle(other, expected_sha256=wanted)


@pytest.mark.parametrize("bad", ["", "abc", "g" * 64, "0" * 63, "0" * 65])
def test_expected_sha256_must_be_64_hex_characters(bundle_path, bad):
    with pytest.raises(BundleError, match="expected the bundle file's SHA-256 as 64 hexadecimal characters"):
        load_bundle(bundle_path, expected_sha256=bad)


_OPENED: list[str] | None = None


def _record_opens(event, args):
    if event == "open" and _OPENED is not None and isinstance(args[0], (str, bytes, os.PathLike)):
        _OPENED.append(os.fsdecode(args[0]))


def test_the_bytes_hashed_are_the_bytes_loaded(bundle_path):
    """The model file is opened once: hashing one read and unpickling a second one would let
    a file swapped in between be loaded unchecked."""
    global _OPENED
    sys.addaudithook(_record_opens)  # audit hooks stay for the process; this one only records while _OPENED is a list
    expected = hashlib.sha256(bundle_path.read_bytes()).hexdigest()
    _OPENED = []
    try:
        load_bundle(bundle_path, expected_sha256=expected)
        opened = [p for p in _OPENED if os.path.realpath(p) == os.path.realpath(bundle_path)]
    finally:
        _OPENED = None
    assert len(opened) == 1, opened


def test_raw_features_come_from_the_extraction_metadata(tmp_path, kinds, small_kinds, bundle_path):
    # the full layout with extraction's layout hash: servable from raw records
    assert _manifest(bundle_path)["raw_features"] is True
    # other columns (no hash recorded): not servable from raw records
    assert _manifest(export_bundle(make_dataset(small_kinds, n=120), "dummy", tmp_path / "small"))["raw_features"] is False
    # the layout's columns, but a hash claiming another layout (e.g. columns reordered after extraction)
    ds = make_dataset(kinds, n=120)
    ds.meta["feature_layout_hash"] = "0" * 16
    assert _manifest(export_bundle(ds, "dummy", tmp_path / "other"))["raw_features"] is False
