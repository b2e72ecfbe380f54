"""Small synthetic datasets for the evaluation tests (foreign feature names on purpose)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kemo_attention.dataset import Dataset


def synthetic_dataset(
    *,
    participants: int = 12,
    per_participant: int = 25,
    n_float: int = 50,
    n_bool: int = 10,
    signal: float = 1.5,
    identity: float = 1.0,
    base_rate_sd: float = 0.8,
    shuffle_within_participant: bool = False,
    seed: int = 0,
) -> Dataset:
    """Samples of ``participants`` people.

    * columns ``bpm#AVG#0`` .. : float32; the first three carry a per-sample signal
      (``signal`` scales it), columns 10+ get a per-participant offset of SD ``identity``
      (so a model can recognise a person, which only helps if people leak across folds);
    * ``APP=x[k]#M01`` bool columns, the first one weakly tied to the per-sample signal;
    * ``base_rate_sd``: per-participant shift of the latent label score (independent of
      the identity offsets), i.e. people differ in how often they are focused, as real
      people do (0.8: shares of class 1 from about 0.2 to 0.8). Without it, recognising a
      person would tell a model nothing, and a participant leak could not show;
    * ``shuffle_within_participant``: permute y inside each participant, which destroys
      every per-sample link between features and label but keeps each person's base rate.
    """
    rng = np.random.default_rng(seed)
    n = participants * per_participant
    pidx = np.repeat(np.arange(participants), per_participant)
    groups = np.array([f"P{i + 1:02d}" for i in range(participants)])[pidx]
    z = rng.normal(size=(n, n_float))
    offsets = rng.normal(0.0, identity, size=(participants, n_float))
    offsets[:, :10] = 0.0
    X_float = z + offsets[pidx]
    shift = rng.normal(0.0, base_rate_sd, size=participants) if base_rate_sd else np.zeros(participants)
    cue = signal * (z[:, 0] + z[:, 1] - z[:, 2]) / np.sqrt(3)  # what the features say about a sample
    latent = cue + rng.normal(size=n) + shift[pidx]
    y = (latent > 0).astype(int)
    cols = {f"bpm#AVG#{j}": X_float[:, j].astype(np.float32) for j in range(n_float)}
    for k in range(n_bool):
        if k == 0:
            # tied to the per-sample cue only: with signal=0 no feature says anything about
            # a person's base rate (only recognising the person would)
            cols[f"APP=x[{k}]#M01"] = (cue + rng.normal(size=n)) > 0.8
        else:
            cols[f"APP=x[{k}]#M01"] = rng.random(n) < 0.3
    X = pd.DataFrame(cols)
    if shuffle_within_participant:
        y = y.copy()
        for p in range(participants):
            m = np.flatnonzero(pidx == p)
            y[m] = rng.permutation(y[m])
    start = pd.Timestamp("2019-05-01 09:00", tz="+09:00")
    date_times = np.array([start + pd.Timedelta(hours=int(i)) for i in range(n)], dtype=object)
    t = np.array([(d.hour * 3600 + d.minute * 60) for d in date_times], dtype=float)
    meta = {"feature_mode": "causal", "label": {"name": "attention"}, "tz_offset": "+09:00"}
    return Dataset(X, y, groups, t, date_times, meta)
