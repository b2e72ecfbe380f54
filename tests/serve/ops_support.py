"""Helpers of the operations tests (metrics, probes, reload): two small bundles that differ,
and the metrics of an app as numbers, read from the exposition text by prometheus-client's own
parser (what a Prometheus server would read)."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

T0 = 1_557_279_000_000  # 2019-05-08, inside the release's plausible range
TOKEN = "ops-test-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}
ROW = {"features": {"HRT#VAL": 81.0, "SCR#VAL=ON": True}, "fill_missing": True}


def two_bundles(folder: Path, kinds: dict[str, str]) -> tuple[Path, Path]:
    """Two bundles of the same name and columns fitted on different samples (so their files,
    hashes and probabilities differ)."""
    from kemo_attention.bundle.export import export_bundle
    from synthetic_features import make_dataset

    first = export_bundle(make_dataset(kinds, n=120, seed=0), "logreg", folder / "first")
    second = export_bundle(make_dataset(kinds, n=120, seed=1), "logreg", folder / "second")
    return first, second


def manifest_of(bundle: Path) -> Path:
    return bundle.with_name(bundle.stem + ".manifest.json")


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """``{(sample name, labels): value}`` of an exposition text."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(parsed: dict, name: str, **labels: str) -> float:
    """One sample's value; 0 when the series does not exist yet (a counter never incremented)."""
    return parsed.get((name, frozenset(labels.items())), 0.0)


def scrape(client, headers: dict | None = None) -> dict:
    r = client.get("/metrics", headers=AUTH if headers is None else headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return samples(r.text)
