"""Loaders and table shaping for the dashboard: plain functions of artefacts, no Streamlit.

Every loader tolerates a partial or damaged artefact: what cannot be read becomes a message
for the page to show (naming the file and what was expected), never an exception that blanks
the whole dashboard. The pages wrap these in ``st.cache_data`` (see ``cache.py``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kemo_attention.config import DEFAULT_TZ_OFFSET, label_name_of, parse_tz_offset
from kemo_attention.dashboard.feature_names import UNPARSED_GROUP, WINDOW_ORDER, parse_feature_name, window_sort_key

# The eval folder (interfaces.md, "Output folder eval/<label>/") and the columns each page needs.
EVAL_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "leaderboard": ("leaderboard.csv", ("model",)),
    "fold_metrics": ("fold_metrics.csv", ("model", "fold", "split")),
    "oof": ("oof_predictions.parquet", ("model", "fold", "sample", "pcode", "y_true", "proba", "y_pred")),
    "selected": ("selected_features.csv", ("model", "fold", "feature", "importance")),
    "participants": ("participant_scores.csv", ("model", "fold", "pcode", "n")),
}
MANIFEST_FILE = "manifest.json"

# Leaderboard columns shown first; the rest are one click away.
KEY_METRICS = ("f1_macro", "balanced_accuracy", "roc_auc", "pr_auc_1", "mcc", "accuracy", "log_loss", "brier")
PARTICIPANT_METRICS = ("f1_macro", "balanced_accuracy", "accuracy", "roc_auc")
# Curves are thinned to this many points per model: enough for the eye, light for the browser.
MAX_CURVE_POINTS = 400


# ---------------------------------------------------------------------------- eval folder
@dataclass
class EvalFolder:
    """The readable parts of one evaluation folder, and why the other parts are missing."""

    path: str
    manifest: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # file name -> what is wrong

    def get(self, name: str) -> pd.DataFrame | None:
        return self.tables.get(name)

    @property
    def label(self) -> str:
        return label_name_of(self.manifest)

    def models(self) -> list[str]:
        """Model names in leaderboard order (best first), else in the order they appear."""
        for name in ("leaderboard", "oof", "fold_metrics", "participants", "selected"):
            table = self.get(name)
            if table is not None and "model" in table:
                return list(dict.fromkeys(table["model"].astype(str)))
        return []

    def n_folds(self, model: str | None = None) -> int | None:
        """Number of outer folds: the manifest's setting, else the folds seen in the tables."""
        settings = self.manifest.get("settings") or {}
        if isinstance(settings, dict) and settings.get("cv") != "logo" and settings.get("n_splits"):
            return int(settings["n_splits"])
        for name in ("fold_metrics", "oof", "participants"):
            table = self.get(name)
            if table is not None and len(table):
                if model is not None:
                    table = table[table["model"].astype(str) == model]
                if len(table):
                    return int(table["fold"].nunique())
        return None


def path_signature(path: str | Path | None) -> tuple:
    """(name, size, mtime) of a file or of a folder's files: the cache key that notices a rerun."""
    if path is None:
        return ()
    path = Path(path)
    if not path.exists():
        return ("missing",)
    if path.is_file():
        stat = path.stat()
        return ((path.name, stat.st_size, stat.st_mtime_ns),)
    entries = []
    for child in sorted(path.iterdir()):
        if child.is_file():
            stat = child.stat()
            entries.append((child.name, stat.st_size, stat.st_mtime_ns))
    return tuple(entries)


