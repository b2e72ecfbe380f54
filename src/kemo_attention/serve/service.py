"""What the API does, apart from HTTP: feature rows or raw records -> probabilities.

Errors about the request's content are :class:`RequestError` (status + message + extra
fields), which the app turns into a JSON 4xx. Raw records go through exactly the functions
training used (``frame_from_records`` -> ``features_for_prompts``): there is no second
implementation of any feature here.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from kemo_attention.bundle import Bundle
from kemo_attention.errors import KemoError

log = logging.getLogger("kemo_attention.serve")
THRESHOLD = 0.5
SHOW_NAMES = 20  # names listed in an error; the count says how many more
MAX_FILLED_LISTED = 100  # filled names listed per row in a response; filled_count has them all
# Epoch ms accepted as a prompt time: 2000-01-01 .. 2100-01-01 (catches seconds sent as ms).
_MIN_MS, _MAX_MS = 946_684_800_000, 4_102_444_800_000


class RequestError(KemoError):
    """The request cannot be served as sent. ``status`` is the HTTP code (4xx)."""

    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


def _names_head(names: list[str]) -> str:
    shown = ", ".join(names[:SHOW_NAMES])
    return shown + (f" ... and {len(names) - SHOW_NAMES} more" if len(names) > SHOW_NAMES else "")


class PredictionService:
    """Predictions from one loaded bundle; built once at start-up (lifespan)."""

    def __init__(self, bundle: Bundle, *, fast: bool = True):
        self.bundle = bundle
        m = bundle.manifest
        self.names: list[str] = list(m["feature_names"])
        self.index = {n: i for i, n in enumerate(self.names)}
        kinds = m["feature_kinds"]
        self.is_bool = np.array([kinds.get(n) == "bool" for n in self.names], dtype=bool)
        self.defaults = np.array([float(m["feature_defaults"][n]) for n in self.names], dtype=np.float64)
        self.bool_idx = np.flatnonzero(self.is_bool)
        self.num_idx = np.flatnonzero(~self.is_bool)
        self.bool_names = [self.names[i] for i in self.bool_idx]
        self.num_names = [self.names[i] for i in self.num_idx]
        self.numeric_dtype = np.dtype(m.get("numeric_dtype") or "float32")
        self.model = str(m["model"])
        self.version = bundle.bundle_version
        self.all_idx = np.arange(len(self.names), dtype=np.intp)
        self.fast = self._verified_fast_path() if fast else None

    def _verified_fast_path(self):
        """The numpy fast path, if it gives the pipeline's own probabilities on probe rows."""
        from kemo_attention.serve.fastpath import build_fast_path, probe_rows

        try:
            fast = build_fast_path(self.bundle.pipeline, self.names, self.bundle.manifest["feature_kinds"], self.numeric_dtype)
            if fast is None:
                return None
            rows = probe_rows(self.defaults, self.is_bool)
            slow = self.bundle.predict_proba(self.frame(rows))
            if np.max(np.abs(fast.predict_proba(rows) - slow)) > 1e-9:
                log.warning("fast path disagrees with the pipeline; serving through the pipeline")
                return None
            return fast
        except Exception as exc:  # any surprise: the plain pipeline is always right
            log.warning("no fast path (%s: %s); serving through the pipeline", type(exc).__name__, exc)
            return None

    # ------------------------------------------------------------------ /predict
    def frame(self, matrix: np.ndarray) -> pd.DataFrame:
        """A DataFrame in manifest order with the training dtypes, from a float matrix.

        Two blocks (numeric, bool) joined then reordered: ~4 ms for 3,356 columns, where a
        dict of 3,356 columns takes ~35 ms (measured in bench/bench_serve.py's notes).
        """
        parts = []
        if len(self.num_idx):
            parts.append(pd.DataFrame(matrix[:, self.num_idx].astype(self.numeric_dtype), columns=self.num_names))
        if len(self.bool_idx):
            parts.append(pd.DataFrame(matrix[:, self.bool_idx] != 0, columns=self.bool_names))
        joined = parts[0] if len(parts) == 1 else pd.concat(parts, axis=1)
        return joined.reindex(columns=self.names)

    def matrix(self, rows: list[dict[str, Any]], fill_missing: bool) -> tuple[np.ndarray, list[list[str]], list[list[str]]]:
        """Rows of {name: value} -> (matrix in manifest order, filled names, ignored names).

        Vectorised per row: a row whose keys are exactly the manifest's names in order (a
        client sending DataFrame rows) skips the name lookup altogether.
        """
        n_feat = len(self.names)
        out = np.empty((len(rows), n_feat), dtype=np.float64)
        filled_all: list[list[str]] = []
        ignored_all: list[list[str]] = []
        index = self.index
        for r, row in enumerate(rows):
            keys = list(row)
            if keys == self.names:
                idx = self.all_idx
            else:
                idx = np.fromiter((index.get(k, -1) for k in keys), dtype=np.intp, count=len(keys))
            try:
                values = np.array(list(row.values()), dtype=np.float64)
            except OverflowError:
                big = next(k for k, v in row.items() if isinstance(v, int) and abs(v) > 1e308)
                raise RequestError(422, f"row {r}: feature {big!r}: the value is too large for a number", row=r, feature=big) from None
            known = idx >= 0
            ignored = [keys[i] for i in np.flatnonzero(~known)] if not known.all() else []
            idx, values = idx[known], values[known]
            if not np.isfinite(values).all():
                bad = [self.names[i] for i in idx[~np.isfinite(values)]]
                raise RequestError(422, f"row {r}: expected finite numbers; got non-finite values for {_names_head(bad)}", row=r, features=bad[:SHOW_NAMES])
            wrong = self.is_bool[idx] & (values != 0) & (values != 1)
            if wrong.any():
                bad = [self.names[i] for i in idx[wrong]]
                raise RequestError(
                    422,
                    f"row {r}: {len(bad)} bool feature(s) got a value other than true/false/0/1: {_names_head(bad)}",
                    row=r, features=bad[:SHOW_NAMES], count=len(bad),
                )
            if len(idx) == n_feat:
                out[r, idx] = values
                filled_all.append([])
            else:
                seen = np.zeros(n_feat, dtype=bool)
                seen[idx] = True
                missing_idx = np.flatnonzero(~seen)
                if not fill_missing:
                    missing = [self.names[i] for i in missing_idx]
                    raise RequestError(
                        422,
                        f"row {r}: {len(missing)} of the bundle's {n_feat} features are missing: "
                        f"{_names_head(missing)}; send them, or set \"fill_missing\": true to use the training defaults",
                        row=r, missing=missing[:SHOW_NAMES], missing_count=len(missing),
                    )
                out[r] = self.defaults
                out[r, idx] = values
                filled_all.append([self.names[i] for i in missing_idx])
            ignored_all.append(ignored)
        return out, filled_all, ignored_all

    def proba(self, matrix: np.ndarray) -> np.ndarray:
        """P(y=1) for a float matrix in manifest order (the fast path when it was verified)."""
        if self.fast is not None:
            return self.fast.predict_proba(matrix)
        return self.bundle.predict_proba(self.frame(matrix))

    def predict_rows(self, rows: list[dict[str, Any]], fill_missing: bool = False) -> dict[str, Any]:
        matrix, filled, ignored = self.matrix(rows, fill_missing)
        proba = self.proba(matrix)
        union = sorted({name for names in ignored for name in names})
        return {
            "model": self.model,
            "bundle_version": self.version,
            "threshold": THRESHOLD,
            "predictions": [
                {
                    "probability": float(p),
                    "label": int(p >= THRESHOLD),
                    "bundle_version": self.version,
                    # Capped: a tiny request ({} rows with fill_missing) must not be able to ask
                    # for a response of rows x 3,356 names.
                    "filled_features": f[:MAX_FILLED_LISTED],
                    "filled_count": len(f),
                    "ignored_features": i,
                }
                for p, f, i in zip(proba, filled, ignored)
            ],
            "ignored_features": union,
        }

    # ------------------------------------------------------------------ /predict/raw
    def check_raw_servable(self) -> None:
        m = self.bundle.manifest
        if self.bundle.feature_mode == "reference":
            raise RequestError(
                409,
                "this bundle was trained on reference-mode features, which use sensor data recorded after "
                "the prompt (the reference grid interpolates towards later samples), so they cannot be "
                "computed live; re-extract the features with `kemo-attention extract --mode causal`, "
                "re-export, and serve that bundle (POST /predict still accepts ready-made feature rows)",
                feature_mode="reference",
            )
        if not m.get("raw_features", False):
            raise RequestError(
                409,
                "this bundle's features are not the tool's feature set (its columns differ from "
                "feature_columns()), so they cannot be computed from raw records; use POST /predict "
                "with feature rows, or export a bundle from features made by `kemo-attention extract`",
            )

    def predict_raw(self, request: Any) -> dict[str, Any]:
        """``request`` is a :class:`~kemo_attention.serve.schemas.RawPredictRequest`."""
        from kemo_attention.config import FeatureSettings
        from kemo_attention.features.extract import features_for_prompts

        self.check_raw_servable()
        prompt_ms = parse_time(request.prompt_time, "prompt_time")
        tables, absent = self.tables(request.records)
        userinfo = None
        if request.userinfo is not None:
            userinfo = {k: v for k, v in request.userinfo.model_dump().items() if v is not None}
        past = None
        if request.past_labels:
            past = [(parse_time(p.prompt_time, f"past_labels[{i}].prompt_time"), int(p.label)) for i, p in enumerate(request.past_labels)]
        settings = FeatureSettings.from_dict(self.bundle.manifest.get("feature_settings") or {})
        try:
            X = features_for_prompts(
                tables, np.array([prompt_ms], dtype=np.int64), userinfo=userinfo, past_labels=past, settings=settings
            )
        except KemoError as exc:
            raise RequestError(422, f"cannot compute features from the records: {exc}") from exc
        except (ValueError, TypeError, KeyError, IndexError, OverflowError, ArithmeticError) as exc:
            # The records passed validation but still broke feature computation: the data is at
            # fault as far as the client can act on it (e.g. types that do not fit the columns).
            raise RequestError(422, f"cannot compute features from the records ({type(exc).__name__}: {exc})") from exc
        if list(X.columns) != self.names:
            X = X[self.names]
        proba = float(self.proba(X.to_numpy(dtype=np.float64))[0])
        warnings = []
        if self.bundle.feature_mode not in ("causal", "reference"):
            warnings.append(
                f"the bundle's feature mode is {self.bundle.feature_mode!r}: if it was trained on "
                "reference-mode features (e.g. the published attention.pkl), live features differ from training"
            )
        return {
            "model": self.model,
            "bundle_version": self.version,
            "threshold": THRESHOLD,
            "pcode": request.pcode,
            "prompt_time": prompt_ms,
            "probability": proba,
            "label": int(proba >= THRESHOLD),
            "feature_mode": self.bundle.feature_mode,
            "absent_types": absent,
            "warnings": warnings,
        }

    def tables(self, records: dict[str, list[dict[str, Any]]]) -> tuple[dict[str, Any], list[str]]:
        """Records by data type -> one typed frame per each of the 27 types; absent ones empty."""
        from kemo_attention.release.read import empty_frame, frame_from_records
        from kemo_attention.release.schema import DATA_TYPES

        lookup = {name.lower(): name for name in DATA_TYPES}
        given: dict[str, list[dict[str, Any]]] = {}
        unknown = []
        for key, recs in records.items():
            name = lookup.get(key.lower())
            if name is None:
                unknown.append(key)
            elif name in given:
                raise RequestError(422, f"records: data type {name} given twice (as {key!r} too); send it once")
            else:
                given[name] = recs
        if unknown:
            raise RequestError(
                422,
                f"records: unknown data type(s) {', '.join(map(repr, unknown[:SHOW_NAMES]))}; "
                f"expected names of the release's files: {', '.join(DATA_TYPES)}",
                unknown=unknown[:SHOW_NAMES],
            )
        tables, absent = {}, []
        for name, dtype in DATA_TYPES.items():
            recs = given.get(name)
            if not recs:
                absent.append(name)
                tables[name] = empty_frame(dtype)
                continue
            try:
                tables[name] = frame_from_records(dtype, recs)
            except KemoError as exc:
                raise RequestError(422, f"records.{name}: {exc}", data_type=name) from exc
            except (ValueError, TypeError, KeyError, OverflowError) as exc:
                raise RequestError(422, f"records.{name}: cannot read the records ({type(exc).__name__}: {exc})", data_type=name) from exc
        return tables, absent


def parse_time(value: int | str, field: str) -> int:
    """Epoch ms (int) or ISO 8601 text with an offset -> epoch ms, in a plausible range."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise RequestError(422, f"{field}: expected epoch milliseconds or ISO 8601 text such as 2019-05-08T10:30:00+09:00; got {value!r}") from None
        if moment.tzinfo is None:
            raise RequestError(422, f"{field}: {value!r} has no UTC offset; add one (e.g. +09:00) so the time is unambiguous")
        ms = int(round(moment.timestamp() * 1000))
    else:
        ms = int(value)
    if not _MIN_MS <= ms <= _MAX_MS:
        raise RequestError(422, f"{field}: {value!r} is not an epoch-millisecond time between 2000 and 2100 (seconds instead of ms?)")
    return ms
