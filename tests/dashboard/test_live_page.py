"""The Live page in AppTest, on a real store file: a tiny release replayed through a real
`kemo-attention serve --store` process, then the page reads the file the server wrote."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from app_reading import chart_data, texts

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "live"))
from live_server import CLI, Server  # noqa: E402
from replay_support import tiny_release  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live_store(tmp_path_factory, bundle_path):
    """(store file, replay.csv, release): two participants of a short release replayed."""
    import subprocess

    root = tmp_path_factory.mktemp("live-page")
    release = tiny_release(root / "release", participants=2, days=0.25, prompts_per_day=24, seed=11)
    store = root / "kemo-live.sqlite"
    with Server(bundle_path, store) as server:
        proc = subprocess.run([CLI, "replay", str(release), "--url", server.url, "--out", str(root / "replay.csv"), "--quiet",
                               "--batch-seconds", "900"],
                              capture_output=True, text=True, timeout=600)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
    return store, pd.read_csv(root / "replay.csv"), release


def _run(make_app, monkeypatch, store, state=None):
    from kemo_attention.dashboard.config import ENV_STORE

    monkeypatch.setenv(ENV_STORE, str(store) if store is not None else "")
    return make_app(page="Live", state=state)


def test_live_page_shows_the_chosen_participants_predictions_and_answers(make_app, monkeypatch, live_store):
    store, served, release = live_store
    at = _run(make_app, monkeypatch, store, state={"live_pcode": "P02"})
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="live_pcode").options == ["P01", "P02"]
    assert "Participant P02" in texts(at)

    mine = served[served["pcode"] == "P02"].sort_values("prompt_time")
    assert len(mine) >= 3
    frame = next(f for f in chart_data(at, 0) if "probability" in f)
    assert np.allclose(np.sort(frame["probability"].to_numpy()), np.sort(mine["probability"].to_numpy()), atol=1e-12)
    # the answers plotted are the ones the person gave to those prompts (EsmResponse.csv)
    with open(release / "SubjData" / "EsmResponse.csv") as f:
        given = sorted(float(r["attention"]) for r in csv.DictReader(f) if r["pcode"] == "P02" and r["scheduledTime"])
    assert sorted(frame["answer"].dropna()) == given

    table = at.dataframe[0].value
    assert len(table) == len(mine)
    assert np.allclose(table["probability"].to_numpy(), mine["probability"].to_numpy()[::-1].round(4))  # newest first
    assert list(table["answer"]) == list(mine["answer"].to_numpy()[::-1])
    assert "What the last prediction saw" in [h.value for h in at.subheader]
    seen = at.dataframe[1].value
    assert "HR" in " ".join(map(str, seen.iloc[:, 0])) or "HRT" in " ".join(map(str, seen.iloc[:, 0]))


def test_live_page_explains_a_missing_store(make_app, monkeypatch, tmp_path):
    at = _run(make_app, monkeypatch, None)
    assert not at.exception and "No live store was given" in texts(at) and "--store" in texts(at)
    at = _run(make_app, monkeypatch, tmp_path / "gone.sqlite")
    assert not at.exception and "does not exist" in texts(at)
    assert not (tmp_path / "gone.sqlite").exists()  # looking must not create a store


def test_live_page_says_when_a_file_is_not_a_store(make_app, monkeypatch, tmp_path):
    bogus = tmp_path / "notes.sqlite"
    bogus.write_text("not a database\n" * 10)
    at = _run(make_app, monkeypatch, bogus)
    assert not at.exception
    assert "Cannot read the live store" in texts(at)


def test_dashboard_store_option_refuses_a_missing_file_in_one_line(tmp_path):
    import subprocess

    proc = subprocess.run([CLI, "dashboard", "--store", str(tmp_path / "none.sqlite"), "--port", "8599"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"--store {tmp_path / 'none.sqlite'}: no such file" in proc.stderr


def test_dashboard_passes_the_store_to_the_app_as_an_absolute_path(tmp_path, monkeypatch):
    from kemo_attention.dashboard.config import ENV_STORE, DashboardConfig

    monkeypatch.chdir(tmp_path)
    cfg = DashboardConfig(store=Path("kemo-live.sqlite"))
    env = cfg.to_env()
    assert env[ENV_STORE] == str(tmp_path / "kemo-live.sqlite")
    assert DashboardConfig.from_env(env).store == tmp_path / "kemo-live.sqlite"