def read_eval_folder(path: str | Path) -> EvalFolder:
    """Read manifest and tables of an eval folder; unreadable parts go to ``problems``."""
    path = Path(path)
    folder = EvalFolder(str(path))
    if not path.is_dir():
        folder.problems[str(path)] = "no such folder"
        return folder
    manifest = path / MANIFEST_FILE
    if manifest.exists():
        try:
            loaded = json.loads(manifest.read_text(encoding="utf-8"))
            if isinstance(loaded, dict):
                folder.manifest = loaded
            else:
                folder.problems[MANIFEST_FILE] = f"expected a JSON object, got {type(loaded).__name__}"
        except (OSError, json.JSONDecodeError) as exc:
            folder.problems[MANIFEST_FILE] = f"not readable JSON ({exc})"
    else:
        folder.problems[MANIFEST_FILE] = "missing"
    for name, (file_name, required) in EVAL_TABLES.items():
        file = path / file_name
        if not file.exists():
            folder.problems[file_name] = "missing"
            continue
        try:
            table = pd.read_parquet(file) if file.suffix == ".parquet" else pd.read_csv(file)
        except Exception as exc:  # any parser error: the page shows it and carries on
            folder.problems[file_name] = f"not readable ({type(exc).__name__}: {exc})"
            continue
        missing = [c for c in required if c not in table.columns]
        if missing:
            folder.problems[file_name] = f"missing column(s) {', '.join(missing)}; found {', '.join(map(str, table.columns))}"
            continue
        table["model"] = table["model"].astype(str)
        if "pcode" in table:
            table["pcode"] = table["pcode"].astype(str)
        folder.tables[name] = table
    return folder


# ---------------------------------------------------------------------------- Models page
def metric_names(leaderboard: pd.DataFrame) -> list[str]:
    """Metrics that have a ``<metric>_mean`` column in the leaderboard, in column order."""
    return [c[: -len("_mean")] for c in leaderboard.columns if c.endswith("_mean")]


def leaderboard_view(leaderboard: pd.DataFrame, metrics: list[str] | None = None, digits: int = 3) -> pd.DataFrame:
    """One row per model, one "mean ± SD" cell per metric (leaderboard order kept)."""
    available = metric_names(leaderboard)
    metrics = [m for m in (metrics or [m for m in KEY_METRICS if m in available] or available) if m in available]
    view = pd.DataFrame(index=pd.Index(leaderboard["model"].astype(str), name="model"))
    for metric in metrics:
        mean = leaderboard[f"{metric}_mean"].to_numpy(dtype=float)
        std = leaderboard[f"{metric}_std"].to_numpy(dtype=float) if f"{metric}_std" in leaderboard else np.full(len(mean), np.nan)
        view[metric] = [_mean_sd(m, s, digits) for m, s in zip(mean, std)]
    return view


