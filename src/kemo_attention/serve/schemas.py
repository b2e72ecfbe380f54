"""Request and response bodies of the inference API (pydantic v2).

Validation here is about shape and JSON types only (a feature value is a number or a
boolean, a label is 0 or 1); what depends on the bundle (which features exist, which are
bool) is checked by :mod:`kemo_attention.serve.service`.
"""

from __future__ import annotations

import math
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


def _feature_value(value: Any) -> bool | int | float:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        raise ValueError(f"expected a finite number; got {value!r}")
    raise ValueError(f"expected a number or true/false; got {_kind(value)}")


def _record_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        raise ValueError(f"expected a finite number; got {value!r}")
    raise ValueError(f"expected a JSON scalar (number, text, true/false or null); got {_kind(value)}")


def _time_value(value: Any) -> int | str:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"expected epoch milliseconds (an integer) or ISO 8601 text; got {_kind(value)}")
    return value


# One validator per value type, so that a bad value gives ONE clear message (a Union would
# give one line per member type), with the JSON schema stated explicitly for the OpenAPI docs.
# Strings such as "1.5" are refused rather than guessed at; NaN/Infinity too (training
# data never holds them).
FeatureValue = Annotated[
    Any, PlainValidator(_feature_value), WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "boolean"}]})
]
FeatureRow = dict[str, FeatureValue]
# One field of a raw sensor record: JSON scalars only (the release's cells).
RecordValue = Annotated[
    Any,
    PlainValidator(_record_value),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string"}, {"type": "boolean"}, {"type": "null"}]}),
]
# Epoch milliseconds, or ISO 8601 text with an offset ("2019-05-08T10:30:00+09:00").
TimeValue = Annotated[
    Any, PlainValidator(_time_value), WithJsonSchema({"anyOf": [{"type": "integer"}, {"type": "string"}]})
]
FiniteFloat = Annotated[StrictFloat, Field(allow_inf_nan=False)]

MAX_ROWS = 10_000


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"
    model: str
    bundle_version: str


class ModelManifest(BaseModel):
    """The bundle's manifest (``<bundle>.manifest.json``) as written by ``export``."""

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
    data_sha256: str
    versions: dict[str, str | None]
    pkl_sha256: str
    format: str


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
    filled_features: list[str] = Field(default_factory=list, description="Features filled with the training default.")
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
    records: dict[str, list[dict[str, RecordValue]]] = Field(
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
    absent_types: list[str] = Field(description="Data types with no records in the request (their features are 0 / -1).")
    warnings: list[str] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    """Every 4xx body: ``detail`` says what is wrong; other fields depend on the error."""

    model_config = ConfigDict(extra="allow")
    detail: str
