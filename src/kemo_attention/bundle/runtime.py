"""The bundle format and its runtime: load (with every check), predict, explain.

A bundle is a trained model with its manifest, which ``serve`` and the dashboard load;
:mod:`kemo_attention.bundle.export` writes them.

A bundle is two files side by side::

    models/attention-lgbm.pkl             the fitted scikit-learn pipeline (pickle or skops)
    models/attention-lgbm.manifest.json   what it is: features, defaults, scores, hashes, versions

**Security.** A pickle runs code when it is loaded. Load only bundles you made yourself or
got from someone you trust. :func:`load_bundle` refuses a file whose SHA-256 differs from the
one its manifest records, which catches corruption and careless edits, but anyone who can
write both files can forge both: ``serve`` and ``dashboard`` take ``--sha256 HEX`` (or
``KEMO_BUNDLE_SHA256``), a hash from a place you trust, and refuse any other file.
``--format skops`` writes a skops file instead, which is
loaded with an explicit list of trusted types (:data:`SKOPS_TRUSTED_TYPES`) and refuses any
other type it contains.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kemo_attention.errors import KemoError
from kemo_attention.versions import library_versions

log = logging.getLogger("kemo_attention.bundle")

FORMATS = ("pickle", "skops")
_SUFFIX = {"pickle": ".pkl", "skops": ".skops"}
MANIFEST_SUFFIX = ".manifest.json"
REEXPORT = "re-export with `kemo-attention export`"

# Libraries whose pickled objects change between minor versions; a bundle made with other
# major.minor versions is refused rather than risk silently different predictions.
CHECKED_LIBRARIES = ("scikit-learn", "lightgbm", "xgboost", "numpy")
# Everything recorded in the manifest (distribution names; xgboost may be installed as xgboost-cpu).
RECORDED_LIBRARIES = ("numpy", "pandas", "scikit-learn", "lightgbm", "xgboost", "imbalanced-learn", "kemo-attention")
# The fast path must give the pipeline's probabilities to this tolerance on probe rows.
FAST_PATH_TOLERANCE = 1e-9

MANIFEST_KEYS = (
    "model", "model_description", "bundle_version", "created", "feature_names", "feature_kinds",
    "feature_defaults", "label", "feature_mode", "feature_settings", "cv_scores", "data_sha256",
    "versions", "pkl_sha256", "format",
)

# Types a skops bundle may contain beyond skops' own defaults (numpy arrays, scikit-learn
# estimators it knows, builtins). Found by exporting every model of the zoo and listing
# ``skops.io.get_untrusted_types``; anything else in a file is refused.
SKOPS_TRUSTED_TYPES: tuple[str, ...] = (
    "collections.OrderedDict",
    "imblearn.pipeline.Pipeline",
    "kemo_attention.models.calibration.CalibratedPipeline",
    "kemo_attention.models.calibration.ProbabilityCalibrator",
    "kemo_attention.models.evxgb.EvXGBClassifier",
    "kemo_attention.models.sampling.BoolAwareSMOTE",
    "kemo_attention.models.selection.L1Selector",
    "kemo_attention.models.zoo._as_float",
    "kemo_attention.models.zoo._to_array",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "sklearn.tree._tree.Tree",
    "sklearn.utils._bunch.Bunch",
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBClassifier",
)


class BundleError(KemoError):
    """A bundle that cannot be written or loaded; the message says what to do next."""


# --------------------------------------------------------------------------- the bundle
@dataclass
class Bundle:
    """A loaded bundle: the fitted pipeline, its manifest and the one way to predict with it.

    Predictions go through the numpy fast path (:mod:`kemo_attention.models.fastpath`) when
    :meth:`use_fast_path` found that it gives the pipeline's own probabilities, and through
    the scikit-learn pipeline on a DataFrame otherwise (with a logged warning saying why).
    """

    pipeline: Any
    manifest: dict
    path: Path
    fast: Any = field(default=None, repr=False)  # a verified FastPath, or None
    _used: list[str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        m = self.manifest
        names = [str(n) for n in m["feature_names"]]
        kinds = m.get("feature_kinds") or {}
        self._names = names
        self._is_bool = np.array([kinds.get(n) == "bool" for n in names], dtype=bool)
        self._numeric_dtype = np.dtype(m.get("numeric_dtype") or "float32")

    @property
    def feature_names(self) -> list[str]:
        return list(self._names)

    @property
    def calibration(self) -> dict | None:
        """The manifest's ``calibration`` (method, inner folds, fitted map), or None when the
        bundle returns the model's own probabilities (bundles made before it was recorded too)."""
        recorded = self.manifest.get("calibration")
        return dict(recorded) if isinstance(recorded, dict) else None

    @property
    def feature_mode(self) -> str:
        return str(self.manifest.get("feature_mode", "unknown"))

    @property
    def feature_set(self) -> str:
        """"reference" or "reference+physio": which feature set the columns come from."""
        return str((self.manifest.get("feature_settings") or {}).get("feature_set", "reference"))

    @property
    def bundle_version(self) -> str:
        return str(self.manifest.get("bundle_version", ""))

    @property
    def is_bool(self) -> np.ndarray:
        """Per feature (manifest order): True for the one-hot (bool) features."""
        return self._is_bool

    @property
    def numeric_dtype(self) -> np.dtype:
        return self._numeric_dtype

    def default_row(self) -> np.ndarray:
        """The training defaults (median / mode) in manifest order, as float64."""
        defaults = self.manifest["feature_defaults"]
        return np.array([float(defaults[n]) for n in self._names], dtype=np.float64)

    def feature_settings(self):
        """The :class:`~kemo_attention.config.FeatureSettings` the features were extracted with
        (mode from ``feature_mode``; a bundle of unknown mode gets the default, causal; a bundle
        without ``feature_set``, the reference set)."""
        from kemo_attention.config import FEATURE_MODES, FeatureSettings

        recorded = dict(self.manifest.get("feature_settings") or {})
        recorded.pop("mode", None)  # bundles made before the mode was recorded once
        mode = self.feature_mode if self.feature_mode in FEATURE_MODES else FeatureSettings.mode
        return FeatureSettings.from_dict({**recorded, "mode": mode})

    # ------------------------------------------------------------------ predict
    def use_fast_path(self) -> bool:
        """Build the numpy fast path and keep it only if it matches the pipeline on probe rows.

        Called once by :func:`load_bundle`. A pipeline the fast path does not handle, or any
        disagreement, leaves predictions on the pipeline, with a warning in the log.
        """
        from kemo_attention.models.fastpath import build_fast_path, probe_rows

        self.fast = None
        try:
            fast = build_fast_path(self.pipeline, self._names, self.manifest.get("feature_kinds") or {}, self._numeric_dtype)
            if fast is None:
                log.warning("%s: no fast path for this pipeline's structure; predicting through the pipeline", self.path.name)
                return False
            rows = probe_rows(self.default_row(), self._is_bool)
            gap = float(np.max(np.abs(fast.predict_proba(rows) - self._pipeline_proba(self.frame(rows)))))
            if not gap <= FAST_PATH_TOLERANCE:
                log.warning("%s: the fast path differs from the pipeline by %.3g; predicting through the pipeline", self.path.name, gap)
                return False
        except Exception as exc:  # any surprise: the plain pipeline is always right
            log.warning("%s: no fast path (%s: %s); predicting through the pipeline", self.path.name, type(exc).__name__, exc)
            return False
        self.fast = fast
        return True

    def frame(self, matrix: np.ndarray) -> pd.DataFrame:
        """A DataFrame in manifest order with the training dtypes, from a float matrix.

        Two blocks (numeric, bool) joined then reordered: ~4 ms for 3,356 columns, where a
        dict of 3,356 columns takes ~35 ms.
        """
        num_idx = np.flatnonzero(~self._is_bool)
        bool_idx = np.flatnonzero(self._is_bool)
        parts = []
        if len(num_idx):
            parts.append(pd.DataFrame(matrix[:, num_idx].astype(self._numeric_dtype), columns=[self._names[i] for i in num_idx]))
        if len(bool_idx):
            parts.append(pd.DataFrame(matrix[:, bool_idx] != 0, columns=[self._names[i] for i in bool_idx]))
        joined = parts[0] if len(parts) == 1 else pd.concat(parts, axis=1)
        return joined.reindex(columns=self._names)

    def predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """P(y=1) for rows given as a float matrix whose columns are the manifest's features, in order."""
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != len(self._names):
            raise BundleError(f"expected a matrix of {len(self._names)} feature columns; got shape {matrix.shape}")
        if self.fast is not None:
            return self.fast.predict_proba(matrix)
        return self._pipeline_proba(self.frame(matrix))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """P(y=1) for each row of ``X``. Columns are taken by name (order and extra columns
        do not matter); a missing feature is a :class:`BundleError` naming it."""
        names = self._names
        missing = [c for c in names if c not in X.columns]
        if missing:
            raise BundleError(
                f"{len(missing)} of the bundle's {len(names)} features are missing from the input: "
                f"{_head(missing)}"
            )
        return self.predict_matrix(self.matrix_of(X))

    def matrix_of(self, X: pd.DataFrame) -> np.ndarray:
        """The bundle's features of ``X`` as a float64 matrix in manifest order (bool -> 0/1)."""
        names = self._names
        X = X[names] if list(X.columns) != names else X
        return X.to_numpy(dtype=np.float64)

    def _pipeline_proba(self, X: pd.DataFrame) -> np.ndarray:
        proba = self.pipeline.predict_proba(X)
        classes = list(getattr(self.pipeline, "classes_", [0, 1]))
        return np.asarray(proba[:, classes.index(1) if 1 in classes else -1], dtype=float)

    def used_features(self) -> list[str]:
        """Features the fitted pipeline's selector kept (all features when it has none)."""
        if self._used is None:
            from kemo_attention.models.calibration import uncalibrated

            self._used = _features_used(uncalibrated(self.pipeline), self._names)
        return self._used

    def explain(self, row: pd.DataFrame, top: int = 10) -> list[tuple[str, float]]:
        """Which features pushed this row's probability, and by how much.

        The effect of a feature is ``P(row) - P(row with that feature set to its training
        default)`` (median for numeric, mode for bool): positive values pushed towards 1.
        Only features the pipeline's selector kept can have an effect, so only those are
        tried, in one batch. Sorted by absolute effect, largest first; at most ``top``.
        """
        if len(row) != 1:
            raise BundleError(f"explain takes one row; got {len(row)}")
        base_row = self.matrix_of(row)
        base = float(self.predict_matrix(base_row)[0])
        defaults = self.manifest["feature_defaults"]
        index = {n: i for i, n in enumerate(self._names)}
        # A feature already at its default has no effect by this definition: skip it.
        candidates = [f for f in self.used_features() if _differs(base_row[0, index[f]], defaults[f])]
        if not candidates:
            return []
        batch = np.repeat(base_row, len(candidates), axis=0)
        for i, f in enumerate(candidates):
            batch[i, index[f]] = float(defaults[f])
        effects = base - self.predict_matrix(batch)
        order = np.argsort(-np.abs(effects), kind="stable")[: max(int(top), 0)]
        return [(candidates[i], float(effects[i])) for i in order]


