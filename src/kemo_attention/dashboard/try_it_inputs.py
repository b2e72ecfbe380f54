"""What the Try it page scores: an uploaded row aligned to the bundle, or a scheduled prompt
of the release with the labels the person had given before it. Plain functions, no Streamlit."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from kemo_attention.config import label_name_of

_TRUE = {"true", "1", "1.0", "yes", "y", "t"}
_FALSE = {"false", "0", "0.0", "no", "n", "f"}


def align_feature_row(
    row: pd.DataFrame,
    feature_names: list[str],
    kinds: dict[str, str] | None = None,
    defaults: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """One uploaded row -> exactly the bundle's features, typed as in training (bool / float32).

    Returns ``(frame, filled, ignored)``: features missing (or blank) in the upload take the
    bundle's default (training median / mode) and are listed in ``filled``; columns the
    bundle does not use are listed in ``ignored``. A value that cannot be read raises
    ``ValueError`` naming the column, what was expected and what was found.
    """
    if len(row) != 1:
        raise ValueError(f"expected one row of features, got {len(row)}")
    kinds = kinds or {}
    defaults = defaults or {}
    # one row -> dict once: ``row.iloc[0]`` per column rebuilt a 3,356-value Series each time (~11 s)
    given = {str(c): v for c, v in row.iloc[0].items()}
    values: dict[str, Any] = {}
    filled: list[str] = []
    for name in feature_names:
        kind = kinds.get(name, "numeric")
        raw = given.get(name)
        if raw is None or (isinstance(raw, float) and math.isnan(raw)) or (isinstance(raw, str) and not raw.strip()):
            filled.append(name)
            raw = defaults.get(name, False if kind == "bool" else 0.0)
        values[name] = _as_bool(name, raw) if kind == "bool" else _as_float(name, raw)
    # One block per dtype: thousands of single-column casts would take seconds.
    numeric = [n for n in feature_names if kinds.get(n, "numeric") != "bool"]
    flags = [n for n in feature_names if kinds.get(n, "numeric") == "bool"]
    blocks = [
        pd.DataFrame(np.array([[values[n] for n in numeric]], dtype=np.float32).reshape(1, -1), columns=numeric),
        pd.DataFrame(np.array([[values[n] for n in flags]], dtype=bool).reshape(1, -1), columns=flags),
    ]
    frame = pd.concat(blocks, axis=1)[feature_names]
    known = set(feature_names)
    ignored = [c for c in given if c not in known]
    return frame, filled, ignored


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"column {name!r}: expected true/false (or 1/0), got {value!r}")


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"column {name!r}: expected a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"column {name!r}: expected a finite number, got {value!r}")
    return number


def scheduled_prompts(esm: pd.DataFrame, pcode: str) -> pd.DataFrame:
    """One participant's scheduled prompts (the release's prompt schedule), in time order."""
    part = esm[(esm["pcode"].astype(str) == pcode) & esm["scheduledTime"].notna()]
    return part.sort_values("scheduledTime").reset_index(drop=True)


def label_of(value: float, settings: dict[str, Any], person_values: pd.Series) -> int | None:
    """Binary label of one answer under the bundle's label settings (LabelSettings as a dict)."""
    try:
        value = float(value)
    except (TypeError, ValueError):  # None, pd.NA, text
        return None
    if not math.isfinite(value):
        return None
    threshold = float(settings.get("threshold", 0.0))
    if settings.get("threshold_kind") == "participant_mean":
        threshold = float(pd.to_numeric(person_values, errors="coerce").mean())
    return int(value > threshold)


def past_labels(prompts: pd.DataFrame, prompt_ms: int, settings: dict[str, Any]) -> list[tuple[int, int]]:
    """(prompt time, label) of this person's scheduled answers before ``prompt_ms``: what the
    label-history features may know at that moment (answered by then, as causal extraction
    counts them; only causal bundles compute features from raw data)."""
    name = label_name_of({"label": settings})
    earlier = prompts[prompts["scheduledTime"] < prompt_ms]
    if "responseTime" in earlier.columns:
        earlier = earlier[earlier["responseTime"].isna() | (earlier["responseTime"] < prompt_ms)]
    out = []
    for t, v in zip(earlier["scheduledTime"], earlier[name]):
        y = label_of(v, settings, prompts[name])
        if y is not None:
            out.append((int(t), y))
    return out
