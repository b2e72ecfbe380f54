"""The numbers of a study, from its fitted folds: scores per unit, intervals, tests, calibration.

A *unit* is what the statistics treat as one observation: a fold of repeated stratified group
k-fold (``sgkf``; its score pools the fold's test rows), or a participant under
leave-one-subject-out (``logo``). Every model of a label is scored on identical units, so every
comparison is paired.

Protocols: ``population`` scores the models as fitted; ``hybrid`` first shifts each test
participant's probabilities by a personal offset learned from that participant's first K
answers (:mod:`kemo_attention.models.personalize`). When ``hybrid`` is run, both protocols are
scored on the participants' later prompts only, so the personalization gain is paired too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ALPHA = 0.05
ECE_BINS = 10
UNIT_METRICS = ("roc_auc", "f1_macro", "balanced_accuracy", "brier", "log_loss", "ece")
TESTED_METRICS = ("roc_auc", "f1_macro")  # the metrics compared between models (the headline pair)
LOWER_IS_BETTER = {"brier", "log_loss", "ece"}


@dataclass
class StudyTables:
    frames: dict[str, pd.DataFrame]
    oof: pd.DataFrame
    unit_tables: dict[tuple[str, str, str, str], pd.DataFrame] = field(default_factory=dict)  # for CD diagrams
    omnibus_results: dict[tuple[str, str, str, str], Any] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)


def _scores(y, p) -> dict[str, float]:
    from kemo_attention.evaluate.metrics import binary_metrics, expected_calibration_error

    m = binary_metrics(y, p)
    out = {k: m[k] for k in UNIT_METRICS if k != "ece"}
    out["ece"] = expected_calibration_error(y, p, n_bins=ECE_BINS) if len(y) else np.nan
    return out


def compute_tables(inputs, settings, results) -> StudyTables:
    """Every table of the study folder (docs/evaluation.md, "The study")."""
    from kemo_attention.models.personalize import personalize_predictions
    from kemo_attention.evaluate.report import prompt_order

    by_label = {i.label: i for i in inputs}
    hybrid = "hybrid" in settings.protocols
    K = settings.personal_labels
    fold_rows, participant_rows, oof_parts, tuning_rows = [], [], [], []
    calib_parts: dict[tuple[str, str, str], list] = {}
    excluded_people: dict[tuple[str, str], set] = {}
    scored_people: dict[tuple[str, str], set] = {}
    order_cache = {label: prompt_order(i.dataset) for label, i in by_label.items()}
    for label, order in order_cache.items():
        if hybrid and (order < 0).any():
            from kemo_attention.errors import KemoError

            raise KemoError(
                f"{by_label[label].path}: the hybrid protocol needs each sample's prompt time (t or date_times); "
                "this file has none: use --protocol population"
            )

    for r in results:
        item = by_label[r["label"]]
        y, groups = item.dataset.y, item.dataset.group
        te = r["test_idx"]
        y_te, g_te = y[te], np.asarray(groups[te]).astype(str)
        base = {"label": r["label"], "cv": r["cv"], "repeat": r["repeat"], "fold": r["fold"]}
        for rec in r["tuning"]:
            tuning_rows.append({**base, "model": rec["model"], "params": _json(rec["params"]),
                                "inner_score": rec["inner_score"], "trials": rec["trials"]})  # fmt: skip
        for model, p in r["proba"].items():
            variants = {"population": (p, np.ones(te.shape[0], dtype=bool))}
            if hybrid:
                p_h, scored, _ = personalize_predictions(p, y_te, g_te, order_cache[r["label"]][te], K)
                if r.get("proba_rows"):  # the rows method: refitted with the personal rows in training
                    p_h = r["proba_rows"].get(model)  # tuned models are not refitted: no hybrid row
                variants = {"population": (p, scored), **({"hybrid": (p_h, scored)} if p_h is not None else {})}
                people = set(np.unique(g_te))
                kept = set(np.unique(g_te[scored]))
                excluded_people.setdefault((r["label"], r["cv"]), set()).update(people - kept)
                scored_people.setdefault((r["label"], r["cv"]), set()).update(kept)
            for protocol in (name for name in settings.protocols if name in variants):
                pp, mask = variants[protocol]
                ys, ps, gs = y_te[mask], pp[mask], g_te[mask]
                key = {**base, "protocol": protocol, "model": model}
                if r["cv"] == "sgkf":
                    fold_rows.append({**key, "pcode": "", "n_train": r["n_train"], "n_test": int(mask.sum()),
                                      "n_test_participants": int(np.unique(gs).shape[0]), **_scores(ys, ps)})  # fmt: skip
                for code in np.unique(gs):
                    sel = gs == code
                    s = _scores(ys[sel], ps[sel])
                    participant_rows.append({**key, "pcode": code, "n": int(sel.sum()), "n_1": int(ys[sel].sum()),
                                             "roc_auc": s["roc_auc"], "f1_macro": s["f1_macro"], **(
                                                 {"_scores": s, "_n_train": r["n_train"]} if r["cv"] == "logo" else {})})  # fmt: skip
                oof_parts.append(pd.DataFrame({
                    **key, "sample": te[mask], "pcode": gs, "y_true": ys, "proba": ps,
                }))  # fmt: skip
            if r["calibrated"] and model in r["calibrated"]:
                calib_parts.setdefault((r["label"], r["cv"], model), []).append(
                    (y_te, p, r["calibrated"][model])
                )

    participants = pd.DataFrame(participant_rows)
    # leave-one-subject-out: the unit is the participant, scored on their own (scored) rows
    logo_rows = []
    if not participants.empty and "_scores" in participants:
        for row in participants[participants["cv"] == "logo"].to_dict("records"):
            logo_rows.append({k: row[k] for k in ("label", "cv", "protocol", "repeat", "fold", "model", "pcode")}
                             | {"n_train": row["_n_train"], "n_test": row["n"], "n_test_participants": 1, **row["_scores"]})  # fmt: skip
        participants = participants.drop(columns=["_scores", "_n_train"])
    folds = pd.DataFrame(fold_rows + logo_rows)
    folds = folds[["label", "cv", "protocol", "repeat", "fold", "model", "pcode", "n_train", "n_test",
                   "n_test_participants", *UNIT_METRICS]]  # fmt: skip

    tables = StudyTables(frames={}, oof=pd.concat(oof_parts, ignore_index=True))
    summary, comparisons, omnibus_rows, personal_rows = [], [], [], []
    for (label, cv, protocol), part in folds.groupby(["label", "cv", "protocol"], sort=False):
        units = _unit_tables(part)
        people = _participant_tables(participants, label, cv, protocol, list(units["roc_auc"].columns))
        summary += _summary_rows(label, cv, protocol, units, part)
        best = _best_model(units["roc_auc"])
        comparisons += _comparison_rows(label, cv, protocol, units, part, best, people)
        for metric in TESTED_METRICS:
            table = units[metric]
            tables.unit_tables[(label, cv, protocol, metric)] = table
            rows, result = _omnibus_rows(label, cv, protocol, metric, table)
            omnibus_rows += rows
            tables.omnibus_results[(label, cv, protocol, metric)] = result
    if hybrid:
        for (label, cv), part in folds.groupby(["label", "cv"], sort=False):
            personal_rows += _personalization_rows(label, cv, part, participants, K, scored_people, excluded_people)
    calibration, reliability = _calibration_rows(calib_parts, settings.calibrate)

    tables.frames = {
        "fold_scores": folds,
        "participant_scores": participants,
        "summary": pd.DataFrame(summary),
        "comparisons": pd.DataFrame(comparisons, columns=COMPARISON_COLUMNS),
        "omnibus": pd.DataFrame(omnibus_rows, columns=OMNIBUS_COLUMNS),
        "calibration": pd.DataFrame(calibration, columns=CALIBRATION_COLUMNS),
        "reliability": pd.DataFrame(reliability, columns=RELIABILITY_COLUMNS),
        "personalization": pd.DataFrame(personal_rows, columns=PERSONAL_COLUMNS),
        "tuning": pd.DataFrame(tuning_rows, columns=["label", "cv", "repeat", "fold", "model", "params", "inner_score", "trials"]),
    }
    tables.notes = {
        "participants_without_later_prompts": {
            f"{label}/{cv}": sorted(people) for (label, cv), people in excluded_people.items() if people
        },
    }
    return tables


COMPARISON_COLUMNS = [
    "label", "cv", "protocol", "metric", "model", "versus", "role", "mean_difference", "ci_low", "ci_high",
    "statistic", "p_value", "p_holm", "test", "n_units", "n_excluded", "participant_difference", "p_participants",
    "p_participants_holm", "test_participants", "n_participants", "significant",
]  # fmt: skip
OMNIBUS_COLUMNS = [
    "label", "cv", "protocol", "metric", "omnibus_test", "omnibus_p", "posthoc_test", "critical_difference",
    "model", "mean_rank", "meanrank_group", "units", "units_excluded", "assumptions",
]  # fmt: skip
CALIBRATION_COLUMNS = ["label", "cv", "model", "variant", "brier", "log_loss", "ece", "n_bins", "n"]
RELIABILITY_COLUMNS = ["label", "cv", "model", "variant", "bin", "lower", "upper", "n", "mean_predicted", "fraction_positive"]
PERSONAL_COLUMNS = [
    "label", "cv", "model", "metric", "population_mean", "hybrid_mean", "gain", "ci_low", "ci_high", "p_value",
    "test", "n_units", "p_participants", "test_participants", "n_participants", "personal_labels",
    "participants_scored", "participants_excluded",
]  # fmt: skip


def _json(value) -> str:
    import json

    return json.dumps(value, sort_keys=True, default=float)


def _unit_tables(part: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per metric: units (rows: repeat+fold, or participant) x models (columns), in model order."""
    models = list(dict.fromkeys(part["model"]))
    index = ["repeat", "fold"] if (part["cv"] == "sgkf").all() else ["pcode"]
    return {
        metric: part.pivot_table(index=index, columns="model", values=metric, aggfunc="first", dropna=False)
        .reindex(columns=models)
        for metric in UNIT_METRICS
    }


