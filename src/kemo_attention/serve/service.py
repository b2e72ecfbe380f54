"""What the API does, apart from HTTP: feature rows or raw records -> probabilities.

Errors about the request's content are :class:`RequestError` (status + message + extra
fields), which the app turns into a JSON 4xx; each comes from an explicit check of the input.
Nothing else is caught here: any other exception is a server bug and becomes a 500. Raw records go through exactly the functions
training used (``frame_from_records`` -> ``features_for_prompts``): there is no second
implementation of any feature here.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import numpy as np

from kemo_attention.bundle.runtime import Bundle
from kemo_attention.config import DECISION_THRESHOLD, decide
from kemo_attention.errors import KemoError

log = logging.getLogger("kemo_attention.serve")
SHOW_NAMES = 20  # names listed in an error; the count says how many more
MAX_FILLED_LISTED = 100  # filled names listed per row in a response; filled_count has them all


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

    def __init__(self, bundle: Bundle):
        self.bundle = bundle
        m = bundle.manifest
        self.names: list[str] = bundle.feature_names
        self.index = {n: i for i, n in enumerate(self.names)}
        self.is_bool = bundle.is_bool
        self.defaults = bundle.default_row()
        self.model = str(m["model"])
        self.version = bundle.bundle_version
        self.all_idx = np.arange(len(self.names), dtype=np.intp)

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
        """P(y=1) for a float matrix in manifest order: the bundle's one way to predict."""
        return self.bundle.predict_matrix(matrix)

    def predict_rows(self, rows: list[dict[str, Any]], fill_missing: bool = False) -> dict[str, Any]:
        matrix, filled, ignored = self.matrix(rows, fill_missing)
        proba = self.proba(matrix)
        union = sorted({name for names in ignored for name in names})
        return {
            "model": self.model,
            "bundle_version": self.version,
            "threshold": DECISION_THRESHOLD,
            "predictions": [
                {
                    "probability": float(p),
                    "label": decide(p),
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
    def raw_refusal(self) -> tuple[str, dict[str, Any]] | None:
        """Why ``/predict/raw`` cannot serve this bundle (message, extra fields), or None.

        Live features are computed in causal mode; a bundle is served only when it says it
        was trained on exactly those: causal mode and the tool's own columns.
        """
        m = self.bundle.manifest
        mode = self.bundle.feature_mode
        if mode == "reference":
            return (
                "this bundle was trained on reference-mode features, which use sensor data recorded after "
                "the prompt (the reference grid interpolates towards later samples), so they cannot be "
                "computed live; re-extract the features with `kemo-attention extract --mode causal`, "
                "re-export, and serve that bundle (POST /predict still accepts ready-made feature rows)",
                {"feature_mode": "reference"},
            )
        if mode != "causal":
            return (
                f"this bundle's feature mode is {mode!r}: the feature file it was exported from had no readable "
                "manifest saying how its features were computed (the published attention.pkl, for one, holds "
                "reference-mode features, which use data recorded after the prompt), so live causal features "
                "may not match what the model learnt from; re-extract with `kemo-attention extract --mode causal`, "
                "re-export, and serve that bundle (POST /predict still accepts ready-made feature rows)",
                {"feature_mode": mode},
            )
        if not m.get("raw_features", False):
            return (
                "this bundle's features are not the tool's feature set (its columns differ from "
                "feature_columns()), so they cannot be computed from raw records; use POST /predict "
                "with feature rows, or export a bundle from features made by `kemo-attention extract`",
                {},
            )
        return None

    def check_raw_servable(self) -> None:
        refusal = self.raw_refusal()
        if refusal is not None:
            message, extra = refusal
            raise RequestError(409, message, **extra)

    def model_info(self) -> dict[str, Any]:
        """``GET /model``: the manifest, plus whether ``/predict/raw`` serves this bundle and why not."""
        refusal = self.raw_refusal()
        return {**self.bundle.manifest,
                "predict_raw": {"available": refusal is None, "reason": refusal[0] if refusal else None}}

    def _used_streams(self) -> dict[str, int]:
        """Stream name -> how many of the features the fitted model uses come from it."""
        if not hasattr(self, "_streams_used"):
            from kemo_attention.features.streams import SPECS_BY_NAME

            counts: dict[str, int] = {}
            for name in self.bundle.used_features():
                stream = name.split("#", 1)[0]
                if stream in SPECS_BY_NAME:
                    counts[stream] = counts.get(stream, 0) + 1
            self._streams_used = counts
        return self._streams_used

    def predict_raw(self, request: Any) -> dict[str, Any]:
        """``request`` is a :class:`~kemo_attention.serve.schemas.RawPredictRequest`.

        Records and past answers at or after the prompt are dropped (and reported): the
        features of a prompt use only what happened before it.
        """
        from kemo_attention.features.assemble import feature_blocks
        from kemo_attention.features.layout import blocks_to_matrix
        from kemo_attention.features.labels import LIK_NAMES
        from kemo_attention.features.streams import STREAMS_OF_TYPE, build_streams

        self.check_raw_servable()
        prompt_ms = parse_time(request.prompt_time, "prompt_time")
        warnings: list[str] = []
        tables, absent = self.tables(request.records, prompt_ms, warnings)
        userinfo = None
        if request.userinfo is not None:
            userinfo = {k: v for k, v in request.userinfo.model_dump().items() if v is not None}
        past = []
        for i, p in enumerate(request.past_labels or []):
            past.append((parse_time(p.prompt_time, f"past_labels[{i}].prompt_time"), int(p.label)))
        late = [i for i, (t, _) in enumerate(past) if t >= prompt_ms]
        if late:
            warnings.append(
                f"past_labels: {len(late)} answer(s) at or after prompt_time ignored (index {', '.join(map(str, late[:SHOW_NAMES]))}"
                f"{' ...' if len(late) > SHOW_NAMES else ''}); the label history uses earlier answers only"
            )
            past = [item for item in past if item[0] < prompt_ms]
        if len(absent) == len(tables) and not userinfo and not past:
            raise RequestError(
                422,
                "the request holds no data before prompt_time: no records (or only records at or after it), no userinfo "
                "and no past_labels; send the participant's recent records (see GET /docs)",
                field="records",
            )
        settings = self.bundle.feature_settings()
        # features_for_prompts, in its two steps, so that the streams can be checked for data
        streams = build_streams(tables)
        numeric, flags = feature_blocks(streams, np.array([prompt_ms], dtype=np.int64), userinfo=userinfo,
                                        past_labels=past or None, settings=settings)
        # the arrays straight into the model, in layout order (== the manifest's: raw_refusal checked)
        proba = float(self.proba(blocks_to_matrix(numeric, flags, settings.coverage, settings.physio))[0])

        used = self._used_streams()
        type_of = {stream: name for name, names in STREAMS_OF_TYPE.items() for stream in names}
        empty = [s for s in used if len(streams[s]) == 0]
        if empty:
            listed = "; ".join(f"{s} ({type_of[s]}, {used[s]} features)" for s in empty[:SHOW_NAMES])
            warnings.append(
                f"{len(empty)} stream(s) the model uses had no data before the prompt, so their features take their "
                f"no-data values (0, or -1 for times since): {listed}{' ...' if len(empty) > SHOW_NAMES else ''}"
            )
        used_names = set(self.bundle.used_features())
        if not userinfo and any(n.startswith("PIF#") for n in used_names):
            warnings.append("userinfo: none given; the model uses profile features (PIF#...), which are 0 without it")
        if not past and used_names & set(LIK_NAMES):
            warnings.append("past_labels: no earlier answers; the model uses the label history (ESM#LIK#...), which is 0 without them")
        return {
            "model": self.model,
            "bundle_version": self.version,
            "threshold": DECISION_THRESHOLD,
            "pcode": request.pcode,
            "prompt_time": prompt_ms,
            "probability": proba,
            "label": decide(proba),
            "feature_mode": self.bundle.feature_mode,
            "absent_types": absent,
            "warnings": warnings,
        }

    def tables(self, records: dict[str, list[dict[str, Any]]], prompt_ms: int | None = None,
               warnings: list[str] | None = None, *, given_only: bool = False) -> tuple[dict[str, Any], list[str]]:
        """Records by data type -> one typed frame per each of the 27 types; the types left
        without rows. With ``prompt_ms`` (a prediction from the request alone) only rows before
        it are kept, and ``warnings`` gets a line per type that had later rows; without it
        (live ingest, which stores every row) all rows are kept. ``given_only``: frames only
        for the types with records (live ingest; no empty frames for the rest)."""
        import polars as pl

        from kemo_attention.errors import DataError
        from kemo_attention.release.read import empty_frame, frame_from_records
        from kemo_attention.release.schema import DATA_TYPES, TIMESTAMP

        lookup = {name.lower(): name for name in DATA_TYPES}
        given: dict[str, tuple[str, list[dict[str, Any]]]] = {}
        unknown = []
        for key, recs in records.items():
            name = lookup.get(key.lower())
            if name is None:
                unknown.append(key)
            elif name in given:
                raise RequestError(422, f"records: data type {name} given twice (as {key!r} too); send it once")
            else:
                given[name] = (key, recs)
        if unknown:
            raise RequestError(
                422,
                f"records: unknown data type(s) {', '.join(map(repr, unknown[:SHOW_NAMES]))}; "
                f"expected names of the release's files: {', '.join(DATA_TYPES)}",
                unknown=unknown[:SHOW_NAMES],
            )
        tables, absent = {}, []
        for name, dtype in DATA_TYPES.items():
            key, recs = given.get(name, (name, []))
            if given_only and not recs:
                absent.append(name)
                continue
            frame = empty_frame(dtype)
            if recs:
                try:
                    frame = frame_from_records(dtype, recs, require_columns=True)
                except DataError as exc:
                    raise RequestError(422, f"records.{key}: {exc}", data_type=name, column=exc.column) from None
                late = 0 if prompt_ms is None else frame.filter(pl.col(TIMESTAMP) >= prompt_ms).height
                if late:
                    if warnings is not None:
                        warnings.append(f"records.{key}: {late} of {frame.height} record(s) at or after prompt_time "
                                        "ignored; features use only data before the prompt")
                    frame = frame.filter(pl.col(TIMESTAMP) < prompt_ms)
            if frame.height == 0:
                absent.append(name)
            tables[name] = frame
        return tables, absent


def parse_time(value: int | str, field: str) -> int:
    """Epoch ms (int) or ISO 8601 text with an offset -> epoch ms, in the plausible range of
    ``release.schema`` (the same range the release's files are held to)."""
    from kemo_attention.release.schema import epoch_ms_problem

    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise RequestError(422, f"{field}: expected epoch milliseconds or ISO 8601 text such as 2019-05-08T10:30:00+09:00; got {value!r}", field=field) from None
        if moment.tzinfo is None:
            raise RequestError(422, f"{field}: {value!r} has no UTC offset; add one (e.g. +09:00) so the time is unambiguous", field=field)
        if not 1990 <= moment.year <= 2110:  # far outside the range below; also keeps timestamp() from overflowing
            raise RequestError(422, f"{field}: {value!r} is not a time between 2000-01-01 and 2100-01-01", field=field)
        ms = int(round(moment.timestamp() * 1000))
    else:
        ms = int(value)
    problem = epoch_ms_problem(ms)
    if problem is not None:
        raise RequestError(422, f"{field}: {problem}", field=field)
    return ms