def _mean_sd(mean: float, std: float, digits: int) -> str:
    if mean is None or math.isnan(mean):
        return "n/a"
    if std is None or math.isnan(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _thin(frame: pd.DataFrame, limit: int = MAX_CURVE_POINTS) -> pd.DataFrame:
    if len(frame) <= limit:
        return frame
    keep = np.unique(np.linspace(0, len(frame) - 1, limit).round().astype(int))
    return frame.iloc[keep]


def oof_curves(oof: pd.DataFrame, kind: str) -> tuple[pd.DataFrame, dict[str, float]]:
    """ROC (``kind="roc"``) or precision-recall (``"pr"``, class 1) curves of pooled out-of-fold
    predictions per model, and the area under each (ROC AUC / average precision).

    Models whose predictions hold one class only, or no probabilities, get no curve.
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

    parts, areas = [], {}
    for model, rows in oof.groupby("model", sort=False):
        rows = rows[np.isfinite(rows["proba"].to_numpy(dtype=float))]
        y = rows["y_true"].to_numpy(dtype=int)
        p = rows["proba"].to_numpy(dtype=float)
        if len(np.unique(y)) < 2:
            continue
        if kind == "roc":
            x_val, y_val, _ = roc_curve(y, p)
            areas[str(model)] = float(roc_auc_score(y, p))
        else:
            precision, recall, _ = precision_recall_curve(y, p)
            x_val, y_val = recall[::-1], precision[::-1]
            areas[str(model)] = float(average_precision_score(y, p))
        curve = pd.DataFrame({"model": str(model), "x": x_val, "y": y_val})
        parts.append(_thin(curve))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["model", "x", "y"])
    return frame, areas


def confusion_counts(oof: pd.DataFrame) -> pd.DataFrame:
    """Pooled out-of-fold confusion cells per model: model, true, predicted, count, share of the true class."""
    rows = []
    for model, part in oof.groupby("model", sort=False):
        y = part["y_true"].to_numpy(dtype=int)
        pred = part["y_pred"].to_numpy(dtype=int)
        for true in (0, 1):
            n_true = int((y == true).sum())
            for guess in (0, 1):
                count = int(((y == true) & (pred == guess)).sum())
                rows.append({"model": str(model), "true": true, "predicted": guess, "count": count,
                             "share": count / n_true if n_true else float("nan")})
    return pd.DataFrame(rows, columns=["model", "true", "predicted", "count", "share"])


# ---------------------------------------------------------------------------- Features page
def selection_table(selected: pd.DataFrame, model: str, n_folds: int | None) -> pd.DataFrame:
    """Per feature of one model: folds selected, selection frequency, mean importance over the
    folds that selected it, and the parsed name (stream, statistic, value, window, label)."""
    part = selected[selected["model"] == model]
    if n_folds is None or n_folds <= 0:
        n_folds = max(int(part["fold"].nunique()), 1)
    grouped = part.groupby("feature", sort=False).agg(folds=("fold", "nunique"), mean_importance=("importance", "mean"))
    grouped = grouped.reset_index()
    grouped["frequency"] = grouped["folds"] / n_folds
    parsed = [parse_feature_name(f) for f in grouped["feature"]]
    grouped["stream"] = [p.stream_label for p in parsed]
    grouped["statistic"] = [p.stat_label for p in parsed]
    grouped["value"] = [p.value_label or "" for p in parsed]
    grouped["window"] = [p.window_label if p.parsed else UNPARSED_GROUP for p in parsed]
    # "no window" first, then short to long, names that do not parse last
    grouped["window_order"] = [window_sort_key(p.window) if p.parsed else len(WINDOW_ORDER) + 1 for p in parsed]
    grouped["label"] = [p.label for p in parsed]
    grouped = grouped.sort_values(["frequency", "mean_importance", "feature"], ascending=[False, False, True], na_position="last")
    return grouped.reset_index(drop=True)


def group_selection(table: pd.DataFrame, by: str) -> pd.DataFrame:
    """Sum up a selection table by ``"stream"`` or ``"window"``: features, summed frequency,
    mean importance and the most often selected names."""
    if by not in ("stream", "window"):
        raise ValueError(f"by must be 'stream' or 'window', got {by!r}")
    rows = []
    for key, part in table.groupby(by, sort=False):
        part = part.sort_values(["frequency", "mean_importance"], ascending=False)
        rows.append(
            {
                by: key,
                "features": int(len(part)),
                "selections": float(part["frequency"].sum()),
                "mean_importance": float(part["mean_importance"].mean()) if part["mean_importance"].notna().any() else float("nan"),
                "top_features": ", ".join(part["feature"].head(5)),
                "_order": int(part["window_order"].iloc[0]) if by == "window" else 0,
            }
        )
    out = pd.DataFrame(rows, columns=[by, "features", "selections", "mean_importance", "top_features", "_order"])
    if by == "window":
        out = out.sort_values("_order")
    else:
        out = out.sort_values(["selections", "features"], ascending=False)
    return out.drop(columns="_order").reset_index(drop=True)


# ---------------------------------------------------------------------------- People page
def tz_of(oof: pd.DataFrame | None, default: str = DEFAULT_TZ_OFFSET) -> timezone:
    """The local time zone of the prompts: the one stored with them, else ``default``."""
    if oof is not None and "prompt_time" in oof:
        tz = getattr(oof["prompt_time"].dtype, "tz", None)
        if tz is not None:
            offset = pd.Timestamp("2019-05-01", tz=tz).utcoffset()
            if offset is not None:
                return timezone(offset)
    return parse_tz_offset(default)


def participant_timeline(oof: pd.DataFrame, pcode: str, model: str) -> pd.DataFrame:
    """Out-of-fold rows of one participant and model in time order, with a ``study_day`` axis
    (1.0 = local midnight of their first prompt day) when prompt times are known."""
    rows = oof[(oof["pcode"] == pcode) & (oof["model"] == model)].copy()
    if "prompt_time" in rows and rows["prompt_time"].notna().all() and len(rows):
        times = pd.to_datetime(rows["prompt_time"])
        if times.dt.tz is None:
            times = times.dt.tz_localize("UTC")
        rows["time_ms"] = ((times - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)).astype("float64")
        rows["local_time"] = times.dt.strftime("%Y-%m-%d %H:%M")
        rows = rows.sort_values("time_ms")
        first_midnight = times.min().normalize()
        rows["study_day"] = 1 + (pd.to_datetime(rows["prompt_time"]) - first_midnight).dt.total_seconds() / 86400
    else:
        rows = rows.sort_values("sample")
        rows["time_ms"] = np.nan
        rows["local_time"] = ""
        rows["study_day"] = np.nan
    rows["answer_no"] = np.arange(1, len(rows) + 1)
    return rows.reset_index(drop=True)


def raw_answers(esm: pd.DataFrame, pcode: str, label: str, tz: timezone, first_day_ms: float | None) -> pd.DataFrame:
    """One participant's raw answers to ``label`` from EsmResponse: time (scheduled, or response
    time for voluntary answers), value, whether scheduled, and the study day on the timeline's axis."""
    part = esm[esm["pcode"].astype(str) == pcode]
    if label not in part:
        return pd.DataFrame(columns=["time_ms", "value", "scheduled", "local_time", "study_day"])
    scheduled = part["scheduledTime"].notna()
    time_ms = part["scheduledTime"].where(scheduled, part["responseTime"]).astype("float64")
    out = pd.DataFrame({"time_ms": time_ms.to_numpy(), "value": part[label].to_numpy(dtype=float), "scheduled": scheduled.to_numpy()})
    out = out[np.isfinite(out["time_ms"]) & np.isfinite(out["value"])].sort_values("time_ms")
    local = pd.to_datetime(out["time_ms"], unit="ms", utc=True).dt.tz_convert(tz)
    out["local_time"] = local.dt.strftime("%Y-%m-%d %H:%M")
    origin = first_day_ms
    if origin is None or not np.isfinite(origin):
        origin = float(local.min().normalize().timestamp() * 1000) if len(local) else 0.0
    out["study_day"] = 1 + (out["time_ms"] - origin) / 86_400_000
    return out.reset_index(drop=True)


