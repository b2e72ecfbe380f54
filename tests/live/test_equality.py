"""Same numbers as offline: a live replay (random batch sizes, batches shuffled within blocks,
so late and out-of-order) gives at every scheduled prompt the probability of `extract` (causal)
+ the bundle, to 1e-6; with pruning under way (the release spans two days, the store keeps
about eight hours), and after a `kill -9` of the server and a restart on the same store."""

from __future__ import annotations

import numpy as np

from live_support import batches_of, send_replay

TOL = 1e-6


def test_replay_equals_offline_for_every_prompt(server, client, release, expected):
    for seed, pcode in enumerate(["P02"]):  # the participant whose band was off overnight
        rep = batches_of(release, pcode, np.random.default_rng(seed), max_span_ms=1_200_000)
        got = send_replay(client, rep, list(expected[pcode]))
        assert set(got) == set(expected[pcode])
        diffs = {at: abs(got[at] - p) for at, p in expected[pcode].items()}
        worst = max(diffs, key=diffs.get)
        assert diffs[worst] <= TOL, f"{pcode} at {worst}: live {got[worst]} offline {expected[pcode][worst]}"
        # The probability moves between prompts: equality is not a constant model's.
        assert len({round(v, 9) for v in got.values()}) > 1
        summary = client.get(f"/participants/{pcode}").json()
        # Retention: two days were sent, the store kept only its window (6 h + margin).
        assert summary["kept_from"] is not None
        for stats in summary["types"].values():
            assert stats["first"] >= summary["kept_from"]
            assert summary["latest"] - stats["first"] <= 9 * 3_600_000
        early = min(expected[pcode])
        r = client.get(f"/participants/{pcode}/prediction", params={"at": early})
        assert r.status_code == 422 and "kept from" in r.json()["detail"]
        history = client.get(f"/participants/{pcode}/predictions").json()["predictions"]
        assert {h["at"] for h in history} >= set(expected[pcode])


def test_every_feature_equals_offline(offline, release, tmp_path):
    """All 3,356 features (not only the bundle's), from a real SQLite file, at every prompt
    of the participant whose band was off overnight (the carry and state across the gap)."""
    from kemo_attention.bundle.runtime import load_bundle
    from kemo_attention.features.layout import feature_columns
    from kemo_attention.live.service import LiveService
    from kemo_attention.live.store import open_store
    from kemo_attention.serve.service import PredictionService

    ds, bundle_path = offline
    live = LiveService(PredictionService(load_bundle(bundle_path)), open_store(tmp_path / "all.sqlite"),
                       features=feature_columns())
    pcode = "P02"
    rep = batches_of(release, pcode, np.random.default_rng(7), max_span_ms=1_200_000)
    mask = ds.group == pcode
    prompts = list(np.asarray(ds.meta["prompt_time_ms"])[mask])
    X = ds.X[mask].reset_index(drop=True)
    assert list(X.columns) == feature_columns()  # the live matrix comes in this order
    live.set_profile(pcode, rep.profile)
    done, posted = 0, 0
    for block, end in zip(rep.blocks, rep.block_end):
        for batch in block:
            live.ingest(pcode, batch)
        new = [a for a in rep.answers[posted:] if a["responseTime"] <= end]
        live.add_answers(pcode, new) if new else None
        posted += len(new)
        while done < len(prompts) and prompts[done] <= end:
            got = live.features(pcode, int(prompts[done]))[0][0]
            want = X.iloc[done].to_numpy(dtype=np.float64)
            bad = np.flatnonzero(np.abs(got - want) > TOL)
            assert bad.size == 0, f"prompt {prompts[done]}: {[(X.columns[i], got[i], want[i]) for i in bad[:5]]}"
            done += 1
    assert done == len(prompts)
    assert live.store.summary(pcode)["kept_from"] is not None
