"""The physiology family served live: a bundle exported from `extract --features
reference+physio` says so, and the live store (which prunes its raw rows behind the newest
data) gives every physiology feature, and the bundle's probability, of offline extraction
at every prompt, to 1e-6.

The release is one full-rate day (`--scale 1`): at lower rates the RR series never covers
80 % of a window, so LF/HF would be 0 everywhere and prove nothing. The EDA segments run for
hours there, so the store's cutoff falls inside them: the live grid must land on the offline
points and the filters must have forgotten where they started (docs/features.md, "Enough
history")."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest

from live_server import Server, run_cli
from live_support import batches_of, send_replay

TOL = 1e-6
PHYSIO_TYPES = ("RRI", "EDA", "SkinTemperature")


@pytest.fixture(scope="module")
def physio_release(tmp_path_factory):
    out = tmp_path_factory.mktemp("physio") / "release"
    run_cli("synth", "--out", str(out), "--participants", "2", "--days", "1", "--scale", "1", "--seed", "3", "--quiet")
    return out


@pytest.fixture(scope="module")
def physio_offline(physio_release, tmp_path_factory):
    """(dataset, bundle path): `extract --features reference+physio` then `export`."""
    from kemo_attention.dataset import load_dataset

    feats = tmp_path_factory.mktemp("physio_feat")
    run_cli("extract", str(physio_release), "--out", str(feats), "--mode", "causal", "--features", "reference+physio",
            "--min-responses", "3", "--workers", "1", "--quiet")
    models = tmp_path_factory.mktemp("physio_models")
    run_cli("export", str(feats / "attention.pkl"), "--model", "logreg", "--out", str(models))
    return load_dataset(feats / "attention.pkl"), models / "attention-logreg.pkl"


def test_bundle_records_the_feature_set(physio_offline, tmp_path):
    from kemo_attention.bundle.runtime import BundleError, load_bundle
    from kemo_attention.features.layout import feature_columns

    _, bundle_path = physio_offline
    bundle = load_bundle(bundle_path, fast=False)
    assert bundle.manifest["feature_settings"]["feature_set"] == "reference+physio"
    assert bundle.feature_set == "reference+physio" and bundle.feature_settings().physio
    assert bundle.feature_names == feature_columns(physio=True) and bundle.manifest["raw_features"]
    # a feature set this version does not know is refused at load, naming the manifest
    manifest_path = bundle_path.with_name(bundle_path.stem + ".manifest.json")
    manifest = json.loads(manifest_path.read_text())
    manifest["feature_settings"]["feature_set"] = "reference+optics"
    copy = tmp_path / bundle_path.name
    copy.write_bytes(bundle_path.read_bytes())
    copy.with_name(manifest_path.name).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="manifest.json: feature_settings: feature set must be one of"):
        load_bundle(copy, fast=False)


def test_needs_of_adds_the_physio_warm_up():
    from kemo_attention.features.physio import PHYSIO_WARMUP_MS
    from kemo_attention.live.service import needs_of

    assert needs_of(["EDA#TNC#M30"]) == (["EDA"], 1_800_000 + PHYSIO_WARMUP_MS)
    assert needs_of(["EDA#AVG#M30"]) == (["EDA"], 1_800_000)  # a reference feature: its window only


def test_every_physio_feature_equals_offline(physio_offline, physio_release, tmp_path):
    from kemo_attention.bundle.runtime import load_bundle
    from kemo_attention.features.physio import physio_feature_names, physio_features
    from kemo_attention.features.streams import build_streams
    from kemo_attention.live.service import LiveService
    from kemo_attention.release.layout import find_release
    from kemo_attention.release.read import read_participant
    from kemo_attention.live.store import open_store
    from kemo_attention.serve.service import PredictionService

    ds, bundle_path = physio_offline
    names = physio_feature_names()
    columns = list(ds.X.columns)
    at = [columns.index(n) for n in names]
    predictor = PredictionService(load_bundle(bundle_path))
    live = LiveService(predictor, open_store(tmp_path / "physio.sqlite"), features=names)
    # Without skin temperature (H01, no filter) the longest window is a filtered one (M30), so
    # the store keeps just the warm-up before it: what the edge check below needs.
    filtered = [n for n in names if not n.startswith("SKT#")]
    tight = LiveService(predictor, open_store(tmp_path / "tight.sqlite"), features=filtered)
    tight_at = [columns.index(n) for n in filtered]
    pcode = "P02"
    rep = batches_of(physio_release, pcode, np.random.default_rng(11), max_span_ms=1_200_000)
    mask = ds.group == pcode
    prompts = list(np.asarray(ds.meta["prompt_time_ms"])[mask])
    want_all = ds.X[mask][names].to_numpy(dtype=np.float64)
    done, pruned_before = 0, 0
    edge_rows: dict[int, np.ndarray] = {}
    for block, end in zip(rep.blocks, rep.block_end):
        for batch in block:
            physio_only = {k: v for k, v in batch.items() if k in PHYSIO_TYPES}
            if physio_only:
                live.ingest(pcode, physio_only)
                tight.ingest(pcode, {k: v for k, v in physio_only.items() if k != "SkinTemperature"})
        kept_from = (tight.store.summary(pcode) or {}).get("kept_from")
        if kept_from is not None and kept_from + tight.window_ms + 1 <= end:
            edge = kept_from + tight.window_ms + 1
            edge_rows.setdefault(edge, tight.features(pcode, edge)[0][0][tight_at])
        while done < len(prompts) and prompts[done] <= end:
            got = live.features(pcode, int(prompts[done]))[0][0][at]
            want = want_all[done]
            bad = np.flatnonzero(np.abs(got - want) > TOL * np.maximum(1.0, np.abs(want)))
            assert bad.size == 0, f"prompt {prompts[done]}: {[(names[i], got[i], want[i]) for i in bad[:5]]}"
            kept_from = live.store.summary(pcode)["kept_from"]
            pruned_before += kept_from is not None and kept_from < prompts[done]
            done += 1
    assert done == len(prompts)
    # At each new cutoff, the earliest time the store still serves: its windows start one
    # warm-up after the cutoff, and only the warm-up separates the live values from those of
    # the whole history.
    streams = build_streams(read_participant(find_release(physio_release), pcode).tables)
    edge_times = np.array(sorted(edge_rows), dtype=np.int64)
    whole = physio_features(streams, edge_times - 1)
    want_edges = np.nan_to_num(np.array([[whole[n][i] for n in filtered] for i in range(edge_times.size)]))
    got_edges = np.array([edge_rows[t] for t in edge_times])
    bad = np.argwhere(np.abs(got_edges - want_edges) > TOL * np.maximum(1.0, np.abs(want_edges)))
    assert bad.size == 0, [(int(edge_times[i]), filtered[j], got_edges[i, j], want_edges[i, j]) for i, j in bad[:5]]
    assert edge_times.size >= 3 and (want_edges != 0).sum() > edge_times.size * len(filtered) // 4
    # not a vacuous equality: most prompts were computed after pruning, and every statistic
    # (LF/HF included) was nonzero somewhere
    assert pruned_before >= len(prompts) // 2
    assert (want_all != 0).any(axis=0).all(), [n for n, nz in zip(names, (want_all != 0).any(axis=0)) if not nz]


def test_physio_bundle_served_live_equals_offline(physio_offline, physio_release, tmp_path):
    from kemo_attention.bundle.runtime import load_bundle

    ds, bundle_path = physio_offline
    proba = load_bundle(bundle_path).predict_proba(ds.X)
    pcode = "P01"
    mask = ds.group == pcode
    expected = {int(p): float(v) for p, v in zip(np.asarray(ds.meta["prompt_time_ms"])[mask], proba[mask])}
    rep = batches_of(physio_release, pcode, np.random.default_rng(5), max_span_ms=1_200_000)
    with Server(bundle_path, tmp_path / "live.sqlite") as server, httpx.Client(base_url=server.url, timeout=300) as client:
        got = send_replay(client, rep, list(expected))
        kept_from = client.get(f"/participants/{pcode}").json()["kept_from"]
    assert set(got) == set(expected)
    diffs = {at: abs(got[at] - p) for at, p in expected.items()}
    worst = max(diffs, key=diffs.get)
    assert diffs[worst] <= TOL, f"{pcode} at {worst}: live {got[worst]} offline {expected[worst]}"
    assert len({round(v, 9) for v in got.values()}) > 1
    assert kept_from is not None  # the store pruned while the prompts were served


@pytest.mark.parametrize("eda_ms", [[], [1_000_100]], ids=["no EDA", "one sample between grid points"])
def test_physio_features_without_eda_data(eda_ms):
    """A live store that holds no EDA yet (or too little for one grid point) gives NaN for the
    EDA statistics, which the assembly makes 0, instead of failing the request."""
    from kemo_attention.features.physio import physio_feature_names, physio_features
    from kemo_attention.features.streams import SPECS_BY_NAME, Stream

    def stream(name, times, values):
        return Stream(SPECS_BY_NAME[name], np.asarray(times, dtype=np.int64), np.asarray(values, dtype=np.float64))

    streams = {"RRI": stream("RRI", [], []), "SKT": stream("SKT", [], []),
               "EDA": stream("EDA", eda_ms, [500.0] * len(eda_ms))}
    out = physio_features(streams, np.array([2_000_000]))
    assert set(out) == set(physio_feature_names())
    eda = [n for n in out if n.startswith("EDA#")]
    assert eda and all(np.isnan(out[n][0]) for n in eda)


def test_predict_raw_computes_the_physio_columns(physio_offline, physio_release):
    """POST /predict/raw with a physio bundle: the RRI, EDA and SkinTemperature records of the
    65 minutes before a prompt (the longest window, SKT's hour, plus the warm-up) give the
    probability of the training code on the same records, and physiology columns equal to
    extraction over the whole day."""
    import polars as pl

    from kemo_attention.bundle.runtime import load_bundle
    from kemo_attention.config import FeatureSettings
    from kemo_attention.features.assemble import features_for_prompts
    from kemo_attention.features.physio import PHYSIO_WARMUP_MS, physio_feature_names
    from kemo_attention.release.layout import find_release
    from kemo_attention.release.read import empty_frame, read_participant
    from kemo_attention.release.schema import DATA_TYPES
    from kemo_attention.serve.schemas import RawPredictRequest
    from kemo_attention.serve.service import PredictionService

    ds, bundle_path = physio_offline
    bundle = load_bundle(bundle_path)
    service = PredictionService(bundle)
    names = physio_feature_names()
    tables = read_participant(find_release(physio_release), "P01").tables
    mask = np.flatnonzero(ds.group == "P01")
    prompts = np.asarray(ds.meta["prompt_time_ms"])[mask]
    def before(prompt):
        since = prompt - 3_600_000 - PHYSIO_WARMUP_MS
        return {name: tables[name].filter((pl.col("timestamp") >= since) & (pl.col("timestamp") < prompt))
                for name in PHYSIO_TYPES}

    # prompts with band data in the hour before them (the band is off for part of the day)
    worn = [i for i, prompt in enumerate(prompts) if all(f.height for f in before(int(prompt)).values())]
    checked = 0
    for i in [worn[len(worn) // 4], worn[len(worn) // 2], worn[-1]]:
        prompt = int(prompts[i])
        sent = before(prompt)
        body = service.predict_raw(RawPredictRequest.model_validate(
            {"pcode": "P01", "prompt_time": prompt, "records": {k: v.to_dicts() for k, v in sent.items()}}))
        same = {name: sent.get(name, empty_frame(dt)) for name, dt in DATA_TYPES.items()}
        X = features_for_prompts(same, np.array([prompt]), userinfo=None, past_labels=None,
                                 settings=FeatureSettings(feature_set="reference+physio"))
        assert body["probability"] == pytest.approx(float(bundle.predict_proba(X)[0]), abs=1e-6)
        want = ds.X.iloc[mask[i]][names].to_numpy(dtype=np.float64)
        got = X[names].iloc[0].to_numpy(dtype=np.float64)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
        checked += int((want != 0).sum() > len(names) // 2)
    assert checked >= 2  # prompts whose physiology columns carry values
