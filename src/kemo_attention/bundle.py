"""A trained model with its manifest: the *bundle* that ``serve`` and the dashboard load.

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
import io
import json
import math
import pickle
import platform
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kemo_attention.dataset import Dataset, atomic_write, file_sha256
from kemo_attention.errors import KemoError

FORMATS = ("pickle", "skops")
_SUFFIX = {"pickle": ".pkl", "skops": ".skops"}
MANIFEST_SUFFIX = ".manifest.json"
REEXPORT = "re-export with `kemo-attention export`"

# Libraries whose pickled objects change between minor versions; a bundle made with other
# major.minor versions is refused rather than risk silently different predictions.
CHECKED_LIBRARIES = ("scikit-learn", "lightgbm", "xgboost", "numpy")
# Everything recorded in the manifest (distribution names; xgboost may be installed as xgboost-cpu).
RECORDED_LIBRARIES = ("numpy", "pandas", "scikit-learn", "lightgbm", "xgboost", "imbalanced-learn", "kemo-attention")
_DISTRIBUTIONS = {"xgboost": ("xgboost", "xgboost-cpu")}

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
    """A loaded bundle. ``pipeline`` takes a DataFrame with the training feature names."""

    pipeline: Any
    manifest: dict
    path: Path
    _used: list[str] | None = field(default=None, repr=False)

    @property
    def feature_names(self) -> list[str]:
        return list(self.manifest["feature_names"])

    @property
    def feature_mode(self) -> str:
        return str(self.manifest.get("feature_mode", "unknown"))

    @property
    def bundle_version(self) -> str:
        return str(self.manifest.get("bundle_version", ""))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """P(y=1) for each row of ``X``. Columns are taken by name (order and extra columns
        do not matter); a missing feature is a :class:`BundleError` naming it."""
        names = self.feature_names
        missing = [c for c in names if c not in X.columns]
        if missing:
            raise BundleError(
                f"{len(missing)} of the bundle's {len(names)} features are missing from the input: "
                f"{_head(missing)}"
            )
        X = X[names] if list(X.columns) != names else X
        proba = self.pipeline.predict_proba(X)
        classes = list(getattr(self.pipeline, "classes_", [0, 1]))
        return np.asarray(proba[:, classes.index(1) if 1 in classes else -1], dtype=float)

    def used_features(self) -> list[str]:
        """Features the fitted pipeline's selector kept (all features when it has none)."""
        if self._used is None:
            self._used = _features_used(self.pipeline, self.feature_names)
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
        names = self.feature_names
        base_frame = row[names] if list(row.columns) != names else row
        base = float(self.predict_proba(base_frame)[0])
        defaults = self.manifest["feature_defaults"]
        # A feature already at its default has no effect by this definition: skip it.
        candidates = [f for f in self.used_features() if _differs(base_frame[f].iloc[0], defaults[f])]
        if not candidates:
            return []
        n = len(candidates)
        columns = {c: np.repeat(base_frame[c].to_numpy(), n) for c in names}
        for i, f in enumerate(candidates):
            columns[f][i] = defaults[f]
        batch = pd.DataFrame(columns, columns=names)
        effects = base - self.predict_proba(batch)
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
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {"python": platform.python_version()}
    for lib in RECORDED_LIBRARIES:
        found = None
        for dist in _DISTRIBUTIONS.get(lib, (lib,)):
            try:
                found = version(dist)
                break
            except PackageNotFoundError:
                continue
        out[lib] = found
    return out


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


# --------------------------------------------------------------------------- export
def export_bundle(
    dataset: Dataset,
    model: str,
    out_dir: str | Path,
    *,
    eval_dir: str | Path | None = None,
    fmt: str = "pickle",
    input_path: str | Path | None = None,
) -> Path:
    """Fit ``make_pipeline(model)`` on every sample of ``dataset`` and write the bundle.

    Writes ``<out_dir>/<label>-<model>.pkl`` (``.skops`` with ``fmt="skops"``) and
    ``<label>-<model>.manifest.json``, each atomically; returns the model file's path.
    ``eval_dir`` (an ``evaluate`` output folder) supplies the model's cross-validated scores
    (its leaderboard row) and the oversampling/seed settings it was evaluated with.
    ``input_path`` is the feature file the dataset came from; its SHA-256 goes in the manifest.
    """
    from kemo_attention.models.zoo import MODEL_NAMES, describe_model, fit_pipeline, make_pipeline

    if model not in MODEL_NAMES:
        raise BundleError(f"unknown model {model!r}; expected one of {', '.join(MODEL_NAMES)}")
    if fmt not in FORMATS:
        raise BundleError(f"unknown bundle format {fmt!r}; expected pickle or skops")
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
    fit_pipeline(pipeline, dataset.X, dataset.y, groups=dataset.group)
    return save_bundle(
        pipeline, dataset, out_dir, model=model, description=describe_model(model), fmt=fmt,
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
    """Write an already fitted ``pipeline`` trained on ``dataset`` as a bundle."""
    if fmt not in FORMATS:
        raise BundleError(f"unknown bundle format {fmt!r}; expected pickle or skops")
    label = dict(dataset.meta.get("label") or {"name": "attention"})
    label_name = str(label.get("name") or "attention")
    out_dir = Path(out_dir)
    stem = f"{label_name}-{model}"
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
    coverage = _coverage_of(list(X.columns))
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
        "feature_settings": {
            "mode": feature_mode if feature_mode in ("causal", "reference") else "causal",
            "coverage": bool(coverage),
            "tz_offset": str(dataset.meta.get("tz_offset", "+09:00")),
        },
        # True when the columns are exactly what features_for_prompts computes from raw data,
        # i.e. when /predict/raw can serve this bundle.
        "raw_features": coverage is not None,
        "cv_scores": cv_scores,
        "cv_source": cv_source,
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
                f"export with --format pickle, or add them to bundle.SKOPS_TRUSTED_TYPES after review"
            )
        return payload
    import cloudpickle

    buf = io.BytesIO()
    cloudpickle.dump(pipeline, buf, protocol=pickle.HIGHEST_PROTOCOL)
    return buf.getvalue()


def _coverage_of(columns: list[str]) -> bool | None:
    """Whether the columns are feature_columns(coverage) for False/True; None when neither."""
    try:
        from kemo_attention.features.extract import feature_columns
    except ImportError:
        return None
    for coverage in (False, True):
        if columns == list(feature_columns(coverage=coverage)):
            return coverage
    return None


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


def load_bundle(path: str | Path, *, expected_sha256: str | None = None) -> Bundle:
    """Load a bundle (the ``.pkl``/``.skops`` file, or its ``.manifest.json``), after checks.

    Refuses, with a :class:`BundleError` that says what to do: a missing or unreadable
    manifest; a model file whose SHA-256 differs from the manifest's, or from
    ``expected_sha256`` when given (the only check that holds against someone who can
    replace both files: give a hash you got from a trusted place); libraries whose
    major.minor versions differ from the ones the bundle was made with. The file is read
    once: the bytes hashed are the bytes loaded. Load only bundles you trust: a pickle can
    run code when loaded (see the module docstring).
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
    return Bundle(pipeline=pipeline, manifest=manifest, path=path)


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