def _sizes(part: pd.DataFrame) -> tuple[float, float]:
    """Mean training and test sizes over the units (the corrected t-test's n_train / n_test)."""
    first = part[part["model"] == part["model"].iloc[0]]
    return float(first["n_train"].mean()), float(first["n_test"].mean())


def _interval(cv: str, values: np.ndarray, part: pd.DataFrame):
    from kemo_attention.study.stats import corrected_resampled_interval, participant_interval

    if cv == "sgkf":
        n_train, n_test = _sizes(part)
        return corrected_resampled_interval(values, n_train, n_test, alpha=ALPHA)
    return participant_interval(values, alpha=ALPHA)


def _summary_rows(label, cv, protocol, units, part) -> list[dict]:
    rows = []
    for metric, table in units.items():
        for model in table.columns:
            values = table[model].to_numpy(dtype=float)
            finite = values[np.isfinite(values)]
            iv = _interval(cv, finite, part) if finite.shape[0] >= 2 else None
            rows.append({
                "label": label, "cv": cv, "protocol": protocol, "model": model, "metric": metric,
                "mean": float(finite.mean()) if finite.shape[0] else np.nan,
                "sd": float(finite.std(ddof=1)) if finite.shape[0] >= 2 else np.nan,
                "ci_low": iv.ci_low if iv else np.nan, "ci_high": iv.ci_high if iv else np.nan,
                "interval": iv.method if iv else "", "n_units": int(finite.shape[0]),
                "n_excluded": int(values.shape[0] - finite.shape[0]),
            })  # fmt: skip
    return rows