def first_midnight_ms(timeline: pd.DataFrame, tz: timezone) -> float | None:
    """Epoch ms of local midnight of the first prompt day (the origin of ``study_day``)."""
    if not len(timeline) or not np.isfinite(timeline["time_ms"]).any():
        return None
    first = pd.Timestamp(int(np.nanmin(timeline["time_ms"])), unit="ms", tz="UTC").tz_convert(tz).normalize()
    return float(first.timestamp() * 1000)


# ---------------------------------------------------------------------------- Data page
DAILY_COLUMNS = ("pcode", "type", "day", "rows")


def read_check_json(path: str | Path) -> dict[str, Any]:
    """A check report (``CheckReport.to_dict()``) from a JSON file; ``ValueError`` saying what is wrong."""
    path = Path(path)
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    if not isinstance(report, dict):
        raise ValueError(f"{path}: expected a JSON object (kemo-attention check --json), got {type(report).__name__}")
    return report


def daily_frame(report: dict[str, Any]) -> pd.DataFrame:
    """``daily_rows`` of a check report as a table; ``ValueError`` naming what is missing."""
    records = report.get("daily_rows")
    if records is None:
        raise ValueError("the check report has no 'daily_rows' (made by an older kemo-attention check?)")
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame(columns=list(DAILY_COLUMNS))
    missing = [c for c in DAILY_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"daily_rows records lack key(s) {', '.join(missing)}; expected {', '.join(DAILY_COLUMNS)}")
    frame = frame[list(DAILY_COLUMNS)].copy()
    frame["pcode"] = frame["pcode"].astype(str)
    frame["type"] = frame["type"].astype(str)
    frame["day"] = frame["day"].astype(str)
    frame["rows"] = pd.to_numeric(frame["rows"], errors="coerce").fillna(0).astype("int64")
    return frame


