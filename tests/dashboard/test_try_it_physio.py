"""Try it with a bundle trained on reference+physio features: a prompt of the release is
scored with the physiology columns computed live (the bundle's feature set), and the row the
page computed for a reference bundle at the same prompt is not reused for it."""

import numpy as np

from kemo_attention.bundle.runtime import load_bundle


def _physio_bundle(out_dir):
    from dataclasses import asdict

    import pandas as pd

    from kemo_attention.bundle.export import export_bundle
    from kemo_attention.config import LabelSettings
    from kemo_attention.dataset import Dataset
    from kemo_attention.features.layout import column_layout, feature_columns, is_bool_feature

    rng = np.random.default_rng(3)
    n = 48
    y = np.tile([0, 1], n // 2)
    columns = feature_columns(physio=True)
    data = {c: np.zeros(n, dtype=bool if is_bool_feature(c) else np.float32) for c in columns}
    # the signal sits in physiology columns only, so the score depends on them being computed
    data["SKT#SLP#H01"] = (0.02 * y + rng.normal(0, 0.01, n)).astype(np.float32)
    data["EDA#TNC#M30"] = (2.0 + y + rng.normal(0, 0.5, n)).astype(np.float32)
    X = pd.DataFrame(data, columns=columns)
    group = np.repeat(["P01", "P02", "P03", "P04", "P05", "P06"], n // 6)
    meta = {"feature_mode": "causal", "label": asdict(LabelSettings()), "tz_offset": "+09:00",
            "feature_set": "reference+physio", "feature_layout_hash": column_layout(physio=True).hash}
    return export_bundle(Dataset(X, y, group, meta=meta), "logreg", out_dir)


def test_a_physio_bundle_scores_a_prompt_with_live_physio_features(make_app, bundle_path, demo_release, tmp_path):
    from kemo_attention.config import FeatureSettings
    from kemo_attention.features.assemble import features_for_prompts
    from kemo_attention.release.read import read_esm, read_participant, read_userinfo

    physio_path = _physio_bundle(tmp_path / "models")
    bundle = load_bundle(physio_path)
    assert bundle.feature_set == "reference+physio" and bundle.manifest["raw_features"]
    state = {"try_pcode": "P02", "try_prompt": 3}
    # first the reference bundle at the same prompt (its row is cached), then the physio one
    at = make_app(bundle=bundle_path, release=demo_release, page="Try it", state=state)
    assert not at.exception, [e.value for e in at.exception]
    at = make_app(bundle=physio_path, release=demo_release, page="Try it", state=state)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    p = float(at.metric[0].value)

    esm = read_esm(next(demo_release.glob("**/EsmResponse.csv"))).to_pandas()
    mine = esm[(esm["pcode"] == "P02") & esm["scheduledTime"].notna()].sort_values("scheduledTime")
    times = mine["scheduledTime"].astype("int64").to_numpy()
    past = [(int(s), int(a > 0)) for s, a in zip(times[:3], mine["attention"].iloc[:3])]
    info = read_userinfo(next(demo_release.glob("**/UserInfo.csv"))).to_pandas()
    userinfo = {k: v for k, v in info[info["pcode"] == "P02"].iloc[0].to_dict().items() if k != "pcode"}
    X = features_for_prompts(read_participant(demo_release, "P02").tables, np.array([int(times[3])]), userinfo=userinfo,
                             past_labels=past, settings=FeatureSettings(feature_set="reference+physio"))
    assert X[["SKT#SLP#H01", "EDA#TNC#M30"]].to_numpy().any()  # the physiology columns carry values here
    assert p == round(float(bundle.predict_proba(X)[0]), 3)