def _best_model(auc: pd.DataFrame) -> str | None:
    """The model of highest mean ROC AUC over units, the dummy excluded (ties: model order)."""
    means = auc.drop(columns=[c for c in auc.columns if c == "dummy"]).mean(skipna=True)
    means = means.dropna()
    return str(means.idxmax()) if not means.empty else None


def _paired_test(cv: str, a: np.ndarray, b: np.ndarray, part: pd.DataFrame):
    """a - b on identical units: corrected resampled t (sgkf) or Wilcoxon over participants (logo)."""
    from kemo_attention.study.stats import corrected_resampled_ttest, wilcoxon_paired

    if cv == "sgkf":
        n_train, n_test = _sizes(part)
        return corrected_resampled_ttest(a - b, n_train, n_test, alpha=ALPHA)
    return wilcoxon_paired(a, b)


def _participant_tables(participants: pd.DataFrame, label, cv, protocol, models) -> dict[str, pd.DataFrame]:
    """Per tested metric: participants x models, each participant's score averaged over repeats.

    Every participant is tested once per repeat (sgkf) or once (logo), so these are one value
    per person: independent units, unlike overlapping folds.
    """
    part = participants[(participants["label"] == label) & (participants["cv"] == cv) & (participants["protocol"] == protocol)]
    return {
        metric: part.pivot_table(index="pcode", columns="model", values=metric, aggfunc="mean", dropna=False).reindex(columns=models)
        for metric in TESTED_METRICS
    }