def _differs(value: Any, default: Any) -> bool:
    try:
        return float(value) != float(default)
    except (TypeError, ValueError):
        return True


def _strip_prefix(name: str, known: set[str]) -> str | None:
    """ColumnTransformer output names look like ``num__HRT#AVG#S30``; map back to raw names."""
    if name in known:
        return name
    if "__" in name:
        tail = name.split("__", 1)[1]
        if tail in known:
            return tail
    return None


def _features_used(pipeline: Any, names: list[str]) -> list[str]:
    steps = getattr(pipeline, "steps", None)
    if not steps:
        return list(names)
    known = set(names)
    used: list[str] | None = None
    for i, (_, step) in enumerate(steps):
        if not hasattr(step, "get_support"):
            continue
        try:
            incoming = list(pipeline[:i].get_feature_names_out(names)) if i else list(names)
            mask = np.asarray(step.get_support(), dtype=bool)
            mapped = [_strip_prefix(n, known) for n, keep in zip(incoming, mask) if keep]
        except Exception:  # a step that cannot name its outputs: keep everything
            continue
        if all(m is not None for m in mapped):
            used = [m for m in mapped if m is not None]
    if used is None:
        return list(names)
    keep = set(used)
    return [n for n in names if n in keep]  # manifest order


def _head(names: list[str], n: int = 20) -> str:
    shown = ", ".join(names[:n])
    return shown + (f" ... and {len(names) - n} more" if len(names) > n else "")


