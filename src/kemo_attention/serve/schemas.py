"""Request and response bodies of the inference API (pydantic v2).

Validation here is about shape and JSON types only (a feature value is a number or a
boolean, a label is 0 or 1); what depends on the bundle (which features exist, which are
bool) is checked by :mod:`kemo_attention.serve.service`.
"""

from __future__ import annotations

import math
from itertools import chain, compress, repeat
from operator import is_
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, StrictFloat, StrictInt, StrictStr, WithJsonSchema, model_validator


def _kind(value: Any) -> str:
    if isinstance(value, str):
        return f"text {value[:40]!r}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return f"{value!r}"


_NUMBER_TYPES = frozenset({float, int, bool})
_SCALAR_TYPES = frozenset({float, int, bool, str, type(None)})


def _finite(key: str, value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{key!r}: expected a finite number; got {value!r}")


def _feature_row(value: Any) -> dict[str, Any]:
    """One row of features, checked as a whole: a Python-level check per value would cost
    ~1 us x 3,356 values per row; one pass over the value types is ~20x cheaper."""
    if not isinstance(value, dict):
        raise ValueError(f"expected an object of feature: value; got {_kind(value)}")
    if not set(map(type, value.values())) <= _NUMBER_TYPES:
        bad = next(k for k, v in value.items() if type(v) not in _NUMBER_TYPES)
        raise ValueError(f"feature {bad!r}: expected a number or true/false; got {_kind(value[bad])}")
    return value  # NaN/Infinity are caught by the service's vectorised finiteness check


_DICT_TYPE = frozenset({dict})


def _all_finite(cells: list) -> bool:
    """Whether every float among ``cells`` is finite. The sum of the floats is finite when
    they all are (a NaN or an infinity makes it NaN or infinite), so one C-level sum decides
    the usual case; only a sum that overflows looks at each value."""
    floats = list(compress(cells, map(is_, map(type, cells), repeat(float))))
    return math.isfinite(sum(floats)) or all(map(math.isfinite, floats))


def _records(value: Any) -> list[dict[str, Any]]:
    """A list of raw records: objects whose values are JSON scalars (the release's cells)."""
    if not isinstance(value, list):
        raise ValueError(f"expected a list of records; got {_kind(value)}")
    # One pass at C speed over every value for the usual, valid batch (no Python-level loop:
    # map / chain / compress); the record-by-record loop below runs only to name what is wrong.
    if set(map(type, value)) <= _DICT_TYPE:
        cells = list(chain.from_iterable(map(dict.values, value)))
        kinds = set(map(type, cells))
        if kinds <= _SCALAR_TYPES and (float not in kinds or _all_finite(cells)):
            return value
    for i, record in enumerate(value):
        if not isinstance(record, dict):
            raise ValueError(f"record {i}: expected an object of column: value; got {_kind(record)}")
        if not set(map(type, record.values())) <= _SCALAR_TYPES:
            bad = next(k for k, v in record.items() if type(v) not in _SCALAR_TYPES)
            raise ValueError(
                f"record {i}, {bad!r}: expected a JSON scalar (number, text, true/false or null); got {_kind(record[bad])}"
            )
        for k, v in record.items():
            if type(v) is float:
                _finite(f"record {i}, {k}", v)
    return value


def _time_value(value: Any) -> int | str:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"expected epoch milliseconds (an integer) or ISO 8601 text; got {_kind(value)}")
    return value