def _comparison_rows(label, cv, protocol, units, part, best, people) -> list[dict]:
    """Paired tests of every model against the dummy and the best model, with Holm per family.

    Two tests per comparison: the design's own (corrected resampled t over the folds of
    repeated k-fold; Wilcoxon over participants for logo), and the Wilcoxon signed-rank test
    over participants of their scores averaged over repeats (``p_participants``). The
    simulation in docs/evaluation.md found the corrected t rejecting 16-21 % of the time with
    nothing to find on participant-grouped data, and the participant test at alpha, so
    ``significant`` is decided by the participant test (after Holm).
    """
    from kemo_attention.study.stats import holm, wilcoxon_paired

    rows = []
    for metric in TESTED_METRICS:
        table = units[metric]
        per_person = people[metric]
        family = []
        for model in table.columns:
            for versus, role in (("dummy", "vs_dummy"), (best, "vs_best")):
                if versus is None or model == versus or model == "dummy" or versus not in table.columns:
                    continue
                res = _paired_test(cv, table[model].to_numpy(float), table[versus].to_numpy(float), part)
                family.append({
                    "label": label, "cv": cv, "protocol": protocol, "metric": metric, "model": model,
                    "versus": versus, "role": role, "mean_difference": res.mean_difference,
                    "ci_low": res.ci_low, "ci_high": res.ci_high, "statistic": res.statistic,
                    "p_value": res.p_value, "test": res.test, "n_units": res.n_units, "n_excluded": res.n_excluded,
                })  # fmt: skip
                by_person = wilcoxon_paired(per_person[model].to_numpy(float), per_person[versus].to_numpy(float))
                family[-1].update({
                    "participant_difference": by_person.mean_difference, "p_participants": by_person.p_value,
                    "test_participants": by_person.test, "n_participants": by_person.n_units,
                })  # fmt: skip
        # Holm within the label (per cv, protocol and metric): every test against the dummy and
        # against the best model is one family, so "some model beats the floor" is controlled.
        if family:
            adjusted = holm(np.array([row["p_value"] for row in family], dtype=float))
            by_person = holm(np.array([row["p_participants"] for row in family], dtype=float))
            for row, p_adj, p_person in zip(family, adjusted, by_person):
                row["p_holm"] = float(p_adj)
                row["p_participants_holm"] = float(p_person)
                row["significant"] = bool(np.isfinite(p_person) and p_person < ALPHA)
        rows += family
    return rows


