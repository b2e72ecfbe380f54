"""Plain-word labels for feature names (``STREAM#FEATURE[=VALUE][#WINDOW]``, spec/features.md).

The dashboard shows ``HRT#AVG#H01`` as "heart rate · mean · last hour". Parsing is purely
textual and never fails: a name that does not follow the pattern (a user's own
``bpm#AVG#60``) comes back unparsed and is shown as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The 52 streams of spec/features.md section 1 (38 numeric, 14 categorical), in spec order.
STREAM_LABELS: dict[str, str] = {
    "ACC_AXX": "acceleration x",
    "ACC_AXY": "acceleration y",
    "ACC_AXZ": "acceleration z",
    "ACC_MAG": "acceleration magnitude",
    "AML": "ambient light",
    "CAL": "calories burned",
    "DST_DST": "distance walked",
    "DST_MOT": "motion type",
    "DST_PAC": "pace",
    "DST_SPD": "speed",
    "EDA": "skin resistance (EDA)",
    "HRT": "heart rate",
    "RRI": "beat-to-beat interval",
    "SKT": "skin temperature",
    "STP": "steps",
    "ULV_EXP": "UV exposure",
    "ULV_INT": "UV intensity",
    "ACE_UNK": "activity confidence: unknown",
    "ACE_FOT": "activity confidence: on foot",
    "ACE_WLK": "activity confidence: walking",
    "ACE_VHC": "activity confidence: in vehicle",
    "ACE_BCC": "activity confidence: on bicycle",
    "ACE_RUN": "activity confidence: running",
    "ACE_TLT": "activity confidence: tilting",
    "ACT": "activity transition",
    "APP_PAC": "app in use",
    "APP_CAT": "app category in use",
    "BAT_LEV": "battery level",
    "BAT_TMP": "battery temperature",
    "BAT_STA": "battery status",
    "CAE": "phone calls",
    "CON": "network connection",
    "DAT_RCV": "data received",
    "DAT_SNT": "data sent",
    "INS_JAC": "installed apps (similarity to previous snapshot)",
    "LOC_DST": "distance travelled (GPS)",
    "LOC_CLS": "place (geohash)",
    "MED_ALL": "photos and videos taken",
    "MED_IMG": "photos taken",
    "MED_VID": "videos taken",
    "MSG_ALL": "messages",
    "MSG_SNT": "messages sent",
    "MSG_RCV": "messages received",
    "WIF_COS": "Wi-Fi scan similarity (cosine)",
    "WIF_EUC": "Wi-Fi scan similarity (Euclidean)",
    "WIF_MAN": "Wi-Fi scan similarity (Manhattan)",
    "WIF_JAC": "Wi-Fi scan similarity (Jaccard)",
    "SCR": "screen",
    "RNG": "ringer mode",
    "CHG": "charger",
    "PWS": "power saving",
    "ONF": "phone on/off",
}
CATEGORICAL_STREAMS = frozenset(
    {"DST_MOT", "ULV_INT", "ACT", "APP_PAC", "APP_CAT", "BAT_STA", "CAE", "CON", "LOC_CLS", "SCR", "RNG", "CHG", "PWS", "ONF"}
)
# Feature families that are not sensor streams.
OTHER_PREFIX_LABELS: dict[str, str] = {
    "PIF": "participant profile",
    "ESM": "prompt time and past answers",
}

WINDOW_LABELS: dict[str, str] = {
    "S30": "last 30 seconds",
    "M01": "last minute",
    "M05": "last 5 minutes",
    "M10": "last 10 minutes",
    "M30": "last 30 minutes",
    "H01": "last hour",
    "H03": "last 3 hours",
    "H06": "last 6 hours",
    "H12": "last 12 hours",
    "H24": "last 24 hours",
}
# Column order of windows, for sorting tables the way a reader expects (short to long).
WINDOW_ORDER: tuple[str, ...] = tuple(WINDOW_LABELS)

STAT_LABELS: dict[str, str] = {
    "AVG": "mean",
    "STD": "standard deviation",
    "SKW": "skewness",
    "KUR": "kurtosis",
    "ASC": "sum of absolute changes",
    "BEP": "binned entropy",
    "MED": "median",
    "TSC": "complexity (TSC)",
    "ETP": "entropy",
    "DUR": "share of time",
    "VAL": "latest value",
    "DSC": "seconds since last event",
    "COV": "data coverage",
    # the physiology family (--features reference+physio; features/physio.py)
    "MNN": "mean NN interval (ms)",
    "SDN": "SDNN: spread of NN intervals (ms)",
    "RMS": "RMSSD: beat-to-beat change (ms)",
    "PNN": "pNN50: % of beat-to-beat changes > 50 ms",
    "SD1": "Poincaré SD1 (ms)",
    "SD2": "Poincaré SD2 (ms)",
    "LFP": "LF power, 0.04-0.15 Hz (ms²)",
    "HFP": "HF power, 0.15-0.4 Hz (ms²)",
    "LHR": "LF/HF ratio",
    "TNC": "tonic skin conductance (µS)",
    "TNS": "tonic skin conductance slope (µS/min)",
    "SRN": "skin conductance responses (count)",
    "SRA": "mean skin conductance response amplitude (µS)",
    "SRT": "mean skin conductance response rise time (s)",
    "SLP": "slope (°C/min)",
    # participant profile
    "AGE": "age",
    "GEN": "gender",
    "BFI_OPN": "openness",
    "BFI_CON": "conscientiousness",
    "BFI_NEU": "neuroticism",
    "BFI_EXT": "extraversion",
    "BFI_AGR": "agreeableness",
    "PSS": "perceived stress (PSS)",
    "PHQ": "depression score (PHQ)",
    "GHQ": "general health (GHQ)",
    # prompt time and label history
    "DOW": "day of week",
    "WKD": "weekend",
    "HRN": "time of day",
    "LIK": "share of earlier answers = 1",
}
# On a categorical stream ASC counts changes of value rather than summing differences.
_CATEGORICAL_STAT_LABELS = {"ASC": "number of changes"}

VALUE_LABELS: dict[str, str] = {
    "MON": "Monday",
    "TUE": "Tuesday",
    "WED": "Wednesday",
    "THU": "Thursday",
    "FRI": "Friday",
    "SAT": "Saturday",
    "SUN": "Sunday",
    "DAWN": "dawn (06-09)",
    "MORNING": "morning (09-12)",
    "AFTERNOON": "afternoon (12-15)",
    "LATE_AFTERNOON": "late afternoon (15-18)",
    "EVENING": "evening (18-21)",
    "NIGHT": "night (21-24)",
    "MIDNIGHT": "after midnight (00-06)",
}
_PIF_VALUES = {"F": "female", "M": "male"}
_ESM_VALUES = {"Y": "yes", "N": "no"}

UNPARSED_GROUP = "(other names)"

_NAME = re.compile(r"^(?P<stream>[A-Z][A-Z0-9_]*)#(?P<stat>[A-Z][A-Z0-9_]*)(?:=(?P<value>[^#]+))?(?:#(?P<window>[SMH]\d\d))?$")


@dataclass(frozen=True)
class FeatureName:
    """One feature name split into its parts; ``parsed`` is False for names of another shape."""

    name: str
    parsed: bool
    stream: str | None = None
    stat: str | None = None
    value: str | None = None
    window: str | None = None

    @property
    def stream_label(self) -> str:
        if not self.parsed:
            return UNPARSED_GROUP
        return STREAM_LABELS.get(self.stream) or OTHER_PREFIX_LABELS.get(self.stream) or self.stream

    @property
    def stat_label(self) -> str:
        if not self.parsed:
            return self.name
        if self.stream in CATEGORICAL_STREAMS and self.stat in _CATEGORICAL_STAT_LABELS:
            return _CATEGORICAL_STAT_LABELS[self.stat]
        return STAT_LABELS.get(self.stat, self.stat)

    @property
    def value_label(self) -> str | None:
        if self.value is None:
            return None
        if self.stream == "PIF" and self.value in _PIF_VALUES:
            return _PIF_VALUES[self.value]
        if self.stream == "ESM" and self.value in _ESM_VALUES:
            return _ESM_VALUES[self.value]
        if self.value in VALUE_LABELS:
            return VALUE_LABELS[self.value]
        return self.value.replace("_", " ").lower() if self.value.isupper() else self.value

    @property
    def window_label(self) -> str:
        if self.window is None:
            return "no window"
        return WINDOW_LABELS.get(self.window, self.window)

    @property
    def label(self) -> str:
        """The whole name in plain words, e.g. "heart rate · mean · last hour"."""
        if not self.parsed:
            return self.name
        stat = self.stat_label
        if self.value_label is not None:
            stat = f"{stat} = {self.value_label}"
        parts = [self.stream_label, stat]
        if self.window is not None:
            parts.append(self.window_label)
        return " · ".join(parts)


def parse_feature_name(name: str) -> FeatureName:
    """Split ``STREAM#FEATURE[=VALUE][#WINDOW]``; anything else comes back with ``parsed=False``."""
    match = _NAME.match(str(name))
    if match is None:
        return FeatureName(str(name), False)
    return FeatureName(str(name), True, match["stream"], match["stat"], match["value"], match["window"])