def yield_matrix(daily: pd.DataFrame, types: list[str] | None = None) -> pd.DataFrame:
    """Participant x data type: share of the participant's study days (days with any data)
    on which that type has at least one row. Every type in ``types`` gets a column."""
    with_data = daily[daily["rows"] > 0]
    days_per_pcode = with_data.groupby("pcode")["day"].nunique()
    per_type = with_data.groupby(["pcode", "type"])["day"].nunique().unstack("type")
    pcodes = sorted(set(daily["pcode"]))
    columns = list(types) if types else sorted(set(daily["type"]))
    per_type = per_type.reindex(index=pcodes, columns=columns).fillna(0)
    denominators = days_per_pcode.reindex(pcodes).fillna(0).to_numpy(dtype=float)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(denominators > 0, per_type.to_numpy(dtype=float) / np.maximum(denominators, 1), 0.0)
    return pd.DataFrame(share, index=pd.Index(pcodes, name="pcode"), columns=pd.Index(columns, name="type"))


def day_matrix(daily: pd.DataFrame, data_type: str | None, study_days: bool = False) -> pd.DataFrame:
    """Long table pcode, day, rows for one data type (all types summed when ``None``), with
    every participant x day present (0 rows where nothing was recorded).

    ``study_days=True`` puts each participant on their own axis: day "1" is the first date
    with any data for them, whatever the calendar date (participants started weeks apart).
    """
    frame = daily.copy()
    if study_days:
        dates = pd.to_datetime(frame["day"], errors="coerce")
        first = dates.groupby(frame["pcode"]).transform("min")
        frame["day"] = ((dates - first).dt.days + 1).astype("Int64").astype(str)
    part = frame if data_type is None else frame[frame["type"] == data_type]
    summed = part.groupby(["pcode", "day"], as_index=False)["rows"].sum()
    days = sorted(set(frame["day"]), key=lambda d: (len(d), d) if study_days else (0, d))
    grid = pd.MultiIndex.from_product([sorted(set(frame["pcode"])), days], names=["pcode", "day"])
    full = summed.set_index(["pcode", "day"]).reindex(grid, fill_value=0).reset_index()
    full["rows"] = full["rows"].astype("int64")
    return full



def fold_mean_areas(leaderboard: pd.DataFrame | None, kind: str) -> dict[str, float]:
    """Per model, the leaderboard's mean over the test folds of the curve's area: ROC AUC
    (``kind="roc"``) or PR AUC of class 1 (``"pr"``); models without one are left out."""
    column = "roc_auc_mean" if kind == "roc" else "pr_auc_1_mean"
    if leaderboard is None or column not in leaderboard or "model" not in leaderboard:
        return {}
    values = pd.to_numeric(leaderboard[column], errors="coerce")
    return {str(m): float(v) for m, v in zip(leaderboard["model"], values) if np.isfinite(v)}


def curve_legend(model: str, kind: str, fold_mean: float | None, pooled: float) -> str:
    """Legend of one curve, naming both areas: "lgbm: AUC 0.654 folds · 0.612 pooled"."""
    name = "AUC" if kind == "roc" else "AP"
    folds = f"{fold_mean:.3f} folds · " if fold_mean is not None else ""
    return f"{model}: {name} {folds}{pooled:.3f} pooled"
