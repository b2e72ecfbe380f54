"""Streams derived from several rows at once: ``INS_JAC`` (installed-app snapshots),
``LOC_DST`` and ``LOC_CLS`` (location fixes), ``WIF_COS/EUC/MAN/JAC`` (Wi-Fi scans).

Each function takes the reader's frame of one data type and returns ``{stream name:
(times, values)}``; :mod:`kemo_attention.features.streams` puts them in its catalogue.
Snapshots and scans are the rows sharing one timestamp; consecutive ones are compared with
joins over whole columns (no loop over snapshots). Every derivation works on the raw values
as parsed (float64) and rounds only its result to float32 (spec/features.md, section 3).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from kemo_attention.features import geohash
from kemo_attention.features.arrays import f32 as _f32
from kemo_attention.features.arrays import floats as _floats
from kemo_attention.features.arrays import times as _times
from kemo_attention.release.schema import TIMESTAMP

EARTH_RADIUS_M = 6_371_008.8
GEOHASH_PRECISION = 7

_Series = tuple[np.ndarray, np.ndarray]


def installed_apps(df: pl.DataFrame) -> dict[str, _Series]:
    """Jaccard similarity of the package sets of each snapshot and the one before."""
    snaps = df.select(pl.col(TIMESTAMP).alias("t"), pl.col("packageName").alias("pkg"))
    # One snapshot = the rows sharing one timestamp (frames are sorted by time).
    snaps = snaps.with_columns(pl.col("t").rank("dense").cast(pl.Int64).alias("k") - 1)
    snap_times = snaps.get_column("t").unique(maintain_order=True).to_numpy().astype(np.int64)
    if snap_times.shape[0] < 2:
        return {"INS_JAC": (snap_times[:0], np.zeros(0))}
    pairs = snaps.filter(pl.col("pkg").is_not_null()).select("k", "pkg").unique()
    size = pairs.group_by("k").len().rename({"len": "n"})
    prev = pairs.with_columns(pl.col("k") + 1)
    inter = pairs.join(prev, on=["k", "pkg"], how="inner").group_by("k").len().rename({"len": "m"})
    n_snap = snap_times.shape[0]
    n = np.zeros(n_snap, dtype=np.float64)
    m = np.zeros(n_snap, dtype=np.float64)
    n[size.get_column("k").to_numpy()] = size.get_column("n").to_numpy()
    m[inter.get_column("k").to_numpy()] = inter.get_column("m").to_numpy()
    union = n[1:] + n[:-1] - m[1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        jac = np.where(union > 0, m[1:] / union, 0.0)
    return {"INS_JAC": (snap_times[1:], _f32(jac))}


def haversine_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in metres (earth radius 6,371,008.8 m)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2) - np.radians(lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def location(df: pl.DataFrame) -> dict[str, _Series]:
    t = _times(df)
    # Raw float64 coordinates: rounding them to float32 first would move LOC_DST by 0.1-0.3 %
    # and can move a fix across a geohash cell edge (spec section 3: only results are rounded).
    lat, lon = _floats(df, "latitude"), _floats(df, "longitude")
    dist = np.zeros(t.shape[0], dtype=np.float64)
    if t.shape[0] > 1:
        with np.errstate(invalid="ignore"):
            d = haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:])
        dist[1:] = np.where(np.isnan(d), 0.0, d)  # a missing coordinate -> 0
    ok = ~(np.isnan(lat) | np.isnan(lon))
    cls = geohash.encode(lat[ok], lon[ok], GEOHASH_PRECISION)
    return {"LOC_DST": (t, _f32(dist)), "LOC_CLS": (t[ok], cls)}


def wifi(df: pl.DataFrame) -> dict[str, _Series]:
    """Similarities between each scan and the previous one, access points keyed by
    ``bssid-frequency`` (a key seen twice in one scan keeps its last row)."""
    names = ("WIF_COS", "WIF_EUC", "WIF_MAN", "WIF_JAC")
    rows = df.select(
        pl.col(TIMESTAMP).alias("t"),
        pl.concat_str([pl.col("bssid"), pl.col("frequency").cast(pl.String)], separator="-", ignore_nulls=False).alias(
            "key"
        ),
        pl.col("rssi").cast(pl.Float64).alias("rssi"),  # raw values; only the similarities are rounded
    ).filter(pl.col("key").is_not_null() & pl.col("rssi").is_not_null() & pl.col("rssi").is_not_nan())
    rows = rows.with_columns((pl.col("t").rank("dense").cast(pl.Int64) - 1).alias("k"))
    scan_times = rows.get_column("t").unique(maintain_order=True).to_numpy().astype(np.int64)
    if scan_times.shape[0] < 2:
        empty = (scan_times[:0], np.zeros(0))
        return {n: empty for n in names}
    rows = rows.unique(subset=["k", "key"], keep="last", maintain_order=True)
    size = rows.group_by("k").len()
    prev = rows.select(pl.col("k") + 1, "key", pl.col("rssi").alias("b"))
    shared = rows.rename({"rssi": "a"}).join(prev, on=["k", "key"], how="inner")
    agg = shared.group_by("k").agg(
        pl.len().alias("m"),
        (pl.col("a") * pl.col("b")).sum().alias("dot"),
        (pl.col("a") ** 2).sum().alias("na"),
        (pl.col("b") ** 2).sum().alias("nb"),
        ((pl.col("a") - pl.col("b")) ** 2).sum().alias("sq"),
        (pl.col("a") - pl.col("b")).abs().sum().alias("ab"),
    )
    n_scan = scan_times.shape[0]

    def dense(frame: pl.DataFrame, col: str) -> np.ndarray:
        out = np.zeros(n_scan, dtype=np.float64)
        out[frame.get_column("k").to_numpy()] = frame.get_column(col).to_numpy()
        return out

    n = dense(size, "len")
    m, dot, na, nb, sq, ab = (dense(agg, c) for c in ("m", "dot", "na", "nb", "sq", "ab"))
    m, dot, na, nb, sq, ab = (a[1:] for a in (m, dot, na, nb, sq, ab))
    has = m > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where(has, dot / (np.sqrt(na) * np.sqrt(nb)), 0.0)
        euc = np.where(has, 1.0 / (1.0 + np.sqrt(sq / m)), 0.0)
        man = np.where(has, 1.0 / (1.0 + ab / m), 0.0)
        jac = m / (n[1:] + n[:-1] - m)
    cos = np.where(np.isfinite(cos), cos, 0.0)  # all-zero RSSI vectors: undefined -> 0
    t = scan_times[1:]
    return {"WIF_COS": (t, _f32(cos)), "WIF_EUC": (t, _f32(euc)), "WIF_MAN": (t, _f32(man)), "WIF_JAC": (t, _f32(jac))}