# --------------------------------------------------------------------------- versions
def installed_versions() -> dict[str, str | None]:
    """Versions of python and the libraries a bundle depends on (None = not installed)."""
    return library_versions(RECORDED_LIBRARIES)


def _major_minor(v: str | None) -> tuple[str, ...] | None:
    if not v:
        return None
    return tuple(v.split(".")[:2])


def version_mismatches(recorded: dict[str, Any], installed: dict[str, Any] | None = None) -> list[str]:
    """``["scikit-learn: bundle 1.5.2, installed 1.9.1", ...]`` for the checked libraries."""
    installed = installed_versions() if installed is None else installed
    out = []
    for lib in CHECKED_LIBRARIES:
        want, have = recorded.get(lib), installed.get(lib)
        if want is None:
            continue  # the bundle does not depend on it
        if _major_minor(want) != _major_minor(have):
            out.append(f"{lib}: bundle {want}, installed {have or 'none'}")
    return out


# --------------------------------------------------------------------------- load
def manifest_path_for(path: str | Path) -> Path:
    path = Path(path)
    if path.name.endswith(MANIFEST_SUFFIX):
        return path
    return path.with_name(path.stem + MANIFEST_SUFFIX)


ENV_SHA256 = "KEMO_BUNDLE_SHA256"  # the expected SHA-256 for `serve` / `dashboard` (or --sha256)


