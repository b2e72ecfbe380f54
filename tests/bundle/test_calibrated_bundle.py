"""export --calibrate: the bundle returns calibrator(raw pipeline probability), its manifest
says how, the fast path agrees, and uncalibrated bundles are as before."""

from __future__ import annotations

import json
from pathlib import Path
from functools import partial

import numpy as np
import pytest
from scipy.special import expit, logit

from kemo_attention.bundle.export import export_bundle
from kemo_attention.bundle.runtime import BundleError, load_bundle, manifest_path_for
from kemo_attention.cli import run
from kemo_attention.errors import KemoError
from kemo_attention.models.calibration import CALIBRATION_METHODS, fit_calibrator, grouped_inner_oof
from kemo_attention.models.fastpath import CalibratedFastPath
from kemo_attention.models.zoo import make_pipeline

from synthetic_features import make_dataset


@pytest.fixture(scope="module")
def small(small_kinds):
    return make_dataset(small_kinds, n=200, seed=11)


@pytest.fixture(scope="module")
def calibrated(small, tmp_path_factory):
    """One calibrated lgbm bundle per method (lgbm: the fast path's booster route)."""
    out = tmp_path_factory.mktemp("calibrated")
    return {m: export_bundle(small, "lgbm", out, calibrate=m) for m in CALIBRATION_METHODS}


def _by_manifest(calibration: dict, raw: np.ndarray) -> np.ndarray:
    """The map written out from the manifest's numbers alone (schemas.CalibrationInfo's formulas)."""
    params = calibration["parameters"]
    if calibration["method"] == "sigmoid":
        clip = params["logit_clip"]
        return expit(params["slope"] * logit(np.clip(raw, clip, 1 - clip)) + params["intercept"])
    return np.interp(raw, params["x_thresholds"], params["y_thresholds"])


@pytest.mark.parametrize("method", CALIBRATION_METHODS)
def test_calibrated_bundle_returns_calibrator_of_raw_proba(method, calibrated, small):
    path = calibrated[method]
    assert path.name == f"attention-lgbm-{method}.pkl"
    bundle = load_bundle(path)
    assert isinstance(bundle.fast, CalibratedFastPath)  # the load-time check passed
    raw = bundle.pipeline.estimator_.predict_proba(small.X)[:, 1]
    expected = bundle.pipeline.calibrator_.transform(raw)
    got = bundle.predict_proba(small.X)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(bundle.fast.predict_proba(small.X.to_numpy(dtype=np.float64)), expected, rtol=0, atol=1e-12)
    # the manifest's numbers are the map in use
    np.testing.assert_allclose(got, _by_manifest(bundle.calibration, raw), rtol=0, atol=1e-12)
    assert not np.allclose(got, raw, atol=1e-3)  # calibration did change the probabilities
    # explain and used_features look through the calibration to the fitted pipeline
    assert set(bundle.used_features()) >= {"HRT#VAL"}


@pytest.mark.parametrize("method", CALIBRATION_METHODS)
def test_manifest_records_the_calibration_fitted_on_grouped_inner_folds(method, calibrated, small):
    manifest = json.loads(manifest_path_for(calibrated[method]).read_text())
    cal = manifest["calibration"]
    assert (cal["method"], cal["inner_splits"], cal["seed"], cal["n_samples"]) == (method, 3, 42, len(small.y))
    # refit here from the parts: out-of-fold probabilities of grouped inner folds of all samples
    factory = partial(make_pipeline, "lgbm", bool_columns=small.bool_columns, numeric_columns=small.numeric_columns)
    oof = grouped_inner_oof(factory, small.X, small.y, small.group, n_splits=3, seed=42)
    again = fit_calibrator(oof, small.y, method).describe()["parameters"]
    assert again.keys() == cal["parameters"].keys()
    for key, value in again.items():  # through JSON: floats survive exactly
        np.testing.assert_array_equal(value, cal["parameters"][key])


def test_uncalibrated_bundles_are_unchanged(bundle_path, bundle, dataset):
    manifest = json.loads(manifest_path_for(bundle_path).read_text())
    assert manifest["calibration"] is None and bundle.calibration is None
    assert bundle_path.name == "attention-logreg.pkl"
    assert not isinstance(bundle.fast, CalibratedFastPath)
    np.testing.assert_allclose(bundle.predict_proba(dataset.X.iloc[:30]),
                               bundle.pipeline.predict_proba(dataset.X.iloc[:30])[:, 1], rtol=0, atol=1e-12)


