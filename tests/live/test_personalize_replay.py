"""`serve --personalize`: live predictions recalibrated from a participant's first answers equal
the study's offline hybrid protocol (extract + bundle + personalize_predictions) to 1e-6.

A real `kemo-attention serve --store ... --personalize` process on 127.0.0.1 and the real
`kemo-attention replay` client; offline, the features come from `extract_release` and the
personalization from models/personalize.py, which the live side reaches only through the
population probabilities it stored with each answer."""

from __future__ import annotations

import csv
import os
import subprocess

import httpx
import numpy as np
import pytest
from live_server import CLI, Server
from replay_support import tiny_release

from kemo_attention.models.personalize import DEFAULT_PERSONAL_LABELS, personalize_predictions

pytestmark = pytest.mark.slow
K = 10
TOL = 1e-6


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 2-day tiny release, its causal features, and a logreg bundle fitted on them."""
    from kemo_attention.bundle.export import export_bundle
    from kemo_attention.features.extract import extract_release

    root = tmp_path_factory.mktemp("personal")
    release = tiny_release(root / "release", participants=2, days=2.0, prompts_per_day=20, seed=3)
    dataset = extract_release(release, root / "features", use_cache=False)
    bundle = export_bundle(dataset, "logreg", root / "models", input_path=root / "features" / "attention.pkl")
    return {"release": release, "dataset": dataset, "bundle": bundle}


def _answers(release, pcode: str) -> list[tuple[int, int]]:
    """(scheduledTime, responseTime) of the participant's labelled scheduled answers, read with csv."""
    with open(release / "SubjData" / "EsmResponse.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["pcode"] == pcode and r["scheduledTime"] and r["attention"]]
    return sorted((int(r["scheduledTime"]), int(r["responseTime"])) for r in rows)


def test_live_personalized_predictions_equal_the_offline_hybrid_ones(trained, tmp_path):
    from kemo_attention.bundle.runtime import load_bundle

    pcode = "P01"
    with Server(trained["bundle"], tmp_path / "live.sqlite", "--personalize", "--personal-labels", str(K)) as server:
        cmd = [CLI, "replay", str(trained["release"]), "--url", server.url, "--participants", pcode,
               "--out", str(tmp_path / "replay.csv"), "--quiet", "--batch-seconds", "900"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "250"})
        assert proc.returncode == 0, proc.stderr[-3000:] + server.read_log()[-2000:]
        served = httpx.get(f"{server.url}/participants/{pcode}/predictions", timeout=30).json()["predictions"]
    live = {h["at"]: h for h in served}

    ds = trained["dataset"]
    proba = load_bundle(trained["bundle"]).predict_proba(ds.X)
    prompt_ms = np.asarray(ds.meta["prompt_time_ms"], dtype=np.int64)
    personal, scored, offsets = personalize_predictions(proba, ds.y, ds.group, prompt_ms, K)
    mine = np.flatnonzero(ds.group == pcode)
    answers = _answers(trained["release"], pcode)
    assert len(mine) == len(answers) == 40  # one dataset row per labelled scheduled answer
    first_known = max(resp for _, resp in answers[:K])  # every personal answer is in from here on

    compared = 0
    for i in mine:
        at = int(prompt_ms[i])
        got = live[at]["personalization"]
        assert got["k"] == K and got["answers_unscored"] == 0
        assert got["population_probability"] == pytest.approx(proba[i], abs=TOL)
        if at > first_known:
            assert scored[i] and got["answers_used"] == K
            assert got["offset"] == pytest.approx(offsets[pcode], abs=TOL)
            assert abs(live[at]["probability"] - personal[i]) <= TOL, f"{pcode} at {at}"
            compared += 1
        else:  # fewer answers known yet: the live offset is fitted on those
            assert got["answers_used"] == sum(1 for _, resp in answers if resp < at) < K
    print(f"compared {compared}, offset {offsets[pcode]:.4f}, largest |personal - population| "
          f"{np.nanmax(np.abs(personal[mine] - proba[mine])):.4f}")
    assert compared >= 25  # all but a few of the 30 later prompts
    assert abs(offsets[pcode]) > 1e-3  # the offset moves the probabilities: not a vacuous equality
    assert live[int(prompt_ms[mine[0]])]["personalization"]["offset"] == 0.0  # no answer before the first prompt


def test_default_personal_labels_of_serve_is_the_module_constant():
    import inspect

    from kemo_attention.serve.commands import serve

    assert inspect.signature(serve).parameters["personal_labels"].default == DEFAULT_PERSONAL_LABELS


