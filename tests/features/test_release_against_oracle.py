"""Whole rows from raw files: ``extract_release`` against the oracle on a release with every type.

The oracle (``oracle_raw`` + ``oracle``) reads the CSV files itself and derives all 52 streams,
the labels and all 3,356 columns from the spec's words; the product reads the same release.
Every column of every row is compared (``oracle.agrees``: spec section 5), in both feature
modes and for both header styles: the current-style release through ``extract_release``, the
legacy one through the installed ``kemo-attention extract`` (its pkl read back with plain
pickle). The parity figure (worst absolute and relative difference
per stream prefix) is printed, and attached to a failure.
"""

from __future__ import annotations

import ast
import json
import pickle
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import oracle
import oracle_raw
import pytest
from every_type_release import MIN_RESPONSES, write_every_type_release

MODES = ("reference", "causal")
STYLES = ("current", "legacy")
N_COLUMNS = 3356
# Relative differences are taken against max(|expected|, 1e-6), the spec's absolute floor:
# a skewness of 1e-14 against 3e-14 is float noise, not a 200 % error.
REL_FLOOR = 1e-6


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    return {
        style: write_every_type_release(tmp_path_factory.mktemp(f"every-type-{style}") / "release", legacy=style == "legacy")
        for style in STYLES
    }


@pytest.fixture(scope="module")
def oracle_streams(releases):
    return {style: oracle_raw.release_streams(root) for style, root in releases.items()}


@pytest.fixture(scope="module")
def oracle_rows(releases, oracle_streams):
    """mode -> the oracle's rows of the current-style release, computed once per mode (the
    legacy release has the same streams: ``test_both_header_styles_give_the_oracle_the_same_streams``)."""
    cache: dict[str, list[oracle_raw.OracleRow]] = {}

    def rows(mode: str) -> list[oracle_raw.OracleRow]:
        if mode not in cache:
            cache[mode] = oracle_raw.release_rows(
                releases["current"], mode, min_responses=MIN_RESPONSES, streams=oracle_streams["current"]
            )
        return cache[mode]

    return rows


def same_series(a, b) -> bool:
    return np.array_equal(a[0], b[0]) and list(a[1]) == list(b[1])


# --------------------------------------------------------------------------- the release itself


def test_the_oracle_imports_nothing_of_the_product():
    here = Path(__file__).parent
    for module in ("oracle.py", "oracle_raw.py", "raw_columns.py", "every_type_release.py"):
        tree = ast.parse((here / module).read_text())
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not [m for m in imported if m.split(".")[0] == "kemo_attention"], module


def test_every_stream_has_data(oracle_streams):
    """P01 has samples in all 52 streams (so all 27 types count); P02 lacks calls and power saving."""
    p01 = oracle_streams["current"]["P01"]
    assert {name: len(t) for name, (t, _) in p01.items() if len(t) == 0} == {}
    p02 = oracle_streams["current"]["P02"]
    assert len(p02["CAE"][0]) == 0 and len(p02["PWS"][0]) == 0
    assert len(p02["HRT"][0]) > 1000


def test_both_header_styles_give_the_oracle_the_same_streams(oracle_streams, releases):
    cur, leg = oracle_streams["current"], oracle_streams["legacy"]
    assert sorted(cur) == sorted(leg) == ["P01", "P02", "P03"]
    for pcode in cur:
        differ = [name for name in cur[pcode] if not same_series(cur[pcode][name], leg[pcode][name])]
        assert differ == [], pcode
    assert oracle_raw.userinfo_rows(releases["current"]) == oracle_raw.userinfo_rows(releases["legacy"])
    assert (releases["legacy"] / "Sensor" / "P01" / "HR.csv").read_text().splitlines()[0] == "Timestamp,BPM"
    esm_header = (releases["legacy"] / "SubjData" / "EsmResponse.csv").read_text().splitlines()[0]
    assert esm_header.startswith("Pcode,ResponseTime,ScheduledTime,")


def test_oracle_derivations_round_only_the_result():
    """The oracle itself: LOC_DST from float64 coordinates, increments from float64 totals."""
    rows = [
        {"timestamp": 1, "latitude": "36.3721234567", "longitude": "127.3601234567"},
        {"timestamp": 2, "latitude": "36.3728234567", "longitude": "127.3594234567"},
    ]
    _, dist = oracle_raw.location(rows)["LOC_DST"]
    exact = oracle_raw.haversine(36.3721234567, 127.3601234567, 36.3728234567, 127.3594234567)
    rounded_first = oracle_raw.haversine(
        *(float(np.float32(x)) for x in (36.3721234567, 127.3601234567, 36.3728234567, 127.3594234567))
    )
    assert dist == [0.0, float(np.float32(exact))]
    assert abs(rounded_first - exact) / exact > 1e-4  # why the order of rounding matters here
    totals = [{"timestamp": k, "totalSteps": str(20_000_001 + 3 * k)} for k in range(3)]
    assert oracle_raw.increments(totals, "totalSteps")[1] == [3.0, 3.0]
    assert float(np.float32(20_000_004)) - float(np.float32(20_000_001)) != 3.0
    assert oracle_raw.geohash(57.64911, 10.40744, 11) == "u4pruydqqvj"  # the classic example