def test_bundles_made_before_calibration_was_recorded_still_load(tmp_path, small):
    path = export_bundle(small, "dummy", tmp_path)
    manifest = json.loads(manifest_path_for(path).read_text())
    del manifest["calibration"]
    manifest_path_for(path).write_text(json.dumps(manifest))
    assert load_bundle(path).calibration is None


def test_manifest_and_model_file_must_agree_on_calibration(tmp_path, calibrated):
    import shutil

    for name in ("attention-lgbm-sigmoid.pkl", "attention-lgbm-sigmoid.manifest.json"):
        shutil.copy(calibrated["sigmoid"].with_name(name), tmp_path / name)
    path = tmp_path / "attention-lgbm-sigmoid.pkl"
    manifest = json.loads(manifest_path_for(path).read_text())
    manifest["calibration"] = None
    manifest_path_for(path).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="holds a calibration map but the manifest's calibration is null"):
        load_bundle(path)
    manifest["calibration"] = {"method": "isotonic"}
    manifest_path_for(path).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="records 'isotonic' calibration but the model file holds 'sigmoid'"):
        load_bundle(path)


def test_calibration_errors(tmp_path, small, small_kinds):
    with pytest.raises(BundleError, match="unknown calibration 'beta'; expected one of sigmoid, isotonic"):
        export_bundle(small, "logreg", tmp_path, calibrate="beta")
    few = make_dataset(small_kinds, n=40, seed=1)
    few.group[:] = np.where(np.arange(40) < 20, "P01", "P02")
    with pytest.raises(KemoError, match="3 inner folds need at least 3 participants, but the training rows hold 2"):
        export_bundle(few, "logreg", tmp_path, calibrate="sigmoid")
    assert not any(tmp_path.iterdir())  # nothing written


def test_skops_calibrated_round_trip(tmp_path, small, calibrated):
    pytest.importorskip("skops")
    path = export_bundle(small, "lgbm", tmp_path, fmt="skops", calibrate="isotonic")
    assert path.name == "attention-lgbm-isotonic.skops"
    loaded = load_bundle(path)
    assert isinstance(loaded.fast, CalibratedFastPath)
    as_pickle = load_bundle(calibrated["isotonic"])
    np.testing.assert_allclose(loaded.predict_proba(small.X), as_pickle.predict_proba(small.X), rtol=0, atol=1e-12)


def test_export_cli_calibrate(tmp_path, small, capsys):
    data = small.save_pkl(tmp_path / "attention.pkl")
    code = run(["export", str(data), "--model", "logreg", "--out", str(tmp_path / "m"), "--calibrate", "sigmoid",
                "--calibration-splits", "4"])  # fmt: skip
    assert code == 0, capsys.readouterr()
    bundle = load_bundle(tmp_path / "m" / "attention-logreg-sigmoid.pkl")
    assert bundle.calibration["method"] == "sigmoid" and bundle.calibration["inner_splits"] == 4
    assert run(["export", str(data), "--out", str(tmp_path / "x"), "--calibrate", "platt"]) == 2
    assert "platt" in capsys.readouterr().err



def test_export_warns_when_the_sigmoid_map_flattens_or_reverses_the_ranking(tmp_path, monkeypatch, capsys):
    """A slope <= 0 means the model's order did not hold on held-out participants: say so.
    (The fit itself is tested above; here only what `export` tells the user about it.)"""
    import json as _json
    import sys

    from kemo_attention import cli
    from kemo_attention.bundle import export as export_module
    from kemo_attention.bundle.runtime import manifest_path_for

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluate"))
    from eval_synthetic import synthetic_dataset

    data = synthetic_dataset(seed=3).save_pkl(tmp_path / "mine.pkl")

    def fake_export(dataset, model, out, **kwargs):
        path = tmp_path / "attention-logreg-sigmoid.pkl"
        path.write_bytes(b"")
        manifest_path_for(path).write_text(_json.dumps({"calibration": {"method": "sigmoid", "parameters": {"slope": SLOPE[0]}}}))
        return path

    monkeypatch.setattr(export_module, "export_bundle", fake_export)
    SLOPE = [-0.17]
    assert cli.run(["export", str(data), "--model", "logreg", "--calibrate", "sigmoid", "--out", str(tmp_path)]) == 0
    assert "slope is -0.170 (<= 0)" in capsys.readouterr().err
    SLOPE[0] = 0.8
    assert cli.run(["export", str(data), "--model", "logreg", "--calibrate", "sigmoid", "--out", str(tmp_path)]) == 0
    assert "warning" not in capsys.readouterr().err