# Validators over whole values, so that a bad value gives ONE clear message naming it (a
# Union gives one line per member type) and wide rows stay cheap; the JSON schema is stated
# explicitly for the OpenAPI docs. Strings such as "1.5" are refused rather than guessed at.
_NUMBER_SCHEMA = {"anyOf": [{"type": "number"}, {"type": "boolean"}]}
_SCALAR_SCHEMA = {"anyOf": [{"type": "number"}, {"type": "string"}, {"type": "boolean"}, {"type": "null"}]}
FeatureRow = Annotated[
    dict, PlainValidator(_feature_row), WithJsonSchema({"type": "object", "additionalProperties": _NUMBER_SCHEMA})
]
RecordList = Annotated[
    list,
    PlainValidator(_records),
    WithJsonSchema({"type": "array", "items": {"type": "object", "additionalProperties": _SCALAR_SCHEMA}}),
]
# Epoch milliseconds, or ISO 8601 text with an offset ("2019-05-08T10:30:00+09:00").
TimeValue = Annotated[Any, PlainValidator(_time_value), WithJsonSchema({"anyOf": [{"type": "integer"}, {"type": "string"}]})]
FiniteFloat = Annotated[StrictFloat, Field(allow_inf_nan=False)]

MAX_ROWS = 10_000


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"
    model: str
    bundle_version: str


class LivenessResponse(BaseModel):
    status: Literal["alive"] = "alive"


class ReadinessResponse(BaseModel):
    status: Literal["ready"] = "ready"
    model: str
    bundle_version: str
    sha256: str = Field(description="SHA-256 of the bundle file served now.")
    store: Literal["ok", "none"] = Field(description="'none': the server runs without a live store.")


class ReloadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: StrictStr | None = Field(None, description="The bundle file to serve from now on (default: the one served, re-read).")
    sha256: StrictStr | None = Field(None, description="The SHA-256 the file must have; replaces the server's --sha256 pin.")


class ReloadResponse(BaseModel):
    loaded: bool = Field(description="True: the new bundle serves every request from now on; false: refused (see reason).")
    path: str
    sha256: str = Field(description="SHA-256 of the bundle serving after the attempt.")
    previous_sha256: str
    model: str
    bundle_version: str
    reason: str | None = None


class RawAvailability(BaseModel):
    available: bool = Field(description="Whether POST /predict/raw serves this bundle.")
    reason: str | None = Field(None, description="Why not, when it does not.")


class CalibrationInfo(BaseModel):
    """How the bundle's probabilities are calibrated (``export --calibrate``)."""

    model_config = ConfigDict(extra="allow")
    method: Literal["sigmoid", "isotonic"] = Field(description="sigmoid (Platt scaling on the logit) or isotonic.")
    inner_splits: int = Field(description="Participant-grouped inner folds whose out-of-fold probabilities the map was fitted on.")
    seed: int = Field(description="Seed of the inner folds.")
    n_samples: int = Field(description="Out-of-fold probabilities the map was fitted on.")
    parameters: dict[str, Any] = Field(
        description="The fitted map: sigmoid {slope, intercept, logit_clip}: q = 1 / (1 + exp(-(slope * logit(p) + intercept))); "
                    "isotonic {x_thresholds, y_thresholds}: q interpolated linearly between the points, clipped at the ends."
    )


class ModelManifest(BaseModel):
    """The bundle's manifest (``<bundle>.manifest.json``) as written by ``export``, plus
    ``predict_raw``: whether the server computes this bundle's features from raw records."""

    model_config = ConfigDict(extra="allow")
    model: str
    model_description: str
    bundle_version: str
    created: str
    feature_names: list[str]
    feature_kinds: dict[str, Literal["bool", "numeric"]]
    feature_defaults: dict[str, Union[bool, float]]
    label: dict[str, Any]
    feature_mode: str
    feature_settings: dict[str, Any]
    cv_scores: dict[str, Any] | None
    calibration: CalibrationInfo | None = Field(
        None, description="null: the probabilities are the model's own; else how they are calibrated. "
                          "/predict, /predict/raw and the live predictions all return the calibrated ones.")
    data_sha256: str
    versions: dict[str, str | None]
    pkl_sha256: str
    format: str
    predict_raw: RawAvailability


