"""The study report: what it shows, that it is self-contained, and its clear refusals.

Expected values come from the synthetic folder's CSVs (``study_folder.py``) or are recomputed
here from its fold scores, and are read back from the rendered HTML / Markdown.
"""

from __future__ import annotations

import json
import math
import shutil
import statistics

import pandas as pd
import pytest
from html_tables import parse_page, table_by_row
from study_folder import CV_OF_LABEL, LABELS, MODELS, TESTS, write_study_folder

from kemo_attention.errors import DataError, KemoError
from kemo_attention.study.report import write_report
from kemo_attention.study.report_format import fmt_interval, fmt_number, fmt_p, fmt_signed

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    folder = write_study_folder(tmp_path_factory.mktemp("study") / "study")
    html_path, md_path = write_report(folder)
    return folder, html_path, md_path, parse_page(html_path.read_text(encoding="utf-8"))


def _csv(folder, name):
    return pd.read_csv(folder / f"{name}.csv")


# ---------------------------------------------------------------------------- formats
@pytest.mark.parametrize(("p", "text"), [(0.0004, "<0.001"), (0.0, "<0.001"), (0.001, "0.001"), (0.01234, "0.012"),
                                         (0.0495, "0.050"), (1.0, "1.000"), (math.nan, "n/a"), (None, "n/a")])
def test_p_values_read_as_three_decimals_or_below_0_001(p, text):
    assert fmt_p(p) == text


def test_numbers_signs_and_intervals_have_three_decimals():
    assert fmt_number(0.65449) == "0.654"
    assert fmt_number(float("nan")) == "n/a"
    assert fmt_signed(0.03) == "+0.030" and fmt_signed(-0.0121) == "-0.012"
    assert fmt_interval(0.6211, 0.688) == "[0.621, 0.688]"
    assert fmt_interval(-0.01, 0.02, signed=True) == "[-0.010, +0.020]"
    assert fmt_interval(math.nan, 0.5) == "[n/a]"


# ---------------------------------------------------------------------------- files
def test_writes_both_files_and_the_reliability_diagrams(reported):
    folder, html_path, md_path, _ = reported
    assert (html_path, md_path) == (folder / "report.html", folder / "summary.md")
    for label in LABELS:
        for cv in CV_OF_LABEL[label]:
            assert (folder / "plots" / label / f"reliability_{cv}.png").read_bytes().startswith(PNG_MAGIC)
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]  # atomic writes leave no temporary


def test_html_is_self_contained(reported):
    folder, html_path, _, page = reported
    text = html_path.read_text(encoding="utf-8")
    assert not page.tags & {"script", "link", "iframe", "object", "embed", "base"}
    assert "http://" not in text and "https://" not in text and "url(" not in text and "@import" not in text
    assert page.attribute_urls and all(u.startswith("data:image/png;base64,") for u in page.attribute_urls)
    # every picture embedded, byte for byte: the CD diagrams of attention and the reliability diagrams
    import base64

    embedded = [base64.b64decode(src.split(",", 1)[1]) for src in page.images]
    expected = sorted((folder / "plots").rglob("*.png"))
    assert len(expected) == 2 + 3
    assert sorted(embedded) == sorted(p.read_bytes() for p in expected)


# ---------------------------------------------------------------------------- content
def _fold_best(folder, label, cv, protocol):
    """Best non-dummy model by mean fold ROC AUC, from the fold scores themselves."""
    fold = _csv(folder, "fold_scores")
    part = fold[(fold["label"] == label) & (fold["cv"] == cv) & (fold["protocol"] == protocol) & (fold["model"] != "dummy")]
    return part.groupby("model")["roc_auc"].mean().idxmax()


