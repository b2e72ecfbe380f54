"""Reading a finished study folder: the manifest and the long tables, columns checked.

The folder's contract is the schema in docs/evaluation.md ("The study folder"): one CSV per
kind of result, one row per unit. ``read_study`` is tolerant (the dashboard shows what it
can and says what it cannot); ``require_study`` is strict about the two files without which
there is nothing to report (``manifest.json`` and ``summary.csv``) and is what the report uses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from kemo_attention.errors import DataError, KemoError

MANIFEST_FILE = "manifest.json"
# table name -> columns the report and the dashboard read (a file may hold more).
STUDY_TABLES: dict[str, tuple[str, ...]] = {
    "fold_scores": ("label", "cv", "protocol", "repeat", "fold", "model", "n_train", "n_test", "roc_auc", "f1_macro"),
    "participant_scores": ("label", "cv", "protocol", "repeat", "fold", "model", "pcode", "n", "roc_auc", "f1_macro"),
    "summary": ("label", "cv", "protocol", "model", "metric", "mean", "sd", "ci_low", "ci_high", "interval", "n_units", "n_excluded"),
    "comparisons": ("label", "cv", "protocol", "metric", "model", "versus", "role", "mean_difference", "ci_low", "ci_high",
                    "p_value", "p_holm", "test", "significant"),
    "omnibus": ("label", "cv", "protocol", "metric", "omnibus_test", "omnibus_p", "posthoc_test", "critical_difference",
                "model", "mean_rank"),
    "calibration": ("label", "cv", "model", "variant", "brier", "log_loss", "ece"),
    "reliability": ("label", "cv", "model", "variant", "bin", "lower", "upper", "n", "mean_predicted", "fraction_positive"),
    "personalization": ("label", "cv", "model", "metric", "population_mean", "hybrid_mean", "gain", "ci_low", "ci_high",
                        "p_value", "test", "personal_labels", "participants_scored", "participants_excluded"),
    "tuning": ("label", "cv", "repeat", "fold", "model", "params", "inner_score", "trials"),
}
REQUIRED_TABLES = ("summary",)
TEXT_COLUMNS = ("label", "cv", "protocol", "model", "metric", "versus", "role", "variant", "pcode", "interval", "test")

# The zoo's order (issue 17's table), a tuned variant right after its base, the dummy last.
MODEL_ORDER = ("logreg", "rf", "lgbm", "voting", "evxgb")
CV_NAMES = {"sgkf": "repeated stratified group 5-fold CV", "logo": "leave one participant out"}
PROTOCOL_NAMES = {
    "population": "population (no answers of the test participant in training)",
    "hybrid": "hybrid (personalized with the test participant's first answers)",
}
# what the hybrid protocol did, by the study's --personal-method (manifest settings)
HYBRID_METHODS = {
    "offset": "hybrid (each test participant's first K answers fit a personal offset on the population model's score)",
    "rows": "hybrid (each test participant's first K answers join the training rows)",
}


def model_sort_key(model: str) -> tuple[int, int, str]:
    base, tuned = (model[: -len("-tuned")], 1) if model.endswith("-tuned") else (model, 0)
    if base == "dummy":
        return (len(MODEL_ORDER) + 1, tuned, model)
    position = MODEL_ORDER.index(base) if base in MODEL_ORDER else len(MODEL_ORDER)
    return (position, tuned, model)


def ordered_models(models) -> list[str]:
    return sorted(dict.fromkeys(str(m) for m in models), key=model_sort_key)


@dataclass
class StudyFolder:
    """The readable parts of one study folder, and why the other parts are missing."""

    path: Path
    manifest: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # file name -> what is wrong

    def get(self, name: str) -> pd.DataFrame | None:
        return self.tables.get(name)

    def rows(self, name: str, **where: str) -> pd.DataFrame:
        """Rows of a table matching every ``column=value`` given; empty when the table is absent."""
        table = self.get(name)
        if table is None:
            return pd.DataFrame(columns=list(STUDY_TABLES[name]))
        mask = pd.Series(True, index=table.index)
        for column, value in where.items():
            mask &= table[column] == value
        return table[mask]

    def labels(self) -> list[str]:
        """Labels in the manifest's order, then any others the summary holds."""
        summary = self.get("summary")
        present = list(dict.fromkeys(summary["label"])) if summary is not None else []
        settings = self.manifest.get("settings") or {}
        declared = settings.get("labels") if isinstance(settings, dict) else None
        declared = [str(x) for x in declared] if isinstance(declared, list) else []
        return [x for x in declared if x in present] + [x for x in present if x not in declared]

    def cvs(self, label: str) -> list[str]:
        return _in_order(self.rows("summary", label=label)["cv"], tuple(CV_NAMES))

    def protocols(self, label: str, cv: str) -> list[str]:
        return _in_order(self.rows("summary", label=label, cv=cv)["protocol"], tuple(PROTOCOL_NAMES))

    def models(self, **where: str) -> list[str]:
        return ordered_models(self.rows("summary", **where)["model"])

    def cd_plots(self, label: str, cv: str) -> list[Path]:
        """The critical-difference diagrams ``plots/<label>/cd_<cv>_<metric>.png`` present."""
        return sorted((self.path / "plots" / label).glob(f"cd_{cv}_*.png"))


def _in_order(values, known: tuple[str, ...]) -> list[str]:
    present = list(dict.fromkeys(str(v) for v in values))
    return [v for v in known if v in present] + [v for v in present if v not in known]


def read_study(path: str | Path) -> StudyFolder:
    """Manifest and tables of a study folder; what cannot be read goes to ``problems``."""
    path = Path(path)
    if not path.is_dir():
        raise KemoError(f"{path}: no such folder; expected the folder `kemo-attention study --out` wrote")
    study = StudyFolder(path)
    manifest = path / MANIFEST_FILE
    if not manifest.is_file():
        study.problems[MANIFEST_FILE] = "missing"
    else:
        try:
            loaded = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            study.problems[MANIFEST_FILE] = f"not readable JSON ({exc})"
        else:
            if isinstance(loaded, dict):
                study.manifest = loaded
            else:
                study.problems[MANIFEST_FILE] = f"expected a JSON object, got {type(loaded).__name__}"
    for name, columns in STUDY_TABLES.items():
        file_name = f"{name}.csv"
        file = path / file_name
        if not file.is_file():
            study.problems[file_name] = "missing"
            continue
        try:
            table = pd.read_csv(file, dtype={c: str for c in TEXT_COLUMNS}, keep_default_na=True)
        except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            study.problems[file_name] = f"not a readable CSV ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
            continue
        missing = [c for c in columns if c not in table.columns]
        if missing:
            study.problems[file_name] = f"lacks column(s) {', '.join(missing)}"
            continue
        study.tables[name] = table
    return study


def require_study(path: str | Path) -> StudyFolder:
    """``read_study``, refusing a folder without a readable manifest and summary (``DataError``)."""
    study = read_study(path)
    for file_name in (MANIFEST_FILE, *(f"{t}.csv" for t in REQUIRED_TABLES)):
        if file_name in study.problems:
            raise DataError(f"{study.problems[file_name]}; expected the folder `kemo-attention study --out` wrote",
                            file=str(study.path / file_name))
    if study.get("summary").empty:
        raise DataError("no rows; the study scored nothing", file=str(study.path / "summary.csv"))
    return study
