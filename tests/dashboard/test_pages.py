"""Every page in AppTest: runs without exceptions and shows the fixture's content."""

import numpy as np
import pandas as pd
import pytest
from app_reading import chart_data, chart_specs, texts
from dash_artefacts import LEADERBOARD, MODELS
from sklearn.metrics import roc_auc_score

PAGES = ("Models", "Features", "People", "Data", "Try it")


def no_exception(at):
    assert not at.exception, [e.value for e in at.exception]


def test_models_page_leaderboard_has_models_and_numbers(make_app, eval_dir):
    at = make_app(eval_dir=eval_dir)
    no_exception(at)
    board = at.table[0].value
    assert list(board.index) == list(MODELS)
    for model in MODELS:
        for metric, column in (("f1_macro", "macro F1"), ("roc_auc", "ROC AUC")):
            mean, sd = LEADERBOARD[model][metric]
            assert board.loc[model, column] == f"{mean:.3f} ± {sd:.3f}"
    assert "Mean ± SD over the test folds (5)" in texts(at)


def test_models_page_curves_confusions_and_spread(make_app, eval_dir):
    at = make_app(eval_dir=eval_dir)
    specs = chart_specs(at)
    assert len(specs) == 4  # ROC, PR, confusion matrices, per-participant spread
    oof = pd.read_parquet(eval_dir / "oof_predictions.parquet")
    lgbm = oof[oof["model"] == "lgbm"]
    expected_auc = roc_auc_score(lgbm["y_true"], lgbm["proba"])
    roc = next(f for f in chart_data(at, 0) if "legend" in f)
    # both areas, named: the leaderboard's fold mean and the pooled curve's
    fold_mean = LEADERBOARD["lgbm"]["roc_auc"][0]
    assert f"lgbm: AUC {fold_mean:.3f} folds · {expected_auc:.3f} pooled" in set(roc["legend"])
    assert set(roc["model"]) == set(MODELS)
    confusion = next(f for f in chart_data(at, 2) if "count" in f)
    cells = confusion[confusion["model"] == "lgbm"]
    assert cells["count"].sum() == len(lgbm)
    tp = ((lgbm["y_true"] == 1) & (lgbm["y_pred"] == 1)).sum()
    assert cells[(cells["true"] == "1 (focused)") & (cells["predicted"] == "1")]["count"].item() == tp
    spread = chart_data(at, 3)[0]
    assert set(spread["pcode"]) == {"P01", "P02", "P03", "P04", "P05", "P06"}

    # choosing fewer models redraws the curves with those only
    at.multiselect(key="curve_models").set_value(["logreg"]).run()
    no_exception(at)
    roc = next(f for f in chart_data(at, 0) if "legend" in f)
    assert set(roc["model"]) == {"logreg"}


def test_features_page_groups_heart_rate(make_app, eval_dir):
    at = make_app(eval_dir=eval_dir, page="Features")
    no_exception(at)
    by_stream = at.table[0].value
    assert "heart rate" in by_stream.index
    assert "HRT#AVG#H01" in by_stream.loc["heart rate", "most often kept"]
    assert by_stream.loc["heart rate", "selections"] == "1.40"  # 5/5 + 2/5 folds
    assert "(other names)" in by_stream.index  # bpm#AVG#60 as it is
    by_window = at.table[1].value
    assert "last hour" in by_window.index
    every = at.table[2].value
    row = every.loc["HRT#AVG#H01"]
    assert row["in plain words"] == "heart rate · mean · last hour" and row["frequency"] == "1.00"
    assert "bpm#AVG#60" in set(every["in plain words"])

    at.selectbox(key="feat_model").set_value("logreg").run()
    no_exception(at)
    assert "participant profile" in at.table[0].value.index


