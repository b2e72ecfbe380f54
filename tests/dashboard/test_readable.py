"""Every table header on every page is in plain words; long feature codes are never cut short."""

import pytest
from app_reading import chart_specs

from kemo_attention.dashboard.feature_names import plain_header

PAGES = ("Models", "Features", "People", "Data", "Try it")


def _headers(at) -> list[str]:
    names = []
    for element in [*at.table, *at.dataframe]:
        frame = element.value
        names += [str(c) for c in frame.columns]
        names += [str(n) for n in frame.index.names if n is not None]
    return names


@pytest.mark.parametrize("page", PAGES)
def test_no_snake_case_header_on_any_page(make_app, eval_dir, check_file, demo_release, bundle_path, page):
    at = make_app(eval_dir=eval_dir, check=check_file, release=demo_release, bundle=bundle_path, page=page, timeout=180)
    assert not at.exception, [e.value for e in at.exception]
    headers = _headers(at)
    assert headers, f"{page} shows no table"
    assert [h for h in headers if "_" in h] == [], f"{page} has snake_case headers"


def test_headers_of_the_evaluation_files_read_as_words():
    # the names the issue saw on screen, and how a reader should see them
    assert plain_header("f1_macro") == "macro F1"
    assert plain_header("n_1") == "answers = 1"
    assert plain_header("mean_importance") == "mean importance"
    assert plain_header("top_features") == "most often kept"
    assert plain_header("roc_auc_mean") == "ROC AUC, mean"
    assert plain_header("something_new") == "something new"


def test_push_chart_shows_feature_codes_whole(make_app, bundle_path):
    at = make_app(bundle=bundle_path, page="Try it")
    csv = "HRT#AVG#H01,SCR#DSC\n95.0,5\n"
    at.file_uploader(key="try_csv").set_value(("row.csv", csv.encode(), "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    push = next(spec for spec in chart_specs(at) if spec.get("encoding", {}).get("y", {}).get("field") == "feature")
    # Vega cuts axis labels at 180 px unless told otherwise ("APP_CAT#DUR=LI..."); 0 = no limit
    assert push["encoding"]["y"]["axis"]["labelLimit"] == 0


def test_people_charts_are_single_charts_each_fitting_its_column(make_app, eval_dir, demo_release):
    at = make_app(eval_dir=eval_dir, release=demo_release, page="People")
    specs = chart_specs(at)
    assert len(specs) == 2  # the probability timeline and the raw answers, drawn separately
    assert all("vconcat" not in spec and "hconcat" not in spec for spec in specs)