def check_sha256_text(value: str, where: str = "--sha256") -> str:
    """``value`` as a lower-case SHA-256 hex digest, or a :class:`BundleError` saying what is expected."""
    text = value.strip().lower()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise BundleError(
            f"{where}: expected the bundle file's SHA-256 as 64 hexadecimal characters (as `sha256sum FILE` prints it); "
            f"got {value[:80]!r}"
        )
    return text


def load_bundle(path: str | Path, *, expected_sha256: str | None = None, fast: bool = True) -> Bundle:
    """Load a bundle (the ``.pkl``/``.skops`` file, or its ``.manifest.json``), after checks.

    Refuses, with a :class:`BundleError` that says what to do: a missing or unreadable
    manifest; a model file whose SHA-256 differs from the manifest's, or from
    ``expected_sha256`` when given (the only check that holds against someone who can
    replace both files: give a hash you got from a trusted place); libraries whose
    major.minor versions differ from the ones the bundle was made with. The file is read
    once: the bytes hashed are the bytes loaded. Load only bundles you trust: a pickle can
    run code when loaded (see the module docstring). With ``fast`` (the default) the numpy
    fast path is checked against the pipeline once, here (:meth:`Bundle.use_fast_path`).
    """
    path = Path(path)
    expected = check_sha256_text(expected_sha256) if expected_sha256 is not None else None
    manifest_path = manifest_path_for(path)
    if path.name.endswith(MANIFEST_SUFFIX):
        manifest = _read_manifest(manifest_path)
        path = manifest_path.with_name(str(manifest.get("file") or manifest_path.name[: -len(MANIFEST_SUFFIX)] + ".pkl"))
    if not path.exists():
        raise BundleError(f"{path}: no such bundle file")
    if not path.is_file():
        raise BundleError(f"{path}: not a file; give the bundle's .pkl (or .skops) file")
    manifest = _read_manifest(manifest_path)
    payload = path.read_bytes()  # hashed and then loaded: no second read that could see another file
    actual = hashlib.sha256(payload).hexdigest()
    if expected is not None and actual != expected:
        raise BundleError(
            f"{path}: SHA-256 {actual[:16]}... is not the expected {expected[:16]}... (--sha256 / {ENV_SHA256}); "
            f"this is not the bundle you meant to load, whatever its manifest says, and it will not be loaded"
        )
    if actual != manifest.get("pkl_sha256"):
        raise BundleError(
            f"{path}: SHA-256 {actual[:16]}... does not match the manifest's {str(manifest.get('pkl_sha256'))[:16]}...; "
            f"the file was changed or corrupted after export and will not be loaded; {REEXPORT}"
        )
    mismatches = version_mismatches(manifest.get("versions") or {})
    if mismatches:
        raise BundleError(
            f"{path}: made with other library versions ({'; '.join(mismatches)}); install those versions, "
            f"or {REEXPORT} with the installed ones"
        )
    fmt = manifest.get("format", "pickle")
    try:
        pipeline = _load_skops(path, payload) if fmt == "skops" else pickle.loads(payload)
    except BundleError:
        raise
    except Exception as exc:
        raise BundleError(f"{path}: cannot load the model ({type(exc).__name__}: {exc}); {REEXPORT}") from exc
    _check_calibration(path, pipeline, manifest)
    bundle = Bundle(pipeline=pipeline, manifest=manifest, path=path)
    try:  # e.g. a feature_set this version does not know: refuse now, not at the first request
        bundle.feature_settings()
    except KemoError as exc:
        raise BundleError(f"{manifest_path}: feature_settings: {exc}; {REEXPORT}") from exc
    if fast:
        bundle.use_fast_path()
    return bundle


