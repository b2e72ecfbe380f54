"""Synthetic datasets over the real feature columns, and bundles made from them with the real
model zoo: fixtures shared by the bundle, model and serving tests (their conftest imports them).

``make_dataset`` records what extraction records: a dataset whose columns are exactly the
feature layout carries its hash (so a bundle exported from it can be served from raw
records); any other column set does not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kemo_attention.dataset import Dataset
from kemo_attention.features.layout import column_layout

N_SAMPLES = 300
N_PARTICIPANTS = 10
SIGNAL = ("HRT#VAL", "SCR#VAL=ON")  # the features the synthetic label depends on


def feature_kinds() -> dict[str, str]:
    """The real feature columns and their kinds (bool/numeric), in column order."""
    from kemo_attention.features.assemble import features_for_prompts
    from kemo_attention.features.layout import feature_columns
    from kemo_attention.release.read import empty_frame
    from kemo_attention.release.schema import DATA_TYPES

    # The dtypes of the real output tell bool from numeric: ask the feature code itself.
    tables = {name: empty_frame(dt) for name, dt in DATA_TYPES.items()}
    row = features_for_prompts(tables, np.array([1_557_279_000_000]), userinfo=None, past_labels=None)
    assert list(row.columns) == list(feature_columns())
    return {c: ("bool" if row[c].dtype == bool else "numeric") for c in row.columns}


def make_dataset(kinds: dict[str, str], *, n: int = N_SAMPLES, seed: int = 0, feature_mode: str = "causal",
                 label: str = "attention") -> Dataset:
    """Random features of the given kinds; y depends on the SIGNAL features (so that the
    selector keeps them and the raw-data path moves the probability)."""
    rng = np.random.default_rng(seed)
    cols = {}
    for name, kind in kinds.items():
        if kind == "bool":
            cols[name] = rng.random(n) < 0.3
        else:
            cols[name] = rng.normal(size=n).astype(np.float32)
    cols["HRT#VAL"] = rng.normal(75, 10, size=n).astype(np.float32)
    X = pd.DataFrame(cols, columns=list(kinds))
    score = (X["HRT#VAL"].to_numpy() - 75) / 10 + 1.5 * X["SCR#VAL=ON"].to_numpy() + rng.normal(0, 0.5, n)
    y = (score > 0.4).astype(int)
    group = np.repeat([f"P{i:02d}" for i in range(N_PARTICIPANTS)], -(-n // N_PARTICIPANTS))[:n]
    meta = {"feature_mode": feature_mode, "label": {"name": label}, "tz_offset": "+09:00"}
    layout = column_layout()
    if list(kinds) == list(layout.columns):  # as extraction records it: the columns are its layout
        meta["feature_layout_hash"] = layout.hash
    return Dataset(X, y, group, meta=meta)


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def kinds() -> dict[str, str]:
    return feature_kinds()


@pytest.fixture(scope="session")
def small_kinds(kinds) -> dict[str, str]:
    """40 real columns (with the signal ones): for tests about files, not about width."""
    keep = list(kinds)[:36] + [c for c in kinds if kinds[c] == "bool"][:2] + list(SIGNAL)
    return {c: kinds[c] for c in dict.fromkeys(keep)}


@pytest.fixture(scope="session")
def dataset(kinds) -> Dataset:
    return make_dataset(kinds)


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bundles")


@pytest.fixture(scope="session")
def bundle_path(dataset, bundle_dir) -> Path:
    from kemo_attention.bundle.export import export_bundle

    return export_bundle(dataset, "logreg", bundle_dir / "causal")


@pytest.fixture(scope="session")
def bundle(bundle_path):
    from kemo_attention.bundle.runtime import load_bundle

    return load_bundle(bundle_path)