class PredictRequest(BaseModel):
    """Feature rows by name. Send ``rows`` (a list) or ``features`` (one row), not both."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"rows": [{"HRT#AVG#S30": 71.5, "ESM#WKD=Y": False}], "fill_missing": True}]
        },
    )
    rows: Annotated[list[FeatureRow], Field(min_length=1, max_length=MAX_ROWS)] | None = None
    features: FeatureRow | None = None
    fill_missing: bool = Field(
        False, description="Fill features a row lacks with the training default (median / mode) instead of refusing it."
    )

    @model_validator(mode="after")
    def _one_shape(self) -> "PredictRequest":
        if (self.rows is None) == (self.features is None):
            raise ValueError("send either 'rows' (a list of feature objects) or 'features' (one object), not both or neither")
        return self

    def all_rows(self) -> list[FeatureRow]:
        return self.rows if self.rows is not None else [self.features or {}]


class RowPrediction(BaseModel):
    probability: float = Field(description="P(label = 1)")
    label: Literal[0, 1]
    bundle_version: str
    filled_features: list[str] = Field(
        default_factory=list, description="Features filled with the training default (the first 100, in manifest order)."
    )
    filled_count: int = Field(0, description="How many features were filled with the training default.")
    ignored_features: list[str] = Field(default_factory=list, description="Names the bundle does not know; not used.")


class PredictResponse(BaseModel):
    model: str
    bundle_version: str
    threshold: float
    predictions: list[RowPrediction]
    ignored_features: list[str] = Field(description="Unknown names over all rows, not used.")


class UserInfo(BaseModel):
    """The participant's survey answers (``UserInfo.csv`` columns). Missing ones count as 0."""

    model_config = ConfigDict(extra="forbid")
    age: FiniteFloat | StrictInt | None = None
    gender: Literal["M", "F", "m", "f"] | None = None
    openness: FiniteFloat | StrictInt | None = None
    conscientiousness: FiniteFloat | StrictInt | None = None
    neuroticism: FiniteFloat | StrictInt | None = None
    extraversion: FiniteFloat | StrictInt | None = None
    agreeableness: FiniteFloat | StrictInt | None = None
    PSS: FiniteFloat | StrictInt | None = None
    PHQ: FiniteFloat | StrictInt | None = None
    GHQ: FiniteFloat | StrictInt | None = None


class PastLabel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt_time: TimeValue
    label: Literal[0, 1]


class RawPredictRequest(BaseModel):
    """Recent raw sensor data of one participant, in the release's column names."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "pcode": "P01",
                    "prompt_time": 1557279000000,
                    "records": {
                        "HR": [{"timestamp": 1557278990000, "bpm": 72}, {"timestamp": 1557278995000, "bpm": 74}],
                        "ScreenEvent": [{"timestamp": 1557278900000, "type": "ON"}],
                    },
                    "userinfo": {"age": 23, "gender": "F"},
                    "past_labels": [{"prompt_time": 1557270000000, "label": 1}],
                }
            ]
        },
    )
    pcode: StrictStr | None = None
    prompt_time: TimeValue = Field(description="Epoch milliseconds (UTC), or ISO 8601 text with an offset.")
    records: dict[str, RecordList] = Field(
        default_factory=dict,
        description="Data type name (HR, Acceleration, ScreenEvent ...; any case) -> records with the release's columns.",
    )
    userinfo: UserInfo | None = None
    past_labels: list[PastLabel] | None = Field(None, description="Earlier answers of this participant (label history features).")


class RawPredictResponse(BaseModel):
    model: str
    bundle_version: str
    threshold: float
    pcode: str | None
    prompt_time: int = Field(description="The prompt time used, epoch milliseconds.")
    probability: float
    label: Literal[0, 1]
    feature_mode: str
    absent_types: list[str] = Field(description="Data types with no records before the prompt (their features are 0 / -1).")
    warnings: list[str] = Field(
        default_factory=list,
        description="What the prediction could not use: records and past answers at or after the prompt (ignored), "
                    "streams the model uses that had no data, missing userinfo or label history the model uses.",
    )


class ErrorResponse(BaseModel):
    """Every error body: ``detail`` says what is wrong; other fields depend on the error (a
    500 carries ``request_id``, also sent as the ``X-Request-ID`` header)."""

    model_config = ConfigDict(extra="allow")
    detail: str


# --------------------------------------------------------------------------- live prediction
class RecordsBatch(BaseModel):
    """One batch of a participant's raw records (stored whole or not at all)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"records": {"HR": [{"timestamp": 1557278760000, "bpm": 71}],
                                                     "ScreenEvent": [{"timestamp": 1557278700000, "type": "ON"}]}}]},
    )
    records: dict[str, RecordList] = Field(
        description="Data type name (HR, Acceleration, ScreenEvent ...; any case) -> records with the release's columns."
    )