def describe_feature(name: str) -> str:
    """Plain-word label of one feature name (the name itself when it does not parse)."""
    return parse_feature_name(name).label


def window_sort_key(window: str | None) -> int:
    """Order windows short to long, "no window" first and unknown codes last."""
    if window is None:
        return -1
    return WINDOW_ORDER.index(window) if window in WINDOW_ORDER else len(WINDOW_ORDER)


# --------------------------------------------------------------------------- table headers
# Column names of the evaluation and check files in plain words, for every table the dashboard
# shows (a header a reader has to decode, such as ``f1_macro`` or ``n_1``, is not shown).
COLUMN_LABELS: dict[str, str] = {
    "f1_macro": "macro F1",
    "balanced_accuracy": "balanced accuracy",
    "roc_auc": "ROC AUC",
    "pr_auc_0": "PR AUC (class 0)",
    "pr_auc_1": "PR AUC (class 1)",
    "pr_chance_0": "PR chance level (class 0)",
    "pr_chance_1": "PR chance level (class 1)",
    "mcc": "MCC",
    "gmean": "G-mean",
    "accuracy": "accuracy",
    "log_loss": "log loss (lower is better)",
    "brier": "Brier score (lower is better)",
    "precision_macro": "macro precision",
    "recall_macro": "macro recall",
    "precision_0": "precision (class 0)",
    "recall_0": "recall (class 0)",
    "f1_0": "F1 (class 0)",
    "precision_1": "precision (class 1)",
    "recall_1": "recall (class 1)",
    "f1_1": "F1 (class 1)",
    "n": "answers",
    "n_0": "answers = 0",
    "n_1": "answers = 1",
    "pcode": "participant",
    "mean_importance": "mean importance",
    "top_features": "most often kept",
    "esm_responses": "self-reports",
    "first_ms": "first record",
    "last_ms": "last record",
    "first_day": "first day",
    "last_day": "last day",
    "problem_kinds": "kinds of problems",
    "scheduled_responses": "scheduled self-reports",
    "n_estimators_used": "boosting rounds used",
}


def plain_header(name: str) -> str:
    """A column name in plain words: the catalogue's label, else the name with spaces for ``_``."""
    name = str(name)
    if name in COLUMN_LABELS:
        return COLUMN_LABELS[name]
    for suffix, words in (("_mean", "mean"), ("_std", "SD")):
        if name.endswith(suffix) and name[: -len(suffix)] in COLUMN_LABELS:
            return f"{COLUMN_LABELS[name[: -len(suffix)]]}, {words}"
    return name.replace("_", " ")