@pytest.mark.parametrize(("cv", "protocol"), [("sgkf", "population"), ("sgkf", "hybrid"), ("logo", "population")])
def test_summary_table_has_auc_interval_f1_and_the_best_in_bold(reported, cv, protocol):
    folder, _, _, page = reported
    table = table_by_row(page.tables[f"summary-{cv}-{protocol}"])
    assert list(next(iter(table.values())))[1:] == list(MODELS)
    summary = _csv(folder, "summary")
    labels = [x for x in LABELS if cv in CV_OF_LABEL[x]]
    assert list(table) == labels
    for label in labels:
        best = _fold_best(folder, label, cv, protocol)
        for model in MODELS:
            def value(metric, column):
                rows = summary[(summary["label"] == label) & (summary["cv"] == cv) & (summary["protocol"] == protocol)
                               & (summary["model"] == model) & (summary["metric"] == metric)]
                return float(rows[column].item())

            cell = table[label][model]
            assert cell.text == (f"{value('roc_auc', 'mean'):.3f} [{value('roc_auc', 'ci_low'):.3f}, "
                                 f"{value('roc_auc', 'ci_high'):.3f}] F1 {value('f1_macro', 'mean'):.3f}")
            assert cell.bold == (model == best), (label, model)


def test_per_label_table_p_values_ece_and_brier(reported):
    folder, _, _, page = reported
    table = table_by_row(page.tables["label-attention-sgkf-population"])
    comparisons = _csv(folder, "comparisons")
    part = comparisons[(comparisons["label"] == "attention") & (comparisons["cv"] == "sgkf") & (comparisons["protocol"] == "population")]
    best = _fold_best(folder, "attention", "sgkf", "population")
    for model in MODELS:
        row = table[model]
        if model == "dummy":
            assert row["p vs dummy (Holm)"].text == "—"
            continue
        vs_dummy = part[(part["role"] == "vs_dummy") & (part["model"] == model)].iloc[0]
        p = vs_dummy["p_holm"]
        expected = "<0.001" if p < 0.001 else f"{p:.3f}"
        assert row["p vs dummy (Holm)"].text == f"{expected} Δ {vs_dummy['mean_difference']:+.3f}"
        assert row["p vs dummy (Holm)"].bold == (p < 0.05)
        if model == best:
            assert row["p vs best (Holm)"].text == "best"
        else:
            vs_best = part[(part["role"] == "vs_best") & (part["model"] == model)].iloc[0]
            assert vs_best["versus"] == best
            assert row["p vs best (Holm)"].text.startswith("<0.001" if vs_best["p_holm"] < 0.001 else f"{vs_best['p_holm']:.3f}")
    calibration = _csv(folder, "calibration")
    lgbm = calibration[(calibration["label"] == "attention") & (calibration["cv"] == "sgkf") & (calibration["model"] == "lgbm")]
    ece = dict(zip(lgbm["variant"], lgbm["ece"]))
    assert table["lgbm"]["ECE raw → calibrated"].text == f"{ece['raw']:.3f} → sigmoid {ece['sigmoid']:.3f} isotonic {ece['isotonic']:.3f}"
    summary = _csv(folder, "summary")
    brier = summary[(summary["label"] == "attention") & (summary["cv"] == "sgkf") & (summary["protocol"] == "population")
                    & (summary["model"] == "rf") & (summary["metric"] == "brier")]["mean"].item()
    assert table["rf"]["Brier"].text == f"{brier:.3f}"


def test_hybrid_table_shows_the_personalization_gain(reported):
    folder, _, _, page = reported
    table = table_by_row(page.tables["label-stress-sgkf-hybrid"])
    gains = _csv(folder, "personalization")
    row = gains[(gains["label"] == "stress") & (gains["cv"] == "sgkf") & (gains["model"] == "logreg")].iloc[0]
    assert row["gain"] == pytest.approx(row["hybrid_mean"] - row["population_mean"])
    assert table["logreg"]["gain over population [95 % CI]"].text == (
        f"{row['gain']:+.3f} [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}] p = {row['p_value']:.3f}")
    # the population table has no gain column and the hybrid one no ECE (calibration is of the population model)
    assert "gain over population [95 % CI]" not in [c.text for c in page.tables["label-stress-sgkf-population"][0]]
    assert "ECE raw → calibrated" not in [c.text for c in page.tables["label-stress-sgkf-hybrid"][0]]


def test_omnibus_lines_cd_diagrams_and_their_absence(reported):
    _, _, md_path, page = reported
    assert "Friedman test p < 0.001; post-hoc Nemenyi test, CD 1.930" in page.text  # attention sgkf
    assert "Friedman test p = 0.031; post-hoc Nemenyi test, CD 1.930" in page.text  # stress sgkf
    assert "No critical-difference diagram for stress · sgkf" in page.text
    assert "No critical-difference diagram for attention" not in page.text
    markdown = md_path.read_text(encoding="utf-8")
    assert "![Critical-difference diagram, attention · sgkf · ROC AUC](plots/attention/cd_sgkf_roc_auc.png)" in markdown