class RecordsStored(BaseModel):
    model_config = ConfigDict(extra="allow")
    pcode: str
    stored: dict[str, int] = Field(description="Rows stored per data type.")
    duplicates: dict[str, int] = Field(description="Rows equal to a stored row (same type, timestamp and values): not stored again.")


class AnswersBatch(BaseModel):
    """Answers to prompts, with the release's EsmResponse columns (responseTime required)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"answers": [{"responseTime": 1557279100000, "scheduledTime": 1557279000000,
                                                      "attention": 2, "valence": 1}]}]},
    )
    answers: list[dict[str, Any]] = Field(max_length=MAX_ROWS)


class AnswersStored(BaseModel):
    """With ``serve --personalize``, ``warnings`` (present only then) names answers among the
    first K whose prompt's raw data are no longer stored: they cannot personalize predictions."""

    model_config = ConfigDict(extra="allow")
    pcode: str
    stored: int
    duplicates: int


class Personalization(BaseModel):
    """``serve --personalize``: how the population probability was recalibrated for this person."""

    k: int = Field(description="Answers that fit a person's offset (--personal-labels): the first K by prompt time.")
    answers_used: int = Field(description="Answers known before `at` among the first K that fitted the offset.")
    answers_unscored: int = Field(description="Answers among the first K known before `at` left out: their prompt's raw data were gone when they arrived.")
    offset: float = Field(description="Added to the population logit: logit(probability) = logit(population_probability) + offset.")
    prior_sd: float = Field(description="SD of the Gaussian prior on the offset (mean 0).")
    population_probability: float = Field(description="The bundle's probability before the offset.")


class LiveProfile(UserInfo):
    """UserInfo columns of one participant (the ``PIF#`` features)."""

    participationStartDate: StrictStr | None = None
    pcode: StrictStr | None = None


class ProfileBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"profile": {"age": 23, "gender": "F", "PSS": 21}}]})
    profile: LiveProfile


class ProfileStored(BaseModel):
    pcode: str
    profile: dict[str, Any]


class StreamSeen(BaseModel):
    samples_last_hour: int
    last_sample: int | None


class LivePrediction(BaseModel):
    pcode: str
    at: int = Field(description="The prompt time predicted for, epoch ms (features use data before it).")
    probability: float
    label: Literal[0, 1]
    threshold: float
    model_sha256: str
    served_at: float
    streams: dict[str, StreamSeen] = Field(description="Per stream the model uses: samples in the hour before `at`, last sample time.")
    warnings: list[str] = Field(default_factory=list)
    personalization: Personalization | None = Field(
        None, description="With `serve --personalize`: the offset and K behind `probability` (absent otherwise).")


class ParticipantList(BaseModel):
    participants: list[str]


class TypeStored(BaseModel):
    rows: int
    first: int
    last: int


class ParticipantSummary(BaseModel):
    model_config = ConfigDict(extra="allow")
    pcode: str
    types: dict[str, TypeStored]
    answers: int
    profile: bool
    predictions: int


class ServedPrediction(BaseModel):
    model_config = ConfigDict(extra="allow")
    at: int
    probability: float
    label: Literal[0, 1]
    threshold: float
    model_sha256: str
    served_at: float


class PredictionHistory(BaseModel):
    pcode: str
    predictions: list[ServedPrediction]


class Deleted(BaseModel):
    pcode: str
    deleted: bool