def _check_calibration(path: Path, pipeline: Any, manifest: dict) -> None:
    """The manifest says "calibrated" exactly when the model file holds a calibrated model."""
    from kemo_attention.models.calibration import CalibratedPipeline

    in_file = isinstance(pipeline, CalibratedPipeline)
    recorded = manifest.get("calibration")
    if in_file != isinstance(recorded, dict):
        raise BundleError(
            f"{path}: the model file {'holds' if in_file else 'lacks'} a calibration map but the manifest's "
            f"calibration is {'null' if recorded is None else 'set'}; the two files do not belong together; {REEXPORT}"
        )
    if in_file and recorded.get("method") != pipeline.method:
        raise BundleError(
            f"{path}: the manifest records {recorded.get('method')!r} calibration but the model file holds "
            f"{pipeline.method!r}; {REEXPORT}"
        )


def _read_manifest(manifest_path: Path) -> dict:
    if not manifest_path.exists():
        raise BundleError(
            f"{manifest_path}: missing; a bundle is the model file together with its manifest, "
            f"and a model file without one is not loaded; {REEXPORT}"
        )
    try:
        manifest = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{manifest_path}: not valid JSON ({exc}); {REEXPORT}") from exc
    if not isinstance(manifest, dict):
        raise BundleError(f"{manifest_path}: expected a JSON object; {REEXPORT}")
    missing = [k for k in MANIFEST_KEYS if k not in manifest]
    if missing:
        raise BundleError(f"{manifest_path}: lacks {', '.join(missing)}; {REEXPORT}")
    return manifest


def _load_skops(path: Path, payload: bytes) -> Any:
    try:
        import skops.io as sio
    except ImportError as exc:
        raise BundleError(f"{path}: a skops bundle needs the skops package: pip install 'kemo-attention[skops]'") from exc
    untrusted = sio.get_untrusted_types(data=payload)
    refused = sorted(set(untrusted) - set(SKOPS_TRUSTED_TYPES))
    if refused:
        raise BundleError(
            f"{path}: contains types this tool does not trust ({_head(refused, 10)}); it was not made by "
            f"`kemo-attention export`; {REEXPORT}"
        )
    return sio.loads(payload, trusted=list(untrusted))