def test_tuning_summary_gives_median_and_range_over_folds(reported):
    folder, _, _, page = reported
    tuning = _csv(folder, "tuning")
    params = [json.loads(p) for p in tuning[tuning["label"] == "attention"]["params"]]
    rates = [p["learning_rate"] for p in params]
    leaves = [p["num_leaves"] for p in params]
    cell = table_by_row(page.tables["tuning-attention-sgkf"])["lgbm-tuned"]
    chosen = cell["chosen parameters: median (range) over folds"].text
    assert f"learning_rate {statistics.median(rates):.3g} ({min(rates):.3g}–{max(rates):.3g})" in chosen
    assert f"num_leaves {statistics.median(leaves):g} ({min(leaves)}–{max(leaves)})" in chosen
    assert "boosting_type gbdt (10/10)" in chosen
    assert cell["folds"].text == "10" and cell["trials"].text == "20"


def test_header_tests_and_assumptions(reported):
    _, _, _, page = reported
    facts = table_by_row(page.tables["run"])
    assert facts["labels"]["value"].text == "attention, stress"
    assert facts["models"]["value"].text == ", ".join(MODELS)
    assert facts["seeds"]["value"].text == "cv 42; models 42; tuning 42"
    inputs = table_by_row(page.tables["inputs"])
    assert inputs["attention"]["SHA-256"].text == "a" * 64
    assumptions = table_by_row(page.tables["tests-table"])
    assert {name: row["assumptions"].text for name, row in assumptions.items()} == TESTS
    assert "Holm" in page.text and "corrected resampled t (Nadeau-Bengio)" in page.text


def test_markdown_says_the_same_with_relative_image_links(reported):
    folder, _, md_path, page = reported
    markdown = md_path.read_text(encoding="utf-8")
    assert "data:image" not in markdown
    links = [line.split("](", 1)[1].rstrip(")") for line in markdown.splitlines() if line.startswith("![")]
    assert len(links) == len(page.images) and all((folder / link).is_file() for link in links)
    row = table_by_row(page.tables["summary-sgkf-population"])["attention"]
    best = _fold_best(folder, "attention", "sgkf", "population")
    assert f"| attention | {row['logreg'].text} |" in markdown
    assert f"**{row[best].text}**" in markdown
    for name in TESTS:
        assert f"| {name} |" in markdown


# ---------------------------------------------------------------------------- odd folders
def test_text_from_the_manifest_is_escaped(tmp_path):
    folder = write_study_folder(tmp_path / "study")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["tests"] = {"<script>alert(1)</script>": "a < b & c"}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    html_path, _ = write_report(folder)
    text = html_path.read_text(encoding="utf-8")
    assert "<script" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "a &lt; b &amp; c" in text


def test_partial_folder_is_reported_with_notes(tmp_path):
    folder = write_study_folder(tmp_path / "study")
    (folder / "tuning.csv").unlink()
    shutil.rmtree(folder / "plots")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["complete"] = False
    (folder / "manifest.json").write_text(json.dumps(manifest))
    html_path, _ = write_report(folder)
    page = parse_page(html_path.read_text(encoding="utf-8"))
    assert "does not say this study is complete" in page.text
    assert "tuning.csv: missing" in page.text
    assert not [t for t in page.tables if t.startswith("tuning-")]
    assert "No critical-difference diagram for attention · sgkf" in page.text
    assert len(page.images) == 3  # the reliability diagrams, drawn again


def test_missing_manifest_or_summary_column_is_one_clear_error(tmp_path):
    folder = write_study_folder(tmp_path / "study")
    (folder / "manifest.json").unlink()
    with pytest.raises(DataError, match=r"manifest\.json: missing; expected the folder `kemo-attention study --out` wrote"):
        write_report(folder)
    folder = write_study_folder(tmp_path / "study2")
    _csv(folder, "summary").drop(columns=["ci_low"]).to_csv(folder / "summary.csv", index=False)
    with pytest.raises(DataError, match=r"summary\.csv: lacks column\(s\) ci_low"):
        write_report(folder)
    with pytest.raises(KemoError, match="no such folder"):
        write_report(tmp_path / "nowhere")
