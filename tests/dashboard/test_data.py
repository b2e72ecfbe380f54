"""Table shaping behind the pages; expected values worked out by hand."""

import shutil

import numpy as np
import pandas as pd
import pytest
from dash_artefacts import LEADERBOARD, MODELS, N_FOLDS, PCODES

from kemo_attention.config import parse_tz_offset
from kemo_attention.dashboard import data, try_it_inputs


def test_eval_folder_reads_every_table(eval_dir):
    folder = data.read_eval_folder(eval_dir)
    assert folder.problems == {}
    assert set(folder.tables) == set(data.EVAL_TABLES)
    assert folder.models() == list(MODELS)  # leaderboard order
    assert folder.n_folds() == N_FOLDS
    assert folder.label == "attention"


def test_damaged_eval_folder_reports_what_is_wrong(eval_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(eval_dir, broken)
    (broken / "oof_predictions.parquet").unlink()
    pd.DataFrame({"model": ["lgbm"], "fold": [0]}).to_csv(broken / "selected_features.csv", index=False)
    (broken / "manifest.json").write_text("{not json")
    folder = data.read_eval_folder(broken)
    assert folder.problems["oof_predictions.parquet"] == "missing"
    assert "missing column(s) feature, importance" in folder.problems["selected_features.csv"]
    assert "not readable JSON" in folder.problems["manifest.json"]
    assert folder.get("oof") is None and folder.get("selected") is None
    assert folder.get("leaderboard") is not None
    # without the manifest the number of folds comes from the tables
    assert folder.n_folds() == N_FOLDS


def test_leaderboard_view_shows_mean_and_sd(eval_dir):
    lb = pd.read_csv(eval_dir / "leaderboard.csv")
    view = data.leaderboard_view(lb, ["f1_macro", "roc_auc"])
    assert list(view.index) == list(MODELS)
    for model in MODELS:
        mean, sd = LEADERBOARD[model]["f1_macro"]
        assert view.loc[model, "f1_macro"] == f"{mean:.3f} ± {sd:.3f}"
    assert view.loc["lgbm", "roc_auc"] == "0.654 ± 0.029"


def test_leaderboard_view_without_sd_or_with_nan():
    lb = pd.DataFrame({"model": ["a", "b"], "f1_macro_mean": [0.5, np.nan]})
    view = data.leaderboard_view(lb)
    assert list(view["f1_macro"]) == ["0.500", "n/a"]


def test_curves_and_areas_match_hand_computed_values():
    oof = pd.DataFrame({"model": "m", "y_true": [0, 0, 1, 1], "proba": [0.1, 0.4, 0.35, 0.8], "y_pred": [0, 0, 0, 1]})
    roc, auc = data.oof_curves(oof, "roc")
    # 3 of the 4 (positive, negative) pairs are ordered correctly
    assert auc["m"] == pytest.approx(0.75)
    assert roc["x"].iloc[0] == 0 and roc["y"].iloc[-1] == 1
    pr, ap = data.oof_curves(oof, "pr")
    # precision 1 at recall 0.5, precision 2/3 at recall 1
    assert ap["m"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert pr["x"].is_monotonic_increasing


def test_curves_skip_a_model_with_one_class():
    oof = pd.DataFrame({"model": "m", "y_true": [1, 1], "proba": [0.2, 0.9], "y_pred": [0, 1]})
    frame, areas = data.oof_curves(oof, "roc")
    assert frame.empty and areas == {}


def test_confusion_counts():
    oof = pd.DataFrame({"model": "m", "y_true": [0, 0, 1, 1], "y_pred": [0, 1, 1, 1], "proba": 0.5})
    cells = data.confusion_counts(oof).set_index(["true", "predicted"])
    assert cells.loc[(0, 0), "count"] == 1 and cells.loc[(0, 1), "count"] == 1
    assert cells.loc[(1, 0), "count"] == 0 and cells.loc[(1, 1), "count"] == 2
    assert cells.loc[(0, 0), "share"] == 0.5 and cells.loc[(1, 1), "share"] == 1.0


def test_selection_frequency_importance_and_groups(eval_dir):
    selected = pd.read_csv(eval_dir / "selected_features.csv")
    table = data.selection_table(selected, "lgbm", N_FOLDS).set_index("feature")
    assert table.loc["HRT#AVG#H01", "frequency"] == 1.0
    # 12.5 + 0.1 * fold, averaged over folds 0..4
    assert table.loc["HRT#AVG#H01", "mean_importance"] == pytest.approx(12.7)
    assert table.loc["SCR#DSC", "frequency"] == pytest.approx(3 / 5)
    assert table.loc["HRT#AVG#H01", "stream"] == "heart rate"
    assert table.loc["bpm#AVG#60", "label"] == "bpm#AVG#60"
    by_stream = data.group_selection(table.reset_index(), "stream").set_index("stream")
    assert by_stream.loc["heart rate", "features"] == 2
    assert by_stream.loc["heart rate", "selections"] == pytest.approx(1.0 + 2 / 5)
    assert by_stream.index[0] == "heart rate"  # most selected first
    assert "(other names)" in by_stream.index
    by_window = data.group_selection(table.reset_index(), "window")
    assert list(by_window["window"]) == ["no window", "last 30 seconds", "last 30 minutes", "last hour", "(other names)"]


def test_participant_timeline_is_ordered_on_study_days(eval_dir):
    oof = pd.read_parquet(eval_dir / "oof_predictions.parquet")
    line = data.participant_timeline(oof, "P01", "lgbm")
    assert len(line) == 12
    assert line["time_ms"].is_monotonic_increasing
    # first prompt: day 1 between 10:00 and 10:10 local time (fixture schedule)
    assert 1 + 10 / 24 <= line["study_day"].iloc[0] <= 1 + (10 + 10 / 60) / 24
    assert 3 < line["study_day"].iloc[-1] < 4  # third day
    assert data.tz_of(oof).utcoffset(None).total_seconds() == 9 * 3600


def test_raw_answers_use_scheduled_time_and_mark_voluntary_ones():
    tz = parse_tz_offset("+09:00")
    day0 = 1_556_636_400_000  # 2019-05-01 00:00 +09:00
    esm = pd.DataFrame({
        "pcode": ["P01", "P01", "P02"],
        "responseTime": [day0 + 36_000_000 + 60_000, day0 + 90_000_000, day0],
        "scheduledTime": [day0 + 36_000_000, None, day0],
        "attention": [2, -1, 0],
    })
    raw = data.raw_answers(esm, "P01", "attention", tz, float(day0))
    assert list(raw["value"]) == [2.0, -1.0]
    assert list(raw["scheduled"]) == [True, False]
    assert raw["study_day"].iloc[0] == pytest.approx(1 + 10 / 24)  # scheduled 10:00 on day 1
    assert raw["study_day"].iloc[1] == pytest.approx(1 + 25 / 24)  # voluntary, 01:00 on day 2
    assert raw["local_time"].iloc[0] == "2019-05-01 10:00"


def test_yield_matrix_and_day_matrix(check_file):
    daily = data.daily_frame(data.read_check_json(check_file))
    matrix = data.yield_matrix(daily)
    assert list(matrix.index) == ["P01", "P02", "P03", "P04"]
    assert matrix.loc["P02", "EDA"] == 0.0  # never recorded
    assert matrix.loc["P03", "HR"] == pytest.approx(2 / 3)  # missing on one of 3 days
    assert matrix.loc["P01"].tolist() == [1.0, 1.0, 1.0]
    cells = data.day_matrix(daily, None, study_days=True).set_index(["pcode", "day"])["rows"]
    assert cells.loc[("P03", "2")] == (3000 + 3) + (3000 + 11)  # EDA + ScreenEvent, no HR
    assert cells.loc[("P02", "1")] == (2000 + 2) + (2000 + 11)
    hr = data.day_matrix(daily, "HR").set_index(["pcode", "day"])["rows"]
    assert hr.loc[("P03", "2019-05-02")] == 0
    assert hr.loc[("P01", "2019-05-01")] == 1002


def test_check_report_without_daily_rows_says_so(tmp_path):
    with pytest.raises(ValueError, match="no 'daily_rows'"):
        data.daily_frame({"root": "x"})
    with pytest.raises(ValueError, match="lack key.*rows"):
        data.daily_frame({"daily_rows": [{"pcode": "P01", "type": "HR", "day": "2019-05-01"}]})
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="expected a JSON object"):
        data.read_check_json(bad)


def test_align_feature_row_fills_types_and_defaults():
    names = ["A#AVG", "B#VAL=ON", "C#DSC"]
    kinds = {"A#AVG": "numeric", "B#VAL=ON": "bool", "C#DSC": "numeric"}
    defaults = {"A#AVG": 1.5, "B#VAL=ON": True, "C#DSC": 7.0}
    row = pd.DataFrame({"A#AVG": ["2.25"], "B#VAL=ON": ["false"], "extra": [1]})
    frame, filled, ignored = try_it_inputs.align_feature_row(row, names, kinds, defaults)
    assert list(frame.columns) == names
    assert frame["A#AVG"].dtype == np.float32 and frame["B#VAL=ON"].dtype == bool
    assert frame.iloc[0].tolist() == [2.25, False, 7.0]
    assert filled == ["C#DSC"] and ignored == ["extra"]


@pytest.mark.parametrize(
    ("value", "column", "message"),
    [("abc", "A#AVG", "column 'A#AVG': expected a number, got 'abc'"),
     ("maybe", "B#VAL=ON", "column 'B#VAL=ON': expected true/false"),
     ("inf", "A#AVG", "expected a finite number")],
)
def test_align_feature_row_names_the_bad_column(value, column, message):
    names = ["A#AVG", "B#VAL=ON"]
    kinds = {"B#VAL=ON": "bool"}
    row = pd.DataFrame({column: [value]})
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        try_it_inputs.align_feature_row(row, names, kinds, {})


def test_past_labels_only_before_the_prompt_and_with_the_bundle_threshold():
    prompts = pd.DataFrame({"pcode": "P01", "scheduledTime": [100, 200, 300], "attention": [1, -1, 2]})
    assert try_it_inputs.past_labels(prompts, 300, {"name": "attention", "threshold": 0.0}) == [(100, 1), (200, 0)]
    assert try_it_inputs.past_labels(prompts, 100, {"name": "attention"}) == []
    # above this person's own mean (2/3): 1 -> 1, -1 -> 0
    assert try_it_inputs.past_labels(prompts, 301, {"name": "attention", "threshold_kind": "participant_mean"}) == [(100, 1), (200, 0), (300, 1)]
    assert try_it_inputs.label_of(None, {}, prompts["attention"]) is None


def test_fixture_has_three_models_five_folds_six_people(eval_dir):
    oof = pd.read_parquet(eval_dir / "oof_predictions.parquet")
    assert set(oof["model"]) == set(MODELS) and oof["fold"].nunique() == N_FOLDS and set(oof["pcode"]) == set(PCODES)
