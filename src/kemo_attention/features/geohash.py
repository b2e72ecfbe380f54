"""A small vectorised geohash encoder (for the ``LOC_CLS`` stream).

Geohash interleaves bisection bits of longitude (even positions) and latitude (odd
positions), five bits per base-32 character. We run the bisection itself over whole numpy
arrays, one step per bit, so the result is exactly that of the classic per-point loop
(``value > mid`` -> bit 1): no floating-point shortcut that could flip a point lying on a
cell edge.
"""

from __future__ import annotations

import numpy as np

BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"
_ALPHABET = np.array(list(BASE32), dtype="<U1")


def encode(latitude: np.ndarray, longitude: np.ndarray, precision: int = 7) -> np.ndarray:
    """Geohash strings (object array) of each (latitude, longitude) pair.

    Coordinates must be finite; the caller drops missing ones first.
    """
    lat = np.asarray(latitude, dtype=np.float64)
    lon = np.asarray(longitude, dtype=np.float64)
    if lat.shape != lon.shape:
        raise ValueError("latitude and longitude must have the same length")
    n = lat.shape[0]
    if precision < 1:
        raise ValueError(f"precision must be at least 1; got {precision}")
    if n == 0:
        return np.empty(0, dtype=object)
    lat_lo, lat_hi = np.full(n, -90.0), np.full(n, 90.0)
    lon_lo, lon_hi = np.full(n, -180.0), np.full(n, 180.0)
    codes = np.zeros((n, precision), dtype=np.int64)
    for bit in range(5 * precision):
        if bit % 2 == 0:  # longitude
            mid = (lon_lo + lon_hi) / 2
            up = lon > mid
            lon_lo = np.where(up, mid, lon_lo)
            lon_hi = np.where(up, lon_hi, mid)
        else:
            mid = (lat_lo + lat_hi) / 2
            up = lat > mid
            lat_lo = np.where(up, mid, lat_lo)
            lat_hi = np.where(up, lat_hi, mid)
        codes[:, bit // 5] |= up.astype(np.int64) << (4 - bit % 5)
    chars = np.ascontiguousarray(_ALPHABET[codes])
    return chars.view(f"<U{precision}").ravel().astype(object)
