"""Export: fit a model of the zoo on every sample and write it as a bundle.

The bundle's format, and loading it, are :mod:`kemo_attention.bundle.runtime`'s; this
module only makes bundles: fitting on all rows (:func:`export_bundle`), reading the model's
cross-validated scores from an ``evaluate`` folder, and writing the two files
(:func:`save_bundle`). Whether the columns can be computed from raw records (``/predict/raw``,
the dashboard's Try it) is read from the feature file's metadata, which extraction records.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import pickle
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kemo_attention.bundle.runtime import (
    FORMATS,
    MANIFEST_SUFFIX,
    SKOPS_TRUSTED_TYPES,
    BundleError,
    _head,
    _SUFFIX,
    installed_versions,
)
from kemo_attention.config import DEFAULT_TZ_OFFSET
from kemo_attention.dataset import Dataset
from kemo_attention.files import atomic_write, file_sha256


def export_bundle(
    dataset: Dataset,
    model: str,
    out_dir: str | Path,
    *,
    eval_dir: str | Path | None = None,
    fmt: str = "pickle",
    input_path: str | Path | None = None,
    calibrate: str | None = None,
    calibration_splits: int = 3,
) -> Path:
    """Fit ``make_pipeline(model)`` on every sample of ``dataset`` and write the bundle.

    Writes ``<out_dir>/<label>-<model>.pkl`` (``.skops`` with ``fmt="skops"``) and
    ``<label>-<model>.manifest.json``, each atomically; returns the model file's path.
    ``eval_dir`` (an ``evaluate`` output folder) supplies the model's cross-validated scores
    (its leaderboard row) and the oversampling/seed settings it was evaluated with.
    ``input_path`` is the feature file the dataset came from; its SHA-256 goes in the manifest.

    ``calibrate`` ("sigmoid" or "isotonic") makes the bundle return calibrated probabilities:
    the map is fitted on out-of-fold probabilities of ``calibration_splits`` participant-grouped
    inner folds of these samples (participants from the dataset's ``group``), the pipeline
    itself on every sample (:class:`~kemo_attention.models.calibration.CalibratedPipeline`).
    Such a bundle is named ``<label>-<model>-<method>``, so it can sit beside the plain one.
    """
    from kemo_attention.models.calibration import CALIBRATION_METHODS, CalibratedPipeline
    from kemo_attention.models.zoo import MODEL_NAMES, describe_model, fit_pipeline, make_pipeline

    if model not in MODEL_NAMES:
        raise BundleError(f"unknown model {model!r}; expected one of {', '.join(MODEL_NAMES)}")
    if fmt not in FORMATS:
        raise BundleError(f"unknown bundle format {fmt!r}; expected pickle or skops")
    if calibrate is not None and calibrate not in CALIBRATION_METHODS:
        raise BundleError(f"unknown calibration {calibrate!r}; expected one of {', '.join(CALIBRATION_METHODS)}")
    if len(np.unique(dataset.y)) < 2:
        raise BundleError("the dataset holds one class only; a classifier needs samples of both labels 0 and 1")
    _check_features(dataset.X)
    cv_scores, settings = (None, {})
    if eval_dir is not None:
        cv_scores, settings = _cv_scores(Path(eval_dir), model)
    dtypes = dataset.X.dtypes
    pipeline = make_pipeline(
        model,
        bool_columns=[str(c) for c, t in dtypes.items() if t == bool],
        numeric_columns=[str(c) for c, t in dtypes.items() if t != bool],
        oversample=bool(settings.get("oversample", False)),
        random_state=int(settings.get("seed", 42)),
    )
    # groups reach EvXGB's participant-grouped early-stopping split; other models ignore them
    if calibrate is None:
        fitted = fit_pipeline(pipeline, dataset.X, dataset.y, groups=dataset.group)
    else:
        seed = int(settings.get("seed", 42))
        fitted = CalibratedPipeline(pipeline, method=calibrate, n_splits=calibration_splits, seed=seed)
        fitted.fit(dataset.X, dataset.y, groups=dataset.group)
    return save_bundle(
        fitted, dataset, out_dir, model=model, description=describe_model(model), fmt=fmt,
        input_path=input_path, cv_scores=cv_scores, cv_source=str(eval_dir) if eval_dir is not None else None,
    )


def _check_features(X: pd.DataFrame) -> None:
    """Columns a model can be fitted on: bool or numeric, finite values only."""
    dtypes = X.dtypes
    odd = [str(c) for c, t in dtypes.items() if t != bool and not pd.api.types.is_numeric_dtype(t)]
    if odd:
        raise BundleError(
            f"{len(odd)} feature column(s) are neither numeric nor bool: {_head(odd, 10)} "
            f"(dtype {dtypes[odd[0]]}); convert or drop them before exporting"
        )
    num = [c for c, t in dtypes.items() if t != bool]
    if num:
        finite = np.isfinite(X[num].to_numpy(dtype=np.float64))
        if not finite.all():
            bad_cols = [str(num[j]) for j in np.flatnonzero(~finite.all(axis=0))]
            row = int(np.flatnonzero(~finite.all(axis=1))[0])
            raise BundleError(
                f"{len(bad_cols)} feature column(s) hold NaN or infinite values (first at row {row}): "
                f"{_head(bad_cols, 10)}; fill them (extracted features never hold any) before exporting"
            )


def save_bundle(
    pipeline: Any,
    dataset: Dataset,
    out_dir: str | Path,
    *,
    model: str,
    description: str = "",
    fmt: str = "pickle",
    input_path: str | Path | None = None,
    cv_scores: dict | None = None,
    cv_source: str | None = None,
) -> Path:
    """Write an already fitted ``pipeline`` trained on ``dataset`` as a bundle.

    A :class:`~kemo_attention.models.calibration.CalibratedPipeline` is recorded as such: the
    manifest's ``calibration`` is its :meth:`describe` (null for a plain pipeline) and the
    files are named ``<label>-<model>-<method>``.
    """
    from kemo_attention.models.calibration import CalibratedPipeline

    if fmt not in FORMATS:
        raise BundleError(f"unknown bundle format {fmt!r}; expected pickle or skops")
    label_meta = dataset.meta.get("label")
    label = dict(label_meta) if isinstance(label_meta, dict) else {}
    label["name"] = dataset.label
    out_dir = Path(out_dir)
    calibration = pipeline.describe() if isinstance(pipeline, CalibratedPipeline) else None
    stem = f"{dataset.label}-{model}" + (f"-{calibration['method']}" if calibration else "")
    model_path = out_dir / (stem + _SUFFIX[fmt])
    manifest_path = out_dir / (stem + MANIFEST_SUFFIX)

    payload = _serialize(pipeline, fmt)
    pkl_sha = hashlib.sha256(payload).hexdigest()
    created = datetime.now(timezone.utc)
    X = dataset.X
    kinds = {str(c): ("bool" if t == bool else "numeric") for c, t in X.dtypes.items()}
    versions = installed_versions()
    if fmt == "skops":
        from importlib.metadata import version

        versions["skops"] = version("skops")
    feature_mode = dataset.feature_mode
    raw = dataset.raw_computable
    manifest = {
        "model": model,
        "model_description": description,
        "bundle_version": f"{stem}-{created:%Y%m%dT%H%M%SZ}-{pkl_sha[:8]}",
        "created": created.isoformat(timespec="seconds"),
        "feature_names": list(X.columns),
        "feature_kinds": kinds,
        "feature_defaults": _defaults(X, kinds),
        "numeric_dtype": _numeric_dtype(X, kinds),
        "label": label,
        "feature_mode": feature_mode,
        # FeatureSettings without its mode: the mode is recorded once, as "feature_mode"
        "feature_settings": {
            "coverage": bool(dataset.meta.get("coverage", False)),
            "tz_offset": str(dataset.meta.get("tz_offset") or DEFAULT_TZ_OFFSET),
            # only when not the default, so reference bundles keep the settings they had
            **({"feature_set": str(dataset.meta["feature_set"])}
               if dataset.meta.get("feature_set", "reference") != "reference" else {}),
        },
        # True when the columns are exactly what extraction computes from raw data (its
        # metadata says so), i.e. when /predict/raw and Try it can serve this bundle.
        "raw_features": raw,
        "cv_scores": cv_scores,
        "cv_source": cv_source,
        # null: the model's own probabilities; else how they are calibrated (method, inner
        # folds, the fitted map). cv_scores are the evaluation's, of the uncalibrated model.
        "calibration": calibration,
        "data_sha256": file_sha256(input_path) if input_path is not None else _frame_sha256(X),
        "n_samples": int(len(X)),
        "n_participants": int(len(np.unique(dataset.group))),
        "class_counts": {str(k): int(v) for k, v in zip(*np.unique(dataset.y, return_counts=True))},
        "versions": versions,
        "pkl_sha256": pkl_sha,
        "format": fmt,
        "file": model_path.name,
    }
    # Model file first: a crash between the two writes leaves a manifest that does not match,
    # which load_bundle refuses, never a manifest vouching for a half-written model.
    atomic_write(model_path, lambda f: f.write(payload))
    text = json.dumps(_jsonable(manifest), indent=2, allow_nan=False)
    atomic_write(manifest_path, lambda f: f.write(text.encode()))
    return model_path


def _serialize(pipeline: Any, fmt: str) -> bytes:
    if fmt == "skops":
        try:
            import skops.io as sio
        except ImportError as exc:
            raise BundleError("--format skops needs the skops package: pip install 'kemo-attention[skops]'") from exc
        payload = sio.dumps(pipeline)
        # Refuse at export what load_bundle would refuse, rather than write a dead bundle.
        refused = sorted(set(sio.get_untrusted_types(data=payload)) - set(SKOPS_TRUSTED_TYPES))
        if refused:
            raise BundleError(
                f"the pipeline holds types that skops bundles do not trust ({_head(refused, 10)}); "
                f"export with --format pickle, or add them to bundle.runtime.SKOPS_TRUSTED_TYPES after review"
            )
        return payload
    import cloudpickle

    buf = io.BytesIO()
    cloudpickle.dump(pipeline, buf, protocol=pickle.HIGHEST_PROTOCOL)
    return buf.getvalue()


def _defaults(X: pd.DataFrame, kinds: dict[str, str]) -> dict[str, Any]:
    """Training median of each numeric column, mode of each bool column (a tie goes to False)."""
    num = [c for c in X.columns if kinds[c] == "numeric"]
    flags = [c for c in X.columns if kinds[c] == "bool"]
    values: dict[str, Any] = {}
    if num and len(X):
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN column -> NaN -> 0 below
                med = np.nanmedian(X[num].to_numpy(dtype=np.float64), axis=0)
        values.update((c, float(m) if math.isfinite(m) else 0.0) for c, m in zip(num, med))
    else:
        values.update((c, 0.0) for c in num)
    if flags:
        ones = X[flags].to_numpy(dtype=bool).sum(axis=0)
        values.update((c, bool(k * 2 > len(X))) for c, k in zip(flags, ones))
    return {c: values[c] for c in X.columns}


def _numeric_dtype(X: pd.DataFrame, kinds: dict[str, str]) -> str:
    """The one dtype of the numeric columns (float32 for extracted features), else float64."""
    found = {str(t) for c, t in X.dtypes.items() if kinds[c] == "numeric"}
    return found.pop() if len(found) == 1 and next(iter(found)) in ("float32", "float64") else "float64"


def _frame_sha256(X: pd.DataFrame) -> str:
    """SHA-256 of X's names, dtypes and values (numeric block as float64, bool block as bytes)."""
    digest = hashlib.sha256()
    dtypes = X.dtypes
    digest.update(json.dumps([[str(c), str(t)] for c, t in dtypes.items()]).encode())
    flags = [c for c, t in dtypes.items() if t == bool]
    num = [c for c, t in dtypes.items() if t != bool]
    if num:
        digest.update(np.ascontiguousarray(X[num].to_numpy(dtype=np.float64)).tobytes())
    if flags:
        digest.update(np.ascontiguousarray(X[flags].to_numpy(dtype=bool)).tobytes())
    return digest.hexdigest()


def _cv_scores(eval_dir: Path, model: str) -> tuple[dict, dict]:
    board = eval_dir / "leaderboard.csv"
    if not board.exists():
        raise BundleError(
            f"{board}: no leaderboard; run `kemo-attention evaluate` into {eval_dir} first, or export without --eval"
        )
    table = pd.read_csv(board)
    if "model" not in table.columns:
        raise BundleError(f"{board}: not a leaderboard (no 'model' column)")
    rows = table[table["model"] == model]
    if rows.empty:
        raise BundleError(
            f"{board}: model {model!r} was not evaluated there (found {', '.join(map(str, table['model']))}); "
            f"evaluate it first, or export without --eval"
        )
    scores = {k: v for k, v in rows.iloc[0].to_dict().items() if k != "model"}
    settings: dict = {}
    manifest = eval_dir / "manifest.json"
    if manifest.exists():
        try:
            settings = dict(json.loads(manifest.read_text()).get("settings") or {})
        except (json.JSONDecodeError, AttributeError, TypeError):
            settings = {}
    return _jsonable(scores), settings


def _jsonable(obj: Any) -> Any:
    """Plain JSON types; NaN and infinities become null (JSON has neither)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if obj is None or isinstance(obj, str):
        return obj
    return str(obj)