def test_people_page_shows_the_chosen_participant(make_app, eval_dir):
    at = make_app(eval_dir=eval_dir, page="People", state={"people_pcode": "P03"})
    no_exception(at)
    assert "Participant P03" in [h.value for h in at.subheader]
    line = chart_data(at, 0)
    points = next(f for f in line if "proba" in f)
    oof = pd.read_parquet(eval_dir / "oof_predictions.parquet")
    mine = oof[(oof["pcode"] == "P03") & (oof["model"] == "lgbm")].sort_values("prompt_time")
    np.testing.assert_allclose(points["proba"].to_numpy(), mine["proba"].to_numpy())
    assert list(points["y_true"]) == list(mine["y_true"])
    scores = at.table[0].value
    assert list(scores.index) == list(MODELS) and set(scores["fold"]) == {1}
    assert "12 answers" in texts(at)
    # another model on the timeline
    at.selectbox(key="people_model").set_value("dummy").run()
    points = next(f for f in chart_data(at, 0) if "proba" in f)
    assert set(points["proba"]) == {0.5}


def test_data_page_renders_the_heatmap(make_app, check_file):
    at = make_app(check=check_file, page="Data")
    no_exception(at)
    specs = chart_specs(at)
    assert len(specs) == 2
    yield_cells = chart_data(at, 0)[0]
    cell = yield_cells[(yield_cells["pcode"] == "P02") & (yield_cells["type"] == "EDA")]
    assert cell["share"].item() == 0.0
    assert {m.label: m.value for m in at.metric}["participants"] == "4"
    assert "duplicate timestamps" in set(at.table[-1].value["kind"])
    at.selectbox(key="data_type").set_value("HR").run()
    no_exception(at)
    per_day = chart_data(at, 1)[0]
    assert per_day[(per_day["pcode"] == "P03") & (per_day["day"] == "2")]["rows"].item() == 0


@pytest.mark.parametrize("page", PAGES)
def test_every_page_explains_missing_inputs(make_app, page):
    at = make_app(page=page)
    no_exception(at)
    shown = texts(at)
    expected = {"Models": "--eval", "Features": "--eval", "People": "--eval", "Data": "--check", "Try it": "kemo-attention export"}
    assert expected[page] in shown


@pytest.mark.parametrize("page", PAGES)
def test_every_page_survives_paths_that_vanished(make_app, tmp_path, page):
    gone = tmp_path / "gone"
    at = make_app(eval_dir=gone, bundle=gone / "b.pkl", release=gone, check=gone / "c.json", page=page)
    no_exception(at)
    assert "does not exist" in texts(at)


def test_pages_name_the_missing_eval_file(make_app, eval_dir, tmp_path):
    import shutil

    partial = tmp_path / "partial"
    shutil.copytree(eval_dir, partial)
    (partial / "oof_predictions.parquet").unlink()
    (partial / "selected_features.csv").write_text("model,fold\nlgbm,0\n")
    at = make_app(eval_dir=partial)
    no_exception(at)
    assert "oof_predictions.parquet" in texts(at)  # Models: no curves, says why
    assert list(at.table[0].value.index) == list(MODELS)  # the leaderboard still shows
    for page, needle in (("People", "oof_predictions.parquet"), ("Features", "missing column(s) feature, importance")):
        at.sidebar.radio(key="page").set_value(page).run()
        no_exception(at)
        assert needle in texts(at)


def test_bad_check_json_is_an_error_message(make_app, tmp_path):
    bad = tmp_path / "check.json"
    bad.write_text('{"root": "x"}')
    at = make_app(check=bad, page="Data")
    no_exception(at)
    assert "daily_rows" in at.error[0].value


@pytest.mark.parametrize(("page", "needle"), [("Data", "Checking"), ("People", "Raw answers not shown")])
def test_a_folder_that_is_not_a_release_is_explained(make_app, eval_dir, tmp_path, page, needle):
    (tmp_path / "notes.txt").write_text("not a release")
    at = make_app(eval_dir=eval_dir, release=tmp_path, page=page)
    no_exception(at)
    assert needle in texts(at)
