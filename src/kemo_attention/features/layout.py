"""The fixed feature columns: names, order, kinds, and the two blocks they split into.

Column order (:func:`feature_columns`):

1. ``PIF#...``: participant information (11: 9 numeric, ``PIF#GEN=F``, ``PIF#GEN=M``);
2. ``ESM#DOW=..``, ``ESM#WKD=..``, ``ESM#HRN=..``: time of prompt (16 one-hots);
3. for each stream of :data:`~kemo_attention.features.streams.STREAM_SPECS`, in catalogue
   order, the names the window engine gives it (``stream_feature_names``: latest value,
   time since, window features, and coverage columns when asked for);
4. ``ESM#LIK#H06/H12/H24``: label history;
5. with ``physio`` only: the physiology family (:func:`~kemo_attention.features.physio.physio_feature_names`),
   after every reference (and coverage) column, so the reference columns keep their order and
   the reference layout its hash.

One-hot columns (``PIF#GEN=``, ``ESM#`` time of prompt, ``S#VAL=c``) are bool, every other
column float32. The layout's ``hash`` (:func:`kemo_attention.dataset.columns_hash` of the
names) is recorded with every extracted file, so a bundle knows whether its columns can be
computed from raw records.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from kemo_attention.dataset import columns_hash
from kemo_attention.features import window
from kemo_attention.features.context import PIF_NAMES, TIME_NAMES
from kemo_attention.features.labels import LIK_NAMES
from kemo_attention.features.physio import physio_feature_names
from kemo_attention.features.streams import STREAM_SPECS


def is_bool_feature(name: str) -> bool:
    """One-hot features: participant gender, time of prompt, latest categorical value."""
    return name.startswith("PIF#GEN=") or name in _TIME_SET or "#VAL=" in name


_TIME_SET = frozenset(TIME_NAMES)


@dataclass(frozen=True)
class ColumnLayout:
    """The column order, and how it splits into the numeric and the bool block."""

    columns: tuple[str, ...]
    numeric: tuple[str, ...]
    flags: tuple[str, ...]
    stream_names: tuple[tuple[str, ...], ...]  # per stream of STREAM_SPECS
    hash: str


@lru_cache(maxsize=8)
def column_layout(coverage: bool = False, physio: bool = False) -> ColumnLayout:
    per_stream = tuple(tuple(window.stream_feature_names(spec, coverage=coverage)) for spec in STREAM_SPECS)
    extra = tuple(physio_feature_names()) if physio else ()
    columns = (*PIF_NAMES, *TIME_NAMES, *(n for names in per_stream for n in names), *LIK_NAMES, *extra)
    if len(set(columns)) != len(columns):
        seen: set[str] = set()
        dup = next(c for c in columns if c in seen or seen.add(c))
        raise RuntimeError(f"feature name {dup!r} appears twice in the column set")
    numeric = tuple(c for c in columns if not is_bool_feature(c))
    flags = tuple(c for c in columns if is_bool_feature(c))
    return ColumnLayout(columns, numeric, flags, per_stream, columns_hash(columns))


def feature_columns(coverage: bool = False, physio: bool = False) -> list[str]:
    """The fixed feature names in column order: 3,356 (83 bool) for the 27 data types;
    more with ``coverage`` or ``physio``."""
    return list(column_layout(coverage, physio).columns)


def blocks_to_frame(numeric: np.ndarray, flags: np.ndarray, coverage: bool = False, physio: bool = False) -> pd.DataFrame:
    """One DataFrame with every column of the layout, in order: float32 and bool."""
    layout = column_layout(coverage, physio)
    frame = pd.concat(
        [pd.DataFrame(numeric, columns=list(layout.numeric)), pd.DataFrame(flags, columns=list(layout.flags))],
        axis=1,
    )
    return frame[list(layout.columns)]


def blocks_to_matrix(numeric: np.ndarray, flags: np.ndarray, coverage: bool = False, physio: bool = False) -> np.ndarray:
    """The two blocks as one float64 matrix in column order (bool -> 0/1), for a model.

    The same values as ``blocks_to_frame(...).to_numpy(float64)`` without a DataFrame.
    """
    layout = column_layout(coverage, physio)
    numeric_at, flags_at = _positions(coverage, physio)
    matrix = np.empty((numeric.shape[0], len(layout.columns)), dtype=np.float64)
    matrix[:, numeric_at] = numeric
    matrix[:, flags_at] = flags
    return matrix


@lru_cache(maxsize=8)
def _positions(coverage: bool, physio: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Where the numeric and the bool block's columns sit in the column order."""
    layout = column_layout(coverage, physio)
    at = {name: i for i, name in enumerate(layout.columns)}
    return (np.array([at[n] for n in layout.numeric], dtype=np.intp), np.array([at[n] for n in layout.flags], dtype=np.intp))
