"""Try it: a bundle from export_bundle scores an uploaded row and a prompt of a real (demo) release."""


import numpy as np
import pandas as pd
from app_reading import chart_data, texts

from kemo_attention.bundle.runtime import load_bundle


def shown_probability(at) -> float:
    metric = at.metric[0]
    assert metric.label == "P(attention = 1)"
    return float(metric.value)


def test_uploaded_row_gets_a_probability_and_its_pushes(make_app, bundle_path):
    at = make_app(bundle=bundle_path, page="Try it")
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio(key="try_source").options == ["Upload a CSV row"]
    csv = "HRT#AVG#H01,SCR#DSC,not_a_feature\n92.5,12,3\n"
    at.file_uploader(key="try_csv").set_value(("row.csv", csv.encode(), "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    p = shown_probability(at)
    assert 0 <= p <= 1
    # the same row, built here from the manifest's defaults, scored by the loaded bundle
    bundle = load_bundle(bundle_path)
    m = bundle.manifest
    row = {n: m["feature_defaults"][n] for n in m["feature_names"]}
    row.update({"HRT#AVG#H01": 92.5, "SCR#DSC": 12.0})
    frame = pd.DataFrame([row], columns=m["feature_names"])
    for n in frame.columns:
        frame[n] = frame[n].astype(bool if m["feature_kinds"][n] == "bool" else "float32")
    expected = bundle.predict_proba(frame)[0]
    assert p == round(expected, 3)
    assert "take the training default" in texts(at)  # 3,354 features were not in the upload
    assert "ignored" in texts(at)  # not_a_feature
    pushes = at.table[-1].value
    assert pushes.index[0] == "HRT#AVG#H01"  # the only feature the selector kept
    assert pushes["in plain words"].iloc[0] == "heart rate · mean · last hour"
    # heart rate well above the training median: the fixture's signal pushes towards 1
    assert float(pushes["push"].iloc[0]) > 0


def test_a_bad_upload_names_the_column(make_app, bundle_path):
    at = make_app(bundle=bundle_path, page="Try it")
    at.file_uploader(key="try_csv").set_value(("row.csv", b"HRT#AVG#H01\nfast\n", "text/csv")).run()
    assert not at.exception
    assert "row.csv` row 1: column 'HRT#AVG#H01': expected a number, got 'fast'" in at.error[0].value
    assert not at.metric


def test_a_prompt_of_the_release_is_scored_with_live_features(make_app, bundle_path, demo_release):
    from kemo_attention.features.assemble import features_for_prompts
    from kemo_attention.release.read import read_esm, read_participant, read_userinfo

    at = make_app(bundle=bundle_path, release=demo_release, page="Try it", state={"try_pcode": "P02", "try_prompt": 3})
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio(key="try_source").value == "A prompt from the release"
    assert at.selectbox(key="try_pcode").value == "P02" and at.selectbox(key="try_prompt").value == 3
    p = shown_probability(at)
    assert 0 <= p <= 1

    # independently: the 4th scheduled prompt of P02, its earlier answers, its UserInfo row
    esm = read_esm(next(demo_release.glob("**/EsmResponse.csv"))).to_pandas()
    mine = esm[(esm["pcode"] == "P02") & esm["scheduledTime"].notna()].sort_values("scheduledTime")
    times = mine["scheduledTime"].astype("int64").to_numpy()
    t = int(times[3])
    past = [(int(s), int(a > 0)) for s, a in zip(times[:3], mine["attention"].iloc[:3])]
    info = read_userinfo(next(demo_release.glob("**/UserInfo.csv"))).to_pandas()
    userinfo = {k: v for k, v in info[info["pcode"] == "P02"].iloc[0].to_dict().items() if k != "pcode"}
    tables = read_participant(demo_release, "P02").tables
    X = features_for_prompts(tables, np.array([t]), userinfo=userinfo, past_labels=past)
    bundle = load_bundle(bundle_path)
    assert p == round(float(bundle.predict_proba(X)[0]), 3)
    answer = int(mine["attention"].iloc[3])
    assert f"P02 answered attention {answer:+d} at this prompt: label {int(answer > 0)}." in texts(at)


def test_people_page_adds_raw_answers_from_the_release(make_app, eval_dir, demo_release):
    at = make_app(eval_dir=eval_dir, release=demo_release, page="People")
    assert not at.exception, [e.value for e in at.exception]
    raw = next(f for i in range(len(at.get("vega_lite_chart"))) for f in chart_data(at, i) if "value" in f and "kind" in f)
    esm = pd.read_csv(next(demo_release.glob("**/EsmResponse.csv")))
    esm.columns = [c[0].lower() + c[1:] for c in esm.columns]
    assert len(raw) == int((esm["pcode"] == "P01").sum())
    assert raw["value"].between(-3, 3).all()


def test_data_page_checks_the_release_when_no_report_is_given(make_app, demo_release):
    at = make_app(release=demo_release, page="Data")
    assert not at.exception, [e.value for e in at.exception]
    cells = chart_data(at, 0)[0]
    assert set(cells["pcode"]) == {"P01", "P02"}
    assert cells["type"].nunique() >= 20  # most of the 27 data types recorded something


def test_bundle_that_fails_to_load_is_explained(make_app, bundle_path, tmp_path):
    import shutil

    copy = tmp_path / bundle_path.name
    shutil.copy(bundle_path, copy)
    shutil.copy(bundle_path.with_name(bundle_path.stem + ".manifest.json"), tmp_path)
    with open(copy, "ab") as f:
        f.write(b"tampered")
    at = make_app(bundle=copy, page="Try it")
    assert not at.exception
    assert "SHA-256" in at.error[0].value and "kemo-attention export" in at.error[0].value


def test_try_it_with_a_folder_that_is_not_a_release(make_app, bundle_path, tmp_path):
    at = make_app(bundle=bundle_path, release=tmp_path, page="Try it")
    assert not at.exception
    assert "is not a usable release" in at.error[0].value
    assert at.radio(key="try_source").options == ["A prompt from the release", "Upload a CSV row"]


def test_try_it_loads_only_the_bundle_with_the_expected_sha256(make_app, bundle_path):
    """The page loads the bundle itself (the file may change after the CLI checked it): it
    applies the expected hash on every load."""
    import hashlib

    right = hashlib.sha256(bundle_path.read_bytes()).hexdigest()
    at = make_app(bundle=bundle_path, page="Try it", bundle_sha256="0" * 64)
    assert not at.exception, [e.value for e in at.exception]
    (error,) = [e.value for e in at.error]
    assert f"Cannot load the bundle `{bundle_path}`" in error and "is not the expected 0000000000000000..." in error
    at = make_app(bundle=bundle_path, page="Try it", bundle_sha256=right)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.radio(key="try_source").options == ["Upload a CSV row"]
