"""Columns of the reader's typed frames as numpy arrays, with the reference's rounding.

Shared by :mod:`~kemo_attention.features.streams` and :mod:`~kemo_attention.features.derived`.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from kemo_attention.release.schema import TIMESTAMP


def f32(values: np.ndarray) -> np.ndarray:
    """Round to float32 (as the reference reads numbers), hold as float64."""
    return np.asarray(values, dtype=np.float64).astype(np.float32).astype(np.float64)


def times(df: pl.DataFrame) -> np.ndarray:
    """The ``timestamp`` column as int64 epoch ms (no copy when possible)."""
    return df.get_column(TIMESTAMP).to_numpy().astype(np.int64, copy=False)


def floats(df: pl.DataFrame, column: str) -> np.ndarray:
    """A numeric column as float64 with NaN for null (not yet rounded)."""
    return df.get_column(column).cast(pl.Float64).to_numpy().astype(np.float64, copy=False)


def strings(df: pl.DataFrame, column: str) -> np.ndarray:
    """A string column as an object array with None for null."""
    return np.asarray(df.get_column(column).cast(pl.String).to_list(), dtype=object)
