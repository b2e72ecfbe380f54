"""Fixtures of the dashboard tests: artefacts from ``dash_artefacts`` and an AppTest factory."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from dash_artefacts import write_check_json, write_eval_folder

# the synthetic study folder of tests/study (the schema's tables with plausible numbers)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "study"))
from study_folder import write_study_folder  # noqa: E402


@pytest.fixture(scope="session")
def eval_dir(tmp_path_factory) -> Path:
    return write_eval_folder(tmp_path_factory.mktemp("eval") / "attention")


@pytest.fixture(scope="session")
def check_file(tmp_path_factory) -> Path:
    return write_check_json(tmp_path_factory.mktemp("check") / "check.json")


@pytest.fixture(scope="session")
def study_dir(tmp_path_factory) -> Path:
    """A study folder with its report written (as the study leaves it)."""
    from kemo_attention.study.report import write_report

    folder = write_study_folder(tmp_path_factory.mktemp("study") / "study")
    write_report(folder)
    return folder


APP_PATH = Path(__file__).resolve().parents[2] / "src" / "kemo_attention" / "dashboard" / "app.py"


@pytest.fixture
def make_app(monkeypatch):
    """AppTest of the real app file with the given inputs (env vars, as the CLI sets them)."""
    from streamlit.testing.v1 import AppTest

    from kemo_attention.dashboard.config import ENV_BUNDLE, ENV_BUNDLE_SHA256, ENV_CHECK, ENV_EVAL, ENV_RELEASE, ENV_STUDY

    def make(*, eval_dir=None, bundle=None, release=None, check=None, page: str | None = None, state: dict | None = None,
             timeout: float = 60, bundle_sha256: str | None = None, study=None):
        """Run the app once; ``page`` and ``state`` (widget keys -> values) are set before that run."""
        for key, value in ((ENV_EVAL, eval_dir), (ENV_BUNDLE, bundle), (ENV_RELEASE, release), (ENV_CHECK, check),
                           (ENV_BUNDLE_SHA256, bundle_sha256), (ENV_STUDY, study)):
            monkeypatch.setenv(key, str(value) if value is not None else "")
        at = AppTest.from_file(str(APP_PATH), default_timeout=timeout)
        if page is not None:
            at.session_state["page"] = page
        for key, value in (state or {}).items():
            at.session_state[key] = value
        at.run()
        if page is not None:
            assert at.sidebar.radio(key="page").value == page
        return at

    return make


@pytest.fixture(scope="session")
def demo_release(tmp_path_factory) -> Path:
    """A tiny release by the demo writer (2 participants, 1 day, sparse band streams)."""
    from kemo_attention.demo.synth import write_demo_release

    return write_demo_release(tmp_path_factory.mktemp("release") / "release", participants=2, days=1, scale=0.02, seed=1, progress=False)


@pytest.fixture(scope="session")
def bundle_path(tmp_path_factory) -> Path:
    """A bundle exported by ``export_bundle`` from a small synthetic Dataset whose columns are
    exactly ``feature_columns()`` (so the live feature path can feed it): heart rate and
    time since the screen event carry the signal, every other column is 0 / false."""
    from dataclasses import asdict

    import numpy as np
    import pandas as pd

    from kemo_attention.bundle.export import export_bundle
    from kemo_attention.config import LabelSettings
    from kemo_attention.dataset import Dataset
    from kemo_attention.features.layout import column_layout, feature_columns, is_bool_feature

    rng = np.random.default_rng(7)
    n = 48
    y = np.tile([0, 1], n // 2)
    columns = feature_columns()
    data = {c: np.zeros(n, dtype=bool if is_bool_feature(c) else np.float32) for c in columns}
    data["HRT#AVG#H01"] = (70 + 15 * y + rng.normal(0, 4, n)).astype(np.float32)
    data["HRT#AVG#M05"] = (70 + 10 * y + rng.normal(0, 6, n)).astype(np.float32)
    data["SCR#DSC"] = rng.exponential(300, n).astype(np.float32)
    data["ESM#WKD=Y"] = rng.random(n) < 0.3
    X = pd.DataFrame(data, columns=columns)
    group = np.repeat(["P01", "P02", "P03", "P04", "P05", "P06"], n // 6)
    # as extraction records it: these columns are its layout (so the live feature path may feed the bundle)
    meta = {"feature_mode": "causal", "label": asdict(LabelSettings()), "tz_offset": "+09:00", "feature_layout_hash": column_layout().hash}
    ds = Dataset(X, y, group, meta=meta)
    return export_bundle(ds, "logreg", tmp_path_factory.mktemp("models"))
