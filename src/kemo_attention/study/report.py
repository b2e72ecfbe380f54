"""The study's report: ``report.html`` (self-contained) and ``summary.md``, from the study folder.

``write_report(study_dir)`` reads the folder (``read.require_study``), builds the content
once as blocks (``report_format``) and renders it twice. It draws one picture itself, the
reliability diagram of each label and CV (one panel per model, raw against calibrated
probabilities, from ``reliability.csv``), saved as ``plots/<label>/reliability_<cv>.png``
and embedded; the critical-difference diagrams the study drew are embedded as they are.

Sections: what was run (manifest); how to read it; a summary across labels (rows label,
columns model, as in the dataset authors' table); per label and CV, one table per
protocol, the omnibus test, the diagrams and the tuning; the tests and their assumptions.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from kemo_attention.files import atomic_write, atomic_write_text
from kemo_attention.study.read import CV_NAMES, HYBRID_METHODS, PROTOCOL_NAMES, StudyFolder, ordered_models, require_study
from kemo_attention.study.report_format import (
    Block, Bullets, Cell, Heading, Image, Note, Paragraph, Table, fmt_interval, fmt_number, fmt_p, fmt_signed, p_phrase,
    render_html, render_markdown, slug,
)

TITLE = "kemo-attention study"
HEADLINE_METRIC = "roc_auc"  # what "best" means, and the metric the p values compare
METRIC_NAMES = {"roc_auc": "ROC AUC", "f1_macro": "macro F1", "balanced_accuracy": "balanced accuracy", "brier": "Brier",
                "log_loss": "log loss", "ece": "ECE"}
VARIANT_STYLE = {"raw": ("#1d2430", "o", "-"), "sigmoid": ("#1f77b4", "s", "--"), "isotonic": ("#d62728", "^", ":")}


def write_report(study_dir: Path) -> tuple[Path, Path]:
    """Write ``report.html`` and ``summary.md`` into ``study_dir`` (each atomically) and the
    reliability diagrams into ``plots/<label>/``; return the two paths."""
    study = require_study(study_dir)
    blocks = report_blocks(study)
    html_path = atomic_write_text(study.path / "report.html", render_html(TITLE, blocks))
    md_path = atomic_write_text(study.path / "summary.md", render_markdown(blocks))
    return html_path, md_path


def report_blocks(study: StudyFolder) -> list[Block]:
    blocks: list[Block] = [Heading(1, TITLE)]
    if study.manifest.get("complete") is not True:
        blocks.append(Note("The manifest does not say this study is complete: tables may be partial."))
    blocks += _what_was_run(study)
    blocks += _how_to_read(study)
    blocks += _summary_across_labels(study)
    for label in study.labels():
        blocks += _label_section(study, label)
    blocks += _tests_and_assumptions(study)
    if study.problems:
        blocks += [Heading(2, "Files not read", "files-not-read"),
                   Bullets(tuple(f"`{name}`: {why}" for name, why in sorted(study.problems.items())))]
    return blocks


# ---------------------------------------------------------------------------- header
def _value_text(value) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) if value else "(none)"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _what_was_run(study: StudyFolder) -> list[Block]:
    summary = study.get("summary")
    manifest = study.manifest
    rows = [
        ("labels", ", ".join(study.labels())),
        ("cross-validation", ", ".join(f"{cv} ({CV_NAMES.get(cv, cv)})" for cv in dict.fromkeys(summary["cv"]))),
        ("protocols", ", ".join(dict.fromkeys(summary["protocol"]))),
        ("models", ", ".join(ordered_models(summary["model"]))),
    ]
    settings = manifest.get("settings") if isinstance(manifest.get("settings"), dict) else {}
    shown = {"labels", "cv", "protocols", "models"}  # already in the rows above
    rows += [(f"setting `{key}`", _value_text(value)) for key, value in settings.items() if key not in shown]
    for section in ("seeds", "versions", "timings"):
        values = manifest.get(section)
        if isinstance(values, dict) and values:
            rows.append((section, "; ".join(f"{k} {_value_text(v)}" for k, v in values.items())))
    blocks: list[Block] = [
        Heading(2, "What was run", "what-was-run"),
        # the runner writes the report inside a temporary folder renamed when complete: the
        # manifest names the folder the user asked for
        Paragraph(f"Study folder `{manifest.get('folder') or study.path.name}`: the tables below are read from its "
                  "CSV files and `manifest.json`."),
        Table(("item", "value"), tuple((Cell.of(k), Cell.of(v)) for k, v in rows), "run", "facts"),
    ]
    inputs = manifest.get("inputs")
    if isinstance(inputs, dict) and inputs:
        input_rows = []
        for label, entry in inputs.items():
            entry = entry if isinstance(entry, dict) else {}
            input_rows.append((Cell.of(str(label)), Cell.of(f"`{entry.get('path', 'n/a')}`"), Cell.of(f"`{entry.get('sha256', 'n/a')}`")))
        blocks.append(Table(("label", "feature file", "SHA-256"), tuple(input_rows), "inputs", "facts",
                            "The input files and their hashes: the same hash means the same data."))
    return blocks


def _how_to_read(study: StudyFolder) -> list[Block]:
    summary = study.get("summary")
    methods = "; ".join(f"{cv}: {m}" for cv, m in summary.groupby("cv", sort=False)["interval"].first().items())
    comparisons = study.get("comparisons")
    tests = ", ".join(dict.fromkeys(comparisons["test"].astype(str))) if comparisons is not None and len(comparisons) else "none run"
    omnibus = study.get("omnibus")
    omnibus_tests = ", ".join(dict.fromkeys(omnibus["omnibus_test"].astype(str))) if omnibus is not None and len(omnibus) else "none run"
    text = (
        "Every number is a mean over the test units (folds of the repeated CV, or participants when each is left out "
        f"in turn) with a 95 % confidence interval in brackets. Intervals: {methods}. "
        f"The p values compare each model's {METRIC_NAMES[HEADLINE_METRIC]} with the dummy (the chance floor) and with the "
        f"label's best model on the same units ({tests}); they are adjusted for the several comparisons with Holm's "
        "step-down method, and a difference is called significant (bold) when the adjusted p of the test over participants "
        "is below 0.05. Under repeated k-fold two p values are shown: 'people', a Wilcoxon signed-rank test over the "
        "participants' scores averaged over repeats, and 'folds', the Nadeau-Bengio corrected resampled t-test over the "
        "folds; our simulation found the latter rejecting far more often than 5 % when there is nothing to find "
        "(docs/evaluation.md), so 'people' decides. The same simulation found the corrected interval of repeated "
        "k-fold holding the true value in about 80-84 % of data sets rather than 95 %: read it as too narrow. "
        f"Across all models at once: {omnibus_tests}, then a post-hoc test whose critical difference (CD) is the gap in "
        "mean rank two models need to differ. ECE is the expected calibration error (10 equal-width bins), shown for the "
        "raw probabilities and after calibration. The personalization gain is hybrid minus population on the same later prompts."
    )
    return [Heading(2, "How to read this report", "how-to-read"), Paragraph(text)]


# ---------------------------------------------------------------------------- summary
def _mean_row(study: StudyFolder, metric: str, **where: str) -> dict[str, pd.Series]:
    part = study.rows("summary", metric=metric, **where)
    return {str(row["model"]): row for _, row in part.iterrows()}


def best_model(study: StudyFolder, label: str, cv: str, protocol: str) -> str | None:
    """The highest mean ROC AUC among the non-dummy models (the schema's "best")."""
    rows = _mean_row(study, HEADLINE_METRIC, label=label, cv=cv, protocol=protocol)
    scored = {m: float(r["mean"]) for m, r in rows.items() if m != "dummy" and np.isfinite(float(r["mean"]))}
    return max(scored, key=scored.get) if scored else None


def summary_tables(study: StudyFolder) -> list[tuple[str, str, Table]]:
    """Per (cv, protocol): rows label, columns model, cells ROC AUC mean [CI] and macro F1; the best bold."""
    summary = study.get("summary")
    out = []
    for (cv, protocol), part in summary.groupby(["cv", "protocol"], sort=False):
        models = ordered_models(part["model"])
        rows = []
        for label in [x for x in study.labels() if x in set(part["label"])]:
            auc = _mean_row(study, HEADLINE_METRIC, label=label, cv=cv, protocol=protocol)
            f1 = _mean_row(study, "f1_macro", label=label, cv=cv, protocol=protocol)
            best = best_model(study, label, cv, protocol)
            cells = [Cell.of(label)]
            for model in models:
                if model not in auc:
                    cells.append(Cell.of("n/a"))
                    continue
                a = auc[model]
                f1_text = f"F1 {fmt_number(f1[model]['mean'])}" if model in f1 else ""
                cells.append(Cell.of(fmt_number(a["mean"]), fmt_interval(a["ci_low"], a["ci_high"]), f1_text, bold=model == best))
            rows.append(tuple(cells))
        caption = (f"ROC AUC mean [95 % CI], macro F1 mean below; bold: the best model of the row by mean ROC AUC. "
                   f"CV: {CV_NAMES.get(cv, cv)}; protocol {protocol_name(study, protocol)}.")
        out.append((cv, protocol, Table(("label", *models), tuple(rows), slug("summary", cv, protocol), "summary", caption)))
    return out


def _summary_across_labels(study: StudyFolder) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Summary across labels", "summary")]
    for cv, protocol, table in summary_tables(study):
        blocks += [Heading(3, f"{cv} · {protocol}"), table]
    return blocks


# ---------------------------------------------------------------------------- per label
def _label_section(study: StudyFolder, label: str) -> list[Block]:
    blocks: list[Block] = [Heading(2, f"Label: {label}", slug("label", label))]
    for cv in study.cvs(label):
        blocks.append(Heading(3, f"{label} · {cv} ({CV_NAMES.get(cv, cv)})", slug("label", label, cv)))
        for protocol in study.protocols(label, cv):
            blocks.append(Heading(4, f"Protocol {protocol_name(study, protocol)}"))
            blocks.append(model_table(study, label, cv, protocol))
            blocks += _left_out(study, label, cv, protocol)
            blocks += _omnibus(study, label, cv, protocol)
        blocks += _cd_diagrams(study, label, cv)
        blocks += _reliability(study, label, cv)
        blocks += _tuning(study, label, cv)
    return blocks


def protocol_name(study: StudyFolder, protocol: str) -> str:
    """The protocol in words, as this study ran it: which rows are scored, how hybrid personalizes."""
    settings = study.manifest.get("settings") if isinstance(study.manifest.get("settings"), dict) else {}
    k = settings.get("personal_labels", "K")
    both = "hybrid" in (settings.get("protocols") or ())
    if protocol == "hybrid":
        return HYBRID_METHODS.get(str(settings.get("personal_method")), PROTOCOL_NAMES["hybrid"]).replace("first K", f"first {k}") + (
            f"; scored on their later prompts")
    if protocol == "population" and both:
        return (f"population (no answers of the test participant in training); scored on the same later prompts as "
                f"hybrid, i.e. without each participant's first {k}")
    return PROTOCOL_NAMES.get(protocol, protocol)


def _left_out(study: StudyFolder, label: str, cv: str, protocol: str) -> list[Block]:
    """How many units (and, for the test over participants, people) had no ROC AUC: their test
    rows held one class, so they are left out of the AUC means and tests, never filled in."""
    summary = study.rows("summary", label=label, cv=cv, protocol=protocol, metric=HEADLINE_METRIC)
    comparisons = study.rows("comparisons", label=label, cv=cv, protocol=protocol, metric=HEADLINE_METRIC)
    if summary is None or summary.empty:
        return []
    unit = "participants" if cv == "logo" else "folds"
    units = int((summary["n_units"] + summary["n_excluded"]).max())
    left = int(summary["n_excluded"].max())
    parts = [f"ROC AUC: {left} of {units} {unit} left out (their test rows hold one class)"] if left else []
    if cv != "logo" and comparisons is not None and "n_participants" in comparisons and len(comparisons):
        people = int(comparisons["n_participants"].min())
        total = int(study.manifest.get("inputs", {}).get(label, {}).get("participants", people))
        if people < total:
            parts.append(f"the test over participants used {people} of {total} (the others have one class in their "
                         "scored prompts)")
    settings = study.manifest.get("settings") if isinstance(study.manifest.get("settings"), dict) else {}
    if protocol == "hybrid" and cv == "logo" and settings.get("personal_method", "offset") == "offset":
        parts.append("an offset cannot change the order of one person's scores, and each leave-one-out unit is one "
                     "person: the ROC AUC gain is 0 by construction here (macro F1 can change)")
    return [Note("; ".join(parts) + ".")] if parts else []


def _comparison_cell(row: pd.Series | None) -> Cell:
    if row is None:
        return Cell.of("")
    significant = bool(row["significant"] in (True, "True"))
    person_p = row.get("p_participants_holm")
    if person_p is None or pd.isna(person_p) or str(row.get("test_participants")) == str(row["test"]):
        return Cell.of(fmt_p(row["p_holm"]), f"Δ {fmt_signed(row['mean_difference'])}", bold=significant)
    # repeated k-fold: the design's corrected t over folds, and the test over participants that decides
    return Cell.of(f"people {fmt_p(person_p)}", f"folds {fmt_p(row['p_holm'])}", f"Δ {fmt_signed(row['mean_difference'])}", bold=significant)


def model_table(study: StudyFolder, label: str, cv: str, protocol: str) -> Table:
    where = {"label": label, "cv": cv, "protocol": protocol}
    models = study.models(**where)
    auc, f1, brier = (_mean_row(study, m, **where) for m in (HEADLINE_METRIC, "f1_macro", "brier"))
    best = best_model(study, label, cv, protocol)
    comparisons = study.rows("comparisons", metric=HEADLINE_METRIC, **where)
    by_role = {(str(r["role"]), str(r["model"])): r for _, r in comparisons.iterrows()}
    # calibration is of the population model; the gain is what the hybrid protocol adds to it
    calibration = study.rows("calibration", label=label, cv=cv) if protocol == "population" else None
    personalization = study.rows("personalization", label=label, cv=cv, metric=HEADLINE_METRIC) if protocol == "hybrid" else None
    columns = ["model", "ROC AUC [95 % CI]", "macro F1 [95 % CI]", "Brier"]
    with_ece = calibration is not None and len(calibration) > 0
    if with_ece:
        columns.append("ECE raw → calibrated")
    columns += ["p vs dummy (Holm)", "p vs best (Holm)"]
    if personalization is not None and len(personalization):
        columns.append("gain over population [95 % CI]")
    rows = []
    for model in models:
        cells = [Cell.of(model, bold=model == best)]
        for table in (auc, f1):
            row = table.get(model)
            cells.append(Cell.of(fmt_number(row["mean"]), fmt_interval(row["ci_low"], row["ci_high"]), bold=table is auc and model == best)
                         if row is not None else Cell.of("n/a"))
        cells.append(Cell.of(fmt_number(brier[model]["mean"]) if model in brier else "n/a"))
        if with_ece:
            cells.append(_ece_cell(calibration[calibration["model"] == model]))
        cells.append(Cell.of("—") if model == "dummy" else _comparison_cell(by_role.get(("vs_dummy", model))))
        cells.append(Cell.of("best") if model == best else Cell.of("—") if model == "dummy" else _comparison_cell(by_role.get(("vs_best", model))))
        if personalization is not None and len(personalization):
            cells.append(_gain_cell(personalization[personalization["model"] == model]))
        rows.append(tuple(cells))
    caption = (f"{METRIC_NAMES[HEADLINE_METRIC]} compared in the p columns (Holm-adjusted; Δ: mean difference); bold p: significant after Holm. "
               f"Bold model: the best by mean ROC AUC.")
    if with_ece:
        caption += " ECE: raw, then after each calibration method."
    return Table(tuple(columns), tuple(rows), slug("label", label, cv, protocol), "per-label", caption)


def _ece_cell(rows: pd.DataFrame) -> Cell:
    if rows.empty:
        return Cell.of("n/a")
    ece = {str(r["variant"]): r["ece"] for _, r in rows.iterrows()}
    calibrated = [f"{variant} {fmt_number(value)}" for variant, value in ece.items() if variant != "raw"]
    return Cell.of(f"{fmt_number(ece.get('raw'))} →", *calibrated)


def _gain_cell(rows: pd.DataFrame) -> Cell:
    if rows.empty:
        return Cell.of("n/a")
    row = rows.iloc[0]
    return Cell.of(fmt_signed(row["gain"]), fmt_interval(row["ci_low"], row["ci_high"], signed=True), p_phrase(row["p_value"]))


def omnibus_lines(study: StudyFolder, label: str, cv: str, protocol: str) -> list[str]:
    """One sentence per metric: the omnibus test and its p, the post-hoc test and its CD, the mean ranks."""
    omnibus = study.rows("omnibus", label=label, cv=cv, protocol=protocol)
    lines = []
    for metric, part in omnibus.groupby("metric", sort=False):
        first = part.iloc[0]
        ranks = part.sort_values("mean_rank")
        ranking = ", ".join(f"{m} {float(r):.2f}" for m, r in zip(ranks["model"], ranks["mean_rank"]))
        posthoc = first.get("posthoc_test")
        if first.get("omnibus_p") is None or pd.isna(first.get("omnibus_p")):  # not run: say why
            lines.append(f"**{METRIC_NAMES.get(metric, metric)}**: {first['omnibus_test']}; mean ranks (1 = best): {ranking}.")
            continue
        after = (f"; post-hoc {posthoc}, CD {fmt_number(first['critical_difference'])}"
                 if isinstance(posthoc, str) and posthoc.strip() else "")
        lines.append(f"**{METRIC_NAMES.get(metric, metric)}**: {first['omnibus_test']} {p_phrase(first['omnibus_p'])}"
                     f"{after}; mean ranks (1 = best): {ranking}.")
    return lines


def _omnibus(study: StudyFolder, label: str, cv: str, protocol: str) -> list[Block]:
    lines = omnibus_lines(study, label, cv, protocol)
    return [Bullets(tuple(lines))] if lines else [Note("No omnibus test for this protocol (`omnibus.csv` has no rows for it).")]


def _cd_diagrams(study: StudyFolder, label: str, cv: str) -> list[Block]:
    paths = study.cd_plots(label, cv)
    if not paths:
        return [Note(f"No critical-difference diagram for {label} · {cv} (no `plots/{label}/cd_{cv}_*.png` in the study folder).")]
    blocks: list[Block] = []
    for path in paths:
        metric = path.stem[len(f"cd_{cv}_"):]
        blocks.append(Image(path.read_bytes(), path.relative_to(study.path).as_posix(),
                            f"Critical-difference diagram, {label} · {cv} · {METRIC_NAMES.get(metric, metric)}"))
    return blocks


# ---------------------------------------------------------------------------- reliability
def _reliability(study: StudyFolder, label: str, cv: str) -> list[Block]:
    rows = study.rows("reliability", label=label, cv=cv)
    if rows.empty:
        return [Note(f"No reliability diagram for {label} · {cv} (`reliability.csv` has no rows for it).")]
    png = reliability_png(rows)
    path = study.path / "plots" / label / f"reliability_{cv}.png"
    atomic_write(path, lambda f: f.write(png))
    return [Image(png, path.relative_to(study.path).as_posix(),
                  f"Reliability diagram, {label} · {cv}: fraction of 1s against mean predicted probability per bin")]


def reliability_png(rows: pd.DataFrame) -> bytes:
    """One panel per model: per variant, the fraction of positives against the mean predicted
    probability of each non-empty bin; the diagonal is perfect calibration."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    models = ordered_models(rows["model"])
    ncols = min(len(models), 5)
    nrows = -(-len(models) // ncols)
    # 9.6 in at 100 dpi: 960 px, the report's column.
    fig, axes = plt.subplots(nrows, ncols, figsize=(9.6, 2.55 * nrows + 0.5), squeeze=False, sharex=True, sharey=True, layout="constrained")
    for ax in axes.flat[len(models):]:
        ax.set_visible(False)
    for ax, model in zip(axes.flat, models):
        part = rows[rows["model"] == model]
        ax.plot([0, 1], [0, 1], color="#9aa3b0", linewidth=1, linestyle="-", zorder=1)
        for variant, curve in part.groupby("variant", sort=False):
            curve = curve[pd.to_numeric(curve["n"], errors="coerce").fillna(0) > 0].sort_values("bin")
            color, marker, style = VARIANT_STYLE.get(str(variant), ("#7f7f7f", "d", "-."))
            ax.plot(curve["mean_predicted"], curve["fraction_positive"], marker=marker, markersize=3.5, linewidth=1.3,
                    linestyle=style, color=color, label=str(variant))
        ax.set_title(model, fontsize=10)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.tick_params(labelsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("fraction of 1s", fontsize=9)
    for ax in axes[-1, :]:
        ax.set_xlabel("mean predicted P(1)", fontsize=9)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=9, frameon=False)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


# ---------------------------------------------------------------------------- tuning
def tuning_summary(rows: pd.DataFrame) -> list[tuple[str, int, str, str, list[str]]]:
    """Per tuned model: (model, folds, trials, mean inner score, one line per parameter:
    numbers as median (min-max) over folds, other values as the most chosen with its count)."""
    out = []
    for model in ordered_models(rows["model"]):
        part = rows[rows["model"] == model]
        params = [json.loads(p) if isinstance(p, str) and p.strip() else {} for p in part["params"]]
        names = list(dict.fromkeys(k for p in params for k in p))
        lines = []
        for name in names:
            values = [p[name] for p in params if name in p]
            numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
            if len(numbers) == len(values):
                lo, mid, hi = np.min(numbers), np.median(numbers), np.max(numbers)
                integer = all(isinstance(v, int) for v in numbers)
                show = (lambda x: f"{x:g}") if integer else (lambda x: f"{x:.3g}")
                lines.append(f"{name} {show(mid)} ({show(lo)}–{show(hi)})")
            else:
                counts = pd.Series([json.dumps(v) if isinstance(v, (dict, list)) else str(v) for v in values]).value_counts()
                lines.append(f"{name} {counts.index[0]} ({int(counts.iloc[0])}/{len(values)})")
        trials = pd.to_numeric(part["trials"], errors="coerce")
        out.append((model, len(part), f"{int(trials.median())}" if trials.notna().any() else "n/a",
                    fmt_number(pd.to_numeric(part["inner_score"], errors="coerce").mean()), lines))
    return out


def _tuning(study: StudyFolder, label: str, cv: str) -> list[Block]:
    rows = study.rows("tuning", label=label, cv=cv)
    if rows.empty:
        return []
    table_rows = tuple((Cell.of(model), Cell.of(str(folds)), Cell.of(trials), Cell.of(score), Cell.of(*lines))
                       for model, folds, trials, score, lines in tuning_summary(rows))
    return [Heading(4, "Tuning: the parameters chosen in the outer training folds"),
            Table(("model", "folds", "trials", "inner score (mean)", "chosen parameters: median (range) over folds"),
                  table_rows, slug("tuning", label, cv), "tuning",
                  "Each outer training fold ran its own search on inner participant-grouped folds; the outer test fold never took part.")]


# ---------------------------------------------------------------------------- tests
def _tests_and_assumptions(study: StudyFolder) -> list[Block]:
    tests = study.manifest.get("tests")
    blocks: list[Block] = [Heading(2, "Tests and assumptions", "tests")]
    if not isinstance(tests, dict) or not tests:
        return blocks + [Note("The manifest lists no tests (`tests`): their assumptions are not recorded.")]
    rows = tuple((Cell.of(str(name)), Cell.of(_value_text(text))) for name, text in tests.items())
    return blocks + [Table(("test", "assumptions"), rows, "tests-table", "facts")]
