"""Shared fixtures of the oracle and leakage tests of the features room.

Imports of ``kemo_attention.features`` happen inside the fixtures, so that this file never
breaks the collection of the other feature tests while the engine is being written.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

_DTYPES = {"int": pl.Int64, "float": pl.Float64, "str": pl.String, "bool": pl.Boolean}


@pytest.fixture(scope="session")
def make_stream():
    """``make_stream(name, times, values)`` -> a ``Stream`` of the named spec, typed as build_streams does."""
    from kemo_attention.features.streams import STREAM_SPECS, Stream

    specs = {s.name: s for s in STREAM_SPECS}

    def make(name: str, times, values):
        spec = specs[name]
        times = np.asarray(times, dtype=np.int64)
        if spec.kind == "num":
            vals = np.asarray(values, dtype=np.float64).astype(np.float32).astype(np.float64)
        else:
            vals = np.empty(len(values), dtype=object)
            vals[:] = list(values)
        return Stream(spec, times, vals)

    return make


@pytest.fixture(scope="session")
def run_fast():
    """``run_fast(stream, ts, mode, present=True, coverage=False)`` -> {feature name: float64 array over ts}.

    Applies the spec's last step (NaN / inf -> 0, booleans -> 0.0 / 1.0), which
    ``stream_features`` leaves to its caller.
    """
    from kemo_attention.features.window import stream_features

    def run(stream, ts, mode: str, present: bool = True, coverage: bool = False) -> dict[str, np.ndarray]:
        raw = stream_features(stream, np.asarray(ts, dtype=np.int64), mode=mode, present=present, coverage=coverage)
        out = {}
        for name, arr in raw.items():
            arr = np.asarray(arr, dtype=np.float64)
            out[name] = np.where(np.isfinite(arr), arr, 0.0)
        return out

    return run


def typed_frame(type_name: str, rows: list[dict] | None = None) -> pl.DataFrame:
    """A frame of one raw data type as the reader hands it over: ``timestamp`` + canonical
    columns with the schema's dtypes, stable-sorted by timestamp."""
    from kemo_attention.release.schema import DATA_TYPES

    dt = DATA_TYPES[type_name]
    schema = {"timestamp": pl.Int64, **{c.name: _DTYPES[c.kind] for c in dt.columns}}
    rows = [{k: r.get(k) for k in schema} for r in rows or []]
    return pl.DataFrame(rows, schema=schema, orient="row").sort("timestamp", maintain_order=True)


def all_tables(frames: dict[str, list[dict]]) -> dict[str, pl.DataFrame]:
    """Every one of the 27 types: the given rows, empty frames for the others."""
    from kemo_attention.release.schema import DATA_TYPES

    return {name: typed_frame(name, frames.get(name)) for name in DATA_TYPES}


@pytest.fixture(scope="session")
def make_tables():
    """``make_tables({"HR": [{"timestamp": ..., "bpm": ...}], ...})`` -> all 27 typed frames."""
    return all_tables