def _omnibus_rows(label, cv, protocol, metric, table: pd.DataFrame):
    from kemo_attention.study.stats import omnibus

    complete = table.dropna(axis=0, how="any")
    base = {"label": label, "cv": cv, "protocol": protocol, "metric": metric,
            "units": int(complete.shape[0]), "units_excluded": int(table.shape[0] - complete.shape[0])}  # fmt: skip
    if complete.shape[1] < 3:  # two models: the paired tests above are the comparison
        return [{**base, "omnibus_test": "not run (two models: see the paired tests)", "model": m} for m in table.columns], None
    if complete.shape[0] < 2:
        return [{**base, "omnibus_test": "not run (fewer than 2 complete units)", "model": m} for m in table.columns], None
    result = omnibus(complete, alpha=ALPHA, higher_is_better=metric not in LOWER_IS_BETTER)
    ranks = result.ranks.set_index("model") if len(result.ranks) else pd.DataFrame(columns=["mean_rank", "meanrank_group"])
    rows = []
    for model in table.columns:
        rows.append({
            **base, "omnibus_test": result.omnibus_test, "omnibus_p": result.omnibus_p,
            "posthoc_test": result.posthoc_test, "critical_difference": result.critical_difference,
            "model": model, "mean_rank": ranks["mean_rank"].get(model, np.nan),
            "meanrank_group": ranks["meanrank_group"].get(model, ""), "assumptions": result.assumptions or result.note,
        })  # fmt: skip
    return rows, result


def _personalization_rows(label, cv, part, participants, K, scored_people, excluded_people) -> list[dict]:
    """Hybrid minus population on the same later prompts, per model and metric, paired."""
    from kemo_attention.study.stats import wilcoxon_paired

    rows = []
    pop = _unit_tables(part[part["protocol"] == "population"])
    hyb = _unit_tables(part[part["protocol"] == "hybrid"])
    models = [m for m in pop["roc_auc"].columns if m in hyb["roc_auc"].columns]
    pop_people = _participant_tables(participants, label, cv, "population", models)
    hyb_people = _participant_tables(participants, label, cv, "hybrid", models)
    for metric in TESTED_METRICS:
        # tuned models have no hybrid rows under the rows method (they are not refitted)
        for model in [m for m in pop[metric].columns if m in hyb[metric].columns]:
            a = hyb[metric][model].to_numpy(float)
            b = pop[metric][model].to_numpy(float)
            res = _paired_test(cv, a, b, part[part["protocol"] == "hybrid"])
            by_person = wilcoxon_paired(hyb_people[metric][model].to_numpy(float), pop_people[metric][model].to_numpy(float))
            rows.append({
                "label": label, "cv": cv, "model": model, "metric": metric,
                "population_mean": float(np.nanmean(b)), "hybrid_mean": float(np.nanmean(a)),
                "gain": res.mean_difference, "ci_low": res.ci_low, "ci_high": res.ci_high, "p_value": res.p_value,
                "test": res.test, "n_units": res.n_units, "p_participants": by_person.p_value,
                "test_participants": by_person.test, "n_participants": by_person.n_units, "personal_labels": K,
                "participants_scored": len(scored_people.get((label, cv), ())),
                "participants_excluded": len(excluded_people.get((label, cv), ())),
            })  # fmt: skip
    return rows


def _calibration_rows(calib_parts, method: str):
    """Raw and calibrated probabilities of the calibrated repeats, pooled per label, cv and model."""
    from kemo_attention.evaluate.metrics import binary_metrics, expected_calibration_error, reliability_table

    rows, curves = [], []
    for (label, cv, model), parts in calib_parts.items():
        y = np.concatenate([p[0] for p in parts])
        for variant, p in (("raw", np.concatenate([p[1] for p in parts])), (method, np.concatenate([p[2] for p in parts]))):
            m = binary_metrics(y, p)
            rows.append({"label": label, "cv": cv, "model": model, "variant": variant, "brier": m["brier"],
                         "log_loss": m["log_loss"], "ece": expected_calibration_error(y, p, n_bins=ECE_BINS),
                         "n_bins": ECE_BINS, "n": int(y.shape[0])})  # fmt: skip
            for row in reliability_table(y, p, n_bins=ECE_BINS).to_dict("records"):
                curves.append({"label": label, "cv": cv, "model": model, "variant": variant, **row})
    return rows, curves


def draw_cd_diagrams(tables: StudyTables, plots_dir: Path) -> None:
    """Critical-difference diagrams of the population protocol, one per label, cv and metric."""
    from kemo_attention.study.stats import cd_diagram

    for (label, cv, protocol, metric), result in tables.omnibus_results.items():
        if result is None or protocol != "population":
            continue
        path = Path(plots_dir) / label / f"cd_{cv}_{metric}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        cd_diagram(result, path)
