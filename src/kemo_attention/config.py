"""Settings of feature extraction, with the reference protocol as defaults.

Two frozen objects: :class:`LabelSettings` (which self-report becomes the label, and how)
and :class:`FeatureSettings` (how features are computed). Both are validated when built,
with messages that name the field, what it must be and what it got, and both round-trip
through plain dicts (``to_dict`` / ``from_dict``) so they can live in a manifest or a
TOML/JSON file.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from datetime import timedelta, timezone
from typing import Any

from kemo_attention.errors import KemoError

LABEL_NAMES: tuple[str, ...] = ("valence", "arousal", "attention", "stress", "disturbance", "change")
THRESHOLD_KINDS: tuple[str, ...] = ("fixed", "participant_mean")
FEATURE_MODES: tuple[str, ...] = ("causal", "reference")
# "reference": the dataset authors' columns (3,356); "reference+physio" appends the physiology
# family (features/physio.py: HRV, skin conductance, skin temperature) after them.
FEATURE_SETS: tuple[str, ...] = ("reference", "reference+physio")
_TZ_RE = re.compile(r"^([+-])(\d{2}):?(\d{2})$")

# The release's local time (Korea); every room that needs a default offset uses this one.
DEFAULT_TZ_OFFSET = "+09:00"
# One decision rule everywhere (evaluation, the API, the dashboard): label 1 when
# P(y=1) >= DECISION_THRESHOLD, so a probability of exactly 0.5 is label 1 wherever it is scored.
DECISION_THRESHOLD = 0.5
DEFAULT_LABEL = "attention"


class SettingsError(KemoError, ValueError):
    """A setting with a value it cannot take; the message names the field."""


def parse_tz_offset(text: str) -> timezone:
    """``"+09:00"`` (also ``"+0900"``, ``"Z"``, ``"UTC"``) -> a fixed-offset
    :class:`datetime.timezone` (no daylight saving). The one parser of offsets."""
    if isinstance(text, str) and text.strip().upper() in ("Z", "UTC"):
        return timezone.utc
    m = _TZ_RE.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise SettingsError(f"time-zone offset must look like '+09:00' or '-05:30' (tz_offset); got {text!r}")
    sign, hh, mm = m.group(1), int(m.group(2)), int(m.group(3))
    if hh > 14 or mm > 59:
        raise SettingsError(f"time-zone offset must be between -14:00 and +14:00 (tz_offset); got {text!r}")
    delta = timedelta(hours=hh, minutes=mm)
    return timezone(-delta if sign == "-" else delta)


def decide(proba):
    """Labels (0/1 ints) from P(y=1): 1 where ``proba >= DECISION_THRESHOLD``.

    Takes a float or an array; returns the same shape (an ``int`` for a float).
    """
    import numpy as np

    arr = np.asarray(proba, dtype=float)
    labels = (arr >= DECISION_THRESHOLD).astype(int)
    return int(labels) if labels.ndim == 0 else labels


def label_name_of(meta: dict[str, Any] | None) -> str:
    """The label's name from a dataset's or bundle's metadata.

    ``meta["label"]`` is the LabelSettings dict (extraction, bundles) or a bare name (a user's
    own file); the name is ``DEFAULT_LABEL`` when the metadata says nothing.
    """
    label = (meta or {}).get("label")
    if isinstance(label, dict):
        label = label.get("name")
    return str(label) if label else DEFAULT_LABEL


def tz_offset_ms(text: str) -> int:
    """The offset of ``"+09:00"`` in milliseconds (local = UTC + offset)."""
    return int(parse_tz_offset(text).utcoffset(None).total_seconds() * 1000)


class _Settings:
    """``to_dict`` / ``from_dict`` shared by both settings objects."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None):
        data = dict(data or {})
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - known)
        if unknown:
            raise SettingsError(
                f"{cls.__name__}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return cls(**data)


@dataclass(frozen=True)
class LabelSettings(_Settings):
    """Which self-report becomes the binary label, and how.

    Parameters
    ----------
    name : the ESM item: valence, arousal, attention, stress, disturbance (or change).
    threshold : ``fixed``: y = value > threshold. ``participant_mean``: y = value >
        (that participant's mean + threshold), so the default 0 means "above their own mean".
    threshold_kind : "fixed" or "participant_mean".
    min_responses : participants with fewer usable responses are skipped.
    scheduled_only : keep only responses to scheduled prompts (``scheduledTime`` present).
        With False, voluntary responses are anchored at their ``responseTime``.
    """

    name: str = "attention"
    threshold: float = 0.0
    threshold_kind: str = "fixed"
    min_responses: int = 35
    scheduled_only: bool = True

    def __post_init__(self) -> None:
        if self.name not in LABEL_NAMES:
            raise SettingsError(f"label name must be one of {', '.join(LABEL_NAMES)}; got {self.name!r}")
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float)):
            raise SettingsError(f"label threshold must be a number; got {self.threshold!r}")
        if self.threshold != self.threshold or abs(self.threshold) == float("inf"):
            raise SettingsError(f"label threshold must be a finite number; got {self.threshold!r}")
        object.__setattr__(self, "threshold", float(self.threshold))
        if self.threshold_kind not in THRESHOLD_KINDS:
            raise SettingsError(
                f"label threshold_kind must be one of {', '.join(THRESHOLD_KINDS)}; got {self.threshold_kind!r}"
            )
        if isinstance(self.min_responses, bool) or not isinstance(self.min_responses, int) or self.min_responses < 1:
            raise SettingsError(f"label min_responses must be an integer >= 1; got {self.min_responses!r}")
        if not isinstance(self.scheduled_only, bool):
            raise SettingsError(f"label scheduled_only must be true or false; got {self.scheduled_only!r}")


@dataclass(frozen=True)
class FeatureSettings(_Settings):
    """How features are computed.

    Parameters
    ----------
    mode : "causal" (default; no value uses data after the sample time) or "reference"
        (the dataset authors' feature set, which lets later data into windows).
    coverage : add the data-coverage columns (share of each window covered by real samples).
    tz_offset : local time zone as a fixed offset, e.g. "+09:00" (Korea, the release's).
    feature_set : "reference" (default) or "reference+physio" (adds the physiology family
        after every other column).
    """

    mode: str = "causal"
    coverage: bool = False
    tz_offset: str = DEFAULT_TZ_OFFSET
    feature_set: str = "reference"

    @property
    def physio(self) -> bool:
        """True when the physiology family's columns are part of the layout."""
        return self.feature_set == "reference+physio"

    def to_dict(self) -> dict[str, Any]:
        # The default feature set is left out, so the reference set's manifests, cache keys
        # and bundles carry the same settings as before the field existed.
        data = asdict(self)
        if data["feature_set"] == "reference":
            del data["feature_set"]
        return data

    def __post_init__(self) -> None:
        if self.mode not in FEATURE_MODES:
            raise SettingsError(f"feature mode must be one of {', '.join(FEATURE_MODES)}; got {self.mode!r}")
        if not isinstance(self.coverage, bool):
            raise SettingsError(f"feature coverage must be true or false; got {self.coverage!r}")
        parse_tz_offset(self.tz_offset)
        if self.feature_set not in FEATURE_SETS:
            raise SettingsError(f"feature set must be one of {', '.join(FEATURE_SETS)}; got {self.feature_set!r}")