# --------------------------------------------------------------------------- whole rows


def parity(got: dict[str, np.ndarray], rows: list[oracle_raw.OracleRow]) -> dict[str, dict]:
    """Per stream prefix: columns, worst absolute and relative difference (REL_FLOOR), mismatches."""
    out: dict[str, dict] = defaultdict(lambda: {"columns": 0, "cells": 0, "identical": 0, "max_abs": 0.0, "max_rel": 0.0, "mismatches": 0})
    for name in oracle.all_feature_names():
        family = out[name.split("#")[0]]
        family["columns"] += 1
        for i, row in enumerate(rows):
            g, e = float(got[name][i]), float(np.float32(row.values[name]))
            diff = abs(g - e)
            family["cells"] += 1
            family["identical"] += diff == 0
            family["max_abs"] = max(family["max_abs"], diff)
            family["max_rel"] = max(family["max_rel"], diff / max(abs(e), REL_FLOOR))
            if not oracle.agrees(name, g, e, row.infos.get(name.split("#")[0], {})):
                family["mismatches"] += 1
    return dict(out)


def format_parity(table: dict[str, dict], label: str, n_rows: int) -> str:
    cells = sum(f["cells"] for f in table.values())
    identical = sum(f["identical"] for f in table.values())
    lines = [
        f"{label}: {sum(f['columns'] for f in table.values())} columns x {n_rows} rows; "
        f"{identical} of {cells} values bit-identical (float32)"
    ]
    lines += [
        f"  {prefix:8s} cols {f['columns']:4d}  differ {f['cells'] - f['identical']:4d}  "
        f"max|d| {f['max_abs']:.3g}  max rel {f['max_rel']:.3g}"
        + (f"  MISMATCHES {f['mismatches']}" if f["mismatches"] else "")
        for prefix, f in table.items()
    ]
    return "\n".join(lines)


def extract(release: Path, out: Path, mode: str, *, cli: bool):
    """(X, y, group, prompt times) of the product's extraction, through the API or the CLI."""
    if not cli:
        from kemo_attention.config import FeatureSettings, LabelSettings
        from kemo_attention.features.extract import extract_release

        ds = extract_release(
            release, out, label=LabelSettings(min_responses=MIN_RESPONSES), features=FeatureSettings(mode=mode),
            use_cache=False,
        )  # fmt: skip
        return ds.X, ds.y.tolist(), ds.group.tolist(), [int(p) for p in ds.meta["prompt_time_ms"]]
    script = Path(sys.executable).parent / "kemo-attention"
    args = [str(script), "extract", str(release), "--out", str(out), "--mode", mode]
    proc = subprocess.run(
        [*args, "--min-responses", str(MIN_RESPONSES), "--no-cache"], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    with open(out / "attention.pkl", "rb") as f:
        X, y, group, _, _ = pickle.load(f)
    manifest = json.loads((out / "attention.manifest.json").read_text())
    assert manifest["dataset"]["feature_mode"] == mode
    return X, [int(v) for v in y], [str(g) for g in group], [int(p) for p in manifest["dataset"]["prompt_time_ms"]]


@pytest.mark.slow
@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("mode", MODES)
def test_extracted_rows_equal_the_oracle(mode, style, releases, oracle_rows, tmp_path):
    X, y, group, prompts = extract(releases[style], tmp_path / "out", mode, cli=style == "legacy")
    rows = oracle_rows(mode)
    # The same samples: P03 has too few answers, two P01 prompts share one time.
    assert list(zip(group, prompts)) == [(r.pcode, r.prompt_ms) for r in rows]
    assert y == [r.y for r in rows]
    assert sorted(set(group)) == ["P01", "P02"]
    assert len(rows) >= 12
    # The same columns, typed as the spec says.
    assert sorted(X.columns) == sorted(oracle.all_feature_names()) and len(X.columns) == N_COLUMNS
    bools = oracle.bool_feature_names()
    wrong = {c: str(X[c].dtype) for c in X.columns if str(X[c].dtype) != ("bool" if c in bools else "float32")}
    assert wrong == {}
    got = {c: X[c].to_numpy().astype(np.float64) for c in X.columns}
    problems = []
    for i, row in enumerate(rows):
        for name, e in row.values.items():
            g = float(got[name][i])
            if not oracle.agrees(name, g, float(np.float32(e)), row.infos.get(name.split("#")[0], {})):
                problems.append(f"[{mode}/{style}] {row.pcode} T={row.prompt_ms} {name}: oracle {e!r}, engine {g!r}")
    summary = format_parity(parity(got, rows), f"{mode} / {style} headers", len(rows))
    print(summary)
    assert not problems, f"{len(problems)} mismatches\n" + "\n".join(problems[:30]) + "\n" + summary
