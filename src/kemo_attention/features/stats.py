"""Numeric window statistics on many windows at once.

:func:`numeric_window_stats` takes a batch of windows as the rows of a 2-D
array (each row's values at its start, ``n[r]`` of them) and returns the eight
statistics of spec/features.md section 3 per row, in float64:

AVG mean; STD sample SD (ddof 1, 0 when n < 2); SKW / KUR scipy
``skew`` / ``kurtosis(bias=False)`` (uncorrected when n <= 2 / n <= 3, and NaN,
here 0, where scipy finds the variance negligible: ``m2 <= (eps * mean)**2``);
ASC sum of absolute consecutive differences; BEP Shannon entropy (ln) of the
counts of ``np.histogram(v, bins="doane")``; MED median; TSC
``sqrt(sum(diff(z)**2))`` with ``z = (v - mean) / STD``.

A row whose values are all exactly equal gets STD = SKW = KUR = TSC = BEP = 0
and AVG = MED = that value; an empty row (n = 0) gets 0 everywhere.

Why this shape: mean and central moments are computed directly on the values
(two-pass, as scipy does), never from running sums, which lose everything on
near-constant windows; every sum has a fixed order per row (see ``BLOCK``), so a
window's statistics never depend on the other windows of its batch. Each row is then
sorted once; the sorted row gives min, max, median and the histogram counts
(a binary search per bin edge) in one go, cheaper than a partition for the
median plus a separate binning pass.
"""

from __future__ import annotations

import threading

import numpy as np

NUM_STATS: tuple[str, ...] = ("AVG", "STD", "SKW", "KUR", "ASC", "BEP", "MED", "TSC")

_EPS = np.finfo(np.float64).eps
# Row sums add fixed blocks of BLOCK values (numpy's pairwise sum inside a block), then the
# block sums in order: the result for a row does not depend on how wide the batch is or
# which other rows it holds (trailing zeros add nothing), so a window gets bit-identical
# statistics whether it is computed alone (serving) or with others (training).
BLOCK = 64