def test_an_answer_whose_prompt_left_the_kept_window_is_reported_and_left_out(trained, tmp_path):
    """Ten hours stored first, then the first answer: its prompt's raw data are gone, so it gets
    no population probability; the prediction says so and is the population one."""
    from kemo_attention.bundle.runtime import load_bundle
    from kemo_attention.live.service import LiveService
    from kemo_attention.live.store import open_store
    from kemo_attention.serve.service import PredictionService
    from live_support import batches_of

    live = LiveService(PredictionService(load_bundle(trained["bundle"])), open_store(tmp_path / "late.sqlite"),
                       personal_labels=3)
    rep = batches_of(trained["release"], "P01", np.random.default_rng(0), max_span_ms=3_600_000)
    first = min((a for a in rep.answers if a.get("scheduledTime") and a.get("attention") is not None),
                key=lambda a: a["scheduledTime"])
    for block, end in zip(rep.blocks, rep.block_end):
        if end > first["scheduledTime"] + 10 * 3_600_000:  # the store keeps ~8 h: the prompt is out by now
            break
        for batch in block:
            live.ingest("P01", batch)
    reply = live.add_answers("P01", [first])
    assert reply["stored"] == 1
    assert len(reply["warnings"]) == 1 and "cannot personalize" in reply["warnings"][0] and "kept from" in reply["warnings"][0]
    got = live.predict("P01")
    personal = got["personalization"]
    assert (personal["k"], personal["answers_used"], personal["answers_unscored"], personal["offset"]) == (3, 0, 1, 0.0)
    assert got["probability"] == pytest.approx(personal["population_probability"], abs=1e-12)
    # tried once: a second answer batch does not try (nor warn about) it again
    assert "warnings" not in live.add_answers("P01", [first])
    live.store.close()


def test_workers_read_personalize_from_the_environment(trained, monkeypatch, tmp_path):
    from fastapi.testclient import TestClient

    from kemo_attention.serve.app import ENV_BUNDLE, ENV_PERSONALIZE, ENV_STORE, create_app_from_env

    monkeypatch.setenv(ENV_BUNDLE, str(trained["bundle"]))
    monkeypatch.setenv(ENV_STORE, str(tmp_path / "env.sqlite"))
    monkeypatch.setenv(ENV_PERSONALIZE, "7")
    with TestClient(create_app_from_env()) as client:
        assert client.app.state.slot.current.live.personal_labels == 7
    monkeypatch.delenv(ENV_PERSONALIZE)
    with TestClient(create_app_from_env()) as client:
        assert client.app.state.slot.current.live.personal_labels is None
        r = client.post("/participants/P01/records", json={"records": {"HR": [{"timestamp": 1557278760000, "bpm": 71}]}})
        assert r.status_code == 200, r.text
        assert client.get("/participants/P01/prediction").json()["personalization"] is None


def test_a_past_prediction_scores_the_answer_then_known_that_arrived_out_of_order(trained, tmp_path):
    """K = 1. Answer A (earlier prompt) arrives first but was given after answer B: at a time
    between their responses only B is known, and B, never among the first K stored, is scored then."""
    from kemo_attention.bundle.runtime import load_bundle
    from kemo_attention.live.service import LiveService
    from kemo_attention.live.store import open_store
    from kemo_attention.models.personalize import fit_offset
    from kemo_attention.serve.service import PredictionService
    from live_support import batches_of

    live = LiveService(PredictionService(load_bundle(trained["bundle"])), open_store(tmp_path / "order.sqlite"),
                       personal_labels=1)
    rep = batches_of(trained["release"], "P01", np.random.default_rng(1), max_span_ms=1_800_000)
    t0, last = rep.block_end[0], None
    for block, end in zip(rep.blocks, rep.block_end):
        if end > t0 + 3 * 3_600_000:
            break
        for batch in block:
            live.ingest("P01", batch)
        last = end
    prompt_a, prompt_b = last - 1_800_000, last - 1_200_000  # inside the kept window
    a = {"scheduledTime": prompt_a, "responseTime": prompt_b + 300_000, "attention": 2}  # given after B
    b = {"scheduledTime": prompt_b, "responseTime": prompt_b + 60_000, "attention": -2}
    assert "warnings" not in live.add_answers("P01", [a])
    assert "warnings" not in live.add_answers("P01", [b])
    at = prompt_b + 120_000  # B known, A not yet
    got = live.predict("P01", at)["personalization"]
    assert (got["answers_used"], got["answers_unscored"]) == (1, 0)
    population_b = live.population("P01", prompt_b)[0]
    assert got["offset"] == pytest.approx(fit_offset([population_b], [0]), abs=1e-12)
    later = live.predict("P01", prompt_b + 600_000)["personalization"]  # both known: A is the first
    population_a = live.population("P01", prompt_a)[0]
    assert later["offset"] == pytest.approx(fit_offset([population_a], [1]), abs=1e-12)
    live.store.close()