def padded_width(n_max: int) -> int:
    """Batch width for windows of at most ``n_max`` values: a positive multiple of BLOCK."""
    return max(BLOCK, -(-int(n_max) // BLOCK) * BLOCK)


# Per-thread scratch memory, reused from batch to batch: fresh multi-megabyte arrays
# cost a page fault per 4 kB on first touch, which measured ~1.5 ns per value per array,
# as much as the arithmetic. (Threads: the API serves from a thread pool.)
_scratch = threading.local()


def _buffers(count: int, size: int) -> list[np.ndarray]:
    """``count`` flat float64 scratch arrays of at least ``size`` values (this thread's)."""
    bufs = getattr(_scratch, "bufs", None)
    if bufs is None or bufs[0].size < size:
        bufs = [np.empty(max(size, 1 << 16)) for _ in range(4)]
        _scratch.bufs = bufs
    return bufs[:count]


def new_batch(rows: int, width: int, zeroed: bool = True) -> np.ndarray:
    """A zeroed ``(rows, width)`` batch for :func:`padded_window_stats` (width from
    :func:`padded_width`), in this thread's scratch memory: valid until the next call.
    ``zeroed=False``: left as the last batch left it, for a caller that writes every row's
    values and zeros after them itself."""
    V = _buffers(4, rows * width)[3][: rows * width].reshape(rows, width)
    if zeroed:
        V.fill(0.0)
    return V


def _block_sums(X: np.ndarray) -> np.ndarray:
    """Sum of each block of BLOCK values of each row (``X``'s width: a multiple of BLOCK)."""
    R, L = X.shape
    return X.reshape(R, L // BLOCK, BLOCK).sum(axis=2)


# Values per tile of _moment_sums: a tile's few scratch arrays stay in the core's cache,
# where whole-batch passes would stream every intermediate through memory.
_TILE_VALUES = 1 << 16


def _moment_sums(V: np.ndarray, n: np.ndarray, nf: np.ndarray):
    """Row sums of (d = consecutive differences) d**2 and |d|, the mean, and the sums of D**2,
    D**3 and D**4 (D = v - mean, 0 after n), with D itself.

    The batch is swept in tiles of whole blocks (columns), twice (the mean first). A row's
    sum is its block sums (numpy's pairwise sum inside a block) added in order, so the
    numbers depend neither on the tile width nor on the other rows (see ``BLOCK``).
    """
    R, L = V.shape
    tile = max(BLOCK, _TILE_VALUES // R // BLOCK * BLOCK)
    D, work_a, work_b = (x[: R * L].reshape(R, L) for x in _buffers(3, R * L))
    flat_a, flat_b = work_a.reshape(-1), work_b.reshape(-1)
    sums = np.empty((6, R, L // BLOCK))
    last = n - 1  # a row's last difference, v[n] - v[n - 1], reads the zero padding: it is 0
    for j in range(0, L, tile):
        e = min(j + tile, L)
        w, k0, k1 = e - j, j // BLOCK, e // BLOCK
        d = flat_a[: R * w].reshape(R, w)
        if e < L:
            np.subtract(V[:, j + 1: e + 1], V[:, j:e], out=d)
        else:
            np.subtract(V[:, j + 1:], V[:, j:-1], out=d[:, :-1])
            d[:, -1] = 0.0
        ends = np.flatnonzero((last >= j) & (last < e))
        d[ends, last[ends] - j] = 0.0
        T = np.multiply(d, d, out=flat_b[: R * w].reshape(R, w))
        sums[0, :, k0:k1] = _block_sums(T)
        np.abs(d, out=d)
        sums[1, :, k0:k1] = _block_sums(d)
        sums[2, :, k0:k1] = _block_sums(V[:, j:e])
    totals = np.cumsum(sums[:3], axis=2)[:, :, -1]
    mean = totals[2] / nf
    n_min = int(n.min())
    for j in range(0, L, tile):
        e = min(j + tile, L)
        w, k0, k1 = e - j, j // BLOCK, e // BLOCK
        Dt = np.subtract(V[:, j:e], mean[:, None], out=D[:, j:e])
        if e > n_min:  # some row ends in or before this tile
            Dt[np.arange(j, e)[None, :] >= n[:, None]] = 0.0
        T = np.multiply(Dt, Dt, out=flat_b[: R * w].reshape(R, w))
        sums[3, :, k0:k1] = _block_sums(T)
        U = np.multiply(T, Dt, out=flat_a[: R * w].reshape(R, w))
        sums[4, :, k0:k1] = _block_sums(U)
        np.multiply(T, T, out=T)
        sums[5, :, k0:k1] = _block_sums(T)
    moments = np.cumsum(sums[3:], axis=2)[:, :, -1]
    return totals[0], totals[1], mean, moments[0], moments[1], moments[2], D


def numeric_window_stats(values: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
    """Statistics of each row of ``values`` (shape ``(R, L)``; row r uses ``values[r, :n[r]]``)."""
    values = np.asarray(values, dtype=np.float64)
    n = np.asarray(n, dtype=np.int64)
    V = new_batch(values.shape[0], padded_width(values.shape[1]))
    for r, k in enumerate(n):
        V[r, :k] = values[r, :k]
    return padded_window_stats(V, n)


def padded_window_stats(V: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
    """Like :func:`numeric_window_stats` on a batch laid out for speed.

    ``V`` has shape ``(R, L)`` with ``L`` a multiple of :data:`BLOCK`, row r holds its
    ``n[r]`` values first and zeros after them; it is overwritten (sorted in place).
    """
    R, L = V.shape
    n = np.asarray(n, dtype=np.int64)
    out = {name: np.zeros(R) for name in NUM_STATS}
    if R == 0:
        return out
    n_max = int(n.max())
    ragged = bool((n != n_max).any())
    cols = np.arange(L)[None, :]
    nf = np.maximum(n, 1).astype(np.float64)

    n_min = int(n.min())

    def clear_tail(X: np.ndarray, keep: np.ndarray, fill: float = 0.0) -> None:
        # Positions at or after `keep` (= n, per row) get `fill`. Only columns n.min() ..
        # n.max() need a mask: rows of one batch have similar lengths, so that is a small part.
        first, last = n_min, int(keep.max())
        X[:, last:] = fill
        if ragged and last > first:
            X[:, first:last][cols[:, first:last] >= keep[:, None]] = fill

    # Order-dependent statistics (before the sort) and the central moments as scipy defines
    # them: D = v - mean, mean(D**2), mean(D**2 * D), mean((D**2)**2); two-pass, never from
    # running sums.
    sq_diff, asc, mean, s2, s3, s4, D = _moment_sums(V, n, nf)
    m2 = s2 / nf
    m3 = s3 / nf
    m4 = s4 / nf

    with np.errstate(divide="ignore", invalid="ignore"):
        std = np.where(n >= 2, np.sqrt(s2 / np.maximum(nf - 1.0, 1.0)), 0.0)
        negligible = m2 <= (_EPS * mean) ** 2
        # Same operation order as scipy.
        skw = m3 / m2**1.5
        skw_c = np.sqrt((nf - 1.0) * nf) / (nf - 2.0) * m3 / m2**1.5
        skw = np.where((n > 2) & ~negligible, skw_c, skw)
        kur = m4 / m2**2.0
        kur_c = 1.0 / (nf - 2.0) / (nf - 3.0) * ((nf**2 - 1.0) * m4 / m2**2.0 - 3.0 * (nf - 1.0) ** 2.0)
        kur = np.where((n > 3) & ~negligible, kur_c + 3.0, kur) - 3.0
        skw[negligible] = np.nan
        kur[negligible] = np.nan
        tsc = np.sqrt(sq_diff) / std

    clear_tail(V, n, np.inf)  # the padding sorts after every value
    V.sort(axis=1)
    rows = np.arange(R)
    mn, mx = V[:, 0], V[rows, np.maximum(n - 1, 0)]
    constant = (mn == mx) | (n == 0)
    n_bins = _doane_bins(D, n, mn, mx, m2, m3)  # D: still the unsorted centred values
    upper = V[rows, np.maximum(n, 1) // 2]
    lower = V[rows, np.maximum(n - 1, 0) // 2]
    med = np.where(n % 2 == 0, (lower + upper) / 2.0, upper)
    bep = _histogram_entropy(V, n, mn, mx, n_bins)

    live = ~constant
    out["AVG"] = np.where(constant, mn, mean)
    out["MED"] = np.where(constant, mn, med)
    out["ASC"] = np.where(live, asc, 0.0)
    out["STD"] = np.where(live, std, 0.0)
    out["SKW"] = np.where(live & np.isfinite(skw), skw, 0.0)  # NaN / inf: undefined -> 0
    out["KUR"] = np.where(live & np.isfinite(kur), kur, 0.0)
    out["TSC"] = np.where(live & (std > 0), tsc, 0.0)
    out["BEP"] = np.where(live, bep, 0.0)
    for name in NUM_STATS:
        out[name][n == 0] = 0.0
    return out


def _doane_bins(D: np.ndarray, n: np.ndarray, mn: np.ndarray, mx: np.ndarray,
                m2: np.ndarray, m3: np.ndarray) -> np.ndarray:
    """Number of equal-width bins numpy's ``histogram(bins="doane")`` uses per row.

    numpy: for n > 2 and ``np.std(x) > 0``, width = ptp / (1 + log2 n +
    log2(1 + |g1| / sg1)) with g1 the biased skewness and
    sg1 = sqrt(6 (n-2) / ((n+1)(n+3))); bins = ceil(ptp / width); otherwise 1 bin.
    g1 is taken from our moments; only where the bin count sits on an integer
    boundary (where an ulp of g1 could change it) is g1 recomputed exactly the
    way numpy does, from the same centred values ``D``.
    """
    R = n.size
    bins = np.ones(R, dtype=np.int64)
    nf = n.astype(np.float64)
    ok = (n > 2) & (m2 > 0.0) & (mx > mn)
    if not ok.any():
        return bins
    with np.errstate(divide="ignore", invalid="ignore"):
        sg1 = np.sqrt(6.0 * (nf - 2.0) / ((nf + 1.0) * (nf + 3.0)))
        sigma = np.sqrt(m2)
        g1 = m3 / m2**1.5
        ptp = mx - mn
        width = ptp / (1.0 + np.log2(nf) + np.log2(1.0 + np.abs(g1) / sg1))
        ratio = ptp / width
        near = ok & (np.abs(ratio - np.round(ratio)) <= 1e-9 * np.maximum(ratio, 1.0))
    for r in np.flatnonzero(near):
        temp = D[r, : n[r]] / sigma[r]
        np.power(temp, 3, temp)
        g1_exact = np.mean(temp)
        w = ptp[r] / (1.0 + np.log2(nf[r]) + np.log2(1.0 + np.abs(g1_exact) / sg1[r]))
        ratio[r] = ptp[r] / w if w else 1.0
    good = ok & np.isfinite(ratio) & (width > 0)
    bins[good] = np.ceil(ratio[good]).astype(np.int64)
    return np.maximum(bins, 1)


def _histogram_entropy(S: np.ndarray, n: np.ndarray, mn: np.ndarray, mx: np.ndarray,
                       n_bins: np.ndarray) -> np.ndarray:
    """Entropy of the equal-width histogram counts of each sorted row of ``S``.

    Edges as ``np.linspace(mn, mx, bins + 1)`` builds them (``j * step + mn``,
    last edge exactly ``mx``); bin j holds ``e_j <= v < e_{j+1}``, the last bin
    also ``v == mx`` (numpy's rule). Counts come from binary searches of the
    inner edges in the sorted rows.
    """
    R, L = S.shape
    bep = np.zeros(R)
    rows = np.flatnonzero(n_bins > 1)
    if rows.size == 0:
        return bep
    nb = n_bins[rows]
    delta = mx[rows] - mn[rows]
    step = delta / nb
    # Inner edges e_1 .. e_{nb-1} of every row, flattened.
    q_row = np.repeat(np.arange(rows.size), nb - 1)
    first_q = np.cumsum(nb - 1) - (nb - 1)
    j = (np.arange(q_row.size) - np.repeat(first_q, nb - 1) + 1).astype(np.float64)
    zero_step = step == 0
    edge = np.where(zero_step[q_row], j / nb[q_row] * delta[q_row], j * step[q_row]) + mn[rows][q_row]
    # Count of values < edge in each sorted row: a binary search per row for a few long
    # rows; a bisection on all queries together for many short ones (where a call per row
    # would cost more than the ~log2(L) vectorised steps).
    if rows.size <= _ROWWISE_SEARCH_MAX_ROWS:
        lo = np.empty(q_row.size, dtype=np.int64)
        for r, (row, k, q0) in enumerate(zip(rows.tolist(), n[rows].tolist(), first_q.tolist())):
            q1 = q0 + int(nb[r]) - 1
            lo[q0:q1] = np.searchsorted(S[row, :k], edge[q0:q1], side="left")
    else:
        lo = _bisect_counts(S, n, rows, q_row, edge)
    # Positions per row: 0, counts below inner edges, n  -> bin counts.
    total = nb.sum()
    pos = np.zeros(total + rows.size, dtype=np.int64)
    row_first = np.cumsum(nb + 1) - (nb + 1)
    inner_slots = np.repeat(row_first + 1, nb - 1) + (np.arange(q_row.size) - np.repeat(first_q, nb - 1))
    pos[inner_slots] = lo
    pos[row_first + nb] = n[rows]
    counts = np.diff(pos)
    # Drop the diff across row boundaries: bin k of a row is at row_first + k.
    bin_slots = np.repeat(row_first, nb) + (np.arange(total) - np.repeat(np.cumsum(nb) - nb, nb))
    counts = counts[bin_slots].astype(np.float64)
    bin_row = np.repeat(np.arange(rows.size), nb)
    p = counts / n[rows][bin_row]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    bep[rows] = np.bincount(bin_row, weights=terms, minlength=rows.size)
    return bep


# Up to this many rows, _histogram_entropy searches row by row (np.searchsorted).
_ROWWISE_SEARCH_MAX_ROWS = 32


def _bisect_counts(S: np.ndarray, n: np.ndarray, rows: np.ndarray, q_row: np.ndarray,
                   edge: np.ndarray) -> np.ndarray:
    """For each query q: how many of the first ``n`` values of sorted row ``rows[q_row[q]]``
    of ``S`` are ``< edge[q]`` (what ``np.searchsorted(..., side="left")`` gives), all
    queries bisected together."""
    L = S.shape[1]
    base = rows[q_row] * L
    lo = np.zeros(q_row.size, dtype=np.int64)
    hi = n[rows][q_row].astype(np.int64)
    flat = S.reshape(-1)
    while True:
        active = lo < hi
        if not active.any():
            break
        mid = (lo + hi) // 2
        below = np.zeros(q_row.size, dtype=bool)
        below[active] = flat[base[active] + mid[active]] < edge[active]
        lo = np.where(active & below, mid + 1, lo)
        hi = np.where(active & ~below, mid, hi)
    return lo
